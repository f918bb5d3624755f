//! The training loop shared by [`Dip::fit`](super::Dip::fit) and [`fit_batch`](super::fit_batch):
//! steps, the loss read now and then, and — with a [`StopRule`] — the checks on the held-out
//! pixels that keep each network's best output and stop the networks that stopped improving.
use super::holdout::CheckPixels;
use super::stopping::{Monitor, StopRule, StopSignal};
use super::StepInfo;
use crate::error::{Error, Result};
use crate::plan::Plan;
use std::ops::ControlFlow;
use std::time::Instant;

/// The checks of a plan's items: network `j` belongs to item `j / members` (an ensemble's
/// members are neighbours). Each item is scored by the held-out error of its members' MEAN (an
/// ensemble's result), so the members' outputs are kept, and the item stopped, together: a
/// member's own held-out error is noisier and picks its best check worse (BENCHMARKS.md §11).
pub(crate) struct Checks {
    rule: StopRule,
    pixels: Vec<CheckPixels>,
    members: usize,
    /// One per item.
    pub monitors: Vec<Monitor>,
    /// Each network's output (channel-major, padded) at its item's best check.
    pub kept: Vec<Option<Vec<f32>>>,
    /// Each item's mean in the fill region at its last check (the drift signal only).
    pub previous: Vec<Option<Vec<f32>>>,
    /// The step at which the loss became non-finite, when best outputs were kept and the fit
    /// ended there instead of failing.
    pub diverged_at: Option<usize>,
}

/// What a checkpoint keeps of [`Checks`]: everything but the rule and the held-out pixels, which
/// the resumed fit's settings and inputs give again.
#[derive(Clone, Debug, PartialEq)]
pub struct ChecksState {
    pub monitors: Vec<Monitor>,
    pub kept: Vec<Option<Vec<f32>>>,
    pub diverged_at: Option<usize>,
    /// One per item: what the drift signal compares the next check with (empty when the
    /// signal keeps none).
    pub previous: Vec<Option<Vec<f32>>>,
}

/// What the progress display shows of the checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidationInfo {
    /// The mean over items of the best smoothed score, as the signal reads: the held-out RMSE
    /// (the root of the mean MSE), or the spread.
    pub best: f64,
    /// What the score is.
    pub signal: StopSignal,
    /// The earliest and latest step of the items' best checks.
    pub best_steps: (usize, usize),
    /// Items (an ensemble counts once) that have not stopped.
    pub running: usize,
    pub items: usize,
}

impl Checks {
    pub fn new(rule: StopRule, pixels: Vec<CheckPixels>, members: usize) -> Checks {
        let items = pixels.len();
        Checks {
            rule,
            pixels,
            members,
            monitors: vec![Monitor::new(rule); items],
            kept: vec![None; items * members],
            previous: vec![None; items],
            diverged_at: None,
        }
    }

    pub fn state(&self) -> ChecksState {
        ChecksState {
            monitors: self.monitors.clone(),
            kept: self.kept.clone(),
            diverged_at: self.diverged_at,
            previous: self.previous.clone(),
        }
    }

    /// Takes a saved state back (same networks; the rule is this fit's).
    pub fn restore(&mut self, s: &ChecksState) -> Result<()> {
        if s.monitors.len() != self.monitors.len() || s.kept.len() != self.kept.len() {
            return Err(Error::shape(
                "checkpoint's checks (items, networks)",
                (self.monitors.len(), self.kept.len()),
                (s.monitors.len(), s.kept.len()),
            ));
        }
        for (m, saved) in self.monitors.iter_mut().zip(&s.monitors) {
            *m = Monitor {
                rule: m.rule,
                ..saved.clone()
            };
        }
        self.kept = s.kept.clone();
        self.diverged_at = s.diverged_at;
        if s.previous.len() == self.previous.len() {
            self.previous = s.previous.clone();
        }
        Ok(())
    }

    fn all_stopped(&self) -> bool {
        self.monitors.iter().all(|m| m.stopped_at.is_some())
    }

    fn all_kept(&self) -> bool {
        self.kept.iter().all(|k| k.is_some())
    }

    /// Renders every network on the clean latent, scores it, keeps the improved outputs.
    /// Returns whether every network has stopped.
    fn check(&mut self, plan: &Plan) -> Result<bool> {
        let out = plan.render()?;
        let per = out.len() / self.kept.len();
        let step = plan.step as usize;
        for (i, item) in out.chunks_exact(per * self.members).enumerate() {
            let members: Vec<&[f32]> = item.chunks_exact(per).collect();
            let val = self.pixels[i].score(self.rule.signal, &members, &mut self.previous[i]);
            let Some(val) = val else { continue };
            if self.monitors[i].observe(step, val).improved {
                for (k, o) in members.iter().enumerate() {
                    self.kept[i * self.members + k] = Some(o.to_vec());
                }
            }
        }
        Ok(self.all_stopped())
    }

    pub fn info(&self) -> Option<ValidationInfo> {
        let bests: Vec<(f64, usize)> = self.monitors.iter().filter_map(|m| m.best).collect();
        if bests.is_empty() {
            return None;
        }
        let mean = bests.iter().map(|b| b.0).sum::<f64>() / bests.len() as f64;
        let steps = bests.iter().map(|b| b.1);
        Some(ValidationInfo {
            best: match self.rule.signal {
                StopSignal::Heldout => mean.sqrt(),
                StopSignal::Spread | StopSignal::Drift => mean,
            },
            signal: self.rule.signal,
            best_steps: (steps.clone().min().unwrap_or(0), steps.max().unwrap_or(0)),
            running: self
                .monitors
                .iter()
                .filter(|m| m.stopped_at.is_none())
                .count(),
            items: self.monitors.len(),
        })
    }
}

/// `steps` Adam steps of `plan` (fewer when every network stopped; checks fall on multiples of
/// the rule's `every`, counted from the fit's start, so a fit taken in pieces checks as one), reading the loss every
/// `every` steps and at the last (for a batch, the mean of the networks' losses); returns the last
/// loss read. A non-finite loss is an error, unless every network has kept a best output: then
/// the fit ends there ([`Checks::diverged_at`]).
pub(super) fn run_steps(
    plan: &mut Plan,
    steps: usize,
    every: usize,
    mut checks: Option<&mut Checks>,
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
                match checks.as_deref_mut() {
                    Some(c) if c.all_kept() => {
                        c.diverged_at = Some(plan.step as usize);
                        break;
                    }
                    _ => return Err(Error::Diverged { step: s, loss: l }),
                }
            }
            last = Some(l);
            Some(l)
        } else {
            None
        };
        let mut done = false;
        if let Some(c) = checks.as_deref_mut() {
            if plan.step as usize % c.rule.every == 0 {
                done = c.check(plan)?;
            }
        }
        let info = StepInfo {
            step: s,
            steps,
            loss,
            elapsed: start.elapsed(),
            validation: checks.as_deref().and_then(Checks::info),
        };
        if on_step(&info).is_break() || done {
            break;
        }
    }
    plan.wait()?;
    Ok(last)
}
