//! `POST /hooks/{channel}`: a platform's webhook delivery. No token: the
//! channel's plugin checks the platform's signature with the channel's
//! secret, and that is the authentication. Answers 2xx only once what the
//! delivery carried is on disk; a bad signature is 401, in the audit log
//! and on the channel's intake state.

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AuditEntry, State, reply};
use crate::auth::Role;
use crate::intake::IntakeFailure;
use statusport_core::domain::intake::ImportReport;
use statusport_core::domain::platform::PlatformError;

pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(hook))
}

/// A platform's webhook delivery for a channel whose plugin takes orders in
/// (contract 1.1). Give the platform this URL; the plugin checks the
/// platform's signature with the channel's webhook secret.
#[utoipa::path(post, path = "/hooks/{channel}", tag = "intake", security(()),
    params(("channel" = String, Path, description = "The channel's id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the platform's delivery, as it sent it"),
    responses(
        (status = 200, body = ImportReport, description = "imported and on disk"),
        (status = 400, body = super::Problem, description = "the plugin could not read the delivery"),
        (status = 401, body = super::Problem, description = "the signature does not match the channel's secret, or the channel has no secret to check it with"),
        (status = 404, body = super::Problem, description = "no such channel, or its plugin takes no webhooks"),
        (status = 413, body = super::Problem),
        (status = 500, body = super::Problem),
        (status = 503, body = super::Problem, description = "try again later (Retry-After when the plugin gave one)")))]
async fn hook(
    AxumState(state): AxumState<State>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(intake) = state.intake.as_ref() else {
        return Err(ApiError::not_found(
            "this host loads no plugins: it takes no webhooks",
        ));
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    match intake.webhook(&channel, &headers, &body).await {
        Ok(report) => Ok(reply(StatusCode::OK, report)),
        Err(failure) => {
            let error = refusal(&channel, &failure);
            if error.status() == StatusCode::UNAUTHORIZED {
                let entry = AuditEntry {
                    at: Timestamp::now(),
                    owner: format!("webhook of channel {channel}"),
                    role: Role::Connector,
                    token: "none".into(),
                    method: "POST".into(),
                    path: format!("/hooks/{channel}"),
                    status: 401,
                };
                if let Err(e) = state.store.audit(&entry) {
                    tracing::error!("audit log: {e}");
                }
            }
            let mut response = error.into_response();
            if let Some(wait) = failure.retry_after() {
                let secs = wait.as_secs_f64().ceil() as u64;
                if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            Ok(response)
        }
    }
}

fn refusal(channel: &str, failure: &IntakeFailure) -> ApiError {
    let unavailable =
        |detail: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
    match failure {
        IntakeFailure::NoChannel(_) | IntakeFailure::NoIntake(_) => {
            ApiError::not_found(failure.to_string())
        }
        IntakeFailure::Platform(PlatformError::Auth { message }) => ApiError::unauthorized(
            format!("channel {channel}: the webhook's signature was refused: {message}"),
        ),
        // Without its secret the plugin cannot check a signature: the
        // delivery is not authenticated (the channel's state says what to
        // set; the platform sends it again later).
        IntakeFailure::Platform(PlatformError::Config { message }) => ApiError::unauthorized(
            format!("channel {channel} cannot check the webhook's signature: {message}"),
        ),
        IntakeFailure::Platform(PlatformError::Rejected { message }) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-delivery",
            format!("channel {channel}: {message}"),
        ),
        IntakeFailure::Platform(PlatformError::Unsupported { message }) => {
            ApiError::not_found(format!("channel {channel} takes no webhooks: {message}"))
        }
        IntakeFailure::Platform(PlatformError::Transient { .. }) | IntakeFailure::Plugin(_) => {
            unavailable(format!(
                "channel {channel}: {failure}; the delivery was not taken, send it again later"
            ))
        }
        IntakeFailure::Engine(e) => match e {
            statusport_core::engine::EngineError::Storage(_) => ApiError::internal(e),
            _ => unavailable(format!(
                "channel {channel}: {e}; the delivery was not taken, send it again later"
            )),
        },
    }
}
