//! The API under a fuzzer: schemathesis (from PyPI; `cargo xtask test`
//! installs it) generates requests for every operation of the served
//! OpenAPI document, as the admin, against a host that holds real
//! channels, a customer, orders and a shipment. No answer may be a 5xx or a
//! dropped connection, and every answer must be one the document lists,
//! with its content type and schema.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::Api;

/// Test cases per operation in the fuzzing phase (the examples and
/// coverage phases add their own): about two minutes on two cores.
const MAX_EXAMPLES: u32 = 100;
/// A fixed seed: a failure shows again on the next run.
const SEED: u32 = 1013;
/// Every check but `positive_data_acceptance` (a request the schema allows
/// may still be refused: an unknown channel, a disallowed move) and
/// `object_level_authorization` (one token here).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,missing_required_header,ignored_auth,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability";

/// What schemathesis ran, from its summary.
#[derive(Debug, PartialEq)]
struct Ran {
    operations: u64,
    cases: u64,
}

/// Reads "Tested: N" (operations) and "N generated" (test cases) from the
/// summary schemathesis prints last.
fn ran(output: &str) -> Option<Ran> {
    let number_after = |label: &str| {
        output.lines().rev().find_map(|line| {
            let rest = line.trim().strip_prefix(label)?;
            rest.trim().split([' ', '/']).next()?.parse().ok()
        })
    };
    let cases = output.lines().rev().find_map(|line| {
        let (n, rest) = line.trim().split_once(' ')?;
        rest.starts_with("generated")
            .then(|| n.replace(',', "").parse().ok())
            .flatten()
    })?;
    Some(Ran {
        operations: number_after("Tested:")?,
        cases,
    })
}

#[test]
fn the_summary_is_read() {
    let output = "API Operations:\n  Selected: 71/71\n  Tested: 70\n  Skipped: 1\n\nTest cases:\n  1,234 generated, 1,234 passed\n";
    assert_eq!(
        ran(output),
        Some(Ran {
            operations: 70,
            cases: 1234
        })
    );
}

/// Gives the fuzzer something real behind the ids it tries: orders (one
/// waiting for approval), shipment `s-1`, customer `c-1`, a rule, a
/// template, a webhook.
async fn seed(api: &Api) {
    assert_eq!(
        api.import_rules(statusport_tests::shop::SHIP_RULE).await,
        StatusCode::OK
    );
    let first = api.order("gen", "g-1").await;
    api.order("woo", "w-1").await;
    api.order("appr", "a-1").await;
    let shipment = json!({
        "shipment_id": "s-1",
        "packages": [{"carrier": "dhl", "tracking_number": "00340434161094042557"}],
    });
    let (status, body) = api
        .post(
            &format!("/api/orders/{first}/shipments"),
            &api.admin,
            &shipment,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let template = json!({"name": "hello", "kind": "sms", "text": "Order {{ order.number }}"});
    let (status, body) = api.post("/api/templates", &api.admin, &template).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let hook = json!({"id": "erp", "url": "https://erp.example.com/hooks",
        "events": ["order.paid"], "secret": "s3cret-s3cret-s3cret"});
    let (status, body) = api.post("/api/webhooks", &api.admin, &hook).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Runs schemathesis over the operations `filter` selects; panics with its
/// output on any failure.
async fn schemathesis(api: &Api, filter: [&str; 2]) -> Ran {
    let dir = api.dir.path();
    // Rule files are TOML text: sent as schemathesis sends text/plain.
    std::fs::write(
        dir.join("statusport_hooks.py"),
        "import schemathesis\nschemathesis.serializer.alias(\"application/toml\", \"text/plain\")\n",
    )
    .unwrap();
    let mut command = tokio::process::Command::new("python3");
    command
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{}/api/openapi.json", api.url))
        .args(["--header", &format!("Authorization: Bearer {}", api.admin)])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--seed", &SEED.to_string()])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: the host has the other core (and CPython 3.11's
        // parser is not safe across the threads of several workers).
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        // The admin token on every request, not one schemathesis makes up
        // (ignored_auth still tries without it and with a wrong one).
        .args(["--generation-with-security-parameters", "false"])
        .args(filter)
        .arg("--no-color")
        // Its cache of crashes goes to the test's directory, not the tree.
        .current_dir(dir)
        .env("SCHEMATHESIS_HOOKS", "statusport_hooks")
        .env("PYTHONPATH", dir)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let output = command.output().await.unwrap_or_else(|e| {
        panic!(
            "schemathesis does not run ({e}): `cargo xtask test` installs it, \
             or `python3 -m pip install schemathesis`"
        )
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("No module named schemathesis"),
        "schemathesis is missing: `cargo xtask test` installs it, or `python3 -m pip install 'schemathesis>=4,<5'`"
    );
    assert!(
        output.status.success(),
        "schemathesis found failures ({}):\n{text}",
        output.status
    );
    // Requests that all got 401 would test nothing behind the token.
    assert!(
        !text.contains("Authentication failed"),
        "the admin token stopped working during the run:\n{text}"
    );
    ran(&text).unwrap_or_else(|| panic!("no summary in schemathesis's output:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let api = Api::start().await;
    seed(&api).await;
    let (_, doc) = api.get("/api/openapi.json", "").await;
    // schemathesis leaves out the document it reads.
    let documented = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| *path != "/api/openapi.json")
        .flat_map(|(_, item)| ["get", "post", "put", "delete", "patch"].map(|m| item.get(m)))
        .flatten()
        .count() as u64;
    let started = Instant::now();
    // Revoking tokens comes last, alone: the fuzzer finds the admin token's
    // id in GET /api/tokens and revokes it, and every request after that
    // would get 401.
    let most = schemathesis(&api, ["--exclude-operation-id", "revoke_token"]).await;
    let revoke = schemathesis(&api, ["--include-operation-id", "revoke_token"]).await;
    let took = started.elapsed();
    let ran = Ran {
        operations: most.operations + revoke.operations,
        cases: most.cases + revoke.cases,
    };
    // Straight to stderr, past the test harness's capture: the counts show
    // in every run's output.
    writeln!(
        std::io::stderr(),
        "schemathesis: {} operations, {} test cases in {:.0?}",
        ran.operations,
        ran.cases,
        took
    )
    .unwrap();
    assert_eq!(ran.operations, documented, "every operation was tested");
    assert!(
        took < Duration::from_secs(15 * 60),
        "the fuzz run took {took:?}; lower MAX_EXAMPLES"
    );
    api.stop().await;
}

// What the fuzzer found, each on its own.

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_an_array_is_refused_not_read_as_the_fields_in_order() {
    let api = Api::start().await;
    let order = api.order("gen", "g-1").await;
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/cancel"),
            &api.admin,
            &json!([null, null]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(crate::problem(&body), "invalid");
    assert_eq!(body["field"], "body");
    let (_, order) = api.get(&format!("/api/orders/{order}"), &api.admin).await;
    assert_ne!(order["statuses"]["order"]["code"], "cancelled");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_axum_writes_itself_are_problems_the_document_lists() {
    let api = Api::start().await;
    let response = api
        .http
        .get(format!("{}/api/orders/abc", api.url))
        .bearer_auth(&api.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(crate::problem(&body), "malformed");
    assert!(
        body["detail"].as_str().unwrap().contains("abc"),
        "the detail names the value: {body}"
    );
    let (_, doc) = api.get("/api/openapi.json", "").await;
    let op = &doc["paths"]["/api/orders/{id}"]["get"];
    for status in ["400", "401", "403", "404"] {
        assert!(
            op["responses"][status]["content"]["application/problem+json"].is_object(),
            "GET /api/orders/{{id}} documents {status} as a problem: {op:#}"
        );
    }
    let post = &doc["paths"]["/api/orders"]["post"];
    for status in ["400", "413", "415", "422"] {
        assert!(
            post["responses"][status]["content"]["application/problem+json"].is_object(),
            "POST /api/orders documents {status} as a problem"
        );
    }
    assert!(
        post["responses"]["422"]["content"]["application/json"].is_null(),
        "errors are not documented as application/json"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_too_large_closes_its_connection_and_the_next_request_is_answered() {
    let api = Api::start().await;
    let mut order = crate::new_order("gen", "g-1");
    order["customer"] = json!("x".repeat(2 * 1024 * 1024));
    for _ in 0..5 {
        let response = api
            .http
            .post(format!("{}/api/orders", api.url))
            .bearer_auth(&api.admin)
            .json(&order)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()["connection"], "close");
        // The same client (and its pool) goes on.
        let (status, body) = api.get("/api/orders/999999", &api.admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    api.stop().await;
}
