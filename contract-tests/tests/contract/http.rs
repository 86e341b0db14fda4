//! Raw HTTP against the real server: the inputs the SDK would refuse to
//! send, and the wire details (media types, headers) the SDK hides.

use serde_json::{Value, json};

use crate::support::TestServer;

/// One request and what must come back.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    /// `None`: no Authorization header; `Some("admin")`: the admin key;
    /// anything else is sent as the bearer token.
    auth: Option<&'static str>,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
    status: u16,
    code: &'static str,
    /// JSON pointers that must appear in `errors`, in any order.
    pointers: Vec<&'static str>,
}

impl Case {
    fn new(name: &'static str, method: &'static str, path: impl Into<String>) -> Case {
        Case {
            name,
            method,
            path: path.into(),
            auth: Some("admin"),
            content_type: None,
            headers: Vec::new(),
            body: None,
            status: 0,
            code: "",
            pointers: Vec::new(),
        }
    }
    fn json(mut self, body: Value) -> Case {
        self.content_type = Some("application/json");
        self.body = Some(body.to_string());
        self
    }
    fn raw(mut self, content_type: &'static str, body: impl Into<String>) -> Case {
        self.content_type = Some(content_type);
        self.body = Some(body.into());
        self
    }
    /// A body sent with no Content-Type at all.
    fn bare(mut self, body: impl Into<String>) -> Case {
        self.content_type = None;
        self.body = Some(body.into());
        self
    }
    fn auth(mut self, auth: Option<&'static str>) -> Case {
        self.auth = auth;
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Case {
        self.status = status;
        self.code = code;
        self
    }
    fn pointers(mut self, p: &[&'static str]) -> Case {
        self.pointers = p.to_vec();
        self
    }
}

/// Sends the case and checks status, media type, problem shape, request id.
async fn check(server: &TestServer, case: &Case) {
    let key = match case.auth {
        None => None,
        Some("admin") => Some(server.admin_key.as_str()),
        Some(other) => Some(other),
    };
    let client = server.http(key);
    let url = format!("{}{}", server.base, case.path);
    let mut req = client.request(case.method.parse().expect("a method"), &url);
    if let Some(ct) = case.content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in &case.headers {
        req = req.header(*k, v);
    }
    if let Some(b) = &case.body {
        req = req.body(b.clone());
    }
    let rsp = req.send().await.expect("the server answers");
    let status = rsp.status().as_u16();
    let headers = rsp.headers().clone();
    let text = rsp.text().await.expect("a body");
    assert_eq!(status, case.status, "{}: status (body: {text})", case.name);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{}: problems are application/problem+json",
        case.name
    );
    let body: Value = serde_json::from_str(&text).expect("a JSON problem");
    for member in ["type", "title", "status", "detail", "code", "request_id"] {
        assert!(
            body.get(member).is_some(),
            "{}: problem lacks {member}: {body}",
            case.name
        );
    }
    assert_eq!(
        body["status"],
        json!(status),
        "{}: status member",
        case.name
    );
    assert_eq!(
        body["code"],
        json!(case.code),
        "{}: code ({body})",
        case.name
    );
    assert_eq!(
        body["type"],
        json!(format!(
            "https://orderflow.dev/problems/{}",
            case.code.replace('_', "-")
        )),
        "{}: type maps 1:1 to code",
        case.name
    );
    let rid = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(!rid.is_empty(), "{}: X-Request-Id header", case.name);
    assert_eq!(
        body["request_id"],
        json!(rid),
        "{}: request_id equals X-Request-Id",
        case.name
    );
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect())
        .unwrap_or_default();
    for p in &case.pointers {
        assert!(
            pointers.contains(p),
            "{}: errors lack {p}: {body}",
            case.name
        );
    }
    assert_eq!(
        pointers.len(),
        case.pointers.len(),
        "{}: exactly the bad fields: {body}",
        case.name
    );
    if status == 401 {
        assert_eq!(
            headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{}: 401 carries WWW-Authenticate",
            case.name
        );
    }
}

async fn post(
    server: &TestServer,
    path: &str,
    key: &str,
    body: Value,
    extra: Option<(&str, &str)>,
) -> Value {
    let mut req = server
        .http(Some(key))
        .post(format!("{}{path}", server.base))
        .json(&body);
    if let Some((k, v)) = extra {
        req = req.header(k, v);
    }
    let rsp = req.send().await.expect("the server answers");
    assert!(rsp.status().is_success(), "POST {path}: {}", rsp.status());
    rsp.json().await.expect("JSON")
}

#[tokio::test]
async fn bad_requests_get_precise_problems() {
    let server = TestServer::start().await;
    let admin = server.admin_key.clone();
    let cus = post(
        &server,
        "/v1/customers",
        &admin,
        json!({"name": "Ada", "email": "ada@example.com"}),
        None,
    )
    .await;
    let cus_id = cus["id"].as_str().expect("an id").to_string();
    let key = post(
        &server,
        &format!("/v1/customers/{cus_id}/api-keys"),
        &admin,
        json!({"name": "k"}),
        None,
    )
    .await;
    let customer_key: &'static str = Box::leak(
        key["secret"]
            .as_str()
            .expect("a secret")
            .to_string()
            .into_boxed_str(),
    );
    let prd = post(
        &server,
        "/v1/products",
        &admin,
        json!({"sku": "A-1", "name": "A", "price": {"amount_minor": 100, "currency": "EUR"}}),
        None,
    )
    .await;
    let prd_id = prd["id"].as_str().expect("an id").to_string();
    let dear = post(
        &server,
        "/v1/products",
        &admin,
        json!({"sku": "DEAR-1", "name": "Dear", "price": {"amount_minor": 100_000_000_000u64, "currency": "EUR"}}),
        None,
    )
    .await;
    let dear_id = dear["id"].as_str().expect("an id").to_string();
    let big = "x".repeat(70 * 1024);

    let cases = vec![
        Case::new("no credentials", "GET", "/v1/orders").auth(None).expect(401, "unauthenticated"),
        Case::new("unknown key", "GET", "/v1/orders").auth(Some("of_sk_nope")).expect(401, "unauthenticated"),
        Case::new("customer on an admin operation", "GET", "/v1/customers")
            .auth(Some(customer_key))
            .expect(403, "forbidden"),
        Case::new("unknown order", "GET", "/v1/orders/ord_missing").expect(404, "not_found"),
        Case::new("another customer's record", "GET", "/v1/customers/cus_other")
            .auth(Some(customer_key))
            .expect(404, "not_found"),
        Case::new("malformed JSON", "POST", "/v1/customers")
            .raw("application/json", "{\"name\": ")
            .expect(400, "malformed_request"),
        Case::new("wrong JSON type", "POST", "/v1/customers")
            .json(json!({"name": 5, "email": "a@b"}))
            .expect(400, "malformed_request")
            .pointers(&["#/name"]),
        Case::new("trailing bytes after the JSON body", "POST", "/v1/customers")
            .raw("application/json", r#"{"name": "Ada", "email": "a@b"} {"x": 1}"#)
            .expect(400, "malformed_request"),
        Case::new("a body without Content-Type", "POST", "/v1/customers")
            .bare(r#"{"name": "Ada", "email": "a@b"}"#)
            .expect(415, "unsupported_media_type"),
        Case::new("null for a declared member", "PATCH", format!("/v1/customers/{cus_id}"))
            .json(json!({"email": null}))
            .expect(400, "malformed_request")
            .pointers(&["#/email"]),
        Case::new("a name of invisible characters", "POST", "/v1/customers")
            .json(json!({"name": "\u{200B}\u{2060}\u{FEFF}", "email": "a@b"}))
            .expect(422, "validation_failed")
            .pointers(&["#/name"]),
        Case::new("a name holding a control character", "POST", "/v1/customers")
            .json(json!({"name": "Ada\u{7}", "email": "a@b"}))
            .expect(422, "validation_failed")
            .pointers(&["#/name"]),
        Case::new("a negative quantity", "POST", "/v1/orders")
            .header("Idempotency-Key", "k5")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": prd_id, "quantity": -1}]}))
            .expect(422, "validation_failed")
            .pointers(&["#/items/0/quantity"]),
        Case::new("a quantity beyond 32 bits", "POST", "/v1/orders")
            .header("Idempotency-Key", "k6")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": prd_id, "quantity": 4294967297u64}]}))
            .expect(422, "validation_failed")
            .pointers(&["#/items/0/quantity"]),
        Case::new("a total the Money schema cannot carry", "POST", "/v1/orders")
            .header("Idempotency-Key", "k9")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": dear_id, "quantity": 2}]}))
            .expect(422, "validation_failed")
            .pointers(&["#/items/0/quantity"]),
        Case::new("two Idempotency-Key headers", "POST", "/v1/orders")
            .header("Idempotency-Key", "k7")
            .header("Idempotency-Key", "k8")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": prd_id, "quantity": 1}]}))
            .expect(400, "idempotency_key_invalid"),
        Case::new("wrong media type", "POST", "/v1/customers")
            .raw("text/plain", "name=Ada")
            .expect(415, "unsupported_media_type"),
        Case::new("body over the limit", "POST", "/v1/customers")
            .json(json!({"name": big, "email": "a@b"}))
            .expect(413, "payload_too_large"),
        Case::new("every bad field listed", "POST", "/v1/products")
            .json(json!({"sku": "bad sku!", "name": "", "price": {"amount_minor": -5, "currency": "euro"}}))
            .expect(422, "validation_failed")
            .pointers(&["#/sku", "#/name", "#/price/amount_minor", "#/price/currency"]),
        Case::new("order lines validated", "POST", "/v1/orders")
            .header("Idempotency-Key", "k1")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": prd_id, "quantity": 0}, {"product_id": "prd_none", "quantity": 1}]}))
            .expect(422, "validation_failed")
            .pointers(&["#/items/0/quantity"]),
        Case::new("unknown product in an order", "POST", "/v1/orders")
            .header("Idempotency-Key", "k2")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": "prd_none", "quantity": 1}]}))
            .expect(422, "validation_failed")
            .pointers(&["#/items/0/product_id"]),
        Case::new("admin order without customer", "POST", "/v1/orders")
            .header("Idempotency-Key", "k3")
            .json(json!({"items": [{"product_id": prd_id, "quantity": 1}]}))
            .expect(422, "validation_failed")
            .pointers(&["#/customer_id"]),
        Case::new("empty order", "POST", "/v1/orders")
            .header("Idempotency-Key", "k4")
            .json(json!({"customer_id": cus_id, "items": []}))
            .expect(422, "validation_failed")
            .pointers(&["#/items"]),
        Case::new("missing Idempotency-Key", "POST", "/v1/orders")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": prd_id, "quantity": 1}]}))
            .expect(400, "idempotency_key_missing"),
        Case::new("malformed Idempotency-Key", "POST", "/v1/orders")
            .header("Idempotency-Key", "has spaces in it")
            .json(json!({"customer_id": cus_id, "items": [{"product_id": prd_id, "quantity": 1}]}))
            .expect(400, "idempotency_key_invalid"),
        Case::new("limit above 100", "GET", "/v1/orders?limit=101")
            .expect(400, "invalid_parameter")
            .pointers(&["limit"]),
        Case::new("limit zero", "GET", "/v1/products?limit=0")
            .expect(400, "invalid_parameter")
            .pointers(&["limit"]),
        // dropshot's own text for these names no parameter: the edge
        // re-reads the query against the spec to say which one is wrong.
        Case::new("limit not a number", "GET", "/v1/products?limit=ten")
            .expect(400, "invalid_parameter")
            .pointers(&["limit"]),
        Case::new("unknown status filter", "GET", "/v1/orders?status=lost")
            .expect(400, "invalid_parameter")
            .pointers(&["status"]),
        Case::new("numeric status filter", "GET", "/v1/orders?status=123")
            .expect(400, "invalid_parameter")
            .pointers(&["status"]),
        Case::new("negative limit", "GET", "/v1/orders?limit=-3")
            .expect(400, "invalid_parameter")
            .pointers(&["limit"]),
        Case::new("limit given twice", "GET", "/v1/customers?limit=5&limit=6")
            .expect(400, "invalid_parameter")
            .pointers(&["limit"]),
        Case::new("two bad parameters, a good one blamed for neither", "GET", "/v1/orders?limit=ten&status=lost")
            .expect(400, "invalid_parameter")
            .pointers(&["limit", "status"]),
        Case::new("a bad limit next to a valid status", "GET", "/v1/orders?status=pending&limit=ten")
            .expect(400, "invalid_parameter")
            .pointers(&["limit"]),
        Case::new("garbage cursor", "GET", "/v1/orders?cursor=not-a-cursor").expect(400, "invalid_cursor"),
        Case::new("customer filtering another customer", "GET", "/v1/orders?customer_id=cus_other")
            .auth(Some(customer_key))
            .expect(403, "forbidden"),
        Case::new("duplicate SKU", "POST", "/v1/products")
            .json(json!({"sku": "A-1", "name": "again", "price": {"amount_minor": 1, "currency": "EUR"}}))
            .expect(409, "duplicate_sku"),
        Case::new("unknown customer for a key", "POST", "/v1/customers/cus_missing/api-keys")
            .json(json!({"name": "k"}))
            .expect(404, "not_found"),
    ];
    for case in &cases {
        check(&server, case).await;
    }
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn cursors_are_bound_to_their_filters_and_tamper_proof() {
    let server = TestServer::start().await;
    let admin = server.admin_key.clone();
    for n in 0..3 {
        post(
            &server,
            "/v1/products",
            &admin,
            json!({"sku": format!("S-{n}"), "name": "p", "price": {"amount_minor": 1, "currency": "EUR"}}),
            None,
        )
        .await;
    }
    let client = server.http(Some(&admin));
    let rsp = client
        .get(format!("{}/v1/products?limit=1&active=true", server.base))
        .send()
        .await
        .expect("a page");
    let link = rsp
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("a Link header when there is a next page");
    let page: Value = rsp.json().await.expect("JSON");
    let cursor = page["next_cursor"].as_str().expect("a cursor").to_string();
    assert_eq!(
        link,
        format!(
            "</v1/products?limit=1&active=true&cursor={cursor}>; rel=\"next\", \
             </v2/products>; rel=\"successor-version\", </deprecation>; rel=\"deprecation\""
        ),
        "the next page first, then the lifecycle links of a deprecated operation"
    );

    // Following the Link works.
    let next = client
        .get(format!(
            "{}{}",
            server.base,
            &link[1..link.find('>').unwrap_or(1)]
        ))
        .send()
        .await
        .expect("next page");
    assert_eq!(next.status().as_u16(), 200);

    let mut flipped = cursor.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ASCII");
    let cases = vec![
        Case::new(
            "cursor with other filters",
            "GET",
            format!("/v1/products?limit=1&active=false&cursor={cursor}"),
        )
        .expect(400, "invalid_cursor"),
        Case::new(
            "cursor for another list",
            "GET",
            format!("/v1/customers?cursor={cursor}"),
        )
        .expect(400, "invalid_cursor"),
        Case::new(
            "tampered cursor",
            "GET",
            format!("/v1/products?limit=1&active=true&cursor={flipped}"),
        )
        .expect(400, "invalid_cursor"),
    ];
    for case in &cases {
        check(&server, case).await;
    }
    // The last page has neither a cursor nor a Link.
    let last = client
        .get(format!("{}/v1/products?limit=100", server.base))
        .send()
        .await
        .expect("all");
    let link = last
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        !link.contains("rel=\"next\""),
        "no next page on the last page: {link}"
    );
    let body: Value = last.json().await.expect("JSON");
    assert_eq!(
        body["next_cursor"],
        Value::Null,
        "next_cursor is present and null"
    );
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn meta_endpoints_serve_spec_and_probes() {
    let server = TestServer::start().await;
    let client = server.http(None);
    let spec = client
        .get(format!("{}/openapi.yaml", server.base))
        .send()
        .await
        .expect("spec");
    assert_eq!(spec.status().as_u16(), 200);
    assert_eq!(
        spec.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/yaml")
    );
    assert_eq!(
        spec.text().await.expect("text"),
        orderflow_server_api::SPEC_YAML
    );
    for probe in ["/healthz", "/readyz"] {
        let rsp = client
            .get(format!("{}{probe}", server.base))
            .send()
            .await
            .expect("probe");
        assert_eq!(rsp.status().as_u16(), 200, "{probe} needs no credentials");
    }
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn requests_no_operation_matches_get_problems() {
    let server = TestServer::start().await;
    let cases = vec![
        Case::new("unknown path", "GET", "/v1/nowhere").expect(404, "not_found"),
        Case::new("unknown path, no credentials", "POST", "/nowhere/at/all")
            .auth(None)
            .expect(404, "not_found"),
        Case::new("wrong method", "DELETE", "/v1/customers").expect(405, "method_not_allowed"),
        Case::new("undecodable path", "GET", "/v1/orders/%FF").expect(400, "malformed_request"),
        // Not the list, and not order "ord_x": a path with an empty segment
        // names no resource of the spec.
        Case::new("trailing slash", "GET", "/v1/orders/").expect(404, "not_found"),
        Case::new("empty segment", "GET", "/v1/orders//ord_x").expect(404, "not_found"),
    ];
    for case in &cases {
        check(&server, case).await;
    }
    let client = server.http(Some(&server.admin_key));
    // (method, path, methods the Allow header must list)
    let allow_cases: &[(&str, &str, &[&str])] = &[
        (
            "DELETE",
            "/v1/customers",
            &["GET", "HEAD", "POST", "OPTIONS"],
        ),
        ("PUT", "/v1/orders/ord_x", &["GET", "HEAD", "OPTIONS"]),
        // No GET at this path, so no HEAD either.
        ("HEAD", "/v1/orders/ord_x/transitions", &["POST", "OPTIONS"]),
    ];
    for (method, path, methods) in allow_cases {
        let rsp = client
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", server.base),
            )
            .send()
            .await
            .expect("the server answers");
        assert_eq!(rsp.status().as_u16(), 405, "{method} {path}");
        let allow = rsp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        for m in *methods {
            assert!(
                listed.contains(m),
                "{method} {path}: Allow {allow:?} lacks {m}"
            );
        }
        let body = rsp.text().await.expect("a body");
        if *method == "HEAD" {
            assert!(body.is_empty(), "HEAD has no body: {body:?}");
        } else {
            let body: Value = serde_json::from_str(&body).expect("a problem");
            assert_eq!(body["instance"], json!(path), "{method} {path}");
        }
    }
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_database_file_removed_under_the_server_makes_it_unready_and_refuse_writes() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let ready = admin
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    std::fs::remove_file(server.database()).expect("remove the database file");
    let ready = admin
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    let write = admin
        .post(format!("{}/v1/customers", server.base))
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .expect("write");
    assert_eq!(
        write.status().as_u16(),
        503,
        "never a 500, never a silent write"
    );
    assert!(write.headers().contains_key("retry-after"));
    let body: Value = write.json().await.expect("a problem");
    assert_eq!(body["code"], json!("unavailable"));
    assert!(
        !body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("orderflow.db"),
        "no file path reaches a client: {body}"
    );
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn cors_answers_allowed_origins_from_the_spec_and_nobody_else() {
    let server = TestServer::start_configured(|c| {
        c.cors_origins = vec!["https://shop.example".into()];
    })
    .await;
    let anonymous = server.http(None);
    let admin = server.http(Some(&server.admin_key));
    let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
        anonymous
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/orders", server.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
    };
    let header = |rsp: &reqwest::Response, name: &str| {
        rsp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };

    // Allowed origin, a method and headers createOrder declares.
    let ok = preflight(
        "https://shop.example",
        "POST",
        "Authorization, Content-Type, Idempotency-Key",
    )
    .await
    .expect("preflight");
    assert_eq!(ok.status().as_u16(), 204);
    assert_eq!(
        header(&ok, "access-control-allow-origin"),
        "https://shop.example"
    );
    let methods = header(&ok, "access-control-allow-methods");
    assert!(
        methods.contains("post") && methods.contains("get"),
        "{methods}"
    );
    let allowed = header(&ok, "access-control-allow-headers");
    for h in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(h), "{allowed} lacks {h}");
    }
    assert!(header(&ok, "vary").contains("origin"));

    // Another origin, or a header the operation does not declare: no CORS
    // headers, so the browser does not send the request.
    for rsp in [
        preflight("https://evil.example", "POST", "authorization")
            .await
            .expect("preflight"),
        preflight("https://shop.example", "POST", "x-made-up")
            .await
            .expect("preflight"),
        preflight("https://shop.example", "DELETE", "authorization")
            .await
            .expect("preflight"),
    ] {
        assert_eq!(rsp.status().as_u16(), 204);
        assert_eq!(
            header(&rsp, "access-control-allow-origin"),
            "",
            "{:?}",
            rsp.headers()
        );
    }

    // Actual requests: the allowed origin may read the retry headers.
    let read = admin
        .get(format!("{}/v1/orders", server.base))
        .header("origin", "https://shop.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(
        header(&read, "access-control-allow-origin"),
        "https://shop.example"
    );
    let exposed = header(&read, "access-control-expose-headers");
    for h in ["ratelimit", "retry-after", "location", "x-request-id"] {
        assert!(exposed.contains(h), "{exposed} lacks {h}");
    }
    let refused = admin
        .get(format!("{}/v1/orders", server.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(header(&refused, "access-control-allow-origin"), "");
    assert!(header(&refused, "vary").contains("origin"));
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn head_is_get_without_a_body_and_options_lists_allow() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let anonymous = server.http(None);
    for (client, path) in [
        (&anonymous, "/healthz"),
        (&anonymous, "/readyz"),
        (&admin, "/v1/customers"),
    ] {
        let get = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .expect("GET");
        let get_status = get.status().as_u16();
        let get_type = get.headers().get("content-type").cloned();
        let get_len = get.bytes().await.expect("body").len();
        let head = client
            .head(format!("{}{path}", server.base))
            .send()
            .await
            .expect("HEAD");
        assert_eq!(head.status().as_u16(), get_status, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type").cloned(),
            get_type,
            "HEAD {path}"
        );
        assert!(head.headers().contains_key("x-request-id"), "HEAD {path}");
        assert!(get_len > 0, "GET {path} has a body");
        assert!(
            head.bytes().await.expect("body").is_empty(),
            "HEAD {path} has none"
        );
    }
    // HEAD runs the GET pipeline: no credentials, no answer.
    let refused = anonymous
        .head(format!("{}/v1/customers", server.base))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(refused.status().as_u16(), 401);

    // (path, exactly the methods Allow lists)
    let options: &[(&str, &[&str])] = &[
        ("/v1/customers", &["GET", "HEAD", "POST", "OPTIONS"]),
        ("/v1/orders/ord_x/transitions", &["POST", "OPTIONS"]),
        ("/healthz", &["GET", "HEAD", "OPTIONS"]),
    ];
    for (path, methods) in options {
        let rsp = anonymous
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.base))
            .send()
            .await
            .expect("OPTIONS");
        assert_eq!(rsp.status().as_u16(), 204, "OPTIONS {path}");
        let allow = rsp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert_eq!(&listed, methods, "OPTIONS {path}: Allow {allow:?}");
    }
    let unknown = anonymous
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/nowhere", server.base),
        )
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(unknown.status().as_u16(), 404);
    server.running.stop().await.expect("clean shutdown");
}

/// Sends `GET path` (or the given request) with `X-Request-Id: sent` and
/// returns the id the response carries, checking the problem body's
/// `request_id` too when there is one.
async fn request_id_of(req: reqwest::RequestBuilder, sent: Option<&str>) -> (u16, String) {
    let req = match sent {
        Some(id) => req.header("x-request-id", id),
        None => req,
    };
    let rsp = req.send().await.expect("the server answers");
    let status = rsp.status().as_u16();
    let problem = rsp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    let id = rsp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every response carries X-Request-Id")
        .to_string();
    let body = rsp.text().await.expect("a body");
    if problem {
        let body: Value = serde_json::from_str(&body).expect("a problem");
        assert_eq!(
            body["request_id"],
            json!(id),
            "request_id equals the header"
        );
    }
    (status, id)
}

#[tokio::test]
async fn a_well_formed_client_request_id_is_echoed_and_others_are_replaced() {
    let server = TestServer::start().await;
    let admin = server.admin_key.clone();
    let client = server.http(Some(&admin));
    let url = |path: &str| format!("{}{path}", server.base);
    let cus = post(
        &server,
        "/v1/customers",
        &admin,
        json!({"name": "Ada", "email": "ada@example.com"}),
        None,
    )
    .await;
    let prd = post(
        &server,
        "/v1/products",
        &admin,
        json!({"sku": "A-1", "name": "A", "price": {"amount_minor": 100, "currency": "EUR"}}),
        None,
    )
    .await;
    let order =
        json!({"customer_id": cus["id"], "items": [{"product_id": prd["id"], "quantity": 1}]});
    let create = || {
        client
            .post(url("/v1/orders"))
            .header("idempotency-key", "echo-1")
            .json(&order)
    };

    let id = "abc-123.X_y";
    // (what, request, expected status)
    let echoed: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("a success", client.get(url("/v1/customers")), 200),
        (
            "a success without credentials",
            client.get(url("/healthz")),
            200,
        ),
        (
            "a problem from the edge",
            client.get(url("/v1/orders/ord_missing")),
            404,
        ),
        ("a routing problem", client.get(url("/v1/nowhere")), 404),
        ("a first create", create(), 201),
        ("an idempotent replay", create(), 201),
    ];
    for (what, req, status) in echoed {
        assert_eq!(
            request_id_of(req, Some(id)).await,
            (status, id.to_string()),
            "{what}"
        );
    }
    let replay = create()
        .header("x-request-id", id)
        .send()
        .await
        .expect("a replay");
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true"),
        "the create above was replayed"
    );
    assert_eq!(
        replay
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(id)
    );

    let longest = "a".repeat(128);
    let (_, got) = request_id_of(client.get(url("/v1/customers")), Some(&longest)).await;
    assert_eq!(got, longest, "128 characters are well formed");

    let too_long = "a".repeat(129);
    let malformed = [too_long.as_str(), "bad id!", "", "a/b", "ünï"];
    for sent in malformed {
        for path in ["/v1/customers", "/v1/orders/ord_missing", "/v1/nowhere"] {
            let req = client.get(url(path));
            let req = if sent.is_ascii() {
                req.header("x-request-id", sent)
            } else {
                req.header(
                    "x-request-id",
                    reqwest::header::HeaderValue::from_bytes(sent.as_bytes()).expect("bytes"),
                )
            };
            let (_, got) = request_id_of(req, None).await;
            assert_ne!(got, sent, "{sent:?} on {path} is not echoed");
            assert!(
                uuid::Uuid::parse_str(&got).is_ok(),
                "{sent:?} on {path}: a generated id, got {got:?}"
            );
        }
    }
    let (_, a) = request_id_of(client.get(url("/v1/customers")), None).await;
    let (_, b) = request_id_of(client.get(url("/v1/customers")), None).await;
    assert!(
        uuid::Uuid::parse_str(&a).is_ok() && a != b,
        "fresh ids: {a} {b}"
    );
    server.running.stop().await.expect("clean shutdown");
}
