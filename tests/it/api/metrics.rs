//! Quality metrics (PSNR, SSIM map as skimage, mean fill) and the synthetic scene; no GPU.
use cloudfill::metrics::{self, mean_fill, psnr, scores, ssim_map};
use cloudfill::synthetic::scene;

fn hsh(k: u32, s: u32) -> u32 {
    let mut a = k
        .wrapping_mul(2_654_435_761)
        .wrapping_add(s.wrapping_mul(97_531));
    a ^= a >> 15;
    a = a.wrapping_mul(2_246_822_519);
    a ^ (a >> 13)
}

/// A 13×17×3 truth and a noisy prediction with some values outside [0, 1] (multiples of 1/256,
/// exact in f32 and f64), and a disc of cloud (61 pixels).
fn case() -> (Vec<f32>, Vec<f32>, Vec<bool>) {
    let (h, w, c) = (13u32, 17u32, 3u32);
    let (mut truth, mut pred, mut clear) = (vec![], vec![], vec![]);
    for y in 0..h {
        for x in 0..w {
            clear.push((x as i32 - 8).pow(2) + (y as i32 - 6).pow(2) >= 20);
            for ch in 0..c {
                let k = (y * w + x) * c + ch;
                let t = ((x * 9 + y * 5 + ch * 37) % 200 + hsh(k, 1) % 60) as i32 - 20;
                let spike = if hsh(k, 3) % 10 == 0 { 64 } else { 0 };
                let p = t + (hsh(k, 2) % 41) as i32 - 20 + spike;
                truth.push(t as f32 / 256.0);
                pred.push(p as f32 / 256.0);
            }
        }
    }
    (pred, truth, clear)
}

/// Values from the reference's `metrics` (dip_torch.py) with scikit-image 0.26:
/// `smap = structural_similarity(gt01, pred, channel_axis=2, data_range=1.0, full=True)[1]`
/// on the clipped images of `case()` (rebuilt in numpy with the same integer hash).
#[test]
fn scores_match_the_reference_metrics() {
    let (pred, truth, clear) = case();
    assert_eq!(clear.iter().filter(|c| !**c).count(), 61);
    let s = scores(&pred, &truth, 13, 17, 3, &clear);
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() < 1e-9 * want.abs(),
            "{what}: {got} vs {want}"
        )
    };
    close(s.psnr_cloud.unwrap(), 20.54708143363776, "psnr_cloud");
    close(s.psnr_clear.unwrap(), 21.03286999400412, "psnr_clear");
    close(s.psnr_full, 20.89326475997626, "psnr_full");
    close(s.ssim_cloud.unwrap(), 0.8099158862741106, "ssim_cloud");
    close(s.ssim_full, 0.7856104158809402, "ssim_full");
    // smap.mean(axis=2) at corners, edges and inside (the reflect border matters at the edges).
    let map = ssim_map(&pred, &truth, 13, 17, 3);
    let at = [
        ((0, 0), 0.5215898737567923),
        ((0, 16), 0.7424252795237537),
        ((12, 0), 0.7381717533806175),
        ((12, 16), 0.826797917676192),
        ((1, 2), 0.7188117350861218),
        ((6, 8), 0.858293270896518),
        ((3, 14), 0.8748641229483382),
    ];
    for ((y, x), want) in at {
        close(map[y * 17 + x], want, &format!("smap[{y},{x}]"));
    }
}

#[test]
fn psnr_of_a_constant_error() {
    let truth: Vec<f32> = (0..4 * 5 * 3)
        .map(|i| 0.2 + 0.01 * (i % 7) as f32)
        .collect();
    let pred: Vec<f32> = truth.iter().map(|t| t + 0.1).collect();
    let p = psnr(&pred, &truth, |_| true, 3).unwrap();
    assert!((p - 20.0).abs() < 1e-5, "{p}"); // 10·log10(1 / 0.01), f32 inputs
                                             // Only the selected pixels count: one pixel off by 0.5 in one channel, outside the selection.
    let mut bad = pred.clone();
    bad[7 * 3 + 1] = 0.9;
    assert_eq!(
        psnr(&bad, &truth, |q| q != 7, 3),
        psnr(&pred, &truth, |q| q != 7, 3)
    );
    assert!(psnr(&bad, &truth, |q| q == 7, 3).unwrap() < 20.0);
    assert_eq!(psnr(&pred, &truth, |_| false, 3), None);
    assert_eq!(psnr(&truth, &truth, |_| true, 3), Some(f64::INFINITY));
    // Clipped to [0, 1]: values beyond it score as the bound.
    let over: Vec<f32> = truth.iter().map(|_| 1.7).collect();
    let ones: Vec<f32> = truth.iter().map(|_| 1.0).collect();
    assert_eq!(
        psnr(&over, &truth, |_| true, 3),
        psnr(&ones, &truth, |_| true, 3)
    );
}

#[test]
fn ssim_of_identical_and_shifted_images() {
    let (pred, truth, _) = case();
    assert!(ssim_map(&truth, &truth, 13, 17, 3)
        .iter()
        .all(|s| (s - 1.0).abs() < 1e-12));
    assert!(ssim_map(&pred, &pred, 13, 17, 3)
        .iter()
        .all(|s| (s - 1.0).abs() < 1e-12));
    // Constant 0.5 vs 0.6: variances vanish, S = (2·0.5·0.6 + C1)/(0.5² + 0.6² + C1), C1 = 1e-4
    // (skimage gives 0.9836092443862282).
    let (a, b) = (vec![0.5f32; 9 * 10 * 3], vec![0.6f32; 9 * 10 * 3]);
    let want = 0.6001 / 0.6101;
    for s in ssim_map(&b, &a, 9, 10, 3) {
        assert!((s - want).abs() < 1e-6, "{s} vs {want}");
    }
    // Images smaller than the window reflect repeatedly and stay finite.
    let small = ssim_map(&pred[..4 * 5], &truth[..4 * 5], 4, 5, 1);
    assert!(small.iter().all(|s| s.is_finite() && *s <= 1.0));
}

#[test]
fn scores_without_cloud_or_without_clear_pixels() {
    let (pred, truth, _) = case();
    let all_clear = vec![true; 13 * 17];
    let s = scores(&pred, &truth, 13, 17, 3, &all_clear);
    assert_eq!((s.psnr_cloud, s.ssim_cloud), (None, None));
    assert_eq!(s.psnr_clear, Some(s.psnr_full));
    let all_cloud = vec![false; 13 * 17];
    let s = scores(&pred, &truth, 13, 17, 3, &all_cloud);
    assert_eq!(s.psnr_clear, None);
    assert_eq!(s.psnr_cloud, Some(s.psnr_full));
    assert!((s.ssim_cloud.unwrap() - s.ssim_full).abs() < 1e-15);
}

#[test]
fn mean_fill_uses_the_clear_pixels_per_channel() {
    // 2×2 pixels, 2 channels; pixel 3 is cloud.
    let img = [0.1, 1.0, 0.2, 2.0, 0.6, 3.0, 9.0, 9.0];
    let clear = [true, true, true, false];
    let out = mean_fill(&img, 2, 2, 2, &clear);
    let want = [0.1, 1.0, 0.2, 2.0, 0.6, 3.0, 0.3, 2.0];
    for (g, w) in out.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{out:?}");
    }
    assert_eq!(mean_fill(&img, 2, 2, 2, &[false; 4]), vec![0.0; 8]);
    // The baseline is beaten by the truth itself and beats a black fill.
    let (_, truth, clear) = case();
    let filled = mean_fill(&truth, 13, 17, 3, &clear);
    let base = metrics::scores(&filled, &truth, 13, 17, 3, &clear);
    let black: Vec<f32> = (0..truth.len())
        .map(|k| if clear[k / 3] { truth[k] } else { 0.0 })
        .collect();
    let worse = metrics::scores(&black, &truth, 13, 17, 3, &clear);
    assert!(base.psnr_cloud.unwrap() > worse.psnr_cloud.unwrap() + 3.0);
    assert_eq!(base.psnr_clear, Some(f64::INFINITY));
}

#[test]
fn synthetic_scene_is_deterministic_and_well_formed() {
    let (h, w) = (96, 120);
    let a = scene(h, w, 1);
    assert_eq!(a, scene(h, w, 1), "same seed, same scene");
    assert_ne!(a.truth, scene(h, w, 2).truth, "another seed, another scene");
    assert_eq!((a.h, a.w), (h, w));
    assert_eq!(a.truth.len(), h * w * 3);
    assert_eq!(a.cloudy.len(), h * w * 3);
    assert_eq!(a.sar.len(), h * w * 2);
    assert_eq!(a.clear.len(), h * w);
    for (seed, (h, w)) in (0..36).zip([(96, 120), (32, 32), (200, 64)].iter().cycle()) {
        let (h, w) = (*h, *w);
        let s = scene(h, w, seed);
        let cloud = s.clear.iter().filter(|c| !**c).count() as f64 / (h * w) as f64;
        assert!(
            (0.15..=0.30).contains(&cloud),
            "seed {seed}: cloud fraction {cloud}"
        );
        assert!(
            s.truth.iter().all(|v| (0.05..=0.9).contains(v)),
            "seed {seed}: truth range"
        );
        assert!(
            s.sar.iter().all(|v| (0.0..=2.0).contains(v)),
            "seed {seed}: SAR range"
        );
        for p in 0..h * w {
            let (t, c) = (&s.truth[p * 3..p * 3 + 3], &s.cloudy[p * 3..p * 3 + 3]);
            if s.clear[p] {
                assert_eq!(t, c, "seed {seed}: clear pixels are the truth");
            } else {
                assert!(
                    c.iter().all(|v| *v > 0.75 && *v <= 1.0),
                    "seed {seed}: cloud is bright"
                );
            }
        }
    }
}

#[test]
fn synthetic_scene_has_structure_for_inpainting() {
    let s = scene(128, 128, 5);
    // Not flat: the RGB varies a lot across the image, little between most neighbours (fields).
    let (n, m) = (
        s.truth.len() as f64,
        s.truth.iter().map(|&v| v as f64).sum::<f64>() / s.truth.len() as f64,
    );
    let var = s.truth.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
    let step: f64 = (0..128 * 127)
        .map(|p| (s.truth[p * 3 + 1] - s.truth[p * 3 + 4]).abs() as f64)
        .sum::<f64>()
        / (128.0 * 127.0);
    assert!(var > 0.01, "variance {var}");
    assert!(
        step < 0.5 * var.sqrt(),
        "neighbour step {step} vs std {}",
        var.sqrt()
    );
    // The SAR guide follows the scene: VH correlates with the green (vegetation) channel.
    let corr = correlation(
        &(0..128 * 128)
            .map(|p| s.sar[p * 2 + 1] as f64)
            .collect::<Vec<_>>(),
        &(0..128 * 128)
            .map(|p| (s.truth[p * 3 + 1] - s.truth[p * 3]) as f64)
            .collect::<Vec<_>>(),
    );
    assert!(corr > 0.3, "VH vs greenness correlation {corr}");
    // Tiny scenes still have a clear pixel and a cloud pixel.
    for (h, w) in [(1, 2), (3, 3), (8, 5)] {
        let t = scene(h, w, 9);
        assert!(
            t.clear.iter().any(|c| *c) && t.clear.iter().any(|c| !*c),
            "{h}×{w}"
        );
    }
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Spearman's correlation: 1 for any increasing relation, −1 for a decreasing one, ties share
/// their mean rank (scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9487), None when a
/// side is constant; the uncertainty score uses the cloud pixels only.
#[test]
fn spearman_ranks_and_the_uncertainty_score() {
    use cloudfill::metrics::{spearman, uncertainty_spearman};
    let x = [0.1, 0.5, 0.2, 0.9, 0.3];
    let cubed: Vec<f64> = x.iter().map(|v: &f64| v.powi(3)).collect();
    assert!((spearman(&x, &cubed).unwrap() - 1.0).abs() < 1e-12);
    let neg: Vec<f64> = x.iter().map(|v| -v).collect();
    assert!((spearman(&x, &neg).unwrap() + 1.0).abs() < 1e-12);
    let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
    assert!((r - 0.948_683_298).abs() < 1e-6, "{r}");
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    // Two cloud pixels whose σ ranks their error, one clear pixel that would reverse it.
    let (pred, truth) = ([0.5f32, 0.2, 0.9], [0.5f32, 0.5, 0.5]);
    let sigma = [0.3f32, 0.1, 0.0];
    let clear = [true, false, false];
    let r = uncertainty_spearman(&pred, &sigma, &truth, 1, &clear).unwrap();
    assert!(
        (r + 1.0).abs() < 1e-12,
        "errors 0.3, 0.4 against σ 0.1, 0.0: {r}"
    );
}
