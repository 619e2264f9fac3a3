//! Templates, mail files, SMS and webhooks.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use statusport::notify::sms::{SmsConfig, SmsGateway};
use statusport::notify::webhook;
use statusport_core::domain::job::{FailureKind, JobOutcome, JobStatus};
use statusport_core::domain::notify::{Template, TemplateKind, WebhookEndpoint};

use super::*;

fn email(name: &str, subject: Option<&str>, text: &str) -> Template {
    Template {
        name: name.into(),
        kind: TemplateKind::Email,
        subject: subject.map(Into::into),
        text: text.into(),
        html: None,
    }
}

#[tokio::test]
async fn templates_are_checked_when_saved_and_the_error_says_what_is_wrong() {
    let host = Host::new(&[]).await;
    let engine = &host.engine;
    let cases = [
        (
            email("a", Some("Order {{ order.numbr }}"), "x"),
            "a.subject",
        ),
        (email("b", Some("Hi"), "{% if %}"), "b.txt: line 1"),
        (
            email("c", None, "x"),
            "subject: an email template needs a subject",
        ),
        (
            email("d", Some("Hi"), "{{ customer.name | nosuchfilter }}"),
            "d.txt",
        ),
        (
            Template {
                name: "e".into(),
                kind: TemplateKind::Sms,
                subject: Some("no".into()),
                text: "x".into(),
                html: None,
            },
            "an sms template has only `text`",
        ),
        (
            email("f", Some("Hi"), "{% extends \"nolayout.txt\" %}"),
            "f.txt",
        ),
    ];
    for (template, wanted) in cases {
        let err = engine.save_template(&template).unwrap_err().to_string();
        assert!(err.contains(wanted), "{}: {err}", template.name);
        assert!(engine.template(&template.name).unwrap().is_none());
    }
    // A variable that does not exist is named, with the ones that do.
    let err = engine
        .save_template(&email("g", Some("Hi"), "{{ invoice }}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("variables: order, customer"), "{err}");

    // A rule must name a template of the right kind.
    let err = engine
        .import_rules(
            r#"
[[rule]]
id = "sms"
channels = ["woo"]
on = ["picked"]
then = { sms = "shipped" }
"#,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "then.sms: template \"shipped\" is an email template (known sms templates: shipped-sms)"
        ),
        "{err}"
    );
    // A template in use keeps its kind, and cannot be deleted.
    host.rules(&ship_rules());
    let err = engine
        .save_template(&Template {
            name: "shipped".into(),
            kind: TemplateKind::Sms,
            subject: None,
            text: "x".into(),
            html: None,
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rules ship use it as an email template"),
        "{err}"
    );
    let err = engine.delete_template("shipped").unwrap_err().to_string();
    assert!(err.contains("used by rules ship"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_relay_mail_is_written_as_eml_files_named_by_a_stable_message_id() {
    let host = Host::new(&["1"]).await;
    host.rules(&ship_rules());
    let order = host.order("woo", "1").await;
    host.ship(order, "E1").await;
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(host.dir.path().join("mail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("To: \"Ada Lovelace\" <ada@example.com>"),
        "{text}"
    );
    assert!(text.contains("is on its way"), "{text}");
    let mailer = statusport::notify::mail::Mailer::new(
        &statusport::notify::mail::MailConfig::default(),
        &host.dir.path().join("mail"),
    )
    .unwrap();
    let (job, _, _) = host
        .jobs(order)
        .into_iter()
        .find(|(j, _, _)| j.kind.name() == "email")
        .unwrap();
    let id = mailer.message_id(&job.idempotency_key);
    assert!(text.contains(&format!("Message-ID: {id}")), "{text}");
    assert!(files[0].ends_with(format!("{}.eml", id.trim_matches(['<', '>']))));
    outbox.shutdown(Duration::from_secs(5)).await;
}

/// A receiver on loopback that answers with the statuses queued, then 200,
/// and keeps what it got.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn receiver(mut answers: Vec<u16>) -> Receiver {
    answers.reverse();
    let answers = Arc::new(Mutex::new(answers));
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let answers = answers.clone();
        let keep = keep.clone();
        async move {
            keep.lock()
                .unwrap()
                .push((headers, String::from_utf8_lossy(&body).into_owned()));
            let status = answers.lock().unwrap().pop().unwrap_or(200);
            (
                StatusCode::from_u16(status).unwrap(),
                format!("answer {status}"),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        url,
        got,
        _task: task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_goes_through_the_gateway_and_a_customer_without_a_number_fails_the_job() {
    let gateway = receiver(vec![]).await;
    let host = Host::new(&["1", "2"]).await;
    host.rules(
        r#"
[[rule]]
id = "text"
channels = ["woo"]
on = ["shipment_done"]
then = { sms = "shipped-sms" }
"#,
    );
    let sms = SmsGateway::new(&SmsConfig {
        url: gateway.url.clone(),
        authorization: Some("Bearer sms-token".into()),
        from: Some("Teapots".into()),
        body: r#"{"to": {{ to | tojson }}, "from": {{ from | tojson }}, "text": {{ text | tojson }}, "reference": {{ reference | tojson }}}"#.into(),
        content_type: "application/json".into(),
        timeout_secs: 5,
    })
    .unwrap();
    let outbox = host.start(quick(), None, Some(sms));
    let order = host.order("woo", "1").await;
    host.ship(order, "SMS1").await;
    host.settle(Duration::from_secs(30)).await;
    {
        let got = gateway.got.lock().unwrap();
        assert_eq!(got.len(), 1);
        let (headers, body) = &got[0];
        assert_eq!(headers["authorization"], "Bearer sms-token");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["to"], "+4915112345678");
        assert_eq!(body["from"], "Teapots");
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("is on its way"), "{text}");
        assert!(text.contains("piececode=SMS1"), "{text}");
        assert_eq!(
            headers["idempotency-key"],
            body["reference"].as_str().unwrap()
        );
    }

    // No phone number: the job fails, naming the customer, and waits.
    host.store
        .put_customer(
            &"woo".try_into().unwrap(),
            &Customer {
                id: "c-1".into(),
                channel: None,
                name: "Ada Lovelace".into(),
                email: None,
                phone: None,
                address: Vec::new(),
            },
        )
        .unwrap();
    let second = host.order("woo", "2").await;
    host.ship(second, "SMS2").await;
    host.settle(Duration::from_secs(30)).await;
    let (_, state, _) = host
        .jobs(second)
        .into_iter()
        .find(|(j, _, _)| j.kind.name() == "sms")
        .unwrap();
    let state = state.unwrap();
    assert_eq!(state.status, JobStatus::Failed);
    let failure = state.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::Rejected);
    assert!(
        failure.message.contains("customer c-1 has no phone number"),
        "{failure:?}"
    );
    assert_eq!(gateway.got.lock().unwrap().len(), 1);
    // Bad gateway settings are refused with the setting named.
    let err = SmsGateway::new(&SmsConfig {
        url: "ftp://sms.example".into(),
        authorization: None,
        from: None,
        body: "{{ to }".into(),
        content_type: "text/plain".into(),
        timeout_secs: 5,
    })
    .err()
    .unwrap();
    assert!(err.contains("sms.url"), "{err}");
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_with_the_same_event_id_and_listed_with_responses() {
    let hook = receiver(vec![500]).await;
    let other = receiver(vec![]).await;
    let host = Host::new(&["1"]).await;
    let secret = "whsec_0123456789abcdef";
    host.engine
        .save_webhook(&WebhookEndpoint {
            id: "erp".into(),
            url: hook.url.clone(),
            events: vec!["order.shipped".into()],
            secret: secret.into(),
            enabled: true,
        })
        .unwrap();
    host.engine
        .save_webhook(&WebhookEndpoint {
            id: "crm".into(),
            url: other.url.clone(),
            events: vec!["order.paid".into()],
            secret: secret.into(),
            enabled: true,
        })
        .unwrap();
    let err = host
        .engine
        .save_webhook(&WebhookEndpoint {
            id: "bad".into(),
            url: "mailto:x@example.com".into(),
            events: vec![],
            secret: "short".into(),
            enabled: true,
        })
        .unwrap_err()
        .to_string();
    for wanted in ["must be http or https", "events:", "secret:"] {
        assert!(err.contains(wanted), "{err}");
    }
    host.rules(
        r#"
[[rule]]
id = "hook"
channels = ["woo"]
on = ["shipment_done"]
then = { webhook = "order.shipped" }
"#,
    );
    let outbox = host.start(quick(), None, None);
    let order = host.order("woo", "1").await;
    host.ship(order, "W1").await;
    host.settle(Duration::from_secs(30)).await;

    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one 500, one 200");
    assert!(other.got.lock().unwrap().is_empty());
    let ids: Vec<&str> = got
        .iter()
        .map(|(h, _)| h[webhook::EVENT_ID_HEADER].to_str().unwrap())
        .collect();
    assert_eq!(ids[0], ids[1], "a retry carries the same event id");
    for (headers, body) in &got {
        assert_eq!(headers[webhook::EVENT_TYPE_HEADER], "order.shipped");
        let signature = headers[webhook::SIGNATURE_HEADER].to_str().unwrap();
        let now = jiff::Timestamp::now().as_second();
        assert!(
            webhook::verify(secret, signature, body, now, 300),
            "{signature}"
        );
        assert!(!webhook::verify(
            "another secret!!",
            signature,
            body,
            now,
            300
        ));
        assert!(!webhook::verify(
            secret,
            signature,
            &body.replace("W1", "W2"),
            now,
            300
        ));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["id"], ids[0]);
        assert_eq!(json["type"], "order.shipped");
        assert_eq!(json["data"]["order"]["tracking"][0]["number"], "W1");
    }
    let deliveries = host.store.webhook_deliveries("erp", 10).unwrap();
    assert_eq!(deliveries.len(), 1);
    let done = deliveries[0].done.clone().expect("delivered");
    assert!(matches!(done.outcome, JobOutcome::Delivered { .. }));
    assert_eq!(done.history.len(), 2);
    assert!(
        done.history[0].detail.contains("HTTP 500 answer 500"),
        "{:?}",
        done.history
    );
    assert!(
        done.history[1].detail.contains("HTTP 200 answer 200"),
        "{:?}",
        done.history
    );
    assert!(host.store.webhook_deliveries("crm", 10).unwrap().is_empty());
    outbox.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_days_late_is_not_sent_unless_an_operator_retries_it() {
    let host = Host::new(&["1"]).await;
    host.rules(&ship_rules());
    // An engine whose clock is three days behind: its jobs are three days
    // old when the outbox first sees them (an outbox stopped for days).
    let late = Engine::with_clock(
        host.store.clone(),
        host.registry.clone(),
        Box::new(|| jiff::Timestamp::now() - jiff::SignedDuration::from_hours(72)),
    )
    .unwrap();
    let order = late
        .create_order(
            statusport_tests::shop::teapot_order("woo", "1"),
            Actor::User("test".into()),
            true,
        )
        .await
        .unwrap()
        .0
        .id;
    late.apply(Event {
        id: "late-ship".into(),
        order,
        actor: Actor::User("test".into()),
        kind: statusport_tests::shop::dhl_shipment("LATE1"),
        occurred_at: None,
    })
    .await
    .unwrap();
    let outbox = host.start(quick(), None, None);
    host.settle(Duration::from_secs(30)).await;
    let jobs = host.jobs(order);
    let (mail, state, _) = jobs
        .iter()
        .find(|(j, _, _)| j.kind.name() == "email")
        .cloned()
        .unwrap();
    let failure = state.expect("active").failure.expect("failed");
    assert_eq!(failure.kind, FailureKind::Expired);
    assert!(
        failure.message.contains("more than 48 h ago"),
        "{failure:?}"
    );
    // The shop still gets its tracking number: only messages expire.
    assert_eq!(host.trackings("1"), 1);
    assert!(
        !host
            .dir
            .path()
            .join("mail")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    );

    statusport::outbox::retry(&host.store, mail.id).unwrap();
    host.settle(Duration::from_secs(30)).await;
    let done = host
        .store
        .job_done(mail.id)
        .unwrap()
        .expect("sent after the retry");
    assert!(
        matches!(done.outcome, JobOutcome::Delivered { .. }),
        "{done:?}"
    );
    outbox.shutdown(Duration::from_secs(5)).await;
}
