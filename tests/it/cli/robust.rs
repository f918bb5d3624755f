//! Issue 13: the work dir identifies inputs by content (item 5), an interrupted tiled run
//! leaves no temporary tiles (7), one rule for degenerate masks in both modes (9), the range
//! warning in tiled mode and --shard without --out (10), GDAL open messages (11).
use super::{cloudfill, files, inpaint, s, text, Files, TINY};
use cloudfill::io::{self, Image};
use std::path::Path;
use std::process::{Command, Output};

/// A mask of the test files' size (24×32): clear everywhere but where `cloud(p)`.
fn mask(f: &Files, name: &str, cloud: impl Fn(usize) -> bool) -> std::path::PathBuf {
    let v = (0..24 * 32)
        .map(|p| f32::from(u8::from(!cloud(p))))
        .collect();
    let p = f.dir.path().join(name);
    io::write_npy(&p, &Image::new(24, 32, 1, v).unwrap()).unwrap();
    p
}

/// `cloudfill inpaint` of the test target under `mask` into `out`, not quiet, in tiles of 16.
fn run(f: &Files, mask: &Path, out: &Path, tiled: bool, extra: &[&str]) -> Output {
    let mut a = vec!["inpaint", "--target", s(&f.target), "--mask", s(mask)];
    a.extend(["--out", s(out)]);
    a.extend_from_slice(&TINY);
    if tiled {
        a.extend(["--tile", "16", "--overlap", "4"]);
    }
    a.extend_from_slice(extra);
    cloudfill(&a)
}

#[test]
fn no_cloud_is_copied_through_in_both_modes() {
    let f = files();
    let clear = mask(&f, "clear.npy", |_| false);
    let target = io::read_raster(&f.target, None, None).unwrap().image;
    for tiled in [false, true] {
        let out = f.dir.path().join(format!("out_{tiled}.npy"));
        let o = run(&f, &clear, &out, tiled, &[]);
        assert!(o.status.success(), "{}", text(&o));
        if !tiled {
            assert!(text(&o).contains("nothing to fill"), "{}", text(&o));
            assert!(
                !text(&o).contains("adapter:"),
                "no GPU opened: {}",
                text(&o)
            );
        }
        let r = io::read_raster(&out, None, None).unwrap().image;
        assert_eq!(r.data, target.data, "tiled {tiled}: the target as it is");
    }
}

#[test]
fn too_little_clear_is_refused_alone_and_nodata_in_tiles() {
    let f = files();
    let one = mask(&f, "one.npy", |p| p != 5);
    let out = f.dir.path().join("out.npy");
    let o = run(&f, &one, &out, false, &[]);
    super::fails_naming(
        &o,
        &["one.npy", "--min-clear", "1 of the target's 768"],
        &out,
    );
    assert!(
        !text(&o).contains("adapter:"),
        "refused before the GPU: {}",
        text(&o)
    );
    let o = run(&f, &one, &out, false, &["--min-clear", "0"]);
    assert!(o.status.success(), "--min-clear 0 fits it: {}", text(&o));
    let tiled = f.dir.path().join("tiled.npy");
    let o = run(&f, &one, &tiled, true, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let r = io::read_raster(&tiled, None, None).unwrap().image;
    assert!(r.data.iter().all(|v| v.is_nan()), "every tile nodata");
}

#[test]
fn tiled_range_warning_is_printed_once() {
    let f = files();
    let big = f.dir.path().join("big.npy");
    let t = io::read_raster(&f.target, None, None).unwrap().image;
    let scaled = t.data.iter().map(|v| 1000.0 * v).collect();
    io::write_npy(&big, &Image::new(t.h, t.w, t.c, scaled).unwrap()).unwrap();
    let g = Files {
        target: big,
        mask: f.mask.clone(),
        guide: f.guide.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let out = g.dir.path().join("out.npy");
    let o = run(&g, &f.mask, &out, true, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let n = text(&o)
        .matches("warning: the target's clear values span")
        .count();
    assert_eq!(n, 1, "once for the run, not per tile: {}", text(&o));
}

#[test]
fn shard_needs_no_out() {
    let f = files();
    let clear = mask(&f, "clear.npy", |_| false);
    let work = f.dir.path().join("work");
    let mut a = vec!["inpaint", "--target", s(&f.target), "--mask", s(&clear)];
    a.extend(["--tile", "16", "--overlap", "4", "--work-dir", s(&work)]);
    a.extend(["--shard", "0/1"]);
    let o = cloudfill(&a);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("cloudfill merge"), "{}", text(&o));
    let out = f.dir.path().join("merged.npy");
    let o = cloudfill(&["merge", "--work-dir", s(&work), "--out", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Item 5 through the binary: the second shard from another working directory with relative
/// paths is the same run; after the mask changes, a resume is refused naming it.
#[test]
fn work_dir_inputs_by_content_not_by_spelling() {
    let f = files();
    let clear = mask(&f, "clear.npy", |_| false);
    let work = f.dir.path().join("work");
    let shard = |dir: &Path, target: &str, mask: &str, i: &str| {
        let mut a = vec!["inpaint", "--target", target, "--mask", mask];
        a.extend(["--tile", "16", "--overlap", "4", "--work-dir", s(&work)]);
        a.extend(["--shard", i, "--quiet"]);
        Command::new(env!("CARGO_BIN_EXE_cloudfill"))
            .args(&a)
            .current_dir(dir)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap()
    };
    let o = shard(Path::new("/"), s(&f.target), s(&clear), "0/2");
    assert!(o.status.success(), "{}", text(&o));
    let o = shard(f.dir.path(), "./target.npy", "clear.npy", "1/2");
    assert!(
        o.status.success(),
        "relative spelling accepted: {}",
        text(&o)
    );
    // The mask regenerated at the same path: refused by name.
    mask(&f, "clear.npy", |p| p == 3);
    let o = shard(f.dir.path(), "target.npy", "clear.npy", "0/2");
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("mask") && t.contains("clear.npy") && t.contains("changed"),
        "{t}"
    );
}

/// Item 7: SIGINT / SIGTERM during a tiled run without --work-dir: exit 130 / 143 and no
/// `.out.tif.tiles-PID` folder left.
#[test]
fn interrupted_tiled_run_removes_its_temporary_tiles() {
    let f = files();
    for (sig, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tif");
        let mut a = vec!["inpaint", "--target", s(&f.target), "--mask", s(&f.mask)];
        a.extend([
            "--out",
            s(&out),
            "--tile",
            "16",
            "--overlap",
            "4",
            "--quiet",
        ]);
        a.extend([
            "--steps", "100000", "--down", "8,8", "--up", "8,8", "--skip", "0,0",
        ]);
        let child = Command::new(env!("CARGO_BIN_EXE_cloudfill"))
            .args(&a)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let tiles_dir = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .find(|n| n.contains(".tiles-"))
        };
        let t0 = std::time::Instant::now();
        while tiles_dir().is_none() {
            assert!(t0.elapsed().as_secs() < 120, "the run made no tile folder");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
        let o = child.wait_with_output().unwrap();
        let t = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{sig}: {t}");
        assert!(t.contains("removed the temporary tiles"), "{t}");
        assert_eq!(tiles_dir(), None, "{sig}: temporary tiles left");
        assert!(!out.exists());
    }
}

/// Item 11: a raster GDAL cannot open is named once, with what is wrong.
#[test]
fn gdal_open_failures_say_what_is_wrong() {
    let f = files();
    let d = f.dir.path();
    let junk = d.join("junk.tif");
    std::fs::write(&junk, b"not a raster at all").unwrap();
    let folder = d.join("folder.tif");
    std::fs::create_dir(&folder).unwrap();
    let cases = [
        (d.join("missing.tif"), "no such file"),
        (junk, "not a raster GDAL can read"),
        (folder, "is a folder"),
    ];
    for (path, why) in cases {
        for role in ["--target", "--guide"] {
            let out = d.join("out.tif");
            let o = match role {
                "--target" => cloudfill(&[
                    "inpaint",
                    "--target",
                    s(&path),
                    "--mask",
                    s(&f.mask),
                    "--out",
                    s(&out),
                ]),
                _ => inpaint(&f, &["--guide", s(&path)], &out),
            };
            let t = text(&o);
            assert!(!o.status.success(), "{t}");
            assert!(t.contains(why), "{role} {}: {t}", path.display());
            assert_eq!(t.matches(s(&path)).count(), 1, "the path once: {t}");
            assert!(!t.contains("NULL pointer"), "{t}");
            assert_eq!(t.lines().count(), 1, "one line: {t}");
        }
    }
}
