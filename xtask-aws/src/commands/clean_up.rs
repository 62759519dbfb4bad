//! `cargo xtask clean-up`: the policy's stack and artifact bucket in one account
//! (`account::clean_up`), or with `--org` its stack set, instances and buckets (`org::clean_up`).

use xtask::Exit;
use xtask::aws_args::AwsArgs;
use xtask::ui::{Confirmation, Terminal};

use crate::account::clean_up::CleanUpOptions;
use crate::aws;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct CleanUpCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub confirmation: Confirmation,
    /// The policy's `organization`: delete the stack set's instances, the stack set, then the
    /// artifact bucket of every Region. First, in each member account (through
    /// --member-role), the guardrail policy is detached from roles tagged with the guard's
    /// marker; anything else it is attached to stops clean-up before any change.
    #[arg(long)]
    pub org: bool,
    /// With --org: the role to assume in each member account to detach the guardrail policy
    /// from the roles its admins attached it to (and tagged with the guard's marker), which
    /// IAM requires before the policy (and the instance) can be deleted.
    #[arg(long, requires = "org", default_value = crate::org::member::DEFAULT_ROLE)]
    pub member_role: String,
}

impl CleanUpCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let runtime = aws::tokio_runtime()?;
        if self.org {
            runtime.block_on(crate::org::clean_up(
                &self.aws,
                self.confirmation,
                Terminal::of_stdin(),
                &self.member_role,
            ))?;
        } else {
            let options = CleanUpOptions {
                aws: self.aws,
                confirmation: self.confirmation,
            };
            runtime.block_on(options.clean_up(Terminal::of_stdin()))?;
        }
        Ok(Exit::Success)
    }
}
