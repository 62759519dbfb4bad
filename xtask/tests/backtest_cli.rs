//! `cargo xtask backtest` as a user runs it: generated trails in the layout a trail writes
//! (plain and gzipped), a baseline whose differences are known (a file, and a git revision),
//! damaged files, the cost at stake measured and bounded, the Markdown for a pull request, and
//! the real-world trail file fixture.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use testkit::cli::{root, scratch, text};

fn xtask(args: &[&str]) -> Output {
    testkit::cli::run(env!("CARGO_BIN_EXE_xtask"), args, None)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A policy file limiting workers to `max_workers` (and nothing else).
fn policy(dir: &Path, name: &str, max_workers: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("version: 1\nstack: {{name: guard}}\nboundaries:\n  max_workers: {max_workers}\n"),
    )
    .unwrap();
    path
}

fn create(id: &str, workers: u64, time: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bob"},
        "eventTime": time,
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateSession",
        "awsRegion": "eu-west-1",
        "requestParameters": {"id": id, "command": {"name": "glueetl"},
            "numberOfWorkers": workers, "workerType": "G.1X", "timeout": 120},
        "responseElements": {"session": {"id": id, "status": "PROVISIONING"}},
        "eventID": format!("event-{id}-{time}")
    })
}

fn stop(id: &str, time: &str) -> Value {
    json!({"eventSource": "glue.amazonaws.com", "eventName": "StopSession", "eventTime": time,
           "requestParameters": {"id": id}, "responseElements": {"id": id},
           "userIdentity": {"arn": "arn:aws:iam::123456789012:user/bob"}})
}

fn s3(n: u64) -> Value {
    json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
           "eventTime": "2026-11-29T09:00:00Z", "userAgent": "glue.amazonaws.com",
           "requestParameters": {"bucketName": "b", "key": format!("k{n}")}})
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// How a log file is written.
#[derive(Clone, Copy)]
enum Compression {
    Plain,
    Gzip,
}

/// Writes a log file in the layout a trail writes, under `trail/`; returns its path.
fn log_file(
    trail: &Path,
    day: u32,
    name: &str,
    records: &[Value],
    compression: Compression,
) -> PathBuf {
    let dir = trail.join(format!(
        "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/{day:02}"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let body = json!({"Records": records}).to_string();
    let (file, bytes) = match compression {
        Compression::Plain => (dir.join(format!("{name}.json")), body.into_bytes()),
        Compression::Gzip => (dir.join(format!("{name}.json.gz")), gzip(body.as_bytes())),
    };
    std::fs::write(&file, bytes).unwrap();
    file
}

/// The JSON report of a run, with its exit code.
fn report(args: &[&str]) -> (Value, Option<i32>, String) {
    let mut all = vec!["backtest", "--format", "json"];
    all.extend_from_slice(args);
    let out = xtask(&all);
    let stdout = text(&out.stdout);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", text(&out.stderr)));
    (json, out.status.code(), text(&out.stderr))
}

/// Sessions of 5, 15 and 25 workers, in two files (one gzipped), with other services' records.
fn three_sessions(dir: &Path) -> PathBuf {
    let trail = dir.join("trail");
    log_file(
        &trail,
        29,
        "a",
        &[
            s3(1),
            create("s-5", 5, "2026-11-29T09:00:00Z"),
            s3(2),
            create("s-15", 15, "2026-11-29T09:05:00Z"),
        ],
        Compression::Gzip,
    );
    log_file(
        &trail,
        30,
        "b",
        &[create("s-25", 25, "2026-11-30T10:00:00Z"), s3(3)],
        Compression::Plain,
    );
    trail
}

#[test]
fn a_baseline_comparison_finds_the_known_differences() {
    let dir = scratch("baseline");
    let trail = three_sessions(&dir);
    let (ten, twenty) = (
        policy(&dir, "ten.yaml", 10),
        policy(&dir, "twenty.yaml", 20),
    );

    let (stricter, code, stderr) = report(&[
        "--policy",
        s(&ten),
        "--trail",
        s(&trail),
        "--baseline",
        s(&twenty),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stricter["files"], 2);
    assert_eq!(stricter["records"], 6);
    assert_eq!(stricter["sessions"], 3);
    assert_eq!(stricter["violations"], 2);
    assert_eq!(stricter["by_rule"], json!({"max_workers": 2}));
    assert_eq!(stricter["baseline_violations"], 1);
    assert_eq!(stricter["newly_violating"], json!(["s-15"]));
    assert_eq!(stricter["no_longer_violating"], json!([]));
    assert_eq!(stricter["other_rules"], json!([]));
    assert_eq!(stricter["damaged"], json!([]));
    assert_eq!(
        stricter["by_principal"],
        json!({"arn:aws:iam::123456789012:user/bob": 2})
    );

    let (looser, code, _) = report(&[
        "--policy",
        s(&twenty),
        "--trail",
        s(&trail),
        "--baseline",
        s(&ten),
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(looser["newly_violating"], json!([]));
    assert_eq!(looser["no_longer_violating"], json!(["s-15"]));

    // Nothing stopped: exit 0.
    let lenient = policy(&dir, "thirty.yaml", 30);
    let (none, code, _) = report(&["--policy", s(&lenient), "--trail", s(&trail)]);
    assert_eq!((none["violations"].clone(), code), (json!(0), Some(0)));
    assert!(none.get("newly_violating").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_baseline_revision_is_the_policy_file_at_that_commit() {
    let dir = scratch("baseline-rev");
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("policies")).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("README"), "x").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "before the policy"]);
    let file = policy(&repo.join("policies"), "p.yaml", 20);
    git(&["add", "policies/p.yaml"]);
    git(&["commit", "-q", "-m", "policy at 20"]);
    policy(&repo.join("policies"), "p.yaml", 10);
    let trail = three_sessions(&dir);

    let (changed, code, stderr) = report(&[
        "--policy",
        s(&file),
        "--trail",
        s(&trail),
        "--baseline-rev",
        "HEAD",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(changed["baseline"], "HEAD:policies/p.yaml");
    assert_eq!(changed["newly_violating"], json!(["s-15"]));

    let out = xtask(&[
        "backtest",
        "--policy",
        s(&file),
        "--trail",
        s(&trail),
        "--baseline-rev",
        "no-such-rev",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--baseline-rev no-such-rev: no commit of that name"),
        "{stderr}"
    );
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&file),
        "--trail",
        s(&trail),
        "--baseline-rev",
        "HEAD~1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("policies/p.yaml does not exist at HEAD~1"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_file_is_named_with_the_reason_and_the_rest_is_still_read() {
    let dir = scratch("damaged");
    let trail = three_sessions(&dir);
    let truncated = log_file(
        &trail,
        29,
        "truncated",
        &[s3(4), s3(5), s3(6)],
        Compression::Gzip,
    );
    let zipped = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &zipped[..zipped.len() - 30]).unwrap();
    let not_json = trail.join("AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/30/broken.json");
    std::fs::write(
        &not_json,
        "{\"Records\": [{\"eventSource\": \"glue.amazonaws.com\"}, {oops",
    )
    .unwrap();
    let ten = policy(&dir, "ten.yaml", 10);

    let (damaged, code, stderr) = report(&["--policy", s(&ten), "--trail", s(&trail)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(damaged["files"], 4);
    assert_eq!(
        damaged["sessions"].as_u64().unwrap(),
        3,
        "the good files are read"
    );
    let list = damaged["damaged"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let reason = |name: &str| -> String {
        list.iter()
            .find(|d| d["file"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {list:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason("broken.json").starts_with("not readable as JSON at line 1, column"),
        "{list:?}"
    );
    assert!(
        reason("broken.json").contains("(after 1 record)"),
        "{list:?}"
    );
    assert!(
        reason("truncated.json.gz").starts_with("the gzip stream is damaged"),
        "{list:?}"
    );
    assert!(
        stderr.contains("2 of 4 files could not be read to the end"),
        "{stderr}"
    );
    assert!(stderr.contains("broken.json"), "{stderr}");

    let out = xtask(&["backtest", "--policy", s(&ten), "--trail", s(&trail)]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2 files could not be read to the end"),
        "{stdout}"
    );
    assert!(
        stdout.contains("truncated.json.gz: the gzip stream is damaged"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cost_is_measured_where_the_session_ends_and_bounded_where_it_does_not() {
    let dir = scratch("cost");
    let trail = dir.join("trail");
    let mut no_timeout = create("s-default", 20, "2026-11-29T09:00:00Z");
    no_timeout["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("timeout");
    log_file(
        &trail,
        29,
        "created",
        &[
            create("s-ended", 20, "2026-11-29T09:00:00Z"),
            create("s-running", 20, "2026-11-29T09:00:00Z"),
            no_timeout,
        ],
        Compression::Gzip,
    );
    // The end is in another file: the source as a whole is searched.
    log_file(
        &trail,
        29,
        "ended",
        &[stop("s-ended", "2026-11-29T09:30:00Z")],
        Compression::Plain,
    );
    let ten = policy(&dir, "ten.yaml", 10);

    let (cost, code, _) = report(&[
        "--policy",
        s(&ten),
        "--trail",
        s(&trail),
        "--price-per-dpu-hour",
        "1.5",
    ]);
    assert_eq!(code, Some(1));
    let hours = &cost["dpu_hours"];
    // 20 DPUs for 30 minutes, measured.
    assert_eq!(hours["measured"], 10.0);
    assert_eq!(hours["sessions_measured"], 1);
    // 20 DPUs for the 120-minute timeout, and for Glue's default 2880 minutes.
    assert_eq!(hours["upper_bound"], 20.0 * 2.0 + 20.0 * 48.0);
    assert_eq!(hours["sessions_upper_bound"], 2);
    assert_eq!(hours["total"], 10.0 + 40.0 + 960.0);
    assert_eq!(cost["cost_usd"], 1010.0 * 1.5);
    // At 0.03 USD: 30.3 in the JSON, not the product's binary noise (30.299999999999997).
    let (noisy, _, _) = report(&[
        "--policy",
        s(&ten),
        "--trail",
        s(&trail),
        "--price-per-dpu-hour",
        "0.03",
    ]);
    assert_eq!(noisy["cost_usd"].to_string(), "30.3");
    let rows = cost["violating"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["session_id"] == id).unwrap().clone();
    assert_eq!(row("s-ended")["cost"]["duration"], "measured");
    assert_eq!(row("s-running")["cost"]["duration"], "upper_bound");
    assert_eq!(row("s-default")["cost"]["hours"], 48.0);

    let out = xtask(&["backtest", "--policy", s(&ten), "--trail", s(&trail)]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("at most 1,010.0 DPU-hours, at most 444.40 USD"),
        "{stdout}"
    );
    assert!(stdout.contains("(an upper bound)"), "{stdout}");

    let out = xtask(&[
        "backtest",
        "--policy",
        s(&ten),
        "--trail",
        s(&trail),
        "--price-per-dpu-hour=-1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a price"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The deployed sweep judges a running session at its own clock, so it stops one whose override
/// expires while it runs: the backtest replays that. Under an override for bob (20 workers)
/// that expires at 10:00, of three 20-worker sessions created at 09:00: one ended at 09:30
/// (before the expiry: within bounds all its run), one at 10:30 (a violation from 10:00: half
/// an hour of 20 DPUs at stake), one with no end (its 120-minute timeout reaches past 10:00: an
/// hour at stake, an upper bound). A session created at 10:30 is stopped at its creation. The
/// baseline, the same policy with an override that does not expire, stops none of the first
/// three: they are newly violating, and the text and Markdown say from when.
#[test]
fn a_session_whose_override_expires_while_it_runs_is_stopped_from_the_expiry() {
    let dir = scratch("lapse");
    let trail = dir.join("trail");
    log_file(
        &trail,
        29,
        "created",
        &[
            create("s-before", 20, "2026-11-29T09:00:00Z"),
            create("s-after", 20, "2026-11-29T09:00:00Z"),
            create("s-open", 20, "2026-11-29T09:00:00Z"),
            create("s-late", 20, "2026-11-29T10:30:00Z"),
            stop("s-before", "2026-11-29T09:30:00Z"),
            stop("s-after", "2026-11-29T10:30:00Z"),
            stop("s-late", "2026-11-29T11:00:00Z"),
        ],
        Compression::Plain,
    );
    let with_override = |name: &str, expires: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "version: 1\nstack: {{name: guard}}\nboundaries: {{max_workers: 10}}\n\
                 overrides:\n  - name: bob-burst\n    principals: [\"arn:aws:iam::*:user/bob\"]\n    \
                 boundaries: {{max_workers: 20}}\n{expires}"
            ),
        )
        .unwrap();
        path
    };
    let expiring = with_override("expiring.yaml", "    expires: 2026-11-29T10:00:00Z\n");
    let lasting = with_override("lasting.yaml", "");
    // The JSON report of `policy` against `baseline` over the trail.
    let against = |policy: &Path, baseline: &Path| {
        let args = [
            "--policy",
            s(policy),
            "--baseline",
            s(baseline),
            "--trail",
            s(&trail),
        ];
        report(&args).0
    };

    let (json, code, _) = report(&["--policy", s(&expiring), "--trail", s(&trail)]);
    assert_eq!(code, Some(1));
    assert_eq!(json["violations"], 3, "{json:#}");
    assert_eq!(json["compliant"], 1, "{json:#}");
    let rows = json["violating"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["session_id"] == id).cloned();
    assert!(row("s-before").is_none(), "ended before the expiry");
    let after = row("s-after").unwrap();
    assert_eq!(after["exception_expired_at"], "2026-11-29T10:00:00Z");
    assert_eq!(after["rules"], json!(["max_workers"]));
    assert_eq!(after["cost"]["hours"], 0.5);
    assert_eq!(after["cost"]["dpu_hours"], 10.0);
    let open = row("s-open").unwrap();
    assert_eq!(open["exception_expired_at"], "2026-11-29T10:00:00Z");
    assert_eq!(open["cost"]["duration"], "upper_bound");
    assert_eq!(open["cost"]["hours"], 1.0);
    let late = row("s-late").unwrap();
    assert!(late.get("exception_expired_at").is_none(), "{late}");
    assert_eq!(late["cost"]["hours"], 0.5);
    assert_eq!(json["dpu_hours"]["total"], 10.0 + 20.0 + 10.0);

    // Against the override that never expires: the three that ran past 10:00 are newly
    // stopped, at the DPU-hours from the expiry on (s-late from its creation).
    let compared = against(&expiring, &lasting);
    assert_eq!(compared["baseline_violations"], 0, "{compared:#}");
    assert_eq!(
        compared["newly_violating"],
        json!(["s-after", "s-open", "s-late"]),
        "{compared:#}"
    );
    assert_eq!(compared["newly_violating_dpu_hours"]["total"], 40.0);
    // Each side replays its own expiry: against itself, no session changes fate.
    let same = against(&expiring, &expiring);
    assert_eq!(same["newly_violating"], json!([]), "{same:#}");
    assert_eq!(same["baseline_violations"], 3, "{same:#}");
    // The other way round, a change is priced on the side that stops it: the baseline's, from
    // its expiry.
    let reverse = against(&lasting, &expiring);
    let changes = reverse["changes"].as_array().unwrap();
    let after = changes
        .iter()
        .find(|c| c["session_id"] == "s-after")
        .unwrap();
    assert_eq!(after["change"], "no_longer_violating", "{after}");
    assert!(after.get("exception_expired_at").is_none(), "{after}");
    assert_eq!(
        after["baseline_exception_expired_at"],
        "2026-11-29T10:00:00Z"
    );
    assert_eq!(after["cost"]["dpu_hours"], 10.0);
    // Stopped under one side only: one cost, no baseline's beside it.
    assert!(after.get("baseline_cost").is_none(), "{after}");

    let out = xtask(&["backtest", "--policy", s(&expiring), "--trail", s(&trail)]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("[max_workers] from 2026-11-29T10:00:00Z, when its exception expired"),
        "{stdout}"
    );
    let out = xtask(&[
        "backtest",
        "--format",
        "markdown",
        "--policy",
        s(&expiring),
        "--trail",
        s(&trail),
    ]);
    let markdown = text(&out.stdout);
    assert!(
        markdown.contains("from 2026-11-29T10:00:00Z, when its exception expired |"),
        "{markdown}"
    );

    // An exception's expiry moved to 10:15: s-after and s-open are stopped under both for the
    // same rule, from another instant, priced on the policy's side (from 10:15); s-late is
    // stopped at its creation under both (no change).
    let later = with_override("later.yaml", "    expires: 2026-11-29T10:15:00Z\n");
    let moved = against(&later, &expiring);
    assert_eq!(
        moved["stopped_at_another_time"],
        json!(["s-after", "s-open"]),
        "{moved:#}"
    );
    assert_eq!(moved["newly_violating"], json!([]), "{moved:#}");
    assert_eq!(moved["no_longer_violating"], json!([]), "{moved:#}");
    let changes = moved["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{moved:#}");
    let after = &changes[0];
    assert_eq!(after["change"], "stopped_at_another_time", "{after}");
    assert_eq!(after["exception_expired_at"], "2026-11-29T10:15:00Z");
    assert_eq!(
        after["baseline_exception_expired_at"],
        "2026-11-29T10:00:00Z"
    );
    assert_eq!(after["cost"]["hours"], 0.25);
    // Stopped under both: the baseline's cost beside it, from its own expiry (10:00 to the
    // session's end at 10:30), what the moved expiry changes.
    assert_eq!(after["baseline_cost"]["hours"], 0.5, "{after}");
    assert_eq!(after["baseline_cost"]["dpu_hours"], 10.0, "{after}");
    assert_eq!(moved["dpu_hours"]["total"], 5.0 + 15.0 + 10.0, "{moved:#}");
    assert_eq!(moved["baseline_dpu_hours"]["total"], 40.0, "{moved:#}");
    // Without the override, the baseline stops them at their creation: the policy's expiry
    // stops them later (s-before, ended before it, is no longer stopped).
    let none = with_override("none.yaml", "    expires: 2026-11-29T08:00:00Z\n");
    let granted = against(&expiring, &none);
    assert_eq!(
        granted["stopped_at_another_time"],
        json!(["s-after", "s-open"]),
        "{granted:#}"
    );
    assert_eq!(granted["no_longer_violating"], json!(["s-before"]));
    let after = &granted["changes"][0];
    assert_eq!(after["session_id"], "s-after", "{granted:#}");
    assert_eq!(after["change"], "stopped_at_another_time", "{after}");
    assert!(
        after.get("baseline_exception_expired_at").is_none(),
        "{after}"
    );
    for format in ["text", "markdown"] {
        let out = xtask(&[
            "backtest",
            "--format",
            format,
            "--policy",
            s(&expiring),
            "--baseline",
            s(&none),
            "--trail",
            s(&trail),
        ]);
        let shown = text(&out.stdout);
        let counts = match format {
            "text" => {
                "0 newly stopped, 1 no longer stopped, 0 stopped for other rules, 2 stopped at \
                 another time"
            }
            _ => "| 0 / 1 / 0 / 2 | |",
        };
        assert!(shown.contains(counts), "{format}: {shown}");
        let expected = match format {
            "text" => {
                "[max_workers] at its creation -> [max_workers] from 2026-11-29T10:00:00Z, when \
                 its exception expired"
            }
            _ => {
                "| max_workers at its creation | max_workers from 2026-11-29T10:00:00Z, when its \
                 exception expired |"
            }
        };
        assert!(shown.contains(expected), "{format}: {shown}");
    }
    // bob made an exempt principal: the sessions the baseline stops are no longer stopped, and
    // the policy's side says it exempts them (it still lists the rules they break).
    let exempt = dir.join("exempt.yaml");
    std::fs::write(
        &exempt,
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\nexempt_principals:\n  \
         - {principal: \"arn:aws:iam::*:user/bob\", reason: on call}\n",
    )
    .unwrap();
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&exempt),
        "--baseline",
        s(&none),
        "--trail",
        s(&trail),
    ]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains(
            "no longer stopped        \"s-late\"  [max_workers] -> [exempt (max_workers)]"
        ),
        "{shown}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn markdown_shows_fifty_changed_sessions_and_counts_the_rest() {
    let dir = scratch("markdown");
    let trail = dir.join("trail");
    let records: Vec<Value> = (0..60)
        .map(|n| {
            create(
                &format!("s-{n:02}"),
                15,
                &format!("2026-11-29T09:{n:02}:00Z"),
            )
        })
        .collect();
    log_file(&trail, 29, "many", &records, Compression::Gzip);
    let (ten, twenty) = (
        policy(&dir, "ten.yaml", 10),
        policy(&dir, "twenty.yaml", 20),
    );

    let out = xtask(&[
        "backtest",
        "--format",
        "markdown",
        "--policy",
        s(&ten),
        "--trail",
        s(&trail),
        "--baseline",
        s(&twenty),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let markdown = text(&out.stdout);
    let rows = markdown
        .lines()
        .filter(|line| line.starts_with("| `s-"))
        .count();
    assert_eq!(rows, 50, "{markdown}");
    assert!(
        markdown.contains("| `s-00` |"),
        "in creation order: {markdown}"
    );
    assert!(!markdown.contains("| `s-50` |"), "{markdown}");
    assert!(markdown.contains("_and 10 more"), "{markdown}");
    assert!(
        markdown.contains("#### Changed sessions (60)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| would be stopped | 60 | 0 |"),
        "{markdown}"
    );
    assert!(markdown.contains("newly stopped"), "{markdown}");

    // Without a baseline: the stopped sessions, the same way.
    let out = xtask(&[
        "backtest",
        "--format",
        "markdown",
        "--policy",
        s(&ten),
        "--trail",
        s(&trail),
    ]);
    let markdown = text(&out.stdout);
    assert!(
        markdown.contains("#### Sessions that would be stopped (60)"),
        "{markdown}"
    );
    assert!(markdown.contains("_and 10 more"), "{markdown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_real_world_trail_file_plain_gzipped_and_as_other_shapes() {
    let fixture = root().join("policy/tests/fixtures/realworld/24-cloudtrail-log-file.json");
    let (plain, code, stderr) = report(&["--trail", s(&fixture)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(plain["records"], 3);
    assert_eq!(plain["sessions"], 2);
    assert_eq!(plain["violations"], 1);
    assert_eq!(plain["by_rule"]["max_workers"], 1);
    let stopped = &plain["violating"][0];
    assert_eq!(
        stopped["session_id"],
        "GlueInteractiveSessionRole-dbt-glue-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    );
    // 50 G.1X workers for the 300-minute timeout, with no end in the file.
    assert_eq!(stopped["cost"]["dpu_hours"], 250.0);
    assert_eq!(plain["dpu_hours"]["upper_bound"], 250.0);

    let dir = scratch("realworld");
    // Gzipped under a name that does not say so: recognised by its first bytes.
    let zipped = dir.join("AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/29/log.json");
    std::fs::create_dir_all(zipped.parent().unwrap()).unwrap();
    std::fs::write(&zipped, gzip(&std::fs::read(&fixture).unwrap())).unwrap();
    let (gzipped, code, _) = report(&["--trail", s(&dir)]);
    assert_eq!(code, Some(1));
    assert_eq!(gzipped["violating"], plain["violating"]);

    // The same records as JSON Lines and as a LookupEvents response.
    let file: Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let records = file["Records"].as_array().unwrap();
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    let jsonl = dir.join("records.jsonl");
    std::fs::write(&jsonl, lines).unwrap();
    let lookup = dir.join("lookup.txt");
    let events: Vec<Value> = records
        .iter()
        .map(|r| json!({"EventId": "x", "CloudTrailEvent": r.to_string()}))
        .collect();
    std::fs::write(&lookup, json!({"Events": events}).to_string()).unwrap();
    for other in [&jsonl, &lookup] {
        let (read, code, _) = report(&["--trail", s(other)]);
        assert_eq!(code, Some(1));
        assert_eq!(
            (read["records"].clone(), read["sessions"].clone()),
            (json!(3), json!(2))
        );
        assert_eq!(read["violating"], plain["violating"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_documents_every_format_and_the_exit_codes() {
    let out = xtask(&["backtest", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--format",
        "text",
        "markdown",
        "json",
        "--baseline-rev",
        "--price-per-dpu-hour",
        "Exit codes: 0",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
    let out = xtask(&["backtest", "--trail", "/no/such/trail"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--trail /no/such/trail: no such file or folder"));
    let dir = scratch("no-baseline");
    let trail = dir.join("t.json");
    std::fs::write(&trail, "{\"Records\": []}").unwrap();
    let out = xtask(&[
        "backtest",
        "--baseline",
        "/no/such/baseline.yaml",
        "--trail",
        s(&trail),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--baseline: cannot read /no/such/baseline.yaml: no such file"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let out = xtask(&["backtest"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--trail"),
        "{}",
        text(&out.stderr)
    );
}

/// Jobs in a backtest: two trail files (read in any order) with a job's CreateJob, runs before
/// and after an UpdateJob that makes it 80 x G.2X, and a run of a job the history does not
/// define, given with `--job`. Each run is judged over its job's definition of the time; the
/// DPU-hours at stake per job are DPUs x the whole timeout; the exit is 1 (runs would be stopped).
#[test]
fn job_runs_are_judged_over_the_definition_of_their_time_with_dpu_hours_per_job() {
    let dir = scratch("backtest-jobs");
    let policy = dir.join("jobs.yaml");
    std::fs::write(
        &policy,
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
         jobs:\n  boundaries: {max_workers: 50}\n",
    )
    .unwrap();
    let record = |name: &str, time: &str, request: Value, response: Value| {
        json!({"eventSource": "glue.amazonaws.com", "eventName": name, "eventTime": time,
               "eventID": format!("{name}-{time}"),
               "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
               "requestParameters": request, "responseElements": response})
    };
    let definition = |workers: u32| {
        json!({"command": {"name": "glueetl"}, "glueVersion": "4.0", "workerType": "G.2X",
               "numberOfWorkers": workers, "timeout": 60})
    };
    let mut created = definition(10);
    created["name"] = json!("load");
    let start = |time: &str, job: &str, id: &str| {
        record(
            "StartJobRun",
            time,
            json!({"jobName": job}),
            json!({"jobRunId": id}),
        )
    };
    let first = json!({"Records": [
        record("CreateJob", "2026-11-01T08:00:00Z", created, json!({"name": "load"})),
        start("2026-11-01T09:00:00Z", "load", "jr_small"),
    ]});
    let second = json!({"Records": [
        start("2026-11-02T09:00:00Z", "load", "jr_big"),
        record("UpdateJob", "2026-11-02T08:00:00Z",
               json!({"jobName": "load", "jobUpdate": definition(80)}), json!({"jobName": "load"})),
        start("2026-11-02T10:00:00Z", "adhoc", "jr_adhoc"),
    ]});
    std::fs::write(dir.join("a.json"), first.to_string()).unwrap();
    std::fs::write(dir.join("b.json"), second.to_string()).unwrap();
    let adhoc = dir.join("adhoc.json");
    std::fs::write(
        &adhoc,
        json!({"Job": {"Name": "adhoc", "Command": {"Name": "glueetl"}, "GlueVersion": "5.0",
                       "WorkerType": "G.1X", "NumberOfWorkers": 100}})
        .to_string(),
    )
    .unwrap();

    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&dir.join("a.json")),
        "--trail",
        s(&dir.join("b.json")),
        "--job",
        s(&adhoc),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = &report["jobs"];
    assert_eq!(jobs["runs"], 3);
    assert_eq!(jobs["violations"], 2);
    assert_eq!(jobs["definitions"], 2);
    assert_eq!(jobs["definition_violations"], 1);
    let stopped: Vec<(&str, &str)> = jobs["violating"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["job_run_id"].as_str().unwrap(),
                row["definition"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(stopped, [("jr_big", "history"), ("jr_adhoc", "GetJob")]);
    // A stopped run's row is laid out as a stopped session's: `started` for `created`, its
    // rules and override, and its cost (the whole timeout: an upper bound).
    let big = &jobs["violating"][0];
    assert_eq!(big["started"], "2026-11-02T09:00:00Z", "{big:#}");
    assert_eq!(big["rules"], json!(["max_workers"]), "{big:#}");
    assert_eq!(big["override"], Value::Null, "{big:#}");
    assert_eq!(
        big["cost"],
        json!({"dpus": 160.0, "hours": 1.0, "duration": "upper_bound", "dpu_hours": 160.0}),
        "{big:#}"
    );
    // load: 80 x G.2X for 60 minutes = 160 DPU-hours; adhoc: 100 x G.1X for 480 (Glue 5.0).
    assert_eq!(jobs["by_job"]["load"]["dpu_hours"], 160.0);
    assert_eq!(jobs["by_job"]["adhoc"]["dpu_hours"], 800.0);
    assert_eq!(jobs["dpu_hours"], 960.0);

    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&dir.join("a.json")),
        "--trail",
        s(&dir.join("b.json")),
        "--job",
        s(&adhoc),
    ]);
    let printed = text(&out.stdout);
    assert!(printed.contains("job runs:   3 judged"), "{printed}");
    assert!(printed.contains("\"load\" run jr_big"), "{printed}");
    assert!(
        !text(&out.stderr).contains("was not used"),
        "{}",
        text(&out.stderr)
    );
    // A window keeps the definitions written before it for its runs: jr_big is still judged
    // over the UpdateJob of 08:00 (80 workers), which is itself neither judged nor counted.
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&dir.join("a.json")),
        "--trail",
        s(&dir.join("b.json")),
        "--since",
        "2026-11-02T08:30:00Z",
        "--until",
        "2026-11-02T09:30:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = &report["jobs"];
    assert_eq!(
        (jobs["runs"].as_u64(), jobs["violations"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(jobs["definitions"], 0);
    assert_eq!(jobs["runs_without_definition"], 0);
    assert_eq!(jobs["violating"][0]["job_run_id"], "jr_big");
    assert_eq!(jobs["violating"][0]["definition"], "history");
    // A --job whose job runs nowhere in the history is said: it was not used.
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&dir.join("a.json")),
        "--job",
        s(&adhoc),
    ]);
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("adhoc.json: the history holds no run of job \"adhoc\", so it was not used"),
        "{stderr}"
    );
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&dir.join("a.json")),
        "--trail",
        s(&dir.join("b.json")),
        "--format",
        "markdown",
    ]);
    let markdown = text(&out.stdout);
    assert!(markdown.contains("#### Job runs"), "{markdown}");
    assert!(
        markdown.contains("| `load` | 2 | 1 | 160.0 | 1 |"),
        "{markdown}"
    );
    // The stopped runs and their rules, as the text lists them.
    assert!(
        markdown.contains("Job runs stopped by rule: `max_workers` 1."),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `load` | `jr_big` | `2026-11-02T09:00:00Z` |"),
        "{markdown}"
    );

    // A pull request that takes the jobs section out: the runs are still judged, for the
    // baseline (which guards them), and the ones it stopped are no longer stopped; the text
    // and Markdown say the policy does not guard jobs. Put back, they are newly stopped.
    let without = dir.join("without.yaml");
    std::fs::write(
        &without,
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    let compare = |policy: &Path, baseline: &Path, format: &str| {
        xtask(&[
            "backtest",
            "--policy",
            s(policy),
            "--baseline",
            s(baseline),
            "--trail",
            s(&dir.join("a.json")),
            "--trail",
            s(&dir.join("b.json")),
            "--format",
            format,
        ])
    };
    let out = compare(&without, &policy, "json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = &report["jobs"];
    assert_eq!(jobs["guarded"], false, "{jobs:#}");
    assert_eq!(
        (jobs["runs"].as_u64(), jobs["violations"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(jobs["baseline_violations"], 1, "{jobs:#}");
    assert_eq!(jobs["changes"][0]["job_run_id"], "jr_big");
    assert_eq!(jobs["changes"][0]["change"], "no_longer_violating");
    // Laid out as a changed session: each side's judgement, the cost on the side that stops.
    let change = &jobs["changes"][0];
    assert_eq!(
        (&change["before"], &change["after"]),
        (
            &json!({"decision": "violation", "rules": ["max_workers"], "override": null}),
            &json!({"decision": "ignored", "rules": [], "override": null})
        ),
        "{change:#}"
    );
    assert_eq!(change["started"], "2026-11-02T09:00:00Z", "{change:#}");
    assert_eq!(change["cost"]["dpu_hours"], 160.0, "{change:#}");
    for format in ["text", "markdown"] {
        let shown = text(&compare(&without, &policy, format).stdout);
        assert!(
            shown.contains("This policy has no jobs section: job runs are not guarded"),
            "{format}: {shown}"
        );
    }
    // The PR comment's summary counts the job runs' changes beside the sessions'.
    let shown = text(&compare(&without, &policy, "markdown").stdout);
    assert!(
        shown.contains(
            "| job runs: newly stopped / no longer stopped / other rules / at another time | 0 / \
             1 / 0 / 0 | |"
        ) && shown.contains("| job runs would be stopped | 0 | 1 |")
            && shown.contains(
                "| job runs at stake (0.44 USD per DPU-hour) | none | at most 160.0 DPU-hours, at \
                 most 70.40 USD |"
            ),
        "{shown}"
    );
    let out = compare(&policy, &without, "json");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["jobs"]["guarded"], true);
    assert_eq!(report["jobs"]["changes"][0]["change"], "newly_violating");
    assert_eq!(report["jobs"]["baseline_guarded"], false);
    for format in ["text", "markdown"] {
        let shown = text(&compare(&policy, &without, format).stdout);
        assert!(
            !shown.contains("This policy has no jobs section"),
            "{shown}"
        );
        assert!(
            shown.contains("The baseline has no jobs section: under it no job run is stopped"),
            "{format}: {shown}"
        );
    }
}

/// `--since`/`--until` judge only the records of the window (a day is its midnight UTC, the
/// end excluded), for files too; the per-account and per-Region totals come with them.
#[test]
fn since_and_until_keep_to_the_window_on_files() {
    let dir = scratch("window");
    let trail = three_sessions(&dir);
    let policy = policy(&dir, "p.yaml", 10);
    let (all, _, _) = report(&["--policy", s(&policy), "--trail", s(&trail)]);
    assert_eq!(all["sessions"], 3);
    let (window, code, stderr) = report(&[
        "--policy",
        s(&policy),
        "--trail",
        s(&trail),
        "--since",
        "2026-11-29T09:01:00Z",
        "--until",
        "2026-11-30",
    ]);
    assert_eq!(window["sessions"], 1, "only s-15: {stderr}");
    assert_eq!(
        window["window"],
        json!({"since": "2026-11-29T09:01:00Z", "until": "2026-11-30T00:00:00Z"})
    );
    assert!(all.get("window").is_none(), "no window, nothing said");
    // s-5 before the window, s-25 after it: counted, not judged.
    assert_eq!(window["outside_window"], 2);
    assert_eq!(all["outside_window"], 0);
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&trail),
        "--since",
        "2026-11-29T09:01:00Z",
    ]);
    assert!(
        text(&out.stdout).contains(
            "window:     from 2026-11-29T09:01:00Z to the last record (1 record of Glue calls \
             falls outside it: counted, not judged)"
        ),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(window["violating"][0]["session_id"], "s-15");
    assert_eq!(window["by_region"]["eu-west-1"]["violations"], 1);
    assert_eq!(
        window["by_account"]["(unknown)"]["sessions"], 1,
        "no recipientAccountId"
    );
    assert_eq!(code, Some(1));
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&trail),
        "--since",
        "2026-11-30",
        "--until",
        "2026-11-29",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--until is not after --since"));
    let out = xtask(&[
        "backtest",
        "--policy",
        s(&policy),
        "--trail",
        s(&trail),
        "--since",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("neither a day (2026-11-01) nor an RFC 3339 time"));
}

/// `--athena` reads a stretch of history: without --since it is refused before any AWS call;
/// a flag that would do nothing with the history given is refused saying what would.
#[test]
fn athena_needs_a_window_and_no_trail() {
    let refused: [(&[&str], &str); 6] = [
        (&["--athena"], "--since"),
        // --days is --lookup-events' alone: elsewhere it says what reaches back.
        (
            &["--athena", "--since", "2026-11-01", "--days", "30"],
            "with --athena, give --since DAY (or history.athena.days",
        ),
        (
            &["--trail", "x", "--days", "30"],
            "give --lookup-events with it",
        ),
        (
            &["--athena-result", "r.csv", "--days", "30"],
            "to keep an Athena result to a window, give --since DAY",
        ),
        // A --since after now, --until left out: the window is empty, and --since is named.
        (
            &[
                "--athena",
                "--dry-run",
                "--offline",
                "--accounts",
                "111122223333",
                "--since",
                "2099-01-01",
            ],
            "--since 2099-01-01T00:00:00Z is not before now",
        ),
        (
            &["--athena", "--since", "2026-11-01", "--trail", "x"],
            "cannot be used with",
        ),
    ];
    for (flags, said) in refused {
        let mut args = vec!["backtest"];
        args.extend_from_slice(flags);
        let out = xtask(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(said),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A record that cannot be read is never passed over in silence: counted in every format, and
/// the exit is 2, for an Athena result's row as for a LookupEvents event.
#[test]
fn an_unreadable_record_is_said_and_fails_the_backtest() {
    use xtask::history::athena::{column_names, row_of, write_result};
    let dir = scratch("unreadable");
    let ten = policy(&dir, "ten.yaml", 10);
    let good = create("s-5", 5, "2026-11-29T09:00:00Z");
    let mut broken = row_of(&create("s-7", 7, "2026-11-29T10:00:00Z"));
    let request = column_names()
        .iter()
        .position(|name| *name == "requestparameters")
        .unwrap();
    broken[request] = Some("{\"id\": \"s-7\", ".into());
    let mut csv = Vec::new();
    write_result(&mut csv, [row_of(&good), broken]).unwrap();
    let result = dir.join("result.csv");
    std::fs::write(&result, csv).unwrap();
    let lookup = dir.join("lookup.json");
    std::fs::write(
        &lookup,
        json!({"Events": [
            {"EventId": "1", "CloudTrailEvent": good.to_string()},
            {"EventId": "2", "CloudTrailEvent": "{\"eventSource\": \"glue."}
        ]})
        .to_string(),
    )
    .unwrap();
    for source in [["--athena-result", s(&result)], ["--trail", s(&lookup)]] {
        let (json, code, stderr) = report(&["--policy", s(&ten), source[0], source[1]]);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(
            (json["records"].clone(), json["unreadable_records"].clone()),
            (json!(2), json!(1))
        );
        assert_eq!(json["sessions"], 1, "the readable record is still judged");
        assert!(
            stderr.contains(
                "1 of 2 records could not be read (not JSON, or not a record) and was not judged"
            ),
            "{stderr}"
        );
        // Where it is and why: the row and its column, or the event.
        let example = json["unreadable_example"].as_str().unwrap_or_default();
        let (file, why) = if source[0] == "--athena-result" {
            (s(&result), "row 2: requestparameters is not JSON")
        } else {
            (s(&lookup), "its CloudTrailEvent is not JSON")
        };
        assert!(example.starts_with(&format!("{file}: {why}")), "{example}");
        assert!(stderr.contains(example), "{stderr}");
        let out = xtask(&["backtest", "--policy", s(&ten), source[0], source[1]]);
        assert_eq!(out.status.code(), Some(2));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("unreadable: 1 record could not be read (not JSON, or not a record) and was not judged"),
            "{stdout}"
        );
        let read = if source[0] == "--athena-result" {
            "read:       the result in 1 chunk, 2 records"
        } else {
            "read:       1 file, 2 records"
        };
        assert!(stdout.contains(read), "{stdout}");
        let out = xtask(&[
            "backtest",
            "--format",
            "markdown",
            "--policy",
            s(&ten),
            source[0],
            source[1],
        ]);
        let markdown = text(&out.stdout);
        assert!(markdown.contains("**Unreadable:** 1 record could not be read"));
        if source[0] == "--athena-result" {
            // What was read: its words as words, its name (the file) as code.
            assert!(
                markdown.contains("read from the Athena result `"),
                "{markdown}"
            );
            assert_eq!(
                json["history"].as_str().unwrap(),
                format!("the Athena result {}", s(&result))
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The flags that only shape an Athena query are refused without --athena, instead of doing
/// nothing (and `--dry-run` running the whole backtest).
#[test]
fn athena_only_flags_are_refused_without_athena() {
    let fixture = root().join("policy/tests/fixtures/realworld/24-cloudtrail-log-file.json");
    for flags in [
        &["--dry-run"][..],
        &["--workgroup", "backtest", "--max-scan-gb", "5"],
        &["--regions", "eu-west-1"],
    ] {
        let mut args = vec!["backtest", "--trail", s(&fixture)];
        args.extend_from_slice(flags);
        let out = xtask(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("only shapes an Athena query")
                || stderr.contains("only shape an Athena query"),
            "{stderr}"
        );
        assert!(stderr.contains(flags[0]), "{stderr}");
        assert!(text(&out.stdout).is_empty(), "nothing judged: {flags:?}");
    }
}

/// `--athena --dry-run --offline` prints the query for the table `render --athena-table` makes,
/// reading nothing in AWS (no credentials, no endpoint: a call would fail), with the settings of
/// the policy's `history.athena` under the flags; an injected account partition needs accounts.
#[test]
fn an_offline_dry_run_prints_the_query_for_the_rendered_table_without_aws() {
    let dir = scratch("backtest-offline");
    let file = dir.join("p.yaml");
    std::fs::write(
        &file,
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
         history:\n  athena: {database: security, table: org_trail, workgroup: backtest, days: 30}\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["backtest", "--athena", "--dry-run", "--offline"];
        args.extend_from_slice(&["--policy", s(&file), "--until", "2026-12-01"]);
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(root())
            .args(&args)
            // Nowhere to call: a request would fail rather than reach an account.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("AWS_PROFILE")
            .env("AWS_ACCESS_KEY_ID", "")
            .env("AWS_CONFIG_FILE", dir.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
            .output()
            .unwrap()
    };
    let out = run(&[
        "--accounts",
        "111122223333,444455556666",
        "--regions",
        "eu-west-1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sql = text(&out.stdout);
    // The policy's table and 30 days before --until, the day after it for late deliveries.
    assert!(sql.contains("FROM \"security\".\"org_trail\""), "{sql}");
    assert!(
        sql.contains("\"timestamp\" BETWEEN '2026/11/01' AND '2026/12/01'"),
        "{sql}"
    );
    assert!(
        sql.contains("\"account\" IN ('111122223333', '444455556666')"),
        "{sql}"
    );
    assert!(sql.contains("\"region\" IN ('eu-west-1')"), "{sql}");
    assert!(sql.contains("eventtime >= '2026-11-01T00:00:00Z'"), "{sql}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("offline"), "{stderr}");
    assert!(stderr.contains("workgroup `backtest`"), "{stderr}");
    assert!(
        stderr.contains("at most 100 GB"),
        "the limit a run needs: {stderr}"
    );
    // The one output contract: JSON is the query and what the dry run knows, nothing else on
    // stdout; Markdown fences the SQL.
    let out = run(&[
        "--accounts",
        "111122223333",
        "--max-scan-gb",
        "20",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["offline"], true);
    assert_eq!(json["table"], "security.org_trail");
    assert_eq!(json["workgroup"], "backtest");
    assert_eq!(json["max_scan_gb"], 20.0, "the flag over the default");
    assert_eq!(json["checked"], Value::Null);
    assert!(
        json["query"]
            .as_str()
            .unwrap()
            .contains("\"account\" IN ('111122223333')"),
        "{json}"
    );
    let out = run(&["--accounts", "111122223333", "--format", "markdown"]);
    let markdown = text(&out.stdout);
    assert!(
        markdown.starts_with("### Athena query (dry run)") && markdown.contains("```sql\nSELECT"),
        "{markdown}"
    );
    // Flags are checked as the policy's section is.
    for (flag, value, said) in [
        ("--workgroup", "bad wg", "is not an Athena workgroup name"),
        ("--output-location", "not-s3", "is not an S3 location"),
        (
            "--table",
            "Org-Trail",
            "is not a name Athena reads as written",
        ),
        ("--max-scan-gb", "-5", "is not a positive number"),
    ] {
        let out = run(&["--accounts", "111122223333", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(text(&out.stderr).contains(said), "{}", text(&out.stderr));
    }
    // The rendered table injects accounts unless it was rendered with them: a query names them.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--offline: name the accounts to read"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).is_empty());
    // Offline is a dry run's way, not a run's.
    let out = xtask(&["backtest", "--athena", "--offline", "--since", "2026-11-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--dry-run"),
        "{}",
        text(&out.stderr)
    );
}

/// `--since` leaves out a log file found in a folder whose name says CloudTrail delivered it
/// before then, and the report says how many in every format; a file named on the command line
/// is read whatever its name.
#[test]
fn files_delivered_before_since_are_left_out_and_counted() {
    let dir = scratch("backtest-left-out");
    let fixture = root().join("policy/tests/fixtures/realworld/24-cloudtrail-log-file.json");
    let day = dir.join("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/29");
    std::fs::create_dir_all(&day).unwrap();
    let late = day.join("111122223333_CloudTrail_eu-west-1_20261129T0930Z_late.json");
    let early = day.join("111122223333_CloudTrail_eu-west-1_20261128T2350Z_early.json");
    for file in [&late, &early] {
        std::fs::copy(&fixture, file).unwrap();
    }
    let since = ["--since", "2026-11-29T00:00:00Z"];
    let run = |trail: &Path, format: &str| {
        let mut args = vec!["backtest", "--trail", s(trail), "--format", format];
        args.extend_from_slice(&since);
        xtask(&args)
    };
    let json: Value = serde_json::from_slice(&run(&dir, "json").stdout).unwrap();
    assert_eq!(
        (json["files"].as_u64(), json["files_left_out"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(json["records"], 3, "the late file's records alone");
    let text_out = text(&run(&dir, "text").stdout);
    assert!(
        text_out.contains(
            "left out:   1 log file not read: its name says CloudTrail delivered it before --since"
        ),
        "{text_out}"
    );
    let markdown = text(&run(&dir, "markdown").stdout);
    assert!(
        markdown.contains("Left out: 1 log file not read"),
        "{markdown}"
    );
    // Named itself, the early file is read.
    let json: Value = serde_json::from_slice(&run(&early, "json").stdout).unwrap();
    assert_eq!(json["files"], 1);
    assert_eq!(json["files_left_out"], 0, "{json}");
}

/// A history longer than the backtest holds in memory (5,000 sessions, 1,000 of them stopped, in
/// runs of 4,096) is sorted in `TMPDIR`: the report lists every stopped session and leaves no
/// file behind; a `TMPDIR` that cannot hold the runs is exit 2, naming it, with no report.
#[test]
fn a_long_history_is_sorted_in_tmpdir_and_a_tmpdir_that_fails_is_an_error() {
    let dir = scratch("backtest-tmpdir");
    let policy = policy(&dir, "p.yaml", 10);
    let records: Vec<Value> = (0..5000u32)
        .map(|n| {
            let workers = if n % 5 == 0 { 20 } else { 5 };
            let time = format!(
                "2026-11-{:02}T{:02}:{:02}:00Z",
                1 + n / 1440 % 28,
                n / 60 % 24,
                n % 60
            );
            create(&format!("s-{n}"), workers, &time)
        })
        .collect();
    let trail = dir.join("trail");
    log_file(&trail, 1, "long", &records, Compression::Gzip);
    let run = |tmpdir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(root())
            .env("TMPDIR", tmpdir)
            .args([
                "backtest",
                "--format",
                "json",
                "--policy",
                s(&policy),
                "--trail",
                s(&trail),
            ])
            .output()
            .unwrap()
    };

    let tmpdir = dir.join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    let out = run(&tmpdir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sessions"], 5000);
    assert_eq!(report["violations"], 1000);
    let listed = report["violating"].as_array().unwrap();
    assert_eq!(listed.len(), 1000);
    // In creation order: the first stopped session, and the last.
    assert_eq!(listed[0]["session_id"], "s-0");
    assert_eq!(listed[999]["session_id"], "s-4995");
    assert_eq!(
        std::fs::read_dir(&tmpdir).unwrap().count(),
        0,
        "no file is left"
    );

    let out = run(&dir.join("missing"));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no report: {}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("temporary files (TMPDIR)"),
        "{}",
        text(&out.stderr)
    );
}
