//! Tracking numbers as BigCommerce order shipments.
//!
//! BigCommerce takes no idempotency key, so the order's shipments are read
//! first and a tracking number already there is not sent again. Each new
//! package becomes one shipment: `order_address_id` (the shipping address
//! its lines go to), `tracking_number`, `tracking_carrier` (AfterShip's
//! slug), `tracking_link` where the package has one, and `items` — the
//! package's lines, or every item not shipped yet when it names none.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Package, Shipment, carriers, json, receipt,
};

use crate::{Api, CARRIERS, order_path};

/// BigCommerce's largest page of a sub-resource.
const PAGE_SIZE: usize = 250;
/// `tracking_number`'s and `tracking_link`'s `maxLength` in
/// `orderShipment_Post`.
const TRACKING_NUMBER_MAX: usize = 50;
const TRACKING_LINK_MAX: usize = 500;

#[derive(Deserialize)]
struct Existing {
    id: u64,
    #[serde(default)]
    tracking_number: String,
}

/// An order product as `getOrderProducts` lists it.
#[derive(Deserialize, Clone, Debug)]
pub(crate) struct Product {
    pub id: u64,
    #[serde(default)]
    pub quantity: u64,
    #[serde(default)]
    pub quantity_shipped: f64,
    #[serde(default)]
    pub order_address_id: u64,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl Product {
    fn unshipped(&self) -> u64 {
        let shipped = if self.quantity_shipped.is_finite() && self.quantity_shipped > 0.0 {
            self.quantity_shipped as u64
        } else {
            0
        };
        self.quantity.saturating_sub(shipped)
    }

    /// Digital products and gift certificates are not shipped.
    fn physical(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "physical")
    }
}

#[derive(Deserialize)]
struct Address {
    id: u64,
}

/// Every page of a list below `path`; BigCommerce answers an empty page
/// with 204 and no body. `content_type` is set where the description asks
/// for it on a GET (`getOrderProducts`).
pub(crate) fn list<T: serde::de::DeserializeOwned>(
    api: &Api,
    path: &str,
    content_type: bool,
) -> Result<Vec<T>, AdapterError> {
    let mut all = Vec::new();
    for page in 1.. {
        let mut request = api
            .get(path)
            .query("page", &page.to_string())
            .query("limit", &PAGE_SIZE.to_string());
        if content_type {
            request = request.header("content-type", "application/json");
        }
        let response = api.send(request)?;
        if response.status == 204 || response.body.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        let items: Vec<T> = response.json()?;
        let full = items.len() >= PAGE_SIZE;
        all.extend(items);
        if !full {
            break;
        }
    }
    Ok(all)
}

/// The order's products: `getOrderProducts`, which the description asks to
/// carry a `Content-Type` even as a GET.
pub(crate) fn products(api: &Api, order_id: &str) -> Result<Vec<Product>, AdapterError> {
    list(api, &format!("{}/products", order_path(order_id)?), true)
}

/// What goes into one package's shipment: `(order_product_id, quantity)`.
fn items(
    order_id: &str,
    package: &Package,
    products: &[Product],
) -> Result<Vec<(u64, u64)>, AdapterError> {
    if package.lines.is_empty() {
        let left: Vec<(u64, u64)> = products
            .iter()
            .filter(|p| p.physical() && p.unshipped() > 0)
            .map(|p| (p.id, p.unshipped()))
            .collect();
        if left.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "order {order_id}: every item has shipped already, so package {} (which names no \
                 lines) has nothing left to carry; name its lines (order product ids) to add it",
                package.tracking_number
            )));
        }
        return Ok(left);
    }
    let mut wanted: BTreeMap<u64, u64> = BTreeMap::new();
    for line in &package.lines {
        let product = line
            .line_id
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|id| products.iter().find(|p| p.id == id))
            .ok_or_else(|| {
                let known: Vec<String> = products.iter().map(|p| p.id.to_string()).collect();
                AdapterError::Rejected(format!(
                    "order {order_id}: package {} names line {}, which is not an order product of \
                     the order (its lines: {})",
                    package.tracking_number,
                    line.line_id,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
        *wanted.entry(product.id).or_default() += u64::from(line.quantity);
    }
    Ok(wanted.into_iter().filter(|(_, q)| *q > 0).collect())
}

/// The shipping address the package's items go to: the one address of the
/// order, or the one address its products name.
fn address(
    order_id: &str,
    package: &Package,
    chosen: &[(u64, u64)],
    products: &[Product],
    addresses: &[Address],
) -> Result<u64, AdapterError> {
    let named: BTreeSet<u64> = chosen
        .iter()
        .filter_map(|(id, _)| products.iter().find(|p| p.id == *id))
        .map(|p| p.order_address_id)
        .filter(|a| addresses.iter().any(|known| known.id == *a))
        .collect();
    match (named.len(), addresses) {
        (1, _) => Ok(*named.first().expect("one address")),
        (0, [only]) => Ok(only.id),
        (0, []) => Err(AdapterError::Rejected(format!(
            "order {order_id} has no shipping address on BigCommerce (a digital order?): \
             nothing of it is shipped"
        ))),
        (0, _) => Err(AdapterError::Rejected(format!(
            "order {order_id} ships to {} addresses and the lines of package {} name none of \
             them: name the package's lines (order product ids)",
            addresses.len(),
            package.tracking_number
        ))),
        (n, _) => Err(AdapterError::Rejected(format!(
            "order {order_id}: the lines of package {} go to {n} shipping addresses; BigCommerce \
             takes one address per shipment: split the package by address",
            package.tracking_number
        ))),
    }
}

/// Refuses, before anything is sent, what BigCommerce would refuse or what
/// cannot be told apart: unknown carriers, over-long numbers and links,
/// several packages of which one names no lines.
fn check(shipment: &Shipment) -> Result<(), AdapterError> {
    if shipment.packages.is_empty() {
        return Err(AdapterError::Rejected(format!(
            "shipment {} has no package to upload",
            shipment.id
        )));
    }
    for package in &shipment.packages {
        carriers::map(CARRIERS, &package.carrier)?;
        let number = package.tracking_number.trim();
        if number.is_empty() {
            return Err(AdapterError::Rejected(format!(
                "shipment {} has a package without a tracking number",
                shipment.id
            )));
        }
        if number.chars().count() > TRACKING_NUMBER_MAX {
            return Err(AdapterError::Rejected(format!(
                "tracking number \"{number}\" is longer than the {TRACKING_NUMBER_MAX} characters \
                 BigCommerce keeps"
            )));
        }
        if let Some(link) = &package.tracking_url
            && link.chars().count() > TRACKING_LINK_MAX
        {
            return Err(AdapterError::Rejected(format!(
                "the tracking URL of package {number} is longer than the {TRACKING_LINK_MAX} \
                 characters BigCommerce keeps"
            )));
        }
    }
    if shipment.packages.len() > 1
        && let Some(bare) = shipment.packages.iter().find(|p| p.lines.is_empty())
    {
        return Err(AdapterError::Rejected(format!(
            "shipment {} has {} packages and package {} names no lines: BigCommerce records the \
             items of each parcel, so each package of a shipment with several must name its lines \
             (order product ids)",
            shipment.id,
            shipment.packages.len(),
            bare.tracking_number
        )));
    }
    Ok(())
}

/// The body of `createOrderShipments` for one package.
fn body(package: &Package, address: u64, items: &[(u64, u64)]) -> statusport_plugin_sdk::Value {
    let carrier = carriers::map(CARRIERS, &package.carrier).unwrap_or_default();
    let mut body = json!({
        "order_address_id": address,
        "tracking_number": package.tracking_number.trim(),
        "tracking_carrier": carrier,
        "items": items
            .iter()
            .map(|(id, quantity)| json!({ "order_product_id": id, "quantity": quantity }))
            .collect::<Vec<_>>(),
    });
    if let Some(link) = package.tracking_url.as_deref().filter(|l| !l.is_empty()) {
        body["tracking_link"] = json!(link);
    }
    body
}

pub(crate) fn upload(shipment: &Shipment) -> AdapterResult {
    check(shipment)?;
    let order_id = shipment.platform_order_id.as_str();
    let path = format!("{}/shipments", order_path(order_id)?);
    let api = Api::open()?;
    let existing: Vec<Existing> = list(&api, &path, false)?;
    let mut references = Vec::new();
    let mut present = 0;
    let mut missing = Vec::new();
    for package in &shipment.packages {
        match existing
            .iter()
            .find(|e| e.tracking_number.trim() == package.tracking_number.trim())
        {
            Some(found) => {
                present += 1;
                references.push(found.id.to_string());
            }
            None => missing.push(package),
        }
    }
    if !missing.is_empty() {
        let products = products(&api, order_id)?;
        let addresses: Vec<Address> = list(
            &api,
            &format!("{}/shipping_addresses", order_path(order_id)?),
            false,
        )?;
        for package in missing {
            let chosen = items(order_id, package, &products)?;
            let address = address(order_id, package, &chosen, &products, &addresses)?;
            let created: Existing = api
                .send(api.post(&path).json(&body(package, address, &chosen)))?
                .json()?;
            references.push(created.id.to_string());
        }
    }
    Ok(receipt(
        (!references.is_empty()).then(|| references.join(",")),
        format!(
            "order {order_id}: {} shipment(s) created, {present} tracking number(s) already present",
            shipment.packages.len() - present
        ),
    ))
}

#[cfg(test)]
mod tests {
    use statusport_plugin_sdk::PackageLine;

    use super::*;

    fn package(carrier: &str, lines: &[(&str, u32)]) -> Package {
        Package {
            carrier: carrier.into(),
            tracking_number: "00340434161094042557".into(),
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

    fn product(id: u64, quantity: u64, shipped: f64, address: u64) -> Product {
        Product {
            id,
            quantity,
            quantity_shipped: shipped,
            order_address_id: address,
            kind: Some("physical".into()),
        }
    }

    #[test]
    fn a_package_without_lines_takes_what_is_not_shipped_yet() {
        let mut digital = product(9, 1, 0.0, 0);
        digital.kind = Some("digital".into());
        let products = [product(1, 3, 1.0, 5), product(2, 1, 1.0, 5), digital];
        assert_eq!(
            items("7", &package("dhl", &[]), &products).unwrap(),
            [(1, 2)]
        );
        let shipped = [product(1, 3, 3.0, 5)];
        assert!(matches!(
            items("7", &package("dhl", &[]), &shipped),
            Err(AdapterError::Rejected(m)) if m.contains("every item has shipped already")
        ));
    }

    #[test]
    fn named_lines_are_order_products_and_an_unknown_one_names_the_known() {
        let products = [product(11, 2, 0.0, 5), product(12, 1, 0.0, 5)];
        assert_eq!(
            items(
                "7",
                &package("dhl", &[("12", 1), ("11", 1), ("11", 1)]),
                &products
            )
            .unwrap(),
            [(11, 2), (12, 1)]
        );
        match items("7", &package("dhl", &[("13", 1)]), &products) {
            Err(AdapterError::Rejected(m)) => assert!(m.ends_with("(its lines: 11, 12)"), "{m}"),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_address_is_the_one_the_lines_go_to() {
        let products = [product(1, 1, 0.0, 5), product(2, 1, 0.0, 6)];
        let two = [Address { id: 5 }, Address { id: 6 }];
        let p = package("dhl", &[]);
        assert_eq!(address("7", &p, &[(2, 1)], &products, &two).unwrap(), 6);
        assert!(matches!(
            address("7", &p, &[(1, 1), (2, 1)], &products, &two),
            Err(AdapterError::Rejected(m)) if m.contains("split the package")
        ));
        let unnamed = [product(1, 1, 0.0, 0)];
        assert_eq!(
            address("7", &p, &[(1, 1)], &unnamed, &[Address { id: 5 }]).unwrap(),
            5
        );
        assert!(address("7", &p, &[(1, 1)], &unnamed, &[]).is_err());
    }

    #[test]
    fn the_body_carries_the_carriers_slug_and_a_link_only_when_there_is_one() {
        let mut p = package("hermes", &[]);
        let b = body(&p, 5, &[(1, 2)]);
        assert_eq!(
            b,
            json!({
                "order_address_id": 5,
                "tracking_number": "00340434161094042557",
                "tracking_carrier": "hermes-de",
                "items": [{"order_product_id": 1, "quantity": 2}],
            })
        );
        p.carrier = "other".into();
        p.tracking_url = Some("https://track.example/1".into());
        let b = body(&p, 5, &[(1, 2)]);
        assert_eq!(b["tracking_carrier"], "");
        assert_eq!(b["tracking_link"], "https://track.example/1");
    }

    #[test]
    fn what_bigcommerce_would_refuse_is_refused_before_sending() {
        let shipment = |packages: Vec<Package>| Shipment {
            id: "s-1".into(),
            platform_order_id: "7".into(),
            shipped_at: "2026-11-20T09:30:00Z".into(),
            packages,
        };
        assert!(check(&shipment(vec![package("dhl", &[])])).is_ok());
        assert!(check(&shipment(vec![])).is_err());
        assert!(check(&shipment(vec![package("pigeon", &[])])).is_err());
        let mut long = package("dhl", &[]);
        long.tracking_number = "1".repeat(51);
        assert!(check(&shipment(vec![long])).is_err());
        match check(&shipment(vec![
            package("dhl", &[("1", 1)]),
            package("ups", &[]),
        ])) {
            Err(AdapterError::Rejected(m)) => assert!(m.contains("names no lines"), "{m}"),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
