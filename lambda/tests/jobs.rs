//! Glue jobs in real time, against SDK clients mocked at the HTTP layer (`aws-smithy-mocks`):
//! moto has no `BatchStopJobRun` and no `UpdateJob` (its Glue backend lists both as not
//! implemented), and its job runs reach `SUCCEEDED` on the first `GetJobRun`, so the stop of a
//! running run and each of Glue's answers to it are tested here, as request and response
//! contracts. The ledger's exactly-once is the sessions' (tested against moto in `tests/moto.rs`
//! and `tests/load.rs`); here it answers what each case needs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_glue::config::retry::RetryConfig;
use aws_sdk_glue::operation::batch_stop_job_run::{BatchStopJobRunInput, BatchStopJobRunOutput};
use aws_sdk_glue::operation::get_job::GetJobOutput;
use aws_sdk_glue::operation::get_job_run::GetJobRunOutput;
use aws_sdk_glue::operation::get_tags::GetTagsOutput;
use aws_sdk_glue::types::{
    BatchStopJobRunError, BatchStopJobRunSuccessfulSubmission, ConnectionsList, ErrorDetail, Job,
    JobCommand, JobRun, JobRunState, WorkerType,
};
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use glue_session_guard_lambda::report::{JobReport, Notification, Outcome};
use glue_session_guard_lambda::{Guard, GuardError, Response, Retry, Settings, Timing, handle};
use lambda_runtime::LambdaEvent;
use policy::{Action, Decision, Policy};
use serde_json::{Value, json};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:glue-session-guard";
const JOB: &str = "daily-load";
const RUN: &str = "jr_0123456789abcdef";
const CONDITION_FAILED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;

const POLICY: &str = r#"
version: 1
stack: {name: glue-session-guard}
boundaries: {max_workers: 10}
jobs:
  boundaries:
    max_workers: 50
    max_dpu: 100
    allowed_worker_types: [G.1X, G.2X, G.4X]
    max_timeout_minutes: 600
    require_vpc_connection: true
    required_tags: [owner]
  overrides:
    - {name: nightly-big, job_names: ["nightly-*"], boundaries: {max_workers: 200, max_dpu: 400}}
"#;

fn policy_in(mode: &str) -> Policy {
    let text = format!("{POLICY}enforcement: {{mode: {mode}}}\n");
    policy::load_policy("p.yaml", text.as_bytes()).unwrap()
}

fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(2))
}

fn timing() -> Timing {
    Timing {
        first_poll: Duration::from_millis(5),
        max_poll: Duration::from_millis(20),
        deadline_margin: Duration::from_millis(50),
        cloudtrail_lag: Duration::from_secs(15 * 60),
        profile_cache: Duration::from_secs(60),
        budget_recheck: Duration::from_millis(50),
    }
}

fn guard(policy: Policy, glue: &[&Rule], sns: &[&Rule], ledger: &[&Rule]) -> Guard {
    guard_with_trail(policy, glue, sns, ledger, &[])
}

/// The guard, with CloudTrail's `LookupEvents` answering from `cloudtrail`.
fn guard_with_trail(
    policy: Policy,
    glue: &[&Rule],
    sns: &[&Rule],
    ledger: &[&Rule],
    cloudtrail: &[&Rule],
) -> Guard {
    Guard {
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, glue, |c| c
            .retry_config(fast_retries())),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns, |c| c
            .retry_config(fast_retries())),
        cloudtrail: mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, cloudtrail, |c| c
            .retry_config(fast_retries())),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, ledger, |c| c
            .retry_config(fast_retries())),
        settings: Settings {
            policy,
            topic_arn: TOPIC.to_string(),
            stack_name: "glue-session-guard".to_string(),
            ledger_table: "glue-session-guard-ledger".to_string(),
            central_topic_arn: None,
        },
        timing: timing(),
        profiles: Default::default(),
    }
}

/// The ledger grants the claim and records `sent`.
fn ledger_grants() -> (Rule, Rule) {
    (
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build()),
        mock!(aws_sdk_dynamodb::Client::update_item)
            .then_output(|| UpdateItemOutput::builder().build()),
    )
}

/// A CloudTrail record of `name` in its EventBridge envelope, by an Airflow role.
fn record(name: &str, request: Value, response: Value) -> LambdaEvent<Value> {
    let event = json!({
        "version": "0",
        "id": "e-1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.glue",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {
            "eventSource": "glue.amazonaws.com",
            "eventName": name,
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/Airflow/dag-run",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/Airflow"}}
            },
            "requestParameters": request,
            "responseElements": response
        }
    });
    LambdaEvent::new(
        event,
        testkit::context("req-1", "us-east-1", Duration::from_secs(60)),
    )
}

/// `StartJobRun` of `JOB` with `overrides`.
fn start_job_run(overrides: Value) -> LambdaEvent<Value> {
    let mut request = json!({"jobName": JOB});
    request
        .as_object_mut()
        .unwrap()
        .extend(overrides.as_object().unwrap().clone());
    record("StartJobRun", request, json!({"jobRunId": RUN}))
}

/// `GetJob`: a definition inside every job boundary (10 x G.2X, 2 hours, a VPC connection).
fn get_job() -> Rule {
    mock!(aws_sdk_glue::Client::get_job).then_output(|| {
        GetJobOutput::builder()
            .job(
                Job::builder()
                    .name(JOB)
                    .command(JobCommand::builder().name("glueetl").build())
                    .glue_version("5.0")
                    .worker_type(WorkerType::G2X)
                    .number_of_workers(10)
                    .timeout(120)
                    .connections(ConnectionsList::builder().connections("vpc-a").build())
                    .build(),
            )
            .build()
    })
}

fn get_tags() -> Rule {
    mock!(aws_sdk_glue::Client::get_tags).then_output(|| {
        GetTagsOutput::builder()
            .tags("owner", "data-platform")
            .build()
    })
}

/// `GetJobRun`: the run in `state`, with `workers` of `G.8X` (what the run's overrides asked).
fn get_job_run(state: JobRunState, workers: i32) -> Rule {
    mock!(aws_sdk_glue::Client::get_job_run).then_output(move || {
        GetJobRunOutput::builder()
            .job_run(
                JobRun::builder()
                    .id(RUN)
                    .job_name(JOB)
                    .job_run_state(state.clone())
                    .worker_type(WorkerType::G8X)
                    .number_of_workers(workers)
                    .timeout(120)
                    .glue_version("5.0")
                    .build(),
            )
            .build()
    })
}

/// `BatchStopJobRun` accepted for the run, recording each request.
fn stop_accepted() -> (Rule, Arc<Mutex<Vec<BatchStopJobRunInput>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let rule = mock!(aws_sdk_glue::Client::batch_stop_job_run)
        .match_requests(move |input| {
            record.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| {
            BatchStopJobRunOutput::builder()
                .successful_submissions(
                    BatchStopJobRunSuccessfulSubmission::builder()
                        .job_name(JOB)
                        .job_run_id(RUN)
                        .build(),
                )
                .build()
        });
    (rule, seen)
}

/// `BatchStopJobRun` answered with an error for the run (Glue answers per run).
fn stop_refused() -> Rule {
    mock!(aws_sdk_glue::Client::batch_stop_job_run).then_output(|| {
        BatchStopJobRunOutput::builder()
            .errors(
                BatchStopJobRunError::builder()
                    .job_name(JOB)
                    .job_run_id(RUN)
                    .error_detail(
                        ErrorDetail::builder()
                            .error_code("InvalidInputException")
                            .error_message("Job run is not in a stoppable state")
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn publish_recorded() -> (Rule, Arc<Mutex<Vec<PublishInput>>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    let rule = mock!(aws_sdk_sns::Client::publish)
        .match_requests(move |input| {
            record.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    (rule, sent)
}

fn job_report(response: Response) -> JobReport {
    match response {
        Response::Job(report) => report,
        other => panic!("expected a job report, got {other:?}"),
    }
}

fn attribute(input: &PublishInput, name: &str) -> String {
    input.message_attributes().unwrap()[name]
        .string_value()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_oversized_run_is_stopped_and_notified_once_naming_the_job_the_run_and_who() {
    let (job, tags, run) = (
        get_job(),
        get_tags(),
        get_job_run(JobRunState::Running, 100),
    );
    let (stop, stops) = stop_accepted();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("enforce"),
        &[&job, &tags, &run, &stop],
        &[&publish],
        &[&claim, &mark],
    );
    let event = start_job_run(json!({"workerType": "G.8X", "numberOfWorkers": 100}));
    let report = job_report(handle(&guard, event).await.unwrap());

    assert_eq!(report.decision, Decision::Violation);
    assert_eq!(report.action, Action::Stop);
    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(
        report.rules,
        ["max_workers", "allowed_worker_types", "max_dpu"]
    );
    let stops = stops.lock().unwrap();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].job_name(), Some(JOB));
    assert_eq!(stops[0].job_run_ids(), [RUN]);

    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1, "exactly one notification");
    let subject = sent[0].subject().unwrap();
    assert!(
        subject.contains("Glue job daily-load run") && subject.ends_with("stopped"),
        "{subject}"
    );
    let body = testkit::mocked::published_text(&sent[0]);
    for needle in [
        "a job run that is out of bounds",
        "Job:       daily-load",
        &format!("Run:       {RUN}"),
        "arn:aws:sts::123456789012:assumed-role/Airflow/dag-run (from the StartJobRun event)",
        "max_workers: 100",
        "The job run was stopped",
    ] {
        assert!(body.contains(needle), "{needle:?} missing from:\n{body}");
    }
    assert_eq!(attribute(&sent[0], "job_run_id"), RUN);
    assert_eq!(attribute(&sent[0], "job_name"), JOB);
    assert_eq!((claim.num_calls(), mark.num_calls()), (1, 1));
}

#[tokio::test]
async fn audit_mode_notifies_and_never_stops() {
    let (job, tags, run) = (
        get_job(),
        get_tags(),
        get_job_run(JobRunState::Running, 100),
    );
    let (stop, stops) = stop_accepted();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("audit"),
        &[&job, &tags, &run, &stop],
        &[&publish],
        &[&claim, &mark],
    );
    let report = job_report(handle(&guard, start_job_run(json!({}))).await.unwrap());
    assert_eq!(report.action, Action::Notify);
    assert_eq!(report.outcome, Outcome::NotStopped);
    assert!(stops.lock().unwrap().is_empty(), "audit never stops");
    assert_eq!(sent.lock().unwrap().len(), 1);
    assert!(
        sent.lock().unwrap()[0]
            .subject()
            .unwrap()
            .contains("NOT stopped (audit)")
    );
}

#[tokio::test]
async fn a_compliant_run_is_left_alone_without_a_word() {
    let (job, tags) = (get_job(), get_tags());
    let fixed_type = mock!(aws_sdk_glue::Client::get_job_run).then_output(|| {
        GetJobRunOutput::builder()
            .job_run(
                JobRun::builder()
                    .id(RUN)
                    .job_name(JOB)
                    .job_run_state(JobRunState::Running)
                    .build(),
            )
            .build()
    });
    let (stop, stops) = stop_accepted();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("enforce"),
        &[&job, &tags, &fixed_type, &stop],
        &[&publish],
        &[&claim, &mark],
    );
    let report = job_report(handle(&guard, start_job_run(json!({}))).await.unwrap());
    assert_eq!(report.decision, Decision::Compliant, "{report:?}");
    assert_eq!(report.outcome, Outcome::LeftAlone);
    assert!(stops.lock().unwrap().is_empty());
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_run_that_ended_before_the_stop_is_reported_as_ended() {
    let (job, tags) = (get_job(), get_tags());
    // Running when first looked at; SUCCEEDED when looked at again after Glue refused the stop.
    let run = mock!(aws_sdk_glue::Client::get_job_run)
        .sequence()
        .output(|| {
            GetJobRunOutput::builder()
                .job_run(
                    JobRun::builder()
                        .id(RUN)
                        .job_name(JOB)
                        .job_run_state(JobRunState::Running)
                        .worker_type(WorkerType::G8X)
                        .number_of_workers(100)
                        .build(),
                )
                .build()
        })
        .output(|| {
            GetJobRunOutput::builder()
                .job_run(
                    JobRun::builder()
                        .id(RUN)
                        .job_name(JOB)
                        .job_run_state(JobRunState::Succeeded)
                        .build(),
                )
                .build()
        })
        .build();
    let stop = stop_refused();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("enforce"),
        &[&job, &tags, &run, &stop],
        &[&publish],
        &[&claim, &mark],
    );
    let report = job_report(handle(&guard, start_job_run(json!({}))).await.unwrap());
    assert_eq!(report.outcome, Outcome::AlreadyEnded("SUCCEEDED".into()));
    assert_eq!(sent.lock().unwrap().len(), 1);
    assert!(
        sent.lock().unwrap()[0]
            .subject()
            .unwrap()
            .ends_with("already succeeded")
    );
}

#[tokio::test]
async fn a_run_glue_would_not_stop_fails_the_invocation_for_a_retry_and_notifies_nothing() {
    let (job, tags, run) = (
        get_job(),
        get_tags(),
        get_job_run(JobRunState::Running, 100),
    );
    let stop = stop_refused();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("enforce"),
        &[&job, &tags, &run, &stop],
        &[&publish],
        &[&claim, &mark],
    );
    let failure = handle(&guard, start_job_run(json!({}))).await.unwrap_err();
    assert!(
        matches!(failure, GuardError::NotStopped { .. }),
        "{failure}"
    );
    assert_eq!(failure.retry(), Retry::Retryable);
    assert!(
        failure.to_string().contains("not in a stoppable state"),
        "{failure}"
    );
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_duplicate_event_finds_the_run_stopping_and_does_not_notify_again() {
    let (job, tags, run) = (
        get_job(),
        get_tags(),
        get_job_run(JobRunState::Stopping, 100),
    );
    let (stop, _) = stop_accepted();
    let (publish, sent) = publish_recorded();
    // The ledger: the claim is taken, and its item says `sent`.
    let claim = mock!(aws_sdk_dynamodb::Client::put_item).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(CONDITION_FAILED),
        )
    });
    let item = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
            .item(
                "state",
                aws_sdk_dynamodb::types::AttributeValue::S("sent".into()),
            )
            .build()
    });
    let guard = guard(
        policy_in("enforce"),
        &[&job, &tags, &run, &stop],
        &[&publish],
        &[&claim, &item],
    );
    let report = job_report(handle(&guard, start_job_run(json!({}))).await.unwrap());
    assert_eq!(report.outcome, Outcome::AlreadyEnded("STOPPING".into()));
    assert_eq!(report.notification, Notification::AlreadySent);
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_oversized_definition_is_reported_never_changed() {
    let job = mock!(aws_sdk_glue::Client::get_job).then_output(|| {
        GetJobOutput::builder()
            .job(
                Job::builder()
                    .name("huge")
                    .command(JobCommand::builder().name("glueetl").build())
                    .glue_version("5.0")
                    .worker_type(WorkerType::G8X)
                    .number_of_workers(80)
                    .timeout(60)
                    .connections(ConnectionsList::builder().connections("vpc-a").build())
                    .build(),
            )
            .build()
    });
    let tags = get_tags();
    let (stop, stops) = stop_accepted();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("enforce"),
        &[&job, &tags, &stop],
        &[&publish],
        &[&claim, &mark],
    );
    let event = record(
        "CreateJob",
        json!({"name": "huge", "command": {"name": "glueetl"}, "workerType": "G.8X",
               "numberOfWorkers": 80, "glueVersion": "5.0", "timeout": 60}),
        json!({"name": "huge"}),
    );
    let report = job_report(handle(&guard, event).await.unwrap());
    assert_eq!(report.decision, Decision::Violation);
    assert_eq!(report.action, Action::Notify);
    assert_eq!(report.outcome, Outcome::Reported);
    assert_eq!(report.job_run_id, None);
    assert!(
        stops.lock().unwrap().is_empty(),
        "a definition is never changed"
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .subject()
            .unwrap()
            .contains("Glue job huge definition")
    );
    assert!(
        testkit::mocked::published_text(&sent[0])
            .contains("(from the CreateJob or UpdateJob event)")
    );
}

#[tokio::test]
async fn a_job_deleted_before_the_event_is_judged_from_the_record() {
    let gone = mock!(aws_sdk_glue::Client::get_job).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"EntityNotFoundException","Message":"Job not found"}"#,
            ),
        )
    });
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let guard = guard(
        policy_in("enforce"),
        &[&gone],
        &[&publish],
        &[&claim, &mark],
    );
    let event = record(
        "UpdateJob",
        json!({"jobName": "gone", "jobUpdate": {"command": {"name": "glueetl"},
               "workerType": "G.1X", "numberOfWorkers": 500, "timeout": 60,
               "connections": {"connections": ["vpc-a"]}}}),
        json!({"jobName": "gone"}),
    );
    let report = job_report(handle(&guard, event).await.unwrap());
    assert_eq!(report.rules, ["max_workers", "max_dpu"]);
    assert_eq!(sent.lock().unwrap().len(), 1);
}

/// The sweep's answers: no session, one job, its runs as given, and CloudTrail with `records`.
fn sweep_rules(runs: Vec<JobRun>) -> (Rule, Rule, Rule) {
    let sessions = mock!(aws_sdk_glue::Client::list_sessions).then_output(|| {
        aws_sdk_glue::operation::list_sessions::ListSessionsOutput::builder().build()
    });
    let jobs = mock!(aws_sdk_glue::Client::list_jobs).then_output(|| {
        aws_sdk_glue::operation::list_jobs::ListJobsOutput::builder()
            .job_names(JOB)
            .build()
    });
    let listed = mock!(aws_sdk_glue::Client::get_job_runs).then_output(move || {
        aws_sdk_glue::operation::get_job_runs::GetJobRunsOutput::builder()
            .set_job_runs(Some(runs.clone()))
            .build()
    });
    (sessions, jobs, listed)
}

fn running_run(id: &str, trigger: Option<&str>) -> JobRun {
    JobRun::builder()
        .id(id)
        .job_name(JOB)
        .job_run_state(JobRunState::Running)
        .worker_type(WorkerType::G8X)
        .number_of_workers(100)
        .started_on(aws_sdk_glue::primitives::DateTime::from(
            std::time::SystemTime::now(),
        ))
        .set_trigger_name(trigger.map(str::to_string))
        .build()
}

fn sweep_event() -> LambdaEvent<Value> {
    LambdaEvent::new(
        testkit::events::scheduled("us-east-1"),
        testkit::context("req-sweep", "us-east-1", Duration::from_secs(60)),
    )
}

fn jobs_of(response: Response) -> glue_session_guard_lambda::job::JobSweepReport {
    match response {
        Response::Sweep(report) => report.jobs.expect("the policy guards jobs"),
        other => panic!("expected a sweep, got {other:?}"),
    }
}

/// With an exemption in the policy, a young run whose starter CloudTrail does not show yet is
/// left to the next sweep (the starter could be exempt); one a trigger started has no starter
/// and is stopped; one whose record names an exempt principal is logged, never stopped.
#[tokio::test]
async fn the_sweep_stops_what_a_trigger_started_and_waits_for_the_starter_of_the_rest() {
    let text =
        format!("{POLICY}exempt_principals: [\"arn:aws:iam::123456789012:role/BreakGlass\"]\n");
    let policy = policy::load_policy("p.yaml", text.as_bytes()).unwrap();
    let (sessions, jobs, listed) = sweep_rules(vec![
        running_run("jr_trigger", Some("hourly")),
        running_run("jr_unknown", None),
        running_run("jr_exempt", None),
    ]);
    let exempt_start = json!({
        "eventSource": "glue.amazonaws.com", "eventName": "StartJobRun",
        "userIdentity": {"arn": "arn:aws:sts::123456789012:assumed-role/BreakGlass/ops",
                         "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/BreakGlass"}}},
        "requestParameters": {"jobName": JOB}, "responseElements": {"jobRunId": "jr_exempt"}
    });
    let records = testkit::mocked::trail(vec![exempt_start]);
    let (job, tags) = (get_job(), get_tags());
    let (stop, stops) = stop_accepted_any();
    let (publish, sent) = publish_recorded();
    let (claim, mark) = ledger_grants();
    let mut guard = guard_with_trail(
        policy,
        &[&sessions, &jobs, &listed, &job, &tags, &stop],
        &[&publish],
        &[&claim, &mark],
        &[&records],
    );
    guard.timing.cloudtrail_lag = Duration::from_secs(15 * 60);
    let report = jobs_of(handle(&guard, sweep_event()).await.unwrap());

    let outcome = |id: &str| {
        let run = report
            .runs
            .iter()
            .find(|run| run.job_run_id.as_deref() == Some(id))
            .unwrap();
        (run.decision, run.outcome.clone())
    };
    assert_eq!(
        outcome("jr_trigger"),
        (Decision::Violation, Outcome::Stopped)
    );
    assert_eq!(
        outcome("jr_unknown"),
        (Decision::Violation, Outcome::Deferred)
    );
    assert_eq!(outcome("jr_exempt"), (Decision::Exempt, Outcome::LeftAlone));
    let stopped: Vec<Vec<String>> = stops
        .lock()
        .unwrap()
        .iter()
        .map(|input| input.job_run_ids().to_vec())
        .collect();
    assert_eq!(stopped, [vec!["jr_trigger".to_string()]]);
    assert_eq!(sent.lock().unwrap().len(), 1);
    assert!(
        sent.lock().unwrap()[0]
            .message()
            .unwrap()
            .contains("Found by:  the scheduled sweep")
    );
}

/// `BatchStopJobRun` accepted for whichever run it is asked to stop.
fn stop_accepted_any() -> (Rule, Arc<Mutex<Vec<BatchStopJobRunInput>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let last = Arc::new(Mutex::new(String::new()));
    let asked = last.clone();
    let rule = mock!(aws_sdk_glue::Client::batch_stop_job_run)
        .match_requests(move |input| {
            record.lock().unwrap().push(input.clone());
            *asked.lock().unwrap() = input.job_run_ids()[0].clone();
            true
        })
        .then_output(move || {
            BatchStopJobRunOutput::builder()
                .successful_submissions(
                    BatchStopJobRunSuccessfulSubmission::builder()
                        .job_name(JOB)
                        .job_run_id(last.lock().unwrap().clone())
                        .build(),
                )
                .build()
        });
    (rule, seen)
}
