//! Where things are in the repository, found from this crate's manifest directory.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The repository root (the workspace holding `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// `policies/` at the root.
pub fn policies_dir() -> PathBuf {
    root().join("policies")
}

/// Every policy file in `policies/` (`*.yaml` directly inside it, not tests or rendered output),
/// sorted by name.
pub fn default_policies() -> anyhow::Result<Vec<PathBuf>> {
    let dir = policies_dir();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
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
pub fn load_policy(path: &Path) -> anyhow::Result<policy::Policy> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", shown(path)))?;
    Ok(policy::load_policy(&shown(path), &bytes)?)
}
