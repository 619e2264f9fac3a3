//! Orders coming in by polling `getOrders`, page by page, with the cursor.

use std::collections::BTreeMap;

use statusport_core::domain::intake::{Batch, Inbound, IncomingOrder};
use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_runtime::CallError;

use crate::fake::{Amazon, MARKETPLACE, iso};
use crate::{Setup, platform_error, setup};

async fn pull(s: &Setup, cursor: Option<&str>) -> Result<Batch, CallError> {
    s.rt.pull(&s.plugin.callee(), &s.ctx, cursor).await.result
}

fn orders(batch: &Batch) -> Vec<&IncomingOrder> {
    batch
        .items
        .iter()
        .map(|i| match i {
            Inbound::Order(o) => o,
            other => panic!("Amazon's pull brings orders only: {other:?}"),
        })
        .collect()
}

/// Pulls until the plugin says nothing more waits: every batch, in order.
async fn pull_all(s: &Setup, mut cursor: Option<String>) -> Vec<Batch> {
    let mut batches = Vec::new();
    loop {
        let batch = pull(s, cursor.as_deref()).await.expect("the pull answers");
        assert!(batches.len() < 100, "the pull never ends");
        cursor = batch.next_cursor.clone();
        let more = batch.more;
        batches.push(batch);
        if !more {
            return batches;
        }
    }
}

fn counts<'a>(batches: impl IntoIterator<Item = &'a Batch>) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for batch in batches {
        for o in orders(batch) {
            *seen.entry(o.platform_order_id.clone()).or_insert(0) += 1;
        }
    }
    seen
}

fn cursor_json(batch: &Batch) -> serde_json::Value {
    serde_json::from_str(batch.next_cursor.as_deref().expect("a cursor")).unwrap()
}

/// The ids of the fake's orders that are past `Pending`.
fn paid_ids(s: &Setup) -> Vec<String> {
    s.amazon
        .state()
        .orders
        .values()
        .filter(|o| o.status != "Pending")
        .map(|o| o.id.clone())
        .collect()
}

#[tokio::test]
async fn every_order_comes_once_across_pages_and_a_changed_order_comes_again() {
    let s = setup(|tokens| Amazon::seeded(45, tokens)).await;
    let batches = pull_all(&s, None).await;
    // 45 orders, 20 a page; the five still Pending wait for their payment.
    assert_eq!(batches.len(), 3);
    assert_eq!(
        batches.iter().map(|b| b.items.len()).collect::<Vec<_>>(),
        [18, 18, 4]
    );
    let seen = counts(&batches);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), paid_ids(&s));
    // Between pages the cursor names the page to read; at the end the listing
    // is done and LastUpdatedAfter is the newest update it saw.
    assert!(cursor_json(&batches[0])["listing"]["page"].is_string());
    let last = cursor_json(&batches[2]);
    assert!(last.get("listing").is_none(), "{last}");
    let newest = s
        .amazon
        .state()
        .orders
        .values()
        .map(|o| o.updated)
        .max()
        .unwrap();
    assert_eq!(last["after"], iso(newest));
    let listings: Vec<_> = s
        .amazon
        .received()
        .into_iter()
        .filter(|r| r.path == "/orders/v0/orders")
        .collect();
    assert_eq!(listings.len(), 3);
    for r in &listings {
        assert_eq!(
            r.query_value("MarketplaceIds").as_deref(),
            Some(MARKETPLACE)
        );
        assert_eq!(r.query_value("MaxResultsPerPage").as_deref(), Some("20"));
        assert_eq!(
            r.query_value("LastUpdatedAfter"),
            listings[0].query_value("LastUpdatedAfter")
        );
    }
    // The first pull reaches 30 days back.
    let since: jiff::Timestamp = listings[0]
        .query_value("LastUpdatedAfter")
        .unwrap()
        .parse()
        .unwrap();
    let days = (jiff::Timestamp::now().as_second() - since.as_second()) / 86_400;
    assert_eq!(days, 30);
    assert!(listings[0].query_value("NextToken").is_none());
    assert!(listings[1].query_value("NextToken").is_some());
    assert!(listings[2].query_value("NextToken").is_some());

    // On Amazon, a buyer cancels an unshipped order and a pending one is paid.
    let unshipped = "302-4000074-1015838";
    let pending = "302-4000111-1023757";
    assert_eq!(s.amazon.state().orders[unshipped].status, "Unshipped");
    assert_eq!(s.amazon.state().orders[pending].status, "Pending");
    s.amazon.state().cancel(unshipped);
    s.amazon.state().authorize_payment(pending);
    let again = pull_all(&s, batches[2].next_cursor.clone()).await;
    assert_eq!(again.len(), 1);
    let changed: BTreeMap<&str, &str> = orders(&again[0])
        .iter()
        .map(|o| {
            (
                o.platform_order_id.as_str(),
                o.statuses[&Dimension::Order].as_str(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        BTreeMap::from([(unshipped, "Canceled"), (pending, "Unshipped")])
    );
    // Nothing changed since: nothing comes.
    let quiet = pull_all(&s, again[0].next_cursor.clone()).await;
    assert_eq!(quiet.len(), 1);
    assert!(quiet[0].items.is_empty(), "{:?}", quiet[0].items);
}

#[tokio::test]
async fn an_order_comes_with_its_buyer_lines_and_shipping() {
    let s = setup(|tokens| Amazon::seeded(2, tokens)).await;
    let batches = pull_all(&s, None).await;
    let all: Vec<&IncomingOrder> = batches.iter().flat_map(orders).collect();
    let o = all
        .iter()
        .find(|o| o.platform_order_id == "302-4000074-1015838")
        .unwrap();
    let fake = s.amazon.state().orders["302-4000074-1015838"].clone();
    assert_eq!(o.customer.id, fake.buyer_email);
    assert_eq!(o.customer.email.as_deref(), Some(fake.buyer_email.as_str()));
    assert_eq!(o.customer.name, fake.ship_to.name);
    assert_eq!(
        o.customer.address,
        [
            fake.ship_to.street.clone(),
            format!("{} {}", fake.ship_to.postal_code, fake.ship_to.city),
            "DE".into()
        ]
    );
    assert_eq!(o.lines.len(), fake.items.len());
    for (line, item) in o.lines.iter().zip(&fake.items) {
        assert_eq!(line.line_id, item.id);
        assert_eq!(line.article, item.sku);
        assert_eq!(line.name, item.title);
        assert_eq!(line.quantity, item.quantity);
        assert_eq!(line.unit_price.minor, item.unit_price);
        assert_eq!(line.unit_price.currency.as_str(), "EUR");
    }
    assert_eq!(o.shipping.unwrap().minor, 490);
    assert_eq!(o.payment_method, "amazon");
    assert_eq!(o.statuses[&Dimension::Order], "Unshipped");
    assert_eq!(o.created_at.as_second(), fake.purchased);
    assert_eq!(o.updated_at.as_second(), fake.updated);
}

#[tokio::test]
async fn a_pull_throttled_in_mid_page_hands_in_what_it_read_and_goes_on_after_it() {
    let s = setup(|tokens| Amazon::seeded(10, tokens)).await;
    // getOrders and two getOrderItems answer; then Amazon throttles.
    s.amazon.inject_after(
        3,
        429,
        &[("x-amzn-RateLimit-Limit", "0.5")],
        serde_json::json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}),
    );
    let first = pull(&s, None).await.unwrap();
    assert_eq!(orders(&first).len(), 2);
    assert!(first.more, "the rest of the page waits");
    let rest = pull_all(&s, first.next_cursor.clone()).await;
    let seen = counts(std::iter::once(&first).chain(&rest));
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), paid_ids(&s));
    // Each order's lines were read once, but for the throttled attempt.
    let item_reads = s
        .amazon
        .received()
        .iter()
        .filter(|r| r.path.ends_with("/orderItems"))
        .count();
    assert_eq!(item_reads, 9 + 1);
}

#[tokio::test]
async fn a_throttled_listing_is_transient_with_amazons_rate_as_the_wait() {
    let s = setup(|tokens| Amazon::seeded(3, tokens)).await;
    s.amazon.inject(
        429,
        &[("x-amzn-RateLimit-Limit", "0.0167")],
        serde_json::json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}),
    );
    match platform_error(pull(&s, None).await) {
        PlatformError::Transient {
            message,
            retry_after_ms,
        } => {
            assert!(
                message.starts_with(&format!(
                    "GET {}/orders/v0/orders?MarketplaceIds=",
                    s.amazon.url
                )),
                "{message}"
            );
            assert!(
                message.ends_with("the platform answered HTTP 429: QuotaExceeded: You exceeded your quota for the requested resource."),
                "{message}"
            );
            // One getOrders a minute: 1 / 0.0167 s.
            assert_eq!(retry_after_ms, Some(59_880));
        }
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn a_page_token_amazon_no_longer_takes_starts_the_listing_over_losing_nothing() {
    let s = setup(|tokens| Amazon::seeded(25, tokens)).await;
    let first = pull(&s, None).await.unwrap();
    assert!(first.more);
    s.amazon.state().expire_next_tokens();
    let rest = pull_all(&s, first.next_cursor.clone()).await;
    let seen = counts(std::iter::once(&first).chain(&rest));
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), paid_ids(&s));
    let refused = s
        .amazon
        .received()
        .iter()
        .filter(|r| r.path == "/orders/v0/orders" && r.query_value("NextToken").is_some())
        .count();
    assert_eq!(refused, 2, "the stale token once, then the fresh one");
}

#[tokio::test]
async fn webhooks_are_unsupported_since_amazon_notifies_through_sqs() {
    let s = setup(|tokens| Amazon::seeded(1, tokens)).await;
    let result =
        s.rt.accept_webhook(
            &s.plugin.callee(),
            &s.ctx,
            &[("content-type".into(), "application/json".into())],
            br#"{"NotificationType":"ORDER_CHANGE"}"#,
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Unsupported { message } => assert_eq!(
            message,
            "Amazon sends its order notifications to Amazon SQS or EventBridge, never as HTTP requests \
             to this host: an Amazon channel's orders come in by polling; give the channel a poll \
             interval (poll_interval_secs)"
        ),
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(s.calls().is_empty());
}

#[tokio::test]
async fn the_first_pull_starts_at_intake_since_and_a_bad_one_is_a_config_error() {
    let s = crate::setup_with(
        |tokens| Amazon::seeded(2, tokens),
        &[("intake-since", "2026-01-31")],
    )
    .await;
    pull(&s, None).await.unwrap();
    let listing = &s.amazon.received()[0];
    assert_eq!(
        listing.query_value("LastUpdatedAfter").as_deref(),
        Some("2026-01-31T00:00:00Z")
    );

    let s = crate::setup_with(
        |tokens| Amazon::seeded(2, tokens),
        &[("intake-since", "last monday")],
    )
    .await;
    match platform_error(pull(&s, None).await) {
        PlatformError::Config { message } => assert_eq!(
            message,
            "\"intake-since\" is \"last monday\": use a date (2026-01-31) or an RFC 3339 time"
        ),
        other => panic!("expected config, got {other:?}"),
    }
    assert!(s.calls().is_empty());
}
