//! What a finished run reports, the same for a single image and a tiled scene: scores against a
//! cloud-free truth beside the mean-fill baseline ([`TruthScores`], whose `Display` is the
//! one-line summary), and the metrics document ([`Record::to_json`], `--metrics-json`).
use crate::dip::{DipConfig, Monitor};
use crate::io::{Image, Mask};
use crate::metrics::{self, Scores};
use crate::tiles::{Inputs, Loaded, TileOptions};
use serde_json::{json, Value};
use std::fmt;

/// The scores of a result and of the mean-fill baseline against the truth, on the first three
/// bands (SPEC §6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TruthScores {
    pub result: Scores,
    /// Cloud pixels of the input filled with the mean of its clear pixels.
    pub mean_fill: Scores,
}

impl TruthScores {
    /// Scores `result` and the mean fill of `input` against `truth` (all H×W, at least the
    /// bands scored) inside and outside the cloud of `mask`.
    ///
    /// # Panics
    /// When the images' sizes differ or `truth`/`input` have fewer bands than `result`'s first
    /// three (a programming error: [`Inputs::load_truth`] checks a truth file).
    pub fn new(result: &Image, truth: &Image, input: &Image, mask: &Mask) -> TruthScores {
        let c = result.c.min(3);
        let bands: Vec<usize> = (0..c).collect();
        let pick = |img: &Image| img.channels(&bands).expect("the scored bands exist");
        let (r, t, i) = (pick(result), pick(truth), pick(input));
        let (h, w) = (r.h, r.w);
        let base = metrics::mean_fill(&i.data, h, w, c, &mask.clear);
        TruthScores {
            result: metrics::scores(&r.data, &t.data, h, w, c, &mask.clear),
            mean_fill: metrics::scores(&base, &t.data, h, w, c, &mask.clear),
        }
    }
}

/// `PSNR cloud … dB (mean-fill …), full … dB; SSIM cloud … (mean-fill …), full …`
/// (`-` where there is no cloud).
impl fmt::Display for TruthScores {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let opt = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.3}"));
        let (s, b) = (&self.result, &self.mean_fill);
        write!(
            f,
            "PSNR cloud {} dB (mean-fill {}), full {:.2} dB; SSIM cloud {} (mean-fill {}), full {:.4}",
            opt(s.psnr_cloud),
            opt(b.psnr_cloud),
            s.psnr_full,
            opt(s.ssim_cloud),
            opt(b.ssim_cloud),
            s.ssim_full
        )
    }
}

/// How the result was made.
#[derive(Clone, Debug, PartialEq)]
pub enum RunKind {
    /// One fit of the whole region: its last loss read, and how it ended (`None`: no fit).
    Single(Option<f32>, Option<FitSummary>),
    /// Tile by tile.
    Tiled(TileOptions),
}

/// How a fit ended: the steps it took, and under a stopping rule each network's checks
/// (held-out curve, kept step, stop) and a divergence that ended it.
#[derive(Clone, Debug, PartialEq)]
pub struct FitSummary {
    pub steps_done: usize,
    pub monitors: Vec<Monitor>,
    pub diverged_at: Option<usize>,
    /// With a truth and an ensemble: how well the members' spread ranks the error in the cloud
    /// ([`metrics::uncertainty_spearman`]).
    pub uncertainty_spearman: Option<f64>,
}

impl FitSummary {
    pub fn new(monitors: &[Monitor], steps_done: usize, diverged_at: Option<usize>) -> FitSummary {
        FitSummary {
            steps_done,
            monitors: monitors.to_vec(),
            diverged_at,
            uncertainty_spearman: None,
        }
    }

    fn to_json(&self) -> Value {
        let m = self.monitors.first();
        let curve: Vec<Value> = m.map_or(vec![], |m| {
            m.curve.iter().map(|(s, v)| json!([s, v])).collect()
        });
        json!({
            "steps_done": self.steps_done, "diverged_at": self.diverged_at,
            "kept_step": m.and_then(Monitor::kept_step), "stopped_at": m.and_then(|m| m.stopped_at),
            "validation_curve": curve,
            "uncertainty_spearman_cloud": self.uncertainty_spearman,
        })
    }
}

/// A finished run, as the metrics document records it.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub inputs: &'a Inputs,
    /// The whole region as loaded: its target, and the user's mask.
    pub loaded: &'a Loaded,
    pub dip: &'a DipConfig,
    /// Adam steps (per tile).
    pub steps: usize,
    pub seconds: f64,
    /// The adapter, as [`Gpu::summary`](crate::Gpu::summary) shows it.
    pub adapter: String,
    pub kind: RunKind,
}

impl Record<'_> {
    /// The metrics document: inputs, size (`[rows, columns]`), settings, timing, and the truth
    /// scores when there are any (`null` otherwise).
    pub fn to_json(&self, truth: Option<&TruthScores>) -> Value {
        let (inp, mask, d) = (self.inputs, &self.loaded.user_mask, self.dip);
        let mut j = json!({
            "target": inp.target, "mask": inp.mask, "s1": inp.s1, "guides": inp.guides,
            "size": [mask.h, mask.w], "bands": self.loaded.sources[0].c,
            "cloud_fraction": mask.cloud_fraction(),
            "steps": self.steps, "seed": d.seed, "lr": d.lr, "noise_std": d.noise_std,
            "seconds": self.seconds, "adapter": self.adapter,
            "metrics": truth.map(|t| scores_json(&t.result)),
            "baseline_mean_fill": truth.map(|t| scores_json(&t.mean_fill)),
        });
        if d.ensemble > 1 || d.stop.is_some() {
            j["ensemble"] = json!(d.ensemble);
            j["stop"] = json!(d.stop.map(|r| json!({
                "holdout": r.holdout, "check_every": r.every, "patience": r.patience,
                "smoothing": r.smoothing, "min_steps": r.min_steps,
                "signal": format!("{:?}", r.signal).to_lowercase(),
            })));
        }
        match &self.kind {
            RunKind::Single(final_loss, summary) => {
                let done = summary.as_ref().map_or(self.steps, |s| s.steps_done);
                j["steps_per_second"] = json!(done as f64 / self.seconds);
                j["final_loss"] = json!(final_loss);
                if let Some(s) = summary
                    .as_ref()
                    .filter(|_| d.stop.is_some() || d.ensemble > 1)
                {
                    j["fit"] = s.to_json();
                }
            }
            RunKind::Tiled(t) => {
                j["tile"] = json!(t.tile);
                j["overlap"] = json!(t.overlap);
            }
        }
        j
    }
}

fn scores_json(s: &Scores) -> Value {
    json!({
        "psnr_cloud": s.psnr_cloud, "psnr_clear": s.psnr_clear, "psnr_full": s.psnr_full,
        "ssim_cloud": s.ssim_cloud, "ssim_full": s.ssim_full,
    })
}
