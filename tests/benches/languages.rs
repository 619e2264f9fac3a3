//! Cost of the example plugins in Python and JavaScript (large components:
//! a language runtime each) beside the Rust plugins.
//!
//! First, printed once per plugin: the component's size, compiling it with
//! an empty compiled-code cache, loading it from the cache in a new
//! runtime (as after a restart), linking and pre-instantiating it, its
//! first two `describe` calls after that, and a fresh instance alone (made
//! from the pre-instantiated template and dropped, no call: the sandbox's
//! own part of every call). Then, with criterion, warm calls:
//! `describe`, and `push-status` against a loopback fake (Example Shop for
//! the examples, WooCommerce for the Rust plugin).
//!
//! Needs the built plugins: `cargo xtask plugins`, then
//! `cargo bench -p statusport-tests --bench languages`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use statusport_core::domain::platform::Dimension;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::runtime::CodeSource;
use statusport_runtime::sandbox::{CallState, SandboxSpec};
use statusport_runtime::{ChannelContext, MemoryState};
use statusport_tests::fake::exampleshop::{API_KEY, ExampleShop};
use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::{channel, example_path, load, plugin_path, runtime, test_limits};

fn plugins() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("generic (Rust)", plugin_path("generic")),
        ("woocommerce (Rust)", plugin_path("woocommerce")),
        ("python", example_path("python")),
        ("javascript", example_path("javascript")),
    ]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Load figures of one plugin, each from a runtime of its own.
async fn load_figures(name: &str, path: &PathBuf) {
    let wasm = std::fs::read(path).expect("the plugin is built");
    let cache = tempfile::tempdir().expect("a temporary directory");

    let rt = runtime(test_limits(), Some(cache.path().into()));
    let started = Instant::now();
    let compiled = rt.compile(&wasm).expect("the plugin compiles");
    let compile = started.elapsed();
    assert_eq!(compiled.source, CodeSource::Compiled);
    drop(rt);

    // A new engine on the same cache, as after a restart.
    let rt = runtime(test_limits(), Some(cache.path().into()));
    let started = Instant::now();
    let compiled = rt.compile(&wasm).expect("the plugin loads from the cache");
    let cached = started.elapsed();
    assert_eq!(compiled.source, CodeSource::Cache);
    let started = Instant::now();
    let prepared = rt.prepare(&compiled.component).expect("the plugin links");
    let prepare = started.elapsed();
    let callee = statusport_runtime::call::Callee {
        label: name,
        pre: &prepared.adapter,
        intake: prepared.intake.as_ref(),
        declared_hosts: &[],
        config: &[],
    };
    let started = Instant::now();
    rt.describe(&callee).await.result.expect("describe answers");
    let first = started.elapsed();
    let started = Instant::now();
    rt.describe(&callee).await.result.expect("describe answers");
    let second = started.elapsed();
    let instance = instantiate_median(&rt, &prepared).await;
    println!(
        "load {name:<20} {:>6.1} MB  compile {:>10}  from cache {:>9}  link {:>9}  first describe {:>9}  second {:>9}  fresh instance alone {:>9}",
        wasm.len() as f64 / 1e6,
        ms(compile),
        ms(cached),
        ms(prepare),
        us(first),
        us(second),
        us(instance),
    );
}

/// The median time to make a fresh instance from the pre-instantiated
/// template and drop it, without calling it: the part of every call that
/// is the sandbox's own.
async fn instantiate_median(
    rt: &statusport_runtime::Runtime,
    prepared: &statusport_runtime::runtime::Prepared,
) -> Duration {
    let mut times = Vec::new();
    for _ in 0..51 {
        let state = CallState::new(SandboxSpec {
            label: "bench".into(),
            declared_hosts: &[],
            config_defaults: Default::default(),
            channel: Arc::new(ChannelContext::none()),
            state: Arc::new(MemoryState::default()),
            memory_cap: rt.limits().memory_bytes,
            deadline: rt.limits().deadline,
        });
        let mut store = wasmtime::Store::new(rt.engine(), state);
        store.set_fuel(u64::MAX).unwrap();
        store.set_epoch_deadline(1 << 40);
        let started = Instant::now();
        let instance = prepared
            .adapter
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .expect("the plugin instantiates");
        drop((instance, store));
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, path) in plugins() {
        tokio.block_on(load_figures(name, &path));
    }

    let rt = runtime(test_limits(), None);
    let loaded: Vec<(&str, LoadedPlugin)> = plugins()
        .into_iter()
        .map(|(name, path)| (name, tokio.block_on(load(&rt, &path))))
        .collect();
    let mut group = c.benchmark_group("describe");
    for (name, plugin) in &loaded {
        group.bench_function(*name, |b| {
            b.to_async(&tokio).iter(|| async {
                black_box(rt.describe(&plugin.callee()).await.result.unwrap());
            })
        });
    }
    group.finish();

    let woo_shop = tokio.block_on(serve(WooCommerce::new(&["7"])));
    let example_shop = tokio.block_on(serve(ExampleShop::new(&["7"])));
    let woo_channel = channel(
        &woo_shop.url,
        &[("consumer-key", "ck_test"), ("consumer-secret", "cs_test")],
    );
    let example_channel = channel(&example_shop.url, &[("api-key", API_KEY)]);
    let mut group = c.benchmark_group("push-status loopback");
    for (name, plugin) in &loaded {
        let (ctx, to) = match *name {
            "generic (Rust)" => continue,
            "woocommerce (Rust)" => (&woo_channel, "processing"),
            _ => (&example_channel, "paid"),
        };
        group.bench_function(*name, |b| {
            b.to_async(&tokio).iter(|| async {
                let report = rt
                    .push_status(
                        &plugin.callee(),
                        ctx,
                        "7",
                        Dimension::Order,
                        "pending",
                        to,
                        "k",
                    )
                    .await;
                black_box(report.result.unwrap());
            })
        });
    }
    group.finish();
    // The fakes keep every request; drop them so their logs stop growing.
    drop((woo_shop, example_shop));
}

criterion_group!(benches, bench);
criterion_main!(benches);
