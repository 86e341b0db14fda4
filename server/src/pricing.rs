//! The edge's use of the internal pricing service (crate
//! `orderflow-pricing`): its settings, its metrics and log lines, and the
//! mapping of its failures to the public contract.
//!
//! Every failure of the dependency (down, slower than the deadline,
//! breaker open) is the spec's `unavailable` problem: a 503 with
//! `Retry-After`, saying nothing was written and a retry is safe. Never a
//! 500, never the dependency's own message (that goes to the log). A 5xx
//! is not final for an Idempotency-Key (the edge does not record it), so a
//! retry after recovery places the order once.

use std::sync::Arc;
use std::time::Duration;

use orderflow_pricing::breaker::Transition;
use orderflow_pricing::proto::{LineQuote, LineRequest};
use orderflow_pricing::{BreakerConfig, Outcome, PricingClient, PricingError, Telemetry};
use orderflow_server_api::ApiError;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use slog::Logger;

use crate::domain::CatalogProduct;

/// How the edge reaches the pricing service (flags in `main.rs`).
#[derive(Debug, Clone)]
pub struct PricingSettings {
    /// `http://host:port` of a pricing process; `None`: serve it in-process
    /// on a loopback port (the single-binary default).
    pub url: Option<String>,
    /// Deadline of one call.
    pub deadline: Duration,
    pub breaker: BreakerConfig,
}

impl Default for PricingSettings {
    fn default() -> Self {
        PricingSettings {
            url: None,
            deadline: Duration::from_millis(500),
            breaker: BreakerConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// `orderflow_pricing_breaker_state` (0 closed, 1 half-open, 2 open) and
/// `orderflow_pricing_calls_total{outcome}`.
#[derive(Debug, Clone, Default)]
pub struct PricingMetrics {
    state: Gauge,
    calls: Family<OutcomeLabel, Counter>,
    transitions: Family<OutcomeLabel, Counter>,
}

impl PricingMetrics {
    pub fn register(registry: &mut Registry) -> PricingMetrics {
        let m = PricingMetrics::default();
        registry.register(
            "orderflow_pricing_breaker_state",
            "State of the pricing service's circuit breaker: 0 closed, 1 half-open, 2 open",
            m.state.clone(),
        );
        registry.register(
            "orderflow_pricing_calls",
            "Calls to the pricing service by outcome (ok, deadline, unavailable, breaker_open, invalid)",
            m.calls.clone(),
        );
        registry.register(
            "orderflow_pricing_breaker_transitions",
            "Circuit breaker transitions by the state entered",
            m.transitions.clone(),
        );
        m
    }
}

/// Logs every breaker transition and counts calls.
pub struct EdgeTelemetry {
    pub metrics: PricingMetrics,
    pub log: Logger,
}

impl Telemetry for EdgeTelemetry {
    fn transition(&self, t: Transition) {
        self.metrics.state.set(t.to.as_gauge());
        self.metrics
            .transitions
            .get_or_create(&OutcomeLabel {
                outcome: t.to.name(),
            })
            .inc();
        slog::warn!(self.log, "pricing circuit breaker changed state";
            "from" => t.from.name(), "to" => t.to.name());
    }

    fn outcome(&self, o: Outcome) {
        self.metrics
            .calls
            .get_or_create(&OutcomeLabel { outcome: o.name() })
            .inc();
    }
}

/// The dependency failed: the spec's `unavailable` problem, 503 with
/// `Retry-After`. The cause goes to the log only.
pub fn unavailable(
    log: &Logger,
    request_id: &str,
    e: &PricingError,
    cool_down: Duration,
) -> ApiError {
    slog::warn!(log, "pricing service failed"; "request_id" => request_id, "cause" => e.to_string());
    let detail = match e {
        PricingError::BreakerOpen { .. } => {
            "the pricing service is failing and calls to it are paused; nothing was written, and the request can be retried"
        }
        PricingError::Deadline(_) => {
            "the pricing service did not answer in time; nothing was written, and the request can be retried"
        }
        _ => {
            "the pricing service is unavailable; nothing was written, and the request can be retried"
        }
    };
    retryable(detail, e.retry_after_secs(cool_down))
}

/// The catalog changed between the quote and the order's transaction.
pub fn quote_stale() -> ApiError {
    retryable(
        "a product's price or availability changed while the order was being priced; nothing was written, and the request can be retried",
        1,
    )
}

fn retryable(detail: &str, retry_after: u64) -> ApiError {
    let mut e = ApiError::new("unavailable", detail);
    if let Ok(v) = http::HeaderValue::from_str(&retry_after.to_string()) {
        e.headers.insert(http::header::RETRY_AFTER, v);
    }
    e
}

/// Quotes the lines; `Ok`: one catalog entry per line as the service saw
/// it (`None`: no such product), for the store to verify in its
/// transaction.
pub async fn quote(
    client: &PricingClient,
    lines: &[(String, u32)],
) -> Result<Vec<Option<CatalogProduct>>, PricingError> {
    let request = lines
        .iter()
        .map(|(id, quantity)| LineRequest {
            product_id: id.clone(),
            quantity: *quantity,
        })
        .collect();
    let quoted = client.quote(request).await?;
    if quoted.len() != lines.len() {
        return Err(PricingError::Invalid(format!(
            "{} lines quoted for {} asked",
            quoted.len(),
            lines.len()
        )));
    }
    Ok(quoted.into_iter().map(catalog_entry).collect())
}

fn catalog_entry(q: LineQuote) -> Option<CatalogProduct> {
    q.product.map(|p| CatalogProduct {
        sku: p.sku,
        name: p.name,
        price_minor: p.unit_price_minor,
        currency: p.currency,
        active: p.active,
    })
}

/// Builds the client with the edge's telemetry.
pub fn client(
    url: &str,
    settings: &PricingSettings,
    metrics: PricingMetrics,
    log: Logger,
) -> anyhow::Result<Arc<PricingClient>> {
    Ok(Arc::new(PricingClient::new(
        url,
        settings.deadline,
        settings.breaker,
        Arc::new(orderflow_pricing::SystemClock),
        Arc::new(EdgeTelemetry { metrics, log }),
    )?))
}
