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
//! - forward:  `pp_wt` (w → phase weights wp, 4·Cout × Cin × K' × K'), the ordinary conv2d
//!   kernel (x → P, 4·Cout × H × W), `pp_shuf` (P (+ bias) → y, Cout × 2H × 2W);
//! - backward: `pp_unshuf` (gy → gP), conv2d grad-input (gP, wp → dx) and grad-weight
//!   (x, gP → dwp), `pp_gw` (dwp → dw, the adjoint of `pp_wt`); the bias gradient is the conv2d
//!   one on gy.
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
use crate::ops::conv2d::{Conv2d, Padding};

const WG: u32 = 256;

/// Mirror of `Params` in `polyphase.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub cin: u32,
    pub cout: u32,
    pub k: u32,
    pub p: u32,
    pub kl: u32,
    pub q: u32,
    pub h: u32,
    pub w: u32,
    pub n: u32,
    pub _p: [u32; 3],
}

const P: usize = std::mem::size_of::<Params>();
pub const WT: KernelSig = sig("pp_wt", 1, 1);
pub const GW: KernelSig = sig("pp_gw", 1, 1);
pub const SHUF: KernelSig = sig("pp_shuf", 2, 1);
pub const UNSHUF: KernelSig = sig("pp_unshuf", 1, 1);
pub const SHUF_V: KernelSig = sig("pp_shuf_v", 2, 1);
pub const UNSHUF_V: KernelSig = sig("pp_unshuf_v", 1, 1);
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[WT, GW, SHUF, UNSHUF, SHUF_V, UNSHUF_V];

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
        k: c.k as u32,
        p: c.pad() as u32,
        kl: phase_conv(c).k as u32,
        q: q(c) as u32,
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

fn launch(
    gpu: &Gpu,
    sig: KernelSig,
    bias: bool,
    p: Params,
    reads: &[&Tensor],
    writes: &[&Tensor],
) -> Result<Dispatch> {
    let k = gpu.kernel(
        sig,
        &[
            ("WG", WG as f64),
            ("BIAS", bias as u32 as f64),
            ("K", p.k as f64),
            ("PD", p.p as f64),
            ("KL", p.kl as f64),
            ("QD", p.q as f64),
        ],
    )?;
    gpu.dispatch(&k, reads, writes, Some(&p), groups_1d(p.n.div_ceil(WG)))
}

/// wp = phase weights of w (overwrites wp).
pub fn weights(gpu: &Gpu, c: &Conv2d, w: &Tensor, wp: &Tensor) -> Result<Dispatch> {
    check_eligible(c)?;
    check_len("weight", w, c.weight_len())?;
    check_len("phase weight", wp, phase_conv(c).weight_len())?;
    let pairs = c.cout * c.cin_g();
    launch(
        gpu,
        WT,
        false,
        params(c, Shape::flat(1), pairs),
        &[w],
        &[wp],
    )
}

/// dw += the adjoint of [`weights`] applied to dwp.
pub fn weights_backward(gpu: &Gpu, c: &Conv2d, dwp: &Tensor, dw: &Tensor) -> Result<Dispatch> {
    check_eligible(c)?;
    check_len("phase weight gradient", dwp, phase_conv(c).weight_len())?;
    check_len("weight gradient", dw, c.weight_len())?;
    let pairs = c.cout * c.cin_g();
    launch(
        gpu,
        GW,
        false,
        params(c, Shape::flat(1), pairs),
        &[dwp],
        &[dw],
    )
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
        (SHUF_V, y.numel() / 4)
    } else {
        (SHUF, y.numel())
    };
    launch(gpu, sig, b.is_some(), params(c, lo, n), &[p4, bias], &[y])
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
        (UNSHUF_V, gy.numel() / 4)
    } else {
        (UNSHUF, gp.numel())
    };
    launch(gpu, sig, false, params(c, lo, n), &[gy], &[gp])
}

/// CPU reference in f64, written from the definition (phase tap sums, index shuffles) so that
/// tests can set it against the plain path (upsample, then conv) on one side and the GPU on
/// the other.
pub mod reference {
    use super::{phase_conv, q, Conv2d};
    use crate::gpu::Shape;
    use crate::ops::conv2d::reference as conv;

    /// Phase tap of original tap `kk` for phase `a`.
    fn ptap(c: &Conv2d, a: usize, kk: usize) -> usize {
        (a + kk + 2 * q(c) - c.pad()) / 2
    }

    /// Applies `f` to each group's slice of `v` (`n` values per group) and concatenates.
    fn per_group(c: &Conv2d, v: &[f64], f: impl Fn(&Conv2d, &[f64]) -> Vec<f64>) -> Vec<f64> {
        let n = v.len() / c.groups;
        let gc = c.group();
        (0..c.groups)
            .flat_map(|g| f(&gc, &v[g * n..(g + 1) * n]))
            .collect()
    }

    /// Phase weights wp[(2a+b)·Cout + o, c, ty, tx] (per group).
    pub fn weights(c: &Conv2d, w: &[f64]) -> Vec<f64> {
        if c.groups > 1 {
            return per_group(c, w, weights);
        }
        let pc = phase_conv(c);
        let (k, kl) = (c.k, pc.k);
        let mut wp = vec![0.0; pc.weight_len()];
        for ph in 0..4 {
            for o in 0..c.cout {
                for ci in 0..c.cin {
                    for ky in 0..k {
                        for kx in 0..k {
                            let (ty, tx) = (ptap(c, ph / 2, ky), ptap(c, ph % 2, kx));
                            let dst = (((ph * c.cout + o) * c.cin + ci) * kl + ty) * kl + tx;
                            wp[dst] += w[((o * c.cin + ci) * k + ky) * k + kx];
                        }
                    }
                }
            }
        }
        wp
    }

    /// The adjoint of [`weights`]: dw from dwp.
    pub fn weights_backward(c: &Conv2d, dwp: &[f64]) -> Vec<f64> {
        if c.groups > 1 {
            return per_group(c, dwp, weights_backward);
        }
        let kl = phase_conv(c).k;
        let k = c.k;
        let mut dw = vec![0.0; c.weight_len()];
        for (i, v) in dw.iter_mut().enumerate() {
            let (kx, ky) = (i % k, (i / k) % k);
            let (ci, o) = ((i / (k * k)) % c.cin, i / (k * k * c.cin));
            for ph in 0..4 {
                let (ty, tx) = (ptap(c, ph / 2, ky), ptap(c, ph % 2, kx));
                *v += dwp[(((ph * c.cout + o) * c.cin + ci) * kl + ty) * kl + tx];
            }
        }
        dw
    }

    /// y (Cout, 2H, 2W) from P (4·Cout, H, W).
    pub fn shuffle(cout: usize, lo: Shape, p4: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        let (h, w) = (lo.h, lo.w);
        let mut y = vec![0.0; cout * 4 * h * w];
        for o in 0..cout {
            for yy in 0..2 * h {
                for xx in 0..2 * w {
                    let ph = (yy % 2) * 2 + xx % 2;
                    let v = p4[((ph * cout + o) * h + yy / 2) * w + xx / 2];
                    y[(o * 2 * h + yy) * 2 * w + xx] = v + b.map_or(0.0, |b| b[o]);
                }
            }
        }
        y
    }

    /// gP (4·Cout, H, W) from gy (Cout, 2H, 2W).
    pub fn unshuffle(cout: usize, lo: Shape, gy: &[f64]) -> Vec<f64> {
        let (h, w) = (lo.h, lo.w);
        let mut gp = vec![0.0; 4 * cout * h * w];
        for o in 0..cout {
            for yy in 0..2 * h {
                for xx in 0..2 * w {
                    let ph = (yy % 2) * 2 + xx % 2;
                    gp[((ph * cout + o) * h + yy / 2) * w + xx / 2] =
                        gy[(o * 2 * h + yy) * 2 * w + xx];
                }
            }
        }
        gp
    }

    /// y = conv(upsample_nearest(x)) + b, the polyphase way; `xs` is the low-resolution shape.
    pub fn forward(c: &Conv2d, x: &[f64], xs: Shape, w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        if c.groups > 1 {
            return conv::per_group_forward(c, x, xs, w, b, forward);
        }
        let p4 = conv::forward(&phase_conv(c), x, xs, &weights(c, w), None);
        shuffle(c.cout, xs, &p4, b)
    }

    /// (dx, dw, db) of L = Σ y·gy, the polyphase way.
    pub fn backward(
        c: &Conv2d,
        x: &[f64],
        xs: Shape,
        w: &[f64],
        gy: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        if c.groups > 1 {
            return conv::per_group_backward(c, x, xs, w, gy, backward);
        }
        let gp = unshuffle(c.cout, xs, gy);
        let (dx, dwp, _) = conv::backward(&phase_conv(c), x, xs, &weights(c, w), &gp);
        let hw = 4 * xs.hw();
        let db = (0..c.cout)
            .map(|o| gy[o * hw..(o + 1) * hw].iter().sum())
            .collect();
        (dx, weights_backward(c, &dwp), db)
    }
}
