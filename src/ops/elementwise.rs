//! Elementwise kernels (`shaders/elementwise.wgsl`): the activations, forward and backward.
//!
//! - `act_fwd`:  y = f(x), f one of [`Act`]
//! - `act_bwd`:  dx += gy · f'(x)      (accumulates, so fan-out sums by construction)
//!
//! f: LeakyReLU(0.2): x > 0 ? x : 0.2x; Swish: x·σ(x); ELU(α=1): x > 0 ? x : eˣ − 1;
//! Sigmoid: σ(x) = 1/(1 + e⁻ˣ); None: x.
use crate::error::{Error, Result};
use crate::gpu::{groups_1d, Dispatch, Gpu, KernelSig, Shader, Tensor};

/// An activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Act {
    /// Identity.
    None,
    /// LeakyReLU with slope [`LEAKY_SLOPE`] (the reference's default).
    #[default]
    LeakyRelu,
    /// x · sigmoid(x).
    Swish,
    /// ELU with α = 1.
    Elu,
    /// 1 / (1 + e⁻ˣ).
    Sigmoid,
}

/// The negative slope of LeakyReLU in the reference network.
pub const LEAKY_SLOPE: f32 = 0.2;
const WG: u32 = 256;

impl Act {
    fn code(self) -> f64 {
        match self {
            Act::None => 0.0,
            Act::LeakyRelu => 1.0,
            Act::Swish => 2.0,
            Act::Elu => 3.0,
            Act::Sigmoid => 4.0,
        }
    }
}

/// Mirror of `Params` in `elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n4: u32,
    pub _p: [u32; 3],
}

const P: usize = std::mem::size_of::<Params>();
pub const ACT_FWD: KernelSig = sig("act_fwd", 1, 1);
pub const ACT_BWD: KernelSig = sig("act_bwd", 3, 1);
/// Every entry point of this family.
pub const SIGS: &[KernelSig] = &[ACT_FWD, ACT_BWD];

const fn sig(entry: &'static str, reads: u32, writes: u32) -> KernelSig {
    KernelSig {
        shader: Shader::Elementwise,
        entry,
        reads,
        writes,
        params: P,
    }
}

/// The parameters and workgroup grid for `n` elements.
pub fn params(n: usize) -> (Params, [u32; 3]) {
    let n4 = n.div_ceil(4) as u32;
    (Params { n4, _p: [0; 3] }, groups_1d(n4.div_ceil(WG)))
}

fn same(what: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.numel() != b.numel() {
        return Err(Error::shape(what, a.shape, b.shape));
    }
    Ok(())
}

pub fn act_overrides(act: Act) -> [(&'static str, f64); 3] {
    [
        ("WG", WG as f64),
        ("ACT", act.code()),
        ("SLOPE", LEAKY_SLOPE as f64),
    ]
}

/// `y = f(x)`.
pub fn act_forward(gpu: &Gpu, act: Act, x: &Tensor, y: &Tensor) -> Result<Dispatch> {
    same("activation forward", x, y)?;
    let k = gpu.kernel(ACT_FWD, &act_overrides(act))?;
    let (p, g) = params(x.numel());
    gpu.dispatch(&k, &[x], &[y], Some(&p), g)
}

/// `dx += gy · f'(x)`; `y` is the forward output (sigmoid's derivative uses it).
pub fn act_backward(
    gpu: &Gpu,
    act: Act,
    x: &Tensor,
    y: &Tensor,
    gy: &Tensor,
    dx: &Tensor,
) -> Result<Dispatch> {
    same("activation backward", x, y)?;
    same("activation backward", x, gy)?;
    same("activation backward", x, dx)?;
    let k = gpu.kernel(ACT_BWD, &act_overrides(act))?;
    let (p, g) = params(x.numel());
    gpu.dispatch(&k, &[x, y, gy], &[dx], Some(&p), g)
}

/// CPU reference: the obvious formulas.
pub mod reference {
    use super::{Act, LEAKY_SLOPE};

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// f(x).
    pub fn act(a: Act, x: f64) -> f64 {
        match a {
            Act::None => x,
            Act::LeakyRelu => {
                if x > 0.0 {
                    x
                } else {
                    LEAKY_SLOPE as f64 * x
                }
            }
            Act::Swish => x * sigmoid(x),
            Act::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp() - 1.0
                }
            }
            Act::Sigmoid => sigmoid(x),
        }
    }

    /// f'(x).
    pub fn act_grad(a: Act, x: f64) -> f64 {
        match a {
            Act::None => 1.0,
            Act::LeakyRelu => {
                if x > 0.0 {
                    1.0
                } else {
                    LEAKY_SLOPE as f64
                }
            }
            Act::Swish => {
                let s = sigmoid(x);
                s + x * s * (1.0 - s)
            }
            Act::Elu => {
                if x > 0.0 {
                    1.0
                } else {
                    x.exp()
                }
            }
            Act::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
        }
    }
}
