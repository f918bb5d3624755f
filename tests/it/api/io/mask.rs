//! Mask conventions: default nonzero = clear, invert, cloud values, threshold, nodata/NaN = cloud,
//! dilation (square), windows, PNG masks.
use super::npy_file;
use cloudfill::io::{read_mask, write_geotiff, Image, Mask, MaskOptions, Window};
use npyz::Order::C;

fn opts() -> MaskOptions {
    MaskOptions::default()
}

/// Pretty-print a mask as rows of '.' (clear) and '#' (cloud).
fn art(m: &Mask) -> Vec<String> {
    m.clear
        .chunks(m.w)
        .map(|r| r.iter().map(|&c| if c { '.' } else { '#' }).collect())
        .collect()
}

#[test]
fn default_and_invert() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npy");
    npy_file(&p, &[2, 3], &[0u8, 1, 2, 255, 0, 1], C);
    let m = read_mask(&p, &opts(), None).unwrap();
    assert_eq!(art(&m), ["#..", ".#."]);
    assert_eq!((m.count_clear(), m.cloud_fraction()), (4, 2.0 / 6.0));
    let inv = read_mask(
        &p,
        &MaskOptions {
            invert: true,
            ..opts()
        },
        None,
    )
    .unwrap();
    assert_eq!(art(&inv), [".##", "#.#"]);
}

#[test]
fn cloud_values_scl_with_nodata_and_nan() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scl.tif");
    // SCL classes: 3 shadow, 8/9 cloud, 10 cirrus, 4 vegetation, 0 = nodata here, NaN.
    let vals = [4.0, 3.0, 8.0, 9.0, 10.0, 5.0, 0.0, f32::NAN];
    write_geotiff(
        &p,
        &Image::new(2, 4, 1, vals.to_vec()).unwrap(),
        None,
        &[],
        Some(0.0),
    )
    .unwrap();
    let o = MaskOptions {
        cloud_values: Some(vec![3.0, 8.0, 9.0, 10.0]),
        ..opts()
    };
    assert_eq!(art(&read_mask(&p, &o, None).unwrap()), [".###", "#.##"]);
    // Invert flips valid pixels only: nodata and NaN stay cloud.
    let o = MaskOptions { invert: true, ..o };
    assert_eq!(art(&read_mask(&p, &o, None).unwrap()), ["#...", ".###"]);
    // The default rule on the same file: nonzero = clear, nodata 0 and NaN cloud.
    assert_eq!(
        art(&read_mask(&p, &opts(), None).unwrap()),
        ["....", "..##"]
    );
}

#[test]
fn threshold_probability() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("prob.npy");
    npy_file(&p, &[1, 5], &[0.0f64, 0.39, 0.4, 0.9, f64::NAN], C);
    let o = MaskOptions {
        cloud_threshold: Some(0.4),
        ..opts()
    };
    assert_eq!(art(&read_mask(&p, &o, None).unwrap()), ["..###"]);
    let both = MaskOptions {
        cloud_values: Some(vec![1.0]),
        ..o.clone()
    };
    assert!(read_mask(&p, &both, None).is_err());
}

#[test]
fn dilate_is_square_and_clipped_at_borders() {
    let mut m = Mask::clear(5, 7);
    m.clear[2 * 7 + 3] = false;
    m.clear[6] = false; // top-right corner
    let mut one = m.clone();
    one.dilate_cloud(1);
    assert_eq!(
        art(&one),
        [".....##", "..#####", "..###..", "..###..", "......."]
    );
    let mut two = m.clone();
    two.dilate_cloud(2);
    assert_eq!(
        art(&two),
        [".######", ".######", ".######", ".#####.", ".#####."]
    );
    let mut zero = m.clone();
    zero.dilate_cloud(0);
    assert_eq!(zero, m);
    let mut big = m.clone();
    big.dilate_cloud(100);
    assert_eq!(big.count_clear(), 0);
    assert_eq!(Mask::clear(3, 2).cloud_fraction(), 0.0);
    assert!(Mask::new(2, 2, vec![true; 3]).is_err());
}

#[test]
fn read_mask_dilate_window_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npy");
    let mut v = vec![true; 4 * 5];
    v[5 + 1] = false; // (1, 1)
    npy_file(&p, &[4, 5], &v, C);
    let o = MaskOptions {
        dilate: 1,
        ..opts()
    };
    let m = read_mask(&p, &o, None).unwrap();
    assert_eq!(art(&m), ["###..", "###..", "###..", "....."]);
    // Dilation sees the cloud just outside the window.
    let win = Window {
        xoff: 2,
        yoff: 0,
        xsize: 3,
        ysize: 3,
    };
    assert_eq!(
        art(&read_mask(&p, &o, Some(win)).unwrap()),
        ["#..", "#..", "#.."]
    );

    // An RGB PNG mask of grey pixels (0 = cloud); RGB pixels that differ are refused
    // (multi_band_masks_must_agree).
    let png = dir.path().join("m.png");
    let file = std::fs::File::create(&png).unwrap();
    let mut enc = png::Encoder::new(file, 2, 1);
    enc.set_color(png::ColorType::Rgb);
    enc.write_header()
        .unwrap()
        .write_image_data(&[0, 0, 0, 255, 255, 255])
        .unwrap();
    assert_eq!(art(&read_mask(&png, &opts(), None).unwrap()), ["#."]);
}

/// NaN in a float mask is never clear, with the default rule and with --mask-invert.
#[test]
fn nan_in_a_float_mask_is_never_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npy");
    npy_file(&p, &[1, 4], &[1.0f32, f32::NAN, 0.0, 2.0], C);
    let m = read_mask(&p, &opts(), None).unwrap();
    assert_eq!(art(&m), [".##."]);
    let inv = MaskOptions {
        invert: true,
        ..opts()
    };
    assert_eq!(art(&read_mask(&p, &inv, None).unwrap()), ["##.#"]);
}

/// A multi-band mask is used when its bands agree (grey saved as RGB) and refused when they
/// differ (which band would be meant?).
#[test]
fn multi_band_masks_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("same.npy");
    npy_file(&same, &[1, 2, 3], &[1u8, 1, 1, 0, 0, 0], C);
    assert_eq!(art(&read_mask(&same, &opts(), None).unwrap()), [".#"]);
    let differ = dir.path().join("differ.npy");
    npy_file(&differ, &[1, 2, 3], &[1u8, 0, 1, 0, 0, 0], C);
    let e = read_mask(&differ, &opts(), None).unwrap_err().to_string();
    assert!(e.contains("differ.npy") && e.contains("3 bands"), "{e}");
}
