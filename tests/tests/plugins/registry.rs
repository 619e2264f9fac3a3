//! The registry: a directory of plugins, the compiled-code cache, refusals
//! and hot reload.

use std::path::Path;
use std::time::Duration;

use statusport_runtime::Registry;
use statusport_runtime::runtime::CodeSource;
use statusport_tests::{fault_path, plugin_path, runtime, test_limits};

fn copy(from: &Path, dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{name}.part"));
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

fn ids(registry: &Registry) -> Vec<String> {
    registry
        .plugins()
        .iter()
        .map(|p| p.platform.id.clone())
        .collect()
}

#[tokio::test]
async fn a_second_start_reuses_compiled_code() {
    let cache = tempfile::tempdir().unwrap();
    let dir = plugin_path("generic").parent().unwrap().to_owned();
    let first = Registry::open(runtime(test_limits(), Some(cache.path().into())), &dir)
        .await
        .unwrap();
    assert_eq!(
        ids(&first),
        [
            "adobe-commerce",
            "allegro",
            "amazon",
            "bigcommerce",
            "ebay",
            "etsy",
            "generic",
            "shopware6",
            "woocommerce"
        ]
    );
    assert!(
        first
            .plugins()
            .iter()
            .all(|p| p.source == CodeSource::Compiled)
    );
    let cached = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(cached, first.plugins().len());

    // A new engine, as after a restart, on the same cache.
    let second = Registry::open(runtime(test_limits(), Some(cache.path().into())), &dir)
        .await
        .unwrap();
    assert!(
        second
            .plugins()
            .iter()
            .all(|p| p.source == CodeSource::Cache)
    );
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), cached);
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_compiled_again() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy(&plugin_path("generic"), dir.path(), "generic.wasm");
    Registry::open(
        runtime(test_limits(), Some(cache.path().into())),
        dir.path(),
    )
    .await
    .unwrap();
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let again = Registry::open(
        runtime(test_limits(), Some(cache.path().into())),
        dir.path(),
    )
    .await
    .unwrap();
    assert_eq!(again.plugins()[0].source, CodeSource::Compiled);
}

#[tokio::test]
async fn broken_files_are_refused_without_stopping_the_others() {
    let dir = tempfile::tempdir().unwrap();
    copy(&plugin_path("generic"), dir.path(), "generic.wasm");
    copy(&fault_path("malformed"), dir.path(), "malformed.wasm");
    std::fs::write(dir.path().join("junk.wasm"), b"not a component").unwrap();
    // An empty core module: the header of what a wasm32-unknown-unknown build writes.
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("README.txt"), b"ignored").unwrap();
    let registry = Registry::open(runtime(test_limits(), None), dir.path())
        .await
        .unwrap();
    assert_eq!(ids(&registry), ["generic"]);
    let refused = registry.refusals();
    assert_eq!(refused.len(), 3);
    let reason = |file: &str| {
        let prefix = format!("{}: ", dir.path().join(file).display());
        let refusal = refused
            .iter()
            .find(|r| r.reason.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{file} is refused: {refused:?}"));
        refusal.reason[prefix.len()..].to_owned()
    };
    assert_eq!(
        reason("junk.wasm"),
        "is not WebAssembly (a component starts with the bytes \\0asm, this file with \"not \"): \
         give the .wasm file that `cargo build --target wasm32-wasip2` writes"
    );
    assert!(
        reason("core.wasm").starts_with("is a core WebAssembly module, not a component"),
        "{}",
        reason("core.wasm")
    );
    assert!(
        reason("malformed.wasm").contains("describe is invalid"),
        "{}",
        reason("malformed.wasm")
    );
}

#[tokio::test]
async fn a_second_file_with_the_same_id_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    copy(&plugin_path("generic"), dir.path(), "a-generic.wasm");
    copy(&plugin_path("generic"), dir.path(), "b-generic.wasm");
    let registry = Registry::open(runtime(test_limits(), None), dir.path())
        .await
        .unwrap();
    assert_eq!(ids(&registry), ["generic"]);
    assert_eq!(
        registry.refusals()[0].reason,
        format!(
            "{}: plugin id \"generic\" is already provided by {}; remove one of the two files",
            dir.path().join("b-generic.wasm").display(),
            dir.path().join("a-generic.wasm").display()
        )
    );
}

#[tokio::test]
async fn a_missing_directory_is_an_error_saying_what_to_do() {
    let err = Registry::open(
        runtime(test_limits(), None),
        Path::new("/nonexistent/plugins"),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err,
        "plugin directory /nonexistent/plugins does not exist: create it or point the host at the directory holding the .wasm files"
    );
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_added_replaced_and_removed_while_the_host_runs() {
    let dir = tempfile::tempdir().unwrap();
    copy(&plugin_path("generic"), dir.path(), "generic.wasm");
    let registry = Registry::open(runtime(test_limits(), None), dir.path())
        .await
        .unwrap();
    let _watch = registry.watch().unwrap();
    assert_eq!(ids(&registry), ["generic"]);

    copy(&plugin_path("woocommerce"), dir.path(), "woocommerce.wasm");
    eventually("woocommerce is loaded", || {
        registry.get("woocommerce").is_some()
    })
    .await;

    // A broken replacement is refused; the version loaded before keeps serving.
    copy(&fault_path("malformed"), dir.path(), "woocommerce.wasm");
    eventually("the replacement is refused", || {
        !registry.refusals().is_empty()
    })
    .await;
    let refusal = &registry.refusals()[0];
    assert_eq!(refusal.still_serving.as_deref(), Some("woocommerce 1.1.0"));
    assert!(registry.get("woocommerce").is_some());

    // A good replacement takes over: another plugin under the same file name.
    copy(&plugin_path("shopware6"), dir.path(), "woocommerce.wasm");
    eventually("the replacement is served", || {
        registry.get("shopware6").is_some()
    })
    .await;
    assert!(registry.get("woocommerce").is_none());
    assert!(registry.refusals().is_empty());

    std::fs::remove_file(dir.path().join("woocommerce.wasm")).unwrap();
    eventually("the removed plugin is gone", || {
        registry.get("shopware6").is_none()
    })
    .await;
    assert_eq!(ids(&registry), ["generic"]);
}

#[tokio::test]
async fn reload_reports_what_changed_and_leaves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    copy(&plugin_path("generic"), dir.path(), "generic.wasm");
    let registry = Registry::open(runtime(test_limits(), None), dir.path())
        .await
        .unwrap();
    let before = registry.get("generic").unwrap();
    copy(&plugin_path("woocommerce"), dir.path(), "woocommerce.wasm");
    let summary = registry.reload().await;
    assert_eq!(summary.loaded, ["woocommerce 1.1.0"]);
    assert!(summary.removed.is_empty());
    // The unchanged plugin is the same loaded instance.
    assert!(std::sync::Arc::ptr_eq(
        &before,
        &registry.get("generic").unwrap()
    ));
}
