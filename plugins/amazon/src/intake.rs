//! Orders coming in from Amazon (contract 1.1), by polling `getOrders`.
//!
//! A *listing* is one run through `getOrders` with `LastUpdatedAfter` (which
//! Amazon reads as "at or after") and its `NextToken` pages. Each pull reads
//! one page of [`PAGE_SIZE`] orders and the lines of each order
//! (`getOrderItems`), and answers `more` while a `NextToken` is left, so the
//! cursor always says where the listing stands and a host stopped between
//! pages goes on from the page it had reached.
//!
//! Amazon lists a page in no particular order of time, so `LastUpdatedAfter`
//! moves only when a listing ends: to the newest `LastUpdateDate` it
//! delivered — or, when that is later, to two minutes before the listing
//! began, since an order changed while the listing ran may already sit on a
//! page read before, and Amazon itself shows changes with a delay of up to
//! two minutes (it refuses a `LastUpdatedBefore` closer to now). The orders
//! delivered at or after the new start are kept in the cursor with their
//! `LastUpdateDate`, and skipped when they come again unchanged; a changed
//! order has a later time and comes again.
//!
//! `getOrders` allows a burst of 20 calls and then one a minute,
//! `getOrderItems` a burst of 30 and then one every two seconds. A throttled
//! or failed `getOrderItems` after some orders of the page were read ends
//! the pull with those orders, and the cursor names them, so the next pull
//! reads the same page again and goes on after them: a pull always brings
//! something or waits for Amazon's `Retry-After`, never loops on the same
//! orders.
//!
//! `Pending` and `PendingAvailability` orders are passed over: Amazon gives
//! them no prices and no buyer details until the payment is authorized, and
//! the order comes in when it leaves `Pending` (which changes its
//! `LastUpdateDate`).

use serde::{Deserialize, Serialize};
use statusport_plugin_sdk::host::{self, LogLevel};
use statusport_plugin_sdk::{AdapterError, Dimension, time};
use statusport_plugin_sdk_intake::intake::{rfc3339, status_value};
use statusport_plugin_sdk_intake::{Batch, Customer, Inbound, IncomingOrder, Money, OrderLine};

use crate::api::{Address, Amount, Api, MARKETPLACE_ID, Order, OrderItem};

pub use statusport_plugin_sdk_intake::intake::INTAKE_SINCE;
use statusport_plugin_sdk_intake::intake::first_start;
/// Orders per `getOrders` page: their `getOrderItems` calls fit in the burst
/// Amazon grants that operation (30).
const PAGE_SIZE: u32 = 20;
/// How long Amazon may take to show a change in `getOrders`.
const SETTLE_SECS: i64 = 120;

/// The currency of each marketplace, for an order Amazon gives no amount
/// for (one canceled before its payment was authorized).
const MARKETPLACE_CURRENCIES: &[(&str, &str)] = &[
    ("ATVPDKIKX0DER", "USD"),
    ("A2EUQ1WTGCTBG2", "CAD"),
    ("A1AM78C64UM0Y8", "MXN"),
    ("A2Q3Y263D00KWC", "BRL"),
    ("A1PA6795UKMFR9", "EUR"),
    ("A13V1IB3VIYZZH", "EUR"),
    ("APJ6JRA9NG5V4", "EUR"),
    ("A1RKKUPIHCS9HS", "EUR"),
    ("A1805IZSGTT6HS", "EUR"),
    ("AMEN7PMS3EDWL", "EUR"),
    ("A28R8C7NBKEWEA", "EUR"),
    ("A1F83G8C2ARO7P", "GBP"),
    ("A2NODRKZP88ZB9", "SEK"),
    ("A1C3SOZRARQ6R3", "PLN"),
    ("A33AVAJ2PDY3EV", "TRY"),
    ("ARBP9OOSHTCHU", "EGP"),
    ("A17E79C6D8DWNP", "SAR"),
    ("A2VIGQ35RCS4UG", "AED"),
    ("A21TJRUUN4KGV", "INR"),
    ("AE08WJ6YKNBMC", "ZAR"),
    ("A19VAU5U5O7RUS", "SGD"),
    ("A39IBJ37TRP1C6", "AUD"),
    ("A1VC38T7YXB528", "JPY"),
];

/// An order looked at: its id and its `LastUpdateDate` (RFC 3339 UTC).
type Seen = (String, String);

/// Where the next pull goes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// `LastUpdatedAfter` of the listing (RFC 3339 UTC).
    after: String,
    /// Orders looked at whose `LastUpdateDate` is at or after `after`:
    /// passed over when they come again unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    seen: Vec<Seen>,
    /// The listing under way, when a pull ended before its last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listing: Option<Listing>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Listing {
    /// When its first page was asked for (this machine's clock).
    started: String,
    /// The `NextToken` of the page to read; none for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    /// The newest `LastUpdateDate` looked at so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<String>,
    /// Orders looked at that may lie at or after the next `after`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recent: Vec<Seen>,
    /// Orders of the page `page` looked at by an earlier pull.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    done: Vec<Seen>,
}

fn secs(text: &str) -> i64 {
    time::parse(text).unwrap_or(i64::MIN)
}

impl Cursor {
    fn first(after: i64) -> Cursor {
        Cursor {
            after: time::format_rfc3339(after),
            seen: Vec::new(),
            listing: None,
        }
    }

    fn parse(text: &str) -> Result<Cursor, AdapterError> {
        let refused = || {
            AdapterError::Rejected(format!(
                "cursor {text} is not an Amazon intake cursor \
                 ({{\"after\":\"<RFC 3339>\",\"seen\":[[\"<order id>\",\"<RFC 3339>\"]],\"listing\":{{…}}}})"
            ))
        };
        let cursor: Cursor = serde_json::from_str(text).map_err(|_| refused())?;
        let mut times = vec![cursor.after.as_str()];
        times.extend(cursor.seen.iter().map(|(_, t)| t.as_str()));
        if let Some(l) = &cursor.listing {
            times.push(&l.started);
            times.extend(l.newest.as_deref());
            times.extend(l.recent.iter().chain(&l.done).map(|(_, t)| t.as_str()));
        }
        if times.iter().any(|t| time::parse(t).is_none()) {
            return Err(refused());
        }
        Ok(cursor)
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }

    /// Whether the order was looked at before with this very update.
    fn looked_at(&self, listing: &Listing, seen: &Seen) -> bool {
        self.seen.contains(seen) || listing.done.contains(seen)
    }

    /// Ends the listing: `after` moves to its newest update, or to when the
    /// listing began less [`SETTLE_SECS`] if that is earlier; the orders
    /// looked at from there on are kept to be passed over.
    fn finish(&mut self, listing: Listing) {
        let Some(newest) = listing.newest.as_deref().map(secs) else {
            return;
        };
        let after = secs(&self.after).max(newest.min(secs(&listing.started) - SETTLE_SECS));
        let mut seen: Vec<Seen> = std::mem::take(&mut self.seen)
            .into_iter()
            .chain(listing.recent)
            .filter(|(_, t)| secs(t) >= after)
            .collect();
        seen.sort();
        seen.dedup();
        self.after = time::format_rfc3339(after);
        self.seen = seen;
    }
}

impl Listing {
    fn start(now: i64) -> Listing {
        Listing {
            started: time::format_rfc3339(now),
            page: None,
            newest: None,
            recent: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Notes an order looked at (delivered or passed over).
    fn note(&mut self, seen: Seen) {
        let at = secs(&seen.1);
        if self.newest.as_deref().is_none_or(|n| secs(n) < at) {
            self.newest = Some(seen.1.clone());
        }
        self.done.push(seen.clone());
        self.recent.push(seen);
        let newest = self.newest.as_deref().map_or(at, secs);
        let keep_from = newest.min(secs(&self.started) - SETTLE_SECS);
        self.recent.retain(|(_, t)| secs(t) >= keep_from);
    }
}

/// One page of `getOrders`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    orders: Vec<Order>,
    #[serde(default)]
    next_token: Option<String>,
}

fn read_page(
    api: &Api,
    marketplace: &str,
    after: &str,
    token: Option<&str>,
) -> Result<Page, AdapterError> {
    #[derive(Deserialize)]
    struct Answer {
        payload: Page,
    }
    let size = PAGE_SIZE.to_string();
    let answer: Answer = api
        .send_ok(|| {
            let request = api
                .client()
                .get("/orders/v0/orders")
                .query("MarketplaceIds", marketplace)
                .query("LastUpdatedAfter", after)
                .query("MaxResultsPerPage", &size);
            match token {
                Some(t) => request.query("NextToken", t),
                None => request,
            }
        })?
        .json()?;
    Ok(answer.payload)
}

pub fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
    let mut cursor = match cursor.as_deref() {
        Some(text) => Cursor::parse(text)?,
        None => Cursor::first(first_start()?),
    };
    let marketplace = host::require_config(MARKETPLACE_ID)?;
    let api = Api::from_channel()?;
    let mut listing = cursor
        .listing
        .take()
        .unwrap_or_else(|| Listing::start(time::now()));
    let page = match read_page(&api, &marketplace, &cursor.after, listing.page.as_deref()) {
        // A NextToken Amazon no longer takes (they expire): read the listing
        // again from its first page; what was looked at is passed over.
        Err(AdapterError::Rejected(why)) if listing.page.is_some() => {
            host::log(
                LogLevel::Warn,
                &format!(
                    "Amazon refused the listing's NextToken ({why}); reading from its first page"
                ),
            );
            listing.page = None;
            listing.done.clear();
            read_page(&api, &marketplace, &cursor.after, None)?
        }
        other => other?,
    };
    let mut items = Vec::new();
    let mut stopped = false;
    for order in page.orders {
        let id = order.amazon_order_id.clone();
        let updated = time::to_rfc3339(&order.last_update_date).ok_or_else(|| {
            AdapterError::Rejected(format!(
                "Amazon order {id}: LastUpdateDate \"{}\" is not a date and time",
                order.last_update_date
            ))
        })?;
        let seen = (id.clone(), updated);
        if cursor.looked_at(&listing, &seen) {
            continue;
        }
        if !matches!(
            order.order_status.as_str(),
            "Pending" | "PendingAvailability"
        ) {
            let lines = match api.order_items(&id) {
                Ok(lines) => lines,
                // Throttled or failing: hand in what this pull has read, and
                // go on after it next time.
                Err(AdapterError::Transient(t)) if !items.is_empty() => {
                    host::log(
                        LogLevel::Info,
                        &format!(
                            "the lines of Amazon order {id} did not come ({}); this pull ends before it",
                            t.message
                        ),
                    );
                    stopped = true;
                    break;
                }
                Err(e) => return Err(e),
            };
            match incoming(&order, &lines, &marketplace)? {
                Some(o) => items.push(Inbound::Order(o)),
                None => host::log(
                    LogLevel::Warn,
                    &format!(
                        "Amazon order {id} ({}) carries no amount and no currency: passed over",
                        order.order_status
                    ),
                ),
            }
        }
        listing.note(seen);
    }
    let more = if stopped {
        true
    } else if let Some(next) = page.next_token.filter(|t| !t.is_empty()) {
        listing.page = Some(next);
        listing.done.clear();
        true
    } else {
        false
    };
    if more {
        cursor.listing = Some(listing);
    } else {
        cursor.finish(listing);
    }
    Ok(Batch {
        items,
        next_cursor: Some(cursor.encode()),
        more,
    })
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn address_lines(a: &Address) -> Vec<String> {
    let town = [trimmed(&a.postal_code), trimmed(&a.city)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    [
        trimmed(&a.company_name),
        trimmed(&a.address_line_1),
        trimmed(&a.address_line_2),
        trimmed(&a.address_line_3),
        (!town.is_empty()).then_some(town.as_str()),
        trimmed(&a.state_or_region),
        trimmed(&a.country_code),
    ]
    .into_iter()
    .flatten()
    .map(str::to_owned)
    .collect()
}

/// An amount in `fallback` when it names no currency of its own.
fn money(amount: &Option<Amount>, fallback: &str) -> Result<Option<Money>, AdapterError> {
    let Some(a) = amount else { return Ok(None) };
    let Some(value) = trimmed(&a.amount) else {
        return Ok(None);
    };
    Money::parse(value, trimmed(&a.currency_code).unwrap_or(fallback)).map(Some)
}

/// The order's currency: of its lines' prices, its total, or its
/// marketplace; none for an order that has no amount at all in a
/// marketplace the plugin does not know.
fn currency_of(order: &Order, items: &[OrderItem], marketplace: &str) -> Option<String> {
    let priced = items
        .iter()
        .filter_map(|i| i.item_price.as_ref())
        .chain(order.order_total.as_ref())
        .find_map(|a| trimmed(&a.currency_code));
    let market = order.marketplace_id.as_deref().unwrap_or(marketplace);
    priced
        .or_else(|| {
            MARKETPLACE_CURRENCIES
                .iter()
                .find(|(m, _)| *m == market)
                .map(|(_, c)| *c)
        })
        .map(str::to_owned)
}

fn minus(total: Option<Money>, less: Option<Money>, currency: &str) -> Money {
    let total = total.unwrap_or(Money {
        minor: 0,
        currency: currency.to_owned(),
    });
    match less {
        Some(l) if l.currency == total.currency => Money {
            minor: total.minor - l.minor,
            currency: total.currency,
        },
        _ => total,
    }
}

/// An Amazon order with its items as the host takes it in; `None` when
/// Amazon gives no amount and no currency can be told.
fn incoming(
    order: &Order,
    items: &[OrderItem],
    marketplace: &str,
) -> Result<Option<IncomingOrder>, AdapterError> {
    let id = &order.amazon_order_id;
    let Some(currency) = currency_of(order, items, marketplace) else {
        return Ok(None);
    };
    let in_order = |e: AdapterError| match e {
        AdapterError::Rejected(m) => AdapterError::Rejected(format!("Amazon order {id}: {m}")),
        other => other,
    };
    let mut shipping: Option<Money> = None;
    let mut lines = Vec::with_capacity(items.len());
    for item in items {
        let price = money(&item.item_price, &currency).map_err(in_order)?;
        let promotion = money(&item.promotion_discount, &currency).map_err(in_order)?;
        // ItemPrice is the whole line's; a promotion lowers what the buyer paid.
        let unit_price = minus(price, promotion, &currency).per_item(item.quantity_ordered);
        if let Some(charge) = money(&item.shipping_price, &currency).map_err(in_order)? {
            let discount = money(&item.shipping_discount, &currency).map_err(in_order)?;
            let line = minus(Some(charge), discount, &currency);
            shipping = Some(match shipping {
                Some(s) if s.currency == line.currency => Money {
                    minor: s.minor + line.minor,
                    currency: s.currency,
                },
                Some(s) => s,
                None => line,
            });
        }
        lines.push(OrderLine {
            line_id: item.order_item_id.clone(),
            article: trimmed(&item.seller_sku)
                .unwrap_or(item.asin.as_str())
                .to_owned(),
            name: trimmed(&item.title).unwrap_or_default().to_owned(),
            quantity: item.quantity_ordered,
            unit_price,
        });
    }
    let address = order.shipping_address.as_ref();
    let buyer = order.buyer_info.as_ref();
    let email = buyer
        .and_then(|b| trimmed(&b.buyer_email))
        .map(str::to_owned);
    let name = address
        .and_then(|a| trimmed(&a.name))
        .or_else(|| buyer.and_then(|b| trimmed(&b.buyer_name)))
        .unwrap_or_default()
        .to_owned();
    // Amazon collects the payment; only cash on delivery and convenience
    // store payments are the seller's business.
    let payment_method = match trimmed(&order.payment_method) {
        Some(m @ ("COD" | "CVS")) => m.to_owned(),
        _ => "amazon".to_owned(),
    };
    Ok(Some(IncomingOrder {
        platform_order_id: id.clone(),
        customer: Customer {
            // Amazon's buyer address (anonymised, stable per buyer); the
            // order id where Amazon gives none.
            id: email.clone().unwrap_or_else(|| id.clone()),
            name,
            email,
            phone: address.and_then(|a| trimmed(&a.phone)).map(str::to_owned),
            address: address.map(address_lines).unwrap_or_default(),
        },
        lines,
        shipping,
        payment_method,
        statuses: vec![status_value(Dimension::Order, &order.order_status)],
        created_at: rfc3339(&order.purchase_date, &format!("order {id}: PurchaseDate"))?,
        updated_at: rfc3339(
            &order.last_update_date,
            &format!("order {id}: LastUpdateDate"),
        )?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(value: serde_json::Value) -> Order {
        serde_json::from_value(value).unwrap()
    }

    fn items(value: serde_json::Value) -> Vec<OrderItem> {
        serde_json::from_value(value).unwrap()
    }

    fn at(text: &str) -> i64 {
        time::parse(text).unwrap()
    }

    fn seen(id: &str, t: &str) -> Seen {
        (id.to_owned(), t.to_owned())
    }

    #[test]
    fn an_order_takes_its_lines_prices_less_promotions_and_its_shipping() {
        let o = order(json!({
            "AmazonOrderId": "302-1234567-7654321", "PurchaseDate": "2026-11-20T10:00:00Z",
            "LastUpdateDate": "2026-11-20T10:05:00Z", "OrderStatus": "Unshipped",
            "PaymentMethod": "Other", "MarketplaceId": "A1PA6795UKMFR9",
            "BuyerInfo": {"BuyerEmail": "5q2v@marketplace.amazon.de"},
            "ShippingAddress": {"Name": "Erika Mustermann", "AddressLine1": "Heidestr. 17",
                "PostalCode": "51147", "City": "Köln", "CountryCode": "DE", "Phone": "+49 221 123"}
        }));
        let lines = items(json!([
            {"ASIN": "B00TEAPOT1", "SellerSKU": "TEA-100", "OrderItemId": "11", "Title": "Teapot",
             "QuantityOrdered": 3, "ItemPrice": {"CurrencyCode": "EUR", "Amount": "59.70"},
             "PromotionDiscount": {"CurrencyCode": "EUR", "Amount": "3.00"},
             "ShippingPrice": {"CurrencyCode": "EUR", "Amount": "4.90"},
             "ShippingDiscount": {"CurrencyCode": "EUR", "Amount": "0.90"}},
            {"ASIN": "B00CUPS002", "OrderItemId": "22", "QuantityOrdered": 1,
             "ItemPrice": {"CurrencyCode": "EUR", "Amount": "9.99"},
             "ShippingPrice": {"CurrencyCode": "EUR", "Amount": "1.00"}}
        ]));
        let o = incoming(&o, &lines, "A1PA6795UKMFR9").unwrap().unwrap();
        assert_eq!(o.customer.id, "5q2v@marketplace.amazon.de");
        assert_eq!(o.customer.name, "Erika Mustermann");
        assert_eq!(o.customer.phone.as_deref(), Some("+49 221 123"));
        assert_eq!(o.customer.address, ["Heidestr. 17", "51147 Köln", "DE"]);
        assert_eq!(o.lines[0].article, "TEA-100");
        assert_eq!(o.lines[0].unit_price.minor, 1890);
        assert_eq!(o.lines[1].article, "B00CUPS002", "no SKU: the ASIN");
        assert_eq!(o.lines[1].unit_price.minor, 999);
        let shipping = o.shipping.unwrap();
        assert_eq!((shipping.minor, shipping.currency.as_str()), (500, "EUR"));
        assert_eq!(o.payment_method, "amazon");
        assert_eq!(o.statuses[0].code, "Unshipped");
        assert_eq!(o.updated_at, "2026-11-20T10:05:00Z");
    }

    #[test]
    fn an_order_without_amounts_takes_its_marketplaces_currency_or_none() {
        let canceled = |market: &str| {
            order(json!({
                "AmazonOrderId": "302-1", "PurchaseDate": "2026-11-20T10:00:00Z",
                "LastUpdateDate": "2026-11-20T10:05:00Z", "OrderStatus": "Canceled",
                "PaymentMethod": "COD", "MarketplaceId": market
            }))
        };
        let lines = items(json!([{"ASIN": "B1", "OrderItemId": "11", "QuantityOrdered": 2}]));
        let o = incoming(&canceled("A1VC38T7YXB528"), &lines, "A1PA6795UKMFR9")
            .unwrap()
            .unwrap();
        assert_eq!(o.lines[0].unit_price.currency, "JPY");
        assert_eq!(o.lines[0].unit_price.minor, 0);
        assert_eq!(o.customer.id, "302-1", "no buyer email: the order id");
        assert_eq!(o.payment_method, "COD");
        assert!(
            incoming(&canceled("XNEWMARKET"), &lines, "A1PA6795UKMFR9")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_is_refused() {
        let mut listing = Listing::start(at("2026-11-20T12:00:00Z"));
        listing.page = Some("tok/en+=".into());
        listing.note(seen("302-1", "2026-11-20T10:05:00Z"));
        let cursor = Cursor {
            after: "2026-11-20T10:00:00Z".into(),
            seen: vec![seen("302-0", "2026-11-20T10:00:00Z")],
            listing: Some(listing),
        };
        assert_eq!(Cursor::parse(&cursor.encode()).unwrap(), cursor);
        for foreign in [
            "3",
            "{\"modified\":\"2026-11-20T10:05:00Z\"}",
            "{\"after\":\"yesterday\"}",
        ] {
            assert!(
                matches!(Cursor::parse(foreign), Err(AdapterError::Rejected(m)) if m.contains("not an Amazon intake cursor")),
                "{foreign}"
            );
        }
    }

    #[test]
    fn a_listing_moves_after_to_its_newest_update_and_keeps_that_seconds_orders() {
        let mut cursor = Cursor::first(at("2026-11-01T00:00:00Z"));
        let mut listing = Listing::start(at("2026-11-20T12:00:00Z"));
        listing.note(seen("b", "2026-11-20T10:05:00Z"));
        listing.note(seen("a", "2026-11-20T09:00:00Z"));
        listing.note(seen("c", "2026-11-20T10:05:00Z"));
        cursor.finish(listing);
        assert_eq!(cursor.after, "2026-11-20T10:05:00Z");
        assert_eq!(
            cursor.seen,
            [
                seen("b", "2026-11-20T10:05:00Z"),
                seen("c", "2026-11-20T10:05:00Z")
            ]
        );
    }

    #[test]
    fn a_listing_of_recent_changes_moves_after_only_to_two_minutes_before_it_began() {
        let mut cursor = Cursor::first(at("2026-11-20T11:00:00Z"));
        let mut listing = Listing::start(at("2026-11-20T12:00:00Z"));
        listing.note(seen("old", "2026-11-20T11:30:00Z"));
        listing.note(seen("x", "2026-11-20T11:58:30Z"));
        listing.note(seen("y", "2026-11-20T11:59:50Z"));
        cursor.finish(listing);
        assert_eq!(cursor.after, "2026-11-20T11:58:00Z");
        assert_eq!(
            cursor.seen,
            [
                seen("x", "2026-11-20T11:58:30Z"),
                seen("y", "2026-11-20T11:59:50Z")
            ]
        );
        let listing = Listing::start(at("2026-11-20T12:05:00Z"));
        // Seen again unchanged: passed over; changed: not.
        assert!(cursor.looked_at(&listing, &seen("x", "2026-11-20T11:58:30Z")));
        assert!(!cursor.looked_at(&listing, &seen("x", "2026-11-20T12:01:00Z")));
    }

    #[test]
    fn an_empty_listing_leaves_the_cursor_where_it_was() {
        let mut cursor = Cursor::first(at("2026-11-20T11:00:00Z"));
        cursor.seen = vec![seen("a", "2026-11-20T11:00:00Z")];
        let before = cursor.clone();
        cursor.finish(Listing::start(at("2026-11-20T12:00:00Z")));
        assert_eq!(cursor, before);
    }

    #[test]
    fn a_listing_keeps_only_what_may_lie_after_the_next_start() {
        let mut listing = Listing::start(at("2026-11-20T12:00:00Z"));
        listing.note(seen("a", "2026-11-20T09:00:00Z"));
        listing.note(seen("b", "2026-11-20T10:00:00Z"));
        listing.note(seen("c", "2026-11-20T11:59:00Z"));
        listing.note(seen("d", "2026-11-20T11:00:00Z"));
        assert_eq!(
            listing.recent,
            [seen("c", "2026-11-20T11:59:00Z")],
            "what is older than two minutes before the listing began and than the newest goes"
        );
        assert_eq!(listing.done.len(), 4);
    }
}
