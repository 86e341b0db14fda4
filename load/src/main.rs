//! `retry-storm`: the retry storm against the real server binary, before
//! and after the guardrails, written up as evidence.
//!
//! Starts the given `orderflow-server` twice on a fresh database and a
//! free loopback port, first with `--unsafe-disable-guardrails`, then
//! without; runs the same storm against each; counts the orders per key;
//! writes `docs/evidence/retry-storm.md` and its two charts. It builds
//! nothing: build the server first.
//!
//! Exit codes: 0 the after-run kept every guarantee; 1 it broke one (a
//! duplicate or missing order, a 5xx, a 429 without `Retry-After`); 2 the
//! storm could not run (bad arguments, the server did not start, the
//! evidence could not be written).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use orderflow_load::database;
use orderflow_load::observed::{self, ServerFigures};
use orderflow_load::process::ServerProcess;
use orderflow_load::report::{self, Provenance};
use orderflow_load::storm::{Op, Outcome, StormConfig, StormReport, run_storm};

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Pass = 0,
    Violated = 1,
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "retry-storm",
    about = "Retry storm against orderflow-server, before and after the guardrails"
)]
struct Args {
    /// The server binary to run (build it first).
    #[arg(long, default_value = "target/release/orderflow-server")]
    server_bin: PathBuf,
    /// Deadline of each storm, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Window over which the logical orders start (default: 40% of
    /// --duration, leaving the rest for the retries).
    #[arg(long, value_parser = parse_duration)]
    arrival: Option<Duration>,
    /// Concurrent writer clients (half hammer, half honour Retry-After).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Logical orders, each with its own Idempotency-Key.
    #[arg(long, default_value_t = 200)]
    keys: usize,
    /// Customer API keys placing the orders (each its own rate limit).
    #[arg(long, default_value_t = 2)]
    principals: usize,
    /// Tasks listing orders above the read quota.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// The evidence page; the charts are written next to it.
    #[arg(long, default_value = "docs/evidence/retry-storm.md")]
    out: PathBuf,
}

/// `10s`, `500ms`, `2m`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s or 500ms"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}; use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    run(std::env::args_os().collect(), &mut stdout, &mut stderr).into()
}

/// The whole command, drivable from tests.
fn run(args: Vec<OsString>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Exit {
    let args = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) if e.use_stderr() => {
            let _ = write!(stderr, "{e}");
            return Exit::Error;
        }
        Err(e) => {
            // --help and --version.
            let _ = write!(stdout, "{e}");
            return Exit::Pass;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(stderr, "retry-storm: starting the async runtime: {e}");
            return Exit::Error;
        }
    };
    let command = command_line(&args);
    match runtime.block_on(storms(&args, &command, stdout, stderr)) {
        Ok(exit) => exit,
        Err(e) => {
            let _ = writeln!(stderr, "retry-storm: {e:#}");
            Exit::Error
        }
    }
}

/// A duration as `parse_duration` reads it back: whole seconds as `10s`.
fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// How the evidence page quotes the command: as run through cargo, with
/// the arguments given.
fn command_line(args: &Args) -> String {
    format!(
        "cargo run --release -p orderflow-load --bin retry-storm -- --server-bin {} \
         --duration {} --arrival {} --clients {} --keys {} --principals {} --readers {} \
         --out {}",
        args.server_bin.display(),
        show_duration(args.duration),
        show_duration(args.arrival.unwrap_or(args.duration.mul_f64(0.4))),
        args.clients,
        args.keys,
        args.principals,
        args.readers,
        args.out.display()
    )
}

async fn storms(
    args: &Args,
    command: &str,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<Exit> {
    let config = StormConfig {
        duration: args.duration,
        clients: args.clients,
        keys: args.keys,
        arrival: args.arrival.unwrap_or(args.duration.mul_f64(0.4)),
        principals: args.principals,
        readers: args.readers,
        ..StormConfig::default()
    };
    let mut runs = Vec::new();
    let mut observed_after: Option<Observed> = None;
    for (label, guardrails) in [("before", false), ("after", true)] {
        let _ = writeln!(
            stderr,
            "retry-storm: {label}: starting {} (guardrails {})",
            args.server_bin.display(),
            if guardrails { "on" } else { "off" }
        );
        let server = ServerProcess::start(&args.server_bin, guardrails, Duration::from_secs(30))
            .await
            .with_context(|| format!("the {label} run"))?;
        let result = run_storm(&config, &server.base_url, &server.admin_key).await;
        // With the guardrails on, the server counts the storm too: read its
        // /metrics as a cross-check, and photograph its dashboard, whose
        // history still holds the storm.
        if guardrails {
            observed_after = Some(observe(&server.base_url, &args.out, stderr).await);
        }
        // Recount from the file while the server still runs: its WAL is
        // then intact and readable.
        let recount = database::count(&server.database);
        server.stop().await;
        let mut report = result.with_context(|| format!("the {label} run"))?;
        report.database = Some(recount.with_context(|| {
            format!(
                "the {label} run: reading {}",
                server_database_hint(&args.server_bin)
            )
        })?);
        let _ = writeln!(stdout, "{label}: {}", summary(&report));
        runs.push(report);
    }
    let (before, after) = (&runs[0], &runs[1]);
    let observed = observed_after.unwrap_or_default();
    write_evidence(&args.out, command, before, after, &observed)?;
    let _ = writeln!(stdout, "evidence: {}", args.out.display());
    let disagreements = match &observed.figures {
        Some(f) => {
            let _ = writeln!(
                stdout,
                "after: the server's /metrics: {} new, {} replayed, {} in flight, {} mismatched, {} rate-limited, {} 5xx",
                f.new, f.replayed, f.in_flight, f.mismatch, f.rate_limited, f.server_errors
            );
            f.disagreements(after)
        }
        None => vec!["the server's /metrics could not be read".to_string()],
    };
    if before.duplicated_keys() == 0 {
        let _ = writeln!(
            stderr,
            "retry-storm: note: the before-run created no duplicates, so this storm did not \
             show what the guardrails prevent; try more --clients or --keys"
        );
    }
    let mut violations = after.violations();
    violations.extend(disagreements);
    if violations.is_empty() {
        let _ = writeln!(stdout, "after: pass");
        Ok(Exit::Pass)
    } else {
        for v in violations {
            let _ = writeln!(stdout, "after: FAIL: {v}");
        }
        Ok(Exit::Violated)
    }
}

/// What the after-run's server said about the storm.
struct Observed {
    figures: Option<ServerFigures>,
    /// The dashboard screenshot's file name (beside the report), or why
    /// there is none.
    screenshot: Result<String, String>,
}

impl Default for Observed {
    fn default() -> Self {
        Observed {
            figures: None,
            screenshot: Err("the after-run did not get that far".to_string()),
        }
    }
}

async fn observe(base: &str, out: &Path, stderr: &mut dyn Write) -> Observed {
    let figures = match ServerFigures::scrape(base).await {
        Ok(f) => Some(f),
        Err(e) => {
            let _ = writeln!(stderr, "retry-storm: reading /metrics: {e:#}");
            None
        }
    };
    let dir = out.parent().unwrap_or(Path::new("."));
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("retry-storm");
    let name = format!("{stem}-dashboard.png");
    let _ = std::fs::create_dir_all(dir);
    let screenshot = match observed::screenshot(base, &dir.join(&name)) {
        Ok(true) => Ok(name),
        Ok(false) => {
            Err("no Chromium installed (apt-get install chromium), so no screenshot".to_string())
        }
        Err(e) => Err(format!("the screenshot failed: {e:#}")),
    };
    if let Err(why) = &screenshot {
        let _ = writeln!(stderr, "retry-storm: dashboard: {why}");
    }
    Observed {
        figures,
        screenshot,
    }
}

fn server_database_hint(bin: &Path) -> String {
    format!("the database file written by {}", bin.display())
}

/// One line per run for the terminal.
fn summary(r: &StormReport) -> String {
    let (valid, limited) = r.retry_after_share();
    format!(
        "{} orders for {} keys ({} keys duplicated, {} missing); writes: {} created, {} replayed, \
         409 {}, 422 {}, 429 {}; reads: 200 {}, 429 {}; 5xx {}; 429 with Retry-After {valid}/{limited}; \
         {:.0} responses/s over {:.2} s; p50 {:.1} ms, p99 {:.1} ms",
        r.total_orders(),
        r.orders_per_key.len(),
        r.duplicated_keys(),
        r.missing_keys(),
        r.count(Some(Op::Write), Outcome::Created),
        r.count(Some(Op::Write), Outcome::Replayed),
        r.count(Some(Op::Write), Outcome::Conflict),
        r.count(Some(Op::Write), Outcome::Unprocessable),
        r.count(Some(Op::Write), Outcome::TooManyRequests),
        r.count(Some(Op::Read), Outcome::Ok),
        r.count(Some(Op::Read), Outcome::TooManyRequests),
        r.count(None, Outcome::ServerError),
        r.throughput(None),
        r.elapsed.as_secs_f64(),
        r.latency(None, 50.0).as_secs_f64() * 1000.0,
        r.latency(None, 99.0).as_secs_f64() * 1000.0,
    )
}

fn write_evidence(
    out: &Path,
    command: &str,
    before: &StormReport,
    after: &StormReport,
    observed: &Observed,
) -> Result<()> {
    let dir = out.parent().unwrap_or(Path::new("."));
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow!("--out {} has no file name", out.display()))?;
    let before_svg = format!("{stem}-before.svg");
    let after_svg = format!("{stem}-after.svg");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let when = format!(
        "{}, {cores} cores shared by the server and the clients",
        httpdate::fmt_http_date(SystemTime::now())
    );
    let mut page = report::markdown(
        &Provenance {
            command,
            when: &when,
            before_svg: &before_svg,
            after_svg: &after_svg,
        },
        before,
        after,
    );
    page.push_str("\n## The storm as the server saw it\n\n");
    page.push_str(
        "Read from the after-run server's own `/metrics` right after the storm, beside what the clients counted: the two must agree exactly (the run fails otherwise).\n\n",
    );
    match &observed.figures {
        Some(f) => page.push_str(&f.markdown(after)),
        None => page.push_str("The server's `/metrics` could not be read.\n"),
    }
    page.push('\n');
    match &observed.screenshot {
        Ok(png) => page.push_str(&format!(
            "Its built-in dashboard (`/dashboard`), photographed by headless Chromium as the storm ended; the charts are the server's history of the last minutes, so the storm is on them:\n\n![the dashboard after the storm]({png})\n"
        )),
        Err(why) => page.push_str(&format!("No dashboard screenshot: {why}.\n")),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // One time axis for both charts, so that they compare at a glance.
    let span = before.elapsed.max(after.elapsed);
    let files = [
        (out.to_path_buf(), page),
        (
            dir.join(&before_svg),
            report::timeline_svg(before, "Before: guardrails off", span),
        ),
        (
            dir.join(&after_svg),
            report::timeline_svg(after, "After: guardrails on", span),
        ),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Exit, parse_duration, run, show_duration};

    #[test]
    fn durations_parse() {
        let ok = [
            ("10s", 10_000),
            ("500ms", 500),
            ("2m", 120_000),
            ("3", 3000),
            ("1.5s", 1500),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "s", "10h", "-1s", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        for ms in [0, 500, 4000, 10_000, 1500] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&show_duration(d)), Ok(d), "{ms} ms");
        }
    }

    #[test]
    fn a_missing_server_binary_is_exit_2_with_the_build_hint() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = [
            "retry-storm",
            "--server-bin",
            "/nonexistent/orderflow-server",
        ];
        let exit = run(args.iter().map(Into::into).collect(), &mut out, &mut err);
        let err = String::from_utf8_lossy(&err);
        assert_eq!(exit, Exit::Error, "{err}");
        assert!(
            err.contains("cargo build --release -p orderflow-server"),
            "{err}"
        );
    }
}
