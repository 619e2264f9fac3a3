//! Rules, templates, channels, plugins and webhooks over the API.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Api, problem};

#[tokio::test(flavor = "multi_thread")]
async fn rules_are_created_read_replaced_and_deleted() {
    let api = Api::start().await;
    let rule = json!({"id": "picked", "platform": "generic", "on": ["picked", "manual"],
        "from": ["order:received"], "when": {"expression": "order.picked"}, "to": "order:processing",
        "then": {"webhook": "order.picked"}});
    let (status, body) = api.post("/api/rules", &api.admin, &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api.post("/api/rules", &api.admin, &rule).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = api.get("/api/rules/picked", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["to"], "order:processing");
    let (_, list) = api.get("/api/rules", &api.admin).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A paused order is left alone by the rules until it is resumed.
    let paused = api.order("gen", "g-0").await;
    api.post(
        &format!("/api/orders/{paused}/pause"),
        &api.admin,
        &json!({}),
    )
    .await;
    let (_, body) = api
        .post(
            &format!("/api/orders/{paused}/events"),
            &api.admin,
            &json!({"event": {"type": "picked"}}),
        )
        .await;
    assert_eq!(
        body["order"]["statuses"]["order"]["code"], "received",
        "{body}"
    );
    assert_eq!(
        body["order"]["picked"], true,
        "the event's own change applies"
    );
    assert_eq!(body["jobs"], json!([]), "{body}");
    api.post(
        &format!("/api/orders/{paused}/resume"),
        &api.admin,
        &json!({}),
    )
    .await;
    // Resumed, the rules run again on the next event.
    let (_, body) = api
        .post(
            &format!("/api/orders/{paused}/events"),
            &api.admin,
            &json!({"id": "run-rules", "event": {"type": "manual"}}),
        )
        .await;
    assert_eq!(body["outcome"], "applied", "{body}");
    assert_eq!(
        body["order"]["statuses"]["order"]["code"], "processing",
        "{body}"
    );
    assert_eq!(
        body["order"]["statuses"]["order"]["set_by"],
        json!({"kind": "rule", "name": "picked"})
    );
    let (_, history) = api
        .get(&format!("/api/orders/{paused}/history"), &api.admin)
        .await;
    let by_rule: Vec<&serde_json::Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "picked")
        .collect();
    assert_eq!(by_rule.len(), 1, "{history:#}");
    assert_eq!(by_rule[0]["event"], "run-rules");
    assert_eq!(
        by_rule[0]["change"],
        json!({"type": "status", "dimension": "order", "before": "received", "after": "processing"})
    );
    let (_, jobs) = api
        .get(&format!("/api/orders/{paused}/jobs"), &api.admin)
        .await;
    let kinds: Vec<&serde_json::Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["job"]["kind"])
        .collect();
    assert_eq!(
        kinds,
        vec![&json!({"type": "webhook", "event": "order.picked"})],
        "{jobs:#}"
    );
    assert_eq!(jobs[0]["job"]["rule"], "picked");

    // The rule works: an order picked moves to processing.
    let order = api.order("gen", "g-1").await;
    let (_, body) = api
        .post(
            &format!("/api/orders/{order}/events"),
            &api.admin,
            &json!({"event": {"type": "picked"}}),
        )
        .await;
    assert_eq!(
        body["order"]["statuses"]["order"]["code"], "processing",
        "{body}"
    );

    // Replace it; the path and the body must agree.
    let mut changed = rule.clone();
    changed["to"] = json!("order:produced");
    let (status, body) = api
        .call(Method::PUT, "/api/rules/picked", &api.admin, Some(&changed))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .call(Method::PUT, "/api/rules/other", &api.admin, Some(&changed))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "id");
    // A rule naming a status the plugin lacks is refused with the reason.
    let mut bad = rule.clone();
    bad["id"] = json!("bad");
    bad["to"] = json!("order:teleported");
    let (status, body) = api.post("/api/rules", &api.admin, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("teleported"));
    assert_eq!(problem(&body), "invalid");

    // Export, then import into the same host: the same rules.
    let response = api
        .http
        .get(format!("{}/api/rules/export", api.url))
        .bearer_auth(&api.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/toml");
    let toml = response.text().await.unwrap();
    assert!(toml.contains("order:produced"), "{toml}");
    let response = api
        .http
        .post(format!("{}/api/rules/import", api.url))
        .bearer_auth(&api.admin)
        .body(toml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, _) = api
        .call(Method::DELETE, "/api/rules/picked", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/rules/picked", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::DELETE, "/api/rules/picked", &api.admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_checked_and_kept_while_used() {
    let api = Api::start().await;
    let (_, list) = api.get("/api/templates", &api.admin).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"shipped"),
        "the shipped templates are installed: {names:?}"
    );
    let sms = json!({"name": "hello", "kind": "sms", "text": "Order {{ order.number }} is here."});
    let (status, body) = api.post("/api/templates", &api.admin, &sms).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        api.post("/api/templates", &api.admin, &sms).await.0,
        StatusCode::CONFLICT
    );
    let broken = json!({"name": "hello", "kind": "sms", "text": "{{ order.nubmer }}"});
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/templates/hello",
            &api.admin,
            Some(&broken),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("line 1") && detail.contains("undefined value at `order.nubmer`"),
        "{body}"
    );
    assert_eq!(body["field"], "template");
    let (status, body) = api.get("/api/templates/hello", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["text"], "Order {{ order.number }} is here.");

    // In use by a rule: not deleted.
    let rule =
        json!({"id": "tell", "platform": "generic", "on": ["picked"], "then": {"sms": "hello"}});
    assert_eq!(
        api.post("/api/rules", &api.admin, &rule).await.0,
        StatusCode::CREATED
    );
    let (status, body) = api
        .call(Method::DELETE, "/api/templates/hello", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("tell"));
    api.call(Method::DELETE, "/api/rules/tell", &api.admin, None)
        .await;
    let (status, _) = api
        .call(Method::DELETE, "/api/templates/hello", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/templates/hello", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_hide_their_secrets_and_keep_their_orders() {
    let api = Api::start().await;
    let (status, woo) = api.get("/api/channels/woo", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(woo["config"]["consumer-secret"], "********");
    assert_eq!(woo["config"]["consumer-key"], "ck_test", "not a secret");
    let (_, list) = api.get("/api/channels", &api.admin).await;
    assert_eq!(list.as_array().unwrap().len(), 4);

    // Sent back as read, with a new name: the secret is kept, so pushes
    // still authenticate.
    let mut renamed = woo.clone();
    renamed["name"] = json!("Teapots & Co");
    let (status, body) = api
        .call(Method::PUT, "/api/channels/woo", &api.admin, Some(&renamed))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Teapots & Co");
    let order = api.order("woo", "w-1").await;
    let (status, _) = api
        .post(
            &format!("/api/orders/{order}/status"),
            &api.admin,
            &json!({"dimension": "order", "to": "processing"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Refusals: a plugin not loaded, missing config, an unknown field.
    let (status, body) = api
        .post(
            "/api/channels",
            &api.admin,
            &json!({"id": "x", "name": "X", "plugin": "magento"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("magento"));
    let (status, body) = api
        .post(
            "/api/channels",
            &api.admin,
            &json!({"id": "x", "name": "X", "plugin": "woocommerce", "base_url": api.woo.url}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("consumer-key"));
    let (status, body) = api
        .post(
            "/api/channels",
            &api.admin,
            &json!({"id": "x", "name": "X", "plugin": "generic", "colour": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("colour"));
    let (status, body) = api
        .post(
            "/api/channels",
            &api.admin,
            &json!({"id": "Bad Id", "name": "X", "plugin": "generic"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "id");
    assert_eq!(
        api.post(
            "/api/channels",
            &api.admin,
            &json!({"id": "gen", "name": "X", "plugin": "generic"})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );

    // A channel with orders stays; an empty one goes.
    let (status, body) = api
        .call(Method::DELETE, "/api/channels/woo", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = api
        .call(Method::DELETE, "/api/channels/appr", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/channels/appr", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::DELETE, "/api/channels/appr", &api.admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_and_webhooks() {
    let api = Api::start().await;
    let (status, plugins) = api.get("/api/plugins", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["generic", "shopware6", "woocommerce"]);
    let (status, sw) = api.get("/api/plugins/shopware6", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        sw["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["dimension"] == "delivery" && s["code"] == "shipped"),
        "{sw:#}"
    );
    assert_eq!(
        api.get("/api/plugins/magento", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    // A plugin dropped into the folder while the host runs is loaded.
    std::fs::copy(
        statusport_tests::fault_path("trap"),
        api.dir.path().join("plugins").join("fault-trap.wasm"),
    )
    .unwrap();
    api.wait_for("/api/plugins", |p| {
        p["plugins"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["id"] == "fault-trap"))
    })
    .await;

    let hook = json!({"id": "erp", "url": "https://erp.example.com/hooks", "events": ["order.paid"], "secret": "s3cret-s3cret-s3cret"});
    let (status, body) = api.post("/api/webhooks", &api.admin, &hook).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["secret"], "********");
    assert_eq!(
        api.post("/api/webhooks", &api.admin, &hook).await.0,
        StatusCode::CONFLICT
    );
    let (_, list) = api.get("/api/webhooks", &api.admin).await;
    assert_eq!(list[0]["secret"], "********");
    let mut changed = list[0].clone();
    changed["events"] = json!(["*"]);
    let (status, body) = api
        .call(Method::PUT, "/api/webhooks/erp", &api.admin, Some(&changed))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = api.get("/api/webhooks/erp", &api.admin).await;
    assert_eq!(got["events"], json!(["*"]));
    let (status, deliveries) = api.get("/api/webhooks/erp/deliveries", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deliveries, json!([]));
    let (status, body) = api
        .post(
            "/api/webhooks",
            &api.admin,
            &json!({"id": "bad", "url": "ftp://x", "events": [], "secret": "s"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = api
        .call(Method::DELETE, "/api/webhooks/erp", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/webhooks/erp", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/webhooks/erp/deliveries", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );
    api.stop().await;
}
