//! Amounts as platforms write them (`"19.99"`, `1500`, `"0.125"`) turned
//! into integer minor units of their currency, never through a float.

/// ISO 4217 currencies whose minor unit is not a hundredth: (code, decimals).
/// Every other currency has two decimals.
const DECIMALS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// How many decimals `currency`'s minor unit has: JPY 0, EUR 2, KWD 3.
pub fn decimals(currency: &str) -> u32 {
    DECIMALS
        .iter()
        .find(|(code, _)| *code == currency)
        .map_or(2, |(_, d)| *d)
}

/// Checks an ISO 4217 code: three upper-case letters.
pub fn currency(code: &str) -> Result<&str, String> {
    let code = code.trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(format!(
            "currency \"{code}\" is not an ISO 4217 code of three upper-case letters, such as EUR"
        ))
    }
}

/// `amount` (a decimal number: `19.99`, `-5`, `0.125`) in minor units of
/// `currency`. Digits past the currency's decimals are rounded half away
/// from zero, since platforms store unit prices with more precision than
/// their currency has (WooCommerce's `8.333333`).
pub fn minor_units(amount: &str, currency: &str) -> Result<i64, String> {
    let text = amount.trim();
    let wrong = |why: &str| format!("amount \"{amount}\" {why}");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(wrong("is not a number"));
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(wrong("is not a decimal number such as 19.99"));
    }
    let places = decimals(currency) as usize;
    let too_large = || wrong("is too large");
    let mut minor: i64 = 0;
    for b in whole
        .bytes()
        .chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(places))
    {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    if fraction.as_bytes().get(places).is_some_and(|b| *b >= b'5') {
        minor = minor.checked_add(1).ok_or_else(too_large)?;
    }
    Ok(if negative { -minor } else { minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_currency_takes_its_own_number_of_decimals() {
        assert_eq!(minor_units("19.99", "EUR"), Ok(1999));
        assert_eq!(minor_units("1500", "JPY"), Ok(1500));
        assert_eq!(minor_units("1500.00", "JPY"), Ok(1500));
        assert_eq!(minor_units("1.234", "KWD"), Ok(1234));
        assert_eq!(minor_units("7", "EUR"), Ok(700));
        assert_eq!(minor_units("0.5", "USD"), Ok(50));
        assert_eq!(minor_units(".5", "USD"), Ok(50));
    }

    #[test]
    fn extra_digits_round_half_away_from_zero() {
        assert_eq!(minor_units("8.333333", "EUR"), Ok(833));
        assert_eq!(minor_units("8.335", "EUR"), Ok(834));
        assert_eq!(minor_units("-8.335", "EUR"), Ok(-834));
        assert_eq!(minor_units("99.5", "JPY"), Ok(100));
    }

    #[test]
    fn what_is_not_a_decimal_number_is_refused_naming_it() {
        assert_eq!(
            minor_units("1e3", "EUR"),
            Err("amount \"1e3\" is not a decimal number such as 19.99".into())
        );
        assert!(minor_units("", "EUR").is_err());
        assert!(minor_units("-", "EUR").is_err());
        assert!(minor_units("1.2.3", "EUR").is_err());
        assert!(minor_units("99999999999999999999", "EUR").is_err());
    }

    #[test]
    fn a_currency_is_three_upper_case_letters() {
        assert_eq!(currency("EUR"), Ok("EUR"));
        assert!(currency("eur").is_err());
        assert!(currency("EURO").is_err());
    }
}
