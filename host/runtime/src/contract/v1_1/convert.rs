//! Between contract 1.1's `intake` types and the core's. A plugin's answer
//! that does not make sense (an unknown currency, a time that is not RFC
//! 3339) is refused here, naming the order and the field.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::intake as wit;
use crate::contract::v1::convert::dimension_of;
use statusport_core::domain::intake::{
    Batch, Inbound, IncomingCustomer, IncomingLine, IncomingOrder, StatusChange,
};
use statusport_core::domain::money::Money;

/// A pull's batch in the core's terms.
pub fn batch(batch: wit::Batch) -> Result<Batch, String> {
    Ok(Batch {
        items: batch
            .items
            .into_iter()
            .map(inbound)
            .collect::<Result<_, _>>()?,
        next_cursor: batch.next_cursor,
        more: batch.more,
    })
}

/// One incoming item in the core's terms.
pub fn inbound(item: wit::Inbound) -> Result<Inbound, String> {
    Ok(match item {
        wit::Inbound::Order(o) => Inbound::Order(order(o)?),
        wit::Inbound::StatusChange(c) => Inbound::StatusChange(StatusChange {
            changed_at: time(&c.changed_at)
                .map_err(|e| format!("status change {}: changed-at {e}", c.change_id))?,
            change_id: c.change_id,
            platform_order_id: c.platform_order_id,
            dimension: dimension_of(c.dimension),
            code: c.code,
        }),
    })
}

fn order(o: wit::IncomingOrder) -> Result<IncomingOrder, String> {
    let id = o.platform_order_id.clone();
    let field = |name: &str, e: String| format!("order {id}: {name} {e}");
    let mut statuses = BTreeMap::new();
    for s in o.statuses {
        statuses.insert(dimension_of(s.dimension), s.code);
    }
    Ok(IncomingOrder {
        customer: IncomingCustomer {
            id: o.customer.id,
            name: o.customer.name,
            email: o.customer.email,
            phone: o.customer.phone,
            address: o.customer.address,
        },
        lines: o
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(IncomingLine {
                    unit_price: money(l.unit_price)
                        .map_err(|e| field(&format!("lines[{i}].unit-price"), e))?,
                    line_id: l.line_id,
                    article: l.article,
                    name: l.name,
                    quantity: l.quantity,
                })
            })
            .collect::<Result<_, String>>()?,
        shipping: o
            .shipping
            .map(money)
            .transpose()
            .map_err(|e| field("shipping", e))?,
        payment_method: o.payment_method,
        statuses,
        created_at: time(&o.created_at).map_err(|e| field("created-at", e))?,
        updated_at: time(&o.updated_at).map_err(|e| field("updated-at", e))?,
        platform_order_id: o.platform_order_id,
    })
}

fn money(m: wit::Money) -> Result<Money, String> {
    let currency = m
        .currency
        .parse()
        .map_err(|e| format!("\"{}\": {e}", m.currency))?;
    Ok(Money::new(m.minor, currency))
}

fn time(text: &str) -> Result<Timestamp, String> {
    text.parse()
        .map_err(|e| format!("\"{text}\" is not an RFC 3339 time ({e})"))
}
