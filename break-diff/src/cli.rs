//! The `break-diff` command line: argument parsing, reading the two inputs
//! (file, stdin or `git show REV:path`), the clock, and exit codes.
//!
//! This is the only module that does I/O. It is in the library rather
//! than in `main.rs` so that tests drive [`run`] with in-memory streams;
//! `main` only forwards the process's arguments and streams. It never
//! panics on input and treats a closed stdout (broken pipe) as normal.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::Command as Process;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::filter::PathFilter;
use crate::report::{self, Format, Inputs, Sources};
use crate::{Level, Options, rules, waivers};

/// Exit codes of `break-diff`. Stable: CI scripts depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Nothing at or above the `--fail-on` level (or a listing command).
    Clean = 0,
    /// At least one finding at or above the `--fail-on` level.
    Findings = 1,
    /// Bad usage, or an input that cannot be read or parsed.
    Usage = 2,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Markdown,
    Github,
    Junit,
    Sarif,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Github => Format::Github,
            FormatArg::Junit => Format::Junit,
            FormatArg::Sarif => Format::Sarif,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LayerArg {
    Wire,
    Sdk,
}

impl From<LayerArg> for crate::rules::Layer {
    fn from(l: LayerArg) -> Self {
        match l {
            LayerArg::Wire => crate::rules::Layer::Wire,
            LayerArg::Sdk => crate::rules::Layer::Sdk,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
}

impl From<FailOn> for Level {
    fn from(f: FailOn) -> Self {
        match f {
            FailOn::Error => Level::Error,
            FailOn::Warning => Level::Warning,
            FailOn::Info => Level::Info,
        }
    }
}

/// Reports the changes between two revisions of an OpenAPI document that
/// can break existing clients.
///
/// Exit codes: 0 when nothing is at or above --fail-on, 1 when something
/// is, 2 on bad usage or an unreadable or unparsable input.
#[derive(Debug, Parser)]
#[command(name = "break-diff", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The base document: a file, `-` for stdin, or `REV:path` to read it
    /// with `git show` (e.g. `origin/main:spec/orderflow.yaml`).
    base: Option<String>,

    /// The revised document, in the same forms as BASE.
    revision: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,

    /// Lowest level that makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,

    /// The day against which sunset dates are judged (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    date: Option<chrono::NaiveDate>,

    /// In the text format, show each finding's lines as a small unified
    /// diff of the two documents.
    #[arg(long)]
    diff: bool,

    /// A waiver file (YAML or JSON): findings it covers are accepted and
    /// do not count towards --fail-on.
    #[arg(long, value_name = "FILE")]
    waivers: Option<String>,

    /// A configuration file (YAML or JSON) that changes rule levels:
    /// `rules: {RULE_ID: error|warning|info|off}`.
    #[arg(long, value_name = "FILE")]
    config: Option<String>,

    /// Report only changes that break this layer: `wire` (the HTTP
    /// exchange) or `sdk` (code written against the generated SDK).
    #[arg(long, value_enum, value_name = "LAYER")]
    layer: Option<LayerArg>,

    /// Report only operations whose path matches this glob (`*` within a
    /// segment, `**` across); repeatable.
    #[arg(long = "include-path", value_name = "GLOB")]
    include_path: Vec<String>,

    /// Leave out operations whose path matches this glob; repeatable.
    #[arg(long = "exclude-path", value_name = "GLOB")]
    exclude_path: Vec<String>,

    /// Minimum deprecation period in days: between the date and a newly
    /// set `x-sunset`, and between `x-deprecated-since` (when given) and a
    /// removal.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    min_deprecation_days: u32,

    /// Compare one version's operations with another's: `--map /v1=/v2`
    /// pairs BASE's operations under `/v1` with REVISION's under `/v2`,
    /// path for path, and leaves out every other operation. BASE and
    /// REVISION may be the same file. The report is then the migration
    /// guide from one version to the other.
    #[arg(long, value_name = "FROM=TO", value_parser = parse_map)]
    map: Option<(String, String)>,
}

/// `--map` values: two path prefixes, `/v1=/v2`.
fn parse_map(text: &str) -> Result<(String, String), String> {
    let (from, to) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not FROM=TO; write two path prefixes, e.g. /v1=/v2"))?;
    for p in [from, to] {
        if !p.starts_with('/') || p.contains(['{', '}', '*', '?', '#']) {
            return Err(format!(
                "{p:?} is not a path prefix; write a literal path starting with /, e.g. /v1"
            ));
        }
    }
    if from == to {
        return Err(format!("{from:?} is mapped onto itself; leave --map out"));
    }
    Ok((from.to_string(), to.to_string()))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every rule with its level and description.
    Rules,
    /// Explain one rule: why it breaks clients and how to evolve safely.
    Explain {
        /// The rule id, e.g. `request_property_became_required`.
        id: String,
    },
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a YYYY-MM-DD date: {e}"))
}

/// Runs the CLI with the process's stdin. See [`run_with_stdin`].
pub fn run<I, T>(args: I, stdout: &mut dyn Write, stderr: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with_stdin(args, &mut io::stdin().lock(), stdout, stderr)
}

/// Runs the CLI: `args` includes the program name, as `std::env::args_os`
/// does. Never panics on user input.
pub fn run_with_stdin<I, T>(
    args: I,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are successes printed to stdout.
            let (code, out): (ExitCode, &mut dyn Write) = if e.use_stderr() {
                (ExitCode::Usage, stderr)
            } else {
                (ExitCode::Clean, stdout)
            };
            let _ = write!(out, "{}", e.render());
            return code;
        }
    };
    let output = match execute(&cli, stdin) {
        Ok(output) => output,
        Err(e) => {
            let _ = writeln!(stderr, "break-diff: error: {e:#}");
            return ExitCode::Usage;
        }
    };
    let _ = stderr.write_all(output.notes.as_bytes());
    match stdout
        .write_all(output.text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => output.code,
        // A reader that stops early (`| head`) is not a failure of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => output.code,
        Err(e) => {
            let _ = writeln!(stderr, "break-diff: error: cannot write output: {e}");
            ExitCode::Usage
        }
    }
}

struct Output {
    /// What goes to stdout.
    text: String,
    /// Advice for stderr that does not change the outcome.
    notes: String,
    code: ExitCode,
}

fn execute(cli: &Cli, stdin: &mut dyn Read) -> anyhow::Result<Output> {
    match &cli.command {
        Some(Command::Rules) => {
            return Ok(Output {
                text: report::rule_list(),
                notes: String::new(),
                code: ExitCode::Clean,
            });
        }
        Some(Command::Explain { id }) => {
            let Some(rule) = rules::find(id) else {
                let near = rules::similar(id);
                let hint = if near.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", near.join(", "))
                };
                bail!("unknown rule id `{id}`{hint}; `break-diff rules` lists them");
            };
            return Ok(Output {
                text: report::explain(&rule.meta),
                notes: String::new(),
                code: ExitCode::Clean,
            });
        }
        None => {}
    }
    let (Some(base_arg), Some(rev_arg)) = (&cli.base, &cli.revision) else {
        bail!("expected two documents: break-diff [OPTIONS] <BASE> <REVISION> (see --help)");
    };
    if base_arg == "-" && rev_arg == "-" {
        bail!("only one of BASE and REVISION can be `-` (stdin)");
    }
    let (base_name, base_text) = load(base_arg, stdin)?;
    let (rev_name, rev_text) = load(rev_arg, stdin)?;
    // The two documents are independent: parse them side by side.
    let (base, revision) = std::thread::scope(|scope| {
        let base = scope.spawn(|| crate::read(&base_name, &base_text));
        let revision = crate::read(&rev_name, &rev_text);
        let base = base
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (base, revision)
    });
    let (base, revision) = (base?, revision?);
    let options = Options {
        today: cli.date.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        min_deprecation_days: cli.min_deprecation_days,
        map: cli.map.clone(),
    };
    let filter = PathFilter {
        include: cli.include_path.clone(),
        exclude: cli.exclude_path.clone(),
    };
    let strategy = crate::walk::Strategy {
        threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        ..Default::default()
    };
    let config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the configuration file `{path}`"))?;
            crate::config::parse(path, &text)?
        }
        None => crate::config::Config::default(),
    };
    let findings: Vec<_> = config
        .apply(crate::diff_with(&base, &revision, &options, strategy))
        .into_iter()
        .filter(|f| filter.keeps(f))
        .filter(|f| {
            cli.layer.is_none_or(|layer| {
                rules::find(f.rule).is_some_and(|r| r.meta.layers.contains(&layer.into()))
            })
        })
        .collect();
    let waivers = match &cli.waivers {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the waiver file `{path}`"))?;
            waivers::parse(path, &text)?
        }
        None => Vec::new(),
    };
    let applied = waivers::apply(findings, &waivers, options.today);
    let threshold: Level = cli.fail_on.into();
    let code = if applied.kept.iter().any(|f| f.level >= threshold) {
        ExitCode::Findings
    } else {
        ExitCode::Clean
    };
    let inputs = Inputs {
        base: &base_name,
        revision: &rev_name,
        sources: cli.diff.then_some(Sources {
            base: &base_text,
            revision: &rev_text,
        }),
    };
    let mut notes = String::new();
    for w in &applied.expired {
        notes.push_str(&format!(
            "break-diff: note: waiver at line {} for {} expired on {}; it no longer applies\n",
            w.line,
            w.describe(),
            w.until.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    for w in &applied.unused {
        notes.push_str(&format!(
            "break-diff: note: waiver at line {} for {} matched nothing; it can be removed\n",
            w.line,
            w.describe()
        ));
    }
    let text = report::render(cli.format.into(), inputs, &applied.kept, &applied.waived);
    // Freeing two large document trees takes as long as comparing small
    // ones, and nothing waits for it: a process about to exit lets the
    // thread go unfinished.
    std::thread::spawn(move || drop((base, revision)));
    Ok(Output { text, notes, code })
}

/// Reads one input and returns its display name and text.
fn load(arg: &str, stdin: &mut dyn Read) -> anyhow::Result<(String, String)> {
    if arg == "-" {
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .context("cannot read the document from stdin")?;
        return Ok(("<stdin>".to_owned(), text));
    }
    let path = Path::new(arg);
    if path.exists() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{arg}`"))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| anyhow::anyhow!("`{arg}` is not UTF-8 text: {e}"))?;
        return Ok((arg.to_owned(), text));
    }
    if let Some((rev, file)) = arg.split_once(':')
        && !rev.is_empty()
        && !file.is_empty()
    {
        let out = Process::new("git")
            .arg("show")
            .arg(arg)
            .output()
            .with_context(|| format!("cannot run `git show {arg}`; is git installed?"))?;
        if !out.status.success() {
            bail!(
                "`git show {arg}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8(out.stdout)
            .map_err(|e| anyhow::anyhow!("`{arg}` is not UTF-8 text: {e}"))?;
        return Ok((arg.to_owned(), text));
    }
    bail!("`{arg}`: no such file (and not a `REV:path` git revision)")
}
