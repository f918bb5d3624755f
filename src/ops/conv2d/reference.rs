//! CPU reference in f64: the obvious loops. This is the specification.
use super::{Conv2d, Padding};
use crate::gpu::Shape;

/// (dx, dw, db) of a convolution's backward.
pub type Grads = (Vec<f64>, Vec<f64>, Vec<f64>);

/// Padded coordinate → source coordinate (None: a zero of zero padding).
pub fn src(c: &Conv2d, i: isize, n: usize) -> Option<usize> {
    let n = n as isize;
    match c.padding {
        Padding::Zero => (0..n).contains(&i).then_some(i as usize),
        Padding::Reflection => {
            let mut j = i.abs();
            if j >= n {
                j = 2 * n - 2 - j;
            }
            Some(j as usize)
        }
    }
}

/// Calls f(weight index, y index, x index) for every tap that reads the input.
fn taps(c: &Conv2d, xs: Shape, mut f: impl FnMut(usize, usize, usize)) {
    let os = c.out_shape(xs).expect("valid conv shape");
    let (k, p, s) = (c.k, c.pad() as isize, c.stride as isize);
    for co in 0..c.cout {
        for ci in 0..c.cin {
            for ky in 0..k {
                for kx in 0..k {
                    let wi = ((co * c.cin + ci) * k + ky) * k + kx;
                    for oy in 0..os.h {
                        let Some(iy) = src(c, oy as isize * s - p + ky as isize, xs.h) else {
                            continue;
                        };
                        for ox in 0..os.w {
                            let Some(ix) = src(c, ox as isize * s - p + kx as isize, xs.w) else {
                                continue;
                            };
                            let yi = (co * os.h + oy) * os.w + ox;
                            f(wi, yi, (ci * xs.h + iy) * xs.w + ix);
                        }
                    }
                }
            }
        }
    }
}

/// y = conv(x) + b (every group on its own channels and weights).
pub fn forward(c: &Conv2d, x: &[f64], xs: Shape, w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    if c.groups > 1 {
        return per_group_forward(c, x, xs, w, b, forward);
    }
    let os = c.out_shape(xs).expect("valid conv shape");
    let mut y = vec![0.0; os.numel()];
    if let Some(b) = b {
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[i / os.hw()];
        }
    }
    taps(c, xs, |wi, yi, xi| y[yi] += w[wi] * x[xi]);
    y
}

/// A grouped layer's forward from the one-group `f` applied to each group's slices of x, w and
/// b (outputs concatenated).
pub fn per_group_forward(
    c: &Conv2d,
    x: &[f64],
    xs: Shape,
    w: &[f64],
    b: Option<&[f64]>,
    f: impl Fn(&Conv2d, &[f64], Shape, &[f64], Option<&[f64]>) -> Vec<f64>,
) -> Vec<f64> {
    let (gc, gs) = (c.group(), Shape::new(xs.c / c.groups, xs.h, xs.w));
    let (xl, wl, bl) = (gs.numel(), gc.weight_len(), gc.cout);
    (0..c.groups)
        .flat_map(|g| {
            let b = b.map(|b| &b[g * bl..(g + 1) * bl]);
            f(
                &gc,
                &x[g * xl..(g + 1) * xl],
                gs,
                &w[g * wl..(g + 1) * wl],
                b,
            )
        })
        .collect()
}

/// (dx, dw, db) of a grouped layer from the one-group `f` applied to each group's slices of x, w
/// and gy.
pub fn per_group_backward(
    c: &Conv2d,
    x: &[f64],
    xs: Shape,
    w: &[f64],
    gy: &[f64],
    f: impl Fn(&Conv2d, &[f64], Shape, &[f64], &[f64]) -> Grads,
) -> Grads {
    let (gc, gs) = (c.group(), Shape::new(xs.c / c.groups, xs.h, xs.w));
    let (xl, wl, yl) = (gs.numel(), gc.weight_len(), gy.len() / c.groups);
    let (mut dx, mut dw, mut db) = (Vec::new(), Vec::new(), Vec::new());
    for g in 0..c.groups {
        let (x, w) = (&x[g * xl..(g + 1) * xl], &w[g * wl..(g + 1) * wl]);
        let (a, b, d) = f(&gc, x, gs, w, &gy[g * yl..(g + 1) * yl]);
        dx.extend(a);
        dw.extend(b);
        db.extend(d);
    }
    (dx, dw, db)
}

/// (dx, dw, db) of L = Σ y·gy.
pub fn backward(c: &Conv2d, x: &[f64], xs: Shape, w: &[f64], gy: &[f64]) -> Grads {
    if c.groups > 1 {
        return per_group_backward(c, x, xs, w, gy, backward);
    }
    let os = c.out_shape(xs).expect("valid conv shape");
    let mut dx = vec![0.0; xs.numel()];
    let mut dw = vec![0.0; c.weight_len()];
    taps(c, xs, |wi, yi, xi| {
        dx[xi] += gy[yi] * w[wi];
        dw[wi] += gy[yi] * x[xi];
    });
    let db = (0..c.cout)
        .map(|co| gy[co * os.hw()..(co + 1) * os.hw()].iter().sum())
        .collect();
    (dx, dw, db)
}
