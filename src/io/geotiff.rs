//! GDAL rasters: reading any format GDAL opens (windowed), writing float32 GeoTIFF.
use super::{band_indices, file_err, validity, write_atomic, Georef, Image, Raster, Window};
use crate::error::{Error, Result};
use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::{Dataset, DatasetOptions, DriverManager, GdalOpenFlags};
use std::path::Path;

/// Default GeoTIFF creation options; `creation_options` override them key by key.
const DEFAULT_OPTIONS: [(&str, &str); 3] = [
    ("COMPRESS", "DEFLATE"),
    ("PREDICTOR", "3"),
    ("TILED", "YES"),
];

fn gdal_err(path: &Path) -> impl Fn(gdal::errors::GdalError) -> Error + '_ {
    move |source| Error::Gdal {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens a raster for reading; `Err` naming `path` once with what is wrong: no such file, a
/// folder, not a raster GDAL can read, or the driver's own reason.
pub(crate) fn open_raster(path: &Path) -> Result<Dataset> {
    let virtual_path = path.to_string_lossy().starts_with("/vsi");
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !virtual_path => {
            return Err(file_err(path, "no such file"))
        }
        Err(e) if !virtual_path => return Err(Error::io(path, "cannot open", e)),
        Ok(m) if m.is_dir() => return Err(file_err(path, "is a folder, not a raster file")),
        _ => {}
    }
    let flags = GdalOpenFlags::GDAL_OF_READONLY
        | GdalOpenFlags::GDAL_OF_RASTER
        | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR;
    let options = DatasetOptions {
        open_flags: flags,
        ..DatasetOptions::default()
    };
    // GDAL's own handler would print the reason on stderr as well: keep it quiet, and say it
    // in the error instead.
    // SAFETY: pushes GDAL's quiet handler for this thread; popped right after the open.
    unsafe { gdal_sys::CPLPushErrorHandler(Some(gdal_sys::CPLQuietErrorHandler)) };
    let r = Dataset::open_ex(path, options);
    // SAFETY: pops the handler pushed above.
    unsafe { gdal_sys::CPLPopErrorHandler() };
    r.map_err(|e| file_err(path, open_reason(e)))
}

/// What a failed GDAL open means, in words.
fn open_reason(e: gdal::errors::GdalError) -> String {
    use gdal::errors::GdalError;
    match e {
        GdalError::NullPointer { msg, .. }
            if msg.trim().is_empty() || msg.contains("not recognized as") =>
        {
            "not a raster GDAL can read (no GDAL driver recognises its format)".to_string()
        }
        GdalError::NullPointer { msg, .. } => format!("GDAL cannot open it: {}", msg.trim()),
        e => format!("GDAL cannot open it: {e}"),
    }
}

/// (columns, rows) of a GDAL raster.
pub(super) fn gdal_size(path: &Path) -> Result<(usize, usize)> {
    Ok(open_raster(path)?.raster_size())
}

/// Reads the listed bands (all when `None`) of a GDAL raster, optionally one window of it.
pub(super) fn read_gdal(
    path: &Path,
    bands: Option<&[usize]>,
    window: Option<Window>,
) -> Result<Raster> {
    let ds = open_raster(path)?;
    let (w, h) = ds.raster_size();
    let count = ds.raster_count();
    if count == 0 {
        return Err(file_err(path, "has no raster bands"));
    }
    let indices = match bands {
        Some(list) => band_indices(path, list, count)?,
        None => (0..count).collect(),
    };
    let win = window.unwrap_or(Window {
        xoff: 0,
        yoff: 0,
        xsize: w,
        ysize: h,
    });
    win.check(path, w, h)?;
    let c = indices.len();
    let mut data = vec![0f32; win.xsize * win.ysize * c];
    let mut nodata = Vec::with_capacity(c);
    for (ch, &b) in indices.iter().enumerate() {
        let band = ds.rasterband(b + 1).map_err(gdal_err(path))?;
        nodata.push(band.no_data_value());
        let size = (win.xsize, win.ysize);
        let offset = (win.xoff as isize, win.yoff as isize);
        let buf = band
            .read_as::<f32>(offset, size, size, None)
            .map_err(gdal_err(path))?;
        for (i, &v) in buf.data().iter().enumerate() {
            data[i * c + ch] = v;
        }
    }
    let image = Image::new(win.ysize, win.xsize, c, data)?;
    let georef = ds.geo_transform().ok().map(|geotransform| {
        Georef {
            geotransform,
            projection: ds.projection(),
        }
        .shifted(win.xoff, win.yoff)
    });
    let valid = validity(&image, &nodata);
    Ok(Raster {
        image,
        georef,
        nodata,
        valid,
    })
}

/// Parses `KEY=VALUE` creation options over the defaults (COMPRESS=DEFLATE, PREDICTOR=3,
/// TILED=YES).
pub(crate) fn parse_options(path: &Path, extra: &[String]) -> Result<RasterCreationOptions> {
    let mut opts = RasterCreationOptions::new();
    for (k, v) in DEFAULT_OPTIONS {
        opts.set_name_value(k, v).map_err(gdal_err(path))?;
    }
    for o in extra {
        let (k, v) = o
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| Error::invalid("creation option", format!("{o:?} is not KEY=VALUE")))?;
        opts.set_name_value(k.trim(), v.trim())
            .map_err(gdal_err(path))?;
    }
    Ok(opts)
}

/// Writes `img` as a float32 GeoTIFF (one band per channel), atomically.
///
/// Sets the geotransform and projection when `georef` is given (an empty projection is left
/// unset) and every band's nodata value when `nodata` is given.
pub fn write_geotiff(
    path: &Path,
    img: &Image,
    georef: Option<&Georef>,
    creation_options: &[String],
    nodata: Option<f64>,
) -> Result<()> {
    if img.h == 0 || img.w == 0 || img.c == 0 {
        return Err(file_err(
            path,
            format!("cannot write an empty {}×{}×{} image", img.h, img.w, img.c),
        ));
    }
    let opts = parse_options(path, creation_options)?;
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(gdal_err(path))?;
    write_atomic(path, |tmp| {
        let err = gdal_err(path);
        reset_errors();
        let mut ds = driver
            .create_with_band_type_with_options::<f32, _>(tmp, img.w, img.h, img.c, &opts)
            .map_err(&err)?;
        if let Some(g) = georef {
            ds.set_geo_transform(&g.geotransform).map_err(&err)?;
            if !g.projection.is_empty() {
                ds.set_projection(&g.projection).map_err(&err)?;
            }
        }
        let mut plane = vec![0f32; img.h * img.w];
        for ch in 0..img.c {
            for (dst, px) in plane.iter_mut().zip(img.data.chunks_exact(img.c)) {
                *dst = px[ch];
            }
            let mut band = ds.rasterband(ch + 1).map_err(&err)?;
            if nodata.is_some() {
                band.set_no_data_value(nodata).map_err(&err)?;
            }
            let mut buf = Buffer::new((img.w, img.h), plane);
            band.write((0, 0), (img.w, img.h), &mut buf).map_err(&err)?;
            plane = buf.into_shape_and_vec().1;
        }
        ds.flush_cache().map_err(&err)?;
        ds.close().map_err(&err)?;
        write_failure(path)
    })
}

/// Clears this thread's GDAL error state before a write checked by [`write_failure`].
pub(crate) fn reset_errors() {
    // SAFETY: resets this thread's GDAL error state; no pointers involved.
    unsafe { gdal_sys::CPLErrorReset() };
}

/// `Err` with GDAL's message if a write, flush or close on this thread failed since the last
/// [`reset_errors`] (before GDAL 3.7 `GDALClose` and `GDALFlushCache` return nothing, and a full
/// disk only shows up here).
pub(crate) fn write_failure(path: &Path) -> Result<()> {
    let (kind, msg) = last_error();
    if kind == gdal_sys::CPLErr::CE_Failure || kind == gdal_sys::CPLErr::CE_Fatal {
        return Err(file_err(
            path,
            format!("writing the GeoTIFF failed: {msg} (is the disk full?); nothing was written"),
        ));
    }
    Ok(())
}

/// This thread's last GDAL error: its class and message.
fn last_error() -> (gdal_sys::CPLErr::Type, String) {
    // SAFETY: plain queries of this thread's GDAL error state; the message pointer is GDAL's
    // own NUL-terminated buffer, copied before any other GDAL call.
    unsafe {
        let kind = gdal_sys::CPLGetLastErrorType();
        let msg = gdal_sys::CPLGetLastErrorMsg();
        let msg = if msg.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        (kind, msg)
    }
}

/// Checks GeoTIFF creation options before any work: each is KEY=VALUE and GDAL's GTiff driver
/// accepts it (`GDALValidateCreationOptions`: known keys, allowed values).
pub fn check_creation_options(path: &Path, creation_options: &[String]) -> Result<()> {
    let opts = parse_options(path, creation_options)?;
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(gdal_err(path))?;
    reset_errors();
    // SAFETY: both handles are live for the call (the driver is GDAL's, the list is owned by
    // `opts`); GDAL only reads them.
    let ok = unsafe { gdal_sys::GDALValidateCreationOptions(driver.c_driver(), opts.as_ptr()) };
    if ok == 0 {
        let (_, msg) = last_error();
        return Err(Error::invalid(
            "creation option (--co)",
            format!("GDAL's GeoTIFF driver refuses {creation_options:?}: {msg}"),
        ));
    }
    Ok(())
}
