//! What one plugin call's `Store` holds and what the plugin may reach from
//! it: WASI with no files, no environment and no sockets; outbound HTTP
//! through one egress checkpoint; the host interface (log, the channel's
//! config, the channel's small state).
//!
//! Secrets reach a plugin only through [`ChannelContext`], which a call gets
//! for its own channel alone.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result as WasmResult};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::contract::v1::statusport::adapter::host::{self as host_api, LogLevel};
use statusport_core::domain::order::Channel;
use statusport_core::domain::platform::{BASE_URL_FIELD, Origin};
use statusport_core::ports::{PluginState, check_state_limits};

/// Longest log line kept from a plugin; the rest is cut.
const MAX_LOG_LINE: usize = 4096;
/// Log lines kept per call; a plugin that logs more loses the rest.
const MAX_LOG_LINES: usize = 1000;
/// Captured stdout and stderr of one call.
const OUTPUT_CAPACITY: usize = 64 * 1024;
/// Largest request body a plugin may send.
const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;
/// Part of a request body kept in the call's record.
const RECORDED_BODY: usize = 4096;
/// Part of an answer's body kept in the call's record (enough to check a
/// usual answer against the platform's API description).
const RECORDED_ANSWER: usize = 64 * 1024;
/// Request headers whose values the call's record never keeps.
/// Headers whose values are credentials: recorded as `(secret)` (with the
/// scheme of an `Authorization`: `Bearer (secret)`).
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-amz-access-token",
    "x-auth-token",
    "x-api-key",
    "x-access-token",
    "api-key",
];

/// The channel a call runs for: its base URL, its config (secrets included)
/// and the extra hosts the operator granted it.
#[derive(Clone, Debug, Default)]
pub struct ChannelContext {
    pub id: String,
    pub base_url: Option<url::Url>,
    pub config: BTreeMap<String, String>,
    pub granted_hosts: Vec<Origin>,
}

impl ChannelContext {
    /// No channel: no network, no config. `describe` runs like this.
    pub fn none() -> ChannelContext {
        ChannelContext::default()
    }

    /// What a call for `channel` may use: its base URL, config and granted
    /// hosts. The error names the channel setting that does not parse.
    pub fn of(channel: &Channel) -> Result<ChannelContext, String> {
        let base_url = match &channel.base_url {
            Some(url) => Some(
                url::Url::parse(url)
                    .map_err(|e| format!("channel {}: base_url \"{url}\": {e}", channel.id))?,
            ),
            None => None,
        };
        let granted_hosts = channel
            .grants
            .iter()
            .map(|g| Origin::parse(g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("channel {}: grants: {e}", channel.id))?;
        Ok(ChannelContext {
            id: channel.id.to_string(),
            base_url,
            config: channel.config.clone(),
            granted_hosts,
        })
    }

    /// The origins a plugin may reach for this channel: the base URL's, and
    /// each granted extra host that the plugin also declared.
    pub fn allowed_origins(&self, declared: &[Origin]) -> Vec<Origin> {
        let mut allowed: Vec<Origin> = self
            .base_url
            .as_ref()
            .and_then(|u| Origin::of_url(u).ok())
            .into_iter()
            .collect();
        allowed.extend(
            self.granted_hosts
                .iter()
                .filter(|g| declared.contains(g))
                .cloned(),
        );
        allowed
    }
}

/// Plugin state kept in memory, for tests and `plugin check`.
#[derive(Default)]
pub struct MemoryState {
    values: Mutex<HashMap<String, BTreeMap<String, Vec<u8>>>>,
}

impl PluginState for MemoryState {
    fn get(&self, channel: &str, key: &str) -> Option<Vec<u8>> {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.get(channel)?.get(key).cloned()
    }

    fn set(&self, channel: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let entries = values.entry(channel.to_owned()).or_default();
        check_state_limits(key, &value, entries.len(), entries.contains_key(key))?;
        entries.insert(key.to_owned(), value);
        Ok(())
    }

    fn remove(&self, channel: &str, key: &str) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entries) = values.get_mut(channel) {
            entries.remove(key);
        }
    }
}

/// A line the plugin logged during the call.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// A request the plugin sent, as the host let it out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    /// The request's headers; credentials show as `(secret)`.
    pub headers: Vec<(String, String)>,
    /// The start of the body, as text.
    pub body: String,
    /// The platform's status code; none when the request failed.
    pub status: Option<u16>,
    /// The start of the answer's body as far as the plugin read it, as
    /// text; none when no answer came.
    pub answer: Option<String>,
    /// Whether the answer's body was longer than what `answer` keeps.
    pub answer_cut: bool,
}

/// What the egress checkpoint saw during one call.
#[derive(Debug, Default)]
pub struct EgressLog {
    /// Origins the plugin tried to reach and was refused.
    pub denied: Vec<String>,
    pub sent: Vec<SentRequest>,
}

/// The one place every outbound request of a plugin passes: deny by
/// default, let through only the allowed origins.
struct Egress {
    plugin: String,
    channel: String,
    allowed: Vec<Origin>,
    timeout: Duration,
    log: Arc<Mutex<EgressLog>>,
}

fn origin_of(uri: &http::Uri) -> Option<Origin> {
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(Origin {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
    })
}

fn lossy_prefix(bytes: &[u8], limit: usize) -> String {
    let cut = &bytes[..bytes.len().min(limit)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > limit {
        text.push('…');
    }
    text
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let origin = origin_of(request.uri());
        let allowed = origin.as_ref().is_some_and(|o| self.allowed.contains(o));
        if !allowed {
            let shown = origin
                .map(|o| o.to_string())
                .unwrap_or_else(|| request.uri().to_string());
            tracing::warn!(
                plugin = %self.plugin,
                channel = %self.channel,
                origin = %shown,
                "plugin request refused: host not allowed"
            );
            lock(&self.log).denied.push(shown);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        // Never wait longer than the call itself may run.
        let bound = |t: Option<Duration>| Some(t.map_or(self.timeout, |t| t.min(self.timeout)));
        let options = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: bound(options.connect_timeout),
            first_byte_timeout: bound(options.first_byte_timeout),
            between_bytes_timeout: bound(options.between_bytes_timeout),
        };
        let log = self.log.clone();
        Box::new(async move {
            let (parts, body) = request.into_parts();
            let body: Bytes = body.collect().await?.to_bytes();
            if body.len() > MAX_REQUEST_BODY {
                return Err(HttpError::HttpRequestBodySize(Some(body.len() as u64)));
            }
            let index = {
                let mut log = lock(&log);
                log.sent.push(SentRequest {
                    method: parts.method.to_string(),
                    url: parts.uri.to_string(),
                    headers: recorded_headers(&parts.headers),
                    body: lossy_prefix(&body, RECORDED_BODY),
                    status: None,
                    answer: None,
                    answer_cut: false,
                });
                log.sent.len() - 1
            };
            let request =
                http::Request::from_parts(parts, Full::new(body).map_err(|never| match never {}));
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            {
                let mut log = lock(&log);
                log.sent[index].status = Some(response.status().as_u16());
                log.sent[index].answer = Some(String::new());
            }
            // The answer streams on to the plugin; its start is copied into
            // the record as it passes.
            let response = response.map(move |body| {
                body.map_frame(move |frame| {
                    if let Some(data) = frame.data_ref() {
                        record_answer(&mut lock(&log).sent[index], data);
                    }
                    frame
                })
            });
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

fn recorded_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                // The scheme stays: "Bearer (secret)" still says which auth.
                match value.to_str().ok().and_then(|v| v.split_once(' ')) {
                    Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} (secret)"),
                    _ => "(secret)".to_owned(),
                }
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

fn record_answer(sent: &mut SentRequest, data: &[u8]) {
    let answer = sent.answer.get_or_insert_with(String::new);
    let room = RECORDED_ANSWER.saturating_sub(answer.len());
    if data.len() > room {
        sent.answer_cut = true;
    }
    answer.push_str(&String::from_utf8_lossy(&data[..data.len().min(room)]));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything one call's `Store` holds.
pub struct CallState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    egress: Egress,
    plugin: String,
    channel: Arc<ChannelContext>,
    config_defaults: BTreeMap<String, String>,
    state: Arc<dyn PluginState>,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) output: MemoryOutputPipe,
    pub(crate) egress_log: Arc<Mutex<EgressLog>>,
    memory_cap: usize,
    /// The size the plugin asked for when it hit the memory cap.
    pub(crate) memory_cap_hit: Option<usize>,
}

/// What a call's sandbox is made of.
pub struct SandboxSpec<'a> {
    /// `id version` of the plugin, for logs.
    pub label: String,
    /// Extra hosts the plugin declared.
    pub declared_hosts: &'a [Origin],
    /// Config defaults the plugin declared.
    pub config_defaults: BTreeMap<String, String>,
    pub channel: Arc<ChannelContext>,
    pub state: Arc<dyn PluginState>,
    pub memory_cap: usize,
    pub deadline: Duration,
}

impl CallState {
    pub fn new(spec: SandboxSpec<'_>) -> CallState {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let plugin = spec.label;
        let egress_log = Arc::new(Mutex::new(EgressLog::default()));
        let egress = Egress {
            plugin: plugin.clone(),
            channel: spec.channel.id.clone(),
            allowed: spec.channel.allowed_origins(spec.declared_hosts),
            timeout: spec.deadline,
            log: egress_log.clone(),
        };
        CallState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            egress,
            plugin,
            channel: spec.channel,
            config_defaults: spec.config_defaults,
            state: spec.state,
            logs: Vec::new(),
            output,
            egress_log,
            memory_cap: spec.memory_cap,
            memory_cap_hit: None,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> WasmResult<bool> {
        if desired > self.memory_cap {
            self.memory_cap_hit = Some(desired);
            return Err(wasmtime::format_err!(
                "memory cap of {} bytes reached",
                self.memory_cap
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> WasmResult<bool> {
        Ok(desired <= 100_000)
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

impl host_api::Host for CallState {
    fn log(&mut self, level: LogLevel, mut message: String) {
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let (plugin, channel) = (&self.plugin, &self.channel.id);
        match level {
            LogLevel::Trace => tracing::trace!(%plugin, %channel, "{message}"),
            LogLevel::Debug => tracing::debug!(%plugin, %channel, "{message}"),
            LogLevel::Info => tracing::info!(%plugin, %channel, "{message}"),
            LogLevel::Warn => tracing::warn!(%plugin, %channel, "{message}"),
            LogLevel::Error => tracing::error!(%plugin, %channel, "{message}"),
        }
        if self.logs.len() < MAX_LOG_LINES {
            self.logs.push(LogLine {
                level: level_name(level),
                message,
            });
        }
    }

    fn config(&mut self, name: String) -> Option<String> {
        if name == BASE_URL_FIELD {
            return self.channel.base_url.as_ref().map(|u| u.to_string());
        }
        self.channel
            .config
            .get(&name)
            .or_else(|| self.config_defaults.get(&name))
            .cloned()
    }

    fn state_get(&mut self, key: String) -> Option<Vec<u8>> {
        self.state.get(&self.channel.id, &key)
    }

    fn state_set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.state.set(&self.channel.id, &key, value)
    }

    fn state_remove(&mut self, key: String) {
        self.state.remove(&self.channel.id, &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statusport_core::ports::{STATE_MAX_KEYS, STATE_MAX_VALUE};

    #[test]
    fn origins_of_requests_default_their_port() {
        let uri: http::Uri = "https://Shop.Example.com/wp-json".parse().unwrap();
        assert_eq!(
            origin_of(&uri).unwrap().to_string(),
            "https://shop.example.com:443"
        );
        let uri: http::Uri = "http://127.0.0.1:8080/x".parse().unwrap();
        assert_eq!(origin_of(&uri).unwrap().port, 8080);
    }

    #[test]
    fn memory_state_enforces_its_limits_naming_them() {
        let state = MemoryState::default();
        let err = state
            .set("c", "k", vec![0; STATE_MAX_VALUE + 1])
            .unwrap_err();
        assert!(err.contains("the limit is 65536"), "{err}");
        for i in 0..STATE_MAX_KEYS {
            state.set("c", &format!("k{i}"), vec![1]).unwrap();
        }
        assert!(state.set("c", "one-more", vec![1]).is_err());
        // overwriting an existing key is fine at the limit
        state.set("c", "k0", vec![2]).unwrap();
        assert_eq!(state.get("c", "k0"), Some(vec![2]));
        // another channel has its own room, and cannot see this one's state
        assert_eq!(state.get("other", "k0"), None);
        state.set("other", "k0", vec![3]).unwrap();
    }
}
