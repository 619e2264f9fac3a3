//! What the engine's tests run on in place of the plugin runtime: the
//! bundled plugins' declarations as their `describe` snapshots hold them,
//! checked as the runtime checks a live answer, and the rule files the
//! tests import. The core's tests never link wasmtime; the plugins suite
//! (`tests/tests/plugins/describe.rs`) keeps the snapshots equal to what
//! the built plugins declare.

use std::collections::BTreeMap;
use std::sync::Arc;

use statusport_core::domain::platform::{self, Platform, RawPlatformInfo};
use statusport_core::ports::Platforms;

/// Each bundled plugin's `describe` answer, by platform id.
const SNAPSHOTS: [(&str, &str); 3] = [
    ("generic", include_str!("../platforms/generic.json")),
    ("woocommerce", include_str!("../platforms/woocommerce.json")),
    ("shopware6", include_str!("../platforms/shopware6.json")),
];

/// Goods received wake a received order of the generic plugin.
pub const IN_STOCK_RULE: &str = include_str!("../rules/in-stock.toml");

/// Rules that loop for generic orders over 50 EUR only.
pub const LOOP_FOR_LARGE_ORDERS: &str = include_str!("../rules/loop-for-large-orders.toml");

/// What bundled plugin `id` answers to `describe`, unchecked.
pub fn describe_answer(id: &str) -> RawPlatformInfo {
    let (_, json) = SNAPSHOTS
        .iter()
        .find(|(known, _)| *known == id)
        .unwrap_or_else(|| panic!("no describe snapshot of plugin {id}"));
    serde_json::from_str(json).unwrap_or_else(|e| {
        panic!("host/core/tests/platforms/{id}.json is not a describe answer: {e}")
    })
}

/// The three bundled plugins' platforms, each validated like a live
/// `describe`.
pub fn platforms() -> Arc<dyn Platforms> {
    let platforms: BTreeMap<String, Arc<Platform>> = SNAPSHOTS
        .iter()
        .map(|(id, _)| {
            let checked = platform::validate(describe_answer(id))
                .unwrap_or_else(|e| panic!("the snapshot of plugin {id} is refused: {e}"));
            ((*id).to_owned(), Arc::new(checked))
        })
        .collect();
    Arc::new(platforms)
}
