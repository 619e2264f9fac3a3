//! A fake Etsy Open API v3 for one shop: `getShopReceipts` (the change and
//! creation windows, `was_paid` / `was_shipped` / `was_canceled`, sorting
//! on `created`, `updated` or `receipt_id`, `limit` / `offset` paging with
//! `count`), `getShopReceipt`, `updateShopReceipt` (`was_paid`,
//! `was_shipped`, form-encoded; a receipt is not marked back unpaid or
//! unshipped, nor a canceled one paid or shipped) and
//! `createReceiptShipment` (a tracking entry per call, 409 on a canceled
//! receipt); Etsy's `{"error": "…"}` answers; the app's `x-api-key`
//! (`keystring:shared secret`) and bearer tokens of a fake OAuth endpoint
//! ([`Tokens`]); and the Standard Webhooks deliveries of its `order.paid`
//! events.
//!
//! Times are whole seconds, as Etsy keeps them; a change made on the fake
//! gets a time after every receipt's, so a pull after it sees it.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Value, json};
use statusport_tests::delivery::{Delivery, standard_webhook};
use statusport_tests::fake::oauth::Tokens;
use statusport_tests::fake::{Common, Platform, Recorded, json as answer, segments, shared_spec};

/// The shop of the fake.
pub const SHOP_ID: u64 = 31337;
/// The app's keystring (also its OAuth client id) and shared secret.
pub const KEYSTRING: &str = "1aa2bb33c44d5ee66f77g88h";
pub const SHARED_SECRET: &str = "s3cr3tsh4r3d";
/// Receipt ids of [`Etsy::seeded`]: `FIRST_RECEIPT + i` for i = 1..=n.
pub const FIRST_RECEIPT: u64 = 3_000_000_000;
/// 2026-01-01T00:00:00Z.
const NEW_YEAR: i64 = 1_767_225_600;

/// One line of a receipt.
#[derive(Clone, Debug)]
pub struct Transaction {
    pub transaction_id: u64,
    pub title: String,
    pub sku: Option<String>,
    pub listing_id: u64,
    pub product_id: u64,
    pub quantity: u32,
    /// The price of one item, in minor units of the receipt's currency.
    pub price: i64,
}

/// One tracking entry (`ShopReceiptShipment`).
#[derive(Clone, Debug)]
pub struct TrackingEntry {
    pub receipt_shipping_id: u64,
    pub carrier_name: String,
    pub tracking_code: String,
    pub notified_at: i64,
}

#[derive(Clone, Debug)]
pub struct Receipt {
    pub receipt_id: u64,
    /// Etsy's word: `open`, `payment processing`, `paid`, `completed`,
    /// `canceled`, `partially refunded`, `fully refunded`.
    pub status: String,
    pub is_paid: bool,
    pub is_shipped: bool,
    /// Seconds since the epoch.
    pub created: i64,
    pub updated: i64,
    pub buyer_user_id: u64,
    /// `None` where Etsy withholds it.
    pub buyer_email: Option<String>,
    pub name: String,
    pub first_line: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country_iso: String,
    pub payment_method: String,
    pub currency: String,
    /// Shipping in minor units.
    pub shipping: i64,
    pub transactions: Vec<Transaction>,
    pub shipments: Vec<TrackingEntry>,
}

/// Minor units per unit of `currency`: Etsy's `divisor`.
fn divisor(currency: &str) -> i64 {
    match currency {
        "JPY" | "KRW" => 1,
        _ => 100,
    }
}

fn money(minor: i64, currency: &str) -> Value {
    json!({ "amount": minor, "divisor": divisor(currency), "currency_code": currency })
}

impl Receipt {
    /// An open, unpaid, unshipped receipt of one teapot, made at `created`.
    pub fn new(receipt_id: u64, created: i64) -> Receipt {
        Receipt {
            receipt_id,
            status: "open".into(),
            is_paid: false,
            is_shipped: false,
            created,
            updated: created,
            buyer_user_id: 5_000,
            buyer_email: Some("ada@example.com".into()),
            name: "Ada Lovelace".into(),
            first_line: "12 Market Street".into(),
            city: "Hudson".into(),
            state: "NY".into(),
            zip: "12534".into(),
            country_iso: "US".into(),
            payment_method: "cc".into(),
            currency: "USD".into(),
            shipping: 450,
            transactions: vec![Transaction {
                transaction_id: receipt_id * 10,
                title: "Teapot".into(),
                sku: Some("TEA-100".into()),
                listing_id: 700_100,
                product_id: 800_100,
                quantity: 1,
                price: 2450,
            }],
            shipments: Vec::new(),
        }
    }

    fn json(&self) -> Value {
        let c = self.currency.as_str();
        let subtotal: i64 = self
            .transactions
            .iter()
            .map(|t| t.price * i64::from(t.quantity))
            .sum();
        let transactions: Vec<Value> = self
            .transactions
            .iter()
            .map(|t| {
                json!({
                    "transaction_id": t.transaction_id,
                    "title": t.title,
                    "seller_user_id": 1_234_567,
                    "buyer_user_id": self.buyer_user_id,
                    "create_timestamp": self.created,
                    "created_timestamp": self.created,
                    "paid_timestamp": self.is_paid.then_some(self.created),
                    "shipped_timestamp": self.shipments.first().map(|s| s.notified_at),
                    "quantity": t.quantity,
                    "listing_image_id": null,
                    "receipt_id": self.receipt_id,
                    "is_digital": false,
                    "file_data": "",
                    "listing_id": t.listing_id,
                    "transaction_type": "listing",
                    "product_id": t.product_id,
                    "sku": t.sku,
                    "price": money(t.price, c),
                    "shipping_cost": money(0, c),
                    "variations": [],
                    "product_data": [],
                    "shipping_profile_id": null,
                    "min_processing_days": 1,
                    "max_processing_days": 3,
                    "shipping_method": null,
                    "shipping_upgrade": null,
                    "expected_ship_date": self.created + 3 * 86_400,
                    "buyer_coupon": 0,
                    "shop_coupon": 0,
                })
            })
            .collect();
        let shipments: Vec<Value> = self
            .shipments
            .iter()
            .map(|s| {
                json!({
                    "receipt_shipping_id": s.receipt_shipping_id,
                    "shipment_notification_timestamp": s.notified_at,
                    "carrier_name": s.carrier_name,
                    "tracking_code": s.tracking_code,
                })
            })
            .collect();
        json!({
            "receipt_id": self.receipt_id,
            "receipt_type": 0,
            "seller_user_id": 1_234_567,
            "seller_email": "shop@example.com",
            "buyer_user_id": self.buyer_user_id,
            "buyer_email": self.buyer_email,
            "name": self.name,
            "first_line": self.first_line,
            "second_line": null,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "status": self.status,
            "formatted_address": format!(
                "{}\n{}\n{}, {} {}\n{}",
                self.name, self.first_line, self.city, self.state, self.zip, self.country_iso
            ),
            "country_iso": self.country_iso,
            "payment_method": self.payment_method,
            "payment_email": null,
            "message_from_seller": null,
            "message_from_buyer": null,
            "message_from_payment": null,
            "is_paid": self.is_paid,
            "is_shipped": self.is_shipped,
            "create_timestamp": self.created,
            "created_timestamp": self.created,
            "update_timestamp": self.updated,
            "updated_timestamp": self.updated,
            "is_gift": false,
            "gift_message": "",
            "gift_sender": "",
            "grandtotal": money(subtotal + self.shipping, c),
            "subtotal": money(subtotal, c),
            "total_price": money(subtotal, c),
            "total_shipping_cost": money(self.shipping, c),
            "total_tax_cost": money(0, c),
            "total_vat_cost": money(0, c),
            "discount_amt": money(0, c),
            "gift_wrap_price": money(0, c),
            "shipments": shipments,
            "transactions": transactions,
            "refunds": [],
        })
    }
}

/// The fake shop.
pub struct Etsy {
    common: Common,
    pub shop_id: u64,
    /// The `x-api-key` value it accepts: `keystring:shared secret`.
    pub api_key: String,
    /// The token endpoint's book: which bearer tokens are valid.
    pub tokens: Tokens,
    pub receipts: BTreeMap<u64, Receipt>,
    /// The next write (`PUT`, `POST`) is applied, then answered 503 as if
    /// the answer had been lost on the way back.
    pub lose_next_answer: bool,
    next_shipping_id: u64,
}

fn error(status: u16, message: &str) -> Response {
    answer(status, json!({ "error": message }))
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A form value as Etsy reads a boolean.
fn boolean(value: &str) -> Option<bool> {
    match value.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

impl Etsy {
    /// Shop [`SHOP_ID`] with open receipts `ids` (see [`Receipt::new`])
    /// made at the start of 2026, accepting the tokens `tokens` issues.
    pub fn new(tokens: Tokens, ids: &[u64]) -> Etsy {
        Etsy {
            common: Common::default(),
            shop_id: SHOP_ID,
            api_key: format!("{KEYSTRING}:{SHARED_SECRET}"),
            tokens,
            receipts: ids
                .iter()
                .map(|id| (*id, Receipt::new(*id, NEW_YEAR)))
                .collect(),
            lose_next_answer: false,
            next_shipping_id: 1,
        }
    }

    /// A shop with `n` receipts, `FIRST_RECEIPT + 1 ..= FIRST_RECEIPT + n`,
    /// made one a minute up to an hour ago; every third changed 30 s
    /// after it was made. Every fourth is open (unpaid), every fifth
    /// completed (paid and shipped, with a tracking entry), the rest paid;
    /// every seventh in EUR, every eleventh in JPY, the rest in USD. One
    /// to three lines each (the third without SKU); every fifth buyer's
    /// email is withheld.
    pub fn seeded(tokens: Tokens, n: usize) -> Etsy {
        let mut shop = Etsy::new(tokens, &[]);
        let start = now() - 3_600 - 60 * n as i64;
        for i in 1..=n as u64 {
            let id = FIRST_RECEIPT + i;
            let created = start + 60 * i as i64;
            let mut r = Receipt::new(id, created);
            r.updated = if i % 3 == 0 { created + 30 } else { created };
            (r.status, r.is_paid, r.is_shipped) = if i % 4 == 0 {
                ("open".into(), false, false)
            } else if i % 5 == 0 {
                ("completed".into(), true, true)
            } else {
                ("paid".into(), true, false)
            };
            if r.is_shipped {
                r.shipments.push(TrackingEntry {
                    receipt_shipping_id: shop.next_shipping_id,
                    carrier_name: "usps".into(),
                    tracking_code: format!("9400{id}"),
                    notified_at: r.updated,
                });
                shop.next_shipping_id += 1;
            }
            r.currency = if i % 11 == 0 {
                "JPY"
            } else if i % 7 == 0 {
                "EUR"
            } else {
                "USD"
            }
            .into();
            r.buyer_user_id = 5_000 + i % 97;
            r.buyer_email = (i % 5 != 0).then(|| format!("buyer{i}@example.com"));
            r.name = format!("Given{i} Family{}", i % 97);
            r.first_line = format!("{i} Market Street");
            r.transactions = (0..1 + i % 3)
                .map(|k| Transaction {
                    transaction_id: id * 10 + k,
                    title: format!("Article {}", 100 + k),
                    sku: (k != 2).then(|| format!("ETSY-{}", 100 + k)),
                    listing_id: 700_100 + k,
                    product_id: 800_100 + k,
                    quantity: 1 + (i % 4) as u32,
                    price: 1990 + 100 * k as i64,
                })
                .collect();
            shop.receipts.insert(id, r);
        }
        shop
    }

    /// The receipt `id`; panics naming it when the shop has none.
    pub fn receipt(&self, id: u64) -> &Receipt {
        self.receipts
            .get(&id)
            .unwrap_or_else(|| panic!("the fake Etsy has no receipt {id}"))
    }

    /// A time after every receipt's last change, and not before now.
    fn next_change(&self) -> i64 {
        let latest = self.receipts.values().map(|r| r.updated).max().unwrap_or(0);
        now().max(latest + 1)
    }

    fn change(&mut self, id: u64, change: impl FnOnce(&mut Receipt)) {
        let at = self.next_change();
        let r = self
            .receipts
            .get_mut(&id)
            .unwrap_or_else(|| panic!("the fake Etsy has no receipt {id}"));
        change(r);
        r.updated = at;
    }

    /// The buyer pays (on Etsy's side).
    pub fn pay(&mut self, id: u64) {
        self.change(id, mark_paid)
    }

    /// The seller marks the receipt shipped in Etsy's Shop Manager.
    pub fn ship(&mut self, id: u64) {
        self.change(id, mark_shipped)
    }

    /// The seller cancels the receipt.
    pub fn cancel(&mut self, id: u64) {
        self.change(id, |r| r.status = "canceled".into())
    }

    /// The seller refunds the whole receipt.
    pub fn refund(&mut self, id: u64) {
        self.change(id, |r| r.status = "fully refunded".into())
    }

    /// Etsy's webhook delivery of `event_type` (`order.paid`) about
    /// receipt `id`, as Etsy sends it (flat: `event_type`, `resource_url`,
    /// `shop_id`), signed with the endpoint's `whsec_…` `secret` under
    /// message id `webhook_id` at `timestamp`.
    pub fn webhook(
        &self,
        id: u64,
        event_type: &str,
        secret: &str,
        webhook_id: &str,
        timestamp: u64,
    ) -> Delivery {
        let body = json!({
            "event_type": event_type,
            "resource_url": format!(
                "https://openapi.etsy.com/v3/application/shops/{}/receipts/{id}",
                self.shop_id
            ),
            "shop_id": self.shop_id,
        });
        let body = serde_json::to_vec(&body).expect("a delivery is JSON");
        standard_webhook(secret, webhook_id, timestamp, &body)
    }

    /// `getShopReceipts`.
    fn list(&self, request: &Recorded) -> Response {
        match self.search(request) {
            Ok(page) => answer(200, page),
            Err(refusal) => error(400, &refusal),
        }
    }

    /// The page `getShopReceipts` answers, or why Etsy refuses the query.
    fn search(&self, request: &Recorded) -> Result<Value, String> {
        let number = |name: &str, default: i64| -> Result<i64, String> {
            match request.query_value(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("Expected parameter '{name}' to be an integer")),
            }
        };
        let flag = |name: &str| -> Result<Option<bool>, String> {
            match request.query_value(name) {
                None => Ok(None),
                Some(v) => boolean(&v)
                    .map(Some)
                    .ok_or_else(|| format!("Expected parameter '{name}' to be a boolean")),
            }
        };
        let limit = number("limit", 25)?;
        if !(1..=100).contains(&limit) {
            return Err("Expected parameter 'limit' to be between 1 and 100".into());
        }
        let offset = number("offset", 0)?;
        if offset < 0 {
            return Err("Expected parameter 'offset' to be at least 0".into());
        }
        let created = number("min_created", i64::MIN)?..=number("max_created", i64::MAX)?;
        let changed =
            number("min_last_modified", i64::MIN)?..=number("max_last_modified", i64::MAX)?;
        let (paid, shipped, canceled) = (
            flag("was_paid")?,
            flag("was_shipped")?,
            flag("was_canceled")?,
        );
        let descending = match request.query_value("sort_order").as_deref() {
            None | Some("desc" | "descending" | "down") => true,
            Some("asc" | "ascending" | "up") => false,
            Some(other) => {
                return Err(format!(
                    "'{other}' is not a valid value for parameter 'sort_order'"
                ));
            }
        };
        let key: fn(&Receipt) -> (i64, u64) = match request.query_value("sort_on").as_deref() {
            None | Some("created") => |r| (r.created, r.receipt_id),
            Some("updated") => |r| (r.updated, r.receipt_id),
            Some("receipt_id") => |r| (0, r.receipt_id),
            Some(other) => {
                return Err(format!(
                    "'{other}' is not a valid value for parameter 'sort_on'"
                ));
            }
        };
        let mut found: Vec<&Receipt> = self
            .receipts
            .values()
            .filter(|r| {
                created.contains(&r.created)
                    && changed.contains(&r.updated)
                    && paid.is_none_or(|p| r.is_paid == p)
                    && shipped.is_none_or(|s| r.is_shipped == s)
                    && canceled.is_none_or(|c| (r.status == "canceled") == c)
            })
            .collect();
        found.sort_by_key(|r| key(r));
        if descending {
            found.reverse();
        }
        let results: Vec<Value> = found
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| r.json())
            .collect();
        Ok(json!({ "count": found.len(), "results": results }))
    }

    /// `updateShopReceipt`.
    fn update(&mut self, id: u64, request: &Recorded) -> Response {
        let mut wanted = Vec::new();
        for field in ["was_paid", "was_shipped"] {
            if let Some(v) = request.form_value(field) {
                match boolean(&v) {
                    Some(b) => wanted.push((field, b)),
                    None => {
                        return error(
                            400,
                            &format!("Expected parameter '{field}' to be a boolean"),
                        );
                    }
                }
            }
        }
        let r = &self.receipts[&id];
        for (field, value) in &wanted {
            let (now, what) = match *field {
                "was_paid" => (r.is_paid, "paid"),
                _ => (r.is_shipped, "shipped"),
            };
            if now && !value {
                return error(
                    400,
                    &format!("Receipt {id} has been {what} and cannot be marked as not {what}"),
                );
            }
            if *value && r.status == "canceled" {
                return error(
                    400,
                    &format!("Receipt {id} is canceled and cannot be marked as {what}"),
                );
            }
        }
        let changes = wanted.iter().any(|(field, value)| match *field {
            "was_paid" => r.is_paid != *value,
            _ => r.is_shipped != *value,
        });
        if changes {
            self.change(id, |r| {
                for (field, value) in &wanted {
                    match (*field, value) {
                        ("was_paid", true) => mark_paid(r),
                        (_, true) => mark_shipped(r),
                        _ => {}
                    }
                }
            });
        }
        answer(200, self.receipts[&id].json())
    }

    /// `createReceiptShipment`.
    fn track(&mut self, id: u64, request: &Recorded) -> Response {
        if self.receipts[&id].status == "canceled" {
            return error(
                409,
                &format!("Receipt {id} is canceled; tracking cannot be added"),
            );
        }
        let code = request.form_value("tracking_code").unwrap_or_default();
        let carrier = request.form_value("carrier_name").unwrap_or_default();
        if code.trim().is_empty() != carrier.trim().is_empty() {
            return error(400, "tracking_code and carrier_name must be given together");
        }
        let shipping_id = self.next_shipping_id;
        self.next_shipping_id += 1;
        let at = self.next_change();
        self.change(id, |r| {
            if !code.trim().is_empty() {
                r.shipments.push(TrackingEntry {
                    receipt_shipping_id: shipping_id,
                    carrier_name: carrier,
                    tracking_code: code,
                    notified_at: at,
                });
            }
            mark_shipped(r);
        });
        answer(200, self.receipts[&id].json())
    }
}

fn mark_paid(r: &mut Receipt) {
    r.is_paid = true;
    if matches!(r.status.as_str(), "open" | "payment processing") {
        r.status = "paid".into();
    }
}

fn mark_shipped(r: &mut Receipt) {
    r.is_shipped = true;
    if r.status == "paid" {
        r.status = "completed".into();
    }
}

impl Platform for Etsy {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<std::path::PathBuf> {
        Some(shared_spec("etsy-open-api-v3-oas3.json"))
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        if request.header("x-api-key") != Some(self.api_key.as_str()) {
            return error(
                403,
                "Invalid API key: x-api-key must be the app's keystring and shared secret, separated by a colon",
            );
        }
        let bearer = request.authorization.as_deref().unwrap_or_default();
        if !self.tokens.accepts(bearer) {
            return error(401, "invalid_token");
        }
        let parts = segments(&request.path);
        let method = request.method.as_str();
        let ["v3", "application", "shops", shop, rest @ ..] = &parts[..] else {
            return error(404, "Resource not found");
        };
        let Ok(shop) = shop.parse::<u64>() else {
            return error(400, "Expected parameter 'shop_id' to be an integer");
        };
        if shop != self.shop_id {
            return error(
                403,
                &format!("The token does not grant access to shop {shop}"),
            );
        }
        let receipt = |text: &str| -> Result<u64, (u16, String)> {
            let id: u64 = text.parse().map_err(|_| {
                (
                    400,
                    "Expected parameter 'receipt_id' to be an integer".to_owned(),
                )
            })?;
            if self.receipts.contains_key(&id) {
                Ok(id)
            } else {
                Err((404, format!("Receipt with id {id} not found")))
            }
        };
        let form = request
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let not_form = || {
            error(
                400,
                "The request body must be application/x-www-form-urlencoded",
            )
        };
        let applied = match (method, rest) {
            ("GET", ["receipts"]) => return self.list(request),
            ("GET", ["receipts", id]) => {
                return match receipt(id) {
                    Ok(id) => answer(200, self.receipts[&id].json()),
                    Err((status, refusal)) => error(status, &refusal),
                };
            }
            ("PUT", ["receipts", id]) => match receipt(id) {
                Ok(_) if !form => not_form(),
                Ok(id) => self.update(id, request),
                Err((status, refusal)) => error(status, &refusal),
            },
            ("POST", ["receipts", id, "tracking"]) => match receipt(id) {
                Ok(_) if !form => not_form(),
                Ok(id) => self.track(id, request),
                Err((status, refusal)) => error(status, &refusal),
            },
            _ => return error(404, "Resource not found"),
        };
        if std::mem::take(&mut self.lose_next_answer) {
            return error(503, "upstream request timeout");
        }
        applied
    }
}
