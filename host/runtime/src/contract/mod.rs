//! The plugin contract, one module per major version, as wasmtime's `p2`
//! and `p3` or Zed's `since_vX`: each holds its generated bindings and the
//! conversion of their types to the core's. A v1.1 extends `v1`; a v2 is a
//! module beside it, loaded by the same runtime.

pub mod v1;

/// The contract versions this host implements, newest last.
pub const SUPPORTED: &[&str] = &["1.0.0"];
/// The interface a plugin must export, without its version.
pub const ADAPTER_EXPORT: &str = "statusport:adapter/adapter";
