//! `adobe-commerce`: Adobe Commerce and Magento Open Source 2.4, through
//! the admin REST API.
//!
//! **What it does.** One order dimension with the status codes of a default
//! install (pending, pending_payment, processing, fraud, payment_review,
//! holded, complete, closed, canceled) and the moves Magento's order
//! workflow makes between them. A push reads the order first, then takes
//! the route Magento has for the move: `POST /V1/orders/{id}/hold`,
//! `/unhold` and `/cancel` for on hold, off hold and canceled, a status
//! comment (`POST /V1/orders/{id}/comments` with `statusHistory.status`)
//! for the others. A shipment goes out as a Magento shipment with its
//! tracks (`POST /V1/order/{id}/ship`); a package of an order with nothing
//! left to ship becomes a track on its latest shipment
//! (`POST /V1/shipment/track`). Magento takes no idempotency key, so an
//! upload first reads the order's shipments and sends only the tracking
//! numbers not on any of them: a retry after a lost answer creates
//! nothing twice. Orders come in by polling `GET /V1/orders` (see
//! [`intake`]).
//!
//! The platform order id is Magento's `entity_id`, the id every REST path
//! takes; the order number people see (`increment_id`, `000000042`) is
//! shown beside it in messages and logs. The channel's base URL is the
//! shop's REST root, `https://shop.example/rest/default` (`default` being
//! the store view code); a base URL without `/rest/…` gets `/rest/default`.
//! Authentication is an integration's access token sent as a bearer token.
//!
//! **What it cannot do.** It cannot push `complete` or `closed`: Magento
//! sets them itself from invoices, shipments and credit memos (a push
//! answers `unsupported` naming the action that leads there), nor move an
//! order into or out of payment review, which the payment gateway decides.
//! A held order goes back to the status it had before the hold, not to one
//! of the plugin's choosing. Custom order statuses of a shop are not
//! declared, so an order carrying one is refused at intake. Magento's
//! webhooks are not part of its REST API: `accept-webhook` answers
//! `unsupported`, orders come in by polling only. An integration token
//! does not expire and cannot be refreshed: a 401 is an `auth` error.

mod intake;
mod order;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use statusport_plugin_sdk::http::{Client, Request, Response};
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Package, PlatformInfo, Shipment, Status, Transition,
    Value, carriers, config_field, host, json, receipt, status,
};
use statusport_plugin_sdk_intake::{Batch, Guest, Inbound, Intake, export};

use crate::order::Order;

struct AdobeCommerce;

/// The order statuses of a default install.
const STATUSES: &[(&str, &str)] = &[
    ("pending", "Pending"),
    ("pending_payment", "Pending Payment"),
    ("processing", "Processing"),
    ("fraud", "Suspected Fraud"),
    ("payment_review", "Payment Review"),
    ("holded", "On Hold"),
    ("complete", "Complete"),
    ("closed", "Closed"),
    ("canceled", "Canceled"),
];

/// How a move is made on Magento.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// A status history comment carrying the new status.
    Comment,
    /// `POST /V1/orders/{id}/hold`.
    Hold,
    /// `POST /V1/orders/{id}/unhold`: back to the status before the hold.
    Unhold,
    /// `POST /V1/orders/{id}/cancel`.
    Cancel,
    /// Magento makes the move itself; the text says upon what.
    Magento(&'static str),
}

const COMPLETE_BY: &str = "Magento sets \"complete\" itself once every item is invoiced and shipped \
     (create the invoice in Magento; upload the shipment)";
const CLOSED_BY: &str =
    "Magento sets \"closed\" itself when the order is refunded in full (a credit memo)";
const REVIEW_BY: &str = "Magento moves an order into and out of \"payment_review\" itself, as the \
     payment gateway flags, accepts or denies the payment (Sales › Orders › Accept Payment / Deny Payment)";

/// `(from, to, how)`: the moves of Magento's order workflow between the
/// statuses of a default install.
const MOVES: &[(&str, &str, Via)] = &[
    ("pending", "processing", Via::Comment),
    ("pending", "holded", Via::Hold),
    ("pending", "canceled", Via::Cancel),
    ("pending", "complete", Via::Magento(COMPLETE_BY)),
    ("pending_payment", "processing", Via::Comment),
    ("pending_payment", "holded", Via::Hold),
    ("pending_payment", "canceled", Via::Cancel),
    ("processing", "fraud", Via::Comment),
    ("processing", "holded", Via::Hold),
    ("processing", "canceled", Via::Cancel),
    ("processing", "complete", Via::Magento(COMPLETE_BY)),
    ("processing", "closed", Via::Magento(CLOSED_BY)),
    ("fraud", "processing", Via::Comment),
    ("fraud", "holded", Via::Hold),
    ("fraud", "canceled", Via::Cancel),
    ("payment_review", "processing", Via::Magento(REVIEW_BY)),
    ("payment_review", "fraud", Via::Magento(REVIEW_BY)),
    ("payment_review", "canceled", Via::Magento(REVIEW_BY)),
    ("holded", "pending", Via::Unhold),
    ("holded", "pending_payment", Via::Unhold),
    ("holded", "processing", Via::Unhold),
    ("holded", "fraud", Via::Unhold),
    ("complete", "closed", Via::Magento(CLOSED_BY)),
];

/// Statuses only Magento itself sets, and upon what.
fn set_by_magento(status: &str) -> Option<&'static str> {
    match status {
        "complete" => Some(COMPLETE_BY),
        "closed" => Some(CLOSED_BY),
        "payment_review" => Some(REVIEW_BY),
        _ => None,
    }
}

fn via(from: &str, to: &str) -> Option<Via> {
    MOVES
        .iter()
        .find(|(f, t, _)| *f == from && *t == to)
        .map(|(_, _, v)| *v)
}

/// The moves out of `from`, each with how it is made, for messages.
fn allowed_from(from: &str) -> String {
    let moves: Vec<String> = MOVES
        .iter()
        .filter(|(f, _, _)| *f == from)
        .map(|(_, to, v)| match v {
            Via::Comment => format!("{to} (a status comment)"),
            Via::Hold => format!("{to} (hold)"),
            Via::Unhold => format!("{to} (unhold, when it was {to} before the hold)"),
            Via::Cancel => format!("{to} (cancel)"),
            Via::Magento(_) => format!("{to} (set by Magento itself)"),
        })
        .collect();
    if moves.is_empty() {
        format!("none, \"{from}\" is final")
    } else {
        moves.join(", ")
    }
}

/// Canonical carrier id → the title Magento shows with the tracking number.
const CARRIERS: &[(&str, &str)] = &[
    ("dhl", "DHL"),
    ("dhl-express", "DHL Express"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("usps", "USPS"),
    ("hermes", "Hermes"),
    ("post-at", "Österreichische Post"),
    ("post-ch", "Swiss Post"),
    ("royal-mail", "Royal Mail"),
    ("tnt", "TNT"),
    ("colissimo", "Colissimo"),
    ("bpost", "bpost"),
    ("postnl", "PostNL"),
    ("other", "Other"),
];

/// Magento's own carrier code for a canonical id: the carriers Magento
/// ships with (DHL — Express —, FedEx, UPS, USPS); every other carrier is
/// Magento's `custom` carrier with the title above.
fn carrier_code(carrier: &str) -> &'static str {
    match carrier.trim().to_ascii_lowercase().as_str() {
        "dhl" | "dhl-express" => "dhl",
        "ups" => "ups",
        "fedex" => "fedex",
        "usps" => "usps",
        _ => "custom",
    }
}

const ACCESS_TOKEN: &str = "access-token";
const NOTIFY_CUSTOMER: &str = "notify-customer";

const AUTH_HINT: &str = "check the channel's \"access-token\": the access token of an active integration \
     (System › Extensions › Integrations) whose resources include Sales › Operations › Orders, sent as a \
     bearer token, which Magento takes only with Stores › Configuration › Services › OAuth › Consumer \
     Settings › \"Allow OAuth Access Tokens to be used as standalone Bearer tokens\" set to Yes";

/// The shop's REST root for a channel's base URL: kept when it ends in
/// `/rest/<store view>`, `/default` added to `/rest`, `/rest/default` to a
/// shop's address; a trailing `/V1` is dropped.
fn rest_root(base: &str) -> Result<String, AdapterError> {
    let mut url = Client::new(base)?.base_url().clone();
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if segments
        .last()
        .is_some_and(|s| s.eq_ignore_ascii_case("v1"))
    {
        segments.pop();
    }
    let n = segments.len();
    if segments.last().is_some_and(|s| s == "rest") {
        segments.push("default".into());
    } else if !(n >= 2 && segments[n - 2] == "rest") {
        segments.push("rest".into());
        segments.push("default".into());
    }
    url.set_path(&format!("/{}", segments.join("/")));
    url.set_query(None);
    Ok(url.to_string())
}

fn client() -> Result<Client, AdapterError> {
    let token = host::require_config(ACCESS_TOKEN)?;
    let base = host::require_config(host::BASE_URL)?;
    let client = Client::new(&rest_root(&base)?)?;
    // The token is the shop's whole admin API for whoever reads it.
    if !client.is_private() {
        let url = client.base_url();
        let mut https = url.clone();
        https
            .set_scheme("https")
            .expect("http and https are both special schemes");
        return Err(AdapterError::Config(format!(
            "base URL \"{url}\" is plain HTTP to another machine: the access token would cross the \
             network readable by anyone on the way, so nothing was sent; use https:// (\"{https}\"); \
             plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])"
        )));
    }
    Ok(client.bearer(&token))
}

/// Sends a request; a refused token names what to check.
fn send(request: Request) -> Result<Response, AdapterError> {
    request.send_ok().map_err(|e| match e {
        AdapterError::Auth(m) => AdapterError::Auth(format!("{m}; {AUTH_HINT}")),
        other => other,
    })
}

/// `platform_order_id` as Magento's entity id.
fn entity_id(platform_order_id: &str) -> Result<u64, AdapterError> {
    platform_order_id.trim().parse().map_err(|_| {
        AdapterError::Rejected(format!(
            "\"{platform_order_id}\" is not an Adobe Commerce order id: the plugin takes the order's \
             entity_id (a number, as in /V1/orders/{{id}}), not its order number"
        ))
    })
}

fn read_order(client: &Client, id: u64) -> Result<Order, AdapterError> {
    send(client.get(&format!("/V1/orders/{id}")))?.json()
}

/// Magento answers `true` or `false` to hold, unhold, cancel and comments.
fn answered_true(response: &Response) -> Result<bool, AdapterError> {
    Ok(matches!(response.json::<Value>()?, Value::Bool(true)))
}

fn push_order_status(platform_order_id: &str, to: &str) -> AdapterResult {
    if !STATUSES.iter().any(|(code, _)| *code == to) {
        let known: Vec<&str> = STATUSES.iter().map(|(c, _)| *c).collect();
        return Err(AdapterError::Rejected(format!(
            "\"{to}\" is not an order status of a default Adobe Commerce install (known: {})",
            known.join(", ")
        )));
    }
    let id = entity_id(platform_order_id)?;
    let client = client()?;
    let order = read_order(&client, id)?;
    let shown = order.display();
    let current = order.status.clone().unwrap_or_default();
    // A retry after a lost answer finds the move made: that is success.
    if current == to {
        return Ok(receipt(
            Some(id.to_string()),
            format!("order {shown} is already {to}"),
        ));
    }
    if let Some(how) = set_by_magento(to) {
        return Err(AdapterError::Unsupported(format!(
            "order {shown}: a push cannot set \"{to}\": {how}"
        )));
    }
    let refused = || {
        AdapterError::Rejected(format!(
            "Adobe Commerce allows no move of order {shown} from \"{current}\" to \"{to}\" (allowed from {current}: {})",
            allowed_from(&current)
        ))
    };
    let Some(how) = via(&current, to) else {
        return Err(refused());
    };
    let path = |action: &str| format!("/V1/orders/{id}/{action}");
    let done = |what: &str| {
        Ok(receipt(
            Some(id.to_string()),
            format!("order {shown}: {what}"),
        ))
    };
    match how {
        Via::Magento(by) => Err(AdapterError::Unsupported(format!(
            "order {shown}: a push cannot move it from \"{current}\" to \"{to}\": {by}"
        ))),
        Via::Hold => match send(client.post(&path("hold")).json(&json!({}))) {
            Ok(_) => done(&format!("{current} → holded (hold)")),
            Err(AdapterError::Rejected(m)) => Err(AdapterError::Rejected(format!(
                "{m}; Magento refused to put order {shown} on hold from \"{current}\" \
                 (it holds no order in payment review, complete, closed or canceled)"
            ))),
            Err(other) => Err(other),
        },
        Via::Unhold => {
            if let Some(before) = order.hold_before_status.as_deref().filter(|b| *b != to) {
                return Err(AdapterError::Rejected(format!(
                    "Magento releases order {shown} from hold back to \"{before}\", the status it had \
                     before the hold, not to \"{to}\": push holded → {before} instead"
                )));
            }
            send(client.post(&path("unhold")).json(&json!({})))?;
            done(&format!("holded → {to} (unhold)"))
        }
        Via::Cancel => {
            let response = send(client.post(&path("cancel")).json(&json!({})))?;
            if answered_true(&response)? {
                done(&format!("{current} → canceled (cancel)"))
            } else {
                Err(AdapterError::Rejected(format!(
                    "Magento did not cancel order {shown} (it answered false): it cancels only orders \
                     with items not yet invoiced, not on hold and not in payment review; refund an \
                     invoiced order with a credit memo instead"
                )))
            }
        }
        Via::Comment => {
            let label = STATUSES
                .iter()
                .find(|(c, _)| *c == to)
                .map_or(to, |(_, l)| *l);
            let body = json!({
                "statusHistory": {
                    "comment": format!("Status changed to {label}."),
                    "is_customer_notified": 0,
                    "is_visible_on_front": 0,
                    "parent_id": id,
                    "status": to,
                }
            });
            let response = send(client.post(&path("comments")).json(&body))?;
            if !answered_true(&response)? {
                return Err(AdapterError::Rejected(format!(
                    "Magento did not add the status comment to order {shown} (it answered false)"
                )));
            }
            done(&format!("{current} → {to} (status comment)"))
        }
    }
}

#[derive(Deserialize)]
struct Track {
    #[serde(default)]
    entity_id: Option<u64>,
    #[serde(default)]
    track_number: String,
}

#[derive(Deserialize)]
struct MagentoShipment {
    entity_id: u64,
    #[serde(default)]
    tracks: Vec<Track>,
}

#[derive(Deserialize)]
struct ShipmentList {
    #[serde(default)]
    items: Vec<MagentoShipment>,
}

/// The order's shipments with their tracks.
fn shipments_of(client: &Client, id: u64) -> Result<Vec<MagentoShipment>, AdapterError> {
    let request = client
        .get("/V1/shipments")
        .query(
            "searchCriteria[filterGroups][0][filters][0][field]",
            "order_id",
        )
        .query(
            "searchCriteria[filterGroups][0][filters][0][value]",
            &id.to_string(),
        )
        .query(
            "searchCriteria[filterGroups][0][filters][0][conditionType]",
            "eq",
        );
    Ok(send(request)?.json::<ShipmentList>()?.items)
}

/// A quantity as JSON: whole numbers as integers.
fn qty(value: f64) -> Value {
    if value.fract() == 0.0 && (0.0..1e15).contains(&value) {
        json!(value as u64)
    } else {
        json!(value)
    }
}

/// The items a shipment of `packages` carries: the packages' lines, or,
/// when a package names none (the whole order), everything left to ship.
/// Each at most what is left of it.
fn items_to_ship(order: &Order, packages: &[&Package]) -> Result<Vec<(u64, f64)>, AdapterError> {
    let mut wanted: BTreeMap<u64, f64> = BTreeMap::new();
    if packages.iter().any(|p| p.lines.is_empty()) {
        for item in order.top_items().filter(|i| !i.is_virtual) {
            wanted.insert(item.item_id, item.to_ship());
        }
    } else {
        for line in packages.iter().flat_map(|p| &p.lines) {
            let item = line
                .line_id
                .trim()
                .parse()
                .ok()
                .and_then(|n| order.line(n))
                .ok_or_else(|| {
                    let known: Vec<String> = order
                        .top_items()
                        .map(|i| format!("{} ({})", i.item_id, i.sku))
                        .collect();
                    AdapterError::Rejected(format!(
                        "order {} has no item {} (its items: {})",
                        order.display(),
                        line.line_id,
                        known.join(", ")
                    ))
                })?;
            *wanted.entry(item.item_id).or_default() += f64::from(line.quantity);
        }
    }
    Ok(wanted
        .into_iter()
        .filter_map(|(id, want)| {
            let left = order.items.iter().find(|i| i.item_id == id)?.to_ship();
            let ship = want.min(left);
            (ship > 0.0).then_some((id, ship))
        })
        .collect())
}

fn track_body(package: &Package) -> Result<Value, AdapterError> {
    let title = carriers::map(CARRIERS, &package.carrier)?;
    Ok(json!({
        "track_number": package.tracking_number,
        "title": title,
        "carrier_code": carrier_code(&package.carrier),
    }))
}

fn upload(shipment: &Shipment) -> AdapterResult {
    if shipment.packages.is_empty() {
        return Err(AdapterError::Rejected(format!(
            "shipment {} has no package to upload",
            shipment.id
        )));
    }
    // Refuse an unknown carrier before anything reaches the shop.
    for package in &shipment.packages {
        carriers::map(CARRIERS, &package.carrier)?;
    }
    let id = entity_id(&shipment.platform_order_id)?;
    let client = client()?;
    let order = read_order(&client, id)?;
    let shown = order.display();
    let existing = shipments_of(&client, id)?;
    let present: BTreeSet<&str> = existing
        .iter()
        .flat_map(|s| &s.tracks)
        .map(|t| t.track_number.as_str())
        .collect();
    let mut missing: Vec<&Package> = Vec::new();
    for package in &shipment.packages {
        let number = package.tracking_number.as_str();
        if !present.contains(number) && !missing.iter().any(|p| p.tracking_number == number) {
            missing.push(package);
        }
    }
    let already = shipment.packages.len() - missing.len();
    if missing.is_empty() {
        let reference = existing.iter().map(|s| s.entity_id).max();
        return Ok(receipt(
            reference.map(|r| r.to_string()),
            format!("order {shown}: 0 tracking number(s) added, {already} already present"),
        ));
    }
    let items = items_to_ship(&order, &missing)?;
    if !items.is_empty() {
        let tracks = missing
            .iter()
            .map(|p| track_body(p))
            .collect::<Result<Vec<_>, _>>()?;
        let body = json!({
            "items": items
                .iter()
                .map(|(item, n)| json!({ "order_item_id": item, "qty": qty(*n) }))
                .collect::<Vec<_>>(),
            "notify": host::config_flag(NOTIFY_CUSTOMER).unwrap_or(true),
            "tracks": tracks,
        });
        let created =
            send(client.post(&format!("/V1/order/{id}/ship")).json(&body))?.json::<Value>()?;
        // The id comes as a number (or, from some versions, a string).
        let shipment_id = match &created {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Ok(receipt(
            Some(shipment_id.clone()),
            format!(
                "order {shown}: shipment {shipment_id} created with {} tracking number(s), {already} already present",
                missing.len()
            ),
        ));
    }
    // Nothing left to ship: the tracking numbers join the latest shipment.
    let Some(latest) = existing.iter().map(|s| s.entity_id).max() else {
        return Err(AdapterError::Rejected(format!(
            "order {shown} has nothing left to ship and no shipment to add tracking numbers to \
             (a virtual or canceled order ships nothing)"
        )));
    };
    let mut added = Vec::new();
    for package in &missing {
        let mut entity = track_body(package)?;
        entity["order_id"] = json!(id);
        entity["parent_id"] = json!(latest);
        entity["weight"] = json!(0);
        entity["qty"] = json!(0);
        entity["description"] = json!(package.tracking_url.clone().unwrap_or_default());
        let track: Track = send(
            client
                .post("/V1/shipment/track")
                .json(&json!({ "entity": entity })),
        )?
        .json()?;
        added.extend(track.entity_id.map(|t| t.to_string()));
    }
    Ok(receipt(
        Some(latest.to_string()),
        format!(
            "order {shown}: {} tracking number(s) added to shipment {latest} (nothing left to ship), {already} already present",
            missing.len()
        ),
    ))
}

fn statuses() -> Vec<Status> {
    STATUSES
        .iter()
        .map(|(code, label)| {
            let s = status(Dimension::Order, code, label);
            match *code {
                "pending" => s.initial(),
                "closed" | "canceled" => s.terminal(),
                _ => s,
            }
        })
        .collect()
}

fn transitions() -> Vec<Transition> {
    MOVES
        .iter()
        .map(|(from, to, _)| Transition {
            dimension: Dimension::Order,
            from: (*from).to_owned(),
            to: (*to).to_owned(),
        })
        .collect()
}

impl Guest for AdobeCommerce {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "adobe-commerce".into(),
            name: "Adobe Commerce / Magento 2".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: statuses(),
            transitions: transitions(),
            carriers: carriers::ids(CARRIERS),
            config: vec![
                config_field(
                    ACCESS_TOKEN,
                    "Access token of an integration (System › Extensions › Integrations; its resources \
                     must include Sales › Operations › Orders). It goes as a bearer token: set Stores › \
                     Configuration › Services › OAuth › Consumer Settings › \"Allow OAuth Access Tokens \
                     to be used as standalone Bearer tokens\" to Yes. The channel's base URL is the REST \
                     root, https://shop.example/rest/default",
                )
                .required()
                .secret(),
                config_field(
                    NOTIFY_CUSTOMER,
                    "\"yes\": Magento emails the customer each shipment with its tracking numbers; \"no\": it does not",
                )
                .default_value("yes"),
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
                "Adobe Commerce has one order status, no {} status of its own: Magento derives \
                 payment and delivery from invoices and shipments",
                dimension.as_str()
            )));
        }
        push_order_status(&platform_order_id, &to)
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        upload(&shipment)
    }
}

impl Intake for AdobeCommerce {
    fn pull(cursor: Option<String>) -> Result<Batch, AdapterError> {
        intake::pull(cursor)
    }

    fn accept_webhook(
        _headers: Vec<(String, String)>,
        _body: Vec<u8>,
    ) -> Result<Vec<Inbound>, AdapterError> {
        Err(AdapterError::Unsupported(
            "Adobe Commerce sends no signed order webhooks this plugin can check (its admin REST API \
             describes none): its orders come in by polling; give the channel a poll interval \
             (poll_interval_secs)"
                .into(),
        ))
    }
}

export!(AdobeCommerce);

#[cfg(test)]
mod tests {
    use super::*;
    use statusport_plugin_sdk::PackageLine;

    #[test]
    fn every_move_names_declared_statuses_and_final_ones_have_none() {
        for (from, to, _) in MOVES {
            for code in [from, to] {
                assert!(STATUSES.iter().any(|(c, _)| c == code), "{code}");
            }
        }
        for s in statuses().iter().filter(|s| s.terminal) {
            assert!(
                !MOVES.iter().any(|(f, _, _)| *f == s.code),
                "{} is final",
                s.code
            );
        }
        assert_eq!(statuses().iter().filter(|s| s.initial).count(), 1);
    }

    #[test]
    fn the_statuses_magento_sets_itself_are_never_a_comment() {
        for (from, to, how) in MOVES {
            if set_by_magento(to).is_some() || *from == "payment_review" {
                assert!(matches!(how, Via::Magento(_)), "{from} → {to}");
            }
        }
        assert_eq!(via("pending", "holded"), Some(Via::Hold));
        assert_eq!(via("holded", "processing"), Some(Via::Unhold));
        assert_eq!(via("canceled", "processing"), None);
    }

    #[test]
    fn allowed_moves_say_how_they_are_made() {
        assert_eq!(
            allowed_from("pending"),
            "processing (a status comment), holded (hold), canceled (cancel), complete (set by Magento itself)"
        );
        assert_eq!(allowed_from("canceled"), "none, \"canceled\" is final");
    }

    #[test]
    fn carriers_map_to_magentos_codes_and_titles() {
        assert_eq!(carrier_code("dhl-express"), "dhl");
        assert_eq!(carrier_code("UPS"), "ups");
        assert_eq!(carrier_code("dpd"), "custom");
        let p = Package {
            carrier: "dpd".into(),
            tracking_number: "0123".into(),
            tracking_url: None,
            lines: vec![],
        };
        assert_eq!(
            track_body(&p).unwrap(),
            json!({"track_number": "0123", "title": "DPD", "carrier_code": "custom"})
        );
        for id in carriers::CANONICAL {
            assert!(carriers::map(CARRIERS, id).is_ok(), "{id}");
        }
    }

    #[test]
    fn the_rest_root_is_found_from_the_base_url() {
        for (base, root) in [
            (
                "https://shop.example/rest/default",
                "https://shop.example/rest/default",
            ),
            (
                "https://shop.example/rest/de_de/",
                "https://shop.example/rest/de_de",
            ),
            (
                "https://shop.example/rest",
                "https://shop.example/rest/default",
            ),
            ("https://shop.example", "https://shop.example/rest/default"),
            (
                "https://example.com/shop/rest/all/V1",
                "https://example.com/shop/rest/all",
            ),
            (
                "http://127.0.0.1:8080/rest/default",
                "http://127.0.0.1:8080/rest/default",
            ),
        ] {
            assert_eq!(rest_root(base).unwrap(), root, "{base}");
        }
        assert!(matches!(rest_root("shop"), Err(AdapterError::Config(_))));
    }

    #[test]
    fn an_order_number_is_not_taken_for_an_entity_id() {
        assert_eq!(entity_id(" 42 ").unwrap(), 42);
        match entity_id("#000000042") {
            Err(AdapterError::Rejected(m)) => assert!(m.contains("entity_id"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    fn order() -> Order {
        serde_json::from_value(json!({
            "entity_id": 7, "increment_id": "000000007",
            "items": [
                {"item_id": 1, "sku": "TEA", "qty_ordered": 2, "qty_shipped": 1},
                {"item_id": 2, "sku": "CUP-CONF", "qty_ordered": 3, "product_type": "configurable"},
                {"item_id": 3, "sku": "CUP-RED", "qty_ordered": 3, "parent_item_id": 2},
                {"item_id": 4, "sku": "EBOOK", "qty_ordered": 1, "is_virtual": 1},
                {"item_id": 5, "sku": "GONE", "qty_ordered": 1, "qty_canceled": 1}
            ]
        }))
        .unwrap()
    }

    fn package(lines: &[(&str, u32)]) -> Package {
        Package {
            carrier: "dhl".into(),
            tracking_number: "1".into(),
            tracking_url: None,
            lines: lines
                .iter()
                .map(|(id, q)| PackageLine {
                    line_id: (*id).into(),
                    quantity: *q,
                })
                .collect(),
        }
    }

    #[test]
    fn a_whole_order_ships_what_is_left_of_its_shippable_lines() {
        let p = package(&[]);
        assert_eq!(
            items_to_ship(&order(), &[&p]).unwrap(),
            [(1, 1.0), (2, 3.0)]
        );
    }

    #[test]
    fn package_lines_ship_the_parent_and_at_most_what_is_left() {
        let p = package(&[("1", 5), ("3", 2)]);
        assert_eq!(
            items_to_ship(&order(), &[&p]).unwrap(),
            [(1, 1.0), (2, 2.0)]
        );
        let q = package(&[("9", 1)]);
        match items_to_ship(&order(), &[&q]) {
            Err(AdapterError::Rejected(m)) => assert_eq!(
                m,
                "order 7 (#000000007) has no item 9 (its items: 1 (TEA), 2 (CUP-CONF), 4 (EBOOK), 5 (GONE))"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quantities_go_out_as_integers_when_whole() {
        assert_eq!(qty(2.0), json!(2));
        assert_eq!(qty(1.5), json!(1.5));
    }
}
