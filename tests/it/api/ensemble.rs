//! Ensembles and the stopping rule: an ensemble of K is K separate fits bit for bit (its output
//! their mean, its uncertainty their spread); the held-out pixels (fraction, shapes,
//! determinism, never in the cloud); the rule on scripted validation curves; the kept output is
//! the output at the kept step bit for bit; `fit_batch` with ensembles and checks equals a `Dip`
//! per item.
use crate::common::*;
use cloudfill::dip::holdout;
use cloudfill::io::{Image, Mask};
use cloudfill::net::NetConfig;
use cloudfill::{fit_batch, BatchItem, Dip, DipConfig, Monitor, StopRule};
use std::ops::ControlFlow;

fn go(_: &cloudfill::StepInfo) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// A 24×20 problem: a 3-band target with a round cloud, and a 2-band guide.
pub(super) fn problem(rng: &mut Rng) -> (Vec<Image>, Vec<Mask>) {
    let (h, w) = (24, 20);
    let t = Image::new(h, w, 3, rng.vec(h * w * 3)).unwrap();
    let s1 = Image::new(h, w, 2, rng.vec(h * w * 2)).unwrap();
    let clear = (0..h * w)
        .map(|p| ((p / w) as f64 - 10.0).powi(2) + ((p % w) as f64 - 8.0).powi(2) > 25.0)
        .collect();
    (
        vec![t, s1],
        vec![Mask::new(h, w, clear).unwrap(), Mask::clear(h, w)],
    )
}

pub(super) fn fitted(
    cfg: &DipConfig,
    data: &(Vec<Image>, Vec<Mask>),
    steps: usize,
) -> Dip<'static> {
    let mut dip = Dip::new(gpu(), cfg.clone()).unwrap();
    dip.set_target(data.0.clone()).unwrap();
    dip.set_mask(data.1.clone()).unwrap();
    dip.fit(steps, go).unwrap();
    dip
}

pub(super) fn small(seed: u64) -> DipConfig {
    DipConfig {
        net: NetConfig::with_levels(3),
        seed,
        ..DipConfig::default()
    }
}

/// Member k of an ensemble from seed s is the fit of seed s + k, to the bit; the output is the
/// members' mean and the uncertainty their population standard deviation.
#[test]
fn ensemble_equals_separate_fits() {
    let data = problem(&mut Rng::new(71));
    let steps = 7;
    let ens_cfg = DipConfig {
        ensemble: 3,
        ..small(4)
    };
    let mut ens = fitted(&ens_cfg, &data, steps);
    let members = ens.member_outputs().unwrap();
    assert_eq!(members.len(), 3);
    let alone: Vec<Vec<Image>> = (0..3)
        .map(|k| fitted(&small(4 + k), &data, steps).output().unwrap())
        .collect();
    for (k, (m, a)) in members.iter().zip(&alone).enumerate() {
        for (s, (x, y)) in m.iter().zip(a).enumerate() {
            assert!(
                x.data == y.data,
                "member {k} source {s} differs from seed {}",
                4 + k
            );
        }
    }
    assert!(
        alone[0][0].data != alone[1][0].data,
        "seeds 4 and 5 gave one fit"
    );
    let (mean, sd) = (ens.output().unwrap(), ens.uncertainty().unwrap());
    for s in 0..2 {
        for i in 0..mean[s].data.len() {
            let v: Vec<f64> = alone.iter().map(|a| a[s].data[i] as f64).collect();
            let m = v.iter().sum::<f64>() / 3.0;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0;
            assert_eq!(mean[s].data[i], m as f32, "mean, source {s} element {i}");
            assert_eq!(
                sd[s].data[i],
                var.sqrt() as f32,
                "spread, source {s} element {i}"
            );
        }
    }
    let mut one = fitted(&small(4), &data, steps);
    assert!(one.uncertainty().unwrap()[0].data.iter().all(|&v| v == 0.0));
}

/// The held-out pixels: about the fraction asked, only clear pixels, in patches (not lone
/// pixels), the same for the same seed and other for another.
#[test]
fn holdout_is_cloud_shaped_clear_and_deterministic() {
    let (h, w) = (96, 80);
    let clear: Vec<bool> = (0..h * w)
        .map(|p| {
            let (y, x) = ((p / w) as f64, (p % w) as f64);
            (y - 30.0).powi(2) + (x - 25.0).powi(2) > 144.0 && x < 70.0
        })
        .collect();
    let mask = Mask::new(h, w, clear).unwrap();
    let n_clear = mask.clear.iter().filter(|&&c| c).count();
    let a = holdout::select(&mask, 0.1, 7);
    let held: Vec<usize> = (0..h * w).filter(|&p| a.clear[p]).collect();
    let frac = held.len() as f64 / n_clear as f64;
    assert!(
        (0.1..0.13).contains(&frac),
        "held out {frac} of the clear pixels"
    );
    assert!(
        held.iter().all(|&p| mask.clear[p]),
        "a held-out pixel in the cloud"
    );
    // Patches: most held-out pixels have a held-out 4-neighbour on every side but one.
    let inner = (held.iter())
        .filter(|&&p| {
            let (y, x) = (p / w, p % w);
            let n = [(0, 1), (2, 1), (1, 0), (1, 2)]
                .iter()
                .filter(|(dy, dx)| {
                    let (yy, xx) = (y + dy, x + dx);
                    yy >= 1 && xx >= 1 && yy <= h && xx <= w && a.clear[(yy - 1) * w + xx - 1]
                })
                .count();
            n >= 3
        })
        .count();
    assert!(
        inner * 2 > held.len(),
        "{inner} of {} held-out pixels are inside patches",
        held.len()
    );
    assert_eq!(holdout::select(&mask, 0.1, 7), a);
    assert_ne!(holdout::select(&mask, 0.1, 8), a);
    // The cloud's thickness sets the patches' size: a thick cloud gives bigger patches.
    let depths = holdout::cloud_depths(&mask);
    assert_eq!(depths.len(), h * w - n_clear);
    assert!(depths.iter().cloned().fold(0.0, f64::max) > 11.0);
    assert!(holdout::select(&Mask::clear(4, 4), 0.0, 1)
        .clear
        .iter()
        .all(|&c| !c));
}

/// The rule on scripted curves: the best smoothed check is kept, patience counts from it, no stop
/// before `min_steps`, non-finite errors never count as improvements.
#[test]
fn stopping_rule_on_scripted_curves() {
    let rule = StopRule {
        holdout: 0.1,
        signal: cloudfill::StopSignal::Heldout,
        every: 10,
        patience: Some(30),
        smoothing: 0.0,
        min_steps: 0,
    };
    let mut m = Monitor::new(StopRule {
        patience: Some(40),
        ..rule
    });
    let curve = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.9, 3.0, 3.0, 3.0, 3.0];
    let mut stopped = None;
    for (i, &v) in curve.iter().enumerate() {
        let step = 10 * (i + 1);
        let o = m.observe(step, v);
        assert_eq!(o.improved, [0, 1, 2, 6].contains(&i), "check {i}");
        if o.stopped && stopped.is_none() {
            stopped = Some(step);
        }
    }
    assert_eq!(m.kept_step(), Some(70));
    assert_eq!(stopped, Some(110), "40 steps after the best at 70");
    // Checks before min_steps are never kept: the lucky early 1.0 is passed over, and the
    // patience counts from the first candidate, at step 50.
    let mut m = Monitor::new(StopRule {
        min_steps: 50,
        ..rule
    });
    let s: Vec<bool> = [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
        .iter()
        .enumerate()
        .map(|(i, &v)| m.observe(10 * (i + 1), v).stopped)
        .collect();
    assert_eq!(m.kept_step(), Some(50));
    assert_eq!(
        s,
        [false, false, false, false, false, false, false, true, true]
    );
    // Smoothing: a single lucky dip counts for a fifth of its depth.
    let mut m = Monitor::new(StopRule {
        smoothing: 0.8,
        ..rule
    });
    for (i, v) in [3.0, 3.0, 1.0, 3.0, 3.0].iter().enumerate() {
        m.observe(10 * (i + 1), *v);
    }
    let (best, at) = m.best.unwrap();
    assert!((best - 2.6).abs() < 1e-12 && at == 30, "{:?}", m.best);
    let mut raw = Monitor::new(rule);
    for (i, v) in [3.0, 3.0, f64::NAN, 1.0, 3.0].iter().enumerate() {
        raw.observe(10 * (i + 1), *v);
    }
    assert_eq!(raw.kept_step(), Some(40), "NaN is no improvement");
    assert_eq!(m.curve.len(), 5);
    assert!(StopRule {
        holdout: 0.0,
        signal: cloudfill::StopSignal::Heldout,
        ..rule
    }
    .validate()
    .is_err());
    assert!(StopRule { every: 0, ..rule }.validate().is_err());
}

/// Under a stopping rule the output is the one of the kept check, bit for bit: a second fit of
/// exactly that many steps ends on it. Every network stops once its patience runs out.
#[test]
fn kept_output_is_the_output_at_the_kept_step() {
    let data = problem(&mut Rng::new(72));
    let rule = StopRule {
        holdout: 0.15,
        signal: cloudfill::StopSignal::Heldout,
        every: 4,
        patience: None,
        smoothing: 0.0,
        min_steps: 0,
    };
    let cfg = DipConfig {
        stop: Some(rule),
        ensemble: 2,
        lr: 0.05,
        ..small(11)
    };
    let mut a = fitted(&cfg, &data, 40);
    assert_eq!(a.monitors().len(), 1, "one monitor for the ensemble");
    let s = a.monitors()[0].kept_step().unwrap();
    assert_eq!(a.monitors()[0].curve.len(), 10);
    let members = a.member_outputs().unwrap();
    let mut b = fitted(&cfg, &data, s);
    let again = b.member_outputs().unwrap();
    for k in 0..2 {
        assert!(
            again[k][0].data == members[k][0].data,
            "member {k} at step {s}"
        );
    }
    let stopping = DipConfig {
        stop: Some(StopRule {
            patience: Some(8),
            ..rule
        }),
        lr: 0.5,
        ..cfg
    };
    let mut steps = 0;
    let mut c = Dip::new(gpu(), stopping).unwrap();
    c.set_target(data.0.clone()).unwrap();
    c.set_mask(data.1.clone()).unwrap();
    c.fit(400, |i| {
        steps = i.step;
        ControlFlow::Continue(())
    })
    .unwrap();
    let ms = c.monitors();
    assert!(steps < 400, "never stopped: {:?}", ms[0].curve);
    assert!(ms.iter().all(|m| m.stopped_at.is_some()));
    assert_eq!(
        steps,
        ms.iter().map(|m| m.stopped_at.unwrap()).max().unwrap()
    );
}

/// `fit_batch` with an ensemble and a stopping rule gives each item what a `Dip` of its own
/// gives, bit for bit.
#[test]
fn fit_batch_with_ensembles_equals_one_dip_per_item() {
    let mut rng = Rng::new(73);
    let cfg = DipConfig {
        ensemble: 2,
        stop: Some(StopRule {
            every: 3,
            min_steps: 3,
            ..StopRule::default()
        }),
        ..small(2)
    };
    let data = [problem(&mut rng), problem(&mut rng)];
    let items: Vec<BatchItem> = (data.iter())
        .map(|(t, m)| BatchItem {
            targets: t.clone(),
            masks: m.clone(),
        })
        .collect();
    let r = fit_batch(gpu(), &cfg, items, 10, go).unwrap();
    assert_eq!(
        r.kept_steps.len(),
        2,
        "one kept step per item (its ensemble)"
    );
    for (i, d) in data.iter().enumerate() {
        let mut dip = fitted(&cfg, d, 10);
        let (out, sd) = (dip.output().unwrap(), dip.uncertainty().unwrap());
        assert!(r.outputs[i][0].data == out[0].data, "item {i} output");
        assert!(
            r.uncertainty[i][0].data == sd[0].data,
            "item {i} uncertainty"
        );
        let kept: Vec<Option<usize>> = dip.monitors().iter().map(|m| m.kept_step()).collect();
        assert_eq!(&r.kept_steps[i..i + 1], &kept[..], "item {i} kept step");
        assert!(kept[0].is_some(), "checks at 3, 6, 9 keep one");
    }
}
