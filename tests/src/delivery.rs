//! Webhook deliveries as a platform sends them: the headers and the raw
//! body, signed, and a POST of them to a URL.

/// One webhook delivery: what a platform POSTs.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    /// The value of header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The same delivery with header `name` set to `value`.
    pub fn with_header(mut self, name: &str, value: &str) -> Delivery {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// HMAC-SHA256 of `body` under `secret`.
pub fn hmac_sha256(secret: &str, body: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// POSTs `delivery` to `url` and returns the HTTP status of the answer.
pub async fn post(url: &str, delivery: &Delivery) -> u16 {
    let mut request = reqwest::Client::new().post(url).body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("the delivery to {url} could not be sent: {e}"))
        .status()
        .as_u16()
}

/// A delivery signed as Standard Webhooks sends it (BigCommerce, Etsy):
/// `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,` and the
/// base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the key of the
/// `whsec_…` secret).
pub fn standard_webhook(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Delivery {
    use base64::Engine as _;
    use hmac::Mac;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .expect("a whsec_ secret holds base64");
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Delivery {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            ("webhook-signature".into(), format!("v1,{signature}")),
        ],
        body: body.to_vec(),
    }
}

/// Seconds since the Unix epoch, for a delivery's timestamp.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}
