//! Orders coming in from Shopware 6 (contract 1.1).
//!
//! `pull` searches `POST /api/search/order`, oldest change first. Shopware
//! leaves `updatedAt` null until an order first changes, so the search
//! reads two streams in one: orders never changed, by `createdAt`, then
//! changed ones, by `updatedAt` (MySQL sorts nulls first), with the id as
//! the tie-breaker. The cursor holds a mark per stream: the newest time
//! delivered and the ids delivered with exactly that time, which the next
//! search leaves out. An order that changes later gets a newer `updatedAt`
//! and comes again.
//!
//! `accept-webhook` takes app-system webhooks signed with the app secret
//! (`shopware-shop-signature`: hex HMAC-SHA256 of the raw body):
//! `checkout.order.placed` brings the order (read through the API, since
//! the payload lacks its associations), `state_enter.*` events of the
//! order, its transactions and its deliveries bring status changes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use statusport_plugin_sdk::http::Method;
use statusport_plugin_sdk::webhook::{self, Encoding};
use statusport_plugin_sdk::{AdapterError, Dimension, host, json, time};
use statusport_plugin_sdk_intake::intake::{rfc3339, status_value};
use statusport_plugin_sdk_intake::{
    Batch, Customer, Inbound, IncomingOrder, Money, OrderLine, StatusChange,
};

use crate::Session;

pub const APP_SECRET: &str = "app-secret";
pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
const PAGE_SIZE: usize = 100;

/// How far one stream has been read: the newest time delivered, as
/// Shopware wrote it, and the ids delivered with exactly that time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Mark {
    at: String,
    seen: Vec<String>,
}

/// Where the next pull goes on: `created` for orders Shopware has not
/// changed since they were placed (`updatedAt` null), `updated` for the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    created: Mark,
    updated: Mark,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, AdapterError> {
        serde_json::from_str(text).map_err(|_| {
            AdapterError::Rejected(format!(
                "cursor {text} is not a Shopware intake cursor ({{\"created\":{{\"at\",\"seen\"}},\"updated\":{{\"at\",\"seen\"}}}})"
            ))
        })
    }

    fn first() -> Result<Cursor, AdapterError> {
        let start = first_start()?;
        let mark = Mark {
            at: time::format_rfc3339(start),
            seen: Vec::new(),
        };
        Ok(Cursor {
            created: mark.clone(),
            updated: mark,
        })
    }
}

fn range(field: &str, parameters: Value) -> Value {
    json!({ "type": "range", "field": field, "parameters": parameters })
}

/// `field` after `mark`: later than its time, or at its time and not
/// among the ids already delivered.
fn after(field: &str, mark: &Mark) -> Value {
    if mark.seen.is_empty() {
        return range(field, json!({ "gte": mark.at }));
    }
    json!({
        "type": "multi",
        "operator": "or",
        "queries": [
            range(field, json!({ "gt": mark.at })),
            {
                "type": "multi",
                "operator": "and",
                "queries": [
                    range(field, json!({ "gte": mark.at, "lte": mark.at })),
                    {
                        "type": "not",
                        "operator": "or",
                        "queries": [{ "type": "equalsAny", "field": "id", "value": mark.seen }],
                    },
                ],
            },
        ],
    })
}

/// The associations an incoming order is built from.
fn associations() -> Value {
    json!({
        "lineItems": {},
        "deliveries": { "associations": { "stateMachineState": {} } },
        "transactions": { "associations": { "stateMachineState": {}, "paymentMethod": {} } },
        "orderCustomer": {},
        "billingAddress": {},
        "stateMachineState": {},
        "currency": {},
    })
}

fn criteria(cursor: &Cursor) -> Value {
    json!({
        "page": 1,
        "limit": PAGE_SIZE,
        "filter": [{
            "type": "multi",
            "operator": "or",
            "queries": [
                {
                    "type": "multi",
                    "operator": "and",
                    "queries": [
                        { "type": "equals", "field": "updatedAt", "value": null },
                        after("createdAt", &cursor.created),
                    ],
                },
                after("updatedAt", &cursor.updated),
            ],
        }],
        "sort": [
            { "field": "updatedAt", "order": "ASC" },
            { "field": "createdAt", "order": "ASC" },
            { "field": "id", "order": "ASC" },
        ],
        "associations": associations(),
        "total-count-mode": "next-pages",
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct State {
    technical_name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PaymentMethod {
    technical_name: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Transaction {
    created_at: Option<String>,
    state_machine_state: Option<State>,
    payment_method: Option<PaymentMethod>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Delivery {
    state_machine_state: Option<State>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct OrderCustomer {
    customer_id: Option<String>,
    email: Option<String>,
    first_name: String,
    last_name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Address {
    company: Option<String>,
    street: String,
    additional_address_line1: Option<String>,
    additional_address_line2: Option<String>,
    zipcode: Option<String>,
    city: String,
    phone_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItem {
    id: String,
    #[serde(default)]
    label: String,
    quantity: u32,
    unit_price: Value,
    #[serde(default)]
    position: i64,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    referenced_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Currency {
    iso_code: String,
}

/// An order as the search answers it with [`associations`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SwOrder {
    id: String,
    created_at: String,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    shipping_total: Option<Value>,
    #[serde(default)]
    currency: Option<Currency>,
    #[serde(default)]
    state_machine_state: Option<State>,
    #[serde(default)]
    order_customer: Option<OrderCustomer>,
    #[serde(default)]
    billing_address: Option<Address>,
    #[serde(default)]
    line_items: Option<Vec<LineItem>>,
    #[serde(default)]
    deliveries: Option<Vec<Delivery>>,
    #[serde(default)]
    transactions: Option<Vec<Transaction>>,
}

fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn incoming(order: SwOrder) -> Result<IncomingOrder, AdapterError> {
    let id = order.id.clone();
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => AdapterError::Rejected(format!("Shopware order {id}: {m}")),
        other => other,
    };
    let currency = order
        .currency
        .as_ref()
        .map(|c| c.iso_code.clone())
        .ok_or_else(|| {
            AdapterError::Rejected(format!("Shopware order {id} came without its currency"))
        })?;
    let mut items = order.line_items.unwrap_or_default();
    items.sort_by_key(|l| l.position);
    let lines = items
        .iter()
        .map(|l| {
            let number = l
                .payload
                .as_ref()
                .and_then(|p| p.get("productNumber"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            Ok(OrderLine {
                line_id: l.id.clone(),
                article: number
                    .or_else(|| text(&l.product_id))
                    .or_else(|| text(&l.referenced_id))
                    .unwrap_or_else(|| l.id.clone()),
                name: l.label.clone(),
                quantity: l.quantity,
                unit_price: Money::from_json(&l.unit_price, &currency)?,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()
        .map_err(in_order)?;
    let shipping = order
        .shipping_total
        .as_ref()
        .map(|t| Money::from_json(t, &currency))
        .transpose()
        .map_err(in_order)?;
    let customer = order.order_customer.unwrap_or_default();
    let address = order.billing_address.unwrap_or_default();
    let email = text(&customer.email);
    let town = [text(&address.zipcode), text(&Some(address.city.clone()))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let lines_of_address = [
        text(&address.company),
        text(&Some(address.street.clone())),
        text(&address.additional_address_line1),
        text(&address.additional_address_line2),
        Some(town).filter(|t| !t.is_empty()),
    ]
    .into_iter()
    .flatten()
    .collect();

    let mut statuses = Vec::new();
    if let Some(state) = &order.state_machine_state {
        statuses.push(status_value(Dimension::Order, &state.technical_name));
    }
    let transactions = order.transactions.unwrap_or_default();
    // Shopware's current transaction is the newest.
    let current = transactions
        .iter()
        .max_by(|a, b| a.created_at.cmp(&b.created_at));
    if let Some(state) = current.and_then(|t| t.state_machine_state.as_ref()) {
        statuses.push(status_value(Dimension::Payment, &state.technical_name));
    }
    let deliveries = order.deliveries.unwrap_or_default();
    if let Some(state) = deliveries
        .first()
        .and_then(|d| d.state_machine_state.as_ref())
    {
        statuses.push(status_value(Dimension::Delivery, &state.technical_name));
    }
    let payment_method = current
        .and_then(|t| t.payment_method.as_ref())
        .and_then(|m| text(&m.technical_name).or_else(|| text(&m.name)))
        .unwrap_or_default();

    Ok(IncomingOrder {
        platform_order_id: order.id.clone(),
        customer: Customer {
            id: text(&customer.customer_id)
                .or_else(|| email.clone())
                .unwrap_or_else(|| format!("guest-order-{id}")),
            name: format!(
                "{} {}",
                customer.first_name.trim(),
                customer.last_name.trim()
            )
            .trim()
            .to_owned(),
            email,
            phone: text(&address.phone_number),
            address: lines_of_address,
        },
        lines,
        shipping,
        payment_method,
        statuses,
        created_at: rfc3339(&order.created_at, &format!("order {id}: createdAt"))?,
        updated_at: rfc3339(
            order.updated_at.as_deref().unwrap_or(&order.created_at),
            &format!("order {id}: updatedAt"),
        )?,
    })
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    total: Option<u64>,
    data: Vec<SwOrder>,
}

/// Moves `mark` past the orders of one stream delivered now: `(time, id)`
/// in the order Shopware sorted them.
fn advance(mark: &mut Mark, delivered: &[(&str, &str)]) {
    let Some((last, _)) = delivered.last() else {
        return;
    };
    if *last != mark.at {
        mark.at = (*last).to_owned();
        mark.seen.clear();
    }
    mark.seen.extend(
        delivered
            .iter()
            .filter(|(at, _)| at == last)
            .map(|(_, id)| (*id).to_owned()),
    );
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let mut cursor = match cursor.as_deref() {
        Some(text) => Cursor::parse(text)?,
        None => Cursor::first()?,
    };
    let mut session = Session::open()?;
    let found: Search = session
        .send(Method::Post, "/api/search/order", Some(&criteria(&cursor)))?
        .json()?;
    let more =
        found.total.is_some_and(|t| t > found.data.len() as u64) || found.data.len() >= PAGE_SIZE;
    {
        let created: Vec<(&str, &str)> = found
            .data
            .iter()
            .filter(|o| o.updated_at.is_none())
            .map(|o| (o.created_at.as_str(), o.id.as_str()))
            .collect();
        let updated: Vec<(&str, &str)> = found
            .data
            .iter()
            .filter_map(|o| Some((o.updated_at.as_deref()?, o.id.as_str())))
            .collect();
        advance(&mut cursor.created, &created);
        advance(&mut cursor.updated, &updated);
    }
    let items = found
        .data
        .into_iter()
        .map(|o| incoming(o).map(Inbound::Order))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch {
        items,
        next_cursor: Some(serde_json::to_string(&cursor).expect("a cursor serialises")),
        more,
    })
}

fn read_incoming(session: &mut Session, order_id: &str) -> Result<IncomingOrder, AdapterError> {
    let criteria = json!({ "ids": [order_id], "associations": associations() });
    let found: Search = session
        .send(Method::Post, "/api/search/order", Some(&criteria))?
        .json()?;
    let order = found.data.into_iter().next().ok_or_else(|| {
        AdapterError::Rejected(format!(
            "the webhook names order {order_id}, which Shopware does not have"
        ))
    })?;
    incoming(order)
}

#[derive(Deserialize)]
struct Delivered {
    data: DeliveredData,
    #[serde(default)]
    source: Source,
    #[serde(default)]
    timestamp: Option<i64>,
}

#[derive(Deserialize)]
struct DeliveredData {
    event: String,
    #[serde(default)]
    payload: Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Source {
    event_id: Option<String>,
}

/// The dimension and state a `state_enter` event names:
/// `state_enter.order_transaction.state.paid` is payment `paid`.
fn state_event(event: &str) -> Option<(Dimension, &str)> {
    let rest = event.strip_prefix("state_enter.")?;
    let (machine, state) = rest.split_once(".state.")?;
    let dimension = match machine {
        "order" => Dimension::Order,
        "order_transaction" => Dimension::Payment,
        "order_delivery" => Dimension::Delivery,
        _ => return None,
    };
    (!state.is_empty()).then_some((dimension, state))
}

/// The order a payload is about: its `order` entity, or an `orderId`.
fn payload_order(payload: &Value) -> Option<&Value> {
    let entry = match payload {
        Value::Array(entries) => entries.first()?,
        other => other,
    };
    entry.get("order").filter(|o| o.is_object())
}

fn payload_order_id(payload: &Value) -> Option<String> {
    let entry = match payload {
        Value::Array(entries) => entries.first()?,
        other => other,
    };
    payload_order(payload)
        .and_then(|o| o.get("id"))
        .or_else(|| entry.get("orderId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub fn accept_webhook(
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Vec<Inbound>, AdapterError> {
    let secret = host::require_config(APP_SECRET)?;
    let signature = webhook::header(&headers, "shopware-shop-signature").ok_or_else(|| {
        AdapterError::Auth(
            "the delivery has no shopware-shop-signature header: it does not come from the shop"
                .into(),
        )
    })?;
    if !webhook::verify_hmac_sha256(secret.as_bytes(), &body, signature, Encoding::Hex) {
        return Err(AdapterError::Auth(format!(
            "shopware-shop-signature does not match the body signed with the channel's \"{APP_SECRET}\": \
             check that it equals the app's secret"
        )));
    }
    let delivered: Delivered = serde_json::from_slice(&body).map_err(|e| {
        AdapterError::Rejected(format!(
            "the webhook's body is not a Shopware app webhook ({{\"data\":{{\"payload\",\"event\"}},\"source\",\"timestamp\"}}): {e}"
        ))
    })?;
    let event = delivered.data.event.as_str();
    let placed = event == "checkout.order.placed";
    let change = state_event(event);
    if !placed && change.is_none() {
        return Ok(Vec::new());
    }
    let order_id = payload_order_id(&delivered.data.payload).ok_or_else(|| {
        AdapterError::Rejected(format!("the {event} webhook's payload names no order"))
    })?;
    if placed {
        let mut session = Session::open()?;
        return Ok(vec![Inbound::Order(read_incoming(
            &mut session,
            &order_id,
        )?)]);
    }
    let (dimension, code) = change.expect("a state event");
    let changed_at = match payload_order(&delivered.data.payload)
        .and_then(|o| o.get("updatedAt"))
        .and_then(Value::as_str)
    {
        Some(at) => rfc3339(at, &format!("the {event} webhook's order updatedAt"))?,
        None => time::format_rfc3339(delivered.timestamp.ok_or_else(|| {
            AdapterError::Rejected(format!(
                "the {event} webhook carries neither the order's updatedAt nor a timestamp"
            ))
        })?),
    };
    let change_id = delivered
        .source
        .event_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("{event}:{order_id}:{changed_at}"));
    Ok(vec![Inbound::StatusChange(StatusChange {
        change_id,
        platform_order_id: order_id,
        dimension,
        code: code.to_owned(),
        changed_at,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_events_name_their_dimension_and_state() {
        assert_eq!(
            state_event("state_enter.order_transaction.state.paid"),
            Some((Dimension::Payment, "paid"))
        );
        assert_eq!(
            state_event("state_enter.order_delivery.state.shipped_partially"),
            Some((Dimension::Delivery, "shipped_partially"))
        );
        assert_eq!(
            state_event("state_enter.order.state.cancelled"),
            Some((Dimension::Order, "cancelled"))
        );
        assert_eq!(state_event("state_leave.order.state.open"), None);
        assert_eq!(state_event("state_enter.order.state."), None);
    }

    #[test]
    fn a_mark_keeps_the_ids_of_its_last_time_only() {
        let mut mark = Mark {
            at: "t1".into(),
            seen: vec!["a".into()],
        };
        advance(&mut mark, &[("t1", "b"), ("t2", "c"), ("t2", "d")]);
        assert_eq!(mark.at, "t2");
        assert_eq!(mark.seen, ["c", "d"]);
        advance(&mut mark, &[("t2", "e")]);
        assert_eq!(mark.seen, ["c", "d", "e"]);
        advance(&mut mark, &[]);
        assert_eq!(mark.seen, ["c", "d", "e"]);
    }

    #[test]
    fn the_first_search_filters_by_time_alone() {
        let mark = Mark {
            at: "2026-01-01T00:00:00Z".into(),
            seen: Vec::new(),
        };
        assert_eq!(
            after("updatedAt", &mark),
            json!({ "type": "range", "field": "updatedAt", "parameters": { "gte": "2026-01-01T00:00:00Z" } })
        );
    }
}
