//! Contract 1.1 beside 1.0: a plugin with intake loads in the same host as
//! the 1.0 plugins, keeps their adapter calls, and answers pulls and
//! webhooks; a 1.0 plugin has no intake.

use std::path::Path;

use statusport_core::domain::intake::Inbound;
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_runtime::{CallError, Registry};
use statusport_tests::{channel, fixture_path, load, plugin_path, runtime, test_limits};

fn copy(from: &Path, dir: &Path) {
    std::fs::copy(from, dir.join(from.file_name().unwrap())).unwrap();
}

#[tokio::test]
async fn the_1_1_plugins_and_the_1_0_plugins_load_in_one_host() {
    let dir = tempfile::tempdir().unwrap();
    for id in ["generic", "woocommerce", "shopware6"] {
        copy(&plugin_path(id), dir.path());
    }
    copy(&fixture_path("intake"), dir.path());
    let rt = runtime(test_limits(), None);
    let registry = Registry::open(rt.clone(), dir.path()).await.unwrap();
    assert!(registry.refusals().is_empty(), "{:?}", registry.refusals());
    let loaded: Vec<(String, String, bool)> = registry
        .plugins()
        .iter()
        .map(|p| {
            (
                p.platform.id.clone(),
                p.contract.to_string(),
                p.has_intake(),
            )
        })
        .collect();
    assert_eq!(
        loaded,
        [
            ("generic".into(), "1.0.0".into(), false),
            ("intake-fixture".into(), "1.1.0".into(), true),
            ("shopware6".into(), "1.1.0".into(), true),
            ("woocommerce".into(), "1.1.0".into(), true),
        ]
    );
    // The same platforms' 1.0 builds, frozen as fixtures, load in the same
    // runtime (a registry holds one plugin per id) and have no intake.
    let mut old = Vec::new();
    for name in ["woocommerce-1.0", "shopware6-1.0"] {
        let plugin = load(&rt, &fixture_path(name)).await;
        old.push((
            plugin.platform.id.clone(),
            plugin.platform.version.to_string(),
            plugin.contract.to_string(),
            plugin.has_intake(),
        ));
    }
    assert_eq!(
        old,
        [
            ("woocommerce".into(), "1.0.0".into(), "1.0.0".into(), false),
            ("shopware6".into(), "1.0.0".into(), "1.0.0".into(), false),
        ]
    );
}

#[tokio::test]
async fn a_pull_goes_on_from_its_cursor_batch_by_batch() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &fixture_path("intake")).await;
    let context = channel("https://fixture.example", &[("orders", "5")]);
    let mut cursor: Option<String> = None;
    let mut ids = Vec::new();
    let mut batches = 0;
    loop {
        let report = rt.pull(&plugin.callee(), &context, cursor.as_deref()).await;
        let batch = report.result.expect("the pull answers");
        batches += 1;
        for item in batch.items {
            let Inbound::Order(order) = item else {
                panic!("a pull of the fixture brings orders only");
            };
            assert_eq!(order.statuses[&Dimension::Order], "open");
            assert_eq!(order.lines[0].unit_price.to_string(), "19.90 EUR");
            ids.push(order.platform_order_id);
        }
        cursor = batch.next_cursor;
        if !batch.more {
            break;
        }
    }
    assert_eq!(batches, 3, "five orders, two at a time");
    assert_eq!(ids, ["F-0", "F-1", "F-2", "F-3", "F-4"]);
    // The last cursor gives nothing new.
    let again = rt
        .pull(&plugin.callee(), &context, cursor.as_deref())
        .await
        .result
        .unwrap();
    assert!(again.items.is_empty() && !again.more);
}

#[tokio::test]
async fn a_webhook_is_taken_only_with_the_channels_signature() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &fixture_path("intake")).await;
    let context = channel("https://fixture.example", &[("secret", "s3cret")]);
    let forged = vec![("X-Fixture-Signature".to_owned(), "guess".to_owned())];
    let refused = rt
        .accept_webhook(&plugin.callee(), &context, &forged, b"F-1:done")
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(&refused, CallError::Platform(PlatformError::Auth { message }) if message.contains("signature")),
        "{refused:?}"
    );
    let signed = vec![("X-Fixture-Signature".to_owned(), "s3cret".to_owned())];
    let items = rt
        .accept_webhook(&plugin.callee(), &context, &signed, b"F-1:done")
        .await
        .result
        .expect("a signed delivery is taken");
    let [Inbound::StatusChange(change)] = items.as_slice() else {
        panic!("one status change: {items:?}");
    };
    assert_eq!(
        (
            change.platform_order_id.as_str(),
            change.dimension,
            change.code.as_str()
        ),
        ("F-1", Dimension::Order, "done")
    );
    assert_eq!(change.change_id, "wh-F-1:done");
}

#[tokio::test]
async fn a_1_1_plugin_answers_the_1_0_calls_and_a_1_0_plugin_has_no_intake() {
    let rt = runtime(test_limits(), None);
    let fixture = load(&rt, &fixture_path("intake")).await;
    let context = channel("https://fixture.example", &[]);
    let receipt = rt
        .push_status(
            &fixture.callee(),
            &context,
            "F-1",
            Dimension::Order,
            "open",
            "done",
            "key-1",
        )
        .await
        .result
        .expect("push-status through the 1.0 adapter interface");
    assert_eq!(receipt.summary, "F-1 is done");

    let generic = load(&rt, &plugin_path("generic")).await;
    let refused = rt
        .pull(&generic.callee(), &context, None)
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(&refused, CallError::Platform(PlatformError::Unsupported { message }) if message.contains("no intake")),
        "{refused:?}"
    );
}
