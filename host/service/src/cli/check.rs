//! `statusport plugin check`: loads a plugin as the host does, validates
//! its `describe`, and with `--against` runs `push-status`,
//! `upload-shipment` and (contract 1.1) one `pull` against a platform,
//! showing every request — optionally held to the platform's published API
//! description (`--spec`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use statusport_core::domain::platform::{Dimension, Origin, Platform};
use statusport_core::domain::shipment::{Package, PackageLine, Shipment};
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::{self, LoadedPlugin};
use statusport_runtime::{ChannelContext, MemoryState};

use super::RuntimeArgs;
use super::calls::{Outcome, Secrets, ShownCall, ShownRequest};

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// The plugin file.
    file: PathBuf,
    /// Base URL of a platform (or a fake one) to run push-status,
    /// upload-shipment and pull against.
    #[arg(long, value_name = "URL")]
    against: Option<String>,
    /// A channel config value, `name=value`; repeat for each field.
    #[arg(long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// An extra host granted to the plugin, `scheme://host[:port]`. For the
    /// check, an origin the plugin does not declare may be granted too (a
    /// staging or fake token endpoint); the check warns about it.
    #[arg(long = "grant", value_name = "ORIGIN")]
    grant: Vec<String>,
    /// The platform's order id used for the calls.
    #[arg(long, default_value = "1001")]
    order: String,
    /// The move to push, `dimension:from:to`; by default the first allowed
    /// move out of the order dimension's initial status.
    #[arg(long = "move", value_name = "DIMENSION:FROM:TO")]
    status_move: Option<String>,
    /// Tracking number of the test shipment.
    #[arg(long, default_value = "SPCHECK0001")]
    tracking_number: String,
    /// Carrier of the test shipment; by default the plugin's first carrier.
    #[arg(long)]
    carrier: Option<String>,
    /// The line of the order the test shipment carries (the platform's line
    /// item id); by default the parcel names no line: the whole order.
    #[arg(long)]
    line: Option<String>,
    /// The cursor the pull starts from (contract 1.1); by default none, as
    /// on a channel's first pull.
    #[arg(long)]
    cursor: Option<String>,
    /// The platform's published API description (OpenAPI 3.0, 3.1 or
    /// Swagger 2.0; JSON or YAML): every request sent to the platform, and
    /// its answer, is checked against it, and any mismatch fails the check.
    #[arg(long, value_name = "SPEC", requires = "against")]
    spec: Option<PathBuf>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Everything the check found, as printed or as JSON (`--json`).
#[derive(Serialize)]
struct CheckReport {
    file: PathBuf,
    plugin: PluginShown,
    /// Warnings about what the check was asked to do (a move the host would
    /// never push); they do not fail the check.
    warnings: Vec<String>,
    calls: Vec<ShownCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<SpecShown>,
    ok: bool,
}

#[derive(Serialize)]
struct PluginShown {
    contract: String,
    sha256: String,
    intake: bool,
    describe_ms: u128,
    /// `compiled now` or `from the compiled-code cache`.
    code: &'static str,
    #[serde(flatten)]
    platform: Platform,
}

#[derive(Serialize)]
struct SpecShown {
    file: PathBuf,
    dialect: String,
    operations: usize,
    requests_checked: usize,
    mismatches: usize,
}

/// The exchanges of `--spec` checked so far.
struct Conformance {
    description: statusport_spec::Description,
    base_url: String,
    origin: Option<Origin>,
    requests: usize,
    mismatches: usize,
}

impl Conformance {
    /// Checks one request and its answer; requests to another origin (a
    /// token endpoint the operator granted) are not the platform's API.
    fn check(&mut self, shown: &mut ShownRequest, sent: &statusport_runtime::call::SentRequest) {
        let origin = url::Url::parse(&sent.url)
            .ok()
            .and_then(|u| Origin::of_url(&u).ok());
        if origin.is_none() || origin != self.origin {
            shown.spec = Some(format!(
                "not checked: {} is another origin than the platform's API",
                origin
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| sent.url.clone())
            ));
            return;
        }
        self.requests += 1;
        let headers: Vec<(&str, &str)> = sent
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = json_body(&sent.body);
        let mut notes = Vec::new();
        if body.is_none() && sent.body.ends_with('…') {
            notes.push("request body not checked: it is longer than what the call recorded");
        }
        let request = statusport_spec::Request {
            method: &sent.method,
            url: &sent.url,
            base_url: Some(&self.base_url),
            headers: Some(&headers),
            body: body.as_ref(),
        };
        let mut mismatches = self.description.check_request(&request);
        if let (Some(status), Some(answer)) = (sent.status, &sent.answer) {
            let body = json_body(answer);
            if sent.answer_cut || (body.is_none() && !answer.trim().is_empty()) {
                notes.push(
                    "answer not checked: it is not JSON, or longer than what the call recorded",
                );
            } else {
                mismatches.extend(self.description.check_answer(
                    &request,
                    &statusport_spec::Answer {
                        status,
                        body: body.as_ref(),
                    },
                ));
            }
        }
        self.mismatches += mismatches.len();
        shown.spec = Some(if notes.is_empty() {
            if mismatches.is_empty() {
                "conforms".to_owned()
            } else {
                format!("{} mismatch(es)", mismatches.len())
            }
        } else {
            notes.join("; ")
        });
        shown.mismatches = mismatches.iter().map(ToString::to_string).collect();
    }

    fn apply(&mut self, call: &mut ShownCall, sent: &[statusport_runtime::call::SentRequest]) {
        for (shown, sent) in call.requests.iter_mut().zip(sent) {
            self.check(shown, sent);
        }
    }
}

/// A recorded body as JSON; `None` when empty or not JSON.
fn json_body(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text).ok()
}

pub(super) async fn check(args: CheckArgs, json: bool) -> anyhow::Result<ExitCode> {
    let runtime = args.runtime.runtime()?;
    let started = Instant::now();
    let mut plugin = match registry::load_file(&runtime, &args.file).await {
        Ok(p) => p,
        Err(reason) => {
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "file": args.file,
                        "refused": reason.to_string(),
                        "ok": false,
                    }))?
                );
            } else {
                out!("refused: {reason}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let describe_ms = started.elapsed().as_millis();
    if !json {
        super::print_platform(&plugin);
        out!(
            "\ndescribe: valid ({describe_ms} ms, code {})",
            code_source(&plugin)
        );
    }
    let mut report = CheckReport {
        file: args.file.clone(),
        plugin: PluginShown {
            contract: plugin.contract.to_string(),
            sha256: plugin.sha256.clone(),
            intake: plugin.has_intake(),
            describe_ms,
            code: code_source(&plugin),
            platform: plugin.platform.clone(),
        },
        warnings: Vec::new(),
        calls: Vec::new(),
        spec: None,
        ok: true,
    };
    if args.against.is_some() {
        // A granted origin the plugin does not declare (a fake or staging
        // token endpoint) is let through for this check only.
        for grant in &args.grant {
            let origin = Origin::parse(grant).map_err(|e| anyhow::anyhow!("--grant: {e}"))?;
            if !plugin.platform.extra_hosts.contains(&origin) {
                report.warnings.push(format!(
                    "--grant {origin}: the plugin does not declare this host; it is allowed for this check only (a channel can be granted only declared hosts)"
                ));
                plugin.platform.extra_hosts.push(origin);
            }
        }
        run_calls(&args, &plugin, &runtime, &mut report, json).await?;
    }
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else if let Some(spec) = &report.spec {
        out!(
            "\nspec: {} requests checked, {} mismatches",
            spec.requests_checked,
            spec.mismatches
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn code_source(plugin: &LoadedPlugin) -> &'static str {
    match plugin.source {
        statusport_runtime::runtime::CodeSource::Compiled => "compiled now",
        statusport_runtime::runtime::CodeSource::Cache => "from the compiled-code cache",
    }
}

/// The channel's config from `--config`, refused when a name is unknown or
/// a required field is missing.
fn channel_config(
    args: &CheckArgs,
    platform: &Platform,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut config = BTreeMap::new();
    for pair in &args.config {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--config \"{pair}\" must be name=value");
        };
        config.insert(name.to_owned(), value.to_owned());
    }
    check_config(platform, &config, "--config")?;
    Ok(config)
}

/// Refuses a config naming a field the plugin does not have, or missing a
/// required one; `given` says where it came from (`--config`).
pub(super) fn check_config(
    platform: &Platform,
    config: &BTreeMap<String, String>,
    given: &str,
) -> anyhow::Result<()> {
    if let Some(name) = config.keys().find(|n| platform.config_field(n).is_none()) {
        let known: Vec<&str> = platform.config.iter().map(|f| f.name.as_str()).collect();
        bail!(
            "{given}: \"{name}\" is not a config field of {} (known: {})",
            platform.id,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    let missing: Vec<&str> = platform
        .config
        .iter()
        .filter(|f| f.required && f.default_value.is_none() && !config.contains_key(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        bail!("{} needs {given} for: {}", platform.id, missing.join(", "));
    }
    Ok(())
}

/// The values of the plugin's secret fields in `config`.
pub(super) fn secrets_of(platform: &Platform, config: &BTreeMap<String, String>) -> Secrets {
    Secrets::new(
        platform
            .config
            .iter()
            .filter(|f| f.secret)
            .filter_map(|f| config.get(&f.name).cloned()),
    )
}

async fn run_calls(
    args: &CheckArgs,
    plugin: &LoadedPlugin,
    runtime: &Arc<statusport_runtime::Runtime>,
    report: &mut CheckReport,
    json: bool,
) -> anyhow::Result<()> {
    let base = args.against.as_deref().expect("run only with --against");
    let base_url =
        url::Url::parse(base).with_context(|| format!("--against \"{base}\" is not a URL"))?;
    let mut conformance = match &args.spec {
        Some(path) => {
            let description = statusport_spec::Description::load(path)
                .with_context(|| format!("--spec {}", path.display()))?;
            if !json {
                out!(
                    "spec: {} ({}, {} operations)",
                    path.display(),
                    description.dialect().as_str(),
                    description.operation_count()
                );
            }
            Some(Conformance {
                description,
                base_url: base.to_owned(),
                origin: Origin::of_url(&base_url).ok(),
                requests: 0,
                mismatches: 0,
            })
        }
        None => None,
    };
    let platform = &plugin.platform;
    let config = channel_config(args, platform)?;
    let secrets = secrets_of(platform, &config);
    let granted_hosts = args
        .grant
        .iter()
        .map(|g| Origin::parse(g).map_err(|e| anyhow::anyhow!("--grant: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let context = CallContext {
        channel: Arc::new(ChannelContext {
            id: "check".into(),
            base_url: Some(base_url),
            config,
            granted_hosts,
        }),
        state: Arc::new(MemoryState::default()),
    };

    let (dimension, from, to) = match &args.status_move {
        Some(text) => parse_move(text, platform)?,
        None => default_move(platform).context(
            "the plugin allows no move out of its first dimension's initial status; pass --move",
        )?,
    };
    if !platform.allows(dimension, &from, &to) {
        let why = if platform
            .status(dimension, &from)
            .is_some_and(|s| s.terminal)
        {
            format!("\"{from}\" is terminal: no move leaves it")
        } else {
            "the plugin declares no such transition".to_owned()
        };
        report.warnings.push(format!(
            "--move {dimension}:{from}:{to}: the host never pushes this move ({why}); pushed anyway to show what the platform answers"
        ));
    }
    if !json {
        for w in &report.warnings {
            out!("\nwarning: {w}");
        }
    }
    let push = runtime
        .push_status(
            &plugin.callee(),
            &context,
            &args.order,
            dimension,
            &from,
            &to,
            "statusport-check-push",
        )
        .await;
    let push_outcome = Outcome::of_receipt(&push.result);
    let mut calls = vec![(
        ShownCall::of(
            "push-status",
            format!("{} {dimension} {from} → {to}", args.order),
            &push,
            push_outcome,
            &secrets,
        ),
        push.sent,
    )];

    let carrier = args
        .carrier
        .clone()
        .or_else(|| platform.carriers.first().cloned())
        .unwrap_or_else(|| "dhl".into());
    let shipment = Shipment {
        id: "statusport-check-shipment".into(),
        platform_order_id: args.order.clone(),
        shipped_at: "2026-01-15T10:00:00Z".into(),
        packages: vec![Package {
            carrier,
            tracking_number: args.tracking_number.clone(),
            tracking_url: Some(format!("https://tracking.example/{}", args.tracking_number)),
            lines: args
                .line
                .iter()
                .map(|line| PackageLine {
                    line_id: line.clone(),
                    quantity: 1,
                })
                .collect(),
        }],
    };
    let upload = runtime
        .upload_shipment(
            &plugin.callee(),
            &context,
            &shipment,
            "statusport-check-upload",
        )
        .await;
    let upload_outcome = Outcome::of_receipt(&upload.result);
    calls.push((
        ShownCall::of(
            "upload-shipment",
            format!("{} tracking {}", args.order, args.tracking_number),
            &upload,
            upload_outcome,
            &secrets,
        ),
        upload.sent,
    ));

    if plugin.has_intake() {
        let pull = runtime
            .pull(&plugin.callee(), &context, args.cursor.as_deref())
            .await;
        let outcome = Outcome::of_batch(&pull.result);
        calls.push((
            ShownCall::of(
                "pull",
                match &args.cursor {
                    Some(c) => format!("from cursor \"{c}\""),
                    None => "from the start (no cursor)".to_owned(),
                },
                &pull,
                outcome,
                &secrets,
            ),
            pull.sent,
        ));
    }

    for (mut call, sent) in calls {
        if let Some(c) = conformance.as_mut() {
            c.apply(&mut call, &sent);
        }
        // A platform that cannot do a thing says so: that is an answer.
        if matches!(call.outcome, Outcome::Failed { .. }) {
            report.ok = false;
        }
        if !json {
            call.print();
        }
        report.calls.push(call);
    }
    if let (Some(c), Some(path)) = (conformance, &args.spec) {
        if c.mismatches > 0 {
            report.ok = false;
        }
        report.spec = Some(SpecShown {
            file: path.clone(),
            dialect: c.description.dialect().as_str().to_owned(),
            operations: c.description.operation_count(),
            requests_checked: c.requests,
            mismatches: c.mismatches,
        });
    }
    Ok(())
}

fn parse_move(text: &str, platform: &Platform) -> anyhow::Result<(Dimension, String, String)> {
    let (dimension, from, to) = split_move(text, "--move")?;
    for code in [&from, &to] {
        if platform.status(dimension, code).is_none() {
            let known: Vec<&str> = platform
                .statuses_of(dimension)
                .map(|s| s.code.as_str())
                .collect();
            bail!(
                "--move: \"{code}\" is not a {dimension} status of {} (known: {})",
                platform.id,
                known.join(", ")
            );
        }
    }
    Ok((dimension, from, to))
}

/// `dimension:from:to`; `given` names the option or field in the error.
pub(super) fn split_move(text: &str, given: &str) -> anyhow::Result<(Dimension, String, String)> {
    let parts: Vec<&str> = text.split(':').collect();
    let [dimension, from, to] = parts[..] else {
        bail!("{given} \"{text}\" must be dimension:from:to, e.g. order:pending:processing");
    };
    let dimension = match dimension {
        "order" => Dimension::Order,
        "payment" => Dimension::Payment,
        "delivery" => Dimension::Delivery,
        other => bail!("{given}: \"{other}\" is not a dimension (order, payment, delivery)"),
    };
    Ok((dimension, from.to_owned(), to.to_owned()))
}

/// The first move the platform allows out of the order dimension's start;
/// none when no move leaves it (`--move` must then say which to push).
fn default_move(platform: &Platform) -> Option<(Dimension, String, String)> {
    let dimension = *platform.dimensions().first()?;
    let first = platform.statuses_of(dimension).next()?;
    let start = platform
        .statuses_of(dimension)
        .find(|s| s.initial)
        .unwrap_or(first);
    platform
        .statuses_of(dimension)
        .find(|s| s.code != start.code && platform.allows(dimension, &start.code, &s.code))
        .map(|to| (dimension, start.code.clone(), to.code.clone()))
}
