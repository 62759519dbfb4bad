//! The command line of `cargo xtask`: the commands that never talk to AWS run here; the ones that
//! do (`forward::AWS_COMMANDS`) are handed, with their arguments, to `xtask-aws`, whose `--help`
//! documents their flags. `coverage` and `backtest` run here unless they must read AWS.

use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::commands::{
    backtest, bench, build, catalogue, coverage, evaluate, lint, render, setup, test,
    test_policies, validate,
};
use crate::{Exit, forward, paths};

/// The exit codes, as every command's `--help` ends.
pub const EXIT_CODES: &str = "Exit codes: 0 done; 1 done, and the answer is no (an invalid \
     policy, a failed test, a stale render, a lint finding, a session that would be stopped, \
     deleted or notified, a deploy that would stop, a stack that needs attention); 2 could not \
     run (bad arguments, an unreadable file, an AWS or tool failure).";

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "Glue Session Guard: policy, stack and Lambda tooling",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policy files (default: every policy in policies/); exit 1 listing every error.
    Validate(validate::ValidateCommand),
    /// Judge every record a file holds (a CloudTrail record, trail log file, LookupEvents
    /// response, JSON Lines, a Glue session) against a policy: one verdict per record; exit 1
    /// when one would be stopped, deleted or notified.
    Evaluate(evaluate::EvaluateCommand),
    /// Run each policy's sample sessions and compare with the expected verdicts.
    TestPolicies(test_policies::TestPoliciesCommand),
    /// What this build knows about Glue (worker types and their DPUs, Glue versions, session
    /// types, documented defaults, scaling arguments), each row with its AWS page.
    Catalogue(catalogue::CatalogueCommand),
    /// Render the CloudFormation stack for a policy (or its SCP, or the central topic's policy).
    #[command(
        override_usage = "cargo xtask render --policy <POLICY> [--out <FILE>] [--scp | --central]\n       \
                                cargo xtask render --check | --write-all\n       \
                                cargo xtask render --athena-table --trail-bucket <S3_URI> [OPTIONS]"
    )]
    Render(render::RenderCommand),
    /// Which boundaries are enforced before a session starts (usage profile, IAM policy, SCP)
    /// and which only after (the Lambda); with roles named, what each lacks in the account.
    Coverage(coverage::CoverageCommand),
    /// Lint the rendered stacks in policies/rendered/ with the pinned cfn-lint and checkov
    /// (offline); any cfn-lint warning or failed checkov check fails.
    Lint(lint::LintCommand),
    /// Install the pinned Python tools (moto, cfn-lint, checkov, cargo-lambda, zig) into ./.venv.
    Setup(setup::SetupCommand),
    /// The one test command: every test against a local moto server, policy samples,
    /// rendered-stack freshness, cfn-lint and checkov.
    Test(test::TestCommand),
    /// Build the Lambda package (bootstrap.zip) with cargo-lambda.
    Build(build::BuildCommand),
    /// Measure this build against its performance targets (package size, start-up, memory,
    /// work per event, evaluate, render); one table, JSON in bench/latest.json.
    Bench(bench::BenchCommand),
    /// Judge every session, job run and job definition in a stretch of CloudTrail's history
    /// under a policy (and a baseline): what it would stop, for which rules, and the DPU-hours
    /// at stake.
    Backtest(Box<backtest::BacktestCommand>),
}

/// The CLI with the AWS commands added as forwarders: each takes whatever arguments follow and
/// shows `xtask-aws`'s help for `--help`.
fn command() -> clap::Command {
    let mut cli = Cli::command();
    for aws in forward::AWS_COMMANDS {
        cli = cli.subcommand(
            clap::Command::new(aws.name)
                .about(aws.about)
                .disable_help_flag(true)
                .arg(
                    Arg::new("args")
                        .num_args(0..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true)
                        .action(ArgAction::Append)
                        .value_parser(clap::value_parser!(std::ffi::OsString)),
                ),
        );
    }
    cli
}

/// Parses the command line and runs the command; the exit code follows [`Exit`].
pub fn main() -> ExitCode {
    crate::output::end_quietly_when_the_reader_goes();
    let matches = command().get_matches();
    exit_code(
        paths::ensure_built_here()
            .map_err(anyhow::Error::from)
            .and_then(|()| run(&matches)),
    )
}

/// The process's exit code for a command's result: an invalid policy is exit 1 with its
/// `file:line:col: field: reason` lines, whichever command read it; a refusal ([`Refused`]) is
/// exit 1 with its reason; any other error is exit 2.
pub fn exit_code(result: anyhow::Result<Exit>) -> ExitCode {
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::from(1),
        Ok(Exit::Forwarded(code)) => ExitCode::from(code),
        Err(error) => {
            if let Some(invalid) = error
                .chain()
                .find_map(|cause| cause.downcast_ref::<policy::PolicyErrors>())
            {
                eprintln!("{invalid}");
                ExitCode::from(1)
            } else if error.chain().any(|cause| cause.is::<Refused>()) {
                eprintln!("{error:#}");
                ExitCode::from(1)
            } else {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        }
    }
}

/// A command that refused, after reading everything it needed and changing nothing, because the
/// answer is no (a deploy whose preflight found what AWS would refuse, a role another stack
/// owns): exit 1, as for an invalid policy.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn run(matches: &ArgMatches) -> anyhow::Result<Exit> {
    if let Some((name, sub)) = matches.subcommand()
        && forward::AWS_COMMANDS.iter().any(|aws| aws.name == name)
    {
        let mut args = vec![std::ffi::OsString::from(name)];
        args.extend(
            sub.get_many::<std::ffi::OsString>("args")
                .into_iter()
                .flatten()
                .cloned(),
        );
        return forward::to_aws(args);
    }
    let cli = Cli::from_arg_matches(matches).unwrap_or_else(|error| error.exit());
    match cli.command {
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
        Command::Bench(command) => command.run(),
        Command::Backtest(command) => command.run(),
    }
}
