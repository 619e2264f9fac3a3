//! The service's parsers of outside input, fed arbitrary input: event
//! bodies and the config file. Each answers with an error, never a panic;
//! an event body that parses is applied or refused by the engine. The
//! core's parsers (rules, CEL, money, templates, `describe`) are fed the
//! same way in `host/core/tests/engine/parsers.rs`, whose input helpers
//! this suite includes.

#[path = "../../../host/core/tests/engine/fuzzing.rs"]
mod fuzzing;

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use statusport::api::error::parse;
use statusport::api::orders::EventRequest;
use statusport::config::Config;
use statusport_core::domain::event::Event;
use statusport_core::domain::order::Actor;
use statusport_core::engine::{Engine, NewOrder, rulesets};
use statusport_core::store::Store;
use statusport_tests::shop::{channel, teapot_order};

use fuzzing::{Reached, edit, mutate, one_of, runner};

/// JSON of any shape, strings and numbers at their edges among it.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        one_of(&[
            "",
            "dhl",
            "A-100",
            "1",
            "s-1",
            "order",
            "payment",
            "paid",
            "processing",
            "2026-12-31",
            "9999-12-31",
            "-0001-01-01",
            "2026-02-30",
            "c-1",
            "admin",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                one_of(&["type", "id", "event", "carrier", "tracking_number", "lines"]),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body shaped like an event: a known type and the fields events carry,
/// each with a value of any kind.
fn event_body() -> impl Strategy<Value = Value> {
    let kind = one_of(&[
        "payment_matched",
        "shipment_added",
        "shipment_done",
        "packing_slip_printed",
        "picked",
        "delivery_number_entered",
        "delivered_quantity",
        "expected_delivery_date",
        "approved",
        "rejected",
        "goods_received",
        "set_status",
        "time_passed",
        "manual",
        "cancel",
        "pause",
        "resume",
        "assign",
        "move_customer",
    ]);
    let package = (
        json_value(),
        json_value(),
        prop::collection::vec((json_value(), json_value()), 0..3),
    )
        .prop_map(|(carrier, tracking, lines)| {
            let lines: Vec<Value> = lines
                .into_iter()
                .map(|(line_id, quantity)| json!({"line_id": line_id, "quantity": quantity}))
                .collect();
            json!({"carrier": carrier, "tracking_number": tracking, "lines": lines})
        });
    let field = prop_oneof![
        json_value().prop_map(|v| ("reference", v)),
        json_value().prop_map(|v| ("shipment_id", v)),
        prop::collection::vec(package, 0..3).prop_map(|p| ("packages", Value::from(p))),
        json_value().prop_map(|v| ("done", v)),
        json_value().prop_map(|v| ("number", v)),
        json_value().prop_map(|v| ("line_id", v)),
        json_value().prop_map(|v| ("delivered", v)),
        json_value().prop_map(|v| ("date", v)),
        json_value().prop_map(|v| ("article", v)),
        one_of(&["order", "payment", "delivery"]).prop_map(|v| ("dimension", Value::from(v))),
        json_value().prop_map(|v| ("to", v)),
        json_value().prop_map(|v| ("notify", v)),
        json_value().prop_map(|v| ("customer", v)),
    ];
    (
        kind,
        prop::collection::vec(field, 0..4),
        prop::option::of(one_of(&["e-1", ""])),
    )
        .prop_map(|(kind, fields, id)| {
            let mut event = serde_json::Map::new();
            event.insert("type".into(), kind.into());
            for (name, value) in fields {
                event.insert(name.into(), value);
            }
            json!({"id": id, "event": event})
        })
}

#[test]
fn an_event_body_from_any_bytes_or_json_is_an_event_or_a_problem() {
    let reached = Reached::default();
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..64),
        json_value(),
        event_body(),
    );
    runner(512)
        .run(&strategy, |(bytes, value, shaped)| {
            let _ = parse::<EventRequest>(&bytes);
            let _ = parse::<EventRequest>(value.to_string().as_bytes());
            reached.count(parse::<EventRequest>(shaped.to_string().as_bytes()).is_ok());
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("event bodies", 5);
}

#[test]
fn a_config_file_from_any_text_is_a_config_or_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statusport.toml");
    let mut defaults = Config {
        data_dir: dir.path().join("data"),
        plugin_dir: dir.path().join("plugins"),
        ..Config::default()
    }
    .to_toml();
    defaults.push_str("\n[sms]\nurl = \"https://sms.example.com/v1\"\nauthorization = \"Bearer t\"\nfrom = \"Shop\"\n");
    let strategy = (
        prop::collection::vec(edit(), 1..16),
        "\\PC{0,64}",
        prop::bool::weighted(0.8),
    );
    let reached = Reached::default();
    runner(256)
        .run(&strategy, |(edits, noise, mutated)| {
            let text = if mutated {
                mutate(&defaults, &edits)
            } else {
                noise
            };
            std::fs::write(&file, &text).unwrap();
            let loaded = Config::load(Some(&file));
            reached.count(loaded.is_ok());
            match loaded {
                Ok(config) => {
                    let _ = config.plugins.limits();
                    let _ = config.listen_addr();
                    let _ = config.to_toml();
                }
                Err(e) => prop_assert!(!e.problems.is_empty(), "{text}"),
            }
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("config files", 10);
}

#[test]
fn an_event_that_parses_is_applied_or_refused() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
    let engine = Engine::new(store, statusport_tests::bundled_platforms()).unwrap();
    let woo = channel(
        "woo",
        "woocommerce",
        Some("https://shop.example"),
        &[("consumer-key", "ck"), ("consumer-secret", "cs")],
    );
    let shop = channel("shop", "generic", Some("https://shop.example"), &[]);
    for channel in [woo, shop] {
        engine.save_channel(&channel).unwrap();
    }
    for set in ["card", "shipping"] {
        rulesets::install(&engine, set).unwrap();
    }
    let orders = [("woo", "P-1", "card"), ("shop", "P-2", "cash_on_delivery")].map(
        |(channel, platform_order_id, payment)| {
            let new = NewOrder {
                payment_method: payment.into(),
                ..teapot_order(channel, platform_order_id)
            };
            let created = engine.create_order(new, Actor::User("ops".into()), true);
            tokio.block_on(created).unwrap().0.id
        },
    );
    let n = std::cell::Cell::new(0u64);
    let reached = Reached::default();
    runner(384)
        .run(&(event_body(), any::<bool>()), |(body, first)| {
            let Ok(request) = parse::<EventRequest>(body.to_string().as_bytes()) else {
                return Ok(());
            };
            n.set(n.get() + 1);
            let event = Event {
                id: request.id.unwrap_or_else(|| format!("ev-{}", n.get())),
                order: orders[usize::from(!first)],
                actor: Actor::User("fuzz".into()),
                kind: request.event,
                occurred_at: request.occurred_at,
            };
            reached.count(tokio.block_on(engine.apply(event)).is_ok());
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("events", 5);
    let problems = engine.store().index_problems().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}
