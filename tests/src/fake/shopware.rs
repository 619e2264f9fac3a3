//! A fake Shopware 6 Admin API: OAuth client credentials, order search with
//! associations (empty unless asked for, as 6.6 answers), the state-machine
//! action routes with Shopware's default transition graphs, and order
//! delivery updates.

use std::collections::{BTreeMap, BTreeSet};

use axum::response::Response;
use serde_json::{Value, json};

use super::{Common, Platform, Recorded, json as answer, segments};

/// `(from, action, to)` of Shopware's default `order.state`.
const ORDER: &[(&str, &str, &str)] = &[
    ("open", "process", "in_progress"),
    ("open", "cancel", "cancelled"),
    ("in_progress", "cancel", "cancelled"),
    ("in_progress", "complete", "completed"),
    ("cancelled", "reopen", "open"),
    ("completed", "reopen", "open"),
];

/// `order_delivery.state`.
const DELIVERY: &[(&str, &str, &str)] = &[
    ("open", "ship", "shipped"),
    ("open", "ship_partially", "shipped_partially"),
    ("open", "cancel", "cancelled"),
    ("shipped", "retour", "returned"),
    ("shipped", "retour_partially", "returned_partially"),
    ("shipped", "cancel", "cancelled"),
    ("shipped_partially", "retour", "returned"),
    (
        "shipped_partially",
        "retour_partially",
        "returned_partially",
    ),
    ("shipped_partially", "ship", "shipped"),
    ("shipped_partially", "cancel", "cancelled"),
    ("returned_partially", "retour", "returned"),
    ("cancelled", "reopen", "open"),
];

/// `order_transaction.state`.
const TRANSACTION: &[(&str, &str, &str)] = &[
    ("open", "paid", "paid"),
    ("open", "pay_partially", "paid_partially"),
    ("open", "cancel", "cancelled"),
    ("open", "remind", "reminded"),
    ("reminded", "paid", "paid"),
    ("reminded", "cancel", "cancelled"),
    ("paid_partially", "paid", "paid"),
    ("paid", "refund", "refunded"),
    ("paid", "refund_partially", "refunded_partially"),
    ("paid", "cancel", "cancelled"),
    ("cancelled", "reopen", "open"),
];

#[derive(Clone, Debug)]
pub struct Entity {
    pub id: String,
    pub state: String,
    pub tracking_codes: Vec<String>,
    pub created_at: String,
}

impl Entity {
    fn new(id: &str, created_at: &str) -> Entity {
        Entity {
            id: id.to_owned(),
            state: "open".into(),
            tracking_codes: Vec::new(),
            created_at: created_at.to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Order {
    pub order: Entity,
    pub deliveries: Vec<Entity>,
    pub transactions: Vec<Entity>,
}

pub struct Shopware {
    common: Common,
    pub client_id: String,
    pub client_secret: String,
    pub tokens: BTreeSet<String>,
    pub token_requests: usize,
    pub orders: BTreeMap<String, Order>,
}

impl Shopware {
    /// A shop with orders `ids`; order `X` has delivery `X-d` and two
    /// transactions, `X-t-old` and the current `X-t`.
    pub fn new(ids: &[&str]) -> Shopware {
        Shopware {
            common: Common::default(),
            client_id: "SWIA-TEST".into(),
            client_secret: "secret".into(),
            tokens: BTreeSet::new(),
            token_requests: 0,
            orders: ids
                .iter()
                .map(|id| {
                    (
                        (*id).to_owned(),
                        Order {
                            order: Entity::new(id, "2026-01-01T00:00:00.000+00:00"),
                            deliveries: vec![Entity::new(
                                &delivery_id(id),
                                "2026-01-01T00:00:00.000+00:00",
                            )],
                            transactions: vec![
                                Entity::new(
                                    &old_transaction_id(id),
                                    "2026-01-01T00:00:00.000+00:00",
                                ),
                                Entity::new(&transaction_id(id), "2026-01-02T00:00:00.000+00:00"),
                            ],
                        },
                    )
                })
                .collect(),
        }
    }

    /// Forgets every issued token, as a Shopware restart would.
    pub fn revoke_tokens(&mut self) {
        self.tokens.clear();
    }

    fn entity_mut(&mut self, entity: &str, id: &str) -> Option<&mut Entity> {
        self.orders.values_mut().find_map(|o| match entity {
            "order" if o.order.id == id => Some(&mut o.order),
            "order_delivery" => o.deliveries.iter_mut().find(|d| d.id == id),
            "order_transaction" => o.transactions.iter_mut().find(|t| t.id == id),
            _ => None,
        })
    }
}

fn graph(entity: &str) -> Option<&'static [(&'static str, &'static str, &'static str)]> {
    match entity {
        "order" => Some(ORDER),
        "order_delivery" => Some(DELIVERY),
        "order_transaction" => Some(TRANSACTION),
        _ => None,
    }
}

fn errors(status: u16, code: &str, detail: &str) -> Response {
    answer(
        status,
        json!({ "errors": [{ "status": status.to_string(), "code": code, "title": "Error", "detail": detail }] }),
    )
}

fn not_found() -> Response {
    errors(404, "FRAMEWORK__ROUTE_NOT_FOUND", "No route found")
}

/// A Shopware id (32 lower-case hex digits, as the Admin API's path
/// parameters require) for a test's short name: its bytes in hex, padded
/// with zeros. `id("o1")` → `6f310000000000000000000000000000`.
pub fn id(name: &str) -> String {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(
        hex.len() <= 32,
        "a Shopware test id name has at most 16 bytes: {name}"
    );
    format!("{hex:0<32}")
}

fn is_shopware_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Derives an id of the order's own entities: its last two hex digits
/// replaced, or a suffix for an order id that is no Shopware id.
fn derived(order: &str, hex: &str, suffix: &str) -> String {
    if is_shopware_id(order) {
        format!("{}{hex}", &order[..30])
    } else {
        format!("{order}-{suffix}")
    }
}

/// The id of order `order`'s delivery.
pub fn delivery_id(order: &str) -> String {
    derived(order, "d0", "d")
}

/// The id of order `order`'s current (newest) transaction.
pub fn transaction_id(order: &str) -> String {
    derived(order, "e1", "t")
}

/// The id of order `order`'s older transaction.
pub fn old_transaction_id(order: &str) -> String {
    derived(order, "e0", "t-old")
}

/// Fixed ids of what the fake's orders refer to and never changes.
const STATE_MACHINE_ID: &str = "5a000000000000000000000000000001";
const REFERENCE_ID: &str = "0f000000000000000000000000000001";

fn state_json(e: &Entity) -> Value {
    json!({
        "id": derived(&e.id, "5e", "state"),
        "stateMachineId": STATE_MACHINE_ID,
        "technicalName": e.state,
        "name": e.state,
    })
}

fn entity_json(e: &Entity, with_state: bool) -> Value {
    let mut v = json!({
        "id": e.id,
        "createdAt": e.created_at,
        "trackingCodes": e.tracking_codes,
        "stateId": derived(&e.id, "5e", "state"),
    });
    if with_state {
        v["stateMachineState"] = state_json(e);
    }
    v
}

/// The fields the Admin API's `Order` schema requires beside its id.
fn order_fields(v: &mut Value, o: &Order) {
    let rounding = json!({ "decimals": 2, "interval": 0.01, "roundForNet": true });
    for (field, value) in [
        ("billingAddressId", json!(REFERENCE_ID)),
        ("currencyId", json!(REFERENCE_ID)),
        ("languageId", json!(REFERENCE_ID)),
        ("salesChannelId", json!(REFERENCE_ID)),
        ("orderDateTime", json!(o.order.created_at)),
        ("currencyFactor", json!(1.0)),
        ("itemRounding", rounding.clone()),
        ("totalRounding", rounding),
    ] {
        v[field] = value;
    }
}

/// The fields the `OrderDelivery` schema requires beside its id and state.
fn delivery_fields(v: &mut Value, order: &str, d: &Entity) {
    v["orderId"] = json!(order);
    v["shippingOrderAddressId"] = json!(REFERENCE_ID);
    v["shippingMethodId"] = json!(REFERENCE_ID);
    v["shippingDateEarliest"] = json!(d.created_at);
    v["shippingDateLatest"] = json!(d.created_at);
}

/// The fields the `OrderTransaction` schema requires beside its id and state.
fn transaction_fields(v: &mut Value, order: &str) {
    v["orderId"] = json!(order);
    v["paymentMethodId"] = json!(REFERENCE_ID);
    v["amount"] = json!({ "unitPrice": 10.0, "totalPrice": 10.0, "quantity": 1 });
}

impl Platform for Shopware {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<std::path::PathBuf> {
        Some(super::shared_spec("shopware6-admin-api-6.7.9.1-oas3.json"))
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        let parts = segments(&request.path);
        let method = request.method.as_str();
        if parts == ["api", "oauth", "token"] && method == "POST" {
            self.token_requests += 1;
            let b = &request.body;
            let ok = b["grant_type"] == "client_credentials"
                && b["client_id"] == self.client_id.as_str()
                && b["client_secret"] == self.client_secret.as_str();
            if !ok {
                return errors(401, "9", "The client credentials are invalid.");
            }
            let token = format!("token-{}", self.token_requests);
            self.tokens.insert(token.clone());
            return answer(
                200,
                json!({ "token_type": "Bearer", "expires_in": 600, "access_token": token }),
            );
        }
        let bearer = request
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "));
        if !bearer.is_some_and(|t| self.tokens.contains(t)) {
            return errors(
                401,
                "9",
                "The resource owner or authorization server denied the request.",
            );
        }
        match (method, &parts[..]) {
            ("POST", ["api", "search", "order"]) => {
                let ids: Vec<String> = request.body["ids"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let assoc = &request.body["associations"];
                let deliveries = assoc.get("deliveries");
                let transactions = assoc.get("transactions");
                let nested_state = |a: Option<&Value>| {
                    a.and_then(|a| a.get("associations"))
                        .and_then(|a| a.get("stateMachineState"))
                        .is_some()
                };
                let data: Vec<Value> = ids
                    .iter()
                    .filter_map(|id| self.orders.get(id))
                    .map(|o| {
                        let mut v = entity_json(&o.order, assoc.get("stateMachineState").is_some());
                        order_fields(&mut v, o);
                        // Shopware 6.6 leaves associations out unless named
                        // (the description's lists are never null).
                        if deliveries.is_some() {
                            v["deliveries"] = o
                                .deliveries
                                .iter()
                                .map(|d| {
                                    let mut v = entity_json(d, nested_state(deliveries));
                                    delivery_fields(&mut v, &o.order.id, d);
                                    v
                                })
                                .collect();
                        }
                        if transactions.is_some() {
                            v["transactions"] = o
                                .transactions
                                .iter()
                                .map(|t| {
                                    let mut v = entity_json(t, nested_state(transactions));
                                    transaction_fields(&mut v, &o.order.id);
                                    v
                                })
                                .collect();
                        }
                        v
                    })
                    .collect();
                answer(
                    200,
                    json!({ "total": data.len(), "data": data, "aggregations": [] }),
                )
            }
            ("GET", ["api", "_action", "state-machine", entity, id, "state"]) => {
                let Some(graph) = graph(entity) else {
                    return not_found();
                };
                let Some(e) = self.entity_mut(entity, id) else {
                    return errors(
                        404,
                        "FRAMEWORK__ENTITY_NOT_FOUND",
                        &format!("{entity} {id} not found"),
                    );
                };
                let transitions: Vec<Value> = graph
                    .iter()
                    .filter(|(from, _, _)| *from == e.state)
                    .map(|(from, action, to)| {
                        json!({
                            "name": to, "technicalName": to, "actionName": action,
                            "fromStateName": from, "toStateName": to,
                            "url": format!("/api/_action/state-machine/{entity}/{id}/state/{action}"),
                        })
                    })
                    .collect();
                answer(200, json!({ "transitions": transitions }))
            }
            ("POST", ["api", "_action", entity, id, "state", action]) => {
                let Some(graph) = graph(entity) else {
                    return not_found();
                };
                let Some(e) = self.entity_mut(entity, id) else {
                    return errors(
                        404,
                        "FRAMEWORK__ENTITY_NOT_FOUND",
                        &format!("{entity} {id} not found"),
                    );
                };
                let from = e.state.clone();
                match graph.iter().find(|(f, a, _)| *f == from && a == action) {
                    Some((_, _, to)) => {
                        e.state = (*to).to_owned();
                        answer(200, state_json(e))
                    }
                    None => {
                        let possible: Vec<&str> = graph
                            .iter()
                            .filter(|(f, _, _)| *f == from)
                            .map(|(_, a, _)| *a)
                            .collect();
                        errors(
                            400,
                            "SYSTEM__ILLEGAL_STATE_TRANSITION",
                            &format!(
                                "Illegal transition \"{action}\" from state \"{from}\". Possible transitions are: {}",
                                possible.join(", ")
                            ),
                        )
                    }
                }
            }
            ("PATCH", ["api", "order-delivery", id]) => {
                let Some(codes) = request.body.get("trackingCodes").and_then(Value::as_array)
                else {
                    return errors(
                        400,
                        "FRAMEWORK__WRITE_CONSTRAINT_VIOLATION",
                        "trackingCodes must be a list",
                    );
                };
                let codes: Vec<String> = codes
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect();
                let Some(e) = self.entity_mut("order_delivery", id) else {
                    return errors(
                        404,
                        "FRAMEWORK__ENTITY_NOT_FOUND",
                        &format!("order_delivery {id} not found"),
                    );
                };
                e.tracking_codes = codes;
                answer(204, Value::Null)
            }
            _ => not_found(),
        }
    }
}
