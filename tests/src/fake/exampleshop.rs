//! A fake Example Shop: the small JSON API the Python and JavaScript example
//! plugins speak. Orders listed by change time with paging
//! (`GET /orders?updated_after=…&page=…&per_page=…`), one order with its
//! shipments (`GET /orders/{id}`), status changes along the shop's
//! transitions (`PUT /orders/{id}/status`) and shipments
//! (`POST /orders/{id}/shipments`, kept as sent: the shop does not merge a
//! tracking number sent twice). Every request needs
//! `Authorization: Bearer <api key>`. Example Shop publishes no API
//! description, so nothing is checked against one.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Value, json};

use super::{Common, Platform, Recorded, json as answer, segments};

/// The shop's statuses, in its own order.
pub const STATUSES: &[&str] = &[
    "pending",
    "paid",
    "packed",
    "shipped",
    "delivered",
    "cancelled",
];

/// The moves the shop allows: (from, to).
pub const MOVES: &[(&str, &str)] = &[
    ("pending", "paid"),
    ("pending", "cancelled"),
    ("paid", "packed"),
    ("paid", "cancelled"),
    ("packed", "shipped"),
    ("packed", "cancelled"),
    ("shipped", "delivered"),
];

/// The carrier names the shop takes.
pub const CARRIERS: &[&str] = &["DHL", "DPD", "GLS", "UPS", "FedEx", "Hermes", "Other"];

/// The API key the fake accepts unless a test sets another.
pub const API_KEY: &str = "es_test_key";

/// Largest page the shop gives.
const MAX_PER_PAGE: u64 = 100;

#[derive(Clone, Debug, Default)]
pub struct Shipment {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub shipped_at: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Line {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    /// Minor units of the order's currency.
    pub unit_price: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Order {
    pub status: String,
    /// Seconds since the epoch (UTC): the shop keeps whole seconds.
    pub created: i64,
    pub updated: i64,
    pub currency: String,
    pub payment_method: String,
    pub customer_id: String,
    pub customer_name: String,
    pub email: Option<String>,
    pub lines: Vec<Line>,
    /// Minor units.
    pub shipping: i64,
    pub shipments: Vec<Shipment>,
}

/// A time as the shop writes it: `2026-11-20T09:05:00Z`.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("a time in range")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Shipment {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "shipped_at": self.shipped_at,
        })
    }
}

impl Order {
    /// A pending order in EUR with one line, created and changed at `at`.
    pub fn new(at: i64) -> Order {
        Order {
            status: "pending".into(),
            created: at,
            updated: at,
            currency: "EUR".into(),
            payment_method: "card".into(),
            customer_id: "c-1".into(),
            customer_name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            lines: vec![Line {
                id: "l-1".into(),
                sku: "TEA-100".into(),
                name: "Teapot".into(),
                quantity: 1,
                unit_price: 4900,
            }],
            shipping: 490,
            shipments: Vec::new(),
        }
    }

    /// The order as `GET /orders/{id}` and the list give it.
    pub fn to_json(&self, id: &str) -> Value {
        json!({
            "id": id,
            "status": self.status,
            "created_at": rfc3339(self.created),
            "updated_at": rfc3339(self.updated),
            "currency": self.currency,
            "payment_method": self.payment_method,
            "customer": {
                "id": self.customer_id,
                "name": self.customer_name,
                "email": self.email,
                "phone": null,
                "address": ["12 Main Street", "10115 Berlin", "DE"],
            },
            "lines": self.lines.iter().map(|l| json!({
                "id": l.id, "sku": l.sku, "name": l.name,
                "quantity": l.quantity, "unit_price": l.unit_price,
            })).collect::<Vec<_>>(),
            "shipping": self.shipping,
            "shipments": self.shipments.iter().map(Shipment::to_json).collect::<Vec<_>>(),
        })
    }
}

pub struct ExampleShop {
    common: Common,
    pub api_key: String,
    pub orders: BTreeMap<String, Order>,
    next_shipment: u64,
}

impl ExampleShop {
    /// A shop with orders `ids`, each pending, created an hour ago.
    pub fn new(ids: &[&str]) -> ExampleShop {
        let at = jiff::Timestamp::now().as_second() - 3600;
        ExampleShop {
            common: Common::default(),
            api_key: API_KEY.into(),
            orders: ids
                .iter()
                .map(|id| ((*id).to_owned(), Order::new(at)))
                .collect(),
            next_shipment: 0,
        }
    }

    /// A shop with `n` orders, ids `1001`, `1002`, …, changed in groups of
    /// `same_second` per second, oldest an hour ago: groups cross the
    /// edges of the shop's pages.
    pub fn seeded(n: usize, same_second: usize) -> ExampleShop {
        let mut shop = ExampleShop::new(&[]);
        let start = jiff::Timestamp::now().as_second() - 3600;
        for i in 0..n {
            let at = start + (i / same_second.max(1)) as i64;
            let mut order = Order::new(at);
            order.status = "paid".into();
            order.customer_id = format!("c-{}", i % 17);
            order.customer_name = format!("Customer {}", i % 17);
            order.lines[0].quantity = 1 + (i % 3) as u32;
            shop.orders.insert((1001 + i).to_string(), order);
        }
        shop
    }

    /// A time after every order's change time and not before now.
    fn next_change_time(&self) -> i64 {
        let latest = self.orders.values().map(|o| o.updated).max().unwrap_or(0);
        jiff::Timestamp::now().as_second().max(latest + 1)
    }

    /// Changes an order's status as the shop's back office would, moving
    /// its change time on.
    pub fn change_status(&mut self, id: &str, status: &str) {
        let at = self.next_change_time();
        let order = self
            .orders
            .get_mut(id)
            .unwrap_or_else(|| panic!("the fake shop has no order {id}"));
        order.status = status.to_owned();
        order.updated = at;
    }

    /// `GET /orders`: changed at or after `updated_after`, by change time
    /// then id, a page at a time.
    fn list(&self, query: Option<&str>) -> Response {
        let params: BTreeMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let number = |name: &str, default: u64| match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| format!("{name}: \"{v}\" is not a number")),
        };
        let (page, per_page) = match (number("page", 1), number("per_page", 50)) {
            (Ok(p), Ok(n)) => (p, n),
            (Err(e), _) | (_, Err(e)) => return error(400, "invalid_parameter", &e),
        };
        if page < 1 {
            return error(400, "invalid_parameter", "page: must be 1 or more");
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return error(
                400,
                "invalid_parameter",
                &format!("per_page: must be 1 to {MAX_PER_PAGE}"),
            );
        }
        let after = match params.get("updated_after") {
            None => i64::MIN,
            Some(v) => match v.parse::<jiff::Timestamp>() {
                Ok(t) => t.as_second(),
                Err(_) => {
                    return error(
                        400,
                        "invalid_parameter",
                        &format!("updated_after: \"{v}\" is not an RFC 3339 time"),
                    );
                }
            },
        };
        let mut found: Vec<(&String, &Order)> = self
            .orders
            .iter()
            .filter(|(_, o)| o.updated >= after)
            .collect();
        found.sort_by_key(|(id, o)| (o.updated, (*id).clone()));
        let total_pages = (found.len() as u64).div_ceil(per_page);
        let orders: Vec<Value> = found
            .iter()
            .skip(((page - 1) * per_page) as usize)
            .take(per_page as usize)
            .map(|(id, o)| o.to_json(id))
            .collect();
        answer(
            200,
            json!({ "orders": orders, "page": page, "per_page": per_page, "total_pages": total_pages }),
        )
    }

    fn set_status(&mut self, id: &str, request: &Recorded) -> Response {
        if let Some(refusal) = not_json(request).or_else(|| unknown_field(request, &["status"])) {
            return refusal;
        }
        let Some(to) = request.body.get("status").and_then(Value::as_str) else {
            return error(422, "missing_field", "status: required");
        };
        if !STATUSES.contains(&to) {
            return error(
                422,
                "invalid_status",
                &format!("unknown status \"{to}\" (known: {})", STATUSES.join(", ")),
            );
        }
        let at = self.next_change_time();
        let order = self.orders.get_mut(id).expect("checked by the caller");
        if order.status != to {
            let from = order.status.clone();
            if !MOVES.contains(&(from.as_str(), to)) {
                let allowed: Vec<&str> = MOVES
                    .iter()
                    .filter(|(f, _)| *f == from)
                    .map(|(_, t)| *t)
                    .collect();
                return error(
                    409,
                    "invalid_transition",
                    &format!(
                        "order {id} cannot move from {from} to {to} (allowed: {})",
                        if allowed.is_empty() {
                            "none".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                );
            }
            order.status = to.to_owned();
            order.updated = at;
        }
        answer(200, order.to_json(id))
    }

    fn add_shipment(&mut self, id: &str, request: &Recorded) -> Response {
        let allowed = ["carrier", "tracking_number", "tracking_url", "shipped_at"];
        if let Some(refusal) = not_json(request).or_else(|| unknown_field(request, &allowed)) {
            return refusal;
        }
        let body = &request.body;
        let Some(carrier) = body.get("carrier").and_then(Value::as_str) else {
            return error(422, "missing_field", "carrier: required");
        };
        if !CARRIERS.contains(&carrier) {
            return error(
                422,
                "invalid_carrier",
                &format!(
                    "unknown carrier \"{carrier}\" (known: {})",
                    CARRIERS.join(", ")
                ),
            );
        }
        let Some(number) = body
            .get("tracking_number")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
        else {
            return error(422, "missing_field", "tracking_number: required");
        };
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        if let Some(at) = text("shipped_at")
            && at.parse::<jiff::Timestamp>().is_err()
        {
            return error(
                422,
                "invalid_field",
                &format!("shipped_at: \"{at}\" is not an RFC 3339 time"),
            );
        }
        self.next_shipment += 1;
        let shipment = Shipment {
            id: format!("shp_{}", self.next_shipment),
            carrier: carrier.to_owned(),
            tracking_number: number.to_owned(),
            tracking_url: text("tracking_url"),
            shipped_at: text("shipped_at"),
        };
        let at = self.next_change_time();
        let order = self.orders.get_mut(id).expect("checked by the caller");
        order.shipments.push(shipment.clone());
        order.updated = at;
        answer(201, shipment.to_json())
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    answer(status, json!({ "code": code, "message": message }))
}

fn not_json(request: &Recorded) -> Option<Response> {
    let json = request
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"));
    (!json || !request.body.is_object()).then(|| {
        error(
            415,
            "unsupported_media_type",
            "the body must be a JSON object sent as application/json",
        )
    })
}

/// The shop refuses fields it does not know rather than ignoring them.
fn unknown_field(request: &Recorded, allowed: &[&str]) -> Option<Response> {
    let field = request
        .body
        .as_object()?
        .keys()
        .find(|k| !allowed.contains(&k.as_str()))?;
    Some(error(
        422,
        "unknown_field",
        &format!("{field}: unknown field (known: {})", allowed.join(", ")),
    ))
}

impl Platform for ExampleShop {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        if request.authorization.as_deref() != Some(&format!("Bearer {}", self.api_key)) {
            return error(401, "unauthorized", "invalid API key");
        }
        let method = request.method.as_str();
        match segments(&request.path)[..] {
            ["orders"] if method == "GET" => self.list(request.query.as_deref()),
            ["orders", id, ..] if !self.orders.contains_key(id) => {
                error(404, "not_found", &format!("order {id} does not exist"))
            }
            ["orders", id] if method == "GET" => answer(200, self.orders[id].to_json(id)),
            ["orders", id, "status"] if method == "PUT" => self.set_status(id, request),
            ["orders", id, "shipments"] if method == "POST" => self.add_shipment(id, request),
            _ => error(
                404,
                "no_route",
                &format!("no route for {method} {}", request.path),
            ),
        }
    }
}
