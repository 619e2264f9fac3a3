//! Intake throughput: orders imported per second by polling a fake
//! WooCommerce on loopback through the bundled plugin in its sandbox, end
//! to end and durable — each batch (100 orders, WooCommerce's largest page)
//! is one atomic write with the channel's cursor, on disk before the next
//! pull. What `serve`'s poll loop runs: `Intake::pull_all`, which pulls
//! the next batch while the one before is written, until the plugin has
//! nothing more. Then the same again on a second channel, one step after
//! the other, with the plugin's call and the import timed apart.
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
    let pulls = intake.pull_all(&channel).await.expect("the pulls import");
    let elapsed = started.elapsed();
    // Where a pull's time goes: the plugin's call (its HTTP request to the
    // shop, the JSON it reads, the batch it hands over) and the import (plan
    // and one durable write), measured apart on a second channel.
    let split = Channel {
        id: "woo-split".try_into().expect("a channel id"),
        ..channel.clone()
    };
    engine.save_channel(&split).expect("the channel saves");
    let plugin = registry.get("woocommerce").expect("the plugin is loaded");
    let context = statusport_runtime::call::CallContext {
        channel: Arc::new(statusport_runtime::ChannelContext::of(&split).expect("a context")),
        state: store.clone(),
    };
    let (mut calling, mut importing, mut cursor) = (Duration::ZERO, Duration::ZERO, None);
    loop {
        let t = Instant::now();
        let batch = registry
            .runtime()
            .pull(&plugin.callee(), &context, cursor.as_deref())
            .await
            .result
            .expect("the pull answers");
        calling += t.elapsed();
        let t = Instant::now();
        engine
            .import(
                "woo-split",
                &batch.items,
                statusport_core::engine::CursorMove::To(batch.next_cursor.clone()),
            )
            .await
            .expect("the batch imports");
        importing += t.elapsed();
        cursor = batch.next_cursor;
        if !batch.more {
            break;
        }
    }
    let state = store.intake_state("woo").expect("the store reads");
    assert_eq!(
        state.imported.created as usize, count,
        "every order of the shop was imported"
    );
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "intake: {count} orders imported in {:.2} s: {rate:.0} orders/s ({pulls} pulls, {:.1} ms per pull on average)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / pulls as f64,
    );
    println!(
        "intake, the same again apart: plugin calls {:.2} s ({:.1} ms per pull), imports {:.2} s ({:.1} ms per batch)",
        calling.as_secs_f64(),
        calling.as_secs_f64() * 1000.0 / pulls as f64,
        importing.as_secs_f64(),
        importing.as_secs_f64() * 1000.0 / pulls as f64,
    );
}
