//! One storage suite, run against both backends: every test here runs on
//! the SQLite store and on the PostgreSQL store (a scratch database on the
//! server named by `ORDERFLOW_TEST_POSTGRES`; missing, the tests fail with
//! instructions, see `common`). Each test drives the storage port
//! (`dyn Storage`, what the server sees), so the backends are held to the
//! same behaviour; the SQLite store's own unit tests go
//! deeper into its internals.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use orderflow_server::pg::store::PgStore;
use orderflow_server::store::{
    Actor, AuditFilter, AuditLog, CustomerPatch, CustomerStore, KeyStore, ManualClock, Money,
    NewProduct, PageRequest, ProductFilter, ProductPatch, RandomIds, RecordStore, Role, Storage,
    Store, StoreError, Unit,
};
use orderflow_server::store::{
    AttemptOutcome, Begin, DeliveryState, IdempotencyKey, OrderFilter, OrderStatus, StoredResponse,
};

mod common;
use common::Scratch;

/// A backend's store and what must outlive it.
struct Backend {
    name: &'static str,
    store: Box<dyn Storage>,
    clock: Arc<ManualClock>,
    _keep: Box<dyn std::any::Any>,
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("time"),
    ))
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = clock();
    let store = Store::open(
        &dir.path().join("storage.db"),
        clock.clone(),
        Arc::new(RandomIds),
    )
    .expect("open SQLite");
    Backend {
        name: "sqlite",
        store: Box::new(store),
        clock,
        _keep: Box::new(dir),
    }
}

/// A runtime and a scratch database on the test server; stores opened on
/// it are replicas of one database. The test thread stays outside the
/// runtime, like the server's blocking pool.
struct PgDatabase {
    scratch: Scratch,
    rt: tokio::runtime::Runtime,
}

impl PgDatabase {
    fn new() -> PgDatabase {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let scratch = rt.block_on(Scratch::new());
        PgDatabase { scratch, rt }
    }

    /// One more replica's store on the database.
    fn store(&self, clock: Arc<ManualClock>) -> PgStore {
        self.rt
            .block_on(PgStore::open(
                orderflow_server::pg::Pg::connect(&self.scratch.url, 4).expect("pool"),
                self.rt.handle().clone(),
                clock,
                Arc::new(RandomIds),
            ))
            .expect("open PostgreSQL")
    }
}

fn postgres() -> Backend {
    let db = PgDatabase::new();
    let clock = clock();
    Backend {
        name: "postgres",
        store: Box::new(db.store(clock.clone())),
        clock,
        _keep: Box::new(db),
    }
}

/// Runs `test` on each backend, naming the backend in any failure.
fn on_both(test: impl Fn(&Backend)) {
    for make in [sqlite as fn() -> Backend, postgres] {
        let backend = make();
        let name = backend.name;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&backend)));
        drop(backend);
        if let Err(panic) = outcome {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("on {name}: {msg}");
        }
    }
}

fn admin() -> Actor {
    Actor {
        key_id: "key_admin".into(),
        admin: true,
        operation: "test".into(),
        request_id: "req_1".into(),
    }
}

fn customer_actor() -> Actor {
    Actor {
        admin: false,
        ..admin()
    }
}

#[test]
fn customers_round_trip_and_page_newest_first() {
    on_both(|b| {
        let s = &b.store;
        let mut made = Vec::new();
        for i in 0..5 {
            b.clock.advance(Duration::seconds(1));
            made.push(
                s.create_customer(&admin(), &format!("C{i}"), &format!("c{i}@example.com"))
                    .expect("create"),
            );
        }
        for c in &made {
            assert_eq!(&s.get_customer(&c.id).expect("get"), c);
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_customers(PageRequest { limit: 2, after })
                .expect("page");
            assert!(page.rows.len() <= 2);
            seen.extend(page.rows.into_iter().map(|c| c.id));
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let newest_first: Vec<String> = made.iter().rev().map(|c| c.id.clone()).collect();
        assert_eq!(seen, newest_first);
        assert!(matches!(
            s.get_customer("cus_missing"),
            Err(StoreError::NotFound {
                what: "customer",
                ..
            })
        ));
        assert!(matches!(
            s.list_customers(PageRequest {
                limit: 0,
                after: None
            }),
            Err(StoreError::Invalid(_))
        ));
    });
}

#[test]
fn emails_are_unique_whatever_their_case() {
    on_both(|b| {
        let s = &b.store;
        let ada = s
            .create_customer(&admin(), "Ada", "Ada@Example.com")
            .expect("ada");
        let dup = s.create_customer(&admin(), "Other", "ada@example.COM");
        assert!(
            matches!(
                &dup,
                Err(StoreError::Conflict {
                    code: "duplicate_email",
                    ..
                })
            ),
            "{dup:?}"
        );
        let bob = s
            .create_customer(&admin(), "Bob", "bob@example.com")
            .expect("bob");
        let taken = s.update_customer_if(
            &admin(),
            &bob.id,
            &CustomerPatch {
                email: Some("ADA@example.com".into()),
                ..Default::default()
            },
            None,
        );
        assert!(
            matches!(
                &taken,
                Err(StoreError::Conflict {
                    code: "duplicate_email",
                    ..
                })
            ),
            "{taken:?}"
        );
        assert_eq!(
            s.get_customer(&bob.id).expect("bob"),
            bob,
            "nothing changed"
        );
        // Changing one's own address's case is not a conflict.
        let own = s
            .update_customer_if(
                &admin(),
                &ada.id,
                &CustomerPatch {
                    email: Some("ada@example.com".into()),
                    ..Default::default()
                },
                None,
            )
            .expect("own address");
        assert_eq!(own.email, "ada@example.com");
        let bad = s.create_customer(&admin(), " ", "not-an-address");
        match bad {
            Err(StoreError::Invalid(issues)) => {
                let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
                assert_eq!(pointers, ["#/name", "#/email"]);
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    });
}

#[test]
fn a_conditional_update_writes_only_at_the_named_version() {
    on_both(|b| {
        let s = &b.store;
        let c = s
            .create_customer(&admin(), "Ada", "ada@example.com")
            .expect("create");
        assert_eq!(c.version, 1);
        let rename = CustomerPatch {
            name: Some("Ada L.".into()),
            ..Default::default()
        };
        let stale = s.update_customer_if(&admin(), &c.id, &rename, Some(&[7]));
        assert!(
            matches!(&stale, Err(StoreError::Stale { current: 1, .. })),
            "{stale:?}"
        );
        assert_eq!(s.get_customer(&c.id).expect("get"), c);
        b.clock.advance(Duration::seconds(3));
        let renamed = s
            .update_customer_if(&admin(), &c.id, &rename, Some(&[1]))
            .expect("at version 1");
        assert_eq!(renamed.version, 2);
        assert_eq!(renamed.name, "Ada L.");
        assert_eq!(renamed.updated_at, c.updated_at + Duration::seconds(3));
        assert_eq!(s.get_customer(&c.id).expect("get"), renamed);
        // Nothing to change: returned as is, version kept.
        let same = s
            .update_customer_if(&admin(), &c.id, &CustomerPatch::default(), None)
            .expect("empty patch");
        assert_eq!(same, renamed);
    });
}

#[test]
fn keys_authenticate_until_revoked() {
    on_both(|b| {
        let s = &b.store;
        let first = s.bootstrap_admin_key().expect("bootstrap").expect("first");
        assert!(s.bootstrap_admin_key().expect("again").is_none());
        let boot = s.authenticate(&first).expect("auth").expect("live");
        assert_eq!(boot.role, Role::Admin);

        let missing = s.create_key(&admin(), Role::Customer, Some("cus_missing"), "k");
        assert!(
            matches!(
                &missing,
                Err(StoreError::NotFound {
                    what: "customer",
                    ..
                })
            ),
            "{missing:?}"
        );
        let invalid = s.create_key(&admin(), Role::Admin, Some("cus_x"), "k");
        assert!(matches!(invalid, Err(StoreError::Invalid(_))));

        let c = s
            .create_customer(&admin(), "Ada", "ada@example.com")
            .expect("customer");
        let (key, secret) = s
            .create_key(&admin(), Role::Customer, Some(&c.id), "ada's key")
            .expect("key");
        let p = s.authenticate(&secret).expect("auth").expect("live");
        assert_eq!(p.key_id, key.id);
        assert_eq!(p.customer_id.as_deref(), Some(c.id.as_str()));
        assert_eq!(s.cached_principal(&secret), Some(p));
        assert_eq!(s.get_key(&key.id).expect("get"), key);
        assert!(s.authenticate("of_sk_0000").expect("auth").is_none());
        assert!(s.authenticate("not a key").expect("auth").is_none());

        let revoked = s.revoke_key(&admin(), &key.id).expect("revoke");
        assert_eq!(revoked.revoked_at, Some(s.now()));
        assert!(s.cached_principal(&secret).is_none(), "dropped at once");
        assert!(s.authenticate(&secret).expect("auth").is_none());
        b.clock.advance(Duration::seconds(10));
        let again = s.revoke_key(&admin(), &key.id).expect("twice");
        assert_eq!(again.revoked_at, revoked.revoked_at, "first time kept");
        assert!(matches!(
            s.get_key("key_missing"),
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[test]
fn admin_writes_are_audited_with_their_changes_and_failures_leave_nothing() {
    on_both(|b| {
        let s = &b.store;
        let all = || {
            s.list_audit_events(&AuditFilter::default(), PageRequest::first(100))
                .expect("audit")
                .rows
        };
        let c = s
            .create_customer(&admin(), "Ada", "ada@example.com")
            .expect("create");
        s.create_customer(&customer_actor(), "Bob", "bob@example.com")
            .expect("not audited");
        let _ = s.create_customer(&admin(), "Dup", "ADA@example.com");
        s.update_customer_if(
            &admin(),
            &c.id,
            &CustomerPatch {
                name: Some("Ada L.".into()),
                ..Default::default()
            },
            None,
        )
        .expect("rename");
        let events = all();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["customer.updated", "customer.created"]);
        let update = &events[0];
        assert_eq!(update.resource_id, c.id);
        assert_eq!(update.actor, "key_admin");
        assert_eq!(update.request_id, "req_1");
        assert_eq!(update.changes.len(), 1);
        assert_eq!(update.changes[0].field, "name");
        assert_eq!(update.changes[0].before, "Ada");
        assert_eq!(update.changes[0].after, "Ada L.");

        let other = s
            .create_customer(&admin(), "Cy", "cy@example.com")
            .expect("cy");
        let of_ada = s
            .list_audit_events(
                &AuditFilter {
                    resource_id: Some(c.id.clone()),
                    actor: None,
                },
                PageRequest::first(100),
            )
            .expect("filtered");
        assert_eq!(of_ada.rows.len(), 2);
        assert!(of_ada.rows.iter().all(|e| e.resource_id == c.id));
        let by_nobody = s
            .list_audit_events(
                &AuditFilter {
                    resource_id: Some(other.id),
                    actor: Some("key_other".into()),
                },
                PageRequest::first(100),
            )
            .expect("filtered");
        assert!(by_nobody.rows.is_empty());
    });
}

fn mug(sku: &str, active: bool) -> NewProduct {
    NewProduct {
        sku: sku.into(),
        name: "Enamel mug".into(),
        price: Money {
            amount_minor: 1250,
            currency: "EUR".into(),
        },
        active,
    }
}

#[test]
fn products_are_unique_by_sku_and_listed_by_activity() {
    on_both(|b| {
        let s = &b.store;
        let mut made = Vec::new();
        for i in 0..6 {
            made.push(
                s.create_product(&admin(), &mug(&format!("MUG-{i}"), i % 2 == 0))
                    .expect("create"),
            );
        }
        assert_eq!(s.get_product(&made[3].id).expect("get"), made[3]);
        let dup = s.create_product(&admin(), &mug("MUG-1", true));
        assert!(
            matches!(
                &dup,
                Err(StoreError::Conflict {
                    code: "duplicate_sku",
                    ..
                })
            ),
            "{dup:?}"
        );
        let mut bad = mug("", true);
        bad.price = Money {
            amount_minor: -1,
            currency: "eur".into(),
        };
        match s.create_product(&admin(), &bad) {
            Err(StoreError::Invalid(issues)) => {
                let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
                assert_eq!(
                    pointers,
                    ["#/sku", "#/price/amount_minor", "#/price/currency"]
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        let mut active = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_products(
                    ProductFilter { active: Some(true) },
                    PageRequest { limit: 2, after },
                )
                .expect("page");
            active.extend(page.rows.into_iter().map(|p| p.sku));
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(active, ["MUG-4", "MUG-2", "MUG-0"]);
        let all = s
            .list_products(ProductFilter::default(), PageRequest::first(100))
            .expect("all");
        assert_eq!(all.rows.len(), 6);
        assert!(all.next_after.is_none());
    });
}

#[test]
fn a_product_update_moves_its_version_and_is_audited_field_by_field() {
    on_both(|b| {
        let s = &b.store;
        let p = s
            .create_product(&admin(), &mug("MUG-1", true))
            .expect("create");
        let patch = ProductPatch {
            price: Some(Money {
                amount_minor: 1500,
                currency: "EUR".into(),
            }),
            active: Some(false),
            ..Default::default()
        };
        let stale = s.update_product_if(&admin(), &p.id, &patch, Some(&[2]));
        assert!(matches!(stale, Err(StoreError::Stale { current: 1, .. })));
        assert_eq!(s.get_product(&p.id).expect("get"), p, "nothing written");
        let updated = s
            .update_product_if(&admin(), &p.id, &patch, Some(&[1]))
            .expect("update");
        assert_eq!(
            (updated.price_minor, updated.active, updated.version),
            (1500, false, 2)
        );
        assert_eq!(s.get_product(&p.id).expect("get"), updated);
        let events = s
            .list_audit_events(
                &AuditFilter {
                    resource_id: Some(p.id.clone()),
                    actor: None,
                },
                PageRequest::first(10),
            )
            .expect("audit");
        let fields: Vec<&str> = events.rows[0].changes.iter().map(|c| c.field).collect();
        assert_eq!(events.rows[0].action, "product.updated");
        assert_eq!(fields, ["price_minor", "active"]);
        assert_eq!(events.rows[1].action, "product.created");
        assert!(matches!(
            s.get_product("prd_missing"),
            Err(StoreError::NotFound {
                what: "product",
                ..
            })
        ));
    });
}

#[test]
fn the_cursor_secret_is_made_once_and_kept() {
    on_both(|b| {
        let first = b.store.cursor_secret().expect("secret");
        assert_eq!(b.store.cursor_secret().expect("again"), first);
        assert_ne!(first, [0u8; 32]);
        b.store.ping().expect("ping");
    });
}

/// Two replicas on one database: PostgreSQL only, since replicas share
/// nothing else.
#[test]
fn replicas_make_one_bootstrap_key_and_one_customer_per_address() {
    let db = PgDatabase::new();
    let open = || db.store(clock());
    let (a, b) = (Arc::new(open()), Arc::new(open()));
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || {
                let key = s.bootstrap_admin_key().expect("bootstrap");
                let customer = s.create_customer(&admin(), "Ada", "ada@example.com");
                (key, customer)
            })
        })
        .collect();
    let results: Vec<_> = racers
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let keys = results.iter().filter(|(k, _)| k.is_some()).count();
    assert_eq!(keys, 1, "exactly one bootstrap key");
    let created = results.iter().filter(|(_, c)| c.is_ok()).count();
    assert_eq!(created, 1, "exactly one customer for the address");
    for (_, c) in &results {
        if let Err(e) = c {
            assert!(
                matches!(
                    e,
                    StoreError::Conflict {
                        code: "duplicate_email",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }
    let listed = b.list_customers(PageRequest::first(10)).expect("list");
    assert_eq!(listed.rows.len(), 1);
}

const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
const RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn key<'a>(k: &'a str, fingerprint: &'a str) -> IdempotencyKey<'a> {
    IdempotencyKey {
        principal: "key_admin",
        key: k,
        fingerprint,
    }
}

fn response(body: &str) -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/v1/customers/x".into())],
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn an_idempotency_key_is_claimed_once_then_replayed() {
    on_both(|b| {
        let s = &b.store;
        let k = key("k-1", "fp-a");
        assert_eq!(
            s.idempotency_begin(&k, LEASE, RETENTION).expect("begin"),
            Begin::Claimed
        );
        assert_eq!(
            s.idempotency_begin(&k, LEASE, RETENTION).expect("again"),
            Begin::InFlight
        );
        assert_eq!(
            s.idempotency_begin(&key("k-1", "fp-b"), LEASE, RETENTION)
                .expect("other body"),
            Begin::Mismatch
        );
        s.idempotency_finish(&k, &response("{\"id\":1}"))
            .expect("finish");
        assert_eq!(
            s.idempotency_begin(&k, LEASE, RETENTION).expect("replay"),
            Begin::Replay(response("{\"id\":1}"))
        );
        let released = key("k-2", "fp-a");
        assert_eq!(
            s.idempotency_begin(&released, LEASE, RETENTION)
                .expect("begin"),
            Begin::Claimed
        );
        s.idempotency_release(&released).expect("release");
        assert_eq!(
            s.idempotency_begin(&released, LEASE, RETENTION)
                .expect("again"),
            Begin::Claimed
        );
        b.clock.advance(Duration::hours(25));
        assert!(s.purge_idempotency().expect("purge") >= 2);
        assert_eq!(
            s.idempotency_begin(&k, LEASE, RETENTION)
                .expect("after purge"),
            Begin::Claimed
        );
    });
}

/// Units of work on PostgreSQL (the SQLite store's have their own unit
/// tests): a call's writes and its record commit together, or neither.
#[test]
fn a_unit_commits_its_writes_with_the_record_or_leaves_nothing() {
    let db = PgDatabase::new();
    let open = || db.store(clock());
    let (s, other) = (open(), open());

    // Committed: the customer and the record, together.
    let k = key("unit-1", "fp");
    assert_eq!(
        s.idempotency_begin(&k, LEASE, RETENTION).expect("claim"),
        Begin::Claimed
    );
    let mut unit = Unit::default();
    let made = s.in_unit(&mut unit, |s| {
        let c = s
            .create_customer(&admin(), "Ada", "ada@example.com")
            .expect("create in unit");
        // The unit sees its own write; another replica does not yet.
        assert_eq!(s.get_customer(&c.id).expect("own write"), c);
        c
    });
    assert!(unit.began());
    assert!(matches!(
        other.get_customer(&made.id),
        Err(StoreError::NotFound { .. })
    ));
    s.commit_unit(unit, &k, &response("ada")).expect("commit");
    assert_eq!(other.get_customer(&made.id).expect("committed"), made);
    assert_eq!(
        other
            .idempotency_begin(&k, LEASE, RETENTION)
            .expect("replay"),
        Begin::Replay(response("ada"))
    );

    // Dropped: neither the customer nor the audit event is kept, and the
    // claim is still in flight (the edge releases or records it).
    let k2 = key("unit-2", "fp");
    assert_eq!(
        s.idempotency_begin(&k2, LEASE, RETENTION).expect("claim"),
        Begin::Claimed
    );
    let before = s
        .list_audit_events(&AuditFilter::default(), PageRequest::first(100))
        .expect("audit")
        .rows
        .len();
    let mut unit = Unit::default();
    let dropped = s.in_unit(&mut unit, |s| {
        s.create_customer(&admin(), "Bob", "bob@example.com")
            .expect("create in unit")
    });
    drop(unit);
    assert!(matches!(
        other.get_customer(&dropped.id),
        Err(StoreError::NotFound { .. })
    ));
    let after = other
        .list_audit_events(&AuditFilter::default(), PageRequest::first(100))
        .expect("audit")
        .rows
        .len();
    assert_eq!(after, before, "no audit event of a dropped unit");
    assert_eq!(
        other
            .idempotency_begin(&k2, LEASE, RETENTION)
            .expect("in flight"),
        Begin::InFlight
    );
    // The address is free again: the dropped unit's insert is gone.
    other
        .create_customer(&admin(), "Bob", "bob@example.com")
        .expect("address free");

    // A failed call inside a unit undoes only its own writes.
    let k3 = key("unit-3", "fp");
    assert_eq!(
        s.idempotency_begin(&k3, LEASE, RETENTION).expect("claim"),
        Begin::Claimed
    );
    let mut unit = Unit::default();
    let cy = s.in_unit(&mut unit, |s| {
        let cy = s
            .create_customer(&admin(), "Cy", "cy@example.com")
            .expect("cy");
        let dup = s.create_customer(&admin(), "Ada again", "ADA@example.com");
        assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
        cy
    });
    s.commit_unit(unit, &k3, &response("cy"))
        .expect("commit after a failed call");
    assert_eq!(other.get_customer(&cy.id).expect("kept"), cy);
}

/// A customer and two active products (12.50 EUR and 3.00 EUR).
fn catalog(s: &dyn Storage) -> (String, String, String) {
    let c = s
        .create_customer(&admin(), "Ada", "ada@example.com")
        .expect("customer");
    let mug = s
        .create_product(&admin(), &mug("MUG-1", true))
        .expect("mug");
    let mut spoon = mug_like("SPOON-1");
    spoon.price.amount_minor = 300;
    let spoon = s.create_product(&admin(), &spoon).expect("spoon");
    (c.id, mug.id, spoon.id)
}

fn mug_like(sku: &str) -> NewProduct {
    mug(sku, true)
}

#[test]
fn an_order_is_priced_from_the_catalog_and_writes_its_outbox_event() {
    on_both(|b| {
        let s = &*b.store;
        let (customer, mug, spoon) = catalog(s);
        let order = s
            .create_order(&customer, &[(mug.clone(), 2), (spoon.clone(), 1)])
            .expect("order");
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.total_minor, 2 * 1250 + 300);
        assert_eq!(order.currency, "EUR");
        let lines: Vec<(u32, &str, u32, i64)> = order
            .items
            .iter()
            .map(|i| (i.line, i.sku.as_str(), i.quantity, i.line_total_minor))
            .collect();
        assert_eq!(lines, [(1, "MUG-1", 2, 2500), (2, "SPOON-1", 1, 300)]);
        assert_eq!(s.get_order(&order.id, None).expect("get"), order);
        assert_eq!(s.get_order(&order.id, Some(&customer)).expect("own"), order);
        assert!(matches!(
            s.get_order(&order.id, Some("cus_other")),
            Err(StoreError::NotFound { what: "order", .. })
        ));
        let events = s.order_events(&order.id).expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "order.created");
        let payload: serde_json::Value = serde_json::from_str(&events[0].payload).expect("json");
        assert_eq!(payload["data"]["order_id"], order.id.as_str());
        assert_eq!(payload["data"]["status"], "pending");
        assert_eq!(payload["id"], events[0].id.as_str());

        // An unknown product, an inactive one, an unknown customer: every
        // problem at once, and nothing written.
        let off = s
            .create_product(&admin(), &self::mug("OFF-1", false))
            .expect("inactive");
        let before = s
            .list_orders(&OrderFilter::default(), PageRequest::first(100))
            .expect("list")
            .rows
            .len();
        match s.create_order("cus_missing", &[("prd_missing".into(), 1), (off.id, 1)]) {
            Err(StoreError::Invalid(issues)) => assert!(issues.len() >= 3, "{issues:?}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        let after = s
            .list_orders(&OrderFilter::default(), PageRequest::first(100))
            .expect("list")
            .rows
            .len();
        assert_eq!(after, before);
    });
}

#[test]
fn orders_page_newest_first_with_their_lines_and_filters() {
    on_both(|b| {
        let s = &*b.store;
        let (ada, mug, spoon) = catalog(s);
        let bob = s
            .create_customer(&admin(), "Bob", "bob@example.com")
            .expect("bob")
            .id;
        let mut made = Vec::new();
        for i in 0..5 {
            let who = if i % 2 == 0 { &ada } else { &bob };
            made.push(
                s.create_order(who, &[(mug.clone(), i + 1), (spoon.clone(), 1)])
                    .expect("order"),
            );
        }
        s.transition_order_if(&admin(), &made[0].id, OrderStatus::Processing, None, None)
            .expect("processing");
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_orders(&OrderFilter::default(), PageRequest { limit: 2, after })
                .expect("page");
            for o in &page.rows {
                assert_eq!(o.items.len(), 2, "lines of {}", o.id);
                assert_eq!(o.items, s.get_order(&o.id, None).expect("get").items);
            }
            seen.extend(page.rows.into_iter().map(|o| o.id));
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let newest_first: Vec<String> = made.iter().rev().map(|o| o.id.clone()).collect();
        assert_eq!(seen, newest_first);
        let ids = |f: OrderFilter| -> Vec<String> {
            s.list_orders(&f, PageRequest::first(100))
                .expect("filtered")
                .rows
                .into_iter()
                .map(|o| o.id)
                .collect()
        };
        let of_ada = ids(OrderFilter {
            customer_id: Some(ada.clone()),
            status: None,
        });
        assert_eq!(
            of_ada,
            [made[4].id.clone(), made[2].id.clone(), made[0].id.clone()]
        );
        let processing = ids(OrderFilter {
            customer_id: None,
            status: Some(OrderStatus::Processing),
        });
        assert_eq!(processing, [made[0].id.clone()]);
        let bob_processing = ids(OrderFilter {
            customer_id: Some(bob),
            status: Some(OrderStatus::Processing),
        });
        assert!(bob_processing.is_empty());
        let lines = s
            .list_order_items(
                &made[1].id,
                None,
                PageRequest {
                    limit: 1,
                    after: None,
                },
            )
            .expect("lines");
        assert_eq!(lines.rows.len(), 1);
        assert_eq!(lines.rows[0].line, 1);
        let rest = s
            .list_order_items(
                &made[1].id,
                None,
                PageRequest {
                    limit: 5,
                    after: lines.next_after,
                },
            )
            .expect("rest");
        assert_eq!(rest.rows.iter().map(|i| i.line).collect::<Vec<_>>(), [2]);
        assert!(rest.next_after.is_none());
        assert!(matches!(
            s.list_order_items(&made[1].id, Some(&ada), PageRequest::first(5)),
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[test]
fn transitions_follow_the_lifecycle_and_record_event_and_audit() {
    on_both(|b| {
        let s = &*b.store;
        let (customer, mug, _) = catalog(s);
        let order = s.create_order(&customer, &[(mug, 1)]).expect("order");
        let illegal =
            s.transition_order_if(&admin(), &order.id, OrderStatus::Delivered, None, None);
        assert!(
            matches!(
                &illegal,
                Err(StoreError::Conflict {
                    code: "illegal_transition",
                    ..
                })
            ),
            "{illegal:?}"
        );
        let same = s.transition_order_if(&admin(), &order.id, OrderStatus::Pending, None, None);
        assert!(matches!(same, Err(StoreError::Conflict { .. })));
        let stale = s.transition_order_if(
            &admin(),
            &order.id,
            OrderStatus::Processing,
            None,
            Some(&[5]),
        );
        assert!(matches!(stale, Err(StoreError::Stale { current: 1, .. })));
        let hidden = s.transition_order_if(
            &admin(),
            &order.id,
            OrderStatus::Processing,
            Some("cus_other"),
            None,
        );
        assert!(matches!(hidden, Err(StoreError::NotFound { .. })));
        assert_eq!(s.get_order(&order.id, None).expect("unchanged"), order);

        b.clock.advance(Duration::seconds(2));
        let moved = s
            .transition_order_if(
                &admin(),
                &order.id,
                OrderStatus::Processing,
                None,
                Some(&[1]),
            )
            .expect("processing");
        assert_eq!(moved.status, OrderStatus::Processing);
        assert_eq!(moved.version, 2);
        assert_eq!(moved.items, order.items);
        assert_eq!(moved.updated_at, order.created_at + Duration::seconds(2));
        assert_eq!(s.get_order(&order.id, None).expect("get"), moved);
        let events = s.order_events(&order.id).expect("events");
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["order.created", "order.status_changed"]);
        let payload: serde_json::Value = serde_json::from_str(&events[1].payload).expect("json");
        assert_eq!(payload["data"]["previous_status"], "pending");
        assert_eq!(payload["data"]["order_version"], 2);
        let audit = s
            .list_audit_events(
                &AuditFilter {
                    resource_id: Some(order.id.clone()),
                    actor: None,
                },
                PageRequest::first(10),
            )
            .expect("audit");
        assert_eq!(audit.rows.len(), 1);
        assert_eq!(audit.rows[0].action, "order.status_changed");
        assert_eq!(audit.rows[0].changes[0].before, "pending");
        assert_eq!(audit.rows[0].changes[0].after, "processing");
    });
}

#[test]
fn an_order_at_a_stale_quote_writes_nothing() {
    on_both(|b| {
        let s = &*b.store;
        let (customer, mug, _) = catalog(s);
        let entry = |price_minor: i64| {
            Some(orderflow_server::domain::CatalogProduct {
                sku: "MUG-1".into(),
                name: "Enamel mug".into(),
                price_minor,
                currency: "EUR".into(),
                active: true,
            })
        };
        let placed = s
            .create_order_at_quote(&customer, &[(mug.clone(), 1)], &[entry(1250)])
            .expect("at quote")
            .expect("quote holds");
        assert_eq!(placed.total_minor, 1250);
        let stale = s
            .create_order_at_quote(&customer, &[(mug.clone(), 1)], &[entry(999)])
            .expect("stale quote");
        assert!(stale.is_none());
        let listed = s
            .list_orders(&OrderFilter::default(), PageRequest::first(10))
            .expect("list");
        assert_eq!(listed.rows.len(), 1, "only the order at the right quote");
    });
}

#[test]
fn an_order_event_is_delivered_through_the_outbox_to_each_endpoint() {
    on_both(|b| {
        let s = &*b.store;
        let bad = s.create_webhook_endpoint(&admin(), "ftp://x", &["order.shipped".into()]);
        match bad {
            Err(StoreError::Invalid(issues)) => {
                let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
                assert_eq!(pointers, ["#/url", "#/events/0"]);
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        let (all, secret) = s
            .create_webhook_endpoint(&admin(), "https://hooks.example.com/a", &[])
            .expect("endpoint");
        assert!(secret.starts_with("whsec_"));
        assert_eq!(all.events, ["order.created", "order.status_changed"]);
        let (changes, _) = s
            .create_webhook_endpoint(
                &admin(),
                "https://hooks.example.com/b",
                &["order.status_changed".into()],
            )
            .expect("endpoint");
        let listed = s
            .list_webhook_endpoints(PageRequest::first(10))
            .expect("list");
        assert_eq!(
            listed
                .rows
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            [changes.id.as_str(), all.id.as_str()]
        );

        let (customer, mug, _) = catalog(s);
        let order = s.create_order(&customer, &[(mug, 1)]).expect("order");
        let lease = s.now() + Duration::seconds(30);
        let due = s.claim_due(10, lease).expect("claim");
        assert_eq!(due.len(), 1, "order.created goes to the endpoint taking it");
        assert_eq!(due[0].url, "https://hooks.example.com/a");
        assert_eq!(due[0].attempt, 1);
        assert!(s.claim_due(10, lease).expect("again").is_empty(), "leased");

        // A failed attempt is retried later; then delivered.
        let retry_at = s.now() + Duration::seconds(5);
        s.record_attempt(
            &due[0],
            &AttemptOutcome {
                status: Some(503),
                error: None,
                duration_ms: 12,
                state: DeliveryState::Pending,
                retry_at,
            },
        )
        .expect("attempt 1");
        assert!(s.claim_due(10, lease).expect("not yet").is_empty());
        b.clock.advance(Duration::seconds(6));
        let again = s
            .claim_due(10, s.now() + Duration::seconds(30))
            .expect("due");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempt, 2);
        assert_eq!(
            again[0].payload, due[0].payload,
            "the same bytes every attempt"
        );
        s.record_attempt(
            &again[0],
            &AttemptOutcome {
                status: Some(204),
                error: None,
                duration_ms: 9,
                state: DeliveryState::Delivered,
                retry_at: s.now(),
            },
        )
        .expect("attempt 2");
        let (event, logs) = s.event_deliveries(&due[0].event_id).expect("log");
        assert_eq!(event.event_type, "order.created");
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].state, DeliveryState::Delivered);
        assert_eq!(
            logs[0]
                .attempts
                .iter()
                .map(|a| a.status)
                .collect::<Vec<_>>(),
            [Some(503), Some(204)]
        );
        assert!(logs[0].next_attempt_at.is_none());

        // A status change goes to both; removing one endpoint ends its
        // pending delivery and it gets no new events.
        s.transition_order_if(&admin(), &order.id, OrderStatus::Processing, None, None)
            .expect("processing");
        let events = s.order_events(&order.id).expect("events");
        let (_, logs) = s.event_deliveries(&events[1].id).expect("log");
        assert_eq!(logs.len(), 2);
        s.delete_webhook_endpoint(&admin(), &changes.id)
            .expect("delete");
        let (_, logs) = s.event_deliveries(&events[1].id).expect("log");
        let states: Vec<(String, DeliveryState)> = logs
            .iter()
            .map(|l| (l.endpoint_id.clone(), l.state))
            .collect();
        assert!(states.contains(&(changes.id.clone(), DeliveryState::Dead)));
        assert!(states.contains(&(all.id.clone(), DeliveryState::Pending)));
        assert!(matches!(
            s.delete_webhook_endpoint(&admin(), &changes.id),
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(s.release_orphaned_deliveries().expect("release"), 0);
    });
}

#[test]
fn a_unit_through_the_port_commits_with_its_record_on_both_backends() {
    on_both(|b| {
        let s = &*b.store;
        let k = key("port-unit", "fp");
        assert_eq!(
            s.idempotency_begin(&k, LEASE, RETENTION).expect("claim"),
            Begin::Claimed
        );
        let mut unit = Unit::default();
        let c = s.in_unit(&mut unit, |s| {
            s.create_customer(&admin(), "Ada", "ada@example.com")
                .expect("in unit")
        });
        assert!(unit.began());
        s.commit_unit(unit, &k, &response("ada")).expect("commit");
        assert_eq!(s.get_customer(&c.id).expect("committed"), c);
        assert_eq!(
            s.idempotency_begin(&k, LEASE, RETENTION).expect("replay"),
            Begin::Replay(response("ada"))
        );
        let mut unit = Unit::default();
        let gone = s.in_unit(&mut unit, |s| {
            s.create_customer(&admin(), "Bob", "bob@example.com")
                .expect("in unit")
        });
        drop(unit);
        assert!(matches!(
            s.get_customer(&gone.id),
            Err(StoreError::NotFound { .. })
        ));
    });
}
