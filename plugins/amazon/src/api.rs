//! The Selling Partner API as the plugin calls it: the regional endpoint
//! (the channel's base URL) with a Login with Amazon access token in the
//! `x-amz-access-token` header, and the Orders v0 payloads it reads.
//!
//! Access tokens come from the token endpoint (`token-url`, another host the
//! operator grants) for the channel's refresh token and are kept in the
//! channel's state by the SDK's [`Session`] until shortly before they expire.
//! Amazon answers a revoked or expired token with 403 `Unauthorized` (the
//! SDK's session renews on 401 only), so requests go through [`Api::send`],
//! which renews once on either and sends once more; a second refusal is
//! `auth`.

use serde::Deserialize;
use statusport_plugin_sdk::http::{Client, Request, Response, segment};
use statusport_plugin_sdk::oauth::{self, Session, Token};
use statusport_plugin_sdk::{AdapterError, TransientError, errors, host};

pub const REFRESH_TOKEN: &str = "refresh-token";
pub const CLIENT_ID: &str = "client-id";
pub const CLIENT_SECRET: &str = "client-secret";
pub const TOKEN_URL: &str = "token-url";
pub const MARKETPLACE_ID: &str = "marketplace-id";
/// Login with Amazon's token endpoint, the same for every region.
pub const DEFAULT_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";
/// The origin of [`DEFAULT_TOKEN_URL`], the plugin's extra host.
pub const TOKEN_ORIGIN: &str = "https://api.amazon.com";
/// Where the access token is kept in the channel's state.
const TOKEN_STATE: &str = "lwa-token";
/// Amazon asks integrations to name themselves in the User-Agent.
const USER_AGENT: &str = concat!(
    "Statusport/",
    env!("CARGO_PKG_VERSION"),
    " (Language=Rust; Platform=wasm32-wasip2)"
);

type Refresh = fn(&str) -> Result<Token, AdapterError>;

/// The Orders v0 API of the channel's seller.
pub struct Api {
    client: Client,
    session: Session<Refresh>,
}

/// Refuses a URL that would carry a secret over plain HTTP to another
/// machine; `what` names the setting.
fn require_private(client: &Client, what: &str) -> Result<(), AdapterError> {
    if client.is_private() {
        return Ok(());
    }
    let url = client.base_url();
    let mut https = url.clone();
    https
        .set_scheme("https")
        .expect("http and https are both special schemes");
    Err(AdapterError::Config(format!(
        "{what} \"{url}\" is plain HTTP to another machine: the Login with Amazon credentials would \
         cross the network readable by anyone on the way, so nothing was sent; use https:// \
         (\"{https}\"); plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])"
    )))
}

/// Trades the refresh token for an access token at `token-url`, with the
/// app's client id and secret in the form, as Login with Amazon takes them.
fn refresh(refresh_token: &str) -> Result<Token, AdapterError> {
    let url = host::config(TOKEN_URL).unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
    let endpoint = Client::new(&url).map_err(|_| {
        AdapterError::Config(format!(
            "\"{TOKEN_URL}\" is \"{url}\", which is not an http(s) URL: use {DEFAULT_TOKEN_URL}"
        ))
    })?;
    require_private(&endpoint, &format!("\"{TOKEN_URL}\""))?;
    let client_id = host::require_config(CLIENT_ID)?;
    let client_secret = host::require_config(CLIENT_SECRET)?;
    let request = endpoint.post("").form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", &client_id),
        ("client_secret", &client_secret),
    ]);
    let origin = endpoint.base_url().origin().ascii_serialization();
    oauth::refresh_grant(request).map_err(|e| match e {
        // The host refused the token endpoint's origin: say which grant is missing.
        AdapterError::Config(message) => AdapterError::Config(format!(
            "{message}; the channel must be granted the token endpoint's origin {origin} \
             (config \"{TOKEN_URL}\")"
        )),
        // No answer at all: a network failure, or — as the host reports a
        // refused origin to a request with a body — a missing grant.
        AdapterError::Transient(t) if !t.message.contains("the platform answered HTTP") => {
            AdapterError::Transient(TransientError {
                message: format!(
                    "{}; if this goes on, check that the channel is granted the token endpoint's \
                     origin {origin} (config \"{TOKEN_URL}\")",
                    t.message
                ),
                retry_after_ms: t.retry_after_ms,
            })
        }
        other => other,
    })
}

/// Whether Amazon refused the access token: 401, or the 403 `Unauthorized`
/// it answers for a revoked, expired or malformed token.
fn token_refused(response: &Response) -> bool {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
    }
    match response.status {
        401 => true,
        403 => serde_json::from_slice::<Errors>(&response.body)
            .is_ok_and(|e| e.errors.iter().any(|e| e.code == "Unauthorized")),
        _ => false,
    }
}

impl Api {
    /// The API at the channel's base URL (the regional endpoint).
    pub fn from_channel() -> Result<Api, AdapterError> {
        let client = Client::from_channel()?;
        require_private(&client, "base URL")?;
        Ok(Api {
            client,
            session: Session::new(TOKEN_STATE, REFRESH_TOKEN, refresh as Refresh),
        })
    }

    fn signed(request: Request, token: &str) -> Request {
        request
            .header("x-amz-access-token", token)
            .header("user-agent", USER_AGENT)
    }

    /// Sends the request `build` makes with a valid access token; a refused
    /// token is renewed once and the request sent once more. Any answer but
    /// a second refusal is returned as it is.
    pub fn send(&self, build: impl Fn() -> Request) -> Result<Response, AdapterError> {
        let response = Self::signed(build(), &self.session.access_token()?).send()?;
        if !token_refused(&response) {
            return Ok(response);
        }
        let again = Self::signed(build(), &self.session.renew()?);
        let what = again.describe();
        let response = again.send()?;
        if token_refused(&response) {
            return Err(AdapterError::Auth(format!(
                "{what}: Amazon refused a freshly renewed access token (HTTP {}: {}); check that the \
                 seller has authorized the app and that the app has the Orders role (Seller Central › \
                 Apps and Services › Develop Apps)",
                response.status,
                errors::platform_message(&response.body)
            )));
        }
        Ok(response)
    }

    /// [`Api::send`], with any answer but 2xx an `adapter-error` naming the
    /// request.
    pub fn send_ok(&self, build: impl Fn() -> Request) -> Result<Response, AdapterError> {
        let what = build().describe();
        self.send(build)?.error_for_status_of(&what)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `getOrder`.
    pub fn order(&self, order_id: &str) -> Result<Order, AdapterError> {
        #[derive(Deserialize)]
        struct Answer {
            payload: Order,
        }
        let path = format!("/orders/v0/orders/{}", segment(order_id));
        let answer: Answer = self.send_ok(|| self.client.get(&path))?.json()?;
        Ok(answer.payload)
    }

    /// `getOrderItems`, every page.
    pub fn order_items(&self, order_id: &str) -> Result<Vec<OrderItem>, AdapterError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Page {
            order_items: Vec<OrderItem>,
            #[serde(default)]
            next_token: Option<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            payload: Page,
        }
        let path = format!("/orders/v0/orders/{}/orderItems", segment(order_id));
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer: Answer = self
                .send_ok(|| match &token {
                    Some(t) => self.client.get(&path).query("NextToken", t),
                    None => self.client.get(&path),
                })?
                .json()?;
            items.extend(answer.payload.order_items);
            match answer.payload.next_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(items),
            }
        }
    }
}

/// An amount as Amazon writes it: `{"CurrencyCode": "EUR", "Amount": "19.99"}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Amount {
    #[serde(default)]
    pub currency_code: Option<String>,
    #[serde(default)]
    pub amount: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default, rename = "AddressLine1")]
    pub address_line_1: Option<String>,
    #[serde(default, rename = "AddressLine2")]
    pub address_line_2: Option<String>,
    #[serde(default, rename = "AddressLine3")]
    pub address_line_3: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state_or_region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuyerInfo {
    #[serde(default)]
    pub buyer_email: Option<String>,
    #[serde(default)]
    pub buyer_name: Option<String>,
}

/// An order as `getOrders` and `getOrder` give it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Order {
    pub amazon_order_id: String,
    pub purchase_date: String,
    pub last_update_date: String,
    pub order_status: String,
    /// `MFN` (the seller ships) or `AFN` (Amazon ships).
    #[serde(default)]
    pub fulfillment_channel: Option<String>,
    #[serde(default)]
    pub order_total: Option<Amount>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub marketplace_id: Option<String>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    #[serde(default)]
    pub buyer_info: Option<BuyerInfo>,
}

/// One line of an order, from `getOrderItems`. Amazon gives no prices while
/// the order is `Pending`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItem {
    #[serde(rename = "ASIN")]
    pub asin: String,
    #[serde(default, rename = "SellerSKU")]
    pub seller_sku: Option<String>,
    pub order_item_id: String,
    #[serde(default)]
    pub title: Option<String>,
    pub quantity_ordered: u32,
    /// The price of the whole line (item price × quantity).
    #[serde(default)]
    pub item_price: Option<Amount>,
    #[serde(default)]
    pub shipping_price: Option<Amount>,
    #[serde(default)]
    pub shipping_discount: Option<Amount>,
    #[serde(default)]
    pub promotion_discount: Option<Amount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_revoked_token_is_a_403_unauthorized_or_a_401() {
        let revoked = r#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided is revoked, malformed or invalid."}]}"#;
        assert!(token_refused(&answer(403, revoked)));
        assert!(token_refused(&answer(401, "")));
        // Another 403 (a marketplace the seller does not sell in) is no
        // reason to renew the token.
        let denied = r#"{"errors":[{"code":"InvalidInput","message":"Invalid marketplace"}]}"#;
        assert!(!token_refused(&answer(403, denied)));
        assert!(!token_refused(&answer(400, revoked)));
    }

    #[test]
    fn orders_and_items_read_amazons_field_names() {
        let order: Order = serde_json::from_str(
            r#"{"AmazonOrderId":"302-1234567-7654321","PurchaseDate":"2026-11-20T10:00:00Z",
                "LastUpdateDate":"2026-11-20T10:05:00Z","OrderStatus":"Unshipped",
                "FulfillmentChannel":"MFN","ShippingAddress":{"AddressLine1":"Hauptstr. 1","PostalCode":"10115"}}"#,
        )
        .unwrap();
        let address = order.shipping_address.unwrap();
        assert_eq!(address.address_line_1.as_deref(), Some("Hauptstr. 1"));
        assert_eq!(address.postal_code.as_deref(), Some("10115"));
        let item: OrderItem = serde_json::from_str(
            r#"{"ASIN":"B00TEAPOT1","SellerSKU":"TEA-100","OrderItemId":"12345678901234",
                "QuantityOrdered":2,"ItemPrice":{"CurrencyCode":"EUR","Amount":"39.80"}}"#,
        )
        .unwrap();
        assert_eq!(item.seller_sku.as_deref(), Some("TEA-100"));
        assert_eq!(item.item_price.unwrap().amount.as_deref(), Some("39.80"));
    }
}
