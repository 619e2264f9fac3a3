//! The demo `cargo xtask demo` runs: a fake WooCommerce and a fake
//! Shopware on loopback, the real `statusport serve` on the embedded store
//! in `demo-data/`, a channel for the generic, WooCommerce and Shopware
//! plugins, a polled shop and a polled eBay seller, the shipped rule sets,
//! sample orders and a day of events — all through the HTTP API — then a
//! report of what happened. The host keeps running until Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use statusport_tests::fake::ebay::{self, Ebay};
use statusport_tests::fake::shopware::Shopware;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::fake::{Platform, Server as Fake, serve};

/// The rules of the two platform channels; the generic channel gets the
/// shipped rule sets from `host/rulesets/`.
const PLATFORM_RULES: &str = r#"
[[rule]]
id = "shop-paid"
description = "WooCommerce: a payment makes the order processing in the shop, with an invoice and a mail"
channels = ["shop"]
on = ["payment_matched"]
from = ["order:pending", "order:on-hold"]
to = "order:processing"
then = { push_status = true, issue_invoice = true, email = "payment-received" }
once_per_order = true

[[rule]]
id = "shop-shipped"
description = "WooCommerce: a shipment with a tracking number goes to the shop, the order is completed"
channels = ["shop"]
on = ["shipment_done"]
when = { tracked_shipment_done = true }
to = "order:completed"
then = { upload_shipments = true, push_status = true, email = "shipped" }

[[rule]]
id = "market-paid"
description = "Shopware: a payment marks the transaction paid in the shop"
channels = ["market"]
on = ["payment_matched"]
from = ["payment:open"]
to = "payment:paid"
then = { push_status = true, email = "payment-received" }
once_per_order = true

[[rule]]
id = "market-in-progress"
description = "Shopware: a paid order is in progress"
channels = ["market"]
on = ["payment_status_changed"]
from = ["order:open"]
when = { payment_status = ["paid"] }
to = "order:in_progress"
then = { push_status = true }

[[rule]]
id = "market-shipped"
description = "Shopware: the tracking code goes onto the delivery, which ships"
channels = ["market"]
on = ["shipment_done"]
when = { tracked_shipment_done = true }
to = "delivery:shipped"
then = { upload_shipments = true, email = "shipped" }
"#;

/// The marketplace channel's rule: eBay sets its statuses itself, so a
/// tracked shipment goes up as a shipping fulfillment and nothing is pushed.
const MARKETPLACE_RULES: &str = r#"
[[rule]]
id = "ebay-shipped"
description = "eBay: a tracked shipment goes up as a shipping fulfillment; eBay moves the order itself"
channels = ["ebay"]
on = ["shipment_done"]
when = { tracked_shipment_done = true }
then = { upload_shipments = true, email = "shipped" }
"#;

/// The demo seller's eBay application and the seller's consent.
const EBAY_CLIENT_ID: &str = "TeapotEm-statuspo-PRD-demo";
const EBAY_CLIENT_SECRET: &str = "PRD-demo-secret";
const EBAY_REFRESH_TOKEN: &str = "v^1.1#i^1#r^1#demo";

const CUSTOMERS: &[(&str, &str, &str)] = &[
    ("c-ada", "Ada Lovelace", "ada@example.com"),
    ("c-alan", "Alan Turing", "alan@example.com"),
    ("c-grace", "Grace Hopper", "grace@example.com"),
    ("c-edsger", "Edsger Dijkstra", "edsger@example.com"),
];

/// (channel, platform order id, customer, payment method, article, name,
/// quantity, unit price)
type SampleOrder = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u32,
    &'static str,
);

const ORDERS: &[SampleOrder] = &[
    (
        "erp",
        "ERP-1001",
        "c-ada",
        "card",
        "TEA-100",
        "Teapot",
        1,
        "49.00 EUR",
    ),
    (
        "erp",
        "ERP-1002",
        "c-alan",
        "bank_transfer",
        "CUP-200",
        "Cup",
        6,
        "7.50 EUR",
    ),
    (
        "erp",
        "ERP-1003",
        "c-grace",
        "bank_transfer",
        "TEA-110",
        "Tea tin",
        3,
        "12.00 EUR",
    ),
    (
        "erp",
        "ERP-1004",
        "c-edsger",
        "cash_on_delivery",
        "TEA-100",
        "Teapot",
        2,
        "49.00 EUR",
    ),
    (
        "erp",
        "ERP-1005",
        "c-ada",
        "card",
        "KET-300",
        "Kettle",
        1,
        "89.00 EUR",
    ),
    (
        "shop",
        "3001",
        "c-grace",
        "card",
        "TEA-100",
        "Teapot",
        1,
        "49.00 EUR",
    ),
    (
        "shop", "3002", "c-alan", "card", "CUP-200", "Cup", 4, "7.50 EUR",
    ),
    (
        "shop",
        "3003",
        "c-edsger",
        "card",
        "KET-300",
        "Kettle",
        1,
        "89.00 EUR",
    ),
    (
        "market",
        "70010000000000000000000000000000",
        "c-ada",
        "card",
        "TEA-110",
        "Tea tin",
        2,
        "12.00 EUR",
    ),
    (
        "market",
        "70020000000000000000000000000000",
        "c-grace",
        "card",
        "TEA-100",
        "Teapot",
        1,
        "49.00 EUR",
    ),
];

struct Host {
    child: Child,
}

impl Drop for Host {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // SIGTERM: the host finishes its jobs in flight and flushes.
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn import_rules(&self, text: String) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}/api/rules/import", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/toml")
            .body(text)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("importing rules: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }
}

/// A second WooCommerce shop whose orders come in by themselves: the
/// channel polls it, a cancellation in its back office comes back, a signed
/// webhook is applied and a forged one refused.
async fn intake(api: &Api) -> anyhow::Result<Fake<WooCommerce>> {
    say("Intake: a shop whose orders come in by polling and webhooks");
    let outlet = serve(WooCommerce::seeded(12)).await;
    api.call(
        reqwest::Method::PUT,
        "/api/channels/outlet",
        Some(
            &json!({"id": "outlet", "name": "Teapot outlet (polled)", "plugin": "woocommerce",
            "base_url": outlet.url,
            "config": {"consumer-key": "ck_test", "consumer-secret": "cs_test",
                "webhook-secret": "demo-webhook-secret"},
            "poll_interval_secs": 2}),
        ),
    )
    .await?;
    println!("   channel outlet polls {} every 2 s", outlet.url);
    let orders = wait_until(api, "/api/orders?channel=outlet&limit=100", |v| {
        v["orders"].as_array().map_or(0, Vec::len) >= 12
    })
    .await?;
    println!(
        "   {} orders came in by themselves",
        orders["orders"].as_array().map_or(0, Vec::len)
    );
    let id_of = |platform_id: &str| {
        orders["orders"]
            .as_array()
            .and_then(|a| a.iter().find(|o| o["platform_order_id"] == platform_id))
            .and_then(|o| o["id"].as_u64())
            .unwrap_or_default()
    };
    outlet.state().cancel("4");
    let cancelled = wait_until(api, &format!("/api/orders/{}", id_of("4")), |o| {
        o["statuses"]["order"]["code"] == "cancelled"
    })
    .await?;
    println!(
        "   order 4 cancelled in the shop's back office → {} here (set by {}), not pushed back",
        cancelled["statuses"]["order"]["code"]
            .as_str()
            .unwrap_or_default(),
        cancelled["statuses"]["order"]["set_by"]["kind"]
            .as_str()
            .unwrap_or_default()
    );
    outlet.state().ship("7");
    let delivery = outlet
        .state()
        .webhook("7", "order.updated", "demo-webhook-secret");
    let hook = format!("{}/hooks/outlet", api.url);
    let signed = statusport_tests::delivery::post(&hook, &delivery).await;
    let again = statusport_tests::delivery::post(&hook, &delivery).await;
    let forged = statusport_tests::delivery::post(
        &hook,
        &delivery.with_header("X-WC-Webhook-Signature", "Zm9yZ2Vk"),
    )
    .await;
    let seven = api.get(&format!("/api/orders/{}", id_of("7"))).await?;
    println!(
        "   webhook order.updated for order 7: {signed} → {}; the same delivery again: {again}, nothing changed; a forged signature: {forged}",
        seven["statuses"]["order"]["code"]
            .as_str()
            .unwrap_or_default()
    );
    let state = api.get("/api/channels/outlet/intake").await?;
    println!(
        "   GET /api/channels/outlet/intake: created {}, changed {}, last error: {} ({})",
        state["imported"]["created"],
        state["imported"]["changed"],
        state["last_error"]["kind"].as_str().unwrap_or("none"),
        state["last_error"]["during"].as_str().unwrap_or("-")
    );
    Ok(outlet)
}

/// A marketplace whose orders come in by polling: eBay, whose statuses are
/// its own. A tracked shipment goes up as a shipping fulfillment, and the
/// fulfillment status eBay then sets comes back by the next poll.
async fn marketplace(api: &Api) -> anyhow::Result<Fake<Ebay>> {
    say("A marketplace: eBay orders come in by polling, a shipment goes back");
    let ebay = serve(Ebay::seeded(6).with_token_endpoint(
        EBAY_CLIENT_ID,
        EBAY_CLIENT_SECRET,
        EBAY_REFRESH_TOKEN,
    ))
    .await;
    api.call(
        reqwest::Method::PUT,
        "/api/channels/ebay",
        Some(
            &json!({"id": "ebay", "name": "Teapot Emporium on eBay (polled)", "plugin": "ebay",
            "base_url": format!("{}{}", ebay.url, ebay::BASE_PATH),
            "config": {"client-id": EBAY_CLIENT_ID, "client-secret": EBAY_CLIENT_SECRET,
                "refresh-token": EBAY_REFRESH_TOKEN,
                "token-url": format!("{}{}", ebay.url, ebay::TOKEN_PATH)},
            "poll_interval_secs": 2}),
        ),
    )
    .await?;
    let imported = api.import_rules(MARKETPLACE_RULES.into()).await?;
    println!(
        "   channel ebay polls {} every 2 s; rule {}",
        ebay.url,
        list(&imported["rules"])
    );
    let orders = wait_until(api, "/api/orders?channel=ebay&limit=100", |v| {
        v["orders"].as_array().map_or(0, Vec::len) >= 6
    })
    .await?;
    let orders = orders["orders"].as_array().cloned().unwrap_or_default();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for o in &orders {
        let status = o["statuses"]["delivery"]["code"]
            .as_str()
            .unwrap_or("none")
            .to_owned();
        *by_status.entry(status).or_default() += 1;
    }
    println!(
        "   {} eBay orders came in by themselves, fulfillment status: {}",
        orders.len(),
        by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Some(order) = orders
        .iter()
        .find(|o| o["statuses"]["delivery"]["code"] == "NOT_STARTED")
    else {
        bail!("no eBay order waits to be shipped");
    };
    let id = order["id"].as_u64().unwrap_or_default();
    let platform_id = order["platform_order_id"].as_str().unwrap_or_default();
    let tracking = "00340434161094099001";
    api.post(
        &format!("/api/orders/{id}/events"),
        &json!({"id": "ebay-ship-1", "event": {"type": "shipment_added",
            "shipment_id": "S-EBAY-1", "done": true,
            "packages": [{"carrier": "dhl", "tracking_number": tracking,
                "tracking_url": format!("https://www.dhl.de/de/privatkunden.html?piececode={tracking}")}]}}),
    )
    .await?;
    let shipped = wait_until(api, &format!("/api/orders/{id}"), |o| {
        o["statuses"]["delivery"]["code"] == "FULFILLED"
    })
    .await?;
    let fulfillments = ebay
        .state()
        .orders
        .get(platform_id)
        .map_or(0, |o| o.fulfillments.len());
    println!(
        "   order {platform_id}: shipment S-EBAY-1 (DHL {tracking}) uploaded as {fulfillments} shipping fulfillment → eBay set FULFILLED → here {} (set by {}), nothing pushed",
        shipped["statuses"]["delivery"]["code"]
            .as_str()
            .unwrap_or_default(),
        shipped["statuses"]["delivery"]["set_by"]["kind"]
            .as_str()
            .unwrap_or_default()
    );
    Ok(ebay)
}

/// Polls `path` until `check` holds, for up to 30 seconds.
async fn wait_until(
    api: &Api,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        let value = api.get(path).await?;
        if check(&value) {
            return Ok(value);
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{path} did not get there in 30 s: {value}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn say(text: &str) {
    println!("\n== {text}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = statusport_tests::root();
    let bin = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/statusport"));
    let data = root.join("demo-data");
    let listen = std::env::var("STATUSPORT_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());

    say("Starting a fake WooCommerce and a fake Shopware on loopback");
    let woo = serve(WooCommerce::new(&["3001", "3002", "3003"])).await;
    let sw = serve(Shopware::new(&[
        "70010000000000000000000000000000",
        "70020000000000000000000000000000",
    ]))
    .await;
    println!(
        "   WooCommerce at {}\n   Shopware    at {}",
        woo.url, sw.url
    );

    say(&format!(
        "Starting `statusport serve` on http://{listen}, store in {}",
        data.display()
    ));
    if data.exists() {
        std::fs::remove_dir_all(&data)
            .with_context(|| format!("cannot clear {} from an earlier demo", data.display()))?;
    }
    std::fs::create_dir_all(&data)?;
    let config = data.join("statusport.toml");
    std::fs::write(
        &config,
        format!(
            "# The demo's configuration: see README.md, \"The config file\".\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nplugin_dir = \"{}\"\n\n[plugins]\ncache_dir = \"{}\"\n\n[outbox]\nbackoff_base_ms = 500\n\n[mail]\nfrom = \"Teapot Trading <orders@teapot.example>\"\n",
            data.display(),
            root.join("dist/plugins").display(),
            root.join("statusport-data/compiled").display(),
        ),
    )?;
    let log = std::fs::File::create(data.join("serve.log"))?;
    let child = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&config)
        .env("STATUSPORT_LOG", "info")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut host = Host { child };
    let http = reqwest::Client::new();
    let url = format!("http://{listen}");
    wait_healthy(&http, &url, &mut host, &data).await?;
    let token = std::fs::read_to_string(data.join("admin-token"))?
        .trim()
        .to_owned();
    let api = Api {
        http,
        url: url.clone(),
        token: token.clone(),
    };
    println!("   healthy; the first start wrote an admin token to demo-data/admin-token");

    say("Channels: the generic plugin, WooCommerce and Shopware 6");
    for channel in [
        json!({"id": "erp", "name": "Back office (generic)", "plugin": "generic"}),
        json!({"id": "shop", "name": "Teapot Trading web shop", "plugin": "woocommerce",
            "base_url": woo.url, "config": {"consumer-key": "ck_test", "consumer-secret": "cs_test"}}),
        json!({"id": "market", "name": "Teapot marketplace", "plugin": "shopware6",
            "base_url": sw.url, "config": {"client-id": "SWIA-TEST", "client-secret": "secret"}}),
    ] {
        let made = api.post("/api/channels", &channel).await?;
        println!(
            "   {:<7} {} ({})",
            made["id"].as_str().unwrap_or_default(),
            made["name"].as_str().unwrap_or_default(),
            made["plugin"].as_str().unwrap_or_default()
        );
    }

    say("Rules: the shipped rule sets (generic channel) and the platform channels' rules");
    let mut sets: Vec<PathBuf> = std::fs::read_dir(root.join("host/rulesets"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    sets.sort();
    for set in &sets {
        let imported = api.import_rules(std::fs::read_to_string(set)?).await?;
        println!("   {:<22} {}", file_name(set), list(&imported["rules"]));
    }
    let imported = api.import_rules(PLATFORM_RULES.into()).await?;
    println!("   {:<22} {}", "shop and market", list(&imported["rules"]));

    say("Customers and sample orders");
    // Customer ids are per channel: each shop's customer is its own.
    for (id, name, email) in CUSTOMERS {
        let mut channels: Vec<&str> = ORDERS.iter().filter(|o| o.2 == *id).map(|o| o.0).collect();
        channels.sort_unstable();
        channels.dedup();
        for channel in channels {
            api.call(
                reqwest::Method::PUT,
                &format!("/api/customers/{id}?channel={channel}"),
                Some(&json!({"id": id, "name": name, "email": email})),
            )
            .await?;
        }
    }
    let mut ids = Vec::new();
    for (channel, platform_id, customer, method, article, name, quantity, price) in ORDERS {
        let order = api
            .post(
                "/api/orders",
                &json!({
                    "channel": channel, "platform_order_id": platform_id, "customer": customer,
                    "lines": [{"article": article, "name": name, "quantity": quantity, "unit_price": price}],
                    "currency": "EUR", "payment_method": method, "shipping": "4.90 EUR",
                }),
            )
            .await?;
        ids.push((
            order["id"].as_u64().unwrap_or_default(),
            *channel,
            *platform_id,
            *method,
        ));
    }
    println!("   {} orders entered", ids.len());

    say("A day of events");
    let id_of = |platform_id: &str| {
        ids.iter()
            .find(|(_, _, p, _)| *p == platform_id)
            .map(|(id, ..)| *id)
            .unwrap_or_default()
    };
    let event = |platform_id: &'static str, what: Value| {
        let path = format!("/api/orders/{}/events", id_of(platform_id));
        (platform_id, path, what)
    };
    let mut day: Vec<(&str, String, Value)> = Vec::new();
    // 09:00 payments come in: card callbacks, one bank transfer matched.
    for p in [
        "ERP-1001",
        "ERP-1005",
        "3001",
        "3002",
        "3003",
        "70010000000000000000000000000000",
        "70020000000000000000000000000000",
        "ERP-1002",
    ] {
        day.push(event(p, json!({"id": format!("pay-{p}"), "event": {"type": "payment_matched", "reference": format!("PAY-{p}")}})));
    }
    // 11:00 the warehouse picks and prints packing slips.
    for p in [
        "ERP-1001",
        "ERP-1002",
        "ERP-1004",
        "3001",
        "3002",
        "70010000000000000000000000000000",
    ] {
        day.push(event(
            p,
            json!({"id": format!("pick-{p}"), "event": {"type": "picked"}}),
        ));
        day.push(event(
            p,
            json!({"id": format!("slip-{p}"), "event": {"type": "packing_slip_printed"}}),
        ));
    }
    // 15:00 parcels leave with tracking numbers.
    for (n, p) in [
        "ERP-1001",
        "ERP-1002",
        "3001",
        "3002",
        "70010000000000000000000000000000",
    ]
    .iter()
    .enumerate()
    {
        let tracking = format!("00340434161094{:06}", 42000 + n);
        day.push(event(p, json!({"id": format!("ship-{p}"), "event": {"type": "shipment_added",
            "shipment_id": format!("S-{p}"), "done": true,
            "packages": [{"carrier": "dhl", "tracking_number": tracking,
                "tracking_url": format!("https://www.dhl.de/de/privatkunden.html?piececode={tracking}")}]}})));
    }
    for (p, path, body) in &day {
        let outcome = api.post(path, body).await?;
        let changes: Vec<String> = outcome["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["change"]["type"] == "status")
            .map(|e| {
                format!(
                    "{} → {}",
                    e["change"]["dimension"].as_str().unwrap_or_default(),
                    e["change"]["after"].as_str().unwrap_or_default()
                )
            })
            .collect();
        println!(
            "   {:<9} {:<22} {}",
            p,
            body["event"]["type"].as_str().unwrap_or_default(),
            if changes.is_empty() {
                String::new()
            } else {
                changes.join(", ")
            }
        );
    }
    // 17:00 one customer cancels; an operator cancels on their behalf.
    let cancelled = api
        .post(
            &format!("/api/orders/{}/cancel", id_of("ERP-1003")),
            &json!({"notify": true}),
        )
        .await?;
    println!(
        "   {:<9} {:<22} order → {}",
        "ERP-1003",
        "cancel",
        cancelled["order"]["statuses"]["order"]["code"]
            .as_str()
            .unwrap_or_default()
    );

    // Kept until the end: the outlet and eBay serve while the host runs.
    let _outlet = intake(&api).await?;
    let _ebay = marketplace(&api).await?;

    say("Waiting for the outbox to deliver");
    let started = Instant::now();
    loop {
        let active = api.get("/api/jobs?state=active").await?;
        let pending = active
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|j| j["state"]["status"] == "pending")
                    .count()
            })
            .unwrap_or(0);
        if pending == 0 || started.elapsed() > Duration::from_secs(60) {
            println!(
                "   {pending} jobs still waiting after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    report(&api, &woo, &sw, &data).await?;

    println!(
        "\nThe host keeps running at {url} (log: demo-data/serve.log). Explore it:\n\n  export STATUSPORT_URL={url} STATUSPORT_TOKEN={token}\n  target/release/statusport order list\n  target/release/statusport order get {first}\n  target/release/statusport rule list\n  target/release/statusport plugin list\n  target/release/statusport export --format csv\n  curl -s -H \"Authorization: Bearer $STATUSPORT_TOKEN\" {url}/api/orders?limit=3\n  curl -s {url}/api/openapi.json | head -c 400\n  curl -s {url}/metrics | grep statusport_transitions\n\nCtrl-C stops the host and the fake platforms.",
        first = ids.first().map(|i| i.0).unwrap_or_default()
    );
    stopped().await;
    println!("stopping");
    drop(host);
    Ok(())
}

/// Ctrl-C, or SIGTERM from a supervisor: either stops the host cleanly.
async fn stopped() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn wait_healthy(
    http: &reqwest::Client,
    url: &str,
    host: &mut Host,
    data: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = host.child.try_wait() {
            let log = std::fs::read_to_string(data.join("serve.log")).unwrap_or_default();
            bail!("statusport serve exited ({status}):\n{log}");
        }
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "statusport serve did not answer on {url} within 2 minutes; see demo-data/serve.log"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn report(
    api: &Api,
    woo: &Fake<WooCommerce>,
    sw: &Fake<Shopware>,
    data: &Path,
) -> anyhow::Result<()> {
    say("Orders at the end of the day");
    let page = api.get("/api/orders?limit=100").await?;
    println!(
        "   {:<12} {:<7} {:<10} {:<55} tracking",
        "number", "channel", "customer", "statuses"
    );
    for o in page["orders"].as_array().into_iter().flatten().rev() {
        let statuses: Vec<String> = o["statuses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(d, s)| format!("{d}:{}", s["code"].as_str().unwrap_or_default()))
            .collect();
        let tracking: Vec<&str> = o["shipments"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["packages"].as_array().into_iter().flatten())
            .filter_map(|p| p["tracking_number"].as_str())
            .collect();
        println!(
            "   {:<12} {:<7} {:<10} {:<55} {}",
            o["number"].as_str().unwrap_or_default(),
            o["channel"].as_str().unwrap_or_default(),
            o["customer"].as_str().unwrap_or_default(),
            statuses.join(" "),
            tracking.join(" ")
        );
    }

    say("What the fake WooCommerce received (writes)");
    print_writes(woo);
    say("What the fake Shopware received (writes)");
    print_writes(sw);

    say("Mails written (demo-data/mail, one .eml per mail)");
    let mut mails: Vec<PathBuf> = std::fs::read_dir(data.join("mail"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    mails.sort();
    for mail in &mails {
        let text = std::fs::read_to_string(mail).unwrap_or_default();
        let header = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        println!("   to {:<30} {}", header("To:"), header("Subject:"));
    }
    if mails.is_empty() {
        println!("   (none)");
    }
    let failed = api.get("/api/jobs").await?;
    let failed = failed.as_array().map(Vec::len).unwrap_or(0);
    say(&format!("Failed jobs waiting for an operator: {failed}"));
    Ok(())
}

fn print_writes<S: Platform>(fake: &Fake<S>) {
    for r in fake.received().iter().filter(|r| r.method != "GET") {
        let mut body = r.body.to_string();
        if body.len() > 110 {
            let mut cut = 110;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push('…');
        }
        println!("   {:<5} {:<52} {}", r.method, r.path, body);
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn list(value: &Value) -> String {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
