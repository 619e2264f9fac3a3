//! Tokens, keys and failures: a revoked token renewed once with the
//! rotated refresh token, refusals as `auth`, throttling and outages as
//! `transient` with Etsy's wait.

use serde_json::json;
use statusport_core::domain::platform::{Dimension, PlatformError};

use crate::fake::Etsy;
use crate::{REFRESH, platform_error, world};

const R: u64 = 2_236_802_984;

async fn push_paid(w: &crate::World) -> Result<String, PlatformError> {
    w.rt.push_status(
        &w.plugin.callee(),
        &w.ctx,
        &R.to_string(),
        Dimension::Payment,
        "unpaid",
        "paid",
        "k",
    )
    .await
    .result
    .map(|r| r.summary)
    .map_err(|e| platform_error::<()>(Err(e)))
}

async fn read_receipt(w: &crate::World) -> Result<(), PlatformError> {
    let s = crate::shipment(R, &[("usps", "9400111202508299673168")]);
    w.rt.upload_shipment(&w.plugin.callee(), &w.ctx, &s, "k")
        .await
        .result
        .map(|_| ())
        .map_err(|e| platform_error::<()>(Err(e)))
}

#[tokio::test]
async fn the_token_is_kept_and_a_revoked_one_is_renewed_once_with_the_rotated_refresh_token() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    push_paid(&w).await.unwrap();
    read_receipt(&w).await.unwrap();
    assert_eq!(w.tokens.grants(), 1, "the first token serves both calls");
    // Etsy rotated the refresh token with the first grant: the one in the
    // channel's config no longer works.
    assert_eq!(w.tokens.refresh_token(), "refresh-1");
    w.tokens.revoke_all();
    read_receipt(&w).await.unwrap();
    assert_eq!(w.tokens.grants(), 2);
    let used: Vec<String> = w
        .oauth
        .received()
        .iter()
        .map(|r| r.form_value("refresh_token").unwrap_or_default())
        .collect();
    assert_eq!(used, [REFRESH, "refresh-1"]);
    let bearers: Vec<String> = w
        .shop
        .received()
        .iter()
        .map(|r| r.authorization.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        bearers,
        [
            "Bearer access-1",
            "Bearer access-1",
            "Bearer access-1",
            "Bearer access-1",
            "Bearer access-2"
        ]
    );
}

#[tokio::test]
async fn a_refresh_token_the_endpoint_refuses_is_an_auth_error_and_nothing_reaches_etsy() {
    let w = world(
        |t| Etsy::new(t, &[R]),
        &[("refresh-token", "revoked-by-the-seller")],
    )
    .await;
    match push_paid(&w).await.unwrap_err() {
        PlatformError::Auth { message } => {
            assert!(
                message.starts_with(&format!("POST {}/v3/public/oauth/token: ", w.oauth.url)),
                "{message}"
            );
            assert!(
                message.contains(
                    "(HTTP 400: invalid_grant: The refresh token is invalid or expired); give the channel new credentials"
                ),
                "{message}"
            );
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(w.shop.received().is_empty());
}

#[tokio::test]
async fn a_token_refused_again_after_renewal_is_an_auth_error() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    for _ in 0..2 {
        w.shop.inject(401, &[], json!({"error": "invalid_token"}));
    }
    match push_paid(&w).await.unwrap_err() {
        PlatformError::Auth { message } => assert_eq!(
            message,
            format!(
                "PUT {}/v3/application/shops/31337/receipts/{R}: the platform refused a freshly \
                 renewed access token (HTTP 401: invalid_token); check that the channel's \
                 credentials grant this API",
                w.shop.url
            )
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(w.tokens.grants(), 2);
    assert!(!w.shop.state().receipt(R).is_paid);
}

#[tokio::test]
async fn a_wrong_shared_secret_is_an_auth_error_quoting_etsy() {
    let w = world(|t| Etsy::new(t, &[R]), &[("shared-secret", "guess")]).await;
    match push_paid(&w).await.unwrap_err() {
        PlatformError::Auth { message } => assert!(
            message.ends_with("the platform answered HTTP 403: Invalid API key: x-api-key must be the app's keystring and shared secret, separated by a colon"),
            "{message}"
        ),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(w.tokens.grants(), 1, "a 403 is not a reason to renew");
}

#[tokio::test]
async fn too_many_requests_is_transient_with_etsys_retry_after() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.inject(
        429,
        &[("retry-after", "7"), ("x-remaining-this-second", "0")],
        json!({"error": "You have exceeded your quota of requests"}),
    );
    assert_eq!(
        push_paid(&w).await.unwrap_err(),
        PlatformError::Transient {
            message: format!(
                "PUT {}/v3/application/shops/31337/receipts/{R}: the platform answered HTTP 429: \
                 You have exceeded your quota of requests",
                w.shop.url
            ),
            retry_after_ms: Some(7000),
        }
    );
    assert!(!w.shop.state().receipt(R).is_paid);
}

#[tokio::test]
async fn too_many_requests_without_retry_after_waits_a_second_when_none_is_left() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.inject(
        429,
        &[
            ("x-remaining-this-second", "0"),
            ("x-remaining-today", "9349"),
        ],
        json!({"error": "Too many requests"}),
    );
    match push_paid(&w).await.unwrap_err() {
        PlatformError::Transient { retry_after_ms, .. } => assert_eq!(retry_after_ms, Some(1000)),
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_is_transient_and_the_next_try_goes_through() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    w.shop.inject(
        503,
        &[],
        json!({"error": "Service temporarily unavailable"}),
    );
    match push_paid(&w).await.unwrap_err() {
        PlatformError::Transient {
            message,
            retry_after_ms: None,
        } => assert!(
            message.ends_with("HTTP 503: Service temporarily unavailable"),
            "{message}"
        ),
        other => panic!("expected a transient error, got {other:?}"),
    }
    push_paid(&w).await.unwrap();
    assert!(w.shop.state().receipt(R).is_paid);
}

#[tokio::test]
async fn plain_http_to_another_machine_is_refused_before_any_key_is_sent() {
    let w = world(|t| Etsy::new(t, &[R]), &[]).await;
    let ctx = crate::context("http://etsy.example.com", &w.oauth.url, &[]);
    let report =
        w.rt.push_status(
            &w.plugin.callee(),
            &ctx,
            &R.to_string(),
            Dimension::Payment,
            "unpaid",
            "paid",
            "k",
        )
        .await;
    match platform_error(report.result) {
        PlatformError::Config { message } => assert!(
            message.starts_with(
                "base URL \"http://etsy.example.com/\" is plain HTTP to another machine"
            ),
            "{message}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(report.sent.is_empty());
}

#[tokio::test]
async fn a_shop_id_that_is_no_number_is_a_config_error_naming_the_field() {
    let w = world(|t| Etsy::new(t, &[R]), &[("shop-id", "my-teapot-shop")]).await;
    match push_paid(&w).await.unwrap_err() {
        PlatformError::Config { message } => assert!(
            message.starts_with("\"shop-id\" is \"my-teapot-shop\": give the shop's numeric id"),
            "{message}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
}
