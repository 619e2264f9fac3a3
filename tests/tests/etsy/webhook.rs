//! Etsy's webhooks: Standard Webhooks signatures, the receipt read through
//! the API, the delivery's id as the change id.

use statusport_core::domain::intake::Inbound;
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_tests::delivery::now_secs;

use crate::fake::Etsy;
use crate::{SECRET, orders, platform_error, world};

const R: u64 = 2_236_802_984;

#[tokio::test]
async fn a_signed_order_paid_delivery_gives_the_receipt_read_through_the_api() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.state().pay(R);
    let delivery = w
        .shop
        .state()
        .webhook(R, "order.paid", SECRET, "msg_2mXqA7", now_secs());
    let items =
        w.rt.accept_webhook(
            &w.plugin.callee(),
            &w.ctx,
            &delivery.headers,
            &delivery.body,
        )
        .await
        .result
        .expect("a signed delivery is taken");
    let [Inbound::Order(order), Inbound::StatusChange(change)] = items.as_slice() else {
        panic!("the receipt and the change it announces: {items:?}");
    };
    assert_eq!(order.platform_order_id, R.to_string());
    assert_eq!(order.statuses[&Dimension::Order], "paid");
    assert_eq!(order.statuses[&Dimension::Payment], "paid");
    assert_eq!(order.lines[0].article, "TEA-100");
    assert_eq!(change.change_id, "etsy-webhook:msg_2mXqA7");
    assert_eq!(change.platform_order_id, R.to_string());
    assert_eq!(
        (change.dimension, change.code.as_str()),
        (Dimension::Payment, "paid")
    );
    assert_eq!(change.changed_at, order.updated_at);
    assert_eq!(
        change.changed_at.as_second(),
        w.shop.state().receipt(R).updated
    );
    // The receipt was read from the channel's own Etsy, never from the
    // URL the delivery names.
    let reads: Vec<String> = w.shop.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(reads, [format!("/v3/application/shops/31337/receipts/{R}")]);
}

#[tokio::test]
async fn a_delivery_sent_again_gives_the_same_change_id_and_an_old_one_is_refused() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.state().pay(R);
    let at = now_secs();
    let delivery = w
        .shop
        .state()
        .webhook(R, "order.paid", SECRET, "msg_retry", at);
    let accept = |d: &statusport_tests::delivery::Delivery| {
        let w = &w;
        let (headers, body) = (d.headers.clone(), d.body.clone());
        async move {
            w.rt.accept_webhook(&w.plugin.callee(), &w.ctx, &headers, &body)
                .await
                .result
        }
    };
    let first = accept(&delivery).await.unwrap();
    let again = accept(&delivery).await.unwrap();
    assert_eq!(first, again, "a retried delivery carries the same items");
    // Etsy retries with a new timestamp and signature, the same message id.
    let retried = w
        .shop
        .state()
        .webhook(R, "order.paid", SECRET, "msg_retry", at + 60);
    assert_eq!(accept(&retried).await.unwrap(), first);
    // A delivery captured and sent again ten minutes later is refused.
    let replayed = w
        .shop
        .state()
        .webhook(R, "order.paid", SECRET, "msg_old", at - 600);
    match platform_error(accept(&replayed).await) {
        PlatformError::Auth { message } => {
            assert!(message.contains("refused as a replay"), "{message}")
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_forged_or_altered_delivery_is_an_auth_error_and_nothing_is_read() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let forged = w.shop.state().webhook(
        R,
        "order.paid",
        "whsec_Z3Vlc3NlZC1ieS1zb21lb25lLWVsc2U=",
        "msg_1",
        now_secs(),
    );
    let mut altered = w
        .shop
        .state()
        .webhook(R, "order.paid", crate::SECRET, "msg_2", now_secs());
    altered.body = altered
        .body
        .iter()
        .map(|b| if *b == b'1' { b'2' } else { *b })
        .collect();
    for delivery in [forged, altered] {
        let report =
            w.rt.accept_webhook(
                &w.plugin.callee(),
                &w.ctx,
                &delivery.headers,
                &delivery.body,
            )
            .await;
        assert_eq!(
            platform_error(report.result),
            PlatformError::Auth {
                message:
                    "webhook-signature does not match the body under the channel's webhook secret"
                        .into()
            }
        );
    }
    let unsigned = w
        .shop
        .state()
        .webhook(R, "order.paid", SECRET, "msg_3", now_secs())
        .with_header("webhook-signature", "");
    let report =
        w.rt.accept_webhook(
            &w.plugin.callee(),
            &w.ctx,
            &unsigned.headers,
            &unsigned.body,
        )
        .await;
    assert!(matches!(
        platform_error(report.result),
        PlatformError::Auth { .. }
    ));
    assert!(w.shop.received().is_empty());
}

#[tokio::test]
async fn without_a_webhook_secret_a_delivery_is_a_config_error_naming_the_field() {
    let w = world(|t| Etsy::new(t, &[R]), &[("webhook-secret", "")]).await;
    let delivery = w
        .shop
        .state()
        .webhook(R, "order.paid", SECRET, "msg_1", now_secs());
    let report =
        w.rt.accept_webhook(
            &w.plugin.callee(),
            &w.ctx,
            &delivery.headers,
            &delivery.body,
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Config {
            message:
                "the channel has no value for \"webhook-secret\": set it in the channel's config"
                    .into()
        }
    );
}

#[tokio::test]
async fn a_delivery_about_another_shop_is_rejected_and_one_about_no_receipt_carries_nothing() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let other_shop = {
        let mut shop = w.shop.state();
        shop.shop_id = 4242;
        let d = shop.webhook(R, "order.paid", SECRET, "msg_1", now_secs());
        shop.shop_id = crate::fake::SHOP_ID;
        d
    };
    let report =
        w.rt.accept_webhook(
            &w.plugin.callee(),
            &w.ctx,
            &other_shop.headers,
            &other_shop.body,
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: "the delivery is about shop 4242, but this channel is shop 31337: give each \
                      shop its own channel and webhook endpoint"
                .into()
        }
    );
    let body = br#"{"event_type":"listing.updated","resource_url":"https://openapi.etsy.com/v3/application/listings/9","shop_id":31337}"#;
    let listing = statusport_tests::delivery::standard_webhook(SECRET, "msg_2", now_secs(), body);
    let items =
        w.rt.accept_webhook(&w.plugin.callee(), &w.ctx, &listing.headers, &listing.body)
            .await
            .result
            .unwrap();
    assert!(items.is_empty(), "{items:?}");
    assert!(orders(&items).is_empty());
    assert!(w.shop.received().is_empty());
}
