//! Fake platforms: small HTTP servers on loopback that answer like the real
//! APIs, refuse what the real ones refuse, and record every request.

pub mod shopware;
pub mod woocommerce;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

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
}

impl<S> Drop for Server<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<S> Server<S> {
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A platform's request handler.
pub trait Platform: Send + 'static {
    fn common(&mut self) -> &mut Common;
    fn handle(&mut self, request: &Recorded) -> Response;
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
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
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
                };
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
                    return response;
                }
                platform.handle(&request)
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
    Server { url, state, task }
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
