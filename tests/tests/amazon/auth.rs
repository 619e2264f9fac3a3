//! Login with Amazon: the access token kept, renewed once when Amazon
//! refuses it, and what an operator reads when the credentials are wrong.

use std::sync::Arc;

use statusport_core::domain::platform::PlatformError;
use statusport_runtime::ChannelContext;

use crate::fake::Amazon;
use crate::{ORDER, Setup, package, platform_error, setup, setup_with, shipment};

fn seeded(tokens: statusport_tests::fake::oauth::Tokens) -> Amazon {
    Amazon::seeded(3, tokens)
}

async fn read_orders(s: &Setup) -> Result<(), statusport_runtime::CallError> {
    s.rt.pull(&s.plugin.callee(), &s.ctx, None)
        .await
        .result
        .map(|_| ())
}

#[tokio::test]
async fn a_revoked_access_token_is_renewed_once_and_the_request_sent_again() {
    let s = setup(seeded).await;
    read_orders(&s).await.unwrap();
    assert_eq!(s.tokens.grants(), 1);
    let before = s.amazon.received().len();
    // Amazon stops taking the token before it expires.
    s.tokens.revoke_all();
    read_orders(&s).await.unwrap();
    assert_eq!(s.tokens.grants(), 2);
    let after: Vec<_> = s.amazon.received().split_off(before);
    assert_eq!(after[0].header("x-amz-access-token"), Some("access-1"));
    assert_eq!(after[1].header("x-amz-access-token"), Some("access-2"));
    assert_eq!(
        after[0].path, after[1].path,
        "the refused request is sent again"
    );
    assert!(
        after[1..]
            .iter()
            .all(|r| r.header("x-amz-access-token") == Some("access-2"))
    );
}

#[tokio::test]
async fn a_refresh_token_the_endpoint_refuses_is_an_auth_error() {
    let s = setup_with(seeded, &[("refresh-token", "Atzr|revoked-by-the-seller")]).await;
    match platform_error(s.rt.pull(&s.plugin.callee(), &s.ctx, None).await.result) {
        PlatformError::Auth { message } => assert_eq!(
            message,
            format!(
                "POST {}/auth/o2/token: the token endpoint refused the channel's refresh token or client \
                 credentials (HTTP 400: invalid_grant: The refresh token is invalid or expired); give the \
                 channel new credentials",
                s.lwa.url
            )
        ),
        other => panic!("expected auth, got {other:?}"),
    }
    assert!(s.calls().is_empty());
}

#[tokio::test]
async fn a_token_amazon_refuses_even_fresh_is_an_auth_error_after_one_renewal() {
    // An app without the Orders role: Amazon refuses every token.
    let s = setup(|tokens| {
        let mut amazon = seeded(tokens);
        amazon.deny_all = true;
        amazon
    })
    .await;
    let result =
        s.rt.upload_shipment(
            &s.plugin.callee(),
            &s.ctx,
            &shipment("S-1", ORDER, vec![package("dhl", "0034", &[])]),
            "k-1",
        )
        .await
        .result;
    match platform_error(result) {
        PlatformError::Auth { message } => assert_eq!(
            message,
            format!(
                "GET {}/orders/v0/orders/{ORDER}: Amazon refused a freshly renewed access token (HTTP 403: \
                 Unauthorized: Access to requested resource is denied.); check that the seller has \
                 authorized the app and that the app has the Orders role (Seller Central › Apps and \
                 Services › Develop Apps)",
                s.amazon.url
            )
        ),
        other => panic!("expected auth, got {other:?}"),
    }
    assert_eq!(s.tokens.grants(), 2);
    assert_eq!(s.calls().len(), 2);
}

#[tokio::test]
async fn a_token_endpoint_the_channel_was_not_granted_is_refused_and_the_error_names_the_grant() {
    let mut s = setup(seeded).await;
    s.ctx.channel = Arc::new(ChannelContext {
        granted_hosts: Vec::new(),
        ..(*s.ctx.channel).clone()
    });
    let report = s.rt.pull(&s.plugin.callee(), &s.ctx, None).await;
    assert_eq!(report.denied, [s.lwa.url.clone()]);
    let hint = format!(
        "the token endpoint's origin {} (config \"token-url\")",
        s.lwa.url
    );
    // The SDK writes a request's body after handing the request over, and
    // the host's refusal then surfaces as a terminated connection (a
    // transient error) rather than as the refused origin (a config error);
    // either way the message names the grant to check.
    match platform_error(report.result) {
        PlatformError::Config { message } => assert!(message.ends_with(&hint), "{message}"),
        PlatformError::Transient { message, .. } => {
            assert!(message.contains("ConnectionTerminated"), "{message}");
            assert!(message.ends_with(&hint), "{message}");
        }
        other => panic!("expected config or transient, got {other:?}"),
    }
    assert!(s.lwa.received().is_empty());
    assert!(s.calls().is_empty());
}
