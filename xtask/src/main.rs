//! `cargo xtask …`: the project's tasks.
//!
//! - `plugins`: builds every plugin for `wasm32-wasip2` (installing the
//!   target with rustup when missing) into `dist/plugins/` (the bundled
//!   platform plugins) and `target/fault-plugins/` (the test fixtures).
//! - `demo`: builds the plugins and the host (release), then runs
//!   `statusport-demo`: fake platforms, `statusport serve` on `demo-data/`,
//!   sample orders and a day of events through the API, a report, and the
//!   host left running until Ctrl-C.
//! - `test`: builds the plugins once, installs the Python tools the tests
//!   use (aiosmtpd, openapi-spec-validator; with pip) when missing, then
//!   runs every test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

mod languages;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin";

/// (crate, file name) of each bundled platform plugin.
const BUNDLED: &[(&str, &str)] = &[
    ("statusport-plugin-generic", "generic.wasm"),
    ("statusport-plugin-woocommerce", "woocommerce.wasm"),
    ("statusport-plugin-shopware6", "shopware6.wasm"),
    ("statusport-plugin-amazon", "amazon.wasm"),
    ("statusport-plugin-ebay", "ebay.wasm"),
    ("statusport-plugin-bigcommerce", "bigcommerce.wasm"),
    ("statusport-plugin-adobe-commerce", "adobe-commerce.wasm"),
    ("statusport-plugin-etsy", "etsy.wasm"),
    ("statusport-plugin-allegro", "allegro.wasm"),
];

/// The misbehaving plugins the tests use.
const FAULTS: &[&str] = &["trap", "spin", "hog", "deep", "sneak", "malformed"];
/// Other plugins only the tests use: crate, file in `target/fault-plugins`.
const FIXTURES: &[(&str, &str)] = &[
    ("statusport-fixture-intake", "fixture-intake.wasm"),
    (
        "statusport-fixture-woocommerce-1-0",
        "fixture-woocommerce-1.0.wasm",
    ),
    (
        "statusport-fixture-shopware6-1-0",
        "fixture-shopware6-1.0.wasm",
    ),
    ("statusport-fixture-wrong-body", "fixture-wrong-body.wasm"),
];

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    match task.as_str() {
        "plugins" => build_plugins(&root),
        "demo" => {
            build_plugins(&root)?;
            demo(&root)
        }
        "test" => {
            build_plugins(&root)?;
            test(&root)
        }
        _ => {
            eprintln!("usage: cargo xtask <plugins|demo|test>");
            eprintln!("  plugins  build every plugin to dist/plugins and target/fault-plugins");
            eprintln!(
                "  demo     build the plugins and the host, start it against fake platforms, play a day of orders"
            );
            eprintln!("  test     build the plugins, then run every test");
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(mut command: Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn ensure_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to install the wasm32-wasip2 target; install rustup from your package manager or https://rustup.rs")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    eprintln!("xtask: installing the {TARGET} target with rustup");
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]);
    run(add)
}

fn build_plugins(root: &Path) -> anyhow::Result<()> {
    ensure_target()?;
    let mut build = cargo();
    build
        .current_dir(root)
        .args(["build", "--profile", PROFILE, "--target", TARGET]);
    for (krate, _) in BUNDLED {
        build.args(["-p", krate]);
    }
    for fault in FAULTS {
        build.args(["-p", &format!("statusport-fault-{fault}")]);
    }
    for (krate, _) in FIXTURES {
        build.args(["-p", krate]);
    }
    run(build)?;

    let out = root.join("target").join(TARGET).join(PROFILE);
    let dist = root.join("dist").join("plugins");
    let faults = root.join("target").join("fault-plugins");
    for dir in [&dist, &faults] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for (krate, file) in BUNDLED {
        copy(
            &out.join(format!("{}.wasm", krate.replace('-', "_"))),
            &dist.join(file),
        )?;
    }
    for fault in FAULTS {
        copy(
            &out.join(format!("statusport_fault_{fault}.wasm")),
            &faults.join(format!("fault-{fault}.wasm")),
        )?;
    }
    for (krate, file) in FIXTURES {
        copy(
            &out.join(format!("{}.wasm", krate.replace('-', "_"))),
            &faults.join(file),
        )?;
    }
    eprintln!(
        "xtask: plugins in {} and fault fixtures in {}",
        dist.display(),
        faults.display()
    );
    languages::build_examples(root)
}

/// Copies only when the content changed, so a running host watching the
/// directory sees no change for an unchanged plugin.
fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    let new = std::fs::read(from).with_context(|| format!("{} was not built", from.display()))?;
    if std::fs::read(to).ok().as_deref() == Some(new.as_slice()) {
        return Ok(());
    }
    let tmp = to.with_extension("wasm.tmp");
    std::fs::write(&tmp, &new).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("cannot write {}", to.display()))
}

/// Python tools the tests use, from PyPI: (module, package, what for).
const PYTHON_TOOLS: &[(&str, &str, &str)] = &[
    ("aiosmtpd", "aiosmtpd", "the test SMTP server"),
    (
        "openapi_spec_validator",
        "openapi-spec-validator",
        "the OpenAPI document check",
    ),
    ("schemathesis", "schemathesis>=4,<5", "the API fuzz run"),
];

/// Installs the Python tools the tests use when they are missing.
fn ensure_python_tools() -> anyhow::Result<()> {
    for (module, package, what) in PYTHON_TOOLS {
        let present = Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .status()
            .with_context(|| format!("python3 is needed for {what}; install Python 3"))?
            .success();
        if present {
            continue;
        }
        eprintln!("installing {package} ({what}) with pip");
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", package]);
        run(pip)?;
    }
    Ok(())
}

fn test(root: &Path) -> anyhow::Result<()> {
    ensure_python_tools()?;
    // One build for everything: the end-to-end tests run the `statusport`
    // binary that the host crate's integration tests make `cargo test` build
    // (a separate `cargo build` would resolve other features and compile
    // wasmtime a second time).
    let mut test = cargo();
    test.current_dir(root)
        .args(["test", "--workspace", "--exclude", "xtask"]);
    for fault in FAULTS {
        // cdylib-only fixtures have no tests of their own.
        test.args(["--exclude", &format!("statusport-fault-{fault}")]);
    }
    for (krate, _) in FIXTURES {
        test.args(["--exclude", krate]);
    }
    run(test)
}

fn demo(root: &Path) -> anyhow::Result<()> {
    let mut build = cargo();
    build.current_dir(root).args([
        "build",
        "--release",
        "-p",
        "statusport",
        "-p",
        "statusport-tests",
        "--bin",
        "statusport",
        "--bin",
        "statusport-demo",
    ]);
    run(build)?;
    let release = root.join("target").join("release");
    let mut demo = Command::new(release.join("statusport-demo"));
    demo.current_dir(root).arg(release.join("statusport"));
    run(demo)
}
