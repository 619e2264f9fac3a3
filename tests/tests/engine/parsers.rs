//! Every parser of outside input, fed arbitrary input: rule files (and the
//! CEL expressions in them), money, templates, the config file, a plugin's
//! `describe`, event bodies. Each answers with an error, never a panic.
//!
//! Purely random text rarely gets past the first character of a grammar,
//! so each parser also gets input built from its own vocabulary: the
//! shipped files with lines mutated, tokens of the template and CEL
//! languages, JSON shaped like an event with values of the wrong kind.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};
use statusport::api::error::parse;
use statusport::api::orders::EventRequest;
use statusport::config::Config;
use statusport_core::domain::event::Event;
use statusport_core::domain::money::Money;
use statusport_core::domain::notify::{Template, TemplateKind};
use statusport_core::domain::order::Actor;
use statusport_core::domain::platform::{
    ConfigFieldDef, Dimension, RawPlatformInfo, StatusDef, TransitionDef, validate,
};
use statusport_core::engine::rule::{AmountCondition, RuleFile, RuleScope};
use statusport_core::engine::rulesets::SHIPPED;
use statusport_core::templates::check_template;

use super::Fixture;

/// Values of every TOML kind, the edges of number types among them.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1e309".to_owned()),
        Just("nan".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("\"\"".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[ -~]{0,12}".prop_map(|s| format!("{s:?}")),
        "\\PC{0,8}".prop_map(|s| format!("{s:?}")),
        "[a-z_.:>=< 0-9-]{0,16}".prop_map(|s| format!("[{s:?}]")),
    ]
}

/// What to do to one line of a TOML file.
#[derive(Clone, Debug)]
enum Edit {
    Keep,
    Drop,
    Twice,
    Value(String),
    Text(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        40 => Just(Edit::Keep),
        1 => Just(Edit::Drop),
        1 => Just(Edit::Twice),
        3 => toml_value().prop_map(Edit::Value),
        1 => "\\PC{0,16}".prop_map(Edit::Text),
    ]
}

/// `text` with `edits` applied line by line (cycling through them).
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut out = String::new();
    for (n, line) in text.lines().enumerate() {
        match &edits[n % edits.len()] {
            Edit::Keep => out.push_str(line),
            Edit::Drop => continue,
            Edit::Twice => {
                out.push_str(line);
                out.push('\n');
                out.push_str(line);
            }
            Edit::Value(value) => match line.split_once('=') {
                Some((key, _)) => {
                    out.push_str(key);
                    out.push_str("= ");
                    out.push_str(value);
                }
                None => out.push_str(line),
            },
            Edit::Text(text) => out.push_str(text),
        }
        out.push('\n');
    }
    out
}

/// CEL over what a rule sees of an order: well-formed expressions from a
/// small grammar (literals at the edges of their types, operators,
/// macros, functions), and token soup.
fn cel_expression() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "order.total_minor > 100",
        "size(order.lines) == 1",
        "order.channel == \"woo\"",
        "order.picked",
        "order.total_minor",
        "order.number",
        "order.channel",
        "order.payment_method",
        "order.statuses",
        "order.statuses.order",
        "order.lines",
        "order.lines[0].quantity",
        "order.lines[9]",
        "order.shipments",
        "order.age_days",
        "order.invoice_number",
        "order.nope",
        "0",
        "1",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615u",
        "0u",
        "1.5",
        "1e308",
        "\"a\"",
        "b\"\\xff\"",
        "null",
        "true",
        "[]",
        "{}",
        "[1, \"a\"]",
        "{\"k\": 1}",
    ])
    .prop_map(str::to_owned);
    let grammar = atom.prop_recursive(4, 32, 3, |inner| {
        let op = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "in",
        ]);
        let function = prop::sample::select(vec![
            "size",
            "int",
            "uint",
            "double",
            "string",
            "bytes",
            "timestamp",
            "duration",
            "type",
            "has",
            "max",
        ]);
        let method = prop::sample::select(vec![
            "all(x, x",
            "exists(x, x",
            "exists_one(x, x",
            "map(x, x",
            "filter(x, x",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("!{a}")),
            (function, inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), method, inner.clone()).prop_map(|(a, m, b)| format!("{a}.{m} == {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("{c} ? {a} : {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, i)| format!("{a}[{i}]")),
            inner.prop_map(|a| format!("{a}.matches(\"(a+)+$\")")),
        ]
    });
    let soup = prop::collection::vec(
        prop::sample::select(vec![
            "order",
            ".",
            "total_minor",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "?",
            "+",
            "-",
            "/",
            "0",
            "1",
            "\"",
            "'",
            "&&",
            "!",
            "in",
            "size(",
            ".all(",
            "x",
            "\\",
            "\u{0}",
        ]),
        1..16,
    )
    .prop_map(|tokens| tokens.join(""));
    // A condition is a comparison more often than not.
    let condition = (grammar.clone(), grammar.clone()).prop_map(|(a, b)| format!("{a} == {b}"));
    prop_oneof![2 => grammar, 2 => condition, 1 => soup]
}

/// Pieces of the template language (minijinja).
fn template_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "{{-",
        "-}}",
        "order.number",
        "order.lines",
        "order",
        "customer.name",
        "status.label",
        "tracking",
        "shipments[0]",
        "channel",
        "loop.index",
        "x",
        ".",
        "|",
        "upper",
        "default(",
        "join(",
        "round(",
        "format(",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "'",
        "~",
        "+",
        "/",
        "//",
        "%",
        "*",
        "**",
        "0",
        "1",
        "-1",
        "9223372036854775807",
        "1e308",
        "for x in order.lines",
        "for x in range(3)",
        "endfor",
        "if",
        "else",
        "endif",
        "set y = 1",
        "extends \"layout\"",
        "include \"layout\"",
        "block body",
        "endblock",
        "macro m()",
        "endmacro",
        "m()",
        "super()",
        "raw",
        "endraw",
        "is defined",
        "not",
        "and",
        "text ",
        "\n",
        "ä",
        "\u{0}",
    ]);
    prop::collection::vec(token, 0..20).prop_map(|tokens| tokens.concat())
}

fn template() -> impl Strategy<Value = Template> {
    (
        prop::sample::select(vec![
            TemplateKind::Email,
            TemplateKind::Sms,
            TemplateKind::Layout,
        ]),
        prop::option::of(template_text()),
        template_text(),
        prop::option::of(template_text()),
        prop::sample::select(vec!["hello", "layout", "", "../x", "a.b"]),
    )
        .prop_map(|(kind, subject, text, html, name)| Template {
            name: name.into(),
            kind,
            subject,
            text,
            html,
        })
}

fn one_of(values: &[&str]) -> impl Strategy<Value = String> + use<> {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    prop_oneof![
        3 => prop::sample::select(values),
        1 => "\\PC{0,12}",
    ]
}

fn raw_platform() -> impl Strategy<Value = RawPlatformInfo> {
    let codes = || one_of(&["new", "paid", "done", "", "a b", "x".repeat(65).leak()]);
    let dimension = || prop::sample::select(Dimension::ALL.to_vec());
    let status = (codes(), codes(), dimension(), any::<bool>(), any::<bool>()).prop_map(
        |(code, label, dimension, terminal, initial)| StatusDef {
            code,
            label,
            dimension,
            terminal,
            initial,
        },
    );
    let transition =
        (dimension(), codes(), codes()).prop_map(|(dimension, from, to)| TransitionDef {
            dimension,
            from,
            to,
        });
    let field = (
        one_of(&["base-url", "api-key", "", "API KEY"]),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(one_of(&["", "x"])),
    )
        .prop_map(|(name, secret, required, default_value)| ConfigFieldDef {
            name,
            help: "help".into(),
            secret,
            required,
            default_value,
        });
    (
        one_of(&["shop", "-shop", "", "Shop", "a-1"]),
        one_of(&["Shop", " ", ""]),
        one_of(&[
            "1.0.0",
            "0.0.0-alpha+build.1",
            "99999999999999999999.0.0",
            "1.0",
            "v1.0.0",
            "",
        ]),
        prop::collection::vec(status, 0..8),
        prop::collection::vec(transition, 0..8),
        prop::collection::vec(one_of(&["dhl", "", "DHL"]), 0..3),
        prop::collection::vec(field, 0..4),
        prop::collection::vec(
            one_of(&[
                "https://auth.example.com",
                "http://127.0.0.1:8080",
                "http://[::1]:0",
                "https://x.example:99999",
                "ftp://x.example",
                "https://u:p@x.example",
                "https://x.example/path?q",
                "https://",
                "http://%zz",
                "data:text/plain,x",
            ]),
            0..4,
        ),
    )
        .prop_map(
            |(id, name, version, statuses, transitions, carriers, config, extra_hosts)| {
                RawPlatformInfo {
                    id,
                    name,
                    version,
                    statuses,
                    transitions,
                    carriers,
                    config,
                    extra_hosts,
                }
            },
        )
}

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

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    })
}

/// How many inputs got past the parser: the generators must reach the
/// code behind it, not only its first refusal.
#[derive(Default)]
struct Reached {
    tried: std::cell::Cell<u32>,
    passed: std::cell::Cell<u32>,
}

impl Reached {
    fn count(&self, passed: bool) {
        self.tried.set(self.tried.get() + 1);
        self.passed.set(self.passed.get() + u32::from(passed));
    }

    /// At least `percent` of the inputs passed, and at least one failed.
    fn assert_mixed(&self, what: &str, percent: u32) {
        let (tried, passed) = (self.tried.get(), self.passed.get());
        assert!(
            passed * 100 >= tried * percent && passed > 0 && passed < tried,
            "{what}: {passed} of {tried} inputs passed; the generator should make at least {percent}% pass and some fail"
        );
    }
}

#[test]
fn money_from_any_text_is_an_amount_or_an_error() {
    let reached = Reached::default();
    let text = prop_oneof![
        1 => "\\PC{0,24}",
        1 => "[-+0-9., ]{0,8}[A-Za-z]{0,4}",
        4 => "-?[0-9]{0,20}(\\.[0-9]{0,3})? [A-Z]{3}",
    ];
    runner(512)
        .run(&text, |text| {
            let parsed = text.parse::<Money>();
            reached.count(parsed.is_ok());
            if let Ok(money) = parsed {
                prop_assert_eq!(money.to_string().parse::<Money>(), Ok(money));
            }
            if let Ok(condition) = format!(">= {text}").parse::<AmountCondition>() {
                prop_assert_eq!(Ok(condition.amount), text.parse::<Money>());
            }
            let _ = serde_json::from_value::<Money>(Value::from(text));
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("money", 5);
}

/// A bundled plugin's declaration as it came from `describe`.
fn bundled_describe() -> RawPlatformInfo {
    let platforms = statusport_tests::bundled_platforms();
    let p = platforms.get("woocommerce").unwrap();
    RawPlatformInfo {
        id: p.id.clone(),
        name: p.name.clone(),
        version: p.version.to_string(),
        statuses: p.statuses.clone(),
        transitions: p.transitions.clone(),
        carriers: p.carriers.clone(),
        config: p.config.clone(),
        extra_hosts: p.extra_hosts.iter().map(|o| o.to_string()).collect(),
    }
}

#[test]
fn a_plugins_describe_is_a_platform_or_a_list_of_problems() {
    let reached = Reached::default();
    let bundled = bundled_describe();
    // A real declaration with up to three of its fields arbitrary.
    let strategy = (raw_platform(), prop::collection::vec(0..8usize, 0..4)).prop_map(
        move |(random, fields)| {
            let mut raw = bundled.clone();
            for field in fields {
                match field {
                    0 => raw.id = random.id.clone(),
                    1 => raw.name = random.name.clone(),
                    2 => raw.version = random.version.clone(),
                    3 => raw.statuses.extend(random.statuses.iter().cloned()),
                    4 => raw.transitions = random.transitions.clone(),
                    5 => raw.carriers = random.carriers.clone(),
                    6 => raw.config = random.config.clone(),
                    _ => raw.extra_hosts = random.extra_hosts.clone(),
                }
            }
            raw
        },
    );
    runner(512)
        .run(&strategy, |raw| {
            let checked = validate(raw);
            reached.count(checked.is_ok());
            match checked {
                Ok(platform) => {
                    let codes: Vec<(Dimension, String)> = platform
                        .statuses
                        .iter()
                        .map(|s| (s.dimension, s.code.clone()))
                        .collect();
                    for dimension in platform.dimensions() {
                        let _ = platform.has_graph(dimension);
                        prop_assert!(platform.statuses_of(dimension).count() > 0);
                    }
                    for (d, from) in &codes {
                        for (_, to) in &codes {
                            let _ = platform.allows(*d, from, to);
                        }
                        prop_assert!(platform.status(*d, from).is_some());
                    }
                    let _ = platform.config_field("base-url");
                }
                Err(e) => prop_assert!(!e.problems.is_empty()),
            }
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("describe", 10);
}

#[test]
fn a_template_compiles_and_renders_or_is_refused() {
    let reached = Reached::default();
    let strategy = (template(), prop::collection::vec(template(), 0..3));
    runner(512)
        .run(&strategy, |(template, others)| {
            let checked = check_template(&template, &others);
            reached.count(checked.is_ok());
            if let Err(problems) = checked {
                prop_assert!(!problems.is_empty());
            }
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("templates", 2);
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
fn a_rule_file_from_any_text_is_rules_or_an_error() {
    let platforms = statusport_tests::bundled_platforms();
    let platform = platforms.get("woocommerce").unwrap().clone();
    let templates: BTreeMap<String, TemplateKind> = [
        ("payment-received".to_owned(), TemplateKind::Email),
        ("shipped".to_owned(), TemplateKind::Sms),
    ]
    .into();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = Fixture::with_channels();
    let order = tokio.block_on(f.order("woo", "P-1", "card"));
    let now = jiff::Timestamp::now();
    let strategy = (
        prop::sample::select(SHIPPED.to_vec()),
        prop::collection::vec(edit(), 1..12),
        "\\PC{0,64}",
    );
    let files = Reached::default();
    runner(384)
        .run(&strategy, |((_, shipped), edits, noise)| {
            let text = mutate(shipped, &edits);
            for (text, shaped) in [(text.as_str(), true), (noise.as_str(), false)] {
                let parsed = RuleFile::parse(text);
                if shaped {
                    files.count(parsed.is_ok());
                }
                let Ok(file) = parsed else {
                    continue;
                };
                for rule in &file.rule {
                    let scope = RuleScope {
                        channels: vec![],
                        platform: Some(&platform),
                        platform_channels: vec![],
                        templates: &templates,
                    };
                    let _ = rule.validate(&scope);
                    let _ = rule.conditions_hold(&order, now);
                }
                let _ = RuleFile::parse(&file.to_toml());
            }
            Ok(())
        })
        .unwrap();
    files.assert_mixed("rule files", 10);
}

#[test]
fn a_cel_expression_evaluates_or_is_refused() {
    let platforms = statusport_tests::bundled_platforms();
    let platform = platforms.get("woocommerce").unwrap().clone();
    let templates = BTreeMap::new();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = Fixture::with_channels();
    let order = tokio.block_on(f.order("woo", "P-1", "card"));
    let now = jiff::Timestamp::now();
    let rule = RuleFile::parse(
        "[[rule]]\nid = \"cel\"\nplatform = \"woocommerce\"\non = [\"payment_matched\"]\nto = \"processing\"\nwhen.expression = \"true\"\n",
    )
    .unwrap()
    .rule
    .remove(0);
    let scope = RuleScope {
        channels: vec![],
        platform: Some(&platform),
        platform_channels: vec![],
        templates: &templates,
    };
    assert_eq!(rule.validate(&scope), Ok(()));
    let (compiled, evaluated) = (Reached::default(), Reached::default());
    runner(1024)
        .run(&cel_expression(), |expression| {
            let mut rule = rule.clone();
            rule.when.expression = Some(expression);
            let scope = RuleScope {
                channels: vec![],
                platform: Some(&platform),
                platform_channels: vec![],
                templates: &templates,
            };
            let valid = rule.validate(&scope).is_ok();
            compiled.count(valid);
            if valid {
                evaluated.count(rule.conditions_hold(&order, now).is_ok());
            }
            Ok(())
        })
        .unwrap();
    compiled.assert_mixed("CEL expressions that compile", 10);
    evaluated.assert_mixed("CEL expressions that evaluate", 1);
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
    let f = Fixture::with_channels();
    f.install(&["card", "shipping"]);
    let orders = [
        tokio.block_on(f.order("woo", "P-1", "card")).id,
        tokio
            .block_on(f.order("shop", "P-2", "cash_on_delivery"))
            .id,
    ];
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
            reached.count(tokio.block_on(f.engine.apply(event)).is_ok());
            Ok(())
        })
        .unwrap();
    reached.assert_mixed("events", 5);
    let problems = f.engine.store().index_problems().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_template_that_would_never_finish_or_fill_the_memory_is_refused() {
    for (text, refusal) in [
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "steps without finishing",
        ),
        ("{{ 'x' * 1000000000 }}", "too large"),
        (
            "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
            "recursion limit",
        ),
    ] {
        let template = Template {
            name: "hello".into(),
            kind: TemplateKind::Sms,
            subject: None,
            text: text.into(),
            html: None,
        };
        let started = std::time::Instant::now();
        let problems = check_template(&template, &[]).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains(refusal)),
            "{text}: {problems:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{text} took {:?}",
            started.elapsed()
        );
    }
}
