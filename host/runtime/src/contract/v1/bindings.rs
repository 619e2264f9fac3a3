//! The host bindings of contract 1.x, generated from `wit/v1`.

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
