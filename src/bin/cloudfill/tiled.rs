//! `cloudfill inpaint` on whole scenes (tiled, resumable, sharded) and `cloudfill merge`.
//! The driver is `cloudfill::tiles`; this file is the wiring and the progress bars.
use crate::args::{InpaintArgs, MergeArgs};
use crate::cleanup;
use crate::fit::{open_gpu, show_step};
use crate::inpaint::{check_outputs, report};
use anyhow::{bail, Result};
use cloudfill::io;
use cloudfill::report::RunKind;
use cloudfill::tiles::workdir::TempWorkDir;
use cloudfill::tiles::{self, Event, Job, Summary, TileRect};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

/// Tiled mode: the (windowed) raster is larger than a tile, or --work-dir / --shard is given.
pub(crate) fn wanted(a: &InpaintArgs) -> Result<bool> {
    if a.tiles.work_dir.is_some() || a.tiles.shard.is_some() {
        return Ok(true);
    }
    let (w, h) = match a.window {
        Some(r) => (r.xsize, r.ysize),
        None => io::raster_size(&a.target)?,
    };
    Ok(w > a.tiles.tile || h > a.tiles.tile)
}

/// The bar of tiles and, below it, the bar of the current fit's steps.
struct Bars {
    tiles: ProgressBar,
    steps: ProgressBar,
    /// A range warning was printed (it is shown for the first tile only).
    warned: Cell<bool>,
}

impl Bars {
    fn new(quiet: bool, steps: usize) -> Result<Bars> {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let bar = |len: usize, template: &str| -> Result<ProgressBar> {
            let style = ProgressStyle::with_template(template)?.progress_chars("=> ");
            Ok(multi.add(ProgressBar::new(len as u64).with_style(style)))
        };
        Ok(Bars {
            tiles: bar(0, "tiles [{bar:30}] {pos}/{len}  {msg}  ETA {eta}")?,
            steps: bar(
                steps,
                "{prefix} [{bar:30}] {pos}/{len} steps  loss {msg}  {per_sec}",
            )?,
            warned: Cell::new(false),
        })
    }

    fn event(&self, e: Event) {
        match e {
            Event::Start { todo, done, grid } => {
                self.tiles.set_length((todo + done) as u64);
                self.tiles.set_position(done as u64);
                self.tiles.reset_eta();
                (self.tiles).set_message(format!("{}×{} grid", grid.rows(), grid.cols()));
            }
            Event::TileStart {
                tile,
                cloud_fraction,
                ..
            } => {
                self.steps.reset();
                let cloud = 100.0 * cloud_fraction;
                (self.steps).set_prefix(format!(
                    "tile {},{} ({cloud:.0} % cloud)",
                    tile.row, tile.col
                ));
            }
            Event::BatchStart { tiles } => {
                self.steps.reset();
                let first = tile_names(&tiles[..tiles.len().min(3)]);
                (self.steps).set_prefix(format!("{} tiles together ({first} …)", tiles.len()));
            }
            Event::Step { info, .. } => show_step(&self.steps, info),
            Event::Refit { tile, problem } => self.tiles.suspend(|| {
                eprintln!(
                    "warning: tile {},{} is fitted again: {problem}",
                    tile.row, tile.col
                )
            }),
            Event::TileDone { .. } => self.tiles.inc(1),
            Event::Note { note } => self.tiles.suspend(|| eprintln!("note: {note}")),
            Event::RangeWarning { tile, warning } if !self.warned.replace(true) => {
                let (r, c) = (tile.row, tile.col);
                self.tiles.suspend(|| {
                    eprintln!("warning: {warning} (seen first in tile {r},{c}; not repeated)")
                })
            }
            Event::RangeWarning { .. } => {}
        }
    }
}

fn tile_names(list: &[TileRect]) -> String {
    let names: Vec<String> = list
        .iter()
        .map(|t| format!("{},{}", t.row, t.col))
        .collect();
    names.join(" ")
}

fn nodata_warning(a: &InpaintArgs, list: &[TileRect]) {
    if !list.is_empty() {
        let (min, names) = (a.tiles.min_clear, tile_names(list));
        eprintln!("warning: tiles with less than {min} clear target are nodata (row,col): {names}");
    }
}

pub(crate) fn inpaint_tiled(a: &InpaintArgs) -> Result<()> {
    if a.tiles.shard.is_some() && a.tiles.work_dir.is_none() {
        bail!("--shard needs --work-dir (a folder every shard and `cloudfill merge` can reach)");
    }
    check_outputs(a, a.tiles.shard.is_none())?;
    let (work_dir, _temp) = match &a.tiles.work_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = TempWorkDir::beside(a.out());
            // Interrupted, the run removes its temporary tiles before it exits.
            cleanup::remove_on_signal(t.path())?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let job = a.job(work_dir);
    let gpu = open_gpu(a.write.quiet)?;
    let bars = Bars::new(a.write.quiet, a.fit.steps)?;
    let t0 = Instant::now();
    let s = tiles::run(&gpu, &job, |e| {
        bars.event(e);
        ControlFlow::Continue(())
    })?;
    bars.steps.finish_and_clear();
    bars.tiles.finish();
    let secs = t0.elapsed().as_secs_f64();
    let say = |m: String| {
        if !a.write.quiet {
            eprintln!("{m}");
        }
    };
    say(summary(&s, &job, secs));
    let wd = job.work_dir.display();
    if let Some(sh) = a.tiles.shard {
        nodata_warning(a, &s.nodata);
        let what = match s.complete {
            true => "every tile is now in the work dir",
            false => "other shards' tiles are still missing",
        };
        let out = a.out.as_deref().unwrap_or(Path::new("OUT.tif")).display();
        let sigma = (a.uncertainty.as_deref())
            .map(|p| format!(" --uncertainty {}", p.display()))
            .unwrap_or_default();
        say(format!(
            "shard {}/{}: tiles written ({what}); assemble with \
             `cloudfill merge --work-dir {wd} --out {out}{sigma}`",
            sh.index, sh.count
        ));
        return Ok(());
    }
    let co = &a.write.creation_options;
    let m = tiles::merge(&job.work_dir, a.out(), co)?;
    nodata_warning(a, &m.nodata);
    say(format!("wrote {}", a.out().display()));
    if let Some(p) = &a.uncertainty {
        tiles::merge_uncertainty(&job.work_dir, p, co)?;
        let k = job.dip.ensemble;
        say(format!(
            "wrote {} (the per-pixel standard deviation of each tile's {k} networks, blended)",
            p.display()
        ));
    }
    if a.preview.is_some() || a.truth.is_some() || a.metrics_json.is_some() {
        whole_scene_report(a, &job, secs, &gpu.summary().to_string())?;
    }
    Ok(())
}

fn summary(s: &Summary, job: &Job, secs: f64) -> String {
    let (g, t, nodata) = (&s.grid, &job.tiles, s.nodata.len());
    format!(
        "{}×{} raster, {} tiles of {}² (overlap {}): {} fitted, {} copied (no cloud), {nodata} \
         nodata, {} done before; {secs:.1} s",
        g.width,
        g.height,
        g.len(),
        t.tile,
        t.overlap,
        s.fitted,
        s.copied,
        s.already_done
    )
}

/// [`report`] of a tiled run: it reads the whole scene (the inputs, the merged result).
fn whole_scene_report(a: &InpaintArgs, job: &Job, seconds: f64, adapter: &str) -> Result<()> {
    let (loaded, _) = job.inputs.load_region()?;
    let result = io::read_raster(a.out(), None, None)?.image;
    let truth = (a.truth.as_deref())
        .map(|p| job.inputs.load_truth(p, &loaded.sources[0]))
        .transpose()?;
    let kind = RunKind::Tiled(job.tiles);
    report(a, adapter, &loaded, &result, truth.as_ref(), seconds, kind)
}

pub(crate) fn merge(a: &MergeArgs) -> Result<()> {
    let co = &a.write.creation_options;
    let mut outputs = vec![("--out", a.out.as_path())];
    outputs.extend(a.uncertainty.as_deref().map(|p| ("--uncertainty", p)));
    io::check_distinct(&outputs, &[("--work-dir", a.work_dir.as_path())])?;
    for (_, p) in &outputs {
        io::output_guard(p, a.write.overwrite)?;
        io::check_raster_output(p, co)?;
    }
    if a.uncertainty.is_some() {
        tiles::check_uncertainty_kept(&a.work_dir)?;
    }
    let m = tiles::merge(&a.work_dir, &a.out, co)?;
    if !m.nodata.is_empty() {
        eprintln!("warning: nodata tiles (row,col): {}", tile_names(&m.nodata));
    }
    let (w, h, c) = (m.width, m.height, m.channels);
    if !a.write.quiet {
        eprintln!(
            "merged {} tiles into {} ({w}×{h}×{c})",
            m.tiles,
            a.out.display()
        );
    }
    if let Some(p) = &a.uncertainty {
        tiles::merge_uncertainty(&a.work_dir, p, co)?;
        if !a.write.quiet {
            eprintln!(
                "merged their uncertainty into {} ({w}×{h}×{c})",
                p.display()
            );
        }
    }
    Ok(())
}
