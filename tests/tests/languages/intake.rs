//! The examples' intake: `pull` over the shop's pages with a cursor, and
//! webhooks, which Example Shop does not send.

use std::collections::BTreeMap;

use statusport_core::domain::intake::{Inbound, IncomingOrder};
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_runtime::CallError;
use statusport_runtime::call::CallContext;
use statusport_tests::channel;
use statusport_tests::fake::exampleshop::{API_KEY, ExampleShop, rfc3339};
use statusport_tests::fake::serve;

use crate::{Language, loaded, shop_channel};

each_language!(
    a_pull_goes_through_every_page_once_with_its_cursor,
    a_change_after_the_last_pull_comes_in_alone,
    the_same_cursor_gives_the_same_batch,
    the_first_pull_starts_at_intake_since,
    an_intake_since_that_is_no_date_is_a_config_error,
    webhooks_are_unsupported,
);

/// One pull: its orders, the next cursor and whether more waits.
async fn pull(
    language: Language,
    ctx: &CallContext,
    cursor: Option<&str>,
) -> Result<(Vec<IncomingOrder>, Option<String>, bool), CallError> {
    let l = loaded();
    let batch =
        l.rt.pull(&l.plugin(language).callee(), ctx, cursor)
            .await
            .result?;
    let orders = batch
        .items
        .into_iter()
        .map(|item| match item {
            Inbound::Order(o) => o,
            other => panic!("Example Shop's pull brings orders only: {other:?}"),
        })
        .collect();
    Ok((orders, batch.next_cursor, batch.more))
}

/// Pulls until nothing more waits: every order in the order received, the
/// number of pulls and the last cursor.
async fn pull_all(
    language: Language,
    ctx: &CallContext,
    mut cursor: Option<String>,
) -> (Vec<IncomingOrder>, usize, Option<String>) {
    let mut all = Vec::new();
    let mut pulls = 0;
    loop {
        let (orders, next, more) = pull(language, ctx, cursor.as_deref())
            .await
            .expect("the pull answers");
        pulls += 1;
        assert!(pulls < 100, "the pull never ends");
        all.extend(orders);
        cursor = next;
        if !more {
            return (all, pulls, cursor);
        }
    }
}

fn counts(orders: &[IncomingOrder]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for o in orders {
        *seen.entry(o.platform_order_id.clone()).or_insert(0) += 1;
    }
    seen
}

async fn a_pull_goes_through_every_page_once_with_its_cursor(language: Language) {
    // 120 orders, eight to a second: the shop's pages of 50 end inside a
    // second, so the cursor must hand in the rest of that second exactly once.
    let shop = serve(ExampleShop::seeded(120, 8)).await;
    let ctx = shop_channel(&shop.url);
    let (orders, pulls, cursor) = pull_all(language, &ctx, None).await;
    let seen = counts(&orders);
    assert_eq!(seen.len(), 120);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(pulls, 3);
    let pages: Vec<String> = shop
        .received()
        .iter()
        .map(|r| {
            assert_eq!(r.method, "GET");
            assert_eq!(r.path, "/orders");
            let query: BTreeMap<String, String> =
                url::form_urlencoded::parse(r.query.as_deref().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            format!("page={} per_page={}", query["page"], query["per_page"])
        })
        .collect();
    assert_eq!(pages, ["page=1 per_page=50"; 3]);
    // The cursor names the second of the last order and the ids handed in
    // from it (orders 1113 to 1120 share the last second).
    let cursor: serde_json::Value = serde_json::from_str(&cursor.unwrap()).unwrap();
    let last = shop.state().orders["1120"].updated;
    assert_eq!(cursor["since"], rfc3339(last));
    assert_eq!(cursor["page"], 1);
    assert_eq!(
        cursor["seen"],
        serde_json::json!([
            "1113", "1114", "1115", "1116", "1117", "1118", "1119", "1120"
        ])
    );

    // Each order as the shop has it.
    let first = orders
        .iter()
        .find(|o| o.platform_order_id == "1002")
        .unwrap();
    let shop_order = shop.state().orders["1002"].clone();
    assert_eq!(first.customer.id, "c-1");
    assert_eq!(first.customer.name, "Customer 1");
    assert_eq!(first.customer.email.as_deref(), Some("ada@example.com"));
    assert_eq!(first.customer.phone, None);
    assert_eq!(
        first.customer.address,
        ["12 Main Street", "10115 Berlin", "DE"]
    );
    assert_eq!(first.lines.len(), 1);
    let line = &first.lines[0];
    assert_eq!(
        (
            line.line_id.as_str(),
            line.article.as_str(),
            line.name.as_str(),
            line.quantity
        ),
        ("l-1", "TEA-100", "Teapot", 2)
    );
    assert_eq!(line.unit_price.minor, 4900);
    assert_eq!(line.unit_price.currency.to_string(), "EUR");
    assert_eq!(first.shipping.as_ref().map(|m| m.minor), Some(490));
    assert_eq!(first.payment_method, "card");
    assert_eq!(first.statuses[&Dimension::Order], "paid");
    assert_eq!(
        first.created_at.as_second(),
        shop_order.created,
        "created_at"
    );
    assert_eq!(
        first.updated_at.as_second(),
        shop_order.updated,
        "updated_at"
    );
}

async fn a_change_after_the_last_pull_comes_in_alone(language: Language) {
    let shop = serve(ExampleShop::seeded(60, 4)).await;
    let ctx = shop_channel(&shop.url);
    let (orders, _, cursor) = pull_all(language, &ctx, None).await;
    assert_eq!(orders.len(), 60);
    // Nothing changed: nothing comes.
    let (none, _, more) = pull(language, &ctx, cursor.as_deref()).await.unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert!(!more);

    shop.state().change_status("1010", "packed");
    let (changed, pulls, _) = pull_all(language, &ctx, cursor).await;
    assert_eq!(pulls, 1);
    let got: Vec<(&str, &str)> = changed
        .iter()
        .map(|o| {
            (
                o.platform_order_id.as_str(),
                o.statuses[&Dimension::Order].as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("1010", "packed")]);
}

async fn the_same_cursor_gives_the_same_batch(language: Language) {
    let shop = serve(ExampleShop::seeded(80, 3)).await;
    let ctx = shop_channel(&shop.url);
    let (_, first_cursor, _) = pull(language, &ctx, None).await.unwrap();
    let ids = |orders: Vec<IncomingOrder>| -> Vec<String> {
        orders.into_iter().map(|o| o.platform_order_id).collect()
    };
    // The host repeats a pull whose import a crash cut short.
    let (a, next_a, more_a) = pull(language, &ctx, first_cursor.as_deref()).await.unwrap();
    let (b, next_b, more_b) = pull(language, &ctx, first_cursor.as_deref()).await.unwrap();
    assert_eq!(ids(a), ids(b));
    assert_eq!(next_a, next_b);
    assert_eq!(more_a, more_b);
}

async fn the_first_pull_starts_at_intake_since(language: Language) {
    let shop = serve(ExampleShop::seeded(5, 1)).await;
    let with_since =
        |since: &str| channel(&shop.url, &[("api-key", API_KEY), ("intake-since", since)]);
    let (orders, _, more) = pull(language, &with_since("2999-01-31"), None)
        .await
        .unwrap();
    assert!(orders.is_empty());
    assert!(!more);
    let (orders, _, _) = pull(language, &with_since("2020-01-31T08:00:00Z"), None)
        .await
        .unwrap();
    assert_eq!(orders.len(), 5);
    // Without it, 30 days back.
    let (orders, _, _) = pull(language, &shop_channel(&shop.url), None)
        .await
        .unwrap();
    assert_eq!(orders.len(), 5);
    let asked: Vec<String> = shop
        .received()
        .iter()
        .map(|r| {
            url::form_urlencoded::parse(r.query.as_deref().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "updated_after")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(asked[..2], ["2999-01-31T00:00:00Z", "2020-01-31T08:00:00Z"]);
    let default: jiff::Timestamp = asked[2].parse().unwrap();
    let days = (jiff::Timestamp::now().as_second() - default.as_second()) / 86_400;
    assert_eq!(days, 30, "{}", asked[2]);
}

async fn an_intake_since_that_is_no_date_is_a_config_error(language: Language) {
    let shop = serve(ExampleShop::seeded(5, 1)).await;
    let ctx = channel(
        &shop.url,
        &[("api-key", API_KEY), ("intake-since", "last week")],
    );
    let result = pull(language, &ctx, None).await;
    match result {
        Err(CallError::Platform(PlatformError::Config { message })) => assert_eq!(
            message,
            "config field \"intake-since\": \"last week\" is not a date (2026-01-31) or an RFC 3339 time (2026-01-31T08:00:00Z)"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(shop.received().is_empty());
}

async fn webhooks_are_unsupported(language: Language) {
    let l = loaded();
    let report =
        l.rt.accept_webhook(
            &l.plugin(language).callee(),
            &shop_channel("https://shop.example.com"),
            &[("content-type".into(), "application/json".into())],
            b"{}",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Unsupported { message })) => assert_eq!(
            message,
            "Example Shop sends no webhooks: give the channel a poll interval and its orders are pulled"
        ),
        other => panic!("expected unsupported, got {other:?}"),
    }
}
