//! `bigcommerce`: BigCommerce Orders V2 (REST, `X-Auth-Token`).
//!
//! One order dimension: BigCommerce's fifteen order statuses (`status_id`
//! 0–14), under stable snake_case codes of their system names
//! (`awaiting_fulfillment` is status 11). The codes are the names, not the
//! numbers, so that rules read as the control panel does; they are not the
//! labels, which a merchant may rename per store (`custom_label`), while the
//! ids and system names stay. A status goes out as `PUT /orders/{id}` with
//! `status_id`, after reading the order: a push to the status the order
//! already has changes nothing, and a move out of a status that no move
//! leaves (`refunded`) is refused naming what is allowed.
//!
//! A merchant may set any status from any other, except four that
//! BigCommerce sets itself and that the plugin therefore never pushes
//! (`unsupported`, saying why): Incomplete (a shopper left the payment page
//! without paying), Refunded and Partially Refunded (a refund made in
//! BigCommerce — setting the label alone would tell the customer money came
//! back that did not), Disputed (a PayPal dispute). Refunded is terminal.
//!
//! Tracking numbers go out as order shipments (`POST /orders/{id}/shipments`)
//! with the carrier as BigCommerce's `tracking_carrier` (AfterShip's courier
//! slugs) and the lines of the package (`order_product_id` and quantity; a
//! package naming no lines takes every item not shipped yet). BigCommerce
//! takes no idempotency key, so the plugin reads the order's shipments first
//! and creates none for a tracking number already there: a shipment sent
//! again after a lost answer creates nothing twice. BigCommerce itself then
//! moves the order to Shipped or Partially Shipped.
//!
//! Contract 1.1: orders come in by `pull` (polling `GET /orders` by
//! modification time) and by BigCommerce's order webhooks, signed the
//! Standard Webhooks way; see [`intake`].
//!
//! What it cannot do: refund, or set the statuses BigCommerce sets itself;
//! put one shipment to several shipping addresses (BigCommerce takes one
//! address per shipment: a package whose lines go to two addresses is
//! refused); renew the access token (a store API account's token does not
//! expire and has no refresh: a 401 is an `auth` error for the operator).

mod intake;
mod shipments;

use serde::Deserialize;
use statusport_plugin_sdk::http::{Client, Request, Response, segment};
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, PlatformInfo, Shipment, Status, Transition, carriers,
    config_field, host, json, receipt, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

struct BigCommerce;

/// One of BigCommerce's order statuses.
#[derive(Debug)]
struct OrderStatus {
    code: &'static str,
    id: u8,
    label: &'static str,
    /// Why the plugin never sets it: BigCommerce sets it itself.
    set_by_bigcommerce: Option<&'static str>,
}

const fn settable(code: &'static str, id: u8, label: &'static str) -> OrderStatus {
    OrderStatus {
        code,
        id,
        label,
        set_by_bigcommerce: None,
    }
}

const fn platform_only(
    code: &'static str,
    id: u8,
    label: &'static str,
    why: &'static str,
) -> OrderStatus {
    OrderStatus {
        code,
        id,
        label,
        set_by_bigcommerce: Some(why),
    }
}

/// Every status of `getOrderStatuses`, in the order an order usually goes
/// through them.
const STATUSES: &[OrderStatus] = &[
    settable("pending", 1, "Pending"),
    settable("awaiting_payment", 7, "Awaiting Payment"),
    settable("awaiting_fulfillment", 11, "Awaiting Fulfillment"),
    settable("awaiting_shipment", 9, "Awaiting Shipment"),
    settable("awaiting_pickup", 8, "Awaiting Pickup"),
    settable("partially_shipped", 3, "Partially Shipped"),
    settable("shipped", 2, "Shipped"),
    settable("completed", 10, "Completed"),
    settable("cancelled", 5, "Cancelled"),
    settable("declined", 6, "Declined"),
    settable(
        "manual_verification_required",
        12,
        "Manual Verification Required",
    ),
    platform_only(
        "disputed",
        13,
        "Disputed",
        "BigCommerce sets Disputed when the customer opens a dispute on the payment (PayPal)",
    ),
    platform_only(
        "partially_refunded",
        14,
        "Partially Refunded",
        "BigCommerce sets Partially Refunded when part of the payment is refunded: make the \
         refund in BigCommerce (Orders › Refund, or the Payment Actions API)",
    ),
    platform_only(
        "refunded",
        4,
        "Refunded",
        "BigCommerce sets Refunded when the payment is refunded in full: make the refund in \
         BigCommerce (Orders › Refund, or the Payment Actions API); the status alone would \
         tell the customer money came back that did not",
    ),
    platform_only(
        "incomplete",
        0,
        "Incomplete",
        "BigCommerce sets Incomplete when a shopper leaves the payment page without paying",
    ),
];

/// No move leaves these: a refund in full cannot be undone.
const TERMINAL: &[&str] = &["refunded"];

/// Canonical carrier id → BigCommerce's `tracking_carrier`, which takes
/// AfterShip's courier slugs and builds the tracking link from them. `dhl`
/// is DHL Paket (Deutsche Post DHL), `hermes` Hermes Germany, `post-at`
/// Austrian Post. `other` has no slug: the package's own tracking URL goes
/// as `tracking_link`.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "dhl-germany"),
    ("dhl-express", "dhl"),
    ("dpd", "dpd"),
    ("gls", "gls"),
    ("ups", "ups"),
    ("fedex", "fedex"),
    ("usps", "usps"),
    ("hermes", "hermes-de"),
    ("post-at", "austrian-post"),
    ("post-ch", "swiss-post"),
    ("royal-mail", "royal-mail"),
    ("tnt", "tnt"),
    ("colissimo", "colissimo"),
    ("bpost", "bpost"),
    ("postnl", "postnl"),
    ("other", ""),
];

const ACCESS_TOKEN: &str = "access-token";

fn status_by_code(code: &str) -> Option<&'static OrderStatus> {
    STATUSES.iter().find(|s| s.code == code)
}

fn status_by_id(id: u64) -> Option<&'static OrderStatus> {
    STATUSES.iter().find(|s| u64::from(s.id) == id)
}

fn known_codes() -> String {
    STATUSES
        .iter()
        .map(|s| s.code)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a merchant may move an order from `from` to `to` (both codes).
fn allows(from: &str, to: &str) -> bool {
    from != to
        && !TERMINAL.contains(&from)
        && status_by_code(to).is_some_and(|s| s.set_by_bigcommerce.is_none())
}

/// The codes a merchant may move an order to from `from`.
fn moves_from(from: &str) -> Vec<&'static str> {
    STATUSES
        .iter()
        .map(|s| s.code)
        .filter(|to| allows(from, to))
        .collect()
}

fn statuses() -> Vec<Status> {
    STATUSES
        .iter()
        .map(|s| {
            let described = status(Dimension::Order, s.code, s.label);
            if s.code == "pending" {
                described.initial()
            } else if TERMINAL.contains(&s.code) {
                described.terminal()
            } else {
                described
            }
        })
        .collect()
}

fn transitions() -> Vec<Transition> {
    STATUSES
        .iter()
        .flat_map(|from| {
            moves_from(from.code).into_iter().map(|to| Transition {
                dimension: Dimension::Order,
                from: from.code.to_owned(),
                to: to.to_owned(),
            })
        })
        .collect()
}

/// The store's Orders V2 API: requests carry the access token and go below
/// `…/stores/{store_hash}/v2`.
pub(crate) struct Api {
    client: Client,
    token: String,
}

/// The channel's base URL as the API's root: `https://api.bigcommerce.com/stores/{store_hash}/v2`.
/// A base URL without the trailing `/v2` (the store's API path as
/// BigCommerce shows it) gets it added.
fn v2_root(base: &url::Url) -> Result<String, AdapterError> {
    let path = base.path().trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or_default();
    if last == "v2" {
        return Ok(base.as_str().trim_end_matches('/').to_owned());
    }
    if last.len() >= 2 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(AdapterError::Config(format!(
            "base URL \"{base}\" ends in /{last}: the orders live in BigCommerce's V2 API; use \
             https://api.bigcommerce.com/stores/<store hash>/v2"
        )));
    }
    let mut root = base.clone();
    root.set_path(&format!("{path}/v2"));
    root.set_query(None);
    Ok(root.as_str().to_owned())
}

impl Api {
    pub(crate) fn open() -> Result<Api, AdapterError> {
        let token = host::require_config(ACCESS_TOKEN)?;
        let channel = Client::from_channel()?;
        // The token goes readable in every request: over plain HTTP anyone
        // on the way could take it and run the store's API.
        if !channel.is_private() {
            let base = channel.base_url();
            return Err(AdapterError::Config(format!(
                "base URL \"{base}\" is plain HTTP to another machine: the access token would cross \
                 the network readable by anyone on the way, so nothing was sent; use \
                 https://api.bigcommerce.com/stores/<store hash>/v2 (plain http:// is accepted only \
                 on this machine: 127.0.0.0/8, localhost, [::1])"
            )));
        }
        let client = Client::new(&v2_root(channel.base_url())?)?;
        Ok(Api { client, token })
    }

    fn request(&self, request: Request) -> Request {
        request.header("x-auth-token", &self.token)
    }

    pub(crate) fn get(&self, path: &str) -> Request {
        self.request(self.client.get(path))
    }

    pub(crate) fn put(&self, path: &str) -> Request {
        self.request(self.client.put(path))
    }

    pub(crate) fn post(&self, path: &str) -> Request {
        self.request(self.client.post(path))
    }

    /// Sends `request`; any answer but 2xx is an error naming the request,
    /// and a refused token says which config field to check.
    pub(crate) fn send(&self, request: Request) -> Result<Response, AdapterError> {
        let what = request.describe();
        let response = request.send()?;
        self.check(response, &what)
    }

    /// `response` to `what` (the request) when it is a success; else the
    /// error for its status, naming the request.
    pub(crate) fn check(&self, response: Response, what: &str) -> Result<Response, AdapterError> {
        match response.error_for_status_of(what) {
            Err(AdapterError::Auth(message)) => Err(AdapterError::Auth(format!(
                "{message}; check the channel's \"{ACCESS_TOKEN}\": the access token of a \
                 store-level API account whose Orders scope is \"modify\""
            ))),
            other => other,
        }
    }
}

/// A BigCommerce order id: a number. Anything else is refused before a
/// request leaves.
pub(crate) fn order_path(order_id: &str) -> Result<String, AdapterError> {
    let id = order_id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 18 {
        return Err(AdapterError::Rejected(format!(
            "\"{order_id}\" is not a BigCommerce order id: BigCommerce numbers its orders (100, 101, …)"
        )));
    }
    Ok(format!("/orders/{}", segment(id)))
}

/// What the plugin reads of an order to push a status.
#[derive(Deserialize)]
struct OrderState {
    id: u64,
    status_id: u64,
}

fn code_of(order_id: &str, status_id: u64) -> Result<&'static OrderStatus, AdapterError> {
    status_by_id(status_id).ok_or_else(|| {
        AdapterError::Rejected(format!(
            "BigCommerce order {order_id} has status_id {status_id}, which is none of BigCommerce's \
             order statuses 0–14"
        ))
    })
}

fn push(order_id: &str, to: &str) -> AdapterResult {
    let target = status_by_code(to).ok_or_else(|| {
        AdapterError::Rejected(format!(
            "\"{to}\" is not a BigCommerce order status (known: {})",
            known_codes()
        ))
    })?;
    if let Some(why) = target.set_by_bigcommerce {
        return Err(AdapterError::Unsupported(format!(
            "order {order_id}: the plugin does not set \"{to}\": {why}"
        )));
    }
    let path = order_path(order_id)?;
    let api = Api::open()?;
    let order: OrderState = api.send(api.get(&path))?.json()?;
    let current = code_of(order_id, order.status_id)?;
    if current.code == to {
        return Ok(receipt(
            Some(order.id.to_string()),
            format!("order {order_id} is {to} already"),
        ));
    }
    if !allows(current.code, to) {
        let allowed = moves_from(current.code);
        return Err(AdapterError::Rejected(format!(
            "BigCommerce order {order_id} is {} ({}); no move leads from it to {to} (allowed from {}: {})",
            current.code,
            current.label,
            current.code,
            if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            }
        )));
    }
    let updated: OrderState = api
        .send(api.put(&path).json(&json!({ "status_id": target.id })))?
        .json()?;
    if updated.status_id != u64::from(target.id) {
        let kept = status_by_id(updated.status_id).map_or("an unknown status", |s| s.code);
        return Err(AdapterError::Rejected(format!(
            "order {order_id}: BigCommerce kept status {kept} (status_id {}) instead of {to} \
             (status_id {})",
            updated.status_id, target.id
        )));
    }
    Ok(receipt(
        Some(updated.id.to_string()),
        format!("order {order_id} is now {to} ({})", target.label),
    ))
}

impl Guest for BigCommerce {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "bigcommerce".into(),
            name: "BigCommerce".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: statuses(),
            transitions: transitions(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    ACCESS_TOKEN,
                    "Access token of a store-level API account (Settings › API › Store-level API \
                     accounts) whose Orders scope is \"modify\"; sent as X-Auth-Token. The \
                     channel's base URL is the account's API path: \
                     https://api.bigcommerce.com/stores/<store hash>/v2",
                )
                .required()
                .secret(),
                config_field(
                    intake::WEBHOOK_SECRET,
                    "Signing secret (whsec_…) of the store's order webhooks (store/order/created, \
                     store/order/updated, store/order/statusUpdated) that deliver to this channel; \
                     each delivery's Standard Webhooks signature is checked against it",
                )
                .secret(),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of orders starts: a date (2026-01-31) or an RFC 3339 \
                     time; unset, 30 days back",
                ),
            ],
            extra_hosts: Vec::new(),
        }
    }

    fn push_status(
        platform_order_id: String,
        dimension: Dimension,
        _from: String,
        to: String,
        _idempotency_key: String,
    ) -> AdapterResult {
        if dimension != Dimension::Order {
            return Err(AdapterError::Unsupported(format!(
                "BigCommerce keeps one status per order, not a {} status",
                dimension.as_str()
            )));
        }
        // Setting a status is idempotent on BigCommerce, and the plugin
        // reads the order first: a retry finds it moved and sends nothing.
        push(&platform_order_id, &to)
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        shipments::upload(&shipment)
    }
}

impl Intake for BigCommerce {
    fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
        intake::pull(cursor)
    }

    fn accept_webhook(
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Vec<Inbound>, AdapterError> {
        intake::accept_webhook(headers, body)
    }
}

export!(BigCommerce);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_id_from_0_to_14_has_one_code() {
        let mut ids: Vec<u8> = STATUSES.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..=14).collect::<Vec<u8>>());
        assert_eq!(status_by_id(11).unwrap().code, "awaiting_fulfillment");
        assert_eq!(status_by_code("partially_shipped").unwrap().id, 3);
        assert!(status_by_id(15).is_none());
    }

    #[test]
    fn statuses_bigcommerce_sets_are_never_a_target_and_refunded_is_left_by_none() {
        for platform in ["incomplete", "refunded", "partially_refunded", "disputed"] {
            assert!(!allows("pending", platform), "{platform}");
            assert!(transitions().iter().all(|t| t.to != platform), "{platform}");
        }
        assert!(moves_from("refunded").is_empty());
        assert_eq!(
            moves_from("disputed"),
            [
                "pending",
                "awaiting_payment",
                "awaiting_fulfillment",
                "awaiting_shipment",
                "awaiting_pickup",
                "partially_shipped",
                "shipped",
                "completed",
                "cancelled",
                "declined",
                "manual_verification_required"
            ]
        );
        assert!(!allows("shipped", "shipped"));
        // The 3 statuses BigCommerce sets that a move leaves go to each of
        // the 11 a merchant sets; those 11 each to the 10 others.
        assert_eq!(transitions().len(), 3 * 11 + 11 * 10);
    }

    #[test]
    fn one_initial_and_one_terminal_status() {
        let all = statuses();
        let initial: Vec<&str> = all
            .iter()
            .filter(|s| s.initial)
            .map(|s| s.code.as_str())
            .collect();
        let terminal: Vec<&str> = all
            .iter()
            .filter(|s| s.terminal)
            .map(|s| s.code.as_str())
            .collect();
        assert_eq!(initial, ["pending"]);
        assert_eq!(terminal, ["refunded"]);
    }

    #[test]
    fn carriers_map_to_aftership_slugs_and_an_unknown_one_names_the_known() {
        assert_eq!(carriers::map(CARRIERS, "dhl").unwrap(), "dhl-germany");
        assert_eq!(carriers::map(CARRIERS, "DHL-Express").unwrap(), "dhl");
        assert_eq!(carriers::map(CARRIERS, "other").unwrap(), "");
        assert_eq!(carriers::ids(CARRIERS).len(), carriers::CANONICAL.len());
        match carriers::map(CARRIERS, "pigeon") {
            Err(AdapterError::Rejected(m)) => assert!(
                m.contains("known: dhl, dhl-express, dpd, gls, ups, fedex, usps, hermes"),
                "{m}"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn the_api_root_ends_in_v2() {
        assert_eq!(
            v2_root(&url("https://api.bigcommerce.com/stores/abc123/v2")).unwrap(),
            "https://api.bigcommerce.com/stores/abc123/v2"
        );
        assert_eq!(
            v2_root(&url("https://api.bigcommerce.com/stores/abc123/v2/")).unwrap(),
            "https://api.bigcommerce.com/stores/abc123/v2"
        );
        assert_eq!(
            v2_root(&url("https://api.bigcommerce.com/stores/abc123")).unwrap(),
            "https://api.bigcommerce.com/stores/abc123/v2"
        );
        assert!(matches!(
            v2_root(&url("https://api.bigcommerce.com/stores/abc123/v3")),
            Err(AdapterError::Config(m)) if m.contains("/v3")
        ));
    }

    #[test]
    fn order_ids_are_numbers() {
        assert_eq!(order_path("250").unwrap(), "/orders/250");
        for wrong in ["", "abc", "12/3", "-1", "1234567890123456789"] {
            assert!(
                matches!(order_path(wrong), Err(AdapterError::Rejected(_))),
                "{wrong}"
            );
        }
    }
}
