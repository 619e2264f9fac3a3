//! Contract 1.1 (`wit/v1.1`, `statusport:adapter@1.1.0`): 1.0 plus the
//! `intake` export — the bindings of what it adds and their conversion to
//! the core's types.

mod bindings;
pub mod convert;

pub use bindings::*;
