//! At-least-once webhook delivery across kills of the real binary: an
//! order committed by a process that died before any delivery, and an
//! attempt cut short by a kill, both reach the receiver after a restart,
//! signed so that it verifies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

fn start(db: &Path, extra: &[&str]) -> (Child, String, Option<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orderflow-server"));
    for var in [
        "ORDERFLOW_LISTEN",
        "ORDERFLOW_DATABASE",
        "ORDERFLOW_LOG_LEVEL",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--database",
        ])
        .arg(db)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut key = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(k) = line.split_whitespace().find(|w| w.starts_with("of_sk_")) {
            key = Some(k.to_owned());
        }
        if let Some(addr) = line.strip_prefix("OrderFlow listening on http://") {
            let addr = addr.to_owned();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return (child, format!("http://{addr}"), key);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

fn kill(mut child: Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// A receiver that records every request and, while `hang` is set,
/// never answers (the connection stays open); otherwise answers 200.
struct Receiver {
    port: u16,
    hang: Arc<AtomicBool>,
    got: Arc<Log>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hang = Arc::new(AtomicBool::new(true));
        let got: Arc<Mutex<Vec<_>>> = Arc::default();
        let (h, g) = (hang.clone(), got.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (h, g) = (h.clone(), g.clone());
                std::thread::spawn(move || serve(stream, &h, &g));
            }
        });
        Receiver { port, hang, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn wait_for(&self, what: &str, n: usize, answered: bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let got = self.got.lock().expect("lock");
            if got.iter().filter(|r| r.4 == answered).count() >= n {
                return;
            }
            drop(got);
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}");
    }
}

/// What the receiver saw: webhook-id, webhook-timestamp, webhook-signature,
/// body, and whether it answered.
type Log = Mutex<Vec<(String, String, String, Vec<u8>, bool)>>;

fn serve(mut stream: TcpStream, hang: &AtomicBool, got: &Log) {
    // Keep-alive: several requests may come on one connection.
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let len: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; len];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let hanging = hang.load(Ordering::SeqCst);
        got.lock().expect("lock").push((
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            body,
            !hanging,
        ));
        if hanging {
            // Never answer; the sender dies first.
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn verifies(secret: &str, id: &str, ts: &str, sig: &str, body: &[u8]) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    sig == format!("v1,{expected}")
}

async fn post(http: &reqwest::Client, url: String, body: Value, idem: bool) -> Value {
    let mut rb = http.post(url).json(&body);
    if idem {
        rb = rb.header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
    }
    let rsp = rb.send().await.expect("an answer");
    assert!(rsp.status().is_success(), "{}", rsp.status());
    rsp.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_survives_kills_before_and_during_its_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("orderflow.db");
    let receiver = Receiver::start();

    // 1. No worker in this process: the order and its event commit, then
    //    the process is killed before anything is sent.
    let allow = "--webhook-allow-private-addresses";
    let (child, base, key) = start(&db, &["--no-webhook-worker", allow]);
    let key = key.expect("the first start shows the admin key");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().expect("header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let endpoint = post(
        &http,
        format!("{base}/v2/webhook-endpoints"),
        json!({"url": receiver.url()}),
        false,
    )
    .await;
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
    let customer = post(
        &http,
        format!("{base}/v2/customers"),
        json!({"name": "Ada", "email": "ada@example.com"}),
        false,
    )
    .await;
    let product = post(
        &http,
        format!("{base}/v2/products"),
        json!({"sku": "MUG-1", "name": "Mug", "price": {"amount": "12.50", "currency": "EUR"}}),
        false,
    )
    .await;
    let order = post(
        &http,
        format!("{base}/v2/orders"),
        json!({"customer_id": customer["id"], "items": [{"product_id": product["id"], "quantity": 1}]}),
        true,
    )
    .await;
    kill(child);
    assert!(
        receiver.got.lock().expect("lock").is_empty(),
        "nothing sent yet"
    );

    // 2. A worker claims it and sends; the receiver never answers; the
    //    process is killed mid-attempt.
    let (child, _, _) = start(
        &db,
        &[
            "--webhook-timeout",
            "60",
            "--webhook-backoff-ms",
            "50",
            allow,
        ],
    );
    receiver.wait_for("the first attempt", 1, false);
    kill(child);

    // 3. The next start takes the dead process's claim back at once (not
    //    after the 65 s lease) and delivers.
    receiver.hang.store(false, Ordering::SeqCst);
    let started = Instant::now();
    let (child, base, _) = start(
        &db,
        &[
            "--webhook-timeout",
            "60",
            "--webhook-backoff-ms",
            "50",
            allow,
        ],
    );
    receiver.wait_for("the delivery after the restart", 1, true);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not held for the lease: {:?}",
        started.elapsed()
    );
    let got = receiver.got.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "the cut-short attempt, then the delivery");
    assert_eq!(got[0].0, got[1].0, "one event id on every attempt");
    let (id, ts, sig, body, _) = &got[1];
    assert!(
        verifies(&secret, id, ts, sig, body),
        "the signature verifies"
    );
    let event: Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(event["type"], "order.created");
    assert_eq!(event["data"]["order_id"], order["id"]);

    // The log, through the API of the restarted process.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log: Value = http
            .get(format!("{base}/v2/events/{id}/deliveries"))
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("JSON");
        if log["data"][0]["state"] == "delivered" || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(log["data"][0]["state"], "delivered", "{log}");
    kill(child);
}
