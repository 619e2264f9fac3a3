//! The engine: rules and the transition pipeline — the one place where an
//! event becomes a status change.
//!
//! An event on an order runs the matching rules in a defined order (priority,
//! then id), chained to a fixed point under a loop guard; the order, its
//! index entries, its history and every job the change causes are written in
//! one atomic commit, checked against the order's committed version. Events
//! on one order serialise on a lock; events on different orders run in
//! parallel. It never calls a plugin: jobs are the outbox's to run.

mod apply;
pub mod bulk;
mod catalogue;
mod create;
mod customers;
mod direct;
mod error;
mod intake;
mod pipeline;
pub mod rule;
pub mod rulesets;
mod timers;

pub use error::{Conflict, EngineError, Thing};
pub use intake::CursorMove;
use pipeline::*;

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
use crate::store::{CommitError, Committed, Store, StoreError, Write, WriteEvent, keys};
use rule::{Rule, RuleScope};

/// How many rule firings one event may cause before the chain is taken for a
/// loop and the event refused.
pub const MAX_FIRINGS: usize = 32;
/// How often a change is recomputed when another writer got there first.
const MAX_RETRIES: usize = 8;
const LOCK_STRIPES: usize = 1024;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// Imports of one channel take turns (a pull and a webhook).
    intake_locks: Vec<tokio::sync::Mutex<()>>,
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
            intake_locks: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
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
            EngineError::NotFound {
                what: Thing::Channel,
                id: id.to_owned(),
                known: Some(list(&known)),
            }
        })
    }

    fn platform_of(&self, channel: &Channel) -> Result<Arc<Platform>, EngineError> {
        self.platforms
            .platform(&channel.plugin)
            .ok_or_else(|| Conflict::PluginMissing {
                channel: channel.id.to_string(),
                plugin: channel.plugin.clone(),
                known: list(&self.platforms.known()),
            })
            .map_err(EngineError::from)
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
