//! CPU reference in f64: the textbook formulas.
use super::EPS;
use crate::gpu::Shape;

fn mean_var(x: &[f64], s: Shape) -> (Vec<f64>, Vec<f64>) {
    let n = s.hw() as f64;
    let planes = x.chunks(s.hw());
    let mean: Vec<f64> = planes.clone().map(|p| p.iter().sum::<f64>() / n).collect();
    let var = planes
        .zip(&mean)
        .map(|(p, m)| p.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n)
        .collect();
    (mean, var)
}

/// (y, batch mean, biased batch variance).
pub fn forward(x: &[f64], s: Shape, gamma: &[f64], beta: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mean, var) = mean_var(x, s);
    let y = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = i / s.hw();
            gamma[c] * (v - mean[c]) / (var[c] + EPS as f64).sqrt() + beta[c]
        })
        .collect();
    (y, mean, var)
}

/// (dx, dgamma, dbeta) of `sum(y · gy)` — fresh values, not accumulated.
pub fn backward(x: &[f64], s: Shape, gamma: &[f64], gy: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = s.hw() as f64;
    let (mean, var) = mean_var(x, s);
    let r: Vec<f64> = var.iter().map(|v| 1.0 / (v + EPS as f64).sqrt()).collect();
    let xh = |i: usize| (x[i] - mean[i / s.hw()]) * r[i / s.hw()];
    let mut dgamma = vec![0.0; s.c];
    let mut dbeta = vec![0.0; s.c];
    for i in 0..x.len() {
        dbeta[i / s.hw()] += gy[i];
        dgamma[i / s.hw()] += gy[i] * xh(i);
    }
    let dx = (0..x.len())
        .map(|i| {
            let c = i / s.hw();
            gamma[c] * r[c] * (gy[i] - dbeta[c] / n - xh(i) * dgamma[c] / n)
        })
        .collect();
    (dx, dgamma, dbeta)
}
