//! The Adobe Commerce plugin (`dist/plugins/adobe-commerce.wasm`) against a
//! fake Adobe Commerce whose every exchange is checked against Adobe's
//! published description of the admin REST API.

// The fake also serves the demo: not every helper is used here.
use statusport_tests::fake::adobe_commerce as fake;

mod cli;
mod intake;
mod push;
mod upload;

use std::sync::Arc;

use statusport_core::domain::platform::PlatformError;
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{CallError, Runtime};
use statusport_tests::fake::{Server, serve};
use statusport_tests::{channel, load, plugin_path, root, runtime, test_limits};

use fake::{Magento, TOKEN};

/// The runtime and the built plugin; its compiled code is kept in the
/// tests' shared cache, so it is compiled once.
async fn plugin() -> (Arc<Runtime>, LoadedPlugin) {
    let rt = runtime(
        test_limits(),
        Some(root().join("target").join("test-plugin-cache")),
    );
    let plugin = load(&rt, &plugin_path("adobe-commerce")).await;
    (rt, plugin)
}

/// A channel on the fake's REST root with the integration's token.
fn context(url: &str) -> CallContext {
    channel(&format!("{url}/rest/default"), &[("access-token", TOKEN)])
}

async fn shop(magento: Magento) -> (Server<Magento>, CallContext) {
    let server = serve(magento).await;
    let ctx = context(&server.url);
    (server, ctx)
}

/// The requests that changed something: every one but GETs, as
/// `METHOD /path`.
fn writes(server: &Server<Magento>) -> Vec<String> {
    server
        .received()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The platform's error of a call, or a panic naming what came instead.
fn platform_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PlatformError {
    match result {
        Err(CallError::Platform(e)) => e,
        other => panic!("expected the platform's error, got {other:?}"),
    }
}
