//! What the plugin declares, status pushes (which Amazon takes none of) and
//! shipment confirmations, with the token they carry.

use statusport_core::domain::platform::{Dimension, Origin, PlatformError};
use statusport_tests::fake::oauth::Tokens;
use statusport_tests::fake::shared_spec;
use statusport_tests::{load, plugin_path, runtime, test_limits};

use crate::fake::{Amazon, Item, MARKETPLACE, Order, SPEC};
use crate::{ORDER, package, platform_error, setup, shipment};

const TEAPOT: &str = "11110000000001";
const CUPS: &str = "11110000000002";

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Order [`ORDER`]: two teapots and four cups, paid, not shipped.
fn teapots_and_cups(tokens: Tokens) -> Amazon {
    Amazon::with(
        tokens,
        vec![Order::new(ORDER, now() - 7200).with_items(vec![
            Item::new(TEAPOT, "TEA-100", "Teapot", 2, 4900),
            Item::new(CUPS, "CUP-200", "Cup", 4, 750),
        ])],
    )
}

#[tokio::test]
async fn describe_declares_amazons_order_statuses_and_the_token_host() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("amazon")).await;
    let p = &plugin.platform;
    assert_eq!(
        (p.id.as_str(), p.version.to_string()),
        ("amazon", "1.1.0".into())
    );
    // Exactly the OrderStatus enum of Amazon's description.
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared_spec(SPEC)).unwrap()).unwrap();
    let mut published: Vec<&str> =
        spec["definitions"]["Order"]["properties"]["OrderStatus"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
    let mut declared: Vec<&str> = p.statuses.iter().map(|s| s.code.as_str()).collect();
    published.sort();
    declared.sort();
    assert_eq!(declared, published);
    assert!(p.statuses.iter().all(|s| s.dimension == Dimension::Order));
    let initial: Vec<&str> = p
        .statuses
        .iter()
        .filter(|s| s.initial)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(initial, ["Pending"]);
    let terminal: Vec<&str> = p
        .statuses
        .iter()
        .filter(|s| s.terminal)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(terminal, ["Shipped", "Canceled", "Unfulfillable"]);
    let from_unshipped: Vec<&str> = p
        .transitions
        .iter()
        .filter(|t| t.from == "Unshipped")
        .map(|t| t.to.as_str())
        .collect();
    assert_eq!(
        from_unshipped,
        [
            "PartiallyShipped",
            "Shipped",
            "InvoiceUnconfirmed",
            "Canceled",
            "Unfulfillable"
        ]
    );
    assert_eq!(
        p.extra_hosts,
        [Origin::parse("https://api.amazon.com").unwrap()]
    );
    let field = |name: &str| p.config.iter().find(|f| f.name == name).unwrap();
    for name in [
        "refresh-token",
        "client-id",
        "client-secret",
        "marketplace-id",
    ] {
        assert!(field(name).required, "{name}");
    }
    assert!(field("refresh-token").secret && field("client-secret").secret);
    assert!(!field("client-id").secret);
    assert_eq!(
        field("token-url").default_value.as_deref(),
        Some("https://api.amazon.com/auth/o2/token")
    );
    assert!(p.carriers.iter().any(|c| c == "dhl") && p.carriers.iter().any(|c| c == "other"));
}

#[tokio::test]
async fn a_status_push_is_unsupported_and_reaches_no_one() {
    let s = setup(teapots_and_cups).await;
    for (from, to) in [("Unshipped", "Shipped"), ("Unshipped", "Canceled")] {
        let result =
            s.rt.push_status(
                &s.plugin.callee(),
                &s.ctx,
                ORDER,
                Dimension::Order,
                from,
                to,
                "k-1",
            )
            .await
            .result;
        match platform_error(result) {
            PlatformError::Unsupported { message } => assert_eq!(
                message,
                format!(
                    "Amazon sets an order's status itself and takes none from sellers: order {ORDER} \
                     was not moved to \"{to}\". Confirming a shipment (upload-shipment, with its \
                     tracking numbers) is what moves an Amazon order to Shipped; a cancellation is \
                     made in Seller Central"
                )
            ),
            other => panic!("expected unsupported, got {other:?}"),
        }
    }
    assert_eq!(s.calls(), Vec::<String>::new());
    assert_eq!(s.tokens.grants(), 0, "no token is fetched for nothing");
    assert_eq!(s.amazon.state().orders[ORDER].status, "Unshipped");
}

#[tokio::test]
async fn a_package_without_lines_confirms_the_whole_order_with_a_fresh_token() {
    let s = setup(teapots_and_cups).await;
    let receipt =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment(
                "S-1",
                ORDER,
                vec![package("dhl", "00340434161094042557", &[])],
            ),
            "k-1",
        )
        .await
        .result
        .unwrap();
    // The token came from Login with Amazon, with the app's credentials in the form.
    let grant = &s.lwa.received()[0];
    assert_eq!(
        grant.form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        grant.form_value("refresh_token").as_deref(),
        Some(crate::fake::REFRESH_TOKEN)
    );
    assert_eq!(
        grant.form_value("client_id").as_deref(),
        Some(crate::fake::CLIENT_ID)
    );
    assert_eq!(
        grant.form_value("client_secret").as_deref(),
        Some(crate::fake::CLIENT_SECRET)
    );
    assert_eq!(
        s.calls(),
        [
            format!("GET /orders/v0/orders/{ORDER}"),
            format!("GET /orders/v0/orders/{ORDER}/orderItems"),
            format!("POST /orders/v0/orders/{ORDER}/shipmentConfirmation"),
        ]
    );
    let sent = s.amazon.received();
    assert!(
        sent.iter()
            .all(|r| r.header("x-amz-access-token") == Some("access-1"))
    );
    let body = &sent[2].body;
    assert_eq!(body["marketplaceId"], MARKETPLACE);
    let reference = body["packageDetail"]["packageReferenceId"]
        .as_str()
        .unwrap();
    assert!(reference.parse::<u32>().unwrap() > 0, "{reference}");
    assert_eq!(
        body["packageDetail"],
        serde_json::json!({
            "packageReferenceId": reference,
            "carrierCode": "DHL",
            "trackingNumber": "00340434161094042557",
            "shipDate": "2026-11-22T14:05:00Z",
            "orderItems": [
                {"orderItemId": TEAPOT, "quantity": 2},
                {"orderItemId": CUPS, "quantity": 4},
            ],
        })
    );
    assert_eq!(receipt.reference.as_deref(), Some(reference));
    assert_eq!(
        receipt.summary,
        format!(
            "order {ORDER}: 1 package(s) confirmed to Amazon (DHL 00340434161094042557); package reference(s) {reference}"
        )
    );
    let order = s.amazon.state().orders[ORDER].clone();
    assert_eq!(order.status, "Shipped");
    assert_eq!(order.packages.len(), 1);
    assert_eq!(order.packages[0].tracking_number, "00340434161094042557");
    assert_eq!(order.packages[0].reference, reference);
}

#[tokio::test]
async fn a_shipment_sent_again_after_a_lost_answer_confirms_nothing_twice() {
    let s = setup(teapots_and_cups).await;
    // Amazon applies the confirmation, and its answer is lost.
    s.amazon.state().lose_next_confirmation = true;
    let parcel = shipment(
        "S-7",
        ORDER,
        vec![
            package("dhl", "00340434161094042557", &[(TEAPOT, 2)]),
            package("ups", "1Z999AA10123456784", &[]),
        ],
    );
    let first =
        s.rt.upload_shipment(&s.plugin.callee(), &s.ctx, &parcel, "k-7")
            .await
            .result;
    match platform_error(first) {
        PlatformError::Transient { message, .. } => assert!(
            message.contains("503: ServiceUnavailable: Service temporarily unavailable"),
            "{message}"
        ),
        other => panic!("expected transient, got {other:?}"),
    }
    assert_eq!(s.amazon.state().orders[ORDER].packages.len(), 1);
    assert_eq!(s.amazon.state().orders[ORDER].status, "PartiallyShipped");
    // The host tries the same job again: both packages, the first one as an
    // edit of what Amazon holds.
    s.rt.upload_shipment(&s.plugin.callee(), &s.ctx, &parcel, "k-7")
        .await
        .result
        .unwrap();
    // And once more, as after a crash before the receipt was stored.
    s.rt.upload_shipment(&s.plugin.callee(), &s.ctx, &parcel, "k-7")
        .await
        .result
        .unwrap();
    let order = s.amazon.state().orders[ORDER].clone();
    let tracking: Vec<&str> = order
        .packages
        .iter()
        .map(|p| p.tracking_number.as_str())
        .collect();
    assert_eq!(tracking, ["00340434161094042557", "1Z999AA10123456784"]);
    assert_eq!(order.packages[1].items, [(CUPS.to_owned(), 4)]);
    assert_eq!(order.status, "Shipped");
    let references: Vec<String> = s
        .amazon
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            r.body["packageDetail"]["packageReferenceId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(references.len(), 5);
    assert_eq!(
        references[0], references[1],
        "the retry reuses the reference"
    );
    assert_eq!(references[1], references[3]);
    assert_eq!(references[2], references[4]);
    assert_ne!(references[1], references[2]);
    assert_eq!(s.tokens.grants(), 1, "the token is kept between calls");
}

#[tokio::test]
async fn packages_of_two_shipments_ship_the_order_in_parts() {
    let s = setup(teapots_and_cups).await;
    let callee = s.plugin.callee();
    s.rt.upload_shipment(
        &callee,
        &s.ctx,
        &shipment(
            "S-1",
            ORDER,
            vec![package("dpd", "01234567890123", &[(CUPS, 4)])],
        ),
        "k-1",
    )
    .await
    .result
    .unwrap();
    assert_eq!(s.amazon.state().orders[ORDER].status, "PartiallyShipped");
    s.rt.upload_shipment(
        &callee,
        &s.ctx,
        &shipment(
            "S-2",
            ORDER,
            vec![package("post-at", "CA123456789AT", &[(TEAPOT, 2)])],
        ),
        "k-2",
    )
    .await
    .result
    .unwrap();
    let order = s.amazon.state().orders[ORDER].clone();
    assert_eq!(order.status, "Shipped");
    assert_eq!(order.packages.len(), 2);
    assert_ne!(order.packages[0].reference, order.packages[1].reference);
    // Austrian Post has no Amazon carrier code: it goes as Other, by name.
    assert_eq!(order.packages[1].carrier_code, "Other");
    assert_eq!(
        order.packages[1].carrier_name.as_deref(),
        Some("Österreichische Post")
    );
    // Packages that name their lines need no getOrderItems.
    assert!(!s.calls().iter().any(|c| c.ends_with("/orderItems")));
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_naming_the_known_ones_before_any_request() {
    let s = setup(teapots_and_cups).await;
    let result =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment("S-1", ORDER, vec![package("pigeon-post", "P-1", &[])]),
            "k-1",
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "carrier \"pigeon-post\" is not known to this plugin (known: dhl, dhl-express, dpd, gls, \
             ups, fedex, usps, hermes, royal-mail, tnt, colissimo, post-at, post-ch, bpost, postnl, other)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(s.calls().is_empty());
    assert_eq!(s.tokens.grants(), 0);
}

#[tokio::test]
async fn a_canceled_order_is_refused_saying_which_orders_amazon_confirms() {
    let s = setup(|tokens| {
        Amazon::with(
            tokens,
            vec![Order::new(ORDER, now() - 7200).with_status("Canceled")],
        )
    })
    .await;
    let result =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment("S-1", ORDER, vec![package("gls", "GLS-1", &[])]),
            "k-1",
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            format!(
                "order {ORDER} is Canceled on Amazon: a shipment can be confirmed for an order that is \
                 Unshipped or PartiallyShipped (or Shipped, to correct a package already confirmed)"
            )
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(s.calls(), [format!("GET /orders/v0/orders/{ORDER}")]);
    assert_eq!(s.amazon.state().confirmations, 0);
}

#[tokio::test]
async fn what_amazon_refuses_is_rejected_with_amazons_own_words() {
    let s = setup(teapots_and_cups).await;
    // More teapots than were ordered.
    let result =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment("S-1", ORDER, vec![package("dhl", "0034", &[(TEAPOT, 3)])]),
            "k-1",
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            format!(
                "POST {}/orders/v0/orders/{ORDER}/shipmentConfirmation: the platform answered HTTP 400: \
                 InvalidInput: Failed to create package due to not finding a matching package or order \
                 already fulfilled.",
                s.amazon.url
            )
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(s.amazon.state().orders[ORDER].packages.is_empty());
}

#[tokio::test]
async fn a_server_error_is_transient_and_confirms_nothing() {
    let s = setup(teapots_and_cups).await;
    s.amazon.inject(
        503,
        &[],
        serde_json::json!({"errors": [{"code": "ServiceUnavailable", "message": "Service temporarily unavailable. Please retry."}]}),
    );
    let result =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment("S-1", ORDER, vec![package("dhl", "0034", &[])]),
            "k-1",
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(
                message,
                format!(
                    "GET {}/orders/v0/orders/{ORDER}: the platform answered HTTP 503: ServiceUnavailable: \
                     Service temporarily unavailable. Please retry.",
                    s.amazon.url
                )
            );
            assert_eq!(retry_after_ms, None);
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert_eq!(s.amazon.state().confirmations, 0);
}

#[tokio::test]
async fn a_throttled_confirmation_is_transient_with_amazons_rate_as_the_wait() {
    let s = setup(teapots_and_cups).await;
    // getOrder, getOrderItems, then Amazon throttles confirmShipment (2 per second).
    s.amazon.inject_after(
        2,
        429,
        &[("x-amzn-RateLimit-Limit", "2.0")],
        serde_json::json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}),
    );
    let result =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment("S-1", ORDER, vec![package("dhl", "0034", &[])]),
            "k-1",
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert!(message.contains("HTTP 429: QuotaExceeded"), "{message}");
            assert_eq!(retry_after_ms, Some(500));
        }
        other => panic!("expected transient, got {other:?}"),
    }
}
