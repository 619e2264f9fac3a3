//! The rule sets Statusport ships for common workflows, as TOML files under
//! `host/rulesets/`. Each applies to the generic plugin's statuses; copy and
//! edit one (`statusport rule export`) for a platform of your own.

use super::{Engine, EngineError};

/// (name, TOML) of every shipped rule set.
pub const SHIPPED: &[(&str, &str)] = &[
    ("card", include_str!("../../rulesets/card.toml")),
    (
        "bank-transfer",
        include_str!("../../rulesets/bank-transfer.toml"),
    ),
    (
        "cash-on-delivery",
        include_str!("../../rulesets/cash-on-delivery.toml"),
    ),
    ("shipping", include_str!("../../rulesets/shipping.toml")),
    ("dunning", include_str!("../../rulesets/dunning.toml")),
    ("approval", include_str!("../../rulesets/approval.toml")),
];

/// Templates the shipped rule sets use.
pub const TEMPLATES: &[&str] = &[
    "payment-received",
    "bank-details",
    "shipped",
    "reminder-1",
    "reminder-2",
    "order-rejected",
];

/// Installs a shipped rule set by name, registering the templates it uses.
pub fn install(engine: &Engine, name: &str) -> Result<Vec<String>, EngineError> {
    let Some((_, text)) = SHIPPED.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
        return Err(EngineError::Invalid(format!(
            "no shipped rule set \"{name}\" (known: {})",
            known.join(", ")
        )));
    };
    let known = engine.templates()?;
    for template in TEMPLATES {
        if !known.contains(*template) {
            engine.add_template(template)?;
        }
    }
    engine.import_rules(text)
}
