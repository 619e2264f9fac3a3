//! Talking to the Allegro REST API: the channel's credentials, the OAuth
//! session and the checkout form as Allegro answers it.
//!
//! Every request carries Allegro's media type
//! (`application/vnd.allegro.public.v1+json`) in `Accept` and, with a body,
//! in `Content-Type`: Allegro answers 406 or 415 to anything else. The
//! access token is a user token of the seller's account, renewed with the
//! refresh token at Allegro's token endpoint (HTTP Basic with the
//! application's client id and secret); Allegro hands out a new refresh
//! token with each renewal, which the session keeps in the channel's state.
//! Neither the token nor the client secret is ever sent over plain HTTP to
//! another machine.

use serde::Deserialize;
use serde_json::Value;
use statusport_plugin_sdk::http::{Client, Method, Request, Response, segment};
use statusport_plugin_sdk::oauth::{self, Session, Token};
use statusport_plugin_sdk::{AdapterError, errors, host};

/// Allegro's media type, version 1, for `Accept` and `Content-Type`.
pub const MEDIA_TYPE: &str = "application/vnd.allegro.public.v1+json";
/// Messages in English; the only language every operation takes.
const LANGUAGE: &str = "en-US";

pub const CLIENT_ID: &str = "client-id";
pub const CLIENT_SECRET: &str = "client-secret";
pub const REFRESH_TOKEN: &str = "refresh-token";
pub const TOKEN_URL: &str = "token-url";
pub const REDIRECT_URI: &str = "redirect-uri";
pub const DEFAULT_TOKEN_URL: &str = "https://allegro.pl/auth/oauth/token";
/// The channel state under which the session keeps its tokens.
const TOKEN_KEY: &str = "allegro-oauth";

/// Turns a refresh token into a new access token.
type Refresh = Box<dyn Fn(&str) -> Result<Token, AdapterError>>;

/// The Allegro REST API of one channel: its base URL and an OAuth session.
pub struct Api {
    client: Client,
    session: Session<Refresh>,
}

/// A client for `url` that may carry credentials: `https://`, or on this
/// machine. `field` names the setting the URL comes from.
fn private_client(url: &str, field: &str) -> Result<Client, AdapterError> {
    let client = Client::new(url).map_err(|e| match e {
        AdapterError::Config(m) => AdapterError::Config(format!("{field}: {m}")),
        other => other,
    })?;
    if client.is_private() {
        return Ok(client);
    }
    let mut https = client.base_url().clone();
    https
        .set_scheme("https")
        .expect("http and https are both special schemes");
    Err(AdapterError::Config(format!(
        "{field} \"{}\" is plain HTTP to another machine: Allegro's tokens and the client secret \
         would cross the network readable by anyone on the way, so nothing was sent; use https:// \
         (\"{https}\"); plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])",
        client.base_url()
    )))
}

impl Api {
    /// The channel's API, with every credential it needs present.
    pub fn open() -> Result<Api, AdapterError> {
        let client_id = host::require_config(CLIENT_ID)?;
        let client_secret = host::require_config(CLIENT_SECRET)?;
        host::require_config(REFRESH_TOKEN)?;
        let redirect_uri = host::config(REDIRECT_URI);
        let token_url = host::config(TOKEN_URL).unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
        let client = private_client(
            &host::require_config(host::BASE_URL)?,
            "the channel's base URL",
        )?;
        let token_endpoint = private_client(&token_url, &format!("\"{TOKEN_URL}\""))?
            .basic_auth(&client_id, &client_secret);
        let origin = token_endpoint.base_url().origin().ascii_serialization();
        let refresh: Refresh = Box::new(move |refresh_token: &str| {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ];
            if let Some(uri) = &redirect_uri {
                form.push(("redirect_uri", uri.as_str()));
            }
            oauth::refresh_grant(token_endpoint.post("").form(&form)).map_err(|e| match e {
                // The host refused the token endpoint: say which grant is missing.
                AdapterError::Config(m) => AdapterError::Config(format!(
                    "{m}; grant the channel the extra host {origin} (the origin of \"{TOKEN_URL}\")"
                )),
                AdapterError::Auth(m) => AdapterError::Auth(format!(
                    "{m} (\"{CLIENT_ID}\", \"{CLIENT_SECRET}\", \"{REFRESH_TOKEN}\"): authorise the \
                     application for the seller's account again and put the new refresh token into \
                     \"{REFRESH_TOKEN}\""
                )),
                other => other,
            })
        });
        Ok(Api {
            client,
            session: Session::new(TOKEN_KEY, REFRESH_TOKEN, refresh),
        })
    }

    /// A request with the access token and Allegro's media type.
    fn request(&self, method: Method, path: &str, query: &[(&str, &str)], token: &str) -> Request {
        let mut request = self
            .client
            .clone()
            .bearer(token)
            .request(method, path)
            .header("accept", MEDIA_TYPE)
            .header("accept-language", LANGUAGE);
        for (name, value) in query {
            request = request.query(name, value);
        }
        request
    }

    /// Sends a request (renewing the token on a 401) and answers whatever
    /// Allegro answered but a second 401.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, AdapterError> {
        self.session.send(|token| {
            let request = self.request(method, path, query, token);
            match body {
                Some(body) => request.content(
                    MEDIA_TYPE,
                    serde_json::to_vec(body).expect("a JSON value serialises"),
                ),
                None => request,
            }
        })
    }

    /// What a request is, for messages: `PUT https://api.allegro.pl/...`.
    pub fn describe(&self, method: Method, path: &str, query: &[(&str, &str)]) -> String {
        self.request(method, path, query, "").describe()
    }

    /// [`Api::send`], with any answer but 2xx mapped to an `adapter-error`
    /// that names the request.
    pub fn send_ok(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, AdapterError> {
        let what = self.describe(method, path, query);
        self.send(method, path, query, body)?
            .error_for_status_of(&what)
    }

    /// `GET /order/checkout-forms/{id}`: the order as it stands now. A 404
    /// is Allegro saying the seller has no such order.
    pub fn checkout_form(&self, id: &str) -> Result<Form, AdapterError> {
        let path = form_path(id);
        let response = self.send(Method::Get, &path, &[], None)?;
        if response.status == 404 {
            return Err(AdapterError::Rejected(format!(
                "{}: Allegro has no order {id} for this seller ({}); check the order id and that \
                 the channel's refresh token belongs to the seller's account",
                self.describe(Method::Get, &path, &[]),
                errors::platform_message(&response.body)
            )));
        }
        response
            .error_for_status_of(&self.describe(Method::Get, &path, &[]))?
            .json()
    }
}

/// `/order/checkout-forms/{id}`.
pub fn form_path(id: &str) -> String {
    format!("/order/checkout-forms/{}", segment(id))
}

/// An amount as Allegro writes it: a decimal string and its currency.
#[derive(Clone, Debug, Deserialize)]
pub struct Price {
    pub amount: String,
    pub currency: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalId {
    pub id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub external: Option<ExternalId>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub id: String,
    pub offer: Offer,
    /// A number; Allegro's description types it `number` with format
    /// `integer`.
    pub quantity: Value,
    pub price: Price,
    #[serde(default)]
    pub bought_at: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuyerAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub post_code: Option<String>,
    pub country_code: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Buyer {
    pub id: String,
    pub email: Option<String>,
    pub login: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub phone_number: Option<String>,
    pub address: Option<BuyerAddress>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeliveryAddress {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub zip_code: Option<String>,
    pub country_code: Option<String>,
    pub phone_number: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PickupPoint {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Delivery {
    pub address: Option<DeliveryAddress>,
    pub pickup_point: Option<PickupPoint>,
    pub cost: Option<Price>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Payment {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Provider {
    pub id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Fulfillment {
    pub status: Option<String>,
    pub provider: Option<Provider>,
}

/// A checkout form (an order), with what the plugin reads of it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Form {
    pub id: String,
    /// The checkout status: BOUGHT, FILLED_IN, READY_FOR_PROCESSING, CANCELLED.
    pub status: String,
    #[serde(default)]
    pub buyer: Buyer,
    #[serde(default)]
    pub payment: Option<Payment>,
    #[serde(default)]
    pub fulfillment: Option<Fulfillment>,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
}

impl Form {
    /// The seller's fulfillment status, when Allegro gave one.
    pub fn fulfillment_status(&self) -> Option<&str> {
        self.fulfillment
            .as_ref()
            .and_then(|f| f.status.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// Whether Allegro fulfils the order itself (One Fulfillment by Allegro).
    pub fn fulfilled_by_allegro(&self) -> bool {
        self.fulfillment
            .as_ref()
            .and_then(|f| f.provider.as_ref())
            .and_then(|p| p.id.as_deref())
            == Some("ALLEGRO")
    }
}
