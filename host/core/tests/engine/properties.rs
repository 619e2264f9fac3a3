//! Properties over random event sequences.

use proptest::prelude::*;
use statusport_core::domain::event::{Event, EventKind};
use statusport_core::domain::order::Actor;
use statusport_core::domain::platform::Dimension;

use super::Fixture;

#[derive(Clone, Debug)]
enum Step {
    Move { order: usize, to: usize },
    Pay { order: usize },
    Pick { order: usize },
    Ship { order: usize, done: bool },
    Rollback { order: usize },
    Repeat { order: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..4usize, 0..8usize).prop_map(|(order, to)| Step::Move { order, to }),
        (0..4usize).prop_map(|order| Step::Pay { order }),
        (0..4usize).prop_map(|order| Step::Pick { order }),
        (0..4usize, any::<bool>()).prop_map(|(order, done)| Step::Ship { order, done }),
        (0..4usize).prop_map(|order| Step::Rollback { order }),
        (0..4usize).prop_map(|order| Step::Repeat { order }),
    ]
}

const WOO: &[&str] = &[
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];
const GENERIC: &[&str] = &[
    "received",
    "processing",
    "produced",
    "delivered",
    "invoiced",
    "archived",
    "cancelled",
    "payment_waiting",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn indexes_match_the_orders_after_any_event_sequence(steps in prop::collection::vec(step(), 1..40)) {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        tokio.block_on(async {
            let f = Fixture::with_channels();
            f.install(&["card", "cash-on-delivery", "shipping"]);
            let mut orders = Vec::new();
            for i in 0..4 {
                let (channel, payment) = if i % 2 == 0 { ("woo", "card") } else { ("shop", "cash_on_delivery") };
                orders.push((f.order(channel, &format!("P-{i}"), payment).await.id, channel));
            }
            let mut last_event: Vec<Option<(String, EventKind)>> = vec![None; 4];
            for (n, s) in steps.iter().enumerate() {
                let id = format!("ev-{n}");
                let (order, kind) = match s.clone() {
                    Step::Move { order, to } => {
                        let list = if orders[order].1 == "woo" { WOO } else { GENERIC };
                        (order, EventKind::SetStatus { dimension: Dimension::Order, to: list[to].into() })
                    }
                    Step::Pay { order } => (order, EventKind::PaymentMatched { reference: None }),
                    Step::Pick { order } => (order, EventKind::Picked),
                    Step::Ship { order, done } => (order, EventKind::ShipmentAdded {
                        shipment_id: format!("sh-{n}"),
                        packages: vec![statusport_core::domain::shipment::Package {
                            carrier: "dhl".into(),
                            tracking_number: format!("T{n}"),
                            tracking_url: None,
                            lines: vec![],
                        }],
                        done,
                    }),
                    Step::Rollback { order } => {
                        let _ = f.engine.rollback(orders[order].0, Dimension::Order, Actor::System, false).await;
                        continue;
                    }
                    Step::Repeat { order } => {
                        let Some((previous, kind)) = last_event[order].clone() else { continue };
                        let before = f.get(orders[order].0);
                        // The same delivery again; another body under the
                        // id would be refused.
                        let outcome = f.engine.apply(Event::new(previous, orders[order].0, Actor::User("p".into()), kind)).await.unwrap();
                        let duplicate = matches!(outcome, statusport_core::engine::Outcome::Duplicate { .. });
                        prop_assert!(duplicate, "a repeated event id is a duplicate");
                        prop_assert_eq!(f.get(orders[order].0).version, before.version);
                        continue;
                    }
                };
                // Refusals (a terminal status, a disallowed move) are part of
                // the sequence: they must leave nothing behind either.
                if f.engine.apply(Event::new(id.clone(), orders[order].0, Actor::User("p".into()), kind.clone())).await.is_ok() {
                    last_event[order] = Some((id, kind));
                }
            }
            let problems = f.engine.store().index_problems().unwrap();
            prop_assert!(problems.is_empty(), "{:?}", problems);
            for (id, channel) in &orders {
                let order = f.get(*id);
                let code = order.status(Dimension::Order).unwrap();
                let listed = f.engine.store().orders_in_status(channel, Dimension::Order, code).unwrap();
                prop_assert!(listed.contains(id));
                prop_assert_eq!(order.history_len as usize, f.engine.store().history(*id).unwrap().len());
            }
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Orders created and paid from many tasks at once, with any start
    /// numbers and prefixes: both sequences are gap-free and unique.
    #[test]
    fn number_sequences_are_gap_free_and_unique_under_concurrency(
        orders in 1usize..60,
        paid_every in 1usize..4,
        order_start in 1u64..1_000_000,
        invoice_start in 1u64..1_000_000,
        prefix in "[A-Z]{0,3}",
    ) {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        tokio.block_on(async {
            let f = std::sync::Arc::new(Fixture::with_channels());
            f.install(&["card"]);
            f.engine
                .store()
                .set_numbering(&statusport_core::store::Numbering {
                    order_start,
                    order_prefix: prefix.clone(),
                    invoice_start,
                    invoice_prefix: format!("{prefix}INV-"),
                })
                .unwrap();
            let mut tasks = Vec::new();
            for i in 0..orders {
                let f = f.clone();
                tasks.push(tokio::spawn(async move {
                    let order = f.order("shop", &format!("N-{i}"), "card").await;
                    if i % paid_every == 0 {
                        f.event(order.id, &format!("pay-{i}"), EventKind::PaymentMatched { reference: None })
                            .await;
                    }
                    f.get(order.id)
                }));
            }
            let mut numbers = Vec::new();
            let mut invoices = Vec::new();
            for task in tasks {
                let order = task.await.unwrap();
                numbers.push(order.number.strip_prefix(prefix.as_str()).unwrap().parse::<u64>().unwrap());
                if let Some(invoice) = order.invoice_number {
                    let tail = invoice.strip_prefix(&format!("{prefix}INV-")).unwrap().to_owned();
                    invoices.push(tail.parse::<u64>().unwrap());
                }
            }
            numbers.sort_unstable();
            invoices.sort_unstable();
            let paid = orders.div_ceil(paid_every) as u64;
            prop_assert_eq!(numbers, (order_start..order_start + orders as u64).collect::<Vec<_>>());
            prop_assert_eq!(invoices, (invoice_start..invoice_start + paid).collect::<Vec<_>>());
            Ok(())
        })?;
    }
}
