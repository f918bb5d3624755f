//! Channel concat with centre crop (`shaders/concat.wgsl`) — the DIP "Concat" module.
//!
//! y = concat_c(crop(a), crop(b)), shape (ca + cb, h, w) with h = min(ha, hb), w = min(wa, wb).
//! Each input is centre-cropped at offset ((H_in − h)/2, (W_in − w)/2) (integer division).
//! Backward: da[c, i + oy, j + ox] += gy[c, i, j], db likewise from channels ca.. of gy; pixels
//! outside the crop get nothing. One dispatch per input, one invocation per cropped element.
//!
//! Grouped ([`forward`] with G > 1): G concats side by side in the same dispatches — a, b and y
//! are G blocks each, and y's block g is (a's block g, b's block g).
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Shape, Tensor};

const WG: u32 = 256;

/// Mirror of `Params` in `concat.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Channels of the source (per group).
    pub c: u32,
    /// The output's plane (the crop's size).
    pub h: u32,
    pub w: u32,
    /// The source's plane.
    pub sh: u32,
    pub sw: u32,
    /// The crop's offset in the source.
    pub oy: u32,
    pub ox: u32,
    /// The source's first channel in the output.
    pub coff: u32,
    /// Invocations: elements of the crop over all groups.
    pub n: u32,
    /// Channels of the output (per group).
    pub cy: u32,
    pub _p: [u32; 2],
}

const P: usize = std::mem::size_of::<Params>();
pub const CROP_FWD: KernelSig = sig("crop_fwd");
pub const CROP_BWD: KernelSig = sig("crop_bwd");
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[CROP_FWD, CROP_BWD];

const fn sig(entry: &'static str) -> KernelSig {
    KernelSig {
        shader: Shader::Concat,
        entry,
        reads: 1,
        writes: 1,
        params: P,
    }
}

/// (ca + cb, min h, min w).
pub fn out_shape(a: Shape, b: Shape) -> Shape {
    Shape::new(a.c + b.c, a.h.min(b.h), a.w.min(b.w))
}

/// Params of the block of `src` (shape `s`) that goes to channels `coff..` of each of the `g`
/// groups of an `out` tensor.
fn params(s: Shape, out: Shape, coff: usize, g: usize) -> Params {
    Params {
        c: (s.c / g) as u32,
        h: out.h as u32,
        w: out.w as u32,
        sh: s.h as u32,
        sw: s.w as u32,
        oy: ((s.h - out.h) / 2) as u32,
        ox: ((s.w - out.w) / 2) as u32,
        coff: coff as u32,
        n: (s.c * out.hw()) as u32,
        cy: (out.c / g) as u32,
        _p: [0; 2],
    }
}

fn check(a: Shape, b: Shape, y: &Tensor, g: usize) -> Result<()> {
    if g == 0 || a.c % g != 0 || b.c % g != 0 {
        return Err(Error::invalid(
            "concat groups",
            format!("{g} groups do not divide {} and {} channels", a.c, b.c),
        ));
    }
    if a.numel() == 0 || b.numel() == 0 {
        return Err(Error::invalid(
            "concat inputs",
            format!("{a:?}, {b:?}: empty"),
        ));
    }
    if y.shape != out_shape(a, b) {
        return Err(Error::shape("concat output", out_shape(a, b), y.shape));
    }
    Ok(())
}

fn launch(gpu: &Gpu, sig: KernelSig, p: Params, r: &Tensor, w: &Tensor) -> Result<Dispatch> {
    let k = gpu.kernel(sig, &[("WG", WG as f64)])?;
    gpu.dispatch(&k, &[r], &[w], Some(&p), groups_1d(p.n.div_ceil(WG)))
}

/// `y = concat_c(crop(a), crop(b))` (two dispatches); for `g` concats side by side (a batch),
/// y's block k is (a's block k, b's block k).
pub fn forward(gpu: &Gpu, g: usize, a: &Tensor, b: &Tensor, y: &Tensor) -> Result<Vec<Dispatch>> {
    check(a.shape, b.shape, y, g)?;
    let (pa, pb) = (
        params(a.shape, y.shape, 0, g),
        params(b.shape, y.shape, a.shape.c / g, g),
    );
    Ok(vec![
        launch(gpu, CROP_FWD, pa, a, y)?,
        launch(gpu, CROP_FWD, pb, b, y)?,
    ])
}

/// The backward of [`forward`]: `da += crop⁻¹(gy[..ca])`, `db += crop⁻¹(gy[ca..])` per block
/// (two dispatches).
pub fn backward(
    gpu: &Gpu,
    g: usize,
    gy: &Tensor,
    da: &Tensor,
    db: &Tensor,
) -> Result<Vec<Dispatch>> {
    check(da.shape, db.shape, gy, g)?;
    let (pa, pb) = (
        params(da.shape, gy.shape, 0, g),
        params(db.shape, gy.shape, da.shape.c / g, g),
    );
    Ok(vec![
        launch(gpu, CROP_BWD, pa, gy, da)?,
        launch(gpu, CROP_BWD, pb, gy, db)?,
    ])
}

/// CPU reference in f64.
pub mod reference {
    use super::out_shape;
    use crate::gpu::Shape;

    /// Calls `f(index in src, index in y)` for every element of `src`'s crop.
    fn each(s: Shape, out: Shape, coff: usize, mut f: impl FnMut(usize, usize)) {
        let (oy, ox) = ((s.h - out.h) / 2, (s.w - out.w) / 2);
        for c in 0..s.c {
            for i in 0..out.h {
                for j in 0..out.w {
                    f(
                        (c * s.h + i + oy) * s.w + j + ox,
                        ((coff + c) * out.h + i) * out.w + j,
                    );
                }
            }
        }
    }

    /// y of shape [`out_shape`]`(sa, sb)`.
    pub fn forward(a: &[f64], sa: Shape, b: &[f64], sb: Shape) -> Vec<f64> {
        let o = out_shape(sa, sb);
        let mut y = vec![0.0; o.numel()];
        each(sa, o, 0, |s, t| y[t] = a[s]);
        each(sb, o, sa.c, |s, t| y[t] = b[s]);
        y
    }

    /// (da, db) of `sum(y · gy)` — fresh values, not accumulated.
    pub fn backward(gy: &[f64], sa: Shape, sb: Shape) -> (Vec<f64>, Vec<f64>) {
        let o = out_shape(sa, sb);
        let (mut da, mut db) = (vec![0.0; sa.numel()], vec![0.0; sb.numel()]);
        each(sa, o, 0, |s, t| da[s] += gy[t]);
        each(sb, o, sa.c, |s, t| db[s] += gy[t]);
        (da, db)
    }
}
