//! Orders coming in from BigCommerce (contract 1.1).
//!
//! `pull` lists `GET /orders?min_date_modified=…&sort=date_modified`,
//! 25 orders a page, and reads each order's products
//! (`GET /orders/{id}/products`). BigCommerce keeps `date_modified` to the
//! second, so the cursor holds the last second delivered and the ids
//! already delivered in it: the next pull asks from one second before
//! (whether BigCommerce's `min_date_modified` counts its own second or not)
//! and skips what it delivered. Orders sharing a second across a page edge
//! are neither lost nor repeated; an order changed again gets a later time
//! and comes again. The cursor is a time, not a page: a pull repeated after
//! a crash between pages starts from the same place and gives the same or a
//! later batch. An empty page is BigCommerce's 204.
//!
//! `accept-webhook` checks the Standard Webhooks signature (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`, five minutes' tolerance) with
//! the channel's `webhook-secret`. BigCommerce's order webhooks carry only
//! the order's id (`data.id`), so the plugin reads the order and its
//! products and hands the order in; a `store/order/statusUpdated` delivery
//! also hands in a status change whose id is the delivery's `webhook-id`
//! (the same on every retry of one delivery).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use statusport_plugin_sdk::webhook::standard;
use statusport_plugin_sdk::{AdapterError, Dimension, Value, host, time};
use statusport_plugin_sdk_intake::intake::status_value;
use statusport_plugin_sdk_intake::{
    Batch, Customer, Inbound, IncomingOrder, Money, OrderLine, StatusChange,
};

use crate::{Api, order_path, status_by_id};

pub const WEBHOOK_SECRET: &str = "webhook-secret";
pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
/// Orders a page: each costs one more request for its products, and a pull
/// must finish within the host's deadline for one call.
const PAGE_SIZE: usize = 25;
/// The order webhooks whose order is handed in.
const ORDER_SCOPES: &[&str] = &[
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
];

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
                "cursor {text} is not a BigCommerce intake cursor ({{\"modified\":\"<RFC 3339>\",\"seen\":[<order ids>]}})"
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

/// `secs` as BigCommerce writes its dates (RFC 2822):
/// `Thu, 20 Apr 2017 11:32:00 +0000`.
fn rfc2822(secs: i64) -> String {
    Timestamp::from_second(secs)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Seconds since the epoch of one of BigCommerce's dates: RFC 2822 as it
/// writes them (`Tue, 20 Nov 2012 00:00:00 +0000`), or RFC 3339.
fn seconds(text: &str) -> Option<i64> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    PARSER
        .parse_timestamp(text.trim())
        .ok()
        .map(|t| t.as_second())
        .or_else(|| time::parse(text))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Address {
    first_name: String,
    last_name: String,
    company: String,
    street_1: String,
    street_2: String,
    city: String,
    state: String,
    zip: String,
    country: String,
    phone: String,
    email: String,
}

impl Address {
    fn lines(&self) -> Vec<String> {
        let town = [self.zip.trim(), self.city.trim()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        [
            self.company.trim(),
            self.street_1.trim(),
            self.street_2.trim(),
            town.as_str(),
            self.state.trim(),
            self.country.trim(),
        ]
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
    }

    fn name(&self) -> String {
        format!("{} {}", self.first_name.trim(), self.last_name.trim())
            .trim()
            .to_owned()
    }
}

/// An order as `getOrders` and `getOrder` give it (the fields read).
#[derive(Deserialize)]
struct BcOrder {
    id: u64,
    status_id: u64,
    #[serde(default)]
    customer_id: Value,
    date_created: String,
    #[serde(default)]
    date_modified: Option<String>,
    #[serde(default)]
    billing_address: Address,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    shipping_cost_inc_tax: Option<Value>,
    /// The transactional currency: what the shopper paid in, and what the
    /// amounts are in.
    #[serde(default)]
    default_currency_code: Option<String>,
    #[serde(default)]
    currency_code: Option<String>,
}

impl BcOrder {
    fn modified(&self) -> &str {
        self.date_modified
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or(&self.date_created)
    }

    fn modified_secs(&self) -> Result<i64, AdapterError> {
        seconds(self.modified()).ok_or_else(|| {
            AdapterError::Rejected(format!(
                "BigCommerce order {}: date_modified \"{}\" is not a date and time",
                self.id,
                self.modified()
            ))
        })
    }

    fn currency(&self) -> &str {
        [&self.default_currency_code, &self.currency_code]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|c| !c.trim().is_empty())
            .unwrap_or_default()
    }
}

/// An order product (the fields read).
#[derive(Deserialize)]
struct BcProduct {
    id: u64,
    #[serde(default)]
    product_id: u64,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    name: String,
    quantity: u32,
    /// The price of one item as the customer paid it, taxes included.
    #[serde(default)]
    price_inc_tax: Value,
}

fn time_of(secs: i64) -> String {
    time::format_rfc3339(secs)
}

fn incoming(order: BcOrder, products: Vec<BcProduct>) -> Result<IncomingOrder, AdapterError> {
    let id = order.id;
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => AdapterError::Rejected(format!("BigCommerce order {id}: {m}")),
        other => other,
    };
    let currency = order.currency().to_owned();
    let status = status_by_id(order.status_id).ok_or_else(|| {
        AdapterError::Rejected(format!(
            "BigCommerce order {id} has status_id {}, which is none of BigCommerce's order \
             statuses 0–14",
            order.status_id
        ))
    })?;
    let lines = products
        .iter()
        .map(|p| {
            Ok(OrderLine {
                line_id: p.id.to_string(),
                article: if p.sku.trim().is_empty() {
                    p.product_id.to_string()
                } else {
                    p.sku.trim().to_owned()
                },
                name: p.name.clone(),
                quantity: p.quantity,
                unit_price: Money::from_json(&p.price_inc_tax, &currency)?,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()
        .map_err(in_order)?;
    let shipping = order
        .shipping_cost_inc_tax
        .as_ref()
        .map(|amount| Money::from_json(amount, &currency))
        .transpose()
        .map_err(in_order)?;
    let email = Some(order.billing_address.email.trim().to_owned()).filter(|e| !e.is_empty());
    let customer_id = order
        .customer_id
        .as_u64()
        .or_else(|| order.customer_id.as_f64().map(|f| f as u64))
        .or_else(|| {
            order
                .customer_id
                .as_str()
                .and_then(|s| s.trim().parse().ok())
        })
        .unwrap_or(0);
    let customer = if customer_id != 0 {
        customer_id.to_string()
    } else {
        // A guest: BigCommerce has no customer, the billing email is the
        // best key to find the same person again.
        email.clone().unwrap_or_else(|| format!("guest-order-{id}"))
    };
    let created = seconds(&order.date_created).ok_or_else(|| {
        AdapterError::Rejected(format!(
            "BigCommerce order {id}: date_created \"{}\" is not a date and time",
            order.date_created
        ))
    })?;
    let modified = order.modified_secs()?;
    Ok(IncomingOrder {
        platform_order_id: id.to_string(),
        customer: Customer {
            id: customer,
            name: order.billing_address.name(),
            email,
            phone: Some(order.billing_address.phone.trim().to_owned()).filter(|p| !p.is_empty()),
            address: order.billing_address.lines(),
        },
        lines,
        shipping,
        payment_method: order.payment_method.clone(),
        statuses: vec![status_value(Dimension::Order, status.code)],
        created_at: time_of(created),
        updated_at: time_of(modified),
    })
}

fn products(api: &Api, order_id: u64) -> Result<Vec<BcProduct>, AdapterError> {
    crate::shipments::list(
        api,
        &format!("{}/products", order_path(&order_id.to_string())?),
        true,
    )
}

/// The orders of one page of `getOrders`; an empty page is 204.
fn page(api: &Api, min_modified: i64, page: u32) -> Result<Vec<BcOrder>, AdapterError> {
    let response = api.send(
        api.get("/orders")
            .query("min_date_modified", &rfc2822(min_modified))
            // Ascending, BigCommerce's default direction: the description's
            // enum of `sort` has the field names only, not the `:asc` its
            // text shows. Each page is checked to be oldest first.
            .query("sort", "date_modified")
            .query("page", &page.to_string())
            .query("limit", &PAGE_SIZE.to_string()),
    )?;
    if response.status == 204 || response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    response.json()
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let (from, seen) = match cursor.as_deref() {
        Some(text) => {
            let (cursor, secs) = Cursor::parse(text)?;
            (secs, cursor.seen)
        }
        None => (first_start()?, Vec::new()),
    };
    let api = Api::open()?;
    let mut number = 1;
    loop {
        let orders = page(&api, from - 1, number)?;
        let full = orders.len() >= PAGE_SIZE;
        let mut fresh = Vec::new();
        let mut previous = i64::MIN;
        for order in orders {
            let modified = order.modified_secs()?;
            if modified < previous {
                // The cursor moves to the newest order delivered: a page
                // in another order would skip the older orders after it.
                return Err(AdapterError::Rejected(format!(
                    "BigCommerce listed order {} (modified {}) after a later-modified one although \
                     asked for sort=date_modified (oldest first); nothing was taken in",
                    order.id,
                    order.modified()
                )));
            }
            previous = modified;
            // Earlier seconds, and the ids of the cursor's second, came
            // with an earlier batch.
            if modified < from || (modified == from && seen.contains(&order.id)) {
                continue;
            }
            fresh.push((modified, order));
        }
        // A full page of orders delivered before (many sharing the cursor's
        // second) says nothing yet: look at the next one.
        if fresh.is_empty() && full {
            number += 1;
            continue;
        }
        let last = fresh.iter().map(|(m, _)| *m).max().unwrap_or(from);
        let mut next_seen: Vec<u64> = if last == from {
            seen.clone()
        } else {
            Vec::new()
        };
        next_seen.extend(fresh.iter().filter(|(m, _)| *m == last).map(|(_, o)| o.id));
        let mut items = Vec::with_capacity(fresh.len());
        for (_, order) in fresh {
            let products = products(&api, order.id)?;
            items.push(Inbound::Order(incoming(order, products)?));
        }
        return Ok(Batch {
            items,
            next_cursor: Some(
                Cursor {
                    modified: time::format_rfc3339(last),
                    seen: next_seen,
                }
                .encode(),
            ),
            more: full,
        });
    }
}

/// What the plugin reads of a webhook's body.
#[derive(Deserialize)]
struct Callback {
    scope: String,
    #[serde(default)]
    data: CallbackData,
}

#[derive(Deserialize, Default)]
struct CallbackData {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    status: Option<StatusData>,
}

#[derive(Deserialize)]
struct StatusData {
    new_status_id: u64,
}

pub fn accept_webhook(
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Vec<Inbound>, AdapterError> {
    let secret = host::require_config(WEBHOOK_SECRET)?;
    let key = standard::key(&secret, WEBHOOK_SECRET)?;
    let now = u64::try_from(time::now()).unwrap_or_default();
    let delivery = standard::verify(&key, &headers, &body, now).map_err(|e| match e {
        AdapterError::Auth(why) => AdapterError::Auth(format!(
            "{why}: the delivery does not come from the store (check that the channel's \
             \"{WEBHOOK_SECRET}\" is the webhooks' signing secret)"
        )),
        other => other,
    })?;
    let callback: Callback = serde_json::from_slice(&body).map_err(|e| {
        AdapterError::Rejected(format!(
            "the webhook's body does not parse as a BigCommerce callback ({{\"scope\", \"data\": \
             {{\"type\", \"id\"}}}}): {e}"
        ))
    })?;
    if !ORDER_SCOPES.contains(&callback.scope.as_str()) {
        // Other scopes (products, carts, archived orders, shipments) carry
        // nothing the host takes in.
        return Ok(Vec::new());
    }
    let order_id = callback
        .data
        .id
        .as_ref()
        .and_then(|id| id.as_u64().or_else(|| id.as_str()?.trim().parse().ok()))
        .filter(|_| callback.data.kind.is_empty() || callback.data.kind == "order")
        .ok_or_else(|| {
            AdapterError::Rejected(format!(
                "the {} delivery names no order (data.type \"order\" and a numeric data.id)",
                callback.scope
            ))
        })?;
    let api = Api::open()?;
    let request = api.get(&order_path(&order_id.to_string())?);
    let what = request.describe();
    let response = request.send()?;
    if response.status == 404 {
        host::info(&format!(
            "{} delivery {} for BigCommerce order {order_id}, which the store no longer has: nothing taken in",
            callback.scope, delivery.id
        ));
        return Ok(Vec::new());
    }
    let order: BcOrder = api.check(response, &what)?.json()?;
    let modified = order.modified_secs()?;
    let current = order.status_id;
    let order = incoming(order, products(&api, order_id)?)?;
    let mut items = vec![Inbound::Order(order)];
    // The status change the delivery reports, when the order still has it
    // (a later change comes with its own delivery): known by the delivery's
    // id, which stays the same on every retry.
    if let Some(status) = callback.data.status
        && status.new_status_id == current
        && let Some(code) = status_by_id(current)
    {
        items.push(Inbound::StatusChange(StatusChange {
            change_id: delivery.id.clone(),
            platform_order_id: order_id.to_string(),
            dimension: Dimension::Order,
            code: code.code.to_owned(),
            changed_at: time_of(modified),
        }));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(json: Value) -> BcOrder {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn bigcommerces_dates_are_read_and_written_as_rfc_2822() {
        assert_eq!(
            seconds("Tue, 20 Nov 2012 00:00:00 +0000"),
            Some(1_353_369_600)
        );
        assert_eq!(
            seconds("Thu, 20 Apr 2017 11:32:00 -0400"),
            seconds("2017-04-20T15:32:00Z")
        );
        assert_eq!(rfc2822(1_353_369_600), "Tue, 20 Nov 2012 00:00:00 +0000");
        assert_eq!(seconds(&rfc2822(1_700_000_123)), Some(1_700_000_123));
        assert_eq!(seconds("yesterday"), None);
    }

    #[test]
    fn an_order_maps_with_its_products_prices_and_guest_customer() {
        let o = order(serde_json::json!({
            "id": 250, "status_id": 11, "customer_id": 0,
            "date_created": "Tue, 20 Nov 2012 00:00:00 +0000",
            "date_modified": "Tue, 20 Nov 2012 10:05:00 +0000",
            "billing_address": {"first_name": "Aiko", "last_name": "Sato", "street_1": "1-2-3 Ginza",
                                "zip": "104-0061", "city": "Tokyo", "country": "Japan",
                                "email": "aiko@example.com", "phone": ""},
            "payment_method": "Cash on Delivery", "shipping_cost_inc_tax": "500.0000",
            "currency_code": "USD", "default_currency_code": "JPY"
        }));
        let products: Vec<BcProduct> = serde_json::from_value(serde_json::json!([
            {"id": 9, "product_id": 93, "sku": "", "name": "Teapot", "quantity": 3, "price_inc_tax": "1500.0000"},
            {"id": 10, "product_id": 94, "sku": "CUP-1", "name": "Cup", "quantity": 1, "price_inc_tax": "300.0000"}
        ]))
        .unwrap();
        let o = incoming(o, products).unwrap();
        assert_eq!(o.platform_order_id, "250");
        assert_eq!(o.customer.id, "aiko@example.com");
        assert_eq!(o.customer.name, "Aiko Sato");
        assert_eq!(o.customer.phone, None);
        assert_eq!(
            o.customer.address,
            ["1-2-3 Ginza", "104-0061 Tokyo", "Japan"]
        );
        assert_eq!(o.lines[0].article, "93");
        assert_eq!(o.lines[0].line_id, "9");
        assert_eq!(o.lines[0].unit_price.minor, 1500);
        assert_eq!(o.lines[0].unit_price.currency, "JPY");
        assert_eq!(o.lines[1].article, "CUP-1");
        assert_eq!(o.shipping.unwrap().minor, 500);
        assert_eq!(o.statuses[0].code, "awaiting_fulfillment");
        assert_eq!(o.created_at, "2012-11-20T00:00:00Z");
        assert_eq!(o.updated_at, "2012-11-20T10:05:00Z");
    }

    #[test]
    fn a_status_id_beyond_bigcommerces_is_refused_naming_the_order() {
        let o = order(serde_json::json!({
            "id": 7, "status_id": 42, "date_created": "Tue, 20 Nov 2012 00:00:00 +0000",
        }));
        match incoming(o, Vec::new()) {
            Err(AdapterError::Rejected(m)) => {
                assert!(m.starts_with("BigCommerce order 7 has status_id 42"), "{m}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
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
        assert!(matches!(
            Cursor::parse(r#"{"modified":"soon","seen":[]}"#),
            Err(AdapterError::Rejected(_))
        ));
    }
}
