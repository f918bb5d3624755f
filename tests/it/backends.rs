//! The GPU tests on a second backend: wgpu's OpenGL backend, which runs naga's GLSL output
//! instead of SPIR-V (on a machine without a GPU: Mesa's llvmpipe, `libegl1 libgl1-mesa-dri`);
//! and the kernel tests again with all of wgpu's shader run-time checks
//! (`CLOUDFILL_SHADER_CHECKS=all`; by default Vulkan and GL run without them, `gpu::ShaderChecks`).
//!
//! `cargo test --release` runs this binary on the default adapter (lavapipe in CI); the test
//! here re-runs the same executable as a child with `CLOUDFILL_BACKEND=gl` on [`GL_TESTS`] and
//! asserts that it passed. It skips, saying why, where no GL adapter exists. The child never
//! recurses: it runs with `--skip backends::`, and the test skips itself when
//! `CLOUDFILL_BACKEND` is already set.
use std::process::{Command, Output};
use std::time::Instant;

/// The tests the GL child runs (libtest substring filters): every kernel against its CPU
/// reference and finite differences (`ops::`), the whole tape and PyTorch's mini network
/// (`api::net::`), fits end to end with bit-identity (`api::dip::`, `api::small::`), grouped
/// batches (`api::batch::`) and PyTorch's large conv cases (`golden::conv::`). Not the CLI, tiles
/// or I/O tests (no new GPU code), nor the 300-step trajectories (about 10 min each on GL here),
/// nor the tests in [`GL_SKIPS`].
const GL_TESTS: &[&str] = &[
    "ops::",
    "api::net::",
    "api::dip::",
    "api::small::",
    "api::batch::",
    "golden::conv::",
];

/// Left out of the GL run: a 300-step fit that checks the quality of a fill, not the shaders (the
/// same kernels are the `ops::` tests, the same fits bit-identities in `api::dip::`); 35–80 s on
/// GL, the longest test of the run.
const GL_SKIPS: &[&str] = &["api::dip::synthetic_scene_loss_falls_and_hole_beats_mean_fill"];

/// Fewer passed tests than this means a filter lost its tests (renamed modules).
const GL_MIN_PASSED: usize = 75;

/// The kernel tests that the checked shader modules re-run: every kernel against its CPU
/// reference and finite differences, and the whole tape against PyTorch's mini network.
const CHECKED_TESTS: &[&str] = &["ops::", "api::net::"];

/// Fewer passed tests than this in the checked run means a filter lost its tests.
const CHECKED_MIN_PASSED: usize = 60;

fn child(args: &[&str]) -> (Output, String) {
    child_with(args, ("CLOUDFILL_BACKEND", "gl"))
}

/// This test binary run again with `args` and one more environment variable; without
/// backtraces, so that the tail of a failed run shows its panic messages.
fn child_with(args: &[&str], (key, value): (&str, &str)) -> (Output, String) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(args)
        .env(key, value)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out, text)
}

/// The number before `what` in libtest's "test result: ok. N passed; ..." line.
fn count(text: &str, what: &str) -> Option<usize> {
    let line = text.lines().rev().find(|l| l.starts_with("test result:"))?;
    let before = line.split(what).next()?;
    before.split_whitespace().last()?.parse().ok()
}

/// The probe's "gl adapter: …" line.
fn probe_line(probe: &Output) -> String {
    let out = String::from_utf8_lossy(&probe.stdout);
    let line = out.lines().find_map(|l| l.split_once("gl adapter: "));
    line.map_or("adapter not named".into(), |(_, a)| a.to_string())
}

#[test]
fn gpu_tests_pass_on_the_gl_backend() {
    if let Ok(b) = std::env::var("CLOUDFILL_BACKEND") {
        println!("skipped: CLOUDFILL_BACKEND={b} is set; this run has chosen its backend");
        return;
    }
    let (probe, text) = child(&["--exact", "backends::gl_probe", "--ignored", "--nocapture"]);
    assert!(probe.status.success(), "GL probe failed:\n{text}");
    if let Some(at) = text.find("no gl adapter:") {
        let why = text[at..].lines().next().unwrap_or_default();
        println!("skipped: {why} (install libegl1 libgl1-mesa-dri for Mesa's llvmpipe)");
        return;
    }
    // One test at a time: the tests share one device, and wgpu's GL backend gives up (panics)
    // after waiting 6 s for the device's GL context while another test's long submit holds it,
    // which a slow or busy machine reaches. llvmpipe spreads each dispatch over the cores itself.
    let mut args = GL_TESTS.to_vec();
    args.push("--test-threads=1");
    for skip in GL_SKIPS {
        args.extend(["--skip", skip]);
    }
    let env = ("CLOUDFILL_BACKEND", "gl");
    let (passed, secs) = run_tests(&args, env, GL_MIN_PASSED, "on GL");
    let probed = probe_line(&probe);
    eprintln!("GL backend: {passed} tests passed in {secs:.0} s; {probed}");
}

/// This binary re-run on the `filters` (never `backends::`) with `env` set: asserts that it
/// passed and ran at least `min` tests; the count and the seconds.
fn run_tests(filters: &[&str], env: (&str, &str), min: usize, what: &str) -> (usize, f64) {
    let t = Instant::now();
    let mut args = filters.to_vec();
    args.extend(["--skip", "backends::"]);
    let (out, text) = child_with(&args, env);
    let tail = tail(&text);
    assert!(out.status.success(), "the run {what} failed:\n{tail}");
    let passed = count(&text, " passed").unwrap_or(0);
    assert!(
        passed >= min,
        "only {passed} tests ran {what} (filters {filters:?}):\n{tail}"
    );
    (passed, t.elapsed().as_secs_f64())
}

/// The last 6000 characters of a child's output.
fn tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars[chars.len().saturating_sub(6000)..].iter().collect()
}

/// The kernel tests with the shader modules wgpu checks at run time (loop counters, division
/// guards, bounds checks), as on a backend without robust buffer access: the same results.
#[test]
fn kernel_tests_pass_with_all_shader_checks() {
    if let Ok(v) = std::env::var("CLOUDFILL_SHADER_CHECKS") {
        println!("skipped: CLOUDFILL_SHADER_CHECKS={v} is set; this run has chosen its checks");
        return;
    }
    if std::env::var("CLOUDFILL_BACKEND").is_ok() {
        println!("skipped: a child run of another backend");
        return;
    }
    let env = ("CLOUDFILL_SHADER_CHECKS", "all");
    let (passed, secs) = run_tests(CHECKED_TESTS, env, CHECKED_MIN_PASSED, "with all checks");
    eprintln!("all shader checks: {passed} tests passed in {secs:.0} s");
}

/// The child's probe (the same environment as the GL run, so the adapter that run uses): the
/// adapter `CLOUDFILL_BACKEND=gl` opens, asserted to be a GL one, and the limits that differ
/// most between backends, or why there is none.
#[test]
#[ignore = "run by gpu_tests_pass_on_the_gl_backend with CLOUDFILL_BACKEND=gl"]
fn gl_probe() {
    let g = match cloudfill::Gpu::new() {
        Ok(g) => g,
        Err(e) => {
            println!("no gl adapter: {e}");
            return;
        }
    };
    assert_eq!(g.summary().backend, "Gl", "{}", g.summary());
    let l = g.limits();
    println!(
        "gl adapter: {}; subgroups {:?}; storage buffers per stage {}, binding {} MiB, \
         workgroup {}×{}×{} ({} invocations, {} KiB shared)",
        g.summary(),
        g.subgroup_size(),
        l.max_storage_buffers_per_shader_stage,
        l.max_storage_buffer_binding_size >> 20,
        l.max_compute_workgroup_size_x,
        l.max_compute_workgroup_size_y,
        l.max_compute_workgroup_size_z,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroup_storage_size >> 10,
    );
}
