//! `proto-break BASE.proto REVISION.proto`: lists the breaking changes
//! from BASE to REVISION. Exit status: 0 none, 1 breaking changes found,
//! 2 usage error or a file that does not compile.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    if args.first().map(String::as_str) == Some("--list") {
        for (id, what) in proto_break::rules::RULES {
            let _ = writeln!(out, "{id}: {what}");
        }
        return ExitCode::SUCCESS;
    }
    let [base, revision] = args else {
        let _ = writeln!(err, "usage: proto-break BASE.proto REVISION.proto | --list");
        return ExitCode::from(2);
    };
    let load = |p: &str| proto_break::load(Path::new(p));
    let (b, r) = match (load(base), load(revision)) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(e), _) | (_, Err(e)) => {
            let _ = writeln!(err, "proto-break: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = proto_break::compare(&b, &r);
    if findings.is_empty() {
        let _ = writeln!(
            out,
            "proto-break: no breaking change ({base} -> {revision})"
        );
        return ExitCode::SUCCESS;
    }
    let _ = writeln!(
        out,
        "proto-break: {} breaking change(s) ({base} -> {revision}):",
        findings.len()
    );
    for f in findings {
        let _ = writeln!(out, "  {f}");
    }
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, &mut std::io::stdout(), &mut std::io::stderr())
}
