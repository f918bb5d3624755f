//! src/io: GeoTIFF / .npy / PNG readers and atomic writers, windows, output guard, errors.
//! Masks, Sentinel preprocessing and the real sample data are in tests/it/io/.
mod mask;
mod npy;
mod sentinel;
mod shared_data;

use cloudfill::io::{
    output_guard, read_raster, write_geotiff, write_npy, write_png_rgb, Georef, Image, Window,
};
use cloudfill::Error;
use gdal::Metadata;
use npyz::WriterBuilder;
use std::path::{Path, PathBuf};

/// A `h × w × c` image whose values encode their position: 100·y + 10·x + ch + 0.25.
pub fn ramp(h: usize, w: usize, c: usize) -> Image {
    let mut data = Vec::with_capacity(h * w * c);
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                data.push(100.0 * y as f32 + 10.0 * x as f32 + ch as f32 + 0.25);
            }
        }
    }
    Image::new(h, w, c, data).unwrap()
}

/// UTM 30N, 10 m pixels.
pub fn utm_georef() -> Georef {
    let wkt = gdal::spatial_ref::SpatialRef::from_epsg(32630)
        .unwrap()
        .to_wkt()
        .unwrap();
    Georef {
        geotransform: [500_000.0, 10.0, 0.0, 4_600_000.0, 0.0, -10.0],
        projection: wkt,
    }
}

fn epsg(projection: &str) -> i32 {
    gdal::spatial_ref::SpatialRef::from_wkt(projection)
        .unwrap()
        .auth_code()
        .unwrap()
}

/// Writes a `.npy` of element type `T` with the given shape and order.
pub fn npy_file<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[u64],
    data: &[T],
    order: npyz::Order,
) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(&mut file)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

/// Names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn image_helpers() {
    let img = ramp(3, 4, 3);
    assert_eq!(img.at(2, 1, 2), 212.25);
    let ch = img.channels(&[2, 0]).unwrap();
    assert_eq!((ch.c, ch.at(1, 3, 0), ch.at(1, 3, 1)), (2, 132.25, 130.25));
    let cr = img.crop(1, 2, 2, 2).unwrap();
    assert_eq!(
        (cr.h, cr.w, cr.at(0, 0, 1), cr.at(1, 1, 0)),
        (2, 2, 121.25, 230.25)
    );
    assert!(img.crop(2, 0, 2, 1).is_err());
    assert!(img.channels(&[3]).is_err());
    assert!(Image::new(2, 2, 2, vec![0.0; 7]).is_err());
    assert_eq!(Image::zeros(2, 3, 1).data, vec![0.0; 6]);
}

#[test]
fn geotiff_round_trip_keeps_georef_values_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.tif");
    let mut img = ramp(5, 7, 3);
    img.data[(2 * 7 + 3) * 3 + 1] = -9999.0; // nodata in band 2 at (2, 3)
    img.data[(4 * 7 + 6) * 3] = f32::NAN; // NaN in band 1 at (4, 6)
    let g = utm_georef();
    write_geotiff(&path, &img, Some(&g), &[], Some(-9999.0)).unwrap();
    let r = read_raster(&path, None, None).unwrap();
    let back = &r.image;
    assert_eq!((back.h, back.w, back.c), (5, 7, 3));
    for (a, b) in img.data.iter().zip(&back.data) {
        assert!(a == b || (a.is_nan() && b.is_nan()), "{a} vs {b}");
    }
    let rg = r.georef.as_ref().unwrap();
    assert_eq!(rg.geotransform, g.geotransform);
    assert_eq!(epsg(&rg.projection), 32630);
    assert_eq!(r.nodata, vec![Some(-9999.0); 3]);
    let valid = r.valid.unwrap();
    assert_eq!(valid.iter().filter(|&&v| !v).count(), 2);
    assert!(!valid[2 * 7 + 3] && !valid[4 * 7 + 6]);
    // Defaults: float32, DEFLATE, predictor 3, tiled.
    let ds = gdal::Dataset::open(&path).unwrap();
    assert_eq!(
        ds.rasterband(1).unwrap().band_type(),
        gdal::raster::GdalDataType::Float32
    );
    let item = |k| ds.metadata_item(k, "IMAGE_STRUCTURE");
    assert_eq!(item("COMPRESSION").as_deref(), Some("DEFLATE"));
    assert_eq!(item("PREDICTOR").as_deref(), Some("3"));
    assert_eq!(ds.rasterband(1).unwrap().block_size(), (256, 256));
    assert_eq!(listing(dir.path()), vec!["out.tif"]); // no temp file, no .aux.xml
}

#[test]
fn geotiff_creation_options_override_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lzw.tif");
    let co = [
        "COMPRESS=LZW".to_string(),
        "PREDICTOR=1".into(),
        "TILED=NO".into(),
    ];
    write_geotiff(&path, &ramp(4, 5, 1), None, &co, None).unwrap();
    let ds = gdal::Dataset::open(&path).unwrap();
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("LZW")
    );
    assert_eq!(ds.rasterband(1).unwrap().block_size().0, 5); // strips are full rows
    let r = read_raster(&path, None, None).unwrap();
    assert_eq!((r.georef, r.nodata, r.valid), (None, vec![None], None));
    let bad = write_geotiff(&path, &ramp(4, 5, 1), None, &["COMPRESS".into()], None);
    assert!(bad.is_err());
}

#[test]
fn windowed_read_gives_window_values_and_shifted_georef() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.tif");
    let img = ramp(6, 9, 3);
    write_geotiff(&path, &img, Some(&utm_georef()), &[], None).unwrap();
    let win = Window {
        xoff: 2,
        yoff: 1,
        xsize: 5,
        ysize: 4,
    };
    let r = read_raster(&path, Some(&[3, 1]), Some(win)).unwrap();
    let want = img.crop(1, 2, 4, 5).unwrap().channels(&[2, 0]).unwrap();
    assert_eq!(r.image, want);
    let gt = r.georef.as_ref().unwrap().geotransform;
    assert_eq!(gt, [500_020.0, 10.0, 0.0, 4_599_990.0, 0.0, -10.0]);

    // Write the window out with its georef; it reads back identical and lands at the same place.
    let out = dir.path().join("win.tif");
    write_geotiff(&out, &r.image, r.georef.as_ref(), &[], None).unwrap();
    let back = read_raster(&out, None, None).unwrap();
    assert_eq!(back.image, want);
    assert_eq!(back.georef, r.georef);
}

#[test]
fn georef_shift_with_rotation_terms() {
    let g = Georef {
        geotransform: [100.0, 2.0, 0.5, 50.0, 0.25, -3.0],
        projection: String::new(),
    };
    let s = g.shifted(4, 2);
    assert_eq!(
        s.geotransform,
        [100.0 + 8.0 + 1.0, 2.0, 0.5, 50.0 + 1.0 - 6.0, 0.25, -3.0]
    );
}

#[test]
fn gdal_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tif");
    let e = read_raster(&missing, None, None).unwrap_err();
    assert!(
        matches!(e, Error::File { .. })
            && message(&e).contains("missing.tif")
            && message(&e).contains("no such file"),
        "{e}"
    );

    let text = dir.path().join("notes.tif");
    std::fs::write(&text, "this is not a raster\n").unwrap();
    let e = read_raster(&text, None, None).unwrap_err();
    assert!(message(&e).contains("notes.tif"), "{e}");
    assert!(message(&e).contains("not a raster GDAL can read"), "{e}");

    let path = dir.path().join("small.tif");
    write_geotiff(&path, &ramp(6, 9, 2), None, &[], None).unwrap();
    let win = Window {
        xoff: 5,
        yoff: 0,
        xsize: 5,
        ysize: 6,
    };
    let e = message(&read_raster(&path, None, Some(win)).unwrap_err());
    for part in ["small.tif", "xoff 5", "xsize 5", "9 columns", "6 rows"] {
        assert!(e.contains(part), "{part:?} missing from {e}");
    }
    let e = message(&read_raster(&path, Some(&[3]), None).unwrap_err());
    assert!(e.contains("small.tif") && e.contains("band 3"), "{e}");
    let e = read_raster(&path, Some(&[0]), None).unwrap_err();
    assert!(message(&e).contains("band 0"), "{e}");
}

fn png_file(path: &Path, w: u32, h: u32, color: png::ColorType, data: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(file, w, h);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(data).unwrap();
}

#[test]
fn png_read_gray_rgba_and_write_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let gray = dir.path().join("gray.png");
    png_file(
        &gray,
        3,
        2,
        png::ColorType::Grayscale,
        &[0, 255, 7, 1, 0, 9],
    );
    let r = read_raster(&gray, None, None).unwrap().image;
    assert_eq!((r.h, r.w, r.c), (2, 3, 1));
    assert_eq!(r.data, vec![0.0, 255.0, 7.0, 1.0, 0.0, 9.0]);
    let rgba = dir.path().join("rgba.png");
    png_file(&rgba, 2, 1, png::ColorType::Rgba, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let r = read_raster(&rgba, None, None).unwrap().image;
    assert_eq!((r.c, r.at(0, 1, 2)), (4, 7.0));

    let out = dir.path().join("preview.png");
    let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| (i * 13) as u8).collect();
    write_png_rgb(&out, &rgb, 2, 3).unwrap();
    let back = read_raster(&out, None, None).unwrap().image;
    assert_eq!(
        back.data,
        rgb.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
    );
    assert!(write_png_rgb(&dir.path().join("bad.png"), &rgb, 3, 3).is_err());
    assert_eq!(
        listing(dir.path()),
        vec!["gray.png", "preview.png", "rgba.png"]
    );
}

#[test]
fn output_guard_rules() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.tif");
    output_guard(&fresh, false).unwrap();
    assert!(!fresh.exists());
    let existing = dir.path().join("existing.tif");
    std::fs::write(&existing, "x").unwrap();
    let err = output_guard(&existing, false).unwrap_err();
    assert!(
        matches!(&err, cloudfill::Error::OutputExists { path } if path == &existing),
        "{err}"
    );
    let e = message(&err);
    assert!(
        e.contains("existing.tif") && e.contains("already exists"),
        "{e}"
    );
    output_guard(&existing, true).unwrap();
    let e = message(&output_guard(&dir.path().join("nope/out.tif"), true).unwrap_err());
    assert!(e.contains("nope") && e.contains("does not exist"), "{e}");
    assert!(output_guard(dir.path(), true).is_err()); // a directory
    assert_eq!(listing(dir.path()), vec!["existing.tif"]); // the probe is gone
}

#[test]
fn failed_writes_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let img = ramp(4, 4, 2);
    let missing: PathBuf = dir.path().join("no_such_dir/out.tif");
    let e = message(&write_geotiff(&missing, &img, None, &[], None).unwrap_err());
    assert!(e.contains("out.tif"), "{e}");
    assert!(write_npy(&dir.path().join("no_such_dir/out.npy"), &img).is_err());
    assert!(write_png_rgb(&dir.path().join("no_such_dir/o.png"), &[0; 3], 1, 1).is_err());
    // A GDAL failure (tile size not a multiple of 16) keeps the old file untouched.
    let old = dir.path().join("old.tif");
    std::fs::write(&old, "previous contents").unwrap();
    let co = ["BLOCKXSIZE=7".to_string()];
    assert!(write_geotiff(&old, &img, None, &co, None).is_err());
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "previous contents");
    assert_eq!(listing(dir.path()), vec!["old.tif"]);
    // A successful write replaces it.
    write_geotiff(&old, &img, None, &[], None).unwrap();
    assert_eq!(read_raster(&old, None, None).unwrap().image, img);
    assert_eq!(listing(dir.path()), vec!["old.tif"]);
}
