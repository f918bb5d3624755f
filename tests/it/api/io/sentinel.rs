//! Sentinel preprocessing against hand-computed values (SPEC §5).
use cloudfill::io::{s1_preprocess, s2_preprocess, Image};

#[test]
fn s2_clip_and_scale() {
    let img = Image::new(1, 3, 2, vec![-5.0, 0.0, 1000.0, 2000.0, 10000.0, 12000.0]).unwrap();
    let out = s2_preprocess(&img);
    assert_eq!((out.h, out.w, out.c), (1, 3, 2));
    assert_eq!(out.data, vec![0.0, 0.0, 0.5, 1.0, 5.0, 5.0]);
}

#[test]
fn s1_db_clip_and_scale() {
    // Pixels (VV, VH, third band ignored):
    // 0: VV 0.01 → −20 dB → 2·5/25 = 0.4;        VH 0.01 → −20 dB → 2·12.5/32.5
    // 1: VV 1 → 0 dB → 2;                        VH 1e-3 → −30 dB → 2·2.5/32.5
    // 2: VV 2 → +3 dB clipped to 0 → 2;          VH 1e-4 → −40 dB clipped to −32.5 → 0
    // 3: VV 1e-3 → −30 dB clipped to −25 → 0;    VH 0.1 → −10 dB → 2·22.5/32.5
    let vals = [
        0.01, 0.01, 1.0, //
        1.0, 1e-3, 1.0, //
        2.0, 1e-4, 1.0, //
        1e-3, 0.1, 1.0,
    ];
    let img = Image::new(2, 2, 3, vals.to_vec()).unwrap();
    let (out, valid) = s1_preprocess(&img, None).unwrap();
    let want = [
        0.4,
        25.0 / 32.5,
        2.0,
        5.0 / 32.5,
        2.0,
        0.0,
        0.0,
        45.0 / 32.5,
    ];
    assert_eq!((out.h, out.w, out.c), (2, 2, 2));
    for (i, (&a, &b)) in out.data.iter().zip(&want).enumerate() {
        assert!(
            (f64::from(a) - b).abs() <= 1e-6 * b.abs().max(1.0),
            "value {i}: {a} vs {b}"
        );
    }
    assert_eq!(valid, vec![true; 4]);
}

#[test]
fn s1_invalid_pixels() {
    // Non-positive, NaN, infinite VV or VH, or a pixel already invalid → invalid and 0.
    let vals = [
        0.0,
        0.1,
        0.1,
        -1.0,
        f32::NAN,
        0.1,
        0.1,
        f32::INFINITY,
        0.1,
        0.1,
        0.1,
        0.1,
    ];
    let img = Image::new(1, 6, 2, vals.to_vec()).unwrap();
    let given = [true, true, true, true, false, true];
    let (out, valid) = s1_preprocess(&img, Some(&given)).unwrap();
    assert_eq!(valid, vec![false, false, false, false, false, true]);
    assert!(out.data[..10].iter().all(|&v| v == 0.0));
    assert!((out.data[10] - 1.2).abs() < 1e-6); // VV 0.1 → −10 dB → 2·15/25
    assert!(s1_preprocess(&Image::zeros(2, 2, 1), None).is_err());
    assert!(s1_preprocess(&img, Some(&[true; 5])).is_err());
}

/// `s1_preprocess_to(.., max)` is the reference's scaling times max/2; a bad max is refused.
#[test]
fn s1_scaled_to_another_upper_end() {
    use cloudfill::io::s1_preprocess_to;
    let data: Vec<f32> = (0..24).map(|i| 0.003 + 0.041 * i as f32).collect();
    let img = Image::new(3, 4, 2, data).unwrap();
    let (two, v2) = s1_preprocess(&img, None).unwrap();
    let (one, v1) = s1_preprocess_to(&img, None, 1.0).unwrap();
    assert_eq!(v1, v2);
    for (a, b) in one.data.iter().zip(&two.data) {
        approx::assert_relative_eq!(*a * 2.0, *b, max_relative = 1e-6);
    }
    assert!(one.data.iter().any(|&v| v > 0.1 && v < 1.0));
    assert!(s1_preprocess_to(&img, None, 0.0).is_err());
    assert!(s1_preprocess_to(&img, None, f32::NAN).is_err());
}
