//! `cargo xtask clean-up`: delete the stack and wait, then empty and delete the artifact bucket.
//! Nothing to delete is a success that says so.

use crate::aws::{self, Aws, AwsArgs};
use crate::deploy::poll_interval;
use crate::{Outcome, artifacts, paths, stack};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct CleanUp {
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl CleanUp {
    pub fn run(self) -> anyhow::Result<Outcome> {
        aws::runtime()?.block_on(self.clean_up())?;
        Ok(Outcome::Success)
    }

    pub async fn clean_up(&self) -> anyhow::Result<()> {
        let policy = paths::load_policy(&self.aws.policy)?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        let name = &policy.stack.name;
        let cf = aws.cloudformation();
        if stack::describe(&cf, name).await?.is_some() {
            if !stack::confirm(
                &format!("Delete stack {name} in {}?", aws.region),
                self.aws.yes,
            )? {
                println!("cancelled: nothing was deleted");
                return Ok(());
            }
            stack::delete(&cf, name, poll_interval(&aws)).await?;
            println!("stack {name} deleted");
        } else {
            println!("stack {name}: nothing to delete");
        }
        let bucket = artifacts::bucket_name(name, &caller.account, &aws.region);
        if artifacts::delete_bucket(&aws.s3(), &bucket).await? {
            println!("artifact bucket {bucket} emptied and deleted");
        } else {
            println!("artifact bucket {bucket}: nothing to delete");
        }
        Ok(())
    }
}
