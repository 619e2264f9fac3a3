//! The `statusport` binary: `serve` and `config check`, and the client
//! commands over the API.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Api, new_order};

/// Runs the binary with the API's address and `token`; exit code and
/// stdout + stderr.
async fn statusport(api: &Api, token: &str, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(statusport_tests::statusport_bin())
        .args(args)
        .env("STATUSPORT_URL", &api.url)
        .env("STATUSPORT_TOKEN", token)
        .env_remove("STATUSPORT_DATA_DIR")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_commands_work_over_the_api() {
    let api = Api::start().await;
    let dir = api.dir.path();

    // Import orders from a file, one of them bad: the rest go in.
    let mut bad = new_order("gen", "g-bad");
    bad["currency"] = json!("euro");
    let orders = json!([
        new_order("gen", "g-1"),
        new_order("gen", "g-2"),
        bad,
        new_order("woo", "w-1")
    ]);
    let file = dir.join("orders.json");
    std::fs::write(&file, orders.to_string()).unwrap();
    let (code, out, err) = statusport(
        &api,
        &api.admin,
        &["order", "import", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1, "one order was refused: {out}{err}");
    assert!(
        err.contains("order 2:") && err.contains("currency"),
        "{err}"
    );
    let (code, out, err) = statusport(&api, &api.admin, &["order", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len(), 3);
    let (code, out, _) = statusport(&api, &api.admin, &["order", "list", "--channel", "woo"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("woo") && !out.contains(" gen "), "{out}");
    let id = listed[2]["id"].as_u64().unwrap().to_string();

    // Status, events, a refusal with the API's reason.
    let (code, out, err) = statusport(
        &api,
        &api.admin,
        &["order", "status", &id, "order:processing"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("order received → processing") || out.contains("order:processing"),
        "{out}"
    );
    let (code, _, err) = statusport(
        &api,
        &api.admin,
        &["order", "event", &id, r#"{"type":"picked"}"#],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        statusport(&api, &api.admin, &["order", "status", &id, "order:nirvana"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("422") && err.contains("nirvana"), "{err}");
    let (code, out, _) = statusport(&api, &api.admin, &["order", "get", &id]).await;
    assert_eq!(code, 0);
    assert!(out.contains("picked = true"), "{out}");
    // By the number people know, the same order.
    let number = listed[2]["number"].as_str().unwrap();
    let (code, by_number, err) =
        statusport(&api, &api.admin, &["order", "get", "--number", number]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        by_number.contains("picked = true") && by_number.contains(number),
        "{by_number}"
    );
    let (code, _, err) = statusport(&api, &api.admin, &["order", "get", "10004x"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("--number"), "{err}");
    // The list filter is the core's order query, checked before it is sent.
    let (code, out, err) = statusport(
        &api,
        &api.admin,
        &["order", "list", "--number", number, "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let found: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(found.len(), 1, "{out}");
    assert_eq!(found[0]["number"], number);
    let (code, out, err) = statusport(
        &api,
        &api.admin,
        &["order", "list", "--refund-due", "true", "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "[]", "no order has a refund due");
    let (code, _, err) = statusport(
        &api,
        &api.admin,
        &["order", "list", "--status", "shipping:out"],
    )
    .await;
    assert_eq!(code, 2, "a bad filter is a usage error: {err}");
    assert!(
        err.contains("--status") && err.contains("\"shipping\" is not a dimension"),
        "{err}"
    );
    let (code, _, err) = statusport(&api, &api.admin, &["export", "--from", "yesterday"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--from"), "{err}");

    // Rules: import a file, list them.
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nid = \"pick\"\nplatform = \"generic\"\non = [\"picked\"]\nto = \"order:produced\"\n").unwrap();
    let (code, out, err) = statusport(
        &api,
        &api.admin,
        &["rule", "import", rules.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported pick"), "{out}");
    let (_, out, _) = statusport(&api, &api.admin, &["rule", "list"]).await;
    assert!(
        out.contains("pick") && out.contains("order:produced"),
        "{out}"
    );

    // Plugins over the API.
    let (code, out, _) = statusport(&api, &api.admin, &["plugin", "list"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("shopware6") && out.contains("in_progress"),
        "{out}"
    );

    // An export to a file.
    let csv = dir.join("orders.csv");
    let (code, _, err) = statusport(
        &api,
        &api.admin,
        &[
            "export",
            "--format",
            "csv",
            "--channel",
            "gen",
            "-o",
            csv.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 3);

    // A bulk job followed to its end.
    let spec = dir.join("bulk.json");
    std::fs::write(&spec, json!({"filter": {"channel": "gen"}, "action": {"type": "set_status", "status": "order:archived"}}).to_string()).unwrap();
    let (code, out, err) =
        statusport(&api, &api.admin, &["bulk", "start", spec.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("done") && out.contains("2 changed"), "{out}");

    // Jobs and tokens; a viewer is refused with the reason.
    let (code, out, _) = statusport(&api, &api.admin, &["job", "failed"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("no failed jobs"), "{out}");
    let (code, token, _) = statusport(
        &api,
        &api.admin,
        &["token", "create", "--owner", "vera", "--role", "viewer"],
    )
    .await;
    assert_eq!(code, 0);
    let token = token.trim().to_owned();
    assert!(token.starts_with("sp_"));
    let (code, _, err) = statusport(&api, &token, &["order", "cancel", &id]).await;
    assert_eq!(code, 1);
    assert!(err.contains("403") && err.contains("viewer"), "{err}");
    let (code, _, err) = statusport(&api, "sp_bad_bad", &["order", "list"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn numbering_is_shown_and_set_from_the_command_line() {
    let api = Api::start().await;
    let (code, out, err) = statusport(&api, &api.admin, &["numbering", "show"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("invoice") && out.contains("INV-") && out.contains("none"),
        "{out}"
    );
    let (code, out, err) = statusport(
        &api,
        &api.admin,
        &[
            "numbering",
            "set",
            "--invoice-prefix",
            "RE-",
            "--invoice-start",
            "5000",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("RE-5000"), "the next invoice number: {out}");
    let (code, out, err) = statusport(&api, &api.admin, &["numbering", "show", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            &shown["invoice_prefix"],
            &shown["invoice_start"],
            &shown["order_start"]
        ),
        (&json!("RE-"), &json!(5000), &json!(10000)),
        "what is not given stays: {shown}"
    );
    // Orders 10000 and 10001 drawn: a start of 10001 is refused, naming the
    // last number.
    api.order("gen", "n-1").await;
    api.order("gen", "n-2").await;
    let (code, _, err) = statusport(
        &api,
        &api.admin,
        &["numbering", "set", "--order-start", "10001"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("422")
            && err.contains("10001 is not above 10001, the last order number drawn"),
        "{err}"
    );
    let (code, _, err) = statusport(&api, &api.admin, &["numbering", "set"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("--invoice-prefix"), "{err}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_reads_its_config_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config(dir.path());
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let file = dir.path().join("statusport.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nplugin_dir = \"{}\"\n[plugins]\ncache_dir = \"{}\"\n[numbering]\ninvoice_prefix = \"RE-\"\n",
            config.data_dir.display(),
            config.plugin_dir.display(),
            config.plugins.cache_dir.as_ref().unwrap().display()
        ),
    )
    .unwrap();
    let bin = statusport_tests::statusport_bin();
    let output = std::process::Command::new(&bin)
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains(&format!("listen = \"127.0.0.1:{port}\"")),
        "{printed}"
    );
    assert!(
        printed.contains("[outbox]") && printed.contains("workers = 64"),
        "defaults are shown: {printed}"
    );
    // A bad value, from the environment: named, with where it came from.
    let output = std::process::Command::new(&bin)
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("STATUSPORT_OUTBOX__WORKERS", "many")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("outbox.workers") && err.contains("STATUSPORT_OUTBOX__WORKERS"),
        "{err}"
    );

    // Logs at info, to a pipe as to a file.
    let child = tokio::process::Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&file)
        .env("STATUSPORT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(config.data_dir.join("admin-token").is_file());
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .arg(&pid)
        .status()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(output.status.success(), "{}", output.status);
    let err = String::from_utf8_lossy(&output.stderr);
    // The [numbering] table was applied, and said so in a log line.
    assert!(
        err.contains("INFO")
            && err.contains("numbering from the config file")
            && err.contains("invoices RE-1"),
        "{err}"
    );
    assert!(
        !output.stderr.contains(&0x1b),
        "no colour escapes when stderr is not a terminal: {err:?}"
    );
    assert!(
        err.contains("stopped: no job was in flight."),
        "a sentence, not a Debug struct: {err}"
    );
    assert!(!err.contains("ShutdownReport"), "{err}");
}
