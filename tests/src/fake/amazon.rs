//! A fake Amazon Selling Partner API, Orders v0, as a seller who ships
//! their own orders sees it: `getOrders` (`LastUpdatedAfter`, at or after,
//! with `NextToken` pages), `getOrder`, `getOrderItems` (with `NextToken`
//! pages; no prices while an order is `Pending`) and `confirmShipment`
//! (a package per `packageReferenceId`: the same reference again edits that
//! package, as Amazon documents; items beyond what was ordered are refused
//! as "already fulfilled"), every answer in the `payload` wrapper with ISO
//! 8601 times and errors in Amazon's `{"errors":[{"code","message","details"}]}`.
//!
//! Access tokens come from the fake Login with Amazon endpoint
//! ([`oauth::start`] with [`TOKEN_PATH`]) on a host of its own; a request
//! whose `x-amz-access-token` that endpoint did not issue (or revoked) gets
//! the 403 `Unauthorized` Amazon answers. Every exchange is checked against
//! `shared/specs/amazon-sp-api-ordersV0.json`.
//!
//! For a demo: [`Amazon::seeded`] holds realistic orders (amazon.de, the
//! demo's tea shop articles, buyers with Amazon's anonymised addresses,
//! some still `Pending`, some shipped, some canceled); [`Amazon::cancel`],
//! [`Amazon::authorize_payment`] and [`Amazon::place`] change orders on
//! Amazon's side, so that intake sees them; [`start`] runs the fake with
//! its token endpoint, and [`config`] is the channel config that reaches it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use statusport_tests::fake::oauth::{self, TokenEndpoint, Tokens};
use statusport_tests::fake::{Common, Platform, Recorded, Server, segments, serve, shared_spec};

/// Amazon's published description of Orders v0.
pub const SPEC: &str = "amazon-sp-api-ordersV0.json";
/// amazon.de.
pub const MARKETPLACE: &str = "A1PA6795UKMFR9";
/// Where the fake Login with Amazon endpoint answers, as Amazon's does.
pub const TOKEN_PATH: &str = "/auth/o2/token";
pub const CLIENT_ID: &str = "amzn1.application-oa2-client.0f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const CLIENT_SECRET: &str = "amzn1.oa2-cs.v1.5f8a0c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d";
pub const REFRESH_TOKEN: &str = "Atzr|IwEBIFakeRefreshTokenForTheStatusportTests";

/// The carrier codes the fake takes: Amazon's list for amazon.de and the
/// codes the plugin sends.
const CARRIER_CODES: &[&str] = &[
    "DHL",
    "DHL eCommerce",
    "Deutsche Post",
    "DPD",
    "GLS",
    "UPS",
    "FedEx",
    "USPS",
    "Hermes Logistik Gruppe",
    "Royal Mail",
    "Parcelforce",
    "TNT",
    "La Poste",
    "Chronopost",
    "Other",
];

/// One line of an order.
#[derive(Clone, Debug)]
pub struct Item {
    /// Amazon's `OrderItemId` (14 digits).
    pub id: String,
    pub asin: String,
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    /// Cents, VAT included, as Amazon.de shows prices.
    pub unit_price: i64,
    /// The line's shipping charge, cents.
    pub shipping: i64,
}

impl Item {
    pub fn new(id: &str, sku: &str, title: &str, quantity: u32, unit_price: i64) -> Item {
        Item {
            id: id.to_owned(),
            asin: format!("B0{:0>8}", sku.replace('-', "")),
            sku: sku.to_owned(),
            title: title.to_owned(),
            quantity,
            unit_price,
            shipping: 0,
        }
    }
}

/// A package Amazon holds for an order: one confirmed shipment.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    pub reference: String,
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub tracking_number: String,
    pub ship_date: String,
    /// (order item id, quantity)
    pub items: Vec<(String, u32)>,
}

/// Where the order goes.
#[derive(Clone, Debug)]
pub struct ShipTo {
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
}

#[derive(Clone, Debug)]
pub struct Order {
    /// 3-7-7 digits: `302-1234567-1234567`.
    pub id: String,
    pub status: String,
    /// `MFN` (the seller ships) or `AFN` (Amazon does).
    pub fulfillment: String,
    /// Seconds since the epoch.
    pub purchased: i64,
    pub updated: i64,
    pub marketplace: String,
    pub currency: String,
    /// Amazon's anonymised address of the buyer.
    pub buyer_email: String,
    pub ship_to: ShipTo,
    /// `Other` (Amazon collects), `COD`, `CVS`.
    pub payment_method: String,
    /// Whether Amazon ever authorized the payment: until then it shows no
    /// prices and no buyer (also once such an order is canceled).
    pub paid: bool,
    pub items: Vec<Item>,
    pub packages: Vec<Package>,
}

impl Order {
    /// An unshipped amazon.de order of one teapot (item id `{id}-1`'s digits),
    /// placed at `purchased` and paid five minutes later.
    pub fn new(id: &str, purchased: i64) -> Order {
        let digits: String = id.chars().filter(char::is_ascii_digit).collect();
        Order {
            id: id.to_owned(),
            status: "Unshipped".into(),
            fulfillment: "MFN".into(),
            purchased,
            updated: purchased + 300,
            marketplace: MARKETPLACE.into(),
            currency: "EUR".into(),
            buyer_email: format!(
                "{}@marketplace.amazon.de",
                &digits[digits.len().saturating_sub(12)..]
            ),
            ship_to: ShipTo {
                name: "Erika Mustermann".into(),
                street: "Heidestraße 17".into(),
                postal_code: "51147".into(),
                city: "Köln".into(),
                country: "DE".into(),
                phone: "+49 221 5550123".into(),
            },
            payment_method: "Other".into(),
            paid: true,
            items: vec![Item::new(
                &format!("{:0>14}", &digits[digits.len().saturating_sub(13)..]),
                "TEA-100",
                "Teapot",
                1,
                4900,
            )],
            packages: Vec::new(),
        }
    }

    pub fn with_status(mut self, status: &str) -> Order {
        self.status = status.to_owned();
        self
    }

    pub fn with_items(mut self, items: Vec<Item>) -> Order {
        self.items = items;
        self
    }

    fn shipped(&self, item: &str) -> u32 {
        self.packages
            .iter()
            .flat_map(|p| &p.items)
            .filter(|(id, _)| id == item)
            .map(|(_, q)| q)
            .sum()
    }

    fn total(&self) -> i64 {
        self.items
            .iter()
            .map(|i| i.unit_price * i64::from(i.quantity) + i.shipping)
            .sum()
    }
}

/// The fake Selling Partner API.
pub struct Amazon {
    common: Common,
    /// The access tokens the fake token endpoint issued.
    pub tokens: Tokens,
    pub orders: BTreeMap<String, Order>,
    /// Order items per `getOrderItems` page.
    pub items_per_page: usize,
    /// `confirmShipment` calls applied.
    pub confirmations: usize,
    /// Refuse every access token, as Amazon does for an app without the
    /// Orders role.
    pub deny_all: bool,
    /// The answer of the next `confirmShipment` Amazon applies is lost: it
    /// answers 503 after applying it.
    pub lose_next_confirmation: bool,
    /// Part of every `NextToken`; changing it makes Amazon refuse earlier
    /// tokens, as it does once they expire.
    token_epoch: u32,
}

/// Seconds since the epoch as Amazon writes times: `2026-11-20T10:05:00Z`.
pub fn iso(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("a time in range")
        .to_string()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn amount(currency: &str, cents: i64) -> Value {
    json!({ "CurrencyCode": currency, "Amount": format!("{}.{:02}", cents / 100, cents % 100) })
}

/// An answer with Amazon's headers; `rate` is the operation's usage plan.
fn reply(status: u16, body: Option<Value>, rate: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("a valid status");
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        "x-amzn-ratelimit-limit",
        HeaderValue::from_str(rate).expect("a rate"),
    );
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("b6a1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
    );
    response
}

fn error(status: u16, code: &str, message: &str, details: &str, rate: &str) -> Response {
    reply(
        status,
        Some(json!({ "errors": [{ "code": code, "message": message, "details": details }] })),
        rate,
    )
}

fn invalid(message: &str, rate: &str) -> Response {
    error(400, "InvalidInput", message, "", rate)
}

const GET_ORDERS_RATE: &str = "0.0167";
const GET_ORDER_RATE: &str = "0.5";
const CONFIRM_RATE: &str = "2.0";

impl Amazon {
    /// A seller with no orders yet, whose access tokens `tokens` issues.
    pub fn new(tokens: Tokens) -> Amazon {
        Amazon {
            common: Common::default(),
            tokens,
            orders: BTreeMap::new(),
            items_per_page: 100,
            confirmations: 0,
            deny_all: false,
            lose_next_confirmation: false,
            token_epoch: 1,
        }
    }

    /// The seller with `orders`.
    pub fn with(tokens: Tokens, orders: Vec<Order>) -> Amazon {
        let mut amazon = Amazon::new(tokens);
        for o in orders {
            amazon.orders.insert(o.id.clone(), o);
        }
        amazon
    }

    /// `n` amazon.de orders placed one a minute up to an hour ago: buyers
    /// with Amazon's anonymised addresses across Germany, one to three of
    /// the tea shop's articles each with shipping on the first line. Every
    /// tenth (from the fourth) is still `Pending`, every tenth (from the
    /// eighth) `Shipped` with its DHL package, every thirteenth `Canceled`
    /// (Amazon gives no prices for one canceled while `Pending`); the rest
    /// are `Unshipped`, paid five minutes after they were placed.
    pub fn seeded(n: usize, tokens: Tokens) -> Amazon {
        const BUYERS: &[(&str, &str, &str, &str)] = &[
            ("Erika Mustermann", "Heidestraße 17", "51147", "Köln"),
            ("Jonas Becker", "Lindenallee 4", "10115", "Berlin"),
            ("Leonie Wagner", "Marktplatz 9", "80331", "München"),
            ("Felix Schulz", "Hafenstraße 22", "20457", "Hamburg"),
            ("Mia Hoffmann", "Schillerweg 3", "70173", "Stuttgart"),
            ("Paul Richter", "Rheinufer 11", "40213", "Düsseldorf"),
            ("Hannah Koch", "Goethestraße 30", "04109", "Leipzig"),
        ];
        const ARTICLES: &[(&str, &str, i64)] = &[
            ("TEA-100", "Teapot", 4900),
            ("CUP-200", "Cup", 750),
            ("TEA-110", "Tea tin", 1200),
            ("KET-300", "Kettle", 8900),
        ];
        let mut amazon = Amazon::new(tokens);
        let start = now() - 3600 - 60 * n as i64;
        for i in 1..=n as u64 {
            let id = format!("302-{:07}-{:07}", 4_000_000 + i * 37, 1_000_000 + i * 7_919);
            let purchased = start + 60 * i as i64;
            let buyer = BUYERS[i as usize % BUYERS.len()];
            let mut order = Order::new(&id, purchased);
            order.buyer_email = format!("{:012x}@marketplace.amazon.de", i * 0x9e37_79b9);
            order.ship_to = ShipTo {
                name: buyer.0.into(),
                street: buyer.1.into(),
                postal_code: buyer.2.into(),
                city: buyer.3.into(),
                country: "DE".into(),
                phone: format!("+49 30 555{i:04}"),
            };
            order.items = (0..1 + i % 3)
                .map(|k| {
                    let (sku, title, price) = ARTICLES[((i + k) % ARTICLES.len() as u64) as usize];
                    Item {
                        shipping: if k == 0 { 490 } else { 0 },
                        ..Item::new(
                            &format!("{:014}", 10_000_000_000_000 + i * 10 + k),
                            sku,
                            title,
                            1 + (i % 2) as u32,
                            price,
                        )
                    }
                })
                .collect();
            if i % 10 == 3 {
                order.status = "Pending".into();
                order.paid = false;
                order.updated = purchased;
            } else if i % 13 == 0 {
                order.status = "Canceled".into();
                order.paid = false;
                order.updated = purchased + 600;
            } else if i % 10 == 7 {
                order.status = "Shipped".into();
                order.updated = purchased + 1800;
                order.packages.push(Package {
                    reference: "1".into(),
                    carrier_code: "DHL".into(),
                    carrier_name: None,
                    tracking_number: format!("0034043416109{i:07}"),
                    ship_date: iso(purchased + 1700),
                    items: order
                        .items
                        .iter()
                        .map(|it| (it.id.clone(), it.quantity))
                        .collect(),
                });
            }
            amazon.orders.insert(id, order);
        }
        amazon
    }

    fn order_mut(&mut self, id: &str) -> &mut Order {
        self.orders
            .get_mut(id)
            .unwrap_or_else(|| panic!("the fake Amazon has no order {id}"))
    }

    /// A time after every order's `LastUpdateDate` and not before now: a
    /// change made now gets it.
    fn next_change(&self) -> i64 {
        let latest = self.orders.values().map(|o| o.updated).max().unwrap_or(0);
        now().max(latest + 1)
    }

    fn change(&mut self, id: &str, change: impl FnOnce(&mut Order)) {
        let at = self.next_change();
        let order = self.order_mut(id);
        change(order);
        order.updated = at;
    }

    /// The buyer cancels the order (or Amazon does).
    pub fn cancel(&mut self, id: &str) {
        self.change(id, |o| o.status = "Canceled".into())
    }

    /// Amazon authorizes the payment of a `Pending` order: it becomes
    /// `Unshipped`.
    pub fn authorize_payment(&mut self, id: &str) {
        self.change(id, |o| {
            assert_eq!(o.status, "Pending", "only a Pending order is authorized");
            o.status = "Unshipped".into();
            o.paid = true;
        })
    }

    /// A buyer places `order` now (its times are set to now).
    pub fn place(&mut self, mut order: Order) {
        order.purchased = self.next_change();
        order.updated = order.purchased;
        self.orders.insert(order.id.clone(), order);
    }

    /// Makes Amazon refuse every `NextToken` it gave so far.
    pub fn expire_next_tokens(&mut self) {
        self.token_epoch += 1;
    }

    /// Whether the request carries an access token the endpoint issued.
    fn refused(&self, request: &Recorded) -> Option<Response> {
        let token = request.header("x-amz-access-token");
        if !self.deny_all && token.is_some_and(|t| self.tokens.accepts(t)) {
            return None;
        }
        let details = match token {
            Some(_) => "The access token you provided is revoked, malformed or invalid.",
            None => "",
        };
        Some(error(
            403,
            "Unauthorized",
            "Access to requested resource is denied.",
            details,
            GET_ORDER_RATE,
        ))
    }

    fn next_token(&self, kind: &str, offset: usize) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{kind}|{}|{offset}|amzn-fake-page",
            self.token_epoch
        ))
    }

    fn read_token(&self, kind: &str, token: &str) -> Option<usize> {
        let text = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())?;
        let mut parts = text.split('|');
        (parts.next()? == kind && parts.next()?.parse::<u32>().ok()? == self.token_epoch)
            .then(|| parts.next()?.parse().ok())
            .flatten()
    }

    fn order_json(&self, o: &Order) -> Value {
        let shipped: u32 = o
            .items
            .iter()
            .map(|i| o.shipped(&i.id).min(i.quantity))
            .sum();
        let ordered: u32 = o.items.iter().map(|i| i.quantity).sum();
        let mut v = json!({
            "AmazonOrderId": o.id,
            "PurchaseDate": iso(o.purchased),
            "LastUpdateDate": iso(o.updated),
            "OrderStatus": o.status,
            "FulfillmentChannel": o.fulfillment,
            "SalesChannel": "Amazon.de",
            "ShipServiceLevel": "Std DE Dom_1",
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": ordered - shipped,
            "PaymentMethod": o.payment_method,
            "PaymentMethodDetails": ["Standard"],
            "MarketplaceId": o.marketplace,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": iso(o.purchased + 86_400),
            "LatestShipDate": iso(o.purchased + 2 * 86_400),
            "IsBusinessOrder": false,
            "IsPrime": false,
            "IsPremiumOrder": false,
            "IsGlobalExpressEnabled": false,
            "IsReplacementOrder": false,
            "IsSoldByAB": false,
            "IsISPU": false,
            "IsAccessPointOrder": false,
            "HasRegulatedItems": false,
        });
        if o.paid {
            v["OrderTotal"] = amount(&o.currency, o.total());
            v["BuyerInfo"] = json!({ "BuyerEmail": o.buyer_email });
            v["ShippingAddress"] = json!({
                "Name": o.ship_to.name,
                "AddressLine1": o.ship_to.street,
                "PostalCode": o.ship_to.postal_code,
                "City": o.ship_to.city,
                "CountryCode": o.ship_to.country,
                "Phone": o.ship_to.phone,
                "AddressType": "Residential",
            });
        } else {
            // Before the payment is authorized Amazon shows where, not whom.
            v["ShippingAddress"] = json!({
                "PostalCode": o.ship_to.postal_code,
                "City": o.ship_to.city,
                "CountryCode": o.ship_to.country,
            });
        }
        v
    }

    fn item_json(&self, o: &Order, i: &Item) -> Value {
        let mut v = json!({
            "ASIN": i.asin,
            "SellerSKU": i.sku,
            "OrderItemId": i.id,
            "Title": i.title,
            "QuantityOrdered": i.quantity,
            "QuantityShipped": o.shipped(&i.id).min(i.quantity),
            "ProductInfo": { "NumberOfItems": "1" },
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": false,
            "SerialNumberRequired": false,
            "BuyerRequestedCancel": { "IsBuyerRequestedCancel": "false", "BuyerCancelReason": "" },
        });
        if o.paid {
            let line = i.unit_price * i64::from(i.quantity);
            // 19 % VAT included in the price.
            let tax = |gross: i64| (gross * 19 + 59) / 119;
            v["ItemPrice"] = amount(&o.currency, line);
            v["ItemTax"] = amount(&o.currency, tax(line));
            v["ShippingPrice"] = amount(&o.currency, i.shipping);
            v["ShippingTax"] = amount(&o.currency, tax(i.shipping));
            v["ShippingDiscount"] = amount(&o.currency, 0);
            v["ShippingDiscountTax"] = amount(&o.currency, 0);
            v["PromotionDiscount"] = amount(&o.currency, 0);
            v["PromotionDiscountTax"] = amount(&o.currency, 0);
            v["PromotionIds"] = json!([]);
        }
        v
    }

    /// `GET /orders/v0/orders`.
    fn get_orders(&self, r: &Recorded) -> Response {
        let rate = GET_ORDERS_RATE;
        let Some(markets) = r.query_value("MarketplaceIds") else {
            return invalid("Missing required 'MarketplaceIds' parameter", rate);
        };
        let markets: Vec<&str> = markets.split(',').collect();
        if let Some(unknown) = markets.iter().find(|m| **m != MARKETPLACE) {
            return invalid(&format!("Invalid MarketplaceId: {unknown}"), rate);
        }
        let after = match (
            r.query_value("LastUpdatedAfter"),
            r.query_value("CreatedAfter"),
        ) {
            (Some(after), None) => after,
            (None, None) => {
                return invalid(
                    "Either CreatedAfter or LastUpdatedAfter must be specified",
                    rate,
                );
            }
            _ => {
                return invalid(
                    "CreatedAfter and LastUpdatedAfter cannot both be specified",
                    rate,
                );
            }
        };
        let Ok(after) = after.parse::<jiff::Timestamp>() else {
            return invalid(
                &format!("LastUpdatedAfter {after} is not a valid ISO 8601 date and time"),
                rate,
            );
        };
        let size = match r.query_value("MaxResultsPerPage") {
            None => 100,
            Some(n) => match n.parse::<usize>() {
                Ok(n @ 1..=100) => n,
                _ => return invalid("MaxResultsPerPage must be between 1 and 100", rate),
            },
        };
        let offset = match r.query_value("NextToken") {
            None => 0,
            Some(token) => match self.read_token("orders", &token) {
                Some(offset) => offset,
                None => return invalid("Invalid NextToken", rate),
            },
        };
        let mut listed: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.marketplace == MARKETPLACE && o.updated >= after.as_second())
            .collect();
        // Amazon lists by when the order was placed, not by its last update.
        listed.sort_by(|a, b| (a.purchased, &a.id).cmp(&(b.purchased, &b.id)));
        let page: Vec<Value> = listed
            .iter()
            .skip(offset)
            .take(size)
            .map(|o| self.order_json(o))
            .collect();
        let mut payload = json!({ "Orders": page });
        if offset + size < listed.len() {
            payload["NextToken"] = json!(self.next_token("orders", offset + size));
        }
        reply(200, Some(json!({ "payload": payload })), rate)
    }

    fn not_found(id: &str, rate: &str) -> Response {
        error(
            404,
            "NotFound",
            &format!("Order {id} was not found"),
            "",
            rate,
        )
    }

    /// `GET /orders/v0/orders/{orderId}/orderItems`.
    fn get_order_items(&self, id: &str, r: &Recorded) -> Response {
        let rate = GET_ORDER_RATE;
        let Some(o) = self.orders.get(id) else {
            return Self::not_found(id, rate);
        };
        let offset = match r.query_value("NextToken") {
            None => 0,
            Some(token) => match self.read_token(&format!("items:{id}"), &token) {
                Some(offset) => offset,
                None => return invalid("Invalid NextToken", rate),
            },
        };
        let items: Vec<Value> = o
            .items
            .iter()
            .skip(offset)
            .take(self.items_per_page)
            .map(|i| self.item_json(o, i))
            .collect();
        let mut payload = json!({ "AmazonOrderId": id, "OrderItems": items });
        if offset + self.items_per_page < o.items.len() {
            payload["NextToken"] =
                json!(self.next_token(&format!("items:{id}"), offset + self.items_per_page));
        }
        reply(200, Some(json!({ "payload": payload })), rate)
    }

    /// `POST /orders/v0/orders/{orderId}/shipmentConfirmation`.
    fn confirm_shipment(&mut self, id: &str, body: &Value) -> Response {
        let rate = CONFIRM_RATE;
        let at = self.next_change();
        let Some(o) = self.orders.get(id) else {
            return Self::not_found(id, rate);
        };
        if body["marketplaceId"].as_str() != Some(o.marketplace.as_str()) {
            return invalid(
                &format!("Invalid marketplaceId: {}", body["marketplaceId"]),
                rate,
            );
        }
        if o.fulfillment != "MFN" {
            return invalid(
                "Shipment confirmation is not supported for Amazon-fulfilled orders",
                rate,
            );
        }
        if !matches!(
            o.status.as_str(),
            "Unshipped" | "PartiallyShipped" | "Shipped" | "InvoiceUnconfirmed"
        ) {
            return invalid(
                &format!(
                    "Order {id} is in status {} and cannot be confirmed",
                    o.status
                ),
                rate,
            );
        }
        let detail = &body["packageDetail"];
        let reference = detail["packageReferenceId"].as_str().unwrap_or_default();
        let positive = !reference.is_empty()
            && reference.bytes().all(|b| b.is_ascii_digit())
            && reference.bytes().any(|b| b != b'0');
        if !positive {
            return invalid(
                "PackageReferenceId: is invalid, must be a positive numeric value.",
                rate,
            );
        }
        let code = detail["carrierCode"].as_str().unwrap_or_default();
        if !CARRIER_CODES.contains(&code) {
            return invalid(&format!("Invalid carrierCode: {code}"), rate);
        }
        let name = detail["carrierName"]
            .as_str()
            .filter(|n| !n.trim().is_empty());
        if code == "Other" && name.is_none() {
            return invalid("carrierName is required when carrierCode is Other", rate);
        }
        let tracking = detail["trackingNumber"].as_str().unwrap_or_default();
        if tracking.trim().is_empty() {
            return invalid("trackingNumber is required", rate);
        }
        let mut items = Vec::new();
        for line in detail["orderItems"].as_array().into_iter().flatten() {
            let item = line["orderItemId"].as_str().unwrap_or_default();
            let quantity = line["quantity"].as_u64().unwrap_or(0);
            if !o.items.iter().any(|i| i.id == item) {
                return invalid(
                    &format!(
                        "OrderItemId {item} is invalid, please obtain the value through the getOrderItems API or Manage Orders page"
                    ),
                    rate,
                );
            }
            if quantity == 0 {
                return invalid(
                    &format!("Quantity of OrderItemId {item} must be positive"),
                    rate,
                );
            }
            items.push((item.to_owned(), quantity as u32));
        }
        if items.is_empty() {
            return invalid("orderItems must name at least one order item", rate);
        }
        let package = Package {
            reference: reference.to_owned(),
            carrier_code: code.to_owned(),
            carrier_name: name.map(str::to_owned),
            tracking_number: tracking.to_owned(),
            ship_date: detail["shipDate"].as_str().unwrap_or_default().to_owned(),
            items,
        };
        // The same reference edits that package; another one adds a package.
        let mut after = o.clone();
        after.packages.retain(|p| p.reference != package.reference);
        after.packages.push(package);
        if after
            .items
            .iter()
            .any(|i| after.shipped(&i.id) > i.quantity)
        {
            return error(
                400,
                "InvalidInput",
                "Failed to create package due to not finding a matching package or order already fulfilled.",
                "",
                rate,
            );
        }
        after.status = if after
            .items
            .iter()
            .all(|i| after.shipped(&i.id) >= i.quantity)
        {
            "Shipped".into()
        } else {
            "PartiallyShipped".into()
        };
        after.updated = at;
        self.orders.insert(id.to_owned(), after);
        self.confirmations += 1;
        if std::mem::take(&mut self.lose_next_confirmation) {
            return error(
                503,
                "ServiceUnavailable",
                "Service temporarily unavailable. Please retry.",
                "",
                rate,
            );
        }
        reply(204, None, rate)
    }
}

impl Platform for Amazon {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<PathBuf> {
        Some(shared_spec(SPEC))
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        if let Some(refused) = self.refused(request) {
            return refused;
        }
        match (request.method.as_str(), segments(&request.path).as_slice()) {
            ("GET", ["orders", "v0", "orders"]) => self.get_orders(request),
            ("GET", ["orders", "v0", "orders", id]) => match self.orders.get(*id) {
                Some(o) => reply(
                    200,
                    Some(json!({ "payload": self.order_json(o) })),
                    GET_ORDER_RATE,
                ),
                None => Self::not_found(id, GET_ORDER_RATE),
            },
            ("GET", ["orders", "v0", "orders", id, "orderItems"]) => {
                self.get_order_items(id, request)
            }
            ("POST", ["orders", "v0", "orders", id, "shipmentConfirmation"]) => {
                let id = (*id).to_owned();
                self.confirm_shipment(&id, &request.body)
            }
            _ => error(
                404,
                "NotFound",
                &format!("No operation {} {}", request.method, request.path),
                "",
                GET_ORDER_RATE,
            ),
        }
    }
}

/// The fake Amazon holding `amazon(tokens)` and its Login with Amazon
/// endpoint, each on a loopback port of its own.
pub async fn start(
    amazon: impl FnOnce(Tokens) -> Amazon,
) -> (Server<Amazon>, Server<TokenEndpoint>) {
    let (lwa, tokens) =
        oauth::start(TOKEN_PATH, CLIENT_ID, Some(CLIENT_SECRET), REFRESH_TOKEN).await;
    (serve(amazon(tokens)).await, lwa)
}

/// The channel config of the `amazon` plugin for the fake whose token
/// endpoint runs at `lwa_url` (its origin must be granted to the channel).
pub fn config(lwa_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("refresh-token", REFRESH_TOKEN.to_owned()),
        ("client-id", CLIENT_ID.to_owned()),
        ("client-secret", CLIENT_SECRET.to_owned()),
        ("marketplace-id", MARKETPLACE.to_owned()),
        ("token-url", format!("{lwa_url}{TOKEN_PATH}")),
    ]
}
