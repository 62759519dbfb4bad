//! `cargo xtask validate`: check policy files and print every error as `file:line:col: field: reason`
//! (and every warning, such as a worker type this build's catalogue does not know yet).

use std::path::PathBuf;

use crate::{Outcome, paths};

#[derive(clap::Args)]
pub struct Validate {
    /// Policy files, or folders of them, to check (default: every policy in policies/).
    policies: Vec<PathBuf>,
}

impl Validate {
    pub fn run(self) -> anyhow::Result<Outcome> {
        let files = paths::policy_files(&self.policies)?;
        let mut failed = 0;
        for file in &files {
            let shown = paths::shown(file);
            let bytes = match std::fs::read(file) {
                Ok(bytes) => bytes,
                Err(error) => {
                    eprintln!("{shown}: cannot read: {error}");
                    failed += 1;
                    continue;
                }
            };
            match policy::load_policy_with_warnings(&shown, &bytes) {
                Ok(loaded) => {
                    for warning in &loaded.warnings {
                        eprintln!("warning: {warning}");
                    }
                    println!("ok: {shown}");
                }
                Err(errors) => {
                    failed += 1;
                    for error in &errors.0 {
                        eprintln!("{error}");
                    }
                }
            }
        }
        if failed == 0 {
            Ok(Outcome::Success)
        } else {
            eprintln!("{failed} of {} policy files are invalid", files.len());
            Ok(Outcome::Failed)
        }
    }
}
