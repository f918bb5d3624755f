//! `cloudfill inpaint` on whole scenes (tiled, resumable, sharded) and `cloudfill merge`.
//! The driver is `cloudfill::tiles`; this file is the wiring and the progress bars.
use super::{
    open_gpu, read_target, same_size, score, scores_json, target_bands, write_preview, InpaintArgs,
};
use anyhow::{bail, Context, Result};
use clap::Args;
use cloudfill::io::{self, MaskOptions, Window};
use cloudfill::tiles::{self, Event, Inputs, Job, Shard, TileOptions, TileRect};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Whole scenes: tiling, resuming, sharding.
#[derive(Args, Debug)]
pub struct TileArgs {
    /// Tile side in pixels (a multiple of 16; 64 or more is sensible). Rasters larger than
    /// this in either dimension are processed tile by tile.
    #[arg(long, default_value_t = 256)]
    pub tile: usize,
    /// Overlap of neighbouring tiles in pixels (blended smoothly).
    #[arg(long, default_value_t = 32)]
    pub overlap: usize,
    /// Keep finished tiles here (resumable; shared by --shard runs). Default: a temporary
    /// folder beside --out, removed at the end.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Process only tiles with index % N == I into --work-dir, e.g. 0/4; no --out is written
    /// (assemble with `cloudfill merge`).
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Tiles with a smaller fraction of clear target pixels are written as nodata (NaN).
    #[arg(long, default_value_t = 0.01)]
    pub min_clear: f64,
    /// Fit up to K cloudy tiles side by side in the same GPU dispatches, each with its own
    /// network (the same results as one at a time; more tiles per hour, K times the memory).
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub batch: u16,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse().map_err(|e: cloudfill::Error| e.to_string())
}

/// Assemble the tiles of a --work-dir into one raster with the input's georeferencing.
#[derive(Args, Debug)]
pub struct MergeArgs {
    #[arg(long)]
    work_dir: PathBuf,
    /// .tif (GeoTIFF float32) or .npy.
    #[arg(long)]
    out: PathBuf,
    /// GDAL creation option for the GeoTIFF output, KEY=VALUE. Repeatable.
    #[arg(long = "co")]
    creation_options: Vec<String>,
    #[arg(long)]
    overwrite: bool,
    #[arg(long)]
    quiet: bool,
}

fn region(a: &InpaintArgs) -> Result<Option<Window>> {
    super::window(a)
}

/// Tiled mode: the (windowed) raster is larger than a tile, or --work-dir / --shard is given.
pub fn wanted(a: &InpaintArgs) -> Result<bool> {
    if a.tiles.work_dir.is_some() || a.tiles.shard.is_some() {
        return Ok(true);
    }
    let (w, h) = match region(a)? {
        Some(r) => (r.xsize, r.ysize),
        None => {
            io::raster_size(&a.target).with_context(|| format!("reading {}", a.target.display()))?
        }
    };
    Ok(w > a.tiles.tile || h > a.tiles.tile)
}

fn inputs(a: &InpaintArgs) -> Result<Inputs> {
    Ok(Inputs {
        target: a.target.clone(),
        bands: target_bands(a),
        s2: a.s2,
        mask: a.mask.clone(),
        mask_options: MaskOptions {
            invert: a.mask_invert,
            cloud_values: a.cloud_values.clone(),
            cloud_threshold: a.cloud_threshold,
            dilate: a.dilate,
        },
        s1: a.s1.clone(),
        guides: a.guide.clone(),
        window: region(a)?,
    })
}

/// A temporary work dir beside the output, removed when dropped.
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_work_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(format!(".{name}.tiles-{}", std::process::id()))
}

struct Bars {
    tiles: ProgressBar,
    steps: ProgressBar,
}

impl Bars {
    fn new(quiet: bool, steps: usize) -> Result<Bars> {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let tiles = multi.add(ProgressBar::new(0));
        tiles.set_style(
            ProgressStyle::with_template("tiles [{bar:30}] {pos}/{len}  {msg}  ETA {eta}")?
                .progress_chars("=> "),
        );
        let steps = multi.add(ProgressBar::new(steps as u64));
        steps.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} steps  loss {msg}  {per_sec}",
            )?
            .progress_chars("=> "),
        );
        Ok(Bars { tiles, steps })
    }

    fn event(&self, e: Event) {
        match e {
            Event::Start { todo, done, grid } => {
                self.tiles.set_length((todo + done) as u64);
                self.tiles.set_position(done as u64);
                self.tiles.reset_eta();
                self.tiles
                    .set_message(format!("{}×{} grid", grid.rows(), grid.cols()));
            }
            Event::TileStart {
                tile,
                cloud_fraction,
                ..
            } => {
                self.steps.reset();
                self.steps.set_prefix(format!(
                    "tile {},{} ({:.0} % cloud)",
                    tile.row,
                    tile.col,
                    100.0 * cloud_fraction
                ));
            }
            Event::BatchStart { tiles } => {
                self.steps.reset();
                self.steps.set_prefix(format!(
                    "{} tiles together ({} …)",
                    tiles.len(),
                    tile_names(&tiles[..tiles.len().min(3)])
                ));
            }
            Event::Step { info, .. } => {
                self.steps.set_position(info.step as u64);
                if let Some(l) = info.loss {
                    self.steps.set_message(format!("{l:.5}"));
                }
            }
            Event::TileDone { .. } => self.tiles.inc(1),
        }
    }
}

fn tile_names(list: &[TileRect]) -> String {
    list.iter()
        .map(|t| format!("{},{}", t.row, t.col))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Refuses bad flag combinations and existing outputs before any work.
fn check_outputs(a: &InpaintArgs) -> Result<()> {
    if a.tiles.shard.is_some() && a.tiles.work_dir.is_none() {
        bail!("--shard needs --work-dir (a folder every shard and `cloudfill merge` can reach)");
    }
    crate::check_files(a)?;
    if a.tiles.shard.is_none() {
        let outs = [Some(&a.out), a.preview.as_ref(), a.metrics_json.as_ref()];
        for p in outs.into_iter().flatten() {
            io::output_guard(p, a.overwrite)?;
        }
    }
    Ok(())
}

fn job(a: &InpaintArgs, work_dir: PathBuf) -> Result<Job> {
    let t = &a.tiles;
    Ok(Job {
        inputs: inputs(a)?,
        dip: a.fit.config(),
        steps: a.fit.steps,
        tiles: TileOptions {
            tile: t.tile,
            overlap: t.overlap,
            min_clear: t.min_clear,
        },
        paste_clear: a.paste_clear,
        work_dir,
        shard: t.shard,
        batch: t.batch as usize,
    })
}

fn nodata_warning(a: &InpaintArgs, list: &[TileRect]) {
    if !list.is_empty() {
        eprintln!(
            "warning: tiles with less than {} clear target are nodata (row,col): {}",
            a.tiles.min_clear,
            tile_names(list)
        );
    }
}

pub fn inpaint_tiled(a: &InpaintArgs) -> Result<()> {
    check_outputs(a)?;
    let (work_dir, _temp) = match &a.tiles.work_dir {
        Some(d) => (d.clone(), None),
        None => {
            let d = temp_work_dir(&a.out);
            (d.clone(), Some(TempDir(d)))
        }
    };
    let job = job(a, work_dir.clone())?;
    let gpu = open_gpu(a.quiet)?;
    let bars = Bars::new(a.quiet, a.fit.steps)?;
    let t0 = Instant::now();
    let s = tiles::run(&gpu, &job, |e| {
        bars.event(e);
        ControlFlow::Continue(())
    })?;
    bars.steps.finish_and_clear();
    bars.tiles.finish();
    let secs = t0.elapsed().as_secs_f64();
    let say = |m: String| {
        if !a.quiet {
            eprintln!("{m}");
        }
    };
    let (g, t) = (&s.grid, &job.tiles);
    say(format!(
        "{}×{} raster, {} tiles of {}² (overlap {}): {} fitted, {} copied (no cloud), {} nodata, \
         {} done before; {secs:.1} s",
        g.width,
        g.height,
        g.len(),
        t.tile,
        t.overlap,
        s.fitted,
        s.copied,
        s.nodata.len(),
        s.already_done
    ));
    if let Some(sh) = a.tiles.shard {
        nodata_warning(a, &s.nodata);
        let what = match s.complete {
            true => "every tile is now in the work dir",
            false => "other shards' tiles are still missing",
        };
        let (wd, out) = (work_dir.display(), a.out.display());
        say(format!(
            "shard {}/{}: not writing {out} ({what}); assemble with \
             `cloudfill merge --work-dir {wd} --out {out}`",
            sh.index, sh.count
        ));
        return Ok(());
    }
    let m = tiles::merge(&work_dir, &a.out, &a.creation_options)?;
    nodata_warning(a, &m.nodata);
    say(format!("wrote {}", a.out.display()));
    if a.preview.is_some() || a.truth.is_some() || a.metrics_json.is_some() {
        whole_scene_reports(a, &job.inputs, m.width, m.height, secs, &gpu)?;
    }
    Ok(())
}

/// Preview, truth scores and metrics JSON of a tiled run: these read the whole scene.
fn whole_scene_reports(
    a: &InpaintArgs,
    inp: &Inputs,
    w: usize,
    h: usize,
    secs: f64,
    gpu: &cloudfill::Gpu,
) -> Result<()> {
    let full = Window {
        xoff: 0,
        yoff: 0,
        xsize: w,
        ysize: h,
    };
    let loaded = inp.load(full)?;
    let result = io::read_raster(&a.out, None, None)?.image;
    let target = &loaded.sources[0];
    if let Some(p) = &a.preview {
        write_preview(
            p,
            &loaded.user_mask,
            target,
            &result,
            super::preview_bands(a, target.c),
        )?;
    }
    let scores = match &a.truth {
        Some(p) => {
            let t = read_target(a, p, inp.window)?;
            same_size(p, &t.image, h, w)?;
            Some(score(&result, &t.image, target, &loaded.user_mask))
        }
        None => None,
    };
    if let Some((s, b)) = &scores {
        println!(
            "PSNR cloud {} dB (mean-fill {}), full {:.2} dB; SSIM cloud {} (mean-fill {}), full {:.4}",
            super::fmt(s.psnr_cloud), super::fmt(b.psnr_cloud), s.psnr_full, super::fmt(s.ssim_cloud), super::fmt(b.ssim_cloud), s.ssim_full
        );
    }
    if let Some(p) = &a.metrics_json {
        let j = serde_json::json!({
            "target": a.target, "mask": a.mask, "s1": a.s1, "guides": a.guide,
            "size": [h, w], "bands": target.c, "cloud_fraction": loaded.user_mask.cloud_fraction(),
            "steps": a.fit.steps, "seed": a.fit.seed, "lr": a.fit.lr, "noise_std": a.fit.noise_std,
            "tile": a.tiles.tile, "overlap": a.tiles.overlap, "seconds": secs,
            "adapter": gpu.summary().to_string(),
            "metrics": scores.as_ref().map(|(s, _)| scores_json(s)),
            "baseline_mean_fill": scores.as_ref().map(|(_, b)| scores_json(b)),
        });
        io::write_file(p, serde_json::to_string_pretty(&j)?.as_bytes())?;
    }
    Ok(())
}

pub fn merge(a: &MergeArgs) -> Result<()> {
    io::output_guard(&a.out, a.overwrite)?;
    if crate::extension(&a.out) != "npy" {
        io::check_creation_options(&a.out, &a.creation_options)?;
    }
    let m = tiles::merge(&a.work_dir, &a.out, &a.creation_options)?;
    if !m.nodata.is_empty() {
        eprintln!("warning: nodata tiles (row,col): {}", tile_names(&m.nodata));
    }
    if !a.quiet {
        eprintln!(
            "merged {} tiles into {} ({}×{}×{})",
            m.tiles,
            a.out.display(),
            m.width,
            m.height,
            m.channels
        );
    }
    Ok(())
}
