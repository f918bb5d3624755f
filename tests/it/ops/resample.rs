//! Upsampling and pooling kernels vs their CPU reference, the reference vs finite differences,
//! PyTorch's upsampling values and a hand-computed pooling case with ties.
use crate::common::*;
use crate::golden;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::resample::{self as rs, pool_shape, reference, upsample_shape, Pool, Upsample};

const UPS: [Upsample; 2] = [Upsample::Nearest, Upsample::Bilinear];
const POOLS: [Pool; 2] = [Pool::Avg, Pool::Max];

fn plus(a: &[f32], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(&a, &b)| a as f64 + b).collect()
}

/// GPU upsample forward + backward (dx accumulated onto `dx0`): (y, dx).
fn gpu_up(mode: Upsample, s: Shape, x: &[f32], gy: &[f32], dx0: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let g = gpu();
    let (tx, tgy, tdx) = (upload(s, x), upload(upsample_shape(s), gy), upload(s, dx0));
    let ty = Tensor::zeros(g, upsample_shape(s)).unwrap();
    run(&[
        rs::upsample_forward(g, mode, &tx, &ty).unwrap(),
        rs::upsample_backward(g, mode, &tgy, &tdx).unwrap(),
    ]);
    (ty.read(g).unwrap(), tdx.read(g).unwrap())
}

/// GPU pool forward + backward (dx accumulated onto `dx0`): (y, dx).
fn gpu_pool(mode: Pool, s: Shape, x: &[f32], gy: &[f32], dx0: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let g = gpu();
    let (tx, tgy, tdx) = (upload(s, x), upload(pool_shape(s), gy), upload(s, dx0));
    let ty = Tensor::zeros(g, pool_shape(s)).unwrap();
    run(&[
        rs::pool_forward(g, mode, &tx, &ty).unwrap(),
        rs::pool_backward(g, mode, &tx, &tgy, &tdx).unwrap(),
    ]);
    (ty.read(g).unwrap(), tdx.read(g).unwrap())
}

#[test]
fn upsample_matches_reference() {
    let mut rng = Rng::new(21);
    for s in [
        Shape::new(3, 9, 11),
        Shape::new(3, 12, 10),
        Shape::new(2, 1, 5),
    ] {
        for mode in UPS {
            let (x, gy, dx0) = (
                rng.vec(s.numel()),
                rng.vec(4 * s.numel()),
                rng.vec(s.numel()),
            );
            let (y, dx) = gpu_up(mode, s, &x, &gy, &dx0);
            let want_y = reference::upsample_forward(mode, &to_f64(&x), s);
            let want_dx = reference::upsample_backward(mode, &to_f64(&gy), s);
            assert_close(&format!("{mode:?} {s:?} y"), &y, &want_y, 1e-5, 1e-6);
            assert_close(
                &format!("{mode:?} {s:?} dx"),
                &dx,
                &plus(&dx0, &want_dx),
                1e-5,
                1e-5,
            );
        }
    }
}

#[test]
fn pool_matches_reference() {
    let mut rng = Rng::new(22);
    for s in [
        Shape::new(3, 9, 11),
        Shape::new(3, 10, 12),
        Shape::new(2, 2, 3),
    ] {
        for mode in POOLS {
            let (x, gy) = (rng.vec(s.numel()), rng.vec(pool_shape(s).numel()));
            let dx0 = rng.vec(s.numel());
            let (y, dx) = gpu_pool(mode, s, &x, &gy, &dx0);
            let want_y = reference::pool_forward(mode, &to_f64(&x), s);
            let want_dx = reference::pool_backward(mode, &to_f64(&x), s, &to_f64(&gy));
            assert_close(&format!("{mode:?} {s:?} y"), &y, &want_y, 1e-6, 1e-6);
            assert_close(
                &format!("{mode:?} {s:?} dx"),
                &dx,
                &plus(&dx0, &want_dx),
                1e-6,
                1e-6,
            );
        }
    }
}

#[test]
fn reference_backwards_match_finite_differences() {
    let mut rng = Rng::new(23);
    let s = Shape::new(2, 5, 7);
    let x = to_f64(&rng.vec(s.numel()));
    let check = |what: String, an: &[f64], f: &dyn Fn(&[f64]) -> f64| {
        let fd = finite_diff(f, &x, 1e-6);
        for (i, (a, d)) in an.iter().zip(&fd).enumerate() {
            assert!((a - d).abs() < 1e-6, "{what}[{i}]: {a} vs fd {d}");
        }
    };
    for mode in UPS {
        let gy = to_f64(&rng.vec(4 * s.numel()));
        let an = reference::upsample_backward(mode, &gy, s);
        check(format!("{mode:?}"), &an, &|v| {
            dot(&reference::upsample_forward(mode, v, s), &gy)
        });
    }
    for mode in POOLS {
        // Random inputs: no ties within 1e-6, so max pooling is differentiable there.
        let gy = to_f64(&rng.vec(pool_shape(s).numel()));
        let an = reference::pool_backward(mode, &x, s, &gy);
        check(format!("{mode:?}"), &an, &|v| {
            dot(&reference::pool_forward(mode, v, s), &gy)
        });
    }
}

/// PyTorch `upsample_*_x2_*`: `y = F.interpolate(x, scale_factor=2, mode='nearest')` or
/// `F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False); y.backward(gy)`.
#[test]
fn pytorch_upsample_values() {
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    for name in [
        "upsample_nearest_x2_5x5",
        "upsample_nearest_x2_8x8",
        "upsample_bilinear_x2_5x5",
        "upsample_bilinear_x2_6x6",
    ] {
        let c = golden::case(name);
        let mode = match c.op.as_str() {
            "upsample_nearest2x" => Upsample::Nearest,
            "upsample_bilinear2x" => {
                assert!(!c.param_bool("align_corners"), "{name}");
                Upsample::Bilinear
            }
            op => panic!("{name}: op {op}"),
        };
        let s = c.input("x").chw();
        let [x, gy] = ["x", "gy"].map(|n| c.input(n).data);
        let [want_y, want_dx] = ["y", "dx"].map(|n| c.output(n).data);
        let ry = reference::upsample_forward(mode, &x, s);
        let rdx = reference::upsample_backward(mode, &gy, s);
        assert_close(&format!("{name} ref y"), &f(&ry), &want_y, 1e-6, 1e-7);
        assert_close(&format!("{name} ref dx"), &f(&rdx), &want_dx, 1e-6, 1e-7);
        let (y, dx) = gpu_up(mode, s, &f(&x), &f(&gy), &vec![0.0; s.numel()]);
        assert_close(&format!("{name} gpu y"), &y, &want_y, 1e-5, 1e-6);
        assert_close(&format!("{name} gpu dx"), &dx, &want_dx, 1e-5, 1e-6);
    }
}

/// Hand-computed 2×2 pooling of a 4×5 image (the last column is dropped) with ties: max routes
/// the gradient to the first maximum in scan order, as `F.max_pool2d(x, 2)` does on the CPU.
#[test]
fn pool_literal_case_with_ties() {
    #[rustfmt::skip]
    let x = [
        1.0, 3.0, 2.0, 2.0, 9.0,
        3.0, 0.0, 2.0, 1.0, 9.0,
        -1.0, -2.0, 5.0, 5.0, 9.0,
        -4.0, -1.0, 5.0, 0.0, 9.0,
    ];
    let gy = [1.0, 2.0, 3.0, 4.0];
    #[rustfmt::skip]
    let max_dx = [
        0.0, 1.0, 2.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0,
        3.0, 0.0, 4.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    #[rustfmt::skip]
    let avg_dx = [
        0.25, 0.25, 0.5, 0.5, 0.0,
        0.25, 0.25, 0.5, 0.5, 0.0,
        0.75, 0.75, 1.0, 1.0, 0.0,
        0.75, 0.75, 1.0, 1.0, 0.0,
    ];
    let s = Shape::new(1, 4, 5);
    let cases: [(Pool, [f64; 4], &[f64]); 2] = [
        (Pool::Max, [3.0, 2.0, -1.0, 5.0], &max_dx),
        (Pool::Avg, [1.75, 1.75, -2.0, 3.75], &avg_dx),
    ];
    for (mode, y_want, dx_want) in cases {
        let (y, dx) = gpu_pool(mode, s, &x, &gy, &[0.0; 20]);
        assert_close(&format!("{mode:?} y"), &y, &y_want, 0.0, 0.0);
        assert_close(&format!("{mode:?} dx"), &dx, dx_want, 0.0, 0.0);
        let xd = to_f64(&x);
        let rdx = reference::pool_backward(mode, &xd, s, &to_f64(&gy));
        assert_eq!(
            reference::pool_forward(mode, &xd, s),
            y_want,
            "{mode:?} ref y"
        );
        assert_eq!(rdx, dx_want, "{mode:?} ref dx");
    }
}

#[test]
fn wrong_shapes_are_errors() {
    let g = gpu();
    let z = |c, h, w| Tensor::zeros(g, Shape::new(c, h, w)).unwrap();
    let (x, bad) = (z(2, 5, 5), z(2, 10, 9));
    assert!(rs::upsample_forward(g, Upsample::Bilinear, &x, &bad).is_err());
    assert!(rs::upsample_backward(g, Upsample::Nearest, &bad, &x).is_err());
    assert!(rs::pool_forward(g, Pool::Max, &x, &z(2, 3, 2)).is_err());
    assert!(rs::pool_forward(g, Pool::Max, &z(2, 1, 4), &z(2, 0, 2)).is_err());
}
