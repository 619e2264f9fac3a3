//! A small blocking JSON-over-HTTP client on `wasi:http`.
//!
//! Requests go through the host, which lets them through only to the
//! channel's base URL and the extra hosts the operator granted; a refused
//! request comes back as a `config` error naming the origin.

use std::time::Duration;

use base64::Engine as _;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::AdapterError;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::errors;

/// Largest response body a plugin reads; platforms answer in kilobytes.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// `wasi:io` lets a blocking write carry at most 4096 bytes.
const WRITE_CHUNK: usize = 4096;

/// Characters escaped in one path segment (an order id, say).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Escapes a value for use as one path segment: `segment("a/b")` is `a%2Fb`.
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn to_wasi(self) -> WasiMethod {
        match self {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Patch => WasiMethod::Patch,
            Method::Delete => WasiMethod::Delete,
        }
    }
}

/// A client bound to one base URL, with optional credentials sent on every
/// request.
#[derive(Clone, Debug)]
pub struct Client {
    base: Url,
    authorization: Option<String>,
}

impl Client {
    /// A client for the channel's base URL (the host's `base-url` config).
    pub fn from_channel() -> Result<Client, AdapterError> {
        Client::new(&crate::host::require_config(crate::host::BASE_URL)?)
    }

    /// A client for `base_url`; its path (if any) prefixes every request path.
    pub fn new(base_url: &str) -> Result<Client, AdapterError> {
        let base = Url::parse(base_url).map_err(|e| {
            AdapterError::Config(format!(
                "base URL \"{base_url}\" is not a URL ({e}): use e.g. https://shop.example.com"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(AdapterError::Config(format!(
                "base URL \"{base_url}\" must be an http or https URL with a host"
            )));
        }
        Ok(Client {
            base,
            authorization: None,
        })
    }

    /// The base URL requests go below.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Whether what is sent to the base URL is out of reach of the network
    /// between: it goes over `https://`, or stays on this machine (`http://`
    /// to 127.0.0.0/8, `localhost` or `[::1]`). A plugin that sends
    /// credentials refuses a base URL that is not.
    pub fn is_private(&self) -> bool {
        self.base.scheme() == "https"
            || match self.base.host() {
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    }

    /// Sends HTTP Basic credentials with every request.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.authorization = Some(format!("Basic {token}"));
        self
    }

    /// Sends a bearer token with every request.
    pub fn bearer(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// The URL of `path` below the base URL; `path` starts with `/`.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        url.set_path(&format!(
            "{}{}",
            self.base.path().trim_end_matches('/'),
            path
        ));
        url.set_query(query);
        url
    }

    pub fn request(&self, method: Method, path: &str) -> Request {
        self.request_url(method, self.url(path))
    }

    /// A request to an absolute URL (an extra host such as a token endpoint),
    /// still carrying this client's credentials.
    pub fn request_url(&self, method: Method, url: Url) -> Request {
        let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
        if let Some(auth) = &self.authorization {
            headers.push(("authorization".to_owned(), auth.clone()));
        }
        Request {
            method,
            url,
            headers,
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Request {
        self.request(Method::Get, path)
    }

    pub fn post(&self, path: &str) -> Request {
        self.request(Method::Post, path)
    }

    pub fn put(&self, path: &str) -> Request {
        self.request(Method::Put, path)
    }

    pub fn patch(&self, path: &str) -> Request {
        self.request(Method::Patch, path)
    }

    pub fn delete(&self, path: &str) -> Request {
        self.request(Method::Delete, path)
    }
}

/// One request being built.
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Request {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.url.query_pairs_mut().append_pair(name, value);
        self
    }

    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        let bytes = serde_json::to_vec(body).expect("serialising plain data to JSON cannot fail");
        self.header("content-type", "application/json").body(bytes)
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.into_bytes())
    }

    /// A body of `content_type`: `content("application/xml", xml)`.
    pub fn content(self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", content_type).body(bytes.into())
    }

    /// An XML body (`application/xml; charset=utf-8`).
    pub fn xml(self, document: impl Into<String>) -> Self {
        self.content(
            "application/xml; charset=utf-8",
            document.into().into_bytes(),
        )
    }

    /// The raw bytes of the body, sent as they are. The request keeps
    /// whatever `content-type` header it has (set one with [`Request::header`],
    /// or use [`Request::content`], [`Request::json`], [`Request::form`] or
    /// [`Request::xml`], which set both).
    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self
    }

    /// What the request is, for messages: `PUT https://shop/wp-json/...`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method.as_str(), self.url)
    }

    /// Sends the request; any HTTP status is a `Response`, only transport
    /// failures are errors.
    pub fn send(self) -> Result<Response, AdapterError> {
        let what = self.describe();
        send(self).map_err(|code| transport_error(&what, code))
    }

    /// Sends the request and maps any status but 2xx to an `adapter-error`
    /// whose message names the method and URL.
    pub fn send_ok(self) -> Result<Response, AdapterError> {
        let what = self.describe();
        self.send()?.error_for_status_of(&what)
    }
}

/// A platform's answer, read whole.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; a body that is not the expected JSON is `rejected`,
    /// quoting its start (a wrong base URL often answers with HTML).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AdapterError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            AdapterError::Rejected(format!(
                "the platform's answer is not the JSON expected ({e}): {}",
                errors::platform_message(&self.body)
            ))
        })
    }

    /// How long the platform asked to wait before the next request: its
    /// `Retry-After` (seconds or an HTTP date); else, for a 429, the wait
    /// its rate-limit headers imply — Amazon's `x-amzn-RateLimit-Limit`
    /// (requests per second: one request's share of a second), BigCommerce's
    /// `X-Rate-Limit-Time-Reset-Ms`.
    pub fn retry_after(&self) -> Option<Duration> {
        if let Some(delay) = self
            .header("retry-after")
            .and_then(errors::parse_retry_after)
        {
            return Some(delay);
        }
        if self.status != 429 {
            return None;
        }
        if let Some(rate) = self
            .header("x-amzn-ratelimit-limit")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|r| r.is_finite() && *r > 0.0)
        {
            return Some(Duration::from_secs_f64((1.0 / rate).min(3600.0)));
        }
        self.header("x-rate-limit-time-reset-ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    }

    /// Maps any status but 2xx to an `adapter-error` (see
    /// [`errors::from_status`]), with the wait of [`Response::retry_after`].
    pub fn error_for_status(self) -> Result<Response, AdapterError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(errors::from_status_after(
                self.status,
                self.retry_after(),
                &self.body,
            ))
        }
    }

    /// [`Response::error_for_status`], the message starting with `what`
    /// (the request: `PUT https://shop.example/orders/7`).
    pub fn error_for_status_of(self, what: &str) -> Result<Response, AdapterError> {
        self.error_for_status().map_err(|e| errors::about(what, e))
    }
}

fn transport_error(what: &str, code: ErrorCode) -> AdapterError {
    match code {
        ErrorCode::HttpRequestDenied => AdapterError::Config(format!(
            "{what}: the host refused this origin; only the channel's base URL and the extra hosts \
             granted to the channel are reachable"
        )),
        ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestMethodInvalid => {
            AdapterError::Config(format!("{what}: invalid request ({code:?})"))
        }
        ErrorCode::HttpResponseBodySize(_) => AdapterError::Rejected(format!(
            "{what}: the platform's answer is larger than {MAX_RESPONSE_BYTES} bytes"
        )),
        other => errors::transient(format!("{what}: {other:?}")),
    }
}

fn send(request: Request) -> Result<Response, ErrorCode> {
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    let fields = Fields::from_list(&entries)
        .map_err(|e| ErrorCode::InternalError(Some(format!("bad request header: {e:?}"))))?;
    let outgoing = OutgoingRequest::new(fields);
    let url = &request.url;
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(ErrorCode::HttpRequestUriInvalid),
    };
    let authority = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(ErrorCode::HttpRequestUriInvalid),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let invalid = |_| ErrorCode::HttpRequestUriInvalid;
    outgoing
        .set_method(&request.method.to_wasi())
        .map_err(|_| ErrorCode::HttpRequestMethodInvalid)?;
    outgoing.set_scheme(Some(&scheme)).map_err(invalid)?;
    outgoing.set_authority(Some(&authority)).map_err(invalid)?;
    outgoing.set_path_with_query(Some(&path)).map_err(invalid)?;

    let body = outgoing
        .body()
        .map_err(|_| ErrorCode::InternalError(Some("request body taken twice".into())))?;
    // Hand the request over before writing its body: the host buffers little,
    // and a large body written first would wait for a reader that never comes.
    let pending = outgoing_handler::handle(outgoing, None)?;
    {
        let stream = body.write().map_err(|_| {
            ErrorCode::InternalError(Some("request body stream taken twice".into()))
        })?;
        for chunk in request
            .body
            .as_deref()
            .unwrap_or_default()
            .chunks(WRITE_CHUNK)
        {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                // The host may have refused the request itself (an origin
                // not granted): that, not the closed body, is the reason.
                pending.subscribe().block();
                if let Some(Ok(Err(code))) = pending.get() {
                    return Err(code);
                }
                return Err(stream_error("writing the request body", e));
            }
        }
    }
    OutgoingBody::finish(body, None)?;

    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(result)) => result?,
        Some(Err(())) => {
            return Err(ErrorCode::InternalError(Some(
                "response taken twice".into(),
            )));
        }
        None => return Err(ErrorCode::HttpResponseTimeout),
    };
    read_response(response)
}

fn read_response(response: IncomingResponse) -> Result<Response, ErrorCode> {
    let status = response.status();
    let headers = {
        let fields = response.headers();
        fields
            .entries()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect()
    };
    let incoming = response
        .consume()
        .map_err(|_| ErrorCode::InternalError(Some("response body taken twice".into())))?;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|_| ErrorCode::InternalError(Some("response stream taken twice".into())))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(bytes) => {
                    body.extend_from_slice(&bytes);
                    if body.len() > MAX_RESPONSE_BYTES {
                        return Err(ErrorCode::HttpResponseBodySize(Some(body.len() as u64)));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(e) => return Err(stream_error("reading the response body", e)),
            }
        }
    }
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn stream_error(doing: &str, error: StreamError) -> ErrorCode {
    match error {
        StreamError::Closed => ErrorCode::ConnectionTerminated,
        StreamError::LastOperationFailed(e) => {
            ErrorCode::InternalError(Some(format!("{doing}: {}", e.to_debug_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_the_base_urls_prefix_and_query() {
        let client = Client::new("https://shop.example.com/store/").unwrap();
        assert_eq!(
            client.url("/wp-json/wc/v3/orders/7?context=edit").as_str(),
            "https://shop.example.com/store/wp-json/wc/v3/orders/7?context=edit"
        );
    }

    #[test]
    fn a_base_url_without_a_host_is_a_config_error() {
        assert!(matches!(
            Client::new("mailto:someone@example.com"),
            Err(AdapterError::Config(_))
        ));
    }

    #[test]
    fn https_and_loopback_http_are_private_other_http_is_not() {
        for url in [
            "https://shop.example.com",
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://localhost:3000/shop",
            "http://LOCALHOST",
            "http://[::1]:8080",
        ] {
            assert!(Client::new(url).unwrap().is_private(), "{url}");
        }
        for url in [
            "http://shop.example.com",
            "http://192.168.1.10",
            "http://[2001:db8::1]",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            assert!(!Client::new(url).unwrap().is_private(), "{url}");
        }
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: b"{\"errors\":[{\"code\":\"QuotaExceeded\",\"message\":\"You exceeded your quota\"}]}"
                .to_vec(),
        }
    }

    #[test]
    fn a_throttled_answer_waits_what_the_rate_limit_headers_say() {
        let wait = |r: Response| r.retry_after().map(|d| d.as_millis());
        assert_eq!(wait(answer(429, &[("Retry-After", "4")])), Some(4000));
        // Amazon: 0.5 requests per second is one request every 2 s.
        assert_eq!(
            wait(answer(429, &[("x-amzn-RateLimit-Limit", "0.5")])),
            Some(2000)
        );
        assert_eq!(
            wait(answer(429, &[("X-Rate-Limit-Time-Reset-Ms", "1500")])),
            Some(1500)
        );
        assert_eq!(wait(answer(429, &[("x-amzn-RateLimit-Limit", "0")])), None);
        // A rate header on a success is information, not a wait.
        assert_eq!(
            wait(answer(200, &[("x-amzn-RateLimit-Limit", "0.5")])),
            None
        );
    }

    #[test]
    fn an_error_names_the_request_and_the_platforms_message() {
        let err = answer(429, &[("x-amzn-RateLimit-Limit", "2")])
            .error_for_status_of("GET https://sellingpartnerapi-eu.amazon.com/orders/v0/orders");
        match err {
            Err(AdapterError::Transient(t)) => {
                assert_eq!(
                    t.message,
                    "GET https://sellingpartnerapi-eu.amazon.com/orders/v0/orders: the platform answered HTTP 429: QuotaExceeded: You exceeded your quota"
                );
                assert_eq!(t.retry_after_ms, Some(500));
            }
            other => panic!("expected transient, got {other:?}"),
        }
    }

    #[test]
    fn typed_bodies_carry_their_content_type() {
        let req = Client::new("http://h").unwrap().post("/x").xml("<a/>");
        assert!(req.headers.contains(&(
            "content-type".into(),
            "application/xml; charset=utf-8".into()
        )));
        assert_eq!(req.body.as_deref(), Some(&b"<a/>"[..]));
        let req = Client::new("http://h")
            .unwrap()
            .post("/x")
            .content("text/csv", "a,b");
        assert!(
            req.headers
                .contains(&("content-type".into(), "text/csv".into()))
        );
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn basic_auth_header_is_base64_of_user_and_password() {
        let req = Client::new("http://h")
            .unwrap()
            .basic_auth("ck", "cs")
            .get("/x");
        assert!(
            req.headers
                .contains(&("authorization".into(), "Basic Y2s6Y3M=".into()))
        );
    }
}
