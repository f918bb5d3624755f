//! Several problems of one size trained side by side in the same dispatches ([`fit_batch`]).
use super::ensemble::mean_std;
use super::{run_steps, Checks, Dip, DipConfig, StepInfo};
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

/// What [`fit_batch`] returns: each item's reconstructions (as [`Dip::output`]: an ensemble's
/// mean), their uncertainty (as [`Dip::uncertainty`]), each item's kept step under a stopping
/// rule, and the last loss read (the mean of the networks' losses).
#[derive(Clone, Debug)]
pub struct BatchResult {
    pub outputs: Vec<Vec<Image>>,
    pub uncertainty: Vec<Vec<Image>>,
    pub kept_steps: Vec<Option<usize>>,
    pub loss: Option<f32>,
}

/// Fits every item with its own network (or ensemble) — exactly what a [`Dip`] of each would do
/// with the same settings (the same initial weights from `cfg.seed`, the same per-step noise, the
/// same held-out pixels and checks), to the bit — but all of them side by side in the same
/// dispatches, which
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
    let members = cfg.ensemble.max(1);
    let mut plan = {
        let problems: Vec<Problem> = (dips.iter().zip(&prepared))
            .flat_map(|(d, p)| (0..members).map(move |k| d.problem(p, d.member_seed(k))))
            .collect();
        Plan::new_batch(gpu, &cfg.net, &problems, dips[0].step_config())?
    };
    let mut checks = cfg.stop.map(|rule| {
        let held = prepared
            .iter_mut()
            .filter_map(|p| p.check_pixels.take())
            .collect();
        Checks::new(rule, held, members)
    });
    let loss = run_steps(&mut plan, steps, cfg.loss_every, checks.as_mut(), on_step)?;
    let all_kept = checks
        .as_ref()
        .is_some_and(|c| c.kept.iter().all(Option::is_some));
    let out = if all_kept { Vec::new() } else { plan.render()? };
    let per = out.len() / plan.batch;
    let net_out = |j: usize| -> &[f32] {
        let kept = checks.as_ref().and_then(|c| c.kept[j].as_deref());
        kept.unwrap_or(&out[j * per..(j + 1) * per])
    };
    let (mut outputs, mut uncertainty) = (Vec::new(), Vec::new());
    for (i, d) in dips.iter().enumerate() {
        let refs: Vec<&[f32]> = (0..members).map(|k| net_out(i * members + k)).collect();
        let (mean, std) = mean_std(&refs);
        if mean.iter().any(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                step: plan.step as usize,
                loss: plan.read_loss()?,
            });
        }
        outputs.push(d.unpack(&mean)?);
        uncertainty.push(d.unpack(&std)?);
    }
    let kept_steps = checks.as_ref().map_or(vec![None; dips.len()], |c| {
        c.monitors.iter().map(|m| m.kept_step()).collect()
    });
    Ok(BatchResult {
        outputs,
        uncertainty,
        kept_steps,
        loss,
    })
}
