//! `cloudfill inpaint` on one raster: load the inputs (as tiles are loaded) → fit → write →
//! [`report`], which the tiled path shares.
use crate::args::InpaintArgs;
use crate::fit::{describe_kept, open_gpu, run_fit, Fitted};
use crate::resume::{self, Resume};
use crate::tiled;
use anyhow::{bail, Context, Result};
use cloudfill::io::{self, Georef, Image, RasterFormat};
use cloudfill::report::{FitSummary, Record, RunKind, TruthScores};
use cloudfill::tiles::{self, Loaded};
use cloudfill::{metrics, preview};
use std::path::Path;

pub(crate) fn inpaint(a: &InpaintArgs) -> Result<()> {
    if tiled::wanted(a)? {
        if let Some(p) = &a.checkpoint {
            bail!(
                "{}: --checkpoint resumes a single-raster fit; this run is tiled (the raster is                  larger than --tile {}, or --work-dir/--shard is given), and a tiled run resumes                  through --work-dir instead",
                p.display(),
                a.tiles.tile
            );
        }
        return tiled::inpaint_tiled(a);
    }
    if a.tiles.batch > 1 && !a.write.quiet {
        eprintln!(
            "note: --batch {} has no effect here: the raster fits in one tile (--tile {}), which is one network",
            a.tiles.batch, a.tiles.tile
        );
    }
    check_outputs(a, true)?.expect("--out without --shard");
    let inputs = a.inputs();
    let (loaded, probe) = inputs.load_region()?;
    loaded.check_fittable(&inputs)?;
    loaded.check_min_clear(&inputs, a.tiles.min_clear)?;
    let target = &loaded.sources[0];
    let georef = probe.georef.as_ref();
    let write = |path: &Path, image: &Image| write_raster(a, path, image, georef);
    let truth = (a.truth.as_deref())
        .map(|p| inputs.load_truth(p, target))
        .transpose()?;
    if loaded.nothing_to_fill() {
        // As a cloud-free tile of a tiled run: the target itself, no fit.
        write(a.out(), target)?;
        if !a.write.quiet {
            let out = a.out().display();
            eprintln!("note: no cloud and no nodata in the target: nothing to fill; {out} is the target as read (no fit)");
        }
        let kind = RunKind::Single(None, None);
        return report(
            a,
            "none (no fit)",
            &loaded,
            target,
            truth.as_ref(),
            0.0,
            kind,
        );
    }
    let dip = a.fit.config();
    if let Some(w) = loaded.range_warning(dip.net.sigmoid) {
        eprintln!("warning: {w}");
    }
    let gpu = open_gpu(a.write.quiet)?;
    if !a.write.quiet {
        describe(a, &loaded);
        if let Some(n) = dip.net.fit_size(target.h, target.w).note() {
            eprintln!("note: {n}");
        }
    }
    let (sources, masks) = (loaded.sources.clone(), loaded.masks.clone());
    let resume = (a.checkpoint.as_deref()).map(|path| Resume {
        path,
        every: a.checkpoint_every,
    });
    let quiet = a.write.quiet;
    let fit = run_fit(
        &gpu,
        dip,
        a.fit.steps,
        sources,
        masks,
        quiet,
        resume.as_ref(),
    )?;
    let mut result = fit.outputs[0].clone();
    if a.paste_clear {
        tiles::paste_clear(&mut result, target, &loaded.masks[0].clear);
    }
    write(a.out(), &result)?;
    if let Some(p) = &a.uncertainty {
        write(p, &fit.uncertainty[0])?;
    }
    if !quiet {
        say_done(a, &fit);
    }
    let mut summary = FitSummary::new(&fit.monitors, fit.steps_done, fit.diverged_at);
    if let (Some(t), true) = (&truth, a.fit.config().ensemble > 1) {
        let (m, sd, clear) = (
            &fit.outputs[0],
            &fit.uncertainty[0],
            &loaded.user_mask.clear,
        );
        summary.uncertainty_spearman =
            metrics::uncertainty_spearman(&m.data, &sd.data, &t.data, m.c, clear);
        if let Some(r) = summary.uncertainty_spearman {
            println!("uncertainty: the members' spread ranks the error in the cloud with Spearman {r:.3}");
        }
    }
    let kind = RunKind::Single(fit.loss, Some(summary));
    let adapter = gpu.summary().to_string();
    report(
        a,
        &adapter,
        &loaded,
        &result,
        truth.as_ref(),
        fit.seconds,
        kind,
    )?;
    a.checkpoint.as_deref().map_or(Ok(()), resume::finish)
}

/// Writes one output raster (.npy, or GeoTIFF with the inputs' georeferencing and --co).
fn write_raster(
    a: &InpaintArgs,
    path: &Path,
    image: &Image,
    georef: Option<&Georef>,
) -> Result<()> {
    match io::check_raster_output(path, &a.write.creation_options)? {
        RasterFormat::Npy => io::write_npy(path, image)?,
        RasterFormat::GeoTiff => {
            io::write_geotiff(path, image, georef, &a.write.creation_options, None)?
        }
    }
    Ok(())
}

/// The fit's end on stderr: what was kept, time, loss, and the files written.
fn say_done(a: &InpaintArgs, fit: &Fitted) {
    describe_kept(fit);
    let run = fit.steps_done - fit.resumed_from;
    let (secs, steps_s) = (fit.seconds, run as f64 / fit.seconds);
    let loss = fit.loss.map_or("-".into(), |l| format!("{l:.6}"));
    eprintln!("done in {secs:.1} s ({run} steps, {steps_s:.2} steps/s); final loss {loss}");
    eprintln!("wrote {}", a.out().display());
    if let Some(p) = &a.uncertainty {
        let k = fit.monitors.len().max(a.fit.config().ensemble);
        eprintln!(
            "wrote {} (the per-pixel standard deviation of {k} networks)",
            p.display()
        );
    }
}

/// The inputs as loaded, on stderr: size, cloud, guides, steps, and what nodata was masked out.
fn describe(a: &InpaintArgs, loaded: &Loaded) {
    let (t, guides, steps) = (&loaded.sources[0], loaded.sources.len() - 1, a.fit.steps);
    let (path, cloud) = (
        a.target.display(),
        100.0 * loaded.user_mask.cloud_fraction(),
    );
    let size = format!("{}×{}×{}", t.w, t.h, t.c);
    eprintln!("target {path}: {size}, {cloud:.1} % cloud; {guides} guide(s); {steps} steps");
    for n in &loaded.notes {
        eprintln!("note: {n}");
    }
}

/// Before any work: output names and creation options, no two outputs one file, no output an
/// input, and (when `guard`) no existing output without --overwrite. The output's format.
pub(crate) fn check_outputs(a: &InpaintArgs, guard: bool) -> Result<Option<RasterFormat>> {
    let co = &a.write.creation_options;
    let format = (a.out.as_deref())
        .map(|out| io::check_raster_output(out, co))
        .transpose()?;
    if let Some(p) = &a.preview {
        if !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
            let p = p.display();
            bail!("{p}: --preview writes a PNG: its name must end in .png");
        }
    }
    let mut outputs: Vec<(&str, &Path)> = a.out.iter().map(|p| ("--out", p.as_path())).collect();
    outputs.extend(a.preview.as_deref().map(|p| ("--preview", p)));
    outputs.extend(a.metrics_json.as_deref().map(|p| ("--metrics-json", p)));
    if let Some(p) = &a.uncertainty {
        io::check_raster_output(p, co)?;
        outputs.push(("--uncertainty", p));
    }
    let mut inputs: Vec<(&str, &Path)> = vec![("--target", &a.target), ("--mask", &a.mask)];
    inputs.extend(a.s1.iter().map(|p| ("--s1", p.as_path())));
    inputs.extend(a.guide.iter().map(|p| ("--guide", p.as_path())));
    inputs.extend(a.truth.as_deref().map(|p| ("--truth", p)));
    let checkpoint = a.checkpoint.as_deref().map(|p| ("--checkpoint", p));
    io::check_distinct(&[&outputs[..], checkpoint.as_slice()].concat(), &inputs)?;
    for (_, p) in outputs.iter().filter(|_| guard) {
        io::output_guard(p, a.write.overwrite)?;
    }
    if let Some((_, p)) = checkpoint {
        // It may exist (the run resumes from it); it must be a file in a writable folder.
        io::output_guard(p, true)?;
    }
    Ok(format)
}

/// What follows the result (of the whole region, as `loaded`), single image or tiled: the
/// preview, the truth scores (printed), the metrics JSON, each when asked for.
pub(crate) fn report(
    a: &InpaintArgs,
    adapter: &str,
    loaded: &Loaded,
    result: &Image,
    truth: Option<&Image>,
    seconds: f64,
    kind: RunKind,
) -> Result<()> {
    let (inputs, target, mask) = (a.inputs(), &loaded.sources[0], &loaded.user_mask);
    if let Some(p) = &a.preview {
        let bands = inputs.preview_bands(target.c);
        preview::write_panels(p, mask, target, result, bands)
            .with_context(|| format!("writing preview {}", p.display()))?;
    }
    let scores = truth.map(|t| TruthScores::new(result, t, target, mask));
    if let Some(s) = &scores {
        println!("{s}");
    }
    if let Some(p) = &a.metrics_json {
        let (dip, adapter) = (a.fit.config(), adapter.to_string());
        let (inputs, steps) = (&inputs, a.fit.steps);
        let run = Record {
            inputs,
            loaded,
            dip: &dip,
            steps,
            seconds,
            adapter,
            kind,
        };
        let json = serde_json::to_string_pretty(&run.to_json(scores.as_ref()))?;
        io::write_file(p, json.as_bytes())?;
    }
    Ok(())
}
