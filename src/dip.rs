//! The library API, close to the reference's `LitDIP`:
//! `set_target([...])`, `set_mask([...])`, `fit(steps, on_step)`, `output()`; and [`fit_batch`]
//! for several such problems of one size trained side by side in the same dispatches.
//!
//! Beyond the reference: an **ensemble** ([`DipConfig::ensemble`]) fits K networks from the seeds
//! `seed, seed + 1, …` side by side in the same dispatches (each exactly the fit of its own seed);
//! the output is their mean and [`Dip::uncertainty`] their spread. A **stopping rule**
//! ([`DipConfig::stop`], [`StopRule`]) holds out cloud-shaped patches of clear pixels, scores each
//! network there every few steps, keeps its best output and stops it when it stops improving.
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::{Image, Mask};
use crate::net::NetConfig;
use crate::ops::adam::AdamConfig;
use crate::ops::conv2d::Blocks;
use crate::plan::{Plan, StepConfig};
use std::ops::ControlFlow;
use std::time::Duration;

mod batch;
pub mod checkpoint;
mod ensemble;
pub(crate) mod fit;
pub mod holdout;
mod params;
mod problem;
mod stopping;
pub use batch::{fit_batch, BatchItem, BatchResult};
pub use checkpoint::Checkpoint;
pub use fit::ValidationInfo;
use fit::{run_steps, Checks};
pub use params::NamedParam;
pub use stopping::{Monitor, Observation, StopRule, StopSignal};

/// The ensemble that `cloudfill inpaint` and the Python `cloudfill.inpaint` fit unless told
/// otherwise: the size that measured best per unit of time (BENCHMARKS.md §11).
/// [`DipConfig::default`] stays the reference's single network.
pub const RECOMMENDED_ENSEMBLE: usize = 4;

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
    /// Networks fitted side by side from the seeds `seed, seed + 1, …` (1: the reference's
    /// single fit); the output is their mean, [`Dip::uncertainty`] their spread.
    pub ensemble: usize,
    /// Held-out validation, best-output keeping and early stopping; `None` (the reference): every
    /// step asked for, the last output.
    pub stop: Option<StopRule>,
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
            ensemble: 1,
            stop: None,
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
    /// The checks so far, under a stopping rule.
    pub validation: Option<ValidationInfo>,
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
    /// The stopping rule's state, when there is one (made at every build).
    checks: Option<Checks>,
}

impl<'g> Dip<'g> {
    pub fn new(gpu: &'g Gpu, cfg: DipConfig) -> Result<Dip<'g>> {
        cfg.net.validate()?;
        if cfg.ensemble == 0 {
            return Err(Error::invalid("ensemble", "needs at least 1 network"));
        }
        if let Some(rule) = &cfg.stop {
            rule.validate_for(cfg.ensemble)?;
        }
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
            checks: None,
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
        let mut p = self.prepare()?;
        let plan = {
            let problems: Vec<_> = (0..self.cfg.ensemble)
                .map(|k| self.problem(&p, self.member_seed(k)))
                .collect();
            Plan::new_batch(self.gpu, &self.cfg.net, &problems, self.step_config())?
        };
        self.plan = Some(plan);
        self.checks = (self.cfg.stop)
            .zip(p.check_pixels.take())
            .map(|(rule, held)| Checks::new(rule, vec![held], self.cfg.ensemble));
        self.last_loss = None;
        self.write_init_params()
    }

    /// The seed of ensemble member `k`.
    pub(super) fn member_seed(&self, k: usize) -> u64 {
        self.cfg.seed.wrapping_add(k as u64)
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
            conv_blocks: self.cfg.conv_blocks,
        }
    }

    /// Runs `steps` Adam steps (continuing any earlier fit; under a stopping rule, fewer when
    /// every network has stopped). `on_step` is called after every step; returning
    /// `ControlFlow::Break` stops early. Returns the last loss read.
    pub fn fit(
        &mut self,
        steps: usize,
        on_step: impl FnMut(&StepInfo) -> ControlFlow<()>,
    ) -> Result<Option<f32>> {
        self.ensure_built()?;
        let plan = self.plan.as_mut().expect("built above");
        let every = self.cfg.loss_every;
        if let Some(l) = run_steps(plan, steps, every, self.checks.as_mut(), on_step)? {
            self.last_loss = Some(l);
        }
        Ok(self.last_loss)
    }

    /// The reconstruction of every source, in order (H×W×C_k each); the first is the
    /// inpainted image. An ensemble's is the mean of its members'; under a stopping rule each
    /// member's output is the one of its best check.
    pub fn output(&mut self) -> Result<Vec<Image>> {
        Ok(self.output_and_uncertainty()?.0)
    }

    /// The per-pixel standard deviation across the ensemble's members of every source's
    /// reconstruction (as [`Dip::output`]; all zero for one network).
    pub fn uncertainty(&mut self) -> Result<Vec<Image>> {
        Ok(self.output_and_uncertainty()?.1)
    }

    /// [`Dip::output`] and [`Dip::uncertainty`] from one render.
    pub fn output_and_uncertainty(&mut self) -> Result<(Vec<Image>, Vec<Image>)> {
        let members = self.member_outputs_padded()?;
        let refs: Vec<&[f32]> = members.iter().map(Vec::as_slice).collect();
        let (mean, std) = ensemble::mean_std(&refs);
        Ok((self.unpack(&mean)?, self.unpack(&std)?))
    }

    /// Every member's reconstructions now, on the clean latent (not the kept best ones).
    pub fn render_members(&mut self) -> Result<Vec<Vec<Image>>> {
        self.ensure_built()?;
        let out = self.plan.as_ref().expect("built above").render()?;
        let per = out.len() / self.cfg.ensemble;
        out.chunks_exact(per).map(|m| self.unpack(m)).collect()
    }

    /// Every member's reconstructions (as [`Dip::output`] for one network).
    pub fn member_outputs(&mut self) -> Result<Vec<Vec<Image>>> {
        let members = self.member_outputs_padded()?;
        members.iter().map(|m| self.unpack(m)).collect()
    }

    /// Each network's output, channel-major at the padded size: the kept best under a stopping
    /// rule, otherwise the current one on the clean latent. A non-finite output is an error.
    fn member_outputs_padded(&mut self) -> Result<Vec<Vec<f32>>> {
        self.ensure_built()?;
        let plan = self.plan.as_ref().expect("built above");
        let kept = self.checks.as_ref().map(|c| &c.kept);
        let out = if kept.is_some_and(|k| k.iter().all(Option::is_some)) {
            Vec::new()
        } else {
            plan.render()?
        };
        let per = out.len() / plan.batch.max(1);
        let members: Vec<Vec<f32>> = (0..plan.batch)
            .map(|k| match kept.and_then(|v| v[k].clone()) {
                Some(o) => o,
                None => out[k * per..(k + 1) * per].to_vec(),
            })
            .collect();
        if members.iter().flatten().any(|v| !v.is_finite()) {
            let loss = plan.read_loss()?;
            return Err(Error::Diverged {
                step: plan.step as usize,
                loss,
            });
        }
        Ok(members)
    }

    /// The checks under a stopping rule (the curve of the signal's scores, best step, stop): one
    /// monitor, for the whole ensemble.
    pub fn monitors(&self) -> &[Monitor] {
        self.checks.as_ref().map_or(&[], |c| &c.monitors)
    }

    /// Under a stopping rule: every network has stopped (a further [`Dip::fit`] would take one
    /// step and end).
    pub fn stopped(&self) -> bool {
        let ms = self.monitors();
        !ms.is_empty() && ms.iter().all(|m| m.stopped_at.is_some()) || self.diverged_at().is_some()
    }

    /// The step at which the loss became non-finite, when the fit ended there with every
    /// network's best output kept (under a stopping rule; without one, that is an error).
    pub fn diverged_at(&self) -> Option<usize> {
        self.checks.as_ref().and_then(|c| c.diverged_at)
    }

    /// The held-out pixels of the first source under a stopping rule (`true` = held out).
    pub fn heldout_mask(&self) -> Option<Mask> {
        let rule = self.cfg.stop.as_ref()?;
        Some(holdout::select(
            self.masks.first()?,
            rule.holdout,
            self.cfg.seed,
        ))
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
