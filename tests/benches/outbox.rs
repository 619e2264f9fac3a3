//! Shipment uploads end to end: an event marks a shipment done, the engine
//! writes the upload job, the outbox runs the WooCommerce plugin in its
//! sandbox, and the plugin reads and writes the tracking entry on a fake
//! WooCommerce on loopback. 64 uploads in flight: each of 64 clients sends
//! its next event once its last upload is acknowledged.
//! Prints uploads per second and the time from the event's commit to the
//! platform's acknowledgement at the median and the 99th percentile.
//!
//! `cargo bench -p statusport-tests --bench outbox` (plugins built first:
//! `cargo xtask plugins`). `BENCH_UPLOADS` sets the count (default 5,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use statusport::notify::webhook::WebhookSender;
use statusport::outbox::{Outbox, OutboxConfig, Services};
use statusport_core::domain::event::Event;
use statusport_core::domain::job::JobOutcome;
use statusport_core::domain::order::{Actor, Customer, OrderId};
use statusport_core::engine::Engine;
use statusport_core::store::Store;
use statusport_runtime::registry::Registry;
use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::shop::{dhl_shipment, teapot_order, woo_channel};
use statusport_tests::{plugin_path, runtime};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const IN_FLIGHT: usize = 64;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let count: u64 = std::env::var("BENCH_UPLOADS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(if bench { 5_000 } else { 200 });
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    tokio.block_on(run(count));
}

async fn run(count: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ids: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let shop = serve(WooCommerce::new(&refs)).await;
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(plugin_path("woocommerce"), plugins.join("woocommerce.wasm")).unwrap();
    let registry = Registry::open(
        runtime(Default::default(), Some(dir.path().join("cache"))),
        &plugins,
    )
    .await
    .expect("the plugin loads");
    let store = Arc::new(Store::open(&dir.path().join("store")).expect("the store opens"));
    let engine = Arc::new(Engine::new(store.clone(), registry.clone()).expect("the engine"));
    engine
        .save_channel(&woo_channel(&shop.url, Some(IN_FLIGHT as u32)))
        .unwrap();
    store
        .put_customer(
            &"woo".try_into().unwrap(),
            &Customer {
                id: "c-1".into(),
                channel: None,
                name: "Ada".into(),
                email: None,
                phone: None,
                address: Vec::new(),
            },
        )
        .unwrap();
    engine
        .import_rules(
            r#"
[[rule]]
id = "upload"
channels = ["woo"]
on = ["shipment_done"]
then = { upload_shipments = true }
"#,
        )
        .unwrap();
    let mut orders = Vec::new();
    for i in 0..count {
        orders.push(order(&engine, i).await);
    }
    let outbox = Outbox::start(
        store.clone(),
        Services {
            plugins: Some(registry.clone()),
            mailer: None,
            sms: None,
            webhooks: Arc::new(WebhookSender::new(Duration::from_secs(5)).unwrap()),
        },
        OutboxConfig {
            workers: IN_FLIGHT,
            ..OutboxConfig::default()
        },
    )
    .unwrap();

    // At most 64 uploads outstanding: a permit per upload, given back when
    // one watcher sees its job finished.
    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let (sent, mut outstanding) =
        tokio::sync::mpsc::unbounded_channel::<(u64, tokio::sync::OwnedSemaphorePermit)>();
    let watcher = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut open = Vec::new();
            loop {
                while let Ok(item) = outstanding.try_recv() {
                    open.push(item);
                }
                open.retain(|(job, _)| store.job_done(*job).unwrap().is_none());
                if open.is_empty() && outstanding.is_closed() && outstanding.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, order) in orders.into_iter().enumerate() {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (engine, sent) = (engine.clone(), sent.clone());
        tasks.spawn(async move {
            let job = ship(&engine, order, i).await;
            let _ = sent.send((job, permit));
        });
    }
    drop(sent);
    while tasks.join_next().await.is_some() {}
    watcher.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    outbox.shutdown(Duration::from_secs(5)).await;

    let mut latencies = Vec::new();
    for job in store.jobs().unwrap() {
        let done = store.job_done(job.id).unwrap().expect("delivered");
        assert!(
            matches!(done.outcome, JobOutcome::Delivered { .. }),
            "{done:?}"
        );
        latencies.push(done.at.duration_since(job.created).as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let trackings: usize = shop
        .state()
        .orders
        .values()
        .map(|o| o.trackings.len())
        .sum();
    assert_eq!(trackings as u64, count, "one tracking entry per shipment");
    println!(
        "shipment uploads end to end, {IN_FLIGHT} in flight: {count} in {elapsed:.2} s = {:.0}/s; event → platform acknowledged: median {:.1} ms, p99 {:.1} ms",
        count as f64 / elapsed,
        at(0.5),
        at(0.99)
    );
}

async fn order(engine: &Engine, i: u64) -> OrderId {
    engine
        .create_order(teapot_order("woo", &i.to_string()), Actor::System, true)
        .await
        .unwrap()
        .0
        .id
}

/// Applies the event; returns the upload job's id.
async fn ship(engine: &Engine, order: OrderId, i: usize) -> u64 {
    let outcome = engine
        .apply(Event {
            id: format!("ship-{i}"),
            order,
            actor: Actor::System,
            kind: dhl_shipment(&format!("T{i:08}")),
            occurred_at: None,
        })
        .await
        .unwrap();
    match outcome {
        statusport_core::engine::Outcome::Applied { jobs, .. } => jobs[0].id,
        other => panic!("{other:?}"),
    }
}
