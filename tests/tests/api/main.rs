//! The HTTP API end to end: a real `Server` (store, plugins, engine,
//! outbox, API) on loopback, called over HTTP as a shop, an ERP or an
//! operator would.

mod access;
mod cli;
mod config;
mod fuzz;
mod intake;
mod numbering;
mod openapi;
mod ops;
mod orders;
mod parsers;
mod safety;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use statusport::config::Config;
use statusport::server::Server;
use statusport_tests::fake::shopware::Shopware;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::fake::{Server as Fake, serve};

/// The fake Shopware's orders, with Shopware ids (its Admin API's path
/// parameters are 32 hex digits): "sw-1" and "sw-2" in hex.
pub const SW1: &str = "73772d31000000000000000000000000";
pub const SW2: &str = "73772d32000000000000000000000000";

/// A running host with channels `gen` (generic plugin), `woo` (a fake
/// WooCommerce) and `sw` (a fake Shopware), and an admin token.
pub struct Api {
    pub server: Option<Server>,
    pub url: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub woo: Fake<WooCommerce>,
    pub sw: Fake<Shopware>,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &std::path::Path) -> Config {
    let plugins = statusport_tests::plugin_dir(dir, &[]);
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        plugin_dir: plugins,
        ..Config::default()
    };
    config.plugins.cache_dir = Some(
        statusport_tests::root()
            .join("target")
            .join("test-plugin-cache"),
    );
    config.outbox.backoff_base_ms = 20;
    config.outbox.backoff_max_ms = 200;
    config
}

impl Api {
    pub async fn start() -> Api {
        Api::start_with(|_| {}).await
    }

    pub async fn start_with(change: impl FnOnce(&mut Config)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        change(&mut config);
        let server = Server::start(&config).await.unwrap();
        let admin = std::fs::read_to_string(server.admin_token_file.as_ref().unwrap())
            .unwrap()
            .trim()
            .to_owned();
        let woo = serve(WooCommerce::new(&["w-1", "w-2", "w-3"])).await;
        let sw = serve(Shopware::new(&[SW1, SW2])).await;
        let api = Api {
            url: format!("http://{}", server.addr),
            server: Some(server),
            admin,
            http: reqwest::Client::new(),
            woo,
            sw,
            dir,
        };
        let channels = [
            json!({"id": "gen", "name": "Generic", "plugin": "generic"}),
            json!({"id": "woo", "name": "Teapot Shop", "plugin": "woocommerce",
                "base_url": api.woo.url,
                "config": {"consumer-key": "ck_test", "consumer-secret": "cs_test"}}),
            json!({"id": "sw", "name": "Shopware", "plugin": "shopware6",
                "base_url": api.sw.url,
                "config": {"client-id": "SWIA-TEST", "client-secret": "secret"}}),
            json!({"id": "appr", "name": "Needs approval", "plugin": "generic",
                "requires_approval": true}),
        ];
        for channel in channels {
            let (status, body) = api.post("/api/channels", &api.admin, &channel).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        // Customer ids are per channel: each channel's c-1 is its own.
        for channel in ["gen", "woo", "sw", "appr"] {
            let (status, body) = api
                .call(
                    Method::PUT,
                    &format!("/api/customers/c-1?channel={channel}"),
                    &api.admin,
                    Some(&json!({"id": "c-1", "name": "Ada Lovelace", "email": "ada@example.com"})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        api
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Imports a TOML rule file as the admin; the answer's status.
    pub async fn import_rules(&self, toml: impl Into<String>) -> StatusCode {
        self.http
            .post(format!("{}/api/rules/import", self.url))
            .bearer_auth(&self.admin)
            .header("content-type", "application/toml")
            .body(toml.into())
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A token of `role` (for connectors, on `channel`).
    pub async fn token(&self, owner: &str, role: &str, channel: Option<&str>) -> String {
        let (status, body) = self
            .post(
                "/api/tokens",
                &self.admin,
                &json!({"owner": owner, "role": role, "channel": channel}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Creates an order of one teapot; returns its id.
    pub async fn order(&self, channel: &str, platform_id: &str) -> u64 {
        let (status, body) = self
            .post("/api/orders", &self.admin, &new_order(channel, platform_id))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().unwrap()
    }

    /// Waits until `check` holds for what `path` answers.
    pub async fn wait_for(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (_, body) = self.get(path, &self.admin).await;
            if check(&body) {
                return body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{path} never got there: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown(Duration::from_secs(5)).await.unwrap();
        }
    }
}

pub fn new_order(channel: &str, platform_id: &str) -> Value {
    json!({
        "channel": channel,
        "platform_order_id": platform_id,
        "customer": "c-1",
        "lines": [{"article": "A-100", "name": "Teapot", "quantity": 2, "unit_price": "59.50 EUR"}],
        "currency": "EUR",
        "payment_method": "card",
    })
}

/// The problem's `type` slug: `urn:statusport:problem:<slug>`.
pub fn problem(body: &Value) -> &str {
    body["type"]
        .as_str()
        .and_then(|t| t.strip_prefix("urn:statusport:problem:"))
        .unwrap_or("<not a problem>")
}
