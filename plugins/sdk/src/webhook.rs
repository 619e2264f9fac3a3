//! What every webhook check needs: headers by name, whatever their case,
//! and HMAC-SHA256 signatures compared in constant time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The value of header `name` (case-insensitive) among `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How a platform writes its signature into a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lower- or upper-case hex (Shopware).
    Hex,
    /// Standard base64 with padding (WooCommerce).
    Base64,
}

/// HMAC-SHA256 of `body` under `secret`.
pub fn hmac_sha256(secret: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// `hmac_sha256(secret, body)` written as `encoding` writes it.
pub fn sign(secret: &[u8], body: &[u8], encoding: Encoding) -> String {
    let tag = hmac_sha256(secret, body);
    match encoding {
        Encoding::Hex => hex::encode(tag),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
    }
}

/// Whether `signature` is the HMAC-SHA256 of `body` under `secret`. The
/// comparison takes the same time wherever the first wrong byte is, so a
/// sender cannot find a valid signature byte by byte.
pub fn verify_hmac_sha256(secret: &[u8], body: &[u8], signature: &str, encoding: Encoding) -> bool {
    let signature = signature.trim();
    let decoded = match encoding {
        Encoding::Hex => hex::decode(signature).ok(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(signature)
            .ok(),
    };
    let Some(decoded) = decoded else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&decoded).is_ok()
}

/// Standard Webhooks (<https://www.standardwebhooks.com>), the signature
/// scheme BigCommerce and Etsy send: headers `webhook-id`,
/// `webhook-timestamp` (Unix seconds) and `webhook-signature` (one or more
/// space-separated `v1,<base64>`), each signature the HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret — `whsec_` followed by the
/// key in base64.
pub mod standard {
    use base64::Engine as _;

    use super::{Encoding, header, verify_hmac_sha256};
    use crate::AdapterError;

    /// A delivery older or newer than this is refused as a replay.
    pub const TOLERANCE_SECS: u64 = 5 * 60;

    /// What a verified delivery's headers said.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Delivery {
        /// The message id: the same for every retry of one message, so a
        /// plugin can use it as a change id.
        pub id: String,
        pub timestamp: u64,
    }

    /// The key of a `whsec_…` secret; a `config` error names the
    /// field when it is not one.
    pub fn key(secret: &str, field: &str) -> Result<Vec<u8>, AdapterError> {
        let encoded = secret
            .trim()
            .strip_prefix("whsec_")
            .unwrap_or(secret.trim());
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                AdapterError::Config(format!(
                    "\"{field}\" is not a Standard Webhooks secret: give the `whsec_…` value the \
                     platform showed when the webhook was made (base64 after `whsec_`)"
                ))
            })
    }

    /// The `v1,<base64>` signature of `body` (for senders and tests).
    pub fn sign(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            super::sign(key, &signed_content(id, timestamp, body), Encoding::Base64)
        )
    }

    fn signed_content(id: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
        let mut content = format!("{id}.{timestamp}.").into_bytes();
        content.extend_from_slice(body);
        content
    }

    /// Checks a delivery: the three headers are there, the timestamp is
    /// within [`TOLERANCE_SECS`] of `now_secs`, and one of the `v1`
    /// signatures is right. Every refusal is an `auth` error saying why.
    pub fn verify(
        key: &[u8],
        headers: &[(String, String)],
        body: &[u8],
        now_secs: u64,
    ) -> Result<Delivery, AdapterError> {
        let need = |name: &str| {
            header(headers, name).ok_or_else(|| {
                AdapterError::Auth(format!(
                    "the delivery has no {name} header: it is not a Standard Webhooks delivery"
                ))
            })
        };
        let id = need("webhook-id")?;
        let timestamp = need("webhook-timestamp")?;
        let signatures = need("webhook-signature")?;
        let at: u64 = timestamp.trim().parse().map_err(|_| {
            AdapterError::Auth(format!(
                "webhook-timestamp \"{timestamp}\" is not a number of seconds"
            ))
        })?;
        if at.abs_diff(now_secs) > TOLERANCE_SECS {
            return Err(AdapterError::Auth(format!(
                "webhook-timestamp {at} is more than {TOLERANCE_SECS} s away from now ({now_secs}): \
                 refused as a replay or a clock gone wrong"
            )));
        }
        let content = signed_content(id, at, body);
        let valid = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .any(|sig| verify_hmac_sha256(key, &content, sig, Encoding::Base64));
        if !valid {
            return Err(AdapterError::Auth(
                "webhook-signature does not match the body under the channel's webhook secret"
                    .into(),
            ));
        }
        Ok(Delivery {
            id: id.to_owned(),
            timestamp: at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod standard_webhooks {
        use super::super::standard::*;
        use crate::AdapterError;

        // The example of the Standard Webhooks specification.
        const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        const AT: u64 = 1614265330;
        const BODY: &[u8] = br#"{"test": 2432232314}"#;
        const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

        fn headers(id: &str, at: &str, signature: &str) -> Vec<(String, String)> {
            vec![
                ("Webhook-Id".into(), id.into()),
                ("webhook-timestamp".into(), at.into()),
                ("webhook-signature".into(), signature.into()),
            ]
        }

        #[test]
        fn the_specifications_example_verifies() {
            let key = key(SECRET, "webhook-secret").unwrap();
            assert_eq!(sign(&key, ID, AT, BODY), SIGNATURE);
            let ok = verify(
                &key,
                &headers(ID, &AT.to_string(), SIGNATURE),
                BODY,
                AT + 10,
            );
            assert_eq!(
                ok.unwrap(),
                Delivery {
                    id: ID.into(),
                    timestamp: AT
                }
            );
            // Several signatures (a secret being rotated): one right is enough.
            let two = format!("v1,bm90IHRoaXM= {SIGNATURE}");
            assert!(verify(&key, &headers(ID, &AT.to_string(), &two), BODY, AT).is_ok());
        }

        fn refusal(result: Result<Delivery, AdapterError>) -> String {
            match result {
                Err(AdapterError::Auth(why)) => why,
                other => panic!("expected an auth refusal, got {other:?}"),
            }
        }

        #[test]
        fn a_changed_body_an_old_delivery_or_a_missing_header_is_refused() {
            let key = key(SECRET, "webhook-secret").unwrap();
            let at = AT.to_string();
            assert!(
                refusal(verify(&key, &headers(ID, &at, SIGNATURE), b"{}", AT))
                    .contains("does not match")
            );
            assert!(
                refusal(verify(
                    &key,
                    &headers("msg_other", &at, SIGNATURE),
                    BODY,
                    AT
                ))
                .contains("does not match")
            );
            assert!(
                refusal(verify(&key, &headers(ID, &at, SIGNATURE), BODY, AT + 301))
                    .contains("replay")
            );
            assert!(
                refusal(verify(&key, &headers(ID, "soon", SIGNATURE), BODY, AT))
                    .contains("not a number")
            );
            assert!(
                refusal(verify(&key, &headers(ID, &at, "v2,abc"), BODY, AT))
                    .contains("does not match")
            );
            assert!(refusal(verify(&key, &[], BODY, AT)).contains("no webhook-id header"));
        }

        #[test]
        fn a_secret_that_is_not_base64_is_a_config_error_naming_the_field() {
            match key("whsec_***", "webhook-secret") {
                Err(AdapterError::Config(why)) => assert!(why.contains("\"webhook-secret\"")),
                other => panic!("expected a config error, got {other:?}"),
            }
        }
    }

    // RFC 4231, test case 2.
    const KEY: &[u8] = b"Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";
    const HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn hex_signatures_follow_rfc_4231() {
        assert_eq!(sign(KEY, DATA, Encoding::Hex), HEX);
        assert!(verify_hmac_sha256(KEY, DATA, HEX, Encoding::Hex));
        assert!(verify_hmac_sha256(
            KEY,
            DATA,
            &HEX.to_uppercase(),
            Encoding::Hex
        ));
    }

    #[test]
    fn base64_signatures_verify_and_a_changed_body_does_not() {
        let signature = sign(KEY, DATA, Encoding::Base64);
        assert_eq!(signature, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        assert!(verify_hmac_sha256(KEY, DATA, &signature, Encoding::Base64));
        assert!(!verify_hmac_sha256(
            KEY,
            b"what do ya want for something?",
            &signature,
            Encoding::Base64
        ));
        assert!(!verify_hmac_sha256(
            b"other",
            DATA,
            &signature,
            Encoding::Base64
        ));
    }

    #[test]
    fn a_signature_that_does_not_decode_or_is_short_fails() {
        assert!(!verify_hmac_sha256(KEY, DATA, "not hex", Encoding::Hex));
        assert!(!verify_hmac_sha256(KEY, DATA, &HEX[..32], Encoding::Hex));
        assert!(!verify_hmac_sha256(KEY, DATA, "", Encoding::Base64));
    }

    #[test]
    fn headers_are_found_whatever_their_case() {
        let headers = vec![("X-WC-Webhook-Topic".to_owned(), "order.created".to_owned())];
        assert_eq!(
            header(&headers, "x-wc-webhook-topic"),
            Some("order.created")
        );
        assert_eq!(header(&headers, "x-wc-webhook-id"), None);
    }
}
