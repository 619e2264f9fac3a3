//! An order as Adobe Commerce's REST API answers it (`GET /V1/orders/{id}`
//! and each item of `GET /V1/orders`), reduced to what the plugin reads.
//!
//! Magento writes amounts and quantities as JSON numbers, flags as 0/1 and
//! leaves many fields null; every field here is optional or has a default,
//! so that an answer missing one the plugin does not need still reads.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number Magento may write as a number, a numeric string or null (0).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    })
}

/// A 0/1 flag (Magento writes ints; some extensions write booleans).
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.trim(), "1" | "true"),
        _ => false,
    })
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Item {
    pub item_id: u64,
    pub sku: String,
    pub name: Option<String>,
    #[serde(deserialize_with = "number")]
    pub qty_ordered: f64,
    #[serde(deserialize_with = "number")]
    pub qty_shipped: f64,
    #[serde(deserialize_with = "number")]
    pub qty_canceled: f64,
    #[serde(deserialize_with = "number")]
    pub qty_refunded: f64,
    /// Set on the simple child of a configurable or bundle product; the
    /// parent is the line the customer ordered and the one that ships.
    pub parent_item_id: Option<u64>,
    #[serde(deserialize_with = "flag")]
    pub is_virtual: bool,
    pub product_id: Option<u64>,
    /// The unit price in the order's currency, before tax and discount.
    pub price: Option<Value>,
}

impl Item {
    /// What is left to ship, as Magento counts it (`getQtyToShip`).
    pub fn to_ship(&self) -> f64 {
        (self.qty_ordered - self.qty_shipped.max(self.qty_refunded) - self.qty_canceled).max(0.0)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub company: Option<String>,
    pub street: Vec<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub country_id: Option<String>,
    pub telephone: Option<String>,
}

impl Address {
    /// The postal address, one line per entry.
    pub fn lines(&self) -> Vec<String> {
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
        let town = [text(&self.postcode), text(&self.city)]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        std::iter::once(text(&self.company))
            .chain(self.street.iter().map(|s| s.trim().to_owned()))
            .chain([town, text(&self.region), text(&self.country_id)])
            .filter(|l| !l.is_empty())
            .collect()
    }

    pub fn name(&self) -> String {
        join_name(self.firstname.as_deref(), self.lastname.as_deref())
    }
}

pub fn join_name(first: Option<&str>, last: Option<&str>) -> String {
    format!(
        "{} {}",
        first.unwrap_or_default().trim(),
        last.unwrap_or_default().trim()
    )
    .trim()
    .to_owned()
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Payment {
    pub method: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Shipping {
    pub address: Option<Address>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShippingAssignment {
    pub shipping: Shipping,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Extension {
    pub shipping_assignments: Vec<ShippingAssignment>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Order {
    /// The id the REST paths take (`/V1/orders/{id}`): the plugin's
    /// platform order id.
    pub entity_id: u64,
    /// The order number people see (`000000042`).
    pub increment_id: Option<String>,
    pub state: Option<String>,
    pub status: Option<String>,
    /// The status an order on hold goes back to when it is released.
    pub hold_before_status: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub customer_id: Option<u64>,
    #[serde(deserialize_with = "flag")]
    pub customer_is_guest: bool,
    pub customer_email: Option<String>,
    pub customer_firstname: Option<String>,
    pub customer_lastname: Option<String>,
    pub order_currency_code: Option<String>,
    pub base_currency_code: Option<String>,
    pub shipping_amount: Option<Value>,
    pub items: Vec<Item>,
    pub billing_address: Option<Address>,
    pub payment: Option<Payment>,
    pub extension_attributes: Option<Extension>,
}

impl Order {
    /// `7 (#000000042)`, for messages and logs.
    pub fn display(&self) -> String {
        match self.increment_id.as_deref().filter(|n| !n.is_empty()) {
            Some(number) => format!("{} (#{number})", self.entity_id),
            None => self.entity_id.to_string(),
        }
    }

    /// The lines the customer ordered: children of configurable and
    /// bundle products are left out, their parent stands for them.
    pub fn top_items(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.parent_item_id.is_none())
    }

    /// The order line a package line names: a child item stands for its
    /// parent, which is the one Magento ships.
    pub fn line(&self, item_id: u64) -> Option<&Item> {
        let item = self.items.iter().find(|i| i.item_id == item_id)?;
        match item.parent_item_id {
            Some(parent) => self.items.iter().find(|i| i.item_id == parent),
            None => Some(item),
        }
    }

    /// The shipping address (from the shipping assignment), else the
    /// billing address.
    pub fn ship_to(&self) -> Option<&Address> {
        self.extension_attributes
            .as_ref()
            .and_then(|e| e.shipping_assignments.first())
            .and_then(|a| a.shipping.address.as_ref())
            .or(self.billing_address.as_ref())
    }
}
