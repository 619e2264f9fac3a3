//! Cost of a plugin call: a fresh sandbox from the pre-instantiated
//! template plus `describe`, and `push-status` against a loopback fake
//! WooCommerce — each beside the same logic written as native Rust, so the
//! sandbox's overhead reads as a ratio.
//!
//! Needs the built plugins: `cargo xtask plugins`, then
//! `cargo bench -p statusport-tests --bench plugin_call`.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use statusport_core::domain::platform::{Dimension, RawPlatformInfo, StatusDef, validate};
use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::{channel, load, plugin_path, runtime, test_limits};

/// What the generic plugin's `describe` builds, built natively.
fn native_describe() -> RawPlatformInfo {
    const ORDER: &[(&str, &str)] = &[
        ("not_approved", "Not approved"),
        ("approved", "Approved"),
        ("received", "Received"),
        ("processing", "Processing"),
        ("produced", "Produced"),
        ("delivered", "Delivered"),
        ("invoiced", "Invoiced"),
        ("archived", "Archived"),
        ("cancelled", "Cancelled"),
        ("error", "Error"),
        ("rejected", "Rejected"),
        ("payment_failed", "Payment failed"),
        ("payment_waiting", "Payment waiting"),
        ("reminder_1", "Reminder 1"),
        ("reminder_2", "Reminder 2"),
    ];
    const PAYMENT: &[(&str, &str)] = &[
        ("not_paid", "Not paid"),
        ("payment_announced", "Payment announced"),
        ("paid", "Paid"),
    ];
    let status = |dimension, (code, label): &(&str, &str)| StatusDef {
        code: (*code).to_owned(),
        label: (*label).to_owned(),
        dimension,
        terminal: matches!(*code, "archived" | "cancelled"),
        initial: matches!(*code, "received" | "not_paid"),
    };
    RawPlatformInfo {
        id: "generic".into(),
        name: "Generic (no platform)".into(),
        version: "1.0.0".into(),
        statuses: ORDER
            .iter()
            .map(|s| status(Dimension::Order, s))
            .chain(PAYMENT.iter().map(|s| status(Dimension::Payment, s)))
            .collect(),
        transitions: vec![],
        carriers: ["dhl", "dpd", "gls", "ups", "fedex", "usps", "hermes"]
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        config: vec![],
        extra_hosts: vec![],
    }
}

/// What the WooCommerce plugin's `push-status` does, natively: one PUT with
/// Basic auth and a JSON body on a fresh connection (as the sandbox's HTTP
/// opens one per request), the answer read and checked.
async fn native_push(authority: &str, order: &str, to: &str) -> String {
    let stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let auth = base64::engine::general_purpose::STANDARD.encode("ck_test:cs_test");
    let body = serde_json::to_vec(&serde_json::json!({ "status": to })).unwrap();
    let request = hyper::Request::put(format!("/wp-json/wc/v3/orders/{order}"))
        .header("host", authority)
        .header("authorization", format!("Basic {auth}"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(answer["status"], to);
    format!("order {order} is now {to}")
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = runtime(test_limits(), None);
    let generic = tokio.block_on(load(&rt, &plugin_path("generic")));
    let woo = tokio.block_on(load(&rt, &plugin_path("woocommerce")));
    let shop = tokio.block_on(serve(WooCommerce::new(&["7"])));
    let ctx = channel(
        &shop.url,
        &[("consumer-key", "ck_test"), ("consumer-secret", "cs_test")],
    );
    let authority = shop.url.trim_start_matches("http://").to_owned();

    let mut group = c.benchmark_group("describe");
    group.bench_function("sandbox", |b| {
        b.to_async(&tokio).iter(|| async {
            let report = rt.describe(&generic.callee()).await;
            black_box(report.result.unwrap());
        })
    });
    group.bench_function("native", |b| b.iter(|| black_box(native_describe())));
    group.bench_function("sandbox+validate", |b| {
        b.to_async(&tokio).iter(|| async {
            let report = rt.describe(&generic.callee()).await;
            black_box(validate(report.result.unwrap()).unwrap());
        })
    });
    group.finish();

    let mut group = c.benchmark_group("push-status loopback");
    group.bench_function("sandbox", |b| {
        b.to_async(&tokio).iter(|| async {
            let report = rt
                .push_status(
                    &woo.callee(),
                    &ctx,
                    "7",
                    Dimension::Order,
                    "pending",
                    "processing",
                    "k",
                )
                .await;
            black_box(report.result.unwrap());
        })
    });
    group.bench_function("native", |b| {
        b.to_async(&tokio)
            .iter(|| async { black_box(native_push(&authority, "7", "processing").await) })
    });
    group.finish();
    // The fake keeps every request; drop it so the log does not grow on.
    drop(shop);
}

criterion_group!(benches, bench);
criterion_main!(benches);
