//! The engine through its public API, on a real sled store, with the
//! statuses the bundled plugins declare (from their `describe` snapshots:
//! the core's tests never start the plugin runtime).

mod bulk;
mod conditions;
mod crash;
mod fuzzing;
mod intake;
mod kills;
mod parsers;
mod properties;
mod query;
mod refusals;
mod safety;
mod store;
mod support;
mod triggers;
mod workflows;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};
use statusport_core::domain::event::{Event, EventKind, JobKind};
use statusport_core::domain::money::Money;
use statusport_core::domain::order::{Actor, Channel, Line, Order, OrderId};
use statusport_core::domain::platform::Dimension;
use statusport_core::engine::{Engine, NewOrder, Outcome, rulesets};
use statusport_core::store::Store;

/// An engine on a temporary store whose clock the test moves.
pub struct Fixture {
    pub engine: Engine,
    offset_secs: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
    pub dir: std::path::PathBuf,
}

impl Fixture {
    pub fn empty() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("data");
        let store = Arc::new(Store::open(&path).expect("the store opens"));
        let offset_secs = Arc::new(AtomicI64::new(0));
        let offset = offset_secs.clone();
        let engine = Engine::with_clock(
            store,
            support::platforms(),
            Box::new(move || {
                Timestamp::now() + SignedDuration::from_secs(offset.load(Ordering::SeqCst))
            }),
        )
        .expect("the engine starts");
        Fixture {
            engine,
            offset_secs,
            _dir: dir,
            dir: path,
        }
    }

    /// A fixture with one channel per bundled plugin: `shop` (generic),
    /// `woo` (woocommerce), `sw` (shopware6).
    pub fn with_channels() -> Fixture {
        let f = Fixture::empty();
        f.channel("shop", "generic", &[], |_| {});
        f.channel(
            "woo",
            "woocommerce",
            &[("consumer-key", "ck"), ("consumer-secret", "cs")],
            |_| {},
        );
        f.channel(
            "sw",
            "shopware6",
            &[("client-id", "id"), ("client-secret", "secret")],
            |_| {},
        );
        f
    }

    pub fn channel(
        &self,
        id: &str,
        plugin: &str,
        config: &[(&str, &str)],
        edit: impl FnOnce(&mut Channel),
    ) {
        let mut channel = Channel {
            id: id.try_into().expect("a valid channel id"),
            name: id.to_uppercase(),
            plugin: plugin.into(),
            base_url: Some("https://shop.example".into()),
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            grants: Vec::new(),
            invoice_numbering: true,
            requires_approval: false,
            push_manual_changes: true,
            concurrency: None,
            rate_per_second: None,
            poll_interval_secs: None,
        };
        edit(&mut channel);
        self.engine
            .save_channel(&channel)
            .expect("the channel is saved");
    }

    pub fn install(&self, sets: &[&str]) {
        for set in sets {
            rulesets::install(&self.engine, set).expect("the shipped rule set installs");
        }
    }

    /// Saves a plain email template named `name`.
    pub fn email_template(&self, name: &str) {
        self.engine
            .save_template(&statusport_core::domain::notify::Template {
                name: name.into(),
                kind: statusport_core::domain::notify::TemplateKind::Email,
                subject: Some("Order {{ order.number }}".into()),
                text: "Your order is {{ status.label }}.".into(),
                html: None,
            })
            .expect("the template saves");
    }

    pub fn pass_days(&self, days: i64) {
        self.offset_secs.fetch_add(days * 86_400, Ordering::SeqCst);
    }

    pub async fn order(&self, channel: &str, platform_id: &str, payment: &str) -> Order {
        self.order_by(
            channel,
            platform_id,
            payment,
            Actor::User("ops".into()),
            true,
        )
        .await
    }

    pub async fn order_by(
        &self,
        channel: &str,
        platform_id: &str,
        payment: &str,
        actor: Actor,
        approver: bool,
    ) -> Order {
        let (order, created) = self
            .engine
            .create_order(new_order(channel, platform_id, payment), actor, approver)
            .await
            .expect("the order is created");
        assert!(created, "order {platform_id} was new");
        order
    }

    pub async fn event(&self, order: OrderId, id: &str, kind: EventKind) -> Outcome {
        self.engine
            .apply(Event {
                id: id.into(),
                order,
                actor: Actor::User("ops".into()),
                kind,
                occurred_at: None,
            })
            .await
            .unwrap_or_else(|e| panic!("event {id} applies: {e}"))
    }

    pub fn get(&self, id: OrderId) -> Order {
        self.engine
            .store()
            .order(id)
            .expect("the store reads")
            .expect("the order exists")
    }

    pub fn jobs_of(&self, id: OrderId) -> Vec<JobKind> {
        self.engine
            .store()
            .jobs()
            .expect("the store reads")
            .into_iter()
            .filter(|j| j.order == id)
            .map(|j| j.kind)
            .collect()
    }
}

pub fn eur(text: &str) -> Money {
    text.parse().expect("a valid amount")
}

pub fn new_order(channel: &str, platform_id: &str, payment: &str) -> NewOrder {
    NewOrder {
        channel: channel.into(),
        platform_order_id: platform_id.into(),
        customer: "cust-1".into(),
        lines: vec![
            Line {
                line_id: String::new(),
                article: "SKU-100".into(),
                name: "Mug".into(),
                quantity: 2,
                delivered: 0,
                unit_price: eur("12.50 EUR"),
            },
            Line {
                line_id: String::new(),
                article: "SKU-200".into(),
                name: "Teapot".into(),
                quantity: 1,
                delivered: 0,
                unit_price: eur("30.00 EUR"),
            },
        ],
        currency: "EUR".into(),
        shipping: Some(eur("4.90 EUR")),
        payment_method: payment.into(),
        expected_delivery: None,
        statuses: Default::default(),
    }
}

pub fn status(order: &Order, dimension: Dimension) -> &str {
    order.status(dimension).unwrap_or("<none>")
}
