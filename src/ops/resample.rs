//! ×2 upsampling and 2×2 pooling (`shaders/resample.wgsl`), channel-major `[C,H,W]`.
//!
//! - Upsample ×2, (C,H,W) → (C,2H,2W). Nearest: `y[Y,X] = x[Y/2, X/2]`. Bilinear is PyTorch's
//!   `F.interpolate(scale_factor=2, mode='bilinear', align_corners=False)`: per axis
//!   `s = max((Y + ½)/2 − ½, 0)`, `i0 = ⌊s⌋`, `i1 = min(i0 + 1, H − 1)`, `λ = s − i0`, and
//!   `y = (1−λy)((1−λx) x[i0,j0] + λx x[i0,j1]) + λy((1−λx) x[i1,j0] + λx x[i1,j1])`.
//!   Backward is a gather: `dx[i,j] += Σ w(Y,i) w(X,j) gy[Y,X]` over the outputs touching (i,j).
//! - Pool 2×2, stride 2, (C,H,W) → (C,⌊H/2⌋,⌊W/2⌋). Avg: the window mean; backward gy/4 to each.
//!   Max: the window max; backward routes gy to the first max in scan order (as PyTorch).
//!   A trailing odd row/column is ignored (gets no gradient).
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Shape, Tensor};

/// Upsampling interpolation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Upsample {
    #[default]
    Nearest,
    /// PyTorch `align_corners=False`.
    Bilinear,
}

/// 2×2 stride-2 pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pool {
    Avg,
    Max,
}

const WG: u32 = 256;

/// Mirror of `Params` in `resample.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub ho: u32,
    pub wo: u32,
    pub n: u32,
    pub _p: [u32; 2],
}

const P: usize = std::mem::size_of::<Params>();
pub const UP_FWD: KernelSig = sig("up_fwd", 1, 1);
pub const UP_BWD: KernelSig = sig("up_bwd", 1, 1);
pub const POOL_FWD: KernelSig = sig("pool_fwd", 1, 1);
pub const POOL_BWD: KernelSig = sig("pool_bwd", 2, 1);
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[UP_FWD, UP_BWD, POOL_FWD, POOL_BWD];

const fn sig(entry: &'static str, reads: u32, writes: u32) -> KernelSig {
    KernelSig {
        shader: Shader::Resample,
        entry,
        reads,
        writes,
        params: P,
    }
}

/// Output shape of ×2 upsampling.
pub fn upsample_shape(s: Shape) -> Shape {
    Shape::new(s.c, 2 * s.h, 2 * s.w)
}

/// Output shape of 2×2 stride-2 pooling (floor).
pub fn pool_shape(s: Shape) -> Shape {
    Shape::new(s.c, s.h / 2, s.w / 2)
}

fn check(what: &str, t: &Tensor, want: Shape) -> Result<()> {
    if t.shape != want {
        return Err(Error::shape(what, want, t.shape));
    }
    Ok(())
}

/// Builds a dispatch of `sig` with `n` invocations; `input`/`output` are the plane shapes.
fn launch(
    gpu: &Gpu,
    sig: KernelSig,
    mode: u32,
    (input, output): (Shape, Shape),
    n: usize,
    reads: &[&Tensor],
    writes: &[&Tensor],
) -> Result<Dispatch> {
    let k = gpu.kernel(sig, &[("WG", WG as f64), ("MODE", mode as f64)])?;
    let p = Params {
        c: input.c as u32,
        h: input.h as u32,
        w: input.w as u32,
        ho: output.h as u32,
        wo: output.w as u32,
        n: n as u32,
        _p: [0; 2],
    };
    gpu.dispatch(
        &k,
        reads,
        writes,
        Some(&p),
        groups_1d((n as u32).div_ceil(WG)),
    )
}

fn up_mode(m: Upsample) -> u32 {
    match m {
        Upsample::Nearest => 0,
        Upsample::Bilinear => 1,
    }
}

fn pool_mode(m: Pool) -> u32 {
    match m {
        Pool::Avg => 0,
        Pool::Max => 1,
    }
}

fn nonempty(what: &str, s: Shape, min: usize) -> Result<()> {
    if s.c == 0 || s.h < min || s.w < min {
        return Err(Error::invalid(what, format!("{s:?} is too small")));
    }
    Ok(())
}

/// `y = upsample×2(x)`; `y`: (C, 2H, 2W).
pub fn upsample_forward(gpu: &Gpu, mode: Upsample, x: &Tensor, y: &Tensor) -> Result<Dispatch> {
    let s = x.shape;
    nonempty("upsample input", s, 1)?;
    check("upsample output", y, upsample_shape(s))?;
    let io = (s, upsample_shape(s));
    launch(gpu, UP_FWD, up_mode(mode), io, y.numel(), &[x], &[y])
}

/// `dx += upsample×2ᵀ(gy)` (a gather); `gy`: (C, 2H, 2W) for `dx`: (C, H, W).
pub fn upsample_backward(gpu: &Gpu, mode: Upsample, gy: &Tensor, dx: &Tensor) -> Result<Dispatch> {
    let s = dx.shape;
    nonempty("upsample input gradient", s, 1)?;
    check("upsample upstream gradient", gy, upsample_shape(s))?;
    let io = (s, upsample_shape(s));
    launch(gpu, UP_BWD, up_mode(mode), io, dx.numel(), &[gy], &[dx])
}

/// `y = pool2×2(x)`; `y`: (C, ⌊H/2⌋, ⌊W/2⌋).
pub fn pool_forward(gpu: &Gpu, mode: Pool, x: &Tensor, y: &Tensor) -> Result<Dispatch> {
    let s = x.shape;
    nonempty("pool input", s, 2)?;
    check("pool output", y, pool_shape(s))?;
    let io = (s, pool_shape(s));
    launch(gpu, POOL_FWD, pool_mode(mode), io, y.numel(), &[x], &[y])
}

/// `dx += pool2×2ᵀ(gy)` (max: to the first max of each window); `x` is the forward input.
pub fn pool_backward(
    gpu: &Gpu,
    mode: Pool,
    x: &Tensor,
    gy: &Tensor,
    dx: &Tensor,
) -> Result<Dispatch> {
    let s = x.shape;
    nonempty("pool input", s, 2)?;
    check("pool upstream gradient", gy, pool_shape(s))?;
    check("pool input gradient", dx, s)?;
    let io = (s, pool_shape(s));
    launch(
        gpu,
        POOL_BWD,
        pool_mode(mode),
        io,
        dx.numel(),
        &[x, gy],
        &[dx],
    )
}

/// CPU reference in f64. Every function takes the *input* shape `s` = (C, H, W) of `x`/`dx`;
/// backward functions return fresh gradients (not accumulated).
pub mod reference {
    use super::{pool_shape, upsample_shape, Pool, Upsample};
    use crate::gpu::Shape;

    /// PyTorch's bilinear source taps (i0, i1, λ) of output index `d` on an axis of size `n`.
    pub fn bilinear_tap(d: usize, n: usize) -> (usize, usize, f64) {
        let s = ((d as f64 + 0.5) / 2.0 - 0.5).max(0.0);
        let i0 = s.floor() as usize;
        (i0, (i0 + 1).min(n - 1), s - i0 as f64)
    }

    /// The (input index, weight) pairs output index `d` reads along an axis of size `n`.
    fn taps(mode: Upsample, d: usize, n: usize) -> Vec<(usize, f64)> {
        match mode {
            Upsample::Nearest => vec![(d / 2, 1.0)],
            Upsample::Bilinear => {
                let (i0, i1, l) = bilinear_tap(d, n);
                vec![(i0, 1.0 - l), (i1, l)]
            }
        }
    }

    /// Calls `f(input index, output index, weight)` for every term of the upsampling sum.
    fn each_term(mode: Upsample, s: Shape, mut f: impl FnMut(usize, usize, f64)) {
        let o = upsample_shape(s);
        for c in 0..s.c {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    for (iy, wy) in taps(mode, oy, s.h) {
                        for (ix, wx) in taps(mode, ox, s.w) {
                            let i = (c * s.h + iy) * s.w + ix;
                            f(i, (c * o.h + oy) * o.w + ox, wy * wx);
                        }
                    }
                }
            }
        }
    }

    pub fn upsample_forward(mode: Upsample, x: &[f64], s: Shape) -> Vec<f64> {
        let mut y = vec![0.0; upsample_shape(s).numel()];
        each_term(mode, s, |i, o, w| y[o] += w * x[i]);
        y
    }

    /// dx of `sum(y · gy)`; `gy`: (C, 2H, 2W).
    pub fn upsample_backward(mode: Upsample, gy: &[f64], s: Shape) -> Vec<f64> {
        let mut dx = vec![0.0; s.numel()];
        each_term(mode, s, |i, o, w| dx[i] += w * gy[o]);
        dx
    }

    /// Flat input indices of pooling window `o` (scan order) for input shape `s`.
    fn window(s: Shape, o: usize) -> [usize; 4] {
        let p = pool_shape(s);
        let (c, oy, ox) = (o / p.hw(), (o / p.w) % p.h, o % p.w);
        let r0 = (c * s.h + 2 * oy) * s.w + 2 * ox;
        [r0, r0 + 1, r0 + s.w, r0 + s.w + 1]
    }

    pub fn pool_forward(mode: Pool, x: &[f64], s: Shape) -> Vec<f64> {
        (0..pool_shape(s).numel())
            .map(|o| {
                let v = window(s, o).map(|i| x[i]);
                match mode {
                    Pool::Avg => v.iter().sum::<f64>() / 4.0,
                    Pool::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect()
    }

    /// dx of `sum(y · gy)`; `gy`: (C, H/2, W/2).
    pub fn pool_backward(mode: Pool, x: &[f64], s: Shape, gy: &[f64]) -> Vec<f64> {
        let mut dx = vec![0.0; s.numel()];
        for (o, &g) in gy.iter().enumerate() {
            let win = window(s, o);
            match mode {
                Pool::Avg => win.iter().for_each(|&i| dx[i] += g / 4.0),
                Pool::Max => {
                    let mut best = win[0];
                    for &i in &win[1..] {
                        if x[i] > x[best] {
                            best = i;
                        }
                    }
                    dx[best] += g;
                }
            }
        }
        dx
    }
}
