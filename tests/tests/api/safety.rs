//! Nothing lost, nothing bypassed, over HTTP: the timer loop `serve` runs
//! goes on past a failing order, event ids are per order, late platform
//! statuses are stale, payments on cancelled orders are listed as refunds
//! due, and orders are found by the number people know.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::{Api, new_order, problem};

fn failures(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with("statusport_timer_failures_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_timer_goes_on_past_an_order_whose_event_fails_and_retries_it() {
    let api = Api::start_with(|c| c.engine.tick_secs = 1).await;
    assert_eq!(
        api.import_rules(statusport_tests::shop::LOOP_FOR_LARGE_ORDERS)
            .await,
        StatusCode::OK
    );
    // The large order first: the timer meets it before the small one.
    let large = api.order("gen", "t-large").await;
    let mut small = new_order("gen", "t-small");
    small["lines"][0]["quantity"] = json!(1);
    small["lines"][0]["unit_price"] = json!("10.00 EUR");
    let (status, body) = api.post("/api/orders", &api.admin, &small).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let small = body["id"].as_u64().unwrap();
    assert!(large < small);

    let moved = api
        .wait_for(&format!("/api/orders/{small}"), |o| {
            o["statuses"]["order"]["code"] == "payment_waiting"
        })
        .await;
    assert_eq!(moved["statuses"]["order"]["set_by"]["name"], "remind");
    // The failing order is counted, and tried again on the next tick.
    let started = Instant::now();
    loop {
        let metrics = api.metrics().await;
        let seen = failures(&metrics);
        if seen >= 2.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the failing order was not retried: {seen} failures counted in\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, large) = api.get(&format!("/api/orders/{large}"), &api.admin).await;
    assert_eq!(large["statuses"]["order"]["code"], "received");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_id_is_the_orders_own_and_a_reused_one_is_a_conflict() {
    let api = Api::start().await;
    let a = api.order("gen", "e-1").await;
    let b = api.order("woo", "w-1").await;
    let event = |reference: &str| json!({"id": "123", "event": {"type": "payment_matched", "reference": reference}});
    for order in [a, b] {
        let (status, body) = api
            .post(
                &format!("/api/orders/{order}/events"),
                &api.admin,
                &event("R1"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["outcome"], "applied", "{body}");
    }
    let (status, body) = api
        .post(&format!("/api/orders/{a}/events"), &api.admin, &event("R1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "duplicate");
    let (status, body) = api
        .post(&format!("/api/orders/{a}/events"), &api.admin, &event("R2"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(problem(&body), "conflict");
    assert!(body["detail"].as_str().unwrap().contains("R1"), "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_status_from_the_shop_is_recorded_as_stale() {
    let api = Api::start().await;
    let order = api.order("sw", crate::SW1).await;
    let connector = api.token("sw-bridge", "connector", Some("sw")).await;
    let status = |to: &str, at: &str| json!({"event": {"type": "set_status", "dimension": "order", "to": to}, "occurred_at": at});
    let url = format!("/api/orders/{order}/events");
    for (to, at) in [
        ("in_progress", "2026-12-01T10:05:00Z"),
        ("completed", "2026-12-01T10:10:00Z"),
        ("in_progress", "2026-12-01T10:07:00Z"),
    ] {
        let (code, body) = api.post(&url, &connector, &status(to, at)).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    let (_, body) = api.get(&format!("/api/orders/{order}"), &api.admin).await;
    assert_eq!(body["statuses"]["order"]["code"], "completed");
    let (_, history) = api
        .get(&format!("/api/orders/{order}/history"), &api.admin)
        .await;
    let stale: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["change"]["type"] == "stale")
        .collect();
    assert_eq!(stale.len(), 1, "{history:#}");
    assert_eq!(stale[0]["change"]["status"], "in_progress");
    // A bad time is refused by field.
    let (code, body) = api
        .post(&url, &connector, &status("open", "yesterday"))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "occurred_at", "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_on_a_cancelled_order_is_listed_as_a_refund_due() {
    let api = Api::start().await;
    let order = api.order("gen", "r-1").await;
    let other = api.order("gen", "r-2").await;
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/cancel"),
            &api.admin,
            &json!({"notify": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/events"),
            &api.admin,
            &json!({"event": {"type": "payment_matched", "reference": "LATE-1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["refund_due"], true);
    let (_, page) = api.get("/api/orders?refund_due=true", &api.admin).await;
    let ids: Vec<u64> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![order]);
    assert_ne!(ids, vec![other]);
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/events"),
            &api.admin,
            &json!({"event": {"type": "refund_settled", "reference": "RF-1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = api.get("/api/orders?refund_due=true", &api.admin).await;
    assert!(page["orders"].as_array().unwrap().is_empty(), "{page}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_is_found_by_its_number() {
    let api = Api::start().await;
    let id = api.order("gen", "n-1").await;
    let (_, order) = api.get(&format!("/api/orders/{id}"), &api.admin).await;
    let number = order["number"].as_str().unwrap();
    let (status, found) = api
        .get(&format!("/api/orders/by-number/{number}"), &api.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id"], id);
    let (status, body) = api.get("/api/orders/by-number/99999999", &api.admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A connector of another channel may not read it by number either.
    let woo = api.token("woo-bridge", "connector", Some("woo")).await;
    let (status, _) = api
        .get(&format!("/api/orders/by-number/{number}"), &woo)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    api.stop().await;
}
