//! The tape's rules: for every [`Op`], the dispatches of its forward pass and, right below them,
//! those of its backward pass (the gradients of its inputs and parameters from its output's).
//! An op's arithmetic lives in its module under `ops/`; a rule only picks the compiled buffers.
//!
//! Every backward kernel *accumulates* (`+=`) into gradient buffers, so a tensor read twice (a skip
//! branch and the deeper branch both read a level's input) receives the sum by construction.
//! Exact shortcuts: a var without a gradient buffer (the network input) gets no grad-input; a
//! conv whose only reader is a training-mode batch-norm gets no bias gradient (BN removes any
//! per-channel constant, so that gradient is exactly zero).
use super::compile::Fused;
use super::{reads, Compiled, Op, Param, Tape, Var};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Tensor};
use crate::ops::batchnorm;
use crate::ops::concat;
use crate::ops::conv2d::{self, Conv2d};
use crate::ops::elementwise as ew;
use crate::ops::polyphase::{self, UpConv, UpConvGrads};
use crate::ops::resample;

/// The compiled buffers of a tape, by var and by parameter.
#[derive(Clone, Copy)]
struct Buffers<'a>(&'a Compiled);

impl<'a> Buffers<'a> {
    fn value(self, v: Var) -> &'a Tensor {
        &self.0.values[v.0]
    }

    /// The gradient of `v`, if it has one (network inputs and fused batch-norm outputs don't).
    fn grad(self, v: Var) -> Option<&'a Tensor> {
        self.0.grads[v.0].as_ref()
    }

    /// The gradient of an op's output, which every op output that a rule reads has.
    fn out_grad(self, v: Var) -> &'a Tensor {
        self.grad(v)
            .expect("an op output has a gradient buffer unless it is fused away")
    }

    fn param(self, p: Param) -> &'a Tensor {
        &self.0.param_views[p.0]
    }

    fn param_grad(self, p: Param) -> &'a Tensor {
        &self.0.grad_views[p.0]
    }
}

impl Tape {
    /// The forward dispatches of `op`.
    pub(super) fn forward_rule(&self, gpu: &Gpu, c: &Compiled, op: &Op) -> Result<Vec<Dispatch>> {
        let t = Buffers(c);
        let one = |d: Result<Dispatch>| d.map(|d| vec![d]);
        match op {
            Op::Conv2d { conv, x, w, b, y } => {
                let (conv, b) = (&conv.batched(c.batch), b.map(|b| t.param(b)));
                let (x, w, y) = (t.value(*x), t.param(*w), t.value(*y));
                conv2d::forward_with(gpu, c.conv_blocks, conv, x, w, b, y)
            }
            Op::UpConv { conv, .. } => {
                let conv = &conv.batched(c.batch);
                polyphase::forward(gpu, c.conv_blocks, conv, &up_conv_buffers(t, op))
            }
            Op::BatchNorm {
                x,
                gamma,
                beta,
                y,
                stats,
            } => {
                let (x, y, stats) = (t.value(*x), t.value(*y), t.value(*stats));
                batchnorm::forward(gpu, None, x, t.param(*gamma), t.param(*beta), y, stats)
            }
            Op::Act { act, x, y } => one(ew::act_forward(gpu, *act, t.value(*x), t.value(*y))),
            Op::Upsample { mode, x, y } => one(resample::upsample_forward(
                gpu,
                *mode,
                t.value(*x),
                t.value(*y),
            )),
            Op::Pool { mode, x, y } => {
                one(resample::pool_forward(gpu, *mode, t.value(*x), t.value(*y)))
            }
            Op::Concat { a, b, y } => {
                let (a, b, y) = (t.value(*a), t.value(*b), t.value(*y));
                concat::forward(gpu, c.batch, a, b, y)
            }
        }
    }

    /// The backward dispatches of `op`.
    pub(super) fn backward_rule(&self, gpu: &Gpu, c: &Compiled, op: &Op) -> Result<Vec<Dispatch>> {
        let t = Buffers(c);
        let one = |d: Result<Dispatch>| d.map(|d| vec![d]);
        match op {
            Op::Conv2d { .. } => self.conv2d_backward(gpu, c, op),
            Op::UpConv { .. } => self.up_conv_backward(gpu, c, op),
            Op::BatchNorm {
                x,
                gamma,
                beta,
                y,
                stats,
            } => {
                let dx = t.grad(*x).ok_or_else(batchnorm_of_input)?;
                let (x, stats, gy) = (t.value(*x), t.value(*stats), t.out_grad(*y));
                let (dgamma, dbeta) = (t.param_grad(*gamma), t.param_grad(*beta));
                batchnorm::backward(gpu, None, x, t.param(*gamma), stats, gy, dx, dgamma, dbeta)
            }
            Op::Act { act, x, y } => match t.grad(*x) {
                Some(dx) => {
                    let (x, y, gy) = (t.value(*x), t.value(*y), t.out_grad(*y));
                    one(ew::act_backward(gpu, *act, x, y, gy, dx))
                }
                None => Ok(vec![]),
            },
            Op::Upsample { mode, x, y } => match t.grad(*x) {
                Some(dx) => one(resample::upsample_backward(gpu, *mode, t.out_grad(*y), dx)),
                None => Ok(vec![]),
            },
            Op::Pool { mode, x, y } => match t.grad(*x) {
                Some(dx) => {
                    let (x, gy) = (t.value(*x), t.out_grad(*y));
                    one(resample::pool_backward(gpu, *mode, x, gy, dx))
                }
                None => Ok(vec![]),
            },
            Op::Concat { a, b, y } => match (t.grad(*a), t.grad(*b)) {
                (Some(da), Some(db)) => concat::backward(gpu, c.batch, t.out_grad(*y), da, db),
                _ => Err(Error::invalid(
                    "tape",
                    "concat of a network input is not supported",
                )),
            },
        }
    }

    /// The backward of [`Op::Conv2d`]: dx (where x has a gradient), dw, db.
    fn conv2d_backward(&self, gpu: &Gpu, c: &Compiled, op: &Op) -> Result<Vec<Dispatch>> {
        let Op::Conv2d { conv, x, w, b, y } = op else {
            unreachable!("conv2d_backward is called on convolutions only")
        };
        let (t, bl, conv) = (Buffers(c), c.conv_blocks, &conv.batched(c.batch));
        let gy = t.out_grad(*y);
        let mut ds = Vec::new();
        if let Some(dx) = t.grad(*x) {
            ds.extend(conv2d::backward_input_with(
                gpu,
                bl,
                conv,
                gy,
                t.param(*w),
                dx,
            )?);
        }
        let (x, dw) = (t.value(*x), t.param_grad(*w));
        ds.extend(conv2d::backward_weight_with(gpu, bl, conv, x, gy, dw)?);
        ds.extend(self.conv_bias_backward(gpu, c, conv, *y, *b)?);
        Ok(ds)
    }

    /// The backward of [`Op::UpConv`] ([`polyphase::backward`]), then db.
    fn up_conv_backward(&self, gpu: &Gpu, c: &Compiled, op: &Op) -> Result<Vec<Dispatch>> {
        let Op::UpConv {
            conv,
            x,
            w,
            b,
            wp,
            p,
            y,
        } = op
        else {
            unreachable!("up_conv_backward is called on up-convolutions only")
        };
        let (t, conv) = (Buffers(c), &conv.batched(c.batch));
        let grads = UpConvGrads {
            gy: t.out_grad(*y),
            gp: t.out_grad(*p),
            gwp: t.out_grad(*wp),
            dx: t.grad(*x),
            dw: t.param_grad(*w),
        };
        let buffers = up_conv_buffers(t, op);
        let mut ds = polyphase::backward(gpu, c.conv_blocks, conv, &buffers, &grads)?;
        ds.extend(self.conv_bias_backward(gpu, c, conv, *y, *b)?);
        Ok(ds)
    }

    /// db of a conv (or up-conv) with output `y`, unless `y` only feeds batch-norm (whose true
    /// gradient for the bias is 0).
    fn conv_bias_backward(
        &self,
        gpu: &Gpu,
        c: &Compiled,
        conv: &Conv2d,
        y: Var,
        b: Option<Param>,
    ) -> Result<Vec<Dispatch>> {
        let t = Buffers(c);
        match (b, t.grad(y)) {
            (Some(b), Some(gy)) if !self.only_feeds_batchnorm(y) => {
                conv2d::backward_bias_with(gpu, c.conv_blocks, conv, gy, t.param_grad(b))
            }
            _ => Ok(Vec::new()),
        }
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

/// The buffers of an [`Op::UpConv`].
fn up_conv_buffers<'a>(t: Buffers<'a>, op: &Op) -> UpConv<'a> {
    let Op::UpConv {
        x, w, b, wp, p, y, ..
    } = op
    else {
        unreachable!("up_conv_buffers is called on up-convolutions only")
    };
    UpConv {
        x: t.value(*x),
        w: t.param(*w),
        b: b.map(|b| t.param(b)),
        wp: t.value(*wp),
        p: t.value(*p),
        y: t.value(*y),
    }
}

fn batchnorm_of_input() -> Error {
    Error::invalid("tape", "batch-norm of a network input is not supported")
}

/// Forward of a batch-norm fused with the activation after it.
pub(super) fn fused_forward(gpu: &Gpu, c: &Compiled, f: &Fused) -> Result<Vec<Dispatch>> {
    let t = Buffers(c);
    let (x, y, ya, stats) = (t.value(f.x), t.value(f.y), t.value(f.ya), t.value(f.stats));
    let (gamma, beta) = (t.param(f.gamma), t.param(f.beta));
    batchnorm::forward_act(gpu, f.act, x, gamma, beta, y, ya, stats)
}

/// Backward of [`fused_forward`]: from the gradient of `ya` to those of x, γ and β.
pub(super) fn fused_backward(gpu: &Gpu, c: &Compiled, f: &Fused) -> Result<Vec<Dispatch>> {
    let t = Buffers(c);
    let (gya, dx) = (
        t.out_grad(f.ya),
        t.grad(f.x).ok_or_else(batchnorm_of_input)?,
    );
    let (x, y, ya, stats) = (t.value(f.x), t.value(f.y), t.value(f.ya), t.value(f.stats));
    let (dgamma, dbeta) = (t.param_grad(f.gamma), t.param_grad(f.beta));
    let gamma = t.param(f.gamma);
    batchnorm::backward_act(gpu, f.act, x, gamma, stats, y, ya, gya, dx, dgamma, dbeta)
}
