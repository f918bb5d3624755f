//! The autodiff tape: ops are recorded as the network is built; [`Tape::compile`] allocates every
//! activation, gradient and parameter once and turns the ops into two dispatch lists — forward in
//! recording order, backward in reverse — that are replayed every step.
//!
//! Each op's forward and backward rules stand side by side in `tape/rules.rs`; compiling and the
//! fusions are in `tape/compile.rs`. Every backward kernel *accumulates* (`+=`) into gradient
//! buffers, so a tensor used twice (a skip branch and the deeper branch both read a level's
//! input) receives the sum by construction. Parameter gradients live in one flat
//! arena with the parameters' offsets (Adam is one dispatch over flat buffers); each activation
//! gradient has its own buffer (wgpu forbids binding one buffer read-only and read-write in a
//! dispatch). All are zeroed by buffer clears recorded before each step's pass.
//!
//! Exact shortcuts: the network input needs no gradient (so the first conv skips its
//! grad-input); a conv whose only consumer is a training-mode batch-norm gets no bias gradient —
//! BN removes any per-channel constant, so that gradient is exactly zero (the bias parameter is
//! kept: it counts, and is initialised, as in the reference); a batch-norm followed by its only
//! reader, an activation, runs fused with it ([`CompileOptions::fuse_bn_act`]).
//!
//! Batches: a tape records one network; [`CompileOptions::batch`] = G allocates G copies side by
//! side — every activation `[G·C, H, W]` (G consecutive `[C, H, W]` images), every parameter G
//! consecutive copies — and builds the same dispatch lists over them: convolutions become
//! grouped convolutions (G groups), concatenations grouped concatenations, and the per-channel
//! ops (batch-norm, activations, resampling) need nothing. G independent networks then train in
//! the dispatches of one.
use crate::error::{Error, Result};
use crate::gpu::Shape;
use crate::ops::concat;
use crate::ops::conv2d::Conv2d;
use crate::ops::elementwise::Act;
use crate::ops::polyphase;
use crate::ops::resample::{Pool, Upsample};

mod compile;
mod rules;
pub use compile::{CompileOptions, Compiled};

/// An activation (a value computed by the network).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(pub usize);

/// A trainable parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Param(pub usize);

/// How a parameter starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Uniform in [−b, b] (PyTorch's Conv2d default: b = 1/sqrt(fan_in)).
    Uniform(f32),
    /// A constant (BN: γ = 1, β = 0).
    Const(f32),
}

/// A named parameter and its place in the flat parameter arena.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    pub name: String,
    /// Flat storage shape (`dims`' product numbers).
    pub shape: Shape,
    /// The PyTorch shape: `[cout, cin/groups, k, k]` for a conv weight, `[n]` otherwise.
    pub dims: Vec<usize>,
    pub init: Init,
}

/// The vocabulary of the tape.
#[derive(Clone, Debug)]
pub enum Op {
    Conv2d {
        conv: Conv2d,
        x: Var,
        w: Param,
        b: Option<Param>,
        y: Var,
    },
    BatchNorm {
        x: Var,
        gamma: Param,
        beta: Param,
        y: Var,
        stats: Var,
    },
    Act {
        act: Act,
        x: Var,
        y: Var,
    },
    Upsample {
        mode: Upsample,
        x: Var,
        y: Var,
    },
    Pool {
        mode: Pool,
        x: Var,
        y: Var,
    },
    Concat {
        a: Var,
        b: Var,
        y: Var,
    },
    /// Nearest ×2 upsample of `x`, then `conv` (its weights and bias), in polyphase form
    /// (see [`polyphase`]): `wp` holds the phase weights and `p` the phase outputs.
    UpConv {
        conv: Conv2d,
        x: Var,
        w: Param,
        b: Option<Param>,
        wp: Var,
        p: Var,
        y: Var,
    },
}

/// The recorded graph.
#[derive(Clone, Debug, Default)]
pub struct Tape {
    pub vars: Vec<Shape>,
    needs_grad: Vec<bool>,
    /// Vars that are flat vectors (batch-norm statistics, phase weights) rather than images.
    flat: Vec<bool>,
    pub params: Vec<ParamInfo>,
    pub ops: Vec<Op>,
}

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    fn var(&mut self, shape: Shape, grad: bool) -> Var {
        self.vars.push(shape);
        self.needs_grad.push(grad);
        self.flat.push(false);
        Var(self.vars.len() - 1)
    }

    fn flat_var(&mut self, n: usize, grad: bool) -> Var {
        let v = self.var(Shape::flat(n), grad);
        self.flat[v.0] = true;
        v
    }

    /// The shape of var `v` in a batch of `g` networks: `[g·C, H, W]`, or g times as long for a
    /// flat vector.
    pub fn batch_shape(&self, v: Var, g: usize) -> Shape {
        let s = self.vars[v.0];
        if self.flat[v.0] {
            Shape::flat(g * s.numel())
        } else {
            Shape::new(g * s.c, s.h, s.w)
        }
    }

    /// A network input: no gradient flows into it.
    pub fn input(&mut self, shape: Shape) -> Var {
        self.var(shape, false)
    }

    pub fn shape(&self, v: Var) -> Shape {
        self.vars[v.0]
    }

    /// A trainable tensor of PyTorch shape `dims`, stored flat.
    pub fn param(&mut self, name: impl Into<String>, dims: &[usize], init: Init) -> Param {
        self.params.push(ParamInfo {
            name: name.into(),
            shape: Shape::flat(dims.iter().product()),
            dims: dims.to_vec(),
            init,
        });
        Param(self.params.len() - 1)
    }

    /// Total number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(|p| p.shape.numel()).sum()
    }

    /// `conv(x)` with parameters `name.weight` (and `name.bias`), PyTorch's default init.
    pub fn conv2d(&mut self, name: &str, x: Var, conv: Conv2d, bias: bool) -> Result<Var> {
        let xs = self.shape(x);
        if xs.c != conv.cin {
            return Err(Error::shape(
                format!("{name} input channels"),
                conv.cin,
                xs.c,
            ));
        }
        let ys = conv.out_shape(xs)?;
        let (w, b) = self.conv_params(name, &conv, bias);
        let y = self.var(ys, true);
        self.ops.push(Op::Conv2d { conv, x, w, b, y });
        Ok(y)
    }

    /// A conv's `name.weight` (and `name.bias`), PyTorch's default init.
    fn conv_params(&mut self, name: &str, conv: &Conv2d, bias: bool) -> (Param, Option<Param>) {
        let bound = 1.0 / ((conv.cin * conv.k * conv.k) as f32).sqrt();
        let dims = [conv.cout, conv.cin_g(), conv.k, conv.k];
        let w = self.param(format!("{name}.weight"), &dims, Init::Uniform(bound));
        let b =
            bias.then(|| self.param(format!("{name}.bias"), &[conv.cout], Init::Uniform(bound)));
        (w, b)
    }

    /// `conv(upsample_nearest×2(x))` in exact polyphase form, with the parameters
    /// [`conv2d`](Tape::conv2d) would create (same names, shapes and init); `conv` must be
    /// [`polyphase::eligible`].
    pub fn up_conv(&mut self, name: &str, x: Var, conv: Conv2d, bias: bool) -> Result<Var> {
        if !polyphase::eligible(&conv) {
            return Err(Error::invalid(
                format!("{name}: polyphase up-convolution"),
                format!("needs stride 1, zero padding and k = 5 or 7, got {conv:?}"),
            ));
        }
        let xs = self.shape(x);
        let hi = Shape::new(xs.c, 2 * xs.h, 2 * xs.w);
        let ys = conv.out_shape(hi)?; // checks the input channels too
        let (w, b) = self.conv_params(name, &conv, bias);
        let pc = polyphase::phase_conv(&conv);
        let wp = self.flat_var(pc.weight_len(), true);
        let p = self.var(polyphase::phase_shape(&conv, xs), true);
        let y = self.var(ys, true);
        self.ops.push(Op::UpConv {
            conv,
            x,
            w,
            b,
            wp,
            p,
            y,
        });
        Ok(y)
    }

    /// Training-mode batch-norm with `name.weight` (γ = 1) and `name.bias` (β = 0).
    pub fn batchnorm(&mut self, name: &str, x: Var) -> Result<Var> {
        let s = self.shape(x);
        if s.hw() < 2 {
            return Err(Error::invalid(
                "network depth",
                format!(
                    "batch-norm `{name}` would normalise a single pixel ({}×{}), which is \
                     degenerate (PyTorch refuses it too): use fewer levels or a larger image",
                    s.h, s.w
                ),
            ));
        }
        let gamma = self.param(format!("{name}.weight"), &[s.c], Init::Const(1.0));
        let beta = self.param(format!("{name}.bias"), &[s.c], Init::Const(0.0));
        let y = self.var(s, true);
        let stats = self.flat_var(2 * s.c, false);
        self.ops.push(Op::BatchNorm {
            x,
            gamma,
            beta,
            y,
            stats,
        });
        Ok(y)
    }

    /// `act(x)`; the identity records nothing.
    pub fn act(&mut self, act: Act, x: Var) -> Var {
        if act == Act::None {
            return x;
        }
        let y = self.var(self.shape(x), true);
        self.ops.push(Op::Act { act, x, y });
        y
    }

    /// ×2 upsampling.
    pub fn upsample(&mut self, mode: Upsample, x: Var) -> Var {
        let s = self.shape(x);
        let y = self.var(Shape::new(s.c, 2 * s.h, 2 * s.w), true);
        self.ops.push(Op::Upsample { mode, x, y });
        y
    }

    /// 2×2 pooling, stride 2.
    pub fn pool(&mut self, mode: Pool, x: Var) -> Var {
        let s = self.shape(x);
        let y = self.var(Shape::new(s.c, s.h / 2, s.w / 2), true);
        self.ops.push(Op::Pool { mode, x, y });
        y
    }

    /// Channel concat with centre crop.
    pub fn concat(&mut self, a: Var, b: Var) -> Var {
        let y = self.var(concat::out_shape(self.shape(a), self.shape(b)), true);
        self.ops.push(Op::Concat { a, b, y });
        y
    }
}

fn reads(op: &Op) -> Vec<Var> {
    match op {
        Op::Conv2d { x, .. }
        | Op::UpConv { x, .. }
        | Op::BatchNorm { x, .. }
        | Op::Act { x, .. }
        | Op::Upsample { x, .. }
        | Op::Pool { x, .. } => vec![*x],
        Op::Concat { a, b, .. } => vec![*a, *b],
    }
}
