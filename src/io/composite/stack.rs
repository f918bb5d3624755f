//! A composite of files: every input checked against the first one's grid before any pixel is
//! read, then a band of rows of every input (and mask) at a time, reduced and written.
//!
//! Memory: one band of rows of all N inputs (`rows × W × C` f32 each, plus a row mask), with
//! `rows` chosen so that this stays under [`CompositeJob::memory`] (at least one row), plus the
//! band's result. A year of 10980-pixel-wide 3-band scenes (73 dates) is about 10.4 MB a row:
//! 25 rows at a time with the default 256 MiB.
use super::{reduce, Stat};
use crate::error::{Error, Result};
use crate::io::{
    self, check_distinct, file_err, raster_size, read_mask, read_raster, s2_preprocess, Georef,
    MaskOptions, PutRows, RowShape, Window,
};
use std::path::{Path, PathBuf};

/// Input pixels held at once by default: 256 MiB.
pub const DEFAULT_COMPOSITE_MEMORY: usize = 256 << 20;

/// A composite of co-registered rasters on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct CompositeJob {
    /// The dates, each a raster on one grid (same size, geotransform and projection).
    pub inputs: Vec<PathBuf>,
    /// One mask per input, in the same order, read with `mask_options` as `inpaint` reads its
    /// mask. `None`: every pixel is clear except the inputs' nodata/NaN pixels.
    pub masks: Option<Vec<PathBuf>>,
    pub mask_options: MaskOptions,
    /// 1-based bands of every input (`None` = all; every input must then have as many).
    pub bands: Option<Vec<usize>>,
    /// Sentinel-2 scaling of every observation (clip [0, 10000], ÷ 2000) before the statistic:
    /// the composite is then in the units of `inpaint --s2`'s target.
    pub s2: bool,
    pub stat: Stat,
    /// Bytes of input pixels read at a time (a band of rows of every input).
    pub memory: usize,
}

/// What [`CompositeJob::write`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct CompositeSummary {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    /// The first input's georeferencing, written to the output.
    pub georef: Option<Georef>,
    /// Clear (and valid) pixels of each input.
    pub clear: Vec<usize>,
    /// Pixels where no input is clear: nodata in the output.
    pub nodata: usize,
    /// Rows read and reduced at a time.
    pub rows_per_block: usize,
}

/// The grid of the first input, which every other input and mask must share.
#[derive(Clone, Debug, PartialEq)]
struct Grid {
    width: usize,
    height: usize,
    channels: usize,
    georef: Option<Georef>,
}

impl CompositeJob {
    /// A job with the defaults: no masks, all bands, no scaling, the median.
    pub fn new(inputs: Vec<PathBuf>) -> CompositeJob {
        CompositeJob {
            inputs,
            masks: None,
            mask_options: MaskOptions::default(),
            bands: None,
            s2: false,
            stat: Stat::Median,
            memory: DEFAULT_COMPOSITE_MEMORY,
        }
    }

    /// Checks the inputs without reading their pixels: at least one, one mask per input, and
    /// every input and mask on the first input's grid (size; geotransform and projection where
    /// both have one), with the same band count. `Err` naming the first file that differs and
    /// how.
    pub fn check(&self) -> Result<()> {
        self.grid().map(|_| ())
    }

    fn grid(&self) -> Result<Grid> {
        let first = self
            .inputs
            .first()
            .ok_or_else(|| Error::invalid("composite inputs", "no input raster was given"))?;
        if let Some(m) = &self.masks {
            if m.len() != self.inputs.len() {
                let why = format!(
                    "{} masks for {} inputs: give one mask per input, in the same order (or no \
                     masks at all)",
                    m.len(),
                    self.inputs.len()
                );
                return Err(Error::invalid("composite masks", why));
            }
        }
        let grid = self.input_grid(first)?;
        for p in &self.inputs[1..] {
            grid.same(first, p, &self.input_grid(p)?, true)?;
        }
        for p in self.masks.iter().flatten() {
            let (width, height) = raster_size(p)?;
            let georef = one_pixel(p, None)?.georef;
            let mask = Grid {
                width,
                height,
                channels: grid.channels,
                georef,
            };
            grid.same(first, p, &mask, false)?;
        }
        Ok(grid)
    }

    fn input_grid(&self, path: &Path) -> Result<Grid> {
        let (width, height) = raster_size(path)?;
        let r = one_pixel(path, self.bands.as_deref())?;
        Ok(Grid {
            width,
            height,
            channels: r.image.c,
            georef: r.georef,
        })
    }

    /// Rows of every input that fit in [`CompositeJob::memory`] (at least one).
    fn rows_per_block(&self, g: &Grid) -> usize {
        let row = self.inputs.len() * g.width * (g.channels * 4 + 1);
        (self.memory / row.max(1)).clamp(1, g.height)
    }

    /// `Err` unless `out` names a raster format (with valid `creation_options` for a GeoTIFF)
    /// and is none of the inputs and masks, however spelled.
    pub fn check_out(&self, out: &Path, creation_options: &[String]) -> Result<()> {
        let inputs: Vec<(&str, &Path)> = (self.inputs.iter().map(|p| ("--inputs", p.as_path())))
            .chain(
                self.masks
                    .iter()
                    .flatten()
                    .map(|p| ("--masks", p.as_path())),
            )
            .collect();
        check_distinct(&[("--out", out)], &inputs)?;
        io::check_raster_output(out, creation_options).map(|_| ())
    }

    /// Computes the composite and writes it to `out` (`.tif`/`.tiff`: float32 GeoTIFF with the
    /// first input's georeferencing and nodata NaN; `.npy`: H×W×C float32, NaN where no date is
    /// clear), a band of rows at a time, atomically. Checks everything [`CompositeJob::check`]
    /// and [`CompositeJob::check_out`] do before reading any pixel; does not check whether
    /// `out` exists ([`io::output_guard`] does).
    pub fn write(&self, out: &Path, creation_options: &[String]) -> Result<CompositeSummary> {
        self.write_with(out, creation_options, |_, _| {})
    }

    /// [`CompositeJob::write`], calling `on_rows(done, total)` after each band of rows.
    pub fn write_with(
        &self,
        out: &Path,
        creation_options: &[String],
        mut on_rows: impl FnMut(usize, usize),
    ) -> Result<CompositeSummary> {
        self.check_out(out, creation_options)?;
        let g = self.grid()?;
        let shape = RowShape {
            width: g.width,
            height: g.height,
            channels: g.channels,
        };
        let rows = self.rows_per_block(&g);
        let mut summary = CompositeSummary {
            width: g.width,
            height: g.height,
            channels: g.channels,
            georef: g.georef.clone(),
            clear: vec![0; self.inputs.len()],
            nodata: 0,
            rows_per_block: rows,
        };
        let (geo, co) = (g.georef.as_ref(), creation_options);
        io::write_raster_rows(out, shape, geo, co, Some(f64::NAN), |put| {
            self.each_block(&g, &mut summary, put, &mut on_rows)
        })?;
        Ok(summary)
    }

    /// Reads, reduces and puts every band of `summary.rows_per_block` rows, counting into
    /// `summary`.
    fn each_block(
        &self,
        g: &Grid,
        summary: &mut CompositeSummary,
        put: &mut PutRows,
        on_rows: &mut dyn FnMut(usize, usize),
    ) -> Result<()> {
        let rows = summary.rows_per_block;
        for y0 in (0..g.height).step_by(rows) {
            let win = Window {
                xoff: 0,
                yoff: y0,
                xsize: g.width,
                ysize: rows.min(g.height - y0),
            };
            let (mut stack, mut clear) = (Vec::new(), Vec::new());
            for k in 0..self.inputs.len() {
                let (values, m) = self.read_date(k, win)?;
                summary.clear[k] += m.iter().filter(|&&c| c).count();
                stack.push(values);
                clear.push(m);
            }
            let stack: Vec<&[f32]> = stack.iter().map(|v| &v[..]).collect();
            let clear: Vec<&[bool]> = clear.iter().map(|v| &v[..]).collect();
            let (vals, covered) = reduce(&stack, &clear, g.channels, self.stat);
            summary.nodata += covered.iter().filter(|&&c| !c).count();
            put(y0, win.ysize, &vals)?;
            on_rows(y0 + win.ysize, g.height);
        }
        Ok(())
    }

    /// Date `k` in window `win`: its values (bands selected, scaled with `s2`) and where it is
    /// clear (its mask, if any, and not nodata/NaN in any band).
    fn read_date(&self, k: usize, win: Window) -> Result<(Vec<f32>, Vec<bool>)> {
        let path = &self.inputs[k];
        let r = read_raster(path, self.bands.as_deref(), Some(win))?;
        let mut clear = match &self.masks {
            Some(m) => read_mask(&m[k], &self.mask_options, Some(win))?.clear,
            None => vec![true; win.xsize * win.ysize],
        };
        if let Some(valid) = &r.valid {
            for (c, &ok) in clear.iter_mut().zip(valid) {
                *c &= ok;
            }
        }
        let image = if self.s2 {
            s2_preprocess(&r.image)
        } else {
            r.image
        };
        Ok((image.data, clear))
    }
}

/// The top-left pixel of `path` (its georeferencing and band count without reading more).
fn one_pixel(path: &Path, bands: Option<&[usize]>) -> Result<io::Raster> {
    let pixel = Window {
        xoff: 0,
        yoff: 0,
        xsize: 1,
        ysize: 1,
    };
    read_raster(path, bands, Some(pixel))
}

impl Grid {
    /// `Err` naming `path` when `other` (its grid) is not this one (`first`'s): size, then
    /// band count (inputs only), then geotransform and projection.
    fn same(&self, first: &Path, path: &Path, other: &Grid, bands: bool) -> Result<()> {
        let name = first.display();
        if (other.width, other.height) != (self.width, self.height) {
            let why = format!(
                "size {}×{} (columns×rows) differs from the first input {name}'s {}×{}: every \
                 input and mask must be on one grid",
                other.width, other.height, self.width, self.height
            );
            return Err(file_err(path, why));
        }
        if bands && other.channels != self.channels {
            let why = format!(
                "{} bands, the first input {name} has {}: give --bands to pick the same bands",
                other.channels, self.channels
            );
            return Err(file_err(path, why));
        }
        match (&self.georef, &other.georef) {
            (Some(a), Some(b)) => georef_same(a, b).map_err(|why| {
                let why = format!(
                    "{why} of the first input {name}: every input and mask must be on one grid \
                     (e.g. gdalwarp it onto the first input's)"
                );
                file_err(path, why)
            }),
            (Some(_), None) if bands => {
                let why = format!("has no georeferencing, the first input {name} has");
                Err(file_err(path, why))
            }
            (None, Some(_)) if bands => {
                let why = format!("is georeferenced, the first input {name} is not");
                Err(file_err(path, why))
            }
            _ => Ok(()),
        }
    }
}

/// `Err` with what differs (geotransform or projection, with both values) unless `a` and `b` are
/// one grid: geotransforms equal to a millionth of a pixel, projections the same CRS.
fn georef_same(a: &Georef, b: &Georef) -> std::result::Result<(), String> {
    let (ga, gb) = (a.geotransform, b.geotransform);
    let pixel = ga[1].abs().max(ga[5].abs()).max(f64::MIN_POSITIVE);
    let close = (0..6).all(|i| (ga[i] - gb[i]).abs() <= 1e-6 * pixel);
    if !close {
        return Err(format!(
            "geotransform {gb:?} differs from the geotransform {ga:?}"
        ));
    }
    if a.projection == b.projection || same_crs(&a.projection, &b.projection) {
        return Ok(());
    }
    let (pa, pb) = (crs_name(&a.projection), crs_name(&b.projection));
    Err(format!("projection {pb} differs from the projection {pa}"))
}

fn same_crs(a: &str, b: &str) -> bool {
    use gdal::spatial_ref::SpatialRef;
    match (SpatialRef::from_wkt(a), SpatialRef::from_wkt(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A projection in words: `EPSG:32630` where it has an authority code, else the start of its WKT.
fn crs_name(wkt: &str) -> String {
    use gdal::spatial_ref::SpatialRef;
    if wkt.is_empty() {
        return "none".into();
    }
    let code = SpatialRef::from_wkt(wkt).ok().and_then(|s| {
        let name = s.auth_name()?;
        Some(format!("{name}:{}", s.auth_code().ok()?))
    });
    code.unwrap_or_else(|| wkt.chars().take(60).collect())
}
