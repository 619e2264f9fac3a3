//! The one order query: a page, a stream and a bulk filter agree on what a
//! query matches, and pages cover every match once, newest first.

use std::collections::BTreeSet;

use statusport_core::domain::order::{Actor, Order, OrderId};
use statusport_core::domain::platform::{Dimension, StatusRef};
use statusport_core::store::{OrderQuery, Store};

use super::{Fixture, new_order};

/// 30 orders over two channels, three customers and two payment methods.
async fn shop() -> Fixture {
    let f = Fixture::with_channels();
    for i in 0..30 {
        let mut new = new_order(
            if i % 2 == 0 { "shop" } else { "woo" },
            &format!("p-{i}"),
            if i % 5 == 0 { "invoice" } else { "card" },
        );
        new.customer = format!("c-{}", i % 3);
        f.engine
            .create_order(new, Actor::User("ops".into()), true)
            .await
            .expect("the order is created");
    }
    f
}

/// Every page of `query`, `limit` orders at a time, concatenated.
fn paged(store: &Store, query: &OrderQuery, limit: usize) -> Vec<Order> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .orders_page(query, cursor, limit, usize::MAX)
            .expect("the store reads");
        assert!(page.orders.len() <= limit);
        all.extend(page.orders);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// What a bulk job's filter takes: every order, checked one by one.
fn walked(store: &Store, query: &OrderQuery) -> BTreeSet<OrderId> {
    store
        .orders_after(None)
        .map(|o| o.expect("the store reads"))
        .filter(|o| query.matches(o))
        .map(|o| o.id)
        .collect()
}

fn ids(orders: &[Order]) -> Vec<OrderId> {
    orders.iter().map(|o| o.id).collect()
}

#[tokio::test]
async fn pages_streams_and_bulk_filters_agree_on_every_query() {
    let f = shop().await;
    let store = f.engine.store().clone();
    let shop_status = f.get(OrderId(1)).statuses[&Dimension::Order].code.clone();
    let queries = [
        OrderQuery::default(),
        OrderQuery {
            channel: Some("woo".into()),
            ..OrderQuery::default()
        },
        // Through the customer's index on each channel, merged.
        OrderQuery {
            customer: Some("c-1".into()),
            ..OrderQuery::default()
        },
        // Through a status index, one channel.
        OrderQuery {
            channel: Some("shop".into()),
            status: Some(StatusRef {
                dimension: Dimension::Order,
                code: shop_status,
            }),
            ..OrderQuery::default()
        },
        OrderQuery {
            customer: Some("c-2".into()),
            payment_method: Some("invoice".into()),
            ..OrderQuery::default()
        },
        OrderQuery {
            number: Some(f.get(OrderId(7)).number),
            ..OrderQuery::default()
        },
        OrderQuery {
            refund_due: Some(true),
            ..OrderQuery::default()
        },
    ];
    for query in &queries {
        let expected = walked(&store, query);
        let streamed: Vec<Order> = store
            .orders_matching(query, None)
            .expect("the store reads")
            .map(|e| e.expect("the store reads").1)
            .collect();
        for limit in [1, 4, 7, 100] {
            let pages = paged(&store, query, limit);
            assert_eq!(
                ids(&pages),
                ids(&streamed),
                "pages of {limit} and the stream list the same orders in the same order: {query:?}"
            );
        }
        let found: BTreeSet<OrderId> = streamed.iter().map(|o| o.id).collect();
        assert_eq!(found.len(), streamed.len(), "no order twice: {query:?}");
        assert_eq!(found, expected, "the indexes miss nothing: {query:?}");
        // Newest first by the millisecond, orders of one millisecond by id.
        let place = |o: &Order| (-o.created.as_millisecond(), o.id);
        assert!(
            streamed.windows(2).all(|w| place(&w[0]) < place(&w[1])),
            "newest first: {query:?}"
        );
    }
    // The queries are not all empty: each narrows to what it says.
    assert_eq!(walked(&store, &queries[0]).len(), 30);
    assert_eq!(walked(&store, &queries[1]).len(), 15);
    assert_eq!(walked(&store, &queries[2]).len(), 10);
    assert_eq!(walked(&store, &queries[3]).len(), 15);
    assert_eq!(walked(&store, &queries[4]).len(), 2);
    assert_eq!(walked(&store, &queries[5]).len(), 1);
    assert!(walked(&store, &queries[6]).is_empty());
}

#[tokio::test]
async fn a_page_that_looks_at_its_limit_answers_with_a_cursor_to_go_on() {
    let f = shop().await;
    let store = f.engine.store().clone();
    // No index narrows a payment method: the page walks every order, and a
    // scan limit of 4 sees at most 4 of them per page.
    let query = OrderQuery {
        channel: Some("shop".into()),
        payment_method: Some("invoice".into()),
        ..OrderQuery::default()
    };
    let mut cursor = None;
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        let page = store
            .orders_page(&query, cursor, 10, 4)
            .expect("the store reads");
        pages += 1;
        found.extend(ids(&page.orders));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        found.into_iter().collect::<BTreeSet<_>>(),
        walked(&store, &query)
    );
    assert!(pages > 1, "the scan limit cut the list into pages");
}

#[tokio::test]
async fn a_query_whose_time_window_is_empty_is_refused_with_its_field() {
    let now = jiff::Timestamp::now();
    let query = OrderQuery {
        created_from: Some(now),
        created_to: Some(now),
        ..OrderQuery::default()
    };
    let (field, message) = query.check().unwrap_err();
    assert_eq!(field, "created_from");
    assert!(message.contains("must be before created_to"), "{message}");
    let earlier = now - jiff::SignedDuration::from_secs(1);
    assert_eq!(
        OrderQuery {
            created_from: Some(earlier),
            ..query
        }
        .check(),
        Ok(())
    );
}
