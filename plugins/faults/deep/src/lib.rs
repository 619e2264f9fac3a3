//! Fault fixture: recurses until the stack overflows.

#[path = "../../common.rs"]
mod common;

use statusport_plugin_sdk::{AdapterResult, Dimension, Guest, PlatformInfo, Shipment, export};

struct Deep;

#[allow(unconditional_recursion)]
fn descend(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    descend(depth + 1) + frame[3]
}

impl Guest for Deep {
    fn describe() -> PlatformInfo {
        common::info("fault-deep", "Fault: stack overflow")
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        descend(0);
        unreachable!()
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        descend(0);
        unreachable!()
    }
}

export!(Deep);
