//! conv2d kernels vs their CPU reference (fast and simple paths), the reference vs finite
//! differences and vs an explicit ReflectionPad2d, and PyTorch's values.
use crate::common::*;
use crate::golden_conv::CASES;
use cloudfill::gpu::{Dispatch, Shape, Tensor};
use cloudfill::ops::conv2d::{self as cv, reference, Blocks, Conv2d, Padding};

const Z: Padding = Padding::Zero;
const R: Padding = Padding::Reflection;

fn conv(cin: usize, cout: usize, k: usize, stride: usize, padding: Padding) -> Conv2d {
    Conv2d {
        cin,
        cout,
        k,
        stride,
        padding,
        groups: 1,
    }
}

/// Runs all four GPU functions on random data (gradients accumulate onto random values) and
/// compares with the reference. Returns the entry points used, to check which path ran.
fn check(c: Conv2d, h: usize, w: usize, bias: bool, seed: u64, bl: Blocks) -> Vec<&'static str> {
    let g = gpu();
    let what = format!("{c:?} {h}x{w} bias {bias} {bl:?}");
    let xs = Shape::new(c.cin, h, w);
    let ys = c.out_shape(xs).unwrap();
    let mut rng = Rng::new(seed);
    let (x, wt, b, gy) = (
        rng.vec(xs.numel()),
        rng.vec(c.weight_len()),
        rng.vec(c.cout),
        rng.vec(ys.numel()),
    );
    let (dx0, dw0, db0) = (
        rng.vec(xs.numel()),
        rng.vec(c.weight_len()),
        rng.vec(c.cout),
    );
    let (tx, tw, tb, tgy) = (
        upload(xs, &x),
        upload(Shape::flat(wt.len()), &wt),
        upload(Shape::flat(c.cout), &b),
        upload(ys, &gy),
    );
    let ty = Tensor::zeros(g, ys).unwrap();
    let (tdx, tdw, tdb) = (
        upload(xs, &dx0),
        upload(Shape::flat(wt.len()), &dw0),
        upload(Shape::flat(c.cout), &db0),
    );
    let b_opt = bias.then_some(&tb);
    let mut ds: Vec<Dispatch> = cv::forward_with(g, bl, &c, &tx, &tw, b_opt, &ty).unwrap();
    ds.extend(cv::backward_input_with(g, bl, &c, &tgy, &tw, &tdx).unwrap());
    ds.extend(cv::backward_weight_with(g, bl, &c, &tx, &tgy, &tdw).unwrap());
    ds.extend(cv::backward_bias_with(g, bl, &c, &tgy, &tdb).unwrap());
    run(&ds);

    let (x, wt, b, gy) = (to_f64(&x), to_f64(&wt), to_f64(&b), to_f64(&gy));
    let y = reference::forward(&c, &x, xs, &wt, bias.then_some(&b[..]));
    let (dx, dw, db) = reference::backward(&c, &x, xs, &wt, &gy);
    let plus = |a: Vec<f64>, b: &[f32]| -> Vec<f64> {
        a.iter().zip(b).map(|(a, &b)| a + b as f64).collect()
    };
    // Absolute floors from the number of summed terms (each |term| <= 4): f32 rounding of sums
    // that cancel. Wrong indexing gives O(1) errors.
    let taps = (c.cin * c.k * c.k) as f64;
    assert_close(
        &format!("{what} y"),
        &ty.read(g).unwrap(),
        &y,
        1e-4,
        1e-6 * taps * 4.0,
    );
    let fan = (c.cout * c.k * c.k) as f64;
    let dxw = plus(dx, &dx0);
    assert_close(
        &format!("{what} dx"),
        &tdx.read(g).unwrap(),
        &dxw,
        1e-4,
        1e-6 * fan * 4.0,
    );
    let px = ys.hw() as f64;
    let dww = plus(dw, &dw0);
    assert_close(
        &format!("{what} dw"),
        &tdw.read(g).unwrap(),
        &dww,
        1e-4,
        1e-6 * px * 4.0,
    );
    let dbw = plus(db, &db0);
    assert_close(
        &format!("{what} db"),
        &tdb.read(g).unwrap(),
        &dbw,
        1e-4,
        1e-6 * px * 2.0,
    );
    ds.iter().map(|d| d.entry()).collect()
}

#[test]
fn simple_path_matches_reference() {
    let cases = [
        (conv(3, 4, 3, 1, Z), 11, 13, true),
        (conv(4, 5, 5, 2, R), 13, 9, false),
        (conv(3, 3, 1, 2, Z), 9, 10, true),
        (conv(5, 4, 3, 2, R), 12, 15, true),
        (conv(3, 5, 5, 1, R), 10, 14, true),
        (conv(4, 3, 1, 1, R), 9, 11, false),
        (conv(3, 4, 3, 2, Z), 16, 14, false), // W % 4 != 0 after striding
        (conv(3, 2, 3, 1, R), 2, 2, true),    // the 2×2 level
        (conv(2, 3, 7, 1, Z), 9, 12, true),   // k = 7: beyond the fast kernels
    ];
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 100 + i as u64, Blocks::for_gpu(gpu()));
        assert!(entries.contains(&"cv_fwd_s"), "{c:?} {h}x{w}: {entries:?}");
        assert!(!entries.contains(&"cv_fwd"), "{c:?} {h}x{w}: {entries:?}");
    }
}

#[test]
fn fast_path_matches_reference() {
    let cases = [
        (conv(3, 5, 3, 1, Z), 10, 16, true),
        (conv(4, 9, 5, 1, R), 9, 16, true), // 9 output channels: a partial channel block
        (conv(3, 4, 3, 2, Z), 11, 16, false),
        (conv(5, 3, 3, 2, R), 10, 16, true),
        (conv(3, 4, 1, 1, Z), 9, 16, true),
        (conv(2, 3, 1, 2, R), 16, 16, false),
        (conv(3, 4, 5, 2, Z), 13, 16, true),
        (conv(4, 3, 5, 2, R), 9, 16, true),
        (conv(3, 4, 3, 1, R), 9, 12, true), // Wo % 8 = 4: one vec4 per block
        (conv(3, 4, 3, 2, Z), 9, 8, true),  // stride 2, Wo = 4
        (conv(5, 12, 3, 1, Z), 5, 4, true), // 4 wide: both edges in one block
        (conv(12, 5, 3, 2, R), 10, 8, false),
    ];
    // The portable kernels, also where the adapter would take the subgroup ones.
    let bl = Blocks {
        sg: false,
        ..Blocks::for_gpu(gpu())
    };
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 200 + i as u64, bl);
        assert!(entries.contains(&"cv_fwd"), "{c:?} {h}x{w}: {entries:?}");
        assert!(entries.contains(&"cv_bw"), "{c:?} {h}x{w}: {entries:?}");
        let dx = if c.stride == 1 { "cv_fwd" } else { "cv_bin2" };
        let uses = 1 + (c.stride == 1) as usize; // forward, and dx of stride 1
        assert!(entries.iter().filter(|e| **e == dx).count() >= uses);
    }
}

/// The subgroup kernels (`conv2d_sg.wgsl`) where the adapter has subgroups of 8 (lavapipe): forward,
/// dx (stride 2: cv_bin2_sg) and dw take them, and are checked against the reference with odd channel counts
/// (partial channel blocks), heights that are not whole row blocks, k 1/3/5, stride 1/2, zero
/// and reflection padding, bias on and off. Elsewhere the same cases must take the other paths.
#[test]
fn subgroup_path_matches_reference() {
    let g = gpu();
    let on = g.is_cpu() && g.subgroup_size() == Some(8);
    let bl = Blocks {
        sg: true,
        ..Blocks::for_gpu(g)
    };
    assert_eq!(
        Blocks::for_gpu(g).sg,
        on,
        "CPU adapters with subgroups of 8 take it by default"
    );
    if g.info.name.contains("llvmpipe") && std::env::var_os("CLOUDFILL_NO_SUBGROUPS").is_none() {
        assert!(on, "lavapipe has subgroups of 8: {:?}", g.features);
    }
    let cases = [
        (conv(3, 5, 3, 1, Z), 10, 16, true),
        (conv(5, 9, 3, 1, R), 9, 24, false),
        (conv(7, 3, 5, 1, Z), 13, 16, true),
        (conv(4, 11, 5, 1, R), 7, 8, true), // Wo = 8: one block per row, 2 rows in the last
        (conv(9, 7, 1, 1, Z), 6, 16, false),
        (conv(3, 17, 1, 1, R), 5, 32, true),
        (conv(5, 7, 3, 2, Z), 15, 16, true), // dx of stride 2: cv_bin2_sg
        (conv(3, 9, 3, 2, R), 12, 32, false),
        (conv(6, 5, 5, 2, Z), 11, 16, true),
        (conv(5, 3, 5, 2, R), 16, 48, false),
        (conv(3, 6, 1, 2, Z), 9, 16, true),
        (conv(13, 19, 3, 1, Z), 18, 40, true), // 5 x blocks, 3 channel blocks
        (conv(19, 13, 3, 1, R), 4, 64, false), // a wide row: one subgroup spans 8 x blocks
    ];
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 400 + i as u64, bl);
        let sg = |e: &&&str| e.starts_with("cv_fwd_sg_");
        let want = if on { 1 + (c.stride == 1) as usize } else { 0 };
        if on && c.stride == 2 {
            let name = format!("cv_bin2_sg_k{}", c.k);
            assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
        }
        assert_eq!(
            entries.iter().filter(sg).count(),
            want,
            "{c:?} {h}x{w}: {entries:?}"
        );
        if on {
            let name = format!("cv_fwd_sg_k{}_s{}", c.k, c.stride);
            assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
            let name = format!("cv_bw_sg_k{}_s{}", c.k, c.stride);
            assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
        }
    }
    // Small dw chunks (several 4-row chunks, a short last one).
    let small = Blocks { target: 7, ..bl };
    for (i, (c, h, w)) in [
        (conv(3, 9, 3, 1, R), 13, 16),
        (conv(10, 5, 5, 2, Z), 21, 16),
    ]
    .into_iter()
    .enumerate()
    {
        let entries = check(c, h, w, false, 450 + i as u64, small);
        let want = if on { 3 } else { 0 };
        let n = entries.iter().filter(|e| e.contains("_sg_")).count();
        assert_eq!(n, want, "{c:?} {h}x{w}: {entries:?}");
    }
    // Shapes the subgroup kernels do not cover fall back: Wo = 4 (the 4×4 level), k = 7.
    let entries = check(conv(5, 6, 3, 1, R), 4, 4, true, 500, bl);
    assert!(entries.contains(&"cv_fwd"), "{entries:?}");
    assert!(!entries.iter().any(|e| e.contains("_sg_")), "{entries:?}");
    // Stride 2 from 8 wide: forward and dw (Wo = 4) portable, dx (W = 8) subgroup.
    let entries = check(conv(3, 4, 3, 2, Z), 8, 8, true, 502, bl);
    assert!(
        entries.contains(&"cv_fwd") && entries.contains(&"cv_bw"),
        "{entries:?}"
    );
    assert_eq!(entries.contains(&"cv_bin2_sg_k3"), on, "{entries:?}");
    let entries = check(conv(2, 3, 7, 1, Z), 9, 16, true, 501, bl);
    assert!(entries.contains(&"cv_fwd_s"), "{entries:?}");
}

/// The other adapter kind's blocking (lavapipe runs the GPU table here, a GPU the CPU table),
/// and small partial-sum chunks.
#[test]
fn fast_path_with_other_blocks_matches_reference() {
    let other = if gpu().is_cpu() {
        Blocks::GPU
    } else {
        Blocks::CPU
    };
    let bl = Blocks { target: 7, ..other };
    let cases = [
        (conv(3, 5, 3, 1, R), 10, 16, true),
        (conv(5, 6, 5, 2, Z), 9, 16, false),
        (conv(4, 3, 1, 1, Z), 11, 8, true),
    ];
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 300 + i as u64, bl);
        assert!(entries.contains(&"cv_fwd"), "{c:?} {h}x{w}: {entries:?}");
    }
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
    let mut rng = Rng::new(5);
    for (c, h, w) in cases {
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
    for case in CASES {
        let c = conv(case.cin, case.cout, case.k, case.stride, Z);
        let xs = Shape::new(case.cin, case.h, case.w);
        let ys = c.out_shape(xs).unwrap();
        assert_eq!(ys.numel(), case.y.len(), "{}", case.name);
        let (tx, tw) = (
            upload(xs, case.x),
            upload(Shape::flat(case.wt.len()), case.wt),
        );
        let (tb, tgy) = (upload(Shape::flat(case.cout), case.b), upload(ys, case.gy));
        let ty = Tensor::zeros(g, ys).unwrap();
        let tdx = Tensor::zeros(g, xs).unwrap();
        let tdw = Tensor::zeros(g, Shape::flat(case.wt.len())).unwrap();
        let tdb = Tensor::zeros(g, Shape::flat(case.cout)).unwrap();
        let mut ds = cv::forward(g, &c, &tx, &tw, Some(&tb), &ty).unwrap();
        ds.extend(cv::backward_input(g, &c, &tgy, &tw, &tdx).unwrap());
        ds.extend(cv::backward_weight(g, &c, &tx, &tgy, &tdw).unwrap());
        ds.extend(cv::backward_bias(g, &c, &tgy, &tdb).unwrap());
        run(&ds);
        let n = case.name;
        assert_close(
            &format!("{n} y"),
            &ty.read(g).unwrap(),
            &to_f64(case.y),
            1e-4,
            1e-5,
        );
        assert_close(
            &format!("{n} dx"),
            &tdx.read(g).unwrap(),
            &to_f64(case.dx),
            1e-4,
            1e-5,
        );
        assert_close(
            &format!("{n} dw"),
            &tdw.read(g).unwrap(),
            &to_f64(case.dw),
            1e-4,
            1e-5,
        );
        assert_close(
            &format!("{n} db"),
            &tdb.read(g).unwrap(),
            &to_f64(case.db),
            1e-4,
            1e-5,
        );
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
}
