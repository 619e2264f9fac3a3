//! `describe` and `push-status`: status comments, hold, unhold, cancel,
//! the moves Magento refuses and the statuses it sets itself, and how
//! failures of the API come back.

use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_tests::channel;
use statusport_tests::fake::serve;

use crate::fake::Magento;
use crate::{platform_error, plugin, shop, writes};

const ORDER: &str = "1001";

#[tokio::test]
async fn describe_declares_magentos_statuses_moves_carriers_and_fields() {
    let (_rt, plugin) = plugin().await;
    let p = &plugin.platform;
    assert_eq!(p.id, "adobe-commerce");
    assert_eq!(p.version.to_string(), "1.1.0");
    let codes: Vec<&str> = p.statuses.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "pending",
            "pending_payment",
            "processing",
            "fraud",
            "payment_review",
            "holded",
            "complete",
            "closed",
            "canceled"
        ]
    );
    let initial: Vec<&str> = p
        .statuses
        .iter()
        .filter(|s| s.initial)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(initial, ["pending"]);
    let terminal: Vec<&str> = p
        .statuses
        .iter()
        .filter(|s| s.terminal)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(terminal, ["closed", "canceled"]);
    assert!(p.allows(Dimension::Order, "pending", "holded"));
    assert!(p.allows(Dimension::Order, "holded", "processing"));
    assert!(!p.allows(Dimension::Order, "canceled", "processing"));
    assert!(!p.allows(Dimension::Order, "pending", "closed"));
    assert!(p.carriers.iter().any(|c| c == "dhl"));
    assert!(p.carriers.iter().any(|c| c == "other"));
    let token = p.config_field("access-token").expect("access-token");
    assert!(token.required && token.secret);
    assert_eq!(
        p.config_field("notify-customer")
            .and_then(|f| f.default_value.as_deref()),
        Some("yes")
    );
    assert!(p.extra_hosts.is_empty());
}

#[tokio::test]
async fn a_status_goes_out_as_a_status_comment() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    let receipt = report.result.unwrap();
    assert_eq!(
        receipt.summary,
        "order 1001 (#000001001): pending → processing (status comment)"
    );
    let received = shop.received();
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].path, "/rest/default/V1/orders/1001");
    assert_eq!(
        received[0].header("authorization"),
        Some("Bearer magento-integration-token")
    );
    assert_eq!(
        writes(&shop),
        ["POST /rest/default/V1/orders/1001/comments"]
    );
    let history = &received[1].body["statusHistory"];
    assert_eq!(history["status"], "processing");
    assert_eq!(history["parent_id"], 1001);
    assert_eq!(history["is_customer_notified"], 0);
    let state = shop.state();
    let order = state.order(1001);
    assert_eq!(order.status, "processing");
    assert_eq!(order.comments.len(), 1);
    assert_eq!(order.comments[0].comment, "Status changed to Processing.");
}

#[tokio::test]
async fn a_retried_push_finds_the_status_set_and_writes_nothing() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    for _ in 0..2 {
        rt.push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "processing",
            "same-key",
        )
        .await
        .result
        .unwrap();
    }
    assert_eq!(writes(&shop).len(), 1);
    assert_eq!(shop.state().order(1001).comments.len(), 1);
}

#[tokio::test]
async fn hold_and_unhold_take_magentos_own_routes() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    shop.state().invoice(1001);
    assert_eq!(shop.state().order(1001).status, "processing");
    let push = |from: &'static str, to: &'static str| {
        let (rt, ctx, callee) = (rt.clone(), ctx.clone(), plugin.callee());
        async move {
            rt.push_status(&callee, &ctx, ORDER, Dimension::Order, from, to, "k")
                .await
                .result
        }
    };
    push("processing", "holded").await.unwrap();
    {
        let state = shop.state();
        let order = state.order(1001);
        assert_eq!(
            (order.state.as_str(), order.status.as_str()),
            ("holded", "holded")
        );
        assert_eq!(order.hold_before_status.as_deref(), Some("processing"));
    }
    let released = push("holded", "processing").await.unwrap();
    assert_eq!(
        released.summary,
        "order 1001 (#000001001): holded → processing (unhold)"
    );
    assert_eq!(shop.state().order(1001).status, "processing");
    assert_eq!(
        writes(&shop),
        [
            "POST /rest/default/V1/orders/1001/hold",
            "POST /rest/default/V1/orders/1001/unhold"
        ]
    );
}

#[tokio::test]
async fn a_held_order_goes_back_only_to_the_status_it_had() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    rt.push_status(
        &plugin.callee(),
        &ctx,
        ORDER,
        Dimension::Order,
        "pending",
        "holded",
        "k",
    )
    .await
    .result
    .unwrap();
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "holded",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "Magento releases order 1001 (#000001001) from hold back to \"pending\", the status it had \
             before the hold, not to \"processing\": push holded → pending instead"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(shop.state().order(1001).status, "holded");
    assert_eq!(writes(&shop), ["POST /rest/default/V1/orders/1001/hold"]);
}

#[tokio::test]
async fn cancel_takes_the_cancel_route() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    rt.push_status(
        &plugin.callee(),
        &ctx,
        ORDER,
        Dimension::Order,
        "pending",
        "canceled",
        "k",
    )
    .await
    .result
    .unwrap();
    assert_eq!(writes(&shop), ["POST /rest/default/V1/orders/1001/cancel"]);
    let state = shop.state();
    assert_eq!(state.order(1001).state, "canceled");
    assert_eq!(state.order(1001).status, "canceled");
}

#[tokio::test]
async fn a_cancel_magento_answers_false_to_is_rejected_saying_why() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    // Invoiced in full: Magento's canCancel is false, and its cancel
    // answers 200 `false` instead of an error.
    shop.state().invoice(1001);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "processing",
            "canceled",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert!(
            message.starts_with(
                "Magento did not cancel order 1001 (#000001001) (it answered false): it cancels only orders \
                 with items not yet invoiced"
            ),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(shop.state().order(1001).status, "processing");
}

#[tokio::test]
async fn a_move_magento_does_not_make_is_rejected_naming_the_allowed_moves() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    shop.state().cancel(1001);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "canceled",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "Adobe Commerce allows no move of order 1001 (#000001001) from \"canceled\" to \"processing\" \
             (allowed from canceled: none, \"canceled\" is final)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "1001",
            Dimension::Order,
            "pending",
            "fraud",
            "k",
        )
        .await;
    // The shop's word on the order wins over the host's `from`.
    match platform_error(report.result) {
        PlatformError::Rejected { message } => {
            assert!(
                message.contains("from \"canceled\" to \"fraud\""),
                "{message}"
            )
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(writes(&shop).is_empty());
}

#[tokio::test]
async fn the_allowed_moves_of_a_pending_order_say_how_each_is_made() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "fraud",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert!(
            message.ends_with(
                "(allowed from pending: processing (a status comment), holded (hold), canceled (cancel), \
                 complete (set by Magento itself))"
            ),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(writes(&shop).is_empty());
}

#[tokio::test]
async fn a_status_magento_sets_itself_is_unsupported_naming_the_action() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    shop.state().invoice(1001);
    for (to, action) in [
        ("complete", "once every item is invoiced and shipped"),
        ("closed", "refunded in full (a credit memo)"),
        ("payment_review", "as the payment gateway flags"),
    ] {
        let report = rt
            .push_status(
                &plugin.callee(),
                &ctx,
                ORDER,
                Dimension::Order,
                "processing",
                to,
                "k",
            )
            .await;
        match platform_error(report.result) {
            PlatformError::Unsupported { message } => {
                assert!(
                    message.starts_with(&format!(
                        "order 1001 (#000001001): a push cannot set \"{to}\": Magento"
                    )),
                    "{message}"
                );
                assert!(message.contains(action), "{message}");
            }
            other => panic!("expected unsupported for {to}, got {other:?}"),
        }
    }
    assert!(writes(&shop).is_empty());
}

#[tokio::test]
async fn a_hold_magento_refuses_comes_back_in_magentos_words() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    // Suspected fraud while the payment is under review: the status allows
    // a hold, the state does not.
    shop.state().set(1001, "payment_review", "fraud");
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "fraud",
            "holded",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => {
            assert!(
                message.contains(&format!(
                    "POST {}/rest/default/V1/orders/1001/hold: the platform answered HTTP 400: A hold action is not available.",
                    shop.url
                )),
                "{message}"
            );
            assert!(
                message.contains(
                    "Magento refused to put order 1001 (#000001001) on hold from \"fraud\""
                ),
                "{message}"
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(shop.state().order(1001).status, "fraud");
}

#[tokio::test]
async fn payment_and_delivery_are_no_dimensions_of_magento() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Payment,
            "open",
            "paid",
            "k",
        )
        .await;
    assert!(
        matches!(
            platform_error(report.result),
            PlatformError::Unsupported { .. }
        ),
        "payment pushes are unsupported"
    );
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn an_unknown_order_is_rejected_in_magentos_words() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "4711",
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            format!(
                "GET {}/rest/default/V1/orders/4711: the platform answered HTTP 404: The entity that was \
                 requested doesn't exist. Verify the entity and try again.",
                shop.url
            )
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_saying_what_to_check_and_is_not_retried() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    shop.state().revoked = true;
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Auth { message } => {
            assert!(
                message.contains(
                    "the platform answered HTTP 401: The consumer isn't authorized to access Magento_Sales::sales."
                ),
                "{message}"
            );
            assert!(
                message
                    .contains("Allow OAuth Access Tokens to be used as standalone Bearer tokens"),
                "{message}"
            );
        }
        other => panic!("expected auth, got {other:?}"),
    }
    // An integration token has no refresh: one request, no second try.
    assert_eq!(shop.received().len(), 1);
}

#[tokio::test]
async fn throttling_is_transient_with_the_shops_wait() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    shop.inject(
        429,
        &[("Retry-After", "7")],
        serde_json::json!({"message": "Too many requests"}),
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(retry_after_ms, Some(7000));
            assert!(message.contains("HTTP 429: Too many requests"), "{message}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert_eq!(shop.state().order(1001).status, "pending");
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&[ORDER])).await;
    // The order reads; the comment meets an outage.
    shop.inject_after(
        1,
        500,
        &[],
        serde_json::json!({"message": "Internal Error. Details are available in Magento log file. Report ID: webapi-6790e2f3a1b2c"}),
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(retry_after_ms, None);
            assert!(
                message.starts_with(&format!(
                    "POST {}/rest/default/V1/orders/1001/comments: the platform answered HTTP 500: Internal Error.",
                    shop.url
                )),
                "{message}"
            );
        }
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn the_token_never_goes_over_plain_http_to_another_machine() {
    let (rt, plugin) = plugin().await;
    let shop = serve(Magento::new(&[ORDER])).await;
    let ctx = channel(
        "http://shop.example/rest/default",
        &[("access-token", crate::TOKEN)],
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            ORDER,
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Config { message } => {
            assert!(message.contains("use https://"), "{message}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(report.sent.is_empty());
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn a_shops_address_alone_gets_the_default_rest_root() {
    let (rt, plugin) = plugin().await;
    let shop = serve(Magento::new(&[ORDER])).await;
    let ctx = channel(&shop.url, &[("access-token", crate::TOKEN)]);
    rt.push_status(
        &plugin.callee(),
        &ctx,
        ORDER,
        Dimension::Order,
        "pending",
        "processing",
        "k",
    )
    .await
    .result
    .unwrap();
    assert_eq!(shop.received()[0].path, "/rest/default/V1/orders/1001");
}
