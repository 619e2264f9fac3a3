//! `statusport serve`: the store, the plugins, the engine with its timer,
//! the outbox and the HTTP API, started in that order and stopped in the
//! reverse one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::auth::{NewToken, Role, Tokens};
use crate::config::Config;
use crate::intake::{self, Intake};
use crate::notify::mail::Mailer;
use crate::notify::sms::SmsGateway;
use crate::notify::webhook::WebhookSender;
use crate::outbox::{Outbox, Services, ShutdownReport};
use statusport_core::engine::{Engine, rulesets};
use statusport_core::store::Store;
use statusport_runtime::{Registry, Runtime};

/// A running host.
pub struct Server {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub store: Arc<Store>,
    pub tokens: Arc<Tokens>,
    /// Where the first start wrote the admin token, when it made one.
    pub admin_token_file: Option<PathBuf>,
    outbox: Outbox,
    /// Reloads the plugin folder when a file in it changes.
    _plugin_watch: Option<statusport_runtime::registry::Watch>,
    stop: watch::Sender<bool>,
    http: tokio::task::JoinHandle<()>,
    tick: tokio::task::JoinHandle<()>,
    polls: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts everything; an error names the part that could not start.
    pub async fn start(config: &Config) -> anyhow::Result<Server> {
        config.check()?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let store = Arc::new(Store::open(&config.store_dir()).with_context(|| {
            format!(
                "cannot open the store in {} (is another host running on this data directory?)",
                config.store_dir().display()
            )
        })?);
        apply_numbering(config, &store)?;
        if !config.plugin_dir.is_dir() {
            anyhow::bail!(
                "plugin_dir {} does not exist; build the plugins with `cargo xtask plugins` or set plugin_dir in the config file",
                config.plugin_dir.display()
            );
        }
        let runtime = Runtime::new(config.plugins.limits(), Some(config.cache_dir()))?;
        let registry = Registry::open(runtime, &config.plugin_dir)
            .await
            .map_err(|e| anyhow::anyhow!("plugins: {e}"))?;
        for refusal in registry.refusals() {
            tracing::warn!(
                "plugin {} refused: {}",
                refusal.file.display(),
                refusal.reason
            );
        }
        let plugin_watch = match registry.watch() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("{e}; plugins change only at the next start");
                None
            }
        };
        let engine = Arc::new(Engine::new(store.clone(), registry.clone())?);
        if engine.templates()?.is_empty() {
            rulesets::install_templates(&engine)?;
        }
        let tokens = Arc::new(Tokens::open(store.clone())?);
        let admin_token_file = if tokens.is_empty() {
            Some(first_admin_token(config, &tokens)?)
        } else {
            None
        };

        let mailer = Mailer::new(&config.mail, &config.mail_spool())
            .map_err(|e| anyhow::anyhow!("mail: {e}"))?;
        let sms = match &config.sms {
            Some(sms) => Some(Arc::new(
                SmsGateway::new(sms).map_err(|e| anyhow::anyhow!("sms: {e}"))?,
            )),
            None => None,
        };
        let webhooks = WebhookSender::new(Duration::from_secs(10))
            .map_err(|e| anyhow::anyhow!("webhooks: {e}"))?;
        let outbox = Outbox::start(
            store.clone(),
            Services {
                plugins: Some(registry.clone()),
                mailer: Some(Arc::new(mailer)),
                sms,
                webhooks: Arc::new(webhooks),
            },
            config.outbox.clone(),
        )
        .map_err(|e| anyhow::anyhow!("outbox: {e}"))?;

        for id in engine.unfinished_bulk_jobs()? {
            tracing::info!("resuming bulk job {id}");
            engine.clone().bulk_spawn(id);
        }

        // The recorder first: the timer counts from its first tick.
        let metrics = api::metrics_handle();
        let (stop, stopped) = watch::channel(false);
        let tick = tokio::spawn(tick_loop(
            engine.clone(),
            Duration::from_secs(config.engine.tick_secs),
            stopped.clone(),
        ));

        let intake = Arc::new(Intake::new(engine.clone(), registry.clone()));
        let polls = tokio::spawn(intake::poll_loop(intake.clone(), stopped.clone()));
        let state = Arc::new(AppState {
            engine: engine.clone(),
            store: store.clone(),
            registry: Some(registry),
            intake: Some(intake),
            tokens: tokens.clone(),
            config: config.api.clone(),
            metrics,
        });
        let (router, _) = api::router(state);
        let listener = tokio::net::TcpListener::bind(config.listen_addr())
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (in use? set listen in the config file or STATUSPORT_LISTEN)",
                    config.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let mut http_stopped = stopped;
        let http = tokio::spawn(async move {
            let shutdown = async move {
                let _ = http_stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!("HTTP server: {e}");
            }
        });
        Ok(Server {
            addr,
            engine,
            store,
            tokens,
            admin_token_file,
            outbox,
            _plugin_watch: plugin_watch,
            stop,
            http,
            tick,
            polls,
        })
    }

    /// Stops taking requests, lets the outbox finish what is in flight for
    /// up to `grace`, and flushes the store.
    pub async fn shutdown(self, grace: Duration) -> anyhow::Result<ShutdownReport> {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, self.http).await;
        self.tick.abort();
        // A pull stopped halfway imports nothing of its batch: the cursor
        // moves only with what the batch produced.
        self.polls.abort();
        let report = self.outbox.shutdown(grace).await;
        self.store.flush_blocking()?;
        Ok(report)
    }
}

/// The config file's `[numbering]` over the stored numbering: the file is
/// the operator's word at each start, so a key it gives replaces a value set
/// through the API since. A start it would lower to or below a number
/// already drawn stops the start, naming that number.
fn apply_numbering(config: &Config, store: &Store) -> anyhow::Result<()> {
    if config.numbering.is_empty() {
        return Ok(());
    }
    let stored = store.numbering()?;
    let wanted = config.numbering.over(&stored);
    if wanted == stored {
        return Ok(());
    }
    store.set_numbering(&wanted).map_err(|e| {
        anyhow::anyhow!(
            "[numbering] in the config file: {e}; change the key in the config file (or remove it to keep the stored value, see `statusport numbering show`)"
        )
    })?;
    tracing::info!(
        "numbering from the config file: orders {}{}…, invoices {}{}…",
        wanted.order_prefix,
        wanted.order_start,
        wanted.invoice_prefix,
        wanted.invoice_start
    );
    Ok(())
}

/// The first start has no tokens: make an admin token and leave it in the
/// data directory, readable by its owner only.
fn first_admin_token(config: &Config, tokens: &Tokens) -> anyhow::Result<PathBuf> {
    let (_, text) = tokens.create(NewToken {
        owner: "admin".into(),
        role: Role::Admin,
        channel: None,
    })?;
    let path = config.data_dir.join("admin-token");
    write_private(&path, &format!("{text}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Runs the timer rules (dunning) every `every`.
async fn tick_loop(engine: Arc<Engine>, every: Duration, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        match engine.tick().await {
            Ok(tick) => {
                if tick.applied > 0 {
                    tracing::info!("timer rules changed {} orders", tick.applied);
                }
                if tick.woken > 0 {
                    tracing::info!("woke the orders of {} goods receipts", tick.woken);
                }
                if !tick.failed.is_empty() {
                    tracing::warn!(
                        "timer rules: {} orders failed and are tried again on the next tick",
                        tick.failed.len()
                    );
                }
            }
            Err(e) => tracing::error!("timer rules: {e}"),
        }
    }
}
