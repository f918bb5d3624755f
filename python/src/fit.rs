//! `_native.Fit`: one [`cloudfill::Dip`] — sources, masks, the fit and its results.
//!
//! A fit runs with the GIL released. After every step the GIL is taken back for a moment to
//! look for a pending signal (Ctrl-C in a notebook: `KeyboardInterrupt` after the step, the
//! object still usable) and, at every loss reading, to call the Python `on_step` callback, which
//! can stop the fit by returning `False`.
use crate::{from_flags, from_image, gpu, to_image, to_mask, to_py};
use cloudfill::{Dip, DipConfig, Latent, StepInfo, StopRule, StopSignal};
use numpy::{PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBool;
use std::ops::ControlFlow;

/// The stopping rule as Python passes it: (holdout, every, patience or None, smoothing,
/// min_steps, signal: "heldout", "spread" or "drift").
type StopTuple = (f64, usize, Option<usize>, f64, usize, String);

fn signal(name: &str) -> PyResult<StopSignal> {
    match name {
        "heldout" => Ok(StopSignal::Heldout),
        "spread" => Ok(StopSignal::Spread),
        "drift" => Ok(StopSignal::Drift),
        _ => Err(PyValueError::new_err(format!(
            "stop signal: expected 'heldout', 'spread' or 'drift', got {name:?}"
        ))),
    }
}

#[pyclass(module = "cloudfill._native")]
pub struct Fit {
    dip: Dip<'static>,
    /// Steps run by every `fit` call so far.
    steps_done: usize,
}

/// The library's latent from the Python spelling: "meshgrid", "target", or "noise" with a scale
/// and a depth.
fn latent(kind: &str, noise: Option<(f32, usize)>) -> PyResult<Latent> {
    match (kind, noise) {
        ("meshgrid", _) => Ok(Latent::Meshgrid),
        ("target", _) => Ok(Latent::Target),
        ("noise", Some((scale, depth))) => Ok(Latent::Noise { scale, depth }),
        _ => Err(PyValueError::new_err(format!(
            "latent_seed: expected 'meshgrid', 'target' or a (scale, depth) tuple, got {kind:?}"
        ))),
    }
}

#[pymethods]
impl Fit {
    #[new]
    #[pyo3(signature = (*, lr, noise_std, latent_kind, noise, sigmoid, seed, ensemble, stop, loss_every))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        lr: f32,
        noise_std: f32,
        latent_kind: &str,
        noise: Option<(f32, usize)>,
        sigmoid: bool,
        seed: u64,
        ensemble: usize,
        stop: Option<StopTuple>,
        loss_every: usize,
    ) -> PyResult<Fit> {
        let mut cfg = DipConfig {
            lr,
            noise_std,
            latent: latent(latent_kind, noise)?,
            seed,
            ensemble,
            loss_every: loss_every.max(1),
            stop: stop
                .map(|(holdout, every, patience, smoothing, min_steps, sig)| {
                    PyResult::Ok(StopRule {
                        holdout,
                        signal: signal(&sig)?,
                        every,
                        patience,
                        smoothing,
                        min_steps,
                    })
                })
                .transpose()?,
            ..DipConfig::default()
        };
        cfg.net.sigmoid = sigmoid;
        let dip = Dip::new(gpu()?, cfg).map_err(to_py)?;
        Ok(Fit { dip, steps_done: 0 })
    }

    /// The sources (float32 H×W×C each, all of one H×W); the first is inpainted.
    fn set_target(&mut self, targets: Vec<PyReadonlyArray3<'_, f32>>) -> PyResult<()> {
        let images = targets.iter().map(to_image).collect::<PyResult<Vec<_>>>()?;
        self.dip.set_target(images).map_err(to_py)?;
        self.steps_done = 0;
        Ok(())
    }

    /// One bool H×W mask per source (`True` = clear).
    fn set_mask(&mut self, masks: Vec<PyReadonlyArray2<'_, bool>>) -> PyResult<()> {
        let masks = masks.iter().map(to_mask).collect::<PyResult<Vec<_>>>()?;
        self.dip.set_mask(masks).map_err(to_py)?;
        self.steps_done = 0;
        Ok(())
    }

    /// Runs up to `steps` steps (continuing any earlier fit). `on_step(step, loss, best_rmse,
    /// best_step)` is called at every loss reading (`step` counts this call's steps); returning
    /// `False` stops. Returns (steps run, last loss, stopped by the callback).
    #[pyo3(signature = (steps, on_step=None))]
    fn fit(
        &mut self,
        py: Python<'_>,
        steps: usize,
        on_step: Option<Py<PyAny>>,
    ) -> PyResult<(usize, Option<f32>, bool)> {
        let mut failure: Option<PyErr> = None;
        let (mut ran, mut by_callback) = (0, false);
        let dip = &mut self.dip;
        let result = py.detach(|| {
            dip.fit(steps, |s| {
                ran = s.step;
                Python::attach(|py| match step_hook(py, s, on_step.as_ref()) {
                    Ok(true) => ControlFlow::Continue(()),
                    Ok(false) => {
                        by_callback = true;
                        ControlFlow::Break(())
                    }
                    Err(e) => {
                        failure = Some(e);
                        ControlFlow::Break(())
                    }
                })
            })
        });
        self.steps_done += ran;
        let loss = result.map_err(to_py)?;
        match failure {
            Some(e) => Err(e),
            None => Ok((ran, loss, by_callback)),
        }
    }

    /// The reconstruction of every source (an ensemble's mean), float32 H×W×C each.
    fn output<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyArray3<f32>>>> {
        let out = py.detach(|| self.dip.output()).map_err(to_py)?;
        Ok(out.into_iter().map(|i| from_image(py, i)).collect())
    }

    /// The output and the members' per-pixel standard deviation, from one render.
    #[allow(clippy::type_complexity)]
    fn output_and_uncertainty<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(
        Vec<Bound<'py, PyArray3<f32>>>,
        Vec<Bound<'py, PyArray3<f32>>>,
    )> {
        let (out, std) = py
            .detach(|| self.dip.output_and_uncertainty())
            .map_err(to_py)?;
        let arrays = |v: Vec<cloudfill::Image>| v.into_iter().map(|i| from_image(py, i)).collect();
        Ok((arrays(out), arrays(std)))
    }

    /// Steps run by every `fit` since the sources or masks were set.
    #[getter]
    fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// Under a stopping rule: the fit has stopped (a further `fit` does nothing useful).
    #[getter]
    fn stopped(&self) -> bool {
        self.dip.stopped()
    }

    /// The step whose output `output()` returns under a stopping rule (`None` without one, or
    /// before the first kept check).
    #[getter]
    fn kept_step(&self) -> Option<usize> {
        self.dip
            .monitors()
            .first()
            .and_then(|m| m.best.map(|b| b.1))
    }

    /// The step at which the patience ran out, under a stopping rule.
    #[getter]
    fn stopped_at(&self) -> Option<usize> {
        self.dip.monitors().first().and_then(|m| m.stopped_at)
    }

    /// (step, held-out MSE) of every check so far, under a stopping rule.
    #[getter]
    fn validation_curve(&self) -> Vec<(usize, f64)> {
        self.dip
            .monitors()
            .first()
            .map_or_else(Vec::new, |m| m.curve.clone())
    }

    /// The held-out pixels of the first source (bool H×W, `True` = held out), under a stopping
    /// rule.
    fn heldout_mask<'py>(&self, py: Python<'py>) -> Option<Bound<'py, numpy::PyArray2<bool>>> {
        let m = self.dip.heldout_mask()?;
        Some(from_flags(py, m.h, m.w, m.clear))
    }

    /// What was done to fit an image too small for the network, if anything.
    #[getter]
    fn size_note(&self) -> Option<String> {
        self.dip.fit_size().note()
    }
}

/// After one step, with the GIL: a pending signal is an error (raised after the fit); at a loss
/// reading the callback runs. `Ok(false)`: the callback asked to stop.
fn step_hook(py: Python<'_>, s: &StepInfo, on_step: Option<&Py<PyAny>>) -> PyResult<bool> {
    py.check_signals()?;
    let (Some(cb), Some(loss)) = (on_step, s.loss) else {
        return Ok(true);
    };
    let (best, best_step) = match s.validation {
        Some(v) if v.best.is_finite() => (Some(v.best), Some(v.best_steps.1)),
        _ => (None, None),
    };
    let answer = cb.call1(py, (s.step, loss, best, best_step))?;
    let answer = answer.bind(py);
    Ok(!answer.is_instance_of::<PyBool>() || answer.is_truthy()?)
}
