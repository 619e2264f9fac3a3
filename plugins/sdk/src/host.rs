//! The host's side of the contract: the channel's settings, the channel's
//! small key-value state and the host's log.

use crate::AdapterError;
use crate::bindings::statusport::adapter::host as imports;
pub use imports::LogLevel;

/// The config name under which the host hands every plugin its channel's
/// base URL (`https://shop.example.com`).
pub const BASE_URL: &str = "base-url";

/// The channel's value for `name`, or its declared default.
pub fn config(name: &str) -> Option<String> {
    imports::config(name).filter(|v| !v.is_empty())
}

/// The channel's value for a field the plugin cannot work without; its
/// absence is a `config` error naming the field.
pub fn require_config(name: &str) -> Result<String, AdapterError> {
    config(name).ok_or_else(|| {
        AdapterError::Config(format!(
            "the channel has no value for \"{name}\": set it in the channel's config"
        ))
    })
}

/// A switch in the channel's config: `true`, `yes`, `1` and `on` are on.
pub fn config_flag(name: &str) -> Option<bool> {
    config(name).map(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "1" | "on"
        )
    })
}

pub fn state_get(key: &str) -> Option<Vec<u8>> {
    imports::state_get(key)
}

/// Stores a value for the channel; a refusal (over a limit) is logged and
/// otherwise ignored, since state is a cache the plugin can rebuild.
pub fn state_set(key: &str, value: &[u8]) {
    if let Err(why) = imports::state_set(key, value) {
        log(
            LogLevel::Warn,
            &format!("state \"{key}\" not stored: {why}"),
        );
    }
}

pub fn state_remove(key: &str) {
    imports::state_remove(key)
}

pub fn log(level: LogLevel, message: &str) {
    imports::log(level, message)
}

pub fn debug(message: &str) {
    log(LogLevel::Debug, message)
}

pub fn info(message: &str) {
    log(LogLevel::Info, message)
}
