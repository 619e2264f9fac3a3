//! Shipment records as a platform receives them: packages with carrier,
//! tracking number and the lines they hold.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackageLine {
    /// The platform's line item id, or the article number.
    pub line_id: String,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Package {
    /// A canonical carrier id: dhl, dpd, gls, ups, fedex, usps, hermes, …
    pub carrier: String,
    pub tracking_number: String,
    #[serde(default)]
    pub tracking_url: Option<String>,
    #[serde(default)]
    pub lines: Vec<PackageLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipment {
    pub id: String,
    pub platform_order_id: String,
    /// RFC 3339.
    pub shipped_at: String,
    pub packages: Vec<Package>,
}
