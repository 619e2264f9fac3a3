//! `amazon`: the Amazon Selling Partner API, Orders v0, for sellers who
//! ship their Amazon orders themselves (Merchant Fulfilled Network).
//!
//! What it does:
//! - **Statuses**: Amazon's `OrderStatus` in the order dimension, with the
//!   moves Amazon makes between them. Amazon sets an order's status itself
//!   and takes none from sellers: every `push-status` is `unsupported`.
//! - **Shipments**: each package goes to Amazon as one `confirmShipment`
//!   with its carrier code, tracking number, ship date and order items (the
//!   package's lines, or the whole order when it names none). Confirming is
//!   what moves an order to `PartiallyShipped` or `Shipped`. Each package
//!   carries a `packageReferenceId` derived from the host's shipment id and
//!   the package's place in it; Amazon takes a confirmation with a known
//!   reference as an edit of that package, so a shipment sent again (after
//!   a lost answer or a crash) confirms nothing twice.
//! - **Intake** (contract 1.1): `pull` lists `getOrders` by
//!   `LastUpdatedAfter` and `NextToken`, one page per pull, with the lines of
//!   each order from `getOrderItems`; see [`intake`].
//! - **Auth**: Login with Amazon. The channel's refresh token is traded at
//!   `token-url` (an extra host the operator grants) for an access token,
//!   kept in the channel's state and sent as `x-amz-access-token`.
//!
//! What it cannot do:
//! - change an order's status or cancel an order (Amazon takes neither from
//!   the Orders API; a cancellation is made in Seller Central);
//! - confirm orders Amazon ships itself (`AFN`), or orders that are
//!   `Pending`, `Canceled` or `Unfulfillable`;
//! - take webhooks: Amazon sends its notifications to Amazon SQS or
//!   EventBridge, never as HTTP requests to the host, so orders come in by
//!   polling only;
//! - see a `Pending` order: Amazon gives no prices until the payment is
//!   authorized, so such an order comes in when it leaves `Pending`.

mod api;
mod intake;

use api::{Api, MARKETPLACE_ID, OrderItem};
use statusport_plugin_sdk::http::segment;
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Package, PlatformInfo, Shipment, Transition, carriers,
    config_field, json, receipt, status, time,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

struct Amazon;

/// Amazon's `OrderStatus` values, from the Orders v0 description.
const STATUSES: &[(&str, &str)] = &[
    ("PendingAvailability", "Pending availability (pre-order)"),
    ("Pending", "Pending"),
    ("Unshipped", "Unshipped"),
    ("PartiallyShipped", "Partially shipped"),
    ("Shipped", "Shipped"),
    ("InvoiceUnconfirmed", "Invoice unconfirmed"),
    ("Canceled", "Canceled"),
    ("Unfulfillable", "Unfulfillable"),
];

/// The moves Amazon makes: a pre-order becomes `Pending`, a payment
/// authorized makes it `Unshipped`, shipment confirmations make it
/// `PartiallyShipped` and `Shipped` (`InvoiceUnconfirmed` where the
/// marketplace wants the invoice confirmed), and an order not shipped yet may
/// be canceled or, fulfilled by Amazon for another channel, be unfulfillable.
const MOVES: &[(&str, &str)] = &[
    ("PendingAvailability", "Pending"),
    ("PendingAvailability", "Canceled"),
    ("Pending", "Unshipped"),
    ("Pending", "Canceled"),
    ("Pending", "Unfulfillable"),
    ("Unshipped", "PartiallyShipped"),
    ("Unshipped", "Shipped"),
    ("Unshipped", "InvoiceUnconfirmed"),
    ("Unshipped", "Canceled"),
    ("Unshipped", "Unfulfillable"),
    ("PartiallyShipped", "Shipped"),
    ("PartiallyShipped", "InvoiceUnconfirmed"),
    ("InvoiceUnconfirmed", "Shipped"),
];

const TERMINAL: &[&str] = &["Shipped", "Canceled", "Unfulfillable"];

/// Canonical carrier id → Amazon's `carrierCode`. Amazon lists one code for
/// DHL, which DHL Express parcels take too, and Colissimo is La Poste's
/// parcel service. Carriers Amazon lists no code for go as `Other` with their
/// name in `carrierName` (see [`OTHER_NAMES`]); canonical `other` takes its
/// name from the tracking URL's host.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "DHL"),
    ("dhl-express", "DHL"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("usps", "USPS"),
    ("hermes", "Hermes Logistik Gruppe"),
    ("royal-mail", "Royal Mail"),
    ("tnt", "TNT"),
    ("colissimo", "La Poste"),
    ("post-at", "Other"),
    ("post-ch", "Other"),
    ("bpost", "Other"),
    ("postnl", "Other"),
    ("other", "Other"),
];

/// `carrierName` of the carriers sent as `Other`.
const OTHER_NAMES: &[(&str, &str)] = &[
    ("post-at", "Österreichische Post"),
    ("post-ch", "Swiss Post"),
    ("bpost", "bpost"),
    ("postnl", "PostNL"),
];

/// Amazon's carrier code for a package, and the carrier's name when the
/// code is `Other`.
fn carrier_of(package: &Package) -> Result<(&'static str, Option<String>), AdapterError> {
    let code = carriers::map(CARRIERS, &package.carrier)?;
    if code != "Other" {
        return Ok((code, None));
    }
    let wanted = package.carrier.trim().to_ascii_lowercase();
    if let Some((_, name)) = OTHER_NAMES.iter().find(|(id, _)| *id == wanted) {
        return Ok((code, Some((*name).to_owned())));
    }
    let host = package
        .tracking_url
        .as_deref()
        .and_then(url_host)
        .ok_or_else(|| {
            AdapterError::Rejected(format!(
                "package {} has carrier \"other\": Amazon takes an unlisted carrier as carrierCode \
                 Other with the carrier's name, which the plugin reads from the package's tracking URL; \
                 give the package a tracking URL, or pick a listed carrier (known: {})",
                package.tracking_number,
                carriers::ids(CARRIERS).join(", ")
            ))
        })?;
    Ok((code, Some(host)))
}

/// The host of an `http(s)://` URL, without `www.`.
fn url_host(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("https://")
        .or_else(|| url.trim().strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A positive number in the decimal form Amazon takes as a
/// `packageReferenceId`, the same for the same shipment and package on
/// every attempt: FNV-1a of the host's shipment id and the package's place,
/// kept below 2^31 so that any reader of it takes it as an integer.
fn package_reference(shipment_id: &str, index: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in shipment_id
        .bytes()
        .chain([0])
        .chain(index.to_string().bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % 2_147_483_646 + 1).to_string()
}

/// The `orderItems` of each package: its own lines, or — for the one
/// package that names none — every item of the order less what the other
/// packages of the shipment name.
fn package_items(
    shipment: &Shipment,
    items: &[OrderItem],
) -> Result<Vec<Vec<(String, u32)>>, AdapterError> {
    let lineless = shipment
        .packages
        .iter()
        .filter(|p| p.lines.is_empty())
        .count();
    if lineless > 1 {
        return Err(AdapterError::Rejected(format!(
            "shipment {}: {lineless} packages name no lines; Amazon takes each package with the order \
             items it holds, so at most one package may stand for \"the rest of the order\": give the \
             other packages their lines (line id = Amazon's OrderItemId)",
            shipment.id
        )));
    }
    let named = |item: &str| -> u32 {
        shipment
            .packages
            .iter()
            .flat_map(|p| &p.lines)
            .filter(|l| l.line_id == item)
            .map(|l| l.quantity)
            .sum()
    };
    shipment
        .packages
        .iter()
        .map(|package| {
            let lines: Vec<(String, u32)> = if package.lines.is_empty() {
                items
                    .iter()
                    .map(|i| {
                        (
                            i.order_item_id.clone(),
                            i.quantity_ordered
                                .saturating_sub(named(&i.order_item_id)),
                        )
                    })
                    .filter(|(_, quantity)| *quantity > 0)
                    .collect()
            } else {
                package
                    .lines
                    .iter()
                    .filter(|l| l.quantity > 0)
                    .map(|l| (l.line_id.clone(), l.quantity))
                    .collect()
            };
            if lines.is_empty() {
                return Err(AdapterError::Rejected(format!(
                    "shipment {}: package {} holds no order item with a quantity (order {} has {} item(s), \
                     all named by other packages)",
                    shipment.id,
                    package.tracking_number,
                    shipment.platform_order_id,
                    items.len()
                )));
            }
            Ok(lines)
        })
        .collect()
}

/// The request body of `confirmShipment` for one package.
fn confirmation(
    marketplace: &str,
    reference: &str,
    package: &Package,
    ship_date: &str,
    items: &[(String, u32)],
) -> Result<statusport_plugin_sdk::Value, AdapterError> {
    let (code, name) = carrier_of(package)?;
    let mut detail = json!({
        "packageReferenceId": reference,
        "carrierCode": code,
        "trackingNumber": package.tracking_number,
        "shipDate": ship_date,
        "orderItems": items
            .iter()
            .map(|(id, quantity)| json!({ "orderItemId": id, "quantity": quantity }))
            .collect::<Vec<_>>(),
    });
    if let Some(name) = name {
        detail["carrierName"] = json!(name);
    }
    Ok(json!({ "marketplaceId": marketplace, "packageDetail": detail }))
}

/// Refuses an order whose shipment Amazon would not take, saying why.
fn check_confirmable(order: &api::Order) -> Result<(), AdapterError> {
    let id = &order.amazon_order_id;
    if order.fulfillment_channel.as_deref() == Some("AFN") {
        return Err(AdapterError::Rejected(format!(
            "order {id} is fulfilled by Amazon (AFN): Amazon ships it and confirms its shipment itself"
        )));
    }
    match order.order_status.as_str() {
        "Unshipped" | "PartiallyShipped" | "Shipped" | "InvoiceUnconfirmed" => Ok(()),
        other => Err(AdapterError::Rejected(format!(
            "order {id} is {other} on Amazon: a shipment can be confirmed for an order that is \
             Unshipped or PartiallyShipped (or Shipped, to correct a package already confirmed){}",
            match other {
                "Pending" | "PendingAvailability" =>
                    "; Amazon has not authorized the payment yet, ship it once the order is Unshipped",
                _ => "",
            }
        ))),
    }
}

impl Guest for Amazon {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "amazon".into(),
            name: "Amazon (Selling Partner API)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: STATUSES
                .iter()
                .map(|(code, label)| {
                    let s = status(Dimension::Order, code, label);
                    if *code == "Pending" {
                        s.initial()
                    } else if TERMINAL.contains(code) {
                        s.terminal()
                    } else {
                        s
                    }
                })
                .collect(),
            transitions: MOVES
                .iter()
                .map(|(from, to)| Transition {
                    dimension: Dimension::Order,
                    from: (*from).into(),
                    to: (*to).into(),
                })
                .collect(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    api::REFRESH_TOKEN,
                    "Login with Amazon refresh token (Atzr|…) the seller's authorization of the app gave \
                     (Seller Central › Apps and Services › Develop Apps › Authorize)",
                )
                .required()
                .secret(),
                config_field(
                    api::CLIENT_ID,
                    "LWA client identifier of the SP-API app (amzn1.application-oa2-client.…)",
                )
                .required(),
                config_field(api::CLIENT_SECRET, "LWA client secret of the SP-API app")
                    .required()
                    .secret(),
                config_field(
                    MARKETPLACE_ID,
                    "The marketplace whose orders come in and where shipments are confirmed: \
                     A1PA6795UKMFR9 (amazon.de), A1F83G8C2ARO7P (amazon.co.uk), A13V1IB3VIYZZH (amazon.fr), \
                     APJ6JRA9NG5V4 (amazon.it), A1RKKUPIHCS9HS (amazon.es), ATVPDKIKX0DER (amazon.com), …; \
                     the channel's base URL is the marketplace's regional endpoint \
                     (https://sellingpartnerapi-eu.amazon.com, -na, -fe)",
                )
                .required(),
                config_field(
                    api::TOKEN_URL,
                    "Login with Amazon token endpoint; grant the channel its origin \
                     (https://api.amazon.com) as an extra host",
                )
                .default_value(api::DEFAULT_TOKEN_URL),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of orders starts: a date (2026-01-31) or an RFC 3339 time; \
                     unset, 30 days back",
                ),
            ],
            extra_hosts: vec![api::TOKEN_ORIGIN.into()],
        }
    }

    fn push_status(
        platform_order_id: String,
        dimension: Dimension,
        _from: String,
        to: String,
        _idempotency_key: String,
    ) -> AdapterResult {
        if dimension != Dimension::Order {
            return Err(AdapterError::Unsupported(format!(
                "Amazon has only an order status, not a {} status",
                dimension.as_str()
            )));
        }
        Err(AdapterError::Unsupported(format!(
            "Amazon sets an order's status itself and takes none from sellers: order \
             {platform_order_id} was not moved to \"{to}\". Confirming a shipment (upload-shipment, \
             with its tracking numbers) is what moves an Amazon order to Shipped; a cancellation is \
             made in Seller Central"
        )))
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        let order_id = &shipment.platform_order_id;
        if shipment.packages.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has no package to confirm",
                shipment.id
            )));
        }
        let ship_date = time::to_rfc3339(&shipment.shipped_at).ok_or_else(|| {
            AdapterError::Rejected(format!(
                "shipment {}: shipped-at \"{}\" is not an RFC 3339 time",
                shipment.id, shipment.shipped_at
            ))
        })?;
        // Refuse an unknown carrier before anything reaches Amazon.
        for package in &shipment.packages {
            carrier_of(package)?;
        }
        let marketplace = statusport_plugin_sdk::host::require_config(MARKETPLACE_ID)?;
        let api = Api::from_channel()?;
        let order = api.order(order_id)?;
        check_confirmable(&order)?;
        let items = if shipment.packages.iter().any(|p| p.lines.is_empty()) {
            api.order_items(order_id)?
        } else {
            Vec::new()
        };
        let per_package = package_items(&shipment, &items)?;
        let path = format!(
            "/orders/v0/orders/{}/shipmentConfirmation",
            segment(order_id)
        );
        let mut references = Vec::new();
        let mut confirmed = Vec::new();
        for (index, (package, lines)) in shipment.packages.iter().zip(&per_package).enumerate() {
            let reference = package_reference(&shipment.id, index);
            let body = confirmation(&marketplace, &reference, package, &ship_date, lines)?;
            api.send_ok(|| api.client().post(&path).json(&body))?;
            let (code, name) = carrier_of(package)?;
            confirmed.push(format!(
                "{} {}",
                name.as_deref().unwrap_or(code),
                package.tracking_number
            ));
            references.push(reference);
        }
        Ok(receipt(
            Some(references.join(",")),
            format!(
                "order {order_id}: {} package(s) confirmed to Amazon ({}); package reference(s) {}",
                confirmed.len(),
                confirmed.join(", "),
                references.join(", ")
            ),
        ))
    }
}

impl Intake for Amazon {
    fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
        intake::pull(cursor)
    }

    fn accept_webhook(
        _headers: Vec<(String, String)>,
        _body: Vec<u8>,
    ) -> Result<Vec<Inbound>, AdapterError> {
        Err(AdapterError::Unsupported(
            "Amazon sends its order notifications to Amazon SQS or EventBridge, never as HTTP \
             requests to this host: an Amazon channel's orders come in by polling; give the channel \
             a poll interval (poll_interval_secs)"
                .into(),
        ))
    }
}

export!(Amazon);

#[cfg(test)]
mod tests {
    use super::*;
    use statusport_plugin_sdk::PackageLine;

    fn package(carrier: &str, url: Option<&str>, lines: &[(&str, u32)]) -> Package {
        Package {
            carrier: carrier.into(),
            tracking_number: "00340434161094042557".into(),
            tracking_url: url.map(Into::into),
            lines: lines
                .iter()
                .map(|(id, q)| PackageLine {
                    line_id: (*id).into(),
                    quantity: *q,
                })
                .collect(),
        }
    }

    fn item(id: &str, quantity: u32) -> OrderItem {
        serde_json::from_value(json!({
            "ASIN": "B00TEAPOT1", "OrderItemId": id, "QuantityOrdered": quantity
        }))
        .unwrap()
    }

    fn shipment(packages: Vec<Package>) -> Shipment {
        Shipment {
            id: "S-1".into(),
            platform_order_id: "302-1234567-7654321".into(),
            shipped_at: "2026-11-22T14:05:00Z".into(),
            packages,
        }
    }

    #[test]
    fn listed_carriers_go_by_their_code_and_unlisted_ones_as_other_with_a_name() {
        assert_eq!(
            carrier_of(&package("dhl", None, &[])).unwrap(),
            ("DHL", None)
        );
        assert_eq!(
            carrier_of(&package("hermes", None, &[])).unwrap(),
            ("Hermes Logistik Gruppe", None)
        );
        assert_eq!(
            carrier_of(&package("post-at", None, &[])).unwrap(),
            ("Other", Some("Österreichische Post".into()))
        );
        assert_eq!(
            carrier_of(&package(
                "other",
                Some("https://www.track.example-courier.com/p?n=1"),
                &[]
            ))
            .unwrap(),
            ("Other", Some("track.example-courier.com".into()))
        );
    }

    #[test]
    fn other_without_a_tracking_url_and_unknown_carriers_are_refused_naming_the_known() {
        match carrier_of(&package("other", None, &[])) {
            Err(AdapterError::Rejected(m)) => {
                assert!(m.contains("give the package a tracking URL"), "{m}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        match carrier_of(&package("pigeon", None, &[])) {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "carrier \"pigeon\" is not known to this plugin (known: dhl, dhl-express, dpd, gls, ups, \
                 fedex, usps, hermes, royal-mail, tnt, colissimo, post-at, post-ch, bpost, postnl, other)"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn every_canonical_carrier_but_none_other_is_mapped() {
        for (id, _) in CARRIERS {
            assert!(carriers::CANONICAL.contains(id), "{id}");
        }
        for (id, _) in OTHER_NAMES {
            assert_eq!(carriers::map(CARRIERS, id).unwrap(), "Other", "{id}");
        }
    }

    #[test]
    fn a_package_reference_is_a_stable_positive_number_per_shipment_and_place() {
        let first = package_reference("S-1", 0);
        assert_eq!(first, package_reference("S-1", 0));
        assert_ne!(first, package_reference("S-1", 1));
        assert_ne!(first, package_reference("S-2", 0));
        // "S-1" + place 10 is not "S-11" + place 0.
        assert_ne!(package_reference("S-1", 10), package_reference("S-11", 0));
        let long = "x".repeat(500);
        for (id, index) in [("S-1", 0), ("", 0), (long.as_str(), 7)] {
            let n: u64 = package_reference(id, index).parse().unwrap();
            assert!((1..2_147_483_648).contains(&n), "{n}");
        }
    }

    #[test]
    fn a_package_without_lines_takes_what_the_others_leave() {
        let items = [item("11", 2), item("22", 1)];
        let s = shipment(vec![
            package("dhl", None, &[("11", 1)]),
            package("dhl", None, &[]),
        ]);
        assert_eq!(
            package_items(&s, &items).unwrap(),
            [
                vec![("11".to_owned(), 1)],
                vec![("11".to_owned(), 1), ("22".to_owned(), 1)]
            ]
        );
    }

    #[test]
    fn two_packages_without_lines_are_refused() {
        let s = shipment(vec![package("dhl", None, &[]), package("dpd", None, &[])]);
        assert!(matches!(
            package_items(&s, &[item("11", 2)]),
            Err(AdapterError::Rejected(m)) if m.contains("2 packages name no lines")
        ));
    }

    #[test]
    fn a_confirmation_carries_the_package_and_the_marketplace() {
        let body = confirmation(
            "A1PA6795UKMFR9",
            "42",
            &package("postnl", None, &[]),
            "2026-11-22T14:05:00Z",
            &[("11".into(), 2)],
        )
        .unwrap();
        assert_eq!(
            body,
            json!({
                "marketplaceId": "A1PA6795UKMFR9",
                "packageDetail": {
                    "packageReferenceId": "42",
                    "carrierCode": "Other",
                    "carrierName": "PostNL",
                    "trackingNumber": "00340434161094042557",
                    "shipDate": "2026-11-22T14:05:00Z",
                    "orderItems": [{"orderItemId": "11", "quantity": 2}],
                }
            })
        );
    }

    #[test]
    fn only_seller_fulfilled_orders_past_payment_are_confirmable() {
        let order = |status: &str, channel: &str| -> api::Order {
            serde_json::from_value(json!({
                "AmazonOrderId": "302-1", "PurchaseDate": "2026-11-20T10:00:00Z",
                "LastUpdateDate": "2026-11-20T10:00:00Z", "OrderStatus": status,
                "FulfillmentChannel": channel
            }))
            .unwrap()
        };
        assert!(check_confirmable(&order("Unshipped", "MFN")).is_ok());
        assert!(check_confirmable(&order("Shipped", "MFN")).is_ok());
        match check_confirmable(&order("Canceled", "MFN")) {
            Err(AdapterError::Rejected(m)) => {
                assert!(m.starts_with("order 302-1 is Canceled on Amazon"), "{m}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert!(check_confirmable(&order("Unshipped", "AFN")).is_err());
    }

    #[test]
    fn the_declared_moves_name_declared_statuses_and_leave_no_terminal_status() {
        for (from, to) in MOVES {
            assert!(STATUSES.iter().any(|(c, _)| c == from), "{from}");
            assert!(STATUSES.iter().any(|(c, _)| c == to), "{to}");
            assert!(!TERMINAL.contains(from), "{from}");
        }
    }
}
