//! Injected identifiers and secret key material.
//!
//! Every id and secret the store creates comes from the [`IdSource`] handed
//! to [`super::Store::open`], so tests get predictable ids instead of
//! matching on random strings. This module deliberately does no I/O and
//! does not promise anything about ids beyond "prefix, underscore, opaque
//! suffix": callers must treat them as opaque.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// A source of resource ids and secret key material.
pub trait IdSource: Send + Sync {
    /// A new unique id: `prefix`, an underscore, then an opaque suffix.
    fn new_id(&self, prefix: &str) -> String;
    /// 32 bytes that nobody can predict (in production).
    fn secret_bytes(&self) -> [u8; 32];
}

/// Lowercase Crockford base32: no `i`, `l`, `o` or `u`, so ids read aloud or
/// copied by hand are hard to get wrong.
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ID_SUFFIX_LEN: usize = 20;

/// Random ids (100 bits each) and secrets from the thread-local CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self, prefix: &str) -> String {
        let mut rng = rand::thread_rng();
        let mut id = String::with_capacity(prefix.len() + 1 + ID_SUFFIX_LEN);
        id.push_str(prefix);
        id.push('_');
        for _ in 0..ID_SUFFIX_LEN {
            let index = rng.gen_range(0..ID_ALPHABET.len());
            id.push(char::from(ID_ALPHABET[index]));
        }
        id
    }

    fn secret_bytes(&self) -> [u8; 32] {
        // ThreadRng is a CSPRNG (ChaCha12) reseeded from the operating
        // system, which is what API key secrets and the cursor key need.
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        bytes
    }
}

/// Predictable ids for tests: `cus_00000000000000000001`, then `..02`, with
/// one counter shared by all prefixes so that ids also show creation order.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl SequentialIds {
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdSource for SequentialIds {
    fn new_id(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{prefix}_{n:0width$}", width = ID_SUFFIX_LEN)
    }

    fn secret_bytes(&self) -> [u8; 32] {
        // Deterministic but distinct per call, so tests can tell two keys
        // apart while reruns produce the same values.
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        Sha256::digest(format!("orderflow-test-secret-{n}").as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_prefix_and_twenty_base32_chars() {
        let ids = RandomIds;
        let a = ids.new_id("ord");
        let b = ids.new_id("ord");
        assert_ne!(a, b);
        let suffix = a.strip_prefix("ord_").expect("prefix");
        assert_eq!(suffix.len(), ID_SUFFIX_LEN);
        assert!(suffix.bytes().all(|c| ID_ALPHABET.contains(&c)), "{a}");
        assert_ne!(ids.secret_bytes(), ids.secret_bytes());
    }

    #[test]
    fn sequential_ids_are_predictable() {
        let ids = SequentialIds::new();
        assert_eq!(ids.new_id("cus"), "cus_00000000000000000001");
        assert_eq!(ids.new_id("prd"), "prd_00000000000000000002");
        let again = SequentialIds::new();
        assert_eq!(again.new_id("cus"), "cus_00000000000000000001");
        assert_ne!(ids.secret_bytes(), ids.secret_bytes());
    }
}
