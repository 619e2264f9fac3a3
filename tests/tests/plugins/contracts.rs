//! Which contract a built plugin speaks, read from the component's own
//! imports and exports: a 1.0 plugin built with the SDK names only 1.0.0
//! interfaces of `statusport:adapter`, so that a host knowing only 1.0
//! loads it; a 1.1 plugin names 1.1.0 and exports `intake`.

use std::path::Path;

use statusport_tests::{fixture_path, plugin_path};
use wasmtime::Engine;
use wasmtime::component::Component;

const PACKAGE: &str = "statusport:adapter/";

/// The `statusport:adapter` interfaces `path` imports and exports, each
/// sorted: `["host@1.0.0", "types@1.0.0"]`.
struct AdapterInterfaces {
    imports: Vec<String>,
    exports: Vec<String>,
}

fn adapter_interfaces(path: &Path) -> AdapterInterfaces {
    // A plain engine: the question is what the component declares, not
    // what this host's linker accepts.
    let engine = Engine::default();
    let component = Component::from_file(&engine, path)
        .unwrap_or_else(|e| panic!("{} does not compile: {e:#}", path.display()));
    let ty = component.component_type();
    let ours = |name: &str| name.strip_prefix(PACKAGE).map(str::to_owned);
    let mut imports: Vec<String> = ty.imports(&engine).filter_map(|(n, _)| ours(n)).collect();
    let mut exports: Vec<String> = ty.exports(&engine).filter_map(|(n, _)| ours(n)).collect();
    imports.sort();
    exports.sort();
    AdapterInterfaces { imports, exports }
}

#[test]
fn a_1_0_plugin_built_with_the_sdk_names_only_contract_1_0() {
    let mut wrong = Vec::new();
    for path in [
        plugin_path("generic"),
        fixture_path("woocommerce-1.0"),
        fixture_path("shopware6-1.0"),
    ] {
        let found = adapter_interfaces(&path);
        let only_1_0 = found.imports.iter().all(|name| name.ends_with("@1.0.0"));
        if !only_1_0 || found.exports != ["adapter@1.0.0"] {
            wrong.push(format!(
                "{}: imports {:?}, exports {:?}",
                path.display(),
                found.imports,
                found.exports
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "1.0 plugins must import and export only {PACKAGE}…@1.0.0, or a host that knows \
         only 1.0 refuses them:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_1_1_plugins_import_contract_1_1_and_export_intake() {
    for id in ["woocommerce", "shopware6"] {
        let path = plugin_path(id);
        let found = adapter_interfaces(&path);
        assert!(
            !found.imports.is_empty() && found.imports.iter().all(|name| name.ends_with("@1.1.0")),
            "{} should import contract 1.1.0 only: {:?}",
            path.display(),
            found.imports
        );
        assert_eq!(
            found.exports,
            ["adapter@1.1.0", "intake@1.1.0"],
            "{}",
            path.display()
        );
    }
}
