//! Platform jobs: once in effect, in order, retried, failed, released.

use std::time::Duration;

use serde_json::json;
use statusport::outbox;
use statusport_core::domain::event::JobKind;
use statusport_core::domain::job::{FailureKind, JobOutcome, JobStatus};
use statusport_tests::smtp::SmtpServer;

use super::*;

fn kind_of(
    jobs: &[(Job, Option<JobState>, Option<JobDone>)],
    name: &str,
) -> (Job, Option<JobState>, Option<JobDone>) {
    jobs.iter()
        .find(|(j, _, _)| j.kind.name() == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} job in {jobs:#?}"))
}

/// Index of the first request matching `method` and a path ending in `tail`.
fn request_index(host: &Host, method: &str, tail: &str) -> usize {
    host.shop
        .received()
        .iter()
        .position(|r| r.method == method && r.path.ends_with(tail))
        .unwrap_or_else(|| panic!("no {method} …{tail} in {:#?}", host.shop.received()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_shipment_reaches_the_platform_once_and_the_customer_once() {
    let smtp = SmtpServer::start();
    let host = Host::new(&["1"]).await;
    host.rules(&ship_rules());
    let outbox = host.start(quick(), Some(smtp_mailer(&smtp)), None);
    let order = host.order("woo", "1").await;
    host.ship(order, "00340434161094042557").await;
    host.settle(Duration::from_secs(30)).await;

    assert_eq!(host.trackings("1"), 1);
    assert_eq!(host.shop.state().orders["1"].status, "completed");
    // The tracking entry reached the shop before the status that depends on it.
    assert!(
        request_index(&host, "POST", "/shipment-trackings")
            < request_index(&host, "PUT", "/orders/1")
    );
    let mails = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    let number = host.store.order(order).unwrap().unwrap().number;
    assert_eq!(mail.subject, format!("Order {number} is on its way"));
    assert!(mail.rcpt_to.contains("ada@example.com"), "{mail:#?}");
    assert!(mail.to.contains("Ada Lovelace"), "{mail:#?}");
    assert!(mail.from.contains("shop@teapots.example"), "{mail:#?}");
    assert!(mail.text.contains("Hello Ada Lovelace"), "{}", mail.text);
    assert!(
        mail.text
            .contains("https://www.dhl.de/track?piececode=00340434161094042557"),
        "{}",
        mail.text
    );
    assert!(
        // The HTML part links the parcel (minijinja escapes the `/`s).
        mail.html.as_deref().unwrap_or_default().contains(
            r#"<a href="https:&#x2f;&#x2f;www.dhl.de&#x2f;track?piececode=00340434161094042557">00340434161094042557</a>"#
        ),
        "{mail:#?}"
    );

    // Each job is delivered, with the platform's acknowledgement kept apart
    // from the order's own status.
    let jobs = host.jobs(order);
    assert_eq!(jobs.len(), 3);
    for (job, state, done) in &jobs {
        assert!(state.is_none(), "{job:?} still active");
        let done = done.as_ref().expect("finished");
        assert_eq!(done.attempts, 1);
        assert!(
            matches!(done.outcome, JobOutcome::Delivered { .. }),
            "{done:?}"
        );
    }
    let (_, _, upload) = kind_of(&jobs, "upload_shipment");
    let JobOutcome::Delivered { receipt } = upload.unwrap().outcome else {
        unreachable!()
    };
    assert!(receipt.reference.is_some(), "{receipt:?}");
    let (_, _, mail_job) = kind_of(&jobs, "email");
    let JobOutcome::Delivered { receipt } = mail_job.unwrap().outcome else {
        unreachable!()
    };
    assert_eq!(receipt.reference.as_deref(), Some(mail.message_id.as_str()));
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_answered_503_three_times_is_made_once_and_the_push_waits_for_it() {
    let host = Host::new(&["1"]).await;
    host.rules(&ship_rules());
    for _ in 0..3 {
        host.shop.inject(
            503,
            &[],
            json!({ "code": "unavailable", "message": "down for maintenance" }),
        );
    }
    let order = host.order("woo", "1").await;
    host.ship(order, "1Z999").await;
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;

    assert_eq!(host.trackings("1"), 1);
    let jobs = host.jobs(order);
    let (_, _, upload) = kind_of(&jobs, "upload_shipment");
    let upload = upload.expect("delivered");
    assert_eq!(upload.attempts, 4, "{upload:#?}");
    assert_eq!(upload.history.iter().filter(|a| !a.ok).count(), 3);
    assert!(
        upload.history[0].detail.contains("503"),
        "{:?}",
        upload.history[0]
    );
    // The status push went out once, after the tracking entry.
    let puts = host
        .shop
        .received()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 1);
    assert!(
        request_index(&host, "POST", "/shipment-trackings")
            < request_index(&host, "PUT", "/orders/1")
    );
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_fails_the_job_with_the_platforms_message_until_an_operator_acts() {
    let host = Host::new(&["1", "2"]).await;
    host.rules(&ship_rules());
    let outbox = host.start(quick(), None, None);
    let first = host.order("woo", "1").await;
    let second = host.order("woo", "2").await;
    // Both uploads are refused: the read passes, the write is refused.
    for order in [first, second] {
        host.shop.inject_after(
            1,
            422,
            &[],
            json!({ "code": "woocommerce_rest_invalid_tracking", "message": "Tracking provider is not valid" }),
        );
        host.ship(order, &format!("T{order}")).await;
        host.settle(Duration::from_secs(30)).await;
    }
    for order in [first, second] {
        let jobs = host.jobs(order);
        let (upload, state, _) = kind_of(&jobs, "upload_shipment");
        let state = state.expect("active");
        assert_eq!(state.status, JobStatus::Failed);
        let failure = state.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(
            failure.message.contains("Tracking provider is not valid"),
            "{failure:?}"
        );
        // The push behind it waits; the mail does not depend on it.
        let (_, push, _) = kind_of(&jobs, "push_status");
        assert_eq!(push.expect("waiting").status, JobStatus::Pending);
        assert!(kind_of(&jobs, "email").2.is_some());
        assert!(
            host.store
                .failed_jobs()
                .unwrap()
                .iter()
                .any(|(j, _)| j.id == upload.id)
        );
    }
    assert_eq!(
        host.shop
            .received()
            .iter()
            .filter(|r| r.method == "PUT")
            .count(),
        0
    );

    // Retried, the first goes through, and its push follows.
    let (upload, _, _) = kind_of(&host.jobs(first), "upload_shipment");
    outbox::retry(&host.store, upload.id).unwrap();
    // Dropped, the second stays undelivered, and its push goes on.
    let (dropped, _, _) = kind_of(&host.jobs(second), "upload_shipment");
    outbox::drop_job(&host.store, dropped.id, "operator ops-1").unwrap();
    host.settle(Duration::from_secs(30)).await;

    assert_eq!(host.trackings("1"), 1);
    assert_eq!(host.trackings("2"), 0);
    assert_eq!(host.shop.state().orders["1"].status, "completed");
    assert_eq!(host.shop.state().orders["2"].status, "completed");
    let (_, _, done) = kind_of(&host.jobs(second), "upload_shipment");
    match done.expect("ended").outcome {
        JobOutcome::Dropped { by, failure } => {
            assert_eq!(by, "operator ops-1");
            assert_eq!(failure.expect("why it failed").kind, FailureKind::Rejected);
        }
        other => panic!("{other:?}"),
    }
    // Only failed jobs can be retried or dropped.
    let err = outbox::retry(&host.store, upload.id)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is delivered; only failed jobs can be retried"),
        "{err}"
    );
    assert!(host.store.failed_jobs().unwrap().is_empty());
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_plugins_jobs_retry_while_other_channels_flow() {
    let host = Host::new(&["1", "2", "3"]).await;
    host.rules(&ship_rules());
    let outbox = host.start(quick(), None, None);
    let trapped = host.order("trap", "t-1").await;
    host.ship(trapped, "TRAP1").await;
    let mut good = Vec::new();
    for id in ["1", "2", "3"] {
        let order = host.order("woo", id).await;
        host.ship(order, &format!("OK{id}")).await;
        good.push(order);
    }
    // The trap's upload keeps failing and is retried until it gives up;
    // the other channel's jobs are all delivered meanwhile.
    host.settle(Duration::from_secs(60)).await;
    for id in ["1", "2", "3"] {
        assert_eq!(host.trackings(id), 1);
    }
    let (_, state, _) = kind_of(&host.jobs(trapped), "upload_shipment");
    let state = state.expect("still active");
    assert_eq!(state.status, JobStatus::Failed);
    assert_eq!(state.attempts, quick().max_attempts);
    let failure = state.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::GaveUp);
    assert!(failure.message.contains("fault-trap"), "{failure:?}");
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_from_the_platform_is_honoured() {
    let host = Host::new(&["1"]).await;
    host.rules(&ship_rules());
    host.shop.inject(
        429,
        &[("retry-after", "1")],
        json!({ "code": "too_many_requests", "message": "slow down" }),
    );
    let order = host.order("woo", "1").await;
    host.ship(order, "R1").await;
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;
    let (_, _, done) = kind_of(&host.jobs(order), "upload_shipment");
    let history = done.expect("delivered").history;
    assert_eq!(history.len(), 2);
    // The quick backoff would have retried within 20 ms.
    let waited = history[1].at.duration_since(history[0].at);
    assert!(waited.as_millis() >= 990, "retried after {waited:?}");
    assert_eq!(host.trackings("1"), 1);
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_cut_off_by_a_shutdown_run_at_the_next_start_once_in_effect() {
    let host = Host::new(&["1", "2", "3", "4", "5", "6", "7", "8"]).await;
    host.rules(&ship_rules());
    let mut orders = Vec::new();
    for id in 1..=8 {
        let order = host.order("woo", &id.to_string()).await;
        host.ship(order, &format!("S{id}")).await;
        orders.push(order);
    }
    let outbox = host.start(quick(), None, None);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let report = outbox.shutdown(Duration::ZERO).await;
    let waiting = host.store.active_jobs().unwrap().len();
    // Whatever was cut off is still in the store, not lost.
    assert!(report.released <= waiting, "{report:?}, {waiting} waiting");
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;
    for id in 1..=8 {
        assert_eq!(host.trackings(&id.to_string()), 1, "order {id}");
    }
    for order in orders {
        for (job, state, done) in host.jobs(order) {
            assert!(state.is_none() && done.is_some(), "{job:?}");
            assert!(!matches!(job.kind, JobKind::Webhook { .. }));
        }
    }
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_rate_limit_spaces_its_platform_calls() {
    let ids = ["1", "2", "3", "4", "5", "6"];
    let host = Host::new(&ids).await;
    host.rules(
        r#"
[[rule]]
id = "upload"
channels = ["woo"]
on = ["shipment_done"]
then = { upload_shipments = true }
"#,
    );
    let mut channel = woo_channel(&host.shop.url, Some(8));
    channel.rate_per_second = Some(2);
    host.engine.save_channel(&channel).unwrap();
    let mut orders = Vec::new();
    for id in ids {
        let order = host.order("woo", id).await;
        host.ship(order, &format!("L{id}")).await;
        orders.push(order);
    }
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;
    let mut starts: Vec<jiff::Timestamp> = orders
        .iter()
        .map(|o| {
            let (_, _, done) = kind_of(&host.jobs(*o), "upload_shipment");
            done.expect("delivered").history[0].at
        })
        .collect();
    starts.sort();
    // Two calls a second: six calls cannot start within less than two
    // seconds (a burst of two, then one every half second).
    let spread = starts[5].duration_since(starts[0]);
    assert!(
        spread.as_millis() >= 1_900,
        "six calls started within {spread:?}"
    );
    for id in ids {
        assert_eq!(host.trackings(id), 1);
    }
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracking_entry_acknowledged_but_not_kept_is_found_by_the_read_back_and_sent_again() {
    let host = Host::new(&["1"]).await;
    host.rules(&ship_rules());
    host.shop.state().lose_trackings = 1;
    let order = host.order("woo", "1").await;
    host.ship(order, "LOST1").await;
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;
    assert_eq!(host.trackings("1"), 1);
    let jobs = host.jobs(order);
    let (_, _, done) = kind_of(&jobs, "upload_shipment");
    let done = done.expect("delivered");
    assert_eq!(done.attempts, 2, "{done:#?}");
    assert!(
        done.history[0]
            .detail
            .contains("acknowledged tracking number(s) LOST1 but does not list them"),
        "{:?}",
        done.history[0]
    );
    outbox.shutdown(Duration::from_secs(5)).await;
}
