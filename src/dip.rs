//! The library API, close to the reference's `LitDIP`:
//! `set_target([...])`, `set_mask([...])`, `fit(steps, on_step)`, `output()`; and [`fit_batch`]
//! for several such problems of one size trained side by side in the same dispatches.
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::{Image, Mask};
use crate::net::NetConfig;
use crate::ops::adam::AdamConfig;
use crate::ops::conv2d::Blocks;
use crate::plan::{Plan, StepConfig};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

mod batch;
pub mod checkpoint;
mod params;
mod problem;
pub use batch::{fit_batch, BatchItem, BatchResult};
pub use checkpoint::Checkpoint;
pub use params::NamedParam;

/// The network's input ("latent seed").
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Latent {
    /// 2 channels: row i/H and column j/W (the reference's default).
    #[default]
    Meshgrid,
    /// `depth` channels of `scale` × U(0, 1), drawn once from the seed.
    Noise { scale: f32, depth: usize },
    /// The concatenated sources themselves (non-finite values as 0).
    Target,
}

/// Settings of a fit; `Default` is the reference's.
#[derive(Clone, Debug, PartialEq)]
pub struct DipConfig {
    pub net: NetConfig,
    /// Adam learning rate (2e-2).
    pub lr: f32,
    /// σ of the fresh N(0, 1) noise added to the latent every step (0.1).
    pub noise_std: f32,
    pub latent: Latent,
    pub seed: u64,
    /// Read the loss back every this many steps (and at the last step).
    pub loss_every: usize,
    /// The convolutions' kernels and blocking; `None` (the default): the adapter's fastest.
    /// Every choice computes the same function; tests and comparisons set it.
    pub conv_blocks: Option<Blocks>,
}

impl Default for DipConfig {
    fn default() -> Self {
        DipConfig {
            net: NetConfig::default(),
            lr: 2e-2,
            noise_std: 0.1,
            latent: Latent::Meshgrid,
            seed: 0,
            loss_every: 10,
            conv_blocks: None,
        }
    }
}

/// What `fit` reports after each step.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo {
    /// Steps done in this fit (1-based).
    pub step: usize,
    /// Steps asked for in this fit.
    pub steps: usize,
    /// The masked loss of this step, when it was read back.
    pub loss: Option<f32>,
    /// Time since the fit started.
    pub elapsed: Duration,
}

/// A Deep Image Prior inpainting problem on one GPU.
pub struct Dip<'g> {
    gpu: &'g Gpu,
    cfg: DipConfig,
    targets: Vec<Image>,
    masks: Vec<Mask>,
    plan: Option<Plan<'g>>,
    /// (H, W) of the sources and the padded size the network runs at.
    size: (usize, usize),
    padded: (usize, usize),
    last_loss: Option<f32>,
    /// Parameters given by [`Dip::set_parameters`], written over the seeded init at every build.
    init_params: Vec<NamedParam>,
}

impl<'g> Dip<'g> {
    pub fn new(gpu: &'g Gpu, cfg: DipConfig) -> Result<Dip<'g>> {
        cfg.net.validate()?;
        if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
            return Err(Error::invalid(
                "learning rate",
                format!("lr must be a finite number > 0, got {}", cfg.lr),
            ));
        }
        if !(cfg.noise_std >= 0.0 && cfg.noise_std.is_finite()) {
            return Err(Error::invalid(
                "noise_std",
                format!("must be a finite number >= 0, got {}", cfg.noise_std),
            ));
        }
        Ok(Dip {
            gpu,
            cfg,
            targets: Vec::new(),
            masks: Vec::new(),
            plan: None,
            size: (0, 0),
            padded: (0, 0),
            last_loss: None,
            init_params: Vec::new(),
        })
    }

    /// The sources, H×W×C_k each; the first is the image to inpaint, the rest are guides.
    pub fn set_target(&mut self, targets: Vec<Image>) -> Result<()> {
        let Some(first) = targets.first() else {
            return Err(Error::invalid(
                "sources",
                "at least one source image is needed",
            ));
        };
        let (h, w) = (first.h, first.w);
        for (i, t) in targets.iter().enumerate() {
            if (t.h, t.w) != (h, w) {
                return Err(Error::shape(format!("source {i} size"), (h, w), (t.h, t.w)));
            }
            if t.c == 0 || t.data.len() != t.h * t.w * t.c {
                return Err(Error::shape(
                    format!("source {i} data"),
                    t.h * t.w * t.c,
                    t.data.len(),
                ));
            }
        }
        if h == 0 || w == 0 {
            return Err(Error::invalid("sources", "empty image"));
        }
        self.targets = targets;
        self.masks.clear();
        self.plan = None;
        self.size = (h, w);
        Ok(())
    }

    /// One mask per source, H×W, true = clear.
    pub fn set_mask(&mut self, masks: Vec<Mask>) -> Result<()> {
        if masks.len() != self.targets.len() {
            return Err(Error::shape(
                "number of masks",
                self.targets.len(),
                masks.len(),
            ));
        }
        for (i, (m, t)) in masks.iter().zip(&self.targets).enumerate() {
            if (m.h, m.w) != (t.h, t.w) || m.clear.len() != t.h * t.w {
                return Err(Error::shape(format!("mask {i}"), (t.h, t.w), (m.h, m.w)));
            }
            if !m.clear.iter().any(|&c| c) {
                return Err(Error::EmptyMask { source_index: i });
            }
            let bad = (0..t.h * t.w)
                .filter(|&p| m.clear[p])
                .flat_map(|p| &t.data[p * t.c..(p + 1) * t.c])
                .filter(|v| !v.is_finite())
                .count();
            if bad > 0 {
                return Err(Error::NonFinite {
                    source_index: i,
                    count: bad,
                });
            }
        }
        self.masks = masks;
        self.plan = None;
        Ok(())
    }

    /// Total output channels (Σ C_k).
    pub fn channels(&self) -> usize {
        self.targets.iter().map(|t| t.c).sum()
    }

    fn build(&mut self) -> Result<()> {
        let p = self.prepare()?;
        let problem = self.problem(&p);
        self.plan = Some(Plan::new(
            self.gpu,
            &self.cfg.net,
            &problem,
            self.step_config(),
        )?);
        self.last_loss = None;
        self.write_init_params()
    }

    fn ensure_built(&mut self) -> Result<()> {
        if self.plan.is_none() {
            self.build()?;
        }
        Ok(())
    }

    fn step_config(&self) -> StepConfig {
        StepConfig {
            adam: AdamConfig {
                lr: self.cfg.lr,
                ..AdamConfig::default()
            },
            noise_std: self.cfg.noise_std,
            seed: self.cfg.seed,
            conv_blocks: self.cfg.conv_blocks,
        }
    }

    /// Runs `steps` Adam steps (continuing any earlier fit). `on_step` is called after every
    /// step; returning `ControlFlow::Break` stops early. Returns the last loss read.
    pub fn fit(
        &mut self,
        steps: usize,
        on_step: impl FnMut(&StepInfo) -> ControlFlow<()>,
    ) -> Result<Option<f32>> {
        self.ensure_built()?;
        let plan = self.plan.as_mut().expect("built above");
        if let Some(l) = run_steps(plan, steps, self.cfg.loss_every, on_step)? {
            self.last_loss = Some(l);
        }
        Ok(self.last_loss)
    }

    /// The reconstruction of every source, in order (H×W×C_k each); the first is the
    /// inpainted image.
    pub fn output(&mut self) -> Result<Vec<Image>> {
        self.ensure_built()?;
        let plan = self.plan.as_ref().expect("built above");
        let out = plan.render()?;
        if out.iter().any(|v| !v.is_finite()) {
            let loss = plan.read_loss()?;
            return Err(Error::Diverged {
                step: plan.step as usize,
                loss,
            });
        }
        self.unpack(&out)
    }

    /// The compiled step (after the first `fit` or `output`): parameters, profile, counts.
    pub fn plan(&self) -> Option<&Plan<'g>> {
        self.plan.as_ref()
    }

    /// The size the network runs at (the sources reflect-padded to a multiple of 2^levels).
    pub fn padded_size(&self) -> (usize, usize) {
        self.padded
    }
}

/// `steps` Adam steps of `plan`, reading the loss every `every` steps and at the last (for a
/// batch, the mean of the networks' losses); returns the last loss read.
fn run_steps(
    plan: &mut Plan,
    steps: usize,
    every: usize,
    mut on_step: impl FnMut(&StepInfo) -> ControlFlow<()>,
) -> Result<Option<f32>> {
    let every = every.max(1);
    let start = Instant::now();
    let mut last = None;
    for s in 1..=steps {
        plan.step()?;
        let loss = if s % every == 0 || s == steps {
            let l = plan.read_loss()? / plan.batch as f32;
            if !l.is_finite() {
                return Err(Error::Diverged { step: s, loss: l });
            }
            last = Some(l);
            Some(l)
        } else {
            None
        };
        let info = StepInfo {
            step: s,
            steps,
            loss,
            elapsed: start.elapsed(),
        };
        if on_step(&info).is_break() {
            break;
        }
    }
    plan.wait()?;
    Ok(last)
}
