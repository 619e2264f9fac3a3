//! Webhook deliveries: a JSON body POSTed to an operator's URL, signed with
//! HMAC-SHA256 over the timestamp and the body, as Stripe and Shopify sign
//! theirs, and carrying a stable event id so that a receiver can drop a
//! repeat.
//!
//! Headers: `Statusport-Event-Id`, `Statusport-Event-Type`, and
//! `Statusport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
//! A receiver recomputes the HMAC with the endpoint's secret and refuses a
//! timestamp older than a few minutes.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Delivered, DeliveryError};
use statusport_core::domain::notify::WebhookEndpoint;

pub const SIGNATURE_HEADER: &str = "Statusport-Signature";
pub const EVENT_ID_HEADER: &str = "Statusport-Event-Id";
pub const EVENT_TYPE_HEADER: &str = "Statusport-Event-Type";

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks a signature header as a receiver would; `tolerance` bounds the
/// age of the timestamp.
pub fn verify(secret: &str, header: &str, body: &str, now: i64, tolerance: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    signatures.iter().any(|s| {
        hex::decode(s)
            .map(|bytes| mac.clone().verify_slice(&bytes).is_ok())
            .unwrap_or(false)
    })
}

pub struct WebhookSender {
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new(timeout: Duration) -> Result<WebhookSender, String> {
        Ok(WebhookSender {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("Statusport/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("webhooks: cannot build the HTTP client: {e}"))?,
        })
    }

    pub async fn deliver(
        &self,
        endpoint: &WebhookEndpoint,
        event_id: &str,
        event_type: &str,
        body: &str,
        now: i64,
    ) -> Delivered {
        let response = self
            .client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, event_id)
            .header(EVENT_TYPE_HEADER, event_type)
            .header(SIGNATURE_HEADER, sign(&endpoint.secret, now, body))
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| DeliveryError::transient(format!("webhook {}: {e}", endpoint.id)))?;
        super::sms::classify(&format!("webhook {}", endpoint.id), response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value Python's `hmac.new(secret, b"1795431900." + body,
    /// hashlib.sha256).hexdigest()` gives: what a receiver following the
    /// README computes.
    #[test]
    fn the_signature_matches_an_independent_hmac_sha256() {
        let header = sign("whsec_0123456789abcdef", 1_795_431_900, r#"{"id":"evt"}"#);
        assert_eq!(
            header,
            "t=1795431900,v1=b540e66079d795459fab21cee8c2c5c48dd8a4aacf849c6d82e9a4cc4831fc91"
        );
        assert!(verify(
            "whsec_0123456789abcdef",
            &header,
            r#"{"id":"evt"}"#,
            1_795_431_950,
            300
        ));
        // Too old.
        assert!(!verify(
            "whsec_0123456789abcdef",
            &header,
            r#"{"id":"evt"}"#,
            1_795_432_900,
            300
        ));
    }
}
