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

/// The held-out elements of the inpainted source in one network's channel-major output at the
/// padded size, and their target values: what a check scores.
#[derive(Clone, Debug)]
pub(crate) struct Heldout {
    index: Vec<u32>,
    target: Vec<f32>,
}

impl Heldout {
    /// The held-out pixels of `held` (H×W) over the first `channels` planes of an output of
    /// `ph × pw` planes, with their values in `image` (H×W×C, pixel-major).
    pub fn new(held: &Mask, image: &crate::io::Image, (ph, pw): (usize, usize)) -> Heldout {
        let (mut index, mut target) = (Vec::new(), Vec::new());
        for ch in 0..image.c {
            for y in 0..held.h {
                for x in 0..held.w {
                    if held.clear[y * held.w + x] {
                        index.push((ch * ph * pw + y * pw + x) as u32);
                        target.push(image.data[(y * held.w + x) * image.c + ch]);
                    }
                }
            }
        }
        Heldout { index, target }
    }

    /// No element is held out.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Mean squared error of `out` (one network's output) on the held-out elements.
    pub fn error(&self, out: &[f32]) -> f64 {
        let sum: f64 = (self.index.iter().zip(&self.target))
            .map(|(&i, &t)| (out[i as usize] as f64 - t as f64).powi(2))
            .sum();
        sum / self.index.len().max(1) as f64
    }
}
