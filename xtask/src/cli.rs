//! The command line both binaries parse: the light commands run here; the AWS ones run here
//! when this build has the `aws` feature (`xtask-aws`), and are handed to `xtask-aws` when not.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::*;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "Glue Session Guard: policy, stack and Lambda tooling",
    after_help = "Exit codes: 0 done; 1 done, and the answer is no (an invalid policy, a failed \
                  test, a stale render, a lint finding, a stack that needs attention); 2 could \
                  not run (bad arguments, an unreadable file, an AWS or tool failure)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policy files (default: every policy in policies/); exit 1 listing every error.
    Validate(validate::Validate),
    /// Judge every record a file holds (a CloudTrail record, trail log file, LookupEvents
    /// response, JSON Lines, a Glue session) against a policy: one verdict per record.
    Evaluate(evaluate::Evaluate),
    /// Run each policy's sample sessions and compare with the expected verdicts.
    TestPolicies(test_policies::TestPolicies),
    /// What this build knows about Glue (worker types and their DPUs, Glue versions, session
    /// types, documented defaults, scaling arguments), each row with its AWS page.
    Catalogue(catalogue::CatalogueCommand),
    /// Render the CloudFormation stack for a policy.
    Render(render::Render),
    /// Which boundaries are enforced before a session starts (usage profile, IAM policy, SCP)
    /// and which only after (the Lambda); with roles named, what each lacks in the account.
    Coverage(coverage::CoverageCommand),
    /// Lint the rendered stacks in policies/rendered/ with the pinned cfn-lint and checkov
    /// (offline); any cfn-lint warning or failed checkov check fails.
    Lint(lint::Lint),
    /// Install the pinned Python tools (moto, cfn-lint, checkov, cargo-lambda, zig) into ./.venv.
    Setup(tools::Setup),
    /// The one test command: every test against a local moto server, policy samples,
    /// rendered-stack freshness, cfn-lint and checkov.
    Test(test::Test),
    /// Build the Lambda package (bootstrap.zip) with cargo-lambda.
    Build(build::Build),
    /// Deploy the policy's stack: preflight, render, build, upload, create or update.
    #[cfg(feature = "aws")]
    Deploy(deploy::Deploy),
    /// Deploy the policy's stack: preflight, render, build, upload, create or update.
    #[cfg(not(feature = "aws"))]
    Deploy(Forward),
    /// Show what a deploy would change (text, Markdown for PR comments, or JSON).
    #[cfg(feature = "aws")]
    Plan(plan::PlanCommand),
    /// Show what a deploy would change (text, Markdown for PR comments, or JSON).
    #[cfg(not(feature = "aws"))]
    Plan(Forward),
    /// The deployed stack's state, recent events, outputs, DLQ depth and alarm states.
    #[cfg(feature = "aws")]
    Status(status::StatusCommand),
    /// The deployed stack's state, recent events, outputs, DLQ depth and alarm states.
    #[cfg(not(feature = "aws"))]
    Status(Forward),
    /// What the policy would do to the sessions running now (read only: nothing is stopped or
    /// notified); exit 1 when some would be stopped.
    #[cfg(feature = "aws")]
    Scan(scan::ScanCommand),
    /// What the policy would do to the sessions running now (read only: nothing is stopped or
    /// notified); exit 1 when some would be stopped.
    #[cfg(not(feature = "aws"))]
    Scan(Forward),
    /// Delete the stack and the artifact bucket.
    #[cfg(feature = "aws")]
    CleanUp(cleanup::CleanUp),
    /// Delete the stack and the artifact bucket.
    #[cfg(not(feature = "aws"))]
    CleanUp(Forward),
    /// The whole loop locally: moto, deploy, two sessions, the deployed bootstrap under a
    /// stand-in Runtime API, verdicts, the stop and its notification, clean-up.
    #[cfg(feature = "aws")]
    Demo(demo::Demo),
    /// The whole loop locally: moto, deploy, two sessions, the deployed bootstrap under a
    /// stand-in Runtime API, verdicts, the stop and its notification, clean-up.
    #[cfg(not(feature = "aws"))]
    Demo(Forward),
    /// Measure this build against its performance targets (package size, start-up, memory,
    /// work per event, evaluate, render); one table, JSON in bench/latest.json.
    Bench(bench::Bench),
    /// Judge every CreateSession in CloudTrail's history under a policy (and a baseline):
    /// what it would stop, for which rules, and the DPU-hours at stake.
    Backtest(backtest::Backtest),
}

/// Parses the command line and runs the command; the exit code follows [`Exit`].
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match paths::ensure_built_here()
        .map_err(anyhow::Error::from)
        .and_then(|()| run(cli.command))
    {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::from(1),
        Ok(Exit::Forwarded(code)) => ExitCode::from(code),
        Err(error) => match error
            .chain()
            .find_map(|cause| cause.downcast_ref::<policy::PolicyErrors>())
        {
            // An invalid policy is an answer, the same for every command: its
            // `file:line:col: field: reason` lines, and exit 1.
            Some(invalid) => {
                eprintln!("{invalid}");
                ExitCode::from(1)
            }
            None => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn run(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Validate(command) => command.run(),
        Command::Evaluate(command) => command.run(),
        Command::TestPolicies(command) => command.run(),
        Command::Catalogue(command) => command.run(),
        Command::Render(command) => command.run(),
        Command::Coverage(command) => command.run(),
        Command::Lint(command) => command.run(),
        Command::Setup(command) => command.run(),
        Command::Test(command) => command.run(),
        Command::Build(command) => command.run(),
        #[cfg(feature = "aws")]
        Command::Deploy(command) => command.run(),
        #[cfg(not(feature = "aws"))]
        Command::Deploy(forward) => forward.run("deploy"),
        #[cfg(feature = "aws")]
        Command::Plan(command) => command.run(),
        #[cfg(not(feature = "aws"))]
        Command::Plan(forward) => forward.run("plan"),
        #[cfg(feature = "aws")]
        Command::Status(command) => command.run(),
        #[cfg(not(feature = "aws"))]
        Command::Status(forward) => forward.run("status"),
        #[cfg(feature = "aws")]
        Command::Scan(command) => command.run(),
        #[cfg(not(feature = "aws"))]
        Command::Scan(forward) => forward.run("scan"),
        #[cfg(feature = "aws")]
        Command::CleanUp(command) => command.run(),
        #[cfg(not(feature = "aws"))]
        Command::CleanUp(forward) => forward.run("clean-up"),
        #[cfg(feature = "aws")]
        Command::Demo(command) => command.run(),
        #[cfg(not(feature = "aws"))]
        Command::Demo(forward) => forward.run("demo"),
        Command::Bench(command) => command.run(),
        Command::Backtest(command) => command.run(),
    }
}

// An AWS command's arguments, handed as they are to `xtask-aws`, which knows them (its `--help`
// lists them). A plain comment: a doc comment here would replace each command's own in `--help`.
#[cfg(not(feature = "aws"))]
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Forward {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<std::ffi::OsString>,
}

#[cfg(not(feature = "aws"))]
impl Forward {
    /// Runs `command` in `xtask-aws` and passes its exit code on.
    fn run(self, command: &str) -> anyhow::Result<Exit> {
        let mut args = vec![std::ffi::OsString::from(command)];
        args.extend(self.args);
        forward_to_aws(args)
    }
}

/// `cargo run … --bin xtask-aws --`, at the root: `xtask-aws` (built by cargo, with the AWS
/// SDK, the first time), waiting for its command and arguments.
pub fn xtask_aws() -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(paths::root()).args([
        "run",
        "--quiet",
        "--package",
        "xtask",
        "--features",
        "aws",
        "--bin",
        "xtask-aws",
        "--",
    ]);
    command
}

/// Runs `xtask-aws` (built by cargo, with the AWS SDK, the first time) with `args` (a command
/// and its arguments) and passes its exit code on.
pub fn forward_to_aws(args: Vec<std::ffi::OsString>) -> anyhow::Result<Exit> {
    {
        let status = xtask_aws()
            .args(&args)
            .status()
            .map_err(|error| anyhow::anyhow!("starting cargo to run xtask-aws: {error}"))?;
        Ok(Exit::Forwarded(
            status
                .code()
                .and_then(|code| u8::try_from(code).ok())
                .unwrap_or(2),
        ))
    }
}

/// Flags shared by the commands that talk to AWS (deploy, plan, status, scan, clean-up, demo,
/// coverage). Here, not in `aws`, so that the light build parses them too. The commands that change the account
/// (deploy, clean-up) add `--yes` (`ui::Confirmation`); plan and status never ask.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// The policy file.
    #[arg(long, default_value = "policies/default.yaml")]
    pub policy: PathBuf,
    /// AWS region (default: the policy's stack.region, else the AWS configuration).
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from the AWS configuration files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto), with its scheme:
    /// `http://127.0.0.1:5000`.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_parser = endpoint_url)]
    pub endpoint_url: Option<String>,
}

/// `--endpoint-url` must be a URL with a scheme and a host: the SDK would otherwise fail each
/// call with "endpoint must contain scheme" deep in its debug output.
pub(crate) fn endpoint_url(text: &str) -> Result<String, String> {
    match text.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() && !rest.starts_with('/') => {
            Ok(text.to_string())
        }
        Some((scheme, _)) => Err(format!(
            "`{text}`: the scheme must be http or https, not `{scheme}`"
        )),
        None => Err(format!(
            "`{text}` has no scheme: write http://{text} (an emulator) or https://{text}"
        )),
    }
}
