//! `cloudfill`: remove clouds from satellite images with Deep Image Prior on any GPU.
use anyhow::{bail, Context, Result};
use clap::Parser;
use cloudfill::dip::{Dip, DipConfig, StepInfo};
use cloudfill::io::{self, Image, Mask, MaskOptions, Window};
use cloudfill::metrics;
use cloudfill::net::NetConfig;
use cloudfill::{preview, synthetic, Gpu};
use indicatif::{ProgressBar, ProgressStyle};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "cloudfill/tiled.rs"]
mod tiled;

#[path = "cloudfill/args.rs"]
mod args;
pub(crate) use args::*;

fn main() {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Demo(a) => demo(&a),
        Command::Inpaint(a) => inpaint(&a),
        Command::Merge(a) => tiled::merge(&a),
        Command::Adapters => adapters(),
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn adapters() -> Result<()> {
    let (list, pick) = cloudfill::gpu::list_adapters()?;
    if list.is_empty() {
        bail!("{}", cloudfill::Error::NoAdapter { filter: None });
    }
    for (i, a) in list.iter().enumerate() {
        let mark = if Some(i) == pick { "*" } else { " " };
        println!("{mark} {a}");
    }
    println!("(* = the adapter cloudfill uses; override with CLOUDFILL_ADAPTER=<name part> or CLOUDFILL_BACKEND=vulkan|metal|dx12|gl)");
    Ok(())
}

fn open_gpu(quiet: bool) -> Result<Gpu> {
    let gpu = Gpu::new()?;
    if !quiet {
        eprintln!("adapter: {}", gpu.summary());
        if gpu.is_cpu() {
            eprintln!("note: this is a CPU adapter (no GPU found); expect slow fits");
        }
    }
    Ok(gpu)
}

/// Fits with a progress bar; returns (outputs, seconds, last loss).
fn run_fit(
    gpu: &Gpu,
    cfg: DipConfig,
    steps: usize,
    sources: Vec<Image>,
    masks: Vec<Mask>,
    quiet: bool,
) -> Result<(Vec<Image>, f64, Option<f32>)> {
    let mut dip = Dip::new(gpu, cfg)?;
    dip.set_target(sources)?;
    dip.set_mask(masks)?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} steps  loss {msg}  {per_sec}  ETA {eta}",
        )?
        .progress_chars("=> "),
    );
    let t0 = Instant::now();
    let loss = dip.fit(steps, |s: &StepInfo| {
        bar.set_position(s.step as u64);
        if let Some(l) = s.loss {
            bar.set_message(format!("{l:.5}"));
        }
        ControlFlow::Continue(())
    })?;
    let out = dip.output()?;
    bar.finish();
    Ok((out, t0.elapsed().as_secs_f64(), loss))
}

fn demo(a: &DemoArgs) -> Result<()> {
    let result = a.out_dir.join("demo_result.tif");
    let prev = a.out_dir.join("demo_preview.png");
    for p in [&result, &prev] {
        io::output_guard(p, a.overwrite)?;
    }
    if a.size < 16 || a.size % 16 != 0 {
        bail!(
            "--size must be a multiple of 16 and at least 16 (got {})",
            a.size
        );
    }
    let gpu = open_gpu(a.quiet)?;
    let scene = synthetic::scene(a.size, a.size, a.seed);
    let (h, w) = (scene.h, scene.w);
    // The reference network has 6 levels; smaller scenes get as many as they can hold.
    let levels = (a.size.trailing_zeros() as usize).saturating_sub(1).min(6);
    let cfg = DipConfig {
        net: NetConfig::with_levels(levels),
        seed: a.seed,
        ..DipConfig::default()
    };
    let cloudy = Image::new(h, w, 3, scene.cloudy.clone())?;
    let sar = Image::new(h, w, 2, scene.sar.clone())?;
    let mask = Mask {
        h,
        w,
        clear: scene.clear.clone(),
    };
    if !a.quiet {
        eprintln!(
            "demo: {h}×{w} synthetic scene, {:.1} % cloud, {levels}-level network, {} steps",
            100.0 * mask.cloud_fraction(),
            a.steps
        );
    }
    let masks = vec![mask.clone(), Mask::clear(h, w)];
    let (out, secs, _) = run_fit(
        &gpu,
        cfg,
        a.steps,
        vec![cloudy.clone(), sar],
        masks,
        a.quiet,
    )?;
    let result_img = &out[0];
    io::write_geotiff(&result, result_img, None, &[], None)?;
    write_preview(&prev, &mask, &cloudy, result_img, [0, 1, 2])?;
    let s = metrics::scores(&result_img.data, &scene.truth, h, w, 3, &scene.clear);
    let base = metrics::mean_fill(&scene.cloudy, h, w, 3, &scene.clear);
    let b = metrics::scores(&base, &scene.truth, h, w, 3, &scene.clear);
    println!(
        "PSNR in the cloud: {:.2} dB (mean-fill baseline {:.2} dB); SSIM in the cloud {:.3} (baseline {:.3}); {:.1} s, {:.1} steps/s",
        s.psnr_cloud.unwrap_or(f64::NAN),
        b.psnr_cloud.unwrap_or(f64::NAN),
        s.ssim_cloud.unwrap_or(f64::NAN),
        b.ssim_cloud.unwrap_or(f64::NAN),
        secs,
        a.steps as f64 / secs
    );
    println!("wrote {} and {}", result.display(), prev.display());
    Ok(())
}

fn write_preview(
    path: &Path,
    mask: &Mask,
    input: &Image,
    result: &Image,
    bands: [usize; 3],
) -> Result<()> {
    let mut inp = preview::stretch_rgb(input, bands, Some(&mask.clear));
    preview::mark_cloud(&mut inp, &mask.clear);
    let res = preview::stretch_rgb(result, bands, Some(&mask.clear));
    let panels = [preview::mask_rgb(&mask.clear), inp, res];
    let (rgb, tw) = preview::side_by_side(&panels, mask.h, mask.w);
    io::write_png_rgb(path, &rgb, mask.h, tw)
        .with_context(|| format!("writing preview {}", path.display()))?;
    Ok(())
}

fn window(a: &InpaintArgs) -> Result<Option<Window>> {
    Ok(match &a.window {
        None => None,
        Some(v) if v.len() == 4 => Some(Window {
            xoff: v[0],
            yoff: v[1],
            xsize: v[2],
            ysize: v[3],
        }),
        Some(v) => bail!(
            "--window needs XOFF,YOFF,XSIZE,YSIZE (4 numbers), got {}",
            v.len()
        ),
    })
}

/// The target (preprocessed) and where its pixels are valid.
fn read_target(a: &InpaintArgs, path: &Path, win: Option<Window>) -> Result<io::Raster> {
    let mut r = io::read_raster(path, target_bands(a).as_deref(), win)
        .with_context(|| format!("reading {}", path.display()))?;
    if a.s2 {
        r.image = io::s2_preprocess(&r.image);
    }
    Ok(r)
}

fn same_size(what: &Path, img: &Image, h: usize, w: usize) -> Result<()> {
    if (img.h, img.w) != (h, w) {
        bail!(
            "{}: size {}×{} differs from the target's {w}×{h} (columns×rows)",
            what.display(),
            img.w,
            img.h
        );
    }
    Ok(())
}

fn and_valid(m: &mut [bool], valid: &Option<Vec<bool>>) -> usize {
    let mut n = 0;
    if let Some(v) = valid {
        for (c, &ok) in m.iter_mut().zip(v) {
            if *c && !ok {
                *c = false;
                n += 1;
            }
        }
    }
    n
}

/// The lower-case extension of `p` ("" if none).
fn extension(p: &Path) -> String {
    let e = p.extension().and_then(|e| e.to_str()).unwrap_or("");
    e.to_lowercase()
}

/// Before any work: output extensions, no two outputs the same file, no output an input.
pub(crate) fn check_files(a: &InpaintArgs) -> Result<()> {
    if !matches!(extension(&a.out).as_str(), "tif" | "tiff" | "npy") {
        bail!("{}: --out must end in .tif, .tiff or .npy", a.out.display());
    }
    if extension(&a.out) != "npy" {
        io::check_creation_options(&a.out, &a.creation_options)?;
    }
    if let Some(p) = &a.preview {
        if extension(p) != "png" {
            bail!(
                "{}: --preview writes a PNG: its name must end in .png",
                p.display()
            );
        }
    }
    let mut outputs: Vec<(&str, &Path)> = vec![("--out", &a.out)];
    outputs.extend(a.preview.as_deref().map(|p| ("--preview", p)));
    outputs.extend(a.metrics_json.as_deref().map(|p| ("--metrics-json", p)));
    let mut inputs: Vec<(&str, &Path)> = vec![("--target", &a.target), ("--mask", &a.mask)];
    inputs.extend(a.s1.iter().map(|p| ("--s1", p.as_path())));
    inputs.extend(a.guide.iter().map(|p| ("--guide", p.as_path())));
    inputs.extend(a.truth.as_deref().map(|p| ("--truth", p)));
    Ok(io::check_distinct(&outputs, &inputs)?)
}

fn inpaint(a: &InpaintArgs) -> Result<()> {
    if tiled::wanted(a)? {
        return tiled::inpaint_tiled(a);
    }
    if a.tiles.batch > 1 && !a.quiet {
        eprintln!(
            "note: --batch {} has no effect here: the raster fits in one tile (--tile {}), which is one network",
            a.tiles.batch, a.tiles.tile
        );
    }
    check_files(a)?;
    let outs: Vec<&PathBuf> = [Some(&a.out), a.preview.as_ref(), a.metrics_json.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    for p in &outs {
        io::output_guard(p, a.overwrite)?;
    }
    let ext = extension(&a.out);
    let win = window(a)?;
    let target = read_target(a, &a.target, win)?;
    let (h, w) = (target.image.h, target.image.w);
    let opts = MaskOptions {
        invert: a.mask_invert,
        cloud_values: a.cloud_values.clone(),
        cloud_threshold: a.cloud_threshold,
        dilate: a.dilate,
    };
    let mut mask = io::read_mask(&a.mask, &opts, win)
        .with_context(|| format!("reading mask {}", a.mask.display()))?;
    if (mask.h, mask.w) != (h, w) {
        bail!(
            "{}: mask size {}×{} differs from the target's {w}×{h}",
            a.mask.display(),
            mask.w,
            mask.h
        );
    }
    let user_mask = mask.clone();
    let bad = and_valid(&mut mask.clear, &target.valid);
    if mask.count_clear() == 0 {
        if user_mask.count_clear() > 0 {
            bail!(
                "{}: every pixel the mask calls clear is nodata or NaN in the target: nothing to fit",
                a.target.display()
            );
        }
        bail!(
            "{}: every pixel is cloud or nodata: nothing to fit",
            a.mask.display()
        );
    }
    let mut sources = vec![target.image.clone()];
    let mut masks = vec![mask.clone()];
    let mut georef = target.georef.clone();
    let mut notes = Vec::new();
    if bad > 0 {
        notes.push(format!(
            "{bad} clear pixels of the target are nodata/NaN: masked out"
        ));
    }
    for p in &a.s1 {
        let r = io::read_raster(p, Some(&[1, 2]), win)
            .with_context(|| format!("reading Sentinel-1 {}", p.display()))?;
        same_size(p, &r.image, h, w)?;
        let (img, valid) = io::s1_preprocess(&r.image, r.valid.as_deref())
            .with_context(|| format!("preprocessing {}", p.display()))?;
        let mut m = Mask::clear(h, w);
        let n = and_valid(&mut m.clear, &Some(valid));
        if n > 0 {
            notes.push(format!(
                "{}: {n} nodata/invalid pixels masked out",
                p.display()
            ));
        }
        georef = georef.or(r.georef);
        sources.push(img);
        masks.push(m);
    }
    for p in &a.guide {
        let r = io::read_raster(p, None, win)
            .with_context(|| format!("reading guide {}", p.display()))?;
        same_size(p, &r.image, h, w)?;
        let mut m = Mask::clear(h, w);
        let n = and_valid(&mut m.clear, &r.valid);
        if n > 0 {
            notes.push(format!("{}: {n} nodata/NaN pixels masked out", p.display()));
        }
        georef = georef.or(r.georef);
        sources.push(r.image);
        masks.push(m);
    }
    let truth = match &a.truth {
        Some(p) => {
            let t = read_target(a, p, win)?;
            same_size(p, &t.image, h, w)?;
            if t.image.c != target.image.c {
                bail!(
                    "{}: {} bands, the target has {}",
                    p.display(),
                    t.image.c,
                    target.image.c
                );
            }
            Some(t.image)
        }
        None => None,
    };
    let quiet = a.quiet;
    let gpu = open_gpu(quiet)?;
    if !quiet {
        eprintln!(
            "target {}: {w}×{h}×{}, {:.1} % cloud; {} guide(s); {} steps",
            a.target.display(),
            target.image.c,
            100.0 * user_mask.cloud_fraction(),
            sources.len() - 1,
            a.fit.steps
        );
        for n in &notes {
            eprintln!("note: {n}");
        }
    }
    let cfg = a.fit.config();
    let (out, secs, loss) = run_fit(&gpu, cfg, a.fit.steps, sources, masks, quiet)?;
    let mut result = out[0].clone();
    if a.paste_clear {
        for p in 0..h * w {
            if mask.clear[p] {
                let c = result.c;
                result.data[p * c..(p + 1) * c]
                    .copy_from_slice(&target.image.data[p * c..(p + 1) * c]);
            }
        }
    }
    if ext == "npy" {
        io::write_npy(&a.out, &result)?;
    } else {
        io::write_geotiff(&a.out, &result, georef.as_ref(), &a.creation_options, None)?;
    }
    if let Some(p) = &a.preview {
        write_preview(
            p,
            &user_mask,
            &target.image,
            &result,
            preview_bands(a, target.image.c),
        )?;
    }
    let scores = truth
        .as_ref()
        .map(|t| score(&result, t, &target.image, &user_mask));
    if !quiet {
        eprintln!(
            "done in {secs:.1} s ({:.2} steps/s); final loss {}",
            a.fit.steps as f64 / secs,
            loss.map_or("-".into(), |l| format!("{l:.6}"))
        );
        eprintln!("wrote {}", a.out.display());
    }
    if let Some((s, b)) = &scores {
        println!(
            "PSNR cloud {} dB (mean-fill {}), full {:.2} dB; SSIM cloud {} (mean-fill {}), full {:.4}",
            fmt(s.psnr_cloud), fmt(b.psnr_cloud), s.psnr_full, fmt(s.ssim_cloud), fmt(b.ssim_cloud), s.ssim_full
        );
    }
    if let Some(p) = &a.metrics_json {
        let j = serde_json::json!({
            "target": a.target, "mask": a.mask, "s1": a.s1, "guides": a.guide,
            "size": [h, w], "bands": target.image.c, "cloud_fraction": user_mask.cloud_fraction(),
            "steps": a.fit.steps, "seed": a.fit.seed, "lr": a.fit.lr, "noise_std": a.fit.noise_std,
            "seconds": secs, "steps_per_second": a.fit.steps as f64 / secs, "final_loss": loss,
            "adapter": gpu.summary().to_string(),
            "metrics": scores.as_ref().map(|(s, _)| scores_json(s)),
            "baseline_mean_fill": scores.as_ref().map(|(_, b)| scores_json(b)),
        });
        io::write_file(p, serde_json::to_string_pretty(&j)?.as_bytes())?;
    }
    Ok(())
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.3}"))
}

fn scores_json(s: &metrics::Scores) -> serde_json::Value {
    serde_json::json!({
        "psnr_cloud": s.psnr_cloud, "psnr_clear": s.psnr_clear, "psnr_full": s.psnr_full,
        "ssim_cloud": s.ssim_cloud, "ssim_full": s.ssim_full,
    })
}

/// Scores of the result and of the mean-fill baseline on the first 3 bands (SPEC §6).
fn score(
    result: &Image,
    truth: &Image,
    input: &Image,
    mask: &Mask,
) -> (metrics::Scores, metrics::Scores) {
    let c = result.c.min(3);
    let pick = |img: &Image| {
        img.channels(&(0..c).collect::<Vec<_>>())
            .expect("bands exist")
    };
    let (r, t, i) = (pick(result), pick(truth), pick(input));
    let s = metrics::scores(&r.data, &t.data, r.h, r.w, c, &mask.clear);
    let base = metrics::mean_fill(&i.data, i.h, i.w, c, &mask.clear);
    let b = metrics::scores(&base, &t.data, r.h, r.w, c, &mask.clear);
    (s, b)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
