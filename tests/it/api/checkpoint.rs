//! A fit saved part way and resumed in a new `Dip` ends bit for bit as the uninterrupted fit;
//! a checkpoint of other settings, other inputs, or a damaged file is refused by name.
use crate::common::*;
use cloudfill::dip::Checkpoint;
use cloudfill::io::{Image, Mask};
use cloudfill::{Dip, DipConfig, Error, NetConfig};
use std::ops::ControlFlow;

fn cfg(lr: f32) -> DipConfig {
    DipConfig {
        net: NetConfig::with_levels(3),
        seed: 11,
        lr,
        loss_every: 3,
        ..DipConfig::default()
    }
}

/// A Dip over a 20×28×2 image (padded to 24×32), every 7th pixel cloudy; `shift` changes one value.
fn dip(c: DipConfig, shift: f32) -> Dip<'static> {
    let (h, w) = (20, 28);
    let mut rng = Rng::new(3);
    let mut img: Vec<f32> = (0..h * w * 2).map(|_| rng.uniform(0.0, 1.0)).collect();
    img[5] += shift;
    let clear: Vec<bool> = (0..h * w).map(|i| i % 7 != 0).collect();
    let mut d = Dip::new(gpu(), c).unwrap();
    d.set_target(vec![Image::new(h, w, 2, img).unwrap()])
        .unwrap();
    d.set_mask(vec![Mask { h, w, clear }]).unwrap();
    d
}

fn go(d: &mut Dip, n: usize) -> Option<f32> {
    d.fit(n, |_| ControlFlow::Continue(())).unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every parameter's values, as bits, in order.
fn param_bits(d: &mut Dip) -> Vec<u32> {
    let p = d.parameters().unwrap();
    p.iter().flat_map(|p| bits(&p.data)).collect()
}

#[test]
fn checkpoint_resume_is_bit_identical_to_an_uninterrupted_fit() {
    let mut whole = dip(cfg(2e-2), 0.0);
    let loss = go(&mut whole, 12);
    let want = (
        param_bits(&mut whole),
        bits(&whole.output().unwrap()[0].data),
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fit.ckpt");
    let mut first = dip(cfg(2e-2), 0.0);
    go(&mut first, 7);
    first.checkpoint().unwrap().save(&path).unwrap();
    drop(first);

    let mut second = dip(cfg(2e-2), 0.0);
    let c = Checkpoint::load(&path).unwrap();
    assert_eq!(c.step(), 7);
    second.resume(&c).unwrap();
    assert_eq!(second.steps_done(), 7);
    let rest = 12 - second.steps_done();
    let resumed_loss = go(&mut second, rest);
    assert_eq!(second.steps_done(), 12);
    let got = (
        param_bits(&mut second),
        bits(&second.output().unwrap()[0].data),
    );
    assert!(
        got.0 == want.0,
        "parameters differ from the uninterrupted fit's"
    );
    assert!(
        got.1 == want.1,
        "output differs from the uninterrupted fit's"
    );
    assert_eq!(resumed_loss.map(f32::to_bits), loss.map(f32::to_bits));
}

#[test]
fn checkpoint_of_other_settings_inputs_or_damaged_is_refused() {
    let mut a = dip(cfg(2e-2), 0.0);
    go(&mut a, 2);
    let c = a.checkpoint().unwrap();
    let refused = |d: &mut Dip| match d.resume(&c) {
        Err(Error::CheckpointMismatch { setting, .. }) => setting,
        other => panic!("expected a mismatch, got {other:?}"),
    };
    assert_eq!(refused(&mut dip(cfg(1e-2), 0.0)), "lr");
    assert_eq!(refused(&mut dip(cfg(2e-2), 0.5)), "input data");
    let seed = DipConfig {
        seed: 12,
        ..cfg(2e-2)
    };
    assert_eq!(refused(&mut dip(seed, 0.0)), "seed");
    // a caller's own setting
    let c2 = c.clone().with("steps", 100);
    let mut now = a.fingerprint();
    now.push(("steps".into(), "200".into()));
    let e = c2.check(&now).unwrap_err().to_string();
    assert!(e.contains("`steps` was 100, now 200"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fit.ckpt");
    c.save(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    std::fs::write(&path, &bytes[..n - 100]).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(e.contains("fit.ckpt") && e.contains("cut short"), "{e}");
    bytes[n / 2] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(e.contains("damaged"), "{e}");
    std::fs::write(&path, b"not a checkpoint at all").unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(e.contains("not a cloudfill checkpoint"), "{e}");
}

/// A checkpoint of format version 2 (before the drift signal's fill was kept) is still read and
/// resumes: the same state as the version-3 file it is made from.
#[test]
fn checkpoint_of_format_version_2_is_still_read() {
    let mut a = dip(cfg(2e-2), 0.0);
    go(&mut a, 2);
    let c = a.checkpoint().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fit.ckpt");
    c.save(&path).unwrap();
    let v3 = std::fs::read(&path).unwrap();
    assert_eq!(v3[8..12], 3u32.to_le_bytes());
    // Version 2: no list of last fills (a u32 count before the 9 divergence bytes and the hash).
    let n = v3.len();
    let mut v2 = [&v3[..n - 8 - 9 - 4], &v3[n - 8 - 9..n - 8]].concat();
    assert_eq!(v3[n - 8 - 9 - 4..n - 8 - 9], 0u32.to_le_bytes());
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let fnv = (v2.iter()).fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    v2.extend(fnv.to_le_bytes());
    std::fs::write(&path, &v2).unwrap();
    let old = Checkpoint::load(&path).unwrap();
    assert_eq!(old, c);
    dip(cfg(2e-2), 0.0).resume(&old).unwrap();
    v2[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, &v2).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(e.contains("version 1") && e.contains("2 to 3"), "{e}");
}

/// An ensemble under a stopping rule resumes bit for bit too: its checks (curves, best
/// outputs, stops) travel in the checkpoint, so the kept outputs, uncertainty and kept steps are
/// the uninterrupted fit's; a checkpoint of another ensemble size or rule is refused.
#[test]
fn checkpoint_of_an_ensemble_with_stopping_resumes_bit_identically() {
    let rule = cloudfill::StopRule {
        every: 3,
        patience: Some(9),
        min_steps: 0,
        ..cloudfill::StopRule::default()
    };
    resumes_bit_identically(rule, 2);
    // The drift signal compares each check with the last one before the checkpoint: the
    // checkpoint carries that fill (version 3).
    let drift = cloudfill::StopRule {
        holdout: 0.0,
        signal: cloudfill::StopSignal::Drift,
        ..rule
    };
    resumes_bit_identically(drift, 1);
}

/// A fit of 20 steps with `rule`, and the same fit saved after 10 and resumed: the same output,
/// uncertainty, kept steps and curves, to the bit; a checkpoint of it is refused by a fit with
/// another ensemble size or no rule.
fn resumes_bit_identically(rule: cloudfill::StopRule, ensemble: usize) {
    let c = DipConfig {
        ensemble,
        stop: Some(rule),
        ..cfg(5e-2)
    };
    let kept =
        |d: &Dip| -> Vec<Option<usize>> { d.monitors().iter().map(|m| m.kept_step()).collect() };
    let mut whole = dip(c.clone(), 0.0);
    go(&mut whole, 20);
    let want = (
        bits(&whole.output().unwrap()[0].data),
        bits(&whole.uncertainty().unwrap()[0].data),
        kept(&whole),
        whole.monitors().to_vec(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fit.ckpt");
    let mut first = dip(c.clone(), 0.0);
    go(&mut first, 10);
    first.checkpoint().unwrap().save(&path).unwrap();
    drop(first);
    let mut second = dip(c.clone(), 0.0);
    second.resume(&Checkpoint::load(&path).unwrap()).unwrap();
    go(&mut second, 10);
    assert!(bits(&second.output().unwrap()[0].data) == want.0, "output");
    assert!(
        bits(&second.uncertainty().unwrap()[0].data) == want.1,
        "uncertainty"
    );
    assert_eq!(kept(&second), want.2);
    assert_eq!(second.monitors(), &want.3[..]);
    assert!(want.3[0].curve.len() >= 5, "{:?}", want.3[0].curve);
    let other = DipConfig {
        ensemble: 3,
        ..c.clone()
    };
    let e = dip(other, 0.0)
        .resume(&Checkpoint::load(&path).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("ensemble"), "{e}");
    let none = DipConfig { stop: None, ..c };
    let e = dip(none, 0.0)
        .resume(&Checkpoint::load(&path).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("stop"), "{e}");
}
