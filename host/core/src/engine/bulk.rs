//! Bulk jobs: one transition or one rule applied to every order that matches
//! a filter.
//!
//! A dry run says what would change and why the rest would not. A run is a
//! durable record: it walks the orders in id order and keeps its cursor and
//! counts at checkpoints, so after a crash it resumes where the last
//! checkpoint left it. Each order's change is an event with the id
//! `bulk:{job}:{order}`, applied in the same atomic write as the change, so
//! an order is changed at most once by a job however often the job resumes.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::rule::StatusRef;
use super::{Engine, EngineError, MAX_RETRIES, Thing, list};
use crate::domain::event::{Change, Event, EventKind};
use crate::domain::order::{Actor, Channel, Order, OrderId};
use crate::domain::platform::Platform;
use crate::store::{CommitError, OrderQuery, Write, keys};

/// How many orders a run walks between checkpoints.
const CHECKPOINT_EVERY: u64 = 2_000;
/// How many orders' changes a run writes in one batch.
const COMMIT_EVERY: usize = 500;
/// How many distinct reasons for leaving an order alone a job keeps apart;
/// more are counted under "other reasons".
const MAX_REASONS: usize = 50;
/// How many orders a dry run lists by name, per reason and for changes.
pub const SAMPLES: usize = 20;

/// What a bulk job does to each order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum BulkAction {
    /// A manual status change, checked against the plugin's transitions;
    /// the rules run on it as on any other.
    SetStatus { status: StatusRef },
    /// Fire one rule where its start statuses and conditions hold,
    /// whatever its triggers.
    Rule { rule: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSpec {
    pub filter: OrderQuery,
    pub action: BulkAction,
}

/// One order a dry run would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PlannedChange {
    pub order: OrderId,
    pub number: String,
    /// `dimension: before → after` for every status the change moves.
    pub changes: Vec<String>,
}

/// What a bulk job would do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DryRun {
    /// Orders the filter matches.
    pub matched: u64,
    pub would_change: u64,
    /// The first orders that would change.
    pub changes: Vec<PlannedChange>,
    /// Why the other matched orders would not change: the reason, how many,
    /// and the first of them.
    pub unchanged: BTreeMap<String, Unchanged>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unchanged {
    pub count: u64,
    pub orders: Vec<OrderId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkState {
    Running,
    Done,
    Cancelled,
}

/// A bulk job as stored: its spec, who started it, and its progress at the
/// last checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkJob {
    pub id: String,
    pub spec: BulkSpec,
    pub actor: Actor,
    pub state: BulkState,
    /// The last order walked; the run resumes after it.
    pub cursor: Option<OrderId>,
    /// Orders walked, matched by the filter, and changed.
    pub scanned: u64,
    pub matched: u64,
    pub changed: u64,
    /// Matched orders left alone, by reason.
    pub unchanged: BTreeMap<String, u64>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated: Timestamp,
}

/// The channels (and their platforms) a bulk pass has met, or why one is
/// unusable.
type Channels = BTreeMap<String, Result<(Arc<Channel>, Arc<Platform>), String>>;

/// What a bulk job decides for one order.
enum Decision {
    Change(Box<Write>),
    Leave(String),
}

impl Engine {
    /// Refuses a job that names what does not exist, or whose status or
    /// rule nothing could reach, before it walks every order to change none.
    fn check_spec(&self, spec: &BulkSpec) -> Result<(), EngineError> {
        let channels = match &spec.filter.channel {
            Some(channel) => vec![self.channel(channel).map_err(|e| match e {
                EngineError::NotFound { .. } => {
                    EngineError::invalid("filter.channel", format!("filter.channel: {e}"))
                }
                e => e,
            })?],
            None => self.store.channels()?,
        };
        if let BulkAction::SetStatus { status } = &spec.action {
            let reachable = channels.iter().any(|c| {
                self.platforms
                    .platform(&c.plugin)
                    .is_some_and(|p| p.status(status.dimension, &status.code).is_some())
            });
            if !reachable {
                let plugins: BTreeSet<&str> = channels.iter().map(|c| c.plugin.as_str()).collect();
                let known: BTreeSet<String> = plugins
                    .iter()
                    .filter_map(|p| self.platforms.platform(p))
                    .flat_map(|p| {
                        p.statuses_of(status.dimension)
                            .map(|s| s.code.clone())
                            .collect::<Vec<_>>()
                    })
                    .collect();
                return Err(EngineError::invalid(
                    "action.status",
                    format!(
                        "action.status: {status} is not a status of the plugins of the channels the filter covers ({}; known {} statuses: {})",
                        plugins.into_iter().collect::<Vec<_>>().join(", "),
                        status.dimension,
                        list(&known.into_iter().collect::<Vec<_>>())
                    ),
                ));
            }
        }
        if let BulkAction::Rule { rule } = &spec.action
            && !self.rules().iter().any(|r| r.id == *rule)
        {
            let known: Vec<String> = self.rules().iter().map(|r| r.id.clone()).collect();
            return Err(EngineError::invalid(
                "action.rule",
                format!(
                    "action.rule: rule \"{rule}\" does not exist (known: {})",
                    list(&known)
                ),
            ));
        }
        if let Err((field, message)) = spec.filter.check() {
            return Err(EngineError::invalid(
                format!("filter.{field}"),
                format!("filter.{message}"),
            ));
        }
        Ok(())
    }

    /// What `spec` does to `order` as event `event_id`, without writing.
    fn decide(
        &self,
        spec: &BulkSpec,
        actor: &Actor,
        event_id: &str,
        order: Order,
        channels: &mut Channels,
    ) -> Result<Decision, EngineError> {
        let event = Event {
            id: event_id.to_owned(),
            order: order.id,
            actor: actor.clone(),
            kind: match &spec.action {
                BulkAction::SetStatus { status } => EventKind::SetStatus {
                    dimension: status.dimension,
                    to: status.code.clone(),
                },
                BulkAction::Rule { .. } => EventKind::Manual,
            },
            occurred_at: None,
        };
        let rules = self.rules();
        let forced = match &spec.action {
            BulkAction::Rule { rule } => Some(
                rules
                    .iter()
                    .find(|r| r.id == *rule)
                    .ok_or_else(|| EngineError::not_found(Thing::Rule, rule))?,
            ),
            BulkAction::SetStatus { .. } => None,
        };
        let channel = match channels.get(order.channel.as_str()) {
            Some(known) => known.clone(),
            None => {
                let found = self
                    .channel(order.channel.as_str())
                    .and_then(|c| {
                        let platform = self.platform_of(&c)?;
                        Ok((Arc::new(c), platform))
                    })
                    .map_err(|e| e.to_string());
                channels.insert(order.channel.to_string(), found.clone());
                found
            }
        };
        let (channel, platform) = match channel {
            Ok(known) => known,
            Err(reason) => return Ok(Decision::Leave(reason)),
        };
        let run = match self.plan_in(order.clone(), &event, forced, &channel, &platform) {
            Ok(planned) => planned,
            // The store failing stops the job; anything the order refuses
            // leaves that order as it is.
            Err(e @ EngineError::Storage(_)) => return Err(e),
            Err(e) => return Ok(Decision::Leave(e.to_string())),
        };
        if !run
            .entries
            .iter()
            .any(|e| matches!(e.change, Change::Status { .. }))
        {
            let reason = match &spec.action {
                BulkAction::SetStatus { status } => format!("already {status}"),
                BulkAction::Rule { rule } => format!("rule {rule} changes no status here"),
            };
            return Ok(Decision::Leave(reason));
        }
        let jobs = self.jobs_of(&run, &channel)?;
        Ok(Decision::Change(Box::new(run.into_write(
            Some(order),
            jobs,
            actor.source(),
            "",
        ))))
    }

    /// What `spec` would change, and why not for the rest. Writes nothing.
    pub fn bulk_dry_run(&self, spec: &BulkSpec, actor: &Actor) -> Result<DryRun, EngineError> {
        self.check_spec(spec)?;
        let mut report = DryRun::default();
        let mut channels = Channels::new();
        for order in self.store.orders_after(None) {
            let order = order?;
            if !spec.filter.matches(&order) {
                continue;
            }
            report.matched += 1;
            let (id, number) = (order.id, order.number.clone());
            match self.decide(spec, actor, "bulk:dry-run", order, &mut channels)? {
                Decision::Change(write) => {
                    report.would_change += 1;
                    if report.changes.len() < SAMPLES {
                        report.changes.push(PlannedChange {
                            order: id,
                            number,
                            changes: status_moves(&write),
                        });
                    }
                }
                Decision::Leave(reason) => {
                    let key = if report.unchanged.len() >= MAX_REASONS
                        && !report.unchanged.contains_key(&reason)
                    {
                        "other reasons".to_owned()
                    } else {
                        reason
                    };
                    let slot = report.unchanged.entry(key).or_default();
                    slot.count += 1;
                    if slot.orders.len() < SAMPLES {
                        slot.orders.push(id);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Records a new bulk job, ready for [`Engine::bulk_run`].
    pub fn bulk_start(&self, spec: BulkSpec, actor: Actor) -> Result<BulkJob, EngineError> {
        self.check_spec(&spec)?;
        let now = self.now();
        let job = BulkJob {
            id: format!("b{}", self.store.next_id()?),
            spec,
            actor,
            state: BulkState::Running,
            cursor: None,
            scanned: 0,
            matched: 0,
            changed: 0,
            unchanged: BTreeMap::new(),
            created: now,
            updated: now,
        };
        self.store.put_record(keys::BULK, &job.id, &job)?;
        Ok(job)
    }

    pub fn bulk_job(&self, id: &str) -> Result<BulkJob, EngineError> {
        self.store
            .record(keys::BULK, id)?
            .ok_or_else(|| EngineError::not_found(Thing::BulkJob, id))
    }

    pub fn bulk_jobs(&self) -> Result<Vec<BulkJob>, EngineError> {
        Ok(self.store.records(keys::BULK)?)
    }

    /// Bulk jobs a crash or a shutdown interrupted: run them again with
    /// [`Engine::bulk_run`].
    pub fn unfinished_bulk_jobs(&self) -> Result<Vec<String>, EngineError> {
        Ok(self
            .bulk_jobs()?
            .into_iter()
            .filter(|j| j.state == BulkState::Running)
            .map(|j| j.id)
            .collect())
    }

    /// Stops a running job at its next checkpoint (or at once when no run
    /// is under way). Orders changed so far stay changed.
    pub fn bulk_cancel(&self, id: &str) -> Result<BulkJob, EngineError> {
        // Under the cancel set's lock, which a checkpoint also holds while
        // it writes the job: a cancel never writes over a newer checkpoint.
        let mut cancelled = self.cancelled.lock().unwrap_or_else(|p| p.into_inner());
        let mut job = self.bulk_job(id)?;
        if job.state == BulkState::Running {
            cancelled.insert(id.to_owned());
            job.state = BulkState::Cancelled;
            job.updated = self.now();
            self.store.put_record(keys::BULK, id, &job)?;
        }
        Ok(job)
    }

    /// Runs (or resumes) a bulk job to its end in the background; a failure
    /// is logged, and the job resumes at the next start.
    pub fn bulk_spawn(self: Arc<Self>, id: String) {
        tokio::spawn(async move {
            if let Err(e) = self.bulk_run(&id, |_| {}).await {
                tracing::error!("bulk job {id}: {e}");
            }
        });
    }

    /// Runs (or resumes) a bulk job to its end, keeping its progress at
    /// checkpoints; `progress` hears of each checkpoint.
    pub async fn bulk_run(
        &self,
        id: &str,
        mut progress: impl FnMut(&BulkJob),
    ) -> Result<BulkJob, EngineError> {
        let mut job = self.bulk_job(id)?;
        if job.state != BulkState::Running {
            self.cancelled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
            return Ok(job);
        }
        self.check_spec(&job.spec)?;
        let mut since_checkpoint = 0u64;
        let mut next = job.cursor;
        loop {
            // Walk a batch outside of any lock on the store's iterator, so
            // that the orders' own commits do not wait on the scan.
            let batch: Vec<Order> = self
                .store
                .orders_after(next)
                .take(CHECKPOINT_EVERY as usize)
                .collect::<Result<_, _>>()?;
            let Some(last) = batch.last().map(|o| o.id) else {
                break;
            };
            for chunk in batch.chunks(COMMIT_EVERY) {
                for step in self.bulk_chunk(&job, chunk).await? {
                    job.scanned += 1;
                    since_checkpoint += 1;
                    match step {
                        Step::NotMatched => {}
                        Step::Changed => {
                            job.matched += 1;
                            job.changed += 1;
                        }
                        Step::Left(reason) => {
                            job.matched += 1;
                            let key = if job.unchanged.len() >= MAX_REASONS
                                && !job.unchanged.contains_key(&reason)
                            {
                                "other reasons".to_owned()
                            } else {
                                reason
                            };
                            *job.unchanged.entry(key).or_default() += 1;
                        }
                    }
                }
            }
            next = Some(last);
            if since_checkpoint >= CHECKPOINT_EVERY {
                since_checkpoint = 0;
                if self.checkpoint(&mut job, next).await? {
                    progress(&job);
                    return Ok(job);
                }
                progress(&job);
            }
        }
        job.state = BulkState::Done;
        self.checkpoint(&mut job, next).await?;
        progress(&job);
        Ok(job)
    }

    /// Makes the changes so far durable, then the job's progress. Says
    /// whether the job was cancelled meanwhile.
    async fn checkpoint(
        &self,
        job: &mut BulkJob,
        cursor: Option<OrderId>,
    ) -> Result<bool, EngineError> {
        self.store.flush().await?;
        let cancelled = {
            let mut set = self.cancelled.lock().unwrap_or_else(|p| p.into_inner());
            let cancelled = set.remove(&job.id)
                || self
                    .store
                    .record::<BulkJob>(keys::BULK, &job.id)?
                    .is_some_and(|stored| stored.state == BulkState::Cancelled);
            if cancelled {
                job.state = BulkState::Cancelled;
            }
            job.cursor = cursor;
            job.updated = self.now();
            self.store.put_record(keys::BULK, &job.id, job)?;
            cancelled
        };
        self.store.flush().await?;
        Ok(cancelled)
    }

    /// Changes the orders of `chunk` that the filter matches, in one batch.
    /// An order that changed since it was scanned is done again on its own.
    async fn bulk_chunk(&self, job: &BulkJob, chunk: &[Order]) -> Result<Vec<Step>, EngineError> {
        let mut steps: Vec<Option<Step>> = Vec::with_capacity(chunk.len());
        let mut channels = Channels::new();
        let mut writes = Vec::new();
        let mut positions = Vec::new();
        for (i, order) in chunk.iter().enumerate() {
            let event_id = format!("bulk:{}:{}", job.id, order.id);
            if self.store.applied_event(order.id, &event_id)?.is_some() {
                steps.push(Some(Step::Changed));
            } else if !job.spec.filter.matches(order) {
                steps.push(Some(Step::NotMatched));
            } else {
                match self.decide(
                    &job.spec,
                    &job.actor,
                    &event_id,
                    order.clone(),
                    &mut channels,
                )? {
                    Decision::Leave(reason) => steps.push(Some(Step::Left(reason))),
                    Decision::Change(write) => {
                        steps.push(None);
                        writes.push(*write);
                        positions.push(i);
                    }
                }
            }
        }
        for (i, result) in positions.into_iter().zip(self.store.commit_many(writes)) {
            steps[i] = Some(match result {
                Ok(committed) => {
                    super::count_transitions(&committed.history);
                    Step::Changed
                }
                Err(CommitError::EventApplied(_)) => Step::Changed,
                Err(CommitError::Stale { .. }) => self.bulk_one(job, &chunk[i]).await?,
                Err(e) => return Err(e.into()),
            });
        }
        Ok(steps
            .into_iter()
            .map(|s| s.expect("every order of the chunk has its step"))
            .collect())
    }

    /// Changes one order for the job, if the filter matches it.
    async fn bulk_one(&self, job: &BulkJob, scanned: &Order) -> Result<Step, EngineError> {
        let id = scanned.id;
        let event_id = format!("bulk:{}:{id}", job.id);
        if self.store.applied_event(id, &event_id)?.is_some() {
            // Changed by this job before a crash, after its last checkpoint:
            // the filter may no longer match it, but it counts.
            return Ok(Step::Changed);
        }
        if !job.spec.filter.matches(scanned) {
            return Ok(Step::NotMatched);
        }
        let _guard = self.lock_of(id).lock().await;
        for _ in 0..MAX_RETRIES {
            let Some(order) = self.store.order(id)? else {
                return Ok(Step::Left("the order is gone".into()));
            };
            if !job.spec.filter.matches(&order) {
                return Ok(Step::Left("no longer matches the filter".into()));
            }
            let write = match self.decide(
                &job.spec,
                &job.actor,
                &event_id,
                order,
                &mut Channels::new(),
            )? {
                Decision::Change(write) => write,
                Decision::Leave(reason) => return Ok(Step::Left(reason)),
            };
            match self.store.commit(*write) {
                Ok(committed) => {
                    super::count_transitions(&committed.history);
                    return Ok(Step::Changed);
                }
                Err(CommitError::EventApplied(_)) => return Ok(Step::Changed),
                Err(CommitError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Step::Left(format!(
            "kept changing under {MAX_RETRIES} attempts"
        )))
    }
}

/// What a run did with one scanned order.
enum Step {
    NotMatched,
    Changed,
    Left(String),
}

fn status_moves(write: &Write) -> Vec<String> {
    write
        .history
        .iter()
        .filter_map(|h| match &h.change {
            Change::Status {
                dimension,
                before,
                after,
            } => Some(format!(
                "{dimension}: {} → {after}",
                before.as_deref().unwrap_or("(none)")
            )),
            _ => None,
        })
        .collect()
}
