//! The host's instance pool fits as many calls of a large plugin at once as
//! it lets in. A Python plugin made by componentize-py is 14 core
//! instances (the interpreter and its native libraries, linked
//! dynamically), where a Rust plugin is 3; a pool sized for Rust plugins
//! ran out of core instances with a few dozen Python calls waiting on
//! their platform, and the calls past that failed to instantiate.

use std::sync::Arc;
use std::time::Duration;

use statusport_core::domain::platform::Dimension;
use statusport_runtime::Limits;
use statusport_tests::fake::exampleshop::API_KEY;
use statusport_tests::{channel, example_path, load, runtime};

use crate::cache_dir;

/// A shop that takes a while to answer every request, so that the calls
/// waiting on it all hold their instance at once.
async fn slow_shop(delay: Duration) -> String {
    let app = axum::Router::new().fallback(move || async move {
        tokio::time::sleep(delay).await;
        axum::Json(serde_json::json!({ "id": "1001", "status": "paid" }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_many_python_calls_as_the_host_has_slots_run_at_once() {
    const SLOTS: u32 = 16;
    let limits = Limits {
        concurrent_calls: SLOTS,
        deadline: Duration::from_secs(20),
        ..Limits::default()
    };
    let rt = runtime(limits, Some(cache_dir()));
    let plugin = Arc::new(load(&rt, &example_path("python")).await);
    let url = slow_shop(Duration::from_millis(1500)).await;
    let ctx = Arc::new(channel(&url, &[("api-key", API_KEY)]));
    let calls: Vec<_> = (0..SLOTS)
        .map(|i| {
            let (rt, plugin, ctx) = (rt.clone(), plugin.clone(), ctx.clone());
            tokio::spawn(async move {
                let report = rt
                    .push_status(
                        &plugin.callee(),
                        &ctx,
                        "1001",
                        Dimension::Order,
                        "pending",
                        "paid",
                        &format!("key-{i}"),
                    )
                    .await;
                (report.result, report.elapsed)
            })
        })
        .collect();
    let mut failed = Vec::new();
    let mut slowest = Duration::ZERO;
    for call in calls {
        let (result, elapsed) = call.await.unwrap();
        slowest = slowest.max(elapsed);
        if let Err(e) = result {
            failed.push(e.to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {SLOTS} calls failed: {failed:#?}",
        failed.len()
    );
    // They ran at once: none waited for another's slot.
    assert!(slowest < Duration::from_millis(1500 * 2), "{slowest:?}");
}
