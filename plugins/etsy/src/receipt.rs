//! An Etsy receipt (`ShopReceipt`) as the plugin reads it, and what it
//! becomes for the host: an order with its statuses, customer, lines and
//! money in minor units.

use serde::Deserialize;
use statusport_plugin_sdk::{AdapterError, Dimension, money, time};
use statusport_plugin_sdk_intake::intake::status_value;
use statusport_plugin_sdk_intake::{Customer, IncomingOrder, Money, OrderLine};

/// The receipt's `status` as Etsy writes it, the plugin's code for it
/// (status codes take no spaces) and its label. Etsy sets it itself.
pub const ORDER_STATUSES: &[(&str, &str, &str)] = &[
    ("open", "open", "Open"),
    (
        "payment processing",
        "payment_processing",
        "Payment processing",
    ),
    ("paid", "paid", "Paid"),
    ("completed", "completed", "Completed"),
    ("canceled", "canceled", "Canceled"),
    (
        "partially refunded",
        "partially_refunded",
        "Partially refunded",
    ),
    ("fully refunded", "fully_refunded", "Fully refunded"),
];

/// One settable flag of a receipt, seen as a dimension of two statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    pub dimension: Dimension,
    /// `updateShopReceipt`'s form field.
    pub field: &'static str,
    /// The receipt's own field.
    pub read_as: &'static str,
    pub unset: (&'static str, &'static str),
    pub set: (&'static str, &'static str),
}

/// Payment: the receipt's `is_paid`, set with `was_paid=true`.
pub const PAYMENT: Flag = Flag {
    dimension: Dimension::Payment,
    field: "was_paid",
    read_as: "is_paid",
    unset: ("unpaid", "Not paid"),
    set: ("paid", "Paid"),
};

/// Delivery: the receipt's `is_shipped`, set with `was_shipped=true`.
pub const DELIVERY: Flag = Flag {
    dimension: Dimension::Delivery,
    field: "was_shipped",
    read_as: "is_shipped",
    unset: ("unshipped", "Not shipped"),
    set: ("shipped", "Shipped"),
};

impl Flag {
    pub fn code(&self, on: bool) -> &'static str {
        if on { self.set.0 } else { self.unset.0 }
    }
}

/// The plugin's code for Etsy's receipt status: `payment processing` is
/// `payment_processing`. A status Etsy adds later keeps its words joined
/// by `_`, and the host refuses that order alone, naming the code.
pub fn order_status(etsy: &str) -> String {
    let etsy = etsy.trim();
    ORDER_STATUSES
        .iter()
        .find(|(word, _, _)| word.eq_ignore_ascii_case(etsy))
        .map(|(_, code, _)| (*code).to_owned())
        .unwrap_or_else(|| etsy.to_ascii_lowercase().replace(' ', "_"))
}

/// Etsy's money: `amount / divisor` in `currency_code`.
#[derive(Clone, Debug, Deserialize)]
pub struct EtsyMoney {
    pub amount: i64,
    pub divisor: i64,
    pub currency_code: String,
}

impl EtsyMoney {
    /// The amount in minor units of its currency (USD 1999/100 is 1999
    /// cents; JPY 1500/1 is 1500 yen), rounded half away from zero when
    /// the divisor is finer than the currency; never through a float.
    pub fn to_money(&self) -> Result<Money, AdapterError> {
        let currency = money::currency(&self.currency_code).map_err(AdapterError::Rejected)?;
        if self.divisor <= 0 {
            return Err(AdapterError::Rejected(format!(
                "amount {}/{} {currency}: the divisor must be a positive number",
                self.amount, self.divisor
            )));
        }
        let scaled = i128::from(self.amount) * 10i128.pow(money::decimals(currency));
        let divisor = i128::from(self.divisor);
        let mut minor = scaled / divisor;
        if 2 * (scaled % divisor).abs() >= divisor {
            minor += scaled.signum();
        }
        Ok(Money {
            minor: i64::try_from(minor).map_err(|_| {
                AdapterError::Rejected(format!(
                    "amount {}/{} {currency} is too large",
                    self.amount, self.divisor
                ))
            })?,
            currency: currency.to_owned(),
        })
    }
}

/// One tracking entry on a receipt.
#[derive(Clone, Debug, Deserialize)]
pub struct ReceiptShipment {
    #[serde(default)]
    pub receipt_shipping_id: Option<u64>,
    #[serde(default)]
    pub tracking_code: Option<String>,
}

/// One line of a receipt.
#[derive(Clone, Debug, Deserialize)]
pub struct Transaction {
    pub transaction_id: u64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub quantity: u32,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub product_id: Option<u64>,
    #[serde(default)]
    pub listing_id: Option<u64>,
    /// The price of one item.
    pub price: EtsyMoney,
}

/// A `ShopReceipt`, the fields the plugin reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Receipt {
    pub receipt_id: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub is_paid: bool,
    #[serde(default)]
    pub is_shipped: bool,
    #[serde(default)]
    pub buyer_user_id: Option<u64>,
    #[serde(default)]
    pub buyer_email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_line: Option<String>,
    #[serde(default)]
    pub second_line: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub zip: Option<String>,
    #[serde(default)]
    pub country_iso: Option<String>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub created_timestamp: Option<i64>,
    #[serde(default)]
    pub create_timestamp: Option<i64>,
    #[serde(default)]
    pub updated_timestamp: Option<i64>,
    #[serde(default)]
    pub update_timestamp: Option<i64>,
    #[serde(default)]
    pub total_shipping_cost: Option<EtsyMoney>,
    #[serde(default)]
    pub shipments: Vec<ReceiptShipment>,
    #[serde(default)]
    pub transactions: Vec<Transaction>,
}

fn filled(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

impl Receipt {
    pub fn flag(&self, flag: Flag) -> bool {
        match flag.dimension {
            Dimension::Payment => self.is_paid,
            _ => self.is_shipped,
        }
    }

    /// When the receipt was made, seconds since the epoch.
    pub fn created(&self) -> Result<i64, AdapterError> {
        self.created_timestamp
            .or(self.create_timestamp)
            .ok_or_else(|| {
                AdapterError::Rejected(format!(
                    "Etsy receipt {} has no created_timestamp",
                    self.receipt_id
                ))
            })
    }

    /// When the receipt last changed, seconds since the epoch.
    pub fn updated(&self) -> Result<i64, AdapterError> {
        match self.updated_timestamp.or(self.update_timestamp) {
            Some(at) => Ok(at),
            None => self.created(),
        }
    }

    /// The tracking entry of `code` (compared without case and
    /// surrounding blanks), when the receipt has one.
    pub fn tracking_entry(&self, code: &str) -> Option<&ReceiptShipment> {
        let code = code.trim();
        self.shipments.iter().find(|s| {
            s.tracking_code
                .as_deref()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case(code))
        })
    }

    fn address(&self) -> Vec<String> {
        let town = [filled(&self.zip), filled(&self.city)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        [
            filled(&self.first_line),
            filled(&self.second_line),
            Some(town.as_str()).filter(|t| !t.is_empty()),
            filled(&self.state),
            filled(&self.country_iso),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
    }

    /// The receipt as an order for the host.
    pub fn incoming(&self) -> Result<IncomingOrder, AdapterError> {
        let id = self.receipt_id;
        let in_receipt = |e: AdapterError| match e {
            AdapterError::Rejected(m) => AdapterError::Rejected(format!("Etsy receipt {id}: {m}")),
            other => other,
        };
        let lines = self
            .transactions
            .iter()
            .map(|t| {
                let article = filled(&t.sku)
                    .map(str::to_owned)
                    .or_else(|| t.product_id.map(|p| p.to_string()))
                    .or_else(|| t.listing_id.map(|l| l.to_string()))
                    .unwrap_or_else(|| t.transaction_id.to_string());
                Ok(OrderLine {
                    line_id: t.transaction_id.to_string(),
                    article,
                    name: filled(&t.title).unwrap_or_default().to_owned(),
                    quantity: t.quantity,
                    unit_price: t.price.to_money()?,
                })
            })
            .collect::<Result<Vec<_>, AdapterError>>()
            .map_err(in_receipt)?;
        let shipping = self
            .total_shipping_cost
            .as_ref()
            .map(EtsyMoney::to_money)
            .transpose()
            .map_err(in_receipt)?;
        let email = filled(&self.buyer_email).map(str::to_owned);
        let customer_id = match self.buyer_user_id {
            Some(user) => user.to_string(),
            // Etsy names every buyer; without one, the email is the best
            // key to find the same person again.
            None => email
                .clone()
                .unwrap_or_else(|| format!("etsy-receipt-{id}")),
        };
        Ok(IncomingOrder {
            platform_order_id: id.to_string(),
            customer: Customer {
                id: customer_id,
                name: filled(&self.name).unwrap_or_default().to_owned(),
                email,
                phone: None,
                address: self.address(),
            },
            lines,
            shipping,
            payment_method: filled(&self.payment_method).unwrap_or_default().to_owned(),
            statuses: vec![
                status_value(Dimension::Order, &order_status(&self.status)),
                status_value(PAYMENT.dimension, PAYMENT.code(self.is_paid)),
                status_value(DELIVERY.dimension, DELIVERY.code(self.is_shipped)),
            ],
            created_at: time::format_rfc3339(self.created().map_err(in_receipt)?),
            updated_at: time::format_rfc3339(self.updated().map_err(in_receipt)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money(amount: i64, divisor: i64, currency: &str) -> Result<Money, AdapterError> {
        EtsyMoney {
            amount,
            divisor,
            currency_code: currency.into(),
        }
        .to_money()
    }

    #[test]
    fn money_takes_the_currencys_own_decimals_without_a_float() {
        assert_eq!(money(1999, 100, "USD").unwrap().minor, 1999);
        assert_eq!(money(1500, 1, "JPY").unwrap().minor, 1500);
        assert_eq!(money(150_000, 100, "JPY").unwrap().minor, 1500);
        assert_eq!(money(1234, 1000, "KWD").unwrap().minor, 1234);
        assert_eq!(money(7, 1, "EUR").unwrap().minor, 700);
        // Finer than the currency: half away from zero.
        assert_eq!(money(19_995, 1000, "EUR").unwrap().minor, 2000);
        assert_eq!(money(-19_995, 1000, "EUR").unwrap().minor, -2000);
        assert_eq!(money(19_994, 1000, "EUR").unwrap().minor, 1999);
    }

    #[test]
    fn money_with_no_divisor_or_no_currency_is_refused() {
        assert!(matches!(
            money(100, 0, "USD"),
            Err(AdapterError::Rejected(m)) if m.contains("divisor")
        ));
        assert!(matches!(
            money(100, 100, "usd"),
            Err(AdapterError::Rejected(m)) if m.contains("ISO 4217")
        ));
    }

    #[test]
    fn etsys_status_words_become_codes() {
        assert_eq!(order_status("payment processing"), "payment_processing");
        assert_eq!(order_status("Fully Refunded"), "fully_refunded");
        assert_eq!(order_status("paid"), "paid");
        assert_eq!(order_status("on hold"), "on_hold");
    }

    fn receipt(value: serde_json::Value) -> Receipt {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_receipt_becomes_an_order_with_three_statuses() {
        let r = receipt(json!({
            "receipt_id": 2236802984u64, "status": "completed", "is_paid": true, "is_shipped": true,
            "buyer_user_id": 77, "buyer_email": "ada@example.com", "name": "Ada Lovelace",
            "first_line": "12 Market St", "second_line": null, "city": "Hudson", "state": "NY",
            "zip": "12534", "country_iso": "US", "payment_method": "cc",
            "created_timestamp": 1_767_225_600, "updated_timestamp": 1_767_229_200,
            "total_shipping_cost": {"amount": 450, "divisor": 100, "currency_code": "USD"},
            "transactions": [
                {"transaction_id": 9, "title": "Teapot", "quantity": 2, "sku": "",
                 "product_id": 555, "listing_id": 444,
                 "price": {"amount": 2450, "divisor": 100, "currency_code": "USD"}},
                {"transaction_id": 10, "title": "Cup", "quantity": 1, "sku": "CUP-1",
                 "price": {"amount": 900, "divisor": 100, "currency_code": "USD"}}
            ]
        }));
        let o = r.incoming().unwrap();
        assert_eq!(o.platform_order_id, "2236802984");
        assert_eq!(o.customer.id, "77");
        assert_eq!(o.customer.name, "Ada Lovelace");
        assert_eq!(
            o.customer.address,
            ["12 Market St", "12534 Hudson", "NY", "US"]
        );
        let lines: Vec<(&str, &str, u32, i64)> = o
            .lines
            .iter()
            .map(|l| {
                (
                    l.line_id.as_str(),
                    l.article.as_str(),
                    l.quantity,
                    l.unit_price.minor,
                )
            })
            .collect();
        assert_eq!(lines, [("9", "555", 2, 2450), ("10", "CUP-1", 1, 900)]);
        assert_eq!(o.shipping.unwrap().minor, 450);
        let statuses: Vec<(Dimension, &str)> = o
            .statuses
            .iter()
            .map(|s| (s.dimension, s.code.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [
                (Dimension::Order, "completed"),
                (Dimension::Payment, "paid"),
                (Dimension::Delivery, "shipped")
            ]
        );
        assert_eq!(o.created_at, "2026-01-01T00:00:00Z");
        assert_eq!(o.updated_at, "2026-01-01T01:00:00Z");
    }

    #[test]
    fn a_receipt_without_update_time_was_last_changed_when_made() {
        let r =
            receipt(json!({"receipt_id": 5, "status": "open", "create_timestamp": 1_767_225_600}));
        assert_eq!(r.updated().unwrap(), 1_767_225_600);
        let none = receipt(json!({"receipt_id": 6}));
        assert!(
            matches!(none.incoming(), Err(AdapterError::Rejected(m)) if m.contains("receipt 6"))
        );
    }

    #[test]
    fn tracking_codes_are_found_without_case_or_blanks() {
        let r = receipt(json!({"receipt_id": 5, "shipments": [
            {"receipt_shipping_id": 1, "carrier_name": "usps", "tracking_code": "9400ABC"}
        ]}));
        assert_eq!(
            r.tracking_entry(" 9400abc ").unwrap().receipt_shipping_id,
            Some(1)
        );
        assert!(r.tracking_entry("9400ABD").is_none());
    }
}
