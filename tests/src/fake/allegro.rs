//! A fake Allegro REST API: the order event log (`GET /order/events`, with
//! `from`, `type` and `limit`), checkout forms, the seller's fulfillment
//! status (`PUT …/fulfillment` with the checkout form's revision), parcel
//! tracking numbers and the carrier list — checked against Allegro's
//! published description (`allegro-rest-api-oas3.yaml`).
//!
//! It answers as Allegro does: only to a bearer token its token endpoint
//! (the fake OAuth endpoint of [`token_endpoint`], which rotates refresh
//! tokens as Allegro does) issued and has not revoked; only to
//! `Accept: application/vnd.allegro.public.v1+json` (406 otherwise) and to
//! bodies of that type (415 otherwise); with Allegro's error shape
//! (`{"errors":[{"code","message","details","path","userMessage"}]}`).
//! It refuses what Allegro refuses: RETURNED from a seller, a fulfillment
//! change of an order fulfilled by Allegro, a change past the limit of 100
//! per order (422), an outdated `checkoutForm.revision` (409), an unknown
//! carrier, `OTHER` without a name, a line item of another order.
//!
//! Changes on the platform's side — a purchase, a payment, a buyer's
//! cancellation, a status set in the Sales Center — write events to the log
//! as Allegro does, so that intake sees them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use statusport_tests::fake::oauth::{self, TokenEndpoint, Tokens};
use statusport_tests::fake::{Common, Platform, Recorded, Server, segments, shared_spec};

/// Allegro's media type, which every request must accept and every body
/// must have.
pub const MEDIA_TYPE: &str = "application/vnd.allegro.public.v1+json";
/// The application and the seller's refresh token the fake knows.
pub const CLIENT_ID: &str = "allegro-client-id";
pub const CLIENT_SECRET: &str = "allegro-client-secret";
pub const REFRESH_TOKEN: &str = "allegro-refresh-0";
/// Where the token endpoint answers, as on allegro.pl.
pub const TOKEN_PATH: &str = "/auth/oauth/token";
/// Allegro's limit of fulfillment status changes per order.
pub const CHANGE_LIMIT: u32 = 100;
/// The seller's account.
pub const SELLER_ID: &str = "44012345";

/// `carrierId`s `GET /order/carriers` lists here (a part of Allegro's list).
pub const CARRIERS: &[(&str, &str)] = &[
    ("ALLEGRO", "Allegro One Kurier"),
    ("DHL", "DHL"),
    ("DPD", "DPD"),
    ("FEDEX", "FedEx"),
    ("GLS", "GLS"),
    ("INPOST", "InPost"),
    ("ORLEN", "ORLEN Paczka"),
    ("POCZTA_POLSKA", "Poczta Polska"),
    ("UPS", "UPS"),
    ("OTHER", "Inny przewoźnik"),
];

const FULFILLMENT: &[&str] = &[
    "NEW",
    "PROCESSING",
    "READY_FOR_SHIPMENT",
    "READY_FOR_PICKUP",
    "SENT",
    "PICKED_UP",
    "CANCELLED",
    "SUSPENDED",
    "RETURNED",
];

const EVENT_TYPES: &[&str] = &[
    "BOUGHT",
    "FILLED_IN",
    "READY_FOR_PROCESSING",
    "BUYER_CANCELLED",
    "FULFILLMENT_STATUS_CHANGED",
    "BUYER_MODIFIED",
    "AUTO_CANCELLED",
];

/// The token endpoint of the fake Allegro, on a loopback port of its own:
/// it knows [`CLIENT_ID`], [`CLIENT_SECRET`] and [`REFRESH_TOKEN`], checks
/// the client by HTTP Basic, and hands out a new refresh token with every
/// access token (`refresh-1`, `refresh-2`, …), as Allegro does.
pub async fn token_endpoint() -> (Server<TokenEndpoint>, Tokens) {
    let (server, tokens) =
        oauth::start(TOKEN_PATH, CLIENT_ID, Some(CLIENT_SECRET), REFRESH_TOKEN).await;
    tokens.0.lock().unwrap_or_else(|p| p.into_inner()).rotate = true;
    (server, tokens)
}

/// The id of order `n`: a UUID, as Allegro's checkout form ids are.
pub fn order_id(n: u64) -> String {
    format!("{n:08x}-a11e-4000-8000-{n:012x}")
}

/// The id of line `k` of order `n`.
pub fn line_id(n: u64, k: u64) -> String {
    format!("{n:08x}-{k:04x}-4000-9000-{n:012x}")
}

/// A time as Allegro writes it: `2026-01-15T10:00:00.000Z`.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("a time in range")
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// An amount in grosze as Allegro writes it: `"49.99"`.
fn amount(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn price(minor: i64, currency: &str) -> Value {
    json!({ "amount": amount(minor), "currency": currency })
}

/// One line item: an offer bought in some quantity.
#[derive(Clone, Debug)]
pub struct Line {
    pub id: String,
    pub offer_id: String,
    pub offer_name: String,
    /// The seller's own signature of the offer (its SKU).
    pub external_id: Option<String>,
    pub quantity: u32,
    /// What the buyer pays per item, in grosze.
    pub price: i64,
}

/// A parcel tracking number on an order.
#[derive(Clone, Debug, PartialEq)]
pub struct Parcel {
    pub id: String,
    pub carrier_id: String,
    pub carrier_name: Option<String>,
    pub waybill: String,
    pub line_items: Vec<String>,
    pub created_ms: i64,
}

/// A checkout form: an order.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    /// The checkout status: BOUGHT, FILLED_IN, READY_FOR_PROCESSING, CANCELLED.
    pub status: String,
    /// The seller's fulfillment status.
    pub fulfillment: String,
    /// `SELLER`, or `ALLEGRO` for One Fulfillment by Allegro.
    pub provider: String,
    /// Bumped with every change; sent as `checkoutForm.revision`.
    pub revision: u64,
    /// Fulfillment status changes so far, against [`CHANGE_LIMIT`].
    pub changes: u32,
    pub buyer_id: String,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub street: String,
    pub city: String,
    pub zip_code: String,
    /// ONLINE, CASH_ON_DELIVERY, WIRE_TRANSFER, …
    pub payment_type: String,
    pub currency: String,
    /// Grosze.
    pub delivery_cost: i64,
    pub lines: Vec<Line>,
    pub shipments: Vec<Parcel>,
    /// Milliseconds since the epoch.
    pub bought_ms: i64,
    pub updated_ms: i64,
}

impl Order {
    /// Order `n`, bought at `bought_ms` and paid online: READY_FOR_PROCESSING,
    /// fulfillment NEW, two lines (a teapot with its signature, two cups
    /// without), delivery 12.99 PLN.
    pub fn new(n: u64, bought_ms: i64) -> Order {
        Order {
            id: order_id(n),
            status: "READY_FOR_PROCESSING".into(),
            fulfillment: "NEW".into(),
            provider: "SELLER".into(),
            revision: 0x819b_5836,
            changes: 0,
            buyer_id: format!("{}", 23_000_000 + n),
            login: format!("Kupujacy_{n}"),
            email: format!("kupujacy{n}+a1b2c3@allegromail.pl"),
            first_name: "Jan".into(),
            last_name: "Kowalski".into(),
            phone: "+48 600 100 200".into(),
            street: "Grunwaldzka 182".into(),
            city: "Poznań".into(),
            zip_code: "60-166".into(),
            payment_type: "ONLINE".into(),
            currency: "PLN".into(),
            delivery_cost: 1299,
            lines: vec![
                Line {
                    id: line_id(n, 1),
                    offer_id: "10000000101".into(),
                    offer_name: "Czajnik porcelanowy 1 l".into(),
                    external_id: Some("TEA-100".into()),
                    quantity: 1,
                    price: 11_990,
                },
                Line {
                    id: line_id(n, 2),
                    offer_id: "10000000102".into(),
                    offer_name: "Filiżanka z podstawkiem".into(),
                    external_id: None,
                    quantity: 2,
                    price: 2_450,
                },
            ],
            shipments: Vec::new(),
            bought_ms,
            updated_ms: bought_ms,
        }
    }

    /// The checkout form as `GET /order/checkout-forms/{id}` answers it.
    pub fn to_json(&self) -> Value {
        let currency = self.currency.as_str();
        let total: i64 = self
            .lines
            .iter()
            .map(|l| l.price * i64::from(l.quantity))
            .sum::<i64>()
            + self.delivery_cost;
        let mut payment = json!({
            "id": format!("{}-0000-4000-8000-{}", &self.id[..8], &self.id[24..]),
            "type": self.payment_type,
        });
        if self.status == "READY_FOR_PROCESSING" && self.payment_type != "CASH_ON_DELIVERY" {
            payment["provider"] = json!("P24");
            payment["finishedAt"] = json!(time(self.bought_ms + 60_000));
            payment["paidAmount"] = price(total, currency);
        }
        let sent: Vec<&String> = self.shipments.iter().flat_map(|s| &s.line_items).collect();
        let lines_sent = if sent.is_empty() {
            "NONE"
        } else if self.lines.iter().all(|l| sent.contains(&&l.id)) {
            "ALL"
        } else {
            "SOME"
        };
        json!({
            "id": self.id,
            "messageToSeller": "",
            "buyer": {
                "id": self.buyer_id,
                "email": self.email,
                "login": self.login,
                "firstName": self.first_name,
                "lastName": self.last_name,
                "guest": false,
                "phoneNumber": self.phone,
                "preferences": {"language": "pl-PL"},
                "address": {
                    "street": self.street,
                    "city": self.city,
                    "postCode": self.zip_code,
                    "countryCode": "PL",
                },
            },
            "payment": payment,
            "status": self.status,
            "fulfillment": {
                "status": self.fulfillment,
                "shipmentSummary": {"lineItemsSent": lines_sent},
                "provider": {"id": self.provider},
            },
            "delivery": {
                "address": {
                    "firstName": self.first_name,
                    "lastName": self.last_name,
                    "street": self.street,
                    "city": self.city,
                    "zipCode": self.zip_code,
                    "countryCode": "PL",
                    "phoneNumber": self.phone,
                },
                "method": {"id": "c3066682-97a3-42fe-9eb5-9bb2978cf293", "name": "Kurier DPD"},
                "cost": price(self.delivery_cost, currency),
                "smart": false,
                "calculatedNumberOfPackages": 1,
            },
            "invoice": {"required": false},
            "lineItems": self.lines.iter().map(|l| self.line_json(l)).collect::<Vec<_>>(),
            "surcharges": [],
            "marketplace": {"id": "allegro-pl"},
            "summary": {"totalToPay": price(total, currency)},
            "updatedAt": time(self.updated_ms),
            "revision": format!("{:08x}", self.revision),
        })
    }

    fn line_json(&self, line: &Line) -> Value {
        let mut offer = json!({ "id": line.offer_id, "name": line.offer_name });
        if let Some(external) = &line.external_id {
            offer["external"] = json!({ "id": external });
        }
        json!({
            "id": line.id,
            "offer": offer,
            "quantity": line.quantity,
            "originalPrice": price(line.price, &self.currency),
            "price": price(line.price, &self.currency),
            "boughtAt": time(self.bought_ms),
        })
    }
}

/// One entry of the order event log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// A number, growing with each event, as Allegro's (`1532603898317497`).
    pub id: String,
    pub kind: String,
    pub order: String,
    pub occurred_ms: i64,
}

impl Parcel {
    fn to_json(&self) -> Value {
        let mut parcel = json!({
            "id": self.id,
            "waybill": self.waybill,
            "carrierId": self.carrier_id,
            "lineItems": self.line_items.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
            "createdAt": time(self.created_ms),
        });
        if let Some(name) = &self.carrier_name {
            parcel["carrierName"] = json!(name);
        }
        parcel
    }
}

/// The fake Allegro REST API of one seller.
pub struct Allegro {
    common: Common,
    /// What the token endpoint issued; only those tokens are let in.
    pub tokens: Tokens,
    pub orders: BTreeMap<String, Order>,
    /// The order event log, oldest first.
    pub events: Vec<Event>,
    next_event: u64,
    /// Writes (a status, a tracking number) to apply and then answer 503,
    /// as when the answer is lost on the way back.
    pub lose_answers: usize,
}

impl Allegro {
    /// A seller with no orders, letting in the tokens `tokens` issued.
    pub fn new(tokens: Tokens) -> Allegro {
        Allegro {
            common: Common::default(),
            tokens,
            orders: BTreeMap::new(),
            events: Vec::new(),
            next_event: 1,
            lose_answers: 0,
        }
    }

    /// A seller with orders `ns` ([`Order::new`]), bought on 2026-01-15, each
    /// with its READY_FOR_PROCESSING event.
    pub fn with_orders(tokens: Tokens, ns: &[u64]) -> Allegro {
        let mut allegro = Allegro::new(tokens);
        for (i, n) in ns.iter().enumerate() {
            let order = Order::new(*n, 1_768_471_200_000 + 60_000 * i as i64);
            allegro.place(order, &["READY_FOR_PROCESSING"]);
        }
        allegro
    }

    /// A seller with `n` orders bought one a minute up to an hour ago, ids
    /// [`order_id`]`(1..=n)`. Each is in the log with one event, of its
    /// checkout step: every fourth only bought, every fourth filled in, the
    /// rest ready for processing (paid online, every third cash on
    /// delivery, every seventh by wire transfer). One to three lines each.
    pub fn seeded(tokens: Tokens, n: usize) -> Allegro {
        const NAMES: &[(&str, &str)] = &[
            ("Anna", "Nowak"),
            ("Piotr", "Wiśniewski"),
            ("Katarzyna", "Wójcik"),
            ("Tomasz", "Kamiński"),
            ("Magdalena", "Lewandowska"),
            ("Michał", "Zieliński"),
        ];
        const OFFERS: &[(&str, &str, Option<&str>, i64)] = &[
            (
                "10000000101",
                "Czajnik porcelanowy 1 l",
                Some("TEA-100"),
                11_990,
            ),
            ("10000000102", "Filiżanka z podstawkiem", None, 2_450),
            (
                "10000000103",
                "Herbata czarna 100 g",
                Some("TEA-200"),
                1_899,
            ),
        ];
        let mut allegro = Allegro::new(tokens);
        let start = jiff::Timestamp::now().as_millisecond() - 3_600_000 - 60_000 * n as i64;
        for i in 1..=n as u64 {
            let mut order = Order::new(i, start + 60_000 * i as i64);
            let (first, last) = NAMES[i as usize % NAMES.len()];
            order.first_name = first.into();
            order.last_name = last.into();
            order.status = match i % 4 {
                0 => "BOUGHT",
                1 => "FILLED_IN",
                _ => "READY_FOR_PROCESSING",
            }
            .into();
            order.payment_type = if i % 7 == 0 {
                "WIRE_TRANSFER"
            } else if i % 3 == 0 {
                "CASH_ON_DELIVERY"
            } else {
                "ONLINE"
            }
            .into();
            order.lines = (0..1 + i % 3)
                .map(|k| {
                    let (offer, name, external, price) = OFFERS[k as usize];
                    Line {
                        id: line_id(i, k + 1),
                        offer_id: offer.into(),
                        offer_name: name.into(),
                        external_id: external.map(str::to_owned),
                        quantity: 1 + (i % 2) as u32,
                        price,
                    }
                })
                .collect();
            let kind = order.status.clone();
            allegro.place(order, &[kind.as_str()]);
        }
        allegro
    }

    /// A time after every change so far and not before now.
    fn next_ms(&self) -> i64 {
        let latest = self
            .orders
            .values()
            .map(|o| o.updated_ms)
            .chain(self.events.iter().map(|e| e.occurred_ms))
            .max()
            .unwrap_or(0);
        jiff::Timestamp::now().as_millisecond().max(latest + 1)
    }

    fn log(&mut self, kind: &str, order: &str, occurred_ms: i64) {
        let id = format!("{}", 1_768_000_000_000_000 + self.next_event);
        self.next_event += 1;
        self.events.push(Event {
            id,
            kind: kind.to_owned(),
            order: order.to_owned(),
            occurred_ms,
        });
    }

    /// Adds `order` as bought, with `events` in the log at its purchase time.
    pub fn place(&mut self, order: Order, events: &[&str]) {
        for kind in events {
            self.log(kind, &order.id, order.bought_ms);
        }
        self.orders.insert(order.id.clone(), order);
    }

    fn change(&mut self, id: &str, kind: &str, change: impl FnOnce(&mut Order)) {
        let at = self.next_ms();
        let order = self
            .orders
            .get_mut(id)
            .unwrap_or_else(|| panic!("the fake Allegro has no order {id}"));
        change(order);
        order.revision += 1;
        order.updated_ms = at;
        self.log(kind, id, at);
    }

    /// A purchase now: order `n` ([`Order::new`]), only bought.
    pub fn buy(&mut self, n: u64) -> String {
        let mut order = Order::new(n, self.next_ms());
        order.status = "BOUGHT".into();
        let id = order.id.clone();
        self.place(order, &["BOUGHT"]);
        id
    }

    /// The buyer fills in the checkout form and pays.
    pub fn pay(&mut self, id: &str) {
        self.change(id, "READY_FOR_PROCESSING", |o| {
            o.status = "READY_FOR_PROCESSING".into()
        })
    }

    /// The buyer cancels the purchase.
    pub fn buyer_cancels(&mut self, id: &str) {
        self.change(id, "BUYER_CANCELLED", |o| o.status = "CANCELLED".into())
    }

    /// The seller sets a fulfillment status in Allegro's Sales Center.
    pub fn seller_sets(&mut self, id: &str, fulfillment: &str) {
        let fulfillment = fulfillment.to_owned();
        self.change(id, "FULFILLMENT_STATUS_CHANGED", |o| {
            o.fulfillment = fulfillment;
            o.changes += 1;
        })
    }
}

/// A JSON answer of Allegro's media type.
fn answer(status: u16, body: Value) -> Response {
    let mut response = (
        StatusCode::from_u16(status).expect("a valid status"),
        axum::Json(body),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// Allegro's error shape.
fn error(status: u16, code: &str, message: &str, path: Option<&str>) -> Response {
    answer(
        status,
        json!({"errors": [{
            "code": code,
            "message": message,
            "details": null,
            "path": path,
            "userMessage": message,
            "metadata": {},
        }]}),
    )
}

/// The query's pairs, decoded, in order.
fn query(request: &Recorded) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.query.as_deref().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Allegro {
    fn events(&self, request: &Recorded) -> Response {
        let pairs = query(request);
        let mut types = Vec::new();
        let mut from: Option<u64> = None;
        let mut limit = 100usize;
        for (name, value) in &pairs {
            match name.as_str() {
                "type" => {
                    for t in value.split(',') {
                        if !EVENT_TYPES.contains(&t) {
                            return error(
                                422,
                                "VALIDATION_ERROR",
                                &format!("Unknown event type: {t}"),
                                Some("type"),
                            );
                        }
                        types.push(t.to_owned());
                    }
                }
                "from" => match value.parse() {
                    Ok(id) => from = Some(id),
                    Err(_) => {
                        return error(
                            422,
                            "VALIDATION_ERROR",
                            &format!("Invalid event id: {value}"),
                            Some("from"),
                        );
                    }
                },
                "limit" => match value.parse() {
                    Ok(n) if (1..=1000).contains(&n) => limit = n,
                    _ => {
                        return error(
                            422,
                            "VALIDATION_ERROR",
                            "limit must be between 1 and 1000",
                            Some("limit"),
                        );
                    }
                },
                _ => {}
            }
        }
        let events: Vec<Value> = self
            .events
            .iter()
            .filter(|e| from.is_none_or(|from| e.id.parse::<u64>().is_ok_and(|id| id > from)))
            .filter(|e| types.is_empty() || types.contains(&e.kind))
            .take(limit)
            .map(|e| {
                let order = &self.orders[&e.order];
                json!({
                    "id": e.id,
                    "order": {
                        "seller": {"id": SELLER_ID},
                        "buyer": {
                            "id": order.buyer_id,
                            "email": order.email,
                            "login": order.login,
                            "guest": false,
                            "preferences": {"language": "pl-PL"},
                        },
                        "lineItems": order.lines.iter().map(|l| order.line_json(l)).collect::<Vec<_>>(),
                        "checkoutForm": {"id": order.id, "revision": format!("{:08x}", order.revision)},
                        "marketplace": {"id": "allegro-pl"},
                    },
                    "type": e.kind,
                    "occurredAt": time(e.occurred_ms),
                })
            })
            .collect();
        answer(200, json!({ "events": events }))
    }

    /// Applies a write; answers `done`, or 503 when the answer is to be lost.
    fn written(&mut self, done: Response) -> Response {
        if self.lose_answers > 0 {
            self.lose_answers -= 1;
            return error(
                503,
                "ServiceUnavailable",
                "The service is temporarily unavailable",
                None,
            );
        }
        done
    }

    fn set_fulfillment(&mut self, request: &Recorded, id: &str) -> Response {
        let path = request.path.as_str();
        let Some(order) = self.orders.get(id) else {
            return error(
                404,
                "NotFoundException",
                &format!("Order {id} not found"),
                Some(path),
            );
        };
        let Some(status) = request.body.get("status").and_then(Value::as_str) else {
            return error(
                422,
                "VALIDATION_ERROR",
                "status: must not be null",
                Some("status"),
            );
        };
        if !FULFILLMENT.contains(&status) {
            return error(
                422,
                "VALIDATION_ERROR",
                &format!("Unrecognized status value: {status}"),
                Some("status"),
            );
        }
        let refused =
            status == "RETURNED" || order.provider == "ALLEGRO" || order.changes >= CHANGE_LIMIT;
        if refused {
            return error(
                422,
                "SellerOrdersStoreUnprocessableEntityException",
                &format!("Failed to set status {status} on order {id}."),
                Some(path),
            );
        }
        let revision = format!("{:08x}", order.revision);
        let asked = query(request)
            .into_iter()
            .find(|(k, _)| k == "checkoutForm.revision")
            .map(|(_, v)| v);
        if asked.as_ref().is_some_and(|asked| *asked != revision) {
            return error(
                409,
                "ConflictException",
                &format!(
                    "Provided revision {} is outdated, the current revision is {revision}",
                    asked.unwrap_or_default()
                ),
                Some(path),
            );
        }
        self.seller_sets(id, status);
        self.written(StatusCode::NO_CONTENT.into_response())
    }

    fn add_shipment(&mut self, request: &Recorded, id: &str) -> Response {
        let path = request.path.as_str();
        let Some(order) = self.orders.get(id) else {
            return error(
                404,
                "NotFoundException",
                &format!("Order {id} not found"),
                Some(path),
            );
        };
        let body = &request.body;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::trim);
        let invalid =
            |message: &str, field: &str| error(400, "VALIDATION_ERROR", message, Some(field));
        let Some(carrier) = text("carrierId").filter(|c| !c.is_empty()) else {
            return invalid("carrierId: must not be empty", "carrierId");
        };
        if !CARRIERS.iter().any(|(c, _)| *c == carrier) {
            return invalid(&format!("Unknown carrier id: {carrier}"), "carrierId");
        }
        let name = text("carrierName").filter(|n| !n.is_empty());
        if carrier == "OTHER" && name.is_none() {
            return invalid(
                "carrierName: must not be empty for carrier OTHER",
                "carrierName",
            );
        }
        if name.is_some_and(|n| n.chars().count() > 30) {
            return invalid("carrierName: size must be at most 30", "carrierName");
        }
        let Some(waybill) = text("waybill").filter(|w| !w.is_empty() && w.chars().count() <= 64)
        else {
            return invalid("waybill: size must be between 1 and 64", "waybill");
        };
        let lines: Vec<String> = body
            .get("lineItems")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if lines.is_empty() {
            return invalid("lineItems: must not be empty", "lineItems");
        }
        if let Some(foreign) = lines
            .iter()
            .find(|l| !order.lines.iter().any(|own| own.id == **l))
        {
            return error(
                422,
                "UnprocessableEntityException",
                &format!("Line item {foreign} does not belong to order {id}"),
                Some("lineItems"),
            );
        }
        let parcel = Parcel {
            id: base64::engine::general_purpose::STANDARD.encode(format!("{carrier}:{waybill}")),
            carrier_id: carrier.to_owned(),
            carrier_name: name.map(str::to_owned),
            waybill: waybill.to_owned(),
            line_items: lines,
            created_ms: self.next_ms(),
        };
        let created = parcel.to_json();
        self.orders
            .get_mut(id)
            .expect("the order was found above")
            .shipments
            .push(parcel);
        self.written(answer(201, created))
    }
}

impl Platform for Allegro {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<PathBuf> {
        Some(shared_spec("allegro-rest-api-oas3.yaml"))
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        let bearer = request.header("authorization").unwrap_or_default();
        if !bearer.starts_with("Bearer ") || !self.tokens.accepts(bearer) {
            return answer(
                401,
                json!({"error": "invalid_token", "error_description": "Invalid access token"}),
            );
        }
        if request.header("accept") != Some(MEDIA_TYPE) {
            return error(
                406,
                "NotAcceptableException",
                &format!("Not acceptable representation; use Accept: {MEDIA_TYPE}"),
                None,
            );
        }
        let has_body = matches!(request.method.as_str(), "PUT" | "POST");
        if has_body
            && !request
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with(MEDIA_TYPE))
        {
            return error(
                415,
                "UnsupportedMediaTypeException",
                &format!("Unsupported media type; use Content-Type: {MEDIA_TYPE}"),
                None,
            );
        }
        let path = segments(&request.path);
        match (request.method.as_str(), path.as_slice()) {
            ("GET", ["order", "events"]) => self.events(request),
            ("GET", ["order", "carriers"]) => answer(
                200,
                json!({"carriers": CARRIERS.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>()}),
            ),
            ("GET", ["order", "checkout-forms", id]) => match self.orders.get(*id) {
                Some(order) => answer(200, order.to_json()),
                None => error(
                    404,
                    "NotFoundException",
                    &format!("Order {id} not found"),
                    Some(&request.path),
                ),
            },
            ("PUT", ["order", "checkout-forms", id, "fulfillment"]) => {
                let id = (*id).to_owned();
                self.set_fulfillment(request, &id)
            }
            ("GET", ["order", "checkout-forms", id, "shipments"]) => match self.orders.get(*id) {
                Some(order) => answer(
                    200,
                    json!({"shipments": order.shipments.iter().map(Parcel::to_json).collect::<Vec<_>>()}),
                ),
                None => error(
                    404,
                    "NotFoundException",
                    &format!("Order {id} not found"),
                    Some(&request.path),
                ),
            },
            ("POST", ["order", "checkout-forms", id, "shipments"]) => {
                let id = (*id).to_owned();
                self.add_shipment(request, &id)
            }
            _ => error(
                404,
                "NotFoundException",
                &format!("No resource {} {}", request.method, request.path),
                Some(&request.path),
            ),
        }
    }
}
