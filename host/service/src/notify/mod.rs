//! Telling people: email (SMTP through lettre, or `.eml` files), SMS
//! through an HTTP gateway, and signed webhooks, rendered with the core's
//! templates. The outbox decides when; this module knows how.

pub mod mail;
pub mod sms;
pub mod webhook;

use statusport_core::domain::job::{FailureKind, Receipt};

/// How one delivery attempt went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// May clear by itself: try again later (after `retry_after_ms` when the
    /// other side said so).
    #[error("{message}")]
    Transient {
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// Will not clear by trying again: the job fails and waits for an
    /// operator.
    #[error("{message}")]
    Permanent { kind: FailureKind, message: String },
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> DeliveryError {
        DeliveryError::Transient {
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn permanent(kind: FailureKind, message: impl Into<String>) -> DeliveryError {
        DeliveryError::Permanent {
            kind,
            message: message.into(),
        }
    }
}

pub type Delivered = Result<Receipt, DeliveryError>;
