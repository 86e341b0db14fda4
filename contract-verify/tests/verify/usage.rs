//! Usage errors exit 2 with a message that says what is wrong; none of
//! them panics.

use contract_verify::Exit;

use crate::{toy_spec, verify};

fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("written");
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

/// A port nothing listens on: bound, then closed.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("an address");
    drop(listener);
    format!("http://{addr}")
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    let spec = toy_spec();
    let unreachable = closed_port();
    let (_d1, not_yaml) = temp_file("bad.yaml", "openapi: 3.0.3\npaths: [unclosed\n");
    let (_d2, not_openapi) = temp_file("other.yaml", "hello: world\n");
    let (_d3, dangling) = temp_file(
        "dangling.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n",
    );
    let (_d4, bad_policy) = temp_file(
        "policy.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      x-rate-limit-policy: nope\n      responses:\n        '200': {description: ok}\n",
    );
    let (_d5, fixture) = temp_file("fixture.yaml", "noSuchOperation: {a: 1}\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--spec",
                "/no/such/spec.yaml",
                "--base-url",
                "http://127.0.0.1:9",
            ],
            "cannot read the spec",
        ),
        (
            vec!["--spec", &not_yaml, "--base-url", "http://127.0.0.1:9"],
            "not valid YAML or JSON",
        ),
        (
            vec!["--spec", &not_openapi, "--base-url", "http://127.0.0.1:9"],
            "not an OpenAPI",
        ),
        (
            vec!["--spec", &dangling, "--base-url", "http://127.0.0.1:9"],
            "not in the document",
        ),
        (
            vec!["--spec", &bad_policy, "--base-url", "http://127.0.0.1:9"],
            "x-rate-limit-policies does not declare",
        ),
        (
            vec!["--spec", &spec, "--base-url", &unreachable],
            "does not answer",
        ),
        (
            vec!["--spec", &spec, "--base-url", "ftp://example.com"],
            "not an http",
        ),
        (
            vec!["--spec", &spec, "--base-url", "https://example.com"],
            "https is not supported",
        ),
        (
            vec![
                "--spec",
                &spec,
                "--base-url",
                &unreachable,
                "--checks",
                "bogus",
            ],
            "unknown family `bogus`",
        ),
        (
            vec![
                "--spec",
                &spec,
                "--base-url",
                &unreachable,
                "--header",
                "no colon",
            ],
            "is not `Name: value`",
        ),
        (
            vec![
                "--spec",
                &spec,
                "--base-url",
                &unreachable,
                "--fixture",
                &fixture,
            ],
            "noSuchOperation",
        ),
        (vec!["--spec", &spec], "--base-url"),
    ];
    for (args, expected) in cases {
        let run = verify(&args);
        assert_eq!(run.exit, Exit::Usage, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected `{expected}` in {}",
            run.stderr
        );
    }
}

#[test]
fn requests_never_leave_the_base_url() {
    // A path that would turn the base URL's host into user info and send
    // the request to 127.0.0.2 instead.
    let base = crate::toy::start(crate::toy::Bugs::default());
    let (_dir, spec) = temp_file(
        "escape.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-rate-limit-policies:\n  p: {quota: 1, window: 1}\npaths:\n  '@127.0.0.2:9/x':\n    get:\n      operationId: escape\n      x-rate-limit-policy: p\n      responses:\n        '200': {description: ok}\n",
    );
    let run = verify(&[
        "--spec",
        &spec,
        "--base-url",
        &base,
        "--checks",
        "rate-limit",
    ]);
    assert_eq!(run.exit, Exit::Violation, "{:#}", run.report);
    let reported = run.report.to_string();
    assert!(reported.contains("refusing to send"), "{reported}");
    assert!(
        run.violations()
            .contains(&("http.answered".to_owned(), "escape".to_owned())),
        "{reported}"
    );
}
