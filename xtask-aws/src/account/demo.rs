//! The demo of one account: the whole loop on this machine (`cargo xtask demo`). Installs the pinned tools, starts moto,
//! builds the function once (a dev build sharing `xtask-aws`'s dependencies,
//! [`package::demo_package`]) and deploys the default policy's stack into moto with it (the real
//! deploy code path), creates a compliant and an out-of-bounds Glue session, delivers their
//! CloudTrail events to the very `bootstrap` it deployed, running under a stand-in Lambda
//! Runtime API (`runtime_api`), shows the verdicts, the stopped session and the notification,
//! and, with a `jobs` section, a job run with oversized overrides judged by the function (moto
//! cannot stop it: it has no `BatchStopJobRun`), then cleans up and stops everything it started.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::account::clean_up::CleanUpOptions;
use crate::account::deploy::DeployOptions;
use crate::aws::{Aws, AwsArgs};
use crate::runtime_api::{Answer, RuntimeApi};
use crate::stack;
use xtask::package;
use xtask::paths;
use xtask::tools::{self, Moto};
use xtask::ui::{Confirmation, Terminal, step};

const REGION: &str = "eu-west-1";
/// The demo changes only its own emulator, so it never asks.
const EMULATOR: Confirmation = Confirmation { yes: true };

/// Runs the whole loop against `moto` with the policy at `policy`: deploy, two sessions, the
/// deployed bootstrap under a stand-in Runtime API, the verdicts, the stop and its notification,
/// then clean-up, whatever happened before it.
pub fn run(moto: &Moto, policy: &Path) -> anyhow::Result<()> {
    let args = AwsArgs {
        policy: policy.to_path_buf(),
        region: Some(REGION.into()),
        aws_profile: None,
        endpoint_url: Some(moto.endpoint.clone()),
    };
    let result = crate::aws::tokio_runtime()?.block_on(demo(&args));
    step("cleaning up: deleting the stack and the artifact bucket");
    let clean_up = CleanUpOptions {
        aws: args,
        confirmation: EMULATOR,
    };
    let cleaned = crate::aws::tokio_runtime()?.block_on(clean_up.clean_up(Terminal::Absent));
    result?;
    cleaned?;
    Ok(())
}

/// The emulator of a demo: the pinned tools installed, credentials any emulator takes, and a
/// moto server on a loopback port (stopped when dropped).
pub fn start_emulator() -> anyhow::Result<Moto> {
    step("the pinned tools in .venv (installed on the first run only)");
    tools::ensure_venv()?;
    // The emulator takes any credentials; set them before any thread reads the environment.
    // SAFETY: still single-threaded here; nothing else reads or writes the environment yet.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "demo");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "demo");
        std::env::remove_var("AWS_PROFILE");
    }
    step("starting the moto server (AWS emulator) on a free loopback port");
    let moto = Moto::start()?;
    println!("moto at {}", moto.endpoint);
    Ok(moto)
}

async fn demo(args: &AwsArgs) -> anyhow::Result<()> {
    let policy = paths::load_policy(&args.policy)?;
    step(
        "building the function (a dev build, with xtask-aws's own dependencies: seconds, once \
         xtask-aws is built)",
    );
    // Minutes on a cold machine: on a blocking thread, never on the runtime's workers.
    let zip = tokio::task::spawn_blocking(package::demo_package)
        .await
        .context("building the function")??;
    step(
        "deploying the policy's stack into moto with that package (the code path of a real deploy; \
         moto has no CloudTrail trail, so the preflight's trail warning is expected: the demo \
         hands each event to the function itself)",
    );
    DeployOptions {
        aws: args.clone(),
        confirmation: EMULATOR,
        zip: Some(zip.clone()),
        ..DeployOptions::default()
    }
    .deploy(Terminal::Absent)
    .await?;
    let aws = Aws::load(args, None).await?;
    let deployed = stack::describe(&aws.cloudformation(), &policy.stack.name)
        .await?
        .context("the stack is not there after deploy")?;
    let topic = stack::output(&deployed, "NotificationTopicArn")
        .context("the stack has no NotificationTopicArn output")?
        .to_string();
    let ledger = stack::output(&deployed, "LedgerTableName")
        .context("the stack has no LedgerTableName output")?
        .to_string();

    step("subscribing an SQS inbox to the notification topic, to read what the guard sends");
    let sqs = aws.sqs();
    let inbox = sqs
        .create_queue()
        .queue_name("gsg-demo-inbox")
        .send()
        .await?;
    let inbox_url = inbox.queue_url().context("no queue URL")?.to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&inbox_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?;
    let inbox_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .context("the inbox has no ARN")?
        .clone();
    aws.sns()
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&inbox_arn)
        .send()
        .await?;

    step("creating two Glue interactive sessions in moto");
    let sessions = [
        (
            "demo-compliant",
            json!({"numberOfWorkers": 5, "workerType": "G.1X"}),
        ),
        (
            "demo-out-of-bounds",
            json!({"numberOfWorkers": 40, "workerType": "G.2X"}),
        ),
    ];
    let glue = aws.glue();
    for (id, shape) in &sessions {
        let workers = shape["numberOfWorkers"].as_i64().unwrap_or(5) as i32;
        let worker_type = shape["workerType"].as_str().unwrap_or("G.1X");
        glue.create_session()
            .id(*id)
            .role("arn:aws:iam::123456789012:role/GlueInteractiveSessionRole")
            .command(
                aws_sdk_glue::types::SessionCommand::builder()
                    .name("glueetl")
                    .python_version("3")
                    .build(),
            )
            .number_of_workers(workers)
            .worker_type(aws_sdk_glue::types::WorkerType::from(worker_type))
            .timeout(240)
            .idle_timeout(60)
            .glue_version("4.0")
            .connections(
                aws_sdk_glue::types::ConnectionsList::builder()
                    .connections("private-vpc")
                    .build(),
            )
            .tags("owner", "alice")
            .send()
            .await?;
        println!("created {id}: {workers} x {worker_type}");
    }

    step("starting the deployed bootstrap (from the package) under a stand-in Lambda Runtime API");
    let mut function = Function::start(&zip, &aws, &policy, &topic, &ledger)?;

    step("delivering each session's CloudTrail CreateSession event to the function");
    for (id, shape) in &sessions {
        let event = cloudtrail_event(id, shape)?;
        let verdict = policy::evaluate_event(&policy, &event);
        println!(
            "{id}: {} (action {}){}",
            verdict.decision.as_str(),
            verdict.action.as_str(),
            if verdict.violations.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    verdict
                        .violations
                        .iter()
                        .map(|v| v.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
        match function.invoke(&event)? {
            Answer::Response(reply) => println!("  function replied: {reply}"),
            Answer::Error(error) => anyhow::bail!("the function failed on {id}: {error}"),
        }
    }
    let job_run = match policy.jobs {
        Some(_) => Some(demo_job_run(args, &aws, &mut function, &policy).await?),
        None => None,
    };
    drop(function);

    step("what happened in moto");
    for (id, _) in &sessions {
        let session = glue.get_session().id(*id).send().await?;
        let status = session
            .session()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string());
        println!("{id}: {}", status.unwrap_or_else(|| "gone".into()));
    }
    if let Some(run_id) = &job_run {
        let run = glue
            .get_job_run()
            .job_name(DEMO_JOB)
            .run_id(run_id)
            .send()
            .await?;
        let state = run
            .job_run()
            .and_then(|run| run.job_run_state())
            .map(|state| state.as_str().to_string());
        println!(
            "{DEMO_JOB} run {run_id}: {} (moto cannot stop a run: it has no BatchStopJobRun)",
            state.unwrap_or_else(|| "gone".into())
        );
    }
    let messages = sqs
        .receive_message()
        .queue_url(&inbox_url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await?;
    println!("notifications received: {}", messages.messages().len());
    for message in messages.messages() {
        let envelope: Value =
            serde_json::from_str(message.body().unwrap_or("{}")).unwrap_or_default();
        println!(
            "--- subject: {}",
            envelope["Subject"].as_str().unwrap_or("(none)")
        );
        println!(
            "{}",
            envelope["Message"]
                .as_str()
                .unwrap_or(message.body().unwrap_or_default())
        );
    }
    Ok(())
}

/// The demo's job.
const DEMO_JOB: &str = "demo-nightly-load";

/// A job within the policy's job boundaries and a run of it whose `StartJobRun` overrides ask
/// for 100 x G.8X for 48 hours, its event delivered to the function. moto has no
/// `BatchStopJobRun` (it answers 500): the function judges the run, finds it out of bounds and
/// asks Glue to stop it, which moto cannot do, so the invocation fails there as retryable, as it
/// would on an AWS outage; the stop itself is tested against Glue's contract with mocked
/// answers (`lambda/tests/jobs.rs`). Returns the run's id.
async fn demo_job_run(
    args: &AwsArgs,
    aws: &Aws,
    function: &mut Function,
    policy: &policy::Policy,
) -> anyhow::Result<String> {
    step("creating a Glue job in moto and starting a run of it with oversized overrides");
    let endpoint = args.endpoint_url.as_deref().unwrap_or_default();
    // moto finishes a run on its first read unless told to hold it.
    tools::set_moto_transition(
        endpoint,
        "glue::job_run",
        json!({"progression": "manual", "times": 1000}),
    )?;
    let glue = aws.glue();
    glue.create_job()
        .name(DEMO_JOB)
        .role("arn:aws:iam::123456789012:role/GlueJobRole")
        .command(
            aws_sdk_glue::types::JobCommand::builder()
                .name("glueetl")
                .script_location("s3://demo-scripts/nightly_load.py")
                .build(),
        )
        .glue_version("5.0")
        .worker_type(aws_sdk_glue::types::WorkerType::G2X)
        .number_of_workers(10)
        .timeout(120)
        .connections(
            aws_sdk_glue::types::ConnectionsList::builder()
                .connections("private-vpc")
                .build(),
        )
        .tags("owner", "data-platform")
        .send()
        .await?;
    let run_id = glue
        .start_job_run()
        .job_name(DEMO_JOB)
        .worker_type(aws_sdk_glue::types::WorkerType::G8X)
        .number_of_workers(100)
        .timeout(2880)
        .send()
        .await?
        .job_run_id
        .unwrap_or_default();
    println!(
        "created {DEMO_JOB} (10 x G.2X) and started run {run_id} with 100 x G.8X for 48 hours"
    );

    step("delivering the run's CloudTrail StartJobRun event to the function");
    let sample = paths::policies_dir().join("samples/job-run-oversized.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&sample)?)?;
    event["detail"]["requestParameters"]["jobName"] = json!(DEMO_JOB);
    event["detail"]["responseElements"]["jobRunId"] = json!(run_id);
    event["detail"]["awsRegion"] = json!(REGION);
    event["region"] = json!(REGION);
    let verdict = match policy::read_job_record(&event) {
        Ok(policy::JobRecord::Run(request)) => {
            let job = glue.get_job().job_name(DEMO_JOB).send().await?;
            let definition = job.job().and_then(|job| {
                policy::facts_from_glue_job(&glue_session_guard_lambda::job::job_json(job)).ok()
            });
            policy::evaluate_job(
                policy,
                &policy::JobFacts::run(definition.as_ref(), &request, None),
            )
        }
        _ => anyhow::bail!("{} is not a StartJobRun record", sample.display()),
    };
    println!(
        "{DEMO_JOB} run: {} (action {}): {}",
        verdict.decision.as_str(),
        verdict.action.as_str(),
        verdict
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    match function.invoke(&event)? {
        Answer::Response(reply) => println!("  function replied: {reply}"),
        Answer::Error(error) if error.to_string().contains("BatchStopJobRun") => println!(
            "  function judged the run out of bounds and called BatchStopJobRun, which moto does \
             not implement; on AWS the run stops here and one notification follows (the stop is \
             tested against Glue's contract in lambda/tests/jobs.rs).\n  the function's error, \
             whole: {}",
            error["errorMessage"].as_str().unwrap_or_default()
        ),
        Answer::Error(error) => anyhow::bail!("the function failed on the job run: {error}"),
    }
    Ok(run_id)
}

/// The EventBridge envelope CloudTrail would deliver for a CreateSession of `id`, by
/// alice (an ordinary data engineer), starting from the shipped compliant sample.
fn cloudtrail_event(id: &str, shape: &Value) -> anyhow::Result<Value> {
    let sample = paths::policies_dir().join("samples/compliant.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&sample)?)?;
    let request = &mut event["detail"]["requestParameters"];
    request["id"] = json!(id);
    request["numberOfWorkers"] = shape["numberOfWorkers"].clone();
    request["workerType"] = shape["workerType"].clone();
    event["detail"]["responseElements"]["session"]["id"] = json!(id);
    event["detail"]["awsRegion"] = json!(REGION);
    event["region"] = json!(REGION);
    Ok(event)
}

/// The packaged `bootstrap`, unpacked from the very zip that was deployed, running as a process
/// of its own against a stand-in Runtime API; killed when dropped.
struct Function {
    api: RuntimeApi,
    child: Child,
    _unpacked: tempfile::TempDir,
}

impl Function {
    fn start(
        zip: &Path,
        aws: &Aws,
        policy: &policy::Policy,
        topic: &str,
        ledger: &str,
    ) -> anyhow::Result<Function> {
        let unpacked = tempfile::Builder::new()
            .prefix("gsg-demo-bootstrap-")
            .tempdir()?;
        // The zip module of the pinned Python: no zip crate for one file.
        tools::run_checked(
            Command::new(tools::venv_bin("python"))
                .args(["-m", "zipfile", "-e"])
                .arg(zip)
                .arg(unpacked.path()),
        )
        .context("unpacking the deployed package")?;
        let bootstrap = unpacked.path().join("bootstrap");
        anyhow::ensure!(bootstrap.is_file(), "{} holds no bootstrap", zip.display());
        std::fs::set_permissions(
            &bootstrap,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let name = format!("{}-enforcer", policy.stack.name);
        let api = RuntimeApi::start(&format!(
            "arn:aws:lambda:{REGION}:123456789012:function:{name}"
        ))?;
        let child = Command::new(&bootstrap)
            .env_clear()
            .envs(api.function_env(&name))
            .envs([
                ("GSG_POLICY", policy::runtime_policy_env(policy)),
                ("NOTIFICATION_TOPIC_ARN", topic.to_string()),
                ("STACK_NAME", policy.stack.name.clone()),
                ("LEDGER_TABLE", ledger.to_string()),
                (
                    "AWS_ENDPOINT_URL",
                    aws.endpoint_url.clone().unwrap_or_default(),
                ),
                ("AWS_REGION", REGION.to_string()),
                ("AWS_ACCESS_KEY_ID", "demo".to_string()),
                ("AWS_SECRET_ACCESS_KEY", "demo".to_string()),
                ("AWS_LAMBDA_LOG_LEVEL", "WARN".to_string()),
            ])
            .stdin(Stdio::null())
            // Its JSON log and metric lines: the demo prints each reply and what happened instead.
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bootstrap.display()))?;
        Ok(Function {
            api,
            child,
            _unpacked: unpacked,
        })
    }

    /// Hands one event to the function and returns its answer (60 s at most).
    fn invoke(&mut self, event: &Value) -> anyhow::Result<Answer> {
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!("the function exited ({status})");
        }
        self.api.invoke(event, Duration::from_secs(60))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
