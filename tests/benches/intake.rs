//! Intake throughput: orders imported per second by polling a fake
//! WooCommerce on loopback through the bundled plugin in its sandbox, end
//! to end and durable — each batch (100 orders, WooCommerce's largest page)
//! is one atomic write with the channel's cursor, on disk before the next
//! pull. What `serve`'s poll loop runs: `Intake::pull_once` until the
//! plugin has nothing more.
//!
//! `cargo bench -p statusport-tests --bench intake` (plugins built first:
//! `cargo xtask plugins`). `BENCH_ORDERS` sets the count (default 20,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use statusport::intake::Intake;
use statusport_core::domain::order::Channel;
use statusport_core::engine::Engine;
use statusport_core::store::Store;
use statusport_runtime::registry::Registry;
use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::shop::woo_channel;
use statusport_tests::{plugin_path, runtime};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(if bench { 20_000 } else { 500 });
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    tokio.block_on(run(count));
}

async fn run(count: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let shop = serve(WooCommerce::seeded(count)).await;
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
    let engine = Arc::new(Engine::new(store.clone(), registry.clone()).expect("the engine starts"));
    let channel = Channel {
        poll_interval_secs: Some(60),
        ..woo_channel(&shop.url, None)
    };
    engine.save_channel(&channel).expect("the channel saves");
    let intake = Intake::new(engine.clone(), registry.clone());

    let started = Instant::now();
    let mut pulls = 0usize;
    let mut slowest = Duration::ZERO;
    loop {
        let pull_started = Instant::now();
        let (_, more) = intake.pull_once(&channel).await.expect("the pull imports");
        slowest = slowest.max(pull_started.elapsed());
        pulls += 1;
        if !more {
            break;
        }
    }
    let elapsed = started.elapsed();
    let state = store.intake_state("woo").expect("the store reads");
    assert_eq!(
        state.imported.created as usize, count,
        "every order of the shop was imported"
    );
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "intake: {count} orders imported in {:.2} s: {rate:.0} orders/s ({pulls} pulls, {:.1} ms per pull on average, slowest {:.1} ms)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / pulls as f64,
        slowest.as_secs_f64() * 1000.0,
    );
}
