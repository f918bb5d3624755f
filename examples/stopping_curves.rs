//! Measurement harness for the stopping rule and ensembles (BENCHMARKS.md §9): fits an ensemble
//! on a window of the real sample with held-out patches and no stop, and at every check writes
//! each member's current first-source output (`check_<step>.f32`, K×H×W×C little-endian f32) and
//! its held-out error (`curves.jsonl`), with the cloud mask and truth (`mask.u8`, `truth.f32`),
//! for `benches/stopping_rules.py` and `benches/drift_signal.py` to score offline. HOLDOUT 0
//! holds nothing out (the fit scores the spread instead, which needs K ≥ 2).
//!
//! `cargo run --release --example stopping_curves -- OUT_DIR X0 Y0 SIZE K STEPS EVERY [HOLDOUT] [SEED]`
use cloudfill::io::{MaskOptions, Window};
use cloudfill::tiles::Inputs;
use cloudfill::{Dip, DipConfig, Gpu, StopRule, StopSignal};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: f64| a.get(i).map_or(d, |v| v.parse().expect("a number"));
    let out = PathBuf::from(&a[0]);
    let (x0, y0, size) = (
        num(1, 0.0) as usize,
        num(2, 0.0) as usize,
        num(3, 128.0) as usize,
    );
    let (k, steps, every) = (
        num(4, 4.0) as usize,
        num(5, 1000.0) as usize,
        num(6, 25.0) as usize,
    );
    let (holdout, seed) = (num(7, 0.1), num(8, 0.0) as u64);
    std::fs::create_dir_all(&out)?;
    let data = PathBuf::from("../shared/data");
    let inputs = Inputs {
        target: data.join("2019_mean.npy"),
        bands: None,
        s2: false,
        mask: data.join("mask.npy"),
        mask_options: MaskOptions::default(),
        s1: vec![data.join("s1.tif")],
        s1_max: cloudfill::io::S1_MAX_REFERENCE,
        guides: vec![],
        window: Some(Window {
            xoff: x0,
            yoff: y0,
            xsize: size,
            ysize: size,
        }),
    };
    let (loaded, _) = inputs.load_region()?;
    let t = &loaded.sources[0];
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(out.join("truth.f32"), bytes(&t.data))?;
    let cloud: Vec<u8> = loaded.user_mask.clear.iter().map(|&c| !c as u8).collect();
    std::fs::write(out.join("mask.u8"), cloud)?;
    let gpu = Gpu::new()?;
    let cfg = DipConfig {
        ensemble: k,
        seed,
        stop: Some(StopRule {
            holdout,
            signal: if holdout > 0.0 {
                StopSignal::Heldout
            } else {
                StopSignal::Spread
            },
            every,
            patience: None,
            ..StopRule::default()
        }),
        ..DipConfig::default()
    };
    let mut dip = Dip::new(&gpu, cfg)?;
    dip.set_target(loaded.sources.clone())?;
    dip.set_mask(loaded.masks.clone())?;
    let held = dip.heldout_mask().expect("a stopping rule");
    std::fs::write(
        out.join("held.u8"),
        held.clear.iter().map(|&c| c as u8).collect::<Vec<_>>(),
    )?;
    let mut log = std::fs::File::create(out.join("curves.jsonl"))?;
    let t0 = std::time::Instant::now();
    for s in (every..=steps).step_by(every) {
        dip.fit(every, |_| ControlFlow::Continue(()))?;
        let members = dip.render_members()?;
        let all: Vec<f32> = members.iter().flat_map(|m| m[0].data.clone()).collect();
        std::fs::write(out.join(format!("check_{s}.f32")), bytes(&all))?;
        let vals: Vec<f64> = dip
            .monitors()
            .iter()
            .map(|m| m.curve.last().unwrap().1)
            .collect();
        let line = format!(
            "{{\"step\": {s}, \"val\": {vals:?}, \"t\": {:.2}, \"h\": {}, \"w\": {}, \"c\": {}}}",
            t0.elapsed().as_secs_f64(),
            t.h,
            t.w,
            t.c
        );
        writeln!(log, "{line}")?;
        eprintln!("{line}");
    }
    Ok(())
}
