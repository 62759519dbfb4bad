//! `cargo xtask lint`: the project's pinned cfn-lint and checkov (both in `.venv`) over the
//! rendered stacks. Any cfn-lint error or warning fails, and so does any failed checkov check; a
//! check the stack fails on purpose is skipped in the resource's `Metadata`, with its reason.

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
        lint_templates(&templates)
    }
}

/// Runs every linter over `templates`, all of them even when one fails, and says what each
/// found. `Failed` when any linter found something.
pub fn lint_templates(templates: &[PathBuf]) -> anyhow::Result<Outcome> {
    for linter in Linter::ALL {
        let program = tools::venv_bin(linter.program());
        if !program.exists() {
            anyhow::bail!(
                "{} is not installed: run `cargo xtask setup`",
                paths::shown(&program)
            );
        }
    }
    let shown: Vec<String> = templates.iter().map(|path| paths::shown(path)).collect();
    let mut outcome = Outcome::Success;
    for linter in Linter::ALL {
        let status = linter
            .command(templates)
            .status()
            .with_context(|| format!("starting {}", linter.program()))?;
        if status.success() {
            println!(
                "{}: {} in {}",
                linter.program(),
                linter.clean(),
                shown.join(", ")
            );
        } else {
            eprintln!(
                "{} found {} ({status}) in {}",
                linter.program(),
                linter.findings(),
                shown.join(", ")
            );
            outcome = Outcome::Failed;
        }
    }
    Ok(outcome)
}

/// The linters `lint` runs, in order.
#[derive(Clone, Copy)]
enum Linter {
    CfnLint,
    Checkov,
}

impl Linter {
    const ALL: [Linter; 2] = [Linter::CfnLint, Linter::Checkov];

    /// Its program in `.venv/bin`.
    fn program(self) -> &'static str {
        match self {
            Linter::CfnLint => "cfn-lint",
            Linter::Checkov => "checkov",
        }
    }

    fn clean(self) -> &'static str {
        match self {
            Linter::CfnLint => "no errors or warnings",
            Linter::Checkov => "no failed checks",
        }
    }

    fn findings(self) -> &'static str {
        match self {
            Linter::CfnLint => "errors or warnings",
            Linter::Checkov => "failed checks",
        }
    }

    fn command(self, templates: &[PathBuf]) -> Command {
        let mut command = Command::new(tools::venv_bin(self.program()));
        match self {
            Linter::CfnLint => {
                // Warnings fail like errors; informational findings are printed but exit 0.
                command.args(["--non-zero-exit-code", "warning", "--"]);
            }
            Linter::Checkov => {
                // Offline and on its own: no platform key, no download of policy metadata or
                // mappings, no look for a newer version on PyPI, only the CloudFormation checks.
                // A template it cannot parse fails instead of being passed over.
                command
                    .env_remove("BC_API_KEY")
                    .env_remove("PRISMA_API_URL")
                    .env("BC_SKIP_MAPPING", "TRUE")
                    .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
                    .env("CKV_PARSE_ERROR_FAIL", "true")
                    .args([
                        "--framework",
                        "cloudformation",
                        "--skip-download",
                        "--skip-results-upload",
                        "--compact",
                        "--quiet",
                        "--file",
                    ]);
            }
        }
        command.args(templates);
        command
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
