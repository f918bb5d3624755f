//! Batch-norm kernels vs their CPU reference (scalar and vec4 paths, multi-workgroup
//! reductions), the reference vs finite differences, and PyTorch's values.
use crate::common::*;
use crate::golden;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::batchnorm::{self as bn, reference, Blocking, EPS};

/// What the GPU computed: y, stats, and the accumulated dx, dgamma, dbeta.
struct Out {
    y: Vec<f32>,
    stats: Vec<f32>,
    dx: Vec<f32>,
    dgamma: Vec<f32>,
    dbeta: Vec<f32>,
}

/// Both blockings run on any adapter (the coalesced GPU one included).
const BLOCKINGS: [Blocking; 2] = [Blocking::CPU, Blocking::GPU];

/// Runs forward then backward in one submit. `d` = [x, gamma, beta, gy, dx0, dgamma0, dbeta0]:
/// the gradients start at the last three.
fn run_bn(b: Blocking, s: Shape, d: [&[f32]; 7]) -> Out {
    let g = gpu();
    let cs = Shape::flat(s.c);
    let (tx, tg, tb, tgy) = (
        upload(s, d[0]),
        upload(cs, d[1]),
        upload(cs, d[2]),
        upload(s, d[3]),
    );
    let (tdx, tdg, tdb) = (upload(s, d[4]), upload(cs, d[5]), upload(cs, d[6]));
    let ty = Tensor::zeros(g, s).unwrap();
    let tst = Tensor::zeros(g, Shape::flat(2 * s.c)).unwrap();
    let mut ds = bn::forward(g, Some(b), &tx, &tg, &tb, &ty, &tst).unwrap();
    ds.extend(bn::backward(g, Some(b), &tx, &tg, &tst, &tgy, &tdx, &tdg, &tdb).unwrap());
    run(&ds);
    let rd = |t: &Tensor| t.read(g).unwrap();
    Out {
        y: rd(&ty),
        stats: rd(&tst),
        dx: rd(&tdx),
        dgamma: rd(&tdg),
        dbeta: rd(&tdb),
    }
}

fn plus(a: &[f32], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(&a, &b)| a as f64 + b).collect()
}

/// GPU vs reference on random data (shifted by `offset` to test the variance's stability).
fn check_shape(s: Shape, seed: u64, offset: f32) {
    let mut rng = Rng::new(seed);
    let x: Vec<f32> = rng.vec(s.numel()).iter().map(|v| v + offset).collect();
    let (gamma, beta) = (rng.vec(s.c), rng.vec(s.c));
    let (gy, dx0, dg0, db0) = (
        rng.vec(s.numel()),
        rng.vec(s.numel()),
        rng.vec(s.c),
        rng.vec(s.c),
    );
    let (xd, gd) = (to_f64(&x), to_f64(&gamma));
    let (y, mean, var) = reference::forward(&xd, s, &gd, &to_f64(&beta));
    let (dx, dgamma, dbeta) = reference::backward(&xd, s, &gd, &to_f64(&gy));
    let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + EPS as f64).sqrt()).collect();
    // Sums over n = H·W terms of size ~2: f32 pairwise error grows with n, hence the abs floor.
    let sum_abs = 1e-6 * s.hw() as f64;
    for b in BLOCKINGS {
        let o = run_bn(b, s, [&x, &gamma, &beta, &gy, &dx0, &dg0, &db0]);
        let what = |t: &str| format!("{s:?} {b:?} {t}");
        assert_close(&what("y"), &o.y, &y, 1e-4, 1e-4);
        assert_close(&what("mean"), &o.stats[..s.c], &mean, 1e-4, 1e-5);
        assert_close(&what("invstd"), &o.stats[s.c..], &invstd, 1e-4, 1e-6);
        assert_close(&what("dx"), &o.dx, &plus(&dx0, &dx), 1e-4, 1e-4);
        let (dg, db) = (plus(&dg0, &dgamma), plus(&db0, &dbeta));
        assert_close(&what("dgamma"), &o.dgamma, &dg, 1e-4, sum_abs);
        assert_close(&what("dbeta"), &o.dbeta, &db, 1e-4, sum_abs);
    }
}

#[test]
fn scalar_path_matches_reference() {
    check_shape(Shape::new(3, 7, 7), 1, 0.0);
    check_shape(Shape::new(4, 9, 11), 2, 0.0);
    check_shape(Shape::new(3, 13, 15), 3, 0.0);
}

#[test]
fn vec4_path_matches_reference() {
    check_shape(Shape::new(3, 9, 12), 4, 0.0); // H·W = 108 = 4·27
    check_shape(Shape::new(5, 2, 2), 5, 0.0); // one vec4 per channel
}

#[test]
fn large_planes_use_many_workgroups() {
    // 16 384 pixels: several workgroups per channel with either blocking, scalar and vec4.
    check_shape(Shape::new(2, 128, 128), 6, 0.0);
    check_shape(Shape::new(2, 127, 129), 7, 0.0);
}

#[test]
fn variance_is_stable_under_a_large_offset() {
    // mean ~100 ≫ std ~1.15: a naive Σx² − (Σx)²/n in f32 would lose most digits.
    check_shape(Shape::new(2, 64, 64), 8, 100.0);
    check_shape(Shape::new(2, 31, 33), 9, 100.0);
}

#[test]
fn degenerate_and_mismatched_shapes_are_errors() {
    let g = gpu();
    let one = Tensor::zeros(g, Shape::new(3, 1, 1)).unwrap();
    let c3 = Tensor::zeros(g, Shape::flat(3)).unwrap();
    let st = Tensor::zeros(g, Shape::flat(6)).unwrap();
    assert!(bn::forward(g, None, &one, &c3, &c3, &one, &st).is_err());
    assert!(bn::backward(g, None, &one, &c3, &st, &one, &one, &c3, &c3).is_err());
    let x = Tensor::zeros(g, Shape::new(3, 4, 4)).unwrap();
    let c2 = Tensor::zeros(g, Shape::flat(2)).unwrap();
    assert!(bn::forward(g, None, &x, &c2, &c3, &x.clone(), &st).is_err());
    assert!(bn::forward(g, None, &x, &c3, &c3, &one, &st).is_err());
    assert!(bn::forward(g, None, &x, &c3, &c3, &x.clone(), &st).is_ok());
}

#[test]
fn reference_backward_matches_finite_differences() {
    let s = Shape::new(2, 3, 5);
    let mut rng = Rng::new(10);
    let x = to_f64(&rng.vec(s.numel()));
    let (gamma, beta) = (to_f64(&rng.vec(2)), to_f64(&rng.vec(2)));
    let gy = to_f64(&rng.vec(s.numel()));
    let (dx, dgamma, dbeta) = reference::backward(&x, s, &gamma, &gy);
    let loss = |x: &[f64], g: &[f64], b: &[f64]| dot(&reference::forward(x, s, g, b).0, &gy);
    let fd_x = finite_diff(&|v| loss(v, &gamma, &beta), &x, 1e-6);
    let fd_g = finite_diff(&|v| loss(&x, v, &beta), &gamma, 1e-6);
    let fd_b = finite_diff(&|v| loss(&x, &gamma, v), &beta, 1e-6);
    for (what, an, fd) in [
        ("dx", dx, fd_x),
        ("dgamma", dgamma, fd_g),
        ("dbeta", dbeta, fd_b),
    ] {
        for (i, (a, f)) in an.iter().zip(&fd).enumerate() {
            assert!(
                (a - f).abs() < 1e-6 * (1.0 + f.abs()),
                "{what}[{i}]: {a} vs fd {f}"
            );
        }
    }
}

/// PyTorch `batchnorm2d_train_*`: `bn = torch.nn.BatchNorm2d(C, eps=1e-5, momentum=0.1).train();
/// bn.weight, bn.bias = gamma, beta; y = bn(x); y.backward(gy)` → y, x.grad, weight.grad,
/// bias.grad and the batch mean and biased batch variance.
#[test]
fn pytorch_values() {
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    for name in ["batchnorm2d_train_c4_7x7", "batchnorm2d_train_c3_6x6"] {
        let c = golden::case(name);
        assert_eq!(c.param_f64("eps"), 1e-5, "{name}");
        let s = c.input("x").chw();
        let [x, gamma, beta, gy] = ["x", "gamma", "beta", "gy"].map(|n| c.input(n).data);
        let [want_y, want_dx, want_dgamma, want_dbeta, want_mean, want_var] = [
            "y",
            "dx",
            "dgamma",
            "dbeta",
            "batch_mean",
            "batch_var_biased",
        ]
        .map(|n| c.output(n).data);
        // The reference itself, in f64, against PyTorch (9 significant digits).
        let (y, mean, var) = reference::forward(&x, s, &gamma, &beta);
        let (dx, dgamma, dbeta) = reference::backward(&x, s, &gamma, &gy);
        for (what, got, want) in [
            ("ref y", &y, &want_y),
            ("ref mean", &mean, &want_mean),
            ("ref var", &var, &want_var),
            ("ref dx", &dx, &want_dx),
            ("ref dgamma", &dgamma, &want_dgamma),
            ("ref dbeta", &dbeta, &want_dbeta),
        ] {
            assert_close(&format!("{name} {what}"), &f(got), want, 1e-6, 1e-7);
        }
        // The GPU, gradients accumulated onto zeros.
        let (x, gamma, beta, gy) = (f(&x), f(&gamma), f(&beta), f(&gy));
        let (zx, zc) = (vec![0.0; s.numel()], vec![0.0; s.c]);
        for b in BLOCKINGS {
            let o = run_bn(b, s, [&x, &gamma, &beta, &gy, &zx, &zc, &zc]);
            let var: Vec<f32> = o.stats[s.c..].iter().map(|r| 1.0 / (r * r) - EPS).collect();
            let name = |t: &str| format!("{name} {b:?} gpu {t}");
            assert_close(&name("y"), &o.y, &want_y, 1e-4, 1e-5);
            assert_close(&name("mean"), &o.stats[..s.c], &want_mean, 1e-4, 1e-6);
            assert_close(&name("var"), &var, &want_var, 1e-4, 1e-6);
            assert_close(&name("dx"), &o.dx, &want_dx, 1e-4, 1e-5);
            assert_close(&name("dgamma"), &o.dgamma, &want_dgamma, 1e-4, 1e-5);
            assert_close(&name("dbeta"), &o.dbeta, &want_dbeta, 1e-4, 1e-5);
        }
    }
}

/// Batch-norm fused with the activation that follows (forward: y and act(y) in one pass;
/// backward: act' applied on the fly) vs the CPU reference of BN then the activation.
#[test]
fn fused_batchnorm_activation_matches_reference() {
    use cloudfill::ops::elementwise::{reference as ew_ref, Act};
    let g = gpu();
    let mut rng = Rng::new(77);
    for (s, act) in [
        (Shape::new(3, 4, 8), Act::LeakyRelu),
        (Shape::new(5, 6, 6), Act::Swish),
        (Shape::new(2, 32, 64), Act::Elu),
        (Shape::new(4, 2, 2), Act::LeakyRelu),
    ] {
        let cs = Shape::flat(s.c);
        let (x, gamma, beta, gya) = (
            rng.vec(s.numel()),
            rng.vec(s.c),
            rng.vec(s.c),
            rng.vec(s.numel()),
        );
        let (dx0, dg0, db0) = (rng.vec(s.numel()), rng.vec(s.c), rng.vec(s.c));
        let (tx, tg, tb, tgya) = (
            upload(s, &x),
            upload(cs, &gamma),
            upload(cs, &beta),
            upload(s, &gya),
        );
        let (tdx, tdg, tdb) = (upload(s, &dx0), upload(cs, &dg0), upload(cs, &db0));
        let (ty, tya) = (Tensor::zeros(g, s).unwrap(), Tensor::zeros(g, s).unwrap());
        let tst = Tensor::zeros(g, Shape::flat(2 * s.c)).unwrap();
        let mut ds = bn::forward_act(g, act, &tx, &tg, &tb, &ty, &tya, &tst).unwrap();
        ds.extend(
            bn::backward_act(g, act, &tx, &tg, &tst, &ty, &tya, &tgya, &tdx, &tdg, &tdb).unwrap(),
        );
        run(&ds);
        let (x64, g64, b64) = (to_f64(&x), to_f64(&gamma), to_f64(&beta));
        let (y, _, _) = reference::forward(&x64, s, &g64, &b64);
        let ya: Vec<f64> = y.iter().map(|&v| ew_ref::act(act, v)).collect();
        let gy: Vec<f64> = y
            .iter()
            .zip(&gya)
            .map(|(&v, &gv)| gv as f64 * ew_ref::act_grad(act, v))
            .collect();
        let (dx, dgm, dbt) = reference::backward(&x64, s, &g64, &gy);
        let plus = |a: &[f64], b: &[f32]| -> Vec<f64> {
            a.iter().zip(b).map(|(a, b)| a + *b as f64).collect()
        };
        let what = |t: &str| format!("{s:?} {act:?} {t}");
        assert_close(&what("y"), &ty.read(g).unwrap(), &y, 1e-4, 1e-5);
        assert_close(&what("act(y)"), &tya.read(g).unwrap(), &ya, 1e-4, 1e-5);
        assert_close(
            &what("dx"),
            &tdx.read(g).unwrap(),
            &plus(&dx, &dx0),
            1e-3,
            1e-4,
        );
        assert_close(
            &what("dgamma"),
            &tdg.read(g).unwrap(),
            &plus(&dgm, &dg0),
            1e-3,
            1e-4,
        );
        assert_close(
            &what("dbeta"),
            &tdb.read(g).unwrap(),
            &plus(&dbt, &db0),
            1e-3,
            1e-4,
        );
    }
    // H·W not a multiple of 4: not fusable, an error rather than wrong numbers.
    let s = Shape::new(2, 3, 3);
    assert!(!bn::fusable(s));
    let t = Tensor::zeros(g, s).unwrap();
    let c = Tensor::zeros(g, Shape::flat(2)).unwrap();
    let st = Tensor::zeros(g, Shape::flat(4)).unwrap();
    assert!(bn::forward_act(g, Act::LeakyRelu, &t, &c, &c, &t, &t, &st).is_err());
}
