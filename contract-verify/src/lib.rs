//! contract-verify: a provider verifier for the HTTP rules that
//! property-based testers (schemathesis, Prism) do not check: the retry
//! contract of `Idempotency-Key`, rate-limit headers, deprecation
//! lifecycle headers, cursor pagination, problem details and conditional
//! requests. It reads what a spec declares and checks a running server.
//!
//! It never hard-codes an API's paths: which operations a check applies to,
//! and how to build their requests and the resources they depend on, come
//! from the spec (see README.md for the detection rules). It only talks to
//! the base URLs it is given and never follows redirects. It does not
//! validate response bodies against schemas (schemathesis does).
//!
//! [`run`] is the whole CLI, so tests drive it with arguments and buffers.

pub mod checks;
pub mod client;
pub mod factory;
pub mod report;
pub mod spec;

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::checks::{Ctx, FAMILIES};
use crate::client::{Client, Req};
use crate::factory::Factory;
use crate::report::Report;
use crate::spec::Spec;

/// Exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every check that ran passed (some may not have run; the report says
    /// why).
    Pass = 0,
    /// At least one violation.
    Violation = 1,
    /// Bad arguments, an unreadable or invalid spec or fixture, or a
    /// server that does not answer.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "contract-verify",
    about = "Checks a running server against the retry, rate-limit, lifecycle, pagination, problem and conditional-request rules its OpenAPI spec declares."
)]
pub struct Args {
    /// The OpenAPI 3.x document (YAML or JSON).
    #[arg(long)]
    pub spec: String,
    /// The server to check, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub base_url: String,
    /// A header sent with every request (repeatable), e.g. 'Authorization: Bearer KEY'.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A second credential's header (repeatable), for Idempotency-Key scoping.
    #[arg(long = "second-header", value_name = "NAME: VALUE")]
    pub second_headers: Vec<String>,
    /// A server instance whose clock is past the sunset, for the 410 check.
    #[arg(long)]
    pub retired_base_url: Option<String>,
    /// YAML or JSON mapping operationId -> request body, used instead of
    /// generated bodies. `{{unique}}` and `{{id:NAME}}` are replaced.
    #[arg(long)]
    pub fixture: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<String>,
    /// Upper bound on requests sent in the whole run.
    #[arg(long, default_value_t = 5000)]
    pub max_requests: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Upper bound on the whole run, in seconds: no request is sent after
    /// it, and the checks left are reported as not run.
    #[arg(long, default_value_t = 300)]
    pub max_duration: u64,
    /// Longest Retry-After, in seconds, the verifier waits out.
    #[arg(long, default_value_t = 10)]
    pub max_wait: u64,
    /// Check families to run (comma-separated): idempotency, rate-limit,
    /// lifecycle, pagination, problem, conditional. Default: all.
    #[arg(long, value_delimiter = ',')]
    pub checks: Vec<String>,
}

fn header_pairs(values: &[String], flag: &str) -> Result<Vec<(String, String)>, String> {
    values
        .iter()
        .map(|h| {
            let (n, v) = h
                .split_once(':')
                .ok_or_else(|| format!("{flag} `{h}` is not `Name: value`"))?;
            let (n, v) = (n.trim(), v.trim());
            if n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                return Err(format!("{flag} `{h}`: `{n}` is not a header name"));
            }
            Ok((n.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The CLI: parses `args`, runs, writes the report to `stdout` (or
/// `--output`) and errors to `stderr`.
pub fn run(
    args: impl IntoIterator<Item = String>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Exit {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors.
            if e.use_stderr() {
                let _ = write!(stderr, "{e}");
                return Exit::Usage;
            }
            let _ = write!(stdout, "{e}");
            return Exit::Pass;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(stderr, "contract-verify: cannot start the runtime: {e}");
            return Exit::Usage;
        }
    };
    match runtime.block_on(verify(&args)) {
        Ok(report) => {
            let text = match args.format {
                Format::Human => report.human(),
                Format::Json => report.json(),
                Format::Junit => report.junit(),
            };
            if let Some(path) = &args.output {
                if let Err(e) = std::fs::write(path, &text) {
                    let _ = writeln!(stderr, "contract-verify: cannot write {path}: {e}");
                    return Exit::Usage;
                }
                // The human summary still goes to the terminal.
                let _ = write!(stdout, "{}", report.human());
            } else {
                let _ = write!(stdout, "{text}");
            }
            if report.violations().next().is_some() {
                Exit::Violation
            } else {
                Exit::Pass
            }
        }
        Err(e) => {
            let _ = writeln!(stderr, "contract-verify: {e:#}");
            Exit::Usage
        }
    }
}

/// Reads the spec and fixtures, checks the server answers, runs the
/// checks. An `Err` is a usage error (exit 2).
pub async fn verify(args: &Args) -> anyhow::Result<Report> {
    let started = Instant::now();
    let text = std::fs::read_to_string(&args.spec)
        .map_err(|e| anyhow::anyhow!("cannot read the spec {}: {e}", args.spec))?;
    let spec = Spec::parse(&args.spec, &text)
        .map_err(|e| anyhow::anyhow!("the spec cannot be used: {e}"))?;
    let families: Vec<String> = if args.checks.is_empty() {
        FAMILIES.iter().map(|f| f.to_string()).collect()
    } else {
        for f in &args.checks {
            if !FAMILIES.contains(&f.as_str()) {
                anyhow::bail!(
                    "--checks: unknown family `{f}`; expected some of {}",
                    FAMILIES.join(", ")
                );
            }
        }
        args.checks.clone()
    };
    let fixtures = match &args.fixture {
        Some(path) => read_fixtures(path)?,
        None => HashMap::new(),
    };
    for id in fixtures.keys() {
        if spec.operation(id).is_none() {
            anyhow::bail!("--fixture names operation `{id}`, which the spec does not declare");
        }
    }
    for url in std::iter::once(&args.base_url).chain(args.retired_base_url.iter()) {
        if url.starts_with("https://") {
            anyhow::bail!(
                "`{url}`: https is not supported by this build (no TLS); run the server on loopback over http"
            );
        }
        if !url.starts_with("http://") || reqwest::Url::parse(url).is_err() {
            anyhow::bail!("`{url}` is not an http:// URL");
        }
    }
    let primary = header_pairs(&args.headers, "--header").map_err(anyhow::Error::msg)?;
    let second = if args.second_headers.is_empty() {
        None
    } else {
        Some(header_pairs(&args.second_headers, "--second-header").map_err(anyhow::Error::msg)?)
    };
    let mut client = Client::new(
        &args.base_url,
        args.retired_base_url.as_deref(),
        primary,
        second,
        args.max_requests,
        Duration::from_secs(args.timeout.max(1)),
    )?;
    client.max_wait = Duration::from_secs(args.max_wait);
    client.deadline = Some(started + Duration::from_secs(args.max_duration));
    // Reachability: any HTTP answer will do; no answer is exit 2.
    if let Err(e) = client
        .send(&Req::new("(reachability probe: GET /)", "GET", "/"))
        .await
    {
        anyhow::bail!("the server at {} does not answer: {e}", args.base_url);
    }
    let factory = Factory::new(&spec, &client, fixtures);
    let ctx = Ctx {
        spec: &spec,
        client: &client,
        factory: &factory,
    };
    let mut applicability = checks::applicability(&spec);
    applicability.retain(|a| families.contains(&a.family));
    let results = checks::run_all(&ctx, &families).await;
    Ok(Report {
        spec: args.spec.clone(),
        base_url: args.base_url.clone(),
        requests_sent: client.sent(),
        duration_ms: started.elapsed().as_millis(),
        applicability,
        results,
    })
}

fn read_fixtures(path: &str) -> anyhow::Result<HashMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the fixture file {path}: {e}"))?;
    let (value, _) = openapi_doc::parse_tree(path, &text)
        .map_err(|e| anyhow::anyhow!("the fixture file cannot be read: {e}"))?
        .ok_or_else(|| anyhow::anyhow!("{path}: the fixture file is empty"))?;
    let serde_json::Value::Object(map) = value else {
        anyhow::bail!("{path}: expected a mapping of operationId to request body");
    };
    Ok(map.into_iter().collect())
}
