//! The embedded store: sled. It owns the key layout, the codecs and the
//! indexes, and offers one way to change an order — [`Store::commit`], which
//! writes the order, its index entries, its history, the jobs it causes and
//! the applied event as one atomic sled batch, checked against the order's
//! committed version (with [`Store::commit_durable`] and
//! [`Store::commit_many`] for group commit and bulk). It knows nothing of
//! rules or plugins.

mod articles;
pub mod keys;
mod query;

pub use articles::{ArticleOrder, ArticleReport};
pub use query::{OrderQuery, Page, Tail};

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::event::{AppliedEvent, Change, GoodsReceipt, HistoryEntry, Job, Stock};
use crate::domain::intake::IntakeState;
use crate::domain::job::{JobDone, JobPhase, JobState, JobStatus};
use crate::domain::notify::{Template, TemplateKind};
use crate::domain::order::{Channel, ChannelId, Customer, Order, OrderId};
use crate::domain::platform::Dimension;

/// The layout version this build writes and reads.
pub const STORE_VERSION: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {message}")]
    Open { path: String, message: String },
    #[error(
        "the data directory was written by a newer Statusport (store version {found}; this build reads up to {STORE_VERSION}); run the newer version or restore a backup"
    )]
    TooNew { found: u32 },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: record {key} cannot be read: {message}")]
    Corrupt { key: String, message: String },
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The order changed since it was read; read it again and recompute.
    #[error("order {order} changed since it was read (expected version {expected}, found {found})")]
    Stale {
        order: OrderId,
        expected: u64,
        found: u64,
    },
    /// An order with this channel and platform order id exists already.
    #[error(
        "channel {channel} already has an order with platform order id {platform_order_id} (order {existing})"
    )]
    Duplicate {
        channel: String,
        platform_order_id: String,
        existing: OrderId,
    },
    /// The event was applied already, by another writer in the meantime.
    #[error("event {0} was applied already")]
    EventApplied(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Start numbers and prefixes of the order and invoice sequences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Numbering {
    /// The first order number; a start raised later takes effect with the
    /// next order.
    pub order_start: u64,
    /// Written before every order number, e.g. `SP-`.
    pub order_prefix: String,
    /// The first invoice number.
    pub invoice_start: u64,
    /// Written before every invoice number, e.g. `RE-`.
    pub invoice_prefix: String,
}

/// The largest start number taken: far beyond any shop's sequence, and far
/// enough from `u64::MAX` that drawing never overflows.
pub const MAX_START: u64 = 1_000_000_000_000_000;
/// The longest prefix taken, in characters.
pub const MAX_PREFIX: usize = 20;

/// One of the two number sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequence {
    Order,
    Invoice,
}

impl Sequence {
    pub fn as_str(self) -> &'static str {
        match self {
            Sequence::Order => "order",
            Sequence::Invoice => "invoice",
        }
    }

    fn key(self) -> &'static [u8] {
        match self {
            Sequence::Order => keys::ORDER_SEQ,
            Sequence::Invoice => keys::INVOICE_SEQ,
        }
    }
}

impl std::fmt::Display for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a numbering was refused.
#[derive(Debug, thiserror::Error)]
pub enum NumberingError {
    /// A value out of range; `field` is `order_start`, `invoice_prefix`, ….
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A new start at or below a number the sequence has already given out:
    /// it would never take effect, and lowering a sequence is not allowed.
    #[error(
        "{sequence}_start: {start} is not above {last}, the last {sequence} number drawn; give {} or more, or keep the current start {current}",
        last + 1
    )]
    BelowDrawn {
        sequence: Sequence,
        start: u64,
        last: u64,
        current: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NumberingError {
    /// The field of [`Numbering`] at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            NumberingError::Invalid { field, .. } => Some(field),
            NumberingError::BelowDrawn {
                sequence: Sequence::Order,
                ..
            } => Some("order_start"),
            NumberingError::BelowDrawn {
                sequence: Sequence::Invoice,
                ..
            } => Some("invoice_start"),
            NumberingError::Store(_) => None,
        }
    }
}

impl Numbering {
    /// Checks each value on its own; every problem is listed.
    pub fn check(&self) -> Result<(), Vec<NumberingError>> {
        let mut problems = Vec::new();
        for (field, start) in [
            ("order_start", self.order_start),
            ("invoice_start", self.invoice_start),
        ] {
            if !(1..=MAX_START).contains(&start) {
                problems.push(NumberingError::Invalid {
                    field,
                    message: format!("{start} is outside 1 ..= {MAX_START}"),
                });
            }
        }
        for (field, prefix) in [
            ("order_prefix", &self.order_prefix),
            ("invoice_prefix", &self.invoice_prefix),
        ] {
            if prefix.chars().count() > MAX_PREFIX {
                problems.push(NumberingError::Invalid {
                    field,
                    message: format!("\"{prefix}\" is longer than {MAX_PREFIX} characters"),
                });
            } else if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
                problems.push(NumberingError::Invalid {
                    field,
                    message: format!(
                        "{prefix:?} holds a space or a control character; use letters, digits and signs such as - / #"
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl Default for Numbering {
    fn default() -> Self {
        Numbering {
            order_start: 10_000,
            order_prefix: String::new(),
            invoice_start: 1,
            invoice_prefix: "INV-".into(),
        }
    }
}

/// One atomic change of one order.
#[derive(Debug)]
pub struct Write {
    /// The order as it was read; `None` creates it.
    pub before: Option<Order>,
    /// The order as it will be. Its `version` and `history_len` are set by
    /// the commit.
    pub after: Order,
    /// New history entries; their `seq` is set by the commit.
    pub history: Vec<HistoryEntry>,
    pub jobs: Vec<Job>,
    /// The events applied, each remembered under its id: one, or several
    /// when an import chains the changes of one order ([`Write::then`]).
    pub events: Vec<WriteEvent>,
    /// Give the order a number from the order sequence.
    pub assign_order_number: bool,
    /// Give the order an invoice number from the invoice sequence.
    pub assign_invoice_number: bool,
    /// Stock changes by article (negative: taken off stock).
    pub stock: Vec<(String, i64)>,
}

/// An event a write applies, and how many of the write's history entries
/// and jobs (in order, after those of the events before it) are its own.
#[derive(Debug)]
pub struct WriteEvent {
    pub id: String,
    pub applied: AppliedEvent,
    pub history: usize,
    pub jobs: usize,
}

impl Write {
    /// This write followed by `next`, planned on this write's `after`: one
    /// write from this write's `before` to `next`'s `after`, with the
    /// history, jobs and events of both.
    pub fn then(mut self, next: Write) -> Write {
        self.after = next.after;
        self.history.extend(next.history);
        self.jobs.extend(next.jobs);
        self.events.extend(next.events);
        self.assign_invoice_number |= next.assign_invoice_number;
        self.stock.extend(next.stock);
        self
    }
}

/// What a commit wrote.
#[derive(Debug, Clone)]
pub struct Committed {
    pub order: Order,
    pub history: Vec<HistoryEntry>,
}

pub struct Store {
    db: sled::Db,
    data: sled::Tree,
    /// Writes made so far and writes known to be on disk: concurrent
    /// [`Store::flush`] calls share one disk flush (group commit).
    writes: AtomicU64,
    flushed: AtomicU64,
    flush_lock: tokio::sync::Mutex<()>,
    /// Held by every write that checks what it changes.
    writer: std::sync::Mutex<()>,
    /// Durable commits waiting for the next batch, and whose turn it is to
    /// write one.
    durable_waiting: std::sync::Mutex<Vec<(Write, Slot)>>,
    durable_turn: tokio::sync::Mutex<()>,
    /// Commits waiting for the writer lock, with where their result goes.
    waiting: std::sync::Mutex<Vec<(Write, Slot)>>,
    /// Where the ids of jobs created or changed go, once the outbox listens.
    job_feed: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<u64>>>,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Domain types serialise to JSON without failure: no maps with non-string
    // keys, no floats.
    serde_json::to_vec(value).expect("domain types serialise to JSON")
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

fn u64_of(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

impl Store {
    /// Opens (or creates) the store in `dir`, migrating an older layout.
    ///
    /// sled lets go of a closed store's lock from a background thread, a
    /// moment after the last handle is dropped: a host started again at
    /// once (a restart in the same process, a supervisor that restarts
    /// quickly) waits up to two seconds for it before giving up.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let waited_since = std::time::Instant::now();
        let db = loop {
            match sled::Config::new().path(dir).open() {
                Ok(db) => break db,
                // sled reports the lock as an `Other` I/O error in words.
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && waited_since.elapsed() < std::time::Duration::from_secs(2) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StoreError::Open {
                        path: dir.display().to_string(),
                        message: e.to_string(),
                    });
                }
            }
        };
        Store::init(db)
    }

    /// A store in memory, gone when dropped: for tests and dry runs.
    pub fn temporary() -> Result<Store, StoreError> {
        Store::init(sled::Config::new().temporary(true).open()?)
    }

    fn init(db: sled::Db) -> Result<Store, StoreError> {
        let data = db.open_tree("data")?;
        let store = Store {
            db,
            data,
            writes: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            flush_lock: tokio::sync::Mutex::new(()),
            writer: std::sync::Mutex::new(()),
            waiting: std::sync::Mutex::new(Vec::new()),
            durable_waiting: std::sync::Mutex::new(Vec::new()),
            durable_turn: tokio::sync::Mutex::new(()),
            job_feed: std::sync::Mutex::new(None),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let found = self
            .data
            .get(keys::VERSION)?
            .map(|v| u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4])))
            .unwrap_or(0);
        if found > STORE_VERSION {
            return Err(StoreError::TooNew { found });
        }
        // Each step takes the layout from version n to n + 1; a fresh store
        // starts at 0 and needs only its version key.
        for from in found..STORE_VERSION {
            match from {
                0 => {}
                // Version 1 kept template names only; each becomes an email
                // template with a plain text that an operator then edits.
                1 => {
                    for kv in self.data.scan_prefix(keys::TEMPLATE) {
                        let (k, v) = kv?;
                        if let Ok(name) = serde_json::from_slice::<String>(&v) {
                            let template = Template {
                                name: name.clone(),
                                kind: TemplateKind::Email,
                                subject: Some("Your order {{ order.number }}".into()),
                                text: "Your order {{ order.number }} is now: {{ status.label }}."
                                    .into(),
                                html: None,
                            };
                            self.data.insert(k, encode(&template))?;
                        }
                    }
                }
                // Version 2 kept applied events under their id alone, one
                // namespace for every order; version 3 keys them by order and
                // id, and keeps goods receipts in a space of their own.
                2 => self.migrate_events()?,
                // Version 3 kept customers in one namespace for every
                // channel; version 4 keys them, and their orders' index, by
                // channel.
                3 => self.migrate_customers()?,
                _ => unreachable!("no migration from version {from}"),
            }
            self.data.insert(keys::VERSION, &(from + 1).to_be_bytes())?;
        }
        Ok(())
    }

    /// Store version 2 → 3: `e/<id>` becomes `e/<order>\0<id>`; a goods
    /// receipt (`e/goods:<receipt>`, order 0) becomes `gr/<receipt>`. One
    /// batch with the version bump: a crash leaves version 2 whole.
    fn migrate_events(&self) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for kv in self.data.scan_prefix(keys::EVENT) {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&k[keys::EVENT.len()..]).into_owned();
            let applied: AppliedEvent = decode(&k, &v)?;
            batch.remove(k.clone());
            match id.strip_prefix("goods:") {
                Some(receipt) if applied.order == OrderId(0) => {
                    let booked = GoodsReceipt {
                        id: receipt.to_owned(),
                        article: String::new(),
                        quantity: 0,
                        stock_before: 0,
                        at: applied.at,
                    };
                    batch.insert(keys::named(keys::GOODS_RECEIPT, receipt), encode(&booked));
                }
                _ => batch.insert(keys::event(applied.order, &id), v),
            }
        }
        batch.insert(keys::VERSION, &3u32.to_be_bytes());
        self.data.apply_batch(batch)?;
        Ok(())
    }

    /// Store version 3 → 4: `cu/<id>` becomes `cu/<channel>\0<id>` for
    /// each channel that has orders of the customer (every channel when
    /// none has: the shop that knows the id finds it), and the customer
    /// index `co/<customer>\0…` becomes `co/<channel>\0<customer>\0…`.
    /// One batch with the version bump.
    fn migrate_customers(&self) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for kv in self.data.scan_prefix(keys::BY_CUSTOMER) {
            let (k, v) = kv?;
            batch.remove(k.clone());
            let Some(tail) = k.get(k.len().saturating_sub(keys::TAIL_LEN)..) else {
                continue;
            };
            let Some(order) = self.order(OrderId(u64_of(&v)))? else {
                continue;
            };
            let mut new = keys::customer_prefix(order.channel.as_str(), &order.customer);
            new.extend_from_slice(tail);
            batch.insert(new, v);
            owners
                .entry(order.customer)
                .or_default()
                .insert(order.channel.to_string());
        }
        let channels: BTreeSet<String> = self
            .channels()?
            .into_iter()
            .map(|c| c.id.to_string())
            .collect();
        for kv in self.data.scan_prefix(keys::CUSTOMER) {
            let (k, v) = kv?;
            let mut customer: Customer = decode(&k, &v)?;
            let to = owners.get(&customer.id).unwrap_or(&channels);
            if to.is_empty() {
                // No channel at all: kept as it is.
                continue;
            }
            batch.remove(k);
            for channel in to {
                customer.channel = channel.as_str().try_into().ok();
                batch.insert(keys::customer(channel, &customer.id), encode(&customer));
            }
        }
        batch.insert(keys::VERSION, &4u32.to_be_bytes());
        self.data.apply_batch(batch)?;
        Ok(())
    }

    pub fn version(&self) -> Result<u32, StoreError> {
        Ok(self
            .data
            .get(keys::VERSION)?
            .map(|v| u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4])))
            .unwrap_or(0))
    }

    /// A fresh id for an order or a job: unique across restarts.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()? + 1)
    }

    /// Waits until everything written before the call is on disk. Callers
    /// that arrive while a flush runs wait for it and then share the next
    /// one, so many concurrent commits cost one disk flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let wanted = self.writes.load(Ordering::SeqCst);
        let _turn = self.flush_lock.lock().await;
        if self.flushed.load(Ordering::SeqCst) >= wanted {
            return Ok(());
        }
        let covered = self.writes.load(Ordering::SeqCst);
        self.db.flush_async().await?;
        self.flushed.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }

    /// Puts everything written on disk now, outside an async context.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.data.get(key)?.map(|v| decode(key, &v)).transpose()
    }

    fn put<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), StoreError> {
        self.data.insert(key, encode(value))?;
        self.wrote();
        Ok(())
    }

    fn list<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        self.data
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    // ----- orders --------------------------------------------------------

    pub fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.get(&keys::order(id))
    }

    fn order_at(&self, index_key: &[u8]) -> Result<Option<Order>, StoreError> {
        match self.data.get(index_key)? {
            Some(id) => self.order(OrderId(u64_of(&id))),
            None => Ok(None),
        }
    }

    pub fn order_by_number(&self, number: &str) -> Result<Option<Order>, StoreError> {
        self.order_at(&keys::named(keys::BY_NUMBER, number))
    }

    pub fn order_by_invoice(&self, invoice: &str) -> Result<Option<Order>, StoreError> {
        self.order_at(&keys::named(keys::BY_INVOICE, invoice))
    }

    pub fn order_by_platform_id(
        &self,
        channel: &str,
        platform_order_id: &str,
    ) -> Result<Option<Order>, StoreError> {
        self.order_at(&keys::platform(channel, platform_order_id))
    }

    fn ids_under(&self, prefix: &[u8], limit: usize) -> Result<Vec<OrderId>, StoreError> {
        self.data
            .scan_prefix(prefix)
            .keys()
            .take(limit)
            .map(|k| Ok(keys::id_at_end(&k?).unwrap_or(OrderId(0))))
            .collect()
    }

    /// Order ids, newest first.
    pub fn newest_orders(&self, limit: usize) -> Result<Vec<OrderId>, StoreError> {
        self.ids_under(keys::NEWEST, limit)
    }

    /// A channel's customer's orders, newest first.
    pub fn orders_of_customer(
        &self,
        channel: &str,
        customer: &str,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.ids_under(&keys::customer_prefix(channel, customer), usize::MAX)
    }

    /// Orders of a channel in a status, newest first.
    pub fn orders_in_status(
        &self,
        channel: &str,
        dimension: Dimension,
        status: &str,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.ids_under(&keys::status_prefix(channel, dimension, status), usize::MAX)
    }

    /// Orders holding an article whose number starts with `prefix`, created
    /// in `[from, to)`, newest first per article.
    pub fn orders_with_article(
        &self,
        prefix: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<OrderId>, StoreError> {
        let newest = keys::inverted(to);
        let oldest = keys::inverted(from);
        let mut ids = Vec::new();
        for k in self
            .data
            .scan_prefix(keys::key(keys::BY_ARTICLE, &[prefix.as_bytes()]))
            .keys()
        {
            let k = k?;
            let Some(time) = k.get(k.len() - 16..k.len() - 8) else {
                continue;
            };
            // Inverted: newer is smaller. `to` is exclusive.
            if time > &newest[..] && time <= &oldest[..] {
                ids.extend(keys::id_at_end(&k));
            }
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        Ok(ids)
    }

    /// Every order id, oldest first: for bulk jobs and timers.
    pub fn all_order_ids(&self) -> impl Iterator<Item = Result<OrderId, StoreError>> + '_ {
        self.data
            .scan_prefix(keys::ORDER)
            .keys()
            .map(|k| Ok(keys::id_at_end(&k?).unwrap_or(OrderId(0))))
    }

    /// Orders in id order, starting after `after`: for scans that resume.
    pub fn orders_after(
        &self,
        after: Option<OrderId>,
    ) -> impl Iterator<Item = Result<Order, StoreError>> + '_ {
        let start = match after {
            Some(id) => keys::order(OrderId(id.0.saturating_add(1))),
            None => keys::ORDER.to_vec(),
        };
        let end = {
            let mut e = keys::ORDER.to_vec();
            *e.last_mut().expect("the prefix is not empty") += 1;
            e
        };
        self.data.range(start..end).map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
    }

    /// The entries of a "newest first" index (`keys::NEWEST`, a customer's,
    /// a status's), read lazily in key order: newest first, orders of the
    /// same millisecond by id. Only tails (creation time and id, as
    /// `keys::newest_tail` writes them) within `window` are read: for list
    /// pages and exports.
    pub fn newest_under(
        &self,
        prefix: &[u8],
        window: &TailWindow,
    ) -> impl Iterator<Item = Result<([u8; keys::TAIL_LEN], OrderId), StoreError>> + use<> {
        let start = match &window.after {
            Some(tail) => Bound::Excluded([prefix, tail].concat()),
            None => Bound::Included(prefix.to_vec()),
        };
        let end = match keys::prefix_end(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        let until = window.until;
        let tail_at = prefix.len();
        self.data
            .range((start, end))
            .keys()
            .map(move |k| {
                let k = k?;
                // Index prefixes end in `/` or NUL and are followed by the
                // tail alone.
                let tail: [u8; keys::TAIL_LEN] = k
                    .get(tail_at..)
                    .and_then(|t| t.try_into().ok())
                    .ok_or_else(|| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    message: "an index key without its time and id".into(),
                })?;
                Ok((tail, keys::id_of_tail(&tail)))
            })
            .take_while(move |entry| match (entry, &until) {
                (Ok((tail, _)), Some(until)) => tail <= until,
                _ => true,
            })
    }

    /// Appends to the audit log.
    pub fn audit<T: Serialize>(&self, entry: &T) -> Result<u64, StoreError> {
        let seq = self.next_id()?;
        self.put(&keys::key(keys::AUDIT, &[&seq.to_be_bytes()]), entry)?;
        Ok(seq)
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log<T: DeserializeOwned>(&self, limit: usize) -> Result<Vec<T>, StoreError> {
        self.data
            .scan_prefix(keys::AUDIT)
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    pub fn history(&self, id: OrderId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.list(&keys::history_prefix(id))
    }

    /// The event applied to `order` under `id`, if one was.
    pub fn applied_event(
        &self,
        order: OrderId,
        id: &str,
    ) -> Result<Option<AppliedEvent>, StoreError> {
        self.get(&keys::event(order, id))
    }

    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.list(keys::JOB)
    }

    /// Index keys that point at `id` but do not belong to the order as it is
    /// stored, and index keys the order should have but lacks. Both empty in
    /// a consistent store; used by tests and `statusport store check`.
    pub fn index_problems(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut expected = std::collections::BTreeSet::new();
        for kv in self.data.scan_prefix(keys::ORDER) {
            let (k, v) = kv?;
            let order: Order = decode(&k, &v)?;
            for entry in keys::index_entries(&order) {
                if self.data.get(&entry)?.map(|v| u64_of(&v)) != Some(order.id.0) {
                    problems.push(format!(
                        "order {}: index entry {} missing",
                        order.id,
                        String::from_utf8_lossy(&entry)
                    ));
                }
                expected.insert(entry);
            }
        }
        for space in [
            keys::NEWEST,
            keys::BY_NUMBER,
            keys::BY_INVOICE,
            keys::BY_PLATFORM,
            keys::BY_CUSTOMER,
            keys::BY_STATUS,
            keys::BY_ARTICLE,
            keys::REFUND_DUE,
        ] {
            for k in self.data.scan_prefix(space).keys() {
                let k = k?;
                if !expected.contains(k.as_ref()) {
                    problems.push(format!("stale index entry {}", String::from_utf8_lossy(&k)));
                }
            }
        }
        Ok(problems)
    }

    // ----- configuration records -----------------------------------------

    pub fn numbering(&self) -> Result<Numbering, StoreError> {
        Ok(self.get(keys::NUMBERING)?.unwrap_or_default())
    }

    /// Saves the numbering. A start that changes must be above the last
    /// number its sequence has drawn: a lower one would never take effect
    /// (a sequence never goes back), so it is refused, naming that number.
    /// A start left as it is stays, whatever was drawn since.
    pub fn set_numbering(&self, numbering: &Numbering) -> Result<(), NumberingError> {
        if let Err(mut problems) = numbering.check() {
            return Err(problems.remove(0));
        }
        // Under the writer lock: no number is drawn between the check and
        // the write.
        let _writer = lock(&self.writer);
        let current = self.numbering()?;
        for (sequence, start, current) in [
            (Sequence::Order, numbering.order_start, current.order_start),
            (
                Sequence::Invoice,
                numbering.invoice_start,
                current.invoice_start,
            ),
        ] {
            if start == current {
                continue;
            }
            if let Some(last) = self.last_drawn(sequence)?
                && start <= last
            {
                return Err(NumberingError::BelowDrawn {
                    sequence,
                    start,
                    last,
                    current,
                });
            }
        }
        Ok(self.put(keys::NUMBERING, numbering)?)
    }

    /// The last number a sequence gave out; `None` before its first.
    pub fn last_drawn(&self, sequence: Sequence) -> Result<Option<u64>, StoreError> {
        Ok(self.data.get(sequence.key())?.map(|v| u64_of(&v)))
    }

    pub fn channel(&self, id: &str) -> Result<Option<Channel>, StoreError> {
        self.get(&keys::named(keys::CHANNEL, id))
    }

    pub fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        self.list(keys::CHANNEL)
    }

    pub fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        self.put(&keys::named(keys::CHANNEL, channel.id.as_str()), channel)
    }

    /// Whether any order belongs to the channel.
    pub fn channel_has_orders(&self, channel: &str) -> Result<bool, StoreError> {
        let mut prefix = keys::key(keys::BY_PLATFORM, &[channel.as_bytes()]);
        prefix.push(0);
        Ok(self.data.scan_prefix(prefix).next().transpose()?.is_some())
    }

    /// Removes a channel and its intake state.
    pub fn remove_channel(&self, id: &str) -> Result<bool, StoreError> {
        self.data.remove(keys::named(keys::INTAKE, id))?;
        self.remove_record(keys::CHANNEL, id)
    }

    /// The customer `id` of `channel`.
    pub fn customer(&self, channel: &str, id: &str) -> Result<Option<Customer>, StoreError> {
        self.get(&keys::customer(channel, id))
    }

    /// Saves a customer of `channel` (the record's `channel` is set to it).
    /// Saves a customer of `channel`; answers the record as stored.
    pub fn put_customer(
        &self,
        channel: &ChannelId,
        customer: &Customer,
    ) -> Result<Customer, StoreError> {
        let mut record = customer.clone();
        record.channel = Some(channel.clone());
        self.put(&keys::customer(channel.as_str(), &customer.id), &record)?;
        Ok(record)
    }

    /// The channels that have a customer with this id.
    pub fn customer_channels(&self, id: &str) -> Result<Vec<ChannelId>, StoreError> {
        let mut found = Vec::new();
        for channel in self.channels()? {
            if self
                .data
                .contains_key(keys::customer(channel.id.as_str(), id))?
            {
                found.push(channel.id);
            }
        }
        Ok(found)
    }

    /// Customers by channel, then id, starting after `after` (a channel and
    /// an id): for list pages. With `channel`, only that channel's.
    pub fn customers_after(
        &self,
        channel: Option<&str>,
        after: Option<(&str, &str)>,
    ) -> impl Iterator<Item = Result<Customer, StoreError>> + '_ {
        let prefix = match channel {
            Some(c) => {
                let mut p = keys::key(keys::CUSTOMER, &[c.as_bytes()]);
                p.push(0);
                p
            }
            None => keys::CUSTOMER.to_vec(),
        };
        let start = match after {
            // The first key after the customer's own.
            Some((c, id)) => {
                let mut k = keys::customer(c, id);
                k.push(0);
                k.max(prefix.clone())
            }
            None => prefix.clone(),
        };
        let end = match keys::prefix_end(&prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.data.range((Bound::Included(start), end)).map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
    }

    pub fn remove_customer(&self, channel: &str, id: &str) -> Result<bool, StoreError> {
        let removed = self.data.remove(keys::customer(channel, id))?.is_some();
        self.wrote();
        Ok(removed)
    }

    /// A record kept by name in one of the config spaces (rules, templates,
    /// stock, bulk jobs): the engine owns their types.
    pub fn record<T: DeserializeOwned>(
        &self,
        space: &[u8],
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get(&keys::named(space, name))
    }

    pub fn records<T: DeserializeOwned>(&self, space: &[u8]) -> Result<Vec<T>, StoreError> {
        self.list(space)
    }

    pub fn put_record<T: Serialize>(
        &self,
        space: &[u8],
        name: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        self.put(&keys::named(space, name), value)
    }

    pub fn remove_record(&self, space: &[u8], name: &str) -> Result<bool, StoreError> {
        let removed = self.data.remove(keys::named(space, name))?.is_some();
        self.wrote();
        Ok(removed)
    }

    /// Books a goods receipt once per receipt id: the stock goes up and,
    /// when it was zero or less, a wake-up record for the orders holding the
    /// article is written in the same batch (woken by the engine from that
    /// record, so a crash between the two loses nothing). Answers the
    /// receipt as booked, and whether this call booked it.
    pub fn book_receipt(
        &self,
        receipt: &str,
        article: &str,
        quantity: i64,
        at: Timestamp,
    ) -> Result<(GoodsReceipt, bool), StoreError> {
        let _writer = lock(&self.writer);
        let rkey = keys::named(keys::GOODS_RECEIPT, receipt);
        let mut w = Pending::new(&self.data);
        if let Some(v) = w.get(&rkey)? {
            return Ok((decode(&rkey, &v)?, false));
        }
        let skey = keys::named(keys::STOCK, article);
        let before = match w.get(&skey)? {
            Some(v) => decode::<Stock>(&skey, &v)?.quantity,
            None => 0,
        };
        adjust(&mut w, article, quantity, at)?;
        let booked = GoodsReceipt {
            id: receipt.to_owned(),
            article: article.to_owned(),
            quantity,
            stock_before: before,
            at,
        };
        w.insert(rkey, encode(&booked));
        if before <= 0 {
            w.insert(keys::named(keys::WAKE, receipt), encode(&booked));
        }
        w.apply()?;
        self.wrote();
        Ok((booked, true))
    }

    /// Goods receipts whose orders are still to be woken, oldest id first.
    pub fn pending_wakes(&self) -> Result<Vec<GoodsReceipt>, StoreError> {
        self.list(keys::WAKE)
    }

    /// Whether the orders of a receipt are still to be woken.
    pub fn wake_pending(&self, receipt: &str) -> Result<bool, StoreError> {
        Ok(self.data.contains_key(keys::named(keys::WAKE, receipt))?)
    }

    /// Every order of the receipt has been woken.
    pub fn finish_wake(&self, receipt: &str) -> Result<(), StoreError> {
        self.data.remove(keys::named(keys::WAKE, receipt))?;
        self.wrote();
        Ok(())
    }

    // ----- the one way to change an order -------------------------------

    /// Writes one change of one order atomically: the order (its version
    /// checked against `before` and bumped), the index entries that changed,
    /// the history entries, the jobs, the applied event, and any numbers
    /// drawn — one sled batch, which readers and crash recovery see whole
    /// or not at all. Commits take turns on the writer lock, so the checks
    /// read the committed state that the batch is applied to.
    ///
    /// Concurrent commits are combined: whoever gets the writer lock commits
    /// every change waiting at that moment in one batch, and the others find
    /// their result ready.
    pub fn commit(&self, write: Write) -> Result<Committed, CommitError> {
        let slot: Slot = Arc::new(std::sync::Mutex::new(None));
        lock(&self.waiting).push((write, slot.clone()));
        let writer = lock(&self.writer);
        if let Some(result) = lock(&slot).take() {
            return result;
        }
        let (writes, slots): (Vec<Write>, Vec<Slot>) = std::mem::take(&mut *lock(&self.waiting))
            .into_iter()
            .unzip();
        let results = self.commit_locked(&writer, writes);
        for (slot, result) in slots.iter().zip(results) {
            *lock(slot) = Some(result);
        }
        drop(writer);
        let result = lock(&slot).take();
        result.expect("the leader commits every waiting change, ours among them")
    }

    /// Commits a change and returns once it is on disk. Changes that arrive
    /// while another batch is being written and flushed wait, and go
    /// together in the next batch: one log write and one disk flush for
    /// all of them (group commit).
    pub async fn commit_durable(&self, write: Write) -> Result<Committed, CommitError> {
        let slot: Slot = Arc::new(std::sync::Mutex::new(None));
        lock(&self.durable_waiting).push((write, slot.clone()));
        {
            let _turn = self.durable_turn.lock().await;
            if lock(&slot).is_none() {
                // Our change is still waiting: lead the next batch. The
                // results are in place before the first await, so a leader
                // that is cancelled strands no one.
                let (writes, slots): (Vec<Write>, Vec<Slot>) =
                    std::mem::take(&mut *lock(&self.durable_waiting))
                        .into_iter()
                        .unzip();
                let results = self.commit_many(writes);
                for (slot, result) in slots.iter().zip(results) {
                    *lock(slot) = Some(result);
                }
                // Flushing while holding the turn lets the next batch gather.
                self.flush().await?;
            }
        }
        let result = lock(&slot).take();
        // A no-op when the leader's flush covered it.
        self.flush().await?;
        result.expect("a leader commits every waiting change, ours among them")
    }

    /// Commits several changes in one batch — one log write instead of one
    /// each. Each is checked as [`Store::commit`] checks it, against the
    /// committed state and the changes before it in the list; one refused
    /// leaves the others to commit. The results are in the order of
    /// `writes`.
    pub fn commit_many(&self, writes: Vec<Write>) -> Vec<Result<Committed, CommitError>> {
        let writer = lock(&self.writer);
        self.commit_locked(&writer, writes)
    }

    /// Commits what one import produced — the writes of its orders, the
    /// customers it named and the channel's intake state (its cursor) —
    /// in one atomic write, and returns once it is on disk. All or
    /// nothing: one write refused (an order changed meanwhile) refuses
    /// them all, and nothing is written; the caller plans again.
    pub async fn commit_import(
        &self,
        writes: Vec<Write>,
        customers: Vec<Customer>,
        channel: &ChannelId,
        state: Option<&IntakeState>,
    ) -> Result<Vec<Committed>, CommitError> {
        let mut new_jobs = Vec::new();
        let mut committed = Vec::with_capacity(writes.len());
        {
            let _writer = lock(&self.writer);
            let numbering = self.numbering()?;
            let mut w = Pending::new(&self.data);
            for write in writes {
                new_jobs.extend(write.jobs.iter().map(|j| j.id));
                committed.push(stage(&mut w, write, &numbering)?);
                w.keep();
            }
            for customer in customers {
                let mut record = customer;
                record.channel = Some(channel.clone());
                w.insert(
                    keys::customer(channel.as_str(), &record.id),
                    encode(&record),
                );
            }
            if let Some(state) = state {
                w.insert(keys::named(keys::INTAKE, channel.as_str()), encode(state));
            }
            w.apply()?;
            self.wrote();
        }
        self.announce(&new_jobs);
        self.flush().await?;
        Ok(committed)
    }

    /// A channel's intake state: its cursor, its last success and error.
    pub fn intake_state(&self, channel: &str) -> Result<IntakeState, StoreError> {
        Ok(self
            .get(&keys::named(keys::INTAKE, channel))?
            .unwrap_or_default())
    }

    /// Saves a channel's intake state outside an import (a failed poll).
    pub fn put_intake_state(&self, channel: &str, state: &IntakeState) -> Result<(), StoreError> {
        self.put(&keys::named(keys::INTAKE, channel), state)
    }

    fn commit_locked(
        &self,
        _writer: &std::sync::MutexGuard<'_, ()>,
        writes: Vec<Write>,
    ) -> Vec<Result<Committed, CommitError>> {
        let numbering = match self.numbering() {
            Ok(n) => n,
            Err(e) => {
                let message = e.to_string();
                return writes
                    .iter()
                    .map(|_| {
                        Err(CommitError::Store(StoreError::Corrupt {
                            key: "meta/numbering".into(),
                            message: message.clone(),
                        }))
                    })
                    .collect();
            }
        };
        let mut w = Pending::new(&self.data);
        let mut results = Vec::with_capacity(writes.len());
        let mut new_jobs = Vec::new();
        for write in writes {
            let ids: Vec<u64> = write.jobs.iter().map(|j| j.id).collect();
            let result = stage(&mut w, write, &numbering);
            match &result {
                Ok(_) => {
                    w.keep();
                    new_jobs.extend(ids);
                }
                Err(_) => w.discard(),
            }
            results.push(result);
        }
        if let Err(e) = w.apply() {
            let message = e.to_string();
            return results
                .into_iter()
                .map(|r| {
                    r.and_then(|_| {
                        Err(CommitError::Store(StoreError::Corrupt {
                            key: "batch".into(),
                            message: message.clone(),
                        }))
                    })
                })
                .collect();
        }
        self.wrote();
        self.announce(&new_jobs);
        results
    }

    // ----- the outbox's side ---------------------------------------------

    /// Starts telling the caller the id of every job created or changed from
    /// now on (one listener: the outbox). Jobs that exist already are read
    /// with [`Store::active_jobs`].
    pub fn subscribe_jobs(&self) -> tokio::sync::mpsc::UnboundedReceiver<u64> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *lock(&self.job_feed) = Some(tx);
        rx
    }

    fn announce(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let mut feed = lock(&self.job_feed);
        if let Some(tx) = feed.as_ref() {
            for id in ids {
                if tx.send(*id).is_err() {
                    // The outbox stopped listening.
                    *feed = None;
                    break;
                }
            }
        }
    }

    pub fn job(&self, id: u64) -> Result<Option<Job>, StoreError> {
        self.get(&keys::job(id))
    }

    pub fn job_state(&self, id: u64) -> Result<Option<JobState>, StoreError> {
        self.get(&keys::job_state(id))
    }

    pub fn job_done(&self, id: u64) -> Result<Option<JobDone>, StoreError> {
        self.get(&keys::job_done(id))
    }

    /// Every job not finished yet (waiting or failed), oldest first.
    pub fn active_jobs(&self) -> Result<Vec<(Job, JobState)>, StoreError> {
        let mut jobs = Vec::new();
        for kv in self.data.scan_prefix(keys::JOB_STATE) {
            let (k, v) = kv?;
            let state: JobState = decode(&k, &v)?;
            let id = u64_of(&k[keys::JOB_STATE.len()..]);
            match self.job(id)? {
                Some(job) => jobs.push((job, state)),
                None => {
                    return Err(StoreError::Corrupt {
                        key: String::from_utf8_lossy(&k).into_owned(),
                        message: format!("job {id} has a state but no record"),
                    });
                }
            }
        }
        Ok(jobs)
    }

    /// How many active jobs are pending and how many have failed: reads the
    /// job states only, not the jobs.
    pub fn job_counts(&self) -> Result<(usize, usize), StoreError> {
        let (mut pending, mut failed) = (0, 0);
        for kv in self.data.scan_prefix(keys::JOB_STATE) {
            let (k, v) = kv?;
            let state: JobState = decode(&k, &v)?;
            if state.status == JobStatus::Failed {
                failed += 1;
            } else {
                pending += 1;
            }
        }
        Ok((pending, failed))
    }

    /// Failed jobs, oldest first.
    pub fn failed_jobs(&self) -> Result<Vec<(Job, JobState)>, StoreError> {
        Ok(self
            .active_jobs()?
            .into_iter()
            .filter(|(_, s)| s.status == JobStatus::Failed)
            .collect())
    }

    /// An order's jobs, oldest first, each with its state or its end.
    pub fn jobs_of_order(&self, order: OrderId) -> Result<Vec<JobRecord>, StoreError> {
        self.job_records(self.data.scan_prefix(keys::order_jobs_prefix(order)).keys())
    }

    /// The deliveries to one webhook endpoint, newest first, each with its
    /// attempts and the endpoint's responses.
    pub fn webhook_deliveries(
        &self,
        endpoint: &str,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.job_records(
            self.data
                .scan_prefix(keys::webhook_deliveries_prefix(endpoint))
                .keys()
                .rev()
                .take(limit),
        )
    }

    /// The jobs named by index keys ending in a job id.
    fn job_records(
        &self,
        index: impl Iterator<Item = sled::Result<sled::IVec>>,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let mut records = Vec::new();
        for k in index {
            let Some(id) = keys::id_at_end(&k?) else {
                continue;
            };
            if let Some(job) = self.job(id.0)? {
                let state = self.job_state(job.id)?;
                let done = self.job_done(job.id)?;
                records.push(JobRecord::new(job, state, done));
            }
        }
        Ok(records)
    }

    /// Replaces an active job's state; `false` when the job is not active
    /// (an operator dropped it meanwhile).
    pub fn update_job(&self, id: u64, state: &JobState) -> Result<bool, StoreError> {
        let _writer = lock(&self.writer);
        let key = keys::job_state(id);
        if self.data.get(&key)?.is_none() {
            return Ok(false);
        }
        self.data.insert(key, encode(state))?;
        self.wrote();
        drop(_writer);
        self.announce(&[id]);
        Ok(true)
    }

    /// Ends an active job and creates the jobs it hands on (a webhook
    /// event's deliveries) in one write; `false` when the job was not active.
    pub fn finish_job(&self, id: u64, done: &JobDone, spawn: &[Job]) -> Result<bool, StoreError> {
        let writer = lock(&self.writer);
        let key = keys::job_state(id);
        if self.data.get(&key)?.is_none() {
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        batch.remove(key);
        batch.insert(keys::job_done(id), encode(done));
        for job in spawn {
            insert_job(&mut batch, job);
        }
        self.data.apply_batch(batch)?;
        self.wrote();
        drop(writer);
        let mut ids = vec![id];
        ids.extend(spawn.iter().map(|j| j.id));
        self.announce(&ids);
        Ok(true)
    }
}

/// The part of a "newest first" index a read covers, by tail (creation time
/// and order id, `keys::newest_tail`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailWindow {
    /// Start just after this tail (a page's cursor, or the end of a `to`).
    pub after: Option<[u8; keys::TAIL_LEN]>,
    /// Stop after this tail (the start of a `from`).
    pub until: Option<[u8; keys::TAIL_LEN]>,
}

/// A job with where it stands.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub job: Job,
    /// Where the job stands in one word, whether active or finished:
    /// `pending`, `failed`, `delivered` or `dropped`.
    pub status: JobPhase,
    /// Set while the job is active (`pending` or `failed`): attempts, due
    /// time, failure.
    pub state: Option<JobState>,
    /// Set once it finished (`delivered` or `dropped`): attempts, receipt.
    pub done: Option<JobDone>,
}

impl JobRecord {
    pub fn new(job: Job, state: Option<JobState>, done: Option<JobDone>) -> JobRecord {
        JobRecord {
            status: JobPhase::of(state.as_ref(), done.as_ref()),
            job,
            state,
            done,
        }
    }
}

fn insert_job(batch: &mut sled::Batch, job: &Job) {
    batch.insert(keys::job(job.id), encode(job));
    batch.insert(keys::job_state(job.id), encode(&JobState::new(job.created)));
    batch.insert(keys::order_job(job.order, job.id), Vec::new());
    if let crate::domain::event::JobKind::WebhookDelivery { endpoint, .. } = &job.kind {
        batch.insert(keys::webhook_delivery(endpoint, job.id), Vec::new());
    }
}

impl crate::ports::PluginState for Store {
    fn get(&self, channel: &str, key: &str) -> Option<Vec<u8>> {
        match self.data.get(keys::plugin_state(channel, key)) {
            Ok(v) => v.map(|v| v.to_vec()),
            Err(e) => {
                tracing::error!(channel, key, error = %e, "reading plugin state");
                None
            }
        }
    }

    fn set(&self, channel: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        let _writer = lock(&self.writer);
        let full = keys::plugin_state(channel, key);
        let exists = self
            .data
            .contains_key(&full)
            .map_err(|e| format!("store: {e}"))?;
        let count = self
            .data
            .scan_prefix(keys::plugin_state_prefix(channel))
            .count();
        crate::ports::check_state_limits(key, &value, count, exists)?;
        self.data
            .insert(full, value)
            .map_err(|e| format!("store: {e}"))?;
        self.wrote();
        Ok(())
    }

    fn remove(&self, channel: &str, key: &str) {
        if let Err(e) = self.data.remove(keys::plugin_state(channel, key)) {
            tracing::error!(channel, key, error = %e, "removing plugin state");
        }
        self.wrote();
    }
}

type Slot = Arc<std::sync::Mutex<Option<Result<Committed, CommitError>>>>;

/// A lock whose holder may have panicked: the data it guards stays usable
/// (the store's state is in sled, not behind the lock).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds one change in `w`, checked against what `w` reads.
fn stage(w: &mut Pending, write: Write, numbering: &Numbering) -> Result<Committed, CommitError> {
    let mut order = write.after;
    let mut history = write.history;
    let key = keys::order(order.id);
    let stored: Option<Order> = match (w.get(&key)?, &write.before) {
        // The encoding is deterministic: the same bytes are the same order,
        // and encoding is cheaper than decoding.
        (Some(v), Some(before)) if v == encode(before) => Some(before.clone()),
        (Some(v), _) => Some(decode(&key, &v)?),
        (None, _) => None,
    };
    let stale = |expected: u64, found: u64| CommitError::Stale {
        order: order.id,
        expected,
        found,
    };
    match (&write.before, &stored) {
        (Some(before), Some(stored)) if stored.version != before.version => {
            return Err(stale(before.version, stored.version));
        }
        (Some(before), None) => return Err(stale(before.version, 0)),
        (None, Some(stored)) => return Err(stale(0, stored.version)),
        _ => {}
    }
    if write.before.is_none() {
        let pkey = keys::platform(order.channel.as_str(), &order.platform_order_id);
        if let Some(existing) = w.get(&pkey)? {
            return Err(CommitError::Duplicate {
                channel: order.channel.to_string(),
                platform_order_id: order.platform_order_id.clone(),
                existing: OrderId(u64_of(&existing)),
            });
        }
    }
    for event in &write.events {
        if w.get(&keys::event(order.id, &event.id))?.is_some() {
            return Err(CommitError::EventApplied(event.id.clone()));
        }
    }
    {
        if write.assign_order_number {
            let n = draw(w, keys::ORDER_SEQ, numbering.order_start)?;
            order.number = format!("{}{n}", numbering.order_prefix);
        }
        if write.assign_invoice_number && order.invoice_number.is_none() {
            let n = draw(w, keys::INVOICE_SEQ, numbering.invoice_start)?;
            let number = format!("{}{n}", numbering.invoice_prefix);
            order.invoice_number = Some(number.clone());
            if let Some(entry) = history.iter_mut().find(
                |h| matches!(&h.change, Change::InvoiceNumber { number } if number.is_empty()),
            ) {
                entry.change = Change::InvoiceNumber { number };
            }
        }
    }
    order.version = stored.as_ref().map_or(1, |s| s.version + 1);
    let first_seq = stored.as_ref().map_or(0, |s| s.history_len);
    for (i, entry) in history.iter_mut().enumerate() {
        entry.seq = first_seq + i as u64;
        w.insert(keys::history(order.id, entry.seq), encode(entry));
    }
    order.history_len = first_seq + history.len() as u64;

    // Only the index entries that differ: a status change moves one.
    let old_entries: BTreeSet<Vec<u8>> = stored
        .as_ref()
        .map(keys::index_entries)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let new_entries: BTreeSet<Vec<u8>> = keys::index_entries(&order).into_iter().collect();
    for gone in old_entries.difference(&new_entries) {
        w.remove(gone.clone());
    }
    let id_bytes = order.id.0.to_be_bytes();
    for added in new_entries.difference(&old_entries) {
        w.insert(added.clone(), id_bytes.to_vec());
    }
    w.insert(key, encode(&order));
    for (article, delta) in &write.stock {
        adjust(w, article, *delta, order.updated)?;
    }
    for job in &write.jobs {
        w.insert(keys::job(job.id), encode(job));
        w.insert(keys::job_state(job.id), encode(&JobState::new(job.created)));
        w.insert(keys::order_job(job.order, job.id), Vec::new());
    }
    let (mut entries, mut jobs) = (history.iter(), write.jobs.iter());
    for event in write.events {
        let mut applied = event.applied;
        applied.history = entries
            .by_ref()
            .take(event.history)
            .map(|h| h.seq)
            .collect();
        applied.jobs = jobs.by_ref().take(event.jobs).map(|j| j.id).collect();
        w.insert(keys::event(order.id, &event.id), encode(&applied));
    }
    Ok(Committed { order, history })
}

/// Writes gathered for one batch, read back before they are applied: the
/// writes of the change being built (`local`) over those of the changes
/// already accepted into the batch (`group`) over the tree.
struct Pending<'a> {
    tree: &'a sled::Tree,
    group: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    local: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Pending<'a> {
    fn new(tree: &'a sled::Tree) -> Self {
        Pending {
            tree,
            group: BTreeMap::new(),
            local: BTreeMap::new(),
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.local.get(key).or_else(|| self.group.get(key)) {
            Some(value) => Ok(value.clone()),
            None => Ok(self.tree.get(key)?.map(|v| v.to_vec())),
        }
    }

    fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.local.insert(key, Some(value));
    }

    fn remove(&mut self, key: Vec<u8>) {
        self.local.insert(key, None);
    }

    /// Accepts the change built so far into the batch.
    fn keep(&mut self) {
        let local = std::mem::take(&mut self.local);
        self.group.extend(local);
    }

    /// Drops the change built so far.
    fn discard(&mut self) {
        self.local.clear();
    }

    fn apply(mut self) -> Result<(), StoreError> {
        self.keep();
        if self.group.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (key, value) in self.group {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

fn adjust(w: &mut Pending, article: &str, delta: i64, at: Timestamp) -> Result<(), StoreError> {
    let key = keys::named(keys::STOCK, article);
    let mut stock: Stock = match w.get(&key)? {
        Some(v) => decode(&key, &v)?,
        None => Stock {
            article: article.to_owned(),
            quantity: 0,
            updated: at,
        },
    };
    stock.quantity = stock.quantity.saturating_add(delta);
    stock.updated = at;
    w.insert(key, encode(&stock));
    Ok(())
}

/// The next number of a sequence, in the batch: a number is drawn only
/// when the batch is applied, so the sequence has no gaps.
fn draw(w: &mut Pending, key: &[u8], start: u64) -> Result<u64, StoreError> {
    let next = match w.get(key)? {
        // A start number raised later takes effect at once.
        Some(v) => (u64_of(&v) + 1).max(start),
        None => start,
    };
    w.insert(key.to_vec(), next.to_be_bytes().to_vec());
    Ok(next)
}
