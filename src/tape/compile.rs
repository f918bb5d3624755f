//! Compiling a tape: allocation of every buffer, the batch-norm + activation fusion, and the
//! forward and backward dispatch lists built from each op's rules (`tape/rules.rs`).
use super::{reads, rules, Op, Param, Tape, Var};
use crate::error::{Error, Result};
use crate::gpu::{Arena, Dispatch, Gpu, Shape, Tensor};
use crate::ops::batchnorm;
use crate::ops::conv2d;
use crate::ops::elementwise::Act;

/// A compiled tape: every buffer allocated, forward and backward dispatch lists built.
pub struct Compiled {
    /// Networks side by side ([`CompileOptions::batch`]); 1 for [`Tape::compile`].
    pub batch: usize,
    pub values: Vec<Tensor>,
    pub grads: Vec<Option<Tensor>>,
    pub params: Arena,
    pub param_grads: Arena,
    pub param_views: Vec<Tensor>,
    pub grad_views: Vec<Tensor>,
    pub forward: Vec<Dispatch>,
    pub backward: Vec<Dispatch>,
    /// The convolution kernels' blocking (and whether the subgroup kernels are used).
    pub conv_blocks: conv2d::Blocks,
}

/// How [`Tape::compile_options`] builds the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Run a batch-norm whose output only feeds the activation recorded right after it (H·W a
    /// multiple of 4) as one fused forward pass and one fused backward
    /// ([`batchnorm::forward_act`], [`batchnorm::backward_act`]): the same numbers, two
    /// dispatches and two passes over the tensor fewer.
    pub fuse_bn_act: bool,
    /// Networks side by side (see the module docs of [`crate::tape`]).
    pub batch: usize,
    /// The convolutions' kernels and blocking; `None`: the adapter's fastest
    /// ([`conv2d::Blocks::for_gpu`]).
    pub conv_blocks: Option<conv2d::Blocks>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            fuse_bn_act: true,
            batch: 1,
            conv_blocks: None,
        }
    }
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
    /// Allocates everything and builds the dispatch lists for one network, fusing each
    /// batch-norm with the activation that follows it where that is possible, on the adapter's
    /// fastest convolution kernels ([`CompileOptions::default`]).
    pub fn compile(&self, gpu: &Gpu) -> Result<Compiled> {
        self.compile_options(gpu, &CompileOptions::default())
    }

    /// The general form of [`Tape::compile`]: fusion, batch and convolution kernels as `opts`
    /// says. With a batch of G, parameter `i` of copy `k` is `param_views[i]` from `k·numel` on,
    /// and activation `v` of copy `k` is block `k` of `values[v]`.
    pub fn compile_options(&self, gpu: &Gpu, opts: &CompileOptions) -> Result<Compiled> {
        let conv_blocks = match opts.conv_blocks {
            Some(b) => b.checked()?,
            None => conv2d::Blocks::for_gpu(gpu),
        };
        if opts.batch == 0 {
            return Err(Error::invalid("batch", "at least one network"));
        }
        let fused: Vec<Option<Fused>> = (0..self.ops.len())
            .map(|i| opts.fuse_bn_act.then(|| self.fused_act(i)).flatten())
            .collect();
        let mut c = self.allocate(gpu, opts.batch, &fused, conv_blocks)?;
        let is_fused_act = |i: usize| i > 0 && fused[i - 1].is_some();
        for (i, op) in self.ops.iter().enumerate() {
            let ds = match fused[i] {
                _ if is_fused_act(i) => vec![],
                Some(f) => rules::fused_forward(gpu, &c, &f)?,
                None => self.forward_rule(gpu, &c, op)?,
            };
            c.forward.extend(ds);
        }
        for (i, op) in self.ops.iter().enumerate().rev() {
            let ds = match fused[i] {
                _ if is_fused_act(i) => vec![],
                Some(f) => rules::fused_backward(gpu, &c, &f)?,
                None => self.backward_rule(gpu, &c, op)?,
            };
            c.backward.extend(ds);
        }
        Ok(c)
    }

    /// Every buffer of a batch of `g` networks, with empty dispatch lists.
    fn allocate(
        &self,
        gpu: &Gpu,
        g: usize,
        fused: &[Option<Fused>],
        conv_blocks: conv2d::Blocks,
    ) -> Result<Compiled> {
        let pshapes: Vec<Shape> = (self.params.iter())
            .map(|p| Shape::flat(g * p.shape.numel()))
            .collect();
        let (poffs, pfloats) = Arena::layout(&pshapes);
        let params = Arena::new(gpu, pfloats)?;
        let param_grads = Arena::new(gpu, pfloats)?;
        let mut param_views = Vec::new();
        let mut grad_views = Vec::new();
        for (s, &o) in pshapes.iter().zip(&poffs) {
            param_views.push(params.view(o, *s)?);
            grad_views.push(param_grads.view(o, *s)?);
        }
        let shapes: Vec<Shape> = (0..self.vars.len())
            .map(|v| self.batch_shape(Var(v), g))
            .collect();
        let values = (shapes.iter())
            .map(|&s| Tensor::zeros(gpu, s))
            .collect::<Result<Vec<_>>>()?;
        // The output of a batch-norm fused with its activation needs no gradient buffer: the
        // fused backward goes from the activation's gradient straight to the input's.
        let mut needs_grad = self.needs_grad.clone();
        for f in fused.iter().flatten() {
            needs_grad[f.y.0] = false;
        }
        // One buffer per activation gradient: a backward kernel reads one gradient and writes
        // another, and wgpu forbids binding one buffer read-only and read-write in a dispatch.
        let grads = (shapes.iter())
            .zip(&needs_grad)
            .map(|(&s, &need)| need.then(|| Tensor::zeros(gpu, s)).transpose())
            .collect::<Result<Vec<_>>>()?;
        Ok(Compiled {
            batch: g,
            values,
            grads,
            params,
            param_grads,
            param_views,
            grad_views,
            forward: Vec::new(),
            backward: Vec::new(),
            conv_blocks,
        })
    }

    /// The fusion when op `i` is a batch-norm that fuses with the activation recorded right
    /// after it: that activation is the only reader of its output, and the shape suits the
    /// fused kernels.
    fn fused_act(&self, i: usize) -> Option<Fused> {
        let Op::BatchNorm {
            x,
            gamma,
            beta,
            y,
            stats,
        } = *self.ops.get(i)?
        else {
            return None;
        };
        let Op::Act { act, x: xa, y: ya } = *self.ops.get(i + 1)? else {
            return None;
        };
        let readers = self.ops.iter().filter(|op| reads(op).contains(&y)).count();
        (xa == y && readers == 1 && batchnorm::fusable(self.shape(y))).then_some(Fused {
            x,
            gamma,
            beta,
            y,
            stats,
            act,
            ya,
        })
    }
}

/// A batch-norm (its fields) fused with the activation `act` that reads its output `y` and
/// writes `ya`.
#[derive(Clone, Copy)]
pub(super) struct Fused {
    pub x: Var,
    pub gamma: Param,
    pub beta: Param,
    pub y: Var,
    pub stats: Var,
    pub act: Act,
    pub ya: Var,
}
