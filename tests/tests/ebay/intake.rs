//! Orders coming in by polling `getOrders`: pages, the cursor, orders
//! changed on eBay; webhooks are not eBay's way.

use std::collections::BTreeMap;

use statusport_core::domain::intake::{Batch, Inbound, IncomingOrder};
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_runtime::CallError;

use crate::fake::{Ebay, order_id, time};
use crate::{Setup, setup, setup_with};

async fn pull(s: &Setup, cursor: Option<&str>) -> Batch {
    s.rt.pull(&s.plugin.callee(), &s.ctx, cursor)
        .await
        .result
        .expect("the pull answers")
}

fn orders(batch: &Batch) -> Vec<IncomingOrder> {
    batch
        .items
        .iter()
        .map(|i| match i {
            Inbound::Order(o) => o.clone(),
            other => panic!("eBay's pull brings orders only: {other:?}"),
        })
        .collect()
}

/// Pulls until the plugin says nothing more waits: the orders of every
/// batch, the number of batches and the last cursor.
async fn sweep(
    s: &Setup,
    mut cursor: Option<String>,
) -> (Vec<IncomingOrder>, usize, Option<String>) {
    let mut all = Vec::new();
    let mut batches = 0;
    loop {
        let batch = pull(s, cursor.as_deref()).await;
        batches += 1;
        assert!(batches < 100, "the pull never ends");
        all.extend(orders(&batch));
        cursor = batch.next_cursor;
        if !batch.more {
            return (all, batches, cursor);
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

fn statuses(o: &IncomingOrder) -> (&str, &str) {
    (
        o.statuses[&Dimension::Delivery].as_str(),
        o.statuses[&Dimension::Payment].as_str(),
    )
}

fn cursor_json(cursor: &Option<String>) -> serde_json::Value {
    serde_json::from_str(cursor.as_deref().expect("a cursor")).expect("the cursor is JSON")
}

#[tokio::test]
async fn a_pull_across_pages_brings_each_order_once_with_its_lines_buyer_and_statuses() {
    let s = setup(Ebay::seeded(250)).await;
    let first = pull(&s, None).await;
    assert_eq!(first.items.len(), 100);
    assert!(first.more);
    assert_eq!(cursor_json(&first.next_cursor)["offset"], 100);
    let (rest, batches, cursor) = sweep(&s, first.next_cursor.clone()).await;
    assert_eq!(batches, 2);
    let mut all = orders(&first);
    all.extend(rest);
    assert_eq!(counts(&all).len(), 250);
    assert!(counts(&all).values().all(|n| *n == 1), "{:?}", counts(&all));

    // Three pages of 100 from one filter, the offset moving.
    let asked: Vec<(String, String, String)> = s
        .ebay
        .received()
        .iter()
        .map(|r| {
            (
                r.query_value("filter").unwrap(),
                r.query_value("limit").unwrap(),
                r.query_value("offset").unwrap(),
            )
        })
        .collect();
    let filter = &asked[0].0;
    assert!(
        filter.starts_with("lastmodifieddate:[") && filter.ends_with("Z..]"),
        "{filter}"
    );
    // ISO 8601 with milliseconds: `[2026-10-21T09:30:00.123Z..]`.
    assert_eq!(filter.len(), "lastmodifieddate:[..]".len() + 24, "{filter}");
    assert_eq!(
        asked,
        [
            (filter.clone(), "100".into(), "0".into()),
            (filter.clone(), "100".into(), "100".into()),
            (filter.clone(), "100".into(), "200".into()),
        ]
    );
    // After the sweep, the next starts at the newest change delivered.
    let newest = s
        .ebay
        .state()
        .orders
        .values()
        .map(|o| o.modified_ms)
        .max()
        .unwrap();
    let cursor_value = cursor_json(&cursor);
    assert_eq!(cursor_value["from"], time(newest));
    assert!(cursor_value.get("offset").is_none(), "{cursor_value}");

    // Order 6: EUR, paid; order 7 still pending; order 5 shipped; order 8 has three lines.
    let by_id = |n: u64| {
        all.iter()
            .find(|o| o.platform_order_id == order_id(n))
            .unwrap()
    };
    let o = by_id(6);
    assert_eq!(o.customer.id, "buyer_6");
    assert_eq!(o.customer.name, "Given6 Family6");
    assert_eq!(o.customer.email.as_deref(), Some("buyer6@example.com"));
    assert_eq!(o.customer.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(
        o.customer.address,
        ["106 Market Street", "94105 San Francisco", "DE"]
    );
    let lines: Vec<(&str, &str, u32, String)> = o
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
        [("10000000000060", "TEA-100", 3, "19.90 EUR".to_owned())]
    );
    assert_eq!(o.shipping.unwrap().to_string(), "4.99 EUR");
    let articles: Vec<(&str, String)> = by_id(8)
        .lines
        .iter()
        .map(|l| (l.article.as_str(), l.unit_price.to_string()))
        .collect();
    assert_eq!(
        articles,
        [
            ("TEA-100", "19.90 USD".to_owned()),
            ("TEA-101", "20.90 USD".to_owned()),
            ("TEA-102", "21.90 USD".to_owned()),
        ]
    );
    assert_eq!(o.payment_method, "EBAY");
    assert_eq!(statuses(o), ("NOT_STARTED", "PAID"));
    assert_eq!(statuses(by_id(7)), ("NOT_STARTED", "PENDING"));
    assert_eq!(statuses(by_id(5)), ("FULFILLED", "PAID"));
    let placed = s.ebay.state().orders[&order_id(6)].created_ms;
    assert_eq!(o.created_at.as_second(), placed / 1000);

    // Nothing changed: the next sweep brings nothing.
    let (nothing, _, _) = sweep(&s, cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn a_pull_repeated_from_the_same_cursor_brings_the_same_page() {
    let s = setup(Ebay::seeded(150)).await;
    let first = pull(&s, None).await;
    // The host stopped before storing the second batch: it pulls again
    // from the cursor it has.
    let second = pull(&s, first.next_cursor.as_deref()).await;
    let again = pull(&s, first.next_cursor.as_deref()).await;
    let ids = |b: &Batch| {
        orders(b)
            .into_iter()
            .map(|o| o.platform_order_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&second).len(), 50);
    assert_eq!(ids(&second), ids(&again));
    assert_eq!(second.next_cursor, again.next_cursor);
}

#[tokio::test]
async fn an_order_changed_on_ebay_comes_again_with_its_new_statuses() {
    let s = setup(Ebay::seeded(20)).await;
    let (first, _, cursor) = sweep(&s, None).await;
    assert_eq!(first.len(), 20);
    {
        // Changes made ten minutes ago, which eBay's search lists by now.
        let mut ebay = s.ebay.state();
        let at = jiff::Timestamp::now().as_millisecond() - 600_000;
        ebay.pay(&order_id(7));
        ebay.ship(&order_id(3), "UPS", "1Z999AA10123456784");
        ebay.refund(&order_id(11), true);
        for n in [7, 3, 11] {
            ebay.orders.get_mut(&order_id(n)).unwrap().modified_ms = at + n as i64;
        }
    }
    let (again, _, cursor) = sweep(&s, cursor).await;
    let changed: Vec<(String, (&str, &str))> = again
        .iter()
        .map(|o| (o.platform_order_id.clone(), statuses(o)))
        .collect();
    assert_eq!(
        changed,
        [
            (order_id(3), ("FULFILLED", "PAID")),
            (order_id(7), ("NOT_STARTED", "PAID")),
            (order_id(11), ("NOT_STARTED", "FULLY_REFUNDED")),
        ]
    );
    let (nothing, _, _) = sweep(&s, cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn an_order_changed_just_now_comes_again_and_once_more_while_ebay_may_still_be_indexing() {
    let s = setup(Ebay::seeded(20)).await;
    let (_, _, cursor) = sweep(&s, None).await;
    s.ebay.state().pay(&order_id(14));
    let (again, _, cursor) = sweep(&s, cursor).await;
    assert_eq!(
        counts(&again).into_iter().collect::<Vec<_>>(),
        [(order_id(14), 1)]
    );
    assert_eq!(statuses(&again[0]), ("NOT_STARTED", "PAID"));
    // The next sweep reads the last two minutes again: only that order is
    // in them, and it comes unchanged.
    let (settling, _, _) = sweep(&s, cursor).await;
    assert_eq!(settling, again);
}

#[tokio::test]
async fn orders_changed_during_a_sweep_are_not_lost() {
    let s = setup(Ebay::seeded(250)).await;
    let first = pull(&s, None).await;
    assert!(
        orders(&first)
            .iter()
            .any(|o| o.platform_order_id == order_id(50))
    );
    // While the host works through the pages, eBay changes an order already
    // delivered and one not yet read.
    s.ebay.state().refund(&order_id(50), false);
    s.ebay.state().ship(&order_id(150), "DPD", "01234567890123");
    let (rest, _, cursor) = sweep(&s, first.next_cursor).await;
    let late = rest
        .iter()
        .find(|o| o.platform_order_id == order_id(150))
        .unwrap();
    assert_eq!(statuses(late), ("FULFILLED", "PAID"));
    assert!(!rest.iter().any(|o| o.platform_order_id == order_id(50)));
    // The next sweep brings the change to the order already delivered.
    let (next, _, _) = sweep(&s, cursor).await;
    let o50 = next
        .iter()
        .find(|o| o.platform_order_id == order_id(50))
        .unwrap();
    assert_eq!(statuses(o50), ("FULFILLED", "PARTIALLY_REFUNDED"));
}

#[tokio::test]
async fn many_orders_changed_in_one_millisecond_are_neither_lost_nor_repeated() {
    let s = setup(Ebay::seeded(240)).await;
    {
        // A bulk change on eBay's side: 150 orders modified at one instant.
        let mut ebay = s.ebay.state();
        let at = jiff::Timestamp::now().as_millisecond() - 1_800_000;
        for (_, o) in ebay.orders.iter_mut().skip(40).take(150) {
            o.modified_ms = at;
        }
    }
    let (all, batches, cursor) = sweep(&s, None).await;
    assert_eq!(batches, 3);
    assert_eq!(counts(&all).len(), 240);
    assert!(counts(&all).values().all(|n| *n == 1), "{:?}", counts(&all));
    let (nothing, _, _) = sweep(&s, cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn the_first_pull_starts_at_intake_since_but_no_further_back_than_ebay_searches() {
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48);
    let since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let s = setup_with(Ebay::seeded(5), &[("intake-since", &since_text)]).await;
    let (all, _, _) = sweep(&s, None).await;
    assert_eq!(all.len(), 5);
    let filter = s.ebay.received()[0].query_value("filter").unwrap();
    assert_eq!(
        filter,
        format!(
            "lastmodifieddate:[{}..]",
            since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        )
    );

    // A start older than eBay's 90 days is moved up to what eBay searches.
    let s = setup_with(Ebay::seeded(5), &[("intake-since", "2020-01-31")]).await;
    let (all, _, _) = sweep(&s, None).await;
    assert_eq!(all.len(), 5);
    let filter = s.ebay.received()[0].query_value("filter").unwrap();
    assert!(!filter.contains("2020-01-31"), "{filter}");
}

#[tokio::test]
async fn a_base_url_without_a_path_reaches_the_api_below_ebays_own_path() {
    let mut s = setup(Ebay::seeded(3)).await;
    let channel = statusport_runtime::ChannelContext {
        base_url: Some(url::Url::parse(&s.ebay.url).unwrap()),
        ..(*s.ctx.channel).clone()
    };
    s.ctx.channel = std::sync::Arc::new(channel);
    let (all, _, _) = sweep(&s, None).await;
    assert_eq!(all.len(), 3);
    assert_eq!(s.ebay.received()[0].path, "/sell/fulfillment/v1/order");
}

#[tokio::test]
async fn a_cursor_of_another_plugin_is_refused_naming_the_expected_shape() {
    let s = setup(Ebay::seeded(1)).await;
    let result =
        s.rt.pull(
            &s.plugin.callee(),
            &s.ctx,
            Some("{\"modified\":\"2026-11-20T10:05:00Z\",\"seen\":[812]}"),
        )
        .await
        .result;
    match result {
        Err(CallError::Platform(PlatformError::Rejected { message })) => assert!(
            message.contains("is not an eBay intake cursor ({\"from\":\"<ISO 8601 time>\""),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(s.ebay.received().is_empty());
}

#[tokio::test]
async fn a_webhook_is_unsupported_saying_ebay_orders_come_in_by_polling() {
    let s = setup(Ebay::seeded(1)).await;
    let result =
        s.rt.accept_webhook(
            &s.plugin.callee(),
            &s.ctx,
            &[("content-type".into(), "application/json".into())],
            b"{\"metadata\":{\"topic\":\"ORDER\"}}",
        )
        .await
        .result;
    match result {
        Err(CallError::Platform(PlatformError::Unsupported { message })) => assert_eq!(
            message,
            "eBay sends no order webhooks to the host: its notifications are not part of the Sell \
             Fulfillment API, so an eBay channel's orders come in by polling (give the channel a \
             poll_interval_secs)"
        ),
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(s.ebay.received().is_empty());
}
