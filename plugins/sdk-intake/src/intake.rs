//! Building what a 1.1 plugin hands in: money in minor units, statuses,
//! times in RFC 3339 UTC. Each helper fails with a `rejected` error that
//! names the value, so an operator sees which answer of the platform did
//! not make sense.

use statusport_plugin_sdk::{AdapterError, Dimension, Value, money, time};

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
