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
//! Internal addresses (loopback, private, link-local, ...) are refused by
//! default, at registration for IP literals and `localhost`, and at every
//! attempt for names, after they resolve: an admin key is not a way to make
//! the server call its own network.
//!
//! What this module deliberately does not do: order deliveries across
//! events (receivers order by `order_version`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use slog::{Logger, error, info, warn};
use tokio::sync::{Notify, watch};

use crate::store::{AttemptOutcome, DeliveryState, DueDelivery, Storage};

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
    /// Deliver to loopback, private, link-local and other internal
    /// addresses too (`--webhook-allow-private-addresses`). Off by
    /// default: an admin key must not be a way to make the server call
    /// services on its own network (cloud metadata, an internal admin API).
    pub allow_private: bool,
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
            allow_private: false,
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

/// Whether `ip` is an address the worker does not call by default:
/// loopback, private, link-local (cloud metadata lives there), shared
/// (carrier-grade NAT), unspecified, broadcast, multicast, documentation,
/// benchmarking and reserved ranges, and their IPv4-mapped IPv6 forms.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                // NAT64: judge the IPv4 address inside.
                || (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                    && is_internal(IpAddr::V4(std::net::Ipv4Addr::from(
                        (u32::from(v6.segments()[6]) << 16) | u32::from(v6.segments()[7]),
                    ))))
        }
    }
}

/// Why the worker would refuse `url` by its host alone (an internal IP
/// literal, or a `localhost` name), or `None`. A name is checked again
/// when it resolves, at every attempt ([`PublicOnly`]), so a name that
/// later points inside is refused too.
pub fn host_problem(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let refuse = |what: &str| {
        Some(format!(
            "points at {what}, which this server does not call (start it with --webhook-allow-private-addresses to allow it)"
        ))
    };
    match parsed.host()? {
        url::Host::Ipv4(ip) if is_internal(IpAddr::V4(ip)) => {
            refuse(&format!("the internal address {ip}"))
        }
        url::Host::Ipv6(ip) if is_internal(IpAddr::V6(ip)) => {
            refuse(&format!("the internal address {ip}"))
        }
        url::Host::Domain(d)
            if d.eq_ignore_ascii_case("localhost")
                || d.to_ascii_lowercase().ends_with(".localhost") =>
        {
            refuse(&format!("'{d}'"))
        }
        _ => None,
    }
}

/// A resolver that keeps only public addresses: a name that resolves only
/// inside is an error, so the attempt fails (and is logged) without a
/// connection.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| !is_internal(a.ip()))
                .collect();
            if public.is_empty() {
                let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves only to internal addresses ({}), which this server does not call",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
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
        store: Arc<dyn Storage>,
        settings: WebhookSettings,
        metrics: Arc<crate::metrics::Metrics>,
        log: Logger,
    ) -> anyhow::Result<Worker> {
        let mut client = reqwest::Client::builder();
        if !settings.allow_private {
            client = client.dns_resolver(Arc::new(PublicOnly));
        }
        let client = client
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
    store: Arc<dyn Storage>,
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
                let outcome = attempt(&client, &*store, &settings, &d).await;
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
    store: &dyn Storage,
    settings: &WebhookSettings,
    d: &DueDelivery,
) -> AttemptOutcome {
    if !settings.allow_private
        && let Some(problem) = host_problem(&d.url)
    {
        // An endpoint registered while internal addresses were allowed.
        return AttemptOutcome {
            status: None,
            error: Some(problem),
            duration_ms: 0,
            state: DeliveryState::Dead,
            retry_at: store.now(),
        };
    }
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
    fn internal_addresses_and_local_names_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip.parse().expect(ip)), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(!is_internal(ip.parse().expect(ip)), "{ip}");
        }
        for url in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/x",
            "http://localhost/x",
            "https://api.LOCALHOST/x",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let p = host_problem(url).unwrap_or_else(|| panic!("{url} is refused"));
            assert!(p.contains("--webhook-allow-private-addresses"), "{p}");
        }
        for url in ["https://hooks.example.com/x", "http://93.184.215.14/x"] {
            assert_eq!(host_problem(url), None, "{url}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_at_the_attempt() {
        use reqwest::dns::Resolve as _;
        let name: reqwest::dns::Name = "localhost".parse().expect("a name");
        let e = PublicOnly.resolve(name).await.err().expect("refused");
        assert!(e.to_string().contains("internal addresses"), "{e}");
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
