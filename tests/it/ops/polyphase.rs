//! Polyphase up-convolution: the algebra against the plain path (upsample, then conv) on the CPU,
//! the GPU kernels against the CPU reference, finite differences of the reference's backward,
//! and a whole network with and without the polyphase form.
use crate::common::*;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::net::NetConfig;
use cloudfill::ops::adam::AdamConfig;
use cloudfill::ops::conv2d::{self, reference as conv_ref, Conv2d, Padding};
use cloudfill::ops::polyphase::{self, reference as pp_ref};
use cloudfill::ops::resample::{reference as rs_ref, Upsample};
use cloudfill::plan::{Plan, StepConfig};

fn up_conv(cin: usize, cout: usize, k: usize) -> Conv2d {
    Conv2d {
        cin,
        cout,
        k,
        stride: 1,
        padding: Padding::Zero,
        groups: 1,
    }
}

fn up(x: &[f64], s: Shape) -> Vec<f64> {
    rs_ref::upsample_forward(Upsample::Nearest, x, s)
}

fn hi(s: Shape) -> Shape {
    Shape::new(s.c, 2 * s.h, 2 * s.w)
}

fn rand64(rng: &mut Rng, n: usize) -> Vec<f64> {
    to_f64(&rng.vec(n))
}

/// Exactness of the algebra: conv(upsample(x)) and its gradients, both ways, in f64.
#[test]
fn polyphase_equals_upsample_then_conv_on_cpu() {
    let mut rng = Rng::new(41);
    for (c, s) in [
        (up_conv(3, 5, 5), Shape::new(3, 5, 7)),
        (up_conv(2, 3, 7), Shape::new(2, 4, 3)),
        (up_conv(4, 2, 5), Shape::new(4, 1, 2)),
    ] {
        let (x, w, b) = (
            rand64(&mut rng, s.numel()),
            rand64(&mut rng, c.weight_len()),
            rand64(&mut rng, c.cout),
        );
        let plain = conv_ref::forward(&c, &up(&x, s), hi(s), &w, Some(&b));
        let poly = pp_ref::forward(&c, &x, s, &w, Some(&b));
        assert_eq!(plain.len(), poly.len());
        for (i, (a, p)) in plain.iter().zip(&poly).enumerate() {
            assert!((a - p).abs() < 1e-12, "{c:?} y[{i}]: {a} vs {p}");
        }
        let gy = rand64(&mut rng, plain.len());
        let (dxh, dw, db) = conv_ref::backward(&c, &up(&x, s), hi(s), &w, &gy);
        let dx = rs_ref::upsample_backward(Upsample::Nearest, &dxh, s);
        let (pdx, pdw, pdb) = pp_ref::backward(&c, &x, s, &w, &gy);
        for (what, a, p) in [("dx", dx, pdx), ("dw", dw, pdw), ("db", db, pdb)] {
            for (i, (a, p)) in a.iter().zip(&p).enumerate() {
                assert!((a - p).abs() < 1e-10, "{c:?} {what}[{i}]: {a} vs {p}");
            }
        }
    }
}

/// The reference backward against central finite differences of L = Σ y·gy.
#[test]
fn polyphase_reference_backward_matches_finite_differences() {
    let mut rng = Rng::new(42);
    let (c, s) = (up_conv(2, 3, 5), Shape::new(2, 3, 4));
    let (x, w, b) = (
        rand64(&mut rng, s.numel()),
        rand64(&mut rng, c.weight_len()),
        rand64(&mut rng, c.cout),
    );
    let gy = rand64(&mut rng, c.cout * 4 * s.hw());
    let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
        let y = pp_ref::forward(&c, x, s, w, Some(b));
        y.iter().zip(&gy).map(|(a, g)| a * g).sum()
    };
    let (dx, dw, db) = pp_ref::backward(&c, &x, s, &w, &gy);
    let fx = finite_diff(&|v| loss(v, &w, &b), &x, 1e-5);
    let fw = finite_diff(&|v| loss(&x, v, &b), &w, 1e-5);
    let fb = finite_diff(&|v| loss(&x, &w, v), &b, 1e-5);
    for (what, a, f) in [("dx", dx, fx), ("dw", dw, fw), ("db", db, fb)] {
        for (i, (a, f)) in a.iter().zip(&f).enumerate() {
            assert!(
                (a - f).abs() < 1e-6 * (1.0 + f.abs()),
                "{what}[{i}]: {a} vs {f}"
            );
        }
    }
}

/// GPU kernels (phase weights, phase conv, shuffle; unshuffle, conv backward, weight scatter)
/// against the CPU reference, on the scalar and the fast conv paths, with and without bias.
#[test]
fn polyphase_gpu_matches_reference() {
    let g = gpu();
    let mut rng = Rng::new(43);
    for (i, (c, s, bias)) in [
        (up_conv(3, 5, 5), Shape::new(3, 5, 7), true),
        (up_conv(6, 3, 5), Shape::new(6, 8, 8), false),
        (up_conv(2, 4, 7), Shape::new(2, 4, 12), true),
    ]
    .into_iter()
    .enumerate()
    {
        let what = |t: &str| format!("case {i} {c:?} {t}");
        let pc = polyphase::phase_conv(&c);
        let (x, w, b) = (rng.vec(s.numel()), rng.vec(c.weight_len()), rng.vec(c.cout));
        let gy = rng.vec(c.cout * 4 * s.hw());
        let ys = Shape::new(c.cout, 2 * s.h, 2 * s.w);
        let (xt, wt, bt) = (
            upload(s, &x),
            upload(Shape::flat(w.len()), &w),
            upload(Shape::flat(b.len()), &b),
        );
        let wp = Tensor::zeros(g, Shape::flat(pc.weight_len())).unwrap();
        let p4 = Tensor::zeros(g, polyphase::phase_shape(&c, s)).unwrap();
        let y = Tensor::zeros(g, ys).unwrap();
        let mut ds = vec![polyphase::weights(g, &c, &wt, &wp).unwrap()];
        ds.extend(conv2d::forward(g, &pc, &xt, &wp, None, &p4).unwrap());
        ds.push(polyphase::shuffle(g, &c, &p4, bias.then_some(&bt), &y).unwrap());
        run(&ds);
        let (x64, w64, b64) = (to_f64(&x), to_f64(&w), to_f64(&b));
        let want = pp_ref::forward(&c, &x64, s, &w64, bias.then_some(&b64[..]));
        assert_close(&what("y"), &y.read(g).unwrap(), &want, 1e-4, 1e-4);
        let want_wp = pp_ref::weights(&c, &w64);
        assert_close(&what("wp"), &wp.read(g).unwrap(), &want_wp, 1e-5, 1e-5);

        // Backward; dx and dw start non-zero to show the kernels accumulate.
        let (dx0, dw0) = (rng.vec(s.numel()), rng.vec(c.weight_len()));
        let gyt = upload(ys, &gy);
        let gp = Tensor::zeros(g, p4.shape).unwrap();
        let dwp = Tensor::zeros(g, wp.shape).unwrap();
        let dx = upload(s, &dx0);
        let dw = upload(wt.shape, &dw0);
        let db = Tensor::zeros(g, bt.shape).unwrap();
        let mut ds = vec![polyphase::unshuffle(g, &c, &gyt, &gp).unwrap()];
        ds.extend(conv2d::backward_input(g, &pc, &gp, &wp, &dx).unwrap());
        ds.extend(conv2d::backward_weight(g, &pc, &xt, &gp, &dwp).unwrap());
        ds.push(polyphase::weights_backward(g, &c, &dwp, &dw).unwrap());
        ds.extend(conv2d::backward_bias(g, &c, &gyt, &db).unwrap());
        run(&ds);
        let (rdx, rdw, rdb) = pp_ref::backward(&c, &x64, s, &w64, &to_f64(&gy));
        let plus = |a: Vec<f64>, b0: &[f32]| -> Vec<f64> {
            a.iter().zip(b0).map(|(a, b)| a + *b as f64).collect()
        };
        assert_close(
            &what("gP"),
            &gp.read(g).unwrap(),
            &pp_ref::unshuffle(c.cout, s, &to_f64(&gy)),
            0.0,
            0.0,
        );
        assert_close(
            &what("dx"),
            &dx.read(g).unwrap(),
            &plus(rdx, &dx0),
            1e-4,
            1e-3,
        );
        assert_close(
            &what("dw"),
            &dw.read(g).unwrap(),
            &plus(rdw, &dw0),
            1e-4,
            1e-3,
        );
        assert_close(&what("db"), &db.read(g).unwrap(), &rdb, 1e-4, 1e-3);
    }
}

/// Bad uses are errors, not wrong numbers.
#[test]
fn polyphase_refuses_what_it_cannot_do_exactly() {
    let mut c = up_conv(2, 2, 5);
    assert!(polyphase::eligible(&c));
    c.padding = Padding::Reflection;
    assert!(!polyphase::eligible(&c));
    assert!(!polyphase::eligible(&up_conv(2, 2, 3)));
    let g = gpu();
    let w = Tensor::zeros(g, Shape::flat(c.weight_len())).unwrap();
    let wp = Tensor::zeros(g, Shape::flat(polyphase::phase_conv(&c).weight_len())).unwrap();
    assert!(polyphase::weights(g, &c, &w, &wp).is_err());
    let mut tape = cloudfill::tape::Tape::new();
    let x = tape.input(Shape::new(2, 4, 4));
    assert!(tape.up_conv("u", x, c, true).is_err());
}

/// A whole network (3 levels, the default options) with and without the polyphase form: the same
/// parameter set, and the same loss, output and gradients up to f32 rounding.
#[test]
fn network_with_polyphase_equals_plain_network() {
    let g = gpu();
    let (h, w, ch) = (32, 32, 3);
    let data = ProblemData::random(&mut Rng::new(44), h, w, ch, 0.3);
    let problem = data.problem_seeded(3);
    let cfg = StepConfig {
        adam: AdamConfig::default(),
        noise_std: 0.0,
        conv_blocks: None,
    };
    let poly = NetConfig::with_levels(3);
    let plain = NetConfig {
        polyphase: false,
        ..poly.clone()
    };
    let a = Plan::new(g, &poly, &problem, cfg).unwrap();
    let b = Plan::new(g, &plain, &problem, cfg).unwrap();
    let names =
        |p: &Plan| -> Vec<String> { p.tape.params.iter().map(|q| q.name.clone()).collect() };
    assert_eq!(names(&a), names(&b), "same parameters in the same order");
    let ups = |p: &Plan| {
        p.tape
            .ops
            .iter()
            .filter(|op| matches!(op, cloudfill::tape::Op::UpConv { .. }))
            .count()
    };
    assert_eq!(
        (ups(&a), ups(&b)),
        (3, 0),
        "every level's up-conv is polyphase"
    );
    b.compiled
        .params
        .all()
        .write(g, &a.compiled.params.all().read(g).unwrap())
        .unwrap();
    let (la, lb) = (a.gradient().unwrap(), b.gradient().unwrap());
    assert!((la - lb).abs() <= 1e-5 * lb.abs(), "loss {la} vs {lb}");
    let ya = a.compiled.values[a.output.0].read(g).unwrap();
    let yb = b.compiled.values[b.output.0].read(g).unwrap();
    assert_close("output", &ya, &to_f64(&yb), 1e-4, 1e-5);
    for q in &a.tape.params {
        let ga = a.read_grad(&q.name).unwrap();
        let gb = b.read_grad(&q.name).unwrap();
        let scale = gb.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
        assert_close(
            &format!("grad {}", q.name),
            &ga,
            &to_f64(&gb),
            2e-3,
            1e-4 * scale + 1e-7,
        );
    }
}

/// Grouped up-convolutions (G side by side, as a batch of networks runs them): the phase-weight,
/// weight-scatter and shuffle kernels against the reference applied to each group's slice.
#[test]
fn grouped_polyphase_kernels_match_the_reference_per_group() {
    let g = gpu();
    let mut rng = Rng::new(45);
    for (c1, s1, groups) in [
        (up_conv(3, 5, 5), Shape::new(3, 5, 7), 2),
        (up_conv(2, 4, 7), Shape::new(2, 4, 6), 3),
    ] {
        let c = c1.batched(groups);
        let s = Shape::new(groups * s1.c, s1.h, s1.w);
        let (pc, pc1) = (polyphase::phase_conv(&c), polyphase::phase_conv(&c1));
        assert_eq!(pc.groups, groups);
        let what = |t: &str| format!("{groups} groups of {c1:?}: {t}");
        let (w, b) = (rng.vec(c.weight_len()), rng.vec(c.cout));
        let p4 = rng.vec(polyphase::phase_shape(&c, s).numel());
        let ys = Shape::new(c.cout, 2 * s.h, 2 * s.w);
        let gy = rng.vec(ys.numel());
        let dwp = rng.vec(pc.weight_len());
        let dw0 = rng.vec(c.weight_len());
        let (wt, bt) = (
            upload(Shape::flat(w.len()), &w),
            upload(Shape::flat(b.len()), &b),
        );
        let p4t = upload(polyphase::phase_shape(&c, s), &p4);
        let (gyt, dwpt) = (upload(ys, &gy), upload(Shape::flat(dwp.len()), &dwp));
        let dwt = upload(Shape::flat(dw0.len()), &dw0);
        let wp = Tensor::zeros(g, Shape::flat(pc.weight_len())).unwrap();
        let y = Tensor::zeros(g, ys).unwrap();
        let gp = Tensor::zeros(g, p4t.shape).unwrap();
        run(&[
            polyphase::weights(g, &c, &wt, &wp).unwrap(),
            polyphase::shuffle(g, &c, &p4t, Some(&bt), &y).unwrap(),
            polyphase::unshuffle(g, &c, &gyt, &gp).unwrap(),
            polyphase::weights_backward(g, &c, &dwpt, &dwt).unwrap(),
        ]);
        // Each group's slice through the ungrouped reference.
        let slices =
            |v: &[f32], n: usize| -> Vec<Vec<f64>> { v.chunks(n).map(to_f64).collect::<Vec<_>>() };
        let (wl, pl, yl) = (
            c1.weight_len(),
            4 * c1.cout * s1.hw(),
            c1.cout * 4 * s1.hw(),
        );
        let mut want = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let bs = slices(&b, c1.cout);
        for (k, ((wk, pk), gk)) in slices(&w, wl)
            .iter()
            .zip(slices(&p4, pl))
            .zip(slices(&gy, yl))
            .enumerate()
        {
            want.0.extend(pp_ref::weights(&c1, wk));
            want.1
                .extend(pp_ref::shuffle(c1.cout, s1, &pk, Some(&bs[k])));
            want.2.extend(pp_ref::unshuffle(c1.cout, s1, &gk));
            let dwk = &dwp[k * pc1.weight_len()..(k + 1) * pc1.weight_len()];
            want.3.extend(pp_ref::weights_backward(&c1, &to_f64(dwk)));
        }
        let dw_want: Vec<f64> = want
            .3
            .iter()
            .zip(&dw0)
            .map(|(a, b)| a + *b as f64)
            .collect();
        assert_close(&what("wp"), &wp.read(g).unwrap(), &want.0, 1e-5, 1e-5);
        assert_close(&what("y"), &y.read(g).unwrap(), &want.1, 1e-6, 1e-6);
        assert_close(&what("gP"), &gp.read(g).unwrap(), &want.2, 0.0, 0.0);
        assert_close(&what("dw"), &dwt.read(g).unwrap(), &dw_want, 1e-5, 1e-5);
        // The grouped reference is the per-group reference.
        let x = rand64(&mut rng, s.numel());
        let fw = pp_ref::forward(&c, &x, s, &to_f64(&w), Some(&to_f64(&b)));
        let xl = s1.numel();
        for k in 0..groups {
            let one = pp_ref::forward(
                &c1,
                &x[k * xl..(k + 1) * xl],
                s1,
                &to_f64(&w[k * wl..(k + 1) * wl]),
                Some(&bs[k]),
            );
            assert_eq!(&fw[k * yl..(k + 1) * yl], &one[..], "{}", what("reference"));
        }
    }
}
