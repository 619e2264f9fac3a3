//! Between contract 1.x's generated types and the core's domain types.
//! Only this file knows both; a field added to the contract is mapped here.

use super::types as wit;
use statusport_core::domain::job::Receipt;
use statusport_core::domain::platform::{
    ConfigFieldDef, Dimension, PlatformError, RawPlatformInfo, StatusDef, TransitionDef,
};
use statusport_core::domain::shipment::Shipment;

pub fn wit_dimension(d: Dimension) -> wit::Dimension {
    match d {
        Dimension::Order => wit::Dimension::Order,
        Dimension::Payment => wit::Dimension::Payment,
        Dimension::Delivery => wit::Dimension::Delivery,
    }
}

pub fn dimension_of(d: wit::Dimension) -> Dimension {
    match d {
        wit::Dimension::Order => Dimension::Order,
        wit::Dimension::Payment => Dimension::Payment,
        wit::Dimension::Delivery => Dimension::Delivery,
    }
}

pub fn wit_shipment(s: &Shipment) -> wit::Shipment {
    wit::Shipment {
        id: s.id.clone(),
        platform_order_id: s.platform_order_id.clone(),
        shipped_at: s.shipped_at.clone(),
        packages: s
            .packages
            .iter()
            .map(|p| wit::Package {
                carrier: p.carrier.clone(),
                tracking_number: p.tracking_number.clone(),
                tracking_url: p.tracking_url.clone(),
                lines: p
                    .lines
                    .iter()
                    .map(|l| wit::PackageLine {
                        line_id: l.line_id.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn raw_info(info: wit::PlatformInfo) -> RawPlatformInfo {
    RawPlatformInfo {
        id: info.id,
        name: info.name,
        version: info.version,
        statuses: info
            .statuses
            .into_iter()
            .map(|s| StatusDef {
                code: s.code,
                label: s.label,
                dimension: dimension_of(s.dimension),
                terminal: s.terminal,
                initial: s.initial,
            })
            .collect(),
        transitions: info
            .transitions
            .into_iter()
            .map(|t| TransitionDef {
                dimension: dimension_of(t.dimension),
                from: t.from,
                to: t.to,
            })
            .collect(),
        carriers: info.carriers,
        config: info
            .config
            .into_iter()
            .map(|f| ConfigFieldDef {
                name: f.name,
                help: f.help,
                secret: f.secret,
                required: f.required,
                default_value: f.default_value,
            })
            .collect(),
        extra_hosts: info.extra_hosts,
    }
}

/// A push's or upload's answer: the platform's receipt, or its typed
/// refusal.
pub fn receipt(answer: Result<wit::Receipt, wit::AdapterError>) -> Result<Receipt, PlatformError> {
    match answer {
        Ok(r) => Ok(Receipt {
            reference: r.reference,
            summary: r.summary,
        }),
        Err(e) => Err(platform_error(e)),
    }
}

/// A plugin's typed refusal.
pub fn platform_error(e: wit::AdapterError) -> PlatformError {
    match e {
        wit::AdapterError::Transient(t) => PlatformError::Transient {
            message: t.message,
            retry_after_ms: t.retry_after_ms,
        },
        wit::AdapterError::Rejected(message) => PlatformError::Rejected { message },
        wit::AdapterError::Auth(message) => PlatformError::Auth { message },
        wit::AdapterError::Config(message) => PlatformError::Config { message },
        wit::AdapterError::Unsupported(message) => PlatformError::Unsupported { message },
    }
}
