//! Injected time.
//!
//! Every timestamp the store writes comes from the [`Clock`] handed to
//! [`super::Store::open`], so tests pin and move time instead of sleeping.
//! This module deliberately does no I/O, knows nothing about SQLite, and
//! does not round: the store cuts times to the microseconds it keeps.

use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock moved by a fixed offset: a server started with
/// `--rehearse-at 2027-07-01T00:00:00Z` runs as if it were then, and time
/// moves on from there. For rehearsing a sunset (or any date) in staging.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: Duration,
}

impl OffsetClock {
    /// A clock that reads `at` now.
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        OffsetClock {
            offset: at - Utc::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// A fixed, readable starting point (2026-11-21T10:00:00Z) so that test
    /// output does not depend on when the test ran.
    pub fn at_default_epoch() -> Self {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .unwrap_or_default();
        Self::new(start)
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.lock() = to;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        // Saturate rather than panic: a test that advances past the end of
        // time has a bug, but the clock is no place to crash for it.
        *now = now.checked_add_signed(by).unwrap_or(*now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // The guarded value is a plain timestamp that is always valid, so a
        // poisoned lock carries no broken invariant worth propagating.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_default_epoch();
        let start = clock.now();
        assert_eq!(start.to_rfc3339(), "2026-11-21T10:00:00+00:00");
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now() - start, Duration::seconds(90));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
