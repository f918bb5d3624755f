//! Several problems of one size trained side by side in the same dispatches ([`fit_batch`]).
use super::{run_steps, Dip, DipConfig, StepInfo};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::{Image, Mask};
use crate::plan::{Plan, Problem};
use std::ops::ControlFlow;

/// One problem of a batch: the sources and their masks, as for [`Dip::set_target`] and
/// [`Dip::set_mask`] (empty masks: all clear).
#[derive(Clone, Debug)]
pub struct BatchItem {
    pub targets: Vec<Image>,
    pub masks: Vec<Mask>,
}

/// What [`fit_batch`] returns: each item's reconstructions (as [`Dip::output`]) and the last
/// loss read (the mean of the items' losses).
#[derive(Clone, Debug)]
pub struct BatchResult {
    pub outputs: Vec<Vec<Image>>,
    pub loss: Option<f32>,
}

/// Fits every item with its own network — exactly what a [`Dip`] of each would do with the same
/// settings (the same initial weights from `cfg.seed`, the same per-step noise), to the bit —
/// but all of them side by side in the same dispatches, which
/// keeps a large GPU busy and saves per-dispatch costs on small images. Items must have the same
/// size and sources of the same channel counts. `on_step` sees the steps of the whole batch (its
/// loss is the mean of the items'); `ControlFlow::Break` stops it (the result is then that of
/// the steps taken).
pub fn fit_batch(
    gpu: &Gpu,
    cfg: &DipConfig,
    items: Vec<BatchItem>,
    steps: usize,
    on_step: impl FnMut(&StepInfo) -> ControlFlow<()>,
) -> Result<BatchResult> {
    let Some(first) = items.first() else {
        return Err(Error::invalid("batch", "no items to fit"));
    };
    let shape = |it: &BatchItem| -> Vec<(usize, usize, usize)> {
        it.targets.iter().map(|t| (t.h, t.w, t.c)).collect()
    };
    let want = shape(first);
    let mut dips = Vec::with_capacity(items.len());
    let mut prepared = Vec::with_capacity(items.len());
    for (k, it) in items.into_iter().enumerate() {
        if shape(&it) != want {
            return Err(Error::invalid(
                "batch",
                format!(
                    "item {k} has sources of (H, W, C) {:?}, item 0 {want:?}: a batch needs one size",
                    shape(&it)
                ),
            ));
        }
        let mut dip = Dip::new(gpu, cfg.clone())?;
        dip.set_target(it.targets)?;
        if !it.masks.is_empty() {
            dip.set_mask(it.masks)?;
        }
        prepared.push(dip.prepare()?);
        dips.push(dip);
    }
    let problems: Vec<Problem> = (dips.iter().zip(&prepared))
        .map(|(d, p)| d.problem(p))
        .collect();
    let mut plan = Plan::new_batch(gpu, &cfg.net, &problems, dips[0].step_config())?;
    let loss = run_steps(&mut plan, steps, cfg.loss_every, on_step)?;
    let out = plan.render()?;
    let per = out.len() / dips.len();
    let outputs = (dips.iter().enumerate())
        .map(|(k, d)| d.unpack(&out[k * per..(k + 1) * per]))
        .collect::<Result<Vec<_>>>()?;
    Ok(BatchResult { outputs, loss })
}
