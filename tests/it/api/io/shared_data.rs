//! Opt-in: the real sample scene in ../shared/data (absent in a fresh clone: the test skips).
use cloudfill::io::{read_mask, read_raster, s1_preprocess, MaskOptions, Window};
use std::path::{Path, PathBuf};

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
    dir.is_dir().then(|| dir.to_path_buf())
}

#[test]
fn shared_sample_data() {
    let Some(dir) = data_dir() else {
        println!("skipped: ../shared/data not found");
        return;
    };
    let s1 = read_raster(&dir.join("s1.tif"), None, None).unwrap();
    assert_eq!((s1.image.h, s1.image.w, s1.image.c), (256, 256, 3));
    let g = s1.georef.as_ref().expect("s1.tif is georeferenced");
    let srs = gdal::spatial_ref::SpatialRef::from_wkt(&g.projection).unwrap();
    assert_eq!(srs.auth_code().unwrap(), 32630);
    assert_eq!(s1.nodata, vec![Some(1e9); 3]);
    let (pre, valid) = s1_preprocess(&s1.image, s1.valid.as_deref()).unwrap();
    assert_eq!(pre.c, 2);
    assert!(pre.data.iter().all(|v| (0.0..=2.0).contains(v)));
    let n_valid = valid.iter().filter(|&&v| v).count();
    assert!(
        n_valid > 256 * 256 * 9 / 10,
        "only {n_valid} valid S1 pixels"
    );
    // A window keeps the window's values and shifts the origin by 10 m pixels.
    let win = Window {
        xoff: 100,
        yoff: 50,
        xsize: 64,
        ysize: 32,
    };
    let w = read_raster(&dir.join("s1.tif"), Some(&[2]), Some(win)).unwrap();
    assert_eq!(w.image.at(5, 7, 0), s1.image.at(55, 107, 1));
    assert_eq!(w.georef.unwrap(), g.shifted(100, 50));

    let mean = read_raster(&dir.join("2019_mean.npy"), None, None).unwrap();
    assert_eq!((mean.image.h, mean.image.w, mean.image.c), (256, 256, 3));
    let (lo, hi) = mean
        .image
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(lo > 0.0 && hi < 2.0, "mean range {lo}..{hi}");

    let mask = read_mask(&dir.join("mask.npy"), &MaskOptions::default(), None).unwrap();
    assert_eq!((mask.h, mask.w), (256, 256));
    let f = mask.cloud_fraction();
    assert!((f - 0.187).abs() < 0.001, "cloud fraction {f}");
    let mut grown = mask.clone();
    grown.dilate_cloud(2);
    assert!(grown.cloud_fraction() > f);
}
