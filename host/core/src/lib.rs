//! Statusport's core: the orders, their rules and their store, with no
//! plugin runtime, no HTTP and no wasmtime.
//!
//! - [`domain`]: plain types and pure functions.
//! - [`ports`]: what the core needs from outside (a platform's statuses,
//!   a plugin's state store) as traits others implement.
//! - [`store`]: the embedded store (sled): keys, codecs, the one commit,
//!   migrations and the one order query every reader uses.
//! - [`engine`]: the one place where an event becomes a status change.
//! - [`templates`]: message templates, parsed, checked and rendered.
//!
//! See ARCHITECTURE.md at the repository root for the map and the
//! invariants the tidy test keeps.

pub mod domain;
pub mod engine;
pub mod ports;
pub mod store;
pub mod templates;
