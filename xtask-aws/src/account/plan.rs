//! What a deploy to one account would change: the stack's change set (created and deleted
//! again), the preflight's findings, the coverage with the named roles read, and the role
//! changes. Nothing is modified (the template is put beside the package in the artifact bucket,
//! under its content hash, for the change set to read). Used by the plan command and the tests.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::Parameter;

use crate::aws::{self, Aws, AwsArgs};
use crate::stack::{self, Desired, PlanKind, StackPlan};
use serde::Serialize;
use xtask::output::{Answer, Outcome};
use xtask::{paths, template};

/// What deploy would do to one account: the stack's changes (with what the preflight found),
/// which layer holds each boundary (the named roles read in the account), and what deploy
/// would change on the roles. The plan command's result.
#[derive(Debug, Serialize)]
pub struct AccountPlan {
    pub stack: StackPlan,
    pub coverage: xtask::coverage::Report,
    /// What deploy would change on the roles, one step each; a conflict says so.
    pub role_changes: Vec<RoleChange>,
    /// The policy's exceptions that have expired or expire within 14 days.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<xtask::expiring::Expiring>,
}

/// One change deploy would make to a named role, or a conflict that stops it.
#[derive(Debug, Serialize)]
pub struct RoleChange {
    pub step: String,
    /// Deploy would stop here (a role another stack owns, a missing role).
    pub conflict: bool,
}

impl std::fmt::Display for AccountPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.stack)?;
        write!(f, "\n{}", self.coverage.to_text())?;
        if !self.role_changes.is_empty() {
            writeln!(f, "\nrole changes:")?;
            for change in &self.role_changes {
                writeln!(f, "  {}", change.step)?;
            }
        }
        if !self.expiring.is_empty() {
            write!(f, "\n{}", xtask::expiring::text(&self.expiring))?;
        }
        Ok(())
    }
}

impl Outcome for AccountPlan {
    fn markdown(&self) -> String {
        let mut out = self.stack.to_markdown();
        out.push('\n');
        out.push_str(&self.coverage.to_markdown());
        if !self.role_changes.is_empty() {
            out.push_str("\n#### Role changes\n\n");
            for change in &self.role_changes {
                out.push_str(&format!("- {}\n", change.step));
            }
        }
        out.push_str(&xtask::expiring::to_markdown(&self.expiring));
        out
    }

    /// No when deploy would stop: a preflight finding AWS would refuse, or a role conflict.
    fn answer(&self) -> Answer {
        Answer::no_when(
            crate::preflight::stops(&self.stack.preflight)
                || self.role_changes.iter().any(|change| change.conflict),
        )
    }
}

/// The whole plan for `args` (a single-account policy).
pub(crate) async fn account_plan(args: &AwsArgs) -> anyhow::Result<AccountPlan> {
    let stack = plan(args).await?;
    let (coverage, role_changes) = preventive(args).await?;
    let policy = paths::load_policy(&args.policy)?;
    let now = policy::time::unix_seconds(std::time::SystemTime::now());
    Ok(AccountPlan {
        stack,
        coverage,
        role_changes,
        expiring: xtask::expiring::list(&policy, now),
    })
}

/// The plan's second part: which layer covers each boundary (with the named roles read in the
/// account), and what deploy would change on the roles; a conflict is listed as such.
pub async fn preventive(
    args: &AwsArgs,
) -> anyhow::Result<(xtask::coverage::Report, Vec<RoleChange>)> {
    let policy = paths::load_policy(&args.policy)?;
    let aws = Aws::load(args, policy.stack.region.as_deref()).await?;
    let caller = aws::caller(&aws).await?;
    let report = crate::coverage::account_report(&aws, &caller, &policy).await?;
    let partition = crate::assign::partition_of(&caller.arn);
    let roles = match crate::assign::plan_roles(&aws, &policy, &caller.account, &partition).await? {
        Ok(plan) => plan
            .steps
            .iter()
            .map(|step| RoleChange {
                step: step.to_string(),
                conflict: false,
            })
            .collect(),
        Err(conflicts) => conflicts
            .iter()
            .map(|conflict| RoleChange {
                step: format!(
                    "CONFLICT {}: {} (deploy would stop here)",
                    conflict.role_arn, conflict.reason
                ),
                conflict: true,
            })
            .collect(),
    };
    Ok((report, roles))
}

/// The plan against the deployed stack. The deployed code (bucket, key, architecture) is kept,
/// so the plan shows what the policy and templates change.
pub async fn plan(args: &AwsArgs) -> anyhow::Result<StackPlan> {
    let policy = paths::load_policy(&args.policy)?;
    super::refuse_organization(&policy, &args.policy, "plan")?;
    let aws = Aws::load(args, policy.stack.region.as_deref()).await?;
    let caller = aws::caller(&aws).await?;
    let body = template::render_stack(&policy)?;
    let name = policy.stack.name.clone();
    let cf = aws.cloudformation();
    let findings = crate::preflight::single_account(&aws, &policy, &args.policy, &caller).await?;
    let Some(found) = stack::describe(&cf, &name).await? else {
        return Ok(stack::new_stack_plan(&name, &body)?
            .in_place(&caller.account, &aws.region)
            .with_preflight(findings));
    };
    let code_parameters: BTreeMap<String, String> = found
        .parameters()
        .iter()
        .filter(|p| {
            p.parameter_key()
                .is_some_and(|key| template::CODE_PARAMETERS.contains(&key))
        })
        .map(|p: &Parameter| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // The change set reads the template from the stack's artifact bucket, as deploy's
    // would (the one object plan adds: the template, under its content hash).
    let template_url = match code_parameters.get("CodeBucket") {
        Some(bucket) if crate::artifacts::bucket_exists(&aws.s3(), bucket).await? => {
            Some(crate::artifacts::upload_template(&aws.s3(), bucket, &aws.region, &body).await?)
        }
        _ => None,
    };
    let desired = Desired {
        name: name.clone(),
        body,
        template_url,
        parameters: code_parameters,
        tags: template::stack_tags(&policy).into_iter().collect(),
    };
    let stack_changes = stack::stack_changes(&found, &desired);
    let no_changes = || {
        StackPlan::new(&name, PlanKind::NoChanges, Vec::new())
            .in_place(&caller.account, &aws.region)
    };
    if stack::is_current(&cf, &found, &desired).await? {
        return Ok(no_changes().with_preflight(findings));
    }
    let change_set = stack::change_set_name();
    let plan = stack::create_change_set(&cf, &desired, &change_set).await?;
    let Some(plan) = plan else {
        return Ok(no_changes()
            .with_stack_changes(stack_changes)
            .with_preflight(findings));
    };
    stack::delete_change_set(&cf, &name, &change_set).await?;
    Ok(plan
        .in_place(&caller.account, &aws.region)
        .with_stack_changes(stack_changes)
        .with_preflight(findings))
}
