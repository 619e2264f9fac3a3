//! A rule's conditions and its scope: each one lets the rule fire where it
//! holds and only there. The orders are the fixture's: two mugs at
//! 12.50 EUR, a teapot at 30.00 EUR and 4.90 EUR shipping, 59.90 EUR in all.

use statusport_core::domain::event::{Change, EventKind, HistoryEntry, JobKind};
use statusport_core::domain::money::Money;
use statusport_core::domain::order::{Actor, Order, OrderId};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::NewOrder;

use super::{Fixture, eur, new_order, status};

/// Creates an order on `channel` from the fixture's, changed by `edit`.
async fn order_with(
    f: &Fixture,
    channel: &str,
    platform_id: &str,
    edit: impl FnOnce(&mut NewOrder),
) -> Order {
    let mut new = new_order(channel, platform_id, "invoice");
    edit(&mut new);
    let (order, created) = f
        .engine
        .create_order(new, Actor::User("ops".into()), true)
        .await
        .expect("the order is created");
    assert!(created, "order {platform_id} was new");
    order
}

/// The history entries that rule `rule` wrote for `order`.
fn entries_of(f: &Fixture, order: OrderId, rule: &str) -> Vec<HistoryEntry> {
    f.engine
        .store()
        .history(order)
        .unwrap()
        .into_iter()
        .filter(|h| h.rule.as_deref() == Some(rule))
        .collect()
}

fn webhook(event: &str) -> JobKind {
    JobKind::Webhook {
        event: event.into(),
    }
}

#[tokio::test]
async fn total_compares_the_order_total_with_the_amount_in_its_currency() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "big-order"
platform = "generic"
on = ["order_created"]
when = { total = ">= 59.90 EUR" }
to = "order:processing"
then = { webhook = "order.big" }
"#,
        )
        .unwrap();
    let exact = f.order("shop", "T-1", "invoice").await;
    assert_eq!(exact.total(), Some(eur("59.90 EUR")));
    assert_eq!(status(&exact, Dimension::Order), "processing");
    assert_eq!(f.jobs_of(exact.id), vec![webhook("order.big")]);
    assert!(matches!(
        &entries_of(&f, exact.id, "big-order")[..],
        [HistoryEntry { change: Change::Status { after, .. }, .. }] if after == "processing"
    ));

    // One cent less: the rule does not fire.
    let below = order_with(&f, "shop", "T-2", |o| {
        o.shipping = Some(eur("4.89 EUR"));
    })
    .await;
    assert_eq!(below.total(), Some(eur("59.89 EUR")));
    assert_eq!(status(&below, Dimension::Order), "received");
    assert!(f.jobs_of(below.id).is_empty());
    assert!(entries_of(&f, below.id, "big-order").is_empty());

    // A larger amount in another currency is not compared with euros.
    let francs = order_with(&f, "shop", "T-3", |o| {
        o.currency = "CHF".into();
        for line in &mut o.lines {
            line.unit_price = Money::new(line.unit_price.minor, "CHF".parse().unwrap());
        }
        o.shipping = Some("500.00 CHF".parse().unwrap());
    })
    .await;
    assert!(francs.total().unwrap().minor > 5990);
    assert_eq!(status(&francs, Dimension::Order), "received");
    assert!(f.jobs_of(francs.id).is_empty());
}

#[tokio::test]
async fn channel_lets_a_platform_rule_fire_on_the_channels_named_only() {
    let f = Fixture::with_channels();
    f.channel("outlet", "generic", &[], |_| {});
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "shop-only"
platform = "generic"
on = ["payment_matched"]
when = { channel = ["shop"] }
to = "order:processing"
"#,
        )
        .unwrap();
    let in_shop = f.order("shop", "C-1", "invoice").await;
    let in_outlet = f.order("outlet", "C-1", "invoice").await;
    for order in [&in_shop, &in_outlet] {
        f.event(
            order.id,
            &format!("pay-{}", order.id),
            EventKind::PaymentMatched { reference: None },
        )
        .await;
    }
    assert_eq!(status(&f.get(in_shop.id), Dimension::Order), "processing");
    assert_eq!(entries_of(&f, in_shop.id, "shop-only").len(), 1);
    assert_eq!(status(&f.get(in_outlet.id), Dimension::Order), "received");
    assert!(entries_of(&f, in_outlet.id, "shop-only").is_empty());
}

#[tokio::test]
async fn a_rule_does_not_fire_on_a_channel_it_does_not_cover() {
    let f = Fixture::with_channels();
    f.channel("outlet", "generic", &[], |_| {});
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "shop-picked"
channels = ["shop"]
on = ["picked"]
to = "order:processing"
then = { webhook = "order.picked" }

[[rule]]
id = "generic-picked"
platform = "generic"
on = ["picked"]
then = { webhook = "generic.picked" }
"#,
        )
        .unwrap();
    let in_shop = f.order("shop", "P-1", "invoice").await;
    // Same plugin, another channel: only the platform-wide rule.
    let in_outlet = f.order("outlet", "P-1", "invoice").await;
    // Another plugin: neither.
    let in_woo = f.order("woo", "P-1", "invoice").await;
    for order in [&in_shop, &in_outlet, &in_woo] {
        f.event(order.id, &format!("picked-{}", order.id), EventKind::Picked)
            .await;
        assert!(f.get(order.id).picked, "the event's own change applies");
    }

    assert_eq!(status(&f.get(in_shop.id), Dimension::Order), "processing");
    assert_eq!(
        f.jobs_of(in_shop.id),
        vec![webhook("generic.picked"), webhook("order.picked")]
    );
    assert_eq!(status(&f.get(in_outlet.id), Dimension::Order), "received");
    assert_eq!(f.jobs_of(in_outlet.id), vec![webhook("generic.picked")]);
    assert!(entries_of(&f, in_outlet.id, "shop-picked").is_empty());
    assert_eq!(status(&f.get(in_woo.id), Dimension::Order), "pending");
    assert!(f.jobs_of(in_woo.id).is_empty());
    let woo_history = f.engine.store().history(in_woo.id).unwrap();
    assert!(
        woo_history.iter().all(|h| h.rule.is_none()),
        "{woo_history:?}"
    );
}

#[tokio::test]
async fn all_lines_delivered_tells_a_partial_delivery_from_a_full_one() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "fully-delivered"
platform = "generic"
on = ["delivered_quantity_changed"]
when = { all_lines_delivered = true }
to = "order:delivered"
then = { webhook = "order.delivered" }

[[rule]]
id = "partly-delivered"
platform = "generic"
on = ["delivered_quantity_changed"]
from = ["order:received"]
when = { all_lines_delivered = false }
to = "order:processing"
"#,
        )
        .unwrap();
    let order = f.order("shop", "D-1", "invoice").await;
    let deliver = |line: &str, delivered: u32| EventKind::DeliveredQuantity {
        line_id: line.into(),
        delivered,
    };

    // Both mugs, not the teapot: partly delivered.
    f.event(order.id, "delivered-1", deliver("1", 2)).await;
    let partly = f.get(order.id);
    assert!(!partly.all_lines_delivered());
    assert_eq!(status(&partly, Dimension::Order), "processing");
    assert_eq!(entries_of(&f, order.id, "partly-delivered").len(), 1);
    assert!(entries_of(&f, order.id, "fully-delivered").is_empty());
    assert!(f.jobs_of(order.id).is_empty());

    // The teapot too: every line in full.
    f.event(order.id, "delivered-2", deliver("2", 1)).await;
    let full = f.get(order.id);
    assert!(full.all_lines_delivered());
    assert_eq!(status(&full, Dimension::Order), "delivered");
    assert_eq!(entries_of(&f, order.id, "fully-delivered").len(), 1);
    assert_eq!(entries_of(&f, order.id, "partly-delivered").len(), 1);
    assert_eq!(f.jobs_of(order.id), vec![webhook("order.delivered")]);
}

#[tokio::test]
async fn an_expression_fires_the_rule_where_it_evaluates_true_only() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "several-lines"
platform = "generic"
on = ["order_created"]
when = { expression = "order.lines.size() > 1 && order.total_minor >= 5000 && order.statuses.payment == 'not_paid'" }
to = "order:processing"
then = { webhook = "order.several" }
"#,
        )
        .unwrap();
    let two_lines = f.order("shop", "E-1", "invoice").await;
    assert_eq!(status(&two_lines, Dimension::Order), "processing");
    assert_eq!(f.jobs_of(two_lines.id), vec![webhook("order.several")]);

    let one_line = order_with(&f, "shop", "E-2", |o| {
        o.lines.truncate(1);
    })
    .await;
    assert_eq!(status(&one_line, Dimension::Order), "received");
    assert!(f.jobs_of(one_line.id).is_empty());
    assert!(
        entries_of(&f, one_line.id, "several-lines").is_empty(),
        "false is not a failure: nothing is recorded"
    );
}

#[tokio::test]
async fn an_expression_failing_at_run_time_is_recorded_and_the_rule_skipped() {
    let f = Fixture::with_channels();
    // The generic plugin has no delivery dimension: the key is missing when
    // the expression runs, though it compiles when the rule is saved.
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "shipped-by-shop"
platform = "generic"
on = ["picked"]
when = { expression = "order.statuses.delivery == 'shipped'" }
to = "order:delivered"
then = { webhook = "order.shipped" }

[[rule]]
id = "picked-moves-on"
platform = "generic"
on = ["picked"]
from = ["order:received"]
to = "order:processing"
"#,
        )
        .unwrap();
    let order = f.order("shop", "F-1", "invoice").await;
    f.event(order.id, "picked-1", EventKind::Picked).await;

    let after = f.get(order.id);
    assert_eq!(
        status(&after, Dimension::Order),
        "processing",
        "the failing rule does not fire; the others do"
    );
    assert!(!f.jobs_of(order.id).contains(&webhook("order.shipped")));
    let failed = entries_of(&f, order.id, "shipped-by-shop");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].event, "picked-1");
    assert_eq!(failed[0].actor, Actor::Rule("shipped-by-shop".into()));
    match &failed[0].change {
        Change::Skipped { action, reason } => {
            assert_eq!(action, "rule");
            assert!(
                reason.contains("order.statuses.delivery == 'shipped'"),
                "the reason names the expression: {reason}"
            );
        }
        other => panic!("expected a skipped rule, got {other:?}"),
    }
}
