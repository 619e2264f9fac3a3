//! The host killed with SIGKILL at random moments while thousands of jobs
//! are in flight, restarted each time: every shipment reaches the shop
//! exactly once in effect, every mail arrives at least once and never as two
//! different messages for one event, and nothing is left undelivered.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use statusport_core::domain::job::JobOutcome;
use statusport_tests::crash;
use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::smtp::SmtpServer;

use super::*;

const ORDERS: u64 = 1_000;
const KILLS: usize = 6;

/// Runs the worker on `dir`; kills it `after` it started, or lets it
/// finish. Returns its output lines.
fn run_worker(
    dir: &std::path::Path,
    shop: &str,
    smtp: u16,
    after: Option<Duration>,
) -> Vec<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_outbox-crash-worker"));
    command
        .arg(dir)
        .arg(shop)
        .arg(smtp.to_string())
        .arg(ORDERS.to_string());
    crash::run_worker(command, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_host_delivers_every_job_once_in_effect() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (1..=ORDERS).map(|i| i.to_string()).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let shop = serve(WooCommerce::new(&id_refs)).await;
    let smtp = SmtpServer::start();
    let mut seed = crash::seed();
    let data = dir.path().to_path_buf();
    let url = shop.url.clone();
    let port = smtp.port;
    let mut finished = false;
    for _ in 0..KILLS {
        let after = Duration::from_millis(300 + crash::next(&mut seed) % 2_500);
        let (d, u) = (data.clone(), url.clone());
        let lines = tokio::task::spawn_blocking(move || run_worker(&d, &u, port, Some(after)))
            .await
            .unwrap();
        if lines.iter().any(|l| l == "idle") {
            finished = true;
            break;
        }
    }
    if !finished {
        let (d, u) = (data.clone(), url.clone());
        let lines = tokio::task::spawn_blocking(move || run_worker(&d, &u, port, None))
            .await
            .unwrap();
        assert!(lines.iter().any(|l| l == "idle"), "{lines:?}");
    }

    // Every shipment reached the shop exactly once in effect, and every
    // order was completed there.
    {
        let state = shop.state();
        for id in &ids {
            let order = &state.orders[id];
            assert_eq!(
                order.trackings.len(),
                1,
                "order {id}: {:?}",
                order.trackings
            );
            assert_eq!(order.status, "completed", "order {id}");
        }
    }
    // Nothing is left, and every job ended delivered.
    let store = Store::open(&data.join("store")).unwrap();
    assert!(store.active_jobs().unwrap().is_empty());
    let jobs = store.jobs().unwrap();
    assert_eq!(jobs.len() as u64, 3 * ORDERS);
    for job in &jobs {
        let done = store.job_done(job.id).unwrap().expect("ended");
        assert!(
            matches!(done.outcome, JobOutcome::Delivered { .. }),
            "{job:?}: {done:?}"
        );
    }
    // Every mail arrived; a mail sent again after a crash carries the same
    // Message-ID, so no order got two different mails.
    let mails = smtp.wait_for(ORDERS as usize, Duration::from_secs(30));
    let mut ids_by_subject: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for mail in &mails {
        ids_by_subject
            .entry(mail.subject.clone())
            .or_default()
            .insert(mail.message_id.clone());
    }
    assert_eq!(ids_by_subject.len() as u64, ORDERS, "one subject per order");
    for (subject, message_ids) in &ids_by_subject {
        assert_eq!(message_ids.len(), 1, "{subject}: {message_ids:?}");
    }
    eprintln!(
        "{} mails for {ORDERS} orders ({} sent again after a kill, recognisable by Message-ID)",
        mails.len(),
        mails.len() as u64 - ORDERS
    );
}
