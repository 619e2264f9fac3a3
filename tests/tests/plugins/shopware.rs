//! The Shopware 6 plugin against the fake Shopware.

use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_core::domain::shipment::{Package, Shipment};
use statusport_runtime::CallError;
use statusport_runtime::call::CallContext;
use statusport_tests::fake::shopware::Shopware;
use statusport_tests::fake::{Server, serve};
use statusport_tests::{channel, load, plugin_path, runtime, test_limits};

/// The order of the tests, its delivery and its current transaction, with
/// Shopware ids (the Admin API's path parameters are 32 hex digits).
const O1: &str = "6f310000000000000000000000000000";
const D1: &str = "6f3100000000000000000000000000d0";
const T1: &str = "6f3100000000000000000000000000e1";

async fn shop() -> (Server<Shopware>, CallContext) {
    let shop = serve(Shopware::new(&[O1])).await;
    let ctx = channel(
        &shop.url,
        &[("client-id", "SWIA-TEST"), ("client-secret", "secret")],
    );
    (shop, ctx)
}

fn shipment(numbers: &[&str]) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: O1.into(),
        shipped_at: "2026-11-20T09:30:00Z".into(),
        packages: numbers
            .iter()
            .map(|n| Package {
                carrier: "dhl".into(),
                tracking_number: (*n).into(),
                tracking_url: None,
                lines: vec![],
            })
            .collect(),
    }
}

#[tokio::test]
async fn an_order_move_posts_the_action_that_leads_there() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            O1,
            Dimension::Order,
            "open",
            "in_progress",
            "k",
        )
        .await;
    assert_eq!(
        report.result.unwrap().summary,
        format!("order {O1}: process → in_progress")
    );
    assert_eq!(shop.state().orders[O1].order.state, "in_progress");
    let calls: Vec<(String, String)> = shop
        .received()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST".into(), "/api/oauth/token".into()),
            ("POST".into(), "/api/search/order".into()),
            (
                "GET".into(),
                format!("/api/_action/state-machine/order/{O1}/state")
            ),
            (
                "POST".into(),
                format!("/api/_action/order/{O1}/state/process")
            ),
        ]
    );
    let search = &shop.received()[1];
    assert_eq!(search.authorization.as_deref(), Some("Bearer token-1"));
    // 6.6 returns deliveries and transactions only when named.
    assert!(search.body["associations"]["deliveries"].is_object());
    assert!(search.body["associations"]["transactions"].is_object());
}

#[tokio::test]
async fn the_token_is_kept_until_it_expires() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    for (from, to) in [("open", "in_progress"), ("in_progress", "completed")] {
        rt.push_status(&plugin.callee(), &ctx, O1, Dimension::Order, from, to, "k")
            .await
            .result
            .unwrap();
    }
    assert_eq!(shop.state().token_requests, 1);
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    rt.push_status(
        &plugin.callee(),
        &ctx,
        O1,
        Dimension::Order,
        "open",
        "in_progress",
        "k",
    )
    .await
    .result
    .unwrap();
    shop.state().revoke_tokens();
    rt.push_status(
        &plugin.callee(),
        &ctx,
        O1,
        Dimension::Order,
        "in_progress",
        "completed",
        "k",
    )
    .await
    .result
    .unwrap();
    assert_eq!(shop.state().token_requests, 2);
    assert_eq!(shop.state().orders[O1].order.state, "completed");
}

#[tokio::test]
async fn a_move_without_transition_is_rejected_naming_the_allowed_moves() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            O1,
            Dimension::Order,
            "open",
            "completed",
            "k",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Rejected { message })) => assert_eq!(
            message,
            format!(
                "Shopware offers no transition of order {O1} to \"completed\" (possible: process → in_progress, cancel → cancelled)"
            )
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(shop.state().orders[O1].order.state, "open");
}

#[tokio::test]
async fn an_illegal_transition_answer_becomes_rejected_with_the_possible_moves() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    // Token, search and state answer normally; then Shopware refuses the
    // action, as it does when the order moved on the shop in between.
    let refuse = serde_json::json!({"errors": [{
        "status": "400", "code": "SYSTEM__ILLEGAL_STATE_TRANSITION", "title": "Bad Request",
        "detail": "Illegal transition \"process\" from state \"in_progress\". Possible transitions are: cancel, complete"
    }]});
    shop.inject_after(3, 400, &[], refuse);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            O1,
            Dimension::Order,
            "open",
            "in_progress",
            "k",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Rejected { message })) => assert_eq!(
            message,
            format!(
                "Shopware refused process of order {O1} (the platform answered HTTP 400: SYSTEM__ILLEGAL_STATE_TRANSITION: Illegal transition \"process\" from state \"in_progress\". Possible transitions are: cancel, complete); possible: process → in_progress, cancel → cancelled"
            )
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_payment_move_goes_to_the_newest_transaction() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    rt.push_status(
        &plugin.callee(),
        &ctx,
        O1,
        Dimension::Payment,
        "open",
        "paid",
        "k",
    )
    .await
    .result
    .unwrap();
    let order = shop.state().orders[O1].clone();
    assert_eq!(order.transactions[1].state, "paid");
    assert_eq!(order.transactions[0].state, "open");
    assert!(
        shop.received()
            .iter()
            .any(|r| r.path == format!("/api/_action/order_transaction/{T1}/state/paid"))
    );
}

#[tokio::test]
async fn a_retried_move_already_made_succeeds_without_a_second_action() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    for _ in 0..2 {
        rt.push_status(
            &plugin.callee(),
            &ctx,
            O1,
            Dimension::Delivery,
            "open",
            "cancelled",
            "k",
        )
        .await
        .result
        .unwrap();
    }
    let actions = shop
        .received()
        .iter()
        .filter(|r| r.path.ends_with("/state/cancel"))
        .count();
    assert_eq!(actions, 1);
}

#[tokio::test]
async fn tracking_codes_go_on_the_delivery_then_it_ships_once() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    let s = shipment(&["00340434", "00340435"]);
    let first = rt
        .upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    let again = rt
        .upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    assert_eq!(
        first.summary,
        format!("delivery {D1}: 2 tracking code(s) added, 0 already present and marked shipped")
    );
    assert_eq!(
        again.summary,
        format!("delivery {D1}: 0 tracking code(s) added, 2 already present")
    );
    let delivery = shop.state().orders[O1].deliveries[0].clone();
    assert_eq!(delivery.tracking_codes, ["00340434", "00340435"]);
    assert_eq!(delivery.state, "shipped");
    let received = shop.received();
    let patches: Vec<_> = received.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].path, format!("/api/order-delivery/{D1}"));
    assert_eq!(
        patches[0].body,
        serde_json::json!({ "trackingCodes": ["00340434", "00340435"] })
    );
    assert_eq!(
        received
            .iter()
            .filter(|r| r.path == format!("/api/_action/order_delivery/{D1}/state/ship"))
            .count(),
        1
    );
}

#[tokio::test]
async fn too_many_requests_is_transient_with_the_platforms_delay() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    shop.inject(
        429,
        &[("retry-after", "7")],
        serde_json::json!({"errors": []}),
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            O1,
            Dimension::Order,
            "open",
            "in_progress",
            "k",
        )
        .await;
    match report.result {
        Err(
            e @ CallError::Platform(PlatformError::Transient {
                retry_after_ms: Some(7000),
                ..
            }),
        ) => {
            assert!(e.is_retryable())
        }
        other => panic!("expected a transient error with a 7 s delay, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_client_credentials_are_an_auth_error_naming_the_fields() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let shop = serve(Shopware::new(&[O1])).await;
    let ctx = channel(
        &shop.url,
        &[("client-id", "SWIA-TEST"), ("client-secret", "nope")],
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            O1,
            Dimension::Order,
            "open",
            "in_progress",
            "k",
        )
        .await;
    assert_eq!(
        report.result.unwrap_err().to_string(),
        "auth: Shopware refused the integration's client credentials (HTTP 401): check client-id and client-secret"
    );
}
