//! Intake: orders polled page by page after the cursor; no webhooks.

use std::collections::BTreeMap;
use std::sync::Arc;

use statusport_core::domain::intake::{Inbound, IncomingOrder};
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_runtime::Runtime;
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_tests::fake::serve;

use crate::fake::Magento;
use crate::{platform_error, plugin, shop};

fn orders(items: Vec<Inbound>) -> Vec<IncomingOrder> {
    items
        .into_iter()
        .map(|i| match i {
            Inbound::Order(o) => o,
            other => panic!("Adobe Commerce's pull brings orders only: {other:?}"),
        })
        .collect()
}

/// Pulls until the plugin says nothing more waits: the orders of every
/// batch in order, the cursor after each batch, and the last cursor.
async fn pull_all(
    rt: &Arc<Runtime>,
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    mut cursor: Option<String>,
) -> (Vec<IncomingOrder>, Vec<String>, Option<String>) {
    let mut all = Vec::new();
    let mut cursors = Vec::new();
    loop {
        let batch = rt
            .pull(&plugin.callee(), ctx, cursor.as_deref())
            .await
            .result
            .expect("the pull answers");
        assert!(cursors.len() < 100, "the pull never ends");
        all.extend(orders(batch.items));
        cursor = batch.next_cursor;
        cursors.push(cursor.clone().expect("every batch has a cursor"));
        if !batch.more {
            return (all, cursors, cursor);
        }
    }
}

fn counts(orders: &[IncomingOrder]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for o in orders {
        *seen.entry(o.platform_order_id.clone()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn a_pull_across_pages_brings_each_order_once_with_its_details() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::seeded(120)).await;
    let (all, cursors, _) = pull_all(&rt, &plugin, &ctx, None).await;
    // 50 a page: three pages, each after the cursor of the one before.
    assert_eq!(cursors.len(), 3);
    assert_eq!(all.len(), 120);
    let seen = counts(&all);
    assert_eq!(seen.len(), 120);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let distinct: std::collections::BTreeSet<&String> = cursors.iter().collect();
    assert_eq!(distinct.len(), 3, "the cursor moves: {cursors:?}");
    // Oldest change first.
    assert!(all.windows(2).all(|w| w[0].updated_at <= w[1].updated_at));

    let state = shop.state();
    let registered = all.iter().find(|o| o.platform_order_id == "4").unwrap();
    let expected = state.order(4);
    assert_eq!(registered.customer.id, "104");
    assert_eq!(registered.customer.name, "Given4 Family4");
    assert_eq!(
        registered.customer.email.as_deref(),
        Some("customer4@example.com")
    );
    assert_eq!(
        registered.customer.address,
        [
            "6146 Honey Bluff Parkway",
            "49628-7978 Calder",
            "Michigan",
            "US"
        ]
    );
    assert_eq!(registered.statuses[&Dimension::Order], "processing");
    assert_eq!(registered.payment_method, "checkmo");
    assert_eq!(registered.lines.len(), expected.items.len());
    assert_eq!(
        registered.lines[0].line_id,
        expected.items[0].item_id.to_string()
    );
    assert_eq!(registered.lines[0].article, "MB-100");
    assert_eq!(registered.lines[0].quantity, expected.items[0].qty_ordered);
    assert_eq!(registered.lines[0].unit_price.minor, 1990);
    assert_eq!(registered.lines[0].unit_price.currency.as_str(), "EUR");
    assert_eq!(registered.shipping.as_ref().unwrap().minor, 500);
    assert_eq!(
        registered.created_at.as_second(),
        expected.created,
        "created_at in UTC"
    );
    let guest = all.iter().find(|o| o.platform_order_id == "5").unwrap();
    assert_eq!(guest.customer.id, "customer5@example.com");
    assert_eq!(guest.statuses[&Dimension::Order], "pending");
    let changed = all.iter().find(|o| o.platform_order_id == "3").unwrap();
    assert_eq!(changed.updated_at.as_second(), state.order(3).updated);
}

#[tokio::test]
async fn each_pull_asks_for_the_first_page_after_its_cursor() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::seeded(60)).await;
    let (_, cursors, _) = pull_all(&rt, &plugin, &ctx, None).await;
    let received = shop.received();
    assert_eq!(received.len(), 2);
    let second = &received[1];
    assert_eq!(second.path, "/rest/default/V1/orders");
    let q = |name: &str| second.query_value(name).unwrap_or_default();
    let cursor: serde_json::Value = serde_json::from_str(&cursors[0]).unwrap();
    assert_eq!(
        q("searchCriteria[filterGroups][0][filters][0][field]"),
        "updated_at"
    );
    assert_eq!(
        q("searchCriteria[filterGroups][0][filters][0][conditionType]"),
        "gteq"
    );
    assert_eq!(
        q("searchCriteria[filterGroups][0][filters][0][value]"),
        cursor["updated_at"].as_str().unwrap()
    );
    assert_eq!(
        q("searchCriteria[filterGroups][1][filters][1][field]"),
        "entity_id"
    );
    assert_eq!(
        q("searchCriteria[filterGroups][1][filters][1][value]"),
        cursor["entity_id"].to_string()
    );
    assert_eq!(q("searchCriteria[sortOrders][0][field]"), "updated_at");
    assert_eq!(q("searchCriteria[sortOrders][1][field]"), "entity_id");
    assert_eq!(q("searchCriteria[pageSize]"), "50");
    assert_eq!(q("searchCriteria[currentPage]"), "1");
}

#[tokio::test]
async fn a_pull_repeated_after_a_crash_brings_the_same_page_again() {
    let (rt, plugin) = plugin().await;
    let (_shop, ctx) = shop(Magento::seeded(120)).await;
    let first = rt.pull(&plugin.callee(), &ctx, None).await.result.unwrap();
    let cursor = first.next_cursor.clone();
    let ids = |items: Vec<Inbound>| -> Vec<String> {
        orders(items)
            .into_iter()
            .map(|o| o.platform_order_id)
            .collect()
    };
    // The host stored the first batch and its cursor, then died before
    // it stored the second: the same cursor brings the same page.
    let a = rt
        .pull(&plugin.callee(), &ctx, cursor.as_deref())
        .await
        .result
        .unwrap();
    let b = rt
        .pull(&plugin.callee(), &ctx, cursor.as_deref())
        .await
        .result
        .unwrap();
    assert_eq!(a.next_cursor, b.next_cursor);
    assert!(a.more);
    let (a, b) = (ids(a.items), ids(b.items));
    assert_eq!(a.len(), 50);
    assert_eq!(a, b);
    assert!(ids(first.items).iter().all(|id| !a.contains(id)));
}

#[tokio::test]
async fn an_order_changed_after_a_pull_comes_again_with_its_new_status() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::seeded(30)).await;
    let (first, _, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
    assert_eq!(first.len(), 30);
    let (nothing, _, cursor) = pull_all(&rt, &plugin, &ctx, cursor).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    shop.state().cancel(7);
    shop.state().invoice(8);
    let (again, _, cursor) = pull_all(&rt, &plugin, &ctx, cursor).await;
    let got: Vec<(&str, &str)> = again
        .iter()
        .map(|o| {
            (
                o.platform_order_id.as_str(),
                o.statuses[&Dimension::Order].as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("7", "canceled"), ("8", "processing")]);
    let (after, _, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
    assert!(after.is_empty());
}

#[tokio::test]
async fn intake_since_sets_where_the_first_pull_starts() {
    let (rt, plugin) = plugin().await;
    let shop = serve(Magento::seeded(5)).await;
    let ctx = statusport_tests::channel(
        &format!("{}/rest/default", shop.url),
        &[
            ("access-token", crate::TOKEN),
            ("intake-since", "2099-01-31"),
        ],
    );
    let batch = rt.pull(&plugin.callee(), &ctx, None).await.result.unwrap();
    assert!(batch.items.is_empty());
    assert!(!batch.more);
    assert_eq!(
        batch.next_cursor.as_deref(),
        Some(r#"{"updated_at":"2099-01-31 00:00:00","entity_id":0}"#)
    );
    assert_eq!(
        shop.received()[0]
            .query_value("searchCriteria[filterGroups][0][filters][0][value]")
            .as_deref(),
        Some("2099-01-31 00:00:00")
    );
}

#[tokio::test]
async fn a_cursor_of_another_plugin_is_refused() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::seeded(1)).await;
    let report = rt
        .pull(
            &plugin.callee(),
            &ctx,
            Some(r#"{"modified":"2026-11-20T10:05:00Z","seen":[]}"#),
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => {
            assert!(
                message.contains("is not an Adobe Commerce intake cursor"),
                "{message}"
            )
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn webhooks_are_unsupported_saying_orders_come_by_polling() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::seeded(1)).await;
    let report = rt
        .accept_webhook(
            &plugin.callee(),
            &ctx,
            &[("content-type".into(), "application/json".into())],
            br#"{"order":{"entity_id":1}}"#,
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Unsupported { message } => {
            assert!(message.contains("come in by polling"), "{message}");
            assert!(message.contains("poll_interval_secs"), "{message}");
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn a_throttled_pull_is_transient_with_the_wait() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::seeded(3)).await;
    shop.inject(
        429,
        &[("Retry-After", "30")],
        serde_json::json!({"message": "Too many requests"}),
    );
    let report = rt.pull(&plugin.callee(), &ctx, None).await;
    match platform_error(report.result) {
        PlatformError::Transient { retry_after_ms, .. } => {
            assert_eq!(retry_after_ms, Some(30_000))
        }
        other => panic!("expected transient, got {other:?}"),
    }
}
