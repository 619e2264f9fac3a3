//! Receipts coming in by polling: `getShopReceipts` by last change, 100 a
//! page, with the cursor.

use statusport_core::domain::platform::{Dimension, PlatformError};

use crate::fake::{Etsy, FIRST_RECEIPT};
use crate::{counts, platform_error, world};

/// The `min_last_modified` of each list request, in order.
fn windows(w: &crate::World) -> Vec<i64> {
    w.shop
        .received()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/receipts"))
        .map(|r| {
            assert_eq!(r.query_value("sort_on").as_deref(), Some("updated"));
            assert_eq!(r.query_value("sort_order").as_deref(), Some("asc"));
            assert_eq!(r.query_value("limit").as_deref(), Some("100"));
            r.query_value("min_last_modified").unwrap().parse().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_pull_across_pages_brings_each_receipt_once_and_the_cursor_moves() {
    let w = world(|t| Etsy::seeded(t, 250), &[]).await;
    let (all, batches, cursor) = w.pull_all(None).await;
    let seen = counts(&all);
    assert_eq!(seen.len(), 250);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(batches >= 3, "{batches} batches");
    let starts = windows(&w);
    assert!(starts.windows(2).all(|p| p[0] <= p[1]), "{starts:?}");
    assert!(starts.last() > starts.first(), "{starts:?}");
    // Nothing new: nothing comes, and the cursor stays.
    let (nothing, _, again) = w.pull_all(cursor.clone()).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
    assert_eq!(again, cursor);

    // Receipt 10: completed (10 % 5 == 0), two lines (1 + 10 % 3), the
    // buyer's email withheld.
    let id = (FIRST_RECEIPT + 10).to_string();
    let o = all.iter().find(|o| o.platform_order_id == id).unwrap();
    assert_eq!(o.customer.id, "5010");
    assert_eq!(o.customer.name, "Given10 Family10");
    assert_eq!(o.customer.email, None);
    assert_eq!(
        o.customer.address,
        ["10 Market Street", "12534 Hudson", "NY", "US"]
    );
    let statuses: Vec<(Dimension, &str)> =
        o.statuses.iter().map(|(d, c)| (*d, c.as_str())).collect();
    assert_eq!(
        statuses,
        [
            (Dimension::Order, "completed"),
            (Dimension::Payment, "paid"),
            (Dimension::Delivery, "shipped")
        ]
    );
    let lines: Vec<(&str, &str, u32, i64)> = o
        .lines
        .iter()
        .map(|l| {
            (
                l.line_id.as_str(),
                l.article.as_str(),
                l.quantity,
                l.unit_price.minor,
            )
        })
        .collect();
    let t = |k: u64| (FIRST_RECEIPT + 10) * 10 + k;
    assert_eq!(
        lines,
        [
            (t(0).to_string().as_str(), "ETSY-100", 3, 1990),
            (t(1).to_string().as_str(), "ETSY-101", 3, 2090),
        ]
    );
    assert_eq!(o.lines[0].unit_price.currency.as_str(), "USD");
    assert_eq!(o.payment_method, "cc");
    // Receipt 11 is in yen (no minor unit), receipt 14 in euros; the third
    // line of receipt 11 (11 % 3 == 2) has no SKU and goes by its product.
    let yen = all
        .iter()
        .find(|o| o.platform_order_id == (FIRST_RECEIPT + 11).to_string())
        .unwrap();
    assert_eq!(yen.shipping.unwrap().minor, 450);
    assert_eq!(yen.shipping.unwrap().currency.as_str(), "JPY");
    assert_eq!(yen.lines.len(), 3);
    assert_eq!(yen.lines[2].article, "800102");
    assert_eq!(yen.lines[2].unit_price.minor, 2190);
    let euro = all
        .iter()
        .find(|o| o.platform_order_id == (FIRST_RECEIPT + 14).to_string())
        .unwrap();
    assert_eq!(euro.lines[0].unit_price.currency.as_str(), "EUR");
    assert_eq!(euro.statuses[&Dimension::Payment], "paid");
    assert_eq!(euro.statuses[&Dimension::Delivery], "unshipped");
    let open = all
        .iter()
        .find(|o| o.platform_order_id == (FIRST_RECEIPT + 12).to_string())
        .unwrap();
    assert_eq!(open.statuses[&Dimension::Order], "open");
    assert_eq!(open.statuses[&Dimension::Payment], "unpaid");
}

#[tokio::test]
async fn a_receipt_changed_after_a_pull_comes_again_with_its_new_statuses() {
    let w = world(|t| Etsy::seeded(t, 20), &[]).await;
    let (first, _, cursor) = w.pull_all(None).await;
    assert_eq!(first.len(), 20);
    let (nothing, _, cursor) = w.pull_all(cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));

    let (a, b, c) = (FIRST_RECEIPT + 4, FIRST_RECEIPT + 6, FIRST_RECEIPT + 7);
    w.shop.state().pay(a);
    w.shop.state().ship(b);
    w.shop.state().cancel(c);
    let (again, _, cursor) = w.pull_all(cursor).await;
    let changed: Vec<(String, &str, &str, &str)> = again
        .iter()
        .map(|o| {
            (
                o.platform_order_id.clone(),
                o.statuses[&Dimension::Order].as_str(),
                o.statuses[&Dimension::Payment].as_str(),
                o.statuses[&Dimension::Delivery].as_str(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            (a.to_string(), "paid", "paid", "unshipped"),
            (b.to_string(), "completed", "paid", "shipped"),
            (c.to_string(), "canceled", "paid", "unshipped"),
        ]
    );
    let (nothing, _, _) = w.pull_all(cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn many_receipts_changed_in_one_second_are_neither_lost_nor_repeated() {
    let w = world(|t| Etsy::seeded(t, 240), &[]).await;
    {
        // A bulk edit changes 150 receipts in one second, across page edges.
        let mut shop = w.shop.state();
        let ids: Vec<u64> = shop.receipts.keys().copied().collect();
        let second = shop.receipts[&ids[200]].created + 1;
        for id in &ids[20..170] {
            shop.receipts.get_mut(id).unwrap().updated = second;
        }
    }
    let (all, batches, cursor) = w.pull_all(None).await;
    let seen = counts(&all);
    assert_eq!(seen.len(), 240);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(batches >= 3, "{batches} batches");
    let (nothing, _, _) = w.pull_all(cursor).await;
    assert!(nothing.is_empty(), "{:?}", counts(&nothing));
}

#[tokio::test]
async fn a_pull_repeated_with_the_same_cursor_brings_the_same_receipts() {
    let w = world(|t| Etsy::seeded(t, 150), &[]).await;
    let pull = |cursor: Option<String>| {
        let w = &w;
        async move {
            w.rt.pull(&w.plugin.callee(), &w.ctx, cursor.as_deref())
                .await
                .result
                .unwrap()
        }
    };
    let first = pull(None).await;
    assert!(first.more);
    assert_eq!(first.items.len(), 100);
    // The host crashed before it stored the batch: the same pull again.
    let repeated = pull(None).await;
    assert_eq!(repeated.items, first.items);
    assert_eq!(repeated.next_cursor, first.next_cursor);
    let second = pull(first.next_cursor.clone()).await;
    let again = pull(first.next_cursor.clone()).await;
    assert_eq!(second.items, again.items);
    assert!(!second.more);
    let ids = |b: &statusport_core::domain::intake::Batch| {
        crate::orders(&b.items)
            .iter()
            .map(|o| o.platform_order_id.clone())
            .collect::<Vec<_>>()
    };
    let mut both = ids(&first);
    both.extend(ids(&second));
    both.sort();
    both.dedup();
    assert_eq!(both.len(), 150);
}

#[tokio::test]
async fn the_first_pull_starts_at_intake_since_and_a_bad_one_is_a_config_error() {
    let w = world(|t| Etsy::seeded(t, 3), &[("intake-since", "2026-01-01")]).await;
    let (all, _, _) = w.pull_all(None).await;
    assert_eq!(all.len(), 3);
    assert_eq!(windows(&w), [1_767_225_600]);

    let w = world(|t| Etsy::seeded(t, 3), &[("intake-since", "last tuesday")]).await;
    let report = w.rt.pull(&w.plugin.callee(), &w.ctx, None).await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Config {
            message:
                "\"intake-since\" is \"last tuesday\": use a date (2026-01-31) or an RFC 3339 time"
                    .into()
        }
    );
    assert!(w.shop.received().is_empty());
}

#[tokio::test]
async fn a_cursor_of_another_plugin_is_rejected_naming_the_form() {
    let w = world(|t| Etsy::seeded(t, 3), &[]).await;
    let report =
        w.rt.pull(&w.plugin.callee(), &w.ctx, Some(r#"{"modified":"x"}"#))
            .await;
    match platform_error(report.result) {
        PlatformError::Rejected { message } => assert_eq!(
            message,
            r#"cursor {"modified":"x"} is not an Etsy intake cursor ({"updated":"<RFC 3339>","seen":[<receipt ids>]})"#
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
}
