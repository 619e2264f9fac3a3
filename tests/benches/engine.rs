//! Engine throughput on a store on disk, printed as figures:
//!
//! 1. durable transitions per second through the pipeline, one transition
//!    per order, 64 in flight: a manual status change with no rule, and a
//!    card payment that chains the shipped card rules (paid, invoice
//!    number, stock, three outbox jobs);
//! 2. a bulk status change over `BENCH_BULK_ORDERS` orders (default
//!    1,000,000): dry run and run, with the memory used.
//!
//! `cargo bench -p statusport-tests --bench engine` (plugins built first:
//! `cargo xtask plugins`). `BENCH_ORDERS` sets the orders of part 1
//! (default 20,000).

use std::sync::Arc;
use std::time::Instant;

use statusport_core::domain::event::{Event, EventKind};
use statusport_core::domain::order::{Actor, Channel, OrderId};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::bulk::{BulkAction, BulkSpec};
use statusport_core::engine::{Engine, NewOrder, rulesets};
use statusport_core::store::OrderQuery;
use statusport_core::store::Store;
use statusport_tests::bundled_platforms;

/// The allocator the `statusport` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const IN_FLIGHT: usize = 64;

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// (current, peak) resident set size in MiB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak resident set size to the current one (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let m = e.metadata().map(|m| m.len()).unwrap_or(0);
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        m
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn engine(dir: &std::path::Path) -> Arc<Engine> {
    let store = Arc::new(Store::open(dir).expect("the store opens"));
    let engine = Engine::new(store, bundled_platforms()).expect("the engine starts");
    engine
        .save_channel(&Channel {
            id: "shop".try_into().expect("a valid id"),
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
        })
        .expect("the channel is saved");
    rulesets::install(&engine, "card").expect("the card rules install");
    Arc::new(engine)
}

fn new_order(i: u64) -> NewOrder {
    serde_json::from_value(serde_json::json!({
        "channel": "shop",
        "platform_order_id": format!("P-{i}"),
        "customer": format!("c-{}", i % 5_000),
        "lines": [
            {"article": format!("SKU-{}", i % 1_000), "name": "Mug", "quantity": 2, "unit_price": "9.90 EUR"},
            {"article": "SKU-TEA", "name": "Tea", "quantity": 1, "unit_price": "4.50 EUR"}
        ],
        "currency": "EUR",
        "payment_method": "card",
    }))
    .expect("a valid order")
}

/// Runs `work(i)` for `0..count`, `IN_FLIGHT` at a time; returns seconds.
async fn in_flight<F, Fut>(count: u64, work: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let work = Arc::new(work);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (work, next) = (work.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                work(i).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a worker finished");
    }
    started.elapsed().as_secs_f64()
}

async fn create(engine: &Arc<Engine>, count: u64) -> (Vec<OrderId>, f64) {
    let ids = Arc::new(std::sync::Mutex::new(vec![OrderId(0); count as usize]));
    let secs = {
        let (engine, ids) = (engine.clone(), ids.clone());
        in_flight(count, move |i| {
            let (engine, ids) = (engine.clone(), ids.clone());
            async move {
                let (order, _) = engine
                    .create_order(
                        new_order(i),
                        Actor::Platform("shop".try_into().unwrap()),
                        true,
                    )
                    .await
                    .expect("the order is created");
                ids.lock().unwrap()[i as usize] = order.id;
            }
        })
        .await
    };
    let ids = Arc::try_unwrap(ids).unwrap().into_inner().unwrap();
    (ids, secs)
}

async fn transitions(count: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine(dir.path());
    let (ids, secs) = create(&engine, count).await;
    println!(
        "durable order creations:          {count:>9} in {secs:6.2} s = {:>8.0}/s",
        count as f64 / secs
    );
    let ids = Arc::new(ids);
    for (name, kind) in [
        (
            "manual status change (no rule)",
            EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "produced".into(),
            },
        ),
        (
            "card payment (4 changes, 3 jobs)",
            EventKind::PaymentMatched { reference: None },
        ),
    ] {
        let (engine2, ids2) = (engine.clone(), ids.clone());
        let secs = in_flight(count, move |i| {
            let (engine, ids, kind) = (engine2.clone(), ids2.clone(), kind.clone());
            async move {
                engine
                    .apply(Event {
                        id: format!("{kind:?}-{i}"),
                        order: ids[i as usize],
                        actor: Actor::User("bench".into()),
                        kind,
                        occurred_at: None,
                    })
                    .await
                    .expect("the event applies");
            }
        })
        .await;
        println!(
            "durable transitions, {name:<33} {count:>9} in {secs:6.2} s = {:>8.0}/s",
            count as f64 / secs
        );
    }
    assert!(engine.store().index_problems().unwrap().is_empty());
}

async fn bulk(count: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine(dir.path());
    let (_, secs) = create(&engine, count).await;
    let (rss_now, peak) = rss();
    println!(
        "bulk set-up: {count} orders created in {secs:.1} s; RSS {rss_now} MiB (peak {peak} MiB); store {} MiB on disk",
        dir_size(dir.path()) / (1 << 20)
    );
    let spec = BulkSpec {
        filter: OrderQuery {
            channel: Some("shop".into()),
            status: Some("order:received".parse().unwrap()),
            ..OrderQuery::default()
        },
        action: BulkAction::SetStatus {
            status: "order:processing".parse().unwrap(),
        },
    };
    let actor = Actor::User("bench".into());
    reset_peak();
    let started = Instant::now();
    let dry = engine.bulk_dry_run(&spec, &actor).expect("the dry run");
    let (_, peak) = rss();
    println!(
        "bulk dry run over {count} orders: {:.1} s ({} would change); peak RSS {peak} MiB",
        started.elapsed().as_secs_f64(),
        dry.would_change
    );
    reset_peak();
    let started = Instant::now();
    let job = engine.bulk_start(spec, actor).expect("the job starts");
    let done = engine
        .bulk_run(&job.id, |_| {})
        .await
        .expect("the job runs");
    let secs = started.elapsed().as_secs_f64();
    let (rss_now, peak) = rss();
    assert_eq!(done.changed, count);
    println!(
        "bulk run over {count} orders: {secs:.1} s = {:.0} orders/s; peak RSS during the run {peak} MiB (now {rss_now} MiB); store {} MiB on disk",
        count as f64 / secs,
        dir_size(dir.path()) / (1 << 20)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once
    // with small counts as a smoke test.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (orders, bulk_orders) = if smoke {
        (200, 500)
    } else {
        (
            env_count("BENCH_ORDERS", 20_000),
            env_count("BENCH_BULK_ORDERS", 1_000_000),
        )
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        transitions(orders).await;
        bulk(bulk_orders).await;
    });
}
