//! The webhook worker: delivers order events from the outbox to the
//! registered endpoints, at least once.
//!
//! The store writes each event in the transaction of its order change, with
//! one pending delivery per endpoint (`store/webhooks.rs`). This worker, a
//! task of the server process, claims due deliveries, POSTs each signed in
//! the style of Standard Webhooks, and records every attempt: a 2xx ends
//! the delivery `delivered`; anything else (a status, a refused
//! connection, a timeout, a redirect, which is never followed) schedules
//! the next attempt after an exponential backoff with jitter, and the last
//! allowed attempt ends it `dead`.
//!
//! Nothing is lost across a crash or a kill: an event exists only if its
//! order change committed, a delivery stays pending until an attempt is
//! recorded, and claims of a process that is gone are released when the
//! next worker starts. A receiver may see an event twice (an attempt whose
//! answer was lost is repeated); `webhook-id` is the same on every attempt
//! so that it can drop the duplicate.
//!
//! What this module deliberately does not do: order deliveries across
//! events (receivers order by `order_version`), or refuse private
//! addresses (see ARCHITECTURE: an operator who exposes admin keys to
//! untrusted callers should filter egress).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use slog::{Logger, error, info, warn};
use tokio::sync::{Notify, watch};

use crate::store::{AttemptOutcome, DeliveryState, DueDelivery, Store};

/// How the worker retries (flags `--webhook-*`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Attempts per delivery before it is dead (the first included).
    pub max_attempts: u32,
    /// The delay after the first failure; it doubles per attempt.
    pub backoff_base: Duration,
    /// The longest delay between two attempts.
    pub backoff_cap: Duration,
    /// How long one attempt may take, connection included.
    pub timeout: Duration,
    /// How often the worker looks for due deliveries when nothing woke it.
    pub poll: Duration,
    /// Deliveries sent at once.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            concurrency: 8,
        }
    }
}

impl WebhookSettings {
    /// The delay before the attempt after failed attempt `attempt`
    /// (1-based): `base * 2^(attempt-1)`, capped, then "equal jitter":
    /// uniformly between half of it and all of it, so receivers that
    /// failed together are not retried together.
    pub fn backoff(&self, attempt: i64, rng: &mut impl Rng) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.backoff_cap);
        let half = full / 2;
        let spread = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(if spread == 0 {
            0
        } else {
            rng.gen_range(0..=spread)
        })
    }
}

/// The Standard Webhooks signature of one attempt: `v1,` and the base64
/// HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the secret's bytes.
pub fn signature(secret: &[u8; 32], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The running worker.
pub struct Worker {
    pub notify: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts the worker on `store`; it first releases deliveries claimed
    /// by processes that are gone.
    pub fn start(
        store: Arc<Store>,
        settings: WebhookSettings,
        metrics: Arc<crate::metrics::Metrics>,
        log: Logger,
    ) -> anyhow::Result<Worker> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("OrderFlow-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the webhook HTTP client: {e}"))?;
        let notify = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            store,
            settings,
            client,
            notify.clone(),
            stopped,
            metrics,
            log,
        ));
        Ok(Worker { notify, stop, task })
    }

    /// Stops taking deliveries and waits at most `drain` for the attempts
    /// in flight; one cut short stays claimed by this boot, whose clean
    /// close lets the next start take it again.
    pub async fn stop(self, drain: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(drain, &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn run(
    store: Arc<Store>,
    settings: WebhookSettings,
    client: reqwest::Client,
    notify: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
    metrics: Arc<crate::metrics::Metrics>,
    log: Logger,
) {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || s.release_orphaned_deliveries()).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => {
            info!(log, "took back webhook deliveries of a process that is gone"; "count" => n)
        }
        Ok(Err(e)) => {
            warn!(log, "could not release orphaned webhook deliveries"; "cause" => e.to_string())
        }
        Err(e) => warn!(log, "webhook start-up task failed"; "cause" => e.to_string()),
    }
    let lease = settings.timeout + Duration::from_secs(5);
    loop {
        if *stopped.borrow() {
            return;
        }
        let s = store.clone();
        let limit = u32::try_from(settings.concurrency.max(1)).unwrap_or(8);
        let claimed = tokio::task::spawn_blocking(move || {
            let until = s.now() + chrono::Duration::from_std(lease).unwrap_or_default();
            s.claim_due(limit, until)
        })
        .await;
        let due = match claimed {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                warn!(log, "claiming webhook deliveries failed; retrying"; "cause" => e.to_string());
                Vec::new()
            }
            Err(e) => {
                error!(log, "webhook claim task failed"; "cause" => e.to_string());
                Vec::new()
            }
        };
        if due.is_empty() {
            tokio::select! {
                () = notify.notified() => {}
                () = tokio::time::sleep(settings.poll) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let sends = due.into_iter().map(|d| {
            let client = client.clone();
            let store = store.clone();
            let settings = settings.clone();
            let log = log.clone();
            let metrics = metrics.clone();
            async move {
                let outcome = attempt(&client, &store, &settings, &d).await;
                log_outcome(&log, &d, &outcome);
                metrics.webhook_attempt(match outcome.state {
                    DeliveryState::Delivered => "delivered",
                    DeliveryState::Pending => "retry",
                    DeliveryState::Dead => "dead",
                });
                let s = store.clone();
                match tokio::task::spawn_blocking(move || s.record_attempt(&d, &outcome)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        warn!(log, "recording a webhook attempt failed; it will be repeated"; "cause" => e.to_string())
                    }
                    Err(e) => error!(log, "webhook record task failed"; "cause" => e.to_string()),
                }
            }
        });
        futures::future::join_all(sends).await;
    }
}

/// Sends one attempt and decides what follows.
async fn attempt(
    client: &reqwest::Client,
    store: &Store,
    settings: &WebhookSettings,
    d: &DueDelivery,
) -> AttemptOutcome {
    let timestamp = Utc::now().timestamp();
    let sig = signature(&d.secret, &d.event_id, timestamp, d.payload.as_bytes());
    let started = Instant::now();
    let sent = client
        .post(&d.url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sig)
        .body(d.payload.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(resp) if resp.status().is_success() => (Some(resp.status().as_u16()), None),
        Ok(resp) => {
            let s = resp.status();
            let detail = if s.is_redirection() {
                format!("answered {s}; redirects are not followed, register the final URL")
            } else {
                format!("answered {s}")
            };
            (Some(s.as_u16()), Some(detail))
        }
        Err(e) if e.is_timeout() => (
            None,
            Some(format!(
                "no answer within {} s",
                settings.timeout.as_secs_f64()
            )),
        ),
        Err(e) if e.is_connect() => (None, Some(format!("could not connect: {}", root_cause(&e)))),
        Err(e) => (
            None,
            Some(format!("the request failed: {}", root_cause(&e))),
        ),
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = store.now();
    let (state, retry_at) = if error.is_none() {
        (DeliveryState::Delivered, now)
    } else if d.attempt >= i64::from(settings.max_attempts) {
        (DeliveryState::Dead, now)
    } else {
        let wait = settings.backoff(d.attempt, &mut rand::thread_rng());
        (
            DeliveryState::Pending,
            now + chrono::Duration::from_std(wait).unwrap_or_default(),
        )
    };
    AttemptOutcome {
        status,
        error,
        duration_ms,
        state,
        retry_at,
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn log_outcome(log: &Logger, d: &DueDelivery, o: &AttemptOutcome) {
    let err = o.error.as_deref().unwrap_or("");
    match o.state {
        DeliveryState::Delivered => {
            info!(log, "webhook delivered"; "event" => &d.event_id, "attempt" => d.attempt, "status" => o.status, "duration_ms" => o.duration_ms)
        }
        DeliveryState::Pending => {
            warn!(log, "webhook attempt failed; will retry"; "event" => &d.event_id, "attempt" => d.attempt, "cause" => err, "retry_at" => o.retry_at.to_rfc3339())
        }
        DeliveryState::Dead => {
            error!(log, "webhook delivery is dead after its last attempt"; "event" => &d.event_id, "attempt" => d.attempt, "cause" => err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        let s = WebhookSettings {
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            ..WebhookSettings::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..=12 {
            let full = Duration::from_secs(1u64 << (attempt - 1)).min(Duration::from_secs(60));
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..200 {
                let d = s.backoff(attempt, &mut rng);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
                seen.insert(d);
            }
            assert!(seen.len() > 10, "jittered, not fixed: {seen:?}");
        }
    }

    #[test]
    fn the_signature_is_the_standard_webhooks_hmac() {
        // Computed with Python's hmac module, not this code:
        // base64(HMAC-SHA256(key = 32 bytes of 0x01, "evt_1.1700000000.{}")).
        let key = [1u8; 32];
        let sig = signature(&key, "evt_1", 1_700_000_000, b"{}");
        assert_eq!(sig, "v1,QwqMkShzqrc1Gme9vey76orVgdgb2XWjbuHPBS2IVKY=");
        assert_ne!(
            sig,
            signature(&key, "evt_1", 1_700_000_001, b"{}"),
            "the timestamp is signed"
        );
        assert_ne!(
            sig,
            signature(&key, "evt_1", 1_700_000_000, b"{ }"),
            "the body is signed"
        );
    }
}
