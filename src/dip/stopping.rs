//! The stopping rule: every [`StopRule::every`] steps each network's output on the clean latent
//! is scored on the held-out pixels ([`super::holdout`]); the output at the best check is kept,
//! and a network whose (smoothed) held-out error has not improved for [`StopRule::patience`]
//! steps stops. A batch or ensemble stops when all its networks have.
use crate::error::{Error, Result};

/// Validation and early stopping of a fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopRule {
    /// Fraction of the inpainted source's clear pixels held out of the loss (in cloud-shaped
    /// patches) and scored at every check.
    pub holdout: f64,
    /// Steps between checks (each costs about a third of a step).
    pub every: usize,
    /// Stop after this many steps without a better (smoothed) held-out error; `None`: run every
    /// step asked for and keep the best check's output.
    pub patience: Option<usize>,
    /// Weight of the past in an exponential moving average of the held-out error over checks
    /// (0: the raw error). Smoothing keeps the noise of the held-out error from picking a lucky
    /// check or stopping on an unlucky one.
    pub smoothing: f64,
    /// Checks before this step are never kept (the first steps improve fast and noisily, and
    /// their held-out error can be low by luck), so the patience counts from a later one.
    pub min_steps: usize,
}

impl Default for StopRule {
    fn default() -> Self {
        StopRule {
            holdout: 0.1,
            every: 25,
            patience: Some(150),
            smoothing: 0.5,
            min_steps: 200,
        }
    }
}

impl StopRule {
    /// Refuses settings that cannot work, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        if !(self.holdout > 0.0 && self.holdout < 0.9) {
            return Err(Error::invalid(
                "holdout",
                format!("must be in (0, 0.9), got {}", self.holdout),
            ));
        }
        if self.every == 0 {
            return Err(Error::invalid("check every", "must be at least 1 step"));
        }
        if !(0.0..1.0).contains(&self.smoothing) {
            return Err(Error::invalid(
                "smoothing",
                format!("must be in [0, 1), got {}", self.smoothing),
            ));
        }
        Ok(())
    }
}

/// One network's checks: the curve, the best (smoothed) held-out error and its step, and
/// whether the network has stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    pub(crate) rule: StopRule,
    /// (step, raw held-out MSE) of every check.
    pub curve: Vec<(usize, f64)>,
    pub(crate) smoothed: Option<f64>,
    /// The best smoothed held-out error and the step it came from.
    pub best: Option<(f64, usize)>,
    /// The check at which the patience ran out.
    pub stopped_at: Option<usize>,
}

/// What one check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The output of this check is the best so far: keep it.
    pub improved: bool,
    /// The network has stopped (now or earlier).
    pub stopped: bool,
}

impl Monitor {
    pub fn new(rule: StopRule) -> Monitor {
        Monitor {
            rule,
            curve: Vec::new(),
            smoothed: None,
            best: None,
            stopped_at: None,
        }
    }

    /// Records the held-out error `val` at `step`. A stopped network's checks are recorded but
    /// change nothing; a non-finite error never counts as an improvement.
    pub fn observe(&mut self, step: usize, val: f64) -> Observation {
        self.curve.push((step, val));
        if self.stopped_at.is_some() {
            return Observation {
                improved: false,
                stopped: true,
            };
        }
        let a = self.rule.smoothing;
        let s = match self.smoothed {
            Some(prev) if val.is_finite() => a * prev + (1.0 - a) * val,
            Some(prev) => prev,
            None => val,
        };
        self.smoothed = Some(s);
        let candidate = step >= self.rule.min_steps;
        let improved = candidate && s.is_finite() && self.best.is_none_or(|(b, _)| s < b);
        if improved {
            self.best = Some((s, step));
        }
        let since = self.best.map(|(_, at)| step - at);
        if since.is_some_and(|n| self.rule.patience.is_some_and(|p| n >= p)) {
            self.stopped_at = Some(step);
        }
        Observation {
            improved,
            stopped: self.stopped_at.is_some(),
        }
    }

    /// The step whose output is kept (the best check), if any check was made.
    pub fn kept_step(&self) -> Option<usize> {
        self.best.map(|(_, s)| s)
    }
}
