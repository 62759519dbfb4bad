//! Where things are: the checkout a command runs in (found at run time, never baked in at compile
//! time), its folders, and the check that this binary was built from that checkout.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;

/// The checkout cargo ran in when it compiled this binary: `GSG_CHECKOUT_DIR`, set to that
/// checkout's own path by `[env]` in `.cargo/config.toml`. Reading it is what makes a target
/// directory shared between checkouts safe: rustc lists the variable among this crate's inputs,
/// so cargo compiles xtask again when it was last compiled for another checkout (cargo judges a
/// workspace crate by file times, never by where its sources are). `None` when compiled without
/// that configuration (cargo run from outside the checkout).
const COMPILED_FOR: Option<&str> = option_env!("GSG_CHECKOUT_DIR");

/// The checkout this binary's sources were compiled from, and with them the templates that
/// `render` compiles in (`include_str!`).
fn compiled_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// The repository root: the checkout the command runs in (see [`running_in`]); outside any
/// checkout, the one this binary was built from.
pub fn root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| running_in().unwrap_or_else(compiled_from))
        .clone()
}

/// The checkout the command runs in: the workspace holding `xtask/Cargo.toml` at or above
/// `CARGO_MANIFEST_DIR` as cargo sets it when it runs the command (`cargo xtask`, `cargo test`),
/// else at or above the current directory.
fn running_in() -> Option<PathBuf> {
    let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let current = std::env::current_dir().ok();
    from_cargo
        .into_iter()
        .chain(current)
        .find_map(|start| checkout_at_or_above(&start))
}

fn checkout_at_or_above(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file() && dir.join("xtask/Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// This binary belongs to another checkout than the one it runs in.
#[derive(Debug, thiserror::Error)]
#[error(
    "this xtask binary ({binary}) was built from the checkout at {built}, but runs in {here}: \
     it would act on the other checkout's files, with its templates. Nothing was done.\n\
     hint: the two checkouts share a cargo target directory. Run the command as `cargo xtask …` \
     from {here}, which builds xtask for this checkout; to keep the checkouts apart, give each \
     its own CARGO_TARGET_DIR"
)]
pub struct ForeignBinary {
    binary: String,
    built: String,
    here: String,
}

/// Refuses a binary built from another checkout than the one the command runs in. Cargo builds
/// xtask again for each checkout (`COMPILED_FOR`); this catches what gets past that, such as
/// `target/debug/xtask` run directly after another checkout relinked it.
pub fn ensure_built_here() -> Result<(), ForeignBinary> {
    let here = root();
    let built = [Some(compiled_from()), COMPILED_FOR.map(PathBuf::from)];
    match built_elsewhere(built.iter().flatten(), &here) {
        None => Ok(()),
        Some(built) => Err(ForeignBinary {
            binary: std::env::current_exe()
                .map(|exe| exe.display().to_string())
                .unwrap_or_else(|_| "xtask".into()),
            built: built.display().to_string(),
            here: here.display().to_string(),
        }),
    }
}

/// The first of the checkouts a binary was built from that is not `here`.
fn built_elsewhere<'a>(
    built: impl IntoIterator<Item = &'a PathBuf>,
    here: &Path,
) -> Option<&'a PathBuf> {
    built.into_iter().find(|dir| !same_dir(dir, here))
}

/// The same directory, whatever symbolic links or `.` lead to it. A directory that no longer
/// exists (a deleted checkout) is compared as written.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `policies/` at the root.
pub fn policies_dir() -> PathBuf {
    root().join("policies")
}

/// `policies/rendered/`, where the committed renders live.
pub(crate) fn rendered_dir() -> PathBuf {
    policies_dir().join("rendered")
}

/// The cargo target directory this workspace builds into.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

/// Every policy file in `policies/` (`*.yaml` directly inside it, not tests or rendered output),
/// sorted by name.
pub(crate) fn default_policies() -> anyhow::Result<Vec<PathBuf>> {
    policies_in(&policies_dir())
}

/// The policy files directly inside `dir` (`*.yaml`, not `*.tests.yaml`), sorted by name.
fn policies_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", shown(dir)))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_file() && name.ends_with(".yaml") && !name.ends_with(".tests.yaml") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// A path as printed in messages: relative to the current directory when below it.
pub fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads and validates one policy file; errors carry `file:line:col: field: reason` lines.
/// Warnings (a worker type the catalogue lacks, …) go to standard error as `warning: …` lines.
pub fn load_policy(path: &Path) -> anyhow::Result<policy::Policy> {
    let bytes = std::fs::read(path)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {}", shown(path), io_reason(&error)))?;
    let loaded = policy::load_policy_with_warnings(&shown(path), &bytes)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(loaded.policy)
}

/// The policy files that arguments name: each file as given, each folder's policy files (as in
/// [`default_policies`]), or every policy in `policies/` when there are no arguments.
pub(crate) fn policy_files(arguments: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if arguments.is_empty() {
        return default_policies();
    }
    let mut files = Vec::new();
    for argument in arguments {
        if argument.is_dir() {
            let found = policies_in(argument)?;
            if found.is_empty() {
                anyhow::bail!("{} holds no policy file (*.yaml)", shown(argument));
            }
            files.extend(found);
        } else if argument.is_file() {
            files.push(argument.clone());
        } else {
            anyhow::bail!("{}: no such file or folder", shown(argument));
        }
    }
    Ok(files)
}

/// An I/O error's reason in words, without the OS error number (`no such file`, `permission
/// denied`).
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a folder".to_string(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch folder removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("gsg-paths-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// A directory that looks like a checkout: `Cargo.toml` and `xtask/Cargo.toml`.
        fn checkout(&self, name: &str) -> PathBuf {
            let dir = self.0.join(name);
            std::fs::create_dir_all(dir.join("xtask/src")).unwrap();
            std::fs::write(dir.join("Cargo.toml"), "[workspace]\n").unwrap();
            std::fs::write(dir.join("xtask/Cargo.toml"), "[package]\n").unwrap();
            dir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_checkout_is_found_from_any_folder_inside_it() {
        let scratch = Scratch::new("inside");
        let checkout = scratch.checkout("a");
        assert_eq!(checkout_at_or_above(&checkout), Some(checkout.clone()));
        assert_eq!(
            checkout_at_or_above(&checkout.join("xtask/src")),
            Some(checkout.clone())
        );
        assert_eq!(checkout_at_or_above(&scratch.0), None);
    }

    #[test]
    fn the_checkout_running_this_test_is_the_one_it_was_built_from() {
        // `cargo test` sets CARGO_MANIFEST_DIR at run time, as `cargo xtask` does.
        assert!(same_dir(&root(), &compiled_from()));
        ensure_built_here().unwrap();
    }

    #[test]
    fn a_binary_built_from_another_checkout_is_told_apart() {
        let scratch = Scratch::new("apart");
        let (a, b) = (scratch.checkout("a"), scratch.checkout("b"));
        assert_eq!(built_elsewhere([&a], &a), None);
        // The same checkout through `.` or a symbolic link is still the same checkout.
        let link = scratch.0.join("link-to-a");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert_eq!(built_elsewhere([&a.join("."), &link], &a), None);
        assert_eq!(built_elsewhere([&a, &b], &a), Some(&b));
        // A checkout deleted since the build is another checkout.
        let gone = scratch.0.join("gone");
        assert_eq!(built_elsewhere([&gone], &a), Some(&gone));
    }

    #[test]
    fn the_refusal_says_which_checkouts_and_what_to_do() {
        let message = ForeignBinary {
            binary: "/cache/target/debug/xtask".into(),
            built: "/tmp/b".into(),
            here: "/tmp/a".into(),
        }
        .to_string();
        assert!(
            message.contains("built from the checkout at /tmp/b, but runs in /tmp/a"),
            "{message}"
        );
        assert!(message.contains("Nothing was done"), "{message}");
        assert!(
            message.contains("Run the command as `cargo xtask …` from /tmp/a"),
            "{message}"
        );
    }
}
