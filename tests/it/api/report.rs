//! src/report.rs and the pieces a run shares between its single-image and tiled paths (loading
//! the whole region, the truth, "nothing to fit", paste-clear, output formats); no GPU.
use crate::api::io::ramp;
use cloudfill::io::{self, check_raster_output, Image, Mask, MaskOptions, RasterFormat};
use cloudfill::report::{Record, RunKind, TruthScores};
use cloudfill::tiles::{paste_clear, workdir::TempWorkDir, Inputs, TileOptions};
use cloudfill::{metrics, DipConfig};
use std::path::{Path, PathBuf};

/// A 6×8 target (3 bands, values in [0, 1)) whose first two rows are cloud, and its mask.
fn problem(dir: &Path) -> Inputs {
    let t = ramp(6, 8, 3);
    let t = Image::new(6, 8, 3, t.data.iter().map(|v| v / 1000.0).collect()).unwrap();
    let target = dir.join("t.npy");
    io::write_npy(&target, &t).unwrap();
    let clear = (0..48).map(|p| f32::from(u8::from(p >= 16))).collect();
    let mask = dir.join("m.npy");
    io::write_npy(&mask, &Image::new(6, 8, 1, clear).unwrap()).unwrap();
    inputs(target, mask)
}

fn inputs(target: PathBuf, mask: PathBuf) -> Inputs {
    Inputs {
        target,
        bands: None,
        s2: false,
        mask,
        mask_options: MaskOptions::default(),
        s1: vec![],
        s1_max: cloudfill::io::S1_MAX_REFERENCE,
        guides: vec![],
        window: None,
    }
}

#[test]
fn the_region_the_truth_and_nothing_to_fit() {
    let d = tempfile::tempdir().unwrap();
    let inputs = problem(d.path());
    let (loaded, probe) = inputs.load_region().unwrap();
    assert_eq!((probe.width, probe.height, probe.channels), (8, 6, 3));
    assert_eq!(loaded.user_mask.count_clear(), 32);
    loaded.check_fittable(&inputs).unwrap();
    let truth = inputs
        .load_truth(&inputs.target, &loaded.sources[0])
        .unwrap();
    assert_eq!(truth, loaded.sources[0]);
    // A truth of another size or band count is refused by name.
    let small = d.path().join("small.npy");
    io::write_npy(&small, &ramp(6, 7, 3)).unwrap();
    let e = (inputs.load_truth(&small, &loaded.sources[0]).unwrap_err()).to_string();
    assert!(
        e.contains("small.npy") && e.contains("7×6 differs from the target's 8×6"),
        "{e}"
    );
    let two = d.path().join("two.npy");
    io::write_npy(&two, &ramp(6, 8, 2)).unwrap();
    let e = (inputs.load_truth(&two, &loaded.sources[0]).unwrap_err()).to_string();
    assert!(
        e.contains("two.npy") && e.contains("2 bands, the target has 3"),
        "{e}"
    );
    // A target that is NaN wherever the mask is clear: the target is the problem.
    let mut nan = loaded.sources[0].clone();
    nan.data[16 * 3..].fill(f32::NAN);
    io::write_npy(&inputs.target, &nan).unwrap();
    let (loaded, _) = inputs.load_region().unwrap();
    let e = loaded.check_fittable(&inputs).unwrap_err().to_string();
    assert!(e.contains("t.npy") && e.contains("nothing to fit"), "{e}");
    assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
}

#[test]
fn preview_bands_follow_the_bands_read() {
    let mut inputs = inputs(PathBuf::new(), PathBuf::new());
    assert_eq!(inputs.preview_bands(3), [0, 1, 2]);
    assert_eq!(inputs.preview_bands(1), [0, 0, 0]);
    inputs.s2 = true;
    inputs.bands = Some(vec![4, 3, 2]);
    assert_eq!(inputs.preview_bands(3), [0, 1, 2]);
    inputs.bands = None;
    assert_eq!(inputs.preview_bands(13), [3, 2, 1], "B4, B3, B2 of all 13");
}

#[test]
fn paste_clear_keeps_only_the_cloud_of_the_result() {
    let original = ramp(2, 2, 2);
    let mut result = Image::zeros(2, 2, 2);
    paste_clear(&mut result, &original, &[true, false, false, true]);
    let expect = [0.25, 1.25, 0.0, 0.0, 0.0, 0.0, 110.25, 111.25];
    assert_eq!(result.data, expect);
}

#[test]
fn truth_scores_line_and_metrics_document() {
    let d = tempfile::tempdir().unwrap();
    let inputs = problem(d.path());
    let (loaded, _) = inputs.load_region().unwrap();
    let (target, mask) = (&loaded.sources[0], &loaded.user_mask);
    let s = TruthScores::new(target, target, target, mask);
    let base = metrics::mean_fill(&target.data, 6, 8, 3, &mask.clear);
    let b = metrics::scores(&base, &target.data, 6, 8, 3, &mask.clear);
    assert_eq!(s.mean_fill, b);
    assert_eq!(s.result.psnr_cloud, Some(f64::INFINITY));
    assert!(
        s.to_string().starts_with("PSNR cloud inf dB (mean-fill "),
        "{s}"
    );
    let no_cloud = TruthScores::new(target, target, target, &Mask::clear(6, 8));
    assert!(no_cloud
        .to_string()
        .contains("PSNR cloud - dB (mean-fill -)"));
    let dip = DipConfig::default();
    let mut run = Record {
        inputs: &inputs,
        loaded: &loaded,
        dip: &dip,
        steps: 10,
        seconds: 4.0,
        adapter: "cpu".into(),
        kind: RunKind::Single(Some(0.5), None),
    };
    let j = run.to_json(Some(&s));
    assert_eq!(j["size"], serde_json::json!([6, 8]));
    assert_eq!(
        (j["bands"].as_u64(), j["cloud_fraction"].as_f64()),
        (Some(3), Some(1.0 / 3.0))
    );
    assert_eq!(
        (j["steps_per_second"].as_f64(), j["final_loss"].as_f64()),
        (Some(2.5), Some(0.5))
    );
    assert_eq!(
        j["metrics"]["psnr_full"],
        serde_json::Value::Null,
        "+∞ is null"
    );
    assert!(j["baseline_mean_fill"]["psnr_cloud"].as_f64().is_some());
    assert!(j.get("tile").is_none());
    run.kind = RunKind::Tiled(TileOptions::default());
    let j = run.to_json(None);
    assert_eq!(
        (j["tile"].as_u64(), j["overlap"].as_u64()),
        (Some(256), Some(32))
    );
    assert!(j["metrics"].is_null() && j.get("final_loss").is_none());
}

#[test]
fn output_formats_and_the_temporary_work_dir() {
    let of = |p: &str| RasterFormat::of(Path::new(p)).ok();
    assert_eq!(of("a/b.TIF"), Some(RasterFormat::GeoTiff));
    assert_eq!(of("b.tiff"), Some(RasterFormat::GeoTiff));
    assert_eq!(of("b.npy"), Some(RasterFormat::Npy));
    assert_eq!((of("b.png"), of("b")), (None, None));
    let e = check_raster_output(Path::new("x.jpg"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.jpg") && e.contains(".tif, .tiff or .npy"),
        "{e}"
    );
    let co = ["COMPRESS=FOO".to_string()];
    assert!(check_raster_output(Path::new("x.tif"), &co).is_err());
    assert!(
        check_raster_output(Path::new("x.npy"), &co).is_ok(),
        "a .npy takes no options"
    );
    let d = tempfile::tempdir().unwrap();
    let path: PathBuf = {
        let t = TempWorkDir::beside(&d.path().join("out.tif"));
        std::fs::create_dir(t.path()).unwrap();
        std::fs::write(t.path().join("tile_0_0.npy"), b"").unwrap();
        assert!(t.path().starts_with(d.path()));
        t.path().to_path_buf()
    };
    assert!(!path.exists(), "removed when dropped");
}
