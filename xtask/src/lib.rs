//! `cargo xtask`: the project's command line for everything that never talks to AWS (validate,
//! evaluate, test-policies, catalogue, render, coverage, lint, setup, test, build, bench,
//! backtest of files), one module per command under [`commands`], and the pieces the AWS side
//! (`xtask-aws`, its own crate) shares with it. No AWS SDK: these commands answer without waiting
//! for one to compile. The commands that talk to AWS (deploy, plan, status, scan, clean-up, demo;
//! coverage when roles are named; backtest of `s3://` trails or `--lookup-events`) are handed to
//! `xtask-aws` ([`forward`]).
//!
//! Layers, top to bottom (a module uses only those below it, never one beside it):
//! - [`cli`]: parses the command line, runs a command or hands it on, maps the result to an
//!   exit code.
//! - `commands`: one leaf module per command.
//! - shared pieces: [`template`] (the stack), [`package`] (the Lambda package), [`history`] (the
//!   backtest engine), [`coverage`] (which layer holds each boundary), `verdicts`, [`output`]
//!   (the output contract), [`forward`], [`aws_args`], [`ui`], [`tools`], [`paths`].

pub mod aws_args;
pub mod cli;
mod commands;
pub mod coverage;
pub mod expiring;
pub mod forward;
pub mod history;
pub mod output;
pub mod package;
pub mod paths;
pub mod template;
pub mod tools;
pub mod ui;
pub mod verdicts;

/// A command's outcome beyond "it worked": `Failed` exits 1 after the command printed why.
///
/// The exit codes mean the same for every command: 0 done; 1 done, and the answer is no (an
/// invalid policy, a failed test, a stale render, a lint finding, a session that would be
/// stopped, deleted or notified, a deploy that would stop, a stack that needs attention); 2
/// could not run (bad arguments, as clap reports them, an unreadable file, an AWS or tool
/// failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Failed,
    /// The exit code of the `xtask-aws` run a command was handed to.
    Forwarded(u8),
}
