//! Contract 1.1 (`statusport:adapter@1.1.0`): the `intake-adapter` world,
//! for a plugin that also takes orders and status changes in.
//!
//! Only the interfaces 1.1 adds are generated here. Everything 1.1 shares
//! with 1.0 (`types`, `host`, `wasi:http`) is mapped onto the 1.0 bindings,
//! so the SDK's helpers ([`crate::errors`], [`crate::http`],
//! [`crate::host`], [`crate::carriers`]) and types serve plugins of both
//! versions. The host imports keep their 1.0 names in the core module; the
//! component encoder links them to the 1.1 world's `host` by semver, as the
//! host's own linker does.
//!
//! A 1.1 plugin implements [`Guest`] (the adapter, as in 1.0) and
//! [`Intake`], then calls `statusport_plugin_sdk::v1_1::export!(MyPlugin);`.
//! The 1.0 world's `export!` stays as it is: a plugin picks its contract by
//! the macro it calls, and a 1.0 plugin built with this SDK is the same 1.0
//! component as before (wit-bindgen issue #1502, two worlds exporting the
//! same interface in one crate, does not arise: the export macros carry the
//! interface's version in their names).

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v1.1",
        world: "statusport:adapter/intake-adapter",
        with: {
            "statusport:adapter/types@1.1.0": crate::bindings::statusport::adapter::types,
            "statusport:adapter/host@1.1.0": crate::bindings::statusport::adapter::host,
            "wasi:http/types@0.2.12": crate::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": crate::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": crate::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": crate::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": crate::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::wasi::clocks::monotonic_clock,
        },
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "statusport_plugin_sdk::v1_1::bindings",
        // Without this, every generated module would pin this world's
        // description into each plugin that links the SDK, and a 1.0
        // plugin would import 1.1's `types`. A 1.1 plugin gets the
        // description from `export!`.
        disable_custom_section_link_helpers: true,
    });
}

pub mod intake;

pub use bindings::export;
pub use bindings::exports::statusport::adapter::adapter::Guest;
pub use bindings::exports::statusport::adapter::intake::Guest as Intake;
pub use bindings::exports::statusport::adapter::intake::{
    Batch, Customer, Inbound, IncomingOrder, Money, OrderLine, StatusChange, StatusValue,
};
