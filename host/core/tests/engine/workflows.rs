//! The shipped rule sets, each through the pipeline.

use statusport_core::domain::event::{Change, EventKind, JobKind};
use statusport_core::domain::order::{Actor, Approval};
use statusport_core::domain::platform::Dimension;
use statusport_core::domain::shipment::Package;
use statusport_core::engine::Outcome;

use super::{Fixture, status};

fn package(tracking: &str) -> Package {
    Package {
        carrier: "dhl".into(),
        tracking_number: tracking.into(),
        tracking_url: None,
        lines: Vec::new(),
    }
}

#[tokio::test]
async fn card_payment_pays_invoices_takes_stock_notifies_and_readies_to_ship() {
    let f = Fixture::with_channels();
    f.install(&["card"]);
    let order = f.order("shop", "A-1", "card").await;
    assert_eq!(status(&order, Dimension::Order), "received");
    assert_eq!(status(&order, Dimension::Payment), "not_paid");
    assert_eq!(order.number, "10000");

    f.event(
        order.id,
        "pay-1",
        EventKind::PaymentMatched { reference: None },
    )
    .await;
    let order = f.get(order.id);
    assert_eq!(status(&order, Dimension::Payment), "paid");
    assert_eq!(status(&order, Dimension::Order), "processing");
    assert_eq!(order.invoice_number.as_deref(), Some("INV-1"));
    assert_eq!(f.engine.stock("SKU-100").unwrap().quantity, -2);
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, -1);
    let jobs = f.jobs_of(order.id);
    assert!(jobs.contains(&JobKind::Email {
        template: "payment-received".into()
    }));
    assert!(jobs.contains(&JobKind::PushStatus {
        dimension: Dimension::Order,
        from: Some("received".into()),
        to: "processing".into()
    }));
    assert!(jobs.contains(&JobKind::Webhook {
        event: "order.paid".into()
    }));
    let history = f.engine.store().history(order.id).unwrap();
    let invoice = history
        .iter()
        .find_map(|h| match &h.change {
            Change::InvoiceNumber { number } => Some(number.clone()),
            _ => None,
        })
        .expect("the invoice number is in the history");
    assert_eq!(invoice, "INV-1");
    assert_eq!(
        f.engine
            .store()
            .order_by_invoice("INV-1")
            .unwrap()
            .map(|o| o.id),
        Some(order.id)
    );
}

#[tokio::test]
async fn bank_transfer_waits_for_the_money_then_ships() {
    let f = Fixture::with_channels();
    f.install(&["bank-transfer"]);
    let order = f.order("shop", "B-1", "bank_transfer").await;
    assert_eq!(status(&order, Dimension::Order), "payment_waiting");
    assert_eq!(
        f.jobs_of(order.id),
        vec![JobKind::Email {
            template: "bank-details".into()
        }]
    );
    f.event(
        order.id,
        "transfer-1",
        EventKind::PaymentMatched {
            reference: Some("SEPA-77".into()),
        },
    )
    .await;
    let order = f.get(order.id);
    assert_eq!(status(&order, Dimension::Payment), "paid");
    assert_eq!(status(&order, Dimension::Order), "processing");
    assert!(order.invoice_number.is_some());
}

#[tokio::test]
async fn cash_on_delivery_ships_first_and_is_invoiced_on_delivery() {
    let f = Fixture::with_channels();
    f.install(&["cash-on-delivery"]);
    let order = f.order("shop", "C-1", "cash_on_delivery").await;
    assert_eq!(status(&order, Dimension::Order), "processing");
    assert_eq!(order.invoice_number, None);
    f.event(
        order.id,
        "delivered-1",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "delivered".into(),
        },
    )
    .await;
    let order = f.get(order.id);
    assert_eq!(status(&order, Dimension::Payment), "paid");
    assert!(order.invoice_number.is_some());
}

#[tokio::test]
async fn an_order_ships_only_with_a_done_shipment_carrying_a_tracking_number() {
    let f = Fixture::with_channels();
    f.install(&["cash-on-delivery", "shipping"]);
    let order = f.order("shop", "S-1", "cash_on_delivery").await;

    // Not done yet: nothing moves.
    f.event(
        order.id,
        "ship-1",
        EventKind::ShipmentAdded {
            shipment_id: "sh-1".into(),
            packages: vec![package("00340434161094042557")],
            done: false,
        },
    )
    .await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "processing");

    // Done but without a tracking number: still nothing.
    f.event(
        order.id,
        "ship-2",
        EventKind::ShipmentAdded {
            shipment_id: "sh-2".into(),
            packages: vec![package("")],
            done: true,
        },
    )
    .await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "processing");

    f.event(
        order.id,
        "ship-1-done",
        EventKind::ShipmentDone {
            shipment_id: "sh-1".into(),
        },
    )
    .await;
    let order = f.get(order.id);
    assert_eq!(status(&order, Dimension::Order), "delivered");
    let jobs = f.jobs_of(order.id);
    let uploads: Vec<_> = jobs
        .iter()
        .filter(|j| matches!(j, JobKind::UploadShipment { .. }))
        .collect();
    assert_eq!(
        uploads,
        vec![&JobKind::UploadShipment {
            shipment_id: "sh-1".into()
        }],
        "only the tracked shipment goes to the platform"
    );
    assert!(jobs.contains(&JobKind::Email {
        template: "shipped".into()
    }));
    // Delivered cash on delivery: invoiced and paid in the same event.
    assert!(order.invoice_number.is_some());
}

#[tokio::test]
async fn dunning_sends_reminder_1_after_14_days_and_reminder_2_seven_days_later() {
    let f = Fixture::with_channels();
    f.install(&["bank-transfer", "dunning"]);
    let order = f.order("shop", "D-1", "bank_transfer").await;
    assert_eq!(status(&order, Dimension::Order), "payment_waiting");

    f.pass_days(13);
    assert_eq!(f.engine.tick().await.unwrap().applied, 0);
    assert_eq!(
        status(&f.get(order.id), Dimension::Order),
        "payment_waiting"
    );

    f.pass_days(1);
    assert_eq!(f.engine.tick().await.unwrap().applied, 1);
    assert_eq!(status(&f.get(order.id), Dimension::Order), "reminder_1");
    // A second run on the same day changes nothing.
    assert_eq!(f.engine.tick().await.unwrap().applied, 0);

    f.pass_days(6);
    f.engine.tick().await.unwrap();
    assert_eq!(status(&f.get(order.id), Dimension::Order), "reminder_1");
    f.pass_days(1);
    f.engine.tick().await.unwrap();
    assert_eq!(status(&f.get(order.id), Dimension::Order), "reminder_2");
    let reminders: Vec<_> = f
        .jobs_of(order.id)
        .into_iter()
        .filter(|j| matches!(j, JobKind::Email { template } if template.starts_with("reminder")))
        .collect();
    assert_eq!(reminders.len(), 2);

    // Paid at last: it moves on from reminder 2.
    f.event(
        order.id,
        "late-pay",
        EventKind::PaymentMatched { reference: None },
    )
    .await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "processing");
}

#[tokio::test]
async fn orders_of_non_approvers_wait_until_approved_or_rejected() {
    let f = Fixture::empty();
    f.channel("shop", "generic", &[], |c| c.requires_approval = true);
    f.install(&["approval", "card"]);

    let by_approver = f
        .order_by("shop", "P-0", "card", Actor::User("boss".into()), true)
        .await;
    assert_eq!(by_approver.approval, Approval::NotRequired);
    assert_eq!(status(&by_approver, Dimension::Order), "received");

    let waiting = f
        .order_by("shop", "P-1", "card", Actor::User("clerk".into()), false)
        .await;
    assert_eq!(waiting.approval, Approval::Pending);
    assert_eq!(status(&waiting, Dimension::Order), "not_approved");
    f.event(waiting.id, "approve-1", EventKind::Approved).await;
    let approved = f.get(waiting.id);
    assert_eq!(approved.approval, Approval::Approved);
    assert_eq!(status(&approved, Dimension::Order), "received");

    let refused = f
        .order_by("shop", "P-2", "card", Actor::User("clerk".into()), false)
        .await;
    f.event(refused.id, "reject-2", EventKind::Rejected).await;
    let refused = f.get(refused.id);
    assert_eq!(status(&refused, Dimension::Order), "rejected");
    assert_eq!(
        f.jobs_of(refused.id),
        vec![JobKind::Email {
            template: "order-rejected".into()
        }]
    );
}

#[tokio::test]
async fn the_same_payment_arriving_twice_is_applied_once() {
    let f = Fixture::with_channels();
    f.install(&["card"]);
    let order = f.order("shop", "T-1", "card").await;
    let first = f
        .event(
            order.id,
            "psp-8812",
            EventKind::PaymentMatched { reference: None },
        )
        .await;
    assert!(matches!(first, Outcome::Applied { .. }));
    let history_len = f.engine.store().history(order.id).unwrap().len();
    let again = f
        .event(
            order.id,
            "psp-8812",
            EventKind::PaymentMatched { reference: None },
        )
        .await;
    assert_eq!(again, Outcome::Duplicate { order: order.id });
    assert_eq!(
        f.engine.store().history(order.id).unwrap().len(),
        history_len
    );
    let mails = f
        .jobs_of(order.id)
        .into_iter()
        .filter(|j| matches!(j, JobKind::Email { .. }))
        .count();
    assert_eq!(mails, 1);
}

#[tokio::test]
async fn a_move_to_the_current_status_is_a_no_op() {
    let f = Fixture::with_channels();
    let order = f.order("woo", "W-1", "card").await;
    let before = f.engine.store().history(order.id).unwrap().len();
    let outcome = f
        .event(
            order.id,
            "same",
            EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "pending".into(),
            },
        )
        .await;
    let Outcome::Applied { history, .. } = outcome else {
        panic!("the event is applied");
    };
    assert!(history.is_empty());
    assert_eq!(f.engine.store().history(order.id).unwrap().len(), before);
}

#[tokio::test]
async fn a_status_from_the_platform_is_never_pushed_back_to_it() {
    let f = Fixture::with_channels();
    f.email_template("status-mail");
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "mirror"
channels = ["woo"]
on = ["status_changed"]
then = { push_status = true, email = "status-mail" }
"#,
        )
        .expect("the rule is saved");
    let order = f.order("woo", "E-1", "card").await;

    f.engine
        .apply(statusport_core::domain::event::Event {
            id: "import-1".into(),
            order: order.id,
            actor: Actor::Platform("woo".try_into().unwrap()),
            kind: EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "processing".into(),
            },
            occurred_at: None,
        })
        .await
        .unwrap();
    let jobs = f.jobs_of(order.id);
    assert!(!jobs.iter().any(|j| matches!(j, JobKind::PushStatus { .. })));
    assert!(jobs.contains(&JobKind::Email {
        template: "status-mail".into()
    }));
    let skipped = f
        .engine
        .store()
        .history(order.id)
        .unwrap()
        .into_iter()
        .any(|h| matches!(h.change, Change::Skipped { ref reason, .. } if reason.contains("came from this platform")));
    assert!(skipped, "the history says why nothing was pushed");

    // The same move by an operator is pushed.
    f.event(
        order.id,
        "op-1",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "completed".into(),
        },
    )
    .await;
    assert!(f.jobs_of(order.id).contains(&JobKind::PushStatus {
        dimension: Dimension::Order,
        from: Some("processing".into()),
        to: "completed".into()
    }));
}

#[tokio::test]
async fn a_rule_limited_to_a_source_fires_only_for_it() {
    let f = Fixture::with_channels();
    f.email_template("hello");
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "platform-only"
channels = ["woo"]
on = ["status_changed"]
sources = ["platform"]
then = { email = "hello" }
"#,
        )
        .unwrap();
    let order = f.order("woo", "F-1", "card").await;
    f.event(
        order.id,
        "by-hand",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "on-hold".into(),
        },
    )
    .await;
    let emails = |f: &Fixture| {
        f.jobs_of(order.id)
            .into_iter()
            .filter(|j| matches!(j, JobKind::Email { .. }))
            .count()
    };
    assert_eq!(emails(&f), 0);
    f.engine
        .apply(statusport_core::domain::event::Event {
            id: "from-shop".into(),
            order: order.id,
            actor: Actor::Platform("woo".try_into().unwrap()),
            kind: EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "processing".into(),
            },
            occurred_at: None,
        })
        .await
        .unwrap();
    assert_eq!(emails(&f), 1);
}

#[tokio::test]
async fn a_once_per_order_rule_fires_once() {
    let f = Fixture::with_channels();
    f.email_template("welcome");
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "welcome"
channels = ["woo"]
on = ["status_changed"]
once_per_order = true
then = { email = "welcome" }
"#,
        )
        .unwrap();
    let order = f.order("woo", "O-1", "card").await;
    for (i, to) in ["processing", "on-hold", "processing"].iter().enumerate() {
        f.event(
            order.id,
            &format!("move-{i}"),
            EventKind::SetStatus {
                dimension: Dimension::Order,
                to: (*to).into(),
            },
        )
        .await;
    }
    let emails: Vec<JobKind> = f
        .jobs_of(order.id)
        .into_iter()
        .filter(|j| matches!(j, JobKind::Email { .. }))
        .collect();
    assert_eq!(emails.len(), 1, "{emails:?}");
}

#[tokio::test]
async fn rollback_returns_to_the_previous_status_without_effects() {
    let f = Fixture::with_channels();
    f.install(&["card"]);
    let order = f.order("shop", "R-1", "card").await;
    f.event(
        order.id,
        "pay",
        EventKind::PaymentMatched { reference: None },
    )
    .await;
    assert_eq!(status(&f.get(order.id), Dimension::Order), "processing");
    let jobs_before = f.jobs_of(order.id).len();

    f.engine
        .rollback(order.id, Dimension::Order, Actor::User("ops".into()), false)
        .await
        .unwrap();
    let rolled = f.get(order.id);
    assert_eq!(status(&rolled, Dimension::Order), "received");
    assert_eq!(f.jobs_of(order.id).len(), jobs_before, "no effects re-run");
    let last = f.engine.store().history(order.id).unwrap().pop().unwrap();
    assert_eq!(
        last.change,
        Change::Rollback {
            dimension: Dimension::Order,
            before: "processing".into(),
            after: "received".into()
        }
    );
    assert_eq!(last.actor, Actor::User("ops".into()));

    // Nothing before "received": nothing more to roll back.
    let err = f
        .engine
        .rollback(order.id, Dimension::Order, Actor::User("ops".into()), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nothing to roll back"), "{err}");
}

#[tokio::test]
async fn goods_received_wakes_the_orders_holding_the_article() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(super::support::IN_STOCK_RULE)
        .unwrap();
    let order = f.order("shop", "G-1", "card").await;
    let touched = f.engine.goods_received("SKU-200", 5, "gr-1").await.unwrap();
    assert_eq!(touched, vec![order.id]);
    assert_eq!(status(&f.get(order.id), Dimension::Order), "processing");
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, 5);
    // The same receipt again changes nothing; stock that was there already
    // wakes nobody.
    assert!(
        f.engine
            .goods_received("SKU-200", 5, "gr-1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, 5);
    assert!(
        f.engine
            .goods_received("SKU-200", 1, "gr-2")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.engine.stock("SKU-200").unwrap().quantity, 6);
}

#[tokio::test]
async fn shopware_orders_hold_one_status_per_dimension() {
    let f = Fixture::with_channels();
    let order = f.order("sw", "SW-1", "card").await;
    assert_eq!(status(&order, Dimension::Order), "open");
    assert_eq!(status(&order, Dimension::Delivery), "open");
    assert_eq!(status(&order, Dimension::Payment), "open");
    f.event(
        order.id,
        "ship",
        EventKind::SetStatus {
            dimension: Dimension::Delivery,
            to: "shipped".into(),
        },
    )
    .await;
    let order = f.get(order.id);
    assert_eq!(status(&order, Dimension::Delivery), "shipped");
    assert_eq!(status(&order, Dimension::Order), "open");
    assert_eq!(
        f.engine
            .store()
            .orders_in_status("sw", Dimension::Delivery, "shipped")
            .unwrap(),
        vec![order.id]
    );
}
