//! One fused Adam step over one flat parameter buffer (`shaders/adam.wgsl`), PyTorch semantics
//! (bias-corrected, no weight decay, no amsgrad). With bcₖ = 1 − βₖᵗ (t = 1 for the first step):
//!
//! - m = β₁·m + (1 − β₁)·g
//! - v = β₂·v + (1 − β₂)·g²
//! - p −= (lr/bc₁) · m / (√v/√bc₂ + ε)
//!
//! The step-dependent factors are computed in f64 by [`params`]; the caller rewrites them with
//! `dispatch.set_params(gpu, &adam::params(cfg, n, t))` before each step (a queue write).
//!
//! The f32 hyper-parameters are widened to f64 through their shortest decimal ([`wide`]):
//! 0.999f32 is 0.99900001287…, and 1 − β₂ from it is 1.3e-5 off PyTorch's 1 − 0.999 (Python
//! floats), which shows in v and in the bias correction.
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Tensor};

const WG: u32 = 256;

/// Adam's hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Default for AdamConfig {
    /// The reference's values: lr 2e-2, β = (0.9, 0.999), ε = 1e-8.
    fn default() -> Self {
        AdamConfig {
            lr: 2e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Mirror of `Params` in `adam.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n4: u32,
    pub beta1: f32,
    pub beta2: f32,
    pub one_m_beta1: f32,
    pub one_m_beta2: f32,
    /// lr / (1 − β₁ᵗ).
    pub step_size: f32,
    /// 1 / √(1 − β₂ᵗ).
    pub inv_sqrt_bc2: f32,
    pub eps: f32,
}

pub const ADAM_STEP: KernelSig = KernelSig {
    shader: Shader::Adam,
    entry: "adam_step",
    reads: 1,
    writes: 3,
    params: std::mem::size_of::<Params>(),
};
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[ADAM_STEP];

/// An f32 hyper-parameter as the f64 of its shortest decimal (0.999f32 → 0.999): the value the
/// user wrote, as PyTorch sees it.
pub fn wide(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

/// The uniform for step `t` (1 for the first step; 0 is taken as 1) over `n` parameters.
pub fn params(cfg: &AdamConfig, n: usize, t: u32) -> Params {
    let t = t.max(1) as i32;
    let (b1, b2) = (wide(cfg.beta1), wide(cfg.beta2));
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    Params {
        n4: n.div_ceil(4) as u32,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        one_m_beta1: (1.0 - b1) as f32,
        one_m_beta2: (1.0 - b2) as f32,
        step_size: (wide(cfg.lr) / bc1) as f32,
        inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
        eps: cfg.eps,
    }
}

/// One Adam step on `p` with gradient `g` and moments `m`, `v` (all the same length), built
/// with the uniform of step t = 1.
pub fn step(
    gpu: &Gpu,
    cfg: &AdamConfig,
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
) -> Result<Dispatch> {
    for (what, t) in [("gradient", g), ("first moment", m), ("second moment", v)] {
        if t.numel() != p.numel() {
            return Err(Error::shape(format!("Adam {what}"), p.shape, t.shape));
        }
    }
    let ok = |x: f32, lo: f32, hi: f32| x.is_finite() && x >= lo && x < hi;
    if !(ok(cfg.beta1, 0.0, 1.0) && ok(cfg.beta2, 0.0, 1.0) && ok(cfg.lr, 0.0, f32::MAX)) {
        return Err(Error::invalid(
            "Adam configuration",
            format!("{cfg:?}: need 0 ≤ β < 1 and a finite lr ≥ 0"),
        ));
    }
    let k = gpu.kernel(ADAM_STEP, &[("WG", WG as f64)])?;
    let prm = params(cfg, p.numel(), 1);
    gpu.dispatch(
        &k,
        &[g],
        &[p, m, v],
        Some(&prm),
        groups_1d(prm.n4.div_ceil(WG)),
    )
}

/// CPU reference: PyTorch's `torch.optim.Adam` update in f64.
pub mod reference {
    use super::{wide, AdamConfig};

    /// Step `t` (1-based) in place.
    pub fn step(cfg: &AdamConfig, t: u32, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        let (lr, b1, b2, eps) = (
            wide(cfg.lr),
            wide(cfg.beta1),
            wide(cfg.beta2),
            wide(cfg.eps),
        );
        let bc1 = 1.0 - b1.powi(t as i32);
        let bc2 = 1.0 - b2.powi(t as i32);
        for i in 0..p.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            p[i] -= lr / bc1 * m[i] / (v[i].sqrt() / bc2.sqrt() + eps);
        }
    }
}
