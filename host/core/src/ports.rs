//! The ports: what the core needs from outside and does not build itself.
//! The plugin runtime implements [`Platforms`] (a plugin's statuses and
//! moves, from its `describe`); the store implements [`PluginState`] for
//! the runtime's sandbox. The core names no runtime, no HTTP and no
//! wasmtime type.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::platform::Platform;

/// Where the engine learns a plugin's statuses.
pub trait Platforms: Send + Sync {
    fn platform(&self, plugin: &str) -> Option<Arc<Platform>>;
    /// Ids of the plugins known, for error messages.
    fn known(&self) -> Vec<String>;
    /// Whether the plugin takes orders in (contract 1.1's intake): only
    /// then may its channels poll.
    fn has_intake(&self, plugin: &str) -> bool;
}

/// A fixed set of platforms: for tests and tools.
impl Platforms for BTreeMap<String, Arc<Platform>> {
    fn platform(&self, plugin: &str) -> Option<Arc<Platform>> {
        self.get(plugin).cloned()
    }
    fn known(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
    /// Describe snapshots say nothing of intake: every one may poll.
    fn has_intake(&self, _plugin: &str) -> bool {
        true
    }
}

/// Limits on a channel's plugin state.
pub const STATE_MAX_KEY: usize = 128;
pub const STATE_MAX_VALUE: usize = 64 * 1024;
pub const STATE_MAX_KEYS: usize = 64;

/// Where a channel's plugin state lives; the store implements it.
pub trait PluginState: Send + Sync {
    fn get(&self, channel: &str, key: &str) -> Option<Vec<u8>>;
    /// Stores a value; the error says which limit was hit.
    fn set(&self, channel: &str, key: &str, value: Vec<u8>) -> Result<(), String>;
    fn remove(&self, channel: &str, key: &str);
}

/// Checks a `state-set` against the limits; `count` is how many keys the
/// channel holds, `exists` whether this key is one of them.
pub fn check_state_limits(
    key: &str,
    value: &[u8],
    count: usize,
    exists: bool,
) -> Result<(), String> {
    if key.is_empty() || key.len() > STATE_MAX_KEY {
        return Err(format!(
            "state key must be 1-{STATE_MAX_KEY} bytes, this one has {}",
            key.len()
        ));
    }
    if value.len() > STATE_MAX_VALUE {
        return Err(format!(
            "state value for \"{key}\" has {} bytes; the limit is {STATE_MAX_VALUE}",
            value.len()
        ));
    }
    if !exists && count >= STATE_MAX_KEYS {
        return Err(format!(
            "the channel already holds {STATE_MAX_KEYS} state keys, the limit; remove one first"
        ));
    }
    Ok(())
}
