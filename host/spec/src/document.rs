//! Reading a description: JSON or YAML into one `serde_json::Value`, its
//! dialect from the `openapi` or `swagger` field, and the rewrites that let a
//! JSON Schema validator read OpenAPI 3.0 and Swagger 2.0 schemas.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The dialect of a description, from its `openapi` or `swagger` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Swagger 2.0: schemas are draft-4-like, bodies are `in: body`
    /// parameters, the base path is `basePath`.
    Swagger2,
    /// OpenAPI 3.0.x: schemas are draft-4-like with `nullable`.
    OpenApi30,
    /// OpenAPI 3.1.x: schemas are JSON Schema 2020-12.
    OpenApi31,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Swagger2 => "Swagger 2.0",
            Dialect::OpenApi30 => "OpenAPI 3.0",
            Dialect::OpenApi31 => "OpenAPI 3.1",
        }
    }
}

/// Why a description could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read API description {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("API description {name} is neither JSON nor YAML: {message}")]
    Syntax { name: String, message: String },
    #[error(
        "API description {name} is not an OpenAPI or Swagger document: it has no `openapi` or `swagger` field (found {found}); give an OpenAPI 3.0, 3.1 or Swagger 2.0 file"
    )]
    NotADescription { name: String, found: String },
    #[error(
        "API description {name}: {field} {version} is not supported (supported: OpenAPI 3.0.x, OpenAPI 3.1.x, Swagger 2.0)"
    )]
    Unsupported {
        name: String,
        field: &'static str,
        version: String,
    },
    #[error("API description {name} has no `paths` object")]
    NoPaths { name: String },
    #[error("API description {name}: its schemas cannot be indexed: {message}")]
    Schemas { name: String, message: String },
}

pub(crate) fn read(path: &Path) -> Result<(String, Value), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let name = path.display().to_string();
    let value = parse(&name, &text)?;
    Ok((name, value))
}

/// JSON when the text starts like JSON, else YAML (a superset of JSON).
pub(crate) fn parse(name: &str, text: &str) -> Result<Value, LoadError> {
    let syntax = |message: String| LoadError::Syntax {
        name: name.to_owned(),
        message,
    };
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| syntax(format!("JSON: {e}")));
    }
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| syntax(format!("YAML: {e}")))?;
    Ok(from_yaml(yaml))
}

/// YAML to JSON. YAML map keys may be numbers (`200:` under `responses`),
/// which JSON keys cannot: they become their text.
fn from_yaml(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (key_text(k), from_yaml(v)))
                .collect::<Map<_, _>>(),
        ),
        Y::Tagged(tagged) => from_yaml(tagged.value),
    }
}

fn key_text(key: serde_norway::Value) -> String {
    use serde_norway::Value as Y;
    match key {
        Y::String(s) => s,
        Y::Number(n) => n.to_string(),
        Y::Bool(b) => b.to_string(),
        Y::Null => "null".into(),
        other => serde_norway::to_string(&other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

pub(crate) fn dialect(name: &str, document: &Value) -> Result<Dialect, LoadError> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(version) = document.get("openapi") {
        let version = text(version);
        return if version.starts_with("3.0") {
            Ok(Dialect::OpenApi30)
        } else if version.starts_with("3.1") {
            Ok(Dialect::OpenApi31)
        } else {
            Err(LoadError::Unsupported {
                name: name.to_owned(),
                field: "openapi",
                version,
            })
        };
    }
    if let Some(version) = document.get("swagger") {
        let version = text(version);
        return if version == "2.0" || version == "2" {
            Ok(Dialect::Swagger2)
        } else {
            Err(LoadError::Unsupported {
                name: name.to_owned(),
                field: "swagger",
                version,
            })
        };
    }
    let found = match document {
        Value::Object(map) if map.is_empty() => "an empty object".to_owned(),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().take(5).map(String::as_str).collect();
            format!("fields {}", keys.join(", "))
        }
        Value::Array(_) => "a list".to_owned(),
        other => format!("the value {}", crate::shorten(&other.to_string(), 60)),
    };
    Err(LoadError::NotADescription {
        name: name.to_owned(),
        found,
    })
}

/// Rewrites a draft-4-like (OpenAPI 3.0, Swagger 2.0) document in place so
/// that a draft 4 validator reads its schemas as OpenAPI means them:
/// `nullable: true` (3.0) and `x-nullable: true` (Swagger 2.0 extension) with
/// a `type` become a type union with `"null"` (and `null` joins an `enum`).
/// Only values change, never keys, so every JSON pointer into the document
/// still names the same place.
pub(crate) fn allow_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let nullable = [map.get("nullable"), map.get("x-nullable")]
                .into_iter()
                .any(|v| v == Some(&Value::Bool(true)));
            if nullable {
                if let Some(Value::String(t)) = map.get("type") {
                    let t = t.clone();
                    map.insert("type".into(), Value::from(vec![t, "null".to_owned()]));
                }
                if let Some(Value::Array(values)) = map.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            map.values_mut().for_each(allow_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(allow_nullable),
        _ => {}
    }
}

/// The value at a local reference or pointer (`#/a/b` or `/a/b`).
pub(crate) fn at<'a>(document: &'a Value, pointer: &str) -> Option<&'a Value> {
    document.pointer(pointer.strip_prefix('#').unwrap_or(pointer))
}

/// Follows local `$ref`s (`#/components/parameters/X`) to the object they
/// name, returning it with its pointer. Remote references are not followed.
pub(crate) fn resolve<'a>(
    document: &'a Value,
    mut value: &'a Value,
    mut pointer: String,
) -> (&'a Value, String) {
    for _ in 0..16 {
        let Some(Value::String(target)) = value.get("$ref") else {
            break;
        };
        let Some(next) = target.strip_prefix('#').and_then(|p| document.pointer(p)) else {
            break;
        };
        pointer = target.trim_start_matches('#').to_owned();
        value = next;
    }
    (value, pointer)
}

/// One JSON pointer segment: `~` → `~0`, `/` → `~1`.
pub(crate) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
