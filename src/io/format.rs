//! Which format an output raster's name asks for, checked before any work.
use super::{check_creation_options, file_err};
use crate::error::Result;
use std::path::Path;

/// The formats an output raster is written in, chosen by its extension (any case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RasterFormat {
    /// `.tif`, `.tiff`: float32 GeoTIFF.
    GeoTiff,
    /// `.npy`: H×W×C float32.
    Npy,
}

impl RasterFormat {
    /// The format `path` names; `Err` naming it unless it ends in .tif, .tiff or .npy.
    pub fn of(path: &Path) -> Result<RasterFormat> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "tif" | "tiff" => Ok(RasterFormat::GeoTiff),
            "npy" => Ok(RasterFormat::Npy),
            _ => Err(file_err(path, "the output must end in .tif, .tiff or .npy")),
        }
    }
}

/// Checks an output raster before any work: its format, and for a GeoTIFF the creation options
/// ([`check_creation_options`]; a `.npy` takes none, so they are not looked at).
pub fn check_raster_output(path: &Path, creation_options: &[String]) -> Result<RasterFormat> {
    let format = RasterFormat::of(path)?;
    if format == RasterFormat::GeoTiff {
        check_creation_options(path, creation_options)?;
    }
    Ok(format)
}
