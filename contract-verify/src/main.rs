//! The `contract-verify` binary: [`contract_verify::run`] on the process's
//! arguments and standard streams.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    contract_verify::run(std::env::args(), &mut stdout, &mut stderr).into()
}
