//! The skip network and the tape: parameter count, golden PyTorch network, directional
//! derivative of network + loss, fan-out accumulation.
use crate::common::*;
use crate::golden;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::net::NetConfig;
use cloudfill::ops::adam::AdamConfig;
use cloudfill::ops::resample::{self, Upsample};
use cloudfill::plan::{Plan, Problem, StepConfig};
use cloudfill::tape::{CompileOptions, Tape};

/// SPEC §4: the default network with 2 inputs and 8 outputs has 2,442,152 parameters
/// (2,442,101 with 5 outputs), as PyTorch counts them.
#[test]
fn default_network_parameter_count() {
    let net = NetConfig::default();
    assert_eq!(net.param_count(2, 8).unwrap(), 2_442_152);
    assert_eq!(net.param_count(2, 5).unwrap(), 2_442_101);
}

/// The `mini_dip_16x16` golden case: a whole 3-level network computed by PyTorch (given weights,
/// latent+noise, target, mask): output, loss, every parameter gradient, parameters after one Adam
/// step, and the loss after that step.
#[test]
fn golden_mini_dip_network_matches_pytorch() {
    let g = gpu();
    let case = golden::case("mini_dip_16x16");
    let net = NetConfig {
        down: vec![4, 8, 8],
        up: vec![4, 8, 8],
        skip: vec![0; 3],
        ..NetConfig::default()
    };
    let [x, target, mask] = ["x", "target", "mask"].map(|n| case.input(n).f32());
    let problem = Problem {
        seed: 1,
        latent: &x,
        latent_channels: 2,
        h: 16,
        w: 16,
        target: &target,
        mask: &mask,
        channels: 5,
    };
    let cfg = StepConfig {
        adam: AdamConfig::default(),
        noise_std: 0.0,
        conv_blocks: None,
    };
    let mut plan = Plan::new(g, &net, &problem, cfg).unwrap();
    let params = case.input_map("params");
    assert_eq!(params.len(), plan.tape.params.len(), "same parameter set");
    for (name, v) in &params {
        plan.set_param(name, &v.f32()).unwrap();
    }
    plan.step().unwrap();
    let loss = plan.read_loss().unwrap() as f64;
    let want_loss = case.output_f64("loss");
    assert!(
        (loss - want_loss).abs() < 1e-5 * want_loss.max(1.0),
        "loss {loss} vs {want_loss}"
    );
    let y = plan.compiled.values[plan.output.0].read(g).unwrap();
    assert_close("y", &y, &to_f64(&case.output("y").f32()), 1e-4, 1e-6);
    let grads = case.output_map("grads");
    for (name, v) in &grads {
        let got = plan.read_grad(name).unwrap();
        let want = to_f64(&v.f32());
        // A conv bias feeding batch-norm has a true gradient of exactly 0 (PyTorch's is noise).
        let abs = if is_bias_before_bn(name) { 1e-6 } else { 2e-6 };
        assert_close(&format!("grad {name}"), &got, &want, 2e-3, abs);
    }
    // Adam's first step moves each parameter by ≈ lr·g/(|g| + eps): where the true gradient is
    // zero it normalises rounding noise into an arbitrary update. That holds for conv biases
    // before batch-norm (golden README) and for a BN γ whose scale a later BN removes (LeakyReLU
    // is positively homogeneous), so compare post-Adam values where PyTorch's gradient is real.
    let lr = 0.02;
    for (name, v) in case.output_map("params_after_adam_step") {
        let got = plan.read_param(&name).unwrap();
        let (before, grad) = (params[&name].f32(), grads[&name].f32());
        for (i, want) in v.f32().iter().enumerate() {
            let step = (got[i] - before[i]).abs();
            assert!(
                step <= lr * 1.0001,
                "{name}[{i}]: Adam step {step} exceeds lr"
            );
            if grad[i].abs() > 1e-6 {
                let ok = (got[i] - want).abs() <= 1e-5 + 1e-4 * want.abs();
                assert!(
                    ok,
                    "param {name}[{i}] after Adam: got {}, want {want}",
                    got[i]
                );
            }
        }
    }
    plan.render().unwrap();
    let after = plan.read_loss().unwrap() as f64;
    let want_after = case.output_f64("loss_after_step_same_x");
    assert!(
        (after - want_after).abs() < 1e-4 * want_after,
        "{after} vs {want_after}"
    );
}

fn is_bias_before_bn(name: &str) -> bool {
    name.ends_with(".bias")
        && ["down1.", "down2.", "up5.", "up1."]
            .iter()
            .any(|p| name.starts_with(p))
}

/// (f(θ+εv) − f(θ−εv)) / 2ε vs ⟨∇f, v⟩ for the whole network + masked loss on the GPU.
#[test]
fn directional_derivative_of_network_and_loss() {
    let g = gpu();
    let (h, w, ch) = (16, 16, 3);
    let mut rng = Rng::new(5);
    let data = ProblemData::random(&mut rng, h, w, ch, 0.3);
    // A smooth activation (LeakyReLU's kinks make finite differences of a whole network
    // unreliable), and the other paths of the builder: skip branch + concat, bilinear
    // upsampling, reflection padding, average-pool downsampling.
    let net = NetConfig {
        down: vec![8, 8],
        up: vec![8, 8],
        skip: vec![4, 2],
        act: cloudfill::ops::elementwise::Act::Swish,
        upsample: Upsample::Bilinear,
        padding: cloudfill::ops::conv2d::Padding::Reflection,
        downsample: cloudfill::net::Downsample::Avg,
        ..NetConfig::default()
    };
    let problem = data.problem_seeded(9);
    let cfg = StepConfig {
        adam: AdamConfig::default(),
        noise_std: 0.0,
        conv_blocks: None,
    };
    let plan = Plan::new(g, &net, &problem, cfg).unwrap();
    let all = plan.compiled.params.all();
    let theta = all.read(g).unwrap();
    plan.gradient().unwrap();
    let grad = to_f64(&plan.compiled.param_grads.all().read(g).unwrap());
    let v: Vec<f32> = (0..theta.len()).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let eps = 1e-3f32;
    let loss_at = |s: f32| {
        let p: Vec<f32> = theta.iter().zip(&v).map(|(t, d)| t + s * d).collect();
        all.write(g, &p).unwrap();
        plan.render().unwrap();
        plan.read_loss().unwrap() as f64
    };
    let fd = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps as f64);
    let an = dot(&grad, &to_f64(&v));
    assert!(
        an.abs() > 1e-4,
        "a meaningful directional derivative ({an})"
    );
    assert!(
        (fd - an).abs() < 0.02 * an.abs(),
        "finite difference {fd} vs gradient {an}"
    );
}

/// A tensor read by two ops receives the sum of both gradients.
#[test]
fn fan_out_accumulates_gradients() {
    let g = gpu();
    let mut tape = Tape::new();
    let x = tape.input(Shape::new(2, 5, 6));
    let conv = cloudfill::ops::conv2d::Conv2d {
        cin: 2,
        cout: 3,
        k: 3,
        stride: 1,
        padding: Default::default(),
        groups: 1,
    };
    let hv = tape.conv2d("c", x, conv, true).unwrap();
    let a = tape.upsample(Upsample::Nearest, hv);
    let b = tape.upsample(Upsample::Nearest, hv);
    let y = tape.concat(a, b);
    let c = tape.compile(g).unwrap();
    let mut rng = Rng::new(2);
    let half = rng.vec(3 * 10 * 12);
    let gy = [half.clone(), half.clone()].concat();
    c.grads[y.0].as_ref().unwrap().write(g, &gy).unwrap();
    g.run(&c.backward).unwrap();
    let got = c.grads[hv.0].as_ref().unwrap().read(g).unwrap();
    let one = resample::reference::upsample_backward(
        Upsample::Nearest,
        &to_f64(&half),
        Shape::new(3, 5, 6),
    );
    let want: Vec<f64> = one.iter().map(|v| 2.0 * v).collect();
    assert_close("fan-out gradient", &got, &want, 1e-5, 1e-6);
    let _ = Tensor::zeros(g, Shape::flat(1));
}

/// The tape with batch-norm + activation fused and without: the same output and gradients.
#[test]
fn fused_and_unfused_tapes_agree() {
    use cloudfill::ops::elementwise::Act;
    let g = gpu();
    let mut rng = Rng::new(12);
    for act in [Act::LeakyRelu, Act::Swish] {
        let net = NetConfig {
            act,
            skip: vec![2, 0, 0],
            ..NetConfig::with_levels(3)
        };
        let mut tape = Tape::new();
        let x = tape.input(Shape::new(2, 32, 32));
        let y = net.build(&mut tape, x, 3).unwrap();
        let fused = CompileOptions::default();
        let a = tape.compile_options(g, &fused).unwrap();
        let plain = CompileOptions {
            fuse_bn_act: false,
            ..fused
        };
        let b = tape.compile_options(g, &plain).unwrap();
        assert!(
            a.forward.len() + 10 < b.forward.len() && a.backward.len() + 10 < b.backward.len(),
            "fusion removes dispatches ({} vs {} forward)",
            a.forward.len(),
            b.forward.len()
        );
        let n = a.params.all().numel(); // the arena, alignment gaps included
        let theta: Vec<f32> = (0..n).map(|_| rng.uniform(-0.3, 0.3)).collect();
        let input = rng.vec(2 * 32 * 32);
        let gy = rng.vec(3 * 32 * 32);
        let mut outs = Vec::new();
        for c in [&a, &b] {
            c.params.all().write(g, &theta).unwrap();
            c.values[x.0].write(g, &input).unwrap();
            g.run(&c.forward).unwrap();
            c.grads[y.0].as_ref().unwrap().write(g, &gy).unwrap();
            g.run(&c.backward).unwrap();
            outs.push((
                c.values[y.0].read(g).unwrap(),
                c.param_grads.all().read(g).unwrap(),
            ));
        }
        assert_close("output", &outs[0].0, &to_f64(&outs[1].0), 1e-5, 1e-6);
        let scale = outs[1].1.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
        assert_close(
            "gradients",
            &outs[0].1,
            &to_f64(&outs[1].1),
            1e-3,
            1e-5 * scale,
        );
    }
}
