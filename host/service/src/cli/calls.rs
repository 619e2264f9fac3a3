//! What `plugin check` and `plugin test` show of a plugin call: the
//! requests it sent (headers and bodies with secrets masked), the origins
//! it was refused, its log lines, and its outcome in words — one structure,
//! printed for a person or as JSON.

use std::collections::BTreeSet;

use serde::Serialize;
use statusport_core::domain::intake::{Batch, Inbound};
use statusport_core::domain::job::Receipt;
use statusport_core::domain::platform::PlatformError;
use statusport_runtime::CallError;
use statusport_runtime::call::{CallReport, SentRequest};
use statusport_runtime::sandbox::SECRET_HEADERS;

/// Shown in place of a secret.
pub const MASK: &str = "(secret)";

/// Fields of a JSON or form body that hold credentials (token endpoints'
/// requests and answers).
const SECRET_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "code_verifier",
];

/// What must not be shown: the values of the plugin's secret config fields.
#[derive(Clone, Debug, Default)]
pub struct Secrets(BTreeSet<String>);

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        // A value of a few characters would mask half the output.
        Secrets(values.into_iter().filter(|v| v.len() >= 4).collect())
    }

    /// `text` with every credential field of a JSON or form body, and every
    /// secret value (as is or URL-encoded), replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        if let Ok(mut json) = serde_json::from_str::<serde_json::Value>(text) {
            return if self.mask_json(&mut json) {
                json.to_string()
            } else {
                text.to_owned()
            };
        }
        if looks_like_form(text) {
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let masked: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| {
                    let v = if SECRET_FIELDS.contains(&k.as_str()) {
                        MASK.to_owned()
                    } else {
                        self.in_text(v)
                    };
                    (k.clone(), v)
                })
                .collect();
            if masked != pairs {
                return url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&masked)
                    .finish();
            }
            return text.to_owned();
        }
        self.in_text(text)
    }

    /// Secret values inside free text, as is or URL-encoded.
    fn in_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // A secret that is part of the mask itself (a test's "secret") would
        // mask the mask.
        for secret in self.0.iter().filter(|s| !MASK.contains(s.as_str())) {
            out = out.replace(secret.as_str(), MASK);
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != *secret {
                out = out.replace(&encoded, MASK);
            }
        }
        out
    }

    /// Masks credential fields and secret values in the strings of
    /// `value`; whether anything changed.
    fn mask_json(&self, value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                let mut changed = false;
                for (key, v) in map.iter_mut() {
                    if SECRET_FIELDS.contains(&key.as_str()) && v.is_string() {
                        changed |= v.as_str() != Some(MASK);
                        *v = serde_json::Value::String(MASK.into());
                    } else {
                        changed |= self.mask_json(v);
                    }
                }
                changed
            }
            serde_json::Value::Array(list) => {
                list.iter_mut().fold(false, |c, v| self.mask_json(v) | c)
            }
            serde_json::Value::String(text) => {
                let masked = self.in_text(text);
                let changed = masked != *text;
                *text = masked;
                changed
            }
            _ => false,
        }
    }

    fn header(&self, name: &str, value: &str) -> String {
        if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            // Keep the scheme: "Bearer (secret)" still says which auth it is.
            match value.split_once(' ') {
                Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} {MASK}"),
                _ => MASK.to_owned(),
            }
        } else {
            self.mask(value)
        }
    }
}

fn looks_like_form(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(char::is_whitespace)
        && text.contains('=')
        && !text.starts_with('<')
}

/// One request a call sent, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct ShownRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: Option<u16>,
    pub answer: Option<String>,
    /// Whether and how the exchange was held to the API description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
}

impl ShownRequest {
    pub fn of(sent: &SentRequest, secrets: &Secrets) -> ShownRequest {
        ShownRequest {
            method: sent.method.clone(),
            url: secrets.mask(&sent.url),
            headers: sent
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), secrets.header(n, v)))
                .collect(),
            body: secrets.mask(&sent.body),
            status: sent.status,
            answer: sent.answer.as_deref().map(|a| secrets.mask(a)),
            spec: None,
            mismatches: Vec::new(),
        }
    }
}

/// How a call ended.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A push or an upload the platform accepted.
    Accepted {
        reference: Option<String>,
        summary: String,
    },
    /// A pull's batch.
    Pulled {
        orders: usize,
        status_changes: usize,
        /// Platform order ids of the orders, in order.
        order_ids: Vec<String>,
        next_cursor: Option<String>,
        more: bool,
    },
    /// The plugin says the platform cannot do this (a read-only status).
    Unsupported { message: String },
    /// Any other failure: `kind` is `transient`, `rejected`, `auth`,
    /// `config`, `trap`, `host` or `answer`.
    Failed {
        kind: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl Outcome {
    pub fn of_error(error: &CallError) -> Outcome {
        let failed = |kind: &str, message: &str, retry_after_ms| Outcome::Failed {
            kind: kind.to_owned(),
            message: message.to_owned(),
            retry_after_ms,
        };
        match error {
            CallError::Platform(PlatformError::Unsupported { message }) => Outcome::Unsupported {
                message: message.clone(),
            },
            CallError::Platform(PlatformError::Transient {
                message,
                retry_after_ms,
            }) => failed("transient", message, *retry_after_ms),
            CallError::Platform(PlatformError::Rejected { message }) => {
                failed("rejected", message, None)
            }
            CallError::Platform(PlatformError::Auth { message }) => failed("auth", message, None),
            CallError::Platform(PlatformError::Config { message }) => {
                failed("config", message, None)
            }
            CallError::Trap { message, .. } => failed("trap", message, None),
            CallError::Host(message) => failed("host", message, None),
            CallError::Answer(message) => failed("answer", message, None),
        }
    }

    pub fn of_receipt(result: &Result<Receipt, CallError>) -> Outcome {
        match result {
            Ok(r) => Outcome::Accepted {
                reference: r.reference.clone(),
                summary: r.summary.clone(),
            },
            Err(e) => Outcome::of_error(e),
        }
    }

    pub fn of_batch(result: &Result<Batch, CallError>) -> Outcome {
        match result {
            Ok(batch) => {
                let order_ids: Vec<String> = batch
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        Inbound::Order(o) => Some(o.platform_order_id.clone()),
                        Inbound::StatusChange(_) => None,
                    })
                    .collect();
                Outcome::Pulled {
                    orders: order_ids.len(),
                    status_changes: batch.items.len() - order_ids.len(),
                    order_ids,
                    next_cursor: batch.next_cursor.clone(),
                    more: batch.more,
                }
            }
            Err(e) => Outcome::of_error(e),
        }
    }

    /// The kind of the outcome: `ok`, `unsupported`, or the failure's kind.
    pub fn kind(&self) -> &str {
        match self {
            Outcome::Accepted { .. } | Outcome::Pulled { .. } => "ok",
            Outcome::Unsupported { .. } => "unsupported",
            Outcome::Failed { kind, .. } => kind,
        }
    }

    /// One line for a person.
    pub fn line(&self) -> String {
        match self {
            Outcome::Accepted {
                reference: Some(reference),
                summary,
            } => format!("ok: {summary} (platform reference {reference})"),
            Outcome::Accepted {
                reference: None,
                summary,
            } => format!("ok: {summary}"),
            Outcome::Pulled {
                orders,
                status_changes,
                order_ids,
                next_cursor,
                more,
            } => {
                let shown: Vec<&str> = order_ids.iter().take(10).map(String::as_str).collect();
                let ids = if order_ids.is_empty() {
                    String::new()
                } else if order_ids.len() > shown.len() {
                    format!(" ({}, …)", shown.join(", "))
                } else {
                    format!(" ({})", shown.join(", "))
                };
                format!(
                    "ok: {orders} order(s){ids}, {status_changes} status change(s); next cursor {}; {}",
                    next_cursor
                        .as_deref()
                        .map(|c| format!("\"{c}\""))
                        .unwrap_or_else(|| "none".into()),
                    if *more {
                        "more waiting"
                    } else {
                        "nothing more waiting"
                    }
                )
            }
            Outcome::Unsupported { message } => {
                format!("not supported by the platform: {message}")
            }
            Outcome::Failed {
                kind,
                message,
                retry_after_ms: Some(ms),
            } => format!("failed ({kind}, retry after {ms} ms): {message}"),
            Outcome::Failed { kind, message, .. } => format!("failed ({kind}): {message}"),
        }
    }
}

/// One call as shown.
#[derive(Clone, Debug, Serialize)]
pub struct ShownCall {
    /// `push-status`, `upload-shipment`, `pull`.
    pub call: String,
    /// What was asked: `1001 order pending → processing`.
    pub what: String,
    pub elapsed_ms: u128,
    pub instructions: u64,
    pub requests: Vec<ShownRequest>,
    /// Origins the plugin tried to reach and was refused.
    pub refused_origins: Vec<String>,
    pub logs: Vec<(String, String)>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The plugin's stdout and stderr, when the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl ShownCall {
    pub fn of<T>(
        call: &str,
        what: String,
        report: &CallReport<T>,
        outcome: Outcome,
        secrets: &Secrets,
    ) -> ShownCall {
        let failed = matches!(outcome, Outcome::Failed { .. });
        ShownCall {
            call: call.to_owned(),
            what,
            elapsed_ms: report.elapsed.as_millis(),
            instructions: report.fuel_used,
            requests: report
                .sent
                .iter()
                .map(|s| ShownRequest::of(s, secrets))
                .collect(),
            refused_origins: report.denied.clone(),
            logs: report
                .logs
                .iter()
                .map(|l| (l.level.to_owned(), secrets.mask(&l.message)))
                .collect(),
            outcome,
            output: (failed && !report.output.trim().is_empty())
                .then(|| secrets.mask(&report.output)),
        }
    }

    /// Prints the call for a person.
    pub fn print(&self) {
        out!(
            "\n{} {}: {} ms, {} instructions",
            self.call,
            self.what,
            self.elapsed_ms,
            self.instructions
        );
        for r in &self.requests {
            let status = r
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "no answer".into());
            out!("  sent {} {} → {status}", r.method, r.url);
            for (name, value) in &r.headers {
                out!("       {name}: {value}");
            }
            if !r.body.is_empty() {
                out!("       body: {}", r.body);
            }
            if let Some(answer) = r.answer.as_deref().filter(|a| !a.trim().is_empty()) {
                out!("       answer: {}", shorten(answer, 300));
            }
            if let Some(spec) = &r.spec {
                out!("       spec: {spec}");
            }
            for m in &r.mismatches {
                out!("       spec mismatch: {m}");
            }
        }
        for d in &self.refused_origins {
            out!("  refused: host not allowed: {d}");
        }
        for (level, message) in &self.logs {
            out!("  log {level}: {message}");
        }
        out!("  {}", self.outcome.line());
        if let Some(output) = &self.output {
            out!("  plugin output:\n{}", indent(output));
        }
    }
}

/// `text` cut to `limit` characters.
pub fn shorten(text: &str, limit: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_and_credential_fields_are_masked() {
        let secrets = Secrets::new(["s3cr3t/+value".to_owned(), "ab".to_owned()]);
        // As is, URL-encoded in a form, and as a credential field.
        assert_eq!(
            secrets.mask("grant_type=refresh_token&refresh_token=rt-1&client_secret=s3cr3t%2F%2Bvalue&client_id=app"),
            "grant_type=refresh_token&refresh_token=%28secret%29&client_secret=%28secret%29&client_id=app"
        );
        assert_eq!(
            secrets.mask(
                r#"{"access_token":"Atza|x","expires_in":3600,"nested":[{"refresh_token":"r"}]}"#
            ),
            r#"{"access_token":"(secret)","expires_in":3600,"nested":[{"refresh_token":"(secret)"}]}"#
        );
        assert_eq!(
            secrets.mask("key s3cr3t/+value in text"),
            "key (secret) in text"
        );
        // Too short to mask without masking everything.
        assert_eq!(secrets.mask("ab cd"), "ab cd");
        // A secret spelled like a field name masks values, never keys.
        let secrets = Secrets::new(["secret".to_owned()]);
        assert_eq!(
            secrets.mask(r#"{"client_id":"app","client_secret":"secret","note":"a secret"}"#),
            r#"{"client_id":"app","client_secret":"(secret)","note":"a secret"}"#
        );
        assert_eq!(
            secrets.header("Authorization", "Bearer abc"),
            "Bearer (secret)"
        );
        assert_eq!(secrets.header("x-amz-access-token", "Atza|x"), "(secret)");
        assert_eq!(
            secrets.header("accept", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn outcomes_read_as_sentences() {
        let accepted = Outcome::Accepted {
            reference: Some("T-9".into()),
            summary: "tracking 1Z9 added".into(),
        };
        assert_eq!(
            accepted.line(),
            "ok: tracking 1Z9 added (platform reference T-9)"
        );
        let pulled = Outcome::Pulled {
            orders: 2,
            status_changes: 1,
            order_ids: vec!["7".into(), "8".into()],
            next_cursor: Some("c2".into()),
            more: true,
        };
        assert_eq!(
            pulled.line(),
            "ok: 2 order(s) (7, 8), 1 status change(s); next cursor \"c2\"; more waiting"
        );
        let failed = Outcome::Failed {
            kind: "transient".into(),
            message: "HTTP 429".into(),
            retry_after_ms: Some(2000),
        };
        assert_eq!(
            failed.line(),
            "failed (transient, retry after 2000 ms): HTTP 429"
        );
        assert_eq!(failed.kind(), "transient");
    }
}
