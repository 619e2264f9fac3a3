//! `allegro`: the Allegro REST API (allegro.pl and its sandbox), contract 1.1.
//!
//! What it does:
//! - **Two dimensions.** The order dimension is the seller's fulfillment
//!   status (`fulfillment.status`: NEW, PROCESSING, READY_FOR_SHIPMENT,
//!   READY_FOR_PICKUP, SENT, PICKED_UP, CANCELLED, SUSPENDED, RETURNED); the
//!   payment dimension is the checkout status (`status`: BOUGHT, FILLED_IN,
//!   READY_FOR_PROCESSING, CANCELLED).
//! - **push-status** reads the order (`GET /order/checkout-forms/{id}`) and,
//!   unless it already shows the status, sets it with
//!   `PUT /order/checkout-forms/{id}/fulfillment?checkoutForm.revision=…`,
//!   the revision just read: an order that changed in between is refused by
//!   Allegro (409) and the push is tried again on fresh data.
//! - **upload-shipment** reads the order's parcel tracking numbers
//!   (`GET /order/checkout-forms/{id}/shipments`) and adds only the
//!   waybills not yet there (`POST …/shipments` with `carrierId`, `waybill`
//!   and the line items in the parcel), so a retry after a lost answer adds
//!   nothing twice.
//! - **pull** reads the order event log; see [`intake`].
//! - Authentication is an OAuth user token renewed with the seller's refresh
//!   token at Allegro's token endpoint (an extra host); see [`api`].
//!
//! What it cannot do, and why:
//! - Set the checkout status (payment dimension): Allegro moves it as the
//!   buyer checks out, pays or cancels; a push is `unsupported`.
//! - Set RETURNED: Allegro sets it when a customer return is processed and
//!   refuses it from a seller; a push is `unsupported`. Nor can it set the
//!   fulfillment status of an order fulfilled by Allegro (One Fulfillment).
//! - Tell Allegro how many pieces of a line a parcel holds: a shipment names
//!   line items only, so a parcel with part of a line names the whole line.
//! - Take webhooks: Allegro sends none for orders; orders come in by polling.
//! - Change an order more than Allegro allows: Allegro refuses a seller's
//!   status change past its limit of changes per order (100); the push is
//!   then `rejected` with Allegro's message.

mod api;
mod intake;

use std::collections::BTreeSet;

use serde::Deserialize;
use statusport_plugin_sdk::http::Method;
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, PlatformInfo, Shipment, Status, Transition, carriers,
    config_field, errors, host, json, receipt, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

use api::{Api, Form, form_path};

struct Allegro;

/// The seller's fulfillment status (order dimension): `(code, label, a
/// seller may set it)`.
const FULFILLMENT: &[(&str, &str, bool)] = &[
    ("NEW", "New", true),
    ("PROCESSING", "Processing", true),
    ("READY_FOR_SHIPMENT", "Ready for shipment", true),
    ("READY_FOR_PICKUP", "Ready for pickup", true),
    ("SENT", "Sent", true),
    ("PICKED_UP", "Picked up", true),
    ("CANCELLED", "Cancelled", true),
    ("SUSPENDED", "Suspended", true),
    ("RETURNED", "Returned (set by Allegro)", false),
];

/// The checkout status (payment dimension), which Allegro alone moves.
const CHECKOUT: &[(&str, &str)] = &[
    ("BOUGHT", "Bought, checkout form not filled in"),
    ("FILLED_IN", "Checkout form filled in, not paid"),
    (
        "READY_FOR_PROCESSING",
        "Ready for processing (paid or cash on delivery)",
    ),
    ("CANCELLED", "Cancelled"),
];

/// How a checkout moves on Allegro.
const CHECKOUT_MOVES: &[(&str, &str)] = &[
    ("BOUGHT", "FILLED_IN"),
    ("BOUGHT", "READY_FOR_PROCESSING"),
    ("BOUGHT", "CANCELLED"),
    ("FILLED_IN", "READY_FOR_PROCESSING"),
    ("FILLED_IN", "CANCELLED"),
    ("READY_FOR_PROCESSING", "CANCELLED"),
];

/// Canonical carrier id → Allegro's `carrierId` (`GET /order/carriers`).
/// Carriers Allegro does not list go as `OTHER` with their name
/// ([`OTHER_NAMES`]), which Allegro shows the buyer.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "DHL"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "FEDEX"),
    ("inpost", "INPOST"),
    ("poczta-polska", "POCZTA_POLSKA"),
    ("dhl-express", "OTHER"),
    ("hermes", "OTHER"),
    ("tnt", "OTHER"),
    ("usps", "OTHER"),
    ("royal-mail", "OTHER"),
    ("post-at", "OTHER"),
    ("post-ch", "OTHER"),
    ("colissimo", "OTHER"),
    ("bpost", "OTHER"),
    ("postnl", "OTHER"),
    ("other", "OTHER"),
];

/// The `carrierName` of carriers that go as `OTHER` (at most 30 characters).
/// The canonical `other` takes the channel's `other-carrier-name`.
const OTHER_NAMES: &[(&str, &str)] = &[
    ("dhl-express", "DHL Express"),
    ("hermes", "Hermes"),
    ("tnt", "TNT"),
    ("usps", "USPS"),
    ("royal-mail", "Royal Mail"),
    ("post-at", "Österreichische Post"),
    ("post-ch", "Swiss Post"),
    ("colissimo", "Colissimo"),
    ("bpost", "bpost"),
    ("postnl", "PostNL"),
];

const OTHER_CARRIER_NAME: &str = "other-carrier-name";
/// Allegro's limit on `carrierName`.
const CARRIER_NAME_MAX: usize = 30;

/// Origins of Allegro's token endpoints: production and sandbox.
const TOKEN_HOSTS: &[&str] = &["https://allegro.pl", "https://allegro.pl.allegrosandbox.pl"];

fn settable(code: &str) -> bool {
    FULFILLMENT.iter().any(|(c, _, set)| *c == code && *set)
}

/// What a seller may set from `from`: every settable status but `from`.
fn allowed_from(from: &str) -> Vec<&'static str> {
    FULFILLMENT
        .iter()
        .filter(|(code, _, set)| *set && *code != from)
        .map(|(code, _, _)| *code)
        .collect()
}

fn statuses() -> Vec<Status> {
    let mut all: Vec<Status> = FULFILLMENT
        .iter()
        .map(|(code, label, _)| {
            let s = status(Dimension::Order, code, label);
            if *code == "NEW" { s.initial() } else { s }
        })
        .collect();
    all.extend(CHECKOUT.iter().map(|(code, label)| {
        let s = status(Dimension::Payment, code, label);
        match *code {
            "BOUGHT" => s.initial(),
            "CANCELLED" => s.terminal(),
            _ => s,
        }
    }));
    all
}

fn transitions() -> Vec<Transition> {
    let fulfillment = FULFILLMENT.iter().flat_map(|(from, _, _)| {
        allowed_from(from).into_iter().map(|to| Transition {
            dimension: Dimension::Order,
            from: (*from).to_owned(),
            to: to.to_owned(),
        })
    });
    let checkout = CHECKOUT_MOVES.iter().map(|(from, to)| Transition {
        dimension: Dimension::Payment,
        from: (*from).to_owned(),
        to: (*to).to_owned(),
    });
    fulfillment.chain(checkout).collect()
}

/// Allegro's `carrierId` and, for `OTHER`, the `carrierName` of a package's
/// carrier.
fn carrier(canonical: &str) -> Result<(&'static str, Option<String>), AdapterError> {
    let id = carriers::map(CARRIERS, canonical)?;
    if id != "OTHER" {
        return Ok((id, None));
    }
    let wanted = canonical.trim().to_ascii_lowercase();
    let name = match OTHER_NAMES.iter().find(|(c, _)| *c == wanted) {
        Some((_, name)) => (*name).to_owned(),
        None => host::config(OTHER_CARRIER_NAME).ok_or_else(|| {
            AdapterError::Config(format!(
                "a parcel with carrier \"other\" needs the carrier's name, which Allegro shows the \
                 buyer: set \"{OTHER_CARRIER_NAME}\" in the channel's config"
            ))
        })?,
    };
    let name = name.trim().to_owned();
    if name.chars().count() > CARRIER_NAME_MAX {
        return Err(AdapterError::Config(format!(
            "carrier name \"{name}\" is longer than the {CARRIER_NAME_MAX} characters Allegro takes: \
             shorten \"{OTHER_CARRIER_NAME}\""
        )));
    }
    Ok(("OTHER", Some(name)))
}

/// The line item ids a package names: its own lines, which must be the
/// order's, or — naming none — every line item of the order.
fn parcel_lines(form: &Form, lines: &[String]) -> Result<Vec<String>, AdapterError> {
    if lines.is_empty() {
        return Ok(form.line_items.iter().map(|l| l.id.clone()).collect());
    }
    let mut ids: Vec<String> = Vec::new();
    for line in lines {
        if !form.line_items.iter().any(|l| l.id == *line) {
            let known: Vec<String> = form
                .line_items
                .iter()
                .map(|l| format!("{} ({})", l.id, l.offer.name))
                .collect();
            return Err(AdapterError::Rejected(format!(
                "package line \"{line}\" is not a line item of Allegro order {} (its line items: {}); \
                 give Allegro's line item ids, as intake hands them in, or no lines for the whole order",
                form.id,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        if !ids.contains(line) {
            ids.push(line.clone());
        }
    }
    Ok(ids)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Waybill {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    waybill: String,
}

#[derive(Deserialize)]
struct Waybills {
    #[serde(default)]
    shipments: Vec<Waybill>,
}

fn same_waybill(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn push_fulfillment(order: &str, to: &str) -> AdapterResult {
    let api = Api::open()?;
    let form = api.checkout_form(order)?;
    if form.fulfilled_by_allegro() {
        return Err(AdapterError::Unsupported(format!(
            "Allegro order {order} is fulfilled by Allegro (One Fulfillment): Allegro sets its \
             fulfillment status itself"
        )));
    }
    let current = form.fulfillment_status().unwrap_or("NEW").to_owned();
    // A retry after a lost answer finds the status set: that is success.
    if current == to {
        return Ok(receipt(
            Some(order.to_owned()),
            format!("order {order}: fulfillment status is already {to}"),
        ));
    }
    let path = format!("{}/fulfillment", form_path(order));
    let revision = form.revision.clone().unwrap_or_default();
    let query: Vec<(&str, &str)> = if revision.is_empty() {
        Vec::new()
    } else {
        vec![("checkoutForm.revision", revision.as_str())]
    };
    let what = api.describe(Method::Put, &path, &query);
    let response = api.send(Method::Put, &path, &query, Some(&json!({ "status": to })))?;
    if response.is_success() {
        return Ok(receipt(
            Some(order.to_owned()),
            format!("order {order}: fulfillment status {current} → {to}"),
        ));
    }
    Err(match response.status {
        409 => errors::transient(format!(
            "{what}: the order changed on Allegro while its status was being set (revision \
             {revision} is outdated: {}); the next attempt reads it again",
            errors::platform_message(&response.body)
        )),
        422 => AdapterError::Rejected(format!(
            "{what}: Allegro refused fulfillment status {to} on order {order} (HTTP 422: {}); a \
             seller may set from {current}: {} — but Allegro refuses RETURNED, and any change \
             once an order has had 100",
            errors::platform_message(&response.body),
            allowed_from(&current).join(", ")
        )),
        status => errors::about(
            &what,
            errors::from_status_after(status, response.retry_after(), &response.body),
        ),
    })
}

impl Guest for Allegro {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "allegro".into(),
            name: "Allegro".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: statuses(),
            transitions: transitions(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    api::CLIENT_ID,
                    "Client ID of your Allegro application (developer.allegro.pl › Moje aplikacje; \
                     the sandbox has its own)",
                )
                .required(),
                config_field(api::CLIENT_SECRET, "Client secret of that application")
                    .required()
                    .secret(),
                config_field(
                    api::REFRESH_TOKEN,
                    "Refresh token from authorising the application for the seller's account \
                     (authorization code or device flow). Allegro hands out a new one with every \
                     renewal; the plugin keeps it in the channel's state, so put a new one here \
                     only when the seller authorises again",
                )
                .required()
                .secret(),
                config_field(
                    api::TOKEN_URL,
                    "Allegro's token endpoint; for the sandbox \
                     https://allegro.pl.allegrosandbox.pl/auth/oauth/token. Grant the channel its \
                     origin as an extra host",
                )
                .default_value(api::DEFAULT_TOKEN_URL),
                config_field(
                    api::REDIRECT_URI,
                    "The redirect URI registered with the application; sent with each token \
                     renewal when set",
                ),
                config_field(
                    OTHER_CARRIER_NAME,
                    "Carrier name Allegro shows the buyer for parcels of carrier \"other\" \
                     (at most 30 characters)",
                ),
                config_field(
                    intake::INTAKE_SINCE,
                    "Where the first pull of orders starts: a date (2026-01-31) or an RFC 3339 \
                     time; unset, 30 days back. Older events in Allegro's event log (which reaches 60 \
                     days back) are skipped",
                ),
            ],
            extra_hosts: TOKEN_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    fn push_status(
        platform_order_id: String,
        dimension: Dimension,
        _from: String,
        to: String,
        _idempotency_key: String,
    ) -> AdapterResult {
        match dimension {
            Dimension::Payment => Err(AdapterError::Unsupported(format!(
                "Allegro sets the checkout status (payment dimension) itself as the buyer checks \
                 out, pays or cancels; it cannot be set to {to} through the API"
            ))),
            Dimension::Delivery => Err(AdapterError::Unsupported(
                "Allegro has no delivery status apart from the seller's fulfillment status, which \
                 is the order dimension"
                    .into(),
            )),
            Dimension::Order if to == "RETURNED" => Err(AdapterError::Unsupported(format!(
                "Allegro sets RETURNED itself when a customer return is processed and refuses it \
                 from a seller (a seller may set: {})",
                allowed_from("RETURNED").join(", ")
            ))),
            Dimension::Order if !settable(&to) => Err(AdapterError::Rejected(format!(
                "\"{to}\" is not an Allegro fulfillment status (a seller may set: {})",
                allowed_from("").join(", ")
            ))),
            Dimension::Order => push_fulfillment(&platform_order_id, &to),
        }
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        if shipment.packages.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has no package to upload",
                shipment.id
            )));
        }
        // Every carrier first: a shipment Allegro cannot take sends nothing.
        let mut parcels = Vec::with_capacity(shipment.packages.len());
        for package in &shipment.packages {
            let waybill = package.tracking_number.trim();
            if waybill.is_empty() || waybill.chars().count() > 64 {
                return Err(AdapterError::Rejected(format!(
                    "tracking number \"{}\" of shipment {}: Allegro takes 1 to 64 characters",
                    package.tracking_number, shipment.id
                )));
            }
            let lines: Vec<String> = package.lines.iter().map(|l| l.line_id.clone()).collect();
            parcels.push((waybill, carrier(&package.carrier)?, lines));
        }
        let order = &shipment.platform_order_id;
        let api = Api::open()?;
        let path = format!("{}/shipments", form_path(order));
        let existing: Waybills = api.send_ok(Method::Get, &path, &[], None)?.json()?;
        let mut form: Option<Form> = None;
        let mut added = Vec::new();
        let mut present = BTreeSet::new();
        let mut references = Vec::new();
        for (waybill, (carrier_id, carrier_name), lines) in parcels {
            if let Some(there) = existing
                .shipments
                .iter()
                .find(|s| same_waybill(&s.waybill, waybill))
            {
                present.insert(waybill.to_owned());
                references.extend(there.id.clone());
                continue;
            }
            if added.iter().any(|a: &String| same_waybill(a, waybill)) {
                continue;
            }
            let form = match &form {
                Some(form) => form,
                None => form.insert(api.checkout_form(order)?),
            };
            let line_items: Vec<_> = parcel_lines(form, &lines)?
                .into_iter()
                .map(|id| json!({ "id": id }))
                .collect();
            let mut body = json!({
                "carrierId": carrier_id,
                "waybill": waybill,
                "lineItems": line_items,
            });
            if let Some(name) = carrier_name {
                body["carrierName"] = json!(name);
            }
            #[derive(Deserialize)]
            struct Created {
                #[serde(default)]
                id: Option<String>,
            }
            let created: Created = api.send_ok(Method::Post, &path, &[], Some(&body))?.json()?;
            references.extend(created.id);
            added.push(waybill.to_owned());
        }
        let summary = match (added.is_empty(), present.is_empty()) {
            (false, true) => format!(
                "order {order}: tracking number(s) {} added",
                added.join(", ")
            ),
            (false, false) => format!(
                "order {order}: tracking number(s) {} added, {} already there",
                added.join(", "),
                present.into_iter().collect::<Vec<_>>().join(", ")
            ),
            (true, _) => format!(
                "order {order}: tracking number(s) {} already there",
                present.into_iter().collect::<Vec<_>>().join(", ")
            ),
        };
        Ok(receipt(
            (!references.is_empty()).then(|| references.join(",")),
            summary,
        ))
    }
}

impl Intake for Allegro {
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

export!(Allegro);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_names_statuses_of_its_dimension_and_leaves_no_terminal() {
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
            let from = all
                .iter()
                .find(|s| s.dimension == t.dimension && s.code == t.from)
                .unwrap();
            assert!(
                !from.terminal,
                "{} → {} leaves a terminal status",
                t.from, t.to
            );
        }
    }

    #[test]
    fn no_move_leads_to_returned_and_every_status_reaches_the_others() {
        let moves = transitions();
        assert!(!moves.iter().any(|t| t.to == "RETURNED"));
        assert_eq!(
            allowed_from("RETURNED"),
            [
                "NEW",
                "PROCESSING",
                "READY_FOR_SHIPMENT",
                "READY_FOR_PICKUP",
                "SENT",
                "PICKED_UP",
                "CANCELLED",
                "SUSPENDED"
            ]
        );
        assert_eq!(allowed_from("SENT").len(), 7);
        let order_moves = moves
            .iter()
            .filter(|t| t.dimension == Dimension::Order)
            .count();
        assert_eq!(
            order_moves,
            9 * 8 - 8,
            "each of 9 to each settable but itself"
        );
    }

    #[test]
    fn one_initial_status_per_dimension() {
        let all = statuses();
        for d in [Dimension::Order, Dimension::Payment] {
            let initial: Vec<&str> = all
                .iter()
                .filter(|s| s.dimension == d && s.initial)
                .map(|s| s.code.as_str())
                .collect();
            assert_eq!(initial.len(), 1, "{}: {initial:?}", d.as_str());
        }
    }

    #[test]
    fn listed_carriers_map_to_allegros_ids_and_others_go_as_other_with_a_name() {
        assert_eq!(carrier("DHL").unwrap(), ("DHL", None));
        assert_eq!(carrier("poczta-polska").unwrap(), ("POCZTA_POLSKA", None));
        assert_eq!(
            carrier("post-at").unwrap(),
            ("OTHER", Some("Österreichische Post".to_owned()))
        );
        for (canonical, id) in CARRIERS {
            if *id == "OTHER" && *canonical != "other" {
                let (_, name) = carrier(canonical).unwrap();
                let name = name.unwrap();
                assert!(name.chars().count() <= CARRIER_NAME_MAX, "{name}");
            }
        }
    }

    #[test]
    fn an_unknown_carrier_is_refused_naming_the_known_ones() {
        match carrier("pigeon") {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "carrier \"pigeon\" is not known to this plugin (known: dhl, dpd, gls, ups, fedex, \
                 inpost, poczta-polska, dhl-express, hermes, tnt, usps, royal-mail, post-at, \
                 post-ch, colissimo, bpost, postnl, other)"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn form_with_lines() -> Form {
        serde_json::from_value(json!({
            "id": "o-1", "status": "READY_FOR_PROCESSING", "buyer": {"id": "1"},
            "lineItems": [
                {"id": "l-1", "offer": {"id": "1", "name": "Teapot"}, "quantity": 1,
                 "price": {"amount": "10.00", "currency": "PLN"}},
                {"id": "l-2", "offer": {"id": "2", "name": "Cup"}, "quantity": 2,
                 "price": {"amount": "5.00", "currency": "PLN"}}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn a_parcel_without_lines_names_every_line_item() {
        let form = form_with_lines();
        assert_eq!(parcel_lines(&form, &[]).unwrap(), ["l-1", "l-2"]);
        assert_eq!(
            parcel_lines(&form, &["l-2".into(), "l-2".into()]).unwrap(),
            ["l-2"]
        );
    }

    #[test]
    fn a_line_the_order_does_not_have_is_refused_naming_its_line_items() {
        match parcel_lines(&form_with_lines(), &["1".into()]) {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "package line \"1\" is not a line item of Allegro order o-1 (its line items: l-1 \
                 (Teapot), l-2 (Cup)); give Allegro's line item ids, as intake hands them in, or \
                 no lines for the whole order"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn waybills_match_whatever_their_case_and_spaces() {
        assert!(same_waybill(
            " 00340434161094042557",
            "00340434161094042557"
        ));
        assert!(same_waybill("jjd0001", "JJD0001"));
        assert!(!same_waybill("JJD0001", "JJD0002"));
    }
}
