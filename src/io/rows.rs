//! Writing a raster a band of rows at a time (GeoTIFF by windows, `.npy` streamed), so a
//! whole-scene result never has to be in memory at once; atomically, like every output.
use super::{parse_options, reset_errors, write_atomic, write_failure, Georef, RasterFormat};
use crate::error::{Error, Result};
use gdal::raster::Buffer;
use gdal::DriverManager;
use npyz::WriterBuilder;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The size of a raster written by rows: columns, rows, bands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowShape {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

/// Puts one band of rows: `put(y0, rows, values)` with `values` `rows × width × channels`
/// (H×W×C order), for consecutive bands from the top (`y0` = the rows put so far).
pub type PutRows<'a> = dyn FnMut(usize, usize, &[f32]) -> Result<()> + 'a;

/// Writes `path` (`.tif`/`.tiff`: float32 GeoTIFF with `georef`, `creation_options` and every
/// band's `nodata` when given; `.npy`: H×W×C float32) from the bands of rows that `fill` puts,
/// atomically. `Err` if `fill` fails or does not put every row exactly once, in order.
pub fn write_raster_rows(
    path: &Path,
    shape: RowShape,
    georef: Option<&Georef>,
    creation_options: &[String],
    nodata: Option<f64>,
    fill: impl FnOnce(&mut PutRows) -> Result<()>,
) -> Result<()> {
    if shape.width == 0 || shape.height == 0 || shape.channels == 0 {
        let s = shape;
        let why = format!(
            "cannot write an empty {}×{}×{} raster",
            s.height, s.width, s.channels
        );
        return Err(super::file_err(path, why));
    }
    match RasterFormat::of(path)? {
        RasterFormat::Npy => write_npy_rows(path, shape, fill),
        RasterFormat::GeoTiff => {
            write_tif_rows(path, shape, georef, creation_options, nodata, fill)
        }
    }
}

/// Checks one band of rows against what was put before; returns the rows put after it.
fn next_rows(
    path: &Path,
    s: RowShape,
    done: usize,
    y0: usize,
    rows: usize,
    n: usize,
) -> Result<usize> {
    if y0 != done || y0 + rows > s.height || n != rows * s.width * s.channels {
        let why = format!(
            "internal: rows {y0}..{} ({n} values) put after {done} of {} rows",
            y0 + rows,
            s.height
        );
        return Err(Error::invalid(
            "row writer",
            format!("{}: {why}", path.display()),
        ));
    }
    Ok(done + rows)
}

fn all_rows(path: &Path, s: RowShape, done: usize) -> Result<()> {
    if done == s.height {
        return Ok(());
    }
    let why = format!("internal: {done} of {} rows were put", s.height);
    Err(Error::invalid(
        "row writer",
        format!("{}: {why}", path.display()),
    ))
}

fn write_npy_rows(
    path: &Path,
    s: RowShape,
    fill: impl FnOnce(&mut PutRows) -> Result<()>,
) -> Result<()> {
    write_atomic(path, |tmp| {
        let io_err = |e: std::io::Error| Error::io(path, "cannot write .npy", e);
        let mut file = BufWriter::new(std::fs::File::create(tmp).map_err(io_err)?);
        let npy_shape = [s.height as u64, s.width as u64, s.channels as u64];
        let mut w = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&npy_shape)
            .writer(&mut file)
            .begin_nd()
            .map_err(io_err)?;
        let mut done = 0;
        fill(&mut |y0, rows, vals| {
            done = next_rows(path, s, done, y0, rows, vals.len())?;
            w.extend(vals.iter().copied()).map_err(io_err)
        })?;
        all_rows(path, s, done)?;
        w.finish().map_err(io_err)?;
        file.flush().map_err(io_err)
    })
}

fn write_tif_rows(
    path: &Path,
    s: RowShape,
    georef: Option<&Georef>,
    creation_options: &[String],
    nodata: Option<f64>,
    fill: impl FnOnce(&mut PutRows) -> Result<()>,
) -> Result<()> {
    let gdal_err = |source| Error::Gdal {
        path: path.to_path_buf(),
        source,
    };
    let opts = parse_options(path, creation_options)?;
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(gdal_err)?;
    let (w, c) = (s.width, s.channels);
    write_atomic(path, |tmp| {
        reset_errors();
        let mut ds = driver
            .create_with_band_type_with_options::<f32, _>(tmp, w, s.height, c, &opts)
            .map_err(gdal_err)?;
        if let Some(geo) = georef {
            ds.set_geo_transform(&geo.geotransform).map_err(gdal_err)?;
            if !geo.projection.is_empty() {
                ds.set_projection(&geo.projection).map_err(gdal_err)?;
            }
        }
        for ch in 0..c {
            let mut band = ds.rasterband(ch + 1).map_err(gdal_err)?;
            if nodata.is_some() {
                band.set_no_data_value(nodata).map_err(gdal_err)?;
            }
        }
        let mut done = 0;
        fill(&mut |y0, rows, vals| {
            done = next_rows(path, s, done, y0, rows, vals.len())?;
            for ch in 0..c {
                let plane: Vec<f32> = vals.iter().skip(ch).step_by(c).copied().collect();
                let mut band = ds.rasterband(ch + 1).map_err(gdal_err)?;
                let mut buf = Buffer::new((w, rows), plane);
                band.write((0, y0 as isize), (w, rows), &mut buf)
                    .map_err(gdal_err)?;
            }
            Ok(())
        })?;
        all_rows(path, s, done)?;
        ds.flush_cache().map_err(gdal_err)?;
        ds.close().map_err(gdal_err)?;
        write_failure(path)
    })
}
