//! The Etsy Open API v3 as the plugin uses it: the channel's shop, the
//! app's `x-api-key` (keystring and shared secret), and an OAuth access
//! token renewed with the shop owner's refresh token.
//!
//! Every request carries `x-api-key: <keystring>:<shared secret>` and
//! `Authorization: Bearer <access token>`. The token lives in the
//! channel's state ([`oauth::Session`]); a 401 renews it once and sends
//! the request again. Etsy hands out a new refresh token with each access
//! token; the session keeps it, since the one in the config stops working
//! once it has been used.

use std::time::Duration;

use serde::de::DeserializeOwned;
use statusport_plugin_sdk::http::{Client, Method, Request, Response, segment};
use statusport_plugin_sdk::oauth::{self, Session, Token};
use statusport_plugin_sdk::{AdapterError, errors, host};

use crate::receipt::Receipt;

pub const KEYSTRING: &str = "keystring";
pub const SHARED_SECRET: &str = "shared-secret";
pub const REFRESH_TOKEN: &str = "refresh-token";
pub const SHOP_ID: &str = "shop-id";
pub const TOKEN_URL: &str = "token-url";
/// Etsy's token endpoint. `api.etsy.com` and `openapi.etsy.com` answer the
/// same API; the token endpoint is documented on the first.
pub const DEFAULT_TOKEN_URL: &str = "https://api.etsy.com/v3/public/oauth/token";
/// The origin of [`DEFAULT_TOKEN_URL`], declared as the plugin's extra host.
pub const TOKEN_ORIGIN: &str = "https://api.etsy.com";
/// Where the access token and the newest refresh token are kept.
const TOKEN_STATE: &str = "oauth-token";
/// Etsy's largest page of receipts.
pub const PAGE_SIZE: usize = 100;

/// How a refresh token becomes an access token.
type Refresh = fn(&str) -> Result<Token, AdapterError>;

/// One shop of the Etsy Open API, with the credentials of the channel.
pub struct Api {
    base: Client,
    api_key: String,
    shop_id: u64,
    session: Session<Refresh>,
}

/// Refuses to send credentials over the network in the clear: the API key,
/// the bearer token and the refresh token would be readable on the way.
fn private(client: Client, field: &str) -> Result<Client, AdapterError> {
    if client.is_private() {
        return Ok(client);
    }
    let url = client.base_url();
    Err(AdapterError::Config(format!(
        "{field} \"{url}\" is plain HTTP to another machine: Etsy's keys and tokens would cross the \
         network readable by anyone on the way, so nothing was sent; use https:// (plain http:// is \
         accepted only on this machine: 127.0.0.0/8, localhost, [::1])"
    )))
}

/// The channel's shop id, a positive number.
pub fn shop_id() -> Result<u64, AdapterError> {
    let text = host::require_config(SHOP_ID)?;
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            AdapterError::Config(format!(
                "\"{SHOP_ID}\" is \"{text}\": give the shop's numeric id (Etsy › Shop Manager, or \
                 the shop_id of getMe / findShops), such as 31337"
            ))
        })
}

/// A platform order id as Etsy knows it: a receipt id, a positive number.
pub fn receipt_id(text: &str) -> Result<u64, AdapterError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            AdapterError::Rejected(format!(
                "\"{text}\" is not an Etsy receipt id (a positive number such as 2236802984)"
            ))
        })
}

fn token_url() -> String {
    host::config(TOKEN_URL).unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned())
}

/// Trades a refresh token for an access token at Etsy's token endpoint:
/// a public client, identified by the app's keystring alone.
fn refresh(refresh_token: &str) -> Result<Token, AdapterError> {
    let client_id = host::require_config(KEYSTRING)?;
    let endpoint = private(Client::new(&token_url())?, TOKEN_URL)?;
    oauth::refresh_grant(endpoint.post("").form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &client_id),
        ("refresh_token", refresh_token),
    ]))
}

/// The wait a throttled answer asks for: its `Retry-After`, else a second
/// when Etsy says nothing remains of this second's allowance
/// (`x-remaining-this-second: 0`).
fn throttle_wait(response: &Response) -> Option<Duration> {
    response.retry_after().or_else(|| {
        let spent = response
            .header("x-remaining-this-second")
            .is_some_and(|v| v.trim() == "0");
        (response.status == 429 && spent).then_some(Duration::from_secs(1))
    })
}

/// Any answer but 2xx as an `adapter-error` naming the request.
fn ok(response: Response, what: &str) -> Result<Response, AdapterError> {
    if response.is_success() {
        return Ok(response);
    }
    let wait = throttle_wait(&response);
    Err(errors::about(
        what,
        errors::from_status_after(response.status, wait, &response.body),
    ))
}

impl Api {
    /// The channel's shop with its credentials; a missing or malformed
    /// setting is a `config` error naming the field.
    pub fn open() -> Result<Api, AdapterError> {
        let keystring = host::require_config(KEYSTRING)?;
        let secret = host::require_config(SHARED_SECRET)?;
        host::require_config(REFRESH_TOKEN)?;
        let shop_id = shop_id()?;
        let base = private(Client::from_channel()?, "base URL")?;
        Ok(Api {
            base,
            api_key: format!("{}:{}", keystring.trim(), secret.trim()),
            shop_id,
            session: Session::new(TOKEN_STATE, REFRESH_TOKEN, refresh as Refresh),
        })
    }

    pub fn shop_id(&self) -> u64 {
        self.shop_id
    }

    fn receipts_path(&self) -> String {
        format!(
            "/v3/application/shops/{}/receipts",
            segment(&self.shop_id.to_string())
        )
    }

    fn receipt_path(&self, receipt: u64) -> String {
        format!("{}/{receipt}", self.receipts_path())
    }

    /// Sends `method path` as `shape` builds it, with the key and a valid
    /// token; any answer but 2xx is an error.
    fn send(
        &self,
        method: Method,
        path: &str,
        shape: impl Fn(Request) -> Request,
    ) -> Result<Response, AdapterError> {
        let what = self.base.request(method, path).describe();
        let response = self.session.send(|token| {
            shape(
                self.base
                    .clone()
                    .bearer(token)
                    .request(method, path)
                    .header("x-api-key", &self.api_key),
            )
        })?;
        ok(response, &what)
    }

    fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        shape: impl Fn(Request) -> Request,
    ) -> Result<T, AdapterError> {
        let what = self.base.request(method, path).describe();
        self.send(method, path, shape)?
            .json()
            .map_err(|e| errors::about(&what, e))
    }

    /// `getShopReceipt`.
    pub fn receipt(&self, receipt: u64) -> Result<Receipt, AdapterError> {
        self.json(Method::Get, &self.receipt_path(receipt), |r| r)
    }

    /// `updateShopReceipt` with one flag (`was_paid`, `was_shipped`).
    pub fn update_receipt(
        &self,
        receipt: u64,
        field: &str,
        value: bool,
    ) -> Result<Receipt, AdapterError> {
        let value = if value { "true" } else { "false" };
        self.json(Method::Put, &self.receipt_path(receipt), |r| {
            r.form(&[(field, value)])
        })
    }

    /// `createReceiptShipment`: one tracking code on the receipt, which
    /// Etsy mails to the buyer.
    pub fn create_shipment(
        &self,
        receipt: u64,
        form: &[(&str, &str)],
    ) -> Result<Receipt, AdapterError> {
        let path = format!("{}/tracking", self.receipt_path(receipt));
        self.json(Method::Post, &path, |r| r.form(form))
    }

    /// `getShopReceipts` changed since `since` (Unix seconds, inclusive),
    /// oldest change first, one page from `offset`.
    pub fn receipts_changed_since(
        &self,
        since: i64,
        offset: usize,
    ) -> Result<ReceiptPage, AdapterError> {
        let since = since.to_string();
        let limit = PAGE_SIZE.to_string();
        let offset = offset.to_string();
        self.json(Method::Get, &self.receipts_path(), |r| {
            r.query("min_last_modified", &since)
                .query("sort_on", "updated")
                .query("sort_order", "asc")
                .query("limit", &limit)
                .query("offset", &offset)
        })
    }
}

/// One page of `getShopReceipts`.
#[derive(serde::Deserialize)]
pub struct ReceiptPage {
    /// Receipts matching the query in all pages.
    #[serde(default)]
    pub count: Option<usize>,
    #[serde(default)]
    pub results: Vec<Receipt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_id_is_a_positive_number() {
        assert_eq!(receipt_id(" 2236802984 ").unwrap(), 2_236_802_984);
        for bad in ["", "0", "-3", "R-17", "1.5"] {
            match receipt_id(bad) {
                Err(AdapterError::Rejected(m)) => {
                    assert!(m.contains("is not an Etsy receipt id"), "{m}")
                }
                other => panic!("{bad:?}: expected a rejection, got {other:?}"),
            }
        }
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: br#"{"error":"You have exceeded your quota"}"#.to_vec(),
        }
    }

    #[test]
    fn a_throttled_answer_waits_its_retry_after_or_a_second_when_none_is_left() {
        let wait = |r: Response| throttle_wait(&r).map(|d| d.as_millis());
        assert_eq!(wait(answer(429, &[("Retry-After", "3")])), Some(3000));
        assert_eq!(
            wait(answer(429, &[("x-remaining-this-second", "0")])),
            Some(1000)
        );
        assert_eq!(wait(answer(429, &[("x-remaining-this-second", "4")])), None);
        assert_eq!(wait(answer(503, &[("x-remaining-this-second", "0")])), None);
    }

    #[test]
    fn an_error_answer_names_the_request_and_quotes_etsy() {
        match ok(answer(429, &[("Retry-After", "2")]), "GET https://e/x") {
            Err(AdapterError::Transient(t)) => {
                assert_eq!(
                    t.message,
                    "GET https://e/x: the platform answered HTTP 429: You have exceeded your quota"
                );
                assert_eq!(t.retry_after_ms, Some(2000));
            }
            other => panic!("expected a transient error, got {other:?}"),
        }
    }
}
