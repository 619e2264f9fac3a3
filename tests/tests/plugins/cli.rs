//! `statusport plugin check` and `statusport plugin list`.

use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::{fault_path, plugin_path, statusport_bin};

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
