//! `--org`: the guard in every account and Region of the policy's `organization`, as one
//! CloudFormation StackSet with service-managed permissions. StackSets does the fan-out
//! (concurrency, failure tolerance, retries, accounts that join later); these commands build the
//! package once, stage it in one artifact bucket per Region, and drive and report the stack
//! set's operations.
//!
//! - `deploy --org`: the buckets (readable by the organization through `aws:PrincipalOrgID`), then
//!   CreateStackSet or UpdateStackSet, CreateStackInstances for new accounts and Regions, and
//!   DeleteStackInstances for Regions or accounts the policy dropped, each after the user agrees;
//!   every operation is followed to its end and its failures printed per account and Region.
//! - `plan --org`: the instances that would be created, updated or removed, and the template's
//!   change as a diff.
//! - `status --org`: one row per account and Region; exit 1 when any needs attention.
//! - `clean-up --org`: delete the instances, the stack set, then the buckets.

pub mod demo;
pub mod emulated;
pub mod instances;
pub mod member;

pub mod stackset;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use aws_sdk_cloudformation::types::StackSet;
use policy::Policy;
use policy::model::Organization;
use serde::Serialize;

use crate::artifacts::{self, Package, Staging, Transport};
use crate::aws::{self, Aws, AwsArgs, Caller};
use instances::{Failure, Instance, InstancePlan};
use stackset::DesiredSet;
use xtask::package::Architecture;
use xtask::ui::{Consent, Terminal};
use xtask::{Exit, paths, template};

/// The policy's `organization`, or an error naming the file and the missing section.
pub fn organization<'p>(
    policy: &'p Policy,
    file: &std::path::Path,
) -> anyhow::Result<&'p Organization> {
    policy.organization.as_ref().with_context(|| {
        format!(
            "{}: organization: --org needs an `organization` section (its OUs, Regions and id); \
             see README \"A whole organization\"",
            paths::shown(file)
        )
    })
}

/// The stack set as deploy wants it.
fn desired(
    policy: &Policy,
    body: String,
    code_bucket_prefix: &str,
    package: &Package,
    arch: Architecture,
) -> DesiredSet {
    DesiredSet {
        name: policy.stack.name.clone(),
        description: format!(
            "Glue Session Guard {}: stops Glue interactive sessions out of bounds, in every \
             account of the organization's targets",
            policy.stack.name
        ),
        body,
        template_url: None,
        parameters: vec![
            ("CodeBucket".to_string(), code_bucket_prefix.to_string()),
            ("CodeKey".to_string(), package.key.clone()),
            ("Architecture".to_string(), arch.lambda_name().to_string()),
        ],
        tags: template::stack_tags(policy),
    }
}

/// The Regions that get an artifact bucket: every Region of the organization (each stack
/// instance reads its code in its own Region), and the one the stack set is administered from
/// (CloudFormation reads the template there).
fn bucket_regions(organization: &Organization, admin_region: &str) -> Vec<String> {
    let mut regions = organization.regions.clone();
    if !regions.iter().any(|region| region == admin_region) {
        regions.push(admin_region.to_string());
    }
    regions
}

/// What `deploy --org` or `plan --org` finds and would do.
#[derive(Debug, Serialize)]
pub struct OrgPlan {
    pub stack_set: String,
    /// Where the stack set is administered (the caller's account and the policy's Region).
    pub account: String,
    pub region: String,
    /// `create-stack-set`, `update-stack-set` or `no-changes`.
    pub kind: &'static str,
    pub instances: InstancePlan,
    /// A unified diff of the template (empty for a new stack set or no change).
    pub template_diff: String,
    /// Parameters that change: `(key, before, after)`.
    pub parameter_changes: Vec<(String, Option<String>, String)>,
    /// The policy's exceptions that have expired or expire within 14 days (`plan --org` fills
    /// it in).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<xtask::expiring::Expiring>,
}

impl std::fmt::Display for OrgPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl xtask::output::Outcome for OrgPlan {
    fn markdown(&self) -> String {
        self.to_markdown()
    }

    /// Yes: what deploy --org would do is the answer (its failures are per account, at deploy).
    fn answer(&self) -> xtask::output::Answer {
        xtask::output::Answer::Yes
    }
}

impl OrgPlan {
    fn new(
        caller: &Caller,
        aws: &Aws,
        organization: &Organization,
        found: Option<&StackSet>,
        desired: &DesiredSet,
        instances: InstancePlan,
    ) -> OrgPlan {
        let (kind, template_diff, parameter_changes) = match found {
            None => ("create-stack-set", String::new(), Vec::new()),
            Some(set) if stackset::differs(set, organization, desired) => {
                let before = set.template_body().unwrap_or_default();
                let diff = similar::TextDiff::from_lines(before, desired.body.as_str())
                    .unified_diff()
                    .context_radius(2)
                    .header("deployed", "rendered")
                    .to_string();
                let there: BTreeMap<&str, &str> = set
                    .parameters()
                    .iter()
                    .map(|p| {
                        (
                            p.parameter_key().unwrap_or_default(),
                            p.parameter_value().unwrap_or_default(),
                        )
                    })
                    .collect();
                let changes = desired
                    .parameters
                    .iter()
                    .filter(|(key, value)| there.get(key.as_str()) != Some(&value.as_str()))
                    .map(|(key, value)| {
                        (
                            key.clone(),
                            there.get(key.as_str()).map(|v| v.to_string()),
                            value.clone(),
                        )
                    })
                    .collect();
                ("update-stack-set", diff, changes)
            }
            Some(_) => ("no-changes", String::new(), Vec::new()),
        };
        OrgPlan {
            stack_set: desired.name.clone(),
            account: caller.account.clone(),
            region: aws.region.clone(),
            kind,
            instances,
            template_diff,
            parameter_changes,
            expiring: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kind == "no-changes" && self.instances.is_empty()
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "stack set {} (administered from account {}, {}): {}\n",
            self.stack_set, self.account, self.region, self.kind
        );
        for (key, before, after) in &self.parameter_changes {
            out.push_str(&format!(
                "  parameter {key}: {} -> {after}\n",
                before.as_deref().unwrap_or("(none)")
            ));
        }
        out.push_str(&self.instances.to_string());
        if !self.template_diff.is_empty() {
            out.push_str("template change:\n");
            out.push_str(&self.template_diff);
        }
        out.push_str(&xtask::expiring::text(&self.expiring));
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "### Stack set `{}` (account {}, {}): {}\n\n",
            self.stack_set, self.account, self.region, self.kind
        );
        if !self.parameter_changes.is_empty() {
            out.push_str("| parameter | before | after |\n|---|---|---|\n");
            for (key, before, after) in &self.parameter_changes {
                out.push_str(&format!(
                    "| {key} | {} | {after} |\n",
                    before.as_deref().unwrap_or("")
                ));
            }
            out.push('\n');
        }
        out.push_str("#### Stack instances\n\n");
        out.push_str(&self.instances.to_markdown());
        if !self.template_diff.is_empty() {
            out.push_str("\n#### Template change\n\n```diff\n");
            out.push_str(&self.template_diff);
            out.push_str("```\n");
        }
        out.push_str(&xtask::expiring::to_markdown(&self.expiring));
        out
    }
}

/// The accounts the policy's targets reach, or why they cannot be read.
async fn wanted_accounts(
    aws: &Aws,
    organization: &Organization,
) -> Result<BTreeSet<String>, String> {
    stackset::accounts_in(&aws.organizations(), organization)
        .await
        .map_err(|error| format!("{error:#}"))
}

/// Finds everything `deploy --org` and `plan --org` compare, changing nothing.
struct Survey {
    found: Option<StackSet>,
    existing: Vec<Instance>,
    plan: OrgPlan,
}

async fn survey(
    aws: &Aws,
    policy: &Policy,
    organization: &Organization,
    desired: &DesiredSet,
) -> anyhow::Result<Survey> {
    let caller = aws::caller(aws).await?;
    let cf = aws.cloudformation();
    let call_as = stackset::call_as(organization);
    let found = stackset::describe(&cf, &policy.stack.name, &call_as).await?;
    // The guardrail policy's name is global to each account: moving it to another Region's
    // instance would create it there while the old one still holds the name.
    if let Some(deployed) = found
        .as_ref()
        .and_then(|set| set.template_body())
        .and_then(instances::guardrail_region)
        && deployed != organization.regions[0]
    {
        anyhow::bail!(
            "organization.regions: the first Region changes from {deployed} to {}: the \
             guardrail policy (one per account, IAM names are global) lives in the first \
             Region's stack instances and cannot move to another Region's in one operation. Keep \
             {deployed} first (nothing was changed)",
            organization.regions[0]
        );
    }
    let existing = match &found {
        Some(_) => stackset::instances(&cf, &policy.stack.name, &call_as).await?,
        None => Vec::new(),
    };
    let changes = found
        .as_ref()
        .is_some_and(|set| stackset::differs(set, organization, desired));
    let instance_plan = match wanted_accounts(aws, organization).await {
        Ok(accounts) => InstancePlan::new(
            Some(&instances::wanted(&accounts, &organization.regions)),
            &organization.regions,
            &existing,
            changes,
            None,
        ),
        Err(why) => InstancePlan::new(None, &organization.regions, &existing, changes, Some(why)),
    };
    let plan = OrgPlan::new(
        &caller,
        aws,
        organization,
        found.as_ref(),
        desired,
        instance_plan,
    );
    Ok(Survey {
        found,
        existing,
        plan,
    })
}

/// `deploy --org`. Nothing changes before the user agrees to the plan.
pub async fn deploy(
    deploy: &crate::account::deploy::DeployOptions,
    terminal: Terminal,
) -> anyhow::Result<()> {
    let policy = paths::load_policy(&deploy.aws.policy)?;
    let organization = organization(&policy, &deploy.aws.policy)?;
    let name = policy.stack.name.clone();
    let consent = Consent::decide(
        deploy.confirmation,
        terminal,
        &format!("deploying stack set {name}"),
    )?;
    let aws = Aws::load(&deploy.aws, policy.stack.region.as_deref()).await?;
    let caller = aws::caller(&aws).await?;
    eprintln!(
        "stack set {name}, administered from account {} ({}) in {}, as {}",
        caller.account,
        caller.arn,
        aws.region,
        organization.call_as.as_str()
    );
    // Each member's events need a trail: an organization trail covers every member.
    for finding in crate::preflight::organization(&aws).await {
        eprintln!("{finding}");
    }
    if policy
        .usage_profiles
        .as_ref()
        .is_some_and(|profiles| !profiles.roles.is_empty())
    {
        eprintln!(
            "note: usage_profiles.roles are not assigned by --org: each member account's \
             stack holds the profiles and the guardrail policy; tag and attach them there"
        );
    }

    // Render and build, once, on this machine.
    let body = template::render_stack(&policy)?;
    let package = Package::read(&deploy.package_async().await?)?;
    let prefix = artifacts::org_bucket_prefix(&name, &caller.account);
    let mut desired = desired(&policy, body, &prefix, &package, deploy.arch);

    // What is there, and what would change.
    let survey = survey(&aws, &policy, organization, &desired).await?;
    let mut staging = Vec::new();
    for region in bucket_regions(organization, &aws.region) {
        let region = &region;
        let s3 = aws.in_region(region).s3();
        let bucket = format!("{prefix}-{region}");
        staging.push((
            region.clone(),
            bucket.clone(),
            Staging::find(&s3, &bucket, &package).await?,
        ));
    }
    eprint!("{}", survey.plan.to_text());
    let uploads: Vec<String> = staging
        .iter()
        .filter_map(|(_, bucket, staged)| staged.changes(bucket, &package))
        .collect();
    if survey.plan.is_empty() && uploads.is_empty() {
        println!("nothing to do: the stack set and its instances match the policy");
        return Ok(());
    }
    for upload in &uploads {
        eprintln!("  artifacts: {upload}");
    }
    let question = format!(
        "Deploy stack set {name} to the organization's {} OU(s) in {} Region(s), as shown?",
        organization.organizational_units.len(),
        organization.regions.len()
    );
    if !consent.confirm(&question)? {
        eprintln!("cancelled: nothing was changed");
        return Ok(());
    }

    // The package, in every Region's bucket; the bucket policy put again on each, so that a
    // changed organization.id reaches buckets created before.
    let transport = Transport::of(aws.endpoint_url.as_deref());
    for (region, bucket, staged) in &staging {
        let s3 = aws.in_region(region).s3();
        match staged {
            Staging::Ready => {}
            Staging::Upload => artifacts::upload(&s3, bucket, &package).await?,
            Staging::CreateBucketAndUpload => {
                artifacts::create_bucket(
                    &s3,
                    bucket,
                    region,
                    &name,
                    transport,
                    Some(&organization.id),
                )
                .await?;
                artifacts::upload(&s3, bucket, &package).await?;
            }
        }
        if *staged != Staging::CreateBucketAndUpload {
            artifacts::put_bucket_policy(&s3, bucket, region, transport, Some(&organization.id))
                .await?;
        }
    }

    // The template, from the bucket of the Region the stack set is administered in
    // (TemplateURL: 1 MB, where TemplateBody takes 51,200 bytes).
    let admin_bucket = format!("{prefix}-{}", aws.region);
    desired.template_url = Some(
        artifacts::upload_template(&aws.s3(), &admin_bucket, &aws.region, &desired.body).await?,
    );

    // The stack set and its instances, each operation followed to its end: what goes first
    // (no update is spent on an instance about to go), then the update, then what is new,
    // then what an earlier operation left behind.
    let cf = aws.cloudformation();
    let call_as = stackset::call_as(organization);
    let poll = aws.poll_interval();
    let mut failures: Vec<Failure> = Vec::new();
    let plan = &survey.plan.instances;
    if survey.found.is_none() {
        eprintln!("creating stack set {name}");
        stackset::create(&cf, organization, &desired).await?;
    }
    if !plan.remove.is_empty() {
        remove_dropped(
            &cf,
            organization,
            &name,
            &survey.existing,
            plan,
            &call_as,
            poll,
            &mut failures,
        )
        .await?;
    }
    if survey.found.is_some() && survey.plan.kind == "update-stack-set" {
        eprintln!(
            "updating stack set {name} and its {} instance(s)",
            plan.update.len()
        );
        let operation = stackset::update(&cf, organization, &desired).await?;
        failures.extend(stackset::follow(&cf, &name, &operation, &call_as, poll).await?);
    }
    // A new stack set gets its OUs as targets in every Region even when they hold no account
    // yet: auto-deployment then reaches the accounts that join them.
    let create_regions = if survey.found.is_none() {
        organization.regions.clone()
    } else {
        plan.create_regions()
    };
    if !create_regions.is_empty() {
        eprintln!("creating stack instances in {}", create_regions.join(", "));
        let operation =
            stackset::create_instances(&cf, organization, &name, &create_regions).await?;
        failures.extend(stackset::follow(&cf, &name, &operation, &call_as, poll).await?);
    }
    if !plan.retry.is_empty() {
        let accounts: Vec<String> = distinct_of(plan.retry.iter().map(|(account, _)| account));
        let regions: Vec<String> = distinct_of(plan.retry.iter().map(|(_, region)| region));
        eprintln!(
            "applying the stack set again to {} instance(s) an earlier operation left behind",
            plan.retry.len()
        );
        let operation = stackset::update_instances(
            &cf,
            organization,
            &name,
            &units_of(&survey.existing, &plan.retry, organization),
            &accounts,
            &regions,
        )
        .await?;
        failures.extend(stackset::follow(&cf, &name, &operation, &call_as, poll).await?);
    }

    let now = stackset::instances(&cf, &name, &call_as).await?;
    println!(
        "stack set {name}: {} instance(s) in {} account(s)",
        now.len(),
        now.iter()
            .map(|i| &i.account)
            .collect::<BTreeSet<_>>()
            .len()
    );
    if failures.is_empty() {
        println!("every operation succeeded");
        Ok(())
    } else {
        println!("failed:");
        for failure in &failures {
            println!("  {failure}");
        }
        anyhow::bail!(
            "stack set {name}: {} account/Region pair(s) failed (above); fix them and deploy \
             again: the others are deployed",
            failures.len()
        )
    }
}

/// The distinct values, sorted.
fn distinct_of<'a>(values: impl Iterator<Item = &'a String>) -> Vec<String> {
    values
        .collect::<BTreeSet<_>>()
        .into_iter()
        .cloned()
        .collect()
}

/// The OUs the instances of `keys` were deployed through (as ListStackInstances reports), else
/// the policy's.
fn units_of(
    existing: &[Instance],
    keys: &[(String, String)],
    organization: &Organization,
) -> Vec<String> {
    let units: BTreeSet<&String> = existing
        .iter()
        .filter(|instance| keys.contains(&instance.key()))
        .filter_map(|instance| instance.organizational_unit.as_ref())
        .collect();
    if units.is_empty() {
        organization.organizational_units.clone()
    } else {
        units.into_iter().cloned().collect()
    }
}

/// Deletes the instances the policy no longer wants, in the targets StackSets knows them by:
/// Regions it dropped (every OU of theirs), OUs it dropped (every Region), and accounts dropped
/// from `organization.accounts` (their OUs, filtered to them, in the Regions it keeps).
#[allow(clippy::too_many_arguments)]
async fn remove_dropped(
    cf: &aws_sdk_cloudformation::Client,
    organization: &Organization,
    name: &str,
    existing: &[Instance],
    plan: &InstancePlan,
    call_as: &aws_sdk_cloudformation::types::CallAs,
    poll: std::time::Duration,
    failures: &mut Vec<Failure>,
) -> anyhow::Result<()> {
    let kept_region = |region: &String| organization.regions.contains(region);
    let kept_unit = |unit: &Option<String>| {
        unit.as_ref()
            .is_none_or(|unit| organization.organizational_units.contains(unit))
    };
    let removed: Vec<&Instance> = existing
        .iter()
        .filter(|instance| plan.remove.contains(&instance.key()))
        .collect();
    // (what, OUs, Regions, accounts filter)
    type Removal = (String, Vec<String>, Vec<String>, Option<Vec<String>>);
    let mut batches: Vec<Removal> = Vec::new();
    // Dropped Regions.
    let regions = distinct_of(
        removed
            .iter()
            .filter(|i| !kept_region(&i.region))
            .map(|i| &i.region),
    );
    if !regions.is_empty() {
        let keys: Vec<(String, String)> = removed
            .iter()
            .filter(|i| !kept_region(&i.region))
            .map(|i| i.key())
            .collect();
        batches.push((
            format!("in {}", regions.join(", ")),
            units_of(existing, &keys, organization),
            regions,
            None,
        ));
    }
    // Dropped OUs, in the Regions kept.
    let units = distinct_of(
        removed
            .iter()
            .filter(|i| kept_region(&i.region) && !kept_unit(&i.organizational_unit))
            .filter_map(|i| i.organizational_unit.as_ref()),
    );
    if !units.is_empty() {
        batches.push((
            format!("of OU(s) {}", units.join(", ")),
            units,
            organization.regions.clone(),
            None,
        ));
    }
    // Accounts dropped from `accounts`, in the OUs and Regions kept.
    let still: Vec<&&Instance> = removed
        .iter()
        .filter(|i| kept_region(&i.region) && kept_unit(&i.organizational_unit))
        .collect();
    let accounts = distinct_of(still.iter().map(|i| &i.account));
    if !accounts.is_empty() {
        let keys: Vec<(String, String)> = still.iter().map(|i| i.key()).collect();
        batches.push((
            format!("of account(s) {}", accounts.join(", ")),
            units_of(existing, &keys, organization),
            distinct_of(still.iter().map(|i| &i.region)),
            Some(accounts),
        ));
    }
    for (what, units, regions, accounts) in batches {
        println!("removing stack instances {what}");
        let operation = stackset::delete_instances(
            cf,
            organization,
            name,
            &units,
            &regions,
            accounts.as_deref(),
        )
        .await?;
        failures.extend(stackset::follow(cf, name, &operation, call_as, poll).await?);
    }
    Ok(())
}

/// `plan --org`: what a deploy would do, changing nothing (the package's key is its content
/// hash, so the plan needs the package that deploy would use).
pub async fn plan(options: &crate::account::deploy::DeployOptions) -> anyhow::Result<OrgPlan> {
    let args = &options.aws;
    let arch = options.arch;
    let policy = paths::load_policy(&args.policy)?;
    let organization = organization(&policy, &args.policy)?;
    let aws = Aws::load(args, policy.stack.region.as_deref()).await?;
    let caller = aws::caller(&aws).await?;
    let body = template::render_stack(&policy)?;
    let package = Package::read(&options.package_async().await?)?;
    let prefix = artifacts::org_bucket_prefix(&policy.stack.name, &caller.account);
    let desired = desired(&policy, body, &prefix, &package, arch);
    let mut plan = survey(&aws, &policy, organization, &desired).await?.plan;
    let now = policy::time::unix_seconds(std::time::SystemTime::now());
    plan.expiring = xtask::expiring::list(&policy, now);
    Ok(plan)
}

/// `status --org`: every instance, one row each; exit 1 when any needs attention or there is
/// no stack set.
pub async fn status(args: &AwsArgs, deep: Option<&str>) -> anyhow::Result<Exit> {
    let policy = paths::load_policy(&args.policy)?;
    let organization = organization(&policy, &args.policy)?;
    let name = &policy.stack.name;
    let aws = Aws::load(args, policy.stack.region.as_deref()).await?;
    let caller = aws::caller(&aws).await?;
    let cf = aws.cloudformation();
    let call_as = stackset::call_as(organization);
    let Some(set) = stackset::describe(&cf, name, &call_as).await? else {
        println!(
            "stack set {name}: not deployed (administered from {})",
            aws.region
        );
        return Ok(Exit::Failed);
    };
    println!(
        "stack set {name}: {}",
        set.status().map_or("UNKNOWN", |s| s.as_str())
    );
    let found = stackset::instances(&cf, name, &call_as).await?;
    let wanted = wanted_accounts(&aws, organization).await;
    let mut attention: Vec<String> = found
        .iter()
        .filter_map(|instance| {
            instance
                .attention()
                .map(|why| format!("{} {}: {why}", instance.account, instance.region))
        })
        .collect();
    let mut in_accounts = BTreeMap::new();
    if let Some(role) = deep {
        let partition = crate::assign::partition_of(&caller.arn);
        for instance in &found {
            let (shown, problems) = deep_look(&aws, &partition, role, &policy, instance).await;
            for problem in problems {
                attention.push(format!(
                    "{} {}: {problem}",
                    instance.account, instance.region
                ));
            }
            in_accounts.insert(instance.key(), shown);
        }
    }
    print!("{}", instances::status_table(&found, &in_accounts));
    match &wanted {
        Ok(accounts) => {
            let there: BTreeSet<(String, String)> = found.iter().map(Instance::key).collect();
            for (account, region) in instances::wanted(accounts, &organization.regions) {
                if !there.contains(&(account.clone(), region.clone())) {
                    attention.push(format!(
                        "{account} {region}: no stack instance (deploy --org)"
                    ));
                }
            }
        }
        Err(why) => println!("note: the accounts in the OUs cannot be read ({why})"),
    }
    println!(
        "{} instance(s) in {} account(s) and {} Region(s)",
        found.len(),
        found
            .iter()
            .map(|i| &i.account)
            .collect::<BTreeSet<_>>()
            .len(),
        found
            .iter()
            .map(|i| &i.region)
            .collect::<BTreeSet<_>>()
            .len()
    );
    if attention.is_empty() {
        println!("every instance is current");
        Ok(Exit::Success)
    } else {
        println!("needs attention:");
        for line in &attention {
            println!("  {line}");
        }
        Ok(Exit::Failed)
    }
}

/// What `--deep` reads in an instance's account: the dead-letter queue's depth (from the
/// stack's `DeadLetterQueueUrl` output), the guard's alarms (`<guard>-…`), the trail the
/// account's events need (an organization trail counts), and the email subscriptions of its
/// topics. Returns the cell for the table and what is wrong or unreadable, each in words.
async fn deep_look(
    aws: &Aws,
    partition: &str,
    role: &str,
    policy: &Policy,
    instance: &Instance,
) -> (String, Vec<String>) {
    match read_member(aws, partition, role, policy, instance).await {
        Ok(read) => {
            let (shown, problem) = deep_cell(read.depth, &read.alarming, read.alarms);
            let mut problems: Vec<String> = problem.into_iter().collect();
            problems.extend(read.trail.map(|finding| finding.message));
            problems.extend(read.subscriptions);
            (shown, problems)
        }
        Err(error) => ("unreadable".to_string(), vec![format!("{error:#}")]),
    }
}

/// What `--deep` read in one member account.
struct MemberRead {
    depth: Option<u64>,
    alarming: Vec<String>,
    alarms: usize,
    /// The CloudTrail prerequisite, when it is not met there.
    trail: Option<crate::preflight::Finding>,
    /// Pending or missing email subscriptions, in words.
    subscriptions: Vec<String>,
}

/// The `--deep` cell and, when something needs attention, why: events in the dead-letter queue,
/// an alarm in ALARM, or a depth that could not be read.
fn deep_cell(depth: Option<u64>, alarming: &[String], alarms: usize) -> (String, Option<String>) {
    let shown = format!(
        "DLQ {}, alarms {}",
        depth.map_or_else(|| "?".to_string(), |d| d.to_string()),
        if alarming.is_empty() {
            format!("{alarms} OK")
        } else {
            format!("ALARM: {}", alarming.join(", "))
        }
    );
    let problem = if !alarming.is_empty() {
        Some(format!("in alarm: {}", alarming.join(", ")))
    } else {
        match depth {
            Some(0) => None,
            Some(depth) => Some(format!("{depth} event(s) in the dead-letter queue")),
            None => Some("the dead-letter queue's depth is unknown".to_string()),
        }
    };
    (shown, problem)
}

/// The dead-letter queue's depth, the alarms in ALARM and how many alarms there are, the trail,
/// and the subscriptions.
async fn read_member(
    aws: &Aws,
    partition: &str,
    role: &str,
    policy: &Policy,
    instance: &Instance,
) -> anyhow::Result<MemberRead> {
    let guard = policy.stack.name.as_str();
    let member =
        member::in_account(aws, partition, &instance.account, role, &instance.region).await?;
    let stack_id = instance
        .stack_id
        .as_deref()
        .context("the stack instance reports no StackId")?;
    let stack = crate::stack::describe(&member.cloudformation(), stack_id)
        .await?
        .with_context(|| format!("stack {stack_id} is not in the account"))?;
    let depth = match crate::stack::output(&stack, "DeadLetterQueueUrl") {
        Some(url) => member
            .sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("SQS GetQueueAttributes failed: {}", aws::described(&e)))?
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|depth| depth.parse().ok()),
        None => None,
    };
    let alarms = member
        .cloudwatch()
        .describe_alarms()
        .alarm_name_prefix(format!("{guard}-"))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CloudWatch DescribeAlarms failed: {}", aws::described(&e)))?;
    let alarming = alarms
        .metric_alarms()
        .iter()
        .filter(|alarm| alarm.state_value() == Some(&aws_sdk_cloudwatch::types::StateValue::Alarm))
        .filter_map(|alarm| alarm.alarm_name().map(str::to_string))
        .collect();
    let found = crate::preflight::trails(&member.cloudtrail(), &member.region).await;
    let trail = crate::preflight::trail_finding(
        &member.region,
        crate::preflight::TrailScope::Account,
        found,
    );
    let arns = crate::preflight::topic_arns(&stack);
    let subscriptions = crate::preflight::subscription_attention(
        &crate::preflight::read_subscriptions(&member.sns(), policy, &arns).await?,
        &arns,
    );
    Ok(MemberRead {
        depth,
        alarming,
        alarms: alarms.metric_alarms().len(),
        trail,
        subscriptions,
    })
}

/// `clean-up --org`: the instances (every Region they are in), the stack set, then the
/// artifact buckets, after one yes. Instances left after the delete operation stop it before
/// the stack set and the buckets go (their stacks still use the packages).
pub async fn clean_up(
    args: &AwsArgs,
    confirmation: xtask::ui::Confirmation,
    terminal: Terminal,
    member_role: &str,
) -> anyhow::Result<()> {
    let policy = paths::load_policy(&args.policy)?;
    let organization = organization(&policy, &args.policy)?;
    let name = policy.stack.name.clone();
    let consent = Consent::decide(
        confirmation,
        terminal,
        &format!("cleaning up stack set {name}"),
    )?;
    let aws = Aws::load(args, policy.stack.region.as_deref()).await?;
    let caller = aws::caller(&aws).await?;
    let cf = aws.cloudformation();
    let call_as = stackset::call_as(organization);
    let found = stackset::describe(&cf, &name, &call_as).await?;
    let existing = match found {
        Some(_) => stackset::instances(&cf, &name, &call_as).await?,
        None => Vec::new(),
    };
    // Every bucket of this stack set, Regions dropped from the policy since included.
    let prefix = format!("{}-", artifacts::org_bucket_prefix(&name, &caller.account));
    let buckets: Vec<(String, String)> = artifacts::buckets_named(&aws.s3(), &prefix)
        .await?
        .into_iter()
        .map(|bucket| (bucket[prefix.len()..].to_string(), bucket))
        .collect();
    if found.is_none() {
        if buckets.is_empty() {
            println!("stack set {name}: nothing to delete");
            return Ok(());
        }
        let names: Vec<&str> = buckets.iter().map(|(_, bucket)| bucket.as_str()).collect();
        anyhow::bail!(
            "there is no stack set {name} in {} (as {}), but its artifact buckets are here: {}. \
             They are kept, since a stack set administered from another Region or as another \
             caller may still read them (check --region and organization.call_as); if none \
             does, delete them with `aws s3 rb --force s3://<bucket>` (nothing was deleted)",
            aws.region,
            organization.call_as.as_str(),
            names.join(", ")
        );
    }
    // IAM refuses to delete a managed policy still attached (DeleteConflict), and the stack
    // instance's deletion fails with it: what member admins attached by hand is found first.
    let guardrail_region = organization.regions.first().cloned().unwrap_or_default();
    let members: BTreeSet<String> = existing
        .iter()
        .filter(|i| i.region == guardrail_region)
        .map(|i| i.account.clone())
        .collect();
    let partition = crate::assign::partition_of(&caller.arn);
    let mut detachments = Vec::new();
    let mut refusals = Vec::new();
    for account in &members {
        let found = guardrail_attachments(
            &aws,
            &partition,
            member_role,
            &name,
            &guardrail_region,
            account,
        )
        .await;
        let (detach, refuse) = member_detachments(&name, account, found);
        detachments.extend(detach);
        refusals.extend(refuse);
    }
    if !refusals.is_empty() {
        anyhow::bail!(
            "the guardrail policy is attached in member accounts where clean-up may not detach \
             it (IAM refuses to delete an attached policy, so the instances could not be \
             deleted):\n  {}\ndetach it there, or tag each role `{}={name}` so that clean-up \
             detaches it; nothing was deleted",
            refusals.join("\n  "),
            crate::assign::MARKER_TAG_KEY
        );
    }
    for detachment in &detachments {
        eprintln!("  will detach: {detachment}");
    }
    let question = format!(
        "Delete stack set {name}{} and {} artifact bucket(s) (administered from account {}, {})?",
        if existing.is_empty() {
            String::new()
        } else {
            format!(
                " with its {} stack instance(s) in {} account(s)",
                existing.len(),
                existing
                    .iter()
                    .map(|i| &i.account)
                    .collect::<BTreeSet<_>>()
                    .len()
            )
        },
        buckets.len(),
        caller.account,
        aws.region
    );
    if !consent.confirm(&question)? {
        eprintln!("cancelled: nothing was deleted");
        return Ok(());
    }
    let poll = aws.poll_interval();
    for detachment in &detachments {
        let member = member::in_account(
            &aws,
            &partition,
            &detachment.account,
            member_role,
            &guardrail_region,
        )
        .await?;
        member
            .iam()
            .detach_role_policy()
            .role_name(&detachment.role)
            .policy_arn(&detachment.policy_arn)
            .send()
            .await
            .map_err(|e| {
                aws::failure(
                    &format!(
                        "iam:DetachRolePolicy {} in {}",
                        detachment.role, detachment.account
                    ),
                    &e,
                    aws.endpoint_url.as_deref(),
                )
            })?;
        println!("detached: {detachment}");
    }
    if found.is_some() {
        if !existing.is_empty() {
            let instance_regions: Vec<String> = existing
                .iter()
                .map(|i| i.region.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            eprintln!("deleting {} stack instance(s)", existing.len());
            let mut units: BTreeSet<String> =
                organization.organizational_units.iter().cloned().collect();
            units.extend(
                existing
                    .iter()
                    .filter_map(|i| i.organizational_unit.clone()),
            );
            let units: Vec<String> = units.into_iter().collect();
            let operation = stackset::delete_instances(
                &cf,
                organization,
                &name,
                &units,
                &instance_regions,
                None,
            )
            .await?;
            let failures = stackset::follow(&cf, &name, &operation, &call_as, poll).await?;
            for failure in &failures {
                println!("  failed: {failure}");
            }
            let left = stackset::instances(&cf, &name, &call_as).await?;
            if !left.is_empty() {
                let shown: Vec<String> = left
                    .iter()
                    .map(|i| format!("{} {}", i.account, i.region))
                    .collect();
                anyhow::bail!(
                    "stack set {name} still has {} instance(s) after the delete operation: {} \
                     (an account outside the policy's OUs now, or a failed deletion); delete \
                     them, then run clean-up again. The stack set and the artifact buckets are \
                     kept until then",
                    left.len(),
                    shown.join(", ")
                );
            }
        }
        stackset::delete(&cf, organization, &name).await?;
        println!("stack set {name} deleted");
    }
    for (region, bucket) in &buckets {
        if artifacts::delete_bucket(&aws.in_region(region).s3(), bucket).await? {
            println!("artifact bucket {bucket} emptied and deleted");
        }
    }
    Ok(())
}

/// A role of a member account the guardrail policy is detached from before clean-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detachment {
    pub account: String,
    pub role: String,
    pub policy_arn: String,
}

impl std::fmt::Display for Detachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guardrail policy from role {} in account {}",
            self.role, self.account
        )
    }
}

/// What the guardrail policy of one member account is attached to: its ARN and (role name,
/// the role's marker tag value) for roles, user names, group names; or why it could not be read.
type Attachments = Result<
    (
        String,
        Vec<(String, Option<String>)>,
        Vec<String>,
        Vec<String>,
    ),
    String,
>;

/// Reads `account`'s guardrail policy attachments through `role` (read only).
async fn guardrail_attachments(
    aws: &Aws,
    partition: &str,
    role: &str,
    stack: &str,
    guardrail_region: &str,
    account: &str,
) -> Attachments {
    let member = member::in_account(aws, partition, account, role, guardrail_region)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let iam = member.iam();
    let policy_arn =
        crate::assign::guardrail_policy_arn(partition, account, stack, guardrail_region);
    let (roles, users, groups) = crate::assign::attachments(&iam, &member, &policy_arn)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let mut marked = Vec::new();
    for name in roles {
        let state = crate::assign::read_role(&iam, &member, &name, None, &policy_arn)
            .await
            .map_err(|error| format!("{error:#}"))?;
        marked.push((name, state.marker));
    }
    Ok((policy_arn, marked, users, groups))
}

/// Decides, for one member account, which attachments clean-up detaches (roles tagged with the
/// guard's marker for this stack) and which stop it (anything else, or an account it could not
/// read), each in words.
fn member_detachments(
    stack: &str,
    account: &str,
    found: Attachments,
) -> (Vec<Detachment>, Vec<String>) {
    let (policy_arn, roles, users, groups) = match found {
        Ok(found) => found,
        Err(why) => {
            return (
                Vec::new(),
                vec![format!(
                    "account {account}: could not be read ({why}); pass --member-role, or make \
                     sure the guardrail policy is attached to nothing there"
                )],
            );
        }
    };
    let mut detach = Vec::new();
    let mut refuse = Vec::new();
    for (role, marker) in roles {
        if marker.as_deref() == Some(stack) {
            detach.push(Detachment {
                account: account.to_string(),
                role,
                policy_arn: policy_arn.clone(),
            });
        } else {
            refuse.push(format!(
                "account {account}: role {role} (no `{}={stack}` tag)",
                crate::assign::MARKER_TAG_KEY
            ));
        }
    }
    refuse.extend(
        users
            .into_iter()
            .map(|u| format!("account {account}: user {u}")),
    );
    refuse.extend(
        groups
            .into_iter()
            .map(|g| format!("account {account}: group {g}")),
    );
    (detach, refuse)
}

#[cfg(test)]
mod clean_up_tests {
    use super::*;

    /// IAM DeletePolicy: "you must first detach the policy from all users, groups, and roles"
    /// (DeleteConflict). moto deletes an attached policy anyway, so the decision is tested here.
    #[test]
    fn roles_with_the_marker_are_detached_and_anything_else_stops_clean_up() {
        let arn = "arn:aws:iam::111122223333:policy/gsg-session-guardrails-eu-west-1".to_string();
        let found = Ok((
            arn.clone(),
            vec![
                ("Engineer".to_string(), Some("gsg".to_string())),
                ("Other".to_string(), Some("another-stack".to_string())),
                ("ByHand".to_string(), None),
            ],
            vec!["alice".to_string()],
            vec![],
        ));
        let (detach, refuse) = member_detachments("gsg", "111122223333", found);
        assert_eq!(
            detach,
            [Detachment {
                account: "111122223333".into(),
                role: "Engineer".into(),
                policy_arn: arn
            }]
        );
        assert_eq!(
            refuse,
            [
                "account 111122223333: role Other (no `glue-session-guard:stack=gsg` tag)",
                "account 111122223333: role ByHand (no `glue-session-guard:stack=gsg` tag)",
                "account 111122223333: user alice",
            ]
        );
        let (detach, refuse) = member_detachments("gsg", "2", Err("AccessDenied".into()));
        assert!(detach.is_empty());
        assert!(refuse[0].contains("could not be read (AccessDenied)"));
    }
}

#[cfg(test)]
mod deep_tests {
    use super::deep_cell;

    #[test]
    fn a_member_needs_attention_for_dead_letters_an_alarm_or_an_unknown_depth() {
        assert_eq!(
            deep_cell(Some(0), &[], 5),
            ("DLQ 0, alarms 5 OK".into(), None)
        );
        assert_eq!(
            deep_cell(Some(3), &[], 5),
            (
                "DLQ 3, alarms 5 OK".into(),
                Some("3 event(s) in the dead-letter queue".into())
            )
        );
        let alarming = ["gsg-enforcer-errors".to_string()];
        assert_eq!(
            deep_cell(Some(0), &alarming, 5),
            (
                "DLQ 0, alarms ALARM: gsg-enforcer-errors".into(),
                Some("in alarm: gsg-enforcer-errors".into())
            )
        );
        assert_eq!(
            deep_cell(None, &[], 0).1.as_deref(),
            Some("the dead-letter queue's depth is unknown")
        );
    }
}
