//! Command-line interface: argument parsing and what each command prints.

/// Prints a line; a closed stdout (`statusport … | head`) ends the command
/// quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod calls;
mod check;
mod scaffold;
mod script;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use statusport_core::domain::platform::Origin;
use statusport_runtime::registry::LoadedPlugin;
use statusport_runtime::{Limits, Registry, Runtime};

#[derive(Parser, Debug)]
#[command(name = "statusport", version, about = "Order-status middleware")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    server: crate::client::ServerArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the host: the HTTP API, the rules and the outbox.
    Serve(ConfigArgs),
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Orders: list, show, import, post events, change status, cancel,
    /// approve, ship.
    #[command(subcommand)]
    Order(crate::client::OrderCommand),
    /// Rules: list, show, import a TOML rule set, export, delete.
    #[command(subcommand)]
    Rule(crate::client::RuleCommand),
    /// Platform plugins: the loaded ones with their statuses, check one
    /// file, list a directory.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Outbox jobs: list the failed ones, show one, retry or drop it.
    /// Over the API; with --data-dir, on a stopped host's store.
    #[command(subcommand)]
    Job(JobCommand),
    /// Exports orders as CSV, XML or JSON.
    Export(crate::client::ExportArgs),
    /// Bulk jobs over many orders: dry run, start (with progress), status,
    /// cancel.
    #[command(subcommand)]
    Bulk(crate::client::BulkCommand),
    /// API tokens: create, list, revoke.
    #[command(subcommand)]
    Token(crate::client::TokenCommand),
    /// Order and invoice numbers: show or set their start numbers and
    /// prefixes.
    #[command(subcommand)]
    Numbering(crate::client::NumberingCommand),
}

#[derive(Args, Debug)]
struct ConfigArgs {
    /// The configuration file (TOML); without one, the defaults and the
    /// STATUSPORT_* environment apply.
    #[arg(long, env = "STATUSPORT_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Reads and checks the configuration, then prints it with every
    /// default filled in.
    Check(ConfigArgs),
}

#[derive(Subcommand, Debug)]
enum JobCommand {
    /// Lists the failed jobs, oldest first, with why each failed.
    Failed(DataArgs),
    /// Shows one job: what it does, its attempts and how it ended.
    Show(JobArgs),
    /// Puts a failed job back in the queue, due now.
    Retry(JobArgs),
    /// Ends a failed job without delivering it.
    Drop(DropArgs),
}

#[derive(Args, Debug)]
struct DataArgs {
    /// Work on a stopped host's data directory instead of over the API.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct JobArgs {
    /// The job's id.
    id: u64,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args, Debug)]
struct DropArgs {
    /// The job's id.
    id: u64,
    /// Who drops it, for the record.
    #[arg(long, env = "USER", default_value = "operator")]
    by: String,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Loads a plugin in the sandbox, validates its describe and prints its
    /// statuses; with --against, calls push-status, upload-shipment and
    /// (contract 1.1) pull against a platform and shows every request.
    Check(check::CheckArgs),
    /// Runs a plugin against a scripted platform (a TOML file of calls and
    /// canned answers): retries, expectations, and whether a second run
    /// with the same idempotency keys created anything twice.
    Test(script::TestArgs),
    /// Creates a plugin crate to start from: Cargo.toml, describe, push,
    /// upload, intake, unit tests and a script for `plugin test`.
    New(scaffold::NewArgs),
    /// Loads every plugin of a directory and shows what was loaded and why
    /// anything was refused.
    List(ListArgs),
}

#[derive(Args, Debug)]
struct RuntimeArgs {
    /// Where compiled plugin code is cached between runs.
    #[arg(
        long,
        env = "STATUSPORT_CACHE_DIR",
        default_value = "statusport-data/compiled"
    )]
    cache_dir: PathBuf,
    /// Wall-clock limit of one plugin call, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    deadline_ms: u64,
    /// Memory cap of one plugin call, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory_mib: u64,
}

impl RuntimeArgs {
    fn runtime(&self) -> anyhow::Result<Arc<Runtime>> {
        let limits = Limits {
            memory_bytes: (self.memory_mib as usize) * 1024 * 1024,
            deadline: Duration::from_millis(self.deadline_ms),
            ..Limits::default()
        };
        Ok(Runtime::new(limits, Some(self.cache_dir.clone()))?)
    }
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Load the plugins of this directory here instead of asking the host.
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let json = cli.server.json;
    let client = || crate::client::Client::new(&cli.server);
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Config(ConfigCommand::Check(args)) => {
            let config = statusport::config::Config::load(args.config.as_deref())?;
            out!("# configuration is valid; with every default filled in:\n");
            out!("{}", config.to_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Order(command) => crate::client::order(&client()?, command).await,
        Command::Rule(command) => crate::client::rule(&client()?, command).await,
        Command::Plugin(PluginCommand::Check(args)) => check::check(args, json).await,
        Command::Plugin(PluginCommand::Test(args)) => script::test(args, json).await,
        Command::Plugin(PluginCommand::New(args)) => scaffold::new(args),
        Command::Plugin(PluginCommand::List(args)) => match args.dir.clone() {
            Some(dir) => list(args, dir, json).await,
            None => crate::client::plugins(&client()?).await,
        },
        Command::Job(command) => match command.data_dir() {
            Some(dir) => job(command, &dir, json),
            None => api_job(&client()?, command).await,
        },
        Command::Export(args) => crate::client::export(&client()?, args).await,
        Command::Bulk(command) => crate::client::bulk(&client()?, command).await,
        Command::Token(command) => crate::client::token(&client()?, command).await,
        Command::Numbering(command) => crate::client::numbering(&client()?, command).await,
    }
}

async fn serve(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let config = statusport::config::Config::load(args.config.as_deref())?;
    let server = statusport::server::Server::start(&config).await?;
    eprintln!(
        "statusport {} listening on http://{} (data in {}, plugins from {})",
        env!("CARGO_PKG_VERSION"),
        server.addr,
        config.data_dir.display(),
        config.plugin_dir.display()
    );
    if let Some(file) = &server.admin_token_file {
        eprintln!(
            "first start: an admin token was written to {} (the CLI reads it from there)",
            file.display()
        );
    }
    shutdown_signal().await;
    eprintln!("stopping: finishing the jobs in flight (up to 10 s)");
    let report = server.shutdown(Duration::from_secs(10)).await?;
    eprintln!("{}", stopped(&report));
    Ok(ExitCode::SUCCESS)
}

/// What `serve` says when it has stopped.
fn stopped(report: &statusport::outbox::ShutdownReport) -> String {
    let attempts = |n: usize| match n {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    };
    match (report.finished, report.released) {
        (0, 0) => "stopped: no job was in flight.".to_owned(),
        (finished, 0) => format!("stopped: {} in flight finished.", attempts(finished)),
        (finished, released) => format!(
            "stopped: {} in flight finished, {} cut off after the grace period; {} at the next start, with the same idempotency key.",
            attempts(finished),
            attempts(released),
            if released == 1 {
                "its job runs again"
            } else {
                "their jobs run again"
            }
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

impl JobCommand {
    fn data_dir(&self) -> Option<PathBuf> {
        match self {
            JobCommand::Failed(d) => d.data_dir.clone(),
            JobCommand::Show(a) | JobCommand::Retry(a) => a.data.data_dir.clone(),
            JobCommand::Drop(a) => a.data.data_dir.clone(),
        }
    }
}

/// The job commands over the API.
async fn api_job(client: &crate::client::Client, command: JobCommand) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    use statusport_core::store::JobRecord;
    match command {
        JobCommand::Failed(_) => {
            let failed: Vec<JobRecord> = serde_json::from_value(serde_json::Value::Array(
                crate::client::jobs_failed(client).await?,
            ))?;
            print_failed(failed, client.json)
        }
        JobCommand::Show(args) => {
            let record =
                crate::client::job(client, &format!("/api/jobs/{}", args.id), Method::GET).await?;
            print_job(serde_json::from_value(record)?, client.json)
        }
        JobCommand::Retry(args) => {
            crate::client::job(
                client,
                &format!("/api/jobs/{}/retry", args.id),
                Method::POST,
            )
            .await?;
            out!("job {} will run again now", args.id);
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Drop(args) => {
            crate::client::job(client, &format!("/api/jobs/{}/drop", args.id), Method::POST)
                .await?;
            out!("job {} dropped", args.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open_store(data_dir: &Path) -> anyhow::Result<statusport_core::store::Store> {
    let dir = data_dir.join("store");
    if !dir.is_dir() {
        bail!(
            "{} holds no store; give the host's data directory with --data-dir",
            data_dir.display()
        );
    }
    statusport_core::store::Store::open(&dir).with_context(|| {
        format!(
            "cannot open the store in {} (a running host holds it: stop it first)",
            dir.display()
        )
    })
}

fn job(command: JobCommand, data_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    use statusport::outbox;
    use statusport_core::store::JobRecord;
    let store = open_store(data_dir)?;
    match command {
        JobCommand::Failed(_) => {
            let failed = store
                .failed_jobs()?
                .into_iter()
                .map(|(job, state)| JobRecord::new(job, Some(state), None))
                .collect();
            print_failed(failed, json)
        }
        JobCommand::Show(args) => {
            let Some(job) = store.job(args.id)? else {
                bail!("job {} does not exist", args.id);
            };
            let state = store.job_state(job.id)?;
            let done = store.job_done(job.id)?;
            print_job(JobRecord::new(job, state, done), json)
        }
        JobCommand::Retry(args) => {
            outbox::retry(&store, args.id)?;
            store.flush_blocking()?;
            out!("job {} will run again at the host's next start", args.id);
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Drop(args) => {
            outbox::drop_job(&store, args.id, &args.by)?;
            store.flush_blocking()?;
            out!("job {} dropped by {}", args.id, args.by);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_failed(
    failed: Vec<statusport_core::store::JobRecord>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if json {
        out!("{}", serde_json::to_string_pretty(&failed)?);
        return Ok(ExitCode::SUCCESS);
    }
    if failed.is_empty() {
        out!("no failed jobs");
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{:<10} {:<8} {:<10} {:<17} {:<12} {:>8}  why",
        "job",
        "order",
        "channel",
        "kind",
        "failure",
        "attempts"
    );
    for record in failed {
        let Some(state) = record.state else {
            continue;
        };
        let job = record.job;
        let failure = state
            .failure
            .unwrap_or(statusport_core::domain::job::Failure {
                kind: statusport_core::domain::job::FailureKind::GaveUp,
                message: String::new(),
            });
        out!(
            "{:<10} {:<8} {:<10} {:<17} {:<12} {:>8}  {}",
            job.id,
            job.order.to_string(),
            job.channel.to_string(),
            job.kind.name(),
            failure.kind.as_str(),
            state.attempts,
            failure.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_job(record: statusport_core::store::JobRecord, json: bool) -> anyhow::Result<ExitCode> {
    use statusport_core::domain::job::JobOutcome;
    if json {
        out!("{}", serde_json::to_string_pretty(&record)?);
        return Ok(ExitCode::SUCCESS);
    }
    let statusport_core::store::JobRecord {
        job, state, done, ..
    } = record;
    out!(
        "job {} — {} for order {} on channel {}",
        job.id,
        job.kind.name(),
        job.order,
        job.channel
    );
    out!("  key       {}", job.idempotency_key);
    out!(
        "  event     {}{}",
        job.event,
        job.rule
            .as_deref()
            .map(|r| format!(" (rule {r})"))
            .unwrap_or_default()
    );
    out!("  created   {}", job.created);
    let history = match (&state, &done) {
        (Some(state), _) => {
            match &state.failure {
                Some(f) => out!("  status    failed ({}): {}", f.kind.as_str(), f.message),
                None => out!("  status    waiting, next attempt at {}", state.due),
            }
            state.history.clone()
        }
        (None, Some(done)) => {
            match &done.outcome {
                JobOutcome::Delivered { receipt } => out!(
                    "  status    delivered at {}: {}{}",
                    done.at,
                    receipt.summary,
                    receipt
                        .reference
                        .as_deref()
                        .map(|r| format!(" [{r}]"))
                        .unwrap_or_default()
                ),
                JobOutcome::Dropped { by, .. } => {
                    out!("  status    dropped by {by} at {}", done.at)
                }
            }
            done.history.clone()
        }
        (None, None) => Vec::new(),
    };
    for attempt in history {
        out!(
            "  attempt   {} {:>6} ms {} {}",
            attempt.at,
            attempt.took_ms,
            if attempt.ok { "ok    " } else { "failed" },
            attempt.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_platform(plugin: &LoadedPlugin) {
    let p = &plugin.platform;
    out!(
        "plugin {} {} \"{}\" — contract statusport:adapter@{}",
        p.id,
        p.version,
        p.name,
        plugin.contract
    );
    out!("  file    {}", plugin.file.display());
    out!("  sha256  {}", plugin.sha256);
    for dimension in p.dimensions() {
        let statuses: Vec<_> = p.statuses_of(dimension).collect();
        let moves = if p.has_graph(dimension) {
            "moves by declared transitions"
        } else {
            "any move allowed"
        };
        out!("\n{dimension} statuses ({}, {moves}):", statuses.len());
        for s in statuses {
            let mut flags = Vec::new();
            if s.initial {
                flags.push("initial");
            }
            if s.terminal {
                flags.push("terminal");
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!("[{}]", flags.join(", "))
            };
            out!("  {:<22} {:<26} {flags}", s.code, s.label);
        }
        if p.has_graph(dimension) {
            out!("{dimension} transitions:");
            let mut by_from: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for t in p.transitions.iter().filter(|t| t.dimension == dimension) {
                by_from.entry(&t.from).or_default().push(&t.to);
            }
            for (from, to) in by_from {
                out!("  {from:<22} → {}", to.join(", "));
            }
        }
    }
    out!(
        "\ncarriers: {}",
        if p.carriers.is_empty() {
            "none".to_owned()
        } else {
            p.carriers.join(", ")
        }
    );
    out!("config fields:");
    if p.config.is_empty() {
        out!("  none");
    }
    for f in &p.config {
        let mut flags = vec![if f.required { "required" } else { "optional" }];
        if f.secret {
            flags.push("secret");
        }
        let default = f
            .default_value
            .as_ref()
            .map(|d| format!(" (default \"{d}\")"))
            .unwrap_or_default();
        out!(
            "  {:<20} {:<18} {}{default}",
            f.name,
            flags.join(", "),
            f.help
        );
    }
    let hosts: Vec<String> = p.extra_hosts.iter().map(Origin::to_string).collect();
    out!(
        "extra hosts: {}",
        if hosts.is_empty() {
            "none".to_owned()
        } else {
            hosts.join(", ")
        }
    );
}

async fn list(args: ListArgs, dir: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let runtime = args.runtime.runtime()?;
    let registry = Registry::open(runtime, &dir)
        .await
        .map_err(anyhow::Error::msg)?;
    let plugins = registry.plugins();
    let refused = registry.refusals();
    if json {
        let loaded: Vec<_> = plugins
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.platform.id,
                    "name": p.platform.name,
                    "version": p.platform.version.to_string(),
                    "contract": p.contract.to_string(),
                    "file": p.file,
                    "code": p.source,
                    "dimensions": p.platform.dimensions(),
                    "statuses": p.platform.statuses.len(),
                })
            })
            .collect();
        out!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "loaded": loaded, "refused": refused })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!("plugins in {}:", registry.dir().display());
    out!(
        "  {:<14} {:<9} {:<9} {:<26} {:<8} file",
        "id",
        "version",
        "contract",
        "dimensions",
        "code"
    );
    for p in &plugins {
        let dims: Vec<&str> = p.platform.dimensions().iter().map(|d| d.as_str()).collect();
        out!(
            "  {:<14} {:<9} {:<9} {:<26} {:<8} {}",
            p.platform.id,
            p.platform.version.to_string(),
            p.contract.to_string(),
            dims.join(","),
            match p.source {
                statusport_runtime::runtime::CodeSource::Compiled => "compiled",
                statusport_runtime::runtime::CodeSource::Cache => "cached",
            },
            file_name(&p.file)
        );
    }
    if plugins.is_empty() {
        out!("  (none)");
    }
    if !refused.is_empty() {
        out!("\nrefused:");
        for r in &refused {
            out!("  {}", r.reason);
            if let Some(serving) = &r.still_serving {
                out!("    still serving the earlier {serving}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
