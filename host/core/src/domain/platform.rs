//! What a platform plugin declares about its platform — statuses per
//! dimension, allowed transitions, carriers, config fields, extra hosts — and
//! the checks that make such a declaration trustworthy. The host speaks only
//! these types; the contract's generated bindings stay in `plugins`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One axis along which an order's status moves.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Order,
    Payment,
    Delivery,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Order, Dimension::Payment, Dimension::Delivery];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Order => "order",
            Dimension::Payment => "payment",
            Dimension::Delivery => "delivery",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusDef {
    pub code: String,
    pub label: String,
    pub dimension: Dimension,
    pub terminal: bool,
    pub initial: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransitionDef {
    pub dimension: Dimension,
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfigFieldDef {
    pub name: String,
    pub help: String,
    pub secret: bool,
    pub required: bool,
    pub default_value: Option<String>,
}

/// A platform's declaration exactly as a plugin returned it, unchecked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RawPlatformInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub statuses: Vec<StatusDef>,
    pub transitions: Vec<TransitionDef>,
    pub carriers: Vec<String>,
    pub config: Vec<ConfigFieldDef>,
    pub extra_hosts: Vec<String>,
}

/// `scheme://host:port`: the unit the egress allowlist grants.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// Parses `https://auth.example.com` or `http://127.0.0.1:8080`; a path
    /// other than `/`, a query or credentials are refused, since an origin
    /// grants a whole host and nothing narrower.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|e| format!("\"{text}\" is not a URL ({e}); write scheme://host[:port]"))?;
        Origin::of_url(&url).and_then(|origin| {
            if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
                Err(format!(
                    "\"{text}\" must be an origin only (scheme://host[:port]), without path, query or credentials"
                ))
            } else {
                Ok(origin)
            }
        })
    }

    /// The origin a URL points at (its path is ignored).
    pub fn of_url(url: &url::Url) -> Result<Origin, String> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(format!("\"{url}\" must use http or https, not {scheme}"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("\"{url}\" has no host"))?
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("\"{url}\" has no port"))?;
        Ok(Origin {
            scheme: scheme.to_owned(),
            host,
            port,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// A checked declaration: what the rest of the host relies on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Platform {
    pub id: String,
    pub name: String,
    #[schema(value_type = String)]
    pub version: semver::Version,
    pub statuses: Vec<StatusDef>,
    pub transitions: Vec<TransitionDef>,
    pub carriers: Vec<String>,
    pub config: Vec<ConfigFieldDef>,
    pub extra_hosts: Vec<Origin>,
}

/// The config name under which every plugin reads its channel's base URL.
pub const BASE_URL_FIELD: &str = "base-url";

/// Why a declaration was refused: every problem found, not just the first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("describe is invalid: {}", .problems.join("; "))]
pub struct InvalidPlatform {
    pub problems: Vec<String>,
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
}

fn is_status_code(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Checks a plugin's declaration: a well-formed id and semver, a non-empty
/// status list with codes unique per dimension, at most one initial status
/// per dimension, transitions between declared statuses that leave no
/// terminal status, unique config field names, extra hosts that are origins.
pub fn validate(raw: RawPlatformInfo) -> Result<Platform, InvalidPlatform> {
    let mut problems = Vec::new();
    if !is_identifier(&raw.id) {
        problems.push(format!(
            "id \"{}\" must be 1-64 lower-case letters, digits or '-', not starting with '-'",
            raw.id
        ));
    }
    if raw.name.trim().is_empty() {
        problems.push("name is empty".to_owned());
    }
    let version = semver::Version::parse(&raw.version)
        .map_err(|e| problems.push(format!("version \"{}\" is not semver ({e})", raw.version)))
        .ok();

    if raw.statuses.is_empty() {
        problems.push("declares no status".to_owned());
    }
    let mut codes: BTreeMap<Dimension, BTreeSet<&str>> = BTreeMap::new();
    let mut initial: BTreeMap<Dimension, Vec<&str>> = BTreeMap::new();
    for s in &raw.statuses {
        if !is_status_code(&s.code) {
            problems.push(format!(
                "{} status code \"{}\" must be 1-64 letters, digits, '_', '-' or '.'",
                s.dimension, s.code
            ));
        }
        if s.label.trim().is_empty() {
            problems.push(format!(
                "{} status \"{}\" has no label",
                s.dimension, s.code
            ));
        }
        if !codes.entry(s.dimension).or_default().insert(&s.code) {
            problems.push(format!(
                "{} status \"{}\" is declared twice",
                s.dimension, s.code
            ));
        }
        if s.initial {
            initial.entry(s.dimension).or_default().push(&s.code);
        }
    }
    for (dimension, list) in &initial {
        if list.len() > 1 {
            problems.push(format!(
                "{dimension} has {} initial statuses ({}); at most one is allowed",
                list.len(),
                list.join(", ")
            ));
        }
    }
    let terminal: BTreeSet<(Dimension, &str)> = raw
        .statuses
        .iter()
        .filter(|s| s.terminal)
        .map(|s| (s.dimension, s.code.as_str()))
        .collect();
    for t in &raw.transitions {
        let known = codes.get(&t.dimension);
        for code in [&t.from, &t.to] {
            if !known.is_some_and(|k| k.contains(code.as_str())) {
                let list: Vec<&str> = known
                    .map(|k| k.iter().copied().collect())
                    .unwrap_or_default();
                problems.push(format!(
                    "transition {} → {} names \"{code}\", which is not a {} status (known: {})",
                    t.from,
                    t.to,
                    t.dimension,
                    if list.is_empty() {
                        "none".to_owned()
                    } else {
                        list.join(", ")
                    }
                ));
            }
        }
        if terminal.contains(&(t.dimension, t.from.as_str())) {
            problems.push(format!(
                "transition {} → {} leaves terminal {} status \"{}\"",
                t.from, t.to, t.dimension, t.from
            ));
        }
    }
    for c in &raw.carriers {
        if !is_identifier(c) {
            problems.push(format!(
                "carrier id \"{c}\" must be lower-case letters, digits or '-'"
            ));
        }
    }
    let mut names = BTreeSet::new();
    for f in &raw.config {
        if !is_identifier(&f.name) {
            problems.push(format!(
                "config field \"{}\" must be lower-case letters, digits or '-'",
                f.name
            ));
        }
        if f.name == BASE_URL_FIELD {
            problems.push(format!(
                "config field \"{BASE_URL_FIELD}\" is reserved: the host always provides the channel's base URL"
            ));
        }
        if !names.insert(f.name.as_str()) {
            problems.push(format!("config field \"{}\" is declared twice", f.name));
        }
    }
    let mut extra_hosts = Vec::new();
    for h in &raw.extra_hosts {
        match Origin::parse(h) {
            Ok(o) => extra_hosts.push(o),
            Err(e) => problems.push(format!("extra host {e}")),
        }
    }

    match version {
        Some(version) if problems.is_empty() => Ok(Platform {
            id: raw.id,
            name: raw.name,
            version,
            statuses: raw.statuses,
            transitions: raw.transitions,
            carriers: raw.carriers,
            config: raw.config,
            extra_hosts,
        }),
        _ => Err(InvalidPlatform { problems }),
    }
}

impl Platform {
    /// The statuses of one dimension, in declared order.
    pub fn statuses_of(&self, dimension: Dimension) -> impl Iterator<Item = &StatusDef> {
        self.statuses
            .iter()
            .filter(move |s| s.dimension == dimension)
    }

    /// The dimensions this platform has, in contract order.
    pub fn dimensions(&self) -> Vec<Dimension> {
        Dimension::ALL
            .into_iter()
            .filter(|d| self.statuses_of(*d).next().is_some())
            .collect()
    }

    pub fn status(&self, dimension: Dimension, code: &str) -> Option<&StatusDef> {
        self.statuses_of(dimension).find(|s| s.code == code)
    }

    /// Whether `dimension` restricts moves to declared transitions.
    pub fn has_graph(&self, dimension: Dimension) -> bool {
        self.transitions.iter().any(|t| t.dimension == dimension)
    }

    /// Whether moving from `from` to `to` is allowed: both must be statuses
    /// of the dimension, `from` must not be terminal, and where the dimension
    /// has declared transitions one of them must lead from `from` to `to`.
    pub fn allows(&self, dimension: Dimension, from: &str, to: &str) -> bool {
        let (Some(f), Some(_)) = (self.status(dimension, from), self.status(dimension, to)) else {
            return false;
        };
        if from == to {
            return true;
        }
        if f.terminal {
            return false;
        }
        !self.has_graph(dimension)
            || self
                .transitions
                .iter()
                .any(|t| t.dimension == dimension && t.from == from && t.to == to)
    }

    /// The config field named `name`.
    pub fn config_field(&self, name: &str) -> Option<&ConfigFieldDef> {
        self.config.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(d: Dimension, code: &str) -> StatusDef {
        StatusDef {
            code: code.into(),
            label: code.to_uppercase(),
            dimension: d,
            terminal: false,
            initial: false,
        }
    }

    fn raw() -> RawPlatformInfo {
        RawPlatformInfo {
            id: "shop".into(),
            name: "Shop".into(),
            version: "1.2.0".into(),
            statuses: vec![
                status(Dimension::Order, "open"),
                status(Dimension::Order, "done"),
                status(Dimension::Payment, "open"),
            ],
            transitions: vec![TransitionDef {
                dimension: Dimension::Order,
                from: "open".into(),
                to: "done".into(),
            }],
            carriers: vec!["dhl".into()],
            config: vec![],
            extra_hosts: vec!["https://auth.example.com".into()],
        }
    }

    #[test]
    fn a_sound_declaration_is_accepted() {
        let p = validate(raw()).unwrap();
        assert_eq!(p.version, semver::Version::new(1, 2, 0));
        assert_eq!(p.extra_hosts[0].to_string(), "https://auth.example.com:443");
        assert_eq!(p.dimensions(), vec![Dimension::Order, Dimension::Payment]);
    }

    #[test]
    fn the_same_code_in_two_dimensions_is_fine_but_not_twice_in_one() {
        let mut r = raw();
        r.statuses.push(status(Dimension::Order, "open"));
        let err = validate(r).unwrap_err();
        assert_eq!(
            err.problems,
            vec!["order status \"open\" is declared twice"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut r = raw();
        r.id = "Bad Id".into();
        r.version = "1.x".into();
        r.transitions[0].to = "gone".into();
        r.extra_hosts = vec!["https://auth.example.com/token".into()];
        let err = validate(r).unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        assert!(
            err.problems[2].contains("\"gone\", which is not a order status (known: done, open)")
        );
    }

    #[test]
    fn an_empty_status_list_is_refused() {
        let mut r = raw();
        r.statuses.clear();
        r.transitions.clear();
        assert!(
            validate(r)
                .unwrap_err()
                .problems
                .contains(&"declares no status".to_owned())
        );
    }

    #[test]
    fn moves_follow_the_graph_where_one_is_declared() {
        let p = validate(raw()).unwrap();
        assert!(p.allows(Dimension::Order, "open", "done"));
        assert!(!p.allows(Dimension::Order, "done", "open"));
        // payment declares no transition: any move between its statuses
        assert!(p.allows(Dimension::Payment, "open", "open"));
        assert!(!p.allows(Dimension::Payment, "open", "paid"));
    }

    #[test]
    fn terminal_statuses_are_never_left() {
        let mut r = raw();
        r.transitions.clear();
        r.statuses[1].terminal = true;
        let p = validate(r).unwrap();
        assert!(p.allows(Dimension::Order, "open", "done"));
        assert!(!p.allows(Dimension::Order, "done", "open"));
    }

    #[test]
    fn origins_default_their_port_and_refuse_paths() {
        assert_eq!(Origin::parse("http://h.example").unwrap().port, 80);
        assert!(Origin::parse("ftp://h.example").is_err());
        assert!(Origin::parse("https://h.example/x").is_err());
    }
}

/// What a platform answered when it accepted a call: the one receipt type,
/// as a job records it.
pub use super::job::Receipt;

/// A failure a plugin reported, as the contract classifies it.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema,
)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PlatformError {
    #[error("transient: {message}{}", retry_after_ms.map(|ms| format!(" (retry after {ms} ms)")).unwrap_or_default())]
    Transient {
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("rejected: {message}")]
    Rejected { message: String },
    #[error("auth: {message}")]
    Auth { message: String },
    #[error("config: {message}")]
    Config { message: String },
    #[error("unsupported: {message}")]
    Unsupported { message: String },
}

impl PlatformError {
    /// Whether trying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PlatformError::Transient { .. })
    }
}

/// A status in one dimension: `order:processing`, `payment:paid`; a bare
/// code means the order dimension.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StatusRef {
    pub dimension: Dimension,
    pub code: String,
}

impl FromStr for StatusRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (dimension, code) = match s.split_once(':') {
            Some((d, c)) => {
                let dimension = Dimension::ALL
                    .into_iter()
                    .find(|x| x.as_str() == d)
                    .ok_or_else(|| {
                        format!("status \"{s}\": \"{d}\" is not a dimension (known: order, payment, delivery)")
                    })?;
                (dimension, c)
            }
            None => (Dimension::Order, s),
        };
        if code.trim().is_empty() {
            return Err(format!("status \"{s}\" has no code"));
        }
        Ok(StatusRef {
            dimension,
            code: code.to_owned(),
        })
    }
}

impl TryFrom<String> for StatusRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<StatusRef> for String {
    fn from(s: StatusRef) -> String {
        s.to_string()
    }
}

impl fmt::Display for StatusRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.dimension, self.code)
    }
}

super::string_schema!(
    StatusRef,
    "`dimension:code`, e.g. `order:delivered` or `payment:paid`",
    "order:delivered"
);
