//! The authenticated-principal cache: who a presented secret is, kept in
//! memory so an authenticated request needs no database trip of its own.
//!
//! Correctness over hit rate:
//!
//! - **Revocation on this process is immediate**: [`super::Store::revoke_key`]
//!   drops the key's entries after its write, and bumps an epoch that a
//!   concurrent miss checks before it fills, so a look-up that read the row
//!   just before the revocation cannot put it back.
//! - **Elsewhere, within [`PRINCIPAL_TTL`]**: a key revoked by another
//!   process on the same database (or, once PostgreSQL lands, by another
//!   replica) stops working here at the latest when its entry expires. That
//!   is the bound the ARCHITECTURE states.
//! - **Bounded**: at most [`PRINCIPAL_CAPACITY`] entries; when full, expired
//!   entries go first, then the whole map (a rare, cheap reset rather than
//!   an LRU's bookkeeping on every hit).
//! - Only live keys are cached. An unknown or revoked secret always reaches
//!   the database, so guessing cannot fill the cache.
//!
//! Keys are the SHA-256 of the secret, as in the database: the secret
//! itself is never held.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use super::keys::Principal;

/// How long an entry is trusted: the bound on how long a key revoked by
/// another process keeps working on this one.
pub const PRINCIPAL_TTL: Duration = Duration::seconds(5);
/// Most entries kept at once (one per live key in use).
pub const PRINCIPAL_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub(crate) struct PrincipalCache {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped by every invalidation; a fill carries the epoch it started in.
    epoch: u64,
    entries: HashMap<[u8; 32], (Principal, DateTime<Utc>)>,
}

impl PrincipalCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        PrincipalCache {
            capacity: capacity.max(1),
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map holds no invariant a panic could break mid-way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live entry for `hash` at `now`, if any.
    pub(crate) fn get(&self, hash: &[u8; 32], now: DateTime<Utc>) -> Option<Principal> {
        let mut inner = self.lock();
        match inner.entries.get(hash) {
            Some((p, expires)) if now < *expires => Some(p.clone()),
            Some(_) => {
                inner.entries.remove(hash);
                None
            }
            None => None,
        }
    }

    /// The epoch a miss starts in: pass it back to [`Self::fill`].
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Caches what the database said at `epoch`, unless an invalidation
    /// came since (then the row read may be stale).
    pub(crate) fn fill(&self, epoch: u64, hash: [u8; 32], p: Principal, now: DateTime<Utc>) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&hash) {
            inner.entries.retain(|_, (_, expires)| now < *expires);
            if inner.entries.len() >= self.capacity {
                inner.entries.clear();
            }
        }
        inner.entries.insert(hash, (p, now + self.ttl));
    }

    /// Forgets every entry of key `key_id`.
    pub(crate) fn invalidate_key(&self, key_id: &str) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.retain(|_, (p, _)| p.key_id != key_id);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::Role;
    use super::*;

    fn principal(n: usize) -> Principal {
        Principal {
            key_id: format!("key_{n}"),
            role: Role::Admin,
            customer_id: None,
        }
    }

    fn hash(n: usize) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&(n as u64).to_le_bytes());
        h
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = PrincipalCache::new(10, Duration::seconds(5));
        c.fill(c.epoch(), hash(1), principal(1), t0());
        assert_eq!(
            c.get(&hash(1), t0() + Duration::seconds(4)),
            Some(principal(1))
        );
        assert_eq!(c.get(&hash(1), t0() + Duration::seconds(5)), None);
        assert_eq!(c.len(), 0, "an expired entry is dropped when seen");
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let c = PrincipalCache::new(3, Duration::seconds(5));
        for n in 0..50 {
            c.fill(c.epoch(), hash(n), principal(n), t0());
            assert!(c.len() <= 3, "{} entries after {n}", c.len());
        }
        // The newest entry is always kept.
        assert_eq!(c.get(&hash(49), t0()), Some(principal(49)));
    }

    #[test]
    fn a_full_cache_drops_expired_entries_before_live_ones() {
        let c = PrincipalCache::new(2, Duration::seconds(5));
        c.fill(c.epoch(), hash(1), principal(1), t0());
        c.fill(
            c.epoch(),
            hash(2),
            principal(2),
            t0() + Duration::seconds(4),
        );
        // At +6 s entry 1 has expired, entry 2 has not.
        c.fill(
            c.epoch(),
            hash(3),
            principal(3),
            t0() + Duration::seconds(6),
        );
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.get(&hash(2), t0() + Duration::seconds(6)),
            Some(principal(2))
        );
    }

    #[test]
    fn invalidation_wins_over_a_fill_that_started_before_it() {
        let c = PrincipalCache::new(10, Duration::seconds(5));
        c.fill(c.epoch(), hash(1), principal(1), t0());
        // A miss for another secret of the same key starts...
        let started = c.epoch();
        // ...the key is revoked meanwhile...
        c.invalidate_key("key_1");
        assert_eq!(c.get(&hash(1), t0()), None);
        // ...and the miss's (stale) row is not cached.
        c.fill(started, hash(2), principal(1), t0());
        assert_eq!(c.get(&hash(2), t0()), None);
        // A fill that starts after the revocation is cached again.
        c.fill(c.epoch(), hash(3), principal(3), t0());
        assert_eq!(c.get(&hash(3), t0()), Some(principal(3)));
    }
}
