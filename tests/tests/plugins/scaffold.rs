//! `statusport plugin new` makes a plugin that builds, passes its own unit
//! tests and, with `statusport plugin test`, its scripted platform; the
//! script's checks fail when the plugin (or the platform) misbehaves.

use std::path::Path;
use std::process::Command;

use statusport_tests::{root, statusport_bin};

fn run(command: &mut Command) -> (i32, String) {
    let out = command.output().expect("the command runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn cargo(dir: &Path, args: &[&str]) {
    let (code, out) = run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(args)
            .current_dir(dir)
            // One target folder for every run: the SDK's dependencies build once.
            .env("CARGO_TARGET_DIR", root().join("target").join("scaffold"))
            .env_remove("RUSTFLAGS"),
    );
    assert_eq!(code, 0, "cargo {args:?} in the new plugin failed:\n{out}");
}

fn plugin_test(wasm: &Path, script: &Path, cache: &Path, json: bool) -> (i32, String) {
    let mut command = Command::new(statusport_bin());
    if json {
        command.arg("--json");
    }
    run(command
        .args(["plugin", "test"])
        .arg(wasm)
        .arg("--script")
        .arg(script)
        .arg("--cache-dir")
        .arg(cache))
}

#[test]
fn a_new_plugin_builds_and_passes_its_scripted_platform() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run(Command::new(statusport_bin())
        .args(["plugin", "new", "scaffold-shop", "--dir"])
        .arg(dir.path())
        .arg("--sdk")
        .arg(root().join("plugins")));
    assert_eq!(code, 0, "{out}");
    let crate_dir = dir.path().join("scaffold-shop");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "script.toml",
        "README.md",
        ".gitignore",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} missing:\n{out}");
    }
    // A second time into the same folder is refused: nothing is overwritten.
    let (code, again) = run(Command::new(statusport_bin())
        .args(["plugin", "new", "scaffold-shop", "--dir"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{again}");
    assert!(again.contains("exists and is not empty"), "{again}");

    cargo(
        &crate_dir,
        &["build", "--release", "--target", "wasm32-wasip2"],
    );
    cargo(&crate_dir, &["test", "--quiet"]);
    let wasm = root().join("target/scaffold/wasm32-wasip2/release/scaffold_shop.wasm");
    let script = crate_dir.join("script.toml");
    let cache = dir.path().join("cache");

    let (code, out) = plugin_test(&wasm, &script, &cache, false);
    assert_eq!(code, 0, "{out}");
    // The 503 once was retried after the platform's Retry-After.
    assert!(out.contains("  retry 1 after 1000 ms"), "{out}");
    assert!(
        out.contains("failed (rejected): PUT http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("expected rejected: yes"), "{out}");
    assert!(
        out.contains(
            "result: passed — 4 of 4 call(s) as expected, idempotent, 0 unscripted request(s)"
        ),
        "{out}"
    );
    assert!(out.contains("x-api-key: (secret)"), "{out}");
    assert!(!out.contains("test-key"), "{out}");

    let (code, out) = plugin_test(&wasm, &script, &cache, true);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON only");
    assert_eq!(report["passed"], true);
    let push = &report["calls"][0];
    assert_eq!(push["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(push["attempts"][1]["waited_ms"], 1000);
    assert_eq!(report["calls"][1]["second_run"]["requests"], 1);

    // A platform whose shipment list never shows what was added: the second
    // upload posts the parcel again, and the test says so.
    let text = std::fs::read_to_string(&script).unwrap();
    let forgetful = text.replace(
        "after = \"POST /api/orders/1001/shipments\"",
        "after = \"POST /api/never\"",
    );
    assert_ne!(forgetful, text, "the script has the conditional route");
    let forgetful_script = dir.path().join("forgetful.toml");
    std::fs::write(&forgetful_script, forgetful).unwrap();
    let (code, out) = plugin_test(&wasm, &forgetful_script, &cache, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NOT idempotent: sent again what creates: POST /api/orders/1001/shipments"),
        "{out}"
    );
    assert!(out.contains("result: FAILED"), "{out}");

    // A request the script does not know is answered 501 and fails the run.
    let unknown = text.replace("path = \"/api/orders/1002\"", "path = \"/api/orders/9999\"");
    let unknown_script = dir.path().join("unknown.toml");
    std::fs::write(&unknown_script, unknown).unwrap();
    let (code, out) = plugin_test(&wasm, &unknown_script, &cache, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "requests the script has no route for (answered 501):\n  PUT /api/orders/1002 (run 1)"
        ),
        "{out}"
    );
}

#[test]
fn a_bad_name_or_script_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run(Command::new(statusport_bin())
        .args(["plugin", "new", "My_Shop", "--dir"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"My_Shop\" is not a plugin id"), "{out}");

    let script = dir.path().join("script.toml");
    std::fs::write(
        &script,
        "[[call]]\ncall = \"push-status\"\norder = \"1\"\nmove = \"order:a:b\"\n\n[[route]]\nmethod = \"GET\"\npath = \"/x\"\nanswer = { status = 700 }\n",
    )
    .unwrap();
    let (code, out) = plugin_test(
        &statusport_tests::plugin_path("generic"),
        &script,
        &dir.path().join("cache"),
        false,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("route 1 (GET /x): status 700 is not an HTTP status"),
        "{out}"
    );
}
