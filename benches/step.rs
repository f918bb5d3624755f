//! Seconds per fit step of the reference configuration (2 latent channels → 8 outputs:
//! S2 RGB + a mean RGB + S1 VV/VH), at 64², 128², 256² (and 512² with CLOUDFILL_BENCH_512=1),
//! with the adapter named, the dispatch count per step and a timestamp profile of one step.
//!
//! `cargo bench --bench step` (a plain timing harness, not criterion: one step is long on a CPU
//! adapter; CLOUDFILL_BENCH_STEPS sets the timed steps, default 20; CLOUDFILL_BENCH_SIZES a
//! comma-separated list of sizes instead of 64,128,256; CLOUDFILL_BENCH_PLAIN=1 turns the polyphase
//! up-convolution off, to compare with the literal upsample → BN → conv; CLOUDFILL_BENCH_TOP=N
//! lists the N slowest dispatches; CLOUDFILL_BENCH_BATCH=2,4,8 also times batches of that many
//! networks trained side by side (`Plan::new_batch`, what `--batch K` runs) and their throughput
//! against one network).
use cloudfill::net::NetConfig;
use cloudfill::ops::adam::AdamConfig;
use cloudfill::plan::{Plan, Problem, StepConfig};
use cloudfill::Gpu;
use std::collections::BTreeMap;
use std::time::Instant;

/// The profile category of dispatch `i` of a step (`fwd_end`: index one past the last forward
/// dispatch; conv kernels are split by the half of the step they run in, because the forward
/// kernel also serves stride-1 grad-input).
fn category(shader: cloudfill::gpu::Shader, i: usize, fwd_end: usize) -> &'static str {
    use cloudfill::gpu::Shader::*;
    match shader {
        Conv2d | Conv2dSg if i < fwd_end => "conv forward",
        Conv2d | Conv2dSg => "conv backward",
        Polyphase => "polyphase weights + shuffles",
        BatchNorm | Elementwise => "batch-norm + activations",
        _ => "rest (resample, loss, noise, Adam)",
    }
}

/// Seconds per step over `steps` steps, after `warm` untimed ones.
fn time_steps(plan: &mut Plan, warm: usize, steps: usize) -> f64 {
    for _ in 0..warm {
        plan.step().unwrap();
    }
    plan.wait().unwrap();
    let t0 = Instant::now();
    for _ in 0..steps {
        plan.step().unwrap();
    }
    plan.wait().unwrap();
    t0.elapsed().as_secs_f64() / steps as f64
}

fn main() {
    let gpu = Gpu::new().expect("a GPU adapter");
    println!("adapter: {}", gpu.summary());
    let steps: usize = std::env::var("CLOUDFILL_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut sizes: Vec<usize> = match std::env::var("CLOUDFILL_BENCH_SIZES") {
        Ok(s) => s
            .split(',')
            .map(|v| v.trim().parse().expect("CLOUDFILL_BENCH_SIZES: numbers"))
            .collect(),
        Err(_) => vec![64, 128, 256],
    };
    if std::env::var("CLOUDFILL_BENCH_512").is_ok() && !sizes.contains(&512) {
        sizes.push(512);
    }
    let plain = std::env::var("CLOUDFILL_BENCH_PLAIN").is_ok_and(|v| v == "1");
    if plain {
        println!("polyphase up-convolution: off (CLOUDFILL_BENCH_PLAIN=1)");
    }
    for n in sizes {
        // 64² cannot hold 6 levels (the deepest batch-norm would see one pixel): 5 levels there.
        let levels = if n >= 128 { 6 } else { 5 };
        let net = NetConfig {
            polyphase: !plain,
            ..NetConfig::with_levels(levels)
        };
        let latent: Vec<f32> = (0..2 * n * n)
            .map(|i| {
                if i < n * n {
                    (i / n) as f32 / n as f32
                } else {
                    (i % n) as f32 / n as f32
                }
            })
            .collect();
        let target: Vec<f32> = (0..8 * n * n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let mask: Vec<f32> = (0..8 * n * n)
            .map(|i| ((i % (n * n)) % 5 != 0) as u8 as f32)
            .collect();
        let p = Problem {
            seed: 0,
            latent: &latent,
            latent_channels: 2,
            h: n,
            w: n,
            target: &target,
            mask: &mask,
            channels: 8,
        };
        let cfg = StepConfig {
            adam: AdamConfig::default(),
            noise_std: 0.1,
            conv_blocks: None,
        };
        let t0 = Instant::now();
        let mut plan = Plan::new(&gpu, &net, &p, cfg).expect("plan");
        let build = t0.elapsed().as_secs_f64();
        let per = time_steps(&mut plan, 3, steps);
        println!(
            "step {n}x{n}: {:.4} s/step ({levels} levels, {} params, {} dispatches/step, plan built in {:.2} s, loss {:.5})",
            per,
            plan.tape.param_count(),
            plan.dispatches_per_step(),
            build,
            plan.read_loss().unwrap()
        );
        let batches: Vec<usize> = std::env::var("CLOUDFILL_BENCH_BATCH")
            .map(|s| {
                (s.split(',')
                    .map(|v| v.trim().parse().expect("CLOUDFILL_BENCH_BATCH: numbers")))
                .collect()
            })
            .unwrap_or_default();
        for &k in batches.iter().filter(|&&k| k > 1) {
            let ps: Vec<Problem> = (0..k)
                .map(|_| Problem {
                    latent: &latent,
                    target: &target,
                    mask: &mask,
                    ..p
                })
                .collect();
            let mut bp = match Plan::new_batch(&gpu, &net, &ps, cfg) {
                Ok(b) => b,
                Err(e) => {
                    println!("  batch {k} at {n}x{n}: {e}");
                    continue;
                }
            };
            let bper = time_steps(&mut bp, 2, steps);
            println!(
                "  batch {k} at {n}x{n}: {bper:.4} s/step, {:.4} s per network-step: {:.2}x the networks/hour of one at a time",
                bper / k as f64,
                per * k as f64 / bper
            );
            print_profile(&mut bp, &format!(" of batch {k}"));
        }
        print_profile(&mut plan, "");
    }
}

/// Prints the step profile of `plan` by category and, with CLOUDFILL_BENCH_TOP=N, its N slowest
/// dispatches (`label` names the plan).
fn print_profile(plan: &mut Plan, label: &str) {
    let Some(times) = plan.profile_step().unwrap() else {
        return;
    };
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    let mut cats: BTreeMap<&str, f64> = BTreeMap::new();
    let fwd_end = 1 + plan.compiled.forward.len();
    for (i, t) in times.iter().enumerate() {
        *cats.entry(category(t.shader, i, fwd_end)).or_default() += t.seconds;
    }
    let parts: Vec<String> = cats
        .iter()
        .map(|(k, v)| format!("{k} {:.0} %", 100.0 * v / total))
        .collect();
    println!(
        "  profile{label} (timestamps, one pass per dispatch: {:.4} s): {}",
        total,
        parts.join(", ")
    );
    let top: usize = std::env::var("CLOUDFILL_BENCH_TOP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut idx: Vec<usize> = (0..times.len()).collect();
    idx.sort_by(|&a, &b| times[b].seconds.total_cmp(&times[a].seconds));
    for &i in idx.iter().take(top) {
        let t = &times[i];
        println!(
            "    #{i:<4} {:<12} {:<28} {:>7.2} ms  workgroups {:?}",
            t.shader.file(),
            t.entry,
            t.seconds * 1e3,
            t.groups
        );
    }
}
