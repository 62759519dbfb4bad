//! `cargo xtask setup`: create `.venv` with the pinned Python tools (again when the pins changed).

use crate::{Exit, paths, tools};

#[derive(clap::Args)]
pub struct SetupCommand {}

impl SetupCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        tools::ensure_venv()?;
        println!("tools ready in {}", paths::shown(&tools::venv_dir()));
        Ok(Exit::Success)
    }
}
