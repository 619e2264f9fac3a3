//! Intake: what a pull or a webhook brings, imported in one write with the
//! channel's cursor; idempotent on the platform order id and the platform's
//! change id; the platform's statuses never pushed back.

use std::collections::BTreeMap;

use jiff::Timestamp;
use statusport_core::domain::event::{Change, JobKind};
use statusport_core::domain::intake::{
    Inbound, IncomingCustomer, IncomingLine, IncomingOrder, StatusChange,
};
use statusport_core::domain::order::{Actor, Order};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::CursorMove;

use super::{Fixture, eur};

/// A rule that pushes every order status change of a WooCommerce order to
/// the platform and mails the customer on a cancellation.
const PUSH_EVERYTHING: &str = r#"
[[rule]]
id = "push-order-status"
platform = "woocommerce"
on = ["status_changed"]
then = { push_status = true, webhook = "order.status" }
"#;

fn at(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 time")
}

fn incoming(id: &str, status: &str, updated: &str) -> IncomingOrder {
    IncomingOrder {
        platform_order_id: id.into(),
        customer: IncomingCustomer {
            id: format!("c-{id}"),
            name: format!("Customer {id}"),
            email: Some(format!("{id}@example.com")),
            phone: None,
            address: vec!["1 Main Street".into(), "12345 Town".into()],
        },
        lines: vec![IncomingLine {
            line_id: "71".into(),
            article: "TEA-1".into(),
            name: "Teapot".into(),
            quantity: 2,
            unit_price: eur("19.90 EUR"),
        }],
        shipping: Some(eur("4.90 EUR")),
        payment_method: "card".into(),
        statuses: BTreeMap::from([(Dimension::Order, status.to_owned())]),
        created_at: at("2026-11-01T10:00:00Z"),
        updated_at: at(updated),
    }
}

fn change(change_id: &str, order: &str, code: &str, changed_at: &str) -> Inbound {
    Inbound::StatusChange(StatusChange {
        change_id: change_id.into(),
        platform_order_id: order.into(),
        dimension: Dimension::Order,
        code: code.into(),
        changed_at: at(changed_at),
    })
}

fn woo() -> Fixture {
    let f = Fixture::with_channels();
    f.engine.import_rules(PUSH_EVERYTHING).unwrap();
    f
}

fn stored(f: &Fixture, platform_order_id: &str) -> Order {
    f.engine
        .store()
        .order_by_platform_id("woo", platform_order_id)
        .unwrap()
        .unwrap_or_else(|| panic!("order {platform_order_id} was imported"))
}

#[tokio::test]
async fn a_batch_creates_its_orders_and_customers_and_moves_the_cursor_in_the_same_write() {
    let f = woo();
    let items: Vec<Inbound> = (1..=3)
        .map(|i| {
            Inbound::Order(incoming(
                &format!("W-{i}"),
                "processing",
                "2026-11-01T11:00:00Z",
            ))
        })
        .collect();
    let report = f
        .engine
        .import("woo", &items, CursorMove::To(Some("c-1".into())))
        .await
        .unwrap();
    assert_eq!(
        (report.created, report.changed, report.unchanged),
        (3, 0, 0)
    );
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let state = f.engine.intake_state("woo").unwrap();
    assert_eq!(state.cursor.as_deref(), Some("c-1"));
    assert_eq!(state.imported.created, 3);
    assert!(state.last_success.is_some());

    let order = stored(&f, "W-2");
    assert_eq!(order.status(Dimension::Order), Some("processing"));
    assert_eq!(
        order.statuses[&Dimension::Order].set_by,
        Actor::Platform("woo".try_into().unwrap())
    );
    assert_eq!(order.customer, "c-W-2");
    assert_eq!(order.total(), Some(eur("44.70 EUR")));
    assert!(!order.number.is_empty(), "an imported order gets a number");
    let customer = f.engine.store().customer("woo", "c-W-2").unwrap().unwrap();
    assert_eq!(customer.address, ["1 Main Street", "12345 Town"]);
    assert_eq!(customer.email.as_deref(), Some("W-2@example.com"));
    // The platform's own statuses are not pushed back to it.
    assert!(
        !f.jobs_of(order.id)
            .iter()
            .any(|j| matches!(j, JobKind::PushStatus { .. })),
        "{:?}",
        f.jobs_of(order.id)
    );
}

#[tokio::test]
async fn the_same_batch_again_changes_nothing() {
    let f = woo();
    let items = vec![
        Inbound::Order(incoming("W-1", "pending", "2026-11-01T11:00:00Z")),
        change("note-7", "W-1", "processing", "2026-11-01T12:00:00Z"),
    ];
    let first = f
        .engine
        .import("woo", &items, CursorMove::To(Some("a".into())))
        .await
        .unwrap();
    assert_eq!((first.created, first.changed), (1, 1));
    let order = stored(&f, "W-1");
    assert_eq!(order.status(Dimension::Order), Some("processing"));
    let history = f.engine.store().history(order.id).unwrap();
    let jobs = f.engine.store().jobs().unwrap();

    let again = f
        .engine
        .import("woo", &items, CursorMove::Keep)
        .await
        .unwrap();
    assert_eq!((again.created, again.changed, again.unchanged), (0, 0, 2));
    let after = stored(&f, "W-1");
    assert_eq!(after.version, order.version);
    assert_eq!(f.engine.store().history(order.id).unwrap(), history);
    assert_eq!(f.engine.store().jobs().unwrap(), jobs);
    // A webhook leaves the pulls' cursor where it was.
    assert_eq!(
        f.engine.intake_state("woo").unwrap().cursor.as_deref(),
        Some("a")
    );
}

#[tokio::test]
async fn a_cancellation_on_the_platform_reaches_the_order_and_is_not_pushed_back() {
    let f = woo();
    f.engine
        .import(
            "woo",
            &[Inbound::Order(incoming(
                "W-1",
                "processing",
                "2026-11-01T11:00:00Z",
            ))],
            CursorMove::Keep,
        )
        .await
        .unwrap();
    // The order comes again, changed on the platform.
    let report = f
        .engine
        .import(
            "woo",
            &[Inbound::Order(incoming(
                "W-1",
                "cancelled",
                "2026-11-02T09:00:00Z",
            ))],
            CursorMove::Keep,
        )
        .await
        .unwrap();
    assert_eq!(report.changed, 1);
    let order = stored(&f, "W-1");
    assert_eq!(order.status(Dimension::Order), Some("cancelled"));
    let jobs = f.jobs_of(order.id);
    assert!(
        !jobs.iter().any(|j| matches!(j, JobKind::PushStatus { .. })),
        "no push of the platform's own cancellation: {jobs:?}"
    );
    // The rule ran (its webhook is there) and its push was skipped.
    assert!(
        jobs.iter().any(|j| matches!(j, JobKind::Webhook { .. })),
        "{jobs:?}"
    );
    let history = f.engine.store().history(order.id).unwrap();
    assert!(
        history.iter().any(|h| matches!(&h.change, Change::Skipped { reason, .. } if reason.contains("came from this platform"))),
        "{history:?}"
    );
}

#[tokio::test]
async fn a_change_older_than_the_platforms_last_is_stale_and_changes_nothing() {
    let f = woo();
    f.engine
        .import(
            "woo",
            &[
                Inbound::Order(incoming("W-1", "pending", "2026-11-01T11:00:00Z")),
                change("h-2", "W-1", "completed", "2026-11-03T10:00:00Z"),
            ],
            CursorMove::Keep,
        )
        .await
        .unwrap();
    let report = f
        .engine
        .import(
            "woo",
            &[change("h-1", "W-1", "on-hold", "2026-11-02T10:00:00Z")],
            CursorMove::Keep,
        )
        .await
        .unwrap();
    assert_eq!(report.changed, 1, "the stale change is recorded");
    let order = stored(&f, "W-1");
    assert_eq!(order.status(Dimension::Order), Some("completed"));
    let history = f.engine.store().history(order.id).unwrap();
    assert!(
        history
            .iter()
            .any(|h| matches!(&h.change, Change::Stale { status, .. } if status == "on-hold")),
        "{history:?}"
    );
}

#[tokio::test]
async fn an_item_that_cannot_be_imported_is_refused_alone_and_kept_on_the_channel() {
    let f = woo();
    let items = vec![
        Inbound::Order(incoming("W-1", "processing", "2026-11-01T11:00:00Z")),
        Inbound::Order(incoming("W-2", "teleported", "2026-11-01T11:00:00Z")),
        change("h-9", "W-404", "completed", "2026-11-01T12:00:00Z"),
        Inbound::Order(incoming("W-3", "pending", "2026-11-01T11:00:00Z")),
    ];
    let report = f
        .engine
        .import("woo", &items, CursorMove::To(Some("next".into())))
        .await
        .unwrap();
    assert_eq!(report.created, 2);
    let refused: Vec<&str> = report
        .refused
        .iter()
        .map(|r| r.platform_order_id.as_str())
        .collect();
    assert_eq!(refused, ["W-2", "W-404"]);
    assert!(
        report.refused[0].reason.contains("teleported"),
        "{:?}",
        report.refused[0]
    );
    assert!(
        report.refused[1].reason.contains("no order W-404"),
        "{:?}",
        report.refused[1]
    );
    let state = f.engine.intake_state("woo").unwrap();
    assert_eq!(state.cursor.as_deref(), Some("next"));
    assert_eq!(state.imported.refused, 2);
    assert_eq!(state.refused.len(), 2);
    assert!(
        f.engine
            .store()
            .order_by_platform_id("woo", "W-2")
            .unwrap()
            .is_none()
    );
    stored(&f, "W-3");
}

#[tokio::test]
async fn an_order_and_changes_of_it_in_one_batch_land_as_one_write_in_their_order() {
    let f = woo();
    let items = vec![
        Inbound::Order(incoming("W-1", "pending", "2026-11-01T11:00:00Z")),
        change("h-1", "W-1", "processing", "2026-11-01T12:00:00Z"),
        change("h-2", "W-1", "completed", "2026-11-01T13:00:00Z"),
    ];
    let report = f
        .engine
        .import("woo", &items, CursorMove::Keep)
        .await
        .unwrap();
    assert_eq!((report.created, report.changed), (1, 2));
    let order = stored(&f, "W-1");
    assert_eq!(order.version, 1, "one write");
    let moves: Vec<(Option<String>, String)> = f
        .engine
        .store()
        .history(order.id)
        .unwrap()
        .into_iter()
        .filter_map(|h| match h.change {
            Change::Status {
                dimension: Dimension::Order,
                before,
                after,
            } => Some((before, after)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        [
            (Some("pending".into()), "processing".into()),
            (Some("processing".into()), "completed".into())
        ]
    );
    // Each change is remembered by its id on the order.
    for id in ["platform:h-1", "platform:h-2"] {
        assert!(
            f.engine
                .store()
                .applied_event(order.id, id)
                .unwrap()
                .is_some(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_move_the_plugin_does_not_list_is_taken_from_the_platform_itself() {
    let f = Fixture::with_channels();
    // Shopware's order state machine has no move from open to completed;
    // a platform that made it anyway is believed.
    let mut order = incoming("S-1", "open", "2026-11-01T11:00:00Z");
    order.statuses.insert(Dimension::Payment, "open".into());
    f.engine
        .import("sw", &[Inbound::Order(order)], CursorMove::Keep)
        .await
        .unwrap();
    let report = f
        .engine
        .import(
            "sw",
            &[Inbound::StatusChange(StatusChange {
                change_id: "e-1".into(),
                platform_order_id: "S-1".into(),
                dimension: Dimension::Order,
                code: "completed".into(),
                changed_at: at("2026-11-02T10:00:00Z"),
            })],
            CursorMove::Keep,
        )
        .await
        .unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let order = f
        .engine
        .store()
        .order_by_platform_id("sw", "S-1")
        .unwrap()
        .unwrap();
    assert_eq!(order.status(Dimension::Order), Some("completed"));
}

#[tokio::test]
async fn a_channel_polls_only_on_a_sane_interval() {
    let f = Fixture::with_channels();
    let mut channel = f.engine.store().channel("woo").unwrap().unwrap();
    channel.poll_interval_secs = Some(0);
    let e = f.engine.save_channel(&channel).unwrap_err();
    assert!(
        e.to_string().contains("poll_interval_secs must be 1–86400"),
        "{e}"
    );
    channel.poll_interval_secs = Some(30);
    f.engine.save_channel(&channel).unwrap();
}

#[tokio::test]
async fn a_failing_poll_stays_on_the_channel_while_webhooks_come_through() {
    use statusport_core::domain::intake::IntakeError;
    let f = woo();
    let channel = "woo".try_into().unwrap();
    let error = IntakeError {
        at: at("2026-11-01T10:00:00Z"),
        during: "pull".into(),
        kind: "auth".into(),
        message: "auth: the consumer key was refused".into(),
    };
    f.engine
        .intake_failed(&channel, error.clone(), |_| {
            Some(at("2026-11-01T10:05:00Z"))
        })
        .await
        .unwrap();
    let webhook = [Inbound::Order(incoming(
        "W-1",
        "pending",
        "2026-11-01T11:00:00Z",
    ))];
    f.engine
        .import("woo", &webhook, CursorMove::Keep)
        .await
        .unwrap();
    let state = f.engine.intake_state("woo").unwrap();
    assert_eq!(
        state.last_error,
        Some(error),
        "a webhook does not hide the failing poll"
    );
    assert_eq!(state.failures, 1);
    assert!(state.last_success.is_some());

    f.engine
        .import("woo", &[], CursorMove::To(Some("c".into())))
        .await
        .unwrap();
    let state = f.engine.intake_state("woo").unwrap();
    assert_eq!(
        state.last_error, None,
        "a pull that comes through clears it"
    );
    assert_eq!((state.failures, state.not_before), (0, None));
}
