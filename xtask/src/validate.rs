//! `cargo xtask validate`: check policy files and print every error as `file:line:col: field: reason`.

use std::path::PathBuf;

use crate::{Outcome, paths};

#[derive(clap::Args)]
pub struct Validate {
    /// Policy files to check (default: every policy in policies/).
    policies: Vec<PathBuf>,
}

impl Validate {
    pub fn run(self) -> anyhow::Result<Outcome> {
        let files = if self.policies.is_empty() {
            paths::default_policies()?
        } else {
            self.policies
        };
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
            match policy::load_policy(&shown, &bytes) {
                Ok(_) => println!("ok: {shown}"),
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
