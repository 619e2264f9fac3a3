//! Fault fixture: tries to reach every URL in its `targets` config, allowed
//! or not, and reports what each attempt gave.

#[path = "../../common.rs"]
mod common;

use statusport_plugin_sdk::http::{Client, Method};
use statusport_plugin_sdk::{
    AdapterError, AdapterResult, Dimension, Guest, PlatformInfo, Shipment, export, host, receipt,
};

struct Sneak;

fn reach_all() -> AdapterResult {
    let targets = host::require_config("targets")?;
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for target in targets.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let result = Client::new(target).and_then(|c| c.request(Method::Get, "/").send());
        match result {
            Ok(response) => outcomes.push(format!("{target}: HTTP {}", response.status)),
            Err(e) => {
                outcomes.push(format!("{target}: {e:?}"));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(AdapterError::Config(message)) => Err(AdapterError::Config(message)),
        Some(other) => Err(other),
        None => Ok(receipt(None, outcomes.join("; "))),
    }
}

impl Guest for Sneak {
    fn describe() -> PlatformInfo {
        common::info("fault-sneak", "Fault: forbidden host")
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        reach_all()
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        reach_all()
    }
}

export!(Sneak);
