//! Training-mode BatchNorm2d on a batch of one image (`shaders/batchnorm.wgsl`).
//!
//! Per channel c over the n = H·W pixels i:
//! - forward:  μ_c = Σ x / n, σ²_c = Σ (x − μ_c)² / n (biased), r_c = 1/√(σ²_c + [`EPS`]),
//!   y = γ_c (x − μ_c) r_c + β_c; `stats` = [μ_0..μ_{C−1}, r_0..r_{C−1}] is saved for backward.
//! - backward: x̂ = (x − μ) r; dβ_c += Σ gy; dγ_c += Σ gy·x̂;
//!   dx += γ_c r_c (gy − Σgy/n − x̂ Σ(gy·x̂)/n).
//!
//! Reductions (deterministic, no atomics, no workgroup memory or barriers — those are slow on
//! lavapipe): a `*_part` pass on a (blocks, C) grid where each invocation sums `k` units (vec4
//! when n % 4 == 0, else f32) of one channel in f32, strided by the workgroup size so that a
//! workgroup reads one contiguous block, then a `*_reduce` pass with one invocation per channel
//! adding its partials pairwise (a binary-counter cascade). The variance uses shifted data (the
//! shift is the channel's first value), so it does not cancel catastrophically. The elementwise
//! `*_apply` pass runs on a (blocks, C) grid too, `ka` units per invocation, so per-channel
//! values are loaded once. See [`Blocking`] for the sizes (8-wide workgroups on CPU drivers).
//!
//! Each call returns three dispatches: part, reduce, apply. Each call allocates its own small
//! scratch tensors once (partials; backward's per-channel means), kept alive by the dispatches'
//! bind groups. `y` must not alias `x`.
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Kernel, KernelSig, Shader, Shape, Tensor};
use crate::ops::elementwise::{self as ew, Act};

mod blocking;
pub mod reference;

pub use blocking::Blocking;
use blocking::{apply_overrides, part_overrides, plan, reduce_overrides, Plan};

/// The ε added to the variance (PyTorch's default).
pub const EPS: f32 = 1e-5;
/// Mirror of `Params` in `batchnorm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub c: u32,
    pub hw: u32,
    /// Units per channel plane: hw/4 (vec4 kernels) or hw (scalar kernels).
    pub units: u32,
    /// Workgroups per channel in the partial pass.
    pub blocks: u32,
    /// Partials per channel: blocks · wg_part.
    pub parts: u32,
    pub eps: f32,
    pub _p: [u32; 2],
}

const P: usize = std::mem::size_of::<Params>();
pub const FWD_PART_V4: KernelSig = sig("fwd_part_v4", 1, 1);
pub const FWD_PART_S: KernelSig = sig("fwd_part_s", 1, 1);
pub const FWD_REDUCE: KernelSig = sig("fwd_reduce", 2, 1);
pub const FWD_APPLY_V4: KernelSig = sig("fwd_apply_v4", 4, 1);
pub const FWD_APPLY_S: KernelSig = sig("fwd_apply_s", 4, 1);
pub const BWD_PART_V4: KernelSig = sig("bwd_part_v4", 3, 1);
pub const BWD_PART_S: KernelSig = sig("bwd_part_s", 3, 1);
pub const BWD_REDUCE: KernelSig = sig("bwd_reduce", 1, 3);
pub const BWD_APPLY_V4: KernelSig = sig("bwd_apply_v4", 5, 1);
pub const BWD_APPLY_S: KernelSig = sig("bwd_apply_s", 5, 1);
pub const FWD_APPLY_ACT_V4: KernelSig = sig("fwd_apply_act_v4", 4, 2);
pub const BWD_PART_ACT_V4: KernelSig = sig("bwd_part_act_v4", 5, 1);
pub const BWD_APPLY_ACT_V4: KernelSig = sig("bwd_apply_act_v4", 7, 1);
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[
    FWD_APPLY_ACT_V4,
    BWD_PART_ACT_V4,
    BWD_APPLY_ACT_V4,
    FWD_PART_V4,
    FWD_PART_S,
    FWD_REDUCE,
    FWD_APPLY_V4,
    FWD_APPLY_S,
    BWD_PART_V4,
    BWD_PART_S,
    BWD_REDUCE,
    BWD_APPLY_V4,
    BWD_APPLY_S,
];

const fn sig(entry: &'static str, reads: u32, writes: u32) -> KernelSig {
    KernelSig {
        shader: Shader::BatchNorm,
        entry,
        reads,
        writes,
        params: P,
    }
}

fn check(what: &str, t: &Tensor, want: Shape) -> Result<()> {
    if t.numel() != want.numel() {
        return Err(Error::shape(format!("batch-norm {what}"), want, t.shape));
    }
    Ok(())
}

/// `y = γ (x − μ)/√(σ² + ε) + β` with batch statistics; writes `stats` = [μ, 1/√(σ² + ε)].
/// `gamma`, `beta`: C values; `stats`: 2C values; `y`: the shape of `x`. `blocking`: `None` for
/// the adapter's ([`Blocking::for_gpu`]); tests run both on any adapter.
pub fn forward(
    gpu: &Gpu,
    blocking: Option<Blocking>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    y: &Tensor,
    stats: &Tensor,
) -> Result<Vec<Dispatch>> {
    let pl = plan(x.shape, blocking.unwrap_or(Blocking::for_gpu(gpu)))?;
    let mut ds = forward_stats(gpu, &pl, x, (gamma, beta), stats, &[("output", y)])?;
    let aps = if pl.vec4 { FWD_APPLY_V4 } else { FWD_APPLY_S };
    let ka = gpu.kernel(aps, &apply_overrides(pl.b))?;
    let reads = [x, gamma, beta, stats];
    ds.push(gpu.dispatch(&ka, &reads, &[y], Some(&pl.p), pl.apply_groups)?);
    Ok(ds)
}

/// The forward's checks (the apply pass's `outputs` have the shape of `x`) and its two
/// statistics passes (partial sums, reduce into `stats`); the apply pass is the caller's.
fn forward_stats(
    gpu: &Gpu,
    pl: &Plan,
    x: &Tensor,
    (gamma, beta): (&Tensor, &Tensor),
    stats: &Tensor,
    outputs: &[(&str, &Tensor)],
) -> Result<Vec<Dispatch>> {
    let s = x.shape;
    check("gamma", gamma, Shape::flat(s.c))?;
    check("beta", beta, Shape::flat(s.c))?;
    check("stats", stats, Shape::flat(2 * s.c))?;
    for (what, t) in outputs {
        check(what, t, s)?;
    }
    let part = Tensor::zeros(gpu, Shape::flat(2 * s.c * pl.p.parts as usize))?;
    let ps = if pl.vec4 { FWD_PART_V4 } else { FWD_PART_S };
    let kp = gpu.kernel(ps, &part_overrides(pl.b))?;
    let kr = gpu.kernel(FWD_REDUCE, &reduce_overrides(pl.b))?;
    let p = Some(&pl.p);
    Ok(vec![
        gpu.dispatch(&kp, &[x], &[&part], p, pl.part_groups)?,
        gpu.dispatch(&kr, &[&part, x], &[stats], p, pl.reduce_groups)?,
    ])
}

/// Accumulates the gradients of batch-norm: `dx += γ r (gy − mean(gy) − x̂ mean(gy·x̂))`,
/// `dgamma += Σ gy·x̂`, `dbeta += Σ gy`, with x̂ recomputed from `x` and the forward's `stats`.
/// `blocking` as for [`forward`].
#[allow(clippy::too_many_arguments)]
pub fn backward(
    gpu: &Gpu,
    blocking: Option<Blocking>,
    x: &Tensor,
    gamma: &Tensor,
    stats: &Tensor,
    gy: &Tensor,
    dx: &Tensor,
    dgamma: &Tensor,
    dbeta: &Tensor,
) -> Result<Vec<Dispatch>> {
    let pl = plan(x.shape, blocking.unwrap_or(Blocking::for_gpu(gpu)))?;
    let (ps, aps) = if pl.vec4 {
        (BWD_PART_V4, BWD_APPLY_V4)
    } else {
        (BWD_PART_S, BWD_APPLY_S)
    };
    let kp = gpu.kernel(ps, &part_overrides(pl.b))?;
    let ka = gpu.kernel(aps, &apply_overrides(pl.b))?;
    let g = Upstream::Plain(gy);
    backward_passes(gpu, &pl, (kp, ka), x, g, gamma, stats, (dx, dgamma, dbeta))
}

/// The upstream gradient as the backward kernels read it.
enum Upstream<'a> {
    /// `gy` itself.
    Plain(&'a Tensor),
    /// `(gya, y, ya)`: the gradient of the activation's output `ya = f(y)`; the kernels take
    /// `gy = gya · f'(y)` on the fly.
    Act(&'a Tensor, &'a Tensor, &'a Tensor),
}

/// The backward's checks and three passes (partial sums, reduce into dγ, dβ and the means,
/// apply into dx), with the part and apply kernels `k` of the plain or the fused form.
#[allow(clippy::too_many_arguments)]
fn backward_passes(
    gpu: &Gpu,
    pl: &Plan,
    k: (std::sync::Arc<Kernel>, std::sync::Arc<Kernel>),
    x: &Tensor,
    g: Upstream,
    gamma: &Tensor,
    stats: &Tensor,
    (dx, dgamma, dbeta): (&Tensor, &Tensor, &Tensor),
) -> Result<Vec<Dispatch>> {
    let s = x.shape;
    let named: Vec<(&str, &Tensor)> = match g {
        Upstream::Plain(gy) => vec![("upstream gradient", gy)],
        Upstream::Act(gya, y, ya) => vec![
            ("upstream gradient", gya),
            ("output", y),
            ("activation output", ya),
        ],
    };
    for (what, t) in &named {
        check(what, t, s)?;
    }
    let ups: Vec<&Tensor> = named.iter().map(|(_, t)| *t).collect();
    check("gamma", gamma, Shape::flat(s.c))?;
    check("stats", stats, Shape::flat(2 * s.c))?;
    check("input gradient", dx, s)?;
    check("gamma gradient", dgamma, Shape::flat(s.c))?;
    check("beta gradient", dbeta, Shape::flat(s.c))?;
    let part = Tensor::zeros(gpu, Shape::flat(2 * s.c * pl.p.parts as usize))?;
    let means = Tensor::zeros(gpu, Shape::flat(2 * s.c))?;
    let kr = gpu.kernel(BWD_REDUCE, &reduce_overrides(pl.b))?;
    let p = Some(&pl.p);
    let part_reads: Vec<&Tensor> = [x]
        .into_iter()
        .chain(ups.iter().copied())
        .chain([stats])
        .collect();
    let apply_reads: Vec<&Tensor> = [x]
        .into_iter()
        .chain(ups.iter().copied())
        .chain([gamma, stats, &means])
        .collect();
    Ok(vec![
        gpu.dispatch(&k.0, &part_reads, &[&part], p, pl.part_groups)?,
        gpu.dispatch(&kr, &[&part], &[dgamma, dbeta, &means], p, pl.reduce_groups)?,
        gpu.dispatch(&k.1, &apply_reads, &[dx], p, pl.apply_groups)?,
    ])
}

/// Whether [`forward_act`] / [`backward_act`] take a tensor of this shape (H·W a multiple of 4).
pub fn fusable(s: Shape) -> bool {
    s.hw() >= 4 && s.hw() % 4 == 0 && s.c > 0
}

/// Overrides of a fused kernel: its workgroup size, its blocking constant, and the activation.
fn act_overrides(wg: u32, kk: (&'static str, u32), act: Act) -> Vec<(&'static str, f64)> {
    let mut o = vec![("WG", wg as f64), (kk.0, kk.1 as f64)];
    let a = ew::act_overrides(act);
    o.extend(a.into_iter().filter(|(k, _)| *k != "WG"));
    o
}

/// Batch-norm followed by `act`, fused: `y = BN(x)` and `ya = act(y)` in the apply pass (one
/// pass and one dispatch fewer than [`forward`] + an activation). Needs [`fusable`] shapes.
#[allow(clippy::too_many_arguments)]
pub fn forward_act(
    gpu: &Gpu,
    act: Act,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    y: &Tensor,
    ya: &Tensor,
    stats: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_fusable(x.shape)?;
    let b = Blocking::for_gpu(gpu);
    let pl = plan(x.shape, b)?;
    let outputs = [("output", y), ("activation output", ya)];
    let mut ds = forward_stats(gpu, &pl, x, (gamma, beta), stats, &outputs)?;
    let ka = gpu.kernel(
        FWD_APPLY_ACT_V4,
        &act_overrides(b.wg_apply, ("KA", b.ka), act),
    )?;
    let reads = [x, gamma, beta, stats];
    ds.push(gpu.dispatch(&ka, &reads, &[y, ya], Some(&pl.p), pl.apply_groups)?);
    Ok(ds)
}

/// The backward of `act ∘ BN`, fused: like [`backward`] with `gy = gya · act'(y)` computed on the
/// fly from the forward's `y` (BN output) and `ya` (activation output). Needs [`fusable`] shapes.
#[allow(clippy::too_many_arguments)]
pub fn backward_act(
    gpu: &Gpu,
    act: Act,
    x: &Tensor,
    gamma: &Tensor,
    stats: &Tensor,
    y: &Tensor,
    ya: &Tensor,
    gya: &Tensor,
    dx: &Tensor,
    dgamma: &Tensor,
    dbeta: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_fusable(x.shape)?;
    let b = Blocking::for_gpu(gpu);
    let pl = plan(x.shape, b)?;
    let kp = gpu.kernel(BWD_PART_ACT_V4, &act_overrides(b.wg_part, ("K", b.k), act))?;
    let ka = gpu.kernel(
        BWD_APPLY_ACT_V4,
        &act_overrides(b.wg_apply, ("KA", b.ka), act),
    )?;
    let g = Upstream::Act(gya, y, ya);
    backward_passes(gpu, &pl, (kp, ka), x, g, gamma, stats, (dx, dgamma, dbeta))
}

fn check_fusable(s: Shape) -> Result<()> {
    if !fusable(s) {
        return Err(Error::invalid(
            "fused batch-norm + activation",
            format!("{s:?}: needs H·W a multiple of 4"),
        ));
    }
    Ok(())
}
