//! What the stopping rule's checks score. The spread signal (`StopSignal::Spread`): each check
//! scores the ensemble members' disagreement inside the cloud, the output kept is the one at the best check to the
//! bit, the held-out pixels can rejoin the fit (holdout 0), and the settings it cannot work with
//! are refused before any fit. The held-out signal: each check scores the error of the members'
//! mean on the held-out pixels.
use super::ensemble::{fitted, problem, small};
use crate::common::*;
use cloudfill::io::{Image, Mask};
use cloudfill::{Dip, DipConfig, StopRule, StopSignal};
use std::ops::ControlFlow;

fn spread_rule(holdout: f64) -> StopRule {
    StopRule {
        holdout,
        signal: StopSignal::Spread,
        every: 4,
        patience: None,
        smoothing: 0.0,
        min_steps: 0,
    }
}

/// The mean over the cloudy elements of source 0 of the members' population standard deviation,
/// in f64: what a spread check scores, computed here from the members' rendered outputs.
fn spread_of(members: &[Vec<Image>], clear: &Mask) -> f64 {
    let k = members.len() as f64;
    let (mut sum, mut n) = (0.0, 0usize);
    let first = &members[0][0];
    for ch in 0..first.c {
        for p in (0..first.h * first.w).filter(|&p| !clear.clear[p]) {
            let v: Vec<f64> = members
                .iter()
                .map(|m| m[0].data[p * first.c + ch] as f64)
                .collect();
            let mean = v.iter().sum::<f64>() / k;
            sum += (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / k).sqrt();
            n += 1;
        }
    }
    sum / n as f64
}

/// A fit of `cfg` on `data`, `checks` times 4 steps (the rules here check every 4), with the
/// members' renders on the clean latent after each: what every check scored.
fn fit_check_by_check(
    cfg: &DipConfig,
    data: &(Vec<Image>, Vec<Mask>),
    checks: usize,
) -> (Dip<'static>, Vec<Vec<Vec<Image>>>) {
    let mut dip = Dip::new(gpu(), cfg.clone()).unwrap();
    dip.set_target(data.0.clone()).unwrap();
    dip.set_mask(data.1.clone()).unwrap();
    let renders = (0..checks)
        .map(|_| {
            dip.fit(4, |_| ControlFlow::Continue(())).unwrap();
            dip.render_members().unwrap()
        })
        .collect();
    (dip, renders)
}

/// Every check's score is the spread of the members' outputs at that step (fitted check by
/// check and rendered on the clean latent), and the kept output is the one at the lowest.
#[test]
fn spread_checks_score_the_members_disagreement_in_the_cloud() {
    let data = problem(&mut Rng::new(81));
    let cfg = DipConfig {
        stop: Some(spread_rule(0.1)),
        ensemble: 3,
        lr: 0.05,
        ..small(5)
    };
    let (mut dip, renders) = fit_check_by_check(&cfg, &data, 6);
    let want: Vec<f64> = renders.iter().map(|r| spread_of(r, &data.1[0])).collect();
    let curve = &dip.monitors()[0].curve;
    assert_eq!(curve.len(), 6);
    for (i, ((step, got), w)) in curve.iter().zip(&want).enumerate() {
        assert_eq!(*step, 4 * (i + 1));
        assert!(w.is_finite() && *w > 0.0, "check {i}: spread {w}");
        assert!((got - w).abs() <= 1e-9 * w, "check {i}: {got} vs {w}");
    }
    let best = (curve.iter()).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    assert_eq!(dip.monitors()[0].kept_step(), Some(best));
    // The kept output is the members' output at that step, to the bit.
    let kept = dip.member_outputs().unwrap();
    let again = fitted(&cfg, &data, best).member_outputs().unwrap();
    for k in 0..3 {
        assert!(kept[k][0].data == again[k][0].data, "member {k}");
    }
}

/// The mean squared error, over the held-out elements of source 0, of the members' mean (taken
/// in f64 and rounded to f32, as the ensemble's result is): what a held-out check scores.
fn heldout_error_of(members: &[Vec<Image>], held: &Mask, target: &Image) -> f64 {
    let k = members.len() as f64;
    let (mut sum, mut n) = (0.0, 0usize);
    for p in (0..target.h * target.w).filter(|&p| held.clear[p]) {
        for ch in 0..target.c {
            let i = p * target.c + ch;
            let mean = (members.iter().map(|m| m[0].data[i] as f64).sum::<f64>() / k) as f32;
            sum += (mean as f64 - target.data[i] as f64).powi(2);
            n += 1;
        }
    }
    sum / n as f64
}

/// Every held-out check scores the error of the members' mean on the held-out pixels at that
/// step (the signal an ensemble of one, or an ensemble with `signal: Heldout`, stops on).
#[test]
fn heldout_checks_score_the_error_of_the_members_mean() {
    let data = problem(&mut Rng::new(83));
    let cfg = DipConfig {
        stop: Some(StopRule {
            signal: StopSignal::Heldout,
            ..spread_rule(0.15)
        }),
        ensemble: 2,
        lr: 0.05,
        ..small(6)
    };
    let (dip, renders) = fit_check_by_check(&cfg, &data, 4);
    let held = dip.heldout_mask().unwrap();
    assert!(held.clear.iter().any(|&h| h), "nothing held out");
    let want: Vec<f64> = (renders.iter())
        .map(|r| heldout_error_of(r, &held, &data.0[0]))
        .collect();
    let curve = &dip.monitors()[0].curve;
    assert_eq!(curve.len(), 4);
    for (i, ((_, got), w)) in curve.iter().zip(&want).enumerate() {
        assert!(w.is_finite() && *w > 0.0, "check {i}: error {w}");
        assert!((got - w).abs() <= 1e-9 * w, "check {i}: {got} vs {w}");
    }
}

/// The mean absolute difference, over the cloudy elements of source 0, between two renders of
/// one network: what a drift check scores.
fn drift_of(before: &Image, now: &Image, clear: &Mask) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for p in (0..now.h * now.w).filter(|&p| !clear.clear[p]) {
        for ch in 0..now.c {
            let i = p * now.c + ch;
            sum += (now.data[i] as f64 - before.data[i] as f64).abs();
            n += 1;
        }
    }
    sum / n as f64
}

/// One network stops on its drift: the first check only records the fill, every later one
/// scores its change since the check before (fitted check by check, rendered on the clean
/// latent), nothing is held out, and the kept output is the one at the lowest drift.
#[test]
fn drift_checks_score_the_change_of_the_fill_since_the_last_check() {
    let data = problem(&mut Rng::new(85));
    let cfg = DipConfig {
        stop: Some(StopRule {
            signal: StopSignal::Drift,
            ..spread_rule(0.0)
        }),
        ensemble: 1,
        lr: 0.05,
        ..small(7)
    };
    let (mut dip, renders) = fit_check_by_check(&cfg, &data, 6);
    assert!(!dip.heldout_mask().unwrap().clear.iter().any(|&h| h));
    let renders: Vec<&Image> = renders.iter().map(|r| &r[0][0]).collect();
    let curve = &dip.monitors()[0].curve;
    assert_eq!(curve.len(), 5, "{curve:?}");
    for (i, (step, got)) in curve.iter().enumerate() {
        let want = drift_of(renders[i], renders[i + 1], &data.1[0]);
        assert_eq!(*step, 4 * (i + 2));
        assert!(want.is_finite() && want > 0.0, "check {i}: drift {want}");
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "check {i}: {got} vs {want}"
        );
    }
    let best = (curve.iter()).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    assert_eq!(dip.monitors()[0].kept_step(), Some(best));
    let kept = dip.output().unwrap();
    let again = fitted(&cfg, &data, best).output().unwrap();
    assert!(kept[0].data == again[0].data, "kept output");
}

/// With the spread signal no pixel needs holding out: holdout 0 fits every clear pixel, the
/// checks still run, and the fit is not the one with held-out pixels.
#[test]
fn spread_signal_runs_without_held_out_pixels() {
    let data = problem(&mut Rng::new(82));
    let cfg = |holdout| DipConfig {
        stop: Some(spread_rule(holdout)),
        ensemble: 2,
        ..small(6)
    };
    let mut all = fitted(&cfg(0.0), &data, 8);
    assert_eq!(all.monitors()[0].curve.len(), 2);
    let held = all.heldout_mask().unwrap();
    assert!(held.clear.iter().all(|&h| !h), "nothing held out");
    let mut some = fitted(&cfg(0.2), &data, 8);
    assert!(some.heldout_mask().unwrap().clear.iter().any(|&h| h));
    assert!(all.member_outputs().unwrap()[0][0].data != some.member_outputs().unwrap()[0][0].data);
}

/// The spread needs two networks, and the held-out signal needs held-out pixels: both refused
/// when the fit is set up, naming the setting.
#[test]
fn spread_signal_settings_it_cannot_work_with_are_refused() {
    let one = DipConfig {
        stop: Some(spread_rule(0.1)),
        ensemble: 1,
        ..small(1)
    };
    let e = Dip::new(gpu(), one).err().expect("refused").to_string();
    assert!(e.contains("spread") && e.contains("ensemble"), "{e}");
    let none_held = DipConfig {
        stop: Some(StopRule {
            signal: StopSignal::Heldout,
            ..spread_rule(0.0)
        }),
        ensemble: 2,
        ..small(1)
    };
    let e = Dip::new(gpu(), none_held)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("holdout"), "{e}");
    assert!(spread_rule(0.0).validate_for(2).is_ok());
}
