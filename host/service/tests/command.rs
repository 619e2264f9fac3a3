//! The `statusport` command's checks that need no running host: what an
//! operator sees from `config check` and an integrator from `plugin check`.
//!
//! Being an integration test of this crate, this file also makes
//! `cargo test --workspace` build the `statusport` binary with the same
//! features as every other test, which the end-to-end tests then run.

use std::path::Path;
use std::process::{Command, Output};

fn statusport(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_statusport"))
        .args(args)
        .current_dir(dir)
        .env_remove("STATUSPORT_LISTEN")
        .env_remove("STATUSPORT_DATA_DIR")
        .output()
        .expect("the statusport binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_check_without_a_file_prints_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = statusport(&["config", "check"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("listen = \"127.0.0.1:8080\""), "{printed}");
    assert!(
        printed.contains("data_dir = \"statusport-data\""),
        "{printed}"
    );
}

#[test]
fn config_check_names_the_bad_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statusport.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlisen = \"oops\"\n").unwrap();
    let out = statusport(
        &["config", "check", "--config", file.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("lisen") && err.contains(&file.display().to_string()),
        "{err}"
    );

    let missing = dir.path().join("missing.toml");
    let out = statusport(
        &["config", "check", "--config", missing.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn plugin_check_refuses_a_file_that_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plugin.wasm");
    std::fs::write(&file, "<html>not found</html>").unwrap();
    let out = statusport(&["plugin", "check", file.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("is not WebAssembly") && printed.contains("wasm32-wasip2"),
        "{printed}"
    );
}
