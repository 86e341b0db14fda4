//! A circuit breaker: closed (calls go through; consecutive failures are
//! counted), open (calls fail at once, for the cool-down), half-open (one
//! trial call at a time; its success closes, its failure re-opens).
//!
//! It knows nothing of gRPC and reads time only through [`Clock`], so its
//! transitions are tested with a hand-moved clock, without sleeping. It
//! does not log: transitions are returned to the caller, which reports them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the breaker reads the time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The value exported as `orderflow_pricing_breaker_state`.
    pub fn as_gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker (at least 1).
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before a trial.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(5),
        }
    }
}

/// A state change, for the caller to log and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; report the result with [`Breaker::record`].
    Allowed,
    /// Refused: the breaker is open (or half-open with its trial out).
    /// `retry_after` is the time left of the cool-down (zero in half-open).
    Refused { retry_after: Duration },
}

pub struct Breaker {
    config: BreakerConfig,
    clock: std::sync::Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(config: BreakerConfig, clock: std::sync::Arc<dyn Clock>) -> Breaker {
        Breaker {
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                ..config
            },
            clock,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state now (an open breaker past its cool-down reads half-open).
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.state {
            BreakerState::Open if self.cooled(&inner) => BreakerState::HalfOpen,
            s => s,
        }
    }

    fn cooled(&self, inner: &Inner) -> bool {
        inner
            .opened_at
            .is_none_or(|t| self.clock.now().saturating_duration_since(t) >= self.config.cool_down)
    }

    /// Asks to make a call. An open breaker past its cool-down turns
    /// half-open and admits one trial.
    pub fn admit(&self) -> (Admission, Option<Transition>) {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => (Admission::Allowed, None),
            BreakerState::Open => {
                if self.cooled(&inner) {
                    inner.state = BreakerState::HalfOpen;
                    inner.trial_in_flight = true;
                    (
                        Admission::Allowed,
                        Some(Transition {
                            from: BreakerState::Open,
                            to: BreakerState::HalfOpen,
                        }),
                    )
                } else {
                    let left = inner.opened_at.map_or(Duration::ZERO, |t| {
                        self.config
                            .cool_down
                            .saturating_sub(self.clock.now().saturating_duration_since(t))
                    });
                    (Admission::Refused { retry_after: left }, None)
                }
            }
            BreakerState::HalfOpen => {
                if inner.trial_in_flight {
                    (
                        Admission::Refused {
                            retry_after: Duration::ZERO,
                        },
                        None,
                    )
                } else {
                    inner.trial_in_flight = true;
                    (Admission::Allowed, None)
                }
            }
        }
    }

    /// Reports an admitted call's result: `true` for success.
    pub fn record(&self, success: bool) -> Option<Transition> {
        let mut inner = self.lock();
        let from = inner.state;
        match (from, success) {
            (BreakerState::Closed, true) => {
                inner.failures = 0;
                None
            }
            (BreakerState::Closed, false) => {
                inner.failures += 1;
                if inner.failures >= self.config.failure_threshold {
                    self.open(&mut inner);
                    Some(Transition {
                        from,
                        to: BreakerState::Open,
                    })
                } else {
                    None
                }
            }
            (BreakerState::HalfOpen, true) => {
                inner.state = BreakerState::Closed;
                inner.failures = 0;
                inner.trial_in_flight = false;
                inner.opened_at = None;
                Some(Transition {
                    from,
                    to: BreakerState::Closed,
                })
            }
            (BreakerState::HalfOpen, false) => {
                self.open(&mut inner);
                Some(Transition {
                    from,
                    to: BreakerState::Open,
                })
            }
            // A call admitted before the breaker opened finished late: it
            // changes nothing.
            (BreakerState::Open, _) => None,
        }
    }

    fn open(&self, inner: &mut Inner) {
        inner.state = BreakerState::Open;
        inner.opened_at = Some(self.clock.now());
        inner.trial_in_flight = false;
        inner.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A clock moved by hand.
    struct Manual(Mutex<Instant>);
    impl Clock for Manual {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }
    impl Manual {
        fn advance(&self, d: Duration) {
            *self.0.lock().unwrap() += d;
        }
    }

    fn breaker(threshold: u32) -> (Breaker, Arc<Manual>) {
        let clock = Arc::new(Manual(Mutex::new(Instant::now())));
        let b = Breaker::new(
            BreakerConfig {
                failure_threshold: threshold,
                cool_down: Duration::from_secs(10),
            },
            clock.clone(),
        );
        (b, clock)
    }

    fn t(from: BreakerState, to: BreakerState) -> Option<Transition> {
        Some(Transition { from, to })
    }
    use BreakerState::*;

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let (b, _) = breaker(3);
        for _ in 0..2 {
            assert_eq!(b.admit(), (Admission::Allowed, None));
            assert_eq!(b.record(false), None);
        }
        // A success resets the count.
        assert_eq!(b.record(true), None);
        assert_eq!(b.record(false), None);
        assert_eq!(b.record(false), None);
        assert_eq!(b.state(), Closed);
        assert_eq!(b.record(false), t(Closed, Open));
        assert_eq!(b.state(), Open);
    }

    #[test]
    fn open_refuses_until_the_cool_down_then_admits_one_trial() {
        let (b, clock) = breaker(1);
        assert_eq!(b.record(false), t(Closed, Open));
        clock.advance(Duration::from_secs(4));
        assert_eq!(
            b.admit(),
            (
                Admission::Refused {
                    retry_after: Duration::from_secs(6)
                },
                None
            )
        );
        clock.advance(Duration::from_secs(6));
        assert_eq!(b.state(), HalfOpen);
        assert_eq!(b.admit(), (Admission::Allowed, t(Open, HalfOpen)));
        // Only one trial at a time.
        assert_eq!(
            b.admit(),
            (
                Admission::Refused {
                    retry_after: Duration::ZERO
                },
                None
            )
        );
        assert_eq!(b.record(true), t(HalfOpen, Closed));
        assert_eq!(b.state(), Closed);
        assert_eq!(b.admit(), (Admission::Allowed, None));
    }

    #[test]
    fn a_failed_trial_reopens_for_a_whole_cool_down() {
        let (b, clock) = breaker(2);
        b.record(false);
        assert_eq!(b.record(false), t(Closed, Open));
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.admit().1, t(Open, HalfOpen));
        assert_eq!(b.record(false), t(HalfOpen, Open));
        clock.advance(Duration::from_secs(9));
        assert!(matches!(b.admit().0, Admission::Refused { .. }));
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.admit(), (Admission::Allowed, t(Open, HalfOpen)));
    }

    #[test]
    fn a_late_result_while_open_changes_nothing() {
        let (b, _) = breaker(1);
        b.record(false);
        assert_eq!(b.record(true), None);
        assert_eq!(b.state(), Open);
    }

    #[test]
    fn a_threshold_of_zero_means_one() {
        let (b, _) = breaker(0);
        assert_eq!(b.record(false), t(Closed, Open));
    }
}
