//! `cargo xtask evaluate` on the files people really have: the real-world inputs in
//! `policy/tests/fixtures/realworld/` (trail log files plain and gzipped, Glue's echo, usage
//! profiles, R workers on Glue 6.0, another Glue call), LookupEvents responses, JSON Lines and
//! standard input, each with the verdicts the fixtures' README gives.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use testkit::cli::{root, scratch};

fn realworld(name: &str) -> PathBuf {
    root().join("policy/tests/fixtures/realworld").join(name)
}

fn xtask(args: &[&str], stdin: Option<&[u8]>) -> Output {
    testkit::cli::run(env!("CARGO_BIN_EXE_xtask"), args, stdin)
}

/// The JSON verdicts of `evaluate --format json` (one per line), after checking it exited as
/// the one exit rule says: 1 when a session would be stopped, deleted or notified, else 0.
fn verdicts(args: &[&str], stdin: Option<&[u8]>) -> Vec<Value> {
    let mut all = vec!["evaluate", "--format", "json"];
    all.extend_from_slice(args);
    let out = xtask(&all, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdicts: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    let acted_on = verdicts.iter().any(|verdict| verdict["action"] != "none");
    assert_eq!(
        out.status.code(),
        Some(i32::from(acted_on)),
        "{args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    verdicts
}

fn summary(verdict: &Value) -> (String, Vec<String>) {
    let rules = verdict["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_string())
        .collect();
    (verdict["decision"].as_str().unwrap().to_string(), rules)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

fn gzipped(source: &Path, to: &Path) {
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(&std::fs::read(source).unwrap()).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn a_trail_log_file_plain_or_gzipped_gives_one_verdict_per_record_in_order() {
    let plain = realworld("24-cloudtrail-log-file.json");
    let dir = scratch("gz");
    // The name does not matter: gzip is recognised by its first bytes.
    let gz = dir.join("123456789012_CloudTrail_eu-west-1_20261129T0900Z_abc.json.gz");
    gzipped(&plain, &gz);
    for file in [&plain, &gz] {
        let verdicts = verdicts(&["--event", file.to_str().unwrap()], None);
        let got: Vec<_> = verdicts.iter().map(summary).collect();
        assert_eq!(
            got,
            [
                ("violation".into(), strings(&["max_workers", "max_dpu"])),
                ("ignored".into(), vec![]),
                ("compliant".into(), vec![]),
            ],
            "{}",
            file.display()
        );
        assert_eq!(
            verdicts[1]["reason"],
            "event source `s3.amazonaws.com` is not Glue"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_realworld_records_get_their_verdicts() {
    let one = |name: &str, extra: &[&str]| {
        let file = realworld(name);
        let mut args = vec!["--event", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut all = verdicts(&args, None);
        assert_eq!(all.len(), 1, "{name}");
        all.remove(0)
    };
    let echo = one("02-connection-in-response-echo.json", &[]);
    assert_eq!(
        summary(&echo),
        (
            "violation".into(),
            strings(&[
                "max_timeout_minutes",
                "allowed_connections",
                "allowed_glue_versions",
                "required_tags"
            ])
        )
    );
    let memory = one("18-memory-optimized-worker-glue-6.json", &[]);
    assert_eq!(
        summary(&memory),
        (
            "violation".into(),
            strings(&["allowed_worker_types", "allowed_glue_versions"])
        )
    );
    let r_policy = realworld("policy-allows-r-workers.yaml");
    let allowed = one(
        "18-memory-optimized-worker-glue-6.json",
        &["--policy", r_policy.to_str().unwrap()],
    );
    assert_eq!(summary(&allowed).0, "compliant");
    let statement = one("22-runstatement.json", &[]);
    assert_eq!(statement["decision"], "ignored");
    assert_eq!(statement["session_id"], "alice-nb-7");

    // Glue as it is today: Graviton workers on 6.1, a Spark Connect session on 5.1.
    let graviton = one("27-graviton-workers-glue-6-1.json", &[]);
    assert_eq!(
        summary(&graviton),
        (
            "violation".into(),
            strings(&["allowed_worker_types", "allowed_glue_versions"])
        )
    );
    let connect = one("28-spark-connect-session.json", &[]);
    assert_eq!(
        summary(&connect),
        ("violation".into(), strings(&["allowed_glue_versions"]))
    );
    assert_eq!(connect["session_type"], "SPARK_CONNECT");
    let graviton_policy = realworld("policy-allows-graviton.yaml");
    let graviton_policy = graviton_policy.to_str().unwrap();
    let allowed = one(
        "27-graviton-workers-glue-6-1.json",
        &["--policy", graviton_policy],
    );
    assert_eq!(summary(&allowed).0, "compliant");
    let connect = one(
        "28-spark-connect-session.json",
        &["--policy", graviton_policy],
    );
    assert_eq!(
        summary(&connect),
        ("violation".into(), strings(&["allowed_worker_types"]))
    );
}

#[test]
fn a_trail_file_of_todays_sessions_judges_each_as_glue_runs_it() {
    // One trail log file holding the Graviton and Spark Connect records, and a session whose
    // worker type no table knows but whose name says its size: judged as the single records.
    let dir = scratch("today");
    let record = |name: &str| -> Value {
        let event: Value =
            serde_json::from_slice(&std::fs::read(realworld(name)).unwrap()).unwrap();
        event["detail"].clone()
    };
    let mut future = record("27-graviton-workers-glue-6-1.json");
    future["requestParameters"]["workerType"] = "G.3X.NEXT".into();
    future["requestParameters"]["numberOfWorkers"] = 9.into();
    future["responseElements"]["session"]["workerType"] = "G.3X.NEXT".into();
    future["responseElements"]["session"]["numberOfWorkers"] = 9.into();
    let trail = serde_json::json!({"Records": [
        record("27-graviton-workers-glue-6-1.json"),
        record("28-spark-connect-session.json"),
        future,
    ]});
    let file = dir.join("trail.json");
    std::fs::write(&file, serde_json::to_vec(&trail).unwrap()).unwrap();
    let all = verdicts(&["--event", file.to_str().unwrap()], None);
    assert_eq!(all.len(), 3);
    assert_eq!(
        summary(&all[0]).1,
        strings(&["allowed_worker_types", "allowed_glue_versions"])
    );
    assert_eq!(all[1]["session_type"], "SPARK_CONNECT");
    // 9 x 3 DPUs from the name: over max_dpu 20, and the verdict says the figure is derived.
    assert_eq!(
        summary(&all[2]).1,
        strings(&["allowed_worker_types", "max_dpu", "allowed_glue_versions"])
    );
    assert_eq!(all[2]["violations"][1]["actual"], 27.0);
    assert!(
        all[2]["notes"][0]
            .as_str()
            .unwrap()
            .contains("derived from its name: 3 per worker"),
        "{}",
        all[2]["notes"]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn usage_profiles_are_given_as_get_usage_profile_json() {
    let dir = scratch("profiles");
    let profile = |name: &str, timeout: &str| {
        let file = dir.join(format!("{name}-{timeout}.json"));
        std::fs::write(
            &file,
            json!({"Name": name, "Configuration": {"SessionConfiguration": {
                "timeout": {"DefaultValue": timeout, "MaxValue": "2880"}}}})
            .to_string(),
        )
        .unwrap();
        file
    };
    let session = realworld("19-usage-profile-defaults.json");
    let event = session.to_str().unwrap();
    let unknown = verdicts(&["--event", event], None).remove(0);
    assert_eq!(unknown["decision"], "compliant");
    assert_eq!(unknown["unchecked"].as_array().unwrap().len(), 1);

    let other = profile("someone-else", "9000");
    let long = profile("notebooks-small", "600");
    let verdict = verdicts(
        &[
            "--event",
            event,
            "--usage-profile",
            other.to_str().unwrap(),
            "--usage-profile",
            long.to_str().unwrap(),
        ],
        None,
    )
    .remove(0);
    assert_eq!(
        summary(&verdict),
        ("violation".into(), strings(&["max_timeout_minutes"])),
        "matched by Name"
    );
    let short = profile("notebooks-small", "60");
    let verdict = verdicts(
        &["--event", event, "--usage-profile", short.to_str().unwrap()],
        None,
    )
    .remove(0);
    assert_eq!(summary(&verdict), ("compliant".into(), vec![]));

    let broken = dir.join("broken.json");
    std::fs::write(&broken, r#"{"Configuration": {}}"#).unwrap();
    let out = xtask(
        &[
            "evaluate",
            "--event",
            event,
            "--usage-profile",
            broken.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("broken.json: --usage-profile: `Name` is missing"),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn lookup_events_responses_json_lines_and_standard_input() {
    let log: Value =
        serde_json::from_slice(&std::fs::read(realworld("24-cloudtrail-log-file.json")).unwrap())
            .unwrap();
    let records = log["Records"].as_array().unwrap();
    let expected: Vec<String> = strings(&["violation", "ignored", "compliant"]);
    let decisions = |verdicts: Vec<Value>| -> Vec<String> {
        verdicts
            .iter()
            .map(|v| v["decision"].as_str().unwrap().to_string())
            .collect()
    };

    let lookup = json!({"Events": records.iter().enumerate().map(|(i, record)| json!({
        "EventId": format!("e-{i}"), "EventName": record["eventName"],
        "CloudTrailEvent": record.to_string()
    })).collect::<Vec<_>>()});
    let text = lookup.to_string();
    assert_eq!(
        decisions(verdicts(&["--event", "-"], Some(text.as_bytes()))),
        expected
    );
    let item = lookup["Events"][0].to_string();
    assert_eq!(
        decisions(verdicts(&["--event", "-"], Some(item.as_bytes()))),
        ["violation"]
    );
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    assert_eq!(
        decisions(verdicts(&["--event", "-"], Some(lines.as_bytes()))),
        expected
    );

    // What cannot be read is an `ignored` verdict with its reason, then exit 2, as backtest
    // counts it: a CloudTrailEvent that is not JSON, a `Records` that is not a list.
    for (input, reason) in [
        (
            json!({"Events": [{"CloudTrailEvent": "not json"}, lookup["Events"][2]]}),
            "its CloudTrailEvent is not JSON",
        ),
        (json!({"Records": 5}), "`Records` is not a list"),
    ] {
        let text = input.to_string();
        let out = xtask(
            &["evaluate", "--event", "-", "--format", "json"],
            Some(text.as_bytes()),
        );
        assert_eq!(out.status.code(), Some(2), "{input}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(reason), "{input}: {stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("in standard input could not be read and was not judged"),
            "{input}: {stderr}"
        );
    }
}

/// A file that holds no record (an empty `Records` or `Events` list, `[]`) has nothing to
/// judge: exit 0, said on stderr, as backtest reads it. An input with nothing at all in it is
/// one lost on the way (an empty pipe): exit 2.
#[test]
fn an_empty_list_has_nothing_to_judge_and_an_empty_input_is_an_error() {
    for input in [r#"{"Records": []}"#, r#"{"Events": []}"#, "[]", "\n[ ]\n"] {
        for format in ["json", "text", "markdown"] {
            let out = xtask(
                &["evaluate", "--event", "-", "--format", format],
                Some(input.as_bytes()),
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{input} {format}: {stderr}");
            assert!(
                stderr.contains("standard input holds no record (an empty list): nothing to judge"),
                "{input}: {stderr}"
            );
            if format == "json" {
                assert!(out.stdout.is_empty(), "{input}");
            }
        }
    }
    for input in ["", " \n\t\r\n"] {
        let out = xtask(&["evaluate", "--event", "-"], Some(input.as_bytes()));
        assert_eq!(out.status.code(), Some(2), "{input:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("standard input is empty: no record to judge"),
            "{input:?}: {stderr}"
        );
    }
}

/// `--at` judges Glue's answers; over records only it changes nothing, which is said.
#[test]
fn at_over_records_only_is_said_to_change_nothing() {
    let sample = root().join("policies/samples/too-many-workers.json");
    let out = xtask(
        &[
            "evaluate",
            "--event",
            sample.to_str().unwrap(),
            "--at",
            "2026-01-01",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: --at applies to Glue's answers (a session, job or job run);"),
        "{stderr}"
    );
    let swept = root().join("policies/samples/glue-session-swept.json");
    let out = xtask(
        &[
            "evaluate",
            "--event",
            swept.to_str().unwrap(),
            "--at",
            "2026-01-01",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("--at applies"), "{stderr}");
}

/// Text and Markdown say which team routes a verdict's notification reaches, as JSON does.
#[test]
fn text_output_names_the_routes() {
    let routed = |format: &str| {
        let event = sample("routed-by-tag.json");
        let args = [
            "evaluate",
            "--policy",
            "policies/teams.yaml",
            "--event",
            &event,
            "--format",
            format,
        ];
        String::from_utf8_lossy(&xtask(&args, None).stdout).into_owned()
    };
    let text = routed("text");
    assert!(text.contains("\nroutes:    finance\n"), "{text}");
    // Markdown too, in a column of its own when the policy has routes.
    let table = routed("markdown");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].ends_with("| rules | routes |"), "{table}");
    assert!(lines[2].ends_with("| finance |"), "{table}");
}

#[test]
fn text_output_numbers_several_records_and_quotes_names() {
    let file = realworld("24-cloudtrail-log-file.json");
    let out = xtask(&["evaluate", "--event", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "record 1 would be stopped");
    let text = String::from_utf8_lossy(&out.stdout);
    for n in 1..=3 {
        assert!(text.contains(&format!("record:    {n}\n")), "{text}");
    }
    assert!(
        text.contains(
            "session:   \"GlueInteractiveSessionRole-dbt-glue-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\""
        ),
        "{text}"
    );
    let single = realworld("02-connection-in-response-echo.json");
    let out = xtask(&["evaluate", "--event", single.to_str().unwrap()], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("record:"), "{text}");
    assert!(
        text.contains(r#"connection "internal" is not allowed"#),
        "{text}"
    );
}

#[test]
fn a_damaged_file_is_an_error_after_the_verdicts_before_the_damage() {
    let dir = scratch("damaged");
    let file = dir.join("damaged.json");
    let text = std::fs::read_to_string(realworld("24-cloudtrail-log-file.json")).unwrap();
    let cut = text.find("\"s3.amazonaws.com\"").unwrap();
    std::fs::write(&file, &text[..cut]).unwrap();
    let out = xtask(
        &[
            "evaluate",
            "--format",
            "json",
            "--event",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("damaged.json: not readable as JSON at line"),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn sample(name: &str) -> String {
    root()
        .join("policies/samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A trail as JSON Lines: `CreateJob` of `daily-load` within bounds, a run of it, an
/// `UpdateJob` that makes it 80 x G.8X, and a run after it. Each run is judged over the
/// definition written last before it, never over a later one.
#[test]
fn job_runs_are_judged_over_the_definition_written_before_them() {
    let dir = scratch("evaluate-job-history");
    let record = |name: &str, request: Value, response: Value| {
        json!({"eventSource": "glue.amazonaws.com", "eventName": name,
               "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
               "requestParameters": request, "responseElements": response})
        .to_string()
    };
    let definition = |workers: u32, kind: &str| {
        json!({"command": {"name": "glueetl"}, "glueVersion": "5.0", "workerType": kind,
               "numberOfWorkers": workers, "timeout": 60,
               "connections": {"connections": ["private-vpc"]}})
    };
    let mut create = definition(10, "G.2X");
    create["name"] = json!("daily-load");
    create["tags"] = json!({"owner": "carol"});
    let lines = [
        record("CreateJob", create, json!({"name": "daily-load"})),
        record(
            "StartJobRun",
            json!({"jobName": "daily-load"}),
            json!({"jobRunId": "jr_1"}),
        ),
        record(
            "UpdateJob",
            json!({"jobName": "daily-load", "jobUpdate": definition(80, "G.8X")}),
            json!({"jobName": "daily-load"}),
        ),
        record(
            "StartJobRun",
            json!({"jobName": "daily-load"}),
            json!({"jobRunId": "jr_2"}),
        ),
    ];
    let trail = dir.join("trail.jsonl");
    std::fs::write(&trail, lines.join("\n")).unwrap();
    let all = verdicts(&["--event", trail.to_str().unwrap()], None);
    let seen: Vec<(String, Option<&str>, String)> = all
        .iter()
        .map(|v| {
            (
                v["decision"].as_str().unwrap().to_string(),
                v["job_run_id"].as_str(),
                v["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("compliant".into(), None, "none".into()),
            ("compliant".into(), Some("jr_1"), "none".into()),
            ("violation".into(), None, "notify".into()),
            ("violation".into(), Some("jr_2"), "stop".into()),
        ]
    );
    assert_eq!(
        summary(&all[3]).1,
        strings(&["max_workers", "allowed_worker_types", "max_dpu"])
    );
    assert!(
        summary(&all[3]).1 == summary(&all[2]).1,
        "the run breaks what its definition breaks"
    );
}

#[test]
fn a_run_is_judged_over_the_job_given_with_job_and_says_what_it_could_not_check_without() {
    let with = verdicts(
        &[
            "--event",
            &sample("job-run-oversized.json"),
            "--job",
            &sample("job-daily-load.json"),
        ],
        None,
    );
    assert_eq!(with[0]["job_name"], "daily-load");
    assert_eq!(
        summary(&with[0]),
        (
            "violation".to_string(),
            strings(&[
                "max_workers",
                "allowed_worker_types",
                "max_dpu",
                "max_timeout_minutes"
            ])
        )
    );
    assert!(with[0]["unchecked"].is_null(), "{}", with[0]);

    let without = verdicts(&["--event", &sample("job-run-oversized.json")], None);
    let unchecked = without[0]["unchecked"].to_string();
    for rule in [
        "require_vpc_connection",
        "allowed_glue_versions",
        "required_tags",
    ] {
        assert!(unchecked.contains(rule), "{rule}: {unchecked}");
    }

    // Text names the job and the run.
    let out = xtask(
        &[
            "evaluate",
            "--event",
            &sample("job-run-oversized.json"),
            "--job",
            &sample("job-daily-load.json"),
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("job:       \"daily-load\""), "{text}");
    assert!(text.contains("run:       \"jr_9a8b"), "{text}");

    // A file that is not a GetJob answer is an error naming it.
    let out = xtask(
        &[
            "evaluate",
            "--event",
            &sample("job-run-oversized.json"),
            "--job",
            &sample("compliant.json"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("compliant.json: --job:") && stderr.contains("GetJob"),
        "{stderr}"
    );

    // A job without GetJob's `Job` wrapper, or without its required `Command`, is refused: it
    // would be judged as a job of unknown kind.
    let dir = testkit::cli::scratch("job-shape");
    for (text, reason) in [
        (r#"{"Name": "daily-load"}"#, "no `Job` object at the top"),
        (
            r#"{"Job": {"Name": "daily-load"}}"#,
            "Job.Command.Name is missing",
        ),
    ] {
        let file = dir.join("job.json");
        std::fs::write(&file, text).unwrap();
        let out = xtask(
            &[
                "evaluate",
                "--event",
                &sample("job-run-oversized.json"),
                "--job",
                file.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reason), "{text}: {stderr}");
    }

    // A job no run in the input is of is said on stderr: it was not used.
    let out = xtask(
        &[
            "evaluate",
            "--event",
            &sample("job-run-oversized.json"),
            "--job",
            &sample("job-daily-load.json"),
            "--job",
            &sample("job-nightly-rebuild.json"),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("job-nightly-rebuild.json: no job run in the input is of job \"nightly-rebuild\", so it was not used"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("job-daily-load.json: no job run"),
        "{stderr}"
    );
}
