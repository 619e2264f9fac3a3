//! The HTTP API: every route under `/api/`, authorised by token and role,
//! described by the OpenAPI document at `/api/openapi.json`; `/healthz` and
//! `/metrics` beside it.
//!
//! Handlers translate between HTTP and the engine; they hold no rules of
//! their own beyond who may do what.

pub mod admin;
pub mod error;
pub mod export;
pub mod hooks;
pub mod ops;
pub mod orders;
pub mod views;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Request, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use jiff::Timestamp;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{Role, Token, Tokens};
use crate::config::ApiConfig;
pub use error::{ApiError, Body, PROBLEM_JSON, Problem, query_error, same_id};
use statusport_core::domain::order::{Actor, ChannelId, Order};
use statusport_core::engine::Engine;
use statusport_core::store::Store;
use statusport_runtime::registry::Registry;

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub store: Arc<Store>,
    pub registry: Option<Arc<Registry>>,
    /// Takes webhook deliveries in; none when no plugins are loaded.
    pub intake: Option<Arc<crate::intake::Intake>>,
    pub tokens: Arc<Tokens>,
    pub config: ApiConfig,
    pub metrics: Option<PrometheusHandle>,
}

pub type State = Arc<AppState>;

/// Who is calling: the token's owner, role and (for connectors) channel.
#[derive(Clone, Debug)]
pub struct Caller(pub Token);

impl Caller {
    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn owner(&self) -> &str {
        &self.0.owner
    }

    /// How the caller appears in order histories: a connector as its
    /// channel's platform (so that a status it reports is not pushed back to
    /// it), everyone else by owner.
    pub fn actor(&self) -> Actor {
        match (&self.0.role, &self.0.channel) {
            (Role::Connector, Some(channel)) => match ChannelId::try_from(channel.as_str()) {
                Ok(id) => Actor::Platform(id),
                Err(_) => Actor::User(self.0.owner.clone()),
            },
            _ => Actor::User(self.0.owner.clone()),
        }
    }

    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "a {} token may not {what}; that needs one of: {}",
            self.0.role,
            allowed.join(", ")
        )))
    }

    pub fn admin(&self, what: &str) -> Result<(), ApiError> {
        self.require(&[Role::Admin], what)
    }

    /// Operators, approvers and admins.
    pub fn operator(&self, what: &str) -> Result<(), ApiError> {
        self.require(&[Role::Admin, Role::Approver, Role::Operator], what)
    }

    /// Everyone but connectors.
    pub fn reader(&self, what: &str) -> Result<(), ApiError> {
        self.require(
            &[Role::Admin, Role::Approver, Role::Operator, Role::Viewer],
            what,
        )
    }

    /// Connectors touch only their own channel.
    pub fn channel(&self, channel: &str) -> Result<(), ApiError> {
        match (&self.0.role, &self.0.channel) {
            (Role::Connector, Some(own)) if own != channel => Err(ApiError::forbidden(format!(
                "this connector token is for channel {own}, not {channel}"
            ))),
            _ => Ok(()),
        }
    }

    pub fn order(&self, order: &Order) -> Result<(), ApiError> {
        self.channel(order.channel.as_str())
    }

    /// The channel a connector is held to.
    pub fn own_channel(&self) -> Option<&str> {
        match self.0.role {
            Role::Connector => self.0.channel.as_deref(),
            _ => None,
        }
    }
}

impl FromRequestParts<State> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &State) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("no token"))
    }
}

/// Authenticates every `/api/` request but the OpenAPI document, and
/// records every change in the audit log with the token's owner.
async fn authenticate(
    AxumState(state): AxumState<State>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let token = match token {
        None => {
            return unauthorized(
                "no token: send the header Authorization: Bearer <token> (statusport token create makes one)",
            );
        }
        Some(value) => {
            let Some(text) = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
            else {
                return unauthorized("the Authorization header must read: Bearer <token>");
            };
            match state.tokens.verify(text.trim()) {
                Some(token) => token,
                None => {
                    return unauthorized("the token is not valid (unknown, revoked or mistyped)");
                }
            }
        }
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(Caller(token.clone()));
    let response = next.run(req).await;
    if method != Method::GET && method != Method::HEAD {
        let entry = AuditEntry {
            at: Timestamp::now(),
            owner: token.owner,
            role: token.role,
            token: token.id,
            method: method.to_string(),
            path,
            status: response.status().as_u16(),
        };
        if let Err(e) = state.store.audit(&entry) {
            tracing::error!("audit log: {e}");
        }
    }
    response
}

fn unauthorized(detail: &str) -> Response {
    let mut response = ApiError::unauthorized(detail).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// One change made through the API.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub owner: String,
    pub role: Role,
    pub token: String,
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// Counts requests and their latency by route and status.
async fn count(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("statusport_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("statusport_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

struct BearerAuth;

/// The refusals every route shares, said once here rather than on each
/// route: every error is `application/problem+json`; every route under
/// `/api/` but the document answers 401 without a valid token and 403 to a
/// role that may not; a route with a body refuses a body that is not JSON
/// (415), too large (413), malformed (400) or that does not fit (422); a
/// route with query parameters refuses ones that do not fit (422); a route
/// with an id in its path refuses one that does not parse (400) and
/// answers 404 when nothing has it.
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        PROBLEM_JSON,
                        ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "Problem",
                            ))))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/") && path != "/api/openapi.json";
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let params = op.parameters.as_deref().unwrap_or_default();
                let query = params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let path_id = params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path));
                let mut shared: Vec<(&str, &str)> = Vec::new();
                if api {
                    shared.push(("401", "no token, or one that is not valid"));
                    shared.push(("403", "the token's role may not do this"));
                }
                if op.request_body.is_some() {
                    shared.push(("400", "the body is malformed"));
                    shared.push(("413", "the body is larger than api.max_body_bytes"));
                    shared.push(("415", "the body is not of the documented content type"));
                    shared.push(("422", "the body does not fit"));
                }
                if query {
                    shared.push(("422", "a query parameter does not fit"));
                }
                if path_id {
                    shared.push(("400", "a path parameter does not parse"));
                    shared.push(("404", "nothing has that id"));
                }
                for (status, description) in shared {
                    op.responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| problem(description));
                }
                // Handlers declare their problems with `body = Problem`,
                // which utoipa files under application/json.
                for (status, response) in op.responses.responses.iter_mut() {
                    if !status.starts_with(['4', '5']) {
                        continue;
                    }
                    if let RefOr::T(response) = response
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(PROBLEM_JSON.into(), content);
                    }
                }
            }
        }
    }
}

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sp_<id>_<secret>")
                    .description(Some(
                        "An API token: `statusport token create` or POST /api/tokens makes one",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Statusport",
        description = "Order-status middleware: orders, rules, notifications and platform plugins. Every `/api/` route but this document takes `Authorization: Bearer <token>`; errors are `application/problem+json`."
    ),
    modifiers(&BearerAuth),
    security(("token" = [])),
    tags(
        (name = "orders", description = "Orders, their events, statuses and shipments"),
        (name = "config", description = "Rules, templates, channels, plugins, webhooks"),
        (name = "outbox", description = "Jobs: pushes, uploads, mail, SMS, webhooks"),
        (name = "bulk", description = "Bulk jobs over many orders"),
        (name = "exports", description = "Order exports as CSV, XML or JSON"),
        (name = "access", description = "Tokens and the audit log"),
        (name = "host", description = "Health and metrics"),
        (name = "intake", description = "Webhook deliveries from the platforms"),
    )
)]
struct ApiDoc;

/// The routes with their OpenAPI document.
pub fn router(state: State) -> (Router, utoipa::openapi::OpenApi) {
    let limit = state.config.max_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(orders::routes())
        .merge(admin::routes())
        .merge(ops::routes())
        .merge(export::routes())
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .split_for_parts();
    let (host, host_doc) = OpenApiRouter::new()
        .merge(ops::host_routes())
        .merge(hooks::routes())
        .split_for_parts();
    let mut doc = doc;
    doc.merge(host_doc);
    Problems.modify(&mut doc);
    let document = Arc::new(doc.clone());
    let router = Router::new()
        .merge(api)
        .merge(host)
        .layer(axum::Extension(document))
        .fallback(|| async {
            ApiError::not_found("no such route: the routes are listed in /api/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not take that method: see /api/openapi.json",
            )
        })
        .layer(middleware::from_fn(count))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(middleware::from_fn(error::as_problem))
        .with_state(state);
    (router, doc)
}

/// Installs the process's metrics recorder once and returns its handle.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!("metrics recorder: {e}"))
                .ok()
        })
        .clone()
}

/// A fresh event id for a change that came without one.
pub fn event_id(caller: &Caller, what: &str) -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = fastrand::u64(..).to_be_bytes();
    }
    format!("api:{what}:{}:{}", caller.owner(), hex::encode(bytes))
}

/// The JSON response with a status.
pub fn reply<T: Serialize>(status: StatusCode, value: T) -> Response {
    (status, Json(value)).into_response()
}
