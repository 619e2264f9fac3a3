//! The tidy test: the arrows between the host's crates and modules that the
//! Invariants section of ARCHITECTURE.md forbids, checked on the manifests
//! and the sources, in the spirit of rust-analyzer's `xtask/src/tidy.rs`.
//!
//! It reads files only: no build of the host, no plugin, no network. A
//! source rule is checked on every path of two or more segments a file
//! names in code (comments and literals skipped), with `use` groups
//! expanded and `crate::`, `self::`, `super::` resolved to `crate::a::b`.
//! The rule tables below are the ones ARCHITECTURE.md lists: change both.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// A crate that one section of a host crate's `Cargo.toml` must never name.
struct ManifestRule {
    manifest: &'static str,
    section: &'static str,
    /// Crate names; a trailing `*` matches any name that starts with it.
    forbidden: &'static [&'static str],
    reason: &'static str,
    fix: &'static str,
}

/// Paths that the files under `scope` (a directory, or a module's file
/// without `.rs`) must never name. A pattern is a path whose last segment
/// may end in `*`; `<handler>` stands for any file of `host/service/src/api`
/// but `mod.rs`, `error.rs` and `views.rs`. A file may always name its own module.
struct SourceRule {
    scope: &'static str,
    forbidden: &'static [&'static str],
    /// Paths allowed although a `forbidden` pattern matches them.
    except: &'static [&'static str],
    reason: &'static str,
    fix: &'static str,
}

/// Files under `scope` have at most `max_lines` lines.
struct LengthRule {
    scope: &'static str,
    max_lines: usize,
    reason: &'static str,
    fix: &'static str,
}

const MANIFEST_RULES: &[ManifestRule] = &[
    ManifestRule {
        manifest: "host/core/Cargo.toml",
        section: "dependencies",
        forbidden: &[
            "statusport-runtime",
            "statusport",
            "wasmtime*",
            "wasmparser",
            "axum",
            "tower",
            "tower-http",
            "hyper",
            "reqwest",
            "lettre",
            "utoipa-axum",
            "clap",
        ],
        reason: "The core holds the orders and their rules: it runs no plugin, serves and calls no HTTP, sends no mail and reads no command line.",
        fix: "move the code that needs it into statusport-runtime or statusport, behind a trait of `statusport_core::ports` if the core must call it",
    },
    ManifestRule {
        manifest: "host/core/Cargo.toml",
        section: "dev-dependencies",
        forbidden: &[
            "statusport-runtime",
            "statusport",
            "statusport-tests",
            "wasmtime*",
        ],
        reason: "The core's own tests run without the plugin runtime and the service.",
        fix: "test it with a fake implementation of the port, or move the test to the tests crate",
    },
    ManifestRule {
        manifest: "host/runtime/Cargo.toml",
        section: "dependencies",
        forbidden: &["statusport", "sled", "axum", "lettre", "clap"],
        reason: "The plugin runtime loads and calls plugins: it knows the core's domain and ports, never the service, the database, HTTP serving, mail or the command line.",
        fix: "move the code into the service (statusport), or reach the store through a trait of `statusport_core::ports`",
    },
    ManifestRule {
        manifest: "host/spec/Cargo.toml",
        section: "dependencies",
        forbidden: &[
            "statusport-core",
            "statusport-runtime",
            "statusport",
            "wasmtime*",
            "axum",
            "hyper",
            "reqwest",
            "sled",
        ],
        reason: "The spec check reads an API description and checks exchanges against it: it knows no Statusport type, runs no plugin, and fetches nothing.",
        fix: "keep it a library of descriptions and exchanges; let the CLI or the tests hand it what a plugin sent",
    },
];

const CRATE_RULES: &[SourceRule] = &[
    SourceRule {
        scope: "host/core/src",
        forbidden: &["statusport_runtime", "statusport", "wasmtime*"],
        except: &[],
        reason: "The core knows nothing of the plugin runtime, the service or wasmtime: they depend on it, never the other way round.",
        fix: "move the code into statusport-runtime or statusport, or declare a trait in `ports` for them to implement",
    },
    SourceRule {
        scope: "host/runtime/src",
        forbidden: &[
            "statusport",
            "sled",
            "statusport_core::store",
            "statusport_core::engine",
        ],
        except: &[],
        reason: "The plugin runtime knows the core's domain and ports only: never its store or engine, nor the service that wires them.",
        fix: "take a type from `statusport_core::domain` or a trait from `statusport_core::ports`; the service passes the implementation in",
    },
];

const CORE_MODULE_RULES: &[SourceRule] = &[
    SourceRule {
        scope: "host/core/src/domain",
        forbidden: &["crate::*"],
        except: &[],
        reason: "The domain is plain data and pure functions: it names no other module of the core.",
        fix: "move the type into `domain`, or the code that needs the other module out of it",
    },
    SourceRule {
        scope: "host/core/src/ports",
        forbidden: &["crate::*"],
        except: &["crate::domain"],
        reason: "A port is a trait in the domain's words: it names the domain and nothing else.",
        fix: "express the port with `domain` types",
    },
    SourceRule {
        scope: "host/core/src/templates",
        forbidden: &["crate::*"],
        except: &["crate::domain"],
        reason: "Templates render domain values: they never read the store or call the engine.",
        fix: "let the caller (the engine) fetch what the template needs and pass it in",
    },
    SourceRule {
        scope: "host/core/src/store",
        forbidden: &["crate::*"],
        except: &["crate::domain", "crate::ports"],
        reason: "The store keeps domain values and implements ports: it never calls the engine or renders a template.",
        fix: "move the decision into the engine, which calls the store",
    },
];

const SERVICE_MODULE_RULES: &[SourceRule] = &[
    SourceRule {
        scope: "host/service/src/api",
        forbidden: &["keys", "sled", "statusport_core::store::keys"],
        except: &[],
        reason: "The HTTP API asks the store questions through its functions: it never builds a store key or opens the database.",
        fix: "add a function to `statusport_core::store` (or the engine) that answers the question, and call it",
    },
    SourceRule {
        scope: "host/service/src/api/<handler>",
        forbidden: &["crate::api::<handler>"],
        except: &[],
        reason: "An API handler file serves its own routes: what two handlers share lives in api/mod.rs, api/error.rs or api/views.rs.",
        fix: "move the shared item into api/mod.rs or api/error.rs and import it from `super::`",
    },
    SourceRule {
        scope: "host/service/src/notify",
        forbidden: &["crate::api", "crate::outbox", "crate::server"],
        except: &[],
        reason: "A notifier sends one message over one channel: it knows nothing of the API, the outbox that schedules it or the server that starts it.",
        fix: "pass what the notifier needs in as arguments from the outbox",
    },
    SourceRule {
        scope: "host/service/src/outbox",
        forbidden: &["crate::api", "crate::server"],
        except: &[],
        reason: "The outbox delivers what the engine wrote: it serves no HTTP and is started by the server, not the other way round.",
        fix: "move the item the outbox needs into the outbox (or the core) and let the API and the server import it from there",
    },
    SourceRule {
        scope: "host/service/src/auth",
        forbidden: &["crate::api", "crate::server"],
        except: &[],
        reason: "Tokens and roles are checked by the API and set up by the server: auth calls neither.",
        fix: "move the item into `auth` and let the API import it",
    },
    SourceRule {
        scope: "host/service/src/config",
        forbidden: &["crate::api", "crate::server"],
        except: &[],
        reason: "The config file is read before anything starts: it describes the API and the server, it does not call them.",
        fix: "keep the setting's type in `config` (or in the module it configures that is not the API or the server)",
    },
];

const LENGTH_RULES: &[LengthRule] = &[LengthRule {
    scope: "host/core/src/engine",
    max_lines: 800,
    reason: "An engine file reads in one sitting.",
    fix: "split it by what the engine does (creating, applying, bulk, timers) into files of its own",
}];

/// The API's files that every handler may share.
const API: &str = "host/service/src/api";
const API_SHARED: &[&str] = &["mod", "error", "views"];

#[test]
fn core_and_runtime_manifests_name_no_crate_they_must_not_depend_on() {
    let manifests = MANIFEST_RULES.iter().map(|r| read(r.manifest)).collect();
    assert_clean(manifest_violations(MANIFEST_RULES, &manifests));
}

#[test]
fn core_and_runtime_sources_name_no_crate_above_them() {
    assert_clean(source_violations(CRATE_RULES, &host_sources()));
}

#[test]
fn core_modules_name_only_the_modules_below_them() {
    assert_clean(source_violations(CORE_MODULE_RULES, &host_sources()));
}

#[test]
fn service_handlers_share_only_through_api_mod_and_workers_never_name_the_api() {
    assert_clean(source_violations(SERVICE_MODULE_RULES, &host_sources()));
}

#[test]
fn no_engine_file_is_longer_than_800_lines() {
    assert_clean(length_violations(LENGTH_RULES, &host_sources()));
}

fn assert_clean(violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "{} violation(s) of the architecture invariants (ARCHITECTURE.md, Invariants):\n\n{}",
        violations.len(),
        violations.join("\n\n")
    );
}

fn manifest_violations(
    rules: &[ManifestRule],
    manifests: &BTreeMap<String, String>,
) -> Vec<String> {
    #[derive(Deserialize)]
    struct Manifest {
        #[serde(default)]
        dependencies: BTreeMap<Spanned<String>, toml::Value>,
        #[serde(default, rename = "dev-dependencies")]
        dev_dependencies: BTreeMap<Spanned<String>, toml::Value>,
    }
    let mut out = Vec::new();
    for rule in rules {
        let text = &manifests[rule.manifest];
        let manifest: Manifest = toml::from_str(text)
            .unwrap_or_else(|e| panic!("{}: not a Cargo manifest: {e}", rule.manifest));
        let deps = match rule.section {
            "dependencies" => &manifest.dependencies,
            "dev-dependencies" => &manifest.dev_dependencies,
            other => panic!("{}: the tidy test reads no [{other}]", rule.manifest),
        };
        for (key, value) in deps {
            // `foo = { package = "bar" }` depends on bar.
            let name = value
                .get("package")
                .and_then(|p| p.as_str())
                .unwrap_or(key.get_ref().as_str());
            if let Some(pattern) = rule.forbidden.iter().find(|p| glob(p, name)) {
                out.push(format!(
                    "{}:{}: [{}] names `{name}`\n  rule: {} [{}] never names `{pattern}`: {}\n  fix: {}",
                    rule.manifest,
                    line_of(text, key.span().start),
                    rule.section,
                    rule.manifest,
                    rule.section,
                    rule.reason,
                    rule.fix
                ));
            }
        }
    }
    out
}

fn source_violations(rules: &[SourceRule], files: &[(String, String)]) -> Vec<String> {
    let mut handlers: Vec<&str> = files.iter().filter_map(|(f, _)| handler_of(f)).collect();
    handlers.sort();
    handlers.dedup();
    let mut out = Vec::new();
    for (file, text) in files {
        let names = paths(&module_of(file), text);
        for rule in rules {
            let Some(scope) = scope_of(rule.scope, file, &handlers) else {
                continue;
            };
            let own = module_of(&format!("{scope}/mod.rs")).join("::");
            let expand = |p: &&str| -> Vec<String> {
                if p.contains("<handler>") {
                    handlers.iter().map(|h| p.replace("<handler>", h)).collect()
                } else {
                    vec![p.to_string()]
                }
            };
            let forbidden: Vec<String> = rule.forbidden.iter().flat_map(expand).collect();
            for (line, written, name) in &names {
                let within = |p: &str| names_path(p, name);
                if !forbidden.iter().any(|p| within(p))
                    || within(&own)
                    || rule.except.iter().any(|e| within(e))
                {
                    continue;
                }
                let resolved = if written == name {
                    String::new()
                } else {
                    format!(" (that is `{name}`)")
                };
                let except = match rule.except {
                    [] => String::new(),
                    e => format!(" but {}", e.join(", ")),
                };
                out.push(format!(
                    "{file}:{line}: names `{written}`{resolved}\n  rule: {} never names {}{except}: {}\n  fix: {}",
                    rule.scope,
                    rule.forbidden.join(", "),
                    rule.reason,
                    rule.fix
                ));
            }
        }
    }
    out
}

fn length_violations(rules: &[LengthRule], files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (file, text) in files {
        for rule in rules
            .iter()
            .filter(|r| scope_of(r.scope, file, &[]).is_some())
        {
            let lines = text.lines().count();
            if lines > rule.max_lines {
                out.push(format!(
                    "{file}:{}: the file has {lines} lines\n  rule: files under {} have at most {} lines: {}\n  fix: {}",
                    rule.max_lines + 1,
                    rule.scope,
                    rule.max_lines,
                    rule.reason,
                    rule.fix
                ));
            }
        }
    }
    out
}

/// The concrete scope (`<handler>` filled in) that `file` is in, if any.
fn scope_of(scope: &str, file: &str, handlers: &[&str]) -> Option<String> {
    let within = |s: &str| file == format!("{s}.rs") || file.starts_with(&format!("{s}/"));
    if scope.contains("<handler>") {
        handlers
            .iter()
            .map(|h| scope.replace("<handler>", h))
            .find(|s| within(s))
    } else {
        within(scope).then(|| scope.to_string())
    }
}

/// `orders` for `host/service/src/api/orders.rs` or `.../api/orders/x.rs`.
fn handler_of(file: &str) -> Option<&str> {
    let rest = file.strip_prefix(API)?.strip_prefix('/')?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!API_SHARED.contains(&name)).then_some(name)
}

/// `["crate", "engine", "bulk"]` for `host/core/src/engine/bulk.rs`.
fn module_of(file: &str) -> Vec<String> {
    let (_, rest) = file.split_once("/src/").unwrap_or(("", file));
    let mut module = vec!["crate".to_string()];
    module.extend(rest.trim_end_matches(".rs").split('/').map(str::to_string));
    if matches!(
        module.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        module.pop();
    }
    module
}

/// Whether the path `name` is `pattern` or lies inside it.
fn names_path(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<_>, Vec<_>) =
        (pattern.split("::").collect(), name.split("::").collect());
    name.len() >= pattern.len() && pattern.iter().zip(&name).all(|(p, n)| glob(p, n))
}

fn glob(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Every path of two or more segments that `text` names in code, with its
/// line, as written and resolved: `use a::{b, c::d}` gives `a::b` and
/// `a::c::d`; `super::x` in module `crate::m::n` gives `crate::m::x`.
/// `module` is the file's module; inline `mod x { … }` blocks extend it.
fn paths(module: &[String], text: &str) -> Vec<(usize, String, String)> {
    let tokens = tokens(text);
    let (mut out, mut inline, mut depth, mut i) = (Vec::new(), Vec::<(String, usize)>::new(), 0, 0);
    while i < tokens.len() {
        let (line, token) = (tokens[i].0, tokens[i].1.as_str());
        let next = |k: usize| tokens.get(i + k).map_or("", |t| t.1.as_str());
        match token {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                inline.retain(|(_, d)| *d <= depth);
            }
            "mod" if is_ident(next(1)) && next(2) == "{" => {
                inline.push((next(1).to_string(), depth + 1))
            }
            _ if is_ident(token) && (i == 0 || tokens[i - 1].1 != "::") => {
                let here: Vec<String> = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|m| m.0.clone()))
                    .collect();
                for segments in tree(&tokens, &mut i, Vec::new())
                    .into_iter()
                    .filter(|s| s.len() >= 2)
                {
                    if let Some(resolved) = resolve(&here, &segments) {
                        out.push((line, segments.join("::"), resolved.join("::")));
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The paths of the path or `use` tree starting at `tokens[*i]`.
fn tree(tokens: &[(usize, String)], i: &mut usize, mut segments: Vec<String>) -> Vec<Vec<String>> {
    let token = |i: usize| tokens.get(i).map_or("", |t| t.1.as_str());
    loop {
        match token(*i) {
            "{" => {
                *i += 1;
                let mut all = Vec::new();
                while *i < tokens.len() && token(*i) != "}" {
                    match token(*i) {
                        "as" => *i += 2,
                        t if is_ident(t) || t == "*" || t == "{" => {
                            all.extend(tree(tokens, i, segments.clone()))
                        }
                        _ => *i += 1,
                    }
                }
                *i += 1;
                return all;
            }
            t if is_ident(t) || t == "*" => {
                segments.push(t.to_string());
                *i += 1;
            }
            _ => return vec![segments],
        }
        if token(*i) != "::" {
            return vec![segments];
        }
        *i += 1;
    }
}

/// `segments` as a path from the crate root when it starts with `crate`,
/// `self` or `super`; as written otherwise. A trailing `self` is dropped.
fn resolve(module: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut path = match segments[0].as_str() {
        "self" => module.to_vec(),
        "super" => {
            let mut path = module.to_vec();
            for _ in segments.iter().take_while(|s| *s == "super") {
                path.pop().filter(|_| !path.is_empty())?;
            }
            path
        }
        _ => Vec::new(),
    };
    let rest = segments
        .iter()
        .skip_while(|s| matches!(s.as_str(), "self" | "super"));
    path.extend(rest.cloned());
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    Some(path)
}

fn is_ident(token: &str) -> bool {
    token.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// The tokens paths are made of, with their line: identifiers, `::` and
/// every other punctuation character on its own. Comments, string and
/// character literals are skipped; lifetimes lose their `'`.
fn tokens(text: &str) -> Vec<(usize, String)> {
    let s: Vec<char> = text.chars().collect();
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    // Skips a string body from `i` to its closing quote and `hashes` `#`s.
    let string = |mut i: usize, hashes: usize, line: &mut usize| {
        while i < s.len() {
            match s[i] {
                '\\' if hashes == 0 && at(i + 1) == '\n' => *line += 1,
                '\\' if hashes == 0 => i += 1,
                '\n' => *line += 1,
                '"' if (1..=hashes).all(|k| at(i + k) == '#') => return i + 1 + hashes,
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < s.len() {
        let c = s[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if at(i + 1) == '/' => {
                while i < s.len() && s[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                loop {
                    match (at(i), at(i + 1)) {
                        ('/', '*') => (depth, i) = (depth + 1, i + 2),
                        ('*', '/') => (depth, i) = (depth - 1, i + 2),
                        ('\n', _) => (line, i) = (line + 1, i + 1),
                        _ => i += 1,
                    }
                    if depth == 0 || i >= s.len() {
                        break;
                    }
                }
            }
            '"' => i = string(i + 1, 0, &mut line),
            '\'' if at(i + 1) == '\\' => {
                i += 3;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            '\'' if at(i + 2) == '\'' => i += 3,
            ':' if at(i + 1) == ':' => {
                out.push((line, "::".to_string()));
                i += 2;
            }
            _ if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                let word: String = s[start..i].iter().collect();
                let hashes = (i..).take_while(|&k| at(k) == '#').count();
                if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                    i = string(i + hashes + 1, hashes, &mut line);
                } else {
                    out.push((line, word));
                }
            }
            _ => {
                if !c.is_whitespace() {
                    out.push((line, c.to_string()));
                }
                i += 1;
            }
        }
    }
    out
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(file: &str) -> (String, String) {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    (file.to_string(), text)
}

/// Every `.rs` file under the host crates' `src/`, as (path from the
/// workspace root, text), sorted by path.
fn host_sources() -> Vec<(String, String)> {
    fn walk(dir: &str, out: &mut Vec<(String, String)>) {
        let entries = std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries.map(|e| e.expect("a directory entry")) {
            let path = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if entry.file_type().expect("a file type").is_dir() {
                walk(&path, out);
            } else if path.ends_with(".rs") {
                out.push(read(&path));
            }
        }
    }
    let mut out = Vec::new();
    for krate in ["core", "runtime", "service"] {
        walk(&format!("host/{krate}/src"), &mut out);
    }
    out.sort();
    out
}

// The checks of the checker: each rule must bite on a planted violation,
// and the scanner must read paths the way the compiler does.

#[test]
fn the_scanner_skips_comments_strings_and_characters() {
    let text = r##"
        // use crate::engine::a;
        /// crate::engine::b
        /* crate::engine::c /* nested */ crate::engine::d */
        let s = "crate::engine::e \" crate::engine::f";
        let r = r#"crate::engine::g " crate::engine::h"#;
        let c = ('"', '\'', b'x', '\u{22}');
        fn f<'a>(x: &'a str) -> crate::domain::Y { }
    "##;
    let found: Vec<_> = paths(&module_of("host/core/src/lib.rs"), text);
    assert_eq!(
        found,
        [(8, "crate::domain::Y".into(), "crate::domain::Y".into())]
    );
}

#[test]
fn the_scanner_expands_use_groups_and_resolves_super_self_and_inline_modules() {
    let text = "use super::{orders::query_error, self as api, mod_item::{a, b as c}};\n\
                use statusport_core::store::{Store, keys};\n\
                fn f() { self::g(); x.keys(); super::super::server::h(); }\n\
                mod tests { use super::*; }\n\
                fn g() { Vec::<u8>::new(); }\n";
    let found: Vec<_> = paths(&module_of("host/service/src/api/admin.rs"), text)
        .into_iter()
        .map(|(line, _, name)| format!("{line}:{name}"))
        .collect();
    assert_eq!(
        found,
        [
            "1:crate::api::orders::query_error",
            "1:crate::api",
            "1:crate::api::mod_item::a",
            "1:crate::api::mod_item::b",
            "2:statusport_core::store::Store",
            "2:statusport_core::store::keys",
            "3:crate::api::admin::g",
            "3:crate::server::h",
            "4:crate::api::admin::*",
        ]
    );
}

#[test]
fn every_source_rule_catches_a_planted_violation_and_spares_its_exceptions() {
    let tables = [CRATE_RULES, CORE_MODULE_RULES, SERVICE_MODULE_RULES];
    // A second handler for `crate::api::<handler>` to name.
    let mut files = vec![(format!("{API}/shipments.rs"), String::new())];
    let (mut bad, mut good) = (Vec::new(), Vec::new());
    for (n, rule) in tables.iter().flat_map(|t| t.iter()).enumerate() {
        let dir = rule.scope.replace("<handler>", "planted");
        for (k, pattern) in rule.forbidden.iter().enumerate() {
            let name = pattern.replace('*', "_x").replace("<handler>", "shipments");
            bad.push(format!("{dir}/bad_{n}_{k}.rs"));
            files.push((
                bad.last().unwrap().clone(),
                format!("\n// {name}\nuse {name}::planted;\n"),
            ));
        }
        for (k, name) in rule.except.iter().enumerate() {
            good.push(format!("{dir}/good_{n}_{k}.rs"));
            files.push((
                good.last().unwrap().clone(),
                format!("use {name}::planted;\n"),
            ));
        }
    }
    let found = tables.map(|t| source_violations(t, &files)).concat();
    for file in &bad {
        let hit = format!("{file}:3: names `");
        assert!(
            found.iter().any(|v| v.starts_with(&hit)),
            "no violation for {file}:\n{found:#?}"
        );
    }
    for file in good.iter().chain([&files[0].0]) {
        assert!(
            !found.iter().any(|v| v.starts_with(file.as_str())),
            "{file} broke a rule:\n{found:#?}"
        );
    }
    assert_eq!(found.len(), bad.len(), "{found:#?}");
}

#[test]
fn every_manifest_rule_catches_a_planted_dependency() {
    for rule in MANIFEST_RULES {
        for pattern in rule.forbidden {
            let name = pattern.replace('*', "-x");
            let text = format!(
                "[package]\nname = \"p\"\n\n[{}]\nserde = \"1\"\nrenamed = {{ package = \"{name}\" }}\n",
                rule.section
            );
            let manifests = BTreeMap::from([(rule.manifest.to_string(), text)]);
            let found = manifest_violations(std::slice::from_ref(rule), &manifests);
            let hit = format!("{}:6: [{}] names `{name}`", rule.manifest, rule.section);
            assert!(
                found.len() == 1 && found[0].starts_with(&hit),
                "{hit}:\n{found:#?}"
            );
        }
    }
}

#[test]
fn the_length_rule_allows_800_lines_and_refuses_801() {
    let file = |n: usize| ("host/core/src/engine/x.rs".to_string(), "line\n".repeat(n));
    assert!(length_violations(LENGTH_RULES, &[file(800)]).is_empty());
    let found = length_violations(LENGTH_RULES, &[file(801)]);
    assert!(
        found.len() == 1
            && found[0].starts_with("host/core/src/engine/x.rs:801: the file has 801 lines")
    );
}
