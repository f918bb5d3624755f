//! Masked MSE: GPU vs the CPU reference (small odd, multi-workgroup and strided sizes), the
//! reference gradient vs finite differences, PyTorch's `masked_mse_5ch`.
use crate::common::*;
use crate::golden;
use cloudfill::gpu::{Arena, Shape, Tensor};
use cloudfill::ops::loss::{self, reference};

/// A 0/1 mask with about 30% zeros (never all zeros).
fn mask(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut m: Vec<f32> = (0..n)
        .map(|_| (rng.uniform(0.0, 1.0) >= 0.3) as u8 as f32)
        .collect();
    m[0] = 1.0;
    m
}

/// The loss weights of a 0/1 mask: m/N in f32, N the number of clear elements (as the fit
/// builds them).
fn weights(m: &[f32]) -> Vec<f32> {
    let inv = (1.0 / m.iter().filter(|&&v| v != 0.0).count() as f64) as f32;
    m.iter().map(|&v| v * inv).collect()
}

/// Runs the GPU loss on fresh tensors; returns (loss, dout).
fn gpu_mse(shape: Shape, o: &[f32], t: &[f32], m: &[f32], dout0: &[f32]) -> (f32, Vec<f32>) {
    let g = gpu();
    let (to, tt, tw, td) = (
        upload(shape, o),
        upload(shape, t),
        upload(shape, &weights(m)),
        upload(shape, dout0),
    );
    let tl = Tensor::zeros(g, Shape::flat(1)).unwrap();
    run(&loss::masked_mse(g, &to, &tt, &tw, &td, &tl).unwrap());
    (tl.read(g).unwrap()[0], td.read(g).unwrap())
}

fn check_against_reference(shape: Shape, seed: u64, loss_rel: f64) {
    let n = shape.numel();
    let mut rng = Rng::new(seed);
    let (o, t, m, dout0) = (rng.vec(n), rng.vec(n), mask(&mut rng, n), rng.vec(n));
    let (l, dout) = gpu_mse(shape, &o, &t, &m, &dout0);
    let (want_l, grad) = reference::masked_mse(&to_f64(&o), &to_f64(&t), &to_f64(&m));
    let want_d: Vec<f64> = (0..n).map(|i| dout0[i] as f64 + grad[i]).collect();
    assert_close(&format!("{shape:?} loss"), &[l], &[want_l], loss_rel, 0.0);
    assert_close(&format!("{shape:?} dout"), &dout, &want_d, 1e-5, 1e-7);
}

#[test]
fn masked_mse_matches_reference_small_odd() {
    check_against_reference(Shape::new(3, 11, 13), 1, 1e-5); // 429: not a multiple of 4
    check_against_reference(Shape::new(5, 9, 15), 2, 1e-5);
    check_against_reference(Shape::flat(3), 3, 1e-5); // less than one vec4
}

/// 131 072 elements: 128 partial sums. A sum of ~10⁵ f32 terms: rel 1e-5 is ~10× its rounding.
#[test]
fn masked_mse_matches_reference_multi_workgroup() {
    check_against_reference(Shape::new(8, 128, 128), 4, 1e-5);
}

/// 1 081 800 elements: more vec4s than MAX_GROUPS × 256 threads, so threads stride.
#[test]
fn masked_mse_matches_reference_strided() {
    let shape = Shape::new(3, 600, 601);
    assert!(shape.numel().div_ceil(4) > (loss::MAX_GROUPS * 256) as usize);
    check_against_reference(shape, 5, 1e-5);
}

#[test]
fn masked_mse_is_deterministic() {
    let shape = Shape::new(8, 64, 67);
    let mut rng = Rng::new(9);
    let n = shape.numel();
    let (o, t, m, d) = (rng.vec(n), rng.vec(n), mask(&mut rng, n), rng.vec(n));
    let a = gpu_mse(shape, &o, &t, &m, &d);
    let b = gpu_mse(shape, &o, &t, &m, &d);
    assert_eq!(a.0.to_bits(), b.0.to_bits());
    assert_eq!(a.1, b.1);
}

/// Lanes of the binding past `numel` (padding that other kernels may have written) count as
/// masked even when the mask buffer holds ones there.
#[test]
fn masked_mse_ignores_binding_padding() {
    let g = gpu();
    let s = Shape::flat(5);
    let arenas: Vec<Arena> = (0..4).map(|_| Arena::new(g, 8).unwrap()).collect();
    let data: [[f32; 8]; 4] = [
        [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 9.0, 9.0],        // out
        [0.0, 0.0, 0.0, 0.0, 0.0, -9.0, -9.0, -9.0],     // target
        [0.25, 0.25, 0.0, 0.25, 0.25, 0.25, 0.25, 0.25], // weights: mask / 4
        [0.5; 8],                                        // dout before
    ];
    for (a, d) in arenas.iter().zip(&data) {
        a.all().write(g, d).unwrap();
    }
    let v: Vec<Tensor> = arenas.iter().map(|a| a.view(0, s).unwrap()).collect();
    let tl = Tensor::zeros(g, Shape::flat(1)).unwrap();
    run(&loss::masked_mse(g, &v[0], &v[1], &v[2], &v[3], &tl).unwrap());
    // (1 + 4 + 16 + 25) / 4
    assert_close("loss", &tl.read(g).unwrap(), &[11.5], 1e-6, 0.0);
    let want = [1.0, 1.5, 0.5, 2.5, 3.0, 0.5, 0.5, 0.5];
    assert_close("dout", &arenas[3].all().read(g).unwrap(), &want, 1e-6, 0.0);
}

#[test]
fn masked_mse_rejects_bad_arguments() {
    let g = gpu();
    let a = Tensor::zeros(g, Shape::new(2, 3, 3)).unwrap();
    let b = Tensor::zeros(g, Shape::new(2, 3, 4)).unwrap();
    let l = Tensor::zeros(g, Shape::flat(1)).unwrap();
    assert!(loss::masked_mse(g, &a, &b, &a, &a, &l).is_err());
    assert!(loss::masked_mse(g, &a, &a, &b, &a, &l).is_err());
    assert!(loss::masked_mse(g, &a, &a, &a, &b, &l).is_err());
    assert!(loss::masked_mse(g, &a, &a, &a, &a, &l).is_ok());
}

#[test]
fn masked_mse_reference_gradient_matches_finite_differences() {
    let mut rng = Rng::new(21);
    let n = 37;
    let (t, m) = (to_f64(&rng.vec(n)), to_f64(&mask(&mut rng, n)));
    let o = to_f64(&rng.vec(n));
    let fd = finite_diff(&|x: &[f64]| reference::masked_mse(x, &t, &m).0, &o, 1e-6);
    let (_, an) = reference::masked_mse(&o, &t, &m);
    assert!(m.contains(&0.0), "the case must have masked elements");
    for i in 0..n {
        assert!(
            (fd[i] - an[i]).abs() < 1e-7,
            "[{i}]: fd {} vs {}",
            fd[i],
            an[i]
        );
    }
}

/// PyTorch `masked_mse_5ch`: ((out - target) ** 2)[mask].mean() and its gradient.
#[test]
fn masked_mse_pytorch_values() {
    let case = golden::case("masked_mse_5ch");
    let shape = case.input("out").chw();
    assert_eq!(shape, Shape::new(5, 7, 7));
    let [out, target, mask] = ["out", "target", "mask"].map(|n| case.input(n).f32());
    let (want_loss, want_dout) = (case.output_f64("loss"), case.output("dout").f32());
    let count = mask.iter().filter(|&&x| x != 0.0).count();
    assert_eq!(count, case.param_usize("valid_count"));
    let (want_l, want_d) = reference::masked_mse(&to_f64(&out), &to_f64(&target), &to_f64(&mask));
    assert!(
        (want_l - want_loss).abs() < 1e-7 * want_loss,
        "reference loss {want_l}"
    );
    assert_close("reference dout", &want_dout, &want_d, 1e-6, 1e-9);
    let zeros = vec![0.0; shape.numel()];
    let (l, d) = gpu_mse(shape, &out, &target, &mask, &zeros);
    assert_close("torch loss", &[l], &[want_loss], 1e-5, 0.0);
    assert_close("torch dout", &d, &to_f64(&want_dout), 1e-5, 1e-8);
}

/// Per-element weights m/N_k (G networks' own means): the reference, and, per network, the very
/// same gradient bits as the loss of that network alone.
#[test]
fn weighted_loss_matches_reference_and_each_networks_own_loss() {
    let g = gpu();
    let (shape, nets) = (Shape::new(3, 8, 10), 3);
    let n = shape.numel();
    let mut rng = Rng::new(12);
    let (o, t) = (rng.vec(n * nets), rng.vec(n * nets));
    let masks: Vec<Vec<f32>> = (0..nets).map(|_| mask(&mut rng, n)).collect();
    let w: Vec<f32> = masks.iter().flat_map(|m| weights(m)).collect();
    let all = Shape::new(3 * nets, 8, 10);
    let (to, tt, tw) = (upload(all, &o), upload(all, &t), upload(all, &w));
    let td = Tensor::zeros(g, all).unwrap();
    let tl = Tensor::zeros(g, Shape::flat(1)).unwrap();
    run(&loss::masked_mse(g, &to, &tt, &tw, &td, &tl).unwrap());
    let (l, dout) = (tl.read(g).unwrap()[0], td.read(g).unwrap());
    let (want_l, want_d) = reference::masked_mse_weighted(&to_f64(&o), &to_f64(&t), &to_f64(&w));
    assert_close("weighted loss", &[l], &[want_l], 1e-5, 0.0);
    assert_close("weighted dout", &dout, &want_d, 1e-5, 1e-7);
    let mut sum = 0.0;
    for (k, m) in masks.iter().enumerate() {
        let r = k * n..(k + 1) * n;
        let (lk, dk) = gpu_mse(shape, &o[r.clone()], &t[r.clone()], m, &vec![0.0; n]);
        assert_eq!(&dout[r], &dk[..], "network {k}: gradient bits");
        sum += lk as f64;
    }
    assert_close("sum of the networks' losses", &[l], &[sum], 1e-5, 0.0);
}
