//! `statusport plugin check` of the Amazon plugin against the fake, with
//! every exchange checked against Amazon's published description.

use statusport_tests::fake::shared_spec;
use statusport_tests::{plugin_path, statusport_bin};

use crate::ORDER;
use crate::fake::{self, Amazon, Item, Order, SPEC};

async fn statusport(args: &[String]) -> (i32, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(statusport_bin())
        .args(args)
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .await
        .expect("statusport runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_the_fake_amazon_finds_no_mismatch() {
    // `plugin check` ships one package holding line "1" of the order.
    let (amazon, lwa) = fake::start(|tokens| {
        let placed = jiff::Timestamp::now().as_second() - 7200;
        Amazon::with(
            tokens,
            vec![
                Order::new(ORDER, placed)
                    .with_items(vec![Item::new("1", "TEA-100", "Teapot", 1, 4900)]),
            ],
        )
    })
    .await;
    let mut args: Vec<String> = vec![
        "plugin".into(),
        "check".into(),
        plugin_path("amazon").display().to_string(),
        "--against".into(),
        amazon.url.clone(),
        "--grant".into(),
        lwa.url.clone(),
        "--order".into(),
        ORDER.into(),
        "--spec".into(),
        shared_spec(SPEC).display().to_string(),
    ];
    for (name, value) in fake::config(&lwa.url) {
        args.push("--config".into());
        args.push(format!("{name}={value}"));
    }
    let (code, out) = statusport(&args).await;
    let seen = amazon.take_mismatches();
    assert_eq!(code, 0, "{out}");
    assert_eq!(seen, Vec::<String>::new());
    assert!(!out.contains("spec mismatch"), "{out}");
    assert!(out.contains(" 0 mismatches"), "{out}");
    assert_eq!(amazon.state().orders[ORDER].status, "Shipped", "{out}");
}
