//! `cargo xtask validate`: check policy files and print every error as `file:line:col: field: reason`
//! (and every warning, such as a worker type this build's catalogue does not know yet, or an
//! exception that has expired or expires within 14 days, by this machine's clock).

use std::path::PathBuf;

use crate::{Exit, paths};

#[derive(clap::Args)]
pub struct ValidateCommand {
    /// Policy files, or folders of them, to check (default: every policy in policies/).
    policies: Vec<PathBuf>,
    /// A policy file, as the other commands take it (the same as naming it without the flag);
    /// repeatable.
    #[arg(long = "policy", value_name = "FILE")]
    policy_flags: Vec<PathBuf>,
}

impl ValidateCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let named: Vec<PathBuf> = self.policies.into_iter().chain(self.policy_flags).collect();
        let files = paths::policy_files(&named)?;
        let mut failed = 0;
        let mut unreadable = Vec::new();
        for file in &files {
            let shown = paths::shown(file);
            let bytes = match std::fs::read(file) {
                Ok(bytes) => bytes,
                Err(error) => {
                    eprintln!("error: {shown}: cannot read: {}", paths::io_reason(&error));
                    unreadable.push(shown);
                    continue;
                }
            };
            match policy::load_policy_with_warnings(&shown, &bytes) {
                Ok(loaded) => {
                    let expiring = policy::validate::expiry_warnings(
                        &shown,
                        &bytes,
                        &loaded.policy,
                        crate::history::time::now(),
                    );
                    for warning in loaded.warnings.iter().chain(&expiring) {
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
        if !unreadable.is_empty() {
            // Could not run on every file: exit 2 (after checking the others).
            anyhow::bail!(
                "{} of {} policy files could not be read: {}",
                unreadable.len(),
                files.len(),
                unreadable.join(", ")
            );
        }
        if failed == 0 {
            Ok(Exit::Success)
        } else {
            eprintln!(
                "{failed} of {} policy file{} {} invalid",
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                if failed == 1 { "is" } else { "are" }
            );
            Ok(Exit::Failed)
        }
    }
}
