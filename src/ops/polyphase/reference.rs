//! CPU reference in f64, written from the definition (phase tap sums, index shuffles) so that
//! tests can set it against the plain path (upsample, then conv) on one side and the GPU on
//! the other.
use super::{phase_conv, q, Conv2d};
use crate::gpu::Shape;
use crate::ops::conv2d::reference as conv;

/// Phase tap of original tap `kk` for phase `a`.
fn ptap(c: &Conv2d, a: usize, kk: usize) -> usize {
    (a + kk + 2 * q(c) - c.pad()) / 2
}

/// Applies `f` to each group's slice of `v` (`n` values per group) and concatenates.
fn per_group(c: &Conv2d, v: &[f64], f: impl Fn(&Conv2d, &[f64]) -> Vec<f64>) -> Vec<f64> {
    let n = v.len() / c.groups;
    let gc = c.group();
    (0..c.groups)
        .flat_map(|g| f(&gc, &v[g * n..(g + 1) * n]))
        .collect()
}

/// Phase weights wp[(2a+b)·Cout + o, c, ty, tx] (per group).
pub fn weights(c: &Conv2d, w: &[f64]) -> Vec<f64> {
    if c.groups > 1 {
        return per_group(c, w, weights);
    }
    let pc = phase_conv(c);
    let (k, kl) = (c.k, pc.k);
    let mut wp = vec![0.0; pc.weight_len()];
    for ph in 0..4 {
        for o in 0..c.cout {
            for ci in 0..c.cin {
                for ky in 0..k {
                    for kx in 0..k {
                        let (ty, tx) = (ptap(c, ph / 2, ky), ptap(c, ph % 2, kx));
                        let dst = (((ph * c.cout + o) * c.cin + ci) * kl + ty) * kl + tx;
                        wp[dst] += w[((o * c.cin + ci) * k + ky) * k + kx];
                    }
                }
            }
        }
    }
    wp
}

/// The adjoint of [`weights`]: dw from dwp.
pub fn weights_backward(c: &Conv2d, dwp: &[f64]) -> Vec<f64> {
    if c.groups > 1 {
        return per_group(c, dwp, weights_backward);
    }
    let kl = phase_conv(c).k;
    let k = c.k;
    let mut dw = vec![0.0; c.weight_len()];
    for (i, v) in dw.iter_mut().enumerate() {
        let (kx, ky) = (i % k, (i / k) % k);
        let (ci, o) = ((i / (k * k)) % c.cin, i / (k * k * c.cin));
        for ph in 0..4 {
            let (ty, tx) = (ptap(c, ph / 2, ky), ptap(c, ph % 2, kx));
            *v += dwp[(((ph * c.cout + o) * c.cin + ci) * kl + ty) * kl + tx];
        }
    }
    dw
}

/// y (Cout, 2H, 2W) from P (4·Cout, H, W).
pub fn shuffle(cout: usize, lo: Shape, p4: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    let (h, w) = (lo.h, lo.w);
    let mut y = vec![0.0; cout * 4 * h * w];
    for o in 0..cout {
        for yy in 0..2 * h {
            for xx in 0..2 * w {
                let ph = (yy % 2) * 2 + xx % 2;
                let v = p4[((ph * cout + o) * h + yy / 2) * w + xx / 2];
                y[(o * 2 * h + yy) * 2 * w + xx] = v + b.map_or(0.0, |b| b[o]);
            }
        }
    }
    y
}

/// gP (4·Cout, H, W) from gy (Cout, 2H, 2W).
pub fn unshuffle(cout: usize, lo: Shape, gy: &[f64]) -> Vec<f64> {
    let (h, w) = (lo.h, lo.w);
    let mut gp = vec![0.0; 4 * cout * h * w];
    for o in 0..cout {
        for yy in 0..2 * h {
            for xx in 0..2 * w {
                let ph = (yy % 2) * 2 + xx % 2;
                gp[((ph * cout + o) * h + yy / 2) * w + xx / 2] = gy[(o * 2 * h + yy) * 2 * w + xx];
            }
        }
    }
    gp
}

/// y = conv(upsample_nearest(x)) + b, the polyphase way; `xs` is the low-resolution shape.
pub fn forward(c: &Conv2d, x: &[f64], xs: Shape, w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    if c.groups > 1 {
        return conv::per_group_forward(c, x, xs, w, b, forward);
    }
    let p4 = conv::forward(&phase_conv(c), x, xs, &weights(c, w), None);
    shuffle(c.cout, xs, &p4, b)
}

/// (dx, dw, db) of L = Σ y·gy, the polyphase way.
pub fn backward(c: &Conv2d, x: &[f64], xs: Shape, w: &[f64], gy: &[f64]) -> conv::Grads {
    if c.groups > 1 {
        return conv::per_group_backward(c, x, xs, w, gy, backward);
    }
    let gp = unshuffle(c.cout, xs, gy);
    let (dx, dwp, _) = conv::backward(&phase_conv(c), x, xs, &weights(c, w), &gp);
    let hw = 4 * xs.hw();
    let db = (0..c.cout)
        .map(|o| gy[o * hw..(o + 1) * hw].iter().sum())
        .collect();
    (dx, weights_backward(c, &dwp), db)
}
