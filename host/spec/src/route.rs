//! Finding the operation of a request: the description's operations, its
//! servers' base paths, and path templates matched segment by segment.

use serde_json::Value;

use crate::document::{Dialect, escape};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    /// `{name}`, or a segment mixing text and parameters (`{id}.json`):
    /// matched by its literal prefix and suffix, its parameter reads the rest.
    Param {
        name: String,
        prefix: String,
        suffix: String,
    },
}

pub(crate) fn template(path: &str) -> Vec<Segment> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match (s.find('{'), s.rfind('}')) {
            (Some(open), Some(close)) if open < close => Segment::Param {
                name: s[open + 1..close].to_owned(),
                prefix: s[..open].to_owned(),
                suffix: s[close + 1..].to_owned(),
            },
            _ => Segment::Literal(s.to_owned()),
        })
        .collect()
}

/// One operation of the description.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub id: Option<String>,
    /// Upper case: `POST`.
    pub method: String,
    /// The path template as the description writes it: `/search/order`.
    pub path: String,
    pub segments: Vec<Segment>,
    /// JSON pointer of the operation object: `/paths/~1search~1order/post`.
    pub pointer: String,
    /// JSON pointer of its path item (for the parameters all its operations share).
    pub item_pointer: String,
}

pub(crate) fn operations(paths: &serde_json::Map<String, Value>) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        let item_pointer = format!("/paths/{}", escape(path));
        for (method, operation) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            found.push(Operation {
                id: operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                segments: template(path),
                pointer: format!("{item_pointer}/{method}"),
                item_pointer: item_pointer.clone(),
            });
        }
    }
    found
}

/// The base paths requests carry before an operation's path: each server's
/// URL path (3.x, with `{variables}` matching any segment) or `basePath`
/// (Swagger 2.0).
pub(crate) fn base_paths(dialect: Dialect, document: &Value) -> Vec<Vec<Segment>> {
    let mut bases: Vec<Vec<Segment>> = match dialect {
        Dialect::Swagger2 => document
            .get("basePath")
            .and_then(Value::as_str)
            .map(template)
            .into_iter()
            .collect(),
        Dialect::OpenApi30 | Dialect::OpenApi31 => document
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|server| template(server_path(&server_url(server))))
            .collect(),
    };
    bases.retain(|b| !b.is_empty());
    bases.dedup();
    bases
}

/// A server's URL with each variable whose default is a path
/// (`{basePath}` → `/sell/fulfillment/v1`) written in; other variables stay
/// `{name}` and match any segment.
fn server_url(server: &Value) -> String {
    let mut url = server
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let variables = server.get("variables").and_then(Value::as_object);
    for (name, variable) in variables.into_iter().flatten() {
        if let Some(default) = variable.get("default").and_then(Value::as_str)
            && default.contains('/')
        {
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    url
}

/// The path of a server URL: `https://api.{environment}/v1` → `/v1`;
/// a relative URL is its own path.
fn server_path(url: &str) -> &str {
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            rest.find('/').map_or("", |slash| &rest[slash..])
        }
        None => url,
    }
}

/// Path parameters read from a matched path, `(name, raw value)`.
pub(crate) type PathValues = Vec<(String, String)>;

/// How well a template matched: more literal segments win, so that
/// `/orders/search` beats `/orders/{id}`.
fn matches(template: &[Segment], path: &[&str]) -> Option<(usize, PathValues)> {
    if template.len() != path.len() {
        return None;
    }
    let mut literals = 0;
    let mut values = Vec::new();
    for (segment, actual) in template.iter().zip(path) {
        match segment {
            Segment::Literal(text) if text == actual => literals += 1,
            Segment::Literal(_) => return None,
            Segment::Param {
                name,
                prefix,
                suffix,
            } => {
                let inner = actual
                    .strip_prefix(prefix.as_str())
                    .and_then(|rest| rest.strip_suffix(suffix.as_str()))
                    .filter(|inner| !inner.is_empty())?;
                values.push((name.clone(), percent_decode(inner)));
            }
        }
    }
    Some((literals, values))
}

fn strip_base<'a>(base: &[Segment], path: &'a [&'a str]) -> Option<&'a [&'a str]> {
    if path.len() < base.len() {
        return None;
    }
    let (head, rest) = path.split_at(base.len());
    matches(base, head).map(|_| rest)
}

/// What a path matched in the description.
pub(crate) enum Found {
    Operation {
        index: usize,
        values: PathValues,
    },
    /// The path is documented, not with this method.
    WrongMethod {
        path: String,
        methods: Vec<String>,
    },
    Unknown {
        tried: Vec<String>,
    },
}

/// Finds the operation for `method` and `path` (without query), trying the
/// path with each base path of the description stripped, then as it is.
pub(crate) fn find(
    operations: &[Operation],
    bases: &[Vec<Segment>],
    method: &str,
    path: &str,
) -> Found {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut candidates: Vec<&[&str]> = bases
        .iter()
        .filter_map(|b| strip_base(b, &segments))
        .collect();
    candidates.push(&segments);
    let mut tried = Vec::new();
    for candidate in candidates {
        let mut best: Option<(usize, usize, PathValues)> = None;
        let mut other_methods: Option<(String, Vec<String>, usize)> = None;
        for (index, operation) in operations.iter().enumerate() {
            let Some((score, values)) = matches(&operation.segments, candidate) else {
                continue;
            };
            if operation.method.eq_ignore_ascii_case(method) {
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, index, values));
                }
            } else {
                match &mut other_methods {
                    Some((p, methods, s)) if *p == operation.path => {
                        methods.push(operation.method.clone());
                        *s = (*s).max(score);
                    }
                    Some((_, _, s)) if *s >= score => {}
                    _ => {
                        other_methods = Some((
                            operation.path.clone(),
                            vec![operation.method.clone()],
                            score,
                        ))
                    }
                }
            }
        }
        if let Some((_, index, values)) = best {
            return Found::Operation { index, values };
        }
        if let Some((path, methods, _)) = other_methods {
            return Found::WrongMethod { path, methods };
        }
        tried.push(format!("/{}", candidate.join("/")));
    }
    Found::Unknown { tried }
}

pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
