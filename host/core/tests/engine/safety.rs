//! Nothing lost, nothing bypassed: event ids per order, approval held by
//! the engine, stock given back on cancel, stale platform statuses, rules
//! whose move does not happen, payments on cancelled orders, the timer
//! going on past a failing order, goods receipts woken from their record.

use statusport_core::domain::event::{Change, Event, EventKind, JobKind};
use statusport_core::domain::order::{Actor, Approval, OrderId};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::{Conflict, EngineError, Outcome, rulesets};

use super::{Fixture, status};

fn paid(reference: &str) -> EventKind {
    EventKind::PaymentMatched {
        reference: Some(reference.into()),
    }
}

fn dhl_done(id: &str) -> EventKind {
    EventKind::ShipmentAdded {
        shipment_id: id.into(),
        packages: vec![statusport_core::domain::shipment::Package {
            carrier: "dhl".into(),
            tracking_number: "00340434161094042557".into(),
            tracking_url: None,
            lines: Vec::new(),
        }],
        done: true,
    }
}

fn rules_fired(f: &Fixture, order: OrderId) -> Vec<String> {
    f.engine
        .store()
        .history(order)
        .unwrap()
        .into_iter()
        .filter(|h| !matches!(h.change, Change::Skipped { .. }))
        .filter_map(|h| h.rule)
        .collect()
}

#[tokio::test]
async fn one_event_id_on_two_orders_is_two_events() {
    let f = Fixture::with_channels();
    f.install(&["card"]);
    let a = f.order("shop", "E-1", "card").await;
    let b = f.order("woo", "123", "card").await;
    // Two shops whose webhook ids are both 123.
    let first = f.event(a.id, "123", paid("A")).await;
    let second = f.event(b.id, "123", paid("B")).await;
    assert!(matches!(first, Outcome::Applied { .. }), "{first:?}");
    assert!(matches!(second, Outcome::Applied { .. }), "{second:?}");
    assert_eq!(status(&f.get(a.id), Dimension::Payment), "paid");
    assert!(
        f.engine
            .store()
            .applied_event(b.id, "123")
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_event_id_reused_with_another_body_is_refused_naming_the_earlier_event() {
    let f = Fixture::with_channels();
    let order = f.order("shop", "E-2", "card").await;
    f.event(order.id, "evt-7", paid("PAY-1")).await;
    let again = f.event(order.id, "evt-7", paid("PAY-1")).await;
    assert_eq!(again, Outcome::Duplicate { order: order.id });
    let reused = f
        .engine
        .apply(Event::new(
            "evt-7",
            order.id,
            Actor::User("ops".into()),
            paid("PAY-2"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(reused, EngineError::Conflict(Conflict::EventReused { .. })),
        "{reused}"
    );
    let text = reused.to_string();
    assert!(
        text.contains("evt-7") && text.contains("PAY-1") && text.contains("new id"),
        "{text}"
    );
}

/// A store written by the previous layout (version 2): applied events in
/// one global namespace, goods receipts among them.
#[tokio::test]
async fn a_version_2_store_migrates_its_event_ids_to_per_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    {
        let db = sled::open(&path).unwrap();
        let data = db.open_tree("data").unwrap();
        data.insert(b"meta/version", &2u32.to_be_bytes()).unwrap();
        let applied = |order: u64| {
            serde_json::json!({"order": order, "at": "2026-11-01T10:00:00Z", "source": "user",
                "history": [0], "jobs": []})
            .to_string()
        };
        data.insert(b"e/pay-1", applied(5).as_bytes()).unwrap();
        data.insert(b"e/goods:gr-1", applied(0).as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = statusport_core::store::Store::open(&path).unwrap();
    assert_eq!(
        store.version().unwrap(),
        statusport_core::store::STORE_VERSION
    );
    let event = store.applied_event(OrderId(5), "pay-1").unwrap();
    assert_eq!(event.map(|e| e.order), Some(OrderId(5)));
    assert!(store.applied_event(OrderId(6), "pay-1").unwrap().is_none());
    // The receipt stays booked: booking it again adds nothing.
    let (_, new) = store
        .book_receipt("gr-1", "SKU-1", 5, jiff::Timestamp::now())
        .unwrap();
    assert!(!new);
    let (_, new) = store
        .book_receipt("gr-2", "SKU-1", 5, jiff::Timestamp::now())
        .unwrap();
    assert!(new);
}

/// Every event a pending order can get, then the order's state: nothing
/// but what the events themselves say.
async fn play_a_day(f: &Fixture, order: OrderId, tag: &str) {
    f.event(order, &format!("{tag}-pay"), paid("P")).await;
    f.event(order, &format!("{tag}-pick"), EventKind::Picked)
        .await;
    f.event(order, &format!("{tag}-slip"), EventKind::PackingSlipPrinted)
        .await;
    f.event(order, &format!("{tag}-ship"), dhl_done("S-1"))
        .await;
    f.event(order, &format!("{tag}-manual"), EventKind::Manual)
        .await;
    f.pass_days(30);
    f.engine.tick().await.unwrap();
}

#[tokio::test]
async fn a_pending_order_fires_no_rule_under_any_shipped_rule_set_until_approved() {
    for (set, _) in rulesets::SHIPPED {
        let f = Fixture::empty();
        f.channel("shop", "generic", &[], |c| c.requires_approval = true);
        rulesets::install(&f.engine, set).unwrap();
        for method in ["card", "bank_transfer", "cash_on_delivery"] {
            let order = f
                .order_by(
                    "shop",
                    &format!("{set}-{method}"),
                    method,
                    Actor::User("clerk".into()),
                    false,
                )
                .await;
            assert_eq!(order.approval, Approval::Pending);
            play_a_day(&f, order.id, method).await;
            let held = f.get(order.id);
            assert!(
                f.jobs_of(order.id).is_empty(),
                "{set}/{method}: jobs while pending: {:?}",
                f.jobs_of(order.id)
            );
            assert_eq!(held.invoice_number, None, "{set}/{method}");
            assert!(held.stock_taken.is_empty(), "{set}/{method}");
            assert_eq!(
                f.engine.stock("SKU-100").unwrap().quantity,
                0,
                "{set}/{method}"
            );
            assert_eq!(
                status(&held, Dimension::Payment),
                "not_paid",
                "{set}/{method}"
            );
            // Only rules about unapproved orders ran (the approval set's
            // "wait" move); nothing else changed a status.
            let fired = rules_fired(&f, order.id);
            assert!(
                fired.iter().all(|r| r == "approval-wait"),
                "{set}/{method}: rules fired while pending: {fired:?}"
            );
        }
    }
}

#[tokio::test]
async fn approval_runs_the_held_events_rules_and_rejection_drops_them() {
    let f = Fixture::empty();
    f.channel("shop", "generic", &[], |c| c.requires_approval = true);
    f.install(&["approval", "card", "cancellation"]);
    let order = f
        .order_by("shop", "H-1", "card", Actor::User("clerk".into()), false)
        .await;
    f.event(order.id, "pay", paid("P")).await;
    let pending = f.get(order.id);
    assert_eq!(status(&pending, Dimension::Order), "not_approved");
    assert!(
        pending.held.iter().any(|h| h.event == "pay"
            && h.trigger == statusport_core::domain::event::Trigger::PaymentMatched),
        "{:?}",
        pending.held
    );
    f.event(order.id, "ok", EventKind::Approved).await;
    let approved = f.get(order.id);
    assert!(approved.held.is_empty());
    assert_eq!(status(&approved, Dimension::Payment), "paid");
    assert_eq!(status(&approved, Dimension::Order), "processing");
    assert!(approved.invoice_number.is_some());
    assert_eq!(f.engine.stock("SKU-100").unwrap().quantity, -2);
    assert!(f.jobs_of(order.id).contains(&JobKind::Email {
        template: "payment-received".into()
    }));

    let rejected = f
        .order_by("shop", "H-2", "card", Actor::User("clerk".into()), false)
        .await;
    f.event(rejected.id, "pay", paid("Q")).await;
    f.event(rejected.id, "no", EventKind::Rejected).await;
    f.event(rejected.id, "pay-again", paid("R")).await;
    let rejected = f.get(rejected.id);
    assert_eq!(status(&rejected, Dimension::Order), "rejected");
    assert_eq!(status(&rejected, Dimension::Payment), "not_paid");
    assert_eq!(rejected.invoice_number, None);
    assert!(rejected.held.is_empty());
    assert_eq!(
        f.jobs_of(rejected.id),
        vec![JobKind::Email {
            template: "order-rejected".into()
        }]
    );
}

#[tokio::test]
async fn a_bulk_rule_is_refused_for_a_pending_order() {
    let f = Fixture::empty();
    f.channel("shop", "generic", &[], |c| c.requires_approval = true);
    f.install(&["approval"]);
    let order = f
        .order_by("shop", "H-3", "card", Actor::User("clerk".into()), false)
        .await;
    let rule = f
        .engine
        .rules()
        .iter()
        .find(|r| r.id == "approval-approved")
        .cloned()
        .unwrap();
    let mut forced = rule.clone();
    forced.id = "forced".into();
    forced.on = vec![statusport_core::domain::event::Trigger::Manual];
    f.engine.save_rule(forced).unwrap();
    f.event(order.id, "manual", EventKind::Manual).await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "not_approved");
}

#[tokio::test]
async fn cancelling_gives_the_stock_back_once() {
    let f = Fixture::with_channels();
    f.install(&["card"]);
    let order = f.order("shop", "S-1", "card").await;
    f.event(order.id, "pay", paid("P")).await;
    assert_eq!(f.engine.stock("SKU-100").unwrap().quantity, -2);
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, -1);
    f.event(order.id, "cancel", EventKind::Cancel { notify: false })
        .await;
    assert_eq!(f.engine.stock("SKU-100").unwrap().quantity, 0);
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, 0);
    let cancelled = f.get(order.id);
    assert!(cancelled.stock_taken.is_empty());
    let history = f.engine.store().history(order.id).unwrap();
    let back: Vec<(String, i64)> = history
        .iter()
        .filter(|h| h.event == "cancel")
        .filter_map(|h| match &h.change {
            Change::Stock { article, delta } => Some((article.clone(), *delta)),
            _ => None,
        })
        .collect();
    assert_eq!(
        back,
        vec![("SKU-100".to_owned(), 2), ("SKU-200".to_owned(), 1)]
    );
    // Cancelling again gives nothing back twice.
    f.event(order.id, "cancel-2", EventKind::Cancel { notify: false })
        .await;
    assert_eq!(f.engine.stock("SKU-100").unwrap().quantity, 0);
    // Neither does an order whose stock was never taken.
    let fresh = f.order("shop", "S-2", "card").await;
    f.event(fresh.id, "cancel", EventKind::Cancel { notify: false })
        .await;
    assert_eq!(f.engine.stock("SKU-100").unwrap().quantity, 0);
}

fn platform_status(order: OrderId, id: &str, to: &str, at: &str) -> Event {
    Event {
        id: id.into(),
        order,
        actor: Actor::Platform("sw".try_into().unwrap()),
        kind: EventKind::SetStatus {
            dimension: Dimension::Order,
            to: to.into(),
        },
        occurred_at: Some(at.parse().unwrap()),
    }
}

#[tokio::test]
async fn a_late_platform_status_is_recorded_as_stale_and_changes_nothing() {
    let f = Fixture::with_channels();
    let order = f.order("sw", "SW-1", "card").await;
    // Delivered out of order: the shop's "in progress" of 10:07 arrives
    // after its "completed" of 10:10.
    f.engine
        .apply(platform_status(
            order.id,
            "w-1",
            "in_progress",
            "2026-12-01T10:05:00Z",
        ))
        .await
        .unwrap();
    f.engine
        .apply(platform_status(
            order.id,
            "w-3",
            "completed",
            "2026-12-01T10:10:00Z",
        ))
        .await
        .unwrap();
    let late = f
        .engine
        .apply(platform_status(
            order.id,
            "w-2",
            "in_progress",
            "2026-12-01T10:07:00Z",
        ))
        .await
        .unwrap();
    let Outcome::Applied { history, .. } = late else {
        panic!("{late:?}")
    };
    assert!(
        matches!(&history[..], [h] if matches!(&h.change, Change::Stale { status, .. } if status == "in_progress")),
        "{history:?}"
    );
    assert_eq!(status(&f.get(order.id), Dimension::Order), "completed");
    // A newer one still moves it.
    f.engine
        .apply(platform_status(
            order.id,
            "w-4",
            "open",
            "2026-12-01T10:20:00Z",
        ))
        .await
        .ok();
    assert_ne!(status(&f.get(order.id), Dimension::Order), "in_progress");
}

#[tokio::test]
async fn a_rule_whose_move_cannot_happen_takes_none_of_its_actions() {
    let f = Fixture::with_channels();
    f.install(&["card", "cancellation"]);
    let order = f.order("shop", "M-1", "card").await;
    f.event(order.id, "cancel", EventKind::Cancel { notify: true })
        .await;
    let before = f.jobs_of(order.id).len();
    f.event(order.id, "late-pay", paid("LATE")).await;
    let after = f.get(order.id);
    // The payment is recorded and a refund is due; no invoice, no mail, no
    // webhook, no cancelled → cancelled push.
    assert_eq!(status(&after, Dimension::Payment), "paid");
    assert_eq!(status(&after, Dimension::Order), "cancelled");
    assert!(after.refund_due);
    assert_eq!(after.invoice_number, None);
    let jobs = f.jobs_of(order.id);
    assert_eq!(jobs.len(), before, "{jobs:?}");
    assert!(
        !jobs
            .iter()
            .any(|j| matches!(j, JobKind::PushStatus { from: Some(f), to, .. } if f == to))
    );
    // The order is in the list of refunds due, until an operator settles it.
    let listed: Vec<OrderId> = f
        .engine
        .store()
        .newest_under(
            statusport_core::store::keys::REFUND_DUE,
            &Default::default(),
        )
        .map(|e| e.unwrap().1)
        .collect();
    assert_eq!(listed, vec![order.id]);
    f.event(
        order.id,
        "refunded",
        EventKind::RefundSettled {
            reference: Some("RF-1".into()),
        },
    )
    .await;
    assert!(!f.get(order.id).refund_due);
    assert_eq!(
        f.engine
            .store()
            .newest_under(
                statusport_core::store::keys::REFUND_DUE,
                &Default::default()
            )
            .count(),
        0
    );
}

#[tokio::test]
async fn a_status_set_by_hand_is_pushed_unless_the_channel_says_not() {
    let f = Fixture::with_channels();
    f.channel(
        "quiet",
        "woocommerce",
        &[("consumer-key", "ck"), ("consumer-secret", "cs")],
        |c| c.push_manual_changes = false,
    );
    let order = f.order("woo", "W-1", "card").await;
    f.event(
        order.id,
        "hand",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "processing".into(),
        },
    )
    .await;
    assert_eq!(
        f.jobs_of(order.id),
        vec![JobKind::PushStatus {
            dimension: Dimension::Order,
            from: Some("pending".into()),
            to: "processing".into()
        }]
    );
    let quiet = f.order("quiet", "W-2", "card").await;
    f.event(
        quiet.id,
        "hand",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "processing".into(),
        },
    )
    .await;
    assert!(f.jobs_of(quiet.id).is_empty());
}

#[tokio::test]
async fn goods_received_wakes_each_order_once_from_the_receipt_record() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(super::support::IN_STOCK_RULE)
        .unwrap();
    let a = f.order("shop", "G-1", "card").await;
    let b = f.order("shop", "G-2", "card").await;
    // A crash after the booking: the receipt is booked with its wake-up
    // note, and no order was woken yet.
    let (_, new) = f
        .engine
        .store()
        .book_receipt("gr-9", "SKU-200", 5, f.engine.now())
        .unwrap();
    assert!(new);
    assert_eq!(status(&f.get(a.id), Dimension::Order), "received");
    // The next start (or tick) wakes them from the note, and only once.
    assert_eq!(f.engine.resume_wakes().await.unwrap(), 1);
    assert_eq!(f.engine.resume_wakes().await.unwrap(), 0);
    for id in [a.id, b.id] {
        assert_eq!(status(&f.get(id), Dimension::Order), "processing");
        let woken = f
            .engine
            .store()
            .history(id)
            .unwrap()
            .into_iter()
            .filter(|h| {
                h.event == "goods:gr-9"
                    && matches!(&h.change, Change::Field { field, .. } if field == "goods_received")
            })
            .count();
        assert_eq!(woken, 1);
    }
    // The client's retry with the same receipt id books nothing more.
    assert!(
        f.engine
            .goods_received("SKU-200", 5, "gr-9")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, 5);
    // The same id for another receipt is refused.
    let err = f
        .engine
        .goods_received("SKU-200", 7, "gr-9")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("gr-9"), "{err}");
}

#[tokio::test]
async fn one_failing_order_does_not_stop_the_timer_for_the_others() {
    let f = Fixture::with_channels();
    // A loop for orders over 50 EUR only: their time_passed event fails.
    f.engine
        .import_rules(super::support::LOOP_FOR_LARGE_ORDERS)
        .unwrap();
    let bad = f.order("shop", "T-1", "card").await;
    let mut small = super::new_order("shop", "T-2", "card");
    small.lines.truncate(1);
    let (good, _) = f
        .engine
        .create_order(small, Actor::User("ops".into()), true)
        .await
        .unwrap();
    assert!(bad.id < good.id);
    let tick = f.engine.tick().await.unwrap();
    assert_eq!(tick.failed.len(), 1, "{tick:?}");
    assert_eq!(tick.failed[0].0, bad.id);
    assert_eq!(tick.applied, 1);
    assert_eq!(status(&f.get(good.id), Dimension::Order), "payment_waiting");
}

/// A store written by the previous layout (version 3): customers in one
/// namespace for every channel. Built here from a current store by moving
/// its keys back to the old layout.
#[tokio::test]
async fn a_version_3_store_migrates_its_customers_to_their_channels() {
    let f = Fixture::with_channels();
    let ada = statusport_core::domain::order::Customer {
        id: "cust-1".into(),
        channel: None,
        name: "Ada".into(),
        email: Some("ada@example.com".into()),
        phone: None,
        address: Vec::new(),
    };
    let lonely = statusport_core::domain::order::Customer {
        id: "cust-9".into(),
        name: "Nobody's".into(),
        ..ada.clone()
    };
    let order = f.order("woo", "M-1", "card").await;
    assert_eq!(order.customer, "cust-1");
    let path = f.dir.clone();
    drop(f.engine);
    {
        let db = sled::open(&path).unwrap();
        let data = db.open_tree("data").unwrap();
        let old = |c: &statusport_core::domain::order::Customer| {
            let mut key = b"cu/".to_vec();
            key.extend_from_slice(c.id.as_bytes());
            (key, serde_json::to_vec(c).unwrap())
        };
        for c in [&ada, &lonely] {
            let (k, v) = old(c);
            data.insert(k, v).unwrap();
        }
        // The customer index without its channel.
        let prefix = statusport_core::store::keys::customer_prefix("woo", "cust-1");
        for kv in data.scan_prefix(&prefix) {
            let (k, v) = kv.unwrap();
            let mut old = b"co/cust-1\0".to_vec();
            old.extend_from_slice(&k[prefix.len()..]);
            data.remove(&k).unwrap();
            data.insert(old, v).unwrap();
        }
        data.insert(b"meta/version", &3u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = statusport_core::store::Store::open(&path).unwrap();
    assert_eq!(
        store.version().unwrap(),
        statusport_core::store::STORE_VERSION
    );
    // The customer of woo's order belongs to woo alone; one no order names
    // is kept for every channel, so the shop that knows it finds it.
    let channels: Vec<String> = store
        .customer_channels("cust-1")
        .unwrap()
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(channels, vec!["woo"]);
    assert_eq!(
        store.customer("woo", "cust-1").unwrap().unwrap().email,
        ada.email
    );
    assert_eq!(store.customer_channels("cust-9").unwrap().len(), 3);
    assert_eq!(
        store.orders_of_customer("woo", "cust-1").unwrap(),
        vec![order.id]
    );
    assert_eq!(store.index_problems().unwrap(), Vec::<String>::new());
}
