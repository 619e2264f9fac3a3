//! `generic`: the status list for orders that belong to no platform. It has
//! no network and nothing to push: a push or upload succeeds as a no-op so
//! that shared rules work for platform-less orders too.

use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Guest, PlatformInfo, Shipment, carriers, export,
    receipt, status,
};

struct Generic;

const ORDER: &[(&str, &str)] = &[
    ("not_approved", "Not approved"),
    ("approved", "Approved"),
    ("received", "Received"),
    ("processing", "Processing"),
    ("produced", "Produced"),
    ("delivered", "Delivered"),
    ("invoiced", "Invoiced"),
    ("archived", "Archived"),
    ("cancelled", "Cancelled"),
    ("error", "Error"),
    ("rejected", "Rejected"),
    ("payment_failed", "Payment failed"),
    ("payment_waiting", "Payment waiting"),
    ("reminder_1", "Reminder 1"),
    ("reminder_2", "Reminder 2"),
];

const PAYMENT: &[(&str, &str)] = &[
    ("not_paid", "Not paid"),
    ("payment_announced", "Payment announced"),
    ("paid", "Paid"),
];

fn known(dimension: Dimension, code: &str) -> bool {
    let list = match dimension {
        Dimension::Order => ORDER,
        Dimension::Payment => PAYMENT,
        Dimension::Delivery => &[],
    };
    list.iter().any(|(c, _)| *c == code)
}

impl Guest for Generic {
    fn describe() -> PlatformInfo {
        let order = ORDER.iter().map(|(code, label)| {
            let s = status(Dimension::Order, code, label);
            match *code {
                "received" => s.initial(),
                "archived" | "cancelled" => s.terminal(),
                _ => s,
            }
        });
        let payment = PAYMENT.iter().map(|(code, label)| {
            let s = status(Dimension::Payment, code, label);
            if *code == "not_paid" { s.initial() } else { s }
        });
        PlatformInfo {
            id: "generic".into(),
            name: "Generic (no platform)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            statuses: order.chain(payment).collect(),
            transitions: Vec::new(),
            carriers: carriers::CANONICAL
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            config: Vec::new(),
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
        if !known(dimension, &to) {
            return Err(AdapterError::Rejected(format!(
                "\"{to}\" is not a {} status of the generic plugin",
                dimension.as_str()
            )));
        }
        Ok(receipt(
            None,
            format!(
                "order {platform_order_id} has no platform: {} status {to} kept locally",
                dimension.as_str()
            ),
        ))
    }

    fn upload_shipment(shipment: Shipment, _idempotency_key: String) -> AdapterResult {
        Ok(receipt(
            None,
            format!(
                "order {} has no platform: shipment {} with {} package(s) kept locally",
                shipment.platform_order_id,
                shipment.id,
                shipment.packages.len()
            ),
        ))
    }
}

export!(Generic);
