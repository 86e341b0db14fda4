//! The three renderings of one report: what each must carry.

use contract_verify::report::{Applicability, CheckResult, Outcome, Report};

fn report() -> Report {
    let mut failed = CheckResult::new("problem.shape", "listThings");
    failed.violation(
        "RFC 9457 §3",
        "a 400 was served as <text/plain> & \"raw\"",
        None,
    );
    let mut skipped = CheckResult::new("rate-limit.burst", "listThings");
    skipped.not_run("quota 1000 is more than --max-requests");
    Report {
        spec: "spec.yaml".into(),
        base_url: "http://127.0.0.1:1".into(),
        requests_sent: 7,
        duration_ms: 1500,
        applicability: vec![Applicability {
            family: "lifecycle".into(),
            noun: "deprecated operations".into(),
            declared_by: "deprecated: true".into(),
            operations: vec![],
        }],
        results: vec![
            CheckResult::new("pagination.walk", "listThings"),
            failed,
            skipped,
        ],
    }
}

#[test]
fn human_json_and_junit_carry_every_result() {
    let r = report();
    let human = r.human();
    for expected in [
        "lifecycle     0 deprecated operations declared (deprecated: true): nothing checked",
        "PASS    pagination.walk",
        "FAIL    problem.shape",
        "NOT RUN rate-limit.burst",
        "reason: quota 1000 is more than --max-requests",
        "rule: RFC 9457 §3",
        "1 passed, 1 failed, 1 not run; 1 violation; 7 requests in 1.5 s",
    ] {
        assert!(human.contains(expected), "`{expected}` in:\n{human}");
    }
    let json: serde_json::Value = serde_json::from_str(&r.json()).expect("valid JSON");
    assert_eq!(json["results"][1]["outcome"]["status"], "fail");
    assert_eq!(json["results"][2]["outcome"]["status"], "not_run");
    assert_eq!(
        json["results"][1]["violations"][0]["check"],
        "problem.shape"
    );
    let junit = r.junit();
    assert!(
        junit.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
        "{junit}"
    );
    assert!(
        junit.contains("message=\"a 400 was served as &lt;text/plain&gt; &amp; &quot;raw&quot;\""),
        "{junit}"
    );
    assert!(junit.contains("<skipped message=\"quota 1000 is more than --max-requests\"/>"));
    assert_eq!(r.counts(), (1, 1, 1));
    assert!(matches!(r.results[2].outcome, Outcome::NotRun(_)));
}
