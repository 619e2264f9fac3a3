//! The process the engine crash test kills: it opens a store, creates
//! `orders` card orders, applies one payment to each (eight at a time), then
//! runs a bulk job over them, printing each transition once it is durable.
//! Started again on the same store, it carries on: events already applied
//! are duplicates, an unfinished bulk job resumes.
//!
//! With `goods` as a fourth argument it plays goods receipts instead: it
//! creates `orders` orders, each holding one of eight articles that are
//! out of stock (then prints `started`), wakes the orders of any receipt whose wake-up was noted
//! before a kill (as `serve` does at start), then books one receipt per
//! article, printing `booked <receipt>` once its orders are woken.
//!
//! Usage: engine-crash-worker <store-dir> <compiled-code-cache-dir> <orders> [goods]

use std::path::PathBuf;
use std::sync::Arc;

use statusport_core::domain::event::{Event, EventKind};
use statusport_core::domain::order::{Actor, Channel};
use statusport_core::engine::bulk::{BulkAction, BulkSpec, OrderFilter};
use statusport_core::engine::{Engine, NewOrder, Outcome, rulesets};
use statusport_core::store::Store;
use statusport_tests::{load, plugin_path, runtime, test_limits};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (store_dir, cache_dir, orders, goods) = match args.as_slice() {
        [_, store_dir, cache_dir, orders] => (store_dir, cache_dir, orders, false),
        [_, store_dir, cache_dir, orders, mode] if mode == "goods" => {
            (store_dir, cache_dir, orders, true)
        }
        _ => anyhow::bail!("usage: engine-crash-worker <store-dir> <cache-dir> <orders> [goods]"),
    };
    let orders: u64 = orders.parse()?;
    let rt = runtime(test_limits(), Some(PathBuf::from(cache_dir)));
    let generic = load(&rt, &plugin_path("generic")).await;
    let mut platforms = std::collections::BTreeMap::new();
    platforms.insert("generic".to_owned(), Arc::new(generic.platform.clone()));
    let store = Arc::new(Store::open(&PathBuf::from(store_dir))?);
    let engine = Arc::new(Engine::new(store.clone(), Arc::new(platforms))?);
    engine.save_channel(&Channel {
        id: "shop".try_into().map_err(anyhow::Error::msg)?,
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
    })?;
    rulesets::install(&engine, "card")?;
    if goods {
        return receipts(&engine, orders).await;
    }
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
            .create_order(
                new,
                Actor::Platform("shop".try_into().map_err(anyhow::Error::msg)?),
                true,
            )
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
            anyhow::Ok(())
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
                filter: OrderFilter {
                    status: Some("order:processing".parse().map_err(anyhow::Error::msg)?),
                    ..OrderFilter::default()
                },
                action: BulkAction::SetStatus {
                    status: "order:produced".parse().map_err(anyhow::Error::msg)?,
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

/// Articles of the goods receipt run.
pub const ARTICLES: u64 = 8;

async fn receipts(engine: &Engine, orders: u64) -> anyhow::Result<()> {
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
