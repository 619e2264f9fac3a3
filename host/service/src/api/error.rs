//! Errors as `application/problem+json` (RFC 9457), and the JSON body
//! extractor that turns every bad body into one.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::outbox::OutboxError;
use statusport_core::engine::EngineError;
use statusport_core::store::StoreError;

/// The content type of every error the API answers.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem: `type` is stable and names the kind of refusal; `detail`
/// says what was wrong and what is allowed; `field` names the part of the
/// request at fault, where one is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An API refusal.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    detail: String,
    field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            slug,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 422 naming the field at fault.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!("request failed: {detail}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the host failed: {detail}"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:statusport:problem:{}", self.slug),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        (self.status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
    }
}

/// Turns a refusal that axum or a layer wrote itself (a path parameter
/// that does not parse, a body that is not text, a timeout) into a problem
/// like every other, keeping its status and text; closes the connection
/// after a body too large to read.
pub async fn as_problem(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read: the connection ends here,
        // and says so, so that a client does not send its next request
        // on a connection the host is closing.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == PROBLEM_JSON);
    if problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let (slug, fallback) = match status {
        StatusCode::BAD_REQUEST => ("malformed", "the request does not parse"),
        StatusCode::NOT_FOUND => ("not-found", "no such route"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "the body is larger than the host takes (api.max_body_bytes)",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported-media-type",
            "the body is of a type the route does not take",
        ),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request took longer than api.request_timeout_secs; try again",
        ),
        s if s.is_server_error() => ("internal", "the host failed"),
        _ => ("refused", "the request was refused"),
    };
    let detail = if text.is_empty() {
        fallback.to_owned()
    } else {
        text
    };
    let body =
        serde_json::to_vec(&ApiError::new(status, slug, detail).problem()).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, axum::body::Body::from(body))
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound { .. } => ApiError::not_found(e.to_string()),
            EngineError::Invalid { field, message } => ApiError::invalid(field, message),
            EngineError::Conflict(c) => ApiError::conflict(c.to_string()),
            EngineError::Storage(e) => ApiError::internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<OutboxError> for ApiError {
    fn from(e: OutboxError) -> Self {
        match e {
            OutboxError::NotFound(_) => ApiError::not_found(e.to_string()),
            OutboxError::NotFailed { .. } => ApiError::conflict(e.to_string()),
            OutboxError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid { field, message } => ApiError::invalid(field, message),
            AuthError::NotFound(_) => ApiError::not_found(e.to_string()),
            AuthError::NoRandomness(_) => ApiError::internal(e),
            AuthError::Store(e) => ApiError::internal(e),
        }
    }
}

/// A JSON body: refused with 415 when it is not JSON, 413 over the size
/// limit, 400 when it does not parse, and 422 naming the field when it does
/// not fit (unknown fields included).
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v == "application/json" || v.ends_with("+json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON: send it with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload-too-large",
                        "the body is larger than the host takes (api.max_body_bytes); split the request",
                    )
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.body_text())
                }
            })?;
        parse(&bytes).map(Body)
    }
}

/// An optional body: none at all is `None`; anything else must be JSON.
impl<S, T> axum::extract::OptionalFromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
            || (req.headers().get(header::CONTENT_TYPE).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none()
                && req.headers().get(header::CONTENT_LENGTH).is_none());
        if empty {
            return Ok(None);
        }
        <Body<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Parses a JSON body, naming the field a problem is in. Every body is an
/// object: serde would also fill a struct from an array of its fields in
/// order (`[null, null]`), which the document does not allow.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.trim_ascii_start().starts_with(b"[") {
        return Err(ApiError::invalid(
            "body",
            "body: must be a JSON object ({…}), not an array",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    format!("the body is not valid JSON: {e}"),
                )
            })?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    format!("the body is not valid JSON: {inner}"),
                ));
            }
            let field = if path == "." { "body".to_owned() } else { path };
            let detail = format!("{field}: {inner}");
            Err(ApiError::invalid(field, detail))
        }
    }
}

/// Refuses a body whose id differs from the path's.
pub fn same_id(path: &str, body: &str) -> Result<(), ApiError> {
    if path == body {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "id",
            format!("id: the body names \"{body}\" but the path names \"{path}\"; they must match"),
        ))
    }
}

/// A query string that does not parse, as a 422 naming the parameter.
pub fn query_error(e: axum::extract::rejection::QueryRejection) -> ApiError {
    let text = e.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .to_owned();
    let field = detail
        .split(['`', ':'])
        .find(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .unwrap_or("query")
        .to_owned();
    ApiError::invalid(field, format!("query: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use statusport_core::engine::{Conflict, Thing};

    #[test]
    fn an_engine_error_maps_by_its_kind_and_names_its_field() {
        let problem = |e: EngineError| ApiError::from(e).problem();
        let missing = problem(EngineError::not_found(Thing::Template, "hello"));
        assert_eq!((missing.status, missing.field), (404, None));
        assert_eq!(missing.detail, "template \"hello\" does not exist");
        let wrong = problem(EngineError::invalid(
            "lines[0].quantity",
            "must be positive",
        ));
        assert_eq!(wrong.status, 422);
        assert_eq!(wrong.field.as_deref(), Some("lines[0].quantity"));
        let refused = problem(Conflict::InUse("channel shop holds orders".into()).into());
        assert_eq!((refused.status, refused.field), (409, None));
        let failed = problem(EngineError::Storage(StoreError::Corrupt {
            key: "o/1".into(),
            message: "not JSON".into(),
        }));
        assert_eq!(failed.status, 500);
    }
}
