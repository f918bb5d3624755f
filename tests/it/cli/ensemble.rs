//! The ensemble and stopping flags end to end: `--reference` is the library's reference fit (one
//! network, every step, no held-out pixels) to the bit; the default ensemble writes an
//! uncertainty raster with one band per output band and the inputs' georeferencing, records
//! each network's kept step and curve in the metrics, and scores the uncertainty against a truth.
use super::{cloudfill, files, inpaint, s, text};
use cloudfill::io::{self, Georef, MaskOptions};
use cloudfill::{Dip, DipConfig, NetConfig};
use std::ops::ControlFlow;

#[test]
fn reference_flag_is_the_reference_fit_to_the_bit() {
    let f = files();
    let (a, b) = (f.dir.path().join("a.npy"), f.dir.path().join("b.npy"));
    // TINY: 3 steps.
    let o = inpaint(&f, &["--reference"], &a);
    assert!(o.status.success(), "{}", text(&o));
    let o = inpaint(&f, &["--ensemble", "1", "--stop", "none"], &b);
    assert!(o.status.success(), "{}", text(&o));
    let got = io::read_raster(&a, None, None).unwrap().image;
    assert!(got.data == io::read_raster(&b, None, None).unwrap().image.data);
    // The library's reference fit of the same inputs.
    let target = io::read_raster(&f.target, None, None).unwrap().image;
    let mask = io::read_mask(&f.mask, &MaskOptions::default(), None).unwrap();
    let cfg = DipConfig {
        net: NetConfig {
            down: vec![8, 8],
            up: vec![8, 8],
            skip: vec![0, 0],
            ..NetConfig::with_levels(2)
        },
        ..DipConfig::default()
    };
    let mut dip = Dip::new(crate::common::gpu(), cfg).unwrap();
    dip.set_target(vec![target]).unwrap();
    dip.set_mask(vec![mask]).unwrap();
    dip.fit(3, |_| ControlFlow::Continue(())).unwrap();
    assert!(
        dip.output().unwrap()[0].data == got.data,
        "--reference is not the library's fit"
    );
}

#[test]
fn default_ensemble_writes_uncertainty_and_records_kept_steps() {
    let mut f = files();
    let d = f.dir.path().to_path_buf();
    // A georeferenced target, so that the outputs carry its georeferencing.
    let geo = Georef {
        geotransform: [300000.0, 20.0, 0.0, 5000000.0, 0.0, -20.0],
        projection: String::new(),
    };
    let t = io::read_raster(&f.target, None, None).unwrap().image;
    f.target = d.join("target.tif");
    io::write_geotiff(&f.target, &t, Some(&geo), &[], None).unwrap();
    let (out, unc, json) = (d.join("o.tif"), d.join("u.tif"), d.join("m.json"));
    // The ensemble's rule keeps no check before --min-steps: 240 steps of a tiny network.
    let o = cloudfill(&[
        "inpaint",
        "--target",
        s(&f.target),
        "--mask",
        s(&f.mask),
        "--out",
        s(&out),
        "--quiet",
        "--down",
        "8,8",
        "--up",
        "8,8",
        "--skip",
        "0,0",
        "--steps",
        "240",
        "--check-every",
        "20",
        "--min-steps",
        "160",
        "--guide",
        s(&f.guide),
        "--ensemble",
        "3",
        "--uncertainty",
        s(&unc),
        "--truth",
        s(&f.target),
        "--metrics-json",
        s(&json),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Spearman"), "{}", text(&o));
    let r = io::read_raster(&out, None, None).unwrap();
    let u = io::read_raster(&unc, None, None).unwrap();
    assert_eq!((u.image.h, u.image.w, u.image.c), (r.image.h, r.image.w, 3));
    assert_eq!(
        u.georef, r.georef,
        "the uncertainty is georeferenced like --out"
    );
    assert_eq!(u.georef.unwrap().geotransform, geo.geotransform);
    assert!(u.image.data.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(
        u.image.data.iter().any(|&v| v > 0.0),
        "three seeds, no spread"
    );
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["ensemble"], 3);
    assert_eq!(
        j["stop"]["signal"], "spread",
        "an ensemble stops on its spread"
    );
    let fit = &j["fit"];
    let (kept, done) = (
        fit["kept_step"].as_u64().unwrap(),
        fit["steps_done"].as_u64().unwrap(),
    );
    assert!(kept >= 160 && kept % 20 == 0 && done <= 240, "{fit}");
    let curve = fit["validation_curve"].as_array().unwrap();
    assert_eq!(curve.len() as u64, done / 20, "{fit}");
    assert!(j["fit"]["uncertainty_spearman_cloud"].is_number());
    // One network stops on its held-out error when asked ...
    let (one, json1) = (d.join("one.npy"), d.join("one.json"));
    let args = [
        "--ensemble",
        "1",
        "--signal",
        "heldout",
        "--metrics-json",
        s(&json1),
    ];
    let o = inpaint(&f, &args, &one);
    assert!(o.status.success(), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json1).unwrap()).unwrap();
    assert_eq!(j["stop"]["signal"], "heldout", "{j}");
    assert_eq!(j["stop"]["holdout"], 0.1, "{j}");
    // ... and by default on its drift, with nothing held out.
    let o = inpaint(
        &f,
        &[
            "--ensemble",
            "1",
            "--check-every",
            "1",
            "--min-steps",
            "1",
            "--metrics-json",
            s(&json1),
            "--overwrite",
        ],
        &one,
    );
    assert!(o.status.success(), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json1).unwrap()).unwrap();
    assert_eq!(j["stop"]["signal"], "drift", "{j}");
    assert_eq!(j["stop"]["holdout"], 0.0, "{j}");
    // Three steps: the first check only records the fill.
    assert!(j["fit"]["kept_step"].as_u64().unwrap() >= 2, "{j}");
    assert_eq!(
        j["fit"]["validation_curve"].as_array().unwrap().len(),
        2,
        "{j}"
    );
    // --uncertainty is one more output: never an input, never another output.
    let o = inpaint(&f, &["--uncertainty", s(&out), "--overwrite"], &out);
    assert!(
        !o.status.success() && text(&o).contains("--uncertainty"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_stop_settings_are_refused_before_the_fit() {
    let f = files();
    let out = f.dir.path().join("o.npy");
    let o = inpaint(&f, &["--holdout", "0", "--signal", "heldout"], &out);
    assert!(
        !o.status.success() && text(&o).contains("holdout"),
        "{}",
        text(&o)
    );
    // One network has no spread.
    let o = inpaint(&f, &["--signal", "spread", "--ensemble", "1"], &out);
    assert!(
        !o.status.success() && text(&o).contains("spread") && text(&o).contains("ensemble"),
        "{}",
        text(&o)
    );
    let o = cloudfill(&[
        "inpaint",
        "--target",
        s(&f.target),
        "--mask",
        s(&f.mask),
        "--out",
        s(&out),
        "--stop",
        "maybe",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("auto"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
}

/// `demo --reference` (the synthetic scene's side of the reference comparison) is one network
/// for every step with no held-out pixels: the same raster as `--ensemble 1 --stop none`, no
/// uncertainty line; `--stop none` with an ensemble runs every step and scores its spread.
#[test]
fn demo_reference_is_one_network_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let run = |sub: &str, extra: &[&str]| {
        let out = dir.path().join(sub);
        std::fs::create_dir(&out).unwrap();
        let mut args = vec!["demo", "--size", "32", "--steps", "6", "--out-dir", s(&out)];
        args.extend(extra);
        let o = cloudfill(&args);
        assert!(o.status.success(), "{}", text(&o));
        let r = io::read_raster(&out.join("demo_result.tif"), None, None).unwrap();
        (text(&o), r.image.data)
    };
    let (t_ref, ref_bits) = run("ref", &["--reference"]);
    assert!(t_ref.contains("one network, 6 steps"), "{t_ref}");
    assert!(!t_ref.contains("uncertainty:"), "{t_ref}");
    let (_, one_bits) = run("one", &["--ensemble", "1", "--stop", "none"]);
    assert!(
        ref_bits == one_bits,
        "--reference differs from --ensemble 1 --stop none"
    );
    let (t_ens, ens_bits) = run("ens", &["--ensemble", "2", "--stop", "none"]);
    assert!(t_ens.contains("an ensemble of 2, 6 steps"), "{t_ens}");
    assert!(t_ens.contains("uncertainty: the 2 networks"), "{t_ens}");
    assert!(
        ens_bits != ref_bits,
        "an ensemble of 2 is its first network alone"
    );
}
