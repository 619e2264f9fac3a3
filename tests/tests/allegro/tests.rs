//! What the Allegro plugin sends, what the fake Allegro ends up holding, and
//! what the host is told — for status pushes, parcel tracking numbers,
//! intake from the order event log, the OAuth session and Allegro's
//! refusals. Every exchange with the fake is checked against Allegro's
//! published description when its server is dropped.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use statusport_core::domain::intake::{Inbound, IncomingOrder};
use statusport_core::domain::job::Receipt;
use statusport_core::domain::platform::{Dimension, Origin, PlatformError};
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};
use statusport_runtime::call::{CallContext, CallReport};
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{CallError, Limits, Runtime};
use statusport_tests::fake::oauth::{TokenEndpoint, Tokens};
use statusport_tests::fake::{Server, serve, shared_spec};
use statusport_tests::{channel, load, plugin_path, root, runtime, statusport_bin};

use crate::fake::{
    self, Allegro, CHANGE_LIMIT, CLIENT_ID, CLIENT_SECRET, MEDIA_TYPE, Parcel, REFRESH_TOKEN,
    TOKEN_PATH, line_id, order_id,
};

const SPEC: &str = "allegro-rest-api-oas3.yaml";

/// Compiled plugin code kept between the tests (and runs): compiling the
/// plugin takes seconds in a debug build, loading it from the cache none.
fn cache() -> Option<PathBuf> {
    Some(root().join("target").join("test-compiled").join("allegro"))
}

/// The plugin, a fake Allegro, its token endpoint and a channel on both.
struct Market {
    rt: Arc<Runtime>,
    plugin: LoadedPlugin,
    api: Server<Allegro>,
    auth: Server<TokenEndpoint>,
    tokens: Tokens,
    ctx: CallContext,
}

/// A channel on the fake Allegro at `api` whose token endpoint is `auth`
/// (granted as an extra host), with the fake's client and `refresh`.
fn context(api: &str, auth: &str, refresh: &str, extra: &[(&str, &str)]) -> CallContext {
    let token_url = format!("{auth}{TOKEN_PATH}");
    let mut config = vec![
        ("client-id", CLIENT_ID),
        ("client-secret", CLIENT_SECRET),
        ("refresh-token", refresh),
        ("token-url", token_url.as_str()),
    ];
    config.extend_from_slice(extra);
    let mut ctx = channel(api, &config);
    let mut granted = (*ctx.channel).clone();
    granted
        .granted_hosts
        .push(Origin::parse(auth).expect("the token endpoint's origin"));
    ctx.channel = Arc::new(granted);
    ctx
}

async fn market(build: impl FnOnce(Tokens) -> Allegro) -> Market {
    market_with(build, &[]).await
}

async fn market_with(build: impl FnOnce(Tokens) -> Allegro, extra: &[(&str, &str)]) -> Market {
    let (auth, tokens) = fake::token_endpoint().await;
    let api = serve(build(tokens.clone())).await;
    let rt = runtime(Limits::default(), cache());
    let mut plugin = load(&rt, &plugin_path("allegro")).await;
    // The plugin declares Allegro's token hosts (https://allegro.pl and the
    // sandbox's); the fake token endpoint listens on a loopback port of its
    // own, which stands in for them here.
    plugin
        .platform
        .extra_hosts
        .push(Origin::parse(&auth.url).expect("the token endpoint's origin"));
    let ctx = context(&api.url, &auth.url, REFRESH_TOKEN, extra);
    Market {
        rt,
        plugin,
        api,
        auth,
        tokens,
        ctx,
    }
}

impl Market {
    async fn push(
        &self,
        order: &str,
        dimension: Dimension,
        from: &str,
        to: &str,
    ) -> CallReport<Receipt> {
        self.rt
            .push_status(
                &self.plugin.callee(),
                &self.ctx,
                order,
                dimension,
                from,
                to,
                "key-1",
            )
            .await
    }

    async fn upload(&self, shipment: &Shipment) -> CallReport<Receipt> {
        self.rt
            .upload_shipment(&self.plugin.callee(), &self.ctx, shipment, "key-2")
            .await
    }

    async fn pull(&self, cursor: Option<&str>) -> (Vec<IncomingOrder>, Option<String>, bool) {
        let batch = self
            .rt
            .pull(&self.plugin.callee(), &self.ctx, cursor)
            .await
            .result
            .expect("the pull answers");
        let orders = batch
            .items
            .into_iter()
            .map(|item| match item {
                Inbound::Order(o) => o,
                other => panic!("Allegro's pull brings orders only: {other:?}"),
            })
            .collect();
        (orders, batch.next_cursor, batch.more)
    }

    /// `METHOD path?query` of every request the fake Allegro received.
    fn calls(&self) -> Vec<String> {
        self.api
            .received()
            .into_iter()
            .map(|r| match r.query {
                Some(q) => format!("{} {}?{q}", r.method, r.path),
                None => format!("{} {}", r.method, r.path),
            })
            .collect()
    }
}

fn shipment(order: &str, packages: &[(&str, &str, &[String])]) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: order.into(),
        shipped_at: "2026-01-16T09:30:00Z".into(),
        packages: packages
            .iter()
            .map(|(carrier, number, lines)| Package {
                carrier: (*carrier).into(),
                tracking_number: (*number).into(),
                tracking_url: None,
                lines: lines
                    .iter()
                    .map(|l| PackageLine {
                        line_id: l.clone(),
                        quantity: 1,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn rejected(report: CallReport<Receipt>) -> String {
    match report.result {
        Err(CallError::Platform(PlatformError::Rejected { message })) => message,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn unsupported(report: CallReport<Receipt>) -> String {
    match report.result {
        Err(CallError::Platform(PlatformError::Unsupported { message })) => message,
        other => panic!("expected unsupported, got {other:?}"),
    }
}

#[tokio::test]
async fn a_status_push_sets_the_fulfillment_with_the_revision_just_read() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    let receipt = m
        .push(&id, Dimension::Order, "NEW", "PROCESSING")
        .await
        .result
        .expect("the push succeeds");
    assert_eq!(
        receipt.summary,
        format!("order {id}: fulfillment status NEW → PROCESSING")
    );
    assert_eq!(receipt.reference.as_deref(), Some(id.as_str()));
    assert_eq!(
        m.calls(),
        [
            format!("GET /order/checkout-forms/{id}"),
            format!("PUT /order/checkout-forms/{id}/fulfillment?checkoutForm.revision=819b5836"),
        ]
    );
    let put = &m.api.received()[1];
    assert_eq!(put.body, json!({"status": "PROCESSING"}));
    assert_eq!(put.header("content-type"), Some(MEDIA_TYPE));
    assert_eq!(put.header("accept"), Some(MEDIA_TYPE));
    assert_eq!(put.authorization.as_deref(), Some("Bearer access-1"));
    {
        let allegro = m.api.state();
        assert_eq!(allegro.orders[&id].fulfillment, "PROCESSING");
        let last = allegro.events.last().expect("the change is in the log");
        assert_eq!(
            (last.kind.as_str(), last.order.as_str()),
            ("FULFILLMENT_STATUS_CHANGED", id.as_str())
        );
    }
    // The token came from the seller's refresh token, the client by Basic auth.
    let grants = m.auth.received();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        grants[0].form_value("refresh_token").as_deref(),
        Some(REFRESH_TOKEN)
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        grants[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
}

#[tokio::test]
async fn a_status_the_order_already_shows_is_not_set_again() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    for _ in 0..2 {
        m.push(&id, Dimension::Order, "NEW", "READY_FOR_SHIPMENT")
            .await
            .result
            .expect("the push succeeds");
    }
    let puts = m.calls().iter().filter(|c| c.starts_with("PUT")).count();
    assert_eq!(puts, 1, "{:?}", m.calls());
    assert_eq!(m.api.state().orders[&id].changes, 1);
    let again = m
        .push(&id, Dimension::Order, "NEW", "READY_FOR_SHIPMENT")
        .await
        .result
        .unwrap();
    assert_eq!(
        again.summary,
        format!("order {id}: fulfillment status is already READY_FOR_SHIPMENT")
    );
}

#[tokio::test]
async fn a_change_allegro_refuses_is_rejected_naming_what_a_seller_may_set() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    m.api.state().orders.get_mut(&id).unwrap().changes = CHANGE_LIMIT;
    let message = rejected(m.push(&id, Dimension::Order, "NEW", "SENT").await);
    assert_eq!(
        message,
        format!(
            "PUT {}/order/checkout-forms/{id}/fulfillment?checkoutForm.revision=819b5836: Allegro \
             refused fulfillment status SENT on order {id} (HTTP 422: \
             SellerOrdersStoreUnprocessableEntityException: Failed to set status SENT on order \
             {id}.); a seller may set from NEW: PROCESSING, READY_FOR_SHIPMENT, READY_FOR_PICKUP, \
             SENT, PICKED_UP, CANCELLED, SUSPENDED — but Allegro refuses RETURNED, and any change \
             once an order has had 100",
            m.api.url
        )
    );
    assert_eq!(m.api.state().orders[&id].fulfillment, "NEW");
}

#[tokio::test]
async fn returned_and_the_checkout_status_are_allegros_own() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    assert_eq!(
        unsupported(m.push(&id, Dimension::Order, "SENT", "RETURNED").await),
        "Allegro sets RETURNED itself when a customer return is processed and refuses it from a \
         seller (a seller may set: NEW, PROCESSING, READY_FOR_SHIPMENT, READY_FOR_PICKUP, SENT, \
         PICKED_UP, CANCELLED, SUSPENDED)"
    );
    assert_eq!(
        unsupported(
            m.push(&id, Dimension::Payment, "FILLED_IN", "READY_FOR_PROCESSING")
                .await
        ),
        "Allegro sets the checkout status (payment dimension) itself as the buyer checks out, \
         pays or cancels; it cannot be set to READY_FOR_PROCESSING through the API"
    );
    assert!(m.api.received().is_empty(), "nothing was sent");
    assert!(m.auth.received().is_empty(), "no token was asked for");
}

#[tokio::test]
async fn an_order_fulfilled_by_allegro_keeps_its_status() {
    let m = market(|t| {
        let mut allegro = Allegro::with_orders(t, &[1]);
        allegro.orders.get_mut(&order_id(1)).unwrap().provider = "ALLEGRO".into();
        allegro
    })
    .await;
    let id = order_id(1);
    assert_eq!(
        unsupported(m.push(&id, Dimension::Order, "NEW", "PROCESSING").await),
        format!(
            "Allegro order {id} is fulfilled by Allegro (One Fulfillment): Allegro sets its \
             fulfillment status itself"
        )
    );
    assert_eq!(m.calls(), [format!("GET /order/checkout-forms/{id}")]);
}

#[tokio::test]
async fn an_order_changed_between_read_and_write_is_tried_again() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    // The order is read, then Allegro refuses the revision: the buyer
    // changed the order in between.
    m.api.inject_after(
        1,
        409,
        &[("content-type", MEDIA_TYPE)],
        json!({"errors": [{"code": "ConflictException", "message": "Provided revision is outdated",
                           "details": null, "path": null, "userMessage": "Provided revision is outdated"}]}),
    );
    match m
        .push(&id, Dimension::Order, "NEW", "PROCESSING")
        .await
        .result
    {
        Err(CallError::Platform(PlatformError::Transient {
            message,
            retry_after_ms,
        })) => {
            assert_eq!(
                message,
                format!(
                    "PUT {}/order/checkout-forms/{id}/fulfillment?checkoutForm.revision=819b5836: \
                     the order changed on Allegro while its status was being set (revision 819b5836 \
                     is outdated: ConflictException: Provided revision is outdated); the next \
                     attempt reads it again",
                    m.api.url
                )
            );
            assert_eq!(retry_after_ms, None);
        }
        other => panic!("expected transient, got {other:?}"),
    }
    m.push(&id, Dimension::Order, "NEW", "PROCESSING")
        .await
        .result
        .expect("the next attempt succeeds");
    assert_eq!(m.api.state().orders[&id].fulfillment, "PROCESSING");
}

#[tokio::test]
async fn an_upload_adds_each_waybill_with_the_line_items_of_its_parcel() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    let cups = [line_id(1, 2)];
    let receipt = m
        .upload(&shipment(
            &id,
            &[
                ("dhl", "00340434161094042557", &[]),
                ("inpost", "620000111122223333444455", &cups),
            ],
        ))
        .await
        .result
        .expect("the upload succeeds");
    assert_eq!(
        receipt.summary,
        format!(
            "order {id}: tracking number(s) 00340434161094042557, 620000111122223333444455 added"
        )
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(
        receipt.reference,
        Some(format!(
            "{},{}",
            b64("DHL:00340434161094042557"),
            b64("INPOST:620000111122223333444455")
        ))
    );
    assert_eq!(
        m.calls(),
        [
            format!("GET /order/checkout-forms/{id}/shipments"),
            format!("GET /order/checkout-forms/{id}"),
            format!("POST /order/checkout-forms/{id}/shipments"),
            format!("POST /order/checkout-forms/{id}/shipments"),
        ]
    );
    let first = &m.api.received()[2];
    assert_eq!(first.header("content-type"), Some(MEDIA_TYPE));
    assert_eq!(
        first.body,
        json!({"carrierId": "DHL", "waybill": "00340434161094042557",
               "lineItems": [{"id": line_id(1, 1)}, {"id": line_id(1, 2)}]})
    );
    let parcels: Vec<(String, String, Vec<String>)> = m.api.state().orders[&id]
        .shipments
        .iter()
        .map(|p| {
            (
                p.carrier_id.clone(),
                p.waybill.clone(),
                p.line_items.clone(),
            )
        })
        .collect();
    assert_eq!(
        parcels,
        [
            (
                "DHL".into(),
                "00340434161094042557".into(),
                vec![line_id(1, 1), line_id(1, 2)]
            ),
            (
                "INPOST".into(),
                "620000111122223333444455".into(),
                vec![line_id(1, 2)]
            ),
        ]
    );
}

#[tokio::test]
async fn an_upload_retried_after_a_lost_answer_adds_nothing_twice() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    let parcel = shipment(&id, &[("dpd", "0000123456789Q", &[])]);
    // Allegro keeps the tracking number, but its answer is lost.
    m.api.state().lose_answers = 1;
    match m.upload(&parcel).await.result {
        Err(CallError::Platform(PlatformError::Transient { message, .. })) => assert!(
            message.starts_with(&format!(
                "POST {}/order/checkout-forms/{id}/shipments: the platform answered HTTP 503",
                m.api.url
            )),
            "{message}"
        ),
        other => panic!("expected transient, got {other:?}"),
    }
    assert_eq!(m.api.state().orders[&id].shipments.len(), 1);
    let receipt = m.upload(&parcel).await.result.expect("the retry succeeds");
    assert_eq!(
        receipt.summary,
        format!("order {id}: tracking number(s) 0000123456789Q already there")
    );
    let shipments: Vec<Parcel> = m.api.state().orders[&id].shipments.clone();
    assert_eq!(shipments.len(), 1, "{shipments:?}");
    let posts = m.calls().iter().filter(|c| c.starts_with("POST")).count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_carrier_allegro_does_not_list_goes_as_other_with_its_name() {
    let m = market_with(
        |t| Allegro::with_orders(t, &[1]),
        &[("other-carrier-name", "Kurier Lokalny")],
    )
    .await;
    let id = order_id(1);
    m.upload(&shipment(
        &id,
        &[("hermes", "H1000", &[]), ("other", "L-77", &[])],
    ))
    .await
    .result
    .expect("the upload succeeds");
    let sent: Vec<(String, Option<String>)> = m.api.state().orders[&id]
        .shipments
        .iter()
        .map(|p| (p.carrier_id.clone(), p.carrier_name.clone()))
        .collect();
    assert_eq!(
        sent,
        [
            ("OTHER".into(), Some("Hermes".into())),
            ("OTHER".into(), Some("Kurier Lokalny".into())),
        ]
    );
}

#[tokio::test]
async fn carrier_other_needs_its_name_in_the_config() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let report = m
        .upload(&shipment(&order_id(1), &[("other", "L-77", &[])]))
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Config { message })) => assert_eq!(
            message,
            "a parcel with carrier \"other\" needs the carrier's name, which Allegro shows the \
             buyer: set \"other-carrier-name\" in the channel's config"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(m.api.received().is_empty());
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_naming_the_known_ones() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let message = rejected(
        m.upload(&shipment(
            &order_id(1),
            &[("dhl", "A1", &[]), ("pigeon", "P1", &[])],
        ))
        .await,
    );
    assert_eq!(
        message,
        "carrier \"pigeon\" is not known to this plugin (known: dhl, dpd, gls, ups, fedex, inpost, \
         poczta-polska, dhl-express, hermes, tnt, usps, royal-mail, post-at, post-ch, colissimo, \
         bpost, postnl, other)"
    );
    assert!(
        m.api.received().is_empty(),
        "nothing was sent, not even the DHL parcel"
    );
}

#[tokio::test]
async fn a_parcel_line_the_order_does_not_have_is_refused_naming_its_line_items() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    let message = rejected(
        m.upload(&shipment(&id, &[("dhl", "A1", &["1".to_owned()])]))
            .await,
    );
    assert_eq!(
        message,
        format!(
            "package line \"1\" is not a line item of Allegro order {id} (its line items: {} \
             (Czajnik porcelanowy 1 l), {} (Filiżanka z podstawkiem)); give Allegro's line item \
             ids, as intake hands them in, or no lines for the whole order",
            line_id(1, 1),
            line_id(1, 2)
        )
    );
    assert!(m.api.state().orders[&id].shipments.is_empty());
}

#[tokio::test]
async fn intake_reads_the_event_log_page_by_page_and_a_change_brings_the_order_again() {
    let m = market(|t| Allegro::seeded(t, 60)).await;
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    loop {
        let (orders, next, more) = m.pull(cursor.as_deref()).await;
        let ids: BTreeSet<&str> = orders
            .iter()
            .map(|o| o.platform_order_id.as_str())
            .collect();
        assert_eq!(ids.len(), orders.len(), "an order once per page");
        seen.extend(orders);
        cursors.push(next.clone());
        cursor = next;
        if !more {
            break;
        }
        assert!(cursors.len() < 10, "the pull never ends");
    }
    let events = m.api.state().events.clone();
    assert_eq!(
        cursors,
        [
            Some(events[24].id.clone()),
            Some(events[49].id.clone()),
            Some(events[59].id.clone())
        ],
        "25 events a page, the cursor at the last read"
    );
    let ids: Vec<String> = seen.iter().map(|o| o.platform_order_id.clone()).collect();
    assert_eq!(
        ids,
        (1..=60).map(order_id).collect::<Vec<_>>(),
        "every order once"
    );
    {
        let allegro = m.api.state();
        for order in &seen {
            let there = &allegro.orders[&order.platform_order_id];
            assert_eq!(order.statuses[&Dimension::Payment], there.status);
            assert_eq!(order.statuses[&Dimension::Order], there.fulfillment);
        }
    }
    let calls = m.calls();
    let types = "type=BOUGHT&type=FILLED_IN&type=READY_FOR_PROCESSING&type=BUYER_CANCELLED\
                 &type=AUTO_CANCELLED&type=BUYER_MODIFIED&type=FULFILLMENT_STATUS_CHANGED";
    assert_eq!(calls[0], format!("GET /order/events?{types}&limit=25"));
    assert!(
        calls.contains(&format!(
            "GET /order/events?from={}&{types}&limit=25",
            events[24].id
        )),
        "{calls:?}"
    );

    // The log read to its end: nothing more, the cursor stays.
    let (orders, next, more) = m.pull(cursor.as_deref()).await;
    assert!(orders.is_empty() && !more);
    assert_eq!(next, cursor);

    // Changes on Allegro's side bring their orders again, as they are now.
    let (cancelled, sent, paid) = (order_id(7), order_id(9), order_id(4));
    {
        let mut allegro = m.api.state();
        allegro.buyer_cancels(&cancelled);
        allegro.seller_sets(&sent, "SENT");
        allegro.pay(&paid);
    }
    let (orders, next, more) = m.pull(cursor.as_deref()).await;
    assert!(!more);
    let now: Vec<(&str, &str, &str)> = orders
        .iter()
        .map(|o| {
            (
                o.platform_order_id.as_str(),
                o.statuses[&Dimension::Order].as_str(),
                o.statuses[&Dimension::Payment].as_str(),
            )
        })
        .collect();
    assert_eq!(
        now,
        [
            (cancelled.as_str(), "NEW", "CANCELLED"),
            (sent.as_str(), "SENT", "FILLED_IN"),
            (paid.as_str(), "NEW", "READY_FOR_PROCESSING"),
        ]
    );
    let before = seen
        .iter()
        .find(|o| o.platform_order_id == cancelled)
        .unwrap();
    assert!(
        orders[0].updated_at > before.updated_at,
        "the change is newer"
    );
    assert_eq!(next, Some(m.api.state().events.last().unwrap().id.clone()));
}

#[tokio::test]
async fn an_incoming_order_carries_its_buyer_lines_and_money() {
    let m = market_with(
        |t| Allegro::with_orders(t, &[1]),
        &[("intake-since", "2026-01-01")],
    )
    .await;
    let (orders, next, more) = m.pull(None).await;
    assert!(!more);
    assert_eq!(next, Some(m.api.state().events[0].id.clone()));
    let [order] = orders.as_slice() else {
        panic!("one order: {orders:?}");
    };
    assert_eq!(order.platform_order_id, order_id(1));
    assert_eq!(order.customer.id, "23000001");
    assert_eq!(order.customer.name, "Jan Kowalski");
    assert_eq!(
        order.customer.email.as_deref(),
        Some("kupujacy1+a1b2c3@allegromail.pl")
    );
    assert_eq!(order.customer.phone.as_deref(), Some("+48 600 100 200"));
    assert_eq!(
        order.customer.address,
        ["Grunwaldzka 182", "60-166 Poznań", "PL"]
    );
    let lines: Vec<(String, String, String, u32, String)> = order
        .lines
        .iter()
        .map(|l| {
            (
                l.line_id.clone(),
                l.article.clone(),
                l.name.clone(),
                l.quantity,
                l.unit_price.to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                line_id(1, 1),
                "TEA-100".into(),
                "Czajnik porcelanowy 1 l".into(),
                1,
                "119.90 PLN".into()
            ),
            (
                line_id(1, 2),
                "10000000102".into(),
                "Filiżanka z podstawkiem".into(),
                2,
                "24.50 PLN".into()
            ),
        ]
    );
    assert_eq!(
        order.shipping.as_ref().map(|s| s.to_string()).as_deref(),
        Some("12.99 PLN")
    );
    assert_eq!(order.payment_method, "online");
    assert_eq!(order.statuses[&Dimension::Order], "NEW");
    assert_eq!(order.statuses[&Dimension::Payment], "READY_FOR_PROCESSING");
    assert_eq!(order.created_at.to_string(), "2026-01-15T10:00:00Z");
}

#[tokio::test]
async fn the_first_pull_skips_events_older_than_intake_since() {
    let m = market(|t| {
        // Order 1 bought on 2026-01-15, order 2 now: 30 days back by default.
        let mut allegro = Allegro::with_orders(t, &[1]);
        allegro.buy(2);
        allegro
    })
    .await;
    let (orders, next, _) = m.pull(None).await;
    let ids: Vec<&str> = orders
        .iter()
        .map(|o| o.platform_order_id.as_str())
        .collect();
    assert_eq!(ids, [order_id(2)]);
    assert_eq!(next, Some(m.api.state().events[1].id.clone()));
    assert!(
        !m.calls()
            .contains(&format!("GET /order/checkout-forms/{}", order_id(1))),
        "the old order was not read"
    );
}

#[tokio::test]
async fn webhooks_are_unsupported_since_orders_come_by_the_event_log() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let report =
        m.rt.accept_webhook(&m.plugin.callee(), &m.ctx, &[], b"{}")
            .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Unsupported { message })) => assert_eq!(
            message,
            "Allegro sends no webhooks for orders: its orders and their changes come in by \
             polling the order event log (GET /order/events); give the channel a poll interval \
             instead"
        ),
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(m.api.received().is_empty());
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_with_the_rotated_refresh_token() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    m.push(&id, Dimension::Order, "NEW", "PROCESSING")
        .await
        .result
        .unwrap();
    m.tokens.revoke_all();
    m.push(&id, Dimension::Order, "PROCESSING", "SENT")
        .await
        .result
        .expect("the push succeeds after one renewal");
    assert_eq!(m.api.state().orders[&id].fulfillment, "SENT");
    assert_eq!(m.tokens.grants(), 2);
    // Allegro handed out refresh-1 with the first token; the renewal used it.
    let grants = m.auth.received();
    assert_eq!(
        grants[1].form_value("refresh_token").as_deref(),
        Some("refresh-1")
    );
    assert_eq!(m.tokens.refresh_token(), "refresh-2");
    let auths: Vec<Option<String>> = m
        .api
        .received()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        auths,
        [
            Some("Bearer access-1".into()),
            Some("Bearer access-1".into()),
            Some("Bearer access-1".into()),
            Some("Bearer access-2".into()),
            Some("Bearer access-2".into()),
        ],
        "read and set; then a refused read, the read again and the set"
    );
}

#[tokio::test]
async fn a_refresh_token_the_endpoint_refuses_is_an_auth_error() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let ctx = context(&m.api.url, &m.auth.url, "revoked-by-the-seller", &[]);
    let report =
        m.rt.push_status(
            &m.plugin.callee(),
            &ctx,
            &order_id(1),
            Dimension::Order,
            "NEW",
            "PROCESSING",
            "k",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Auth { message })) => assert_eq!(
            message,
            format!(
                "POST {}{TOKEN_PATH}: the token endpoint refused the channel's refresh token or \
                 client credentials (HTTP 400: invalid_grant: The refresh token is invalid or \
                 expired); give the channel new credentials (\"client-id\", \"client-secret\", \
                 \"refresh-token\"): authorise the application for the seller's account again and \
                 put the new refresh token into \"refresh-token\"",
                m.auth.url
            )
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(
        m.api.received().is_empty(),
        "no API request without a token"
    );
}

#[tokio::test]
async fn a_token_refused_again_after_renewal_is_an_auth_error() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let refused = json!({"error": "invalid_token", "error_description": "Access token does not grant the scope"});
    m.api.inject(401, &[], refused.clone());
    m.api.inject(401, &[], refused);
    match m
        .push(&order_id(1), Dimension::Order, "NEW", "PROCESSING")
        .await
        .result
    {
        Err(CallError::Platform(PlatformError::Auth { message })) => assert_eq!(
            message,
            format!(
                "GET {}/order/checkout-forms/{}: the platform refused a freshly renewed access \
                 token (HTTP 401: invalid_token: Access token does not grant the scope); check \
                 that the channel's credentials grant this API",
                m.api.url,
                order_id(1)
            )
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(m.tokens.grants(), 2, "renewed once");
}

#[tokio::test]
async fn a_throttled_request_is_transient_with_allegros_wait() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    m.api.inject(
        429,
        &[("retry-after", "7"), ("content-type", MEDIA_TYPE)],
        json!({"errors": [{"code": "TooManyRequestsException", "message": "Too many requests",
                           "details": null, "path": null, "userMessage": "Too many requests"}]}),
    );
    match m
        .push(&order_id(1), Dimension::Order, "NEW", "PROCESSING")
        .await
        .result
    {
        Err(CallError::Platform(PlatformError::Transient {
            message,
            retry_after_ms,
        })) => {
            assert_eq!(retry_after_ms, Some(7000));
            assert_eq!(
                message,
                format!(
                    "GET {}/order/checkout-forms/{}: the platform answered HTTP 429: \
                     TooManyRequestsException: Too many requests",
                    m.api.url,
                    order_id(1)
                )
            );
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert_eq!(m.api.state().orders[&order_id(1)].fulfillment, "NEW");
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let m = market(|t| Allegro::seeded(t, 3)).await;
    m.api.inject(
        502,
        &[],
        json!({"errors": [{"code": "BadGateway", "message": "Bad gateway"}]}),
    );
    let report = m.rt.pull(&m.plugin.callee(), &m.ctx, None).await;
    match report.result {
        Err(CallError::Platform(PlatformError::Transient {
            message,
            retry_after_ms,
        })) => {
            assert!(message.contains("/order/events?"), "{message}");
            assert!(
                message.contains("HTTP 502: BadGateway: Bad gateway"),
                "{message}"
            );
            assert_eq!(retry_after_ms, None);
        }
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_http_to_another_machine_gets_no_credentials() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let ctx = context(
        "http://api.allegro.example",
        &m.auth.url,
        REFRESH_TOKEN,
        &[],
    );
    let report =
        m.rt.push_status(
            &m.plugin.callee(),
            &ctx,
            &order_id(1),
            Dimension::Order,
            "NEW",
            "PROCESSING",
            "k",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Config { message })) => assert_eq!(
            message,
            "the channel's base URL \"http://api.allegro.example/\" is plain HTTP to another \
             machine: Allegro's tokens and the client secret would cross the network readable by \
             anyone on the way, so nothing was sent; use https:// (\"https://api.allegro.example/\"); \
             plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(m.auth.received().is_empty());
}

#[tokio::test]
async fn describe_declares_both_dimensions_the_carriers_and_the_token_hosts() {
    let rt = runtime(Limits::default(), cache());
    let plugin = load(&rt, &plugin_path("allegro")).await;
    let p = &plugin.platform;
    assert_eq!(
        (p.id.as_str(), p.version.to_string()),
        ("allegro", "1.1.0".into())
    );
    let codes = |d: Dimension| -> Vec<&str> {
        p.statuses
            .iter()
            .filter(|s| s.dimension == d)
            .map(|s| s.code.as_str())
            .collect()
    };
    assert_eq!(
        codes(Dimension::Order),
        [
            "NEW",
            "PROCESSING",
            "READY_FOR_SHIPMENT",
            "READY_FOR_PICKUP",
            "SENT",
            "PICKED_UP",
            "CANCELLED",
            "SUSPENDED",
            "RETURNED"
        ]
    );
    assert_eq!(
        codes(Dimension::Payment),
        ["BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED"]
    );
    let hosts: Vec<String> = p.extra_hosts.iter().map(|h| h.to_string()).collect();
    assert_eq!(
        hosts,
        [
            "https://allegro.pl:443",
            "https://allegro.pl.allegrosandbox.pl:443"
        ]
    );
    let required: Vec<&str> = p
        .config
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(required, ["client-id", "client-secret", "refresh-token"]);
    let secret: Vec<&str> = p
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secret, ["client-secret", "refresh-token"]);
    assert_eq!(p.carriers.first().map(String::as_str), Some("dhl"));
    assert!(
        !p.transitions.iter().any(|t| t.to == "RETURNED"),
        "no move leads to Allegro's own RETURNED"
    );
}

/// `statusport plugin check` against the fake Allegro, its token endpoint
/// granted, every exchange checked against Allegro's description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_against_the_fake_finds_no_mismatch() {
    let (auth, tokens) = fake::token_endpoint().await;
    let api = serve(Allegro::with_orders(tokens, &[1])).await;
    let path = plugin_path("allegro");
    let spec = shared_spec(SPEC);
    let cache = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(statusport_bin())
        .args([
            "plugin",
            "check",
            path.to_str().unwrap(),
            "--against",
            &api.url,
        ])
        .args(["--config", &format!("client-id={CLIENT_ID}")])
        .args(["--config", &format!("client-secret={CLIENT_SECRET}")])
        .args(["--config", &format!("refresh-token={REFRESH_TOKEN}")])
        .args(["--config", &format!("token-url={}{TOKEN_PATH}", auth.url)])
        .args(["--grant", &auth.url])
        .args(["--order", &order_id(1)])
        .args(["--spec", spec.to_str().unwrap()])
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .await
        .expect("statusport runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(", 0 mismatches"), "{text}");
    assert!(
        text.contains(&format!(
            "push-status {} order NEW → PROCESSING",
            order_id(1)
        )),
        "{text}"
    );
    assert_eq!(api.state().orders[&order_id(1)].fulfillment, "PROCESSING");
}

/// The fake's own check is live: a body Allegro's description refuses is
/// reported (and answered as Allegro answers it).
#[tokio::test]
async fn the_fake_reports_a_request_allegros_description_does_not_allow() {
    let (_auth, tokens) = fake::token_endpoint().await;
    tokens.0.lock().unwrap().valid.insert("hand-made".into());
    let api = serve(Allegro::with_orders(tokens, &[1])).await;
    let answer = reqwest::Client::new()
        .put(format!(
            "{}/order/checkout-forms/{}/fulfillment",
            api.url,
            order_id(1)
        ))
        .header("authorization", "Bearer hand-made")
        .header("accept", MEDIA_TYPE)
        .header("content-type", MEDIA_TYPE)
        .body(r#"{"status":"DONE"}"#)
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(answer.status().as_u16(), 422);
    let found = api.take_mismatches();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("setOrderFulfillmentUsingPUT")
            && found[0].contains("request body at /status"),
        "{found:#?}"
    );
    assert_eq!(api.state().orders[&order_id(1)].fulfillment, "NEW");
}

#[tokio::test]
async fn a_push_retried_after_a_lost_answer_sets_nothing_twice() {
    let m = market(|t| Allegro::with_orders(t, &[1])).await;
    let id = order_id(1);
    // Allegro sets the status, but its answer is lost.
    m.api.state().lose_answers = 1;
    match m.push(&id, Dimension::Order, "NEW", "SENT").await.result {
        Err(CallError::Platform(PlatformError::Transient { .. })) => {}
        other => panic!("expected transient, got {other:?}"),
    }
    let receipt = m
        .push(&id, Dimension::Order, "NEW", "SENT")
        .await
        .result
        .expect("the retry succeeds");
    assert_eq!(
        receipt.summary,
        format!("order {id}: fulfillment status is already SENT")
    );
    assert_eq!(
        m.api.state().orders[&id].changes,
        1,
        "one change on Allegro"
    );
}
