//! Two checkouts sharing one cargo target directory, as CI and the README's tip set it up:
//! `cargo xtask` acts on the files and templates of the checkout it runs in, even right after the
//! other checkout built it, and an xtask binary built in the other checkout refuses to run.
//!
//! This builds xtask twice (once per checkout), incrementally in the target directory of this
//! test run: some tens of seconds once that directory holds xtask's dependencies (the first time
//! it also builds them, as `cargo xtask` itself would).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The name the copies give their xtask binary, and the version they give `policy`. Their builds
/// then have their own files in the shared target directory, so they never replace the build of
/// the checkout under test (`target/debug/xtask`, which the other tests of this run execute).
const COPY_BINARY: &str = "xtask-two-checkouts";
const COPY_POLICY_VERSION: &str = "0.0.0-two-checkouts";

/// Marks what only checkout B has: a line in its stack template.
const ONLY_IN_B: &str = "# only in checkout b";

/// The checkout under test, from `CARGO_MANIFEST_DIR` as cargo sets it when it runs the tests.
fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    Path::new(&manifest_dir).parent().unwrap().to_path_buf()
}

/// The target directory this test run was built in (`<target>/debug/xtask`).
fn shared_target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_xtask"))
        .ancestors()
        .nth(2)
        .expect("the xtask binary lives in <target>/<profile>/")
        .to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the checkout under test as it is on disk (every file git tracks or would track), so
/// that the copies hold the code under test, uncommitted changes included. A `git clone` would
/// hold the last commit instead. The copied files are new, as in a fresh clone.
fn copy_checkout(to: &Path) {
    let listed = Command::new("git")
        .current_dir(root())
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("running git ls-files (the checkout under test must be a git checkout)");
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = Path::new(std::str::from_utf8(name).expect("UTF-8 file names"));
        let from = root().join(name);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let target = to.join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&from, &target).unwrap();
    }
    // Their own names in the shared target directory (see COPY_BINARY).
    let manifest = to.join("policy/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let version_line = text
        .lines()
        .find(|line| line.starts_with("version = "))
        .expect("policy/Cargo.toml has a version");
    std::fs::write(
        &manifest,
        text.replacen(
            version_line,
            &format!("version = \"{COPY_POLICY_VERSION}\""),
            1,
        ),
    )
    .unwrap();
    let manifest = to.join("xtask/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let light = "name = \"xtask\"\npath = \"src/main.rs\"";
    assert!(
        text.contains(light),
        "xtask/Cargo.toml names its light binary"
    );
    std::fs::write(
        &manifest,
        text.replace(
            light,
            &format!("name = \"{COPY_BINARY}\"\npath = \"src/main.rs\""),
        ),
    )
    .unwrap();
    let config = to.join(".cargo/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("--bin xtask "),
        "the alias names the light binary"
    );
    std::fs::write(
        &config,
        text.replace("--bin xtask ", &format!("--bin {COPY_BINARY} ")),
    )
    .unwrap();
}

/// `cargo xtask ARGS` in `checkout`, building into the shared target directory.
fn cargo_xtask(checkout: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .current_dir(checkout)
        .arg("xtask")
        .args(args)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        // What cargo set for this test, which must not leak into the other checkout's commands.
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("GSG_CHECKOUT_DIR")
        .output()
        .expect("running cargo")
}

/// Asserts that `cargo xtask validate` and `render` in `checkout` acted on its own files.
fn assert_acts_on(checkout: &Path, other: &Path, has_marker: bool) {
    let out = cargo_xtask(checkout, &["validate"]);
    let printed = text(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {printed}{}",
        checkout.display(),
        text(&out.stderr)
    );
    let validated: Vec<PathBuf> = printed
        .lines()
        .filter_map(|line| line.strip_prefix("ok: "))
        .map(|shown| checkout.join(shown))
        .collect();
    assert!(!validated.is_empty(), "{printed}");
    for path in &validated {
        assert!(
            path.starts_with(checkout) && !path.starts_with(other),
            "`cargo xtask validate` in {} validated {}",
            checkout.display(),
            path.display()
        );
    }
    let out = cargo_xtask(checkout, &["render", "--policy", "policies/default.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).contains(ONLY_IN_B),
        has_marker,
        "`cargo xtask render` in {} used the other checkout's template",
        checkout.display()
    );
}

#[test]
fn each_checkout_runs_its_own_xtask_with_a_shared_target_directory() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("gsg-two-checkouts-{}", std::process::id())));
    let (a, b) = (scratch.0.join("a"), scratch.0.join("b"));
    // Both copied before either is built, like two clones: A's files are older than B's build,
    // which is what let cargo take B's xtask for A's.
    copy_checkout(&a);
    copy_checkout(&b);
    let template = b.join("templates/stack.yaml.j2");
    let mut body = std::fs::read_to_string(&template).unwrap();
    body.push_str(&format!("{ONLY_IN_B}\n"));
    std::fs::write(&template, body).unwrap();

    // B builds xtask (the first build), then A runs it: cargo must build it again for A.
    assert_acts_on(&b, &a, true);
    assert_acts_on(&a, &b, false);

    // The binary is A's now. Run directly in B, it refuses and names both checkouts.
    let binary = shared_target_dir().join("debug").join(COPY_BINARY);
    let out = Command::new(&binary)
        .current_dir(&b)
        .arg("validate")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("running the copies' xtask");
    let errors = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{errors}");
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    let (a, b) = (
        a.canonicalize().unwrap().display().to_string(),
        b.canonicalize().unwrap().display().to_string(),
    );
    assert!(
        errors.contains(&format!("built from the checkout at {a}, but runs in {b}")),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("Run the command as `cargo xtask …` from {b}")),
        "{errors}"
    );
}
