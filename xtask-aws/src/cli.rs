//! The command line of `xtask-aws`: the commands that talk to AWS, as `cargo xtask` hands them
//! here (`xtask::forward`). Their one line of help is `xtask::forward::AWS_COMMANDS`', the same in
//! both binaries; their flags are documented by their clap structs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::Exit;
use xtask::cli::{EXIT_CODES, exit_code};
use xtask::forward::about;

use crate::commands::{backtest, clean_up, coverage, demo, deploy, plan, scan, status};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "Glue Session Guard: the commands that talk to AWS",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(about = about("deploy"))]
    Deploy(deploy::DeployCommand),
    #[command(about = about("plan"))]
    Plan(plan::PlanCommand),
    #[command(about = about("status"))]
    Status(status::StatusCommand),
    #[command(about = about("scan"))]
    Scan(scan::ScanCommand),
    #[command(about = about("clean-up"))]
    CleanUp(clean_up::CleanUpCommand),
    #[command(about = about("demo"))]
    Demo(demo::DemoCommand),
    /// Which layer holds each boundary, with the named roles read in the account (handed here
    /// by `cargo xtask coverage` when roles are named).
    Coverage(coverage::CoverageCommand),
    /// Judge the Glue records of history in AWS (s3:// trails, LookupEvents, an Athena query
    /// with --athena), handed here by `cargo xtask backtest`.
    Backtest(Box<backtest::BacktestCommand>),
}

/// Parses the command line and runs the command; the exit code follows [`Exit`].
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    exit_code(
        xtask::paths::ensure_built_here()
            .map_err(anyhow::Error::from)
            .and_then(|()| run(cli.command)),
    )
}

fn run(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Deploy(command) => command.run(),
        Command::Plan(command) => command.run(),
        Command::Status(command) => command.run(),
        Command::Scan(command) => command.run(),
        Command::CleanUp(command) => command.run(),
        Command::Demo(command) => command.run(),
        Command::Coverage(command) => command.run(),
        Command::Backtest(command) => command.run(),
    }
}
