//! Status pushes: the payment and delivery flags go out as
//! `updateShopReceipt`; the receipt's status is Etsy's own.

use statusport_core::domain::platform::{Dimension, PlatformError};

use crate::fake::{Etsy, KEYSTRING, SHARED_SECRET};
use crate::{REFRESH, TOKEN_PATH, platform_error, world};

const R: u64 = 2_236_802_984;

#[tokio::test]
async fn a_payment_move_puts_was_paid_and_the_receipt_is_paid() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let receipt =
        w.rt.push_status(
            &w.plugin.callee(),
            &w.ctx,
            &R.to_string(),
            Dimension::Payment,
            "unpaid",
            "paid",
            "k",
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        receipt.summary,
        format!("receipt {R}: payment is now paid (was_paid=true); Etsy's status is \"paid\"")
    );
    assert_eq!(receipt.reference.as_deref(), Some(R.to_string().as_str()));
    {
        let shop = w.shop.state();
        let r = shop.receipt(R);
        assert!(r.is_paid);
        assert!(!r.is_shipped);
        assert_eq!(r.status, "paid");
    }
    let sent = w.shop.received();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let put = &sent[0];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        (
            "PUT",
            format!("/v3/application/shops/31337/receipts/{R}").as_str()
        )
    );
    assert_eq!(
        put.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(put.raw, b"was_paid=true");
    assert_eq!(
        put.header("x-api-key"),
        Some(format!("{KEYSTRING}:{SHARED_SECRET}").as_str())
    );
    assert_eq!(put.authorization.as_deref(), Some("Bearer access-1"));
    // One grant at the token endpoint: Etsy's public client sends its
    // keystring as client_id and no secret.
    let grants = w.oauth.received();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].path, TOKEN_PATH);
    assert_eq!(
        grants[0].form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        grants[0].form_value("client_id").as_deref(),
        Some(KEYSTRING)
    );
    assert_eq!(
        grants[0].form_value("refresh_token").as_deref(),
        Some(REFRESH)
    );
    assert_eq!(grants[0].form_value("client_secret"), None);
}

#[tokio::test]
async fn a_delivery_move_puts_was_shipped_and_etsy_completes_a_paid_receipt() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.state().pay(R);
    let receipt =
        w.rt.push_status(
            &w.plugin.callee(),
            &w.ctx,
            &R.to_string(),
            Dimension::Delivery,
            "unshipped",
            "shipped",
            "k",
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        receipt.summary,
        format!(
            "receipt {R}: delivery is now shipped (was_shipped=true); Etsy's status is \"completed\""
        )
    );
    let shop = w.shop.state();
    assert!(shop.receipt(R).is_shipped);
    assert_eq!(shop.receipt(R).status, "completed");
    drop(shop);
    assert_eq!(w.shop.received()[0].raw, b"was_shipped=true");
}

#[tokio::test]
async fn a_move_back_is_refused_naming_the_allowed_move_before_anything_is_sent() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.state().ship(R);
    let report =
        w.rt.push_status(
            &w.plugin.callee(),
            &w.ctx,
            &R.to_string(),
            Dimension::Delivery,
            "shipped",
            "unshipped",
            "k",
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: "Etsy allows no delivery move shipped → unshipped: a receipt marked shipped \
                      is not marked unshipped again (allowed: unshipped → shipped)"
                .into()
        }
    );
    assert!(w.shop.received().is_empty());
    assert!(w.oauth.received().is_empty());
    assert!(w.shop.state().receipt(R).is_shipped);
}

#[tokio::test]
async fn the_receipts_own_status_is_unsupported_saying_etsy_sets_it() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let report =
        w.rt.push_status(
            &w.plugin.callee(),
            &w.ctx,
            &R.to_string(),
            Dimension::Order,
            "open",
            "paid",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Unsupported { message } => {
            assert!(
                message.starts_with("Etsy sets a receipt's status (open, payment processing, paid, completed, canceled, refunded) itself"),
                "{message}"
            );
            assert!(
                message.contains("Push the payment (paid) or delivery (shipped) dimension instead")
            );
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(w.shop.received().is_empty());
}

#[tokio::test]
async fn etsy_refusing_to_mark_a_canceled_receipt_paid_is_rejected_with_its_message() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.state().cancel(R);
    let report =
        w.rt.push_status(
            &w.plugin.callee(),
            &w.ctx,
            &R.to_string(),
            Dimension::Payment,
            "unpaid",
            "paid",
            "k",
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: format!(
                "PUT {}/v3/application/shops/31337/receipts/{R}: the platform answered HTTP 400: \
                 Receipt {R} is canceled and cannot be marked as paid",
                w.shop.url
            )
        }
    );
    assert!(!w.shop.state().receipt(R).is_paid);
}

#[tokio::test]
async fn an_order_id_that_is_no_receipt_id_is_rejected_before_anything_is_sent() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let report =
        w.rt.push_status(
            &w.plugin.callee(),
            &w.ctx,
            "R-17",
            Dimension::Payment,
            "unpaid",
            "paid",
            "k",
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: "\"R-17\" is not an Etsy receipt id (a positive number such as 2236802984)"
                .into()
        }
    );
    assert!(w.shop.received().is_empty());
}
