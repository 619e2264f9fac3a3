//! The one wasmtime `Engine` of the process, the limits every call runs
//! under, the compiled-code cache and the linker that holds every supported
//! contract version.
//!
//! Compiled code is cached on disk, keyed by the wasm's SHA-256 and the
//! engine's compatibility hash. Only code this host compiled itself is ever
//! loaded precompiled: the cache lives under the data directory and is
//! never filled from a plugin directory.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::sandbox::CallState;
use crate::contract::{self, v1, v1_1};

/// Instructions (fuel units) a busy plugin runs between two looks at the
/// clock, whatever the epoch ticker does: a few milliseconds of work.
pub const FUEL_SLICE: u64 = 10_000_000;

/// Bytes of a plugin's linear memory kept resident between calls.
const KEEP_RESIDENT: usize = 4 * 1024 * 1024;

/// Core instances one call's component may hold. A Rust plugin has 3, a
/// JavaScript one built with componentize-js 4, a Python one built with
/// componentize-py 14 (the interpreter and its native libraries, linked
/// dynamically). The pool holds this many for every call slot: sized for
/// Rust plugins alone, it ran out with a few dozen Python calls waiting on
/// their platform, and the calls past that failed to instantiate although
/// the semaphore had let them in.
const CORE_INSTANCES_PER_CALL: u32 = 32;

/// What every plugin call may use.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory of one call.
    pub memory_bytes: usize,
    /// Wall-clock time of one call, HTTP waits included.
    pub deadline: Duration,
    /// Instructions (fuel units) of one call.
    pub fuel: u64,
    /// Calls running at once; further calls wait for a slot.
    pub concurrent_calls: u32,
    /// How often the epoch ticker stops a busy plugin to let other tasks
    /// run and to check its deadline.
    pub epoch_tick: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 * 1024 * 1024,
            deadline: Duration::from_secs(10),
            fuel: 10_000_000_000,
            concurrent_calls: 64,
            epoch_tick: Duration::from_millis(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("plugin runtime could not start: {0}")]
    Engine(String),
    #[error("compiled-code cache {path}: {message}")]
    Cache { path: PathBuf, message: String },
}

/// The engine, its linker and the call limits, shared by every plugin.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
    cache_dir: Option<PathBuf>,
    slots: Arc<Semaphore>,
}

/// How a component came to be ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeSource {
    /// Compiled now (and written to the cache, when there is one).
    Compiled,
    /// Loaded from code this host compiled earlier.
    Cache,
}

/// A compiled plugin and the contract version it implements.
pub struct Compiled {
    pub component: Component,
    pub sha256: String,
    pub contract: semver::Version,
    pub source: CodeSource,
}

impl Runtime {
    /// Builds the engine. `cache_dir` is where compiled code is kept between
    /// starts; `None` compiles every time.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Arc<Runtime>, RuntimeError> {
        let engine_error = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(true);
        // Keep names in backtraces so a trap points at the guest's function.
        config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(16));

        let slots = limits.concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::new();
        // One component per call; its core instances, memories and tables
        // fit the largest plugin in every slot.
        pool.total_component_instances(slots + 8);
        pool.total_core_instances((slots + 8) * CORE_INSTANCES_PER_CALL);
        pool.total_memories((slots + 8) * 2);
        pool.total_tables((slots + 8) * 4);
        pool.total_stacks(slots + 8);
        pool.max_memories_per_component(4);
        pool.max_tables_per_component(8);
        pool.max_core_instances_per_component(CORE_INSTANCES_PER_CALL);
        pool.max_memory_size(limits.memory_bytes);
        // A call touches a few hundred KiB. Resetting only the pages it
        // dirtied (PAGEMAP_SCAN, Linux ≥ 6.7) and keeping them resident
        // spares an madvise and the page faults of the next call; elsewhere
        // this falls back to madvise.
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.linear_memory_keep_resident(KEEP_RESIDENT);
        pool.table_keep_resident(64 * 1024);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

        let engine = Engine::new(&config).map_err(engine_error)?;
        start_epoch_ticker(&engine, limits.epoch_tick);

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_error)?;
        v1::statusport::adapter::host::add_to_linker::<CallState, HasSelf<CallState>>(
            &mut linker,
            |state| state,
        )
        .map_err(engine_error)?;

        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| RuntimeError::Cache {
                path: dir.clone(),
                message: format!("cannot create it: {e}"),
            })?;
        }
        Ok(Arc::new(Runtime {
            engine,
            linker,
            slots: Arc::new(Semaphore::new(slots as usize)),
            limits,
            cache_dir,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn linker(&self) -> &Linker<CallState> {
        &self.linker
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn slots(&self) -> &Arc<Semaphore> {
        &self.slots
    }

    /// Compiles `wasm` (or loads this host's earlier compilation of it) and
    /// reads which contract version it implements. CPU-heavy: run it off
    /// the async workers.
    pub fn compile(&self, wasm: &[u8]) -> Result<Compiled, String> {
        check_header(wasm)?;
        let sha256 = hex::encode(Sha256::digest(wasm));
        let cached = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.compatibility_key())));
        let mut source = CodeSource::Compiled;
        let mut component = None;
        if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
            // SAFETY: files in the cache directory are written only by
            // `store_compiled` below from code this engine produced, under a
            // name that includes the wasm's hash and the engine's
            // compatibility hash; wasmtime still checks the header.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(c) => {
                    component = Some(c);
                    source = CodeSource::Cache;
                }
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    "compiled-code cache entry unusable, compiling again: {e:#}"
                ),
            }
        }
        let component = match component {
            Some(c) => c,
            None => {
                let precompiled = self
                    .engine
                    .precompile_component(wasm)
                    .map_err(|e| format!("is not a valid WebAssembly component: {e:#}"))?;
                if let Some(path) = &cached
                    && let Err(e) = store_compiled(path, &precompiled)
                {
                    tracing::warn!(path = %path.display(), "compiled code not cached: {e}");
                }
                // SAFETY: `precompiled` was produced by this engine just now.
                unsafe { Component::deserialize(&self.engine, &precompiled) }
                    .map_err(|e| format!("compiled code could not be loaded: {e:#}"))?
            }
        };
        let contract = self.contract_of(&component)?;
        Ok(Compiled {
            component,
            sha256,
            contract,
            source,
        })
    }

    /// The contract version a component exports, checked against what this
    /// host supports; the error names both.
    fn contract_of(&self, component: &Component) -> Result<semver::Version, String> {
        let ty = component.component_type();
        let supported = contract::SUPPORTED.join(", ");
        let mut exports = Vec::new();
        for (name, item) in ty.exports(&self.engine) {
            exports.push(name.to_owned());
            let Some(version) = name
                .strip_prefix(contract::ADAPTER_EXPORT)
                .and_then(|rest| rest.strip_prefix('@'))
            else {
                continue;
            };
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(format!("exports {name}, but not as an interface"));
            }
            let version = semver::Version::parse(version)
                .map_err(|e| format!("exports {name} with an invalid version ({e})"))?;
            let compatible = contract::SUPPORTED.iter().any(|s| {
                let s = semver::Version::parse(s).expect("supported versions are semver");
                s.major == version.major && version <= s
            });
            if !compatible {
                return Err(format!(
                    "implements contract statusport:adapter@{version}; this host supports {supported} \
                     (a plugin built for a newer minor version needs a newer host)"
                ));
            }
            return Ok(version);
        }
        Err(format!(
            "does not export {}@1.x; it exports: {}. Build it against the WIT in wit/v1 or wit/v1.1 (contract versions this host supports: {supported})",
            contract::ADAPTER_EXPORT,
            if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            }
        ))
    }

    /// Checks a component's imports against the linker and pre-instantiates
    /// it. An import the host lacks is named, with what the host offers.
    pub fn prepare(&self, component: &Component) -> Result<Prepared, String> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            let imports: Vec<String> = component
                .component_type()
                .imports(&self.engine)
                .map(|(name, _)| name.to_owned())
                .filter(|name| !name.starts_with("wasi:"))
                .collect();
            format!(
                "cannot be linked: {e:#}. The host provides WASI 0.2 (cli, clocks, io, random, http \
                 outgoing-handler; no files or sockets) and statusport:adapter/host@1.x; the plugin's \
                 non-WASI imports are: {}",
                if imports.is_empty() { "none".to_owned() } else { imports.join(", ") }
            )
        })?;
        // A plugin that exports intake (1.1) must export it whole; one
        // that does not simply has no intake.
        let exports_intake = component
            .component_type()
            .exports(&self.engine)
            .any(|(name, _)| name.starts_with(contract::INTAKE_EXPORT));
        let intake = if exports_intake {
            Some(
                v1_1::intake::GuestIndices::new(&pre)
                    .map_err(|e| format!("does not fit the intake-adapter world: {e:#}"))?,
            )
        } else {
            None
        };
        let adapter = v1::PlatformAdapterPre::new(pre)
            .map_err(|e| format!("does not fit the platform-adapter world: {e:#}"))?;
        Ok(Prepared { adapter, intake })
    }

    fn compatibility_key(&self) -> String {
        let mut hasher = Sha256Hasher(Sha256::new());
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hex::encode(&hasher.0.finalize()[..12])
    }
}

/// A component linked and pre-instantiated: its adapter, and its intake
/// when it exports one (contract 1.1).
pub struct Prepared {
    pub adapter: v1::PlatformAdapterPre<CallState>,
    pub intake: Option<v1_1::intake::GuestIndices>,
}

fn store_compiled(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Write beside, then rename: a crash never leaves half a file under the
    // final name.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("a digest has 32 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Advances the engine's epoch every `tick` until the engine is dropped, on
/// an OS thread of its own so that busy async workers cannot hold it up. A
/// machine under load may still wake it late; the deadline does not rest on
/// it alone (see `call.rs`).
fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("statusport-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        })
        .expect("the epoch thread starts");
}

/// Refuses, before compiling, a file that is not a component, saying what it
/// is instead: the parser's own message is a dump of the header bytes.
fn check_header(wasm: &[u8]) -> Result<(), String> {
    if wasmparser::Parser::is_component(wasm) {
        Ok(())
    } else if wasmparser::Parser::is_core_wasm(wasm) {
        Err(
            "is a core WebAssembly module, not a component: build the plugin with \
             `cargo build --target wasm32-wasip2`, which makes a component"
                .to_owned(),
        )
    } else if wasm.starts_with(b"\0asm") {
        Err(
            "is WebAssembly of an unknown version, not a component of the \
             component model: build the plugin with `cargo build --target wasm32-wasip2`"
                .to_owned(),
        )
    } else {
        Err(format!(
            "is not WebAssembly (a component starts with the bytes \\0asm, this file with {:?}): \
             give the .wasm file that `cargo build --target wasm32-wasip2` writes",
            String::from_utf8_lossy(&wasm[..wasm.len().min(4)])
        ))
    }
}
