//! `cargo xtask lint`: cfn-lint (the project's pinned copy in `.venv`) over the rendered stacks;
//! any error or warning fails, informational findings are shown but pass.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::{Outcome, paths, render, tools};

#[derive(clap::Args)]
pub struct Lint {
    /// Templates to lint (default: every template in policies/rendered/).
    templates: Vec<PathBuf>,
}

impl Lint {
    pub fn run(self) -> anyhow::Result<Outcome> {
        let cfn_lint = tools::venv_bin("cfn-lint");
        if !cfn_lint.exists() {
            anyhow::bail!(
                "{} is not installed: run `cargo xtask setup`",
                paths::shown(&cfn_lint)
            );
        }
        let templates = if self.templates.is_empty() {
            rendered_templates()?
        } else {
            self.templates
        };
        if templates.is_empty() {
            eprintln!(
                "no templates in {}: run `cargo xtask render --write-all`",
                paths::shown(&render::rendered_dir())
            );
            return Ok(Outcome::Failed);
        }
        let status = Command::new(&cfn_lint)
            // Warnings fail like errors; informational findings are printed but exit 0.
            .args(["--non-zero-exit-code", "warning", "--"])
            .args(&templates)
            .status()
            .with_context(|| format!("starting {}", paths::shown(&cfn_lint)))?;
        let shown: Vec<String> = templates.iter().map(|path| paths::shown(path)).collect();
        if status.success() {
            println!("cfn-lint: no errors or warnings in {}", shown.join(", "));
            Ok(Outcome::Success)
        } else {
            eprintln!(
                "cfn-lint found errors or warnings ({status}) in {}",
                shown.join(", ")
            );
            Ok(Outcome::Failed)
        }
    }
}

/// `policies/rendered/*.yaml`, sorted.
fn rendered_templates() -> anyhow::Result<Vec<PathBuf>> {
    let dir = render::rendered_dir();
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error).with_context(|| format!("reading {}", paths::shown(&dir))),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
