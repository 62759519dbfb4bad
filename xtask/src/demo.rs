//! `cargo xtask demo`: the whole loop on this machine. Installs the pinned tools, starts moto,
//! deploys the default policy's stack into it (the real deploy code path), creates a compliant
//! and an out-of-bounds Glue session, delivers their CloudTrail events to the function running
//! under `cargo lambda watch`, shows the verdicts, the stopped session and the notification,
//! then cleans up and stops everything it started.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::aws::{Aws, AwsArgs};
use crate::cleanup::CleanUp;
use crate::consent::{Confirmation, Terminal};
use crate::deploy::Deploy;
use crate::tools::{self, Moto};
use crate::{Outcome, paths, stack};

const REGION: &str = "eu-west-1";
/// The demo changes only its own emulator, so it never asks.
const EMULATOR: Confirmation = Confirmation { yes: true };

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Demo {
    /// The policy to demonstrate.
    #[arg(long, default_value = "policies/default.yaml")]
    policy: PathBuf,
}

/// Prints one step of the demo.
fn step(text: &str) {
    println!("\n==> {text}");
}

impl Demo {
    pub fn run(self) -> anyhow::Result<Outcome> {
        step("installing the pinned tools into .venv (once)");
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
        let args = AwsArgs {
            policy: self.policy.clone(),
            region: Some(REGION.into()),
            profile: None,
            endpoint_url: Some(moto.endpoint.clone()),
        };
        let result = crate::aws::runtime()?.block_on(demo(&args));
        step("cleaning up: deleting the stack and the artifact bucket");
        let clean_up = CleanUp {
            aws: args,
            confirmation: EMULATOR,
        };
        let cleaned = crate::aws::runtime()?.block_on(clean_up.clean_up(Terminal::Absent));
        drop(moto);
        println!("moto stopped; nothing is left running");
        result?;
        cleaned?;
        Ok(Outcome::Success)
    }
}

async fn demo(args: &AwsArgs) -> anyhow::Result<()> {
    let policy = paths::load_policy(&args.policy)?;
    step("deploying the policy's stack into moto (same code path as a real deploy)");
    Deploy {
        aws: args.clone(),
        confirmation: EMULATOR,
        ..Deploy::default()
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

    step("starting the enforcer function under `cargo lambda watch` (compiles it the first time)");
    let watch = Watch::start(&aws, &policy, &topic, &ledger)?;

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
        let reply = watch.invoke(&event)?;
        println!("  function replied: {}", reply.trim());
    }
    drop(watch);

    step("what happened in moto");
    for (id, _) in &sessions {
        let session = glue.get_session().id(*id).send().await?;
        let status = session
            .session()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string());
        println!("{id}: {}", status.unwrap_or_else(|| "gone".into()));
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

/// A value for cargo-lambda's env file: single-quoted (taken literally), or double-quoted with
/// escapes when it holds a single quote.
fn dotenv_quoted(value: &str) -> String {
    if value.contains('\'') {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$");
        format!("\"{escaped}\"")
    } else {
        format!("'{value}'")
    }
}

/// The function running under `cargo lambda watch`, stopped (with its whole process group)
/// when dropped.
struct Watch {
    child: Child,
    port: u16,
}

impl Watch {
    fn start(
        aws: &Aws,
        policy: &policy::Policy,
        topic: &str,
        ledger: &str,
    ) -> anyhow::Result<Watch> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let endpoint = aws.endpoint_url.clone().unwrap_or_default();
        let env = [
            ("GSG_POLICY", policy::runtime_policy_env(policy)),
            ("NOTIFICATION_TOPIC_ARN", topic.to_string()),
            ("STACK_NAME", policy.stack.name.clone()),
            ("LEDGER_TABLE", ledger.to_string()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "demo".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "demo".to_string()),
        ];
        let env_file = std::env::temp_dir().join(format!("gsg-demo-{}.env", std::process::id()));
        let lines: String = env
            .iter()
            .map(|(k, v)| format!("{k}={}\n", dotenv_quoted(v)))
            .collect();
        std::fs::write(&env_file, lines)?;
        let mut command = Command::new(tools::venv_bin("cargo-lambda"));
        command
            .current_dir(paths::root())
            .env("PATH", tools::path_with_venv()?)
            .args([
                "lambda",
                "watch",
                "--quiet",
                "--ignore-changes",
                "--package",
                "glue-session-guard-lambda",
            ])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .arg("--env-file")
            .arg(&env_file)
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().context("starting cargo lambda watch")?;
        let mut watch = Watch { child, port };
        let deadline = Instant::now() + Duration::from_secs(900);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = watch.child.try_wait()? {
                anyhow::bail!("cargo lambda watch exited before serving ({status})");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "cargo lambda watch did not start within 15 minutes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(watch)
    }

    /// Sends one event with `cargo lambda invoke` and returns the function's reply.
    fn invoke(&self, event: &Value) -> anyhow::Result<String> {
        let output = Command::new(tools::venv_bin("cargo-lambda"))
            .current_dir(paths::root())
            .env("PATH", tools::path_with_venv()?)
            .args([
                "lambda",
                "invoke",
                "bootstrap",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &self.port.to_string(), "--data-ascii"])
            .arg(event.to_string())
            .output()
            .context("running cargo lambda invoke")?;
        anyhow::ensure!(
            output.status.success(),
            "cargo lambda invoke failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Ctrl-C is how cargo lambda watch is meant to stop: it then stops the function
        // instances it started (in process groups of their own). Force the rest after 10 s.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", &format!("-{pid}")])
            .status();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::dotenv_quoted;

    #[test]
    fn env_file_values_survive_quotes_and_braces() {
        assert_eq!(dotenv_quoted(r#"{"a":"b"}"#), r#"'{"a":"b"}'"#);
        assert_eq!(dotenv_quoted(r#"it's "$x""#), r#""it's \"\$x\"""#);
    }
}
