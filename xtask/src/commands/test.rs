//! `cargo xtask test`: the project's one test command. Installs the pinned tools, starts a moto
//! server for the integration tests, runs every Rust test (policy samples included), checks that
//! the committed rendered stacks are current and lints them. (The end-to-end check of the built
//! function is a Rust test, `lambda/tests/e2e.rs`.)

use crate::tools::{self, Moto};
use crate::{Exit, paths};

#[derive(clap::Args)]
pub struct TestCommand {
    /// Extra arguments for `cargo test` (e.g. a test name filter), after `--`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

impl TestCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        tools::ensure_venv()?;
        let moto = Moto::start()?;
        eprintln!("moto server at {}", moto.endpoint);
        tools::run_checked(
            tools::cargo()
                .current_dir(paths::root())
                // Every crate: the light CLI, the AWS side (`xtask-aws`), the Lambda, the core.
                .args(["test", "--workspace", "--all-targets", "--all-features"])
                .args(&self.cargo_args)
                .env("GSG_MOTO_ENDPOINT", &moto.endpoint),
        )?;
        drop(moto);
        for step in [&["test-policies"][..], &["render", "--check"], &["lint"]] {
            eprintln!("cargo xtask {}", step.join(" "));
            tools::run_checked(
                tools::cargo()
                    .current_dir(paths::root())
                    .args([
                        "run",
                        "--quiet",
                        "--package",
                        "xtask",
                        "--bin",
                        "xtask",
                        "--",
                    ])
                    .args(step),
            )?;
        }
        Ok(Exit::Success)
    }
}
