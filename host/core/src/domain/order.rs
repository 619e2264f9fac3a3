//! Orders, their lines, customers and channels: what the host owns. Plain
//! data; the only way to change a stored order is the engine's pipeline.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::event::Trigger;
use super::money::Money;
use super::platform::Dimension;
use super::shipment::Package;

/// The host's own id of an order: unique, never reused, never shown as the
/// order number.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A channel's id: `shop-de`, `amazon-eu`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelId(String);

impl ChannelId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_id("channel id", &value)?;
        Ok(ChannelId(value))
    }
}

impl TryFrom<&str> for ChannelId {
    type Error = String;
    fn try_from(value: &str) -> Result<Self, String> {
        ChannelId::try_from(value.to_owned())
    }
}

impl From<ChannelId> for String {
    fn from(id: ChannelId) -> String {
        id.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Ids of channels, rules, templates and customers: 1–64 characters of
/// `a-z`, `0-9`, `-`, `_`, `.`, starting with a letter or digit. They appear
/// in store keys and URLs, so nothing else is allowed.
pub fn check_id(what: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && value.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} \"{value}\" must be 1–64 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit"
        ))
    }
}

/// A place where orders are sold: one shop or marketplace account, spoken to
/// through one plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub id: ChannelId,
    pub name: String,
    /// The platform id of the plugin that speaks for this channel.
    pub plugin: String,
    /// Where the platform's API lives; the plugin may reach this origin.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Config values handed to the plugin (secrets included); never shown in
    /// API answers or logs.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Extra origins granted to the plugin among those it declares.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Whether the host issues invoice numbers for this channel's orders; off
    /// where an ERP issues them.
    #[serde(default = "yes")]
    pub invoice_numbering: bool,
    /// Orders entered by someone without the approver right wait as not
    /// approved.
    #[serde(default)]
    pub requires_approval: bool,
    /// A status set by hand (an operator's change, a cancellation) is
    /// pushed to the platform; off, only rules with `push_status` push.
    #[serde(default = "yes")]
    pub push_manual_changes: bool,
    /// Platform calls running at once for this channel (the outbox's
    /// default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Platform calls per second for this channel; 0 for no limit (the
    /// outbox's default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<u32>,
    /// Seconds between two pulls of new and changed orders from the
    /// platform (a plugin with intake, contract 1.1); unset: no polling
    /// (webhooks still come in at `/hooks/{channel}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<u32>,
}

impl Channel {
    /// The shortest and longest poll interval a channel may set.
    pub const POLL_INTERVAL_SECS: std::ops::RangeInclusive<u32> = 1..=86_400;
}

fn yes() -> bool {
    true
}

/// A customer of one channel: customer ids are the shop's own, so two
/// channels may each have a customer "1", and they are two customers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    /// The channel the customer belongs to. In a `PUT` it may be left out
    /// when the `channel` query, the connector's token or the store (one
    /// channel only, or the one channel that has the customer) says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub channel: Option<ChannelId>,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// The postal address, one line per entry, as the platform gave it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// The platform's line id; defaults to the line's position.
    #[serde(default)]
    pub line_id: String,
    pub article: String,
    pub name: String,
    pub quantity: u32,
    #[serde(default)]
    pub delivered: u32,
    /// Price of one unit, in the order's currency.
    pub unit_price: Money,
}

impl Line {
    pub fn total(&self) -> Option<Money> {
        self.unit_price.times(self.quantity)
    }
}

/// Where an order stands on approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Nobody needs to approve it.
    NotRequired,
    Pending,
    Approved,
    Rejected,
}

/// Who or what made a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// An operator or a connecting system, by its token's owner.
    User(String),
    /// A rule, by id.
    Rule(String),
    /// The order's platform, through its channel.
    Platform(ChannelId),
    /// The host itself: timers, imports, bulk jobs.
    System,
}

impl Actor {
    pub fn source(&self) -> Source {
        match self {
            Actor::User(_) => Source::User,
            Actor::Rule(_) => Source::Rule,
            Actor::Platform(_) => Source::Platform,
            Actor::System => Source::System,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(u) => write!(f, "user {u}"),
            Actor::Rule(r) => write!(f, "rule {r}"),
            Actor::Platform(c) => write!(f, "platform of channel {c}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// The kind of actor, as rules filter on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    User,
    Rule,
    Platform,
    System,
}

/// One status of an order in one dimension, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusValue {
    pub code: String,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    pub set_by: Actor,
}

/// A trigger held while its order waits for approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeldTrigger {
    pub trigger: Trigger,
    pub source: Source,
    /// The event that raised it.
    pub event: String,
}

/// A shipment record kept on the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShipmentRecord {
    pub id: String,
    pub packages: Vec<Package>,
    pub done: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
}

impl ShipmentRecord {
    pub fn has_tracking(&self) -> bool {
        self.packages
            .iter()
            .any(|p| !p.tracking_number.trim().is_empty())
    }
}

/// The stored record of an order. The API answers with its own view of
/// it (the service's `OrderView`), so that the two change apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    /// Bumped by every committed change; a change computed from an older
    /// version is refused.
    pub version: u64,
    pub channel: ChannelId,
    /// The order's id on its platform; unique per channel.
    pub platform_order_id: String,
    pub number: String,
    pub invoice_number: Option<String>,
    pub customer: String,
    pub lines: Vec<Line>,
    pub currency: String,
    pub shipping: Money,
    pub payment_method: String,
    /// One status per dimension the channel's plugin declares.
    pub statuses: BTreeMap<Dimension, StatusValue>,
    pub approval: Approval,
    pub expected_delivery: Option<Date>,
    pub delivery_number: Option<String>,
    pub picked: bool,
    pub packing_slip_printed: bool,
    pub paused: bool,
    pub assigned_to: Option<String>,
    pub shipments: Vec<ShipmentRecord>,
    /// Rules marked "once per order" that have fired on this order.
    pub fired_once: Vec<String>,
    /// Triggers that came while the order waited for approval: their rules
    /// run, in this order, once it is approved; a rejection drops them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldTrigger>,
    /// Stock the rules took off for this order, by article: given back,
    /// once, when the order is cancelled.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stock_taken: BTreeMap<String, u32>,
    /// A payment arrived after the order was cancelled: a refund is due
    /// until an operator settles it.
    #[serde(default)]
    pub refund_due: bool,
    /// The time the platform gave for its latest status of each dimension:
    /// an older one arriving later is stale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platform_times: BTreeMap<Dimension, Timestamp>,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// How many history entries the order has; the next one's sequence.
    pub history_len: u64,
}

impl Order {
    pub fn status(&self, dimension: Dimension) -> Option<&str> {
        self.statuses.get(&dimension).map(|s| s.code.as_str())
    }

    /// Lines plus shipping, or `None` on overflow.
    pub fn total(&self) -> Option<Money> {
        self.lines
            .iter()
            .try_fold(self.shipping, |sum, line| sum.plus(line.total()?))
    }

    pub fn all_lines_delivered(&self) -> bool {
        !self.lines.is_empty() && self.lines.iter().all(|l| l.delivered >= l.quantity)
    }

    pub fn has_done_tracked_shipment(&self) -> bool {
        self.shipments.iter().any(|s| s.done && s.has_tracking())
    }

    /// Whole days the order has been in its status of `dimension`.
    pub fn days_in_status(&self, dimension: Dimension, now: Timestamp) -> i64 {
        self.statuses
            .get(&dimension)
            .map(|s| now.duration_since(s.since).as_secs() / 86_400)
            .unwrap_or(0)
    }
}
