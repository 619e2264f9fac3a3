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

#[cfg(test)]
mod tests {
    use super::*;

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
