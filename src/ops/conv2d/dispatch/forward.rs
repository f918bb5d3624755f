//! The forward dispatches of conv2d (and the forward-shaped convs of dx): the blocked and
//! subgroup kernels after the weight rearrangement, or the scalar kernel. Paths and shared
//! pieces: `mod.rs`.
use super::super::kernels::{sg_kernel, SgFamily, FORWARD, FORWARD_SCALAR, SG_OUT_CH};
use super::{
    blocked_fits, conv_overrides, padding_mode, rearrange, round_up, sg_invocations, subgroup_fits,
    wgsl_bool, Ctx, Io, Rearranged, WeightLayout, Write, SG_WG,
};
use crate::error::Result;
use crate::gpu::{Dispatch, KernelSig, Tensor};
use crate::ops::conv2d::Conv2d;

/// `io` on the blocked kernel for one group's conv `c` (as the kernel sees it).
fn blocked_conv(cx: &Ctx, c: &Conv2d, io: &Io, wt: &Rearranged) -> Result<Dispatch> {
    let (bl, np) = (cx.bl, wt.np);
    let (xs, ys) = (cx.group_shape(io.x), cx.group_shape(io.y));
    let nx4 = if bl.nx4 == 2 && ys.w % 8 == 0 { 2 } else { 1 };
    let n = ys.w / (4 * nx4 as usize) * ys.h * (np / (4 * bl.nc4 as usize));
    let wg = cx.spread_wg(n, bl.wg);
    let mut o = conv_overrides(c, wg);
    o.extend([("NX4", nx4 as f64), ("NC4", bl.nc4 as f64)]);
    o.extend(io.overrides());
    let k = cx.gpu.kernel(FORWARD, &o)?;
    let mut p = cx.params(xs.c, ys.c, xs, ys);
    p.np = np as u32;
    let reads = [io.x, &wt.wt, io.b.unwrap_or(io.x)];
    let grid = cx.group_grid(n, wg);
    cx.gpu.dispatch(&k, &reads, &[io.y], Some(&p), grid)
}

/// `io` on the subgroup kernel `sig` (laid out as `conv_forward_sg_*`) for one group's conv `c`
/// as the kernel sees it; `wt` with a multiple of 8 channels.
fn subgroup_conv(
    cx: &Ctx,
    sig: KernelSig,
    c: &Conv2d,
    io: &Io,
    wt: &Rearranged,
) -> Result<Dispatch> {
    let (xs, ys) = (cx.group_shape(io.x), cx.group_shape(io.y));
    let mut o = vec![("WG", SG_WG as f64), ("PADM", padding_mode(c))];
    o.extend(io.overrides());
    let k = cx.gpu.kernel(sig, &o)?;
    let mut p = cx.params(xs.c, ys.c, xs, ys);
    p.np = wt.np as u32;
    let grid = [
        sg_invocations(ys).div_ceil(SG_WG as usize) as u32,
        (wt.np / SG_OUT_CH) as u32,
        cx.groups as u32,
    ];
    let reads = [io.x, &wt.wt, io.b.unwrap_or(io.x)];
    cx.gpu.dispatch(&k, &reads, &[io.y], Some(&p), grid)
}

/// A blocked kernel's dispatch of `io` for the conv `c` as the kernel sees it.
pub(super) type Blocked = fn(&Ctx, &Conv2d, &Io, &Rearranged) -> Result<Dispatch>;

/// `io` as the conv `c` of the blocked shapes (one group's, as the kernels see it): the weights
/// rearranged as `layout`, then the subgroup kernel `sg` (laid out as `conv_forward_sg_*`) where
/// there is one, else `blocked`.
pub(super) fn rearranged_conv(
    cx: &Ctx,
    c: &Conv2d,
    w: &Tensor,
    layout: WeightLayout,
    io: &Io,
    sg: Option<KernelSig>,
    blocked: Blocked,
) -> Result<Vec<Dispatch>> {
    let block = if sg.is_some() {
        SG_OUT_CH
    } else {
        4 * cx.bl.nc4 as usize
    };
    let (wt, d0) = rearrange(cx, w, layout, round_up(c.cout, block))?;
    let d1 = match sg {
        Some(sig) => subgroup_conv(cx, sig, c, io, &wt)?,
        None => blocked(cx, c, io, &wt)?,
    };
    Ok(vec![d0, d1])
}

/// `io` as a forward conv `c` of the blocked shapes: the subgroup forward kernel where it fits,
/// else the blocked one.
pub(super) fn forward_kernels(
    cx: &Ctx,
    c: &Conv2d,
    w: &Tensor,
    layout: WeightLayout,
    io: &Io,
) -> Result<Vec<Dispatch>> {
    let (xs, ys) = (cx.group_shape(io.x), cx.group_shape(io.y));
    let sg = sg_kernel(SgFamily::Forward, c.k, c.stride);
    let sg = sg.filter(|_| subgroup_fits(cx, c, xs, ys));
    rearranged_conv(cx, c, w, layout, io, sg, blocked_conv)
}

/// y = conv(x) (+ b).
pub(in crate::ops::conv2d) fn forward(
    cx: &Ctx,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    y: &Tensor,
) -> Result<Vec<Dispatch>> {
    let c = &cx.c;
    let (xs, ys) = (cx.group_shape(x), cx.group_shape(y));
    if blocked_fits(c, xs, ys) {
        let io = Io {
            x,
            b,
            y,
            write: Write::Overwrite,
        };
        return forward_kernels(cx, c, w, WeightLayout::Forward, &io);
    }
    let wg = cx.spread_wg(ys.numel(), 64);
    let mut o = conv_overrides(c, wg);
    o.push(("BIAS", wgsl_bool(b.is_some())));
    let k = cx.gpu.kernel(FORWARD_SCALAR, &o)?;
    let p = cx.params(c.cin, c.cout, xs, ys);
    let grid = cx.group_grid(ys.numel(), wg);
    let d = cx
        .gpu
        .dispatch(&k, &[x, w, b.unwrap_or(x)], &[y], Some(&p), grid)?;
    Ok(vec![d])
}
