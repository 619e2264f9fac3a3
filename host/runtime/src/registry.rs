//! Every plugin in a plugins directory: compiled (or taken from the cache),
//! linked, asked to `describe` itself, validated, and kept by platform id.
//!
//! A broken file is refused with a reason and never stops the others. When a
//! file changes while the host runs it is loaded again; if the new version
//! is refused, the version loaded before keeps serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, mpsc};

use super::call::{CallError, Callee};
use super::runtime::{CodeSource, Prepared, Runtime};
use statusport_core::domain::platform::{self, Platform};

/// Largest plugin file the host reads.
const MAX_PLUGIN_BYTES: u64 = 64 * 1024 * 1024;
/// Quiet time after a change in the directory before it is scanned again.
const SETTLE: Duration = Duration::from_millis(300);

/// A plugin ready to be called.
pub struct LoadedPlugin {
    pub platform: Platform,
    pub file: PathBuf,
    pub sha256: String,
    /// The contract version the plugin implements.
    pub contract: semver::Version,
    pub source: CodeSource,
    label: String,
    prepared: Prepared,
}

impl LoadedPlugin {
    /// `woocommerce 1.0.0`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the plugin takes orders and status changes in (1.1).
    pub fn has_intake(&self) -> bool {
        self.prepared.intake.is_some()
    }

    pub fn callee(&self) -> Callee<'_> {
        Callee {
            label: &self.label,
            pre: &self.prepared.adapter,
            intake: self.prepared.intake.as_ref(),
            declared_hosts: &self.platform.extra_hosts,
            config: &self.platform.config,
        }
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("label", &self.label)
            .field("file", &self.file)
            .field("contract", &self.contract)
            .finish()
    }
}

/// A file the registry did not load, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub file: PathBuf,
    pub reason: String,
    /// The earlier version of this file that keeps serving, if any.
    pub still_serving: Option<String>,
}

/// Loads one plugin file: compile or take from the cache, link, describe,
/// validate. The error is a sentence naming the file and the way out.
pub async fn load_file(runtime: &Arc<Runtime>, path: &Path) -> Result<LoadedPlugin, String> {
    let shown = path.display().to_string();
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("{shown}: cannot be read: {e}"))?
        .len();
    if size > MAX_PLUGIN_BYTES {
        return Err(format!(
            "{shown}: is {size} bytes; plugins may be at most {MAX_PLUGIN_BYTES}"
        ));
    }
    let wasm = tokio::fs::read(path)
        .await
        .map_err(|e| format!("{shown}: cannot be read: {e}"))?;
    let compiling = runtime.clone();
    let compiled = tokio::task::spawn_blocking(move || compiling.compile(&wasm))
        .await
        .map_err(|e| format!("{shown}: compilation stopped: {e}"))?
        .map_err(|e| format!("{shown}: {e}"))?;
    let prepared = runtime
        .prepare(&compiled.component)
        .map_err(|e| format!("{shown}: {e}"))?;
    let file_label = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let callee = Callee {
        label: &file_label,
        pre: &prepared.adapter,
        intake: prepared.intake.as_ref(),
        declared_hosts: &[],
        config: &[],
    };
    let report = runtime.describe(&callee).await;
    let raw = report.result.map_err(|e| match e {
        CallError::Trap { message, .. } => format!("{shown}: describe failed: {message}"),
        other => format!("{shown}: describe failed: {other}"),
    })?;
    let platform = platform::validate(raw).map_err(|e| format!("{shown}: {e}"))?;
    Ok(LoadedPlugin {
        label: format!("{} {}", platform.id, platform.version),
        platform,
        file: path.to_owned(),
        sha256: compiled.sha256,
        contract: compiled.contract,
        source: compiled.source,
        prepared,
    })
}

struct FileState {
    sha256: String,
    loaded: Result<Arc<LoadedPlugin>, String>,
}

#[derive(Default)]
struct Snapshot {
    files: BTreeMap<PathBuf, FileState>,
    by_id: BTreeMap<String, Arc<LoadedPlugin>>,
    refused: Vec<Refusal>,
}

/// What a scan of the directory changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReloadSummary {
    /// `id version` of each plugin loaded or replaced by this scan.
    pub loaded: Vec<String>,
    /// Ids no longer served because their file is gone.
    pub removed: Vec<String>,
    pub refused: Vec<Refusal>,
}

/// The plugins of one directory.
pub struct Registry {
    runtime: Arc<Runtime>,
    dir: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    scanning: Mutex<()>,
}

impl Registry {
    /// Loads every `.wasm` in `dir`. A missing directory is an error; a
    /// broken plugin is not (see [`Registry::refusals`]).
    pub async fn open(runtime: Arc<Runtime>, dir: &Path) -> Result<Arc<Registry>, String> {
        if !dir.is_dir() {
            return Err(format!(
                "plugin directory {} does not exist: create it or point the host at the directory holding the .wasm files",
                dir.display()
            ));
        }
        let registry = Arc::new(Registry {
            runtime,
            dir: dir.to_owned(),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            scanning: Mutex::new(()),
        });
        registry.reload().await;
        Ok(registry)
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The plugin serving platform `id`.
    pub fn get(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        self.current().by_id.get(id).cloned()
    }

    /// Every plugin served, by id.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        self.current().by_id.values().cloned().collect()
    }

    /// The files the last scan refused.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.current().refused.clone()
    }

    /// Scans the directory again: loads new and changed files, drops
    /// plugins whose file is gone. Unchanged files are not touched.
    pub async fn reload(&self) -> ReloadSummary {
        let _one_scan_at_a_time = self.scanning.lock().await;
        let before = self.current();
        let mut paths = Vec::new();
        let mut summary = ReloadSummary::default();
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
                        paths.push(path);
                    }
                }
            }
            Err(e) => {
                tracing::error!(dir = %self.dir.display(), "plugin directory unreadable: {e}");
                return summary;
            }
        }
        paths.sort();

        let mut files = BTreeMap::new();
        for path in paths {
            let sha256 = match std::fs::read(&path) {
                Ok(bytes) => {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(&bytes))
                }
                Err(e) => {
                    files.insert(
                        path.clone(),
                        FileState {
                            sha256: String::new(),
                            loaded: Err(format!("{}: cannot be read: {e}", path.display())),
                        },
                    );
                    continue;
                }
            };
            if let Some(old) = before.files.get(&path).filter(|old| old.sha256 == sha256) {
                files.insert(
                    path,
                    FileState {
                        sha256,
                        loaded: old.loaded.clone(),
                    },
                );
                continue;
            }
            let loaded = load_file(&self.runtime, &path).await.map(Arc::new);
            match &loaded {
                Ok(p) => {
                    tracing::info!(plugin = %p.label(), file = %path.display(), source = ?p.source, "plugin loaded");
                    summary.loaded.push(p.label().to_owned());
                }
                Err(reason) => tracing::warn!("plugin refused: {reason}"),
            }
            files.insert(path, FileState { sha256, loaded });
        }

        let mut by_id: BTreeMap<String, Arc<LoadedPlugin>> = BTreeMap::new();
        let mut refused = Vec::new();
        for (path, state) in &files {
            match &state.loaded {
                Ok(plugin) => {
                    if let Some(holder) = by_id.get(&plugin.platform.id) {
                        refused.push(Refusal {
                            file: path.clone(),
                            reason: format!(
                                "{}: plugin id \"{}\" is already provided by {}; remove one of the two files",
                                path.display(),
                                plugin.platform.id,
                                holder.file.display()
                            ),
                            still_serving: None,
                        });
                    } else {
                        by_id.insert(plugin.platform.id.clone(), plugin.clone());
                    }
                }
                Err(reason) => {
                    // A broken new version of a file leaves its last good
                    // version serving, unless another file took the id.
                    let previous = before
                        .by_id
                        .values()
                        .find(|p| &p.file == path)
                        .filter(|p| !by_id.contains_key(&p.platform.id))
                        .cloned();
                    if let Some(p) = &previous {
                        by_id.insert(p.platform.id.clone(), p.clone());
                    }
                    refused.push(Refusal {
                        file: path.clone(),
                        reason: reason.clone(),
                        still_serving: previous.map(|p| p.label().to_owned()),
                    });
                }
            }
        }
        for id in before.by_id.keys() {
            if !by_id.contains_key(id) {
                tracing::info!(plugin = %id, "plugin removed");
                summary.removed.push(id.clone());
            }
        }
        summary.refused = refused.clone();
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Snapshot {
            files,
            by_id,
            refused,
        });
        summary
    }

    /// Watches the directory and scans it again after every change, until
    /// the returned handle is dropped.
    pub fn watch(self: &Arc<Self>) -> Result<Watch, String> {
        use notify::Watcher;
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok() {
                    // A full channel already holds a pending rescan.
                    let _ = tx.try_send(());
                }
            })
            .map_err(|e| format!("cannot watch the plugin directory: {e}"))?;
        watcher
            .watch(&self.dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", self.dir.display()))?;
        let registry = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                // Let a copy finish before reading the file.
                loop {
                    match tokio::time::timeout(SETTLE, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                let summary = registry.reload().await;
                if summary != ReloadSummary::default() {
                    tracing::info!(?summary, "plugin directory changed");
                }
            }
        });
        Ok(Watch {
            _watcher: watcher,
            task,
        })
    }
}

/// Keeps a directory watch alive.
pub struct Watch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl statusport_core::ports::Platforms for Registry {
    fn platform(&self, plugin: &str) -> Option<Arc<Platform>> {
        self.get(plugin).map(|p| Arc::new(p.platform.clone()))
    }
    fn known(&self) -> Vec<String> {
        self.plugins()
            .iter()
            .map(|p| p.platform.id.clone())
            .collect()
    }
    fn has_intake(&self, plugin: &str) -> bool {
        self.get(plugin).is_some_and(|p| p.has_intake())
    }
}
