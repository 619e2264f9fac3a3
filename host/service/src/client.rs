//! The CLI's client commands: everyday work over the HTTP API, printed as
//! tables (or JSON with `--json`), with a progress bar on long work.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use jiff::Timestamp;
use statusport::api::Problem;
use statusport_core::domain::order::Order;
use statusport_core::domain::platform::StatusRef;
use statusport_core::store::OrderQuery;

/// Prints a line; a closed stdout ends the command quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// Where the API is and how to sign in.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The host's base URL.
    #[arg(
        long,
        env = "STATUSPORT_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// An API token; by default the one a first start wrote to
    /// `<data dir>/admin-token`.
    #[arg(long, env = "STATUSPORT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    pub json: bool,
}

impl Client {
    pub fn new(args: &ServerArgs) -> anyhow::Result<Client> {
        let base = args.server.trim_end_matches('/').to_owned();
        url::Url::parse(&base).with_context(|| {
            format!("--server \"{base}\" is not a URL; e.g. http://127.0.0.1:8080")
        })?;
        let token = args.token.clone().or_else(|| {
            let dir = std::env::var_os("STATUSPORT_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("statusport-data"));
            std::fs::read_to_string(dir.join("admin-token"))
                .ok()
                .map(|t| t.trim().to_owned())
        });
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()?,
            base,
            token,
            json: args.json,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the host at {} (is `statusport serve` running? set --server or STATUSPORT_URL)",
                self.base
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => bail!("{} {}: {}", problem.status, problem.title, problem.detail),
            Err(_) => bail!("{status}: {text}"),
        }
    }

    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.send(request).await?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(serde_json::from_value(Value::Null)?);
        }
        Ok(response.json().await?)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Prints `value` as JSON when asked to, and says whether it did.
    fn printed_json<T: Serialize>(&self, value: &T) -> anyhow::Result<bool> {
        if self.json {
            out!("{}", serde_json::to_string_pretty(value)?);
        }
        Ok(self.json)
    }
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_header(header.to_vec());
    table
}

fn read_json(file: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", file.display()))
}

/// `value` escaped for one segment of a URL path.
fn path_segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            url.append_pair(k, v);
        }
    }
    url.finish()
}

// ----- orders ------------------------------------------------------------------

#[derive(Subcommand, Debug)]
pub enum OrderCommand {
    /// Lists orders newest first.
    List(OrderFilterArgs),
    /// Shows one order with its history: by its id, or with `--number`
    /// by the order number people know (`statusport order get --number 10004`).
    Get {
        id: String,
        /// Take the argument as the order number, not the id.
        #[arg(long)]
        number: bool,
    },
    /// Creates or imports orders from a JSON file: one order, or an array
    /// of them (a progress bar counts them).
    Import { file: PathBuf },
    /// Posts an event, e.g. '{"type":"picked"}' or
    /// '{"type":"payment_matched","reference":"PAY-1"}'.
    Event {
        id: u64,
        event: String,
        /// The event's idempotency id.
        #[arg(long = "event-id")]
        event_id: Option<String>,
    },
    /// Sets a status by hand: `dimension:code`, e.g. order:processing.
    Status { id: u64, status: String },
    /// Cancels an order.
    Cancel {
        id: u64,
        /// Cancel without mailing the customer.
        #[arg(long)]
        no_mail: bool,
    },
    /// Approves an order waiting for approval.
    Approve { id: u64 },
    /// Rejects an order waiting for approval.
    Reject { id: u64 },
    /// Adds a shipment with one package and marks it handed over.
    Ship {
        id: u64,
        #[arg(long)]
        carrier: String,
        #[arg(long)]
        tracking: String,
        /// The shipment's id (default: the tracking number).
        #[arg(long)]
        shipment: Option<String>,
    },
}

/// The order filter of `order list` and `export`: the core's `OrderQuery`
/// as options, checked here before anything is sent.
#[derive(Args, Debug, Clone)]
pub struct OrderFilterArgs {
    /// `dimension:code`, e.g. order:processing.
    #[arg(long)]
    status: Option<StatusRef>,
    #[arg(long)]
    channel: Option<String>,
    /// The payment dimension's status, e.g. paid.
    #[arg(long)]
    payment_status: Option<String>,
    #[arg(long)]
    payment_method: Option<String>,
    #[arg(long)]
    customer: Option<String>,
    /// Created at or after (RFC 3339).
    #[arg(long)]
    from: Option<Timestamp>,
    /// Created before (RFC 3339).
    #[arg(long)]
    to: Option<Timestamp>,
    /// true: only orders with a refund due; false: only those without.
    #[arg(long)]
    refund_due: Option<bool>,
    /// The order with this order number.
    #[arg(long)]
    number: Option<String>,
    /// The order with this invoice number.
    #[arg(long)]
    invoice: Option<String>,
    /// Orders to show.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

impl OrderFilterArgs {
    fn query(&self) -> OrderQuery {
        OrderQuery {
            channel: self.channel.clone(),
            status: self.status.clone(),
            payment_status: self.payment_status.clone(),
            payment_method: self.payment_method.clone(),
            created_from: self.from,
            created_to: self.to,
            customer: self.customer.clone(),
            refund_due: self.refund_due,
            number: self.number.clone(),
            invoice: self.invoice.clone(),
        }
    }

    /// The query as the API's list and export parameters.
    fn pairs(&self) -> String {
        let q = self.query();
        let text = |v: &Option<String>| v.clone();
        query(&[
            ("status", &q.status.as_ref().map(ToString::to_string)),
            ("channel", &text(&q.channel)),
            ("payment_status", &text(&q.payment_status)),
            ("payment_method", &text(&q.payment_method)),
            ("customer", &text(&q.customer)),
            ("from", &q.created_from.map(|t| t.to_string())),
            ("to", &q.created_to.map(|t| t.to_string())),
            ("refund_due", &q.refund_due.map(|r| r.to_string())),
            ("number", &text(&q.number)),
            ("invoice", &text(&q.invoice)),
        ])
    }
}

fn order_row(order: &Order) -> Vec<String> {
    let statuses: Vec<String> = order
        .statuses
        .iter()
        .map(|(d, s)| format!("{d}:{}", s.code))
        .collect();
    vec![
        order.id.to_string(),
        order.number.clone(),
        order.channel.to_string(),
        order.customer.clone(),
        statuses.join(" "),
        order.total().map(|t| t.to_string()).unwrap_or_default(),
        order.created.strftime("%Y-%m-%d %H:%M").to_string(),
    ]
}

const ORDER_HEADER: &[&str] = &[
    "id", "number", "channel", "customer", "statuses", "total", "created",
];

pub async fn order(client: &Client, command: OrderCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrderCommand::List(filter) => {
            let mut orders: Vec<Order> = Vec::new();
            let mut cursor: Option<String> = None;
            while orders.len() < filter.limit {
                let mut q = filter.pairs();
                let page = (filter.limit - orders.len()).min(1000);
                q.push_str(&format!("&limit={page}"));
                if let Some(c) = &cursor {
                    q.push_str(&format!("&cursor={c}"));
                }
                let page: Value = client.get(&format!("/api/orders?{q}")).await?;
                let found: Vec<Order> = serde_json::from_value(page["orders"].clone())?;
                orders.extend(found);
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            if client.printed_json(&orders)? {
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = table(ORDER_HEADER);
            for o in &orders {
                t.add_row(order_row(o));
            }
            out!("{t}");
            Ok(ExitCode::SUCCESS)
        }
        OrderCommand::Get { id, number } => {
            let order: Value = if number {
                client
                    .get(&format!("/api/orders/by-number/{}", path_segment(&id)))
                    .await?
            } else {
                let id: u64 = id.parse().with_context(|| {
                    format!("order id \"{id}\" is not a number; for an order number use --number")
                })?;
                client.get(&format!("/api/orders/{id}")).await?
            };
            let id = order["id"].as_u64().unwrap_or_default();
            let history: Value = client.get(&format!("/api/orders/{id}/history")).await?;
            if client.printed_json(&json!({ "order": order, "history": history }))? {
                return Ok(ExitCode::SUCCESS);
            }
            let order: Order = serde_json::from_value(order)?;
            let mut t = table(ORDER_HEADER);
            t.add_row(order_row(&order));
            out!("{t}");
            let mut h = table(&["at", "by", "change", "rule"]);
            for entry in history.as_array().into_iter().flatten() {
                h.add_row(vec![
                    entry["at"].as_str().unwrap_or_default().to_owned(),
                    actor(&entry["actor"]),
                    change(&entry["change"]),
                    entry["rule"].as_str().unwrap_or_default().to_owned(),
                ]);
            }
            out!("{h}");
            Ok(ExitCode::SUCCESS)
        }
        OrderCommand::Import { file } => {
            let value = read_json(&file)?;
            let orders = match value {
                Value::Array(items) => items,
                one => vec![one],
            };
            let bar = ProgressBar::new(orders.len() as u64).with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} orders {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            if client.json {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let mut results = Vec::new();
            let mut failed = 0;
            for (i, order) in orders.iter().enumerate() {
                match client.post::<Value>("/api/orders", order).await {
                    Ok(o) => {
                        results.push(json!({"index": i, "order": o["id"], "number": o["number"]}))
                    }
                    Err(e) => {
                        failed += 1;
                        bar.suspend(|| eprintln!("order {i}: {e}"));
                        results.push(json!({"index": i, "error": e.to_string()}));
                    }
                }
                bar.inc(1);
            }
            bar.finish_with_message(format!("{failed} refused"));
            client.printed_json(&results)?;
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        OrderCommand::Event {
            id,
            event,
            event_id,
        } => {
            let event: Value = serde_json::from_str(&event)
                .context("the event must be JSON, e.g. '{\"type\":\"picked\"}'")?;
            let outcome: Value = client
                .post(
                    &format!("/api/orders/{id}/events"),
                    &json!({ "id": event_id, "event": event }),
                )
                .await?;
            print_outcome(client, &outcome)
        }
        OrderCommand::Status { id, status } => {
            let Some((dimension, to)) = status.split_once(':') else {
                bail!("status \"{status}\" must read dimension:code, e.g. order:processing");
            };
            let outcome: Value = client
                .post(
                    &format!("/api/orders/{id}/status"),
                    &json!({ "dimension": dimension, "to": to }),
                )
                .await?;
            print_outcome(client, &outcome)
        }
        OrderCommand::Cancel { id, no_mail } => {
            let outcome: Value = client
                .post(
                    &format!("/api/orders/{id}/cancel"),
                    &json!({ "notify": !no_mail }),
                )
                .await?;
            print_outcome(client, &outcome)
        }
        OrderCommand::Approve { id } => {
            let outcome: Value = client
                .post(&format!("/api/orders/{id}/approve"), &json!({}))
                .await?;
            print_outcome(client, &outcome)
        }
        OrderCommand::Reject { id } => {
            let outcome: Value = client
                .post(&format!("/api/orders/{id}/reject"), &json!({}))
                .await?;
            print_outcome(client, &outcome)
        }
        OrderCommand::Ship {
            id,
            carrier,
            tracking,
            shipment,
        } => {
            let body = json!({
                "shipment_id": shipment.unwrap_or_else(|| tracking.clone()),
                "packages": [{ "carrier": carrier, "tracking_number": tracking }],
                "done": true,
            });
            let outcome: Value = client
                .post(&format!("/api/orders/{id}/shipments"), &body)
                .await?;
            print_outcome(client, &outcome)
        }
    }
}

fn actor(value: &Value) -> String {
    match (value["kind"].as_str(), value["name"].as_str()) {
        (Some(kind), Some(name)) => format!("{kind} {name}"),
        (Some(kind), None) => kind.to_owned(),
        _ => value.to_string(),
    }
}

fn change(value: &Value) -> String {
    match value["type"].as_str() {
        Some("status") | Some("rollback") => format!(
            "{} {} → {}",
            value["dimension"].as_str().unwrap_or_default(),
            value["before"].as_str().unwrap_or("-"),
            value["after"].as_str().unwrap_or_default()
        ),
        Some("field") => format!(
            "{} = {}",
            value["field"].as_str().unwrap_or_default(),
            value["after"].as_str().unwrap_or("-")
        ),
        Some(other) => other.to_owned(),
        None => value.to_string(),
    }
}

fn print_outcome(client: &Client, outcome: &Value) -> anyhow::Result<ExitCode> {
    if client.printed_json(outcome)? {
        return Ok(ExitCode::SUCCESS);
    }
    if outcome["outcome"] == "duplicate" {
        out!("already applied: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let order: Order = serde_json::from_value(outcome["order"].clone())?;
    let mut t = table(ORDER_HEADER);
    t.add_row(order_row(&order));
    out!("{t}");
    for entry in outcome["history"].as_array().into_iter().flatten() {
        let rule = entry["rule"]
            .as_str()
            .map(|r| format!(" (rule {r})"))
            .unwrap_or_default();
        out!("  {}{rule}", change(&entry["change"]));
    }
    for job in outcome["jobs"].as_array().into_iter().flatten() {
        out!(
            "  job {}: {}",
            job["id"],
            job["kind"]["type"].as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ----- rules ---------------------------------------------------------------------

#[derive(Subcommand, Debug)]
pub enum RuleCommand {
    /// Lists the rules in the order they run.
    List,
    /// Shows one rule as JSON.
    Get { id: String },
    /// Imports a TOML rule file (as host/rulesets/*.toml).
    Import { file: PathBuf },
    /// Prints every rule as one TOML file.
    Export,
    /// Deletes a rule.
    Delete { id: String },
}

pub async fn rule(client: &Client, command: RuleCommand) -> anyhow::Result<ExitCode> {
    match command {
        RuleCommand::List => {
            let rules: Vec<Value> = client.get("/api/rules").await?;
            if client.printed_json(&rules)? {
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = table(&["id", "on", "from", "to", "enabled"]);
            for r in &rules {
                let list = |v: &Value| {
                    v.as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().unwrap_or_default())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default()
                };
                t.add_row(vec![
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    list(&r["on"]),
                    list(&r["from"]),
                    r["to"].as_str().unwrap_or_default().to_owned(),
                    r["enabled"].to_string(),
                ]);
            }
            out!("{t}");
        }
        RuleCommand::Get { id } => {
            let rule: Value = client.get(&format!("/api/rules/{id}")).await?;
            out!("{}", serde_json::to_string_pretty(&rule)?);
        }
        RuleCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let response = client
                .send(
                    client
                        .request(Method::POST, "/api/rules/import")
                        .header("content-type", "application/toml")
                        .body(text),
                )
                .await?;
            let imported: Value = response.json().await?;
            if !client.printed_json(&imported)? {
                out!(
                    "imported {}",
                    imported["rules"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .map(|x| x.as_str().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
        }
        RuleCommand::Export => {
            let response = client
                .send(client.request(Method::GET, "/api/rules/export"))
                .await?;
            out!("{}", response.text().await?);
        }
        RuleCommand::Delete { id } => {
            client
                .call::<Value>(Method::DELETE, &format!("/api/rules/{id}"), None)
                .await?;
            out!("rule {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ----- plugins, jobs, tokens ----------------------------------------------------

pub async fn plugins(client: &Client) -> anyhow::Result<ExitCode> {
    let list: Value = client.get("/api/plugins").await?;
    if client.printed_json(&list)? {
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["id", "version", "dimension", "statuses"]);
    for p in list["plugins"].as_array().into_iter().flatten() {
        let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for s in p["statuses"].as_array().into_iter().flatten() {
            by.entry(s["dimension"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(s["code"].as_str().unwrap_or_default().to_owned());
        }
        for (dimension, codes) in by {
            t.add_row(vec![
                p["id"].as_str().unwrap_or_default().to_owned(),
                p["version"].as_str().unwrap_or_default().to_owned(),
                dimension,
                codes.join(", "),
            ]);
        }
    }
    out!("{t}");
    for r in list["refused"].as_array().into_iter().flatten() {
        out!("refused {}: {}", r["file"], r["reason"]);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn jobs_failed(client: &Client) -> anyhow::Result<Vec<Value>> {
    client.get("/api/jobs?state=failed").await
}

pub async fn job(client: &Client, path: &str, method: Method) -> anyhow::Result<Value> {
    client.call(method, path, None).await
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Makes a token and prints it once.
    Create {
        #[arg(long)]
        owner: String,
        /// admin, approver, operator, viewer or connector.
        #[arg(long)]
        role: String,
        /// The channel of a connector token.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Lists the tokens (never their secrets).
    List,
    /// Revokes a token by id.
    Revoke { id: String },
}

pub async fn token(client: &Client, command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create {
            owner,
            role,
            channel,
        } => {
            let made: Value = client
                .post(
                    "/api/tokens",
                    &json!({ "owner": owner, "role": role, "channel": channel }),
                )
                .await?;
            if !client.printed_json(&made)? {
                out!("{}", made["token"].as_str().unwrap_or_default());
                eprintln!("(shown once: store it now)");
            }
        }
        TokenCommand::List => {
            let tokens: Vec<Value> = client.get("/api/tokens").await?;
            if !client.printed_json(&tokens)? {
                let mut t = table(&["id", "owner", "role", "channel", "created"]);
                for tk in &tokens {
                    t.add_row(vec![
                        tk["id"].as_str().unwrap_or_default().to_owned(),
                        tk["owner"].as_str().unwrap_or_default().to_owned(),
                        tk["role"].as_str().unwrap_or_default().to_owned(),
                        tk["channel"].as_str().unwrap_or_default().to_owned(),
                        tk["created"].as_str().unwrap_or_default().to_owned(),
                    ]);
                }
                out!("{t}");
            }
        }
        TokenCommand::Revoke { id } => {
            client
                .call::<Value>(Method::DELETE, &format!("/api/tokens/{id}"), None)
                .await?;
            out!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ----- numbering -------------------------------------------------------------------

#[derive(Subcommand, Debug)]
pub enum NumberingCommand {
    /// Shows the start numbers, the prefixes and the last numbers drawn.
    Show,
    /// Changes what is given and keeps the rest, e.g.
    /// `--invoice-prefix RE- --invoice-start 5000`. A new start must be
    /// above the last number its sequence drew.
    Set(NumberingSetArgs),
}

#[derive(Args, Debug)]
pub struct NumberingSetArgs {
    /// The next order number, if above the last one drawn.
    #[arg(long)]
    order_start: Option<u64>,
    /// Written before each order number ("" for none).
    #[arg(long)]
    order_prefix: Option<String>,
    /// The next invoice number, if above the last one drawn.
    #[arg(long)]
    invoice_start: Option<u64>,
    /// Written before each invoice number ("" for none).
    #[arg(long)]
    invoice_prefix: Option<String>,
}

pub async fn numbering(client: &Client, command: NumberingCommand) -> anyhow::Result<ExitCode> {
    let mut view: Value = client.get("/api/numbering").await?;
    if let NumberingCommand::Set(args) = command {
        if args.order_start.is_none()
            && args.order_prefix.is_none()
            && args.invoice_start.is_none()
            && args.invoice_prefix.is_none()
        {
            bail!(
                "numbering set: give at least one of --order-start, --order-prefix, --invoice-start, --invoice-prefix"
            );
        }
        let mut body = json!({
            "order_start": view["order_start"],
            "order_prefix": view["order_prefix"],
            "invoice_start": view["invoice_start"],
            "invoice_prefix": view["invoice_prefix"],
        });
        if let Some(n) = args.order_start {
            body["order_start"] = json!(n);
        }
        if let Some(p) = args.order_prefix {
            body["order_prefix"] = json!(p);
        }
        if let Some(n) = args.invoice_start {
            body["invoice_start"] = json!(n);
        }
        if let Some(p) = args.invoice_prefix {
            body["invoice_prefix"] = json!(p);
        }
        view = client
            .call(Method::PUT, "/api/numbering", Some(&body))
            .await?;
    }
    if client.printed_json(&view)? {
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["sequence", "prefix", "start", "last drawn", "next"]);
    for sequence in ["order", "invoice"] {
        let prefix = view[format!("{sequence}_prefix")]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let start = view[format!("{sequence}_start")].as_u64().unwrap_or(1);
        let last = view[format!("last_{sequence}_number")].as_u64();
        // As the store draws: one past the last, or the start if higher.
        let next = last.map_or(start, |l| (l + 1).max(start));
        t.add_row(vec![
            sequence.to_owned(),
            prefix.clone(),
            start.to_string(),
            last.map_or("none".to_owned(), |l| l.to_string()),
            format!("{prefix}{next}"),
        ]);
    }
    out!("{t}");
    Ok(ExitCode::SUCCESS)
}

// ----- exports and bulk jobs -------------------------------------------------------

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// csv, xml or json.
    #[arg(long, default_value = "csv")]
    format: String,
    #[command(flatten)]
    filter: OrderFilterArgs,
    /// The file to write (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub async fn export(client: &Client, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let q = format!("format={}&{}", args.format, args.filter.pairs());
    let mut response = client
        .send(client.request(Method::GET, &format!("/api/exports/orders?{q}")))
        .await?;
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {bytes} written ({bytes_per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    if args.output.is_none() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    while let Some(chunk) = response.chunk().await? {
        sink.write_all(&chunk)?;
        bar.inc(chunk.len() as u64);
    }
    sink.flush()?;
    bar.finish();
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum BulkCommand {
    /// Shows what a bulk job (a JSON file: {"filter": …, "action": …})
    /// would change.
    DryRun { file: PathBuf },
    /// Starts a bulk job and follows it with a progress bar.
    Start {
        file: PathBuf,
        /// Return at once instead of following the job.
        #[arg(long)]
        detach: bool,
    },
    /// Shows a bulk job's progress.
    Status { id: String },
    /// Stops a bulk job at its next checkpoint.
    Cancel { id: String },
    /// Lists the bulk jobs.
    List,
}

pub async fn bulk(client: &Client, command: BulkCommand) -> anyhow::Result<ExitCode> {
    match command {
        BulkCommand::DryRun { file } => {
            let dry: Value = client.post("/api/bulk/dry-run", &read_json(&file)?).await?;
            if !client.printed_json(&dry)? {
                out!(
                    "{} orders match; {} would change",
                    dry["matched"],
                    dry["would_change"]
                );
                for c in dry["changes"].as_array().into_iter().flatten() {
                    out!(
                        "  {} {}",
                        c["number"].as_str().unwrap_or_default(),
                        c["changes"]
                    );
                }
                if let Some(unchanged) = dry["unchanged"].as_object() {
                    for (reason, u) in unchanged {
                        out!("  unchanged ({}): {reason}", u["count"]);
                    }
                }
            }
        }
        BulkCommand::Start { file, detach } => {
            let spec = read_json(&file)?;
            let dry: Value = client.post("/api/bulk/dry-run", &spec).await?;
            let mut job: Value = client.post("/api/bulk", &spec).await?;
            let id = job["id"].as_str().unwrap_or_default().to_owned();
            if detach {
                client.printed_json(&job)?;
                out!("bulk job {id} started");
                return Ok(ExitCode::SUCCESS);
            }
            let bar = ProgressBar::new(dry["matched"].as_u64().unwrap_or(0)).with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} matched orders {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            if client.json {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            while job["state"] == "running" {
                tokio::time::sleep(Duration::from_millis(250)).await;
                job = client.get(&format!("/api/bulk/{id}")).await?;
                bar.set_position(job["matched"].as_u64().unwrap_or(0));
                bar.set_message(format!("{} changed", job["changed"]));
            }
            bar.finish();
            if !client.printed_json(&job)? {
                out!(
                    "bulk job {id} {}: {} walked, {} matched, {} changed",
                    job["state"].as_str().unwrap_or_default(),
                    job["scanned"],
                    job["matched"],
                    job["changed"]
                );
            }
        }
        BulkCommand::Status { id } => {
            let job: Value = client.get(&format!("/api/bulk/{id}")).await?;
            out!("{}", serde_json::to_string_pretty(&job)?);
        }
        BulkCommand::Cancel { id } => {
            let job: Value = client
                .post(&format!("/api/bulk/{id}/cancel"), &json!({}))
                .await?;
            if !client.printed_json(&job)? {
                out!("bulk job {id}: cancelling");
            }
        }
        BulkCommand::List => {
            let jobs: Vec<Value> = client.get("/api/bulk").await?;
            if !client.printed_json(&jobs)? {
                let mut t = table(&["id", "state", "scanned", "matched", "changed", "created"]);
                for j in &jobs {
                    t.add_row(vec![
                        j["id"].as_str().unwrap_or_default().to_owned(),
                        j["state"].as_str().unwrap_or_default().to_owned(),
                        j["scanned"].to_string(),
                        j["matched"].to_string(),
                        j["changed"].to_string(),
                        j["created"].as_str().unwrap_or_default().to_owned(),
                    ]);
                }
                out!("{t}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
