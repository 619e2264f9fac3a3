//! A fake OAuth 2.0 token endpoint (RFC 6749 §6, the `refresh_token`
//! grant), as Login with Amazon, eBay, Etsy and Allegro run one: a host of
//! its own beside the platform's API.
//!
//! It hands out access tokens `access-1`, `access-2`, … for the one refresh
//! token it knows, checking the client's credentials in an HTTP Basic
//! header (eBay, Allegro) or in the form (Amazon; Etsy sends only its
//! `client_id`). A fake platform holds a [`Tokens`] to tell whether a
//! bearer token is one the endpoint issued and has not revoked.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::response::Response;
use base64::Engine as _;
use serde_json::json;

use super::{Common, Platform, Recorded, Server, json, serve};

/// What the endpoint knows and has handed out.
#[derive(Debug, Default)]
pub struct Book {
    pub client_id: String,
    /// `None` for a public client (Etsy) that sends only its id.
    pub client_secret: Option<String>,
    /// The refresh token the endpoint accepts.
    pub refresh_token: String,
    /// Hand out a new refresh token with each access token (Etsy), which
    /// replaces the old one.
    pub rotate: bool,
    /// `expires_in` of each access token, seconds.
    pub expires_in: u64,
    /// Access tokens issued and not revoked.
    pub valid: BTreeSet<String>,
    /// Grants answered with a token.
    pub grants: usize,
}

/// A handle on the endpoint's [`Book`], shared with the fake platforms.
#[derive(Clone, Debug, Default)]
pub struct Tokens(pub Arc<Mutex<Book>>);

impl Tokens {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `token` (a bare token or an `Authorization: Bearer …` value)
    /// is one the endpoint issued and has not revoked.
    pub fn accepts(&self, token: &str) -> bool {
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        self.book().valid.contains(token)
    }

    /// Revokes every access token issued so far (the platform then answers
    /// 401 until the plugin refreshes).
    pub fn revoke_all(&self) {
        self.book().valid.clear();
    }

    /// Grants answered with a token so far.
    pub fn grants(&self) -> usize {
        self.book().grants
    }

    /// The refresh token the endpoint accepts now (after a rotation, the
    /// newest).
    pub fn refresh_token(&self) -> String {
        self.book().refresh_token.clone()
    }

    /// Sets what `expires_in` the next tokens carry.
    pub fn set_expires_in(&self, seconds: u64) {
        self.book().expires_in = seconds;
    }
}

/// The token endpoint, answering `POST {path}`.
pub struct TokenEndpoint {
    common: Common,
    path: String,
    tokens: Tokens,
}

/// A token endpoint at `path` that knows one client and one refresh token
/// (access tokens live an hour), to serve beside a platform's API on its
/// own host (see [`TokenEndpoint::answers`]).
pub fn endpoint(
    path: &str,
    client_id: &str,
    client_secret: Option<&str>,
    refresh_token: &str,
) -> (TokenEndpoint, Tokens) {
    let tokens = Tokens(Arc::new(Mutex::new(Book {
        client_id: client_id.to_owned(),
        client_secret: client_secret.map(str::to_owned),
        refresh_token: refresh_token.to_owned(),
        expires_in: 3600,
        ..Book::default()
    })));
    let endpoint = TokenEndpoint {
        common: Common::default(),
        path: path.to_owned(),
        tokens: tokens.clone(),
    };
    (endpoint, tokens)
}

/// Starts [`endpoint`] on a host of its own.
pub async fn start(
    path: &str,
    client_id: &str,
    client_secret: Option<&str>,
    refresh_token: &str,
) -> (Server<TokenEndpoint>, Tokens) {
    let (endpoint, tokens) = self::endpoint(path, client_id, client_secret, refresh_token);
    (serve(endpoint).await, tokens)
}

impl TokenEndpoint {
    /// Whether `request` is for this endpoint.
    pub fn answers(&self, request: &Recorded) -> bool {
        request.path == self.path
    }
}

fn refused(status: u16, error: &str, description: &str) -> Response {
    json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

impl Platform for TokenEndpoint {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn handle(&mut self, request: &Recorded) -> Response {
        if request.method != "POST" || request.path != self.path {
            return json(404, json!({"error": "not_found"}));
        }
        let form_type = request
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return refused(
                400,
                "invalid_request",
                "the body must be application/x-www-form-urlencoded",
            );
        }
        let mut book = self.tokens.book();
        // Client credentials: HTTP Basic, else the form.
        let (id, secret) = match request
            .header("authorization")
            .and_then(|a| a.strip_prefix("Basic "))
        {
            Some(basic) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(basic)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                match decoded.split_once(':') {
                    Some((id, secret)) => (Some(id.to_owned()), Some(secret.to_owned())),
                    None => (None, None),
                }
            }
            None => (
                request.form_value("client_id"),
                request.form_value("client_secret"),
            ),
        };
        let client_ok = id.as_deref() == Some(book.client_id.as_str())
            && match &book.client_secret {
                Some(expected) => secret.as_deref() == Some(expected.as_str()),
                None => true,
            };
        if !client_ok {
            return refused(401, "invalid_client", "Client authentication failed");
        }
        if request.form_value("grant_type").as_deref() != Some("refresh_token") {
            return refused(
                400,
                "unsupported_grant_type",
                "only refresh_token is supported",
            );
        }
        if request.form_value("refresh_token").as_deref() != Some(book.refresh_token.as_str()) {
            return refused(
                400,
                "invalid_grant",
                "The refresh token is invalid or expired",
            );
        }
        book.grants += 1;
        let access = format!("access-{}", book.grants);
        book.valid.insert(access.clone());
        let mut answer = json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": book.expires_in,
        });
        if book.rotate {
            book.refresh_token = format!("refresh-{}", book.grants);
            answer["refresh_token"] = json!(book.refresh_token);
        }
        json(200, answer)
    }
}
