//! The per-step network input (`shaders/noise.wgsl`): out = latent + σ·z, z ~ N(0, 1) drawn
//! from a counter-based RNG keyed by (seed, step, element index).
//!
//! z: Philox-2x32-10 (Salmon et al. 2011) with key = seed and counter = (i / 2, step) gives two
//! u32 x₀, x₁ → uₖ = ((xₖ >> 8) + 1)·2⁻²⁴ ∈ (0, 1] (exact in f32) → Box–Muller:
//! θ = π(2u₁ − 1) ∈ (−π, π] (the range where WGSL's cos/sin are accurate), z = √(−2 ln u₀)·cos θ
//! for even i, ·sin θ for odd i. The CPU reference runs the same integers, so the GPU matches it
//! to the f32 rounding of log/cos/sin; every step gets fresh noise and a run reproduces bit for
//! bit on one adapter. For G networks' latents side by side the index counts within each network
//! ([`params`]), so each draws the noise a run of its own would draw.
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Tensor};

const WG: u32 = 256;

/// Mirror of `Params` in `noise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n: u32,
    pub sigma: f32,
    pub seed: u32,
    pub step: u32,
    /// vec4s per network: the element index wraps every `4·per4` elements.
    pub per4: u32,
    pub _p: [u32; 3],
}

pub const LATENT_NOISE: KernelSig = KernelSig {
    shader: Shader::Noise,
    entry: "latent_noise",
    reads: 1,
    writes: 1,
    params: std::mem::size_of::<Params>(),
};
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[LATENT_NOISE];

/// The uniform for `step` over `n` elements that are networks' latents of `per` elements each
/// (`per` a multiple of 4 dividing `n`, or `per = n`): element i draws z(seed, step, i mod per).
pub fn params(sigma: f32, seed: u32, step: u32, n: usize, per: usize) -> Params {
    Params {
        n: n as u32,
        sigma,
        seed,
        step,
        per4: per.div_ceil(4).max(1) as u32,
        _p: [0; 3],
    }
}

/// `out = latent + σ·z(seed, step, i)`, built for step 0; rewrite the step with
/// `d.set_params(gpu, &noise::params(sigma, seed, step, n, n))`.
pub fn latent_noise(
    gpu: &Gpu,
    latent: &Tensor,
    sigma: f32,
    seed: u32,
    out: &Tensor,
) -> Result<Dispatch> {
    if latent.numel() != out.numel() {
        return Err(Error::shape("latent noise output", latent.shape, out.shape));
    }
    if u32::try_from(latent.numel()).is_err() || !sigma.is_finite() {
        return Err(Error::invalid(
            "latent noise",
            format!("{} elements, sigma {sigma}", latent.numel()),
        ));
    }
    let k = gpu.kernel(LATENT_NOISE, &[("WG", WG as f64)])?;
    let p = params(sigma, seed, 0, latent.numel(), latent.numel());
    let n4 = latent.numel().div_ceil(4) as u32;
    gpu.dispatch(&k, &[latent], &[out], Some(&p), groups_1d(n4.div_ceil(WG)))
}

/// CPU reference: the same integer generator, the transform in f64.
pub mod reference {
    const M: u32 = 0xD256_D193;
    const W: u32 = 0x9E37_79B9;

    /// Philox-2x32 with 10 rounds.
    pub fn philox2x32(ctr: [u32; 2], key: u32) -> [u32; 2] {
        let (mut x, mut k) = (ctr, key);
        for _ in 0..10 {
            let prod = M as u64 * x[0] as u64;
            x = [((prod >> 32) as u32) ^ k ^ x[1], prod as u32];
            k = k.wrapping_add(W);
        }
        x
    }

    /// z(seed, step, index) ~ N(0, 1).
    pub fn normal(seed: u32, step: u32, index: u32) -> f64 {
        let x = philox2x32([index / 2, step], seed);
        let u = |v: u32| ((v >> 8) as f64 + 1.0) / 16_777_216.0;
        let r = (-2.0 * u(x[0]).ln()).sqrt();
        let th = std::f64::consts::PI * (2.0 * u(x[1]) - 1.0);
        if index % 2 == 0 {
            r * th.cos()
        } else {
            r * th.sin()
        }
    }

    /// latent + σ·z for every element.
    pub fn latent_noise(latent: &[f64], sigma: f64, seed: u32, step: u32) -> Vec<f64> {
        latent_noise_batch(latent, latent.len(), sigma, seed, step)
    }

    /// latent + σ·z(i mod per) for every element: networks' latents of `per` elements each.
    pub fn latent_noise_batch(
        latent: &[f64],
        per: usize,
        sigma: f64,
        seed: u32,
        step: u32,
    ) -> Vec<f64> {
        (0..latent.len())
            .map(|i| latent[i] + sigma * normal(seed, step, (i % per) as u32))
            .collect()
    }
}
