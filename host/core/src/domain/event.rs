//! Events that happen to an order, the history they leave, and the jobs
//! (outbox entries) a change causes.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::order::{Actor, ChannelId, OrderId, Source};
use super::platform::Dimension;
use super::shipment::Package;

/// What a rule listens for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    StatusChanged,
    PaymentStatusChanged,
    PaymentMatched,
    ShipmentAdded,
    ShipmentDone,
    InvoiceCreated,
    PackingSlipPrinted,
    Picked,
    DeliveryNumberEntered,
    DeliveredQuantityChanged,
    ExpectedDeliveryDateChanged,
    GoodsReceived,
    Approved,
    Rejected,
    TimePassed,
    Manual,
    OrderCreated,
}

impl Trigger {
    pub const ALL: &[Trigger] = &[
        Trigger::StatusChanged,
        Trigger::PaymentStatusChanged,
        Trigger::PaymentMatched,
        Trigger::ShipmentAdded,
        Trigger::ShipmentDone,
        Trigger::InvoiceCreated,
        Trigger::PackingSlipPrinted,
        Trigger::Picked,
        Trigger::DeliveryNumberEntered,
        Trigger::DeliveredQuantityChanged,
        Trigger::ExpectedDeliveryDateChanged,
        Trigger::GoodsReceived,
        Trigger::Approved,
        Trigger::Rejected,
        Trigger::TimePassed,
        Trigger::Manual,
        Trigger::OrderCreated,
    ];
}

/// What happened, with what it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    /// A payment arrived for the order (provider callback, bank match).
    PaymentMatched {
        #[serde(default)]
        reference: Option<String>,
    },
    ShipmentAdded {
        shipment_id: String,
        packages: Vec<Package>,
        #[serde(default)]
        done: bool,
    },
    ShipmentDone {
        shipment_id: String,
    },
    PackingSlipPrinted,
    Picked,
    DeliveryNumberEntered {
        number: String,
    },
    DeliveredQuantity {
        line_id: String,
        delivered: u32,
    },
    ExpectedDeliveryDate {
        #[schema(value_type = String, format = Date)]
        date: Date,
    },
    Approved,
    Rejected,
    /// Stock of an article went from zero to more; sent to each order
    /// holding it by the stock module.
    GoodsReceived {
        article: String,
    },
    /// A status set by hand, or imported from the platform (`actor` says
    /// which). Checked against the plugin's transitions.
    SetStatus {
        dimension: Dimension,
        to: String,
    },
    /// The dunning timer: the order has been in its status for a while.
    TimePassed,
    /// Run the rules marked for manual triggering.
    Manual,
    /// Cancel the order: its order status goes to the plugin's cancelled
    /// status and the rules run on that as on any status change. With
    /// `notify: false`, no email or SMS goes out for this event.
    Cancel {
        #[serde(default = "yes")]
        notify: bool,
    },
    /// Stop the rules for this order until it is resumed; changes by hand
    /// still apply.
    Pause,
    Resume,
    /// Assign the order to an operator, or unassign it with `null`.
    Assign {
        #[serde(default)]
        to: Option<String>,
    },
    /// Move the order to another customer (a duplicate customer account,
    /// a wrong match).
    MoveCustomer {
        customer: String,
    },
    /// The refund due on the order (a payment that arrived after it was
    /// cancelled) was paid back: the order leaves the list of refunds due.
    RefundSettled {
        #[serde(default)]
        reference: Option<String>,
    },
}

fn yes() -> bool {
    true
}

impl EventKind {
    pub fn trigger(&self) -> Trigger {
        match self {
            EventKind::PaymentMatched { .. } => Trigger::PaymentMatched,
            EventKind::ShipmentAdded { .. } => Trigger::ShipmentAdded,
            EventKind::ShipmentDone { .. } => Trigger::ShipmentDone,
            EventKind::PackingSlipPrinted => Trigger::PackingSlipPrinted,
            EventKind::Picked => Trigger::Picked,
            EventKind::DeliveryNumberEntered { .. } => Trigger::DeliveryNumberEntered,
            EventKind::DeliveredQuantity { .. } => Trigger::DeliveredQuantityChanged,
            EventKind::ExpectedDeliveryDate { .. } => Trigger::ExpectedDeliveryDateChanged,
            EventKind::Approved => Trigger::Approved,
            EventKind::Rejected => Trigger::Rejected,
            EventKind::GoodsReceived { .. } => Trigger::GoodsReceived,
            EventKind::SetStatus {
                dimension: Dimension::Payment,
                ..
            } => Trigger::PaymentStatusChanged,
            EventKind::SetStatus { .. } => Trigger::StatusChanged,
            EventKind::TimePassed => Trigger::TimePassed,
            EventKind::Manual => Trigger::Manual,
            EventKind::Cancel { .. } => Trigger::StatusChanged,
            EventKind::Pause
            | EventKind::Resume
            | EventKind::Assign { .. }
            | EventKind::MoveCustomer { .. }
            | EventKind::RefundSettled { .. } => Trigger::Manual,
        }
    }
}

/// An event for one order. `id` makes it idempotent per order: the same id
/// is applied to an order once, however often it arrives; the same id with
/// another body is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: String,
    pub order: OrderId,
    pub actor: Actor,
    pub kind: EventKind,
    /// When the platform (or whoever sends it) says it happened; a platform
    /// status older than the platform's last change of that dimension is
    /// recorded as stale and changes nothing.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<Timestamp>,
}

impl Event {
    /// An event that carries no time of its own.
    pub fn new(id: impl Into<String>, order: OrderId, actor: Actor, kind: EventKind) -> Event {
        Event {
            id: id.into(),
            order,
            actor,
            kind,
            occurred_at: None,
        }
    }

    /// What makes two deliveries of one event id the same event: the kind
    /// with what it carries, and the time it says it happened.
    pub fn body(&self) -> String {
        let kind = serde_json::to_string(&self.kind).unwrap_or_default();
        match self.occurred_at {
            Some(at) => format!("{kind} at {at}"),
            None => kind,
        }
    }
}

/// One change recorded in an order's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: u64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub actor: Actor,
    /// The event that caused the change.
    pub event: String,
    /// The rule that made the change, if a rule did.
    pub rule: Option<String>,
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Created,
    Status {
        dimension: Dimension,
        before: Option<String>,
        after: String,
    },
    /// A rollback to the status before the last change of `dimension`.
    Rollback {
        dimension: Dimension,
        before: String,
        after: String,
    },
    Field {
        field: String,
        before: Option<String>,
        after: Option<String>,
    },
    InvoiceNumber {
        number: String,
    },
    /// An action that was due but not taken, and why (an echo to the
    /// platform the status came from).
    Skipped {
        action: String,
        reason: String,
    },
    /// A platform status that arrived after a newer one of the same
    /// dimension: recorded, and nothing changed.
    Stale {
        dimension: Dimension,
        status: String,
        #[schema(value_type = String, format = DateTime)]
        occurred_at: Timestamp,
        #[schema(value_type = String, format = DateTime)]
        latest: Timestamp,
    },
    /// Stock taken off (negative) or given back (positive) for the order.
    Stock {
        article: String,
        delta: i64,
    },
    /// The rules of an event wait until the order is approved.
    Held {
        trigger: Trigger,
    },
}

/// What an outbox job does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    PushStatus {
        dimension: Dimension,
        from: Option<String>,
        to: String,
    },
    UploadShipment {
        shipment_id: String,
    },
    Email {
        template: String,
    },
    Sms {
        template: String,
    },
    /// An event for the webhook endpoints that receive its type; the outbox
    /// turns it into one delivery per endpoint.
    Webhook {
        event: String,
    },
    /// One webhook event to one endpoint, with the body fixed when the
    /// delivery was created so that every retry sends the same bytes.
    WebhookDelivery {
        endpoint: String,
        event: String,
        body: String,
    },
}

impl JobKind {
    /// A short name: `push_status`, `upload_shipment`, `email`, `sms`,
    /// `webhook`, `webhook_delivery`.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::PushStatus { .. } => "push_status",
            JobKind::UploadShipment { .. } => "upload_shipment",
            JobKind::Email { .. } => "email",
            JobKind::Sms { .. } => "sms",
            JobKind::Webhook { .. } => "webhook",
            JobKind::WebhookDelivery { .. } => "webhook_delivery",
        }
    }

    /// Whether the job talks to the order's platform: such jobs of one order
    /// run one at a time, oldest first.
    pub fn is_platform(&self) -> bool {
        matches!(
            self,
            JobKind::PushStatus { .. } | JobKind::UploadShipment { .. }
        )
    }
}

/// One unit of work the outbox dispatches, written in the same atomic write
/// as the change that caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: u64,
    pub order: OrderId,
    pub channel: ChannelId,
    pub kind: JobKind,
    /// Stable across every attempt: handed to the plugin / the recipient.
    pub idempotency_key: String,
    pub event: String,
    pub rule: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
}

/// How an applied event is remembered, so that the same id is not applied
/// twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppliedEvent {
    pub order: OrderId,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub source: Source,
    /// History sequence numbers the event wrote.
    pub history: Vec<u64>,
    pub jobs: Vec<u64>,
    /// The event's body ([`Event::body`]): another delivery of the id with
    /// another body is refused. Empty for events recorded before bodies
    /// were kept.
    #[serde(default)]
    pub body: String,
}

/// A goods receipt as booked: the stock it added, and what the stock was
/// before (orders holding the article wake when it was zero or less).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GoodsReceipt {
    pub id: String,
    pub article: String,
    pub quantity: i64,
    pub stock_before: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A stock level of one article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stock {
    pub article: String,
    pub quantity: i64,
    #[schema(value_type = String, format = DateTime)]
    pub updated: Timestamp,
}
