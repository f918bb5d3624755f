//! Inpainting quality, as SPEC §6 and the reference's `dip_torch.py` `metrics`: PSNR and SSIM
//! inside the cloud, PSNR over the clear pixels and the whole image, SSIM over the whole image.
//!
//! Images are H×W×C interleaved f32 (row-major, channel last), both clipped to [0, 1] before
//! scoring, data range 1. Masks are H×W, `true` = clear; the cloud is `!clear`.
//!
//! - PSNR = 10·log₁₀(1 / mean (pred − truth)²) over every channel of the selected pixels
//!   (+∞ for a perfect match).
//! - SSIM is skimage's `structural_similarity(truth, pred, channel_axis=2, data_range=1.0,
//!   full=True)` map: 7×7 uniform window (scipy `uniform_filter`, mode `reflect`), K1 = 0.01,
//!   K2 = 0.03, sample covariance (×49/48); the per-channel maps averaged over channels. The
//!   reference averages this full map over the selected pixels (no border cropping), and so do we.

/// The scores of one prediction against the truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// PSNR inside the cloud (`None` when there is no cloud).
    pub psnr_cloud: Option<f64>,
    /// PSNR over the clear pixels (`None` when there is none).
    pub psnr_clear: Option<f64>,
    /// PSNR over the whole image.
    pub psnr_full: f64,
    /// Mean SSIM inside the cloud (`None` when there is no cloud).
    pub ssim_cloud: Option<f64>,
    /// Mean SSIM over the whole image.
    pub ssim_full: f64,
}

const WIN: usize = 7;
const K1: f64 = 0.01;
const K2: f64 = 0.03;

fn clip(x: f32) -> f64 {
    (x as f64).clamp(0.0, 1.0)
}

/// Every score; `pred` and `truth` are H×W×C, `clear` is H×W.
///
/// # Panics
/// When the lengths do not match `h`, `w`, `c` (a programming error, not bad input).
pub fn scores(pred: &[f32], truth: &[f32], h: usize, w: usize, c: usize, clear: &[bool]) -> Scores {
    assert_eq!(clear.len(), h * w, "mask length");
    let smap = ssim_map(pred, truth, h, w, c);
    let mean_over = |sel: &dyn Fn(usize) -> bool| {
        let (s, n) = (0..h * w)
            .filter(|&p| sel(p))
            .fold((0.0, 0usize), |(s, n), p| (s + smap[p], n + 1));
        (n > 0).then(|| s / n as f64)
    };
    Scores {
        psnr_cloud: psnr(pred, truth, |p| !clear[p], c),
        psnr_clear: psnr(pred, truth, |p| clear[p], c),
        psnr_full: psnr(pred, truth, |_| true, c).unwrap_or(f64::NAN),
        ssim_cloud: mean_over(&|p| !clear[p]),
        ssim_full: mean_over(&|_| true).unwrap_or(f64::NAN),
    }
}

/// PSNR (data range 1, values clipped to [0, 1]) over every channel of the pixels `p` with
/// `select(p)`; `None` when no pixel is selected, +∞ when they match exactly.
pub fn psnr(pred: &[f32], truth: &[f32], select: impl Fn(usize) -> bool, c: usize) -> Option<f64> {
    assert_eq!(pred.len(), truth.len(), "image lengths");
    let c = c.max(1);
    let (mut sum, mut n) = (0.0, 0usize);
    for p in (0..pred.len() / c).filter(|&p| select(p)) {
        for k in p * c..(p + 1) * c {
            let d = clip(pred[k]) - clip(truth[k]);
            sum += d * d;
        }
        n += c;
    }
    (n > 0).then(|| 10.0 * (n as f64 / sum).log10())
}

/// scipy.ndimage's `reflect` boundary: (d c b a | a b c d | d c b a), repeated as needed.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = i.rem_euclid(2 * n);
    (if m >= n { 2 * n - 1 - m } else { m }) as usize
}

/// The 7×7 mean of an H×W plane (separable, rows then columns), reflect borders.
fn box7(x: &[f64], h: usize, w: usize) -> Vec<f64> {
    let r = (WIN / 2) as isize;
    let mut rows = vec![0.0; h * w];
    for y in 0..h {
        for xx in 0..w {
            let s: f64 = (-r..=r)
                .map(|d| x[y * w + reflect(xx as isize + d, w)])
                .sum();
            rows[y * w + xx] = s / WIN as f64;
        }
    }
    let mut out = vec![0.0; h * w];
    for y in 0..h {
        for xx in 0..w {
            let s: f64 = (-r..=r)
                .map(|d| rows[reflect(y as isize + d, h) * w + xx])
                .sum();
            out[y * w + xx] = s / WIN as f64;
        }
    }
    out
}

/// The SSIM map of one channel (x = truth, y = pred, both clipped).
fn ssim_channel(x: &[f64], y: &[f64], h: usize, w: usize) -> Vec<f64> {
    let prod = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).collect::<Vec<_>>();
    let (ux, uy) = (box7(x, h, w), box7(y, h, w));
    let uxx = box7(&prod(x, x), h, w);
    let uyy = box7(&prod(y, y), h, w);
    let uxy = box7(&prod(x, y), h, w);
    let np = (WIN * WIN) as f64;
    let cov_norm = np / (np - 1.0);
    let (c1, c2) = (K1 * K1, K2 * K2);
    (0..h * w)
        .map(|i| {
            let vx = cov_norm * (uxx[i] - ux[i] * ux[i]);
            let vy = cov_norm * (uyy[i] - uy[i] * uy[i]);
            let vxy = cov_norm * (uxy[i] - ux[i] * uy[i]);
            let a1 = 2.0 * ux[i] * uy[i] + c1;
            let a2 = 2.0 * vxy + c2;
            let b1 = ux[i] * ux[i] + uy[i] * uy[i] + c1;
            let b2 = vx + vy + c2;
            a1 * a2 / (b1 * b2)
        })
        .collect()
}

/// The H×W SSIM map (skimage's full map averaged over channels), values clipped to [0, 1].
pub fn ssim_map(pred: &[f32], truth: &[f32], h: usize, w: usize, c: usize) -> Vec<f64> {
    assert_eq!(pred.len(), h * w * c, "prediction length");
    assert_eq!(truth.len(), h * w * c, "truth length");
    let mut map = vec![0.0; h * w];
    for k in 0..c {
        let plane = |img: &[f32]| (0..h * w).map(|p| clip(img[p * c + k])).collect::<Vec<_>>();
        for (m, s) in map
            .iter_mut()
            .zip(ssim_channel(&plane(truth), &plane(pred), h, w))
        {
            *m += s / c as f64;
        }
    }
    map
}

/// The baseline to beat: cloud pixels filled with the per-channel mean of the clear pixels
/// (the clear pixels kept; all-cloud images come back filled with zeros). Not clipped: the
/// scores clip.
pub fn mean_fill(img: &[f32], h: usize, w: usize, c: usize, clear: &[bool]) -> Vec<f32> {
    assert_eq!(img.len(), h * w * c, "image length");
    assert_eq!(clear.len(), h * w, "mask length");
    let n = clear.iter().filter(|&&b| b).count();
    let means: Vec<f32> = (0..c)
        .map(|k| {
            let s: f64 = (0..h * w)
                .filter(|&p| clear[p])
                .map(|p| img[p * c + k] as f64)
                .sum();
            if n > 0 {
                (s / n as f64) as f32
            } else {
                0.0
            }
        })
        .collect();
    let mut out = img.to_vec();
    for p in (0..h * w).filter(|&p| !clear[p]) {
        out[p * c..(p + 1) * c].copy_from_slice(&means);
    }
    out
}

/// Spearman's rank correlation of `a` and `b` (Pearson's on their ranks, ties sharing the mean
/// rank); `None` for fewer than two values or a constant one.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    if ra.len() < 2 || ra.len() != rb.len() {
        return None;
    }
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            r[k] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

/// How well an uncertainty map ranks the error inside the cloud: Spearman's correlation, over the
/// cloud pixels (`clear` false), of the mean σ over the first three bands against the mean
/// |clip(pred, 0, 1) − clip(truth, 0, 1)| over them (the measure of the reference's ensemble
/// scripts). Images are H×W×C pixel-major with `c` bands.
pub fn uncertainty_spearman(
    pred: &[f32],
    sigma: &[f32],
    truth: &[f32],
    c: usize,
    clear: &[bool],
) -> Option<f64> {
    let bands = c.min(3);
    let (mut err, mut sig) = (Vec::new(), Vec::new());
    for (p, _) in clear.iter().enumerate().filter(|(_, &cl)| !cl) {
        let px = p * c..p * c + bands;
        let e = (px.clone())
            .map(|i| (pred[i].clamp(0.0, 1.0) as f64 - truth[i].clamp(0.0, 1.0) as f64).abs());
        err.push(e.sum::<f64>() / bands as f64);
        sig.push(px.map(|i| sigma[i] as f64).sum::<f64>() / bands as f64);
    }
    spearman(&sig, &err)
}
