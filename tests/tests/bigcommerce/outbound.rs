//! Statuses and shipments going out to the store, and how the plugin takes
//! BigCommerce's refusals, throttling and outages.

use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};
use statusport_runtime::CallError;
use statusport_tests::channel;
use statusport_tests::fake::serve;

use crate::common::{plugin, store_channel};
use crate::fake::{ACCESS_TOKEN, BigCommerce, STORE_HASH};

const ORDER: u64 = 1001;

fn order_path(tail: &str) -> String {
    format!("/stores/{STORE_HASH}/v2/orders/{ORDER}{tail}")
}

fn shipment(carrier: &str, packages: &[(&str, &[(&str, u32)])]) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: ORDER.to_string(),
        shipped_at: "2026-11-20T09:30:00Z".into(),
        packages: packages
            .iter()
            .map(|(number, lines)| Package {
                carrier: carrier.into(),
                tracking_number: (*number).into(),
                tracking_url: Some(format!("https://track.example/{number}")),
                lines: lines
                    .iter()
                    .map(|(id, quantity)| PackageLine {
                        line_id: (*id).into(),
                        quantity: *quantity,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn platform_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PlatformError {
    match result {
        Err(CallError::Platform(e)) => e,
        other => panic!("expected the platform's error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_push_reads_the_order_then_puts_its_status_id() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let ctx = store_channel(&store.url);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "1001",
            Dimension::Order,
            "pending",
            "awaiting_fulfillment",
            "k1",
        )
        .await;
    let receipt = report.result.expect("the push succeeds");
    assert_eq!(
        receipt.summary,
        "order 1001 is now awaiting_fulfillment (Awaiting Fulfillment)"
    );
    assert_eq!(receipt.reference.as_deref(), Some("1001"));
    let received = store.received();
    let calls: Vec<(&str, &str)> = received
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", order_path("").as_str()),
            ("PUT", order_path("").as_str())
        ]
    );
    assert_eq!(received[1].body, serde_json::json!({ "status_id": 11 }));
    for r in &received {
        assert_eq!(r.header("x-auth-token"), Some(ACCESS_TOKEN));
        assert_eq!(r.header("accept"), Some("application/json"));
    }
    assert_eq!(store.state().orders[&ORDER].status_id, 11);

    // Pushed again (a retry after a lost answer): the order is there
    // already, and nothing is written.
    let again = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "1001",
            Dimension::Order,
            "pending",
            "awaiting_fulfillment",
            "k1",
        )
        .await
        .result
        .unwrap();
    assert_eq!(again.summary, "order 1001 is awaiting_fulfillment already");
    assert_eq!(store.received().len(), 3, "one more GET, no PUT");
}

#[tokio::test]
async fn a_status_bigcommerce_sets_itself_is_unsupported_before_anything_is_sent() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let ctx = store_channel(&store.url);
    for (to, why) in [
        (
            "refunded",
            "BigCommerce sets Refunded when the payment is refunded in full",
        ),
        (
            "incomplete",
            "BigCommerce sets Incomplete when a shopper leaves the payment page",
        ),
        ("disputed", "BigCommerce sets Disputed"),
        ("partially_refunded", "BigCommerce sets Partially Refunded"),
    ] {
        let report = rt
            .push_status(
                &plugin.callee(),
                &ctx,
                "1001",
                Dimension::Order,
                "pending",
                to,
                "k",
            )
            .await;
        match platform_error(report.result) {
            PlatformError::Unsupported { message } => {
                assert!(
                    message.starts_with(&format!(
                        "order 1001: the plugin does not set \"{to}\": {why}"
                    )),
                    "{message}"
                )
            }
            other => panic!("expected unsupported for {to}, got {other:?}"),
        }
    }
    assert!(store.received().is_empty());
    assert_eq!(store.state().orders[&ORDER].status_id, 1);
}

#[tokio::test]
async fn a_move_out_of_a_refunded_order_is_refused_naming_the_allowed_moves() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    // Refunded in BigCommerce since the host last looked.
    store.state().change_status(ORDER, 4);
    let ctx = store_channel(&store.url);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "1001",
            Dimension::Order,
            "awaiting_fulfillment",
            "shipped",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "BigCommerce order 1001 is refunded (Refunded); no move leads from it to shipped \
             (allowed from refunded: none)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let received = store.received();
    assert_eq!(received.len(), 1, "only the order was read");
    assert_eq!(received[0].method, "GET");
    assert_eq!(store.state().orders[&ORDER].status_id, 4);
}

#[tokio::test]
async fn a_status_bigcommerce_does_not_have_is_refused_naming_its_statuses() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &store_channel(&store.url),
            "1001",
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "\"processing\" is not a BigCommerce order status (known: pending, awaiting_payment, \
             awaiting_fulfillment, awaiting_shipment, awaiting_pickup, partially_shipped, shipped, \
             completed, cancelled, declined, manual_verification_required, disputed, \
             partially_refunded, refunded, incomplete)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(store.received().is_empty());
}

#[tokio::test]
async fn an_unknown_order_is_rejected_with_bigcommerces_words() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let report = rt
        .push_status(
            &plugin.callee(),
            &store_channel(&store.url),
            "999",
            Dimension::Order,
            "pending",
            "shipped",
            "k",
        )
        .await;
    assert_eq!(
        report.result.unwrap_err().to_string(),
        format!(
            "rejected: GET {}/stores/{STORE_HASH}/v2/orders/999: the platform answered HTTP 404: \
             The requested resource was not found.",
            store.url
        )
    );
}

#[tokio::test]
async fn a_shipment_goes_out_with_the_carriers_slug_and_every_unshipped_item() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let ctx = store_channel(&store.url);
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &ctx,
            &shipment("dhl", &[("00340434161094042557", &[])]),
            "k",
        )
        .await;
    let receipt = report.result.expect("the upload succeeds");
    assert_eq!(
        receipt.summary,
        "order 1001: 1 shipment(s) created, 0 tracking number(s) already present"
    );
    assert_eq!(receipt.reference.as_deref(), Some("1"));
    let received = store.received();
    let calls: Vec<(&str, &str)> = received
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", order_path("/shipments").as_str()),
            ("GET", order_path("/products").as_str()),
            ("GET", order_path("/shipping_addresses").as_str()),
            ("POST", order_path("/shipments").as_str()),
        ]
    );
    assert_eq!(
        received[1].header("content-type"),
        Some("application/json"),
        "getOrderProducts asks for a Content-Type"
    );
    assert_eq!(
        received[3].body,
        serde_json::json!({
            "order_address_id": 1000,
            "tracking_number": "00340434161094042557",
            "tracking_carrier": "dhl-germany",
            "tracking_link": "https://track.example/00340434161094042557",
            "items": [
                {"order_product_id": 1, "quantity": 1},
                {"order_product_id": 2, "quantity": 2},
            ],
        })
    );
    let state = store.state();
    let order = &state.orders[&ORDER];
    assert_eq!(order.shipments.len(), 1);
    assert_eq!(order.shipments[0].tracking_carrier, "dhl-germany");
    assert_eq!(order.status_id, 2, "BigCommerce moves the order to Shipped");
}

#[tokio::test]
async fn a_package_naming_lines_ships_those_and_the_order_is_partially_shipped() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let ctx = store_channel(&store.url);
    rt.upload_shipment(
        &plugin.callee(),
        &ctx,
        &shipment("ups", &[("1Z999AA10123456784", &[("2", 1)])]),
        "k",
    )
    .await
    .result
    .expect("the upload succeeds");
    let post = store
        .received()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        post.body["items"],
        serde_json::json!([{"order_product_id": 2, "quantity": 1}])
    );
    assert_eq!(post.body["tracking_carrier"], "ups");
    let state = store.state();
    assert_eq!(state.orders[&ORDER].status_id, 3, "Partially Shipped");
    assert_eq!(state.orders[&ORDER].products[1].quantity_shipped, 1);
}

#[tokio::test]
async fn a_shipment_sent_again_after_its_answer_was_lost_creates_nothing_twice() {
    let (rt, plugin) = plugin().await;
    let mut fake = BigCommerce::new(&[ORDER]);
    fake.lose_shipment_answers = 1;
    let store = serve(fake).await;
    let ctx = store_channel(&store.url);
    let s = shipment(
        "dhl",
        &[
            ("00340434161094042557", &[("1", 1)]),
            ("00340434161094042558", &[("2", 2)]),
        ],
    );
    // The store creates the first shipment, but its answer is lost.
    let first = rt.upload_shipment(&plugin.callee(), &ctx, &s, "k").await;
    match platform_error(first.result) {
        PlatformError::Transient { message, .. } => assert!(
            message.contains("the platform answered HTTP 503"),
            "{message}"
        ),
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert_eq!(store.state().orders[&ORDER].shipments.len(), 1);
    // The host tries the job again with the same shipment.
    let again = rt
        .upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .expect("the retry succeeds");
    assert_eq!(
        again.summary,
        "order 1001: 1 shipment(s) created, 1 tracking number(s) already present"
    );
    assert_eq!(again.reference.as_deref(), Some("1,2"));
    // And once more: nothing new.
    let third = rt
        .upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    assert_eq!(
        third.summary,
        "order 1001: 0 shipment(s) created, 2 tracking number(s) already present"
    );
    assert_eq!(third.reference.as_deref(), Some("1,2"));
    let state = store.state();
    let numbers: Vec<&str> = state.orders[&ORDER]
        .shipments
        .iter()
        .map(|s| s.tracking_number.as_str())
        .collect();
    assert_eq!(numbers, ["00340434161094042557", "00340434161094042558"]);
    drop(state);
    let posts = store
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2, "one POST per tracking number, over three uploads");
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_naming_the_known_ones_before_anything_is_sent() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &store_channel(&store.url),
            &shipment("pigeon-post", &[("P1", &[])]),
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "carrier \"pigeon-post\" is not known to this plugin (known: dhl, dhl-express, dpd, \
             gls, ups, fedex, usps, hermes, post-at, post-ch, royal-mail, tnt, colissimo, bpost, \
             postnl, other)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(store.received().is_empty());
}

#[tokio::test]
async fn a_line_the_order_does_not_have_is_refused_naming_its_lines() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &store_channel(&store.url),
            &shipment("gls", &[("G1", &[("7", 1)])]),
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "order 1001: package G1 names line 7, which is not an order product of the order \
             (its lines: 1, 2)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(store.received().iter().all(|r| r.method == "GET"));
    assert!(store.state().orders[&ORDER].shipments.is_empty());
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_after_one_request() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let ctx = channel(
        &BigCommerce::api_url(&store.url),
        &[("access-token", "revoked-token")],
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "1001",
            Dimension::Order,
            "pending",
            "shipped",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Auth { message } => assert_eq!(
            message,
            format!(
                "GET {}/stores/{STORE_HASH}/v2/orders/1001: the platform answered HTTP 401: You \
                 must be authenticated to access this resource.; check the channel's \
                 \"access-token\": the access token of a store-level API account whose Orders \
                 scope is \"modify\"",
                store.url
            )
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
    // A store API account's token has no refresh: nothing is tried again.
    assert_eq!(store.received().len(), 1);
}

#[tokio::test]
async fn a_throttled_request_is_transient_with_bigcommerces_reset_wait() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    store.inject(
        429,
        &[
            ("X-Rate-Limit-Time-Reset-Ms", "1500"),
            ("X-Rate-Limit-Requests-Left", "0"),
            ("X-Rate-Limit-Requests-Quota", "150"),
            ("X-Rate-Limit-Time-Window-Ms", "30000"),
        ],
        serde_json::json!([{"status": 429, "message": "Too many requests"}]),
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &store_channel(&store.url),
            "1001",
            Dimension::Order,
            "pending",
            "shipped",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(retry_after_ms, Some(1500));
            assert!(
                message.ends_with("HTTP 429: Too many requests"),
                "{message}"
            );
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert_eq!(store.state().orders[&ORDER].status_id, 1);
}

#[tokio::test]
async fn an_outage_is_transient() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    // The shipments are read, then the store fails.
    store.inject_after(
        1,
        502,
        &[],
        serde_json::json!([{"status": 502, "message": "Bad Gateway"}]),
    );
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &store_channel(&store.url),
            &shipment("dpd", &[("D1", &[])]),
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(retry_after_ms, None);
            assert_eq!(
                message,
                format!(
                    "GET {}/stores/{STORE_HASH}/v2/orders/1001/products?page=1&limit=250: the \
                     platform answered HTTP 502: Bad Gateway",
                    store.url
                )
            );
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert!(store.state().orders[&ORDER].shipments.is_empty());
}

#[tokio::test]
async fn the_stores_api_path_without_v2_reaches_the_same_api() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[ORDER])).await;
    let ctx = channel(
        &format!("{}/stores/{STORE_HASH}", store.url),
        &[("access-token", ACCESS_TOKEN)],
    );
    rt.push_status(
        &plugin.callee(),
        &ctx,
        "1001",
        Dimension::Order,
        "pending",
        "awaiting_payment",
        "k",
    )
    .await
    .result
    .expect("the push succeeds");
    assert_eq!(store.received()[1].path, order_path(""));
    assert_eq!(store.state().orders[&ORDER].status_id, 7);
}

#[tokio::test]
async fn the_token_never_goes_over_plain_http_to_another_machine() {
    let (rt, plugin) = plugin().await;
    let ctx = channel(
        "http://api.bigcommerce.example/stores/abc123/v2",
        &[("access-token", ACCESS_TOKEN)],
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "1001",
            Dimension::Order,
            "pending",
            "shipped",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Config { message } => assert!(
            message.starts_with(
                "base URL \"http://api.bigcommerce.example/stores/abc123/v2\" is plain HTTP to \
                 another machine"
            ),
            "{message}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(report.sent.is_empty());
}
