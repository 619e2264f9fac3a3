//! Orders coming in from Allegro (contract 1.1), by polling its order event
//! log.
//!
//! `pull` reads `GET /order/events` after the cursor (`from`, exclusive),
//! [`PAGE_SIZE`] events at a time, filtered to the event types of the
//! checkout and fulfillment (bought, filled in, ready for processing,
//! cancelled by the buyer or by Allegro, modified by the buyer, fulfillment
//! status changed). Each order an event names is then read whole with
//! `GET /order/checkout-forms/{id}`, once per page, and handed in as it
//! stands now — so an event about an order the host knows brings the order
//! again with its statuses of now. The cursor is the id of the last event
//! read: the host stores it in the same write as the orders, so a pull
//! repeated after a crash reads the same page again. `more` is set while a
//! full page came.
//!
//! The first pull (no cursor) reads the log from its start — Allegro keeps
//! the events of the last 60 days — and skips events older than
//! `intake-since` (30 days back when unset), without reading their orders.
//!
//! Allegro does not sign or send webhooks for orders: `accept-webhook`
//! answers `unsupported`.

use serde::Deserialize;
use serde_json::Value;
use statusport_plugin_sdk::http::Method;
use statusport_plugin_sdk::{AdapterError, Dimension, host, time};
use statusport_plugin_sdk_intake::intake::{rfc3339, status_value};
use statusport_plugin_sdk_intake::{Batch, Customer, Inbound, IncomingOrder, Money, OrderLine};

use crate::api::{Api, BuyerAddress, DeliveryAddress, Form};

pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
/// Events per page. Each names an order that is then read on its own, and
/// one pull must finish within the host's deadline (10 s by default).
pub const PAGE_SIZE: usize = 25;
/// The event types that change what the host knows of an order: every type
/// of Allegro's `OrderEventType`.
pub const EVENT_TYPES: &[&str] = &[
    "BOUGHT",
    "FILLED_IN",
    "READY_FOR_PROCESSING",
    "BUYER_CANCELLED",
    "AUTO_CANCELLED",
    "BUYER_MODIFIED",
    "FULFILLMENT_STATUS_CHANGED",
];

#[derive(Deserialize)]
struct EventList {
    events: Vec<Event>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FormRef {
    id: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct EventOrder {
    checkout_form: Option<FormRef>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: String,
    occurred_at: String,
    #[serde(default)]
    order: EventOrder,
}

/// One order to read, with the time of its newest event on the page.
#[derive(Debug, PartialEq)]
struct Named {
    form: String,
    at: String,
}

/// What a page of events asks for: the orders to read (each once, in the
/// order first named) and the cursor past the page.
#[derive(Debug, PartialEq)]
struct Plan {
    orders: Vec<Named>,
    next_cursor: Option<String>,
    /// Events named no order, with their ids: logged, never fatal.
    without_order: Vec<String>,
}

/// Plans a page: `since` (seconds since the epoch) skips older events, as
/// the first pull does. The cursor moves past skipped events too.
fn plan(events: &[Event], since: Option<i64>) -> Plan {
    let mut orders: Vec<Named> = Vec::new();
    let mut without_order = Vec::new();
    for event in events {
        let old =
            since.is_some_and(|since| time::parse(&event.occurred_at).is_some_and(|at| at < since));
        if old {
            continue;
        }
        let Some(form) = event.order.checkout_form.as_ref().map(|f| f.id.as_str()) else {
            without_order.push(event.id.clone());
            continue;
        };
        match orders.iter_mut().find(|n| n.form == form) {
            Some(named) => named.at = event.occurred_at.clone(),
            None => orders.push(Named {
                form: form.to_owned(),
                at: event.occurred_at.clone(),
            }),
        }
    }
    Plan {
        orders,
        next_cursor: events.last().map(|e| e.id.clone()),
        without_order,
    }
}

/// The cursor as the host hands it back: the id of the last event read.
fn parse_cursor(cursor: Option<&str>) -> Result<Option<&str>, AdapterError> {
    match cursor.map(str::trim) {
        None => Ok(None),
        Some(id) if !id.is_empty() && !id.contains(char::is_whitespace) => Ok(Some(id)),
        Some(other) => Err(AdapterError::Rejected(format!(
            "cursor \"{other}\" is not an Allegro order event id (such as 1532603898317497)"
        ))),
    }
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let from = parse_cursor(cursor.as_deref())?;
    let since = match from {
        Some(_) => None,
        None => Some(first_start()?),
    };
    let api = Api::open()?;
    let limit = PAGE_SIZE.to_string();
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(from) = from {
        query.push(("from", from));
    }
    query.extend(EVENT_TYPES.iter().map(|t| ("type", *t)));
    query.push(("limit", &limit));
    let page: EventList = api
        .send_ok(Method::Get, "/order/events", &query, None)?
        .json()?;
    let plan = plan(&page.events, since);
    for id in &plan.without_order {
        host::log(
            host::LogLevel::Warn,
            &format!("Allegro order event {id} names no checkout form; nothing to read for it"),
        );
    }
    let mut items = Vec::with_capacity(plan.orders.len());
    for named in &plan.orders {
        let form = api.checkout_form(&named.form)?;
        items.push(Inbound::Order(incoming(form, &named.at)?));
    }
    Ok(Batch {
        items,
        // An empty log leaves the cursor where it was.
        next_cursor: plan.next_cursor.or(cursor),
        more: page.events.len() >= PAGE_SIZE,
    })
}

pub fn accept_webhook(
    _headers: Vec<(String, String)>,
    _body: Vec<u8>,
) -> Result<Vec<Inbound>, AdapterError> {
    Err(AdapterError::Unsupported(
        "Allegro sends no webhooks for orders: its orders and their changes come in by polling \
         the order event log (GET /order/events); give the channel a poll interval instead"
            .into(),
    ))
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `payment.type` as the host's rules name payment methods.
pub fn payment_method(kind: Option<&str>) -> String {
    match kind {
        Some("CASH_ON_DELIVERY") => "cash_on_delivery".into(),
        Some("WIRE_TRANSFER") => "bank_transfer".into(),
        Some(other) => other.to_ascii_lowercase(),
        None => String::new(),
    }
}

fn town(zip: Option<&str>, city: Option<&str>) -> Option<String> {
    let joined = [text(zip), text(city)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

fn delivery_lines(a: &DeliveryAddress) -> Vec<String> {
    [
        text(a.company_name.as_deref()),
        text(a.street.as_deref()),
        town(a.zip_code.as_deref(), a.city.as_deref()),
        text(a.country_code.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn buyer_lines(a: &BuyerAddress) -> Vec<String> {
    [
        text(a.street.as_deref()),
        town(a.post_code.as_deref(), a.city.as_deref()),
        text(a.country_code.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn quantity(value: &Value) -> Option<u32> {
    value
        .as_u64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|q| q.fract() == 0.0 && *q >= 0.0)
                .map(|q| q as u64)
        })
        .and_then(|q| u32::try_from(q).ok())
}

/// A checkout form as the host takes an order in; `event_at` is the time of
/// the newest event about it, for a form that carries no `updatedAt`.
fn incoming(form: Form, event_at: &str) -> Result<IncomingOrder, AdapterError> {
    let id = form.id.clone();
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => AdapterError::Rejected(format!("Allegro order {id}: {m}")),
        other => other,
    };
    let lines = form
        .line_items
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let quantity = quantity(&l.quantity).ok_or_else(|| {
                AdapterError::Rejected(format!(
                    "lineItems[{i}].quantity {} is not a whole number of items",
                    l.quantity
                ))
            })?;
            Ok(OrderLine {
                line_id: l.id.clone(),
                article: text(l.offer.external.as_ref().and_then(|e| e.id.as_deref()))
                    .unwrap_or_else(|| l.offer.id.clone()),
                name: l.offer.name.clone(),
                quantity,
                unit_price: Money::parse(&l.price.amount, &l.price.currency)?,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()
        .map_err(in_order)?;
    let delivery = form.delivery.clone().unwrap_or_default();
    let shipping = delivery
        .cost
        .as_ref()
        .map(|c| Money::parse(&c.amount, &c.currency))
        .transpose()
        .map_err(in_order)?;
    let buyer = &form.buyer;
    let person = [
        text(buyer.first_name.as_deref()),
        text(buyer.last_name.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let name = text(Some(&person))
        .or_else(|| text(buyer.company_name.as_deref()))
        .or_else(|| text(buyer.login.as_deref()))
        .unwrap_or_default();
    let email = text(buyer.email.as_deref());
    let phone = text(buyer.phone_number.as_deref()).or_else(|| {
        text(
            delivery
                .address
                .as_ref()
                .and_then(|a| a.phone_number.as_deref()),
        )
    });
    let mut address = match (&delivery.address, &buyer.address) {
        (Some(a), _) => delivery_lines(a),
        (None, Some(a)) => buyer_lines(a),
        (None, None) => Vec::new(),
    };
    if let Some(point) = &delivery.pickup_point {
        let label = [text(point.name.as_deref()), text(point.id.as_deref())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !label.is_empty() {
            address.push(format!("pickup point: {label}"));
        }
    }
    let mut statuses = vec![status_value(Dimension::Payment, &form.status)];
    if let Some(fulfillment) = form.fulfillment_status() {
        statuses.insert(0, status_value(Dimension::Order, fulfillment));
    }
    let updated = form.updated_at.as_deref().unwrap_or(event_at);
    let created = form
        .line_items
        .iter()
        .filter_map(|l| l.bought_at.as_deref())
        .filter_map(|at| time::parse(at).map(|secs| (secs, at)))
        .min()
        .map(|(_, at)| at)
        .unwrap_or(updated);
    Ok(IncomingOrder {
        platform_order_id: form.id.clone(),
        customer: Customer {
            id: text(Some(&buyer.id))
                .or_else(|| email.clone())
                .unwrap_or_else(|| format!("guest-order-{id}")),
            name,
            email,
            phone,
            address,
        },
        lines,
        shipping,
        payment_method: payment_method(form.payment.as_ref().and_then(|p| p.kind.as_deref())),
        statuses,
        created_at: rfc3339(
            created,
            &format!("Allegro order {id}: lineItems[].boughtAt"),
        )?,
        updated_at: rfc3339(updated, &format!("Allegro order {id}: updatedAt"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, at: &str, form: Option<&str>) -> Event {
        Event {
            id: id.into(),
            occurred_at: at.into(),
            order: EventOrder {
                checkout_form: form.map(|id| FormRef { id: id.into() }),
            },
        }
    }

    #[test]
    fn a_page_names_each_order_once_with_its_newest_event_time() {
        let events = [
            event("11", "2026-03-01T10:00:00.000Z", Some("a")),
            event("12", "2026-03-01T10:01:00.000Z", Some("b")),
            event("13", "2026-03-01T10:02:00.000Z", Some("a")),
            event("14", "2026-03-01T10:03:00.000Z", None),
        ];
        assert_eq!(
            plan(&events, None),
            Plan {
                orders: vec![
                    Named {
                        form: "a".into(),
                        at: "2026-03-01T10:02:00.000Z".into()
                    },
                    Named {
                        form: "b".into(),
                        at: "2026-03-01T10:01:00.000Z".into()
                    },
                ],
                next_cursor: Some("14".into()),
                without_order: vec!["14".into()],
            }
        );
    }

    #[test]
    fn the_first_pull_skips_old_events_but_moves_past_them() {
        let since = time::parse("2026-03-01T00:00:00Z");
        let events = [
            event("1", "2026-02-01T10:00:00.000Z", Some("old")),
            event("2", "2026-03-02T10:00:00.000Z", Some("new")),
        ];
        let planned = plan(&events, since);
        assert_eq!(
            planned.orders,
            [Named {
                form: "new".into(),
                at: "2026-03-02T10:00:00.000Z".into()
            }]
        );
        assert_eq!(planned.next_cursor.as_deref(), Some("2"));
        let only_old = plan(&events[..1], since);
        assert!(only_old.orders.is_empty());
        assert_eq!(only_old.next_cursor.as_deref(), Some("1"));
        assert_eq!(plan(&[], since).next_cursor, None);
    }

    #[test]
    fn a_cursor_is_an_event_id() {
        assert_eq!(parse_cursor(None).unwrap(), None);
        assert_eq!(
            parse_cursor(Some("1532603898317497")).unwrap(),
            Some("1532603898317497")
        );
        match parse_cursor(Some("12 34")) {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "cursor \"12 34\" is not an Allegro order event id (such as 1532603898317497)"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert!(parse_cursor(Some("")).is_err());
    }

    #[test]
    fn payment_types_take_the_names_of_the_shipped_rule_sets() {
        assert_eq!(payment_method(Some("CASH_ON_DELIVERY")), "cash_on_delivery");
        assert_eq!(payment_method(Some("WIRE_TRANSFER")), "bank_transfer");
        assert_eq!(payment_method(Some("ONLINE")), "online");
        assert_eq!(payment_method(None), "");
    }

    fn form(value: Value) -> Form {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_checkout_form_becomes_an_incoming_order() {
        let order = incoming(
            form(json!({
                "id": "29738e61-7f6a-11e8-ac45-09db60ede9d6",
                "status": "READY_FOR_PROCESSING",
                "buyer": {
                    "id": "23123123", "email": "pf7nafq6ho+1a8d3ef1b@allegromail.pl",
                    "login": "User_1", "firstName": "Jan", "lastName": "Kowalski",
                    "guest": false, "phoneNumber": "123123123"
                },
                "payment": {"id": "0f8f1d13-7e9e-11e8-9b00-c5b0dfb78ea6", "type": "CASH_ON_DELIVERY"},
                "fulfillment": {"status": "PROCESSING"},
                "delivery": {
                    "address": {
                        "firstName": "Jan", "lastName": "Kowalski", "companyName": "Firma",
                        "street": "Grunwaldzka 182", "city": "Poznań", "zipCode": "60-166",
                        "countryCode": "PL"
                    },
                    "pickupPoint": {"id": "POZ08A", "name": "Paczkomat POZ08A"},
                    "cost": {"amount": "12.99", "currency": "PLN"}
                },
                "lineItems": [{
                    "id": "62ae358b-8f65-4fc4-9c77-bedf604a2e2b",
                    "offer": {"id": "1234567890", "name": "Czajnik", "external": {"id": "TEA-100"}},
                    "quantity": 2,
                    "originalPrice": {"amount": "129.90", "currency": "PLN"},
                    "price": {"amount": "119.90", "currency": "PLN"},
                    "boughtAt": "2026-03-01T09:58:12.123Z"
                }, {
                    "id": "72ae358b-8f65-4fc4-9c77-bedf604a2e2b",
                    "offer": {"id": "555", "name": "Filtr"},
                    "quantity": 1.0,
                    "originalPrice": {"amount": "5", "currency": "PLN"},
                    "price": {"amount": "5", "currency": "PLN"},
                    "boughtAt": "2026-03-01T09:57:00.000Z"
                }],
                "surcharges": [],
                "summary": {"totalToPay": {"amount": "257.69", "currency": "PLN"}},
                "updatedAt": "2026-03-01T10:15:00.000Z"
            })),
            "2026-03-01T10:20:00.000Z",
        )
        .unwrap();
        assert_eq!(
            order.platform_order_id,
            "29738e61-7f6a-11e8-ac45-09db60ede9d6"
        );
        assert_eq!(order.customer.id, "23123123");
        assert_eq!(order.customer.name, "Jan Kowalski");
        assert_eq!(order.customer.phone.as_deref(), Some("123123123"));
        assert_eq!(
            order.customer.address,
            [
                "Firma",
                "Grunwaldzka 182",
                "60-166 Poznań",
                "PL",
                "pickup point: Paczkomat POZ08A POZ08A"
            ]
        );
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].article, "TEA-100");
        assert_eq!(order.lines[0].quantity, 2);
        assert_eq!(order.lines[0].unit_price.minor, 11_990);
        assert_eq!(order.lines[0].unit_price.currency, "PLN");
        assert_eq!(order.lines[1].article, "555", "no signature: the offer id");
        assert_eq!(order.lines[1].quantity, 1);
        assert_eq!(order.shipping.as_ref().map(|m| m.minor), Some(1299));
        assert_eq!(order.payment_method, "cash_on_delivery");
        let statuses: Vec<(Dimension, &str)> = order
            .statuses
            .iter()
            .map(|s| (s.dimension, s.code.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [
                (Dimension::Order, "PROCESSING"),
                (Dimension::Payment, "READY_FOR_PROCESSING")
            ]
        );
        assert_eq!(
            order.created_at, "2026-03-01T09:57:00Z",
            "the earliest purchase"
        );
        assert_eq!(order.updated_at, "2026-03-01T10:15:00Z");
    }

    #[test]
    fn a_bare_form_takes_its_times_from_the_event_and_its_customer_from_the_login() {
        let order = incoming(
            form(json!({
                "id": "f1", "status": "BOUGHT",
                "buyer": {"id": "", "email": "", "login": "kupujacy", "guest": true,
                          "address": {"street": "Długa 1", "postCode": "00-001", "city": "Warszawa"}},
                "lineItems": [], "surcharges": [],
                "summary": {"totalToPay": {"amount": "0", "currency": "PLN"}}
            })),
            "2026-03-01T10:20:00.500Z",
        )
        .unwrap();
        assert_eq!(order.customer.id, "guest-order-f1");
        assert_eq!(order.customer.name, "kupujacy");
        assert_eq!(order.customer.email, None);
        assert_eq!(order.customer.address, ["Długa 1", "00-001 Warszawa"]);
        assert_eq!(order.statuses.len(), 1, "no fulfillment status given");
        assert_eq!(order.created_at, "2026-03-01T10:20:00Z");
        assert_eq!(order.updated_at, "2026-03-01T10:20:00Z");
        assert_eq!(order.payment_method, "");
    }

    #[test]
    fn a_fractional_quantity_is_refused_naming_the_order_and_the_field() {
        let refused = incoming(
            form(json!({
                "id": "f2", "status": "BOUGHT", "buyer": {"id": "1"},
                "lineItems": [{
                    "id": "l1", "offer": {"id": "o", "name": "n"}, "quantity": 1.5,
                    "price": {"amount": "1", "currency": "PLN"}
                }]
            })),
            "2026-03-01T10:20:00Z",
        );
        match refused {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "Allegro order f2: lineItems[0].quantity 1.5 is not a whole number of items"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
