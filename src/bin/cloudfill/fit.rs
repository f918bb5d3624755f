//! The GPU and one fit with a progress bar (`demo`, single-image `inpaint`).
use crate::resume::{self, Resume};
use anyhow::Result;
use cloudfill::dip::{Dip, DipConfig, StepInfo};
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

/// What [`run_fit`] gives: the outputs (one per source), seconds, the last loss read, and the
/// step a resumed fit started from (0 for a fresh one).
pub(crate) struct Fitted {
    pub outputs: Vec<Image>,
    pub seconds: f64,
    pub loss: Option<f32>,
    pub resumed_from: usize,
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
            "{spinner} [{bar:30}] {pos}/{len} steps  loss {msg}  {per_sec}  ETA {eta}",
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
    let outputs = dip.output()?;
    bar.finish();
    Ok(Fitted {
        outputs,
        seconds: t0.elapsed().as_secs_f64(),
        loss,
        resumed_from,
    })
}

/// An Adam step on a bar of steps: its position, and the loss when it was read.
pub(crate) fn show_step(bar: &ProgressBar, info: &StepInfo) {
    bar.set_position(info.step as u64);
    if let Some(l) = info.loss {
        bar.set_message(format!("{l:.5}"));
    }
}
