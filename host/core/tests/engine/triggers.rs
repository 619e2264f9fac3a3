//! The triggers an ERP such as Mamut sends: packing slip printed, delivery
//! number entered, delivered quantity, expected delivery date. Each fires
//! the rule that listens for it, and only that rule.

use statusport_core::domain::event::{Change, EventKind, JobKind};
use statusport_core::domain::order::Actor;
use statusport_core::domain::platform::Dimension;

use super::{Fixture, status};

/// One rule per trigger, each moving a received order to processing and
/// emitting a webhook named after its trigger.
const RULES: &str = r#"
[[rule]]
id = "on-packing-slip"
platform = "generic"
on = ["packing_slip_printed"]
from = ["order:received"]
to = "order:processing"
then = { webhook = "packing_slip_printed" }

[[rule]]
id = "on-delivery-number"
platform = "generic"
on = ["delivery_number_entered"]
from = ["order:received"]
to = "order:processing"
then = { webhook = "delivery_number_entered" }

[[rule]]
id = "on-delivered-quantity"
platform = "generic"
on = ["delivered_quantity_changed"]
from = ["order:received"]
to = "order:processing"
then = { webhook = "delivered_quantity_changed" }

[[rule]]
id = "on-expected-delivery"
platform = "generic"
on = ["expected_delivery_date_changed"]
from = ["order:received"]
to = "order:processing"
then = { webhook = "expected_delivery_date_changed" }
"#;

#[tokio::test]
async fn each_mamut_trigger_fires_its_rule() {
    let f = Fixture::with_channels();
    f.engine.import_rules(RULES).unwrap();
    let cases = [
        (
            "on-packing-slip",
            "packing_slip_printed",
            EventKind::PackingSlipPrinted,
            "packing_slip_printed",
            "true",
        ),
        (
            "on-delivery-number",
            "delivery_number_entered",
            EventKind::DeliveryNumberEntered {
                number: "LS-4711".into(),
            },
            "delivery_number",
            "LS-4711",
        ),
        (
            "on-delivered-quantity",
            "delivered_quantity_changed",
            EventKind::DeliveredQuantity {
                line_id: "1".into(),
                delivered: 1,
            },
            "lines[1].delivered",
            "1",
        ),
        (
            "on-expected-delivery",
            "expected_delivery_date_changed",
            EventKind::ExpectedDeliveryDate {
                date: jiff::civil::date(2026, 12, 24),
            },
            "expected_delivery",
            "2026-12-24",
        ),
    ];
    for (i, (rule, trigger, kind, field, value)) in cases.into_iter().enumerate() {
        let order = f.order("shop", &format!("M-{i}"), "invoice").await;
        let event = format!("mamut-{i}");
        f.event(order.id, &event, kind).await;

        let after = f.get(order.id);
        assert_eq!(
            status(&after, Dimension::Order),
            "processing",
            "{trigger} fires {rule}"
        );
        assert!(
            matches!(&after.statuses[&Dimension::Order].set_by, Actor::Rule(r) if r == rule),
            "{trigger}: set by {:?}",
            after.statuses[&Dimension::Order].set_by
        );
        assert_eq!(
            f.jobs_of(order.id),
            vec![JobKind::Webhook {
                event: trigger.into()
            }],
            "{trigger} fires {rule} and no other rule"
        );
        let history = f.engine.store().history(order.id).unwrap();
        let of_event: Vec<_> = history.iter().filter(|h| h.event == event).collect();
        assert!(
            of_event.iter().any(|h| matches!(&h.change,
                Change::Field { field: f, after: Some(a), .. } if f == field && a == value)),
            "{trigger}: the event's own change {field}={value} in {of_event:?}"
        );
        let by_rules: Vec<&str> = of_event.iter().filter_map(|h| h.rule.as_deref()).collect();
        assert_eq!(by_rules, vec![rule], "{trigger}");
    }
}

#[tokio::test]
async fn a_mamut_event_that_changes_nothing_fires_no_rule() {
    let f = Fixture::with_channels();
    f.engine.import_rules(RULES).unwrap();
    let order = f.order("shop", "M-1", "invoice").await;
    f.event(order.id, "slip-1", EventKind::PackingSlipPrinted)
        .await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "processing");
    // Back by hand; the slip printed again is no news.
    f.event(
        order.id,
        "back-1",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "received".into(),
        },
    )
    .await;
    f.event(order.id, "slip-2", EventKind::PackingSlipPrinted)
        .await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "received");
    // One webhook, from the first slip; the move back by hand is pushed.
    let webhooks = f
        .jobs_of(order.id)
        .into_iter()
        .filter(|j| matches!(j, JobKind::Webhook { .. }))
        .count();
    assert_eq!(webhooks, 1);
}

#[tokio::test]
async fn an_erp_value_sent_again_unchanged_fires_no_rule() {
    let f = Fixture::with_channels();
    f.engine.import_rules(RULES).unwrap();
    let cases = [
        EventKind::DeliveryNumberEntered {
            number: "LS-4711".into(),
        },
        EventKind::DeliveredQuantity {
            line_id: "1".into(),
            delivered: 1,
        },
        EventKind::ExpectedDeliveryDate {
            date: jiff::civil::date(2026, 12, 24),
        },
    ];
    for (i, kind) in cases.into_iter().enumerate() {
        let order = f.order("shop", &format!("R-{i}"), "invoice").await;
        f.event(order.id, &format!("erp-{i}-a"), kind.clone()).await;
        f.event(
            order.id,
            &format!("back-{i}"),
            EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "received".into(),
            },
        )
        .await;
        // The ERP sends the same value again, under a new id.
        f.event(order.id, &format!("erp-{i}-b"), kind.clone()).await;
        assert_eq!(
            status(&f.get(order.id), Dimension::Order),
            "received",
            "{kind:?}"
        );
        let webhooks = f
            .jobs_of(order.id)
            .into_iter()
            .filter(|j| matches!(j, JobKind::Webhook { .. }))
            .count();
        assert_eq!(webhooks, 1, "{kind:?}");
    }
}
