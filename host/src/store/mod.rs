//! The embedded store: sled. It owns the key layout, the codecs and the
//! indexes, and offers one way to change an order — [`Store::commit`], which
//! writes the order, its index entries, its history, the jobs it causes and
//! the applied event in one atomic transaction, checked against the order's
//! committed version. It knows nothing of rules or plugins.

pub mod keys;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::domain::event::{AppliedEvent, Change, HistoryEntry, Job, Stock};
use crate::domain::order::Source;
use crate::domain::order::{Channel, Customer, Order, OrderId};
use crate::domain::platform::Dimension;

/// The layout version this build writes and reads.
pub const STORE_VERSION: u32 = 1;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Numbering {
    pub order_start: u64,
    pub order_prefix: String,
    pub invoice_start: u64,
    pub invoice_prefix: String,
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
    /// The event applied, remembered under its id.
    pub event: Option<(String, AppliedEvent)>,
    /// Give the order a number from the order sequence.
    pub assign_order_number: bool,
    /// Give the order an invoice number from the invoice sequence.
    pub assign_invoice_number: bool,
    /// Stock changes by article (negative: taken off stock).
    pub stock: Vec<(String, i64)>,
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
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|e| StoreError::Open {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
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
            if from == 0 {
                self.data.insert(keys::VERSION, &1u32.to_be_bytes())?;
            }
        }
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

    /// A customer's orders, newest first.
    pub fn orders_of_customer(&self, customer: &str) -> Result<Vec<OrderId>, StoreError> {
        self.ids_under(&keys::customer_prefix(customer), usize::MAX)
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

    pub fn history(&self, id: OrderId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.list(&keys::history_prefix(id))
    }

    pub fn applied_event(&self, id: &str) -> Result<Option<AppliedEvent>, StoreError> {
        self.get(&keys::event(id))
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

    pub fn set_numbering(&self, numbering: &Numbering) -> Result<(), StoreError> {
        self.put(keys::NUMBERING, numbering)
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

    pub fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        self.get(&keys::named(keys::CUSTOMER, id))
    }

    pub fn put_customer(&self, customer: &Customer) -> Result<(), StoreError> {
        self.put(&keys::named(keys::CUSTOMER, &customer.id), customer)
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

    /// Changes an article's stock once per `event` id: goods received.
    pub fn adjust_stock(
        &self,
        article: &str,
        delta: i64,
        event: &str,
        at: Timestamp,
    ) -> Result<(), CommitError> {
        let result = self.data.transaction(|tx| {
            let ekey = keys::event(event);
            if tx.get(&ekey)?.is_some() {
                return Ok(());
            }
            adjust(tx, article, delta, at)?;
            let applied = AppliedEvent {
                order: OrderId(0),
                at,
                source: Source::System,
                history: Vec::new(),
                jobs: Vec::new(),
            };
            tx.insert(ekey, encode(&applied))?;
            Ok(())
        });
        match result {
            Ok(()) => {
                self.wrote();
                Ok(())
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(CommitError::Store(e.into())),
        }
    }

    // ----- the one way to change an order -------------------------------

    /// Writes one change of one order atomically: the order (its version
    /// checked against `before` and bumped), the index entries of the old
    /// order removed and those of the new one added, the history entries,
    /// the jobs, the applied event, and any numbers drawn. Readers see all
    /// of it or none.
    pub fn commit(&self, write: Write) -> Result<Committed, CommitError> {
        let old_entries = write
            .before
            .as_ref()
            .map(keys::index_entries)
            .unwrap_or_default();
        let numbering = if write.assign_order_number || write.assign_invoice_number {
            Some(self.numbering()?)
        } else {
            None
        };
        let result = self.data.transaction(|tx| {
            let mut order = write.after.clone();
            let mut history = write.history.clone();
            let key = keys::order(order.id);
            let stored: Option<Order> = match tx.get(&key)? {
                Some(v) => Some(decode(&key, &v).map_err(abort)?),
                None => None,
            };
            match (&write.before, &stored) {
                (Some(before), Some(stored)) if stored.version != before.version => {
                    return Err(abort(CommitError::Stale {
                        order: order.id,
                        expected: before.version,
                        found: stored.version,
                    }));
                }
                (Some(before), None) => {
                    return Err(abort(CommitError::Stale {
                        order: order.id,
                        expected: before.version,
                        found: 0,
                    }));
                }
                (None, Some(stored)) => {
                    return Err(abort(CommitError::Stale {
                        order: order.id,
                        expected: 0,
                        found: stored.version,
                    }));
                }
                _ => {}
            }
            if write.before.is_none() {
                let pkey = keys::platform(order.channel.as_str(), &order.platform_order_id);
                if let Some(existing) = tx.get(&pkey)? {
                    return Err(abort(CommitError::Duplicate {
                        channel: order.channel.to_string(),
                        platform_order_id: order.platform_order_id.clone(),
                        existing: OrderId(u64_of(&existing)),
                    }));
                }
            }
            if let Some((id, _)) = &write.event
                && tx.get(keys::event(id))?.is_some()
            {
                return Err(abort(CommitError::EventApplied(id.clone())));
            }
            if let Some(numbering) = &numbering {
                if write.assign_order_number {
                    let n = draw(tx, keys::ORDER_SEQ, numbering.order_start)?;
                    order.number = format!("{}{n}", numbering.order_prefix);
                }
                if write.assign_invoice_number && order.invoice_number.is_none() {
                    let n = draw(tx, keys::INVOICE_SEQ, numbering.invoice_start)?;
                    let number = format!("{}{n}", numbering.invoice_prefix);
                    order.invoice_number = Some(number.clone());
                    if let Some(entry) = history.iter_mut().find(|h| {
                        matches!(&h.change, Change::InvoiceNumber { number } if number.is_empty())
                    }) {
                        entry.change = Change::InvoiceNumber { number };
                    }
                }
            }
            order.version = stored.as_ref().map_or(1, |s| s.version + 1);
            let first_seq = stored.as_ref().map_or(0, |s| s.history_len);
            for (i, entry) in history.iter_mut().enumerate() {
                entry.seq = first_seq + i as u64;
                tx.insert(keys::history(order.id, entry.seq), encode(entry))?;
            }
            order.history_len = first_seq + history.len() as u64;

            for entry in &old_entries {
                tx.remove(entry.as_slice())?;
            }
            let id_bytes = order.id.0.to_be_bytes();
            for entry in keys::index_entries(&order) {
                tx.insert(entry, &id_bytes[..])?;
            }
            tx.insert(key, encode(&order))?;
            for (article, delta) in &write.stock {
                adjust(tx, article, *delta, order.updated)?;
            }
            for job in &write.jobs {
                tx.insert(keys::job(job.id), encode(job))?;
            }
            if let Some((id, applied)) = &write.event {
                let mut applied = applied.clone();
                applied.history = history.iter().map(|h| h.seq).collect();
                tx.insert(keys::event(id), encode(&applied))?;
            }
            Ok(Committed { order, history })
        });
        match result {
            Ok(committed) => {
                self.wrote();
                Ok(committed)
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(CommitError::Store(e.into())),
        }
    }
}

fn adjust(
    tx: &TransactionalTree,
    article: &str,
    delta: i64,
    at: Timestamp,
) -> Result<(), ConflictableTransactionError<CommitError>> {
    let key = keys::named(keys::STOCK, article);
    let mut stock: Stock = match tx.get(&key)? {
        Some(v) => decode(&key, &v).map_err(abort)?,
        None => Stock {
            article: article.to_owned(),
            quantity: 0,
            updated: at,
        },
    };
    stock.quantity = stock.quantity.saturating_add(delta);
    stock.updated = at;
    tx.insert(key, encode(&stock))?;
    Ok(())
}

fn abort<E: Into<CommitError>>(e: E) -> ConflictableTransactionError<CommitError> {
    ConflictableTransactionError::Abort(e.into())
}

/// The next number of a sequence, inside the transaction: a number is drawn
/// only when the transaction commits, so the sequence has no gaps.
fn draw(
    tx: &TransactionalTree,
    key: &[u8],
    start: u64,
) -> Result<u64, ConflictableTransactionError<CommitError>> {
    let next = match tx.get(key)? {
        // A start number raised later takes effect at once.
        Some(v) => (u64_of(&v) + 1).max(start),
        None => start,
    };
    tx.insert(key, &next.to_be_bytes()[..])?;
    Ok(next)
}
