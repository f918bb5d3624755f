//! Whole scenes: tiled, resumable, shardable inpainting.
//!
//! A scene larger than a tile is cut into overlapping tiles ([`Grid`]); each tile is fitted on
//! its own, exactly like a single image of that window ([`Inputs::load`] reads what
//! `cloudfill inpaint` reads, cropped to the tile, and every tile uses the run's seed); the
//! results are blended with smooth weights (`Σ w·tile / Σ w`, see [`grid`]) so there is no seam.
//!
//! - A tile with no cloud (and no nodata) in the target is copied through: its result is the
//!   (preprocessed) target, so where no other tile overlaps it the output is the input, bit for
//!   bit.
//! - A tile whose clear fraction is below `min_clear` is nodata (NaN) where no other tile covers.
//! - Every finished tile is a file in the work dir ([`workdir`]); a rerun does only the missing
//!   ones, and refuses a work dir made with other settings. [`Shard`] `I/N` does the tiles with
//!   `index % N == I`, so N processes (or machines sharing the folder) split a scene; [`merge()`]
//!   assembles the result, a band of rows at a time, and [`merge_uncertainty`] the tiles'
//!   standard deviations the same way (runs with [`Job::uncertainty`]).
//!
//! - With [`Job::batch`] K > 1, up to K cloudy tiles of one size are fitted side by side in the
//!   same dispatches ([`fit_batch`](crate::dip::fit_batch)): each with its own network, with the very bits it gets
//!   alone, so K is a setting of the machine, not of the result, and is not part of the
//!   manifest.
//!
//! Memory: [`run`] holds K tiles of every input and K networks at a time; [`merge()`] holds 32
//! output rows (see [`merge`](mod@merge)).
pub mod grid;
pub mod identity;
mod inputs;
pub mod merge;
mod one;
pub mod workdir;

pub use grid::{Grid, TileRect};
pub use inputs::{paste_clear, Inputs, Loaded, Probe};
pub use merge::{check_uncertainty_kept, merge, merge_uncertainty, MergeSummary};

use crate::dip::{DipConfig, StepInfo};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use one::{finished, fit_tiles, load_tile, Pending, TileLoad};
use serde_json::{json, Map, Value};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;
use workdir::TileState;

/// Tile size, overlap and the nodata rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TileOptions {
    /// Tile side in pixels, a multiple of 16 (256).
    pub tile: usize,
    /// Overlap of neighbouring tiles in pixels (32).
    pub overlap: usize,
    /// Tiles whose fraction of clear target pixels is below this are nodata (0.01).
    pub min_clear: f64,
}

impl Default for TileOptions {
    fn default() -> Self {
        TileOptions {
            tile: 256,
            overlap: 32,
            min_clear: 0.01,
        }
    }
}

/// Process only the tiles with `index % count == index_of_shard`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = Error;
    /// `I/N` with `I < N`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::invalid("shard", format!("{s:?}: expected I/N with 0 <= I < N"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// A tiled run.
#[derive(Clone, Debug)]
pub struct Job {
    pub inputs: Inputs,
    pub dip: DipConfig,
    /// Adam steps per tile.
    pub steps: usize,
    pub tiles: TileOptions,
    /// Keep the original clear pixels (see `cloudfill inpaint --paste-clear`).
    pub paste_clear: bool,
    pub work_dir: PathBuf,
    pub shard: Option<Shard>,
    /// Cloudy tiles fitted side by side in the same dispatches (≥ 1).
    pub batch: usize,
    /// Also keep each tile's uncertainty (the ensemble's per-pixel standard deviation; zeros
    /// where a tile is copied through), for [`merge_uncertainty`].
    pub uncertainty: bool,
}

/// What became of a tile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Fitted; the last loss read.
    Fitted { loss: Option<f32> },
    /// No cloud: the target copied through.
    Copied,
    /// Too little clear target: nodata.
    NoData { clear_fraction: f64 },
}

/// Progress of [`run`]; the callback's `ControlFlow::Break` stops the run (a tile stopped
/// during its fit is not written).
#[derive(Debug)]
pub enum Event<'a> {
    /// Something to tell the user that does not stop the run, e.g. that the work dir's tiles
    /// so far were fitted on another adapter or kernel path. Sent before [`Event::Start`].
    Note { note: &'a str },
    /// The target's clear values in this tile reach far outside the network's output range
    /// ([`Loaded::range_warning`]); sent for every such tile that is fitted (show it once).
    RangeWarning { tile: TileRect, warning: &'a str },
    /// A finished tile of an earlier run is broken (`problem`): its file is removed and the tile
    /// fitted again. Sent before [`Event::Start`].
    Refit { tile: TileRect, problem: &'a str },
    /// Before the first tile: `todo` tiles of this shard remain, `done` were already finished.
    Start {
        grid: &'a Grid,
        todo: usize,
        done: usize,
    },
    /// A tile is loaded and about to be processed; `notes` mention nodata masked out.
    TileStart {
        tile: TileRect,
        cloud_fraction: f64,
        notes: &'a [String],
    },
    /// K > 1 loaded tiles are about to be fitted together (their steps then report the first).
    BatchStart { tiles: &'a [TileRect] },
    /// One Adam step of the tile's fit (of a batch: its first tile).
    Step { tile: TileRect, info: &'a StepInfo },
    /// The tile's file is written.
    TileDone {
        tile: TileRect,
        outcome: Outcome,
        seconds: f64,
    },
}

/// What [`run`] did.
#[derive(Clone, Debug)]
pub struct Summary {
    pub grid: Grid,
    pub probe: Probe,
    pub fitted: usize,
    pub copied: usize,
    /// Tiles made nodata in this run.
    pub nodata: Vec<TileRect>,
    /// Tiles of this shard finished by an earlier run.
    pub already_done: usize,
    /// The callback stopped the run.
    pub stopped: bool,
    /// Every tile of the grid (all shards) is in the work dir: [`merge()`] can run.
    pub complete: bool,
    /// Tiles an earlier run left broken (a truncated or wrong-shape file), removed and fitted
    /// again, each with what was wrong.
    pub refit: Vec<(TileRect, String)>,
}

/// The settings recorded in the manifest (a rerun must match every one).
fn settings(job: &Job, probe: &Probe) -> Map<String, Value> {
    let d = &job.dip;
    let mut m: Map<String, Value> = job
        .inputs
        .settings()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let more = [
        ("width", json!(probe.width)),
        ("height", json!(probe.height)),
        ("channels", json!(probe.channels)),
        (
            "geotransform",
            json!(probe.georef.as_ref().map(|g| g.geotransform)),
        ),
        (
            "projection",
            json!(probe.georef.as_ref().map(|g| g.projection.clone())),
        ),
        ("tile", json!(job.tiles.tile)),
        ("overlap", json!(job.tiles.overlap)),
        ("min_clear", json!(job.tiles.min_clear)),
        ("paste_clear", json!(job.paste_clear)),
        ("steps", json!(job.steps)),
        ("seed", json!(d.seed)),
        ("lr", json!(d.lr)),
        ("noise_std", json!(d.noise_std)),
        ("latent", json!(format!("{:?}", d.latent))),
        ("network", json!(format!("{:?}", d.net))),
        ("ensemble", json!(d.ensemble)),
        ("stop", json!(format!("{:?}", d.stop))),
    ];
    m.extend(more.into_iter().map(|(k, v)| (k.to_string(), v)));
    // Only when on, so that work dirs of runs without it (and of earlier versions) still match.
    if job.uncertainty {
        m.insert("uncertainty".into(), json!(true));
    }
    m
}

/// Runs the tiles of `job` (of its shard) that the work dir lacks. Prints nothing: progress
/// goes to `on_event`.
pub fn run(
    gpu: &Gpu,
    job: &Job,
    mut on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary> {
    let probe = job.inputs.probe()?;
    let t = &job.tiles;
    let grid = Grid::new(probe.width, probe.height, t.tile, t.overlap)?;
    if !(0.0..=1.0).contains(&t.min_clear) {
        return Err(Error::invalid(
            "min_clear",
            format!("{} is not in [0, 1]", t.min_clear),
        ));
    }
    job.dip.net.validate()?;
    let fingerprints = job.inputs.fingerprints()?;
    let kernels = identity::Kernels::of(gpu);
    let note = workdir::open(
        &job.work_dir,
        &settings(job, &probe),
        &fingerprints,
        &kernels,
    )?;
    let mut stop = note.is_some_and(|note| on_event(Event::Note { note: &note }).is_break());
    let mine = |i: usize| job.shard.is_none_or(|s| i % s.count == s.index);
    let mut refit = Vec::new();
    for r in grid.tiles().filter(|r| mine(r.index)) {
        let broken =
            workdir::remove_broken_tile(&job.work_dir, &r, probe.channels, job.uncertainty);
        if let Some(problem) = broken? {
            let event = Event::Refit {
                tile: r,
                problem: &problem,
            };
            stop |= on_event(event).is_break();
            refit.push((r, problem));
        }
    }
    let state = |r: &TileRect| workdir::tile_state(&job.work_dir, r);
    let todo: Vec<TileRect> = grid
        .tiles()
        .filter(|r| mine(r.index) && state(r) == TileState::Missing)
        .collect();
    let done = grid.tiles().filter(|r| mine(r.index)).count() - todo.len();
    let mut s = Summary {
        grid: grid.clone(),
        probe,
        fitted: 0,
        copied: 0,
        nodata: Vec::new(),
        already_done: done,
        stopped: false,
        complete: false,
        refit,
    };
    let mut stopped = on_event(Event::Start {
        grid: &grid,
        todo: todo.len(),
        done,
    })
    .is_break()
        || stop;
    if !stopped {
        stopped = fit_todo(gpu, job, &todo, &mut s, &mut on_event)?;
    }
    s.stopped = stopped;
    s.complete = grid.tiles().all(|r| state(&r) != TileState::Missing);
    Ok(s)
}

/// Loads and fits the `todo` tiles in batches of up to `job.batch` tiles of one size, recording
/// each outcome in `s`; true when `on_event` stopped the run.
fn fit_todo(
    gpu: &Gpu,
    job: &Job,
    todo: &[TileRect],
    s: &mut Summary,
    on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
) -> Result<bool> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut it = todo.iter().peekable();
    loop {
        // Fit what is pending when the batch is full, the next tile has another size, or at the end.
        let flush = match it.peek() {
            None => true,
            Some(t) => {
                pending.len() >= job.batch.max(1)
                    || pending
                        .first()
                        .is_some_and(|p| (p.tile.w, p.tile.h) != (t.w, t.h))
            }
        };
        if flush && !pending.is_empty() {
            let t0 = Instant::now();
            let batch = std::mem::take(&mut pending);
            let Some(done) = fit_tiles(gpu, job, batch, on_event)? else {
                return Ok(true);
            };
            let each = t0.elapsed().as_secs_f64() / done.len() as f64;
            let mut stopped = false;
            for (tile, outcome) in done {
                stopped |= finished(s, tile, outcome, each, on_event);
            }
            if stopped {
                return Ok(true);
            }
            continue;
        }
        let Some(tile) = it.next() else {
            return Ok(false);
        };
        let t0 = Instant::now();
        match load_tile(job, tile, on_event)? {
            None => return Ok(true),
            Some(TileLoad::Fit(p)) => pending.push(p),
            Some(TileLoad::Done(outcome)) => {
                let secs = t0.elapsed().as_secs_f64();
                if finished(s, *tile, outcome, secs, on_event) {
                    return Ok(true);
                }
            }
        }
    }
}
