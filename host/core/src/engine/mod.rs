//! The engine: rules and the transition pipeline — the one place where an
//! event becomes a status change.
//!
//! An event on an order runs the matching rules in a defined order (priority,
//! then id), chained to a fixed point under a loop guard; the order, its
//! index entries, its history and every job the change causes are written in
//! one atomic commit, checked against the order's committed version. Events
//! on one order serialise on a lock; events on different orders run in
//! parallel. It never calls a plugin: jobs are the outbox's to run.

pub mod bulk;
pub mod rule;
pub mod rulesets;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::event::{
    AppliedEvent, Change, Event, EventKind, GoodsReceipt, HistoryEntry, Job, JobKind, Stock,
    Trigger,
};
use crate::domain::money::Money;
use crate::domain::notify::{Template, TemplateKind, WebhookEndpoint};
use crate::domain::order::{
    Actor, Approval, Channel, HeldTrigger, Line, Order, OrderId, ShipmentRecord, Source,
    StatusValue,
};
use crate::domain::platform::{Dimension, Platform};
use crate::ports::Platforms;
use crate::store::{CommitError, Store, StoreError, Write, keys};
use rule::{Rule, RuleScope};

/// How many rule firings one event may cause before the chain is taken for a
/// loop and the event refused.
pub const MAX_FIRINGS: usize = 32;
/// How often a change is recomputed when another writer got there first.
const MAX_RETRIES: usize = 8;
const LOCK_STRIPES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("order {0} does not exist")]
    OrderNotFound(OrderId),
    #[error("channel \"{channel}\" does not exist (known: {known})")]
    ChannelNotFound { channel: String, known: String },
    #[error("channel {channel} uses plugin \"{plugin}\", which is not loaded (loaded: {known})")]
    PluginMissing {
        channel: String,
        plugin: String,
        known: String,
    },
    #[error("{dimension} status \"{code}\" is not a status of plugin {plugin} (known: {known})")]
    UnknownStatus {
        plugin: String,
        dimension: Dimension,
        code: String,
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
    #[error("rule {id} is invalid:\n  - {}", problems.join("\n  - "))]
    InvalidRule { id: String, problems: Vec<String> },
    #[error("template {name} is invalid:\n  - {}", problems.join("\n  - "))]
    InvalidTemplate { name: String, problems: Vec<String> },
    #[error("rule \"{0}\" does not exist")]
    RuleNotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A rule applied by hand (a bulk job) whose statuses or conditions do
    /// not hold for the order.
    #[error("{0}")]
    NotApplicable(String),
    #[error("order {0}: nothing to roll back in that dimension")]
    NothingToRollBack(OrderId),
    #[error("order {order}: {message}")]
    Conflict { order: OrderId, message: String },
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
    /// A record others depend on (a channel holding orders).
    #[error("{0}")]
    InUse(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CommitError> for EngineError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Store(e) => EngineError::Store(e),
            CommitError::Stale { order, .. } => EngineError::Conflict {
                order,
                message: e.to_string(),
            },
            CommitError::Duplicate { existing, .. } => EngineError::Conflict {
                order: existing,
                message: e.to_string(),
            },
            CommitError::EventApplied(_) => EngineError::Invalid(e.to_string()),
        }
    }
}

/// A new order as a shop, marketplace or ERP hands it over.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub channel: String,
    pub platform_order_id: String,
    pub customer: String,
    pub lines: Vec<Line>,
    pub currency: String,
    #[serde(default)]
    pub shipping: Option<Money>,
    pub payment_method: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub expected_delivery: Option<jiff::civil::Date>,
    /// Statuses the platform reports, by dimension; the rest start at the
    /// plugin's initial status.
    #[serde(default)]
    pub statuses: BTreeMap<Dimension, String>,
}

/// What one timer tick did.
#[derive(Debug, Default)]
pub struct Tick {
    /// Orders whose timer rules changed something.
    pub applied: usize,
    /// Orders whose `time_passed` event failed, with the error; tried again
    /// on the next tick.
    pub failed: Vec<(OrderId, String)>,
    /// Goods receipts whose waiting orders were woken.
    pub woken: usize,
}

/// What happened to an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Applied {
        order: Box<Order>,
        history: Vec<HistoryEntry>,
        jobs: Vec<Job>,
    },
    /// The event's id was applied before: nothing changed.
    Duplicate { order: OrderId },
}

/// The engine and the state it shares between calls.
pub struct Engine {
    store: Arc<Store>,
    platforms: Arc<dyn Platforms>,
    rules: RwLock<Arc<Vec<Rule>>>,
    locks: Vec<tokio::sync::Mutex<()>>,
    /// Bulk jobs asked to stop at their next checkpoint.
    cancelled: std::sync::Mutex<BTreeSet<String>>,
    clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
}

impl Engine {
    pub fn new(store: Arc<Store>, platforms: Arc<dyn Platforms>) -> Result<Engine, EngineError> {
        Engine::with_clock(store, platforms, Box::new(Timestamp::now))
    }

    /// An engine reading time from `clock`: tests move time to make dunning
    /// rules fire.
    pub fn with_clock(
        store: Arc<Store>,
        platforms: Arc<dyn Platforms>,
        clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
    ) -> Result<Engine, EngineError> {
        let mut rules: Vec<Rule> = store.records(keys::RULE)?;
        sort_rules(&mut rules);
        Ok(Engine {
            store,
            platforms,
            rules: RwLock::new(Arc::new(rules)),
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            cancelled: std::sync::Mutex::new(BTreeSet::new()),
            clock,
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn lock_of(&self, id: OrderId) -> &tokio::sync::Mutex<()> {
        &self.locks[(id.0 % LOCK_STRIPES as u64) as usize]
    }

    fn channel(&self, id: &str) -> Result<Channel, EngineError> {
        self.store.channel(id)?.ok_or_else(|| {
            let known: Vec<String> = self
                .store
                .channels()
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.id.to_string())
                .collect();
            EngineError::ChannelNotFound {
                channel: id.to_owned(),
                known: list(&known),
            }
        })
    }

    fn platform_of(&self, channel: &Channel) -> Result<Arc<Platform>, EngineError> {
        self.platforms
            .platform(&channel.plugin)
            .ok_or_else(|| EngineError::PluginMissing {
                channel: channel.id.to_string(),
                plugin: channel.plugin.clone(),
                known: list(&self.platforms.known()),
            })
    }

    // ----- channels and rules --------------------------------------------

    /// Saves a channel after checking that its plugin is loaded and its
    /// required config fields are given.
    pub fn save_channel(&self, channel: &Channel) -> Result<(), EngineError> {
        let platform = self.platform_of(channel)?;
        let missing: Vec<&str> = platform
            .config
            .iter()
            .filter(|f| {
                f.required && f.default_value.is_none() && !channel.config.contains_key(&f.name)
            })
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(EngineError::Invalid(format!(
                "channel {}: plugin {} needs config for: {}",
                channel.id,
                platform.id,
                missing.join(", ")
            )));
        }
        let unknown: Vec<&str> = channel
            .config
            .keys()
            .filter(|k| platform.config_field(k).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let known: Vec<String> = platform.config.iter().map(|f| f.name.clone()).collect();
            return Err(EngineError::Invalid(format!(
                "channel {}: {} is not a config field of plugin {} (known: {})",
                channel.id,
                unknown.join(", "),
                platform.id,
                list(&known)
            )));
        }
        Ok(self.store.put_channel(channel)?)
    }

    /// Deletes a channel that holds no orders and that no rule names.
    pub fn delete_channel(&self, id: &str) -> Result<(), EngineError> {
        if self.store.channel(id)?.is_none() {
            return Err(EngineError::ChannelNotFound {
                channel: id.to_owned(),
                known: list(
                    &self
                        .store
                        .channels()?
                        .into_iter()
                        .map(|c| c.id.to_string())
                        .collect::<Vec<_>>(),
                ),
            });
        }
        if self.store.channel_has_orders(id)? {
            return Err(EngineError::InUse(format!(
                "channel {id} holds orders; it cannot be deleted (disable its rules instead)"
            )));
        }
        let users: Vec<String> = self
            .rules()
            .iter()
            .filter(|r| r.channels.iter().any(|c| c == id))
            .map(|r| r.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(EngineError::Invalid(format!(
                "channel {id} is named by rules {}; change them first",
                users.join(", ")
            )));
        }
        self.store.remove_channel(id)?;
        Ok(())
    }

    pub fn rules(&self) -> Arc<Vec<Rule>> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every message template, by name.
    pub fn templates(&self) -> Result<Vec<Template>, EngineError> {
        Ok(self.store.records(keys::TEMPLATE)?)
    }

    pub fn template(&self, name: &str) -> Result<Option<Template>, EngineError> {
        Ok(self.store.record(keys::TEMPLATE, name)?)
    }

    /// Saves (creates or replaces) a template after checking that it
    /// compiles and renders a sample order; a replacement must keep the
    /// kind that rules use it as.
    pub fn save_template(&self, template: &Template) -> Result<(), EngineError> {
        let others = self.templates()?;
        let mut problems = match crate::templates::check_template(template, &others) {
            Ok(()) => Vec::new(),
            Err(problems) => problems,
        };
        if let Some(old) = others.iter().find(|t| t.name == template.name)
            && old.kind != template.kind
        {
            let users = self.rules_using(&template.name);
            if !users.is_empty() {
                problems.push(format!(
                    "kind: rules {} use it as an {} template",
                    users.join(", "),
                    old.kind.as_str()
                ));
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::InvalidTemplate {
                name: template.name.clone(),
                problems,
            });
        }
        Ok(self
            .store
            .put_record(keys::TEMPLATE, &template.name, template)?)
    }

    /// Deletes a template no rule uses.
    pub fn delete_template(&self, name: &str) -> Result<(), EngineError> {
        let users = self.rules_using(name);
        if !users.is_empty() {
            return Err(EngineError::Invalid(format!(
                "template {name} is used by rules {}; change them first",
                users.join(", ")
            )));
        }
        if !self.store.remove_record(keys::TEMPLATE, name)? {
            return Err(EngineError::Invalid(format!(
                "template \"{name}\" does not exist"
            )));
        }
        Ok(())
    }

    /// Saves (creates or replaces) a webhook endpoint after checking it.
    pub fn save_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), EngineError> {
        crate::domain::notify::check_endpoint(endpoint).map_err(|problems| {
            EngineError::Invalid(format!(
                "webhook {} is invalid:\n  - {}",
                endpoint.id,
                problems.join("\n  - ")
            ))
        })?;
        Ok(self
            .store
            .put_record(keys::WEBHOOK, &endpoint.id, endpoint)?)
    }

    pub fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, EngineError> {
        Ok(self.store.records(keys::WEBHOOK)?)
    }

    /// Removes an endpoint; deliveries not made yet fail, naming it.
    pub fn delete_webhook(&self, id: &str) -> Result<(), EngineError> {
        if !self.store.remove_record(keys::WEBHOOK, id)? {
            return Err(EngineError::Invalid(format!(
                "webhook \"{id}\" does not exist"
            )));
        }
        Ok(())
    }

    fn rules_using(&self, template: &str) -> Vec<String> {
        self.rules()
            .iter()
            .filter(|r| {
                r.then.email.as_deref() == Some(template) || r.then.sms.as_deref() == Some(template)
            })
            .map(|r| r.id.clone())
            .collect()
    }

    /// Checks a rule against the plugins of the channels it covers and the
    /// templates, listing every problem.
    pub fn check_rule(&self, rule: &Rule) -> Result<(), EngineError> {
        let invalid = |problems: Vec<String>| EngineError::InvalidRule {
            id: rule.id.clone(),
            problems,
        };
        let mut problems = Vec::new();
        let mut channels = Vec::new();
        for id in &rule.channels {
            match self.store.channel(id)? {
                Some(c) => channels.push(c),
                None => {
                    let known: Vec<String> = self
                        .store
                        .channels()?
                        .into_iter()
                        .map(|c| c.id.to_string())
                        .collect();
                    problems.push(format!(
                        "channel \"{id}\" does not exist (known: {})",
                        list(&known)
                    ));
                }
            }
        }
        let mut platforms = Vec::new();
        for channel in &channels {
            match self.platform_of(channel) {
                Ok(p) => platforms.push(p),
                Err(e) => problems.push(e.to_string()),
            }
        }
        let named = match &rule.platform {
            Some(id) => match self.platforms.platform(id) {
                Some(p) => Some(p),
                None => {
                    problems.push(format!(
                        "platform \"{id}\" is not a loaded plugin (loaded: {})",
                        list(&self.platforms.known())
                    ));
                    None
                }
            },
            None => None,
        };
        let on_platform: Vec<Channel> = match &rule.platform {
            Some(id) => self
                .store
                .channels()?
                .into_iter()
                .filter(|c| &c.plugin == id)
                .collect(),
            None => Vec::new(),
        };
        let templates: BTreeMap<String, TemplateKind> = self
            .templates()?
            .into_iter()
            .map(|t| (t.name, t.kind))
            .collect();
        let scope = RuleScope {
            channels: channels
                .iter()
                .zip(platforms.iter())
                .map(|(c, p)| (c, p.as_ref()))
                .collect(),
            platform: named.as_deref(),
            platform_channels: on_platform.iter().collect(),
            templates: &templates,
        };
        if let Err(more) = rule.validate(&scope) {
            problems.extend(more);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(invalid(problems))
        }
    }

    /// Saves (creates or replaces) a rule; it takes effect for the next event.
    pub fn save_rule(&self, rule: Rule) -> Result<(), EngineError> {
        self.check_rule(&rule)?;
        self.store.put_record(keys::RULE, &rule.id, &rule)?;
        self.reload_rules()
    }

    pub fn delete_rule(&self, id: &str) -> Result<(), EngineError> {
        if !self.store.remove_record(keys::RULE, id)? {
            return Err(EngineError::RuleNotFound(id.to_owned()));
        }
        self.reload_rules()
    }

    /// Saves every rule of a TOML file, or none: all are checked first.
    pub fn import_rules(&self, toml_text: &str) -> Result<Vec<String>, EngineError> {
        let file = rule::RuleFile::parse(toml_text)
            .map_err(|e| EngineError::Invalid(format!("rule file: {e}")))?;
        if file.rule.is_empty() {
            return Err(EngineError::Invalid(
                "rule file: holds no [[rule]] tables; see host/rulesets/*.toml for the format"
                    .into(),
            ));
        }
        let mut problems = Vec::new();
        for r in &file.rule {
            if let Err(e) = self.check_rule(r) {
                problems.push(e.to_string());
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems.join("\n")));
        }
        for r in &file.rule {
            self.store.put_record(keys::RULE, &r.id, r)?;
        }
        self.reload_rules()?;
        Ok(file.rule.iter().map(|r| r.id.clone()).collect())
    }

    /// Every rule as one TOML file.
    pub fn export_rules(&self) -> String {
        rule::RuleFile {
            rule: self.rules().as_ref().clone(),
        }
        .to_toml()
    }

    fn reload_rules(&self) -> Result<(), EngineError> {
        let mut rules: Vec<Rule> = self.store.records(keys::RULE)?;
        sort_rules(&mut rules);
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
        Ok(())
    }

    // ----- orders ---------------------------------------------------------

    /// Creates an order, or returns the existing one for the same channel and
    /// platform order id (`false` then). `approver` says whether whoever
    /// enters it may approve orders.
    pub async fn create_order(
        &self,
        new: NewOrder,
        actor: Actor,
        approver: bool,
    ) -> Result<(Order, bool), EngineError> {
        if let Some(existing) = self
            .store
            .order_by_platform_id(&new.channel, &new.platform_order_id)?
        {
            return Ok((existing, false));
        }
        let channel = self.channel(&new.channel)?;
        let platform = self.platform_of(&channel)?;
        let order = self.new_order(new, &channel, &platform, &actor, approver)?;
        let event_id = format!("create:{}:{}", channel.id, order.platform_order_id);
        let now = order.created;
        let mut run = Run::new(order.clone(), &event_id, actor.clone(), now);
        run.history(None, Change::Created);
        run.triggers
            .push_back((Trigger::OrderCreated, actor.source()));
        self.run_rules(&mut run, &channel, &platform)?;
        self.finish(&mut run, &channel, &platform);
        let jobs = self.jobs_of(&run, &channel)?;
        let write = Write {
            before: None,
            after: run.order.clone(),
            history: run.entries.clone(),
            jobs,
            event: Some((event_id.clone(), run.applied(actor.source(), ""))),
            assign_order_number: true,
            assign_invoice_number: run.invoice,
            stock: run.stock.clone(),
        };
        match self.store.commit_durable(write).await {
            Ok(committed) => {
                count_transitions(&committed.history);
                Ok((committed.order, true))
            }
            Err(CommitError::Duplicate { existing, .. }) => {
                let order = self
                    .store
                    .order(existing)?
                    .ok_or(EngineError::OrderNotFound(existing))?;
                Ok((order, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn new_order(
        &self,
        new: NewOrder,
        channel: &Channel,
        platform: &Platform,
        actor: &Actor,
        approver: bool,
    ) -> Result<Order, EngineError> {
        let field =
            |name: &str, message: String| EngineError::Invalid(format!("order {name}: {message}"));
        if new.platform_order_id.trim().is_empty() {
            return Err(field("platform_order_id", "must not be empty".into()));
        }
        if new.customer.trim().is_empty() {
            return Err(field("customer", "must not be empty".into()));
        }
        if new.payment_method.trim().is_empty() {
            return Err(field(
                "payment_method",
                "must not be empty (e.g. card, bank_transfer, cash_on_delivery)".into(),
            ));
        }
        let currency: crate::domain::money::Currency =
            new.currency.parse().map_err(|e| field("currency", e))?;
        let mut lines = new.lines;
        for (i, line) in lines.iter_mut().enumerate() {
            if line.article.trim().is_empty() {
                return Err(field(
                    &format!("lines[{i}].article"),
                    "must not be empty".into(),
                ));
            }
            if line.unit_price.currency != currency {
                return Err(field(
                    &format!("lines[{i}].unit_price"),
                    format!(
                        "is in {}, the order is in {currency}",
                        line.unit_price.currency
                    ),
                ));
            }
            if line.delivered > line.quantity {
                return Err(field(
                    &format!("lines[{i}].delivered"),
                    format!(
                        "{} is more than the quantity {}",
                        line.delivered, line.quantity
                    ),
                ));
            }
            if line.line_id.is_empty() {
                line.line_id = (i + 1).to_string();
            }
        }
        let shipping = new.shipping.unwrap_or(Money::new(0, currency));
        if shipping.currency != currency {
            return Err(field(
                "shipping",
                format!("is in {}, the order is in {currency}", shipping.currency),
            ));
        }
        let now = self.now();
        let mut statuses = BTreeMap::new();
        for dimension in platform.dimensions() {
            let code = match new.statuses.get(&dimension) {
                Some(code) => {
                    check_status(platform, dimension, code)?;
                    code.clone()
                }
                None => platform
                    .statuses_of(dimension)
                    .find(|s| s.initial)
                    .or_else(|| platform.statuses_of(dimension).next())
                    .map(|s| s.code.clone())
                    .unwrap_or_default(),
            };
            let set_by = if new.statuses.contains_key(&dimension) {
                actor.clone()
            } else {
                Actor::System
            };
            statuses.insert(
                dimension,
                StatusValue {
                    code,
                    since: now,
                    set_by,
                },
            );
        }
        for dimension in new.statuses.keys() {
            if !statuses.contains_key(dimension) {
                return Err(field(
                    "statuses",
                    format!("plugin {} has no {dimension} statuses", platform.id),
                ));
            }
        }
        let order = Order {
            id: OrderId(self.store.next_id()?),
            version: 0,
            channel: channel.id.clone(),
            platform_order_id: new.platform_order_id,
            number: String::new(),
            invoice_number: None,
            customer: new.customer,
            lines,
            currency: currency.to_string(),
            shipping,
            payment_method: new.payment_method,
            statuses,
            approval: if channel.requires_approval && !approver {
                Approval::Pending
            } else {
                Approval::NotRequired
            },
            expected_delivery: new.expected_delivery,
            delivery_number: None,
            picked: false,
            packing_slip_printed: false,
            paused: false,
            assigned_to: None,
            shipments: Vec::new(),
            fired_once: Vec::new(),
            held: Vec::new(),
            stock_taken: BTreeMap::new(),
            refund_due: false,
            platform_times: BTreeMap::new(),
            created: now,
            updated: now,
            history_len: 0,
        };
        if order.total().is_none() {
            return Err(field("lines", "the order total overflows".into()));
        }
        Ok(order)
    }

    /// Applies an event: its direct change, then the rules, all in one
    /// atomic write. An event id seen before changes nothing.
    pub async fn apply(&self, event: Event) -> Result<Outcome, EngineError> {
        if event.id.trim().is_empty() || event.id.len() > 200 {
            return Err(EngineError::Invalid(
                "event id must be 1–200 characters; use the provider's payment id or another id that is the same on every delivery".into(),
            ));
        }
        let body = event.body();
        let _guard = self.lock_of(event.order).lock().await;
        for _ in 0..MAX_RETRIES {
            if let Some(earlier) = self.store.applied_event(event.order, &event.id)? {
                return repeated(&event, &body, &earlier);
            }
            let order = self
                .store
                .order(event.order)?
                .ok_or(EngineError::OrderNotFound(event.order))?;
            let (run, channel) = self.plan(order.clone(), &event, None)?;
            let jobs = self.jobs_of(&run, &channel)?;
            let write = Write {
                before: Some(order),
                after: run.order.clone(),
                history: run.entries.clone(),
                jobs: jobs.clone(),
                event: Some((event.id.clone(), run.applied(event.actor.source(), &body))),
                assign_order_number: false,
                assign_invoice_number: run.invoice,
                stock: run.stock.clone(),
            };
            match self.store.commit_durable(write).await {
                Ok(committed) => {
                    count_transitions(&committed.history);
                    return Ok(Outcome::Applied {
                        order: Box::new(committed.order),
                        history: committed.history,
                        jobs,
                    });
                }
                // Another writer applied it meanwhile: the next round reads
                // what it applied.
                Err(CommitError::Stale { .. } | CommitError::EventApplied(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict {
            order: event.order,
            message: format!("kept changing under {MAX_RETRIES} attempts; try again"),
        })
    }

    /// Rolls the order back to the status it had before the last change of
    /// `dimension`. The rollback is a history entry of its own; the rules
    /// run on it only when `rerun_rules` is set.
    pub async fn rollback(
        &self,
        id: OrderId,
        dimension: Dimension,
        actor: Actor,
        rerun_rules: bool,
    ) -> Result<Outcome, EngineError> {
        let _guard = self.lock_of(id).lock().await;
        for _ in 0..MAX_RETRIES {
            let order = self
                .store
                .order(id)?
                .ok_or(EngineError::OrderNotFound(id))?;
            let history = self.store.history(id)?;
            // The last status or rollback entry of the dimension says what to
            // go back to; after a rollback, the one before the rolled-back
            // change.
            let mut skip = 0usize;
            let mut target = None;
            for entry in history.iter().rev() {
                match &entry.change {
                    Change::Rollback { dimension: d, .. } if *d == dimension => skip += 1,
                    Change::Status {
                        dimension: d,
                        before,
                        ..
                    } if *d == dimension => {
                        if skip == 0 {
                            target = before.clone();
                            break;
                        }
                        skip -= 1;
                    }
                    _ => {}
                }
            }
            let Some(target) = target else {
                return Err(EngineError::NothingToRollBack(id));
            };
            let channel = self.channel(order.channel.as_str())?;
            let platform = self.platform_of(&channel)?;
            let event_id = format!("rollback:{}:{}:{}", id, dimension, order.version);
            let mut run = Run::new(order.clone(), &event_id, actor.clone(), self.now());
            let current = order.status(dimension).unwrap_or_default().to_owned();
            run.order.statuses.insert(
                dimension,
                StatusValue {
                    code: target.clone(),
                    since: run.now,
                    set_by: actor.clone(),
                },
            );
            run.history(
                None,
                Change::Rollback {
                    dimension,
                    before: current,
                    after: target,
                },
            );
            if rerun_rules {
                run.triggers
                    .push_back((status_trigger(dimension), actor.source()));
                self.run_rules(&mut run, &channel, &platform)?;
            }
            self.finish(&mut run, &channel, &platform);
            let jobs = self.jobs_of(&run, &channel)?;
            let write = Write {
                before: Some(order),
                after: run.order.clone(),
                history: run.entries.clone(),
                jobs: jobs.clone(),
                event: Some((event_id, run.applied(actor.source(), ""))),
                assign_order_number: false,
                assign_invoice_number: run.invoice,
                stock: run.stock.clone(),
            };
            match self.store.commit_durable(write).await {
                Ok(committed) => {
                    count_transitions(&committed.history);
                    return Ok(Outcome::Applied {
                        order: Box::new(committed.order),
                        history: committed.history,
                        jobs,
                    });
                }
                Err(CommitError::Stale { .. } | CommitError::EventApplied(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict {
            order: id,
            message: format!("kept changing under {MAX_RETRIES} attempts; try again"),
        })
    }

    /// The dunning timer: a `time_passed` event for every order in a status
    /// that a time rule starts from. The event id carries the day, so one
    /// order gets at most one such event per day. An order whose event
    /// fails is logged, counted (`statusport_timer_failures_total`) and
    /// tried again on the next tick; the others go on.
    pub async fn tick(&self) -> Result<Tick, EngineError> {
        let now = self.now();
        let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut candidates = BTreeSet::new();
        let rules = self.rules();
        let channels = self.store.channels()?;
        for rule in rules
            .iter()
            .filter(|r| r.enabled && r.on.contains(&Trigger::TimePassed))
        {
            for channel in channels.iter().filter(|c| rule.covers(c)) {
                for from in &rule.from {
                    candidates.extend(self.store.orders_in_status(
                        channel.id.as_str(),
                        from.dimension,
                        &from.code,
                    )?);
                }
            }
        }
        let mut tick = Tick::default();
        for id in candidates {
            let event = Event::new(
                format!("time:{id}:{day}"),
                id,
                Actor::System,
                EventKind::TimePassed,
            );
            match self.apply(event).await {
                Ok(Outcome::Applied { history, .. }) if !history.is_empty() => tick.applied += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(order = %id, error = %e, "timer rules: the order's time_passed event failed; it is tried again on the next tick");
                    metrics::counter!("statusport_timer_failures_total").increment(1);
                    tick.failed.push((id, e.to_string()));
                }
            }
        }
        match self.resume_wakes().await {
            Ok(n) => tick.woken = n,
            Err(e) => {
                tracing::error!(error = %e, "goods receipts: waking their orders failed; tried again on the next tick")
            }
        }
        Ok(tick)
    }

    /// Goods received: books the receipt once per id — the stock of
    /// `article` goes up by `quantity` — and, when the stock was zero or
    /// less before, wakes every order holding the article with a
    /// `goods_received` event. The booking and the note of the orders to
    /// wake are one write; the orders are woken from that note, here and,
    /// after a crash or a failure, by [`Engine::resume_wakes`] (at start and
    /// on every timer tick), each order exactly once.
    pub async fn goods_received(
        &self,
        article: &str,
        quantity: i64,
        receipt_id: &str,
    ) -> Result<Vec<OrderId>, EngineError> {
        if quantity <= 0 {
            return Err(EngineError::Invalid(format!(
                "quantity: goods received for {article} must be positive, not {quantity}"
            )));
        }
        if receipt_id.trim().is_empty() || receipt_id.len() > 200 {
            return Err(EngineError::Invalid(
                "id: a goods receipt id must be 1–200 characters (the delivery note's number)"
                    .into(),
            ));
        }
        let (booked, new) = self
            .store
            .book_receipt(receipt_id, article, quantity, self.now())?;
        if !new
            && !booked.article.is_empty()
            && (booked.article != article || booked.quantity != quantity)
        {
            return Err(EngineError::ReceiptReused {
                id: booked.id,
                at: booked.at,
                quantity: booked.quantity,
                article: booked.article,
            });
        }
        self.store.flush().await?;
        if !self.store.wake_pending(receipt_id)? {
            return Ok(Vec::new());
        }
        self.wake(&booked).await
    }

    /// Wakes the orders of every receipt whose wake-up is still noted;
    /// answers how many receipts were done.
    pub async fn resume_wakes(&self) -> Result<usize, EngineError> {
        let pending = self.store.pending_wakes()?;
        let mut done = 0;
        for receipt in pending {
            self.wake(&receipt).await?;
            done += 1;
        }
        Ok(done)
    }

    /// Sends `goods_received` to every order holding the receipt's article
    /// that existed when it was booked, then drops the note. An order that
    /// has it already is not changed again (the event id is the receipt's).
    async fn wake(&self, receipt: &GoodsReceipt) -> Result<Vec<OrderId>, EngineError> {
        let until = receipt
            .at
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap_or(Timestamp::MAX);
        let ids = self.store.orders_with_article(
            &format!("{}\0", receipt.article),
            Timestamp::UNIX_EPOCH,
            until,
        )?;
        let mut touched = Vec::new();
        for id in ids {
            let event = Event::new(
                format!("goods:{}", receipt.id),
                id,
                Actor::System,
                EventKind::GoodsReceived {
                    article: receipt.article.clone(),
                },
            );
            if let Outcome::Applied { .. } = self.apply(event).await? {
                touched.push(id);
            }
        }
        // Not flushed on its own: a note that outlives a crash wakes
        // nobody twice (each order has the receipt's event already).
        self.store.finish_wake(&receipt.id)?;
        Ok(touched)
    }

    pub fn stock(&self, article: &str) -> Result<Stock, EngineError> {
        Ok(self.store.record(keys::STOCK, article)?.unwrap_or(Stock {
            article: article.to_owned(),
            quantity: 0,
            updated: Timestamp::UNIX_EPOCH,
        }))
    }

    // ----- the pipeline ----------------------------------------------------

    /// What `event` does to `order` — its direct change, or the `forced`
    /// rule's firing, then the rules to a fixed point — computed without
    /// writing anything.
    fn plan(
        &self,
        order: Order,
        event: &Event,
        forced: Option<&Rule>,
    ) -> Result<(Run, Channel), EngineError> {
        let channel = self.channel(order.channel.as_str())?;
        let platform = self.platform_of(&channel)?;
        let run = self.plan_in(order, event, forced, &channel, &platform)?;
        Ok((run, channel))
    }

    /// [`Engine::plan`] with the order's channel and platform at hand.
    fn plan_in(
        &self,
        order: Order,
        event: &Event,
        forced: Option<&Rule>,
        channel: &Channel,
        platform: &Platform,
    ) -> Result<Run, EngineError> {
        let mut run = Run::new(order, &event.id, event.actor.clone(), self.now());
        match forced {
            None => self.direct(&mut run, event, platform)?,
            Some(rule) => {
                if let Some(reason) = rule_blocked(rule, &run.order, channel, run.now) {
                    return Err(EngineError::NotApplicable(reason));
                }
                self.fire(&mut run, rule, channel, platform);
            }
        }
        self.run_rules(&mut run, channel, platform)?;
        self.finish(&mut run, channel, platform);
        Ok(run)
    }

    /// The event's own change of the order.
    fn direct(&self, run: &mut Run, event: &Event, platform: &Platform) -> Result<(), EngineError> {
        let source = event.actor.source();
        let trigger = event.kind.trigger();
        let order = &mut run.order;
        let field = |run_entries: &mut Vec<HistoryEntry>,
                     name: &str,
                     before: Option<String>,
                     after: Option<String>| {
            run_entries.push(entry(
                &run.event,
                &run.actor,
                run.now,
                None,
                Change::Field {
                    field: name.to_owned(),
                    before,
                    after,
                },
            ));
        };
        match &event.kind {
            EventKind::SetStatus { dimension, to } => {
                check_status(platform, *dimension, to)?;
                if stale(run, event, *dimension, to) {
                    return Ok(());
                }
                let from = run.order.status(*dimension).unwrap_or_default().to_owned();
                if from == *to {
                    // Already there: a no-op, not an error.
                    return Ok(());
                }
                if !platform.allows(*dimension, &from, to) {
                    return Err(transition_error(platform, *dimension, &from, to));
                }
                set_status(run, *dimension, to, event.actor.clone(), None);
                if source == Source::User {
                    run.manual.push(*dimension);
                }
                run.triggers.push_back((status_trigger(*dimension), source));
                return Ok(());
            }
            EventKind::PaymentMatched { reference } => {
                field(
                    &mut run.entries,
                    "payment_matched",
                    None,
                    Some(reference.clone().unwrap_or_else(|| "yes".into())),
                );
                if is_cancelled(&run.order, platform) {
                    flag_refund(run);
                }
            }
            EventKind::RefundSettled { reference } => {
                if !order.refund_due {
                    return Err(EngineError::Invalid(format!(
                        "order {} has no refund due",
                        order.id
                    )));
                }
                order.refund_due = false;
                field(
                    &mut run.entries,
                    "refund_due",
                    Some("true".into()),
                    Some(reference.clone().unwrap_or_else(|| "false".into())),
                );
                return Ok(());
            }
            EventKind::ShipmentAdded {
                shipment_id,
                packages,
                done,
            } => {
                if shipment_id.trim().is_empty() {
                    return Err(EngineError::Invalid("shipment_id must not be empty".into()));
                }
                for (i, p) in packages.iter().enumerate() {
                    if !platform.carriers.is_empty() && !platform.carriers.contains(&p.carrier) {
                        return Err(EngineError::Invalid(format!(
                            "packages[{i}].carrier \"{}\" is not a carrier of plugin {} (known: {})",
                            p.carrier,
                            platform.id,
                            platform.carriers.join(", ")
                        )));
                    }
                }
                if order.shipments.iter().any(|s| s.id == *shipment_id) {
                    return Err(EngineError::Invalid(format!(
                        "order {} already has shipment {shipment_id}",
                        order.id
                    )));
                }
                order.shipments.push(ShipmentRecord {
                    id: shipment_id.clone(),
                    packages: packages.clone(),
                    done: *done,
                    created: run.now,
                });
                field(
                    &mut run.entries,
                    "shipment",
                    None,
                    Some(shipment_id.clone()),
                );
                if *done {
                    run.triggers.push_back((Trigger::ShipmentAdded, source));
                    run.triggers.push_back((Trigger::ShipmentDone, source));
                    return Ok(());
                }
            }
            EventKind::ShipmentDone { shipment_id } => {
                let Some(s) = order.shipments.iter_mut().find(|s| s.id == *shipment_id) else {
                    let known: Vec<String> = order.shipments.iter().map(|s| s.id.clone()).collect();
                    return Err(EngineError::Invalid(format!(
                        "order {} has no shipment {shipment_id} (known: {})",
                        order.id,
                        list(&known)
                    )));
                };
                if s.done {
                    return Ok(());
                }
                s.done = true;
                field(
                    &mut run.entries,
                    "shipment_done",
                    None,
                    Some(shipment_id.clone()),
                );
            }
            EventKind::PackingSlipPrinted => {
                if order.packing_slip_printed {
                    return Ok(());
                }
                order.packing_slip_printed = true;
                field(
                    &mut run.entries,
                    "packing_slip_printed",
                    Some("false".into()),
                    Some("true".into()),
                );
            }
            EventKind::Picked => {
                if order.picked {
                    return Ok(());
                }
                order.picked = true;
                field(
                    &mut run.entries,
                    "picked",
                    Some("false".into()),
                    Some("true".into()),
                );
            }
            EventKind::DeliveryNumberEntered { number } => {
                // The same value again is no news: no rule fires twice for it.
                if order.delivery_number.as_deref() == Some(number.as_str()) {
                    return Ok(());
                }
                let before = order.delivery_number.replace(number.clone());
                field(
                    &mut run.entries,
                    "delivery_number",
                    before,
                    Some(number.clone()),
                );
            }
            EventKind::DeliveredQuantity { line_id, delivered } => {
                let Some(line) = order.lines.iter_mut().find(|l| l.line_id == *line_id) else {
                    let known: Vec<String> =
                        order.lines.iter().map(|l| l.line_id.clone()).collect();
                    return Err(EngineError::Invalid(format!(
                        "order {} has no line {line_id} (known: {})",
                        order.id,
                        list(&known)
                    )));
                };
                if *delivered > line.quantity {
                    return Err(EngineError::Invalid(format!(
                        "line {line_id}: delivered {delivered} is more than the quantity {}",
                        line.quantity
                    )));
                }
                if line.delivered == *delivered {
                    return Ok(());
                }
                let before = line.delivered;
                line.delivered = *delivered;
                field(
                    &mut run.entries,
                    &format!("lines[{line_id}].delivered"),
                    Some(before.to_string()),
                    Some(delivered.to_string()),
                );
            }
            EventKind::ExpectedDeliveryDate { date } => {
                if order.expected_delivery == Some(*date) {
                    return Ok(());
                }
                let before = order.expected_delivery.replace(*date);
                field(
                    &mut run.entries,
                    "expected_delivery",
                    before.map(|d| d.to_string()),
                    Some(date.to_string()),
                );
            }
            EventKind::Approved | EventKind::Rejected => {
                let approved = matches!(event.kind, EventKind::Approved);
                if order.approval != Approval::Pending {
                    return Err(EngineError::Invalid(format!(
                        "order {} is not waiting for approval (approval: {:?})",
                        order.id, order.approval
                    )));
                }
                order.approval = if approved {
                    Approval::Approved
                } else {
                    Approval::Rejected
                };
                let held = std::mem::take(&mut order.held);
                field(
                    &mut run.entries,
                    "approval",
                    Some("pending".into()),
                    Some(if approved { "approved" } else { "rejected" }.into()),
                );
                if approved {
                    // The approval's own rules first, then those of the
                    // events that waited for it, in the order they came.
                    run.triggers.push_back((trigger, source));
                    run.replayed = held.len();
                    run.triggers
                        .extend(held.into_iter().map(|h| (h.trigger, h.source)));
                    return Ok(());
                }
                if !held.is_empty() {
                    run.history(
                        None,
                        Change::Skipped {
                            action: format!("rules of {} held triggers", held.len()),
                            reason: "the order was rejected".into(),
                        },
                    );
                }
            }
            EventKind::GoodsReceived { article } => {
                field(
                    &mut run.entries,
                    "goods_received",
                    None,
                    Some(article.clone()),
                );
            }
            EventKind::TimePassed | EventKind::Manual => {}
            EventKind::Cancel { notify } => {
                let Some(to) = cancelled_status(platform) else {
                    return Err(EngineError::Invalid(format!(
                        "plugin {} has no cancelled order status; set the status by hand instead",
                        platform.id
                    )));
                };
                let from = order
                    .status(Dimension::Order)
                    .unwrap_or_default()
                    .to_owned();
                if from == to {
                    return Ok(());
                }
                if !platform.allows(Dimension::Order, &from, &to) {
                    return Err(transition_error(platform, Dimension::Order, &from, &to));
                }
                if stale(run, event, Dimension::Order, &to) {
                    return Ok(());
                }
                run.silent = !notify;
                set_status(run, Dimension::Order, &to, event.actor.clone(), None);
                if source == Source::User {
                    run.manual.push(Dimension::Order);
                }
                run.triggers.push_back((Trigger::StatusChanged, source));
                return Ok(());
            }
            EventKind::Pause | EventKind::Resume => {
                let paused = matches!(event.kind, EventKind::Pause);
                if order.paused == paused {
                    return Ok(());
                }
                order.paused = paused;
                field(
                    &mut run.entries,
                    "paused",
                    Some((!paused).to_string()),
                    Some(paused.to_string()),
                );
                return Ok(());
            }
            EventKind::Assign { to } => {
                if to.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    return Err(EngineError::Invalid(
                        "to: must name an operator, or be null to unassign".into(),
                    ));
                }
                if order.assigned_to == *to {
                    return Ok(());
                }
                let before = std::mem::replace(&mut order.assigned_to, to.clone());
                field(&mut run.entries, "assigned_to", before, to.clone());
                return Ok(());
            }
            EventKind::MoveCustomer { customer } => {
                if customer.trim().is_empty() {
                    return Err(EngineError::Invalid("customer: must not be empty".into()));
                }
                if order.customer == *customer {
                    return Ok(());
                }
                let before = std::mem::replace(&mut order.customer, customer.clone());
                field(
                    &mut run.entries,
                    "customer",
                    Some(before),
                    Some(customer.clone()),
                );
                return Ok(());
            }
        }
        run.triggers.push_back((trigger, source));
        Ok(())
    }

    /// Runs the rules to a fixed point: every trigger in the queue is matched
    /// against the rules in order; a rule's change queues the triggers it
    /// causes. More than [`MAX_FIRINGS`] firings is a loop.
    fn run_rules(
        &self,
        run: &mut Run,
        channel: &Channel,
        platform: &Platform,
    ) -> Result<(), EngineError> {
        if run.order.paused {
            // A paused order changes only by hand until it is resumed.
            run.triggers.clear();
            return Ok(());
        }
        let rules = self.rules();
        let listening = |trigger: Trigger, source: Source| {
            rules.iter().any(|r| {
                r.enabled
                    && !for_unapproved(r)
                    && r.on.contains(&trigger)
                    && r.covers(channel)
                    && (r.sources.is_empty() || r.sources.contains(&source))
            })
        };
        // The engine holds an order that waits for approval, whatever rules
        // are loaded: only rules about unapproved orders run; the triggers
        // of the others wait on the order and run once it is approved. A
        // rejected order runs no rule after the rejection's own.
        let approval = run.order.approval;
        if approval == Approval::Rejected && run.original.approval == Approval::Rejected {
            let waiting: Vec<(Trigger, Source)> = run.triggers.drain(..).collect();
            if waiting.iter().any(|(t, s)| listening(*t, *s)) {
                run.history(
                    None,
                    Change::Skipped {
                        action: "rules".into(),
                        reason: "the order was rejected; no rule runs for it".into(),
                    },
                );
            }
            return Ok(());
        }
        let limit = MAX_FIRINGS * (1 + run.replayed);
        let mut fired: Vec<&str> = Vec::new();
        while let Some((trigger, source)) = run.triggers.pop_front() {
            let pending = run.order.approval == Approval::Pending;
            if pending && trigger != Trigger::TimePassed && listening(trigger, source) {
                run.order.held.push(HeldTrigger {
                    trigger,
                    source,
                    event: run.event.clone(),
                });
                run.history(None, Change::Held { trigger });
            }
            for rule in rules.iter() {
                if !rule.enabled
                    || (pending && !for_unapproved(rule))
                    || !rule.on.contains(&trigger)
                    || !rule.covers(channel)
                    || (!rule.sources.is_empty() && !rule.sources.contains(&source))
                    || (rule.once_per_order && run.order.fired_once.contains(&rule.id))
                {
                    continue;
                }
                if !rule.from.is_empty()
                    && !rule
                        .from
                        .iter()
                        .any(|f| run.order.status(f.dimension) == Some(f.code.as_str()))
                {
                    continue;
                }
                match rule.conditions_hold(&run.order, run.now) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(message) => {
                        run.history(
                            Some(&rule.id),
                            Change::Skipped {
                                action: "rule".into(),
                                reason: message,
                            },
                        );
                        continue;
                    }
                }
                fired.push(&rule.id);
                if fired.len() > limit {
                    return Err(EngineError::RuleLoop {
                        chain: fired.join(" → "),
                    });
                }
                self.fire(run, rule, channel, platform);
            }
        }
        Ok(())
    }

    /// Fires a rule: its move, then its actions. A rule with a move whose
    /// move does not happen (the order is there already, or the plugin
    /// allows no such move) takes none of its actions.
    fn fire(&self, run: &mut Run, rule: &Rule, channel: &Channel, platform: &Platform) {
        let actor = Actor::Rule(rule.id.clone());
        if let Some(to) = &rule.to {
            let from = run
                .order
                .status(to.dimension)
                .unwrap_or_default()
                .to_owned();
            let refused = if from == to.code {
                Some(format!(
                    "the order's {} status is {from} already",
                    to.dimension
                ))
            } else if !platform.allows(to.dimension, &from, &to.code) {
                Some(transition_error(platform, to.dimension, &from, &to.code).to_string())
            } else {
                None
            };
            if let Some(reason) = refused {
                run.history(
                    Some(&rule.id),
                    Change::Skipped {
                        action: format!("move to {to} and the rule's actions"),
                        reason,
                    },
                );
                return;
            }
            set_status(run, to.dimension, &to.code, actor.clone(), Some(&rule.id));
            run.triggers
                .push_back((status_trigger(to.dimension), Source::Rule));
        }
        if rule.once_per_order {
            run.order.fired_once.push(rule.id.clone());
        }
        if let Some(to) = &rule.then.payment_status {
            let dimension = Dimension::Payment;
            let from = run.order.status(dimension).unwrap_or_default().to_owned();
            if from != *to {
                if platform.allows(dimension, &from, to) {
                    set_status(run, dimension, to, actor.clone(), Some(&rule.id));
                    run.triggers
                        .push_back((status_trigger(dimension), Source::Rule));
                } else {
                    run.history(
                        Some(&rule.id),
                        Change::Skipped {
                            action: format!("set {dimension} status {to}"),
                            reason: transition_error(platform, dimension, &from, to).to_string(),
                        },
                    );
                }
            }
        }
        let cancelled = is_cancelled(&run.order, platform);
        if rule.then.issue_invoice
            && channel.invoice_numbering
            && run.order.invoice_number.is_none()
            && !run.invoice
        {
            if cancelled {
                run.history(
                    Some(&rule.id),
                    Change::Skipped {
                        action: "issue invoice".into(),
                        reason: "the order is cancelled".into(),
                    },
                );
            } else {
                run.invoice = true;
                run.history(
                    Some(&rule.id),
                    Change::InvoiceNumber {
                        number: String::new(),
                    },
                );
                run.triggers
                    .push_back((Trigger::InvoiceCreated, Source::Rule));
            }
        }
        if rule.then.decrement_stock && run.order.stock_taken.is_empty() && !cancelled {
            let mut taken: BTreeMap<String, u32> = BTreeMap::new();
            for line in &run.order.lines {
                let q = taken.entry(line.article.clone()).or_default();
                *q = q.saturating_add(line.quantity);
            }
            for (article, quantity) in &taken {
                let delta = -i64::from(*quantity);
                run.stock.push((article.clone(), delta));
                run.history(
                    Some(&rule.id),
                    Change::Stock {
                        article: article.clone(),
                        delta,
                    },
                );
            }
            run.order.stock_taken = taken;
        }
        // Shipments before the status push: a platform job runs after the
        // jobs of its order created before it, and a "shipped" status must
        // not reach the platform ahead of its tracking numbers.
        if rule.then.upload_shipments {
            let ids: Vec<String> = run
                .order
                .shipments
                .iter()
                .filter(|s| s.done && s.has_tracking())
                .map(|s| s.id.clone())
                .collect();
            for shipment_id in ids {
                run.plan_job(Some(&rule.id), JobKind::UploadShipment { shipment_id });
            }
        }
        if rule.then.push_status {
            let dimension = rule.to.as_ref().map_or(Dimension::Order, |t| t.dimension);
            plan_push(run, Some(&rule.id), dimension);
        }
        if let Some(template) = &rule.then.email {
            run.plan_job(
                Some(&rule.id),
                JobKind::Email {
                    template: template.clone(),
                },
            );
        }
        if let Some(template) = &rule.then.sms {
            run.plan_job(
                Some(&rule.id),
                JobKind::Sms {
                    template: template.clone(),
                },
            );
        }
        if let Some(event) = &rule.then.webhook {
            run.plan_job(
                Some(&rule.id),
                JobKind::Webhook {
                    event: event.clone(),
                },
            );
        }
    }

    /// What an event leaves to do once the rules have run: stock given
    /// back to a cancelled order, a refund flagged for a payment on one,
    /// and the push of a status set by hand.
    fn finish(&self, run: &mut Run, channel: &Channel, platform: &Platform) {
        if is_cancelled(&run.order, platform) {
            let taken = std::mem::take(&mut run.order.stock_taken);
            for (article, quantity) in taken {
                let delta = i64::from(quantity);
                run.stock.push((article.clone(), delta));
                run.history(None, Change::Stock { article, delta });
            }
            let paid_now = run.order.status(Dimension::Payment) == Some("paid")
                && run.original.status(Dimension::Payment) != Some("paid");
            if paid_now {
                flag_refund(run);
            }
        }
        if channel.push_manual_changes {
            for dimension in std::mem::take(&mut run.manual) {
                let pushed = run.planned.iter().any(|(_, kind)| {
                    matches!(kind, JobKind::PushStatus { dimension: d, .. } if *d == dimension)
                });
                if !pushed {
                    plan_push(run, None, dimension);
                }
            }
        }
    }

    /// The planned jobs with ids and stable idempotency keys (the event id,
    /// the rule and the job's place in the event).
    fn jobs_of(&self, run: &Run, channel: &Channel) -> Result<Vec<Job>, EngineError> {
        run.planned
            .iter()
            .enumerate()
            .filter(|(_, (_, kind))| {
                !(run.silent && matches!(kind, JobKind::Email { .. } | JobKind::Sms { .. }))
            })
            .map(|(i, (rule, kind))| {
                Ok(Job {
                    id: self.store.next_id()?,
                    order: run.order.id,
                    channel: channel.id.clone(),
                    kind: kind.clone(),
                    idempotency_key: format!(
                        "{}/{}/{i}",
                        run.event,
                        rule.as_deref().unwrap_or("manual")
                    ),
                    event: run.event.clone(),
                    rule: rule.clone(),
                    created: run.now,
                })
            })
            .collect()
    }
}

/// What a second delivery of an applied event id answers: a duplicate when
/// it carries the same body, a conflict naming the earlier event when not.
fn repeated(event: &Event, body: &str, earlier: &AppliedEvent) -> Result<Outcome, EngineError> {
    if earlier.body.is_empty() || earlier.body == body {
        return Ok(Outcome::Duplicate { order: event.order });
    }
    Err(EngineError::EventReused {
        order: event.order,
        id: event.id.clone(),
        at: earlier.at,
        earlier: earlier.body.clone(),
    })
}

/// Whether a rule is about orders waiting for approval (`approved = false`
/// among its conditions): such rules run while an order is pending.
fn for_unapproved(rule: &Rule) -> bool {
    rule.when.approved == Some(false)
}

/// Why `rule` cannot fire for `order` now, if it cannot.
fn rule_blocked(rule: &Rule, order: &Order, channel: &Channel, now: Timestamp) -> Option<String> {
    if !rule.enabled {
        return Some(format!("rule {} is disabled", rule.id));
    }
    match order.approval {
        Approval::Pending if !for_unapproved(rule) => {
            return Some(format!(
                "order {} is waiting for approval; its rules run once it is approved",
                order.id
            ));
        }
        Approval::Rejected => {
            return Some(format!(
                "order {} was rejected; no rule runs for it",
                order.id
            ));
        }
        _ => {}
    }
    if !rule.covers(channel) {
        return Some(format!(
            "rule {} does not cover channel {}",
            rule.id, channel.id
        ));
    }
    if rule.once_per_order && order.fired_once.contains(&rule.id) {
        return Some(format!("rule {} fired for this order already", rule.id));
    }
    if !rule.from.is_empty()
        && !rule
            .from
            .iter()
            .any(|f| order.status(f.dimension) == Some(f.code.as_str()))
    {
        let from: Vec<String> = rule.from.iter().map(ToString::to_string).collect();
        return Some(format!(
            "rule {} starts only from {}",
            rule.id,
            from.join(", ")
        ));
    }
    match rule.conditions_hold(order, now) {
        Ok(true) => None,
        Ok(false) => Some(format!("the conditions of rule {} do not hold", rule.id)),
        Err(message) => Some(format!("rule {}: {message}", rule.id)),
    }
}

/// What one event does, built up before the commit.
struct Run {
    original: Order,
    order: Order,
    event: String,
    actor: Actor,
    now: Timestamp,
    entries: Vec<HistoryEntry>,
    triggers: VecDeque<(Trigger, Source)>,
    /// Jobs to create, with the rule that planned each (none: a change by
    /// hand pushed to the platform).
    planned: Vec<(Option<String>, JobKind)>,
    invoice: bool,
    /// No email or SMS for this event (a cancellation without a mail).
    silent: bool,
    stock: Vec<(String, i64)>,
    /// Dimensions a person set by hand in this event: pushed to the
    /// platform unless the channel says otherwise or a rule pushes them.
    manual: Vec<Dimension>,
    /// Held triggers replayed by this event (an approval).
    replayed: usize,
}

impl Run {
    fn new(order: Order, event: &str, actor: Actor, now: Timestamp) -> Run {
        let mut current = order.clone();
        current.updated = now;
        Run {
            original: order,
            order: current,
            event: event.to_owned(),
            actor,
            now,
            entries: Vec::new(),
            triggers: VecDeque::new(),
            planned: Vec::new(),
            invoice: false,
            silent: false,
            stock: Vec::new(),
            manual: Vec::new(),
            replayed: 0,
        }
    }

    fn history(&mut self, rule: Option<&str>, change: Change) {
        let actor = rule.map_or(self.actor.clone(), |r| Actor::Rule(r.to_owned()));
        self.entries
            .push(entry(&self.event, &actor, self.now, rule, change));
    }

    fn plan_job(&mut self, rule: Option<&str>, kind: JobKind) {
        self.planned.push((rule.map(str::to_owned), kind));
    }

    fn original_status(&self, dimension: Dimension) -> Option<String> {
        self.original.status(dimension).map(str::to_owned)
    }

    fn applied(&self, source: Source, body: &str) -> AppliedEvent {
        AppliedEvent {
            order: self.order.id,
            at: self.now,
            source,
            history: Vec::new(),
            jobs: Vec::new(),
            body: body.to_owned(),
        }
    }
}

fn entry(
    event: &str,
    actor: &Actor,
    at: Timestamp,
    rule: Option<&str>,
    change: Change,
) -> HistoryEntry {
    HistoryEntry {
        seq: 0,
        at,
        actor: actor.clone(),
        event: event.to_owned(),
        rule: rule.map(str::to_owned),
        change,
    }
}

/// Counts the status changes of a committed write for `/metrics`.
fn count_transitions(history: &[HistoryEntry]) {
    for entry in history {
        if let Change::Status { dimension, .. } | Change::Rollback { dimension, .. } = &entry.change
        {
            let by = if entry.rule.is_some() {
                "rule"
            } else {
                "event"
            };
            metrics::counter!("statusport_transitions_total", "dimension" => dimension.as_str(), "by" => by)
                .increment(1);
        }
    }
}

/// Whether a status the platform reports is older than the platform's
/// latest of that dimension: then it is recorded as stale and changes
/// nothing. A newer one is remembered as the latest.
fn stale(run: &mut Run, event: &Event, dimension: Dimension, to: &str) -> bool {
    let (Actor::Platform(_), Some(at)) = (&event.actor, event.occurred_at) else {
        return false;
    };
    match run.order.platform_times.get(&dimension) {
        Some(latest) if at < *latest => {
            let latest = *latest;
            run.history(
                None,
                Change::Stale {
                    dimension,
                    status: to.to_owned(),
                    occurred_at: at,
                    latest,
                },
            );
            true
        }
        _ => {
            run.order.platform_times.insert(dimension, at);
            false
        }
    }
}

/// Plans the push of the order's status of `dimension` to its platform —
/// unless the platform told us that status (an echo) or the platform has it
/// already (the order had it before the event).
fn plan_push(run: &mut Run, rule: Option<&str>, dimension: Dimension) {
    let Some(status) = run.order.statuses.get(&dimension).cloned() else {
        return;
    };
    let skipped = |reason: &str| Change::Skipped {
        action: format!("push {dimension} status {}", status.code),
        reason: reason.into(),
    };
    if status.set_by == Actor::Platform(run.order.channel.clone()) {
        run.history(rule, skipped("the status came from this platform"));
        return;
    }
    let from = run.original_status(dimension);
    if from.as_deref() == Some(status.code.as_str()) {
        run.history(rule, skipped("the order had this status before the event"));
        return;
    }
    run.plan_job(
        rule,
        JobKind::PushStatus {
            dimension,
            from,
            to: status.code,
        },
    );
}

/// Marks a refund due on a cancelled order that was paid.
fn flag_refund(run: &mut Run) {
    if run.order.refund_due {
        return;
    }
    run.order.refund_due = true;
    run.history(
        None,
        Change::Field {
            field: "refund_due".into(),
            before: Some("false".into()),
            after: Some("true".into()),
        },
    );
}

/// Whether the order stands in its platform's cancelled status.
fn is_cancelled(order: &Order, platform: &Platform) -> bool {
    cancelled_status(platform).is_some_and(|c| order.status(Dimension::Order) == Some(c.as_str()))
}

/// The order status a cancellation goes to: `cancelled` (or `canceled`), or
/// failing that a terminal status whose code starts with `cancel`.
fn cancelled_status(platform: &Platform) -> Option<String> {
    let statuses: Vec<&crate::domain::platform::StatusDef> =
        platform.statuses_of(Dimension::Order).collect();
    statuses
        .iter()
        .find(|s| s.code == "cancelled" || s.code == "canceled")
        .or_else(|| {
            statuses
                .iter()
                .find(|s| s.terminal && s.code.starts_with("cancel"))
        })
        .map(|s| s.code.clone())
}

fn set_status(run: &mut Run, dimension: Dimension, to: &str, actor: Actor, rule: Option<&str>) {
    let before = run.order.status(dimension).map(str::to_owned);
    run.order.statuses.insert(
        dimension,
        StatusValue {
            code: to.to_owned(),
            since: run.now,
            set_by: actor,
        },
    );
    run.history(
        rule,
        Change::Status {
            dimension,
            before,
            after: to.to_owned(),
        },
    );
}

fn status_trigger(dimension: Dimension) -> Trigger {
    if dimension == Dimension::Payment {
        Trigger::PaymentStatusChanged
    } else {
        Trigger::StatusChanged
    }
}

fn check_status(platform: &Platform, dimension: Dimension, code: &str) -> Result<(), EngineError> {
    if platform.status(dimension, code).is_some() {
        return Ok(());
    }
    let known: Vec<String> = platform
        .statuses_of(dimension)
        .map(|s| s.code.clone())
        .collect();
    Err(EngineError::UnknownStatus {
        plugin: format!("{} {}", platform.id, platform.version),
        dimension,
        code: code.to_owned(),
        known: list(&known),
    })
}

fn transition_error(
    platform: &Platform,
    dimension: Dimension,
    from: &str,
    to: &str,
) -> EngineError {
    let allowed: Vec<String> = platform
        .statuses_of(dimension)
        .filter(|s| s.code != from && platform.allows(dimension, from, &s.code))
        .map(|s| s.code.clone())
        .collect();
    EngineError::TransitionNotAllowed {
        plugin: format!("{} {}", platform.id, platform.version),
        dimension,
        from: from.to_owned(),
        to: to.to_owned(),
        allowed: if allowed.is_empty() {
            "none".into()
        } else {
            allowed.join(", ")
        },
    }
}

fn sort_rules(rules: &mut [Rule]) {
    rules.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
