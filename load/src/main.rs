//! `retry-storm`: the retry storm against the real server binary, before
//! and after the guardrails, written up as evidence.
//!
//! Starts the given `orderflow-server` twice on a fresh database and a
//! free loopback port, first with `--unsafe-disable-guardrails`, then
//! without; runs the same storm against each; counts the orders per key;
//! writes `docs/evidence/retry-storm.md` and its two charts. It builds
//! nothing: build the server first.
//!
//! With `--database postgres://...` each run gets its own fresh database
//! on that PostgreSQL server (created, then dropped), and with
//! `--replicas N` each run starts N server processes on it and spreads
//! every client's tries across them; the same storm then also runs
//! against one process on PostgreSQL, so the page shows both topologies,
//! measured in one invocation (`docs/evidence/retry-storm-N-replicas.md`).
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
use orderflow_load::database::{self, PgScratch};
use orderflow_load::observed::{self, ServerFigures};
use orderflow_load::process::{Backend, ServerProcess};
use orderflow_load::report::{self, Provenance, Topology};
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
    /// A PostgreSQL server (postgres://USER@HOST:PORT/DATABASE) on which
    /// each run creates, and afterwards drops, a database of its own;
    /// without it, each run has a fresh SQLite file.
    #[arg(long, value_name = "POSTGRES_URL")]
    database: Option<String>,
    /// Server processes per run, sharing the run's database (more than
    /// one needs --database postgres://...); every client's tries go to
    /// each in turn.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// The evidence page; the charts are written next to it (default:
    /// docs/evidence/retry-storm.md, retry-storm-postgres.md on
    /// PostgreSQL, retry-storm-N-replicas.md with --replicas N).
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn out(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            PathBuf::from(match (&self.database, self.replicas) {
                (None, _) => "docs/evidence/retry-storm.md".to_string(),
                (Some(_), 1) => "docs/evidence/retry-storm-postgres.md".to_string(),
                (Some(_), n) => format!("docs/evidence/retry-storm-{n}-replicas.md"),
            })
        })
    }

    /// Arguments clap cannot check alone, with what is expected.
    fn check(&self) -> Result<(), String> {
        if self.replicas == 0 || self.replicas > 16 {
            return Err(format!(
                "--replicas {}: expected 1 to 16 server processes",
                self.replicas
            ));
        }
        match &self.database {
            None if self.replicas > 1 => Err(format!(
                "--replicas {} needs --database postgres://...: replicas share their data, \
                 Idempotency-Keys and rate limits only through PostgreSQL",
                self.replicas
            )),
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                Err(format!(
                    "--database {}: expected a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE); \
                     on SQLite the storm makes its own fresh file, so leave --database out",
                    database::redact(url)
                ))
            }
            _ => Ok(()),
        }
    }
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
    if let Err(why) = args.check() {
        let _ = writeln!(stderr, "retry-storm: {why}");
        return Exit::Error;
    }
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
    let mut line = format!(
        "cargo run --release -p orderflow-load --bin retry-storm -- --server-bin {} \
         --duration {} --arrival {} --clients {} --keys {} --principals {} --readers {}",
        args.server_bin.display(),
        show_duration(args.duration),
        show_duration(args.arrival.unwrap_or(args.duration.mul_f64(0.4))),
        args.clients,
        args.keys,
        args.principals,
        args.readers,
    );
    if let Some(url) = &args.database {
        line.push_str(&format!(" --database {}", database::redact(url)));
    }
    if args.replicas > 1 {
        line.push_str(&format!(" --replicas {}", args.replicas));
    }
    line.push_str(&format!(" --out {}", args.out().display()));
    line
}

/// One storm against one topology, on a database of its own.
struct Run {
    report: StormReport,
    /// With the guardrails on: what the servers themselves counted.
    observed: Option<Observed>,
}

/// Starts `replicas` servers on a fresh database, runs the storm across
/// them, observes and recounts, stops them and removes the database.
async fn one_run(
    args: &Args,
    config: &StormConfig,
    label: &str,
    replicas: usize,
    guardrails: bool,
    screenshot_to: Option<&Path>,
    stderr: &mut dyn Write,
) -> Result<Run> {
    let _ = writeln!(
        stderr,
        "retry-storm: {label}: starting {} x {replicas} (guardrails {}, {})",
        args.server_bin.display(),
        if guardrails { "on" } else { "off" },
        if args.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let scratch = match &args.database {
        Some(admin) => Some(
            PgScratch::create(admin, label)
                .await
                .with_context(|| format!("the {label} run: a database of its own"))?,
        ),
        None => None,
    };
    let backend = scratch
        .as_ref()
        .map_or(Backend::FreshSqlite, |s| Backend::Postgres(s.url.clone()));
    let run = run_on(
        args,
        config,
        label,
        replicas,
        guardrails,
        &backend,
        screenshot_to,
        stderr,
    )
    .await;
    if let Some(scratch) = scratch {
        // The servers are gone by now (killed when run_on returned).
        if let Err(e) = scratch.drop_database().await {
            let _ = writeln!(stderr, "retry-storm: {label}: dropping its database: {e}");
        }
    }
    run
}

#[allow(clippy::too_many_arguments)]
async fn run_on(
    args: &Args,
    config: &StormConfig,
    label: &str,
    replicas: usize,
    guardrails: bool,
    backend: &Backend,
    screenshot_to: Option<&Path>,
    stderr: &mut dyn Write,
) -> Result<Run> {
    let start = |n: usize| async move {
        ServerProcess::start(
            &args.server_bin,
            guardrails,
            backend,
            Duration::from_secs(30),
        )
        .await
        .with_context(|| format!("the {label} run, replica {n}"))
    };
    // The first replica migrates the fresh database and bootstraps the
    // admin key; the others find both done.
    let mut servers = vec![start(1).await?];
    for n in 2..=replicas {
        servers.push(start(n).await?);
    }
    let admin = servers[0]
        .admin_key
        .clone()
        .ok_or_else(|| anyhow!("the {label} run: the first server printed no admin key"))?;
    let bases: Vec<String> = servers.iter().map(|s| s.base_url.clone()).collect();
    let result = run_storm(config, &bases, &admin).await;
    // With the guardrails on, the servers count the storm too: read their
    // /metrics as a cross-check, and photograph a dashboard, whose history
    // still holds the storm.
    let observed = if guardrails {
        Some(observe(&bases, screenshot_to, stderr).await)
    } else {
        None
    };
    // Recount while the servers still run: a SQLite WAL is then intact
    // and readable.
    let recount = match (backend, servers[0].database.as_deref()) {
        (Backend::Postgres(url), _) => database::count_postgres(url)
            .await
            .with_context(|| format!("the {label} run: recounting in PostgreSQL")),
        (Backend::FreshSqlite, Some(file)) => database::count(file).with_context(|| {
            format!(
                "the {label} run: reading {}",
                server_database_hint(&args.server_bin)
            )
        }),
        (Backend::FreshSqlite, None) => Err(anyhow!("the {label} run: no database file")),
    };
    for server in servers {
        server.stop().await;
    }
    let mut report = result.with_context(|| format!("the {label} run"))?;
    report.database = Some(recount?);
    Ok(Run { report, observed })
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
    let out = args.out();
    // Replicas are measured next to one process on the same database
    // server, in the same invocation.
    let topologies: Vec<usize> = if args.replicas > 1 {
        vec![1, args.replicas]
    } else {
        vec![1]
    };
    let mut pairs: Vec<(usize, Run, Run)> = Vec::new();
    for &replicas in &topologies {
        let last = replicas == *topologies.last().unwrap_or(&1);
        let name = topology_name(replicas);
        let mut runs = Vec::new();
        for (phase, guardrails) in [("before", false), ("after", true)] {
            let label = if topologies.len() > 1 {
                format!("{name}, {phase}")
            } else {
                phase.to_string()
            };
            let shot = (guardrails && last).then_some(out.as_path());
            let run = one_run(args, &config, &label, replicas, guardrails, shot, stderr).await?;
            let _ = writeln!(stdout, "{label}: {}", summary(&run.report));
            runs.push(run);
        }
        let after = runs.pop().ok_or_else(|| anyhow!("no after-run"))?;
        let before = runs.pop().ok_or_else(|| anyhow!("no before-run"))?;
        pairs.push((replicas, before, after));
    }
    write_evidence(args, &out, command, &pairs)?;
    let _ = writeln!(stdout, "evidence: {}", out.display());

    let mut violations = Vec::new();
    for (replicas, before, after) in &pairs {
        let name = topology_name(*replicas);
        let observed = after.observed.as_ref();
        let disagreements = match observed.and_then(|o| o.figures.as_ref()) {
            Some(f) => {
                let _ = writeln!(
                    stdout,
                    "{name}, after: the servers' /metrics: {} new, {} replayed, {} in flight, {} mismatched, {} rate-limited, {} 5xx",
                    f.new, f.replayed, f.in_flight, f.mismatch, f.rate_limited, f.server_errors
                );
                f.disagreements(&after.report)
            }
            None => vec!["the servers' /metrics could not be read".to_string()],
        };
        if before.report.duplicated_keys() == 0 {
            let _ = writeln!(
                stderr,
                "retry-storm: note: {name}: the before-run created no duplicates, so this storm \
                 did not show what the guardrails prevent; try more --clients or --keys"
            );
        }
        let prefix = if pairs.len() > 1 {
            format!("{name}: ")
        } else {
            String::new()
        };
        violations.extend(
            after
                .report
                .violations()
                .into_iter()
                .chain(disagreements)
                .map(|v| format!("{prefix}{v}")),
        );
    }
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

fn topology_name(replicas: usize) -> String {
    if replicas == 1 {
        "1 process".to_string()
    } else {
        format!("{replicas} replicas")
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

/// Sums the servers' `/metrics` and, given where the page goes,
/// photographs the first server's dashboard next to it.
async fn observe(bases: &[String], out: Option<&Path>, stderr: &mut dyn Write) -> Observed {
    let mut figures = Some(ServerFigures::default());
    for base in bases {
        match ServerFigures::scrape(base).await {
            Ok(f) => figures = figures.map(|sum| sum.plus(&f)),
            Err(e) => {
                let _ = writeln!(stderr, "retry-storm: reading {base}/metrics: {e:#}");
                figures = None;
            }
        }
    }
    let (Some(out), Some(base)) = (out, bases.first()) else {
        return Observed {
            figures,
            screenshot: Err("only the page's own topology is photographed".to_string()),
        };
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
    args: &Args,
    out: &Path,
    command: &str,
    pairs: &[(usize, Run, Run)],
) -> Result<()> {
    let Some((replicas, before, after)) = pairs.last() else {
        return Err(anyhow!("no runs to write up"));
    };
    let (before, after) = (&before.report, &after.report);
    let no_observation = Observed::default();
    let observed = pairs
        .last()
        .and_then(|(_, _, a)| a.observed.as_ref())
        .unwrap_or(&no_observation);
    let dir = out.parent().unwrap_or(Path::new("."));
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow!("--out {} has no file name", out.display()))?;
    let before_svg = format!("{stem}-before.svg");
    let after_svg = format!("{stem}-after.svg");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let when = format!(
        "{}, {cores} cores shared by the servers, the database and the clients",
        httpdate::fmt_http_date(SystemTime::now())
    );
    let topology = match (&args.database, replicas) {
        (None, _) => Provenance::SQLITE_TOPOLOGY.to_string(),
        (Some(_), 1) => "the real server binary on a PostgreSQL database".to_string(),
        (Some(_), n) => format!(
            "{n} replicas of the real server binary (separate processes, each on its own \
             port) sharing one PostgreSQL database, every client's tries going to each \
             replica in turn"
        ),
    };
    let (database, recount) = if args.database.is_some() {
        ("PostgreSQL", "PostgreSQL, in one read-only transaction")
    } else {
        (Provenance::SQLITE_DATABASE, Provenance::SQLITE_RECOUNT)
    };
    let mut page = report::markdown(
        &Provenance {
            command,
            when: &when,
            before_svg: &before_svg,
            after_svg: &after_svg,
            topology: &topology,
            database,
            recount,
        },
        before,
        after,
    );
    if args.database.is_some() {
        // The URL in the command names a server that may be gone: say how
        // to get one, next to the command.
        let quoted = format!("    {command}\n\n");
        let again = format!(
            "{quoted}The PostgreSQL server was a throw-away cluster; this starts one on a free \
             port and runs the same storm on it:\n\n    bash scripts/with-postgres.sh bash -c \
             'target/release/retry-storm --database \"$ORDERFLOW_TEST_POSTGRES\"{}'\n\n",
            if *replicas > 1 {
                format!(" --replicas {replicas}")
            } else {
                String::new()
            }
        );
        page = page.replacen(&quoted, &again, 1);
    }
    if pairs.len() > 1 {
        page.push_str("\n## Next to one process\n\n");
        page.push_str(&format!(
            "The same storm in the same invocation against one server process on the same \
             PostgreSQL server (a fresh database per run), then against {replicas} replicas. \
             The guarantees must not depend on the topology: one order per key, no 5xx, every \
             429 with `Retry-After`. Throughput here is not a scaling figure: the replicas, \
             PostgreSQL and the clients share {cores} cores. The single-process run on the \
             embedded SQLite default is [retry-storm.md](retry-storm.md).\n\n"
        ));
        let names: Vec<String> = pairs.iter().map(|(n, _, _)| topology_name(*n)).collect();
        let topologies: Vec<Topology> = pairs
            .iter()
            .zip(&names)
            .map(|((_, b, a), label)| Topology {
                label,
                before: &b.report,
                after: &a.report,
            })
            .collect();
        page.push_str(&report::topologies_markdown(&topologies));
    }
    page.push_str("\n## The storm as the server saw it\n\n");
    page.push_str(if *replicas > 1 {
        "Read from the after-run servers' own `/metrics` right after the storm and summed over the replicas, beside what the clients counted: the two must agree exactly (the run fails otherwise).\n\n"
    } else {
        "Read from the after-run server's own `/metrics` right after the storm, beside what the clients counted: the two must agree exactly (the run fails otherwise).\n\n"
    });
    match &observed.figures {
        Some(f) => page.push_str(&f.markdown(after)),
        None => page.push_str("The server's `/metrics` could not be read.\n"),
    }
    page.push('\n');
    let whose = if *replicas > 1 {
        "The first replica's built-in dashboard"
    } else {
        "Its built-in dashboard"
    };
    match &observed.screenshot {
        Ok(png) => page.push_str(&format!(
            "{whose} (`/dashboard`), photographed by headless Chromium as the storm ended; the charts are the server's history of the last minutes, so the storm is on them:\n\n![the dashboard after the storm]({png})\n"
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
    fn replicas_without_postgres_and_other_urls_are_usage_errors() {
        let cases: [(&[&str], &str); 4] = [
            (&["--replicas", "2"], "needs --database postgres://"),
            (&["--replicas", "0"], "expected 1 to 16"),
            (&["--database", "/tmp/x.db"], "expected a PostgreSQL URL"),
            (
                &["--database", "mysql://u:hunter2@h/d", "--replicas", "2"],
                "expected a PostgreSQL URL",
            ),
        ];
        for (extra, needle) in cases {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let args: Vec<std::ffi::OsString> = std::iter::once("retry-storm")
                .chain(extra.iter().copied())
                .map(Into::into)
                .collect();
            let exit = run(args, &mut out, &mut err);
            let err = String::from_utf8_lossy(&err);
            assert_eq!(exit, Exit::Error, "{extra:?}: {err}");
            assert!(err.contains(needle), "{extra:?}: {err}");
            assert!(!err.contains("hunter2"), "a password in {err}");
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
