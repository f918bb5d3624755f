//! Reading and writing rasters: GeoTIFF (and anything else GDAL opens), NumPy `.npy`, PNG;
//! cloud masks; Sentinel-1/2 preprocessing; composites of a stack of dates ([`CompositeJob`]).
//!
//! Images are [`Image`]: `h × w × c` f32 in H×W×C interleaved order (row-major, channel last),
//! the layout of a `.npy` saved from NumPy and of a GDAL pixel-interleaved buffer.
//! Every error names the file. Every output is written to a temporary file in the output's
//! folder (`.NAME.tmp-PID-N`), closed, then renamed, so a failed write never leaves a partial
//! file under the final name ([`output_guard`] checks the target before any computation).
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

mod composite;
mod format;
mod geotiff;
mod mask;
mod npy;
mod paths;
mod png;
mod rows;
mod sentinel;

pub use composite::{
    composite, statistic as composite_statistic, CompositeJob, CompositeSummary, Stat,
    COMPOSITE_NODATA, DEFAULT_COMPOSITE_MEMORY,
};
pub use format::{check_raster_output, RasterFormat};
pub use geotiff::{check_creation_options, write_geotiff};
pub(crate) use geotiff::{parse_options, reset_errors, write_failure};
pub use mask::{read_mask, Mask, MaskOptions};
pub use npy::write_npy;
pub use paths::check_distinct;
pub use png::write_png_rgb;
pub use rows::{write_raster_rows, PutRows, RowShape};
pub use sentinel::{s1_preprocess, s1_preprocess_to, s2_preprocess, S1_MAX_REFERENCE};

/// An image: `h × w × c` f32 values, row-major, channel last (`data[(y * w + x) * c + ch]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

impl Image {
    /// An image from its values; `Err` unless `data.len() == h * w * c`.
    pub fn new(h: usize, w: usize, c: usize, data: Vec<f32>) -> Result<Image> {
        if data.len() != h * w * c {
            return Err(Error::shape(
                "Image::new data",
                (h, w, c, h * w * c),
                data.len(),
            ));
        }
        Ok(Image { h, w, c, data })
    }

    /// An image of zeros.
    pub fn zeros(h: usize, w: usize, c: usize) -> Image {
        Image {
            h,
            w,
            c,
            data: vec![0.0; h * w * c],
        }
    }

    /// The value at row `y`, column `x`, channel `ch` (panics when out of range, like indexing).
    pub fn at(&self, y: usize, x: usize, ch: usize) -> f32 {
        assert!(
            y < self.h && x < self.w && ch < self.c,
            "Image::at out of range"
        );
        self.data[(y * self.w + x) * self.c + ch]
    }

    /// The listed channels (0-based), in the listed order.
    pub fn channels(&self, list: &[usize]) -> Result<Image> {
        if let Some(&bad) = list.iter().find(|&&ch| ch >= self.c) {
            return Err(Error::invalid(
                "channel",
                format!("channel {bad} of an image with {} channels", self.c),
            ));
        }
        let mut data = Vec::with_capacity(self.h * self.w * list.len());
        for px in self.data.chunks_exact(self.c.max(1)) {
            data.extend(list.iter().map(|&ch| px[ch]));
        }
        Image::new(self.h, self.w, list.len(), data)
    }

    /// The `h × w` window whose top-left pixel is (`y0`, `x0`).
    pub fn crop(&self, y0: usize, x0: usize, h: usize, w: usize) -> Result<Image> {
        if y0 + h > self.h || x0 + w > self.w {
            return Err(Error::invalid(
                "crop",
                format!(
                    "window {h}×{w} at (y {y0}, x {x0}) lies outside the {}×{} image",
                    self.h, self.w
                ),
            ));
        }
        let mut data = Vec::with_capacity(h * w * self.c);
        for y in y0..y0 + h {
            let start = (y * self.w + x0) * self.c;
            data.extend_from_slice(&self.data[start..start + w * self.c]);
        }
        Image::new(h, w, self.c, data)
    }
}

/// Georeferencing of a raster: GDAL geotransform + projection WKT (may be empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Georef {
    pub geotransform: [f64; 6],
    pub projection: String,
}

impl Georef {
    /// The georeferencing of a window whose top-left pixel is column `xoff`, row `yoff`.
    pub fn shifted(&self, xoff: usize, yoff: usize) -> Georef {
        let g = self.geotransform;
        let (x, y) = (xoff as f64, yoff as f64);
        let mut geotransform = g;
        geotransform[0] = g[0] + x * g[1] + y * g[2];
        geotransform[3] = g[3] + x * g[4] + y * g[5];
        Georef {
            geotransform,
            projection: self.projection.clone(),
        }
    }
}

/// A window in GDAL `-srcwin` order: column offset, row offset, width, height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub xoff: usize,
    pub yoff: usize,
    pub xsize: usize,
    pub ysize: usize,
}

impl Window {
    /// This window grown by `n` pixels on every side, clipped to a `w × h` raster.
    pub fn padded(&self, n: usize, w: usize, h: usize) -> Window {
        let (xoff, yoff) = (self.xoff.saturating_sub(n), self.yoff.saturating_sub(n));
        let xend = (self.xoff + self.xsize).saturating_add(n).min(w);
        let yend = (self.yoff + self.ysize).saturating_add(n).min(h);
        Window {
            xoff,
            yoff,
            xsize: xend - xoff,
            ysize: yend - yoff,
        }
    }

    /// `Err` naming `path` unless the window is non-empty and inside a `w × h` raster.
    pub(crate) fn check(&self, path: &Path, w: usize, h: usize) -> Result<()> {
        let inside = self.xoff.checked_add(self.xsize).is_some_and(|e| e <= w)
            && self.yoff.checked_add(self.ysize).is_some_and(|e| e <= h);
        if self.xsize == 0 || self.ysize == 0 || !inside {
            return Err(file_err(
                path,
                format!(
                    "window (xoff {}, yoff {}, xsize {}, ysize {}) is empty or outside the raster \
                     ({w} columns × {h} rows)",
                    self.xoff, self.yoff, self.xsize, self.ysize
                ),
            ));
        }
        Ok(())
    }
}

/// A raster read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Raster {
    pub image: Image,
    /// Georeferencing (GDAL rasters with a geotransform only), already shifted to the window.
    pub georef: Option<Georef>,
    /// The nodata value of each returned band (always `None` for `.npy` and PNG).
    pub nodata: Vec<Option<f64>>,
    /// Per pixel (H×W): `false` where any band is nodata, NaN or infinite. `None` when every
    /// pixel is valid.
    pub valid: Option<Vec<bool>>,
}

/// Reads a raster: `.npy` through npyz, `.png` through png, anything else through GDAL.
///
/// `bands` are 1-based GDAL band numbers (for `.npy`/PNG: 1-based channels); `None` = all.
/// `window` reads only that window (GDAL reads only those pixels).
pub fn read_raster(path: &Path, bands: Option<&[usize]>, window: Option<Window>) -> Result<Raster> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("npy") => plain_raster(path, npy::read_npy(path)?, bands, window),
        Some("png") => plain_raster(path, png::read_png(path)?, bands, window),
        _ => geotiff::read_gdal(path, bands, window),
    }
}

/// The size of a raster as (columns, rows), reading only its header.
pub fn raster_size(path: &Path) -> Result<(usize, usize)> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("npy") => npy::npy_size(path),
        Some("png") => png::png_size(path),
        _ => geotiff::gdal_size(path),
    }
}

/// A raster from a format without georeferencing or nodata: select bands, crop, validity.
fn plain_raster(
    path: &Path,
    img: Image,
    bands: Option<&[usize]>,
    window: Option<Window>,
) -> Result<Raster> {
    let img = match bands {
        Some(list) => img.channels(&band_indices(path, list, img.c)?)?,
        None => img,
    };
    let img = match window {
        Some(win) => {
            win.check(path, img.w, img.h)?;
            img.crop(win.yoff, win.xoff, win.ysize, win.xsize)?
        }
        None => img,
    };
    let nodata = vec![None; img.c];
    let valid = validity(&img, &nodata);
    Ok(Raster {
        image: img,
        georef: None,
        nodata,
        valid,
    })
}

/// 1-based band numbers → 0-based indices, `Err` naming `path` when one is out of range.
pub(crate) fn band_indices(path: &Path, bands: &[usize], count: usize) -> Result<Vec<usize>> {
    if bands.is_empty() {
        return Err(file_err(path, "an empty band list was given"));
    }
    bands
        .iter()
        .map(|&b| match b {
            1.. if b <= count => Ok(b - 1),
            _ => Err(file_err(
                path,
                format!("band {b} requested; the raster has bands 1..={count}"),
            )),
        })
        .collect()
}

/// `false` where any band is NaN, infinite or its nodata value; `None` if all pixels are valid.
pub(crate) fn validity(img: &Image, nodata: &[Option<f64>]) -> Option<Vec<bool>> {
    let is_bad = |ch: usize, v: f32| {
        !v.is_finite() || nodata[ch].is_some_and(|nd| v == nd as f32 || f64::from(v) == nd)
    };
    let valid: Vec<bool> = img
        .data
        .chunks_exact(img.c.max(1))
        .map(|px| !px.iter().enumerate().any(|(ch, &v)| is_bad(ch, v)))
        .collect();
    if valid.iter().all(|&v| v) {
        None
    } else {
        Some(valid)
    }
}

pub(crate) fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Checks an output path BEFORE any computation: `Err` if it exists and `!overwrite`, if it is
/// a directory, or if its folder does not exist or is not writable (a probe file is created
/// and removed).
pub fn output_guard(path: &Path, overwrite: bool) -> Result<()> {
    if path.is_dir() {
        return Err(file_err(path, "is a directory, not an output file"));
    }
    if path.exists() && !overwrite {
        return Err(Error::OutputExists {
            path: path.to_path_buf(),
        });
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(file_err(
            path,
            format!("the output folder {} does not exist", dir.display()),
        ));
    }
    let probe = temp_path(path, "probe")?;
    std::fs::File::create(&probe).map_err(|e| {
        file_err(
            path,
            format!("the output folder {} is not writable: {e}", dir.display()),
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `.NAME.KIND-PID-N` beside `path` (N counts up, so concurrent writes never share a name).
fn temp_path(path: &Path, kind: &str) -> Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| file_err(path, "an output path must name a file"))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(
        ".{}.{kind}-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(parent_dir(path).join(tmp))
}

/// Writes `path` atomically: `write` creates and closes the temporary file it is given, which is
/// then renamed to `path`. On any error the temporary file (and its GDAL `.aux.xml`) is removed.
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temp_path(path, "tmp")?;
    let aux = |p: &Path| PathBuf::from(format!("{}.aux.xml", p.display()));
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "cannot rename", e))?;
        if aux(&tmp).exists() {
            std::fs::rename(aux(&tmp), aux(path))
                .map_err(|e| Error::io(&aux(path), "cannot rename", e))?;
        }
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(aux(&tmp));
    }
    result
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| Error::io(path, "cannot write", e))
    })
}
