//! `statusport plugin check --spec` of the eBay plugin against the fake
//! eBay and its token endpoint.

use statusport_tests::fake::oauth;
use statusport_tests::fake::{serve, shared_spec};
use statusport_tests::{plugin_path, statusport_bin};

use crate::fake::{Ebay, Order, order_id};
use crate::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_PATH};

async fn statusport(args: &[&str]) -> (i32, String) {
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
async fn plugin_check_against_the_fake_ebay_finds_no_mismatch_with_ebays_description() {
    let (token, tokens) =
        oauth::start(TOKEN_PATH, CLIENT_ID, Some(CLIENT_SECRET), REFRESH_TOKEN).await;
    // `plugin check` ships line item "1" of its order.
    let id = order_id(1);
    let mut order = Order::new(&id, jiff::Timestamp::now().as_millisecond() - 3_600_000);
    order.lines[0].id = "1".into();
    let ebay = serve(Ebay::new(vec![order]).accepting(tokens)).await;
    let path = plugin_path("ebay");
    let spec = shared_spec("ebay-sell-fulfillment-v1-oas3.json");
    let against = format!("{}/sell/fulfillment/v1", ebay.url);
    let config = [
        format!("client-id={CLIENT_ID}"),
        format!("client-secret={CLIENT_SECRET}"),
        format!("refresh-token={REFRESH_TOKEN}"),
        format!("token-url={}{TOKEN_PATH}", token.url),
    ];
    let mut args = vec![
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        &against,
        "--grant",
        &token.url,
        "--order",
        &id,
        "--move",
        "delivery:NOT_STARTED:IN_PROGRESS",
        "--carrier",
        "ups",
        "--tracking-number",
        "1Z999AA10123456784",
        "--spec",
        spec.to_str().unwrap(),
    ];
    for c in &config {
        args.extend(["--config", c.as_str()]);
    }
    let (code, out) = statusport(&args).await;
    let seen = ebay.take_mismatches();
    assert_eq!(seen, Vec::<String>::new(), "{out}");
    assert!(
        out.contains("plugin ebay 1.1.0 \"eBay\" — contract statusport:adapter@1.1.0"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "sent POST {against}/order/{id}/shipping_fulfillment → 201"
        )),
        "{out}"
    );
    assert!(out.contains(" 0 mismatches"), "{out}");
    assert_eq!(ebay.state().orders[&id].fulfillments.len(), 1);
    assert_eq!(code, 0, "{out}");
}
