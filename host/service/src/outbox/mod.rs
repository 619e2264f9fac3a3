//! The outbox: runs the jobs that status changes wrote — platform pushes,
//! shipment uploads, email, SMS, webhooks — at least once, and exactly once
//! in effect.
//!
//! Jobs live in the store from the commit that caused them until they are
//! delivered or an operator drops them; nothing about a job is only in
//! memory. One dispatcher task keeps a schedule of the active jobs, starts
//! those that are due within the limits (in flight overall, per channel at
//! once, per channel per second), and hands each to a task of its own.
//! A task records its attempt in the store before the dispatcher hears of
//! it, so a crash at any moment leaves every job either delivered (with its
//! receipt) or still waiting, to be sent again with the same idempotency
//! key.
//!
//! Platform jobs of one order run one at a time, oldest first: a status
//! push never overtakes the shipment upload before it, and a failed one
//! holds back the ones after it until an operator retries or drops it.
//! Transient failures (a 5xx, a 429, a plugin trap, a timeout) are tried
//! again with exponential backoff and jitter, or after the platform's
//! Retry-After; refusals, auth and config errors fail the job at once with
//! the platform's message.

mod run;
pub mod schedule;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::notify::mail::Mailer;
use crate::notify::sms::SmsGateway;
use crate::notify::webhook::WebhookSender;
use schedule::Schedule;
use statusport_core::domain::event::Job;
use statusport_core::domain::job::{JobDone, JobOutcome, JobState, JobStatus};
use statusport_core::domain::order::ChannelId;
use statusport_core::store::{Store, StoreError};
use statusport_runtime::registry::Registry;

/// Limits and retry policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Jobs running at once, over all channels.
    pub workers: usize,
    /// Platform jobs running at once for one channel, unless the channel
    /// sets its own.
    pub channel_concurrency: u32,
    /// Platform calls per second for one channel, unless the channel sets
    /// its own; 0 for no limit.
    pub channel_rate_per_second: u32,
    /// Attempts before a job that keeps failing transiently is failed.
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// The longest one attempt may take, over the plugin's own deadline.
    pub attempt_timeout_secs: u64,
    /// Email and SMS older than this when their turn comes (an outbox that
    /// was stopped or unconfigured for days) fail as expired instead of
    /// reaching a customer late; an operator's retry sends them anyway.
    /// 0 for no limit.
    pub message_max_age_hours: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            workers: 64,
            channel_concurrency: 8,
            channel_rate_per_second: 0,
            max_attempts: 15,
            backoff_base_ms: 2_000,
            backoff_max_ms: 3_600_000,
            attempt_timeout_secs: 60,
            message_max_age_hours: 48,
        }
    }
}

impl OutboxConfig {
    /// Checks the values; the error names the one that is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.workers == 0 {
            return Err("outbox.workers must be at least 1".into());
        }
        if self.channel_concurrency == 0 {
            return Err("outbox.channel_concurrency must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return Err("outbox.max_attempts must be at least 1".into());
        }
        if self.backoff_base_ms == 0 || self.backoff_max_ms < self.backoff_base_ms {
            return Err(
                "outbox.backoff_base_ms must be at least 1 and backoff_max_ms at least as large"
                    .into(),
            );
        }
        if self.attempt_timeout_secs == 0 {
            return Err("outbox.attempt_timeout_secs must be at least 1".into());
        }
        Ok(())
    }

    /// The delay before attempt `attempts + 1`: doubling from the base, up
    /// to the cap, with jitter over its upper half so that jobs failed
    /// together do not come back together.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(40);
        let delay = self
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.backoff_max_ms);
        let half = delay / 2;
        Duration::from_millis(half + fastrand::u64(0..=delay - half))
    }
}

/// What jobs are delivered with. A service left out fails the jobs that
/// need it, with a message saying what to configure; they wait for a retry.
pub struct Services {
    pub plugins: Option<Arc<Registry>>,
    pub mailer: Option<Arc<Mailer>>,
    pub sms: Option<Arc<SmsGateway>>,
    pub webhooks: Arc<WebhookSender>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("job {0} does not exist")]
    NotFound(u64),
    #[error("job {id} is {state}; only failed jobs can be {action}")]
    NotFailed {
        id: u64,
        state: String,
        action: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The running dispatcher.
pub struct Outbox {
    stop: watch::Sender<Option<Duration>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<ShutdownReport>>>,
}

/// What a shutdown did with the jobs in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// Attempts that ended within the grace period.
    pub finished: usize,
    /// Attempts cut off; their jobs wait in the store and run again with the
    /// same idempotency key at the next start.
    pub released: usize,
}

pub(crate) struct Shared {
    pub store: Arc<Store>,
    pub services: Services,
    pub config: OutboxConfig,
    pub templates: std::sync::Mutex<
        Option<(
            Vec<statusport_core::domain::notify::Template>,
            Arc<statusport_core::templates::Templates>,
        )>,
    >,
}

impl Outbox {
    /// Starts dispatching: every job waiting in the store, and every job
    /// committed from now on.
    pub fn start(
        store: Arc<Store>,
        services: Services,
        config: OutboxConfig,
    ) -> Result<Outbox, String> {
        config.check()?;
        // Subscribe before reading what is there, so nothing falls between.
        let feed = store.subscribe_jobs();
        let active = store
            .active_jobs()
            .map_err(|e| format!("reading the outbox: {e}"))?;
        let shared = Arc::new(Shared {
            store,
            services,
            config,
            templates: std::sync::Mutex::new(None),
        });
        let (stop, stopped) = watch::channel(None);
        let task = tokio::spawn(dispatch(shared, active, feed, stopped));
        Ok(Outbox {
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// Stops taking jobs, lets the attempts in flight finish for up to
    /// `grace`, and releases the rest to the next start.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let _ = self.stop.send(Some(grace));
        match self.task.lock().await.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => ShutdownReport::default(),
        }
    }
}

/// Puts a failed job back in the queue, due now, with its attempts counted
/// from zero again.
pub fn retry(store: &Store, id: u64) -> Result<JobState, OutboxError> {
    let mut state = failed_state(store, id, "retried")?;
    state.status = JobStatus::Pending;
    state.failure = None;
    state.attempts = 0;
    state.due = Timestamp::now();
    state.retried_by_operator = true;
    if !store.update_job(id, &state)? {
        return Err(OutboxError::NotFound(id));
    }
    Ok(state)
}

/// Ends a failed job without delivering it; it stays listed as dropped,
/// with who dropped it and why it had failed.
pub fn drop_job(store: &Store, id: u64, by: &str) -> Result<JobDone, OutboxError> {
    let state = failed_state(store, id, "dropped")?;
    let done = JobDone {
        at: Timestamp::now(),
        attempts: state.attempts,
        history: state.history,
        outcome: JobOutcome::Dropped {
            by: by.to_owned(),
            failure: state.failure,
        },
    };
    if !store.finish_job(id, &done, &[])? {
        return Err(OutboxError::NotFound(id));
    }
    Ok(done)
}

fn failed_state(store: &Store, id: u64, action: &'static str) -> Result<JobState, OutboxError> {
    match store.job_state(id)? {
        Some(state) if state.status == JobStatus::Failed => Ok(state),
        Some(_) => Err(OutboxError::NotFailed {
            id,
            state: "waiting to run".into(),
            action,
        }),
        None => match store.job_done(id)? {
            Some(done) => Err(OutboxError::NotFailed {
                id,
                state: match done.outcome {
                    JobOutcome::Delivered { .. } => "delivered".into(),
                    JobOutcome::Dropped { .. } => "dropped".into(),
                },
                action,
            }),
            None => Err(OutboxError::NotFound(id)),
        },
    }
}

async fn dispatch(
    shared: Arc<Shared>,
    active: Vec<(Job, JobState)>,
    mut feed: mpsc::UnboundedReceiver<u64>,
    mut stop: watch::Receiver<Option<Duration>>,
) -> ShutdownReport {
    let mut schedule = Schedule::default();
    for (job, state) in &active {
        schedule.upsert(job, state);
    }
    drop(active);
    let mut tasks: JoinSet<()> = JoinSet::new();
    // Which job each task runs, so that even a task that panicked frees
    // its place.
    let mut running: HashMap<tokio::task::Id, (u64, ChannelId)> = HashMap::new();
    let mut limiters: HashMap<ChannelId, (u32, Arc<DefaultDirectRateLimiter>)> = HashMap::new();
    let grace = loop {
        // Start what is due, within the limits.
        let now = Timestamp::now().as_millisecond();
        while tasks.len() < shared.config.workers {
            let Some(id) = schedule.next_due(now) else {
                break;
            };
            let Some(entry) = schedule.get(id).cloned() else {
                continue;
            };
            if entry.platform {
                let channel = shared.store.channel(entry.channel.as_str()).ok().flatten();
                let limit = channel
                    .as_ref()
                    .and_then(|c| c.concurrency)
                    .unwrap_or(shared.config.channel_concurrency)
                    .max(1) as usize;
                if schedule.running_in(&entry.channel) >= limit {
                    schedule.park(id);
                    continue;
                }
                let rate = channel
                    .as_ref()
                    .and_then(|c| c.rate_per_second)
                    .unwrap_or(shared.config.channel_rate_per_second);
                if let Some(rate) = NonZeroU32::new(rate) {
                    let limiter = match limiters.get(&entry.channel) {
                        Some((r, l)) if *r == rate.get() => l.clone(),
                        _ => {
                            let l =
                                Arc::new(governor::RateLimiter::direct(Quota::per_second(rate)));
                            limiters.insert(entry.channel.clone(), (rate.get(), l.clone()));
                            l
                        }
                    };
                    if let Err(not_until) = limiter.check() {
                        let wait = not_until.wait_time_from(governor::clock::Clock::now(
                            &governor::clock::DefaultClock::default(),
                        ));
                        schedule.defer(id, now + wait.as_millis() as i64 + 1);
                        continue;
                    }
                }
            }
            schedule.start(id);
            let shared = shared.clone();
            let task = tasks.spawn(async move { run::attempt(&shared, id).await });
            running.insert(task.id(), (id, entry.channel));
        }
        // With every worker busy, a finishing task is what wakes us, not a
        // due time that has passed already.
        let sleep = match schedule.next_wake() {
            Some(at) if tasks.len() < shared.config.workers => Duration::from_millis(
                u64::try_from(at - Timestamp::now().as_millisecond()).unwrap_or(0),
            ),
            _ => Duration::from_secs(3600),
        };
        tokio::select! {
            id = feed.recv() => match id {
                Some(id) => {
                    refresh(&shared.store, &mut schedule, id);
                    while let Ok(id) = feed.try_recv() {
                        refresh(&shared.store, &mut schedule, id);
                    }
                }
                None => break Duration::ZERO,
            },
            Some(done) = tasks.join_next_with_id() => {
                let task = match &done {
                    Ok((task, ())) => *task,
                    Err(e) => e.id(),
                };
                if let Some((id, channel)) = running.remove(&task) {
                    if let Err(e) = done {
                        run::record_crash(&shared, id, &e.to_string());
                    }
                    schedule.finish(id, &channel);
                    refresh(&shared.store, &mut schedule, id);
                }
            }
            _ = tokio::time::sleep(sleep) => {}
            changed = stop.changed() => {
                let grace = *stop.borrow();
                match (changed, grace) {
                    (Ok(()), Some(grace)) => break grace,
                    (Ok(()), None) => {}
                    (Err(_), _) => break Duration::ZERO,
                }
            }
        }
    };
    let mut report = ShutdownReport::default();
    let deadline = tokio::time::Instant::now() + grace;
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(_)) => report.finished += 1,
            Ok(None) => break,
            Err(_) => {
                report.released = tasks.len();
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    report
}

/// Reads a job's state from the store into the schedule.
fn refresh(store: &Store, schedule: &mut Schedule, id: u64) {
    match (store.job(id), store.job_state(id)) {
        (Ok(Some(job)), Ok(Some(state))) => schedule.upsert(&job, &state),
        (Ok(_), Ok(None)) | (Ok(None), _) => schedule.remove(id),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(job = id, error = %e, "reading an outbox job; it is read again at the next start");
        }
    }
}
