//! Kernel benchmarks: conv2d forward, grad-input and grad-weight at the network's real layer
//! shapes. One measured iteration = one submit of N repeated plan steps (the dispatches a
//! function returns) + wait, through `Gpu::run`. Prints the adapter first, then one line per
//! case with GFLOP/s = 2·MACs / time (MACs of one conv; the weight rearrangement and the
//! partial-sum reduction are part of the measured time; time = the median criterion sample).
//! Also GF per CPU-second (FLOPs over the process's CPU time, driver threads included, Linux
//! only): on a CPU adapter sharing the machine this is the steadier figure.
//!
//! Each case runs on the portable kernels and, where the adapter has subgroups of 8, on the
//! subgroup kernels (`conv2d_sg.wgsl`); `CLOUDFILL_NO_SUBGROUPS=1` leaves only the portable ones.
//! Then on the GPU blocks (`Blocks::GPU`, what a real GPU runs) with the forward convs tiled in
//! workgroup memory (`gpu-tiled`, `conv2d_tiled.wgsl`) and without (`gpu-untiled`).
//!
//! Then the other kernels of a step at the network's sizes (`layers/…`): batch-norm + LeakyReLU
//! forward and backward at 16×256² (separate, and fused as the tape runs them), the masked MSE (value + gradient) over 8×256², Adam over the
//! default network's 2,442,152 parameters, the latent noise at 2×256², and the polyphase
//! kernels of the 32→16 5×5 up-convolution at 256²; milliseconds and GB/s of compulsory traffic.
//!
//! `cargo bench --bench kernels` (optionally `-- <filter>`).
use cloudfill::gpu::{Dispatch, Gpu, Shape, Tensor};
use cloudfill::ops::conv2d::{self as cv, Blocks, Conv2d, Padding};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    conv: Conv2d,
    size: usize,
}

const fn case(
    name: &'static str,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    size: usize,
) -> Case {
    Case {
        name,
        conv: Conv2d {
            cin,
            cout,
            k,
            stride,
            padding: Padding::Zero,
            groups: 1,
        },
        size,
    }
}

const CASES: &[Case] = &[
    case("2->16 k3 s2 256", 2, 16, 3, 2, 256),
    case("32->16 k5 256", 32, 16, 5, 1, 256),
    case("64->32 k5 128", 64, 32, 5, 1, 128),
    case("128->128 k3 16", 128, 128, 3, 1, 16),
    case("128->128 k3 64", 128, 128, 3, 1, 64),
    case("128->128 k5 32", 128, 128, 5, 1, 32),
    case("128->128 k3 s2 64", 128, 128, 3, 2, 64),
    case("128->512 k3 16", 128, 512, 3, 1, 16),
    case("128->512 k3 4", 128, 512, 3, 1, 4),
    case("128->512 k3 2", 128, 512, 3, 1, 2),
    case("16->8 k1 256", 16, 8, 1, 1, 256),
    // The 16 GEMMs Winograd F(2×2, 3×3) would turn "128->128 k3 64" into (4/9 of its
    // multiplies), as one grouped 1×1 conv on the 32×32 tiles: BENCHMARKS.md §14.
    Case {
        name: "16x 128->128 k1 32",
        conv: Conv2d {
            cin: 2048,
            cout: 2048,
            k: 1,
            stride: 1,
            padding: Padding::Zero,
            groups: 16,
        },
        size: 32,
    },
];

/// This process's CPU time in seconds (all threads), from /proc/self/stat; None elsewhere.
fn cpu_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn filled(gpu: &Gpu, shape: Shape, seed: u32) -> Tensor {
    let v: Vec<f32> = (0..shape.numel())
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 16_777_216.0
                - 0.5
        })
        .collect();
    Tensor::from_slice(gpu, shape, &v).unwrap()
}

fn plans(gpu: &Gpu, bl: Blocks, c: &Conv2d, size: usize) -> [(&'static str, Vec<Dispatch>); 3] {
    let xs = Shape::new(c.cin, size, size);
    let ys = c.out_shape(xs).unwrap();
    let ws = Shape::flat(c.weight_len());
    let (x, w, b) = (
        filled(gpu, xs, 1),
        filled(gpu, ws, 2),
        filled(gpu, Shape::flat(c.cout), 3),
    );
    let (y, gy) = (Tensor::zeros(gpu, ys).unwrap(), filled(gpu, ys, 4));
    let (dx, dw) = (
        Tensor::zeros(gpu, xs).unwrap(),
        Tensor::zeros(gpu, ws).unwrap(),
    );
    [
        (
            "forward",
            cv::forward_with(gpu, bl, c, &x, &w, Some(&b), &y).unwrap(),
        ),
        (
            "grad-input",
            cv::backward_input_with(gpu, bl, c, &gy, &w, &dx).unwrap(),
        ),
        (
            "grad-weight",
            cv::backward_weight_with(gpu, bl, c, &x, &gy, &dw).unwrap(),
        ),
    ]
}

fn bench(cr: &mut Criterion) {
    let gpu = Gpu::new().expect("a GPU adapter");
    println!("adapter: {}", gpu.summary());
    let mut group = cr.benchmark_group("conv2d");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let mut lines = Vec::new();
    let native = Blocks::for_gpu(&gpu);
    let mut paths = vec![(
        "portable",
        Blocks {
            sg: false,
            ..native
        },
    )];
    if native.sg {
        paths.push(("subgroup", native));
    }
    // What a real GPU runs, with the forward convs tiled in workgroup memory and without.
    let untiled = Blocks {
        tiled: false,
        ..Blocks::GPU
    };
    paths.extend([("gpu-untiled", untiled), ("gpu-tiled", Blocks::GPU)]);
    for case in CASES {
        let flops = cv::flops(&case.conv, Shape::new(case.conv.cin, case.size, case.size)).unwrap();
        let reps = (2e8 / flops).clamp(1.0, 50.0) as usize;
        for &(path, bl) in &paths {
            for (pass, ds) in plans(&gpu, bl, &case.conv, case.size) {
                let step: Vec<&Dispatch> = (0..reps).flat_map(|_| ds.iter()).collect();
                gpu.run(step.iter().copied()).unwrap(); // pipelines warm, first-touch done
                let mut samples = Vec::new();
                let (mut cpu, mut runs) = (0.0, 0usize);
                group.bench_function(format!("{} {pass} {path}", case.name), |b| {
                    b.iter_custom(|iters| {
                        let c0 = cpu_time();
                        let t = Instant::now();
                        for _ in 0..iters {
                            gpu.run(step.iter().copied()).unwrap();
                        }
                        let d = t.elapsed();
                        if let (Some(c0), Some(c1)) = (c0, cpu_time()) {
                            cpu += c1 - c0;
                            runs += iters as usize;
                        }
                        samples.push(d.as_secs_f64() / iters as f64);
                        d
                    })
                });
                if samples.is_empty() {
                    continue; // filtered out
                }
                samples.sort_by(f64::total_cmp);
                let per = samples[samples.len() / 2] / reps as f64; // median sample (warm-up included)
                let per_cpu = cpu / (runs * reps).max(1) as f64;
                let kernels: Vec<&str> = ds.iter().map(|d| d.entry()).collect();
                let line = format!(
                    "{:<18} {:<11} {:<8} {:>8.3} ms {:>6.2} GF/s {:>6.2} GF/cpu-s  ({} dispatches/step, \
                     {reps} steps/submit: {})",
                    case.name,
                    pass,
                    path,
                    per * 1e3,
                    flops / per / 1e9,
                    flops / per_cpu / 1e9,
                    ds.len(),
                    kernels.join(" + ")
                );
                println!("{line}");
                lines.push(line);
            }
        }
    }
    group.finish();
    println!("\nadapter: {}", gpu.summary());
    for l in lines {
        println!("{l}");
    }
}

/// Times `ds` (one submit + wait per iteration) in criterion group `g`; returns the median
/// sample in seconds, or None when filtered out.
fn time_one(
    gpu: &Gpu,
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    ds: &[Dispatch],
) -> Option<f64> {
    gpu.run(ds).unwrap();
    let mut samples = Vec::new();
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                gpu.run(ds).unwrap();
            }
            let d = t.elapsed();
            samples.push(d.as_secs_f64() / iters as f64);
            d
        })
    });
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

fn layers(cr: &mut Criterion) {
    use cloudfill::ops::elementwise::{self as ew, Act};
    use cloudfill::ops::{adam, batchnorm as bn, loss, noise, polyphase as pp};
    let gpu = Gpu::new().expect("a GPU adapter");
    let mut g = cr.benchmark_group("layers");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let mut lines = Vec::new();
    let mut report = |name: &str, ds: &[Dispatch], bytes: f64| {
        if let Some(t) = time_one(&gpu, &mut g, name, ds) {
            let kernels: Vec<&str> = ds.iter().map(|d| d.entry()).collect();
            lines.push(format!(
                "{name:<34} {:>8.3} ms {:>6.2} GB/s  ({})",
                t * 1e3,
                bytes / t / 1e9,
                kernels.join(" + ")
            ));
        }
    };
    let f = 4.0; // bytes per float
    let s = Shape::new(16, 256, 256);
    let n = s.numel() as f64;
    let (x, gy) = (filled(&gpu, s, 1), filled(&gpu, s, 2));
    let (gamma, beta) = (
        filled(&gpu, Shape::flat(16), 3),
        filled(&gpu, Shape::flat(16), 4),
    );
    let z = |sh: Shape| Tensor::zeros(&gpu, sh).unwrap();
    let (ybn, yact, stats) = (z(s), z(s), z(Shape::flat(32)));
    let (dybn, dx, dg, db) = (z(s), z(s), z(Shape::flat(16)), z(Shape::flat(16)));
    let mut fwd = bn::forward(&gpu, None, &x, &gamma, &beta, &ybn, &stats).unwrap();
    fwd.push(ew::act_forward(&gpu, Act::LeakyRelu, &ybn, &yact).unwrap());
    // reads x twice, writes y_bn, reads it, writes y_act
    report("bn + leaky_relu forward 16x256²", &fwd, 5.0 * n * f);
    let mut bwd = vec![ew::act_backward(&gpu, Act::LeakyRelu, &ybn, &yact, &gy, &dybn).unwrap()];
    bwd.extend(bn::backward(&gpu, None, &x, &gamma, &stats, &dybn, &dx, &dg, &db).unwrap());
    report("leaky_relu + bn backward 16x256²", &bwd, 9.0 * n * f);
    let act = Act::LeakyRelu;
    let fwd = bn::forward_act(&gpu, act, &x, &gamma, &beta, &ybn, &yact, &stats).unwrap();
    report("bn + leaky_relu fused forward", &fwd, 4.0 * n * f);
    let bwd = bn::backward_act(
        &gpu, act, &x, &gamma, &stats, &ybn, &yact, &gy, &dx, &dg, &db,
    )
    .unwrap();
    report("leaky_relu + bn fused backward", &bwd, 10.0 * n * f);

    let ls = Shape::new(8, 256, 256);
    let (out, target) = (filled(&gpu, ls, 5), filled(&gpu, ls, 6));
    let mask_v: Vec<f32> = (0..ls.numel()).map(|i| (i % 5 != 0) as u8 as f32).collect();
    let inv = 1.0 / mask_v.iter().filter(|&&m| m > 0.0).count() as f32;
    let weight_v: Vec<f32> = mask_v.iter().map(|m| m * inv).collect();
    let weight = Tensor::from_slice(&gpu, ls, &weight_v).unwrap();
    let (dout, lossv) = (z(ls), z(Shape::flat(1)));
    let ds = loss::masked_mse(&gpu, &out, &target, &weight, &dout, &lossv).unwrap();
    report(
        "masked MSE + gradient 8x256²",
        &ds,
        4.0 * ls.numel() as f64 * f,
    );

    let np = 2_442_152;
    let ps = Shape::flat(np);
    let (p, gr, m, v) = (filled(&gpu, ps, 7), filled(&gpu, ps, 8), z(ps), z(ps));
    let cfg = adam::AdamConfig::default();
    let d = adam::step(&gpu, &cfg, &p, &gr, &m, &v).unwrap();
    report("Adam 2,442,152 params", &[d], 7.0 * np as f64 * f);

    let lat = filled(&gpu, Shape::new(2, 256, 256), 9);
    let lo = z(lat.shape);
    let d = noise::latent_noise(&gpu, &lat, 0.1, &[1], &lo).unwrap();
    report("latent noise 2x256²", &[d], 2.0 * lat.numel() as f64 * f);

    let c = Conv2d {
        cin: 32,
        cout: 16,
        k: 5,
        stride: 1,
        padding: Padding::Zero,
        groups: 1,
    };
    let w = filled(&gpu, Shape::flat(c.weight_len()), 10);
    let wp = z(Shape::flat(pp::phase_conv(&c).weight_len()));
    report(
        "polyphase weights 32->16 k5",
        &[pp::weights(&gpu, &c, &w, &wp).unwrap()],
        0.0,
    );
    let dw = z(w.shape);
    report(
        "polyphase weight grad 32->16 k5",
        &[pp::weights_backward(&gpu, &c, &wp, &dw).unwrap()],
        0.0,
    );
    let lo_s = Shape::new(32, 128, 128);
    let p4 = filled(&gpu, pp::phase_shape(&c, lo_s), 11);
    let y = z(Shape::new(16, 256, 256));
    let d = pp::shuffle(&gpu, &c, &p4, None, &y).unwrap();
    report(
        "polyphase shuffle 16x256²",
        &[d],
        2.0 * y.numel() as f64 * f,
    );
    let d = pp::unshuffle(&gpu, &c, &y, &p4).unwrap();
    report(
        "polyphase unshuffle 16x256²",
        &[d],
        2.0 * y.numel() as f64 * f,
    );
    g.finish();
    println!("\nadapter: {}", gpu.summary());
    for l in lines {
        println!("{l}");
    }
}

criterion_group!(benches, bench, layers);
criterion_main!(benches);
