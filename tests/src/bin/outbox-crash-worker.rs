//! The process the outbox crash test kills: it opens a store, starts the
//! outbox against a WooCommerce shop and an SMTP server that the test runs,
//! then creates `orders` orders, each with a done tracked shipment (three
//! jobs each: upload, status push, mail), while the outbox delivers. It
//! prints `idle` and exits once no job is left. Started again on the same
//! store, it carries on: orders and events already there are duplicates,
//! jobs waiting are delivered with their idempotency keys.
//!
//! Usage: outbox-crash-worker <data-dir> <shop-url> <smtp-port> <orders>

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use statusport::notify::mail::{MailConfig, Mailer, Security, SmtpConfig};
use statusport::notify::webhook::WebhookSender;
use statusport::outbox::{Outbox, OutboxConfig, Services};
use statusport_core::domain::event::Event;
use statusport_core::domain::order::{Actor, Customer};
use statusport_core::engine::{Engine, rulesets};
use statusport_core::store::Store;
use statusport_runtime::registry::Registry;
use statusport_tests::shop::{SHIP_RULE, dhl_shipment, teapot_order, woo_channel};
use statusport_tests::{plugin_path, runtime, test_limits};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, shop, smtp_port, orders] = args.as_slice() else {
        anyhow::bail!("usage: outbox-crash-worker <data-dir> <shop-url> <smtp-port> <orders>");
    };
    let data = PathBuf::from(data);
    let orders: u64 = orders.parse()?;
    let plugins = data.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(plugin_path("woocommerce"), plugins.join("woocommerce.wasm"))?;
    let registry = Registry::open(runtime(test_limits(), Some(data.join("cache"))), &plugins)
        .await
        .map_err(anyhow::Error::msg)?;
    let store = Arc::new(Store::open(&data.join("store"))?);
    let engine = Arc::new(Engine::new(store.clone(), registry.clone())?);
    engine.save_channel(&woo_channel(shop, None))?;
    store.put_customer(
        &"woo".try_into().unwrap(),
        &Customer {
            id: "c-1".into(),
            channel: None,
            name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: None,
            address: Vec::new(),
        },
    )?;
    rulesets::install_templates(&engine)?;
    engine.import_rules(SHIP_RULE)?;
    let mailer = Mailer::new(
        &MailConfig {
            from: "Teapot Shop <shop@teapots.example>".into(),
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(smtp_port.parse()?),
                security: Security::None,
                username: None,
                password: None,
                timeout_secs: 10,
                pool_size: 8,
            }),
            spool_dir: None,
        },
        &data,
    )
    .map_err(anyhow::Error::msg)?;
    let outbox = Outbox::start(
        store.clone(),
        Services {
            plugins: Some(registry.clone()),
            mailer: Some(Arc::new(mailer)),
            sms: None,
            webhooks: Arc::new(
                WebhookSender::new(Duration::from_secs(5)).map_err(anyhow::Error::msg)?,
            ),
        },
        OutboxConfig {
            backoff_base_ms: 50,
            backoff_max_ms: 500,
            ..OutboxConfig::default()
        },
    )
    .map_err(anyhow::Error::msg)?;
    println!("started");

    // Orders arrive while the outbox works, sixteen at a time.
    let mut next = 1;
    while next <= orders {
        let mut tasks = Vec::new();
        for i in next..(next + 16).min(orders + 1) {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move { seed(&engine, i).await }));
        }
        for task in tasks {
            task.await??;
        }
        next += 16;
    }
    println!("seeded");

    loop {
        let active = store.active_jobs()?;
        if active.is_empty() {
            break;
        }
        if let Some((job, state)) = active.iter().find(|(_, s)| s.failure.is_some()) {
            anyhow::bail!("job {} failed: {:?}", job.id, state.failure);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    outbox.shutdown(Duration::from_secs(10)).await;
    store.flush().await?;
    println!("idle");
    Ok(())
}

async fn seed(engine: &Engine, i: u64) -> anyhow::Result<()> {
    let (order, _) = engine
        .create_order(teapot_order("woo", &i.to_string()), Actor::System, true)
        .await?;
    engine
        .apply(Event {
            id: format!("ship-{i}"),
            order: order.id,
            actor: Actor::System,
            kind: dhl_shipment(&format!("T{i:08}")),
            occurred_at: None,
        })
        .await?;
    Ok(())
}
