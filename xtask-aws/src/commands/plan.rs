//! `cargo xtask plan`: what a deploy would change, and what its preflight finds, in one account
//! (`account::plan`) or, with `--org`, across the organization (`org::plan`); exit 1 when deploy
//! would stop.

use std::path::PathBuf;

use xtask::aws_args::AwsArgs;
use xtask::package::Architecture;
use xtask::{Exit, output};

use crate::account::deploy::DeployOptions;
use crate::aws;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct PlanCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output format: text for a terminal, markdown for a pull-request comment, json.
    #[arg(long, value_enum, default_value_t)]
    pub format: output::Format,
    /// The policy's `organization`: the stack set's instances to create, update or remove, and
    /// the template's change.
    #[arg(long)]
    pub org: bool,
    /// With --org: the package deploy would use (its key is its content hash); without it, the
    /// function is built or reused like deploy does.
    #[arg(long, requires = "org")]
    pub zip: Option<PathBuf>,
    /// With --org: the function's CPU architecture, as for deploy.
    #[arg(long, value_enum, default_value_t, requires = "org")]
    pub arch: Architecture,
}

impl PlanCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let runtime = aws::tokio_runtime()?;
        if self.org {
            let options = DeployOptions {
                aws: self.aws.clone(),
                zip: self.zip.clone(),
                arch: self.arch,
                ..DeployOptions::default()
            };
            let plan = runtime.block_on(crate::org::plan(&options))?;
            return output::emit(&plan, self.format);
        }
        let plan = runtime.block_on(crate::account::plan::account_plan(&self.aws))?;
        output::emit(&plan, self.format)
    }
}
