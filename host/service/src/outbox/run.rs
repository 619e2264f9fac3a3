//! One attempt at one job: deliver it, then record the outcome in the store
//! before anyone else hears of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

use super::Shared;
use crate::notify::DeliveryError;
use crate::notify::mail::OutgoingMail;
use statusport_core::domain::event::{Job, JobKind};
use statusport_core::domain::job::{
    Attempt, Failure, FailureKind, JobDone, JobOutcome, JobState, JobStatus, Receipt,
};
use statusport_core::domain::notify::{Template, WebhookEndpoint};
use statusport_core::domain::order::{Channel, Customer, Order};
use statusport_core::domain::platform::PlatformError;
use statusport_core::domain::shipment::Shipment;
use statusport_core::store::keys;
use statusport_core::templates::{MessageContext, Templates};
use statusport_runtime::call::{CallContext, CallError};
use statusport_runtime::sandbox::ChannelContext;

/// What a delivered job leaves: its receipt, and jobs it hands on.
struct Delivery {
    receipt: Receipt,
    spawn: Vec<Job>,
}

impl From<Receipt> for Delivery {
    fn from(receipt: Receipt) -> Self {
        Delivery {
            receipt,
            spawn: Vec::new(),
        }
    }
}

pub(super) async fn attempt(shared: &Arc<Shared>, id: u64) {
    let store = &shared.store;
    let (job, mut state) = match (store.job(id), store.job_state(id)) {
        (Ok(Some(job)), Ok(Some(state))) if state.status == JobStatus::Pending => (job, state),
        (Ok(_), Ok(_)) => return,
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(job = id, error = %e, "reading a job to run it");
            return;
        }
    };
    let at = Timestamp::now();
    if let Some(message) = expired(shared, &job, &state, at) {
        tracing::warn!(job = id, kind = job.kind.name(), order = %job.order, "{message}");
        state.record(Attempt::new(at, 0, false, &message));
        state.status = JobStatus::Failed;
        state.failure = Some(Failure {
            kind: FailureKind::Expired,
            message,
        });
        if let Err(e) = store.update_job(id, &state) {
            tracing::error!(job = id, error = %e, "recording an expired job");
        }
        return;
    }
    let started = Instant::now();
    let timeout = Duration::from_secs(shared.config.attempt_timeout_secs);
    let result = match tokio::time::timeout(timeout, deliver(shared, &job)).await {
        Ok(result) => result,
        Err(_) => Err(DeliveryError::transient(format!(
            "no answer within {} s",
            timeout.as_secs()
        ))),
    };
    let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcome = match &result {
        Ok(_) => "delivered",
        Err(DeliveryError::Transient { .. }) => "retry",
        Err(DeliveryError::Permanent { .. }) => "failed",
    };
    metrics::counter!("statusport_job_attempts_total", "kind" => job.kind.name(), "outcome" => outcome)
        .increment(1);
    let recorded = match result {
        Ok(delivery) => {
            state.record(Attempt::new(at, took_ms, true, &delivery.receipt.summary));
            tracing::info!(job = id, kind = job.kind.name(), order = %job.order, "delivered: {}", delivery.receipt.summary);
            let done = JobDone {
                at: Timestamp::now(),
                attempts: state.attempts,
                history: state.history,
                outcome: JobOutcome::Delivered {
                    receipt: delivery.receipt,
                },
            };
            store.finish_job(id, &done, &delivery.spawn)
        }
        Err(DeliveryError::Transient {
            message,
            retry_after_ms,
        }) => {
            state.record(Attempt::new(at, took_ms, false, &message));
            if state.attempts >= shared.config.max_attempts {
                tracing::warn!(job = id, kind = job.kind.name(), order = %job.order, "failed after {} attempts: {message}", state.attempts);
                state.status = JobStatus::Failed;
                state.failure = Some(Failure {
                    kind: FailureKind::GaveUp,
                    message: format!("{} attempts failed; the last: {message}", state.attempts),
                });
            } else {
                let wait = match retry_after_ms {
                    // The platform's wish, up to an hour.
                    Some(ms) => Duration::from_millis(ms.min(3_600_000)),
                    None => shared.config.backoff(state.attempts),
                };
                tracing::info!(job = id, kind = job.kind.name(), order = %job.order, "attempt {} failed, next in {wait:?}: {message}", state.attempts);
                state.due = Timestamp::now()
                    .checked_add(wait)
                    .unwrap_or_else(|_| Timestamp::now());
            }
            store.update_job(id, &state)
        }
        Err(DeliveryError::Permanent { kind, message }) => {
            tracing::warn!(job = id, kind = job.kind.name(), order = %job.order, "failed ({}): {message}", kind.as_str());
            state.record(Attempt::new(at, took_ms, false, &message));
            state.status = JobStatus::Failed;
            state.failure = Some(Failure { kind, message });
            store.update_job(id, &state)
        }
    };
    if let Err(e) = recorded {
        tracing::error!(job = id, error = %e, "recording an attempt; the job runs again with the same key");
        return;
    }
    // A platform job's record reaches the disk with sled's next log flush
    // (within half a second): one lost to a crash means one more call with
    // the same idempotency key, which the plugin makes harmless. A message
    // sent again would reach a person twice, so its record is flushed now
    // (shared with the other flushes waiting).
    if !job.kind.is_platform()
        && let Err(e) = store.flush().await
    {
        tracing::error!(error = %e, "flushing the outbox");
    }
}

/// Why a message is too old to send now, if it is.
fn expired(shared: &Shared, job: &Job, state: &JobState, now: Timestamp) -> Option<String> {
    let hours = shared.config.message_max_age_hours;
    if hours == 0
        || state.retried_by_operator
        || !matches!(job.kind, JobKind::Email { .. } | JobKind::Sms { .. })
    {
        return None;
    }
    let age = now.duration_since(job.created);
    (age.as_secs() > i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX)).then(|| {
        format!(
            "not sent: the message was due at {}, more than {hours} h ago; retry the job to send it anyway",
            job.created
        )
    })
}

/// Records an attempt whose task failed without recording anything (a
/// panic in the host): a transient failure, retried after the backoff.
pub(super) fn record_crash(shared: &Shared, id: u64, message: &str) {
    tracing::error!(job = id, "an attempt failed inside the host: {message}");
    let Ok(Some(mut state)) = shared.store.job_state(id) else {
        return;
    };
    let now = Timestamp::now();
    state.record(Attempt::new(now, 0, false, &format!("host: {message}")));
    if state.attempts >= shared.config.max_attempts {
        state.status = JobStatus::Failed;
        state.failure = Some(Failure {
            kind: FailureKind::GaveUp,
            message: format!(
                "{} attempts failed; the last: host: {message}",
                state.attempts
            ),
        });
    } else {
        state.due = now
            .checked_add(shared.config.backoff(state.attempts))
            .unwrap_or(now);
    }
    if let Err(e) = shared.store.update_job(id, &state) {
        tracing::error!(job = id, error = %e, "recording a failed attempt");
    }
}

type Delivered = Result<Delivery, DeliveryError>;

async fn deliver(shared: &Shared, job: &Job) -> Delivered {
    let store = &shared.store;
    let order = store
        .order(job.order)
        .map_err(store_error)?
        .ok_or_else(|| {
            DeliveryError::permanent(
                FailureKind::Rejected,
                format!("order {} does not exist", job.order),
            )
        })?;
    let channel = store
        .channel(job.channel.as_str())
        .map_err(store_error)?
        .ok_or_else(|| {
            DeliveryError::permanent(
                FailureKind::Config,
                format!("channel {} does not exist", job.channel),
            )
        })?;
    match &job.kind {
        JobKind::PushStatus {
            dimension,
            from,
            to,
        } => {
            let from = from.clone().unwrap_or_default();
            let op = PlatformOp::Push {
                platform_order_id: &order.platform_order_id,
                dimension: *dimension,
                from: &from,
                to,
            };
            platform_call(shared, &channel, op, &job.idempotency_key).await
        }
        JobKind::UploadShipment { shipment_id } => {
            let record = order
                .shipments
                .iter()
                .find(|s| &s.id == shipment_id)
                .ok_or_else(|| {
                    DeliveryError::permanent(
                        FailureKind::Rejected,
                        format!("order {} has no shipment {shipment_id}", order.id),
                    )
                })?;
            let shipment = Shipment {
                id: record.id.clone(),
                platform_order_id: order.platform_order_id.clone(),
                shipped_at: record.created.to_string(),
                packages: record.packages.clone(),
            };
            platform_call(
                shared,
                &channel,
                PlatformOp::Upload(&shipment),
                &job.idempotency_key,
            )
            .await
        }
        JobKind::Email { template } => {
            let mailer = shared.services.mailer.as_ref().ok_or_else(|| {
                DeliveryError::permanent(
                    FailureKind::Config,
                    "no mail transport is configured ([mail] in the config file)",
                )
            })?;
            let customer = customer_of(store, &order)?;
            let to = customer.email.clone().ok_or_else(|| {
                DeliveryError::permanent(
                    FailureKind::Rejected,
                    format!(
                        "customer {} has no email address; add one and retry the job",
                        customer.id
                    ),
                )
            })?;
            let context = context(shared, &order, &customer, &channel);
            let rendered = templates(shared)?
                .render_email(template, &context)
                .map_err(|e| DeliveryError::permanent(FailureKind::Config, e))?;
            mailer
                .send(OutgoingMail {
                    to: &to,
                    to_name: &customer.name,
                    idempotency_key: &job.idempotency_key,
                    rendered,
                })
                .await
                .map(Delivery::from)
        }
        JobKind::Sms { template } => {
            let gateway = shared.services.sms.as_ref().ok_or_else(|| {
                DeliveryError::permanent(
                    FailureKind::Config,
                    "no SMS gateway is configured ([sms] in the config file)",
                )
            })?;
            let customer = customer_of(store, &order)?;
            let to = customer.phone.clone().ok_or_else(|| {
                DeliveryError::permanent(
                    FailureKind::Rejected,
                    format!(
                        "customer {} has no phone number; add one and retry the job",
                        customer.id
                    ),
                )
            })?;
            let context = context(shared, &order, &customer, &channel);
            let text = templates(shared)?
                .render_sms(template, &context)
                .map_err(|e| DeliveryError::permanent(FailureKind::Config, e))?;
            gateway
                .send(&to, &text, &job.idempotency_key)
                .await
                .map(Delivery::from)
        }
        JobKind::Webhook { event } => {
            let endpoints: Vec<WebhookEndpoint> =
                store.records(keys::WEBHOOK).map_err(store_error)?;
            let customer = customer_of(store, &order).ok();
            let mut spawn = Vec::new();
            for endpoint in endpoints.iter().filter(|e| e.wants(event)) {
                let event_id = format!("{}@{}", job.idempotency_key, endpoint.id);
                let body = serde_json::to_string(&WebhookBody {
                    id: &event_id,
                    kind: event,
                    created: job.created,
                    data: WebhookData {
                        order: customer
                            .as_ref()
                            .map(|c| context(shared, &order, c, &channel)),
                        order_id: order.id.0,
                        rule: job.rule.as_deref(),
                    },
                })
                .map_err(|e| DeliveryError::permanent(FailureKind::Config, e.to_string()))?;
                spawn.push(Job {
                    id: store.next_id().map_err(store_error)?,
                    order: job.order,
                    channel: job.channel.clone(),
                    kind: JobKind::WebhookDelivery {
                        endpoint: endpoint.id.clone(),
                        event: event.clone(),
                        body,
                    },
                    idempotency_key: event_id,
                    event: job.event.clone(),
                    rule: job.rule.clone(),
                    created: Timestamp::now(),
                });
            }
            let summary = if spawn.is_empty() {
                format!("no webhook endpoint receives {event}")
            } else {
                let names: Vec<&str> = spawn
                    .iter()
                    .filter_map(|j| match &j.kind {
                        JobKind::WebhookDelivery { endpoint, .. } => Some(endpoint.as_str()),
                        _ => None,
                    })
                    .collect();
                format!("{event} for {}", names.join(", "))
            };
            Ok(Delivery {
                receipt: Receipt {
                    reference: None,
                    summary,
                },
                spawn,
            })
        }
        JobKind::WebhookDelivery {
            endpoint,
            event,
            body,
        } => {
            let found: Option<WebhookEndpoint> =
                store.record(keys::WEBHOOK, endpoint).map_err(store_error)?;
            let found = found.ok_or_else(|| {
                DeliveryError::permanent(
                    FailureKind::Config,
                    format!("webhook endpoint {endpoint} was removed"),
                )
            })?;
            if !found.enabled {
                return Err(DeliveryError::permanent(
                    FailureKind::Config,
                    format!("webhook endpoint {endpoint} is disabled; enable it and retry"),
                ));
            }
            shared
                .services
                .webhooks
                .deliver(
                    &found,
                    &job.idempotency_key,
                    event,
                    body,
                    Timestamp::now().as_second(),
                )
                .await
                .map(Delivery::from)
        }
    }
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created: Timestamp,
    data: WebhookData<'a>,
}

#[derive(Serialize)]
struct WebhookData<'a> {
    order_id: u64,
    /// The order as templates see it (absent when its customer is gone).
    order: Option<MessageContext>,
    rule: Option<&'a str>,
}

fn store_error(e: statusport_core::store::StoreError) -> DeliveryError {
    DeliveryError::transient(format!("store: {e}"))
}

fn customer_of(
    store: &statusport_core::store::Store,
    order: &Order,
) -> Result<Customer, DeliveryError> {
    store
        .customer(order.channel.as_str(), &order.customer)
        .map_err(store_error)?
        .ok_or_else(|| {
            DeliveryError::permanent(
                FailureKind::Rejected,
                format!(
                    "customer {} of order {} does not exist",
                    order.customer, order.id
                ),
            )
        })
}

fn context(
    shared: &Shared,
    order: &Order,
    customer: &Customer,
    channel: &Channel,
) -> MessageContext {
    let platform = shared
        .services
        .plugins
        .as_ref()
        .and_then(|r| r.get(&channel.plugin));
    MessageContext::new(
        order,
        customer,
        channel,
        platform.as_ref().map(|p| &p.platform),
    )
}

/// The compiled templates, compiled again only when they changed.
fn templates(shared: &Shared) -> Result<Arc<Templates>, DeliveryError> {
    let current: Vec<Template> = shared.store.records(keys::TEMPLATE).map_err(store_error)?;
    let mut cache = shared.templates.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((list, compiled)) = cache.as_ref()
        && *list == current
    {
        return Ok(compiled.clone());
    }
    let compiled =
        Arc::new(Templates::new(&current).map_err(|problems| {
            DeliveryError::permanent(FailureKind::Config, problems.join("; "))
        })?);
    *cache = Some((current, compiled.clone()));
    Ok(compiled)
}

enum PlatformOp<'a> {
    Push {
        platform_order_id: &'a str,
        dimension: statusport_core::domain::platform::Dimension,
        from: &'a str,
        to: &'a str,
    },
    Upload(&'a Shipment),
}

/// Calls the channel's plugin and reads its answer as a delivery.
async fn platform_call(
    shared: &Shared,
    channel: &Channel,
    op: PlatformOp<'_>,
    key: &str,
) -> Delivered {
    let registry = shared.services.plugins.as_ref().ok_or_else(|| {
        DeliveryError::permanent(FailureKind::Config, "no plugins are loaded in this host")
    })?;
    let plugin = registry.get(&channel.plugin).ok_or_else(|| {
        let known: Vec<String> = registry
            .plugins()
            .iter()
            .map(|p| p.platform.id.clone())
            .collect();
        // The plugin may be on its way back (a file being replaced): retry.
        DeliveryError::transient(format!(
            "plugin {} of channel {} is not loaded (loaded: {})",
            channel.plugin,
            channel.id,
            known.join(", ")
        ))
    })?;
    let channel_context = ChannelContext::of(channel)
        .map_err(|message| DeliveryError::permanent(FailureKind::Config, message))?;
    let context = CallContext {
        channel: Arc::new(channel_context),
        state: shared.store.clone(),
    };
    let runtime = registry.runtime();
    let callee = plugin.callee();
    let report = match op {
        PlatformOp::Push {
            platform_order_id,
            dimension,
            from,
            to,
        } => {
            runtime
                .push_status(
                    &callee,
                    &context,
                    platform_order_id,
                    dimension,
                    from,
                    to,
                    key,
                )
                .await
        }
        PlatformOp::Upload(shipment) => {
            runtime
                .upload_shipment(&callee, &context, shipment, key)
                .await
        }
    };
    if !report.denied.is_empty() {
        tracing::warn!(plugin = plugin.label(), channel = %channel.id, denied = ?report.denied, "the plugin tried to reach hosts outside its allowlist");
    }
    match report.result {
        Ok(receipt) => Ok(Delivery::from(Receipt {
            reference: receipt.reference,
            summary: receipt.summary,
        })),
        Err(CallError::Platform(e)) => Err(match e {
            PlatformError::Transient {
                message,
                retry_after_ms,
            } => DeliveryError::Transient {
                message,
                retry_after_ms,
            },
            PlatformError::Rejected { message } => {
                DeliveryError::permanent(FailureKind::Rejected, message)
            }
            PlatformError::Auth { message } => DeliveryError::permanent(FailureKind::Auth, message),
            PlatformError::Config { message } => {
                DeliveryError::permanent(FailureKind::Config, message)
            }
            PlatformError::Unsupported { message } => {
                DeliveryError::permanent(FailureKind::Unsupported, message)
            }
        }),
        // A trap or a host failure may not happen again: retried, and seen
        // by an operator if it keeps happening.
        Err(e) => Err(DeliveryError::transient(format!(
            "plugin {}: {e}",
            plugin.label()
        ))),
    }
}
