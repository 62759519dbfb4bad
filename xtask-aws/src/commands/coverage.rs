//! `cargo xtask coverage` with roles named: which layer holds each boundary, with each named role
//! read in the account (`coverage::account_report`); the light `cargo xtask coverage` prints the
//! report without the account and hands the command here when the roles must be read.

use xtask::coverage::{CoverageArgs, Report};
use xtask::{Exit, output, paths};

use crate::aws::{self, Aws};

#[derive(clap::Args, Clone, Debug)]
pub struct CoverageCommand {
    #[command(flatten)]
    pub args: CoverageArgs,
}

impl CoverageCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let policy = paths::load_policy(&self.args.aws.policy)?;
        let report = if self.args.offline {
            Report::offline(
                &policy,
                "--offline",
                policy::time::unix_seconds(std::time::SystemTime::now()),
            )
        } else {
            aws::tokio_runtime()?.block_on(async {
                let aws = Aws::load(&self.args.aws, policy.stack.region.as_deref()).await?;
                let caller = aws::caller(&aws).await?;
                crate::coverage::account_report(&aws, &caller, &policy).await
            })?
        };
        output::emit(&report, self.args.format)
    }
}
