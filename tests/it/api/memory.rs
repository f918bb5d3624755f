//! A fit's memory is flat in the number of steps (issue: lavapipe's uniform inlining compiled a
//! new shader variant per command buffer for some kernels and grew ~0.8 MB per step).
//!
//! Measured in a child process (this test binary re-run on one ignored test), so that no other
//! test's allocations share the resident-set figure.
use crate::common::Rng;
use cloudfill::io::{Image, Mask};
use cloudfill::net::NetConfig;
use cloudfill::{Dip, DipConfig, Gpu};
use std::ops::ControlFlow;
use std::process::Command;

const WARM: usize = 40;
const MORE: usize = 120;

/// Resident set size of this process, in KiB (Linux).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn fit_memory_is_flat_in_steps() {
    if rss_kib().is_none() {
        println!("skipped: /proc/self/status has no VmRSS here");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "api::memory::memory_child",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    // libtest prints "test api::memory::memory_child ... " before the child's first line.
    let kib = |tag: &str| -> u64 {
        let at = text
            .find(tag)
            .unwrap_or_else(|| panic!("no {tag} in:\n{text}"));
        let rest = text[at + tag.len()..].trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    let (a, b) = (kib("rss_warm_kib:"), kib("rss_more_kib:"));
    let grown = b as f64 / 1024.0 - a as f64 / 1024.0;
    eprintln!(
        "RSS after {WARM} steps {} MiB, after {} steps {} MiB: {grown:+.1} MiB",
        a / 1024,
        WARM + MORE,
        b / 1024
    );
    assert!(
        grown < 8.0,
        "memory grew by {grown:.1} MiB over {MORE} steps"
    );
}

/// The child: a 5-level network at 64² (its 2×2 and 4×4 levels took the kernels that leaked),
/// `WARM` steps, RSS, `MORE` steps, RSS.
#[test]
#[ignore = "run by fit_memory_is_flat_in_steps in a process of its own"]
fn memory_child() {
    let gpu = Gpu::new().unwrap();
    let (h, w) = (64, 64);
    let mut rng = Rng::new(3);
    let cfg = DipConfig {
        net: NetConfig::with_levels(5),
        ..DipConfig::default()
    };
    let mut dip = Dip::new(&gpu, cfg).unwrap();
    let image = Image::new(
        h,
        w,
        3,
        (0..h * w * 3).map(|_| rng.uniform(0.0, 1.0)).collect(),
    );
    dip.set_target(vec![image.unwrap()]).unwrap();
    let clear = (0..h * w).map(|p| (p / w) % 16 > 3).collect();
    dip.set_mask(vec![Mask { h, w, clear }]).unwrap();
    let go = |_: &_| ControlFlow::Continue(());
    dip.fit(WARM, go).unwrap();
    println!("rss_warm_kib: {}", rss_kib().unwrap());
    dip.fit(MORE, go).unwrap();
    println!("rss_more_kib: {}", rss_kib().unwrap());
}
