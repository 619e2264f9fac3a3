//! Where an outbox job stands: waiting or failed (active), or finished
//! (delivered or dropped), with every attempt and the platform's receipt.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The most attempts kept with a job; older ones are summarised by the count.
pub const KEPT_ATTEMPTS: usize = 10;
/// The longest detail kept of one attempt (a response body, an error).
pub const DETAIL_MAX: usize = 1024;

/// An active job: waiting for its turn, or failed and waiting for an
/// operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobState {
    pub status: JobStatus,
    /// Attempts made so far, all of them.
    pub attempts: u32,
    /// When the next attempt is due.
    #[schema(value_type = String, format = DateTime)]
    pub due: Timestamp,
    /// The latest attempts, oldest first.
    pub history: Vec<Attempt>,
    /// Why the job stopped, when it is failed.
    pub failure: Option<Failure>,
    /// Set when an operator retried the job: it is sent even if it is older
    /// than the outbox's limit for messages.
    #[serde(default)]
    pub retried_by_operator: bool,
}

impl JobState {
    pub fn new(due: Timestamp) -> JobState {
        JobState {
            status: JobStatus::Pending,
            attempts: 0,
            due,
            history: Vec::new(),
            failure: None,
            retried_by_operator: false,
        }
    }

    /// Records an attempt, keeping the latest [`KEPT_ATTEMPTS`].
    pub fn record(&mut self, attempt: Attempt) {
        self.attempts = self.attempts.saturating_add(1);
        self.history.push(attempt);
        if self.history.len() > KEPT_ATTEMPTS {
            let extra = self.history.len() - KEPT_ATTEMPTS;
            self.history.drain(..extra);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Failed,
}

/// One try at a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub took_ms: u64,
    pub ok: bool,
    /// What came back: the receipt's summary, the platform's message, an
    /// HTTP status and body (cut to [`DETAIL_MAX`] bytes).
    pub detail: String,
}

impl Attempt {
    pub fn new(at: Timestamp, took_ms: u64, ok: bool, detail: &str) -> Attempt {
        Attempt {
            at,
            took_ms,
            ok,
            detail: truncate(detail, DETAIL_MAX),
        }
    }
}

/// Why a job stopped for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The platform or recipient refused the request.
    Rejected,
    /// The credentials were refused.
    Auth,
    /// The channel's or the host's settings are missing or wrong.
    Config,
    /// The platform cannot do this at all.
    Unsupported,
    /// Transient failures went on past the attempt limit.
    GaveUp,
    /// A message older than the outbox's limit when its turn came: sent
    /// that late it would confuse more than help.
    Expired,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Rejected => "rejected",
            FailureKind::Auth => "auth",
            FailureKind::Config => "config",
            FailureKind::Unsupported => "unsupported",
            FailureKind::GaveUp => "gave_up",
            FailureKind::Expired => "expired",
        }
    }
}

/// What the platform (or the mail relay, the SMS gateway, the webhook
/// endpoint) answered when it accepted a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The platform's id of what it created or changed, when it gave one;
    /// the Message-ID of a mail.
    pub reference: Option<String>,
    pub summary: String,
}

/// A finished job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobDone {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub attempts: u32,
    pub history: Vec<Attempt>,
    pub outcome: JobOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum JobOutcome {
    /// Delivered; the receipt is the platform's acknowledgement, kept apart
    /// from the order's own status.
    Delivered { receipt: Receipt },
    /// Dropped by an operator without being delivered.
    Dropped {
        by: String,
        failure: Option<Failure>,
    },
}

/// Where a job stands, in one word: `pending` (waiting for its first or
/// next attempt), `failed` (waiting for an operator), `delivered` or
/// `dropped`. The first two are active ([`JobState`]), the others finished
/// ([`JobDone`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobPhase {
    Pending,
    Failed,
    Delivered,
    Dropped,
}

impl JobPhase {
    /// The phase of a job with this state or end. A job is written with
    /// its state and finishes by trading it for its end in one batch, so it
    /// always has one of the two; an end read beside a state is the newer.
    pub fn of(state: Option<&JobState>, done: Option<&JobDone>) -> JobPhase {
        match (done, state) {
            (
                Some(JobDone {
                    outcome: JobOutcome::Delivered { .. },
                    ..
                }),
                _,
            ) => JobPhase::Delivered,
            (
                Some(JobDone {
                    outcome: JobOutcome::Dropped { .. },
                    ..
                }),
                _,
            ) => JobPhase::Dropped,
            (None, Some(state)) if state.status == JobStatus::Failed => JobPhase::Failed,
            (None, _) => JobPhase::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Pending => "pending",
            JobPhase::Failed => "failed",
            JobPhase::Delivered => "delivered",
            JobPhase::Dropped => "dropped",
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_has_a_phase_and_its_end_wins_over_its_state() {
        let now = Timestamp::now();
        let pending = JobState::new(now);
        let failed = JobState {
            status: JobStatus::Failed,
            ..JobState::new(now)
        };
        let done = |outcome| JobDone {
            at: now,
            attempts: 1,
            history: Vec::new(),
            outcome,
        };
        let delivered = done(JobOutcome::Delivered {
            receipt: Receipt {
                reference: None,
                summary: "ok".into(),
            },
        });
        let dropped = done(JobOutcome::Dropped {
            by: "ops".into(),
            failure: None,
        });
        assert_eq!(JobPhase::of(Some(&pending), None), JobPhase::Pending);
        assert_eq!(JobPhase::of(Some(&failed), None), JobPhase::Failed);
        assert_eq!(JobPhase::of(None, Some(&delivered)), JobPhase::Delivered);
        assert_eq!(
            JobPhase::of(Some(&failed), Some(&dropped)),
            JobPhase::Dropped
        );
        assert_eq!(
            serde_json::to_value(JobPhase::Delivered).unwrap(),
            serde_json::json!(JobPhase::Delivered.as_str())
        );
    }
}
