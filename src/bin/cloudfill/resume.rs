//! `inpaint --checkpoint PATH`: a single-raster fit that saves itself every `--checkpoint-every`
//! steps and on SIGINT/SIGTERM, and that the same command resumes, ending bit for bit as an
//! uninterrupted fit. Checkpoints fall on multiples of N steps (counted from the fit's start,
//! not the resume's); the checkpoint of another fit is refused, naming what differs.
use crate::fit::show_step;
use crate::signals::{self, Catch};
use anyhow::{Context, Result};
use cloudfill::dip::{Checkpoint, Dip, StepInfo};
use cloudfill::Error;
use indicatif::ProgressBar;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Where and how often a fit saves itself.
pub(crate) struct Resume<'a> {
    pub path: &'a Path,
    pub every: usize,
}

/// A fit stopped by a signal after saving itself: the process exits with 128 + the signal.
#[derive(Debug)]
pub(crate) struct Interrupted {
    pub signal: i32,
    name: &'static str,
    step: usize,
    steps: usize,
    path: PathBuf,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted by {} at step {} of {}; the fit so far is saved in {}: run the same \
             command again to resume",
            self.name,
            self.step,
            self.steps,
            self.path.display()
        )
    }
}

impl std::error::Error for Interrupted {}

/// The flags to look at for a setting of [`Dip::fingerprint`] (or `steps`).
fn flags_of(setting: &str) -> &'static str {
    match setting {
        "lr" => "--lr",
        "noise_std" => "--noise-std",
        "seed" => "--seed",
        "latent" => "--latent",
        "steps" => "--steps",
        "network" => "the network flags (--down, --up, --skip, --filter-*, --padding, …)",
        "sources" | "input data" => {
            "the inputs (--target, --mask, --s1, --guide, --window, --bands, mask flags)"
        }
        _ => "the settings",
    }
}

/// Fits `dip` to `steps` steps in all, resuming from `r.path` when it holds a checkpoint of this
/// fit, saving there as it goes. The last loss read, and the step it resumed from.
pub(crate) fn fit(
    dip: &mut Dip,
    steps: usize,
    r: &Resume,
    bar: &ProgressBar,
    quiet: bool,
) -> Result<(Option<f32>, usize)> {
    let from = resume(dip, steps, r, quiet)?;
    bar.set_position(from as u64);
    let catch = Catch::install();
    let mut loss = None;
    while dip.steps_done() < steps {
        let done = dip.steps_done();
        let next = steps.min((done / r.every + 1) * r.every);
        loss = dip.fit(next - done, |s: &StepInfo| {
            show_step(
                bar,
                &StepInfo {
                    step: done + s.step,
                    ..*s
                },
            );
            match signals::caught() {
                Some(_) => ControlFlow::Break(()),
                None => ControlFlow::Continue(()),
            }
        })?;
        if signals::caught().is_some() || dip.steps_done() == steps || dip.stopped() {
            break;
        }
        save(dip, steps, r.path)?;
    }
    drop(catch);
    if let Some((signal, name)) = signals::caught() {
        save(dip, steps, r.path)?;
        let (step, path) = (dip.steps_done(), r.path.to_path_buf());
        return Err(Interrupted {
            signal,
            name,
            step,
            steps,
            path,
        }
        .into());
    }
    Ok((loss, from))
}

/// Restores the checkpoint at `r.path` if there is one (`Err` if it is another fit's): the
/// step it resumes from (0 without one).
fn resume(dip: &mut Dip, steps: usize, r: &Resume, quiet: bool) -> Result<usize> {
    if !r.path.exists() {
        return Ok(0);
    }
    let p = r.path.display();
    let c = Checkpoint::load(r.path)?;
    let mut now = dip.fingerprint();
    now.push(("steps".into(), steps.to_string()));
    if let Err(e) = c.check(&now) {
        let hint = match &e {
            Error::CheckpointMismatch { setting, .. } => flags_of(setting),
            _ => "the settings",
        };
        return Err(e).with_context(|| {
            format!(
                "{p}: this checkpoint is of another fit (check {hint}); remove it to start \
                 over, or run with the settings it was made with"
            )
        });
    }
    dip.resume(&c)
        .with_context(|| format!("resuming from {p}"))?;
    if !quiet {
        eprintln!("resuming from {p}: step {} of {steps}", c.step());
        let kernels = dip.kernels().unwrap_or_default();
        if c.kernels() != kernels {
            eprintln!(
                "warning: the checkpoint was computed by {}; this run uses {kernels}: the result \
                 may differ in its last bits from an uninterrupted run",
                c.kernels()
            );
        }
    }
    Ok(c.step())
}

/// Saves the fit's state with the step count asked for, atomically.
fn save(dip: &mut Dip, steps: usize, path: &Path) -> Result<()> {
    let c = dip.checkpoint()?.with("steps", steps);
    c.save(path)
        .with_context(|| format!("saving the checkpoint {}", path.display()))
}

/// Removes the checkpoint once the fit's outputs are written.
pub(crate) fn finish(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing the checkpoint {}", path.display()))
        }
        _ => Ok(()),
    }
}
