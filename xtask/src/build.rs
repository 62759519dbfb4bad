//! `cargo xtask build`: the Lambda's deployment package, built by cargo-lambda (from `.venv`,
//! cross-linking with zig) as `bootstrap.zip`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::{Outcome, paths, tools};

/// CPU architecture of the function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Architecture {
    /// x86_64 (the CloudFormation default). Lambda's own spelling; `x86-64` is accepted too.
    #[default]
    #[value(name = "x86_64", alias = "x86-64")]
    X86_64,
    /// Graviton: cheaper per GB-second; needs `rustup target add aarch64-unknown-linux-gnu`.
    Arm64,
}

impl Architecture {
    /// This machine's architecture: what a package must be built for to run here (the bench's
    /// harness, the demo).
    pub fn host() -> anyhow::Result<Architecture> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Architecture::X86_64),
            "aarch64" => Ok(Architecture::Arm64),
            other => {
                anyhow::bail!("the function is built for x86_64 or arm64; this machine is {other}")
            }
        }
    }

    /// The name Lambda uses.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Build {
    /// CPU architecture to build for.
    #[arg(long, value_enum, default_value_t)]
    pub arch: Architecture,
}

impl Build {
    pub fn run(self) -> anyhow::Result<Outcome> {
        let zip = build_lambda(self.arch)?;
        let size = std::fs::metadata(&zip)?.len();
        println!(
            "{} ({:.2} MB)",
            paths::shown(&zip),
            size as f64 / 1_048_576.0
        );
        Ok(Outcome::Success)
    }
}

/// The cargo target directory this workspace builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                paths::root().join(dir)
            }
        })
        .unwrap_or_else(|| paths::root().join("target"))
}

/// Builds the release package and returns the path of `bootstrap.zip`.
pub fn build_lambda(arch: Architecture) -> anyhow::Result<PathBuf> {
    tools::ensure_venv()?;
    let path = tools::path_with_venv()?;
    let mut command = Command::new(tools::venv_bin("cargo-lambda"));
    command
        .current_dir(paths::root())
        .env("PATH", path)
        .args([
            "lambda",
            "build",
            "--release",
            "--output-format",
            "zip",
            "--package",
        ])
        .arg("glue-session-guard-lambda");
    if arch == Architecture::Arm64 {
        command.arg("--arm64");
    }
    eprintln!(
        "building the Lambda ({}) with cargo-lambda",
        arch.lambda_name()
    );
    tools::run_checked(&mut command).context("building the Lambda")?;
    let zip = target_dir().join("lambda/bootstrap/bootstrap.zip");
    anyhow::ensure!(
        zip.exists(),
        "cargo-lambda finished but {} is missing",
        zip.display()
    );
    Ok(zip)
}
