//! The host bindings of contract 1.1, generated from `wit/v1.1`: only what
//! 1.1 adds is used (the `intake` export). Its `types` and `host` are 1.0's
//! unchanged, so they are taken from the 1.0 bindings, and a 1.1 plugin's
//! imports of `host@1.1.0` link against the 1.0 definitions (wasmtime
//! matches semver-compatible names).

wasmtime::component::bindgen!({
    path: "../../wit/v1.1",
    world: "statusport:adapter/intake-adapter",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "statusport:adapter/types": crate::contract::v1::types,
        "statusport:adapter/host": crate::contract::v1::statusport::adapter::host,
    },
    require_store_data_send: true,
});

pub use exports::statusport::adapter::intake;
