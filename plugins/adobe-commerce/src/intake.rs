//! Orders coming in from Adobe Commerce (contract 1.1), by polling.
//!
//! `pull` lists `GET /V1/orders` with a `searchCriteria` in the order of
//! `(updated_at, entity_id)` and reads the first page after the cursor:
//! the key of the last order delivered. Magento's filter groups are
//! joined by AND and the filters within a group by OR, so "after the key"
//! is written as two groups, `updated_at >= t` and
//! `updated_at > t OR entity_id > id`. Every pull asks for page 1 after
//! its cursor instead of counting pages: a page number would shift as
//! orders change between two pulls, and Magento answers a page past the
//! last with the last page again. The cursor is stored by the host with
//! what the batch produced, so a host stopped between pages goes on from
//! the last page it imported; an order changed since gets a later
//! `updated_at` and comes again with its new status.
//!
//! Magento keeps `updated_at` to the second (UTC, `2026-11-20 10:05:00`):
//! an order changed twice within the second it was pulled in is seen with
//! its first change only, until it changes again.

use serde::{Deserialize, Serialize};
use statusport_plugin_sdk::{AdapterError, Dimension, Value, host, time};
use statusport_plugin_sdk_intake::intake::{rfc3339, status_value};
use statusport_plugin_sdk_intake::{Batch, Customer, Inbound, IncomingOrder, Money, OrderLine};

use crate::order::{Order, join_name};
use crate::{client, send};

pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
/// Orders per page: a Magento order with its items and addresses is a few
/// kilobytes; fifty keep an answer well under the SDK's limit.
const PAGE_SIZE: usize = 50;

/// The key of the last order delivered: its `updated_at` as Magento wrote
/// it and its `entity_id`. The next pull reads the orders after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    updated_at: String,
    entity_id: u64,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, AdapterError> {
        let refused = || {
            AdapterError::Rejected(format!(
                "cursor {text} is not an Adobe Commerce intake cursor \
                 ({{\"updated_at\":\"<YYYY-MM-DD HH:MM:SS>\",\"entity_id\":<order id>}})"
            ))
        };
        let cursor: Cursor = serde_json::from_str(text).map_err(|_| refused())?;
        time::parse(&cursor.updated_at).ok_or_else(refused)?;
        Ok(cursor)
    }

    /// Before the first order of the first pull: `intake-since`, or 30
    /// days back.
    fn first() -> Result<Cursor, AdapterError> {
        let start = first_start()?;
        Ok(Cursor {
            updated_at: magento_time(start),
            entity_id: 0,
        })
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }
}

/// A time as Magento writes and filters it: `2026-11-20 10:05:00` (UTC).
fn magento_time(secs: i64) -> String {
    time::format_naive(secs).replacen('T', " ", 1)
}

/// The `searchCriteria` of the page after `cursor`, as query pairs.
fn criteria(cursor: &Cursor) -> Vec<(String, String)> {
    let filter = |group: usize, n: usize, field: &str, value: &str, condition: &str| {
        let name =
            |part: &str| format!("searchCriteria[filterGroups][{group}][filters][{n}][{part}]");
        [
            (name("field"), field.to_owned()),
            (name("value"), value.to_owned()),
            (name("conditionType"), condition.to_owned()),
        ]
    };
    let id = cursor.entity_id.to_string();
    let mut pairs = Vec::new();
    pairs.extend(filter(0, 0, "updated_at", &cursor.updated_at, "gteq"));
    pairs.extend(filter(1, 0, "updated_at", &cursor.updated_at, "gt"));
    pairs.extend(filter(1, 1, "entity_id", &id, "gt"));
    for (i, field) in ["updated_at", "entity_id"].into_iter().enumerate() {
        pairs.push((
            format!("searchCriteria[sortOrders][{i}][field]"),
            field.to_owned(),
        ));
        pairs.push((
            format!("searchCriteria[sortOrders][{i}][direction]"),
            "ASC".to_owned(),
        ));
    }
    pairs.push(("searchCriteria[pageSize]".into(), PAGE_SIZE.to_string()));
    pairs.push(("searchCriteria[currentPage]".into(), "1".into()));
    pairs
}

#[derive(Deserialize)]
struct SearchResult {
    #[serde(default)]
    items: Vec<Order>,
    #[serde(default)]
    total_count: u64,
}

/// `updated_at`, else `created_at`: the order's key time.
fn changed_at(order: &Order) -> Result<&str, AdapterError> {
    order
        .updated_at
        .as_deref()
        .or(order.created_at.as_deref())
        .filter(|t| time::parse(t).is_some())
        .ok_or_else(|| {
            AdapterError::Rejected(format!(
                "Adobe Commerce order {}: updated_at {:?} is not a date and time",
                order.display(),
                order.updated_at
            ))
        })
}

/// A quantity of whole items.
fn whole(quantity: f64, what: &str) -> Result<u32, AdapterError> {
    if quantity.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&quantity) {
        Ok(quantity as u32)
    } else {
        Err(AdapterError::Rejected(format!(
            "{what}: quantity {quantity} is not a whole number of items"
        )))
    }
}

fn incoming(order: &Order) -> Result<IncomingOrder, AdapterError> {
    let shown = order.display();
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => {
            AdapterError::Rejected(format!("Adobe Commerce order {shown}: {m}"))
        }
        other => other,
    };
    let currency = order
        .order_currency_code
        .as_deref()
        .or(order.base_currency_code.as_deref())
        .ok_or_else(|| {
            AdapterError::Rejected(format!(
                "Adobe Commerce order {shown} has no order_currency_code"
            ))
        })?;
    let lines = order
        .top_items()
        .map(|item| {
            let what = format!("item {} ({})", item.item_id, item.sku);
            let unit_price = Money::from_json(
                item.price.as_ref().unwrap_or(&Value::Null),
                currency,
            )
            .map_err(|e| match e {
                AdapterError::Rejected(m) => AdapterError::Rejected(format!("{what}: price: {m}")),
                other => other,
            })?;
            Ok(OrderLine {
                line_id: item.item_id.to_string(),
                article: if item.sku.trim().is_empty() {
                    item.product_id.unwrap_or(item.item_id).to_string()
                } else {
                    item.sku.clone()
                },
                name: item.name.clone().unwrap_or_default(),
                quantity: whole(item.qty_ordered, &what)?,
                unit_price,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()
        .map_err(in_order)?;
    let shipping = order
        .shipping_amount
        .as_ref()
        .filter(|v| !v.is_null())
        .map(|v| Money::from_json(v, currency))
        .transpose()
        .map_err(in_order)?;
    let email = order
        .customer_email
        .clone()
        .filter(|e| !e.trim().is_empty());
    let customer_id = match order.customer_id.filter(|_| !order.customer_is_guest) {
        Some(id) => id.to_string(),
        // A guest has no customer account: the email is the best key to
        // find the same person again.
        None => email
            .clone()
            .unwrap_or_else(|| format!("guest-order-{}", order.entity_id)),
    };
    let ship_to = order.ship_to();
    let billing = order.billing_address.as_ref();
    let name = Some(join_name(
        order.customer_firstname.as_deref(),
        order.customer_lastname.as_deref(),
    ))
    .filter(|n| !n.is_empty())
    .or_else(|| billing.map(|a| a.name()))
    .unwrap_or_default();
    let phone = ship_to
        .and_then(|a| a.telephone.clone())
        .or_else(|| billing.and_then(|a| a.telephone.clone()))
        .filter(|p| !p.trim().is_empty());
    let status = order.status.clone().ok_or_else(|| {
        AdapterError::Rejected(format!("Adobe Commerce order {shown} has no status"))
    })?;
    let created = order.created_at.as_deref().ok_or_else(|| {
        AdapterError::Rejected(format!("Adobe Commerce order {shown} has no created_at"))
    })?;
    Ok(IncomingOrder {
        platform_order_id: order.entity_id.to_string(),
        customer: Customer {
            id: customer_id,
            name,
            email,
            phone,
            address: ship_to.map(|a| a.lines()).unwrap_or_default(),
        },
        lines,
        shipping,
        payment_method: order
            .payment
            .as_ref()
            .and_then(|p| p.method.clone())
            .unwrap_or_default(),
        statuses: vec![status_value(Dimension::Order, &status)],
        created_at: rfc3339(created, &format!("order {shown}: created_at"))?,
        updated_at: rfc3339(changed_at(order)?, &format!("order {shown}: updated_at"))?,
    })
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let after = match cursor.as_deref() {
        Some(text) => Cursor::parse(text)?,
        None => Cursor::first()?,
    };
    let client = client()?;
    let mut request = client.get("/V1/orders");
    for (name, value) in criteria(&after) {
        request = request.query(&name, &value);
    }
    let page: SearchResult = send(request)?.json()?;
    let mut next = after.clone();
    let mut items = Vec::with_capacity(page.items.len());
    for order in &page.items {
        items.push(Inbound::Order(incoming(order)?));
        next = Cursor {
            updated_at: changed_at(order)?.to_owned(),
            entity_id: order.entity_id,
        };
    }
    if !page.items.is_empty() {
        let shown: Vec<String> = page.items.iter().map(Order::display).collect();
        host::debug(&format!(
            "pulled {} order(s) of {} changed since {}: {}",
            page.items.len(),
            page.total_count,
            after.updated_at,
            shown.join(", ")
        ));
    }
    Ok(Batch {
        items,
        next_cursor: Some(next.encode()),
        more: page.total_count > page.items.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use statusport_plugin_sdk::json;

    fn order(value: serde_json::Value) -> Order {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_is_refused() {
        let cursor = Cursor {
            updated_at: "2026-11-20 10:05:00".into(),
            entity_id: 812,
        };
        assert_eq!(Cursor::parse(&cursor.encode()).unwrap(), cursor);
        assert_eq!(
            cursor.encode(),
            r#"{"updated_at":"2026-11-20 10:05:00","entity_id":812}"#
        );
        for foreign in [
            "3",
            r#"{"modified":"2026-11-20T10:05:00Z","seen":[]}"#,
            r#"{"updated_at":"soon","entity_id":1}"#,
        ] {
            assert!(
                matches!(Cursor::parse(foreign), Err(AdapterError::Rejected(_))),
                "{foreign}"
            );
        }
    }

    #[test]
    fn times_go_out_as_magento_writes_them() {
        let secs = time::parse("2026-11-20T10:05:00Z").unwrap();
        assert_eq!(magento_time(secs), "2026-11-20 10:05:00");
    }

    #[test]
    fn the_criteria_ask_for_the_page_after_the_key() {
        let pairs = criteria(&Cursor {
            updated_at: "2026-11-20 10:05:00".into(),
            entity_id: 812,
        });
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert_eq!(
            get("searchCriteria[filterGroups][0][filters][0][field]"),
            "updated_at"
        );
        assert_eq!(
            get("searchCriteria[filterGroups][0][filters][0][conditionType]"),
            "gteq"
        );
        assert_eq!(
            get("searchCriteria[filterGroups][1][filters][0][conditionType]"),
            "gt"
        );
        assert_eq!(
            get("searchCriteria[filterGroups][1][filters][1][field]"),
            "entity_id"
        );
        assert_eq!(
            get("searchCriteria[filterGroups][1][filters][1][value]"),
            "812"
        );
        assert_eq!(get("searchCriteria[sortOrders][1][field]"), "entity_id");
        assert_eq!(get("searchCriteria[currentPage]"), "1");
    }

    #[test]
    fn a_guest_order_maps_with_its_shipping_address_and_parent_lines() {
        let o = incoming(&order(json!({
            "entity_id": 7, "increment_id": "000000007", "status": "processing",
            "created_at": "2026-11-20 10:00:00", "updated_at": "2026-11-20 10:05:00",
            "customer_is_guest": 1, "customer_email": "aiko@example.com",
            "customer_firstname": "Aiko", "customer_lastname": "Sato",
            "order_currency_code": "JPY", "shipping_amount": 500,
            "items": [
                {"item_id": 11, "sku": "TEA", "name": "Teapot", "qty_ordered": 3, "price": 1500},
                {"item_id": 12, "sku": "CUP", "name": "Cup", "qty_ordered": 2.0, "price": 800,
                 "product_type": "configurable"},
                {"item_id": 13, "sku": "CUP-RED", "name": "Cup", "qty_ordered": 2, "price": 0,
                 "parent_item_id": 12}
            ],
            "billing_address": {"address_type": "billing", "firstname": "Aiko", "lastname": "Sato",
                "street": ["1-2-3 Ginza"], "postcode": "104-0061", "city": "Tokyo",
                "country_id": "JP", "telephone": "+81 3 0000 0000"},
            "payment": {"method": "checkmo"},
            "extension_attributes": {"shipping_assignments": [{"shipping": {"address": {
                "address_type": "shipping", "firstname": "Aiko", "lastname": "Sato",
                "company": "Sato KK", "street": ["4-5-6 Shibuya", "Floor 2"], "postcode": "150-0002",
                "city": "Tokyo", "country_id": "JP", "telephone": "+81 3 1111 1111"}}}]}
        })))
        .unwrap();
        assert_eq!(o.platform_order_id, "7");
        assert_eq!(o.customer.id, "aiko@example.com");
        assert_eq!(o.customer.name, "Aiko Sato");
        assert_eq!(
            o.customer.address,
            [
                "Sato KK",
                "4-5-6 Shibuya",
                "Floor 2",
                "150-0002 Tokyo",
                "JP"
            ]
        );
        assert_eq!(o.customer.phone.as_deref(), Some("+81 3 1111 1111"));
        assert_eq!(o.lines.len(), 2);
        assert_eq!(
            (o.lines[1].line_id.as_str(), o.lines[1].quantity),
            ("12", 2)
        );
        assert_eq!(o.lines[0].unit_price.minor, 1500);
        assert_eq!(o.shipping.unwrap().minor, 500);
        assert_eq!(o.payment_method, "checkmo");
        assert_eq!(o.statuses[0].code, "processing");
        assert_eq!(o.updated_at, "2026-11-20T10:05:00Z");
    }

    #[test]
    fn a_registered_customer_is_known_by_the_customer_id() {
        let o = incoming(&order(json!({
            "entity_id": 8, "status": "pending", "customer_id": 31, "customer_is_guest": 0,
            "created_at": "2026-11-20 10:00:00", "updated_at": "2026-11-20 10:00:00",
            "order_currency_code": "EUR", "items": [
                {"item_id": 1, "sku": "A", "qty_ordered": 1, "price": 19.99}
            ]
        })))
        .unwrap();
        assert_eq!(o.customer.id, "31");
        assert_eq!(o.lines[0].unit_price.minor, 1999);
    }

    #[test]
    fn a_fractional_quantity_is_refused_naming_the_order_and_item() {
        let err = incoming(&order(json!({
            "entity_id": 9, "increment_id": "000000009", "status": "pending",
            "created_at": "2026-11-20 10:00:00", "order_currency_code": "EUR",
            "items": [{"item_id": 4, "sku": "ROPE", "qty_ordered": 1.5, "price": 2}]
        })))
        .unwrap_err();
        match err {
            AdapterError::Rejected(m) => assert_eq!(
                m,
                "Adobe Commerce order 9 (#000000009): item 4 (ROPE): quantity 1.5 is not a whole number of items"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
