//! The autodiff tape: ops are recorded as the network is built; [`Tape::compile`] allocates every
//! activation, gradient and parameter once and turns the ops into two dispatch lists — forward in
//! recording order, backward in reverse — that are replayed every step.
//!
//! Backward rules are one `match` over [`Op`] in [`Tape::backward_op`]. Every backward kernel
//! *accumulates* (`+=`) into gradient buffers, so a tensor used twice (a skip branch and the deeper
//! branch both read a level's input) receives the sum by construction. Gradients of activations
//! live in one arena and those of parameters in another (with the same offsets as the parameter
//! arena, so Adam is one dispatch over flat buffers): one fill each zeroes them.
//!
//! Two exact shortcuts: the network input needs no gradient (so the first conv skips its
//! grad-input), and a conv whose only consumer is a training-mode batch-norm gets no bias
//! gradient — BN removes any per-channel constant, so that gradient is exactly zero. The bias
//! parameter is kept (it counts, and is initialised) as in the reference.
use crate::error::{Error, Result};
use crate::gpu::{Arena, Dispatch, Gpu, Shape, Tensor};
use crate::ops::batchnorm;
use crate::ops::concat;
use crate::ops::conv2d::{self, Conv2d};
use crate::ops::elementwise::{self as ew, Act};
use crate::ops::polyphase;
use crate::ops::resample::{self, Pool, Upsample};

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
    pub shape: Shape,
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
        Var(self.vars.len() - 1)
    }

    /// A network input: no gradient flows into it.
    pub fn input(&mut self, shape: Shape) -> Var {
        self.var(shape, false)
    }

    pub fn shape(&self, v: Var) -> Shape {
        self.vars[v.0]
    }

    pub fn param(&mut self, name: impl Into<String>, shape: Shape, init: Init) -> Param {
        self.params.push(ParamInfo {
            name: name.into(),
            shape,
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
        let w = self.param(
            format!("{name}.weight"),
            Shape::flat(conv.weight_len()),
            Init::Uniform(bound),
        );
        let b = bias.then(|| {
            self.param(
                format!("{name}.bias"),
                Shape::flat(conv.cout),
                Init::Uniform(bound),
            )
        });
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
        if xs.c != conv.cin {
            return Err(Error::shape(
                format!("{name} input channels"),
                conv.cin,
                xs.c,
            ));
        }
        let hi = Shape::new(xs.c, 2 * xs.h, 2 * xs.w);
        let ys = conv.out_shape(hi)?;
        let (w, b) = self.conv_params(name, &conv, bias);
        let pc = polyphase::phase_conv(&conv);
        let wp = self.var(Shape::flat(pc.weight_len()), true);
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
        let c = Shape::flat(s.c);
        let gamma = self.param(format!("{name}.weight"), c, Init::Const(1.0));
        let beta = self.param(format!("{name}.bias"), c, Init::Const(0.0));
        let y = self.var(s, true);
        let stats = self.var(Shape::flat(2 * s.c), false);
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

    /// True when the conv output `y` is read by exactly one op and that op is a batch-norm.
    fn only_feeds_batchnorm(&self, y: Var) -> bool {
        let mut readers = self.ops.iter().filter(|op| reads(op).contains(&y));
        matches!(
            (readers.next(), readers.next()),
            (Some(Op::BatchNorm { .. }), None)
        )
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

/// A compiled tape: every buffer allocated, forward and backward dispatch lists built.
pub struct Compiled {
    pub values: Vec<Tensor>,
    pub grads: Vec<Option<Tensor>>,
    pub params: Arena,
    pub param_grads: Arena,
    pub param_views: Vec<Tensor>,
    pub grad_views: Vec<Tensor>,
    pub forward: Vec<Dispatch>,
    pub backward: Vec<Dispatch>,
}

impl Compiled {
    /// Records the zeroing of every gradient (parameters and activations) into `enc`: buffer
    /// clears, not dispatches, recorded before the step's compute pass.
    pub fn record_zero_grads(&self, enc: &mut wgpu::CommandEncoder) {
        let all = self.param_grads.all();
        for t in self.grads.iter().flatten().chain([&all]) {
            let (buf, offset) = t.raw();
            enc.clear_buffer(buf, offset, Some(t.bytes()));
        }
    }
}

impl Tape {
    /// Allocates everything and builds the dispatch lists, fusing each batch-norm with the
    /// activation that follows it where that is possible (see [`Tape::compile_with`]).
    pub fn compile(&self, gpu: &Gpu) -> Result<Compiled> {
        self.compile_with(gpu, true)
    }

    /// [`Tape::compile`]; with `fuse`, a batch-norm whose output only feeds the activation
    /// recorded right after it (H·W a multiple of 4) runs as one fused forward pass and one fused
    /// backward ([`batchnorm::forward_act`], [`batchnorm::backward_act`]): the same numbers,
    /// two dispatches and two passes over the tensor fewer.
    pub fn compile_with(&self, gpu: &Gpu, fuse: bool) -> Result<Compiled> {
        let pshapes: Vec<Shape> = self.params.iter().map(|p| p.shape).collect();
        let (poffs, pfloats) = Arena::layout(&pshapes);
        let params = Arena::new(gpu, pfloats)?;
        let param_grads = Arena::new(gpu, pfloats)?;
        let mut param_views = Vec::new();
        let mut grad_views = Vec::new();
        for (s, &o) in pshapes.iter().zip(&poffs) {
            param_views.push(params.view(o, *s)?);
            grad_views.push(param_grads.view(o, *s)?);
        }
        let values = self
            .vars
            .iter()
            .map(|&s| Tensor::zeros(gpu, s))
            .collect::<Result<Vec<_>>>()?;
        let fused: Vec<Option<(Act, Var)>> = (0..self.ops.len())
            .map(|i| if fuse { self.fused_act(i) } else { None })
            .collect();
        // The output of a batch-norm fused with its activation needs no gradient buffer: the
        // fused backward goes from the activation's gradient straight to the input's.
        let mut needs_grad = self.needs_grad.clone();
        for (op, f) in self.ops.iter().zip(&fused) {
            if let (Op::BatchNorm { y, .. }, Some(_)) = (op, f) {
                needs_grad[y.0] = false;
            }
        }
        // One buffer per activation gradient: a backward kernel reads one gradient and writes
        // another, and wgpu forbids binding one buffer read-only and read-write in a dispatch.
        let grads = self
            .vars
            .iter()
            .zip(&needs_grad)
            .map(|(&s, &g)| g.then(|| Tensor::zeros(gpu, s)).transpose())
            .collect::<Result<Vec<_>>>()?;
        let mut c = Compiled {
            values,
            grads,
            params,
            param_grads,
            param_views,
            grad_views,
            forward: Vec::new(),
            backward: Vec::new(),
        };
        let is_fused_act = |i: usize| i > 0 && fused[i - 1].is_some();
        for (i, op) in self.ops.iter().enumerate() {
            let ds = match fused[i] {
                _ if is_fused_act(i) => vec![],
                Some((act, ya)) => fused_forward(gpu, &c, op, act, ya)?,
                None => forward_op(gpu, &c, op)?,
            };
            c.forward.extend(ds);
        }
        for (i, op) in self.ops.iter().enumerate().rev() {
            let ds = match fused[i] {
                _ if is_fused_act(i) => vec![],
                Some((act, ya)) => fused_backward(gpu, &c, op, act, ya)?,
                None => self.backward_op(gpu, &c, op)?,
            };
            c.backward.extend(ds);
        }
        Ok(c)
    }

    /// `Some((act, its output))` when op `i` is a batch-norm that fuses with the activation
    /// recorded right after it: that activation is the only reader of its output, and the
    /// shape suits the fused kernels.
    fn fused_act(&self, i: usize) -> Option<(Act, Var)> {
        let Op::BatchNorm { y, .. } = self.ops.get(i)? else {
            return None;
        };
        let Op::Act { act, x, y: ya } = self.ops.get(i + 1)? else {
            return None;
        };
        let readers = self.ops.iter().filter(|op| reads(op).contains(y)).count();
        (x == y && readers == 1 && batchnorm::fusable(self.shape(*y))).then_some((*act, *ya))
    }

    /// The backward rule of each op: gradients of its inputs (and parameters) from its output's.
    fn backward_op(&self, gpu: &Gpu, c: &Compiled, op: &Op) -> Result<Vec<Dispatch>> {
        let v = |x: &Var| &c.values[x.0];
        let g = |x: &Var| c.grads[x.0].as_ref();
        let pg = |p: &Param| &c.grad_views[p.0];
        let pv = |p: &Param| &c.param_views[p.0];
        let gy = |y: &Var| {
            g(y).ok_or_else(|| Error::invalid("tape", format!("var {} has no gradient", y.0)))
        };
        Ok(match op {
            Op::Conv2d { conv, x, w, b, y } => {
                let gy = gy(y)?;
                let mut ds = Vec::new();
                if let Some(dx) = g(x) {
                    ds.extend(conv2d::backward_input(gpu, conv, gy, pv(w), dx)?);
                }
                ds.extend(conv2d::backward_weight(gpu, conv, v(x), gy, pg(w))?);
                if let Some(b) = b {
                    if !self.only_feeds_batchnorm(*y) {
                        ds.extend(conv2d::backward_bias(gpu, conv, gy, pg(b))?);
                    }
                }
                ds
            }
            Op::UpConv {
                conv,
                x,
                w,
                b,
                wp,
                p,
                y,
            } => {
                let (gy, pc) = (gy(y)?, polyphase::phase_conv(conv));
                let gp = g(p).expect("phase outputs have gradients");
                let gwp = g(wp).expect("phase weights have gradients");
                let mut ds = vec![polyphase::unshuffle(gpu, conv, gy, gp)?];
                if let Some(dx) = g(x) {
                    ds.extend(conv2d::backward_input(gpu, &pc, gp, v(wp), dx)?);
                }
                ds.extend(conv2d::backward_weight(gpu, &pc, v(x), gp, gwp)?);
                ds.push(polyphase::weights_backward(gpu, conv, gwp, pg(w))?);
                if let Some(b) = b {
                    if !self.only_feeds_batchnorm(*y) {
                        ds.extend(conv2d::backward_bias(gpu, conv, gy, pg(b))?);
                    }
                }
                ds
            }
            Op::BatchNorm {
                x,
                gamma,
                beta,
                y,
                stats,
            } => {
                let dx = g(x).ok_or_else(|| Error::invalid("tape", "batch-norm of an input"))?;
                batchnorm::backward(
                    gpu,
                    v(x),
                    pv(gamma),
                    v(stats),
                    gy(y)?,
                    dx,
                    pg(gamma),
                    pg(beta),
                )?
            }
            Op::Act { act, x, y } => match g(x) {
                Some(dx) => vec![ew::act_backward(gpu, *act, v(x), v(y), gy(y)?, dx)?],
                None => vec![],
            },
            Op::Upsample { mode, x, y } => match g(x) {
                Some(dx) => vec![resample::upsample_backward(gpu, *mode, gy(y)?, dx)?],
                None => vec![],
            },
            Op::Pool { mode, x, y } => match g(x) {
                Some(dx) => vec![resample::pool_backward(gpu, *mode, v(x), gy(y)?, dx)?],
                None => vec![],
            },
            Op::Concat { a, b, y } => match (g(a), g(b)) {
                (Some(da), Some(db)) => concat::backward(gpu, gy(y)?, da, db)?,
                _ => {
                    return Err(Error::invalid(
                        "tape",
                        "concat of a network input is not supported",
                    ))
                }
            },
        })
    }
}

/// Forward of batch-norm `op` fused with the activation `act` that writes `ya`.
fn fused_forward(gpu: &Gpu, c: &Compiled, op: &Op, act: Act, ya: Var) -> Result<Vec<Dispatch>> {
    let Op::BatchNorm {
        x,
        gamma,
        beta,
        y,
        stats,
    } = op
    else {
        return Err(Error::invalid(
            "tape",
            "only a batch-norm fuses with an activation",
        ));
    };
    let (v, pv) = (|t: &Var| &c.values[t.0], |p: &Param| &c.param_views[p.0]);
    let (x, y, ya, stats) = (v(x), v(y), v(&ya), v(stats));
    batchnorm::forward_act(gpu, act, x, pv(gamma), pv(beta), y, ya, stats)
}

/// Backward of [`fused_forward`]: from the gradient of `ya` to those of x, γ and β.
fn fused_backward(gpu: &Gpu, c: &Compiled, op: &Op, act: Act, ya: Var) -> Result<Vec<Dispatch>> {
    let Op::BatchNorm {
        x,
        gamma,
        beta,
        y,
        stats,
    } = op
    else {
        return Err(Error::invalid(
            "tape",
            "only a batch-norm fuses with an activation",
        ));
    };
    let v = |t: &Var| &c.values[t.0];
    let (pv, pg) = (
        |p: &Param| &c.param_views[p.0],
        |p: &Param| &c.grad_views[p.0],
    );
    let g = |t: &Var| {
        c.grads[t.0]
            .as_ref()
            .ok_or_else(|| Error::invalid("tape", format!("var {} has no gradient", t.0)))
    };
    let (gya, dx) = (g(&ya)?, g(x)?);
    batchnorm::backward_act(
        gpu,
        act,
        v(x),
        pv(gamma),
        v(stats),
        v(y),
        v(&ya),
        gya,
        dx,
        pg(gamma),
        pg(beta),
    )
}

fn forward_op(gpu: &Gpu, c: &Compiled, op: &Op) -> Result<Vec<Dispatch>> {
    let v = |x: &Var| &c.values[x.0];
    let pv = |p: &Param| &c.param_views[p.0];
    Ok(match op {
        Op::Conv2d { conv, x, w, b, y } => {
            conv2d::forward(gpu, conv, v(x), pv(w), b.as_ref().map(pv), v(y))?
        }
        Op::UpConv {
            conv,
            x,
            w,
            b,
            wp,
            p,
            y,
        } => {
            let pc = polyphase::phase_conv(conv);
            let mut ds = vec![polyphase::weights(gpu, conv, pv(w), v(wp))?];
            ds.extend(conv2d::forward(gpu, &pc, v(x), v(wp), None, v(p))?);
            ds.push(polyphase::shuffle(
                gpu,
                conv,
                v(p),
                b.as_ref().map(pv),
                v(y),
            )?);
            ds
        }
        Op::BatchNorm {
            x,
            gamma,
            beta,
            y,
            stats,
        } => batchnorm::forward(gpu, v(x), pv(gamma), pv(beta), v(y), v(stats))?,
        Op::Act { act, x, y } => vec![ew::act_forward(gpu, *act, v(x), v(y))?],
        Op::Upsample { mode, x, y } => vec![resample::upsample_forward(gpu, *mode, v(x), v(y))?],
        Op::Pool { mode, x, y } => vec![resample::pool_forward(gpu, *mode, v(x), v(y))?],
        Op::Concat { a, b, y } => concat::forward(gpu, v(a), v(b), v(y))?,
    })
}
