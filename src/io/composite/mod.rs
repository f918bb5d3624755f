//! Composites: the per-pixel statistic (median or mean) of the clear observations of a stack of
//! co-registered images, e.g. the cloud-free median of last year's acquisitions, a guide for
//! `cloudfill inpaint --guide` (`cloudfill composite`).
//!
//! An observation (one date at one pixel) counts when its mask says clear and every band of it
//! is finite (nodata is NaN or masked out before this point); a pixel is clear or cloud for all
//! bands at once. Where no date is clear the composite is [`COMPOSITE_NODATA`] (NaN) and its
//! mask is `false`: a reader of the composite (the guide reader of `inpaint`) masks NaN out, so
//! no fabricated value enters a fit.
//!
//! - [`composite`]: the images in memory.
//! - [`CompositeJob`]: files on disk, read and reduced a band of rows at a time, written by
//!   rows (memory bounded whatever the number and size of the inputs).
use super::{Image, Mask};
use crate::error::{Error, Result};

mod stack;

pub use stack::{CompositeJob, CompositeSummary, DEFAULT_COMPOSITE_MEMORY};

/// The composite's value where no date is clear (also the GeoTIFF's nodata).
pub const COMPOSITE_NODATA: f32 = f32::NAN;

/// The per-pixel statistic of a composite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stat {
    /// NumPy's median: the middle value, the mean of the two middle values for an even count.
    #[default]
    Median,
    /// The arithmetic mean (summed in f64).
    Mean,
}

/// The per-pixel `stat` of the clear, finite observations of `images` (all `h × w × c`), one
/// `h × w` mask per image (`true` = clear). Returns the composite (NaN where no date is clear)
/// and its mask (`true` where at least one date is clear). `Err` when there is no image, the
/// counts differ, or a shape is not the first image's.
pub fn composite(images: &[Image], masks: &[Mask], stat: Stat) -> Result<(Image, Mask)> {
    let first = images
        .first()
        .ok_or_else(|| Error::invalid("composite", "no image was given"))?;
    if masks.len() != images.len() {
        let why = format!("{} masks for {} images", masks.len(), images.len());
        return Err(Error::invalid("composite", why));
    }
    let (h, w, c) = (first.h, first.w, first.c);
    for (k, (img, m)) in images.iter().zip(masks).enumerate() {
        if (img.h, img.w, img.c) != (h, w, c) {
            let what = format!("composite image {k}");
            return Err(Error::shape(what, (h, w, c), (img.h, img.w, img.c)));
        }
        if (m.h, m.w) != (h, w) {
            let what = format!("composite mask {k}");
            return Err(Error::shape(what, (h, w), (m.h, m.w)));
        }
    }
    let stack: Vec<&[f32]> = images.iter().map(|i| &i.data[..]).collect();
    let clear: Vec<&[bool]> = masks.iter().map(|m| &m.clear[..]).collect();
    let (data, covered) = reduce(&stack, &clear, c, stat);
    Ok((Image::new(h, w, c, data)?, Mask::new(h, w, covered)?))
}

/// The reduction itself, over pixel-aligned slices: `stack[k]` is date `k`'s pixels (`c`
/// values each), `clear[k]` its mask. Returns the values (`c` per pixel) and where some date
/// was clear.
pub(crate) fn reduce(
    stack: &[&[f32]],
    clear: &[&[bool]],
    c: usize,
    stat: Stat,
) -> (Vec<f32>, Vec<bool>) {
    let pixels = clear.first().map_or(0, |m| m.len());
    let mut out = Vec::with_capacity(pixels * c);
    let mut covered = Vec::with_capacity(pixels);
    let (mut dates, mut vals) = (
        Vec::with_capacity(stack.len()),
        Vec::with_capacity(stack.len()),
    );
    for p in 0..pixels {
        dates.clear();
        dates.extend((0..stack.len()).filter(|&k| {
            clear[k][p] && stack[k][p * c..(p + 1) * c].iter().all(|v| v.is_finite())
        }));
        covered.push(!dates.is_empty());
        for ch in 0..c {
            vals.clear();
            vals.extend(dates.iter().map(|&k| stack[k][p * c + ch]));
            out.push(statistic(&mut vals, stat));
        }
    }
    (out, covered)
}

/// `stat` of `vals` (finite values; reordered); [`COMPOSITE_NODATA`] when empty.
pub fn statistic(vals: &mut [f32], stat: Stat) -> f32 {
    let n = vals.len();
    if n == 0 {
        return COMPOSITE_NODATA;
    }
    match stat {
        Stat::Mean => (vals.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64) as f32,
        Stat::Median => {
            let (lower, &mut hi, _) = vals.select_nth_unstable_by(n / 2, f32::total_cmp);
            if n % 2 == 1 {
                return hi;
            }
            let lo = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            ((f64::from(lo) + f64::from(hi)) / 2.0) as f32
        }
    }
}
