//! Maps what a platform answered to the contract's `adapter-error`, so that
//! every plugin classifies failures the same way: the host retries what is
//! transient and shows an operator everything else.

use std::time::{Duration, SystemTime};

use crate::{AdapterError, TransientError};

/// Longest part of a platform's answer quoted in an error.
const QUOTE_LIMIT: usize = 300;

/// The error for an HTTP answer that is not a success.
///
/// 401 and 403 are `auth`; 408, 425, 429 and every 5xx are `transient`, with
/// the platform's Retry-After when it sent one; any other status is
/// `rejected`, quoting the platform's own message.
pub fn from_status(status: u16, retry_after: Option<&str>, body: &[u8]) -> AdapterError {
    let said = platform_message(body);
    let message = if said.is_empty() {
        format!("the platform answered HTTP {status}")
    } else {
        format!("the platform answered HTTP {status}: {said}")
    };
    match status {
        401 | 403 => AdapterError::Auth(message),
        408 | 425 | 429 | 500..=599 => AdapterError::Transient(TransientError {
            message,
            retry_after_ms: retry_after
                .and_then(parse_retry_after)
                .map(|d| d.as_millis() as u64),
        }),
        _ => AdapterError::Rejected(message),
    }
}

/// A transient error with no hint of when to retry.
pub fn transient(message: impl Into<String>) -> AdapterError {
    AdapterError::Transient(TransientError {
        message: message.into(),
        retry_after_ms: None,
    })
}

/// Parses a Retry-After value: a number of seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The most useful line of a platform's error body: a JSON `message`,
/// Shopware's `errors[].detail`/`title`, or the start of the text.
pub fn platform_message(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(message) = json.get("message").and_then(|m| m.as_str()) {
            let code = json.get("code").and_then(|c| c.as_str());
            return match code {
                Some(code) => format!("{code}: {message}"),
                None => message.to_owned(),
            };
        }
        if let Some(errors) = json.get("errors").and_then(|e| e.as_array()) {
            let parts: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    let code = e.get("code").and_then(|c| c.as_str());
                    let text = e
                        .get("detail")
                        .or_else(|| e.get("title"))
                        .and_then(|d| d.as_str())?;
                    Some(match code {
                        Some(code) => format!("{code}: {text}"),
                        None => text.to_owned(),
                    })
                })
                .collect();
            if !parts.is_empty() {
                return parts.join("; ");
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_transient_with(err: &AdapterError, ms: Option<u64>) -> bool {
        matches!(err, AdapterError::Transient(t) if t.retry_after_ms == ms)
    }

    #[test]
    fn too_many_requests_is_transient_with_the_platforms_delay() {
        let err = from_status(429, Some("7"), b"");
        assert!(is_transient_with(&err, Some(7000)), "{err:?}");
    }

    #[test]
    fn server_errors_are_transient_without_delay() {
        assert!(is_transient_with(&from_status(503, None, b"down"), None));
    }

    #[test]
    fn unauthorized_is_auth() {
        assert!(matches!(from_status(401, None, b""), AdapterError::Auth(_)));
    }

    #[test]
    fn unprocessable_is_rejected_quoting_the_woocommerce_message() {
        let body = br#"{"code":"woocommerce_rest_invalid_id","message":"Invalid ID.","data":{"status":404}}"#;
        match from_status(404, None, body) {
            AdapterError::Rejected(m) => assert_eq!(
                m,
                "the platform answered HTTP 404: woocommerce_rest_invalid_id: Invalid ID."
            ),
            other => panic!("expected rejected, got {other:?}"),
        }
    }

    #[test]
    fn shopware_errors_are_joined() {
        let body = br#"{"errors":[{"code":"FRAMEWORK__X","title":"Bad","detail":"Nope"}]}"#;
        assert_eq!(platform_message(body), "FRAMEWORK__X: Nope");
    }

    #[test]
    fn long_text_bodies_are_cut() {
        let body = "x".repeat(1000);
        assert_eq!(
            platform_message(body.as_bytes()).chars().count(),
            QUOTE_LIMIT + 1
        );
    }

    #[test]
    fn retry_after_in_the_past_is_zero() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
