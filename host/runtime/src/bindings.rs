//! Host bindings of each supported contract version, generated from `wit/`.
//! A new major version gets its own module here, beside the old one.

pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../../wit/v1",
        world: "statusport:adapter/platform-adapter",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
        require_store_data_send: true,
    });

    pub use self::statusport::adapter::types;
    pub use exports::statusport::adapter::adapter::Guest;
}

/// The contract versions this host implements, newest last.
pub const SUPPORTED: &[&str] = &["1.0.0"];
/// The interface a plugin must export, without its version.
pub const ADAPTER_EXPORT: &str = "statusport:adapter/adapter";
