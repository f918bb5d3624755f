//! One tile's work inside [`run`](super::run): loading it (and writing it at once when it is
//! cloud-free or nodata), and fitting loaded tiles — alone or side by side — then writing them.
use super::{paste_clear, workdir, Event, Job, Outcome, Summary, TileRect};
use crate::dip::{fit_batch, BatchItem, StepInfo};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::io::{self, Image, Window};
use std::ops::ControlFlow;

/// Counts a finished tile and reports it; true when the callback stops the run.
pub(super) fn finished(
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
pub(super) struct Pending {
    pub tile: TileRect,
    pub item: BatchItem,
}

/// What loading a tile gave: a finished tile (copied or nodata, already written), or one to fit.
pub(super) enum TileLoad {
    Done(Outcome),
    Fit(Pending),
}

/// Loads one tile; writes it at once when it is cloud-free (copied) or nodata. `None` when
/// stopped.
pub(super) fn load_tile(
    job: &Job,
    tile: &TileRect,
    on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Option<TileLoad>> {
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
        return Ok(Some(TileLoad::Done(Outcome::NoData { clear_fraction })));
    }
    if n_clear == clear.clear.len() {
        let copy = &loaded.sources[0];
        if job.uncertainty {
            let zeros = Image::new(copy.h, copy.w, copy.c, vec![0.0; copy.data.len()])?;
            io::write_npy(&workdir::sigma_path(dir, tile), &zeros)?;
        }
        io::write_npy(&workdir::tile_path(dir, tile), copy)?;
        return Ok(Some(TileLoad::Done(Outcome::Copied)));
    }
    if let Some(w) = loaded.range_warning(job.dip.net.sigmoid) {
        let ev = Event::RangeWarning {
            tile: *tile,
            warning: &w,
        };
        if on_event(ev).is_break() {
            return Ok(None);
        }
    }
    Ok(Some(TileLoad::Fit(Pending {
        tile: *tile,
        item: BatchItem {
            targets: loaded.sources,
            masks: loaded.masks,
        },
    })))
}

/// Fits loaded tiles of one size (alone, or side by side when there are several) and writes
/// them; `None` when stopped (nothing of the batch is written).
pub(super) fn fit_tiles(
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
    // What --paste-clear puts back: each tile's target and clear mask (kept only then).
    let originals: Vec<(Image, Vec<bool>)> = match job.paste_clear {
        true => (batch.iter())
            .map(|p| (p.item.targets[0].clone(), p.item.masks[0].clear.clone()))
            .collect(),
        false => Vec::new(),
    };
    // One tile is a batch of one: the same plan, the same bits as a `Dip` of its own.
    let items = batch.into_iter().map(|p| p.item).collect();
    let r = fit_batch(gpu, &job.dip, items, job.steps, &mut on_step)?;
    if stopped {
        return Ok(None);
    }
    let mut done = Vec::new();
    for (k, (tile, mut outputs)) in tiles.into_iter().zip(r.outputs).enumerate() {
        let mut result = outputs.swap_remove(0);
        if let Some((target, clear)) = originals.get(k) {
            paste_clear(&mut result, target, clear);
        }
        if job.uncertainty {
            io::write_npy(
                &workdir::sigma_path(&job.work_dir, &tile),
                &r.uncertainty[k][0],
            )?;
        }
        io::write_npy(&workdir::tile_path(&job.work_dir, &tile), &result)?;
        done.push((tile, Outcome::Fitted { loss: r.loss }));
    }
    Ok(Some(done))
}
