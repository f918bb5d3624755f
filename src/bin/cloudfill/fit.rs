//! The GPU and one fit with a progress bar (`demo`, single-image `inpaint`).
use crate::resume::{self, Resume};
use anyhow::Result;
use cloudfill::dip::{Dip, DipConfig, Monitor, StepInfo, StopSignal};
use cloudfill::io::{Image, Mask};
use cloudfill::Gpu;
use indicatif::{ProgressBar, ProgressStyle};
use std::ops::ControlFlow;
use std::time::Instant;

/// The GPU, named on stderr unless `quiet`.
pub(crate) fn open_gpu(quiet: bool) -> Result<Gpu> {
    let gpu = Gpu::new()?;
    if !quiet {
        eprintln!("adapter: {}", gpu.summary());
        if gpu.is_cpu() {
            eprintln!("note: this is a CPU adapter (no GPU found); expect slow fits");
        }
    }
    Ok(gpu)
}

/// What [`run_fit`] gives: the outputs (one per source; an ensemble's mean), their
/// uncertainty (the members' spread), seconds, the last loss read, the step a resumed fit
/// started from (0 for a fresh one), the steps taken, and each network's checks.
pub(crate) struct Fitted {
    pub outputs: Vec<Image>,
    pub uncertainty: Vec<Image>,
    pub seconds: f64,
    pub loss: Option<f32>,
    pub resumed_from: usize,
    pub steps_done: usize,
    pub monitors: Vec<Monitor>,
    pub diverged_at: Option<usize>,
}

/// Fits `sources` under `masks` for `steps` Adam steps, with a progress bar unless `quiet`;
/// saving and resuming as `resume` says when given.
pub(crate) fn run_fit(
    gpu: &Gpu,
    cfg: DipConfig,
    steps: usize,
    sources: Vec<Image>,
    masks: Vec<Mask>,
    quiet: bool,
    resume: Option<&Resume>,
) -> Result<Fitted> {
    let mut dip = Dip::new(gpu, cfg)?;
    dip.set_target(sources)?;
    dip.set_mask(masks)?;
    let bar = match quiet {
        true => ProgressBar::hidden(),
        false => ProgressBar::new(steps as u64),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} steps  {msg}  {per_sec}  ETA {eta}",
        )?
        .progress_chars("=> "),
    );
    let t0 = Instant::now();
    let (loss, resumed_from) = match resume {
        Some(r) => resume::fit(&mut dip, steps, r, &bar, quiet)?,
        None => {
            let loss = dip.fit(steps, |s: &StepInfo| {
                show_step(&bar, s);
                ControlFlow::Continue(())
            })?;
            (loss, 0)
        }
    };
    let (outputs, uncertainty) = dip.output_and_uncertainty()?;
    bar.finish();
    Ok(Fitted {
        outputs,
        uncertainty,
        seconds: t0.elapsed().as_secs_f64(),
        loss,
        resumed_from,
        steps_done: dip.steps_done(),
        monitors: dip.monitors().to_vec(),
        diverged_at: dip.diverged_at(),
    })
}

/// Under a stopping rule, what the fit kept, for stderr: each network's kept step (and when it
/// stopped), and a divergence that ended it.
pub(crate) fn describe_kept(fit: &Fitted) {
    if fit.monitors.is_empty() {
        return;
    }
    let m = &fit.monitors[0];
    match (m.kept_step(), m.stopped_at) {
        (Some(k), Some(s)) => eprintln!(
            "kept the best check, step {k}; stopped at step {s} ({} steps without a better one)",
            s - k
        ),
        (Some(k), None) => eprintln!("kept the best check, step {k}"),
        (None, _) => eprintln!("no check was kept (too few steps): the result is the last output"),
    }
    if let Some(s) = fit.diverged_at {
        eprintln!(
            "warning: the loss became non-finite at step {s} (try a smaller --lr); the output is \
             each network's best check before it"
        );
    }
}

/// An Adam step on a bar of steps: its position, the loss when it was read, and the best
/// held-out score so far (with the steps it came from) under a stopping rule.
pub(crate) fn show_step(bar: &ProgressBar, info: &StepInfo) {
    bar.set_position(info.step as u64);
    if let Some(l) = info.loss {
        let mut msg = format!("loss {l:.5}");
        if let Some(v) = &info.validation {
            let (a, b) = v.best_steps;
            let at = if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            };
            let what = match v.signal {
                StopSignal::Heldout => "held-out RMSE",
                StopSignal::Spread => "spread",
                StopSignal::Drift => "drift",
            };
            msg += &format!("  {what} {:.4} @ {at}", v.best);
            if v.running < v.items {
                msg += &format!("  ({}/{} running)", v.running, v.items);
            }
        }
        bar.set_message(msg);
    }
}
