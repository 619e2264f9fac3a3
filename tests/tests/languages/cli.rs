//! `statusport plugin check FILE --against URL` on each example, as an
//! integrator runs it against their shop.

use statusport_tests::fake::exampleshop::{API_KEY, ExampleShop};
use statusport_tests::fake::serve;
use statusport_tests::{example_path, statusport_bin};

use crate::{Language, cache_dir};

each_language!(check_against_the_shop_passes_and_shows_each_request);

async fn check_against_the_shop_passes_and_shows_each_request(language: Language) {
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let path = example_path(language.name());
    let out = tokio::process::Command::new(statusport_bin())
        .args(["plugin", "check"])
        .arg(&path)
        .args(["--against", &shop.url, "--config"])
        .arg(format!("api-key={API_KEY}"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .output()
        .await
        .expect("statusport runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for expected in [
        format!(
            "plugin {} 1.0.0 \"Example Shop ({} example)\" — contract statusport:adapter@1.1.0",
            language.id(),
            match language {
                Language::Python => "Python",
                Language::JavaScript => "JavaScript",
            }
        ),
        "describe: valid".to_owned(),
        // The first move out of the initial status, the plugin's first carrier.
        "push-status 1001 order pending → paid".to_owned(),
        format!("sent PUT {}/orders/1001/status → 200", shop.url),
        format!("sent GET {}/orders/1001 → 200", shop.url),
        format!("sent POST {}/orders/1001/shipments → 201", shop.url),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    let state = shop.state();
    assert_eq!(state.orders["1001"].status, "paid");
    assert_eq!(state.orders["1001"].shipments.len(), 1);
    assert_eq!(state.orders["1001"].shipments[0].carrier, "DHL");
}
