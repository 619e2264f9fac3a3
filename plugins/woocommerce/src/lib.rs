//! `woocommerce`: WooCommerce REST API v3.
//!
//! One order dimension, any move allowed. A status goes out as
//! `PUT /wp-json/wc/v3/orders/{id}`. Tracking numbers go through the
//! Shipment Tracking extension, or — where the channel says the extension is
//! absent — as a customer order note. WooCommerce has no idempotency keys, so
//! the plugin reads what the order already carries and adds only what is
//! missing: a shipment sent twice leaves one entry per tracking number.
//!
//! Contract 1.1: orders come in by `pull` and by the shop's webhooks; see
//! [`intake`].

mod intake;

use serde::Deserialize;
use statusport_plugin_sdk::http::{Client, segment};
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Package, PlatformInfo, Shipment, carriers,
    config_field, errors, host, json, receipt, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

struct WooCommerce;

const STATUSES: &[(&str, &str)] = &[
    ("pending", "Pending payment"),
    ("processing", "Processing"),
    ("on-hold", "On hold"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("refunded", "Refunded"),
    ("failed", "Failed"),
    ("checkout-draft", "Draft"),
];

/// Canonical carrier id → the Shipment Tracking extension's provider name.
/// `other` has no provider: it goes out as a custom provider with a link.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "DHL"),
    ("dhl-express", "DHL Express"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "Fedex"),
    ("usps", "USPS"),
    ("hermes", "Hermes"),
    ("postnl", "PostNL"),
    ("royal-mail", "Royal Mail"),
    ("post-at", "Austrian Post"),
    ("other", ""),
];

const CONSUMER_KEY: &str = "consumer-key";
const CONSUMER_SECRET: &str = "consumer-secret";
const SHIPMENT_TRACKING: &str = "shipment-tracking";

fn client() -> Result<Client, AdapterError> {
    let key = host::require_config(CONSUMER_KEY)?;
    let secret = host::require_config(CONSUMER_SECRET)?;
    let client = Client::from_channel()?;
    // Basic auth carries the keys readable in every request: over plain
    // HTTP anyone on the way could take them and run the shop's API.
    if !client.is_private() {
        let base = client.base_url();
        let mut https = base.clone();
        https
            .set_scheme("https")
            .expect("http and https are both special schemes");
        return Err(AdapterError::Config(format!(
            "base URL \"{base}\" is plain HTTP to another machine: the consumer key and secret would \
             cross the network readable by anyone on the way, so nothing was sent; use https:// \
             (\"{https}\"); plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])"
        )));
    }
    Ok(client.basic_auth(&key, &secret))
}

fn order_path(order_id: &str) -> String {
    format!("/wp-json/wc/v3/orders/{}", segment(order_id))
}

#[derive(Deserialize)]
struct Tracking {
    #[serde(default)]
    tracking_id: Option<String>,
    tracking_number: String,
}

#[derive(Deserialize)]
struct Note {
    id: u64,
    note: String,
}

/// The date part of an RFC 3339 timestamp, as the extension takes it.
fn shipped_date(shipped_at: &str) -> Result<&str, AdapterError> {
    let date = shipped_at.get(..10).unwrap_or_default();
    let well_formed = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if well_formed {
        Ok(date)
    } else {
        Err(AdapterError::Rejected(format!(
            "shipped-at \"{shipped_at}\" is not an RFC 3339 timestamp"
        )))
    }
}

fn tracking_body(
    package: &Package,
    date: &str,
) -> Result<statusport_plugin_sdk::Value, AdapterError> {
    let provider = carriers::map(CARRIERS, &package.carrier)?;
    if provider.is_empty() {
        let link = package.tracking_url.as_deref().ok_or_else(|| {
            AdapterError::Rejected(format!(
                "package {} with carrier \"other\" needs a tracking URL",
                package.tracking_number
            ))
        })?;
        Ok(json!({
            "tracking_number": package.tracking_number,
            "custom_tracking_provider": "Other",
            "custom_tracking_link": link,
            "date_shipped": date,
        }))
    } else {
        Ok(json!({
            "tracking_number": package.tracking_number,
            "tracking_provider": provider,
            "date_shipped": date,
        }))
    }
}

fn upload_with_extension(client: &Client, shipment: &Shipment, date: &str) -> AdapterResult {
    let path = format!(
        "/wp-json/wc-shipment-tracking/v3/orders/{}/shipment-trackings",
        segment(&shipment.platform_order_id)
    );
    let existing: Vec<Tracking> = client.get(&path).send_ok()?.json()?;
    let mut added = Vec::new();
    let mut present = 0;
    for package in &shipment.packages {
        if let Some(t) = existing
            .iter()
            .find(|t| t.tracking_number == package.tracking_number)
        {
            present += 1;
            added.extend(t.tracking_id.clone());
            continue;
        }
        let body = tracking_body(package, date)?;
        let created: Tracking = client.post(&path).json(&body).send_ok()?.json()?;
        added.extend(created.tracking_id);
    }
    if present < shipment.packages.len() {
        // Read back: a shop may answer 201 and still not keep the entry
        // (a failing hook). What is missing is added again on the retry.
        let listed: Vec<Tracking> = client.get(&path).send_ok()?.json()?;
        let missing: Vec<&str> = shipment
            .packages
            .iter()
            .map(|p| p.tracking_number.as_str())
            .filter(|n| !listed.iter().any(|t| t.tracking_number == *n))
            .collect();
        if !missing.is_empty() {
            return Err(errors::transient(format!(
                "the shop acknowledged tracking number(s) {} but does not list them on order {}",
                missing.join(", "),
                shipment.platform_order_id
            )));
        }
    }
    Ok(receipt(
        (!added.is_empty()).then(|| added.join(",")),
        summary(shipment, shipment.packages.len() - present, present),
    ))
}

fn note_text(package: &Package) -> Result<String, AdapterError> {
    let provider = carriers::map(CARRIERS, &package.carrier)?;
    let carrier = if provider.is_empty() {
        "the carrier"
    } else {
        provider
    };
    Ok(match &package.tracking_url {
        Some(url) => format!(
            "Your order has been shipped with {carrier}. Tracking number: {} — {url}",
            package.tracking_number
        ),
        None => format!(
            "Your order has been shipped with {carrier}. Tracking number: {}",
            package.tracking_number
        ),
    })
}

fn upload_as_notes(client: &Client, shipment: &Shipment) -> AdapterResult {
    let path = format!("{}/notes", order_path(&shipment.platform_order_id));
    let existing: Vec<Note> = client.get(&path).send_ok()?.json()?;
    let mut ids = Vec::new();
    let mut present = 0;
    for package in &shipment.packages {
        if let Some(n) = existing
            .iter()
            .find(|n| n.note.contains(&package.tracking_number))
        {
            present += 1;
            ids.push(n.id.to_string());
            continue;
        }
        let body = json!({ "note": note_text(package)?, "customer_note": true });
        let created: Note = client.post(&path).json(&body).send_ok()?.json()?;
        ids.push(created.id.to_string());
    }
    Ok(receipt(
        (!ids.is_empty()).then(|| ids.join(",")),
        summary(shipment, shipment.packages.len() - present, present),
    ))
}

fn summary(shipment: &Shipment, added: usize, present: usize) -> String {
    format!(
        "order {}: {added} tracking number(s) added, {present} already present",
        shipment.platform_order_id
    )
}

impl Guest for WooCommerce {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "woocommerce".into(),
            name: "WooCommerce".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: STATUSES
                .iter()
                .map(|(code, label)| {
                    let s = status(Dimension::Order, code, label);
                    match *code {
                        "pending" => s.initial(),
                        "refunded" => s.terminal(),
                        _ => s,
                    }
                })
                .collect(),
            transitions: Vec::new(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(CONSUMER_KEY, "REST API consumer key (ck_…), WooCommerce › Settings › Advanced › REST API")
                    .required(),
                config_field(CONSUMER_SECRET, "REST API consumer secret (cs_…)")
                    .required()
                    .secret(),
                config_field(
                    SHIPMENT_TRACKING,
                    "\"yes\" when the Shipment Tracking extension is installed; \"no\" sends tracking numbers as customer notes",
                )
                .default_value("yes"),
                config_field(
                    intake::WEBHOOK_SECRET,
                    "Secret of the shop's order webhooks (WooCommerce › Settings › Advanced › Webhooks); \
                     deliveries are checked against it",
                )
                .secret(),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of orders starts: a date (2026-01-31) or an RFC 3339 time; \
                     unset, 30 days back",
                ),
            ],
            extra_hosts: Vec::new(),
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
                "WooCommerce has only an order status, not a {} status",
                dimension.as_str()
            )));
        }
        if !STATUSES.iter().any(|(code, _)| *code == to) {
            let known: Vec<&str> = STATUSES.iter().map(|(c, _)| *c).collect();
            return Err(AdapterError::Rejected(format!(
                "\"{to}\" is not a WooCommerce status (known: {})",
                known.join(", ")
            )));
        }
        #[derive(Deserialize)]
        struct Order {
            id: u64,
            status: String,
        }
        // Setting a status is idempotent on WooCommerce: a retry sets it again.
        let order: Order = client()?
            .put(&order_path(&platform_order_id))
            .json(&json!({ "status": to }))
            .send_ok()?
            .json()?;
        if order.status != to {
            return Err(AdapterError::Rejected(format!(
                "order {platform_order_id}: WooCommerce kept status \"{}\" instead of \"{to}\"",
                order.status
            )));
        }
        Ok(receipt(
            Some(order.id.to_string()),
            format!("order {platform_order_id} is now {to}"),
        ))
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        if shipment.packages.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has no package to upload",
                shipment.id
            )));
        }
        let date = shipped_date(&shipment.shipped_at)?;
        // Refuse an unknown carrier before anything reaches the shop.
        for package in &shipment.packages {
            carriers::map(CARRIERS, &package.carrier)?;
        }
        let client = client()?;
        if host::config_flag(SHIPMENT_TRACKING).unwrap_or(true) {
            upload_with_extension(&client, &shipment, date)
        } else {
            upload_as_notes(&client, &shipment)
        }
    }
}

impl Intake for WooCommerce {
    fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
        intake::pull(cursor)
    }

    fn accept_webhook(
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Vec<Inbound>, AdapterError> {
        intake::accept_webhook(headers, body)
    }
}

export!(WooCommerce);

#[cfg(test)]
mod tests {
    use super::*;

    fn package(carrier: &str, url: Option<&str>) -> Package {
        Package {
            carrier: carrier.into(),
            tracking_number: "00340434".into(),
            tracking_url: url.map(Into::into),
            lines: Vec::new(),
        }
    }

    #[test]
    fn known_carriers_use_the_extensions_provider_name() {
        let body = tracking_body(&package("dhl", None), "2026-11-22").unwrap();
        assert_eq!(body["tracking_provider"], "DHL");
        assert!(body.get("custom_tracking_provider").is_none());
    }

    #[test]
    fn other_carriers_become_a_custom_provider_with_link() {
        let body =
            tracking_body(&package("other", Some("https://t.example/1")), "2026-11-22").unwrap();
        assert_eq!(body["custom_tracking_link"], "https://t.example/1");
        assert!(body.get("tracking_provider").is_none());
    }

    #[test]
    fn other_carrier_without_link_is_rejected() {
        assert!(matches!(
            tracking_body(&package("other", None), "2026-11-22"),
            Err(AdapterError::Rejected(_))
        ));
    }

    #[test]
    fn shipped_date_takes_the_date_of_a_timestamp() {
        assert_eq!(shipped_date("2026-11-22T14:05:00Z").unwrap(), "2026-11-22");
        assert!(shipped_date("22.11.2026").is_err());
    }
}
