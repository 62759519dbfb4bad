//! `cargo xtask build`: the Lambda's deployment package (`bootstrap.zip`), built by cargo-lambda
//! (`package::build_lambda`), reused when current.

use crate::package::{Architecture, build_lambda};
use crate::{Exit, paths};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct BuildCommand {
    /// CPU architecture to build for.
    #[arg(long, value_enum, default_value_t)]
    pub arch: Architecture,
}

impl BuildCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let zip = build_lambda(self.arch)?;
        let size = std::fs::metadata(&zip)?.len();
        println!(
            "{} ({:.2} MB)",
            paths::shown(&zip),
            size as f64 / 1_048_576.0
        );
        Ok(Exit::Success)
    }
}
