//! `--org` against a real moto server: an organization with two OUs and member accounts, the
//! stack set deployed to them in three Regions (the stacks' resources created in the member
//! accounts), plan, status, an update, consent, and clean-up.
//!
//! moto accepts but ignores `CallAs`, `AutoDeployment`, `OperationPreferences` and
//! `AccountFilterType`, finishes every operation at once and never fails an instance: those are
//! checked with mocked answers in `stackset.rs`. Its DeleteStackInstances ignores the
//! service-managed `DeploymentTargets`, so the first clean-up stops with the instances it finds
//! left (as it would on AWS), and the test removes them with the self-managed form moto reads
//! ([`emulated::remove_instances_by_account`]) before the clean-up that deletes the rest.

use std::collections::BTreeSet;
use std::path::PathBuf;

use xtask::tools::Moto;
use xtask::ui::{Confirmation, Terminal};
use xtask::{Exit, paths};
use xtask_aws::account::deploy::DeployOptions;
use xtask_aws::artifacts;
use xtask_aws::aws::{Aws, AwsArgs};
use xtask_aws::org::emulated::{self, EmulatedOrganization};
use xtask_aws::org::{instances, member, stackset};

const HOME: &str = "eu-west-1";
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "eu-central-1"];

struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("gsg-org-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        testkit::emulator::stand_in_package(&dir.join("bootstrap.zip"));
        Scratch { dir }
    }

    fn write_policy(
        &self,
        organization: &EmulatedOrganization,
        stack: &str,
        max_workers: u32,
        regions: &[&str],
    ) {
        let base = std::fs::read_to_string(paths::policies_dir().join("default.yaml"))
            .unwrap()
            .replace("name: glue-session-guard", &format!("name: {stack}"))
            .replace("max_workers: 10", &format!("max_workers: {max_workers}"));
        std::fs::write(self.policy(), organization.policy_text(&base, regions)).unwrap();
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("policy.yaml")
    }

    fn args(&self, endpoint: &str) -> AwsArgs {
        AwsArgs {
            policy: self.policy(),
            region: Some(HOME.into()),
            aws_profile: None,
            endpoint_url: Some(endpoint.into()),
        }
    }

    fn deploy(&self, endpoint: &str, yes: bool) -> DeployOptions {
        DeployOptions {
            aws: self.args(endpoint),
            confirmation: Confirmation { yes },
            zip: Some(self.dir.join("bootstrap.zip")),
            ..DeployOptions::default()
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deploys the scratch's policy with `--org`, the package given.
async fn deploy(scratch: &Scratch, endpoint: &str) -> anyhow::Result<()> {
    let deploy = scratch.deploy(endpoint, true);
    xtask_aws::org::deploy(&deploy, Terminal::Absent).await
}

async fn plan(scratch: &Scratch, endpoint: &str) -> xtask_aws::org::OrgPlan {
    let deploy = scratch.deploy(endpoint, true);
    xtask_aws::org::plan(&deploy).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_gets_the_guard_in_every_account_and_region_and_loses_it_again() {
    testkit::emulator::credentials();
    let moto = Moto::start().unwrap();
    let endpoint = moto.endpoint.clone();
    let scratch = Scratch::new("lifecycle");
    let home = Aws::load(&scratch.args(&endpoint), None).await.unwrap();
    let organization = EmulatedOrganization::create(&home, 2, 4).await.unwrap();
    let stack = "gsg-org";
    scratch.write_policy(&organization, stack, 10, &REGIONS);
    let accounts: BTreeSet<String> = organization.accounts.iter().cloned().collect();

    // Without --yes and without a terminal: refused, nothing created.
    let refused = {
        let deploy = scratch.deploy(&endpoint, false);
        xtask_aws::org::deploy(&deploy, Terminal::Absent).await
    };
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("nothing was changed"),
        "deploy --org without consent must refuse first"
    );
    let cf = home.cloudformation();
    let call_as = aws_sdk_cloudformation::types::CallAs::SelfValue;
    assert!(
        stackset::describe(&cf, stack, &call_as)
            .await
            .unwrap()
            .is_none()
    );

    // The plan before the first deploy: a new stack set, an instance per account and Region.
    let first = plan(&scratch, &endpoint).await;
    assert_eq!(first.kind, "create-stack-set");
    assert_eq!(first.instances.create.len(), 4 * 3);
    assert!(first.instances.accounts_unknown.is_none());

    deploy(&scratch, &endpoint).await.unwrap();
    let deployed = stackset::instances(&cf, stack, &call_as).await.unwrap();
    assert_eq!(
        deployed
            .iter()
            .map(instances::Instance::key)
            .collect::<BTreeSet<_>>(),
        instances::wanted(&accounts, &REGIONS.map(String::from))
    );
    assert!(
        deployed.iter().all(|i| i.attention().is_none()),
        "{deployed:?}"
    );
    // The management account gets no instance.
    assert!(
        deployed
            .iter()
            .all(|i| i.account != organization.management_account)
    );

    // One artifact bucket per Region, readable by the organization.
    let caller = xtask_aws::aws::caller(&home).await.unwrap();
    for region in REGIONS {
        let bucket = format!(
            "{}-{region}",
            artifacts::org_bucket_prefix(stack, &caller.account)
        );
        let s3 = home.in_region(region).s3();
        let policy = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
        assert!(
            policy.policy().unwrap().contains(&organization.id),
            "{region}: {:?}",
            policy.policy()
        );
    }

    // The stacks' resources are in the member accounts, in each Region: read through the role
    // Organizations creates there.
    for account in &organization.accounts {
        for region in REGIONS {
            let there = member::in_account(&home, "aws", account, member::DEFAULT_ROLE, region)
                .await
                .unwrap();
            let topics = there.sns().list_topics().send().await.unwrap();
            let arns: Vec<&str> = topics
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .collect();
            assert!(
                arns.iter()
                    .any(|arn| arn.starts_with(&format!("arn:aws:sns:{region}:{account}:"))),
                "no topic of the guard in {account} {region}: {arns:?}"
            );
        }
    }

    // Status: every instance current, exit 0.
    assert!(matches!(
        xtask_aws::org::status(&scratch.args(&endpoint), None)
            .await
            .unwrap(),
        Exit::Success
    ));

    // --deep reads each member account through the role Organizations created there. moto
    // keeps the instances' stacks out of the members' CloudFormation, so it finds no stack to
    // read the dead-letter queue from, and says so for every instance (exit 1).
    assert!(matches!(
        xtask_aws::org::status(&scratch.args(&endpoint), Some(member::DEFAULT_ROLE))
            .await
            .unwrap(),
        Exit::Failed
    ));

    // Nothing changed: the plan says so, and deploy does nothing.
    let again = plan(&scratch, &endpoint).await;
    assert_eq!(again.kind, "no-changes", "{}", again.to_text());
    assert!(again.is_empty());
    assert_eq!(again.instances.unchanged.len(), 12);

    // A policy change: the stack set and every instance are updated; the plan shows the diff.
    scratch.write_policy(&organization, stack, 12, &REGIONS);
    let change = plan(&scratch, &endpoint).await;
    assert_eq!(change.kind, "update-stack-set");
    assert_eq!(change.instances.update.len(), 12);
    assert!(
        change.template_diff.contains("max_workers"),
        "{}",
        change.template_diff
    );
    assert!(change.to_markdown().contains("```diff"));
    deploy(&scratch, &endpoint).await.unwrap();
    let set = stackset::describe(&cf, stack, &call_as)
        .await
        .unwrap()
        .unwrap();
    assert!(set.template_body().unwrap().contains("max_workers: 12"));

    // The first Region holds each account's guardrail policy: reordering refuses, unchanged.
    scratch.write_policy(
        &organization,
        stack,
        12,
        &["us-east-1", "eu-west-1", "eu-central-1"],
    );
    let deploy_refused = xtask_aws::org::deploy(&scratch.deploy(&endpoint, true), Terminal::Absent)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        deploy_refused.contains("the first Region changes from eu-west-1 to us-east-1"),
        "{deploy_refused}"
    );
    scratch.write_policy(&organization, stack, 12, &REGIONS);
    // A single-account deploy of an organization policy is refused, naming the flag.
    let single = scratch.deploy(&endpoint, true);
    let refused = single
        .deploy(Terminal::Absent)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("run `cargo xtask deploy --org`"),
        "{refused}"
    );

    // Clean-up: the delete operation (service-managed targets) leaves moto's instances, so the
    // first clean-up stops and keeps the stack set and the buckets ...
    let clean_up = xtask_aws::org::clean_up(
        &scratch.args(&endpoint),
        Confirmation { yes: true },
        Terminal::Absent,
        member::DEFAULT_ROLE,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(clean_up.contains("still has 12 instance(s)"), "{clean_up}");
    assert!(
        stackset::describe(&cf, stack, &call_as)
            .await
            .unwrap()
            .is_some()
    );
    // ... then, with moto's gap closed by hand, clean-up deletes the stack set and the buckets.
    emulated::remove_instances_by_account(
        &home,
        stack,
        &accounts,
        &REGIONS.iter().map(|r| r.to_string()).collect(),
    )
    .await
    .unwrap();
    xtask_aws::org::clean_up(
        &scratch.args(&endpoint),
        Confirmation { yes: true },
        Terminal::Absent,
        member::DEFAULT_ROLE,
    )
    .await
    .unwrap();
    assert!(
        stackset::describe(&cf, stack, &call_as)
            .await
            .unwrap()
            .is_none()
    );
    for region in REGIONS {
        let bucket = format!(
            "{}-{region}",
            artifacts::org_bucket_prefix(stack, &caller.account)
        );
        assert!(
            !artifacts::bucket_exists(&home.in_region(region).s3(), &bucket)
                .await
                .unwrap()
        );
    }
    // Status without a stack set: exit 1.
    assert!(matches!(
        xtask_aws::org::status(&scratch.args(&endpoint), None)
            .await
            .unwrap(),
        Exit::Failed
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_organization_section_org_commands_name_the_file_and_the_field() {
    testkit::emulator::credentials();
    let scratch = Scratch::new("no-section");
    std::fs::copy(paths::policies_dir().join("default.yaml"), scratch.policy()).unwrap();
    let error = xtask_aws::org::status(&scratch.args("http://127.0.0.1:9"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("policy.yaml: organization: --org needs an `organization` section"),
        "{error}"
    );
}
