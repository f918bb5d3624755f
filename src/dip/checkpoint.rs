//! A fit saved part way and resumed later, bit for bit: [`Dip::checkpoint`] reads the training
//! state (parameters, Adam's moments, the step, which is also the position in the latent-noise
//! stream) together with a fingerprint of what produced it; [`Dip::resume`] refuses a checkpoint
//! of another fit, naming the setting that differs, and writes the state back. A resumed
//! [`Dip::fit`]`(n)` takes `n` further steps, so a caller that wants `N` in all runs
//! `N − `[`Dip::steps_done`]. [`Checkpoint::save`] and [`Checkpoint::load`] keep it in a file
//! (format in [`file`](mod@file)).
//!
//! ```no_run
//! # use cloudfill::{Dip, DipConfig, Gpu, Image};
//! # use cloudfill::dip::Checkpoint;
//! # use std::ops::ControlFlow;
//! # fn main() -> cloudfill::Result<()> {
//! # let gpu = Gpu::new()?;
//! # let image = || Image::zeros(64, 64, 3);
//! let path = std::path::Path::new("fit.ckpt");
//! let mut dip = Dip::new(&gpu, DipConfig::default())?;
//! dip.set_target(vec![image()])?;
//! if path.exists() {
//!     dip.resume(&Checkpoint::load(path)?)?; // Err if it is another fit's
//! }
//! while dip.steps_done() < 4000 {
//!     let n = 100.min(4000 - dip.steps_done());
//!     dip.fit(n, |_| ControlFlow::Continue(()))?;
//!     dip.checkpoint()?.save(path)?;
//! }
//! let result = dip.output()?;
//! std::fs::remove_file(path).ok();
//! # Ok(()) }
//! ```
use super::fit::ChecksState;
use super::Dip;
use crate::error::{Error, Result};
use crate::plan::PlanState;

pub mod file;

/// A fit's training state and what it was made with (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    settings: Vec<(String, String)>,
    kernels: String,
    state: PlanState,
    /// The stopping rule's checks so far (curves, best outputs), when the fit has one.
    checks: Option<ChecksState>,
}

impl Checkpoint {
    /// Steps the saved fit had taken.
    pub fn step(&self) -> usize {
        self.state.step as usize
    }

    /// The settings and input fingerprint it was made with, (name, value) in order: the
    /// [`Dip::fingerprint`] of its fit, then any the caller added with [`Checkpoint::with`].
    pub fn settings(&self) -> &[(String, String)] {
        &self.settings
    }

    /// The adapter and convolution kernels that computed it (informational: another adapter
    /// or kernel path resumes the fit, but may round its last bits differently).
    pub fn kernels(&self) -> &str {
        &self.kernels
    }

    /// The checkpoint with one more setting of the caller's (e.g. the total step count a
    /// command line asked for), checked by [`Checkpoint::check`].
    pub fn with(mut self, name: &str, value: impl ToString) -> Checkpoint {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }

    /// `Err(CheckpointMismatch)` naming the first setting that differs between this checkpoint
    /// and `now` (a setting present in only one of them differs too).
    pub fn check(&self, now: &[(String, String)]) -> Result<()> {
        first_difference(&self.settings, now)
    }
}

/// `Err(CheckpointMismatch)` for the first name whose values in `saved` and `now` differ.
fn first_difference(saved: &[(String, String)], now: &[(String, String)]) -> Result<()> {
    let get = |list: &[(String, String)], k: &str| {
        let found = list.iter().find(|(n, _)| n == k);
        found.map(|(_, v)| v.clone())
    };
    for (k, _) in saved.iter().chain(now) {
        let (was, is) = (get(saved, k), get(now, k));
        if was != is {
            let show = |v: Option<String>| v.unwrap_or_else(|| "(unset)".into());
            return Err(Error::CheckpointMismatch {
                setting: k.clone(),
                saved: show(was),
                now: show(is),
            });
        }
    }
    Ok(())
}

impl Dip<'_> {
    /// Steps taken by the fits so far (0 before the first; after [`Dip::resume`], the saved
    /// fit's count, which further fits continue).
    pub fn steps_done(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| p.step as usize)
    }

    /// What a fit's result depends on, as (name, value): `network`, `lr`, `noise_std`,
    /// `latent`, `seed`, `conv_blocks`, the `sources`' sizes and `input data`, a hash of every
    /// source's values and mask (all clear before [`Dip::set_mask`]).
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let c = &self.cfg;
        let sizes: Vec<String> = (self.targets.iter())
            .map(|t| format!("{}×{}×{}", t.h, t.w, t.c))
            .collect();
        let mut hash = file::Fnv::new();
        for (i, t) in self.targets.iter().enumerate() {
            (t.data.iter()).for_each(|v| hash.write(&v.to_le_bytes()));
            // No mask yet: all clear, as the fit will take it.
            match self.masks.get(i) {
                Some(m) => (m.clear.iter()).for_each(|&b| hash.write(&[b as u8])),
                None => (0..t.h * t.w).for_each(|_| hash.write(&[1])),
            }
        }
        let list = [
            ("network", format!("{:?}", c.net)),
            ("lr", c.lr.to_string()),
            ("noise_std", c.noise_std.to_string()),
            ("latent", format!("{:?}", c.latent)),
            ("seed", c.seed.to_string()),
            ("ensemble", c.ensemble.to_string()),
            ("stop", format!("{:?}", c.stop)),
            ("conv_blocks", format!("{:?}", c.conv_blocks)),
            ("sources", sizes.join(" + ")),
            ("input data", format!("hash {:016x}", hash.finish())),
        ];
        list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The adapter and convolution kernels of the built network (`None` before it is built),
    /// as [`Checkpoint::kernels`] records them.
    pub fn kernels(&self) -> Option<String> {
        let plan = self.plan.as_ref()?;
        Some(format!(
            "{}; {:?}",
            self.gpu.summary(),
            plan.compiled.conv_blocks
        ))
    }

    /// The training state now, with this fit's [`Dip::fingerprint`] (builds the network if
    /// needed; waits for queued steps).
    pub fn checkpoint(&mut self) -> Result<Checkpoint> {
        self.ensure_built()?;
        let plan = self.plan.as_ref().expect("built above");
        Ok(Checkpoint {
            settings: self.fingerprint(),
            kernels: self.kernels().expect("built above"),
            state: plan.state()?,
            checks: self.checks.as_ref().map(|c| c.state()),
        })
    }

    /// Continues the fit `c` saved: `Err(CheckpointMismatch)` if any setting of this fit's
    /// [`Dip::fingerprint`] differs from the checkpoint's (settings the caller added are the
    /// caller's to check, with [`Checkpoint::check`]); otherwise the parameters, moments and
    /// step are the saved ones. Call it after [`Dip::set_target`] and [`Dip::set_mask`], which
    /// start a fit over.
    pub fn resume(&mut self, c: &Checkpoint) -> Result<()> {
        let mine = self.fingerprint();
        let known: Vec<(String, String)> = (c.settings.iter())
            .filter(|(k, _)| mine.iter().any(|(n, _)| n == k))
            .cloned()
            .collect();
        first_difference(&known, &mine)?;
        self.ensure_built()?;
        self.plan.as_mut().expect("built above").restore(&c.state)?;
        match (self.checks.as_mut(), &c.checks) {
            (Some(mine), Some(saved)) => mine.restore(saved)?,
            (None, None) => {}
            _ => {
                return Err(Error::invalid(
                    "checkpoint",
                    "its stopping rule's checks do not match this fit's",
                ))
            }
        }
        self.last_loss = None;
        Ok(())
    }
}
