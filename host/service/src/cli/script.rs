//! `statusport plugin test`: runs a plugin against a scripted platform.
//!
//! The script (TOML) says which calls to make (`[[call]]`: a status push, a
//! shipment upload, a pull) and how the platform answers (`[[route]]`: the
//! expected request → a canned answer, optionally preceded by other answers
//! given once — "503 once", "429 with Retry-After" — or slowed down). Each
//! call is retried as the outbox retries a transient failure, then every
//! call runs a second time with the same idempotency keys: a request to a
//! route marked `creates` in that second run means that a retry after a
//! lost answer would create the thing twice.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Args;
use serde::{Deserialize, Serialize};
use statusport_core::domain::platform::Origin;
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::{self, LoadedPlugin};
use statusport_runtime::{ChannelContext, MemoryState, Runtime};

use super::RuntimeArgs;
use super::calls::{Outcome, ShownCall};

#[derive(Args, Debug)]
pub(super) struct TestArgs {
    /// The plugin file.
    file: PathBuf,
    /// The script: the calls to make and the platform's answers (TOML).
    #[arg(long, value_name = "FILE")]
    script: PathBuf,
    /// Retries of a call that failed transiently, as the outbox would.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    retries: u32,
    /// The longest wait before a retry, in milliseconds (a platform's
    /// Retry-After above it is cut to it, so that a test stays quick).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    max_wait_ms: u64,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// A script file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Script {
    #[serde(default)]
    channel: ChannelScript,
    #[serde(rename = "call")]
    calls: Vec<CallScript>,
    #[serde(default, rename = "route")]
    routes: Vec<Route>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ChannelScript {
    /// The channel's base URL; `{fake}` is the scripted platform's address.
    #[serde(default)]
    base_url: Option<String>,
    /// Config values; `{fake}` in a value is the scripted platform's address.
    #[serde(default)]
    config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case", deny_unknown_fields)]
enum CallScript {
    PushStatus {
        order: String,
        /// `dimension:from:to`.
        #[serde(rename = "move")]
        status_move: String,
        #[serde(default)]
        expect: Expect,
    },
    UploadShipment {
        order: String,
        #[serde(default = "default_shipment_id")]
        shipment: String,
        #[serde(default = "default_shipped_at", rename = "shipped-at")]
        shipped_at: String,
        packages: Vec<PackageScript>,
        #[serde(default)]
        expect: Expect,
    },
    Pull {
        #[serde(default)]
        cursor: Option<String>,
        #[serde(default)]
        expect: Expect,
    },
}

fn default_shipment_id() -> String {
    "shipment-1".into()
}

fn default_shipped_at() -> String {
    "2026-01-15T10:00:00Z".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PackageScript {
    carrier: String,
    tracking_number: String,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    lines: Vec<LineScript>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineScript {
    line: String,
    quantity: u32,
}

/// How a call is expected to end: `ok` (the default), `unsupported`, or a
/// failure's kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Expect {
    #[default]
    Ok,
    Unsupported,
    Rejected,
    Auth,
    Config,
    Transient,
}

impl Expect {
    fn as_str(self) -> &'static str {
        match self {
            Expect::Ok => "ok",
            Expect::Unsupported => "unsupported",
            Expect::Rejected => "rejected",
            Expect::Auth => "auth",
            Expect::Config => "config",
            Expect::Transient => "transient",
        }
    }
}

/// One scripted exchange.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Route {
    method: String,
    /// The path, `*` standing for any one segment.
    path: String,
    /// The normal answer.
    answer: Answer,
    /// Answers given first, once each, in order: `[{ status = 503 }]` is
    /// "503 once".
    #[serde(default)]
    first: Vec<Answer>,
    /// Milliseconds to wait before answering (a slow platform).
    #[serde(default)]
    delay_ms: u64,
    /// The request creates something on the platform (a tracking entry):
    /// the second run must not send it again.
    #[serde(default)]
    creates: bool,
    /// The route answers only once a request `METHOD /path` was received
    /// (the platform's state after it): of the routes that match a request,
    /// the last one declared whose condition holds answers.
    #[serde(default)]
    after: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Answer {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default)]
    json: Option<toml::Value>,
    /// A body as text (XML, say), sent with the headers given.
    #[serde(default)]
    body: Option<String>,
}

impl Script {
    fn load(path: &Path) -> anyhow::Result<Script> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the script {}", path.display()))?;
        let script: Script = toml::from_str(&text)
            .with_context(|| format!("the script {} is not valid", path.display()))?;
        script
            .check()
            .with_context(|| format!("the script {} is not valid", path.display()))?;
        Ok(script)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.calls.is_empty() {
            bail!("it has no [[call]]: add at least one (push-status, upload-shipment or pull)");
        }
        for (i, route) in self.routes.iter().enumerate() {
            let at = format!("route {} ({} {})", i + 1, route.method, route.path);
            Method::from_bytes(route.method.as_bytes())
                .map_err(|_| anyhow::anyhow!("{at}: \"{}\" is not an HTTP method", route.method))?;
            if !route.path.starts_with('/') {
                bail!("{at}: the path must start with /");
            }
            for answer in route.first.iter().chain([&route.answer]) {
                if !(100..=599).contains(&answer.status) {
                    bail!("{at}: status {} is not an HTTP status", answer.status);
                }
                if answer.json.is_some() && answer.body.is_some() {
                    bail!("{at}: an answer has either json or body, not both");
                }
                for (name, value) in &answer.headers {
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| anyhow::anyhow!("{at}: \"{name}\" is not a header name"))?;
                    HeaderValue::from_str(value).map_err(|_| {
                        anyhow::anyhow!("{at}: the value of header {name} is not valid")
                    })?;
                }
            }
            if let Some(after) = route
                .after
                .as_ref()
                .filter(|a| a.split_once(' ').is_none_or(|(_, p)| !p.starts_with('/')))
            {
                bail!("{at}: after = \"{after}\" must be \"METHOD /path\"");
            }
        }
        Ok(())
    }
}

/// `pattern` (with `*` segments) matches `path`.
fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let q: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

/// One request the scripted platform received.
#[derive(Debug, Clone, Serialize)]
struct Received {
    run: u8,
    method: String,
    path: String,
    /// The route that answered (1-based); none for an unscripted request.
    route: Option<usize>,
    status: u16,
}

/// The scripted platform's state.
struct Fake {
    routes: Vec<Route>,
    /// How many of each route's `first` answers were given.
    given: HashMap<usize, usize>,
    received: Vec<Received>,
    run: u8,
}

impl Fake {
    fn answer(&mut self, method: &str, path: &str) -> (Option<usize>, Answer, u64) {
        let seen = |cond: &str| {
            let (m, p) = cond.split_once(' ').unwrap_or((cond, ""));
            self.received
                .iter()
                .any(|r| r.method.eq_ignore_ascii_case(m) && path_matches(p, &r.path))
        };
        let chosen = self
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.method.eq_ignore_ascii_case(method) && path_matches(&r.path, path))
            .filter(|(_, r)| r.after.as_deref().is_none_or(seen))
            .map(|(i, _)| i)
            .next_back();
        let Some(index) = chosen else {
            let known: Vec<String> = self
                .routes
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            let answer = Answer {
                status: 501,
                headers: BTreeMap::new(),
                json: Some(
                    toml::Value::try_from(serde_json::json!({
                        "message": format!(
                            "the script has no route for {method} {path} (routes: {})",
                            known.join(", ")
                        )
                    }))
                    .expect("a JSON object converts"),
                ),
                body: None,
            };
            return (None, answer, 0);
        };
        let route = &self.routes[index];
        let given = self.given.entry(index).or_default();
        let answer = match route.first.get(*given) {
            Some(first) => {
                *given += 1;
                first.clone()
            }
            None => route.answer.clone(),
        };
        (Some(index), answer, route.delay_ms)
    }
}

fn into_response(answer: &Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (&answer.json, &answer.body) {
        (Some(json), _) => {
            let value = serde_json::to_value(json).unwrap_or(serde_json::Value::Null);
            (status, axum::Json(value)).into_response()
        }
        (None, Some(body)) => (status, body.clone()).into_response(),
        (None, None) => status.into_response(),
    };
    for (name, value) in &answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

async fn serve(fake: Arc<Mutex<Fake>>) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, _headers: HeaderMap, _body: Bytes| {
            let fake = fake.clone();
            async move {
                let path = uri.path().to_owned();
                let (answer, delay) = {
                    let mut f = fake.lock().unwrap_or_else(|p| p.into_inner());
                    let (route, answer, delay) = f.answer(method.as_str(), &path);
                    let run = f.run;
                    f.received.push(Received {
                        run,
                        method: method.to_string(),
                        path,
                        route: route.map(|i| i + 1),
                        status: answer.status,
                    });
                    (answer, delay)
                };
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                into_response(&answer)
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("no loopback port is free for the scripted platform")?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, task))
}

/// One attempt of a call.
#[derive(Serialize)]
struct Attempt {
    /// The wait before this attempt, in milliseconds.
    waited_ms: u64,
    #[serde(flatten)]
    call: ShownCall,
}

/// One scripted call, with its attempts and its second run.
#[derive(Serialize)]
struct CallRun {
    call: String,
    what: String,
    expect: Expect,
    attempts: Vec<Attempt>,
    /// The outcome's kind after the last attempt.
    outcome: String,
    as_expected: bool,
    second_run: SecondRun,
}

#[derive(Serialize)]
struct SecondRun {
    outcome: String,
    requests: usize,
    /// Requests of the second run to routes marked `creates`.
    created_again: Vec<String>,
    idempotent: bool,
}

#[derive(Serialize)]
struct TestReport {
    plugin: String,
    script: PathBuf,
    platform: String,
    calls: Vec<CallRun>,
    /// Requests no route answered (the platform would not know them).
    unscripted: Vec<String>,
    idempotent: bool,
    passed: bool,
}

struct Runner<'a> {
    runtime: &'a Arc<Runtime>,
    plugin: &'a LoadedPlugin,
    context: CallContext,
    secrets: super::calls::Secrets,
}

impl Runner<'_> {
    /// Runs one call once: its shown record and its outcome.
    async fn once(&self, call: &CallScript, index: usize) -> anyhow::Result<ShownCall> {
        let callee = self.plugin.callee();
        Ok(match call {
            CallScript::PushStatus {
                order, status_move, ..
            } => {
                let (dimension, from, to) = super::check::split_move(status_move, "move")?;
                let report = self
                    .runtime
                    .push_status(
                        &callee,
                        &self.context,
                        order,
                        dimension,
                        &from,
                        &to,
                        &format!("plugin-test-{index}"),
                    )
                    .await;
                let outcome = Outcome::of_receipt(&report.result);
                ShownCall::of(
                    "push-status",
                    format!("{order} {dimension} {from} → {to}"),
                    &report,
                    outcome,
                    &self.secrets,
                )
            }
            CallScript::UploadShipment {
                order,
                shipment,
                shipped_at,
                packages,
                ..
            } => {
                let record = Shipment {
                    id: shipment.clone(),
                    platform_order_id: order.clone(),
                    shipped_at: shipped_at.clone(),
                    packages: packages
                        .iter()
                        .map(|p| Package {
                            carrier: p.carrier.clone(),
                            tracking_number: p.tracking_number.clone(),
                            tracking_url: p.tracking_url.clone(),
                            lines: p
                                .lines
                                .iter()
                                .map(|l| PackageLine {
                                    line_id: l.line.clone(),
                                    quantity: l.quantity,
                                })
                                .collect(),
                        })
                        .collect(),
                };
                let report = self
                    .runtime
                    .upload_shipment(
                        &callee,
                        &self.context,
                        &record,
                        &format!("plugin-test-{index}"),
                    )
                    .await;
                let numbers: Vec<&str> = packages
                    .iter()
                    .map(|p| p.tracking_number.as_str())
                    .collect();
                let outcome = Outcome::of_receipt(&report.result);
                ShownCall::of(
                    "upload-shipment",
                    format!("{order} tracking {}", numbers.join(", ")),
                    &report,
                    outcome,
                    &self.secrets,
                )
            }
            CallScript::Pull { cursor, .. } => {
                if !self.plugin.has_intake() {
                    bail!(
                        "call {}: pull needs a contract 1.1 plugin with intake; {} is {}",
                        index + 1,
                        self.plugin.label(),
                        self.plugin.contract
                    );
                }
                let report = self
                    .runtime
                    .pull(&callee, &self.context, cursor.as_deref())
                    .await;
                let outcome = Outcome::of_batch(&report.result);
                ShownCall::of(
                    "pull",
                    match cursor {
                        Some(c) => format!("from cursor \"{c}\""),
                        None => "from the start".into(),
                    },
                    &report,
                    outcome,
                    &self.secrets,
                )
            }
        })
    }
}

fn expect_of(call: &CallScript) -> Expect {
    match call {
        CallScript::PushStatus { expect, .. }
        | CallScript::UploadShipment { expect, .. }
        | CallScript::Pull { expect, .. } => *expect,
    }
}

fn retryable(outcome: &Outcome) -> Option<Option<u64>> {
    match outcome {
        Outcome::Failed {
            kind,
            retry_after_ms,
            ..
        } if matches!(kind.as_str(), "transient" | "trap" | "host") => Some(*retry_after_ms),
        _ => None,
    }
}

pub(super) async fn test(args: TestArgs, json: bool) -> anyhow::Result<ExitCode> {
    let script = Script::load(&args.script)?;
    let runtime = args.runtime.runtime()?;
    let plugin = registry::load_file(&runtime, &args.file)
        .await
        .map_err(|reason| anyhow::anyhow!("{} was refused: {reason}", args.file.display()))?;
    let fake = Arc::new(Mutex::new(Fake {
        routes: script.routes.clone(),
        given: HashMap::new(),
        received: Vec::new(),
        run: 1,
    }));
    let (url, server) = serve(fake.clone()).await?;
    let fill = |text: &str| text.replace("{fake}", &url);
    let base = script
        .channel
        .base_url
        .as_deref()
        .map(fill)
        .unwrap_or_else(|| url.clone());
    let base_url = url::Url::parse(&base)
        .with_context(|| format!("[channel] base-url \"{base}\" is not a URL"))?;
    let platform = &plugin.platform;
    let config: BTreeMap<String, String> = script
        .channel
        .config
        .iter()
        .map(|(name, value)| (name.clone(), fill(value)))
        .collect();
    super::check::check_config(platform, &config, "the script's [channel] config")?;
    // Every origin the plugin declares is served by the scripted platform
    // when its config points there; grant the fake's own origin for them.
    let granted_hosts = vec![Origin::of_url(&url::Url::parse(&url)?).map_err(anyhow::Error::msg)?];
    let runner = Runner {
        runtime: &runtime,
        plugin: &plugin,
        secrets: super::check::secrets_of(platform, &config),
        context: CallContext {
            channel: Arc::new(ChannelContext {
                id: "plugin-test".into(),
                base_url: Some(base_url),
                config,
                granted_hosts,
            }),
            state: Arc::new(MemoryState::default()),
        },
    };
    if !json {
        out!(
            "plugin test {} against a scripted platform at {url} (script {})",
            plugin.label(),
            args.script.display()
        );
    }

    let mut runs = Vec::new();
    for (index, call) in script.calls.iter().enumerate() {
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut waited_ms = 0;
        loop {
            let shown = runner.once(call, index).await?;
            let retry = retryable(&shown.outcome);
            attempts.push(Attempt {
                waited_ms,
                call: shown,
            });
            match retry {
                Some(after) if attempts.len() <= args.retries as usize => {
                    // The outbox's first backoff step, or the platform's wish.
                    waited_ms = after.unwrap_or(200).min(args.max_wait_ms);
                    tokio::time::sleep(Duration::from_millis(waited_ms)).await;
                }
                _ => break,
            }
        }
        let last = &attempts.last().expect("one attempt at least").call;
        let expect = expect_of(call);
        runs.push(CallRun {
            call: last.call.clone(),
            what: last.what.clone(),
            expect,
            outcome: last.outcome.kind().to_owned(),
            as_expected: last.outcome.kind() == expect.as_str(),
            attempts,
            second_run: SecondRun {
                outcome: String::new(),
                requests: 0,
                created_again: Vec::new(),
                idempotent: true,
            },
        });
    }

    // The second run: every call again, with the same idempotency keys, as
    // after an answer that was lost on the way back.
    lock(&fake).run = 2;
    for (index, call) in script.calls.iter().enumerate() {
        let before = lock(&fake).received.len();
        let shown = runner.once(call, index).await?;
        let f = lock(&fake);
        let second: Vec<&Received> = f.received[before..].iter().collect();
        let created_again: Vec<String> = second
            .iter()
            .filter(|r| r.route.is_some_and(|i| f.routes[i - 1].creates))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        let run = &mut runs[index];
        let outcome = shown.outcome.kind().to_owned();
        run.second_run = SecondRun {
            idempotent: created_again.is_empty() && outcome == run.outcome,
            outcome,
            requests: second.len(),
            created_again,
        };
    }
    server.abort();

    let f = lock(&fake);
    let unscripted: Vec<String> = f
        .received
        .iter()
        .filter(|r| r.route.is_none())
        .map(|r| format!("{} {} (run {})", r.method, r.path, r.run))
        .collect();
    let idempotent = runs.iter().all(|r| r.second_run.idempotent);
    let report = TestReport {
        plugin: plugin.label().to_owned(),
        script: args.script.clone(),
        platform: url.clone(),
        passed: idempotent && unscripted.is_empty() && runs.iter().all(|r| r.as_expected),
        idempotent,
        unscripted,
        calls: runs,
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn print(report: &TestReport) {
    for run in &report.calls {
        for (n, attempt) in run.attempts.iter().enumerate() {
            if n > 0 {
                out!("\n  retry {n} after {} ms", attempt.waited_ms);
            }
            attempt.call.print();
        }
        out!(
            "  expected {}: {}",
            run.expect.as_str(),
            if run.as_expected {
                "yes".to_owned()
            } else {
                format!("no, it ended {}", run.outcome)
            }
        );
    }
    out!("\nsecond run (every call again with the same idempotency key, as after a lost answer):");
    for run in &report.calls {
        let s = &run.second_run;
        let verdict = if !s.created_again.is_empty() {
            format!(
                "NOT idempotent: sent again what creates: {}",
                s.created_again.join(", ")
            )
        } else if s.outcome != run.outcome {
            format!(
                "NOT idempotent: ended {} where the first run ended {}",
                s.outcome, run.outcome
            )
        } else {
            "idempotent".to_owned()
        };
        out!(
            "  {} {}: {}, {} request(s); {verdict}",
            run.call,
            run.what,
            s.outcome,
            s.requests
        );
    }
    if !report.unscripted.is_empty() {
        out!("\nrequests the script has no route for (answered 501):");
        for r in &report.unscripted {
            out!("  {r}");
        }
    }
    let expected = report.calls.iter().filter(|r| r.as_expected).count();
    out!(
        "\nresult: {} — {expected} of {} call(s) as expected, {}, {} unscripted request(s)",
        if report.passed { "passed" } else { "FAILED" },
        report.calls.len(),
        if report.idempotent {
            "idempotent"
        } else {
            "not idempotent"
        },
        report.unscripted.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(text: &str) -> anyhow::Result<Script> {
        let script: Script = toml::from_str(text)?;
        script.check()?;
        Ok(script)
    }

    #[test]
    fn star_matches_one_segment() {
        assert!(path_matches("/orders/*/notes", "/orders/7/notes"));
        assert!(path_matches("/orders/7/", "/orders/7"));
        assert!(!path_matches("/orders/*", "/orders/7/notes"));
        assert!(!path_matches("/orders/8", "/orders/7"));
    }

    #[test]
    fn first_answers_come_once_then_the_normal_one_and_after_waits_for_its_request() {
        let s = script(
            r#"
            [[call]]
            call = "pull"
            [[route]]
            method = "GET"
            path = "/orders/*/notes"
            answer = { status = 200, json = [] }
            first = [{ status = 503, headers = { retry-after = "1" } }]
            [[route]]
            method = "GET"
            path = "/orders/*/notes"
            after = "POST /orders/7/notes"
            answer = { status = 200, json = [{ note = "x" }] }
            "#,
        )
        .unwrap();
        let mut fake = Fake {
            routes: s.routes,
            given: HashMap::new(),
            received: Vec::new(),
            run: 1,
        };
        assert_eq!(fake.answer("GET", "/orders/7/notes").1.status, 503);
        let (route, answer, _) = fake.answer("GET", "/orders/7/notes");
        assert_eq!((route, answer.status), (Some(0), 200));
        fake.received.push(Received {
            run: 1,
            method: "POST".into(),
            path: "/orders/7/notes".into(),
            route: None,
            status: 201,
        });
        assert_eq!(fake.answer("GET", "/orders/7/notes").0, Some(1));
        let (route, answer, _) = fake.answer("DELETE", "/orders/7");
        assert_eq!((route, answer.status), (None, 501));
    }

    #[test]
    fn a_bad_script_is_refused_naming_the_route() {
        let err = script(
            r#"
            [[call]]
            call = "pull"
            [[route]]
            method = "GET"
            path = "orders"
            answer = { status = 200 }
            "#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "route 1 (GET orders): the path must start with /"
        );
        let err = script("[[call]]\ncall = \"pull\"\nexpect = \"fine\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `fine`"), "{err}");
        let err = script("[[route]]\nmethod='GET'\npath='/'\nanswer={status=200}\n").unwrap_err();
        assert!(err.to_string().contains("missing field `call`"), "{err}");
    }
}
