//! The plugin contract, one module per major version, as wasmtime's `p2`
//! and `p3` or Zed's `since_vX`: each holds its generated bindings and the
//! conversion of their types to the core's. `v1_1` holds only what 1.1
//! adds; a v2 would be a module beside them, loaded by the same runtime.

pub mod v1;
pub mod v1_1;

/// The contract versions this host implements, newest last.
pub const SUPPORTED: &[&str] = &["1.0.0", "1.1.0"];
/// The interface a plugin must export, without its version.
pub const ADAPTER_EXPORT: &str = "statusport:adapter/adapter";
/// The interface a plugin with intake exports (since 1.1), without its
/// version.
pub const INTAKE_EXPORT: &str = "statusport:adapter/intake@";
