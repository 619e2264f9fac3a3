//! Checks HTTP exchanges against a platform's published API description.
//!
//! It owns reading a description (JSON or YAML; OpenAPI 3.0, 3.1 or Swagger
//! 2.0), finding the operation a request is for, and checking the request's
//! path, query and header parameters and JSON body, and the answer's JSON
//! body, against the operation's schemas. Each [`Mismatch`] names the
//! operation, the place in the exchange and the JSON pointer into the
//! description of the schema keyword that failed.
//!
//! It must never fetch anything: every `$ref` resolves inside the one
//! document. It knows nothing of plugins, the runtime or the service.
//!
//! Schemas are compiled lazily, once per place in the description, and
//! cached, so that a 4 MB description costs its parse and nothing more until
//! an operation is used.

mod document;
mod params;
mod route;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

pub use document::{Dialect, LoadError};
use document::{at, escape, resolve};
use route::{Found, Operation};

/// The URI the description is registered under, so that its `$ref`s
/// (`#/components/schemas/X`) resolve inside it. Never fetched.
const BASE: &str = "urn:statusport:description";

/// A message longer than this is cut: a failed `oneOf` prints its instance.
const MESSAGE_LIMIT: usize = 400;

/// A loaded description, ready to check exchanges.
pub struct Description {
    name: String,
    dialect: Dialect,
    document: Arc<Value>,
    registry: Registry<'static>,
    bases: Vec<Vec<route::Segment>>,
    operations: Vec<Operation>,
    /// Compiled schemas by their place in the description.
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
}

type Compiled = Result<Validator, String>;

/// A request as sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    pub method: &'a str,
    /// A full URL (`https://shop.example/api/search/order?x=1`) or a path
    /// with its query (`/api/search/order?x=1`).
    pub url: &'a str,
    /// A prefix the platform is mounted under (`https://shop.example/shop`),
    /// stripped from the URL's path before the description's base path.
    pub base_url: Option<&'a str>,
    /// The request's headers; `None` skips the header parameters.
    pub headers: Option<&'a [(&'a str, &'a str)]>,
    /// The body as JSON; `None` when there was none or it was not JSON.
    pub body: Option<&'a Value>,
}

/// An answer as received.
#[derive(Clone, Copy, Debug)]
pub struct Answer<'a> {
    pub status: u16,
    /// The body as JSON; `None` when there was none or it was not JSON.
    pub body: Option<&'a Value>,
}

/// The operation an exchange was matched to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationName {
    pub id: Option<String>,
    pub method: String,
    /// The description's path template: `/_action/order/{orderId}/state/{transition}`.
    pub path: String,
}

impl fmt::Display for OperationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{id} ({} {})", self.method, self.path),
            None => write!(f, "{} {}", self.method, self.path),
        }
    }
}

/// Where in the exchange a mismatch is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// The method and path: no operation matches.
    Route,
    PathParameter(String),
    QueryParameter(String),
    Header(String),
    RequestBody,
    Answer(u16),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Route => write!(f, "route"),
            Part::PathParameter(name) => write!(f, "path parameter {name}"),
            Part::QueryParameter(name) => write!(f, "query parameter {name}"),
            Part::Header(name) => write!(f, "header {name}"),
            Part::RequestBody => write!(f, "request body"),
            Part::Answer(status) => write!(f, "answer {status}"),
        }
    }
}

/// One way an exchange differs from the description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// `None` when no operation matched.
    pub operation: Option<OperationName>,
    pub part: Part,
    /// JSON pointer into the part's value (`/limit`); empty for the whole.
    pub instance_path: String,
    /// JSON pointer into the description where the failing keyword is
    /// (`#/components/schemas/Criteria/properties/limit/type`).
    pub schema_path: Option<String>,
    pub message: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.operation {
            Some(operation) => write!(f, "{operation}: ")?,
            None => write!(f, "no operation: ")?,
        }
        write!(f, "{}", self.part)?;
        if !self.instance_path.is_empty() {
            write!(f, " at {}", self.instance_path)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(schema) = &self.schema_path {
            write!(f, " (schema {schema})")?;
        }
        Ok(())
    }
}

impl Description {
    /// Reads a description file, JSON or YAML.
    pub fn load(path: &Path) -> Result<Description, LoadError> {
        let (name, document) = document::read(path)?;
        Description::from_value(&name, document)
    }

    /// Reads a description from its text, JSON or YAML; `name` names it in errors.
    pub fn parse(name: &str, text: &str) -> Result<Description, LoadError> {
        Description::from_value(name, document::parse(name, text)?)
    }

    pub fn from_value(name: &str, mut document: Value) -> Result<Description, LoadError> {
        let dialect = document::dialect(name, &document)?;
        let Some(paths) = document.get("paths").and_then(Value::as_object) else {
            return Err(LoadError::NoPaths {
                name: name.to_owned(),
            });
        };
        let operations = route::operations(paths);
        let bases = route::base_paths(dialect, &document);
        if dialect != Dialect::OpenApi31 {
            document::allow_nullable(&mut document);
        }
        let document = Arc::new(document);
        let registry = Registry::new()
            .draft(draft(dialect))
            .add(BASE, document.clone())
            .and_then(|builder| builder.prepare())
            .map_err(|e| LoadError::Schemas {
                name: name.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Description {
            name: name.to_owned(),
            dialect,
            document,
            registry,
            bases,
            operations,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// How many operations the description has.
    pub fn operation_count(&self) -> usize {
        self.operations.len()
    }

    /// The operation a request is for, if the description has one.
    pub fn operation(
        &self,
        method: &str,
        url: &str,
        base_url: Option<&str>,
    ) -> Option<OperationName> {
        let (path, _) = split_url(url, base_url);
        match route::find(&self.operations, &self.bases, method, &path) {
            Found::Operation { index, .. } => Some(self.name_of(index)),
            _ => None,
        }
    }

    /// Every way `request` differs from its operation; empty when it conforms.
    pub fn check_request(&self, request: &Request<'_>) -> Vec<Mismatch> {
        let (path, query) = split_url(request.url, request.base_url);
        let (index, values) =
            match route::find(&self.operations, &self.bases, request.method, &path) {
                Found::Operation { index, values } => (index, values),
                Found::WrongMethod {
                    path: template,
                    methods,
                } => {
                    return vec![Mismatch {
                        operation: None,
                        part: Part::Route,
                        instance_path: String::new(),
                        schema_path: Some(format!("#/paths/{}", escape(&template))),
                        message: format!(
                            "{template} has no {} operation (documented: {})",
                            request.method.to_ascii_uppercase(),
                            methods.join(", ")
                        ),
                    }];
                }
                Found::Unknown { tried } => {
                    return vec![Mismatch {
                        operation: None,
                        part: Part::Route,
                        instance_path: String::new(),
                        schema_path: Some("#/paths".into()),
                        message: format!(
                            "{} {path} is no operation of {} (tried {})",
                            request.method.to_ascii_uppercase(),
                            self.name,
                            tried.join(", ")
                        ),
                    }];
                }
            };
        let mut context = Context {
            description: self,
            operation: self.name_of(index),
            mismatches: Vec::new(),
        };
        let operation = &self.operations[index];
        let parameters = params::of(&self.document, operation);
        params::check(
            &mut context,
            &parameters,
            &values,
            query.as_deref(),
            request.headers,
        );
        self.check_body(&mut context, operation, &parameters, request);
        context.mismatches
    }

    /// Every way `answer` differs from what the description gives for the
    /// request's operation and the answer's status. An answer to a request
    /// that matches no operation, or with a status the operation does not
    /// document, is not checked: OpenAPI does not expect every status to be
    /// listed.
    pub fn check_answer(&self, request: &Request<'_>, answer: &Answer<'_>) -> Vec<Mismatch> {
        let (path, _) = split_url(request.url, request.base_url);
        let Found::Operation { index, .. } =
            route::find(&self.operations, &self.bases, request.method, &path)
        else {
            return Vec::new();
        };
        let operation = &self.operations[index];
        let Some(pointer) = self.answer_schema(operation, answer.status) else {
            return Vec::new();
        };
        let mut context = Context {
            description: self,
            operation: self.name_of(index),
            mismatches: Vec::new(),
        };
        let part = Part::Answer(answer.status);
        match answer.body {
            None => context.push(
                part,
                String::new(),
                Some(format!("#{pointer}")),
                "the answer has no JSON body; the description gives it one".into(),
            ),
            Some(body) => context.validate(&pointer, body, &part, Filter::WriteOnly),
        }
        context.mismatches
    }

    fn name_of(&self, index: usize) -> OperationName {
        let operation = &self.operations[index];
        OperationName {
            id: operation.id.clone(),
            method: operation.method.clone(),
            path: operation.path.clone(),
        }
    }

    fn check_body(
        &self,
        context: &mut Context<'_>,
        operation: &Operation,
        parameters: &[params::Parameter],
        request: &Request<'_>,
    ) {
        let (pointer, required) = match self.dialect {
            Dialect::Swagger2 => {
                let Some(body) = parameters.iter().find(|p| p.location == "body") else {
                    return;
                };
                (format!("{}/schema", body.pointer), body.required)
            }
            Dialect::OpenApi30 | Dialect::OpenApi31 => {
                let Some(body) = at(
                    &self.document,
                    &format!("{}/requestBody", operation.pointer),
                ) else {
                    return;
                };
                let (body, body_pointer) = resolve(
                    &self.document,
                    body,
                    format!("{}/requestBody", operation.pointer),
                );
                let required = body.get("required") == Some(&Value::Bool(true));
                let Some(media) = json_media(body.get("content")) else {
                    return;
                };
                (
                    format!("{body_pointer}/content/{}/schema", escape(&media)),
                    required,
                )
            }
        };
        if at(&self.document, &pointer).is_none() {
            return;
        }
        match request.body {
            None if required => context.push(
                Part::RequestBody,
                String::new(),
                Some(format!("#{pointer}")),
                "the request has no JSON body; the description requires one".into(),
            ),
            None => {}
            Some(body) => {
                let filter = if request.method.eq_ignore_ascii_case("PATCH") {
                    Filter::Patch
                } else {
                    Filter::ReadOnly
                };
                context.validate(&pointer, body, &Part::RequestBody, filter)
            }
        }
    }

    /// The pointer of the JSON schema the description gives for `status`:
    /// the exact status, then its range (`2XX`), then `default`.
    fn answer_schema(&self, operation: &Operation, status: u16) -> Option<String> {
        let responses_pointer = format!("{}/responses", operation.pointer);
        let responses = at(&self.document, &responses_pointer)?.as_object()?;
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let key = responses
            .keys()
            .find(|k| **k == exact)
            .or_else(|| responses.keys().find(|k| k.eq_ignore_ascii_case(&range)))
            .or_else(|| responses.keys().find(|k| *k == "default"))?;
        let (response, pointer) = resolve(
            &self.document,
            &responses[key],
            format!("{responses_pointer}/{}", escape(key)),
        );
        let schema = match self.dialect {
            Dialect::Swagger2 => format!("{pointer}/schema"),
            Dialect::OpenApi30 | Dialect::OpenApi31 => {
                let media = json_media(response.get("content"))?;
                format!("{pointer}/content/{}/schema", escape(&media))
            }
        };
        at(&self.document, &schema).map(|_| schema)
    }

    fn compiled(&self, key: &str, schema: impl FnOnce() -> Value) -> Arc<Compiled> {
        if let Some(found) = lock(&self.compiled).get(key) {
            return found.clone();
        }
        // Compiled outside the lock: a large schema takes a while, and two
        // threads compiling the same one at once only waste a little work.
        let compiled = Arc::new(
            jsonschema::options()
                .with_draft(draft(self.dialect))
                .with_registry(&self.registry)
                .should_validate_formats(true)
                .build(&schema())
                .map_err(|e| e.to_string()),
        );
        lock(&self.compiled)
            .entry(key.to_owned())
            .or_insert(compiled)
            .clone()
    }
}

/// Which `required` failures do not count, by OpenAPI's semantics.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    /// A request need not send a `readOnly` property.
    ReadOnly,
    /// A PATCH sends only what changes: no property of the body itself is
    /// required (nested objects still are checked whole).
    Patch,
    /// An answer need not carry a `writeOnly` property.
    WriteOnly,
    None,
}

/// The checks of one exchange, collecting its mismatches.
struct Context<'a> {
    description: &'a Description,
    operation: OperationName,
    mismatches: Vec<Mismatch>,
}

impl Context<'_> {
    fn push(
        &mut self,
        part: Part,
        instance_path: String,
        schema_path: Option<String>,
        message: String,
    ) {
        self.mismatches.push(Mismatch {
            operation: Some(self.operation.clone()),
            part,
            instance_path,
            schema_path,
            message,
        });
    }

    /// Validates `instance` against the schema at `pointer` in the description.
    fn validate(&mut self, pointer: &str, instance: &Value, part: &Part, filter: Filter) {
        let compiled = self
            .description
            .compiled(pointer, || json!({ "$ref": reference(pointer) }));
        self.report(pointer, &compiled, instance, part, filter);
    }

    /// Validates `instance` against `schema`, written inline for a place in
    /// the description that is no schema itself (a Swagger 2.0 parameter).
    fn validate_inline(&mut self, pointer: &str, schema: &Value, instance: &Value, part: &Part) {
        let compiled = self
            .description
            .compiled(&format!("{pointer}#inline"), || schema.clone());
        self.report(pointer, &compiled, instance, part, Filter::None);
    }

    fn report(
        &mut self,
        pointer: &str,
        compiled: &Compiled,
        instance: &Value,
        part: &Part,
        filter: Filter,
    ) {
        let validator = match compiled {
            Ok(v) => v,
            Err(e) => {
                self.push(
                    part.clone(),
                    String::new(),
                    Some(format!("#{pointer}")),
                    format!("cannot check: the description's schema does not compile: {e}"),
                );
                return;
            }
        };
        for error in validator.iter_errors(instance) {
            let schema_path = match error.absolute_keyword_location() {
                Some(uri) => format!(
                    "#{}",
                    route::percent_decode(uri.fragment().map(|f| f.as_str()).unwrap_or(""))
                ),
                None => format!("#{pointer}{}", error.schema_path().as_str()),
            };
            let instance_path = error.instance_path().as_str().to_owned();
            if let ValidationErrorKind::Required { property } = error.kind()
                && self.excused(filter, &schema_path, &instance_path, property)
            {
                continue;
            }
            self.push(
                part.clone(),
                instance_path,
                Some(schema_path),
                shorten(&error.to_string(), MESSAGE_LIMIT),
            );
        }
    }

    /// Whether a missing required property is allowed here: the schema
    /// names it `readOnly` (requests) or `writeOnly` (answers), or the
    /// request is a PATCH and the property is one of the body's own.
    fn excused(
        &self,
        filter: Filter,
        schema_path: &str,
        instance_path: &str,
        property: &Value,
    ) -> bool {
        let Some(property) = property.as_str() else {
            return false;
        };
        let flag = match filter {
            Filter::None => return false,
            Filter::Patch if instance_path.is_empty() => return true,
            Filter::Patch | Filter::ReadOnly => "readOnly",
            Filter::WriteOnly => "writeOnly",
        };
        let document = &self.description.document;
        let Some(object) = schema_path
            .strip_suffix("/required")
            .and_then(|p| at(document, p))
        else {
            return false;
        };
        let Some(schema) = object.get("properties").and_then(|p| p.get(property)) else {
            return false;
        };
        let (schema, _) = resolve(document, schema, String::new());
        schema.get(flag) == Some(&Value::Bool(true))
    }
}

/// The URI of the place `pointer` in the description. Path templates put
/// `{`, `}` and the like into pointers, which a URI fragment must escape.
fn reference(pointer: &str) -> String {
    const FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    format!(
        "{BASE}#{}",
        percent_encoding::utf8_percent_encode(pointer, FRAGMENT)
    )
}

fn draft(dialect: Dialect) -> Draft {
    match dialect {
        Dialect::OpenApi31 => Draft::Draft202012,
        Dialect::OpenApi30 | Dialect::Swagger2 => Draft::Draft4,
    }
}

/// The JSON media type of a `content` map: `application/json`, else any
/// `…json` type (`application/vnd.api+json`), else `*/*`.
fn json_media(content: Option<&Value>) -> Option<String> {
    let content = content?.as_object()?;
    let pick =
        |f: &dyn Fn(&str) -> bool| content.keys().find(|k| f(&k.to_ascii_lowercase())).cloned();
    pick(&|k| k == "application/json" || k.starts_with("application/json;"))
        .or_else(|| pick(&|k| k.contains("json")))
        .or_else(|| pick(&|k| k == "*/*"))
}

/// The path (without the caller's prefix) and the query of a URL or path.
fn split_url(url: &str, base_url: Option<&str>) -> (String, Option<String>) {
    let (path, query) = if url.starts_with('/') {
        match url.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (url.to_owned(), None),
        }
    } else {
        match url::Url::parse(url) {
            Ok(u) => (u.path().to_owned(), u.query().map(str::to_owned)),
            Err(_) => (format!("/{url}"), None),
        }
    };
    let prefix = base_url.map(|b| match url::Url::parse(b) {
        Ok(u) => u.path().to_owned(),
        Err(_) => b.to_owned(),
    });
    let path = match prefix.as_deref().map(|p| p.trim_end_matches('/')) {
        Some(p) if !p.is_empty() => match path.strip_prefix(p) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.to_owned(),
            _ => path,
        },
        _ => path,
    };
    (path, query)
}

pub(crate) fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
