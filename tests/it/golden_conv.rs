//! PyTorch golden values for conv2d (tests/it/golden: `ops.json` from
//! ../shared/golden/golden_ops.json; torch 2.15, float64 from float32-representable inputs).
//! Each case: `y = F.conv2d(x, w, b, stride, padding)` (padding_mode zeros, N = 1), then
//! `y.backward(gy)`: dx, dw, db are gradients of sum(y * gy). Shapes: x [cin,h,w],
//! w [cout,cin,k,k].
use crate::golden;

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
