//! Key layout of the one sled tree that holds everything transactional.
//!
//! Every key starts with a short space name and a `/`. Parts after it are
//! separated by a NUL byte (ids never contain one); numbers are big-endian so
//! that byte order is numeric order. "Newest first" indexes store the
//! creation time inverted (`u64::MAX - millis`).

use jiff::Timestamp;

use crate::domain::order::{Order, OrderId};
use crate::domain::platform::Dimension;

pub const VERSION: &[u8] = b"meta/version";
pub const NUMBERING: &[u8] = b"meta/numbering";
pub const ORDER_SEQ: &[u8] = b"seq/order";
pub const INVOICE_SEQ: &[u8] = b"seq/invoice";

pub const ORDER: &[u8] = b"o/";
pub const NEWEST: &[u8] = b"ot/";
pub const BY_NUMBER: &[u8] = b"on/";
pub const BY_INVOICE: &[u8] = b"in/";
pub const BY_PLATFORM: &[u8] = b"po/";
pub const BY_CUSTOMER: &[u8] = b"co/";
pub const BY_STATUS: &[u8] = b"cs/";
pub const BY_ARTICLE: &[u8] = b"ad/";
pub const HISTORY: &[u8] = b"h/";
pub const EVENT: &[u8] = b"e/";
pub const JOB: &[u8] = b"j/";
pub const CHANNEL: &[u8] = b"ch/";
pub const CUSTOMER: &[u8] = b"cu/";
pub const RULE: &[u8] = b"r/";
pub const TEMPLATE: &[u8] = b"t/";
pub const STOCK: &[u8] = b"st/";
pub const BULK: &[u8] = b"b/";
/// Active outbox jobs (waiting or failed): job id → its state.
pub const JOB_STATE: &[u8] = b"jq/";
/// Finished outbox jobs: job id → how they ended.
pub const JOB_DONE: &[u8] = b"jd/";
/// Order → its jobs.
pub const ORDER_JOBS: &[u8] = b"oj/";
/// Plugin state per channel: channel, key → value.
pub const PLUGIN_STATE: &[u8] = b"ps/";
pub const WEBHOOK: &[u8] = b"wh/";
/// API tokens by id (the secret only as its SHA-256).
pub const TOKEN: &[u8] = b"tk/";
/// The audit log: sequence number → who did what through the API.
pub const AUDIT: &[u8] = b"au/";
/// Webhook endpoint → its deliveries (jobs).
pub const WEBHOOK_DELIVERY: &[u8] = b"wd/";
/// Orders with a refund due, newest first.
pub const REFUND_DUE: &[u8] = b"rd/";
/// Goods receipts booked, by receipt id.
pub const GOODS_RECEIPT: &[u8] = b"gr/";
/// Goods receipts whose waiting orders are still to be woken, by receipt id.
pub const WAKE: &[u8] = b"wk/";
/// `ik/<channel>`: the channel's intake state (cursor, last success, last
/// error).
pub const INTAKE: &[u8] = b"ik/";

/// `space` + parts joined by NUL.
pub fn key(space: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = space.to_vec();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(part);
    }
    k
}

pub fn order(id: OrderId) -> Vec<u8> {
    key(ORDER, &[&id.0.to_be_bytes()])
}

pub fn history(id: OrderId, seq: u64) -> Vec<u8> {
    key(HISTORY, &[&id.0.to_be_bytes(), &seq.to_be_bytes()])
}

pub fn history_prefix(id: OrderId) -> Vec<u8> {
    key(HISTORY, &[&id.0.to_be_bytes()])
}

/// An applied event: event ids are unique per order.
pub fn event(order: OrderId, id: &str) -> Vec<u8> {
    key(EVENT, &[&order.0.to_be_bytes(), id.as_bytes()])
}

pub fn job(id: u64) -> Vec<u8> {
    key(JOB, &[&id.to_be_bytes()])
}

pub fn job_state(id: u64) -> Vec<u8> {
    key(JOB_STATE, &[&id.to_be_bytes()])
}

pub fn job_done(id: u64) -> Vec<u8> {
    key(JOB_DONE, &[&id.to_be_bytes()])
}

pub fn order_job(order: OrderId, job: u64) -> Vec<u8> {
    key(ORDER_JOBS, &[&order.0.to_be_bytes(), &job.to_be_bytes()])
}

pub fn order_jobs_prefix(order: OrderId) -> Vec<u8> {
    key(ORDER_JOBS, &[&order.0.to_be_bytes()])
}

pub fn webhook_delivery(endpoint: &str, job: u64) -> Vec<u8> {
    key(WEBHOOK_DELIVERY, &[endpoint.as_bytes(), &job.to_be_bytes()])
}

pub fn webhook_deliveries_prefix(endpoint: &str) -> Vec<u8> {
    let mut k = key(WEBHOOK_DELIVERY, &[endpoint.as_bytes()]);
    k.push(0);
    k
}

pub fn plugin_state(channel: &str, name: &str) -> Vec<u8> {
    key(PLUGIN_STATE, &[channel.as_bytes(), name.as_bytes()])
}

pub fn plugin_state_prefix(channel: &str) -> Vec<u8> {
    let mut k = key(PLUGIN_STATE, &[channel.as_bytes()]);
    k.push(0);
    k
}

pub fn named(space: &[u8], name: &str) -> Vec<u8> {
    key(space, &[name.as_bytes()])
}

pub fn platform(channel: &str, platform_order_id: &str) -> Vec<u8> {
    key(
        BY_PLATFORM,
        &[channel.as_bytes(), platform_order_id.as_bytes()],
    )
}

pub fn inverted(at: Timestamp) -> [u8; 8] {
    let millis = u64::try_from(at.as_millisecond()).unwrap_or(0);
    (u64::MAX - millis).to_be_bytes()
}

/// Bytes of a "newest first" tail: inverted creation time, order id.
pub const TAIL_LEN: usize = 16;

/// The order id of a tail.
pub fn id_of_tail(tail: &[u8; TAIL_LEN]) -> OrderId {
    let mut id = [0; 8];
    id.copy_from_slice(&tail[8..]);
    OrderId(u64::from_be_bytes(id))
}

/// The first key after every key that starts with `prefix`; none when the
/// prefix is all 0xFF.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The time and id at the end of a "newest first" index key.
pub fn newest_tail(at: Timestamp, id: OrderId) -> Vec<u8> {
    let mut t = inverted(at).to_vec();
    t.extend_from_slice(&id.0.to_be_bytes());
    t
}

/// The order id at the end of an index key.
pub fn id_at_end(k: &[u8]) -> Option<OrderId> {
    let tail: [u8; 8] = k.get(k.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(OrderId(u64::from_be_bytes(tail)))
}

pub fn status_prefix(channel: &str, dimension: Dimension, status: &str) -> Vec<u8> {
    let mut k = key(
        BY_STATUS,
        &[
            channel.as_bytes(),
            dimension.as_str().as_bytes(),
            status.as_bytes(),
        ],
    );
    k.push(0);
    k
}

/// A customer record: customer ids are per channel.
pub fn customer(channel: &str, id: &str) -> Vec<u8> {
    key(CUSTOMER, &[channel.as_bytes(), id.as_bytes()])
}

/// The index of a channel's customer's orders.
pub fn customer_prefix(channel: &str, customer: &str) -> Vec<u8> {
    let mut k = key(BY_CUSTOMER, &[channel.as_bytes(), customer.as_bytes()]);
    k.push(0);
    k
}

/// Every index entry that points at `order`: derived from the order alone,
/// so the old entries of a change are those of the old order.
pub fn index_entries(order: &Order) -> Vec<Vec<u8>> {
    let tail = newest_tail(order.created, order.id);
    let mut keys = vec![
        key(NEWEST, &[&tail]),
        key(BY_NUMBER, &[order.number.as_bytes()]),
        platform(order.channel.as_str(), &order.platform_order_id),
        {
            let mut k = customer_prefix(order.channel.as_str(), &order.customer);
            k.extend_from_slice(&tail);
            k
        },
    ];
    if let Some(invoice) = &order.invoice_number {
        keys.push(key(BY_INVOICE, &[invoice.as_bytes()]));
    }
    for (dimension, status) in &order.statuses {
        let mut k = status_prefix(order.channel.as_str(), *dimension, &status.code);
        k.extend_from_slice(&tail);
        keys.push(k);
    }
    if order.refund_due {
        keys.push(key(REFUND_DUE, &[&tail]));
    }
    let mut articles: Vec<&str> = order.lines.iter().map(|l| l.article.as_str()).collect();
    articles.sort_unstable();
    articles.dedup();
    for article in articles {
        keys.push(key(BY_ARTICLE, &[article.as_bytes(), &tail]));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_where_no_key_of_it_can_be() {
        assert_eq!(prefix_end(NEWEST).as_deref(), Some(&b"ot0"[..]));
        assert_eq!(prefix_end(&[1, 0xFF]).as_deref(), Some(&[2][..]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        let status = status_prefix("shop", Dimension::Order, "open");
        let end = prefix_end(&status).unwrap();
        let mut longest = status.clone();
        longest.extend_from_slice(&[0xFF; TAIL_LEN]);
        assert!(status < end && longest < end);
    }

    #[test]
    fn a_tail_orders_newest_first_and_holds_its_id() {
        let earlier = Timestamp::from_millisecond(1_000).unwrap();
        let later = Timestamp::from_millisecond(2_000).unwrap();
        let old: [u8; TAIL_LEN] = newest_tail(earlier, OrderId(9)).try_into().unwrap();
        let new: [u8; TAIL_LEN] = newest_tail(later, OrderId(3)).try_into().unwrap();
        assert!(new < old);
        assert_eq!(id_of_tail(&old), OrderId(9));
    }
}
