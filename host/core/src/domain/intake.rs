//! What comes in from a platform (contract 1.1's `intake`): orders as the
//! platform has them now, and status changes made on the platform.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::money::Money;
use super::platform::Dimension;

/// The customer of an incoming order, as the platform knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingCustomer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The postal address, one line per entry.
    pub address: Vec<String>,
}

/// One line of an incoming order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingLine {
    pub line_id: String,
    pub article: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
}

/// An order as the platform has it now: new, or changed since last seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingOrder {
    pub platform_order_id: String,
    pub customer: IncomingCustomer,
    pub lines: Vec<IncomingLine>,
    pub shipping: Option<Money>,
    pub payment_method: String,
    /// The platform's status per dimension.
    pub statuses: BTreeMap<Dimension, String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A status changed on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The platform's id of the change: the same change, delivered twice,
    /// has the same id.
    pub change_id: String,
    pub platform_order_id: String,
    pub dimension: Dimension,
    pub code: String,
    pub changed_at: Timestamp,
}

/// What comes in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Inbound {
    Order(IncomingOrder),
    StatusChange(StatusChange),
}

/// One answer of a pull: what came in, and where the next pull goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub items: Vec<Inbound>,
    pub next_cursor: Option<String>,
    /// More is waiting: pull again at once.
    pub more: bool,
}

/// Where a channel's intake stands: the cursor the next pull goes on from,
/// written in the same atomic write as what the last batch produced, and
/// how the last polls and webhooks went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeState {
    /// The plugin's cursor; none before the first pull.
    #[serde(default)]
    pub cursor: Option<String>,
    /// When a pull or webhook last came through.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success: Option<Timestamp>,
    /// The last failure, until a pull or webhook comes through again.
    #[serde(default)]
    pub last_error: Option<IntakeError>,
    /// Failures in a row since the last success.
    #[serde(default)]
    pub failures: u32,
    /// The next poll is not before this time (the platform's retry-after,
    /// or the backoff after a failure).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub not_before: Option<Timestamp>,
    /// Orders created, status changes applied, items refused, since the
    /// channel was made.
    #[serde(default)]
    pub imported: IntakeCounts,
    /// The latest items that could not be imported, newest last (at most
    /// [`IntakeState::KEEP_REFUSED`]).
    #[serde(default)]
    pub refused: Vec<RefusedItem>,
}

impl IntakeState {
    pub const KEEP_REFUSED: usize = 20;

    /// Records what an import did: `during` is `pull` or `webhook`. A
    /// success clears the last error of its own kind only, so that a
    /// failing poll stays visible while webhooks come through (and the
    /// other way round); only a pull resets the polls' backoff.
    pub fn count(&mut self, report: &ImportReport, at: Timestamp, during: &str) {
        self.imported.created += report.created as u64;
        self.imported.changed += report.changed as u64;
        self.imported.refused += report.refused.len() as u64;
        self.refused.extend(report.refused.iter().cloned());
        let excess = self.refused.len().saturating_sub(Self::KEEP_REFUSED);
        self.refused.drain(..excess);
        self.last_success = Some(at);
        if self.last_error.as_ref().is_some_and(|e| e.during == during) {
            self.last_error = None;
        }
        if during == "pull" {
            self.failures = 0;
            self.not_before = None;
        }
    }
}

/// Counters of a channel's intake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeCounts {
    pub created: u64,
    pub changed: u64,
    pub refused: u64,
}

/// A failed pull or webhook, as the channel shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeError {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// `pull` or `webhook`.
    pub during: String,
    /// `transient`, `rejected`, `auth`, `config`, `unsupported`, `plugin`
    /// or `store`.
    pub kind: String,
    pub message: String,
}

/// An item the host could not import, and why; the import went on without
/// it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefusedItem {
    pub platform_order_id: String,
    pub reason: String,
}

/// What one import (a pull's batch or a webhook delivery) did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Orders created.
    pub created: usize,
    /// Status changes applied to orders (stale ones included: they are
    /// recorded in the order's history).
    pub changed: usize,
    /// Items seen before: an order already imported with nothing new, a
    /// change id already applied.
    pub unchanged: usize,
    pub refused: Vec<RefusedItem>,
}
