//! End-to-end tests of the plugin runtime: the real plugins, built to
//! `wasm32-wasip2`, against fake platforms on loopback.

mod cli;
mod contracts;
mod describe;
mod faults;
mod intake;
mod registry;
mod scaffold;
mod shopware;
mod woocommerce;

/// What the platform plugins' intake tests share: pulls until nothing more
/// waits, and how often each order came.
mod pulls {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use statusport_core::domain::intake::{Inbound, IncomingOrder};
    use statusport_runtime::Runtime;
    use statusport_runtime::call::CallContext;
    use statusport_runtime::registry::LoadedPlugin;

    /// The orders of a pull's items; a status change fails the test (a
    /// platform whose pull brings orders only).
    pub fn orders(items: Vec<Inbound>) -> Vec<IncomingOrder> {
        items
            .into_iter()
            .map(|i| match i {
                Inbound::Order(o) => o,
                other => panic!("this platform's pull brings orders only: {other:?}"),
            })
            .collect()
    }

    /// Pulls until the plugin says nothing more waits; the orders of every
    /// batch in order, the number of batches, and the last cursor.
    pub async fn pull_all(
        rt: &Arc<Runtime>,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        mut cursor: Option<String>,
    ) -> (Vec<IncomingOrder>, usize, Option<String>) {
        let mut all = Vec::new();
        let mut batches = 0;
        loop {
            let batch = rt
                .pull(&plugin.callee(), ctx, cursor.as_deref())
                .await
                .result
                .expect("the pull answers");
            batches += 1;
            assert!(batches < 1000, "the pull never ends");
            all.extend(orders(batch.items));
            cursor = batch.next_cursor;
            if !batch.more {
                return (all, batches, cursor);
            }
        }
    }

    /// How often each platform order id came.
    pub fn counts(orders: &[IncomingOrder]) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for o in orders {
            *seen.entry(o.platform_order_id.clone()).or_insert(0) += 1;
        }
        seen
    }
}
