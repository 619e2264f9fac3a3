//! Fault fixture: recurses until a stack runs out. `push-status` exhausts
//! the engine's wasm stack; `upload-shipment` exhausts the Rust guest's
//! shadow stack in linear memory, which shows as an out-of-bounds access.

#[path = "../../common.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use statusport_plugin_sdk::{AdapterResult, Dimension, Guest, PlatformInfo, Shipment, export};

struct Deep;

/// Never reached; read at run time so the recursion cannot be folded away.
static BOTTOM: AtomicU64 = AtomicU64::new(u64::MAX);

/// Keeps everything in wasm locals: only the engine's stack grows.
#[inline(never)]
fn descend_locals(depth: u64) -> u64 {
    if depth == BOTTOM.load(Ordering::Relaxed) {
        return 0;
    }
    descend_locals(depth + 1)
        .wrapping_mul(3)
        .wrapping_add(depth)
}

/// Keeps an array on the shadow stack in linear memory.
#[inline(never)]
fn descend_memory(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    if depth == BOTTOM.load(Ordering::Relaxed) {
        return frame[1];
    }
    descend_memory(depth + 1).wrapping_add(frame[3])
}

impl Guest for Deep {
    fn describe() -> PlatformInfo {
        common::info("fault-deep", "Fault: stack overflow")
    }

    fn push_status(_: String, _: Dimension, _: String, _: String, _: String) -> AdapterResult {
        descend_locals(0);
        unreachable!()
    }

    fn upload_shipment(_: Shipment, _: String) -> AdapterResult {
        descend_memory(0);
        unreachable!()
    }
}

export!(Deep);
