//! Contract 1.x (`wit/v1`, `statusport:adapter@1.0.0`): the host bindings
//! generated from the WIT, and the conversion of their types to the core's.

mod bindings;
pub mod convert;

pub use bindings::*;
