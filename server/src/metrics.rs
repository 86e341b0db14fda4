//! Metrics at `/metrics`, in the Prometheus text format (OpenMetrics), with
//! `prometheus-client`, named per the OpenTelemetry HTTP semantic
//! conventions as exported to Prometheus.
//!
//! Every label value comes from a bounded set: methods are the ones the
//! spec's operations use (anything else a client sends is `_OTHER`, as the
//! conventions say), routes are the spec's path templates (never the raw
//! path), statuses are what the server answers, and policy names and
//! problem codes are the spec's and the catalogue's. So a client cannot
//! grow the series count.
//!
//! `/metrics` is answered by the front, outside the public spec: it is for
//! the operator's scraper, not API clients, so it has no operation, no
//! authentication and no rate limit (bind the listener where only the
//! scraper and the load balancer reach it, or filter the path there).

use std::sync::Arc;

use orderflow_edge::{Call, Observer, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Dashboard history: three minutes at one sample a second.
pub const HISTORY_SAMPLES: usize = 180;

/// The OpenTelemetry HTTP server duration buckets, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Waiting for a database permit: from a microsecond to the 2-second bound.
const WAIT_BUCKETS: [f64; 10] = [
    0.000_01, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 2.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    http_request_method: &'static str,
    http_route: &'static str,
    http_response_status_code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    http_request_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

/// The server's metrics. Cheap to share: every family is an `Arc` inside.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    duration: HistogramFamily<RequestLabels>,
    active: Family<MethodLabels, Gauge>,
    rate_limited: Family<PolicyLabels, Counter>,
    idempotency: Family<OutcomeLabels, Counter>,
    problems: Family<CodeLabels, Counter>,
    db_in_use: Gauge,
    db_capacity: Gauge,
    db_wait: Histogram,
    db_refused: Counter,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    /// The pricing dependency (see `pricing.rs`).
    pub pricing: crate::pricing::PricingMetrics,
    /// Recent expositions for the built-in dashboard, sampled once a
    /// second by [`Metrics::sample`]: (seconds since start, text).
    history: std::sync::Mutex<std::collections::VecDeque<(f64, String)>>,
    started: std::time::Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A method as a label value: the ones HTTP defines, else `_OTHER`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let duration: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests that reached an operation",
            Unit::Seconds,
            duration.clone(),
        );
        let active = Family::<MethodLabels, Gauge>::default();
        registry.register(
            "http_server_active_requests",
            "HTTP server requests in flight (every request the front accepted)",
            active.clone(),
        );
        let rate_limited = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "orderflow_rate_limited_requests",
            "Requests refused with 429 by rate-limit policy",
            rate_limited.clone(),
        );
        let idempotency = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "orderflow_idempotency_requests",
            "Requests with an Idempotency-Key by outcome (new, replayed, in_flight, mismatch)",
            idempotency.clone(),
        );
        let problems = Family::<CodeLabels, Counter>::default();
        registry.register(
            "orderflow_problems",
            "Problem responses by problem code",
            problems.clone(),
        );
        let db_in_use = Gauge::default();
        registry.register(
            "orderflow_db_permits_in_use",
            "Database calls holding a permit (running on the blocking pool)",
            db_in_use.clone(),
        );
        let db_capacity = Gauge::default();
        registry.register(
            "orderflow_db_permits",
            "Database calls allowed in flight at once (--max-db-in-flight): the queue's capacity",
            db_capacity.clone(),
        );
        let db_wait = wait_histogram();
        registry.register_with_unit(
            "orderflow_db_permit_wait",
            "Time a database call waited for a permit",
            Unit::Seconds,
            db_wait.clone(),
        );
        let db_refused = Counter::default();
        registry.register(
            "orderflow_db_queue_refused",
            "Database calls refused with 503 after waiting the queue's bound",
            db_refused.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "orderflow_webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, retry: failed with attempts left, dead: failed for the last time)",
            webhook_attempts.clone(),
        );
        // Every outcome is exported from the start (at zero), so that an
        // alert's increase() sees the first dead delivery.
        for outcome in ["delivered", "retry", "dead"] {
            drop(webhook_attempts.get_or_create(&OutcomeLabels { outcome }));
        }
        let pricing = crate::pricing::PricingMetrics::register(&mut registry);
        Metrics {
            webhook_attempts,
            pricing,
            registry,
            duration,
            active,
            rate_limited,
            idempotency,
            problems,
            db_in_use,
            db_capacity,
            db_wait,
            db_refused,
            history: std::sync::Mutex::new(std::collections::VecDeque::new()),
            started: std::time::Instant::now(),
        }
    }

    /// Keeps the current exposition in the dashboard's history (the last
    /// [`HISTORY_SAMPLES`]). Called once a second by the server.
    pub fn sample(&self) {
        let text = self.encode_prometheus();
        let t = self.started.elapsed().as_secs_f64();
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        h.push_back((t, text));
        while h.len() > HISTORY_SAMPLES {
            h.pop_front();
        }
    }

    /// The samples newer than `since` (seconds since start), as JSON:
    /// `[{"t": 12.0, "metrics": "<Prometheus text>"}, ...]`.
    pub fn history_json(&self, since: f64) -> String {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let items: Vec<serde_json::Value> = h
            .iter()
            .filter(|(t, _)| *t > since)
            .map(|(t, text)| serde_json::json!({"t": t, "metrics": text}))
            .collect();
        serde_json::Value::Array(items).to_string()
    }

    /// The OpenMetrics text exposition (what `prometheus-client` writes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The classic Prometheus text format (0.0.4), for scrapers and tools
    /// that do not ask for OpenMetrics (`promtool check metrics` among
    /// them). See [`to_prometheus_text`].
    pub fn encode_prometheus(&self) -> String {
        to_prometheus_text(&self.encode())
    }

    /// A request entered the front; the guard counts it out when dropped.
    pub fn request_started(self: &Arc<Self>, method: &str) -> ActiveGuard {
        let labels = MethodLabels {
            http_request_method: method_label(method),
        };
        self.active.get_or_create(&labels).inc();
        ActiveGuard {
            metrics: self.clone(),
            labels,
        }
    }

    /// A database call got its permit after `waited`.
    pub fn db_permit_taken(&self, waited: std::time::Duration) {
        self.db_wait.observe(waited.as_secs_f64());
        self.db_in_use.inc();
    }

    /// The database queue's capacity, set once at start.
    pub fn set_db_capacity(&self, permits: usize) {
        self.db_capacity
            .set(i64::try_from(permits).unwrap_or(i64::MAX));
    }

    pub fn db_permit_returned(&self) {
        self.db_in_use.dec();
    }

    /// One webhook attempt ended: `delivered`, `retry` or `dead`.
    pub fn webhook_attempt(&self, outcome: &'static str) {
        self.webhook_attempts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn db_refused(&self) {
        self.db_refused.inc();
    }
}

/// OpenMetrics text -> Prometheus text 0.0.4. The two differ, for what
/// this registry writes, in three ways: OpenMetrics names a counter family
/// without `_total` in `# HELP`/`# TYPE` (its samples keep it), has
/// `# UNIT` lines, and ends with `# EOF`. Samples are identical.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Counts one active request until dropped (also when the client goes
/// away mid-request).
#[derive(Debug)]
pub struct ActiveGuard {
    metrics: Arc<Metrics>,
    labels: MethodLabels,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.metrics.active.get_or_create(&self.labels).dec();
    }
}

impl Observer for Metrics {
    fn observe(&self, call: &Call, outcome: &Outcome<'_>) {
        self.duration
            .get_or_create(&RequestLabels {
                http_request_method: method_label(call.op.method),
                http_route: call.op.route,
                http_response_status_code: outcome.status,
            })
            .observe(outcome.elapsed.as_secs_f64());
        if let Some(problem) = outcome.problem {
            self.problems
                .get_or_create(&CodeLabels {
                    code: code_label(problem.code()),
                })
                .inc();
            if outcome.status == 429
                && let Some(policy) = call.op.rate_limit
            {
                self.rate_limited
                    .get_or_create(&PolicyLabels {
                        policy: policy.name,
                    })
                    .inc();
            }
        }
        if let Some(o) = outcome.idempotency {
            self.idempotency
                .get_or_create(&OutcomeLabels {
                    outcome: o.as_str(),
                })
                .inc();
        }
    }
}

/// A problem code as a label value: the catalogue's (a fixed set), else
/// `_other`, so no code path can mint new series.
fn code_label(code: &str) -> &'static str {
    orderflow_edge::problem::codes()
        .find(|(c, _, _)| *c == code)
        .map(|(c, _, _)| c)
        .unwrap_or("_other")
}

/// Several observers as one (the log and the metrics).
pub struct Observers(pub Vec<Arc<dyn Observer>>);

impl Observer for Observers {
    fn observe(&self, call: &Call, outcome: &Outcome<'_>) {
        for o in &self.0 {
            o.observe(call, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prometheus_text_names_counters_with_total_and_drops_openmetrics_lines() {
        let m = Metrics::new();
        m.db_refused();
        let om = m.encode();
        assert!(
            om.contains("# TYPE orderflow_db_queue_refused counter"),
            "{om}"
        );
        assert!(om.trim_end().ends_with("# EOF"), "{om}");
        let text = m.encode_prometheus();
        assert!(
            text.contains("# TYPE orderflow_db_queue_refused_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP orderflow_db_queue_refused_total "),
            "{text}"
        );
        assert!(
            text.contains("orderflow_db_queue_refused_total 1"),
            "{text}"
        );
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        // Gauges and histograms keep their names.
        assert!(
            text.contains("# TYPE orderflow_db_permits_in_use gauge"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE orderflow_db_permit_wait_seconds histogram"),
            "{text}"
        );
    }

    #[test]
    fn unknown_methods_are_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "_OTHER");
        assert_eq!(method_label("get"), "_OTHER");
    }

    #[test]
    fn active_requests_go_up_and_down() {
        let m = Arc::new(Metrics::new());
        let a = m.request_started("GET");
        let b = m.request_started("FOO");
        let text = m.encode();
        assert!(
            text.contains(r#"http_server_active_requests{http_request_method="GET"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_server_active_requests{http_request_method="_OTHER"} 1"#),
            "{text}"
        );
        drop(a);
        drop(b);
        let text = m.encode();
        assert!(
            text.contains(r#"http_server_active_requests{http_request_method="GET"} 0"#),
            "{text}"
        );
    }
}
