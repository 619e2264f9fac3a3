//! `upload-shipment`: Magento shipments with their tracks, created once.

use statusport_core::domain::platform::PlatformError;
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};

use crate::fake::{Magento, Write};
use crate::{platform_error, plugin, shop, writes};

fn package(carrier: &str, number: &str, lines: &[(&str, u32)]) -> Package {
    Package {
        carrier: carrier.into(),
        tracking_number: number.into(),
        tracking_url: None,
        lines: lines
            .iter()
            .map(|(id, quantity)| PackageLine {
                line_id: (*id).into(),
                quantity: *quantity,
            })
            .collect(),
    }
}

fn shipment(id: &str, packages: Vec<Package>) -> Shipment {
    Shipment {
        id: id.into(),
        platform_order_id: "1001".into(),
        shipped_at: "2026-01-02T09:30:00Z".into(),
        packages,
    }
}

#[tokio::test]
async fn a_shipment_becomes_a_magento_shipment_with_its_tracks() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    shop.state().invoice(1001);
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &ctx,
            &shipment(
                "s-1",
                vec![
                    package("dhl", "00340434161094042557", &[]),
                    package("dpd", "01505000123456", &[]),
                ],
            ),
            "k",
        )
        .await;
    let receipt = report.result.unwrap();
    let state = shop.state();
    let shipments = state.shipments_of(1001);
    assert_eq!(shipments.len(), 1);
    assert_eq!(
        receipt.reference.as_deref(),
        Some(shipments[0].entity_id.to_string().as_str())
    );
    assert_eq!(
        receipt.summary,
        format!(
            "order 1001 (#000001001): shipment {} created with 2 tracking number(s), 0 already present",
            shipments[0].entity_id
        )
    );
    // The whole order: both lines, in full.
    assert_eq!(shipments[0].items, [(1, 1), (2, 2)]);
    assert!(shipments[0].notify, "notify-customer defaults to yes");
    let tracks: Vec<(&str, &str, &str)> = shipments[0]
        .tracks
        .iter()
        .map(|t| {
            (
                t.track_number.as_str(),
                t.carrier_code.as_str(),
                t.title.as_str(),
            )
        })
        .collect();
    assert_eq!(
        tracks,
        [
            ("00340434161094042557", "dhl", "DHL"),
            ("01505000123456", "custom", "DPD")
        ]
    );
    // Invoiced and now shipped in full: Magento completes the order.
    assert_eq!(state.order(1001).status, "complete");
    drop(state);
    assert_eq!(writes(&shop), ["POST /rest/default/V1/order/1001/ship"]);
    let ship = shop
        .received()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(ship.body["items"][0]["order_item_id"], 1);
    assert_eq!(ship.body["items"][1]["qty"], 2);
    let search = &shop.received()[1];
    assert_eq!(search.path, "/rest/default/V1/shipments");
    assert_eq!(
        search
            .query_value("searchCriteria[filterGroups][0][filters][0][field]")
            .as_deref(),
        Some("order_id")
    );
    assert_eq!(
        search
            .query_value("searchCriteria[filterGroups][0][filters][0][value]")
            .as_deref(),
        Some("1001")
    );
}

#[tokio::test]
async fn a_package_with_lines_ships_those_lines() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    rt.upload_shipment(
        &plugin.callee(),
        &ctx,
        &shipment(
            "s-1",
            vec![package("ups", "1Z999AA10123456784", &[("2", 1)])],
        ),
        "k",
    )
    .await
    .result
    .unwrap();
    let state = shop.state();
    assert_eq!(state.shipments_of(1001)[0].items, [(2, 1)]);
    let order = state.order(1001);
    assert_eq!(order.items[1].qty_shipped, 1);
    assert_eq!(order.items[0].qty_shipped, 0);
    // Started on, not invoiced: Magento moves a new order to processing.
    assert_eq!(order.status, "processing");
}

#[tokio::test]
async fn an_upload_retried_after_a_lost_answer_creates_nothing_twice() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    shop.state().lose_next_answer(Write::Ship);
    let sent = shipment("s-1", vec![package("dhl", "00340434161094042557", &[])]);
    let first = rt
        .upload_shipment(&plugin.callee(), &ctx, &sent, "key-1")
        .await;
    assert!(
        matches!(
            platform_error(first.result),
            PlatformError::Transient { .. }
        ),
        "the lost answer is transient"
    );
    // Magento made the shipment before the answer was lost.
    assert_eq!(shop.state().shipments_of(1001).len(), 1);
    let again = rt
        .upload_shipment(&plugin.callee(), &ctx, &sent, "key-1")
        .await
        .result
        .unwrap();
    assert_eq!(
        again.summary,
        "order 1001 (#000001001): 0 tracking number(s) added, 1 already present"
    );
    let state = shop.state();
    assert_eq!(state.shipments_of(1001).len(), 1);
    assert_eq!(state.track_numbers(1001), ["00340434161094042557"]);
    drop(state);
    assert_eq!(writes(&shop), ["POST /rest/default/V1/order/1001/ship"]);
}

#[tokio::test]
async fn a_package_of_a_shipped_order_joins_its_latest_shipment() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    rt.upload_shipment(
        &plugin.callee(),
        &ctx,
        &shipment("s-1", vec![package("dhl", "00340434161094042557", &[])]),
        "k1",
    )
    .await
    .result
    .unwrap();
    // A second parcel for the same order, everything already shipped.
    let mut second = shipment(
        "s-2",
        vec![
            package("dhl", "00340434161094042557", &[]),
            package("gls", "GLS-77", &[]),
        ],
    );
    second.packages[1].tracking_url = Some("https://gls-group.eu/track/GLS-77".into());
    let receipt = rt
        .upload_shipment(&plugin.callee(), &ctx, &second, "k2")
        .await
        .result
        .unwrap();
    let state = shop.state();
    let shipments = state.shipments_of(1001);
    assert_eq!(shipments.len(), 1);
    let parent = shipments[0].entity_id;
    assert_eq!(
        receipt.summary,
        format!(
            "order 1001 (#000001001): 1 tracking number(s) added to shipment {parent} (nothing left to ship), 1 already present"
        )
    );
    let added = &shipments[0].tracks[1];
    assert_eq!(
        (
            added.track_number.as_str(),
            added.carrier_code.as_str(),
            added.title.as_str()
        ),
        ("GLS-77", "custom", "GLS")
    );
    assert_eq!(added.description, "https://gls-group.eu/track/GLS-77");
    drop(state);
    assert_eq!(
        writes(&shop),
        [
            "POST /rest/default/V1/order/1001/ship",
            "POST /rest/default/V1/shipment/track"
        ]
    );
    let track = shop.received().last().unwrap().body["entity"].clone();
    assert_eq!(track["parent_id"], parent);
    assert_eq!(track["order_id"], 1001);
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_naming_the_known_ones_before_anything_is_sent() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &ctx,
            &shipment("s-1", vec![package("pigeon", "P-1", &[])]),
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "carrier \"pigeon\" is not known to this plugin (known: dhl, dhl-express, dpd, gls, ups, fedex, \
             usps, hermes, post-at, post-ch, royal-mail, tnt, colissimo, bpost, postnl, other)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn a_line_the_order_does_not_have_is_refused_naming_its_items() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &ctx,
            &shipment("s-1", vec![package("dhl", "D-1", &[("99", 1)])]),
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "order 1001 (#000001001) has no item 99 (its items: 1 (TEA-100), 2 (CUP-200))"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(writes(&shop).is_empty());
}

#[tokio::test]
async fn a_shipment_of_a_held_order_is_refused_in_magentos_words() {
    let (rt, plugin) = plugin().await;
    let (shop, ctx) = shop(Magento::new(&["1001"])).await;
    shop.state().set(1001, "holded", "holded");
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &ctx,
            &shipment("s-1", vec![package("dhl", "D-1", &[])]),
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert!(
            message.ends_with(
                "the platform answered HTTP 400: Shipment Document Validation Error(s):\nA shipment cannot \
                 be created when an order has a status of holded"
            ),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(shop.state().shipments_of(1001).is_empty());
}

#[tokio::test]
async fn notify_customer_no_creates_the_shipment_without_the_mail() {
    let (rt, plugin) = plugin().await;
    let shop = statusport_tests::fake::serve(Magento::new(&["1001"])).await;
    let ctx = statusport_tests::channel(
        &format!("{}/rest/default", shop.url),
        &[("access-token", crate::TOKEN), ("notify-customer", "no")],
    );
    rt.upload_shipment(
        &plugin.callee(),
        &ctx,
        &shipment("s-1", vec![package("fedex", "7946", &[])]),
        "k",
    )
    .await
    .result
    .unwrap();
    let state = shop.state();
    assert!(!state.shipments_of(1001)[0].notify);
    assert_eq!(state.shipments_of(1001)[0].tracks[0].carrier_code, "fedex");
}
