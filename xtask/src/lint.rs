//! `cargo xtask lint`: the project's pinned cfn-lint and checkov (both in `.venv`) over the
//! rendered stacks. Any cfn-lint error or warning fails, and so does any failed checkov check; a
//! check the stack fails on purpose is skipped in the resource's `Metadata`, with its reason.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::{Exit, paths, render, tools};

#[derive(clap::Args)]
pub struct Lint {
    /// Templates to lint (default: every template in policies/rendered/, which must be current:
    /// a stale render is refused, so that the findings are about the policies in the tree).
    templates: Vec<PathBuf>,
}

impl Lint {
    pub fn run(self) -> anyhow::Result<Exit> {
        let templates = if self.templates.is_empty() {
            if let Some(refused) =
                refuse_stale(&paths::default_policies()?, &paths::rendered_dir())?
            {
                return Ok(refused);
            }
            rendered_templates(&paths::rendered_dir())?
        } else {
            for template in &self.templates {
                anyhow::ensure!(
                    template.is_file(),
                    "{}: no such template file",
                    paths::shown(template)
                );
            }
            self.templates
        };
        if templates.is_empty() {
            eprintln!(
                "no templates in {}: run `cargo xtask render --write-all`",
                paths::shown(&paths::rendered_dir())
            );
            return Ok(Exit::Failed);
        }
        lint_templates(&templates)
    }
}

/// Runs every linter over `templates`, all of them even when one fails, and says what each
/// found. `Failed` when any linter found something.
pub fn lint_templates(templates: &[PathBuf]) -> anyhow::Result<Exit> {
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
    let mut outcome = Exit::Success;
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
            outcome = Exit::Failed;
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
/// "No findings" must be about the policies as they are: `Some(Failed)` (having said why) when a
/// committed render is stale or missing.
fn refuse_stale(
    policies: &[PathBuf],
    rendered_dir: &std::path::Path,
) -> anyhow::Result<Option<Exit>> {
    match render::check_all(policies, rendered_dir)? {
        Exit::Success => Ok(None),
        Exit::Failed | Exit::Forwarded(_) => {
            eprintln!("not linting stale renders: run `cargo xtask render --write-all`, then lint");
            Ok(Some(Exit::Failed))
        }
    }
}

fn rendered_templates(dir: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = dir.to_path_buf();
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

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn a_stale_render_is_refused_before_any_linter_runs() {
        let dir = std::env::temp_dir().join(format!("gsg-lint-stale-{}", std::process::id()));
        let rendered = dir.join("rendered");
        std::fs::create_dir_all(&rendered).unwrap();
        let policy = dir.join("p.yaml");
        std::fs::copy(paths::policies_dir().join("default.yaml"), &policy).unwrap();
        let current = render::render_stack(&paths::load_policy(&policy).unwrap()).unwrap();
        std::fs::write(rendered.join("p.yaml"), &current).unwrap();
        assert!(
            refuse_stale(std::slice::from_ref(&policy), &rendered)
                .unwrap()
                .is_none()
        );
        std::fs::write(
            rendered.join("p.yaml"),
            current.replace("max_workers: 10", "max_workers: 99"),
        )
        .unwrap();
        assert!(matches!(
            refuse_stale(std::slice::from_ref(&policy), &rendered).unwrap(),
            Some(Exit::Failed)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
