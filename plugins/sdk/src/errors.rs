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
    from_status_after(status, retry_after.and_then(parse_retry_after), body)
}

/// [`from_status`] with the wait already read (see
/// `http::Response::retry_after`).
pub fn from_status_after(status: u16, retry_after: Option<Duration>, body: &[u8]) -> AdapterError {
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
            retry_after_ms: retry_after.map(|d| d.as_millis() as u64),
        }),
        _ => AdapterError::Rejected(message),
    }
}

/// `error` with its message prefixed by `what` (the request it came from:
/// `POST https://shop.example/orders/7/shipments: …`).
pub fn about(what: &str, error: AdapterError) -> AdapterError {
    let prefix = |m: String| format!("{what}: {m}");
    match error {
        AdapterError::Transient(t) => AdapterError::Transient(TransientError {
            message: prefix(t.message),
            retry_after_ms: t.retry_after_ms,
        }),
        AdapterError::Rejected(m) => AdapterError::Rejected(prefix(m)),
        AdapterError::Auth(m) => AdapterError::Auth(prefix(m)),
        AdapterError::Config(m) => AdapterError::Config(prefix(m)),
        AdapterError::Unsupported(m) => AdapterError::Unsupported(prefix(m)),
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

/// The most useful line of a platform's error body, so that an operator
/// reads what the platform said:
/// - JSON: a top-level `message` (WooCommerce, Adobe Commerce — its `%1`
///   / `%name` placeholders filled from `parameters`), with `code` when
///   there is one; `errors[]` entries (Shopware's `detail`/`title`,
///   Amazon's, eBay's and Allegro's `message`/`userMessage`/`longMessage`);
///   a top-level array of such entries (BigCommerce v2); a problem's
///   `title`/`detail` (RFC 7807, BigCommerce v3); OAuth's `error` and
///   `error_description`; a plain `error` string (Etsy);
/// - XML: the text of the first `message`, `error`, `detail`,
///   `description` or `faultstring` element, in any case and namespace;
/// - anything else: the start of the text.
pub fn platform_message(body: &[u8]) -> String {
    if let Some(said) = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .as_ref()
        .and_then(json_message)
    {
        return said;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if let Some(said) = text.starts_with('<').then(|| xml_message(text)).flatten() {
        return cut(&said);
    }
    cut(text)
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn text_of<'a>(v: &'a serde_json::Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(|m| m.as_str()))
        .filter(|m| !m.trim().is_empty())
}

/// One error entry: `code: message` where both are there.
fn entry(v: &serde_json::Value) -> Option<String> {
    let text = text_of(
        v,
        &["userMessage", "longMessage", "message", "detail", "title"],
    )?;
    let code = match v.get("code").or_else(|| v.get("errorId")) {
        Some(serde_json::Value::String(c)) if !c.is_empty() => Some(c.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(match code {
        Some(code) => format!("{code}: {text}"),
        None => text.to_owned(),
    })
}

/// Adobe Commerce writes `"message": "No such entity with %fieldName = %fieldValue"`
/// and the values in `parameters` (an object by name or a list for `%1`…).
fn fill(message: &str, parameters: Option<&serde_json::Value>) -> String {
    let mut out = message.to_owned();
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match parameters {
        Some(serde_json::Value::Object(map)) => {
            // Longer names first, so `%field` does not eat `%fieldName`.
            let mut names: Vec<_> = map.iter().collect();
            names.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
            for (name, value) in names {
                out = out.replace(&format!("%{name}"), &show(value));
            }
        }
        Some(serde_json::Value::Array(list)) => {
            for (i, value) in list.iter().enumerate().rev() {
                out = out.replace(&format!("%{}", i + 1), &show(value));
            }
        }
        _ => {}
    }
    out
}

fn joined(list: &[serde_json::Value]) -> Option<String> {
    let parts: Vec<String> = list.iter().filter_map(entry).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn json_message(json: &serde_json::Value) -> Option<String> {
    if let Some(list) = json.as_array() {
        return joined(list);
    }
    if let Some(message) = text_of(json, &["message"]) {
        let message = fill(message, json.get("parameters"));
        return Some(match text_of(json, &["code"]) {
            Some(code) => format!("{code}: {message}"),
            None => message,
        });
    }
    if let Some(said) = json
        .get("errors")
        .and_then(|e| e.as_array())
        .and_then(|list| joined(list))
    {
        return Some(said);
    }
    if let Some(description) = text_of(json, &["error_description"]) {
        return Some(match text_of(json, &["error"]) {
            Some(error) => format!("{error}: {description}"),
            None => description.to_owned(),
        });
    }
    if let Some(title) = text_of(json, &["title"]) {
        return Some(match text_of(json, &["detail"]) {
            Some(detail) => format!("{title}: {detail}"),
            None => title.to_owned(),
        });
    }
    text_of(json, &["error", "detail"]).map(str::to_owned)
}

fn xml_message(text: &str) -> Option<String> {
    use quick_xml::events::Event;
    const NAMES: &[&str] = &["message", "error", "detail", "description", "faultstring"];
    let mut reader = quick_xml::Reader::from_str(text);
    let mut inside = false;
    let mut found = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                let local = start.local_name();
                let name = String::from_utf8_lossy(local.as_ref()).to_ascii_lowercase();
                inside = NAMES.contains(&name.as_str());
                found.clear();
            }
            Event::Text(t) if inside => {
                found.push_str(&t.decode().ok()?);
            }
            Event::GeneralRef(r) if inside => {
                if let Some(c) = r.resolve_char_ref().ok().flatten() {
                    found.push(c);
                } else {
                    let name = r.decode().ok()?;
                    found.push_str(
                        quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""),
                    );
                }
            }
            Event::CData(t) if inside => {
                found.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(_) if inside => {
                let said = found.trim();
                if !said.is_empty() {
                    return Some(said.to_owned());
                }
                inside = false;
            }
            Event::Eof => return None,
            _ => {}
        }
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
    fn the_platforms_error_shapes_are_read() {
        let cases: &[(&[u8], &str)] = &[
            // Amazon SP-API
            (
                br#"{"errors":[{"code":"InvalidInput","message":"Invalid carrierCode","details":""}]}"#,
                "InvalidInput: Invalid carrierCode",
            ),
            // eBay
            (
                br#"{"errors":[{"errorId":32100,"domain":"API_FULFILLMENT","message":"Invalid order ID","longMessage":"Invalid order ID: 1"}]}"#,
                "32100: Invalid order ID: 1",
            ),
            // BigCommerce v2
            (
                br#"[{"status":400,"message":"The field 'status_id' is invalid."}]"#,
                "The field 'status_id' is invalid.",
            ),
            // BigCommerce v3 problem
            (
                br#"{"status":422,"title":"Missing or invalid data","type":"x"}"#,
                "Missing or invalid data",
            ),
            // Adobe Commerce
            (
                br#"{"message":"No such entity with %fieldName = %fieldValue","parameters":{"fieldName":"orderId","fieldValue":"7"}}"#,
                "No such entity with orderId = 7",
            ),
            (
                br#"{"message":"The \"%1\" status is not allowed.","parameters":["closed"]}"#,
                "The \"closed\" status is not allowed.",
            ),
            // Allegro
            (
                br#"{"errors":[{"code":"NotFoundException","message":"m","userMessage":"Order not found"}]}"#,
                "NotFoundException: Order not found",
            ),
            // OAuth token endpoints
            (
                br#"{"error":"invalid_grant","error_description":"The refresh token has expired"}"#,
                "invalid_grant: The refresh token has expired",
            ),
            // Etsy
            (br#"{"error":"Receipt not found"}"#, "Receipt not found"),
            // XML
            (
                b"<?xml version=\"1.0\"?><prestashop><errors><error><code><![CDATA[3]]></code><message><![CDATA[Status is not valid]]></message></error></errors></prestashop>",
                "Status is not valid",
            ),
            (
                b"<soap:Envelope xmlns:soap=\"x\"><soap:Body><soap:Fault><faultstring>Bad &amp; wrong</faultstring></soap:Fault></soap:Body></soap:Envelope>",
                "Bad & wrong",
            ),
        ];
        for (body, said) in cases {
            assert_eq!(
                platform_message(body),
                *said,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn about_names_the_request_and_keeps_the_kind() {
        let err = about(
            "PUT https://h/o/1",
            from_status(429, Some("3"), b"slow down"),
        );
        match err {
            AdapterError::Transient(t) => {
                assert_eq!(
                    t.message,
                    "PUT https://h/o/1: the platform answered HTTP 429: slow down"
                );
                assert_eq!(t.retry_after_ms, Some(3000));
            }
            other => panic!("expected transient, got {other:?}"),
        }
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
