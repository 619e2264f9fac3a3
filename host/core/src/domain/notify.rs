//! What notifications are made of: message templates and webhook endpoints.

use serde::{Deserialize, Serialize};

/// What a template is for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// An email: subject, plain text, optional HTML.
    Email,
    /// A text message: the text only.
    Sms,
    /// A layout other templates extend (`{% extends "base.html" %}`); its
    /// `text` is `<name>.txt`, its `html` is `<name>.html`.
    Layout,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Email => "email",
            TemplateKind::Sms => "sms",
            TemplateKind::Layout => "layout",
        }
    }
}

/// A message template, in the minijinja (Jinja2) language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub kind: TemplateKind,
    /// The subject line (email only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The plain-text body; an SMS's whole text.
    pub text: String,
    /// The HTML body (email and layout only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A URL an operator registered for webhook events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// The event types it receives (`order.paid`, `order.shipped`, …);
    /// `*` receives every type.
    pub events: Vec<String>,
    /// The key deliveries are signed with (HMAC-SHA256).
    pub secret: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl WebhookEndpoint {
    pub fn wants(&self, event: &str) -> bool {
        self.enabled && self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// Checks an endpoint before it is saved; every problem is listed.
pub fn check_endpoint(endpoint: &WebhookEndpoint) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = super::order::check_id("webhook id", &endpoint.id) {
        problems.push(e);
    }
    match url::Url::parse(&endpoint.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        Ok(_) => problems.push(format!("url \"{}\" must be http or https", endpoint.url)),
        Err(e) => problems.push(format!("url \"{}\": {e}", endpoint.url)),
    }
    if endpoint.events.is_empty() {
        problems.push("events: name at least one event type, or \"*\" for all".into());
    }
    if endpoint.secret.len() < 16 {
        problems.push("secret: must be at least 16 characters".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
