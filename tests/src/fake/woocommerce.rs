//! A fake WooCommerce: REST API v3 orders and notes, and the Shipment
//! Tracking extension's `wc-shipment-tracking/v3` routes.

use std::collections::BTreeMap;

use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::{Common, Platform, Recorded, json as answer, segments};

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
            ["wp-json", "wc", "v3", "orders", id] => {
                let Some(order) = self.orders.get_mut(id) else {
                    return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
                };
                match method {
                    "GET" => answer(
                        200,
                        json!({ "id": id.parse::<u64>().unwrap_or(0), "status": order.status }),
                    ),
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
