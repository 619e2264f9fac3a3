//! The host killed with SIGKILL while it imports thousands of orders, and
//! restarted each time: every order is imported exactly once — one order
//! per platform order id, one creation in its history, one job from the
//! rule on new orders — and the cursor ends where the platform's orders end.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use statusport_core::domain::event::Change;
use statusport_core::domain::order::Order;
use statusport_core::store::Store;
use statusport_tests::crash;

const ORDERS: usize = 20_000;
const PAGE: usize = 50;
const KILLS: usize = 8;

fn run_worker(dir: &Path, after: Option<Duration>) -> Vec<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intake-crash-worker"));
    command
        .arg(dir)
        .arg(statusport_tests::fixture_path("intake"))
        .arg("https://fixture.example")
        .arg(format!("orders={ORDERS},page={PAGE},secret=s"));
    crash::run_worker(command, after)
}

fn all_orders(store: &Store) -> Vec<Order> {
    store
        .all_order_ids()
        .map(|id| store.order(id.unwrap()).unwrap().unwrap())
        .collect()
}

/// How many orders the store holds (the worker is not running).
fn imported(dir: &Path) -> usize {
    let store = Store::open(&dir.join("store")).unwrap();
    store.all_order_ids().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_host_imports_every_order_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut seed = crash::seed();
    let mut finished = false;
    let mut killed_midway = 0;
    for _ in 0..KILLS {
        let after = Duration::from_millis(100 + crash::next(&mut seed) % 900);
        let d = data.clone();
        let lines = tokio::task::spawn_blocking(move || run_worker(&d, Some(after)))
            .await
            .unwrap();
        if lines.iter().any(|l| l == "idle") {
            finished = true;
            break;
        }
        let d = data.clone();
        let count = tokio::task::spawn_blocking(move || imported(&d))
            .await
            .unwrap();
        if count > 0 && count < ORDERS {
            killed_midway += 1;
        }
    }
    assert!(
        killed_midway > 0,
        "no kill landed while the import ran (finished: {finished}); the kill moments need to move"
    );
    if !finished {
        let d = data.clone();
        let lines = tokio::task::spawn_blocking(move || run_worker(&d, None))
            .await
            .unwrap();
        assert!(lines.iter().any(|l| l == "idle"), "{lines:?}");
    }

    let store = Store::open(&data.join("store")).unwrap();
    let orders = all_orders(&store);
    let mut by_platform_id: BTreeMap<String, usize> = BTreeMap::new();
    for order in &orders {
        *by_platform_id
            .entry(order.platform_order_id.clone())
            .or_default() += 1;
    }
    assert_eq!(by_platform_id.len(), ORDERS, "every order came in");
    assert!(by_platform_id.values().all(|n| *n == 1), "no order twice");
    let jobs = store.jobs().unwrap();
    let mut jobs_per_order: BTreeMap<u64, usize> = BTreeMap::new();
    for job in &jobs {
        *jobs_per_order.entry(job.order.0).or_default() += 1;
    }
    for order in &orders {
        assert_eq!(
            jobs_per_order.get(&order.id.0),
            Some(&1),
            "order {} ({}) has one job from the rule on new orders",
            order.id,
            order.platform_order_id
        );
        let created = store
            .history(order.id)
            .unwrap()
            .into_iter()
            .filter(|h| matches!(h.change, Change::Created))
            .count();
        assert_eq!(
            created, 1,
            "order {} was created once",
            order.platform_order_id
        );
    }
    let state = store.intake_state("shop").unwrap();
    assert_eq!(state.cursor.as_deref(), Some(ORDERS.to_string().as_str()));
    assert_eq!(state.imported.created, ORDERS as u64, "{state:?}");
    eprintln!("{killed_midway} kills landed while the import ran");
}
