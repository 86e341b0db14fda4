//! The edge's client of the pricing service: every call has a deadline and
//! goes through the circuit breaker; the result is one of a few honest
//! outcomes, which the caller maps to its own public answer (a 503 with
//! `Retry-After` for all of the failures).
//!
//! The client does not retry: the public client retries (the edge answers
//! a retryable 503), and retrying here would only multiply load on a
//! struggling dependency.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::breaker::{Admission, Breaker, BreakerConfig, BreakerState, Clock, Transition};
use crate::proto::pricing_client::PricingClient as Grpc;
use crate::proto::{LineQuote, LineRequest, QuoteRequest};

/// How a call ended, as counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The service did not answer within the deadline.
    Deadline,
    /// The service is down or said UNAVAILABLE.
    Unavailable,
    /// The breaker refused the call without trying.
    Rejected,
    /// The service refused the request (a bug on our side, not its health).
    Invalid,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Deadline => "deadline",
            Outcome::Unavailable => "unavailable",
            Outcome::Rejected => "breaker_open",
            Outcome::Invalid => "invalid",
        }
    }
}

/// Why a quote could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("the pricing service did not answer within {0:?}")]
    Deadline(Duration),
    #[error("the pricing service is unavailable: {0}")]
    Unavailable(String),
    #[error("the pricing circuit breaker is open")]
    BreakerOpen { retry_after: Duration },
    #[error("the pricing service refused the request: {0}")]
    Invalid(String),
}

impl PricingError {
    /// How long a caller should wait before retrying, in whole seconds (at
    /// least 1).
    pub fn retry_after_secs(&self, cool_down: Duration) -> u64 {
        let d = match self {
            PricingError::BreakerOpen { retry_after } => *retry_after,
            PricingError::Invalid(_) => Duration::from_secs(1),
            _ => cool_down.min(Duration::from_secs(5)),
        };
        d.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Where the client reports (the server logs transitions and exports
/// metrics).
pub trait Telemetry: Send + Sync + 'static {
    fn transition(&self, t: Transition);
    fn outcome(&self, o: Outcome);
}

/// Reports nothing.
pub struct Quiet;
impl Telemetry for Quiet {
    fn transition(&self, _: Transition) {}
    fn outcome(&self, _: Outcome) {}
}

pub struct PricingClient {
    grpc: Grpc<Channel>,
    deadline: Duration,
    breaker: Breaker,
    cool_down: Duration,
    telemetry: Arc<dyn Telemetry>,
}

impl PricingClient {
    /// A client of the service at `url` (`http://host:port`). Connects
    /// lazily and reconnects by itself, so a service that comes back is
    /// used again without a restart.
    pub fn new(
        url: &str,
        deadline: Duration,
        breaker: BreakerConfig,
        clock: Arc<dyn Clock>,
        telemetry: Arc<dyn Telemetry>,
    ) -> anyhow::Result<PricingClient> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| anyhow::anyhow!("the pricing URL {url:?} is not a URI: {e}"))?
            .connect_timeout(deadline)
            .timeout(deadline)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30));
        let grpc = Grpc::new(endpoint.connect_lazy()).max_decoding_message_size(16 * 1024 * 1024);
        Ok(PricingClient {
            grpc,
            deadline,
            cool_down: breaker.cool_down,
            breaker: Breaker::new(breaker, clock),
            telemetry,
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    pub fn cool_down(&self) -> Duration {
        self.cool_down
    }

    fn note(&self, t: Option<Transition>) {
        if let Some(t) = t {
            self.telemetry.transition(t);
        }
    }

    /// Quotes a basket: one [`LineQuote`] per line, in order.
    pub async fn quote(&self, lines: Vec<LineRequest>) -> Result<Vec<LineQuote>, PricingError> {
        let (admission, t) = self.breaker.admit();
        self.note(t);
        if let Admission::Refused { retry_after } = admission {
            self.telemetry.outcome(Outcome::Rejected);
            return Err(PricingError::BreakerOpen { retry_after });
        }
        let mut request = tonic::Request::new(QuoteRequest { lines });
        request.set_timeout(self.deadline);
        let mut grpc = self.grpc.clone();
        // The outer timeout also bounds what tonic's does not: waiting for
        // a connection.
        let answer = tokio::time::timeout(self.deadline, grpc.quote_basket(request)).await;
        let (result, outcome) = match answer {
            Err(_) => (
                Err(PricingError::Deadline(self.deadline)),
                Outcome::Deadline,
            ),
            Ok(Ok(r)) => (Ok(r.into_inner().lines), Outcome::Ok),
            Ok(Err(status)) => match status.code() {
                tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => (
                    Err(PricingError::Deadline(self.deadline)),
                    Outcome::Deadline,
                ),
                tonic::Code::InvalidArgument => (
                    Err(PricingError::Invalid(status.message().to_string())),
                    Outcome::Invalid,
                ),
                _ => (
                    Err(PricingError::Unavailable(format!(
                        "{:?}: {}",
                        status.code(),
                        status.message()
                    ))),
                    Outcome::Unavailable,
                ),
            },
        };
        // A refused request says nothing about the service's health.
        let healthy = matches!(outcome, Outcome::Ok | Outcome::Invalid);
        self.note(self.breaker.record(healthy));
        self.telemetry.outcome(outcome);
        result
    }

    /// Readiness: whether the service answers a (empty) quote within the
    /// deadline. An open breaker is not ready, and the probe does not
    /// count as a trial (it bypasses the breaker so that /readyz cannot
    /// keep it open or closed).
    pub async fn ready(&self) -> Result<(), PricingError> {
        if self.breaker.state() == BreakerState::Open {
            return Err(PricingError::BreakerOpen {
                retry_after: self.cool_down,
            });
        }
        let mut request = tonic::Request::new(QuoteRequest { lines: Vec::new() });
        request.set_timeout(self.deadline);
        let mut grpc = self.grpc.clone();
        match tokio::time::timeout(self.deadline, grpc.quote_basket(request)).await {
            Err(_) => Err(PricingError::Deadline(self.deadline)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(s)) => Err(PricingError::Unavailable(s.message().to_string())),
        }
    }
}
