//! Handing a command to `xtask-aws`, the binary of the crate that talks to AWS: the commands it
//! runs, with the one line of help both CLIs show for each, and the cargo command that builds
//! (the first time, with cargo's progress shown) and runs it.

use std::ffi::OsString;
use std::process::Command;

use crate::{Exit, paths};

/// A command `xtask-aws` runs, and its one line of help (`cargo xtask --help` and `xtask-aws
/// --help` show the same).
pub struct AwsCommand {
    pub name: &'static str,
    pub about: &'static str,
}

/// Every command `cargo xtask` hands to `xtask-aws`, whole. (`coverage` and `backtest` are
/// handed over only when they must read AWS; their light forms run in `cargo xtask`.)
pub const AWS_COMMANDS: &[AwsCommand] = &[
    AwsCommand {
        name: "deploy",
        about: "Deploy the policy's stack (or, with --org, stack set): preflight, render, build, \
                upload, create or update",
    },
    AwsCommand {
        name: "plan",
        about: "Show what a deploy would change and what its preflight finds (text, Markdown \
                for PR comments, or JSON); exit 1 when deploy would stop",
    },
    AwsCommand {
        name: "status",
        about: "The deployed stack's state, events, outputs, dead-letter queue, alarms and email \
                subscriptions; exit 1 when something needs attention",
    },
    AwsCommand {
        name: "scan",
        about: "What the policy would do to the sessions running now (read only: nothing is \
                stopped or notified); exit 1 when some would be stopped, deleted or notified",
    },
    AwsCommand {
        name: "clean-up",
        about: "Delete the stack (undoing its role assignments) and the artifact bucket; with \
                --org, the stack set, its instances and buckets",
    },
    AwsCommand {
        name: "demo",
        about: "The whole loop locally: moto, deploy, two sessions and a job run, the deployed \
                bootstrap under a stand-in Runtime API, verdicts, the stop and its notification, \
                clean-up",
    },
];

/// The one line of help of `name`, an AWS command.
pub fn about(name: &str) -> &'static str {
    AWS_COMMANDS
        .iter()
        .find(|command| command.name == name)
        .map_or("", |command| command.about)
}

/// `cargo run --package xtask-aws --bin xtask-aws --`, at the root. When `xtask-aws` must be
/// built (no binary, or sources newer than it: the first run in a checkout builds the AWS SDK,
/// minutes on 2 cores), it says so and lets cargo show its progress; otherwise it runs quietly.
pub fn xtask_aws() -> Command {
    let mut command = crate::tools::cargo();
    command.current_dir(paths::root()).arg("run");
    if is_built() {
        command.arg("--quiet");
    } else {
        eprintln!(
            "building xtask-aws, the commands that talk to AWS (the first time in a checkout \
             this compiles the AWS SDK: several minutes on 2 cores; cargo's progress follows)"
        );
    }
    command.args(["--package", "xtask-aws", "--bin", "xtask-aws", "--"]);
    command
}

/// The sources `xtask-aws` is built from.
const AWS_SOURCES: &[&str] = &[
    "xtask-aws",
    "xtask/src",
    "xtask/Cargo.toml",
    "lambda/src",
    "lambda/Cargo.toml",
    "policy/src",
    "policy/Cargo.toml",
    "templates",
    "Cargo.toml",
    "Cargo.lock",
];

/// True when the `xtask-aws` binary exists and no source is newer (cargo still decides; this
/// only chooses whether to show its progress).
fn is_built() -> bool {
    let binary = paths::target_dir().join("debug/xtask-aws");
    let Ok(built) = std::fs::metadata(&binary).and_then(|meta| meta.modified()) else {
        return false;
    };
    fn newest(path: &std::path::Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() {
            std::fs::read_dir(path)
                .ok()?
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| newest(&entry.path()))
                .max()
        } else {
            meta.modified().ok()
        }
    }
    let root = paths::root();
    AWS_SOURCES
        .iter()
        .filter_map(|source| newest(&root.join(source)))
        .all(|changed| changed <= built)
}

/// Runs `xtask-aws` with `args` (a command and its arguments) and passes its exit code on.
pub(crate) fn to_aws(args: Vec<OsString>) -> anyhow::Result<Exit> {
    let status = xtask_aws()
        .args(&args)
        .status()
        .map_err(|error| anyhow::anyhow!("starting cargo to run xtask-aws: {error}"))?;
    Ok(Exit::Forwarded(forwarded_code(status)))
}

/// `xtask-aws`'s exit code; ended by a signal (its reader gone: SIGPIPE), 128 + the signal, as
/// a shell reports it; else 2.
fn forwarded_code(status: std::process::ExitStatus) -> u8 {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return u8::try_from(128 + signal).unwrap_or(2);
    }
    status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(2)
}
