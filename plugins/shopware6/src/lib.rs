//! `shopware6`: Shopware 6 Admin API.
//!
//! Three dimensions, each a state machine: the order (`order.state`), its
//! delivery (`order_delivery.state`) and its payment transaction
//! (`order_transaction.state`). A status change asks Shopware which actions
//! leave the current state (`GET /api/_action/state-machine/...`) and posts
//! the one that leads to the wanted state. Tracking codes go on the order
//! delivery, followed by its `ship` transition. Authentication is OAuth
//! client credentials; the token lives in the channel's state until shortly
//! before it expires.
//!
//! Contract 1.1: orders and state changes come in by `pull` and by the
//! app system's webhooks; see [`intake`].

mod intake;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use statusport_plugin_sdk::http::{Client, Request, Response, segment};
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, PlatformInfo, Shipment, Status, Transition, carriers,
    config_field, host, json, receipt, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

struct Shopware;

const ORDER: &[(&str, &str)] = &[
    ("open", "Open"),
    ("in_progress", "In progress"),
    ("completed", "Done"),
    ("cancelled", "Cancelled"),
];

const DELIVERY: &[(&str, &str)] = &[
    ("open", "Open"),
    ("shipped_partially", "Shipped (partially)"),
    ("shipped", "Shipped"),
    ("returned_partially", "Returned (partially)"),
    ("returned", "Returned"),
    ("cancelled", "Cancelled"),
    ("delivered_partially", "Delivered (partially)"),
    ("delivered", "Delivered"),
];

const PAYMENT: &[(&str, &str)] = &[
    ("open", "Open"),
    ("paid", "Paid"),
    ("paid_partially", "Paid (partially)"),
    ("refunded", "Refunded"),
    ("refunded_partially", "Refunded (partially)"),
    ("cancelled", "Cancelled"),
    ("reminded", "Reminded"),
    ("authorized", "Authorized"),
    ("failed", "Failed"),
    ("in_progress", "In progress"),
    ("chargeback", "Chargeback"),
    ("unconfirmed", "Unconfirmed"),
];

/// `(from, action, to)` of Shopware's default `order.state` machine.
const ORDER_GRAPH: &[(&str, &str, &str)] = &[
    ("open", "process", "in_progress"),
    ("open", "cancel", "cancelled"),
    ("in_progress", "cancel", "cancelled"),
    ("in_progress", "complete", "completed"),
    ("cancelled", "reopen", "open"),
    ("completed", "reopen", "open"),
];

/// `order_delivery.state`.
const DELIVERY_GRAPH: &[(&str, &str, &str)] = &[
    ("open", "ship", "shipped"),
    ("open", "ship_partially", "shipped_partially"),
    ("open", "cancel", "cancelled"),
    ("shipped", "retour", "returned"),
    ("shipped", "retour_partially", "returned_partially"),
    ("shipped", "cancel", "cancelled"),
    ("shipped", "deliver", "delivered"),
    ("shipped", "deliver_partially", "delivered_partially"),
    ("shipped_partially", "retour", "returned"),
    (
        "shipped_partially",
        "retour_partially",
        "returned_partially",
    ),
    ("shipped_partially", "ship", "shipped"),
    ("shipped_partially", "cancel", "cancelled"),
    (
        "shipped_partially",
        "deliver_partially",
        "delivered_partially",
    ),
    ("delivered_partially", "deliver", "delivered"),
    (
        "delivered_partially",
        "retour_partially",
        "returned_partially",
    ),
    ("delivered", "retour", "returned"),
    ("delivered", "retour_partially", "returned_partially"),
    ("returned_partially", "retour", "returned"),
    ("cancelled", "reopen", "open"),
];

/// `order_transaction.state`.
const PAYMENT_GRAPH: &[(&str, &str, &str)] = &[
    ("open", "paid", "paid"),
    ("open", "pay_partially", "paid_partially"),
    ("open", "cancel", "cancelled"),
    ("open", "remind", "reminded"),
    ("open", "authorize", "authorized"),
    ("open", "fail", "failed"),
    ("open", "do_pay", "in_progress"),
    ("open", "process_unconfirmed", "unconfirmed"),
    ("in_progress", "paid", "paid"),
    ("in_progress", "pay_partially", "paid_partially"),
    ("in_progress", "fail", "failed"),
    ("in_progress", "cancel", "cancelled"),
    ("reminded", "paid", "paid"),
    ("reminded", "pay_partially", "paid_partially"),
    ("reminded", "cancel", "cancelled"),
    ("reminded", "do_pay", "in_progress"),
    ("paid_partially", "remind", "reminded"),
    ("paid_partially", "paid", "paid"),
    ("paid_partially", "refund_partially", "refunded_partially"),
    ("paid_partially", "refund", "refunded"),
    ("paid_partially", "cancel", "cancelled"),
    ("paid", "refund_partially", "refunded_partially"),
    ("paid", "refund", "refunded"),
    ("paid", "cancel", "cancelled"),
    ("paid", "chargeback", "chargeback"),
    ("refunded_partially", "refund", "refunded"),
    ("refunded_partially", "cancel", "cancelled"),
    ("authorized", "paid", "paid"),
    ("authorized", "pay_partially", "paid_partially"),
    ("authorized", "cancel", "cancelled"),
    ("authorized", "fail", "failed"),
    ("unconfirmed", "paid", "paid"),
    ("unconfirmed", "authorize", "authorized"),
    ("unconfirmed", "fail", "failed"),
    ("unconfirmed", "cancel", "cancelled"),
    ("failed", "reopen", "open"),
    ("failed", "paid", "paid"),
    ("failed", "do_pay", "in_progress"),
    ("chargeback", "paid", "paid"),
    ("chargeback", "cancel", "cancelled"),
    ("cancelled", "reopen", "open"),
    ("cancelled", "refund", "refunded"),
    ("cancelled", "refund_partially", "refunded_partially"),
];

/// Shopware stores no carrier with a tracking code (the shipping method
/// decides); the plugin still accepts only carriers a Shopware shop ships with.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "DHL"),
    ("dhl-express", "DHL Express"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("hermes", "Hermes"),
    ("post-at", "Österreichische Post"),
    ("post-ch", "Swiss Post"),
    ("postnl", "PostNL"),
    ("other", "Other"),
];

const CLIENT_ID: &str = "client-id";
const CLIENT_SECRET: &str = "client-secret";
const TOKEN_KEY: &str = "oauth-token";
/// A token this close to expiry is renewed before use.
const TOKEN_MARGIN_SECS: u64 = 30;

/// The Admin API entity and its state machine for one dimension.
struct Machine {
    entity: &'static str,
    graph: &'static [(&'static str, &'static str, &'static str)],
}

fn machine(dimension: Dimension) -> Machine {
    match dimension {
        Dimension::Order => Machine {
            entity: "order",
            graph: ORDER_GRAPH,
        },
        Dimension::Delivery => Machine {
            entity: "order_delivery",
            graph: DELIVERY_GRAPH,
        },
        Dimension::Payment => Machine {
            entity: "order_transaction",
            graph: PAYMENT_GRAPH,
        },
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Serialize, Deserialize)]
struct StoredToken {
    access_token: String,
    expires_at: u64,
}

/// An Admin API session: the channel's base URL and a valid bearer token.
struct Session {
    base: Client,
    token: String,
}

impl Session {
    fn open() -> Result<Session, AdapterError> {
        let base = Client::from_channel()?;
        let cached = host::state_get(TOKEN_KEY)
            .and_then(|bytes| serde_json::from_slice::<StoredToken>(&bytes).ok())
            .filter(|t| t.expires_at > now_secs() + TOKEN_MARGIN_SECS);
        let token = match cached {
            Some(t) => t.access_token,
            None => fetch_token(&base)?,
        };
        Ok(Session { base, token })
    }

    fn authorised(&self, method: statusport_plugin_sdk::http::Method, path: &str) -> Request {
        self.base.clone().bearer(&self.token).request(method, path)
    }

    /// Sends a request; on 401 the token is renewed once and the request
    /// repeated, since Shopware may revoke a token before its expiry.
    fn send(
        &mut self,
        method: statusport_plugin_sdk::http::Method,
        path: &str,
        body: Option<&statusport_plugin_sdk::Value>,
    ) -> Result<Response, AdapterError> {
        let build = |s: &Session| {
            let r = s.authorised(method, path);
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        };
        let response = build(self).send()?;
        if response.status != 401 {
            return response.error_for_status();
        }
        host::state_remove(TOKEN_KEY);
        self.token = fetch_token(&self.base)?;
        build(self).send_ok()
    }
}

fn fetch_token(base: &Client) -> Result<String, AdapterError> {
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
        expires_in: u64,
    }
    let client_id = host::require_config(CLIENT_ID)?;
    let client_secret = host::require_config(CLIENT_SECRET)?;
    let response = base
        .post("/api/oauth/token")
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }))
        .send()?;
    if response.status == 400 || response.status == 401 {
        return Err(AdapterError::Auth(format!(
            "Shopware refused the integration's client credentials (HTTP {}): check {CLIENT_ID} and {CLIENT_SECRET}",
            response.status
        )));
    }
    let token: Token = response.error_for_status()?.json()?;
    let stored = StoredToken {
        access_token: token.access_token.clone(),
        expires_at: now_secs() + token.expires_in,
    };
    host::state_set(
        TOKEN_KEY,
        &serde_json::to_vec(&stored).expect("a token serialises"),
    );
    Ok(token.access_token)
}

use statusport_plugin_sdk::http::Method;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StateRef {
    technical_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    id: String,
    #[serde(default)]
    tracking_codes: Vec<String>,
    #[serde(default)]
    state_machine_state: Option<StateRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Transaction {
    id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    state_machine_state: Option<StateRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    id: String,
    #[serde(default)]
    state_machine_state: Option<StateRef>,
    #[serde(default)]
    deliveries: Vec<Delivery>,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

/// Reads the order with its deliveries, transactions and their states.
/// Shopware 6.6 leaves these empty unless the associations are named.
fn read_order(session: &mut Session, order_id: &str) -> Result<Order, AdapterError> {
    #[derive(Deserialize)]
    struct Search {
        data: Vec<Order>,
    }
    let criteria = json!({
        "ids": [order_id],
        "associations": {
            "stateMachineState": {},
            "deliveries": { "associations": { "stateMachineState": {} } },
            "transactions": { "associations": { "stateMachineState": {} } },
        },
    });
    let found: Search = session
        .send(Method::Post, "/api/search/order", Some(&criteria))?
        .json()?;
    found
        .data
        .into_iter()
        .next()
        .ok_or_else(|| AdapterError::Rejected(format!("Shopware has no order with id {order_id}")))
}

/// The order's primary delivery: Shopware puts it first.
fn primary_delivery(order: &Order) -> Result<&Delivery, AdapterError> {
    order.deliveries.first().ok_or_else(|| {
        AdapterError::Rejected(format!("Shopware order {} has no delivery", order.id))
    })
}

/// The order's current transaction: Shopware uses the newest.
fn current_transaction(order: &Order) -> Result<&Transaction, AdapterError> {
    order
        .transactions
        .iter()
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
        .ok_or_else(|| {
            AdapterError::Rejected(format!(
                "Shopware order {} has no payment transaction",
                order.id
            ))
        })
}

/// The entity id and current state of `dimension` on an order.
fn target(order: &Order, dimension: Dimension) -> Result<(String, Option<String>), AdapterError> {
    let state = |s: &Option<StateRef>| s.as_ref().map(|s| s.technical_name.clone());
    Ok(match dimension {
        Dimension::Order => (order.id.clone(), state(&order.state_machine_state)),
        Dimension::Delivery => {
            let d = primary_delivery(order)?;
            (d.id.clone(), state(&d.state_machine_state))
        }
        Dimension::Payment => {
            let t = current_transaction(order)?;
            (t.id.clone(), state(&t.state_machine_state))
        }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Available {
    action_name: String,
    to_state_name: String,
}

/// Moves one entity to `to` by the action Shopware offers for it.
fn transition(
    session: &mut Session,
    dimension: Dimension,
    entity_id: &str,
    to: &str,
) -> AdapterResult {
    #[derive(Deserialize)]
    struct Transitions {
        transitions: Vec<Available>,
    }
    let m = machine(dimension);
    let state_path = format!(
        "/api/_action/state-machine/{}/{}/state",
        m.entity,
        segment(entity_id)
    );
    let offered: Transitions = session.send(Method::Get, &state_path, None)?.json()?;
    let possible = || {
        let list: Vec<String> = offered
            .transitions
            .iter()
            .map(|t| format!("{} → {}", t.action_name, t.to_state_name))
            .collect();
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.join(", ")
        }
    };
    let Some(action) = offered.transitions.iter().find(|t| t.to_state_name == to) else {
        return Err(AdapterError::Rejected(format!(
            "Shopware offers no transition of {} {entity_id} to \"{to}\" (possible: {})",
            m.entity,
            possible()
        )));
    };
    let path = format!(
        "/api/_action/{}/{}/state/{}",
        m.entity,
        segment(entity_id),
        segment(&action.action_name)
    );
    match session.send(Method::Post, &path, Some(&json!({}))) {
        Ok(_) => Ok(receipt(
            Some(entity_id.to_owned()),
            format!("{} {entity_id}: {} → {to}", m.entity, action.action_name),
        )),
        Err(AdapterError::Rejected(message)) if message.contains("ILLEGAL_STATE_TRANSITION") => {
            Err(AdapterError::Rejected(format!(
                "Shopware refused {} of {} {entity_id} ({message}); possible: {}",
                action.action_name,
                m.entity,
                possible()
            )))
        }
        Err(other) => Err(other),
    }
}

fn statuses() -> Vec<Status> {
    let dimension = |d: Dimension, list: &[(&str, &str)], terminal: &[&str]| -> Vec<Status> {
        list.iter()
            .map(|(code, label)| {
                let s = status(d, code, label);
                let s = if *code == "open" { s.initial() } else { s };
                if terminal.contains(code) {
                    s.terminal()
                } else {
                    s
                }
            })
            .collect()
    };
    let mut all = dimension(Dimension::Order, ORDER, &[]);
    all.extend(dimension(Dimension::Delivery, DELIVERY, &[]));
    all.extend(dimension(Dimension::Payment, PAYMENT, &[]));
    all
}

fn transitions() -> Vec<Transition> {
    [Dimension::Order, Dimension::Delivery, Dimension::Payment]
        .into_iter()
        .flat_map(|d| {
            machine(d)
                .graph
                .iter()
                .map(move |(from, _, to)| Transition {
                    dimension: d,
                    from: (*from).to_owned(),
                    to: (*to).to_owned(),
                })
        })
        .collect()
}

impl Guest for Shopware {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "shopware6".into(),
            name: "Shopware 6".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: statuses(),
            transitions: transitions(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    CLIENT_ID,
                    "Access key id of an integration (Settings › System › Integrations)",
                )
                .required(),
                config_field(CLIENT_SECRET, "Secret access key of that integration")
                    .required()
                    .secret(),
                config_field(
                    intake::APP_SECRET,
                    "Secret of the Shopware app whose webhooks reach this channel; deliveries are checked against it",
                )
                .secret(),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of orders starts: a date (2026-01-31) or an RFC 3339 time; \
                     unset, 30 days back",
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
        let mut session = Session::open()?;
        let order = read_order(&mut session, &platform_order_id)?;
        let (entity_id, current) = target(&order, dimension)?;
        // A retry after a crash finds the move already made: that is success.
        if current.as_deref() == Some(to.as_str()) {
            return Ok(receipt(
                Some(entity_id.clone()),
                format!("{} {entity_id} is already {to}", machine(dimension).entity),
            ));
        }
        transition(&mut session, dimension, &entity_id, &to)
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        if shipment.packages.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has no package to upload",
                shipment.id
            )));
        }
        for package in &shipment.packages {
            carriers::map(CARRIERS, &package.carrier)?;
        }
        let mut session = Session::open()?;
        let order = read_order(&mut session, &shipment.platform_order_id)?;
        let delivery = primary_delivery(&order)?;
        let mut codes = delivery.tracking_codes.clone();
        let mut added = 0;
        for package in &shipment.packages {
            if !codes.contains(&package.tracking_number) {
                codes.push(package.tracking_number.clone());
                added += 1;
            }
        }
        if added > 0 {
            session.send(
                Method::Patch,
                &format!("/api/order-delivery/{}", segment(&delivery.id)),
                Some(&json!({ "trackingCodes": codes })),
            )?;
        }
        let state = delivery
            .state_machine_state
            .as_ref()
            .map(|s| s.technical_name.as_str());
        let shipped = match state {
            Some("open") | Some("shipped_partially") => {
                transition(&mut session, Dimension::Delivery, &delivery.id, "shipped")?;
                " and marked shipped"
            }
            _ => "",
        };
        Ok(receipt(
            Some(delivery.id.clone()),
            format!(
                "delivery {}: {added} tracking code(s) added, {} already present{shipped}",
                delivery.id,
                shipment.packages.len() - added
            ),
        ))
    }
}

impl Intake for Shopware {
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

export!(Shopware);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_names_statuses_of_its_dimension() {
        let all = statuses();
        for t in transitions() {
            for code in [&t.from, &t.to] {
                assert!(
                    all.iter()
                        .any(|s| s.dimension == t.dimension && &s.code == code),
                    "{:?} {code} is not declared",
                    t.dimension.as_str()
                );
            }
        }
    }

    #[test]
    fn the_newest_transaction_is_current() {
        let order: Order = serde_json::from_value(json!({
            "id": "o1",
            "transactions": [
                {"id": "t-old", "createdAt": "2026-01-01T00:00:00.000+00:00"},
                {"id": "t-new", "createdAt": "2026-02-01T00:00:00.000+00:00"}
            ]
        }))
        .unwrap();
        assert_eq!(current_transaction(&order).unwrap().id, "t-new");
    }
}
