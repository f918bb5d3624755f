//! 2-D convolution (`shaders/conv2d.wgsl`): torch.nn.Conv2d cross-correlation on one `[C,H,W]`
//! image, "same" padding p = (k−1)/2 (zero, or reflection as torch.nn.ReflectionPad2d), stride
//! 1 or 2, out = ⌊(H + 2p − k)/stride⌋ + 1.
//!
//! ```text
//! forward:         y[co,oy,ox] = b[co] + Σ_ci,ky,kx w[co,ci,ky,kx] · xp[ci, oy·s−p+ky, ox·s−p+kx]
//! backward_input:  dx += ∂L/∂x (every tap's gy·w added to the pixel the tap read)
//! backward_weight: dw[co,ci,ky,kx] += Σ_oy,ox gy[co,oy,ox] · xp[ci, oy·s−p+ky, ox·s−p+kx]
//! backward_bias:   db[co] += Σ_oy,ox gy[co,oy,ox]
//! ```
//!
//! Weights are PyTorch's `[co][ci][ky][kx]`. Each function returns the dispatches of one plan
//! step; scratch tensors (rearranged weights, partial sums) are allocated here, once, and live as
//! long as the dispatches. Fast register-blocked kernels cover rows that are whole vec4 blocks
//! (see [`Blocks`]); every other shape takes simple scalar kernels. On CPU adapters with
//! subgroups of 8 (lavapipe) forward, stride-1 grad-input and grad-weight take the subgroup
//! kernels of `conv2d_sg.wgsl` where output rows are whole blocks of 8 ([`Blocks::sg`]).
//!
//! On real GPUs ([`Blocks::GPU`]) the forward conv and the stride-1 grad-input run the textbook
//! form, `conv2d_tiled.wgsl` ([`Blocks::tiled`]): a workgroup of up to 64 invocations (8 along
//! x × 8 rows, fewer where the output is smaller) owns a tile of up to 32 x × 8 rows × 4·NC4
//! output channels. For each chunk of input channels it loads the padded input tile and the
//! chunk's weights of its channel block into workgroup memory (14 KiB, under the 16 KiB every
//! adapter offers), consecutive invocations reading consecutive addresses; then each invocation
//! accumulates 4 output x × 4·NC4 channels in registers, reading only workgroup memory. The sums
//! are the register-blocked kernel's, term for term, so the two give the same bits (tested). The
//! small register blocks (NC4 = 1, dw by 4 output channels) and reductions sized for 65 536
//! invocations keep a GPU's lanes busy. On lavapipe the tiles cost more than they save (a CPU
//! core has no faster memory to stage into: BENCHMARKS.md §14), so CPU adapters keep the
//! register-blocked and subgroup kernels. Grad-weight and the stride-2 grad-input are not tiled.
//!
//! Groups (torch.nn.Conv2d `groups` G, [`Conv2d::groups`]): every path runs all G groups in the
//! same dispatches (a third dispatch dimension, `workgroup_id.z`, is the group; the subgroup
//! grad-weight kernel's z is chunk·G + group), so G independent networks train in the dispatches
//! of one. The kernels see one group's channel counts; the path is chosen from one group's
//! shape ([`Conv2d::group`]), so a grouped conv takes the kernels its groups would alone, and G = 1
//! issues exactly the dispatches of an ungrouped conv. At most 65 535 groups.
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Shape, Tensor};
use dispatch::Ctx;

mod dispatch;
mod kernels;
pub mod reference;
#[doc(hidden)]
pub mod sg_gen;
pub use dispatch::Blocks;
pub use kernels::*;

/// Padding of the input before the convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Padding {
    /// Zeros outside the image.
    #[default]
    Zero,
    /// torch.nn.ReflectionPad2d: index −1 reads 1, index H reads H−2.
    Reflection,
}

/// A convolution layer's configuration. `cin` and `cout` count all channels; with `groups` G
/// (torch.nn.Conv2d's `groups`), input channels `g·cin/G..` only feed output channels
/// `g·cout/G..` and the weights are `[cout][cin/G][k][k]`. Batched training
/// ([`crate::tape::CompileOptions::batch`]) runs G independent networks as G groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2d {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
}

impl Conv2d {
    /// An ungrouped conv.
    pub const fn new(cin: usize, cout: usize, k: usize, stride: usize, padding: Padding) -> Conv2d {
        Conv2d {
            cin,
            cout,
            k,
            stride,
            padding,
            groups: 1,
        }
    }

    /// The same layer for `g` independent copies side by side: g times the channels and groups.
    pub fn batched(&self, g: usize) -> Conv2d {
        Conv2d {
            cin: g * self.cin,
            cout: g * self.cout,
            groups: g * self.groups,
            ..*self
        }
    }

    /// Input channels per group.
    pub fn cin_g(&self) -> usize {
        self.cin / self.groups.max(1)
    }

    /// Output channels per group.
    pub fn cout_g(&self) -> usize {
        self.cout / self.groups.max(1)
    }

    /// One group's conv (`groups` = 1).
    pub fn group(&self) -> Conv2d {
        Conv2d::new(
            self.cin_g(),
            self.cout_g(),
            self.k,
            self.stride,
            self.padding,
        )
    }

    /// The padding on each side, (k−1)/2.
    pub fn pad(&self) -> usize {
        (self.k.saturating_sub(1)) / 2
    }

    /// "same" padding (k−1)/2; out = ⌊(H + 2p − k)/stride⌋ + 1. Err for even k, stride not 1|2,
    /// channel mismatch, or reflection padding with H or W ≤ p.
    pub fn out_shape(&self, input: Shape) -> Result<Shape> {
        let bad = |why: String| Err(Error::invalid("conv2d", why));
        if self.k % 2 == 0 {
            return bad(format!(
                "kernel size {} is even (only odd sizes have same padding)",
                self.k
            ));
        }
        if self.stride != 1 && self.stride != 2 {
            return bad(format!(
                "stride {} (only 1 and 2 are supported)",
                self.stride
            ));
        }
        if self.cin == 0 || self.cout == 0 {
            return bad("zero channels".into());
        }
        if self.groups == 0 || self.cin % self.groups != 0 || self.cout % self.groups != 0 {
            return bad(format!(
                "{} groups do not divide {} input and {} output channels",
                self.groups, self.cin, self.cout
            ));
        }
        if input.c != self.cin {
            return Err(Error::shape("conv2d input channels", self.cin, input.c));
        }
        let p = self.pad();
        if input.h == 0 || input.w == 0 {
            return bad(format!("empty input {input:?}"));
        }
        if self.padding == Padding::Reflection && (input.h <= p || input.w <= p) {
            return bad(format!(
                "reflection padding {p} needs H and W > {p}, got {input:?}"
            ));
        }
        let o = |n: usize| (n + 2 * p - self.k) / self.stride + 1;
        Ok(Shape::new(self.cout, o(input.h), o(input.w)))
    }

    /// Number of weights, cout·(cin/groups)·k·k.
    pub fn weight_len(&self) -> usize {
        self.cout * self.cin_g() * self.k * self.k
    }

    fn flops(&self, out: Shape) -> f64 {
        2.0 * (self.weight_len() * out.hw()) as f64
    }
}

/// The multiply-adds ×2 of one forward pass (also of each backward pass), for GFLOP/s figures.
pub fn flops(c: &Conv2d, input: Shape) -> Result<f64> {
    Ok(c.flops(c.out_shape(input)?))
}

/// Mirror of `Params` in `conv2d.wgsl` (and `conv2d_sg.wgsl`). `cin`, `cout` and `np` are one
/// group's; `groups` is G (the kernels take the group index from `workgroup_id.z`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub cin: u32,
    pub cout: u32,
    pub h: u32,
    pub w: u32,
    pub ho: u32,
    pub wo: u32,
    pub np: u32,
    pub rows: u32,
    pub nch: u32,
    pub n: u32,
    pub groups: u32,
    pub _p: u32,
}

fn check_shape(what: &str, t: &Tensor, want: Shape) -> Result<()> {
    if t.shape != want {
        return Err(Error::shape(format!("conv2d {what}"), want, t.shape));
    }
    Ok(())
}

fn check_len(what: &str, t: &Tensor, n: usize) -> Result<()> {
    if t.numel() != n {
        return Err(Error::shape(format!("conv2d {what} length"), n, t.numel()));
    }
    Ok(())
}

/// Err unless `gy` has the output shape of an input of shape `xs` and `w` (or dw, `what`) has
/// the layer's weight count.
fn check_backward(c: &Conv2d, gy: &Tensor, xs: Shape, what: &str, w: &Tensor) -> Result<()> {
    check_shape("output gradient", gy, c.out_shape(xs)?)?;
    check_len(what, w, c.weight_len())
}

/// y = conv(x) (+ b); overwrites y.
pub fn forward(
    gpu: &Gpu,
    c: &Conv2d,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    y: &Tensor,
) -> Result<Vec<Dispatch>> {
    forward_with(gpu, Blocks::for_gpu(gpu), c, x, w, b, y)
}

/// dx += ∂L/∂x given gy = ∂L/∂y.
pub fn backward_input(
    gpu: &Gpu,
    c: &Conv2d,
    gy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Dispatch>> {
    backward_input_with(gpu, Blocks::for_gpu(gpu), c, gy, w, dx)
}

/// dw += ∂L/∂w given the input x and gy = ∂L/∂y.
pub fn backward_weight(
    gpu: &Gpu,
    c: &Conv2d,
    x: &Tensor,
    gy: &Tensor,
    dw: &Tensor,
) -> Result<Vec<Dispatch>> {
    backward_weight_with(gpu, Blocks::for_gpu(gpu), c, x, gy, dw)
}

/// db += Σ over pixels of gy.
pub fn backward_bias(gpu: &Gpu, c: &Conv2d, gy: &Tensor, db: &Tensor) -> Result<Vec<Dispatch>> {
    backward_bias_with(gpu, Blocks::for_gpu(gpu), c, gy, db)
}

/// [`forward`] with explicit blocks (tuning, and tests of the other adapter kind's blocking).
pub fn forward_with(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    y: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_shape("output", y, c.out_shape(x.shape)?)?;
    check_len("weight", w, c.weight_len())?;
    if let Some(b) = b {
        check_len("bias", b, c.cout)?;
    }
    dispatch::forward(&Ctx::new(gpu, bl, c)?, x, w, b, y)
}

/// [`backward_input`] with explicit blocks.
pub fn backward_input_with(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    gy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_backward(c, gy, dx.shape, "weight", w)?;
    dispatch::backward_input(&Ctx::new(gpu, bl, c)?, gy, w, dx)
}

/// [`backward_weight`] with explicit blocks.
pub fn backward_weight_with(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    x: &Tensor,
    gy: &Tensor,
    dw: &Tensor,
) -> Result<Vec<Dispatch>> {
    check_backward(c, gy, x.shape, "weight gradient", dw)?;
    dispatch::backward_weight(&Ctx::new(gpu, bl, c)?, x, gy, dw)
}

/// [`backward_bias`] with explicit blocks.
pub fn backward_bias_with(
    gpu: &Gpu,
    bl: Blocks,
    c: &Conv2d,
    gy: &Tensor,
    db: &Tensor,
) -> Result<Vec<Dispatch>> {
    if gy.shape.c != c.cout {
        return Err(Error::shape(
            "conv2d output gradient channels",
            c.cout,
            gy.shape.c,
        ));
    }
    check_len("bias gradient", db, c.cout)?;
    dispatch::backward_bias(gpu, c, bl.checked()?.target, gy, db)
}
