//! `cloudfill._native`: the Python extension over the cloudfill library.
//!
//! This layer is deliberately thin and strict: it takes arrays that the Python package
//! (`python/cloudfill/`) has already brought to the library's layout (float32 H×W×C, C-ordered;
//! bool H×W masks) and returns new numpy arrays owned by Python. The reference's shape rules,
//! dtype conversions and argument names live in Python, where a user can read them.
//!
//! One GPU context serves the whole process (opened on first use, like a framework's default
//! device); every fit holds a reference to it.
use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::{PyFileExistsError, PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::OnceLock;

mod fit;
mod raster;

static GPU: OnceLock<cloudfill::Gpu> = OnceLock::new();

/// The process's GPU context, opened on first use (best adapter, CPU fallback; the
/// `CLOUDFILL_BACKEND` / `CLOUDFILL_ADAPTER` environment variables choose, as for the CLI).
pub(crate) fn gpu() -> PyResult<&'static cloudfill::Gpu> {
    if let Some(g) = GPU.get() {
        return Ok(g);
    }
    let g = cloudfill::Gpu::new().map_err(to_py)?;
    Ok(GPU.get_or_init(|| g))
}

/// A library error as the Python exception a user expects: bad arguments and data are
/// `ValueError`, files `OSError` (an output that exists `FileExistsError`), adapter limits
/// `MemoryError`, the rest `RuntimeError`.
pub(crate) fn to_py(e: cloudfill::Error) -> PyErr {
    use cloudfill::Error as E;
    let msg = e.to_string();
    match e {
        E::ShapeMismatch { .. }
        | E::Invalid { .. }
        | E::EmptyMask { .. }
        | E::NonFinite { .. }
        | E::CheckpointMismatch { .. } => PyValueError::new_err(msg),
        E::OutputExists { .. } => PyFileExistsError::new_err(msg),
        E::Io { .. } | E::Gdal { .. } | E::File { .. } => PyOSError::new_err(msg),
        E::TooLarge { .. } | E::TooManyWorkgroups { .. } => PyMemoryError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// An H×W×C float32 array as a library image (copied once).
pub(crate) fn to_image(a: &PyReadonlyArray3<'_, f32>) -> PyResult<cloudfill::Image> {
    let (h, w, c) = a.as_array().dim();
    let data = match a.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => a.as_array().iter().copied().collect(),
    };
    cloudfill::Image::new(h, w, c, data).map_err(to_py)
}

/// An H×W bool array as a library mask (`true` = clear).
pub(crate) fn to_mask(a: &PyReadonlyArray2<'_, bool>) -> PyResult<cloudfill::Mask> {
    let (h, w) = a.as_array().dim();
    let clear = a.as_array().iter().copied().collect();
    cloudfill::Mask::new(h, w, clear).map_err(to_py)
}

/// A library image as a new H×W×C float32 numpy array.
pub(crate) fn from_image<'py>(py: Python<'py>, img: cloudfill::Image) -> Bound<'py, PyArray3<f32>> {
    Array3::from_shape_vec((img.h, img.w, img.c), img.data)
        .expect("an image's data is h·w·c long")
        .into_pyarray(py)
}

/// A per-pixel flag vector (row-major H×W) as a new bool numpy array.
pub(crate) fn from_flags<'py>(
    py: Python<'py>,
    h: usize,
    w: usize,
    flags: Vec<bool>,
) -> Bound<'py, PyArray2<bool>> {
    Array2::from_shape_vec((h, w), flags)
        .expect("h·w flags")
        .into_pyarray(py)
}

/// Every adapter wgpu finds, best first, as dicts, and the index of the one a fit would use
/// (`None` when a `CLOUDFILL_ADAPTER` filter matches none).
#[pyfunction]
fn adapters(py: Python<'_>) -> PyResult<(Vec<Bound<'_, pyo3::types::PyDict>>, Option<usize>)> {
    let (list, pick) = cloudfill::gpu::list_adapters().map_err(to_py)?;
    let dicts = list
        .into_iter()
        .map(|a| {
            let d = pyo3::types::PyDict::new(py);
            d.set_item("name", a.name)?;
            d.set_item("backend", a.backend)?;
            d.set_item("device_type", a.device_type)?;
            d.set_item("driver", a.driver)?;
            d.set_item("driver_info", a.driver_info)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((dicts, pick))
}

/// The adapter this process's fits run on (opening it if needed), as a one-line description.
#[pyfunction]
fn adapter() -> PyResult<String> {
    let s = gpu()?.summary();
    Ok(format!("{} ({}, {})", s.name, s.backend, s.device_type))
}

/// A stopping rule as the dict `LitDIP(stop=…)` takes.
fn rule_dict(
    py: Python<'_>,
    rule: cloudfill::StopRule,
) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let stop = pyo3::types::PyDict::new(py);
    stop.set_item("holdout", rule.holdout)?;
    stop.set_item("every", rule.every)?;
    stop.set_item("patience", rule.patience)?;
    stop.set_item("smoothing", rule.smoothing)?;
    stop.set_item("min_steps", rule.min_steps)?;
    stop.set_item("signal", signal_name(rule.signal))?;
    Ok(stop)
}

/// A stop signal's name in Python (as `LitDIP(stop={"signal": …})` takes it).
fn signal_name(s: cloudfill::StopSignal) -> &'static str {
    match s {
        cloudfill::StopSignal::Heldout => "heldout",
        cloudfill::StopSignal::Spread => "spread",
        cloudfill::StopSignal::Drift => "drift",
    }
}

/// The library's settings that the Python API defaults to, so they are never restated in
/// Python: the reference's (`DipConfig::default`), the recommended ensemble and stopping rules
/// (`stop` for one network, `stop_ensemble` for an ensemble, `stop_signals` the settings each
/// signal is measured with, by name).
#[pyfunction]
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let cfg = cloudfill::DipConfig::default();
    let d = pyo3::types::PyDict::new(py);
    d.set_item("lr", cfg.lr)?;
    d.set_item("noise_std", cfg.noise_std)?;
    d.set_item("seed", cfg.seed)?;
    d.set_item("loss_every", cfg.loss_every)?;
    d.set_item("sigmoid", cfg.net.sigmoid)?;
    d.set_item("ensemble", cloudfill::dip::RECOMMENDED_ENSEMBLE)?;
    d.set_item("stop", rule_dict(py, cloudfill::StopRule::recommended(1))?)?;
    d.set_item(
        "stop_ensemble",
        rule_dict(py, cloudfill::StopRule::recommended(2))?,
    )?;
    let signals = pyo3::types::PyDict::new(py);
    for s in [
        cloudfill::StopSignal::Heldout,
        cloudfill::StopSignal::Spread,
        cloudfill::StopSignal::Drift,
    ] {
        signals.set_item(
            signal_name(s),
            rule_dict(py, cloudfill::StopRule::for_signal(s))?,
        )?;
    }
    d.set_item("stop_signals", signals)?;
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add_function(wrap_pyfunction!(adapter, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_class::<fit::Fit>()?;
    raster::register(m)?;
    Ok(())
}
