//! The real binary: two shards + merge equal the library's uninterrupted run; one tile via the
//! single-image path (--window) equals that tile's result; a 13-band Sentinel-2 target with
//! --bands all and --batch 2; the temporary work dir is removed.
use crate::api::io::utm_georef;
use crate::api::tiles::{self as lib, reference, same_bits, scene, SEED, STEPS};
use cloudfill::io::{self, Image};
use cloudfill::tiles::{self, Grid};
use std::path::Path;
use std::process::Command;

fn cloudfill(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudfill"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cloudfill {args:?} failed:\n{text}");
    text
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The fit flags matching `lib::dip_config()` (the reference's one network, every step) and
/// `STEPS`.
fn fit_flags() -> Vec<String> {
    let v = [
        "--down",
        "16,32,64",
        "--up",
        "16,32,64",
        "--skip",
        "0,0,0",
        "--quiet",
        "--reference",
    ];
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.extend([
        "--steps".into(),
        STEPS.to_string(),
        "--seed".into(),
        SEED.to_string(),
    ]);
    v
}

#[test]
fn two_shards_and_merge_equal_the_unsharded_run() {
    let r = reference();
    let s = scene();
    let d = tempfile::tempdir().unwrap();
    let work = d.path().join("work");
    let out = d.path().join("scene.tif");
    let base: Vec<String> = [
        "inpaint",
        "--target",
        p(&s.target),
        "--mask",
        p(&s.mask),
        "--guide",
        p(&s.guide),
        "--out",
        p(&out),
        "--tile",
        "64",
        "--overlap",
        "16",
        "--work-dir",
        p(&work),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(fit_flags())
    .collect();
    let run = |shard: &str| {
        let mut a = base.clone();
        a.extend(["--shard".to_string(), shard.to_string()]);
        cloudfill(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run("0/2");
    assert!(!out.exists(), "a shard writes no --out");
    let e = Command::new(env!("CARGO_BIN_EXE_cloudfill"))
        .args(["merge", "--work-dir", p(&work), "--out", p(&out)])
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && msg.contains("tile_0_1"), "{msg}");
    run("1/2");
    cloudfill(&["merge", "--work-dir", p(&work), "--out", p(&out)]);
    let img = io::read_raster(&out, None, None).unwrap();
    assert!(
        same_bits(&img.image.data, &r.image.data),
        "sharded + merged differs from unsharded"
    );
    assert_eq!(img.georef.unwrap().geotransform, utm_georef().geotransform);
    single_window_equals_its_tile(d.path());
}

/// Tile (1,1) through the single-image path (`--window`) equals the tiled run's tile (1,1).
fn single_window_equals_its_tile(dir: &Path) {
    let (r, s) = (reference(), scene());
    let g = Grid::new(lib::W, lib::H, 64, 16).unwrap();
    let t = g.tile(4);
    let single = dir.join("single.npy");
    let win = format!("{},{},64,64", t.x0, t.y0);
    let mut a: Vec<String> = ["inpaint", "--target", p(&s.target), "--mask", p(&s.mask)]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(
        [
            "--guide",
            p(&s.guide),
            "--window",
            &win,
            "--out",
            p(&single),
        ]
        .map(String::from),
    );
    a.extend(fit_flags());
    cloudfill(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let one = io::read_raster(&single, None, None).unwrap().image;
    let tile = io::read_raster(&tiles::workdir::tile_path(&r.work, &t), None, None)
        .unwrap()
        .image;
    assert!(
        same_bits(&one.data, &tile.data),
        "tile ≠ single-image run of its window"
    );
}

#[test]
fn thirteen_band_s2_scene_with_bands_all() {
    let d = tempfile::tempdir().unwrap();
    let (h, w) = (64, 96);
    let syn = cloudfill::synthetic::scene(h, w, 5);
    // 13 bands in S2 digital numbers: B2, B3, B4 (indices 1, 2, 3) are the RGB truth.
    let mut data = Vec::with_capacity(h * w * 13);
    for px in 0..h * w {
        for b in 0..13 {
            let v = match b {
                1..=3 => syn.truth[px * 3 + (3 - b)],
                _ => 0.1 + 0.02 * b as f32 + 0.1 * syn.truth[px * 3],
            };
            data.push(if syn.clear[px] { v * 2000.0 } else { 9000.0 });
        }
    }
    let g = utm_georef();
    let target = d.path().join("s2.tif");
    io::write_geotiff(
        &target,
        &Image::new(h, w, 13, data).unwrap(),
        Some(&g),
        &[],
        None,
    )
    .unwrap();
    let mask = d.path().join("mask.tif");
    let m: Vec<f32> = syn.clear.iter().map(|&c| f32::from(u8::from(c))).collect();
    io::write_geotiff(&mask, &Image::new(h, w, 1, m).unwrap(), Some(&g), &[], None).unwrap();
    let out = d.path().join("out.tif");
    let prev = d.path().join("prev.png");
    let mut a: Vec<String> = ["inpaint", "--target", p(&target), "--s2", "--bands", "all"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(["--mask", p(&mask), "--out", p(&out), "--preview", p(&prev)].map(String::from));
    // Two tiles of 64² fitted side by side (--batch 2).
    a.extend(["--tile", "64", "--overlap", "8", "--batch", "2"].map(String::from));
    a.extend(fit_flags());
    cloudfill(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let r = io::read_raster(&out, None, None).unwrap();
    assert_eq!((r.image.h, r.image.w, r.image.c), (h, w, 13));
    assert_eq!(r.georef.unwrap().geotransform, g.geotransform);
    assert!(r
        .image
        .data
        .iter()
        .all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
    assert!(prev.exists());
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["mask.tif", "out.tif", "prev.png", "s2.tif"],
        "temporary work dir removed"
    );
}

/// `--uncertainty` on a whole scene: the shards' σ merged by `cloudfill merge --uncertainty`
/// equals the unsharded run's bit for bit, georeferenced like `--out` with NaN where only the
/// nodata tile covers; `merge --uncertainty` of a work dir fitted without it writes nothing.
#[test]
fn tiled_uncertainty_of_shards_equals_the_unsharded_run() {
    let s = scene();
    let d = tempfile::tempdir().unwrap();
    let mut flags: Vec<String> = fit_flags()
        .into_iter()
        .filter(|f| f != "--reference")
        .collect();
    flags.extend(
        [
            "--ensemble",
            "2",
            "--stop",
            "none",
            "--tile",
            "64",
            "--overlap",
            "16",
        ]
        .map(String::from),
    );
    let inpaint = |out: &Path, sigma: &Path, more: &[&str]| {
        let mut a = vec!["inpaint", "--target", p(&s.target), "--mask", p(&s.mask)];
        a.extend([
            "--guide",
            p(&s.guide),
            "--out",
            p(out),
            "--uncertainty",
            p(sigma),
        ]);
        a.extend(flags.iter().map(String::as_str));
        a.extend(more);
        cloudfill(&a)
    };
    let (out_a, sig_a) = (d.path().join("a.tif"), d.path().join("sigma_a.tif"));
    inpaint(&out_a, &sig_a, &[]);
    let work = d.path().join("work");
    let (out_b, sig_b) = (d.path().join("b.tif"), d.path().join("sigma_b.tif"));
    inpaint(&out_b, &sig_b, &["--work-dir", p(&work), "--shard", "0/2"]);
    assert!(!sig_b.exists() && !out_b.exists(), "a shard writes no σ");
    inpaint(&out_b, &sig_b, &["--work-dir", p(&work), "--shard", "1/2"]);
    let merge = ["merge", "--work-dir", p(&work), "--out", p(&out_b)];
    cloudfill(&[&merge[..], &["--uncertainty", p(&sig_b)]].concat());
    let (a, b) = (
        io::read_raster(&sig_a, None, None).unwrap(),
        io::read_raster(&sig_b, None, None).unwrap(),
    );
    assert!(same_bits(&a.image.data, &b.image.data), "sharded σ differs");
    let (ra, rb) = (
        io::read_raster(&out_a, None, None).unwrap(),
        io::read_raster(&out_b, None, None).unwrap(),
    );
    assert!(
        same_bits(&ra.image.data, &rb.image.data),
        "sharded result differs"
    );
    assert_eq!((a.image.h, a.image.w, a.image.c), (lib::H, lib::W, 3));
    assert_eq!(a.georef.unwrap().geotransform, utm_georef().geotransform);
    assert!(
        a.image.data.iter().any(|v| v.is_nan()),
        "nodata where only the nodata tile covers"
    );
    assert!(
        a.image.data.iter().any(|&v| v > 0.0),
        "the networks differ in the cloud"
    );
    // A work dir fitted without --uncertainty (the library's reference run).
    let (out_c, sig_c) = (d.path().join("c.tif"), d.path().join("sigma_c.tif"));
    let e = Command::new(env!("CARGO_BIN_EXE_cloudfill"))
        .args([
            "merge",
            "--work-dir",
            p(&reference().work),
            "--out",
            p(&out_c),
        ])
        .args(["--uncertainty", p(&sig_c)])
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&e.stderr);
    assert!(
        !e.status.success() && msg.contains("without --uncertainty"),
        "{msg}"
    );
    assert!(!out_c.exists() && !sig_c.exists(), "nothing written");
}
