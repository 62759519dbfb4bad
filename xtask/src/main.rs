//! `cargo xtask`: the project's command line (validate, evaluate, test-policies, render, …).
//! One module per subcommand, each with `run(self) -> anyhow::Result<()>`.

mod artifacts;
mod aws;
mod bench;
mod build;
mod cleanup;
mod consent;
mod demo;
mod deploy;
mod evaluate;
#[cfg(test)]
mod lifecycle_tests;
mod lint;
mod network;
mod paths;
mod plan;
mod policy_tests;
mod render;
mod runtime_api;
mod stack;
mod status;
mod test;
mod tools;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Judge one CloudTrail event or Glue session against a policy and print the verdict.
    Evaluate(evaluate::Evaluate),
    /// Run each policy's sample sessions and compare with the expected verdicts.
    TestPolicies(policy_tests::TestPolicies),
    /// Render the CloudFormation stack for a policy.
    Render(render::Render),
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
    Deploy(deploy::Deploy),
    /// Show what a deploy would change (text, Markdown for PR comments, or JSON).
    Plan(plan::PlanCommand),
    /// The deployed stack's state, recent events, outputs, DLQ depth and alarm states.
    Status(status::Status),
    /// Delete the stack and the artifact bucket.
    CleanUp(cleanup::CleanUp),
    /// The whole loop locally: moto, deploy, two sessions, the function under cargo lambda
    /// watch, verdicts, the stop and its notification, clean-up.
    Demo(demo::Demo),
    /// Measure this build against its performance targets (package size, start-up, memory,
    /// work per event, evaluate, render); one table, JSON in bench/latest.json.
    Bench(bench::Bench),
}

/// A command's outcome beyond "it worked": `Failed` exits 1 after the command printed why.
///
/// The exit codes mean the same for every command: 0 done; 1 done, and the answer is no (an
/// invalid policy, a failed test, a stale render, a lint finding, a stack that needs
/// attention); 2 could not run (bad arguments, as clap reports them, an unreadable file, an AWS
/// or tool failure).
pub enum Outcome {
    Success,
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match paths::ensure_built_here()
        .map_err(anyhow::Error::from)
        .and_then(|()| run(cli.command))
    {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
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

fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Validate(command) => command.run(),
        Command::Evaluate(command) => command.run(),
        Command::TestPolicies(command) => command.run(),
        Command::Render(command) => command.run(),
        Command::Lint(command) => command.run(),
        Command::Setup(command) => command.run(),
        Command::Test(command) => command.run(),
        Command::Build(command) => command.run(),
        Command::Deploy(command) => command.run(),
        Command::Plan(command) => command.run(),
        Command::Status(command) => command.run(),
        Command::CleanUp(command) => command.run(),
        Command::Demo(command) => command.run(),
        Command::Bench(command) => command.run(),
    }
}
