//! The BigCommerce plugin, built to `wasm32-wasip2`, against a fake
//! BigCommerce store whose every exchange is checked against BigCommerce's
//! published Orders V2 description.

use statusport_tests::fake::bigcommerce as fake;

mod check;
mod intake;
mod outbound;

/// What the tests share: the plugin loaded in a runtime, and a channel of
/// the fake store.
mod common {
    use std::sync::Arc;

    use statusport_runtime::Runtime;
    use statusport_runtime::call::CallContext;
    use statusport_runtime::registry::LoadedPlugin;
    use statusport_tests::{channel, load, plugin_path, root, runtime, test_limits};

    use crate::fake::{ACCESS_TOKEN, BigCommerce, WEBHOOK_SECRET};

    /// A runtime with the BigCommerce plugin loaded; its compiled code is
    /// kept in the tests' shared cache, so it is compiled once.
    pub async fn plugin() -> (Arc<Runtime>, LoadedPlugin) {
        let rt = runtime(
            test_limits(),
            Some(root().join("target").join("test-plugin-cache")),
        );
        let plugin = load(&rt, &plugin_path("bigcommerce")).await;
        (rt, plugin)
    }

    /// A channel of the fake store at `server_url`, with the store's access
    /// token and webhook secret.
    pub fn store_channel(server_url: &str) -> CallContext {
        channel(
            &BigCommerce::api_url(server_url),
            &[
                ("access-token", ACCESS_TOKEN),
                ("webhook-secret", WEBHOOK_SECRET),
            ],
        )
    }
}
