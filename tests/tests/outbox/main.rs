//! The outbox end to end: the engine writes jobs, the dispatcher runs them
//! through the real plugins against fake platforms, a real SMTP server, an
//! SMS gateway and webhook receivers on loopback.

mod cli;
mod crash;
mod delivery;
mod notify;

use std::sync::Arc;
use std::time::{Duration, Instant};

use statusport::notify::mail::{MailConfig, Mailer, Security, SmtpConfig};
use statusport::notify::webhook::WebhookSender;
use statusport::outbox::{Outbox, OutboxConfig, Services};
use statusport_core::domain::event::{Event, EventKind, Job};
use statusport_core::domain::job::{JobDone, JobState, JobStatus};
use statusport_core::domain::order::{Actor, Customer, OrderId};
use statusport_core::engine::Engine;
use statusport_core::store::Store;
use statusport_runtime::registry::Registry;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::fake::{Server, serve};
use statusport_tests::shop::{SHIP_RULE, channel, dhl_shipment, teapot_order, woo_channel};
use statusport_tests::smtp::SmtpServer;

/// Retries in milliseconds, so that tests of backoff take moments.
pub fn quick() -> OutboxConfig {
    OutboxConfig {
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        max_attempts: 6,
        ..OutboxConfig::default()
    }
}

/// A registry over a folder holding the bundled plugins and the trap
/// fixture, with compiled code cached across tests.
pub async fn registry(dir: &std::path::Path) -> Arc<Registry> {
    let plugins = statusport_tests::plugin_dir(dir, &["trap"]);
    let cache = statusport_tests::root()
        .join("target")
        .join("test-plugin-cache");
    let runtime = statusport_tests::runtime(statusport_tests::test_limits(), Some(cache));
    Registry::open(runtime, &plugins).await.unwrap()
}

/// The host's parts on a temporary store, with a fake WooCommerce behind
/// channel `woo` and the trap fixture behind channel `trap`.
pub struct Host {
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
    pub shop: Server<WooCommerce>,
    pub dir: tempfile::TempDir,
}

impl Host {
    pub async fn new(orders: &[&str]) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
        let registry = registry(dir.path()).await;
        let engine = Arc::new(Engine::new(store.clone(), registry.clone()).unwrap());
        let shop = serve(WooCommerce::new(orders)).await;
        let host = Host {
            store,
            engine,
            registry,
            shop,
            dir,
        };
        host.engine
            .save_channel(&woo_channel(&host.shop.url, None))
            .unwrap();
        host.engine
            .save_channel(&channel(
                "trap",
                "fault-trap",
                Some("http://127.0.0.1:9"),
                &[],
            ))
            .unwrap();
        host.engine
            .store()
            .put_customer(
                &"woo".try_into().unwrap(),
                &Customer {
                    id: "c-1".into(),
                    channel: None,
                    name: "Ada Lovelace".into(),
                    email: Some("ada@example.com".into()),
                    phone: Some("+4915112345678".into()),
                    address: Vec::new(),
                },
            )
            .unwrap();
        statusport_core::engine::rulesets::install_templates(&host.engine).unwrap();
        host
    }

    pub fn rules(&self, toml: &str) {
        self.engine.import_rules(toml).unwrap();
    }

    /// Starts the dispatcher with `mailer` (`.eml` files under the data
    /// directory when `None`).
    pub fn start(
        &self,
        config: OutboxConfig,
        mailer: Option<Mailer>,
        sms: Option<statusport::notify::sms::SmsGateway>,
    ) -> Outbox {
        let mailer = mailer.unwrap_or_else(|| {
            Mailer::new(&MailConfig::default(), &self.dir.path().join("mail")).unwrap()
        });
        Outbox::start(
            self.store.clone(),
            Services {
                plugins: Some(self.registry.clone()),
                mailer: Some(Arc::new(mailer)),
                sms: sms.map(Arc::new),
                webhooks: Arc::new(WebhookSender::new(Duration::from_secs(5)).unwrap()),
            },
            config,
        )
        .unwrap()
    }

    pub async fn order(&self, channel: &str, platform_id: &str) -> OrderId {
        self.engine
            .create_order(
                teapot_order(channel, platform_id),
                Actor::User("test".into()),
                true,
            )
            .await
            .unwrap()
            .0
            .id
    }

    pub async fn event(&self, order: OrderId, id: &str, kind: EventKind) {
        self.engine
            .apply(Event {
                id: id.into(),
                order,
                actor: Actor::User("test".into()),
                kind,
                occurred_at: None,
            })
            .await
            .unwrap();
    }

    /// A done shipment with one DHL parcel.
    pub async fn ship(&self, order: OrderId, tracking: &str) {
        self.event(order, &format!("ship-{tracking}"), dhl_shipment(tracking))
            .await;
    }

    pub fn jobs(&self, order: OrderId) -> Vec<(Job, Option<JobState>, Option<JobDone>)> {
        self.store
            .jobs_of_order(order)
            .unwrap()
            .into_iter()
            .map(|r| (r.job, r.state, r.done))
            .collect()
    }

    /// Waits until every job waiting to run is held back by a failed platform
    /// job of its order (or none is waiting).
    pub async fn settle(&self, within: Duration) {
        let started = Instant::now();
        loop {
            let active = self.store.active_jobs().unwrap();
            let blocked: std::collections::BTreeSet<OrderId> = active
                .iter()
                .filter(|(j, s)| s.status == JobStatus::Failed && j.kind.is_platform())
                .map(|(j, _)| j.order)
                .collect();
            let waiting = active
                .iter()
                .filter(|(j, s)| {
                    s.status == JobStatus::Pending
                        && !(j.kind.is_platform() && blocked.contains(&j.order))
                })
                .count();
            if waiting == 0 {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{waiting} jobs still waiting after {within:?}: {active:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tracking entries the fake shop holds for `order`.
    pub fn trackings(&self, order: &str) -> usize {
        self.shop
            .state()
            .orders
            .get(order)
            .map(|o| o.trackings.len())
            .unwrap_or(0)
    }
}

/// A mailer to a real SMTP server on loopback, without TLS.
pub fn smtp_mailer(server: &SmtpServer) -> Mailer {
    Mailer::new(
        &MailConfig {
            from: "Teapot Shop <shop@teapots.example>".into(),
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(server.port),
                security: Security::None,
                username: None,
                password: None,
                timeout_secs: 10,
                pool_size: 4,
            }),
            spool_dir: None,
        },
        std::path::Path::new("/nonexistent"),
    )
    .unwrap()
}

/// The shop's shipping rule, and one for the trapping plugin's channel.
pub fn ship_rules() -> String {
    format!(
        "{SHIP_RULE}{}",
        r#"
[[rule]]
id = "ship-trap"
channels = ["trap"]
on = ["shipment_done"]
when = { tracked_shipment_done = true }
to = "order:done"
then = { upload_shipments = true, push_status = true }
"#
    )
}
