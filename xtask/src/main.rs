//! Repository tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `gen-shaders`: writes `shaders/conv2d_sg.wgsl` from its generator
//!   (`cloudfill::ops::conv2d::sg_gen`); a test fails while the shipped file differs.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  gen-shaders   write shaders/conv2d_sg.wgsl from src/ops/conv2d/sg_gen/";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["gen-shaders"] => match gen_shaders() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gen-shaders: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (this crate's parent folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the repository root")
        .to_path_buf()
}

/// Writes the generated subgroup conv shader where it differs from the generator's output.
fn gen_shaders() -> std::io::Result<()> {
    let path = root().join("shaders/conv2d_sg.wgsl");
    let text = cloudfill::ops::conv2d::sg_gen::generate();
    if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
        println!("{} is up to date", path.display());
        return Ok(());
    }
    std::fs::write(&path, text)?;
    println!("wrote {}", path.display());
    Ok(())
}
