//! Order exports as CSV, XML or JSON, streamed: the host holds one chunk
//! at a time, however many orders match.

use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::OrderView;
use super::{ApiError, Caller, State, query_error};
use statusport_core::domain::order::Order;
use statusport_core::domain::platform::Dimension;
use statusport_core::store::OrderQuery;

pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(export_orders))
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Xml,
    Json,
}

#[derive(Clone, Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv`, `xml` or `json`.
    #[param(inline)]
    pub format: Format,
    /// `dimension:code`, e.g. `order:processing`.
    pub status: Option<String>,
    pub channel: Option<String>,
    pub payment_status: Option<String>,
    pub payment_method: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Created before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    pub customer: Option<String>,
    /// `true`: only orders with a refund due; `false`: only those without.
    pub refund_due: Option<bool>,
    /// The order with this order number.
    pub number: Option<String>,
    /// The order with this invoice number.
    pub invoice: Option<String>,
}

impl ExportQuery {
    fn filter(&self) -> Result<OrderQuery, ApiError> {
        let time = |name: &str, value: &Option<String>| -> Result<_, ApiError> {
            value
                .as_deref()
                .map(|v| {
                    v.parse::<jiff::Timestamp>().map_err(|e| {
                        ApiError::invalid(
                            name,
                            format!("{name}: \"{v}\" is not an RFC 3339 time ({e}), e.g. 2026-11-01T00:00:00Z"),
                        )
                    })
                })
                .transpose()
        };
        let status = self
            .status
            .as_deref()
            .map(|s| {
                s.parse()
                    .map_err(|e: String| ApiError::invalid("status", format!("status: {e}")))
            })
            .transpose()?;
        Ok(OrderQuery {
            status,
            channel: self.channel.clone(),
            payment_status: self.payment_status.clone(),
            payment_method: self.payment_method.clone(),
            created_from: time("from", &self.from)?,
            created_to: time("to", &self.to)?,
            customer: self.customer.clone(),
            refund_due: self.refund_due,
            number: self.number.clone(),
            invoice: self.invoice.clone(),
        })
    }
}

/// Export the orders a filter matches, newest first, streamed.
#[utoipa::path(get, path = "/api/exports/orders", tag = "exports", params(ExportQuery),
    responses(
        (status = 200, description = "the orders", content(
            (String = "text/csv"), (String = "application/xml"), (Vec<OrderView> = "application/json"))),
        (status = 403, body = super::Problem), (status = 422, body = super::Problem)))]
async fn export_orders(
    AxumState(state): AxumState<State>,
    caller: Caller,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.reader("export orders")?;
    let Query(query) = query.map_err(query_error)?;
    let filter = query.filter()?;
    let format = query.format;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut writer = Writer::new(format);
        let send = |bytes: Vec<u8>| tx.blocking_send(Ok(Bytes::from(bytes))).is_ok();
        if !send(writer.start()) {
            return;
        }
        let orders = match store.orders_matching(&filter, None) {
            Ok(orders) => orders,
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        for order in orders {
            let order = match order {
                Ok((_, o)) => o,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            writer.order(order);
            if writer.buffer.len() >= 64 * 1024 && !send(std::mem::take(&mut writer.buffer)) {
                return;
            }
        }
        let end = writer.end();
        send(end);
    });
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xml => ("application/xml", "xml"),
        Format::Json => ("application/json", "json"),
    };
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"orders.{extension}\""),
            ),
        ],
        body,
    )
        .into_response())
}

const CSV_HEADER: &[&str] = &[
    "id",
    "number",
    "channel",
    "platform_order_id",
    "customer",
    "created",
    "order_status",
    "payment_status",
    "delivery_status",
    "payment_method",
    "total",
    "invoice_number",
    "tracking_numbers",
];

/// Writes orders in one format into a buffer that is sent in chunks.
struct Writer {
    format: Format,
    buffer: Vec<u8>,
    first: bool,
}

impl Writer {
    fn new(format: Format) -> Writer {
        Writer {
            format,
            buffer: Vec::new(),
            first: true,
        }
    }

    fn start(&mut self) -> Vec<u8> {
        match self.format {
            Format::Csv => csv_row(CSV_HEADER.iter().map(|s| s.to_string()).collect()),
            Format::Xml => {
                let mut xml = quick_xml::Writer::new(Vec::new());
                let _ = xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
                let _ = xml.write_event(Event::Start(BytesStart::new("orders")));
                xml.into_inner()
            }
            Format::Json => b"[".to_vec(),
        }
    }

    fn order(&mut self, order: Order) {
        match self.format {
            Format::Csv => {
                let status = |d| order.status(d).unwrap_or_default().to_owned();
                let row = csv_row(vec![
                    order.id.to_string(),
                    order.number.clone(),
                    order.channel.to_string(),
                    order.platform_order_id.clone(),
                    order.customer.clone(),
                    order.created.to_string(),
                    status(Dimension::Order),
                    status(Dimension::Payment),
                    status(Dimension::Delivery),
                    order.payment_method.clone(),
                    order.total().map(|t| t.to_string()).unwrap_or_default(),
                    order.invoice_number.clone().unwrap_or_default(),
                    trackings(&order).join(" "),
                ]);
                self.buffer.extend_from_slice(&row);
            }
            Format::Xml => self.buffer.extend_from_slice(&xml_order(&order)),
            Format::Json => {
                if !self.first {
                    self.buffer.push(b',');
                }
                if serde_json::to_writer(&mut self.buffer, &OrderView::from(order)).is_err() {
                    self.buffer.extend_from_slice(b"null");
                }
            }
        }
        self.first = false;
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buffer);
        match self.format {
            Format::Csv => {}
            Format::Xml => out.extend_from_slice(b"</orders>\n"),
            Format::Json => out.extend_from_slice(b"]\n"),
        }
        out
    }
}

fn trackings(order: &Order) -> Vec<String> {
    order
        .shipments
        .iter()
        .flat_map(|s| s.packages.iter().map(|p| p.tracking_number.clone()))
        .collect()
}

fn csv_row(fields: Vec<String>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&fields);
    writer.into_inner().unwrap_or_default()
}

fn xml_order(order: &Order) -> Vec<u8> {
    let mut xml = quick_xml::Writer::new(Vec::new());
    let id = order.id.to_string();
    let total = order.total().map(|t| t.to_string()).unwrap_or_default();
    let created = order.created.to_string();
    let mut start = BytesStart::new("order");
    start.push_attribute(("id", id.as_str()));
    start.push_attribute(("number", order.number.as_str()));
    let _ = xml.write_event(Event::Start(start));
    let text = |xml: &mut quick_xml::Writer<Vec<u8>>, name: &str, value: &str| {
        let _ = xml.write_event(Event::Start(BytesStart::new(name)));
        let _ = xml.write_event(Event::Text(BytesText::new(value)));
        let _ = xml.write_event(Event::End(BytesEnd::new(name)));
    };
    text(&mut xml, "channel", order.channel.as_str());
    text(&mut xml, "platform_order_id", &order.platform_order_id);
    text(&mut xml, "customer", &order.customer);
    text(&mut xml, "created", &created);
    text(&mut xml, "payment_method", &order.payment_method);
    text(&mut xml, "total", &total);
    if let Some(invoice) = &order.invoice_number {
        text(&mut xml, "invoice_number", invoice);
    }
    let _ = xml.write_event(Event::Start(BytesStart::new("statuses")));
    for (dimension, value) in &order.statuses {
        let mut s = BytesStart::new("status");
        s.push_attribute(("dimension", dimension.as_str()));
        s.push_attribute(("code", value.code.as_str()));
        let _ = xml.write_event(Event::Empty(s));
    }
    let _ = xml.write_event(Event::End(BytesEnd::new("statuses")));
    let _ = xml.write_event(Event::Start(BytesStart::new("lines")));
    for line in &order.lines {
        let quantity = line.quantity.to_string();
        let price = line.unit_price.to_string();
        let mut l = BytesStart::new("line");
        l.push_attribute(("article", line.article.as_str()));
        l.push_attribute(("quantity", quantity.as_str()));
        l.push_attribute(("unit_price", price.as_str()));
        let _ = xml.write_event(Event::Empty(l));
    }
    let _ = xml.write_event(Event::End(BytesEnd::new("lines")));
    let _ = xml.write_event(Event::Start(BytesStart::new("trackings")));
    for tracking in trackings(order) {
        text(&mut xml, "tracking_number", &tracking);
    }
    let _ = xml.write_event(Event::End(BytesEnd::new("trackings")));
    let _ = xml.write_event(Event::End(BytesEnd::new("order")));
    let mut out = xml.into_inner();
    out.push(b'\n');
    out
}
