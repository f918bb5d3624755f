//! src/io/composite: the per-pixel median/mean of the clear observations of a stack, in memory
//! and from files by bands of rows, against a plain computation (NumPy's median); nodata where
//! no date is clear; grid, mask-count and output refusals; the composite as `inpaint`'s guide.
use super::io::utm_georef;
use crate::common::{to_f64, Rng};
use cloudfill::io::{
    self, composite, read_raster, write_geotiff, write_npy, CompositeJob, Georef, Image, Mask,
    MaskOptions, Stat,
};
use cloudfill::tiles::Inputs;
use std::path::{Path, PathBuf};

/// NumPy's median / mean of `v` in f64 (`np.median`: sorted, the two middle values averaged
/// for an even count); NaN when empty.
fn plain(v: &[f32], stat: Stat) -> f64 {
    let mut v: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match stat {
        Stat::Mean => v.iter().sum::<f64>() / n as f64,
        Stat::Median if n % 2 == 1 => v[n / 2],
        Stat::Median => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The plain composite: per pixel and band, `plain` of the dates that are clear there with
/// every band finite.
fn plain_composite(images: &[Image], masks: &[Mask], stat: Stat) -> Vec<f64> {
    let (h, w, c) = (images[0].h, images[0].w, images[0].c);
    let mut out = Vec::new();
    for p in 0..h * w {
        let ok = |k: usize| {
            let px = &images[k].data[p * c..(p + 1) * c];
            masks[k].clear[p] && px.iter().all(|v| v.is_finite())
        };
        let dates: Vec<usize> = (0..images.len()).filter(|&k| ok(k)).collect();
        for ch in 0..c {
            let v: Vec<f32> = dates.iter().map(|&k| images[k].data[p * c + ch]).collect();
            out.push(plain(&v, stat));
        }
    }
    out
}

/// `n` random `h × w × c` dates (integers 0..20, so ties happen, and a few NaN) and masks
/// (about 40 % cloud); the top-left 2×2 pixels are cloud in every mask.
fn stack(rng: &mut Rng, n: usize, (h, w, c): (usize, usize, usize)) -> (Vec<Image>, Vec<Mask>) {
    let mut images = Vec::new();
    let mut masks = Vec::new();
    for _ in 0..n {
        let data = (0..h * w * c)
            .map(|_| match rng.uniform(0.0, 1.0) {
                u if u < 0.03 => f32::NAN,
                _ => rng.uniform(0.0, 20.0).floor(),
            })
            .collect();
        images.push(Image::new(h, w, c, data).unwrap());
        let clear = (0..h * w)
            .map(|p| (p % w >= 2 || p / w >= 2) && rng.uniform(0.0, 1.0) > 0.4)
            .collect();
        masks.push(Mask::new(h, w, clear).unwrap());
    }
    (images, masks)
}

fn same(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (f64::from(g) - w).abs() <= 1e-5 * w.abs().max(1.0);
        assert!(ok, "{what}: [{i}] got {g}, want {w}");
    }
}

#[test]
fn median_and_mean_match_a_plain_computation_for_odd_and_even_counts() {
    let mut v = [10.0, 1.0, 3.0, 2.0];
    assert_eq!(io::composite_statistic(&mut v, Stat::Median), 2.5);
    assert_eq!(
        io::composite_statistic(&mut [3.0, 1.0, 2.0], Stat::Median),
        2.0
    );
    assert_eq!(io::composite_statistic(&mut [1.0, 4.0], Stat::Mean), 2.5);
    assert!(io::composite_statistic(&mut [], Stat::Median).is_nan());
    let mut rng = Rng::new(15);
    for n in [1, 2, 4, 5] {
        let (images, masks) = stack(&mut rng, n, (9, 7, 3));
        for stat in [Stat::Median, Stat::Mean] {
            let (img, mask) = composite(&images, &masks, stat).unwrap();
            let want = plain_composite(&images, &masks, stat);
            same(&img.data, &want, &format!("{n} dates, {stat:?}"));
            for (p, &covered) in mask.clear.iter().enumerate() {
                assert_eq!(covered, !want[p * 3].is_nan(), "mask at {p}");
            }
            assert!(!mask.clear[0] && img.data[..3].iter().all(|v| v.is_nan()));
        }
    }
    // Counts and shapes that differ are refused.
    let (images, masks) = stack(&mut rng, 3, (9, 7, 3));
    assert!(composite(&images, &masks[..2], Stat::Median).is_err());
    assert!(composite(&[], &[], Stat::Median).is_err());
    let mut odd = images.clone();
    odd[1] = Image::zeros(9, 7, 2);
    assert!(composite(&odd, &masks, Stat::Median).is_err());
}

/// Writes the dates as georeferenced GeoTIFFs (NaN as nodata) and the masks as `.npy`.
fn write_stack(dir: &Path, images: &[Image], masks: &[Mask]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let geo = utm_georef();
    let mut paths = (Vec::new(), Vec::new());
    for (k, (img, m)) in images.iter().zip(masks).enumerate() {
        let p = dir.join(format!("date{k}.tif"));
        write_geotiff(&p, img, Some(&geo), &[], None).unwrap();
        let q = dir.join(format!("mask{k}.npy"));
        let values = m.clear.iter().map(|&c| c as u8 as f32).collect();
        write_npy(&q, &Image::new(m.h, m.w, 1, values).unwrap()).unwrap();
        paths.0.push(p);
        paths.1.push(q);
    }
    paths
}

#[test]
fn files_by_bands_of_rows_match_the_in_memory_composite() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(16);
    let (h, w, c) = (23, 13, 2);
    let (images, masks) = stack(&mut rng, 4, (h, w, c));
    let (inputs, mask_paths) = write_stack(dir.path(), &images, &masks);
    for (stat, rows) in [(Stat::Median, 3), (Stat::Mean, 1), (Stat::Median, 100)] {
        let job = CompositeJob {
            masks: Some(mask_paths.clone()),
            stat,
            // `rows` rows of the 4 inputs (f32 values and a mask byte per pixel).
            memory: rows * 4 * w * (c * 4 + 1),
            ..CompositeJob::new(inputs.clone())
        };
        let out = dir.path().join(format!("out{rows}.tif"));
        let summary = job.write(&out, &[]).unwrap();
        assert_eq!(summary.rows_per_block, rows.min(h));
        let (want, want_mask) = composite(&images, &masks, stat).unwrap();
        let r = read_raster(&out, None, None).unwrap();
        same(
            &r.image.data,
            &to_f64(&want.data),
            &format!("{stat:?} by {rows} rows"),
        );
        assert_eq!(r.georef, Some(utm_georef()));
        assert!(
            r.nodata.iter().all(|nd| nd.is_some_and(f64::is_nan)),
            "{:?}",
            r.nodata
        );
        let nodata = want_mask.clear.iter().filter(|&&c| !c).count();
        assert_eq!(summary.nodata, nodata);
        assert!(nodata >= 4, "the top-left 2×2 pixels at least");
        let clear: Vec<usize> = (0..4)
            .map(|k| {
                (0..h * w)
                    .filter(|&p| {
                        masks[k].clear[p]
                            && images[k].data[p * c..][..c].iter().all(|v| v.is_finite())
                    })
                    .count()
            })
            .collect();
        assert_eq!(summary.clear, clear);
    }
}

#[test]
fn without_masks_every_valid_pixel_counts_and_s2_scales_each_date() {
    let dir = tempfile::tempdir().unwrap();
    let geo = utm_georef();
    let (h, w) = (6, 5);
    // Band b of date k: 1000·(k + 1) + b, except date 0's pixel 7, which is nodata (−9999),
    // and date 2's band 3 above 10000 (clipped by --s2).
    let mut paths = Vec::new();
    for k in 0..3 {
        let mut data = Vec::new();
        for p in 0..h * w {
            for b in 0..4 {
                let v = match (k, p, b) {
                    (0, 7, _) => -9999.0,
                    (2, _, 3) => 15000.0,
                    _ => 1000.0 * (k + 1) as f32 + b as f32,
                };
                data.push(v);
            }
        }
        let p = dir.path().join(format!("s2_{k}.tif"));
        let img = Image::new(h, w, 4, data).unwrap();
        write_geotiff(&p, &img, Some(&geo), &[], Some(-9999.0)).unwrap();
        paths.push(p);
    }
    let job = CompositeJob {
        bands: Some(vec![4, 3]),
        s2: true,
        ..CompositeJob::new(paths)
    };
    let out = dir.path().join("median.npy");
    let s = job.write(&out, &[]).unwrap();
    assert_eq!((s.width, s.height, s.channels, s.nodata), (w, h, 2, 0));
    assert_eq!(s.clear, vec![h * w - 1, h * w, h * w]);
    let r = read_raster(&out, None, None).unwrap().image;
    // band 4: median of 1003, 2003, 10000 (clipped) ÷ 2000; band 3: of 1002, 2002, 3002.
    same(&r.data[..2], &[2003.0 / 2000.0, 2002.0 / 2000.0], "pixel 0");
    // pixel 7 without date 0: the mean of the two others.
    let want = [(2003.0 + 10000.0) / 4000.0, (2002.0 + 3002.0) / 4000.0];
    same(&r.data[14..16], &want, "pixel 7");
}

/// Three 8×6 single-band dates on the UTM grid; `date` changes the third one's file.
fn grid_case(dir: &Path, third: impl FnOnce(&Path)) -> Vec<PathBuf> {
    let paths: Vec<PathBuf> = (0..3).map(|k| dir.join(format!("g{k}.tif"))).collect();
    for p in &paths[..2] {
        write_geotiff(p, &Image::zeros(6, 8, 1), Some(&utm_georef()), &[], None).unwrap();
    }
    third(&paths[2]);
    paths
}

fn refused(job: &CompositeJob, names: &[&str]) {
    let e = job.check().expect_err("refused").to_string();
    for n in names {
        assert!(e.contains(n), "{n:?} in: {e}");
    }
}

#[test]
fn inputs_off_the_first_grid_are_refused_naming_the_file_and_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let geo = utm_georef();
    let size = grid_case(d, |p| {
        write_geotiff(p, &Image::zeros(6, 7, 1), Some(&geo), &[], None).unwrap()
    });
    refused(
        &CompositeJob::new(size),
        &["g2.tif", "size 7×6", "8×6", "g0.tif"],
    );
    let mut shifted = utm_georef();
    shifted.geotransform[0] += 10.0;
    let transform = grid_case(d, |p| {
        write_geotiff(p, &Image::zeros(6, 8, 1), Some(&shifted), &[], None).unwrap()
    });
    refused(
        &CompositeJob::new(transform),
        &["g2.tif", "geotransform", "500010"],
    );
    let other = Georef {
        projection: gdal::spatial_ref::SpatialRef::from_epsg(32631)
            .unwrap()
            .to_wkt()
            .unwrap(),
        ..utm_georef()
    };
    let projection = grid_case(d, |p| {
        write_geotiff(p, &Image::zeros(6, 8, 1), Some(&other), &[], None).unwrap()
    });
    refused(
        &CompositeJob::new(projection.clone()),
        &["g2.tif", "EPSG:32631", "EPSG:32630"],
    );
    // Band counts, and masks of another size or count.
    let bands = grid_case(d, |p| {
        write_geotiff(p, &Image::zeros(6, 8, 2), Some(&geo), &[], None).unwrap()
    });
    refused(&CompositeJob::new(bands.clone()), &["g2.tif", "2 bands"]);
    let first_band = CompositeJob {
        bands: Some(vec![1]),
        ..CompositeJob::new(bands)
    };
    assert!(first_band.check().is_ok());
    let small = d.join("small.npy");
    write_npy(&small, &Image::zeros(5, 8, 1)).unwrap();
    let masks = Some(vec![small.clone(), small.clone(), small.clone()]);
    let job = CompositeJob {
        masks,
        ..first_band.clone()
    };
    refused(&job, &["small.npy", "8×5"]);
    let masks = Some(vec![small.clone(), small]);
    let job = CompositeJob {
        masks,
        ..first_band
    };
    refused(&job, &["2 masks for 3 inputs"]);
    refused(&CompositeJob::new(vec![]), &["no input"]);
}

#[test]
fn the_output_is_never_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(17);
    let (images, masks) = stack(&mut rng, 2, (5, 4, 1));
    let (inputs, mask_paths) = write_stack(dir.path(), &images, &masks);
    let before = std::fs::read(&inputs[1]).unwrap();
    let job = CompositeJob {
        masks: Some(mask_paths.clone()),
        ..CompositeJob::new(inputs.clone())
    };
    let spelled = dir.path().join(".").join("date1.tif");
    let e = job.write(&spelled, &[]).expect_err("refused").to_string();
    assert!(e.contains("--inputs") && e.contains("date1.tif"), "{e}");
    assert_eq!(std::fs::read(&inputs[1]).unwrap(), before);
    let e = job
        .write(&mask_paths[0], &[])
        .expect_err("refused")
        .to_string();
    assert!(e.contains("--masks") || e.contains(".npy"), "{e}");
}

/// Where the composite is nodata, `inpaint`'s guide mask is false (no fabricated value in the
/// loss); elsewhere it is true and the values are the composite's.
#[test]
fn the_composite_as_a_guide_is_masked_out_where_it_is_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(18);
    let (images, masks) = stack(&mut rng, 3, (12, 10, 3));
    let (inputs, mask_paths) = write_stack(dir.path(), &images, &masks);
    let guide = dir.path().join("median.tif");
    let job = CompositeJob {
        masks: Some(mask_paths.clone()),
        ..CompositeJob::new(inputs.clone())
    };
    let summary = job.write(&guide, &[]).unwrap();
    assert!(summary.nodata > 0);
    let (want, want_mask) = composite(&images, &masks, Stat::Median).unwrap();
    let run = Inputs {
        target: inputs[0].clone(),
        bands: None,
        s2: false,
        mask: mask_paths[0].clone(),
        mask_options: MaskOptions::default(),
        s1: vec![],
        s1_max: cloudfill::io::S1_MAX_REFERENCE,
        guides: vec![guide],
        window: None,
    };
    let (loaded, _) = run.load_region().unwrap();
    assert_eq!(loaded.masks[1].clear, want_mask.clear);
    for (p, &c) in want_mask.clear.iter().enumerate() {
        if c {
            assert_eq!(
                loaded.sources[1].data[p * 3..][..3],
                want.data[p * 3..][..3]
            );
        }
    }
}
