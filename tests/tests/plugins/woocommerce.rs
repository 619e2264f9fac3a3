//! The WooCommerce plugin against the fake WooCommerce.

use statusport_core::domain::platform::{Dimension, PlatformError};
use statusport_core::domain::shipment::{Package, Shipment};
use statusport_runtime::CallError;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::fake::{Server, serve};
use statusport_tests::{channel, load, plugin_path, runtime, test_limits};

const AUTH: &str = "Basic Y2tfdGVzdDpjc190ZXN0"; // ck_test:cs_test

fn credentials() -> Vec<(&'static str, &'static str)> {
    vec![("consumer-key", "ck_test"), ("consumer-secret", "cs_test")]
}

fn shipment(carrier: &str, numbers: &[&str]) -> Shipment {
    Shipment {
        id: "s-1".into(),
        platform_order_id: "7".into(),
        shipped_at: "2026-11-20T09:30:00Z".into(),
        packages: numbers
            .iter()
            .map(|n| Package {
                carrier: carrier.into(),
                tracking_number: (*n).into(),
                tracking_url: Some(format!("https://track.example/{n}")),
                lines: vec![],
            })
            .collect(),
    }
}

async fn shop() -> Server<WooCommerce> {
    serve(WooCommerce::new(&["7"])).await
}

#[tokio::test]
async fn push_status_puts_the_status_with_basic_auth() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(&shop.url, &credentials());
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "7",
            Dimension::Order,
            "pending",
            "processing",
            "k1",
        )
        .await;
    let receipt = report.result.expect("the push succeeds");
    assert_eq!(receipt.summary, "order 7 is now processing");
    let received = shop.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "PUT");
    assert_eq!(received[0].path, "/wp-json/wc/v3/orders/7");
    assert_eq!(received[0].authorization.as_deref(), Some(AUTH));
    assert_eq!(
        received[0].body,
        serde_json::json!({ "status": "processing" })
    );
    assert_eq!(shop.state().orders["7"].status, "processing");
    assert_eq!(report.sent[0].status, Some(200));
}

#[tokio::test]
async fn a_shipment_sent_twice_leaves_one_tracking_entry() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(&shop.url, &credentials());
    let s = shipment("dhl", &["00340434"]);
    let first = rt
        .upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    let again = rt
        .upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    assert_eq!(
        first.summary,
        "order 7: 1 tracking number(s) added, 0 already present"
    );
    assert_eq!(
        again.summary,
        "order 7: 0 tracking number(s) added, 1 already present"
    );
    assert_eq!(first.reference, again.reference);
    let trackings = shop.state().orders["7"].trackings.clone();
    assert_eq!(trackings.len(), 1);
    assert_eq!(trackings[0]["tracking_provider"], "DHL");
    assert_eq!(trackings[0]["date_shipped"], "2026-11-20");
    let posts: Vec<_> = shop
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].path,
        "/wp-json/wc-shipment-tracking/v3/orders/7/shipment-trackings"
    );
    assert_eq!(posts[0].authorization.as_deref(), Some(AUTH));
}

#[tokio::test]
async fn a_carrier_without_provider_name_goes_as_custom_provider_with_link() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(&shop.url, &credentials());
    rt.upload_shipment(&plugin.callee(), &ctx, &shipment("other", &["X1"]), "k")
        .await
        .result
        .unwrap();
    let post = shop
        .received()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.body["custom_tracking_provider"], "Other");
    assert_eq!(
        post.body["custom_tracking_link"],
        "https://track.example/X1"
    );
    assert!(post.body.get("tracking_provider").is_none());
}

#[tokio::test]
async fn without_the_extension_tracking_goes_as_one_customer_note() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let mut fake = WooCommerce::new(&["7"]);
    fake.tracking_extension = false;
    let shop = serve(fake).await;
    let mut config = credentials();
    config.push(("shipment-tracking", "no"));
    let ctx = channel(&shop.url, &config);
    let s = shipment("ups", &["1Z999"]);
    rt.upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    rt.upload_shipment(&plugin.callee(), &ctx, &s, "k")
        .await
        .result
        .unwrap();
    let notes = shop.state().orders["7"].notes.clone();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["customer_note"], true);
    assert_eq!(
        notes[0]["note"],
        "Your order has been shipped with UPS. Tracking number: 1Z999 — https://track.example/1Z999"
    );
    assert!(
        shop.received()
            .iter()
            .all(|r| !r.path.contains("shipment-tracking"))
    );
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(
        &shop.url,
        &[("consumer-key", "ck_test"), ("consumer-secret", "wrong")],
    );
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "7",
            Dimension::Order,
            "pending",
            "completed",
            "k",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Auth { message })) => assert_eq!(
            message,
            format!(
                "PUT {}/wp-json/wc/v3/orders/7: the platform answered HTTP 401: woocommerce_rest_cannot_view: Sorry, you cannot list resources.",
                shop.url
            )
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_carrier_is_refused_before_anything_is_sent() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(&shop.url, &credentials());
    let report = rt
        .upload_shipment(
            &plugin.callee(),
            &ctx,
            &shipment("pigeon-post", &["P1"]),
            "k",
        )
        .await;
    match report.result {
        Err(CallError::Platform(PlatformError::Rejected { message })) => assert_eq!(
            message,
            "carrier \"pigeon-post\" is not known to this plugin (known: dhl, dhl-express, dpd, gls, ups, fedex, usps, hermes, postnl, royal-mail, post-at, other)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn an_unknown_order_is_rejected_with_the_platforms_words() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(&shop.url, &credentials());
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "999",
            Dimension::Order,
            "pending",
            "completed",
            "k",
        )
        .await;
    assert_eq!(
        report.result.unwrap_err().to_string(),
        format!(
            "rejected: PUT {}/wp-json/wc/v3/orders/999: the platform answered HTTP 404: woocommerce_rest_shop_order_invalid_id: Invalid ID.",
            shop.url
        )
    );
}

#[tokio::test]
async fn a_missing_secret_is_a_config_error_naming_the_field() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let ctx = channel(&shop.url, &[("consumer-key", "ck_test")]);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "7",
            Dimension::Order,
            "pending",
            "completed",
            "k",
        )
        .await;
    assert_eq!(
        report.result.unwrap_err().to_string(),
        "config: the channel has no value for \"consumer-secret\": set it in the channel's config"
    );
    assert!(shop.received().is_empty());
}

#[tokio::test]
async fn the_keys_never_go_over_plain_http_to_another_machine() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let ctx = channel("http://shop.example.com", &credentials());
    let pushed = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "7",
            Dimension::Order,
            "pending",
            "processing",
            "k",
        )
        .await;
    let uploaded = rt
        .upload_shipment(&plugin.callee(), &ctx, &shipment("dhl", &["00340434"]), "k")
        .await;
    for report in [
        (pushed.result.map(|_| ()), pushed.sent, pushed.denied),
        (uploaded.result.map(|_| ()), uploaded.sent, uploaded.denied),
    ] {
        let (result, sent, denied) = report;
        match result {
            Err(CallError::Platform(PlatformError::Config { message })) => assert_eq!(
                message,
                "base URL \"http://shop.example.com/\" is plain HTTP to another machine: the consumer key and secret would \
                 cross the network readable by anyone on the way, so nothing was sent; use https:// \
                 (\"https://shop.example.com/\"); plain http:// is accepted only on this machine (127.0.0.0/8, localhost, [::1])"
            ),
            other => panic!("expected a config error, got {other:?}"),
        }
        assert!(sent.is_empty(), "no request left: {sent:?}");
        assert!(denied.is_empty(), "{denied:?}");
    }
}

#[tokio::test]
async fn plain_http_on_this_machine_carries_the_keys() {
    let rt = runtime(test_limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let shop = shop().await;
    let port = url::Url::parse(&shop.url).unwrap().port().unwrap();
    for base in [shop.url.clone(), format!("http://localhost:{port}")] {
        let ctx = channel(&base, &credentials());
        let report = rt
            .push_status(
                &plugin.callee(),
                &ctx,
                "7",
                Dimension::Order,
                "pending",
                "processing",
                "k",
            )
            .await;
        report.result.expect("a loopback shop is reached over http");
        assert_eq!(report.sent.len(), 1, "{base}");
    }
    let received = shop.received();
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .all(|r| r.authorization.as_deref() == Some(AUTH))
    );
}

mod intake {
    //! Orders coming in: pulls with the cursor, and signed webhooks.

    use statusport_core::domain::platform::{Dimension, PlatformError};
    use statusport_runtime::CallError;
    use statusport_runtime::call::CallContext;
    use statusport_tests::fake::serve;
    use statusport_tests::fake::woocommerce::WooCommerce;
    use statusport_tests::{channel, load, plugin_path, runtime, test_limits};

    const SECRET: &str = "wh-secret";

    fn context(url: &str) -> CallContext {
        channel(
            url,
            &[
                ("consumer-key", "ck_test"),
                ("consumer-secret", "cs_test"),
                ("webhook-secret", SECRET),
            ],
        )
    }

    use crate::pulls::{counts, orders, pull_all};

    #[tokio::test]
    async fn a_pull_across_pages_brings_each_order_once_with_its_details() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(250)).await;
        let ctx = context(&shop.url);
        let (all, batches, _) = pull_all(&rt, &plugin, &ctx, None).await;
        assert_eq!(all.len(), 250);
        assert_eq!(batches, 3, "250 orders, 100 a page");
        assert!(counts(&all).values().all(|n| *n == 1));
        let ids: Vec<u64> = all
            .iter()
            .map(|o| o.platform_order_id.parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest change first");

        let guest = all.iter().find(|o| o.platform_order_id == "5").unwrap();
        assert_eq!(guest.customer.id, "customer5@example.com");
        assert_eq!(guest.customer.name, "Given5 Family5");
        let member = all.iter().find(|o| o.platform_order_id == "8").unwrap();
        assert_eq!(member.customer.id, "1008");
        assert_eq!(
            member.customer.address,
            ["2 Main Street", "12345 Springfield", "DE"]
        );
        // Order 8: 1 + 8 % 3 = 3 lines, quantity 1 + 8 % 4 = 1; the third
        // has no SKU and goes by its product id.
        let lines: Vec<(&str, &str, u32, String)> = member
            .lines
            .iter()
            .map(|l| {
                (
                    l.line_id.as_str(),
                    l.article.as_str(),
                    l.quantity,
                    l.unit_price.to_string(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("80", "SKU-100", 1, "9.90 EUR".to_owned()),
                ("81", "SKU-101", 1, "10.90 EUR".to_owned()),
                ("82", "102", 1, "11.90 EUR".to_owned()),
            ]
        );
        assert_eq!(member.shipping.unwrap().to_string(), "4.90 EUR");
        assert_eq!(member.payment_method, "bacs");
        assert_eq!(member.statuses[&Dimension::Order], "processing");

        let list = &shop.received()[0];
        assert_eq!(list.path, "/wp-json/wc/v3/orders");
        let query = list.query.as_deref().unwrap();
        for part in [
            "dates_are_gmt=true",
            "orderby=modified",
            "order=asc",
            "per_page=100",
            "page=1",
        ] {
            assert!(query.contains(part), "{query} lacks {part}");
        }
    }

    #[tokio::test]
    async fn an_order_changed_after_a_pull_comes_again_with_its_new_status() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(30)).await;
        let ctx = context(&shop.url);
        let (first, _, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
        assert_eq!(first.len(), 30);
        let (nothing, _, cursor) = pull_all(&rt, &plugin, &ctx, cursor).await;
        assert!(nothing.is_empty(), "{:?}", counts(&nothing));

        shop.state().cancel("12");
        shop.state().ship("3");
        let (again, _, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
        let changed: Vec<(&str, &str)> = again
            .iter()
            .map(|o| {
                (
                    o.platform_order_id.as_str(),
                    o.statuses[&Dimension::Order].as_str(),
                )
            })
            .collect();
        assert_eq!(changed, [("12", "cancelled"), ("3", "completed")]);
        assert!(again[0].updated_at > first[11].updated_at);
    }

    #[tokio::test]
    async fn many_orders_changed_in_one_second_are_neither_lost_nor_repeated() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(260)).await;
        {
            // A bulk action: 230 orders, across page edges, in one second.
            let mut state = shop.state();
            let second = state.orders["240"].modified;
            for id in 11..=240 {
                state.orders.get_mut(&id.to_string()).unwrap().modified = second;
            }
        }
        let ctx = context(&shop.url);
        let (all, batches, cursor) = pull_all(&rt, &plugin, &ctx, None).await;
        assert_eq!(counts(&all).len(), 260);
        assert!(counts(&all).values().all(|n| *n == 1), "{:?}", counts(&all));
        assert!(batches >= 3);
        let (nothing, _, _) = pull_all(&rt, &plugin, &ctx, cursor).await;
        assert!(nothing.is_empty(), "{:?}", counts(&nothing));
    }

    #[tokio::test]
    async fn a_signed_order_webhook_gives_the_order() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(3)).await;
        shop.state().cancel("2");
        let delivery = shop.state().webhook("2", "order.updated", SECRET);
        let items = rt
            .accept_webhook(
                &plugin.callee(),
                &context(&shop.url),
                &delivery.headers,
                &delivery.body,
            )
            .await
            .result
            .expect("a signed delivery is taken");
        let orders = orders(items);
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].platform_order_id, "2");
        assert_eq!(orders[0].statuses[&Dimension::Order], "cancelled");
        assert!(
            shop.received().is_empty(),
            "a webhook needs no call to the shop"
        );
    }

    #[tokio::test]
    async fn a_ping_and_other_topics_give_nothing() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(1)).await;
        let ctx = context(&shop.url);
        let ping = WooCommerce::ping(7);
        let items = rt
            .accept_webhook(&plugin.callee(), &ctx, &ping.headers, &ping.body)
            .await
            .result
            .unwrap();
        assert!(items.is_empty());
        let product = shop.state().webhook("1", "product.updated", SECRET);
        let items = rt
            .accept_webhook(&plugin.callee(), &ctx, &product.headers, &product.body)
            .await
            .result
            .unwrap();
        assert!(items.is_empty());
    }

    #[tokio::test]
    async fn a_forged_or_missing_signature_is_an_auth_error() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(1)).await;
        let ctx = context(&shop.url);
        let forged = shop.state().webhook("1", "order.created", "guessed");
        let unsigned = shop
            .state()
            .webhook("1", "order.created", SECRET)
            .with_header("X-WC-Webhook-Signature", "");
        let mut tampered = shop.state().webhook("1", "order.created", SECRET);
        tampered.body[10] ^= 1;
        for (what, delivery) in [
            ("forged", forged),
            ("unsigned", unsigned),
            ("tampered", tampered),
        ] {
            let refused = rt
                .accept_webhook(&plugin.callee(), &ctx, &delivery.headers, &delivery.body)
                .await
                .result
                .unwrap_err();
            assert!(
                matches!(&refused, CallError::Platform(PlatformError::Auth { message }) if message.contains("X-WC-Webhook-Signature")),
                "{what}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_webhook_without_the_channels_secret_is_a_config_error() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(1)).await;
        let ctx = channel(
            &shop.url,
            &[("consumer-key", "ck_test"), ("consumer-secret", "cs_test")],
        );
        let delivery = shop.state().webhook("1", "order.created", SECRET);
        let refused = rt
            .accept_webhook(&plugin.callee(), &ctx, &delivery.headers, &delivery.body)
            .await
            .result
            .unwrap_err();
        assert!(
            matches!(&refused, CallError::Platform(PlatformError::Config { message, .. }) if message.contains("webhook-secret")),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_signed_body_that_is_no_order_is_rejected() {
        let rt = runtime(test_limits(), None);
        let plugin = load(&rt, &plugin_path("woocommerce")).await;
        let shop = serve(WooCommerce::seeded(1)).await;
        let body = br#"{"id":"not a number"}"#.to_vec();
        let delivery = statusport_tests::delivery::Delivery {
            headers: vec![
                ("X-WC-Webhook-Topic".into(), "order.created".into()),
                (
                    "X-WC-Webhook-Signature".into(),
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        statusport_tests::delivery::hmac_sha256(SECRET, &body),
                    ),
                ),
            ],
            body,
        };
        let refused = rt
            .accept_webhook(
                &plugin.callee(),
                &context(&shop.url),
                &delivery.headers,
                &delivery.body,
            )
            .await
            .result
            .unwrap_err();
        assert!(
            matches!(&refused, CallError::Platform(PlatformError::Rejected { message }) if message.contains("WooCommerce order")),
            "{refused:?}"
        );
    }
}
