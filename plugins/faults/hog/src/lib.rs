//! Fault fixture: allocates until the host stops it.

#[path = "../../common.rs"]
mod common;

use statusport_plugin_sdk::{AdapterResult, Dimension, Guest, PlatformInfo, Shipment, export};

struct Hog;

fn hog() -> AdapterResult {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

impl Guest for Hog {
    fn describe() -> PlatformInfo {
        common::info("fault-hog", "Fault: memory hog")
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        hog()
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        hog()
    }
}

export!(Hog);
