//! Masked MSE over all sources at once (`shaders/loss.wgsl`), the gradient fused into the pass.
//!
//! The reference's loss is loss = Σᵢ mᵢ·(oᵢ − tᵢ)² / N, N = number of clear elements (mᵢ ∈ {0, 1},
//! one per element of the concatenated sources; the caller broadcasts each source's H×W mask over
//! its channels), and dout += 2·mᵢ·(oᵢ − tᵢ)/N (accumulates, like every backward).
//!
//! [`masked_mse`] takes the per-element weights wᵢ = mᵢ/N (loss = Σ wᵢ·(oᵢ − tᵢ)²,
//! dout += 2·wᵢ·(oᵢ − tᵢ)): with wᵢ = mᵢ/N_k for the elements of network k, G networks trained side
//! by side each get their own mean — the same gradient, bit for bit, as that network alone
//! (2·(wᵢ·d) = (2/N)·d in f32, as 2 is a power of two) — and the loss is the sum of theirs.
//!
//! Two dispatches: `mse_partial` (the gradient and one partial sum per workgroup, at most
//! [`MAX_GROUPS`] of them) and `mse_reduce` (one workgroup sums the partials in a fixed order). No
//! atomics: the loss has the same bits every run on one adapter. The dispatches are meant to run
//! every step; the loss need only be read back now and then.
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, KernelSig, Shader, Shape, Tensor};

const WG: u32 = 256;
/// Most workgroups of the partial pass (so the reduce pass is one workgroup).
pub const MAX_GROUPS: u32 = 1024;

/// Mirror of `Params` in `loss.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n: u32,
    pub n4: u32,
    pub groups: u32,
    pub _p0: u32,
}

const P: usize = std::mem::size_of::<Params>();
pub const MSE_PARTIAL: KernelSig = sig("mse_partial", 3, 2);
pub const MSE_REDUCE: KernelSig = sig("mse_reduce", 1, 1);
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[MSE_PARTIAL, MSE_REDUCE];

const fn sig(entry: &'static str, reads: u32, writes: u32) -> KernelSig {
    KernelSig {
        shader: Shader::Loss,
        entry,
        reads,
        writes,
        params: P,
    }
}

/// Number of workgroups of the partial pass for `n` elements.
pub fn groups(n: usize) -> u32 {
    (n.div_ceil(4) as u32).div_ceil(WG).clamp(1, MAX_GROUPS)
}

/// The loss Σ wᵢ·(oᵢ − tᵢ)² into `loss[0]` and `dout += 2·wᵢ·(oᵢ − tᵢ)`, `weight` holding wᵢ
/// (mᵢ/N_k per network k: see the module docs). `out`, `target`, `weight` and `dout` have the
/// same number of elements; `loss` has at least one. Allocates the partial-sum buffer once, here.
pub fn masked_mse(
    gpu: &Gpu,
    out: &Tensor,
    target: &Tensor,
    weight: &Tensor,
    dout: &Tensor,
    loss: &Tensor,
) -> Result<Vec<Dispatch>> {
    let n = out.numel();
    for (what, t) in [("target", target), ("weight", weight), ("gradient", dout)] {
        if t.numel() != n {
            return Err(Error::shape(
                format!("masked MSE {what}"),
                out.shape,
                t.shape,
            ));
        }
    }
    if loss.numel() < 1 {
        return Err(Error::shape("masked MSE loss", Shape::flat(1), loss.shape));
    }
    let g = groups(n);
    let p = Params {
        n: n as u32,
        n4: n.div_ceil(4) as u32,
        groups: g,
        _p0: 0,
    };
    let part = Tensor::zeros(gpu, Shape::flat(g as usize))?;
    let wg = [("WG", WG as f64)];
    let kp = gpu.kernel(MSE_PARTIAL, &wg)?;
    let kr = gpu.kernel(MSE_REDUCE, &wg)?;
    Ok(vec![
        gpu.dispatch(
            &kp,
            &[out, target, weight],
            &[dout, &part],
            Some(&p),
            [g, 1, 1],
        )?,
        gpu.dispatch(&kr, &[&part], &[loss], Some(&p), [1, 1, 1])?,
    ])
}

/// CPU reference: the obvious formulas in f64.
pub mod reference {
    /// (loss, ∂loss/∂out) with N = Σ m (the number of clear elements; m ∈ {0, 1}).
    pub fn masked_mse(out: &[f64], target: &[f64], mask: &[f64]) -> (f64, Vec<f64>) {
        let n: f64 = mask.iter().sum();
        let mut loss = 0.0;
        let grad = (0..out.len())
            .map(|i| {
                let d = out[i] - target[i];
                loss += mask[i] * d * d;
                2.0 * mask[i] * d / n
            })
            .collect();
        (loss / n, grad)
    }

    /// (Σ w·d², 2·w·d): the weighted form.
    pub fn masked_mse_weighted(out: &[f64], target: &[f64], w: &[f64]) -> (f64, Vec<f64>) {
        let mut loss = 0.0;
        let grad = (0..out.len())
            .map(|i| {
                let d = out[i] - target[i];
                loss += w[i] * d * d;
                2.0 * w[i] * d
            })
            .collect();
        (loss, grad)
    }
}
