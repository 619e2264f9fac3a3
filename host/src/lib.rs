//! Statusport: order-status middleware.
//!
//! See ARCHITECTURE.md at the repository root for the code map. The
//! dependency direction is `api → engine → {store, plugins, outbox} →
//! domain`.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod engine;
pub mod notify;
pub mod outbox;
pub mod plugins;
pub mod server;
pub mod store;
