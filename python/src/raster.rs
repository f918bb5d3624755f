//! The library's raster reading and GeoTIFF writing, for those who want cloudfill's GDAL I/O
//! rather than rasterio's: `read_raster` and `write_geotiff`.
use crate::{from_flags, from_image, to_image, to_mask, to_py};
use cloudfill::io::{self, Georef, Window};
use numpy::{PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::{PyFileExistsError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// A new H×W×C float32 array and a bool H×W one beside it.
type ImageAndFlags<'py> = (Bound<'py, PyArray3<f32>>, Bound<'py, PyArray2<bool>>);

/// Reads a raster (GeoTIFF or anything GDAL reads, `.npy`, PNG) as a dict: `image` (float32
/// H×W×C), `valid` (bool H×W, `False` where a band is nodata/NaN; `None` if all valid),
/// `nodata` (per band), `geotransform` (6 floats or `None`) and `projection` (WKT or `None`).
/// `bands` are 1-based; `window` is (xoff, yoff, xsize, ysize).
#[pyfunction]
#[pyo3(signature = (path, bands=None, window=None))]
fn read_raster(
    py: Python<'_>,
    path: PathBuf,
    bands: Option<Vec<usize>>,
    window: Option<(usize, usize, usize, usize)>,
) -> PyResult<Bound<'_, PyDict>> {
    let window = window.map(|(xoff, yoff, xsize, ysize)| Window {
        xoff,
        yoff,
        xsize,
        ysize,
    });
    let r = py
        .detach(|| io::read_raster(&path, bands.as_deref(), window))
        .map_err(to_py)?;
    let (h, w) = (r.image.h, r.image.w);
    let d = PyDict::new(py);
    d.set_item("image", from_image(py, r.image))?;
    d.set_item("valid", r.valid.map(|v| from_flags(py, h, w, v)))?;
    d.set_item("nodata", r.nodata)?;
    let (gt, proj) = match r.georef {
        Some(g) => (Some(g.geotransform.to_vec()), Some(g.projection)),
        None => (None, None),
    };
    d.set_item("geotransform", gt)?;
    d.set_item("projection", proj)?;
    Ok(d)
}

/// Writes a float32 H×W×C array as a GeoTIFF (one band per channel), atomically: a temporary
/// file renamed when complete. An existing file is refused unless `overwrite`.
#[pyfunction]
#[pyo3(signature = (path, image, geotransform=None, projection=None, nodata=None, overwrite=false, creation_options=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn write_geotiff(
    py: Python<'_>,
    path: PathBuf,
    image: PyReadonlyArray3<'_, f32>,
    geotransform: Option<[f64; 6]>,
    projection: Option<String>,
    nodata: Option<f64>,
    overwrite: bool,
    creation_options: Vec<String>,
) -> PyResult<()> {
    let img = to_image(&image)?;
    let georef = match (geotransform, projection) {
        (None, None) => None,
        (gt, proj) => Some(Georef {
            geotransform: gt.unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
            projection: proj.unwrap_or_default(),
        }),
    };
    if path.exists() && !overwrite {
        return Err(PyFileExistsError::new_err(format!(
            "{}: already exists (pass overwrite=True to replace it)",
            path.display()
        )));
    }
    py.detach(|| {
        io::output_guard(&path, true)?;
        io::write_geotiff(&path, &img, georef.as_ref(), &creation_options, nodata)
    })
    .map_err(to_py)
}

/// The reference's Sentinel-2 scaling of an H×W×C array: clip to [0, 10000], ÷ 2000.
#[pyfunction]
fn s2_preprocess<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'_, f32>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let img = to_image(&image)?;
    Ok(from_image(py, io::s2_preprocess(&img)))
}

/// The reference's Sentinel-1 scaling of an H×W×C linear-power array (channels 0 and 1: VV,
/// VH): dB, clipped, mapped to [0, 2]. Returns (the H×W×2 result, its bool H×W validity);
/// `valid` (bool H×W) marks pixels already known invalid (e.g. nodata).
#[pyfunction]
#[pyo3(signature = (image, valid=None))]
fn s1_preprocess<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'_, f32>,
    valid: Option<PyReadonlyArray2<'_, bool>>,
) -> PyResult<ImageAndFlags<'py>> {
    let img = to_image(&image)?;
    let valid = valid.map(|v| to_mask(&v)).transpose()?;
    if let Some(v) = &valid {
        if (v.h, v.w) != (img.h, img.w) {
            return Err(PyValueError::new_err(format!(
                "valid: expected an H×W mask of the image's size {}×{}, got {}×{}",
                img.h, img.w, v.h, v.w
            )));
        }
    }
    let (h, w) = (img.h, img.w);
    let (out, ok) =
        io::s1_preprocess(&img, valid.as_ref().map(|v| v.clear.as_slice())).map_err(to_py)?;
    Ok((from_image(py, out), from_flags(py, h, w, ok)))
}

/// The per-pixel median (NumPy's) or mean of the clear, finite observations of a stack of
/// float32 H×W×C dates, one bool H×W mask per date (`True` = clear). Returns (the composite,
/// NaN where no date is clear; its bool H×W validity).
#[pyfunction]
fn composite<'py>(
    py: Python<'py>,
    images: Vec<PyReadonlyArray3<'_, f32>>,
    masks: Vec<PyReadonlyArray2<'_, bool>>,
    stat: &str,
) -> PyResult<ImageAndFlags<'py>> {
    let stat = match stat {
        "median" => io::Stat::Median,
        "mean" => io::Stat::Mean,
        _ => {
            return Err(PyValueError::new_err(format!(
                "stat: expected 'median' or 'mean', got {stat:?}"
            )))
        }
    };
    let images = images.iter().map(to_image).collect::<PyResult<Vec<_>>>()?;
    let masks = masks.iter().map(to_mask).collect::<PyResult<Vec<_>>>()?;
    let (out, ok) = py
        .detach(|| io::composite(&images, &masks, stat))
        .map_err(to_py)?;
    Ok((from_image(py, out), from_flags(py, ok.h, ok.w, ok.clear)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_raster, m)?)?;
    m.add_function(wrap_pyfunction!(write_geotiff, m)?)?;
    m.add_function(wrap_pyfunction!(s2_preprocess, m)?)?;
    m.add_function(wrap_pyfunction!(s1_preprocess, m)?)?;
    m.add_function(wrap_pyfunction!(composite, m)?)?;
    Ok(())
}
