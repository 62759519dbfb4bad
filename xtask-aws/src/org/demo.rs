//! `cargo xtask demo --org`: the organization mode on this machine, in moto. An organization
//! with two OUs and `--accounts` member accounts is created, the policy (with an `organization`
//! section for it, three Regions) is deployed as a stack set, listed by `status --org` and
//! cleaned up, each step timed. `cargo xtask bench` runs it with 50 accounts (the scale run).
//!
//! moto's DeleteStackInstances ignores the service-managed `DeploymentTargets`: the demo says so
//! and closes the gap with the self-managed form before the clean-up (`emulated`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use super::emulated::{self, EmulatedOrganization};
use crate::account::deploy::DeployOptions;
use crate::aws::{Aws, AwsArgs};
use xtask::ui::step;
use xtask::ui::{Confirmation, Terminal};
use xtask::{Exit, paths};

/// The Regions of the demo's organization.
pub const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "eu-central-1"];

/// What the organization demo measured, in seconds (`--timings FILE` writes it as JSON).
#[derive(Debug, Serialize)]
pub struct OrgTimings {
    pub accounts: usize,
    pub regions: usize,
    pub instances: usize,
    pub deploy_seconds: f64,
    pub status_seconds: f64,
    pub clean_up_seconds: f64,
}

/// The organization demo against moto at `endpoint` (`cargo xtask demo --org`): builds the
/// function once, runs [`run`], and writes the timings to `timings` when given.
pub fn walk_through(
    endpoint: &str,
    policy: &Path,
    accounts: usize,
    timings: Option<&Path>,
) -> anyhow::Result<()> {
    step("building the function once (a dev build, with xtask-aws's own dependencies)");
    let zip = xtask::package::demo_package()?;
    let scratch = tempfile::Builder::new().prefix("gsg-demo-org-").tempdir()?;
    let measured = crate::aws::tokio_runtime()?.block_on(run(
        endpoint,
        policy,
        accounts,
        &zip,
        scratch.path(),
    ))?;
    if let Some(out) = timings {
        std::fs::write(out, serde_json::to_string_pretty(&measured)? + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// Runs the organization demo against moto at `endpoint`, with the package `zip`.
pub async fn run(
    endpoint: &str,
    policy: &Path,
    accounts: usize,
    zip: &Path,
    scratch: &Path,
) -> anyhow::Result<OrgTimings> {
    let base = std::fs::read_to_string(policy)
        .map_err(|e| anyhow::anyhow!("{}: {}", paths::shown(policy), paths::io_reason(&e)))?;
    let org_policy = scratch.join("organization-policy.yaml");
    let args = AwsArgs {
        policy: org_policy.clone(),
        region: Some(REGIONS[0].into()),
        aws_profile: None,
        endpoint_url: Some(endpoint.to_string()),
    };
    let home = Aws::load(&args, None).await?;
    step(&format!(
        "creating an organization in moto: 2 OUs, {accounts} member accounts"
    ));
    let organization = EmulatedOrganization::create(&home, 2, accounts).await?;
    std::fs::write(&org_policy, organization.policy_text(&base, &REGIONS))?;
    println!(
        "organization {} (management account {}), OUs {}",
        organization.id,
        organization.management_account,
        organization.units.join(", ")
    );

    step("cargo xtask deploy --org: the stack set, in every account and Region");
    let deploy = DeployOptions {
        aws: args.clone(),
        confirmation: Confirmation { yes: true },
        zip: Some(zip.to_path_buf()),
        ..DeployOptions::default()
    };
    let started = Instant::now();
    super::deploy(&deploy, Terminal::Absent).await?;
    let deploy_seconds = started.elapsed().as_secs_f64();

    step("cargo xtask status --org");
    let started = Instant::now();
    let status = super::status(&args, None).await?;
    let status_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        matches!(status, Exit::Success),
        "status --org says an instance needs attention"
    );
    let instances = super::stackset::instances(
        &home.cloudformation(),
        &organization_name(&org_policy)?,
        &aws_sdk_cloudformation::types::CallAs::SelfValue,
    )
    .await?
    .len();

    step(
        "cargo xtask clean-up --org (moto ignores the service-managed targets of \
         DeleteStackInstances: the demo deletes its instances by account first)",
    );
    let started = Instant::now();
    let name = organization_name(&org_policy)?;
    let members: BTreeSet<String> = organization.accounts.iter().cloned().collect();
    let regions: BTreeSet<String> = REGIONS.iter().map(|r| r.to_string()).collect();
    emulated::remove_instances_by_account(&home, &name, &members, &regions).await?;
    super::clean_up(
        &args,
        Confirmation { yes: true },
        Terminal::Absent,
        super::member::DEFAULT_ROLE,
    )
    .await?;
    let clean_up_seconds = started.elapsed().as_secs_f64();
    let timings = OrgTimings {
        accounts,
        regions: REGIONS.len(),
        instances,
        deploy_seconds,
        status_seconds,
        clean_up_seconds,
    };
    println!(
        "\n{} instances ({accounts} accounts x {} Regions): deploy {:.1} s, status {:.1} s, \
         clean-up {:.1} s",
        timings.instances, timings.regions, deploy_seconds, status_seconds, clean_up_seconds
    );
    Ok(timings)
}

fn organization_name(policy: &Path) -> anyhow::Result<String> {
    Ok(paths::load_policy(policy)?.stack.name)
}
