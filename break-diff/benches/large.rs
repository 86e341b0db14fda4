//! Speed and memory of one full comparison of two large specs. A benchmark,
//! not a test: it asserts nothing, prints its figures and writes them into
//! the marked section of `docs/benchmarks.md`.
//!
//! `cargo bench -p break-diff --bench large` generates (deterministically,
//! no randomness, no network) a synthetic OpenAPI 3.0 spec of several MB
//! with thousands of operations and recursive schemas, and a revision with
//! a few hundred scattered changes of every kind the gate cares about. Each
//! measured run is a fresh child process (this same binary, re-executed)
//! that does exactly what `break-diff base.yaml revision.yaml --format
//! json` does through `break_diff::cli::run`; the child reports its wall
//! time and its peak resident memory (`VmHWM` from `/proc/self/status`), so
//! the parent's own memory (the generator's) is not counted. A second child
//! times the phases (parse, compare, render) for profiling.
//!
//! It does not download public specs. To measure a real pair as well, point
//! `BREAK_DIFF_BENCH_BASE` and `BREAK_DIFF_BENCH_REVISION` at two local
//! files (for example two revisions of `openapi/spec3.yaml` from
//! github.com/stripe/openapi, fetched by hand and never committed); without
//! them that part is skipped with a notice.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Resources in the generated spec; each has five operations.
const RESOURCES: usize = 1200;
/// Measured end-to-end runs; the report shows the median and the worst.
const RUNS: usize = 5;
/// The environment variable that puts this binary in child mode.
const CHILD: &str = "BREAK_DIFF_BENCH_CHILD";
/// "Today" for the comparison, fixed so that runs are comparable.
const TODAY: &str = "2026-06-01";

fn main() {
    if let Ok(mode) = std::env::var(CHILD) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        child(&mode, &args[0], &args[1]);
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("break-diff-bench");
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    let base = generate(RESOURCES, false);
    let rev = generate(RESOURCES, true);
    let (base_path, rev_path) = (dir.join("base.yaml"), dir.join("revision.yaml"));
    std::fs::write(&base_path, &base).expect("write base.yaml");
    std::fs::write(&rev_path, &rev).expect("write revision.yaml");
    let operations = RESOURCES * 5;
    let schemas = RESOURCES * 3 + 3;
    println!(
        "break-diff bench: base {:.2} MB, revision {:.2} MB, {operations} operations, {schemas} schemas",
        mb(base.len()),
        mb(rev.len())
    );

    let phases = run_child("phases", &base_path, &rev_path);
    println!("phases (one run): {}", phases.trim());
    let synthetic = measure(&base_path, &rev_path);
    println!(
        "full comparison (CLI, --format json), {RUNS} runs: median {:.0} ms wall ({} ms CPU), worst {:.0} ms, peak RSS {:.0} MB; {} changes from {} findings ({}); load average {}",
        ms(synthetic.median),
        synthetic.cpu_ms,
        ms(synthetic.worst),
        synthetic.peak_kb as f64 / 1024.0,
        synthetic.changes,
        synthetic.findings,
        synthetic.summary,
        load()
    );
    let real = match (
        std::env::var_os("BREAK_DIFF_BENCH_BASE"),
        std::env::var_os("BREAK_DIFF_BENCH_REVISION"),
    ) {
        (Some(b), Some(r)) => {
            let (b, r) = (PathBuf::from(b), PathBuf::from(r));
            let sizes = (
                std::fs::metadata(&b).map_or(0, |m| m.len() as usize),
                std::fs::metadata(&r).map_or(0, |m| m.len() as usize),
            );
            let m = measure(&b, &r);
            println!(
                "real pair {} -> {}: median {:.0} ms wall ({} ms CPU), worst {:.0} ms, peak RSS {:.0} MB; {} changes from {} findings ({})",
                b.display(),
                r.display(),
                ms(m.median),
                m.cpu_ms,
                ms(m.worst),
                m.peak_kb as f64 / 1024.0,
                m.changes,
                m.findings,
                m.summary
            );
            let name = |p: &Path| {
                p.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            };
            Some((name(&b), name(&r), sizes, m))
        }
        _ => {
            println!(
                "real pair: skipped; set BREAK_DIFF_BENCH_BASE and BREAK_DIFF_BENCH_REVISION to two local revisions of a public spec to measure one"
            );
            None
        }
    };

    let section = report(
        (base.len(), rev.len()),
        operations,
        schemas,
        &synthetic,
        real.as_ref(),
        phases.trim(),
        &load(),
    );
    let doc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    write_section(&doc, &section);
    println!("wrote the break-diff section of {}", doc.display());
}

/// What the measured runs of one pair gave.
struct Measured {
    median: Duration,
    worst: Duration,
    cpu_ms: u64,
    peak_kb: u64,
    summary: String,
    changes: usize,
    findings: usize,
}

/// [`RUNS`] fresh child processes on one pair: median and worst wall time,
/// median CPU time, peak memory, and what the report said.
fn measure(base: &Path, rev: &Path) -> Measured {
    let mut runs: Vec<(Duration, u64, u64, String, usize, usize)> = (0..RUNS)
        .map(|_| {
            let out = run_child("cli", base, rev);
            let field = |name: &str| -> String {
                out.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{name}=")))
                    .unwrap_or_else(|| panic!("child output lacks {name}: {out}"))
                    .to_owned()
            };
            let wall = Duration::from_micros(field("wall_us").parse().expect("wall_us"));
            let hwm: u64 = field("vmhwm_kb").parse().expect("vmhwm_kb");
            let cpu: u64 = field("cpu_ms").parse().expect("cpu_ms");
            let changes: usize = field("changes").parse().expect("changes");
            let findings: usize = field("findings").parse().expect("findings");
            (wall, hwm, cpu, field("summary"), changes, findings)
        })
        .collect();
    runs.sort_by_key(|r| r.0);
    let median = &runs[RUNS / 2];
    let mut cpus: Vec<u64> = runs.iter().map(|r| r.2).collect();
    cpus.sort_unstable();
    Measured {
        median: median.0,
        worst: runs.last().map(|r| r.0).unwrap_or_default(),
        cpu_ms: cpus[RUNS / 2],
        peak_kb: runs.iter().map(|r| r.1).max().unwrap_or(0),
        summary: median.3.replace('_', " "),
        changes: median.4,
        findings: median.5,
    }
}

/// The 1-minute load average, as text.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Re-executes this binary in child `mode` and returns its stdout.
fn run_child(mode: &str, base: &Path, rev: &Path) -> String {
    let out = Command::new(std::env::current_exe().expect("current exe"))
        .env(CHILD, mode)
        .arg(base)
        .arg(rev)
        .output()
        .expect("run the bench child");
    assert!(
        out.status.success(),
        "bench child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The child: one comparison, then its figures on stdout.
fn child(mode: &str, base: &str, rev: &str) {
    match mode {
        "cli" => {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let start = Instant::now();
            let code = break_diff::cli::run(
                ["break-diff", base, rev, "--format", "json", "--date", TODAY],
                &mut out,
                &mut err,
            );
            let wall = start.elapsed();
            let report: serde_json::Value = serde_json::from_slice(&out).expect("a JSON report");
            let s = &report["summary"];
            let count = |key: &str| report[key].as_array().map_or(0, Vec::len);
            println!(
                "wall_us={} cpu_ms={} vmhwm_kb={} exit={} changes={} findings={} summary={}_error,_{}_warning,_{}_info",
                wall.as_micros(),
                cpu_ms(),
                vmhwm_kb(),
                code as u8,
                count("changes"),
                count("findings"),
                s["error"],
                s["warning"],
                s["info"],
            );
        }
        "phases" => {
            let c0 = cpu_ms();
            let t = Instant::now();
            let (bt, rt) = (
                std::fs::read_to_string(base).expect("read base"),
                std::fs::read_to_string(rev).expect("read revision"),
            );
            let read = t.elapsed();
            let t = Instant::now();
            // Side by side, as the CLI parses them.
            let (b, r) = std::thread::scope(|scope| {
                let b = scope.spawn(|| break_diff::read("base.yaml", &bt));
                let r = break_diff::read("revision.yaml", &rt);
                (b.join().expect("no panic"), r)
            });
            let (b, r) = (b.expect("base parses"), r.expect("revision parses"));
            let parse = t.elapsed();
            let c1 = cpu_ms();
            let options = break_diff::Options {
                today: chrono::NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").expect("date"),
                min_deprecation_days: 90,
                map: None,
            };
            let t = Instant::now();
            // The strategy the CLI uses: every core, unchanged schemas skipped.
            let strategy = break_diff::walk::Strategy {
                threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
                ..Default::default()
            };
            let findings = break_diff::diff_with(&b, &r, &options, strategy);
            let compare = t.elapsed();
            let c2 = cpu_ms();
            let t = Instant::now();
            let inputs = break_diff::report::Inputs {
                base: "base.yaml",
                revision: "revision.yaml",
                sources: None,
            };
            let json = break_diff::report::render(
                break_diff::report::Format::Json,
                inputs,
                &findings,
                &[],
            );
            let render = t.elapsed();
            println!(
                "read {:.0} ms, parse both {:.0} ms wall ({} ms CPU), compare {:.0} ms wall ({} ms CPU), render JSON {:.0} ms ({} findings, {} KB)",
                ms(read),
                ms(parse),
                c1 - c0,
                ms(compare),
                c2 - c1,
                ms(render),
                findings.len(),
                json.len() / 1024
            );
        }
        other => panic!("unknown bench child mode {other}"),
    }
}

/// CPU time (user plus system, all threads) this process has used so far,
/// from `/proc/self/stat` in clock ticks of 10 ms (Linux's fixed
/// `USER_HZ`); 0 where that file does not exist. Unlike wall time, it does
/// not grow when other processes compete for the cores.
fn cpu_ms() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesized command name; utime and
            // stime are the 14th and 15th fields of the whole line.
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) * 10)
        })
        .unwrap_or(0)
}

/// Peak resident set size of this process, from `/proc/self/status`; 0
/// where that file does not exist (not Linux).
fn vmhwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Which change, if any, the revision makes to resource `i`. About one
/// resource in four changes, in a pattern that scatters the kinds.
fn change(i: usize, revised: bool) -> Option<usize> {
    (revised && i % 4 == 1).then_some((i / 4) % 8)
}

/// The generated spec. `revised` applies the scattered changes.
fn generate(resources: usize, revised: bool) -> String {
    let mut s = String::with_capacity(6 << 20);
    s.push_str(
        "openapi: 3.0.3\ninfo:\n  title: Synthetic large API\n  version: 1.0.0\n  description: Generated by break-diff/benches/large.rs.\n",
    );
    s.push_str("servers:\n  - url: https://api.example.com\nsecurity:\n  - bearer: []\npaths:\n");
    for i in 0..resources {
        let c = change(i, revised);
        let r = format!("res{i}");
        let n = format!("Res{i}");
        // Collection: list and create.
        let _ = write!(
            s,
            "  /v1/{r}:\n    get:\n      operationId: list{n}\n      tags: [group{g}]\n      summary: List {r}\n      description: Lists {r} items, newest first, keyset-paginated.\n      parameters:\n        - $ref: '#/components/parameters/Limit'\n        - $ref: '#/components/parameters/Cursor'\n        - name: status\n          in: query\n          required: false\n          schema:\n            $ref: '#/components/schemas/{n}Status'\n",
            g = i % 40
        );
        if c == Some(5) {
            s.push_str("        - name: q\n          in: query\n          required: false\n          description: Full-text filter.\n          schema:\n            type: string\n");
        }
        let _ = write!(
            s,
            "      responses:\n        '200':\n          description: One page.\n          headers:\n            X-Request-Id:\n              $ref: '#/components/headers/XRequestId'\n          content:\n            application/json:\n              schema:\n                type: object\n                required: [data, next_cursor]\n                properties:\n                  data:\n                    type: array\n                    items:\n                      $ref: '#/components/schemas/{n}'\n                  next_cursor:\n                    type: string\n                    nullable: true\n        '400':\n          $ref: '#/components/responses/Problem'\n        '401':\n          $ref: '#/components/responses/Problem'\n"
        );
        let _ = write!(
            s,
            "    post:\n      operationId: create{n}\n      tags: [group{g}]\n      summary: Create one of {r}\n      parameters:\n        - name: Idempotency-Key\n          in: header\n          required: true\n          schema:\n            type: string\n            maxLength: 255\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/{n}Create'\n      responses:\n        '201':\n          description: Created.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/{n}'\n        '400':\n          $ref: '#/components/responses/Problem'\n        '409':\n          $ref: '#/components/responses/Problem'\n        '422':\n          $ref: '#/components/responses/Problem'\n",
            g = i % 40
        );
        // Item: get, update, delete (delete removed by change 3).
        let _ = write!(
            s,
            "  /v1/{r}/{{id}}:\n    parameters:\n      - name: id\n        in: path\n        required: true\n        schema:\n          type: string\n          pattern: '^{r}_[0-9A-Z]{{20}}$'\n    get:\n      operationId: get{n}\n      tags: [group{g}]\n      responses:\n        '200':\n          description: The item.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/{n}'\n        '404':\n          $ref: '#/components/responses/Problem'\n    patch:\n      operationId: update{n}\n      tags: [group{g}]\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/{n}Create'\n      responses:\n        '200':\n          description: Updated.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/{n}'\n        '404':\n          $ref: '#/components/responses/Problem'\n",
            g = i % 40
        );
        if c != Some(3) {
            let _ = write!(
                s,
                "    delete:\n      operationId: delete{n}\n      tags: [group{g}]\n      responses:\n        '204':\n          description: Deleted.\n        '404':\n          $ref: '#/components/responses/Problem'\n",
                g = i % 40
            );
        }
    }
    s.push_str(COMPONENTS_HEAD);
    for i in 0..resources {
        let c = change(i, revised);
        let n = format!("Res{i}");
        // Recursion: each resource lists its own kind as children, points
        // at the next resource of its group of ten (a cycle of ten), and
        // embeds the shared recursive `Tree`.
        let next = i / 10 * 10 + (i + 1) % 10;
        let next = if next < resources { next } else { i / 10 * 10 };
        let mut object = format!(
            "    {n}:\n      type: object\n      description: Resource number {i}; refers to its children and to Res{next}.\n      required: [id, name, status, created_at]\n      properties:\n        id:\n          type: string\n          readOnly: true\n        name:\n          type: string\n          maxLength: 200\n        status:\n          $ref: '#/components/schemas/{n}Status'\n        amount:\n          $ref: '#/components/schemas/Money'\n        tree:\n          $ref: '#/components/schemas/Tree'\n        children:\n          type: array\n          items:\n            $ref: '#/components/schemas/{n}'\n        related:\n          $ref: '#/components/schemas/Res{next}'\n        metadata:\n          type: object\n          additionalProperties:\n            type: string\n        created_at:\n          type: string\n          format: date-time\n"
        );
        let mut create = format!(
            "    {n}Create:\n      type: object\n      required: [name]\n      properties:\n        name:\n          type: string\n          minLength: 1\n          maxLength: 200\n        email:\n          type: string\n          format: email\n        amount:\n          $ref: '#/components/schemas/Money'\n        tree:\n          $ref: '#/components/schemas/Tree'\n        tags:\n          type: array\n          maxItems: 20\n          items:\n            type: string\n"
        );
        let mut status = "[draft, active, archived]";
        match c {
            // A new optional response property: info.
            Some(0) => object.push_str(
                "        note:\n          type: string\n          description: A new optional property.\n",
            ),
            // An optional request property becomes required: error.
            Some(1) => create = create.replacen("required: [name]", "required: [name, email]", 1),
            // A new enum value, seen in responses: warning.
            Some(2) => status = "[draft, active, archived, deleted]",
            // Change 3 removes the delete operation (above).
            // A narrower request bound: error.
            Some(4) => create = create.replacen("maxLength: 200", "maxLength: 100", 1),
            // Change 5 adds an optional query parameter (above).
            // A new required request property: error.
            Some(6) => {
                create = create.replacen("required: [name]", "required: [name, priority]", 1);
                create.push_str("        priority:\n          type: integer\n");
            }
            // A required response property disappears: error.
            Some(7) => {
                object = object
                    .replacen(
                        "        created_at:\n          type: string\n          format: date-time\n",
                        "",
                        1,
                    )
                    .replacen(
                        "required: [id, name, status, created_at]",
                        "required: [id, name, status]",
                        1,
                    );
            }
            _ => {}
        }
        s.push_str(&object);
        let _ = write!(
            s,
            "    {n}Status:\n      type: string\n      enum: {status}\n"
        );
        s.push_str(&create);
    }
    s
}

/// Shared components before the per-resource schemas.
const COMPONENTS_HEAD: &str = "components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
  headers:
    XRequestId:
      required: true
      schema:
        type: string
  parameters:
    Limit:
      name: limit
      in: query
      required: false
      schema:
        type: integer
        minimum: 1
        maximum: 100
    Cursor:
      name: cursor
      in: query
      required: false
      schema:
        type: string
        maxLength: 512
  responses:
    Problem:
      description: A problem details body.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
  schemas:
    Problem:
      type: object
      required: [type, title, status]
      properties:
        type:
          type: string
        title:
          type: string
        status:
          type: integer
        detail:
          type: string
        errors:
          type: array
          items:
            type: object
            properties:
              pointer:
                type: string
              detail:
                type: string
    Money:
      type: object
      required: [amount_minor, currency]
      properties:
        amount_minor:
          type: integer
          format: int64
        currency:
          type: string
          pattern: '^[A-Z]{3}$'
    Tree:
      type: object
      description: A recursive tree, shared by every resource.
      properties:
        label:
          type: string
        parent:
          $ref: '#/components/schemas/Tree'
        children:
          type: array
          items:
            $ref: '#/components/schemas/Tree'
";

/// The markdown section for `docs/benchmarks.md`.
fn report(
    sizes: (usize, usize),
    operations: usize,
    schemas: usize,
    synthetic: &Measured,
    real: Option<&(String, String, (usize, usize), Measured)>,
    phases: &str,
    load: &str,
) -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let date = chrono::Utc::now().date_naive();
    let mut out = String::new();
    let _ = writeln!(out, "## break-diff: one comparison of two large specs\n");
    let _ = writeln!(
        out,
        "Measured by `cargo bench -p break-diff --bench large` on {date} ({nproc} cores, {rustc}), bench (release) profile. \
         The bench generates a synthetic OpenAPI 3.0.3 spec deterministically: {operations} operations, {schemas} schemas, \
         every resource schema recursive (its own children, a cycle of ten resources, a shared recursive tree), \
         and a revision with changes scattered over one resource in four (added and removed properties, enum values, \
         required request properties, narrowed bounds, removed operations, new parameters). \
         Each run is a fresh process doing what `break-diff base.yaml revision.yaml --format json` does; \
         peak memory is that process's `VmHWM`. A real pair is measured too when `BREAK_DIFF_BENCH_BASE` and \
         `BREAK_DIFF_BENCH_REVISION` name two local files; none is committed or downloaded by the bench.\n"
    );
    let _ = writeln!(
        out,
        "| input | wall time (median of {RUNS}) | worst | CPU time (median) | peak RSS | changes (report entries) | findings (per operation) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
    let row = |out: &mut String, input: String, m: &Measured| {
        let _ = writeln!(
            out,
            "| {input} | {:.0} ms | {:.0} ms | {} ms | {:.0} MB | {} | {} ({}) |",
            ms(m.median),
            ms(m.worst),
            m.cpu_ms,
            m.peak_kb as f64 / 1024.0,
            m.changes,
            m.findings,
            m.summary
        );
    };
    row(
        &mut out,
        format!(
            "synthetic: {:.2} MB base, {:.2} MB revision, {operations} operations",
            mb(sizes.0),
            mb(sizes.1)
        ),
        synthetic,
    );
    if let Some((b, r, (bs, rs), m)) = real {
        row(
            &mut out,
            format!("real: `{b}` {:.2} MB -> `{r}` {:.2} MB", mb(*bs), mb(*rs)),
            m,
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "The machine was shared: load average {load} on {nproc} cores when the runs ended, so wall times are inflated; \
         CPU time (user plus system, all threads) grows less with the load, but contention for the cores and caches \
         still inflates it, so compare rows of one run rather than runs of different days. Parsing runs the two documents on two threads \
         and the comparison shares operations over every core.\n"
    );
    let _ = writeln!(out, "Phases of one run (synthetic pair): {phases}.");
    out
}

/// Replaces the text between the break-diff markers of `path`, appending
/// the markers at the end when they are absent. The rest of the file
/// belongs to other tools and is left as it is.
fn write_section(path: &Path, section: &str) {
    const START: &str = "<!-- break-diff-bench:start -->";
    const END: &str = "<!-- break-diff-bench:end -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{START}\n{section}{END}");
    let new = match (old.find(START), old.find(END)) {
        (Some(s), Some(e)) if s < e => format!("{}{block}{}", &old[..s], &old[e + END.len()..]),
        _ => {
            let sep = if old.is_empty() || old.ends_with("\n\n") {
                ""
            } else if old.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{old}{sep}{block}\n")
        }
    };
    if new != old {
        std::fs::write(path, new).expect("write docs/benchmarks.md");
    }
}
