//! The `orderflow-server` binary as an operator meets it: start-up
//! failures, exit statuses and the admin command.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orderflow_server::store::{RandomIds, Role, Store, SystemClock};

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orderflow-server"));
    // Settings come from flags only: the environment of the test runner
    // must not leak in.
    for var in [
        "ORDERFLOW_LISTEN",
        "ORDERFLOW_DATABASE",
        "ORDERFLOW_BODY_LIMIT",
        "ORDERFLOW_CURSOR_SECRET",
        "ORDERFLOW_LOG_LEVEL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run orderflow-server")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn db_arg(dir: &Path) -> String {
    dir.join("orderflow.db").display().to_string()
}

/// Starts the server and waits for its "listening" line; returns the child,
/// everything it printed up to then, and its address.
fn start_with(dir: &Path, extra: &[&str]) -> (Child, String, String) {
    let mut child = server()
        .args(["--listen", "127.0.0.1:0", "--database", &db_arg(dir)])
        .args(["--log-level", "warn"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        printed.push_str(&line);
        printed.push('\n');
        if let Some(addr) = line.strip_prefix("OrderFlow listening on http://") {
            let addr = addr.to_string();
            return (child, printed, addr);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start; it printed:\n{printed}");
}

fn start(dir: &Path) -> (Child, String) {
    let (child, printed, _) = start_with(dir, &[]);
    (child, printed)
}

fn admin_keys(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).expect("open");
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM api_keys WHERE role = 'admin'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    n as usize
}

#[test]
fn a_taken_port_is_named_with_the_os_reason_and_no_admin_key_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let taken = holder.local_addr().expect("addr").to_string();
    let out = run(server().args(["--listen", &taken, "--database", &db_arg(dir.path())]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a runtime failure: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains(&taken), "names the address: {err}");
    assert!(
        err.to_lowercase().contains("address already in use"),
        "names the OS reason: {err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("of_sk_"),
        "no key was printed"
    );
    // Nothing was created that nobody saw: the next start on a free port
    // creates the first admin key and shows it.
    drop(holder);
    let (mut child, printed) = start(dir.path());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        printed.contains("Created the first admin API key") && printed.contains("of_sk_"),
        "{printed}"
    );
    assert_eq!(admin_keys(&dir.path().join("orderflow.db")), 1);
}

#[test]
fn admin_create_key_adds_a_working_admin_key_to_an_existing_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _) = start(dir.path());
    let _ = child.kill();
    let _ = child.wait();
    let db = dir.path().join("orderflow.db");
    let out = run(server()
        .args(["admin", "create-key", "--name", "recovery", "--database"])
        .arg(&db));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout
        .split_whitespace()
        .find(|w| w.starts_with("of_sk_"))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"));
    let store = Store::open(&db, Arc::new(SystemClock), Arc::new(RandomIds)).expect("open");
    let principal = store
        .authenticate(secret)
        .expect("auth")
        .expect("a live key");
    assert_eq!(principal.role, Role::Admin);
    assert_eq!(admin_keys(&db), 2, "the bootstrap key and the new one");
}

#[test]
fn admin_create_key_refuses_to_invent_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("typo.db");
    let out = run(server()
        .args(["admin", "create-key", "--database"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(!missing.exists(), "no file was created");
}

#[test]
fn bad_settings_are_usage_errors_that_name_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_arg(dir.path());
    // (arguments, what the message must name)
    let cases: &[(&[&str], &str)] = &[
        (&["--log-level", "loud"], "--log-level"),
        (&["--cursor-secret", "zz"], "--cursor-secret"),
        (&["--cursor-secret", "00"], "64 hex digits"),
        (&["--body-limit", "0"], "--body-limit"),
        (&["--body-limit", "lots"], "--body-limit"),
        (&["--listen", "localhost"], "--listen"),
        (&["--cors-origin", "*"], "--cors-origin"),
        (&["--cors-origin", "https://shop.example/"], "no path"),
        (&["--cors-origin", "shop.example"], "--cors-origin"),
        (&["--drain-timeout", "soon"], "--drain-timeout"),
        (&["--rehearse-at", "next summer"], "--rehearse-at"),
    ];
    for (args, names) in cases {
        let out = run(server().args(["--database", &db]).args(*args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(names), "{args:?}: {}", stderr(&out));
    }
    for (database, says) in [
        ("/proc/orderflow.db", "cannot write in /proc"),
        ("/etc/hostname/orderflow.db", "is not a directory"),
    ] {
        let out = run(server().args(["--listen", "127.0.0.1:0", "--database", database]));
        assert_eq!(out.status.code(), Some(2), "{database}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--database") && err.contains(says),
            "{database}: {err}"
        );
    }
    // A malformed PostgreSQL URL is a usage error; a well-formed one whose
    // server cannot be reached is a runtime failure. Neither message holds
    // the password, and no file named "postgres:" is created.
    let out = run(server().args([
        "--listen",
        "127.0.0.1:0",
        "--database",
        "postgres://app:s3cret@db.internal:notaport/orders",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--database") && err.contains("expected postgres://"),
        "{err}"
    );
    assert!(
        !err.contains("s3cret"),
        "the password never reaches the message: {err}"
    );
    let out = run(server().args([
        "--listen",
        "127.0.0.1:0",
        "--database",
        "postgres://app:s3cret@127.0.0.1:1/orders",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("unavailable") && err.contains("postgres://app:***@127.0.0.1:1/orders"),
        "{err}"
    );
    assert!(
        !err.contains("s3cret"),
        "the password never reaches the message: {err}"
    );
    assert!(
        !std::path::Path::new("postgres:").exists(),
        "no file was created"
    );
    let dir_as_db = dir.path().display().to_string();
    let out = run(server().args(["--listen", "127.0.0.1:0", "--database", &dir_as_db]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

#[test]
fn sigterm_drains_within_the_timeout_even_with_a_stalled_upload() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _, addr) = start_with(dir.path(), &["--drain-timeout", "1s"]);
    // A client starts an upload and stalls half-way.
    let mut stalled = std::net::TcpStream::connect(&addr).expect("connect");
    stalled
        .write_all(
            b"POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer of_sk_x\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\": ",
        )
        .expect("half a request");
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the stalled upload held the process past its drain time");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "a drained shutdown is a clean exit");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "it waited for the drain time first ({took:?})"
    );
    drop(stalled);
}

/// Sends one bodiless request and returns the status line and headers.
fn head_of(addr: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out.split("\r\n\r\n").next().unwrap_or_default().to_string()
}

#[test]
fn rehearse_at_runs_the_server_as_if_it_were_then() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _, addr) = start_with(dir.path(), &["--rehearse-at", "2100-01-01T00:00:00Z"]);
    let v1 = head_of(&addr, "GET", "/v1/orders");
    assert!(
        v1.starts_with("HTTP/1.1 410"),
        "v1 is past its sunset: {v1}"
    );
    assert!(
        v1.to_ascii_lowercase()
            .contains("rel=\"successor-version\""),
        "{v1}"
    );
    let v2 = head_of(&addr, "GET", "/v2/orders");
    assert!(v2.starts_with("HTTP/1.1 401"), "v2 is current: {v2}");
    let _ = child.kill();
    let _ = child.wait();

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _, addr) = start_with(dir.path(), &[]);
    let today = head_of(&addr, "GET", "/v1/orders");
    assert!(
        today.starts_with("HTTP/1.1 401"),
        "without it v1 serves: {today}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
