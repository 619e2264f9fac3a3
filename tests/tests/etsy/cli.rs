//! `statusport plugin check` of the Etsy plugin, through the binary.

use statusport_tests::fake::oauth;
use statusport_tests::fake::{serve, shared_spec};
use statusport_tests::{plugin_path, statusport_bin};

use crate::fake::{Etsy, KEYSTRING, SHARED_SECRET, SHOP_ID};
use crate::{REFRESH, TOKEN_PATH};

const SPEC: &str = "etsy-open-api-v3-oas3.json";
const R: u64 = 2_236_802_984;

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

#[tokio::test]
async fn check_shows_the_three_dimensions_and_a_valid_describe() {
    let path = plugin_path("etsy");
    let (code, out) = statusport(&["plugin", "check", path.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plugin etsy 1.1.0 \"Etsy\" — contract statusport:adapter@1.1.0"),
        "{out}"
    );
    assert!(out.contains("describe: valid"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_the_fake_etsy_conforms_to_etsys_description() {
    let (token_endpoint, tokens) = oauth::start(TOKEN_PATH, KEYSTRING, None, REFRESH).await;
    tokens.0.lock().unwrap().rotate = true;
    let shop = serve(Etsy::new(tokens, &[R])).await;
    let path = plugin_path("etsy");
    let spec = shared_spec(SPEC);
    let config = [
        format!("keystring={KEYSTRING}"),
        format!("shared-secret={SHARED_SECRET}"),
        format!("refresh-token={REFRESH}"),
        format!("shop-id={SHOP_ID}"),
        format!("token-url={}{TOKEN_PATH}", token_endpoint.url),
    ];
    let order = R.to_string();
    let mut args = vec![
        "plugin",
        "check",
        path.to_str().unwrap(),
        "--against",
        &shop.url,
        "--grant",
        &token_endpoint.url,
        "--order",
        &order,
        "--move",
        "payment:unpaid:paid",
        "--tracking-number",
        "9400111202508299673168",
        "--carrier",
        "usps",
        "--spec",
        spec.to_str().unwrap(),
    ];
    for c in &config {
        args.extend(["--config", c.as_str()]);
    }
    let (code, out) = statusport(&args).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("spec mismatch"), "{out}");
    assert!(out.contains(" requests checked, 0 mismatches"), "{out}");
    let shop_state = shop.state();
    assert!(shop_state.receipt(R).is_paid);
    assert_eq!(shop_state.receipt(R).shipments.len(), 1);
}
