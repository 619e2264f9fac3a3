//! Contract 1.1 (`statusport:adapter@1.1.0`) for Statusport platform
//! plugins: the `intake-adapter` world, for a plugin that also takes orders
//! and status changes in, and helpers to build what it hands in.
//!
//! This is a crate of its own, not a module or a feature of
//! `statusport-plugin-sdk`, because wit-bindgen embeds the description of
//! every world it generates in a custom section of the object code, and
//! the component encoder reads every such section it finds in the linked
//! module: a plugin that links these bindings becomes a 1.1 component
//! (importing `types@1.1.0`) whether it uses them or not. Only the plugins
//! that depend on this crate link them; a 1.0 plugin built with the SDK
//! alone stays a pure 1.0 component that a 1.0 host loads. A cargo feature
//! would not hold that line: `cargo xtask plugins` builds every plugin in
//! one cargo invocation, which unifies features, so one 1.1 plugin would
//! turn the feature on for all of them.
//!
//! Only the interfaces 1.1 adds are generated here. Everything 1.1 shares
//! with 1.0 (`types`, `host`, `wasi:http`) is mapped onto the SDK's 1.0
//! bindings, so the SDK's helpers (`errors`, `http`, `host`, `carriers`)
//! and types serve plugins of both versions. The host imports keep their
//! 1.0 names in the core module; the component encoder links them to the
//! 1.1 world's `host` by semver, as the host's own linker does.
//!
//! A 1.1 plugin depends on this crate and the SDK, implements [`Guest`]
//! (the adapter, as in 1.0) and [`Intake`], then calls
//! `statusport_plugin_sdk_intake::export!(MyPlugin);`. It must not also
//! call the SDK's 1.0 `export!`: a plugin picks its contract by the macro
//! it calls.

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v1.1",
        world: "statusport:adapter/intake-adapter",
        with: {
            "statusport:adapter/types@1.1.0": statusport_plugin_sdk::bindings::statusport::adapter::types,
            "statusport:adapter/host@1.1.0": statusport_plugin_sdk::bindings::statusport::adapter::host,
            "wasi:http/types@0.2.12": statusport_plugin_sdk::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": statusport_plugin_sdk::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": statusport_plugin_sdk::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": statusport_plugin_sdk::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": statusport_plugin_sdk::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": statusport_plugin_sdk::bindings::wasi::clocks::monotonic_clock,
        },
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "statusport_plugin_sdk_intake::bindings",
    });
}

pub mod intake;

pub use bindings::export;
pub use bindings::exports::statusport::adapter::adapter::Guest;
pub use bindings::exports::statusport::adapter::intake::Guest as Intake;
pub use bindings::exports::statusport::adapter::intake::{
    Batch, Customer, Inbound, IncomingOrder, Money, OrderLine, StatusChange, StatusValue,
};
