//! Validation pixels from the image itself: a fraction of the clear pixels of the inpainted source,
//! hidden from the loss in **cloud-sized patches**, so that the error there says how well the
//! network fills a hole like the cloud's (a lone pixel is far easier to fill than a cloud-sized
//! hole, and a rule tuned on lone pixels stops too late).
//!
//! The patches are discs whose radii follow the cloud's own thickness: each disc's radius is
//! three times the distance to clear ground of a random cloud pixel (the mean distance inside a
//! round cloud of radius R is R/3), clamped to [[`MIN_RADIUS`], min(H, W)/8], and clipped to the
//! clear pixels (never inside the cloud or nodata). Discs are added until they cover `fraction`
//! of the clear pixels. Everything is drawn from the seed: the same inputs and seed give the same
//! pixels.
use super::stopping::StopSignal;
use crate::io::Mask;
use crate::splitmix::SplitMix;

/// Smallest disc radius, in pixels.
pub const MIN_RADIUS: f64 = 2.0;

/// The held-out pixels (`true` = held out) of `fraction` of `clear`'s clear pixels, in
/// cloud-shaped patches; all `false` when `fraction` is 0 or nothing is clear.
pub fn select(clear: &Mask, fraction: f64, seed: u64) -> Mask {
    let (h, w) = (clear.h, clear.w);
    let n_clear = clear.clear.iter().filter(|&&c| c).count();
    let want = (fraction.clamp(0.0, 1.0) * n_clear as f64).round() as usize;
    let mut held = vec![false; h * w];
    if want == 0 {
        return Mask { h, w, clear: held };
    }
    let depth = cloud_depths(clear);
    let clear_px: Vec<usize> = (0..h * w).filter(|&p| clear.clear[p]).collect();
    let max_r = ((h.min(w) as f64) / 8.0).max(MIN_RADIUS);
    let mut rng = SplitMix::new(seed ^ 0x4E1D_0A7C_5EED);
    let mut count = 0;
    for _ in 0..100_000 {
        if count >= want {
            break;
        }
        let d = if depth.is_empty() {
            MIN_RADIUS
        } else {
            depth[pick(&mut rng, depth.len())]
        };
        let r = (3.0 * d).clamp(MIN_RADIUS, max_r);
        let c = clear_px[pick(&mut rng, clear_px.len())];
        count += disc(&mut held, clear, (c / w, c % w), r);
    }
    Mask { h, w, clear: held }
}

fn pick(rng: &mut SplitMix, n: usize) -> usize {
    ((rng.unit_f64() * n as f64) as usize).min(n - 1)
}

/// Marks the clear pixels of the disc of radius `r` around `(cy, cx)`; returns how many were new.
fn disc(held: &mut [bool], clear: &Mask, (cy, cx): (usize, usize), r: f64) -> usize {
    let (h, w) = (clear.h as i64, clear.w as i64);
    let ri = r.ceil() as i64;
    let mut added = 0;
    for y in (cy as i64 - ri).max(0)..=(cy as i64 + ri).min(h - 1) {
        for x in (cx as i64 - ri).max(0)..=(cx as i64 + ri).min(w - 1) {
            let (dy, dx) = ((y - cy as i64) as f64, (x - cx as i64) as f64);
            let p = (y * w + x) as usize;
            if dy * dy + dx * dx < r * r && clear.clear[p] && !held[p] {
                held[p] = true;
                added += 1;
            }
        }
    }
    added
}

/// The distance to the nearest clear pixel of every cloud pixel (a two-pass chamfer distance,
/// steps 1 and √2), in no particular order; empty when nothing is cloudy or nothing is clear.
pub fn cloud_depths(clear: &Mask) -> Vec<f64> {
    let (h, w) = (clear.h, clear.w);
    if !clear.clear.iter().any(|&c| c) {
        return Vec::new();
    }
    let inf = f64::INFINITY;
    let mut d: Vec<f64> = (clear.clear.iter())
        .map(|&c| if c { 0.0 } else { inf })
        .collect();
    let s2 = std::f64::consts::SQRT_2;
    let fwd = [(-1, -1, s2), (-1, 0, 1.0), (-1, 1, s2), (0, -1, 1.0)];
    let bwd = [(1, 1, s2), (1, 0, 1.0), (1, -1, s2), (0, 1, 1.0)];
    let relax = |d: &mut Vec<f64>, y: usize, x: usize, taps: &[(i64, i64, f64)]| {
        for &(dy, dx, c) in taps {
            let (yy, xx) = (y as i64 + dy, x as i64 + dx);
            if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                let v = d[yy as usize * w + xx as usize] + c;
                if v < d[y * w + x] {
                    d[y * w + x] = v;
                }
            }
        }
    };
    for y in 0..h {
        for x in 0..w {
            relax(&mut d, y, x, &fwd);
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            relax(&mut d, y, x, &bwd);
        }
    }
    (0..h * w)
        .filter(|&p| !clear.clear[p])
        .map(|p| d[p])
        .collect()
}

/// What a check scores, as elements of one network's channel-major output at the padded size:
/// the held-out elements of the inpainted source with their target values, and the elements
/// being filled (its cloud and nodata) for the ensemble's spread.
#[derive(Clone, Debug)]
pub(crate) struct CheckPixels {
    index: Vec<u32>,
    target: Vec<f32>,
    fill: Vec<u32>,
}

impl CheckPixels {
    /// The held-out pixels of `held` and the pixels `clear` does not mark clear (both H×W) over
    /// the planes of `image` (H×W×C, pixel-major, the held-out values) in an output of `ph × pw`
    /// planes.
    pub fn new(
        held: &Mask,
        clear: &Mask,
        image: &crate::io::Image,
        (ph, pw): (usize, usize),
    ) -> CheckPixels {
        let (mut index, mut target, mut fill) = (Vec::new(), Vec::new(), Vec::new());
        for ch in 0..image.c {
            for y in 0..held.h {
                for x in 0..held.w {
                    let (p, e) = (y * held.w + x, (ch * ph * pw + y * pw + x) as u32);
                    if held.clear[p] {
                        index.push(e);
                        target.push(image.data[p * image.c + ch]);
                    }
                    if !clear.clear[p] {
                        fill.push(e);
                    }
                }
            }
        }
        CheckPixels {
            index,
            target,
            fill,
        }
    }

    /// Nothing for `signal` to score: no held-out element, or nothing to fill.
    pub fn is_empty(&self, signal: StopSignal) -> bool {
        match signal {
            StopSignal::Heldout => self.index.is_empty(),
            StopSignal::Spread | StopSignal::Drift => self.fill.is_empty(),
        }
    }

    /// `signal`'s score of an ensemble's `members` (each one network's output). The drift
    /// compares this check's [`CheckPixels::fill_mean`] with `previous` (the last check's),
    /// which it replaces; `None` when there was none.
    pub fn score(
        &self,
        signal: StopSignal,
        members: &[&[f32]],
        previous: &mut Option<Vec<f32>>,
    ) -> Option<f64> {
        match signal {
            StopSignal::Heldout => Some(self.error_of_mean(members)),
            StopSignal::Spread => Some(self.spread(members)),
            StopSignal::Drift => {
                let now = self.fill_mean(members);
                let d = previous.as_deref().map(|p| drift(p, &now));
                *previous = Some(now);
                d
            }
        }
    }

    /// The members' mean (f64, rounded to f32) at the elements being filled, in order.
    fn fill_mean(&self, members: &[&[f32]]) -> Vec<f32> {
        let k = members.len() as f64;
        (self.fill.iter())
            .map(|&i| (members.iter().map(|m| m[i as usize] as f64).sum::<f64>() / k) as f32)
            .collect()
    }

    /// The mean over the elements being filled of the members' population standard deviation
    /// (f64 sums, as [`super::ensemble::mean_std`]).
    pub fn spread(&self, members: &[&[f32]]) -> f64 {
        let k = members.len() as f64;
        let sum: f64 = (self.fill.iter().map(|&i| {
            let at = |m: &&[f32]| m[i as usize] as f64;
            let mean = members.iter().map(at).sum::<f64>() / k;
            (members.iter().map(|m| (at(m) - mean).powi(2)).sum::<f64>() / k).sqrt()
        }))
        .sum();
        sum / self.fill.len().max(1) as f64
    }

    /// Mean squared error of the members' mean (one network: its output) on the held-out
    /// elements; the mean is taken in f64 and rounded to f32, as [`super::ensemble::mean_std`]
    /// gives the ensemble's result.
    pub fn error_of_mean(&self, members: &[&[f32]]) -> f64 {
        let k = members.len() as f64;
        let mean = |i: usize| match members {
            [one] => one[i],
            _ => (members.iter().map(|m| m[i] as f64).sum::<f64>() / k) as f32,
        };
        let sum: f64 = (self.index.iter().zip(&self.target))
            .map(|(&i, &t)| (mean(i as usize) as f64 - t as f64).powi(2))
            .sum();
        sum / self.index.len().max(1) as f64
    }
}

/// The mean absolute difference of two [`CheckPixels::fill_mean`]s (f64 sums).
fn drift(previous: &[f32], now: &[f32]) -> f64 {
    let sum: f64 = (previous.iter().zip(now))
        .map(|(&a, &b)| (b as f64 - a as f64).abs())
        .sum();
    sum / now.len().max(1) as f64
}
