//! Cloud masks: `true` = clear (the pixel is fitted), `false` = cloud (the pixel is filled).
//!
//! Conventions of [`read_mask`], applied to the mask file's one band (a multi-band mask whose
//! bands agree everywhere, such as grey saved as RGB, is read as one band; one whose bands differ
//! is refused, since which band is meant is a guess):
//! - NaN, infinite or nodata pixels are cloud, always;
//! - default: nonzero / `True` = clear, zero = cloud;
//! - `cloud_values`: pixels whose value is in the list are cloud, all others clear (e.g.
//!   Sen2Cor SCL classes 3, 8, 9, 10);
//! - `cloud_threshold`: value ≥ threshold is cloud (cloud probability rasters, s2cloudless);
//! - `invert` flips clear/cloud of the valid pixels after the rule above;
//! - `dilate`: grow the cloud by that many pixels (square, Chebyshev distance).
use super::{file_err, raster_size, read_raster, Window};
use crate::error::{Error, Result};
use std::path::Path;

/// How to turn a mask raster into clear/cloud.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MaskOptions {
    /// Flip clear and cloud (after `cloud_values` / `cloud_threshold` / the default rule).
    pub invert: bool,
    /// Values that mean cloud; all other values are clear.
    pub cloud_values: Option<Vec<f64>>,
    /// Values ≥ this are cloud.
    pub cloud_threshold: Option<f64>,
    /// Grow the cloud by this many pixels (square neighbourhood).
    pub dilate: usize,
}

/// A clear/cloud mask, row-major `h × w`; `clear[y * w + x]` is `true` where the pixel is clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    pub h: usize,
    pub w: usize,
    pub clear: Vec<bool>,
}

impl Mask {
    /// A mask from its values; `Err` unless `clear.len() == h * w`.
    pub fn new(h: usize, w: usize, clear: Vec<bool>) -> Result<Mask> {
        if clear.len() != h * w {
            return Err(Error::shape("Mask::new", (h, w, h * w), clear.len()));
        }
        Ok(Mask { h, w, clear })
    }

    /// An all-clear mask.
    pub fn clear(h: usize, w: usize) -> Mask {
        Mask {
            h,
            w,
            clear: vec![true; h * w],
        }
    }

    /// The `h × w` window whose top-left pixel is (`y0`, `x0`); panics when out of range.
    pub fn crop(&self, y0: usize, x0: usize, h: usize, w: usize) -> Mask {
        assert!(
            y0 + h <= self.h && x0 + w <= self.w,
            "Mask::crop out of range"
        );
        let clear = (y0..y0 + h)
            .flat_map(|y| {
                self.clear[y * self.w + x0..y * self.w + x0 + w]
                    .iter()
                    .copied()
            })
            .collect();
        Mask { h, w, clear }
    }

    /// Number of clear pixels.
    pub fn count_clear(&self) -> usize {
        self.clear.iter().filter(|&&c| c).count()
    }

    /// Fraction of cloud pixels, in [0, 1] (0 for an empty mask).
    pub fn cloud_fraction(&self) -> f64 {
        if self.clear.is_empty() {
            return 0.0;
        }
        (self.clear.len() - self.count_clear()) as f64 / self.clear.len() as f64
    }

    /// Grows the cloud by `n` pixels in a square (Chebyshev) neighbourhood: a pixel becomes cloud
    /// when any pixel within `n` rows and `n` columns of it is cloud. O(H·W), separable.
    pub fn dilate_cloud(&mut self, n: usize) {
        if n == 0 || self.clear.is_empty() {
            return;
        }
        let (h, w) = (self.h, self.w);
        let cloud: Vec<bool> = self.clear.iter().map(|&c| !c).collect();
        let mut rows = vec![false; h * w];
        for (src, dst) in cloud.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
            dilate_line(src, dst, n);
        }
        let mut out = vec![false; h];
        for x in 0..w {
            let col: Vec<bool> = rows.iter().skip(x).step_by(w).copied().collect();
            dilate_line(&col, &mut out, n);
            for (y, &o) in out.iter().enumerate() {
                self.clear[y * w + x] = !o;
            }
        }
    }
}

/// 1-D dilation: `out[i]` = any `line[j]` with |i − j| ≤ n (prefix counts).
fn dilate_line(line: &[bool], out: &mut [bool], n: usize) {
    let mut prefix = Vec::with_capacity(line.len() + 1);
    prefix.push(0usize);
    for &v in line {
        prefix.push(prefix.last().unwrap() + usize::from(v));
    }
    for (i, o) in out.iter_mut().enumerate() {
        let lo = i.saturating_sub(n);
        let hi = (i + n + 1).min(line.len());
        *o = prefix[hi] > prefix[lo];
    }
}

/// Reads a mask (GeoTIFF/any GDAL raster, `.npy`, PNG; one band) with the conventions
/// of the module doc, optionally one window of it.
pub fn read_mask(path: &Path, opts: &MaskOptions, window: Option<Window>) -> Result<Mask> {
    if opts.cloud_values.is_some() && opts.cloud_threshold.is_some() {
        return Err(Error::invalid(
            "mask options",
            "give either cloud values or a cloud threshold, not both",
        ));
    }
    if opts.cloud_threshold.is_some_and(f64::is_nan) {
        return Err(Error::invalid("mask options", "the cloud threshold is NaN"));
    }
    // With a window and dilation, read a margin so cloud just outside the window still grows in.
    let read_window = match window {
        Some(win) if opts.dilate > 0 => {
            let (w, h) = raster_size(path)?;
            win.check(path, w, h)?;
            Some(win.padded(opts.dilate, w, h))
        }
        _ => window,
    };
    let raster = single_band(path, read_raster(path, None, read_window)?)?;
    let img = &raster.image;
    let is_clear = |v: f32| -> bool {
        if v.is_nan() {
            return false; // unknown is never clear, whatever the rule or --mask-invert
        }
        let v = f64::from(v);
        let clear = if let Some(list) = &opts.cloud_values {
            !list.iter().any(|&c| c == v || c as f32 as f64 == v)
        } else if let Some(t) = opts.cloud_threshold {
            v < t
        } else {
            v != 0.0
        };
        clear != opts.invert
    };
    let clear: Vec<bool> = img
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| raster.valid.as_ref().is_none_or(|ok| ok[i]) && is_clear(v))
        .collect();
    let mut mask = Mask::new(img.h, img.w, clear).map_err(|e| file_err(path, e.to_string()))?;
    mask.dilate_cloud(opts.dilate);
    match (window, read_window) {
        (Some(win), Some(read)) if win != read => Ok(mask.crop(
            win.yoff - read.yoff,
            win.xoff - read.xoff,
            win.ysize,
            win.xsize,
        )),
        _ => Ok(mask),
    }
}

/// A mask raster's one band: a multi-band mask is accepted only when its bands agree (a grey
/// image saved as RGB), otherwise it is ambiguous and refused.
fn single_band(path: &Path, mut r: super::Raster) -> Result<super::Raster> {
    let c = r.image.c;
    if c == 1 {
        return Ok(r);
    }
    let same = |px: &[f32]| px.iter().all(|v| v.to_bits() == px[0].to_bits());
    if !r.image.data.chunks_exact(c).all(same) {
        return Err(file_err(
            path,
            format!(
                "the mask has {c} bands that differ: give a single-band mask (e.g. \
                 `gdal_translate -b N` for band N)"
            ),
        ));
    }
    r.image = r.image.channels(&[0])?;
    r.nodata.truncate(1);
    Ok(r)
}
