//! The handler against a real moto server: sessions created in the emulator, real-shaped
//! EventBridge events, the session's state read back from the emulator, and the notification
//! read through an SQS queue subscribed to the topic (and to a central topic in another region).
//! The notification ledger is a real DynamoDB table in moto, so its conditional writes decide as
//! they do on AWS.

use std::ops::Deref;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use glue_session_guard_lambda::report::{Creator, Notification, Outcome};
use glue_session_guard_lambda::sweep::SweepReport;
use glue_session_guard_lambda::{Guard, GuardError, Response, handle};
use lambda_runtime::{Context, LambdaEvent};
use policy::{Decision, EnforcementAction, Mode};
use serde_json::{Value, json};
use testkit::{CreateSession, Inbox, MotoServer, NewSession, Resources, events, policy};

/// One test's world: its own region in moto, a topic, a queue subscribed to it and the ledger
/// table (`testkit::World`), and what these tests do in it.
struct World(testkit::World);

impl Deref for World {
    type Target = testkit::World;

    fn deref(&self) -> &testkit::World {
        &self.0
    }
}

impl World {
    async fn new(region: &'static str) -> World {
        let names = Resources {
            topic: "gsg-notifications",
            queue: "gsg-inbox",
            ledger_table: "gsg-ledger",
        };
        World(testkit::World::new(MotoServer::Shared, region, names).await)
    }

    /// Runs the scheduled sweep over this world's region.
    async fn sweep(&self, guard: &Guard) -> SweepReport {
        let event = events::scheduled(&self.region);
        match handle(guard, LambdaEvent::new(event, self.context())).await {
            Ok(Response::Sweep(report)) => report,
            other => panic!("expected a sweep report, got {other:?}"),
        }
    }

    /// Creates a session of 50 G.8X workers in moto (its reply is empty: the id is ours).
    async fn create_session(&self, id: &str, glue_version: &str) {
        let session = NewSession {
            id,
            worker_type: "G.8X",
            workers: 50,
            glue_version,
            owner: "alice",
        };
        self.0.create_session(&session).await;
    }

    /// The CloudTrail record of that creation by an assumed role, in its EventBridge envelope.
    fn event(&self, id: &str, role: &str) -> LambdaEvent<Value> {
        CreateSession::fixture()
            .in_region(&self.region)
            .by(role, "someone")
            .of_session(id)
            .with(self.context())
    }

    fn context(&self) -> Context {
        events::context("moto-test", &self.region, Duration::from_secs(30))
    }

    /// The `(key, state)` of the session's ledger items.
    async fn ledger(&self, id: &str) -> Vec<(String, String)> {
        self.ledger_items().await.remove(id).unwrap_or_default()
    }

    /// Writes a ledger item as another invocation would have left it.
    async fn claimed_elsewhere(&self, key: &str, id: &str, state: &str, lease_until: SystemTime) {
        let seconds = lease_until
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.dynamodb
            .put_item()
            .table_name(&self.ledger_table)
            .item("session", AttributeValue::S(key.to_string()))
            .item("session_id", AttributeValue::S(id.to_string()))
            .item("state", AttributeValue::S(state.to_string()))
            .item("owner", AttributeValue::S("another-invocation".to_string()))
            .item("lease_until", AttributeValue::N(seconds.to_string()))
            .send()
            .await
            .unwrap();
    }

    /// The ledger key of the session's `enforce` notification, from its creation time in moto.
    async fn ledger_key(&self, id: &str) -> String {
        let session = self.glue.get_session().id(id).send().await.unwrap();
        let created = session.session.unwrap().created_on.unwrap();
        format!("{id}@{}/enforce", created.to_millis().unwrap())
    }
}

fn attribute<'a>(notification: &'a Value, name: &str) -> &'a str {
    notification["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
}

fn session_report(response: Response) -> glue_session_guard_lambda::report::SessionReport {
    match response {
        Response::Session(report) => report,
        other => panic!("expected a session report, got {other:?}"),
    }
}

#[tokio::test]
async fn enforce_stops_the_session_notifies_once_and_ignores_the_duplicate() {
    let world = World::new("us-east-2").await;
    world.create_session("nb-enforce", "4.0").await;
    let guard = world.guard(policy());

    let report = session_report(
        handle(&guard, world.event("nb-enforce", "Analyst"))
            .await
            .unwrap(),
    );

    assert_eq!(
        (report.decision, report.outcome.clone()),
        (Decision::Violation, Outcome::Stopped)
    );
    assert_eq!(
        world.status("nb-enforce").await.as_deref(),
        Some("STOPPING")
    );
    let key = world.ledger_key("nb-enforce").await;
    assert_eq!(
        world.ledger("nb-enforce").await,
        [(key, "sent".to_string())]
    );
    let notifications = world.notifications().await;
    assert_eq!(notifications.len(), 1);
    let notification = &notifications[0];
    assert_eq!(
        notification["Subject"],
        "[glue-session-guard] Glue session nb-enforce out of bounds: stopped"
    );
    let body = notification["Message"].as_str().unwrap();
    assert!(body.contains("Session:   nb-enforce"), "{body}");
    assert!(body.contains("assumed-role/Analyst/someone"), "{body}");
    assert!(body.contains("max_workers: 50 (limit: 10)"), "{body}");
    assert!(body.contains("The session was stopped"), "{body}");
    assert_eq!(attribute(notification, "decision"), "violation");
    assert_eq!(attribute(notification, "session_id"), "nb-enforce");
    assert_eq!(
        attribute(notification, "principal"),
        "arn:aws:sts::123456789012:assumed-role/Analyst/someone"
    );

    // EventBridge delivers the same event again.
    let again = session_report(
        handle(&guard, world.event("nb-enforce", "Analyst"))
            .await
            .unwrap(),
    );
    assert_eq!(again.outcome, Outcome::AlreadyEnded("STOPPING".to_string()));
    assert_eq!(again.notification, Notification::AlreadySent);
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn audit_mode_notifies_and_leaves_the_session_running() {
    let world = World::new("us-west-1").await;
    world.create_session("nb-audit", "4.0").await;
    let mut policy = policy();
    policy.enforcement.mode = Mode::Audit;
    let guard = world.guard(policy);

    let report = session_report(
        handle(&guard, world.event("nb-audit", "Analyst"))
            .await
            .unwrap(),
    );

    assert_eq!(report.outcome, Outcome::NotStopped);
    assert_eq!(world.status("nb-audit").await.as_deref(), Some("READY"));
    let notifications = world.notifications().await;
    assert_eq!(notifications.len(), 1);
    assert!(
        notifications[0]["Message"]
            .as_str()
            .unwrap()
            .contains("The session was NOT stopped")
    );
    assert!(
        notifications[0]["Subject"]
            .as_str()
            .unwrap()
            .ends_with("NOT stopped (audit)")
    );
}

#[tokio::test]
async fn delete_stops_then_deletes_the_session() {
    let world = World::new("us-west-2").await;
    world.create_session("nb-delete", "4.0").await;
    let mut policy = policy();
    policy.enforcement.action = EnforcementAction::Delete;
    let guard = world.guard(policy);

    let report = session_report(
        handle(&guard, world.event("nb-delete", "Analyst"))
            .await
            .unwrap(),
    );

    assert!(report.deleted);
    assert_eq!(world.status("nb-delete").await, None);
    let notifications = world.notifications().await;
    assert_eq!(notifications.len(), 1);
    assert!(
        notifications[0]["Subject"]
            .as_str()
            .unwrap()
            .ends_with("stopped and deleted")
    );

    // A retry after the deletion: the session is gone, which is logged, not an error.
    let again = session_report(
        handle(&guard, world.event("nb-delete", "Analyst"))
            .await
            .unwrap(),
    );
    assert_eq!(again.outcome, Outcome::Gone);
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn exempt_and_overridden_creators_keep_their_sessions() {
    let world = World::new("eu-west-1").await;
    world.create_session("nb-breakglass", "4.0").await;
    world.create_session("nb-admin", "4.0").await;
    let guard = world.guard(policy());

    let exempt = session_report(
        handle(&guard, world.event("nb-breakglass", "BreakGlass"))
            .await
            .unwrap(),
    );
    let admin = session_report(
        handle(&guard, world.event("nb-admin", "DataPlatformAdmin"))
            .await
            .unwrap(),
    );

    assert_eq!(exempt.decision, Decision::Exempt);
    assert_eq!(admin.decision, Decision::Compliant);
    assert_eq!(admin.override_name.as_deref(), Some("platform-admins"));
    assert_eq!(
        world.status("nb-breakglass").await.as_deref(),
        Some("READY")
    );
    assert_eq!(world.status("nb-admin").await.as_deref(), Some("READY"));
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn events_that_are_not_a_created_session_are_ignored() {
    let world = World::new("eu-west-2").await;
    world.create_session("nb-ignored", "4.0").await;
    let guard = world.guard(policy());
    let mut failed = world.event("nb-ignored", "Analyst");
    failed.payload["detail"]["errorCode"] = json!("ValidationException");
    let mut other = world.event("nb-ignored", "Analyst");
    other.payload["detail"]["eventName"] = json!("GetSession");

    for event in [failed, other] {
        let response = handle(&guard, event).await.unwrap();
        assert!(matches!(response, Response::Ignored { .. }), "{response:?}");
    }

    assert_eq!(world.status("nb-ignored").await.as_deref(), Some("READY"));
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn the_sweep_stops_a_session_whose_event_never_came() {
    let world = World::new("ap-southeast-2").await;
    world.create_session("nb-missed", "3.0").await;
    world.create_session("nb-already-stopped", "3.0").await;
    world
        .glue
        .stop_session()
        .id("nb-already-stopped")
        .send()
        .await
        .unwrap();
    let guard = world.guard(policy());

    let sweep = world.sweep(&guard).await;

    assert_eq!((sweep.listed, sweep.judged), (2, 1));
    let report = &sweep.sessions[0];
    assert_eq!(report.session_id, "nb-missed");
    assert_eq!(
        (report.decision, report.creator),
        (Decision::Violation, Creator::Unknown)
    );
    assert!(
        report.rules.contains(&"allowed_glue_versions".to_string()),
        "{:?}",
        report.rules
    );
    assert_eq!(world.status("nb-missed").await.as_deref(), Some("STOPPING"));
    let notifications = world.notifications().await;
    assert_eq!(notifications.len(), 1);
    let body = notifications[0]["Message"].as_str().unwrap();
    assert!(body.contains("Found by:  the scheduled sweep"), "{body}");
    assert!(body.contains("judged by the default boundaries"), "{body}");
    assert_eq!(attribute(&notifications[0], "principal"), "unknown");

    // The next sweep finds nothing running.
    let next = world.sweep(&guard).await;
    assert_eq!(next.judged, 0);
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn copies_of_one_event_handled_at_once_stop_and_notify_exactly_once() {
    let world = World::new("ap-northeast-1").await;
    world.create_session("nb-race", "4.0").await;
    let guard = world.guard(policy());

    // Eight invocations with the same event, all at the same moment (EventBridge duplicates
    // and Lambda retries do this): only the ledger's conditional write can pick one notifier.
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (guard, event) = (guard.clone(), world.event("nb-race", "Analyst"));
            tokio::spawn(async move { handle(&guard, event).await })
        })
        .collect();
    let mut reports = Vec::new();
    for copy in copies {
        reports.push(session_report(copy.await.unwrap().unwrap()));
    }

    let stopped = reports
        .iter()
        .filter(|r| r.outcome == Outcome::Stopped)
        .count();
    let sent = reports
        .iter()
        .filter(|r| r.notification == Notification::Sent)
        .count();
    let already = reports
        .iter()
        .filter(|r| r.notification == Notification::AlreadySent)
        .count();
    assert_eq!((stopped, sent, already), (1, 1, 7), "{reports:#?}");
    assert_eq!(world.status("nb-race").await.as_deref(), Some("STOPPING"));
    assert_eq!(world.notifications().await.len(), 1);
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn the_sweep_after_an_audit_notification_sends_nothing_more() {
    let world = World::new("ap-south-1").await;
    world.create_session("nb-audit-swept", "3.0").await;
    let mut policy = policy();
    policy.enforcement.mode = Mode::Audit;
    let guard = world.guard(policy);

    let report = session_report(
        handle(&guard, world.event("nb-audit-swept", "Analyst"))
            .await
            .unwrap(),
    );
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(world.notifications().await.len(), 1);

    // The session keeps running (audit mode), so every sweep finds it again.
    for _ in 0..2 {
        let sweep = world.sweep(&guard).await;
        assert_eq!(sweep.judged, 1);
        assert_eq!(sweep.sessions[0].notification, Notification::AlreadySent);
    }
    assert_eq!(
        world.status("nb-audit-swept").await.as_deref(),
        Some("READY")
    );
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn a_claim_left_by_an_invocation_that_died_is_taken_over() {
    let world = World::new("sa-east-1").await;
    world.create_session("nb-orphan", "4.0").await;
    world.create_session("nb-held", "4.0").await;
    let guard = world.guard(policy());
    let ended = SystemTime::now() - Duration::from_secs(60);
    let key = world.ledger_key("nb-orphan").await;
    world
        .claimed_elsewhere(&key, "nb-orphan", "sending", ended)
        .await;

    let report = session_report(
        handle(&guard, world.event("nb-orphan", "Analyst"))
            .await
            .unwrap(),
    );

    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(world.notifications().await.len(), 1);
    assert_eq!(world.ledger("nb-orphan").await, [(key, "sent".to_string())]);

    // A claim whose holder may still be running is waited for, never overridden: with nothing
    // sent by the end of the budget, the invocation fails as retryable (after the stop).
    let held_until = SystemTime::now() + Duration::from_secs(600);
    let key = world.ledger_key("nb-held").await;
    world
        .claimed_elsewhere(&key, "nb-held", "sending", held_until)
        .await;
    let mut event = world.event("nb-held", "Analyst");
    event.context.deadline = (SystemTime::now() + Duration::from_millis(500))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let failure = handle(&guard, event).await.unwrap_err();
    assert!(
        matches!(failure, GuardError::NotificationInFlight { .. }),
        "{failure}"
    );
    assert_eq!(world.status("nb-held").await.as_deref(), Some("STOPPING"));
    assert!(world.notifications().await.is_empty());
    assert_eq!(
        world.ledger("nb-held").await,
        [(key, "sending".to_string())]
    );
}

#[tokio::test]
async fn a_central_topic_in_another_region_gets_each_notification_once_as_well() {
    let world = World::new("eu-west-3").await;
    // The organization's central topic, in another region (of the same moto account).
    let central = Inbox::new(
        MotoServer::Shared,
        "eu-north-1",
        "gsg-central-notifications",
        "gsg-central-inbox",
    )
    .await;
    world.create_session("nb-central", "4.0").await;
    let mut guard = world.guard(policy());
    guard.settings.central_topic_arn = Some(central.topic_arn.clone());

    let report = session_report(
        handle(&guard, world.event("nb-central", "Analyst"))
            .await
            .unwrap(),
    );

    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::Sent);
    let own = world.take_notifications().await;
    let central_copies = central.take_notifications().await;
    assert_eq!((own.len(), central_copies.len()), (1, 1));
    let (own, copy) = (&own[0], &central_copies[0]);
    assert_eq!(copy["TopicArn"], central.topic_arn.as_str());
    assert_eq!(own["TopicArn"], world.topic_arn.as_str());
    assert_eq!(
        copy["Subject"],
        "[glue-session-guard] Glue session nb-central out of bounds: stopped"
    );
    assert_eq!(copy["Subject"], own["Subject"]);
    assert_eq!(copy["Message"], own["Message"]);
    assert_eq!(copy["MessageAttributes"], own["MessageAttributes"]);
    assert_eq!(attribute(copy, "account"), testkit::ACCOUNT);
    assert_eq!(attribute(copy, "region"), "eu-west-3");
    let body = copy["Message"].as_str().unwrap();
    assert!(
        body.contains("Account:   123456789012, Region: eu-west-3"),
        "{body}"
    );
    // One ledger item per topic, both sent; the own topic's key as before.
    let key = world.ledger_key("nb-central").await;
    let mut items = world.ledger("nb-central").await;
    items.sort();
    assert_eq!(
        items,
        [
            (key.clone(), "sent".to_string()),
            (format!("{key}/central"), "sent".to_string())
        ]
    );

    // EventBridge delivers the same event again: nothing more in either inbox.
    let again = session_report(
        handle(&guard, world.event("nb-central", "Analyst"))
            .await
            .unwrap(),
    );
    assert_eq!(again.notification, Notification::AlreadySent);
    assert!(world.notifications().await.is_empty());
    assert!(central.notifications().await.is_empty());
}

/// A job run whose `StartJobRun` event never came is found by the sweep (moto lists jobs and
/// their runs; it has no `BatchStopJobRun`, so this guard is in audit mode: the stop itself is
/// tested with mocked answers in `tests/jobs.rs`). moto's job runs finish on their first read
/// unless told otherwise, so the run is held `STARTING` with moto's state manager; moto reports
/// every run's `GlueVersion` as 0.9, which the policy here does not limit.
#[tokio::test]
async fn the_sweep_finds_a_job_run_whose_event_never_came_and_notifies_once() {
    use aws_sdk_glue::types::{ConnectionsList, JobCommand, WorkerType};
    let world = World::new("ap-northeast-2").await;
    MotoServer::Shared.set_transition(
        "glue::job_run",
        json!({"progression": "manual", "times": 1000}),
    );
    let job = |name: &'static str, workers: i32| {
        world
            .glue
            .create_job()
            .name(name)
            .role("arn:aws:iam::123456789012:role/GlueJobRole")
            .command(
                JobCommand::builder()
                    .name("glueetl")
                    .script_location("s3://b/s.py")
                    .build(),
            )
            .glue_version("5.0")
            .worker_type(WorkerType::G2X)
            .number_of_workers(workers)
            .timeout(60)
            .connections(ConnectionsList::builder().connections("vpc-a").build())
            .tags("owner", "data")
            .send()
    };
    job("missed-big", 80).await.unwrap();
    job("small", 4).await.unwrap();
    for name in ["missed-big", "small"] {
        world
            .glue
            .start_job_run()
            .job_name(name)
            .send()
            .await
            .unwrap();
    }
    let text = r#"
version: 1
stack: {name: glue-session-guard}
enforcement: {mode: audit}
boundaries: {max_workers: 10}
jobs:
  boundaries: {max_workers: 50, max_dpu: 100, require_vpc_connection: true, required_tags: [owner]}
"#;
    let guard = world.guard(policy::load_policy("jobs.yaml", text.as_bytes()).unwrap());

    let sweep = world.sweep(&guard).await;
    let jobs = sweep.jobs.expect("the policy guards jobs");
    assert_eq!(
        (jobs.jobs_listed, jobs.jobs_swept, jobs.jobs_not_swept),
        (2, 2, 0)
    );
    assert_eq!(jobs.runs_judged, 2);
    let big = jobs
        .runs
        .iter()
        .find(|run| run.job_name == "missed-big")
        .unwrap();
    assert_eq!(big.decision, Decision::Violation);
    assert_eq!(big.rules, ["max_workers", "max_dpu"]);
    assert_eq!(big.outcome, Outcome::NotStopped);
    assert_eq!(big.notification, Notification::Sent);
    let small = jobs
        .runs
        .iter()
        .find(|run| run.job_name == "small")
        .unwrap();
    assert_eq!(small.decision, Decision::Compliant);

    let notifications = world.take_notifications().await;
    assert_eq!(notifications.len(), 1);
    let body = notifications[0]["Message"].as_str().unwrap();
    assert!(body.contains("Job:       missed-big"), "{body}");
    assert!(body.contains("Found by:  the scheduled sweep"), "{body}");
    assert_eq!(attribute(&notifications[0], "job_name"), "missed-big");

    // The next sweep finds the run still going, and the ledger keeps it to one notification.
    let next = world.sweep(&guard).await;
    assert_eq!(next.jobs.unwrap().runs_judged, 2);
    assert!(world.take_notifications().await.is_empty());
}

/// Copies of one `StartJobRun` event handled at once: the ledger (a real DynamoDB table in moto,
/// its conditional writes deciding as on AWS) lets exactly one invocation notify, through moto's
/// SNS. moto has no `BatchStopJobRun`, so Glue's answers here (the job, its tags, the run
/// RUNNING, the stop accepted for each copy, as Glue accepts a stop of a stopping run) come
/// from `aws-smithy-mocks`.
#[tokio::test]
async fn copies_of_one_job_run_event_handled_at_once_notify_exactly_once() {
    use aws_sdk_glue::operation::batch_stop_job_run::BatchStopJobRunOutput;
    use aws_sdk_glue::operation::get_job::GetJobOutput;
    use aws_sdk_glue::operation::get_job_run::GetJobRunOutput;
    use aws_sdk_glue::operation::get_tags::GetTagsOutput;
    use aws_sdk_glue::types::{
        BatchStopJobRunSuccessfulSubmission, ConnectionsList, Job, JobCommand, JobRun, JobRunState,
        WorkerType,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let world = World::new("ap-southeast-1").await;
    let text = "version: 1\nstack: {name: glue-session-guard}\nboundaries: {max_workers: 10}\n\
                jobs:\n  boundaries: {max_workers: 50}\n";
    let mut guard = world.guard(policy::load_policy("jobs.yaml", text.as_bytes()).unwrap());
    let job = mock!(aws_sdk_glue::Client::get_job).then_output(|| {
        GetJobOutput::builder()
            .job(
                Job::builder()
                    .name("race")
                    .command(JobCommand::builder().name("glueetl").build())
                    .glue_version("5.0")
                    .worker_type(WorkerType::G2X)
                    .number_of_workers(10)
                    .connections(ConnectionsList::builder().connections("vpc-a").build())
                    .build(),
            )
            .build()
    });
    let tags = mock!(aws_sdk_glue::Client::get_tags)
        .then_output(|| GetTagsOutput::builder().tags("owner", "data").build());
    let run = mock!(aws_sdk_glue::Client::get_job_run).then_output(|| {
        GetJobRunOutput::builder()
            .job_run(
                JobRun::builder()
                    .id("jr_race")
                    .job_name("race")
                    .job_run_state(JobRunState::Running)
                    .worker_type(WorkerType::G2X)
                    .number_of_workers(120)
                    .build(),
            )
            .build()
    });
    let stop = mock!(aws_sdk_glue::Client::batch_stop_job_run).then_output(|| {
        BatchStopJobRunOutput::builder()
            .successful_submissions(
                BatchStopJobRunSuccessfulSubmission::builder()
                    .job_name("race")
                    .job_run_id("jr_race")
                    .build(),
            )
            .build()
    });
    guard.glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&job, &tags, &run, &stop]);
    let event = json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.glue", "account": "123456789012", "region": world.region,
        "detail": {
            "eventSource": "glue.amazonaws.com", "eventName": "StartJobRun",
            "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
            "requestParameters": {"jobName": "race", "numberOfWorkers": 120},
            "responseElements": {"jobRunId": "jr_race"}
        }
    });
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (guard, event) = (
                guard.clone(),
                LambdaEvent::new(event.clone(), world.context()),
            );
            tokio::spawn(async move { handle(&guard, event).await })
        })
        .collect();
    let mut notifications = Vec::new();
    for copy in copies {
        match copy.await.unwrap().unwrap() {
            Response::Job(report) => {
                assert_eq!(report.outcome, Outcome::Stopped);
                notifications.push(report.notification);
            }
            other => panic!("expected a job report, got {other:?}"),
        }
    }
    let sent = notifications
        .iter()
        .filter(|n| **n == Notification::Sent)
        .count();
    let already = notifications
        .iter()
        .filter(|n| **n == Notification::AlreadySent)
        .count();
    assert_eq!((sent, already), (1, 7), "{notifications:?}");
    assert_eq!(
        stop.num_calls(),
        8,
        "each copy stops: the stop never waits on the ledger"
    );
    let delivered = world.take_notifications().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(attribute(&delivered[0], "job_run_id"), "jr_race");
}

#[tokio::test]
async fn the_sweep_reminds_of_each_exception_expiring_within_7_days_exactly_once() {
    let world = World::new("ap-northeast-3").await;
    let now = policy::time::unix_seconds(SystemTime::now());
    let at = |days: i64| policy::time::format_rfc3339(now + days * 86_400);
    let mut policy = policy();
    let template = policy.overrides[0].clone();
    for (name, days) in [("soon", 3), ("later", 30)] {
        let mut rule = template.clone();
        rule.name = name.to_string();
        rule.expires = Some(at(days));
        rule.ticket = Some("DATA-7".to_string());
        policy.overrides.push(rule);
    }
    policy.exempt_principals.push(policy::Exemption {
        principal: "arn:aws:iam::*:role/Oncall".to_string(),
        expires: Some(at(2)),
        reason: Some("incident 42".to_string()),
        ticket: None,
    });
    let guard = world.guard(policy);

    // Four sweeps at once (an overlapping schedule, a retry), then one more: each reminder once.
    let sweeps: Vec<_> = (0..4)
        .map(|_| {
            let (guard, event) = (guard.clone(), events::scheduled(&world.region));
            let context = world.context();
            tokio::spawn(async move { handle(&guard, LambdaEvent::new(event, context)).await })
        })
        .collect();
    let mut sent = 0;
    for sweep in sweeps {
        let Ok(Response::Sweep(report)) = sweep.await.unwrap() else {
            panic!("a sweep report")
        };
        assert_eq!(report.reminders.len(), 2, "{:?}", report.reminders);
        sent += report
            .reminders
            .iter()
            .filter(|r| r.outcome == "sent")
            .count();
    }
    assert_eq!(sent, 2);
    let again = world.sweep(&guard).await;
    assert!(
        again.reminders.iter().all(|r| r.outcome == "already_sent"),
        "{:?}",
        again.reminders
    );

    let mut notifications = world.notifications().await;
    notifications.sort_by_key(|n| attribute(n, "exception").to_string());
    assert_eq!(notifications.len(), 2, "{notifications:#?}");
    assert_eq!(attribute(&notifications[0], "kind"), "reminder");
    assert_eq!(
        attribute(&notifications[0], "exception"),
        "arn:aws:iam::*:role/Oncall"
    );
    assert_eq!(attribute(&notifications[1], "exception"), "soon");
    assert_eq!(attribute(&notifications[1], "exception_kind"), "override");
    let body = notifications[1]["Message"].as_str().unwrap();
    assert!(
        body.contains(&format!(
            "override \"soon\" (overrides[1]) expires at {}",
            at(3)
        )),
        "{body}"
    );
    assert!(body.contains("ticket: DATA-7"), "{body}");
    assert!(world.notifications().await.is_empty());
}

#[tokio::test]
async fn notifications_reach_each_route_by_filter_policy_and_each_chat_topic_once() {
    let region = "eu-central-2";
    let world = World::new(region).await;
    let mut policy = policy();
    policy.notifications = Some(
        serde_json::from_value(json!({
            "emails": ["platform@example.com"],
            "slack": [{"workspace_id": "T0123ABCD", "channel_id": "C0123ABCDEF"}],
            "default_receives": "unrouted",
            "routes": [
                {"name": "analytics", "principals": ["arn:aws:iam::*:role/Analytics*"],
                 "emails": ["analytics@example.com"]},
                {"name": "finance", "tags": {"team": "finance"},
                 "teams": [{"tenant_id": "11111111-2222-3333-4444-555555555555",
                            "team_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                            "channel_id": "19:abc@thread.tacv2"}]}
            ]
        }))
        .unwrap(),
    );
    let routes = &policy.notifications.as_ref().unwrap().routes;
    // The e-mail subscriptions as the stack renders them (policy::routes), as SQS queues.
    let analytics = testkit::Inbox::filtered(
        MotoServer::Shared,
        region,
        "gsg-notifications",
        "gsg-analytics",
        Some(&policy::routes::route_filter_policy(&routes[0])),
    )
    .await;
    let default_list = testkit::Inbox::filtered(
        MotoServer::Shared,
        region,
        "gsg-notifications",
        "gsg-default-list",
        policy::routes::default_filter_policy(&policy).as_ref(),
    )
    .await;
    // The chat topics, by the names the stack gives them; a queue stands in for the channel.
    let chat_topic = |audience| policy::routes::chat_topic_name("glue-session-guard", audience);
    let chat_default = testkit::Inbox::filtered(
        MotoServer::Shared,
        region,
        &chat_topic("default"),
        "gsg-chat-default",
        None,
    )
    .await;
    let chat_finance = testkit::Inbox::filtered(
        MotoServer::Shared,
        region,
        &chat_topic("finance"),
        "gsg-chat-finance",
        None,
    )
    .await;
    let guard = world.guard(policy);

    let event = |id: &str, role: &str, tags: Value| {
        let mut payload = CreateSession::fixture()
            .in_region(region)
            .by(role, "someone")
            .of_session(id)
            .payload();
        payload["detail"]["requestParameters"]["tags"] = tags;
        LambdaEvent::new(payload, world.context())
    };
    for (id, role, tags) in [
        ("nb-analytics", "AnalyticsEngineer", json!({})),
        ("nb-finance", "Etl", json!({"team": "finance"})),
        ("nb-nobody", "Etl", json!({"team": "marketing"})),
    ] {
        world.create_session(id, "3.0").await;
        let report = session_report(handle(&guard, event(id, role, tags)).await.unwrap());
        assert_eq!(report.notification, Notification::Sent, "{report:?}");
    }

    let ids = |notifications: Vec<Value>| -> Vec<String> {
        let mut ids: Vec<String> = notifications
            .iter()
            .map(|n| attribute(n, "session_id").to_string())
            .collect();
        ids.sort();
        ids
    };
    // The unfiltered inbox hears everything; each filtered one only its own.
    assert_eq!(
        ids(world.notifications().await),
        ["nb-analytics", "nb-finance", "nb-nobody"]
    );
    assert_eq!(ids(analytics.notifications().await), ["nb-analytics"]);
    assert_eq!(ids(default_list.notifications().await), ["nb-nobody"]);
    assert_eq!(ids(chat_default.notifications().await), ["nb-nobody"]);
    assert_eq!(ids(chat_finance.notifications().await), ["nb-finance"]);
    // The routes attribute as SNS carries it: a String.Array.
    let routed = analytics.notifications().await;
    assert!(
        routed.is_empty(),
        "read once, nothing more arrives: {routed:?}"
    );

    // Handled again (a duplicate event): nothing more anywhere.
    let again = session_report(
        handle(
            &guard,
            event("nb-finance", "Etl", json!({"team": "finance"})),
        )
        .await
        .unwrap(),
    );
    assert_eq!(again.notification, Notification::AlreadySent);
    assert!(chat_finance.notifications().await.is_empty());
}
