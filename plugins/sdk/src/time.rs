//! UTC times as platforms and the contract write them, without a calendar
//! crate: RFC 3339 in, seconds since the Unix epoch, RFC 3339 out.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-22T14:05:00Z` for `secs` since the epoch.
pub fn format_rfc3339(secs: i64) -> String {
    let (y, m, d, rest) = civil(secs);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// `2026-11-22T14:05:00`: the form WooCommerce takes in its date filters.
pub fn format_naive(secs: i64) -> String {
    let mut text = format_rfc3339(secs);
    text.pop();
    text
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (a
/// space may stand for the `T`); a time without an offset is taken as UTC,
/// as WooCommerce writes its `_gmt` fields. Fractions of a second are cut.
pub fn parse(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = &b[from..to];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let h = i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0');
            let m = i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0');
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `text` (see [`parse`]) as RFC 3339 UTC: `2026-11-22T14:05:00Z`.
pub fn to_rfc3339(text: &str) -> Option<String> {
    parse(text).map(format_rfc3339)
}

// Howard Hinnant's algorithms (http://howardhinnant.github.io/date_algorithms.html).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil(secs: i64) -> (i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rest)
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
