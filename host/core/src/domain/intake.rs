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
