//! gRPC against the equivalent internal REST call, on loopback, for the
//! same operation (`QuoteBasket` / `POST /internal/quote`) over the same
//! catalog. The server runs in a child process (this binary re-executed
//! with `--serve-child`), so that its CPU is measured apart from the
//! client's. Per cell: warm-up, then an open-loop phase (fixed-rate
//! arrivals per worker, latency from the intended send time) for p50/p99,
//! and a closed-loop phase (back to back) for throughput. Bytes are
//! counted on the client's sockets (both directions); CPU from
//! /proc/<pid>/stat of the server process and of the client.
//!
//!     cargo bench -p orderflow-pricing --bench grpc_vs_rest
//!
//! Writes docs/evidence/grpc-vs-rest-figures.md and grpc-vs-rest.svg.
//! A benchmark, not a test: it asserts nothing.

use std::fmt::Write as _;
use std::io::{BufRead, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use orderflow_pricing::proto::pricing_client::PricingClient;
use orderflow_pricing::proto::{LineRequest, QuoteRequest};
use orderflow_pricing::{PricingServer, ServeOptions, SqliteCatalog, rest};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

const SIZES: [usize; 4] = [1, 10, 100, 1000];
const CONCURRENCIES: [usize; 2] = [1, 8];
const WARM: Duration = Duration::from_millis(300);
const OPEN: Duration = Duration::from_millis(1500);
const CLOSED: Duration = Duration::from_millis(1000);

/// Open-loop arrival rate (calls per second, all workers together) per
/// basket size: below what every protocol sustains here, so latency is
/// measured without a queue building (see the closed-loop throughput).
fn rate(size: usize) -> f64 {
    match size {
        1 => 800.0,
        10 => 600.0,
        100 => 250.0,
        _ => 40.0,
    }
}

/// A socket that counts the bytes through it.
struct Counting {
    inner: TcpStream,
    bytes: Arc<AtomicU64>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let n = (buf.filled().len() - before) as u64;
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.bytes.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            self.bytes.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn connect(addr: SocketAddr, bytes: Arc<AtomicU64>) -> std::io::Result<Counting> {
    let inner = TcpStream::connect(addr).await?;
    inner.set_nodelay(true)?;
    Ok(Counting { inner, bytes })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    Grpc,
    RestH1,
    RestH2,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Grpc => "gRPC (h2, protobuf)",
            Proto::RestH1 => "REST (HTTP/1.1, JSON)",
            Proto::RestH2 => "REST (h2c, JSON)",
        }
    }
}

/// One worker's way to make the call.
enum Caller {
    Grpc(PricingClient<tonic::transport::Channel>),
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Caller {
    async fn call(&mut self, lines: &[(String, u32)]) -> anyhow::Result<usize> {
        match self {
            Caller::Grpc(c) => {
                let req = QuoteRequest {
                    lines: lines
                        .iter()
                        .map(|(id, q)| LineRequest {
                            product_id: id.clone(),
                            quantity: *q,
                        })
                        .collect(),
                };
                Ok(c.quote_basket(req).await?.into_inner().lines.len())
            }
            Caller::H1(s) => {
                s.ready().await?;
                let r = s.send_request(rest_request(lines)?).await?;
                rest_response(r).await
            }
            Caller::H2(s) => {
                s.ready().await?;
                let r = s.send_request(rest_request(lines)?).await?;
                rest_response(r).await
            }
        }
    }
}

fn rest_request(lines: &[(String, u32)]) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let body = serde_json::to_vec(&rest::QuoteRequest {
        lines: lines
            .iter()
            .map(|(id, q)| rest::LineRequest {
                product_id: id.clone(),
                quantity: *q,
            })
            .collect(),
    })?;
    Ok(http::Request::post(format!("http://pricing{}", rest::PATH))
        .header(http::header::HOST, "pricing")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?)
}

async fn rest_response(r: http::Response<hyper::body::Incoming>) -> anyhow::Result<usize> {
    anyhow::ensure!(r.status() == 200, "status {}", r.status());
    let body = r.into_body().collect().await?.to_bytes();
    let parsed: rest::QuoteResponse = serde_json::from_slice(&body)?;
    Ok(parsed.lines.len())
}

/// `concurrency` callers sharing one HTTP/2 connection (gRPC, h2c) or
/// one HTTP/1.1 connection each (keep-alive).
async fn callers(
    proto: Proto,
    grpc: SocketAddr,
    rest_addr: SocketAddr,
    concurrency: usize,
    bytes: Arc<AtomicU64>,
) -> anyhow::Result<Vec<Caller>> {
    let mut out = Vec::new();
    match proto {
        Proto::Grpc => {
            let b = bytes.clone();
            let channel = tonic::transport::Endpoint::from_static("http://pricing")
                .connect_with_connector(tower::service_fn(move |_| {
                    let b = b.clone();
                    async move { connect(grpc, b).await.map(hyper_util::rt::TokioIo::new) }
                }))
                .await?;
            let client = PricingClient::new(channel).max_decoding_message_size(64 << 20);
            for _ in 0..concurrency {
                out.push(Caller::Grpc(client.clone()));
            }
        }
        Proto::RestH1 => {
            for _ in 0..concurrency {
                let io = hyper_util::rt::TokioIo::new(connect(rest_addr, bytes.clone()).await?);
                let (send, conn) = hyper::client::conn::http1::handshake(io).await?;
                tokio::spawn(conn);
                out.push(Caller::H1(send));
            }
        }
        Proto::RestH2 => {
            let io = hyper_util::rt::TokioIo::new(connect(rest_addr, bytes.clone()).await?);
            let (send, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await?;
            tokio::spawn(conn);
            for _ in 0..concurrency {
                out.push(Caller::H2(send.clone()));
            }
        }
    }
    Ok(out)
}

/// CPU time of a process so far (utime + stime from /proc/<pid>/stat).
fn cpu(pid: &str) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based): 11 and 12 after ')'.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct Cell {
    proto: Proto,
    size: usize,
    concurrency: usize,
    rate: f64,
    p50_us: f64,
    p99_us: f64,
    open_calls: usize,
    throughput: f64,
    bytes_per_call: f64,
    server_cpu_us: f64,
    client_cpu_us: f64,
    errors: usize,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

async fn run_cell(
    proto: Proto,
    size: usize,
    concurrency: usize,
    addrs: (SocketAddr, SocketAddr),
    server_pid: &str,
) -> anyhow::Result<Cell> {
    let bytes = Arc::new(AtomicU64::new(0));
    let mut workers = callers(proto, addrs.0, addrs.1, concurrency, bytes.clone()).await?;
    let lines: Arc<Vec<(String, u32)>> = Arc::new(
        (0..size)
            .map(|i| (format!("prd_{i:05}"), 1 + (i % 3) as u32))
            .collect(),
    );
    // Warm-up (connections, caches, allocator).
    let until = Instant::now() + WARM;
    for w in &mut workers {
        while Instant::now() < until {
            w.call(&lines).await?;
        }
    }
    // Open loop: each worker sends at its share of the rate, on schedule.
    let rate = rate(size);
    let period = Duration::from_secs_f64(concurrency as f64 / rate);
    let (b0, s0, c0) = (bytes.load(Ordering::Relaxed), cpu(server_pid), cpu("self"));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (k, mut w) in workers.into_iter().enumerate() {
        let lines = lines.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            // Stagger the workers over one period.
            let first = start + period.mul_f64(k as f64 / concurrency as f64);
            let mut i = 0u32;
            loop {
                let intended = first + period * i;
                if intended >= start + OPEN {
                    break;
                }
                tokio::time::sleep_until(intended.into()).await;
                match w.call(&lines).await {
                    Ok(_) => lat.push(intended.elapsed().as_micros() as u64),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            (w, lat, errors)
        }));
    }
    let mut workers = Vec::new();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (w, l, e) = t.await?;
        workers.push(w);
        lat.extend(l);
        errors += e;
    }
    let open_calls = lat.len() + errors;
    let (b1, s1, c1) = (bytes.load(Ordering::Relaxed), cpu(server_pid), cpu("self"));
    lat.sort_unstable();
    // Closed loop: back to back, for throughput.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut w in workers {
        let lines = lines.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < CLOSED {
                if w.call(&lines).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let calls = open_calls.max(1) as f64;
    Ok(Cell {
        proto,
        size,
        concurrency,
        rate,
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
        open_calls,
        throughput: done as f64 / elapsed,
        bytes_per_call: (b1 - b0) as f64 / calls,
        server_cpu_us: (s1 - s0).as_secs_f64() * 1e6 / calls,
        client_cpu_us: (c1 - c0).as_secs_f64() * 1e6 / calls,
        errors,
    })
}

/// The child: serve the catalog, print the addresses, stop when stdin
/// closes (the parent exited).
async fn serve_child(db: &str) -> anyhow::Result<()> {
    let catalog = SqliteCatalog::open(std::path::Path::new(db), 4)?;
    let server = PricingServer::start(
        Arc::new(catalog),
        ServeOptions {
            grpc: "127.0.0.1:0".parse()?,
            rest: Some("127.0.0.1:0".parse()?),
        },
    )
    .await?;
    println!(
        "{} {}",
        server.grpc_addr(),
        server
            .rest_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        let _ = std::io::stdin().read_line(&mut s);
    })
    .await?;
    server.stop().await;
    Ok(())
}

fn make_catalog(path: &std::path::Path) -> anyhow::Result<()> {
    let c = rusqlite::Connection::open(path)?;
    c.execute_batch(
        "PRAGMA journal_mode=WAL; CREATE TABLE products (id TEXT PRIMARY KEY, sku TEXT NOT NULL, \
         name TEXT NOT NULL, price_minor INTEGER NOT NULL, currency TEXT NOT NULL, active INTEGER NOT NULL);",
    )?;
    let tx = c.unchecked_transaction()?;
    for i in 0..1000 {
        tx.execute(
            "INSERT INTO products VALUES (?1, ?2, ?3, ?4, 'EUR', 1)",
            rusqlite::params![
                format!("prd_{i:05}"),
                format!("SKU-{i:05}"),
                format!("Product number {i}"),
                100 + i
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-child") {
        let db = args.get(i + 1).cloned().unwrap_or_default();
        return tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(serve_child(&db));
    }
    // `cargo bench` passes `--bench`; `cargo test` runs benches with no
    // such flag only when asked, and then this returns at once.
    if !args.iter().any(|a| a == "--bench") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("catalog.db");
    make_catalog(&db)?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["--serve-child", &db.display().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
    )
    .read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let grpc: SocketAddr = parts.next().unwrap_or_default().parse()?;
    let rest_addr: SocketAddr = parts.next().unwrap_or_default().parse()?;
    let pid = child.id().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut cells = Vec::new();
    for size in SIZES {
        for concurrency in CONCURRENCIES {
            // Interleaved per cell, so that drift in the machine's load
            // hits the three protocols alike.
            for proto in [Proto::Grpc, Proto::RestH1, Proto::RestH2] {
                let cell =
                    rt.block_on(run_cell(proto, size, concurrency, (grpc, rest_addr), &pid))?;
                eprintln!(
                    "{:<22} size {:>4} conc {} p50 {:>8.0} us p99 {:>8.0} us {:>7.0}/s {:>8.0} B/call srv {:>5.0} us cli {:>5.0} us err {}",
                    cell.proto.name(),
                    size,
                    concurrency,
                    cell.p50_us,
                    cell.p99_us,
                    cell.throughput,
                    cell.bytes_per_call,
                    cell.server_cpu_us,
                    cell.client_cpu_us,
                    cell.errors
                );
                cells.push(cell);
            }
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/evidence");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("grpc-vs-rest-figures.md"), markdown(&cells))?;
    std::fs::write(out.join("grpc-vs-rest.svg"), svg(&cells))?;
    eprintln!("wrote {}", out.join("grpc-vs-rest-figures.md").display());
    Ok(())
}

fn find(cells: &[Cell], p: Proto, size: usize, conc: usize) -> Option<&Cell> {
    cells
        .iter()
        .find(|c| c.proto == p && c.size == size && c.concurrency == conc)
}

fn markdown(cells: &[Cell]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!-- Generated by `cargo bench -p orderflow-pricing --bench grpc_vs_rest`; do not edit. -->\n"
    );
    let _ = writeln!(
        s,
        "| protocol | items | workers | open-loop rate /s | calls measured | p50 µs | p99 µs | closed-loop calls/s | bytes/call | server CPU µs/call | client CPU µs/call | errors |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
            c.proto.name(),
            c.size,
            c.concurrency,
            c.rate,
            c.open_calls,
            c.p50_us,
            c.p99_us,
            c.throughput,
            c.bytes_per_call,
            c.server_cpu_us,
            c.client_cpu_us,
            c.errors
        );
    }
    let _ = writeln!(
        s,
        "\nRatios REST ÷ gRPC measured in the same run (above 1: gRPC is better):\n"
    );
    let _ = writeln!(
        s,
        "| items | workers | REST | p50 | p99 | throughput (gRPC ÷ REST) | bytes | server CPU | client CPU |"
    );
    let _ = writeln!(s, "|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    for size in SIZES {
        for conc in CONCURRENCIES {
            let Some(g) = find(cells, Proto::Grpc, size, conc) else {
                continue;
            };
            for p in [Proto::RestH1, Proto::RestH2] {
                let Some(r) = find(cells, p, size, conc) else {
                    continue;
                };
                let _ = writeln!(
                    s,
                    "| {size} | {conc} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    p.name(),
                    r.p50_us / g.p50_us,
                    r.p99_us / g.p99_us,
                    g.throughput / r.throughput,
                    r.bytes_per_call / g.bytes_per_call,
                    r.server_cpu_us / g.server_cpu_us.max(1.0),
                    r.client_cpu_us / g.client_cpu_us.max(1.0),
                );
            }
        }
    }
    s
}

/// Grouped bars: per basket size (8 workers), REST (HTTP/1.1) ÷ gRPC for
/// p50, bytes per call, server CPU per call and (inverted) throughput; a
/// line at 1.
fn svg(cells: &[Cell]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 360.0;
    let (left, top, bottom) = (60.0, 40.0, 60.0);
    let plot_h = H - top - bottom;
    type Ratio = fn(&Cell, &Cell) -> f64;
    let metrics: [(&str, &str, Ratio); 4] = [
        ("p50 latency", "#4e79a7", |r, g| r.p50_us / g.p50_us),
        ("bytes/call", "#f28e2b", |r, g| {
            r.bytes_per_call / g.bytes_per_call
        }),
        ("server CPU/call", "#59a14f", |r, g| {
            r.server_cpu_us / g.server_cpu_us.max(1.0)
        }),
        ("throughput (gRPC÷REST)", "#e15759", |r, g| {
            g.throughput / r.throughput
        }),
    ];
    let mut values = Vec::new();
    for size in SIZES {
        let row: Vec<f64> = match (
            find(cells, Proto::Grpc, size, 8),
            find(cells, Proto::RestH1, size, 8),
        ) {
            (Some(g), Some(r)) => metrics.iter().map(|m| (m.2)(r, g)).collect(),
            _ => vec![0.0; metrics.len()],
        };
        values.push(row);
    }
    let max = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(1.5_f64, f64::max)
        .ceil();
    let y = |v: f64| top + plot_h * (1.0 - v.min(max) / max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="13">REST (HTTP/1.1, JSON) ÷ gRPC, 8 workers, same run: above 1, gRPC is better</text>"#
    );
    let mut t = 0.0;
    while t <= max {
        let yy = y(t);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="{}"/><text x="{}" y="{:.1}" text-anchor="end">{t:.0}×</text>"##,
            W - 10.0,
            if t == 1.0 { "#000" } else { "#ddd" },
            left - 5.0,
            yy + 4.0
        );
        t += if max > 10.0 { 2.0 } else { 1.0 };
    }
    let group_w = (W - left - 20.0) / SIZES.len() as f64;
    let bar_w = group_w * 0.8 / metrics.len() as f64;
    for (gi, size) in SIZES.iter().enumerate() {
        let gx = left + group_w * gi as f64 + group_w * 0.1;
        for (mi, m) in metrics.iter().enumerate() {
            let v = values[gi][mi];
            if !v.is_finite() {
                continue;
            }
            let x = gx + bar_w * mi as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.2}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{v:.1}</text>"#,
                y(v),
                bar_w - 2.0,
                (top + plot_h - y(v)).max(0.0),
                m.1,
                m.0,
                x + bar_w / 2.0,
                y(v) - 3.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{size} item{}</text>"#,
            gx + group_w * 0.4,
            top + plot_h + 15.0,
            if *size == 1 { "" } else { "s" }
        );
    }
    for (mi, m) in metrics.iter().enumerate() {
        let x = left + 150.0 * mi as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            H - 22.0,
            m.1,
            x + 14.0,
            H - 13.0,
            m.0
        );
    }
    s.push_str("</svg>\n");
    s
}
