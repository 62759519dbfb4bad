//! The deploy lifecycle end to end against a real moto server: create, redeploy without
//! changes, update, plan, status, clean-up; the failure paths (unreachable endpoint, invalid
//! policy, a stack that fails to create); and deploy and clean-up without `--yes` and without a
//! terminal, which change nothing.

use std::path::{Path, PathBuf};

use aws_sdk_cloudformation::types::StackStatus;

use testkit::emulator::credentials as emulator_credentials;
use xtask::paths;
use xtask::tools::Moto;
use xtask::ui::{Confirmation, NoConsent, Terminal};
use xtask_aws::account::clean_up::CleanUpOptions;
use xtask_aws::account::deploy::{DeployOptions, Deployed};
use xtask_aws::artifacts;
use xtask_aws::aws::{Aws, AwsArgs};
use xtask_aws::stack::{self, PlanKind};

const REGION: &str = "eu-west-1";
/// `--yes`, as CI passes it.
const YES: Confirmation = Confirmation { yes: true };
/// No `--yes`: with no terminal either (`Terminal::Absent`, as under CI), nothing may change.
const NO_YES: Confirmation = Confirmation { yes: false };

/// A scratch folder with a policy (the default one, renamed to `stack`) and a package.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(stack: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("gsg-lifecycle-{stack}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = Scratch { dir };
        scratch.write_policy(stack, 10);
        testkit::emulator::stand_in_package(&scratch.zip());
        scratch
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("policy.yaml")
    }

    fn zip(&self) -> PathBuf {
        self.dir.join("bootstrap.zip")
    }

    fn write_policy(&self, stack: &str, max_workers: u32) {
        let text = std::fs::read_to_string(paths::policies_dir().join("default.yaml"))
            .unwrap()
            .replace("name: glue-session-guard", &format!("name: {stack}"))
            .replace("max_workers: 10", &format!("max_workers: {max_workers}"));
        std::fs::write(self.policy(), text).unwrap();
    }

    fn args(&self, endpoint: &str) -> AwsArgs {
        AwsArgs {
            policy: self.policy(),
            region: Some(REGION.into()),
            aws_profile: None,
            endpoint_url: Some(endpoint.into()),
        }
    }

    fn deploy(&self, endpoint: &str) -> DeployOptions {
        DeployOptions {
            aws: self.args(endpoint),
            confirmation: YES,
            zip: Some(self.zip()),
            ..DeployOptions::default()
        }
    }

    fn clean_up(&self, endpoint: &str, confirmation: Confirmation) -> CleanUpOptions {
        CleanUpOptions {
            aws: self.args(endpoint),
            confirmation,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn emulator(args: &AwsArgs) -> Aws {
    Aws::load(args, None).await.unwrap()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_redeploy_update_plan_status_and_clean_up() {
    emulator_credentials();
    let moto = Moto::start().unwrap();
    let scratch = Scratch::new("gsg-lifecycle");
    let args = scratch.args(&moto.endpoint);
    let aws = emulator(&args).await;
    let cf = aws.cloudformation();

    // A plan before anything exists is a new stack and creates nothing.
    let plan = xtask_aws::account::plan::plan(&args.clone()).await.unwrap();
    assert_eq!(plan.kind, PlanKind::NewStack);
    assert!(
        plan.changes
            .iter()
            .any(|c| c.resource_type == "AWS::Lambda::Function")
    );
    assert!(
        stack::describe(&cf, "gsg-lifecycle")
            .await
            .unwrap()
            .is_none()
    );

    // Deploy from scratch.
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Created
    );
    let deployed = stack::describe(&cf, "gsg-lifecycle")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployed.stack_status(), Some(&StackStatus::CreateComplete));
    let outputs: Vec<&str> = deployed
        .outputs()
        .iter()
        .filter_map(|o| o.output_key())
        .collect();
    for key in [
        "FunctionArn",
        "NotificationTopicArn",
        "AlarmTopicArn",
        "DeadLetterQueueUrl",
        "CreateSessionRuleArn",
        "SweepRuleArn",
        "LedgerTableName",
    ] {
        assert!(
            outputs.contains(&key),
            "output {key} missing from {outputs:?}"
        );
    }
    assert_eq!(
        stack::output(&deployed, "LedgerTableName"),
        Some("gsg-lifecycle-ledger")
    );
    let function_arn = stack::output(&deployed, "FunctionArn").unwrap();
    assert!(
        function_arn.ends_with(":function:gsg-lifecycle-enforcer"),
        "{function_arn}"
    );
    let tags: Vec<(&str, &str)> = deployed
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(tags.contains(&("team", "data-platform")), "{tags:?}");
    let resources = cf
        .list_stack_resources()
        .stack_name("gsg-lifecycle")
        .send()
        .await
        .unwrap();
    let types: Vec<&str> = resources
        .stack_resource_summaries()
        .iter()
        .filter_map(|r| r.resource_type())
        .collect();
    for kind in [
        "AWS::KMS::Key",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Events::Rule",
        "AWS::Logs::LogGroup",
    ] {
        assert!(types.contains(&kind), "{kind} missing from {types:?}");
    }
    let parameters = deployed.parameters();
    let code_key = parameters
        .iter()
        .find(|p| p.parameter_key() == Some("CodeKey"))
        .and_then(|p| p.parameter_value())
        .unwrap();
    let bytes = std::fs::read(scratch.zip()).unwrap();
    assert_eq!(
        code_key,
        format!("lambda/{}.zip", artifacts::content_hash(&bytes))
    );

    // Deploy again: no changes.
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Unchanged
    );
    let plan = xtask_aws::account::plan::plan(&args.clone()).await.unwrap();
    assert_eq!(plan.kind, PlanKind::NoChanges);

    // Change the policy: plan shows changes and modifies nothing; deploy updates.
    scratch.write_policy("gsg-lifecycle", 12);
    let plan = xtask_aws::account::plan::plan(&args.clone()).await.unwrap();
    assert_eq!(plan.kind, PlanKind::Changes);
    let template = cf
        .get_template()
        .stack_name("gsg-lifecycle")
        .send()
        .await
        .unwrap();
    assert!(
        !template
            .template_body()
            .unwrap()
            .contains("\\\"max_workers\\\":12")
    );
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Updated
    );
    let template = cf
        .get_template()
        .stack_name("gsg-lifecycle")
        .send()
        .await
        .unwrap();
    assert!(
        template
            .template_body()
            .unwrap()
            .contains("max_workers\\\":12"),
        "the new policy is deployed"
    );
    let updated = stack::describe(&cf, "gsg-lifecycle")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.stack_status(), Some(&StackStatus::UpdateComplete));
    let change_sets = cf
        .list_change_sets()
        .stack_name("gsg-lifecycle")
        .send()
        .await
        .unwrap();
    assert!(
        change_sets
            .summaries()
            .iter()
            .all(|c| c.execution_status().map(|s| s.as_str()) != Some("AVAILABLE")),
        "plan leaves no change set behind"
    );

    // Status reads the deployed stack. moto keeps no CloudWatch alarms for a stack, so status
    // says that nobody would be alerted, and asks for attention (exit 1).
    let status = xtask_aws::account::status::status(&args, 5).await.unwrap();
    assert_eq!(
        xtask::output::Outcome::answer(&status),
        xtask::output::Answer::No
    );

    // Clean-up removes the stack and the bucket; a second clean-up has nothing to do.
    let clean_up = scratch.clean_up(&moto.endpoint, YES);
    clean_up.clean_up(Terminal::Absent).await.unwrap();
    assert!(
        stack::describe(&cf, "gsg-lifecycle")
            .await
            .unwrap()
            .is_none()
    );
    let buckets = aws.s3().list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "{:?}", buckets.buckets());
    clean_up.clean_up(Terminal::Absent).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_a_clear_error() {
    emulator_credentials();
    let scratch = Scratch::new("gsg-unreachable");
    // Port 9 on loopback: nothing listens there.
    let error = scratch
        .deploy("http://127.0.0.1:9")
        .deploy(Terminal::Absent)
        .await
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains("cannot verify AWS credentials against http://127.0.0.1:9"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_policy_creates_nothing() {
    emulator_credentials();
    let moto = Moto::start().unwrap();
    let scratch = Scratch::new("gsg-invalid");
    std::fs::write(
        scratch.policy(),
        "version: 1\nstack: {name: gsg-invalid}\nboundaries: {max_workers: 0}\n",
    )
    .unwrap();
    let error = scratch
        .deploy(&moto.endpoint)
        .deploy(Terminal::Absent)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("boundaries.max_workers: must be between 1 and 1000"),
        "{error:#}"
    );
    let aws = emulator(&scratch.args(&moto.endpoint)).await;
    assert!(
        aws.s3()
            .list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .is_empty()
    );
    let stacks = aws.cloudformation().list_stacks().send().await.unwrap();
    assert!(stacks.stack_summaries().is_empty());
    let _ = path_str(&scratch.policy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_that_fails_to_create_is_reported_and_removed() {
    emulator_credentials();
    let moto = Moto::start().unwrap();
    let scratch = Scratch::new("gsg-broken");
    let aws = emulator(&scratch.args(&moto.endpoint)).await;
    // Someone already owns the function's log group name: creation must fail.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws.config);
    logs.create_log_group()
        .log_group_name("/aws/lambda/gsg-broken-enforcer")
        .send()
        .await
        .unwrap();
    // Deploy's preflight sees the name taken and stops before any change.
    let error = scratch
        .deploy(&moto.endpoint)
        .deploy(Terminal::Absent)
        .await
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("nothing was changed"), "{text}");
    // The name taken between the preflight and the creation (a race the preflight cannot
    // close): the creation itself fails, is reported, and leaves nothing behind.
    let policy = xtask::paths::load_policy(&scratch.policy()).unwrap();
    let desired = stack::Desired {
        name: "gsg-broken".into(),
        body: xtask::template::render_stack(&policy).unwrap(),
        template_url: None,
        parameters: [
            ("CodeBucket", "gsg-broken-code"),
            ("CodeKey", "bootstrap.zip"),
            ("Architecture", "x86_64"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        tags: Default::default(),
    };
    let error = xtask_aws::account::deploy::create(
        &aws.cloudformation(),
        &desired,
        xtask::ui::Consent::Given,
        aws.poll_interval(),
    )
    .await
    .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("creating stack gsg-broken failed"), "{text}");
    assert!(text.contains("log group already exists"), "{text}");
    assert!(
        stack::describe(&aws.cloudformation(), "gsg-broken")
            .await
            .unwrap()
            .is_none(),
        "nothing half-done"
    );
}

/// The emulator for the consent tests: `GSG_MOTO_ENDPOINT` when set (`cargo xtask test` starts
/// one), else a moto of their own, stopped when the returned guard drops. They look only at their
/// own stack and bucket, so a shared emulator does not disturb them.
fn consent_emulator() -> (Option<Moto>, String) {
    match std::env::var("GSG_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => (None, endpoint),
        _ => {
            let moto = Moto::start().unwrap();
            let endpoint = moto.endpoint.clone();
            (Some(moto), endpoint)
        }
    }
}

/// What the emulator holds of one stack: the stack, and its artifact bucket.
#[derive(Debug, PartialEq, Eq)]
struct Holdings {
    stack: bool,
    bucket: bool,
}

async fn holdings(aws: &Aws, stack_name: &str) -> Holdings {
    let account = xtask_aws::aws::caller(aws).await.unwrap().account;
    let bucket = artifacts::bucket_name(stack_name, &account, &aws.region);
    Holdings {
        stack: stack::describe(&aws.cloudformation(), stack_name)
            .await
            .unwrap()
            .is_some(),
        bucket: artifacts::bucket_exists(&aws.s3(), &bucket).await.unwrap(),
    }
}

/// Asserts that the command refused for want of consent, saying to pass `--yes`.
fn assert_refused(error: &anyhow::Error, action: &str) {
    let refusal = error
        .downcast_ref::<NoConsent>()
        .unwrap_or_else(|| panic!("not a refusal for want of consent: {error:#}"));
    assert_eq!(refusal.action, action);
    let text = format!("{error:#}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(text.contains("Pass --yes"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_or_a_terminal_deploy_changes_nothing() {
    emulator_credentials();
    let (_moto, endpoint) = consent_emulator();
    let scratch = Scratch::new("gsg-consent-deploy");
    let aws = emulator(&scratch.args(&endpoint)).await;
    let nothing = Holdings {
        stack: false,
        bucket: false,
    };
    assert_eq!(holdings(&aws, "gsg-consent-deploy").await, nothing);

    // A first deploy would create the bucket, upload the package and create the stack.
    let unconfirmed = DeployOptions {
        confirmation: NO_YES,
        ..scratch.deploy(&endpoint)
    };
    let error = unconfirmed.deploy(Terminal::Absent).await.unwrap_err();
    assert_refused(&error, "deploying stack gsg-consent-deploy");
    assert_eq!(holdings(&aws, "gsg-consent-deploy").await, nothing);

    // Deployed with --yes, then changed: the update is refused too, and the stack keeps its
    // template.
    let deployed = scratch.deploy(&endpoint).deploy(Terminal::Absent).await;
    assert_eq!(deployed.unwrap(), Deployed::Created);
    let template = |aws: Aws| async move {
        aws.cloudformation()
            .get_template()
            .stack_name("gsg-consent-deploy")
            .send()
            .await
            .unwrap()
            .template_body()
            .unwrap()
            .to_string()
    };
    let before = template(aws.clone()).await;
    scratch.write_policy("gsg-consent-deploy", 12);
    let error = unconfirmed.deploy(Terminal::Absent).await.unwrap_err();
    assert_refused(&error, "deploying stack gsg-consent-deploy");
    assert_eq!(template(aws.clone()).await, before);

    let clean_up = scratch.clean_up(&endpoint, YES);
    clean_up.clean_up(Terminal::Absent).await.unwrap();
    assert_eq!(holdings(&aws, "gsg-consent-deploy").await, nothing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_or_a_terminal_clean_up_deletes_nothing() {
    emulator_credentials();
    let (_moto, endpoint) = consent_emulator();
    let scratch = Scratch::new("gsg-consent-clean-up");
    let aws = emulator(&scratch.args(&endpoint)).await;
    let deployed = scratch.deploy(&endpoint).deploy(Terminal::Absent).await;
    assert_eq!(deployed.unwrap(), Deployed::Created);
    let everything = Holdings {
        stack: true,
        bucket: true,
    };
    assert_eq!(holdings(&aws, "gsg-consent-clean-up").await, everything);

    let unconfirmed = scratch.clean_up(&endpoint, NO_YES);
    let error = unconfirmed.clean_up(Terminal::Absent).await.unwrap_err();
    assert_refused(&error, "cleaning up stack gsg-consent-clean-up");
    assert_eq!(holdings(&aws, "gsg-consent-clean-up").await, everything);

    let clean_up = scratch.clean_up(&endpoint, YES);
    clean_up.clean_up(Terminal::Absent).await.unwrap();
    let nothing = Holdings {
        stack: false,
        bucket: false,
    };
    assert_eq!(holdings(&aws, "gsg-consent-clean-up").await, nothing);
}

/// `scan` against sessions created in moto: the sweep's own judgement, read only. moto has no
/// `LookupEvents` (it answers 500): the scan still judges every session, creator unknown, warns
/// once, and marks the rows an override or exemption could change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_judges_the_running_sessions_and_changes_nothing() {
    emulator_credentials();
    let moto = Moto::start().unwrap();
    let scratch = Scratch::new("gsg-scan");
    let args = scratch.args(&moto.endpoint);
    let aws = emulator(&args).await;
    let glue = aws.glue();
    for (id, workers) in [("scan-small", 2), ("scan-big", 40)] {
        glue.create_session()
            .id(id)
            .role("arn:aws:iam::123456789012:role/GlueInteractiveSessionRole")
            .command(
                aws_sdk_glue::types::SessionCommand::builder()
                    .name("glueetl")
                    .python_version("3")
                    .build(),
            )
            .number_of_workers(workers)
            .worker_type(aws_sdk_glue::types::WorkerType::G1X)
            .glue_version("4.0")
            .connections(
                aws_sdk_glue::types::ConnectionsList::builder()
                    .connections("private-vpc")
                    .build(),
            )
            .tags("owner", "alice")
            .send()
            .await
            .unwrap();
    }
    // A job run in moto, held RUNNING (moto finishes runs on their first read unless told),
    // 60 x G.2X: over the default policy's 50 workers and 100 DPUs for jobs.
    testkit::moto::set_transition(
        &moto.endpoint,
        "glue::job_run",
        serde_json::json!({"progression": "manual", "times": 1000}),
    );
    glue.create_job()
        .name("scan-nightly-load")
        .role("arn:aws:iam::123456789012:role/GlueJobRole")
        .command(
            aws_sdk_glue::types::JobCommand::builder()
                .name("glueetl")
                .script_location("s3://b/s.py")
                .build(),
        )
        .glue_version("5.0")
        .worker_type(aws_sdk_glue::types::WorkerType::G2X)
        .number_of_workers(60)
        .timeout(60)
        .connections(
            aws_sdk_glue::types::ConnectionsList::builder()
                .connections("private-vpc")
                .build(),
        )
        .tags("owner", "data")
        .send()
        .await
        .unwrap();
    let run_id = glue
        .start_job_run()
        .job_name("scan-nightly-load")
        .send()
        .await
        .unwrap()
        .job_run_id
        .unwrap();
    let report = xtask_aws::commands::scan::ScanCommand {
        aws: args.clone(),
        ..Default::default()
    }
    .scan()
    .await
    .unwrap();
    let jobs = report
        .jobs
        .as_ref()
        .expect("the default policy guards jobs");
    assert_eq!((jobs.jobs_listed, jobs.runs.len()), (1, 1));
    let run = &jobs.runs[0];
    assert_eq!(run.job_run_id, run_id);
    // moto reports every run on Glue 0.9, which the default policy's jobs do not allow.
    assert_eq!(
        run.verdict.rules(),
        ["max_workers", "max_dpu", "allowed_glue_versions"]
    );
    assert_eq!(run.verdict.action, policy::Action::Stop);
    let text = report.to_string();
    assert!(text.contains("job runs:"), "{text}");
    assert!(
        text.contains("1 job listed, 1 run running judged: 1 out of bounds (1 stop)"),
        "{text}"
    );
    // moto's sessions report no workers or worker type, and a MaxCapacity of 123 whatever was
    // asked for: the sweep's judgement (and so the scan's) sees 123 DPUs for each.
    assert_eq!((report.listed, report.judged), (2, 2));
    assert_eq!(
        xtask::output::Outcome::answer(&report),
        xtask::output::Answer::No
    );
    for id in ["scan-small", "scan-big"] {
        let row = report.sessions.iter().find(|r| r.session_id == id).unwrap();
        assert_eq!(row.decision(), policy::Decision::Violation, "{id}");
        assert_eq!(row.verdict.rules(), ["max_dpu"], "{id}");
        assert_eq!(row.action(), policy::Action::Stop, "{id}");
        assert_eq!(row.status, "READY", "{id}");
        assert!(
            row.uncertain,
            "{id}: an override or exemption could apply once the creator is known"
        );
    }
    assert!(
        report
            .warning
            .as_deref()
            .is_some_and(|warning| warning.starts_with("CloudTrail could not be read")),
        "{:?}",
        report.warning
    );
    let text = report.to_string();
    assert!(text.contains("violation ?"), "{text}");
    assert!(
        text.contains("  - max_dpu: "),
        "the values and limits: {text}"
    );
    // Read only: the run still runs, and both sessions too.
    let state = glue
        .get_job_run()
        .job_name("scan-nightly-load")
        .run_id(&run_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state.job_run().and_then(|run| run.job_run_state()),
        Some(&aws_sdk_glue::types::JobRunState::Starting)
    );
    // Read only: both sessions still run.
    for id in ["scan-small", "scan-big"] {
        let session = glue.get_session().id(id).send().await.unwrap();
        assert_eq!(
            session.session().and_then(|s| s.status()),
            Some(&aws_sdk_glue::types::SessionStatus::Ready),
            "{id}"
        );
    }
}

/// The preventive layer against moto's IAM: deploy tags the named roles with their usage
/// profile and attaches the guardrail policy; a tag that was there before is left alone; a role
/// tagged with another profile by someone else stops deploy before anything changes; a role the
/// policy stops naming is undone; clean-up removes exactly what deploy added. (moto skips
/// `AWS::Glue::UsageProfile` and has no usage-profile API: coverage says it could not read them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_assigns_the_named_roles_and_clean_up_removes_exactly_that() {
    use policy::guardrails::PROFILE_TAG_KEY;
    use xtask::coverage::RoleCheck;
    use xtask_aws::assign::{MARKER_TAG_KEY, guardrail_policy_arn};

    emulator_credentials();
    let moto = Moto::start().unwrap();
    let stack = "gsg-roles";
    let scratch = Scratch::new(stack);
    let args = scratch.args(&moto.endpoint);
    let aws = emulator(&args).await;
    let iam = aws.iam();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"glue.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let tag = |key: &str, value: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .unwrap()
    };
    for (name, tags) in [
        ("DataEngineer", vec![tag("team", "analytics")]),
        // Tagged by hand, before the guard, with the profile the policy gives it.
        ("PreTagged", vec![tag(PROFILE_TAG_KEY, "gsg-roles-default")]),
        ("DataPlatformAdmin", vec![]),
        // Tagged by someone else with another profile.
        ("ThirdParty", vec![tag(PROFILE_TAG_KEY, "finance-profile")]),
    ] {
        iam.create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap();
    }
    let write_roles = |roles: &[&str]| {
        let mut text = std::fs::read_to_string(scratch.policy()).unwrap();
        if let Some(cut) = text.find("usage_profiles:") {
            text.truncate(cut);
        }
        text.push_str("usage_profiles:\n  roles:\n");
        for role in roles {
            text.push_str(&format!(
                "    - role: arn:aws:iam::123456789012:role/{role}\n"
            ));
        }
        std::fs::write(scratch.policy(), text).unwrap();
    };
    let tags_of = |role: &'static str| {
        let iam = iam.clone();
        async move {
            let mut tags: Vec<(String, String)> = iam
                .list_role_tags()
                .role_name(role)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            tags.sort();
            tags
        }
    };
    let policy_arn = guardrail_policy_arn("aws", "123456789012", stack, REGION);
    let attached = || {
        let iam = iam.clone();
        let policy_arn = policy_arn.clone();
        async move {
            let mut roles: Vec<String> = iam
                .list_entities_for_policy()
                .policy_arn(&policy_arn)
                .send()
                .await
                .map(|out| {
                    out.policy_roles()
                        .iter()
                        .filter_map(|r| r.role_name().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            roles.sort();
            roles
        }
    };
    let pair = |key: &str, value: &str| (key.to_string(), value.to_string());

    // A role tagged with another profile by someone else: refused before anything changes.
    write_roles(&["DataEngineer", "ThirdParty"]);
    let preventive = || xtask_aws::account::plan::preventive(&args);
    let steps = |roles: Vec<xtask_aws::account::plan::RoleChange>| -> Vec<String> {
        roles.into_iter().map(|change| change.step).collect()
    };
    let (report, roles) = preventive().await.unwrap();
    let roles = steps(roles);
    assert!(
        roles
            .iter()
            .any(|line| line.starts_with("CONFLICT arn:aws:iam::123456789012:role/ThirdParty")),
        "{roles:?}"
    );
    assert!(report.to_text().contains("require_vpc_connection"));
    let error = scratch
        .deploy(&moto.endpoint)
        .deploy(Terminal::Absent)
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("ThirdParty: it is already tagged glue:UsageProfile=finance-profile"),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(
        stack::describe(&aws.cloudformation(), stack)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(tags_of("DataEngineer").await, [pair("team", "analytics")]);

    // Deploy: each named role tagged (unless it already was) and given the guardrail policy.
    write_roles(&["DataEngineer", "PreTagged", "DataPlatformAdmin"]);
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Created
    );
    assert_eq!(
        tags_of("DataEngineer").await,
        [
            pair(MARKER_TAG_KEY, stack),
            pair(PROFILE_TAG_KEY, "gsg-roles-default"),
            pair("team", "analytics"),
        ]
    );
    assert_eq!(
        tags_of("PreTagged").await,
        [pair(PROFILE_TAG_KEY, "gsg-roles-default")],
        "a tag that was there before gets no marker"
    );
    assert_eq!(
        tags_of("DataPlatformAdmin").await,
        [
            pair(MARKER_TAG_KEY, stack),
            pair(PROFILE_TAG_KEY, "gsg-roles-override-platform-admins"),
        ]
    );
    assert_eq!(
        attached().await,
        ["DataEngineer", "DataPlatformAdmin", "PreTagged"]
    );

    // Coverage reads the roles: every one has what it needs.
    let policy = paths::load_policy(&scratch.policy()).unwrap();
    let caller = xtask_aws::aws::caller(&aws).await.unwrap();
    let read_account = || xtask_aws::coverage::account_report(&aws, &caller, &policy);
    let report = read_account().await.unwrap();
    for (assignment, check) in &report.roles {
        assert_eq!(check, &RoleCheck::Ready, "{}", assignment.role_arn);
    }
    assert_eq!(
        report.profile_notes.len(),
        3,
        "moto has no usage-profile API"
    );
    for (profile, why) in &report.profile_notes {
        // One line, never an emulator's raw HTML error page.
        assert!(
            !why.contains('<') && !why.contains('\n'),
            "{profile}: {why}"
        );
    }

    // Redeploy: nothing to do.
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Unchanged
    );

    // The policy stops naming DataEngineer: deploy undoes exactly what it did to it.
    write_roles(&["PreTagged", "DataPlatformAdmin"]);
    let roles = steps(preventive().await.unwrap().1);
    assert_eq!(
        roles,
        [
            "detach the guardrail policy from role DataEngineer",
            "untag role DataEngineer (glue:UsageProfile=gsg-roles-default, added by deploy)"
        ]
    );
    scratch
        .deploy(&moto.endpoint)
        .deploy(Terminal::Absent)
        .await
        .unwrap();
    assert_eq!(tags_of("DataEngineer").await, [pair("team", "analytics")]);
    assert_eq!(attached().await, ["DataPlatformAdmin", "PreTagged"]);
    // Coverage sees a role whose tag someone removed.
    iam.untag_role()
        .role_name("DataPlatformAdmin")
        .tag_keys(PROFILE_TAG_KEY)
        .send()
        .await
        .unwrap();
    let report = read_account().await.unwrap();
    let admin = report
        .roles
        .iter()
        .find(|(assignment, _)| assignment.role_name == "DataPlatformAdmin")
        .unwrap();
    assert!(
        matches!(&admin.1, RoleCheck::Lacks(what) if what[0].contains("gsg-roles-override-platform-admins")),
        "{:?}",
        admin.1
    );
    assert!(report.needs_attention());

    // Clean-up: the guardrail policy detached from every role, the tags deploy added removed,
    // the tag that was there before kept.
    scratch
        .clean_up(&moto.endpoint, YES)
        .clean_up(Terminal::Absent)
        .await
        .unwrap();
    assert!(
        stack::describe(&aws.cloudformation(), stack)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        tags_of("PreTagged").await,
        [pair(PROFILE_TAG_KEY, "gsg-roles-default")]
    );
    assert_eq!(
        tags_of("DataPlatformAdmin").await,
        Vec::<(String, String)>::new()
    );
    assert_eq!(
        tags_of("ThirdParty").await,
        [pair(PROFILE_TAG_KEY, "finance-profile")]
    );
    assert!(attached().await.is_empty());
}

/// CloudFormation takes 51,200 bytes as `TemplateBody` and 1 MB from S3: deploy uploads the
/// template and passes its URL, so a policy with 60 overrides deploys whole, its readable
/// policy in the template's Metadata intact (moto reads `TemplateURL` from its own S3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_with_60_overrides_deploys_through_template_url_with_its_metadata_intact() {
    emulator_credentials();
    let moto = Moto::start().unwrap();
    let scratch = Scratch::new("gsg-big-policy");
    let mut text = std::fs::read_to_string(scratch.policy()).unwrap();
    // Sixty more session overrides, first in the list (the top-level `overrides:`, not jobs').
    text = text.replacen("\noverrides:\n", "\noverrides:\n  # sixty more\n", 1);
    let mut overrides = String::new();
    for i in 0..60 {
        overrides.push_str(&format!(
            "  - name: team-{i:02}\n    principals: [\"arn:aws:iam::123456789012:role/TeamRoleWithALongName{i:02}*\"]\n    \
             boundaries: {{max_workers: {}, max_dpu: {}, allowed_worker_types: [G.1X, G.2X, G.4X]}}\n",
            11 + i,
            40 + 2 * i
        ));
    }
    text = text.replace("  # sixty more\n", &overrides);
    std::fs::write(scratch.policy(), &text).unwrap();
    let policy = xtask::paths::load_policy(&scratch.policy()).unwrap();
    assert_eq!(policy.overrides.len(), 62);
    let body = xtask::template::render_stack(&policy).unwrap();
    assert!(
        body.len() > policy::limits::CLOUDFORMATION_TEMPLATE_BODY_BYTES,
        "{} bytes: too small to need TemplateURL",
        body.len()
    );

    let args = scratch.args(&moto.endpoint);
    let aws = emulator(&args).await;
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Created
    );
    let cf = aws.cloudformation();
    let deployed = cf
        .get_template()
        .stack_name("gsg-big-policy")
        .send()
        .await
        .unwrap()
        .template_body()
        .unwrap()
        .to_string();
    assert_eq!(deployed, body, "the whole template, comments and all");
    let doc: serde_yaml::Value = serde_yaml::from_str(&deployed).unwrap();
    assert_eq!(
        doc["Metadata"]["GlueSessionGuard"]["Policy"]["overrides"]
            .as_sequence()
            .map(Vec::len),
        Some(62)
    );
    // The template sits in the artifact bucket under its content hash.
    let caller = xtask_aws::aws::caller(&aws).await.unwrap();
    let bucket = artifacts::bucket_name("gsg-big-policy", &caller.account, REGION);
    aws.s3()
        .head_object()
        .bucket(&bucket)
        .key(artifacts::template_key(&body))
        .send()
        .await
        .unwrap();
    // An update goes through a change set that reads the new template from there too.
    std::fs::write(
        scratch.policy(),
        text.replace("max_workers: 10", "max_workers: 9"),
    )
    .unwrap();
    assert_eq!(
        scratch
            .deploy(&moto.endpoint)
            .deploy(Terminal::Absent)
            .await
            .unwrap(),
        Deployed::Updated
    );
    scratch
        .clean_up(&moto.endpoint, YES)
        .clean_up(Terminal::Absent)
        .await
        .unwrap();
}

/// The preflight stops a deploy AWS would refuse before anything changes: a guardrail policy
/// name something else holds (IAM names are global to an account), and a reservation the
/// account cannot be shown to give (moto has no `GetAccountSettings`: the quota arithmetic and
/// its message are tested with mocked answers in `preflight/tests.rs`). A trail that logs only
/// read events is a warning plan shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preflight_stops_what_aws_would_refuse_before_any_change() {
    emulator_credentials();
    let (_moto, endpoint) = consent_emulator();
    let scratch = Scratch::new("gsg-preflight");
    let args = scratch.args(&endpoint);
    let aws = emulator(&args).await;
    let nothing = Holdings {
        stack: false,
        bucket: false,
    };

    // A policy of that name made by hand (or by the same stack in another account's Region).
    let taken = aws
        .iam()
        .create_policy()
        .policy_name(xtask::template::guardrail_policy_name("gsg-preflight", REGION))
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let error = scratch
        .deploy(&endpoint)
        .deploy(Terminal::Absent)
        .await
        .unwrap_err();
    let shown = format!("{error:#}");
    assert!(
        shown.contains("the preflight found what AWS would refuse"),
        "{shown}"
    );
    assert_eq!(holdings(&aws, "gsg-preflight").await, nothing);
    let plan = xtask_aws::account::plan::plan(&args.clone()).await.unwrap();
    let stop = plan
        .preflight
        .iter()
        .find(|f| f.check == "name")
        .expect("plan shows the taken name");
    assert!(
        stop.message.contains("IAM names are global to an account"),
        "{}",
        stop.message
    );
    aws.iam()
        .delete_policy()
        .policy_arn(taken.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();

    // A reservation: moto cannot say what the account gives, so deploy will not ask for it.
    let text = std::fs::read_to_string(scratch.policy()).unwrap();
    std::fs::write(
        scratch.policy(),
        text.replace(
            "  name: gsg-preflight\n",
            "  name: gsg-preflight\n  reserved_concurrency: 5\n",
        ),
    )
    .unwrap();
    let error = scratch
        .deploy(&endpoint)
        .deploy(Terminal::Absent)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("nothing was changed"));
    assert_eq!(holdings(&aws, "gsg-preflight").await, nothing);
    std::fs::write(scratch.policy(), &text).unwrap();

    // A trail that logs read-only management events: CreateSession never arrives.
    let ct = aws.cloudtrail();
    let bucket = "gsg-preflight-trail";
    aws.s3()
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap();
    ct.create_trail()
        .name("reads-only")
        .s3_bucket_name(bucket)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("reads-only").send().await.unwrap();
    ct.put_event_selectors()
        .trail_name("reads-only")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .include_management_events(true)
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = xtask_aws::account::plan::plan(&args.clone()).await.unwrap();
    let trail = plan
        .preflight
        .iter()
        .find(|f| f.check == "cloudtrail")
        .expect("a read-only trail is a finding");
    assert_eq!(trail.severity, xtask_aws::preflight::Severity::Warn);
    assert!(
        trail
            .message
            .contains("reads-only logs no write management events"),
        "{}",
        trail.message
    );
    ct.put_event_selectors()
        .trail_name("reads-only")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .include_management_events(true)
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = xtask_aws::account::plan::plan(&args).await.unwrap();
    assert!(
        plan.preflight.iter().all(|f| f.check != "cloudtrail"),
        "{:?}",
        plan.preflight
    );
}
