//! `cargo xtask status`: the deployed stack (`account::status`), or with `--org` every stack
//! instance of the stack set (`org::status`); exit 1 when something needs attention.

use xtask::aws_args::AwsArgs;
use xtask::{Exit, output};

use crate::aws;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct StatusCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How many recent stack events to show.
    #[arg(long, default_value_t = 10)]
    pub events: usize,
    /// Output format (one account's stack; `--org` prints text).
    #[arg(long, value_enum, default_value_t)]
    pub format: output::Format,
    /// Every stack instance of the policy's `organization` (one row per account and Region).
    #[arg(long)]
    pub org: bool,
    /// With --org: also read each instance's dead-letter queue depth, alarms, trail and email
    /// subscriptions in its member account, through a role assumed there.
    #[arg(long, requires = "org")]
    pub deep: bool,
    /// With --deep: the role to assume in each member account.
    #[arg(long, requires = "deep", default_value = crate::org::member::DEFAULT_ROLE)]
    pub role_name: String,
}

impl StatusCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let runtime = aws::tokio_runtime()?;
        if self.org {
            return runtime.block_on(crate::org::status(
                &self.aws,
                self.deep.then_some(self.role_name.as_str()),
            ));
        }
        let report = runtime.block_on(crate::account::status::status(&self.aws, self.events))?;
        output::emit(&report, self.format)
    }
}
