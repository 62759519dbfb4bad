//! The command line as a user runs it: exit codes, error lines, and the JSON verdict.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gsg-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn validate_accepts_the_shipped_policies() {
    let out = xtask(&["validate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok: policies/default.yaml"));
}

#[test]
fn validate_lists_every_error_with_its_location_and_exits_1() {
    let dir = scratch("validate");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nstack: {name: \"no spaces\"}\nboundaries:\n  max_workers: 0\nnotifications: {emails: []}\n",
    )
    .unwrap();
    let good = root().join("policies/default.yaml");
    let out = xtask(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let errors = text(&out.stderr);
    let shown = bad.display().to_string();
    assert!(
        errors.contains(&format!(
            "{shown}:2:9: stack.name: `no spaces` is not a valid stack name"
        )),
        "{errors}"
    );
    assert!(
        errors.contains(&format!(
            "{shown}:4:3: boundaries.max_workers: must be between 1 and 1000, got 0"
        )),
        "{errors}"
    );
    assert!(
        errors.contains(&format!(
            "{shown}:5:17: notifications.emails: list at least one address"
        )),
        "{errors}"
    );
    assert!(
        errors.contains("1 of 2 policy files are invalid"),
        "{errors}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn validate_reports_an_unreadable_file() {
    let out = xtask(&["validate", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does/not/exist.yaml: cannot read"));
}

#[test]
fn evaluate_prints_exactly_one_json_object() {
    let out = xtask(&[
        "evaluate",
        "--policy",
        "policies/default.yaml",
        "--event",
        "policies/samples/too-many-workers.json",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let verdict: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(verdict["decision"], "violation");
    assert_eq!(verdict["action"], "stop");
    assert_eq!(verdict["session_id"], "alice-wide-1");
    assert_eq!(
        verdict["principal"],
        "arn:aws:sts::123456789012:assumed-role/DataEngineer/alice"
    );
    assert_eq!(verdict["override"], serde_json::Value::Null);
    assert_eq!(verdict["violations"][0]["rule"], "max_workers");
    assert_eq!(verdict["violations"][0]["actual"], 12);
    assert_eq!(verdict["violations"][0]["limit"], 10);
}

#[test]
fn evaluate_exits_0_whatever_the_decision() {
    for sample in ["compliant", "exempt-break-glass", "ignored-failed-call"] {
        let event = format!("policies/samples/{sample}.json");
        let out = xtask(&[
            "evaluate",
            "--policy",
            "policies/default.yaml",
            "--event",
            &event,
        ]);
        assert!(out.status.success(), "{sample}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("decision:"));
    }
}

#[test]
fn evaluate_fails_on_a_bad_policy_or_an_unreadable_event() {
    let dir = scratch("evaluate");
    let event = dir.join("event.json");
    std::fs::write(&event, "{not json").unwrap();
    let out = xtask(&[
        "evaluate",
        "--policy",
        "policies/default.yaml",
        "--event",
        event.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not JSON"),
        "{}",
        text(&out.stderr)
    );

    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, "version: 1\n").unwrap();
    let out = xtask(&[
        "evaluate",
        "--policy",
        policy.to_str().unwrap(),
        "--event",
        "policies/samples/compliant.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing field `stack`"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn test_policies_passes_on_the_shipped_samples() {
    let out = xtask(&["test-policies"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(" passed, 0 failed"));
}
