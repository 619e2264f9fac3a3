//! Rules as data: what a rule listens for, when it holds, what it does,
//! and the TOML file that holds rules. The engine validates and runs them
//! (`engine::rule`).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::event::Trigger;
use super::money::Money;
use super::order::Source;
use super::platform::StatusRef;

/// `>= 100.00 EUR`, `< 50 EUR`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AmountCondition {
    pub op: CompareOp,
    pub amount: Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl CompareOp {
    fn as_str(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Eq => "==",
            CompareOp::Ge => ">=",
            CompareOp::Gt => ">",
        }
    }
}

impl FromStr for AmountCondition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let ops = [
            ("<=", CompareOp::Le),
            (">=", CompareOp::Ge),
            ("==", CompareOp::Eq),
            ("<", CompareOp::Lt),
            (">", CompareOp::Gt),
        ];
        let (op, rest) = ops
            .iter()
            .find_map(|(p, op)| s.strip_prefix(p).map(|rest| (*op, rest)))
            .ok_or_else(|| {
                format!("total \"{s}\" must start with <, <=, ==, >= or >, as in \">= 100.00 EUR\"")
            })?;
        Ok(AmountCondition {
            op,
            amount: rest.trim().parse()?,
        })
    }
}

impl TryFrom<String> for AmountCondition {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<AmountCondition> for String {
    fn from(c: AmountCondition) -> String {
        format!("{} {}", c.op.as_str(), c.amount)
    }
}

/// When a rule applies, beyond its trigger and source statuses. Every
/// condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Conditions {
    /// The order's payment status is one of these codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payment_status: Vec<String>,
    /// The order's payment method is one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payment_method: Vec<String>,
    /// A shipment marked done that carries a tracking number exists (or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracked_shipment_done: Option<bool>,
    /// Every line is delivered in full (or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_lines_delivered: Option<bool>,
    /// The order is approved, or needs no approval (or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// The order's channel is one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channel: Vec<String>,
    /// At least this many whole days in the current status of the target's
    /// dimension (the order dimension when there is no target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_in_status: Option<u32>,
    /// The order total compared with an amount in the order's currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<AmountCondition>,
    /// A CEL expression over `order` for anything else, e.g.
    /// `order.total_minor > 10000 && order.lines.size() > 1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// What a rule does when it fires.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Actions {
    /// Set another status as well (the main target is `to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<String>,
    /// Email the customer with this template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Text the customer with this template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    /// Upload the order's done shipment records to its platform.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub upload_shipments: bool,
    /// Push the status this rule sets to the order's platform.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub push_status: bool,
    /// Give the order an invoice number (unless its channel has invoice
    /// numbering off or it has one).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub issue_invoice: bool,
    /// Take the order's lines off stock.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrement_stock: bool,
    /// Emit a webhook event of this type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The rule applies to these channels …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// … or to every channel of this plugin. One of the two is required:
    /// statuses only mean something within one plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The triggers the rule listens for.
    pub on: Vec<Trigger>,
    /// The order must be in one of these statuses (any, when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<StatusRef>,
    /// Only for events from these sources (any, when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub when: Conditions,
    /// The status the order moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<StatusRef>,
    #[serde(default)]
    pub then: Actions,
    /// Fire at most once per order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once_per_order: bool,
    /// Lower runs first; ties run in id order.
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A TOML file of rules: `[[rule]]` tables.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub rule: Vec<Rule>,
}

impl RuleFile {
    pub fn parse(text: &str) -> Result<RuleFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

super::string_schema!(
    AmountCondition,
    "A comparison with an amount",
    ">= 100.00 EUR"
);
