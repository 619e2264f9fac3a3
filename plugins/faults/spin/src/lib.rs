//! Fault fixture: never returns from `push-status`.

#[path = "../../common.rs"]
mod common;

use statusport_plugin_sdk::{AdapterResult, Dimension, Guest, PlatformInfo, Shipment, export};

struct Spin;

impl Guest for Spin {
    fn describe() -> PlatformInfo {
        common::info("fault-spin", "Fault: endless loop")
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        loop {
            std::hint::spin_loop();
        }
    }
}

export!(Spin);
