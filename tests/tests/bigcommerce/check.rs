//! What the plugin declares, and `statusport plugin check --spec` against
//! the fake store.

use statusport_core::domain::platform::Dimension;
use statusport_tests::fake::{serve, shared_spec};
use statusport_tests::{plugin_path, statusport_bin};

use crate::common::plugin;
use crate::fake::{ACCESS_TOKEN, BigCommerce};

#[tokio::test]
async fn describe_declares_the_statuses_moves_carriers_and_config() {
    let (_, plugin) = plugin().await;
    let platform = &plugin.platform;
    assert_eq!(platform.id, "bigcommerce");
    assert_eq!(platform.version.to_string(), "1.1.0");
    assert_eq!(platform.dimensions(), [Dimension::Order]);
    let codes: Vec<&str> = platform
        .statuses_of(Dimension::Order)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(codes.len(), 15);
    assert!(platform.allows(Dimension::Order, "pending", "awaiting_fulfillment"));
    assert!(platform.allows(Dimension::Order, "disputed", "cancelled"));
    assert!(!platform.allows(Dimension::Order, "shipped", "refunded"));
    assert!(!platform.allows(Dimension::Order, "refunded", "pending"));
    assert!(!platform.allows(Dimension::Order, "pending", "incomplete"));
    assert_eq!(platform.carriers.len(), 16);
    let config: Vec<(&str, bool, bool)> = platform
        .config
        .iter()
        .map(|f| (f.name.as_str(), f.required, f.secret))
        .collect();
    assert_eq!(
        config,
        [
            ("access-token", true, true),
            ("webhook-secret", false, true),
            ("intake-since", false, false),
        ]
    );
    assert!(
        platform.extra_hosts.is_empty(),
        "no token endpoint: no extra host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_against_the_fake_store_finds_no_mismatch() {
    let store = serve(BigCommerce::new(&[1001])).await;
    let cache = tempfile::tempdir().unwrap();
    let spec = shared_spec("bigcommerce-orders-v2-oas3.yaml");
    let path = plugin_path("bigcommerce");
    let out = tokio::process::Command::new(statusport_bin())
        .args([
            "plugin",
            "check",
            path.to_str().unwrap(),
            "--against",
            &BigCommerce::api_url(&store.url),
            "--config",
            &format!("access-token={ACCESS_TOKEN}"),
            "--order",
            "1001",
            "--line",
            "1",
            "--spec",
            spec.to_str().unwrap(),
            "--cache-dir",
        ])
        .arg(cache.path())
        .output()
        .await
        .expect("statusport runs");
    let out = String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr)
        + &format!("\nexit: {:?}", out.status.code());
    assert!(out.ends_with("exit: Some(0)"), "{out}");
    assert!(
        out.contains("push-status 1001 order pending → awaiting_payment"),
        "{out}"
    );
    assert!(!out.contains("spec mismatch"), "{out}");
    assert!(out.contains(", 0 mismatches"), "{out}");
    assert!(
        out.contains(&format!(
            "sent POST {}/orders/1001/shipments → 201",
            BigCommerce::api_url(&store.url)
        )),
        "{out}"
    );
    // The fake saw the same exchanges and found them conforming too.
    assert_eq!(store.take_mismatches(), Vec::<String>::new());
    let state = store.state();
    let order = &state.orders[&1001];
    assert_eq!(order.shipments.len(), 1);
    assert_eq!(order.shipments[0].items, [(1, 1)]);
    assert_eq!(
        order.status_id, 3,
        "one of three items shipped: Partially Shipped"
    );
}
