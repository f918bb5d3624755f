//! Sentinel preprocessing, the reference's conventions (SPEC §5).
//!
//! - S2: reflectance DN clipped to [0, 10000], divided by 2000 (→ [0, 5], mostly < 1). Band
//!   selection is the reader's job: B4, B3, B2 are GDAL bands 4, 3, 2 of a 13-band stack.
//! - S1 (GRD, linear power, bands VV then VH): dB = 10·log10(x); VV clipped to [−25, 0], VH to
//!   [−32.5, 0]; each mapped linearly to [0, 2]: VV' = 2·(dB + 25)/25, VH' = 2·(dB + 32.5)/32.5.
//!   [`s1_preprocess_to`] maps to [0, max] instead (e.g. [0, 1], the output sigmoid's range).
use super::Image;
use crate::error::{Error, Result};

/// S2 scaling: clip to [0, 10000], ÷ 2000, every channel (NaN stays NaN).
pub fn s2_preprocess(img: &Image) -> Image {
    let data = img
        .data
        .iter()
        .map(|&v| v.clamp(0.0, 10000.0) / 2000.0)
        .collect();
    Image {
        h: img.h,
        w: img.w,
        c: img.c,
        data,
    }
}

/// dB clip bounds (lower) of VV and VH; the upper bound is 0 dB for both.
const S1_LOW_DB: [f64; 2] = [-25.0, -32.5];

/// The upper end of the reference's S1 scaling: 0 dB maps to 2.
pub const S1_MAX_REFERENCE: f32 = 2.0;

/// S1 scaling of channels 0 (VV) and 1 (VH) of `img` (linear power; further channels are
/// ignored) → a 2-channel image in [0, 2], and its per-pixel validity.
///
/// A pixel is invalid when `valid` (if given) says so or when VV or VH is non-positive, NaN or
/// infinite (log10 undefined); invalid pixels are set to 0 in the output.
pub fn s1_preprocess(img: &Image, valid: Option<&[bool]>) -> Result<(Image, Vec<bool>)> {
    s1_preprocess_to(img, valid, S1_MAX_REFERENCE)
}

/// [`s1_preprocess`] onto [0, `max`] instead of [0, 2] (`max` finite and positive).
pub fn s1_preprocess_to(
    img: &Image,
    valid: Option<&[bool]>,
    max: f32,
) -> Result<(Image, Vec<bool>)> {
    if !(max.is_finite() && max > 0.0) {
        return Err(Error::invalid(
            "S1 scaling",
            format!("the upper end {max} is not a positive number"),
        ));
    }
    if img.c < 2 {
        return Err(Error::invalid(
            "Sentinel-1 image",
            format!("needs 2 channels (VV, VH), got {}", img.c),
        ));
    }
    let n = img.h * img.w;
    if let Some(v) = valid {
        if v.len() != n {
            return Err(Error::shape("S1 validity mask", n, v.len()));
        }
    }
    let mut out = Vec::with_capacity(n * 2);
    let mut ok = Vec::with_capacity(n);
    for (i, px) in img.data.chunks_exact(img.c).enumerate() {
        let good = valid.is_none_or(|v| v[i]) && px[..2].iter().all(|&x| x.is_finite() && x > 0.0);
        ok.push(good);
        for (ch, &low) in S1_LOW_DB.iter().enumerate() {
            let y = if good {
                let db = (10.0 * f64::from(px[ch]).log10()).clamp(low, 0.0);
                f64::from(max) * (db - low) / -low
            } else {
                0.0
            };
            out.push(y as f32);
        }
    }
    Ok((Image::new(img.h, img.w, 2, out)?, ok))
}
