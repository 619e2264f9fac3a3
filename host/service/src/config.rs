//! The host's configuration: one TOML file, environment overrides, and
//! defaults that run with no file at all.
//!
//! Precedence, lowest first: the defaults here, the file given with
//! `--config`, then `STATUSPORT_*` variables (`STATUSPORT_LISTEN`,
//! `STATUSPORT_DATA_DIR`, and `STATUSPORT_OUTBOX__WORKERS` for a key of a
//! table: two underscores between the table and the key).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::notify::mail::MailConfig;
use crate::notify::sms::SmsConfig;
use crate::outbox::OutboxConfig;
use statusport_core::store::Numbering;
use statusport_runtime::Limits;

/// The top-level keys; environment variables naming anything else (such as
/// `STATUSPORT_LOG`) are not configuration.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "plugin_dir",
    "api",
    "plugins",
    "engine",
    "outbox",
    "mail",
    "sms",
    "numbering",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port the HTTP API listens on.
    pub listen: String,
    /// Where the store, compiled plugin code, mail files and the first
    /// admin token live.
    pub data_dir: PathBuf,
    /// The folder of platform plugins (`*.wasm`) loaded at start.
    pub plugin_dir: PathBuf,
    pub api: ApiConfig,
    pub plugins: PluginConfig,
    pub engine: EngineConfig,
    pub outbox: OutboxConfig,
    pub mail: MailConfig,
    /// The SMS gateway; without one, SMS jobs fail as unconfigured.
    pub sms: Option<SmsConfig>,
    /// Start numbers and prefixes of the order and invoice sequences,
    /// applied at each start of `serve`.
    pub numbering: NumberingConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: "statusport-data".into(),
            plugin_dir: "dist/plugins".into(),
            api: ApiConfig::default(),
            plugins: PluginConfig::default(),
            engine: EngineConfig::default(),
            outbox: OutboxConfig::default(),
            mail: MailConfig::default(),
            sms: None,
            numbering: NumberingConfig::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// The largest request body taken; larger ones get 413.
    pub max_body_bytes: usize,
    /// Orders per page when the request names no `limit`.
    pub default_page_size: usize,
    /// The largest `limit` a list request may ask for.
    pub max_page_size: usize,
    /// Seconds a request may take before it is answered with 503.
    pub request_timeout_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1024 * 1024,
            default_page_size: 50,
            max_page_size: 1000,
            request_timeout_secs: 30,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginConfig {
    /// Wall-clock limit of one plugin call.
    pub deadline_ms: u64,
    /// Memory cap of one plugin call.
    pub memory_mib: u64,
    /// Plugin calls running at once.
    pub concurrent_calls: u32,
    /// Where compiled plugin code is cached (default: `<data_dir>/compiled`).
    pub cache_dir: Option<PathBuf>,
}

impl Default for PluginConfig {
    fn default() -> Self {
        let limits = Limits::default();
        PluginConfig {
            deadline_ms: limits.deadline.as_millis() as u64,
            memory_mib: (limits.memory_bytes / (1024 * 1024)) as u64,
            concurrent_calls: limits.concurrent_calls,
            cache_dir: None,
        }
    }
}

impl PluginConfig {
    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: (self.memory_mib as usize) * 1024 * 1024,
            deadline: Duration::from_millis(self.deadline_ms),
            concurrent_calls: self.concurrent_calls,
            ..Limits::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// How often the timer rules (dunning) look for orders that waited
    /// long enough.
    pub tick_secs: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { tick_secs: 300 }
    }
}

/// The `[numbering]` table. Each key given is applied at every start of
/// `serve` over the stored numbering (the operator's file wins over a
/// change made with `PUT /api/numbering` since); a key left out keeps the
/// stored value. A start that would change is refused at or below the last
/// number its sequence drew, and `serve` does not start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumberingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_start: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_start: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_prefix: Option<String>,
}

impl NumberingConfig {
    /// `stored` with the keys this table gives.
    pub fn over(&self, stored: &Numbering) -> Numbering {
        Numbering {
            order_start: self.order_start.unwrap_or(stored.order_start),
            order_prefix: self
                .order_prefix
                .clone()
                .unwrap_or_else(|| stored.order_prefix.clone()),
            invoice_start: self.invoice_start.unwrap_or(stored.invoice_start),
            invoice_prefix: self
                .invoice_prefix
                .clone()
                .unwrap_or_else(|| stored.invoice_prefix.clone()),
        }
    }

    /// Whether the table gives any key.
    pub fn is_empty(&self) -> bool {
        *self == NumberingConfig::default()
    }
}

/// Why a configuration was refused; every problem is listed.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl Config {
    /// Reads `file` (when given) over the defaults, then the `STATUSPORT_*`
    /// environment, and checks the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_from(file, Env::prefixed("STATUSPORT_"))
    }

    fn load_from(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError {
                    problems: vec![format!(
                        "config file {} does not exist; give an existing file with --config, or none for the defaults",
                        file.display()
                    )],
                });
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // The filter sees the variable's name before `__` becomes a dot.
        let env = env
            .filter(|key| {
                let name = key.as_str().to_ascii_lowercase();
                let top = name.split("__").next().unwrap_or_default();
                KEYS.contains(&top)
            })
            .split("__");
        figment = figment.merge(env);
        let config: Config = figment.extract().map_err(|e| ConfigError {
            problems: every_problem(&figment, e),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Checks every value; the error lists each bad one with what is
    /// allowed.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Err(e) = self.listen.parse::<SocketAddr>() {
            problems.push(format!(
                "listen: \"{}\" is not an address and port ({e}); write it as \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
                self.listen
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir: must not be empty".into());
        }
        if self.plugin_dir.as_os_str().is_empty() {
            problems.push("plugin_dir: must not be empty".into());
        }
        let api = &self.api;
        if !(1024..=1024 * 1024 * 1024).contains(&api.max_body_bytes) {
            problems.push(format!(
                "api.max_body_bytes: {} is outside 1024 ..= 1073741824",
                api.max_body_bytes
            ));
        }
        if api.max_page_size == 0 || api.max_page_size > 100_000 {
            problems.push(format!(
                "api.max_page_size: {} is outside 1 ..= 100000",
                api.max_page_size
            ));
        }
        if api.default_page_size == 0 || api.default_page_size > api.max_page_size {
            problems.push(format!(
                "api.default_page_size: {} must be at least 1 and at most api.max_page_size ({})",
                api.default_page_size, api.max_page_size
            ));
        }
        if api.request_timeout_secs == 0 {
            problems.push("api.request_timeout_secs: must be at least 1".into());
        }
        let plugins = &self.plugins;
        if !(10..=600_000).contains(&plugins.deadline_ms) {
            problems.push(format!(
                "plugins.deadline_ms: {} is outside 10 ..= 600000",
                plugins.deadline_ms
            ));
        }
        if !(1..=4096).contains(&plugins.memory_mib) {
            problems.push(format!(
                "plugins.memory_mib: {} is outside 1 ..= 4096",
                plugins.memory_mib
            ));
        }
        if plugins.concurrent_calls == 0 {
            problems.push("plugins.concurrent_calls: must be at least 1".into());
        }
        if self.engine.tick_secs == 0 {
            problems.push("engine.tick_secs: must be at least 1".into());
        }
        if let Err(e) = self.outbox.check() {
            problems.push(e);
        }
        if let Err(e) = crate::notify::mail::Mailer::new(&self.mail, &self.mail_spool()) {
            problems.push(format!("mail: {e}"));
        }
        if let Some(sms) = &self.sms
            && let Err(e) = crate::notify::sms::SmsGateway::new(sms)
        {
            problems.push(format!("sms: {e}"));
        }
        // Only the keys given are checked: the others are the stored ones.
        if let Err(bad) = self.numbering.over(&Numbering::default()).check() {
            for e in bad {
                let given = match e.field() {
                    Some("order_start") => self.numbering.order_start.is_some(),
                    Some("order_prefix") => self.numbering.order_prefix.is_some(),
                    Some("invoice_start") => self.numbering.invoice_start.is_some(),
                    Some("invoice_prefix") => self.numbering.invoice_prefix.is_some(),
                    _ => true,
                };
                if given {
                    problems.push(format!("numbering.{e}"));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.plugins
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("compiled"))
    }

    /// Where mail goes without an SMTP relay.
    pub fn mail_spool(&self) -> PathBuf {
        self.mail
            .spool_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mail"))
    }

    /// The configuration as TOML, defaults filled in: what `config check`
    /// prints.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

/// All that is wrong, not just the first thing: deserialising stops at the
/// first bad value, so each top-level key is read again on its own, which
/// names the first bad value of every section and every unknown key.
fn every_problem(figment: &Figment, first: figment::Error) -> Vec<String> {
    fn section<T: serde::de::DeserializeOwned>(
        figment: &Figment,
        key: &str,
        problems: &mut Vec<String>,
    ) {
        if figment.contains(key)
            && let Err(e) = figment.extract_inner::<T>(key)
        {
            // figment appends the section to the path: put it first.
            problems.extend(e.into_iter().map(|mut e| {
                if e.path.last().is_some_and(|last| last == key) {
                    e.path.pop();
                }
                e.path.insert(0, key.to_owned());
                describe(&e)
            }));
        }
    }
    let mut problems = Vec::new();
    if let Ok(figment::value::Value::Dict(_, top)) = figment.find_value("") {
        for key in top.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            let source = figment
                .find_metadata(key)
                .and_then(|m| match &m.source {
                    Some(figment::Source::File(path)) => Some(format!(" (in {})", path.display())),
                    _ => None,
                })
                .unwrap_or_default();
            problems.push(format!(
                "{key}: unknown key{source}; the keys are {}",
                KEYS.join(", ")
            ));
        }
    }
    section::<String>(figment, "listen", &mut problems);
    section::<PathBuf>(figment, "data_dir", &mut problems);
    section::<PathBuf>(figment, "plugin_dir", &mut problems);
    section::<ApiConfig>(figment, "api", &mut problems);
    section::<PluginConfig>(figment, "plugins", &mut problems);
    section::<EngineConfig>(figment, "engine", &mut problems);
    section::<OutboxConfig>(figment, "outbox", &mut problems);
    section::<MailConfig>(figment, "mail", &mut problems);
    section::<Option<SmsConfig>>(figment, "sms", &mut problems);
    section::<NumberingConfig>(figment, "numbering", &mut problems);
    if problems.is_empty() {
        // Nothing found again on its own: report what the whole read said.
        problems.extend(first.into_iter().map(|e| describe(&e)));
    }
    problems
}

/// One extraction error as a line naming the key and where it came from.
fn describe(error: &figment::Error) -> String {
    let key = if error.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", error.path.join("."))
    };
    let source = match &error.metadata {
        Some(meta) => match &meta.source {
            Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
            _ if meta.name.contains("environment") => {
                let var = format!("STATUSPORT_{}", error.path.join("__").to_ascii_uppercase());
                format!(" (from the environment variable {var})")
            }
            _ => String::new(),
        },
        None => String::new(),
    };
    format!("{key}{}{source}", error.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("statusport.toml");
        std::fs::write(&file, toml).unwrap();
        // A private prefix, so that tests do not read the real environment.
        let prefix = format!("SPTEST{}_", fastrand::u64(..));
        for (k, v) in env {
            // SAFETY: the variable names are unique to this test call.
            unsafe { std::env::set_var(format!("{prefix}{k}"), v) };
        }
        let result = Config::load_from(Some(&file), Env::prefixed(&prefix));
        for (k, _) in env {
            unsafe { std::env::remove_var(format!("{prefix}{k}")) };
        }
        result
    }

    #[test]
    fn no_file_gives_the_defaults() {
        let config = Config::load_from(None, Env::prefixed("SPTEST_NOTHING_")).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listen_addr().port(), 8080);
    }

    #[test]
    fn file_then_environment() {
        let config = load(
            "listen = \"0.0.0.0:9000\"\n[outbox]\nworkers = 8\n[api]\nmax_body_bytes = 4096\n",
            &[
                ("OUTBOX__WORKERS", "16"),
                ("DATA_DIR", "/srv/sp"),
                ("LOG", "x"),
            ],
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.outbox.workers, 16, "the environment wins");
        assert_eq!(config.api.max_body_bytes, 4096);
        assert_eq!(config.data_dir, PathBuf::from("/srv/sp"));
    }

    #[test]
    fn every_bad_value_is_named() {
        let e = load(
            "listen = \"nowhere\"\n[api]\nmax_page_size = 0\n[outbox]\nworkers = 0\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("listen: \"nowhere\""), "{e}");
        assert!(e.contains("api.max_page_size: 0"), "{e}");
        assert!(e.contains("outbox.workers must be at least 1"), "{e}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        let e = load("[outbox]\nworkerz = 3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("outbox") && e.contains("workerz"), "{e}");
        let e = load("", &[("PLUGINS__MEMORY_MIB", "lots")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("plugins.memory_mib"), "{e}");
        assert!(e.contains("PLUGINS__MEMORY_MIB"), "{e}");
        let e = load("listen = 8080\n", &[]).unwrap_err().to_string();
        assert!(e.contains("listen") && e.contains("statusport.toml"), "{e}");
    }

    #[test]
    fn a_bad_value_in_each_section_is_named_at_once() {
        let e = load(
            "lisen = \"x\"\n[api]\nmax_body_bytes = -1\n[outbox]\nworkers = \"many\"\n",
            &[("PLUGINS__MEMORY_MIB", "lots")],
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.problems.len(), 4, "{text}");
        assert!(
            e.problems[0].starts_with("lisen: unknown key")
                && e.problems[0].contains("statusport.toml"),
            "{text}"
        );
        assert!(text.contains("api.max_body_bytes"), "{text}");
        assert!(
            text.contains("plugins.memory_mib") && text.contains("PLUGINS__MEMORY_MIB"),
            "{text}"
        );
        assert!(text.contains("outbox.workers"), "{text}");
    }

    #[test]
    fn numbering_keys_override_the_stored_ones_and_bad_values_are_named() {
        let config = load(
            "[numbering]\ninvoice_prefix = \"RE-\"\ninvoice_start = 5000\n",
            &[("NUMBERING__ORDER_PREFIX", "SP-")],
        )
        .unwrap();
        let stored = Numbering {
            order_start: 700,
            ..Numbering::default()
        };
        assert_eq!(
            config.numbering.over(&stored),
            Numbering {
                order_start: 700,
                order_prefix: "SP-".into(),
                invoice_start: 5000,
                invoice_prefix: "RE-".into(),
            }
        );
        let e = load(
            "[numbering]\norder_start = 0\ninvoice_prefix = \"R E\"\n",
            &[],
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.problems.len(), 2, "{text}");
        assert!(
            text.contains("numbering.order_start: 0 is outside 1 ..="),
            "{text}"
        );
        assert!(
            text.contains("numbering.invoice_prefix: \"R E\" holds a space"),
            "{text}"
        );
        let e = load("[numbering]\ninvoice_begin = 5\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("numbering") && e.contains("invoice_begin"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let e = Config::load(Some(Path::new("/nonexistent/statusport.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }
}
