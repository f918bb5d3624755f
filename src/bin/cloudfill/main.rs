//! `cloudfill`: remove clouds from satellite images with Deep Image Prior on any GPU.
//! Every step is the library's; this binary parses the flags, opens the GPU, draws progress
//! bars and prints what the library returns.
mod args;
mod cleanup;
mod composite;
mod demo;
mod fit;
mod inpaint;
mod input_args;
mod resume;
mod signals;
mod tiled;

use anyhow::{bail, Result};
use args::{Cli, Command};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Demo(a) => demo::demo(&a),
        Command::Inpaint(a) => inpaint::inpaint(&a),
        Command::Composite(a) => composite::composite(&a),
        Command::Merge(a) => tiled::merge(&a),
        Command::Adapters => adapters(),
    };
    if let Err(e) = r {
        if let Some(i) = e.downcast_ref::<resume::Interrupted>() {
            eprintln!("{i}");
            std::process::exit(128 + i.signal);
        }
        eprintln!("error: {}{}", message(&e), hint(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text is already said
/// (the library's errors include their source's message in their own).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain().map(|c| c.to_string()) {
        if !out.contains(&cause) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&cause);
        }
    }
    out
}

/// What the user can do about `e`, where the CLI offers a flag for it.
fn hint(e: &anyhow::Error) -> &'static str {
    let exists = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<cloudfill::Error>(),
            Some(cloudfill::Error::OutputExists { .. })
        )
    });
    if exists {
        " (pass --overwrite to replace it)"
    } else {
        ""
    }
}

fn adapters() -> Result<()> {
    let (list, pick) = cloudfill::gpu::list_adapters()?;
    if list.is_empty() {
        bail!("{}", cloudfill::Error::NoAdapter { filter: None });
    }
    for (i, a) in list.iter().enumerate() {
        let mark = if Some(i) == pick { "*" } else { " " };
        println!("{mark} {a}");
    }
    println!("(* = the adapter cloudfill uses; override with CLOUDFILL_ADAPTER=<name part> or CLOUDFILL_BACKEND=vulkan|metal|dx12|gl)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
