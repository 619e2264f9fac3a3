//! A fake Shopware 6 Admin API: OAuth client credentials, order search with
//! associations (empty unless asked for, as 6.6 answers) and, without
//! `ids`, with the Criteria's filters (`multi`, `not`, `equals`,
//! `equalsAny`, `range`), sorting (nulls first, as MySQL), paging and
//! `total-count-mode`; the state-machine action routes with Shopware's
//! default transition graphs, order delivery updates, and the app system's
//! signed webhook deliveries.

use std::collections::{BTreeMap, BTreeSet};

use axum::response::Response;
use serde_json::{Value, json};

use super::{Common, Platform, Recorded, json as answer, segments};
use crate::delivery::{Delivery, hmac_sha256};

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
    pub number: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// None until the order first changes, as Shopware leaves it.
    pub updated_ms: Option<i64>,
    /// Guests have none.
    pub customer_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub currency: String,
    /// Minor units (cents).
    pub shipping: i64,
    pub payment_method: String,
    pub lines: Vec<Line>,
}

/// One line item.
#[derive(Clone, Debug)]
pub struct Line {
    pub id: String,
    pub product_number: String,
    pub label: String,
    pub quantity: u32,
    /// Minor units (cents).
    pub unit_price: i64,
}

/// A time as Shopware writes it: `2026-01-01T10:00:00.123+00:00`.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("a time in range")
        .strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00")
        .to_string()
}

fn price(minor: i64) -> f64 {
    minor as f64 / 100.0
}

/// A fixed-looking id in Shopware's form (32 hex digits).
fn hex_id(kind: u8, n: u64) -> String {
    format!("{kind:x}{n:031x}")
}

impl Order {
    fn plain(id: &str, created_ms: i64) -> Order {
        Order {
            order: Entity::new(id, &time(created_ms)),
            deliveries: Vec::new(),
            transactions: Vec::new(),
            number: id.to_owned(),
            created_ms,
            updated_ms: None,
            customer_id: None,
            first_name: "Test".into(),
            last_name: "Customer".into(),
            email: "customer@example.com".into(),
            currency: "EUR".into(),
            shipping: 0,
            payment_method: "payment_invoice".into(),
            lines: Vec::new(),
        }
    }
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
                            ..Order::plain(id, 1_767_225_600_000)
                        },
                    )
                })
                .collect(),
        }
    }

    /// A shop with `n` generated orders placed one a minute up to an hour
    /// ago, ids of 32 hex digits; every third has changed once since (its
    /// `updatedAt` set), the others have `updatedAt` null. Each has a
    /// customer (every fifth a guest), one to three lines, a delivery and a
    /// transaction.
    pub fn seeded(n: usize) -> Shopware {
        let mut shop = Shopware::new(&[]);
        let start = jiff::Timestamp::now().as_millisecond() - 3_600_000 - 60_000 * n as i64;
        for i in 1..=n as u64 {
            let id = hex_id(0, i);
            let created_ms = start + 60_000 * i as i64;
            let at = time(created_ms);
            let mut order = Order::plain(&id, created_ms);
            order.deliveries = vec![Entity::new(&hex_id(0xd, i), &at)];
            order.transactions = vec![Entity::new(&hex_id(0xe, i), &at)];
            order.number = (10_000 + i).to_string();
            order.updated_ms = (i % 3 == 0).then_some(created_ms + 30_000);
            order.customer_id = (i % 5 != 0).then(|| hex_id(0xc, 1 + i % 97));
            order.first_name = format!("Given{i}");
            order.last_name = format!("Family{}", i % 97);
            order.email = format!("customer{i}@example.com");
            order.shipping = 490;
            order.lines = (0..1 + i % 3)
                .map(|k| Line {
                    id: hex_id(0xa, i * 10 + k),
                    product_number: format!("SW{}", 100 + k),
                    label: format!("Article {}", 100 + k),
                    quantity: 1 + (i % 4) as u32,
                    unit_price: 1990 + 100 * k as i64,
                })
                .collect();
            shop.orders.insert(id, order);
        }
        shop
    }

    /// A time after every order's `updatedAt` and `createdAt`, and not
    /// before now: a change made now gets it.
    fn next_change_ms(&self) -> i64 {
        let latest = self
            .orders
            .values()
            .map(|o| o.updated_ms.unwrap_or(o.created_ms))
            .max()
            .unwrap_or(0);
        jiff::Timestamp::now().as_millisecond().max(latest + 1)
    }

    fn change(&mut self, id: &str, change: impl FnOnce(&mut Order)) {
        let at = self.next_change_ms();
        let order = self
            .orders
            .get_mut(id)
            .unwrap_or_else(|| panic!("the fake Shopware has no order {id}"));
        change(order);
        // Assumed: a state change of the order, its transaction or its
        // delivery writes the order's `updatedAt`.
        order.updated_ms = Some(at);
    }

    /// The order is cancelled in the administration.
    pub fn cancel(&mut self, id: &str) {
        self.change(id, |o| o.order.state = "cancelled".into())
    }

    /// The current (newest) transaction is paid.
    pub fn mark_paid(&mut self, id: &str) {
        self.change(id, |o| {
            if let Some(t) = o
                .transactions
                .iter_mut()
                .max_by(|a, b| a.created_at.cmp(&b.created_at))
            {
                t.state = "paid".into();
            }
        })
    }

    /// The first delivery is shipped.
    pub fn ship(&mut self, id: &str) {
        self.change(id, |o| {
            if let Some(d) = o.deliveries.first_mut() {
                d.state = "shipped".into();
            }
        })
    }

    /// The app-system delivery of `event` (`checkout.order.placed`,
    /// `state_enter.order.state.cancelled`, ...) about order `id`, signed
    /// with `secret` as `shopware-shop-signature` (hex HMAC-SHA256 of the
    /// raw body); `event_id` is `source.eventId`.
    pub fn webhook(&self, id: &str, event: &str, secret: &str, event_id: &str) -> Delivery {
        let order = self
            .orders
            .get(id)
            .unwrap_or_else(|| panic!("the fake Shopware has no order {id}"));
        let body = json!({
            "data": {
                "payload": {
                    "order": {
                        "id": id,
                        "orderNumber": order.number,
                        "createdAt": time(order.created_ms),
                        "updatedAt": order.updated_ms.map(time),
                        "stateMachineState": state_json(&order.order),
                    },
                },
                "event": event,
            },
            "source": {
                "url": "http://shop.example",
                "appVersion": "1.0.0",
                "shopId": "c8KfoWxb8cO3dmnD",
                "eventId": event_id,
            },
            "timestamp": order.updated_ms.unwrap_or(order.created_ms) / 1000,
        });
        let body = serde_json::to_vec(&body).expect("a delivery is JSON");
        Delivery {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("sw-version".into(), "6.7.9.1".into()),
                (
                    "sw-context-language".into(),
                    "2fbb5fe2e29a4d70aa5854ce7ce3e20b".into(),
                ),
                (
                    "shopware-shop-signature".into(),
                    hex::encode(hmac_sha256(secret, &body)),
                ),
            ],
            body,
        }
    }

    /// `POST /api/search/order`.
    fn search(&self, criteria: &Value) -> Response {
        let invalid = |detail: String| errors(400, "FRAMEWORK__INVALID_CRITERIA", &detail);
        let Some(object) = criteria.as_object() else {
            return invalid("the criteria must be an object".into());
        };
        if let Some(key) = object.keys().find(|k| !CRITERIA.contains(&k.as_str())) {
            return invalid(format!("\"{key}\" is not a criteria parameter"));
        }
        let assoc = criteria.get("associations").cloned().unwrap_or(Value::Null);
        let mut found: Vec<&Order> = match criteria.get("ids") {
            Some(ids) => ids
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|id| self.orders.get(id))
                        .collect()
                })
                .unwrap_or_default(),
            None => self.orders.values().collect(),
        };
        if let Some(filters) = criteria.get("filter") {
            let Some(filters) = filters.as_array() else {
                return invalid("filter must be a list".into());
            };
            let mut kept = Vec::with_capacity(found.len());
            for o in found {
                let mut all = true;
                for f in filters {
                    match filter_matches(f, o) {
                        Ok(true) => {}
                        Ok(false) => {
                            all = false;
                            break;
                        }
                        Err(e) => return errors(400, "FRAMEWORK__INVALID_FILTER_QUERY", &e),
                    }
                }
                if all {
                    kept.push(o);
                }
            }
            found = kept;
        }
        if let Some(sorts) = criteria.get("sort") {
            let mut keys = Vec::new();
            for s in sorts.as_array().into_iter().flatten() {
                let Some(name) = s["field"].as_str() else {
                    return invalid("a sort without a field".into());
                };
                let descending = match s["order"].as_str().unwrap_or("ASC") {
                    "ASC" | "asc" => false,
                    "DESC" | "desc" => true,
                    other => return invalid(format!("sort order \"{other}\" is not ASC or DESC")),
                };
                if let Some(Err(e)) = found.first().map(|o| field(o, name)) {
                    return invalid(e);
                }
                keys.push((name.to_owned(), descending));
            }
            found.sort_by(|a, b| {
                for (name, descending) in &keys {
                    let (x, y) = (field(a, name).unwrap(), field(b, name).unwrap());
                    // Field::Null sorts first, as MySQL sorts NULL ascending.
                    let ordering = if *descending { y.cmp(&x) } else { x.cmp(&y) };
                    if ordering.is_ne() {
                        return ordering;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let matching = found.len();
        let page = criteria
            .get("page")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1) as usize;
        let limit = criteria
            .get("limit")
            .and_then(Value::as_u64)
            .map(|l| l as usize);
        let offset = limit.map_or(0, |l| (page - 1) * l);
        let data: Vec<Value> = found
            .iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|o| order_json(o, &assoc))
            .collect();
        let total = match criteria
            .get("total-count-mode")
            .and_then(|m| {
                m.as_str()
                    .map(str::to_owned)
                    .or_else(|| m.as_u64().map(|n| n.to_string()))
            })
            .as_deref()
        {
            None | Some("none") | Some("0") => data.len(),
            Some("exact") | Some("1") => matching,
            Some("next-pages") | Some("2") => {
                offset
                    + matching
                        .saturating_sub(offset)
                        .min(limit.map_or(usize::MAX, |l| l * 5 + 1))
            }
            Some(other) => {
                return invalid(format!(
                    "total-count-mode \"{other}\" is not none, exact or next-pages"
                ));
            }
        };
        answer(
            200,
            json!({ "total": total, "data": data, "aggregations": [] }),
        )
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

fn state_json(e: &Entity) -> Value {
    json!({
        "id": format!("{:0>32}", e.state.len()),
        "technicalName": e.state,
        "name": e.state,
        "stateMachineId": "0f5d3d8d1a3c4e4b9a0b0c0d0e0f1011",
    })
}

/// The keys of Shopware's `Criteria` schema.
const CRITERIA: &[&str] = &[
    "page",
    "limit",
    "filter",
    "sort",
    "post-filter",
    "associations",
    "aggregations",
    "grouping",
    "fields",
    "total-count-mode",
    "ids",
    "includes",
    "excludes",
];

/// A field of an order, as a filter or a sort reads it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Null,
    Time(i64),
    Text(String),
}

fn field(o: &Order, name: &str) -> Result<Field, String> {
    Ok(match name {
        "id" => Field::Text(o.order.id.clone()),
        "orderNumber" => Field::Text(o.number.clone()),
        "createdAt" => Field::Time(o.created_ms),
        "updatedAt" => o.updated_ms.map_or(Field::Null, Field::Time),
        other => {
            return Err(format!(
                "field \"{other}\" is not a field of the fake's order"
            ));
        }
    })
}

/// A filter's value in the field's terms.
fn operand(like: &Field, value: &Value) -> Result<Field, String> {
    match (like, value) {
        (_, Value::Null) => Ok(Field::Null),
        (Field::Time(_), Value::String(s)) => s
            .parse::<jiff::Timestamp>()
            .map(|t| Field::Time(t.as_millisecond()))
            .map_err(|e| format!("\"{s}\" is not a date and time: {e}")),
        (_, Value::String(s)) => Ok(Field::Text(s.clone())),
        (_, other) => Err(format!("{other} is not a value for this field")),
    }
}

fn filter_matches(filter: &Value, o: &Order) -> Result<bool, String> {
    let kind = filter["type"].as_str().ok_or("a filter without a type")?;
    let queries = || -> Result<Vec<bool>, String> {
        filter["queries"]
            .as_array()
            .ok_or(format!("a {kind} filter without queries"))?
            .iter()
            .map(|q| filter_matches(q, o))
            .collect()
    };
    let combine = |results: Vec<bool>| -> Result<bool, String> {
        Ok(match filter["operator"].as_str().unwrap_or("and") {
            "and" => results.iter().all(|r| *r),
            "or" => results.iter().any(|r| *r),
            "nand" => !results.iter().all(|r| *r),
            "nor" => !results.iter().any(|r| *r),
            other => return Err(format!("operator \"{other}\" is not and, or, nand or nor")),
        })
    };
    let name = || {
        filter["field"]
            .as_str()
            .ok_or(format!("a {kind} filter without a field"))
    };
    match kind {
        "multi" => combine(queries()?),
        "not" => Ok(!combine(queries()?)?),
        "equals" => {
            let value = field(o, name()?)?;
            Ok(value == operand(&value, &filter["value"])?)
        }
        "equalsAny" => {
            let value = field(o, name()?)?;
            let wanted: Vec<Value> = match &filter["value"] {
                Value::Array(items) => items.clone(),
                Value::String(s) => s.split('|').map(|v| json!(v)).collect(),
                other => return Err(format!("equalsAny takes a list, not {other}")),
            };
            for w in &wanted {
                if value == operand(&value, w)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        "range" => {
            let value = field(o, name()?)?;
            let parameters = filter["parameters"]
                .as_object()
                .ok_or("a range filter without parameters")?;
            if value == Field::Null {
                return Ok(false);
            }
            for (op, bound) in parameters {
                let bound = operand(&value, bound)?;
                let ok = match op.as_str() {
                    "gt" => value > bound,
                    "gte" => value >= bound,
                    "lt" => value < bound,
                    "lte" => value <= bound,
                    other => {
                        return Err(format!(
                            "range parameter \"{other}\" is not gt, gte, lt or lte"
                        ));
                    }
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        other => Err(format!("filter type \"{other}\" is not supported")),
    }
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

/// An order as the search answers it: the fields the schema requires, and
/// each association only when named (nested state machine states and
/// payment methods too).
fn order_json(o: &Order, assoc: &Value) -> Value {
    let named = |name: &str| assoc.get(name).is_some();
    let nested = |outer: &str, inner: &str| {
        assoc
            .get(outer)
            .and_then(|a| a.get("associations"))
            .and_then(|a| a.get(inner))
            .is_some()
    };
    let currency_id = "b7d2554b0ce847cd82f3ac9bd1c0dfca";
    let billing_id = hex_id(0xb, o.created_ms as u64 % 1_000_000);
    let rounding = json!({ "decimals": 2, "interval": 0.01, "roundForNet": true });
    let lines_total: i64 = o
        .lines
        .iter()
        .map(|l| l.unit_price * i64::from(l.quantity))
        .sum();
    let total = price(lines_total + o.shipping);
    let mut v = json!({
        "id": o.order.id,
        "versionId": "0fa91ce3e96a4bc2be4bd9ce752c3425",
        "orderNumber": o.number,
        "billingAddressId": billing_id,
        "currencyId": currency_id,
        "languageId": "2fbb5fe2e29a4d70aa5854ce7ce3e20b",
        "salesChannelId": "98432def39fc4624b33213a56b8c944d",
        "stateId": format!("{:0>32}", o.order.state.len()),
        "orderDateTime": time(o.created_ms),
        "currencyFactor": 1.0,
        "itemRounding": rounding,
        "totalRounding": rounding,
        "amountTotal": total,
        "amountNet": total,
        "positionPrice": price(lines_total),
        "shippingTotal": price(o.shipping),
        "taxStatus": "gross",
        "createdAt": time(o.created_ms),
        "trackingCodes": o.order.tracking_codes,
    });
    // The description types `updatedAt` as a string: an order never
    // changed has none.
    if let Some(ms) = o.updated_ms {
        v["updatedAt"] = json!(time(ms));
    }
    if named("stateMachineState") {
        v["stateMachineState"] = state_json(&o.order);
    }
    let entity = |e: &Entity, with_state: bool| {
        let mut x = entity_json(e, with_state);
        x["orderId"] = json!(o.order.id);
        x["stateId"] = json!(format!("{:0>32}", e.state.len()));
        x
    };
    v["deliveries"] = if named("deliveries") {
        o.deliveries
            .iter()
            .map(|d| {
                let mut x = entity(d, nested("deliveries", "stateMachineState"));
                x["shippingOrderAddressId"] = json!(billing_id);
                x["shippingMethodId"] = json!("a7e1c8d9b0f14c2d8e3f4a5b6c7d8e9f");
                x["shippingDateEarliest"] = json!(time(o.created_ms + 86_400_000));
                x["shippingDateLatest"] = json!(time(o.created_ms + 3 * 86_400_000));
                x
            })
            .collect()
    } else {
        Value::Null
    };
    v["transactions"] = if named("transactions") {
        o.transactions
            .iter()
            .map(|t| {
                let mut x = entity(t, nested("transactions", "stateMachineState"));
                x["paymentMethodId"] = json!("f1e2d3c4b5a697887766554433221100");
                x["amount"] = json!({ "unitPrice": total, "totalPrice": total, "quantity": 1 });
                if nested("transactions", "paymentMethod") {
                    x["paymentMethod"] = json!({
                        "id": "f1e2d3c4b5a697887766554433221100",
                        "technicalName": o.payment_method,
                        "name": o.payment_method,
                    });
                }
                x
            })
            .collect()
    } else {
        Value::Null
    };
    if named("lineItems") {
        v["lineItems"] = o
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                json!({
                    "id": l.id,
                    "orderId": o.order.id,
                    "identifier": l.id,
                    "referencedId": l.id,
                    "productId": l.id,
                    "type": "product",
                    "label": l.label,
                    "quantity": l.quantity,
                    "unitPrice": price(l.unit_price),
                    "totalPrice": price(l.unit_price * i64::from(l.quantity)),
                    "price": {
                        "unitPrice": price(l.unit_price),
                        "totalPrice": price(l.unit_price * i64::from(l.quantity)),
                        "quantity": l.quantity,
                    },
                    "payload": { "productNumber": l.product_number },
                    "position": i + 1,
                    "children": [],
                    "states": [],
                })
            })
            .collect();
    }
    if named("orderCustomer") {
        v["orderCustomer"] = json!({
            "id": hex_id(0x9, o.created_ms as u64 % 1_000_000),
            "orderId": o.order.id,
            "email": o.email,
            "firstName": o.first_name,
            "lastName": o.last_name,
        });
        // A guest has no customer id; the description types it as a
        // string, so it is left out rather than null.
        if let Some(customer) = &o.customer_id {
            v["orderCustomer"]["customerId"] = json!(customer);
        }
    }
    if named("billingAddress") {
        v["billingAddress"] = json!({
            "id": billing_id,
            "countryId": "9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
            "orderId": o.order.id,
            "firstName": o.first_name,
            "lastName": o.last_name,
            "street": "Ebbinghoff 10",
            "zipcode": "48624",
            "city": "Schöppingen",
            "phoneNumber": "+49 2555 928850",
        });
    }
    if named("currency") {
        v["currency"] = json!({
            "id": currency_id,
            "factor": 1.0,
            "symbol": "€",
            "isoCode": o.currency,
            "itemRounding": rounding,
            "totalRounding": rounding,
            "shortName": o.currency,
            "name": "Euro",
        });
    }
    v
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
            ("POST", ["api", "search", "order"]) => self.search(&request.body),
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
