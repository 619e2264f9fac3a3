//! Order and invoice number sequences: `GET`/`PUT /api/numbering` and the
//! config file's `[numbering]` table applied at start.

use reqwest::{Method, StatusCode};
use serde_json::json;
use statusport::server::Server;

use crate::{Api, problem};

/// Pays an order through the API, which issues its invoice (card rules).
async fn pay(api: &Api, order: u64, event_id: &str) {
    let (status, body) = api
        .post(
            &format!("/api/orders/{order}/events"),
            &api.admin,
            &json!({"id": event_id, "event": {"type": "payment_matched"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn numbering_is_read_by_readers_and_set_by_admins_never_below_a_number_drawn() {
    let api = Api::start().await;
    let viewer = api.token("vera", "viewer", None).await;
    let operator = api.token("otto", "operator", None).await;
    let connector = api.token("erp", "connector", Some("gen")).await;

    let (status, body) = api.get("/api/numbering", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"order_start": 10000, "order_prefix": "", "invoice_start": 1,
            "invoice_prefix": "INV-", "last_order_number": null, "last_invoice_number": null})
    );
    assert_eq!(
        api.get("/api/numbering", &connector).await.0,
        StatusCode::FORBIDDEN
    );

    let change = json!({"order_start": 700, "order_prefix": "SP-",
        "invoice_start": 5000, "invoice_prefix": "RE-"});
    let (status, body) = api
        .call(Method::PUT, "/api/numbering", &operator, Some(&change))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = api
        .call(Method::PUT, "/api/numbering", &api.admin, Some(&change))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["invoice_prefix"], "RE-");

    let (name, card) = statusport_core::engine::rulesets::SHIPPED[0];
    assert_eq!(name, "card");
    assert_eq!(api.import_rules(card).await, StatusCode::OK);
    let order = api.order("gen", "N-1").await;
    let (_, shown) = api.get(&format!("/api/orders/{order}"), &api.admin).await;
    assert_eq!(shown["number"], "SP-700", "{shown}");
    pay(&api, order, "pay-1").await;
    let (_, shown) = api.get(&format!("/api/orders/{order}"), &api.admin).await;
    assert_eq!(shown["invoice_number"], "RE-5000", "{shown}");
    let (_, body) = api.get("/api/numbering", &viewer).await;
    assert_eq!(body["last_order_number"], 700, "{body}");
    assert_eq!(body["last_invoice_number"], 5000, "{body}");

    // A start at or below the last number drawn: 422 naming the field and
    // the number.
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/numbering",
            &api.admin,
            Some(&json!({"order_start": 700, "order_prefix": "SP-",
                "invoice_start": 4000, "invoice_prefix": "RE-"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(problem(&body), "invalid");
    assert_eq!(body["field"], "invoice_start");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("4000 is not above 5000, the last invoice number drawn; give 5001 or more"),
        "{body}"
    );
    // A bad prefix, a missing field: 422 naming each.
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/numbering",
            &api.admin,
            Some(&json!({"order_start": 700, "order_prefix": "S\tP",
                "invoice_start": 5000, "invoice_prefix": "RE-"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "order_prefix");
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/numbering",
            &api.admin,
            Some(&json!({"order_start": 700, "invoice_start": 5000, "invoice_prefix": "RE-"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("order_prefix"),
        "{body}"
    );
    let (_, body) = api.get("/api/numbering", &viewer).await;
    assert_eq!(
        body["invoice_start"], 5000,
        "refusals change nothing: {body}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_files_numbering_is_applied_at_start_and_a_start_below_a_drawn_number_stops_it()
{
    let mut api = Api::start_with(|c| {
        c.numbering.order_start = Some(400);
        c.numbering.invoice_prefix = Some("RE-".into());
    })
    .await;
    let (_, body) = api.get("/api/numbering", &api.admin).await;
    assert_eq!(body["order_start"], 400, "{body}");
    assert_eq!(body["invoice_prefix"], "RE-", "{body}");
    assert_eq!(body["order_prefix"], "", "a key left out keeps its value");
    for n in ["A-1", "A-2"] {
        api.order("gen", n).await;
    }
    // Changed through the API since: the file wins at the next start.
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/numbering",
            &api.admin,
            Some(&json!({"order_start": 900, "order_prefix": "X-",
                "invoice_start": 1, "invoice_prefix": "INV-"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dir = api.dir.path().to_owned();
    api.server
        .take()
        .unwrap()
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .unwrap();

    let mut config = crate::config(&dir);
    config.numbering.invoice_prefix = Some("RE-".into());
    config.numbering.order_start = Some(400);
    // 400 is below 401, the last order number: refused, naming it.
    let err = Server::start(&config).await.err().expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("[numbering] in the config file: order_start: 400 is not above 401, the last order number drawn; give 402 or more"),
        "{text}"
    );
    config.numbering.order_start = Some(1000);
    let server = Server::start(&config).await.unwrap();
    let store = server.store.clone();
    let numbering = store.numbering().unwrap();
    assert_eq!(
        (
            numbering.order_start,
            numbering.order_prefix.as_str(),
            numbering.invoice_prefix.as_str()
        ),
        (1000, "X-", "RE-"),
        "the file's keys replace the API's values; the others stay"
    );
    server
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    api.stop().await;
}
