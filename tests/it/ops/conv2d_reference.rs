//! The conv2d CPU reference itself: its backward against finite differences (grouped and not),
//! its reflection padding against an explicit ReflectionPad2d, PyTorch's golden values, and the
//! configurations every path refuses.
use super::conv2d::{conv, gconv, R, Z};
use crate::common::*;
use crate::golden::conv::cases;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::conv2d::{self as cv, reference, Conv2d};
/// The grouped reference backward (one group at a time) vs finite differences of the grouped
/// reference forward: gradients never cross groups.
#[test]
fn grouped_reference_backward_matches_finite_differences() {
    let cases = [
        (gconv(4, 6, 3, 1, R, 2), 5, 6),
        (gconv(3, 6, 3, 2, Z, 3), 5, 5),
    ];
    reference_backward_vs_finite_differences(&cases, 7);
}

#[test]
fn reference_backward_matches_finite_differences() {
    let cases = [
        (conv(2, 3, 3, 2, R), 5, 6),
        (conv(2, 2, 5, 1, R), 6, 7),
        (conv(3, 2, 1, 2, Z), 5, 5),
        (conv(2, 3, 3, 1, Z), 4, 5),
        (conv(2, 2, 5, 2, Z), 7, 6),
    ];
    reference_backward_vs_finite_differences(&cases, 5);
}

/// The reference's (dx, dw, db) against central differences of Σ y·gy, on random inputs.
fn reference_backward_vs_finite_differences(cases: &[(Conv2d, usize, usize)], seed: u64) {
    let mut rng = Rng::new(seed);
    for &(c, h, w) in cases {
        let xs = Shape::new(c.cin, h, w);
        let ys = c.out_shape(xs).unwrap();
        let x = to_f64(&rng.vec(xs.numel()));
        let wt = to_f64(&rng.vec(c.weight_len()));
        let b = to_f64(&rng.vec(c.cout));
        let gy = to_f64(&rng.vec(ys.numel()));
        let (dx, dw, db) = reference::backward(&c, &x, xs, &wt, &gy);
        let loss = |x: &[f64], wt: &[f64], b: &[f64]| {
            dot(&reference::forward(&c, x, xs, wt, Some(b)), &gy)
        };
        let fdx = finite_diff(&|v| loss(v, &wt, &b), &x, 1e-5);
        let fdw = finite_diff(&|v| loss(&x, v, &b), &wt, 1e-5);
        let fdb = finite_diff(&|v| loss(&x, &wt, v), &b, 1e-5);
        for (name, an, fd) in [("dx", &dx, &fdx), ("dw", &dw, &fdw), ("db", &db, &fdb)] {
            assert_eq!(an.len(), fd.len(), "{c:?} {name}");
            for (i, (a, f)) in an.iter().zip(fd.iter()).enumerate() {
                assert!(
                    (a - f).abs() < 1e-6 * (1.0 + f.abs()),
                    "{c:?} {name}[{i}]: {a} vs fd {f}"
                );
            }
        }
    }
}

/// Reflection = torch.nn.ReflectionPad2d(p) (index −1 → 1, H → H−2) then a conv without padding.
#[test]
fn reference_reflection_is_reflection_pad_then_conv() {
    let mut rng = Rng::new(9);
    for (k, s, h, w) in [(3, 1, 5, 6), (5, 2, 7, 6), (5, 1, 3, 4)] {
        let c = conv(2, 3, k, s, R);
        let xs = Shape::new(2, h, w);
        let x = to_f64(&rng.vec(xs.numel()));
        let wt = to_f64(&rng.vec(c.weight_len()));
        let p = c.pad() as isize;
        let refl = |i: isize, n: isize| {
            if i < 0 {
                -i
            } else if i >= n {
                2 * n - 2 - i
            } else {
                i
            }
        };
        let (hp, wp) = (h + 2 * p as usize, w + 2 * p as usize);
        let mut xp = vec![0.0; 2 * hp * wp];
        for ci in 0..2 {
            for y in 0..hp {
                for xx in 0..wp {
                    let sy = refl(y as isize - p, h as isize) as usize;
                    let sx = refl(xx as isize - p, w as isize) as usize;
                    xp[(ci * hp + y) * wp + xx] = x[(ci * h + sy) * w + sx];
                }
            }
        }
        let ys = c.out_shape(xs).unwrap();
        let want = reference::forward(&c, &x, xs, &wt, None);
        for co in 0..3 {
            for oy in 0..ys.h {
                for ox in 0..ys.w {
                    let mut got = 0.0; // a conv with padding 0 on the padded input
                    for ci in 0..2 {
                        for ky in 0..k {
                            for kx in 0..k {
                                let v = xp[(ci * hp + oy * s + ky) * wp + ox * s + kx];
                                got += wt[((co * 2 + ci) * k + ky) * k + kx] * v;
                            }
                        }
                    }
                    let w = want[(co * ys.h + oy) * ys.w + ox];
                    assert!((got - w).abs() < 1e-12, "k{k} s{s} {h}x{w}: {got} vs {w}");
                }
            }
        }
    }
}

#[test]
fn pytorch_golden_cases() {
    let g = gpu();
    for case in &cases() {
        let c = conv(case.cin, case.cout, case.k, case.stride, Z);
        let xs = Shape::new(case.cin, case.h, case.w);
        let ys = c.out_shape(xs).unwrap();
        assert_eq!(ys.numel(), case.y.len(), "{}", case.name);
        let (tx, tw) = (
            upload(xs, &case.x),
            upload(Shape::flat(case.wt.len()), &case.wt),
        );
        let (tb, tgy) = (
            upload(Shape::flat(case.cout), &case.b),
            upload(ys, &case.gy),
        );
        let ty = Tensor::zeros(g, ys).unwrap();
        let tdx = Tensor::zeros(g, xs).unwrap();
        let tdw = Tensor::zeros(g, Shape::flat(case.wt.len())).unwrap();
        let tdb = Tensor::zeros(g, Shape::flat(case.cout)).unwrap();
        let mut ds = cv::forward(g, &c, &tx, &tw, Some(&tb), &ty).unwrap();
        ds.extend(cv::backward_input(g, &c, &tgy, &tw, &tdx).unwrap());
        ds.extend(cv::backward_weight(g, &c, &tx, &tgy, &tdw).unwrap());
        ds.extend(cv::backward_bias(g, &c, &tgy, &tdb).unwrap());
        run(&ds);
        for (what, t, want) in [
            ("y", &ty, &case.y),
            ("dx", &tdx, &case.dx),
            ("dw", &tdw, &case.dw),
            ("db", &tdb, &case.db),
        ] {
            let got = t.read(g).unwrap();
            assert_close(
                &format!("{} {what}", case.name),
                &got,
                &to_f64(want),
                1e-4,
                1e-5,
            );
        }
    }
}

#[test]
fn invalid_configurations_are_errors() {
    let xs = Shape::new(3, 8, 8);
    assert!(conv(3, 4, 2, 1, Z).out_shape(xs).is_err(), "even k");
    assert!(conv(3, 4, 3, 3, Z).out_shape(xs).is_err(), "stride 3");
    assert!(conv(2, 4, 3, 1, Z).out_shape(xs).is_err(), "channels");
    assert!(
        conv(3, 4, 5, 1, R).out_shape(Shape::new(3, 2, 8)).is_err(),
        "reflect H <= pad"
    );
    assert!(
        conv(3, 4, 3, 1, R).out_shape(Shape::new(3, 8, 1)).is_err(),
        "reflect W <= pad"
    );
    assert_eq!(
        conv(3, 4, 3, 2, Z).out_shape(Shape::new(3, 9, 8)).unwrap(),
        Shape::new(4, 5, 4)
    );
    assert_eq!(
        conv(3, 4, 5, 1, R).out_shape(xs).unwrap(),
        Shape::new(4, 8, 8)
    );
    assert_eq!(
        conv(3, 4, 1, 2, Z).out_shape(Shape::new(3, 7, 7)).unwrap(),
        Shape::new(4, 4, 4)
    );
    assert_eq!(conv(3, 4, 3, 1, Z).weight_len(), 108);
    let xs6 = Shape::new(6, 8, 8);
    assert!(
        gconv(6, 4, 3, 1, Z, 4).out_shape(xs6).is_err(),
        "groups ∤ cin"
    );
    assert!(
        gconv(6, 4, 3, 1, Z, 3).out_shape(xs6).is_err(),
        "groups ∤ cout"
    );
    assert!(
        gconv(6, 6, 3, 1, Z, 0).out_shape(xs6).is_err(),
        "zero groups"
    );
    assert_eq!(gconv(6, 9, 3, 1, Z, 3).weight_len(), 9 * 2 * 9);
}
