//! The per-step network input (`shaders/noise.wgsl`): out = latent + σ·z, z ~ N(0, 1) drawn
//! from a counter-based RNG keyed by (seed, step, element index).
//!
//! z: Philox-2x32-10 (Salmon et al. 2011) with key = seed and counter = (i / 2, step) gives two
//! u32 x₀, x₁ → uₖ = ((xₖ >> 8) + 1)·2⁻²⁴ ∈ (0, 1] (exact in f32) → Box–Muller:
//! θ = π(2u₁ − 1) ∈ (−π, π] (the range where WGSL's cos/sin are accurate), z = √(−2 ln u₀)·cos θ
//! for even i, ·sin θ for odd i. The CPU reference runs the same integers, so the GPU matches it
//! to the f32 rounding of log/cos/sin; every step gets fresh noise and a run reproduces bit for
//! bit on one adapter. For G networks' latents side by side the index counts within each network
//! and each network has its own key (its seed), so each draws the noise a run of its own would
//! draw: an ensemble of seeds and a batch of tiles (one seed) run in the same dispatch.
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Shape, Tensor};

const WG: u32 = 256;

/// Mirror of `Params` in `noise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n: u32,
    pub sigma: f32,
    pub step: u32,
    /// vec4s per network: the element index wraps every `4·per4` elements, and network
    /// `i / per4` draws with key `keys[i / per4]`.
    pub per4: u32,
}

pub const LATENT_NOISE: KernelSig = KernelSig {
    shader: Shader::Noise,
    entry: "latent_noise",
    reads: 2,
    writes: 1,
    params: std::mem::size_of::<Params>(),
};
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[LATENT_NOISE];

/// The uniform for `step` over `n` elements that are networks' latents of `per` elements each
/// (`per` a multiple of 4 dividing `n`, or `per = n`): element i of network k = i / per draws
/// z(seeds\[k\], step, i mod per).
pub fn params(sigma: f32, step: u32, n: usize, per: usize) -> Params {
    Params {
        n: n as u32,
        sigma,
        step,
        per4: per.div_ceil(4).max(1) as u32,
    }
}

/// `out = latent + σ·z(seeds[k], step, i mod per)` for the `seeds.len()` networks' latents of
/// `per = n / seeds.len()` elements each (a multiple of 4 when there are several), built for
/// step 0; rewrite the step with `d.set_params(gpu, &noise::params(sigma, step, n, per))`.
pub fn latent_noise(
    gpu: &Gpu,
    latent: &Tensor,
    sigma: f32,
    seeds: &[u32],
    out: &Tensor,
) -> Result<Dispatch> {
    let n = latent.numel();
    if n != out.numel() {
        return Err(Error::shape("latent noise output", latent.shape, out.shape));
    }
    let nets = seeds.len();
    let per = n / nets.max(1);
    let split = nets == 1 || (nets > 1 && per * nets == n && per % 4 == 0);
    if u32::try_from(n).is_err() || !sigma.is_finite() || !split {
        return Err(Error::invalid(
            "latent noise",
            format!("{n} elements for {nets} network(s), sigma {sigma}"),
        ));
    }
    let keys: Vec<f32> = seeds.iter().map(|&s| f32::from_bits(s)).collect();
    let keys = Tensor::from_slice(gpu, Shape::flat(nets), &keys)?;
    let k = gpu.kernel(LATENT_NOISE, &[("WG", WG as f64)])?;
    let p = params(sigma, 0, n, per);
    let n4 = n.div_ceil(4) as u32;
    gpu.dispatch(
        &k,
        &[latent, &keys],
        &[out],
        Some(&p),
        groups_1d(n4.div_ceil(WG)),
    )
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
        latent_noise_batch(latent, latent.len(), sigma, &[seed], step)
    }

    /// latent + σ·z(seeds[i / per], step, i mod per) for every element: networks' latents of
    /// `per` elements each.
    pub fn latent_noise_batch(
        latent: &[f64],
        per: usize,
        sigma: f64,
        seeds: &[u32],
        step: u32,
    ) -> Vec<f64> {
        (0..latent.len())
            .map(|i| latent[i] + sigma * normal(seeds[i / per], step, (i % per) as u32))
            .collect()
    }
}
