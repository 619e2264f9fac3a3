//! `statusport plugin new NAME`: a plugin crate to start from — the
//! `Cargo.toml` a component needs (its own workspace, the size settings),
//! `describe`, a status push, an idempotent shipment upload and intake by
//! polling against a small JSON API, native unit tests, and a script for
//! `statusport plugin test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Args, Debug)]
pub(super) struct NewArgs {
    /// The plugin's id: lower-case letters, digits and `-`, starting with a
    /// letter (`prestashop`). The crate and its folder get this name.
    name: String,
    /// The folder to create the plugin's folder in.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// The platform's display name (default: the id, capitalised).
    #[arg(long)]
    title: Option<String>,
    /// The `plugins` folder of a Statusport checkout, holding `sdk` and
    /// `sdk-intake`; by default the one this binary was built from.
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.in")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.in")),
    ("script.toml", include_str!("scaffold/script.toml.in")),
    ("README.md", include_str!("scaffold/README.md.in")),
    (".gitignore", include_str!("scaffold/gitignore.in")),
];

/// Whether `name` is a valid plugin id; the reason when not.
fn check_name(name: &str) -> Result<(), String> {
    let valid = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a plugin id: use lower-case letters, digits and single dashes, starting \
             with a letter, at most 40 characters (e.g. prestashop, my-shop-2)"
        ))
    }
}

fn title_of(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The SDK folder: `--sdk`, else the checkout this binary was built from.
fn sdk_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir.to_owned(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins"),
    };
    let found = ["sdk", "sdk-intake"]
        .iter()
        .all(|d| dir.join(d).join("Cargo.toml").is_file());
    if !found {
        bail!(
            "{} holds no sdk/ and sdk-intake/: pass --sdk with the `plugins` folder of a Statusport checkout",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// A path as a TOML string.
fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

pub(super) fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    check_name(&args.name).map_err(anyhow::Error::msg)?;
    let sdk = sdk_dir(args.sdk.as_deref())?;
    let root = args.dir.join(&args.name);
    if root.exists()
        && std::fs::read_dir(&root)
            .with_context(|| format!("cannot read {}", root.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty: choose another name or --dir",
            root.display()
        );
    }
    let title = args.title.clone().unwrap_or_else(|| title_of(&args.name));
    let krate = args.name.replace('-', "_");
    for (file, template) in FILES {
        let text = template
            .replace("{{id}}", &args.name)
            .replace("{{crate}}", &krate)
            .replace("{{title}}", &title.replace('"', "'"))
            .replace("{{sdk}}", &toml_string(&sdk.join("sdk")))
            .replace("{{sdk_intake}}", &toml_string(&sdk.join("sdk-intake")));
        let path = root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    out!("created {} ({title}, contract 1.1)", root.display());
    out!("\nnext:");
    out!("  cd {}", root.display());
    out!("  rustup target add wasm32-wasip2      # once");
    out!("  cargo build --release --target wasm32-wasip2");
    out!("  cargo test                           # the unit tests, natively");
    out!("  statusport plugin test target/wasm32-wasip2/release/{krate}.wasm --script script.toml");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_contracts_rule() {
        for good in ["prestashop", "my-shop-2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["PrestaShop", "2shop", "shop-", "my--shop", "my_shop", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(title_of("my-shop"), "My Shop");
    }
}
