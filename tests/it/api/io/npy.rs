//! .npy reading (f32, f64, bool, u8, i16, u16, i32; 2-D and 3-D; C and Fortran order; NaN →
//! invalid; windows), writing as f32 (H, W, C), and errors naming the file.
use super::{listing, message, npy_file, ramp};
use cloudfill::io::{read_raster, write_npy, Window};

#[test]
fn npy_readers_all_dtypes_2d_3d_fortran() {
    use npyz::Order::{Fortran, C};
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let img = ramp(3, 4, 2);
    npy_file(&p("f32.npy"), &[3, 4, 2], &img.data, C);
    assert_eq!(read_raster(&p("f32.npy"), None, None).unwrap().image, img);

    let f64s: Vec<f64> = (0..12).map(|i| i as f64 * 0.5 - 1.0).collect();
    npy_file(&p("f64.npy"), &[3, 4], &f64s, C);
    let r = read_raster(&p("f64.npy"), None, None).unwrap().image;
    assert_eq!((r.h, r.w, r.c, r.at(2, 3, 0)), (3, 4, 1, 4.5));

    let bools = [true, false, false, true, true, true];
    npy_file(&p("bool.npy"), &[2, 3], &bools, C);
    let r = read_raster(&p("bool.npy"), None, None).unwrap().image;
    assert_eq!(r.data, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);

    let bytes: Vec<u8> = (0..24).map(|i| (i * 10) as u8).collect();
    npy_file(&p("u8.npy"), &[2, 4, 3], &bytes, C);
    let r = read_raster(&p("u8.npy"), Some(&[2]), None).unwrap().image;
    assert_eq!((r.c, r.at(1, 2, 0)), (1, 190.0)); // element (1,2,1) = index 19
    npy_file(&p("i16.npy"), &[2, 2], &[-300i16, 0, 7, 32000], C);
    assert_eq!(
        read_raster(&p("i16.npy"), None, None).unwrap().image.data,
        [-300.0, 0.0, 7.0, 32000.0]
    );
    npy_file(&p("u16.npy"), &[1, 2], &[65535u16, 1], C);
    assert_eq!(
        read_raster(&p("u16.npy"), None, None).unwrap().image.data,
        [65535.0, 1.0]
    );
    npy_file(&p("i32.npy"), &[1, 1], &[-70000i32], C);
    assert_eq!(
        read_raster(&p("i32.npy"), None, None).unwrap().image.data,
        [-70000.0]
    );

    // Fortran order: element (y, x, ch) is stored at y + H·(x + W·ch).
    let mut fdata = vec![0f32; img.data.len()];
    for (y, x, ch) in itertools3(3, 4, 2) {
        fdata[y + 3 * (x + 4 * ch)] = img.at(y, x, ch);
    }
    npy_file(&p("fortran.npy"), &[3, 4, 2], &fdata, Fortran);
    assert_eq!(
        read_raster(&p("fortran.npy"), None, None).unwrap().image,
        img
    );

    // Window on a .npy; NaN marks the pixel invalid.
    let mut nan = img.clone();
    nan.data[(4 + 2) * 2 + 1] = f32::NAN; // (y 1, x 2, ch 1)
    npy_file(&p("nan.npy"), &[3, 4, 2], &nan.data, C);
    let win = Window {
        xoff: 1,
        yoff: 1,
        xsize: 3,
        ysize: 2,
    };
    let r = read_raster(&p("nan.npy"), None, Some(win)).unwrap();
    assert_eq!(r.valid, Some(vec![true, false, true, true, true, true]));
    assert_eq!(r.image.at(1, 2, 0), img.at(2, 3, 0));
}

fn itertools3(a: usize, b: usize, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).map(move |k| (i, j, k))))
}

#[test]
fn npy_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p4 = dir.path().join("four_d.npy");
    npy_file(&p4, &[1, 2, 2, 1], &[1f32, 2.0, 3.0, 4.0], npyz::Order::C);
    let e = message(&read_raster(&p4, None, None).unwrap_err());
    assert!(
        e.contains("four_d.npy") && e.contains("[1, 2, 2, 1]"),
        "{e}"
    );
    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, b"not numpy").unwrap();
    assert!(message(&read_raster(&junk, None, None).unwrap_err()).contains("junk.npy"));
    let missing = dir.path().join("gone.npy");
    assert!(message(&read_raster(&missing, None, None).unwrap_err()).contains("gone.npy"));
    let win = Window {
        xoff: 0,
        yoff: 1,
        xsize: 1,
        ysize: 2,
    };
    let p2 = dir.path().join("small.npy");
    npy_file(&p2, &[2, 2], &[1f32, 2.0, 3.0, 4.0], npyz::Order::C);
    let e = message(&read_raster(&p2, None, Some(win)).unwrap_err());
    assert!(e.contains("small.npy") && e.contains("2 rows"), "{e}");
}

#[test]
fn write_npy_is_float32_hwc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.npy");
    let img = ramp(2, 3, 1);
    write_npy(&path, &img).unwrap();
    let npy = npyz::NpyFile::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(npy.shape(), &[2, 3, 1]);
    assert_eq!(npy.dtype().descr(), "'<f4'");
    assert_eq!(read_raster(&path, None, None).unwrap().image, img);
    assert_eq!(listing(dir.path()), vec!["out.npy"]);
}
