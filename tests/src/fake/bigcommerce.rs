//! A fake BigCommerce store: the Orders V2 API below
//! `/stores/{store_hash}/v2` with its `X-Auth-Token`, orders (one by id,
//! the list with its `min_date_modified`/`max_date_modified` filters,
//! `sort`, `page`/`limit`, and 204 for an empty page), status updates by
//! `status_id` (0–14), order products, shipping addresses, shipments (204
//! when an order has none; a new one moves the order to Shipped or
//! Partially Shipped, as BigCommerce does), the order statuses, and the
//! store's order webhooks, signed the Standard Webhooks way. Errors come in
//! BigCommerce's V2 shape, `[{"status": …, "message": …}]`.
//!
//! Every exchange is checked against BigCommerce's published Orders V2
//! description (`bigcommerce-orders-v2-oas3.yaml`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use statusport_tests::delivery::{Delivery, now_secs, standard_webhook};
use statusport_tests::fake::{Common, Platform, Recorded, json as answer, segments, shared_spec};

/// The store's hash in the fake's paths.
pub const STORE_HASH: &str = "abc123";
/// The access token the fake store accepts.
pub const ACCESS_TOKEN: &str = "bc-access-token-test";
/// The signing secret of the fake store's webhooks (the Standard Webhooks
/// specification's example secret).
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `getOrderStatuses`: id, name, description.
pub const STATUSES: &[(u64, &str, &str)] = &[
    (
        0,
        "Incomplete",
        "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction.",
    ),
    (
        1,
        "Pending",
        "Customer started the checkout process, but did not complete it.",
    ),
    (
        2,
        "Shipped",
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action.",
    ),
    (
        3,
        "Partially Shipped",
        "Only some items in the order have been shipped, due to some products being pre-order only or other reasons.",
    ),
    (4, "Refunded", "Seller has used the Refund action."),
    (
        5,
        "Cancelled",
        "Seller has cancelled an order, due to a stock inconsistency or other reasons.",
    ),
    (
        6,
        "Declined",
        "Seller has marked the order as declined for lack of manual payment, or other reasons.",
    ),
    (
        7,
        "Awaiting Payment",
        "Customer has completed checkout process, but payment has yet to be confirmed.",
    ),
    (
        8,
        "Awaiting Pickup",
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
    ),
    (
        9,
        "Awaiting Shipment",
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
    ),
    (
        10,
        "Completed",
        "Client has paid for their digital product and their file(s) are available for download.",
    ),
    (
        11,
        "Awaiting Fulfillment",
        "Customer has completed the checkout process and payment has been confirmed.",
    ),
    (
        12,
        "Manual Verification Required",
        "Order is on hold while some aspect needs to be manually confirmed.",
    ),
    (
        13,
        "Disputed",
        "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order.",
    ),
    (
        14,
        "Partially Refunded",
        "Seller has partially refunded the order.",
    ),
];

/// BigCommerce's largest page.
const MAX_LIMIT: u64 = 250;

/// The name of status `id`.
pub fn status_name(id: u64) -> &'static str {
    STATUSES
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or("Unknown", |(_, name, _)| name)
}

/// One order product (a line).
#[derive(Clone, Debug)]
pub struct Product {
    /// The order product id, unique in the store (what shipments name).
    pub id: u64,
    pub product_id: u64,
    /// Empty when the product has none.
    pub sku: String,
    pub name: String,
    pub quantity: u64,
    pub quantity_shipped: u64,
    /// Price of one item, taxes included, in minor units.
    pub unit_price: i64,
    /// `physical`, `digital` or `giftcertificate`.
    pub kind: String,
}

/// One shipment of an order.
#[derive(Clone, Debug)]
pub struct Shipment {
    pub id: u64,
    pub order_address_id: u64,
    pub tracking_number: String,
    pub tracking_carrier: String,
    pub tracking_link: String,
    pub shipping_provider: String,
    /// `(order_product_id, quantity)`.
    pub items: Vec<(u64, u64)>,
    /// Seconds since the epoch.
    pub created: i64,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub status_id: u64,
    /// The status before the last change, for `store/order/statusUpdated`.
    pub previous_status_id: u64,
    /// Seconds since the epoch: BigCommerce keeps whole seconds.
    pub created: i64,
    pub modified: i64,
    /// 0 for a guest checkout.
    pub customer_id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub currency: String,
    pub payment_method: String,
    /// Shipping, taxes included, in minor units.
    pub shipping: i64,
    pub products: Vec<Product>,
    /// The id of the order's one shipping address.
    pub address_id: u64,
    pub shipments: Vec<Shipment>,
}

/// Minor units as BigCommerce writes amounts: four decimals, `"19.9000"`.
pub fn amount(minor: i64, currency: &str) -> String {
    let decimals: u32 = match currency {
        "JPY" | "KRW" => 0,
        "KWD" | "BHD" | "JOD" | "OMR" | "TND" => 3,
        _ => 2,
    };
    let scale = 10i64.pow(decimals);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.abs();
    let fraction = format!("{:0width$}", abs % scale, width = decimals as usize);
    format!("{sign}{}.{fraction:0<4}", abs / scale)
}

/// A time as BigCommerce writes it (RFC 2822): `Tue, 20 Nov 2012 00:00:00 +0000`.
pub fn date(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("a time in range")
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// A date as `min_date_modified` takes it: RFC 2822 or ISO 8601.
fn parse_date(text: &str) -> Option<i64> {
    static RFC2822: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    if let Ok(t) = RFC2822.parse_timestamp(text.trim()) {
        return Some(t.as_second());
    }
    if let Ok(t) = text.trim().parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    let civil: jiff::civil::DateTime = text.trim().parse().ok()?;
    Some(
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second(),
    )
}

/// Adds the fields of each of `parts` to the object `into`.
fn merge<const N: usize>(into: &mut Value, parts: [Value; N]) {
    let into = into.as_object_mut().expect("an object");
    for part in parts {
        if let Value::Object(fields) = part {
            into.extend(fields);
        }
    }
}

/// An answer in BigCommerce's V2 error shape.
pub fn error(status: u16, message: &str) -> Response {
    answer(status, json!([{ "status": status, "message": message }]))
}

fn not_found() -> Response {
    error(404, "The requested resource was not found.")
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

impl Order {
    fn plain(created: i64) -> Order {
        Order {
            status_id: 1,
            previous_status_id: 0,
            created,
            modified: created,
            customer_id: 11,
            first_name: "Jane".into(),
            last_name: "Doe".into(),
            email: "janedoe@example.com".into(),
            currency: "USD".into(),
            payment_method: "Cash on Delivery".into(),
            shipping: 500,
            products: Vec::new(),
            address_id: 0,
            shipments: Vec::new(),
        }
    }

    fn subtotal(&self) -> i64 {
        self.products
            .iter()
            .map(|p| p.unit_price * p.quantity as i64)
            .sum()
    }

    fn billing_address(&self) -> Value {
        json!({
            "first_name": self.first_name, "last_name": self.last_name, "company": "",
            "street_1": "455 Main Street", "street_2": "", "city": "Austin", "state": "Texas",
            "zip": "78751", "country": "United States", "country_iso2": "US",
            "phone": "+1 512 555 0100", "email": self.email,
        })
    }

    /// The order as `getOrder` and `getOrders` give it.
    pub fn to_json(&self, id: u64, base: &str) -> Value {
        let currency = self.currency.as_str();
        let money = |minor: i64| amount(minor, currency);
        let zero = money(0);
        let subtotal = self.subtotal();
        let total = subtotal + self.shipping;
        let items_total: u64 = self.products.iter().map(|p| p.quantity).sum();
        let items_shipped: u64 = self.products.iter().map(|p| p.quantity_shipped).sum();
        let resource = |name: &str| {
            json!({
                "url": format!("{base}/orders/{id}/{name}"),
                "resource": format!("/orders/{id}/{name}"),
            })
        };
        let mut billing = self.billing_address();
        billing["form_fields"] = json!([]);
        // In parts: one `json!` of every field is past the macro's
        // recursion limit.
        let mut order = json!({
            "id": id,
            "customer_id": self.customer_id,
            "date_created": date(self.created),
            "date_modified": date(self.modified),
            "date_shipped": self.shipments.last().map(|s| date(s.created)).unwrap_or_default(),
            "status_id": self.status_id,
            "status": status_name(self.status_id),
            "cart_id": format!("fake-cart-{id}"),
            "subtotal_ex_tax": money(subtotal),
            "subtotal_inc_tax": money(subtotal),
            "subtotal_tax": zero,
            "base_shipping_cost": money(self.shipping),
            "shipping_cost_ex_tax": money(self.shipping),
            "shipping_cost_inc_tax": money(self.shipping),
            "shipping_cost_tax": zero,
            "shipping_cost_tax_class_id": 2,
            "base_handling_cost": zero,
            "handling_cost_ex_tax": zero,
            "handling_cost_inc_tax": zero,
            "handling_cost_tax": zero,
            "handling_cost_tax_class_id": 2,
            "base_wrapping_cost": zero,
            "wrapping_cost_ex_tax": zero,
            "wrapping_cost_inc_tax": zero,
            "wrapping_cost_tax": zero,
            "wrapping_cost_tax_class_id": 3,
            "total_ex_tax": money(total),
            "total_inc_tax": money(total),
            "total_tax": zero,
        });
        let more = [
            json!({
                "items_total": items_total,
                "items_shipped": items_shipped,
                "payment_method": self.payment_method,
                "payment_provider_id": "",
                "payment_status": if matches!(self.status_id, 0 | 1 | 7) { "pending" } else { "captured" },
                "refunded_amount": zero,
                "order_is_digital": false,
                "store_credit_amount": zero,
                "gift_certificate_amount": zero,
                "ip_address": "127.0.0.1",
                "ip_address_v6": "",
                "geoip_country": "United States",
                "geoip_country_iso2": "US",
                "currency_id": 1,
                "currency_code": currency,
                "currency_exchange_rate": "1.0000000000",
                "default_currency_id": 1,
                "default_currency_code": currency,
                "staff_notes": "",
                "customer_message": "",
                "discount_amount": zero,
                "coupon_discount": zero,
            }),
            json!({
                "shipping_address_count": 1,
                "is_deleted": false,
                "ebay_order_id": "0",
                "is_tax_inclusive_pricing": false,
                "is_email_opt_in": false,
                "order_source": "www",
                "channel_id": 1,
                "external_source": null,
                "external_id": null,
                "external_merchant_id": null,
                "tax_provider_id": "BasicTaxProvider",
                "customer_locale": "en",
                "external_order_id": "",
                "store_default_currency_code": currency,
                "store_default_to_transactional_exchange_rate": "1.0000000000",
                "billing_address": billing,
                "products": resource("products"),
                "shipping_addresses": resource("shipping_addresses"),
                "coupons": resource("coupons"),
            }),
        ];
        merge(&mut order, more);
        order
    }

    fn product_json(&self, id: u64, p: &Product) -> Value {
        let money = |minor: i64| amount(minor, &self.currency);
        let zero = money(0);
        let total = p.unit_price * p.quantity as i64;
        let mut product = json!({
            "id": p.id,
            "order_id": id,
            "product_id": p.product_id,
            "variant_id": p.product_id * 10,
            "order_pickup_method_id": 0,
            "order_address_id": if p.kind == "physical" { self.address_id } else { 0 },
            "name": p.name,
            "name_customer": p.name,
            "name_merchant": p.name,
            "sku": p.sku,
            "upc": "",
            "type": p.kind,
            "base_price": money(p.unit_price),
            "price_ex_tax": money(p.unit_price),
            "price_inc_tax": money(p.unit_price),
            "price_tax": zero,
            "base_total": money(total),
            "total_ex_tax": money(total),
            "total_inc_tax": money(total),
            "total_tax": zero,
            "weight": 1,
            "width": "0.0000",
            "height": "0.0000",
            "depth": "0.0000",
            "quantity": p.quantity,
            "base_cost_price": zero,
            "cost_price_inc_tax": zero,
            "cost_price_ex_tax": zero,
            "cost_price_tax": zero,
        });
        let more = [json!({
            "is_refunded": false,
            "quantity_refunded": 0,
            "refund_amount": zero,
            "return_id": 0,
            "wrapping_id": 0,
            "wrapping_name": null,
            "base_wrapping_cost": zero,
            "wrapping_cost_ex_tax": zero,
            "wrapping_cost_inc_tax": zero,
            "wrapping_cost_tax": zero,
            "wrapping_message": "",
            "quantity_shipped": p.quantity_shipped,
            "event_name": null,
            "event_date": null,
            "fixed_shipping_cost": zero,
            "ebay_item_id": "",
            "ebay_transaction_id": "",
            "option_set_id": null,
            "parent_order_product_id": null,
            "is_bundled_product": false,
            "bin_picking_number": "",
            "external_id": null,
            "brand": "",
            "applied_discounts": [],
            "product_options": [],
            "configurable_fields": [],
            "gift_certificate_id": null,
            "discounted_total_inc_tax": money(total),
        })];
        merge(&mut product, more);
        product
    }

    fn address_json(&self, id: u64) -> Value {
        let money = |minor: i64| amount(minor, &self.currency);
        let zero = money(0);
        let mut address = self.billing_address();
        let extra = json!({
            "id": self.address_id,
            "order_id": id,
            "items_total": self.products.iter().filter(|p| p.kind == "physical").map(|p| p.quantity).sum::<u64>(),
            "items_shipped": self.products.iter().map(|p| p.quantity_shipped).sum::<u64>(),
            "shipping_method": "Flat Rate",
            "base_cost": money(self.shipping),
            "cost_ex_tax": money(self.shipping),
            "cost_inc_tax": money(self.shipping),
            "cost_tax": zero,
            "cost_tax_class_id": 2,
            "base_handling_cost": zero,
            "handling_cost_ex_tax": zero,
            "handling_cost_inc_tax": zero,
            "handling_cost_tax": zero,
            "handling_cost_tax_class_id": 2,
            "shipping_zone_id": 1,
            "shipping_zone_name": "United States",
            "form_fields": [],
            "shipping_quotes": {
                "url": format!("/orders/{id}/shipping_addresses/{}/shipping_quotes", self.address_id),
                "resource": format!("/orders/{id}/shipping_addresses/{}/shipping_quotes", self.address_id),
            },
        });
        merge(&mut address, [extra]);
        address
    }

    fn shipment_json(&self, id: u64, s: &Shipment) -> Value {
        let mut shipping_address = self.billing_address();
        shipping_address["form_fields"] = json!([]);
        json!({
            "id": s.id,
            "order_id": id,
            "customer_id": self.customer_id,
            "order_address_id": s.order_address_id,
            "date_created": date(s.created),
            "tracking_number": s.tracking_number,
            "merchant_shipping_cost": amount(0, &self.currency),
            "shipping_method": "",
            "shipping_provider": s.shipping_provider,
            "tracking_carrier": s.tracking_carrier,
            "tracking_link": s.tracking_link,
            "generated_tracking_link": if s.tracking_carrier.is_empty() {
                String::new()
            } else {
                format!("https://www.aftership.com/track/{}/{}", s.tracking_carrier, s.tracking_number)
            },
            "comments": "",
            "billing_address": self.billing_address(),
            "shipping_address": shipping_address,
            "items": s.items.iter().map(|(product, quantity)| {
                let product_id = self.products.iter().find(|p| p.id == *product).map_or(0, |p| p.product_id);
                json!({ "order_product_id": product, "product_id": product_id, "quantity": quantity })
            }).collect::<Vec<_>>(),
            "shipping_provider_display_name": "",
        })
    }
}

pub struct BigCommerce {
    common: Common,
    pub store_hash: String,
    pub access_token: String,
    pub webhook_secret: String,
    pub orders: BTreeMap<u64, Order>,
    /// Shipments to create and then answer with 503, as if the answer were
    /// lost on the way back.
    pub lose_shipment_answers: usize,
    /// List orders newest first when `sort` names no direction (BigCommerce
    /// lists oldest first): for the plugin's check of the order it is given.
    pub default_sort_descending: bool,
    next_shipment_id: u64,
}

impl BigCommerce {
    fn empty() -> BigCommerce {
        BigCommerce {
            common: Common::default(),
            store_hash: STORE_HASH.into(),
            access_token: ACCESS_TOKEN.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            orders: BTreeMap::new(),
            lose_shipment_answers: 0,
            default_sort_descending: false,
            next_shipment_id: 1,
        }
    }

    /// A store with orders `ids`, each Pending, placed an hour ago, with two
    /// order products (ids counted from 1 across the store: the first
    /// order's first line is 1) and one shipping address.
    pub fn new(ids: &[u64]) -> BigCommerce {
        let mut store = BigCommerce::empty();
        let created = jiff::Timestamp::now().as_second() - 3600;
        let mut next_product = 1;
        for (n, id) in ids.iter().enumerate() {
            let mut order = Order::plain(created);
            order.address_id = 1000 + n as u64;
            order.products = (0..2)
                .map(|k| {
                    let product = Product {
                        id: next_product,
                        product_id: 77 + k,
                        sku: format!("SKU-{}", 77 + k),
                        name: format!("Article {}", 77 + k),
                        quantity: 1 + k,
                        quantity_shipped: 0,
                        unit_price: 1990 + 1000 * k as i64,
                        kind: "physical".into(),
                    };
                    next_product += 1;
                    product
                })
                .collect();
            store.orders.insert(*id, order);
        }
        store
    }

    /// A store with `n` generated orders, ids 100 to 99 + `n` (BigCommerce
    /// numbers from 100), placed one a minute up to an hour ago and awaiting
    /// fulfillment, each with a customer (every fifth a guest), one to three
    /// products (the third without SKU) and one shipping address.
    pub fn seeded(n: usize) -> BigCommerce {
        let mut store = BigCommerce::empty();
        let start = jiff::Timestamp::now().as_second() - 3600 - 60 * n as i64;
        for i in 1..=n as u64 {
            let id = 99 + i;
            let created = start + 60 * i as i64;
            let mut order = Order::plain(created);
            order.status_id = 11;
            order.customer_id = if i % 5 == 0 { 0 } else { 1000 + i % 97 };
            order.first_name = format!("Given{i}");
            order.last_name = format!("Family{}", i % 97);
            order.email = format!("customer{i}@example.com");
            order.shipping = 490;
            order.address_id = 5000 + i;
            order.products = (0..1 + i % 3)
                .map(|k| Product {
                    id: i * 10 + k,
                    product_id: 100 + k,
                    sku: if k == 2 {
                        String::new()
                    } else {
                        format!("SKU-{}", 100 + k)
                    },
                    name: format!("Article {}", 100 + k),
                    quantity: 1 + i % 4,
                    quantity_shipped: 0,
                    unit_price: 990 + 100 * k as i64,
                    kind: "physical".into(),
                })
                .collect();
            store.orders.insert(id, order);
        }
        store
    }

    /// The API's root for a fake running at `server_url`: what a channel's
    /// base URL is (`…/stores/{store_hash}/v2`).
    pub fn api_url(server_url: &str) -> String {
        format!("{server_url}/stores/{STORE_HASH}/v2")
    }

    /// A time after every order's modification time, and not before now:
    /// a change made now gets it.
    fn next_change_time(&self) -> i64 {
        let latest = self.orders.values().map(|o| o.modified).max().unwrap_or(0);
        jiff::Timestamp::now().as_second().max(latest + 1)
    }

    fn order_mut(&mut self, id: u64) -> &mut Order {
        self.orders
            .get_mut(&id)
            .unwrap_or_else(|| panic!("the fake store has no order {id}"))
    }

    /// Sets an order's status as the control panel would, moving its
    /// modification time on.
    pub fn change_status(&mut self, id: u64, status_id: u64) {
        let at = self.next_change_time();
        let order = self.order_mut(id);
        order.previous_status_id = order.status_id;
        order.status_id = status_id;
        order.modified = at;
    }

    /// The merchant cancels the order.
    pub fn cancel(&mut self, id: u64) {
        self.change_status(id, 5)
    }

    /// The payment is confirmed: Awaiting Fulfillment.
    pub fn mark_paid(&mut self, id: u64) {
        self.change_status(id, 11)
    }

    /// The merchant ships every item in the control panel (Ship Items):
    /// one shipment by UPS, and the order is Shipped.
    pub fn ship(&mut self, id: u64) {
        let at = self.next_change_time();
        let shipment_id = self.next_shipment_id;
        self.next_shipment_id += 1;
        let order = self.order_mut(id);
        let items: Vec<(u64, u64)> = order
            .products
            .iter_mut()
            .filter(|p| p.quantity > p.quantity_shipped)
            .map(|p| {
                let left = p.quantity - p.quantity_shipped;
                p.quantity_shipped = p.quantity;
                (p.id, left)
            })
            .collect();
        order.shipments.push(Shipment {
            id: shipment_id,
            order_address_id: order.address_id,
            tracking_number: format!("1Z999AA1{id:010}"),
            tracking_carrier: "ups".into(),
            tracking_link: String::new(),
            shipping_provider: String::new(),
            items,
            created: at,
        });
        order.previous_status_id = order.status_id;
        order.status_id = 2;
        order.modified = at;
    }

    /// The callback body BigCommerce posts for `scope` about order `id`
    /// (`store/order/statusUpdated` carries the previous and new status).
    pub fn callback(&self, scope: &str, id: u64) -> Vec<u8> {
        let order = self.orders.get(&id);
        let mut data = json!({ "type": "order", "id": id });
        if scope == "store/order/statusUpdated" {
            let order = order.unwrap_or_else(|| panic!("the fake store has no order {id}"));
            data["status"] = json!({
                "previous_status_id": order.previous_status_id,
                "new_status_id": order.status_id,
            });
        }
        let created_at = order.map_or_else(|| now_secs() as i64, |o| o.modified);
        let body = json!({
            "created_at": created_at,
            "store_id": "1025646",
            "producer": format!("stores/{}", self.store_hash),
            "scope": scope,
            // BigCommerce sends the SHA-1 of the payload; a digest of the
            // same length stands in for it (nobody checks it).
            "hash": hex::encode(&statusport_tests::delivery::hmac_sha256("hash", data.to_string().as_bytes())[..20]),
            "data": data,
        });
        serde_json::to_vec(&body).expect("a callback is JSON")
    }

    /// The delivery of `scope` about order `id`, signed now with the
    /// store's webhook secret; `webhook_id` is its `webhook-id`.
    pub fn webhook(&self, scope: &str, id: u64, webhook_id: &str) -> Delivery {
        standard_webhook(
            &self.webhook_secret,
            webhook_id,
            now_secs(),
            &self.callback(scope, id),
        )
    }

    fn base(&self) -> String {
        format!("https://api.bigcommerce.com/stores/{}/v2", self.store_hash)
    }

    /// `GET /orders`.
    fn list(&self, query: Option<&str>) -> Response {
        let params: BTreeMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let invalid = |name: &str| error(400, &format!("The field '{name}' is invalid."));
        let number = |name: &'static str, default: u64| -> Result<u64, &'static str> {
            match params.get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
                    .ok_or(name),
            }
        };
        let date_of = |name: &'static str| -> Result<Option<i64>, &'static str> {
            match params.get(name) {
                None => Ok(None),
                Some(v) => parse_date(v).map(Some).ok_or(name),
            }
        };
        let (page, limit) = match (number("page", 1), number("limit", 50)) {
            (Ok(p), Ok(l)) => (p, l),
            (Err(name), _) | (_, Err(name)) => return invalid(name),
        };
        if page < 1 {
            return invalid("page");
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return invalid("limit");
        }
        let mut bounds = [None; 4];
        for (slot, name) in bounds.iter_mut().zip([
            "min_date_modified",
            "max_date_modified",
            "min_date_created",
            "max_date_created",
        ]) {
            match date_of(name) {
                Ok(d) => *slot = d,
                Err(name) => return invalid(name),
            }
        }
        let [min_modified, max_modified, min_created, max_created] = bounds;
        let status = match params.get("status_id").map(|s| s.parse::<u64>()) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(_)) => return invalid("status_id"),
        };
        let mut found: Vec<(&u64, &Order)> = self
            .orders
            .iter()
            .filter(|(_, o)| min_modified.is_none_or(|m| o.modified >= m))
            .filter(|(_, o)| max_modified.is_none_or(|m| o.modified <= m))
            .filter(|(_, o)| min_created.is_none_or(|m| o.created >= m))
            .filter(|(_, o)| max_created.is_none_or(|m| o.created <= m))
            .filter(|(_, o)| status.is_none_or(|s| o.status_id == s))
            .collect();
        let sort = params.get("sort").map_or("id", String::as_str);
        let default = if self.default_sort_descending {
            "desc"
        } else {
            "asc"
        };
        let (field, direction) = sort.split_once(':').unwrap_or((sort, default));
        match field {
            "id" => found.sort_by_key(|(id, _)| **id),
            "date_modified" => found.sort_by_key(|(id, o)| (o.modified, **id)),
            "date_created" => found.sort_by_key(|(id, o)| (o.created, **id)),
            "status_id" => found.sort_by_key(|(id, o)| (o.status_id, **id)),
            "customer_id" => found.sort_by_key(|(id, o)| (o.customer_id, **id)),
            _ => return invalid("sort"),
        }
        match direction {
            "asc" => {}
            "desc" => found.reverse(),
            _ => return invalid("sort"),
        }
        let base = self.base();
        let page: Vec<Value> = found
            .into_iter()
            .skip(((page - 1) * limit) as usize)
            .take(limit as usize)
            .map(|(id, o)| o.to_json(*id, &base))
            .collect();
        if page.is_empty() {
            return no_content();
        }
        answer(200, Value::Array(page))
    }

    /// `PUT /orders/{id}`: the status, by `status_id`.
    fn update(&mut self, id: u64, body: &Value) -> Response {
        if !body.is_object() {
            return error(400, "The request body is not a JSON object.");
        }
        if let Some(status) = body.get("status_id") {
            let Some(status) = status
                .as_u64()
                .filter(|s| STATUSES.iter().any(|(i, _, _)| i == s))
            else {
                return error(400, "The field 'status_id' is invalid.");
            };
            if self.orders[&id].status_id != status {
                self.change_status(id, status);
            }
        }
        answer(200, self.orders[&id].to_json(id, &self.base()))
    }

    /// `POST /orders/{id}/shipments`.
    fn create_shipment(&mut self, id: u64, body: &Value) -> Response {
        let order = &self.orders[&id];
        let Some(address) = body.get("order_address_id") else {
            return error(
                400,
                "The required field 'order_address_id' was not supplied.",
            );
        };
        if address.as_u64() != Some(order.address_id) {
            return error(400, "The field 'order_address_id' is invalid.");
        }
        let Some(items) = body
            .get("items")
            .and_then(Value::as_array)
            .filter(|i| !i.is_empty())
        else {
            return error(400, "The required field 'items' was not supplied.");
        };
        let tracking_number = body
            .get("tracking_number")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if tracking_number.chars().count() > 50 {
            return error(400, "The field 'tracking_number' is invalid.");
        }
        let mut wanted: Vec<(u64, u64)> = Vec::new();
        for item in items {
            let (Some(product), Some(quantity)) = (
                item.get("order_product_id").and_then(Value::as_u64),
                item.get("quantity").and_then(Value::as_u64),
            ) else {
                return error(400, "The field 'items' is invalid.");
            };
            let Some(p) = order.products.iter().find(|p| p.id == product) else {
                return error(
                    400,
                    &format!("The order product {product} does not belong to order {id}."),
                );
            };
            let already: u64 = wanted
                .iter()
                .filter(|(w, _)| *w == product)
                .map(|(_, q)| q)
                .sum();
            if quantity == 0 || p.quantity_shipped + already + quantity > p.quantity {
                return error(
                    400,
                    &format!(
                        "The quantity specified for order product {product} is greater than the quantity of the product that is available to ship."
                    ),
                );
            }
            wanted.push((product, quantity));
        }
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let at = self.next_change_time();
        let shipment = Shipment {
            id: self.next_shipment_id,
            order_address_id: order.address_id,
            tracking_number,
            tracking_carrier: text("tracking_carrier"),
            tracking_link: text("tracking_link"),
            shipping_provider: text("shipping_provider"),
            items: wanted.clone(),
            created: at,
        };
        self.next_shipment_id += 1;
        let order = self.order_mut(id);
        for (product, quantity) in &wanted {
            if let Some(p) = order.products.iter_mut().find(|p| p.id == *product) {
                p.quantity_shipped += quantity;
            }
        }
        let all_shipped = order
            .products
            .iter()
            .filter(|p| p.kind == "physical")
            .all(|p| p.quantity_shipped >= p.quantity);
        order.previous_status_id = order.status_id;
        order.status_id = if all_shipped { 2 } else { 3 };
        order.modified = at;
        order.shipments.push(shipment.clone());
        if self.lose_shipment_answers > 0 {
            self.lose_shipment_answers -= 1;
            return error(503, "The service is temporarily unavailable.");
        }
        answer(201, self.orders[&id].shipment_json(id, &shipment))
    }
}

/// A collection page of `items` as BigCommerce answers it: 204 when empty.
fn paged(items: Vec<Value>, query: Option<&str>) -> Response {
    let params: BTreeMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let number = |name: &str, default: u64| {
        params
            .get(name)
            .map_or(Some(default), |v| v.parse::<u64>().ok())
    };
    let (Some(page), Some(limit)) = (number("page", 1), number("limit", 50)) else {
        return error(400, "The field 'page' or 'limit' is invalid.");
    };
    if page < 1 || !(1..=MAX_LIMIT).contains(&limit) {
        return error(400, "The field 'page' or 'limit' is invalid.");
    }
    let page: Vec<Value> = items
        .into_iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .collect();
    if page.is_empty() {
        no_content()
    } else {
        answer(200, Value::Array(page))
    }
}

impl Platform for BigCommerce {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn description() -> Option<PathBuf> {
        Some(shared_spec("bigcommerce-orders-v2-oas3.yaml"))
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        let segments = segments(&request.path);
        let ["stores", hash, "v2", rest @ ..] = segments.as_slice() else {
            return not_found();
        };
        if *hash != self.store_hash {
            return not_found();
        }
        if request.header("x-auth-token") != Some(self.access_token.as_str()) {
            return error(401, "You must be authenticated to access this resource.");
        }
        let method = request.method.as_str();
        let order_id = |text: &str| text.parse::<u64>().ok();
        match (method, rest) {
            ("GET", ["orders"]) => self.list(request.query.as_deref()),
            ("GET", ["order_statuses"]) => answer(
                200,
                Value::Array(
                    STATUSES
                        .iter()
                        .map(|(id, name, description)| {
                            json!({
                                "id": id, "name": name, "system_label": name,
                                "custom_label": name, "system_description": description,
                            })
                        })
                        .collect(),
                ),
            ),
            (_, ["orders", id, tail @ ..]) => {
                let Some(id) = order_id(id).filter(|id| self.orders.contains_key(id)) else {
                    return not_found();
                };
                let base = self.base();
                let order = &self.orders[&id];
                match (method, tail) {
                    ("GET", []) => answer(200, order.to_json(id, &base)),
                    ("PUT", []) => self.update(id, &request.body),
                    ("GET", ["products"]) => paged(
                        order
                            .products
                            .iter()
                            .map(|p| order.product_json(id, p))
                            .collect(),
                        request.query.as_deref(),
                    ),
                    ("GET", ["shipping_addresses"]) => {
                        paged(vec![order.address_json(id)], request.query.as_deref())
                    }
                    ("GET", ["shipments"]) => paged(
                        order
                            .shipments
                            .iter()
                            .map(|s| order.shipment_json(id, s))
                            .collect(),
                        request.query.as_deref(),
                    ),
                    ("POST", ["shipments"]) => self.create_shipment(id, &request.body),
                    _ => not_found(),
                }
            }
            _ => not_found(),
        }
    }
}
