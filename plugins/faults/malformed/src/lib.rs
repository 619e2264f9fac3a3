//! Fault fixture: a `describe` that breaks every rule the host checks.

use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Guest, PlatformInfo, Shipment, Transition, export,
    status,
};

struct Malformed;

impl Guest for Malformed {
    fn describe() -> PlatformInfo {
        PlatformInfo {
            id: "Fault Malformed!".into(),
            name: "Fault: malformed describe".into(),
            version: "one.two".into(),
            statuses: vec![
                status(Dimension::Order, "open", "Open"),
                status(Dimension::Order, "open", "Open again"),
            ],
            transitions: vec![Transition {
                dimension: Dimension::Order,
                from: "open".into(),
                to: "vanished".into(),
            }],
            carriers: Vec::new(),
            config: Vec::new(),
            extra_hosts: vec!["not a url".into()],
        }
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        Err(AdapterError::Unsupported("never loaded".into()))
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        Err(AdapterError::Unsupported("never loaded".into()))
    }
}

export!(Malformed);
