//! What the server itself reports about a storm: its `/metrics` read right
//! after the run, compared with the clients' own counts, and a screenshot
//! of its built-in dashboard (`/dashboard`), whose history holds the storm.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::storm::{Op, Outcome, StormReport};

/// The storm as the server counted it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerFigures {
    pub new: f64,
    pub replayed: f64,
    pub in_flight: f64,
    pub mismatch: f64,
    pub rate_limited: f64,
    pub server_errors: f64,
}

/// Sums the samples of `name` whose labels contain `must` (all when empty).
fn sum(text: &str, name: &str, must: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            labels
                .contains(must)
                .then(|| value.trim().parse::<f64>().ok())?
        })
        // An empty sum is -0.0 for floats; say 0.
        .fold(0.0, |a, b| a + b)
}

impl ServerFigures {
    pub fn parse(text: &str) -> ServerFigures {
        let idem = "orderflow_idempotency_requests_total";
        ServerFigures {
            new: sum(text, idem, r#"outcome="new""#),
            replayed: sum(text, idem, r#"outcome="replayed""#),
            in_flight: sum(text, idem, r#"outcome="in_flight""#),
            mismatch: sum(text, idem, r#"outcome="mismatch""#),
            rate_limited: sum(text, "orderflow_rate_limited_requests_total", ""),
            server_errors: sum(
                text,
                "http_server_request_duration_seconds_count",
                r#"http_response_status_code="5"#,
            ),
        }
    }

    /// These figures and `other`'s together: what replicas counted between
    /// them.
    pub fn plus(&self, other: &ServerFigures) -> ServerFigures {
        ServerFigures {
            new: self.new + other.new,
            replayed: self.replayed + other.replayed,
            in_flight: self.in_flight + other.in_flight,
            mismatch: self.mismatch + other.mismatch,
            rate_limited: self.rate_limited + other.rate_limited,
            server_errors: self.server_errors + other.server_errors,
        }
    }

    /// Reads `/metrics` of the server at `base`.
    pub async fn scrape(base: &str) -> Result<ServerFigures> {
        let text = reqwest::Client::new()
            .get(format!("{base}/metrics"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .context("GET /metrics")?
            .error_for_status()
            .context("GET /metrics")?
            .text()
            .await
            .context("reading /metrics")?;
        Ok(ServerFigures::parse(&text))
    }

    /// (what, the server's count, the clients' count) for each figure both
    /// sides know.
    pub fn compare(&self, r: &StormReport) -> Vec<(&'static str, f64, usize)> {
        let w = Some(Op::Write);
        vec![
            (
                "orders created (new keys)",
                self.new,
                r.count(w, Outcome::Created),
            ),
            (
                "replayed 201s",
                self.replayed,
                r.count(w, Outcome::Replayed),
            ),
            (
                "in-flight 409s",
                self.in_flight,
                r.count(w, Outcome::Conflict),
            ),
            (
                "key reused, 422s",
                self.mismatch,
                r.count(w, Outcome::Unprocessable),
            ),
            (
                "429s (writes and reads)",
                self.rate_limited,
                r.count(None, Outcome::TooManyRequests),
            ),
            (
                "5xx",
                self.server_errors,
                r.count(None, Outcome::ServerError),
            ),
        ]
    }

    /// The figures on which the two sides disagree.
    pub fn disagreements(&self, r: &StormReport) -> Vec<String> {
        self.compare(r)
            .into_iter()
            .filter(|(_, server, clients)| (*server - *clients as f64).abs() > 0.5)
            .map(|(what, server, clients)| {
                format!("{what}: the server counted {server}, the clients {clients}")
            })
            .collect()
    }

    /// A markdown table of [`ServerFigures::compare`].
    pub fn markdown(&self, r: &StormReport) -> String {
        let mut out = String::from("| figure | server (`/metrics`) | clients |\n|---|---:|---:|\n");
        for (what, server, clients) in self.compare(r) {
            out.push_str(&format!("| {what} | {server:.0} | {clients} |\n"));
        }
        out
    }
}

/// Screenshots `base/dashboard` with headless Chromium into `png`.
/// `Ok(false)` when no Chromium is installed (the report says so).
pub fn screenshot(base: &str, png: &Path) -> Result<bool> {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        return Ok(false);
    };
    let out = std::process::Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1150",
            // Long enough for the page's first poll of the history.
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("{base}/dashboard"))
        .output()
        .with_context(|| format!("running {browser}"))?;
    if !png.is_file() {
        return Err(anyhow!(
            "{browser} wrote no screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read_from_the_text_format() {
        let text = "\
# TYPE orderflow_idempotency_requests_total counter
orderflow_idempotency_requests_total{outcome=\"new\"} 200
orderflow_idempotency_requests_total{outcome=\"replayed\"} 370
orderflow_idempotency_requests_total{outcome=\"in_flight\"} 33
orderflow_rate_limited_requests_total{policy=\"writes\"} 16000
orderflow_rate_limited_requests_total{policy=\"reads\"} 501
http_server_request_duration_seconds_count{http_request_method=\"POST\",http_route=\"/v1/orders\",http_response_status_code=\"201\"} 570
http_server_request_duration_seconds_count{http_request_method=\"POST\",http_route=\"/v1/orders\",http_response_status_code=\"503\"} 2
";
        let f = ServerFigures::parse(text);
        assert_eq!(
            f,
            ServerFigures {
                new: 200.0,
                replayed: 370.0,
                in_flight: 33.0,
                mismatch: 0.0,
                rate_limited: 16501.0,
                server_errors: 2.0,
            }
        );
    }
}
