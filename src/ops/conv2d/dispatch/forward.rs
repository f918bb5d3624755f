//! The forward dispatches of conv2d (and the forward-shaped convs of dx): the blocked and
//! subgroup kernels after the weight rearrangement, or the scalar kernel. Paths and shared
//! pieces: `mod.rs`.
use super::super::kernels::{
    sg_kernel, SgFamily, FORWARD, FORWARD_SCALAR, FORWARD_TILED, SG_OUT_CH,
};
use super::{
    blocked_fits, conv_overrides, padding_mode, rearrange, round_up, sg_invocations, subgroup_fits,
    wgsl_bool, Ctx, Io, Rearranged, WeightLayout, Write, MAX_DIM, SG_WG,
};
use crate::error::Result;
use crate::gpu::{Dispatch, KernelSig, Shape, Tensor};
use crate::ops::conv2d::Conv2d;

/// Floats of `conv2d_tiled.wgsl`'s input tile (`XT_N`) and vec4s of its weight tile (`WT_N`).
const TILE_X_FLOATS: usize = 2560;
const TILE_W_VEC4S: usize = 256;

/// The tiled kernel's geometry for one group's conv (see [`tiled_geometry`]).
#[derive(Clone, Copy, Debug, PartialEq)]
struct TiledGeometry {
    /// Invocations along x (`TX`), each computing 4 output x.
    tx: u32,
    /// Invocations in all (`WG` = TX·TY rows).
    wg: u32,
    /// Input channels per workgroup-memory tile (`CIT`).
    cit: u32,
    /// Output tiles of one group's plane (the dispatch's first dimension).
    tiles: u32,
}

/// The tiled kernel's geometry for one group's conv `c` (as the kernel sees it) writing `ys`;
/// None where not one channel's tile fits workgroup memory or the tiles do not fit a dispatch
/// dimension. Tiles are at most 32 x × 8 rows (64 invocations), no larger than the output
/// needs.
fn tiled_geometry(c: &Conv2d, nc4: usize, ys: Shape) -> Option<TiledGeometry> {
    let tx = (ys.w / 4).next_power_of_two().min(8);
    let ty = ys.h.next_power_of_two().min(64 / tx);
    let iw = (4 * tx - 1) * c.stride + c.k;
    let ih = (ty - 1) * c.stride + c.k;
    let cit = (TILE_X_FLOATS / (iw * ih))
        .min(TILE_W_VEC4S / (c.k * c.k * nc4))
        .min(c.cin);
    let tiles = ys.w.div_ceil(4 * tx) * ys.h.div_ceil(ty);
    (cit > 0 && tiles <= MAX_DIM).then_some(TiledGeometry {
        tx: tx as u32,
        wg: (tx * ty) as u32,
        cit: cit as u32,
        tiles: tiles as u32,
    })
}

/// `io` on the tiled kernel (workgroup-memory tiles, [`Blocks::tiled`](super::Blocks::tiled))
/// for one group's conv `c` (as the kernel sees it), if its tiles fit.
fn tiled_conv(cx: &Ctx, c: &Conv2d, io: &Io, wt: &Rearranged) -> Result<Option<Dispatch>> {
    let nc4 = cx.bl.nc4 as usize;
    let (xs, ys) = (cx.group_shape(io.x), cx.group_shape(io.y));
    let Some(g) = tiled_geometry(c, nc4, ys) else {
        return Ok(None);
    };
    let mut o = conv_overrides(c, g.wg);
    o.extend([
        ("TX", g.tx as f64),
        ("NC4", nc4 as f64),
        ("CIT", g.cit as f64),
    ]);
    o.extend(io.overrides());
    let k = cx.gpu.kernel(FORWARD_TILED, &o)?;
    let mut p = cx.params(xs.c, ys.c, xs, ys);
    p.np = wt.np as u32;
    let grid = [g.tiles, (wt.np / (4 * nc4)) as u32, cx.groups as u32];
    let reads = [io.x, &wt.wt, io.b.unwrap_or(io.x)];
    Ok(Some(cx.gpu.dispatch(
        &k,
        &reads,
        &[io.y],
        Some(&p),
        grid,
    )?))
}

/// `io` on the blocked kernel for one group's conv `c` (as the kernel sees it): the tiled form
/// where the blocks ask for it and its tiles fit, else the register-blocked one.
fn blocked_conv(cx: &Ctx, c: &Conv2d, io: &Io, wt: &Rearranged) -> Result<Dispatch> {
    if cx.bl.tiled {
        if let Some(d) = tiled_conv(cx, c, io, wt)? {
            return Ok(d);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{TILE_W_VEC4S, TILE_X_FLOATS};
    use crate::gpu::Shader;

    /// The value of `const NAME: u32 = …u;` in `src`.
    fn wgsl_const(src: &str, name: &str) -> usize {
        let line = src
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("const {name}:")))
            .unwrap_or_else(|| panic!("no const {name} in the shader"));
        let value = line.split('=').nth(1).and_then(|v| v.split(';').next());
        let value = value.map(|v| v.trim().trim_end_matches('u'));
        value
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("cannot read {name} from {line:?}"))
    }

    /// The Rust side sizes the tiles by the shader's workgroup arrays: the two must agree.
    #[test]
    fn tile_sizes_are_the_shaders() {
        let src = Shader::Conv2dTiled.source();
        assert_eq!(wgsl_const(src, "XT_N"), TILE_X_FLOATS);
        assert_eq!(wgsl_const(src, "WT_N"), TILE_W_VEC4S);
    }
}
