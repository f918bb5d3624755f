//! The CLI never destroys an input and never reports a failure as success: outputs that are the
//! same file, outputs that are inputs (however spelled, also with --overwrite), a diverged fit,
//! and small argument mistakes are refused with a message naming the problem.
use crate::cli::{cloudfill, fails_naming, files, inpaint, s, text};

#[test]
fn two_outputs_that_are_one_file_are_refused() {
    let f = files();
    let d = f.dir.path();
    let out = d.join("o.npy");
    let o = inpaint(&f, &["--metrics-json", s(&out)], &out);
    fails_naming(&o, &["--out", "--metrics-json", "same file"], &out);
    let out = d.join("o.tif");
    let spelled = format!("{}/./o.tif", s(d));
    let o = inpaint(&f, &["--metrics-json", &spelled], &out);
    fails_naming(&o, &["same file"], &out);
}

#[test]
fn an_output_that_is_an_input_is_refused_even_with_overwrite() {
    let f = files();
    let d = f.dir.path();
    let before = std::fs::read(&f.target).unwrap();
    // The target as --out, spelled another way, with --overwrite.
    let spelled = d.join(".").join("target.npy");
    let o = inpaint(&f, &["--overwrite"], &spelled);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("--target input"), "{}", text(&o));
    assert_eq!(
        std::fs::read(&f.target).unwrap(),
        before,
        "the target is untouched"
    );
    // The mask through a hard link as --metrics-json.
    let link = d.join("link.npy");
    std::fs::hard_link(&f.mask, &link).unwrap();
    let out = d.join("out.tif");
    let o = inpaint(&f, &["--metrics-json", s(&link), "--overwrite"], &out);
    fails_naming(&o, &["--mask input"], &out);
    // A guide as --preview (a .png guide would be read as a raster).
    let png = d.join("guide.png");
    std::fs::copy(&f.guide, &png).unwrap();
    let o = inpaint(
        &f,
        &[
            "--guide",
            s(&f.guide),
            "--preview",
            s(&f.guide),
            "--overwrite",
        ],
        &out,
    );
    fails_naming(&o, &["--preview"], &out);
}

/// An all-NaN target is blamed on the target, not on the mask.
#[test]
fn an_all_nan_target_is_named_as_the_problem() {
    let f = files();
    let nan = f.dir.path().join("nan.npy");
    let img = cloudfill::io::Image::new(24, 32, 3, vec![f32::NAN; 24 * 32 * 3]).unwrap();
    cloudfill::io::write_npy(&nan, &img).unwrap();
    let out = f.dir.path().join("o.tif");
    let o = cloudfill(&[
        "inpaint",
        "--target",
        s(&nan),
        "--mask",
        s(&f.mask),
        "--out",
        s(&out),
    ]);
    fails_naming(&o, &["nan.npy", "target"], &out);
    assert!(!text(&o).contains("mask.npy"), "{}", text(&o));
}

#[test]
fn a_diverged_fit_is_an_error_and_writes_nothing() {
    let f = files();
    let out = f.dir.path().join("nan.tif");
    let o = inpaint(&f, &["--lr", "1e30"], &out);
    fails_naming(&o, &["diverged", "--lr"], &out);
}

#[test]
fn small_argument_mistakes_are_refused_up_front() {
    let f = files();
    let d = f.dir.path();
    let out = d.join("o.tif");
    let o = inpaint(&f, &["--steps", "0"], &out);
    fails_naming(&o, &["--steps"], &out);
    let o = inpaint(&f, &["--preview", s(&d.join("p.jpg"))], &out);
    fails_naming(&o, &["p.jpg", ".png"], &out);
    let o = inpaint(&f, &["--lr", "0"], &out);
    fails_naming(&o, &["lr"], &out);
    // A negative value is a value, refused for what it is (not "unexpected argument '-1'").
    let o = inpaint(&f, &["--lr", "-1"], &out);
    fails_naming(&o, &["learning rate"], &out);
    // Creation options GDAL's GeoTIFF driver refuses, before the fit (also for merge).
    for co in ["COMPRESS=FOO", "NOTANOPTION=1", "JUSTAKEY"] {
        let o = inpaint(&f, &["--co", co], &out);
        fails_naming(&o, &["creation option"], &out);
    }
    let o = cloudfill(&[
        "merge",
        "--work-dir",
        s(d),
        "--out",
        s(&out),
        "--co",
        "TILED=MAYBE",
    ]);
    fails_naming(&o, &["creation option"], &out);
    let o = cloudfill(&["demo", "--steps", "0", "--out-dir", s(d)]);
    assert!(!o.status.success(), "{}", text(&o));
}

/// Runs cloudfill with a file-size limit of `kib` KiB (writes past it fail with EFBIG, as on a
/// full disk); None where bash is missing.
fn cloudfill_limited(kib: u32, args: &[&str]) -> Option<std::process::Output> {
    let script = format!("ulimit -f {kib}; trap '' XFSZ; exec \"$0\" \"$@\"");
    std::process::Command::new("bash")
        .args(["-c", &script, env!("CARGO_BIN_EXE_cloudfill")])
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .ok()
}

/// A GeoTIFF that cannot be written whole (the disk fills up) is an error, and nothing is left
/// in place of the result: single images and `merge`.
#[test]
fn a_full_disk_while_writing_a_geotiff_is_an_error() {
    let f = files();
    let d = f.dir.path();
    let out = d.join("full.tif");
    let (t, m) = (s(&f.target), s(&f.mask));
    let tiny = [
        "--steps", "2", "--down", "8,8", "--up", "8,8", "--skip", "0,0", "--quiet",
    ];
    let mut args = vec!["inpaint", "--target", t, "--mask", m, "--out", s(&out)];
    args.extend(["--co", "COMPRESS=NONE"]);
    args.extend(tiny);
    let Some(o) = cloudfill_limited(4, &args) else {
        eprintln!("skipped: no bash to set a file-size limit with");
        return;
    };
    fails_naming(&o, &["full.tif", "failed"], &out);
    // A tiled run into a work dir, then a merge that cannot be written.
    let work = d.join("work");
    let first = d.join("first.tif");
    let mut args = vec!["inpaint", "--target", t, "--mask", m, "--out", s(&first)];
    args.extend(["--tile", "16", "--overlap", "0", "--work-dir", s(&work)]);
    args.extend(tiny);
    let o = cloudfill(&args);
    assert!(o.status.success(), "{}", text(&o));
    let merged = d.join("merged.tif");
    let args = [
        "merge",
        "--work-dir",
        s(&work),
        "--out",
        s(&merged),
        "--co",
        "COMPRESS=NONE",
    ];
    let o = cloudfill_limited(4, &args).unwrap();
    fails_naming(&o, &["merged.tif", "failed"], &merged);
}

/// A target far outside [0, 1] (reflectances as stored, without --s2) with the sigmoid on is
/// fitted with a warning that says what to do; in [0, 1], or with --no-sigmoid, no warning.
#[test]
fn target_outside_the_sigmoid_range_is_warned_about() {
    use cloudfill::io::{self, Image};
    let f = files();
    let (h, w) = (24, 32);
    let raw: Vec<f32> = (0..h * w * 3).map(|i| (i % 17) as f32 * 200.0).collect();
    let target = f.dir.path().join("raw.npy");
    io::write_npy(&target, &Image::new(h, w, 3, raw).unwrap()).unwrap();
    let run = |target: &std::path::Path, extra: &[&str], out: &str| {
        let out = f.dir.path().join(out);
        let mut args = vec!["inpaint", "--target", s(target), "--mask", s(&f.mask)];
        args.extend_from_slice(&["--out", s(&out), "--quiet", "--steps", "1"]);
        args.extend_from_slice(&["--down", "8,8", "--up", "8,8", "--skip", "0,0"]);
        args.extend_from_slice(extra);
        let o = cloudfill(&args);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let warned = run(&target, &[], "raw_out.npy");
    assert!(
        warned.contains("warning") && warned.contains("[0, 3200]") && warned.contains("--s2"),
        "{warned}"
    );
    let plain = run(&target, &["--no-sigmoid"], "raw_nosig.npy");
    assert!(!plain.contains("warning"), "{plain}");
    let fine = run(&f.target, &[], "fine.npy");
    assert!(!fine.contains("warning"), "{fine}");
}
