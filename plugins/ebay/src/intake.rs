//! Orders coming in from eBay (contract 1.1): polled, since eBay sends the
//! host no webhooks.
//!
//! `pull` reads `GET /order?filter=lastmodifieddate:[FROM..]&limit=100&offset=N`,
//! one page a call, and hands in every order on it with its lines, buyer,
//! prices and both statuses. A *sweep* reads the result from offset 0 until
//! eBay lists no next page; the cursor holds where the sweep stands
//! (`from`, `offset`), so a host that stops between pages goes on from the
//! same page.
//!
//! Where the next sweep starts: eBay does not say in what order it lists
//! orders found by modification, and an order that changes during a sweep
//! keeps its place in the result — it may have been read already. So the
//! next sweep starts at the newest modification delivered only when that is
//! older than the sweep's start (less [`SETTLE_MS`], for eBay's clock and
//! its search catching up); otherwise at the sweep's start less that
//! margin. The orders delivered with exactly the `from` time are skipped
//! (`seen`). Nothing changed is lost; an order changed within the margin
//! may come twice, which the host takes as unchanged.

use serde::{Deserialize, Serialize};
use statusport_plugin_sdk::{AdapterError, Dimension, host, time};
use statusport_plugin_sdk_intake::intake::{rfc3339, status_value};
use statusport_plugin_sdk_intake::{Batch, Customer, Inbound, IncomingOrder, Money, OrderLine};

use crate::{api, times};

pub const INTAKE_SINCE: &str = "intake-since";
/// How far back the first pull reaches when `intake-since` is unset.
const FIRST_PULL_DAYS: i64 = 30;
/// eBay's search reaches 90 days back; a start before that is refused
/// (error 30830), so an older one is moved up to this (with an hour to spare).
const SEARCH_REACH_MS: i64 = 90 * 86_400_000 - 3_600_000;
/// Orders a page: eBay allows 1000; a page of 100 full orders stays a few
/// hundred kilobytes.
const PAGE_SIZE: u64 = 100;
/// How long after a sweep's start a change may still be missing from eBay's
/// search; see the module's description.
pub const SETTLE_MS: i64 = 120_000;

/// The cursor as the host stores it; times as eBay writes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    from: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    seen: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<Mark>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Mark {
    at: String,
    ids: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where intake stands, times in milliseconds since the epoch.
#[derive(Clone, Debug, PartialEq)]
struct Position {
    /// The sweep reads orders last modified at or after this.
    from: i64,
    /// Orders delivered before whose last modification is exactly `from`.
    seen: Vec<String>,
    /// Orders of the sweep's result read so far.
    offset: u64,
    /// When the sweep read its first page (the plugin's clock).
    started: Option<i64>,
    /// The newest last modification delivered in this sweep, and its orders.
    newest: Option<(i64, Vec<String>)>,
}

impl Position {
    fn parse(text: &str) -> Result<Position, AdapterError> {
        let refused = || {
            AdapterError::Rejected(format!(
                "cursor {text} is not an eBay intake cursor ({{\"from\":\"<ISO 8601 time>\",\"seen\":[<order ids>],\"offset\":<n>}})"
            ))
        };
        let cursor: Cursor = serde_json::from_str(text).map_err(|_| refused())?;
        let ms = |t: &str| times::parse_ms(t).ok_or_else(refused);
        Ok(Position {
            from: ms(&cursor.from)?,
            seen: cursor.seen,
            offset: cursor.offset,
            started: cursor.started.as_deref().map(ms).transpose()?,
            newest: cursor
                .newest
                .map(|m| Ok::<_, AdapterError>((ms(&m.at)?, m.ids)))
                .transpose()?,
        })
    }

    fn encode(&self) -> String {
        let cursor = Cursor {
            from: times::ebay_time(self.from),
            seen: self.seen.clone(),
            offset: self.offset,
            started: self.started.map(times::ebay_time),
            newest: self.newest.as_ref().map(|(at, ids)| Mark {
                at: times::ebay_time(*at),
                ids: ids.clone(),
            }),
        };
        serde_json::to_string(&cursor).expect("a cursor serialises")
    }

    /// The first sweep: from `intake-since`, or 30 days back.
    fn first(now: i64) -> Result<Position, AdapterError> {
        let from = match host::config(INTAKE_SINCE) {
            Some(since) => times::parse_ms(&since)
                .or_else(|| time::parse(&format!("{}T00:00:00Z", since.trim())).map(|s| s * 1000))
                .ok_or_else(|| {
                    AdapterError::Config(format!(
                        "\"{INTAKE_SINCE}\" is \"{since}\": use a date (2026-01-31) or an RFC 3339 time"
                    ))
                })?,
            None => now - FIRST_PULL_DAYS * 86_400_000,
        };
        Ok(Position {
            from,
            seen: Vec::new(),
            offset: 0,
            started: None,
            newest: None,
        })
    }

    /// Whether an order last modified at `modified` is news to the host.
    fn fresh(&self, modified: i64, id: &str) -> bool {
        !(modified == self.from && self.seen.iter().any(|s| s == id))
    }

    /// Past one page: `page` holds the (last modification, id) of each
    /// order on it that was delivered, `read` how many the page held; `more`
    /// says whether eBay lists a next page.
    fn advance(mut self, page: &[(i64, String)], read: u64, more: bool) -> Position {
        self.offset += read;
        for (at, id) in page {
            match &mut self.newest {
                Some((newest, ids)) if *at == *newest => ids.push(id.clone()),
                Some((newest, _)) if *at < *newest => {}
                _ => self.newest = Some((*at, vec![id.clone()])),
            }
        }
        if more {
            return self;
        }
        // The sweep is over: the next one starts where nothing can be lost.
        let settle = self.started.map(|s| s - SETTLE_MS);
        let (from, seen) = match self.newest {
            None => (self.from, self.seen),
            Some((at, ids)) if settle.is_some_and(|settle| at <= settle) => {
                if at == self.from {
                    let mut seen = self.seen;
                    for id in ids {
                        if !seen.contains(&id) {
                            seen.push(id);
                        }
                    }
                    (at, seen)
                } else {
                    (at, ids)
                }
            }
            Some(_) => match settle {
                Some(settle) if settle > self.from => (settle, Vec::new()),
                _ => (self.from, self.seen),
            },
        };
        Position {
            from,
            seen,
            offset: 0,
            started: None,
            newest: None,
        }
    }
}

/// `lastmodifieddate:[FROM..]`, FROM no further back than eBay searches.
fn filter(from: i64, now: i64) -> String {
    format!(
        "lastmodifieddate:[{}..]",
        times::ebay_time(from.max(now - SEARCH_REACH_MS))
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Amount {
    value: String,
    currency: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Buyer {
    username: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ContactAddress {
    address_line1: String,
    address_line2: String,
    city: String,
    state_or_province: String,
    postal_code: String,
    country_code: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Phone {
    phone_number: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ShipTo {
    full_name: String,
    company_name: String,
    email: String,
    primary_phone: Phone,
    contact_address: ContactAddress,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ShippingStep {
    ship_to: ShipTo,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Instruction {
    shipping_step: ShippingStep,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItem {
    line_item_id: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    legacy_item_id: String,
    #[serde(default)]
    legacy_variation_id: String,
    quantity: u32,
    #[serde(default)]
    line_item_cost: Option<Amount>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PricingSummary {
    delivery_cost: Option<Amount>,
    delivery_discount: Option<Amount>,
    total: Option<Amount>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Payment {
    payment_method: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PaymentSummary {
    payments: Vec<Payment>,
}

/// An order as `getOrders` and `getOrder` give it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EbayOrder {
    order_id: String,
    creation_date: String,
    #[serde(default)]
    last_modified_date: Option<String>,
    #[serde(default)]
    order_fulfillment_status: Option<String>,
    #[serde(default)]
    order_payment_status: Option<String>,
    #[serde(default)]
    buyer: Buyer,
    #[serde(default)]
    fulfillment_start_instructions: Vec<Instruction>,
    #[serde(default)]
    line_items: Vec<LineItem>,
    #[serde(default)]
    pricing_summary: PricingSummary,
    #[serde(default)]
    payment_summary: PaymentSummary,
}

impl EbayOrder {
    fn modified(&self) -> &str {
        self.last_modified_date
            .as_deref()
            .unwrap_or(&self.creation_date)
    }
}

fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn money(amount: &Amount, what: &str) -> Result<Money, AdapterError> {
    Money::parse(&amount.value, &amount.currency)
        .map_err(|e| AdapterError::Rejected(format!("{what}: {}", message(e))))
}

fn message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected(m) | AdapterError::Config(m) | AdapterError::Auth(m) => m,
        AdapterError::Unsupported(m) => m,
        AdapterError::Transient(t) => t.message,
    }
}

fn incoming(order: EbayOrder) -> Result<IncomingOrder, AdapterError> {
    let id = order.order_id.clone();
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => AdapterError::Rejected(format!("eBay order {id}: {m}")),
        other => other,
    };
    let lines = order
        .line_items
        .iter()
        .map(|item| {
            let cost = item.line_item_cost.as_ref().ok_or_else(|| {
                AdapterError::Rejected(format!(
                    "line item {} has no lineItemCost",
                    item.line_item_id
                ))
            })?;
            let unit_price = money(
                cost,
                &format!("line item {} lineItemCost", item.line_item_id),
            )?
            .per_item(item.quantity);
            let listing = match (text(&item.legacy_item_id), text(&item.legacy_variation_id)) {
                (Some(listing), Some(variation)) => Some(format!("{listing}-{variation}")),
                (listing, _) => listing,
            };
            Ok(OrderLine {
                line_id: item.line_item_id.clone(),
                article: text(&item.sku)
                    .or(listing)
                    .unwrap_or_else(|| item.line_item_id.clone()),
                name: item.title.clone(),
                quantity: item.quantity,
                unit_price,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()
        .map_err(in_order)?;
    let pricing = &order.pricing_summary;
    let shipping = match &pricing.delivery_cost {
        Some(cost) => {
            let mut shipping = money(cost, "pricingSummary.deliveryCost").map_err(in_order)?;
            if let Some(discount) = &pricing.delivery_discount {
                let discount =
                    money(discount, "pricingSummary.deliveryDiscount").map_err(in_order)?;
                if discount.currency == shipping.currency {
                    // eBay writes the discount as a negative amount.
                    shipping.minor += discount.minor.min(0).max(-shipping.minor);
                }
            }
            Some(shipping)
        }
        None => None,
    };
    if lines.is_empty() && pricing.total.is_none() {
        return Err(AdapterError::Rejected(format!(
            "eBay order {id} has neither line items nor a total"
        )));
    }
    let ship_to = order
        .fulfillment_start_instructions
        .first()
        .map(|i| &i.shipping_step.ship_to);
    let customer = match ship_to {
        Some(to) => {
            let address = &to.contact_address;
            let town = [address.postal_code.trim(), address.city.trim()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Customer {
                id: text(&order.buyer.username).unwrap_or_else(|| format!("ebay-order-{id}")),
                name: text(&to.full_name)
                    .or_else(|| text(&order.buyer.username))
                    .unwrap_or_default(),
                // eBay masks a buyer's email 14 days after the order
                // ("Invalid Request"): only an address is one.
                email: text(&to.email).filter(|e| e.contains('@')),
                phone: text(&to.primary_phone.phone_number),
                address: [
                    to.company_name.as_str(),
                    address.address_line1.as_str(),
                    address.address_line2.as_str(),
                    town.as_str(),
                    address.state_or_province.as_str(),
                    address.country_code.as_str(),
                ]
                .into_iter()
                .filter_map(text)
                .collect(),
            }
        }
        None => Customer {
            id: text(&order.buyer.username).unwrap_or_else(|| format!("ebay-order-{id}")),
            name: order.buyer.username.trim().to_owned(),
            email: None,
            phone: None,
            address: Vec::new(),
        },
    };
    let mut statuses = Vec::new();
    if let Some(code) = order.order_fulfillment_status.as_deref().and_then(text) {
        statuses.push(status_value(Dimension::Delivery, &code));
    }
    if let Some(code) = order.order_payment_status.as_deref().and_then(text) {
        statuses.push(status_value(Dimension::Payment, &code));
    }
    Ok(IncomingOrder {
        platform_order_id: id.clone(),
        customer,
        lines,
        shipping,
        payment_method: order
            .payment_summary
            .payments
            .first()
            .map(|p| p.payment_method.clone())
            .unwrap_or_default(),
        statuses,
        created_at: rfc3339(
            &order.creation_date,
            &format!("eBay order {id}: creationDate"),
        )?,
        updated_at: rfc3339(
            order.modified(),
            &format!("eBay order {id}: lastModifiedDate"),
        )?,
    })
}

/// One page of `getOrders`.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    orders: Vec<EbayOrder>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    total: Option<u64>,
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let now = times::now_ms();
    let mut position = match cursor.as_deref() {
        Some(text) => Position::parse(text)?,
        None => Position::first(now)?,
    };
    if position.started.is_none() {
        position.started = Some(now);
    }
    let api = api()?;
    let filter = filter(position.from, now);
    let offset = position.offset.to_string();
    let page: Page = api
        .send(|c| {
            c.get("/order")
                .query("filter", &filter)
                .query("limit", &PAGE_SIZE.to_string())
                .query("offset", &offset)
        })?
        .json()?;
    let read = page.orders.len() as u64;
    let more = read > 0
        && (page.next.as_deref().is_some_and(|n| !n.is_empty())
            || page.total.is_some_and(|t| position.offset + read < t));
    let mut delivered = Vec::new();
    let mut items = Vec::new();
    for order in page.orders {
        let modified = times::parse_ms(order.modified()).ok_or_else(|| {
            AdapterError::Rejected(format!(
                "eBay order {}: lastModifiedDate \"{}\" is not a date and time",
                order.order_id,
                order.modified()
            ))
        })?;
        if !position.fresh(modified, &order.order_id) {
            continue;
        }
        delivered.push((modified, order.order_id.clone()));
        items.push(Inbound::Order(incoming(order)?));
    }
    let next = position.advance(&delivered, read, more);
    Ok(Batch {
        items,
        next_cursor: Some(next.encode()),
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_795_000_000_000;

    fn position(from: i64, seen: &[&str]) -> Position {
        Position {
            from,
            seen: seen.iter().map(|s| (*s).to_owned()).collect(),
            offset: 0,
            started: None,
            newest: None,
        }
    }

    fn page(items: &[(i64, &str)]) -> Vec<(i64, String)> {
        items
            .iter()
            .map(|(at, id)| (*at, (*id).to_owned()))
            .collect()
    }

    #[test]
    fn a_cursor_round_trips_with_milliseconds_and_a_foreign_one_is_refused() {
        let p = Position {
            from: T0 + 123,
            seen: vec!["01-03955-36441".into()],
            offset: 200,
            started: Some(T0 + 5_000),
            newest: Some((T0 + 4_000, vec!["02-00001-00002".into()])),
        };
        let text = p.encode();
        assert!(text.contains("\"from\":\"2026-11-18T"), "{text}");
        assert!(text.contains(".123Z\""), "{text}");
        assert_eq!(Position::parse(&text).unwrap(), p);
        let fresh = position(T0, &[]).encode();
        assert_eq!(fresh, format!("{{\"from\":\"{}\"}}", times::ebay_time(T0)));
        assert!(matches!(
            Position::parse("3"),
            Err(AdapterError::Rejected(_))
        ));
        assert!(matches!(
            Position::parse("{\"from\":\"yesterday\"}"),
            Err(AdapterError::Rejected(_))
        ));
    }

    #[test]
    fn within_a_sweep_the_offset_moves_and_the_newest_is_remembered() {
        let mut p = position(T0, &[]);
        p.started = Some(T0 + 3_600_000);
        let p = p.advance(
            &page(&[(T0 + 10, "a"), (T0 + 30, "b"), (T0 + 30, "c")]),
            3,
            true,
        );
        assert_eq!(p.offset, 3);
        assert_eq!(p.from, T0);
        assert_eq!(p.newest, Some((T0 + 30, vec!["b".into(), "c".into()])));
        let p = p.advance(&page(&[(T0 + 20, "d")]), 1, true);
        assert_eq!(p.offset, 4);
        assert_eq!(p.newest, Some((T0 + 30, vec!["b".into(), "c".into()])));
    }

    #[test]
    fn a_settled_sweep_goes_on_from_its_newest_order_skipping_those_delivered() {
        let mut p = position(T0, &[]);
        p.started = Some(T0 + 3_600_000);
        let next = p.advance(&page(&[(T0 + 10, "a"), (T0 + 30, "b")]), 2, false);
        assert_eq!(next, position(T0 + 30, &["b"]));
        assert!(!next.fresh(T0 + 30, "b"));
        assert!(next.fresh(T0 + 30, "c"));
        assert!(next.fresh(T0 + 31, "b"));
    }

    #[test]
    fn a_sweep_with_recent_changes_goes_on_from_its_start_less_the_margin() {
        let started = T0 + 3_600_000;
        let mut p = position(T0, &[]);
        p.started = Some(started);
        // An order changed a minute before the sweep: eBay may still be
        // indexing others changed then, so the next sweep reads them again.
        let next = p.advance(&page(&[(started - 60_000, "a")]), 1, false);
        assert_eq!(next, position(started - SETTLE_MS, &[]));
    }

    #[test]
    fn a_sweep_that_finds_nothing_new_keeps_its_start_and_what_it_skipped() {
        let mut p = position(T0, &["a"]);
        p.started = Some(T0 + 3_600_000);
        let next = p.clone().advance(&[], 1, false);
        assert_eq!(next, position(T0, &["a"]));
        // Another order at the very same time joins the skipped ones.
        let next = p.advance(&page(&[(T0, "b")]), 2, false);
        assert_eq!(next, position(T0, &["a", "b"]));
    }

    #[test]
    fn the_filter_reaches_no_further_back_than_ebay_searches() {
        let now = T0;
        assert_eq!(
            filter(now - 86_400_000, now),
            format!(
                "lastmodifieddate:[{}..]",
                times::ebay_time(now - 86_400_000)
            )
        );
        assert_eq!(
            filter(now - 400 * 86_400_000, now),
            format!(
                "lastmodifieddate:[{}..]",
                times::ebay_time(now - SEARCH_REACH_MS)
            )
        );
    }

    #[test]
    fn an_order_maps_buyer_lines_prices_and_both_statuses() {
        let order: EbayOrder = serde_json::from_value(serde_json::json!({
            "orderId": "05-11111-22222",
            "creationDate": "2026-11-20T10:00:00.120Z",
            "lastModifiedDate": "2026-11-20T10:05:00.450Z",
            "orderFulfillmentStatus": "IN_PROGRESS",
            "orderPaymentStatus": "PAID",
            "buyer": {"username": "tea_lover_77"},
            "fulfillmentStartInstructions": [{"shippingStep": {"shipTo": {
                "fullName": "Ada Lovelace", "email": "Invalid Request",
                "primaryPhone": {"phoneNumber": "+44 20 7946 0000"},
                "contactAddress": {"addressLine1": "12 St James's Square", "city": "London",
                                   "postalCode": "SW1Y 4JH", "countryCode": "GB"}
            }}}],
            "lineItems": [
                {"lineItemId": "10001", "sku": "TEA-100", "title": "Teapot", "quantity": 3,
                 "lineItemCost": {"value": "44.97", "currency": "GBP"}},
                {"lineItemId": "10002", "sku": "", "legacyItemId": "110551234567",
                 "legacyVariationId": "4100", "title": "Cup", "quantity": 1,
                 "lineItemCost": {"value": "5.00", "currency": "GBP"}}
            ],
            "pricingSummary": {"deliveryCost": {"value": "4.99", "currency": "GBP"},
                               "deliveryDiscount": {"value": "-1.00", "currency": "GBP"}},
            "paymentSummary": {"payments": [{"paymentMethod": "EBAY"}]}
        }))
        .unwrap();
        let o = incoming(order).unwrap();
        assert_eq!(o.customer.id, "tea_lover_77");
        assert_eq!(o.customer.name, "Ada Lovelace");
        assert_eq!(o.customer.email, None);
        assert_eq!(
            o.customer.address,
            ["12 St James's Square", "SW1Y 4JH London", "GB"]
        );
        assert_eq!(o.lines[0].article, "TEA-100");
        assert_eq!(o.lines[0].unit_price.minor, 1499);
        assert_eq!(o.lines[1].article, "110551234567-4100");
        assert_eq!(o.shipping.as_ref().unwrap().minor, 399);
        assert_eq!(o.payment_method, "EBAY");
        let statuses: Vec<(Dimension, &str)> = o
            .statuses
            .iter()
            .map(|s| (s.dimension, s.code.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [
                (Dimension::Delivery, "IN_PROGRESS"),
                (Dimension::Payment, "PAID")
            ]
        );
        assert_eq!(o.updated_at, "2026-11-20T10:05:00Z");
    }

    #[test]
    fn an_amount_that_is_no_number_is_refused_naming_the_order_and_field() {
        let order: EbayOrder = serde_json::from_value(serde_json::json!({
            "orderId": "05-11111-22222", "creationDate": "2026-11-20T10:00:00.000Z",
            "lineItems": [{"lineItemId": "1", "quantity": 1,
                           "lineItemCost": {"value": "a lot", "currency": "USD"}}]
        }))
        .unwrap();
        match incoming(order) {
            Err(AdapterError::Rejected(m)) => assert!(
                m.starts_with(
                    "eBay order 05-11111-22222: line item 1 lineItemCost: amount \"a lot\""
                ),
                "{m}"
            ),
            Err(other) => panic!("expected a rejection, got {other:?}"),
            Ok(_) => panic!("expected a rejection"),
        }
    }
}
