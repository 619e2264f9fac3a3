//! The outbox, bulk jobs, health and metrics.

use std::sync::Arc;

use axum::extract::{Path, Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Body, Caller, State, query_error, reply};
use statusport_core::domain::job::{JobDone, JobState};
use statusport_core::engine::bulk::{BulkJob, BulkSpec, DryRun};
use statusport_core::store::JobRecord;

pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(retry_job))
        .routes(routes!(drop_job))
        .routes(routes!(bulk_dry_run))
        .routes(routes!(list_bulk, start_bulk))
        .routes(routes!(get_bulk))
        .routes(routes!(cancel_bulk))
}

/// The routes outside `/api/` that take no token.
pub fn host_routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

/// This document: every route, its parameters, bodies and answers.
#[utoipa::path(get, path = "/api/openapi.json", tag = "host", security(()),
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
async fn openapi(
    axum::Extension(document): axum::Extension<Arc<utoipa::openapi::OpenApi>>,
) -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(document.as_ref().clone())
}

// ----- outbox ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobFilter {
    /// Failed jobs, waiting for an operator.
    #[default]
    Failed,
    /// Every job not finished: waiting, retrying or failed.
    Active,
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `failed` (default) or `active`.
    #[param(inline)]
    pub state: Option<JobFilter>,
}

/// Outbox jobs that are failed (default) or not finished, oldest first.
#[utoipa::path(get, path = "/api/jobs", tag = "outbox", params(JobQuery),
    responses((status = 200, body = Vec<JobRecord>), (status = 403, body = super::Problem)))]
async fn list_jobs(
    AxumState(state): AxumState<State>,
    caller: Caller,
    query: Result<Query<JobQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.reader("read the outbox")?;
    let Query(query) = query.map_err(query_error)?;
    let jobs = match query.state.unwrap_or_default() {
        JobFilter::Failed => state.store.failed_jobs()?,
        JobFilter::Active => state.store.active_jobs()?,
    };
    let records: Vec<JobRecord> = jobs
        .into_iter()
        .map(|(job, s)| JobRecord::new(job, Some(s), None))
        .collect();
    Ok(reply(StatusCode::OK, records))
}

fn job_record(state: &State, id: u64) -> Result<JobRecord, ApiError> {
    let job = state
        .store
        .job(id)?
        .ok_or_else(|| ApiError::not_found(format!("job {id} does not exist")))?;
    Ok(JobRecord::new(
        job,
        state.store.job_state(id)?,
        state.store.job_done(id)?,
    ))
}

/// One job: what it does, its attempts, how it ended.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "outbox",
    params(("id" = u64, Path, description = "The job's id")),
    responses((status = 200, body = JobRecord), (status = 404, body = super::Problem)))]
async fn get_job(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    caller.reader("read the outbox")?;
    Ok(reply(StatusCode::OK, job_record(&state, id)?))
}

/// Put a failed job back in the queue, due now (409 unless it failed).
#[utoipa::path(post, path = "/api/jobs/{id}/retry", tag = "outbox",
    params(("id" = u64, Path, description = "The job's id")),
    responses((status = 200, body = JobState), (status = 404, body = super::Problem),
        (status = 409, body = super::Problem)))]
async fn retry_job(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    caller.operator("retry jobs")?;
    let s = crate::outbox::retry(&state.store, id)?;
    Ok(reply(StatusCode::OK, s))
}

/// End a failed job without delivering it (409 unless it failed).
#[utoipa::path(post, path = "/api/jobs/{id}/drop", tag = "outbox",
    params(("id" = u64, Path, description = "The job's id")),
    responses((status = 200, body = JobDone), (status = 404, body = super::Problem),
        (status = 409, body = super::Problem)))]
async fn drop_job(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    caller.operator("drop jobs")?;
    let done = crate::outbox::drop_job(&state.store, id, caller.owner())?;
    Ok(reply(StatusCode::OK, done))
}

// ----- bulk ------------------------------------------------------------------

/// What a bulk job would change, without changing anything.
#[utoipa::path(post, path = "/api/bulk/dry-run", tag = "bulk", request_body = BulkSpec,
    responses((status = 200, body = DryRun), (status = 422, body = super::Problem)))]
async fn bulk_dry_run(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(spec): Body<BulkSpec>,
) -> Result<Response, ApiError> {
    caller.operator("run bulk jobs")?;
    let engine = state.engine.clone();
    let actor = caller.actor();
    let dry = tokio::task::spawn_blocking(move || engine.bulk_dry_run(&spec, &actor))
        .await
        .map_err(ApiError::internal)??;
    Ok(reply(StatusCode::OK, dry))
}

/// Start a bulk job; it runs in the background (poll GET /api/bulk/{id}).
#[utoipa::path(post, path = "/api/bulk", tag = "bulk", request_body = BulkSpec,
    responses((status = 202, body = BulkJob), (status = 422, body = super::Problem)))]
async fn start_bulk(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(spec): Body<BulkSpec>,
) -> Result<Response, ApiError> {
    caller.operator("run bulk jobs")?;
    let job = state.engine.bulk_start(spec, caller.actor())?;
    state.engine.clone().bulk_spawn(job.id.clone());
    Ok(reply(StatusCode::ACCEPTED, job))
}

/// Every bulk job with its progress.
#[utoipa::path(get, path = "/api/bulk", tag = "bulk",
    responses((status = 200, body = Vec<BulkJob>)))]
async fn list_bulk(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read bulk jobs")?;
    Ok(reply(StatusCode::OK, state.engine.bulk_jobs()?))
}

/// A bulk job's progress: orders walked, matched, changed, left alone.
#[utoipa::path(get, path = "/api/bulk/{id}", tag = "bulk",
    params(("id" = String, Path, description = "The bulk job's id")),
    responses((status = 200, body = BulkJob), (status = 404, body = super::Problem)))]
async fn get_bulk(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read bulk jobs")?;
    Ok(reply(StatusCode::OK, state.engine.bulk_job(&id)?))
}

/// Stop a bulk job at its next checkpoint; what it changed stays changed.
#[utoipa::path(post, path = "/api/bulk/{id}/cancel", tag = "bulk",
    params(("id" = String, Path, description = "The bulk job's id")),
    responses((status = 200, body = BulkJob), (status = 404, body = super::Problem)))]
async fn cancel_bulk(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator("cancel bulk jobs")?;
    Ok(reply(StatusCode::OK, state.engine.bulk_cancel(&id)?))
}

// ----- health and metrics ------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when plugin files were refused.
    pub status: String,
    pub version: String,
    pub plugins: usize,
    pub refused_plugins: usize,
    pub jobs_pending: usize,
    pub jobs_failed: usize,
}

/// Whether the host is up: the store answers, plugins loaded, the outbox.
#[utoipa::path(get, path = "/healthz", tag = "host", security(()),
    responses((status = 200, body = Health), (status = 503, body = super::Problem)))]
async fn healthz(AxumState(state): AxumState<State>) -> Result<Response, ApiError> {
    let (pending, failed) = job_counts(&state).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the store does not answer: {e}"),
        )
    })?;
    let (plugins, refused) = state
        .registry
        .as_ref()
        .map(|r| (r.plugins().len(), r.refusals().len()))
        .unwrap_or_default();
    Ok(reply(
        StatusCode::OK,
        Health {
            status: if refused == 0 { "ok" } else { "degraded" }.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            plugins,
            refused_plugins: refused,
            jobs_pending: pending,
            jobs_failed: failed,
        },
    ))
}

/// Pending and failed jobs, counted off the async workers (a backlog can
/// hold many).
async fn job_counts(state: &State) -> Result<(usize, usize), String> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.job_counts())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Prometheus metrics: transitions, jobs by state, plugin calls and their
/// latency, HTTP requests.
#[utoipa::path(get, path = "/metrics", tag = "host", security(()),
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
async fn metrics(AxumState(state): AxumState<State>) -> Response {
    if let Ok((pending, failed)) = job_counts(&state).await {
        metrics::gauge!("statusport_jobs", "state" => "pending").set(pending as f64);
        metrics::gauge!("statusport_jobs", "state" => "failed").set(failed as f64);
    }
    let text = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
