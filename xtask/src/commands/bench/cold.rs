//! `cargo xtask bench --cold`: what a new user waits for on a fresh clone with an empty target
//! directory, measured the way they would meet it.
//!
//! The committed `HEAD` is cloned into a scratch directory, and each figure gets an empty target
//! directory of its own, so that no figure profits from another's build:
//!
//! | figure | command | target |
//! |---|---|---|
//! | first answer of a command that never calls AWS | `cargo xtask validate` | <= 90 s |
//! | the demo, cold | `cargo xtask demo` | <= 8 min |
//! | the demo again, warm | `cargo xtask demo` | <= 60 s |
//! | CI, cold and warm (`--ci`) | `.ci/run` | < 30 min |
//!
//! What is not cold by default: cargo's registry (crates are downloaded once per machine) and the
//! Python tools (`.venv` is linked from this checkout). With `--fresh` neither is there, as on a
//! fresh machine: each figure gets an empty `CARGO_HOME` of its own (cargo downloads every crate)
//! and the clone has no `.venv` (the demo creates it and installs the pinned tools from PyPI).
//! The scratch directory, several GB, is removed at the end.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::Machine;
use crate::{Exit, paths, tools};

/// One timed command.
#[derive(Debug, Clone, Serialize)]
struct Step {
    name: &'static str,
    command: String,
    /// Wall-clock seconds from start to exit.
    seconds: f64,
    /// The target in seconds, when it sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    target_seconds: Option<f64>,
    succeeded: bool,
}

impl Step {
    fn missed(&self) -> bool {
        !self.succeeded
            || self
                .target_seconds
                .is_some_and(|target| self.seconds > target)
    }
}

#[derive(Debug, Serialize)]
struct ColdReport {
    commit: String,
    /// Empty cargo registries and no `.venv` (`--fresh`).
    fresh: bool,
    unix_time: u64,
    machine: Machine,
    steps: Vec<Step>,
}

/// Where one cold run works: a clone of `HEAD` and its empty target directories.
struct Scratch {
    dir: PathBuf,
    checkout: PathBuf,
    /// Each target directory with an empty cargo registry of its own, and no `.venv`.
    fresh: bool,
}

impl Scratch {
    fn create(fresh: bool) -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("gsg-bench-cold-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let checkout = dir.join("checkout");
        tools::run_checked(
            Command::new("git")
                .arg("clone")
                .arg("--quiet")
                .arg(paths::root())
                .arg(&checkout),
        )?;
        if !fresh {
            std::os::unix::fs::symlink(tools::venv_dir(), checkout.join(".venv"))
                .context("linking .venv into the clone")?;
        }
        Ok(Scratch {
            dir,
            checkout,
            fresh,
        })
    }

    /// Runs `program args` in the clone with `target` as its target directory, timed; its
    /// output goes to `<name>.log` in the scratch directory.
    fn time(
        &self,
        name: &'static str,
        target: &str,
        program: &str,
        args: &[&str],
        target_seconds: Option<f64>,
    ) -> anyhow::Result<Step> {
        let log = self
            .dir
            .join(format!("{}.log", name.replace([' ', ',', '/'], "-")));
        let out = std::fs::File::create(&log)?;
        let command = format!("{program} {}", args.join(" "));
        eprintln!("{name}: {command} (log: {})", log.display());
        let started = Instant::now();
        let mut command_line = Command::new(program);
        // As a shell starts it: a new user's cargo sees no variable `cargo run` set for us.
        crate::tools::without_run_env(&mut command_line);
        if self.fresh {
            // The registry of this target's figures: empty for its first, as on a new machine.
            command_line.env("CARGO_HOME", self.dir.join(format!("cargo-home-{target}")));
        }
        let status = command_line
            .args(args)
            .current_dir(&self.checkout)
            .env("CARGO_TARGET_DIR", self.dir.join(target))
            .env_remove("GSG_MOTO_ENDPOINT")
            .env_remove("GSG_CI_LOCKED")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .with_context(|| format!("starting {command}"))?;
        let seconds = started.elapsed().as_secs_f64();
        if !status.success() {
            eprintln!("{command} failed ({status}); the end of {}:", log.display());
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(20)..] {
                eprintln!("  {line}");
            }
        }
        Ok(Step {
            name,
            command,
            seconds,
            target_seconds,
            succeeded: status.success(),
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Measures the cold figures; with `ci`, `.ci/run` too (about half an hour more); with `fresh`,
/// from an empty cargo registry and no `.venv`.
pub fn run(ci: bool, fresh: bool, out: &Path) -> anyhow::Result<Exit> {
    if !fresh {
        tools::ensure_venv()?;
    }
    if !git_clean()? {
        eprintln!("note: the working tree has uncommitted changes; the clone measures HEAD");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let scratch = Scratch::create(fresh)?;
    let mut steps = vec![
        scratch.time(
            "validate, cold",
            "target-validate",
            &cargo,
            &["xtask", "validate", "policies/default.yaml"],
            Some(90.0),
        )?,
        scratch.time(
            "demo, cold",
            "target-demo",
            &cargo,
            &["xtask", "demo"],
            Some(480.0),
        )?,
        scratch.time(
            "demo, warm",
            "target-demo",
            &cargo,
            &["xtask", "demo"],
            Some(60.0),
        )?,
    ];
    if ci {
        for name in [".ci/run, cold", ".ci/run, warm"] {
            steps.push(scratch.time(name, "target-ci", "bash", &[".ci/run"], Some(1800.0))?);
        }
    }
    let report = ColdReport {
        commit: super::git_commit(),
        fresh,
        unix_time: super::unix_time(),
        machine: Machine::this(),
        steps,
    };
    println!("| figure | measured | target | |");
    println!("|---|---:|---:|---|");
    for step in &report.steps {
        println!(
            "| {} (`{}`) | {:.1} s | {} | {} |",
            step.name,
            step.command,
            step.seconds,
            step.target_seconds
                .map_or_else(String::new, |t| format!("<= {t:.0} s")),
            if !step.succeeded {
                "FAILED"
            } else if step.missed() {
                "missed"
            } else {
                "ok"
            }
        );
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("written to {}", paths::shown(out));
    if report.steps.iter().any(Step::missed) {
        Ok(Exit::Failed)
    } else {
        Ok(Exit::Success)
    }
}

fn git_clean() -> anyhow::Result<bool> {
    let output = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(paths::root())
        .output()
        .context("running git status")?;
    if !output.status.success() {
        bail!(
            "git status failed: is {} a git checkout?",
            paths::shown(&paths::root())
        );
    }
    Ok(output.stdout.is_empty())
}
