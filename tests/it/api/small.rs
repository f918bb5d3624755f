//! Images too small for the network (issue 13): where 2^levels-padding would leave the deepest
//! level a single pixel, the image is reflect-padded to 2^(levels+1) on both sides and fitted
//! with the same network; every size whose network was defined keeps its padding (and so its
//! bits), and [`FitSize::note`] says what was done.
use crate::common::*;
use cloudfill::io::{Image, Mask};
use cloudfill::net::{FitSize, NetConfig};
use cloudfill::tape::Tape;
use cloudfill::{gpu::Shape, Dip, DipConfig};
use std::ops::ControlFlow;

/// Whether the network builds (is defined) at h×w: the tape refuses a one-pixel batch-norm.
fn defined(net: &NetConfig, h: usize, w: usize) -> bool {
    let mut tape = Tape::new();
    let x = tape.input(Shape::new(2, h, w));
    match net.build(&mut tape, x, 3) {
        Ok(_) => true,
        Err(e) => {
            assert!(e.to_string().contains("single pixel"), "{e}");
            false
        }
    }
}

/// The rule against the network itself: for 3-, 4- and 6-level networks and sizes 1…5·2^levels,
/// the padding is the next multiple of 2^levels wherever the network is defined there (sizes
/// that fit before are unchanged), and only where it is not, 2^(levels+1) on both sides, where
/// it is defined with a 2×2 deepest level.
#[test]
fn only_sizes_without_a_network_are_padded_further() {
    for levels in [3, 4, 6] {
        let net = NetConfig::with_levels(levels);
        let m = 1 << levels;
        let sizes: Vec<usize> = (1..=5 * m).step_by(m / 4).chain([m, 2 * m]).collect();
        for &h in &sizes {
            for &w in &sizes {
                let f = net.fit_size(h, w);
                let multiple = (h.div_ceil(m) * m, w.div_ceil(m) * m);
                assert_eq!(f.multiple, multiple);
                if defined(&net, multiple.0, multiple.1) {
                    assert_eq!(f.padded, multiple, "{levels} levels, {h}×{w}");
                    assert!(!f.enlarged() && f.note().is_none());
                } else {
                    assert_eq!(f.padded, (2 * m, 2 * m), "{levels} levels, {h}×{w}");
                    assert!(defined(&net, 2 * m, 2 * m));
                    assert!(f.enlarged());
                }
            }
        }
    }
    let f = NetConfig::default().fit_size(64, 64);
    let note = f.note().unwrap();
    assert!(note.contains("64×64") && note.contains("128×128"), "{note}");
    assert!(note.contains("deepest level is 2×2"), "{note}");
    // 64×65 was fitted at 64×128 (a 1×2 deepest level) before and still is.
    assert_eq!(NetConfig::default().fit_size(64, 65).padded, (64, 128));
}

/// A random `c`-channel image and a striped mask of h×w.
fn problem(h: usize, w: usize, c: usize, seed: u64) -> (Image, Mask) {
    let mut rng = Rng::new(seed);
    let data = (0..h * w * c).map(|_| rng.uniform(0.0, 1.0)).collect();
    let clear = (0..h * w).map(|p| (p / w) % 8 > 2).collect();
    (Image::new(h, w, c, data).unwrap(), Mask { h, w, clear })
}

/// 64×64 and 40×24 (W×H) with the default 6-level network: fitted at 128×128, cropped back,
/// the same bits for the same seed, and the size and note reported by the `Dip`.
#[test]
fn small_images_fit_with_the_default_network() {
    for (h, w) in [(64, 64), (24, 40)] {
        let run = |seed: u64| {
            let cfg = DipConfig {
                seed,
                ..DipConfig::default()
            };
            let mut dip = Dip::new(gpu(), cfg).unwrap();
            let (image, mask) = problem(h, w, 3, 7);
            dip.set_target(vec![image]).unwrap();
            dip.set_mask(vec![mask]).unwrap();
            let f: FitSize = dip.fit_size();
            assert!(f.note().is_some(), "{h}×{w}: {f:?}");
            let loss = dip.fit(2, |_| ControlFlow::Continue(())).unwrap();
            assert!(loss.unwrap().is_finite());
            assert_eq!(dip.padded_size(), (128, 128));
            let out = dip.output().unwrap().remove(0);
            assert_eq!((out.h, out.w, out.c), (h, w, 3));
            assert!(out
                .data
                .iter()
                .all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
            out.data
        };
        let (a, b) = (run(1), run(1));
        let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{h}×{w}: same seed, same bits");
    }
}
