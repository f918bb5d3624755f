//! `inpaint --checkpoint`: a fit killed (SIGKILL) or interrupted (SIGINT, exit 130) part way
//! and run again with the same command ends with the same output bytes as an uninterrupted
//! run, and the checkpoint is removed; a checkpoint of other settings or inputs is refused by
//! name; tiled runs and a checkpoint path that is an input or an output are refused.
use super::{cloudfill, s, text};
use cloudfill::dip::Checkpoint;
use cloudfill::io::{self, Image};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const STEPS: usize = 150;

/// A 64×64×3 target with a cloudy square and its mask, in a temporary folder.
struct Scene {
    dir: tempfile::TempDir,
    target: PathBuf,
    mask: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let n = 64;
    let px = |i: usize| ((i % 64) as f32 / 64.0, (i / 64) as f32 / 64.0);
    let data = (0..n * n * 3)
        .map(|k| {
            let (x, y) = px(k / 3);
            (0.5 + 0.4 * (7.0 * x + 3.0 * y + k as f32 % 3.0).sin()).clamp(0.0, 1.0)
        })
        .collect();
    let target = dir.path().join("t.npy");
    io::write_npy(&target, &Image::new(n, n, 3, data).unwrap()).unwrap();
    let clear = (0..n * n)
        .map(|i| !((20..40).contains(&(i % n)) && (24..44).contains(&(i / n))) as u8 as f32)
        .collect();
    let mask = dir.path().join("m.npy");
    io::write_npy(&mask, &Image::new(n, n, 1, clear).unwrap()).unwrap();
    Scene { dir, target, mask }
}

/// The arguments of the run: a 3-level network of width 16, `STEPS` steps.
fn args<'a>(sc: &'a Scene, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "inpaint",
        "--target",
        s(&sc.target),
        "--mask",
        s(&sc.mask),
        "--out",
        s(out),
        "--down",
        "16,16,16",
        "--up",
        "16,16,16",
        "--skip",
        "4,4,4",
        "--steps",
        "150",
    ];
    a.extend_from_slice(extra);
    a
}

/// The run as a child whose SIGINT and SIGTERM have their default disposition: a test binary
/// started in the background by a non-interactive shell (`cargo test &`) ignores SIGINT, the
/// child would inherit that, and cloudfill rightly leaves an ignored signal ignored.
fn spawn(a: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudfill"));
    c.args(a)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls (signal(2)) between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    c.spawn().expect("the cloudfill binary runs")
}

/// Starts the run, waits for its first checkpoint, sends `signal`, and returns how it ended.
fn interrupt(a: &[&str], ckpt: &Path, signal: i32) -> ExitStatus {
    let mut child = spawn(a);
    let t0 = Instant::now();
    while !ckpt.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the run ended ({st}) before writing a checkpoint");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no checkpoint after 300 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    child.wait().unwrap()
}

fn saved_step(ckpt: &Path) -> usize {
    let step = Checkpoint::load(ckpt).expect("a whole checkpoint").step();
    assert!(
        0 < step && step < STEPS,
        "checkpoint at step {step} of {STEPS}"
    );
    step
}

#[test]
fn cli_checkpoint_resumes_bit_identically_after_sigkill_and_sigint() {
    use std::os::unix::process::ExitStatusExt;
    let sc = scene();
    let d = sc.dir.path();
    let want_path = d.join("want.npy");
    let o = cloudfill(&args(&sc, &want_path, &["--quiet"]));
    assert!(o.status.success(), "{}", text(&o));
    let want = std::fs::read(&want_path).unwrap();

    let (out, ckpt) = (d.join("out.npy"), d.join("fit.ckpt"));
    let run = args(
        &sc,
        &out,
        &["--checkpoint", s(&ckpt), "--checkpoint-every", "5"],
    );
    // SIGKILL: nothing runs after it; the last periodic checkpoint is whole.
    let st = interrupt(&run, &ckpt, libc::SIGKILL);
    assert_eq!(st.signal(), Some(libc::SIGKILL), "{st}");
    assert_eq!(saved_step(&ckpt) % 5, 0);
    assert!(!out.exists());
    let o = cloudfill(&run);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resuming from"), "{}", text(&o));
    assert!(
        std::fs::read(&out).unwrap() == want,
        "resumed after SIGKILL: other bytes"
    );
    assert!(!ckpt.exists(), "the checkpoint is removed at the end");

    // SIGINT: the fit saves where it is and exits 130.
    std::fs::remove_file(&out).unwrap();
    let st = interrupt(&run, &ckpt, libc::SIGINT);
    assert_eq!(st.code(), Some(130), "{st}");
    saved_step(&ckpt);
    assert!(!out.exists());
    refusals(&sc, &out, &ckpt);
    let o = cloudfill(&run);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        std::fs::read(&out).unwrap() == want,
        "resumed after SIGINT: other bytes"
    );
    assert!(!ckpt.exists(), "the checkpoint is removed at the end");
}

/// With a checkpoint at `ckpt`: other settings or inputs are refused by name, before any fit,
/// and the checkpoint is kept.
fn refusals(sc: &Scene, out: &Path, ckpt: &Path) {
    let other = sc.dir.path().join("t2.npy");
    let mut img = io::read_raster(&sc.target, None, None).unwrap().image;
    img.data[100] += 0.25;
    io::write_npy(&other, &img).unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (&["--lr", "0.01"], &["`lr` was 0.02, now 0.01", "--lr"]),
        (&["--seed", "7"], &["`seed` was 0, now 7", "--seed"]),
        (&["--steps", "200"], &["`steps` was 150, now 200"]),
        (&["--target", s(&other)], &["`input data`", "--target"]),
    ];
    for (extra, names) in cases {
        let mut a = args(sc, out, &["--checkpoint", s(ckpt), "--quiet"]);
        match a.iter().position(|f| *f == extra[0]) {
            Some(i) => a[i + 1] = extra[1],
            None => a.extend_from_slice(extra),
        }
        let o = cloudfill(&a);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        for n in names.iter().chain(&[s(ckpt), "another fit"]) {
            assert!(t.contains(n), "names {n:?}: {t}");
        }
        assert!(ckpt.exists() && !out.exists(), "{t}");
    }
}

#[test]
fn cli_checkpoint_refused_when_tiled_or_an_input_or_output() {
    let sc = scene();
    let (out, ckpt) = (sc.dir.path().join("o.npy"), sc.dir.path().join("c.ckpt"));
    let cases: [(&[&str], &str); 3] = [
        (&["--checkpoint", s(&ckpt), "--tile", "32"], "--work-dir"),
        (&["--checkpoint", s(&sc.mask)], "is the --mask input"),
        (
            &["--checkpoint", s(&out)],
            "--checkpoint and --out are the same file",
        ),
    ];
    for (extra, msg) in cases {
        let o = cloudfill(&args(&sc, &out, extra));
        let t = text(&o);
        assert!(!o.status.success() && t.contains(msg), "{msg:?}: {t}");
        assert!(!out.exists() && !ckpt.exists(), "{t}");
    }
}
