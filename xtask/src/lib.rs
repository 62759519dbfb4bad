//! `cargo xtask`: the project's command line (validate, evaluate, test-policies, render, …), one
//! module per subcommand, each with `run(self) -> anyhow::Result<Exit>`.
//!
//! Two binaries share this library. `xtask` (what `cargo xtask` runs) is built without the AWS
//! SDK, so the commands that never talk to AWS (validate, evaluate, test-policies, render, lint,
//! backtest of files, build, bench, setup, test) answer without waiting for it to compile. The
//! commands that talk to AWS (deploy, plan, status, scan, clean-up, demo) live behind the `aws` feature:
//! the light binary hands them to `xtask-aws` (`cargo run -p xtask --features aws --bin
//! xtask-aws`), which cargo builds the first time one of them is used.

pub mod backtest;
pub mod bench;
pub mod build;
pub mod catalogue;
pub mod cli;
pub mod coverage;
pub mod evaluate;
pub mod lint;
pub mod paths;
pub mod render;
pub mod runtime_api;
pub mod test;
pub mod test_policies;
pub mod tools;
pub mod ui;
pub mod validate;

#[cfg(feature = "aws")]
pub mod artifacts;
#[cfg(feature = "aws")]
pub mod assign;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod cleanup;
#[cfg(feature = "aws")]
pub mod demo;
#[cfg(feature = "aws")]
pub mod deploy;
#[cfg(all(test, feature = "aws"))]
mod lifecycle_tests;
#[cfg(feature = "aws")]
pub mod network;
#[cfg(feature = "aws")]
pub mod org;
#[cfg(feature = "aws")]
pub mod plan;
#[cfg(feature = "aws")]
pub mod preflight;
#[cfg(feature = "aws")]
pub mod scan;
#[cfg(feature = "aws")]
pub mod stack;
#[cfg(feature = "aws")]
pub mod status;

/// A command's outcome beyond "it worked": `Failed` exits 1 after the command printed why.
///
/// The exit codes mean the same for every command: 0 done; 1 done, and the answer is no (an
/// invalid policy, a failed test, a stale render, a lint finding, a stack that needs
/// attention); 2 could not run (bad arguments, as clap reports them, an unreadable file, an AWS
/// or tool failure).
#[derive(Debug)]
pub enum Exit {
    Success,
    Failed,
    /// The exit code of the `xtask-aws` run a command was handed to.
    Forwarded(u8),
}
