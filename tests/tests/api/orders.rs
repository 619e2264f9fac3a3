//! Orders over the API: create and import, read, list and search, events,
//! manual changes, shipments, article search, exports, and the refusals.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Api, new_order, problem};

#[tokio::test(flavor = "multi_thread")]
async fn orders_are_created_once_listed_newest_first_and_found() {
    let api = Api::start().await;
    let (status, first) = api
        .post("/api/orders", &api.admin, &new_order("gen", "g-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The same platform order again: the existing order, not a new one.
    let (status, again) = api
        .post("/api/orders", &api.admin, &new_order("gen", "g-1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);
    let mut ids = vec![first["id"].as_u64().unwrap()];
    for i in 2..=5 {
        ids.push(api.order("gen", &format!("g-{i}")).await);
    }
    ids.push(api.order("woo", "w-1").await);

    // Pages of two, newest first (orders of one millisecond by id), no
    // order twice, none left out.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = api
            .get(&format!("/api/orders?limit=2{cursor}"), &api.admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let orders = page["orders"].as_array().unwrap();
        assert!(orders.len() <= 2);
        seen.extend(orders.iter().map(|o| {
            let created: jiff::Timestamp = o["created"].as_str().unwrap().parse().unwrap();
            (created.as_millisecond(), o["id"].as_u64().unwrap())
        }));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut newest_first = seen.clone();
    newest_first.sort_by_key(|&(millis, id)| (std::cmp::Reverse(millis), id));
    assert_eq!(seen, newest_first);
    let mut listed: Vec<u64> = seen.iter().map(|&(_, id)| id).collect();
    listed.sort_unstable();
    assert_eq!(listed, ids);
    let (status, body) = api.get("/api/orders?cursor=42", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "cursor");

    // Filters.
    let (_, page) = api.get("/api/orders?channel=woo", &api.admin).await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 1);
    let (_, page) = api
        .get("/api/orders?status=order:received&channel=gen", &api.admin)
        .await;
    let generic_initial = page["orders"].as_array().unwrap().len();
    let (_, page) = api
        .get(
            "/api/orders?payment_status=not_paid&channel=gen",
            &api.admin,
        )
        .await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 5);
    assert!(generic_initial <= 5);
    // A status on every channel: the index of each, merged newest first.
    let (_, page) = api
        .get("/api/orders?status=order:received", &api.admin)
        .await;
    let (_, woo) = api
        .get("/api/orders?status=order:received&channel=woo", &api.admin)
        .await;
    assert_eq!(
        page["orders"].as_array().unwrap().len(),
        generic_initial + woo["orders"].as_array().unwrap().len()
    );
    let (_, page) = api
        .get("/api/orders?from=2999-01-01T00:00:00Z", &api.admin)
        .await;
    assert!(page["orders"].as_array().unwrap().is_empty());
    let (_, page) = api
        .get("/api/orders?to=2000-01-01T00:00:00Z", &api.admin)
        .await;
    assert!(page["orders"].as_array().unwrap().is_empty());
    // A window around the third order's creation time holds it.
    let (_, third) = api
        .get(&format!("/api/orders/{}", ids[2]), &api.admin)
        .await;
    let created: jiff::Timestamp = third["created"].as_str().unwrap().parse().unwrap();
    let (_, page) = api
        .get(
            &format!(
                "/api/orders?from={}&to={}&channel=gen",
                created,
                created + jiff::SignedDuration::from_millis(1)
            ),
            &api.admin,
        )
        .await;
    let found: Vec<u64> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert!(found.contains(&ids[2]), "{found:?} {created}");
    // By number, by customer.
    let number = first["number"].as_str().unwrap();
    let (_, page) = api
        .get(&format!("/api/orders?number={number}"), &api.admin)
        .await;
    assert_eq!(page["orders"][0]["id"], first["id"]);
    // Customer ids are per channel: gen's c-1 has five orders, woo's one.
    let (status, orders) = api
        .get("/api/customers/c-1/orders?channel=gen", &api.admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(orders.as_array().unwrap().len(), 5);
    let (_, orders) = api
        .get("/api/customers/c-1/orders?channel=woo", &api.admin)
        .await;
    assert_eq!(orders.as_array().unwrap().len(), 1);
    let (_, page) = api.get("/api/orders?customer=c-1", &api.admin).await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 6);
    let (status, body) = api.get("/api/customers/c-1", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "channel");
    assert!(
        body["detail"].as_str().unwrap().contains("gen, sw, woo"),
        "{body}"
    );
    let (_, customer) = api.get("/api/customers/c-1?channel=gen", &api.admin).await;
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(
        api.get("/api/customers/nobody", &api.admin).await.0,
        StatusCode::NOT_FOUND
    );

    // Customers a page at a time, by id; one that orders name is kept.
    let viewer = api.token("vera", "viewer", None).await;
    for id in ["c-2", "c-3"] {
        let (status, _) = api
            .call(
                Method::PUT,
                &format!("/api/customers/{id}"),
                &api.admin,
                Some(&json!({"id": id, "name": id, "channel": "gen"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = api
            .get(
                &format!("/api/customers?limit=2&channel=gen{cursor}"),
                &viewer,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        listed.extend(
            page["customers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed, ["c-1", "c-2", "c-3"]);
    let (status, body) = api
        .call(
            Method::DELETE,
            "/api/customers/c-1?channel=gen",
            &api.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("5 order(s)"),
        "{body}"
    );
    assert_eq!(
        api.call(Method::DELETE, "/api/customers/c-3", &viewer, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call(Method::DELETE, "/api/customers/c-3", &api.admin, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(Method::DELETE, "/api/customers/c-3", &api.admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, page) = api.get("/api/customers?channel=gen", &api.admin).await;
    assert_eq!(page["customers"].as_array().unwrap().len(), 2);
    // Every channel's c-1 and gen's c-2.
    let (_, page) = api.get("/api/customers", &api.admin).await;
    assert_eq!(page["customers"].as_array().unwrap().len(), 5);

    // Bad query values are refused by name.
    let (status, body) = api.get("/api/orders?limit=0", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "limit");
    let (status, body) = api.get("/api/orders?status=sideways:up", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api.get("/api/orders?colour=red", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_are_refused_naming_the_field() {
    let api = Api::start().await;
    let mut order = new_order("gen", "g-1");
    order["colour"] = json!("red");
    let (status, body) = api.post("/api/orders", &api.admin, &order).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(problem(&body), "invalid");
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );

    let mut order = new_order("gen", "g-1");
    order["lines"][0]["quantity"] = json!("two");
    let (status, body) = api.post("/api/orders", &api.admin, &order).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "lines[0].quantity", "{body}");

    let mut order = new_order("gen", "g-1");
    order["currency"] = json!("euro");
    let (status, body) = api.post("/api/orders", &api.admin, &order).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("currency"),
        "{body}"
    );
    assert_eq!(body["field"], "currency", "{body}");

    let (status, body) = api
        .post("/api/orders", &api.admin, &new_order("nowhere", "x"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "channel");

    // Not JSON at all; not declared as JSON.
    let response = api
        .http
        .post(format!("{}/api/orders", api.url))
        .bearer_auth(&api.admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = api
        .http
        .post(format!("{}/api/orders", api.url))
        .bearer_auth(&api.admin)
        .body("channel=gen")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Over the size limit.
    let mut order = new_order("gen", "g-1");
    order["customer"] = json!("x".repeat(2 * 1024 * 1024));
    let (status, body) = api.post("/api/orders", &api.admin, &order).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(problem(&body), "payload-too-large");

    // Unknown orders and routes.
    let (status, body) = api.get("/api/orders/999999", &api.admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem(&body), "not-found");
    let (status, _) = api.get("/api/nothing-here", &api.admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .call(Method::DELETE, "/api/orders", &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    api.stop().await;
}

/// The history's field changes as `field=after`.
fn fields(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["change"]["type"] == "field")
        .map(|e| {
            format!(
                "{}={}",
                e["change"]["field"].as_str().unwrap(),
                e["change"]["after"].as_str().unwrap_or("null")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_and_manual_changes() {
    let api = Api::start().await;
    let order = api.order("sw", crate::SW1).await;
    let url = |what: &str| format!("/api/orders/{order}/{what}");

    // An event, and the same event again.
    let event = json!({"id": "pay-1", "event": {"type": "payment_matched", "reference": "PAY-1"}});
    let (status, body) = api.post(&url("events"), &api.admin, &event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied");
    let (_, body) = api.post(&url("events"), &api.admin, &event).await;
    assert_eq!(body["outcome"], "duplicate");
    let (status, body) = api
        .post(
            &url("events"),
            &api.admin,
            &json!({"event": {"type": "time_passed"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "event.type");
    let (status, body) = api
        .post(
            &url("events"),
            &api.admin,
            &json!({"event": {"type": "teleported"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("teleported"));

    // Shopware allows open → in_progress, not open → completed.
    let (status, body) = api
        .post(
            &url("status"),
            &api.admin,
            &json!({"dimension": "order", "to": "completed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(problem(&body), "conflict");
    assert!(
        body["detail"].as_str().unwrap().contains("in_progress"),
        "{body}"
    );
    let (status, body) = api
        .post(
            &url("status"),
            &api.admin,
            &json!({"dimension": "order", "to": "in_progress"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["statuses"]["order"]["code"], "in_progress");
    let (status, body) = api
        .post(
            &url("status"),
            &api.admin,
            &json!({"dimension": "order", "to": "lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Roll back to open, then forward again.
    let (status, body) = api
        .post(&url("rollback"), &api.admin, &json!({"dimension": "order"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["statuses"]["order"]["code"], "open");
    let (status, _) = api
        .post(
            &url("rollback"),
            &api.admin,
            &json!({"dimension": "payment"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Pause, assign, move, resume, complete a lost payment.
    let (status, body) = api
        .call(Method::POST, &url("pause"), &api.admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["paused"], true);
    let (_, body) = api
        .post(&url("assign"), &api.admin, &json!({"to": "otto"}))
        .await;
    assert_eq!(body["order"]["assigned_to"], "otto");
    let (status, body) = api
        .post(&url("assign"), &api.admin, &json!({"to": " "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api
        .post(&url("customer"), &api.admin, &json!({"customer": "c-2"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "customer");
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/customers/c-2?channel=sw",
            &api.admin,
            Some(&json!({"id": "c-2", "name": "Charles Babbage"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = api
        .post(&url("customer"), &api.admin, &json!({"customer": "c-2"}))
        .await;
    assert_eq!(body["order"]["customer"], "c-2");
    let (_, body) = api.post(&url("resume"), &api.admin, &json!({})).await;
    assert_eq!(body["order"]["paused"], false);
    // The payment callback was lost: completing the payment by hand runs
    // the rules as the callback would have.
    assert_eq!(
        api.import_rules(
            r#"
[[rule]]
id = "sw-paid"
platform = "shopware6"
on = ["payment_matched"]
from = ["payment:open"]
then = { payment_status = "paid" }

[[rule]]
id = "sw-process-paid"
platform = "shopware6"
on = ["payment_status_changed"]
from = ["order:open"]
when = { payment_status = ["paid"] }
to = "order:in_progress"
then = { webhook = "order.paid" }
"#
        )
        .await,
        StatusCode::OK
    );
    let (status, body) = api
        .post(
            &url("complete-payment"),
            &api.admin,
            &json!({"id": "complete-1", "reference": "bank 2026-11-20"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied", "{body}");
    assert_eq!(body["order"]["statuses"]["payment"]["code"], "paid");
    assert_eq!(body["order"]["statuses"]["order"]["code"], "in_progress");
    let (_, stored) = api.get(&format!("/api/orders/{order}"), &api.admin).await;
    assert_eq!(stored["statuses"]["payment"]["code"], "paid", "{stored}");
    assert_eq!(stored["statuses"]["order"]["code"], "in_progress");
    assert_eq!(
        stored["statuses"]["order"]["set_by"],
        json!({"kind": "rule", "name": "sw-process-paid"})
    );
    let (_, history) = api.get(&url("history"), &api.admin).await;
    let changed = fields(&history);
    for expected in [
        "payment_matched=PAY-1",
        "paused=true",
        "assigned_to=otto",
        "customer=c-2",
        "paused=false",
        "payment_matched=bank 2026-11-20",
    ] {
        assert!(
            changed.contains(&expected.to_owned()),
            "{expected} in {changed:?}"
        );
    }
    let moves: Vec<(&str, &str, &str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "complete-1" && e["change"]["type"] == "status")
        .map(|e| {
            (
                e["rule"].as_str().unwrap_or("<none>"),
                e["change"]["dimension"].as_str().unwrap(),
                e["change"]["before"].as_str().unwrap(),
                e["change"]["after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            ("sw-paid", "payment", "open", "paid"),
            ("sw-process-paid", "order", "open", "in_progress"),
        ],
        "{history:#}"
    );
    let (_, orders) = api
        .get("/api/customers/c-2/orders?channel=sw", &api.admin)
        .await;
    assert_eq!(orders[0]["id"], order);

    // Cancel without a mail: the order is cancelled, no message planned.
    let (status, body) = api
        .post(&url("cancel"), &api.admin, &json!({"notify": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["statuses"]["order"]["code"], "cancelled");
    let (status, jobs) = api.get(&url("jobs"), &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        jobs.as_array()
            .unwrap()
            .iter()
            .all(|j| j["job"]["kind"]["type"] != "email"),
        "{jobs:#}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancellation_mails_unless_told_not_to() {
    let api = Api::start().await;
    let (status, body) = api
        .call(Method::POST, "/api/rules/import", &api.admin, None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty import names the problem: {body}"
    );
    let rules =
        std::fs::read_to_string(statusport_tests::root().join("host/rulesets/cancellation.toml"))
            .unwrap();
    assert_eq!(api.import_rules(rules).await, StatusCode::OK);
    let loud = api.order("gen", "g-1").await;
    let quiet = api.order("gen", "g-2").await;
    let (_, body) = api
        .post(
            &format!("/api/orders/{loud}/cancel"),
            &api.admin,
            &json!({}),
        )
        .await;
    let kinds = |body: &Value| -> Vec<String> {
        body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["kind"]["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(kinds(&body).contains(&"email".to_owned()), "{body:#}");
    let (_, body) = api
        .post(
            &format!("/api/orders/{quiet}/cancel"),
            &api.admin,
            &json!({"notify": false}),
        )
        .await;
    assert!(!kinds(&body).contains(&"email".to_owned()), "{body:#}");
    assert!(kinds(&body).contains(&"webhook".to_owned()), "{body:#}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shipments_reach_the_platform_and_show_its_receipt() {
    let api = Api::start().await;
    assert_eq!(
        api.import_rules(statusport_tests::shop::SHIP_RULE).await,
        StatusCode::OK
    );
    let order = api.order("woo", "w-1").await;
    let shipment = json!({
        "shipment_id": "s-1",
        "packages": [{"carrier": "dhl", "tracking_number": "00340434161094042557"}],
    });
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/shipments"),
            &api.admin,
            &shipment,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/shipments"),
            &api.admin,
            &shipment,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same shipment again is a duplicate: {body}"
    );
    assert_eq!(body["outcome"], "duplicate");
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/shipments"),
            &api.admin,
            &json!({"shipment_id": "s-2", "packages": [{"carrier": "pigeon", "tracking_number": "1"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "packages[0].carrier", "{body}");
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/orders/{order}/shipments/s-1/done"),
            &api.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shipments = api
        .wait_for(&format!("/api/orders/{order}/shipments"), |s| {
            s[0]["upload"] == "delivered"
        })
        .await;
    assert_eq!(shipments[0]["shipment"]["id"], "s-1");
    assert!(
        shipments[0]["receipts"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("1 tracking number(s) added"),
        "{shipments:#}"
    );
    let trackings = api.woo.state().orders["w-1"].trackings.len();
    assert_eq!(trackings, 1);
    let (status, _) = api
        .call(
            Method::POST,
            &format!("/api/orders/{order}/shipments/s-9/done"),
            &api.admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn article_search_and_exports() {
    let api = Api::start().await;
    let a = api.order("gen", "g-1").await;
    let mut other = new_order("gen", "g-2");
    other["lines"] = json!([
        {"article": "A-100", "name": "Teapot", "quantity": 1, "unit_price": "59.50 EUR"},
        {"article": "A-101", "name": "Cup", "quantity": 4, "unit_price": "5.00 EUR"},
        {"article": "B-1", "name": "Tea", "quantity": 1, "unit_price": "3.00 EUR"},
    ]);
    let (_, b) = api.post("/api/orders", &api.admin, &other).await;

    let (status, report) = api.get("/api/articles/A-100/orders", &api.admin).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["quantity"], 3);
    assert_eq!(report["amounts"]["EUR"], "178.50 EUR");
    let (_, report) = api
        .get("/api/articles/A-10/orders?prefix=true", &api.admin)
        .await;
    assert_eq!(report["quantity"], 7);
    assert_eq!(report["orders"].as_array().unwrap().len(), 2);
    let (_, report) = api.get("/api/articles/A-10/orders", &api.admin).await;
    assert_eq!(
        report["quantity"], 0,
        "without prefix=true the number must match"
    );
    let (_, report) = api
        .get(
            "/api/articles/A-100/orders?to=2000-01-01T00:00:00Z",
            &api.admin,
        )
        .await;
    assert_eq!(report["quantity"], 0);

    // Stock: a goods receipt is booked once.
    let receipt = json!({"id": "DN-1", "quantity": 5});
    let (status, body) = api
        .post("/api/stock/A-101/receipts", &api.admin, &receipt)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stock"]["quantity"], 5);
    api.post("/api/stock/A-101/receipts", &api.admin, &receipt)
        .await;
    let (_, stock) = api.get("/api/stock/A-101", &api.admin).await;
    assert_eq!(
        stock["quantity"], 5,
        "the same receipt again changes nothing"
    );
    let (status, body) = api
        .post(
            "/api/stock/A-101/receipts",
            &api.admin,
            &json!({"id": "DN-2", "quantity": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "quantity");

    // Exports: every format, every matching order.
    let response = api
        .http
        .get(format!("{}/api/exports/orders?format=csv", api.url))
        .bearer_auth(&api.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,number,channel"));
    assert!(
        lines[1].starts_with(&format!("{},", b["id"])),
        "newest first: {csv}"
    );
    let (status, json_export) = api.get("/api/exports/orders?format=json", &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<u64> = json_export
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [b["id"].as_u64().unwrap(), a]);
    let (status, xml) = api
        .get("/api/exports/orders?format=xml&channel=gen", &api.admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let xml = xml.as_str().unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<order ").count(), 2, "{xml}");
    assert!(xml.contains(r#"article="A-101""#));
    let (_, empty) = api
        .get("/api/exports/orders?format=json&channel=woo", &api.admin)
        .await;
    assert_eq!(empty, json!([]));
    let (status, body) = api.get("/api/exports/orders?format=pdf", &api.admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api
        .get("/api/exports/orders?format=csv&from=yesterday", &api.admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "from");
    api.stop().await;
}
