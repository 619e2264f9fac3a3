//! `statusport plugin check --spec` of the plugin against the fake, through
//! the binary.

use statusport_tests::fake::{serve, shared_spec};
use statusport_tests::{plugin_path, statusport_bin};

use crate::fake::{Magento, SPEC, TOKEN};

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
async fn check_against_the_published_description_finds_no_mismatch() {
    let shop = serve(Magento::new(&["1001"])).await;
    let plugin = plugin_path("adobe-commerce");
    let spec = shared_spec(SPEC);
    let against = format!("{}/rest/default", shop.url);
    let (code, out) = statusport(&[
        "plugin",
        "check",
        plugin.to_str().unwrap(),
        "--against",
        &against,
        "--config",
        &format!("access-token={TOKEN}"),
        "--spec",
        spec.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plugin adobe-commerce 1.1.0 \"Adobe Commerce / Magento 2\""),
        "{out}"
    );
    assert!(out.contains("(Swagger 2.0, "), "{out}");
    assert!(
        out.contains("push-status 1001 order pending → processing"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "sent POST {against}/V1/orders/1001/comments → 200"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("sent POST {against}/V1/order/1001/ship → 200")),
        "{out}"
    );
    assert!(!out.contains("spec mismatch"), "{out}");
    assert!(out.contains(" requests checked, 0 mismatches"), "{out}");
    // The fake checked the same exchanges on its side.
    assert_eq!(shop.take_mismatches(), Vec::<String>::new());
    let state = shop.state();
    assert_eq!(state.order(1001).status, "processing");
    assert_eq!(state.track_numbers(1001), ["SPCHECK0001"]);
}
