//! `etsy`: Etsy Open API v3, for one Etsy shop.
//!
//! An Etsy order is a *receipt*. Three dimensions:
//!
//! - **order**: the receipt's `status` (open, payment processing, paid,
//!   completed, canceled, partially refunded, fully refunded). Etsy sets it
//!   itself, from payments, shipping, cancellations and refunds; a push is
//!   `unsupported`, saying so. The declared moves are the ones Etsy makes.
//! - **payment**: `unpaid` / `paid`, the receipt's `is_paid`. A seller marks
//!   a receipt paid (a check, a money order) with `updateShopReceipt`
//!   (`was_paid=true`).
//! - **delivery**: `unshipped` / `shipped`, the receipt's `is_shipped`, set
//!   with `was_shipped=true`.
//!
//! A receipt marked paid or shipped is not marked back: the move back is
//! refused before anything is sent (`rejected`, naming the move that is
//! allowed), since a payment Etsy recorded and a shipping notification it
//! mailed to the buyer are not undone by a flag.
//!
//! Tracking numbers go out as `createReceiptShipment` (`tracking_code`,
//! `carrier_name` in Etsy's carrier names, `send_bcc`). Etsy takes no
//! idempotency key: the plugin reads the receipt's `shipments` first and
//! sends only the tracking codes it does not list, so a shipment sent again
//! after a lost answer adds nothing and mails the buyer no second time.
//!
//! Authentication: every request carries `x-api-key: <keystring>:<shared
//! secret>` and an OAuth bearer token, renewed with the shop owner's
//! refresh token at Etsy's token endpoint (an extra host,
//! `https://api.etsy.com`); see [`api`].
//!
//! Contract 1.1: receipts come in by `pull` and by Etsy's signed webhooks;
//! see [`intake`].
//!
//! What it cannot do: set the receipt's status (Etsy's alone), mark a
//! receipt unpaid or unshipped again, ship single lines of a receipt (a
//! tracking code is for the whole receipt, package lines are not sent),
//! send a tracking URL (Etsy builds its own link from the carrier; for
//! carrier `other` the URL goes into the note to the buyer), or take a
//! receipt's buyer phone number (Etsy gives none).

mod api;
mod intake;
mod receipt;

use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Package, PlatformInfo, Shipment, Status, Transition,
    carriers, config_field, errors, host, receipt as done, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

use crate::api::Api;
use crate::receipt::{DELIVERY, Flag, ORDER_STATUSES, PAYMENT};

struct Etsy;

/// The moves Etsy makes with a receipt's status by itself.
const ORDER_MOVES: &[(&str, &str)] = &[
    ("open", "payment_processing"),
    ("open", "paid"),
    ("open", "canceled"),
    ("payment_processing", "paid"),
    ("payment_processing", "canceled"),
    ("paid", "completed"),
    ("paid", "canceled"),
    ("paid", "partially_refunded"),
    ("paid", "fully_refunded"),
    ("completed", "partially_refunded"),
    ("completed", "fully_refunded"),
    ("partially_refunded", "fully_refunded"),
];

/// Canonical carrier id → Etsy's carrier name for `createReceiptShipment`
/// (Etsy's tracking carriers are named by these slugs). `dhl` is DHL's
/// parcel service (DHL Paket), `dhl-express` the express service, which
/// Etsy calls `dhl`; `hermes` is Hermes Germany. `other` is Etsy's own
/// name for a carrier it does not track.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "dhl-germany"),
    ("dhl-express", "dhl"),
    ("dpd", "dpd"),
    ("gls", "gls"),
    ("ups", "ups"),
    ("fedex", "fedex"),
    ("usps", "usps"),
    ("hermes", "hermes-de"),
    ("post-at", "austrian-post"),
    ("post-ch", "swiss-post"),
    ("royal-mail", "royal-mail"),
    ("tnt", "tnt"),
    ("colissimo", "colissimo"),
    ("bpost", "bpost"),
    ("postnl", "postnl"),
    ("other", "other"),
];

const SEND_BCC: &str = "send-bcc";

fn statuses() -> Vec<Status> {
    let mut all: Vec<Status> = ORDER_STATUSES
        .iter()
        .map(|(_, code, label)| {
            let s = status(Dimension::Order, code, label);
            match *code {
                "open" => s.initial(),
                "canceled" | "fully_refunded" => s.terminal(),
                _ => s,
            }
        })
        .collect();
    for flag in [PAYMENT, DELIVERY] {
        all.push(status(flag.dimension, flag.unset.0, flag.unset.1).initial());
        all.push(status(flag.dimension, flag.set.0, flag.set.1).terminal());
    }
    all
}

fn transitions() -> Vec<Transition> {
    let order = ORDER_MOVES.iter().map(|(from, to)| Transition {
        dimension: Dimension::Order,
        from: (*from).to_owned(),
        to: (*to).to_owned(),
    });
    let flags = [PAYMENT, DELIVERY].into_iter().map(|flag| Transition {
        dimension: flag.dimension,
        from: flag.unset.0.to_owned(),
        to: flag.set.0.to_owned(),
    });
    order.chain(flags).collect()
}

/// The flag a push in `dimension` sets; the order's status is Etsy's own.
fn settable(dimension: Dimension) -> Result<Flag, AdapterError> {
    match dimension {
        Dimension::Payment => Ok(PAYMENT),
        Dimension::Delivery => Ok(DELIVERY),
        Dimension::Order => Err(AdapterError::Unsupported(
            "Etsy sets a receipt's status (open, payment processing, paid, completed, canceled, \
             refunded) itself, from payments, shipping, cancellations and refunds; no API sets it. \
             Push the payment (paid) or delivery (shipped) dimension instead"
                .into(),
        )),
    }
}

/// Checks a move of `flag`'s dimension: only unset → set exists on Etsy.
fn check_move(flag: Flag, from: &str, to: &str) -> Result<(), AdapterError> {
    let dimension = flag.dimension.as_str();
    let known = [flag.unset.0, flag.set.0];
    for code in [from, to] {
        if !known.contains(&code) {
            return Err(AdapterError::Rejected(format!(
                "\"{code}\" is not an Etsy {dimension} status (known: {})",
                known.join(", ")
            )));
        }
    }
    if to == flag.unset.0 {
        return Err(AdapterError::Rejected(format!(
            "Etsy allows no {dimension} move {from} → {to}: a receipt marked {} is not marked {} \
             again (allowed: {} → {})",
            flag.set.0, flag.unset.0, flag.unset.0, flag.set.0
        )));
    }
    Ok(())
}

/// The form of one `createReceiptShipment`. Etsy takes no tracking URL:
/// for carrier `other`, whose parcels Etsy cannot link to, the URL goes
/// into the note to the buyer.
fn tracking_form(package: &Package, carrier: &str, send_bcc: bool) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("tracking_code", package.tracking_number.trim().to_owned()),
        ("carrier_name", carrier.to_owned()),
        ("send_bcc", send_bcc.to_string()),
    ];
    if carrier == "other"
        && let Some(url) = &package.tracking_url
    {
        form.push(("note_to_buyer", format!("Track your parcel: {url}")));
    }
    form
}

impl Guest for Etsy {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "etsy".into(),
            name: "Etsy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: statuses(),
            transitions: transitions(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    api::KEYSTRING,
                    "Keystring of the Etsy app (etsy.com/developers › Your Apps); sent in x-api-key \
                     and as the OAuth client_id",
                )
                .required(),
                config_field(
                    api::SHARED_SECRET,
                    "Shared secret of the same app; Etsy wants x-api-key as keystring:shared secret",
                )
                .required()
                .secret(),
                config_field(
                    api::REFRESH_TOKEN,
                    "OAuth refresh token of the shop's owner, granted to the app with the scopes \
                     transactions_r and transactions_w; Etsy hands out a new one with each access \
                     token and the plugin keeps it: after a new consent, put the new token here",
                )
                .required()
                .secret(),
                config_field(
                    api::SHOP_ID,
                    "Numeric id of the Etsy shop (the shop_id of getMe or findShops)",
                )
                .required(),
                config_field(
                    api::TOKEN_URL,
                    "Etsy's OAuth token endpoint; grant its origin (https://api.etsy.com) to the channel",
                )
                .default_value(api::DEFAULT_TOKEN_URL),
                config_field(
                    SEND_BCC,
                    "\"yes\" sends Etsy's shipping notification to the seller too (send_bcc)",
                )
                .default_value("no"),
                config_field(
                    intake::WEBHOOK_SECRET,
                    "Signing secret (whsec_…) of the app's webhook endpoint in Etsy's webhook \
                     portal; deliveries are checked against it",
                )
                .secret(),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of receipts starts: a date (2026-01-31) or an RFC 3339 \
                     time; unset, 30 days back",
                ),
            ],
            extra_hosts: vec![api::TOKEN_ORIGIN.into()],
        }
    }

    fn push_status(
        platform_order_id: String,
        dimension: Dimension,
        from: String,
        to: String,
        _idempotency_key: String,
    ) -> AdapterResult {
        let flag = settable(dimension)?;
        check_move(flag, &from, &to)?;
        let id = api::receipt_id(&platform_order_id)?;
        // Setting a flag again sets nothing new: a retry is harmless.
        let receipt = Api::open()?.update_receipt(id, flag.field, true)?;
        if !receipt.flag(flag) {
            return Err(AdapterError::Rejected(format!(
                "receipt {id}: Etsy answered {}=false after {}=true; it keeps the receipt {}",
                flag.read_as, flag.field, flag.unset.0
            )));
        }
        Ok(done(
            Some(id.to_string()),
            format!(
                "receipt {id}: {} is now {} ({}=true); Etsy's status is \"{}\"",
                dimension.as_str(),
                flag.set.0,
                flag.field,
                receipt.status
            ),
        ))
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        if shipment.packages.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has no package to upload",
                shipment.id
            )));
        }
        // Refuse what Etsy cannot take before anything reaches it.
        let mut names = Vec::with_capacity(shipment.packages.len());
        for package in &shipment.packages {
            if package.tracking_number.trim().is_empty() {
                return Err(AdapterError::Rejected(format!(
                    "shipment {}: a package has no tracking number",
                    shipment.id
                )));
            }
            names.push(carriers::map(CARRIERS, &package.carrier)?);
        }
        let id = api::receipt_id(&shipment.platform_order_id)?;
        let send_bcc = host::config_flag(SEND_BCC).unwrap_or(false);
        let api = Api::open()?;
        let mut receipt = api.receipt(id)?;
        let mut entries = Vec::new();
        let mut present = 0;
        for (package, carrier) in shipment.packages.iter().zip(names) {
            if let Some(entry) = receipt.tracking_entry(&package.tracking_number) {
                present += 1;
                entries.extend(entry.receipt_shipping_id);
                continue;
            }
            let form = tracking_form(package, carrier, send_bcc);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            receipt = api.create_shipment(id, &form)?;
            // Etsy answers with the receipt: one that does not list the
            // code did not keep it, and the retry sends it again.
            let Some(entry) = receipt.tracking_entry(&package.tracking_number) else {
                return Err(errors::transient(format!(
                    "receipt {id}: Etsy acknowledged tracking code {} but does not list it on the receipt",
                    package.tracking_number.trim()
                )));
            };
            entries.extend(entry.receipt_shipping_id);
        }
        let added = shipment.packages.len() - present;
        Ok(done(
            Some(if entries.is_empty() {
                id.to_string()
            } else {
                entries
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            format!("receipt {id}: {added} tracking code(s) added, {present} already present"),
        ))
    }
}

impl Intake for Etsy {
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

export!(Etsy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_names_statuses_of_its_dimension_and_leaves_no_terminal_one() {
        let all = statuses();
        for t in transitions() {
            for code in [&t.from, &t.to] {
                assert!(
                    all.iter()
                        .any(|s| s.dimension == t.dimension && &s.code == code),
                    "{} {code} is not declared",
                    t.dimension.as_str()
                );
            }
            assert!(
                !all.iter()
                    .any(|s| s.dimension == t.dimension && s.code == t.from && s.terminal),
                "{} → {} leaves a terminal status",
                t.from,
                t.to
            );
        }
    }

    #[test]
    fn each_dimension_has_one_initial_status() {
        for dimension in [Dimension::Order, Dimension::Payment, Dimension::Delivery] {
            let initial: Vec<String> = statuses()
                .into_iter()
                .filter(|s| s.dimension == dimension && s.initial)
                .map(|s| s.code)
                .collect();
            assert_eq!(initial.len(), 1, "{}: {initial:?}", dimension.as_str());
        }
    }

    #[test]
    fn every_canonical_carrier_has_an_etsy_name_and_others_are_refused() {
        for id in carriers::CANONICAL {
            assert!(carriers::map(CARRIERS, id).is_ok(), "{id}");
        }
        assert_eq!(carriers::map(CARRIERS, "dhl-express").unwrap(), "dhl");
        match carriers::map(CARRIERS, "pigeon") {
            Err(AdapterError::Rejected(m)) => {
                assert!(m.contains("known: dhl, dhl-express, dpd"), "{m}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_receipts_status_is_etsys_alone() {
        match settable(Dimension::Order) {
            Err(AdapterError::Unsupported(m)) => {
                assert!(m.contains("Etsy sets a receipt's status"), "{m}")
            }
            other => panic!("expected unsupported, got {other:?}"),
        }
        assert_eq!(settable(Dimension::Delivery).unwrap().field, "was_shipped");
    }

    #[test]
    fn only_the_move_to_the_flag_set_is_allowed() {
        assert!(check_move(PAYMENT, "unpaid", "paid").is_ok());
        match check_move(DELIVERY, "shipped", "unshipped") {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "Etsy allows no delivery move shipped → unshipped: a receipt marked shipped is not \
                 marked unshipped again (allowed: unshipped → shipped)"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
        match check_move(PAYMENT, "unpaid", "refunded") {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "\"refunded\" is not an Etsy payment status (known: unpaid, paid)"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn package(carrier: &str, url: Option<&str>) -> Package {
        Package {
            carrier: carrier.into(),
            tracking_number: " 9400111202508299673168 ".into(),
            tracking_url: url.map(Into::into),
            lines: Vec::new(),
        }
    }

    #[test]
    fn the_tracking_form_carries_etsys_carrier_and_a_link_only_for_other() {
        let p = package("usps", Some("https://t.example/1"));
        assert_eq!(
            tracking_form(&p, "usps", true),
            [
                ("tracking_code", "9400111202508299673168".to_owned()),
                ("carrier_name", "usps".to_owned()),
                ("send_bcc", "true".to_owned())
            ]
        );
        let p = package("other", Some("https://t.example/1"));
        let form = tracking_form(&p, "other", false);
        assert_eq!(form[2], ("send_bcc", "false".to_owned()));
        assert_eq!(
            form.last(),
            Some(&(
                "note_to_buyer",
                "Track your parcel: https://t.example/1".to_owned()
            ))
        );
        assert_eq!(
            tracking_form(&package("other", None), "other", false).len(),
            3
        );
    }
}
