//! Building the conv2d dispatches: which kernel, which blocking, which scratch tensors.
//!
//! Fast path (register-blocked vec4 kernels) when the input rows and output rows are whole vec4s
//! and the stride divides the row exactly: W % 4 = 0, Wo % 4 = 0, W = stride·Wo, k ≤ 5 (for
//! stride-2 dx also W % 8 = 0, which follows). Everything else takes the scalar kernels.
//!
//! Subgroup path ([`Blocks::sg`], on devices with subgroups of 8): forward, dx and dw of fast
//! shapes with Wo % 8 = 0 (stride-2 dx: W % 8 = 0) and k ∈ {1, 3, 5} take `conv2d_sg.wgsl`
//! instead of `cv_fwd` / `cv_bin2` / `cv_bw`.
//!
//! Groups: the path, blocks and channel padding come from one group's conv ([`Conv2d::group`])
//! and shapes; tensors keep all G groups back to back, scratch tensors hold G blocks (rearranged
//! weights `[g][a][ky][kx][np]`, dw partials `[chunk][g][co][ci][ky][kx]`, so `cv_sum` over all
//! G·cout·cin·k·k weights is the ungrouped one), and every dispatch covers all groups: one
//! group's grid in x and y, G in z (cv_bw_sg: chunks·G in z). Each group's arithmetic, the
//! row chunks of the weight and bias gradients included, is that of the ungrouped conv, so G
//! groups give G separate convs' results bit for bit (a batch of networks trains exactly as its
//! networks would alone). G = 1 gives exactly the ungrouped dispatches.
use super::{fwd_sg, groups, Conv2d, Padding, Params, FWD, FWD_S, WT};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Shape, Tensor};

mod backward;
pub(super) use backward::{backward_bias, backward_input, backward_weight};

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
    };
    /// Real GPUs: small blocks, many invocations.
    pub const GPU: Blocks = Blocks {
        wg: 64,
        nx4: 1,
        nc4: 1,
        ncw: 4,
        target: 1 << 16,
        sg: false,
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
                sg: gpu.subgroup_size() == Some(SG_LANES),
                ..Blocks::CPU
            }
        } else {
            Blocks::GPU
        }
    }
}

/// The subgroup size `conv2d_sg.wgsl` is tuned for (and the path's requirement).
const SG_LANES: u32 = 8;
/// Invocations per workgroup of the subgroup kernels (a multiple of 8).
const SG_WG: u32 = 8;
/// Output x, output rows and output channels per invocation of the subgroup kernels.
const SG_PX: usize = 8;
const SG_PY: usize = 4;
const SG_CO: usize = 8;

/// Whether the subgroup forward kernel covers input `xs` → output `os` on this device (one
/// group's conv and shapes).
pub fn fast_sg(gpu: &Gpu, bl: Blocks, c: &Conv2d, xs: Shape, os: Shape) -> bool {
    bl.sg
        && gpu.subgroup_size() == Some(SG_LANES)
        && fast(c, xs, os)
        && fwd_sg(c.k, c.stride).is_some()
        && os.w % SG_PX == 0
        && sg_items(os).div_ceil(SG_WG as usize) <= 65_535
        && c.cout.div_ceil(SG_CO) <= 65_535
        && c.cin.div_ceil(SG_WG as usize) <= 65_535
}

/// Whether the subgroup stride-2 dx kernel covers dx of shape `xs` (the fast path's shapes, with
/// W % 8 = 0 following from W = 2·Wo, Wo % 4 = 0); one group's conv and shape.
fn bin2_sg_ok(gpu: &Gpu, bl: Blocks, c: &Conv2d, xs: Shape) -> bool {
    bl.sg
        && gpu.subgroup_size() == Some(SG_LANES)
        && c.stride == 2
        && xs.w % SG_PX == 0
        && sg_items(xs).div_ceil(SG_WG as usize) <= 65_535
        && c.cin.div_ceil(SG_CO) <= 65_535
}

/// Invocations per channel block of the subgroup kernels.
fn sg_items(os: Shape) -> usize {
    os.w / SG_PX * os.h.div_ceil(SG_PY)
}

/// Whether the fast kernels cover input `xs` → output `os` (per group or not: channel counts do
/// not matter).
pub fn fast(c: &Conv2d, xs: Shape, os: Shape) -> bool {
    c.k <= 5 && xs.w % 4 == 0 && os.w % 4 == 0 && xs.w == c.stride * os.w
}

type Ov = Vec<(&'static str, f64)>;

fn padm(c: &Conv2d) -> f64 {
    match c.padding {
        Padding::Zero => 0.0,
        Padding::Reflection => 1.0,
    }
}

fn ov(c: &Conv2d, wg: u32) -> Ov {
    let padm = padm(c);
    vec![
        ("WG", wg as f64),
        ("K", c.k as f64),
        ("S", c.stride as f64),
        ("PAD", c.pad() as f64),
        ("PADM", padm),
    ]
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Params of one group's sizes (channel counts `cin`, `cout`) for `groups` groups.
fn params(cin: usize, cout: usize, xs: Shape, os: Shape, groups: usize) -> Params {
    Params {
        cin: cin as u32,
        cout: cout as u32,
        h: xs.h as u32,
        w: xs.w as u32,
        ho: os.h as u32,
        wo: os.w as u32,
        groups: groups as u32,
        ..Default::default()
    }
}

/// Workgroups along one dispatch dimension, at most.
const MAX_DIM: usize = 65_535;

/// One group's part of a shape of `groups` groups' channels.
fn per(s: Shape, groups: usize) -> Shape {
    Shape::new(s.c / groups, s.h, s.w)
}

/// A one-group grid repeated for `groups` groups along z (the kernels' group index).
fn zg(mut grid: [u32; 3], groups: usize) -> [u32; 3] {
    debug_assert_eq!(grid[2], 1);
    grid[2] = groups as u32;
    grid
}

/// Err for more groups than one dispatch dimension holds.
fn check_groups(c: &Conv2d) -> Result<()> {
    if c.groups > MAX_DIM {
        return Err(Error::invalid(
            "conv2d groups",
            format!("{} groups (at most {MAX_DIM})", c.groups),
        ));
    }
    Ok(())
}

fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// Rearranged weights wt[g][a][ky][kx][np] (a = ci, or co with `tr`), taps flipped with `flip`,
/// for `ng` groups of the one-group conv `c`.
fn rearrange(
    gpu: &Gpu,
    c: &Conv2d,
    w: &Tensor,
    tr: bool,
    flip: bool,
    np: usize,
    ng: usize,
) -> Result<(Tensor, Dispatch)> {
    let a = if tr { c.cout } else { c.cin };
    let n = a * c.k * c.k * np; // one group's
    let wt = Tensor::zeros(gpu, Shape::flat(ng * n))?;
    let mut o = ov(c, 256);
    o.push(("TR", flag(tr)));
    o.push(("FLIP", flag(flip)));
    let k = gpu.kernel(WT, &o)?;
    let mut p = params(c.cin, c.cout, Shape::flat(0), Shape::flat(0), ng);
    p.np = np as u32;
    p.n = (n / 4) as u32; // one invocation per vec4 (np is a multiple of 4)
    debug_assert_eq!(np % 4, 0);
    let d = gpu.dispatch(&k, &[w], &[&wt], Some(&p), zg(groups(n / 4, 256), ng))?;
    Ok((wt, d))
}

/// `y (+)= conv(x)` with the fast kernel for `ng` groups of the one-group conv `c`; wt from
/// [`rearrange`] with `np` channels.
#[allow(clippy::too_many_arguments)]
fn fast_conv(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    x: &Tensor,
    wt: &Tensor,
    np: usize,
    b: Option<&Tensor>,
    y: &Tensor,
    acc: bool,
    ng: usize,
) -> Result<Dispatch> {
    let (xs, ys) = (per(x.shape, ng), per(y.shape, ng));
    let nx4 = if bl.nx4 == 2 && ys.w % 8 == 0 { 2 } else { 1 };
    let mut o = ov(c, bl.wg);
    o.extend([
        ("NX4", nx4 as f64),
        ("NC4", bl.nc4 as f64),
        ("ACC", flag(acc)),
        ("BIAS", flag(b.is_some())),
    ]);
    let k = gpu.kernel(FWD, &o)?;
    let mut p = params(xs.c, ys.c, xs, ys, ng);
    p.np = np as u32;
    let n = ys.w / (4 * nx4 as usize) * ys.h * (np / (4 * bl.nc4 as usize));
    gpu.dispatch(
        &k,
        &[x, wt, b.unwrap_or(x)],
        &[y],
        Some(&p),
        zg(groups(n, bl.wg), ng),
    )
}

/// `y (+)= conv(x)` with the subgroup kernel (see [`fast_sg`]) for `ng` groups of the one-group
/// conv `c`; wt from [`rearrange`] with `np` channels, a multiple of 8.
#[allow(clippy::too_many_arguments)]
fn sg_conv(
    gpu: &Gpu,
    c: &Conv2d,
    x: &Tensor,
    wt: &Tensor,
    np: usize,
    b: Option<&Tensor>,
    y: &Tensor,
    acc: bool,
    ng: usize,
) -> Result<Dispatch> {
    let (xs, ys) = (per(x.shape, ng), per(y.shape, ng));
    let sig = fwd_sg(c.k, c.stride)
        .ok_or_else(|| Error::invalid("conv2d subgroup kernel", format!("{c:?}")))?;
    let o = [
        ("WG", SG_WG as f64),
        ("PADM", padm(c)),
        ("ACC", flag(acc)),
        ("BIAS", flag(b.is_some())),
    ];
    let k = gpu.kernel(sig, &o)?;
    let mut p = params(xs.c, ys.c, xs, ys, ng);
    p.np = np as u32;
    let g = [
        sg_items(ys).div_ceil(SG_WG as usize) as u32,
        (np / SG_CO) as u32,
        ng as u32,
    ];
    gpu.dispatch(&k, &[x, wt, b.unwrap_or(x)], &[y], Some(&p), g)
}

pub(super) fn forward(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    y: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_groups(c)?;
    let (ng, gc) = (c.groups, c.group());
    let (xs, ys) = (per(x.shape, ng), per(y.shape, ng));
    if fast_sg(gpu, bl, &gc, xs, ys) {
        let np = round_up(gc.cout, SG_CO);
        let (wt, d0) = rearrange(gpu, &gc, w, false, false, np, ng)?;
        return Ok(vec![d0, sg_conv(gpu, &gc, x, &wt, np, b, y, false, ng)?]);
    }
    if fast(&gc, xs, ys) {
        let np = round_up(gc.cout, 4 * bl.nc4 as usize);
        let (wt, d0) = rearrange(gpu, &gc, w, false, false, np, ng)?;
        return Ok(vec![
            d0,
            fast_conv(gpu, bl, &gc, x, &wt, np, b, y, false, ng)?,
        ]);
    }
    let mut o = ov(c, 64);
    o.push(("BIAS", flag(b.is_some())));
    let k = gpu.kernel(FWD_S, &o)?;
    let p = params(gc.cin, gc.cout, xs, ys, ng);
    Ok(vec![gpu.dispatch(
        &k,
        &[x, w, b.unwrap_or(x)],
        &[y],
        Some(&p),
        zg(groups(ys.numel(), 64), ng),
    )?])
}
