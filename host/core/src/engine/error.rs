//! What the engine refuses, typed: four kinds a caller maps without reading
//! the text — a thing that does not exist, an input that is wrong (naming
//! its field), a state that refuses the request, a store that failed.

use super::*;

/// The kinds of thing a call names by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thing {
    Order,
    Channel,
    Rule,
    Template,
    Webhook,
    Customer,
    BulkJob,
    RuleSet,
}

impl std::fmt::Display for Thing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Thing::Order => "order",
            Thing::Channel => "channel",
            Thing::Rule => "rule",
            Thing::Template => "template",
            Thing::Webhook => "webhook",
            Thing::Customer => "customer",
            Thing::BulkJob => "bulk job",
            Thing::RuleSet => "shipped rule set",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The thing a call names does not exist; `known` lists the ids there
    /// are, where that helps.
    #[error("{}", not_found(*what, id, known.as_deref()))]
    NotFound {
        what: Thing,
        id: String,
        known: Option<String>,
    },
    /// The input is wrong: `field` names the part of it at fault (a body's
    /// field path, `rule`, `template`, `status`, `order` for the order as a
    /// whole).
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The input is well formed, but the state of things refuses it.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The store failed: nothing was changed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why the state of things refuses a request.
#[derive(Debug, thiserror::Error)]
pub enum Conflict {
    #[error("channel {channel} uses plugin \"{plugin}\", which is not loaded (loaded: {known})")]
    PluginMissing {
        channel: String,
        plugin: String,
        known: String,
    },
    #[error(
        "plugin {plugin} allows no {dimension} move {from} → {to} (allowed from {from}: {allowed})"
    )]
    TransitionNotAllowed {
        plugin: String,
        dimension: Dimension,
        from: String,
        to: String,
        allowed: String,
    },
    #[error(
        "rule loop: more than {MAX_FIRINGS} rule firings for one event ({chain}); nothing was changed"
    )]
    RuleLoop { chain: String },
    /// A rule applied by hand (a bulk job) whose statuses or conditions do
    /// not hold for the order.
    #[error("{0}")]
    NotApplicable(String),
    #[error("order {0}: nothing to roll back in that dimension")]
    NothingToRollBack(OrderId),
    /// Other writers kept changing the order, or another order holds the
    /// same platform order id.
    #[error("order {order}: {message}")]
    Stale { order: OrderId, message: String },
    #[error(
        "order {order}: event id \"{id}\" was applied at {at} with another body ({earlier}); an event id names one event: give a new event a new id"
    )]
    EventReused {
        order: OrderId,
        id: String,
        at: Timestamp,
        earlier: String,
    },
    #[error(
        "goods receipt {id} was booked at {at} for {quantity} × {article}; a receipt id names one receipt: give another receipt another id"
    )]
    ReceiptReused {
        id: String,
        at: Timestamp,
        quantity: i64,
        article: String,
    },
    /// A record others depend on (a channel holding orders, a template or
    /// channel that rules name).
    #[error("{0}")]
    InUse(String),
}

fn not_found(what: Thing, id: &str, known: Option<&str>) -> String {
    let mut text = match what {
        Thing::Order => format!("order {id} does not exist"),
        _ => format!("{what} \"{id}\" does not exist"),
    };
    if let Some(known) = known {
        text.push_str(&format!(" (known: {known})"));
    }
    text
}

impl EngineError {
    /// An input refused, naming its field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> EngineError {
        EngineError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: Thing, id: impl std::fmt::Display) -> EngineError {
        EngineError::NotFound {
            what,
            id: id.to_string(),
            known: None,
        }
    }

    /// Every problem of a rule, template or webhook, one per line.
    pub fn problems(field: &str, what: &str, problems: &[String]) -> EngineError {
        EngineError::invalid(
            field,
            format!("{what} is invalid:\n  - {}", problems.join("\n  - ")),
        )
    }
}

impl From<CommitError> for EngineError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Store(e) => EngineError::Storage(e),
            CommitError::Stale { order, .. } => Conflict::Stale {
                order,
                message: e.to_string(),
            }
            .into(),
            CommitError::Duplicate { existing, .. } => Conflict::Stale {
                order: existing,
                message: e.to_string(),
            }
            .into(),
            CommitError::EventApplied(_) => EngineError::invalid("id", e.to_string()),
        }
    }
}
