//! `ebay`: the eBay Sell Fulfillment API v1.
//!
//! What it does:
//! - **Statuses.** Two dimensions, both set by eBay alone: the order's
//!   fulfillment status (`orderFulfillmentStatus`: NOT_STARTED,
//!   IN_PROGRESS, FULFILLED) as the delivery dimension, and its payment
//!   status (`orderPaymentStatus`: PENDING, PAID, FAILED,
//!   PARTIALLY_REFUNDED, FULLY_REFUNDED) as the payment dimension. The
//!   declared transitions are the moves eBay itself makes.
//! - **Tracking.** A shipment becomes one shipping fulfillment per package
//!   (`POST /order/{orderId}/shipping_fulfillment`: line items, shipped date,
//!   eBay's carrier code, the tracking number without the spaces and
//!   hyphens of a label). eBay takes no idempotency key, so the plugin first
//!   reads the order's fulfillments and skips every tracking number eBay
//!   already has: a shipment sent again after a lost answer creates nothing
//!   twice.
//! - **Intake.** `pull` polls `getOrders` by last modification; see
//!   [`intake`].
//! - **Auth.** An OAuth user token minted from the channel's refresh token
//!   (HTTP Basic with the client id and secret, scope
//!   `sell.fulfillment`), kept in the channel's state until shortly before
//!   it expires; a 401 renews it once and sends the request once more.
//!   The base URL is `https://api.ebay.com/sell/fulfillment/v1`; one
//!   without a path gets eBay's `/sell/fulfillment/v1`.
//!
//! What it cannot do:
//! - **Set a status.** eBay takes no status from outside: every
//!   `push-status` is `unsupported`, saying so. A shipping fulfillment is
//!   what moves an order to IN_PROGRESS and FULFILLED; payments and refunds
//!   move the payment status.
//! - **Take webhooks.** eBay's notifications are not part of this API:
//!   `accept-webhook` is `unsupported`, and an eBay channel's orders come in
//!   by polling.
//! - **See cancellations.** eBay keeps them in `cancelStatus`, apart from
//!   the two statuses above, and the plugin does not read it.

mod intake;
mod times;

use serde::Deserialize;
use statusport_plugin_sdk::http::{Client, Request, Response, segment};
use statusport_plugin_sdk::oauth::{self, Session, Token};
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Package, PlatformInfo, Shipment, Status, Transition,
    carriers, config_field, host, json, receipt, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

struct Ebay;

/// `orderFulfillmentStatus`, the delivery dimension.
const FULFILLMENT: &[(&str, &str)] = &[
    ("NOT_STARTED", "Not started"),
    ("IN_PROGRESS", "In progress"),
    ("FULFILLED", "Fulfilled"),
];

/// `orderPaymentStatus` (eBay's OrderPaymentStatusEnum), the payment
/// dimension. PENDING and FAILED stand for a refund as well as a payment.
const PAYMENT: &[(&str, &str)] = &[
    ("PENDING", "Pending"),
    ("PAID", "Paid"),
    ("FAILED", "Failed"),
    ("PARTIALLY_REFUNDED", "Partially refunded"),
    ("FULLY_REFUNDED", "Fully refunded"),
];

/// How eBay moves the fulfillment status: a first shipping fulfillment
/// starts it, one that covers the last line item completes it.
const FULFILLMENT_MOVES: &[(&str, &str)] = &[
    ("NOT_STARTED", "IN_PROGRESS"),
    ("NOT_STARTED", "FULFILLED"),
    ("IN_PROGRESS", "FULFILLED"),
];

/// How eBay moves the payment status: a payment clears or fails, a refund
/// is pending and then settles in part or in full.
const PAYMENT_MOVES: &[(&str, &str)] = &[
    ("PENDING", "PAID"),
    ("PENDING", "FAILED"),
    ("PENDING", "PARTIALLY_REFUNDED"),
    ("PENDING", "FULLY_REFUNDED"),
    ("FAILED", "PENDING"),
    ("FAILED", "PAID"),
    ("PAID", "PENDING"),
    ("PAID", "PARTIALLY_REFUNDED"),
    ("PAID", "FULLY_REFUNDED"),
    ("PARTIALLY_REFUNDED", "PENDING"),
    ("PARTIALLY_REFUNDED", "FULLY_REFUNDED"),
];

/// Canonical carrier id → eBay's shipping carrier code (the Trading API's
/// ShippingCarrierCodeType, which `shippingCarrierCode` takes).
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "DHL"),
    ("dhl-express", "DHLEXPRESS"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("usps", "USPS"),
    ("hermes", "Hermes"),
    ("post-at", "OsterreichischePostAG"),
    ("post-ch", "SwissPost"),
    ("royal-mail", "RoyalMail"),
    ("tnt", "TNT"),
    ("colissimo", "Colissimo"),
    ("bpost", "BPost"),
    ("postnl", "PostNL"),
    ("other", "Other"),
];

const CLIENT_ID: &str = "client-id";
const CLIENT_SECRET: &str = "client-secret";
const REFRESH_TOKEN: &str = "refresh-token";
const TOKEN_URL: &str = "token-url";
const DEFAULT_TOKEN_URL: &str = "https://api.ebay.com/identity/v1/oauth2/token";
/// What the plugin asks its user token to grant.
const SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment";
/// The channel state key of the access token.
const TOKEN_KEY: &str = "oauth-token";
/// The API's path below eBay's host, added to a base URL that has none.
const API_PATH: &str = "/sell/fulfillment/v1";

/// A credential-carrying URL must not cross the network readable: `https://`,
/// or plain `http://` on this machine only.
fn private(client: Client, what: &str) -> Result<Client, AdapterError> {
    if client.is_private() {
        return Ok(client);
    }
    let url = client.base_url();
    let mut https = url.clone();
    https
        .set_scheme("https")
        .expect("http and https are both special schemes");
    Err(AdapterError::Config(format!(
        "{what} \"{url}\" is plain HTTP to another machine: the channel's eBay credentials would \
         cross the network readable by anyone on the way, so nothing was sent; use https:// \
         (\"{https}\"); plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])"
    )))
}

/// The channel's API: its base URL (`https://api.ebay.com/sell/fulfillment/v1`;
/// a URL without a path gets eBay's) and its OAuth session.
struct Api<F> {
    base: Client,
    session: Session<F>,
}

fn api() -> Result<Api<impl Fn(&str) -> Result<Token, AdapterError>>, AdapterError> {
    let client_id = host::require_config(CLIENT_ID)?;
    let client_secret = host::require_config(CLIENT_SECRET)?;
    host::require_config(REFRESH_TOKEN)?;
    let token_url = host::config(TOKEN_URL).unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
    let endpoint = Client::new(&token_url).map_err(|_| {
        AdapterError::Config(format!(
            "\"{TOKEN_URL}\" is \"{token_url}\", which is not an http(s) URL: use eBay's token \
             endpoint, {DEFAULT_TOKEN_URL} (or https://api.sandbox.ebay.com/identity/v1/oauth2/token)"
        ))
    })?;
    let endpoint = private(endpoint, TOKEN_URL)?.basic_auth(&client_id, &client_secret);

    let mut base = Client::from_channel()?;
    if base.base_url().path().trim_matches('/').is_empty() {
        base = Client::new(&format!(
            "{}{API_PATH}",
            base.base_url().as_str().trim_end_matches('/')
        ))?;
    }
    let base = private(base, "base URL")?;
    let session = Session::new(TOKEN_KEY, REFRESH_TOKEN, move |refresh: &str| {
        oauth::refresh_grant(endpoint.post("").form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", SCOPE),
        ]))
    });
    Ok(Api { base, session })
}

impl<F: Fn(&str) -> Result<Token, AdapterError>> Api<F> {
    /// Sends what `build` makes of the base client with a bearer token; a
    /// 401 renews the token once; any answer but 2xx is an `adapter-error`.
    fn send(&self, build: impl Fn(&Client) -> Request) -> Result<Response, AdapterError> {
        self.session
            .send_ok(|token| build(&self.base).header("authorization", &format!("Bearer {token}")))
    }
}

/// The line items eBay knows of an order, as `getOrder` gives them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderLines {
    #[serde(default)]
    line_items: Vec<LineRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineRef {
    line_item_id: String,
    #[serde(default)]
    quantity: u32,
}

/// One shipping fulfillment, as `getShippingFulfillments` lists it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fulfillment {
    #[serde(default)]
    fulfillment_id: Option<String>,
    #[serde(default)]
    shipment_tracking_number: Option<String>,
}

#[derive(Deserialize)]
struct Fulfillments {
    #[serde(default)]
    fulfillments: Vec<Fulfillment>,
}

/// A tracking number as eBay takes it: without the spaces and hyphens
/// carriers print for legibility.
fn plain_tracking(number: &str) -> String {
    number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// Whether two tracking numbers are the same parcel's, however written.
fn same_tracking(a: &str, b: &str) -> bool {
    plain_tracking(a).eq_ignore_ascii_case(&plain_tracking(b))
}

/// The body of `createShippingFulfillment` for one package.
fn fulfillment_body(
    package: &Package,
    lines: &[(String, u32)],
    shipped_date: &str,
) -> Result<statusport_plugin_sdk::Value, AdapterError> {
    let carrier = carriers::map(CARRIERS, &package.carrier)?;
    let line_items: Vec<_> = lines
        .iter()
        .map(|(id, quantity)| json!({ "lineItemId": id, "quantity": quantity }))
        .collect();
    Ok(json!({
        "lineItems": line_items,
        "shippedDate": shipped_date,
        "shippingCarrierCode": carrier,
        "trackingNumber": plain_tracking(&package.tracking_number),
    }))
}

/// The fulfillment id at the end of the `Location` eBay answers a create
/// with (`…/order/{orderId}/shipping_fulfillment/{fulfillmentId}`).
fn created_id(location: Option<&str>) -> Option<String> {
    let last = location?.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| last.to_owned())
}

fn statuses() -> Vec<Status> {
    let mut all: Vec<Status> = FULFILLMENT
        .iter()
        .map(|(code, label)| {
            let s = status(Dimension::Delivery, code, label);
            match *code {
                "NOT_STARTED" => s.initial(),
                "FULFILLED" => s.terminal(),
                _ => s,
            }
        })
        .collect();
    all.extend(PAYMENT.iter().map(|(code, label)| {
        let s = status(Dimension::Payment, code, label);
        match *code {
            "PENDING" => s.initial(),
            "FULLY_REFUNDED" => s.terminal(),
            _ => s,
        }
    }));
    all
}

fn transitions() -> Vec<Transition> {
    let moves = |dimension: Dimension, list: &'static [(&str, &str)]| {
        list.iter().map(move |(from, to)| Transition {
            dimension,
            from: (*from).to_owned(),
            to: (*to).to_owned(),
        })
    };
    moves(Dimension::Delivery, FULFILLMENT_MOVES)
        .chain(moves(Dimension::Payment, PAYMENT_MOVES))
        .collect()
}

fn codes(list: &[(&str, &str)]) -> String {
    list.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
}

/// Why no status can be pushed to eBay, for a move to `to` in `dimension`.
fn push_refusal(order: &str, dimension: Dimension, to: &str) -> AdapterError {
    let known = |list: &[(&str, &str)]| list.iter().any(|(c, _)| *c == to);
    match dimension {
        Dimension::Delivery if !known(FULFILLMENT) => AdapterError::Rejected(format!(
            "\"{to}\" is not an eBay fulfillment status (known: {})",
            codes(FULFILLMENT)
        )),
        Dimension::Payment if !known(PAYMENT) => AdapterError::Rejected(format!(
            "\"{to}\" is not an eBay payment status (known: {})",
            codes(PAYMENT)
        )),
        Dimension::Delivery => AdapterError::Unsupported(format!(
            "eBay sets an order's fulfillment status (orderFulfillmentStatus) itself and takes none \
             from outside, so order {order} cannot be set to {to}: upload the shipment instead — its \
             shipping fulfillment moves the order to IN_PROGRESS, and to FULFILLED once every line \
             item is shipped"
        )),
        Dimension::Payment => AdapterError::Unsupported(format!(
            "eBay sets an order's payment status (orderPaymentStatus) itself, from the buyer's \
             payment and the seller's refunds, and takes none from outside, so order {order} cannot \
             be set to {to}"
        )),
        Dimension::Order => AdapterError::Unsupported(format!(
            "eBay orders have no order status to set to {to}: their statuses are the fulfillment \
             status (delivery) and the payment status, both set by eBay"
        )),
    }
}

impl Guest for Ebay {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "ebay".into(),
            name: "eBay".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: statuses(),
            transitions: transitions(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    CLIENT_ID,
                    "App ID (client id) of the eBay developer application, developer.ebay.com › \
                     Application Keys",
                )
                .required(),
                config_field(CLIENT_SECRET, "Cert ID (client secret) of that application")
                    .required()
                    .secret(),
                config_field(
                    REFRESH_TOKEN,
                    "Refresh token of the seller's consent to the application (OAuth authorization \
                     code grant with the sell.fulfillment scope); it lives 18 months",
                )
                .required()
                .secret(),
                config_field(
                    TOKEN_URL,
                    "eBay's OAuth token endpoint; for the sandbox, \
                     https://api.sandbox.ebay.com/identity/v1/oauth2/token",
                )
                .default_value(DEFAULT_TOKEN_URL),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of orders starts: a date (2026-01-31) or an RFC 3339 \
                     time; unset, 30 days back (eBay searches 90 days back at most)",
                ),
            ],
            // The production and sandbox token endpoints: the same origin as
            // the API there, to grant only where the base URL is another host.
            extra_hosts: vec![
                "https://api.ebay.com".into(),
                "https://api.sandbox.ebay.com".into(),
            ],
        }
    }

    fn push_status(
        platform_order_id: String,
        dimension: Dimension,
        _from: String,
        to: String,
        _idempotency_key: String,
    ) -> AdapterResult {
        Err(push_refusal(&platform_order_id, dimension, &to))
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        if shipment.packages.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has no package to upload",
                shipment.id
            )));
        }
        // Refuse what eBay would refuse before anything reaches it.
        for package in &shipment.packages {
            carriers::map(CARRIERS, &package.carrier)?;
            if plain_tracking(&package.tracking_number).is_empty() {
                return Err(AdapterError::Rejected(format!(
                    "shipment {}: a package with carrier {} has no tracking number; eBay needs one \
                     with the carrier",
                    shipment.id, package.carrier
                )));
            }
        }
        let shipped_date = times::ebay_time_of(&shipment.shipped_at).ok_or_else(|| {
            AdapterError::Rejected(format!(
                "shipment {}: shipped-at \"{}\" is not an RFC 3339 time",
                shipment.id, shipment.shipped_at
            ))
        })?;
        let order = &shipment.platform_order_id;
        let api = api()?;
        let path = format!("/order/{}/shipping_fulfillment", segment(order));
        let existing: Fulfillments = api.send(|c| c.get(&path))?.json()?;

        let mut whole_order: Option<Vec<(String, u32)>> = None;
        let mut references = Vec::new();
        let mut sent: Vec<&str> = Vec::new();
        let mut present = 0;
        for package in &shipment.packages {
            let number = package.tracking_number.as_str();
            if let Some(known) = existing.fulfillments.iter().find(|f| {
                f.shipment_tracking_number
                    .as_deref()
                    .is_some_and(|t| same_tracking(t, number))
            }) {
                present += 1;
                references.extend(known.fulfillment_id.clone());
                continue;
            }
            if sent.iter().any(|n| same_tracking(n, number)) {
                present += 1;
                continue;
            }
            let lines = if package.lines.is_empty() {
                if whole_order.is_none() {
                    let read: OrderLines = api
                        .send(|c| c.get(&format!("/order/{}", segment(order))))?
                        .json()?;
                    whole_order = Some(
                        read.line_items
                            .into_iter()
                            .map(|l| (l.line_item_id, l.quantity.max(1)))
                            .collect(),
                    );
                }
                whole_order.clone().unwrap_or_default()
            } else {
                package
                    .lines
                    .iter()
                    .map(|l| (l.line_id.clone(), l.quantity))
                    .collect()
            };
            if lines.is_empty() {
                return Err(AdapterError::Rejected(format!(
                    "eBay lists no line item on order {order}: there is nothing to ship tracking \
                     number {number} for"
                )));
            }
            let body = fulfillment_body(package, &lines, &shipped_date)?;
            let created = api.send(|c| c.post(&path).json(&body))?;
            references.extend(created_id(created.header("location")));
            sent.push(number);
        }
        Ok(receipt(
            (!references.is_empty()).then(|| references.join(",")),
            format!(
                "order {order}: {} shipping fulfillment(s) created, {present} already present",
                sent.len()
            ),
        ))
    }
}

impl Intake for Ebay {
    fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
        intake::pull(cursor)
    }

    fn accept_webhook(
        _headers: Vec<(String, String)>,
        _body: Vec<u8>,
    ) -> Result<Vec<Inbound>, AdapterError> {
        Err(AdapterError::Unsupported(
            "eBay sends no order webhooks to the host: its notifications are not part of the Sell \
             Fulfillment API, so an eBay channel's orders come in by polling (give the channel a \
             poll_interval_secs)"
                .into(),
        ))
    }
}

export!(Ebay);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_names_statuses_of_its_dimension_and_leaves_no_terminal_one() {
        let all = statuses();
        for t in transitions() {
            for code in [&t.from, &t.to] {
                assert!(
                    all.iter()
                        .any(|s| s.dimension == t.dimension && &s.code == code),
                    "{} {code} is not declared",
                    t.dimension.as_str()
                );
            }
            assert!(
                !all.iter()
                    .any(|s| s.dimension == t.dimension && s.code == t.from && s.terminal),
                "{} → {} leaves a terminal status",
                t.from,
                t.to
            );
        }
        let initial: Vec<(&str, &str)> = all
            .iter()
            .filter(|s| s.initial)
            .map(|s| (s.dimension.as_str(), s.code.as_str()))
            .collect();
        assert_eq!(
            initial,
            [("delivery", "NOT_STARTED"), ("payment", "PENDING")]
        );
    }

    #[test]
    fn every_canonical_carrier_has_an_ebay_code() {
        for id in carriers::CANONICAL {
            assert!(carriers::map(CARRIERS, id).is_ok(), "{id}");
        }
        assert_eq!(
            carriers::map(CARRIERS, "post-at").unwrap(),
            "OsterreichischePostAG"
        );
        match carriers::map(CARRIERS, "pigeon") {
            Err(AdapterError::Rejected(m)) => assert!(
                m.contains("carrier \"pigeon\" is not known") && m.contains("dhl-express, dpd"),
                "{m}"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_fulfillment_names_lines_carrier_code_and_tracking() {
        let package = Package {
            carrier: "dhl-express".into(),
            tracking_number: "JD01 4600 0065 4321 0987".into(),
            tracking_url: None,
            lines: Vec::new(),
        };
        let body = fulfillment_body(
            &package,
            &[("10012345678901".into(), 2)],
            "2026-11-20T09:30:00.000Z",
        )
        .unwrap();
        assert_eq!(
            body,
            json!({
                "lineItems": [{ "lineItemId": "10012345678901", "quantity": 2 }],
                "shippedDate": "2026-11-20T09:30:00.000Z",
                "shippingCarrierCode": "DHLEXPRESS",
                "trackingNumber": "JD014600006543210987",
            })
        );
    }

    #[test]
    fn tracking_numbers_go_without_spaces_and_match_however_written() {
        assert!(same_tracking("1z 999 aa1", "1Z999AA1"));
        assert!(same_tracking("0034-0434 1610", "003404341610"));
        assert!(!same_tracking("1Z999AA1", "1Z999AA2"));
        assert_eq!(plain_tracking(" 1Z 999-AA1 "), "1Z999AA1");
    }

    #[test]
    fn the_fulfillment_id_is_the_last_segment_of_the_location() {
        assert_eq!(
            created_id(Some(
                "https://api.ebay.com/sell/fulfillment/v1/order/01-03955-36441/shipping_fulfillment/9405509699937003457459"
            )),
            Some("9405509699937003457459".into())
        );
        assert_eq!(created_id(None), None);
        assert_eq!(created_id(Some("")), None);
    }

    #[test]
    fn every_push_is_refused_saying_why() {
        let refusal = |d, to| push_refusal("01-03955-36441", d, to);
        assert!(
            matches!(refusal(Dimension::Delivery, "FULFILLED"), AdapterError::Unsupported(m) if m.contains("upload the shipment"))
        );
        assert!(
            matches!(refusal(Dimension::Payment, "PAID"), AdapterError::Unsupported(m) if m.contains("orderPaymentStatus"))
        );
        assert!(matches!(
            refusal(Dimension::Order, "shipped"),
            AdapterError::Unsupported(_)
        ));
        match refusal(Dimension::Delivery, "shipped") {
            AdapterError::Rejected(m) => assert_eq!(
                m,
                "\"shipped\" is not an eBay fulfillment status (known: NOT_STARTED, IN_PROGRESS, FULFILLED)"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
