//! PyTorch golden values for conv2d (tests/it/golden: `ops.json` from
//! ../shared/golden/golden_ops.json, `conv_large.json` from `make_conv_large.py`; torch 2.15,
//! float64 from float32-representable inputs). Each case: `y = F.conv2d(x, w, b, stride,
//! padding)` (padding_mode zeros, N = 1), then `y.backward(gy)`: dx, dw, db are gradients of
//! sum(y * gy). Shapes: x [cin,h,w], w [cout,cin,k,k].
use crate::common::*;
use crate::golden;
use cloudfill::gpu::{Dispatch, Shape, Tensor};
use cloudfill::ops::conv2d::{self as cv, Blocks, Conv2d, Padding};

/// The small, odd-sized cases of golden_ops.json (the scalar kernels).
const NAMES: &[&str] = &[
    "conv3x3_s1_p1",
    "conv3x3_s2_p1_odd",
    "conv3x3_s2_p1_even",
    "conv5x5_s1_p2",
    "conv1x1",
];

/// A golden case: name, cin, h, w, cout, k, stride, then x, wt (the weights), b, gy, y, dx,
/// dw, db.
pub struct Case {
    pub name: &'static str,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub x: Vec<f32>,
    pub wt: Vec<f32>,
    pub b: Vec<f32>,
    pub gy: Vec<f32>,
    pub y: Vec<f32>,
    pub dx: Vec<f32>,
    pub dw: Vec<f32>,
    pub db: Vec<f32>,
}

impl Case {
    /// The golden conv2d case `name` (same padding (k − 1)/2 with zeros, as every case here).
    pub fn load(name: &'static str) -> Case {
        let c = golden::case(name);
        assert_eq!(c.op, "conv2d", "{name}");
        let (x, wt) = (c.input("x"), c.input("w"));
        let xs = x.chw();
        let [cout, cin, k, k2] = wt.shape[..] else {
            panic!("{name}: weights of shape {:?}", wt.shape)
        };
        assert_eq!((cin, k2), (xs.c, k), "{name}: weights {:?}", wt.shape);
        assert_eq!(c.param_usize("kernel"), k, "{name}");
        assert_eq!(c.param_usize("padding"), (k - 1) / 2, "{name}");
        assert_eq!(c.param_str("padding_mode"), "zeros", "{name}");
        Case {
            name,
            cin,
            h: xs.h,
            w: xs.w,
            cout,
            k,
            stride: c.param_usize("stride"),
            x: x.f32(),
            wt: wt.f32(),
            b: c.input("b").f32(),
            gy: c.input("gy").f32(),
            y: c.output("y").f32(),
            dx: c.output("dx").f32(),
            dw: c.output("dw").f32(),
            db: c.output("db").f32(),
        }
    }
}

/// The small cases (conv2d.rs `pytorch_golden_cases`).
pub fn cases() -> Vec<Case> {
    NAMES.iter().map(|&n| Case::load(n)).collect()
}

/// The large cases of `conv_large.json`: whole vec4 rows (W % 4 = 0, Wo % 4 = 0, W = stride·Wo)
/// with Wo % 8 = 0 and k = 3, so forward, dx and dw take the subgroup kernels
/// (`conv2d_sg.wgsl`) where [`Blocks::for_gpu`] picks them (CPU adapters with subgroups of 8:
/// lavapipe; stride-2 dx needs W % 8 = 0) and the register-blocked vec4 kernels elsewhere.
const LARGE: &[&str] = &["conv3x3_s1_p1_16to16_32x32", "conv3x3_s2_p1_8to16_32x32"];

/// The large cases through `cv::forward` / `backward_input` / `backward_weight` /
/// `backward_bias` with the adapter's default blocks, and the path they took.
#[test]
fn pytorch_golden_large_cases_take_the_fast_paths() {
    let g = gpu();
    let sg = Blocks::for_gpu(g).sg;
    assert_eq!(sg, g.is_cpu() && g.subgroup_size() == Some(8));
    if is_lavapipe(g) && std::env::var_os("CLOUDFILL_NO_SUBGROUPS").is_none() {
        assert!(sg, "lavapipe has subgroups of 8: {:?}", g.features());
    }
    for &name in LARGE {
        let case = Case::load(name);
        let c = Conv2d::new(case.cin, case.cout, case.k, case.stride, Padding::Zero);
        let xs = Shape::new(case.cin, case.h, case.w);
        let ys = c.out_shape(xs).unwrap();
        assert_eq!(ys.numel(), case.y.len(), "{name}");
        // The shapes the vec4 and subgroup kernels cover (src/ops/conv2d's path checks).
        assert!(xs.w % 4 == 0 && ys.w % 8 == 0 && xs.w == case.stride * ys.w && case.k == 3);
        let flat = |v: &[f32]| upload(Shape::flat(v.len()), v);
        let (tx, tw, tb, tgy) = (
            upload(xs, &case.x),
            flat(&case.wt),
            flat(&case.b),
            upload(ys, &case.gy),
        );
        let ty = Tensor::zeros(g, ys).unwrap();
        let tdx = Tensor::zeros(g, xs).unwrap();
        let tdw = Tensor::zeros(g, Shape::flat(case.wt.len())).unwrap();
        let tdb = Tensor::zeros(g, Shape::flat(case.cout)).unwrap();
        let steps: [(&str, Vec<Dispatch>); 4] = [
            (
                "forward",
                cv::forward(g, &c, &tx, &tw, Some(&tb), &ty).unwrap(),
            ),
            (
                "backward_input",
                cv::backward_input(g, &c, &tgy, &tw, &tdx).unwrap(),
            ),
            (
                "backward_weight",
                cv::backward_weight(g, &c, &tx, &tgy, &tdw).unwrap(),
            ),
            (
                "backward_bias",
                cv::backward_bias(g, &c, &tgy, &tdb).unwrap(),
            ),
        ];
        // Forward, dx and dw take a subgroup kernel (every one's entry point has `_sg_`) exactly
        // where the adapter's blocks pick them; the bias gradient has no subgroup kernel.
        for (what, ds) in &steps[..3] {
            let entries: Vec<&str> = ds.iter().map(|d| d.entry()).collect();
            let on = entries.iter().any(|e| e.contains("_sg_"));
            assert_eq!(on, sg, "{name} {what}: {entries:?}");
        }
        g.run(steps.iter().flat_map(|(_, ds)| ds)).unwrap();
        // Tolerances: each y is a sum of Cin·k·k = 72…144 terms x·w (|x| ≲ 4.5, |w| ≤
        // 1/sqrt(Cin·k·k)), each dx one of ≤ Cout·k·k = 144 terms gy·w, each dw one of Ho·Wo =
        // 256…1024 terms x·gy (|dw| up to ~110), each db one of Ho·Wo terms gy. f32 sums of n
        // terms carry rounding errors of ~n·2⁻²⁴·Σ|term| at worst (√n typically), so the
        // relative bound 1e-4 of the small cases holds, with absolute floors of 1e-6 per summed
        // term (× the terms' size) for outputs that cancel to near zero. Wrong indexing or a
        // missed tap gives O(0.1…1) errors; lavapipe's largest errors are < 1% of these bounds.
        let taps = (case.cin * case.k * case.k) as f64;
        let fan = (case.cout * case.k * case.k) as f64;
        let px = ys.hw() as f64;
        for (what, t, want, abs) in [
            ("y", &ty, &case.y, 1e-6 * taps),
            ("dx", &tdx, &case.dx, 1e-6 * fan),
            ("dw", &tdw, &case.dw, 1e-6 * px * 4.0),
            ("db", &tdb, &case.db, 1e-6 * px * 2.0),
        ] {
            let got = t.read(g).unwrap();
            assert_close(&format!("{name} {what}"), &got, &to_f64(want), 1e-4, abs);
        }
    }
}
