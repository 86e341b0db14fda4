//! The pipeline with fake ports: no storage, no sockets. Each test drives
//! one branch of one step through `check`, and asserts on the response and
//! on which ports were called in which order.

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dropshot::{HttpResponse, HttpResponseCreated};
use http::HeaderMap;
use orderflow_edge::pipeline::{BodyPart, HandlerFuture};
use orderflow_edge::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

static POLICY: RateLimitPolicy = RateLimitPolicy {
    name: "writes",
    quota: 2,
    window_seconds: 1,
};
static COMPONENTS: Rules = Rules::new(
    r#"{"Thing": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "format": "uint32", "multipleOf": 5}}}}"#,
);

const fn op(idempotency: Idempotency) -> Operation {
    Operation {
        operation_id: "createThing",
        method: "POST",
        route: "/things",
        authenticated: true,
        idempotency,
        success_status: 201,
        rate_limit: Some(&POLICY),
        lifecycle: None,
        if_match: Precondition::None,
        rules: OperationRules {
            components: &COMPONENTS,
            path: None,
            query: None,
            headers: None,
            body: Some(Rules::new(r##"{"$ref": "#/components/schemas/Thing"}"##)),
        },
    }
}
static REQUIRED: Operation = op(Idempotency::Required);
static OPTIONAL: Operation = op(Idempotency::Optional);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct Thing {
    n: u32,
}

/// Everything the fakes were asked, in order.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// What the fakes answer.
#[derive(Clone)]
struct Script {
    auth_ok: bool,
    rate_ok: bool,
    begin: Result<IdempotencyBegin, &'static str>,
    commit_ok: bool,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            auth_ok: true,
            rate_ok: true,
            begin: Ok(IdempotencyBegin::Claimed),
            commit_ok: true,
        }
    }
}

struct Fake {
    log: Arc<Log>,
    script: Script,
}

fn state() -> RateState {
    RateState {
        policy: &POLICY,
        remaining: 1,
        reset_seconds: 1,
    }
}

#[async_trait]
impl Authenticator for Fake {
    async fn authenticate(&self, _call: &Call, auth: Option<&str>) -> Result<Principal, ApiError> {
        self.log
            .push(format!("authenticate {}", auth.unwrap_or("-")));
        if self.script.auth_ok && auth.is_some() {
            Ok(Principal {
                key_id: "key_1".into(),
                admin: true,
                customer_id: None,
            })
        } else {
            Err(ApiError::unauthenticated("no"))
        }
    }
}

#[async_trait]
impl RateLimiter for Fake {
    async fn check(
        &self,
        call: &Call,
        _policy: &'static RateLimitPolicy,
    ) -> Result<RateState, ApiError> {
        let who = call
            .principal
            .as_ref()
            .map(|p| p.key_id.clone())
            .unwrap_or_else(|| call.client.clone());
        self.log.push(format!("rate {who}"));
        if self.script.rate_ok {
            Ok(state())
        } else {
            Err(state().too_many_requests(3))
        }
    }
}

#[async_trait]
impl IdempotencyStore for Fake {
    async fn begin(&self, _call: &Call, claim: &Claim) -> Result<IdempotencyBegin, ApiError> {
        self.log.push(format!("begin {}", claim.key));
        match &self.script.begin {
            Ok(b) => Ok(b.clone()),
            Err(code) => Err(ApiError::new(code, "refused")),
        }
    }

    async fn commit(
        &self,
        _call: &Call,
        _claim: &Claim,
        reply: &StoredReply,
    ) -> Result<(), ApiError> {
        self.log.push(format!(
            "commit {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ));
        if self.script.commit_ok {
            Ok(())
        } else {
            Err(ApiError::internal_because("disk full"))
        }
    }

    async fn abandon(&self, _call: &Call, _claim: &Claim, keep: Option<&StoredReply>) {
        match keep {
            Some(r) => self.log.push(format!("abandon keep {}", r.status)),
            None => self.log.push("abandon release"),
        }
    }
}

impl Observer for Fake {
    fn observe(&self, _call: &Call, outcome: &Outcome<'_>) {
        self.log.push(format!(
            "observe {} {}",
            outcome.status,
            outcome.idempotency.map(|o| o.as_str()).unwrap_or("-")
        ));
    }
}

fn ports(log: &Arc<Log>, script: Script) -> Ports {
    let fake = Arc::new(Fake {
        log: log.clone(),
        script,
    });
    Ports {
        authenticator: fake.clone(),
        rate_limiter: fake.clone(),
        idempotency: fake.clone(),
        observer: fake,
        clock: Arc::new(orderflow_edge::SystemClock),
    }
}

/// A handler answering `Thing` back, or the given problem.
fn handler<'h>(
    log: &'h Log,
    fail: Option<&'static str>,
) -> impl FnOnce(Arc<Call>, (Thing,)) -> HandlerFuture<'h, Created<Thing>> {
    move |_call, (thing,)| {
        Box::pin(async move {
            log.push(format!("handler {}", thing.n));
            match fail {
                Some(code) => Err(ApiError::new(code, "handler says no")),
                None => Ok(Created {
                    body: thing,
                    location: "/things/1".into(),
                }),
            }
        })
    }
}

fn render(value: Created<Thing>, _call: &Call) -> HttpResponseCreated<Thing> {
    HttpResponseCreated(value.body)
}

/// What came back: status, the headers we look at, the body as JSON.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

struct Case<'a> {
    op: &'static Operation,
    headers: &'a [(&'a str, &'a str)],
    body: Value,
    script: Script,
    handler_fails: Option<&'static str>,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Case {
            op: &REQUIRED,
            headers: &[("authorization", "Bearer k"), ("idempotency-key", "key-1")],
            body: json!({"n": 10}),
            script: Script::default(),
            handler_fails: None,
        }
    }
}

/// Runs one case through the pipeline; returns the answer and the ports'
/// log.
async fn check(case: Case<'_>) -> (Answer, Vec<String>) {
    use http_body_util::BodyExt;
    let log = Arc::new(Log::default());
    let ports = ports(&log, case.script.clone());
    let mut headers = HeaderMap::new();
    for (name, value) in case.headers {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let uri: http::Uri = "/things".parse().unwrap();
    let req = Request {
        request_id: "req-1",
        uri: &uri,
        headers: &headers,
        remote: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
    };
    let body = BodyPart::<Thing> {
        value: Ok(case.body),
        _type: PhantomData,
    };
    let reply = run(
        case.op,
        req,
        &ports,
        (body,),
        handler(&log, case.handler_fails),
        render,
    )
    .await;
    let rsp = reply.to_result().expect("renders");
    let (parts, body) = rsp.into_parts();
    let bytes = body.collect().await.expect("a body").to_bytes();
    let answer = Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    (answer, log.take())
}

fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
    a.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_new_idempotent_request_runs_then_commits_the_bytes_it_answers() {
    let (a, log) = check(Case::default()).await;
    assert_eq!(a.status, 201);
    assert_eq!(a.body, json!({"n": 10}));
    assert_eq!(header(&a, "x-request-id"), Some("req-1"));
    assert_eq!(header(&a, "ratelimit"), Some("\"writes\";r=1;t=1"));
    assert_eq!(header(&a, "idempotent-replayed"), None);
    assert_eq!(
        log,
        [
            "authenticate Bearer k",
            "rate key_1",
            "begin key-1",
            "handler 10",
            "commit 201 {\"n\":10}",
            "observe 201 new",
        ]
    );
}

#[tokio::test]
async fn a_refused_credential_spends_the_address_quota_and_stops() {
    let (a, log) = check(Case {
        headers: &[("idempotency-key", "key-1")],
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["code"], "unauthenticated");
    assert_eq!(a.body["request_id"], "req-1");
    assert_eq!(header(&a, "www-authenticate"), Some("Bearer"));
    assert_eq!(header(&a, "ratelimit-policy"), Some("\"writes\";q=2;w=1"));
    assert_eq!(log, ["authenticate -", "rate 192.0.2.7", "observe 401 -"]);
}

#[tokio::test]
async fn over_quota_is_a_429_before_any_idempotency_work() {
    let (a, log) = check(Case {
        script: Script {
            rate_ok: false,
            ..Script::default()
        },
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 429);
    assert_eq!(header(&a, "retry-after"), Some("3"));
    assert_eq!(a.body["violated-policies"], json!(["writes"]));
    assert_eq!(
        log,
        ["authenticate Bearer k", "rate key_1", "observe 429 -"]
    );
}

#[tokio::test]
async fn idempotency_key_presence_count_and_syntax() {
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Headers, u16, &str)] = &[
        (
            &[("authorization", "Bearer k")],
            400,
            "idempotency_key_missing",
        ),
        (
            &[
                ("authorization", "Bearer k"),
                ("idempotency-key", "a"),
                ("idempotency-key", "b"),
            ],
            400,
            "idempotency_key_invalid",
        ),
        (
            &[
                ("authorization", "Bearer k"),
                ("idempotency-key", "has space"),
            ],
            400,
            "idempotency_key_invalid",
        ),
    ];
    for (headers, status, code) in cases {
        let (a, log) = check(Case {
            headers,
            ..Case::default()
        })
        .await;
        assert_eq!(a.status, *status, "{headers:?}");
        assert_eq!(a.body["code"], *code, "{headers:?}");
        assert!(
            !log.iter()
                .any(|l| l.starts_with("begin") || l.starts_with("handler")),
            "{log:?}"
        );
    }
}

#[tokio::test]
async fn an_optional_key_makes_the_request_idempotent_only_when_sent() {
    let (a, log) = check(Case {
        op: &OPTIONAL,
        headers: &[("authorization", "Bearer k")],
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(
        log,
        [
            "authenticate Bearer k",
            "rate key_1",
            "handler 10",
            "observe 201 -"
        ]
    );
    let (a, log) = check(Case {
        op: &OPTIONAL,
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 201);
    assert!(log.contains(&"begin key-1".to_string()), "{log:?}");
    assert!(log.iter().any(|l| l.starts_with("commit")), "{log:?}");
}

#[tokio::test]
async fn invalid_input_is_refused_before_the_claim() {
    // (body, status, code, pointer)
    let cases = [
        (json!({"n": 7}), 422, "validation_failed", "#/n"),
        (json!({"n": -5}), 422, "validation_failed", "#/n"),
        (json!({"n": "ten"}), 400, "malformed_request", "#/n"),
        (json!({"n": null}), 400, "malformed_request", "#/n"),
        (json!({}), 400, "malformed_request", "#/n"),
    ];
    for (body, status, code, pointer) in cases {
        let (a, log) = check(Case {
            body: body.clone(),
            ..Case::default()
        })
        .await;
        assert_eq!(a.status, status, "{body}");
        assert_eq!(a.body["code"], code, "{body}");
        assert_eq!(a.body["errors"][0]["pointer"], pointer, "{body}");
        assert_eq!(
            log,
            [
                "authenticate Bearer k",
                "rate key_1",
                &format!("observe {status} -")
            ],
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_stored_response_is_replayed_without_running_the_handler() {
    let stored = StoredReply {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/things/1".into()),
        ],
        body: br#"{"n":10}"#.to_vec(),
    };
    let (a, log) = check(Case {
        script: Script {
            begin: Ok(IdempotencyBegin::Replay(stored)),
            ..Script::default()
        },
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.body, json!({"n": 10}));
    assert_eq!(header(&a, "idempotent-replayed"), Some("true"));
    assert_eq!(header(&a, "location"), Some("/things/1"));
    assert_eq!(header(&a, "x-request-id"), Some("req-1"));
    assert_eq!(header(&a, "ratelimit"), Some("\"writes\";r=1;t=1"));
    assert_eq!(
        log,
        [
            "authenticate Bearer k",
            "rate key_1",
            "begin key-1",
            "observe 201 replayed"
        ]
    );
}

#[tokio::test]
async fn refused_claims_say_why() {
    for (code, status, outcome) in [
        ("idempotency_key_in_flight", 409, "in_flight"),
        ("idempotency_key_reused", 422, "mismatch"),
    ] {
        let (a, log) = check(Case {
            script: Script {
                begin: Err(code),
                ..Script::default()
            },
            ..Case::default()
        })
        .await;
        assert_eq!(a.status, status);
        assert_eq!(a.body["code"], code);
        assert_eq!(log.last().unwrap(), &format!("observe {status} {outcome}"));
        assert!(!log.iter().any(|l| l.starts_with("handler")), "{log:?}");
    }
}

#[tokio::test]
async fn a_failed_handler_abandons_its_claim() {
    let (a, log) = check(Case {
        handler_fails: Some("not_found"),
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(
        log,
        [
            "authenticate Bearer k",
            "rate key_1",
            "begin key-1",
            "handler 10",
            "abandon keep 404",
            "observe 404 new",
        ]
    );
}

#[tokio::test]
async fn a_failed_commit_answers_500_and_abandons() {
    let (a, log) = check(Case {
        script: Script {
            commit_ok: false,
            ..Script::default()
        },
        ..Case::default()
    })
    .await;
    assert_eq!(a.status, 500);
    assert_eq!(a.body["code"], "internal_error");
    assert!(
        !a.body.to_string().contains("disk full"),
        "the cause stays internal"
    );
    assert_eq!(
        &log[3..],
        [
            "handler 10",
            "commit 201 {\"n\":10}",
            "abandon release",
            "observe 500 new"
        ]
    );
}

#[test]
fn entity_tag_lists_parse_as_rfc_9110_writes_them() {
    use orderflow_edge::pipeline::entity_tags;
    assert_eq!(entity_tags("*"), Ok(None));
    assert_eq!(entity_tags("\"r3\""), Ok(Some(vec!["\"r3\"".into()])));
    assert_eq!(
        entity_tags(" \"r3\" , W/\"r4\",\"\""),
        Ok(Some(vec![
            "\"r3\"".into(),
            "W/\"r4\"".into(),
            "\"\"".into()
        ]))
    );
    for bad in ["r3", "\"r3", "\"r3\" x", "", ",", "W/r3"] {
        assert!(entity_tags(bad).is_err(), "{bad:?}");
    }
    assert_eq!(row_etag(12), "\"r12\"");
}
