//! What the API answers about an order: its own type, apart from the stored
//! record (`statusport_core::domain::order::Order`), so that the wire format
//! and the disk format change independently. Today they carry the same
//! fields; a field renamed or added on one side is mapped here.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use statusport_core::domain::event::{HistoryEntry, Job};
use statusport_core::domain::money::Money;
use statusport_core::domain::order::{
    Approval, ChannelId, HeldTrigger, Line, Order, OrderId, ShipmentRecord, StatusValue,
};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::Outcome;

/// An order as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
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
    #[schema(value_type = Option<String>, format = Date)]
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
    #[schema(value_type = BTreeMap<Dimension, String>)]
    pub platform_times: BTreeMap<Dimension, Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated: Timestamp,
    /// How many history entries the order has; the next one's sequence.
    pub history_len: u64,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> OrderView {
        OrderView {
            id: o.id,
            version: o.version,
            channel: o.channel,
            platform_order_id: o.platform_order_id,
            number: o.number,
            invoice_number: o.invoice_number,
            customer: o.customer,
            lines: o.lines,
            currency: o.currency,
            shipping: o.shipping,
            payment_method: o.payment_method,
            statuses: o.statuses,
            approval: o.approval,
            expected_delivery: o.expected_delivery,
            delivery_number: o.delivery_number,
            picked: o.picked,
            packing_slip_printed: o.packing_slip_printed,
            paused: o.paused,
            assigned_to: o.assigned_to,
            shipments: o.shipments,
            fired_once: o.fired_once,
            held: o.held,
            stock_taken: o.stock_taken,
            refund_due: o.refund_due,
            platform_times: o.platform_times,
            created: o.created,
            updated: o.updated,
            history_len: o.history_len,
        }
    }
}

/// What happened to an event, as the API answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[schema(as = Outcome)]
pub enum OutcomeView {
    Applied {
        order: Box<OrderView>,
        history: Vec<HistoryEntry>,
        jobs: Vec<Job>,
    },
    /// The event's id was applied before: nothing changed.
    Duplicate { order: OrderId },
}

impl From<Outcome> for OutcomeView {
    fn from(outcome: Outcome) -> OutcomeView {
        match outcome {
            Outcome::Applied {
                order,
                history,
                jobs,
            } => OutcomeView::Applied {
                order: Box::new(OrderView::from(*order)),
                history,
                jobs,
            },
            Outcome::Duplicate { order } => OutcomeView::Duplicate { order },
        }
    }
}
