//! `cargo xtask coverage`: which layer holds each boundary of the policy (`coverage::Report`).
//! Without named roles, or with `--offline`, the report is pure and printed here; to read the
//! named roles in the account it is handed to `xtask-aws` (read-only IAM and Glue calls).

use policy::guardrails;

use crate::coverage::{CoverageArgs, Report};
use crate::{Exit, forward, output, paths};

#[derive(clap::Args, Clone, Debug)]
pub struct CoverageCommand {
    #[command(flatten)]
    pub args: CoverageArgs,
}

impl CoverageCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let policy = paths::load_policy(&self.args.aws.policy)?;
        let named_roles = !guardrails::assignments(&policy, None).is_empty();
        if !self.args.offline && named_roles {
            return forward::to_aws(std::env::args_os().skip(1).collect());
        }
        let why = if self.args.offline {
            "--offline"
        } else {
            "no role named"
        };
        output::emit(
            &Report::offline(
                &policy,
                why,
                policy::time::unix_seconds(std::time::SystemTime::now()),
            ),
            self.args.format,
        )
    }
}
