//! Building the conv2d dispatches: which kernel, which blocking, which scratch tensors. The
//! shared pieces here, the forward pass in `forward.rs`, dx, dw and db in `backward.rs`.
//!
//! Three paths, chosen per shape and adapter:
//! - blocked (portable register-blocked vec4 kernels) when the input rows and output rows are
//!   whole vec4s and the stride divides the row exactly: W % 4 = 0, Wo % 4 = 0, W = stride·Wo,
//!   k ≤ 5 (for stride-2 dx also W % 8 = 0, which follows);
//! - subgroup ([`Blocks::sg`], on devices with subgroups of 8): forward, dx and dw of blocked
//!   shapes with Wo % 8 = 0 (stride-2 dx: W % 8 = 0) and k ∈ {1, 3, 5} take `conv2d_sg.wgsl`
//!   instead of `conv_forward` / `conv_backward_input_s2` / `conv_backward_weight`;
//! - scalar: everything else.
//!
//! Groups: the path, blocks and channel padding come from one group's conv ([`Conv2d::group`])
//! and shapes; tensors keep all G groups back to back, scratch tensors hold G blocks (rearranged
//! weights `[g][a][ky][kx][np]`, dw partials `[chunk][g][co][ci][ky][kx]`, so
//! `conv_sum_partials` over all G·cout·cin·k·k weights is the ungrouped one), and every dispatch
//! covers all groups: one group's grid in x and y, G in z (`conv_backward_weight_sg_*`:
//! chunks·G in z). Each group's arithmetic, the row chunks of the weight and bias gradients
//! included, is that of the ungrouped conv, so G groups give G separate convs' results bit for
//! bit (a batch of networks trains exactly as its networks would alone). G = 1 gives exactly
//! the ungrouped dispatches.
//!
//! Workgroups: a dispatch of few invocations (the 4×4 and 2×2 levels) gets smaller workgroups,
//! down to one subgroup of 8, until it has [`MIN_WORKGROUPS`] ([`Ctx::spread_wg`]): a CPU
//! driver runs a workgroup on one core.
use super::kernels::{
    sg_kernel, SgFamily, REARRANGE_WEIGHTS, SG_LANES, SG_OUT_CH, SG_OUT_ROWS, SG_OUT_X,
};
use super::{Conv2d, Padding, Params};
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, Shape, Tensor};

mod backward;
mod forward;
pub(super) use backward::{backward_bias, backward_input, backward_weight};
pub(super) use forward::forward;
use forward::{forward_kernels, rearranged_conv};

/// Register-block sizes of the fast kernels, one row per adapter kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// Invocations per workgroup.
    pub wg: u32,
    /// Output x positions per forward invocation, in vec4s (1 or 2; 1 where Wo % 8 ≠ 0).
    pub nx4: u32,
    /// Output channels per forward / dx invocation, in vec4s (1 or 2).
    pub nc4: u32,
    /// Output channels per weight-gradient invocation (≤ 8).
    pub ncw: u32,
    /// Invocations the reductions aim for (partial-sum chunks are sized from it).
    pub target: usize,
    /// Use the subgroup kernels (`conv2d_sg.wgsl`) for forward, dx and dw where the shape
    /// allows and the device has subgroups of exactly 8 lanes; ignored on other devices.
    pub sg: bool,
    /// Run the blocked forward conv (and dx of stride 1) as `conv2d_tiled.wgsl`: input and
    /// weight tiles shared in workgroup memory, loaded coalesced by the whole workgroup — the
    /// form for GPUs. Where the subgroup kernels apply they come first.
    pub tiled: bool,
}

impl Blocks {
    /// CPU drivers (lavapipe): big blocks — each load instruction is costly, registers are not.
    pub const CPU: Blocks = Blocks {
        wg: 64,
        nx4: 2,
        nc4: 2,
        ncw: 8,
        target: 1024,
        sg: false,
        tiled: false,
    };
    /// Real GPUs: small blocks, many invocations.
    pub const GPU: Blocks = Blocks {
        wg: 64,
        nx4: 1,
        nc4: 1,
        ncw: 4,
        target: 1 << 16,
        sg: false,
        tiled: true,
    };

    /// Err unless the shaders support these sizes.
    pub fn checked(self) -> Result<Blocks> {
        let ok = (1..=1024).contains(&self.wg)
            && (1..=2).contains(&self.nx4)
            && (1..=2).contains(&self.nc4)
            && (1..=8).contains(&self.ncw)
            && self.target > 0;
        if !ok {
            return Err(Error::invalid("conv2d blocks", format!("{self:?}")));
        }
        Ok(self)
    }

    /// The blocks for this adapter: the subgroup kernels on CPU adapters with subgroups of 8
    /// (lavapipe; their 256-float register blocks would spill on a real GPU).
    pub fn for_gpu(gpu: &Gpu) -> Blocks {
        if gpu.is_cpu() {
            Blocks {
                sg: has_sg_lanes(gpu),
                ..Blocks::CPU
            }
        } else {
            Blocks::GPU
        }
    }
}

/// Whether the device's subgroups have the size `conv2d_sg.wgsl` is written for.
fn has_sg_lanes(gpu: &Gpu) -> bool {
    gpu.subgroup_size() == Some(SG_LANES as u32)
}

/// Invocations per workgroup of the subgroup kernels (a multiple of 8).
const SG_WG: u32 = 8;
/// Workgroups along one dispatch dimension, at most.
const MAX_DIM: usize = 65_535;

/// What every dispatch of one call shares: the device, the checked blocks, one group's conv
/// (the paths are chosen from it) and the number of groups every dispatch covers.
pub(super) struct Ctx<'a> {
    gpu: &'a Gpu,
    bl: Blocks,
    c: Conv2d,
    groups: usize,
}

impl<'a> Ctx<'a> {
    /// Err for blocks the shaders do not support, or more groups than one dispatch dimension
    /// holds.
    pub(super) fn new(gpu: &'a Gpu, bl: Blocks, c: &Conv2d) -> Result<Ctx<'a>> {
        let bl = bl.checked()?;
        if c.groups > MAX_DIM {
            return Err(Error::invalid(
                "conv2d groups",
                format!("{} groups (at most {MAX_DIM})", c.groups),
            ));
        }
        let (c, groups) = (c.group(), c.groups);
        Ok(Ctx { gpu, bl, c, groups })
    }

    /// One group's part of a tensor's shape.
    fn group_shape(&self, t: &Tensor) -> Shape {
        Shape::new(t.shape.c / self.groups, t.shape.h, t.shape.w)
    }

    /// Params of one group's sizes (channel counts `cin`, `cout`) for all groups.
    fn params(&self, cin: usize, cout: usize, xs: Shape, os: Shape) -> Params {
        Params {
            cin: cin as u32,
            cout: cout as u32,
            h: xs.h as u32,
            w: xs.w as u32,
            ho: os.h as u32,
            wo: os.w as u32,
            groups: self.groups as u32,
            ..Default::default()
        }
    }

    /// The workgroup size for `n` invocations per group: `wg`, halved (down to one subgroup of
    /// 8) while the dispatch would have fewer than [`MIN_WORKGROUPS`] workgroups. The 4×4 and
    /// 2×2 levels' convs had a single workgroup, and a CPU driver runs one workgroup on one core.
    /// Every invocation computes the same sums whatever the size.
    fn spread_wg(&self, n: usize, wg: u32) -> u32 {
        spread_wg(n, self.groups, wg)
    }

    /// The grid of `n` invocations in workgroups of `wg` for one group, repeated for every group
    /// along z (the kernels' group index).
    fn group_grid(&self, n: usize, wg: u32) -> [u32; 3] {
        let mut grid = linear_grid(n, wg);
        debug_assert_eq!(grid[2], 1);
        grid[2] = self.groups as u32;
        grid
    }
}

/// Workgroups a dispatch is given at least where its invocations allow ([`Ctx::spread_wg`]):
/// enough for the cores of a CPU adapter, and more than one multiprocessor's worth on a GPU.
const MIN_WORKGROUPS: usize = 8;

/// [`Ctx::spread_wg`] for `groups` groups of `n` invocations.
fn spread_wg(n: usize, groups: usize, wg: u32) -> u32 {
    let mut wg = wg;
    while wg > SG_WG && n.div_ceil(wg as usize) * groups < MIN_WORKGROUPS {
        wg /= 2;
    }
    wg
}

/// Workgroups of `wg` for `n` invocations, folded into 2-D past [`MAX_DIM`].
fn linear_grid(n: usize, wg: u32) -> [u32; 3] {
    groups_1d((n as u32).div_ceil(wg))
}

/// Whether the blocked kernels cover input `xs` → output `os` (per group or not: channel counts
/// do not matter).
fn blocked_fits(c: &Conv2d, xs: Shape, os: Shape) -> bool {
    c.k <= 5 && xs.w % 4 == 0 && os.w % 4 == 0 && xs.w == c.stride * os.w
}

/// Whether the subgroup forward kernel covers input `xs` → output `os` on this device (one
/// group's conv and shapes).
fn subgroup_fits(cx: &Ctx, c: &Conv2d, xs: Shape, os: Shape) -> bool {
    cx.bl.sg
        && has_sg_lanes(cx.gpu)
        && blocked_fits(c, xs, os)
        && sg_kernel(SgFamily::Forward, c.k, c.stride).is_some()
        && os.w % SG_OUT_X == 0
        && sg_invocations(os).div_ceil(SG_WG as usize) <= MAX_DIM
        && c.cout.div_ceil(SG_OUT_CH) <= MAX_DIM
        && c.cin.div_ceil(SG_WG as usize) <= MAX_DIM
}

/// Invocations per channel block of the subgroup kernels.
fn sg_invocations(os: Shape) -> usize {
    os.w / SG_OUT_X * os.h.div_ceil(SG_OUT_ROWS)
}

/// Override constants of a kernel.
type Overrides = Vec<(&'static str, f64)>;

/// `PADM` of the shaders: 0 zero padding, 1 reflection.
fn padding_mode(c: &Conv2d) -> f64 {
    match c.padding {
        Padding::Zero => 0.0,
        Padding::Reflection => 1.0,
    }
}

/// A `bool` override's value.
fn wgsl_bool(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The overrides every kernel of `conv2d.wgsl` that convolves takes: workgroup size and the
/// conv's geometry.
fn conv_overrides(c: &Conv2d, wg: u32) -> Overrides {
    vec![
        ("WG", wg as f64),
        ("K", c.k as f64),
        ("S", c.stride as f64),
        ("PAD", c.pad() as f64),
        ("PADM", padding_mode(c)),
    ]
}

fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// The layout `conv_rearrange_weights` writes: `wt[g][a][ky][kx][np]`, np padding the channels
/// of the last axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WeightLayout {
    /// a = ci, last axis co: the forward kernels.
    Forward,
    /// a = co, last axis ci, taps flipped: dx of stride 1 as a forward conv of gy.
    TransposedFlipped,
    /// a = co, last axis ci: the stride-2 dx gathers.
    Transposed,
}

impl WeightLayout {
    /// The `TR` and `FLIP` overrides.
    fn overrides(self) -> [(&'static str, f64); 2] {
        let (tr, flip) = match self {
            WeightLayout::Forward => (false, false),
            WeightLayout::TransposedFlipped => (true, true),
            WeightLayout::Transposed => (true, false),
        };
        [("TR", wgsl_bool(tr)), ("FLIP", wgsl_bool(flip))]
    }
}

/// Weights rearranged for the fast kernels: `wt`, with `np` channels on its last axis.
struct Rearranged {
    wt: Tensor,
    np: usize,
}

/// The layer's weights `w` (of `cx`'s conv, all groups) rearranged as `layout` with `np`
/// channels, and the dispatch that does it.
fn rearrange(
    cx: &Ctx,
    w: &Tensor,
    layout: WeightLayout,
    np: usize,
) -> Result<(Rearranged, Dispatch)> {
    let c = &cx.c;
    let a = if layout == WeightLayout::Forward {
        c.cin
    } else {
        c.cout
    };
    let n = a * c.k * c.k * np; // one group's
    let wt = Tensor::zeros(cx.gpu, Shape::flat(cx.groups * n))?;
    let mut o = conv_overrides(c, 256);
    o.extend(layout.overrides());
    o.push(("NB", (np / 4) as f64));
    let k = cx.gpu.kernel(REARRANGE_WEIGHTS, &o)?;
    let mut p = cx.params(c.cin, c.cout, Shape::flat(0), Shape::flat(0));
    p.np = np as u32;
    p.n = (n / 4) as u32; // one invocation per vec4 (np is a multiple of 4)
    debug_assert_eq!(np % 4, 0);
    let grid = cx.group_grid(n / 4, 256);
    let d = cx.gpu.dispatch(&k, &[w], &[&wt], Some(&p), grid)?;
    Ok((Rearranged { wt, np }, d))
}

/// Whether a kernel overwrites its output or adds to it (`ACC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    Overwrite,
    Accumulate,
}

/// The tensors of `y (+)= conv(x) (+ b)` (all groups) and how y is written.
struct Io<'a> {
    x: &'a Tensor,
    b: Option<&'a Tensor>,
    y: &'a Tensor,
    write: Write,
}

impl Io<'_> {
    /// The `ACC` and `BIAS` overrides.
    fn overrides(&self) -> [(&'static str, f64); 2] {
        [
            ("ACC", wgsl_bool(self.write == Write::Accumulate)),
            ("BIAS", wgsl_bool(self.b.is_some())),
        ]
    }
}
