//! SMS through an HTTP gateway: a POST to a configured URL with a body made
//! from a template, so that any gateway's API can be spoken without code.

use std::time::Duration;

use minijinja::Environment;
use serde::{Deserialize, Serialize};

use super::{Delivered, DeliveryError};
use statusport_core::domain::job::{FailureKind, Receipt, truncate};

/// The gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Where messages are POSTed: `https://sms.example.com/v1/messages`.
    pub url: String,
    /// The `Authorization` header's value: `Bearer …` or `Basic …`.
    #[serde(default)]
    pub authorization: Option<String>,
    /// The sender name or number the gateway shows.
    #[serde(default)]
    pub from: Option<String>,
    /// The request body, a minijinja template over `to`, `from`, `text` and
    /// `reference` (stable per message: gateways that take a client
    /// reference drop a repeat).
    #[serde(default = "default_body")]
    pub body: String,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_body() -> String {
    r#"{"to": {{ to | tojson }}, "from": {{ from | tojson }}, "text": {{ text | tojson }}, "reference": {{ reference | tojson }}}"#.into()
}

fn default_content_type() -> String {
    "application/json".into()
}

fn default_timeout() -> u64 {
    15
}

pub struct SmsGateway {
    config: SmsConfig,
    url: reqwest::Url,
    env: Environment<'static>,
    client: reqwest::Client,
}

impl SmsGateway {
    /// Checks the settings; the error names the one that is wrong.
    pub fn new(config: &SmsConfig) -> Result<SmsGateway, String> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| format!("sms.url \"{}\": {e}", config.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("sms.url \"{}\" must be http or https", config.url));
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template_owned("body", config.body.clone())
            .map_err(|e| format!("sms.body: {e}"))?;
        let gateway = SmsGateway {
            config: config.clone(),
            url,
            env,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(config.timeout_secs.max(1)))
                .build()
                .map_err(|e| format!("sms: cannot build the HTTP client: {e}"))?,
        };
        gateway
            .body("+4915112345678", "a test", "job-1")
            .map_err(|e| format!("sms.body: {e}"))?;
        Ok(gateway)
    }

    fn body(&self, to: &str, text: &str, reference: &str) -> Result<String, String> {
        self.env
            .get_template("body")
            .and_then(|t| {
                t.render(minijinja::context! {
                    to => to,
                    from => self.config.from.clone().unwrap_or_default(),
                    text => text,
                    reference => reference,
                })
            })
            .map_err(|e| e.to_string())
    }

    pub async fn send(&self, to: &str, text: &str, reference: &str) -> Delivered {
        let body = self
            .body(to, text, reference)
            .map_err(|e| DeliveryError::permanent(FailureKind::Config, format!("sms.body: {e}")))?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, &self.config.content_type)
            .header("Idempotency-Key", reference)
            .body(body);
        if let Some(auth) = &self.config.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, auth);
        }
        let response = request
            .send()
            .await
            .map_err(|e| DeliveryError::transient(format!("SMS gateway: {e}")))?;
        classify("SMS gateway", response).await
    }
}

/// Turns an HTTP answer into a delivery result: 2xx delivered; 408, 429
/// and 5xx tried again (after Retry-After when given); 401 and 403 auth;
/// other 4xx rejected. The status and the start of the body are kept.
pub(crate) async fn classify(who: &str, response: reqwest::Response) -> Delivered {
    let status = response.status();
    let retry_after_ms = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| secs.saturating_mul(1000));
    let body = response.text().await.unwrap_or_default();
    let detail = format!(
        "{who}: HTTP {} {}",
        status.as_u16(),
        truncate(body.trim(), 512)
    );
    if status.is_success() {
        return Ok(Receipt {
            reference: None,
            summary: detail,
        });
    }
    match status.as_u16() {
        408 | 429 | 500..=599 => Err(DeliveryError::Transient {
            message: detail,
            retry_after_ms,
        }),
        401 | 403 => Err(DeliveryError::permanent(FailureKind::Auth, detail)),
        _ => Err(DeliveryError::permanent(FailureKind::Rejected, detail)),
    }
}
