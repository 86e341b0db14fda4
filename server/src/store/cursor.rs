//! The opaque, signed pagination cursor.
//!
//! A cursor carries the last sort key of a page (`after`) and binds it to the
//! list it came from (`kind`) and the filters it was issued for (a
//! fingerprint string chosen by the caller, e.g. [`super::OrderFilter::fingerprint`]).
//! Layout, before base64url without padding:
//!
//! ```text
//! [version: 1][kind tag: 8][filter hash: 16][after: 8, big-endian][HMAC-SHA256: 32]
//! ```
//!
//! The HMAC covers every byte before it, so a client can neither forge a
//! position nor move a cursor to other filters. The payload is not
//! encrypted: the sort key is an internal sequence number, which is not a
//! secret (it only reveals roughly how many rows were created before it).
//! This module deliberately does no I/O and knows nothing about SQL or
//! HTTP; mapping a [`CursorError`] to a 400 `invalid_cursor` is the caller's
//! job.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The only layout this build reads and writes. Bump it when the layout
/// changes so that old cursors fail loudly instead of being misread.
pub const VERSION: u8 = 1;

/// Cursor kinds for the lists the store serves, so that a cursor of one list
/// is never accepted by another.
pub const KIND_CUSTOMERS: &str = "customers";
pub const KIND_PRODUCTS: &str = "products";
pub const KIND_ORDERS: &str = "orders";
pub const KIND_ORDER_ITEMS: &str = "order_items";

const KIND_TAG_LEN: usize = 8;
const FILTER_HASH_LEN: usize = 16;
const AFTER_LEN: usize = 8;
const MAC_LEN: usize = 32;
const PAYLOAD_LEN: usize = 1 + KIND_TAG_LEN + FILTER_HASH_LEN + AFTER_LEN;
const TOKEN_LEN: usize = PAYLOAD_LEN + MAC_LEN;
/// The contract caps the `cursor` parameter at 512 characters; anything
/// longer is rejected before decoding so that junk costs nothing.
const MAX_ENCODED_LEN: usize = 512;

/// Why a cursor was refused. The messages name the failure without echoing
/// the token or anything derived from the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not valid base64url")]
    NotBase64,
    #[error("the cursor is longer than {MAX_ENCODED_LEN} characters")]
    TooLong,
    #[error("the cursor is truncated or padded ({actual} bytes, expected {expected})")]
    WrongLength { expected: usize, actual: usize },
    #[error("the cursor has version {found}, but this server reads version {VERSION}")]
    UnsupportedVersion { found: u8 },
    #[error("the cursor's signature does not match: it was altered or issued by another server")]
    BadSignature,
    #[error("the cursor was issued for a different list")]
    WrongKind,
    #[error("the cursor was not issued for these filters")]
    FilterMismatch,
}

/// Encodes a cursor that resumes after sort key `after` in list `kind`
/// filtered as `filter_fingerprint`.
pub fn encode(secret: &[u8; 32], kind: &str, filter_fingerprint: &str, after: i64) -> String {
    encode_with_version(secret, VERSION, kind, filter_fingerprint, after)
}

fn encode_with_version(
    secret: &[u8; 32],
    version: u8,
    kind: &str,
    filter_fingerprint: &str,
    after: i64,
) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.push(version);
    bytes.extend_from_slice(&kind_tag(kind));
    bytes.extend_from_slice(&filter_hash(kind, filter_fingerprint));
    bytes.extend_from_slice(&after.to_be_bytes());
    let tag = mac(secret).chain_update(&bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a cursor and returns its sort key, or says why it is refused.
pub fn decode(
    secret: &[u8; 32],
    token: &str,
    kind: &str,
    filter_fingerprint: &str,
) -> Result<i64, CursorError> {
    if token.len() > MAX_ENCODED_LEN {
        return Err(CursorError::TooLong);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| CursorError::NotBase64)?;
    // The version decides the layout, so it is checked before the length: a
    // cursor from a future layout should say "version", not "truncated".
    match bytes.first() {
        None => {
            return Err(CursorError::WrongLength {
                expected: TOKEN_LEN,
                actual: 0,
            });
        }
        Some(&found) if found != VERSION => return Err(CursorError::UnsupportedVersion { found }),
        Some(_) => {}
    }
    if bytes.len() != TOKEN_LEN {
        return Err(CursorError::WrongLength {
            expected: TOKEN_LEN,
            actual: bytes.len(),
        });
    }
    let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
    // `verify_slice` compares in constant time, so response timing does not
    // reveal how much of a forged tag was right.
    mac(secret)
        .chain_update(payload)
        .verify_slice(tag)
        .map_err(|_| CursorError::BadSignature)?;

    // Only an authentic cursor gets this far, so these checks tell an honest
    // client that it reused a cursor in the wrong place.
    let (kind_part, rest) = payload[1..].split_at(KIND_TAG_LEN);
    let (filter_part, after_part) = rest.split_at(FILTER_HASH_LEN);
    if kind_part != kind_tag(kind) {
        return Err(CursorError::WrongKind);
    }
    if filter_part != filter_hash(kind, filter_fingerprint) {
        return Err(CursorError::FilterMismatch);
    }
    let after: [u8; AFTER_LEN] = after_part
        .try_into()
        .map_err(|_| CursorError::WrongLength {
            expected: TOKEN_LEN,
            actual: bytes.len(),
        })?;
    Ok(i64::from_be_bytes(after))
}

fn mac(secret: &[u8; 32]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        // `new_from_slice` fails only for MACs with a fixed key size; HMAC
        // takes keys of every length, so this arm cannot be reached.
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

fn kind_tag(kind: &str) -> [u8; KIND_TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(b"orderflow-cursor-kind\0")
        .chain_update(kind.as_bytes())
        .finalize();
    let mut tag = [0u8; KIND_TAG_LEN];
    tag.copy_from_slice(&digest[..KIND_TAG_LEN]);
    tag
}

fn filter_hash(kind: &str, filter_fingerprint: &str) -> [u8; FILTER_HASH_LEN] {
    // The kind's length is hashed first, so that ("ab", "c") and ("a", "bc")
    // cannot collide.
    let digest = Sha256::new()
        .chain_update(b"orderflow-cursor-filter\0")
        .chain_update((kind.len() as u64).to_be_bytes())
        .chain_update(kind.as_bytes())
        .chain_update(filter_fingerprint.as_bytes())
        .finalize();
    let mut hash = [0u8; FILTER_HASH_LEN];
    hash.copy_from_slice(&digest[..FILTER_HASH_LEN]);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7u8; 32];
    const OTHER_SECRET: [u8; 32] = [8u8; 32];
    const FILTER: &str = r#"{"customer_id":"cus_1","status":"pending"}"#;

    #[test]
    fn round_trips_every_sort_key() {
        for after in [0, 1, 42, 1 << 40, i64::MAX, -1, i64::MIN] {
            let token = encode(&SECRET, KIND_ORDERS, FILTER, after);
            assert!(token.len() <= MAX_ENCODED_LEN);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "not base64url without padding: {token}"
            );
            assert_eq!(decode(&SECRET, &token, KIND_ORDERS, FILTER), Ok(after));
        }
    }

    /// One place that calls `decode` for the rejection cases.
    fn check_rejected(token: &str, kind: &str, filter: &str, expected: CursorError) {
        let got = decode(&SECRET, token, kind, filter);
        assert_eq!(got, Err(expected.clone()), "token {token}");
        let message = expected.to_string();
        if !token.is_empty() {
            assert!(!message.contains(token), "message echoes the token");
        }
        assert!(!message.contains(&hex::encode(SECRET)));
    }

    #[test]
    fn rejects_every_kind_of_tampering() {
        let good = encode(&SECRET, KIND_ORDERS, FILTER, 12345);
        let raw = URL_SAFE_NO_PAD.decode(&good).expect("valid");

        // Flipping any single byte after the version must break the
        // signature; flipping the version byte must say so.
        for i in 0..raw.len() {
            let mut bytes = raw.clone();
            bytes[i] ^= 0x01;
            let expected = if i == 0 {
                CursorError::UnsupportedVersion { found: VERSION ^ 1 }
            } else {
                CursorError::BadSignature
            };
            check_rejected(
                &URL_SAFE_NO_PAD.encode(&bytes),
                KIND_ORDERS,
                FILTER,
                expected,
            );
        }

        let cases: Vec<(String, &str, &str, CursorError)> = vec![
            (
                URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]),
                KIND_ORDERS,
                FILTER,
                CursorError::WrongLength {
                    expected: TOKEN_LEN,
                    actual: TOKEN_LEN - 1,
                },
            ),
            (
                URL_SAFE_NO_PAD.encode(&raw[..1]),
                KIND_ORDERS,
                FILTER,
                CursorError::WrongLength {
                    expected: TOKEN_LEN,
                    actual: 1,
                },
            ),
            (
                String::new(),
                KIND_ORDERS,
                FILTER,
                CursorError::WrongLength {
                    expected: TOKEN_LEN,
                    actual: 0,
                },
            ),
            (
                {
                    let mut longer = raw.clone();
                    longer.push(0);
                    URL_SAFE_NO_PAD.encode(&longer)
                },
                KIND_ORDERS,
                FILTER,
                CursorError::WrongLength {
                    expected: TOKEN_LEN,
                    actual: TOKEN_LEN + 1,
                },
            ),
            (
                encode(&OTHER_SECRET, KIND_ORDERS, FILTER, 12345),
                KIND_ORDERS,
                FILTER,
                CursorError::BadSignature,
            ),
            (
                good.clone(),
                KIND_ORDERS,
                r#"{"customer_id":"cus_2","status":"pending"}"#,
                CursorError::FilterMismatch,
            ),
            (good.clone(), KIND_ORDERS, "", CursorError::FilterMismatch),
            (good.clone(), KIND_PRODUCTS, FILTER, CursorError::WrongKind),
            (
                encode_with_version(&SECRET, 2, KIND_ORDERS, FILTER, 12345),
                KIND_ORDERS,
                FILTER,
                CursorError::UnsupportedVersion { found: 2 },
            ),
            (
                format!("{good}="),
                KIND_ORDERS,
                FILTER,
                CursorError::NotBase64,
            ),
            (
                format!("+{}", &good[1..]),
                KIND_ORDERS,
                FILTER,
                CursorError::NotBase64,
            ),
            (
                "not a cursor!".to_owned(),
                KIND_ORDERS,
                FILTER,
                CursorError::NotBase64,
            ),
            ("A".repeat(513), KIND_ORDERS, FILTER, CursorError::TooLong),
        ];
        for (token, kind, filter, expected) in cases {
            check_rejected(&token, kind, filter, expected);
        }
    }

    #[test]
    fn messages_say_which_failure() {
        let messages: Vec<String> = [
            CursorError::NotBase64,
            CursorError::TooLong,
            CursorError::WrongLength {
                expected: 65,
                actual: 3,
            },
            CursorError::UnsupportedVersion { found: 9 },
            CursorError::BadSignature,
            CursorError::WrongKind,
            CursorError::FilterMismatch,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        for (i, a) in messages.iter().enumerate() {
            for b in &messages[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(messages[3].contains("version 9"));
        assert!(messages[6].contains("filters"));
    }
}
