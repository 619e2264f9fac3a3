//! Calling a plugin: a fresh `Store` per call from the plugin's
//! pre-instantiated template, under the memory cap, the wall-clock deadline
//! and the fuel bound; then telling apart what the platform said from what
//! the plugin did wrong.
//!
//! The deadline is the wall clock's: whenever a plugin yields — at every
//! epoch tick and every [`FUEL_SLICE`] instructions — the clock is read, and a
//! timer ends a plugin waiting on HTTP. A late or starved epoch ticker
//! therefore delays the stop by one fuel slice at most, and a call that
//! failed after its deadline had passed is reported as `deadline exceeded`,
//! the first limit it broke.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::runtime::{FUEL_SLICE, Runtime};
use super::sandbox::{CallState, ChannelContext, LogLine, SandboxSpec};
use crate::contract::v1::{self, convert, types as wit};
use crate::contract::v1_1;
use statusport_core::domain::intake::{Batch, Inbound};
use statusport_core::domain::platform::{
    ConfigFieldDef, Dimension, Origin, PlatformError, RawPlatformInfo, Receipt,
};
use statusport_core::domain::shipment::Shipment;
use statusport_core::ports::PluginState;

pub use super::sandbox::SentRequest;

/// How a plugin's own code failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrapKind {
    Deadline,
    OutOfMemory,
    OutOfFuel,
    StackOverflow,
    Panic,
    Trap,
}

/// Who is at fault for a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blame {
    /// The platform said no, or the plugin misbehaved.
    Guest,
    /// The host could not run the call.
    Host,
}

/// Why a call did not return a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin ran and reported the platform's failure.
    #[error("{0}")]
    Platform(PlatformError),
    /// The plugin's code failed; `message` says how, in words an operator
    /// and the plugin's author can act on.
    #[error("{message}")]
    Trap { kind: TrapKind, message: String },
    /// The host could not set up or run the call (pool exhausted, shutdown).
    #[error("host: {0}")]
    Host(String),
    /// The plugin answered with something that does not make sense (an
    /// unknown currency, a time that is not RFC 3339); says what and where.
    #[error("the plugin's answer is not valid: {0}")]
    Answer(String),
}

impl CallError {
    /// Whether the same call may succeed later. A trap counts: the job is
    /// retried, and an operator sees the trap if it keeps happening.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Platform(e) => e.is_transient(),
            CallError::Trap { .. } | CallError::Host(_) => true,
            // The same plugin answers the same way again.
            CallError::Answer(_) => false,
        }
    }

    pub fn blame(&self) -> Blame {
        match self {
            CallError::Host(_) => Blame::Host,
            _ => Blame::Guest,
        }
    }
}

/// The result of one call and what happened on the way.
#[derive(Debug)]
pub struct CallReport<T> {
    pub result: Result<T, CallError>,
    pub logs: Vec<LogLine>,
    pub sent: Vec<SentRequest>,
    /// Origins the plugin tried to reach and was refused.
    pub denied: Vec<String>,
    /// The plugin's stdout and stderr.
    pub output: String,
    pub fuel_used: u64,
    pub elapsed: Duration,
}

/// Whom a call runs for.
#[derive(Clone)]
pub struct CallContext {
    pub channel: Arc<ChannelContext>,
    pub state: Arc<dyn PluginState>,
}

/// What the sandbox needs to know of the plugin being called.
pub struct Callee<'a> {
    pub label: &'a str,
    pub pre: &'a v1::PlatformAdapterPre<CallState>,
    /// The plugin's intake, when it has one (contract 1.1).
    pub intake: Option<&'a v1_1::intake::GuestIndices>,
    pub declared_hosts: &'a [Origin],
    pub config: &'a [ConfigFieldDef],
}

enum Invocation<'a> {
    Describe,
    PushStatus {
        order: &'a str,
        dimension: Dimension,
        from: &'a str,
        to: &'a str,
        key: &'a str,
    },
    UploadShipment {
        shipment: &'a Shipment,
        key: &'a str,
    },
    Pull {
        intake: &'a v1_1::intake::GuestIndices,
        cursor: Option<&'a str>,
    },
    AcceptWebhook {
        intake: &'a v1_1::intake::GuestIndices,
        headers: &'a [(String, String)],
        body: &'a [u8],
    },
}

impl Invocation<'_> {
    fn name(&self) -> &'static str {
        match self {
            Invocation::Describe => "describe",
            Invocation::PushStatus { .. } => "push-status",
            Invocation::UploadShipment { .. } => "upload-shipment",
            Invocation::Pull { .. } => "pull",
            Invocation::AcceptWebhook { .. } => "accept-webhook",
        }
    }
}

enum Answer {
    Info(wit::PlatformInfo),
    Receipt(Result<wit::Receipt, wit::AdapterError>),
    Batch(Result<v1_1::intake::Batch, wit::AdapterError>),
    Inbound(Result<Vec<v1_1::intake::Inbound>, wit::AdapterError>),
}

impl Runtime {
    /// Calls `describe`.
    pub async fn describe(&self, callee: &Callee<'_>) -> CallReport<RawPlatformInfo> {
        let context = CallContext {
            channel: Arc::new(ChannelContext::none()),
            state: Arc::new(super::sandbox::MemoryState::default()),
        };
        self.invoke(callee, &context, Invocation::Describe)
            .await
            .map(|answer| match answer {
                Answer::Info(info) => Ok(convert::raw_info(info)),
                _ => unreachable!("describe answers with platform info"),
            })
    }

    /// Calls `push-status`.
    #[allow(clippy::too_many_arguments)]
    pub async fn push_status(
        &self,
        callee: &Callee<'_>,
        context: &CallContext,
        platform_order_id: &str,
        dimension: Dimension,
        from: &str,
        to: &str,
        idempotency_key: &str,
    ) -> CallReport<Receipt> {
        let invocation = Invocation::PushStatus {
            order: platform_order_id,
            dimension,
            from,
            to,
            key: idempotency_key,
        };
        self.invoke(callee, context, invocation)
            .await
            .map(receipt_of)
    }

    /// Calls `upload-shipment`.
    pub async fn upload_shipment(
        &self,
        callee: &Callee<'_>,
        context: &CallContext,
        shipment: &Shipment,
        idempotency_key: &str,
    ) -> CallReport<Receipt> {
        let invocation = Invocation::UploadShipment {
            shipment,
            key: idempotency_key,
        };
        self.invoke(callee, context, invocation)
            .await
            .map(receipt_of)
    }

    /// Calls `pull` (contract 1.1): what came in on the platform since
    /// `cursor`.
    pub async fn pull(
        &self,
        callee: &Callee<'_>,
        context: &CallContext,
        cursor: Option<&str>,
    ) -> CallReport<Batch> {
        let Some(intake) = callee.intake else {
            return no_intake(callee);
        };
        self.invoke(callee, context, Invocation::Pull { intake, cursor })
            .await
            .map(|answer| match answer {
                Answer::Batch(Ok(batch)) => v1_1::convert::batch(batch).map_err(CallError::Answer),
                Answer::Batch(Err(e)) => Err(CallError::Platform(convert::platform_error(e))),
                _ => unreachable!("pull answers with a batch"),
            })
    }

    /// Calls `accept-webhook` (contract 1.1): the plugin checks the
    /// delivery's signature and says what it carries.
    pub async fn accept_webhook(
        &self,
        callee: &Callee<'_>,
        context: &CallContext,
        headers: &[(String, String)],
        body: &[u8],
    ) -> CallReport<Vec<Inbound>> {
        let Some(intake) = callee.intake else {
            return no_intake(callee);
        };
        let invocation = Invocation::AcceptWebhook {
            intake,
            headers,
            body,
        };
        self.invoke(callee, context, invocation)
            .await
            .map(|answer| match answer {
                Answer::Inbound(Ok(items)) => items
                    .into_iter()
                    .map(v1_1::convert::inbound)
                    .collect::<Result<_, _>>()
                    .map_err(CallError::Answer),
                Answer::Inbound(Err(e)) => Err(CallError::Platform(convert::platform_error(e))),
                _ => unreachable!("accept-webhook answers with what came in"),
            })
    }

    async fn invoke(
        &self,
        callee: &Callee<'_>,
        context: &CallContext,
        invocation: Invocation<'_>,
    ) -> CallReport<Answer> {
        let started = Instant::now();
        let limits = self.limits().clone();
        let function = invocation.name();
        let failed = |e: CallError| CallReport {
            result: Err(e),
            logs: Vec::new(),
            sent: Vec::new(),
            denied: Vec::new(),
            output: String::new(),
            fuel_used: 0,
            elapsed: started.elapsed(),
        };
        // The pool has a fixed number of slots: wait for one rather than
        // fail instantiation.
        let Ok(_slot) = self.slots().clone().acquire_owned().await else {
            return failed(CallError::Host(
                "the plugin runtime is shutting down".into(),
            ));
        };
        // The deadline runs from here: waiting for a slot is the host's load,
        // not the plugin's time.
        let until = Instant::now() + limits.deadline;

        let config_defaults: BTreeMap<String, String> = callee
            .config
            .iter()
            .filter_map(|f| Some((f.name.clone(), f.default_value.clone()?)))
            .collect();
        let state = CallState::new(SandboxSpec {
            label: callee.label.to_owned(),
            declared_hosts: callee.declared_hosts,
            config_defaults,
            channel: context.channel.clone(),
            state: context.state.clone(),
            memory_cap: limits.memory_bytes,
            deadline: limits.deadline,
        });
        let mut store = Store::new(self.engine(), state);
        store.limiter(|state| state);
        if let Err(e) = store
            .set_fuel(limits.fuel)
            .and_then(|()| store.fuel_async_yield_interval(Some(FUEL_SLICE)))
        {
            return failed(CallError::Host(format!("fuel could not be set: {e:#}")));
        }
        // Yield to the async runtime at every epoch tick, so a busy plugin
        // never holds a worker thread, and stop it once the deadline passed.
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= until {
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);

        let run = async {
            let instance = callee
                .pre
                .instance_pre()
                .instantiate_async(&mut store)
                .await?;
            // The adapter (1.0's interface, which every plugin exports).
            let adapter = |store: &mut Store<CallState>| v1::PlatformAdapter::new(store, &instance);
            Ok::<_, wasmtime::Error>(match invocation {
                Invocation::Describe => Answer::Info(
                    adapter(&mut store)?
                        .statusport_adapter_adapter()
                        .call_describe(&mut store)
                        .await?,
                ),
                Invocation::PushStatus {
                    order,
                    dimension,
                    from,
                    to,
                    key,
                } => Answer::Receipt(
                    adapter(&mut store)?
                        .statusport_adapter_adapter()
                        .call_push_status(
                            &mut store,
                            order,
                            convert::wit_dimension(dimension),
                            from,
                            to,
                            key,
                        )
                        .await?,
                ),
                Invocation::UploadShipment { shipment, key } => Answer::Receipt(
                    adapter(&mut store)?
                        .statusport_adapter_adapter()
                        .call_upload_shipment(&mut store, &convert::wit_shipment(shipment), key)
                        .await?,
                ),
                Invocation::Pull { intake, cursor } => Answer::Batch(
                    intake
                        .load(&mut store, &instance)?
                        .call_pull(&mut store, cursor)
                        .await?,
                ),
                Invocation::AcceptWebhook {
                    intake,
                    headers,
                    body,
                } => Answer::Inbound(
                    intake
                        .load(&mut store, &instance)?
                        .call_accept_webhook(&mut store, headers, body)
                        .await?,
                ),
            })
        };
        let outcome = within(until, run).await;

        // An answer that came late is still the answer: the platform may
        // have acted on it, and reporting a failure would send it again.
        let result = match outcome {
            Some(Ok(answer)) => Ok(answer),
            Some(Err(error)) => Err(classify(
                &error,
                store.data(),
                &Ended {
                    limits: &limits,
                    function,
                    plugin: callee.label,
                    past_deadline: Instant::now() >= until,
                },
            )),
            None => {
                let egress = store.data().egress_log.lock();
                let egress = egress.unwrap_or_else(|p| p.into_inner());
                // A request without a status is the one the plugin waits on.
                let waiting = egress.sent.last().filter(|r| r.status.is_none());
                Err(deadline_exceeded(
                    callee.label,
                    function,
                    limits.deadline,
                    waiting,
                ))
            }
        };
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CallError::Trap { .. }) => "trap",
            Err(_) => "error",
        };
        metrics::counter!("statusport_plugin_calls_total", "plugin" => callee.label.to_owned(), "function" => function, "outcome" => outcome).increment(1);
        metrics::histogram!("statusport_plugin_call_duration_seconds", "plugin" => callee.label.to_owned(), "function" => function)
            .record(started.elapsed().as_secs_f64());
        let data = store.into_data();
        let egress =
            std::mem::take(&mut *data.egress_log.lock().unwrap_or_else(|p| p.into_inner()));
        CallReport {
            result,
            logs: data.logs,
            sent: egress.sent,
            denied: egress.denied,
            output: String::from_utf8_lossy(&data.output.contents()).into_owned(),
            fuel_used,
            elapsed: started.elapsed(),
        }
    }
}

impl<T> CallReport<T> {
    fn map<U>(self, f: impl FnOnce(T) -> Result<U, CallError>) -> CallReport<U> {
        CallReport {
            result: self.result.and_then(f),
            logs: self.logs,
            sent: self.sent,
            denied: self.denied,
            output: self.output,
            fuel_used: self.fuel_used,
            elapsed: self.elapsed,
        }
    }
}

/// Runs `call` until it ends or the wall clock reaches `until`; `None` when
/// the deadline came first. The clock is read each time the plugin yields,
/// and a timer wakes a plugin waiting in a host call (HTTP), which epochs do
/// not interrupt.
async fn within<F: Future>(until: Instant, call: F) -> Option<F::Output> {
    let mut call = std::pin::pin!(call);
    let mut timer = std::pin::pin!(tokio::time::sleep_until(until.into()));
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = call.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if Instant::now() >= until || timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

fn deadline_exceeded(
    plugin: &str,
    function: &str,
    deadline: Duration,
    waiting: Option<&SentRequest>,
) -> CallError {
    let waiting = waiting
        .map(|r| format!(" while waiting for {} {} to answer", r.method, r.url))
        .unwrap_or_default();
    CallError::Trap {
        kind: TrapKind::Deadline,
        message: format!(
            "plugin {plugin}: deadline exceeded: {function} ran longer than {deadline:?} and was stopped{waiting}"
        ),
    }
}

/// What a trap ended: the call, and whether its deadline had passed by then.
struct Ended<'a> {
    limits: &'a super::Limits,
    function: &'a str,
    plugin: &'a str,
    past_deadline: bool,
}

/// Whether instantiating failed because the pooling allocator had no free
/// slot of some kind (instances, memories, tables).
fn pool_exhausted(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.is::<wasmtime::PoolConcurrencyLimitError>())
}

fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// Names what went wrong in a plugin's own code.
fn classify(error: &wasmtime::Error, state: &CallState, call: &Ended<'_>) -> CallError {
    let Ended {
        limits,
        function,
        plugin,
        past_deadline,
    } = *call;
    let trap = |kind, what: String| CallError::Trap {
        kind,
        message: format!("plugin {plugin}: {what}"),
    };
    // The host's instance pool is full: the host's limit, not the plugin's
    // fault; the call may succeed once others have finished.
    if pool_exhausted(error) {
        return CallError::Host(format!(
            "no room in the instance pool for {plugin}'s {function} now ({error:#}); the call can be tried again"
        ));
    }
    if let Some(asked) = state.memory_cap_hit {
        return trap(
            TrapKind::OutOfMemory,
            format!(
                "out of memory: {function} tried to grow its memory to {} bytes; the cap is {}",
                asked,
                mib(limits.memory_bytes)
            ),
        );
    }
    match error.downcast_ref::<Trap>() {
        // Fuel that ran out after the deadline had passed ran out because
        // the stop came late (a starved epoch ticker): the deadline is the
        // limit the plugin broke first.
        Some(Trap::Interrupt) => deadline_exceeded(plugin, function, limits.deadline, None),
        Some(Trap::OutOfFuel) if past_deadline => {
            deadline_exceeded(plugin, function, limits.deadline, None)
        }
        Some(Trap::OutOfFuel) => trap(
            TrapKind::OutOfFuel,
            format!(
                "out of fuel: {function} ran more than {} instructions",
                limits.fuel
            ),
        ),
        Some(Trap::StackOverflow) => trap(
            TrapKind::StackOverflow,
            format!("stack overflow in {function}"),
        ),
        Some(Trap::UnreachableCodeReached) => {
            let output = String::from_utf8_lossy(&state.output.contents()).into_owned();
            match panic_message(&output) {
                Some(message) => trap(
                    TrapKind::Panic,
                    format!("panicked in {function}: {message}"),
                ),
                None => trap(
                    TrapKind::Trap,
                    format!(
                        "trapped in {function}: wasm `unreachable` instruction executed{}",
                        backtrace_of(error)
                    ),
                ),
            }
        }
        // A Rust or C guest keeps part of its stack in linear memory; when
        // deep recursion runs it out, it shows as an out-of-bounds access
        // whose backtrace is one function over and over.
        Some(Trap::MemoryOutOfBounds) if recursion_of(error).is_some() => trap(
            TrapKind::StackOverflow,
            format!(
                "stack overflow in {function}: the plugin's stack in linear memory ran out (deep recursion in {})",
                recursion_of(error).unwrap_or_default()
            ),
        ),
        Some(other) => trap(
            TrapKind::Trap,
            format!("trapped in {function}: {other}{}", backtrace_of(error)),
        ),
        None => trap(TrapKind::Trap, format!("failed in {function}: {error:#}")),
    }
}

/// The guest's function names of a trap, innermost first, demangled.
fn frames_of(error: &wasmtime::Error) -> Vec<String> {
    error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .filter_map(|f| f.func_name())
                .map(|n| format!("{:#}", rustc_demangle::demangle(n)))
                .collect()
        })
        .unwrap_or_default()
}

/// The function that called itself all the way down, when every recorded
/// frame is the same one.
fn recursion_of(error: &wasmtime::Error) -> Option<String> {
    let frames = frames_of(error);
    let first = frames.first()?;
    (frames.len() >= 8 && frames.iter().all(|f| f == first)).then(|| first.clone())
}

/// The innermost guest frames of a trap, when wasmtime recorded them.
fn backtrace_of(error: &wasmtime::Error) -> String {
    let frames: Vec<String> = frames_of(error).into_iter().take(6).collect();
    if frames.is_empty() {
        String::new()
    } else {
        format!(" (at {})", frames.join(" ← "))
    }
}

/// `panicked at src/lib.rs:3:9: the message` from a Rust guest's stderr.
fn panic_message(output: &str) -> Option<String> {
    let start = output.find("panicked at ")?;
    let rest = &output[start + "panicked at ".len()..];
    let mut lines = rest.lines();
    let location = lines.next()?.trim_end_matches(':').trim();
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note: ") && !l.is_empty())
        .collect();
    Some(format!("{} (at {location})", message.join(" ")))
}

/// The answer to an intake call on a plugin that has none: refused before
/// any slot or store is taken.
fn no_intake<T>(callee: &Callee<'_>) -> CallReport<T> {
    CallReport {
        result: Err(CallError::Platform(PlatformError::Unsupported {
            message: format!(
                "{} takes nothing in: it implements no intake (contract 1.1)",
                callee.label
            ),
        })),
        logs: Vec::new(),
        sent: Vec::new(),
        denied: Vec::new(),
        output: String::new(),
        fuel_used: 0,
        elapsed: Duration::ZERO,
    }
}

fn receipt_of(answer: Answer) -> Result<Receipt, CallError> {
    match answer {
        Answer::Receipt(result) => convert::receipt(result).map_err(CallError::Platform),
        _ => unreachable!("push-status and upload-shipment answer with a receipt"),
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Deadline => "deadline",
            TrapKind::OutOfMemory => "out of memory",
            TrapKind::OutOfFuel => "out of fuel",
            TrapKind::StackOverflow => "stack overflow",
            TrapKind::Panic => "panic",
            TrapKind::Trap => "trap",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rust_panic_is_read_from_stderr() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:17:9:\ndeliberate failure\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "deliberate failure (at src/lib.rs:17:9)"
        );
        assert_eq!(panic_message("nothing here"), None);
    }

    #[test]
    fn a_full_instance_pool_is_told_from_other_failures() {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_core_instances(1);
        let mut config = wasmtime::Config::new();
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = wasmtime::Engine::new(&config).unwrap();
        // The empty module: the magic number and version 1.
        let module = wasmtime::Module::new(&engine, b"\0asm\x01\0\0\0").unwrap();
        let mut first = wasmtime::Store::new(&engine, ());
        wasmtime::Instance::new(&mut first, &module, &[]).unwrap();
        let mut second = wasmtime::Store::new(&engine, ());
        let full = wasmtime::Instance::new(&mut second, &module, &[]).unwrap_err();
        assert!(pool_exhausted(&full), "{full:#}");
        assert!(!pool_exhausted(&wasmtime::Error::msg(
            "wasm trap: unreachable"
        )));
    }
}
