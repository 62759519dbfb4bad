//! Cleaning up one account: delete the stack (undoing its role assignments) and wait, then empty
//! and delete the artifact bucket, after one yes (`--yes`, or on a terminal) for both. Nothing
//! to delete is a success that says so. Used by the clean-up and demo commands.

use crate::aws::{self, Aws, AwsArgs};
use crate::{artifacts, stack};
use xtask::paths;
use xtask::ui::{Confirmation, Consent, Terminal};

/// What a clean-up of one account takes.
#[derive(Clone, Debug, Default)]
pub struct CleanUpOptions {
    pub aws: AwsArgs,
    pub confirmation: Confirmation,
}

/// What there is to delete, found before anything is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Doomed {
    stack: bool,
    bucket: bool,
}

impl Doomed {
    /// The question for the user, naming everything that goes; `None` when nothing does.
    fn question(self, stack: &str, bucket: &str, account: &str, region: &str) -> Option<String> {
        let what = match (self.stack, self.bucket) {
            (false, false) => return None,
            (true, false) => format!("Delete stack {stack} (undoing its role assignments)"),
            (false, true) => format!("Empty and delete the artifact bucket {bucket}"),
            (true, true) => {
                format!(
                    "Delete stack {stack} (undoing its role assignments), then empty and delete \
                     the artifact bucket {bucket}"
                )
            }
        };
        Some(format!("{what} (account {account}, region {region})?"))
    }
}

impl CleanUpOptions {
    /// The whole clean-up. Without `--yes` and without a terminal it refuses before it reads the
    /// account; on a terminal it asks once, naming what it will delete.
    pub async fn clean_up(&self, terminal: Terminal) -> anyhow::Result<()> {
        let policy = paths::load_policy(&self.aws.policy)?;
        super::refuse_organization(&policy, &self.aws.policy, "clean-up")?;
        let name = &policy.stack.name;
        let consent = Consent::decide(
            self.confirmation,
            terminal,
            &format!("cleaning up stack {name}"),
        )?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        let cf = aws.cloudformation();
        let s3 = aws.s3();
        let bucket = artifacts::bucket_name(name, &caller.account, &aws.region);
        let doomed = Doomed {
            stack: stack::describe(&cf, name).await?.is_some(),
            bucket: artifacts::bucket_exists(&s3, &bucket).await?,
        };
        let Some(question) = doomed.question(name, &bucket, &caller.account, &aws.region) else {
            println!("stack {name}: nothing to delete");
            println!("artifact bucket {bucket}: nothing to delete");
            return Ok(());
        };
        if !consent.confirm(&question)? {
            eprintln!("cancelled: nothing was deleted");
            return Ok(());
        }
        if doomed.stack {
            // The guardrail policy cannot be deleted while attached: undo what deploy did to
            // the roles first (and detach anything else it was attached to).
            let partition = crate::assign::partition_of(&caller.arn);
            for done in crate::assign::undo(&aws, &policy, &caller.account, &partition).await? {
                println!("{done}");
            }
            stack::delete(&cf, name, aws.poll_interval()).await?;
            println!("stack {name} deleted");
        } else {
            println!("stack {name}: nothing to delete");
        }
        if doomed.bucket && artifacts::delete_bucket(&s3, &bucket).await? {
            println!("artifact bucket {bucket} emptied and deleted");
        } else {
            println!("artifact bucket {bucket}: nothing to delete");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_names_everything_that_goes() {
        let ask = |doomed: Doomed| doomed.question("gsg", "gsg-artifacts-1", "123", "eu-west-1");
        assert_eq!(
            ask(Doomed {
                stack: true,
                bucket: true
            })
            .as_deref(),
            Some(
                "Delete stack gsg (undoing its role assignments), then empty and delete the \
                 artifact bucket gsg-artifacts-1 (account 123, region eu-west-1)?"
            )
        );
        assert_eq!(
            ask(Doomed {
                stack: true,
                bucket: false
            })
            .as_deref(),
            Some(
                "Delete stack gsg (undoing its role assignments) (account 123, region eu-west-1)?"
            )
        );
        assert_eq!(
            ask(Doomed {
                stack: false,
                bucket: true
            })
            .as_deref(),
            Some(
                "Empty and delete the artifact bucket gsg-artifacts-1 (account 123, region \
                 eu-west-1)?"
            )
        );
        assert_eq!(
            ask(Doomed {
                stack: false,
                bucket: false
            }),
            None
        );
    }
}
