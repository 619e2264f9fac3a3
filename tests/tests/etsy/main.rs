//! The Etsy plugin (`dist/plugins/etsy.wasm`) against a fake Etsy Open API
//! v3, checked against Etsy's published description, and a fake OAuth
//! token endpoint on a host of its own, as Etsy's is.

use statusport_tests::fake::etsy as fake;

mod auth;
mod cli;
mod intake;
mod push;
mod upload;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use statusport_core::domain::intake::{Inbound, IncomingOrder};
use statusport_core::domain::platform::{Origin, PlatformError};
use statusport_core::domain::shipment::{Package, Shipment};
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{CallError, Runtime};
use statusport_tests::fake::oauth::{self, TokenEndpoint, Tokens};
use statusport_tests::fake::{Server, serve};
use statusport_tests::{channel, load, plugin_path, root, runtime, test_limits};

use crate::fake::{Etsy, KEYSTRING, SHARED_SECRET, SHOP_ID};

/// Where Etsy's token endpoint answers, below its host.
pub const TOKEN_PATH: &str = "/v3/public/oauth/token";
/// The refresh token the channel starts with.
pub const REFRESH: &str = "refresh-0";
/// The webhook endpoint's signing secret (the Standard Webhooks
/// specification's example secret).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A fake Etsy, its token endpoint, the plugin and a channel for them.
pub struct World {
    pub rt: Arc<Runtime>,
    pub plugin: LoadedPlugin,
    pub shop: Server<Etsy>,
    pub oauth: Server<TokenEndpoint>,
    pub tokens: Tokens,
    pub ctx: CallContext,
}

/// Starts the token endpoint (rotating refresh tokens, a public client as
/// Etsy's) and the shop `make` builds, loads the plugin and makes a
/// channel with the shop's settings and `extra` config.
pub async fn world(make: impl FnOnce(Tokens) -> Etsy, extra: &[(&str, &str)]) -> World {
    // Compiled once for all the tests, in the tests' shared cache.
    let cache = root().join("target").join("test-plugin-cache");
    let rt = runtime(test_limits(), Some(cache));
    let (oauth, tokens) = oauth::start(TOKEN_PATH, KEYSTRING, None, REFRESH).await;
    tokens.0.lock().unwrap().rotate = true;
    let shop = serve(make(tokens.clone())).await;
    let mut plugin = load(&rt, &plugin_path("etsy")).await;
    // The fake token endpoint stands in for https://api.etsy.com, the
    // token host the plugin declares: a loopback port cannot be declared.
    let origin = Origin::parse(&oauth.url).unwrap();
    plugin.platform.extra_hosts.push(origin);
    let ctx = context(&shop.url, &oauth.url, extra);
    World {
        rt,
        plugin,
        shop,
        oauth,
        tokens,
        ctx,
    }
}

/// The channel's config for the fake shop and token endpoint, `extra`
/// added or replacing; the token endpoint's origin granted.
pub fn context(shop_url: &str, oauth_url: &str, extra: &[(&str, &str)]) -> CallContext {
    let token_url = format!("{oauth_url}{TOKEN_PATH}");
    let shop_id = SHOP_ID.to_string();
    let mut config: BTreeMap<&str, &str> = [
        ("keystring", KEYSTRING),
        ("shared-secret", SHARED_SECRET),
        ("refresh-token", REFRESH),
        ("shop-id", shop_id.as_str()),
        ("token-url", token_url.as_str()),
        ("webhook-secret", SECRET),
    ]
    .into_iter()
    .collect();
    config.extend(extra.iter().copied());
    let pairs: Vec<(&str, &str)> = config.into_iter().collect();
    let mut ctx = channel(shop_url, &pairs);
    Arc::get_mut(&mut ctx.channel)
        .expect("the channel is not shared yet")
        .granted_hosts
        .push(Origin::parse(oauth_url).unwrap());
    ctx
}

/// A shipment of one package per `(carrier, tracking number)`.
pub fn shipment(receipt: u64, packages: &[(&str, &str)]) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: receipt.to_string(),
        shipped_at: "2026-11-20T09:30:00Z".into(),
        packages: packages
            .iter()
            .map(|(carrier, number)| Package {
                carrier: (*carrier).into(),
                tracking_number: (*number).into(),
                tracking_url: None,
                lines: vec![],
            })
            .collect(),
    }
}

/// The platform's error of a failed call; any other outcome fails the test.
pub fn platform_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PlatformError {
    match result {
        Err(CallError::Platform(e)) => e,
        other => panic!("expected the platform's error, got {other:?}"),
    }
}

/// The orders of a pull's or a webhook's items, in order.
pub fn orders(items: &[Inbound]) -> Vec<&IncomingOrder> {
    items
        .iter()
        .filter_map(|i| match i {
            Inbound::Order(o) => Some(o),
            _ => None,
        })
        .collect()
}

impl World {
    /// Pulls until the plugin says nothing more waits: the orders of
    /// every batch in order, the number of batches and the last cursor.
    pub async fn pull_all(
        &self,
        mut cursor: Option<String>,
    ) -> (Vec<IncomingOrder>, usize, Option<String>) {
        let mut all = Vec::new();
        let mut batches = 0;
        loop {
            let batch = self
                .rt
                .pull(&self.plugin.callee(), &self.ctx, cursor.as_deref())
                .await
                .result
                .expect("the pull answers");
            batches += 1;
            assert!(batches < 100, "the pull never ends");
            assert!(
                batch.items.iter().all(|i| matches!(i, Inbound::Order(_))),
                "a pull brings receipts only"
            );
            all.extend(orders(&batch.items).into_iter().cloned());
            cursor = batch.next_cursor;
            if !batch.more {
                return (all, batches, cursor);
            }
        }
    }
}

/// How often each receipt came.
pub fn counts(orders: &[IncomingOrder]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for o in orders {
        *seen.entry(o.platform_order_id.clone()).or_insert(0) += 1;
    }
    seen
}
