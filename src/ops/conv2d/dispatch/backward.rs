//! The backward dispatches of conv2d: dx (`backward_input`), dw (`backward_weight`, partial sums
//! over row chunks, then `cv_sum`) and db (`backward_bias`). Paths and helpers: `plan.rs`.
use super::super::{
    bin2_sg, bw_sg, groups, Conv2d, Padding, Params, BB, BIN2, BIN_S, BW, BW_S, SUM,
};
use super::{
    bin2_sg_ok, check_groups, fast, fast_conv, fast_sg, flag, ov, padm, params, per, rearrange,
    round_up, sg_conv, sg_items, zg, Blocks, MAX_DIM, SG_CO, SG_PY, SG_WG,
};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Shape, Tensor};

/// The scalar dx gather: everything, or with `border` only the reflected out-of-image taps; `ng`
/// groups of the one-group conv `c`.
fn bin_simple(
    gpu: &Gpu,
    c: &Conv2d,
    gy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
    border: bool,
    ng: usize,
) -> Result<Dispatch> {
    let mut o = ov(c, 64);
    o.push(("BORDER", flag(border)));
    let k = gpu.kernel(BIN_S, &o)?;
    let (xs, ys) = (per(dx.shape, ng), per(gy.shape, ng));
    let p = params(c.cin, c.cout, xs, ys, ng);
    let g = zg(groups(xs.numel(), 64), ng);
    gpu.dispatch(&k, &[gy, w], &[dx], Some(&p), g)
}

pub(in crate::ops::conv2d) fn backward_input(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    gy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_groups(c)?;
    let (ng, gc) = (c.groups, c.group());
    let c = &gc; // from here on one group's conv; every dispatch covers the ng groups
    let (xs, ys) = (per(dx.shape, ng), per(gy.shape, ng));
    if !fast(c, xs, ys) {
        return Ok(vec![bin_simple(gpu, c, gy, w, dx, false, ng)?]);
    }
    let np = round_up(c.cin, 4 * bl.nc4 as usize);
    let zero = Conv2d {
        padding: Padding::Zero,
        ..*c
    };
    let mut ds = Vec::new();
    if c.stride == 1 {
        // dx = conv(gy, flipped transposed w) with the same padding, zero semantics.
        let t = Conv2d {
            cin: c.cout,
            cout: c.cin,
            ..zero
        };
        if fast_sg(gpu, bl, &t, ys, xs) {
            let np = round_up(c.cin, SG_CO);
            let (wt, d0) = rearrange(gpu, c, w, true, true, np, ng)?;
            ds.push(d0);
            ds.push(sg_conv(gpu, &t, gy, &wt, np, None, dx, true, ng)?);
        } else {
            let (wt, d0) = rearrange(gpu, c, w, true, true, np, ng)?;
            ds.push(d0);
            ds.push(fast_conv(gpu, bl, &t, gy, &wt, np, None, dx, true, ng)?);
        }
    } else if let Some(sig) = bin2_sg(c.k).filter(|_| bin2_sg_ok(gpu, bl, c, xs)) {
        // The gather as cv_fwd_sg lays it out: channels summed = cout, produced = cin.
        let np = round_up(c.cin, SG_CO);
        let (wt, d0) = rearrange(gpu, c, w, true, false, np, ng)?;
        let o = [
            ("WG", SG_WG as f64),
            ("PADM", 0.0),
            ("ACC", 1.0),
            ("BIAS", 0.0),
        ];
        let k = gpu.kernel(sig, &o)?;
        let mut p = params(c.cout, c.cin, ys, xs, ng);
        p.np = np as u32;
        let g = [
            sg_items(xs).div_ceil(SG_WG as usize) as u32,
            (np / SG_CO) as u32,
            ng as u32,
        ];
        ds.push(d0);
        ds.push(gpu.dispatch(&k, &[gy, &wt, gy], &[dx], Some(&p), g)?);
    } else {
        let (wt, d0) = rearrange(gpu, c, w, true, false, np, ng)?;
        let mut o = ov(&zero, bl.wg);
        o.push(("NC4", bl.nc4 as f64));
        let k = gpu.kernel(BIN2, &o)?;
        let mut p = params(c.cin, c.cout, xs, ys, ng);
        p.np = np as u32;
        let n = xs.w / 8 * xs.h * (np / (4 * bl.nc4 as usize));
        let g = zg(groups(n, bl.wg), ng);
        ds.push(d0);
        ds.push(gpu.dispatch(&k, &[gy, &wt], &[dx], Some(&p), g)?);
    }
    if c.padding == Padding::Reflection {
        ds.push(bin_simple(gpu, c, gy, w, dx, true, ng)?);
    }
    Ok(ds)
}

/// `out += Σ_c part[c·stride + i]` for i < n.
fn sum(
    gpu: &Gpu,
    part: &Tensor,
    out: &Tensor,
    n: usize,
    stride: usize,
    nch: usize,
) -> Result<Dispatch> {
    let k = gpu.kernel(SUM, &[("WG", 64.0)])?;
    let p = Params {
        n: n as u32,
        np: stride as u32,
        nch: nch as u32,
        ..Default::default()
    };
    gpu.dispatch(&k, &[part], &[out], Some(&p), groups(n, 64))
}

/// Chunks of `len` items for `per` invocations per chunk, aiming at `target` invocations:
/// (items per chunk, chunks).
fn chunks(len: usize, per: usize, target: usize, min_items: usize) -> (usize, usize) {
    let want = target
        .div_ceil(per.max(1))
        .clamp(1, len.div_ceil(min_items).max(1));
    let rows = len.div_ceil(want).max(1);
    (rows, len.div_ceil(rows).max(1))
}

pub(in crate::ops::conv2d) fn backward_weight(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    x: &Tensor,
    gy: &Tensor,
    dw: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_groups(c)?;
    // Partials part[chunk][g][co][ci][ky][kx]: chunks of all G·wlg weights, summed by cv_sum.
    let wl = c.weight_len();
    let (ng, gc) = (c.groups, c.group());
    let c = &gc; // from here on one group's conv; every dispatch covers the ng groups
    let wlg = c.weight_len();
    let (xs, ys) = (per(x.shape, ng), per(gy.shape, ng));
    let mut p = params(c.cin, c.cout, xs, ys, ng);
    let sg = bw_sg(c.k, c.stride).filter(|_| fast_sg(gpu, bl, c, xs, ys));
    let (d, nch) = if let Some(sig) = sg {
        // Chunks of whole 4-row blocks; workgroups of 8 input channels × 8 output channels;
        // z = chunk·G + group, at most MAX_DIM.
        let (ncb, nci) = (c.cout.div_ceil(SG_CO), c.cin.div_ceil(SG_WG as usize));
        let (rows, _) = chunks(ys.h, c.cin * ncb, bl.target, SG_PY);
        let rows = round_up(rows.max(ys.h.div_ceil(MAX_DIM / ng)), SG_PY);
        let nch = ys.h.div_ceil(rows);
        (p.rows, p.nch) = (rows as u32, nch as u32);
        let k = gpu.kernel(sig, &[("WG", SG_WG as f64), ("PADM", padm(c))])?;
        let part = Tensor::zeros(gpu, Shape::flat(nch * wl))?;
        let g = [nci as u32, ncb as u32, (nch * ng) as u32];
        (
            gpu.dispatch(&k, &[x, gy], &[&part], Some(&p), g)?,
            (part, nch),
        )
    } else if fast(c, xs, ys) {
        let ncb = c.cout.div_ceil(bl.ncw as usize);
        let (rows, nch) = chunks(ys.h, c.cin * ncb, bl.target, 2);
        (p.rows, p.nch) = (rows as u32, nch as u32);
        let mut o = ov(c, bl.wg);
        o.push(("NCW", bl.ncw as f64));
        let k = gpu.kernel(BW, &o)?;
        let part = Tensor::zeros(gpu, Shape::flat(nch * wl))?;
        let g = zg(groups(c.cin * ncb * nch, bl.wg), ng);
        (
            gpu.dispatch(&k, &[x, gy], &[&part], Some(&p), g)?,
            (part, nch),
        )
    } else {
        let (rows, nch) = chunks(ys.h, wlg, bl.target, 8);
        (p.rows, p.nch, p.n) = (rows as u32, nch as u32, wlg as u32);
        let k = gpu.kernel(BW_S, &ov(c, 64))?;
        let part = Tensor::zeros(gpu, Shape::flat(nch * wl))?;
        let g = zg(groups(nch * wlg, 64), ng);
        (
            gpu.dispatch(&k, &[x, gy], &[&part], Some(&p), g)?,
            (part, nch),
        )
    };
    let (part, nch) = nch;
    Ok(vec![d, sum(gpu, &part, dw, wl, wl, nch)?])
}

pub(in crate::ops::conv2d) fn backward_bias(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    gy: &Tensor,
    db: &Tensor,
) -> Result<Vec<Dispatch>> {
    // Per total channel (c.cout counts all groups' channels), chunked as one group would be.
    let hw = gy.shape.hw();
    let v4 = hw % 4 == 0;
    let len = if v4 { hw / 4 } else { hw };
    let (rows, nch) = chunks(len, c.cout_g(), bl.target, 64);
    let k = gpu.kernel(BB, &[("WG", 64.0), ("V4", flag(v4))])?;
    let p = Params {
        cout: c.cout as u32,
        ho: gy.shape.h as u32,
        wo: gy.shape.w as u32,
        rows: rows as u32,
        nch: nch as u32,
        ..Default::default()
    };
    let part = Tensor::zeros(gpu, Shape::flat(nch * c.cout))?;
    let d = gpu.dispatch(&k, &[gy], &[&part], Some(&p), groups(nch * c.cout, 64))?;
    Ok(vec![d, sum(gpu, &part, db, c.cout, c.cout, nch)?])
}
