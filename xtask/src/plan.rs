//! `cargo xtask plan`: what a deploy of the policy would change, as text, Markdown (for a PR
//! comment) or JSON. The change set it creates is deleted again; nothing is modified (the
//! template is put beside the package in the artifact bucket, under its content hash, for the
//! change set to read).

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::Parameter;

use crate::aws::{self, Aws, AwsArgs};
use crate::stack::{self, Desired, PlanKind, StackPlan};
use crate::{Exit, paths, render};

#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum PlanFormat {
    /// For people, in a terminal.
    #[default]
    Text,
    /// A table for a pull-request comment.
    Markdown,
    /// For machines.
    Json,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct PlanCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// The policy's `organization`: the stack set's instances to create, update or remove, and
    /// the template's change.
    #[arg(long)]
    pub org: bool,
    /// With --org: the package deploy would use (its key is its content hash); without it, the
    /// function is built or reused like deploy does.
    #[arg(long, requires = "org")]
    pub zip: Option<std::path::PathBuf>,
    /// With --org: the function's CPU architecture, as for deploy.
    #[arg(long, value_enum, default_value_t, requires = "org")]
    pub arch: crate::build::Architecture,
}

impl PlanCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let runtime = aws::runtime()?;
        if self.org {
            let deploy = crate::deploy::Deploy {
                aws: self.aws.clone(),
                zip: self.zip.clone(),
                arch: self.arch,
                ..crate::deploy::Deploy::default()
            };
            let plan =
                runtime.block_on(crate::org::plan(&self.aws, || deploy.package(), self.arch))?;
            match self.format {
                PlanFormat::Text => print!("{}", plan.to_text()),
                PlanFormat::Markdown => print!("{}", plan.to_markdown()),
                PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
            }
            return Ok(Exit::Success);
        }
        let plan = runtime.block_on(self.plan())?;
        let preventive = match self.format {
            PlanFormat::Json => None,
            _ => Some(runtime.block_on(self.preventive())?),
        };
        // Deploy would stop (a preflight finding or a role conflict): the answer is no.
        let stops = crate::preflight::stops(&plan.preflight)
            || preventive
                .as_ref()
                .is_some_and(|(_, roles)| roles.iter().any(|r| r.starts_with("CONFLICT")));
        match self.format {
            PlanFormat::Text => print!("{plan}"),
            PlanFormat::Markdown => print!("{}", plan.to_markdown()),
            PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        }
        if let Some((report, roles)) = preventive {
            match self.format {
                PlanFormat::Markdown => {
                    print!("\n{}", report.to_markdown());
                    if !roles.is_empty() {
                        println!("\n#### Role changes\n");
                        for step in &roles {
                            println!("- {step}");
                        }
                    }
                }
                _ => {
                    print!("\n{}", report.to_text());
                    if !roles.is_empty() {
                        println!("\nrole changes:");
                        for step in &roles {
                            println!("  {step}");
                        }
                    }
                }
            }
        }
        Ok(if stops { Exit::Failed } else { Exit::Success })
    }

    /// The plan's second part: which layer covers each boundary (with the named roles read in
    /// the account), and what deploy would change on the roles; a conflict is listed as such.
    pub async fn preventive(&self) -> anyhow::Result<(crate::coverage::Report, Vec<String>)> {
        let policy = paths::load_policy(&self.aws.policy)?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        let report = crate::coverage::account_report(&aws, &caller, &policy).await?;
        let partition = crate::assign::partition_of(&caller.arn);
        let roles =
            match crate::assign::plan_roles(&aws, &policy, &caller.account, &partition).await? {
                Ok(plan) => plan.steps.iter().map(ToString::to_string).collect(),
                Err(conflicts) => conflicts
                    .iter()
                    .map(|conflict| {
                        format!(
                            "CONFLICT {}: {} (deploy would stop here)",
                            conflict.role_arn, conflict.reason
                        )
                    })
                    .collect(),
            };
        Ok((report, roles))
    }

    /// The plan against the deployed stack. The deployed code (bucket, key, architecture) is
    /// kept, so the plan shows what the policy and templates change.
    pub async fn plan(&self) -> anyhow::Result<StackPlan> {
        let policy = paths::load_policy(&self.aws.policy)?;
        crate::deploy::refuse_organization(&policy, &self.aws.policy, "plan")?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        let body = render::render_stack(&policy)?;
        let name = policy.stack.name.clone();
        let cf = aws.cloudformation();
        let findings =
            crate::preflight::single_account(&aws, &policy, &self.aws.policy, &caller).await?;
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
                    .is_some_and(|key| render::CODE_PARAMETERS.contains(&key))
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
            Some(bucket) if crate::artifacts::bucket_exists(&aws.s3(), bucket).await? => Some(
                crate::artifacts::upload_template(&aws.s3(), bucket, &aws.region, &body).await?,
            ),
            _ => None,
        };
        let desired = Desired {
            name: name.clone(),
            body,
            template_url,
            parameters: code_parameters,
            tags: render::stack_tags(&policy).into_iter().collect(),
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
}
