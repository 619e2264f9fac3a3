//! What the engine refuses, and that a refusal leaves nothing behind.

use statusport_core::domain::event::EventKind;
use statusport_core::domain::order::Actor;
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::{Conflict, EngineError, rulesets};

use super::{Fixture, new_order, status};

#[tokio::test]
async fn a_status_the_plugin_does_not_declare_is_refused_with_the_known_ones() {
    let f = Fixture::with_channels();
    let order = f.order("woo", "U-1", "card").await;
    let err = f
        .engine
        .apply(statusport_core::domain::event::Event {
            id: "bad".into(),
            order: order.id,
            actor: Actor::User("ops".into()),
            kind: EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "shipped".into(),
            },
            occurred_at: None,
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, EngineError::Invalid { field, .. } if field == "status"),
        "{text}"
    );
    assert!(
        text.contains("\"shipped\" is not a status of plugin woocommerce 1.1.0")
            && text.contains("pending, processing, on-hold, completed"),
        "{text}"
    );
    assert_eq!(f.engine.store().history(order.id).unwrap().len(), 1);
}

#[tokio::test]
async fn a_manual_move_the_plugin_does_not_allow_is_refused_naming_the_allowed_moves() {
    let f = Fixture::with_channels();
    let order = f.order("sw", "X-1", "card").await;
    let err = f
        .engine
        .apply(statusport_core::domain::event::Event {
            id: "jump".into(),
            order: order.id,
            actor: Actor::User("ops".into()),
            kind: EventKind::SetStatus {
                dimension: Dimension::Delivery,
                to: "returned".into(),
            },
            occurred_at: None,
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            EngineError::Conflict(Conflict::TransitionNotAllowed { .. })
        ),
        "{text}"
    );
    assert!(
        text.contains("no delivery move open → returned") && text.contains("shipped"),
        "{text}"
    );
    assert_eq!(status(&f.get(order.id), Dimension::Delivery), "open");
    // The event was not recorded: the same id may come again, corrected.
    assert!(
        f.engine
            .store()
            .applied_event(order.id, "jump")
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_rule_naming_an_unknown_status_is_refused_with_the_known_ones() {
    let f = Fixture::with_channels();
    let err = f
        .engine
        .import_rules(
            r#"
[[rule]]
id = "ship-on-tracking"
channels = ["woo"]
on = ["shipment_done"]
to = "shipped"
"#,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("status \"order:shipped\" is not a status of plugin woocommerce 1.1.0")
            && err.contains("pending, processing, on-hold, completed, cancelled, refunded, failed"),
        "{err}"
    );
    assert!(f.engine.rules().is_empty());
}

#[tokio::test]
async fn a_rule_with_a_move_the_plugin_does_not_allow_is_refused() {
    let f = Fixture::with_channels();
    let err = f
        .engine
        .import_rules(
            r#"
[[rule]]
id = "reopen"
channels = ["sw"]
on = ["manual"]
from = ["order:completed"]
to = "order:cancelled"
"#,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("allows no move order:completed → cancelled"),
        "{err}"
    );
}

#[tokio::test]
async fn a_rule_naming_a_missing_template_is_refused_with_the_known_ones() {
    let f = Fixture::with_channels();
    f.email_template("shipped");
    let err = f
        .engine
        .import_rules(
            r#"
[[rule]]
id = "mail"
platform = "generic"
on = ["picked"]
then = { email = "shiped" }
"#,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "then.email: template \"shiped\" does not exist (known email templates: shipped)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_rule_file_with_one_bad_rule_saves_none() {
    let f = Fixture::with_channels();
    let err = f
        .engine
        .import_rules(
            r#"
[[rule]]
id = "good"
platform = "generic"
on = ["picked"]
to = "order:processing"

[[rule]]
id = "bad"
platform = "generic"
on = ["picked"]
to = "order:teleported"
when = { expression = "order.total_minor >" }
"#,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("rule bad is invalid"), "{err}");
    assert!(err.contains("expression does not parse"), "{err}");
    assert!(f.engine.rules().is_empty());
}

#[tokio::test]
async fn unknown_fields_and_triggers_in_a_rule_file_are_named() {
    let f = Fixture::with_channels();
    let err = f
        .engine
        .import_rules("[[rule]]\nid = \"x\"\nplatform = \"generic\"\non = [\"paid\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown variant `paid`") && err.contains("payment_matched"),
        "{err}"
    );
    let err = f
        .engine
        .import_rules(
            "[[rule]]\nid = \"x\"\nplatform = \"generic\"\non = [\"picked\"]\ncolour = 1\n",
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `colour`"), "{err}");
}

#[tokio::test]
async fn a_rule_loop_is_stopped_by_the_guard_and_changes_nothing() {
    let f = Fixture::with_channels();
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "ping"
channels = ["woo"]
on = ["status_changed"]
from = ["order:processing"]
to = "order:on-hold"

[[rule]]
id = "pong"
channels = ["woo"]
on = ["status_changed"]
from = ["order:on-hold"]
to = "order:processing"
"#,
        )
        .unwrap();
    let order = f.order("woo", "L-1", "card").await;
    let err = f
        .engine
        .apply(statusport_core::domain::event::Event {
            id: "start".into(),
            order: order.id,
            actor: Actor::User("ops".into()),
            kind: EventKind::SetStatus {
                dimension: Dimension::Order,
                to: "processing".into(),
            },
            occurred_at: None,
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, EngineError::Conflict(Conflict::RuleLoop { .. })),
        "{text}"
    );
    assert!(text.contains("ping → pong → ping"), "{text}");
    let after = f.get(order.id);
    assert_eq!(status(&after, Dimension::Order), "pending");
    assert_eq!(after.version, order.version);
    assert!(f.jobs_of(order.id).is_empty());
}

#[tokio::test]
async fn a_channel_missing_required_config_is_refused_naming_the_fields() {
    let f = Fixture::empty();
    let channel = statusport_core::domain::order::Channel {
        id: "woo".try_into().unwrap(),
        name: "Woo".into(),
        plugin: "woocommerce".into(),
        base_url: None,
        config: Default::default(),
        grants: Vec::new(),
        invoice_numbering: true,
        requires_approval: false,
        push_manual_changes: true,
        concurrency: None,
        rate_per_second: None,
        poll_interval_secs: None,
    };
    let err = f.engine.save_channel(&channel).unwrap_err().to_string();
    assert!(
        err.contains("needs config for: consumer-key, consumer-secret"),
        "{err}"
    );
}

#[tokio::test]
async fn an_order_for_an_unknown_channel_is_refused_naming_the_known_ones() {
    let f = Fixture::with_channels();
    let err = f
        .engine
        .create_order(new_order("nope", "1", "card"), Actor::System, true)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "channel \"nope\" does not exist (known: shop, sw, woo)"
    );
}

#[tokio::test]
async fn an_invoice_rule_on_a_channel_without_invoice_numbering_is_refused() {
    let f = Fixture::empty();
    f.channel("erp", "generic", &[], |c| c.invoice_numbering = false);
    let err = f
        .engine
        .import_rules(
            r#"
[[rule]]
id = "invoice"
channels = ["erp"]
on = ["payment_matched"]
then = { issue_invoice = true }
"#,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("channel erp has invoice numbering switched off"),
        "{err}"
    );
}

#[tokio::test]
async fn an_invoice_rule_for_a_platform_with_a_channel_without_invoice_numbering_is_refused() {
    let f = Fixture::empty();
    f.channel("shop", "generic", &[], |_| {});
    f.channel("erp", "generic", &[], |c| c.invoice_numbering = false);
    f.channel("erp2", "generic", &[], |c| c.invoice_numbering = false);
    let rule = |issue: bool| {
        format!(
            r#"
[[rule]]
id = "invoice"
platform = "generic"
on = ["payment_matched"]
then = {{ issue_invoice = {issue} }}
"#
        )
    };
    let err = f.engine.import_rules(&rule(true)).unwrap_err().to_string();
    for channel in ["erp", "erp2"] {
        assert!(
            err.contains(&format!(
                "issue_invoice: channel {channel} has invoice numbering switched off, and the rule applies to every channel of plugin generic"
            )),
            "{err}"
        );
    }
    assert!(!err.contains("channel shop"), "{err}");
    assert!(f.engine.rules().is_empty(), "nothing saved");
    // The same rule without the invoice is fine, and a rule for another
    // plugin does not see these channels.
    f.engine.import_rules(&rule(false)).unwrap();
    f.engine
        .import_rules(
            r#"
[[rule]]
id = "woo-invoice"
platform = "woocommerce"
on = ["payment_matched"]
then = { issue_invoice = true }
"#,
        )
        .unwrap();
}

#[tokio::test]
async fn every_shipped_rule_set_installs_on_the_generic_plugin() {
    let f = Fixture::with_channels();
    for (name, _) in rulesets::SHIPPED {
        rulesets::install(&f.engine, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let exported = f.engine.export_rules();
    let reparsed = statusport_core::engine::rule::RuleFile::parse(&exported).unwrap();
    assert_eq!(reparsed.rule, f.engine.rules().as_ref().clone());
    let err = rulesets::install(&f.engine, "paypal")
        .unwrap_err()
        .to_string();
    assert!(err.contains("known: card, bank-transfer"), "{err}");
}
