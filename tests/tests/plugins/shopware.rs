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
async fn a_retried_payment_move_already_made_succeeds_without_a_second_action() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("shopware6")).await;
    let (shop, ctx) = shop().await;
    for _ in 0..2 {
        let result = rt
            .push_status(
                &plugin.callee(),
                &ctx,
                O1,
                Dimension::Payment,
                "open",
                "paid",
                "k",
            )
            .await
            .result;
        assert!(result.is_ok(), "{result:?}");
    }
    let actions = shop
        .received()
        .iter()
        .filter(|r| r.path.ends_with("/state/paid"))
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

mod intake {
    //! Orders and state changes coming in: pulls with the cursor, and the
    //! app system's signed webhooks.

    use statusport_core::domain::intake::Inbound;
    use statusport_core::domain::platform::{Dimension, PlatformError};
    use statusport_runtime::CallError;
    use statusport_runtime::call::CallContext;
    use statusport_tests::fake::serve;
    use statusport_tests::fake::shopware::Shopware;
    use statusport_tests::{channel, load, plugin_path, runtime, test_limits};

    const SECRET: &str = "app-secret-1";

    fn context(url: &str) -> CallContext {
        channel(
            url,
            &[
                ("client-id", "SWIA-TEST"),
                ("client-secret", "secret"),
                ("app-secret", SECRET),
            ],
        )
    }

    use crate::pulls::{counts, pull_all};

    #[tokio::test]
    async fn a_pull_across_batches_brings_each_order_once_changed_or_not() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("shopware6")).await;
        let shop = serve(Shopware::seeded(250)).await;
        let ctx = context(&shop.url);
        let (all, batches, _) = pull_all(&rt, &plugin, &ctx, None).await;
        assert_eq!(counts(&all).len(), 250);
        assert!(counts(&all).values().all(|n| *n == 1), "{:?}", counts(&all));
        assert_eq!(batches, 3);
        let o = all
            .iter()
            .find(|o| o.platform_order_id == format!("0{:031x}", 8))
            .unwrap();
        assert_eq!(o.customer.name, "Given8 Family8");
        assert_eq!(o.customer.address, ["Ebbinghoff 10", "48624 Schöppingen"]);
        let lines: Vec<(&str, u32, String)> = o
            .lines
            .iter()
            .map(|l| (l.article.as_str(), l.quantity, l.unit_price.to_string()))
            .collect();
        assert_eq!(
            lines,
            [
                ("SW100", 1, "19.90 EUR".to_owned()),
                ("SW101", 1, "20.90 EUR".to_owned()),
                ("SW102", 1, "21.90 EUR".to_owned()),
            ]
        );
        assert_eq!(o.shipping.unwrap().to_string(), "4.90 EUR");
        assert_eq!(o.payment_method, "payment_invoice");
        let statuses: Vec<(Dimension, &str)> =
            o.statuses.iter().map(|(d, c)| (*d, c.as_str())).collect();
        assert_eq!(
            statuses,
            [
                (Dimension::Order, "open"),
                (Dimension::Payment, "open"),
                (Dimension::Delivery, "open")
            ]
        );
        let guest = all
            .iter()
            .find(|o| o.platform_order_id == format!("0{:031x}", 5))
            .unwrap();
        assert_eq!(guest.customer.id, "customer5@example.com");
        let search = shop
            .received()
            .into_iter()
            .find(|r| r.path == "/api/search/order")
            .unwrap();
        assert_eq!(search.body["limit"], 100);
        assert!(
            search.body["associations"]["transactions"]["associations"]["paymentMethod"]
                .is_object()
        );
    }

    #[tokio::test]
    async fn an_order_changed_after_a_pull_comes_again_with_its_new_states() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("shopware6")).await;
        let shop = serve(Shopware::seeded(20)).await;
        let ctx = context(&shop.url);
        let (first, _, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
        assert_eq!(first.len(), 20);
        let (nothing, _, cursor) = pull_all(&rt, &plugin, &ctx, cursor).await;
        assert!(nothing.is_empty(), "{:?}", counts(&nothing));

        let (a, b, c) = (
            format!("0{:031x}", 4),
            format!("0{:031x}", 9),
            format!("0{:031x}", 10),
        );
        shop.state().cancel(&a);
        shop.state().mark_paid(&b);
        shop.state().ship(&c);
        let (again, _, cursor) = pull_all(&rt, &plugin, &ctx, cursor).await;
        let changed: Vec<(&str, &str, &str, &str)> = again
            .iter()
            .map(|o| {
                (
                    o.platform_order_id.as_str(),
                    o.statuses[&Dimension::Order].as_str(),
                    o.statuses[&Dimension::Payment].as_str(),
                    o.statuses[&Dimension::Delivery].as_str(),
                )
            })
            .collect();
        assert_eq!(
            changed,
            [
                (a.as_str(), "cancelled", "open", "open"),
                (b.as_str(), "open", "paid", "open"),
                (c.as_str(), "open", "open", "shipped"),
            ]
        );
        let (nothing, _, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
        assert!(nothing.is_empty(), "{:?}", counts(&nothing));
    }

    #[tokio::test]
    async fn many_orders_with_one_time_are_neither_lost_nor_repeated() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("shopware6")).await;
        let shop = serve(Shopware::seeded(240)).await;
        {
            // A bulk change writes 150 orders in one millisecond, and 60
            // never-changed orders were placed in another.
            let mut state = shop.state();
            let ids: Vec<String> = state.orders.keys().cloned().collect();
            let changed_at = state.orders[&ids[200]].created_ms + 1;
            let placed_at = state.orders[&ids[0]].created_ms;
            for id in &ids[20..170] {
                state.orders.get_mut(id).unwrap().updated_ms = Some(changed_at);
            }
            for id in &ids[170..230] {
                let o = state.orders.get_mut(id).unwrap();
                o.updated_ms = None;
                o.created_ms = placed_at;
            }
        }
        let ctx = context(&shop.url);
        let (all, batches, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
        assert_eq!(counts(&all).len(), 240);
        assert!(counts(&all).values().all(|n| *n == 1), "{:?}", counts(&all));
        assert!(batches >= 3);
        let (nothing, _, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
        assert!(nothing.is_empty(), "{:?}", counts(&nothing));
    }

    #[tokio::test]
    async fn a_signed_state_webhook_gives_the_status_change() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("shopware6")).await;
        let shop = serve(Shopware::seeded(3)).await;
        let id = format!("0{:031x}", 2);
        shop.state().mark_paid(&id);
        let delivery = shop.state().webhook(
            &id,
            "state_enter.order_transaction.state.paid",
            SECRET,
            "0b8a5c2e7f1d4e3a9c6b5d4e3f2a1b0c",
        );
        let items = rt
            .accept_webhook(
                &plugin.callee(),
                &context(&shop.url),
                &delivery.headers,
                &delivery.body,
            )
            .await
            .result
            .expect("a signed delivery is taken");
        let [Inbound::StatusChange(change)] = items.as_slice() else {
            panic!("one status change: {items:?}");
        };
        assert_eq!(change.change_id, "0b8a5c2e7f1d4e3a9c6b5d4e3f2a1b0c");
        assert_eq!(change.platform_order_id, id);
        assert_eq!(
            (change.dimension, change.code.as_str()),
            (Dimension::Payment, "paid")
        );
        let updated = shop.state().orders[&id].updated_ms.unwrap();
        assert_eq!(change.changed_at.as_second(), updated / 1000);
    }

    #[tokio::test]
    async fn a_signed_order_placed_webhook_gives_the_order_read_through_the_api() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("shopware6")).await;
        let shop = serve(Shopware::seeded(3)).await;
        let id = format!("0{:031x}", 1);
        let delivery = shop
            .state()
            .webhook(&id, "checkout.order.placed", SECRET, "e1");
        let items = rt
            .accept_webhook(
                &plugin.callee(),
                &context(&shop.url),
                &delivery.headers,
                &delivery.body,
            )
            .await
            .result
            .expect("a signed delivery is taken");
        let [Inbound::Order(order)] = items.as_slice() else {
            panic!("one order: {items:?}");
        };
        assert_eq!(order.platform_order_id, id);
        assert_eq!(order.lines.len(), 2);
        let search = shop
            .received()
            .into_iter()
            .find(|r| r.path == "/api/search/order")
            .unwrap();
        assert_eq!(search.body["ids"], serde_json::json!([id]));
    }

    #[tokio::test]
    async fn a_forged_signature_is_an_auth_error_and_a_missing_secret_a_config_error() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("shopware6")).await;
        let shop = serve(Shopware::seeded(1)).await;
        let id = format!("0{:031x}", 1);
        let forged = shop
            .state()
            .webhook(&id, "state_enter.order.state.cancelled", "guess", "e2");
        let refused = rt
            .accept_webhook(
                &plugin.callee(),
                &context(&shop.url),
                &forged.headers,
                &forged.body,
            )
            .await
            .result
            .unwrap_err();
        assert!(
            matches!(&refused, CallError::Platform(PlatformError::Auth { message }) if message.contains("shopware-shop-signature")),
            "{refused:?}"
        );
        let signed = shop
            .state()
            .webhook(&id, "state_enter.order.state.cancelled", SECRET, "e3");
        let no_secret = channel(
            &shop.url,
            &[("client-id", "SWIA-TEST"), ("client-secret", "secret")],
        );
        let refused = rt
            .accept_webhook(&plugin.callee(), &no_secret, &signed.headers, &signed.body)
            .await
            .result
            .unwrap_err();
        assert!(
            matches!(&refused, CallError::Platform(PlatformError::Config { message }) if message.contains("app-secret")),
            "{refused:?}"
        );
    }
}
