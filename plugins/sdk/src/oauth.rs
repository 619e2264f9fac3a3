//! OAuth 2.0 access tokens kept in the channel's state and renewed with a
//! refresh token (RFC 6749 §6), the way Amazon (Login with Amazon), eBay,
//! Etsy and Allegro hand them out.
//!
//! A [`Session`] holds the token between calls in the plugin's state under
//! its key, renews it shortly before it expires, and when the platform
//! answers 401 anyway (a token revoked early) renews it once and sends the
//! request once more; a second 401 is an `auth` error. Platforms that rotate
//! refresh tokens (Etsy) hand out a new one with each access token: it is
//! kept in the state too, and used until the operator puts another refresh
//! token into the channel's config.
//!
//! ```ignore
//! let session = Session::new("oauth", REFRESH_TOKEN, |refresh| {
//!     oauth::refresh_grant(
//!         Client::new(TOKEN_URL)?
//!             .post("")
//!             .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]),
//!     )
//! });
//! let orders = session.send_ok(|token| api.get("/orders").header("x-token", token))?;
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::AdapterError;
use crate::host;
use crate::http::{Request, Response};

/// A token this close to its expiry is renewed before it is used.
pub const MARGIN_SECS: u64 = 60;

/// What a token endpoint handed out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub access_token: String,
    /// Seconds since the Unix epoch; `None` when the endpoint gave no
    /// lifetime (the token is then used until the platform refuses it).
    pub expires_at: Option<u64>,
    /// A new refresh token, from platforms that rotate them.
    pub refresh_token: Option<String>,
}

/// What is kept in the channel's state.
#[derive(Serialize, Deserialize)]
struct Stored {
    token: Token,
    /// The config refresh token the stored refresh token descends from:
    /// when the operator changes the config, the config's wins again.
    from_config: String,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sends a prepared token request (a `refresh_token` grant with the
/// platform's client credentials) and reads the answer of RFC 6749 §5.1.
/// A 400 or 401 from the token endpoint (`invalid_grant`,
/// `invalid_client`) is an `auth` error quoting the endpoint: the operator
/// must give the channel new credentials.
pub fn refresh_grant(request: Request) -> Result<Token, AdapterError> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        #[serde(default)]
        expires_in: Option<u64>,
        #[serde(default)]
        refresh_token: Option<String>,
    }
    let what = request.describe();
    let response = request.send()?;
    if matches!(response.status, 400 | 401 | 403) {
        return Err(AdapterError::Auth(format!(
            "{what}: the token endpoint refused the channel's refresh token or client credentials \
             (HTTP {}: {}); give the channel new credentials",
            response.status,
            crate::errors::platform_message(&response.body)
        )));
    }
    let answer: Answer = response.error_for_status_of(&what)?.json()?;
    if answer.access_token.is_empty() {
        return Err(AdapterError::Rejected(format!(
            "{what}: the token endpoint answered an empty access token"
        )));
    }
    Ok(Token {
        access_token: answer.access_token,
        expires_at: answer.expires_in.map(|s| now_secs() + s),
        refresh_token: answer.refresh_token,
    })
}

/// Access tokens for one channel; see the module's description.
pub struct Session<F> {
    state_key: String,
    refresh_field: String,
    refresh: F,
}

impl<F> Session<F>
where
    F: Fn(&str) -> Result<Token, AdapterError>,
{
    /// Tokens kept under `state_key`; the refresh token is the channel's
    /// config field `refresh_field` (or the newer one a rotating platform
    /// handed out); `refresh` turns a refresh token into a [`Token`],
    /// usually with [`refresh_grant`].
    pub fn new(state_key: &str, refresh_field: &str, refresh: F) -> Self {
        Session {
            state_key: state_key.to_owned(),
            refresh_field: refresh_field.to_owned(),
            refresh,
        }
    }

    fn stored(&self) -> Option<Stored> {
        host::state_get(&self.state_key).and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }

    /// A valid access token: the kept one, or a new one when there is none
    /// or it expires within [`MARGIN_SECS`].
    pub fn access_token(&self) -> Result<String, AdapterError> {
        let config = host::require_config(&self.refresh_field)?;
        if let Some(stored) = self.stored().filter(|s| s.from_config == config) {
            let fresh = stored
                .token
                .expires_at
                .is_none_or(|at| at > now_secs() + MARGIN_SECS);
            if fresh {
                return Ok(stored.token.access_token);
            }
        }
        self.renew()
    }

    /// Renews the access token whatever the kept one's expiry, and keeps it.
    pub fn renew(&self) -> Result<String, AdapterError> {
        let config = host::require_config(&self.refresh_field)?;
        let refresh_token = self
            .stored()
            .filter(|s| s.from_config == config)
            .and_then(|s| s.token.refresh_token)
            .unwrap_or_else(|| config.clone());
        let mut token = (self.refresh)(&refresh_token)?;
        // Keep the refresh token that works: the rotated one, else the one used.
        token.refresh_token = Some(token.refresh_token.unwrap_or(refresh_token));
        let access = token.access_token.clone();
        let stored = Stored {
            token,
            from_config: config,
        };
        host::state_set(
            &self.state_key,
            &serde_json::to_vec(&stored).expect("a token serialises"),
        );
        Ok(access)
    }

    /// Sends the request `build` makes with a valid access token. A 401
    /// renews the token once and sends the request once more; a second 401
    /// is an `auth` error. Any other answer is returned as it is.
    pub fn send(&self, build: impl Fn(&str) -> Request) -> Result<Response, AdapterError> {
        let first = build(&self.access_token()?);
        let response = first.send()?;
        if response.status != 401 {
            return Ok(response);
        }
        let again = build(&self.renew()?);
        let what = again.describe();
        let response = again.send()?;
        if response.status == 401 {
            return Err(AdapterError::Auth(format!(
                "{what}: the platform refused a freshly renewed access token (HTTP 401: {}); \
                 check that the channel's credentials grant this API",
                crate::errors::platform_message(&response.body)
            )));
        }
        Ok(response)
    }

    /// [`Session::send`], with any answer but 2xx mapped to an
    /// `adapter-error` naming the request.
    pub fn send_ok(&self, build: impl Fn(&str) -> Request) -> Result<Response, AdapterError> {
        let what = build("").describe();
        self.send(build)?.error_for_status_of(&what)
    }
}
