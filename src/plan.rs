//! The training step, built once and replayed: one command encoder, one compute pass and one
//! submit per step — zero gradients, latent + noise, forward, masked MSE, backward, Adam — with no
//! allocation, bind-group creation, pipeline compilation or readback inside the loop. Per-step
//! values (the noise counter, Adam's step) are two small queue writes into uniforms that exist
//! from the start. The loss is read back only when asked.
//!
//! A plan trains G ≥ 1 independent networks of the same shape side by side in the same
//! dispatches ([`Plan::new_batch`], [`CompileOptions::batch`]): each has its own latent, target,
//! mask, loss normalisation (its own clear count), parameters and Adam moments, and each takes
//! exactly the steps a plan of its own would, bit for bit (its own seed: the initial weights and
//! noise of a plan of its own; a batch of tiles shares one seed, an ensemble has one per member; every grouped kernel does each network's arithmetic as the ungrouped one, reductions
//! chunked the same; the loss weights m/N_k give the mean's gradient bits). Only the reported
//! loss, a sum over the networks, is rounded differently.
use crate::error::{Error, Result};
use crate::gpu::{Arena, Dispatch, Gpu, Shape, Tensor};
use crate::net::NetConfig;
use crate::ops::adam::{self, AdamConfig};
use crate::ops::conv2d::Blocks;
use crate::ops::{loss, noise};
use crate::tape::{CompileOptions, Compiled, Init, Tape, Var};

mod profile;
mod state;
pub use crate::splitmix::SplitMix;
pub use profile::DispatchTime;
pub use state::PlanState;

/// What a plan trains: a latent (`[C_in, H, W]`), a target and a per-element 0/1 mask
/// (`[C, H, W]`, channel-major), from the initial weights and noise stream of `seed`.
pub struct Problem<'a> {
    pub seed: u64,
    pub latent: &'a [f32],
    pub latent_channels: usize,
    pub h: usize,
    pub w: usize,
    pub target: &'a [f32],
    pub mask: &'a [f32],
    pub channels: usize,
}

/// Optimiser, noise and kernel settings of a plan; `Default` is the reference's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepConfig {
    pub adam: AdamConfig,
    /// σ of the fresh N(0, 1) latent noise of every step.
    pub noise_std: f32,
    /// The convolutions' kernels and blocking; `None`: the adapter's fastest. (Tests and
    /// comparisons run the other paths with it; every path computes the same function.)
    pub conv_blocks: Option<Blocks>,
}

impl Default for StepConfig {
    fn default() -> Self {
        StepConfig {
            adam: AdamConfig::default(),
            noise_std: 0.1,
            conv_blocks: None,
        }
    }
}

/// A compiled training step.
pub struct Plan<'g> {
    gpu: &'g Gpu,
    /// The network of one problem (the compiled buffers hold `batch` copies).
    pub tape: Tape,
    /// Networks trained side by side.
    pub batch: usize,
    pub compiled: Compiled,
    pub input: Var,
    pub output: Var,
    cfg: StepConfig,
    /// Each network's seed (its initial weights and noise key).
    seeds: Vec<u64>,
    noise: Dispatch,
    loss: Vec<Dispatch>,
    adam: Dispatch,
    loss_value: Tensor,
    _moments: (Arena, Arena),
    n_params: usize,
    n_input: usize,
    /// Latent elements of one network.
    per_input: usize,
    /// Steps taken so far.
    pub step: u32,
}

impl<'g> Plan<'g> {
    /// Builds the network and the step. Parameters are initialised from `p.seed`.
    pub fn new(gpu: &'g Gpu, net: &NetConfig, p: &Problem, cfg: StepConfig) -> Result<Plan<'g>> {
        Plan::new_batch(gpu, net, std::slice::from_ref(p), cfg)
    }

    /// A plan for `problems.len()` independent networks trained side by side in the same
    /// dispatches; every problem must have the same sizes. Each starts from its own seed (as its
    /// own [`Plan::new`] would). The loss is the sum of theirs; [`render`]
    /// returns their outputs one after the other.
    ///
    /// [`render`]: Plan::render
    pub fn new_batch(
        gpu: &'g Gpu,
        net: &NetConfig,
        problems: &[Problem],
        cfg: StepConfig,
    ) -> Result<Plan<'g>> {
        let (p, g) = (check_batch(problems)?, problems.len());
        let per_in = p.latent_channels * p.h * p.w;
        let weights = loss_weights(problems)?;
        let latent: Vec<f32> = problems.iter().flat_map(|q| q.latent).copied().collect();
        let target: Vec<f32> = problems.iter().flat_map(|q| q.target).copied().collect();
        let (tape, input, output) = record_network(net, p)?;
        check_fits(gpu, &tape, g)?;
        let opts = CompileOptions {
            fuse_bn_act: true,
            batch: g,
            conv_blocks: cfg.conv_blocks,
        };
        let compiled = tape.compile_options(gpu, &opts)?;
        let out_shape = compiled.values[output.0].shape;
        let latent = Tensor::from_slice(gpu, compiled.values[input.0].shape, &latent)?;
        let target = Tensor::from_slice(gpu, out_shape, &target)?;
        let weights = Tensor::from_slice(gpu, out_shape, &weights)?;
        let loss_value = Tensor::zeros(gpu, Shape::flat(1))?;
        let seeds: Vec<u64> = problems.iter().map(|q| q.seed).collect();
        let keys: Vec<u32> = seeds.iter().map(|&s| noise_key(s)).collect();
        let noisy = &compiled.values[input.0];
        let noise = noise::latent_noise(gpu, &latent, cfg.noise_std, &keys, noisy)?;
        let dout = compiled.grads[output.0]
            .as_ref()
            .expect("the network output has a gradient buffer");
        let out = &compiled.values[output.0];
        let loss = loss::masked_mse(gpu, out, &target, &weights, dout, &loss_value)?;
        let n_params = compiled.params.all().numel();
        let (m, v) = (Arena::new(gpu, n_params)?, Arena::new(gpu, n_params)?);
        let (params, grads) = (compiled.params.all(), compiled.param_grads.all());
        let adam = adam::step(gpu, &cfg.adam, &params, &grads, &m.all(), &v.all())?;
        let plan = Plan {
            gpu,
            n_input: latent.numel(),
            per_input: per_in,
            tape,
            batch: g,
            compiled,
            input,
            output,
            cfg,
            seeds,
            noise,
            loss,
            adam,
            loss_value,
            _moments: (m, v),
            n_params,
            step: 0,
        };
        plan.init_params()?;
        Ok(plan)
    }

    /// PyTorch's default init (conv weight and bias ~ U(−b, b), b = 1/sqrt(fan_in); BN γ = 1,
    /// β = 0) from each network's seeded stream: reproducible, though not PyTorch's own random
    /// numbers. Networks of one seed get the same values.
    pub fn init_params(&self) -> Result<()> {
        let mut rngs: Vec<SplitMix> = self.seeds.iter().map(|&s| SplitMix::new(s)).collect();
        for (info, view) in self.tape.params.iter().zip(&self.compiled.param_views) {
            let n = info.shape.numel();
            let mut vals = Vec::with_capacity(n * self.batch);
            for rng in &mut rngs {
                match info.init {
                    Init::Const(c) => vals.extend(std::iter::repeat_n(c, n)),
                    Init::Uniform(b) => vals.extend((0..n).map(|_| (2.0 * rng.unit() - 1.0) * b)),
                }
            }
            view.write(self.gpu, &vals)?;
        }
        Ok(())
    }

    /// Each network's seed, in order.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    fn param_index(&self, name: &str) -> Result<usize> {
        self.tape
            .params
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| Error::invalid("parameter", format!("no parameter named {name:?}")))
    }

    /// Overwrites one parameter (PyTorch layout; a batch's copies one after the other).
    pub fn set_param(&self, name: &str, values: &[f32]) -> Result<()> {
        self.compiled.param_views[self.param_index(name)?].write(self.gpu, values)
    }

    /// Reads one parameter back (a batch's copies one after the other).
    pub fn read_param(&self, name: &str) -> Result<Vec<f32>> {
        self.compiled.param_views[self.param_index(name)?].read(self.gpu)
    }

    /// Reads one parameter's gradient (of the last step) back.
    pub fn read_grad(&self, name: &str) -> Result<Vec<f32>> {
        self.compiled.grad_views[self.param_index(name)?].read(self.gpu)
    }

    /// Number of dispatches in one training step.
    pub fn dispatches_per_step(&self) -> usize {
        1 + self.compiled.forward.len() + self.loss.len() + self.compiled.backward.len() + 1
    }

    /// Every dispatch of one step, in order.
    pub fn step_dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        let c = &self.compiled;
        [&self.noise]
            .into_iter()
            .chain(&c.forward)
            .chain(&self.loss)
            .chain(&c.backward)
            .chain([&self.adam])
    }

    /// Queues one training step (one submit; does not wait).
    pub fn step(&mut self) -> Result<()> {
        self.step += 1;
        self.set_noise(self.cfg.noise_std);
        let t = self.step;
        self.adam
            .set_params(self.gpu, &adam::params(&self.cfg.adam, self.n_params, t));
        self.submit(true, self.step_dispatches())
    }

    fn set_noise(&self, sigma: f32) {
        let p = noise::params(sigma, self.step, self.n_input, self.per_input);
        self.noise.set_params(self.gpu, &p);
    }

    fn submit<'a>(&self, zero: bool, ds: impl Iterator<Item = &'a Dispatch>) -> Result<()> {
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        if zero {
            self.compiled.record_zero_grads(&mut enc);
        }
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for d in ds {
                d.record(&mut pass);
            }
        }
        self.gpu.queue.submit([enc.finish()]);
        self.gpu.check()
    }

    /// Forward, loss and backward on the current parameters (no Adam, no noise): the gradient
    /// is then in the gradient arena. Returns the loss.
    pub fn gradient(&self) -> Result<f32> {
        self.set_noise(0.0);
        let c = &self.compiled;
        let ds = [&self.noise].into_iter().chain(&c.forward);
        self.submit(true, ds.chain(&self.loss).chain(&c.backward))?;
        self.set_noise(self.cfg.noise_std);
        self.read_loss()
    }

    /// The masked loss of the last step (waits for the queue); for a batch, the sum of the
    /// networks' losses.
    pub fn read_loss(&self) -> Result<f32> {
        Ok(self.loss_value.read(self.gpu)?[0])
    }

    /// Blocks until queued steps are done.
    pub fn wait(&self) -> Result<()> {
        self.gpu.wait()
    }

    /// The network output on the noise-free latent (training-mode batch-norm, as the
    /// reference's `output()`), `[C, H, W]` (a batch's networks one after the other); also
    /// updates the loss to this output's.
    pub fn render(&self) -> Result<Vec<f32>> {
        self.set_noise(0.0);
        let c = &self.compiled;
        let ds = [&self.noise]
            .into_iter()
            .chain(&c.forward)
            .chain(&self.loss);
        self.submit(false, ds)?;
        self.set_noise(self.cfg.noise_std);
        c.values[self.output.0].read(self.gpu)
    }
}

/// The 32-bit key of a seed's latent noise stream.
fn noise_key(seed: u64) -> u32 {
    (seed ^ (seed >> 32)) as u32
}

/// The network of problem `p` recorded on a new tape: (tape, latent input, output).
fn record_network(net: &NetConfig, p: &Problem) -> Result<(Tape, Var, Var)> {
    let mut tape = Tape::new();
    let input = tape.input(Shape::new(p.latent_channels, p.h, p.w));
    let output = net.build(&mut tape, input, p.channels)?;
    Ok((tape, input, output))
}

/// The first problem of a batch, after checking that there is one and that all have its sizes.
fn check_batch<'p, 'a>(problems: &'p [Problem<'a>]) -> Result<&'p Problem<'a>> {
    let Some(p) = problems.first() else {
        return Err(Error::invalid("batch", "no problems to train"));
    };
    let (per_in, per_out) = (p.latent_channels * p.h * p.w, p.channels * p.h * p.w);
    for (k, q) in problems.iter().enumerate() {
        let dims = (q.latent_channels, q.h, q.w, q.channels);
        if dims != (p.latent_channels, p.h, p.w, p.channels) {
            return Err(Error::shape(
                format!("batch problem {k} (latent channels, H, W, channels)"),
                (p.latent_channels, p.h, p.w, p.channels),
                dims,
            ));
        }
        if q.latent.len() != per_in || q.target.len() != per_out || q.mask.len() != per_out {
            return Err(Error::shape(
                format!("batch problem {k} (latent, target, mask lengths)"),
                (per_in, per_out, per_out),
                (q.latent.len(), q.target.len(), q.mask.len()),
            ));
        }
    }
    Ok(p)
}

/// Per-element loss weights m/N_k, one network after the other: every network's own masked
/// mean.
fn loss_weights(problems: &[Problem]) -> Result<Vec<f32>> {
    let mut weights = Vec::new();
    for q in problems {
        let count = q.mask.iter().filter(|&&m| m != 0.0).count();
        if count == 0 {
            return Err(Error::EmptyMask { source_index: 0 });
        }
        let w = (1.0 / count as f64) as f32;
        weights.extend(q.mask.iter().map(|&m| if m != 0.0 { w } else { 0.0 }));
    }
    Ok(weights)
}

/// Refuses, before allocating anything, a network whose largest tensor exceeds what the adapter
/// can bind (one storage binding holds one activation).
fn check_fits(gpu: &Gpu, tape: &Tape, g: usize) -> Result<()> {
    let max = gpu.max_binding();
    let shapes = (0..tape.vars.len()).map(|v| tape.batch_shape(Var(v), g));
    if let Some(s) = shapes.into_iter().find(|s| s.padded() as u64 * 4 > max) {
        return Err(Error::TooLarge {
            what: format!("an activation of {}×{}×{} (in one binding)", s.c, s.h, s.w),
            bytes: s.padded() as u64 * 4,
            limit: max,
            hint: ": use a smaller image (--window, or tiles), a smaller --batch or narrower \
                   first levels",
        });
    }
    Ok(())
}
