//! A process killed with SIGKILL in the middle of a stream of transitions
//! and a bulk job, restarted each time, loses no committed transition,
//! duplicates none and leaves no index pointing at a stale status.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use statusport_core::domain::event::{Change, JobKind};
use statusport_core::domain::platform::Dimension;
use statusport_core::store::Store;
use statusport_tests::crash;

const ORDERS: u64 = 3_000;
const KILLS: usize = 8;

/// Runs the worker on the store in `dir`; kills it `after` it started, or
/// lets it finish. Returns its output lines.
fn run_worker(dir: &std::path::Path, after: Option<Duration>) -> Vec<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_engine-crash-worker"));
    command
        .arg(dir.join("store"))
        .arg(dir.join("cache"))
        .arg(ORDERS.to_string());
    crash::run_worker(command, after)
}

#[test]
fn a_killed_process_loses_and_duplicates_no_transition() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = crash::seed();
    let mut committed = BTreeSet::new();
    let mut killed_in_bulk = false;
    for _ in 0..KILLS {
        let after = Duration::from_millis(20 + crash::next(&mut seed) % 3_000);
        let lines = run_worker(dir.path(), Some(after));
        killed_in_bulk |=
            lines.iter().any(|l| l == "paid") && !lines.iter().any(|l| l == "finished");
        committed.extend(
            lines
                .iter()
                .filter_map(|l| l.strip_prefix("committed ").map(str::to_owned)),
        );
    }
    let last = run_worker(dir.path(), None);
    assert!(last.iter().any(|l| l == "finished"), "{last:?}");
    committed.extend(
        last.iter()
            .filter_map(|l| l.strip_prefix("committed ").map(str::to_owned)),
    );
    eprintln!(
        "{} transitions reported durable before the end; a kill landed in the bulk job: {killed_in_bulk}",
        committed.len()
    );

    let store = Store::open(&dir.path().join("store")).expect("the store opens after the kills");
    // Nothing committed was lost.
    for event in &committed {
        let order = statusport_core::domain::order::OrderId(
            event
                .strip_prefix("pay-")
                .and_then(|id| id.parse().ok())
                .expect("the worker names events pay-<order id>"),
        );
        assert!(
            store.applied_event(order, event).unwrap().is_some(),
            "{event} was reported durable and is gone"
        );
    }
    // No order was created twice.
    let orders: Vec<_> = store.orders_after(None).collect::<Result<_, _>>().unwrap();
    assert_eq!(orders.len() as u64, ORDERS);
    let mut invoices = BTreeSet::new();
    let mut emails = BTreeSet::new();
    for order in &orders {
        let history = store.history(order.id).unwrap();
        let paid = history
            .iter()
            .filter(|h| {
                h.event == format!("pay-{}", order.id)
                    && matches!(
                        h.change,
                        Change::Status {
                            dimension: Dimension::Payment,
                            ..
                        }
                    )
            })
            .count();
        assert_eq!(paid, 1, "order {}: payment applied {paid} times", order.id);
        let bulk = history
            .iter()
            .filter(|h| h.event.starts_with("bulk:") && matches!(h.change, Change::Status { .. }))
            .count();
        assert_eq!(bulk, 1, "order {}: bulk changed it {bulk} times", order.id);
        assert_eq!(order.status(Dimension::Order), Some("produced"));
        assert_eq!(order.status(Dimension::Payment), Some("paid"));
        assert!(
            invoices.insert(order.invoice_number.clone().expect("an invoice number")),
            "invoice number {:?} given twice",
            order.invoice_number
        );
    }
    // Gap-free invoice numbers, stock taken once per order.
    let expected: BTreeSet<String> = (1..=ORDERS).map(|n| format!("INV-{n}")).collect();
    assert_eq!(invoices, expected);
    let stock = store
        .record::<statusport_core::domain::event::Stock>(
            statusport_core::store::keys::STOCK,
            "SKU-1",
        )
        .unwrap()
        .expect("stock is kept");
    assert_eq!(stock.quantity, -2 * ORDERS as i64);
    // One mail job per order, each with its own key.
    for job in store.jobs().unwrap() {
        if let JobKind::Email { template } = &job.kind {
            assert_eq!(template, "payment-received");
            assert!(
                emails.insert(job.idempotency_key.clone()),
                "two mails for {}",
                job.idempotency_key
            );
        }
    }
    assert_eq!(emails.len() as u64, ORDERS);
    // Every index points at the order's committed status.
    assert_eq!(store.index_problems().unwrap(), Vec::<String>::new());
    assert_eq!(
        store
            .orders_in_status("shop", Dimension::Order, "produced")
            .unwrap()
            .len() as u64,
        ORDERS
    );
}

/// Goods receipts: the stock is booked and the waiting orders woken from
/// the receipt's record. Killed anywhere — between the booking and the
/// first wake-up, in the middle of waking — and restarted, each order is
/// woken exactly once and each receipt adds its stock once.
#[test]
fn a_killed_process_wakes_each_waiting_order_exactly_once() {
    const GOODS_ORDERS: u64 = 800;
    const ARTICLES: u64 = 8;
    let dir = tempfile::tempdir().unwrap();
    let run = |after: Option<Duration>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_engine-crash-worker"));
        command
            .arg(dir.path().join("store"))
            .arg(dir.path().join("cache"))
            .arg(GOODS_ORDERS.to_string())
            .arg("goods");
        crash::run_worker(command, after)
    };
    let mut seed = crash::seed();
    let mut cut_short = 0;
    for _ in 0..KILLS {
        // The receipts take about a second here: kills within the first
        // 300 ms land between a booking and the end of its wake-ups.
        let after = Duration::from_millis(1 + crash::next(&mut seed) % 300);
        let lines = run(Some(after));
        if !lines.iter().any(|l| l == "finished") {
            cut_short += 1;
        }
    }
    eprintln!("{cut_short} of {KILLS} runs were killed before their receipts were done");
    assert!(cut_short > 0, "no kill landed among the receipts");
    let last = run(None);
    assert!(last.iter().any(|l| l == "finished"), "{last:?}");

    let store = Store::open(&dir.path().join("store")).unwrap();
    assert!(store.pending_wakes().unwrap().is_empty());
    for a in 0..ARTICLES {
        let stock = store
            .record::<statusport_core::domain::event::Stock>(
                statusport_core::store::keys::STOCK,
                &format!("ART-{a}"),
            )
            .unwrap()
            .expect("the receipt was booked");
        assert_eq!(stock.quantity, 1, "ART-{a} booked {} times", stock.quantity);
    }
    let orders: Vec<_> = store.orders_after(None).collect::<Result<_, _>>().unwrap();
    assert_eq!(orders.len() as u64, GOODS_ORDERS);
    for order in &orders {
        let article = &order.lines[0].article;
        let receipt = format!("goods:gr-{}", article.trim_start_matches("ART-"));
        let woken = store
            .history(order.id)
            .unwrap()
            .iter()
            .filter(|h| {
                matches!(&h.change, Change::Field { field, after, .. }
                    if field == "goods_received" && after.as_deref() == Some(article.as_str()))
            })
            .map(|h| h.event.clone())
            .collect::<Vec<_>>();
        assert_eq!(woken, vec![receipt], "order {}", order.id);
    }
}
