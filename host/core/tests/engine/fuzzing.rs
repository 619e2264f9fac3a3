//! What the parser tests of the core (`parsers`) and of the API
//! (`tests/tests/api/parsers.rs`, which includes this file) share: a
//! mutator of TOML files line by line, a picker of values that are known
//! or arbitrary, a proptest runner that keeps no failure file, and a
//! counter of the inputs that got past a parser.

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

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
pub enum Edit {
    Keep,
    Drop,
    Twice,
    Value(String),
    Text(String),
}

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        40 => Just(Edit::Keep),
        1 => Just(Edit::Drop),
        1 => Just(Edit::Twice),
        3 => toml_value().prop_map(Edit::Value),
        1 => "\\PC{0,16}".prop_map(Edit::Text),
    ]
}

/// `text` with `edits` applied line by line (cycling through them).
pub fn mutate(text: &str, edits: &[Edit]) -> String {
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

pub fn one_of(values: &[&str]) -> impl Strategy<Value = String> + use<> {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    prop_oneof![
        3 => prop::sample::select(values),
        1 => "\\PC{0,12}",
    ]
}

pub fn runner(cases: u32) -> TestRunner {
    TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    })
}

/// How many inputs got past the parser: the generators must reach the
/// code behind it, not only its first refusal.
#[derive(Default)]
pub struct Reached {
    tried: std::cell::Cell<u32>,
    passed: std::cell::Cell<u32>,
}

impl Reached {
    pub fn count(&self, passed: bool) {
        self.tried.set(self.tried.get() + 1);
        self.passed.set(self.passed.get() + u32::from(passed));
    }

    /// At least `percent` of the inputs passed, and at least one failed.
    pub fn assert_mixed(&self, what: &str, percent: u32) {
        let (tried, passed) = (self.tried.get(), self.passed.get());
        assert!(
            passed * 100 >= tried * percent && passed > 0 && passed < tried,
            "{what}: {passed} of {tried} inputs passed; the generator should make at least {percent}% pass and some fail"
        );
    }
}
