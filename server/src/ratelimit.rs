//! GCRA rate limiting, one limiter per (policy, caller).
//!
//! The generic cell rate algorithm keeps one number per caller, the
//! theoretical arrival time (TAT). With emission interval `T = window /
//! quota` and burst tolerance `tau = T * (quota - 1)`, a request at `now`
//! is refused when `now < TAT - tau` (it must wait `TAT - tau - now`);
//! otherwise `TAT = max(TAT, now) + T`. That gives a smooth `quota` per
//! `window` with bursts of up to `quota`, and exact numbers for the
//! `RateLimit` (`r` remaining, `t` seconds to full) and `Retry-After`
//! headers.
//!
//! Why not the governor crate: its snapshot does not expose the TAT that
//! `t` needs, and its clock is a generic type parameter, while ours is the
//! injected [`Clock`] trait object that lets tests move time instead of
//! sleeping. The algorithm itself is the few lines below.
//!
//! State is in memory: a restart forgets it (a fresh full quota), and
//! replicas would need shared state (see ARCHITECTURE.md, scale path).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use orderflow_edge::{RateLimitPolicy, RateState};

use crate::store::Clock;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Past this many tracked callers, idle ones (whose TAT is in the past,
/// so they are back to a full quota) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow(RateState),
    /// Refused: the state to report, and whole seconds to wait (>= 1).
    Deny(RateState, u64),
}

pub struct Limiter {
    clock: Arc<dyn Clock>,
    tats: Mutex<HashMap<(&'static str, String), i128>>,
}

fn ceil_seconds(nanos: i128) -> u64 {
    if nanos <= 0 {
        return 0;
    }
    ((nanos + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND) as u64
}

/// The GCRA constants of a policy, in nanoseconds: the emission interval
/// `T` and the burst tolerance `tau`.
pub fn constants(policy: &RateLimitPolicy) -> (i128, i128) {
    let quota = i128::from(policy.quota.max(1));
    let window = i128::from(policy.window_seconds.max(1)) * NANOS_PER_SECOND;
    let interval = window / quota;
    (interval, interval * (quota - 1))
}

/// One GCRA step at `now` for a caller whose stored TAT is `tat` (`None`:
/// never seen, or forgotten): the decision, and the TAT to store when the
/// request is allowed. Every limiter, in memory or in PostgreSQL, decides
/// with this function or with SQL that computes the same (see
/// `crate::pg::ratelimit`), and reports with [`outcome`].
pub fn step(
    policy: &'static RateLimitPolicy,
    now: i128,
    tat: Option<i128>,
) -> (Decision, Option<i128>) {
    let (interval, tau) = constants(policy);
    let tat = tat.unwrap_or(now).max(now);
    if now < tat - tau {
        return (outcome(policy, now, tat, false), None);
    }
    let new_tat = tat + interval;
    (outcome(policy, now, new_tat, true), Some(new_tat))
}

/// The decision to report at `now`, given the caller's TAT after the
/// check (the new one when `allowed`, the unchanged one when refused).
///
/// Both `t` and `Retry-After` are capped at the window: with one clock a
/// TAT is never more than a window ahead, but the shared limiter reads the
/// database's clock before it waits for the caller's row, so a check that
/// queued behind a concurrent one can see a TAT set from a later reading
/// (CI saw `t=2` on a 1-second window). A full window from now the quota is
/// whole again, so the cap is also the truth.
pub fn outcome(policy: &'static RateLimitPolicy, now: i128, tat: i128, allowed: bool) -> Decision {
    let (interval, tau) = constants(policy);
    let window = tau + interval;
    let ahead = (tat - now).min(window);
    if !allowed {
        let state = RateState {
            policy,
            remaining: 0,
            reset_seconds: ceil_seconds(ahead),
        };
        return Decision::Deny(state, ceil_seconds(ahead - tau).max(1));
    }
    let quota = i128::from(policy.quota.max(1));
    // Room left before the next request would be refused.
    let remaining = ((now + tau - (tat - interval)) / interval).clamp(0, quota) as u32;
    Decision::Allow(RateState {
        policy,
        remaining,
        reset_seconds: ceil_seconds(ahead),
    })
}

/// Nanoseconds since the Unix epoch on `clock`: the time unit of TATs.
pub fn nanos_now(clock: &dyn Clock) -> i128 {
    let t = clock.now();
    i128::from(t.timestamp()) * NANOS_PER_SECOND + i128::from(t.timestamp_subsec_nanos())
}

impl Limiter {
    pub fn new(clock: Arc<dyn Clock>) -> Limiter {
        Limiter {
            clock,
            tats: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> i128 {
        nanos_now(self.clock.as_ref())
    }

    /// Counts one request by `caller` under `policy`, if it is allowed.
    pub fn check(&self, policy: &'static RateLimitPolicy, caller: &str) -> Decision {
        let now = self.now();
        // The map is only read and written in one step here, so a panic
        // elsewhere cannot leave it half-updated: recovering is safe.
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        if tats.len() > PRUNE_ABOVE {
            tats.retain(|_, tat| *tat > now);
        }
        let key = (policy.name, caller.to_string());
        let (decision, new_tat) = step(policy, now, tats.get(&key).copied());
        if let Some(tat) = new_tat {
            tats.insert(key, tat);
        }
        decision
    }

    /// The state `caller` would see, without counting a request (for the
    /// demonstration mode that does not enforce limits).
    pub fn peek(&self, policy: &'static RateLimitPolicy) -> RateState {
        RateState {
            policy,
            remaining: policy.quota,
            reset_seconds: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ManualClock;

    static WRITES: RateLimitPolicy = RateLimitPolicy {
        name: "writes",
        quota: 5,
        window_seconds: 1,
    };

    fn limiter() -> (Limiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at_default_epoch());
        (Limiter::new(clock.clone()), clock)
    }

    fn remaining(d: Decision) -> Option<u32> {
        match d {
            Decision::Allow(s) => Some(s.remaining),
            Decision::Deny(..) => None,
        }
    }

    #[test]
    fn a_burst_of_quota_then_refusal_with_an_honest_retry_after() {
        let (l, _) = limiter();
        let got: Vec<Option<u32>> = (0..6).map(|_| remaining(l.check(&WRITES, "k"))).collect();
        assert_eq!(got, vec![Some(4), Some(3), Some(2), Some(1), Some(0), None]);
        match l.check(&WRITES, "k") {
            Decision::Deny(state, retry) => {
                assert_eq!(state.remaining, 0);
                // One emission interval (200 ms) away: rounded up to 1 s.
                assert_eq!(retry, 1);
                assert_eq!(state.reset_seconds, 1);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_tat_read_from_a_later_clock_still_reports_within_the_window() {
        let (interval, tau) = constants(&WRITES);
        let window = tau + interval;
        let window_s = u64::from(WRITES.window_seconds);
        let now = 1_000 * NANOS_PER_SECOND;
        // A concurrent check read the clock 5 ms later and set the TAT.
        match outcome(&WRITES, now, now + window + 5_000_000, false) {
            Decision::Deny(state, retry) => {
                assert_eq!(state.reset_seconds, window_s);
                assert!(retry <= state.reset_seconds, "Retry-After {retry} > t");
            }
            other => panic!("refused expected, got {other:?}"),
        }
        match outcome(&WRITES, now, now + window + 5_000_000, true) {
            Decision::Allow(state) => assert_eq!(state.reset_seconds, window_s),
            other => panic!("allowed expected, got {other:?}"),
        }
    }

    #[test]
    fn retry_after_is_never_early() {
        let (l, clock) = limiter();
        for _ in 0..5 {
            l.check(&WRITES, "k");
        }
        let Decision::Deny(_, retry) = l.check(&WRITES, "k") else {
            panic!("over quota")
        };
        // Just before Retry-After has passed, a retry may still be refused
        // or allowed; exactly at it, it must be allowed.
        clock.advance(chrono::Duration::seconds(retry as i64));
        assert!(matches!(l.check(&WRITES, "k"), Decision::Allow(_)));
    }

    #[test]
    fn the_quota_refills_at_the_emission_rate() {
        let (l, clock) = limiter();
        for _ in 0..5 {
            l.check(&WRITES, "k");
        }
        assert!(matches!(l.check(&WRITES, "k"), Decision::Deny(..)));
        clock.advance(chrono::Duration::milliseconds(200));
        assert_eq!(
            remaining(l.check(&WRITES, "k")),
            Some(0),
            "one interval buys one request"
        );
        assert!(matches!(l.check(&WRITES, "k"), Decision::Deny(..)));
        clock.advance(chrono::Duration::seconds(10));
        assert_eq!(
            remaining(l.check(&WRITES, "k")),
            Some(4),
            "idle long enough: full burst again"
        );
    }

    #[test]
    fn callers_and_policies_are_independent() {
        let (l, _) = limiter();
        static READS: RateLimitPolicy = RateLimitPolicy {
            name: "reads",
            quota: 1,
            window_seconds: 1,
        };
        for _ in 0..5 {
            l.check(&WRITES, "a");
        }
        assert!(matches!(l.check(&WRITES, "a"), Decision::Deny(..)));
        assert!(matches!(l.check(&WRITES, "b"), Decision::Allow(_)));
        assert!(matches!(l.check(&READS, "a"), Decision::Allow(_)));
        assert!(matches!(l.check(&READS, "a"), Decision::Deny(..)));
    }

    #[test]
    fn long_windows_report_whole_seconds() {
        static HOURLY: RateLimitPolicy = RateLimitPolicy {
            name: "hourly",
            quota: 2,
            window_seconds: 3600,
        };
        let (l, _) = limiter();
        l.check(&HOURLY, "k");
        l.check(&HOURLY, "k");
        match l.check(&HOURLY, "k") {
            Decision::Deny(state, retry) => {
                assert_eq!(retry, 1800, "one interval of 30 minutes");
                assert_eq!(state.reset_seconds, 3600);
            }
            other => panic!("{other:?}"),
        }
    }
}
