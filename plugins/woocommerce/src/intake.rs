//! Orders coming in from WooCommerce (contract 1.1).
//!
//! `pull` lists `GET /wp-json/wc/v3/orders` by modification time, oldest
//! first. WooCommerce keeps that time to the second and its
//! `modified_after` is exclusive, so the cursor holds the last second
//! delivered and the ids already delivered in it: the next pull asks from
//! one second before and skips those ids. Orders sharing a second across a
//! page edge are neither lost nor repeated, and an order changed again gets
//! a later time and comes again.
//!
//! `accept-webhook` checks `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of
//! the raw body under the channel's `webhook-secret`) and turns
//! `order.created` / `order.updated` deliveries into orders.

use serde::{Deserialize, Serialize};
use statusport_plugin_sdk::webhook::{self, Encoding};
use statusport_plugin_sdk::{AdapterError, Dimension, host, time};
use statusport_plugin_sdk_intake::intake::{rfc3339, status_value};
use statusport_plugin_sdk_intake::{Batch, Customer, Inbound, IncomingOrder, Money, OrderLine};

use crate::client;

pub const WEBHOOK_SECRET: &str = "webhook-secret";
pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
/// WooCommerce's largest page.
const PAGE_SIZE: usize = 100;

/// Where the next pull goes on: the modification time of the newest order
/// delivered (RFC 3339 UTC, whole seconds) and the ids delivered with that
/// very time.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    modified: String,
    seen: Vec<u64>,
}

impl Cursor {
    fn parse(text: &str) -> Result<(Cursor, i64), AdapterError> {
        let refused = || {
            AdapterError::Rejected(format!(
                "cursor {text} is not a WooCommerce intake cursor ({{\"modified\":\"<RFC 3339>\",\"seen\":[<order ids>]}})"
            ))
        };
        let cursor: Cursor = serde_json::from_str(text).map_err(|_| refused())?;
        let secs = time::parse(&cursor.modified).ok_or_else(refused)?;
        Ok((cursor, secs))
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Address {
    first_name: String,
    last_name: String,
    company: String,
    address_1: String,
    address_2: String,
    city: String,
    state: String,
    postcode: String,
    country: String,
    email: Option<String>,
    phone: Option<String>,
}

impl Address {
    fn lines(&self) -> Vec<String> {
        let town = [self.postcode.trim(), self.city.trim()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        [
            self.company.trim(),
            self.address_1.trim(),
            self.address_2.trim(),
            town.as_str(),
            self.state.trim(),
            self.country.trim(),
        ]
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
    }
}

#[derive(Deserialize)]
struct LineItem {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    product_id: u64,
    #[serde(default)]
    sku: Option<String>,
    quantity: u32,
    #[serde(default)]
    subtotal: Option<String>,
    #[serde(default)]
    price: Option<serde_json::Value>,
}

/// An order as `wc/v3/orders` and the order webhooks give it.
#[derive(Deserialize)]
struct WcOrder {
    id: u64,
    status: String,
    currency: String,
    #[serde(default)]
    customer_id: u64,
    #[serde(default)]
    billing: Address,
    #[serde(default)]
    shipping: Address,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    shipping_total: Option<String>,
    date_created_gmt: String,
    #[serde(default)]
    date_modified_gmt: Option<String>,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

impl WcOrder {
    fn modified(&self) -> &str {
        self.date_modified_gmt
            .as_deref()
            .unwrap_or(&self.date_created_gmt)
    }
}

fn incoming(order: WcOrder) -> Result<IncomingOrder, AdapterError> {
    let id = order.id;
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => AdapterError::Rejected(format!("WooCommerce order {id}: {m}")),
        other => other,
    };
    let lines = order
        .line_items
        .iter()
        .map(|item| {
            let unit_price = match &item.subtotal {
                Some(subtotal) => Money::parse(subtotal, &order.currency)?.per_item(item.quantity),
                None => Money::from_json(
                    item.price.as_ref().unwrap_or(&serde_json::Value::Null),
                    &order.currency,
                )?,
            };
            Ok(OrderLine {
                line_id: item.id.to_string(),
                article: item
                    .sku
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| item.product_id.to_string()),
                name: item.name.clone(),
                quantity: item.quantity,
                unit_price,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()
        .map_err(in_order)?;
    let shipping = order
        .shipping_total
        .as_deref()
        .map(|total| Money::parse(total, &order.currency))
        .transpose()
        .map_err(in_order)?;
    let email = order.billing.email.clone().filter(|e| !e.is_empty());
    let customer_id = if order.customer_id != 0 {
        order.customer_id.to_string()
    } else {
        // A guest: WooCommerce has no customer, the billing email is the
        // best key to find the same person again.
        email.clone().unwrap_or_else(|| format!("guest-order-{id}"))
    };
    let name = format!(
        "{} {}",
        order.billing.first_name.trim(),
        order.billing.last_name.trim()
    )
    .trim()
    .to_owned();
    let address = if order.shipping.address_1.trim().is_empty() {
        order.billing.lines()
    } else {
        order.shipping.lines()
    };
    Ok(IncomingOrder {
        platform_order_id: id.to_string(),
        customer: Customer {
            id: customer_id,
            name,
            email,
            phone: order.billing.phone.clone().filter(|p| !p.is_empty()),
            address,
        },
        lines,
        shipping,
        payment_method: order.payment_method.clone(),
        statuses: vec![status_value(Dimension::Order, &order.status)],
        created_at: rfc3339(
            &order.date_created_gmt,
            &format!("order {id}: date_created_gmt"),
        )?,
        updated_at: rfc3339(order.modified(), &format!("order {id}: date_modified_gmt"))?,
    })
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let (from, seen) = match cursor.as_deref() {
        Some(text) => {
            let (cursor, secs) = Cursor::parse(text)?;
            (secs, cursor.seen)
        }
        None => (first_start()?, Vec::new()),
    };
    let client = client()?;
    // `modified_after` is exclusive: one second earlier brings the cursor's
    // own second again, whose delivered orders are skipped below.
    let after = time::format_naive(from - 1);
    let mut page = 1;
    loop {
        let response = client
            .get("/wp-json/wc/v3/orders")
            .query("modified_after", &after)
            .query("dates_are_gmt", "true")
            .query("orderby", "modified")
            .query("order", "asc")
            .query("per_page", &PAGE_SIZE.to_string())
            .query("page", &page.to_string())
            .send_ok()?;
        let pages: u32 = response
            .header("x-wp-totalpages")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let orders: Vec<WcOrder> = response.json()?;
        let mut fresh = Vec::new();
        for order in orders {
            let modified = time::parse(order.modified()).ok_or_else(|| {
                AdapterError::Rejected(format!(
                    "WooCommerce order {}: date_modified_gmt \"{}\" is not a date and time",
                    order.id,
                    order.modified()
                ))
            })?;
            if modified == from && seen.contains(&order.id) {
                continue;
            }
            fresh.push((modified, order));
        }
        // A page of orders delivered before (many sharing the cursor's
        // second) says nothing yet: look at the next one.
        if fresh.is_empty() && page < pages {
            page += 1;
            continue;
        }
        let last = fresh.iter().map(|(m, _)| *m).max().unwrap_or(from);
        let mut next_seen: Vec<u64> = if last == from {
            seen.clone()
        } else {
            Vec::new()
        };
        next_seen.extend(fresh.iter().filter(|(m, _)| *m == last).map(|(_, o)| o.id));
        let items = fresh
            .into_iter()
            .map(|(_, order)| incoming(order).map(Inbound::Order))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Batch {
            items,
            next_cursor: Some(
                Cursor {
                    modified: time::format_rfc3339(last),
                    seen: next_seen,
                }
                .encode(),
            ),
            more: page < pages,
        });
    }
}

/// WooCommerce's test delivery when a webhook is saved: `webhook_id=<id>`,
/// form encoded, with no topic and no signature.
fn is_ping(headers: &[(String, String)], body: &[u8]) -> bool {
    webhook::header(headers, "x-wc-webhook-topic").is_none()
        && body
            .strip_prefix(b"webhook_id=")
            .is_some_and(|id| !id.is_empty() && id.iter().all(u8::is_ascii_digit))
}

pub fn accept_webhook(
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Vec<Inbound>, AdapterError> {
    let secret = host::require_config(WEBHOOK_SECRET)?;
    if is_ping(&headers, &body) {
        return Ok(Vec::new());
    }
    let signature = webhook::header(&headers, "x-wc-webhook-signature").ok_or_else(|| {
        AdapterError::Auth(
            "the delivery has no X-WC-Webhook-Signature header: it does not come from the shop"
                .into(),
        )
    })?;
    if !webhook::verify_hmac_sha256(secret.as_bytes(), &body, signature, Encoding::Base64) {
        return Err(AdapterError::Auth(format!(
            "X-WC-Webhook-Signature does not match the body signed with the channel's \"{WEBHOOK_SECRET}\": \
             check that it equals the webhook's secret in WooCommerce › Settings › Advanced › Webhooks"
        )));
    }
    match webhook::header(&headers, "x-wc-webhook-topic") {
        Some("order.created" | "order.updated") => {
            let order: WcOrder = serde_json::from_slice(&body).map_err(|e| {
                AdapterError::Rejected(format!(
                    "the order in the webhook's body does not parse as a WooCommerce order: {e}"
                ))
            })?;
            Ok(vec![Inbound::Order(incoming(order)?)])
        }
        // Other topics (products, customers, deleted orders) carry nothing
        // the host takes in.
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(json: serde_json::Value) -> IncomingOrder {
        incoming(serde_json::from_value(json).unwrap()).unwrap()
    }

    #[test]
    fn a_guest_is_known_by_the_billing_email_and_prices_are_per_item() {
        let o = order(serde_json::json!({
            "id": 727, "status": "processing", "currency": "JPY", "customer_id": 0,
            "billing": {"first_name": "Aiko", "last_name": "Sato", "email": "aiko@example.com",
                        "address_1": "1-2-3 Ginza", "postcode": "104-0061", "city": "Tokyo", "country": "JP"},
            "payment_method": "bacs", "shipping_total": "500",
            "date_created_gmt": "2026-11-20T10:00:00", "date_modified_gmt": "2026-11-20T10:05:00",
            "line_items": [{"id": 9, "name": "Teapot", "product_id": 93, "sku": "", "quantity": 3,
                            "subtotal": "4500", "price": 1500}]
        }));
        assert_eq!(o.customer.id, "aiko@example.com");
        assert_eq!(o.customer.address, ["1-2-3 Ginza", "104-0061 Tokyo", "JP"]);
        assert_eq!(o.lines[0].article, "93");
        assert_eq!(o.lines[0].unit_price.minor, 1500);
        assert_eq!(o.shipping.unwrap().minor, 500);
        assert_eq!(o.updated_at, "2026-11-20T10:05:00Z");
    }

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_is_refused() {
        let cursor = Cursor {
            modified: "2026-11-20T10:05:00Z".into(),
            seen: vec![7, 9],
        };
        let (back, secs) = Cursor::parse(&cursor.encode()).unwrap();
        assert_eq!(back, cursor);
        assert_eq!(time::format_rfc3339(secs), "2026-11-20T10:05:00Z");
        assert!(matches!(Cursor::parse("3"), Err(AdapterError::Rejected(_))));
    }

    #[test]
    fn only_a_bare_webhook_id_without_topic_is_a_ping() {
        assert!(is_ping(&[], b"webhook_id=12"));
        assert!(!is_ping(&[], b"webhook_id=12&x=1"));
        let topic = vec![("X-WC-Webhook-Topic".to_owned(), "order.created".to_owned())];
        assert!(!is_ping(&topic, b"webhook_id=12"));
    }
}
