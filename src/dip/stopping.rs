//! The stopping rule: every [`StopRule::every`] steps each network's output on the clean latent
//! is scored ([`StopSignal`]: the error on the held-out pixels of [`super::holdout`], or an
//! ensemble's spread inside the cloud); the output at the best check is kept, and a network whose
//! (smoothed) score has not improved for [`StopRule::patience`] steps stops. A batch or ensemble
//! stops when all its networks have.
use crate::error::{Error, Result};

/// What a check scores (lower is better).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// The mean squared error of the ensemble's mean (one network: its own output) on the
    /// held-out pixels.
    Heldout,
    /// The members' disagreement where the image is being filled: the mean, over the cloudy
    /// elements of the inpainted source, of the members' per-element standard deviation (what
    /// `--uncertainty` writes). Needs an ensemble of at least 2. Members that start to fit the
    /// clear pixels' detail fill the cloud each in its own way, so the spread turns up when the
    /// fill stops getting better (BENCHMARKS.md §11); no truth and no held-out pixels needed.
    Spread,
    /// How much the fill still moves: the mean absolute change, over the cloudy elements of the
    /// inpainted source, of the ensemble's mean (one network: its output) since the previous
    /// check (a plateau detector in the spirit of the windowed-variance early stopping for Deep
    /// Image Prior, "ES-WMV"). Works for one network, with no pixel held out; the first check
    /// has nothing to compare with and only records the output.
    Drift,
}

/// Validation and early stopping of a fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopRule {
    /// Fraction of the inpainted source's clear pixels held out of the loss (in cloud-shaped
    /// patches) and scored at every check; 0 (only with [`StopSignal::Spread`]) fits every clear
    /// pixel.
    pub holdout: f64,
    /// What a check scores.
    pub signal: StopSignal,
    /// Steps between checks (each costs about a third of a step).
    pub every: usize,
    /// Stop after this many steps without a better (smoothed) score; `None`: run every
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
            signal: StopSignal::Heldout,
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
        let least = match self.signal {
            StopSignal::Heldout => f64::MIN_POSITIVE,
            StopSignal::Spread | StopSignal::Drift => 0.0,
        };
        if !(self.holdout >= least && self.holdout < 0.9) {
            let range = match self.signal {
                StopSignal::Heldout => "(0, 0.9) (the held-out signal scores those pixels)",
                StopSignal::Spread | StopSignal::Drift => "[0, 0.9)",
            };
            return Err(Error::invalid(
                "holdout",
                format!("must be in {range}, got {}", self.holdout),
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

    /// The recommended rule for an ensemble of `k` networks ([`StopRule::for_signal`]): from 2
    /// on, the spread; for one network, the drift (it beat the held-out rule, whose patches
    /// take clear pixels out of the fit, by 0.4–4.9 dB on every scene measured end to end:
    /// BENCHMARKS.md §11).
    pub fn recommended(k: usize) -> StopRule {
        StopRule::for_signal(if k >= 2 {
            StopSignal::Spread
        } else {
            StopSignal::Drift
        })
    }

    /// The measured settings for each signal (BENCHMARKS.md §11). Held-out: [`StopRule::default`].
    /// Spread and drift: no pixel held out (they need none, and every clear pixel then helps the
    /// fill) and no check kept before step 300 (the spread bottoms out early, near step
    /// 100–200, even on scenes whose fill still sharpens after it; the drift falls fastest in
    /// the first steps, while the fill is still far from its best).
    pub fn for_signal(signal: StopSignal) -> StopRule {
        match signal {
            StopSignal::Heldout => StopRule::default(),
            StopSignal::Spread | StopSignal::Drift => StopRule {
                holdout: 0.0,
                signal,
                min_steps: 300,
                ..StopRule::default()
            },
        }
    }

    /// [`StopRule::validate`], and a signal the fit's `ensemble` size can give.
    pub fn validate_for(&self, ensemble: usize) -> Result<()> {
        self.validate()?;
        if self.signal == StopSignal::Spread && ensemble < 2 {
            return Err(Error::invalid(
                "stop signal",
                format!(
                    "the spread needs an ensemble of at least 2 networks, got {ensemble} (use the \
                     held-out signal for one network)"
                ),
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
