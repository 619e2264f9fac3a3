//! Path, query and header parameters: which an operation has, reading their
//! string-encoded values as the type their schema gives, and checking them.

use serde_json::{Map, Value};

use crate::document::{Dialect, at, resolve};
use crate::route::{Operation, PathValues, percent_decode};
use crate::{Context, Part};

/// One parameter of an operation, `$ref` resolved.
pub(crate) struct Parameter {
    pub name: String,
    /// `path`, `query`, `header`, `cookie`; Swagger 2.0 also `body`, `formData`.
    pub location: String,
    pub required: bool,
    /// Pointer of the parameter object in the description.
    pub pointer: String,
    object: Value,
}

/// The parameters of the operation's path item and of the operation itself;
/// the operation's win when both name the same one.
pub(crate) fn of(document: &Value, operation: &Operation) -> Vec<Parameter> {
    let mut found: Vec<Parameter> = Vec::new();
    for owner in [&operation.item_pointer, &operation.pointer] {
        let list_pointer = format!("{owner}/parameters");
        let Some(list) = at(document, &list_pointer).and_then(Value::as_array) else {
            continue;
        };
        for (i, item) in list.iter().enumerate() {
            let (object, pointer) = resolve(document, item, format!("{list_pointer}/{i}"));
            let (Some(name), Some(location)) = (
                object.get("name").and_then(Value::as_str),
                object.get("in").and_then(Value::as_str),
            ) else {
                continue;
            };
            found.retain(|p| !(p.name == name && p.location == location));
            found.push(Parameter {
                name: name.to_owned(),
                location: location.to_owned(),
                required: object.get("required") == Some(&Value::Bool(true)),
                pointer,
                object: object.clone(),
            });
        }
    }
    found
}

/// Headers OpenAPI 3 says a header parameter never describes.
const IGNORED_HEADERS: &[&str] = &["accept", "content-type", "authorization"];

pub(crate) fn check(
    context: &mut Context<'_>,
    parameters: &[Parameter],
    path_values: &PathValues,
    query: Option<&str>,
    headers: Option<&[(&str, &str)]>,
) {
    let query: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    for parameter in parameters {
        let (part, raw): (Part, Vec<String>) = match parameter.location.as_str() {
            "path" => (
                Part::PathParameter(parameter.name.clone()),
                path_values
                    .iter()
                    .filter(|(n, _)| *n == parameter.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
            ),
            "query" => (
                Part::QueryParameter(parameter.name.clone()),
                query
                    .iter()
                    .filter(|(n, _)| *n == parameter.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
            ),
            "header" => {
                let Some(headers) = headers else { continue };
                if IGNORED_HEADERS.contains(&parameter.name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                (
                    Part::Header(parameter.name.clone()),
                    headers
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case(&parameter.name))
                        .map(|(_, v)| percent_decode(v))
                        .collect(),
                )
            }
            _ => continue,
        };
        if raw.is_empty() {
            // A path parameter the template does not name cannot be read.
            if parameter.required && parameter.location != "path" {
                context.push(
                    part,
                    String::new(),
                    Some(format!("#{}/required", parameter.pointer)),
                    format!(
                        "required {} parameter \"{}\" is missing",
                        parameter.location, parameter.name
                    ),
                );
            }
            continue;
        }
        check_value(context, parameter, part, &raw);
    }
}

fn check_value(context: &mut Context<'_>, parameter: &Parameter, part: Part, raw: &[String]) {
    let document = &context.description.document;
    match context.description.dialect {
        Dialect::Swagger2 => {
            let schema = swagger_schema(&parameter.object);
            let value = coerce(
                &parameter.object,
                raw,
                swagger_delimiter(&parameter.object),
                document,
            );
            context.validate_inline(&parameter.pointer, &schema, &value, &part);
        }
        Dialect::OpenApi30 | Dialect::OpenApi31 => {
            let pointer = format!("{}/schema", parameter.pointer);
            let Some(schema) = at(document, &pointer) else {
                return;
            };
            let (schema, _) = resolve(document, schema, pointer.clone());
            let value = coerce(schema, raw, openapi_delimiter(parameter), document);
            context.validate(&pointer, &value, &part, crate::Filter::None);
        }
    }
}

/// A Swagger 2.0 parameter is its own schema, less its parameter fields
/// (its boolean `required` is no JSON Schema keyword).
fn swagger_schema(parameter: &Value) -> Value {
    const KEYWORDS: &[&str] = &[
        "type",
        "format",
        "items",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
    ];
    let mut schema: Map<String, Value> = parameter
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| KEYWORDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if schema.get("type") == Some(&Value::String("file".into())) {
        schema.remove("type");
    }
    Value::Object(schema)
}

/// The delimiter of an array sent as one value; `None` when each value is
/// its own occurrence of the parameter.
fn swagger_delimiter(parameter: &Value) -> Option<char> {
    match parameter.get("collectionFormat").and_then(Value::as_str) {
        Some("multi") => None,
        Some("ssv") => Some(' '),
        Some("tsv") => Some('\t'),
        Some("pipes") => Some('|'),
        _ => Some(','),
    }
}

fn openapi_delimiter(parameter: &Parameter) -> Option<char> {
    let style = parameter.object.get("style").and_then(Value::as_str);
    let explode = parameter.object.get("explode").and_then(Value::as_bool);
    match (parameter.location.as_str(), style) {
        (_, Some("spaceDelimited")) => Some(' '),
        (_, Some("pipeDelimited")) => Some('|'),
        ("query" | "cookie", _) if explode.unwrap_or(true) => None,
        _ => Some(','),
    }
}

/// The JSON type a schema gives: `type`, the first non-null of a type
/// list (3.1), or `array` for a schema with `items`.
fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ if schema.get("items").is_some() => Some("array"),
        _ => None,
    }
}

/// Reads string-encoded values as the schema's type; a value that does not
/// read stays a string, so that the schema's `type` names the mismatch.
fn coerce(schema: &Value, raw: &[String], delimiter: Option<char>, document: &Value) -> Value {
    match type_of(schema) {
        Some("array") => {
            let items = schema
                .get("items")
                .map(|i| resolve(document, i, String::new()).0)
                .unwrap_or(&Value::Null);
            let values: Vec<&str> = match (raw, delimiter) {
                ([one], Some(d)) if !one.is_empty() => one.split(d).collect(),
                ([one], Some(_)) => vec![one.as_str()]
                    .into_iter()
                    .filter(|v| !v.is_empty())
                    .collect(),
                _ => raw.iter().map(String::as_str).collect(),
            };
            Value::Array(
                values
                    .into_iter()
                    .map(|v| scalar(type_of(items), v))
                    .collect(),
            )
        }
        t => scalar(t, raw.last().map(String::as_str).unwrap_or_default()),
    }
}

fn scalar(t: Option<&str>, raw: &str) -> Value {
    let read = match t {
        Some("integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| raw.parse::<u64>().map(Value::from))
            .ok(),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Some("boolean") => match raw {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    read.unwrap_or_else(|| Value::String(raw.to_owned()))
}
