//! The policy a backtest compares with: another file (`--baseline`), or the policy file as it
//! was at another commit (`--baseline-rev`: `git show REV:path`, run in the repository that
//! holds the policy file).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use policy::Policy;

use crate::paths;

/// Where the baseline comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    File(PathBuf),
    /// The policy file (`--policy`) at this git revision.
    Revision(String),
}

/// The baseline policy, and its name for the report (`HEAD~1:policies/default.yaml`).
pub fn load(baseline: &Baseline, policy_file: &Path) -> anyhow::Result<(Policy, String)> {
    match baseline {
        Baseline::File(path) => {
            // A file that cannot be read is said to be the baseline's; an invalid one already
            // names its file at each `file:line:col`.
            let policy = paths::load_policy(path).map_err(|error| {
                if error.is::<policy::PolicyErrors>() {
                    error
                } else {
                    anyhow::anyhow!("--baseline: {error}")
                }
            })?;
            Ok((policy, paths::shown(path)))
        }
        Baseline::Revision(rev) => {
            let (root, path) = in_repository(policy_file)?;
            let bytes = show(&root, rev, &path)?;
            let name = format!("{rev}:{path}");
            let loaded = policy::load_policy_with_warnings(&name, &bytes)?;
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            Ok((loaded.policy, name))
        }
    }
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .context("running git (needed for --baseline-rev)")
}

/// The repository holding `policy_file`, and the file's path in it (with `/`).
fn in_repository(policy_file: &Path) -> anyhow::Result<(PathBuf, String)> {
    let file = policy_file
        .canonicalize()
        .with_context(|| format!("reading {}", paths::shown(policy_file)))?;
    let dir = file.parent().unwrap_or(Path::new("/"));
    let out = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !out.status.success() {
        bail!(
            "--baseline-rev: {} is not in a git repository",
            paths::shown(policy_file)
        );
    }
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        .canonicalize()
        .context("finding the repository root")?;
    let relative = file
        .strip_prefix(&root)
        .with_context(|| format!("{} is outside {}", file.display(), root.display()))?;
    let path = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    Ok((root, path))
}

/// `git show REV:path`, with an error that says which of the two is missing.
fn show(root: &Path, rev: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    if rev.starts_with('-') {
        bail!("--baseline-rev {rev}: a revision cannot start with `-`");
    }
    let commit = format!("{rev}^{{commit}}");
    let verify = git(root, &["rev-parse", "--verify", "--quiet", &commit])?;
    if !verify.status.success() {
        bail!(
            "--baseline-rev {rev}: no commit of that name in the repository at {}",
            root.display()
        );
    }
    let out = git(root, &["show", &format!("{rev}:{path}")])?;
    if !out.status.success() {
        bail!(
            "--baseline-rev {rev}: {path} does not exist at {rev} ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}
