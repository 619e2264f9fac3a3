//! Times as eBay writes and wants them: ISO 8601 UTC with milliseconds,
//! `2015-08-04T19:09:02.768Z`, held as milliseconds since the Unix epoch.
//! (The SDK's `time` cuts fractions of a second; eBay's search filters and
//! its order times keep them.)

use statusport_plugin_sdk::time;

/// Milliseconds since the epoch of an RFC 3339 time (`…Z` or with an
/// offset, with or without a fraction of a second; digits past the
/// millisecond are cut).
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let secs = time::parse(text)?;
    // The fraction follows the seconds: `…:SS.fff`, before any offset.
    let millis = match text.get(19..).and_then(|rest| rest.strip_prefix('.')) {
        Some(fraction) => {
            let digits: String = fraction
                .chars()
                .take_while(char::is_ascii_digit)
                .take(3)
                .collect();
            if digits.is_empty() {
                return None;
            }
            format!("{digits:0<3}").parse::<i64>().ok()?
        }
        None => 0,
    };
    secs.checked_mul(1000)?.checked_add(millis)
}

/// `2026-11-22T14:05:00.123Z` for `ms` since the epoch.
pub fn ebay_time(ms: i64) -> String {
    let whole = time::format_rfc3339(ms.div_euclid(1000));
    let stem = whole.strip_suffix('Z').unwrap_or(&whole);
    format!("{stem}.{:03}Z", ms.rem_euclid(1000))
}

/// An RFC 3339 time (the host's) written as eBay wants it.
pub fn ebay_time_of(text: &str) -> Option<String> {
    parse_ms(text).map(ebay_time)
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    time::now() * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebay_times_keep_their_milliseconds() {
        let ms = parse_ms("2015-08-04T19:09:02.768Z").unwrap();
        assert_eq!(ms % 1000, 768);
        assert_eq!(ebay_time(ms), "2015-08-04T19:09:02.768Z");
        assert_eq!(ebay_time(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn host_times_become_ebay_times() {
        assert_eq!(
            ebay_time_of("2026-11-20T09:30:00Z").as_deref(),
            Some("2026-11-20T09:30:00.000Z")
        );
        assert_eq!(
            ebay_time_of("2026-11-20T10:30:00.5+01:00").as_deref(),
            Some("2026-11-20T09:30:00.500Z")
        );
        assert_eq!(
            ebay_time_of("2026-11-20T09:30:00.123456Z").as_deref(),
            Some("2026-11-20T09:30:00.123Z")
        );
    }

    #[test]
    fn what_is_not_a_time_is_none() {
        for text in ["", "2026-11-20", "2026-11-20T09:30:00.Z", "yesterday"] {
            assert_eq!(parse_ms(text), None, "{text}");
        }
    }
}
