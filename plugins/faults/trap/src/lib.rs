//! Fault fixture: panics in `push-status`, traps in `upload-shipment`.

#[path = "../../common.rs"]
mod common;

use statusport_plugin_sdk::{AdapterResult, Dimension, Guest, PlatformInfo, Shipment, export};

struct Trap;

impl Guest for Trap {
    fn describe() -> PlatformInfo {
        common::info("fault-trap", "Fault: trap")
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        panic!("deliberate failure in push-status")
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        unreachable!("deliberate trap")
    }
}

export!(Trap);
