//! The `cloudfill` command end to end: the demo, bad input (non-zero exit, a message naming the
//! file and the problem, no output left behind), and the real sample scene when present.
mod checkpoint;
mod composite;
mod ensemble;
mod outputs;
mod robust;
mod small;
mod tiles;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn cloudfill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cloudfill"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the cloudfill binary runs")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn demo_runs_and_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let o = cloudfill(&[
        "demo",
        "--size",
        "64",
        "--steps",
        "30",
        "--out-dir",
        s(dir.path()),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("PSNR in the cloud"), "{}", text(&o));
    for f in ["demo_result.tif", "demo_preview.png"] {
        let p = dir.path().join(f);
        assert!(
            p.metadata().map(|m| m.len() > 0).unwrap_or(false),
            "{f} written"
        );
    }
    // a second run without --overwrite refuses before computing anything
    let o = cloudfill(&[
        "demo",
        "--size",
        "64",
        "--steps",
        "30",
        "--out-dir",
        s(dir.path()),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("demo_result.tif"), "{}", text(&o));
}

/// A small valid problem on disk: target .npy (24×32×3), mask .npy, a guide GeoTIFF.
pub(crate) struct Files {
    pub dir: tempfile::TempDir,
    pub target: PathBuf,
    pub mask: PathBuf,
    pub guide: PathBuf,
}

pub(crate) fn files() -> Files {
    use cloudfill::io::{self, Georef, Image};
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (24, 32);
    let img = Image::new(
        h,
        w,
        3,
        (0..h * w * 3).map(|i| (i % 17) as f32 / 17.0).collect(),
    )
    .unwrap();
    let target = dir.path().join("target.npy");
    io::write_npy(&target, &img).unwrap();
    let mask_img = Image::new(
        h,
        w,
        1,
        (0..h * w).map(|i| (i % 5 != 0) as u8 as f32).collect(),
    )
    .unwrap();
    let mask = dir.path().join("mask.npy");
    io::write_npy(&mask, &mask_img).unwrap();
    let geo = Georef {
        geotransform: [500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0],
        projection: String::new(),
    };
    let guide = dir.path().join("guide.tif");
    let g = Image::new(h, w, 2, vec![0.25; h * w * 2]).unwrap();
    io::write_geotiff(&guide, &g, Some(&geo), &[], None).unwrap();
    Files {
        dir,
        target,
        mask,
        guide,
    }
}

const TINY: [&str; 8] = [
    "--steps", "3", "--down", "8,8", "--up", "8,8", "--skip", "0,0",
];

pub(crate) fn inpaint(f: &Files, extra: &[&str], out: &Path) -> Output {
    let mut args = vec![
        "inpaint",
        "--target",
        s(&f.target),
        "--mask",
        s(&f.mask),
        "--out",
        s(out),
        "--quiet",
    ];
    args.extend_from_slice(&TINY);
    args.extend_from_slice(extra);
    cloudfill(&args)
}

pub(crate) fn fails_naming(o: &Output, names: &[&str], out: &Path) {
    let t = text(o);
    assert!(!o.status.success(), "should fail: {t}");
    for n in names {
        assert!(t.contains(n), "message names {n:?}: {t}");
    }
    assert!(!out.exists(), "no output left behind: {t}");
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn inpaint_small_npy_with_guide_writes_georeferenced_geotiff() {
    let f = files();
    let out = f.dir.path().join("out.tif");
    let json = f.dir.path().join("m.json");
    let o = inpaint(
        &f,
        &[
            "--guide",
            s(&f.guide),
            "--truth",
            s(&f.target),
            "--metrics-json",
            s(&json),
        ],
        &out,
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = cloudfill::io::read_raster(&out, None, None).unwrap();
    assert_eq!((r.image.h, r.image.w, r.image.c), (24, 32, 3));
    let geo = r.georef.expect("the guide's georeferencing");
    assert_eq!(geo.geotransform[0], 500000.0);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(m["metrics"]["psnr_full"].as_f64().is_some(), "{m}");
    // windowed: the output origin moves with the window
    let out2 = f.dir.path().join("win.npy");
    let o = inpaint(&f, &["--window", "8,4,16,16"], &out2);
    assert!(o.status.success(), "{}", text(&o));
    let r = cloudfill::io::read_raster(&out2, None, None).unwrap();
    assert_eq!((r.image.h, r.image.w), (16, 16));
}

#[test]
fn bad_input_fails_cleanly() {
    let f = files();
    let d = f.dir.path();
    let out = d.join("out.tif");
    // missing file
    let o = inpaint(&f, &["--guide", s(&d.join("nope.tif"))], &out);
    fails_naming(&o, &["nope.tif"], &out);
    // unreadable raster
    let junk = d.join("junk.tif");
    std::fs::write(&junk, b"not a raster").unwrap();
    let o = inpaint(&f, &["--guide", s(&junk)], &out);
    fails_naming(&o, &["junk.tif"], &out);
    // sizes that differ
    let small = d.join("small.npy");
    cloudfill::io::write_npy(&small, &cloudfill::io::Image::zeros(8, 8, 2)).unwrap();
    let o = inpaint(&f, &["--guide", s(&small)], &out);
    fails_naming(&o, &["small.npy", "differs"], &out);
    // mask of the wrong size
    let o = cloudfill(&[
        "inpaint",
        "--target",
        s(&f.target),
        "--mask",
        s(&small),
        "--out",
        s(&out),
    ]);
    fails_naming(&o, &["small.npy"], &out);
    // all-cloud mask
    let cloud = d.join("cloud.npy");
    cloudfill::io::write_npy(&cloud, &cloudfill::io::Image::zeros(24, 32, 1)).unwrap();
    let o = cloudfill(&[
        "inpaint",
        "--target",
        s(&f.target),
        "--mask",
        s(&cloud),
        "--out",
        s(&out),
    ]);
    fails_naming(&o, &["cloud.npy"], &out);
    // a window outside the raster
    let o = inpaint(&f, &["--window", "20,0,32,32"], &out);
    fails_naming(&o, &["window"], &out);
    // output exists without --overwrite: refused, and the existing file is untouched
    std::fs::write(&out, b"keep me").unwrap();
    let o = inpaint(&f, &[], &out);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("out.tif") && text(&o).contains("pass --overwrite"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

/// Opt-in: the real sample scene (../shared/data): S1 GeoTIFF + the 2019 mean as target + the
/// real mask, a short fit, a georeferenced GeoTIFF and metrics.
#[test]
fn real_sample_scene_when_present() {
    let data = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
    if !data.join("s1.tif").exists() {
        eprintln!("skipped: ../shared/data not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.tif");
    let (mean, mask, s1) = (
        data.join("2019_mean.npy"),
        data.join("mask.npy"),
        data.join("s1.tif"),
    );
    let args = [
        "inpaint",
        "--target",
        s(&mean),
        "--mask",
        s(&mask),
        "--s1",
        s(&s1),
        "--window",
        "0,0,128,128",
        "--truth",
        s(&mean),
        "--out",
        s(&out),
        "--steps",
        "20",
        "--quiet",
    ];
    let o = cloudfill(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("PSNR cloud"), "{}", text(&o));
    let r = cloudfill::io::read_raster(&out, None, None).unwrap();
    assert_eq!((r.image.h, r.image.w, r.image.c), (128, 128, 3));
    let geo = r.georef.expect("georeferenced from s1.tif");
    assert!(
        geo.projection.contains("32630") || geo.projection.contains("UTM"),
        "{}",
        geo.projection
    );
}
