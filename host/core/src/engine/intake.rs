//! Intake: orders and status changes that come in from a channel's
//! platform (contract 1.1), by a pull or a webhook.
//!
//! One import is one atomic, durable write: every order it creates or
//! changes, the customers it names and the channel's intake state with the
//! pull's next cursor. A crash before the write imports nothing of the
//! batch, and the same cursor is pulled again; a crash after it imports
//! nothing twice. Whatever arrives twice changes nothing: an order is known
//! by its channel and platform order id, a status change by the platform's
//! change id (an event id on the order).

use super::*;
use crate::domain::intake::{
    ImportReport, Inbound, IncomingOrder, IntakeError, IntakeState, RefusedItem, StatusChange,
};
use crate::domain::order::{ChannelId, Customer};

/// What an import does to the channel's cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorMove {
    /// A webhook: the cursor stays where the pulls left it.
    Keep,
    /// A pull's batch: the cursor becomes the batch's next cursor.
    To(Option<String>),
}

/// An import planned: one write per order, in the order the items came.
struct Plan {
    writes: Vec<(String, Write)>,
    customers: BTreeMap<String, Customer>,
    report: ImportReport,
}

impl Plan {
    /// The order as this plan leaves it, or as stored.
    fn current(
        &self,
        engine: &Engine,
        channel: &ChannelId,
        platform_order_id: &str,
    ) -> Result<Option<Order>, EngineError> {
        if let Some((_, write)) = self.writes.iter().find(|(p, _)| p == platform_order_id) {
            return Ok(Some(write.after.clone()));
        }
        Ok(engine
            .store
            .order_by_platform_id(channel.as_str(), platform_order_id)?)
    }

    /// Whether the event id was applied to the order, before or in this plan.
    fn applied(&self, engine: &Engine, order: &Order, id: &str) -> Result<bool, EngineError> {
        let planned = self
            .writes
            .iter()
            .any(|(p, w)| *p == order.platform_order_id && w.events.iter().any(|e| e.id == id));
        Ok(planned || engine.store.applied_event(order.id, id)?.is_some())
    }

    fn add(&mut self, platform_order_id: &str, write: Write) {
        match self.writes.iter().position(|(p, _)| p == platform_order_id) {
            Some(at) => {
                let (p, earlier) = self.writes.remove(at);
                self.writes.insert(at, (p, earlier.then(write)));
            }
            None => self.writes.push((platform_order_id.to_owned(), write)),
        }
    }

    fn refuse(&mut self, platform_order_id: &str, reason: String) {
        self.report.refused.push(RefusedItem {
            platform_order_id: platform_order_id.to_owned(),
            reason,
        });
    }
}

impl Engine {
    /// Imports what a pull or a webhook brought for `channel`, in one
    /// atomic, durable write with the channel's intake state (and, for a
    /// pull, its next cursor). An item that cannot be imported (a status
    /// the plugin does not declare, a change for an order never seen) is
    /// refused alone, listed in the report and kept on the channel's state;
    /// the others go in.
    pub async fn import(
        &self,
        channel: &str,
        items: &[Inbound],
        cursor: CursorMove,
    ) -> Result<ImportReport, EngineError> {
        let channel = self.channel(channel)?;
        let platform = self.platform_of(&channel)?;
        let _guard = self.intake_lock(&channel.id).lock().await;
        for _ in 0..MAX_RETRIES {
            let plan = self.plan_import(&channel, &platform, items)?;
            let mut state = self.store.intake_state(channel.id.as_str())?;
            let during = match &cursor {
                CursorMove::To(next) => {
                    state.cursor = next.clone();
                    "pull"
                }
                CursorMove::Keep => "webhook",
            };
            state.count(&plan.report, self.now(), during);
            let writes = plan.writes.into_iter().map(|(_, w)| w).collect();
            let customers = plan.customers.into_values().collect();
            match self
                .store
                .commit_import(writes, customers, &channel.id, Some(&state))
                .await
            {
                Ok(committed) => {
                    for c in &committed {
                        count_transitions(&c.history);
                    }
                    return Ok(plan.report);
                }
                // An order changed (or came in by another way) meanwhile:
                // plan again on what is stored now.
                Err(
                    CommitError::Stale { .. }
                    | CommitError::Duplicate { .. }
                    | CommitError::EventApplied(_),
                ) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Conflict::Stale {
            order: OrderId(0),
            message: format!(
                "the orders of an import for channel {} kept changing under {MAX_RETRIES} attempts; it is tried again",
                channel.id
            ),
        }
        .into())
    }

    /// Records a failed pull or webhook on the channel's intake state: the
    /// error and, for a pull, one more failure in a row and when to poll
    /// next (`not_before`, given the failures in a row, under the channel's
    /// intake lock).
    pub async fn intake_failed(
        &self,
        channel: &ChannelId,
        error: IntakeError,
        not_before: impl FnOnce(u32) -> Option<Timestamp>,
    ) -> Result<IntakeState, EngineError> {
        let _guard = self.intake_lock(channel).lock().await;
        let mut state = self.store.intake_state(channel.as_str())?;
        // A webhook that fails (a forged one, say) does not slow the polls.
        if error.during == "pull" {
            state.failures = state.failures.saturating_add(1);
            state.not_before = not_before(state.failures);
        }
        state.last_error = Some(error);
        self.store.put_intake_state(channel.as_str(), &state)?;
        Ok(state)
    }

    /// The channel's intake state.
    pub fn intake_state(&self, channel: &str) -> Result<IntakeState, EngineError> {
        self.channel(channel)?;
        Ok(self.store.intake_state(channel)?)
    }

    fn intake_lock(&self, channel: &ChannelId) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        channel.as_str().hash(&mut hasher);
        &self.intake_locks[(hasher.finish() % self.intake_locks.len() as u64) as usize]
    }

    fn plan_import(
        &self,
        channel: &Channel,
        platform: &Platform,
        items: &[Inbound],
    ) -> Result<Plan, EngineError> {
        let mut plan = Plan {
            writes: Vec::new(),
            customers: BTreeMap::new(),
            report: ImportReport::default(),
        };
        for item in items {
            match item {
                Inbound::Order(incoming) => {
                    self.plan_order(&mut plan, channel, platform, incoming)?
                }
                Inbound::StatusChange(change) => {
                    self.plan_change(&mut plan, channel, platform, change)?
                }
            }
        }
        Ok(plan)
    }

    fn plan_order(
        &self,
        plan: &mut Plan,
        channel: &Channel,
        platform: &Platform,
        incoming: &IncomingOrder,
    ) -> Result<(), EngineError> {
        let id = incoming.platform_order_id.as_str();
        let customer = &incoming.customer;
        if customer.id.trim().is_empty() {
            plan.refuse(id, "the order names no customer id".into());
            return Ok(());
        }
        let Some(order) = plan.current(self, &channel.id, id)? else {
            return match self.plan_new(channel, platform, incoming) {
                Ok(write) => {
                    plan.add(id, write);
                    plan.customers
                        .insert(customer.id.clone(), customer_of(incoming));
                    plan.report.created += 1;
                    Ok(())
                }
                Err(e @ (EngineError::Invalid { .. } | EngineError::Conflict(_))) => {
                    plan.refuse(id, e.to_string());
                    Ok(())
                }
                Err(e) => Err(e),
            };
        };
        plan.customers
            .insert(customer.id.clone(), customer_of(incoming));
        let mut changed = false;
        for (dimension, code) in &incoming.statuses {
            // An order as the platform had it before what we know of it
            // already is no news (a pull or webhook delivered late).
            let known = order.platform_times.get(dimension);
            if order.status(*dimension) == Some(code.as_str())
                || known.is_some_and(|t| incoming.updated_at <= *t)
            {
                continue;
            }
            let event_id = format!("platform:{dimension}:{code}:{}", incoming.updated_at);
            changed |= self.plan_status(
                plan,
                channel,
                platform,
                id,
                event_id,
                *dimension,
                code,
                incoming.updated_at,
            )?;
        }
        if !changed {
            plan.report.unchanged += 1;
        }
        Ok(())
    }

    fn plan_change(
        &self,
        plan: &mut Plan,
        channel: &Channel,
        platform: &Platform,
        change: &StatusChange,
    ) -> Result<(), EngineError> {
        let id = change.platform_order_id.as_str();
        if change.change_id.trim().is_empty() || change.change_id.len() > 190 {
            plan.refuse(
                id,
                format!(
                    "the status change's id must be 1–190 characters, not {:?}",
                    change.change_id
                ),
            );
            return Ok(());
        }
        if plan.current(self, &channel.id, id)?.is_none() {
            plan.refuse(
                id,
                format!(
                    "status change {}: channel {} has no order {id}; it comes in with the order itself (a pull, or the platform's order webhook)",
                    change.change_id, channel.id
                ),
            );
            return Ok(());
        }
        if !self.plan_status(
            plan,
            channel,
            platform,
            id,
            format!("platform:{}", change.change_id),
            change.dimension,
            &change.code,
            change.changed_at,
        )? {
            plan.report.unchanged += 1;
        }
        Ok(())
    }

    /// Plans a status the platform reports for one of its orders, as an
    /// event by the platform: never pushed back, stale when older than the
    /// platform's last change of the dimension. `false` when the event was
    /// applied before (or the item was refused).
    #[allow(clippy::too_many_arguments)]
    fn plan_status(
        &self,
        plan: &mut Plan,
        channel: &Channel,
        platform: &Platform,
        platform_order_id: &str,
        event_id: String,
        dimension: Dimension,
        code: &str,
        at: Timestamp,
    ) -> Result<bool, EngineError> {
        let Some(order) = plan.current(self, &channel.id, platform_order_id)? else {
            return Ok(false);
        };
        if plan.applied(self, &order, &event_id)? {
            return Ok(false);
        }
        let event = Event {
            id: event_id,
            order: order.id,
            actor: Actor::Platform(channel.id.clone()),
            kind: EventKind::SetStatus {
                dimension,
                to: code.to_owned(),
            },
            occurred_at: Some(at),
        };
        let body = event.body();
        let run = match self.plan_in(order.clone(), &event, None, channel, platform) {
            Ok(run) => run,
            Err(e @ (EngineError::Invalid { .. } | EngineError::Conflict(_))) => {
                plan.refuse(platform_order_id, e.to_string());
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let jobs = self.jobs_of(&run, channel)?;
        plan.add(
            platform_order_id,
            run.into_write(Some(order), jobs, Source::Platform, &body),
        );
        plan.report.changed += 1;
        Ok(true)
    }

    /// Plans a new order from the platform: its statuses are the
    /// platform's (so none is pushed back), its rules run as on any new
    /// order.
    fn plan_new(
        &self,
        channel: &Channel,
        platform: &Platform,
        incoming: &IncomingOrder,
    ) -> Result<Write, EngineError> {
        let currency = incoming
            .lines
            .first()
            .map(|l| l.unit_price.currency)
            .or(incoming.shipping.map(|s| s.currency))
            .ok_or_else(|| {
                EngineError::invalid(
                    "lines",
                    "the order has no lines and no shipping: its currency is unknown",
                )
            })?;
        let new = NewOrder {
            channel: channel.id.to_string(),
            platform_order_id: incoming.platform_order_id.clone(),
            customer: incoming.customer.id.clone(),
            lines: incoming
                .lines
                .iter()
                .map(|l| Line {
                    line_id: l.line_id.clone(),
                    article: l.article.clone(),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    delivered: 0,
                    unit_price: l.unit_price,
                })
                .collect(),
            currency: currency.to_string(),
            shipping: incoming.shipping,
            payment_method: incoming.payment_method.clone(),
            expected_delivery: None,
            statuses: incoming.statuses.clone(),
        };
        let actor = Actor::Platform(channel.id.clone());
        let mut order = self.new_order(new, channel, platform, &actor, false)?;
        for dimension in incoming.statuses.keys() {
            order.platform_times.insert(*dimension, incoming.updated_at);
        }
        let event_id = format!("create:{}:{}", channel.id, order.platform_order_id);
        let mut run = Run::new(order, &event_id, actor, self.now());
        run.history(None, Change::Created);
        run.triggers
            .push_back((Trigger::OrderCreated, Source::Platform));
        self.run_rules(&mut run, channel, platform)?;
        self.finish(&mut run, channel, platform);
        let jobs = self.jobs_of(&run, channel)?;
        Ok(run.into_write(None, jobs, Source::Platform, ""))
    }
}

fn customer_of(incoming: &IncomingOrder) -> Customer {
    let c = &incoming.customer;
    Customer {
        id: c.id.clone(),
        channel: None,
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        address: c.address.clone(),
    }
}
