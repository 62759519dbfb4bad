//! `cargo xtask`: the project's command line (validate, evaluate, test-policies, render, …).
//! One module per subcommand, each with `run(self) -> anyhow::Result<()>`.

mod evaluate;
mod paths;
mod policy_tests;
mod render;
mod test;
mod tools;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Glue Session Guard: policy, stack and Lambda tooling"
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
    /// Install the pinned Python tools (moto, cfn-lint, cargo-lambda, zig) into ./.venv.
    Setup(tools::Setup),
    /// The one test command: every test against a local moto server, policy samples,
    /// rendered-stack freshness and cfn-lint.
    Test(test::Test),
}

/// A command's outcome beyond "it worked": `Failed` exits 1 after the command printed why.
pub enum Outcome {
    Success,
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(command) => command.run(),
        Command::Evaluate(command) => command.run(),
        Command::TestPolicies(command) => command.run(),
        Command::Render(command) => command.run(),
        Command::Setup(command) => command.run(),
        Command::Test(command) => command.run(),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
