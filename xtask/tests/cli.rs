//! The command line as a user runs it: exit codes, error lines, and the JSON verdict.

use std::process::Output;

use testkit::cli::{root, scratch, text};

fn xtask(args: &[&str]) -> Output {
    testkit::cli::run(env!("CARGO_BIN_EXE_xtask"), args, None)
}

#[test]
fn validate_accepts_the_shipped_policies() {
    let out = xtask(&["validate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok: policies/default.yaml"));
}

/// A reader that goes away early (`| head -1`) ends the command quietly at its next write, as
/// it ends `cat`: no panic, no backtrace. Unix only (SIGPIPE).
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    for args in [
        &["validate"][..],
        &["test-policies"],
        &["render", "--check"],
    ] {
        // The reader is gone before the command starts: its first write meets a closed pipe.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(root())
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {stderr}"
        );
    }
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
        errors.contains("1 of 2 policy files is invalid"),
        "{errors}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn validate_reports_an_unreadable_file() {
    // Could not run on it: exit 2, as for every command, and an `error:` line.
    let out = xtask(&["validate", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: does/not/exist.yaml: no such file or folder\n"
    );
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
    // A session that would be stopped: the answer is no (exit 1), the verdict printed whole.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
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
fn evaluate_exits_1_when_a_session_would_be_acted_on_as_scan_and_backtest_do() {
    // The one exit rule: 0 when nothing would be stopped, deleted or notified.
    for (sample, code) in [
        ("compliant", 0),
        ("exempt-break-glass", 0),
        ("ignored-failed-call", 0),
        ("too-many-workers", 1),
    ] {
        let event = format!("policies/samples/{sample}.json");
        let out = xtask(&[
            "evaluate",
            "--policy",
            "policies/default.yaml",
            "--event",
            &event,
        ]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{sample}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("decision:"));
        assert!(
            text(&out.stderr).contains("judged under policies/default.yaml"),
            "evaluate says which policy it used"
        );
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
        text(&out.stderr).contains("event.json: not readable as JSON at line 1, column 2"),
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
    // An invalid policy means the same for every command: its located errors, exit 1.
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{0}:1:1: the required key `stack` is missing\n\
             {0}:1:1: boundaries: set at least one boundary; a policy without any limit enforces \
             nothing\n",
            policy.display()
        )
    );
    assert!(text(&out.stdout).is_empty());
    for command in [
        &["render", "--policy", policy.to_str().unwrap()][..],
        &["validate", policy.to_str().unwrap()],
        &[
            "evaluate",
            "--policy",
            policy.to_str().unwrap(),
            "--event",
            "policies/samples/compliant.json",
        ],
        &["deploy", "--yes", "--policy", policy.to_str().unwrap()],
        &["plan", "--policy", policy.to_str().unwrap()],
    ] {
        let out = xtask(command);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{command:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("1:1: the required key `stack` is missing")
                && !text(&out.stderr).contains("error:"),
            "{command:?}: {}",
            text(&out.stderr)
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn test_policies_passes_on_the_shipped_samples() {
    let out = xtask(&["test-policies"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(" passed, 0 failed"));
}

#[test]
fn deploy_and_clean_up_without_yes_or_a_terminal_refuse_before_reaching_aws() {
    // `output()` gives the command no terminal: its standard input is closed.
    for (command, action) in [
        ("deploy", "deploying stack glue-session-guard"),
        ("clean-up", "cleaning up stack glue-session-guard"),
    ] {
        // Nothing listens on port 9: reaching for AWS would fail differently.
        let out = xtask(&[
            command,
            "--region",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ]);
        let errors = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {errors}");
        assert!(
            errors.contains(&format!(
                "error: {action} changes the AWS account, and asks first, but there is no \
                 terminal to ask on: nothing was changed. Pass --yes to proceed without asking"
            )),
            "{command}: {errors}"
        );
    }
}

#[test]
fn plan_and_status_never_ask_so_they_take_no_yes() {
    for command in ["plan", "status"] {
        let out = xtask(&[command, "--yes"]);
        let errors = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {errors}");
        assert!(
            errors.contains("unexpected argument '--yes'"),
            "{command}: {errors}"
        );
    }
}

/// Every `cargo xtask evaluate` example the README and docs/commands.md show prints what they
/// show: each line shown, up to a `...`, is the command's own line.
#[test]
fn the_evaluate_examples_the_docs_show_are_what_it_prints() {
    for doc in ["README.md", "docs/commands.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let mut found = 0;
        for block in text.split("```console\n").skip(1) {
            let block = &block[..block.find("```").unwrap()];
            let mut lines = block.lines();
            let Some(command) = lines
                .next()
                .and_then(|l| l.strip_prefix("$ cargo xtask evaluate "))
            else {
                continue;
            };
            found += 1;
            let mut args = vec!["evaluate"];
            args.extend(command.split_whitespace());
            let out = xtask(&args);
            let printed = testkit::cli::text(&out.stdout);
            let shown: Vec<&str> = lines.take_while(|line| line.trim() != "...").collect();
            let actual: Vec<&str> = printed.lines().take(shown.len()).collect();
            assert_eq!(shown, actual, "{doc}: `{command}` prints\n{printed}");
        }
        assert!(found > 0, "{doc} shows no evaluate example");
    }
}

#[test]
fn the_command_line_takes_what_the_readme_shows() {
    let out = xtask(&["--version"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("cargo xtask "),
        "{}",
        text(&out.stdout)
    );
    let out = xtask(&["validate", "--help"]);
    assert!(
        text(&out.stdout).contains("Usage: cargo xtask validate"),
        "{}",
        text(&out.stdout)
    );
    // `--arch x86_64` as the README and Lambda spell it (clap alone would want `x86-64`): the
    // arguments parse, so what stops the deploy is the (missing) policy, exit 2 for a file that
    // cannot be read, never clap's usage error.
    for arch in ["x86_64", "x86-64", "arm64"] {
        let out = xtask(&[
            "deploy",
            "--arch",
            arch,
            "--yes",
            "--policy",
            "no/such/policy.yaml",
        ]);
        assert_eq!(out.status.code(), Some(2), "{arch}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("cannot read no/such/policy.yaml: no such file"),
            "{arch}: {}",
            text(&out.stderr)
        );
    }
    let out = xtask(&["deploy", "--arch", "sparc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'sparc'"));
    let help = text(&xtask(&["plan", "--help"]).stdout);
    assert!(
        help.contains("markdown for a pull-request comment"),
        "{help}"
    );
    // `--policy FILE`, as every other command takes it, names a file to check too.
    let out = xtask(&["validate", "--policy", "policies/default.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok: policies/default.yaml"));
    // A flag with a default is not shown as required in the usage line.
    let usage = text(&xtask(&["evaluate", "--help"]).stdout);
    assert!(
        usage.contains("Usage: cargo xtask evaluate [OPTIONS] --event <EVENT>"),
        "{usage}"
    );
}

/// A backtest without a history names every place a history can be, not `--trail` alone.
#[test]
fn a_backtest_without_a_history_names_every_source() {
    let out = xtask(&["backtest"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("<--trail <PATH>|--lookup-events|--athena|--athena-result <FILE>|"),
        "{stderr}"
    );
}

#[test]
fn validate_and_test_policies_take_folders_and_a_policy_without_tests_fails_saying_so() {
    let out = xtask(&["validate", "policies"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok: policies/default.yaml"));

    let dir = scratch("no-tests");
    let lonely = dir.join("lonely.yaml");
    std::fs::copy(root().join("policies/default.yaml"), &lonely).unwrap();
    for target in [dir.to_path_buf(), lonely.clone()] {
        let args = ["test-policies", target.to_str().unwrap()];
        let out = xtask(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let printed = text(&out.stdout);
        assert!(
            printed.contains("lonely.yaml: no tests file: add ")
                && printed.contains("lonely.tests.yaml with sample sessions and their verdicts"),
            "{args:?}: {printed}"
        );
        assert!(printed.contains("0 passed, 1 failed"), "{printed}");
    }
    // A tests file that holds no case fails its policy, in a folder beside passing ones too.
    std::fs::write(dir.join("lonely.tests.yaml"), "").unwrap();
    std::fs::copy(root().join("policies/teams.yaml"), dir.join("teams.yaml")).unwrap();
    let teams_tests = std::fs::read_to_string(root().join("policies/teams.tests.yaml"))
        .unwrap()
        .replace(
            "event: samples/",
            &format!("event: {}/", root().join("policies/samples").display()),
        );
    std::fs::write(dir.join("teams.tests.yaml"), teams_tests).unwrap();
    let out = xtask(&["test-policies", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("lonely.yaml: ")
            && printed.contains("lonely.tests.yaml holds no test case"),
        "{printed}"
    );
    assert!(printed.contains("PASS "), "{printed}");
    let empty = scratch("empty-folder");
    let out = xtask(&["validate", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no policy file"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(empty).unwrap();
}
