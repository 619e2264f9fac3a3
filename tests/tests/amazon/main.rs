//! The Amazon plugin (`dist/plugins/amazon.wasm`) against a fake Selling
//! Partner API and a fake Login with Amazon token endpoint, each on a
//! loopback port of its own; every exchange with the fake Amazon is checked
//! against Amazon's published description of Orders v0.

use statusport_tests::fake::amazon as fake;

mod auth;
mod cli;
mod intake;
mod shipments;

use std::sync::Arc;

use statusport_core::domain::platform::{Origin, PlatformError};
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{CallError, ChannelContext, Runtime};
use statusport_tests::fake::Server;
use statusport_tests::fake::oauth::{TokenEndpoint, Tokens};
use statusport_tests::{channel, load, plugin_path, root, runtime, test_limits};

use fake::Amazon;

/// A runtime with the plugin, the fakes and a channel that reaches both.
pub struct Setup {
    pub rt: Arc<Runtime>,
    pub plugin: LoadedPlugin,
    pub amazon: Server<Amazon>,
    pub lwa: Server<TokenEndpoint>,
    pub tokens: Tokens,
    pub ctx: CallContext,
}

/// The plugin against `amazon`, with the channel config of [`fake::config`]
/// and `overrides` on top.
pub async fn setup_with(
    amazon: impl FnOnce(Tokens) -> Amazon,
    overrides: &[(&str, &str)],
) -> Setup {
    let (amazon, lwa) = fake::start(amazon).await;
    let tokens = amazon.state().tokens.clone();
    // Compiled once and kept by the file's hash, for every test.
    let rt = runtime(
        test_limits(),
        Some(root().join("target").join("test-plugin-cache")),
    );
    let mut plugin = load(&rt, &plugin_path("amazon")).await;
    // The plugin declares Login with Amazon's origin (https://api.amazon.com)
    // as its extra host; the fake endpoint stands in for it on a loopback
    // port, which the plugin declares here and the channel is granted.
    let origin = Origin::parse(&lwa.url).expect("the fake's URL is an origin");
    plugin.platform.extra_hosts.push(origin.clone());
    let mut config: Vec<(&str, String)> = fake::config(&lwa.url)
        .into_iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
        .collect();
    config.extend(overrides.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let pairs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut ctx = channel(&amazon.url, &pairs);
    ctx.channel = Arc::new(ChannelContext {
        granted_hosts: vec![origin],
        ..(*ctx.channel).clone()
    });
    Setup {
        rt,
        plugin,
        amazon,
        lwa,
        tokens,
        ctx,
    }
}

pub async fn setup(amazon: impl FnOnce(Tokens) -> Amazon) -> Setup {
    setup_with(amazon, &[]).await
}

impl Setup {
    /// The requests the fake Amazon received, as `METHOD /path`.
    pub fn calls(&self) -> Vec<String> {
        self.amazon
            .received()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// An order id in Amazon's 3-7-7 form.
pub const ORDER: &str = "302-4000037-1007919";

/// A package of `carrier` with tracking number `tracking` and `lines`
/// (`(order item id, quantity)`; none: the whole order).
pub fn package(carrier: &str, tracking: &str, lines: &[(&str, u32)]) -> Package {
    Package {
        carrier: carrier.into(),
        tracking_number: tracking.into(),
        tracking_url: None,
        lines: lines
            .iter()
            .map(|(id, q)| PackageLine {
                line_id: (*id).into(),
                quantity: *q,
            })
            .collect(),
    }
}

pub fn shipment(id: &str, order: &str, packages: Vec<Package>) -> Shipment {
    Shipment {
        id: id.into(),
        platform_order_id: order.into(),
        shipped_at: "2026-11-22T14:05:00Z".into(),
        packages,
    }
}

/// The platform's error of a call that failed, or the test fails.
pub fn platform_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PlatformError {
    match result {
        Err(CallError::Platform(e)) => e,
        other => panic!("expected the platform's error, got {other:?}"),
    }
}
