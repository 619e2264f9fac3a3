//! The one order query. Every reader asks for orders with it — the API's
//! lists and exports, bulk jobs, the command line — so that a filter means
//! the same everywhere and each uses the indexes the same way.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TailWindow, keys};
use crate::domain::order::Order;
use crate::domain::platform::{Dimension, StatusRef};

/// A list cursor: where an order stands in the "newest first" order.
pub type Tail = [u8; keys::TAIL_LEN];

/// Which orders a reader wants. Every field given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `dimension:code`, e.g. `order:delivered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusRef>,
    /// The payment dimension's status, e.g. `paid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// Created at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_from: Option<Timestamp>,
    /// Created before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_to: Option<Timestamp>,
    /// The shop's customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// `true`: only orders with a refund due; `false`: only those without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_due: Option<bool>,
    /// The order with this order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The order with this invoice number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<String>,
}

/// Orders with their places in the list, read lazily.
type Candidates<'s> = Box<dyn Iterator<Item = Result<(Tail, Order), StoreError>> + 's>;

/// One page of a list, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub orders: Vec<Order>,
    /// Where the next page starts; none on the last page.
    pub next: Option<Tail>,
}

impl OrderQuery {
    /// Whether `order` is one the query asks for.
    pub fn matches(&self, order: &Order) -> bool {
        self.status
            .as_ref()
            .is_none_or(|s| order.status(s.dimension) == Some(s.code.as_str()))
            && self
                .channel
                .as_deref()
                .is_none_or(|c| order.channel.as_str() == c)
            && self
                .payment_status
                .as_deref()
                .is_none_or(|p| order.status(Dimension::Payment) == Some(p))
            && self
                .payment_method
                .as_deref()
                .is_none_or(|m| order.payment_method == m)
            && self.created_from.is_none_or(|t| order.created >= t)
            && self.created_to.is_none_or(|t| order.created < t)
            && self.customer.as_deref().is_none_or(|c| order.customer == c)
            && self.refund_due.is_none_or(|r| order.refund_due == r)
            && self.number.as_deref().is_none_or(|n| order.number == n)
            && self
                .invoice
                .as_deref()
                .is_none_or(|i| order.invoice_number.as_deref() == Some(i))
    }

    /// The problems of a query that can match nothing by construction.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let (Some(from), Some(to)) = (self.created_from, self.created_to)
            && from >= to
        {
            return Err((
                "created_from",
                format!("created_from ({from}) must be before created_to ({to})"),
            ));
        }
        Ok(())
    }

    /// Where in the "newest first" order a read starts and stops: just
    /// after the cursor, and within `created_from` .. `created_to` (to the
    /// millisecond; `matches` itself is exact).
    fn window(&self, cursor: Option<Tail>) -> TailWindow {
        let at = |t: Timestamp, id: u64| {
            let mut tail = [0; keys::TAIL_LEN];
            tail[..8].copy_from_slice(&keys::inverted(t));
            tail[8..].copy_from_slice(&id.to_be_bytes());
            tail
        };
        // Orders newer than `created_to`'s millisecond come before this tail.
        let to = self.created_to.map(|t| at(t, 0));
        TailWindow {
            after: cursor.max(to),
            until: self.created_from.map(|t| at(t, u64::MAX)),
        }
    }

    /// The index prefixes whose entries hold every match: the refund-due
    /// index, the customer's or a status's on each channel the order can be
    /// on, or every order.
    fn prefixes(&self, store: &Store) -> Result<Vec<Vec<u8>>, StoreError> {
        let status = self
            .status
            .as_ref()
            .map(|s| (s.dimension, s.code.as_str()))
            .or(self
                .payment_status
                .as_deref()
                .map(|p| (Dimension::Payment, p)));
        Ok(match (&self.customer, status) {
            _ if self.refund_due == Some(true) => vec![keys::REFUND_DUE.to_vec()],
            (Some(customer), _) => self
                .channels(store)?
                .iter()
                .map(|c| keys::customer_prefix(c, customer))
                .collect(),
            (None, Some((dimension, code))) => self
                .channels(store)?
                .iter()
                .map(|c| keys::status_prefix(c, dimension, code))
                .collect(),
            (None, None) => vec![keys::NEWEST.to_vec()],
        })
    }

    /// The channels an index read covers: the one asked for, or all.
    fn channels(&self, store: &Store) -> Result<Vec<String>, StoreError> {
        Ok(match &self.channel {
            Some(c) => vec![c.clone()],
            None => store
                .channels()?
                .into_iter()
                .map(|c| c.id.as_str().to_owned())
                .collect(),
        })
    }
}

impl Store {
    /// The orders `query` asks for, newest first, from just after `cursor`,
    /// each with its place in the list. Reads lazily through the narrowest
    /// index the query allows; a number or invoice number finds its one
    /// order directly.
    pub fn orders_matching<'s>(
        &'s self,
        query: &'s OrderQuery,
        cursor: Option<Tail>,
    ) -> Result<impl Iterator<Item = Result<(Tail, Order), StoreError>> + 's, StoreError> {
        Ok(self
            .candidates(query, cursor)?
            .filter(|entry| entry.as_ref().map_or(true, |(_, o)| query.matches(o))))
    }

    /// A page of at most `limit` orders `query` asks for, after `cursor`.
    /// A page stops after `scan_limit` orders looked at, so that a query
    /// that matches little answers in bounded time; its cursor goes on
    /// from there.
    pub fn orders_page(
        &self,
        query: &OrderQuery,
        cursor: Option<Tail>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<Page, StoreError> {
        let mut page = Page::default();
        let mut last = None;
        for (scanned, entry) in self.candidates(query, cursor)?.enumerate() {
            let (tail, order) = entry?;
            if page.orders.len() == limit || scanned == scan_limit {
                page.next = last;
                break;
            }
            last = Some(tail);
            if query.matches(&order) {
                page.orders.push(order);
            }
        }
        Ok(page)
    }

    /// The orders that may match, newest first, with their tails; not yet
    /// filtered by `matches`.
    fn candidates<'s>(
        &'s self,
        query: &OrderQuery,
        cursor: Option<Tail>,
    ) -> Result<Candidates<'s>, StoreError> {
        let single = match (&query.number, &query.invoice) {
            (Some(n), _) => Some(self.order_by_number(n)?),
            (None, Some(i)) => Some(self.order_by_invoice(i)?),
            (None, None) => None,
        };
        if let Some(found) = single {
            let found = found.map(|o| {
                let mut tail = [0; keys::TAIL_LEN];
                tail.copy_from_slice(&keys::newest_tail(o.created, o.id));
                (tail, o)
            });
            return Ok(Box::new(
                found
                    .into_iter()
                    .filter(move |(tail, _)| cursor.is_none_or(|c| *tail > c))
                    .map(Ok),
            ));
        }
        let window = query.window(cursor);
        let prefixes = query.prefixes(self)?;
        let mut sources: Vec<_> = prefixes
            .iter()
            .map(|p| self.newest_under(p, &window).peekable())
            .collect();
        Ok(Box::new(std::iter::from_fn(move || {
            loop {
                // The source whose next entry is newest; an error first.
                let (next, _) = sources
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, s)| Some((i, s.peek()?.as_ref().ok().map(|(t, _)| *t))))
                    .min_by_key(|(_, tail)| *tail)?;
                let (tail, id) = match sources[next].next()? {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(e)),
                };
                match self.order(id) {
                    Ok(Some(order)) => return Some(Ok((tail, order))),
                    // Index and order are written in one batch: an entry
                    // without its order is skipped, not fatal to the list.
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
        })))
    }
}
