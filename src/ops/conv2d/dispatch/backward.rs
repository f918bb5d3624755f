//! The backward dispatches of conv2d: dx (`backward_input`), dw (`backward_weight`, partial sums
//! over row chunks, then `conv_sum_partials`) and db (`backward_bias`). Paths and shared pieces:
//! `mod.rs`.
use super::super::kernels::{
    sg_kernel, SgFamily, BWD_BIAS, BWD_INPUT_S2, BWD_INPUT_SCALAR, BWD_WEIGHT, BWD_WEIGHT_PAIRS,
    BWD_WEIGHT_SCALAR, PAIR_MAX_K, SG_OUT_CH, SG_OUT_ROWS, SG_OUT_X, SUM_PARTIALS,
};
use super::{
    blocked_fits, conv_overrides, forward_kernels, has_sg_lanes, linear_grid, padding_mode,
    rearranged_conv, round_up, sg_invocations, subgroup_fits, wgsl_bool, Ctx, Io, Rearranged,
    WeightLayout, Write, MAX_DIM, SG_WG,
};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Kernel, KernelSig, Shape, Tensor};
use crate::ops::conv2d::{Conv2d, Padding, Params};
use std::sync::Arc;

/// Which taps the scalar dx gather adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Taps {
    /// Every tap: the whole dx.
    All,
    /// Only the reflected out-of-image taps (`BORDER`): what the blocked kernels, which compute
    /// dx of zero padding, leave out.
    ReflectedBorder,
}

/// The scalar dx gather of the taps `taps`.
fn backward_input_scalar(
    cx: &Ctx,
    gy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
    taps: Taps,
) -> Result<Dispatch> {
    let c = &cx.c;
    let (xs, ys) = (cx.group_shape(dx), cx.group_shape(gy));
    let wg = cx.spread_wg(xs.numel(), 64);
    let mut o = conv_overrides(c, wg);
    o.push(("BORDER", wgsl_bool(taps == Taps::ReflectedBorder)));
    let k = cx.gpu.kernel(BWD_INPUT_SCALAR, &o)?;
    let p = cx.params(c.cin, c.cout, xs, ys);
    let grid = cx.group_grid(xs.numel(), wg);
    cx.gpu.dispatch(&k, &[gy, w], &[dx], Some(&p), grid)
}

/// Whether the subgroup stride-2 dx kernel covers dx of shape `xs` (the blocked path's shapes,
/// with W % 8 = 0 following from W = 2·Wo, Wo % 4 = 0); one group's conv and shape.
fn subgroup_s2_fits(cx: &Ctx, xs: Shape) -> bool {
    cx.bl.sg
        && has_sg_lanes(cx.gpu)
        && cx.c.stride == 2
        && xs.w % SG_OUT_X == 0
        && sg_invocations(xs).div_ceil(SG_WG as usize) <= MAX_DIM
        && cx.c.cin.div_ceil(SG_OUT_CH) <= MAX_DIM
}

/// dx += the stride-2 gather on the blocked kernel; wt rearranged [`WeightLayout::Transposed`].
fn blocked_s2_gather(cx: &Ctx, t: &Conv2d, io: &Io, wt: &Rearranged) -> Result<Dispatch> {
    let (c, bl) = (&cx.c, cx.bl);
    let (xs, ys) = (cx.group_shape(io.y), cx.group_shape(io.x));
    let n = xs.w / 8 * xs.h * (wt.np / (4 * bl.nc4 as usize));
    let wg = cx.spread_wg(n, bl.wg);
    let mut o = conv_overrides(t, wg);
    o.push(("NC4", bl.nc4 as f64));
    let k = cx.gpu.kernel(BWD_INPUT_S2, &o)?;
    let mut p = cx.params(c.cin, c.cout, xs, ys);
    p.np = wt.np as u32;
    let grid = cx.group_grid(n, wg);
    cx.gpu
        .dispatch(&k, &[io.x, &wt.wt], &[io.y], Some(&p), grid)
}

/// dx += the stride-2 gather: the weights rearranged, then the subgroup kernel where it fits
/// (laid out as the subgroup forward one: channels summed = cout, produced = cin), else the
/// blocked one.
fn backward_input_s2(cx: &Ctx, t: &Conv2d, w: &Tensor, io: &Io) -> Result<Vec<Dispatch>> {
    let sg = sg_kernel(SgFamily::BackwardInput, cx.c.k, cx.c.stride);
    let sg = sg.filter(|_| subgroup_s2_fits(cx, cx.group_shape(io.y)));
    let layout = WeightLayout::Transposed;
    rearranged_conv(cx, t, w, layout, io, sg, blocked_s2_gather)
}

/// dx += ∂L/∂x.
pub(in crate::ops::conv2d) fn backward_input(
    cx: &Ctx,
    gy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Dispatch>> {
    let c = &cx.c;
    let (xs, ys) = (cx.group_shape(dx), cx.group_shape(gy));
    if !blocked_fits(c, xs, ys) {
        return Ok(vec![backward_input_scalar(cx, gy, w, dx, Taps::All)?]);
    }
    // dx as a conv of gy with the same taps, zero padding (the border added below): channels
    // summed cout, produced cin.
    let t = Conv2d {
        cin: c.cout,
        cout: c.cin,
        padding: Padding::Zero,
        ..*c
    };
    let io = Io {
        x: gy,
        b: None,
        y: dx,
        write: Write::Accumulate,
    };
    let mut ds = if c.stride == 1 {
        forward_kernels(cx, &t, w, WeightLayout::TransposedFlipped, &io)?
    } else {
        backward_input_s2(cx, &t, w, &io)?
    };
    if c.padding == Padding::Reflection {
        ds.push(backward_input_scalar(cx, gy, w, dx, Taps::ReflectedBorder)?);
    }
    Ok(ds)
}

/// `out += Σ_c part[c·n + i]` for i < n, c < nch.
fn sum_partials(gpu: &Gpu, part: &Tensor, out: &Tensor, n: usize, nch: usize) -> Result<Dispatch> {
    let k = gpu.kernel(SUM_PARTIALS, &[("WG", 64.0)])?;
    let p = Params {
        n: n as u32,
        np: n as u32,
        nch: nch as u32,
        ..Default::default()
    };
    gpu.dispatch(&k, &[part], &[out], Some(&p), linear_grid(n, 64))
}

/// Chunks of `len` items for `per_chunk` invocations per chunk, aiming at `target` invocations:
/// (items per chunk, chunks).
fn chunks(len: usize, per_chunk: usize, target: usize, min_items: usize) -> (usize, usize) {
    let want = target
        .div_ceil(per_chunk.max(1))
        .clamp(1, len.div_ceil(min_items).max(1));
    let rows = len.div_ceil(want).max(1);
    (rows, len.div_ceil(rows).max(1))
}

/// A dw kernel and its grid, `p.rows` and `p.nch` (and what else it reads) set.
type WeightPass = (Arc<Kernel>, [u32; 3]);

/// The subgroup dw kernel `sig`: chunks of whole 4-row blocks; workgroups of 8 input channels ×
/// 8 output channels; z = chunk·G + group, at most [`MAX_DIM`].
fn weight_subgroup(cx: &Ctx, sig: KernelSig, p: &mut Params) -> Result<WeightPass> {
    let (c, ho) = (&cx.c, p.ho as usize);
    let (ncb, nci) = (c.cout.div_ceil(SG_OUT_CH), c.cin.div_ceil(SG_WG as usize));
    let (rows, _) = chunks(ho, c.cin * ncb, cx.bl.target, SG_OUT_ROWS);
    let rows = round_up(rows.max(ho.div_ceil(MAX_DIM / cx.groups)), SG_OUT_ROWS);
    let nch = ho.div_ceil(rows);
    (p.rows, p.nch) = (rows as u32, nch as u32);
    let o = [
        ("WG", SG_WG as f64),
        ("PADM", padding_mode(c)),
        ("ACC", wgsl_bool(nch == 1)),
    ];
    let k = cx.gpu.kernel(sig, &o)?;
    Ok((k, [nci as u32, ncb as u32, (nch * cx.groups) as u32]))
}

/// The blocked dw kernel: one (ci, block of `ncw` co, chunk of rows) per invocation.
fn weight_blocked(cx: &Ctx, p: &mut Params) -> Result<WeightPass> {
    let (c, bl) = (&cx.c, cx.bl);
    let ncb = c.cout.div_ceil(bl.ncw as usize);
    let (rows, nch) = chunks(p.ho as usize, c.cin * ncb, bl.target, 2);
    (p.rows, p.nch) = (rows as u32, nch as u32);
    let wg = cx.spread_wg(c.cin * ncb * nch, bl.wg);
    let mut o = conv_overrides(c, wg);
    o.push(("NCW", bl.ncw as f64));
    o.push(("ACC", wgsl_bool(nch == 1)));
    let k = cx.gpu.kernel(BWD_WEIGHT, &o)?;
    Ok((k, cx.group_grid(c.cin * ncb * nch, wg)))
}

/// The scalar dw kernels: one ((co, ci) pair with all its taps, chunk of rows) per invocation,
/// or for K > [`PAIR_MAX_K`] one (weight, chunk of rows).
fn weight_scalar(cx: &Ctx, p: &mut Params) -> Result<WeightPass> {
    let c = &cx.c;
    let n = c.weight_len();
    let (sig, items) = if c.k <= PAIR_MAX_K {
        (BWD_WEIGHT_PAIRS, c.cout * c.cin)
    } else {
        (BWD_WEIGHT_SCALAR, n)
    };
    let (rows, nch) = chunks(p.ho as usize, items, cx.bl.target, 8);
    (p.rows, p.nch, p.n) = (rows as u32, nch as u32, n as u32);
    let wg = cx.spread_wg(nch * items, 64);
    let mut o = conv_overrides(c, wg);
    o.push(("ACC", wgsl_bool(nch == 1)));
    let k = cx.gpu.kernel(sig, &o)?;
    Ok((k, cx.group_grid(nch * items, wg)))
}

/// dw += ∂L/∂w: partial sums over chunks of output rows, then their sum; with one chunk the
/// kernel adds its sums to dw itself (`ACC`), the same bits without the second pass.
pub(in crate::ops::conv2d) fn backward_weight(
    cx: &Ctx,
    x: &Tensor,
    gy: &Tensor,
    dw: &Tensor,
) -> Result<Vec<Dispatch>> {
    let c = &cx.c;
    let (xs, ys) = (cx.group_shape(x), cx.group_shape(gy));
    let mut p = cx.params(c.cin, c.cout, xs, ys);
    let sg =
        sg_kernel(SgFamily::BackwardWeight, c.k, c.stride).filter(|_| subgroup_fits(cx, c, xs, ys));
    let (k, grid) = match sg {
        Some(sig) => weight_subgroup(cx, sig, &mut p)?,
        None if blocked_fits(c, xs, ys) => weight_blocked(cx, &mut p)?,
        None => weight_scalar(cx, &mut p)?,
    };
    let (n, nch) = (cx.groups * c.weight_len(), p.nch as usize);
    if nch == 1 {
        return Ok(vec![cx.gpu.dispatch(
            &k,
            &[x, gy],
            &[dw],
            Some(&p),
            grid,
        )?]);
    }
    // Partials part[chunk][g][co][ci][ky][kx]: chunks of all groups' weights.
    let part = Tensor::zeros(cx.gpu, Shape::flat(nch * n))?;
    let d = cx.gpu.dispatch(&k, &[x, gy], &[&part], Some(&p), grid)?;
    Ok(vec![d, sum_partials(cx.gpu, &part, dw, n, nch)?])
}

/// db += Σ over pixels of gy: partial sums over chunks of each plane, then their sum.
/// Chunks aim at `target` invocations ([`Blocks::target`](super::Blocks::target)).
pub(in crate::ops::conv2d) fn backward_bias(
    gpu: &Gpu,
    c: &Conv2d,
    target: usize,
    gy: &Tensor,
    db: &Tensor,
) -> Result<Vec<Dispatch>> {
    // Per total channel (c.cout counts all groups' channels), chunked as one group would be.
    let hw = gy.shape.hw();
    let v4 = hw % 4 == 0;
    let len = if v4 { hw / 4 } else { hw };
    let (rows, nch) = chunks(len, c.cout_g(), target, 64);
    let k = gpu.kernel(BWD_BIAS, &[("WG", 64.0), ("V4", wgsl_bool(v4))])?;
    let p = Params {
        cout: c.cout as u32,
        ho: gy.shape.h as u32,
        wo: gy.shape.w as u32,
        rows: rows as u32,
        nch: nch as u32,
        ..Default::default()
    };
    let part = Tensor::zeros(gpu, Shape::flat(nch * c.cout))?;
    let d = gpu.dispatch(&k, &[gy], &[&part], Some(&p), linear_grid(nch * c.cout, 64))?;
    Ok(vec![d, sum_partials(gpu, &part, db, c.cout, nch)?])
}
