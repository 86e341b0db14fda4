//! The one way the verifier talks to a server: a bounded, logging HTTP
//! client. Every exchange is recorded (the problem-details check reads
//! the log afterwards), every request counts against `--max-requests`,
//! redirects are never followed (a `Location` elsewhere is only seen), and
//! requests only go to the base URLs given on the command line.
//!
//! It does not judge responses; the checks do.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

/// Which credential a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cred {
    /// The `--header` values.
    Primary,
    /// The `--second-header` values.
    Second,
    /// No credential headers at all.
    None,
}

/// Which server a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Base,
    Retired,
}

/// A request about to be sent.
#[derive(Debug, Clone)]
pub struct Req {
    pub operation: String,
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub cred: Cred,
    pub target: Target,
}

impl Req {
    pub fn new(operation: &str, method: &str, path: impl Into<String>) -> Req {
        Req {
            operation: operation.to_owned(),
            method: method.to_owned(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            cred: Cred::Primary,
            target: Target::Base,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, body: Option<Value>) -> Req {
        self.body = body;
        self
    }

    pub fn cred(mut self, cred: Cred) -> Req {
        self.cred = cred;
        self
    }
}

/// One request and the response it drew.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub operation: String,
    pub method: String,
    pub url: String,
    pub req_headers: Vec<(String, String)>,
    pub req_body: Option<String>,
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Exchange {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header joined with `, ` (RFC 9110 §5.3).
    pub fn header_joined(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The request as a reader of a violation needs it: method, URL,
    /// headers (credentials redacted) and body.
    pub fn describe_request(&self) -> String {
        let mut s = format!("{} {}", self.method, self.url);
        for (n, v) in &self.req_headers {
            s.push_str(&format!("\n{n}: {v}"));
        }
        if let Some(b) = &self.req_body {
            s.push_str(&format!("\n\n{}", clip(b, 600)));
        }
        s
    }

    /// Status, headers and (the start of) the body.
    pub fn describe_response(&self) -> String {
        let mut s = format!("{}", self.status);
        for (n, v) in &self.headers {
            s.push_str(&format!("\n{n}: {v}"));
        }
        if !self.body.is_empty() {
            s.push_str(&format!(
                "\n\n{}",
                clip(&String::from_utf8_lossy(&self.body), 600)
            ));
        }
        s
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// Why a request was not answered.
#[derive(Debug, Clone)]
pub enum SendError {
    /// `--max-requests` is spent.
    Budget,
    /// Connection refused, timeout, malformed response.
    Transport(String),
    /// `--retired-base-url` was not given.
    NoTarget,
    /// `--max-duration` has passed.
    Deadline,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Budget => f.write_str("the request budget (--max-requests) is spent"),
            SendError::Transport(e) => write!(f, "no response: {e}"),
            SendError::NoTarget => f.write_str("no --retired-base-url was given"),
            SendError::Deadline => f.write_str("the run's time bound (--max-duration) has passed"),
        }
    }
}

/// The client.
pub struct Client {
    http: reqwest::Client,
    base: String,
    retired: Option<String>,
    primary: Vec<(String, String)>,
    second: Option<Vec<(String, String)>>,
    max_requests: usize,
    sent: AtomicUsize,
    log: Mutex<Vec<Exchange>>,
    /// Requests that drew no response: (operation, request, error).
    failures: Mutex<Vec<(String, String, String)>>,
    /// Longest `Retry-After` the verifier will wait out.
    pub max_wait: Duration,
    /// No request is sent after this instant.
    pub deadline: Option<std::time::Instant>,
}

impl Client {
    pub fn new(
        base: &str,
        retired: Option<&str>,
        primary: Vec<(String, String)>,
        second: Option<Vec<(String, String)>>,
        max_requests: usize,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .pool_max_idle_per_host(32)
            .build()?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            retired: retired.map(|r| r.trim_end_matches('/').to_owned()),
            primary,
            second,
            max_requests,
            sent: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
            max_wait: Duration::from_secs(10),
            deadline: None,
        })
    }

    pub fn has_second(&self) -> bool {
        self.second.is_some()
    }

    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn remaining(&self) -> usize {
        self.max_requests.saturating_sub(self.sent())
    }

    /// Everything sent so far.
    pub fn log(&self) -> Vec<Exchange> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Requests that drew no response (connection refused or reset,
    /// timeout, malformed response): (operation, request, error).
    pub fn failures(&self) -> Vec<(String, String, String)> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One request to a base URL; counts against the budget. A request
    /// that draws no response is recorded in [`Client::failures`].
    pub async fn send(&self, req: &Req) -> Result<Exchange, SendError> {
        let result = self.send_once(req).await;
        if let Err(SendError::Transport(e)) = &result {
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((
                    req.operation.clone(),
                    format!("{} {}", req.method, req.path),
                    e.clone(),
                ));
        }
        result
    }

    async fn send_once(&self, req: &Req) -> Result<Exchange, SendError> {
        let base = match req.target {
            Target::Base => &self.base,
            Target::Retired => self.retired.as_ref().ok_or(SendError::NoTarget)?,
        };
        if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(SendError::Deadline);
        }
        if self.sent.fetch_add(1, Ordering::Relaxed) >= self.max_requests {
            self.sent.fetch_sub(1, Ordering::Relaxed);
            return Err(SendError::Budget);
        }
        let url = format!("{base}{}", req.path);
        // A spec path is text from the document: make sure it cannot name
        // another host (`@host`, `//host`).
        if !same_origin(base, &url) {
            return Err(SendError::Transport(format!(
                "{url} is not on {base}; refusing to send"
            )));
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| SendError::Transport(e.to_string()))?;
        let mut builder = self.http.request(method, &url);
        let creds: &[(String, String)] = match req.cred {
            Cred::Primary => &self.primary,
            Cred::Second => self.second.as_deref().unwrap_or(&[]),
            Cred::None => &[],
        };
        for (n, v) in creds.iter().chain(req.headers.iter()) {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let body_text = req.body.as_ref().map(Value::to_string);
        if let Some(b) = &body_text {
            builder = builder
                .header("content-type", "application/json")
                .body(b.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| SendError::Transport(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::Transport(format!("{url}: reading the body: {e}")))?
            .to_vec();
        let mut req_headers: Vec<(String, String)> = creds
            .iter()
            .map(|(n, _)| (n.clone(), "<redacted>".to_owned()))
            .collect();
        req_headers.extend(req.headers.iter().cloned());
        let exchange = Exchange {
            operation: req.operation.clone(),
            method: req.method.clone(),
            url,
            req_headers,
            req_body: body_text,
            status,
            headers,
            body,
        };
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(exchange.clone());
        Ok(exchange)
    }

    /// [`Client::send`], waiting out a 429's `Retry-After` (at most
    /// [`Client::max_wait`], three times) so that checks which are not about
    /// rate limits are not disturbed by the quota other checks spent.
    pub async fn send_patient(&self, req: &Req) -> Result<Exchange, SendError> {
        let mut response = self.send(req).await?;
        for _ in 0..3 {
            if response.status != 429 {
                break;
            }
            let wait = retry_after(&response).unwrap_or(1).max(1);
            if Duration::from_secs(wait) > self.max_wait {
                break;
            }
            tokio::time::sleep(Duration::from_secs(wait)).await;
            response = self.send(req).await?;
        }
        Ok(response)
    }
}

/// Whether `url` has the scheme, host and port of `base`.
fn same_origin(base: &str, url: &str) -> bool {
    match (reqwest::Url::parse(base), reqwest::Url::parse(url)) {
        (Ok(b), Ok(u)) => {
            b.scheme() == u.scheme()
                && b.host_str() == u.host_str()
                && b.port_or_known_default() == u.port_or_known_default()
                && u.username().is_empty()
        }
        _ => false,
    }
}

/// `Retry-After` as delay-seconds, when it is one.
pub fn retry_after(e: &Exchange) -> Option<u64> {
    e.header("retry-after")?.trim().parse().ok()
}
