//! A process killed with SIGKILL in the middle of a stream of transitions
//! and a bulk job, restarted each time, loses no committed transition,
//! duplicates none and leaves no index pointing at a stale status.
//!
//! The process killed is this test binary, run again with only [`worker`]
//! selected and [`WORKER_STORE`] set: it needs the engine and the store,
//! nothing the core's tests do not link already.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use statusport_core::domain::event::{Change, Event, EventKind, JobKind};
use statusport_core::domain::order::{Actor, Channel};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::bulk::{BulkAction, BulkSpec};
use statusport_core::engine::{Engine, NewOrder, Outcome, rulesets};
use statusport_core::store::{OrderQuery, Store};

use super::kills as crash;
use super::support;

const ORDERS: u64 = 3_000;
const KILLS: usize = 8;
/// Articles of the goods receipt run.
const ARTICLES: u64 = 8;

/// In a worker's environment: the store it opens. Its presence is what
/// makes [`worker`] work rather than return.
const WORKER_STORE: &str = "STATUSPORT_ENGINE_CRASH_STORE";
/// In a worker's environment: how many orders it creates.
const WORKER_ORDERS: &str = "STATUSPORT_ENGINE_CRASH_ORDERS";
/// In a worker's environment: `goods` for the goods receipt run.
const WORKER_RUN: &str = "STATUSPORT_ENGINE_CRASH_RUN";

/// What a worker plays.
#[derive(Clone, Copy)]
enum Run {
    /// Payments on card orders, then a bulk job over them.
    Transitions,
    /// Goods receipts waking the orders that wait for them.
    Goods,
}

/// This test binary, to run only [`worker`] on the store `store` with
/// `orders` orders.
fn worker_command(store: &Path, orders: u64, run: Run) -> Command {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let mut command = Command::new(exe);
    // Quiet: libtest's `test crash::worker ... ` would otherwise begin the
    // line the worker's first output is printed on.
    command
        .args(["crash::worker", "--exact", "--nocapture", "--quiet"])
        .env(WORKER_STORE, store)
        .env(WORKER_ORDERS, orders.to_string())
        .env(
            WORKER_RUN,
            match run {
                Run::Transitions => "transitions",
                Run::Goods => "goods",
            },
        );
    command
}

/// Runs the worker on the store in `dir`; kills it `after` it started, or
/// lets it finish. Returns its output lines.
fn run_worker(dir: &Path, after: Option<Duration>) -> Vec<String> {
    let command = worker_command(&dir.join("store"), ORDERS, Run::Transitions);
    crash::run_worker(command, after)
}

#[test]
fn a_killed_process_loses_and_duplicates_no_transition() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = crash::seed();
    let mut committed = BTreeSet::new();
    let mut killed_in_bulk = false;
    for _ in 0..KILLS {
        let after = Duration::from_millis(20 + crash::next(&mut seed) % 3_000);
        let lines = run_worker(dir.path(), Some(after));
        killed_in_bulk |=
            lines.iter().any(|l| l == "paid") && !lines.iter().any(|l| l == "finished");
        committed.extend(
            lines
                .iter()
                .filter_map(|l| l.strip_prefix("committed ").map(str::to_owned)),
        );
    }
    let last = run_worker(dir.path(), None);
    assert!(last.iter().any(|l| l == "finished"), "{last:?}");
    committed.extend(
        last.iter()
            .filter_map(|l| l.strip_prefix("committed ").map(str::to_owned)),
    );
    eprintln!(
        "{} transitions reported durable before the end; a kill landed in the bulk job: {killed_in_bulk}",
        committed.len()
    );

    let store = Store::open(&dir.path().join("store")).expect("the store opens after the kills");
    // Nothing committed was lost.
    for event in &committed {
        let order = statusport_core::domain::order::OrderId(
            event
                .strip_prefix("pay-")
                .and_then(|id| id.parse().ok())
                .expect("the worker names events pay-<order id>"),
        );
        assert!(
            store.applied_event(order, event).unwrap().is_some(),
            "{event} was reported durable and is gone"
        );
    }
    // No order was created twice.
    let orders: Vec<_> = store.orders_after(None).collect::<Result<_, _>>().unwrap();
    assert_eq!(orders.len() as u64, ORDERS);
    let mut invoices = BTreeSet::new();
    let mut emails = BTreeSet::new();
    for order in &orders {
        let history = store.history(order.id).unwrap();
        let paid = history
            .iter()
            .filter(|h| {
                h.event == format!("pay-{}", order.id)
                    && matches!(
                        h.change,
                        Change::Status {
                            dimension: Dimension::Payment,
                            ..
                        }
                    )
            })
            .count();
        assert_eq!(paid, 1, "order {}: payment applied {paid} times", order.id);
        let bulk = history
            .iter()
            .filter(|h| h.event.starts_with("bulk:") && matches!(h.change, Change::Status { .. }))
            .count();
        assert_eq!(bulk, 1, "order {}: bulk changed it {bulk} times", order.id);
        assert_eq!(order.status(Dimension::Order), Some("produced"));
        assert_eq!(order.status(Dimension::Payment), Some("paid"));
        assert!(
            invoices.insert(order.invoice_number.clone().expect("an invoice number")),
            "invoice number {:?} given twice",
            order.invoice_number
        );
    }
    // Gap-free invoice numbers, stock taken once per order.
    let expected: BTreeSet<String> = (1..=ORDERS).map(|n| format!("INV-{n}")).collect();
    assert_eq!(invoices, expected);
    let stock = store
        .record::<statusport_core::domain::event::Stock>(
            statusport_core::store::keys::STOCK,
            "SKU-1",
        )
        .unwrap()
        .expect("stock is kept");
    assert_eq!(stock.quantity, -2 * ORDERS as i64);
    // One mail job per order, each with its own key.
    for job in store.jobs().unwrap() {
        if let JobKind::Email { template } = &job.kind {
            assert_eq!(template, "payment-received");
            assert!(
                emails.insert(job.idempotency_key.clone()),
                "two mails for {}",
                job.idempotency_key
            );
        }
    }
    assert_eq!(emails.len() as u64, ORDERS);
    // Every index points at the order's committed status.
    assert_eq!(store.index_problems().unwrap(), Vec::<String>::new());
    assert_eq!(
        store
            .orders_in_status("shop", Dimension::Order, "produced")
            .unwrap()
            .len() as u64,
        ORDERS
    );
}

/// Goods receipts: the stock is booked and the waiting orders woken from
/// the receipt's record. Killed anywhere — between the booking and the
/// first wake-up, in the middle of waking — and restarted, each order is
/// woken exactly once and each receipt adds its stock once.
#[test]
fn a_killed_process_wakes_each_waiting_order_exactly_once() {
    const GOODS_ORDERS: u64 = 800;
    let dir = tempfile::tempdir().unwrap();
    let run = |after: Option<Duration>| {
        let command = worker_command(&dir.path().join("store"), GOODS_ORDERS, Run::Goods);
        crash::run_worker(command, after)
    };
    let mut seed = crash::seed();
    let mut cut_short = 0;
    for _ in 0..KILLS {
        // The receipts take about a second here: kills within the first
        // 300 ms land between a booking and the end of its wake-ups.
        let after = Duration::from_millis(1 + crash::next(&mut seed) % 300);
        let lines = run(Some(after));
        if !lines.iter().any(|l| l == "finished") {
            cut_short += 1;
        }
    }
    eprintln!("{cut_short} of {KILLS} runs were killed before their receipts were done");
    assert!(cut_short > 0, "no kill landed among the receipts");
    let last = run(None);
    assert!(last.iter().any(|l| l == "finished"), "{last:?}");

    let store = Store::open(&dir.path().join("store")).unwrap();
    assert!(store.pending_wakes().unwrap().is_empty());
    for a in 0..ARTICLES {
        let stock = store
            .record::<statusport_core::domain::event::Stock>(
                statusport_core::store::keys::STOCK,
                &format!("ART-{a}"),
            )
            .unwrap()
            .expect("the receipt was booked");
        assert_eq!(stock.quantity, 1, "ART-{a} booked {} times", stock.quantity);
    }
    let orders: Vec<_> = store.orders_after(None).collect::<Result<_, _>>().unwrap();
    assert_eq!(orders.len() as u64, GOODS_ORDERS);
    for order in &orders {
        let article = &order.lines[0].article;
        let receipt = format!("goods:gr-{}", article.trim_start_matches("ART-"));
        let woken = store
            .history(order.id)
            .unwrap()
            .iter()
            .filter(|h| {
                matches!(&h.change, Change::Field { field, after, .. }
                    if field == "goods_received" && after.as_deref() == Some(article.as_str()))
            })
            .map(|h| h.event.clone())
            .collect::<Vec<_>>();
        assert_eq!(woken, vec![receipt], "order {}", order.id);
    }
}

type WorkError = Box<dyn std::error::Error + Send + Sync>;

/// The process the crash tests kill; run by the whole suite, without
/// [`WORKER_STORE`], it returns at once. It opens the store, creates the
/// orders, applies one payment to each (eight at a time), then runs a bulk
/// job over them, printing each transition once it is durable. Started
/// again on the same store, it carries on: events already applied are
/// duplicates, an unfinished bulk job resumes.
///
/// In the goods run it creates the orders, each holding one of
/// [`ARTICLES`] articles that are out of stock (then prints `started`),
/// wakes the orders of any receipt whose wake-up was noted before a kill
/// (as `serve` does at start), then books one receipt per article,
/// printing `booked <receipt>` once its orders are woken.
#[test]
fn worker() -> Result<(), WorkError> {
    let Some(store_dir) = std::env::var_os(WORKER_STORE) else {
        return Ok(());
    };
    let orders: u64 = std::env::var(WORKER_ORDERS)?.parse()?;
    let goods = std::env::var(WORKER_RUN)? == "goods";
    let tokio = tokio::runtime::Runtime::new()?;
    tokio.block_on(async {
        let store = Arc::new(Store::open(Path::new(&store_dir))?);
        let engine = Arc::new(Engine::new(store, support::platforms())?);
        engine.save_channel(&Channel {
            id: "shop".try_into()?,
            name: "Shop".into(),
            plugin: "generic".into(),
            base_url: None,
            config: Default::default(),
            grants: Vec::new(),
            invoice_numbering: true,
            requires_approval: false,
            push_manual_changes: true,
            concurrency: None,
            rate_per_second: None,
            poll_interval_secs: None,
        })?;
        rulesets::install(&engine, "card")?;
        if goods {
            receipts(&engine, orders).await
        } else {
            transitions(engine, orders).await
        }
    })
}

async fn transitions(engine: Arc<Engine>, orders: u64) -> Result<(), WorkError> {
    println!("started");
    let mut ids = Vec::new();
    for i in 0..orders {
        let new: NewOrder = serde_json::from_value(serde_json::json!({
            "channel": "shop",
            "platform_order_id": format!("P-{i}"),
            "customer": format!("c-{}", i % 17),
            "lines": [{"article": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "9.90 EUR"}],
            "currency": "EUR",
            "payment_method": "card",
        }))?;
        let (order, _) = engine
            .create_order(new, Actor::Platform("shop".try_into()?), true)
            .await?;
        ids.push(order.id);
    }
    println!("created");

    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids.chunks(ids.len().div_ceil(8).max(1)) {
        let engine = engine.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for id in chunk {
                let event_id = format!("pay-{id}");
                let outcome = engine
                    .apply(Event {
                        id: event_id.clone(),
                        order: id,
                        actor: Actor::System,
                        kind: EventKind::PaymentMatched { reference: None },
                        occurred_at: None,
                    })
                    .await?;
                // Durable once `apply` returns: the test holds us to it.
                if let Outcome::Applied { .. } = outcome {
                    println!("committed {event_id}");
                }
            }
            Ok::<(), WorkError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    println!("paid");

    let job = match engine.bulk_jobs()?.into_iter().next() {
        Some(job) => job.id,
        None => {
            let spec = BulkSpec {
                filter: OrderQuery {
                    status: Some("order:processing".parse()?),
                    ..OrderQuery::default()
                },
                action: BulkAction::SetStatus {
                    status: "order:produced".parse()?,
                },
            };
            engine.bulk_start(spec, Actor::User("ops".into()))?.id
        }
    };
    let done = engine
        .bulk_run(&job, |p| {
            println!("bulk {} of {} changed", p.changed, p.matched)
        })
        .await?;
    println!("bulk {:?} changed {}", done.state, done.changed);
    println!("finished");
    Ok(())
}

async fn receipts(engine: &Engine, orders: u64) -> Result<(), WorkError> {
    for i in 0..orders {
        let new: NewOrder = serde_json::from_value(serde_json::json!({
            "channel": "shop",
            "platform_order_id": format!("G-{i}"),
            "customer": "c-1",
            "lines": [{"article": format!("ART-{}", i % ARTICLES), "name": "Kettle", "quantity": 1, "unit_price": "19.90 EUR"}],
            "currency": "EUR",
            "payment_method": "card",
        }))?;
        engine.create_order(new, Actor::System, true).await?;
    }
    // The test's kills count from here: the receipts are what it tests.
    println!("started");
    let resumed = engine.resume_wakes().await?;
    println!("resumed {resumed}");
    for a in 0..ARTICLES {
        let receipt = format!("gr-{a}");
        engine
            .goods_received(&format!("ART-{a}"), 1, &receipt)
            .await?;
        println!("booked {receipt}");
    }
    println!("finished");
    Ok(())
}
