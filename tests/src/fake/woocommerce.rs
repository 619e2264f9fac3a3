//! A fake WooCommerce: REST API v3 orders (one by id, and the list with
//! its `modified_after` filter, ordering, paging and `X-WP-Total` headers)
//! and notes, the Shipment Tracking extension's `wc-shipment-tracking/v3`
//! routes, and the order webhooks' signed deliveries.

use std::collections::BTreeMap;

use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::{Common, Platform, Recorded, json as answer, segments};
use crate::delivery::{Delivery, hmac_sha256};

pub const STATUSES: &[&str] = &[
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];

#[derive(Clone, Debug, Default)]
pub struct Order {
    pub status: String,
    pub trackings: Vec<Value>,
    pub notes: Vec<Value>,
    /// Seconds since the epoch (UTC), as `date_created_gmt`.
    pub created: i64,
    /// Seconds since the epoch (UTC), as `date_modified_gmt`: WooCommerce
    /// keeps whole seconds.
    pub modified: i64,
    /// 0 for a guest checkout.
    pub customer_id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub currency: String,
    pub payment_method: String,
    /// Shipping in minor units.
    pub shipping: i64,
    pub lines: Vec<Line>,
}

/// One line item.
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub id: u64,
    pub product_id: u64,
    /// Empty when the product has none.
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    /// Minor units.
    pub unit_price: i64,
}

/// Minor units as WooCommerce writes an amount: `"19.90"`.
fn amount(minor: i64, currency: &str) -> String {
    let decimals = match currency {
        "JPY" | "KRW" => 0,
        "KWD" | "BHD" | "JOD" | "OMR" | "TND" => 3,
        _ => 2,
    };
    if decimals == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(decimals);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

fn gmt(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("a time in range")
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

impl Order {
    /// The order as `GET /wp-json/wc/v3/orders/{id}` and the order webhooks
    /// give it (the fields the plugins and the tests read, in WooCommerce's
    /// shapes and types).
    pub fn to_json(&self, id: &str) -> Value {
        let currency = if self.currency.is_empty() {
            "EUR"
        } else {
            &self.currency
        };
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let subtotal = amount(l.unit_price * i64::from(l.quantity), currency);
                json!({
                    "id": l.id, "name": l.name, "product_id": l.product_id, "variation_id": 0,
                    "quantity": l.quantity, "tax_class": "", "subtotal": subtotal,
                    "subtotal_tax": "0.00", "total": subtotal, "total_tax": "0.00",
                    "taxes": [], "meta_data": [], "sku": l.sku,
                    "price": amount(l.unit_price, currency).parse::<f64>().unwrap_or(0.0),
                })
            })
            .collect();
        let total: i64 = self
            .lines
            .iter()
            .map(|l| l.unit_price * i64::from(l.quantity))
            .sum::<i64>()
            + self.shipping;
        let address = json!({
            "first_name": self.first_name, "last_name": self.last_name, "company": "",
            "address_1": format!("{} Main Street", 1 + id.len()), "address_2": "",
            "city": "Springfield", "state": "", "postcode": "12345", "country": "DE",
        });
        let mut billing = address.clone();
        billing["email"] = json!(self.email);
        billing["phone"] = json!("+49 30 1234567");
        json!({
            "id": id.parse::<u64>().unwrap_or(0),
            "parent_id": 0,
            "number": id,
            "order_key": format!("wc_order_{id}"),
            "created_via": "checkout",
            "version": "9.4.0",
            "status": self.status,
            "currency": currency,
            "date_created": gmt(self.created),
            "date_created_gmt": gmt(self.created),
            "date_modified": gmt(self.modified),
            "date_modified_gmt": gmt(self.modified),
            "discount_total": "0.00",
            "shipping_total": amount(self.shipping, currency),
            "total": amount(total, currency),
            "prices_include_tax": false,
            "customer_id": self.customer_id,
            "billing": billing,
            "shipping": address,
            "payment_method": self.payment_method,
            "payment_method_title": self.payment_method,
            "line_items": lines,
            "shipping_lines": [],
            "meta_data": [],
        })
    }
}

pub struct WooCommerce {
    common: Common,
    pub consumer_key: String,
    pub consumer_secret: String,
    /// Whether the Shipment Tracking extension is installed.
    pub tracking_extension: bool,
    pub orders: BTreeMap<String, Order>,
    /// Tracking entries to acknowledge with 201 and then not keep: a shop
    /// whose plugin hook fails after answering.
    pub lose_trackings: usize,
    next_id: u64,
}

impl WooCommerce {
    /// A shop with orders `ids`, each `pending`, credentials `ck_test`/`cs_test`.
    pub fn new(ids: &[&str]) -> WooCommerce {
        WooCommerce {
            common: Common::default(),
            consumer_key: "ck_test".into(),
            consumer_secret: "cs_test".into(),
            tracking_extension: true,
            orders: ids
                .iter()
                .map(|id| {
                    (
                        (*id).to_owned(),
                        Order {
                            status: "pending".into(),
                            ..Order::default()
                        },
                    )
                })
                .collect(),
            lose_trackings: 0,
            next_id: 100,
        }
    }

    /// A shop with `n` generated orders, ids 1 to `n`, created one a minute
    /// up to an hour ago, each with a customer (every fifth a guest) and one
    /// to three lines.
    pub fn seeded(n: usize) -> WooCommerce {
        let mut shop = WooCommerce::new(&[]);
        let start = jiff::Timestamp::now().as_second() - 3600 - 60 * n as i64;
        for i in 1..=n as u64 {
            let created = start + 60 * i as i64;
            let lines = (0..1 + i % 3)
                .map(|k| Line {
                    id: i * 10 + k,
                    product_id: 100 + k,
                    sku: if k == 2 {
                        String::new()
                    } else {
                        format!("SKU-{}", 100 + k)
                    },
                    name: format!("Article {}", 100 + k),
                    quantity: 1 + (i % 4) as u32,
                    unit_price: 990 + 100 * k as i64,
                })
                .collect();
            shop.orders.insert(
                i.to_string(),
                Order {
                    status: "processing".into(),
                    created,
                    modified: created,
                    customer_id: if i % 5 == 0 { 0 } else { 1000 + i % 97 },
                    first_name: format!("Given{i}"),
                    last_name: format!("Family{}", i % 97),
                    email: format!("customer{i}@example.com"),
                    currency: "EUR".into(),
                    payment_method: "bacs".into(),
                    shipping: 490,
                    lines,
                    ..Order::default()
                },
            );
        }
        shop
    }

    /// A time after every order's modification time, and not before now:
    /// a change made now gets it.
    fn next_change_time(&self) -> i64 {
        let latest = self.orders.values().map(|o| o.modified).max().unwrap_or(0);
        jiff::Timestamp::now().as_second().max(latest + 1)
    }

    /// Sets an order's status as the shop's back office would, moving its
    /// modification time on.
    pub fn change_status(&mut self, id: &str, status: &str) {
        let at = self.next_change_time();
        let order = self
            .orders
            .get_mut(id)
            .unwrap_or_else(|| panic!("the fake shop has no order {id}"));
        order.status = status.to_owned();
        order.modified = at;
    }

    /// The order is cancelled in the back office.
    pub fn cancel(&mut self, id: &str) {
        self.change_status(id, "cancelled")
    }

    /// The payment arrived: WooCommerce moves the order to processing.
    pub fn mark_paid(&mut self, id: &str) {
        self.change_status(id, "processing")
    }

    /// The order left the warehouse.
    pub fn ship(&mut self, id: &str) {
        self.change_status(id, "completed")
    }

    /// The delivery WooCommerce sends for `topic` (`order.created`,
    /// `order.updated`) of order `id`: its JSON, signed with `secret` as
    /// `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the raw body).
    pub fn webhook(&self, id: &str, topic: &str, secret: &str) -> Delivery {
        let order = self
            .orders
            .get(id)
            .unwrap_or_else(|| panic!("the fake shop has no order {id}"));
        let body = serde_json::to_vec(&order.to_json(id)).expect("an order is JSON");
        let signature =
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, &body));
        let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
        Delivery {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "user-agent".into(),
                    "WooCommerce/9.4.0 Hookshot (WordPress/6.7)".into(),
                ),
                ("X-WC-Webhook-Source".into(), "https://shop.example/".into()),
                ("X-WC-Webhook-Topic".into(), topic.into()),
                ("X-WC-Webhook-Resource".into(), resource.into()),
                ("X-WC-Webhook-Event".into(), event.into()),
                ("X-WC-Webhook-Signature".into(), signature),
                ("X-WC-Webhook-ID".into(), "7".into()),
                (
                    "X-WC-Webhook-Delivery-ID".into(),
                    format!("{}", order.modified),
                ),
            ],
            body,
        }
    }

    /// The test delivery WooCommerce sends when a webhook is saved:
    /// `webhook_id=<id>`, form encoded, without topic or signature.
    pub fn ping(webhook_id: u64) -> Delivery {
        Delivery {
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                (
                    "user-agent".into(),
                    "WooCommerce/9.4.0 Hookshot (WordPress/6.7)".into(),
                ),
            ],
            body: format!("webhook_id={webhook_id}").into_bytes(),
        }
    }

    /// `GET /wp-json/wc/v3/orders`: WooCommerce's filters (`modified_after`
    /// exclusive, as WordPress's date query), ordering with ties by id, and
    /// paging with `X-WP-Total` and `X-WP-TotalPages`.
    fn list(&self, query: Option<&str>) -> Response {
        let params: BTreeMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let invalid = |name: &str| {
            error(
                400,
                "rest_invalid_param",
                &format!("Invalid parameter(s): {name}"),
            )
        };
        // Each parse fails with the name of the parameter it could not read.
        let number = |name: &'static str, default: u64| -> Result<u64, &'static str> {
            match params.get(name) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| name),
            }
        };
        let date = |name: &'static str| -> Result<Option<i64>, &'static str> {
            match params.get(name) {
                None => Ok(None),
                Some(v) => v
                    .parse::<jiff::civil::DateTime>()
                    .ok()
                    .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| Some(z.timestamp().as_second()))
                    .ok_or(name),
            }
        };
        let (per_page, page) = match (number("per_page", 10), number("page", 1)) {
            (Ok(p), Ok(n)) => (p, n),
            (Err(name), _) | (_, Err(name)) => return invalid(name),
        };
        if !(1..=100).contains(&per_page) {
            return invalid("per_page");
        }
        if page < 1 {
            return invalid("page");
        }
        let (after, before) = match (date("modified_after"), date("modified_before")) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(name), _) | (_, Err(name)) => return invalid(name),
        };
        if params.get("dates_are_gmt").map(String::as_str) != Some("true")
            && (after.is_some() || before.is_some())
        {
            // The shop's time zone is UTC here, so a plugin forgetting the
            // flag would not notice; refuse, as the answer would be shifted
            // on a real shop.
            return invalid("dates_are_gmt");
        }
        let orderby = params.get("orderby").map_or("date", String::as_str);
        let descending = match params.get("order").map_or("desc", String::as_str) {
            "asc" => false,
            "desc" => true,
            _ => return invalid("order"),
        };
        let mut found: Vec<(&String, &Order)> = self
            .orders
            .iter()
            .filter(|(_, o)| after.is_none_or(|a| o.modified > a))
            .filter(|(_, o)| before.is_none_or(|b| o.modified < b))
            .collect();
        let id_of = |id: &str| id.parse::<u64>().unwrap_or(0);
        match orderby {
            "modified" => found.sort_by_key(|(id, o)| (o.modified, id_of(id))),
            "date" => found.sort_by_key(|(id, o)| (o.created, id_of(id))),
            "id" => found.sort_by_key(|(id, _)| id_of(id)),
            _ => return invalid("orderby"),
        }
        if descending {
            found.reverse();
        }
        let total = found.len() as u64;
        let pages = total.div_ceil(per_page);
        let items: Vec<Value> = found
            .iter()
            .skip(((page - 1) * per_page) as usize)
            .take(per_page as usize)
            .map(|(id, o)| o.to_json(id))
            .collect();
        let mut response = answer(200, Value::Array(items));
        let headers = response.headers_mut();
        headers.insert("x-wp-total", total.into());
        headers.insert("x-wp-totalpages", pages.into());
        response
    }

    fn authorised(&self, request: &Recorded) -> bool {
        let expected = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.consumer_key, self.consumer_secret));
        request.authorization.as_deref() == Some(&format!("Basic {expected}"))
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    answer(
        status,
        json!({ "code": code, "message": message, "data": { "status": status } }),
    )
}

fn no_route() -> Response {
    error(
        404,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
}

fn is_json(request: &Recorded) -> bool {
    request
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"))
}

/// Checks a body has only `allowed` fields: the real API ignores unknown
/// ones, but a plugin sending them is sending something it believes matters.
fn unknown_field(body: &Value, allowed: &[&str]) -> Option<String> {
    body.as_object()?
        .keys()
        .find(|k| !allowed.contains(&k.as_str()))
        .cloned()
}

fn valid_date(text: &str) -> bool {
    text.len() == 10
        && text.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
}

impl Platform for WooCommerce {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        if !self.authorised(request) {
            return error(
                401,
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources.",
            );
        }
        let parts = segments(&request.path);
        let method = request.method.as_str();
        match parts[..] {
            ["wp-json", "wc", "v3", "orders"] if method == "GET" => {
                self.list(request.query.as_deref())
            }
            ["wp-json", "wc", "v3", "orders", id] => {
                let Some(order) = self.orders.get_mut(id) else {
                    return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
                };
                match method {
                    "GET" => answer(200, order.to_json(id)),
                    "PUT" | "POST" => {
                        if !is_json(request) {
                            return error(
                                400,
                                "rest_invalid_json",
                                "The request body must be JSON.",
                            );
                        }
                        let Some(status) = request.body.get("status").and_then(Value::as_str)
                        else {
                            return error(
                                400,
                                "rest_missing_callback_param",
                                "Missing parameter(s): status",
                            );
                        };
                        if !STATUSES.contains(&status) {
                            return error(
                                400,
                                "rest_invalid_param",
                                "Invalid parameter(s): status",
                            );
                        }
                        order.status = status.to_owned();
                        order.modified = order.modified.max(jiff::Timestamp::now().as_second());
                        answer(
                            200,
                            json!({ "id": id.parse::<u64>().unwrap_or(0), "status": order.status }),
                        )
                    }
                    _ => no_route(),
                }
            }
            ["wp-json", "wc", "v3", "orders", id, "notes"] => {
                let Some(order) = self.orders.get_mut(id) else {
                    return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
                };
                match method {
                    "GET" => answer(200, Value::Array(order.notes.clone())),
                    "POST" => {
                        if !is_json(request) {
                            return error(
                                400,
                                "rest_invalid_json",
                                "The request body must be JSON.",
                            );
                        }
                        if let Some(field) = unknown_field(
                            &request.body,
                            &["note", "customer_note", "added_by_user"],
                        ) {
                            return error(
                                400,
                                "rest_invalid_param",
                                &format!("Unknown parameter: {field}"),
                            );
                        }
                        let Some(note) = request
                            .body
                            .get("note")
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty())
                        else {
                            return error(
                                400,
                                "rest_missing_callback_param",
                                "Missing parameter(s): note",
                            );
                        };
                        self.next_id += 1;
                        let created = json!({
                            "id": self.next_id,
                            "note": note,
                            "customer_note": request.body.get("customer_note").and_then(Value::as_bool).unwrap_or(false),
                        });
                        order.notes.push(created.clone());
                        answer(201, created)
                    }
                    _ => no_route(),
                }
            }
            [
                "wp-json",
                "wc-shipment-tracking",
                "v3",
                "orders",
                id,
                "shipment-trackings",
            ] if self.tracking_extension => {
                let Some(order) = self.orders.get_mut(id) else {
                    return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
                };
                match method {
                    "GET" => answer(200, Value::Array(order.trackings.clone())),
                    "POST" => {
                        if !is_json(request) {
                            return error(
                                400,
                                "rest_invalid_json",
                                "The request body must be JSON.",
                            );
                        }
                        let body = &request.body;
                        let allowed = [
                            "tracking_number",
                            "tracking_provider",
                            "custom_tracking_provider",
                            "custom_tracking_link",
                            "date_shipped",
                        ];
                        if let Some(field) = unknown_field(body, &allowed) {
                            return error(
                                400,
                                "rest_invalid_param",
                                &format!("Unknown parameter: {field}"),
                            );
                        }
                        let text = |k: &str| {
                            body.get(k)
                                .and_then(Value::as_str)
                                .filter(|v| !v.is_empty())
                        };
                        let Some(number) = text("tracking_number") else {
                            return error(
                                400,
                                "rest_missing_callback_param",
                                "Missing parameter(s): tracking_number",
                            );
                        };
                        let provider = text("tracking_provider");
                        let custom =
                            text("custom_tracking_provider").zip(text("custom_tracking_link"));
                        if provider.is_none() && custom.is_none() {
                            return error(
                                400,
                                "rest_missing_callback_param",
                                "Missing parameter(s): tracking_provider or custom_tracking_provider and custom_tracking_link",
                            );
                        }
                        if text("date_shipped").is_some_and(|d| !valid_date(d)) {
                            return error(
                                400,
                                "rest_invalid_param",
                                "Invalid parameter(s): date_shipped",
                            );
                        }
                        self.next_id += 1;
                        let created = json!({
                            "tracking_id": format!("trk{}", self.next_id),
                            "tracking_number": number,
                            "tracking_provider": provider.unwrap_or_default(),
                            "tracking_link": custom.map(|c| c.1).unwrap_or_default(),
                            "date_shipped": text("date_shipped").unwrap_or_default(),
                        });
                        if self.lose_trackings > 0 {
                            self.lose_trackings -= 1;
                        } else {
                            order.trackings.push(created.clone());
                        }
                        answer(201, created)
                    }
                    _ => no_route(),
                }
            }
            _ => no_route(),
        }
    }
}
