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
    case("16->8 k1 256", 16, 8, 1, 1, 256),
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

criterion_group!(benches, bench);
criterion_main!(benches);
