//! Fake platforms: small HTTP servers on loopback that answer like the real
//! APIs, refuse what the real ones refuse, and record every request.
//!
//! A fake whose platform publishes an API description ([`Platform::description`])
//! checks every request it receives and every answer it gives against it;
//! a mismatch is printed at once and fails the test that caused it when its
//! [`Server`] is dropped (or at [`Server::assert_conformant`]). The fake keeps
//! answering as it would: a test that expects a refusal still sees it, and
//! the mismatch is reported by itself, not as a confusing 500.

pub mod adobe_commerce;
pub mod allegro;
pub mod amazon;
pub mod bigcommerce;
pub mod ebay;
pub mod etsy;
pub mod exampleshop;
pub mod oauth;
pub mod shopware;
pub mod woocommerce;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use statusport_spec::{Answer, Description, Request};

/// One request a fake platform received.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The body as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as it came (a form, XML, or JSON).
    pub raw: Vec<u8>,
}

impl Recorded {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query's value for `name`, decoded.
    pub fn query_value(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The `application/x-www-form-urlencoded` body's value for `name`.
    pub fn form_value(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(&self.raw)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// An answer queued to replace the next normal one (to simulate throttling
/// or an outage).
#[derive(Clone, Debug)]
pub struct Injected {
    /// Normal answers to give before this one.
    pub after: usize,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// What every fake shares: the request log and the queue of injected answers.
#[derive(Default)]
pub struct Common {
    pub received: Vec<Recorded>,
    pub injected: VecDeque<Injected>,
}

/// A running fake platform.
pub struct Server<S> {
    pub url: String,
    pub state: Arc<Mutex<S>>,
    task: tokio::task::JoinHandle<()>,
    /// Every way an exchange differed from the platform's description.
    mismatches: Arc<Mutex<Vec<String>>>,
}

impl<S> Drop for Server<S> {
    fn drop(&mut self) {
        self.task.abort();
        // A test already failing says why; a second panic would abort.
        if !std::thread::panicking() {
            self.assert_conformant();
        }
    }
}

impl<S> Server<S> {
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the mismatches recorded so far, for a test that sends
    /// non-conforming requests on purpose (they then fail nothing).
    pub fn take_mismatches(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.mismatches))
    }

    /// Panics listing every exchange so far that differed from the
    /// platform's published API description (none for a platform without one).
    pub fn assert_conformant(&self) {
        let mismatches = std::mem::take(&mut *lock(&self.mismatches));
        assert!(
            mismatches.is_empty(),
            "{} exchange(s) with the fake platform at {} differ from its published API description:\n{}",
            mismatches.len(),
            self.url,
            mismatches.join("\n")
        );
    }
}

/// A platform's request handler.
pub trait Platform: Send + 'static {
    fn common(&mut self) -> &mut Common;
    fn handle(&mut self, request: &Recorded) -> Response;

    /// The platform's published API description (in `shared/specs` beside
    /// the repository), against which every exchange is checked; `None`
    /// for a platform that publishes none.
    fn description() -> Option<PathBuf> {
        None
    }

    /// Whether `request` belongs to the API the description describes;
    /// `false` for a path the platform serves beside it (eBay's token
    /// endpoint on the API's own host), which is then not checked.
    fn described(_request: &Recorded) -> bool {
        true
    }
}

/// A description in `shared/specs` beside the repository.
pub fn shared_spec(file: &str) -> PathBuf {
    crate::root()
        .parent()
        .expect("the repository has a parent folder")
        .join("shared")
        .join("specs")
        .join(file)
}

/// Each description is read once per test process.
fn description(path: &Path) -> Arc<Description> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Description>>>> = OnceLock::new();
    let mut loaded = lock(LOADED.get_or_init(Default::default));
    loaded
        .entry(path.to_owned())
        .or_insert_with(|| {
            Arc::new(Description::load(path).unwrap_or_else(|e| panic!("the fake's {e}")))
        })
        .clone()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Checks one exchange; each mismatch, with the request it belongs to.
async fn conform(
    description: &Description,
    request: &Recorded,
    headers: &HeaderMap,
    response: Response,
) -> (Response, Vec<String>) {
    let url = match &request.query {
        Some(q) => format!("{}?{q}", request.path),
        None => request.path.clone(),
    };
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let sent = Request {
        method: &request.method,
        url: &url,
        base_url: None,
        headers: Some(&headers),
        body: (!request.body.is_null()).then_some(&request.body),
    };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the fake's answer is in memory");
    let answer_body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let status = parts.status.as_u16();
    let mut mismatches = description.check_request(&sent);
    mismatches.extend(description.check_answer(
        &sent,
        &Answer {
            status,
            body: answer_body.as_ref(),
        },
    ));
    let shown = mismatches
        .iter()
        .map(|m| format!("  {} {url} → {status}: {m}", request.method))
        .collect();
    (
        Response::from_parts(parts, axum::body::Body::from(bytes)),
        shown,
    )
}

impl<S: Platform> Server<S> {
    /// The requests received, oldest first.
    pub fn received(&self) -> Vec<Recorded> {
        self.state().common().received.clone()
    }

    /// Makes the next request answer `status` with `headers` and `body`.
    pub fn inject(&self, status: u16, headers: &[(&str, &str)], body: Value) {
        self.inject_after(0, status, headers, body)
    }

    /// Lets `after` requests through normally, then answers the next one
    /// with `status`, `headers` and `body`.
    pub fn inject_after(&self, after: usize, status: u16, headers: &[(&str, &str)], body: Value) {
        self.state().common().injected.push_back(Injected {
            after,
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body,
        });
    }
}

/// Starts `platform` on a free loopback port.
pub async fn serve<S: Platform>(platform: S) -> Server<S> {
    let state = Arc::new(Mutex::new(platform));
    let shared = state.clone();
    let spec = S::description().map(|path| description(&path));
    let mismatches = Arc::new(Mutex::new(Vec::new()));
    let found = mismatches.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            let spec = spec.clone();
            let found = found.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let request = Recorded {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().map(str::to_owned),
                    authorization: header("authorization"),
                    content_type: header("content-type"),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    headers: headers
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                        })
                        .collect(),
                    raw: body.to_vec(),
                };
                let response = {
                    let mut platform = shared.lock().unwrap_or_else(|p| p.into_inner());
                    platform.common().received.push(request.clone());
                    let due = match platform.common().injected.front_mut() {
                        Some(next) if next.after == 0 => true,
                        Some(next) => {
                            next.after -= 1;
                            false
                        }
                        None => false,
                    };
                    if let Some(injected) = due
                        .then(|| platform.common().injected.pop_front())
                        .flatten()
                    {
                        let mut response = (
                            StatusCode::from_u16(injected.status).expect("a valid status"),
                            axum::Json(injected.body),
                        )
                            .into_response();
                        for (k, v) in injected.headers {
                            response.headers_mut().insert(
                                axum::http::HeaderName::from_bytes(k.as_bytes())
                                    .expect("a header name"),
                                v.parse().expect("a header value"),
                            );
                        }
                        response
                    } else {
                        platform.handle(&request)
                    }
                };
                let Some(spec) = spec.filter(|_| S::described(&request)) else {
                    return response;
                };
                let (response, mismatches) = conform(&spec, &request, &headers, response).await;
                for m in &mismatches {
                    eprintln!(
                        "fake platform: exchange differs from the published API description:\n{m}"
                    );
                }
                lock(&found).extend(mismatches);
                response
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the fake platform serves");
    });
    Server {
        url,
        state,
        task,
        mismatches,
    }
}

/// A JSON answer.
pub fn json(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).expect("a valid status"),
        axum::Json(body),
    )
        .into_response()
}

/// The path split into segments: `/a/b` → `["a", "b"]`.
pub fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}
