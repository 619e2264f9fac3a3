//! The outbox, bulk jobs, health and metrics over the API.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use statusport_core::domain::platform::Dimension;

use crate::{Api, problem};

/// The order's push job.
fn push_of(jobs: &Value) -> Option<&Value> {
    jobs.as_array()?
        .iter()
        .find(|j| j["job"]["kind"]["type"] == "push_status")
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_jobs_are_listed_retried_and_dropped() {
    let api = Api::start().await;
    let rule = json!({"id": "push", "platform": "woocommerce", "on": ["status_changed"],
        "then": {"push_status": true}});
    assert_eq!(
        api.post("/api/rules", &api.admin, &rule).await.0,
        StatusCode::CREATED
    );
    let mut failed_ids = Vec::new();
    for platform_id in ["w-1", "w-2"] {
        let order = api.order("woo", platform_id).await;
        api.woo.inject_after(
            0,
            400,
            &[],
            json!({"code": "woocommerce_rest_shop_order_invalid_status", "message": "Invalid status"}),
        );
        let (status, _) = api
            .post(
                &format!("/api/orders/{order}/status"),
                &api.admin,
                &json!({"dimension": "order", "to": "processing"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let jobs = api
            .wait_for(&format!("/api/orders/{order}/jobs"), |jobs| {
                push_of(jobs).is_some_and(|j| j["state"]["status"] == "failed")
            })
            .await;
        failed_ids.push(push_of(&jobs).unwrap()["job"]["id"].as_u64().unwrap());
    }
    let (status, failed) = api.get("/api/jobs", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<u64> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, failed_ids);
    assert!(
        failed
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "failed"),
        "{failed:#}"
    );
    let (_, health) = api.get("/healthz", "").await;
    assert_eq!(health["jobs_failed"], failed_ids.len(), "{health}");
    assert!(
        failed[0]["state"]["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid status"),
        "{failed:#}"
    );
    let (status, active) = api.get("/api/jobs?state=active", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(active.as_array().unwrap().len() >= 2);
    let (status, _) = api.get("/api/jobs?state=weird", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Retried: the shop takes it now.
    let viewer = api.token("vera", "viewer", None).await;
    let retry = format!("/api/jobs/{}/retry", failed_ids[0]);
    assert_eq!(
        api.call(Method::POST, &retry, &viewer, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = api.call(Method::POST, &retry, &api.admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let job = api
        .wait_for(&format!("/api/jobs/{}", failed_ids[0]), |j| {
            j["done"]["outcome"]["outcome"] == "delivered"
        })
        .await;
    // Finished: no active state, but a status all the same.
    assert!(job["state"].is_null());
    assert_eq!(job["status"], "delivered", "{job:#}");
    // Dropped: ends without delivery, naming who dropped it.
    let drop = format!("/api/jobs/{}/drop", failed_ids[1]);
    let (status, body) = api.call(Method::POST, &drop, &api.admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"]["by"], "admin");
    let (_, job) = api
        .get(&format!("/api/jobs/{}", failed_ids[1]), &api.admin)
        .await;
    assert_eq!(job["status"], "dropped", "{job:#}");
    assert!(job["state"].is_null());
    let (status, body) = api.call(Method::POST, &drop, &api.admin, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(problem(&body), "conflict");
    let (status, _) = api
        .call(Method::POST, "/api/jobs/99999999/retry", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/api/jobs/99999999", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, failed) = api.get("/api/jobs", &api.admin).await;
    assert_eq!(failed, json!([]));
    let (_, health) = api.get("/healthz", "").await;
    assert_eq!(health["jobs_failed"], 0, "{health}");

    // The metrics saw all of it.
    let response = api
        .http
        .get(format!("{}/metrics", api.url))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let metrics = response.text().await.unwrap();
    for name in [
        "statusport_http_requests_total",
        "statusport_http_request_duration_seconds_bucket",
        "statusport_transitions_total",
        "statusport_plugin_calls_total",
        "statusport_plugin_call_duration_seconds_bucket",
        "statusport_job_attempts_total",
        "statusport_jobs{state=\"failed\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    assert!(
        metrics.contains(r#"route="/api/orders/{id}/status""#),
        "requests are counted by route, not by path"
    );
    let (status, health) = api.get("/healthz", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["plugins"], 3);
    assert_eq!(health["jobs_failed"], 0);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_jobs_dry_run_start_and_report() {
    let api = Api::start().await;
    for i in 0..30 {
        api.order("gen", &format!("g-{i}")).await;
    }
    api.order("woo", "w-1").await;
    let spec = json!({"filter": {"channel": "gen"},
        "action": {"type": "set_status", "status": "order:processing"}});
    let operator = api.token("otto", "operator", None).await;
    let viewer = api.token("vera", "viewer", None).await;
    assert_eq!(
        api.post("/api/bulk/dry-run", &viewer, &spec).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, dry) = api.post("/api/bulk/dry-run", &operator, &spec).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["matched"], 30);
    assert_eq!(dry["would_change"], 30);
    let (_, page) = api
        .get("/api/orders?status=order:processing", &api.admin)
        .await;
    assert!(
        page["orders"].as_array().unwrap().is_empty(),
        "a dry run changes nothing"
    );

    let before = order_transitions(&api).await;
    let (status, job) = api.post("/api/bulk", &operator, &spec).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap();
    let done = api
        .wait_for(&format!("/api/bulk/{id}"), |j| j["state"] == "done")
        .await;
    assert_eq!(done["changed"], 30);
    assert!(
        order_transitions(&api).await - before >= 30.0,
        "a bulk job's changes are counted in the metrics"
    );
    assert_eq!(done["actor"], json!({"kind": "user", "name": "otto"}));
    let (_, page) = api
        .get("/api/orders?status=order:processing&limit=100", &api.admin)
        .await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 30);
    let (_, list) = api.get("/api/bulk", &viewer).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = api
        .call(Method::POST, "/api/bulk/nope/cancel", &operator, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/api/bulk/nope", &viewer).await.0,
        StatusCode::NOT_FOUND
    );
    // Cancelling a finished job changes nothing: the answer is the job as
    // it ended.
    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/api/bulk/{id}/cancel"),
            &operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, done, "a finished job stays as it ended");
    assert_eq!(api.get(&format!("/api/bulk/{id}"), &viewer).await.1, done);

    // A running job, cancelled, stops at its next checkpoint (every 2,000
    // orders walked) and keeps what it changed. It is cancelled once it has
    // changed orders, and stops at the latest at its second checkpoint,
    // before these orders are all walked.
    const ORDERS: usize = 4_300;
    let mut creating = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (http, url, admin) = (api.http.clone(), api.url.clone(), api.admin.clone());
        creating.spawn(async move {
            for i in (worker..ORDERS).step_by(8) {
                let response = http
                    .post(format!("{url}/api/orders"))
                    .bearer_auth(&admin)
                    .json(&crate::new_order("gen", &format!("many-{i}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        });
    }
    while let Some(created) = creating.join_next().await {
        created.unwrap();
    }
    let many = json!({"filter": {"channel": "gen", "status": "order:received"},
        "action": {"type": "set_status", "status": "order:processing"}});
    let (status, job) = api.post("/api/bulk", &operator, &many).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap();
    let store = &api.server.as_ref().unwrap().store;
    let in_status = |code: &str| {
        store
            .orders_in_status("gen", Dimension::Order, code)
            .unwrap()
            .len()
    };
    let started = std::time::Instant::now();
    while in_status("processing") == 30 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "bulk job {id} changed no order"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/api/bulk/{id}/cancel"),
            &operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], "cancelled", "{answer}");
    let stopped = api
        .wait_for(&format!("/api/bulk/{id}"), |j| {
            j["state"] == "cancelled" && j["cursor"].is_u64()
        })
        .await;
    let (processing, received) = (in_status("processing"), in_status("received"));
    let changed = usize::try_from(stopped["changed"].as_u64().unwrap()).unwrap();
    assert!(
        changed > 0 && changed < ORDERS,
        "the job changed orders, then stopped: {stopped:#}"
    );
    assert_eq!(processing, 30 + changed, "what it changed stays changed");
    assert_eq!(received, ORDERS - changed, "the rest is untouched");
    assert_eq!(stopped["matched"], stopped["changed"], "{stopped:#}");
    // It stays stopped.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        api.get(&format!("/api/bulk/{id}"), &viewer).await.1,
        stopped
    );
    assert_eq!(in_status("received"), received);
    let (status, body) = api
        .post(
            "/api/bulk",
            &operator,
            &json!({"filter": {}, "action": {"type": "set_status", "status": "order:nirvana"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    api.stop().await;
}

/// `statusport_transitions_total` of the order dimension set by events.
async fn order_transitions(api: &Api) -> f64 {
    let metrics = api.metrics().await;
    metrics
        .lines()
        .find(|l| {
            l.starts_with("statusport_transitions_total")
                && l.contains(r#"dimension="order""#)
                && l.contains(r#"by="event""#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
