//! Applying an event and rolling a dimension back: plan, commit, retry on
//! a stale read.

use super::*;

impl Engine {
    /// Applies an event: its direct change, then the rules, all in one
    /// atomic write. An event id seen before changes nothing.
    pub async fn apply(&self, event: Event) -> Result<Outcome, EngineError> {
        if event.id.trim().is_empty() || event.id.len() > 200 {
            return Err(EngineError::invalid(
                "id",
                "event id must be 1–200 characters; use the provider's payment id or another id that is the same on every delivery",
            ));
        }
        let body = event.body();
        let _guard = self.lock_of(event.order).lock().await;
        for _ in 0..MAX_RETRIES {
            if let Some(earlier) = self.store.applied_event(event.order, &event.id)? {
                return repeated(&event, &body, &earlier);
            }
            let order = self
                .store
                .order(event.order)?
                .ok_or(EngineError::not_found(Thing::Order, event.order))?;
            let (run, channel) = self.plan(order.clone(), &event, None)?;
            let jobs = self.jobs_of(&run, &channel)?;
            let write = run.into_write(Some(order), jobs.clone(), event.actor.source(), &body);
            match self.commit(write).await {
                Ok(committed) => return Ok(Outcome::applied(committed, jobs)),
                // Another writer applied it meanwhile: the next round reads
                // what it applied.
                Err(CommitError::Stale { .. } | CommitError::EventApplied(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Conflict::Stale {
            order: event.order,
            message: format!("kept changing under {MAX_RETRIES} attempts; try again"),
        }
        .into())
    }

    /// Rolls the order back to the status it had before the last change of
    /// `dimension`. The rollback is a history entry of its own; the rules
    /// run on it only when `rerun_rules` is set.
    pub async fn rollback(
        &self,
        id: OrderId,
        dimension: Dimension,
        actor: Actor,
        rerun_rules: bool,
    ) -> Result<Outcome, EngineError> {
        let _guard = self.lock_of(id).lock().await;
        for _ in 0..MAX_RETRIES {
            let order = self
                .store
                .order(id)?
                .ok_or(EngineError::not_found(Thing::Order, id))?;
            let history = self.store.history(id)?;
            // The last status or rollback entry of the dimension says what to
            // go back to; after a rollback, the one before the rolled-back
            // change.
            let mut skip = 0usize;
            let mut target = None;
            for entry in history.iter().rev() {
                match &entry.change {
                    Change::Rollback { dimension: d, .. } if *d == dimension => skip += 1,
                    Change::Status {
                        dimension: d,
                        before,
                        ..
                    } if *d == dimension => {
                        if skip == 0 {
                            target = before.clone();
                            break;
                        }
                        skip -= 1;
                    }
                    _ => {}
                }
            }
            let Some(target) = target else {
                return Err(Conflict::NothingToRollBack(id).into());
            };
            let channel = self.channel(order.channel.as_str())?;
            let platform = self.platform_of(&channel)?;
            let event_id = format!("rollback:{}:{}:{}", id, dimension, order.version);
            let mut run = Run::new(order.clone(), &event_id, actor.clone(), self.now());
            let current = order.status(dimension).unwrap_or_default().to_owned();
            run.order.statuses.insert(
                dimension,
                StatusValue {
                    code: target.clone(),
                    since: run.now,
                    set_by: actor.clone(),
                },
            );
            run.history(
                None,
                Change::Rollback {
                    dimension,
                    before: current,
                    after: target,
                },
            );
            if rerun_rules {
                run.triggers
                    .push_back((status_trigger(dimension), actor.source()));
                self.run_rules(&mut run, &channel, &platform)?;
            }
            self.finish(&mut run, &channel, &platform);
            let jobs = self.jobs_of(&run, &channel)?;
            let write = run.into_write(Some(order), jobs.clone(), actor.source(), "");
            match self.commit(write).await {
                Ok(committed) => return Ok(Outcome::applied(committed, jobs)),
                Err(CommitError::Stale { .. } | CommitError::EventApplied(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Conflict::Stale {
            order: id,
            message: format!("kept changing under {MAX_RETRIES} attempts; try again"),
        }
        .into())
    }
}

impl Engine {
    /// Commits a run's write durably and counts its status moves.
    pub(super) async fn commit(&self, write: Write) -> Result<Committed, CommitError> {
        let committed = self.store.commit_durable(write).await?;
        count_transitions(&committed.history);
        Ok(committed)
    }
}

impl Outcome {
    fn applied(committed: Committed, jobs: Vec<Job>) -> Outcome {
        Outcome::Applied {
            order: Box::new(committed.order),
            history: committed.history,
            jobs,
        }
    }
}

/// What a second delivery of an applied event id answers: a duplicate when
/// it carries the same body, a conflict naming the earlier event when not.
pub(super) fn repeated(
    event: &Event,
    body: &str,
    earlier: &AppliedEvent,
) -> Result<Outcome, EngineError> {
    if earlier.body.is_empty() || earlier.body == body {
        return Ok(Outcome::Duplicate { order: event.order });
    }
    Err(Conflict::EventReused {
        order: event.order,
        id: event.id.clone(),
        at: earlier.at,
        earlier: earlier.body.clone(),
    }
    .into())
}
