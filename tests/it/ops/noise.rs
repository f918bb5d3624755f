//! Latent noise: the Philox generator vs its published known answers, GPU vs the CPU reference,
//! statistics, and reproducibility (same (seed, step) → same bits; other steps/seeds differ).
use crate::common::*;
use cloudfill::gpu::{Arena, Dispatch, Shape, Tensor};
use cloudfill::ops::noise::{self, reference};

/// Known-answer vectors of Philox-2x32-10 from Random123's kat_vectors.
#[test]
fn philox_known_answers() {
    let kat = [
        ([0, 0], 0, [0xff1d_ae59, 0x6cd1_0df2]),
        ([u32::MAX, u32::MAX], u32::MAX, [0x2c3f_628b, 0xab4f_d7ad]),
        (
            [0x243f_6a88, 0x85a3_08d3],
            0x1319_8a2e,
            [0xdd7c_e038, 0xf62a_4c12],
        ),
    ];
    for (ctr, key, want) in kat {
        assert_eq!(
            reference::philox2x32(ctr, key),
            want,
            "ctr {ctr:x?} key {key:x}"
        );
    }
}

struct Setup {
    d: Dispatch,
    out: Tensor,
    n: usize,
    sigma: f32,
}

fn setup(latent: &[f32], sigma: f32, seed: u32) -> Setup {
    let g = gpu();
    let n = latent.len();
    let lt = upload(Shape::flat(n), latent);
    let out = Tensor::zeros(g, Shape::flat(n)).unwrap();
    let d = noise::latent_noise(g, &lt, sigma, &[seed], &out).unwrap();
    Setup { d, out, n, sigma }
}

impl Setup {
    fn at(&self, step: u32) -> Vec<f32> {
        let g = gpu();
        self.d
            .set_params(g, &noise::params(self.sigma, step, self.n, self.n));
        run(std::slice::from_ref(&self.d));
        self.out.read(g).unwrap()
    }
}

#[test]
fn noise_matches_reference() {
    let n = 3 * 11 * 13; // 429: not a multiple of 4
    let latent = Rng::new(5).vec(n);
    let s = setup(&latent, 0.1, 1234);
    for step in [0, 1, 77, 3999] {
        let want = reference::latent_noise(&to_f64(&latent), 0.1, 1234, step);
        assert_close(&format!("step {step}"), &s.at(step), &want, 1e-5, 2e-6);
    }
    // σ = 1 on a zero latent: z itself, |z| up to ~5.8 (f32 log/cos/sin rounding).
    let s = setup(&vec![0.0; n], 1.0, 99);
    let z: Vec<f64> = (0..n as u32)
        .map(|i| reference::normal(99, 12, i))
        .collect();
    assert_close("z", &s.at(12), &z, 1e-5, 1e-5);
}

#[test]
fn noise_is_standard_normal() {
    let n = 100_003;
    let s = setup(&vec![0.0; n], 1.0, 7);
    for step in [0, 1] {
        let z = to_f64(&s.at(step));
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let lag1 = z.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (n - 1) as f64;
        let tail = z.iter().filter(|x| x.abs() > 1.959_964).count() as f64 / n as f64;
        assert!(mean.abs() < 0.02, "step {step}: mean {mean}");
        assert!(
            (var.sqrt() - 1.0).abs() < 0.02,
            "step {step}: std {}",
            var.sqrt()
        );
        assert!(
            lag1.abs() < 0.02,
            "step {step}: neighbour correlation {lag1}"
        );
        assert!(
            (tail - 0.05).abs() < 0.005,
            "step {step}: P(|z| > 1.96) = {tail}"
        );
    }
}

#[test]
fn noise_is_reproducible_and_fresh_per_step_and_seed() {
    let n = 1000;
    let latent = Rng::new(8).vec(n);
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    let a = setup(&latent, 0.1, 42);
    let (s0, s1, s0_again) = (bits(a.at(0)), bits(a.at(1)), bits(a.at(0)));
    assert_eq!(s0, s0_again, "same (seed, step) must give the same bits");
    let b = setup(&latent, 0.1, 42);
    assert_eq!(
        bits(b.at(1)),
        s1,
        "a second dispatch must reproduce the first"
    );
    let c = setup(&latent, 0.1, 43);
    let other_seed = bits(c.at(0));
    let same = |x: &[u32], y: &[u32]| x.iter().zip(y).filter(|(p, q)| p == q).count();
    assert!(
        same(&s0, &s1) < 5,
        "steps 0 and 1 share {} of {n}",
        same(&s0, &s1)
    );
    assert!(same(&s0, &other_seed) < 5, "seeds 42 and 43 share values");
}

/// Lanes of the binding past `numel` are left as the latent (here: zero) rather than noise.
#[test]
fn noise_leaves_binding_padding_alone() {
    let g = gpu();
    let arena = Arena::new(g, 8).unwrap();
    let out = arena.view(0, Shape::flat(5)).unwrap();
    let latent = upload(Shape::flat(5), &[1.0; 5]);
    let d = noise::latent_noise(g, &latent, 0.5, &[3], &out).unwrap();
    run(&[d]);
    let all = arena.all().read(g).unwrap();
    assert_eq!(&all[5..], &[0.0; 3]);
    let want = reference::latent_noise(&[1.0; 5], 0.5, 3, 0);
    assert_close("values", &all[..5], &want, 1e-5, 1e-6);
    let t = Tensor::zeros(g, Shape::flat(6)).unwrap();
    assert!(noise::latent_noise(g, &latent, 0.5, &[3], &t).is_err());
    // Five elements do not split into two networks' latents of a multiple of 4.
    assert!(noise::latent_noise(g, &latent, 0.5, &[3, 4], &out).is_err());
}

/// Latents of G networks side by side: each network's block draws the noise a plan of its own
/// draws (the index counts within the network, the key is the network's seed), in one
/// dispatch; networks of one seed draw the same noise.
#[test]
fn batched_noise_repeats_per_network() {
    let g = gpu();
    let (per, seeds) = (2 * 8 * 12, [77, 78, 77]);
    let latent = Rng::new(8).vec(per * seeds.len());
    let lt = upload(Shape::flat(latent.len()), &latent);
    let out = Tensor::zeros(g, lt.shape).unwrap();
    let d = noise::latent_noise(g, &lt, 0.5, &seeds, &out).unwrap();
    d.set_params(g, &noise::params(0.5, 9, latent.len(), per));
    run(std::slice::from_ref(&d));
    let got = out.read(g).unwrap();
    let want = reference::latent_noise_batch(&to_f64(&latent), per, 0.5, &seeds, 9);
    assert_close("batched noise", &got, &want, 1e-5, 2e-6);
    for (k, &seed) in seeds.iter().enumerate() {
        let lk = to_f64(&latent[k * per..(k + 1) * per]);
        let one = reference::latent_noise(&lk, 0.5, seed, 9);
        assert_close(
            &format!("network {k}"),
            &got[k * per..(k + 1) * per],
            &one,
            1e-5,
            2e-6,
        );
    }
}
