//! The rule pipeline: an event's plan, the rules run to a fixed point,
//! a rule's firing and what an event leaves to do (stock, refunds,
//! pushes, jobs).

use super::*;

impl Engine {
    /// What `event` does to `order` — its direct change, or the `forced`
    /// rule's firing, then the rules to a fixed point — computed without
    /// writing anything.
    pub(super) fn plan(
        &self,
        order: Order,
        event: &Event,
        forced: Option<&Rule>,
    ) -> Result<(Run, Channel), EngineError> {
        let channel = self.channel(order.channel.as_str())?;
        let platform = self.platform_of(&channel)?;
        let run = self.plan_in(order, event, forced, &channel, &platform)?;
        Ok((run, channel))
    }

    /// [`Engine::plan`] with the order's channel and platform at hand.
    pub(super) fn plan_in(
        &self,
        order: Order,
        event: &Event,
        forced: Option<&Rule>,
        channel: &Channel,
        platform: &Platform,
    ) -> Result<Run, EngineError> {
        let mut run = Run::new(order, &event.id, event.actor.clone(), self.now());
        match forced {
            None => self.direct(&mut run, event, platform)?,
            Some(rule) => {
                if let Some(reason) = rule_blocked(rule, &run.order, channel, run.now) {
                    return Err(Conflict::NotApplicable(reason).into());
                }
                self.fire(&mut run, rule, channel, platform);
            }
        }
        self.run_rules(&mut run, channel, platform)?;
        self.finish(&mut run, channel, platform);
        Ok(run)
    }

    /// Runs the rules to a fixed point: every trigger in the queue is matched
    /// against the rules in order; a rule's change queues the triggers it
    /// causes. More than [`MAX_FIRINGS`] firings is a loop.
    pub(super) fn run_rules(
        &self,
        run: &mut Run,
        channel: &Channel,
        platform: &Platform,
    ) -> Result<(), EngineError> {
        if run.order.paused {
            // A paused order changes only by hand until it is resumed.
            run.triggers.clear();
            return Ok(());
        }
        let rules = self.rules();
        let listening = |trigger: Trigger, source: Source| {
            rules.iter().any(|r| {
                r.enabled
                    && !for_unapproved(r)
                    && r.on.contains(&trigger)
                    && r.covers(channel)
                    && (r.sources.is_empty() || r.sources.contains(&source))
            })
        };
        // The engine holds an order that waits for approval, whatever rules
        // are loaded: only rules about unapproved orders run; the triggers
        // of the others wait on the order and run once it is approved. A
        // rejected order runs no rule after the rejection's own.
        let approval = run.order.approval;
        if approval == Approval::Rejected && run.original.approval == Approval::Rejected {
            let waiting: Vec<(Trigger, Source)> = run.triggers.drain(..).collect();
            if waiting.iter().any(|(t, s)| listening(*t, *s)) {
                run.history(
                    None,
                    Change::Skipped {
                        action: "rules".into(),
                        reason: "the order was rejected; no rule runs for it".into(),
                    },
                );
            }
            return Ok(());
        }
        let limit = MAX_FIRINGS * (1 + run.replayed);
        let mut fired: Vec<&str> = Vec::new();
        while let Some((trigger, source)) = run.triggers.pop_front() {
            let pending = run.order.approval == Approval::Pending;
            if pending && trigger != Trigger::TimePassed && listening(trigger, source) {
                run.order.held.push(HeldTrigger {
                    trigger,
                    source,
                    event: run.event.clone(),
                });
                run.history(None, Change::Held { trigger });
            }
            for rule in rules.iter() {
                if !rule.on.contains(&trigger)
                    || (!rule.sources.is_empty() && !rule.sources.contains(&source))
                {
                    continue;
                }
                // The order was rejected in this very event: the rejection's
                // own rules still run.
                match blocked(rule, &run.order, channel, run.now, false) {
                    None => {}
                    Some(Blocked::ConditionFailed(message)) => {
                        run.history(
                            Some(&rule.id),
                            Change::Skipped {
                                action: "rule".into(),
                                reason: message,
                            },
                        );
                        continue;
                    }
                    Some(_) => continue,
                }
                fired.push(&rule.id);
                if fired.len() > limit {
                    return Err(Conflict::RuleLoop {
                        chain: fired.join(" → "),
                    }
                    .into());
                }
                self.fire(run, rule, channel, platform);
            }
        }
        Ok(())
    }

    /// Fires a rule: its move, then its actions. A rule with a move whose
    /// move does not happen (the order is there already, or the plugin
    /// allows no such move) takes none of its actions.
    pub(super) fn fire(&self, run: &mut Run, rule: &Rule, channel: &Channel, platform: &Platform) {
        let actor = Actor::Rule(rule.id.clone());
        if let Some(to) = &rule.to {
            let from = run
                .order
                .status(to.dimension)
                .unwrap_or_default()
                .to_owned();
            let refused = if from == to.code {
                Some(format!(
                    "the order's {} status is {from} already",
                    to.dimension
                ))
            } else if !platform.allows(to.dimension, &from, &to.code) {
                Some(transition_error(platform, to.dimension, &from, &to.code).to_string())
            } else {
                None
            };
            if let Some(reason) = refused {
                run.history(
                    Some(&rule.id),
                    Change::Skipped {
                        action: format!("move to {to} and the rule's actions"),
                        reason,
                    },
                );
                return;
            }
            set_status(run, to.dimension, &to.code, actor.clone(), Some(&rule.id));
            run.triggers
                .push_back((status_trigger(to.dimension), Source::Rule));
        }
        if rule.once_per_order {
            run.order.fired_once.push(rule.id.clone());
        }
        if let Some(to) = &rule.then.payment_status {
            let dimension = Dimension::Payment;
            let from = run.order.status(dimension).unwrap_or_default().to_owned();
            if from != *to {
                if platform.allows(dimension, &from, to) {
                    set_status(run, dimension, to, actor.clone(), Some(&rule.id));
                    run.triggers
                        .push_back((status_trigger(dimension), Source::Rule));
                } else {
                    run.history(
                        Some(&rule.id),
                        Change::Skipped {
                            action: format!("set {dimension} status {to}"),
                            reason: transition_error(platform, dimension, &from, to).to_string(),
                        },
                    );
                }
            }
        }
        let cancelled = is_cancelled(&run.order, platform);
        if rule.then.issue_invoice
            && channel.invoice_numbering
            && run.order.invoice_number.is_none()
            && !run.invoice
        {
            if cancelled {
                run.history(
                    Some(&rule.id),
                    Change::Skipped {
                        action: "issue invoice".into(),
                        reason: "the order is cancelled".into(),
                    },
                );
            } else {
                run.invoice = true;
                run.history(
                    Some(&rule.id),
                    Change::InvoiceNumber {
                        number: String::new(),
                    },
                );
                run.triggers
                    .push_back((Trigger::InvoiceCreated, Source::Rule));
            }
        }
        if rule.then.decrement_stock && run.order.stock_taken.is_empty() && !cancelled {
            let mut taken: BTreeMap<String, u32> = BTreeMap::new();
            for line in &run.order.lines {
                let q = taken.entry(line.article.clone()).or_default();
                *q = q.saturating_add(line.quantity);
            }
            for (article, quantity) in &taken {
                let delta = -i64::from(*quantity);
                run.stock.push((article.clone(), delta));
                run.history(
                    Some(&rule.id),
                    Change::Stock {
                        article: article.clone(),
                        delta,
                    },
                );
            }
            run.order.stock_taken = taken;
        }
        // Shipments before the status push: a platform job runs after the
        // jobs of its order created before it, and a "shipped" status must
        // not reach the platform ahead of its tracking numbers.
        if rule.then.upload_shipments {
            let ids: Vec<String> = run
                .order
                .shipments
                .iter()
                .filter(|s| s.done && s.has_tracking())
                .map(|s| s.id.clone())
                .collect();
            for shipment_id in ids {
                run.plan_job(Some(&rule.id), JobKind::UploadShipment { shipment_id });
            }
        }
        if rule.then.push_status {
            let dimension = rule.to.as_ref().map_or(Dimension::Order, |t| t.dimension);
            plan_push(run, Some(&rule.id), dimension);
        }
        if let Some(template) = &rule.then.email {
            run.plan_job(
                Some(&rule.id),
                JobKind::Email {
                    template: template.clone(),
                },
            );
        }
        if let Some(template) = &rule.then.sms {
            run.plan_job(
                Some(&rule.id),
                JobKind::Sms {
                    template: template.clone(),
                },
            );
        }
        if let Some(event) = &rule.then.webhook {
            run.plan_job(
                Some(&rule.id),
                JobKind::Webhook {
                    event: event.clone(),
                },
            );
        }
    }

    /// What an event leaves to do once the rules have run: stock given
    /// back to a cancelled order, a refund flagged for a payment on one,
    /// and the push of a status set by hand.
    pub(super) fn finish(&self, run: &mut Run, channel: &Channel, platform: &Platform) {
        if is_cancelled(&run.order, platform) {
            let taken = std::mem::take(&mut run.order.stock_taken);
            for (article, quantity) in taken {
                let delta = i64::from(quantity);
                run.stock.push((article.clone(), delta));
                run.history(None, Change::Stock { article, delta });
            }
            let paid_now = run.order.status(Dimension::Payment) == Some("paid")
                && run.original.status(Dimension::Payment) != Some("paid");
            if paid_now {
                flag_refund(run);
            }
        }
        if channel.push_manual_changes {
            for dimension in std::mem::take(&mut run.manual) {
                let pushed = run.planned.iter().any(|(_, kind)| {
                    matches!(kind, JobKind::PushStatus { dimension: d, .. } if *d == dimension)
                });
                if !pushed {
                    plan_push(run, None, dimension);
                }
            }
        }
    }

    /// The planned jobs with ids and stable idempotency keys (the event id,
    /// the rule and the job's place in the event).
    pub(super) fn jobs_of(&self, run: &Run, channel: &Channel) -> Result<Vec<Job>, EngineError> {
        run.planned
            .iter()
            .enumerate()
            .filter(|(_, (_, kind))| {
                !(run.silent && matches!(kind, JobKind::Email { .. } | JobKind::Sms { .. }))
            })
            .map(|(i, (rule, kind))| {
                Ok(Job {
                    id: self.store.next_id()?,
                    order: run.order.id,
                    channel: channel.id.clone(),
                    kind: kind.clone(),
                    idempotency_key: format!(
                        "{}/{}/{i}",
                        run.event,
                        rule.as_deref().unwrap_or("manual")
                    ),
                    event: run.event.clone(),
                    rule: rule.clone(),
                    created: run.now,
                })
            })
            .collect()
    }
}

/// Whether a rule is about orders waiting for approval (`approved = false`
/// among its conditions): such rules run while an order is pending.
pub(super) fn for_unapproved(rule: &Rule) -> bool {
    rule.when.approved == Some(false)
}

/// Why a rule may not fire on an order now.
pub(super) enum Blocked {
    Disabled,
    AwaitingApproval,
    Rejected,
    NotCovered,
    FiredOnce,
    NotFrom,
    ConditionsFalse,
    /// A condition could not be evaluated (a CEL expression that fails).
    ConditionFailed(String),
}

/// The one check of whether `rule` may fire on `order`, for the rule
/// pipeline and for a rule applied by hand alike (triggers and sources
/// aside, which only the pipeline has). A rejected order blocks every rule
/// when `rejected_blocks`; the pipeline still runs the rejection's own.
pub(super) fn blocked(
    rule: &Rule,
    order: &Order,
    channel: &Channel,
    now: Timestamp,
    rejected_blocks: bool,
) -> Option<Blocked> {
    if !rule.enabled {
        return Some(Blocked::Disabled);
    }
    match order.approval {
        Approval::Pending if !for_unapproved(rule) => return Some(Blocked::AwaitingApproval),
        Approval::Rejected if rejected_blocks => return Some(Blocked::Rejected),
        _ => {}
    }
    if !rule.covers(channel) {
        return Some(Blocked::NotCovered);
    }
    if rule.once_per_order && order.fired_once.contains(&rule.id) {
        return Some(Blocked::FiredOnce);
    }
    if !rule.from.is_empty()
        && !rule
            .from
            .iter()
            .any(|f| order.status(f.dimension) == Some(f.code.as_str()))
    {
        return Some(Blocked::NotFrom);
    }
    match rule.conditions_hold(order, now) {
        Ok(true) => None,
        Ok(false) => Some(Blocked::ConditionsFalse),
        Err(message) => Some(Blocked::ConditionFailed(message)),
    }
}

/// Why `rule` may not be applied by hand to `order`, in words.
pub(super) fn rule_blocked(
    rule: &Rule,
    order: &Order,
    channel: &Channel,
    now: Timestamp,
) -> Option<String> {
    Some(match blocked(rule, order, channel, now, true)? {
        Blocked::Disabled => format!("rule {} is disabled", rule.id),
        Blocked::AwaitingApproval => format!(
            "order {} is waiting for approval; its rules run once it is approved",
            order.id
        ),
        Blocked::Rejected => format!("order {} was rejected; no rule runs for it", order.id),
        Blocked::NotCovered => format!("rule {} does not cover channel {}", rule.id, channel.id),
        Blocked::FiredOnce => format!("rule {} fired for this order already", rule.id),
        Blocked::NotFrom => {
            let from: Vec<String> = rule.from.iter().map(ToString::to_string).collect();
            format!("rule {} starts only from {}", rule.id, from.join(", "))
        }
        Blocked::ConditionsFalse => format!("the conditions of rule {} do not hold", rule.id),
        Blocked::ConditionFailed(message) => format!("rule {}: {message}", rule.id),
    })
}

/// What one event does, built up before the commit.
pub(super) struct Run {
    pub(super) original: Order,
    pub(super) order: Order,
    pub(super) event: String,
    pub(super) actor: Actor,
    pub(super) now: Timestamp,
    pub(super) entries: Vec<HistoryEntry>,
    pub(super) triggers: VecDeque<(Trigger, Source)>,
    /// Jobs to create, with the rule that planned each (none: a change by
    /// hand pushed to the platform).
    pub(super) planned: Vec<(Option<String>, JobKind)>,
    pub(super) invoice: bool,
    /// No email or SMS for this event (a cancellation without a mail).
    pub(super) silent: bool,
    pub(super) stock: Vec<(String, i64)>,
    /// Dimensions a person set by hand in this event: pushed to the
    /// platform unless the channel says otherwise or a rule pushes them.
    pub(super) manual: Vec<Dimension>,
    /// Held triggers replayed by this event (an approval).
    pub(super) replayed: usize,
}

impl Run {
    pub(super) fn new(order: Order, event: &str, actor: Actor, now: Timestamp) -> Run {
        let mut current = order.clone();
        current.updated = now;
        Run {
            original: order,
            order: current,
            event: event.to_owned(),
            actor,
            now,
            entries: Vec::new(),
            triggers: VecDeque::new(),
            planned: Vec::new(),
            invoice: false,
            silent: false,
            stock: Vec::new(),
            manual: Vec::new(),
            replayed: 0,
        }
    }

    pub(super) fn history(&mut self, rule: Option<&str>, change: Change) {
        let actor = rule.map_or(self.actor.clone(), |r| Actor::Rule(r.to_owned()));
        self.entries
            .push(entry(&self.event, &actor, self.now, rule, change));
    }

    pub(super) fn plan_job(&mut self, rule: Option<&str>, kind: JobKind) {
        self.planned.push((rule.map(str::to_owned), kind));
    }

    pub(super) fn original_status(&self, dimension: Dimension) -> Option<String> {
        self.original.status(dimension).map(str::to_owned)
    }

    /// The one write this run makes: the order, its new history, `jobs`,
    /// stock and the applied event (with `body`) — a new order (`before`
    /// none) draws its number.
    pub(super) fn into_write(
        self,
        before: Option<Order>,
        jobs: Vec<Job>,
        source: Source,
        body: &str,
    ) -> Write {
        let applied = self.applied(source, body);
        let event = WriteEvent {
            id: self.event,
            applied,
            history: self.entries.len(),
            jobs: jobs.len(),
        };
        Write {
            assign_order_number: before.is_none(),
            before,
            after: self.order,
            history: self.entries,
            jobs,
            events: vec![event],
            assign_invoice_number: self.invoice,
            stock: self.stock,
        }
    }

    fn applied(&self, source: Source, body: &str) -> AppliedEvent {
        AppliedEvent {
            order: self.order.id,
            at: self.now,
            source,
            history: Vec::new(),
            jobs: Vec::new(),
            body: body.to_owned(),
        }
    }
}

pub(super) fn entry(
    event: &str,
    actor: &Actor,
    at: Timestamp,
    rule: Option<&str>,
    change: Change,
) -> HistoryEntry {
    HistoryEntry {
        seq: 0,
        at,
        actor: actor.clone(),
        event: event.to_owned(),
        rule: rule.map(str::to_owned),
        change,
    }
}

/// Counts the status changes of a committed write for `/metrics`.
pub(super) fn count_transitions(history: &[HistoryEntry]) {
    for entry in history {
        if let Change::Status { dimension, .. } | Change::Rollback { dimension, .. } = &entry.change
        {
            let by = if entry.rule.is_some() {
                "rule"
            } else {
                "event"
            };
            metrics::counter!("statusport_transitions_total", "dimension" => dimension.as_str(), "by" => by)
                .increment(1);
        }
    }
}

/// Whether a status the platform reports is older than the platform's
/// latest of that dimension: then it is recorded as stale and changes
/// nothing. A newer one is remembered as the latest.
pub(super) fn stale(run: &mut Run, event: &Event, dimension: Dimension, to: &str) -> bool {
    let (Actor::Platform(_), Some(at)) = (&event.actor, event.occurred_at) else {
        return false;
    };
    match run.order.platform_times.get(&dimension) {
        Some(latest) if at < *latest => {
            let latest = *latest;
            run.history(
                None,
                Change::Stale {
                    dimension,
                    status: to.to_owned(),
                    occurred_at: at,
                    latest,
                },
            );
            true
        }
        _ => {
            run.order.platform_times.insert(dimension, at);
            false
        }
    }
}

/// Plans the push of the order's status of `dimension` to its platform —
/// unless the platform told us that status (an echo) or the platform has it
/// already (the order had it before the event).
pub(super) fn plan_push(run: &mut Run, rule: Option<&str>, dimension: Dimension) {
    let Some(status) = run.order.statuses.get(&dimension).cloned() else {
        return;
    };
    let skipped = |reason: &str| Change::Skipped {
        action: format!("push {dimension} status {}", status.code),
        reason: reason.into(),
    };
    if status.set_by == Actor::Platform(run.order.channel.clone()) {
        run.history(rule, skipped("the status came from this platform"));
        return;
    }
    let from = run.original_status(dimension);
    if from.as_deref() == Some(status.code.as_str()) {
        run.history(rule, skipped("the order had this status before the event"));
        return;
    }
    run.plan_job(
        rule,
        JobKind::PushStatus {
            dimension,
            from,
            to: status.code,
        },
    );
}

/// Marks a refund due on a cancelled order that was paid.
pub(super) fn flag_refund(run: &mut Run) {
    if run.order.refund_due {
        return;
    }
    run.order.refund_due = true;
    run.history(
        None,
        Change::Field {
            field: "refund_due".into(),
            before: Some("false".into()),
            after: Some("true".into()),
        },
    );
}

/// Whether the order stands in its platform's cancelled status.
pub(super) fn is_cancelled(order: &Order, platform: &Platform) -> bool {
    cancelled_status(platform).is_some_and(|c| order.status(Dimension::Order) == Some(c.as_str()))
}

/// The order status a cancellation goes to: `cancelled` (or `canceled`), or
/// failing that a terminal status whose code starts with `cancel`.
pub(super) fn cancelled_status(platform: &Platform) -> Option<String> {
    let statuses: Vec<&crate::domain::platform::StatusDef> =
        platform.statuses_of(Dimension::Order).collect();
    statuses
        .iter()
        .find(|s| s.code == "cancelled" || s.code == "canceled")
        .or_else(|| {
            statuses
                .iter()
                .find(|s| s.terminal && s.code.starts_with("cancel"))
        })
        .map(|s| s.code.clone())
}

pub(super) fn set_status(
    run: &mut Run,
    dimension: Dimension,
    to: &str,
    actor: Actor,
    rule: Option<&str>,
) {
    let before = run.order.status(dimension).map(str::to_owned);
    run.order.statuses.insert(
        dimension,
        StatusValue {
            code: to.to_owned(),
            since: run.now,
            set_by: actor,
        },
    );
    run.history(
        rule,
        Change::Status {
            dimension,
            before,
            after: to.to_owned(),
        },
    );
}

pub(super) fn status_trigger(dimension: Dimension) -> Trigger {
    if dimension == Dimension::Payment {
        Trigger::PaymentStatusChanged
    } else {
        Trigger::StatusChanged
    }
}

pub(super) fn check_status(
    platform: &Platform,
    dimension: Dimension,
    code: &str,
) -> Result<(), EngineError> {
    if platform.status(dimension, code).is_some() {
        return Ok(());
    }
    let known: Vec<String> = platform
        .statuses_of(dimension)
        .map(|s| s.code.clone())
        .collect();
    Err(EngineError::invalid(
        "status",
        format!(
            "{dimension} status \"{code}\" is not a status of plugin {} {} (known: {})",
            platform.id,
            platform.version,
            list(&known)
        ),
    ))
}

pub(super) fn transition_error(
    platform: &Platform,
    dimension: Dimension,
    from: &str,
    to: &str,
) -> EngineError {
    let allowed: Vec<String> = platform
        .statuses_of(dimension)
        .filter(|s| s.code != from && platform.allows(dimension, from, &s.code))
        .map(|s| s.code.clone())
        .collect();
    Conflict::TransitionNotAllowed {
        plugin: format!("{} {}", platform.id, platform.version),
        dimension,
        from: from.to_owned(),
        to: to.to_owned(),
        allowed: if allowed.is_empty() {
            "none".into()
        } else {
            allowed.join(", ")
        },
    }
    .into()
}
