//! Glue jobs under the policy: records and Glue's answers read into facts, the order of
//! authority (GetJobRun over the run's overrides over the definition over Glue's documented
//! defaults), every job boundary, overrides by job name, definitions only reported, and the
//! `jobs` section's validation.

use policy::{
    Action, Decision, JobFacts, JobRecord, Policy, evaluate_job, facts_from_glue_job,
    facts_from_glue_job_run, is_job_event, load_policy, read_job_record,
};
use serde_json::{Value, json};

const POLICY: &str = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
jobs:
  boundaries:
    max_workers: 50
    max_dpu: 100
    allowed_worker_types: [G.1X, G.2X, G.4X]
    max_timeout_minutes: 600
    allowed_glue_versions: ["4.0", "5.0", "5.1"]
    require_vpc_connection: true
    allowed_execution_classes: [STANDARD, FLEX]
    required_tags: [owner]
  overrides:
    - {name: nightly-big, job_names: ["nightly-*"], boundaries: {max_workers: 200, max_dpu: 400}}
exempt_principals: ["arn:aws:iam::123456789012:user/breakglass"]
"#;

fn policy() -> Policy {
    load_policy("test.yaml", POLICY.as_bytes()).unwrap()
}

fn errors(text: &str) -> Vec<String> {
    match load_policy("p.yaml", text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

/// `GetJob` of a definition inside every job boundary of `POLICY`.
fn get_job(name: &str) -> Value {
    json!({"Job": {
        "Name": name,
        "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/s.py"},
        "GlueVersion": "5.0",
        "WorkerType": "G.2X",
        "NumberOfWorkers": 10,
        "Timeout": 120,
        "Connections": {"Connections": ["vpc-a"]},
        "DefaultArguments": {"--job-language": "python"}
    }})
}

/// A `StartJobRun` record in its EventBridge envelope, with `overrides` as its request.
fn start_job_run(job: &str, run_id: &str, overrides: Value) -> Value {
    let mut request = json!({"jobName": job});
    request
        .as_object_mut()
        .unwrap()
        .extend(overrides.as_object().unwrap().clone());
    json!({
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.glue",
        "detail": {
            "eventSource": "glue.amazonaws.com",
            "eventName": "StartJobRun",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/Airflow/dag-run",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/Airflow"}}
            },
            "requestParameters": request,
            "responseElements": {"jobRunId": run_id}
        }
    })
}

fn run_record(event: &Value) -> JobFacts {
    match read_job_record(event).unwrap() {
        JobRecord::Run(run) => run,
        other => panic!("not a run: {other:?}"),
    }
}

fn definition_record(event: &Value) -> JobFacts {
    match read_job_record(event).unwrap() {
        JobRecord::Definition(definition) => definition,
        other => panic!("not a definition: {other:?}"),
    }
}

fn tagged(mut definition: JobFacts) -> JobFacts {
    definition.tags = policy::Fact::Given([("owner".to_string(), "data".to_string())].into());
    definition
}

#[test]
fn a_run_of_a_compliant_job_without_overrides_is_compliant() {
    let definition = tagged(facts_from_glue_job(&get_job("daily")).unwrap());
    let request = run_record(&start_job_run("daily", "jr_1", json!({})));
    let run = JobFacts::run(Some(&definition), &request, None);
    let verdict = evaluate_job(&policy(), &run);
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:#?}");
    assert_eq!(verdict.job_name.as_deref(), Some("daily"));
    assert_eq!(verdict.job_run_id.as_deref(), Some("jr_1"));
    assert_eq!(
        verdict.principal.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/Airflow/dag-run")
    );
    assert_eq!(verdict.session_id, None);
}

#[test]
fn the_runs_overrides_win_over_the_definition() {
    let definition = tagged(facts_from_glue_job(&get_job("daily")).unwrap());
    let request = run_record(&start_job_run(
        "daily",
        "jr_2",
        json!({"workerType": "G.8X", "numberOfWorkers": 100, "timeout": 2880}),
    ));
    let run = JobFacts::run(Some(&definition), &request, None);
    let verdict = evaluate_job(&policy(), &run);
    assert_eq!(verdict.decision, Decision::Violation);
    assert_eq!(
        verdict.rules(),
        [
            "max_workers",
            "allowed_worker_types",
            "max_dpu",
            "max_timeout_minutes"
        ]
    );
    assert_eq!(verdict.action, Action::Stop);
    let dpu = &verdict.violations[2];
    assert_eq!(dpu.actual, json!(800.0), "100 x G.8X");
}

#[test]
fn get_job_run_wins_over_the_request_and_the_definition() {
    let definition = tagged(facts_from_glue_job(&get_job("daily")).unwrap());
    let request = run_record(&start_job_run(
        "daily",
        "jr_3",
        json!({"numberOfWorkers": 100}),
    ));
    let glue = facts_from_glue_job_run(&json!({"JobRun": {
        "Id": "jr_3", "JobName": "daily", "JobRunState": "RUNNING",
        "WorkerType": "G.2X", "NumberOfWorkers": 20, "Timeout": 120, "GlueVersion": "5.0"
    }}))
    .unwrap();
    let run = JobFacts::run(Some(&definition), &request, Some(&glue));
    assert_eq!(run.number_of_workers, policy::Fact::Given(20));
    assert_eq!(run.status.as_deref(), Some("RUNNING"));
    let verdict = evaluate_job(&policy(), &run);
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:#?}");
}

#[test]
fn without_a_definition_what_the_run_leaves_out_is_unknown_never_guessed() {
    let request = run_record(&start_job_run(
        "daily",
        "jr_4",
        json!({"numberOfWorkers": 8}),
    ));
    let run = JobFacts::run(None, &request, None);
    let verdict = evaluate_job(&policy(), &run);
    assert_eq!(verdict.decision, Decision::Compliant);
    let unchecked = verdict.unchecked.join("\n");
    for rule in [
        "allowed_worker_types",
        "max_timeout_minutes",
        "require_vpc_connection",
        "allowed_glue_versions",
        "required_tags",
    ] {
        assert!(unchecked.contains(rule), "{rule} missing from {unchecked}");
    }
}

#[test]
fn a_run_that_has_ended_gets_no_action() {
    let definition = tagged(facts_from_glue_job(&get_job("daily")).unwrap());
    let request = run_record(&start_job_run(
        "daily",
        "jr_5",
        json!({"numberOfWorkers": 100}),
    ));
    for state in [
        "SUCCEEDED",
        "STOPPED",
        "FAILED",
        "TIMEOUT",
        "ERROR",
        "EXPIRED",
    ] {
        let glue = facts_from_glue_job_run(
            &json!({"Id": "jr_5", "JobName": "daily", "JobRunState": state}),
        )
        .unwrap();
        let verdict = evaluate_job(
            &policy(),
            &JobFacts::run(Some(&definition), &request, Some(&glue)),
        );
        assert_eq!(verdict.decision, Decision::Violation);
        assert_eq!(verdict.action, Action::None, "{state}");
        assert!(verdict.reason.unwrap().contains(state));
    }
}

#[test]
fn audit_mode_notifies_and_exempt_principals_are_reported() {
    let audit = format!("{POLICY}enforcement: {{mode: audit}}\n");
    let audit = load_policy("a.yaml", audit.as_bytes()).unwrap();
    let definition = tagged(facts_from_glue_job(&get_job("daily")).unwrap());
    let request = run_record(&start_job_run(
        "daily",
        "jr_6",
        json!({"numberOfWorkers": 100}),
    ));
    let run = JobFacts::run(Some(&definition), &request, None);
    assert_eq!(evaluate_job(&audit, &run).action, Action::Notify);

    let mut by_breakglass = run.clone();
    by_breakglass.principal = Some(policy::Principal {
        arn: "arn:aws:iam::123456789012:user/breakglass".into(),
        ..Default::default()
    });
    let verdict = evaluate_job(&policy(), &by_breakglass);
    assert_eq!(verdict.decision, Decision::Exempt);
    assert_eq!(verdict.action, Action::None);
}

#[test]
fn overrides_match_job_names() {
    let definition = tagged(facts_from_glue_job(&get_job("nightly-load")).unwrap());
    let request = run_record(&start_job_run(
        "nightly-load",
        "jr_7",
        json!({"numberOfWorkers": 150}),
    ));
    let run = JobFacts::run(Some(&definition), &request, None);
    let verdict = evaluate_job(&policy(), &run);
    assert_eq!(verdict.override_name.as_deref(), Some("nightly-big"));
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:#?}");

    let other = JobFacts {
        job_name: "daily".into(),
        ..run
    };
    assert_eq!(
        evaluate_job(&policy(), &other).rules(),
        ["max_workers", "max_dpu"]
    );
}

#[test]
fn definitions_are_reported_never_changed() {
    let create = json!({
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateJob",
        "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
        "requestParameters": {
            "name": "huge",
            "role": "arn:aws:iam::123456789012:role/GlueJob",
            "command": {"name": "glueetl", "scriptLocation": "s3://b/s.py"},
            "glueVersion": "5.0",
            "workerType": "G.2X",
            "numberOfWorkers": 80,
            "timeout": 60,
            "connections": {"connections": ["vpc-a"]},
            "tags": {"owner": "carol"}
        },
        "responseElements": {"name": "huge"}
    });
    assert!(is_job_event(&create));
    let definition = definition_record(&create);
    assert_eq!(definition.job_run_id, None);
    let verdict = evaluate_job(&policy(), &definition);
    assert_eq!(verdict.rules(), ["max_workers", "max_dpu"]);
    assert_eq!(verdict.action, Action::Notify, "never stop or change a job");
    assert!(verdict.reason.unwrap().contains("never changed"));

    let update = json!({
        "eventSource": "glue.amazonaws.com",
        "eventName": "UpdateJob",
        "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
        "requestParameters": {"jobName": "huge", "jobUpdate": {
            "command": {"name": "glueetl"}, "glueVersion": "5.0",
            "workerType": "G.1X", "numberOfWorkers": 4, "timeout": 60,
            "connections": {"connections": ["vpc-a"]}
        }},
        "responseElements": {"jobName": "huge"}
    });
    let updated = definition_record(&update);
    let verdict = evaluate_job(&policy(), &updated);
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:#?}");
    assert!(
        verdict
            .unchecked
            .iter()
            .any(|u| u.starts_with("required_tags")),
        "UpdateJob does not carry tags: {:?}",
        verdict.unchecked
    );
}

#[test]
fn glue_documented_job_defaults_by_command_and_version() {
    let definition = |command: &str, version: Option<&str>| {
        let mut job = json!({"Name": "j", "Command": {"Name": command}, "Timeout": 60,
                             "Connections": {"Connections": ["vpc-a"]}});
        if let Some(version) = version {
            job["GlueVersion"] = json!(version);
        }
        tagged(facts_from_glue_job(&job).unwrap())
    };
    let tight = POLICY.replace("max_dpu: 100", "max_dpu: 5");
    let tight = load_policy("t.yaml", tight.as_bytes()).unwrap();

    // Spark before 6.1: 10 DPUs (MaxCapacity's default), no worker type named.
    let verdict = evaluate_job(&tight, &definition("glueetl", Some("5.0")));
    assert!(
        verdict
            .defaults_applied
            .contains(&"MaxCapacity = 10 DPU (Glue default)".to_string())
    );
    assert_eq!(verdict.rules(), ["max_dpu"]);

    // Spark on 6.1: 10 x G.1X.GRAVITON, which the allowed list lacks.
    let verdict = evaluate_job(&policy(), &definition("glueetl", Some("6.1")));
    let types = verdict
        .violations
        .iter()
        .find(|v| v.rule == "allowed_worker_types")
        .unwrap();
    assert_eq!(types.actual, json!("G.1X.GRAVITON"));
    assert!(types.from_default);

    // Python shell: 0.0625 DPU, no workers.
    let verdict = evaluate_job(&tight, &definition("pythonshell", Some("3.0")));
    assert!(!verdict.rules().contains(&"max_dpu"), "{verdict:#?}");
    assert!(
        verdict
            .defaults_applied
            .iter()
            .any(|d| d.contains("0.0625"))
    );
}

#[test]
fn a_left_out_timeout_is_480_minutes_from_glue_5_and_not_guessed_for_streaming() {
    let job = |command: &str, version: Option<&str>| {
        let mut job = json!({"Name": "j", "Command": {"Name": command},
                             "WorkerType": "G.1X", "NumberOfWorkers": 2,
                             "Connections": {"Connections": ["vpc-a"]}});
        if let Some(version) = version {
            job["GlueVersion"] = json!(version);
        }
        tagged(facts_from_glue_job(&job).unwrap())
    };
    let verdict = evaluate_job(&policy(), &job("glueetl", Some("5.0")));
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:#?}");
    assert!(
        verdict
            .defaults_applied
            .contains(&"Timeout = 480 minutes (Glue default)".to_string())
    );

    let verdict = evaluate_job(&policy(), &job("glueetl", Some("4.0")));
    assert_eq!(
        verdict.rules(),
        ["max_timeout_minutes"],
        "2880 minutes up to Glue 4.0"
    );
    assert!(verdict.violations[0].from_default);

    // No version: Glue's default for jobs, 5.1 (allowed), and its 480 minutes.
    let verdict = evaluate_job(&policy(), &job("glueetl", None));
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:#?}");
    assert!(
        verdict
            .defaults_applied
            .contains(&"GlueVersion = 5.1 (Glue default)".to_string())
    );

    let verdict = evaluate_job(&policy(), &job("gluestreaming", Some("5.0")));
    assert!(
        verdict
            .unchecked
            .iter()
            .any(|u| u.starts_with("max_timeout_minutes")
                && u.contains("gluestreaming jobs on Glue 5.0")),
        "{:?}",
        verdict.unchecked
    );
}

#[test]
fn execution_classes() {
    let mut job = get_job("daily");
    job["Job"]["ExecutionClass"] = json!("FLEX");
    job["Job"]["GlueVersion"] = json!("2.0");
    let standard_only = POLICY.replace("[STANDARD, FLEX]", "[STANDARD]");
    let standard_only = load_policy("s.yaml", standard_only.as_bytes()).unwrap();
    let verdict = evaluate_job(&standard_only, &tagged(facts_from_glue_job(&job).unwrap()));
    assert!(verdict.rules().contains(&"allowed_execution_classes"));
    assert!(
        verdict
            .notes
            .iter()
            .any(|n| n.contains("FLEX needs Glue 3.0")),
        "{:?}",
        verdict.notes
    );

    let verdict = evaluate_job(
        &standard_only,
        &tagged(facts_from_glue_job(&get_job("d")).unwrap()),
    );
    assert!(
        verdict
            .defaults_applied
            .contains(&"ExecutionClass = STANDARD (Glue default)".to_string())
    );
    assert!(!verdict.rules().contains(&"allowed_execution_classes"));
}

#[test]
fn without_a_jobs_section_jobs_are_not_guarded() {
    let sessions_only = load_policy(
        "s.yaml",
        b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    let request = run_record(&start_job_run(
        "daily",
        "jr_8",
        json!({"numberOfWorkers": 100}),
    ));
    let verdict = evaluate_job(&sessions_only, &JobFacts::run(None, &request, None));
    assert_eq!(verdict.decision, Decision::Ignored);
    assert_eq!(verdict.action, Action::None);
    assert_eq!(verdict.job_run_id.as_deref(), Some("jr_8"));
}

#[test]
fn records_that_are_not_judged_say_why() {
    let failed = json!({"eventSource": "glue.amazonaws.com", "eventName": "StartJobRun",
                        "errorCode": "ConcurrentRunsExceededException",
                        "requestParameters": {"jobName": "daily"}});
    assert!(
        read_job_record(&failed)
            .unwrap_err()
            .reason
            .contains("failed")
    );
    let session = json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession"});
    assert!(!is_job_event(&session));
    assert!(read_job_record(&session).is_err());
    for junk in [
        json!(null),
        json!([1]),
        json!({"detail": 3}),
        json!({"eventSource": "glue.amazonaws.com", "eventName": "StartJobRun", "requestParameters": {"jobName": "x"}}),
    ] {
        assert!(read_job_record(&junk).is_err(), "{junk}");
    }
}

#[test]
fn the_jobs_section_is_validated_with_its_location() {
    let with = |jobs: &str| {
        format!(
            "version: 1\nstack: {{name: guard}}\nboundaries: {{max_workers: 10}}\njobs:\n{jobs}"
        )
    };
    let errors_of = |jobs: &str| errors(&with(jobs)).join("\n");

    let idle = errors_of("  boundaries: {max_idle_timeout_minutes: 30}\n");
    assert!(
        idle.contains("p.yaml:5:")
            && idle.contains("jobs.boundaries.max_idle_timeout_minutes")
            && idle.contains("session-only"),
        "{idle}"
    );
    let kinds = errors_of("  boundaries: {max_workers: 5, allowed_session_types: [LIVY]}\n");
    assert!(
        kinds.contains("jobs.boundaries.allowed_session_types"),
        "{kinds}"
    );
    let empty = errors_of("  boundaries: {}\n");
    assert!(
        empty.contains("jobs.boundaries") && empty.contains("at least one"),
        "{empty}"
    );
    let no_pattern = errors_of(
        "  boundaries: {max_workers: 5}\n  overrides:\n    - {name: x, boundaries: {max_workers: 9}}\n",
    );
    assert!(
        no_pattern.contains("jobs.overrides[0].principals"),
        "{no_pattern}"
    );
    let bare = errors_of(
        "  boundaries: {max_workers: 5}\n  overrides:\n    - {name: x, job_names: ['*'], boundaries: {max_workers: 9}}\n",
    );
    assert!(
        bare.contains("jobs.overrides[0].job_names[0]") && bare.contains("every job"),
        "{bare}"
    );
    let class = errors_of("  boundaries: {allowed_execution_classes: [flex]}\n");
    assert!(class.contains("allowed_execution_classes[0]"), "{class}");
    // Jobs take Glue versions sessions do not.
    assert_eq!(
        errors_of("  boundaries: {allowed_glue_versions: [\"2.0\"]}\n"),
        ""
    );

    let sessions = errors("version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10, allowed_execution_classes: [FLEX]}\n").join("\n");
    assert!(
        sessions.contains("boundaries.allowed_execution_classes")
            && sessions.contains("job boundary"),
        "{sessions}"
    );
    let typo = errors_of("  boundaries: {max_worker: 5}\n");
    assert!(typo.contains("max_worker"), "{typo}");
}

#[test]
fn a_definition_record_does_not_say_whether_a_usage_profile_supplied_what_it_leaves_out() {
    let create = json!({
        "eventSource": "glue.amazonaws.com", "eventName": "CreateJob",
        "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
        "requestParameters": {"name": "small", "command": {"name": "glueetl"},
                              "glueVersion": "4.0", "connections": {"connections": ["vpc-a"]},
                              "tags": {"owner": "carol"}},
        "responseElements": {"name": "small"}
    });
    let verdict = evaluate_job(&policy(), &definition_record(&create));
    assert_eq!(verdict.decision, Decision::Compliant);
    let unchecked = verdict.unchecked.join("\n");
    assert!(
        unchecked.contains("max_timeout_minutes") && unchecked.contains("usage profile"),
        "{unchecked}"
    );

    // GetJob says there is none (no ProfileName): Glue's defaults apply, 2,880 minutes on 4.0.
    let job = json!({"Name": "small", "Command": {"Name": "glueetl"}, "GlueVersion": "4.0",
                     "Connections": {"Connections": ["vpc-a"]}});
    let verdict = evaluate_job(&policy(), &tagged(facts_from_glue_job(&job).unwrap()));
    assert_eq!(verdict.rules(), ["max_timeout_minutes"]);
    assert!(verdict.violations[0].from_default);

    // GetJob names a profile yet holds no Timeout: Glue saves a profile's defaults into the
    // definition, so what is still missing is not known to be Glue's default: unchecked.
    let mut under_profile = job.clone();
    under_profile["ProfileName"] = json!("etl-small");
    let verdict = evaluate_job(
        &policy(),
        &tagged(facts_from_glue_job(&under_profile).unwrap()),
    );
    assert_eq!(verdict.decision, Decision::Compliant);
    let unchecked = verdict.unchecked.join("\n");
    assert!(
        unchecked.contains("max_timeout_minutes") && unchecked.contains("\"etl-small\""),
        "{unchecked}"
    );
}

/// Ray jobs run on Z.2X workers when they name none ("Accepts the value Z.2X for Ray jobs"), and
/// Glue documents no worker count or timeout for them: those stay unchecked, never guessed.
#[test]
fn ray_jobs_take_z_2x_workers_and_nothing_else_is_guessed() {
    let job = json!({"Name": "ray", "Command": {"Name": "glueray"}, "GlueVersion": "4.0",
                     "Connections": {"Connections": ["vpc-a"]}});
    let verdict = evaluate_job(&policy(), &tagged(facts_from_glue_job(&job).unwrap()));
    let types = verdict
        .violations
        .iter()
        .find(|v| v.rule == "allowed_worker_types")
        .expect("Z.2X is not allowed");
    assert_eq!(types.actual, json!("Z.2X"));
    assert!(types.from_default);
    let unchecked = verdict.unchecked.join("\n");
    for rule in ["max_workers", "max_timeout_minutes"] {
        assert!(unchecked.contains(rule), "{rule}: {unchecked}");
    }
    assert!(unchecked.contains("glueray jobs"), "{unchecked}");
}
