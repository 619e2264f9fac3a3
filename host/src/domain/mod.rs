//! The domain: plain types and pure functions. Nothing here does I/O or
//! knows about sled, wasmtime or HTTP; every other module builds on it.

pub mod event;
pub mod job;
pub mod money;
pub mod notify;
pub mod order;
pub mod platform;
pub mod shipment;
