//! Assembling the full-extent result from a work dir's tiles, a band of rows at a time.
//!
//! Memory: one band of `ROWS` output rows (`ROWS × W × C` f64 sums + `ROWS × W` f64 weights +
//! the f32 result) plus the rows of one tile at a time; tiles are read row range by row range
//! (never whole), and the GeoTIFF is written by windows. For a 10980-pixel-wide, 13-band scene
//! that is about 16 MB.
use super::grid::{Grid, TileRect};
use super::workdir::{self, TileState};
use crate::error::{Error, Result};
use crate::io::{self, Georef, RowShape};
use serde_json::{Map, Value};
use std::path::Path;

/// Output rows blended at a time.
const ROWS: usize = 32;

/// What [`merge`] assembled.
#[derive(Clone, Debug)]
pub struct MergeSummary {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub tiles: usize,
    /// Tiles written as nodata (too little clear target).
    pub nodata: Vec<TileRect>,
}

/// The grid, channel count and georeferencing recorded in a manifest.
pub(crate) fn layout(dir: &Path, s: &Map<String, Value>) -> Result<(Grid, usize, Option<Georef>)> {
    let num = |k: &str| {
        s.get(k)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| {
                io::file_err(
                    &workdir::manifest_path(dir),
                    format!("the manifest lacks `{k}`"),
                )
            })
    };
    let grid = Grid::new(num("width")?, num("height")?, num("tile")?, num("overlap")?)?;
    let georef = match s.get("geotransform").and_then(Value::as_array) {
        Some(a) if a.len() == 6 => {
            let mut g = [0f64; 6];
            for (d, v) in g.iter_mut().zip(a) {
                *d = v.as_f64().unwrap_or(0.0);
            }
            Some(Georef {
                geotransform: g,
                projection: s
                    .get("projection")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
        }
        _ => None,
    };
    Ok((grid, num("channels")?, georef))
}

/// Assembles the tiles of `work_dir` into `out` (`.tif`/`.tiff`: float32 GeoTIFF with the
/// input's georeferencing and, when some tiles are nodata, nodata = NaN; `.npy`: H×W×C float32),
/// written atomically. `Err` naming the missing tiles when the work dir is incomplete.
pub fn merge(work_dir: &Path, out: &Path, creation_options: &[String]) -> Result<MergeSummary> {
    let settings = workdir::read_manifest(work_dir)?;
    merge_files(
        work_dir,
        &settings,
        out,
        creation_options,
        workdir::tile_path,
    )
}

/// Assembles the tiles' uncertainty (the ensembles' per-pixel standard deviations, written by
/// runs with [`Job::uncertainty`](super::Job::uncertainty)) into `out` as [`merge`] assembles
/// their results: with the same weights, so in an overlap σ is the blend of the tiles' σ (the
/// σ of a blend of independent fits would be smaller; the blend is the conservative figure),
/// and NaN where only nodata tiles cover. `Err` when the work dir's run did not keep it.
pub fn merge_uncertainty(
    work_dir: &Path,
    out: &Path,
    creation_options: &[String],
) -> Result<MergeSummary> {
    let settings = workdir::read_manifest(work_dir)?;
    uncertainty_kept(work_dir, &settings)?;
    merge_files(
        work_dir,
        &settings,
        out,
        creation_options,
        workdir::sigma_path,
    )
}

/// `Ok` when the run of `work_dir` kept the tiles' uncertainty (so [`merge_uncertainty`] can
/// run): a check to make before writing anything.
pub fn check_uncertainty_kept(work_dir: &Path) -> Result<()> {
    uncertainty_kept(work_dir, &workdir::read_manifest(work_dir)?)
}

fn uncertainty_kept(work_dir: &Path, settings: &Map<String, Value>) -> Result<()> {
    if settings.get("uncertainty") != Some(&Value::Bool(true)) {
        return Err(Error::invalid(
            "uncertainty",
            format!(
                "{}: the tiles of this work dir were fitted without --uncertainty; run them \
                 with it (in a new work dir) to merge an uncertainty map",
                work_dir.display()
            ),
        ));
    }
    Ok(())
}

/// [`merge`] of the tile files that `file` names.
fn merge_files(
    work_dir: &Path,
    settings: &Map<String, Value>,
    out: &Path,
    creation_options: &[String],
    file: fn(&Path, &TileRect) -> std::path::PathBuf,
) -> Result<MergeSummary> {
    let (grid, c, georef) = layout(work_dir, settings)?;
    let states: Vec<TileState> = grid
        .tiles()
        .map(|t| workdir::tile_state(work_dir, &t))
        .collect();
    let missing: Vec<String> = grid
        .tiles()
        .filter(|t| states[t.index] == TileState::Missing)
        .map(|t| format!("tile_{}_{}", t.row, t.col))
        .collect();
    if !missing.is_empty() {
        let shown = missing
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = missing.len().saturating_sub(20);
        return Err(Error::invalid(
            "work dir",
            format!(
                "{}: {} of {} tiles are missing ({shown}{}): run the missing shards first",
                work_dir.display(),
                missing.len(),
                grid.len(),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
    }
    let nodata: Vec<TileRect> = grid
        .tiles()
        .filter(|t| states[t.index] == TileState::NoData)
        .collect();
    let blender = Blender {
        dir: work_dir,
        grid: &grid,
        states: &states,
        c,
        file,
    };
    let shape = RowShape {
        width: grid.width,
        height: grid.height,
        channels: c,
    };
    let nd = (!nodata.is_empty()).then_some(f64::NAN);
    let (geo, co) = (georef.as_ref(), creation_options);
    io::write_raster_rows(out, shape, geo, co, nd, |put| blender.each_band(put))?;
    Ok(MergeSummary {
        width: grid.width,
        height: grid.height,
        channels: c,
        tiles: grid.len(),
        nodata,
    })
}

struct Blender<'a> {
    dir: &'a Path,
    grid: &'a Grid,
    states: &'a [TileState],
    c: usize,
    /// The file of a tile that is blended (its result, or its σ).
    file: fn(&Path, &TileRect) -> std::path::PathBuf,
}

impl Blender<'_> {
    /// Calls `put(y0, rows, values)` for consecutive bands of rows (values `rows × W × C`).
    fn each_band(&self, put: &mut io::PutRows) -> Result<()> {
        let (g, c) = (self.grid, self.c);
        let wx: Vec<Vec<f32>> = (0..g.cols()).map(|i| g.weights_x(i)).collect();
        let wy: Vec<Vec<f32>> = (0..g.rows()).map(|i| g.weights_y(i)).collect();
        for a in (0..g.height).step_by(ROWS) {
            let b = (a + ROWS).min(g.height);
            let mut acc = vec![0f64; (b - a) * g.width * c];
            let mut wsum = vec![0f64; (b - a) * g.width];
            for t in g.tiles().filter(|t| t.y0 < b && t.y0 + t.h > a) {
                if self.states[t.index] != TileState::Data {
                    continue;
                }
                let (ta, tb) = (a.max(t.y0), b.min(t.y0 + t.h));
                let path = (self.file)(self.dir, &t);
                let data = workdir::read_tile_rows(&path, &t, c, ta - t.y0, tb - ta)?;
                for y in ta..tb {
                    let wyv = f64::from(wy[t.row][y - t.y0]);
                    for (x, &wxv) in wx[t.col].iter().enumerate() {
                        let w = wyv * f64::from(wxv);
                        let o = (y - a) * g.width + t.x0 + x;
                        wsum[o] += w;
                        let src = &data[((y - ta) * t.w + x) * c..][..c];
                        for (d, &v) in acc[o * c..(o + 1) * c].iter_mut().zip(src) {
                            *d += w * f64::from(v);
                        }
                    }
                }
            }
            let vals: Vec<f32> = acc
                .iter()
                .enumerate()
                .map(|(i, &s)| match wsum[i / c] {
                    w if w > 0.0 => (s / w) as f32,
                    _ => f32::NAN,
                })
                .collect();
            put(a, b - a, &vals)?;
        }
        Ok(())
    }
}
