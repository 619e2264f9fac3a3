//! Bulk jobs: dry run, run, resume, cancel, refusals.

use statusport_core::domain::event::{Change, EventKind};
use statusport_core::domain::order::{Actor, OrderId};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::EngineError;
use statusport_core::engine::bulk::{BulkAction, BulkSpec, BulkState};
use statusport_core::store::{OrderQuery, keys};

use super::{Fixture, status};

fn ops() -> Actor {
    Actor::User("ops".into())
}

fn set_status(channel: &str, from: &str, to: &str) -> BulkSpec {
    BulkSpec {
        filter: OrderQuery {
            channel: Some(channel.into()),
            status: Some(from.parse().unwrap()),
            ..OrderQuery::default()
        },
        action: BulkAction::SetStatus {
            status: to.parse().unwrap(),
        },
    }
}

/// How many history entries of `order` came from bulk job `job`.
fn bulk_entries(f: &Fixture, order: OrderId, job: &str) -> usize {
    let prefix = format!("bulk:{job}:");
    f.engine
        .store()
        .history(order)
        .unwrap()
        .iter()
        .filter(|h| h.event.starts_with(&prefix) && matches!(h.change, Change::Status { .. }))
        .count()
}

#[tokio::test]
async fn a_bulk_change_changes_every_matching_order_and_only_those() {
    let f = Fixture::with_channels();
    let mut received = Vec::new();
    let mut cancelled = Vec::new();
    for i in 0..30 {
        let order = f.order("shop", &format!("B-{i}"), "invoice").await;
        if i % 3 == 0 {
            f.event(
                order.id,
                &format!("cancel-{i}"),
                EventKind::SetStatus {
                    dimension: Dimension::Order,
                    to: "cancelled".into(),
                },
            )
            .await;
            cancelled.push(order.id);
        } else {
            received.push(order.id);
        }
    }
    let other = f.order("woo", "W-1", "invoice").await;
    let spec = set_status("shop", "order:received", "order:archived");

    let dry = f.engine.bulk_dry_run(&spec, &ops()).unwrap();
    assert_eq!(dry.matched, 20);
    assert_eq!(dry.would_change, 20);
    assert!(dry.unchanged.is_empty(), "{:?}", dry.unchanged);
    assert_eq!(dry.changes[0].changes, vec!["order: received → archived"]);
    for id in &received {
        assert_eq!(
            status(&f.get(*id), Dimension::Order),
            "received",
            "the dry run wrote nothing"
        );
    }

    let job = f.engine.bulk_start(spec, ops()).unwrap();
    let mut checkpoints = 0;
    let done = f
        .engine
        .bulk_run(&job.id, |_| checkpoints += 1)
        .await
        .unwrap();
    assert_eq!(done.state, BulkState::Done);
    assert!(checkpoints >= 1);
    assert_eq!((done.scanned, done.matched, done.changed), (31, 20, 20));
    for id in &received {
        let order = f.get(*id);
        assert_eq!(status(&order, Dimension::Order), "archived");
        assert_eq!(bulk_entries(&f, *id, &job.id), 1);
        assert!(matches!(&order.statuses[&Dimension::Order].set_by, Actor::User(u) if u == "ops"));
    }
    for id in &cancelled {
        assert_eq!(status(&f.get(*id), Dimension::Order), "cancelled");
    }
    assert_eq!(status(&f.get(other.id), Dimension::Order), "pending");
    assert!(f.engine.store().index_problems().unwrap().is_empty());
    assert!(
        f.engine
            .store()
            .orders_in_status("shop", Dimension::Order, "received")
            .unwrap()
            .is_empty()
    );

    // A finished job run again does nothing.
    let again = f.engine.bulk_run(&job.id, |_| {}).await.unwrap();
    assert_eq!(again, done);
}

#[tokio::test]
async fn a_dry_run_says_why_the_other_orders_would_not_change() {
    let f = Fixture::with_channels();
    let moved = f.order("sw", "S-1", "invoice").await;
    let stays = f.order("sw", "S-2", "invoice").await;
    f.event(
        moved.id,
        "start-1",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "in_progress".into(),
        },
    )
    .await;
    let spec = BulkSpec {
        filter: OrderQuery {
            channel: Some("sw".into()),
            ..OrderQuery::default()
        },
        action: BulkAction::SetStatus {
            status: "order:completed".parse().unwrap(),
        },
    };
    let dry = f.engine.bulk_dry_run(&spec, &ops()).unwrap();
    assert_eq!((dry.matched, dry.would_change), (2, 1));
    assert_eq!(dry.changes[0].order, moved.id);
    let (reason, unchanged) = dry.unchanged.iter().next().unwrap();
    assert!(reason.contains("open → completed"), "{reason}");
    assert!(
        reason.contains("in_progress"),
        "the allowed moves are named: {reason}"
    );
    assert_eq!(unchanged.orders, vec![stays.id]);
    assert_eq!(f.get(moved.id).version, 2, "the dry run wrote nothing");
}

#[tokio::test]
async fn a_bulk_rule_fires_only_where_its_statuses_and_conditions_hold() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "archive-paid"
platform = "generic"
on = ["manual"]
from = ["order:received"]
when = { payment_status = ["paid"] }
to = "order:archived"
then = { webhook = "order.archived" }
"#,
        )
        .unwrap();
    let paid = f.order("shop", "R-1", "invoice").await;
    let unpaid = f.order("shop", "R-2", "invoice").await;
    f.event(
        paid.id,
        "paid-1",
        EventKind::SetStatus {
            dimension: Dimension::Payment,
            to: "paid".into(),
        },
    )
    .await;
    let spec = BulkSpec {
        filter: OrderQuery::default(),
        action: BulkAction::Rule {
            rule: "archive-paid".into(),
        },
    };
    let dry = f.engine.bulk_dry_run(&spec, &ops()).unwrap();
    assert_eq!((dry.matched, dry.would_change), (2, 1));
    assert!(
        dry.unchanged
            .keys()
            .any(|r| r.contains("conditions of rule archive-paid"))
    );

    let job = f.engine.bulk_start(spec, ops()).unwrap();
    let done = f.engine.bulk_run(&job.id, |_| {}).await.unwrap();
    assert_eq!(done.changed, 1);
    assert_eq!(status(&f.get(paid.id), Dimension::Order), "archived");
    assert_eq!(status(&f.get(unpaid.id), Dimension::Order), "received");
    assert!(f
        .jobs_of(paid.id)
        .iter()
        .any(|j| matches!(j, statusport_core::domain::event::JobKind::Webhook { event } if event == "order.archived")));
}

#[tokio::test]
async fn a_job_resumed_after_a_lost_checkpoint_changes_no_order_twice() {
    let f = Fixture::with_channels();
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(f.order("shop", &format!("C-{i}"), "invoice").await.id);
    }
    let job = f
        .engine
        .bulk_start(
            set_status("shop", "order:received", "order:processing"),
            ops(),
        )
        .unwrap();
    let done = f.engine.bulk_run(&job.id, |_| {}).await.unwrap();
    assert_eq!(done.changed, 12);

    // As if the process died before its checkpoint: the record still says
    // running at the start, while the orders are changed.
    f.engine
        .store()
        .put_record(keys::BULK, &job.id, &job)
        .unwrap();
    assert_eq!(
        f.engine.unfinished_bulk_jobs().unwrap(),
        vec![job.id.clone()]
    );
    // Meanwhile an operator moves one order back to received.
    f.event(
        ids[0],
        "back-0",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "received".into(),
        },
    )
    .await;
    let resumed = f.engine.bulk_run(&job.id, |_| {}).await.unwrap();
    assert_eq!(resumed.state, BulkState::Done);
    assert_eq!(
        resumed.changed, 12,
        "orders changed before the crash count once"
    );
    for id in &ids {
        assert_eq!(bulk_entries(&f, *id, &job.id), 1);
    }
    assert_eq!(
        status(&f.get(ids[0]), Dimension::Order),
        "received",
        "the job does not change an order a second time"
    );
}

#[tokio::test]
async fn a_cancelled_job_stops_and_keeps_what_it_changed() {
    let f = Fixture::with_channels();
    // A run checks for a cancel at its checkpoints, every 2,000 orders
    // walked: cancelled at the first, it stops at the second, well before
    // the end of these orders.
    const ORDERS: usize = 4_300;
    let mut ids = Vec::with_capacity(ORDERS);
    for chunk in (0..ORDERS).collect::<Vec<_>>().chunks(500) {
        let created = all(chunk.iter().map(|i| {
            let f = &f;
            async move { f.order("shop", &format!("X-{i}"), "invoice").await }
        }))
        .await;
        ids.extend(created.into_iter().map(|o| o.id));
    }
    ids.sort();
    let job = f
        .engine
        .bulk_start(
            set_status("shop", "order:received", "order:processing"),
            ops(),
        )
        .unwrap();

    let mut answer = None;
    let stopped = f
        .engine
        .bulk_run(&job.id, |progress| {
            if answer.is_none() && progress.changed > 0 {
                answer = Some(f.engine.bulk_cancel(&job.id).unwrap());
            }
        })
        .await
        .unwrap();
    let answer = answer.expect("the job reached a checkpoint with orders changed");
    assert_eq!(answer.state, BulkState::Cancelled, "{answer:?}");
    assert!(answer.changed > 0);

    assert_eq!(stopped.state, BulkState::Cancelled, "{stopped:?}");
    let changed = usize::try_from(stopped.changed).unwrap();
    assert!(
        changed >= usize::try_from(answer.changed).unwrap() && changed < ORDERS,
        "the job went on to its next checkpoint and stopped there: {changed} of {ORDERS} changed"
    );
    assert_eq!(
        (stopped.scanned, stopped.matched),
        (stopped.changed, stopped.changed),
        "every order walked matched and changed: {stopped:?}"
    );
    assert!(stopped.unchanged.is_empty(), "{:?}", stopped.unchanged);
    assert_eq!(stopped.cursor, Some(ids[changed - 1]));
    // The job walks in id order: the first orders changed, once each; the
    // rest were never touched.
    let in_status = |code: &str| {
        let mut found = f
            .engine
            .store()
            .orders_in_status("shop", Dimension::Order, code)
            .unwrap();
        found.sort();
        found
    };
    assert_eq!(in_status("processing"), ids[..changed]);
    assert_eq!(in_status("received"), ids[changed..]);
    let edges = [0, changed - 1, changed, ORDERS - 1];
    for id in edges
        .iter()
        .chain(&[changed / 2, (changed + ORDERS) / 2])
        .map(|i| ids[*i])
    {
        let order = f.get(id);
        let entries = bulk_entries(&f, id, &job.id);
        if status(&order, Dimension::Order) == "processing" {
            assert_eq!(entries, 1, "order {id} changed once");
            assert_eq!(order.version, 2, "order {id}");
        } else {
            assert_eq!(entries, 0, "order {id}");
            assert_eq!(order.version, 1, "order {id} was not written");
        }
    }

    // The record says so, the job is not resumed, and running it again
    // changes nothing more.
    assert_eq!(f.engine.bulk_job(&job.id).unwrap(), stopped);
    assert!(f.engine.unfinished_bulk_jobs().unwrap().is_empty());
    let again = f.engine.bulk_run(&job.id, |_| {}).await.unwrap();
    assert_eq!(again, stopped);
    assert_eq!(status(&f.get(ids[changed]), Dimension::Order), "received");
    // Cancelling it again answers the cancelled job as it is.
    assert_eq!(f.engine.bulk_cancel(&job.id).unwrap(), stopped);
}

/// Runs `futures` together on this task, so that the orders they create
/// share their disk flushes; their outputs in order.
async fn all<T>(futures: impl IntoIterator<Item = impl Future<Output = T>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[tokio::test]
async fn bulk_jobs_naming_what_does_not_exist_are_refused() {
    let f = Fixture::with_channels();
    let unknown_rule = BulkSpec {
        filter: OrderQuery::default(),
        action: BulkAction::Rule {
            rule: "nope".into(),
        },
    };
    let err = f.engine.bulk_start(unknown_rule, ops()).unwrap_err();
    assert!(
        err.to_string().contains("rule \"nope\" does not exist"),
        "{err}"
    );

    let unknown_status = set_status("shop", "order:received", "order:teleported");
    let err = f.engine.bulk_dry_run(&unknown_status, &ops()).unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid { field, .. } if field == "action.status"),
        "{err}"
    );
    assert!(
        err.to_string().contains("archived"),
        "known statuses are listed: {err}"
    );

    let unknown_channel = set_status("mars", "order:received", "order:archived");
    let err = f.engine.bulk_dry_run(&unknown_channel, &ops()).unwrap_err();
    assert!(err.to_string().contains("\"mars\" does not exist"), "{err}");
    assert!(
        f.engine.bulk_jobs().unwrap().is_empty(),
        "nothing was recorded"
    );
}
