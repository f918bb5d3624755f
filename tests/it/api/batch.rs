//! Batches: G networks trained side by side in the same dispatches (`Plan::new_batch`,
//! `fit_batch`) against the same networks trained one at a time: the same bits (every grouped
//! kernel does each group's arithmetic as the ungrouped one; the loss weights m/N give the same
//! gradient bits as the mean). Tiled `--batch` is in tests/it/tiles.rs.
use crate::common::*;
use cloudfill::io::{Image, Mask};
use cloudfill::net::{Downsample, NetConfig};
use cloudfill::ops::adam::AdamConfig;
use cloudfill::ops::conv2d::Padding;
use cloudfill::ops::elementwise::Act;
use cloudfill::ops::resample::Upsample;
use cloudfill::plan::{Plan, Problem, StepConfig};
use cloudfill::{fit_batch, BatchItem, Dip, DipConfig, Latent};
use std::ops::ControlFlow;

/// Every option that changes which kernels run: the default (polyphase up-convolutions, stride
/// downsampling, zero padding) and the other path (reflection padding, skip branches with their
/// grouped concats, bilinear upsampling, pooling, ELU).
fn configs() -> Vec<(&'static str, NetConfig)> {
    let other = NetConfig {
        skip: vec![4, 4, 4],
        padding: Padding::Reflection,
        upsample: Upsample::Bilinear,
        downsample: Downsample::Avg,
        act: Act::Elu,
        ..NetConfig::with_levels(3)
    };
    vec![("default", NetConfig::with_levels(3)), ("other", other)]
}

/// Gradients, a few Adam steps with latent noise, and the rendered output of a batch of three
/// networks (each with its own seed) equal those of three plans of their own, network by
/// network, bit for bit; the batch's loss is the sum of theirs.
#[test]
fn batched_plan_equals_separate_plans() {
    let g = gpu();
    let (h, w) = (32, 32);
    let mut rng = Rng::new(61);
    let ds: Vec<ProblemData> = [0.3, 0.5, 0.1]
        .iter()
        .map(|&cloud| ProblemData::random(&mut rng, h, w, 3, cloud))
        .collect();
    let cfg = StepConfig {
        adam: AdamConfig::default(),
        noise_std: 0.1,
        conv_blocks: None,
    };
    for (name, net) in configs() {
        let problems: Vec<Problem> = (ds.iter().enumerate())
            .map(|(k, d)| d.problem_seeded(5 + k as u64))
            .collect();
        let mut batch = Plan::new_batch(g, &net, &problems, cfg).unwrap();
        let mut alone: Vec<Plan> = (problems.iter())
            .map(|p| Plan::new(g, &net, p, cfg).unwrap())
            .collect();
        assert_eq!(batch.batch, 3);
        assert_eq!(
            batch.dispatches_per_step(),
            alone[0].dispatches_per_step(),
            "{name}: a batch runs in the dispatches of one network"
        );
        let what = |k: usize, t: &str| format!("{name}, network {k}: {t}");
        // Gradients on the initial parameters (no noise, no Adam).
        let lb = batch.gradient().unwrap();
        let la: Vec<f32> = alone.iter().map(|p| p.gradient().unwrap()).collect();
        let sum: f32 = la.iter().sum();
        assert!(
            (lb - sum).abs() <= 1e-5 * sum,
            "{name}: loss {lb} vs Σ {sum}"
        );
        for q in &batch.tape.params {
            let gb = batch.read_grad(&q.name).unwrap();
            let n = gb.len() / 3;
            for (k, p) in alone.iter().enumerate() {
                let ga = p.read_grad(&q.name).unwrap();
                assert!(ga.iter().any(|&v| v != 0.0) || q.name.contains(".bias"));
                let same = gb[k * n..(k + 1) * n] == ga[..];
                assert!(same, "{}", what(k, &format!("grad {}", q.name)));
            }
        }
        // Training: 4 Adam steps with fresh latent noise each.
        for _ in 0..4 {
            batch.step().unwrap();
            for p in &mut alone {
                p.step().unwrap();
            }
        }
        let yb = batch.render().unwrap();
        let n = yb.len() / 3;
        for (k, p) in alone.iter().enumerate() {
            let ya = p.render().unwrap();
            let same = yb[k * n..(k + 1) * n] == ya[..];
            assert!(same, "{}", what(k, "output after 4 steps"));
            let pb = batch.read_param("final.weight").unwrap();
            let pa = p.read_param("final.weight").unwrap();
            assert!(pb[k * pa.len()..(k + 1) * pa.len()] == pa[..]);
        }
    }
}

/// A batch refuses problems of different sizes, and no problems at all.
#[test]
fn batch_refuses_mixed_sizes() {
    let g = gpu();
    let mut rng = Rng::new(62);
    let a = ProblemData::random(&mut rng, 16, 16, 3, 0.2);
    let b = ProblemData::random(&mut rng, 32, 16, 3, 0.2);
    let cfg = StepConfig {
        adam: AdamConfig::default(),
        noise_std: 0.0,
        conv_blocks: None,
    };
    let net = NetConfig::with_levels(2);
    let err = Plan::new_batch(g, &net, &[a.problem(), b.problem()], cfg)
        .err()
        .expect("mixed sizes");
    assert!(err.to_string().contains("batch problem 1"), "{err}");
    assert!(Plan::new_batch(g, &net, &[], cfg).is_err());
    let empty = ProblemData {
        mask: vec![0.0; a.mask.len()],
        ..ProblemData::random(&mut rng, 16, 16, 3, 0.2)
    };
    assert!(Plan::new_batch(g, &net, &[a.problem(), empty.problem()], cfg).is_err());
}

/// The library's `fit_batch` gives each item what a `Dip` of its own gives, bit for bit (odd
/// sizes, guides, the target latent), and refuses items of different sizes by name.
#[test]
fn fit_batch_equals_one_dip_per_item() {
    let g = gpu();
    let (h, w) = (27, 30); // padded to 32×32 and cropped back
    let mut rng = Rng::new(63);
    let cfg = DipConfig {
        net: NetConfig::with_levels(3),
        latent: Latent::Target,
        seed: 9,
        ..DipConfig::default()
    };
    let items: Vec<BatchItem> = (0..2)
        .map(|_| {
            let t = Image::new(h, w, 3, rng.vec(h * w * 3)).unwrap();
            let s1 = Image::new(h, w, 2, rng.vec(h * w * 2)).unwrap();
            let clear: Vec<bool> = (0..h * w).map(|_| rng.uniform(0.0, 1.0) < 0.8).collect();
            let m = Mask::new(h, w, clear).unwrap();
            BatchItem {
                targets: vec![t, s1],
                masks: vec![m, Mask::clear(h, w)],
            }
        })
        .collect();
    let steps = 6;
    let r = fit_batch(g, &cfg, items.clone(), steps, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(r.outputs.len(), 2);
    for (k, it) in items.iter().enumerate() {
        let mut dip = Dip::new(g, cfg.clone()).unwrap();
        dip.set_target(it.targets.clone()).unwrap();
        dip.set_mask(it.masks.clone()).unwrap();
        dip.fit(steps, |_| ControlFlow::Continue(())).unwrap();
        let want = dip.output().unwrap();
        assert_eq!(r.outputs[k].len(), want.len());
        for (s, (a, b)) in r.outputs[k].iter().zip(&want).enumerate() {
            assert_eq!((a.h, a.w, a.c), (b.h, b.w, b.c));
            assert!(a.data == b.data, "item {k} source {s}");
        }
    }
    let mut odd = items.clone();
    odd[1].targets[0] = Image::new(h, w + 1, 3, rng.vec(h * (w + 1) * 3)).unwrap();
    let err = fit_batch(g, &cfg, odd, 1, |_| ControlFlow::Continue(())).expect_err("mixed sizes");
    assert!(err.to_string().contains("item 1"), "{err}");
}
