//! The example plugins written in other languages than Rust, built from the
//! same contract (`wit/v1.1`, world `intake-adapter`) into
//! `target/example-plugins/`:
//!
//! - `python-example.wasm` from `plugins/examples/python` with
//!   componentize-py (the version pinned in its `requirements.txt`,
//!   installed with pip when missing);
//! - `javascript-example.wasm` from `plugins/examples/javascript` with jco
//!   and componentize-js (pinned in its `package.json` and
//!   `package-lock.json`, installed with `npm ci` into its own
//!   `node_modules` when missing or older than the lock file).
//!
//! Each build takes tens of seconds: a plugin is built again only when one
//! of its sources or the WIT is newer than the built file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::run;

/// The world both examples implement.
const WORLD: &str = "intake-adapter";
/// Where the built examples go, below the workspace root.
const OUT_DIR: &str = "target/example-plugins";

pub fn build_examples(root: &Path) -> anyhow::Result<()> {
    let out = root.join(OUT_DIR);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let wit = root.join("wit").join("v1.1");
    let wit_files = files_below(&wit)?;
    build_python(
        &root.join("plugins/examples/python"),
        &wit,
        &wit_files,
        &out,
    )?;
    build_javascript(
        &root.join("plugins/examples/javascript"),
        &wit,
        &wit_files,
        &out,
    )?;
    eprintln!("xtask: example plugins in {}", out.display());
    Ok(())
}

fn build_python(dir: &Path, wit: &Path, wit_files: &[PathBuf], out: &Path) -> anyhow::Result<()> {
    let target = out.join("python-example.wasm");
    let mut inputs = files_with(dir, &["py", "txt"])?;
    inputs.extend_from_slice(wit_files);
    if up_to_date(&target, &inputs)? {
        eprintln!("xtask: {} is up to date", target.display());
        return Ok(());
    }
    ensure_componentize_py(dir)?;
    eprintln!("xtask: building {} with componentize-py", target.display());
    let tmp = target.with_extension("wasm.part");
    let mut build = Command::new("python3");
    build
        .current_dir(dir)
        // No __pycache__ in the source folder.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-c",
            "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()",
            "-d",
        ])
        .arg(wit)
        .args(["-w", WORLD, "componentize", "example_shop", "-p", ".", "-o"])
        .arg(&tmp);
    run(build)?;
    rename(&tmp, &target)
}

/// The version of componentize-py pinned in `requirements.txt`.
fn pinned_componentize_py(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("requirements.txt");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("componentize-py=="))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("{} pins no componentize-py==VERSION", path.display()))
}

fn ensure_componentize_py(dir: &Path) -> anyhow::Result<()> {
    let pinned = pinned_componentize_py(dir)?;
    let installed = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('componentize-py'))",
        ])
        .output()
        .context(
            "python3 is needed to build the Python example plugin (plugins/examples/python): \
             install Python 3.10 or newer with pip (Debian: apt-get install python3 python3-pip)",
        )?;
    let version = String::from_utf8_lossy(&installed.stdout).trim().to_owned();
    if installed.status.success() && version == pinned {
        return Ok(());
    }
    let pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !pip {
        bail!(
            "pip is needed to install componentize-py {pinned} for the Python example plugin: \
             install it (Debian: apt-get install python3-pip), or install componentize-py=={pinned} yourself"
        );
    }
    eprintln!("xtask: installing componentize-py {pinned} with pip");
    let mut install = Command::new("python3");
    install
        .current_dir(dir)
        .args(["-m", "pip", "install", "--quiet", "-r", "requirements.txt"]);
    run(install)
}

fn build_javascript(
    dir: &Path,
    wit: &Path,
    wit_files: &[PathBuf],
    out: &Path,
) -> anyhow::Result<()> {
    let target = out.join("javascript-example.wasm");
    let mut inputs = files_with(dir, &["js", "json"])?;
    inputs.extend_from_slice(wit_files);
    if up_to_date(&target, &inputs)? {
        eprintln!("xtask: {} is up to date", target.display());
        return Ok(());
    }
    ensure_npm_packages(dir)?;
    eprintln!("xtask: building {} with jco componentize", target.display());
    let tmp = target.with_extension("wasm.part");
    let mut build = Command::new("node");
    build
        .current_dir(dir)
        .arg(Path::new("node_modules/@bytecodealliance/jco/dist/jco.js"))
        .args(["componentize", "plugin.js", "--wit"])
        .arg(wit)
        .args(["--world-name", WORLD, "--disable", "fetch-event", "-o"])
        .arg(&tmp);
    run(build)?;
    rename(&tmp, &target)
}

/// Runs `npm ci` when the example's `node_modules` is missing or older than
/// its lock file.
fn ensure_npm_packages(dir: &Path) -> anyhow::Result<()> {
    const NODE: &str = "Node.js 18 or newer with npm is needed to build the JavaScript example plugin \
                        (plugins/examples/javascript): install it (Debian: apt-get install nodejs npm)";
    let node = Command::new("node")
        .arg("--version")
        .output()
        .context(NODE)?;
    let version = String::from_utf8_lossy(&node.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if !node.status.success() || major < 18 {
        bail!("{NODE} (found node {version:?})");
    }
    let installed = dir.join("node_modules").join(".package-lock.json");
    let lock = dir.join("package-lock.json");
    if installed.is_file() && !newer(&lock, &installed)? {
        return Ok(());
    }
    Command::new("npm")
        .arg("--version")
        .output()
        .context(NODE)?;
    eprintln!(
        "xtask: installing the JavaScript example's npm packages with npm ci in {}",
        dir.display()
    );
    let mut ci = Command::new("npm");
    ci.current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    run(ci)
}

/// Whether `target` exists and is newer than every input.
fn up_to_date(target: &Path, inputs: &[PathBuf]) -> anyhow::Result<bool> {
    let Some(built) = modified(target)? else {
        return Ok(false);
    };
    for input in inputs {
        if modified(input)?.is_none_or(|m| m >= built) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `a` was changed after `b`.
fn newer(a: &Path, b: &Path) -> anyhow::Result<bool> {
    Ok(match (modified(a)?, modified(b)?) {
        (Some(a), Some(b)) => a > b,
        _ => true,
    })
}

fn modified(path: &Path) -> anyhow::Result<Option<SystemTime>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.modified().with_context(|| {
            format!("{}: no modification time", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The files directly in `dir` whose extension is one of `extensions`.
fn files_with(dir: &Path, extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e));
        if wanted && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        bail!("{} holds no sources", dir.display());
    }
    Ok(files)
}

/// Every file below `dir`.
fn files_below(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in
            std::fs::read_dir(&next).with_context(|| format!("cannot read {}", next.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}
