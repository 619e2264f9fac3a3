//! Orders coming in: pulls with the cursor, and signed webhooks.

use std::collections::BTreeMap;
use std::sync::Arc;

use statusport_core::domain::intake::{Inbound, IncomingOrder};
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{CallError, Runtime};
use statusport_tests::channel;
use statusport_tests::delivery::{now_secs, standard_webhook};
use statusport_tests::fake::{serve, shared_spec};

use crate::common::{plugin, store_channel};
use crate::fake::{ACCESS_TOKEN, BigCommerce, STORE_HASH, WEBHOOK_SECRET};

/// The orders of a pull's items; a status change fails the test (a pull
/// brings orders only).
fn orders(items: Vec<Inbound>) -> Vec<IncomingOrder> {
    items
        .into_iter()
        .map(|i| match i {
            Inbound::Order(o) => o,
            other => panic!("a pull brings orders only: {other:?}"),
        })
        .collect()
}

/// One pull: its orders, next cursor and `more`.
async fn pull(
    rt: &Arc<Runtime>,
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    cursor: Option<&str>,
) -> (Vec<IncomingOrder>, Option<String>, bool) {
    let batch = rt
        .pull(&plugin.callee(), ctx, cursor)
        .await
        .result
        .expect("the pull answers");
    (orders(batch.items), batch.next_cursor, batch.more)
}

/// Pulls until the plugin says nothing more waits; the orders of every
/// batch in order, the number of batches, and the last cursor.
async fn pull_all(
    rt: &Arc<Runtime>,
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    mut cursor: Option<String>,
) -> (Vec<IncomingOrder>, usize, Option<String>) {
    let mut all = Vec::new();
    let mut batches = 0;
    loop {
        let (got, next, more) = pull(rt, plugin, ctx, cursor.as_deref()).await;
        batches += 1;
        assert!(batches < 1000, "the pull never ends");
        all.extend(got);
        cursor = next;
        if !more {
            return (all, batches, cursor);
        }
    }
}

/// How often each order id came.
fn counts(orders: &[IncomingOrder]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for o in orders {
        *seen.entry(o.platform_order_id.clone()).or_insert(0) += 1;
    }
    seen
}

fn ids(orders: &[IncomingOrder]) -> Vec<u64> {
    orders
        .iter()
        .map(|o| o.platform_order_id.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_pull_across_pages_brings_each_order_once_with_its_details() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::seeded(60)).await;
    let ctx = store_channel(&store.url);
    let (first, cursor, more) = pull(&rt, &plugin, &ctx, None).await;
    assert_eq!(first.len(), 25, "25 orders a page");
    assert!(more, "a full page says more is waiting");
    let (rest, batches, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
    assert_eq!(batches, 2, "then 25 and 10");
    let all: Vec<IncomingOrder> = first.into_iter().chain(rest).collect();
    assert_eq!(all.len(), 60);
    assert!(counts(&all).values().all(|n| *n == 1));
    assert!(
        ids(&all).windows(2).all(|w| w[0] < w[1]),
        "oldest change first"
    );

    // Order 104 (the fifth) is a guest's: known by the billing email.
    let guest = all.iter().find(|o| o.platform_order_id == "104").unwrap();
    assert_eq!(guest.customer.id, "customer5@example.com");
    assert_eq!(guest.customer.name, "Given5 Family5");
    // Order 107 (the eighth): customer 1008, three lines of quantity 1, the
    // third without SKU and so known by its product id.
    let member = all.iter().find(|o| o.platform_order_id == "107").unwrap();
    assert_eq!(member.customer.id, "1008");
    assert_eq!(
        member.customer.email.as_deref(),
        Some("customer8@example.com")
    );
    assert_eq!(member.customer.phone.as_deref(), Some("+1 512 555 0100"));
    assert_eq!(
        member.customer.address,
        ["455 Main Street", "78751 Austin", "Texas", "United States"]
    );
    let lines: Vec<(&str, &str, u32, String)> = member
        .lines
        .iter()
        .map(|l| {
            (
                l.line_id.as_str(),
                l.article.as_str(),
                l.quantity,
                l.unit_price.to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("80", "SKU-100", 1, "9.90 USD".to_owned()),
            ("81", "SKU-101", 1, "10.90 USD".to_owned()),
            ("82", "102", 1, "11.90 USD".to_owned()),
        ]
    );
    assert_eq!(member.shipping.as_ref().unwrap().to_string(), "4.90 USD");
    assert_eq!(member.payment_method, "Cash on Delivery");
    assert_eq!(member.statuses[&Dimension::Order], "awaiting_fulfillment");
    let created = store.state().orders[&107].created;
    assert_eq!(member.created_at.as_second(), created);

    let received = store.received();
    let list = &received[0];
    assert_eq!(list.path, format!("/stores/{STORE_HASH}/v2/orders"));
    assert_eq!(list.query_value("sort").as_deref(), Some("date_modified"));
    assert_eq!(list.query_value("limit").as_deref(), Some("25"));
    assert_eq!(list.query_value("page").as_deref(), Some("1"));
    let since = list.query_value("min_date_modified").unwrap();
    assert!(
        since.ends_with(" +0000"),
        "RFC 2822, as BigCommerce writes dates: {since}"
    );
    let products = received
        .iter()
        .filter(|r| r.path.ends_with("/products"))
        .count();
    assert_eq!(products, 60, "each order's products read once");
}

#[tokio::test]
async fn the_cursor_moves_on_and_an_order_changed_after_a_pull_comes_again() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::seeded(30)).await;
    let ctx = store_channel(&store.url);
    let (first, _, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
    assert_eq!(first.len(), 30);
    let (nothing, _, same) = pull_all(&rt, &plugin, &ctx, cursor.clone()).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
    assert_eq!(same, cursor, "nothing new: the cursor stays");

    store.state().cancel(111);
    store.state().ship(102);
    let (again, _, moved) = pull_all(&rt, &plugin, &ctx, cursor.clone()).await;
    let changed: Vec<(&str, &str)> = again
        .iter()
        .map(|o| {
            (
                o.platform_order_id.as_str(),
                o.statuses[&Dimension::Order].as_str(),
            )
        })
        .collect();
    assert_eq!(changed, [("111", "cancelled"), ("102", "shipped")]);
    assert!(again[0].updated_at > first[11].updated_at);
    assert_ne!(moved, cursor);
    let (nothing, _, _) = pull_all(&rt, &plugin, &ctx, moved).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn a_pull_repeated_from_its_cursor_after_a_crash_gives_the_same_orders() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::seeded(60)).await;
    let ctx = store_channel(&store.url);
    let (_, cursor, _) = pull(&rt, &plugin, &ctx, None).await;
    let (second, next, more) = pull(&rt, &plugin, &ctx, cursor.as_deref()).await;
    // The host died before it stored `next`: it pulls from the old cursor.
    let (repeated, next_again, more_again) = pull(&rt, &plugin, &ctx, cursor.as_deref()).await;
    assert_eq!(ids(&repeated), ids(&second));
    assert_eq!((next_again, more_again), (next, more));
    // Order 124 closed the first batch; the page from its second lists it
    // again and the cursor skips it.
    assert_eq!(ids(&second), (125..149).collect::<Vec<u64>>());
}

#[tokio::test]
async fn many_orders_changed_in_one_second_are_neither_lost_nor_repeated() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::seeded(90)).await;
    {
        // A bulk status change: 66 orders, across page edges, in one second.
        let mut state = store.state();
        let second = state.orders[&170].modified;
        for id in 105..=170 {
            state.orders.get_mut(&id).unwrap().modified = second;
        }
    }
    let ctx = store_channel(&store.url);
    let (all, batches, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
    assert_eq!(counts(&all).len(), 90);
    assert!(counts(&all).values().all(|n| *n == 1), "{:?}", counts(&all));
    assert!(batches >= 4, "{batches}");
    let (nothing, _, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn a_page_listed_newest_first_is_refused_rather_than_skipping_orders() {
    let (rt, plugin) = plugin().await;
    let mut fake = BigCommerce::seeded(3);
    fake.default_sort_descending = true;
    let store = serve(fake).await;
    let report = rt
        .pull(&plugin.callee(), &store_channel(&store.url), None)
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Rejected { message })) => assert!(
            message.starts_with("BigCommerce listed order 101 (modified "),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(
        store
            .received()
            .iter()
            .all(|r| !r.path.ends_with("/products")),
        "nothing was read further"
    );
}

#[tokio::test]
async fn an_empty_page_is_bigcommerces_204_and_brings_nothing() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::new(&[])).await;
    let report = rt
        .pull(&plugin.callee(), &store_channel(&store.url), None)
        .await;
    assert_eq!(report.sent.len(), 1);
    assert_eq!(report.sent[0].status, Some(204));
    let batch = report.result.expect("an empty store is no error");
    assert!(batch.items.is_empty());
    assert!(!batch.more);
    assert!(batch.next_cursor.is_some());
}

#[tokio::test]
async fn intake_since_sets_where_the_first_pull_starts() {
    let (rt, plugin) = plugin().await;
    let store = serve(BigCommerce::seeded(5)).await;
    let ctx = channel(
        &BigCommerce::api_url(&store.url),
        &[
            ("access-token", ACCESS_TOKEN),
            ("intake-since", "2026-01-31"),
        ],
    );
    let _ = pull(&rt, &plugin, &ctx, None).await;
    assert_eq!(
        store.received()[0]
            .query_value("min_date_modified")
            .as_deref(),
        Some("Fri, 30 Jan 2026 23:59:59 +0000"),
        "one second before, whether BigCommerce counts the bound or not"
    );
    let wrong = channel(
        &BigCommerce::api_url(&store.url),
        &[
            ("access-token", ACCESS_TOKEN),
            ("intake-since", "last week"),
        ],
    );
    let report = rt.pull(&plugin.callee(), &wrong, None).await;
    assert_eq!(
        report.result.unwrap_err().to_string(),
        "config: \"intake-since\" is \"last week\": use a date (2026-01-31) or an RFC 3339 time"
    );
}

mod webhooks {
    use super::*;

    async fn accept(
        rt: &Arc<Runtime>,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        delivery: &statusport_tests::delivery::Delivery,
    ) -> Result<Vec<Inbound>, CallError> {
        rt.accept_webhook(&plugin.callee(), ctx, &delivery.headers, &delivery.body)
            .await
            .result
    }

    #[tokio::test]
    async fn a_signed_status_update_gives_the_order_and_a_change_known_by_the_delivery() {
        let (rt, plugin) = plugin().await;
        let store = serve(BigCommerce::seeded(3)).await;
        store.state().change_status(101, 9);
        let delivery = store
            .state()
            .webhook("store/order/statusUpdated", 101, "msg_2Kq7VJ3a");
        let ctx = store_channel(&store.url);
        let items = accept(&rt, &plugin, &ctx, &delivery)
            .await
            .expect("a signed delivery is taken");
        assert_eq!(items.len(), 2, "{items:?}");
        let Inbound::Order(order) = &items[0] else {
            panic!("the order first: {items:?}")
        };
        assert_eq!(order.platform_order_id, "101");
        assert_eq!(order.statuses[&Dimension::Order], "awaiting_shipment");
        assert_eq!(order.lines.len(), 3);
        let Inbound::StatusChange(change) = &items[1] else {
            panic!("then the change: {items:?}")
        };
        assert_eq!(change.change_id, "msg_2Kq7VJ3a");
        assert_eq!(change.platform_order_id, "101");
        assert_eq!(change.code, "awaiting_shipment");
        assert_eq!(change.changed_at, order.updated_at);
        let paths: Vec<String> = store.received().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            [
                format!("/stores/{STORE_HASH}/v2/orders/101"),
                format!("/stores/{STORE_HASH}/v2/orders/101/products"),
            ],
            "the payload names the order; the plugin reads it"
        );

        // BigCommerce sends the same delivery again (it had no answer in
        // time): the same items, the same change id.
        let replayed = accept(&rt, &plugin, &ctx, &delivery).await.unwrap();
        assert_eq!(replayed, items);
    }

    #[tokio::test]
    async fn a_status_update_overtaken_by_a_later_one_gives_the_order_as_it_is_now() {
        let (rt, plugin) = plugin().await;
        let store = serve(BigCommerce::seeded(2)).await;
        // Moved to Awaiting Shipment, then cancelled; the first delivery
        // arrives after the second change.
        store.state().change_status(100, 9);
        let first = store.state().callback("store/order/statusUpdated", 100);
        store.state().cancel(100);
        let delivery = standard_webhook(WEBHOOK_SECRET, "msg_late", now_secs(), &first);
        let items = accept(&rt, &plugin, &store_channel(&store.url), &delivery)
            .await
            .unwrap();
        let orders = orders(items);
        assert_eq!(orders.len(), 1, "no change the store no longer shows");
        assert_eq!(orders[0].statuses[&Dimension::Order], "cancelled");
    }

    #[tokio::test]
    async fn a_created_order_comes_in_without_a_change() {
        let (rt, plugin) = plugin().await;
        let store = serve(BigCommerce::new(&[1001])).await;
        // Paid at once: BigCommerce's order webhook comes after the payment.
        store.state().mark_paid(1001);
        let delivery = store.state().webhook("store/order/created", 1001, "msg_1");
        let items = accept(&rt, &plugin, &store_channel(&store.url), &delivery)
            .await
            .unwrap();
        let orders = orders(items);
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].platform_order_id, "1001");
        assert_eq!(
            orders[0].statuses[&Dimension::Order],
            "awaiting_fulfillment"
        );
        assert_eq!(orders[0].customer.id, "11");
    }

    #[tokio::test]
    async fn a_forged_or_stale_delivery_is_refused_as_auth_and_reads_nothing() {
        let (rt, plugin) = plugin().await;
        let store = serve(BigCommerce::seeded(2)).await;
        let ctx = store_channel(&store.url);
        let body = store.state().callback("store/order/updated", 100);
        let forged = standard_webhook(
            "whsec_bm90IHRoZSBzdG9yZSdzIHNlY3JldA==",
            "msg_forged",
            now_secs(),
            &body,
        );
        let mut tampered = standard_webhook(WEBHOOK_SECRET, "msg_3", now_secs(), &body);
        tampered.body = store.state().callback("store/order/updated", 101);
        let stale = standard_webhook(WEBHOOK_SECRET, "msg_4", now_secs() - 600, &body);
        let unsigned = statusport_tests::delivery::Delivery {
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.clone(),
        };
        for (what, delivery, why) in [
            ("forged", &forged, "webhook-signature does not match"),
            ("tampered", &tampered, "webhook-signature does not match"),
            ("stale", &stale, "refused as a replay"),
            (
                "unsigned",
                &unsigned,
                "the delivery has no webhook-id header",
            ),
        ] {
            match accept(&rt, &plugin, &ctx, delivery).await {
                Err(CallError::Platform(PlatformError::Auth { message })) => {
                    assert!(message.contains(why), "{what}: {message}");
                    assert!(
                        message.ends_with(
                            "the delivery does not come from the store (check that the \
                             channel's \"webhook-secret\" is the webhooks' signing secret)"
                        ),
                        "{what}: {message}"
                    );
                }
                other => panic!("{what}: expected an auth refusal, got {other:?}"),
            }
        }
        assert!(store.received().is_empty());
    }

    #[tokio::test]
    async fn without_a_webhook_secret_a_delivery_is_a_config_error_naming_the_field() {
        let (rt, plugin) = plugin().await;
        let store = serve(BigCommerce::seeded(1)).await;
        let ctx = channel(
            &BigCommerce::api_url(&store.url),
            &[("access-token", ACCESS_TOKEN)],
        );
        let delivery = store.state().webhook("store/order/created", 100, "msg_1");
        assert_eq!(
            accept(&rt, &plugin, &ctx, &delivery)
                .await
                .unwrap_err()
                .to_string(),
            "config: the channel has no value for \"webhook-secret\": set it in the channel's config"
        );
    }

    #[tokio::test]
    async fn other_scopes_give_nothing_and_read_nothing() {
        let (rt, plugin) = plugin().await;
        let store = serve(BigCommerce::seeded(1)).await;
        let body = serde_json::to_vec(&serde_json::json!({
            "created_at": 1561482670, "store_id": "1025646", "producer": "stores/abc123",
            "scope": "store/product/updated", "hash": "352e4afc6dd3fc85ea26bfdf3f91852604d57528",
            "data": {"type": "product", "id": 77},
        }))
        .unwrap();
        let delivery = standard_webhook(WEBHOOK_SECRET, "msg_5", now_secs(), &body);
        let items = accept(&rt, &plugin, &store_channel(&store.url), &delivery)
            .await
            .unwrap();
        assert!(items.is_empty());
        assert!(store.received().is_empty());
    }

    /// The description of BigCommerce's webhooks (`webhooks.v3.yml`) has
    /// the callbacks' payloads as component schemas, each with an example;
    /// no operation answers them. The fake's payloads are checked against
    /// those schemas through an operation added for the check alone, and
    /// must carry every field of the examples.
    #[tokio::test]
    async fn the_fakes_payloads_have_the_shape_of_bigcommerces_callbacks() {
        let path = shared_spec("bigcommerce-webhooks-v3-oas3.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut synthetic = String::from("paths:\n");
        let scopes = [
            ("store/order/created", "store_order_created"),
            ("store/order/updated", "store_order_updated"),
            ("store/order/statusUpdated", "store_order_statusUpdated"),
        ];
        for (_, schema) in scopes {
            synthetic.push_str(&format!(
                "  /callbacks/{schema}:\n    post:\n      operationId: {schema}\n      \
                 requestBody:\n        content:\n          application/json:\n            \
                 schema:\n              $ref: '#/components/schemas/{schema}'\n      \
                 responses:\n        '200':\n          description: taken\n"
            ));
        }
        assert_eq!(text.matches("\npaths:\n").count(), 1, "one paths table");
        let document = text.replacen("\npaths:\n", &format!("\n{synthetic}"), 1);
        let description = statusport_spec::Description::parse("webhooks.v3 callbacks", &document)
            .expect("the webhooks description loads");

        let mut store = BigCommerce::seeded(2);
        store.change_status(100, 11);
        for (scope, schema) in scopes {
            let body: serde_json::Value =
                serde_json::from_slice(&store.callback(scope, 100)).unwrap();
            let url = format!("/callbacks/{schema}");
            let headers = [("content-type", "application/json")];
            let mismatches = description.check_request(&statusport_spec::Request {
                method: "POST",
                url: &url,
                base_url: None,
                headers: Some(&headers),
                body: Some(&body),
            });
            assert!(
                mismatches.is_empty(),
                "{scope}: {}",
                mismatches
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            // The example in the schema's description: every field of it is
            // in the fake's payload, with a value of the same JSON type.
            let start = text
                .find(&format!("title: {scope}"))
                .unwrap_or_else(|| panic!("{scope} is described"));
            let example = &text[start..];
            let open = example.find("```json").unwrap();
            let example = &example[open..];
            let json_start = example.find('{').unwrap();
            let json_end = example.find("```\n").unwrap();
            let example: serde_json::Value = serde_json::from_str(
                &example[json_start..json_end]
                    .lines()
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
            .unwrap_or_else(|e| panic!("{scope}'s example parses: {e}"));
            same_shape(scope, "", &example, &body);
        }
    }

    fn same_shape(scope: &str, at: &str, example: &serde_json::Value, got: &serde_json::Value) {
        use serde_json::Value;
        match (example, got) {
            (Value::Object(e), Value::Object(g)) => {
                for (key, value) in e {
                    let inner = format!("{at}/{key}");
                    let got = g
                        .get(key)
                        .unwrap_or_else(|| panic!("{scope}: the fake's payload lacks {inner}"));
                    same_shape(scope, &inner, value, got);
                }
            }
            (Value::String(_), Value::String(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Array(_), Value::Array(_)) => {}
            (e, g) => panic!("{scope}: {at} is {g} in the fake's payload, like {e} in the example"),
        }
    }
}
