//! Receipts coming in from Etsy (contract 1.1).
//!
//! `pull` lists `getShopReceipts` by last change, oldest first
//! (`min_last_modified`, `sort_on=updated`, `sort_order=asc`, 100 a page).
//! Etsy keeps that time to the second and `min_last_modified` includes its
//! second, so the cursor holds the last second delivered and the receipts
//! already delivered in it: the next pull asks from that second and skips
//! them. Receipts sharing a second across a page edge are neither lost nor
//! repeated, a pull repeated after a crash gives the same batch again, and
//! a receipt changed later has a later time and comes again.
//!
//! `accept-webhook` checks Etsy's Standard Webhooks signature
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature` under the
//! channel's `whsec_…` secret, five minutes of tolerance), reads which
//! receipt the event names and fetches it with `getShopReceipt`: a
//! delivery is only a hint, the receipt is the truth.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use statusport_plugin_sdk::webhook::standard;
use statusport_plugin_sdk::{AdapterError, Dimension, host, oauth, time};
use statusport_plugin_sdk_intake::{Batch, Inbound, StatusChange};

use crate::api::{Api, PAGE_SIZE};

pub const WEBHOOK_SECRET: &str = "webhook-secret";
pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
/// The earliest `min_last_modified` Etsy takes (2000-01-01).
const EARLIEST: i64 = 946_684_800;

/// Where the next pull goes on: the last change time delivered (RFC 3339
/// UTC, whole seconds) and the receipts delivered with that very time.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    updated: String,
    seen: Vec<u64>,
}

impl Cursor {
    fn parse(text: &str) -> Result<(Cursor, i64), AdapterError> {
        let refused = || {
            AdapterError::Rejected(format!(
                "cursor {text} is not an Etsy intake cursor ({{\"updated\":\"<RFC 3339>\",\"seen\":[<receipt ids>]}})"
            ))
        };
        let cursor: Cursor = serde_json::from_str(text).map_err(|_| refused())?;
        let secs = time::parse(&cursor.updated).ok_or_else(refused)?;
        Ok((cursor, secs))
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }
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
    let mut offset = 0;
    loop {
        let page = api.receipts_changed_since(from.max(EARLIEST), offset)?;
        let got = page.results.len();
        let more = match page.count {
            Some(count) => offset + got < count,
            None => got == PAGE_SIZE,
        };
        let mut fresh = Vec::with_capacity(got);
        for receipt in page.results {
            let updated = receipt.updated()?;
            if updated <= from && seen.contains(&receipt.receipt_id) {
                continue;
            }
            fresh.push((updated, receipt));
        }
        // A page of receipts delivered before (many sharing the cursor's
        // second) says nothing yet: look at the next one.
        if fresh.is_empty() && more && got > 0 {
            offset += got;
            continue;
        }
        let last = fresh.iter().map(|(at, _)| *at).max().unwrap_or(from);
        let mut next_seen = if last == from { seen } else { Vec::new() };
        for (at, receipt) in &fresh {
            if *at == last && !next_seen.contains(&receipt.receipt_id) {
                next_seen.push(receipt.receipt_id);
            }
        }
        let items = fresh
            .iter()
            .map(|(_, receipt)| receipt.incoming().map(Inbound::Order))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Batch {
            items,
            next_cursor: Some(
                Cursor {
                    updated: time::format_rfc3339(last),
                    seen: next_seen,
                }
                .encode(),
            ),
            more,
        });
    }
}

/// What an Etsy webhook event says. Etsy's deliveries are flat
/// (`{"event_type":"order.paid","resource_url":".../receipts/54321",
/// "shop_id":12345}`); its documentation also shows the event's fields
/// under `data`, which is read too.
#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    event_type: Option<String>,
    #[serde(default)]
    resource_url: Option<String>,
    #[serde(default)]
    shop_id: Option<Value>,
    #[serde(default)]
    receipt_id: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

/// A positive id written as a number or a string of digits.
fn id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

/// The receipt id in `.../shops/{shop}/receipts/{receipt}`.
fn receipt_in_url(url: &str) -> Option<u64> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/');
    segments.find(|s| *s == "receipts")?;
    segments.next()?.parse().ok().filter(|id| *id > 0)
}

impl Event {
    fn receipt(&self) -> Option<u64> {
        let data = self.data.as_ref();
        self.resource_url
            .as_deref()
            .and_then(receipt_in_url)
            .or_else(|| self.receipt_id.as_ref().and_then(id))
            .or_else(|| data.and_then(|d| d.get("receipt_id")).and_then(id))
            .or_else(|| {
                data.and_then(|d| d.get("resource_url"))
                    .and_then(Value::as_str)
                    .and_then(receipt_in_url)
            })
    }

    fn shop(&self) -> Option<u64> {
        self.shop_id.as_ref().and_then(id).or_else(|| {
            self.data
                .as_ref()
                .and_then(|d| d.get("shop_id"))
                .and_then(id)
        })
    }

    /// The dimension the event is news about: `order.paid` (`ORDER_PAID`)
    /// the payment, `order.shipped` the delivery, `order.canceled` the
    /// receipt's status.
    fn dimension(&self) -> Option<Dimension> {
        let kind = self
            .event_type
            .as_deref()?
            .trim()
            .to_ascii_lowercase()
            .replace('_', ".");
        match kind.as_str() {
            "order.paid" => Some(Dimension::Payment),
            "order.shipped" => Some(Dimension::Delivery),
            "order.canceled" | "order.cancelled" => Some(Dimension::Order),
            _ => None,
        }
    }
}

pub fn accept_webhook(
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Vec<Inbound>, AdapterError> {
    let secret = host::require_config(WEBHOOK_SECRET)?;
    let key = standard::key(&secret, WEBHOOK_SECRET)?;
    let delivery = standard::verify(&key, &headers, &body, oauth::now_secs())?;
    let event: Event = serde_json::from_slice(&body).map_err(|e| {
        AdapterError::Rejected(format!(
            "the delivery's body is not an Etsy webhook event ({e}); expected JSON such as \
             {{\"event_type\":\"order.paid\",\"resource_url\":\"…/receipts/<id>\",\"shop_id\":<id>}}"
        ))
    })?;
    // An event about no receipt carries nothing for the host.
    let Some(receipt_id) = event.receipt() else {
        return Ok(Vec::new());
    };
    let api = Api::open()?;
    if let Some(shop) = event.shop().filter(|s| *s != api.shop_id()) {
        return Err(AdapterError::Rejected(format!(
            "the delivery is about shop {shop}, but this channel is shop {}: give each shop its own \
             channel and webhook endpoint",
            api.shop_id()
        )));
    }
    let order = api.receipt(receipt_id)?.incoming()?;
    let mut items = Vec::with_capacity(2);
    // The delivery's own news as a change with Etsy's message id, the same
    // for every retry of it: delivered twice, it changes the order once.
    // Its status is the receipt's as read now, not the event's word.
    if let Some(dimension) = event.dimension() {
        let code = order
            .statuses
            .iter()
            .find(|s| s.dimension == dimension)
            .map(|s| s.code.clone())
            .expect("a receipt has a status in every dimension");
        items.push(Inbound::StatusChange(StatusChange {
            change_id: format!("etsy-webhook:{}", delivery.id),
            platform_order_id: order.platform_order_id.clone(),
            dimension,
            code,
            changed_at: order.updated_at.clone(),
        }));
    }
    // The order first: it creates a receipt the channel has not seen yet,
    // which the change then finds.
    items.insert(0, Inbound::Order(order));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_is_refused() {
        let cursor = Cursor {
            updated: "2026-11-20T10:05:00Z".into(),
            seen: vec![7, 9],
        };
        let (back, secs) = Cursor::parse(&cursor.encode()).unwrap();
        assert_eq!(back, cursor);
        assert_eq!(time::format_rfc3339(secs), "2026-11-20T10:05:00Z");
        for foreign in ["3", r#"{"modified":"2026-11-20T10:05:00Z","seen":[]}"#] {
            assert!(
                matches!(Cursor::parse(foreign), Err(AdapterError::Rejected(m)) if m.contains("not an Etsy intake cursor")),
                "{foreign}"
            );
        }
    }

    fn event(value: Value) -> Event {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_receipt_is_read_from_the_resource_url_or_the_documented_data() {
        let flat = event(json!({
            "event_type": "order.paid",
            "resource_url": "https://openapi.etsy.com/v3/application/shops/12345/receipts/54321",
            "shop_id": 12345
        }));
        assert_eq!(flat.receipt(), Some(54321));
        assert_eq!(flat.shop(), Some(12345));
        assert_eq!(flat.dimension(), Some(Dimension::Payment));
        let nested = event(json!({
            "event_type": "ORDER_PAID", "event_id": "e1", "created_at": 1_767_225_600,
            "data": {"shop_id": "12345", "receipt_id": "54321"}
        }));
        assert_eq!(nested.receipt(), Some(54321));
        assert_eq!(nested.shop(), Some(12345));
        assert_eq!(nested.dimension(), Some(Dimension::Payment));
        let other = event(
            json!({"event_type": "listing.updated", "resource_url": "https://openapi.etsy.com/v3/application/listings/9"}),
        );
        assert_eq!(other.receipt(), None);
        assert_eq!(other.dimension(), None);
        assert_eq!(
            receipt_in_url("https://x/v3/application/shops/1/receipts/77?includes=Transactions"),
            Some(77)
        );
        assert_eq!(
            receipt_in_url("https://x/v3/application/shops/1/receipts/"),
            None
        );
    }

    #[test]
    fn shipped_and_canceled_events_name_their_dimension() {
        let kind = |t: &str| event(json!({ "event_type": t })).dimension();
        assert_eq!(kind("order.shipped"), Some(Dimension::Delivery));
        assert_eq!(kind("ORDER_CANCELED"), Some(Dimension::Order));
        assert_eq!(kind("order.delivered"), None);
    }
}
