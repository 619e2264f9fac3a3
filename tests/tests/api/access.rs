//! Tokens, roles, channel scope and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Api, new_order, problem};

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_a_valid_token_get_401() {
    let api = Api::start().await;
    let response = api
        .http
        .get(format!("{}/api/orders", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let (status, body) = api.get("/api/orders", "sp_0000_nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem(&body), "unauthorized");
    let response = api
        .http
        .get(format!("{}/api/orders", api.url))
        .header("authorization", format!("Basic {}", api.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A revoked token stops working at once.
    let viewer = api.token("vera", "viewer", None).await;
    assert_eq!(api.get("/api/orders", &viewer).await.0, StatusCode::OK);
    let id = viewer.split('_').nth(1).unwrap();
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/tokens/{id}"),
            &api.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/orders", &viewer).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/tokens/{id}"),
            &api.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Health, metrics and the document need no token.
    assert_eq!(api.get("/healthz", "").await.0, StatusCode::OK);
    assert_eq!(api.get("/api/openapi.json", "").await.0, StatusCode::OK);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_may_do_its_part_only() {
    let api = Api::start().await;
    let viewer = api.token("vera", "viewer", None).await;
    let operator = api.token("otto", "operator", None).await;
    let approver = api.token("anna", "approver", None).await;
    let order = api.order("gen", "g-1").await;

    // Viewers read and change nothing.
    assert_eq!(
        api.get(&format!("/api/orders/{order}"), &viewer).await.0,
        StatusCode::OK
    );
    assert_eq!(api.get("/api/rules", &viewer).await.0, StatusCode::OK);
    let (status, body) = api
        .post("/api/orders", &viewer, &new_order("gen", "g-2"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(problem(&body), "forbidden");
    assert!(
        body["detail"].as_str().unwrap().contains("viewer"),
        "{body}"
    );
    let (status, _) = api
        .post(
            &format!("/api/orders/{order}/events"),
            &viewer,
            &json!({"event": {"type": "picked"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.get("/api/tokens", &viewer).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/api/audit", &operator).await.0,
        StatusCode::FORBIDDEN
    );

    // Operators work orders but neither approve nor configure.
    let (status, _) = api
        .post(
            &format!("/api/orders/{order}/events"),
            &operator,
            &json!({"event": {"type": "picked"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let rule =
        json!({"id": "r", "platform": "generic", "on": ["picked"], "to": "order:processing"});
    assert_eq!(
        api.post("/api/rules", &operator, &rule).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call(Method::DELETE, "/api/channels/gen", &operator, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Orders an operator enters on an approval channel wait for approval;
    // an approver's do not.
    let (status, pending) = api
        .post("/api/orders", &operator, &new_order("appr", "a-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(pending["approval"], "pending");
    let (_, own) = api
        .post("/api/orders", &approver, &new_order("appr", "a-2"))
        .await;
    assert_eq!(own["approval"], "not_required");
    let id = pending["id"].as_u64().unwrap();
    let (status, _) = api
        .post(&format!("/api/orders/{id}/approve"), &operator, &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api
        .post(&format!("/api/orders/{id}/approve"), &approver, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["approval"], "approved");
    // Not waiting any more: approving again is refused, naming why.
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/orders/{id}/reject"),
            &approver,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("not waiting"));

    // The history and the audit log name the token's owner.
    let (_, history) = api
        .get(&format!("/api/orders/{order}/history"), &viewer)
        .await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == json!({"kind": "user", "name": "otto"})),
        "{history:#}"
    );
    let (status, audit) = api.get("/api/audit?limit=50", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    let audit = audit.as_array().unwrap();
    assert!(audit.iter().any(|e| e["owner"] == "otto"
        && e["path"] == format!("/api/orders/{order}/events")
        && e["status"] == 200));
    assert!(
        audit
            .iter()
            .any(|e| e["owner"] == "vera" && e["status"] == 403),
        "refusals are audited too"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connectors_touch_their_own_channel_only() {
    let api = Api::start().await;
    let woo = api.token("shop-bridge", "connector", Some("woo")).await;
    let other = api.order("gen", "g-1").await;

    let (status, mine) = api
        .post("/api/orders", &woo, &new_order("woo", "w-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let mine = mine["id"].as_u64().unwrap();
    let (status, body) = api
        .post("/api/orders", &woo, &new_order("gen", "g-9"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("channel woo"));
    assert_eq!(
        api.get(&format!("/api/orders/{other}"), &woo).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = api
        .post(
            &format!("/api/orders/{other}/events"),
            &woo,
            &json!({"event": {"type": "payment_matched"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Lists are held to the connector's channel.
    let (_, page) = api.get("/api/orders", &woo).await;
    let channels: Vec<&str> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["woo"]);
    assert_eq!(
        api.get("/api/orders?channel=gen", &woo).await.0,
        StatusCode::FORBIDDEN
    );
    // A status the platform reports is the platform's, and is not pushed
    // back to it.
    let (status, body) = api
        .post(
            &format!("/api/orders/{mine}/status"),
            &woo,
            &json!({"dimension": "order", "to": "processing"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["order"]["statuses"]["order"]["set_by"],
        json!({"kind": "platform", "name": "woo"})
    );
    // Customer ids are per channel: the woo connector's c-1 is woo's own,
    // and nothing it does reaches gen's c-1, whose mails it could
    // otherwise redirect.
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/customers/c-1",
            &woo,
            Some(&json!({"id": "c-1", "name": "Ada", "email": "thief@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["channel"], "woo");
    assert_eq!(
        api.get("/api/customers/c-1", &woo).await.1["email"],
        "thief@example.com"
    );
    let (_, customer) = api.get("/api/customers/c-1?channel=gen", &api.admin).await;
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(
        api.get("/api/customers/c-1?channel=gen", &woo).await.0,
        StatusCode::FORBIDDEN
    );
    let woo_customer = json!({"id": "woo-7", "name": "Grace Hopper"});
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/customers/woo-7",
            &woo,
            Some(&woo_customer),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.get("/api/customers/woo-7", &woo).await.1["name"],
        "Grace Hopper"
    );
    // A connector lists its own channel's customers only.
    let (status, page) = api.get("/api/customers", &woo).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let channels: Vec<&str> = page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, vec!["woo", "woo"], "{page}");
    // Configuration and the outbox are not a connector's
    // business.
    for path in ["/api/rules", "/api/jobs", "/api/channels", "/api/bulk"] {
        assert_eq!(api.get(path, &woo).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    // Pausing is an operator's act.
    let (status, _) = api
        .post(&format!("/api/orders/{mine}/pause"), &woo, &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Tokens for a channel that does not exist are refused by field.
    let (status, body) = api
        .post(
            "/api/tokens",
            &api.admin,
            &json!({"owner": "x", "role": "connector", "channel": "nowhere"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "channel");
    let (_, tokens) = api.get("/api/tokens", &api.admin).await;
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("hash").is_none() && t.get("token").is_none()),
        "{tokens}"
    );
    api.stop().await;
}
