//! A fake eBay Sell Fulfillment API v1 under `/sell/fulfillment/v1`, checked
//! against eBay's published description: `getOrders` (the `filter`
//! criteria `lastmodifieddate`, `creationdate` and `orderfulfillmentstatus`
//! with eBay's millisecond timestamps and its 90-day reach, `orderIds`,
//! `limit`/`offset` paging with `next`, `prev` and `total`, orders listed
//! oldest created first), `getOrder`, and shipping fulfillments (list,
//! read, create with eBay's refusals of an unknown line item, carrier code
//! or shipped date). The fulfillment status follows the fulfillments, as on
//! eBay: NOT_STARTED, IN_PROGRESS while some line item is not covered,
//! FULFILLED once all are. Bearer tokens are those of a fake token
//! endpoint ([`Tokens`]); errors come in eBay's shape
//! (`{"errors":[{"errorId","domain","category","message","longMessage"}]}`).
//!
//! For tests and the demo: [`Ebay::seeded`] orders, changes made on eBay's
//! side ([`Ebay::pay`], [`Ebay::refund`], [`Ebay::ship`]) that move an
//! order's `lastModifiedDate` so that intake sees them, and a create whose
//! answer is lost after eBay applied it ([`Ebay::lose_next_create`]).

use std::collections::BTreeMap;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use statusport_tests::fake::oauth::Tokens;
use statusport_tests::fake::{Common, Platform, Recorded, json as answer, segments, shared_spec};

/// Where the API lives below eBay's host.
pub const BASE_PATH: &str = "/sell/fulfillment/v1";
/// eBay's token endpoint, on the API's host.
pub const TOKEN_PATH: &str = "/identity/v1/oauth2/token";
/// The seller the fake's orders belong to.
const SELLER: &str = "teapot_emporium";
/// How far back eBay's order search reaches.
const REACH_MS: i64 = 90 * 86_400_000;

/// Shipping carrier codes eBay takes (a part of the Trading API's
/// ShippingCarrierCodeType).
pub const CARRIER_CODES: &[&str] = &[
    "BPost",
    "Colissimo",
    "DHL",
    "DHLEXPRESS",
    "DPD",
    "DeutschePost",
    "FedEx",
    "GLS",
    "Hermes",
    "OsterreichischePostAG",
    "Other",
    "PostNL",
    "RoyalMail",
    "SwissPost",
    "TNT",
    "UPS",
    "USPS",
];

/// One line item.
#[derive(Clone, Debug)]
pub struct Line {
    pub id: String,
    pub sku: String,
    pub title: String,
    pub legacy_item_id: String,
    pub quantity: u32,
    /// Minor units of the order's currency.
    pub unit_price: i64,
}

/// One shipping fulfillment.
#[derive(Clone, Debug)]
pub struct Fulfillment {
    pub id: String,
    pub tracking_number: String,
    pub carrier: String,
    pub shipped_date: String,
    /// `(lineItemId, quantity)`.
    pub lines: Vec<(String, u32)>,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub legacy_id: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// `lastModifiedDate`, milliseconds since the epoch.
    pub modified_ms: i64,
    pub buyer: String,
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country_code: String,
    pub currency: String,
    /// Minor units.
    pub shipping: i64,
    pub lines: Vec<Line>,
    /// `orderPaymentStatus`.
    pub payment_status: String,
    pub payment_method: String,
    pub fulfillments: Vec<Fulfillment>,
}

impl Order {
    /// A paid order of one line, placed at `created_ms`.
    pub fn new(id: &str, created_ms: i64) -> Order {
        Order {
            id: id.to_owned(),
            legacy_id: format!("1105{}", id.replace('-', "")),
            created_ms,
            modified_ms: created_ms,
            buyer: "tea_lover_77".into(),
            full_name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            phone: "+1 555 0100".into(),
            street: "1 Infinite Loop".into(),
            city: "Cupertino".into(),
            postal_code: "95014".into(),
            country_code: "US".into(),
            currency: "USD".into(),
            shipping: 499,
            lines: vec![Line {
                id: line_id(1),
                sku: "TEA-100".into(),
                title: "Cast iron teapot".into(),
                legacy_item_id: "110551234567".into(),
                quantity: 1,
                unit_price: 4900,
            }],
            payment_status: "PAID".into(),
            payment_method: "EBAY".into(),
            fulfillments: Vec::new(),
        }
    }

    /// How many units of line `id` the fulfillments cover.
    fn shipped(&self, id: &str) -> u32 {
        self.fulfillments
            .iter()
            .flat_map(|f| &f.lines)
            .filter(|(line, _)| line == id)
            .map(|(_, q)| *q)
            .sum()
    }

    fn line_status(&self, line: &Line) -> &'static str {
        match self.shipped(&line.id) {
            0 => "NOT_STARTED",
            n if n < line.quantity => "IN_PROGRESS",
            _ => "FULFILLED",
        }
    }

    /// `orderFulfillmentStatus`, as eBay derives it from the fulfillments.
    pub fn fulfillment_status(&self) -> &'static str {
        let states: Vec<&str> = self.lines.iter().map(|l| self.line_status(l)).collect();
        if states.iter().all(|s| *s == "FULFILLED") && !states.is_empty() {
            "FULFILLED"
        } else if states.iter().all(|s| *s == "NOT_STARTED") {
            "NOT_STARTED"
        } else {
            "IN_PROGRESS"
        }
    }

    fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.unit_price * i64::from(l.quantity))
            .sum::<i64>()
            + self.shipping
    }
}

/// An eBay line item id: 14 digits.
pub fn line_id(n: u64) -> String {
    format!("1{:013}", n)
}

/// An eBay order id for the `n`th order: `27-00000-00001`.
pub fn order_id(n: u64) -> String {
    format!("27-{:05}-{:05}", n / 100_000, n % 100_000)
}

/// A time as eBay writes it: `2015-08-04T19:09:02.768Z`.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("a time in range")
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A time as eBay takes it in filters and bodies: exactly
/// `YYYY-MM-DDTHH:MM:SS.sssZ`; anything else is none.
fn parse_time(text: &str) -> Option<i64> {
    let well_formed = text.len() == 24
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'.',
            23 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return None;
    }
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

fn decimals(currency: &str) -> u32 {
    if currency == "JPY" { 0 } else { 2 }
}

/// An Amount: `{"value": "19.99", "currency": "USD"}`.
fn amount(minor: i64, currency: &str) -> Value {
    let value = match decimals(currency) {
        0 => minor.to_string(),
        _ => {
            let sign = if minor < 0 { "-" } else { "" };
            let abs = minor.unsigned_abs();
            format!("{sign}{}.{:02}", abs / 100, abs % 100)
        }
    };
    json!({ "value": value, "currency": currency })
}

/// An error in eBay's shape.
pub fn error(status: u16, id: u32, domain: &str, message: &str, long: &str) -> Response {
    answer(
        status,
        json!({ "errors": [{
            "errorId": id,
            "domain": domain,
            "category": "REQUEST",
            "message": message,
            "longMessage": long,
        }] }),
    )
}

fn request_error(id: u32, message: &str, long: &str) -> Response {
    error(400, id, "API_FULFILLMENT", message, long)
}

pub struct Ebay {
    common: Common,
    /// The token endpoint whose access tokens the API takes.
    pub tokens: Tokens,
    pub orders: BTreeMap<String, Order>,
    fulfillments_made: u64,
    /// Apply the next `createShippingFulfillment`, then answer this status
    /// instead of 201, as when eBay's answer is lost on the way.
    pub lose_next_create: Option<u16>,
    /// eBay's token endpoint on the API's own host, when served here.
    token_endpoint: Option<super::oauth::TokenEndpoint>,
}

impl Ebay {
    /// A seller with the given orders and no token accepted yet.
    pub fn new(orders: Vec<Order>) -> Ebay {
        Ebay {
            common: Common::default(),
            tokens: Tokens::default(),
            orders: orders.into_iter().map(|o| (o.id.clone(), o)).collect(),
            fulfillments_made: 0,
            lose_next_create: None,
            token_endpoint: None,
        }
    }

    /// Serves eBay's token endpoint (`/identity/v1/oauth2/token`) on the
    /// API's own host, as eBay does, for one client and refresh token, and
    /// takes the access tokens it hands out. A channel then needs no extra
    /// host: the token URL is on its base URL's origin.
    pub fn with_token_endpoint(
        mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Ebay {
        let (endpoint, tokens) =
            super::oauth::endpoint(TOKEN_PATH, client_id, Some(client_secret), refresh_token);
        self.token_endpoint = Some(endpoint);
        self.tokens = tokens;
        self
    }

    /// A seller with `n` orders placed one a minute up to an hour ago, each
    /// paid half a minute later (its `lastModifiedDate`). Ids
    /// `order_id(1..=n)`; one to three lines each; every sixth in EUR, the
    /// rest in USD; every seventh still PENDING; every fifth shipped in full
    /// with DHL twenty minutes after it was placed (FULFILLED, last modified
    /// then).
    pub fn seeded(n: usize) -> Ebay {
        let start = jiff::Timestamp::now().as_millisecond() - 3_600_000 - 60_000 * n as i64;
        let orders = (1..=n as u64)
            .map(|i| {
                let created_ms = start + 60_000 * i as i64;
                let mut o = Order::new(&order_id(i), created_ms);
                o.modified_ms = created_ms + 30_000;
                o.buyer = format!("buyer_{}", i % 97);
                o.full_name = format!("Given{i} Family{}", i % 97);
                o.email = format!("buyer{i}@example.com");
                o.street = format!("{} Market Street", 100 + i);
                o.city = "San Francisco".into();
                o.postal_code = "94105".into();
                if i % 6 == 0 {
                    o.currency = "EUR".into();
                    o.country_code = "DE".into();
                }
                if i % 7 == 0 {
                    o.payment_status = "PENDING".into();
                }
                o.lines = (0..1 + i % 3)
                    .map(|k| Line {
                        id: line_id(i * 10 + k),
                        sku: format!("TEA-{}", 100 + k),
                        title: format!("Tea article {}", 100 + k),
                        legacy_item_id: format!("1105512{:05}", 100 + k),
                        quantity: 1 + (i % 4) as u32,
                        unit_price: 1990 + 100 * k as i64,
                    })
                    .collect();
                if i % 5 == 0 {
                    let shipped_ms = created_ms + 20 * 60_000;
                    o.fulfillments.push(Fulfillment {
                        id: format!("{:022}", 9_000_000 + i),
                        tracking_number: format!("00340434{:012}", i),
                        carrier: "DHL".into(),
                        shipped_date: time(shipped_ms),
                        lines: o.lines.iter().map(|l| (l.id.clone(), l.quantity)).collect(),
                    });
                    o.modified_ms = shipped_ms;
                }
                o
            })
            .collect();
        Ebay::new(orders)
    }

    /// Takes the access tokens of `tokens`' endpoint.
    pub fn accepting(mut self, tokens: Tokens) -> Ebay {
        self.tokens = tokens;
        self
    }

    /// A time after every order's `lastModifiedDate`, and not before now: a
    /// change made now gets it.
    fn clock(&self) -> i64 {
        let latest = self
            .orders
            .values()
            .map(|o| o.modified_ms)
            .max()
            .unwrap_or(0);
        jiff::Timestamp::now().as_millisecond().max(latest + 1)
    }

    fn change(&mut self, id: &str, change: impl FnOnce(&mut Order, i64)) {
        let at = self.clock();
        let order = self
            .orders
            .get_mut(id)
            .unwrap_or_else(|| panic!("the fake eBay has no order {id}"));
        change(order, at);
        order.modified_ms = at;
    }

    /// The buyer's payment clears.
    pub fn pay(&mut self, id: &str) {
        self.change(id, |o, _| o.payment_status = "PAID".into())
    }

    /// The seller refunds the buyer, in full or in part.
    pub fn refund(&mut self, id: &str, full: bool) {
        self.change(id, |o, _| {
            o.payment_status = if full {
                "FULLY_REFUNDED"
            } else {
                "PARTIALLY_REFUNDED"
            }
            .into()
        })
    }

    /// The seller ships what is left of the order in Seller Hub.
    pub fn ship(&mut self, id: &str, carrier: &str, tracking_number: &str) {
        self.fulfillments_made += 1;
        let fulfillment_id = format!("{:022}", self.fulfillments_made);
        self.change(id, |o, at| {
            let lines = o
                .lines
                .iter()
                .map(|l| (l.id.clone(), l.quantity.saturating_sub(o.shipped(&l.id))))
                .filter(|(_, q)| *q > 0)
                .collect();
            o.fulfillments.push(Fulfillment {
                id: fulfillment_id,
                tracking_number: tracking_number.to_owned(),
                carrier: carrier.to_owned(),
                shipped_date: time(at),
                lines,
            });
        })
    }

    fn order(&self, id: &str) -> Option<&Order> {
        self.orders.get(id)
    }

    /// `GET /order`.
    fn search(&self, request: &Recorded) -> Response {
        let now = jiff::Timestamp::now().as_millisecond();
        let limit = match request.query_value("limit") {
            None => 50,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return request_error(
                        31100,
                        "Invalid limit",
                        &format!("Invalid limit: {text}"),
                    );
                }
            },
        };
        let offset = match request.query_value("offset") {
            None => 0,
            Some(text) => match text.parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    return request_error(
                        31000,
                        "Invalid offset",
                        &format!("Invalid offset: {text}"),
                    );
                }
            },
        };
        let mut found: Vec<&Order> = if let Some(ids) = request.query_value("orderIds") {
            let ids: Vec<&str> = ids.split(',').map(str::trim).collect();
            if ids.len() > 50 {
                return request_error(
                    30900,
                    "Too many order IDs",
                    "Exceeded maximum number of order IDs (the current limit is 50)",
                );
            }
            ids.iter().filter_map(|id| self.order(id)).collect()
        } else {
            let criteria = match request.query_value("filter") {
                Some(filter) => match Criteria::parse(&filter, now) {
                    Ok(c) => c,
                    Err(refusal) => return refusal.answer(),
                },
                None => Criteria::default(),
            };
            self.orders
                .values()
                .filter(|o| criteria.matches(o))
                .collect()
        };
        // eBay lists orders by creation date, oldest first.
        found.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        let total = found.len() as u64;
        let orders: Vec<Value> = found
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|o| order_json(o))
            .collect();
        let page = |offset: u64| {
            let mut query: Vec<(String, String)> = url::form_urlencoded::parse(
                request.query.as_deref().unwrap_or_default().as_bytes(),
            )
            .into_owned()
            .filter(|(k, _)| k != "offset" && k != "limit")
            .collect();
            query.push(("limit".into(), limit.to_string()));
            query.push(("offset".into(), offset.to_string()));
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            format!("https://api.ebay.com{BASE_PATH}/order?{query}")
        };
        let mut body = json!({
            "href": page(offset),
            "limit": limit,
            "offset": offset,
            "total": total,
            "orders": orders,
        });
        if offset + limit < total {
            body["next"] = json!(page(offset + limit));
        }
        if offset > 0 {
            body["prev"] = json!(page(offset.saturating_sub(limit)));
        }
        answer(200, body)
    }

    /// `POST /order/{orderId}/shipping_fulfillment`.
    fn create_fulfillment(&mut self, id: &str, body: &Value) -> Response {
        let Some(order) = self.order(id) else {
            return invalid_order(id);
        };
        let invalid_input = |long: &str| request_error(32600, "Invalid input data", long);
        let Some(items) = body.get("lineItems").and_then(Value::as_array) else {
            return invalid_input("lineItems must list the line items in the package");
        };
        if items.is_empty() {
            return invalid_input("lineItems must list the line items in the package");
        }
        let mut lines = Vec::new();
        for item in items {
            let line_id = item.get("lineItemId").and_then(Value::as_str);
            let Some(line) = line_id.and_then(|l| order.lines.iter().find(|x| x.id == l)) else {
                return request_error(
                    32200,
                    "Invalid line item id",
                    &format!("Invalid line item id: {}", line_id.unwrap_or("none")),
                );
            };
            let quantity = match item.get("quantity") {
                None => line.quantity,
                Some(q) => match q.as_u64() {
                    Some(q) if q >= 1 => q as u32,
                    _ => return invalid_input(&format!("quantity {q} is not a positive integer")),
                },
            };
            lines.push((line.id.clone(), quantity));
        }
        let shipped_date = match body.get("shippedDate") {
            None => time(jiff::Timestamp::now().as_millisecond()),
            Some(Value::String(text)) if parse_time(text).is_some() => text.clone(),
            Some(other) => {
                return request_error(
                    32500,
                    "Invalid shipped date",
                    &format!("Invalid shipped date: {other}"),
                );
            }
        };
        let carrier = body.get("shippingCarrierCode").and_then(Value::as_str);
        let tracking = body.get("trackingNumber").and_then(Value::as_str);
        let tracking_ok =
            tracking.is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()));
        let carrier_ok = carrier.is_some_and(|c| CARRIER_CODES.contains(&c));
        if !tracking_ok || !carrier_ok {
            return request_error(
                32300,
                "Invalid shipment tracking number or carrier",
                &format!(
                    "Invalid shipment tracking number or carrier: {} {}",
                    carrier.unwrap_or("none"),
                    tracking.unwrap_or("none")
                ),
            );
        }
        self.fulfillments_made += 1;
        let fulfillment = Fulfillment {
            id: format!("{:022}", 7_000_000_000 + self.fulfillments_made),
            tracking_number: tracking.unwrap_or_default().to_owned(),
            carrier: carrier.unwrap_or_default().to_owned(),
            shipped_date,
            lines,
        };
        let location = format!(
            "https://api.ebay.com{BASE_PATH}/order/{id}/shipping_fulfillment/{}",
            fulfillment.id
        );
        self.change(id, |o, _| o.fulfillments.push(fulfillment));
        if let Some(status) = self.lose_next_create.take() {
            return error(
                status,
                30500,
                "API_FULFILLMENT",
                "System error",
                "System error: the answer did not reach the caller",
            );
        }
        let mut created = answer(201, json!({}));
        created.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("a location is a header value"),
        );
        created
    }
}

fn invalid_order(id: &str) -> Response {
    request_error(
        32100,
        "Invalid order ID",
        &format!("Invalid order ID: {id}"),
    )
}

/// A request eBay refuses with 400: its error id and messages.
struct Refusal {
    id: u32,
    message: &'static str,
    long: String,
}

impl Refusal {
    fn new(id: u32, message: &'static str, long: &str) -> Refusal {
        Refusal {
            id,
            message,
            long: long.to_owned(),
        }
    }

    fn answer(self) -> Response {
        request_error(self.id, self.message, &self.long)
    }
}

/// What a `filter` asks for.
#[derive(Default)]
struct Criteria {
    created: Option<(i64, Option<i64>)>,
    modified: Option<(i64, Option<i64>)>,
    fulfillment: Option<Vec<String>>,
}

impl Criteria {
    fn parse(filter: &str, now: i64) -> Result<Criteria, Refusal> {
        let mut criteria = Criteria::default();
        for criterion in filter.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let invalid_value = || {
                Refusal::new(
                    30800,
                    "Invalid filter value",
                    &format!("Invalid filter value {criterion}"),
                )
            };
            let Some((name, value)) = criterion.split_once(':') else {
                return Err(invalid_value());
            };
            match name {
                "creationdate" | "lastmodifieddate" => {
                    let range = value
                        .strip_prefix('[')
                        .and_then(|v| v.strip_suffix(']'))
                        .and_then(|v| v.split_once(".."))
                        .ok_or_else(invalid_value)?;
                    let date = |text: &str| {
                        parse_time(text).ok_or_else(|| {
                            Refusal::new(
                                30810,
                                "Invalid date format",
                                &format!("Invalid date format: {text}"),
                            )
                        })
                    };
                    if range.0.is_empty() {
                        return Err(Refusal::new(
                            30820,
                            "Start date is missing",
                            "Start date is missing",
                        ));
                    }
                    let start = date(range.0)?;
                    let end = match range.1 {
                        "" => None,
                        text => Some(date(text)?),
                    };
                    if start < now - REACH_MS {
                        return Err(Refusal::new(
                            30830,
                            "Start date too early",
                            "Start date must be within 90 days of end date and current date.",
                        ));
                    }
                    if start > now || end.is_some_and(|e| e > now) {
                        return Err(Refusal::new(
                            30850,
                            "Dates in the future",
                            "Start and end dates can't be in the future",
                        ));
                    }
                    if end.is_some_and(|e| e < start) {
                        return Err(Refusal::new(
                            30840,
                            "Start date after end date",
                            "Start date should be before end date",
                        ));
                    }
                    if name == "creationdate" {
                        criteria.created = Some((start, end));
                    } else {
                        criteria.modified = Some((start, end));
                    }
                }
                "orderfulfillmentstatus" => {
                    let set = value
                        .strip_prefix('{')
                        .and_then(|v| v.strip_suffix('}'))
                        .ok_or_else(invalid_value)?;
                    let mut states: Vec<String> = set.split('|').map(str::to_owned).collect();
                    states.sort();
                    let supported = [
                        vec!["IN_PROGRESS".to_owned(), "NOT_STARTED".to_owned()],
                        vec!["FULFILLED".to_owned(), "IN_PROGRESS".to_owned()],
                    ];
                    if !supported.contains(&states) {
                        return Err(invalid_value());
                    }
                    criteria.fulfillment = Some(states);
                }
                other => {
                    return Err(Refusal::new(
                        30700,
                        "Invalid filter name",
                        &format!("Invalid filter name: {other}"),
                    ));
                }
            }
        }
        // eBay: with both, only creationdate is used.
        if criteria.created.is_some() {
            criteria.modified = None;
        }
        Ok(criteria)
    }

    fn matches(&self, o: &Order) -> bool {
        let within = |range: Option<(i64, Option<i64>)>, at: i64| {
            range.is_none_or(|(start, end)| at >= start && end.is_none_or(|e| at <= e))
        };
        within(self.created, o.created_ms)
            && within(self.modified, o.modified_ms)
            && self
                .fulfillment
                .as_ref()
                .is_none_or(|states| states.iter().any(|s| s == o.fulfillment_status()))
    }
}

fn fulfillment_json(f: &Fulfillment) -> Value {
    json!({
        "fulfillmentId": f.id,
        "shipmentTrackingNumber": f.tracking_number,
        "shippingCarrierCode": f.carrier,
        "shippedDate": f.shipped_date,
        "lineItems": f.lines.iter()
            .map(|(id, q)| json!({ "lineItemId": id, "quantity": q }))
            .collect::<Vec<_>>(),
    })
}

/// An order as `getOrders` and `getOrder` answer it.
fn order_json(o: &Order) -> Value {
    let c = o.currency.as_str();
    let marketplace = if c == "EUR" { "EBAY_DE" } else { "EBAY_US" };
    let subtotal: i64 = o
        .lines
        .iter()
        .map(|l| l.unit_price * i64::from(l.quantity))
        .sum();
    let total = o.total();
    let ship_to = json!({
        "fullName": o.full_name,
        "email": o.email,
        "primaryPhone": { "phoneNumber": o.phone },
        "contactAddress": {
            "addressLine1": o.street,
            "city": o.city,
            "postalCode": o.postal_code,
            "countryCode": o.country_code,
        },
    });
    let mut payment = json!({
        "paymentMethod": o.payment_method,
        "amount": amount(total, c),
        "paymentStatus": if o.payment_status == "PENDING" { "PENDING" } else { "PAID" },
    });
    if o.payment_status != "PENDING" {
        payment["paymentDate"] = json!(time(o.created_ms + 30_000));
        payment["paymentReferenceId"] = json!(format!("5{}", o.legacy_id));
    }
    json!({
        "orderId": o.id,
        "legacyOrderId": o.legacy_id,
        "creationDate": time(o.created_ms),
        "lastModifiedDate": time(o.modified_ms),
        "orderFulfillmentStatus": o.fulfillment_status(),
        "orderPaymentStatus": o.payment_status,
        "sellerId": SELLER,
        "buyer": {
            "username": o.buyer,
            "taxAddress": {
                "city": o.city,
                "postalCode": o.postal_code,
                "countryCode": o.country_code,
            },
        },
        "pricingSummary": {
            "priceSubtotal": amount(subtotal, c),
            "deliveryCost": amount(o.shipping, c),
            "total": amount(total, c),
        },
        "cancelStatus": { "cancelState": "NONE_REQUESTED", "cancelRequests": [] },
        "paymentSummary": {
            "totalDueSeller": amount(total, c),
            "refunds": [],
            "payments": [payment],
        },
        "fulfillmentStartInstructions": [{
            "fulfillmentInstructionsType": "SHIP_TO",
            "ebaySupportedFulfillment": false,
            "minEstimatedDeliveryDate": time(o.created_ms + 2 * 86_400_000),
            "maxEstimatedDeliveryDate": time(o.created_ms + 5 * 86_400_000),
            "shippingStep": {
                "shipTo": ship_to,
                "shippingCarrierCode": "USPS",
                "shippingServiceCode": "USPSPriority",
            },
        }],
        "fulfillmentHrefs": o.fulfillments.iter()
            .map(|f| format!("https://api.ebay.com{BASE_PATH}/order/{}/shipping_fulfillment/{}", o.id, f.id))
            .collect::<Vec<_>>(),
        "lineItems": o.lines.iter().map(|l| json!({
            "lineItemId": l.id,
            "legacyItemId": l.legacy_item_id,
            "sku": l.sku,
            "title": l.title,
            "quantity": l.quantity,
            "lineItemCost": amount(l.unit_price * i64::from(l.quantity), c),
            "total": amount(l.unit_price * i64::from(l.quantity), c),
            "deliveryCost": { "shippingCost": amount(0, c) },
            "soldFormat": "FIXED_PRICE",
            "listingMarketplaceId": marketplace,
            "purchaseMarketplaceId": marketplace,
            "lineItemFulfillmentStatus": o.line_status(l),
            "lineItemFulfillmentInstructions": {
                "guaranteedDelivery": false,
                "shipByDate": time(o.created_ms + 3 * 86_400_000),
            },
            "properties": { "buyerProtection": true },
            "appliedPromotions": [],
            "taxes": [],
            "refunds": [],
        })).collect::<Vec<_>>(),
        "salesRecordReference": o.legacy_id.chars().rev().take(4).collect::<String>(),
    })
}

impl Platform for Ebay {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<std::path::PathBuf> {
        Some(shared_spec("ebay-sell-fulfillment-v1-oas3.json"))
    }

    /// The token endpoint is eBay's Identity API, not in this description.
    fn described(request: &Recorded) -> bool {
        request.path != TOKEN_PATH
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        if let Some(endpoint) = self.token_endpoint.as_mut().filter(|e| e.answers(request)) {
            return endpoint.handle(request);
        }
        let Some(rest) = request.path.strip_prefix(BASE_PATH) else {
            return error(
                404,
                2002,
                "API_FULFILLMENT",
                "Resource not found",
                &format!("No resource at {}", request.path),
            );
        };
        let authorised = request
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer ") && self.tokens.accepts(a));
        if !authorised {
            return error(
                401,
                1001,
                "OAuth",
                "Invalid access token",
                "Invalid access token. Check the value of the Authorization HTTP request header.",
            );
        }
        match (request.method.as_str(), &segments(rest)[..]) {
            ("GET", ["order"]) => self.search(request),
            ("GET", ["order", id]) => match self.order(id) {
                Some(o) => answer(200, order_json(o)),
                None => error(
                    404,
                    32100,
                    "API_FULFILLMENT",
                    "Invalid order ID",
                    &format!("Invalid order ID: {id}"),
                ),
            },
            ("GET", ["order", id, "shipping_fulfillment"]) => match self.order(id) {
                Some(o) => answer(
                    200,
                    json!({
                        "fulfillments": o.fulfillments.iter().map(fulfillment_json).collect::<Vec<_>>(),
                        "total": o.fulfillments.len(),
                    }),
                ),
                None => invalid_order(id),
            },
            ("POST", ["order", id, "shipping_fulfillment"]) => {
                let id = (*id).to_owned();
                self.create_fulfillment(&id, &request.body)
            }
            ("GET", ["order", id, "shipping_fulfillment", fulfillment]) => {
                let Some(o) = self.order(id) else {
                    return invalid_order(id);
                };
                match o.fulfillments.iter().find(|f| f.id == *fulfillment) {
                    Some(f) => answer(200, fulfillment_json(f)),
                    None => error(
                        404,
                        32110,
                        "API_FULFILLMENT",
                        "Invalid shipping fulfillment ID",
                        &format!("Invalid shipping fulfillment ID: {fulfillment}"),
                    ),
                }
            }
            _ => error(
                404,
                2002,
                "API_FULFILLMENT",
                "Resource not found",
                &format!("No {} {}", request.method, request.path),
            ),
        }
    }
}
