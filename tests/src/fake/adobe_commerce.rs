//! A fake Adobe Commerce / Magento Open Source 2.4 admin REST API, below
//! `/rest/<store view>/V1`: an integration's bearer token; orders by id and
//! listed with `searchCriteria` (filter groups joined by AND, filters in a
//! group by OR, `eq`/`neq`/`gt`/`gteq`/`lt`/`lteq`/`in`/`nin`, several sort
//! orders, `pageSize`/`currentPage` — a page past the last answers the
//! last page, as Magento does); status comments, hold, unhold and cancel
//! with Magento's rules (`canHold`, `canUnhold`, `canCancel`, which answers
//! `false` rather than an error); shipments with their tracks
//! (`POST /V1/order/{id}/ship`, `GET /V1/shipments`,
//! `POST /V1/shipment/track`) and the state Magento moves an order to when
//! it ships. Errors have Magento's shape, `{"message": …}`.
//!
//! Every exchange is checked against Adobe's published description
//! (`shared/specs/adobe-commerce-admin-rest-2.4.9-swagger2.yaml`). Where
//! the description and Magento differ, the fake follows the description:
//! it writes error messages with their placeholders filled and no
//! `parameters` (Magento sends an object by name or a list of strings,
//! the description a list of objects), and `""`/`0` where Magento writes
//! `null` for a required field (a payment's `account_status` and
//! `cc_last4`, a track's `weight`, `qty` and `description`).

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Value, json};
use statusport_tests::fake::{Common, Platform, Recorded, json as answer, segments, shared_spec};

/// The access token the fake's integration has.
pub const TOKEN: &str = "magento-integration-token";
/// Adobe's published description of the admin REST API.
pub const SPEC: &str = "adobe-commerce-admin-rest-2.4.9-swagger2.yaml";

/// `2026-01-01 10:00:00` UTC, when [`Magento::new`]'s orders were placed.
const PLACED: i64 = 1_767_261_600;

#[derive(Clone, Debug)]
pub struct Item {
    pub item_id: u64,
    pub sku: String,
    pub name: String,
    pub qty_ordered: u32,
    pub qty_shipped: u32,
    pub qty_invoiced: u32,
    /// Minor units of the order's currency.
    pub price: i64,
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub entity_id: u64,
    pub comment: String,
    pub status: Option<String>,
    pub is_customer_notified: i64,
    pub is_visible_on_front: i64,
    pub created: i64,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub entity_id: u64,
    pub increment_id: String,
    pub state: String,
    pub status: String,
    pub hold_before_state: Option<String>,
    pub hold_before_status: Option<String>,
    /// Seconds since the epoch (UTC); Magento keeps whole seconds.
    pub created: i64,
    pub updated: i64,
    /// None for a guest checkout.
    pub customer_id: Option<u64>,
    pub firstname: String,
    pub lastname: String,
    pub email: String,
    pub currency: String,
    /// Minor units.
    pub shipping: i64,
    pub payment_method: String,
    pub street: Vec<String>,
    pub postcode: String,
    pub city: String,
    pub country: String,
    pub telephone: String,
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

impl Order {
    fn invoiced_in_full(&self) -> bool {
        self.items.iter().all(|i| i.qty_invoiced >= i.qty_ordered)
    }

    fn shipped_in_full(&self) -> bool {
        self.items.iter().all(|i| i.qty_shipped >= i.qty_ordered)
    }

    /// Magento's `canHold`.
    fn can_hold(&self) -> bool {
        !["canceled", "payment_review", "complete", "closed", "holded"]
            .contains(&self.state.as_str())
    }

    /// Magento's `canCancel`.
    fn can_cancel(&self) -> bool {
        !["canceled", "holded", "payment_review", "complete", "closed"]
            .contains(&self.state.as_str())
            && !self.invoiced_in_full()
    }

    /// Magento's `Handler\State::check` after an invoice or a shipment:
    /// an order invoiced and shipped in full is complete, one started on
    /// is processing.
    fn settle_state(&mut self) {
        if ["canceled", "closed", "holded", "payment_review"].contains(&self.state.as_str()) {
            return;
        }
        let (state, status) = if self.invoiced_in_full() && self.shipped_in_full() {
            ("complete", "complete")
        } else if self.state == "new" || self.state == "pending_payment" {
            ("processing", "processing")
        } else {
            return;
        };
        self.state = state.into();
        self.status = status.into();
    }
}

#[derive(Clone, Debug)]
pub struct Track {
    pub entity_id: u64,
    pub parent_id: u64,
    pub order_id: u64,
    pub track_number: String,
    pub title: String,
    pub carrier_code: String,
    pub description: String,
    pub created: i64,
}

#[derive(Clone, Debug)]
pub struct Shipment {
    pub entity_id: u64,
    pub order_id: u64,
    pub increment_id: String,
    /// `(order item id, quantity)`.
    pub items: Vec<(u64, u32)>,
    pub tracks: Vec<Track>,
    /// Whether Magento was asked to email the customer.
    pub notify: bool,
    pub created: i64,
}

/// What [`Magento::lose_next_answer`] applies and then answers 503 to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Comment,
    Hold,
    Unhold,
    Cancel,
    Ship,
    Track,
}

pub struct Magento {
    common: Common,
    pub token: String,
    /// The integration's token was revoked (reauthorised) in the admin.
    pub revoked: bool,
    pub orders: BTreeMap<u64, Order>,
    pub shipments: Vec<Shipment>,
    next_item: u64,
    next_entity: u64,
    lose: Option<Write>,
}

/// A time as Magento writes it: `2026-01-01 10:00:00` (UTC).
pub fn time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("a time in range")
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Seconds since the epoch of a time as Magento takes it in a filter
/// (`2026-01-01 10:00:00`, or RFC 3339).
fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at.as_second());
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    Some(
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second(),
    )
}

fn price(minor: i64) -> f64 {
    minor as f64 / 100.0
}

fn error(status: u16, message: &str) -> Response {
    answer(status, json!({ "message": message }))
}

fn no_such_entity() -> Response {
    error(
        404,
        "The entity that was requested doesn't exist. Verify the entity and try again.",
    )
}

impl Magento {
    fn empty() -> Magento {
        Magento {
            common: Common::default(),
            token: TOKEN.into(),
            revoked: false,
            orders: BTreeMap::new(),
            shipments: Vec::new(),
            next_item: 1,
            next_entity: 1,
            lose: None,
        }
    }

    fn item_id(&mut self) -> u64 {
        let id = self.next_item;
        self.next_item += 1;
        id
    }

    fn entity(&mut self) -> u64 {
        let id = self.next_entity;
        self.next_entity += 1;
        id
    }

    fn plain(&mut self, entity_id: u64, created: i64) -> Order {
        Order {
            entity_id,
            increment_id: format!("{:09}", entity_id),
            state: "new".into(),
            status: "pending".into(),
            hold_before_state: None,
            hold_before_status: None,
            created,
            updated: created,
            customer_id: Some(1),
            firstname: "Veronica".into(),
            lastname: "Costello".into(),
            email: "roni_cost@example.com".into(),
            currency: "USD".into(),
            shipping: 500,
            payment_method: "checkmo".into(),
            street: vec!["6146 Honey Bluff Parkway".into()],
            postcode: "49628-7978".into(),
            city: "Calder".into(),
            country: "US".into(),
            telephone: "(555) 229-3326".into(),
            items: Vec::new(),
            comments: Vec::new(),
        }
    }

    /// A shop with orders `ids` (entity ids), pending, placed on
    /// 2026-01-01, each with two lines: one teapot and two cups. Item ids
    /// count from 1 across the orders, so the first order's teapot is item 1.
    pub fn new(ids: &[&str]) -> Magento {
        let mut shop = Magento::empty();
        for id in ids {
            let entity_id: u64 = id.parse().expect("Magento order ids are numbers");
            let mut order = shop.plain(entity_id, PLACED);
            order.items = vec![
                Item {
                    item_id: shop.item_id(),
                    sku: "TEA-100".into(),
                    name: "Teapot".into(),
                    qty_ordered: 1,
                    qty_shipped: 0,
                    qty_invoiced: 0,
                    price: 4900,
                },
                Item {
                    item_id: shop.item_id(),
                    sku: "CUP-200".into(),
                    name: "Cup".into(),
                    qty_ordered: 2,
                    qty_shipped: 0,
                    qty_invoiced: 0,
                    price: 1250,
                },
            ];
            shop.orders.insert(entity_id, order);
        }
        shop
    }

    /// A shop with `n` orders, entity ids 1 to `n`, placed one a minute up
    /// to an hour ago; every third has changed once since (its
    /// `updated_at` later than its `created_at`); every fourth is invoiced
    /// (processing); every fifth is a guest's. Each has one to three lines.
    pub fn seeded(n: usize) -> Magento {
        let mut shop = Magento::empty();
        let start = jiff::Timestamp::now().as_second() - 3_600 - 60 * n as i64;
        for i in 1..=n as u64 {
            let created = start + 60 * i as i64;
            let mut order = shop.plain(i, created);
            if i % 3 == 0 {
                order.updated = created + 30;
            }
            if i % 5 == 0 {
                order.customer_id = None;
            } else {
                order.customer_id = Some(100 + i % 37);
            }
            order.firstname = format!("Given{i}");
            order.lastname = format!("Family{}", i % 37);
            order.email = format!("customer{i}@example.com");
            order.currency = if i % 2 == 0 { "EUR" } else { "USD" }.into();
            for k in 0..1 + i % 3 {
                let item_id = shop.item_id();
                order.items.push(Item {
                    item_id,
                    sku: format!("MB-{}", 100 + k),
                    name: format!("Article {}", 100 + k),
                    qty_ordered: 1 + (i % 4) as u32,
                    qty_shipped: 0,
                    qty_invoiced: 0,
                    price: 1990 + 100 * k as i64,
                });
            }
            if i % 4 == 0 {
                for item in &mut order.items {
                    item.qty_invoiced = item.qty_ordered;
                }
                order.state = "processing".into();
                order.status = "processing".into();
            }
            shop.orders.insert(i, order);
        }
        shop
    }

    pub fn order(&self, id: u64) -> &Order {
        self.orders
            .get(&id)
            .unwrap_or_else(|| panic!("the fake Adobe Commerce has no order {id}"))
    }

    /// The order's shipments.
    pub fn shipments_of(&self, id: u64) -> Vec<&Shipment> {
        self.shipments.iter().filter(|s| s.order_id == id).collect()
    }

    /// The tracking numbers on the order's shipments.
    pub fn track_numbers(&self, id: u64) -> Vec<String> {
        self.shipments_of(id)
            .iter()
            .flat_map(|s| s.tracks.iter().map(|t| t.track_number.clone()))
            .collect()
    }

    /// A time after every order's `updated_at`, and not before now: a
    /// change made now gets it.
    fn next_change(&self) -> i64 {
        let latest = self.orders.values().map(|o| o.updated).max().unwrap_or(0);
        jiff::Timestamp::now().as_second().max(latest + 1)
    }

    fn change(&mut self, id: u64, change: impl FnOnce(&mut Order)) {
        let at = self.next_change();
        let order = self
            .orders
            .get_mut(&id)
            .unwrap_or_else(|| panic!("the fake Adobe Commerce has no order {id}"));
        change(order);
        order.updated = at;
    }

    /// An administrator cancels the order in the admin.
    pub fn cancel(&mut self, id: u64) {
        self.change(id, |o| {
            o.state = "canceled".into();
            o.status = "canceled".into();
        })
    }

    /// The order is invoiced in full (its payment captured).
    pub fn invoice(&mut self, id: u64) {
        self.change(id, |o| {
            for item in &mut o.items {
                item.qty_invoiced = item.qty_ordered;
            }
            o.settle_state();
        })
    }

    /// The order's state and status are set as a payment module or an
    /// administrator would (`("payment_review", "fraud")`).
    pub fn set(&mut self, id: u64, state: &str, status: &str) {
        self.change(id, |o| {
            o.state = state.into();
            o.status = status.into();
        })
    }

    /// The next request that makes `write` is applied, and then answered
    /// 503 as if the answer was lost on the way.
    pub fn lose_next_answer(&mut self, write: Write) {
        self.lose = Some(write);
    }

    fn order_json(&self, o: &Order) -> Value {
        let subtotal: i64 = o
            .items
            .iter()
            .map(|i| i.price * i64::from(i.qty_ordered))
            .sum();
        let total = price(subtotal + o.shipping);
        let address = |kind: &str, id: u64| {
            json!({
                "address_type": kind,
                "entity_id": id,
                "parent_id": o.entity_id,
                "firstname": o.firstname,
                "lastname": o.lastname,
                "email": o.email,
                "street": o.street,
                "city": o.city,
                "postcode": o.postcode,
                "region": "Michigan",
                "region_code": "MI",
                "country_id": o.country,
                "telephone": o.telephone,
            })
        };
        let items: Vec<Value> = o
            .items
            .iter()
            .map(|i| {
                json!({
                    "item_id": i.item_id,
                    "order_id": o.entity_id,
                    "sku": i.sku,
                    "name": i.name,
                    "product_id": 1000 + i.item_id,
                    "product_type": "simple",
                    "is_virtual": 0,
                    "qty_ordered": i.qty_ordered,
                    "qty_shipped": i.qty_shipped,
                    "qty_invoiced": i.qty_invoiced,
                    "qty_canceled": if o.state == "canceled" { i.qty_ordered - i.qty_shipped } else { 0 },
                    "qty_refunded": 0,
                    "price": price(i.price),
                    "base_price": price(i.price),
                    "row_total": price(i.price * i64::from(i.qty_ordered)),
                    "created_at": time(o.created),
                    "updated_at": time(o.updated),
                })
            })
            .collect();
        let mut v = json!({
            "entity_id": o.entity_id,
            "increment_id": o.increment_id,
            "state": o.state,
            "status": o.status,
            "created_at": time(o.created),
            "updated_at": time(o.updated),
            "store_id": 1,
            "customer_email": o.email,
            "customer_firstname": o.firstname,
            "customer_lastname": o.lastname,
            "customer_is_guest": i32::from(o.customer_id.is_none()),
            "customer_group_id": i32::from(o.customer_id.is_some()),
            "base_currency_code": o.currency,
            "order_currency_code": o.currency,
            "global_currency_code": o.currency,
            "store_currency_code": o.currency,
            "subtotal": price(subtotal),
            "base_subtotal": price(subtotal),
            "shipping_amount": price(o.shipping),
            "base_shipping_amount": price(o.shipping),
            "shipping_description": "Flat Rate - Fixed",
            "grand_total": total,
            "base_grand_total": total,
            "total_qty_ordered": o.items.iter().map(|i| i.qty_ordered).sum::<u32>(),
            "total_item_count": o.items.len(),
            "items": items,
            "billing_address": address("billing", o.entity_id * 2),
            "payment": {
                "entity_id": o.entity_id,
                "parent_id": o.entity_id,
                "method": o.payment_method,
                "account_status": "",
                "additional_information": ["Check / Money order"],
                "cc_last4": "",
                "amount_ordered": total,
            },
            "status_histories": o.comments.iter().rev().map(|c| json!({
                "entity_id": c.entity_id,
                "parent_id": o.entity_id,
                "entity_name": "order",
                "comment": c.comment,
                "status": c.status.clone().unwrap_or_else(|| o.status.clone()),
                "is_customer_notified": c.is_customer_notified,
                "is_visible_on_front": c.is_visible_on_front,
                "created_at": time(c.created),
            })).collect::<Vec<_>>(),
            "extension_attributes": {
                "shipping_assignments": [{
                    "shipping": {
                        "address": address("shipping", o.entity_id * 2 + 1),
                        "method": "flatrate_flatrate",
                    },
                    "items": items,
                }],
            },
        });
        if let Some(customer) = o.customer_id {
            v["customer_id"] = json!(customer);
        }
        if let (Some(state), Some(status)) = (&o.hold_before_state, &o.hold_before_status) {
            v["hold_before_state"] = json!(state);
            v["hold_before_status"] = json!(status);
        }
        v
    }

    fn shipment_json(&self, s: &Shipment) -> Value {
        let order = &self.orders[&s.order_id];
        json!({
            "entity_id": s.entity_id,
            "order_id": s.order_id,
            "increment_id": s.increment_id,
            "store_id": 1,
            "email_sent": i32::from(s.notify),
            "total_qty": s.items.iter().map(|(_, q)| q).sum::<u32>(),
            "created_at": time(s.created),
            "updated_at": time(s.created),
            "items": s.items.iter().map(|(item_id, qty)| {
                let item = order.items.iter().find(|i| i.item_id == *item_id);
                json!({
                    "entity_id": s.entity_id * 100 + item_id,
                    "parent_id": s.entity_id,
                    "order_item_id": item_id,
                    "qty": qty,
                    "sku": item.map(|i| i.sku.clone()).unwrap_or_default(),
                    "name": item.map(|i| i.name.clone()).unwrap_or_default(),
                    "price": item.map(|i| price(i.price)).unwrap_or_default(),
                })
            }).collect::<Vec<_>>(),
            "tracks": s.tracks.iter().map(track_json).collect::<Vec<_>>(),
            "comments": [],
            "packages": [],
        })
    }

    /// `GET /V1/orders` and `GET /V1/shipments`.
    fn search(&self, request: &Recorded, of: Of) -> Response {
        let criteria = match Criteria::parse(request.query.as_deref().unwrap_or_default()) {
            Ok(c) => c,
            Err(e) => return error(400, &e),
        };
        let rows: Vec<(u64, Row)> = match of {
            Of::Orders => self
                .orders
                .values()
                .map(|o| (o.entity_id, Row::Order(o)))
                .collect(),
            Of::Shipments => self
                .shipments
                .iter()
                .map(|s| (s.entity_id, Row::Shipment(s)))
                .collect(),
        };
        let mut found = Vec::new();
        for (id, row) in rows {
            match criteria.matches(&row) {
                Ok(true) => found.push((id, row)),
                Ok(false) => {}
                Err(e) => return error(400, &e),
            }
        }
        for sort in &criteria.sorts {
            if let Some((_, row)) = found.first()
                && let Err(e) = row.field(&sort.field)
            {
                return error(400, &e);
            }
        }
        found.sort_by(|(a_id, a), (b_id, b)| {
            for sort in &criteria.sorts {
                let (x, y) = (a.field(&sort.field).unwrap(), b.field(&sort.field).unwrap());
                let ordering = if sort.direction.eq_ignore_ascii_case("DESC") {
                    y.cmp(&x)
                } else {
                    x.cmp(&y)
                };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            a_id.cmp(b_id)
        });
        let total = found.len();
        let page: Vec<&Row> = match criteria.page_size {
            Some(size) if size > 0 => {
                let last = total.div_ceil(size).max(1);
                // Magento answers a page past the last with the last page.
                let current = criteria.current_page.unwrap_or(1).clamp(1, last);
                found
                    .iter()
                    .skip((current - 1) * size)
                    .take(size)
                    .map(|(_, r)| r)
                    .collect()
            }
            _ => found.iter().map(|(_, r)| r).collect(),
        };
        let items: Vec<Value> = page
            .into_iter()
            .map(|row| match row {
                Row::Order(o) => self.order_json(o),
                Row::Shipment(s) => self.shipment_json(s),
            })
            .collect();
        answer(
            200,
            json!({ "items": items, "search_criteria": criteria.echo(), "total_count": total }),
        )
    }

    fn lost(&mut self, write: Write) -> bool {
        if self.lose == Some(write) {
            self.lose = None;
            true
        } else {
            false
        }
    }

    /// Answers `done` unless this write's answer is to be lost.
    fn applied(&mut self, write: Write, done: Response) -> Response {
        if self.lost(write) {
            error(503, "Service Unavailable")
        } else {
            done
        }
    }

    fn comment(&mut self, id: u64, body: &Value) -> Response {
        let Some(history) = body.get("statusHistory").filter(|h| h.is_object()) else {
            return error(400, "\"statusHistory\" is required. Enter and try again.");
        };
        let entity_id = self.entity();
        let at = self.next_change();
        let Some(order) = self.orders.get_mut(&id) else {
            return no_such_entity();
        };
        let status = history["status"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        // Magento takes the comment's status as the order's, whatever it is
        // and whatever the order's state.
        if let Some(status) = &status {
            order.status = status.clone();
        }
        order.comments.push(Comment {
            entity_id,
            comment: history["comment"].as_str().unwrap_or_default().to_owned(),
            status,
            is_customer_notified: history["is_customer_notified"].as_i64().unwrap_or(0),
            is_visible_on_front: history["is_visible_on_front"].as_i64().unwrap_or(0),
            created: at,
        });
        order.updated = at;
        self.applied(Write::Comment, answer(200, json!(true)))
    }

    fn hold(&mut self, id: u64) -> Response {
        let at = self.next_change();
        let Some(order) = self.orders.get_mut(&id) else {
            return no_such_entity();
        };
        if !order.can_hold() {
            return error(400, "A hold action is not available.");
        }
        order.hold_before_state = Some(order.state.clone());
        order.hold_before_status = Some(order.status.clone());
        order.state = "holded".into();
        order.status = "holded".into();
        order.updated = at;
        self.applied(Write::Hold, answer(200, json!(true)))
    }

    fn unhold(&mut self, id: u64) -> Response {
        let at = self.next_change();
        let Some(order) = self.orders.get_mut(&id) else {
            return no_such_entity();
        };
        if order.state != "holded" {
            return error(400, "You cannot remove the hold.");
        }
        order.state = order
            .hold_before_state
            .take()
            .unwrap_or_else(|| "new".into());
        order.status = order
            .hold_before_status
            .take()
            .unwrap_or_else(|| "pending".into());
        order.updated = at;
        self.applied(Write::Unhold, answer(200, json!(true)))
    }

    fn cancel_order(&mut self, id: u64) -> Response {
        let at = self.next_change();
        let Some(order) = self.orders.get_mut(&id) else {
            return no_such_entity();
        };
        if !order.can_cancel() {
            return answer(200, json!(false));
        }
        order.state = "canceled".into();
        order.status = "canceled".into();
        order.updated = at;
        self.applied(Write::Cancel, answer(200, json!(true)))
    }

    fn ship(&mut self, id: u64, body: &Value) -> Response {
        let invalid = |messages: Vec<String>| {
            error(
                400,
                &format!(
                    "Shipment Document Validation Error(s):\n{}",
                    messages.join("\n")
                ),
            )
        };
        let Some(order) = self.orders.get(&id) else {
            return no_such_entity();
        };
        if ["payment_review", "holded", "canceled"].contains(&order.state.as_str()) {
            return invalid(vec![format!(
                "A shipment cannot be created when an order has a status of {}",
                order.status
            )]);
        }
        if order.shipped_in_full() {
            return invalid(vec![
                "The order does not allow a shipment to be created.".into(),
            ]);
        }
        let mut lines: Vec<(u64, u32)> = Vec::new();
        let mut messages = Vec::new();
        match body.get("items").and_then(Value::as_array) {
            // No items: everything left to ship.
            None => lines.extend(
                order
                    .items
                    .iter()
                    .filter(|i| i.qty_ordered > i.qty_shipped)
                    .map(|i| (i.item_id, i.qty_ordered - i.qty_shipped)),
            ),
            Some(items) => {
                for entry in items {
                    let item_id = entry["order_item_id"].as_u64().unwrap_or(0);
                    let Some(item) = order.items.iter().find(|i| i.item_id == item_id) else {
                        messages.push(format!("We can not found item \"{item_id}\" in order."));
                        continue;
                    };
                    let qty = entry["qty"].as_f64().unwrap_or(0.0);
                    if qty.fract() != 0.0
                        || qty < 0.0
                        || qty > f64::from(item.qty_ordered - item.qty_shipped)
                    {
                        messages.push(format!(
                            "We found an invalid quantity to ship for item \"{}\".",
                            item.name
                        ));
                        continue;
                    }
                    if qty > 0.0 {
                        lines.push((item_id, qty as u32));
                    }
                }
            }
        }
        if lines.is_empty() {
            messages.push("You can't create a shipment without products.".into());
        }
        let tracks: Vec<(String, String, String)> = body
            .get("tracks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| {
                let text = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
                (text("track_number"), text("title"), text("carrier_code"))
            })
            .collect();
        if tracks.iter().any(|(number, _, _)| number.trim().is_empty()) {
            messages.push("Please enter a tracking number.".into());
        }
        if !messages.is_empty() {
            return invalid(messages);
        }
        let at = self.next_change();
        let entity_id = self.entity();
        let mut track_list = Vec::new();
        for (track_number, title, carrier_code) in tracks {
            let track_id = self.entity();
            track_list.push(Track {
                entity_id: track_id,
                parent_id: entity_id,
                order_id: id,
                track_number,
                title,
                carrier_code,
                description: String::new(),
                created: at,
            });
        }
        let order = self.orders.get_mut(&id).expect("looked up above");
        for (item_id, qty) in &lines {
            if let Some(item) = order.items.iter_mut().find(|i| i.item_id == *item_id) {
                item.qty_shipped += qty;
            }
        }
        order.settle_state();
        order.updated = at;
        self.shipments.push(Shipment {
            entity_id,
            order_id: id,
            increment_id: format!("{:09}", entity_id),
            items: lines,
            tracks: track_list,
            notify: body["notify"].as_bool().unwrap_or(false),
            created: at,
        });
        self.applied(Write::Ship, answer(200, json!(entity_id)))
    }

    fn add_track(&mut self, body: &Value) -> Response {
        let entity = &body["entity"];
        let text = |k: &str| entity[k].as_str().unwrap_or_default().to_owned();
        let parent_id = entity["parent_id"].as_u64().unwrap_or(0);
        let order_id = entity["order_id"].as_u64().unwrap_or(0);
        if text("track_number").trim().is_empty() {
            return error(400, "Please enter a tracking number.");
        }
        let at = self.next_change();
        let track_id = self.entity();
        let Some(shipment) = self
            .shipments
            .iter_mut()
            .find(|s| s.entity_id == parent_id && s.order_id == order_id)
        else {
            return error(400, "Could not save the shipment tracking.");
        };
        let track = Track {
            entity_id: track_id,
            parent_id,
            order_id,
            track_number: text("track_number"),
            title: text("title"),
            carrier_code: text("carrier_code"),
            description: text("description"),
            created: at,
        };
        let shown = track_json(&track);
        shipment.tracks.push(track);
        self.applied(Write::Track, answer(200, shown))
    }
}

fn track_json(t: &Track) -> Value {
    json!({
        "entity_id": t.entity_id,
        "parent_id": t.parent_id,
        "order_id": t.order_id,
        "track_number": t.track_number,
        "title": t.title,
        "carrier_code": t.carrier_code,
        "description": t.description,
        "weight": 0,
        "qty": 0,
        "created_at": time(t.created),
        "updated_at": time(t.created),
    })
}

#[derive(Clone, Copy)]
enum Of {
    Orders,
    Shipments,
}

enum Row<'a> {
    Order(&'a Order),
    Shipment(&'a Shipment),
}

/// A field's value, compared as its column would be.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Null,
    Num(i64),
    Time(i64),
    Text(String),
}

impl Row<'_> {
    fn field(&self, name: &str) -> Result<Field, String> {
        let unknown = || format!("\"{name}\" is not a column that can be searched here");
        Ok(match self {
            Row::Order(o) => match name {
                "entity_id" => Field::Num(o.entity_id as i64),
                "increment_id" => Field::Text(o.increment_id.clone()),
                "state" => Field::Text(o.state.clone()),
                "status" => Field::Text(o.status.clone()),
                "created_at" => Field::Time(o.created),
                "updated_at" => Field::Time(o.updated),
                "customer_id" => o.customer_id.map_or(Field::Null, |c| Field::Num(c as i64)),
                "customer_email" => Field::Text(o.email.clone()),
                _ => return Err(unknown()),
            },
            Row::Shipment(s) => match name {
                "entity_id" => Field::Num(s.entity_id as i64),
                "order_id" => Field::Num(s.order_id as i64),
                "increment_id" => Field::Text(s.increment_id.clone()),
                "created_at" => Field::Time(s.created),
                _ => return Err(unknown()),
            },
        })
    }
}

/// A filter's value in its field's terms.
fn operand(like: &Field, value: &str) -> Result<Field, String> {
    match like {
        Field::Num(_) | Field::Null => value
            .trim()
            .parse()
            .map(Field::Num)
            .map_err(|_| format!("\"{value}\" is not a number")),
        Field::Time(_) => parse_time(value)
            .map(Field::Time)
            .ok_or_else(|| format!("\"{value}\" is not a date and time")),
        Field::Text(_) => Ok(Field::Text(value.to_owned())),
    }
}

#[derive(Clone, Debug, Default)]
struct Filter {
    field: String,
    value: String,
    condition: String,
}

impl Filter {
    fn matches(&self, row: &Row) -> Result<bool, String> {
        let value = row.field(&self.field)?;
        let condition = if self.condition.is_empty() {
            "eq"
        } else {
            self.condition.as_str()
        };
        if matches!(condition, "in" | "nin") {
            let mut any = false;
            for part in self.value.split(',') {
                any |= value == operand(&value, part)?;
            }
            return Ok(any == (condition == "in"));
        }
        let bound = operand(&value, &self.value)?;
        // A NULL column matches no comparison, as in SQL.
        if value == Field::Null {
            return Ok(false);
        }
        Ok(match condition {
            "eq" => value == bound,
            "neq" => value != bound,
            "gt" => value > bound,
            "gteq" => value >= bound,
            "lt" => value < bound,
            "lteq" => value <= bound,
            other => {
                return Err(format!(
                    "\"{other}\" is not a condition type this fake knows"
                ));
            }
        })
    }
}

#[derive(Clone, Debug, Default)]
struct Sort {
    field: String,
    direction: String,
}

/// A `searchCriteria` from the query.
#[derive(Debug, Default)]
struct Criteria {
    groups: BTreeMap<usize, BTreeMap<usize, Filter>>,
    sorts: Vec<Sort>,
    page_size: Option<usize>,
    current_page: Option<usize>,
}

impl Criteria {
    fn parse(query: &str) -> Result<Criteria, String> {
        let mut criteria = Criteria::default();
        let mut sorts: BTreeMap<usize, Sort> = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let Some(rest) = name.strip_prefix("searchCriteria") else {
                continue;
            };
            let keys: Vec<&str> = rest
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split("][")
                .collect();
            let index = |k: &str| {
                k.parse::<usize>()
                    .map_err(|_| format!("\"{name}\": \"{k}\" is not an index"))
            };
            match keys.as_slice() {
                ["filterGroups", g, "filters", f, part] => {
                    let filter = criteria
                        .groups
                        .entry(index(g)?)
                        .or_default()
                        .entry(index(f)?)
                        .or_default();
                    match *part {
                        "field" => filter.field = value.into_owned(),
                        "value" => filter.value = value.into_owned(),
                        "conditionType" => filter.condition = value.into_owned(),
                        _ => return Err(format!("\"{name}\" is not a filter's part")),
                    }
                }
                ["sortOrders", i, part] => {
                    let sort = sorts.entry(index(i)?).or_default();
                    match *part {
                        "field" => sort.field = value.into_owned(),
                        "direction" => sort.direction = value.into_owned(),
                        _ => return Err(format!("\"{name}\" is not a sort order's part")),
                    }
                }
                ["pageSize"] => criteria.page_size = Some(index(&value)?),
                ["currentPage"] => criteria.current_page = Some(index(&value)?),
                _ => return Err(format!("\"{name}\" is not a search criteria parameter")),
            }
        }
        criteria.sorts = sorts.into_values().collect();
        Ok(criteria)
    }

    /// Filter groups are joined by AND, the filters of a group by OR.
    fn matches(&self, row: &Row) -> Result<bool, String> {
        for group in self.groups.values() {
            let mut any = false;
            for filter in group.values() {
                any |= filter.matches(row)?;
            }
            if !any {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The criteria as Magento answers them back.
    fn echo(&self) -> Value {
        let mut v = json!({
            "filter_groups": self.groups.values().map(|group| json!({
                "filters": group.values().map(|f| json!({
                    "field": f.field,
                    "value": f.value,
                    "condition_type": if f.condition.is_empty() { "eq" } else { f.condition.as_str() },
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        if !self.sorts.is_empty() {
            v["sort_orders"] = self
                .sorts
                .iter()
                .map(|s| json!({ "field": s.field, "direction": s.direction }))
                .collect();
        }
        if let Some(size) = self.page_size {
            v["page_size"] = json!(size);
        }
        if let Some(page) = self.current_page {
            v["current_page"] = json!(page);
        }
        v
    }
}

impl Platform for Magento {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<std::path::PathBuf> {
        Some(shared_spec(SPEC))
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        let parts = segments(&request.path);
        let route: &[&str] = match parts.as_slice() {
            ["rest", "V1", rest @ ..] | ["rest", _, "V1", rest @ ..] => rest,
            _ => return error(404, "Request does not match any route."),
        };
        let authorised = !self.revoked
            && request.header("authorization") == Some(format!("Bearer {}", self.token).as_str());
        if !authorised {
            return error(
                401,
                "The consumer isn't authorized to access Magento_Sales::sales.",
            );
        }
        let id = |text: &str| text.parse::<u64>().ok();
        match (request.method.as_str(), route) {
            ("GET", ["orders"]) => self.search(request, Of::Orders),
            ("GET", ["shipments"]) => self.search(request, Of::Shipments),
            ("GET", ["orders", order]) => match id(order).and_then(|n| self.orders.get(&n)) {
                Some(o) => answer(200, self.order_json(o)),
                None => no_such_entity(),
            },
            ("POST", ["orders", order, action]) => {
                let Some(n) = id(order) else {
                    return no_such_entity();
                };
                match *action {
                    "comments" => self.comment(n, &request.body),
                    "hold" => self.hold(n),
                    "unhold" => self.unhold(n),
                    "cancel" => self.cancel_order(n),
                    _ => error(404, "Request does not match any route."),
                }
            }
            ("POST", ["order", order, "ship"]) => match id(order) {
                Some(n) => self.ship(n, &request.body),
                None => no_such_entity(),
            },
            ("POST", ["shipment", "track"]) => self.add_track(&request.body),
            _ => error(404, "Request does not match any route."),
        }
    }
}
