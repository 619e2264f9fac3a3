//! The store under the engine: atomic, version-checked, durable, numbered.

use std::sync::Arc;

use statusport_core::domain::event::EventKind;
use statusport_core::domain::order::Actor;
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::Engine;
use statusport_core::store::{CommitError, Store, Write};

use super::{Fixture, new_order, status};

#[tokio::test]
async fn a_change_computed_from_a_stale_read_is_refused() {
    let f = Fixture::with_channels();
    let stale = f.order("woo", "V-1", "card").await;
    f.event(
        stale.id,
        "paid-first",
        EventKind::SetStatus {
            dimension: Dimension::Order,
            to: "processing".into(),
        },
    )
    .await;
    // A writer that read the order before that change tries to write
    // "failed" over it.
    let mut overwrite = stale.clone();
    overwrite.statuses.get_mut(&Dimension::Order).unwrap().code = "failed".into();
    let err = f
        .engine
        .store()
        .commit(Write {
            before: Some(stale.clone()),
            after: overwrite,
            history: Vec::new(),
            jobs: Vec::new(),
            events: Vec::new(),
            assign_order_number: false,
            assign_invoice_number: false,
            stock: Vec::new(),
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            CommitError::Stale {
                expected: 1,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(status(&f.get(stale.id), Dimension::Order), "processing");
    assert!(f.engine.store().index_problems().unwrap().is_empty());
}

#[tokio::test]
async fn importing_the_same_platform_order_twice_returns_the_first() {
    let f = Fixture::with_channels();
    let first = f.order("woo", "I-1", "card").await;
    let (again, created) = f
        .engine
        .create_order(new_order("woo", "I-1", "card"), Actor::System, true)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(f.engine.store().newest_orders(10).unwrap(), vec![first.id]);
}

#[tokio::test]
async fn orders_and_numbers_survive_a_restart() {
    let f = Fixture::with_channels();
    let a = f.order("woo", "N-1", "card").await;
    let dir = f.dir.clone();
    let engine_store = f.engine.store().clone();
    drop(f.engine);
    drop(engine_store);
    let store = Arc::new(Store::open(&dir).unwrap());
    assert_eq!(
        store.version().unwrap(),
        statusport_core::store::STORE_VERSION
    );
    assert_eq!(store.order(a.id).unwrap().unwrap().number, "10000");
    let engine = Engine::new(store, super::support::platforms()).unwrap();
    let (b, _) = engine
        .create_order(new_order("woo", "N-2", "card"), Actor::System, true)
        .await
        .unwrap();
    assert_eq!(b.number, "10001");
    assert_eq!(
        engine
            .store()
            .order_by_number("10000")
            .unwrap()
            .map(|o| o.id),
        Some(a.id)
    );
}

#[tokio::test]
async fn numbering_has_a_start_number_and_prefixes() {
    let f = Fixture::with_channels();
    f.engine
        .store()
        .set_numbering(&statusport_core::store::Numbering {
            order_start: 500,
            order_prefix: "SP-".into(),
            invoice_start: 2026001,
            invoice_prefix: "R".into(),
        })
        .unwrap();
    f.install(&["card"]);
    let order = f.order("shop", "Q-1", "card").await;
    assert_eq!(order.number, "SP-500");
    f.event(
        order.id,
        "pay",
        EventKind::PaymentMatched { reference: None },
    )
    .await;
    assert_eq!(f.get(order.id).invoice_number.as_deref(), Some("R2026001"));
}

#[tokio::test]
async fn a_start_at_or_below_a_number_drawn_is_refused_naming_the_sequence_and_the_last_number() {
    use statusport_core::store::{Numbering, NumberingError, Sequence};
    let f = Fixture::with_channels();
    let store = f.engine.store();
    store
        .set_numbering(&Numbering {
            order_start: 500,
            invoice_start: 70,
            ..Numbering::default()
        })
        .unwrap();
    f.install(&["card"]);
    let first = f.order("shop", "D-1", "card").await;
    let second = f.order("shop", "D-2", "card").await;
    assert_eq!(
        (first.number.as_str(), second.number.as_str()),
        ("500", "501")
    );
    f.event(
        first.id,
        "pay",
        EventKind::PaymentMatched { reference: None },
    )
    .await;
    assert_eq!(f.get(first.id).invoice_number.as_deref(), Some("INV-70"));
    assert_eq!(store.last_drawn(Sequence::Order).unwrap(), Some(501));
    assert_eq!(store.last_drawn(Sequence::Invoice).unwrap(), Some(70));

    let current = store.numbering().unwrap();
    // The last number drawn is taken already: not a start.
    let err = store
        .set_numbering(&Numbering {
            order_start: 501,
            ..current.clone()
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            NumberingError::BelowDrawn {
                sequence: Sequence::Order,
                start: 501,
                last: 501,
                current: 500
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "order_start: 501 is not above 501, the last order number drawn; give 502 or more, or keep the current start 500"
    );
    assert_eq!(err.field(), Some("order_start"));
    let err = store
        .set_numbering(&Numbering {
            invoice_start: 1,
            invoice_prefix: "RE-".into(),
            ..current.clone()
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            NumberingError::BelowDrawn {
                sequence: Sequence::Invoice,
                start: 1,
                last: 70,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        store.numbering().unwrap(),
        current,
        "a refused numbering changes nothing, its prefix neither"
    );

    // An unchanged start stays whatever was drawn since; a new prefix and a
    // start above the last number take effect with the next number.
    store
        .set_numbering(&Numbering {
            invoice_start: 5000,
            invoice_prefix: "RE-".into(),
            ..current.clone()
        })
        .unwrap();
    f.event(
        second.id,
        "pay-2",
        EventKind::PaymentMatched { reference: None },
    )
    .await;
    assert_eq!(f.get(second.id).invoice_number.as_deref(), Some("RE-5000"));
    let third = f.order("shop", "D-3", "card").await;
    assert_eq!(third.number, "502", "the order sequence goes on");

    let err = store
        .set_numbering(&Numbering {
            order_prefix: "A B".into(),
            ..current
        })
        .unwrap_err();
    assert_eq!(err.field(), Some("order_prefix"), "{err}");
}

#[tokio::test]
async fn a_store_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("data")
            .unwrap()
            .insert("meta/version", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).err().expect("refused").to_string();
    assert!(
        err.contains(&format!(
            "store version 99; this build reads up to {}",
            statusport_core::store::STORE_VERSION
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_version_1_store_is_migrated_and_its_template_names_become_templates() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let data = db.open_tree("data").unwrap();
        data.insert("meta/version", &1u32.to_be_bytes()).unwrap();
        data.insert("t/shipped", br#""shipped""#.to_vec()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.version().unwrap(),
        statusport_core::store::STORE_VERSION
    );
    let templates: Vec<statusport_core::domain::notify::Template> = store
        .records(statusport_core::store::keys::TEMPLATE)
        .unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].name, "shipped");
    assert_eq!(
        templates[0].kind,
        statusport_core::domain::notify::TemplateKind::Email
    );
    // The migrated template renders.
    statusport_core::templates::check_template(&templates[0], &[]).unwrap();
}

#[tokio::test]
async fn concurrent_orders_get_gap_free_unique_numbers() {
    let f = Arc::new(Fixture::with_channels());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            f.engine
                .create_order(
                    new_order("woo", &format!("C-{i}"), "card"),
                    Actor::System,
                    true,
                )
                .await
                .unwrap()
                .0
                .number
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().parse::<u64>().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (10_000..10_200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_on_one_order_serialise() {
    let f = Arc::new(Fixture::with_channels());
    let order = f.order("woo", "S-1", "card").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let to = if i % 2 == 0 { "processing" } else { "on-hold" };
            f.event(
                order.id,
                &format!("e-{i}"),
                EventKind::SetStatus {
                    dimension: Dimension::Order,
                    to: to.into(),
                },
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let history = f.engine.store().history(order.id).unwrap();
    // Every entry's "before" is the previous entry's "after": no change was
    // computed from a stale order.
    let mut current = "pending".to_owned();
    for entry in history.iter().skip(1) {
        if let statusport_core::domain::event::Change::Status { before, after, .. } = &entry.change
        {
            assert_eq!(before.as_deref(), Some(current.as_str()));
            current = after.clone();
        }
    }
    assert_eq!(status(&f.get(order.id), Dimension::Order), current);
    assert!(f.engine.store().index_problems().unwrap().is_empty());
}
