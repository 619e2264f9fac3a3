//! `statusport job …` on a stopped host's data directory.

use std::time::Duration;

use serde_json::json;
use statusport_tests::statusport_bin;

use super::*;

async fn statusport(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(statusport_bin())
        .args(args)
        .output()
        .await
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_jobs_are_listed_shown_retried_and_dropped_from_the_command_line() {
    let host = Host::new(&["1", "2"]).await;
    host.rules(&ship_rules());
    let outbox = host.start(quick(), None, None);
    let mut uploads = Vec::new();
    for (i, id) in ["1", "2"].iter().enumerate() {
        host.shop.inject_after(
            1,
            422,
            &[],
            json!({ "code": "invalid", "message": format!("Tracking provider is not valid ({i})") }),
        );
        let order = host.order("woo", id).await;
        host.ship(order, &format!("C{id}")).await;
        host.settle(Duration::from_secs(30)).await;
        let upload = host
            .jobs(order)
            .into_iter()
            .find(|(j, _, _)| j.kind.name() == "upload_shipment")
            .unwrap()
            .0;
        uploads.push(upload.id);
    }
    outbox.shutdown(Duration::from_secs(5)).await;
    host.store.flush().await.unwrap();
    let Host {
        dir,
        store,
        engine,
        registry,
        shop,
    } = host;
    drop((store, engine, registry, shop, outbox));
    let data = dir.path().to_str().unwrap();

    let (code, text) = statusport(&["job", "failed", "--data-dir", data]).await;
    assert_eq!(code, 0, "{text}");
    for id in &uploads {
        assert!(text.contains(&id.to_string()), "{text}");
    }
    assert!(text.contains("upload_shipment"), "{text}");
    assert!(text.contains("rejected"), "{text}");
    assert!(
        text.contains("Tracking provider is not valid (1)"),
        "{text}"
    );

    let (code, text) =
        statusport(&["job", "show", &uploads[0].to_string(), "--data-dir", data]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("status    failed (rejected)"), "{text}");
    assert!(text.contains("attempt"), "{text}");

    let (code, text) =
        statusport(&["job", "retry", &uploads[0].to_string(), "--data-dir", data]).await;
    assert_eq!(code, 0, "{text}");
    let (code, text) = statusport(&[
        "job",
        "drop",
        &uploads[1].to_string(),
        "--by",
        "ops-2",
        "--data-dir",
        data,
    ])
    .await;
    assert_eq!(code, 0, "{text}");
    let (code, text) = statusport(&["job", "failed", "--data-dir", data]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no failed jobs"), "{text}");
    // A job that is not failed cannot be dropped; the error says why.
    let (code, text) =
        statusport(&["job", "drop", &uploads[1].to_string(), "--data-dir", data]).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("is dropped; only failed jobs can be dropped"),
        "{text}"
    );
    let (code, text) = statusport(&["job", "show", "999999999", "--data-dir", data]).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("job 999999999 does not exist"), "{text}");

    // The retried job is delivered at the next start; the dropped one is not.
    let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
    assert_eq!(
        store.job_state(uploads[0]).unwrap().unwrap().status,
        JobStatus::Pending
    );
    assert!(store.job_done(uploads[1]).unwrap().is_some());
}
