//! The StackSets and Organizations calls of the organization commands. Every StackSets call
//! carries the policy's `CallAs` (the management account, or a delegated administrator).
//!
//! Source: AWS CloudFormation API reference (CreateStackSet, UpdateStackSet,
//! CreateStackInstances, DeleteStackInstances, DeleteStackSet, DescribeStackSet,
//! DescribeStackSetOperation, ListStackInstances, ListStackSetOperationResults) and AWS
//! Organizations (DescribeOrganization, ListAccountsForParent, ListOrganizationalUnitsForParent).

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    AccountFilterType, AutoDeployment, CallAs, Capability, ConcurrencyMode, DeploymentTargets,
    ManagedExecution, Parameter, PermissionModels, RegionConcurrencyType, StackSet,
    StackSetOperationPreferences, StackSetOperationResultStatus, StackSetOperationStatus,
    StackSetStatus, Tag,
};
use policy::model::{Organization, RegionConcurrency};

use super::instances::{Failure, Instance};
use crate::aws::described;
use crate::stack::{TemplateSource, template_source};

/// What the stack set should be: its template, parameters and tags.
#[derive(Clone, Debug)]
pub struct DesiredSet {
    pub name: String,
    pub description: String,
    pub body: String,
    /// Where the template was uploaded: `CreateStackSet`/`UpdateStackSet` read it from there
    /// (1 MB) rather than as `TemplateBody` (51,200 bytes).
    pub template_url: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

/// `CallAs` from the policy: `SELF` (the management account) or `DELEGATED_ADMIN`.
pub fn call_as(organization: &Organization) -> CallAs {
    CallAs::from(organization.call_as.as_str())
}

/// `DeploymentTargets`: the OUs, narrowed to `accounts` when the policy lists some
/// (`AccountFilterType: INTERSECTION`).
fn deployment_targets(organization: &Organization) -> DeploymentTargets {
    let targets = DeploymentTargets::builder()
        .set_organizational_unit_ids(Some(organization.organizational_units.clone()));
    match &organization.accounts {
        Some(accounts) => targets
            .set_accounts(Some(accounts.clone()))
            .account_filter_type(AccountFilterType::Intersection)
            .build(),
        None => targets.build(),
    }
}

/// `DeploymentTargets` for removing instances: the OUs, narrowed to `accounts` when given.
fn removal_targets(units: &[String], accounts: Option<&[String]>) -> DeploymentTargets {
    let targets = DeploymentTargets::builder().set_organizational_unit_ids(Some(units.to_vec()));
    match accounts {
        Some(accounts) => targets
            .set_accounts(Some(accounts.to_vec()))
            .account_filter_type(AccountFilterType::Intersection)
            .build(),
        None => targets.build(),
    }
}

/// `StackSetOperationPreferences` from the policy, for an operation in `regions` (the
/// policy's order, kept to those Regions). `SOFT_FAILURE_TOLERANCE`, so that
/// `max_concurrent_percentage` is the concurrency (in AWS's default strict mode it could not
/// pass `failure_tolerance_percentage` plus one account); the operation still stops once more
/// accounts than the tolerance have failed, with those in flight finishing.
fn operation_preferences(
    organization: &Organization,
    regions: &[String],
) -> StackSetOperationPreferences {
    StackSetOperationPreferences::builder()
        .region_concurrency_type(match organization.region_concurrency {
            RegionConcurrency::Parallel => RegionConcurrencyType::Parallel,
            RegionConcurrency::Sequential => RegionConcurrencyType::Sequential,
        })
        .set_region_order(Some(
            organization
                .regions
                .iter()
                .filter(|region| regions.contains(region))
                .cloned()
                .collect(),
        ))
        .max_concurrent_percentage(organization.max_concurrent_percentage as i32)
        .failure_tolerance_percentage(organization.failure_tolerance_percentage as i32)
        .concurrency_mode(ConcurrencyMode::SoftFailureTolerance)
        .build()
}

/// `AutoDeployment` from the policy.
pub fn auto_deployment(organization: &Organization) -> AutoDeployment {
    let builder = AutoDeployment::builder().enabled(organization.auto_deployment);
    if organization.auto_deployment {
        builder
            .retain_stacks_on_account_removal(organization.retain_stacks_on_account_removal)
            .build()
    } else {
        builder.build()
    }
}

fn parameters(desired: &DesiredSet) -> Vec<Parameter> {
    desired
        .parameters
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect()
}

fn tags(desired: &DesiredSet) -> Vec<Tag> {
    desired
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

/// The stack set, or `None` when there is none (or only a deleted one).
pub async fn describe(
    cf: &Client,
    name: &str,
    call_as: &CallAs,
) -> anyhow::Result<Option<StackSet>> {
    match cf
        .describe_stack_set()
        .stack_set_name(name)
        .call_as(call_as.clone())
        .send()
        .await
    {
        Ok(out) => Ok(out
            .stack_set
            .filter(|set| set.status() != Some(&StackSetStatus::Deleted))),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_stack_set_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(anyhow::anyhow!(
            "CloudFormation DescribeStackSet {name} failed: {}",
            described(&error)
        )),
    }
}

/// Whether the deployed stack set differs from `desired` in its template, parameters, tags or
/// auto-deployment (when DescribeStackSet reports it).
pub fn differs(found: &StackSet, organization: &Organization, desired: &DesiredSet) -> bool {
    if found.template_body().map(str::trim_end) != Some(desired.body.trim_end()) {
        return true;
    }
    if let Some(auto) = found.auto_deployment() {
        let wanted = auto_deployment(organization);
        if auto.enabled() != wanted.enabled()
            || (wanted.enabled() == Some(true)
                && auto.retain_stacks_on_account_removal().unwrap_or(false)
                    != wanted.retain_stacks_on_account_removal().unwrap_or(false))
        {
            return true;
        }
    }
    let mut tags: Vec<(&str, &str)> = found
        .tags()
        .iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default(),
                tag.value().unwrap_or_default(),
            )
        })
        .collect();
    tags.sort_unstable();
    let mut wanted_tags: Vec<(&str, &str)> = desired
        .tags
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    wanted_tags.sort_unstable();
    if tags != wanted_tags {
        return true;
    }
    // Only the parameters deploy passes: the others (GuardName) keep their template defaults,
    // which DescribeStackSet may or may not list.
    desired.parameters.iter().any(|(key, value)| {
        found
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key.as_str()))
            .and_then(|p| p.parameter_value())
            != Some(value.as_str())
    })
}

/// CreateStackSet: service-managed permissions, auto-deployment and managed execution.
pub async fn create(
    cf: &Client,
    organization: &Organization,
    desired: &DesiredSet,
) -> anyhow::Result<()> {
    let request = cf
        .create_stack_set()
        .stack_set_name(&desired.name)
        .description(&desired.description);
    let request = match template_source(
        &desired.name,
        &desired.body,
        desired.template_url.as_deref(),
    )? {
        TemplateSource::Url(url) => request.template_url(url),
        TemplateSource::Body(body) => request.template_body(body),
    };
    request
        .set_parameters(Some(parameters(desired)))
        .set_tags(Some(tags(desired)))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .permission_model(PermissionModels::ServiceManaged)
        .auto_deployment(auto_deployment(organization))
        .managed_execution(ManagedExecution::builder().active(true).build())
        .call_as(call_as(organization))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation CreateStackSet {} failed: {}",
                desired.name,
                described(&error)
            )
        })?;
    Ok(())
}

/// UpdateStackSet: the new template and parameters to every instance; returns the operation.
pub async fn update(
    cf: &Client,
    organization: &Organization,
    desired: &DesiredSet,
) -> anyhow::Result<String> {
    let request = cf
        .update_stack_set()
        .stack_set_name(&desired.name)
        .description(&desired.description);
    let request = match template_source(
        &desired.name,
        &desired.body,
        desired.template_url.as_deref(),
    )? {
        TemplateSource::Url(url) => request.template_url(url),
        TemplateSource::Body(body) => request.template_body(body),
    };
    let out = request
        .set_parameters(Some(parameters(desired)))
        .set_tags(Some(tags(desired)))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        // Not PermissionModel (it cannot change while instances exist) nor ManagedExecution
        // (it cannot change together with the template): both stay as CreateStackSet set them.
        .auto_deployment(auto_deployment(organization))
        .operation_preferences(operation_preferences(organization, &organization.regions))
        .operation_id(operation_id("update"))
        .call_as(call_as(organization))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation UpdateStackSet {} failed: {}",
                desired.name,
                described(&error)
            )
        })?;
    out.operation_id
        .context("UpdateStackSet returned no OperationId")
}

/// CreateStackInstances in `regions` for the policy's targets; returns the operation.
pub(crate) async fn create_instances(
    cf: &Client,
    organization: &Organization,
    name: &str,
    regions: &[String],
) -> anyhow::Result<String> {
    let out = cf
        .create_stack_instances()
        .stack_set_name(name)
        .deployment_targets(deployment_targets(organization))
        .set_regions(Some(regions.to_vec()))
        .operation_preferences(operation_preferences(organization, regions))
        .operation_id(operation_id("create"))
        .call_as(call_as(organization))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation CreateStackInstances {name} failed: {}",
                described(&error)
            )
        })?;
    out.operation_id
        .context("CreateStackInstances returned no OperationId")
}

/// DeleteStackInstances in `regions`, for `units` (narrowed to `accounts` when given); the
/// stacks are deleted, not retained. Returns the operation.
pub(crate) async fn delete_instances(
    cf: &Client,
    organization: &Organization,
    name: &str,
    units: &[String],
    regions: &[String],
    accounts: Option<&[String]>,
) -> anyhow::Result<String> {
    let out = cf
        .delete_stack_instances()
        .stack_set_name(name)
        .deployment_targets(removal_targets(units, accounts))
        .set_regions(Some(regions.to_vec()))
        .retain_stacks(false)
        .operation_preferences(operation_preferences(organization, regions))
        .operation_id(operation_id("delete"))
        .call_as(call_as(organization))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation DeleteStackInstances {name} failed: {}",
                described(&error)
            )
        })?;
    out.operation_id
        .context("DeleteStackInstances returned no OperationId")
}

/// UpdateStackInstances: the stack set's current template and parameters again, for the
/// instances of `accounts` (in `units`) in `regions` (those left `OUTDATED` or `INOPERABLE` by
/// an earlier operation). Returns the operation.
pub(crate) async fn update_instances(
    cf: &Client,
    organization: &Organization,
    name: &str,
    units: &[String],
    accounts: &[String],
    regions: &[String],
) -> anyhow::Result<String> {
    let out = cf
        .update_stack_instances()
        .stack_set_name(name)
        .deployment_targets(removal_targets(units, Some(accounts)))
        .set_regions(Some(regions.to_vec()))
        .operation_preferences(operation_preferences(organization, regions))
        .operation_id(operation_id("retry"))
        .call_as(call_as(organization))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation UpdateStackInstances {name} failed: {}",
                described(&error)
            )
        })?;
    out.operation_id
        .context("UpdateStackInstances returned no OperationId")
}

/// DeleteStackSet (it must hold no instances).
pub async fn delete(cf: &Client, organization: &Organization, name: &str) -> anyhow::Result<()> {
    cf.delete_stack_set()
        .stack_set_name(name)
        .call_as(call_as(organization))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation DeleteStackSet {name} failed: {}",
                described(&error)
            )
        })?;
    Ok(())
}

/// Every instance of the stack set (ListStackInstances, all pages).
pub async fn instances(cf: &Client, name: &str, call_as: &CallAs) -> anyhow::Result<Vec<Instance>> {
    let mut found = Vec::new();
    let mut pages = cf
        .list_stack_instances()
        .stack_set_name(name)
        .call_as(call_as.clone())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation ListStackInstances {name} failed: {}",
                described(&error)
            )
        })?;
        for summary in page.summaries() {
            found.push(Instance {
                account: summary.account().unwrap_or_default().to_string(),
                region: summary.region().unwrap_or_default().to_string(),
                status: summary
                    .status()
                    .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string()),
                detailed_status: summary
                    .stack_instance_status()
                    .and_then(|s| s.detailed_status())
                    .map(|s| s.as_str().to_string()),
                status_reason: summary
                    .status_reason()
                    .filter(|reason| !reason.is_empty())
                    .map(str::to_string),
                drift: summary.drift_status().map(|s| s.as_str().to_string()),
                organizational_unit: summary.organizational_unit_id().map(str::to_string),
                stack_id: summary.stack_id().map(str::to_string),
            });
        }
    }
    found.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    found.dedup_by(|a, b| a.account == b.account && a.region == b.region);
    Ok(found)
}

/// Waits for the operation to end, printing its status as it changes, and returns what failed
/// (ListStackSetOperationResults). An operation that failed or stopped without naming an
/// account and Region is an error of its own.
pub async fn follow(
    cf: &Client,
    name: &str,
    operation_id: &str,
    call_as: &CallAs,
    poll: Duration,
) -> anyhow::Result<Vec<Failure>> {
    let mut spinner = xtask::ui::Spinner::on_stderr();
    let mut last = None;
    let status = loop {
        let out = cf
            .describe_stack_set_operation()
            .stack_set_name(name)
            .operation_id(operation_id)
            .call_as(call_as.clone())
            .send()
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "CloudFormation DescribeStackSetOperation {operation_id} failed: {}",
                    described(&error)
                )
            })?;
        let operation = out
            .stack_set_operation
            .context("DescribeStackSetOperation returned no operation")?;
        let status = operation
            .status()
            .cloned()
            .unwrap_or(StackSetOperationStatus::Running);
        if last.as_ref() != Some(&status) {
            spinner.line(&format!(
                "operation {operation_id} ({}): {}",
                operation.action().map_or("?", |a| a.as_str()),
                status.as_str()
            ));
            last = Some(status.clone());
        }
        match status {
            StackSetOperationStatus::Succeeded
            | StackSetOperationStatus::Failed
            | StackSetOperationStatus::Stopped => {
                spinner.clear();
                break (status, operation.status_reason().map(str::to_string));
            }
            _ => {
                spinner.turn(status.as_str());
                tokio::time::sleep(poll).await;
            }
        }
    };
    let failures = failures(cf, name, operation_id, call_as).await?;
    let (status, reason) = status;
    if status != StackSetOperationStatus::Succeeded && failures.is_empty() {
        anyhow::bail!(
            "operation {operation_id} on stack set {name} ended {}{}",
            status.as_str(),
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    Ok(failures)
}

/// The accounts and Regions an operation failed in, with CloudFormation's reasons.
async fn failures(
    cf: &Client,
    name: &str,
    operation_id: &str,
    call_as: &CallAs,
) -> anyhow::Result<Vec<Failure>> {
    let mut found = Vec::new();
    let mut pages = cf
        .list_stack_set_operation_results()
        .stack_set_name(name)
        .operation_id(operation_id)
        .call_as(call_as.clone())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            anyhow::anyhow!(
                "CloudFormation ListStackSetOperationResults {operation_id} failed: {}",
                described(&error)
            )
        })?;
        for result in page.summaries() {
            let status = result.status().cloned();
            if matches!(
                status,
                Some(
                    StackSetOperationResultStatus::Failed
                        | StackSetOperationResultStatus::Cancelled
                )
            ) {
                found.push(Failure {
                    account: result.account().unwrap_or_default().to_string(),
                    region: result.region().unwrap_or_default().to_string(),
                    status: status.map_or_else(String::new, |s| s.as_str().to_string()),
                    reason: result
                        .status_reason()
                        .unwrap_or("no reason given")
                        .to_string(),
                });
            }
        }
    }
    Ok(found)
}

/// A unique, readable operation id (CloudFormation: up to 128 letters, digits and `-`), so
/// that a retried request is one operation.
fn operation_id(action: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("gsg-{action}-{nanos}")
}

/// The accounts a stack set with these OUs reaches: every account under each OU, its child OUs
/// included, narrowed to `accounts` when the policy lists some, without the management account
/// (StackSets never deploys there).
pub(crate) async fn accounts_in(
    orgs: &aws_sdk_organizations::Client,
    organization: &Organization,
) -> anyhow::Result<BTreeSet<String>> {
    let management = orgs
        .describe_organization()
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "Organizations DescribeOrganization failed: {}",
                described(&error)
            )
        })?
        .organization
        .and_then(|o| o.master_account_id)
        .unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut parents: Vec<String> = organization.organizational_units.clone();
    let mut seen = BTreeSet::new();
    while let Some(parent) = parents.pop() {
        if !seen.insert(parent.clone()) {
            continue;
        }
        let mut accounts = orgs
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = accounts.next().await {
            let page = page.map_err(|error| {
                anyhow::anyhow!(
                    "Organizations ListAccountsForParent {parent} failed: {}",
                    described(&error)
                )
            })?;
            found.extend(
                page.accounts()
                    .iter()
                    .filter_map(|a| a.id().map(str::to_string)),
            );
        }
        let mut children = orgs
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = children.next().await {
            let page = page.map_err(|error| {
                anyhow::anyhow!(
                    "Organizations ListOrganizationalUnitsForParent {parent} failed: {}",
                    described(&error)
                )
            })?;
            parents.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|ou| ou.id().map(str::to_string)),
            );
        }
    }
    found.remove(&management);
    if let Some(only) = &organization.accounts {
        found.retain(|account| only.contains(account));
    }
    Ok(found)
}

/// The request contract of the StackSets calls, with mocked answers: moto accepts `CallAs`,
/// `AutoDeployment`, `OperationPreferences` and `AccountFilterType` but ignores them, and
/// finishes every operation at once, so it can neither check these requests nor fail an
/// instance. Each mock answers only a request that carries exactly what the policy says; any
/// other request finds no rule and fails the call.
#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::operation::describe_stack_set_operation::DescribeStackSetOperationOutput;
    use aws_sdk_cloudformation::operation::list_stack_set_operation_results::ListStackSetOperationResultsOutput;
    use aws_sdk_cloudformation::types::{
        StackSetOperation, StackSetOperationAction, StackSetOperationResultSummary,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn organization() -> Organization {
        let text = "version: 1\nstack: {name: gsg, region: eu-west-1}\n\
                    boundaries: {max_workers: 10}\n\
                    organization:\n  id: o-a1b2c3d4e5\n  \
                    organizational_units: [ou-ab12-11111111, ou-ab12-22222222]\n  \
                    accounts: ['111111111111', '222222222222']\n  \
                    regions: [eu-west-1, us-east-1]\n  \
                    auto_deployment: false\n  \
                    max_concurrent_percentage: 25\n  failure_tolerance_percentage: 10\n  \
                    region_concurrency: sequential\n  call_as: delegated_admin\n";
        policy::load_policy("org.yaml", text.as_bytes())
            .unwrap()
            .organization
            .unwrap()
    }

    fn desired() -> DesiredSet {
        DesiredSet {
            template_url: None,
            name: "gsg".into(),
            description: "d".into(),
            body: "Resources: {}".into(),
            parameters: vec![("CodeKey".into(), "lambda/abc.zip".into())],
            tags: vec![("team".into(), "data".into())],
        }
    }

    fn targets_are_the_policys(targets: Option<&DeploymentTargets>) -> bool {
        targets.is_some_and(|t| {
            t.organizational_unit_ids() == ["ou-ab12-11111111", "ou-ab12-22222222"]
                && t.accounts() == ["111111111111", "222222222222"]
                && t.account_filter_type() == Some(&AccountFilterType::Intersection)
        })
    }

    fn preferences_are_the_policys(
        preferences: Option<&StackSetOperationPreferences>,
        regions: &[&str],
    ) -> bool {
        preferences.is_some_and(|p| {
            p.region_concurrency_type() == Some(&RegionConcurrencyType::Sequential)
                && p.region_order() == regions
                && p.concurrency_mode() == Some(&ConcurrencyMode::SoftFailureTolerance)
                && p.max_concurrent_percentage() == Some(25)
                && p.failure_tolerance_percentage() == Some(10)
        })
    }

    #[tokio::test]
    async fn every_request_carries_call_as_the_targets_and_the_operation_preferences() {
        let delegated = Some(&CallAs::DelegatedAdmin);
        let create_set = mock!(Client::create_stack_set)
            .match_requests(move |r| {
                r.call_as() == delegated
                    && r.permission_model() == Some(&PermissionModels::ServiceManaged)
                    && r.auto_deployment().is_some_and(|a| {
                        a.enabled() == Some(false) && a.retain_stacks_on_account_removal().is_none()
                    })
                    && r.managed_execution().and_then(|m| m.active()) == Some(true)
                    && r.capabilities().contains(&Capability::CapabilityNamedIam)
                    && r.parameters().len() == 1
                    && r.tags().len() == 1
            })
            .then_output(|| {
                aws_sdk_cloudformation::operation::create_stack_set::CreateStackSetOutput::builder()
                    .stack_set_id("gsg:1")
                    .build()
            });
        let create_instances_rule = mock!(Client::create_stack_instances)
            .match_requests(move |r| {
                r.call_as() == delegated
                    && targets_are_the_policys(r.deployment_targets())
                    && r.regions() == ["us-east-1"]
                    && preferences_are_the_policys(r.operation_preferences(), &["us-east-1"])
                    && r.operation_id().is_some_and(|id| id.starts_with("gsg-create-"))
            })
            .then_output(|| {
                aws_sdk_cloudformation::operation::create_stack_instances::CreateStackInstancesOutput::builder()
                    .operation_id("op-create")
                    .build()
            });
        let update_rule = mock!(Client::update_stack_set)
            .match_requests(move |r| {
                r.call_as() == delegated
                    && preferences_are_the_policys(
                        r.operation_preferences(),
                        &["eu-west-1", "us-east-1"],
                    )
                    && r.auto_deployment().and_then(|a| a.enabled()) == Some(false)
                    && r.permission_model().is_none()
                    && r.managed_execution().is_none()
                    && r.template_body() == Some("Resources: {}")
            })
            .then_output(|| {
                aws_sdk_cloudformation::operation::update_stack_set::UpdateStackSetOutput::builder()
                    .operation_id("op-update")
                    .build()
            });
        let delete_some = mock!(Client::delete_stack_instances)
            .match_requests(move |r| {
                r.call_as() == delegated
                    && r.retain_stacks() == Some(false)
                    && r.regions() == ["eu-west-1", "us-east-1"]
                    && r.deployment_targets().is_some_and(|t| {
                        t.organizational_unit_ids().len() == 2
                            && t.accounts() == ["222222222222"]
                            && t.account_filter_type() == Some(&AccountFilterType::Intersection)
                    })
                    && preferences_are_the_policys(
                        r.operation_preferences(),
                        &["eu-west-1", "us-east-1"],
                    )
            })
            .then_output(|| {
                aws_sdk_cloudformation::operation::delete_stack_instances::DeleteStackInstancesOutput::builder()
                    .operation_id("op-delete")
                    .build()
            });
        let retry = mock!(Client::update_stack_instances)
            .match_requests(move |r| {
                r.call_as() == delegated
                    && r.regions() == ["us-east-1"]
                    && r.deployment_targets().is_some_and(|t| {
                        t.organizational_unit_ids().len() == 2
                            && t.accounts() == ["222222222222"]
                            && t.account_filter_type() == Some(&AccountFilterType::Intersection)
                    })
                    && preferences_are_the_policys(r.operation_preferences(), &["us-east-1"])
                    && r.operation_id().is_some_and(|id| id.starts_with("gsg-retry-"))
            })
            .then_output(|| {
                aws_sdk_cloudformation::operation::update_stack_instances::UpdateStackInstancesOutput::builder()
                    .operation_id("op-retry")
                    .build()
            });
        let delete_set = mock!(Client::delete_stack_set)
            .match_requests(move |r| r.call_as() == delegated && r.stack_set_name() == Some("gsg"))
            .then_output(|| {
                aws_sdk_cloudformation::operation::delete_stack_set::DeleteStackSetOutput::builder()
                    .build()
            });
        let cf = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [
                &create_set,
                &create_instances_rule,
                &update_rule,
                &delete_some,
                &retry,
                &delete_set
            ]
        );
        let organization = organization();
        create(&cf, &organization, &desired()).await.unwrap();
        assert_eq!(
            create_instances(&cf, &organization, "gsg", &["us-east-1".to_string()])
                .await
                .unwrap(),
            "op-create"
        );
        assert_eq!(
            update(&cf, &organization, &desired()).await.unwrap(),
            "op-update"
        );
        let regions = organization.regions.clone();
        assert_eq!(
            delete_instances(
                &cf,
                &organization,
                "gsg",
                &organization.organizational_units,
                &regions,
                Some(&["222222222222".to_string()])
            )
            .await
            .unwrap(),
            "op-delete"
        );
        assert_eq!(
            update_instances(
                &cf,
                &organization,
                "gsg",
                &organization.organizational_units,
                &["222222222222".to_string()],
                &["us-east-1".to_string()],
            )
            .await
            .unwrap(),
            "op-retry"
        );
        delete(&cf, &organization, "gsg").await.unwrap();
        for rule in [
            &create_set,
            &create_instances_rule,
            &update_rule,
            &delete_some,
            &retry,
            &delete_set,
        ] {
            assert_eq!(rule.num_calls(), 1);
        }
    }

    #[test]
    fn stacks_are_retained_only_with_auto_deployment_and_without_accounts_there_is_no_filter() {
        let mut organization = organization();
        organization.auto_deployment = true;
        organization.retain_stacks_on_account_removal = true;
        organization.accounts = None;
        let auto = auto_deployment(&organization);
        assert_eq!(auto.enabled(), Some(true));
        assert_eq!(auto.retain_stacks_on_account_removal(), Some(true));
        let targets = deployment_targets(&organization);
        assert!(targets.accounts().is_empty());
        assert_eq!(targets.account_filter_type(), None);
        assert_eq!(call_as(&organization), CallAs::DelegatedAdmin);
    }

    #[tokio::test]
    async fn follow_waits_for_the_operation_and_names_the_failed_account_and_region() {
        let operation = |status: StackSetOperationStatus| {
            DescribeStackSetOperationOutput::builder()
                .stack_set_operation(
                    StackSetOperation::builder()
                        .operation_id("op-1")
                        .action(StackSetOperationAction::Create)
                        .status(status)
                        .build(),
                )
                .build()
        };
        let describe = mock!(Client::describe_stack_set_operation)
            .match_requests(|r| {
                r.operation_id() == Some("op-1") && r.call_as() == Some(&CallAs::SelfValue)
            })
            .sequence()
            .output(move || operation(StackSetOperationStatus::Queued))
            .output(move || operation(StackSetOperationStatus::Running))
            .output(move || operation(StackSetOperationStatus::Failed))
            .build();
        let results = mock!(Client::list_stack_set_operation_results)
            .match_requests(|r| r.operation_id() == Some("op-1"))
            .then_output(|| {
                ListStackSetOperationResultsOutput::builder()
                    .summaries(
                        StackSetOperationResultSummary::builder()
                            .account("111111111111")
                            .region("eu-west-1")
                            .status(StackSetOperationResultStatus::Succeeded)
                            .build(),
                    )
                    .summaries(
                        StackSetOperationResultSummary::builder()
                            .account("222222222222")
                            .region("us-east-1")
                            .status(StackSetOperationResultStatus::Failed)
                            .status_reason(
                                "ResourceLogicalId:EnforcerFunction, ResourceType:AWS::Lambda::Function, ResourceStatusReason:Your access has been denied by S3",
                            )
                            .build(),
                    )
                    .summaries(
                        StackSetOperationResultSummary::builder()
                            .account("333333333333")
                            .region("us-east-1")
                            .status(StackSetOperationResultStatus::Cancelled)
                            .build(),
                    )
                    .build()
            });
        let cf = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&describe, &results]
        );
        let failures = follow(
            &cf,
            "gsg",
            "op-1",
            &CallAs::SelfValue,
            Duration::from_millis(1),
        )
        .await
        .unwrap();
        assert_eq!(describe.num_calls(), 3);
        assert_eq!(
            failures
                .iter()
                .map(|failure| failure.to_string())
                .collect::<Vec<_>>(),
            [
                "222222222222 us-east-1: FAILED: ResourceLogicalId:EnforcerFunction, ResourceType:AWS::Lambda::Function, ResourceStatusReason:Your access has been denied by S3",
                "333333333333 us-east-1: CANCELLED: no reason given",
            ]
        );
    }

    #[tokio::test]
    async fn an_operation_that_fails_without_results_is_an_error_naming_its_reason() {
        let describe = mock!(Client::describe_stack_set_operation).then_output(|| {
            DescribeStackSetOperationOutput::builder()
                .stack_set_operation(
                    StackSetOperation::builder()
                        .status(StackSetOperationStatus::Stopped)
                        .status_reason("stopped by the user")
                        .build(),
                )
                .build()
        });
        let results = mock!(Client::list_stack_set_operation_results)
            .then_output(|| ListStackSetOperationResultsOutput::builder().build());
        let cf = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&describe, &results]
        );
        let error = follow(
            &cf,
            "gsg",
            "op-2",
            &CallAs::SelfValue,
            Duration::from_millis(1),
        )
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "operation op-2 on stack set gsg ended STOPPED: stopped by the user"
        );
    }
}
