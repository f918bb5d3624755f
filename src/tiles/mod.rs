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
//!   assembles the result, a band of rows at a time.
//!
//! - With [`Job::batch`] K > 1, up to K cloudy tiles of one size are fitted side by side in the
//!   same dispatches ([`fit_batch`]): each with its own network, with the very bits it gets
//!   alone, so K is a setting of the machine, not of the result, and is not part of the
//!   manifest.
//!
//! Memory: [`run`] holds K tiles of every input and K networks at a time; [`merge()`] holds 32
//! output rows (see [`merge`](mod@merge)).
pub mod grid;
mod inputs;
pub mod merge;
pub mod workdir;

pub use grid::{Grid, TileRect};
pub use inputs::{Inputs, Loaded, Probe};
pub use merge::{merge, MergeSummary};

use crate::dip::{fit_batch, BatchItem, Dip, DipConfig, StepInfo};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::{self, Image, Window};
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
    ];
    m.extend(more.into_iter().map(|(k, v)| (k.to_string(), v)));
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
    workdir::open(&job.work_dir, &settings(job, &probe))?;
    let mine = |i: usize| job.shard.is_none_or(|s| i % s.count == s.index);
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
    };
    let mut stopped = on_event(Event::Start {
        grid: &grid,
        todo: todo.len(),
        done,
    })
    .is_break();
    let mut pending: Vec<Pending> = Vec::new();
    let mut it = todo.iter().peekable();
    while !stopped {
        let next = it.peek();
        // Fit what is pending when the batch is full, the next tile has another size, or at the end.
        let flush = match next {
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
            let Some(done) = fit_tiles(gpu, job, batch, &mut on_event)? else {
                stopped = true;
                break;
            };
            let each = t0.elapsed().as_secs_f64() / done.len() as f64;
            for (tile, outcome) in done {
                stopped |= finished(&mut s, tile, outcome, each, &mut on_event);
            }
            continue;
        }
        let Some(tile) = it.next() else { break };
        let t0 = Instant::now();
        match load_tile(job, tile, &mut on_event)? {
            None => stopped = true,
            Some(Loaded1::Fit(p)) => pending.push(p),
            Some(Loaded1::Done(outcome)) => {
                let secs = t0.elapsed().as_secs_f64();
                stopped = finished(&mut s, *tile, outcome, secs, &mut on_event);
            }
        }
    }
    s.stopped = stopped;
    s.complete = grid.tiles().all(|r| state(&r) != TileState::Missing);
    Ok(s)
}

/// Counts a finished tile and reports it; true when the callback stops the run.
fn finished(
    s: &mut Summary,
    tile: TileRect,
    outcome: Outcome,
    seconds: f64,
    on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
) -> bool {
    match outcome {
        Outcome::Fitted { .. } => s.fitted += 1,
        Outcome::Copied => s.copied += 1,
        Outcome::NoData { .. } => s.nodata.push(tile),
    }
    let e = Event::TileDone {
        tile,
        outcome,
        seconds,
    };
    on_event(e).is_break()
}

/// A loaded cloudy tile waiting for its fit.
struct Pending {
    tile: TileRect,
    item: BatchItem,
}

/// What loading a tile gave: a finished tile (copied or nodata, already written), or one to fit.
enum Loaded1 {
    Done(Outcome),
    Fit(Pending),
}

/// Loads one tile; writes it at once when it is cloud-free (copied) or nodata. `None` when
/// stopped.
fn load_tile(
    job: &Job,
    tile: &TileRect,
    on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Option<Loaded1>> {
    let win = Window {
        xoff: tile.x0,
        yoff: tile.y0,
        xsize: tile.w,
        ysize: tile.h,
    };
    let loaded = job.inputs.load(win)?;
    let clear = &loaded.masks[0];
    let n_clear = clear.count_clear();
    let clear_fraction = n_clear as f64 / clear.clear.len() as f64;
    let ev = Event::TileStart {
        tile: *tile,
        cloud_fraction: loaded.user_mask.cloud_fraction(),
        notes: &loaded.notes,
    };
    if on_event(ev).is_break() {
        return Ok(None);
    }
    let dir = &job.work_dir;
    if n_clear == 0 || clear_fraction < job.tiles.min_clear {
        workdir::write_nodata(dir, tile)?;
        return Ok(Some(Loaded1::Done(Outcome::NoData { clear_fraction })));
    }
    if n_clear == clear.clear.len() {
        io::write_npy(&workdir::tile_path(dir, tile), &loaded.sources[0])?;
        return Ok(Some(Loaded1::Done(Outcome::Copied)));
    }
    Ok(Some(Loaded1::Fit(Pending {
        tile: *tile,
        item: BatchItem {
            targets: loaded.sources,
            masks: loaded.masks,
        },
    })))
}

/// Fits loaded tiles of one size (alone, or side by side when there are several) and writes
/// them; `None` when stopped (nothing of the batch is written).
fn fit_tiles(
    gpu: &Gpu,
    job: &Job,
    batch: Vec<Pending>,
    on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Option<Vec<(TileRect, Outcome)>>> {
    let first = batch[0].tile;
    let tiles: Vec<TileRect> = batch.iter().map(|p| p.tile).collect();
    if tiles.len() > 1 && on_event(Event::BatchStart { tiles: &tiles }).is_break() {
        return Ok(None);
    }
    let mut stopped = false;
    let mut on_step = |info: &StepInfo| {
        let flow = on_event(Event::Step { tile: first, info });
        stopped |= flow.is_break();
        flow
    };
    let targets: Vec<Image> = batch.iter().map(|p| p.item.targets[0].clone()).collect();
    let clears: Vec<Vec<bool>> = batch
        .iter()
        .map(|p| p.item.masks[0].clear.clone())
        .collect();
    let (results, loss) = if batch.len() == 1 {
        let p = batch.into_iter().next().expect("one tile");
        let mut dip = Dip::new(gpu, job.dip.clone())?;
        dip.set_target(p.item.targets)?;
        dip.set_mask(p.item.masks)?;
        let loss = dip.fit(job.steps, &mut on_step)?;
        if stopped {
            return Ok(None);
        }
        (vec![dip.output()?.swap_remove(0)], loss)
    } else {
        let items = batch.into_iter().map(|p| p.item).collect();
        let r = fit_batch(gpu, &job.dip, items, job.steps, &mut on_step)?;
        if stopped {
            return Ok(None);
        }
        let outs = r.outputs.into_iter().map(|mut o| o.swap_remove(0));
        (outs.collect(), r.loss)
    };
    let mut done = Vec::new();
    for (((tile, mut result), target), clear) in
        tiles.into_iter().zip(results).zip(targets).zip(clears)
    {
        if job.paste_clear {
            let c = result.c;
            for (p, _) in clear.iter().enumerate().filter(|(_, &k)| k) {
                result.data[p * c..(p + 1) * c].copy_from_slice(&target.data[p * c..(p + 1) * c]);
            }
        }
        io::write_npy(&workdir::tile_path(&job.work_dir, &tile), &result)?;
        done.push((tile, Outcome::Fitted { loss }));
    }
    Ok(Some(done))
}
