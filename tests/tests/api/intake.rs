//! Intake through the host: a polling channel's orders come in by
//! themselves, `POST /hooks/{channel}` takes signed webhooks (401 and the
//! audit log for a forged one), and a replay changes nothing. The 1.1
//! fixture plugin stands for the platform here; the bundled plugins' intake
//! is tested against their fake platforms in `plugins`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, problem};

async fn start() -> Api {
    Api::start_with(|config| {
        let fixture = statusport_tests::fixture_path("intake");
        std::fs::copy(&fixture, config.plugin_dir.join("fixture-intake.wasm")).unwrap();
    })
    .await
}

/// Channel `id` on the fixture plugin, serving `orders` orders to pulls.
/// (Metrics are one per test process: each test has its own channel id.)
async fn fixture_channel(api: &Api, id: &str, orders: u32, poll: Option<u32>) {
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/channels/{id}"),
            &api.admin,
            Some(
                &json!({"id": id, "name": "Fixture", "plugin": "intake-fixture",
                "config": {"orders": orders.to_string(), "secret": "s3cret"},
                "poll_interval_secs": poll}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn orders_of(api: &Api, channel: &str) -> Vec<Value> {
    let (status, body) = api
        .get(
            &format!("/api/orders?channel={channel}&limit=1000"),
            &api.admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["orders"].as_array().cloned().unwrap_or_default()
}

async fn hook(api: &Api, channel: &str, signature: &str, body: &str) -> (StatusCode, Value) {
    let response = api
        .http
        .post(format!("{}/hooks/{channel}", api.url))
        .header("x-fixture-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn wait_for_orders(api: &Api, channel: &str, count: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let orders = orders_of(api, channel).await;
        if orders.len() >= count {
            return orders;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "only {} of {count} orders came in",
            orders.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_polling_channel_imports_every_order_once_and_shows_where_it_stands() {
    let api = start().await;
    fixture_channel(&api, "fx-poll", 7, Some(1)).await;
    let orders = wait_for_orders(&api, "fx-poll", 7).await;
    // Another poll or two go by: nothing comes twice.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let orders_later = orders_of(&api, "fx-poll").await;
    assert_eq!(orders_later.len(), 7, "{orders_later:#?}");
    let mut ids: Vec<&str> = orders
        .iter()
        .map(|o| o["platform_order_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["F-0", "F-1", "F-2", "F-3", "F-4", "F-5", "F-6"]);
    let f3 = orders
        .iter()
        .find(|o| o["platform_order_id"] == "F-3")
        .unwrap();
    assert_eq!(
        f3["statuses"]["order"]["set_by"]["kind"], "platform",
        "{f3:#}"
    );

    let (status, state) = api.get("/api/channels/fx-poll/intake", &api.admin).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["cursor"], "7", "{state:#}");
    assert_eq!(state["imported"]["created"], 7, "{state:#}");
    assert!(state["last_success"].is_string(), "{state:#}");
    assert!(state["last_error"].is_null(), "{state:#}");
    let (status, customer) = api
        .get("/api/customers/cust-3?channel=fx-poll", &api.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    assert_eq!(customer["address"], json!(["1 Main Street", "12345 Town"]));

    let metrics = api.metrics().await;
    assert!(
        metrics.contains(r#"statusport_intake_items_total{channel="fx-poll",outcome="created"} 7"#),
        "{metrics}"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_webhook_is_taken_once_when_signed_and_refused_with_401_when_forged() {
    let api = start().await;
    fixture_channel(&api, "fx", 3, Some(1)).await;
    wait_for_orders(&api, "fx", 3).await;
    let order = orders_of(&api, "fx")
        .await
        .into_iter()
        .find(|o| o["platform_order_id"] == "F-1")
        .unwrap();
    let id = order["id"].as_u64().unwrap();

    // Forged: 401, nothing changed, the audit log and the channel say so.
    let (status, body) = hook(&api, "fx", "guess", "F-1:done").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(problem(&body), "unauthorized");
    assert!(
        body["detail"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    let (_, unchanged) = api.get(&format!("/api/orders/{id}"), &api.admin).await;
    assert_eq!(unchanged["statuses"]["order"]["code"], "open");
    assert_eq!(unchanged["version"], order["version"]);
    let (_, state) = api.get("/api/channels/fx/intake", &api.admin).await;
    assert_eq!(state["last_error"]["kind"], "auth", "{state:#}");
    assert_eq!(state["last_error"]["during"], "webhook", "{state:#}");
    let (_, audit) = api.get("/api/audit?limit=50", &api.admin).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "/hooks/fx" && e["status"] == 401),
        "{audit:#}"
    );

    // Signed: the change is on disk when the answer comes.
    let (status, report) = hook(&api, "fx", "s3cret", "F-1:done").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["changed"], 1, "{report}");
    let (_, changed) = api.get(&format!("/api/orders/{id}"), &api.admin).await;
    assert_eq!(changed["statuses"]["order"]["code"], "done");
    assert_eq!(changed["statuses"]["order"]["set_by"]["kind"], "platform");

    // Replayed: the same delivery changes nothing.
    let (status, report) = hook(&api, "fx", "s3cret", "F-1:done").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["changed"].as_u64(), report["unchanged"].as_u64()),
        (Some(0), Some(1))
    );
    let (_, replayed) = api.get(&format!("/api/orders/{id}"), &api.admin).await;
    assert_eq!(replayed["version"], changed["version"]);
    let (_, history) = api
        .get(&format!("/api/orders/{id}/history"), &api.admin)
        .await;
    let entries = history.as_array().map(Vec::len).unwrap_or(0);
    assert!(entries > 0, "{history}");

    // A delivery the plugin cannot read is a 400 naming what is wrong.
    let (status, body) = hook(&api, "fx", "s3cret", "no colon here").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("<order>:<status>"),
        "{body}"
    );
    api.stop().await;
}

#[tokio::test]
async fn hooks_name_what_is_wrong_with_the_channel_or_the_body() {
    let api = start().await;
    let (status, body) = hook(&api, "nope", "x", "F-1:done").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nope"), "{body}");
    // A 1.0 plugin takes nothing in.
    let (status, body) = hook(&api, "gen", "x", "F-1:done").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("takes no orders in"),
        "{body}"
    );
    // Nor may its channel poll.
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/channels/gen",
            &api.admin,
            Some(&json!({"id": "gen", "name": "Generic", "plugin": "generic", "poll_interval_secs": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "poll_interval_secs", "{body}");
    // The body limit holds without a token too.
    fixture_channel(&api, "fx-quiet", 1, None).await;
    let big = "x".repeat(2 * 1024 * 1024);
    let (status, _) = hook(&api, "fx-quiet", "s3cret", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    api.stop().await;
}

/// Pushes every order status change of a WooCommerce order to the shop.
const PUSH_WOO_STATUS: &str = r#"
[[rule]]
id = "push-woo-status"
platform = "woocommerce"
on = ["status_changed"]
then = { push_status = true }
"#;

#[tokio::test]
async fn woocommerce_orders_and_changes_come_in_by_polling_and_webhooks_and_are_not_pushed_back() {
    use statusport_tests::delivery;
    use statusport_tests::fake::serve;
    use statusport_tests::fake::woocommerce::WooCommerce;

    let api = start().await;
    assert_eq!(api.import_rules(PUSH_WOO_STATUS).await, StatusCode::OK);
    let shop = serve(WooCommerce::seeded(3)).await;
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/channels/woo-in",
            &api.admin,
            Some(
                &json!({"id": "woo-in", "name": "Teapot Shop", "plugin": "woocommerce",
                "base_url": shop.url,
                "config": {"consumer-key": "ck_test", "consumer-secret": "cs_test",
                    "webhook-secret": "whs"},
                "poll_interval_secs": 1}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let orders = wait_for_orders(&api, "woo-in", 3).await;
    let id_of = |platform_id: &str| {
        orders
            .iter()
            .find(|o| o["platform_order_id"] == platform_id)
            .unwrap_or_else(|| panic!("order {platform_id} came in: {orders:#?}"))["id"]
            .as_u64()
            .unwrap()
    };
    let (two, three) = (id_of("2"), id_of("3"));

    // Cancelled in the shop's back office: the next poll brings it.
    shop.state().cancel("2");
    api.wait_for(&format!("/api/orders/{two}"), |o| {
        o["statuses"]["order"]["code"] == "cancelled"
    })
    .await;
    let (_, history) = api
        .get(&format!("/api/orders/{two}/history"), &api.admin)
        .await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["change"]["type"] == "skipped"
                && h["change"]["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("came from this platform")),
        "{history:#}"
    );

    // Completed in the shop and delivered by webhook: on disk when the
    // answer comes; the same delivery again changes nothing; a forged one
    // is 401 and on the channel's state.
    shop.state().ship("3");
    let delivery = shop.state().webhook("3", "order.updated", "whs");
    let url = format!("{}/hooks/woo-in", api.url);
    assert_eq!(delivery::post(&url, &delivery).await, 200);
    let (_, three_now) = api.get(&format!("/api/orders/{three}"), &api.admin).await;
    assert_eq!(
        three_now["statuses"]["order"]["code"], "completed",
        "{three_now:#}"
    );
    assert_eq!(delivery::post(&url, &delivery).await, 200);
    let (_, three_again) = api.get(&format!("/api/orders/{three}"), &api.admin).await;
    assert_eq!(three_again["version"], three_now["version"]);
    let forged = delivery.with_header("X-WC-Webhook-Signature", "bm90IHRoZSBzaWduYXR1cmU=");
    assert_eq!(delivery::post(&url, &forged).await, 401);
    let (_, state) = api.get("/api/channels/woo-in/intake", &api.admin).await;
    assert_eq!(state["last_error"]["kind"], "auth", "{state:#}");

    // Neither platform status went back to the shop.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let pushes: Vec<_> = shop
        .received()
        .into_iter()
        .filter(|r| r.method == "PUT" || r.method == "POST")
        .collect();
    assert!(pushes.is_empty(), "nothing is pushed back: {pushes:#?}");
    api.stop().await;
}

#[tokio::test]
async fn a_throttled_poll_is_shown_on_the_channel_and_in_the_metrics_and_waits_as_asked() {
    use statusport_tests::fake::serve;
    use statusport_tests::fake::woocommerce::WooCommerce;

    let api = start().await;
    let shop = serve(WooCommerce::seeded(4)).await;
    shop.inject(
        429,
        &[("Retry-After", "2")],
        json!({"code": "too_many_requests", "message": "Slow down.", "data": {"status": 429}}),
    );
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/channels/woo-slow",
            &api.admin,
            Some(
                &json!({"id": "woo-slow", "name": "Busy shop", "plugin": "woocommerce",
                "base_url": shop.url,
                "config": {"consumer-key": "ck_test", "consumer-secret": "cs_test"},
                "poll_interval_secs": 1}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let state = api
        .wait_for("/api/channels/woo-slow/intake", |s| {
            !s["last_error"].is_null()
        })
        .await;
    assert_eq!(state["last_error"]["kind"], "transient", "{state:#}");
    assert_eq!(state["last_error"]["during"], "pull", "{state:#}");
    assert_eq!(state["failures"], 1, "{state:#}");
    let not_before: jiff::Timestamp = state["not_before"].as_str().unwrap().parse().unwrap();
    let at: jiff::Timestamp = state["last_error"]["at"].as_str().unwrap().parse().unwrap();
    let wait = not_before.duration_since(at).as_secs_f64();
    assert!(
        (1.5..=2.5).contains(&wait),
        "the platform's 2 s are waited: {wait} s"
    );
    let metrics = api.metrics().await;
    assert!(
        metrics.contains(
            r#"statusport_intake_failures_total{channel="woo-slow",during="pull",kind="transient"} 1"#
        ),
        "{metrics}"
    );
    // No pull while the platform's wait runs (the interval is 1 s); after
    // it, the poll comes through and the error is cleared.
    let asked = shop.received().len();
    let remaining = not_before
        .duration_since(jiff::Timestamp::now())
        .as_secs_f64()
        - 0.3;
    if remaining > 0.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(remaining)).await;
        assert_eq!(
            shop.received().len(),
            asked,
            "no pull before the platform's wait ends"
        );
    }
    wait_for_orders(&api, "woo-slow", 4).await;
    let state = api
        .wait_for("/api/channels/woo-slow/intake", |s| {
            s["last_error"].is_null()
        })
        .await;
    assert_eq!(state["failures"], 0, "{state:#}");
    assert!(state["last_success"].is_string(), "{state:#}");
    api.stop().await;
}
