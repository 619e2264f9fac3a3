//! Every parser of outside input the core owns, fed arbitrary input: rule
//! files (and the CEL expressions in them), money, templates, a plugin's
//! `describe`. Each answers with an error, never a panic. The API's bodies
//! and the config file belong to the service: `tests/tests/api/parsers.rs`
//! feeds them the same way.
//!
//! Purely random text rarely gets past the first character of a grammar,
//! so each parser also gets input built from its own vocabulary: the
//! shipped files with lines mutated, tokens of the template and CEL
//! languages.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;
use statusport_core::domain::money::Money;
use statusport_core::domain::notify::{Template, TemplateKind};
use statusport_core::domain::platform::{
    ConfigFieldDef, Dimension, RawPlatformInfo, StatusDef, TransitionDef, validate,
};
use statusport_core::engine::rule::{AmountCondition, RuleFile, RuleScope};
use statusport_core::engine::rulesets::SHIPPED;
use statusport_core::templates::check_template;

use super::Fixture;
use super::fuzzing::{Reached, edit, mutate, one_of, runner};
use super::support;

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

#[test]
fn a_plugins_describe_is_a_platform_or_a_list_of_problems() {
    let reached = Reached::default();
    let bundled = support::describe_answer("woocommerce");
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
fn a_rule_file_from_any_text_is_rules_or_an_error() {
    let platform = support::platforms().platform("woocommerce").unwrap();
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
    let platform = support::platforms().platform("woocommerce").unwrap();
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
