//! Statusport's service: the HTTP API, the outbox that delivers what the
//! engine wrote, notifications, tokens, the config file and `serve`,
//! which starts them around the core (`statusport-core`) and the plugin
//! runtime (`statusport-runtime`).
//!
//! See ARCHITECTURE.md at the repository root for the map and the
//! invariants the tidy test keeps.

pub mod api;
pub mod auth;
pub mod config;
pub mod intake;
pub mod notify;
pub mod outbox;
pub mod server;
