//! Deploying the guard to one account: preflight, render, build, upload, then create the stack or
//! update it through a change set, following its events live. Nothing is created for an invalid
//! policy, and nothing changes in the account before the user agrees (`--yes`, or a yes on a
//! terminal). Used by the deploy and demo commands.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::types::{Capability, OnFailure, Stack, StackStatus};

use crate::artifacts::{self, Package, Staging};
use crate::aws::{self, Aws, AwsArgs};
use crate::stack::{self, Desired};
use xtask::cli::Refused;
use xtask::package::{self, Architecture};
use xtask::ui::{Confirmation, Consent, Terminal};
use xtask::{paths, template, tools};

/// What a deploy takes (the deploy command's flags, and the demo's and tests' own choices).
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub aws: AwsArgs,
    pub confirmation: Confirmation,
    /// CPU architecture of the function.
    pub arch: Architecture,
    /// Deploy this package instead of building one.
    pub zip: Option<PathBuf>,
}

impl DeployOptions {
    /// The package to deploy: `--zip`, else the function built (or reused) for `--arch`. The
    /// build takes minutes: called from async code, it goes through [`Self::package_async`].
    pub fn package(&self) -> anyhow::Result<PathBuf> {
        match &self.zip {
            Some(zip) => Ok(zip.clone()),
            None => {
                if !tools::venv_bin("cargo-lambda").exists() {
                    tools::ensure_venv().context("cargo-lambda is needed to build the function")?;
                }
                package::build_lambda(self.arch)
            }
        }
    }

    /// [`Self::package`] on a blocking thread, so that a build of minutes never holds up the
    /// runtime's workers.
    pub(crate) async fn package_async(&self) -> anyhow::Result<PathBuf> {
        let options = self.clone();
        tokio::task::spawn_blocking(move || options.package())
            .await
            .context("building the package")?
    }

    /// The whole deploy. Nothing in the account changes before the user agrees: without
    /// `--yes` and without a terminal it refuses first; on a terminal it asks before it creates
    /// the artifact bucket or uploads the package, before it replaces a stack left by a failed
    /// creation, and, showing the plan, before it creates or changes the stack.
    pub async fn deploy(&self, terminal: Terminal) -> anyhow::Result<Deployed> {
        // 1. Preflight, changing nothing: the policy first, so a bad one touches nothing; then
        //    whether the user can agree at all; then who and where.
        let policy = paths::load_policy(&self.aws.policy)?;
        super::refuse_organization(&policy, &self.aws.policy, "deploy")?;
        let name = policy.stack.name.clone();
        let consent = Consent::decide(
            self.confirmation,
            terminal,
            &format!("deploying stack {name}"),
        )?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        eprintln!(
            "account {} ({}), region {}",
            caller.account, caller.arn, aws.region
        );
        // What real AWS would refuse (or what would silently not work), read before anything
        // changes: the reservation the account can give, names taken, the trail, the network.
        let findings =
            crate::preflight::single_account(&aws, &policy, &self.aws.policy, &caller).await?;
        for finding in &findings {
            eprintln!("{finding}");
        }
        if crate::preflight::stops(&findings) {
            return Err(Refused(format!(
                "{}: the preflight found what AWS would refuse (above); nothing was changed",
                paths::shown(&self.aws.policy)
            ))
            .into());
        }
        // The roles the policy names: read-only now; a role deploy must not touch stops it here.
        let partition = crate::assign::partition_of(&caller.arn);
        let roles =
            match crate::assign::plan_roles(&aws, &policy, &caller.account, &partition).await? {
                Ok(roles) => roles,
                Err(conflicts) => {
                    let lines: Vec<String> = conflicts
                        .iter()
                        .map(|conflict| format!("  {}: {}", conflict.role_arn, conflict.reason))
                        .collect();
                    return Err(Refused(format!(
                        "{}: usage_profiles.roles: deploy will not assign these roles (nothing \
                         was changed):\n{}",
                        paths::shown(&self.aws.policy),
                        lines.join("\n")
                    ))
                    .into());
                }
            };
        for role in &roles.other_accounts {
            eprintln!("note: {role} is in another account: deploy to that account to assign it");
        }
        // 2. Render and build, on this machine.
        let body = template::render_stack(&policy)?;
        let zip = self.package_async().await?;
        let package = Package::read(&zip)?;

        // 3. What is deployed, and what to do with it: a busy stack stops here, unchanged.
        let cf = aws.cloudformation();
        let poll = aws.poll_interval();
        let start = Start::of(&name, stack::describe(&cf, &name).await?)?;

        // 4. The artifact bucket and the package, once the user agrees to what they lack.
        let bucket = artifacts::bucket_name(&name, &caller.account, &aws.region);
        let s3 = aws.s3();
        let staging = Staging::find(&s3, &bucket, &package).await?;
        if let Some(changes) = staging.changes(&bucket, &package) {
            let question = format!(
                "Deploy stack {name} to account {} in {}? It will first {changes}, then show \
                 the stack's changes and ask again.",
                caller.account, aws.region
            );
            if !consent.confirm(&question)? {
                eprintln!("cancelled: nothing was changed");
                return Ok(Deployed::Cancelled);
            }
        }
        let transport = artifacts::Transport::of(aws.endpoint_url.as_deref());
        match staging {
            Staging::Ready => eprintln!(
                "code unchanged: s3://{bucket}/{} is already uploaded",
                package.key
            ),
            Staging::Upload => artifacts::upload(&s3, &bucket, &package).await?,
            Staging::CreateBucketAndUpload => {
                artifacts::create_bucket(&s3, &bucket, &aws.region, &name, transport, None).await?;
                artifacts::upload(&s3, &bucket, &package).await?;
            }
        }
        // The template from the bucket (TemplateURL: 1 MB), never dropped to fit a request.
        let template_url = artifacts::upload_template(&s3, &bucket, &aws.region, &body).await?;
        let desired = Desired {
            name: name.clone(),
            body,
            template_url: Some(template_url),
            parameters: BTreeMap::from([
                ("CodeBucket".to_string(), bucket),
                ("CodeKey".to_string(), package.key.clone()),
                (
                    "Architecture".to_string(),
                    self.arch.lambda_name().to_string(),
                ),
            ]),
            tags: template::stack_tags(&policy).into_iter().collect(),
        };

        // 5. Create or update, each after its own question.
        let deployed = match start {
            Start::Create => create(&cf, &desired, consent, poll).await,
            Start::Replace(status) => {
                eprintln!(
                    "stack {name} is in {} from an earlier failed creation; it holds nothing \
                     and cannot be updated",
                    status.as_str()
                );
                if !consent.confirm(&format!("Delete stack {name} and create it again?"))? {
                    anyhow::bail!("stack {name} left as it is ({})", status.as_str());
                }
                stack::delete(&cf, &name, poll).await?;
                create(&cf, &desired, consent, poll).await
            }
            Start::Update(found) => update(&cf, &found, &desired, consent, poll).await,
        }?;
        // Email subscriptions wait for someone to click AWS's link: until then nothing
        // reaches them, and SNS deletes them after 48 hours.
        if matches!(deployed, Deployed::Created | Deployed::Updated)
            && let Some(now) = stack::describe(&cf, &name).await?
        {
            let arns = crate::preflight::topic_arns(&now);
            let subscriptions =
                crate::preflight::read_subscriptions(&aws.sns(), &policy, &arns).await?;
            for line in crate::preflight::subscription_attention(&subscriptions, &arns) {
                eprintln!("note: {line}");
            }
        }
        if deployed == Deployed::Cancelled || roles.steps.is_empty() {
            return Ok(deployed);
        }

        // 6. The roles: tagged with their usage profile, given the guardrail policy.
        eprintln!("roles (usage_profiles.roles):");
        for step in &roles.steps {
            eprintln!("  {step}");
        }
        if !consent.confirm("Make these changes to the roles?")? {
            eprintln!("roles left as they are: the stack is deployed, the roles are not assigned");
            return Ok(deployed);
        }
        let policy_arn =
            crate::assign::guardrail_policy_arn(&partition, &caller.account, &name, &aws.region);
        eprintln!("assigning roles:");
        crate::assign::apply(&aws, &name, &policy_arn, &roles.steps).await?;
        Ok(deployed)
    }
}

/// What deploy does with the stack it finds, decided before it changes anything.
#[derive(Debug)]
enum Start {
    /// No stack of that name: create it.
    Create,
    /// A stack left by a failed creation: it holds nothing and cannot be updated, so it is
    /// deleted and created again.
    Replace(StackStatus),
    /// A settled stack: update it through a change set.
    Update(Box<Stack>),
}

impl Start {
    /// An error for a stack that is busy (an operation in progress): deploy again once it
    /// settles.
    fn of(name: &str, found: Option<Stack>) -> anyhow::Result<Start> {
        let Some(found) = found else {
            return Ok(Start::Create);
        };
        let status = found
            .stack_status()
            .cloned()
            .unwrap_or(StackStatus::CreateComplete);
        match status {
            StackStatus::RollbackComplete
            | StackStatus::ReviewInProgress
            | StackStatus::CreateFailed => Ok(Start::Replace(status)),
            status if !stack::is_settled(&status) => anyhow::bail!(
                "stack {name} is busy ({}); wait for it to settle and deploy again (nothing was \
                 changed)",
                status.as_str()
            ),
            _ => Ok(Start::Update(Box::new(found))),
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

/// A new stack is created directly (`OnFailure: DELETE`), so a failed creation leaves nothing
/// behind; its plan is every resource of the template. Updates go through change sets.
pub async fn create(
    cf: &aws_sdk_cloudformation::Client,
    desired: &Desired,
    consent: Consent,
    poll: Duration,
) -> anyhow::Result<Deployed> {
    let plan = stack::new_stack_plan(&desired.name, &desired.body)?;
    eprint!("{plan}");
    if !consent.confirm(&format!("Create stack {}?", desired.name))? {
        eprintln!("cancelled: nothing was created");
        return Ok(Deployed::Cancelled);
    }
    let request = cf.create_stack().stack_name(&desired.name);
    let request = match desired.template()? {
        stack::TemplateSource::Url(url) => request.template_url(url),
        stack::TemplateSource::Body(body) => request.template_body(body),
    };
    let created = request
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
            let reason = crate::aws::described_sdk(&error);
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
    found: &Stack,
    desired: &Desired,
    consent: Consent,
    poll: Duration,
) -> anyhow::Result<Deployed> {
    if stack::is_current(cf, found, desired).await? {
        println!("no changes: stack {} is up to date", desired.name);
        stack::print_outputs(found);
        return Ok(Deployed::Unchanged);
    }
    let change_set = stack::change_set_name();
    let Some(plan) = stack::create_change_set(cf, desired, &change_set).await? else {
        println!("no changes: stack {} is up to date", desired.name);
        return Ok(Deployed::Unchanged);
    };
    // Tag-only and parameter-only changes show too: the change set lists resources only.
    let plan = plan.with_stack_changes(stack::stack_changes(found, desired));
    eprint!("{plan}");
    if !consent.confirm(&format!("Apply these changes to {}?", desired.name))? {
        stack::delete_change_set(cf, &desired.name, &change_set).await?;
        eprintln!("cancelled: nothing was changed");
        return Ok(Deployed::Cancelled);
    }
    let id = found.stack_id().unwrap_or(&desired.name).to_string();
    let before = stack::event_ids(cf, &id).await?;
    cf.execute_change_set()
        .stack_name(&desired.name)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| crate::aws::failure("executing the change set", &e, None))?;
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

#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::primitives::DateTime;

    use super::*;

    fn found(status: StackStatus) -> Option<Stack> {
        Some(
            Stack::builder()
                .stack_name("gsg")
                .creation_time(DateTime::from_secs(0))
                .stack_status(status)
                .build(),
        )
    }

    #[test]
    fn what_deploy_does_follows_from_the_stack_it_finds() {
        assert!(matches!(Start::of("gsg", None), Ok(Start::Create)));
        for failed in [
            StackStatus::RollbackComplete,
            StackStatus::ReviewInProgress,
            StackStatus::CreateFailed,
        ] {
            let start = Start::of("gsg", found(failed.clone())).unwrap();
            assert!(matches!(start, Start::Replace(status) if status == failed));
        }
        for settled in [
            StackStatus::CreateComplete,
            StackStatus::UpdateRollbackComplete,
        ] {
            let start = Start::of("gsg", found(settled)).unwrap();
            assert!(matches!(start, Start::Update(_)));
        }
    }

    #[test]
    fn a_busy_stack_is_refused_before_anything_changes() {
        let error = Start::of("gsg", found(StackStatus::UpdateInProgress)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "stack gsg is busy (UPDATE_IN_PROGRESS); wait for it to settle and deploy again \
             (nothing was changed)"
        );
    }
}
