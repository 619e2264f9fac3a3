//! What every fault plugin shares: a valid `describe`, so that the host
//! loads it and the fault shows only when a call misbehaves.

use statusport_plugin_sdk::{Dimension, PlatformInfo, config_field, status};

pub fn info(id: &str, name: &str) -> PlatformInfo {
    PlatformInfo {
        id: id.into(),
        name: name.into(),
        version: "1.0.0".into(),
        statuses: vec![
            status(Dimension::Order, "open", "Open").initial(),
            status(Dimension::Order, "done", "Done").terminal(),
        ],
        transitions: Vec::new(),
        carriers: vec!["dhl".into()],
        config: vec![config_field(
            "targets",
            "comma-separated URLs the plugin tries to reach",
        )],
        extra_hosts: Vec::new(),
    }
}
