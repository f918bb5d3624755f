//! `cloudfill composite`: a stack of GeoTIFF dates → their clear median (the library's result,
//! georeferenced, nodata NaN); refusals naming the problem with nothing written; and the use it
//! is for: the composite of past cloudy dates as the guide of the next date's inpainting.
use super::{cloudfill, fails_naming, s, text};
use cloudfill::io::{self, Image, Mask, Stat};
use cloudfill::synthetic;
use std::path::{Path, PathBuf};

use crate::api::io::utm_georef as georef;

/// Writes date `k` (a georeferenced GeoTIFF) and its mask (`.npy`, 1 = clear) into `dir`.
fn write_date(dir: &Path, k: usize, img: &Image, clear: &[bool]) -> (PathBuf, PathBuf) {
    let (p, m) = (dir.join(format!("d{k}.tif")), dir.join(format!("m{k}.npy")));
    io::write_geotiff(&p, img, Some(&georef()), &[], None).unwrap();
    let values = clear.iter().map(|&c| c as u8 as f32).collect();
    io::write_npy(&m, &Image::new(img.h, img.w, 1, values).unwrap()).unwrap();
    (p, m)
}

/// Four 20×16 3-band dates with stripes of cloud; a 2×2 corner cloudy in all of them.
fn stack(dir: &Path) -> (Vec<Image>, Vec<Mask>, Vec<PathBuf>, Vec<PathBuf>) {
    let (h, w) = (20, 16);
    let (mut images, mut masks, mut paths, mut mpaths) = (vec![], vec![], vec![], vec![]);
    for k in 0..4 {
        let data = (0..h * w * 3)
            .map(|i| ((i * (k + 3)) % 11) as f32)
            .collect();
        let img = Image::new(h, w, 3, data).unwrap();
        let clear: Vec<bool> = (0..h * w)
            .map(|p| (p / w + k) % 4 != 0 && (p % w >= 2 || p / w >= 2))
            .collect();
        let (p, m) = write_date(dir, k, &img, &clear);
        images.push(img);
        masks.push(Mask::new(h, w, clear).unwrap());
        paths.push(p);
        mpaths.push(m);
    }
    (images, masks, paths, mpaths)
}

fn args<'a>(inputs: &'a [PathBuf], masks: &'a [PathBuf], out: &'a Path) -> Vec<&'a str> {
    let mut a = vec!["composite", "--inputs"];
    a.extend(inputs.iter().map(|p| s(p)));
    if !masks.is_empty() {
        a.push("--masks");
        a.extend(masks.iter().map(|p| s(p)));
    }
    a.extend(["--out", s(out)]);
    a
}

#[test]
fn composite_writes_the_clear_median_georeferenced_with_nan_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let (images, masks, inputs, mpaths) = stack(dir.path());
    let out = dir.path().join("median.tif");
    let o = cloudfill(&args(&inputs, &mpaths, &out));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("4 pixels (1.25 %) are clear in no input"),
        "{}",
        text(&o)
    );
    let r = io::read_raster(&out, None, None).unwrap();
    let (want, _) = io::composite(&images, &masks, Stat::Median).unwrap();
    assert_eq!(r.image.data.len(), want.data.len());
    let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
    assert!(r
        .image
        .data
        .iter()
        .zip(&want.data)
        .all(|(&a, &b)| same(a, b)));
    assert!(
        r.image.data[..3].iter().all(|v| v.is_nan()),
        "corner is nodata"
    );
    assert_eq!(r.georef, Some(georef()));
    assert!(r.nodata.iter().all(|nd| nd.is_some_and(f64::is_nan)));
    // --stat mean, the first two bands, as .npy; again without --overwrite: refused.
    let out = dir.path().join("mean.npy");
    let mut a = args(&inputs, &mpaths, &out);
    a.extend(["--stat", "mean", "--bands", "1,2", "--quiet"]);
    let o = cloudfill(&a);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).is_empty(), "--quiet: {}", text(&o));
    let two: Vec<Image> = images
        .iter()
        .map(|i| i.channels(&[0, 1]).unwrap())
        .collect();
    let (want, _) = io::composite(&two, &masks, Stat::Mean).unwrap();
    let got = io::read_raster(&out, None, None).unwrap().image;
    assert!(got.data.iter().zip(&want.data).all(|(&a, &b)| same(a, b)));
    let o = cloudfill(&a);
    assert!(
        !o.status.success()
            && text(&o).contains("already exists")
            && text(&o).contains("pass --overwrite"),
        "{}",
        text(&o)
    );
}

#[test]
fn composite_refusals_name_the_problem_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, _, inputs, mpaths) = stack(d);
    let out = d.join("out.tif");
    // One mask fewer than inputs.
    let o = cloudfill(&args(&inputs, &mpaths[..3], &out));
    fails_naming(&o, &["3 masks for 4 inputs"], &out);
    // Mask rules without masks.
    let mut a = args(&inputs, &[], &out);
    a.extend(["--cloud-values", "3,8"]);
    fails_naming(&cloudfill(&a), &["--masks"], &out);
    // An input on another grid (shifted by a pixel).
    let mut shifted = georef();
    shifted.geotransform[3] -= 10.0;
    let odd = d.join("odd.tif");
    io::write_geotiff(&odd, &Image::zeros(20, 16, 3), Some(&shifted), &[], None).unwrap();
    let mut list = inputs.clone();
    list.push(odd);
    let o = cloudfill(&args(&list, &[], &out));
    fails_naming(&o, &["odd.tif", "geotransform", "d0.tif"], &out);
    // The output is an input, even with --overwrite: refused, the input untouched.
    let before = std::fs::read(&inputs[2]).unwrap();
    let mut a = args(&inputs, &mpaths, &inputs[2]);
    a.push("--overwrite");
    let o = cloudfill(&a);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("--inputs input"), "{}", text(&o));
    assert_eq!(std::fs::read(&inputs[2]).unwrap(), before);
}

/// PSNR inside the cloud from `inpaint --metrics-json`.
fn psnr_cloud(json: &Path) -> f64 {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    m["metrics"]["psnr_cloud"].as_f64().expect("psnr_cloud")
}

/// A 32×32 synthetic field landscape seen on five cloudy dates (each with its own clouds and a
/// slight gain); their composite guides the inpainting of a sixth date, which it fills better
/// inside the cloud than the fit without a guide.
#[test]
fn composite_of_past_dates_guides_the_next_inpainting_better_than_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 32;
    let land = synthetic::scene(n, n, 3);
    let date = |k: usize| {
        let sky = synthetic::scene(n, n, 100 + k as u64);
        let gain = 1.0 + 0.03 * (k as f32 - 2.5);
        let data = (land.truth.iter().enumerate())
            .map(|(i, &t)| if sky.clear[i / 3] { t * gain } else { 0.9 })
            .collect();
        (Image::new(n, n, 3, data).unwrap(), sky.clear)
    };
    let (mut inputs, mut masks) = (vec![], vec![]);
    for k in 0..5 {
        let (img, clear) = date(k);
        let (p, m) = write_date(d, k, &img, &clear);
        inputs.push(p);
        masks.push(m);
    }
    let guide = d.join("median.tif");
    let o = cloudfill(&args(&inputs, &masks, &guide));
    assert!(o.status.success(), "{}", text(&o));
    let (target, mask) = write_date(d, 9, &date(9).0, &date(9).1);
    let truth = d.join("truth.npy");
    io::write_npy(&truth, &Image::new(n, n, 3, land.truth.clone()).unwrap()).unwrap();
    let fit = |with_guide: bool| {
        let (out, json) = (
            d.join(format!("o{with_guide}.tif")),
            d.join(format!("m{with_guide}.json")),
        );
        let mut a = vec!["inpaint", "--target", s(&target), "--mask", s(&mask)];
        a.extend([
            "--truth",
            s(&truth),
            "--out",
            s(&out),
            "--metrics-json",
            s(&json),
        ]);
        a.extend(["--reference", "--steps", "100", "--quiet"]);
        a.extend(["--down", "8,16,32", "--up", "8,16,32", "--skip", "4,4,4"]);
        if with_guide {
            a.extend(["--guide", s(&guide)]);
        }
        let o = cloudfill(&a);
        assert!(o.status.success(), "{}", text(&o));
        psnr_cloud(&json)
    };
    let (guided, alone) = (fit(true), fit(false));
    eprintln!(
        "PSNR in the cloud: {guided:.2} dB with the composite as guide, {alone:.2} dB without"
    );
    assert!(
        guided > alone + 1.0,
        "guided {guided:.2} dB, alone {alone:.2} dB"
    );
}
