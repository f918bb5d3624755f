//! The library's error type. Every variant is something a user can act on.
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the cloudfill library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU or CPU adapter found.
    #[error(
        "no usable GPU adapter found{0}. On Debian/Ubuntu install a Vulkan driver: \
         `apt-get install mesa-vulkan-drivers` (lavapipe, a CPU Vulkan driver) or your GPU's driver"
    )]
    NoAdapter(String),
    /// The device could not be created or reported an error.
    #[error("GPU device error: {0}")]
    Device(String),
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
    /// The problem does not fit the adapter's limits.
    #[error("too large for this adapter: {0}")]
    TooLarge(String),
    /// A raster could not be read or written through GDAL.
    #[error("{}: {source}", path.display())]
    Gdal {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    /// Any other I/O problem with a file.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl Error {
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
