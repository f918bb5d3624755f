//! Polyphase up-convolution (`shaders/polyphase.wgsl`): "nearest ×2 upsample, then a k×k
//! stride-1 conv with zero padding" computed exactly at low resolution.
//!
//! Output row `2i + a` of the conv reads upsampled rows `2i + a + ky − p`, i.e. low-resolution rows
//! `i + ⌊(a + ky − p)/2⌋`; the same holds for columns with phase `b`. Each of the 4 output phases
//! is therefore a K'×K' conv of the low-resolution input (K' = 2⌈p/2⌉ + 1, zero padding ⌈p/2⌉)
//! whose taps are sums of the original taps. For k = 5 that is 4 · 9 = 36 instead of 4 · 25 = 100
//! multiply-adds per low-resolution pixel and channel pair (2.8× fewer), and the upsampled tensor
//! is never stored. The dispatches of one up-convolution:
//!
//! - forward:  `pp_phase_weights` (w → phase weights wp, 4·Cout × Cin × K' × K'), the ordinary
//!   conv2d kernel (x → P, 4·Cout × H × W), `pp_shuffle` (P (+ bias) → y, Cout × 2H × 2W);
//! - backward: `pp_unshuffle` (gy → gP), conv2d grad-input (gP, wp → dx) and grad-weight
//!   (x, gP → dwp), `pp_phase_weights_backward` (dwp → dw, the adjoint of `pp_phase_weights`);
//!   the bias gradient is the conv2d one on gy.
//!
//! [`forward`] and [`backward`] build those lists (the tape's rules for an up-convolution call
//! them); the single kernels are public for the tests.
//!
//! The shuffles read and write vec2/vec4 where the low-resolution width is even.
//!
//! Grouped convs ([`Conv2d::groups`], G up-convolutions side by side) run in the same
//! dispatches: the phase conv is grouped too, and group g's phase channels are
//! `(4g + 2a + b)·Cout_g + o`.
//!
//! Only zero padding is exact this way (reflection at high resolution is not a low-resolution
//! reflection); [`eligible`] says when the network builder may use it.
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Shape, Tensor};
use crate::ops::conv2d::{self, Blocks, Conv2d, Padding};

const WG: u32 = 256;

/// Mirror of `Params` in `polyphase.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub cin: u32,
    pub cout: u32,
    pub h: u32,
    pub w: u32,
    pub n: u32,
    pub _p: [u32; 3],
}

const P: usize = std::mem::size_of::<Params>();
pub const PHASE_WEIGHTS: KernelSig = sig("pp_phase_weights", 1, 1);
pub const PHASE_WEIGHTS_BACKWARD: KernelSig = sig("pp_phase_weights_backward", 1, 1);
pub const SHUFFLE: KernelSig = sig("pp_shuffle", 2, 1);
pub const UNSHUFFLE: KernelSig = sig("pp_unshuffle", 1, 1);
pub const SHUFFLE_VEC: KernelSig = sig("pp_shuffle_vec", 2, 1);
pub const UNSHUFFLE_VEC: KernelSig = sig("pp_unshuffle_vec", 1, 1);
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[
    PHASE_WEIGHTS,
    PHASE_WEIGHTS_BACKWARD,
    SHUFFLE,
    UNSHUFFLE,
    SHUFFLE_VEC,
    UNSHUFFLE_VEC,
];

const fn sig(entry: &'static str, reads: u32, writes: u32) -> KernelSig {
    KernelSig {
        shader: Shader::Polyphase,
        entry,
        reads,
        writes,
        params: P,
    }
}

/// Whether the polyphase form applies to `c` after a nearest ×2 upsample and saves work: stride
/// 1, zero padding, and k = 5 or 7 (for k = 3 the phase conv is 3×3 too: no gain; the shaders
/// hold K' ≤ 5 phase taps in registers).
pub fn eligible(c: &Conv2d) -> bool {
    c.stride == 1 && c.padding == Padding::Zero && (c.k == 5 || c.k == 7)
}

/// The low-resolution phase padding q = ⌈p/2⌉.
fn q(c: &Conv2d) -> usize {
    c.pad().div_ceil(2)
}

/// The phase conv: Cin → 4·Cout, K' = 2q + 1, stride 1, zero padding q.
pub fn phase_conv(c: &Conv2d) -> Conv2d {
    Conv2d {
        cin: c.cin,
        cout: 4 * c.cout,
        k: 2 * q(c) + 1,
        stride: 1,
        padding: Padding::Zero,
        groups: c.groups,
    }
}

/// Shape of the phase output P for a low-resolution input `x`.
pub fn phase_shape(c: &Conv2d, x: Shape) -> Shape {
    Shape::new(4 * c.cout, x.h, x.w)
}

/// The kernels' parameters: channels per group, `n` invocations over all groups.
fn params(c: &Conv2d, lo: Shape, n: usize) -> Params {
    Params {
        cin: c.cin_g() as u32,
        cout: c.cout_g() as u32,
        h: lo.h as u32,
        w: lo.w as u32,
        n: n as u32,
        _p: [0; 3],
    }
}

fn check_eligible(c: &Conv2d) -> Result<()> {
    if !eligible(c) {
        return Err(Error::invalid(
            "polyphase up-convolution",
            format!("needs stride 1, zero padding and k = 5 or 7, got {c:?}"),
        ));
    }
    Ok(())
}

fn check_len(what: &str, t: &Tensor, n: usize) -> Result<()> {
    if t.numel() != n {
        return Err(Error::shape(format!("polyphase {what}"), n, t.numel()));
    }
    Ok(())
}

/// One dispatch of `sig`: the conv's size and paddings (and whether a bias is read) are
/// pipeline overrides, `p` the uniform parameters.
fn launch(
    gpu: &Gpu,
    sig: KernelSig,
    c: &Conv2d,
    bias: Bias,
    p: Params,
    reads: &[&Tensor],
    writes: &[&Tensor],
) -> Result<Dispatch> {
    let k = gpu.kernel(
        sig,
        &[
            ("WG", WG as f64),
            ("BIAS", (bias == Bias::Add) as u32 as f64),
            ("K", c.k as f64),
            ("PD", c.pad() as f64),
            ("KL", phase_conv(c).k as f64),
            ("QD", q(c) as f64),
        ],
    )?;
    gpu.dispatch(&k, reads, writes, Some(&p), groups_1d(p.n.div_ceil(WG)))
}

/// Whether [`shuffle`] adds a bias.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bias {
    Add,
    None,
}

/// wp = phase weights of w (overwrites wp).
pub fn weights(gpu: &Gpu, c: &Conv2d, w: &Tensor, wp: &Tensor) -> Result<Dispatch> {
    check_eligible(c)?;
    check_len("weight", w, c.weight_len())?;
    check_len("phase weight", wp, phase_conv(c).weight_len())?;
    let pairs = c.cout * c.cin_g();
    let p = params(c, Shape::flat(1), pairs);
    launch(gpu, PHASE_WEIGHTS, c, Bias::None, p, &[w], &[wp])
}

/// dw += the adjoint of [`weights`] applied to dwp.
pub fn weights_backward(gpu: &Gpu, c: &Conv2d, dwp: &Tensor, dw: &Tensor) -> Result<Dispatch> {
    check_eligible(c)?;
    check_len("phase weight gradient", dwp, phase_conv(c).weight_len())?;
    check_len("weight gradient", dw, c.weight_len())?;
    let pairs = c.cout * c.cin_g();
    let p = params(c, Shape::flat(1), pairs);
    launch(gpu, PHASE_WEIGHTS_BACKWARD, c, Bias::None, p, &[dwp], &[dw])
}

/// `y[o, 2i+a, 2j+b] = P[(2a+b)·Cout + o, i, j] (+ b[o])` in every group; overwrites y.
pub fn shuffle(
    gpu: &Gpu,
    c: &Conv2d,
    p4: &Tensor,
    b: Option<&Tensor>,
    y: &Tensor,
) -> Result<Dispatch> {
    let lo = Shape::new(c.cin, p4.shape.h, p4.shape.w);
    if p4.shape != phase_shape(c, lo) {
        return Err(Error::shape(
            "polyphase phase output",
            phase_shape(c, lo),
            p4.shape,
        ));
    }
    let hi = Shape::new(c.cout, 2 * lo.h, 2 * lo.w);
    if y.shape != hi {
        return Err(Error::shape("polyphase output", hi, y.shape));
    }
    if let Some(b) = b {
        check_len("bias", b, c.cout)?;
    }
    // Without a bias the kernel never reads its bias binding: P stands in for it.
    let bias = b.unwrap_or(p4);
    // An even low-resolution width: vec2 reads, vec4 writes.
    let (sig, n) = if lo.w % 2 == 0 {
        (SHUFFLE_VEC, y.numel() / 4)
    } else {
        (SHUFFLE, y.numel())
    };
    let add = if b.is_some() { Bias::Add } else { Bias::None };
    launch(gpu, sig, c, add, params(c, lo, n), &[p4, bias], &[y])
}

/// `gP[(2a+b)·Cout + o, i, j] = gy[o, 2i+a, 2j+b]`; overwrites gP.
pub fn unshuffle(gpu: &Gpu, c: &Conv2d, gy: &Tensor, gp: &Tensor) -> Result<Dispatch> {
    let lo = Shape::new(c.cin, gp.shape.h, gp.shape.w);
    if gp.shape != phase_shape(c, lo) {
        return Err(Error::shape(
            "polyphase phase gradient",
            phase_shape(c, lo),
            gp.shape,
        ));
    }
    let hi = Shape::new(c.cout, 2 * lo.h, 2 * lo.w);
    if gy.shape != hi {
        return Err(Error::shape("polyphase output gradient", hi, gy.shape));
    }
    let (sig, n) = if lo.w % 2 == 0 {
        (UNSHUFFLE_VEC, gy.numel() / 4)
    } else {
        (UNSHUFFLE, gp.numel())
    };
    launch(gpu, sig, c, Bias::None, params(c, lo, n), &[gy], &[gp])
}

/// The buffers of one up-convolution `y = conv(upsample_nearest×2(x)) + b`.
pub struct UpConv<'a> {
    pub x: &'a Tensor,
    pub w: &'a Tensor,
    pub b: Option<&'a Tensor>,
    /// The phase weights (written by [`forward`], read by [`backward`]).
    pub wp: &'a Tensor,
    /// The phase outputs P.
    pub p: &'a Tensor,
    pub y: &'a Tensor,
}

/// The gradient buffers of an up-convolution: `gy` is read; `gp` is overwritten; `gwp`, `dx`
/// and `dw` accumulate. The bias gradient is the ordinary conv one on `gy`
/// ([`conv2d::backward_bias_with`]).
pub struct UpConvGrads<'a> {
    pub gy: &'a Tensor,
    pub gp: &'a Tensor,
    pub gwp: &'a Tensor,
    /// None where x needs no gradient (a network input).
    pub dx: Option<&'a Tensor>,
    pub dw: &'a Tensor,
}

/// The forward dispatches: phase weights, the phase conv (conv2d kernels blocked as `blocks`
/// says), the shuffle (+ bias).
pub fn forward(gpu: &Gpu, blocks: Blocks, c: &Conv2d, t: &UpConv) -> Result<Vec<Dispatch>> {
    let mut ds = vec![weights(gpu, c, t.w, t.wp)?];
    ds.extend(conv2d::forward_with(
        gpu,
        blocks,
        &phase_conv(c),
        t.x,
        t.wp,
        None,
        t.p,
    )?);
    ds.push(shuffle(gpu, c, t.p, t.b, t.y)?);
    Ok(ds)
}

/// The backward dispatches of [`forward`] but the bias: unshuffle, the phase conv's grad-input
/// and grad-weight, and the adjoint of the phase weights.
pub fn backward(
    gpu: &Gpu,
    blocks: Blocks,
    c: &Conv2d,
    t: &UpConv,
    g: &UpConvGrads,
) -> Result<Vec<Dispatch>> {
    let pc = phase_conv(c);
    let mut ds = vec![unshuffle(gpu, c, g.gy, g.gp)?];
    if let Some(dx) = g.dx {
        ds.extend(conv2d::backward_input_with(
            gpu, blocks, &pc, g.gp, t.wp, dx,
        )?);
    }
    ds.extend(conv2d::backward_weight_with(
        gpu, blocks, &pc, t.x, g.gp, g.gwp,
    )?);
    ds.push(weights_backward(gpu, c, g.gwp, g.dw)?);
    Ok(ds)
}

pub mod reference;
