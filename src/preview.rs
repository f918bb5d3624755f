//! PNG previews: robust percentile stretch of three bands to 8-bit RGB, cloud marking, and
//! side-by-side panels.
use crate::error::Result;
use crate::io::{self, Image, Mask};
use std::path::Path;

/// Writes the preview PNG: the mask | the input with the cloud marked | the result, bands
/// `bands` of both stretched over the clear pixels of `mask`.
pub fn write_panels(
    path: &Path,
    mask: &Mask,
    input: &Image,
    result: &Image,
    bands: [usize; 3],
) -> Result<()> {
    let mut inp = stretch_rgb(input, bands, Some(&mask.clear));
    mark_cloud(&mut inp, &mask.clear);
    let res = stretch_rgb(result, bands, Some(&mask.clear));
    let panels = [mask_rgb(&mask.clear), inp, res];
    let (rgb, tw) = side_by_side(&panels, mask.h, mask.w);
    io::write_png_rgb(path, &rgb, mask.h, tw)
}

/// 8-bit RGB (H×W×3) of channels `bands` of `img`, each stretched from its 2nd to its 98th
/// percentile (over `select`ed pixels when given, else all finite pixels).
pub fn stretch_rgb(img: &Image, bands: [usize; 3], select: Option<&[bool]>) -> Vec<u8> {
    let n = img.h * img.w;
    let mut out = vec![0u8; n * 3];
    for (k, &b) in bands.iter().enumerate() {
        let b = b.min(img.c - 1);
        let mut vals: Vec<f32> = (0..n)
            .filter(|&p| select.is_none_or(|s| s[p]))
            .map(|p| img.data[p * img.c + b])
            .filter(|v| v.is_finite())
            .collect();
        let (lo, hi) = percentiles(&mut vals);
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        for p in 0..n {
            let v = img.data[p * img.c + b];
            let s = if v.is_finite() { (v - lo) * scale } else { 0.0 };
            out[p * 3 + k] = s.clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn percentiles(v: &mut [f32]) -> (f32, f32) {
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.02), at(0.98))
}

/// Tints the cloud pixels (clear = false) of an RGB image magenta, half-transparent.
pub fn mark_cloud(rgb: &mut [u8], clear: &[bool]) {
    for (p, &c) in clear.iter().enumerate() {
        if !c {
            let px = &mut rgb[p * 3..p * 3 + 3];
            px[0] = ((px[0] as u16 + 255) / 2) as u8;
            px[1] /= 2;
            px[2] = ((px[2] as u16 + 255) / 2) as u8;
        }
    }
}

/// The mask as RGB: clear white, cloud black.
pub fn mask_rgb(clear: &[bool]) -> Vec<u8> {
    clear
        .iter()
        .flat_map(|&c| if c { [255u8; 3] } else { [0u8; 3] })
        .collect()
}

/// Panels of H×W RGB side by side with a 4-pixel grey gap; returns (rgb, width).
pub fn side_by_side(panels: &[Vec<u8>], h: usize, w: usize) -> (Vec<u8>, usize) {
    let gap = 4;
    let tw = panels.len() * w + (panels.len().saturating_sub(1)) * gap;
    let mut out = vec![96u8; h * tw * 3];
    for (i, p) in panels.iter().enumerate() {
        let x0 = i * (w + gap);
        for y in 0..h {
            let dst = (y * tw + x0) * 3;
            out[dst..dst + w * 3].copy_from_slice(&p[y * w * 3..(y + 1) * w * 3]);
        }
    }
    (out, tw)
}
