//! `cargo xtask deploy`: preflight, render, build, upload, then create the stack or update it
//! through a change set, following its events live. Nothing is created for an invalid policy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::types::{Capability, OnFailure, StackStatus};

use crate::aws::{self, Aws, AwsArgs};
use crate::build::{self, Architecture};
use crate::stack::{self, Desired};
use crate::{Outcome, artifacts, paths, render, tools};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Deploy {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// CPU architecture of the function.
    #[arg(long, value_enum, default_value_t)]
    pub arch: Architecture,
    /// Deploy this package instead of building one (e.g. from a CI artifact).
    #[arg(long)]
    pub zip: Option<PathBuf>,
}

impl Deploy {
    pub fn run(self) -> anyhow::Result<Outcome> {
        aws::runtime()?.block_on(self.deploy())?;
        Ok(Outcome::Success)
    }

    pub async fn deploy(&self) -> anyhow::Result<Deployed> {
        // 1. Preflight: the policy first, so a bad one touches nothing.
        let policy = paths::load_policy(&self.aws.policy)?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        println!(
            "account {} ({}), region {}",
            caller.account, caller.arn, aws.region
        );
        if let Some(warning) = trail_warning(&aws).await {
            eprintln!("warning: {warning}");
        }
        if self.zip.is_none() && !tools::venv_bin("cargo-lambda").exists() {
            tools::ensure_venv().context("cargo-lambda is needed to build the function")?;
        }

        // 2. Render, build, upload.
        let body = render::render_stack(&policy)?;
        let zip = match &self.zip {
            Some(zip) => zip.clone(),
            None => build::build_lambda(self.arch)?,
        };
        let name = policy.stack.name.clone();
        let bucket = artifacts::bucket_name(&name, &caller.account, &aws.region);
        let s3 = aws.s3();
        let transport = artifacts::Transport::of(aws.endpoint_url.as_deref());
        artifacts::ensure_bucket(&s3, &bucket, &aws.region, &name, transport).await?;
        let key = artifacts::upload_package(&s3, &bucket, &zip).await?;
        let desired = Desired {
            name: name.clone(),
            body,
            parameters: BTreeMap::from([
                ("CodeBucket".to_string(), bucket),
                ("CodeKey".to_string(), key),
                (
                    "Architecture".to_string(),
                    self.arch.lambda_name().to_string(),
                ),
            ]),
            tags: render::stack_tags(&policy).into_iter().collect(),
        };

        // 3. Create or update.
        let cf = aws.cloudformation();
        let poll = poll_interval(&aws);
        let existing = stack::describe(&cf, &name).await?;
        let existing = match existing {
            Some(found) => {
                let status = found
                    .stack_status()
                    .cloned()
                    .unwrap_or(StackStatus::CreateComplete);
                match status {
                    StackStatus::RollbackComplete
                    | StackStatus::ReviewInProgress
                    | StackStatus::CreateFailed => {
                        eprintln!(
                            "stack {name} is in {} from an earlier failed creation; it holds nothing \
                             and cannot be updated",
                            status.as_str()
                        );
                        if !stack::confirm(
                            &format!("Delete stack {name} and create it again?"),
                            self.aws.yes,
                        )? {
                            anyhow::bail!("stack {name} left as it is ({})", status.as_str());
                        }
                        stack::delete(&cf, &name, poll).await?;
                        None
                    }
                    status if !stack::is_settled(&status) => anyhow::bail!(
                        "stack {name} is busy ({}); wait for it to settle and deploy again",
                        status.as_str()
                    ),
                    _ => Some(found),
                }
            }
            None => None,
        };
        match existing {
            None => create(&cf, &desired, self.aws.yes, poll).await,
            Some(found) => update(&cf, &found, &desired, self.aws.yes, poll).await,
        }
    }
}

/// What a deploy did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deployed {
    Created,
    Updated,
    /// The stack already matched: nothing was sent.
    Unchanged,
    /// The user said no.
    Cancelled,
}

/// Emulators answer at once; AWS takes its time.
pub fn poll_interval(aws: &Aws) -> Duration {
    if aws.endpoint_url.is_some() {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(3)
    }
}

/// A new stack is created directly (`OnFailure: DELETE`), so a failed creation leaves nothing
/// behind; its plan is every resource of the template. Updates go through change sets.
async fn create(
    cf: &aws_sdk_cloudformation::Client,
    desired: &Desired,
    yes: bool,
    poll: Duration,
) -> anyhow::Result<Deployed> {
    let plan = stack::new_stack_plan(&desired.name, &desired.body)?;
    print!("{plan}");
    if !stack::confirm(&format!("Create stack {}?", desired.name), yes)? {
        println!("cancelled: nothing was created");
        return Ok(Deployed::Cancelled);
    }
    let created = cf
        .create_stack()
        .stack_name(&desired.name)
        .template_body(&desired.body)
        .set_parameters(Some(desired.cf_parameters()))
        .set_tags(Some(desired.cf_tags()))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .on_failure(OnFailure::Delete)
        .send()
        .await;
    let id = match created {
        Ok(out) => out.stack_id().unwrap_or(&desired.name).to_string(),
        Err(error) => {
            let reason = aws_sdk_cloudformation::error::DisplayErrorContext(&error).to_string();
            // AWS creates nothing when the call fails; some emulators leave a half-made stack
            // that cannot even be described. Delete whatever is there by name.
            stack::remove_leftover(cf, &desired.name, poll).await?;
            anyhow::bail!(
                "creating stack {} failed; nothing was left behind: {reason}",
                desired.name
            );
        }
    };
    let status = stack::follow(cf, &id, poll, Default::default()).await?;
    if status != StackStatus::CreateComplete {
        let reasons = stack::failure_reasons(cf, &id).await?;
        if stack::describe(cf, &desired.name).await?.is_some() {
            stack::delete(cf, &desired.name, poll).await?;
        }
        anyhow::bail!(
            "creating stack {} failed ({}); nothing was left behind.\n  {}",
            desired.name,
            status.as_str(),
            reasons.join("\n  ")
        );
    }
    println!("stack {} created", desired.name);
    if let Some(done) = stack::describe(cf, &desired.name).await? {
        stack::print_outputs(&done);
    }
    Ok(Deployed::Created)
}

async fn update(
    cf: &aws_sdk_cloudformation::Client,
    found: &aws_sdk_cloudformation::types::Stack,
    desired: &Desired,
    yes: bool,
    poll: Duration,
) -> anyhow::Result<Deployed> {
    if stack::is_current(cf, found, desired).await? {
        println!("no changes: stack {} is up to date", desired.name);
        stack::print_outputs(found);
        return Ok(Deployed::Unchanged);
    }
    let change_set = change_set_name();
    let Some(plan) = stack::create_change_set(cf, desired, &change_set).await? else {
        println!("no changes: stack {} is up to date", desired.name);
        return Ok(Deployed::Unchanged);
    };
    print!("{plan}");
    if !stack::confirm(&format!("Apply these changes to {}?", desired.name), yes)? {
        stack::delete_change_set(cf, &desired.name, &change_set).await?;
        println!("cancelled: nothing was changed");
        return Ok(Deployed::Cancelled);
    }
    let id = found.stack_id().unwrap_or(&desired.name).to_string();
    let before = stack::event_ids(cf, &id).await?;
    cf.execute_change_set()
        .stack_name(&desired.name)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "executing the change set: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(&e)
            )
        })?;
    let status = stack::follow(cf, &id, poll, before).await?;
    if status != StackStatus::UpdateComplete {
        let reasons = stack::failure_reasons(cf, &id).await?;
        anyhow::bail!(
            "updating stack {} failed ({}); CloudFormation rolled it back to the previous version.\n  {}",
            desired.name,
            status.as_str(),
            reasons.join("\n  ")
        );
    }
    println!("stack {} updated", desired.name);
    if let Some(done) = stack::describe(cf, &desired.name).await? {
        stack::print_outputs(&done);
    }
    Ok(Deployed::Updated)
}

/// A change set name unique enough for one stack (CloudFormation: letters, digits, `-`).
pub fn change_set_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("gsg-{nanos}")
}

/// Without a trail logging management events, CreateSession calls never reach EventBridge.
pub async fn trail_warning(aws: &Aws) -> Option<String> {
    let ct = aws.cloudtrail();
    let trails = match ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
    {
        Ok(out) => out.trail_list().to_vec(),
        Err(error) => {
            return Some(format!(
                "could not check CloudTrail ({}); make sure a trail logs management events in {}",
                aws_sdk_cloudtrail::error::DisplayErrorContext(&error),
                aws.region
            ));
        }
    };
    for trail in &trails {
        let Some(arn) = trail.trail_arn() else {
            continue;
        };
        let logging = ct
            .get_trail_status()
            .name(arn)
            .send()
            .await
            .ok()
            .and_then(|s| s.is_logging())
            .unwrap_or(false);
        if !logging {
            continue;
        }
        let Ok(selectors) = ct.get_event_selectors().trail_name(arn).send().await else {
            continue;
        };
        let classic = selectors
            .event_selectors()
            .iter()
            .any(|s| s.include_management_events().unwrap_or(true));
        let advanced = selectors.advanced_event_selectors().iter().any(|s| {
            s.field_selectors().iter().any(|f| {
                f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management")
            })
        });
        if classic || advanced {
            return None;
        }
    }
    Some(format!(
        "no CloudTrail trail is logging management events in {}: without one, CreateSession \
         events never reach EventBridge and only the scheduled sweep will find sessions",
        aws.region
    ))
}
