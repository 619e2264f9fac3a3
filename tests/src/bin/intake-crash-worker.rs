//! The process the intake crash test kills: it opens a store with one
//! polling channel on a plugin with intake, prints `started`, then pulls
//! batch after batch through the service's intake (`pull_all`, what
//! `serve`'s poll loop runs: the next batch pulled while one is written) until the plugin has nothing more, prints `idle` and exits.
//! Started again on the same store, it goes on from the stored cursor.
//!
//! Usage: intake-crash-worker <data-dir> <plugin.wasm> <base-url> <name=value,...>

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use statusport::intake::Intake;
use statusport_core::domain::order::Channel;
use statusport_core::engine::Engine;
use statusport_core::store::Store;
use statusport_runtime::registry::Registry;
use statusport_tests::{runtime, shop, test_limits};

/// One job per imported order: a webhook event on its creation.
pub const CREATED_RULE: &str = r#"
[[rule]]
id = "announce-new-order"
channels = ["shop"]
on = ["order_created"]
then = { webhook = "order.created" }
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, plugin, base_url, config] = args.as_slice() else {
        anyhow::bail!(
            "usage: intake-crash-worker <data-dir> <plugin.wasm> <base-url> <name=value,...>"
        );
    };
    let data = PathBuf::from(data);
    let plugins = data.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    let plugin = PathBuf::from(plugin);
    let file = plugin.file_name().expect("a plugin file name");
    if !plugins.join(file).exists() {
        std::fs::copy(&plugin, plugins.join(file))?;
    }
    let registry = Registry::open(runtime(test_limits(), Some(data.join("cache"))), &plugins)
        .await
        .map_err(anyhow::Error::msg)?;
    let plugin_id = registry
        .plugins()
        .first()
        .map(|p| p.platform.id.clone())
        .ok_or_else(|| anyhow::anyhow!("the plugin did not load: {:?}", registry.refusals()))?;
    let store = Arc::new(Store::open(&data.join("store"))?);
    let engine = Arc::new(Engine::new(store.clone(), registry.clone())?);
    let channel = match store.channel("shop")? {
        Some(channel) => channel,
        None => {
            let pairs: Vec<(&str, &str)> = config
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .collect();
            let channel = Channel {
                poll_interval_secs: Some(1),
                ..shop::channel("shop", &plugin_id, Some(base_url), &pairs)
            };
            engine.save_channel(&channel)?;
            channel
        }
    };
    if engine.rules().is_empty() {
        engine.import_rules(CREATED_RULE)?;
    }
    store.flush().await?;
    println!("started");
    let intake = Intake::new(engine, registry);
    loop {
        match intake.pull_all(&channel).await {
            Ok(_) => break,
            Err(e) => {
                eprintln!("pull failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    println!("idle");
    store.flush().await?;
    Ok(())
}
