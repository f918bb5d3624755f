//! The built-in synthetic scene (for `cloudfill demo` and the tests), deterministic from a seed.
//!
//! An agricultural landscape: fields as the cells of a jittered-grid Voronoi diagram, each with
//! its own crop or soil colour, ploughing stripes and a gentle gradient; two straight roads and a
//! meandering river. A SAR-like guide (VV, VH) follows the same structure (vegetation raises VH,
//! roughness VV, water is dark) with 4-look multiplicative speckle. A few blobby clouds (unions of
//! discs around 2–4 centres) cover 15–30% of the image (for images of at least 32×32; never all of
//! it, never none of it for two pixels or more), painted bright white-ish in `cloudy`.
use crate::splitmix::SplitMix;

/// A synthetic scene; images H×W×C interleaved (channel last), masks H×W.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub h: usize,
    pub w: usize,
    /// Cloud-free RGB, H×W×3, in [0.05, 0.9].
    pub truth: Vec<f32>,
    /// SAR-like guide, H×W×2 (VV, VH) in [0, 2].
    pub sar: Vec<f32>,
    /// H×W, `false` = cloud.
    pub clear: Vec<bool>,
    /// `truth` with the clouds painted in.
    pub cloudy: Vec<f32>,
}

/// The scene's random numbers: a SplitMix64 stream.
struct Rng(SplitMix);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        self.0.unit_f64()
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f()
    }
    /// Uniform in (0, 1].
    fn open(&mut self) -> f64 {
        1.0 - self.f()
    }
}

/// One field: colour, SAR backscatter and texture.
struct Field {
    cx: f64,
    cy: f64,
    rgb: [f64; 3],
    sar: [f64; 2],
    stripe: (f64, f64, f64, f64), // direction x, direction y, period, amplitude
    grad: (f64, f64),
}

/// Crop and soil colours (S2 RGB scaled as the reference: reflectance × 5).
const PALETTE: [([f64; 3], f64); 6] = [
    ([0.12, 0.32, 0.10], 0.9),  // green crop (colour, biomass)
    ([0.08, 0.22, 0.08], 1.0),  // dense vegetation
    ([0.55, 0.48, 0.24], 0.4),  // ripe cereal
    ([0.40, 0.30, 0.20], 0.05), // bare soil
    ([0.62, 0.54, 0.44], 0.0),  // dry light soil
    ([0.25, 0.40, 0.18], 0.7),  // grassland
];

fn make_field(rng: &mut Rng, cx: f64, cy: f64) -> Field {
    let (base, bio) = PALETTE[(rng.next() % PALETTE.len() as u64) as usize];
    let j = rng.range(0.85, 1.15);
    let rgb = base.map(|v| v * j + rng.range(-0.02, 0.02));
    let rough = rng.f();
    let th = rng.range(0.0, std::f64::consts::PI);
    Field {
        cx,
        cy,
        rgb,
        sar: [
            0.7 + 0.5 * rough + 0.2 * bio,
            0.45 + 0.8 * bio + 0.1 * rough,
        ],
        stripe: (
            th.cos(),
            th.sin(),
            rng.range(3.0, 8.0),
            rng.range(0.0, 0.04),
        ),
        grad: (rng.range(-1e-3, 1e-3), rng.range(-1e-3, 1e-3)),
    }
}

/// Fields on a jittered grid of cell size `s` (one seed per cell).
fn fields(rng: &mut Rng, h: usize, w: usize, s: f64) -> (Vec<Field>, usize, usize) {
    let (gh, gw) = (
        (h as f64 / s).ceil() as usize,
        (w as f64 / s).ceil() as usize,
    );
    let mut out = Vec::with_capacity(gh * gw);
    for i in 0..gh {
        for j in 0..gw {
            let (cy, cx) = ((i as f64 + rng.f()) * s, (j as f64 + rng.f()) * s);
            out.push(make_field(rng, cx, cy));
        }
    }
    (out, gh, gw)
}

/// Index of the field whose seed is nearest to (x, y) (searching the 5×5 neighbouring cells).
fn nearest(fs: &[Field], gh: usize, gw: usize, s: f64, x: f64, y: f64) -> usize {
    let (ci, cj) = ((y / s) as isize, (x / s) as isize);
    let mut best = (f64::MAX, 0);
    for i in (ci - 2).max(0)..=(ci + 2).min(gh as isize - 1) {
        for j in (cj - 2).max(0)..=(cj + 2).min(gw as isize - 1) {
            let k = i as usize * gw + j as usize;
            let d = (fs[k].cx - x).powi(2) + (fs[k].cy - y).powi(2);
            if d < best.0 {
                best = (d, k);
            }
        }
    }
    best.1
}

/// A straight line: a point, a unit normal, a half width.
struct Line {
    px: f64,
    py: f64,
    nx: f64,
    ny: f64,
    half: f64,
}

/// A river: meanders (amplitude, wavelength, phase) around a line.
struct River {
    axis: Line,
    amp: f64,
    wave: f64,
    phase: f64,
}

impl Line {
    fn random(rng: &mut Rng, h: usize, w: usize, half: f64) -> Line {
        let th = rng.range(0.0, std::f64::consts::PI);
        Line {
            px: rng.range(0.2, 0.8) * w as f64,
            py: rng.range(0.2, 0.8) * h as f64,
            nx: th.cos(),
            ny: th.sin(),
            half,
        }
    }
    /// Signed distance to the line and position along it.
    fn coords(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.px, y - self.py);
        (dx * self.nx + dy * self.ny, -dx * self.ny + dy * self.nx)
    }
    fn hit(&self, x: f64, y: f64) -> bool {
        self.coords(x, y).0.abs() <= self.half
    }
}

impl River {
    fn hit(&self, x: f64, y: f64) -> bool {
        let (d, t) = self.axis.coords(x, y);
        let centre = self.amp * (std::f64::consts::TAU * t / self.wave + self.phase).sin();
        (d - centre).abs() <= self.axis.half
    }
}

/// The landscape's RGB and noise-free SAR at one pixel.
fn pixel(f: &Field, x: f64, y: f64, rng: &mut Rng) -> ([f64; 3], [f64; 2]) {
    let (dx, dy, period, amp) = f.stripe;
    let phase = std::f64::consts::TAU * (x * dx + y * dy) / period;
    let tex = amp * phase.sin() + f.grad.0 * (x - f.cx) + f.grad.1 * (y - f.cy);
    let rgb = f
        .rgb
        .map(|v| v * (1.0 + 2.0 * tex) + rng.range(-0.01, 0.01));
    (rgb, [f.sar[0] + 2.0 * tex, f.sar[1] + 2.0 * tex])
}

/// 4-look speckle in the dB-mapped domain: 10·log₁₀(Gamma(4, 1/4)) dB at 2/25 units per dB.
fn speckle(rng: &mut Rng) -> f64 {
    let g = -(0..4).map(|_| rng.open().ln()).sum::<f64>() / 4.0;
    0.08 * 10.0 * g.log10()
}

/// Cloud mask: 2–4 clouds, each grown from one disc by adding discs next to a random earlier
/// disc of the same cloud, until the cloud covers a target in [0.17, 0.24] (or a bounded number
/// of tries has been spent, for degenerate shapes such as a single row).
fn clouds(rng: &mut Rng, h: usize, w: usize) -> Vec<bool> {
    let mut clear = vec![true; h * w];
    if h * w < 2 {
        return clear;
    }
    let m = h.min(w) as f64;
    let mut blobs: Vec<Vec<(f64, f64)>> = (0..2 + rng.next() % 3)
        .map(|_| {
            vec![(
                rng.range(0.15, 0.85) * w as f64,
                rng.range(0.15, 0.85) * h as f64,
            )]
        })
        .collect();
    let target = ((rng.range(0.17, 0.24) * (h * w) as f64) as usize).max(1);
    let mut cloud = 0;
    for _ in 0..100_000 {
        if cloud >= target {
            break;
        }
        let b = (rng.next() % blobs.len() as u64) as usize;
        let (px, py) = blobs[b][(rng.next() % blobs[b].len() as u64) as usize];
        let r = rng.range(0.05, 0.09) * m + 0.5;
        let (a, d) = (
            rng.range(0.0, std::f64::consts::TAU),
            rng.range(0.3, 1.0) * r,
        );
        let (cx, cy) = (
            (px + d * a.cos()).clamp(0.0, w as f64),
            (py + d * a.sin()).clamp(0.0, h as f64),
        );
        blobs[b].push((cx, cy));
        let (y0, y1) = (
            (cy - r).max(0.0) as usize,
            ((cy + r).ceil() as usize).min(h),
        );
        let (x0, x1) = (
            (cx - r).max(0.0) as usize,
            ((cx + r).ceil() as usize).min(w),
        );
        for y in y0..y1 {
            for x in x0..x1 {
                let inside = (x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2) <= r * r;
                if inside && clear[y * w + x] && cloud + 1 < h * w {
                    clear[y * w + x] = false;
                    cloud += 1;
                }
            }
        }
    }
    clear
}

/// Paints bright, slightly textured cloud over the cloud pixels.
fn paint(rng: &mut Rng, truth: &[f32], clear: &[bool], w: usize) -> Vec<f32> {
    let (a, b) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let mut out = truth.to_vec();
    for (p, _) in clear.iter().enumerate().filter(|(_, &c)| !c) {
        let (x, y) = ((p % w) as f64, (p / w) as f64);
        let tex = 0.04 * ((x * 0.21 + a).sin() + (y * 0.17 + b).sin());
        for k in 0..3 {
            let t = truth[p * 3 + k] as f64;
            out[p * 3 + k] = (0.84 + tex + 0.08 * t) as f32;
        }
    }
    out
}

/// The scene of size `h`×`w` for `seed` (the same bits for the same arguments).
pub fn scene(h: usize, w: usize, seed: u64) -> Scene {
    let mut rng = Rng(SplitMix::from_state(seed ^ 0x5EED_C10D_F111_0000));
    let cell = (h.min(w) as f64 / 3.0).clamp(6.0, 40.0);
    let (fs, gh, gw) = fields(&mut rng, h, w, cell);
    let m = h.min(w) as f64;
    let roads: Vec<Line> = (0..2)
        .map(|_| Line::random(&mut rng, h, w, (0.006 * m).max(0.75)))
        .collect();
    let river = River {
        axis: Line::random(&mut rng, h, w, (0.012 * m).max(1.0)),
        amp: rng.range(0.03, 0.08) * m,
        wave: rng.range(0.4, 0.9) * m,
        phase: rng.range(0.0, 6.3),
    };
    let (mut truth, mut sar) = (vec![0f32; h * w * 3], vec![0f32; h * w * 2]);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f64 + 0.5, y as f64 + 0.5);
            let f = &fs[nearest(&fs, gh, gw, cell, xf, yf)];
            let (mut rgb, mut s) = pixel(f, xf, yf, &mut rng);
            if river.hit(xf, yf) {
                (rgb, s) = ([0.07, 0.13, 0.22], [0.15, 0.1]);
            } else if roads.iter().any(|r| r.hit(xf, yf)) {
                let g = 0.48 + rng.range(-0.02, 0.02);
                (rgb, s) = ([g, g, g * 0.97], [0.55, 0.3]);
            }
            let p = y * w + x;
            for k in 0..3 {
                truth[p * 3 + k] = rgb[k].clamp(0.05, 0.9) as f32;
            }
            for k in 0..2 {
                sar[p * 2 + k] = (s[k] + speckle(&mut rng)).clamp(0.0, 2.0) as f32;
            }
        }
    }
    let clear = clouds(&mut rng, h, w);
    let cloudy = paint(&mut rng, &truth, &clear, w);
    Scene {
        h,
        w,
        truth,
        sar,
        clear,
        cloudy,
    }
}
