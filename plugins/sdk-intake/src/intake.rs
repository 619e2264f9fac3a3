//! Building what a 1.1 plugin hands in: money in minor units, statuses,
//! times in RFC 3339 UTC. Each helper fails with a `rejected` error that
//! names the value, so an operator sees which answer of the platform did
//! not make sense.

use statusport_plugin_sdk::{AdapterError, Dimension, Value, host, money, time};

use crate::{Money, StatusValue};

impl Money {
    /// `amount` (`"19.99"`, `"1500"`) in `currency` (`EUR`, `JPY`), in
    /// minor units with the currency's own decimals.
    pub fn parse(amount: &str, currency: &str) -> Result<Money, AdapterError> {
        let currency = money::currency(currency).map_err(AdapterError::Rejected)?;
        Ok(Money {
            minor: money::minor_units(amount, currency).map_err(AdapterError::Rejected)?,
            currency: currency.to_owned(),
        })
    }

    /// A JSON number or string amount (platforms write both).
    pub fn from_json(amount: &Value, currency: &str) -> Result<Money, AdapterError> {
        match amount {
            Value::String(text) => Money::parse(text, currency),
            Value::Number(n) => Money::parse(&n.to_string(), currency),
            other => Err(AdapterError::Rejected(format!(
                "amount {other} is not a number"
            ))),
        }
    }

    /// The price of one of `quantity` items that cost `self` together,
    /// rounded half away from zero to the currency's minor unit.
    pub fn per_item(&self, quantity: u32) -> Money {
        let q = i64::from(quantity.max(1));
        let half = if self.minor < 0 { -(q / 2) } else { q / 2 };
        Money {
            minor: (self.minor + half) / q,
            currency: self.currency.clone(),
        }
    }
}

/// A status of an incoming order in `dimension`.
pub fn status_value(dimension: Dimension, code: &str) -> StatusValue {
    StatusValue {
        dimension,
        code: code.to_owned(),
    }
}

/// `text`, a platform's time (see [`time::parse`]), as RFC 3339 UTC; `what`
/// names it in the error.
pub fn rfc3339(text: &str, what: &str) -> Result<String, AdapterError> {
    time::to_rfc3339(text)
        .ok_or_else(|| AdapterError::Rejected(format!("{what} \"{text}\" is not a date and time")))
}

/// The config field in which an operator says where a channel's first pull
/// starts.
pub const INTAKE_SINCE: &str = "intake-since";
/// How far back the first pull reaches when `intake-since` is unset.
pub const FIRST_PULL_DAYS: i64 = 30;

/// Where the first pull starts, in seconds since the epoch: the channel's
/// `intake-since` (a date `2026-01-31` or an RFC 3339 time), or 30 days
/// ago; a value that is neither is a `config` error naming the field.
pub fn first_start() -> Result<i64, AdapterError> {
    match host::config(INTAKE_SINCE) {
        Some(since) => time::parse(&since)
            .or_else(|| time::parse(&format!("{}T00:00:00Z", since.trim())))
            .ok_or_else(|| {
                AdapterError::Config(format!(
                    "\"{INTAKE_SINCE}\" is \"{since}\": use a date (2026-01-31) or an RFC 3339 time"
                ))
            }),
        None => Ok(time::now() - FIRST_PULL_DAYS * 86_400),
    }
}
