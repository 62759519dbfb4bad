//! `cargo xtask lint`: the project's pinned cfn-lint and checkov (both in `.venv`) over the
//! rendered stacks. Any cfn-lint error or warning fails, and so does any failed checkov check; a
//! check the stack fails on purpose is skipped in the resource's `Metadata`, with its reason.

use std::path::PathBuf;

use anyhow::Context;

use crate::tools::lint_templates;
use crate::{Exit, paths, template};

#[derive(clap::Args)]
pub struct LintCommand {
    /// Templates to lint (default: every template in policies/rendered/, which must be current:
    /// a stale render is refused, so that the findings are about the policies in the tree).
    templates: Vec<PathBuf>,
}

impl LintCommand {
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

/// "No findings" must be about the policies as they are: `Some(Failed)` (having said why) when a
/// committed render is stale or missing.
fn refuse_stale(
    policies: &[PathBuf],
    rendered_dir: &std::path::Path,
) -> anyhow::Result<Option<Exit>> {
    match template::check_all(policies, rendered_dir)? {
        Exit::Success => Ok(None),
        Exit::Failed | Exit::Forwarded(_) => {
            eprintln!("not linting stale renders: run `cargo xtask render --write-all`, then lint");
            Ok(Some(Exit::Failed))
        }
    }
}

/// `policies/rendered/*.yaml`, sorted.
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
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let rendered = dir.join("rendered");
        std::fs::create_dir_all(&rendered).unwrap();
        let policy = dir.join("p.yaml");
        std::fs::copy(paths::policies_dir().join("default.yaml"), &policy).unwrap();
        let current = template::render_stack(&paths::load_policy(&policy).unwrap()).unwrap();
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
    }
}
