//! The library's error type. Every variant is something a user can act on.
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the cloudfill library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU or CPU adapter found (or none matching the `CLOUDFILL_ADAPTER` filter).
    #[error(
        "no usable GPU adapter found{}. On Debian/Ubuntu install a Vulkan driver: \
         `apt-get install mesa-vulkan-drivers` (lavapipe, a CPU Vulkan driver) or your GPU's driver; \
         or use OpenGL: `apt-get install libegl1 libgl1-mesa-dri` and set CLOUDFILL_BACKEND=gl",
        filter.as_ref().map(|f| format!(" matching CLOUDFILL_ADAPTER={f:?}")).unwrap_or_default()
    )]
    NoAdapter { filter: Option<String> },
    /// The device could not be created, or reported an error while working.
    #[error("GPU device error on {adapter}: {source}")]
    Device {
        adapter: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A shader failed to compile or a pipeline failed to build.
    #[error("shader {shader}::{entry}: {message}")]
    Shader {
        shader: String,
        entry: String,
        message: String,
    },
    /// Two things that must have the same shape do not.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        what: String,
        expected: String,
        got: String,
    },
    /// A configuration or argument is invalid.
    #[error("invalid {what}: {why}")]
    Invalid { what: String, why: String },
    /// A mask has no clear pixel, so there is nothing to fit.
    #[error("the mask of source {source_index} has no clear pixel: nothing to fit")]
    EmptyMask { source_index: usize },
    /// Input data holds NaN or infinite values where they would be used.
    #[error("source {source_index} has {count} NaN/Inf values in clear pixels (mask them out or clean the data)")]
    NonFinite { source_index: usize, count: usize },
    /// The fit diverged: the loss became NaN or infinite.
    #[error(
        "the fit diverged at step {step} (loss {loss}): the learning rate is probably too high \
         for this problem (try a smaller --lr / DipConfig::lr); nothing was written"
    )]
    Diverged { step: usize, loss: f32 },
    /// A buffer or binding would exceed the adapter's limit.
    #[error(
        "too large for this adapter: {what} needs {} MiB, the adapter allows {} MiB{hint}",
        bytes >> 20,
        limit >> 20
    )]
    TooLarge {
        what: String,
        bytes: u64,
        limit: u64,
        /// What to do about it, with a leading separator (may be empty).
        hint: &'static str,
    },
    /// A kernel would need more workgroups in one dimension than a dispatch allows.
    #[error("too large for one dispatch: {what} needs {workgroups} workgroups, at most {limit}")]
    TooManyWorkgroups {
        what: String,
        workgroups: u64,
        limit: u64,
    },
    /// A raster could not be read or written through GDAL.
    #[error("{}: {source}", path.display())]
    Gdal {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    /// A file could not be read or written.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        /// What was being done, e.g. "cannot write .npy".
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// A saved fit ([`crate::dip::Checkpoint`]) was made with other settings or other inputs
    /// than the fit it is to resume.
    #[error(
        "the checkpoint was made with other settings or inputs: `{setting}` was {saved}, now {now}"
    )]
    CheckpointMismatch {
        setting: String,
        saved: String,
        now: String,
    },
    /// A file (or a folder given as a file) is not what it must be.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// An output file exists and replacing it was not allowed ([`crate::io::output_guard`]).
    #[error("{}: already exists, and replacing it was not allowed", path.display())]
    OutputExists { path: PathBuf },
}

impl Error {
    /// A device error of `gpu`'s adapter.
    pub(crate) fn device(
        gpu: &crate::Gpu,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Device {
            adapter: gpu.summary().name,
            source: source.into(),
        }
    }
    pub(crate) fn io(
        path: &std::path::Path,
        action: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            action: action.into(),
            source,
        }
    }
    pub(crate) fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
    pub(crate) fn shape(
        what: impl Into<String>,
        expected: impl std::fmt::Debug,
        got: impl std::fmt::Debug,
    ) -> Self {
        Error::ShapeMismatch {
            what: what.into(),
            expected: format!("{expected:?}"),
            got: format!("{got:?}"),
        }
    }
}
