//! Rules at work: their validation against the plugins of the channels
//! they apply to, and the evaluation of their conditions (CEL included).
//! The rule itself — data and its TOML form — is the domain's
//! (`domain::rule`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::event::Trigger;
use crate::domain::notify::TemplateKind;
use crate::domain::order::{Approval, Channel, Order, check_id};
use crate::domain::platform::{Dimension, Platform};

pub use crate::domain::platform::StatusRef;
pub use crate::domain::rule::{Actions, AmountCondition, CompareOp, Conditions, Rule, RuleFile};

/// Everything a rule is checked against when it is saved.
pub struct RuleScope<'a> {
    /// The channels the rule applies to, each with its plugin's platform.
    pub channels: Vec<(&'a Channel, &'a Platform)>,
    /// The platform named by `platform`, when it is given.
    pub platform: Option<&'a Platform>,
    /// With `platform`: every channel of that plugin, which the rule
    /// applies to.
    pub platform_channels: Vec<&'a Channel>,
    /// Every template, with its kind.
    pub templates: &'a BTreeMap<String, TemplateKind>,
}

/// Names CEL expressions may use.
const EXPRESSION_VARIABLES: &[&str] = &["order"];

impl Rule {
    /// Checks the rule against its channels' plugins and the templates.
    /// Every problem is listed.
    pub fn validate(&self, scope: &RuleScope<'_>) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(e) = check_id("rule id", &self.id) {
            problems.push(e);
        }
        if self.on.is_empty() {
            problems.push(format!(
                "\"on\" is empty: name at least one trigger ({})",
                trigger_names()
            ));
        }
        match (&self.platform, self.channels.is_empty()) {
            (None, true) => problems.push(
                "name the channels the rule applies to (\"channels\") or their plugin (\"platform\")"
                    .into(),
            ),
            (Some(_), false) => problems
                .push("give either \"channels\" or \"platform\", not both".into()),
            _ => {}
        }
        let mut platforms: Vec<&Platform> = scope.channels.iter().map(|(_, p)| *p).collect();
        platforms.extend(scope.platform);
        for platform in platforms {
            let known = |dimension: Dimension| -> String {
                platform
                    .statuses_of(dimension)
                    .map(|s| s.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let exists = |s: &StatusRef| platform.status(s.dimension, &s.code).is_some();
            let label = format!("plugin {} {}", platform.id, platform.version);
            for s in self.from.iter().chain(self.to.as_ref()) {
                if !exists(s) {
                    problems.push(format!(
                        "status \"{s}\" is not a status of {label} (known {} statuses: {})",
                        s.dimension,
                        known(s.dimension)
                    ));
                }
            }
            if let Some(code) = &self.then.payment_status
                && platform.status(Dimension::Payment, code).is_none()
            {
                problems.push(format!(
                    "payment status \"{code}\" is not a status of {label} (known payment statuses: {})",
                    known(Dimension::Payment)
                ));
            }
            for code in &self.when.payment_status {
                if platform.status(Dimension::Payment, code).is_none() {
                    problems.push(format!(
                        "condition payment_status \"{code}\" is not a status of {label} (known payment statuses: {})",
                        known(Dimension::Payment)
                    ));
                }
            }
            if let Some(to) = self.to.as_ref().filter(|to| exists(to)) {
                for from in self
                    .from
                    .iter()
                    .filter(|f| f.dimension == to.dimension && exists(f) && f.code != to.code)
                {
                    if !platform.allows(to.dimension, &from.code, &to.code) {
                        let moves: Vec<&str> = platform
                            .transitions
                            .iter()
                            .filter(|t| t.dimension == to.dimension && t.from == from.code)
                            .map(|t| t.to.as_str())
                            .collect();
                        problems.push(format!(
                            "{label} allows no move {from} → {} (moves out of {}: {})",
                            to.code,
                            from.code,
                            if moves.is_empty() {
                                "none".to_owned()
                            } else {
                                moves.join(", ")
                            }
                        ));
                    }
                }
            }
        }
        if self.then.issue_invoice {
            for (channel, _) in &scope.channels {
                if !channel.invoice_numbering {
                    problems.push(format!(
                        "issue_invoice: channel {} has invoice numbering switched off",
                        channel.id
                    ));
                }
            }
            for channel in &scope.platform_channels {
                if !channel.invoice_numbering {
                    problems.push(format!(
                        "issue_invoice: channel {} has invoice numbering switched off, and the rule applies to every channel of plugin {}; list the channels it is for in \"channels\" instead of \"platform\", or switch invoice numbering on",
                        channel.id, channel.plugin
                    ));
                }
            }
        }
        for (field, wanted, name) in [
            ("email", TemplateKind::Email, &self.then.email),
            ("sms", TemplateKind::Sms, &self.then.sms),
        ] {
            let Some(name) = name else { continue };
            if scope.templates.get(name) != Some(&wanted) {
                let known: Vec<&str> = scope
                    .templates
                    .iter()
                    .filter(|(_, kind)| **kind == wanted)
                    .map(|(n, _)| n.as_str())
                    .collect();
                let found = match scope.templates.get(name) {
                    Some(kind) => format!("is an {} template", kind.as_str()),
                    None => "does not exist".to_owned(),
                };
                problems.push(format!(
                    "then.{field}: template \"{name}\" {found} (known {} templates: {})",
                    wanted.as_str(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        if let Some(expression) = &self.when.expression {
            match cel::Program::compile(expression) {
                Ok(program) => {
                    for variable in program.references().variables() {
                        if !EXPRESSION_VARIABLES.contains(&variable) {
                            problems.push(format!(
                                "expression uses unknown variable \"{variable}\" (known: {})",
                                EXPRESSION_VARIABLES.join(", ")
                            ));
                        }
                    }
                }
                Err(e) => problems.push(format!("expression does not parse: {e}")),
            }
        }
        if let Some(w) = &self.then.webhook
            && w.trim().is_empty()
        {
            problems.push("webhook event type is empty".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Whether the rule is about this order's channel.
    pub fn covers(&self, channel: &Channel) -> bool {
        if self.channels.is_empty() {
            self.platform.as_deref() == Some(channel.plugin.as_str())
        } else {
            self.channels.iter().any(|c| c == channel.id.as_str())
        }
    }

    /// Whether the conditions hold for `order` at `now`. An expression that
    /// fails to evaluate counts as false and is reported.
    pub fn conditions_hold(&self, order: &Order, now: Timestamp) -> Result<bool, String> {
        let w = &self.when;
        let payment = order.status(Dimension::Payment).unwrap_or_default();
        if !w.payment_status.is_empty() && !w.payment_status.iter().any(|p| p == payment) {
            return Ok(false);
        }
        if !w.payment_method.is_empty() && !w.payment_method.contains(&order.payment_method) {
            return Ok(false);
        }
        if let Some(want) = w.tracked_shipment_done
            && order.has_done_tracked_shipment() != want
        {
            return Ok(false);
        }
        if let Some(want) = w.all_lines_delivered
            && order.all_lines_delivered() != want
        {
            return Ok(false);
        }
        if let Some(want) = w.approved {
            let approved = matches!(order.approval, Approval::Approved | Approval::NotRequired);
            if approved != want {
                return Ok(false);
            }
        }
        if !w.channel.is_empty() && !w.channel.iter().any(|c| c == order.channel.as_str()) {
            return Ok(false);
        }
        if let Some(days) = w.days_in_status {
            let dimension = self.to.as_ref().map_or(Dimension::Order, |t| t.dimension);
            if order.days_in_status(dimension, now) < i64::from(days) {
                return Ok(false);
            }
        }
        if let Some(total) = &w.total {
            let Some(sum) = order.total() else {
                return Ok(false);
            };
            if sum.currency != total.amount.currency {
                return Ok(false);
            }
            let (a, b) = (sum.minor, total.amount.minor);
            let holds = match total.op {
                CompareOp::Lt => a < b,
                CompareOp::Le => a <= b,
                CompareOp::Eq => a == b,
                CompareOp::Ge => a >= b,
                CompareOp::Gt => a > b,
            };
            if !holds {
                return Ok(false);
            }
        }
        if let Some(expression) = &w.expression {
            return evaluate(expression, order, now);
        }
        Ok(true)
    }
}

/// What a CEL expression sees of an order.
#[derive(Serialize, utoipa::ToSchema)]
struct ExpressionOrder<'a> {
    number: &'a str,
    channel: &'a str,
    customer: &'a str,
    payment_method: &'a str,
    currency: &'a str,
    total_minor: i64,
    statuses: std::collections::BTreeMap<&'a str, &'a str>,
    approval: Approval,
    picked: bool,
    packing_slip_printed: bool,
    paused: bool,
    invoice_number: Option<&'a str>,
    lines: Vec<ExpressionLine<'a>>,
    shipments: usize,
    age_days: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExpressionLine<'a> {
    article: &'a str,
    quantity: u32,
    delivered: u32,
    unit_price_minor: i64,
}

fn evaluate(expression: &str, order: &Order, now: Timestamp) -> Result<bool, String> {
    let program = cel::Program::compile(expression).map_err(|e| e.to_string())?;
    let view = ExpressionOrder {
        number: &order.number,
        channel: order.channel.as_str(),
        customer: &order.customer,
        payment_method: &order.payment_method,
        currency: &order.currency,
        total_minor: order.total().map_or(0, |m| m.minor),
        statuses: order
            .statuses
            .iter()
            .map(|(d, s)| (d.as_str(), s.code.as_str()))
            .collect(),
        approval: order.approval,
        picked: order.picked,
        packing_slip_printed: order.packing_slip_printed,
        paused: order.paused,
        invoice_number: order.invoice_number.as_deref(),
        lines: order
            .lines
            .iter()
            .map(|l| ExpressionLine {
                article: &l.article,
                quantity: l.quantity,
                delivered: l.delivered,
                unit_price_minor: l.unit_price.minor,
            })
            .collect(),
        shipments: order.shipments.len(),
        age_days: now.duration_since(order.created).as_secs() / 86_400,
    };
    let mut context = cel::Context::default();
    context
        .add_variable("order", &view)
        .map_err(|e| e.to_string())?;
    match program.execute(&context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "expression \"{expression}\" gave {other:?}, not true or false"
        )),
        Err(e) => Err(format!("expression \"{expression}\": {e}")),
    }
}

pub fn trigger_names() -> String {
    Trigger::ALL
        .iter()
        .map(|t| {
            serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(", ")
}
