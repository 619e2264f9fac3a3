//! Exact money: integer minor units with their currency. Never a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An amount in a currency's minor units (cents): `1999 EUR` is 19.99 €.
/// Serialised as `"19.99 EUR"` so that files and API answers read as money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

/// An ISO 4217 code: three upper-case letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = s.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(format!(
                "currency \"{s}\" must be an ISO 4217 code of three upper-case letters, such as EUR"
            ))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// `None` on overflow or when the currencies differ.
    pub fn plus(self, other: Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money::new(
            self.minor.checked_add(other.minor)?,
            self.currency,
        ))
    }

    pub fn times(self, quantity: u32) -> Option<Money> {
        Some(Money::new(
            self.minor.checked_mul(i64::from(quantity))?,
            self.currency,
        ))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

impl FromStr for Money {
    type Err = String;
    /// `19.99 EUR`, `-5 EUR`, `0.5 USD`; at most two decimals.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "amount \"{s}\" must be a number with at most two decimals and a currency, such as \"19.99 EUR\""
            )
        };
        let (number, currency) = s.trim().rsplit_once(' ').ok_or_else(bad)?;
        let currency: Currency = currency.parse()?;
        let number = number.trim();
        let (negative, digits) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || fraction.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let cents: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| bad())? * 10,
            _ => fraction.parse().map_err(|_| bad())?,
        };
        let minor = whole
            .checked_mul(100)
            .and_then(|m| m.checked_add(cents))
            .ok_or_else(bad)?;
        Ok(Money::new(if negative { -minor } else { minor }, currency))
    }
}

impl TryFrom<String> for Money {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Money> for String {
    fn from(m: Money) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_parse_with_up_to_two_decimals() {
        let eur: Currency = "EUR".parse().unwrap();
        assert_eq!("19.99 EUR".parse::<Money>(), Ok(Money::new(1999, eur)));
        assert_eq!("0.5 EUR".parse::<Money>(), Ok(Money::new(50, eur)));
        assert_eq!("-5 EUR".parse::<Money>(), Ok(Money::new(-500, eur)));
        assert!(
            "1.999 EUR"
                .parse::<Money>()
                .unwrap_err()
                .contains("at most two decimals")
        );
        assert!(
            "19.99 eur"
                .parse::<Money>()
                .unwrap_err()
                .contains("ISO 4217")
        );
        assert!("19,99 EUR".parse::<Money>().is_err());
    }

    #[test]
    fn sums_refuse_mixed_currencies_and_overflow() {
        let eur = Money::new(100, "EUR".parse().unwrap());
        let usd = Money::new(100, "USD".parse().unwrap());
        assert_eq!(eur.plus(usd), None);
        assert_eq!(Money::new(i64::MAX, eur.currency).plus(eur), None);
        assert_eq!(eur.times(3).map(|m| m.minor), Some(300));
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(minor in -10_000_000_000i64..10_000_000_000) {
            let m = Money::new(minor, "CHF".parse().unwrap());
            prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
        }
    }
}
