//! The teapot shop the outbox tests, its crash worker and its benchmark
//! share: a WooCommerce channel, an order of one teapot, a done shipment;
//! and the looping rules the API's tests share with the core's.

use std::collections::BTreeMap;

use statusport_core::domain::event::EventKind;
use statusport_core::domain::order::{Channel, Line};
use statusport_core::domain::shipment::Package;
use statusport_core::engine::NewOrder;

/// A channel `id` spoken to through `plugin`, with `config`.
pub fn channel(id: &str, plugin: &str, base_url: Option<&str>, config: &[(&str, &str)]) -> Channel {
    Channel {
        id: id.try_into().expect("a valid id"),
        name: format!("Channel {id}"),
        plugin: plugin.into(),
        base_url: base_url.map(str::to_owned),
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        grants: Vec::new(),
        invoice_numbering: true,
        requires_approval: false,
        push_manual_changes: true,
        concurrency: None,
        rate_per_second: None,
        poll_interval_secs: None,
    }
}

/// Channel `woo` on a (fake) WooCommerce at `base_url`, with the fake's
/// credentials.
pub fn woo_channel(base_url: &str, concurrency: Option<u32>) -> Channel {
    Channel {
        name: "Teapot Shop".into(),
        concurrency,
        ..channel(
            "woo",
            "woocommerce",
            Some(base_url),
            &[("consumer-key", "ck_test"), ("consumer-secret", "cs_test")],
        )
    }
}

/// One teapot for customer `c-1`, paid by card.
pub fn teapot_order(channel: &str, platform_order_id: &str) -> NewOrder {
    NewOrder {
        channel: channel.into(),
        platform_order_id: platform_order_id.into(),
        customer: "c-1".into(),
        lines: vec![Line {
            line_id: "1".into(),
            article: "A-100".into(),
            name: "Teapot".into(),
            quantity: 1,
            delivered: 0,
            unit_price: "119.00 EUR".parse().expect("a valid amount"),
        }],
        currency: "EUR".into(),
        shipping: None,
        payment_method: "card".into(),
        expected_delivery: None,
        statuses: BTreeMap::new(),
    }
}

/// A done shipment `s-<tracking>` with one DHL parcel and its tracking link.
pub fn dhl_shipment(tracking: &str) -> EventKind {
    EventKind::ShipmentAdded {
        shipment_id: format!("s-{tracking}"),
        packages: vec![Package {
            carrier: "dhl".into(),
            tracking_number: tracking.into(),
            tracking_url: Some(format!("https://www.dhl.de/track?piececode={tracking}")),
            lines: Vec::new(),
        }],
        done: true,
    }
}

/// The rule the outbox tests ship with: a done tracked shipment uploads
/// the shipment, completes the order on the shop, and mails the customer.
pub const SHIP_RULE: &str = r#"
[[rule]]
id = "ship"
channels = ["woo"]
on = ["shipment_done"]
when = { tracked_shipment_done = true }
to = "order:completed"
then = { upload_shipments = true, push_status = true, email = "shipped" }
"#;

/// Rules that loop for generic orders over 50 EUR only: their timer event
/// fails, the others' does not. The core's engine tests read the same file.
pub const LOOP_FOR_LARGE_ORDERS: &str =
    include_str!("../../host/core/tests/rules/loop-for-large-orders.toml");
