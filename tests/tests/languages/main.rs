//! The example plugins in Python and JavaScript (`plugins/examples`), built
//! from `wit/v1.1` by `cargo xtask plugins`, in the host's runtime beside
//! the Rust plugins and against the fake Example Shop. Each behaviour is
//! one test per language (`python::…`, `javascript::…`).

/// Runs each named behaviour, `async fn name(language: Language)`, as one
/// test per language.
macro_rules! each_language {
    ($($name:ident),* $(,)?) => {
        mod python {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::Language::Python).await
                }
            )*
        }
        mod javascript {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::Language::JavaScript).await
                }
            )*
        }
    };
}

mod calls;
mod capacity;
mod cli;
mod intake;

use std::sync::{Arc, OnceLock};

use statusport_runtime::Runtime;
use statusport_runtime::call::CallContext;
use statusport_runtime::registry::LoadedPlugin;
use statusport_tests::fake::exampleshop::API_KEY;
use statusport_tests::{channel, example_path, load, root, runtime, test_limits};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Python,
    JavaScript,
}

impl Language {
    /// The name of its built file: `target/example-plugins/<name>-example.wasm`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
        }
    }

    /// The platform id the plugin declares.
    pub fn id(self) -> &'static str {
        match self {
            Language::Python => "example-shop-py",
            Language::JavaScript => "example-shop-js",
        }
    }
}

/// One runtime for the test process with both examples loaded: each is
/// compiled once (tens of seconds in a debug build) and kept in the shared
/// compiled-code cache of the tests.
pub struct Loaded {
    pub rt: Arc<Runtime>,
    python: LoadedPlugin,
    javascript: LoadedPlugin,
}

impl Loaded {
    pub fn plugin(&self, language: Language) -> &LoadedPlugin {
        match language {
            Language::Python => &self.python,
            Language::JavaScript => &self.javascript,
        }
    }
}

/// The compiled-code cache the test suites share. Tests that load the
/// examples in a runtime of their own call [`loaded`] first, so that a
/// first run compiles each example once, not once per test at the same
/// time.
pub fn cache_dir() -> std::path::PathBuf {
    loaded();
    root().join("target").join("test-plugin-cache")
}

pub fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        std::thread::spawn(|| {
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for loading plugins");
            tokio.block_on(async {
                let cache = root().join("target").join("test-plugin-cache");
                let rt = runtime(test_limits(), Some(cache));
                let python = load(&rt, &example_path("python")).await;
                let javascript = load(&rt, &example_path("javascript")).await;
                Loaded {
                    rt,
                    python,
                    javascript,
                }
            })
        })
        .join()
        .expect("the example plugins load")
    })
}

/// A channel on the fake shop at `url` with its API key.
pub fn shop_channel(url: &str) -> CallContext {
    channel(url, &[("api-key", API_KEY)])
}
