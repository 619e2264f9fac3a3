//! Orders: create or import, read, list and search, events, manual changes
//! and shipments.

use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{OrderView, OutcomeView};
use super::{ApiError, Body, Caller, State, event_id, query_error, reply, same_id};
use crate::auth::Role;
use statusport_core::domain::event::{Event, EventKind, HistoryEntry, Stock};
use statusport_core::domain::job::{JobOutcome, Receipt};
use statusport_core::domain::order::{ChannelId, Customer, Order, OrderId, ShipmentRecord};
use statusport_core::domain::platform::Dimension;
use statusport_core::domain::platform::StatusRef;
use statusport_core::domain::shipment::Package;
use statusport_core::engine::{EngineError, NewOrder, Thing};
use statusport_core::store::{ArticleReport, JobRecord, OrderQuery, Tail};

pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(get_order_by_number))
        .routes(routes!(order_history))
        .routes(routes!(order_jobs))
        .routes(routes!(post_event))
        .routes(routes!(set_status))
        .routes(routes!(cancel))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(assign))
        .routes(routes!(move_customer))
        .routes(routes!(complete_payment))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(rollback))
        .routes(routes!(add_shipment, list_shipments))
        .routes(routes!(shipment_done))
        .routes(routes!(list_customers))
        .routes(routes!(get_customer, put_customer, delete_customer))
        .routes(routes!(customer_orders))
        .routes(routes!(article_orders))
        .routes(routes!(get_stock))
        .routes(routes!(goods_received))
}

/// The order behind a path id, if the caller may see it.
fn load(state: &State, caller: &Caller, id: u64) -> Result<Order, ApiError> {
    let order = state
        .store
        .order(OrderId(id))?
        .ok_or_else(|| ApiError::not_found(format!("order {id} does not exist")))?;
    caller.order(&order)?;
    Ok(order)
}

/// Create an order, or import one a platform already has. Idempotent on
/// channel + platform order id: the same order sent again answers 200 with
/// the order as it is.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = NewOrder,
    responses(
        (status = 201, description = "created", body = OrderView),
        (status = 200, description = "the order existed already", body = OrderView),
        (status = 401, body = super::Problem), (status = 403, body = super::Problem),
        (status = 413, body = super::Problem), (status = 422, body = super::Problem),
    ))]
async fn create_order(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Body(new): Body<NewOrder>,
) -> Result<Response, ApiError> {
    if caller.role() != Role::Connector {
        caller.operator("create orders")?;
    }
    caller.channel(&new.channel)?;
    let (order, created) = state
        .engine
        .create_order(new, caller.actor(), caller.role().approves())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(reply(status, OrderView::from(order)))
}

/// Filters of an order list, as query parameters.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderListParams {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Orders per page (default `api.default_page_size`, at most
    /// `api.max_page_size`).
    pub limit: Option<usize>,
    /// `dimension:code`, e.g. `order:processing`.
    #[param(value_type = Option<String>)]
    pub status: Option<StatusRef>,
    pub channel: Option<String>,
    /// The payment dimension's status, e.g. `paid`.
    pub payment_status: Option<String>,
    pub payment_method: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Timestamp>,
    /// Created before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
    /// The order with this order number.
    pub number: Option<String>,
    /// The order with this invoice number.
    pub invoice: Option<String>,
    /// Orders of this customer.
    pub customer: Option<String>,
    /// `true`: only orders with a refund due (paid after they were
    /// cancelled); `false`: only those without.
    pub refund_due: Option<bool>,
}

impl OrderListParams {
    /// The core's query, held to a connector's channel.
    fn query(self, caller: &Caller) -> Result<OrderQuery, ApiError> {
        let mut query = OrderQuery {
            channel: self.channel,
            status: self.status,
            payment_status: self.payment_status,
            payment_method: self.payment_method,
            created_from: self.from,
            created_to: self.to,
            customer: self.customer,
            refund_due: self.refund_due,
            number: self.number,
            invoice: self.invoice,
        };
        scope_channel(caller, &mut query.channel)?;
        Ok(query)
    }
}

/// Holds a connector to its channel: the channel a query asks for must be
/// its own, and a query that names none gets it.
fn scope_channel(caller: &Caller, channel: &mut Option<String>) -> Result<(), ApiError> {
    if let Some(own) = caller.own_channel() {
        match channel {
            Some(asked) => caller.channel(asked)?,
            None => *channel = Some(own.to_owned()),
        }
    }
    Ok(())
}

/// One page of orders, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// How many orders one page may look at before it answers with what it
/// found and a cursor to go on from.
const SCAN_LIMIT: usize = 100_000;

/// List orders newest first, filtered, a page at a time; `number` or
/// `invoice` finds one order.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(OrderListParams),
    responses((status = 200, body = OrderPage), (status = 401, body = super::Problem),
        (status = 403, body = super::Problem), (status = 422, body = super::Problem)))]
async fn list_orders(
    AxumState(state): AxumState<State>,
    caller: Caller,
    query: Result<Query<OrderListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = query.map_err(query_error)?;
    let limit = page_size(&state, params.limit)?;
    let cursor = params.cursor.as_deref().map(parse_cursor).transpose()?;
    let query = params.query(&caller)?;
    let store = state.store.clone();
    let page =
        tokio::task::spawn_blocking(move || store.orders_page(&query, cursor, limit, SCAN_LIMIT))
            .await
            .map_err(ApiError::internal)??;
    Ok(reply(
        StatusCode::OK,
        OrderPage {
            orders: page.orders.into_iter().map(OrderView::from).collect(),
            next_cursor: page.next.map(hex::encode),
        },
    ))
}

/// A page cursor as this host hands them out: the hex of the last order's
/// place in the list.
fn parse_cursor(cursor: &str) -> Result<Tail, ApiError> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "cursor",
                format!(
                    "cursor: \"{cursor}\" is not a cursor of this API; pass the next_cursor of the page before"
                ),
            )
        })
}

fn page_size(state: &State, limit: Option<usize>) -> Result<usize, ApiError> {
    let max = state.config.max_page_size;
    match limit {
        None => Ok(state.config.default_page_size),
        Some(n) if n == 0 || n > max => Err(ApiError::invalid(
            "limit",
            format!("limit: {n} is outside 1 ..= {max} (api.max_page_size)"),
        )),
        Some(n) => Ok(n),
    }
}

/// Read one order.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")),
    responses((status = 200, body = OrderView), (status = 403, body = super::Problem),
        (status = 404, body = super::Problem)))]
async fn get_order(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    Ok(reply(
        StatusCode::OK,
        OrderView::from(load(&state, &caller, id)?),
    ))
}

/// Read one order by its order number (the number customers and people
/// know, e.g. `10004`); every other route takes the order's id, which this
/// answer carries as `id`.
#[utoipa::path(get, path = "/api/orders/by-number/{number}", tag = "orders",
    params(("number" = String, Path, description = "The order number")),
    responses((status = 200, body = OrderView), (status = 403, body = super::Problem),
        (status = 404, body = super::Problem)))]
async fn get_order_by_number(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let order = state.store.order_by_number(&number)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no order has the number {number} (look orders up by invoice with GET /api/orders?invoice=…)"
        ))
    })?;
    caller.order(&order)?;
    Ok(reply(StatusCode::OK, OrderView::from(order)))
}

/// An order's history: every change, who made it, by which event and rule.
#[utoipa::path(get, path = "/api/orders/{id}/history", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = super::Problem)))]
async fn order_history(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    load(&state, &caller, id)?;
    Ok(reply(StatusCode::OK, state.store.history(OrderId(id))?))
}

/// An order's outbox jobs: pushes, uploads, mail, SMS, webhooks, with
/// their attempts and receipts.
#[utoipa::path(get, path = "/api/orders/{id}/jobs", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")),
    responses((status = 200, body = Vec<JobRecord>), (status = 404, body = super::Problem)))]
async fn order_jobs(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    load(&state, &caller, id)?;
    Ok(reply(
        StatusCode::OK,
        state.store.jobs_of_order(OrderId(id))?,
    ))
}

/// An event for an order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// Makes the event idempotent: the same id is applied to the order
    /// once however often it is sent (another body under an id already
    /// applied is a 409). Use the id of what happened (the payment's id,
    /// the shipment's id); the host makes one when it is missing.
    #[serde(default)]
    pub id: Option<String>,
    pub event: EventKind,
    /// When it happened, as the sender says (RFC 3339). A status from the
    /// platform older than the platform's latest of that dimension is
    /// recorded as stale and changes nothing.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<Timestamp>,
}

/// Post an event: payment matched, shipment added or done, picked, packing
/// slip printed, delivery number, delivered quantity, expected delivery
/// date, a status the platform reports, … The rules run on it.
#[utoipa::path(post, path = "/api/orders/{id}/events", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = EventRequest,
    responses((status = 200, body = OutcomeView), (status = 403, body = super::Problem),
        (status = 404, body = super::Problem), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn post_event(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<EventRequest>,
) -> Result<Response, ApiError> {
    let what = match &request.event {
        EventKind::Approved | EventKind::Rejected => Some(Permission::Approve),
        EventKind::Pause
        | EventKind::Resume
        | EventKind::Assign { .. }
        | EventKind::MoveCustomer { .. }
        | EventKind::RefundSettled { .. }
        | EventKind::Manual => Some(Permission::Operate),
        EventKind::TimePassed | EventKind::GoodsReceived { .. } => {
            return Err(ApiError::invalid(
                "event.type",
                "event.type: time_passed and goods_received are raised by the host itself (timers, stock); post another event",
            ));
        }
        _ => None,
    };
    let occurred_at = request.occurred_at;
    apply_at(
        &state,
        &caller,
        id,
        request.id,
        request.event,
        what,
        occurred_at,
    )
    .await
}

enum Permission {
    Operate,
    Approve,
}

/// Checks the caller, then applies `kind` to order `id`.
async fn apply(
    state: &State,
    caller: &Caller,
    id: u64,
    event: Option<String>,
    kind: EventKind,
    permission: Option<Permission>,
) -> Result<Response, ApiError> {
    apply_at(state, caller, id, event, kind, permission, None).await
}

/// [`apply`] with the time the sender says the event happened.
async fn apply_at(
    state: &State,
    caller: &Caller,
    id: u64,
    event: Option<String>,
    kind: EventKind,
    permission: Option<Permission>,
    occurred_at: Option<Timestamp>,
) -> Result<Response, ApiError> {
    match permission {
        Some(Permission::Approve) => {
            caller.require(&[Role::Admin, Role::Approver], "approve or reject orders")?
        }
        Some(Permission::Operate) => caller.operator("do that to orders")?,
        None if caller.role() == Role::Connector => {}
        None => caller.operator("change orders")?,
    }
    load(state, caller, id)?;
    let name = match &kind {
        EventKind::SetStatus { .. } => "status",
        _ => "event",
    };
    let event = Event {
        id: event.unwrap_or_else(|| event_id(caller, name)),
        order: OrderId(id),
        actor: caller.actor(),
        kind,
        occurred_at,
    };
    let outcome = state.engine.apply(event).await?;
    Ok(reply(StatusCode::OK, OutcomeView::from(outcome)))
}

/// A manual status change.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub dimension: Dimension,
    pub to: String,
    #[serde(default)]
    pub id: Option<String>,
}

/// Set a status by hand; refused with 409 when the plugin allows no such
/// move.
#[utoipa::path(post, path = "/api/orders/{id}/status", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = StatusRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn set_status(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<StatusRequest>,
) -> Result<Response, ApiError> {
    let kind = EventKind::SetStatus {
        dimension: request.dimension,
        to: request.to,
    };
    apply(&state, &caller, id, request.id, kind, None).await
}

/// Cancel with or without telling the customer.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Send the cancellation mail / SMS the rules plan (default true).
    #[serde(default)]
    pub notify: Option<bool>,
    #[serde(default)]
    pub id: Option<String>,
}

/// Cancel an order: its order status goes to the plugin's cancelled status.
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = CancelRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem)))]
async fn cancel(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<CancelRequest>,
) -> Result<Response, ApiError> {
    let kind = EventKind::Cancel {
        notify: request.notify.unwrap_or(true),
    };
    apply(&state, &caller, id, request.id, kind, None).await
}

/// Optional idempotency id of a simple action.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    #[serde(default)]
    pub id: Option<String>,
}

/// The body of an action whose body may be left out.
fn action(body: Option<Body<ActionRequest>>) -> Option<String> {
    body.and_then(|Body(b)| b.id)
}

/// A route that applies one event with no fields of its own; the body is
/// optional and may carry only an idempotency `id`.
macro_rules! action_route {
    ($name:ident, $path:literal, $doc:literal, $kind:expr, $permission:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "orders",
            params(("id" = u64, Path, description = "The order's id")),
            request_body(content = Option<ActionRequest>),
            responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem), (status = 403, body = super::Problem),
                (status = 404, body = super::Problem), (status = 422, body = super::Problem)))]
        async fn $name(
            AxumState(state): AxumState<State>,
            caller: Caller,
            Path(id): Path<u64>,
            body: Option<Body<ActionRequest>>,
        ) -> Result<Response, ApiError> {
            apply(&state, &caller, id, action(body), $kind, Some($permission)).await
        }
    };
}

action_route!(
    pause,
    "/api/orders/{id}/pause",
    "Pause an order: no rule fires for it until it is resumed.",
    EventKind::Pause,
    Permission::Operate
);
action_route!(
    resume,
    "/api/orders/{id}/resume",
    "Resume a paused order.",
    EventKind::Resume,
    Permission::Operate
);
action_route!(
    approve,
    "/api/orders/{id}/approve",
    "Approve an order waiting for approval (approvers and admins).",
    EventKind::Approved,
    Permission::Approve
);
action_route!(
    reject,
    "/api/orders/{id}/reject",
    "Reject an order waiting for approval (approvers and admins).",
    EventKind::Rejected,
    Permission::Approve
);

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The operator; `null` unassigns.
    pub to: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// Assign an order to an operator.
#[utoipa::path(post, path = "/api/orders/{id}/assign", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = AssignRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem), (status = 422, body = super::Problem)))]
async fn assign(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<AssignRequest>,
) -> Result<Response, ApiError> {
    let kind = EventKind::Assign { to: request.to };
    apply(
        &state,
        &caller,
        id,
        request.id,
        kind,
        Some(Permission::Operate),
    )
    .await
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    pub customer: String,
    #[serde(default)]
    pub id: Option<String>,
}

/// Move an order to another customer.
#[utoipa::path(post, path = "/api/orders/{id}/customer", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = CustomerRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem), (status = 422, body = super::Problem,
        description = "The customer has no record")))]
async fn move_customer(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<CustomerRequest>,
) -> Result<Response, ApiError> {
    // Mails follow the order's customer: moving it to one without a record
    // would leave every later message without an address.
    let order = load(&state, &caller, id)?;
    if state
        .store
        .customer(order.channel.as_str(), &request.customer)?
        .is_none()
    {
        return Err(ApiError::invalid(
            "customer",
            format!(
                "customer \"{0}\" of channel {1} does not exist; create it first with PUT /api/customers/{0}?channel={1}",
                request.customer, order.channel
            ),
        ));
    }
    let kind = EventKind::MoveCustomer {
        customer: request.customer,
    };
    apply(
        &state,
        &caller,
        id,
        request.id,
        kind,
        Some(Permission::Operate),
    )
    .await
}

#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The payment's reference (bank statement line, provider id).
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// Complete an order whose payment callback was lost: the payment counts
/// as matched, and the rules run as if the callback had come.
#[utoipa::path(post, path = "/api/orders/{id}/complete-payment", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = PaymentRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem), (status = 403, body = super::Problem)))]
async fn complete_payment(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<PaymentRequest>,
) -> Result<Response, ApiError> {
    let reference = Some(
        request
            .reference
            .unwrap_or_else(|| format!("completed by {}", caller.owner())),
    );
    let kind = EventKind::PaymentMatched { reference };
    apply(
        &state,
        &caller,
        id,
        request.id,
        kind,
        Some(Permission::Operate),
    )
    .await
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub dimension: Dimension,
    /// Run the rules on the restored status (default false).
    #[serde(default)]
    pub rerun_rules: bool,
}

/// Roll a dimension back to the status before its last change.
#[utoipa::path(post, path = "/api/orders/{id}/rollback", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = RollbackRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem)))]
async fn rollback(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<RollbackRequest>,
) -> Result<Response, ApiError> {
    caller.operator("roll orders back")?;
    load(&state, &caller, id)?;
    let outcome = state
        .engine
        .rollback(
            OrderId(id),
            request.dimension,
            caller.actor(),
            request.rerun_rules,
        )
        .await?;
    Ok(reply(StatusCode::OK, OutcomeView::from(outcome)))
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentRequest {
    /// Your id of the shipment; adding the same id twice is refused.
    pub shipment_id: String,
    pub packages: Vec<Package>,
    /// Already handed to the carrier.
    #[serde(default)]
    pub done: bool,
}

/// Add a shipment with its packages and tracking numbers.
#[utoipa::path(post, path = "/api/orders/{id}/shipments", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")), request_body = ShipmentRequest,
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem), (status = 422, body = super::Problem)))]
async fn add_shipment(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
    Body(request): Body<ShipmentRequest>,
) -> Result<Response, ApiError> {
    let event = format!("shipment:{id}:{}", request.shipment_id);
    let kind = EventKind::ShipmentAdded {
        shipment_id: request.shipment_id,
        packages: request.packages,
        done: request.done,
    };
    apply(&state, &caller, id, Some(event), kind, None).await
}

/// Mark a shipment as handed to the carrier.
#[utoipa::path(post, path = "/api/orders/{id}/shipments/{shipment}/done", tag = "orders",
    params(("id" = u64, Path, description = "The order's id"),
        ("shipment" = String, Path, description = "The shipment's id")),
    responses((status = 200, body = OutcomeView), (status = 409, body = super::Problem), (status = 422, body = super::Problem)))]
async fn shipment_done(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path((id, shipment)): Path<(u64, String)>,
) -> Result<Response, ApiError> {
    let event = format!("shipment-done:{id}:{shipment}");
    let kind = EventKind::ShipmentDone {
        shipment_id: shipment,
    };
    apply(&state, &caller, id, Some(event), kind, None).await
}

/// A shipment with what the platform answered to its upload.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ShipmentView {
    pub shipment: ShipmentRecord,
    /// `pending`, `failed`, `delivered`, `dropped`, or `none` when no upload
    /// was planned (a plugin without shipment upload, a rule without it).
    pub upload: String,
    pub receipts: Vec<Receipt>,
}

/// An order's shipments with their platform receipts.
#[utoipa::path(get, path = "/api/orders/{id}/shipments", tag = "orders",
    params(("id" = u64, Path, description = "The order's id")),
    responses((status = 200, body = Vec<ShipmentView>), (status = 404, body = super::Problem)))]
async fn list_shipments(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let order = load(&state, &caller, id)?;
    let jobs = state.store.jobs_of_order(order.id)?;
    let views: Vec<ShipmentView> = order
        .shipments
        .into_iter()
        .map(|shipment| {
            let mut upload = "none".to_owned();
            let mut receipts = Vec::new();
            for record in &jobs {
                let statusport_core::domain::event::JobKind::UploadShipment { shipment_id } =
                    &record.job.kind
                else {
                    continue;
                };
                if *shipment_id != shipment.id {
                    continue;
                }
                upload = match (&record.state, &record.done) {
                    (_, Some(done)) => match &done.outcome {
                        JobOutcome::Delivered { receipt } => {
                            receipts.push(receipt.clone());
                            "delivered".into()
                        }
                        JobOutcome::Dropped { .. } => "dropped".into(),
                    },
                    (Some(s), None) => format!("{:?}", s.status).to_lowercase(),
                    (None, None) => "pending".into(),
                };
            }
            ShipmentView {
                shipment,
                upload,
                receipts,
            }
        })
        .collect();
    Ok(reply(StatusCode::OK, views))
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// Customers per page (default `api.default_page_size`, at most
    /// `api.max_page_size`).
    pub limit: Option<usize>,
    /// Only this channel's customers (a connector sees only its own).
    pub channel: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List customers by channel and id, a page at a time.
#[utoipa::path(get, path = "/api/customers", tag = "orders", params(CustomerQuery),
    responses((status = 200, body = CustomerPage), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn list_customers(
    AxumState(state): AxumState<State>,
    caller: Caller,
    query: Result<Query<CustomerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if caller.role() != Role::Connector {
        caller.reader("list customers")?;
    }
    let Query(mut query) = query.map_err(query_error)?;
    scope_channel(&caller, &mut query.channel)?;
    let limit = page_size(&state, query.limit)?;
    // The cursor is the last customer's channel and id: `channel/id`.
    let after = match query.cursor.as_deref() {
        Some(cursor) => Some(
            cursor
                .split_once('/')
                .map(|(c, id)| (c.to_owned(), id.to_owned()))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "cursor",
                        "cursor: pass the next_cursor of the page before as it is (channel/id)",
                    )
                })?,
        ),
        None => None,
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || -> Result<CustomerPage, ApiError> {
        let mut customers: Vec<Customer> = Vec::with_capacity(limit);
        let mut rest = store.customers_after(
            query.channel.as_deref(),
            after.as_ref().map(|(c, id)| (c.as_str(), id.as_str())),
        );
        for customer in rest.by_ref().take(limit) {
            customers.push(customer?);
        }
        let more = rest.next().is_some();
        Ok(CustomerPage {
            next_cursor: customers.last().filter(|_| more).map(|c| {
                let channel = c
                    .channel
                    .as_ref()
                    .map(ChannelId::as_str)
                    .unwrap_or_default();
                format!("{channel}/{}", c.id)
            }),
            customers,
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(reply(StatusCode::OK, page))
}

/// Which channel's customer a route means.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerChannel {
    /// The channel the customer belongs to: customer ids are per channel.
    /// Needed only when several channels have a customer with this id (a
    /// connector's token names its own).
    pub channel: Option<String>,
}

/// The channel a customer id is meant in: the one asked for (a connector
/// only its own), the connector's own, or what the engine finds.
fn customer_channel(
    state: &State,
    caller: &Caller,
    customer: &str,
    asked: Option<&str>,
    creating: bool,
) -> Result<ChannelId, ApiError> {
    if let Some(id) = asked {
        caller.channel(id)?;
    }
    let named = asked.or(caller.own_channel());
    Ok(state.engine.customer_channel(customer, named, creating)?)
}

/// A customer: the name, email and phone messages go to.
#[utoipa::path(get, path = "/api/customers/{customer}", tag = "orders",
    params(("customer" = String, Path, description = "The customer's id"), CustomerChannel),
    responses((status = 200, body = Customer), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn get_customer(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(customer): Path<String>,
    at: Result<Query<CustomerChannel>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if caller.role() != Role::Connector {
        caller.reader("read customers")?;
    }
    let Query(at) = at.map_err(query_error)?;
    let channel = customer_channel(&state, &caller, &customer, at.channel.as_deref(), false)?;
    let found = state
        .store
        .customer(channel.as_str(), &customer)?
        .ok_or_else(|| EngineError::not_found(Thing::Customer, &customer))?;
    Ok(reply(StatusCode::OK, found))
}

/// Create or update a customer of one channel (shops and ERPs send theirs
/// with the orders).
#[utoipa::path(put, path = "/api/customers/{customer}", tag = "orders",
    params(("customer" = String, Path, description = "The customer's id"), CustomerChannel),
    request_body = Customer,
    responses((status = 200, body = Customer), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn put_customer(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(id): Path<String>,
    at: Result<Query<CustomerChannel>, axum::extract::rejection::QueryRejection>,
    Body(customer): Body<Customer>,
) -> Result<Response, ApiError> {
    if caller.role() != Role::Connector {
        caller.operator("change customers")?;
    }
    let Query(at) = at.map_err(query_error)?;
    same_id(&id, &customer.id)?;
    let asked = match (at.channel.as_deref(), customer.channel.as_ref()) {
        (Some(query), Some(body)) if query != body.as_str() => {
            return Err(ApiError::invalid(
                "channel",
                format!("channel: the query says {query}, the body {body}; they must agree"),
            ));
        }
        (Some(query), _) => Some(query.to_owned()),
        (None, body) => body.map(ToString::to_string),
    };
    let channel = customer_channel(&state, &caller, &id, asked.as_deref(), true)?;
    if let Some(email) = &customer.email
        && email.parse::<lettre::Address>().is_err()
    {
        return Err(ApiError::invalid(
            "email",
            format!("email: \"{email}\" is not an email address"),
        ));
    }
    Ok(reply(
        StatusCode::OK,
        state.engine.save_customer(&channel, &customer)?,
    ))
}

/// Delete a customer that no order names (409 while one does).
#[utoipa::path(delete, path = "/api/customers/{customer}", tag = "orders",
    params(("customer" = String, Path, description = "The customer's id"), CustomerChannel),
    responses((status = 204), (status = 404, body = super::Problem),
        (status = 409, body = super::Problem), (status = 422, body = super::Problem)))]
async fn delete_customer(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(customer): Path<String>,
    at: Result<Query<CustomerChannel>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.operator("delete customers")?;
    let Query(at) = at.map_err(query_error)?;
    let channel = customer_channel(&state, &caller, &customer, at.channel.as_deref(), false)?;
    state.engine.delete_customer(&channel, &customer)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A customer's orders, newest first.
#[utoipa::path(get, path = "/api/customers/{customer}/orders", tag = "orders",
    params(("customer" = String, Path, description = "The customer's id"), CustomerChannel),
    responses((status = 200, body = Vec<OrderView>), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn customer_orders(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(customer): Path<String>,
    at: Result<Query<CustomerChannel>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if caller.role() != Role::Connector {
        caller.reader("read customers")?;
    }
    let Query(at) = at.map_err(query_error)?;
    let channel = customer_channel(&state, &caller, &customer, at.channel.as_deref(), false)?;
    let mut orders = Vec::new();
    for id in state
        .store
        .orders_of_customer(channel.as_str(), &customer)?
    {
        if let Some(order) = state.store.order(id)?
            && caller.order(&order).is_ok()
        {
            orders.push(OrderView::from(order));
        }
    }
    Ok(reply(StatusCode::OK, orders))
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// Match every article number starting with the given one.
    #[serde(default)]
    pub prefix: bool,
    /// Created at or after (RFC 3339; default: the beginning).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Timestamp>,
    /// Created before (RFC 3339; default: now).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
}

/// Orders holding an article (or an article number prefix) in a time
/// range, with quantity and amount totals.
#[utoipa::path(get, path = "/api/articles/{article}/orders", tag = "orders",
    params(("article" = String, Path, description = "The article number or its prefix"),
        ArticleQuery),
    responses((status = 200, body = ArticleReport), (status = 422, body = super::Problem)))]
async fn article_orders(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(article): Path<String>,
    query: Result<Query<ArticleQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let from = query.from.unwrap_or(Timestamp::UNIX_EPOCH);
    let to = query.to.unwrap_or_else(Timestamp::now);
    if from >= to {
        return Err(ApiError::invalid("from", "from: must be before to"));
    }
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || {
        store.article_report(&article, query.prefix, from, to, |o| {
            caller.order(o).is_ok()
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(reply(StatusCode::OK, report))
}

/// An article's stock level.
#[utoipa::path(get, path = "/api/stock/{article}", tag = "orders",
    params(("article" = String, Path, description = "The article number")),
    responses((status = 200, body = Stock), (status = 403, body = super::Problem)))]
async fn get_stock(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(article): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader("read stock")?;
    Ok(reply(StatusCode::OK, state.engine.stock(&article)?))
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodsReceipt {
    /// The goods receipt's id (the delivery note): the same id is booked
    /// once.
    pub id: String,
    /// How many arrived; more than zero.
    pub quantity: i64,
}

/// What a goods receipt did.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GoodsBooked {
    pub stock: Stock,
    /// Orders holding the article that heard of it (when the stock was
    /// empty before): their `goods_received` rules ran.
    pub orders: Vec<OrderId>,
}

/// Book goods received for an article. When its stock was empty, every
/// order holding it gets a `goods_received` event.
#[utoipa::path(post, path = "/api/stock/{article}/receipts", tag = "orders",
    params(("article" = String, Path, description = "The article number")),
    request_body = GoodsReceipt,
    responses((status = 200, body = GoodsBooked), (status = 403, body = super::Problem),
        (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)))]
async fn goods_received(
    AxumState(state): AxumState<State>,
    caller: Caller,
    Path(article): Path<String>,
    Body(receipt): Body<GoodsReceipt>,
) -> Result<Response, ApiError> {
    caller.operator("book goods receipts")?;
    if receipt.id.trim().is_empty() || receipt.id.len() > 200 {
        return Err(ApiError::invalid("id", "id: must be 1–200 characters"));
    }
    if receipt.quantity <= 0 {
        return Err(ApiError::invalid(
            "quantity",
            format!("quantity: must be more than 0, not {}", receipt.quantity),
        ));
    }
    let orders = state
        .engine
        .goods_received(&article, receipt.quantity, &receipt.id)
        .await?;
    let stock = state.engine.stock(&article)?;
    Ok(reply(StatusCode::OK, GoodsBooked { stock, orders }))
}
