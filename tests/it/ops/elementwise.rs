//! Elementwise kernels vs their CPU reference; references vs finite differences; PyTorch values.
use crate::common::*;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::elementwise::{self as ew, reference, Act};

const ACTS: [Act; 5] = [
    Act::None,
    Act::LeakyRelu,
    Act::Swish,
    Act::Elu,
    Act::Sigmoid,
];

#[test]
fn activations_forward_and_backward_match_reference() {
    let g = gpu();
    let shape = Shape::new(3, 11, 13); // 429 elements: not a multiple of 4
    let mut rng = Rng::new(7);
    for act in ACTS {
        let x = rng.vec(shape.numel());
        let gy = rng.vec(shape.numel());
        let dx0 = rng.vec(shape.numel()); // backward accumulates into what is there
        let (tx, ty) = (upload(shape, &x), Tensor::zeros(g, shape).unwrap());
        let (tgy, tdx) = (upload(shape, &gy), upload(shape, &dx0));
        run(&[
            ew::act_forward(g, act, &tx, &ty).unwrap(),
            ew::act_backward(g, act, &tx, &ty, &tgy, &tdx).unwrap(),
        ]);
        let want_y: Vec<f64> = x.iter().map(|&v| reference::act(act, v as f64)).collect();
        let want_dx: Vec<f64> = (0..x.len())
            .map(|i| dx0[i] as f64 + gy[i] as f64 * reference::act_grad(act, x[i] as f64))
            .collect();
        assert_close(
            &format!("{act:?} y"),
            &ty.read(g).unwrap(),
            &want_y,
            1e-5,
            1e-6,
        );
        assert_close(
            &format!("{act:?} dx"),
            &tdx.read(g).unwrap(),
            &want_dx,
            1e-5,
            1e-6,
        );
    }
}

#[test]
fn activation_reference_gradients_match_finite_differences() {
    let mut rng = Rng::new(11);
    for act in ACTS {
        for _ in 0..50 {
            let mut x = rng.uniform(-2.0, 2.0) as f64;
            if x.abs() < 1e-3 {
                x += 0.01; // the kink of LeakyReLU/ELU
            }
            let fd = finite_diff(&|v: &[f64]| reference::act(act, v[0]), &[x], 1e-6)[0];
            let an = reference::act_grad(act, x);
            assert!((fd - an).abs() < 1e-6, "{act:?} at {x}: fd {fd} vs {an}");
        }
    }
}

/// torch.nn.functional.leaky_relu(x, 0.2) and torch.sigmoid on the `leaky_relu_0.2` / `sigmoid`
/// golden cases (tests/it/golden): `y = F.leaky_relu(x, 0.2); y.backward(gy)`,
/// `y = torch.sigmoid(x); y.backward(gy)`.
#[test]
fn pytorch_values_leaky_relu_and_sigmoid() {
    let g = gpu();
    for (act, name) in [
        (Act::LeakyRelu, "leaky_relu_0.2"),
        (Act::Sigmoid, "sigmoid"),
    ] {
        let c = crate::golden::case(name);
        let [x, gy] = ["x", "gy"].map(|n| c.input(n).f32());
        let [y, dx] = ["y", "dx"].map(|n| c.output(n).f32());
        let n = x.len();
        let s = Shape::flat(n);
        let (tx, ty, tgy) = (upload(s, &x), Tensor::zeros(g, s).unwrap(), upload(s, &gy));
        let tdx = Tensor::zeros(g, s).unwrap();
        run(&[
            ew::act_forward(g, act, &tx, &ty).unwrap(),
            ew::act_backward(g, act, &tx, &ty, &tgy, &tdx).unwrap(),
        ]);
        assert_close("torch y", &ty.read(g).unwrap(), &to_f64(&y), 1e-5, 1e-7);
        assert_close("torch dx", &tdx.read(g).unwrap(), &to_f64(&dx), 1e-5, 1e-7);
    }
}

#[test]
fn large_dispatch_folds_into_2d() {
    // 70 001 vec4s with one-invocation workgroups: more than 65 535 workgroups.
    let g = gpu();
    let n = 70_000 * 4 + 3;
    let grid = cloudfill::gpu::groups_1d(70_001);
    assert_eq!(grid, [65_535, 2, 1]);
    let x: Vec<f32> = (0..n).map(|i| (i % 97) as f32 - 48.0).collect();
    let (tx, ty) = (
        upload(Shape::flat(n), &x),
        Tensor::zeros(g, Shape::flat(n)).unwrap(),
    );
    let mut overrides = ew::act_overrides(Act::LeakyRelu);
    overrides[0] = ("WG", 1.0);
    let k = g.kernel(ew::ACT_FWD, &overrides).unwrap();
    let (p, _) = ew::params(n);
    run(&[g.dispatch(&k, &[&tx], &[&ty], Some(&p), grid).unwrap()]);
    let want: Vec<f64> = x
        .iter()
        .map(|&v| reference::act(Act::LeakyRelu, v as f64))
        .collect();
    assert_close("every element", &ty.read(g).unwrap(), &want, 1e-6, 0.0);
}
