//! Shared test helpers: one GPU per test binary, a seeded RNG, closeness checks, finite
//! differences.
#![allow(dead_code)]
use cloudfill::gpu::{Dispatch, Gpu, Shape, Tensor};
use cloudfill::plan::Problem;
use cloudfill::splitmix::SplitMix;
use std::sync::OnceLock;

/// The one GPU of this test binary (device creation on lavapipe is slow).
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let g = Gpu::new().expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)");
        eprintln!("test adapter: {}", g.summary());
        g
    })
}

/// Mesa's lavapipe: llvmpipe on Vulkan (on wgpu's GL backend llvmpipe has no subgroups).
pub fn is_lavapipe(g: &Gpu) -> bool {
    let s = g.summary();
    s.name.contains("llvmpipe") && s.backend == "Vulkan"
}

/// The library's SplitMix64 stream ([`SplitMix`]), with its own seed mixing: small, seeded,
/// reproducible.
pub struct Rng(SplitMix);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // SplitMix::new xors its own constant in; undo it so the state is this mixing's.
        let state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        Rng(SplitMix::new(state ^ 0x5DEE_CE66_D1CE_4E5B))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    /// `n` values uniform in [-2, 2] (never all zeros).
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform(-2.0, 2.0)).collect()
    }
}

/// Uploads a new tensor.
pub fn upload(shape: Shape, data: &[f32]) -> Tensor {
    Tensor::from_slice(gpu(), shape, data).unwrap()
}

/// Runs dispatches (one submit) and waits.
pub fn run(ds: &[Dispatch]) {
    gpu().run(ds).unwrap();
}

/// Element-wise closeness with `approx` (relative `rel`, absolute floor `abs`). On failure the
/// message names the largest error (index, got, want, absolute and relative error), how many
/// elements are off, and the first bad index.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], rel: f64, abs: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let bad: Vec<usize> = (got.iter().zip(want).enumerate())
        .filter(|&(_, (&g, &w))| {
            !approx::relative_eq!(g as f64, w, epsilon = abs, max_relative = rel)
        })
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = bad.first() else { return };
    // The largest absolute error among the bad elements (a NaN counts as the largest).
    let err = |i: usize| {
        let e = (got[i] as f64 - want[i]).abs();
        if e.is_nan() {
            f64::INFINITY
        } else {
            e
        }
    };
    let worst = bad
        .iter()
        .copied()
        .fold(first, |a, i| if err(i) > err(a) { i } else { a });
    let (g, w) = (got[worst], want[worst]);
    let e = (g as f64 - w).abs();
    panic!(
        "{what}: {} of {} elements off (rel {rel}, abs {abs}); largest error at [{worst}]: got {g}, \
         want {w}, abs err {e:.3e}, rel err {:.3e}; first at [{first}]: got {}, want {}",
        bad.len(),
        got.len(),
        e / w.abs(),
        got[first],
        want[first],
    );
}

/// Central finite differences of a scalar function of many variables, in f64.
pub fn finite_diff(f: &dyn Fn(&[f64]) -> f64, x: &[f64], eps: f64) -> Vec<f64> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let v = x[i];
            x[i] = v + eps;
            let a = f(&x);
            x[i] = v - eps;
            let b = f(&x);
            x[i] = v;
            (a - b) / (2.0 * eps)
        })
        .collect()
}

pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A random training problem: a 2-channel latent and a `ch`-channel target in [0, 1), and a 0/1
/// mask, cloudy (0) where a uniform draw is ≤ `cloud` (drawn in that order).
pub struct ProblemData {
    pub h: usize,
    pub w: usize,
    pub ch: usize,
    pub latent: Vec<f32>,
    pub target: Vec<f32>,
    pub mask: Vec<f32>,
}

impl ProblemData {
    pub fn random(rng: &mut Rng, h: usize, w: usize, ch: usize, cloud: f32) -> ProblemData {
        let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(0.0, 1.0)).collect() };
        let (latent, target) = (draw(2 * h * w), draw(ch * h * w));
        let mask = draw(ch * h * w)
            .into_iter()
            .map(|u| (u > cloud) as u8 as f32)
            .collect();
        ProblemData {
            h,
            w,
            ch,
            latent,
            target,
            mask,
        }
    }

    pub fn problem(&self) -> Problem<'_> {
        self.problem_seeded(0)
    }

    /// The problem, trained from `seed`'s initial weights and noise.
    pub fn problem_seeded(&self, seed: u64) -> Problem<'_> {
        Problem {
            seed,
            latent: &self.latent,
            latent_channels: 2,
            h: self.h,
            w: self.w,
            target: &self.target,
            mask: &self.mask,
            channels: self.ch,
        }
    }
}
