//! Each bundled plugin's `describe` round-trips through the runtime, and
//! still equals the snapshot the core's tests run on.

use std::path::PathBuf;

use statusport_core::domain::platform::{Dimension, RawPlatformInfo};
use statusport_tests::{load, plugin_path, root, runtime, test_limits};

#[tokio::test]
async fn generic_declares_the_order_and_payment_lists() {
    let rt = runtime(test_limits(), None);
    let p = load(&rt, &plugin_path("generic")).await;
    assert_eq!(p.platform.id, "generic");
    assert_eq!(p.contract.to_string(), "1.0.0");
    assert_eq!(
        p.platform.dimensions(),
        vec![Dimension::Order, Dimension::Payment]
    );
    let order: Vec<&str> = p
        .platform
        .statuses_of(Dimension::Order)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "not_approved",
            "approved",
            "received",
            "processing",
            "produced",
            "delivered",
            "invoiced",
            "archived",
            "cancelled",
            "error",
            "rejected",
            "payment_failed",
            "payment_waiting",
            "reminder_1",
            "reminder_2"
        ]
    );
    let payment: Vec<&str> = p
        .platform
        .statuses_of(Dimension::Payment)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(payment, ["not_paid", "payment_announced", "paid"]);
    assert!(p.platform.transitions.is_empty());
    assert!(
        p.platform
            .status(Dimension::Order, "archived")
            .unwrap()
            .terminal
    );
    assert!(p.platform.extra_hosts.is_empty());
}

#[tokio::test]
async fn woocommerce_declares_one_free_order_dimension_and_its_config() {
    let rt = runtime(test_limits(), None);
    let p = load(&rt, &plugin_path("woocommerce")).await;
    assert_eq!(p.platform.name, "WooCommerce");
    assert_eq!(p.platform.dimensions(), vec![Dimension::Order]);
    assert_eq!(p.platform.statuses.len(), 8);
    assert!(
        p.platform
            .allows(Dimension::Order, "completed", "processing")
    );
    let secret: Vec<&str> = p
        .platform
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secret, ["consumer-secret", "webhook-secret"]);
    assert!(p.platform.carriers.contains(&"dhl".to_owned()));
}

#[tokio::test]
async fn shopware_declares_three_state_machines() {
    let rt = runtime(test_limits(), None);
    let p = load(&rt, &plugin_path("shopware6")).await;
    assert_eq!(
        p.platform.dimensions(),
        vec![Dimension::Order, Dimension::Payment, Dimension::Delivery]
    );
    assert_eq!(p.platform.statuses_of(Dimension::Order).count(), 4);
    assert_eq!(p.platform.statuses_of(Dimension::Delivery).count(), 8);
    assert_eq!(p.platform.statuses_of(Dimension::Payment).count(), 12);
    assert!(p.platform.allows(Dimension::Order, "open", "in_progress"));
    assert!(!p.platform.allows(Dimension::Order, "open", "completed"));
    assert!(p.platform.allows(Dimension::Delivery, "open", "shipped"));
    assert!(p.platform.allows(Dimension::Payment, "paid", "refunded"));
}

/// Where the core's tests keep bundled plugin `id`'s `describe` answer.
fn snapshot_path(id: &str) -> PathBuf {
    root()
        .join("host/core/tests/platforms")
        .join(format!("{id}.json"))
}

/// The core's tests must not link wasmtime, so they read the bundled
/// plugins' declarations from snapshots: a plugin that changes what it
/// declares must change its snapshot too.
#[tokio::test]
async fn each_bundled_plugins_describe_equals_its_snapshot() {
    let rt = runtime(test_limits(), None);
    let mut stale = Vec::new();
    for id in ["generic", "woocommerce", "shopware6"] {
        let plugin = load(&rt, &plugin_path(id)).await;
        let live = rt
            .describe(&plugin.callee())
            .await
            .result
            .unwrap_or_else(|e| panic!("plugin {id}: describe failed: {e}"));
        let path = snapshot_path(id);
        let snapshot = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot be read: {e}"))
            .and_then(|text| {
                serde_json::from_str::<RawPlatformInfo>(&text)
                    .map_err(|e| format!("is not a describe answer: {e}"))
            });
        let problem = match snapshot {
            Ok(snapshot) if snapshot == live => continue,
            Ok(_) => "differs from the live describe".to_owned(),
            Err(e) => e,
        };
        let json = serde_json::to_string_pretty(&live).expect("platform info is JSON");
        stale.push(format!(
            "plugin {id}: snapshot {} {problem}; if the change is intended, write this into it:\n{json}",
            path.display()
        ));
    }
    assert!(stale.is_empty(), "{}", stale.join("\n\n"));
}
