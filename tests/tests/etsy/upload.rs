//! Tracking codes: `createReceiptShipment` once per code, whatever the
//! retries.

use statusport_core::domain::platform::PlatformError;

use crate::fake::Etsy;
use crate::{platform_error, shipment, world};

const R: u64 = 2_236_802_984;

fn posts(w: &crate::World) -> Vec<statusport_tests::fake::Recorded> {
    w.shop
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[tokio::test]
async fn each_tracking_code_goes_to_the_receipt_once_even_when_sent_again() {
    let w = world(|t| Etsy::new(t, &[R]), &[("send-bcc", "yes")]).await;
    w.shop.state().pay(R);
    let s = shipment(
        R,
        &[
            ("dhl", "00340434161094042557"),
            ("ups", "1Z999AA10123456784"),
        ],
    );
    let first =
        w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
            .await
            .result
            .unwrap();
    let again =
        w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
            .await
            .result
            .unwrap();
    assert_eq!(
        first.summary,
        format!("receipt {R}: 2 tracking code(s) added, 0 already present")
    );
    assert_eq!(first.reference.as_deref(), Some("1,2"));
    assert_eq!(
        again.summary,
        format!("receipt {R}: 0 tracking code(s) added, 2 already present")
    );
    assert_eq!(again.reference.as_deref(), Some("1,2"));
    {
        let shop = w.shop.state();
        let r = shop.receipt(R);
        let entries: Vec<(&str, &str)> = r
            .shipments
            .iter()
            .map(|s| (s.carrier_name.as_str(), s.tracking_code.as_str()))
            .collect();
        assert_eq!(
            entries,
            [
                ("dhl-germany", "00340434161094042557"),
                ("ups", "1Z999AA10123456784")
            ]
        );
        assert!(r.is_shipped);
        assert_eq!(r.status, "completed");
    }
    let posts = posts(&w);
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].path,
        format!("/v3/application/shops/31337/receipts/{R}/tracking")
    );
    assert_eq!(
        posts[0].form_value("carrier_name").as_deref(),
        Some("dhl-germany")
    );
    assert_eq!(posts[0].form_value("send_bcc").as_deref(), Some("true"));
    assert_eq!(posts[0].form_value("note_to_buyer"), None);
    // Each upload reads the receipt first.
    let reads = w
        .shop
        .received()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(reads, 2);
}

#[tokio::test]
async fn an_answer_lost_after_etsy_kept_the_code_adds_nothing_on_the_retry() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let s = shipment(R, &[("usps", "9400111202508299673168")]);
    w.shop.state().lose_next_answer = true;
    let lost =
        w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
            .await;
    match platform_error(lost.result) {
        PlatformError::Transient { message, .. } => assert!(
            message.ends_with("the platform answered HTTP 503: upstream request timeout"),
            "{message}"
        ),
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert_eq!(w.shop.state().receipt(R).shipments.len(), 1);
    let retry =
        w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
            .await
            .result
            .unwrap();
    assert_eq!(
        retry.summary,
        format!("receipt {R}: 0 tracking code(s) added, 1 already present")
    );
    assert_eq!(w.shop.state().receipt(R).shipments.len(), 1);
    assert_eq!(posts(&w).len(), 1);
    assert_eq!(
        posts(&w)[0].form_value("send_bcc").as_deref(),
        Some("false")
    );
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_naming_the_known_ones_before_anything_is_sent() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let s = shipment(R, &[("dhl", "00340434161094042557"), ("pigeon", "P-1")]);
    let report =
        w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
            .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message:
                "carrier \"pigeon\" is not known to this plugin (known: dhl, dhl-express, dpd, \
                      gls, ups, fedex, usps, hermes, post-at, post-ch, royal-mail, tnt, colissimo, \
                      bpost, postnl, other)"
                    .into()
        }
    );
    assert!(w.shop.received().is_empty());
    assert!(w.shop.state().receipt(R).shipments.is_empty());
}

#[tokio::test]
async fn a_carrier_etsy_does_not_track_gets_its_link_in_the_note_to_the_buyer() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let mut s = shipment(R, &[("other", "LOC-778")]);
    s.packages[0].tracking_url = Some("https://courier.example/t/LOC-778".into());
    w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
        .await
        .result
        .unwrap();
    let post = &posts(&w)[0];
    assert_eq!(post.form_value("carrier_name").as_deref(), Some("other"));
    assert_eq!(
        post.form_value("note_to_buyer").as_deref(),
        Some("Track your parcel: https://courier.example/t/LOC-778")
    );
}

#[tokio::test]
async fn tracking_for_a_canceled_receipt_is_rejected_with_etsys_message() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.state().cancel(R);
    let s = shipment(R, &[("usps", "9400111202508299673168")]);
    let report =
        w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
            .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: format!(
                "POST {}/v3/application/shops/31337/receipts/{R}/tracking: the platform answered \
                 HTTP 409: Receipt {R} is canceled; tracking cannot be added",
                w.shop.url
            )
        }
    );
    assert!(w.shop.state().receipt(R).shipments.is_empty());
}
