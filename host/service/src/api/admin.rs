//! Configuration through the API: rules, templates, channels, plugins,
//! webhooks, number sequences, tokens and the audit log. Reading takes any role but
//! connector; changing takes admin.

use axum::extract::{Path, Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AuditEntry, Body, Caller, State, query_error, reply, same_id};
use crate::auth::{NewToken, Token};
use statusport_core::domain::intake::IntakeState;
use statusport_core::domain::notify::{Template, WebhookEndpoint};
use statusport_core::domain::order::Channel;
use statusport_core::domain::platform::Platform;
use statusport_core::engine::rule::Rule;
use statusport_core::store::{JobRecord, Numbering, NumberingError, Sequence};

pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, put_rule, delete_rule))
        .routes(routes!(import_rules))
        .routes(routes!(export_rules))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, put_template, delete_template))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, put_channel, delete_channel))
        .routes(routes!(get_channel_intake))
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin))
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, put_webhook, delete_webhook))
        .routes(routes!(webhook_deliveries))
        .routes(routes!(get_numbering, put_numbering))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(audit_log))
}

// ----- rules ---------------------------------------------------------------

/// Every rule, in the order they run.
#[utoipa::path(get, path = "/api/rules", tag = "config",
    responses((status = 200, body = Vec<Rule>), (status = 403, body = super::Problem)))]
async fn list_rules(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read rules")?;
    Ok(reply(StatusCode::OK, state.engine.rules().as_ref()))
}

/// Create a rule; 409 when the id is taken.
#[utoipa::path(post, path = "/api/rules", tag = "config", request_body = Rule,
    responses((status = 201, body = Rule), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn create_rule(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(rule): Body<Rule>,
) -> Result<Response, ApiError> {
    caller.admin("change rules")?;
    if state.engine.rules().iter().any(|r| r.id == rule.id) {
        return Err(ApiError::conflict(format!(
            "rule {} exists; PUT /api/rules/{} replaces it",
            rule.id, rule.id
        )));
    }
    state.engine.save_rule(rule.clone())?;
    Ok(reply(StatusCode::CREATED, rule))
}

fn find_rule(state: &State, id: &str) -> Result<Rule, ApiError> {
    state
        .engine
        .rules()
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("rule \"{id}\" does not exist")))
}

/// One rule.
#[utoipa::path(get, path = "/api/rules/{id}", tag = "config",
    params(("id" = String, Path, description = "The rule's id")),
    responses((status = 200, body = Rule), (status = 404, body = super::Problem)))]
async fn get_rule(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read rules")?;
    Ok(reply(StatusCode::OK, find_rule(&state, &id)?))
}

/// Create or replace a rule.
#[utoipa::path(put, path = "/api/rules/{id}", tag = "config",
    params(("id" = String, Path, description = "The rule's id")), request_body = Rule,
    responses((status = 200, body = Rule), (status = 422, body = super::Problem)))]
async fn put_rule(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
    Body(rule): Body<Rule>,
) -> Result<Response, ApiError> {
    caller.admin("change rules")?;
    same_id(&id, &rule.id)?;
    state.engine.save_rule(rule.clone())?;
    Ok(reply(StatusCode::OK, rule))
}

/// Delete a rule; orders keep the history it wrote.
#[utoipa::path(delete, path = "/api/rules/{id}", tag = "config",
    params(("id" = String, Path, description = "The rule's id")),
    responses((status = 204), (status = 404, body = super::Problem)))]
async fn delete_rule(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin("change rules")?;
    state.engine.delete_rule(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The ids a rule import saved.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Imported {
    pub rules: Vec<String>,
}

/// Import a TOML rule file (`[[rule]]` tables, as `host/rulesets/*.toml`):
/// every rule is checked first; one bad rule saves none.
#[utoipa::path(post, path = "/api/rules/import", tag = "config",
    request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = Imported), (status = 422, body = super::Problem)))]
async fn import_rules(
    AxumState(state): AxumState<State>,
    caller: Caller,
    text: String,
) -> Result<Response, ApiError> {
    caller.admin("change rules")?;
    let rules = state.engine.import_rules(&text)?;
    Ok(reply(StatusCode::OK, Imported { rules }))
}

/// Every rule as one TOML file, ready to import elsewhere.
#[utoipa::path(get, path = "/api/rules/export", tag = "config",
    responses((status = 200, content_type = "application/toml", body = String)))]
async fn export_rules(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read rules")?;
    Ok((
        [(header::CONTENT_TYPE, "application/toml")],
        state.engine.export_rules(),
    )
        .into_response())
}

// ----- templates -----------------------------------------------------------

/// Every message template: email, SMS and layouts.
#[utoipa::path(get, path = "/api/templates", tag = "config",
    responses((status = 200, body = Vec<Template>)))]
async fn list_templates(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read templates")?;
    Ok(reply(StatusCode::OK, state.engine.templates()?))
}

/// Create a template; checked by rendering it with sample data.
#[utoipa::path(post, path = "/api/templates", tag = "config", request_body = Template,
    responses((status = 201, body = Template), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn create_template(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(template): Body<Template>,
) -> Result<Response, ApiError> {
    caller.admin("change templates")?;
    if state.engine.template(&template.name)?.is_some() {
        return Err(ApiError::conflict(format!(
            "template {} exists; PUT /api/templates/{} replaces it",
            template.name, template.name
        )));
    }
    state.engine.save_template(&template)?;
    Ok(reply(StatusCode::CREATED, template))
}

/// One template.
#[utoipa::path(get, path = "/api/templates/{name}", tag = "config",
    params(("name" = String, Path, description = "The template's name")),
    responses((status = 200, body = Template), (status = 404, body = super::Problem)))]
async fn get_template(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read templates")?;
    let template = state
        .engine
        .template(&name)?
        .ok_or_else(|| ApiError::not_found(format!("template \"{name}\" does not exist")))?;
    Ok(reply(StatusCode::OK, template))
}

/// Create or replace a template; checked by rendering it with sample data.
#[utoipa::path(put, path = "/api/templates/{name}", tag = "config",
    params(("name" = String, Path, description = "The template's name")), request_body = Template,
    responses((status = 200, body = Template), (status = 422, body = super::Problem)))]
async fn put_template(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(name): Path<String>,
    Body(template): Body<Template>,
) -> Result<Response, ApiError> {
    caller.admin("change templates")?;
    same_id(&name, &template.name)?;
    state.engine.save_template(&template)?;
    Ok(reply(StatusCode::OK, template))
}

/// Delete a template no rule uses (409 when one does).
#[utoipa::path(delete, path = "/api/templates/{name}", tag = "config",
    params(("name" = String, Path, description = "The template's name")),
    responses((status = 204), (status = 404, body = super::Problem),
        (status = 409, body = super::Problem)))]
async fn delete_template(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin("change templates")?;
    state.engine.delete_template(&name)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----- channels ------------------------------------------------------------

const HIDDEN: &str = "********";

/// The channel with its secret config values hidden.
fn masked(state: &State, mut channel: Channel) -> Channel {
    let platform = state.registry.as_ref().and_then(|r| r.get(&channel.plugin));
    for (name, value) in channel.config.iter_mut() {
        let secret = platform
            .as_ref()
            .and_then(|p| p.platform.config_field(name))
            .is_none_or(|f| f.secret);
        if secret {
            *value = HIDDEN.to_owned();
        }
    }
    channel
}

/// Keeps the stored secret where the body sends back the hidden value.
fn unmask(state: &State, mut channel: Channel) -> Result<Channel, ApiError> {
    if let Some(old) = state.store.channel(channel.id.as_str())? {
        for (name, value) in channel.config.iter_mut() {
            if value == HIDDEN
                && let Some(kept) = old.config.get(name)
            {
                value.clone_from(kept);
            }
        }
    }
    Ok(channel)
}

/// Every channel; secret config values read `********`.
#[utoipa::path(get, path = "/api/channels", tag = "config",
    responses((status = 200, body = Vec<Channel>)))]
async fn list_channels(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read channels")?;
    let channels: Vec<Channel> = state
        .store
        .channels()?
        .into_iter()
        .map(|c| masked(&state, c))
        .collect();
    Ok(reply(StatusCode::OK, channels))
}

/// Create a channel: its plugin must be loaded and its required config
/// given.
#[utoipa::path(post, path = "/api/channels", tag = "config", request_body = Channel,
    responses((status = 201, body = Channel), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn create_channel(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(channel): Body<Channel>,
) -> Result<Response, ApiError> {
    caller.admin("change channels")?;
    if state.store.channel(channel.id.as_str())?.is_some() {
        return Err(ApiError::conflict(format!(
            "channel {} exists; PUT /api/channels/{} replaces it",
            channel.id, channel.id
        )));
    }
    state.engine.save_channel(&channel)?;
    Ok(reply(StatusCode::CREATED, masked(&state, channel)))
}

/// One channel; secret config values read `********`.
#[utoipa::path(get, path = "/api/channels/{id}", tag = "config",
    params(("id" = String, Path, description = "The channel's id")),
    responses((status = 200, body = Channel), (status = 404, body = super::Problem)))]
async fn get_channel(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read channels")?;
    let channel = state
        .store
        .channel(&id)?
        .ok_or_else(|| ApiError::not_found(format!("channel \"{id}\" does not exist")))?;
    Ok(reply(StatusCode::OK, masked(&state, channel)))
}

/// Where the channel's intake stands: its cursor, last success, last error
/// (a failed poll, a refused webhook signature) and what it imported.
#[utoipa::path(get, path = "/api/channels/{id}/intake", tag = "config",
    params(("id" = String, Path, description = "The channel's id")),
    responses((status = 200, body = IntakeState), (status = 404, body = super::Problem)))]
async fn get_channel_intake(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read channels")?;
    Ok(reply(StatusCode::OK, state.engine.intake_state(&id)?))
}

/// Create or replace a channel; a secret sent back as `********` keeps its
/// stored value.
#[utoipa::path(put, path = "/api/channels/{id}", tag = "config",
    params(("id" = String, Path, description = "The channel's id")), request_body = Channel,
    responses((status = 200, body = Channel), (status = 422, body = super::Problem)))]
async fn put_channel(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
    Body(channel): Body<Channel>,
) -> Result<Response, ApiError> {
    caller.admin("change channels")?;
    same_id(&id, channel.id.as_str())?;
    let channel = unmask(&state, channel)?;
    state.engine.save_channel(&channel)?;
    Ok(reply(StatusCode::OK, masked(&state, channel)))
}

/// Delete a channel that holds no orders (409 when it does).
#[utoipa::path(delete, path = "/api/channels/{id}", tag = "config",
    params(("id" = String, Path, description = "The channel's id")),
    responses((status = 204), (status = 404, body = super::Problem),
        (status = 409, body = super::Problem)))]
async fn delete_channel(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin("change channels")?;
    state.engine.delete_channel(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----- plugins -------------------------------------------------------------

/// A loaded plugin: its statuses by dimension, transitions, carriers and
/// config fields.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PluginView {
    pub file: String,
    #[serde(flatten)]
    pub platform: Platform,
}

/// A plugin file the host refused, and why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefusedPlugin {
    pub file: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginView>,
    pub refused: Vec<RefusedPlugin>,
}

fn view(plugin: &statusport_runtime::registry::LoadedPlugin) -> PluginView {
    PluginView {
        file: plugin.file.display().to_string(),
        platform: plugin.platform.clone(),
    }
}

/// The loaded plugins with their status lists, and the files refused.
#[utoipa::path(get, path = "/api/plugins", tag = "config",
    responses((status = 200, body = PluginList)))]
async fn list_plugins(
    AxumState(state): AxumState<State>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let Some(registry) = &state.registry else {
        return Ok(reply(
            StatusCode::OK,
            PluginList {
                plugins: Vec::new(),
                refused: Vec::new(),
            },
        ));
    };
    let mut plugins: Vec<PluginView> = registry.plugins().iter().map(|p| view(p)).collect();
    plugins.sort_by(|a, b| a.platform.id.cmp(&b.platform.id));
    let refused = registry
        .refusals()
        .into_iter()
        .map(|r| RefusedPlugin {
            file: r.file.display().to_string(),
            reason: r.reason,
        })
        .collect();
    Ok(reply(StatusCode::OK, PluginList { plugins, refused }))
}

/// One loaded plugin: its statuses, transitions, carriers and config fields.
#[utoipa::path(get, path = "/api/plugins/{id}", tag = "config",
    params(("id" = String, Path, description = "The plugin's id")),
    responses((status = 200, body = PluginView), (status = 404, body = super::Problem)))]
async fn get_plugin(
    AxumState(state): AxumState<State>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let plugin = state
        .registry
        .as_ref()
        .and_then(|r| r.get(&id))
        .ok_or_else(|| ApiError::not_found(format!("plugin \"{id}\" is not loaded")))?;
    Ok(reply(StatusCode::OK, view(&plugin)))
}

// ----- webhooks ------------------------------------------------------------

fn hide_secret(mut endpoint: WebhookEndpoint) -> WebhookEndpoint {
    endpoint.secret = HIDDEN.to_owned();
    endpoint
}

fn find_webhook(state: &State, id: &str) -> Result<WebhookEndpoint, ApiError> {
    state
        .engine
        .webhooks()?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found(format!("webhook \"{id}\" does not exist")))
}

/// Every webhook endpoint; secrets read `********`.
#[utoipa::path(get, path = "/api/webhooks", tag = "config",
    responses((status = 200, body = Vec<WebhookEndpoint>)))]
async fn list_webhooks(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read webhooks")?;
    let hooks: Vec<WebhookEndpoint> = state
        .engine
        .webhooks()?
        .into_iter()
        .map(hide_secret)
        .collect();
    Ok(reply(StatusCode::OK, hooks))
}

/// Register a webhook endpoint; deliveries are signed with its secret.
#[utoipa::path(post, path = "/api/webhooks", tag = "config", request_body = WebhookEndpoint,
    responses((status = 201, body = WebhookEndpoint), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn create_webhook(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(endpoint): Body<WebhookEndpoint>,
) -> Result<Response, ApiError> {
    caller.admin("change webhooks")?;
    if find_webhook(&state, &endpoint.id).is_ok() {
        return Err(ApiError::conflict(format!(
            "webhook {} exists; PUT /api/webhooks/{} replaces it",
            endpoint.id, endpoint.id
        )));
    }
    state.engine.save_webhook(&endpoint)?;
    Ok(reply(StatusCode::CREATED, hide_secret(endpoint)))
}

/// One webhook endpoint; its secret reads `********`.
#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "config",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = super::Problem)))]
async fn get_webhook(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read webhooks")?;
    Ok(reply(
        StatusCode::OK,
        hide_secret(find_webhook(&state, &id)?),
    ))
}

/// Create or replace an endpoint; a secret sent back as `********` keeps
/// the stored one.
#[utoipa::path(put, path = "/api/webhooks/{id}", tag = "config",
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = WebhookEndpoint,
    responses((status = 200, body = WebhookEndpoint), (status = 422, body = super::Problem)))]
async fn put_webhook(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
    Body(mut endpoint): Body<WebhookEndpoint>,
) -> Result<Response, ApiError> {
    caller.admin("change webhooks")?;
    same_id(&id, &endpoint.id)?;
    if endpoint.secret == HIDDEN
        && let Ok(old) = find_webhook(&state, &id)
    {
        endpoint.secret = old.secret;
    }
    state.engine.save_webhook(&endpoint)?;
    Ok(reply(StatusCode::OK, hide_secret(endpoint)))
}

/// Remove a webhook endpoint; deliveries not made yet fail, naming it.
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "config",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 204), (status = 404, body = super::Problem)))]
async fn delete_webhook(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin("change webhooks")?;
    find_webhook(&state, &id)?;
    state.engine.delete_webhook(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// How many, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

impl LimitQuery {
    fn get(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=1000).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid(
                "limit",
                format!("limit: {n} is outside 1 ..= 1000"),
            )),
        }
    }
}

/// An endpoint's deliveries, newest first, with the responses they got.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "config",
    params(("id" = String, Path, description = "The endpoint's id"), LimitQuery),
    responses((status = 200, body = Vec<JobRecord>), (status = 404, body = super::Problem)))]
async fn webhook_deliveries(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.reader("read webhooks")?;
    let Query(query) = query.map_err(query_error)?;
    find_webhook(&state, &id)?;
    let deliveries = state.store.webhook_deliveries(&id, query.get()?)?;
    Ok(reply(StatusCode::OK, deliveries))
}

// ----- number sequences ------------------------------------------------------

/// The numbering with the last number each sequence drew.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NumberingView {
    /// The first order number.
    pub order_start: u64,
    /// Written before every order number.
    pub order_prefix: String,
    /// The first invoice number.
    pub invoice_start: u64,
    /// Written before every invoice number.
    pub invoice_prefix: String,
    /// The last order number drawn (without its prefix); `null` before the
    /// first order. A new `order_start` must be above it.
    pub last_order_number: Option<u64>,
    /// The last invoice number drawn (without its prefix); `null` before
    /// the first invoice. A new `invoice_start` must be above it.
    pub last_invoice_number: Option<u64>,
}

/// The whole numbering, as `PUT /api/numbering` takes it: every field is
/// required.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberingChange {
    pub order_start: u64,
    pub order_prefix: String,
    pub invoice_start: u64,
    pub invoice_prefix: String,
}

fn numbering_view(state: &State) -> Result<NumberingView, ApiError> {
    let numbering = state.store.numbering()?;
    Ok(NumberingView {
        order_start: numbering.order_start,
        order_prefix: numbering.order_prefix,
        invoice_start: numbering.invoice_start,
        invoice_prefix: numbering.invoice_prefix,
        last_order_number: state.store.last_drawn(Sequence::Order)?,
        last_invoice_number: state.store.last_drawn(Sequence::Invoice)?,
    })
}

impl From<NumberingError> for ApiError {
    fn from(e: NumberingError) -> Self {
        match e.field() {
            Some(field) => ApiError::invalid(field, e.to_string()),
            None => ApiError::internal(e),
        }
    }
}

/// The start numbers and prefixes of order and invoice numbers, with the
/// last number each sequence drew.
#[utoipa::path(get, path = "/api/numbering", tag = "config",
    responses((status = 200, body = NumberingView), (status = 403, body = super::Problem)))]
async fn get_numbering(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.reader("read the numbering")?;
    Ok(reply(StatusCode::OK, numbering_view(&state)?))
}

/// Set the start numbers and prefixes; a new start must be above the last
/// number its sequence drew (422 naming `order_start` or `invoice_start`).
/// A `[numbering]` key in the config file replaces the value again at the
/// next start.
#[utoipa::path(put, path = "/api/numbering", tag = "config", request_body = NumberingChange,
    responses((status = 200, body = NumberingView), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn put_numbering(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(change): Body<NumberingChange>,
) -> Result<Response, ApiError> {
    caller.admin("change the numbering")?;
    let numbering = Numbering {
        order_start: change.order_start,
        order_prefix: change.order_prefix,
        invoice_start: change.invoice_start,
        invoice_prefix: change.invoice_prefix,
    };
    state.store.set_numbering(&numbering)?;
    Ok(reply(StatusCode::OK, numbering_view(&state)?))
}

// ----- tokens and audit ------------------------------------------------------

/// Every token (never its secret).
#[utoipa::path(get, path = "/api/tokens", tag = "access",
    responses((status = 200, body = Vec<Token>), (status = 403, body = super::Problem)))]
async fn list_tokens(
    AxumState(state): AxumState<State>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.admin("list tokens")?;
    let tokens: Vec<Token> = state
        .tokens
        .list()
        .into_iter()
        .map(|mut t| {
            t.hash.clear();
            t
        })
        .collect();
    Ok(reply(StatusCode::OK, tokens))
}

/// A token made now: `token` is the only copy of its secret.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: Token,
    pub token: String,
}

/// Make a token. Connector tokens name the one channel they may touch.
#[utoipa::path(post, path = "/api/tokens", tag = "access", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = super::Problem)))]
async fn create_token(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(new): Body<NewToken>,
) -> Result<Response, ApiError> {
    caller.admin("make tokens")?;
    let (mut info, token) = state.tokens.create(new)?;
    info.hash.clear();
    Ok(reply(StatusCode::CREATED, CreatedToken { info, token }))
}

/// Revoke a token; requests with it get 401 from now on.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "The token's id (the part after `sp_`)")),
    responses((status = 204), (status = 404, body = super::Problem)))]
async fn revoke_token(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin("revoke tokens")?;
    state.tokens.revoke(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Changes made through the API, newest first: who, what, and the answer.
#[utoipa::path(get, path = "/api/audit", tag = "access", params(LimitQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = super::Problem)))]
async fn audit_log(
    AxumState(state): AxumState<State>,
    caller: Caller,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.admin("read the audit log")?;
    let Query(query) = query.map_err(query_error)?;
    let entries: Vec<AuditEntry> = state.store.audit_log(query.get()?)?;
    Ok(reply(StatusCode::OK, entries))
}
