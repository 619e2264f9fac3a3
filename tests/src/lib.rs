//! Shared pieces of the end-to-end tests: where the built plugins are, a
//! runtime to load them in, and fake platforms that behave like the real
//! APIs closely enough to catch wrong paths, methods, bodies, auth and
//! transitions — and that record what they received.

// The fakes name the library `statusport_tests::…` wherever they are
// compiled (here, or into one test binary while being written).
extern crate self as statusport_tests;

// The crash helpers live beside the engine's crash tests in the core, whose
// tests cannot depend on this crate; the outbox's crash test shares them.
#[path = "../../host/core/tests/engine/kills.rs"]
pub mod crash;
pub mod delivery;
pub mod fake;
pub mod shop;
pub mod smtp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use statusport_runtime::call::CallContext;
use statusport_runtime::registry::{self, LoadedPlugin};
use statusport_runtime::{ChannelContext, Limits, MemoryState, Runtime};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_owned()
}

fn built(dir: PathBuf, file: &str) -> PathBuf {
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first with `cargo xtask plugins` (or run `cargo xtask test`)",
        path.display()
    );
    path
}

/// A bundled plugin: `generic`, `woocommerce`, `shopware6`.
pub fn plugin_path(id: &str) -> PathBuf {
    built(root().join("dist").join("plugins"), &format!("{id}.wasm"))
}

/// A fault fixture: `trap`, `spin`, `hog`, `deep`, `sneak`, `malformed`.
pub fn fault_path(name: &str) -> PathBuf {
    built(
        root().join("target").join("fault-plugins"),
        &format!("fault-{name}.wasm"),
    )
}

/// A test fixture plugin: `intake` (contract 1.1 with intake), `wrong-body`
/// (requests that differ from Shopware's published API description).
pub fn fixture_path(name: &str) -> PathBuf {
    built(
        root().join("target").join("fault-plugins"),
        &format!("fixture-{name}.wasm"),
    )
}

/// An example plugin in another language than Rust: `python`,
/// `javascript` (built by `cargo xtask plugins` from `plugins/examples`).
pub fn example_path(language: &str) -> PathBuf {
    built(
        root().join("target").join("example-plugins"),
        &format!("{language}-example.wasm"),
    )
}

/// A folder `plugins` under `dir` holding copies of the bundled plugins and
/// of the fault fixtures named in `faults`: a host's plugin directory.
pub fn plugin_dir(dir: &std::path::Path, faults: &[&str]) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("the test can write its temp dir");
    for id in ["generic", "woocommerce", "shopware6"] {
        std::fs::copy(plugin_path(id), plugins.join(format!("{id}.wasm")))
            .expect("the plugin copies");
    }
    for fault in faults {
        std::fs::copy(
            fault_path(fault),
            plugins.join(format!("fault-{fault}.wasm")),
        )
        .expect("the fixture copies");
    }
    plugins
}

/// The `statusport` binary, built beside the test executables.
pub fn statusport_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executables live in target/<profile>/deps");
    let bin = dir.join("statusport");
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it",
        bin.display()
    );
    bin
}

/// Limits for tests: the defaults with a short deadline, so that a
/// looping plugin is stopped quickly.
pub fn test_limits() -> Limits {
    Limits {
        deadline: Duration::from_secs(2),
        ..Limits::default()
    }
}

/// A runtime with its own compiled-code cache in `cache`.
pub fn runtime(limits: Limits, cache: Option<PathBuf>) -> Arc<Runtime> {
    Runtime::new(limits, cache).expect("the runtime starts")
}

pub async fn load(runtime: &Arc<Runtime>, path: &std::path::Path) -> LoadedPlugin {
    match registry::load_file(runtime, path).await {
        Ok(p) => p,
        Err(reason) => panic!("{} did not load: {reason}", path.display()),
    }
}

/// A channel pointing at `base_url` with `config`.
pub fn channel(base_url: &str, config: &[(&str, &str)]) -> CallContext {
    CallContext {
        channel: Arc::new(ChannelContext {
            id: "test-channel".into(),
            base_url: Some(url::Url::parse(base_url).expect("a valid URL")),
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            granted_hosts: Vec::new(),
        }),
        state: Arc::new(MemoryState::default()),
    }
}

/// The platforms of the three bundled plugins, described once per test
/// binary through the real runtime.
pub fn bundled_platforms()
-> Arc<std::collections::BTreeMap<String, Arc<statusport_core::domain::platform::Platform>>> {
    static PLATFORMS: std::sync::OnceLock<
        Arc<std::collections::BTreeMap<String, Arc<statusport_core::domain::platform::Platform>>>,
    > = std::sync::OnceLock::new();
    PLATFORMS
        .get_or_init(|| {
            std::thread::spawn(|| {
                let tokio = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for loading plugins");
                tokio.block_on(async {
                    let rt = runtime(test_limits(), None);
                    let mut map = std::collections::BTreeMap::new();
                    for id in ["generic", "woocommerce", "shopware6"] {
                        let plugin = load(&rt, &plugin_path(id)).await;
                        map.insert(id.to_owned(), Arc::new(plugin.platform.clone()));
                    }
                    Arc::new(map)
                })
            })
            .join()
            .expect("the bundled plugins load")
        })
        .clone()
}
