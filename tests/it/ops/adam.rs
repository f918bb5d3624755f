//! Adam: GPU vs the CPU reference over several steps, both vs PyTorch's `adam_3_steps`.
use crate::common::*;
use crate::golden;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::adam::{self, reference, AdamConfig};

struct Gpu4 {
    p: Tensor,
    g: Tensor,
    m: Tensor,
    v: Tensor,
}

fn zeros(n: usize) -> Tensor {
    Tensor::zeros(gpu(), Shape::flat(n)).unwrap()
}

/// Runs `grads.len()` steps on the GPU from p0 and zero moments, the params rewritten before
/// each step as a trainer would; returns p after each step, and m, v at the end.
fn gpu_steps(
    cfg: &AdamConfig,
    p0: &[f32],
    grads: &[Vec<f32>],
) -> (Vec<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let g = gpu();
    let n = p0.len();
    let t = Gpu4 {
        p: upload(Shape::flat(n), p0),
        g: zeros(n),
        m: zeros(n),
        v: zeros(n),
    };
    let d = adam::step(g, cfg, &t.p, &t.g, &t.m, &t.v).unwrap();
    let mut after = Vec::new();
    for (i, gr) in grads.iter().enumerate() {
        t.g.write(g, gr).unwrap();
        d.set_params(g, &adam::params(cfg, n, i as u32 + 1));
        run(std::slice::from_ref(&d));
        after.push(t.p.read(g).unwrap());
    }
    (after, t.m.read(g).unwrap(), t.v.read(g).unwrap())
}

#[test]
fn adam_matches_reference_over_steps() {
    let cfg = AdamConfig::default();
    let n = 1001; // not a multiple of 4, four workgroups
    let mut rng = Rng::new(17);
    let p0 = rng.vec(n);
    // Gradients shrinking over the steps, as in a fit, some of them exactly zero.
    let grads: Vec<Vec<f32>> = (0..5)
        .map(|s| {
            rng.vec(n)
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    if i % 97 == 0 {
                        0.0
                    } else {
                        x / (1 + 3 * s) as f32
                    }
                })
                .collect()
        })
        .collect();
    let (after, m, v) = gpu_steps(&cfg, &p0, &grads);
    let (mut p, mut rm, mut rv) = (to_f64(&p0), vec![0.0; n], vec![0.0; n]);
    for (s, gr) in grads.iter().enumerate() {
        reference::step(&cfg, s as u32 + 1, &mut p, &to_f64(gr), &mut rm, &mut rv);
        assert_close(
            &format!("p after step {}", s + 1),
            &after[s],
            &p,
            1e-5,
            1e-6,
        );
    }
    assert_close("m", &m, &rm, 1e-5, 1e-8);
    assert_close("v", &v, &rv, 1e-5, 1e-10);
}

#[test]
fn adam_params_hold_bias_corrections() {
    let cfg = AdamConfig::default();
    assert_eq!(
        cfg,
        AdamConfig {
            lr: 2e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8
        }
    );
    let p1 = adam::params(&cfg, 10, 1);
    assert_eq!(p1.n4, 3);
    assert!((p1.step_size as f64 - 0.2).abs() < 1e-7, "{}", p1.step_size); // lr / 0.1
    assert!((p1.inv_sqrt_bc2 as f64 - 1000f64.sqrt()).abs() < 1e-4);
    let p3 = adam::params(&cfg, 10, 3);
    assert!((p3.step_size as f64 - 0.02 / (1.0 - 0.9f64.powi(3))).abs() < 1e-8);
    assert!((p3.inv_sqrt_bc2 as f64 - 1.0 / (1.0 - 0.999f64.powi(3)).sqrt()).abs() < 1e-5);
    assert_eq!(adam::params(&cfg, 10, 0), p1);
}

#[test]
fn adam_rejects_mismatched_buffers() {
    let cfg = AdamConfig::default();
    let (a, b) = (zeros(12), zeros(13));
    assert!(adam::step(gpu(), &cfg, &a, &a, &a, &b).is_err());
    assert!(adam::step(gpu(), &cfg, &a, &b, &a, &a).is_err());
    let bad = AdamConfig { beta2: 1.0, ..cfg };
    assert!(adam::step(gpu(), &bad, &a, &a, &a, &a).is_err());
}

/// PyTorch `adam_3_steps`: torch.optim.Adam(lr 0.02, betas (0.9, 0.999), eps 1e-8), three
/// steps; parameters after each step, exp_avg and exp_avg_sq after the last.
#[test]
fn adam_pytorch_values() {
    let case = golden::case("adam_3_steps");
    let cfg = AdamConfig {
        lr: case.param_f64("lr") as f32,
        beta1: case.param_f64("beta1") as f32,
        beta2: case.param_f64("beta2") as f32,
        eps: case.param_f64("eps") as f32,
    };
    assert_eq!(case.param_f64("weight_decay"), 0.0);
    assert!(!case.param_bool("amsgrad"));
    let f32s = |ts: Vec<golden::Tensor>| -> Vec<Vec<f32>> { ts.iter().map(|t| t.f32()).collect() };
    let grads = f32s(case.input_list("grads"));
    let want_p = f32s(case.output_list("params_after_each_step"));
    let p0 = case.input("p0").f32();
    let exp_avg = case.output("exp_avg").f32();
    let exp_avg_sq = case.output("exp_avg_sq").f32();
    assert_eq!((grads.len(), want_p.len()), (3, 3));
    // The reference, in f64.
    let n = p0.len();
    let (mut p, mut m, mut v) = (to_f64(&p0), vec![0.0; n], vec![0.0; n]);
    for (s, gr) in grads.iter().enumerate() {
        reference::step(&cfg, s as u32 + 1, &mut p, &to_f64(gr), &mut m, &mut v);
        assert_close("reference p", &want_p[s], &p, 1e-6, 1e-8);
    }
    assert_close("reference exp_avg", &exp_avg, &m, 1e-6, 1e-9);
    assert_close("reference exp_avg_sq", &exp_avg_sq, &v, 1e-6, 1e-12);
    // The GPU.
    let (after, m, v) = gpu_steps(&cfg, &p0, &grads);
    for s in 0..3 {
        assert_close(
            &format!("torch p step {}", s + 1),
            &after[s],
            &to_f64(&want_p[s]),
            1e-5,
            1e-7,
        );
    }
    assert_close("torch exp_avg", &m, &to_f64(&exp_avg), 1e-5, 1e-9);
    assert_close("torch exp_avg_sq", &v, &to_f64(&exp_avg_sq), 1e-5, 1e-12);
}
