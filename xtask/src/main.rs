//! `cargo xtask gen [--check]`: regenerate (or check) the code made from the spec.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "OrderFlow project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the server trait crates and SDKs of every API in codegen.yaml.
    Gen {
        /// Write nothing; exit 1 and name each stale file if any would change.
        #[arg(long)]
        check: bool,
    },
}

/// Exit codes of `cargo xtask gen`.
#[repr(u8)]
enum Exit {
    Ok = 0,
    /// `--check` found stale files.
    Stale = 1,
    /// The spec could not be read, parsed, linted or generated.
    Failed = 2,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stderr = std::io::stderr();
    let code = match cli.command {
        Command::Gen { check } => gen_cmd(check, &mut std::io::stdout(), &mut stderr),
    };
    ExitCode::from(code as u8)
}

fn gen_cmd(check: bool, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let root = xtask::workspace_root();
    let started = Instant::now();
    let files = match xtask::Config::load(&root).and_then(|c| xtask::generate_all(&root, &c)) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            return Exit::Failed;
        }
    };
    if check {
        let stale = xtask::stale(&root, &files);
        if stale.is_empty() {
            let _ = writeln!(out, "generated code is fresh ({} files)", files.len());
            return Exit::Ok;
        }
        for path in stale {
            let _ = writeln!(err, "stale: {path} (run `cargo xtask gen`)");
        }
        return Exit::Stale;
    }
    match xtask::write_changed(&root, &files) {
        Ok(written) => {
            for path in &written {
                let _ = writeln!(out, "wrote {path}");
            }
            let _ = writeln!(
                out,
                "{} of {} generated files changed ({:.2}s)",
                written.len(),
                files.len(),
                started.elapsed().as_secs_f64()
            );
            Exit::Ok
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            Exit::Failed
        }
    }
}
