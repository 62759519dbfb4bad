//! `cargo xtask deploy`: the policy's stack in one account (`account::deploy`), or with `--org`
//! its stack set across an organization (`org::deploy`).

use std::path::PathBuf;

use xtask::Exit;
use xtask::aws_args::AwsArgs;
use xtask::package::Architecture;
use xtask::ui::{Confirmation, Terminal};

use crate::account::deploy::DeployOptions;
use crate::aws;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct DeployCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub confirmation: Confirmation,
    /// CPU architecture of the function.
    #[arg(long, value_enum, default_value_t)]
    pub arch: Architecture,
    /// Deploy this package instead of building one (e.g. from a CI artifact).
    #[arg(long)]
    pub zip: Option<PathBuf>,
    /// Deploy to the accounts and Regions of the policy's `organization`, as one CloudFormation
    /// StackSet (run from the management account or a StackSets delegated administrator).
    #[arg(long)]
    pub org: bool,
}

impl DeployCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let options = DeployOptions {
            aws: self.aws,
            confirmation: self.confirmation,
            arch: self.arch,
            zip: self.zip,
        };
        let runtime = aws::tokio_runtime()?;
        if self.org {
            runtime.block_on(crate::org::deploy(&options, Terminal::of_stdin()))?;
        } else {
            runtime.block_on(options.deploy(Terminal::of_stdin()))?;
        }
        Ok(Exit::Success)
    }
}
