//! The `break-diff` binary: forwards the process's arguments and standard
//! streams to [`break_diff::cli::run`], which holds all the logic so that
//! tests can drive it. Nothing else belongs here.

fn main() -> std::process::ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    break_diff::cli::run(std::env::args_os(), &mut stdout.lock(), &mut stderr.lock()).into()
}
