//! The rule sets Statusport ships for common workflows, as TOML files under
//! `host/rulesets/`. Each applies to the generic plugin's statuses; copy and
//! edit one (`statusport rule export`) for a platform of your own.

use super::{Engine, EngineError, Thing};

/// (name, TOML) of every shipped rule set.
pub const SHIPPED: &[(&str, &str)] = &[
    ("card", include_str!("../../../rulesets/card.toml")),
    (
        "bank-transfer",
        include_str!("../../../rulesets/bank-transfer.toml"),
    ),
    (
        "cash-on-delivery",
        include_str!("../../../rulesets/cash-on-delivery.toml"),
    ),
    ("shipping", include_str!("../../../rulesets/shipping.toml")),
    ("dunning", include_str!("../../../rulesets/dunning.toml")),
    ("approval", include_str!("../../../rulesets/approval.toml")),
    (
        "cancellation",
        include_str!("../../../rulesets/cancellation.toml"),
    ),
];

/// Installs a shipped rule set by name, with the shipped templates it
/// needs; templates that exist already are left as the operator has them.
pub fn install(engine: &Engine, name: &str) -> Result<Vec<String>, EngineError> {
    let Some((_, text)) = SHIPPED.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
        return Err(EngineError::NotFound {
            what: Thing::RuleSet,
            id: name.to_owned(),
            known: Some(known.join(", ")),
        });
    };
    install_templates(engine)?;
    engine.import_rules(text)
}

/// Saves each shipped template that does not exist yet; returns the names
/// saved.
pub fn install_templates(engine: &Engine) -> Result<Vec<String>, EngineError> {
    let known: Vec<String> = engine.templates()?.into_iter().map(|t| t.name).collect();
    let mut saved = Vec::new();
    // The layout first: the mails extend it.
    for (name, text) in crate::templates::SHIPPED_TEMPLATES {
        if known.iter().any(|k| k == name) {
            continue;
        }
        let template = crate::templates::parse_template(name, text)
            .map_err(|e| EngineError::invalid("template", e))?;
        engine.save_template(&template)?;
        saved.push(template.name);
    }
    Ok(saved)
}
