//! `statusport plugin check` and `statusport plugin list`.

use statusport_tests::fake::serve;
use statusport_tests::fake::shared_spec;
use statusport_tests::fake::shopware::Shopware;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::{fault_path, fixture_path, plugin_path, statusport_bin};

const SHOPWARE_SPEC: &str = "shopware6-admin-api-6.7.9.1-oas3.json";
/// An order id as Shopware writes them.
const SHOPWARE_ORDER: &str = "0190a3bc4f6c73aa9f3b2b1d5d2e6f10";

async fn statusport(args: &[&str]) -> (i32, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(statusport_bin())
        .args(args)
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .await
        .expect("statusport runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn check_prints_the_statuses_per_dimension_and_transitions() {
    let path = plugin_path("shopware6");
    let (code, out) = statusport(&["plugin", "check", path.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plugin shopware6 1.1.0 \"Shopware 6\" — contract statusport:adapter@1.1.0"),
        "{out}"
    );
    assert!(
        out.contains("delivery statuses (8, moves by declared transitions):"),
        "{out}"
    );
    assert!(
        out.contains("  open                   → in_progress, cancelled"),
        "{out}"
    );
    assert!(out.contains("describe: valid"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_a_platform_reports_what_was_sent() {
    let shop = serve(WooCommerce::new(&["1001"])).await;
    let path = plugin_path("woocommerce");
    let (code, out) = statusport(&[
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        &shop.url,
        "--config",
        "consumer-key=ck_test",
        "--config",
        "consumer-secret=cs_test",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("push-status 1001 order pending → processing"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "sent PUT {}/wp-json/wc/v3/orders/1001 → 200",
            shop.url
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "sent POST {}/wp-json/wc-shipment-tracking/v3/orders/1001/shipment-trackings → 201",
            shop.url
        )),
        "{out}"
    );
    assert_eq!(shop.state().orders["1001"].trackings.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_json_reports_every_call_with_masked_credentials() {
    let shop = serve(WooCommerce::seeded(3)).await;
    let path = plugin_path("woocommerce");
    let (code, out) = statusport(&[
        "--json",
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        &shop.url,
        "--config",
        "consumer-key=ck_test",
        "--config",
        "consumer-secret=cs_test",
        "--order",
        "1",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON only");
    assert_eq!(report["ok"], true);
    assert_eq!(report["plugin"]["id"], "woocommerce");
    assert_eq!(report["plugin"]["intake"], true);
    let calls = report["calls"].as_array().unwrap();
    let names: Vec<&str> = calls.iter().map(|c| c["call"].as_str().unwrap()).collect();
    assert_eq!(names, ["push-status", "upload-shipment", "pull"]);
    assert_eq!(calls[0]["outcome"], "accepted");
    assert_eq!(calls[0]["summary"], "order 1 is now processing");
    assert_eq!(calls[2]["outcome"], "pulled");
    assert_eq!(calls[2]["orders"], 3);
    let request = &calls[0]["requests"][0];
    assert_eq!(request["method"], "PUT");
    assert_eq!(request["status"], 200);
    let headers: Vec<(String, String)> =
        serde_json::from_value(request["headers"].clone()).unwrap();
    assert!(
        headers.contains(&("authorization".into(), "Basic (secret)".into())),
        "{headers:?}"
    );
    assert!(!out.contains("cs_test"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_flags_a_move_out_of_a_terminal_status() {
    let shop = serve(WooCommerce::new(&["1001"])).await;
    let path = plugin_path("woocommerce");
    let (_, out) = statusport(&[
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        &shop.url,
        "--config",
        "consumer-key=ck_test",
        "--config",
        "consumer-secret=cs_test",
        "--move",
        "order:refunded:processing",
    ])
    .await;
    assert!(
        out.contains("warning: --move order:refunded:processing: the host never pushes this move (\"refunded\" is terminal: no move leaves it)"),
        "{out}"
    );
}

#[tokio::test]
async fn check_names_a_missing_required_config_field() {
    let path = plugin_path("woocommerce");
    let (code, out) = statusport(&[
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        "http://127.0.0.1:9",
    ])
    .await;
    assert_eq!(code, 1);
    assert!(
        out.contains("error: woocommerce needs --config for: consumer-key, consumer-secret"),
        "{out}"
    );
}

#[tokio::test]
async fn check_of_a_broken_plugin_fails_with_the_reason() {
    let path = fault_path("malformed");
    let (code, out) = statusport(&["plugin", "check", path.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(out.starts_with("refused: "), "{out}");
    assert!(
        out.contains("order status \"open\" is declared twice"),
        "{out}"
    );
}

#[tokio::test]
async fn list_shows_what_was_loaded_and_what_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin_path("generic"), dir.path().join("generic.wasm")).unwrap();
    std::fs::copy(fault_path("malformed"), dir.path().join("malformed.wasm")).unwrap();
    let (code, out) = statusport(&["plugin", "list", "--dir", dir.path().to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("  generic        1.0.0     1.0.0     order,payment"),
        "{out}"
    );
    assert!(out.contains("refused:\n  "), "{out}");
    assert!(out.contains("malformed.wasm: describe is invalid"), "{out}");
}

/// Runs `plugin check --spec` against a fake Shopware; also answers what the
/// fake's own check found.
async fn check_against_shopware(
    plugin: &std::path::Path,
    spec: &std::path::Path,
) -> (i32, String, Vec<String>) {
    let shop = serve(Shopware::new(&[SHOPWARE_ORDER])).await;
    let out = statusport(&[
        "plugin",
        "check",
        plugin.to_str().unwrap(),
        "--against",
        &shop.url,
        "--config",
        "client-id=SWIA-TEST",
        "--config",
        "client-secret=secret",
        "--order",
        SHOPWARE_ORDER,
        "--spec",
        spec.to_str().unwrap(),
    ])
    .await;
    (out.0, out.1, shop.take_mismatches())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_the_shopware_plugin_against_its_description_finds_no_mismatch() {
    let (code, out, seen) =
        check_against_shopware(&plugin_path("shopware6"), &shared_spec(SHOPWARE_SPEC)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(seen, Vec::<String>::new());
    assert!(out.contains("(OpenAPI 3.1, 1036 operations)"), "{out}");
    assert!(!out.contains("spec mismatch"), "{out}");
    // The pull of a 1.1 plugin runs (and is checked) too.
    assert!(out.contains("pull from the start (no cursor): "), "{out}");
    assert!(
        out.contains("status change(s); next cursor \"{\"created\":"),
        "{out}"
    );
    assert!(
        out.contains("\nspec: 9 requests checked, 0 mismatches"),
        "{out}"
    );
    // Headers are shown, credentials are not: the token request's secret,
    // the token the answer hands out, and the bearer token sent with it.
    assert!(
        out.contains("       content-type: application/json"),
        "{out}"
    );
    assert!(out.contains(r#""client_secret":"(secret)""#), "{out}");
    assert!(out.contains(r#""access_token":"(secret)""#), "{out}");
    assert!(
        out.contains("       authorization: Bearer (secret)"),
        "{out}"
    );
    assert!(!out.contains(r#""client_secret":"secret""#), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_request_that_differs_from_the_description() {
    let (code, out, seen) =
        check_against_shopware(&fixture_path("wrong-body"), &shared_spec(SHOPWARE_SPEC)).await;
    assert_eq!(code, 1, "{out}");
    // The fake saw the same requests and found the same.
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert!(
        out.contains("spec mismatch: searchOrder (POST /search/order): request body at /limit: \"ten\" is not of type \"integer\" (schema #/components/schemas/Criteria/properties/limit/type)"),
        "{out}"
    );
    assert!(
        out.contains("spec mismatch: orderStateTransition (POST /_action/order/{orderId}/state/{transition}): request body at /documentIds: \"none\" is not of type \"array\" (schema #/paths/~1_action~1order~1{orderId}~1state~1{transition}/post/requestBody/content/application~1json/schema/properties/documentIds/type)"),
        "{out}"
    );
    assert!(
        out.contains("spec mismatch: updateOrderDelivery (PATCH /order-delivery/{id}): request body at /trackingCodes:"),
        "{out}"
    );
    assert!(
        out.contains("\nspec: 3 requests checked, 3 mismatches"),
        "{out}"
    );
}

#[tokio::test]
async fn check_refuses_a_file_that_is_no_api_description() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("not-a-spec.json");
    std::fs::write(&spec, r#"{"name": "shop", "paths": {}}"#).unwrap();
    let path = plugin_path("shopware6");
    let (code, out) = statusport(&[
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        "http://127.0.0.1:9",
        "--config",
        "client-id=x",
        "--config",
        "client-secret=y",
        "--spec",
        spec.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "error: --spec {}: API description {} is not an OpenAPI or Swagger document: it has no `openapi` or `swagger` field (found fields name, paths); give an OpenAPI 3.0, 3.1 or Swagger 2.0 file",
            spec.display(),
            spec.display()
        )),
        "{out}"
    );
}
