//! The eBay plugin (`dist/plugins/ebay.wasm`) against the fake eBay and a
//! fake eBay token endpoint, every exchange with the fake eBay checked
//! against eBay's published Sell Fulfillment description.

use statusport_tests::fake::ebay as fake;

mod adapter;
mod check;
mod intake;

use std::sync::Arc;

use statusport_core::domain::platform::Origin;
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{ChannelContext, Runtime};
use statusport_tests::fake::oauth::{self, TokenEndpoint, Tokens};
use statusport_tests::fake::{Server, serve};
use statusport_tests::{channel, load, plugin_path, root, runtime, test_limits};

use fake::Ebay;

pub const CLIENT_ID: &str = "TeapotEm-statuspo-PRD-4a1b2c3d4-5e6f7a8b";
pub const CLIENT_SECRET: &str = "PRD-a1b2c3d4e5f6-7a8b-9c0d-1e2f-3a4b";
pub const REFRESH_TOKEN: &str = "v^1.1#i^1#r^1#p^3#I^3#f^0#t^Ul4xMF8xOjEyMzQ=";
/// Where eBay's token endpoint lives (on api.ebay.com, beside the API).
pub use fake::TOKEN_PATH;

/// The plugin loaded in a runtime, a fake eBay and its token endpoint, and
/// a channel for them.
pub struct Setup {
    pub rt: Arc<Runtime>,
    pub plugin: LoadedPlugin,
    pub ebay: Server<Ebay>,
    pub token: Server<TokenEndpoint>,
    pub tokens: Tokens,
    pub ctx: CallContext,
}

/// The plugin against `ebay`, with the channel's config plus `extra`
/// (which may override a field).
pub async fn setup_with(ebay: Ebay, extra: &[(&str, &str)]) -> Setup {
    let rt = runtime(
        test_limits(),
        Some(root().join("target").join("test-plugin-cache")),
    );
    let mut plugin = load(&rt, &plugin_path("ebay")).await;
    let (token, tokens) =
        oauth::start(TOKEN_PATH, CLIENT_ID, Some(CLIENT_SECRET), REFRESH_TOKEN).await;
    // The fake token endpoint stands in for eBay's, whose origin
    // (https://api.ebay.com) the plugin declares: a loopback port cannot be
    // declared ahead, so the test adds it to the declaration and grants it.
    let origin = Origin::parse(&token.url).expect("the token endpoint has an origin");
    plugin.platform.extra_hosts.push(origin.clone());
    let ebay = serve(ebay.accepting(tokens.clone())).await;
    let token_url = format!("{}{TOKEN_PATH}", token.url);
    let mut config = vec![
        ("client-id", CLIENT_ID),
        ("client-secret", CLIENT_SECRET),
        ("refresh-token", REFRESH_TOKEN),
        ("token-url", token_url.as_str()),
    ];
    for (name, value) in extra {
        config.retain(|(n, _)| n != name);
        config.push((name, value));
    }
    let base = format!("{}{}", ebay.url, fake::BASE_PATH);
    let mut ctx = channel(&base, &config);
    ctx.channel = Arc::new(ChannelContext {
        granted_hosts: vec![origin],
        ..(*ctx.channel).clone()
    });
    Setup {
        rt,
        plugin,
        ebay,
        token,
        tokens,
        ctx,
    }
}

pub async fn setup(ebay: Ebay) -> Setup {
    setup_with(ebay, &[]).await
}

/// eBay's token endpoint is on the API's own host: a channel whose token URL
/// is on its base URL's origin needs no extra host, and the token request
/// is not held to the Fulfillment API's description.
#[tokio::test]
async fn a_token_endpoint_on_the_apis_own_host_needs_no_grant() {
    let rt = runtime(
        test_limits(),
        Some(root().join("target").join("test-plugin-cache")),
    );
    let plugin = load(&rt, &plugin_path("ebay")).await;
    let ebay =
        serve(Ebay::seeded(3).with_token_endpoint(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)).await;
    let token_url = format!("{}{TOKEN_PATH}", ebay.url);
    let ctx = channel(
        &format!("{}{}", ebay.url, fake::BASE_PATH),
        &[
            ("client-id", CLIENT_ID),
            ("client-secret", CLIENT_SECRET),
            ("refresh-token", REFRESH_TOKEN),
            ("token-url", &token_url),
        ],
    );
    let batch = rt
        .pull(&plugin.callee(), &ctx, None)
        .await
        .result
        .expect("the pull answers");
    assert_eq!(batch.items.len(), 3);
    let paths: Vec<String> = ebay.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[0], TOKEN_PATH);
    assert_eq!(ebay.state().tokens.grants(), 1);
    // Dropping the fake asserts that every exchange it checked conformed.
}
