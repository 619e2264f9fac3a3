//! `describe`, status pushes (none reach eBay), shipping fulfillments,
//! the OAuth session and how eBay's refusals come back.

use base64::Engine as _;
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};
use statusport_runtime::CallError;

use crate::fake::{Ebay, Line, Order, line_id, order_id};
use crate::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Setup, setup, setup_with};

/// An order of two lines: two teapots and one cup.
fn two_lines(id: &str) -> Order {
    let mut order = Order::new(id, jiff::Timestamp::now().as_millisecond() - 7_200_000);
    order.lines.push(Line {
        id: line_id(2),
        sku: "CUP-7".into(),
        title: "Tea cup".into(),
        legacy_item_id: "110557654321".into(),
        quantity: 1,
        unit_price: 900,
    });
    order.lines[0].quantity = 2;
    order
}

fn package(carrier: &str, tracking: &str, lines: &[(&str, u32)]) -> Package {
    Package {
        carrier: carrier.into(),
        tracking_number: tracking.into(),
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

fn shipment(order: &str, packages: Vec<Package>) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: order.into(),
        shipped_at: "2026-11-20T09:30:00Z".into(),
        packages,
    }
}

async fn upload(
    s: &Setup,
    shipment: &Shipment,
) -> Result<statusport_core::domain::job::Receipt, CallError> {
    s.rt.upload_shipment(&s.plugin.callee(), &s.ctx, shipment, "job-1")
        .await
        .result
}

fn platform_error(result: Result<impl std::fmt::Debug, CallError>) -> PlatformError {
    match result {
        Err(CallError::Platform(e)) => e,
        other => panic!("expected a platform error, got {other:?}"),
    }
}

#[tokio::test]
async fn describe_declares_two_read_only_dimensions_ebays_carriers_and_the_oauth_config() {
    let s = setup(Ebay::new(Vec::new())).await;
    let p = &s.plugin.platform;
    assert_eq!((p.id.as_str(), p.name.as_str()), ("ebay", "eBay"));
    assert_eq!(p.version.to_string(), "1.1.0");
    assert_eq!(s.plugin.contract.to_string(), "1.1.0");
    assert!(s.plugin.has_intake());
    let of = |d| {
        p.statuses_of(d)
            .map(|st| {
                let mark = match (st.initial, st.terminal) {
                    (true, _) => "*",
                    (_, true) => ".",
                    _ => "",
                };
                format!("{}{mark}", st.code)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(p.dimensions(), [Dimension::Payment, Dimension::Delivery]);
    assert_eq!(
        of(Dimension::Delivery),
        ["NOT_STARTED*", "IN_PROGRESS", "FULFILLED."]
    );
    assert_eq!(
        of(Dimension::Payment),
        [
            "PENDING*",
            "PAID",
            "FAILED",
            "PARTIALLY_REFUNDED",
            "FULLY_REFUNDED."
        ]
    );
    assert!(p.allows(Dimension::Delivery, "NOT_STARTED", "FULFILLED"));
    assert!(!p.allows(Dimension::Delivery, "FULFILLED", "IN_PROGRESS"));
    assert!(p.allows(Dimension::Payment, "PAID", "PARTIALLY_REFUNDED"));
    assert!(!p.allows(Dimension::Payment, "FULLY_REFUNDED", "PAID"));
    assert_eq!(p.carriers.len(), 16, "{:?}", p.carriers);
    let fields: Vec<(&str, bool, bool, Option<&str>)> = p
        .config
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.required,
                f.secret,
                f.default_value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("client-id", true, false, None),
            ("client-secret", true, true, None),
            ("refresh-token", true, true, None),
            (
                "token-url",
                false,
                false,
                Some("https://api.ebay.com/identity/v1/oauth2/token")
            ),
            ("intake-since", false, false, None),
        ]
    );
    let hosts: Vec<String> = p
        .extra_hosts
        .iter()
        .take(2)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        hosts,
        [
            "https://api.ebay.com:443",
            "https://api.sandbox.ebay.com:443"
        ]
    );
}

#[tokio::test]
async fn a_status_push_is_unsupported_saying_ebay_sets_it_and_sends_nothing() {
    let id = order_id(1);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let push = |dimension, from: &'static str, to: &'static str| {
        let s = &s;
        let id = id.clone();
        async move {
            s.rt.push_status(&s.plugin.callee(), &s.ctx, &id, dimension, from, to, "k")
                .await
                .result
        }
    };
    match platform_error(push(Dimension::Delivery, "NOT_STARTED", "FULFILLED").await) {
        PlatformError::Unsupported { message } => assert_eq!(
            message,
            format!(
                "eBay sets an order's fulfillment status (orderFulfillmentStatus) itself and takes none \
                 from outside, so order {id} cannot be set to FULFILLED: upload the shipment instead — its \
                 shipping fulfillment moves the order to IN_PROGRESS, and to FULFILLED once every line \
                 item is shipped"
            )
        ),
        other => panic!("expected unsupported, got {other:?}"),
    }
    match platform_error(push(Dimension::Payment, "PENDING", "PAID").await) {
        PlatformError::Unsupported { message } => {
            assert!(
                message
                    .starts_with("eBay sets an order's payment status (orderPaymentStatus) itself"),
                "{message}"
            )
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
    // A move eBay never makes is refused the same way: eBay takes no move.
    assert!(matches!(
        platform_error(push(Dimension::Delivery, "FULFILLED", "NOT_STARTED").await),
        PlatformError::Unsupported { .. }
    ));
    assert!(s.ebay.received().is_empty(), "{:?}", s.ebay.received());
    assert!(s.token.received().is_empty());
    let order = s.ebay.state().orders[&id].clone();
    assert_eq!(order.fulfillment_status(), "NOT_STARTED");
    assert_eq!(order.payment_status, "PAID");
}

#[tokio::test]
async fn a_package_becomes_a_shipping_fulfillment_with_ebays_carrier_code() {
    let id = order_id(1);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let s1 = shipment(
        &id,
        vec![package(
            "dhl-express",
            "JD014600006543210987",
            &[(&line_id(1), 2)],
        )],
    );
    let receipt = upload(&s, &s1).await.expect("the upload succeeds");
    let order = s.ebay.state().orders[&id].clone();
    assert_eq!(order.fulfillments.len(), 1);
    let f = &order.fulfillments[0];
    assert_eq!(f.carrier, "DHLEXPRESS");
    assert_eq!(f.tracking_number, "JD014600006543210987");
    assert_eq!(f.shipped_date, "2026-11-20T09:30:00.000Z");
    assert_eq!(f.lines, [(line_id(1), 2)]);
    // The cup is still to ship.
    assert_eq!(order.fulfillment_status(), "IN_PROGRESS");
    assert_eq!(receipt.reference.as_deref(), Some(f.id.as_str()));
    assert_eq!(
        receipt.summary,
        format!("order {id}: 1 shipping fulfillment(s) created, 0 already present")
    );

    let calls: Vec<(String, String)> = s
        .ebay
        .received()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let path = format!("/sell/fulfillment/v1/order/{id}/shipping_fulfillment");
    assert_eq!(
        calls,
        [("GET".to_owned(), path.clone()), ("POST".to_owned(), path)]
    );
    let post = &s.ebay.received()[1];
    assert_eq!(post.authorization.as_deref(), Some("Bearer access-1"));
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        post.body,
        serde_json::json!({
            "lineItems": [{ "lineItemId": line_id(1), "quantity": 2 }],
            "shippedDate": "2026-11-20T09:30:00.000Z",
            "shippingCarrierCode": "DHLEXPRESS",
            "trackingNumber": "JD014600006543210987",
        })
    );

    // The user token came from the refresh token, with the app's credentials
    // in HTTP Basic and the fulfillment scope.
    let grants = s.token.received();
    assert_eq!(grants.len(), 1);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        grants[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        grants[0].form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        grants[0].form_value("refresh_token").as_deref(),
        Some(REFRESH_TOKEN)
    );
    assert_eq!(
        grants[0].form_value("scope").as_deref(),
        Some("https://api.ebay.com/oauth/api_scope/sell.fulfillment")
    );
}

#[tokio::test]
async fn a_package_naming_no_lines_ships_every_line_item_and_fulfills_the_order() {
    let id = order_id(2);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    upload(
        &s,
        &shipment(&id, vec![package("usps", "9405509699937003457459", &[])]),
    )
    .await
    .expect("the upload succeeds");
    let order = s.ebay.state().orders[&id].clone();
    assert_eq!(
        order.fulfillments[0].lines,
        [(line_id(1), 2), (line_id(2), 1)]
    );
    assert_eq!(order.fulfillments[0].carrier, "USPS");
    assert_eq!(order.fulfillment_status(), "FULFILLED");
    // The line items were read from the order first.
    assert!(
        s.ebay
            .received()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/sell/fulfillment/v1/order/{id}"))
    );
}

#[tokio::test]
async fn an_upload_repeated_after_a_lost_answer_creates_nothing_twice() {
    let id = order_id(3);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let s1 = shipment(
        &id,
        vec![
            package("dhl", "00340434161094042557", &[(&line_id(1), 2)]),
            // Printed in groups on the label; eBay takes it without spaces.
            package("hermes", "H100 1230 0000 0000 0001", &[(&line_id(2), 1)]),
        ],
    );
    // eBay applies the first package's fulfillment, but its answer is lost.
    s.ebay.state().lose_next_create = Some(500);
    match platform_error(upload(&s, &s1).await) {
        PlatformError::Transient { message, .. } => assert!(
            message.contains(
                "/shipping_fulfillment: the platform answered HTTP 500: 30500: System error"
            ),
            "{message}"
        ),
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert_eq!(s.ebay.state().orders[&id].fulfillments.len(), 1);

    // The outbox tries again with the same job: the first package is found,
    // only the second is created.
    let receipt = upload(&s, &s1).await.expect("the retry succeeds");
    assert_eq!(
        receipt.summary,
        format!("order {id}: 1 shipping fulfillment(s) created, 1 already present")
    );
    // And once more: nothing is created.
    let again = upload(&s, &s1).await.expect("a third attempt succeeds");
    assert_eq!(
        again.summary,
        format!("order {id}: 0 shipping fulfillment(s) created, 2 already present")
    );
    let order = s.ebay.state().orders[&id].clone();
    let numbers: Vec<&str> = order
        .fulfillments
        .iter()
        .map(|f| f.tracking_number.as_str())
        .collect();
    assert_eq!(numbers, ["00340434161094042557", "H1001230000000000001"]);
    assert_eq!(order.fulfillment_status(), "FULFILLED");
    let ids: Vec<&str> = order.fulfillments.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(again.reference, Some(ids.join(",")));
    let posts = s
        .ebay
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2);
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_naming_the_known_ones_before_anything_is_sent() {
    let id = order_id(4);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let result = upload(&s, &shipment(&id, vec![package("pigeon", "P-1", &[])])).await;
    match platform_error(result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            "carrier \"pigeon\" is not known to this plugin (known: dhl, dhl-express, dpd, gls, ups, \
             fedex, usps, hermes, post-at, post-ch, royal-mail, tnt, colissimo, bpost, postnl, other)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(s.ebay.received().is_empty());
    assert!(s.token.received().is_empty());
}

#[tokio::test]
async fn a_line_item_ebay_does_not_know_comes_back_rejected_with_ebays_words() {
    let id = order_id(5);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let result = upload(
        &s,
        &shipment(
            &id,
            vec![package("ups", "1Z999AA10123456784", &[("TEA-100", 1)])],
        ),
    )
    .await;
    match platform_error(result) {
        PlatformError::Rejected { message } => assert!(
            message.ends_with(
                "/shipping_fulfillment: the platform answered HTTP 400: 32200: Invalid line item id: TEA-100"
            ),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(s.ebay.state().orders[&id].fulfillments.is_empty());
}

#[tokio::test]
async fn the_access_token_is_kept_in_the_channel_state_between_calls() {
    let id = order_id(6);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    for number in ["00340434161094042557", "00340434161094042558"] {
        upload(
            &s,
            &shipment(&id, vec![package("dhl", number, &[(&line_id(2), 1)])]),
        )
        .await
        .expect("the upload succeeds");
    }
    assert_eq!(s.tokens.grants(), 1);
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_and_the_call_goes_through() {
    let id = order_id(7);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let s1 = shipment(
        &id,
        vec![package("gls", "GLS12345678", &[(&line_id(2), 1)])],
    );
    upload(&s, &s1).await.expect("the first upload succeeds");
    s.tokens.revoke_all();
    let s2 = shipment(
        &id,
        vec![package("gls", "GLS12345679", &[(&line_id(1), 2)])],
    );
    upload(&s, &s2)
        .await
        .expect("the upload after the revocation succeeds");
    assert_eq!(s.tokens.grants(), 2);
    let answers: Vec<Option<&str>> = s
        .ebay
        .received()
        .iter()
        .map(|r| {
            r.authorization
                .as_deref()
                .map(|a| if a == "Bearer access-1" { "1" } else { "2" })
        })
        .collect();
    // GET, POST with the first token; GET refused, again with the second; POST.
    assert_eq!(
        answers,
        [Some("1"), Some("1"), Some("1"), Some("2"), Some("2")]
    );
    assert_eq!(s.ebay.state().orders[&id].fulfillment_status(), "FULFILLED");
}

#[tokio::test]
async fn a_refresh_token_the_endpoint_refuses_is_an_auth_error() {
    let id = order_id(8);
    let s = setup_with(
        Ebay::new(vec![two_lines(&id)]),
        &[("refresh-token", "v^1.1#expired")],
    )
    .await;
    let result = upload(&s, &shipment(&id, vec![package("dhl", "0034043416", &[])])).await;
    match platform_error(result) {
        PlatformError::Auth { message } => {
            assert!(
                message.starts_with(&format!(
                    "POST {}/identity/v1/oauth2/token: the token endpoint refused",
                    s.token.url
                )),
                "{message}"
            );
            assert!(
                message.contains("invalid_grant: The refresh token is invalid or expired"),
                "{message}"
            );
            assert!(
                message.ends_with("give the channel new credentials"),
                "{message}"
            );
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(s.ebay.received().is_empty());
}

#[tokio::test]
async fn a_token_ebay_refuses_even_when_fresh_is_an_auth_error() {
    let id = order_id(9);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let refused = serde_json::json!({"errors": [{"errorId": 1100, "domain": "ACCESS", "category": "REQUEST",
        "message": "Access denied", "longMessage": "Insufficient permissions to fulfill the request."}]});
    s.ebay.inject(401, &[], refused.clone());
    s.ebay.inject(401, &[], refused);
    let result = upload(&s, &shipment(&id, vec![package("dhl", "0034043416", &[])])).await;
    match platform_error(result) {
        PlatformError::Auth { message } => assert!(
            message.ends_with(
                "the platform refused a freshly renewed access token (HTTP 401: 1100: Insufficient \
                 permissions to fulfill the request.); check that the channel's credentials grant this API"
            ),
            "{message}"
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(s.tokens.grants(), 2);
}

#[tokio::test]
async fn too_many_requests_is_transient_with_ebays_wait_in_milliseconds() {
    let id = order_id(10);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    s.ebay.inject(
        429,
        &[("retry-after", "30")],
        serde_json::json!({"errors": [{"errorId": 2001, "domain": "ACCESS", "category": "REQUEST",
            "message": "Too many requests", "longMessage": "The request limit has been reached for the resource."}]}),
    );
    let result = upload(&s, &shipment(&id, vec![package("dhl", "0034043416", &[])])).await;
    match platform_error(result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(retry_after_ms, Some(30_000));
            assert!(
                message.ends_with("the platform answered HTTP 429: 2001: The request limit has been reached for the resource."),
                "{message}"
            );
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert!(s.ebay.state().orders[&id].fulfillments.is_empty());
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let id = order_id(11);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    s.ebay.inject(
        503,
        &[],
        serde_json::json!({"errors": [{"errorId": 30500, "domain": "API_FULFILLMENT",
            "category": "APPLICATION", "message": "System error"}]}),
    );
    let result = upload(&s, &shipment(&id, vec![package("dhl", "0034043416", &[])])).await;
    match platform_error(result) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert_eq!(retry_after_ms, None);
            assert!(
                message.contains("HTTP 503: 30500: System error"),
                "{message}"
            );
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn credentials_are_not_sent_over_plain_http_to_another_machine() {
    let id = order_id(12);
    let s = setup_with(
        Ebay::new(vec![two_lines(&id)]),
        &[("token-url", "http://api.ebay.com/identity/v1/oauth2/token")],
    )
    .await;
    let result = upload(&s, &shipment(&id, vec![package("dhl", "0034043416", &[])])).await;
    match platform_error(result) {
        PlatformError::Config { message } => assert!(
            message.starts_with(
                "token-url \"http://api.ebay.com/identity/v1/oauth2/token\" is plain HTTP to another machine"
            ) && message.contains("use https:// (\"https://api.ebay.com/identity/v1/oauth2/token\")"),
            "{message}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(s.ebay.received().is_empty());
    assert!(s.token.received().is_empty());
}

#[tokio::test]
async fn the_fake_checks_each_exchange_against_ebays_description() {
    let id = order_id(13);
    let s = setup(Ebay::new(vec![two_lines(&id)])).await;
    let client = reqwest::Client::new();
    let wrong_body = client
        .post(format!(
            "{}/sell/fulfillment/v1/order/{id}/shipping_fulfillment",
            s.ebay.url
        ))
        .json(&serde_json::json!({ "lineItems": "all", "trackingNumber": 42 }))
        .send()
        .await
        .unwrap();
    // No token: eBay's refusal, in eBay's shape.
    assert_eq!(wrong_body.status(), 401);
    let said: serde_json::Value = wrong_body.json().await.unwrap();
    assert_eq!(said["errors"][0]["errorId"], 1001);
    let unknown = client
        .get(format!("{}/sell/fulfillment/v1/orders", s.ebay.url))
        .send()
        .await
        .unwrap();
    // eBay's gateway asks for the token before it looks for the route.
    assert_eq!(unknown.status(), 401);
    let seen = s.ebay.take_mismatches();
    assert!(
        seen.iter().any(|m| m.contains("createShippingFulfillment")
            && m.contains("request body at /lineItems: \"all\" is not of type \"array\"")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|m| m.contains("request body at /trackingNumber: 42 is not of type \"string\"")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|m| m.contains("GET /sell/fulfillment/v1/orders")),
        "{seen:#?}"
    );
}
