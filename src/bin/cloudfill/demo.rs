//! `cloudfill demo`: the built-in synthetic scene, fitted and scored against its truth.
use crate::args::{DemoArgs, StopMode};
use crate::fit::{describe_kept, open_gpu, run_fit};
use anyhow::{bail, Context, Result};
use cloudfill::dip::{DipConfig, StopRule, StopSignal};
use cloudfill::io::{self, Image, Mask};
use cloudfill::net::NetConfig;
use cloudfill::report::TruthScores;
use cloudfill::{metrics, preview, synthetic};

pub(crate) fn demo(a: &DemoArgs) -> Result<()> {
    let result = a.out_dir.join("demo_result.tif");
    let prev = a.out_dir.join("demo_preview.png");
    for p in [&result, &prev] {
        io::output_guard(p, a.overwrite)?;
    }
    let size = a.size;
    if size < 16 || size % 16 != 0 {
        bail!("--size must be a multiple of 16 and at least 16 (got {size})");
    }
    let gpu = open_gpu(a.quiet)?;
    let scene = synthetic::scene(a.size, a.size, a.seed);
    let (h, w) = (scene.h, scene.w);
    // The reference network has 6 levels; smaller scenes get as many as they can hold.
    let levels = (a.size.trailing_zeros() as usize).saturating_sub(1).min(6);
    let ensemble = if a.reference { 1 } else { a.ensemble as usize };
    let stop = (a.stop == StopMode::Auto && !a.reference).then(|| StopRule::recommended(ensemble));
    let cfg = DipConfig {
        net: NetConfig::with_levels(levels),
        seed: a.seed,
        ensemble,
        stop,
        ..DipConfig::default()
    };
    let cloudy = Image::new(h, w, 3, scene.cloudy)?;
    let sar = Image::new(h, w, 2, scene.sar)?;
    let truth = Image::new(h, w, 3, scene.truth)?;
    let mask = Mask::new(h, w, scene.clear)?;
    if !a.quiet {
        let nets = match ensemble {
            1 => "one network".to_string(),
            k => format!("an ensemble of {k}"),
        };
        let steps = match stop {
            Some(r) if r.signal == StopSignal::Spread => format!(
                "at most {} steps (stopping when the networks' spread in the cloud stops falling)",
                a.steps
            ),
            Some(r) if r.signal == StopSignal::Drift => format!(
                "at most {} steps (stopping when the fill stops settling)",
                a.steps
            ),
            Some(_) => format!("at most {} steps (stopping on held-out patches)", a.steps),
            None => format!("{} steps", a.steps),
        };
        eprintln!(
            "demo: {w}×{h} synthetic scene, {:.1} % cloud, {levels}-level network, {nets}, {steps}",
            100.0 * mask.cloud_fraction(),
        );
    }
    let sources = vec![cloudy.clone(), sar];
    let masks = vec![mask.clone(), Mask::clear(h, w)];
    let fit = run_fit(&gpu, cfg, a.steps, sources, masks, a.quiet, None)?;
    let out = &fit.outputs[0];
    io::write_geotiff(&result, out, None, &[], None)?;
    preview::write_panels(&prev, &mask, &cloudy, out, [0, 1, 2])
        .with_context(|| format!("writing preview {}", prev.display()))?;
    let TruthScores {
        result: s,
        mean_fill: b,
    } = TruthScores::new(out, &truth, &cloudy, &mask);
    let secs = fit.seconds;
    if !a.quiet {
        describe_kept(&fit);
    }
    println!(
        "PSNR in the cloud: {:.2} dB (mean-fill baseline {:.2} dB); SSIM in the cloud {:.3} (baseline {:.3}); {:.1} s, {:.1} steps/s",
        s.psnr_cloud.unwrap_or(f64::NAN),
        b.psnr_cloud.unwrap_or(f64::NAN),
        s.ssim_cloud.unwrap_or(f64::NAN),
        b.ssim_cloud.unwrap_or(f64::NAN),
        secs,
        fit.steps_done as f64 / secs
    );
    let sd = &fit.uncertainty[0];
    let spread = (ensemble > 1)
        .then(|| metrics::uncertainty_spearman(&out.data, &sd.data, &truth.data, 3, &mask.clear));
    if let Some(Some(r)) = spread {
        println!("uncertainty: the {ensemble} networks' spread ranks the error in the cloud with Spearman {r:.3}");
    }
    println!("wrote {} and {}", result.display(), prev.display());
    Ok(())
}
