//! Intake: the poll loop that pulls each polling channel's new and changed
//! orders through its plugin, and the webhook deliveries that
//! `POST /hooks/{channel}` hands over. Both import through the engine, in
//! one durable write with the channel's intake state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;

use statusport_core::domain::intake::{Batch, ImportReport, Inbound, IntakeError, IntakeState};
use statusport_core::domain::order::{Channel, ChannelId};
use statusport_core::domain::platform::PlatformError;
use statusport_core::engine::{CursorMove, Engine, EngineError};
use statusport_core::store::Store;
use statusport_runtime::call::CallContext;
use statusport_runtime::{CallError, ChannelContext, Registry};

/// Pulls in one run of a channel at most: a plugin that keeps saying "more"
/// yields to the other channels after this many.
const MAX_PULLS_PER_RUN: usize = 10_000;
/// The longest wait after failures in a row.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Why a pull or a webhook delivery did not come through.
#[derive(Debug, thiserror::Error)]
pub enum IntakeFailure {
    #[error("channel {0} does not exist")]
    NoChannel(String),
    /// The channel's plugin is not loaded, or takes nothing in.
    #[error("{0}")]
    NoIntake(String),
    /// The plugin reported the platform's failure (a bad signature is
    /// `auth`).
    #[error("{0}")]
    Platform(PlatformError),
    /// The plugin failed (a trap, a wrong answer) or the host could not run
    /// it.
    #[error("plugin: {0}")]
    Plugin(String),
    #[error("{0}")]
    Engine(#[from] EngineError),
}

impl IntakeFailure {
    /// The kind an operator reads on the channel: the plugin's error kinds,
    /// `plugin` or `store`.
    pub fn kind(&self) -> &'static str {
        match self {
            IntakeFailure::Platform(e) => match e {
                PlatformError::Transient { .. } => "transient",
                PlatformError::Rejected { .. } => "rejected",
                PlatformError::Auth { .. } => "auth",
                PlatformError::Config { .. } => "config",
                PlatformError::Unsupported { .. } => "unsupported",
            },
            IntakeFailure::NoChannel(_) | IntakeFailure::NoIntake(_) => "config",
            IntakeFailure::Plugin(_) => "plugin",
            IntakeFailure::Engine(_) => "store",
        }
    }

    /// How long the platform asked to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IntakeFailure::Platform(PlatformError::Transient {
                retry_after_ms: Some(ms),
                ..
            }) => Some(Duration::from_millis(*ms)),
            _ => None,
        }
    }
}

/// Takes orders in for every channel whose plugin has intake.
pub struct Intake {
    engine: Arc<Engine>,
    registry: Arc<Registry>,
}

impl Intake {
    pub fn new(engine: Arc<Engine>, registry: Arc<Registry>) -> Intake {
        Intake { engine, registry }
    }

    fn store(&self) -> &Arc<Store> {
        self.engine.store()
    }

    fn channel(&self, id: &str) -> Result<Channel, IntakeFailure> {
        self.store()
            .channel(id)
            .map_err(|e| IntakeFailure::Engine(e.into()))?
            .ok_or_else(|| IntakeFailure::NoChannel(id.to_owned()))
    }

    fn context(&self, channel: &Channel) -> Result<CallContext, IntakeFailure> {
        let channel_context = ChannelContext::of(channel)
            .map_err(|message| IntakeFailure::Platform(PlatformError::Config { message }))?;
        Ok(CallContext {
            channel: Arc::new(channel_context),
            state: self.store().clone(),
        })
    }

    fn plugin(
        &self,
        channel: &Channel,
    ) -> Result<Arc<statusport_runtime::LoadedPlugin>, IntakeFailure> {
        let plugin = self.registry.get(&channel.plugin).ok_or_else(|| {
            IntakeFailure::NoIntake(format!(
                "plugin {} of channel {} is not loaded",
                channel.plugin, channel.id
            ))
        })?;
        if !plugin.has_intake() {
            return Err(IntakeFailure::NoIntake(format!(
                "plugin {} of channel {} takes no orders in (contract {}; intake came with 1.1)",
                channel.plugin, channel.id, plugin.contract
            )));
        }
        Ok(plugin)
    }

    /// Pulls from the channel's cursor until the plugin has nothing more
    /// (or [`MAX_PULLS_PER_RUN`] pulls), each batch imported with its next
    /// cursor. The next batch is pulled while the one before is written:
    /// the plugin's call and the store's write run on both cores, and the
    /// cursor still moves only with the batch it belongs to, in order — a
    /// failure or a crash leaves it at the last batch written, and the
    /// batch pulled ahead is pulled again. Answers how many pulls it made.
    pub async fn pull_all(&self, channel: &Channel) -> Result<usize, IntakeFailure> {
        let plugin = self.plugin(channel)?;
        let context = self.context(channel)?;
        let mut batch = self.pull(&plugin, &context, self.cursor(channel)?).await?;
        let mut pulls = 1;
        loop {
            if !batch.more || pulls >= MAX_PULLS_PER_RUN {
                self.import(channel, batch).await?;
                return Ok(pulls);
            }
            let next_cursor = batch.next_cursor.clone();
            let engine = self.engine.clone();
            let id = channel.id.clone();
            let writing = tokio::spawn(async move {
                let imported = engine
                    .import(id.as_str(), &batch.items, CursorMove::To(batch.next_cursor))
                    .await;
                (id, imported)
            });
            let next = self.pull(&plugin, &context, next_cursor).await;
            let (id, imported) = writing
                .await
                .map_err(|e| IntakeFailure::Plugin(format!("the import stopped: {e}")))?;
            count(&id, &imported?);
            batch = next?;
            pulls += 1;
        }
    }

    fn cursor(&self, channel: &Channel) -> Result<Option<String>, IntakeFailure> {
        Ok(self
            .store()
            .intake_state(channel.id.as_str())
            .map_err(|e| IntakeFailure::Engine(e.into()))?
            .cursor)
    }

    /// The plugin's pull from `cursor`; a plugin that says more is waiting
    /// must move its cursor.
    async fn pull(
        &self,
        plugin: &statusport_runtime::LoadedPlugin,
        context: &CallContext,
        cursor: Option<String>,
    ) -> Result<Batch, IntakeFailure> {
        let report = self
            .registry
            .runtime()
            .pull(&plugin.callee(), context, cursor.as_deref())
            .await;
        let batch = report.result.map_err(call_failure)?;
        if batch.more && batch.next_cursor == cursor {
            return Err(IntakeFailure::Plugin(format!(
                "plugin {} says more orders wait, but its cursor did not move from {cursor:?}",
                plugin.label()
            )));
        }
        Ok(batch)
    }

    async fn import(&self, channel: &Channel, batch: Batch) -> Result<ImportReport, IntakeFailure> {
        let imported = self
            .engine
            .import(
                channel.id.as_str(),
                &batch.items,
                CursorMove::To(batch.next_cursor),
            )
            .await?;
        count(&channel.id, &imported);
        Ok(imported)
    }

    /// Pulls until the plugin has nothing more; a failure is recorded on the
    /// channel. Answers when to poll the channel next.
    pub async fn poll(&self, channel: &Channel) -> Duration {
        let every = Duration::from_secs(channel.poll_interval_secs.unwrap_or(60).into());
        match self.pull_all(channel).await {
            Ok(pulls) if pulls >= MAX_PULLS_PER_RUN => Duration::ZERO,
            Ok(_) => every,
            Err(failure) => self.failed(&channel.id, "pull", &failure, every).await,
        }
    }

    /// Hands a webhook delivery to the channel's plugin (which checks the
    /// platform's signature) and imports what it carries; answers once that
    /// is on disk.
    pub async fn webhook(
        &self,
        channel: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ImportReport, IntakeFailure> {
        let channel = self.channel(channel)?;
        let result = self.webhook_of(&channel, headers, body).await;
        if let Err(failure) = &result {
            let every = Duration::from_secs(channel.poll_interval_secs.unwrap_or(60).into());
            self.failed(&channel.id, "webhook", failure, every).await;
        }
        result
    }

    async fn webhook_of(
        &self,
        channel: &Channel,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ImportReport, IntakeFailure> {
        let plugin = self.plugin(channel)?;
        let context = self.context(channel)?;
        let report = self
            .registry
            .runtime()
            .accept_webhook(&plugin.callee(), &context, headers, body)
            .await;
        let items: Vec<Inbound> = report.result.map_err(call_failure)?;
        let imported = self
            .engine
            .import(channel.id.as_str(), &items, CursorMove::Keep)
            .await?;
        count(&channel.id, &imported);
        Ok(imported)
    }

    /// Records a failure on the channel and in the metrics; answers how long
    /// to wait before the next poll.
    async fn failed(
        &self,
        channel: &ChannelId,
        during: &str,
        failure: &IntakeFailure,
        every: Duration,
    ) -> Duration {
        let wait_after = |failures: u32| {
            failure
                .retry_after()
                .unwrap_or_else(|| backoff(every, failures))
        };
        let now = Timestamp::now();
        let not_before = |failures: u32| {
            jiff::SignedDuration::try_from(wait_after(failures))
                .ok()
                .and_then(|d| now.checked_add(d).ok())
        };
        tracing::warn!(channel = %channel, "intake {during} failed ({}): {failure}", failure.kind());
        metrics::counter!("statusport_intake_failures_total", "channel" => channel.to_string(), "during" => during.to_owned(), "kind" => failure.kind()).increment(1);
        let error = IntakeError {
            at: now,
            during: during.to_owned(),
            kind: failure.kind().to_owned(),
            message: failure.to_string(),
        };
        match self.engine.intake_failed(channel, error, not_before).await {
            Ok(state) => {
                gauge(channel, &state);
                wait_after(state.failures)
            }
            Err(e) => {
                tracing::error!(channel = %channel, "intake state: {e}");
                wait_after(1)
            }
        }
    }
}

fn call_failure(e: CallError) -> IntakeFailure {
    match e {
        CallError::Platform(e) => IntakeFailure::Platform(e),
        e => IntakeFailure::Plugin(e.to_string()),
    }
}

/// The wait after `failures` failures in a row: the poll interval doubled
/// for each failure after the first, at most an hour (or the interval, if
/// longer).
fn backoff(every: Duration, failures: u32) -> Duration {
    let cap = MAX_BACKOFF.max(every);
    every
        .checked_mul(1u32 << failures.saturating_sub(1).min(16))
        .unwrap_or(cap)
        .min(cap)
}

fn count(channel: &ChannelId, report: &ImportReport) {
    let counter = |outcome: &'static str, n: usize| {
        metrics::counter!("statusport_intake_items_total", "channel" => channel.to_string(), "outcome" => outcome)
            .increment(n as u64);
    };
    counter("created", report.created);
    counter("changed", report.changed);
    counter("unchanged", report.unchanged);
    counter("refused", report.refused.len());
    metrics::gauge!("statusport_intake_last_success_timestamp_seconds", "channel" => channel.to_string())
        .set(Timestamp::now().as_second() as f64);
    metrics::gauge!("statusport_intake_failing", "channel" => channel.to_string()).set(0.0);
}

fn gauge(channel: &ChannelId, state: &IntakeState) {
    metrics::gauge!("statusport_intake_failing", "channel" => channel.to_string())
        .set(f64::from(state.failures));
}

/// Polls every channel that has a poll interval, each on its own schedule,
/// until `stopped`. A channel's settings are read afresh at every run, so a
/// channel saved through the API polls on its new interval from its next
/// run.
pub async fn poll_loop(intake: Arc<Intake>, mut stopped: watch::Receiver<bool>) {
    let due: Arc<Mutex<BTreeMap<String, tokio::time::Instant>>> = Arc::default();
    let mut running: JoinSet<()> = JoinSet::new();
    let busy: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => {
                running.abort_all();
                return;
            }
        }
        while running.try_join_next().is_some() {}
        let channels = match intake.store().channels() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("intake: cannot read the channels: {e}");
                continue;
            }
        };
        let now = tokio::time::Instant::now();
        for channel in channels {
            if channel.poll_interval_secs.is_none() {
                continue;
            }
            let id = channel.id.to_string();
            if lock(&busy).contains(&id) {
                continue;
            }
            let next = *lock(&due)
                .entry(id.clone())
                .or_insert_with(|| first_due(&intake, &channel, now));
            if next > now {
                continue;
            }
            lock(&busy).insert(id.clone());
            let (intake, due, busy) = (intake.clone(), due.clone(), busy.clone());
            running.spawn(async move {
                let wait = intake.poll(&channel).await;
                lock(&due).insert(id.clone(), tokio::time::Instant::now() + wait);
                lock(&busy).remove(&id);
            });
        }
    }
}

/// When a channel first polls after a start: at once, unless the platform
/// asked to wait past now.
fn first_due(
    intake: &Intake,
    channel: &Channel,
    now: tokio::time::Instant,
) -> tokio::time::Instant {
    let not_before = intake
        .store()
        .intake_state(channel.id.as_str())
        .ok()
        .and_then(|s| s.not_before);
    match not_before {
        Some(at) => {
            let wait = at.duration_since(Timestamp::now());
            now + Duration::try_from(wait).unwrap_or(Duration::ZERO)
        }
        None => now,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_the_interval_up_to_an_hour() {
        let every = Duration::from_secs(60);
        assert_eq!(backoff(every, 1), Duration::from_secs(60));
        assert_eq!(backoff(every, 2), Duration::from_secs(120));
        assert_eq!(backoff(every, 4), Duration::from_secs(480));
        assert_eq!(backoff(every, 10), MAX_BACKOFF);
        assert_eq!(backoff(every, u32::MAX), MAX_BACKOFF);
        let daily = Duration::from_secs(86_400);
        assert_eq!(backoff(daily, 3), daily);
    }
}
