//! The plugin runtime: loads platform plugins (WebAssembly components),
//! keeps each in a sandbox, and calls them.
//!
//! - [`runtime`]: the one wasmtime `Engine`, its limits, the compiled-code
//!   cache and the linker.
//! - [`sandbox`]: what a single call's `Store` holds and may reach: the
//!   host imports, the channel's config and state, the egress checkpoint.
//! - [`call`]: calling `describe`, `push-status`, `upload-shipment` with a
//!   fresh store each, and classifying what went wrong.
//! - [`registry`]: every plugin in a directory, validated, hot-reloaded.
//!
//! This module never trusts a plugin: a plugin that traps, loops, eats
//! memory or calls a host it was not granted fails its own call and nothing
//! else. It never changes an order; it only answers calls.

pub mod call;
pub mod contract;
pub mod registry;
pub mod runtime;
pub mod sandbox;

pub use call::{CallError, CallReport, SentRequest, TrapKind};
pub use registry::{LoadedPlugin, Refusal, Registry};
pub use runtime::{Limits, Runtime};
pub use sandbox::{ChannelContext, MemoryState};
