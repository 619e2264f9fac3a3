//! UTC times as platforms and the contract write them: RFC 3339 in,
//! seconds since the Unix epoch, RFC 3339 out (jiff underneath).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    Timestamp::now().as_second()
}

/// The instant `secs` after the epoch, held within the range of times a
/// calendar can write (years 1 to 9999).
fn instant(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `2026-11-22T14:05:00Z` for `secs` since the epoch.
pub fn format_rfc3339(secs: i64) -> String {
    // Whole seconds: jiff writes no fraction.
    instant(secs).to_string()
}

/// `2026-11-22T14:05:00`: the form WooCommerce takes in its date filters.
pub fn format_naive(secs: i64) -> String {
    instant(secs).to_zoned(TimeZone::UTC).datetime().to_string()
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (a
/// space may stand for the `T`); a time without an offset is taken as UTC,
/// as WooCommerce writes its `_gmt` fields. Fractions of a second are cut.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    // A date alone is no time.
    if text.len() < 19 {
        return None;
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at.as_second());
    }
    let civil: DateTime = text.parse().ok()?;
    Some(civil.to_zoned(TimeZone::UTC).ok()?.timestamp().as_second())
}

/// `text` (see [`parse`]) as RFC 3339 UTC: `2026-11-22T14:05:00Z`.
pub fn to_rfc3339(text: &str) -> Option<String> {
    parse(text).map(format_rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_seconds() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2026-11-22T14:05:00Z",
        ] {
            assert_eq!(format_rfc3339(parse(text).unwrap()), text);
        }
        assert_eq!(parse("1970-01-02T00:00:00Z"), Some(86_400));
    }

    #[test]
    fn offsets_fractions_and_naive_times_become_utc() {
        assert_eq!(
            to_rfc3339("2026-11-22T14:05:00").unwrap(),
            "2026-11-22T14:05:00Z"
        );
        assert_eq!(
            to_rfc3339("2026-11-22T14:05:00.123+02:00").unwrap(),
            "2026-11-22T12:05:00Z"
        );
        assert_eq!(
            to_rfc3339("2026-11-22 14:05:00-01:30").unwrap(),
            "2026-11-22T15:35:00Z"
        );
        assert_eq!(format_naive(0), "1970-01-01T00:00:00");
    }

    #[test]
    fn what_is_not_a_time_is_none() {
        for text in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-11-22T14:05:00+2",
            "22.11.2026 14:05:00",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
