//! `describe`, `push-status` and `upload-shipment` of the examples, and how
//! they map what the shop answers to the contract's errors.

use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_core::domain::shipment::{Package, Shipment};
use statusport_runtime::{CallError, Registry};
use statusport_tests::fake::exampleshop::{API_KEY, ExampleShop, Shipment as ShopShipment};
use statusport_tests::fake::serve;
use statusport_tests::{channel, example_path, plugin_path, runtime, test_limits};

use crate::{Language, cache_dir, loaded, shop_channel};

each_language!(
    describe_declares_the_shop_statuses_moves_carriers_and_config,
    push_status_puts_the_status_with_the_api_key,
    a_move_the_shop_refuses_is_rejected_quoting_the_shop,
    a_shipment_sent_twice_is_added_once,
    an_upload_adds_only_the_packages_the_order_lacks,
    an_unknown_carrier_is_refused_naming_the_known_ones,
    a_wrong_api_key_is_an_auth_error,
    throttling_is_transient_with_the_shops_wait_in_ms,
    a_server_error_is_transient_without_a_wait,
    a_shop_that_cannot_be_reached_is_transient,
    a_missing_api_key_is_a_config_error_naming_the_field,
    plain_http_to_another_machine_is_refused_before_anything_is_sent,
);

fn shipment(packages: &[(&str, &str)]) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: "1001".into(),
        shipped_at: "2026-11-20T09:30:00Z".into(),
        packages: packages
            .iter()
            .map(|(carrier, number)| Package {
                carrier: (*carrier).into(),
                tracking_number: (*number).into(),
                tracking_url: Some(format!("https://track.example/{number}")),
                lines: vec![],
            })
            .collect(),
    }
}

async fn push(
    language: Language,
    ctx: &statusport_runtime::call::CallContext,
    from: &str,
    to: &str,
) -> statusport_runtime::CallReport<statusport_core::domain::platform::Receipt> {
    let l = loaded();
    l.rt.push_status(
        &l.plugin(language).callee(),
        ctx,
        "1001",
        Dimension::Order,
        from,
        to,
        "key-1",
    )
    .await
}

fn platform_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PlatformError {
    match result {
        Err(CallError::Platform(e)) => e,
        other => panic!("expected the platform's error, got {other:?}"),
    }
}

async fn describe_declares_the_shop_statuses_moves_carriers_and_config(language: Language) {
    let plugin = loaded().plugin(language);
    let p = &plugin.platform;
    assert_eq!(p.id, language.id());
    assert_eq!(p.version.to_string(), "1.0.0");
    assert_eq!(plugin.contract.to_string(), "1.1.0");
    assert!(plugin.has_intake());
    let statuses: Vec<(&str, bool, bool)> = p
        .statuses
        .iter()
        .map(|s| {
            assert_eq!(s.dimension, Dimension::Order);
            (s.code.as_str(), s.initial, s.terminal)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("pending", true, false),
            ("paid", false, false),
            ("packed", false, false),
            ("shipped", false, false),
            ("delivered", false, true),
            ("cancelled", false, true),
        ]
    );
    let moves: Vec<(&str, &str)> = p
        .transitions
        .iter()
        .map(|t| (t.from.as_str(), t.to.as_str()))
        .collect();
    // The same moves the shop itself allows.
    assert_eq!(moves, statusport_tests::fake::exampleshop::MOVES);
    assert_eq!(
        p.carriers,
        ["dhl", "dpd", "gls", "ups", "fedex", "hermes", "other"]
    );
    let config: Vec<(&str, bool, bool)> = p
        .config
        .iter()
        .map(|f| (f.name.as_str(), f.secret, f.required))
        .collect();
    assert_eq!(
        config,
        [("api-key", true, true), ("intake-since", false, false)]
    );
    assert!(p.extra_hosts.is_empty());
}

async fn push_status_puts_the_status_with_the_api_key(language: Language) {
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let report = push(language, &shop_channel(&shop.url), "pending", "paid").await;
    let receipt = report.result.expect("the push succeeds");
    assert_eq!(receipt.summary, "order 1001 is now paid");
    let received = shop.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0].method, "PUT");
    assert_eq!(received[0].path, "/orders/1001/status");
    assert_eq!(
        received[0].authorization.as_deref(),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(received[0].body, serde_json::json!({ "status": "paid" }));
    assert_eq!(shop.state().orders["1001"].status, "paid");
    assert_eq!(report.sent[0].status, Some(200));
    // The key never shows in the call's record.
    let headers = &report.sent[0].headers;
    assert!(
        headers.iter().any(|(name, _)| name == "authorization"),
        "{headers:?}"
    );
    assert!(!format!("{headers:?}").contains(API_KEY), "{headers:?}");
}

async fn a_move_the_shop_refuses_is_rejected_quoting_the_shop(language: Language) {
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let report = push(language, &shop_channel(&shop.url), "pending", "shipped").await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: format!(
                "PUT {}/orders/1001/status: the platform answered HTTP 409: invalid_transition: \
                 order 1001 cannot move from pending to shipped (allowed: paid, cancelled)",
                shop.url
            )
        }
    );
    assert_eq!(shop.state().orders["1001"].status, "pending");
}

async fn a_shipment_sent_twice_is_added_once(language: Language) {
    let l = loaded();
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let ctx = shop_channel(&shop.url);
    let s = shipment(&[
        ("dhl", "00340434161094042557"),
        ("UPS", "1Z999AA10123456784"),
    ]);
    let callee = l.plugin(language).callee();
    let first = l.rt.upload_shipment(&callee, &ctx, &s, "k").await.result;
    let again = l.rt.upload_shipment(&callee, &ctx, &s, "k").await.result;
    let (first, again) = (first.unwrap(), again.unwrap());
    assert_eq!(
        first.summary,
        "order 1001: 2 shipment(s) added, 0 already present"
    );
    assert_eq!(
        again.summary,
        "order 1001: 0 shipment(s) added, 2 already present"
    );
    assert_eq!(first.reference.as_deref(), Some("shp_1,shp_2"));
    assert_eq!(again.reference, first.reference);
    let kept: Vec<(String, String, Option<String>, Option<String>)> = shop.state().orders["1001"]
        .shipments
        .iter()
        .map(|s| {
            (
                s.carrier.clone(),
                s.tracking_number.clone(),
                s.tracking_url.clone(),
                s.shipped_at.clone(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            (
                "DHL".into(),
                "00340434161094042557".into(),
                Some("https://track.example/00340434161094042557".into()),
                Some("2026-11-20T09:30:00Z".into())
            ),
            (
                "UPS".into(),
                "1Z999AA10123456784".into(),
                Some("https://track.example/1Z999AA10123456784".into()),
                Some("2026-11-20T09:30:00Z".into())
            ),
        ]
    );
    let calls: Vec<String> = shop
        .received()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /orders/1001",
            "POST /orders/1001/shipments",
            "POST /orders/1001/shipments",
            "GET /orders/1001",
        ]
    );
}

async fn an_upload_adds_only_the_packages_the_order_lacks(language: Language) {
    let l = loaded();
    let mut fake = ExampleShop::new(&["1001"]);
    // A first attempt got one parcel through before it failed.
    fake.orders
        .get_mut("1001")
        .unwrap()
        .shipments
        .push(ShopShipment {
            id: "shp_77".into(),
            carrier: "DHL".into(),
            tracking_number: "A1".into(),
            tracking_url: None,
            shipped_at: None,
        });
    let shop = serve(fake).await;
    let receipt =
        l.rt.upload_shipment(
            &l.plugin(language).callee(),
            &shop_channel(&shop.url),
            &shipment(&[("dhl", "A1"), ("dpd", "B2")]),
            "k",
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        receipt.summary,
        "order 1001: 1 shipment(s) added, 1 already present"
    );
    assert_eq!(receipt.reference.as_deref(), Some("shp_77,shp_1"));
    let numbers: Vec<String> = shop.state().orders["1001"]
        .shipments
        .iter()
        .map(|s| format!("{} {}", s.carrier, s.tracking_number))
        .collect();
    assert_eq!(numbers, ["DHL A1", "DPD B2"]);
}

async fn an_unknown_carrier_is_refused_naming_the_known_ones(language: Language) {
    let l = loaded();
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let report =
        l.rt.upload_shipment(
            &l.plugin(language).callee(),
            &shop_channel(&shop.url),
            &shipment(&[("dhl", "A1"), ("pigeon", "P1")]),
            "k",
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Rejected {
            message: "carrier \"pigeon\" is not known to this plugin \
                      (known: dhl, dpd, gls, ups, fedex, hermes, other)"
                .into()
        }
    );
    // Refused before anything was sent: no half-uploaded shipment.
    assert!(shop.received().is_empty(), "{:#?}", shop.received());
}

async fn a_wrong_api_key_is_an_auth_error(language: Language) {
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let ctx = channel(&shop.url, &[("api-key", "es_revoked")]);
    let report = push(language, &ctx, "pending", "paid").await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Auth {
            message: format!(
                "PUT {}/orders/1001/status: the platform answered HTTP 401: unauthorized: invalid API key",
                shop.url
            )
        }
    );
}

async fn throttling_is_transient_with_the_shops_wait_in_ms(language: Language) {
    let l = loaded();
    let shop = serve(ExampleShop::new(&["1001"])).await;
    shop.inject(
        429,
        &[("retry-after", "7")],
        serde_json::json!({ "code": "rate_limited", "message": "slow down" }),
    );
    let report =
        l.rt.upload_shipment(
            &l.plugin(language).callee(),
            &shop_channel(&shop.url),
            &shipment(&[("dhl", "A1")]),
            "k",
        )
        .await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Transient {
            message: format!(
                "GET {}/orders/1001: the platform answered HTTP 429: rate_limited: slow down",
                shop.url
            ),
            retry_after_ms: Some(7000),
        }
    );
    assert!(shop.state().orders["1001"].shipments.is_empty());
}

async fn a_server_error_is_transient_without_a_wait(language: Language) {
    let shop = serve(ExampleShop::new(&["1001"])).await;
    shop.inject(503, &[], serde_json::json!({ "message": "maintenance" }));
    let report = push(language, &shop_channel(&shop.url), "pending", "paid").await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Transient {
            message: format!(
                "PUT {}/orders/1001/status: the platform answered HTTP 503: maintenance",
                shop.url
            ),
            retry_after_ms: None,
        }
    );
}

async fn a_shop_that_cannot_be_reached_is_transient(language: Language) {
    // Nothing listens on port 1.
    let report = push(
        language,
        &shop_channel("http://127.0.0.1:1"),
        "pending",
        "paid",
    )
    .await;
    match platform_error(report.result) {
        PlatformError::Transient {
            message,
            retry_after_ms: None,
        } => assert!(
            message.starts_with("PUT http://127.0.0.1:1/orders/1001/status: "),
            "{message}"
        ),
        other => panic!("expected a transient error, got {other:?}"),
    }
}

async fn a_missing_api_key_is_a_config_error_naming_the_field(language: Language) {
    let shop = serve(ExampleShop::new(&["1001"])).await;
    let report = push(language, &channel(&shop.url, &[]), "pending", "paid").await;
    assert_eq!(
        platform_error(report.result),
        PlatformError::Config {
            message: "config field \"api-key\" is not set: set it on the channel".into()
        }
    );
    assert!(shop.received().is_empty());
}

async fn plain_http_to_another_machine_is_refused_before_anything_is_sent(language: Language) {
    let ctx = channel("http://shop.example.com/api", &[("api-key", API_KEY)]);
    let report = push(language, &ctx, "pending", "paid").await;
    assert!(report.sent.is_empty(), "{:?}", report.sent);
    assert!(report.denied.is_empty(), "{:?}", report.denied);
    assert_eq!(
        platform_error(report.result),
        PlatformError::Config {
            message: "base URL \"http://shop.example.com/api\" is plain http: the API key would \
                      cross the network unencrypted; use https://"
                .into()
        }
    );
}

/// Both examples and the bundled Rust plugins in one host's registry: each
/// keeps its own id, none is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_load_in_one_registry_beside_the_rust_plugins() {
    let dir = tempfile::tempdir().unwrap();
    for (from, name) in [
        (example_path("python"), "python-example.wasm"),
        (example_path("javascript"), "javascript-example.wasm"),
        (plugin_path("generic"), "generic.wasm"),
        (plugin_path("woocommerce"), "woocommerce.wasm"),
    ] {
        std::fs::copy(from, dir.path().join(name)).unwrap();
    }
    let registry = Registry::open(runtime(test_limits(), Some(cache_dir())), dir.path())
        .await
        .unwrap();
    assert!(registry.refusals().is_empty(), "{:?}", registry.refusals());
    let loaded: Vec<(String, String, bool)> = registry
        .plugins()
        .iter()
        .map(|p| {
            (
                p.platform.id.clone(),
                p.contract.to_string(),
                p.has_intake(),
            )
        })
        .collect();
    assert_eq!(
        loaded,
        [
            ("example-shop-js".into(), "1.1.0".into(), true),
            ("example-shop-py".into(), "1.1.0".into(), true),
            ("generic".into(), "1.0.0".into(), false),
            ("woocommerce".into(), "1.1.0".into(), true),
        ]
    );
    // A Rust plugin and an example answer in the same runtime, one after
    // the other.
    let rt = registry.runtime();
    for id in [
        "woocommerce",
        "example-shop-py",
        "generic",
        "example-shop-js",
    ] {
        let plugin = registry.get(id).unwrap();
        let info = rt.describe(&plugin.callee()).await.result.unwrap();
        assert_eq!(info.id, id);
    }
}
