//! The Statusport plugin SDK: everything a platform plugin needs besides its
//! platform logic.
//!
//! - [`bindings`]: the `statusport:adapter@1.0.0` contract, generated from
//!   `wit/v1`, and the [`export!`] macro that registers a plugin.
//! - [`http`]: a small blocking JSON-over-HTTP client on `wasi:http`.
//! - [`errors`]: mapping of HTTP answers and transport failures to the
//!   contract's `adapter-error`.
//! - [`carriers`]: the host's canonical carrier ids and a mapping helper.
//! - [`host`]: the channel's config values, the per-channel state, the log.
//! - [`money`], [`time`], [`webhook`]: amounts in minor units, RFC 3339
//!   times, header lookup and HMAC-SHA256 signature checks.
//!
//! A 1.0 plugin is one file: implement [`Guest`] and call
//! `statusport_plugin_sdk::export!(MyPlugin);`.
//!
//! Contract 1.1 (`intake`) lives in its own crate,
//! `statusport-plugin-sdk-intake` (`plugins/sdk-intake`), which maps the
//! interfaces 1.1 shares with 1.0 onto [`bindings`]. It must stay out of
//! this crate: wit-bindgen embeds each generated world's description in
//! the object code, and a 1.0 plugin linking a 1.1 world would become a 1.1
//! component that a 1.0 host refuses.

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v1",
        world: "statusport:adapter/platform-adapter",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "statusport_plugin_sdk::bindings",
    });
}

pub mod carriers;
pub mod errors;
pub mod host;
pub mod http;
pub mod money;
pub mod oauth;
pub mod time;
pub mod webhook;

pub use bindings::export;
pub use bindings::exports::statusport::adapter::adapter::Guest;
pub use bindings::statusport::adapter::types::{
    AdapterError, ConfigField, Dimension, Package, PackageLine, PlatformInfo, Receipt, Shipment,
    Status, TransientError, Transition,
};
pub use serde_json::{Value, json};

/// Shorthand for the result of `push-status` and `upload-shipment`.
pub type AdapterResult = Result<Receipt, AdapterError>;

impl Dimension {
    /// The dimension's name as the contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Order => "order",
            Dimension::Payment => "payment",
            Dimension::Delivery => "delivery",
        }
    }
}

/// A status for `describe`: `status(Dimension::Order, "processing", "Processing")`.
pub fn status(dimension: Dimension, code: &str, label: &str) -> Status {
    Status {
        code: code.to_owned(),
        label: label.to_owned(),
        dimension,
        terminal: false,
        initial: false,
    }
}

impl Status {
    /// Marks the status as one no move leaves.
    pub fn terminal(mut self) -> Self {
        self.terminal = true;
        self
    }

    /// Marks the status as the one a new order starts in.
    pub fn initial(mut self) -> Self {
        self.initial = true;
        self
    }
}

/// A config field for `describe`.
pub fn config_field(name: &str, help: &str) -> ConfigField {
    ConfigField {
        name: name.to_owned(),
        help: help.to_owned(),
        secret: false,
        required: false,
        default_value: None,
    }
}

impl ConfigField {
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn default_value(mut self, value: &str) -> Self {
        self.default_value = Some(value.to_owned());
        self
    }
}

/// A receipt with a reference and a summary.
pub fn receipt(reference: Option<String>, summary: impl Into<String>) -> Receipt {
    Receipt {
        reference,
        summary: summary.into(),
    }
}
