//! API keys: issue, authenticate, revoke, and the first admin key.
//!
//! A secret is `of_sk_` plus 32 hex characters (128 bits from
//! [`super::IdSource::secret_bytes`]). Only its SHA-256 is stored: a plain
//! fast hash is enough because the secret is random and long, so there is
//! nothing to brute-force that a slow password hash would protect. The
//! secret is returned once, at creation, and never again.
//!
//! This module deliberately does not decide who may issue or revoke keys
//! (admin-only is the caller's rule, as is "an admin cannot revoke the key
//! it is using"), does not log or format secrets anywhere, and does not
//! expire keys by time.

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};

use super::audit::{Action, Actor, Change};
use super::customers::customer_exists;
use super::{FieldIssue, Result, Store, StoreError, opt_ts_from_row, ts_from_row, ts_to_sql};

pub(crate) const SECRET_PREFIX: &str = "of_sk_";
/// Secrets are far shorter than this; the cap only stops a client from
/// making the server hash megabytes per request.
const MAX_PRESENTED_SECRET_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Customer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }
}

impl ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Role::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown role '{text}'").into()))
    }
}

/// A key's record. It holds no secret and no hash, so it is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub customer_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a request is, once its key checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub role: Role,
    /// Set exactly for customer keys.
    pub customer_id: Option<String>,
}

/// Could `secret` be one of ours? Anything else is refused unhashed.
pub(crate) fn presentable(secret: &str) -> bool {
    secret.starts_with(SECRET_PREFIX) && secret.len() <= MAX_PRESENTED_SECRET_LEN
}

pub(crate) fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        customer_id: row.get(3)?,
        created_at: ts_from_row(row, 4)?,
        revoked_at: opt_ts_from_row(row, 5)?,
    })
}

fn load(tx: &Connection, id: &str) -> Result<ApiKey> {
    tx.prepare_cached(
        "SELECT id, name, role, customer_id, created_at, revoked_at FROM api_keys WHERE id = ?1",
    )?
    .query_row([id], from_row)
    .optional()?
    .ok_or_else(|| StoreError::NotFound {
        what: "API key",
        id: id.to_owned(),
    })
}

/// The rules of a new key that do not need the database.
pub(crate) fn check_new_key(role: Role, customer_id: Option<&str>, name: &str) -> Result<()> {
    let mut issues = Vec::new();
    if name.trim().is_empty() {
        issues.push(FieldIssue::new("#/name", "must not be empty"));
    }
    match (role, customer_id) {
        (Role::Admin, Some(_)) => issues.push(FieldIssue::new(
            "#/customer_id",
            "an admin key does not belong to a customer",
        )),
        (Role::Customer, None) => issues.push(FieldIssue::new(
            "#/customer_id",
            "a customer key needs a customer",
        )),
        _ => {}
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(issues))
    }
}

impl Store {
    /// Issues a key and returns its record and its secret. The secret is
    /// not stored and cannot be recovered later. A customer key needs an
    /// existing customer (NotFound otherwise); an admin key takes none.
    pub fn create_key(
        &self,
        actor: &Actor,
        role: Role,
        customer_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)> {
        check_new_key(role, customer_id, name)?;
        self.write(|tx| {
            let (key, secret) = self.insert_key(tx, role, customer_id, name)?;
            self.audit(
                tx,
                actor,
                Action {
                    action: "api_key.created",
                    resource_type: "api_key",
                    resource_id: &key.id,
                    changes: vec![
                        Change::set("name", key.name.clone()),
                        Change::set("role", role_name(key.role)),
                        Change::set("customer_id", key.customer_id.clone()),
                    ],
                },
            )?;
            Ok((key, secret))
        })
    }

    fn insert_key(
        &self,
        tx: &Connection,
        role: Role,
        customer_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)> {
        if let Some(customer_id) = customer_id
            && !customer_exists(tx, customer_id)?
        {
            return Err(StoreError::NotFound {
                what: "customer",
                id: customer_id.to_owned(),
            });
        }
        let bytes = self.ids.secret_bytes();
        let secret = format!("{SECRET_PREFIX}{}", hex::encode(&bytes[..16]));
        let now = self.now();
        let key = ApiKey {
            id: self.ids.new_id("key"),
            name: name.to_owned(),
            role,
            customer_id: customer_id.map(str::to_owned),
            created_at: now,
            revoked_at: None,
        };
        tx.prepare_cached(
            "INSERT INTO api_keys (id, name, role, customer_id, secret_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            key.id,
            key.name,
            key.role,
            key.customer_id,
            &hash_secret(&secret)[..],
            ts_to_sql(&now)
        ])?;
        Ok((key, secret))
    }

    /// The principal behind a presented secret, or `None` when it is not a
    /// live key (unknown, malformed or revoked). The look-up is by hash, so
    /// its timing says nothing about how close a guess was. A live key is
    /// remembered (see [`super::principals`]), so the next request with it
    /// can be answered by [`Store::cached_principal`] without a database
    /// trip.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        if !presentable(secret) {
            return Ok(None);
        }
        let hash = hash_secret(secret);
        if let Some(p) = self.principals.get(&hash, self.now()) {
            return Ok(Some(p));
        }
        let epoch = self.principals.epoch();
        let found = self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT id, role, customer_id FROM api_keys \
                     WHERE secret_hash = ?1 AND revoked_at IS NULL",
                )?
                .query_row([&hash[..]], |r| {
                    Ok(Principal {
                        key_id: r.get(0)?,
                        role: r.get(1)?,
                        customer_id: r.get(2)?,
                    })
                })
                .optional()?)
        })?;
        if let Some(p) = &found {
            self.principals.fill(epoch, hash, p.clone(), self.now());
        }
        Ok(found)
    }

    /// The principal for `secret` if this process authenticated it within
    /// [`super::PRINCIPAL_TTL`] and has not seen it revoked since. No I/O:
    /// callers try this on the executor and go to [`Store::authenticate`]
    /// (a blocking trip) only on a miss.
    pub fn cached_principal(&self, secret: &str) -> Option<Principal> {
        if !presentable(secret) {
            return None;
        }
        self.principals.get(&hash_secret(secret), self.now())
    }

    pub fn get_key(&self, id: &str) -> Result<ApiKey> {
        self.read(|tx| load(tx, id))
    }

    /// Revokes a key. Revoking twice is not an error and keeps the first
    /// revocation time, so a retried request gets the same answer.
    ///
    /// The key stops working on this process as soon as this returns: its
    /// cached principal is dropped after the write. (Revocation is never
    /// part of a claimed unit of work, whose commit comes later.)
    pub fn revoke_key(&self, actor: &Actor, id: &str) -> Result<ApiKey> {
        let now = self.now();
        let revoked = self.write(|tx| {
            let mut key = load(tx, id)?;
            let mut changes = Vec::new();
            if key.revoked_at.is_none() {
                tx.prepare_cached("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1")?
                    .execute(params![id, ts_to_sql(&now)])?;
                key.revoked_at = Some(now);
                changes.push(Change::new("revoked", false, true));
            }
            self.audit(
                tx,
                actor,
                Action {
                    action: "api_key.revoked",
                    resource_type: "api_key",
                    resource_id: id,
                    changes,
                },
            )?;
            Ok(key)
        });
        // Also on failure: dropping a cache entry is always safe.
        self.principals.invalidate_key(id);
        revoked
    }

    /// On a fresh installation (no keys at all, revoked ones included),
    /// creates an admin key and returns its secret, so the operator can get
    /// in; otherwise `None`. The check and the insert share one write
    /// transaction, so two processes starting together make one key.
    pub fn bootstrap_admin_key(&self) -> Result<Option<String>> {
        self.write(|tx| {
            let any: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM api_keys)", [], |r| r.get(0))?;
            if any {
                return Ok(None);
            }
            let (_, secret) = self.insert_key(tx, Role::Admin, None, "bootstrap admin")?;
            Ok(Some(secret))
        })
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Customer => "customer",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn bootstrap_happens_once() {
        let t = TestStore::new();
        let secret = t
            .store
            .bootstrap_admin_key()
            .expect("bootstrap")
            .expect("first");
        assert!(secret.starts_with("of_sk_"));
        assert_eq!(secret.len(), "of_sk_".len() + 32);
        assert!(
            secret["of_sk_".len()..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(t.store.bootstrap_admin_key().expect("second"), None);
        // Not even after a restart, and not after the key is revoked.
        let reopened = t.reopen();
        assert_eq!(reopened.bootstrap_admin_key().expect("after reopen"), None);
        let principal = t.store.authenticate(&secret).expect("auth").expect("live");
        assert_eq!(principal.role, Role::Admin);
        assert_eq!(principal.customer_id, None);
        t.store
            .revoke_key(&op(), &principal.key_id)
            .expect("revoke");
        assert_eq!(t.store.bootstrap_admin_key().expect("after revoke"), None);
        assert_eq!(t.count("api_keys"), 1);
    }

    #[test]
    fn a_cached_key_revoked_here_stops_working_at_once() {
        let t = TestStore::new();
        let (key, secret) = t
            .store
            .create_key(&op(), Role::Admin, None, "ops")
            .expect("key");
        assert_eq!(
            t.store.cached_principal(&secret),
            None,
            "nothing cached yet"
        );
        assert!(t.store.authenticate(&secret).expect("auth").is_some());
        assert_eq!(
            t.store.cached_principal(&secret).map(|p| p.key_id),
            Some(key.id.clone()),
            "a live key is remembered"
        );
        t.store.revoke_key(&op(), &key.id).expect("revoke");
        assert_eq!(t.store.cached_principal(&secret), None);
        assert_eq!(t.store.authenticate(&secret).expect("auth"), None);
    }

    #[test]
    fn a_key_revoked_by_another_process_stops_working_within_the_ttl() {
        let t = TestStore::new();
        let (key, secret) = t
            .store
            .create_key(&op(), Role::Admin, None, "ops")
            .expect("key");
        assert!(t.store.authenticate(&secret).expect("auth").is_some());
        // Another process (its own connection) revokes the key.
        let other = rusqlite::Connection::open(&t.path).expect("second connection");
        other
            .execute(
                "UPDATE api_keys SET revoked_at = '2026-11-21T10:00:00.000000Z' WHERE id = ?1",
                [&key.id],
            )
            .expect("revoke elsewhere");
        // This process does not know yet: it trusts its entry for the TTL...
        let almost = super::super::PRINCIPAL_TTL - chrono::Duration::milliseconds(1);
        t.clock.advance(almost);
        assert!(t.store.authenticate(&secret).expect("auth").is_some());
        // ...and no longer.
        t.clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(t.store.cached_principal(&secret), None);
        assert_eq!(t.store.authenticate(&secret).expect("auth"), None);
    }

    #[test]
    fn unknown_secrets_are_never_cached() {
        let t = TestStore::new();
        let guess = format!("of_sk_{}", "ab".repeat(16));
        assert_eq!(t.store.authenticate(&guess).expect("auth"), None);
        assert_eq!(t.store.cached_principal(&guess), None);
    }

    #[test]
    fn authenticate_and_revoke() {
        let t = TestStore::new();
        let ada = t.customer("Ada", "ada@example.com");
        let (key, secret) = t
            .store
            .create_key(&op(), Role::Customer, Some(&ada.id), "storefront")
            .expect("key");
        assert_eq!(key.customer_id.as_deref(), Some(ada.id.as_str()));
        assert_eq!(
            t.store.authenticate(&secret).expect("auth"),
            Some(Principal {
                key_id: key.id.clone(),
                role: Role::Customer,
                customer_id: Some(ada.id.clone()),
            })
        );

        // Near misses and junk are simply not keys.
        let mut wrong_last = secret.clone();
        let last = wrong_last.pop().expect("non-empty");
        wrong_last.push(if last == '0' { '1' } else { '0' });
        let too_long = format!("{secret}{}", "0".repeat(500));
        for presented in [
            "",
            "of_sk_",
            wrong_last.as_str(),
            &secret[..secret.len() - 1],
            &secret["of_sk_".len()..],
            &secret.to_uppercase(),
            too_long.as_str(),
            "of_sk_' OR 1=1 --",
        ] {
            assert_eq!(
                t.store.authenticate(presented).expect("auth"),
                None,
                "{presented}"
            );
        }

        t.clock.advance(chrono::Duration::minutes(1));
        let revoked = t.store.revoke_key(&op(), &key.id).expect("revoke");
        assert_eq!(revoked.revoked_at, Some(t.clock_now()));
        assert_eq!(t.store.authenticate(&secret).expect("auth"), None);
        // Revoking again keeps the first time.
        t.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(t.store.revoke_key(&op(), &key.id).expect("again"), revoked);
        assert_eq!(t.store.get_key(&key.id).expect("get"), revoked);
        assert!(matches!(
            t.store.revoke_key(&op(), "key_nope"),
            Err(StoreError::NotFound {
                what: "API key",
                ..
            })
        ));
    }

    #[test]
    fn key_ownership_rules() {
        let t = TestStore::new();
        let ada = t.customer("Ada", "ada@example.com");
        type Case<'a> = (Role, Option<&'a str>, &'a str, Result<(), StoreError>);
        let cases: Vec<Case<'_>> = vec![
            (Role::Admin, None, "ops", Ok(())),
            (Role::Customer, Some(ada.id.as_str()), "shop", Ok(())),
            (
                Role::Admin,
                Some(ada.id.as_str()),
                "ops",
                Err(StoreError::Invalid(vec![FieldIssue::new(
                    "#/customer_id",
                    "an admin key does not belong to a customer",
                )])),
            ),
            (
                Role::Customer,
                None,
                "",
                Err(StoreError::Invalid(vec![
                    FieldIssue::new("#/name", "must not be empty"),
                    FieldIssue::new("#/customer_id", "a customer key needs a customer"),
                ])),
            ),
            (
                Role::Customer,
                Some("cus_nope"),
                "shop",
                Err(StoreError::NotFound {
                    what: "customer",
                    id: "cus_nope".to_owned(),
                }),
            ),
        ];
        for (role, customer, name, expected) in cases {
            let got = t.store.create_key(&op(), role, customer, name).map(|_| ());
            assert_eq!(got, expected, "{role:?} {customer:?} {name:?}");
        }
        assert_eq!(t.count("api_keys"), 2);
    }

    #[test]
    fn only_hashes_are_stored() {
        let t = TestStore::new();
        let ada = t.customer("Ada", "ada@example.com");
        let mut secrets = vec![t.store.bootstrap_admin_key().expect("boot").expect("first")];
        let (_, s) = t
            .store
            .create_key(&op(), Role::Customer, Some(&ada.id), "shop")
            .expect("key");
        secrets.push(s);

        // The table holds each secret's SHA-256 and no column of any row
        // (whatever columns a later migration adds) contains a secret.
        {
            let conn = t.store.writer_for_tests();
            let mut stmt = conn.prepare("SELECT * FROM api_keys").expect("prepare");
            let columns = stmt.column_count();
            let hash_column = stmt.column_index("secret_hash").expect("hash column");
            let rows: Vec<Vec<rusqlite::types::Value>> = stmt
                .query_map([], |r| (0..columns).map(|i| r.get(i)).collect())
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            assert_eq!(rows.len(), 2);
            for secret in &secrets {
                let hash = rusqlite::types::Value::Blob(hash_secret(secret).to_vec());
                assert!(rows.iter().any(|r| r[hash_column] == hash), "hash stored");
                let hex_part = &secret["of_sk_".len()..];
                for value in rows.iter().flatten() {
                    let text = match value {
                        rusqlite::types::Value::Text(s) => s.clone(),
                        rusqlite::types::Value::Blob(b) => hex::encode(b),
                        other => format!("{other:?}"),
                    };
                    assert!(!text.contains(hex_part), "a column holds the secret");
                }
            }
        }

        // Nor do the files on disk (database, WAL, shared memory), in text
        // or as the raw bytes the hex encodes.
        let mut files = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut name = t.path.clone().into_os_string();
            name.push(suffix);
            if let Ok(bytes) = std::fs::read(&name) {
                files.push(bytes);
            }
        }
        assert!(!files.is_empty());
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        for secret in &secrets {
            let hex_part = &secret["of_sk_".len()..];
            let raw = hex::decode(hex_part).expect("hex");
            for bytes in &files {
                assert!(!contains(bytes, hex_part.as_bytes()), "secret text on disk");
                assert!(!contains(bytes, &raw), "secret bytes on disk");
            }
        }
        // The check above must be able to fail: the hashes are on disk.
        let hash = hash_secret(&secrets[0]);
        assert!(files.iter().any(|bytes| contains(bytes, &hash)));
    }
}
