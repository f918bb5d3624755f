//! Channel concat with centre crop vs its CPU reference, the reference vs finite differences,
//! and a literal crop case.
use crate::common::*;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::concat::{self as cc, out_shape, reference};

/// GPU forward + backward (gradients accumulated onto `da0`, `db0`): (y, da, db).
fn gpu_concat(
    (sa, a, da0): (Shape, &[f32], &[f32]),
    (sb, b, db0): (Shape, &[f32], &[f32]),
    gy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = gpu();
    let so = out_shape(sa, sb);
    let (ta, tb, tgy) = (upload(sa, a), upload(sb, b), upload(so, gy));
    let (tda, tdb) = (upload(sa, da0), upload(sb, db0));
    let ty = Tensor::zeros(g, so).unwrap();
    let mut ds = cc::forward(g, 1, &ta, &tb, &ty).unwrap();
    ds.extend(cc::backward(g, 1, &tgy, &tda, &tdb).unwrap());
    run(&ds);
    let rd = |t: &Tensor| t.read(g).unwrap();
    (rd(&ty), rd(&tda), rd(&tdb))
}

fn plus(a: &[f32], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(&a, &b)| a as f64 + b).collect()
}

#[test]
fn matches_reference() {
    let mut rng = Rng::new(31);
    let pairs = [
        (Shape::new(3, 9, 11), Shape::new(2, 12, 14)), // b cropped by (1, 1)
        (Shape::new(2, 10, 13), Shape::new(3, 9, 11)), // a cropped by (0, 1)
        (Shape::new(3, 11, 9), Shape::new(1, 9, 12)),  // a by (1, 0), b by (0, 1)
        (Shape::new(3, 9, 9), Shape::new(3, 9, 9)),    // no crop
    ];
    for (sa, sb) in pairs {
        let (a, b) = (rng.vec(sa.numel()), rng.vec(sb.numel()));
        let (da0, db0) = (rng.vec(sa.numel()), rng.vec(sb.numel()));
        let gy = rng.vec(out_shape(sa, sb).numel());
        let (y, da, db) = gpu_concat((sa, &a, &da0), (sb, &b, &db0), &gy);
        let want_y = reference::forward(&to_f64(&a), sa, &to_f64(&b), sb);
        let (want_da, want_db) = reference::backward(&to_f64(&gy), sa, sb);
        let what = |t: &str| format!("{sa:?}+{sb:?} {t}");
        assert_close(&what("y"), &y, &want_y, 0.0, 0.0);
        assert_close(&what("da"), &da, &plus(&da0, &want_da), 1e-6, 1e-6);
        assert_close(&what("db"), &db, &plus(&db0, &want_db), 1e-6, 1e-6);
    }
}

#[test]
fn reference_backward_matches_finite_differences() {
    let mut rng = Rng::new(32);
    let (sa, sb) = (Shape::new(2, 6, 5), Shape::new(1, 3, 4));
    let (a, b) = (to_f64(&rng.vec(sa.numel())), to_f64(&rng.vec(sb.numel())));
    let gy = to_f64(&rng.vec(out_shape(sa, sb).numel()));
    let (da, db) = reference::backward(&gy, sa, sb);
    let fa = finite_diff(&|v| dot(&reference::forward(v, sa, &b, sb), &gy), &a, 1e-6);
    let fb = finite_diff(&|v| dot(&reference::forward(&a, sa, v, sb), &gy), &b, 1e-6);
    for (what, an, fd) in [("da", &da, &fa), ("db", &db, &fb)] {
        for (i, (x, f)) in an.iter().zip(fd.iter()).enumerate() {
            assert!((x - f).abs() < 1e-6, "{what}[{i}]: {x} vs fd {f}");
        }
    }
}

/// a = 0..25 as 1×5×5, b = 1×2×2: a's crop starts at ((5−2)/2, (5−2)/2) = (1, 1), as the DIP
/// Concat module's `inp[:, :, d2:d2+h, d3:d3+w]` with `d2 = (5 - 2) // 2`.
#[test]
fn literal_centre_crop() {
    let (sa, sb) = (Shape::new(1, 5, 5), Shape::new(1, 2, 2));
    assert_eq!(out_shape(sa, sb), Shape::new(2, 2, 2));
    let a: Vec<f32> = (0..25).map(|v| v as f32).collect();
    let b = [-1.0, -2.0, -3.0, -4.0];
    let gy = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let (y, da, db) = gpu_concat((sa, &a, &[0.0; 25]), (sb, &b, &[0.0; 4]), &gy);
    assert_eq!(y, [6.0, 7.0, 11.0, 12.0, -1.0, -2.0, -3.0, -4.0]);
    let mut want_da = [0.0f32; 25];
    want_da[6] = 1.0;
    want_da[7] = 2.0;
    want_da[11] = 3.0;
    want_da[12] = 4.0;
    assert_eq!(da, want_da);
    assert_eq!(db, [5.0, 6.0, 7.0, 8.0]);
}

#[test]
fn wrong_output_shape_is_an_error() {
    let g = gpu();
    let z = |c, h, w| Tensor::zeros(g, Shape::new(c, h, w)).unwrap();
    let (a, b) = (z(2, 5, 5), z(1, 4, 6));
    assert!(cc::forward(g, 1, &a, &b, &z(3, 5, 5)).is_err());
    assert!(cc::forward(g, 1, &a, &b, &z(3, 4, 5)).is_ok());
    assert!(cc::backward(g, 1, &z(2, 4, 5), &a, &b).is_err());
}

/// G concats side by side (a batch of networks): y's block k is (a's block k, b's block k),
/// forward and backward, in the same two dispatches.
#[test]
fn grouped_concat_matches_the_reference_per_group() {
    let g = gpu();
    let mut rng = Rng::new(33);
    for (sa, sb, groups) in [
        (Shape::new(3, 9, 11), Shape::new(2, 12, 14), 2),
        (Shape::new(1, 8, 8), Shape::new(4, 8, 8), 3),
    ] {
        let ga = Shape::new(groups * sa.c, sa.h, sa.w);
        let gb = Shape::new(groups * sb.c, sb.h, sb.w);
        let so = out_shape(sa, sb);
        let go = Shape::new(groups * so.c, so.h, so.w);
        let (a, b, gy) = (
            rng.vec(ga.numel()),
            rng.vec(gb.numel()),
            rng.vec(go.numel()),
        );
        let (ta, tb, tgy) = (upload(ga, &a), upload(gb, &b), upload(go, &gy));
        let (tda, tdb) = (Tensor::zeros(g, ga).unwrap(), Tensor::zeros(g, gb).unwrap());
        let ty = Tensor::zeros(g, go).unwrap();
        let mut ds = cc::forward(g, groups, &ta, &tb, &ty).unwrap();
        ds.extend(cc::backward(g, groups, &tgy, &tda, &tdb).unwrap());
        assert_eq!(ds.len(), 4);
        run(&ds);
        let (mut want_y, mut want_da, mut want_db) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..groups {
            let ak = to_f64(&a[k * sa.numel()..(k + 1) * sa.numel()]);
            let bk = to_f64(&b[k * sb.numel()..(k + 1) * sb.numel()]);
            want_y.extend(reference::forward(&ak, sa, &bk, sb));
            let gk = to_f64(&gy[k * so.numel()..(k + 1) * so.numel()]);
            let (da, db) = reference::backward(&gk, sa, sb);
            want_da.extend(da);
            want_db.extend(db);
        }
        let what = |t: &str| format!("{groups}×({sa:?}+{sb:?}) {t}");
        assert_close(&what("y"), &ty.read(g).unwrap(), &want_y, 0.0, 0.0);
        assert_close(&what("da"), &tda.read(g).unwrap(), &want_da, 0.0, 0.0);
        assert_close(&what("db"), &tdb.read(g).unwrap(), &want_db, 0.0, 0.0);
    }
    // Groups must divide both inputs' channels.
    let (ta, tb) = (
        upload(Shape::new(3, 4, 4), &rng.vec(48)),
        upload(Shape::new(2, 4, 4), &rng.vec(32)),
    );
    let ty = Tensor::zeros(g, Shape::new(5, 4, 4)).unwrap();
    assert!(cc::forward(g, 2, &ta, &tb, &ty).is_err());
}
