//! The Lambda's deployment package, built by cargo-lambda (from `.venv`, cross-linking with zig)
//! as `bootstrap.zip` and reused when built from the same sources; and the demo's dev build of
//! the same function. Used by the build, bench and demo commands and by deploy.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::{paths, tools};

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

/// What the package is built from: the function's and the policy core's sources and manifests,
/// the lock file and cargo's configuration. A package built from the same bytes, for the same
/// architecture, is current.
const PACKAGE_INPUTS: &[&str] = &[
    "lambda/src",
    "lambda/Cargo.toml",
    "policy/src",
    "policy/Cargo.toml",
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/config.toml",
];

/// A fingerprint of [`PACKAGE_INPUTS`] (every file's path and bytes, in name order) and the
/// architecture. Not a security measure: it only decides whether to build again.
fn package_fingerprint(root: &Path, arch: Architecture) -> anyhow::Result<String> {
    use std::hash::{Hash, Hasher};
    let mut files = Vec::new();
    for input in PACKAGE_INPUTS {
        collect_files(&root.join(input), &mut files)?;
    }
    files.sort();
    // SipHash with fixed keys: the same bytes give the same fingerprint in every run.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    arch.lambda_name().hash(&mut hasher);
    for file in &files {
        file.strip_prefix(root).unwrap_or(file).hash(&mut hasher);
        std::fs::read(file)
            .with_context(|| format!("reading {}", paths::shown(file)))?
            .hash(&mut hasher);
    }
    Ok(format!("{}:{:016x}", arch.lambda_name(), hasher.finish()))
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        for entry in
            std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?
        {
            collect_files(&entry?.path(), files)?;
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// The release package, `bootstrap.zip`: reused when it was built from this tree's sources for
/// `arch` (deploy, demo and bench then start at once), else built with cargo-lambda.
pub fn build_lambda(arch: Architecture) -> anyhow::Result<PathBuf> {
    let zip = paths::target_dir().join("lambda/bootstrap/bootstrap.zip");
    let stamp = zip.with_extension("zip.inputs");
    let fingerprint = package_fingerprint(&paths::root(), arch)?;
    if zip.exists() && std::fs::read_to_string(&stamp).is_ok_and(|built| built == fingerprint) {
        eprintln!(
            "reusing {}: built from this tree's sources for {}",
            paths::shown(&zip),
            arch.lambda_name()
        );
        return Ok(zip);
    }
    tools::ensure_venv()?;
    let path = tools::path_with_venv()?;
    let mut command = Command::new(tools::venv_bin("cargo-lambda"));
    tools::without_run_env(&mut command);
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
    let _ = std::fs::remove_file(&stamp);
    tools::run_checked(&mut command).context("building the Lambda")?;
    anyhow::ensure!(
        zip.exists(),
        "cargo-lambda finished but {} is missing",
        zip.display()
    );
    std::fs::write(&stamp, &fingerprint)
        .with_context(|| format!("writing {}", paths::shown(&stamp)))?;
    Ok(zip)
}

/// The demo's package (`cargo xtask demo`, moto only; deploy ships [`build_lambda`]'s release
/// build): `bootstrap` in the dev profile, built in one cargo invocation with `xtask-aws`. That
/// binary links the function's crate (`scan` judges with it), so every dependency of the
/// function is already compiled with the same features, and the function costs seconds on top
/// of `xtask-aws` instead of the release build's minutes. Zipped as Lambda takes it (`bootstrap`,
/// mode 755) by the pinned Python's `zipfile`.
pub fn demo_package() -> anyhow::Result<PathBuf> {
    eprintln!("building the function (dev profile, together with xtask-aws)");
    // cargo's own progress on stderr: on a cold machine this is where the minutes go.
    tools::run_checked(tools::cargo().current_dir(paths::root()).args([
        "build",
        "--package",
        "xtask-aws",
        "--bin",
        "xtask-aws",
        "--package",
        "glue-session-guard-lambda",
        "--bin",
        "bootstrap",
    ]))
    .context("building the function for the demo")?;
    let bootstrap = paths::target_dir().join("debug/bootstrap");
    anyhow::ensure!(
        bootstrap.is_file(),
        "cargo finished but {} is missing",
        paths::shown(&bootstrap)
    );
    let zip = paths::target_dir().join("lambda/demo/bootstrap.zip");
    std::fs::create_dir_all(zip.parent().unwrap_or(Path::new(".")))?;
    tools::ensure_venv()?;
    tools::run_checked(
        Command::new(tools::venv_bin("python"))
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 info = zipfile.ZipInfo('bootstrap')\n\
                 info.external_attr = 0o100755 << 16\n\
                 info.compress_type = zipfile.ZIP_DEFLATED\n\
                 with open(sys.argv[1], 'rb') as f, zipfile.ZipFile(sys.argv[2], 'w') as z:\n\
                 \x20   z.writestr(info, f.read())",
            )
            .arg(&bootstrap)
            .arg(&zip),
    )
    .context("zipping the demo's bootstrap")?;
    Ok(zip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_sources_and_the_architecture() {
        let dir = std::env::temp_dir().join(format!("gsg-fingerprint-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lambda/src")).unwrap();
        std::fs::create_dir_all(dir.join("policy/src")).unwrap();
        std::fs::write(dir.join("lambda/src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(dir.join("policy/src/lib.rs"), "pub fn a() {}").unwrap();
        std::fs::write(dir.join("Cargo.lock"), "# lock").unwrap();
        let first = package_fingerprint(&dir, Architecture::X86_64).unwrap();
        assert_eq!(
            first,
            package_fingerprint(&dir, Architecture::X86_64).unwrap()
        );
        assert_ne!(
            first,
            package_fingerprint(&dir, Architecture::Arm64).unwrap()
        );
        std::fs::write(dir.join("policy/src/lib.rs"), "pub fn b() {}").unwrap();
        assert_ne!(
            first,
            package_fingerprint(&dir, Architecture::X86_64).unwrap()
        );
        std::fs::write(dir.join("policy/src/lib.rs"), "pub fn a() {}").unwrap();
        assert_eq!(
            first,
            package_fingerprint(&dir, Architecture::X86_64).unwrap()
        );
        // Files outside the function's inputs do not count.
        std::fs::write(dir.join("README.md"), "docs").unwrap();
        assert_eq!(
            first,
            package_fingerprint(&dir, Architecture::X86_64).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
