//! Conditional requests (RFC 9110 §13) on the wire: strong ETags that are
//! row versions, 304 with the same validators, 412 on a stale If-Match
//! (nothing written), 428 when v2's required If-Match is missing, and two
//! writers racing on one version where exactly one wins.

use serde_json::{Value, json};

use crate::support::TestServer;

fn header(rsp: &reqwest::Response, name: &str) -> Option<String> {
    rsp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn product(server: &TestServer) -> String {
    let admin = server.http(Some(&server.admin_key));
    let p: Value = admin
        .post(format!("{}/v2/products", server.base))
        .json(&json!({"sku": "MUG-1", "name": "Mug", "price": {"amount": "12.50", "currency": "EUR"}}))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("JSON");
    p["id"].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn a_get_revalidates_to_304_with_exactly_the_same_validators() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let id = product(&server).await;
    for version in ["v1", "v2"] {
        let url = format!("{}/{version}/products/{id}", server.base);
        let first = admin.get(&url).send().await.expect("200");
        assert_eq!(first.status().as_u16(), 200);
        let etag = header(&first, "etag").expect("an ETag");
        assert_eq!(etag, "\"r1\"", "a new row is at version 1");
        assert_eq!(
            header(&first, "cache-control").as_deref(),
            Some("private, no-cache")
        );
        for asked in [
            etag.clone(),
            format!("W/{etag}"),
            "*".into(),
            format!("\"r9\", {etag}"),
        ] {
            let again = admin
                .get(&url)
                .header("If-None-Match", &asked)
                .send()
                .await
                .expect("304");
            assert_eq!(
                again.status().as_u16(),
                304,
                "{version} If-None-Match: {asked}"
            );
            assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
            assert_eq!(
                header(&again, "cache-control").as_deref(),
                Some("private, no-cache")
            );
            assert!(header(&again, "x-request-id").is_some());
            assert_eq!(
                header(&again, "deprecation").is_some(),
                version == "v1",
                "v1's lifecycle headers on its 304 too"
            );
            assert!(again.bytes().await.expect("body").is_empty(), "no body");
        }
        let other = admin
            .get(&url)
            .header("If-None-Match", "\"r2\"")
            .send()
            .await
            .expect("200");
        assert_eq!(other.status().as_u16(), 200, "another tag is not a match");
        let body: Value = other.json().await.expect("the body");
        assert_eq!(body["id"], json!(id));
    }
    // A change makes a new version: the old tag no longer matches.
    let changed = admin
        .patch(format!("{}/v1/products/{id}", server.base))
        .json(&json!({"name": "Big mug"}))
        .send()
        .await
        .expect("200");
    assert_eq!(header(&changed, "etag").as_deref(), Some("\"r2\""));
    let stale = admin
        .get(format!("{}/v2/products/{id}", server.base))
        .header("If-None-Match", "\"r1\"")
        .send()
        .await
        .expect("200");
    assert_eq!(stale.status().as_u16(), 200);
    assert_eq!(header(&stale, "etag").as_deref(), Some("\"r2\""));
    // A malformed tag is a 400 that says what was expected.
    let bad = admin
        .get(format!("{}/v2/products/{id}", server.base))
        .header("If-None-Match", "r1")
        .send()
        .await
        .expect("400");
    assert_eq!(bad.status().as_u16(), 400);
    let p: Value = bad.json().await.expect("a problem");
    assert_eq!(p["errors"][0]["pointer"], json!("If-None-Match"), "{p}");
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_list_page_has_an_etag_that_changes_with_the_page() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let id = product(&server).await;
    let url = format!("{}/v2/products", server.base);
    let etag = header(&admin.get(&url).send().await.expect("200"), "etag").expect("an ETag");
    let same = admin
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("304");
    assert_eq!(same.status().as_u16(), 304);
    admin
        .patch(format!("{url}/{id}"))
        .header("If-Match", "*")
        .json(&json!({"active": false}))
        .send()
        .await
        .expect("changed");
    let after = admin
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("200");
    assert_eq!(
        after.status().as_u16(),
        200,
        "an item changed: the page did"
    );
    assert_ne!(header(&after, "etag"), Some(etag));
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn stale_and_missing_if_match_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let id = product(&server).await;
    for (version, header_value, status, code) in [
        ("v1", Some("\"r7\""), 412, "precondition_failed"),
        ("v2", Some("\"r7\""), 412, "precondition_failed"),
        ("v2", Some("W/\"r1\""), 412, "precondition_failed"),
        ("v2", None, 428, "precondition_required"),
        ("v2", Some("r1"), 400, "invalid_parameter"),
    ] {
        let mut req = admin
            .patch(format!("{}/{version}/products/{id}", server.base))
            .json(&json!({"name": "Lost update"}));
        if let Some(v) = header_value {
            req = req.header("If-Match", v);
        }
        let rsp = req.send().await.expect("an answer");
        assert_eq!(
            rsp.status().as_u16(),
            status,
            "{version} If-Match {header_value:?}"
        );
        assert_eq!(
            header(&rsp, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let p: Value = rsp.json().await.expect("a problem");
        assert_eq!(p["code"], json!(code), "{p}");
        assert!(
            p["detail"].as_str().is_some_and(|d| d.contains("If-Match")),
            "{p}"
        );
    }
    let now: Value = admin
        .get(format!("{}/v2/products/{id}", server.base))
        .send()
        .await
        .expect("200")
        .json()
        .await
        .expect("JSON");
    assert_eq!(now["name"], json!("Mug"), "nothing was written");
    // v1 without If-Match still changes (its grace), and so does v2 with
    // the current tag.
    let v1 = admin
        .patch(format!("{}/v1/products/{id}", server.base))
        .json(&json!({"name": "Mug 2"}))
        .send()
        .await
        .expect("200");
    assert_eq!(v1.status().as_u16(), 200);
    let v2 = admin
        .patch(format!("{}/v2/products/{id}", server.base))
        .header("If-Match", header(&v1, "etag").expect("a tag"))
        .json(&json!({"name": "Mug 3"}))
        .send()
        .await
        .expect("200");
    assert_eq!(v2.status().as_u16(), 200);
    assert_eq!(header(&v2, "etag").as_deref(), Some("\"r3\""));
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn two_writers_on_one_version_exactly_one_wins() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let id = product(&server).await;
    for round in 0..5 {
        let url = format!("{}/v2/products/{id}", server.base);
        let etag = header(&admin.get(&url).send().await.expect("200"), "etag").expect("a tag");
        let write = |name: String| {
            let admin = admin.clone();
            let (url, etag) = (url.clone(), etag.clone());
            async move {
                let rsp = admin
                    .patch(url)
                    .header("If-Match", etag)
                    .json(&json!({ "name": name }))
                    .send()
                    .await
                    .expect("an answer");
                rsp.status().as_u16()
            }
        };
        let (a, b) = tokio::join!(write(format!("A{round}")), write(format!("B{round}")));
        let mut statuses = [a, b];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 412],
            "round {round}: exactly one writer wins"
        );
        let now: Value = admin
            .get(&url)
            .send()
            .await
            .expect("200")
            .json()
            .await
            .expect("JSON");
        let winner = if a == 200 {
            format!("A{round}")
        } else {
            format!("B{round}")
        };
        assert_eq!(
            now["name"],
            json!(winner),
            "the winner's write is the one stored"
        );
    }
    server.running.stop().await.expect("clean shutdown");
}
