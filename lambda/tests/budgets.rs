//! Team budgets in real time: sessions created at once, each judged by its own invocation, and
//! exactly those that take the budget over its cap stopped, each notified once.
//!
//! The holder registry and the notification ledger are a real DynamoDB table in moto (its
//! consistent reads and conditional writes decide as on AWS), the notifications go through
//! moto's SNS. Glue's answers come from `aws-smithy-mocks`: moto's `ListSessions` reports
//! sessions without their workers, and a budget is a sum of workers x DPUs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_glue::operation::batch_stop_job_run::BatchStopJobRunOutput;
use aws_sdk_glue::operation::get_job::GetJobOutput;
use aws_sdk_glue::operation::get_job_run::GetJobRunOutput;
use aws_sdk_glue::operation::get_job_runs::GetJobRunsOutput;
use aws_sdk_glue::operation::get_session::GetSessionOutput;
use aws_sdk_glue::operation::get_tags::GetTagsOutput;
use aws_sdk_glue::operation::list_sessions::ListSessionsOutput;
use aws_sdk_glue::operation::stop_session::{StopSessionInput, StopSessionOutput};
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::{
    BatchStopJobRunSuccessfulSubmission, ConnectionsList, Job, JobCommand, JobRun, JobRunState,
    Session, SessionCommand, SessionStatus, WorkerType,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use glue_session_guard_lambda::budget::{self, Registered};
use glue_session_guard_lambda::report::{JobReport, Notification, Outcome, SessionReport};
use glue_session_guard_lambda::{Guard, Response, handle};
use lambda_runtime::LambdaEvent;
use policy::Policy;
use policy::budgets::HolderKind;
use serde_json::Value;
use testkit::{MotoServer, Resources, events};

const POLICY: &str = r#"
version: 1
stack: {name: glue-session-guard}
boundaries: {max_workers: 60}
budgets:
  - name: analytics
    members: {principals: ["arn:aws:iam::*:role/AnalyticsTeam"]}
    max_concurrent_dpu: 100
"#;

fn policy_in(mode: &str) -> Policy {
    let text = format!("{POLICY}enforcement: {{mode: {mode}}}\n");
    policy::load_policy("budgets.yaml", text.as_bytes()).unwrap()
}

async fn world(region: &'static str) -> testkit::World {
    let names = Resources {
        topic: "gsg-notifications",
        queue: "gsg-inbox",
        ledger_table: "gsg-ledger",
    };
    testkit::World::new(MotoServer::Shared, region, names).await
}

/// A world of its own names in `region` (a region other tests use with `world`'s names).
async fn world_named(region: &'static str, prefix: &'static str) -> testkit::World {
    let leak =
        |what: &str| -> &'static str { Box::leak(format!("{prefix}-{what}").into_boxed_str()) };
    let names = Resources {
        topic: leak("notifications"),
        queue: leak("inbox"),
        ledger_table: leak("ledger"),
    };
    testkit::World::new(MotoServer::Shared, region, names).await
}

/// One session as Glue lists and gets it: `workers` x G.2X (2 DPUs each), READY.
fn session(id: &str, created: SystemTime, workers: i32) -> Session {
    Session::builder()
        .id(id)
        .status(SessionStatus::Ready)
        .created_on(DateTime::from(created))
        .command(SessionCommand::builder().name("glueetl").build())
        .worker_type(WorkerType::G2X)
        .number_of_workers(workers)
        .glue_version("5.0")
        .build()
}

/// Glue as the mocks answer: every session listed, each one's `GetSession`, and every stop
/// accepted and recorded.
fn glue(sessions: &[Session]) -> (Vec<Rule>, Arc<Mutex<Vec<StopSessionInput>>>) {
    let listed = sessions.to_vec();
    let mut rules = vec![
        mock!(aws_sdk_glue::Client::list_sessions).then_output(move || {
            ListSessionsOutput::builder()
                .set_sessions(Some(listed.clone()))
                .build()
        }),
    ];
    for one in sessions {
        let id = one.id().unwrap().to_string();
        let answer = one.clone();
        rules.push(
            mock!(aws_sdk_glue::Client::get_session)
                .match_requests(move |input| input.id() == Some(id.as_str()))
                .then_output(move || GetSessionOutput::builder().session(answer.clone()).build()),
        );
    }
    let stops = Arc::new(Mutex::new(Vec::new()));
    let recorded = stops.clone();
    rules.push(
        mock!(aws_sdk_glue::Client::stop_session)
            .match_requests(move |input| {
                recorded.lock().unwrap().push(input.clone());
                true
            })
            .then_output(|| StopSessionOutput::builder().build()),
    );
    (rules, stops)
}

fn guard_with(world: &testkit::World, policy: Policy, rules: &[Rule]) -> Guard {
    let mut guard = world.guard(policy);
    let rules: Vec<&Rule> = rules.iter().collect();
    guard.glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, rules.as_slice());
    guard
}

/// The `CreateSession` event of `id`, by `who` through the role `AnalyticsTeam`.
fn event(world: &testkit::World, id: &str, who: &str) -> LambdaEvent<Value> {
    testkit::CreateSession::fixture()
        .in_region(&world.region)
        .by("AnalyticsTeam", who)
        .of_session(id)
        .with(events::context(
            &format!("req-{id}"),
            &world.region,
            Duration::from_secs(30),
        ))
}

/// Each session's event handled by its own invocation, all at once.
async fn all_at_once(guard: &Guard, world: &testkit::World, ids: &[String]) -> Vec<SessionReport> {
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (guard, event) = (guard.clone(), event(world, id, &format!("user-{i}")));
            tokio::spawn(async move { handle(&guard, event).await })
        })
        .collect();
    let mut reports = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Response::Session(report) => reports.push(report),
            other => panic!("expected a session report, got {other:?}"),
        }
    }
    reports
}

fn attribute<'a>(notification: &'a Value, name: &str) -> &'a str {
    notification["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
}

/// `n` sessions of `workers` x G.2X created in the same millisecond: the budget of 100 DPUs
/// keeps those that fit, in the order of their ids, and stops the rest, each notified once.
async fn created_at_once(region: &'static str, n: usize, workers: i32, expect_stopped: &[&str]) {
    let world = world(region).await;
    let created = UNIX_EPOCH + Duration::from_millis(1_796_000_000_000);
    let ids: Vec<String> = (0..n).map(|i| format!("nb-{i:02}")).collect();
    let sessions: Vec<Session> = ids.iter().map(|id| session(id, created, workers)).collect();
    let (rules, stops) = glue(&sessions);
    let guard = guard_with(&world, policy_in("enforce"), &rules);

    let reports = all_at_once(&guard, &world, &ids).await;

    let mut stopped: Vec<String> = stops
        .lock()
        .unwrap()
        .iter()
        .map(|input| input.id().unwrap().to_string())
        .collect();
    stopped.sort();
    stopped.dedup();
    assert_eq!(stopped, expect_stopped, "sessions stopped");
    for report in &reports {
        let over = expect_stopped.contains(&report.session_id.as_str());
        assert_eq!(
            report.outcome,
            if over {
                Outcome::Stopped
            } else {
                Outcome::LeftAlone
            },
            "{report:?}"
        );
        assert_eq!(
            report.rules,
            if over {
                vec!["max_concurrent_dpu".to_string()]
            } else {
                Vec::<String>::new()
            }
        );
        if over {
            assert_eq!(report.notification, Notification::Sent, "{report:?}");
        }
    }
    let mut delivered = world.take_notifications().await;
    while delivered.len() < expect_stopped.len() {
        let more = world.take_notifications().await;
        if more.is_empty() {
            break;
        }
        delivered.extend(more);
    }
    let mut notified: Vec<&str> = delivered
        .iter()
        .map(|n| attribute(n, "session_id"))
        .collect();
    notified.sort();
    assert_eq!(
        notified, expect_stopped,
        "one notification per stopped session"
    );
    for notification in &delivered {
        let message = notification["Message"].as_str().unwrap();
        assert!(message.contains("budget \"analytics\""), "{message}");
        assert!(message.contains("largest holders"), "{message}");
    }
    // Every session's creator is in the registry: the next invocation knows whose it is.
    let holders = world.holders().await;
    assert_eq!(holders.len(), n);
    assert!(
        holders
            .values()
            .all(|arn| arn.as_deref().is_some_and(|a| a.contains("AnalyticsTeam")))
    );
}

#[tokio::test]
async fn two_sessions_created_at_once_over_the_budget_only_the_later_is_stopped() {
    // 2 x 60 DPUs against 100: only one has to go, and both invocations agree it is nb-01.
    created_at_once("eu-south-1", 2, 30, &["nb-01"]).await;
}

#[tokio::test]
async fn ten_sessions_created_at_once_the_five_that_do_not_fit_are_stopped() {
    // 10 x 20 DPUs against 100: five fit (nb-00..nb-04 by id), five are stopped.
    created_at_once(
        "eu-south-2",
        10,
        10,
        &["nb-05", "nb-06", "nb-07", "nb-08", "nb-09"],
    )
    .await;
}

/// nb-old (40 x G.2X: 80 DPUs, created 10 minutes ago) and nb-new (15 x G.2X: 30 DPUs, just
/// created): 110 together against the budget's 100. nb-old's event is handled first (within,
/// left alone, registered); gives both, as Glue lists them.
async fn older_registered(world: &testkit::World) -> (Session, Session) {
    let now = SystemTime::now();
    let older = session("nb-old", now - Duration::from_secs(600), 40);
    let newer = session("nb-new", now, 15);
    let (rules, _) = glue(&[older.clone(), newer.clone()]);
    let guard = guard_with(world, policy_in("enforce"), &rules);
    let first = all_at_once(&guard, world, &["nb-old".to_string()]).await;
    assert_eq!(first[0].outcome, Outcome::LeftAlone);
    (older, newer)
}

/// The report of one `CreateSession` event handled by `guard`.
async fn session_report(guard: &Guard, event: LambdaEvent<Value>) -> SessionReport {
    match handle(guard, event).await {
        Ok(Response::Session(report)) => report,
        other => panic!("expected a session report, got {other:?}"),
    }
}

#[tokio::test]
async fn a_session_that_fits_is_left_alone_and_an_older_one_holds_first() {
    let world = world("ap-south-2").await;
    // The older one's event came first: 80 DPUs, within.
    let (older, newer) = older_registered(&world).await;
    let (rules, stops) = glue(&[older, newer]);
    let guard = guard_with(&world, policy_in("enforce"), &rules);
    // 80 + 30 = 110: the newer one goes, named against the older one's holder.
    let second = all_at_once(&guard, &world, &["nb-new".to_string()]).await;
    assert_eq!(second[0].outcome, Outcome::Stopped);
    assert_eq!(stops.lock().unwrap().len(), 1);
    let delivered = world.take_notifications().await;
    let message = delivered[0]["Message"].as_str().unwrap();
    assert!(
        message.contains("110 DPUs at once with this session (30 DPUs)"),
        "{message}"
    );
    assert!(message.contains("session nb-old (80 DPUs"), "{message}");
}

#[tokio::test]
async fn audit_mode_notifies_the_session_over_the_budget_and_stops_nothing() {
    let world = world("ap-southeast-3").await;
    let now = SystemTime::now();
    let (rules, stops) = glue(&[
        session("nb-a", now - Duration::from_secs(5), 30),
        session("nb-b", now, 30),
    ]);
    let guard = guard_with(&world, policy_in("audit"), &rules);
    let reports = all_at_once(&guard, &world, &["nb-a".to_string(), "nb-b".to_string()]).await;
    let outcomes: Vec<_> = reports.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes, [Outcome::LeftAlone, Outcome::NotStopped]);
    assert!(stops.lock().unwrap().is_empty());
    assert_eq!(world.take_notifications().await.len(), 1);
}

/// The second reading joins what the first saw (a listing may miss a session), but not a
/// session it lists as ended: nb-old (80 DPUs) stops between the readings, and nb-new (30),
/// which fits without it, is left alone.
#[tokio::test]
async fn a_session_ended_between_the_readings_is_not_counted_again() {
    let world = world("mx-central-1").await;
    let (older, newer) = older_registered(&world).await;
    let mut stopped_old = older.clone();
    stopped_old.status = Some(SessionStatus::Stopped);
    let (before, after) = (vec![older, newer.clone()], vec![stopped_old, newer]);
    let (mut rules, stops) = glue(&before);
    rules[0] = mock!(aws_sdk_glue::Client::list_sessions)
        .sequence()
        .output(move || {
            ListSessionsOutput::builder()
                .set_sessions(Some(before.clone()))
                .build()
        })
        .output(move || {
            ListSessionsOutput::builder()
                .set_sessions(Some(after.clone()))
                .build()
        })
        .repeatedly()
        .build();
    let guard = guard_with(&world, policy_in("enforce"), &rules);
    let report = session_report(&guard, event(&world, "nb-new", "bob")).await;
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    assert!(stops.lock().unwrap().is_empty());
}

/// The readings keep the time the stop needs: over in the first reading, with too little of
/// the invocation left for the second (its deadline 250 ms away; twice the test's 100 ms margin
/// is kept), the session is left to the sweep rather than stopped on one reading.
#[tokio::test]
async fn too_little_time_for_a_second_reading_leaves_the_session_to_the_sweep() {
    let world = world("ap-southeast-7").await;
    let (older, newer) = older_registered(&world).await;
    let (rules, stops) = glue(&[older, newer]);
    let guard = guard_with(&world, policy_in("enforce"), &rules);
    let short = testkit::CreateSession::fixture()
        .in_region(&world.region)
        .by("AnalyticsTeam", "bob")
        .of_session("nb-new")
        .with(events::context(
            "req-short",
            &world.region,
            Duration::from_millis(250),
        ));
    let report = session_report(&guard, short).await;
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    assert!(stops.lock().unwrap().is_empty());
}

/// A session over the budget is stopped, but its notification fails (here: a topic that does
/// not exist). The retry finds it `STOPPING`, no longer a member of anything: the budget
/// violation its first invocation recorded is read back, and the one notification is sent.
#[tokio::test]
async fn a_retry_that_finds_the_session_stopping_still_sends_its_budget_notification() {
    let world = world("eu-central-1").await;
    let (older, newer) = older_registered(&world).await;
    let (rules, stops) = glue(&[older.clone(), newer.clone()]);
    let guard = guard_with(&world, policy_in("enforce"), &rules);

    let mut failing = guard.clone();
    failing.settings.topic_arn = format!("{}-missing", guard.settings.topic_arn);
    let failed = handle(&failing, event(&world, "nb-new", "bob")).await;
    assert!(failed.is_err(), "the Publish failed: {failed:?}");
    assert_eq!(stops.lock().unwrap().len(), 1, "stopped before notifying");
    assert!(world.take_notifications().await.is_empty());

    // The retry: Glue now says STOPPING.
    let mut stopping = newer;
    stopping.status = Some(SessionStatus::Stopping);
    let (rules, _) = glue(&[older, stopping]);
    let retry_guard = guard_with(&world, policy_in("enforce"), &rules);
    let report = session_report(&retry_guard, event(&world, "nb-new", "bob")).await;
    assert_eq!(report.rules, ["max_concurrent_dpu"], "{report:?}");
    assert_eq!(report.notification, Notification::Sent, "{report:?}");
    let delivered = world.take_notifications().await;
    assert_eq!(delivered.len(), 1);
    let message = delivered[0]["Message"].as_str().unwrap();
    assert!(message.contains("budget \"analytics\""), "{message}");
}

/// A stop that fails leaves no budget violation behind: nb-new is confirmed over (and its
/// violation recorded), but `StopSession` is refused, and the invocation removes the record as
/// it fails. The retry finds nb-old stopped meanwhile and nb-new within; nb-new later ends on
/// its own, and a late duplicate of its event must not notify a budget stop that never happened.
#[tokio::test]
async fn a_stop_that_fails_leaves_no_budget_violation_recorded_behind_it() {
    let world = world_named("eu-central-1", "gsg-stale").await;
    let (older, newer) = older_registered(&world).await;
    let created = SystemTime::try_from(*newer.created_on().unwrap()).unwrap();
    let key = budget::holder_key(HolderKind::Session, "nb-new", budget::epoch_ms(created));
    let recorded = |guard: Guard| {
        let key = key.clone();
        async move {
            let ledger = guard.ledger();
            let item = ledger
                .client
                .get_item()
                .table_name(ledger.table)
                .key(
                    glue_session_guard_lambda::ledger::KEY,
                    aws_sdk_dynamodb::types::AttributeValue::S(key),
                )
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            item.item
                .is_some_and(|item| item.contains_key(budget::BUDGET_VIOLATIONS))
        }
    };

    let (mut rules, stops) = glue(&[older.clone(), newer.clone()]);
    *rules.last_mut().unwrap() =
        mock!(aws_sdk_glue::Client::stop_session).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"AccessDeniedException","message":"not allowed"}"#,
                ),
            )
        });
    let refused = guard_with(&world, policy_in("enforce"), &rules);
    let failed = handle(&refused, event(&world, "nb-new", "bob")).await;
    assert!(
        matches!(
            &failed,
            Err(glue_session_guard_lambda::GuardError::Aws {
                operation: "StopSession",
                ..
            })
        ),
        "the StopSession failed: {failed:?}"
    );
    assert!(stops.lock().unwrap().is_empty());
    assert!(world.take_notifications().await.is_empty());
    assert!(
        !recorded(refused.clone()).await,
        "the record went with the failed stop"
    );

    // The retry: nb-old has stopped; nb-new (30 DPUs) fits.
    let mut stopped_old = older;
    stopped_old.status = Some(SessionStatus::Stopped);
    let (rules, stops) = glue(&[stopped_old.clone(), newer.clone()]);
    let retry = guard_with(&world, policy_in("enforce"), &rules);
    let report = session_report(&retry, event(&world, "nb-new", "bob")).await;
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    assert!(stops.lock().unwrap().is_empty());

    // nb-new ends on its own; a duplicate of its event comes late.
    let mut ended = newer;
    ended.status = Some(SessionStatus::Stopped);
    let (rules, _) = glue(&[stopped_old, ended]);
    let late = guard_with(&world, policy_in("enforce"), &rules);
    let report = session_report(&late, event(&world, "nb-new", "bob")).await;
    assert!(report.rules.is_empty(), "{report:?}");
    assert_eq!(report.notification, Notification::NotNeeded, "{report:?}");
    assert!(world.take_notifications().await.is_empty());
}

/// A budget's member out of bounds by its own rules is stopped without waiting for (or
/// failing with) a budget reading, and is registered as being stopped: another invocation,
/// which judges it from Glue's listing alone (no `Timeout` there), does not count it.
#[tokio::test]
async fn a_session_its_own_rules_stop_is_stopped_first_and_counted_by_no_other() {
    let world = world("ap-east-1").await;
    let text = format!("{POLICY}enforcement: {{mode: enforce}}\n").replace(
        "max_workers: 60}",
        "max_workers: 60, max_timeout_minutes: 30}",
    );
    let policy = policy::load_policy("budgets.yaml", text.as_bytes()).unwrap();
    let now = SystemTime::now();
    let long = session("nb-long", now - Duration::from_secs(5), 30);
    let short = session("nb-short", now, 30);
    let (rules, stops) = glue(&[long, short]);

    // The registry cannot be written (its table does not exist): the stop happens anyway; only
    // the notification, which needs the ledger, fails (and is retried).
    let mut no_table = guard_with(&world, policy.clone(), &rules);
    no_table.settings.ledger_table = "gsg-no-such-table".to_string();
    let failed = handle(&no_table, event(&world, "nb-long", "alice")).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(
        stops.lock().unwrap().len(),
        1,
        "stopped although the registry failed"
    );

    // Its retry, with the ledger: timeout 60 against 30, stopped, registered as stopping.
    let guard = guard_with(&world, policy, &rules);
    let reports = all_at_once(&guard, &world, &["nb-long".to_string()]).await;
    assert_eq!(
        reports[0].rules,
        ["max_timeout_minutes"],
        "{:?}",
        reports[0]
    );
    // nb-short asks for 20 minutes: within its own bounds. Glue still lists nb-long READY
    // (60 DPUs, no timeout in the listing): 60 + 60 = 120 would be over 100 if it counted.
    let mut short_event = event(&world, "nb-short", "bob");
    short_event.payload["detail"]["requestParameters"]["timeout"] = serde_json::json!(20);
    let report = session_report(&guard, short_event).await;
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    let stopped: Vec<String> = stops
        .lock()
        .unwrap()
        .iter()
        .map(|input| input.id().unwrap().to_string())
        .collect();
    assert_eq!(stopped, ["nb-long", "nb-long"]);
}

/// The sweep's world: no session's event was handled; nb-a, nb-b and nb-c (`workers` x G.2X)
/// run, created 300, 200 and 100 s ago by AnalyticsTeam, whose `CreateSession` records
/// CloudTrail gives, with the `StartJobRun` of `etl`/`jr_1` 600 s ago; `runs` answers
/// `GetJobRuns`.
fn sweep_over_budget(
    world: &testkit::World,
    workers: [i32; 3],
    runs: Rule,
) -> (Guard, Arc<Mutex<Vec<StopSessionInput>>>) {
    use aws_sdk_glue::operation::list_jobs::ListJobsOutput;
    use serde_json::json;

    let policy = policy_with_jobs("max_workers: 100");
    let now = SystemTime::now();
    let ago = |seconds: u64| now - Duration::from_secs(seconds);
    let sessions = [
        session("nb-a", ago(300), workers[0]),
        session("nb-b", ago(200), workers[1]),
        session("nb-c", ago(100), workers[2]),
    ];
    let (mut rules, stops) = glue(&sessions);
    rules.push(tagged_analytics());
    rules.push(
        mock!(aws_sdk_glue::Client::list_jobs)
            .then_output(|| ListJobsOutput::builder().job_names("etl").build()),
    );
    rules.push(runs);
    rules.push(mock!(aws_sdk_glue::Client::get_job).then_output(|| job_definition("etl")));
    let mut guard = guard_with(world, policy, &rules);
    let create = |id: &str, who: &str| {
        let mut record = testkit::CreateSession::fixture()
            .in_region(&world.region)
            .by("AnalyticsTeam", who)
            .of_session(id)
            .payload()["detail"]
            .clone();
        record["eventTime"] = json!("2026-12-05T07:00:00Z");
        record
    };
    let records = vec![
        create("nb-a", "alice"),
        create("nb-b", "bob"),
        create("nb-c", "carol"),
        json!({
            "eventVersion": "1.09", "eventSource": "glue.amazonaws.com",
            "eventName": "StartJobRun", "awsRegion": world.region,
            "eventTime": "2026-12-05T06:50:00Z",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/dave",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/AnalyticsTeam"}}
            },
            "requestParameters": {"jobName": "etl"},
            "responseElements": {"jobRunId": "jr_1"}
        }),
    ];
    let trail = testkit::mocked::trail(records);
    guard.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&trail]);
    (guard, stops)
}

/// The sweep reads the registry's `stopping` flag as the real-time path does: nb-b, whose own
/// invocation stops it (a rule `ListSessions` cannot show), holds nothing, so nb-c fits.
#[tokio::test]
async fn the_sweep_does_not_count_a_session_its_own_invocation_is_stopping() {
    let world = world("ca-central-1").await;
    let runs = mock!(aws_sdk_glue::Client::get_job_runs)
        .then_output(|| GetJobRunsOutput::builder().build());
    // 30 + 20 + 20 = 70 would fit anyway without the run: make nb-c the one that needs nb-b gone.
    let (guard, stops) = sweep_over_budget(&world, [25, 15, 10], runs);
    let listed = guard.glue.list_sessions().send().await.unwrap();
    let nb_b = listed
        .sessions()
        .iter()
        .find(|session| session.id() == Some("nb-b"))
        .unwrap();
    let created = SystemTime::try_from(*nb_b.created_on().unwrap()).unwrap();
    let key = budget::holder_key(HolderKind::Session, "nb-b", budget::epoch_ms(created));
    let stopping = Registered {
        stopping: true,
        ..Registered::default()
    };
    budget::register(guard.ledger(), &key, &stopping)
        .await
        .unwrap();
    let event = events::scheduled(&world.region);
    let context = events::context("req-sweep", &world.region, Duration::from_secs(60));
    match handle(&guard, LambdaEvent::new(event, context)).await {
        Ok(Response::Sweep(report)) => assert_eq!(report.budgets[0].in_use_dpu, 70.0),
        other => panic!("expected a sweep report, got {other:?}"),
    }
    assert!(
        stops.lock().unwrap().is_empty(),
        "nb-c fits once nb-b is not counted"
    );
}

/// A sweep that cannot list a job's runs leaves the budgets to the next sweep: a member missing
/// from the count can make one that fits seem over. Each session is still judged on its own
/// boundaries.
#[tokio::test]
async fn a_sweep_that_cannot_count_every_member_acts_for_no_budget() {
    let world = world("ap-southeast-4").await;
    let runs = mock!(aws_sdk_glue::Client::get_job_runs).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).unwrap(),
            aws_smithy_types::body::SdkBody::from("{}"),
        )
    });
    // With the run's 40 DPUs, nb-a (70) is over and is stopped; nb-b (50) and nb-c (10) fit.
    // Without it, nb-a would fit and nb-b, which fits, would seem over.
    let (guard, stops) = sweep_over_budget(&world, [35, 25, 5], runs);
    let event = events::scheduled(&world.region);
    let context = events::context("req-sweep", &world.region, Duration::from_secs(60));
    let report = match handle(&guard, LambdaEvent::new(event, context)).await {
        Ok(Response::Sweep(report)) => Some(report),
        // The job's listing failure fails the sweep after it acted on the rest.
        Err(glue_session_guard_lambda::GuardError::SweepIncomplete { .. }) => None,
        other => panic!("expected a sweep report or an incomplete sweep, got {other:?}"),
    };
    assert!(
        report
            .as_ref()
            .is_none_or(|report| report.budgets.is_empty()),
        "{report:?}"
    );
    assert!(
        stops.lock().unwrap().is_empty(),
        "nothing stopped for a budget"
    );
    assert!(world.take_notifications().await.is_empty());
}

/// The sweep, the net for what events missed: no session's event was handled (the registry is
/// empty), the creators come from CloudTrail. A job run started before the sessions holds first;
/// the session that takes the budget over is stopped and notified once, the registry learns
/// every creator, and a second sweep notifies nothing more.
#[tokio::test]
async fn the_sweep_counts_sessions_and_job_runs_whose_events_never_came() {
    let world = world("me-central-1").await;
    let started = SystemTime::now() - Duration::from_secs(600);
    let runs = mock!(aws_sdk_glue::Client::get_job_runs).then_output(move || {
        GetJobRunsOutput::builder()
            .job_runs(
                JobRun::builder()
                    .id("jr_1")
                    .job_name("etl")
                    .job_run_state(JobRunState::Running)
                    .worker_type(WorkerType::G2X)
                    .number_of_workers(20)
                    .started_on(DateTime::from(started))
                    .build(),
            )
            .build()
    });
    // 40 (the run) + 30 + 20 = 90 fit; nb-c's 20 would make 110.
    let (guard, stops) = sweep_over_budget(&world, [15, 10, 10], runs);
    let sweep = || async {
        let event = events::scheduled(&world.region);
        let context = events::context("req-sweep", &world.region, Duration::from_secs(60));
        match handle(&guard, LambdaEvent::new(event, context)).await {
            Ok(Response::Sweep(report)) => report,
            other => panic!("expected a sweep report, got {other:?}"),
        }
    };

    let report = sweep().await;
    let stopped: Vec<String> = stops
        .lock()
        .unwrap()
        .iter()
        .map(|input| input.id().unwrap().to_string())
        .collect();
    assert_eq!(stopped, ["nb-c"]);
    assert_eq!(report.budgets.len(), 1);
    let budget = &report.budgets[0];
    assert_eq!(budget.in_use_dpu, 90.0);
    let order: Vec<&str> = budget.holders.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(order, ["etl/jr_1", "nb-a", "nb-b", "nb-c"]);
    let delivered = world.take_notifications().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(attribute(&delivered[0], "session_id"), "nb-c");
    let message = delivered[0]["Message"].as_str().unwrap();
    assert!(message.contains("job run etl/jr_1 (40 DPUs"), "{message}");
    // The creators CloudTrail gave are registered for the real-time path.
    let holders = world.holders().await;
    assert_eq!(holders.len(), 4, "{holders:?}");
    assert!(holders.values().all(Option::is_some), "{holders:?}");

    let again = sweep().await;
    assert_eq!(again.budgets[0].in_use_dpu, 90.0);
    assert!(world.take_notifications().await.is_empty(), "told once");
}

/// A sweep lists the runs of at most `MAX_JOBS_PER_SWEEP` jobs (300); the jobs it leaves to a
/// later sweep are counted for budgets from the registry's index, so the budget still sees
/// every member. 301 jobs each run one run of 2 x G.1X (2 DPUs), members by their jobs' tag;
/// each run's own check registered it and the index names every job. Which job is left over depends on the minute (the sweep starts
/// each time at another place): whichever it is, the budget counts 602 DPUs.
#[tokio::test]
async fn a_sweep_counts_the_runs_of_jobs_past_its_300_from_the_index() {
    use aws_sdk_glue::operation::list_jobs::ListJobsOutput;
    use glue_session_guard_lambda::job::MAX_JOBS_PER_SWEEP;

    let world = world_named("ap-south-2", "gsg-many-jobs").await;
    let text = r#"
version: 1
stack: {name: glue-session-guard}
boundaries: {max_workers: 60}
jobs: {boundaries: {max_workers: 100}}
budgets:
  - name: analytics
    members: {tags: {owner: analytics}}
    max_concurrent_dpu: 10000
    covers: [sessions, jobs]
enforcement: {mode: enforce}
"#;
    let policy = policy::load_policy("budgets.yaml", text.as_bytes()).unwrap();
    let jobs: Vec<String> = (0..=MAX_JOBS_PER_SWEEP)
        .map(|i| format!("job-{i:03}"))
        .collect();
    let started = SystemTime::now() - Duration::from_secs(600);
    let listed = jobs.clone();
    let mut rules = vec![
        mock!(aws_sdk_glue::Client::list_sessions)
            .then_output(|| ListSessionsOutput::builder().build()),
        mock!(aws_sdk_glue::Client::list_jobs).then_output(move || {
            ListJobsOutput::builder()
                .set_job_names(Some(listed.clone()))
                .build()
        }),
        tagged_analytics(),
    ];
    for job in &jobs {
        let run = JobRun::builder()
            .id(format!("jr_{job}"))
            .job_name(job)
            .job_run_state(JobRunState::Running)
            .worker_type(WorkerType::G1X)
            .number_of_workers(2)
            .started_on(DateTime::from(started))
            .build();
        rules.push(lists_runs_of(job, &run));
        let (name, definition) = (job.clone(), job.clone());
        rules.push(
            mock!(aws_sdk_glue::Client::get_job)
                .match_requests(move |input| input.job_name() == Some(name.as_str()))
                .then_output(move || job_definition(&definition)),
        );
    }
    let mut guard = guard_with(&world, policy, &rules);
    let trail = testkit::mocked::trail(Vec::new());
    guard.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&trail]);
    // Each run's own check registered it (with its job's tags) and indexed its job.
    let started_ms = budget::epoch_ms(started);
    let tagged = Registered {
        tags: Some([("owner".to_string(), "analytics".to_string())].into()),
        ..Registered::default()
    };
    for job in &jobs {
        let id = policy::budgets::job_run_id(job, &format!("jr_{job}"));
        let key = budget::holder_key(HolderKind::JobRun, &id, started_ms);
        budget::register(guard.ledger(), &key, &tagged)
            .await
            .unwrap();
    }
    let indexed: Vec<(&str, i64)> = jobs.iter().map(|job| (job.as_str(), started_ms)).collect();
    budget::index_job_runs(guard.ledger(), &indexed)
        .await
        .unwrap();

    let event = events::scheduled(&world.region);
    let context = events::context("req-sweep", &world.region, Duration::from_secs(60));
    let report = match handle(&guard, LambdaEvent::new(event, context)).await {
        Ok(Response::Sweep(report)) => report,
        other => panic!("expected a sweep report, got {other:?}"),
    };
    let swept = report.jobs.as_ref().expect("the jobs were swept");
    assert_eq!(swept.jobs_not_swept, 1, "{swept:?}");
    assert_eq!(report.budgets.len(), 1, "{report:?}");
    assert_eq!(report.budgets[0].in_use_dpu, 602.0);
    assert_eq!(report.budgets[0].holders.len(), jobs.len());
}

/// A job run in real time: its budget counts the running sessions and the other running runs of
/// its job (and those of the jobs the registry's index names). The earlier run holds first; the
/// later one that takes the budget over is stopped and notified once. Glue's job answers are
/// mocked (moto has no `BatchStopJobRun`); the registry, ledger and SNS are moto's.
#[tokio::test]
async fn a_job_run_that_takes_its_budget_over_is_stopped_in_real_time() {
    let world = world("af-south-1").await;
    let policy = policy_with_jobs("max_workers: 100");
    let now = SystemTime::now();
    // Two runs of 30 x G.2X = 60 DPUs each: together 120.
    let runs = [
        running_run("etl", "jr_0", now - Duration::from_secs(300)),
        running_run("etl", "jr_1", now),
    ];
    let mut rules = vec![
        mock!(aws_sdk_glue::Client::list_sessions)
            .then_output(|| ListSessionsOutput::builder().build()),
        tagged_analytics(),
        mock!(aws_sdk_glue::Client::get_job).then_output(|| job_definition("etl")),
    ];
    let listed = runs.to_vec();
    rules.push(
        mock!(aws_sdk_glue::Client::get_job_runs).then_output(move || {
            GetJobRunsOutput::builder()
                .set_job_runs(Some(listed.clone()))
                .build()
        }),
    );
    rules.extend(runs.iter().map(each_run));
    let stop = stops_run("etl", "jr_1");
    rules.push(stop.clone());
    let guard = guard_with(&world, policy, &rules);

    let first = job_report(handle(&guard, start_job_run(&world, "etl", "jr_0", "dave")).await);
    assert_eq!(first.outcome, Outcome::LeftAlone, "{first:?}");
    let second = job_report(handle(&guard, start_job_run(&world, "etl", "jr_1", "erin")).await);
    assert_eq!(second.outcome, Outcome::Stopped, "{second:?}");
    assert_eq!(second.rules, ["max_concurrent_dpu"]);
    assert_eq!(stop.num_calls(), 1);
    let delivered = world.take_notifications().await;
    assert_eq!(delivered.len(), 1);
    let message = delivered[0]["Message"].as_str().unwrap();
    assert!(
        message.contains("120 DPUs at once with this job run (60 DPUs)"),
        "{message}"
    );
    assert!(message.contains("job run etl/jr_0 (60 DPUs"), "{message}");
}

/// Glue lists runs per job only, so a registered run puts its job in the registry's index of
/// the day, and every budget check that counts job runs reads the runs of the jobs the index
/// names: here a session created while another job's run holds 60 of the budget's 100 DPUs
/// takes it over and is stopped, naming that run. Without the index the session's check would
/// see no run (sessions and runs of other jobs were counted only by the sweep). Glue's answers
/// are mocked; the registry with its index, the ledger and SNS are moto's.
#[tokio::test]
async fn a_session_counts_the_runs_of_any_job_the_registrys_index_names() {
    let world = world("me-south-1").await;
    let policy =
        policy_with_jobs("max_workers: 100, require_vpc_connection: true, required_tags: [owner]");
    let now = SystemTime::now();
    // The run: 30 x G.2X = 60 DPUs, started five minutes ago. The session: 25 x G.2X = 50.
    let run = running_run("load", "jr_9", now - Duration::from_secs(300));
    let (mut rules, stops) = glue(&[session("nb-x", now, 25)]);
    let runs_listed = with_load_run(&mut rules, &run);
    let guard = guard_with(&world, policy, &rules);

    // The run's own event: within the budget, left alone, and its job indexed.
    let report = job_report(handle(&guard, start_job_run(&world, "load", "jr_9", "dave")).await);
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    let listings_by_the_run = runs_listed.num_calls();

    // The session's check reads the index, lists that job's runs and counts jr_9: 110 DPUs.
    match handle(&guard, event(&world, "nb-x", "erin")).await {
        Ok(Response::Session(report)) => {
            assert_eq!(report.outcome, Outcome::Stopped, "{report:?}");
        }
        other => panic!("expected a session report, got {other:?}"),
    }
    assert!(runs_listed.num_calls() > listings_by_the_run);
    let stopped: Vec<String> = stops
        .lock()
        .unwrap()
        .iter()
        .map(|input| input.id().unwrap().to_string())
        .collect();
    assert_eq!(stopped, ["nb-x"]);
    let delivered = world.take_notifications().await;
    assert_eq!(delivered.len(), 1);
    let message = delivered[0]["Message"].as_str().unwrap();
    assert!(message.contains("job run load/jr_9 (60 DPUs"), "{message}");
}

/// A job run's check counts the running runs of the other jobs the index names, not only its
/// own job's: `load`'s run, started while `etl`'s run holds 60 of the 100 DPUs, takes the budget
/// to 120 and is stopped (`BatchStopJobRun` mocked: moto has none), naming `etl`'s run.
#[tokio::test]
async fn a_job_run_counts_the_runs_of_other_jobs_the_index_names() {
    let world = world("ca-west-1").await;
    let policy =
        policy_with_jobs("max_workers: 100, require_vpc_connection: true, required_tags: [owner]");
    let now = SystemTime::now();
    // One run of each job, 30 x G.2X = 60 DPUs each.
    let runs = [
        running_run("etl", "jr_e", now - Duration::from_secs(300)),
        running_run("load", "jr_l", now),
    ];
    let mut rules = vec![
        mock!(aws_sdk_glue::Client::list_sessions)
            .then_output(|| ListSessionsOutput::builder().build()),
        tagged_analytics(),
    ];
    for one in &runs {
        let job = one.job_name().unwrap().to_string();
        let name = job.clone();
        rules.push(
            mock!(aws_sdk_glue::Client::get_job)
                .match_requests(move |input| input.job_name() == Some(name.as_str()))
                .then_output(move || job_definition(&job)),
        );
        rules.push(lists_runs_of(one.job_name().unwrap(), one));
        rules.push(each_run(one));
    }
    let stop = stops_run("load", "jr_l");
    rules.push(stop.clone());
    let guard = guard_with(&world, policy, &rules);

    let first = job_report(handle(&guard, start_job_run(&world, "etl", "jr_e", "dave")).await);
    assert_eq!(first.outcome, Outcome::LeftAlone, "{first:?}");
    let second = job_report(handle(&guard, start_job_run(&world, "load", "jr_l", "erin")).await);
    assert_eq!(second.outcome, Outcome::Stopped, "{second:?}");
    assert_eq!(second.rules, ["max_concurrent_dpu"]);
    assert_eq!(stop.num_calls(), 1);
    let delivered = world.take_notifications().await;
    assert_eq!(delivered.len(), 1);
    let message = delivered[0]["Message"].as_str().unwrap();
    assert!(message.contains("job run etl/jr_e (60 DPUs"), "{message}");
}

/// Budgets are decided together, so a reading counts what any budget covers, not only the
/// candidate's. nb-b (bob, 50 DPUs) belongs to `analytics` (sessions only, cap 90) alone;
/// nb-a (alice, 50, older, registered by its own check still under way) belongs to `analytics`
/// and `shared` (sessions and job runs, cap 100), where `load`'s run jr_9 (dave, 60, oldest)
/// holds first: nb-a is over `shared`, holds nothing in `analytics`, and nb-b fits. A reading
/// of sessions alone (nb-b's budgets count no runs) would count nb-a in `analytics`, 100 > 90,
/// and stop nb-b.
#[tokio::test]
async fn a_reading_counts_the_job_runs_of_a_budget_the_candidate_is_not_in() {
    let world = world_named("ca-west-1", "gsg-scope").await;
    let text = r#"
version: 1
stack: {name: glue-session-guard}
boundaries: {max_workers: 60}
jobs: {boundaries: {max_workers: 100, require_vpc_connection: true, required_tags: [owner]}}
budgets:
  - name: analytics
    members: {principals: ["arn:aws:iam::*:role/AnalyticsTeam"]}
    max_concurrent_dpu: 90
    covers: [sessions]
  - name: shared
    members:
      principals:
        - "arn:aws:sts::*:assumed-role/AnalyticsTeam/alice"
        - "arn:aws:sts::*:assumed-role/AnalyticsTeam/dave"
    max_concurrent_dpu: 100
    covers: [sessions, jobs]
enforcement: {mode: enforce}
"#;
    let policy = policy::load_policy("budgets.yaml", text.as_bytes()).unwrap();
    let now = SystemTime::now();
    let run = running_run("load", "jr_9", now - Duration::from_secs(600));
    let nb_a = session("nb-a", now - Duration::from_secs(300), 25);
    let (mut rules, stops) = glue(&[nb_a.clone(), session("nb-b", now, 25)]);
    let runs_listed = with_load_run(&mut rules, &run);
    let guard = guard_with(&world, policy, &rules);

    // The run's own event: within `shared`, left alone, and its job indexed.
    let report = job_report(handle(&guard, start_job_run(&world, "load", "jr_9", "dave")).await);
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    let listings_by_the_run = runs_listed.num_calls();
    // nb-a's own check has registered it (its creator) and is still deciding.
    let created = SystemTime::try_from(*nb_a.created_on().unwrap()).unwrap();
    let key = budget::holder_key(HolderKind::Session, "nb-a", budget::epoch_ms(created));
    let alice = Registered {
        principal: Some(policy::Principal {
            arn: "arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/alice".into(),
            issuer_arn: Some("arn:aws:iam::123456789012:role/AnalyticsTeam".into()),
            ..Default::default()
        }),
        ..Registered::default()
    };
    budget::register(guard.ledger(), &key, &alice)
        .await
        .unwrap();

    let report = session_report(&guard, event(&world, "nb-b", "bob")).await;
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
    assert!(report.rules.is_empty(), "{report:?}");
    assert!(stops.lock().unwrap().is_empty());
    assert!(
        runs_listed.num_calls() > listings_by_the_run,
        "the run was read"
    );
}

/// `POLICY` with its budget counting job runs too, and `jobs.boundaries` of these keys.
fn policy_with_jobs(job_boundaries: &str) -> Policy {
    let text = format!(
        "{}jobs: {{boundaries: {{{job_boundaries}}}}}\n",
        POLICY.replace(
            "max_concurrent_dpu: 100",
            "max_concurrent_dpu: 100\n    covers: [sessions, jobs]"
        )
    );
    policy::load_policy("budgets.yaml", text.as_bytes()).unwrap()
}

/// The job `name` as `GetJob` answers: Spark ETL on Glue 5.0 with a VPC connection.
fn job_definition(name: &str) -> GetJobOutput {
    GetJobOutput::builder()
        .job(
            Job::builder()
                .name(name)
                .command(JobCommand::builder().name("glueetl").build())
                .glue_version("5.0")
                .connections(ConnectionsList::builder().connections("vpc").build())
                .build(),
        )
        .build()
}

/// Run `id` of `job`, running since `started`: 30 x G.2X, 60 DPUs.
fn running_run(job: &str, id: &str, started: SystemTime) -> JobRun {
    JobRun::builder()
        .id(id)
        .job_name(job)
        .job_run_state(JobRunState::Running)
        .worker_type(WorkerType::G2X)
        .number_of_workers(30)
        .started_on(DateTime::from(started))
        .build()
}

/// Every `GetTags` answers the owner `analytics`.
fn tagged_analytics() -> Rule {
    mock!(aws_sdk_glue::Client::get_tags)
        .then_output(|| GetTagsOutput::builder().tags("owner", "analytics").build())
}

/// Glue's answers about job `load` and its running `run` added to `rules` (`GetTags`, `GetJob`,
/// `GetJobRuns`, `GetJobRun`); gives the `GetJobRuns` rule, whose calls the tests count.
fn with_load_run(rules: &mut Vec<Rule>, run: &JobRun) -> Rule {
    rules.push(tagged_analytics());
    rules.push(mock!(aws_sdk_glue::Client::get_job).then_output(|| job_definition("load")));
    let runs_listed = lists_runs_of("load", run);
    rules.push(runs_listed.clone());
    rules.push(each_run(run));
    runs_listed
}

/// `GetJobRuns` of `job` lists `run`.
fn lists_runs_of(job: &str, run: &JobRun) -> Rule {
    let (job, listed) = (job.to_string(), run.clone());
    mock!(aws_sdk_glue::Client::get_job_runs)
        .match_requests(move |input| input.job_name() == Some(job.as_str()))
        .then_output(move || GetJobRunsOutput::builder().job_runs(listed.clone()).build())
}

/// `GetJobRun` of `run`'s id answers `run`.
fn each_run(run: &JobRun) -> Rule {
    let (id, answer) = (run.id().unwrap().to_string(), run.clone());
    mock!(aws_sdk_glue::Client::get_job_run)
        .match_requests(move |input| input.run_id() == Some(id.as_str()))
        .then_output(move || GetJobRunOutput::builder().job_run(answer.clone()).build())
}

/// `BatchStopJobRun` accepts stopping `job`'s run `id`.
fn stops_run(job: &'static str, id: &'static str) -> Rule {
    mock!(aws_sdk_glue::Client::batch_stop_job_run).then_output(move || {
        BatchStopJobRunOutput::builder()
            .successful_submissions(
                BatchStopJobRunSuccessfulSubmission::builder()
                    .job_name(job)
                    .job_run_id(id)
                    .build(),
            )
            .build()
    })
}

/// The `StartJobRun` event of `job`'s run `id`, by `who` through the role `AnalyticsTeam`, as
/// EventBridge delivers it.
fn start_job_run(world: &testkit::World, job: &str, id: &str, who: &str) -> LambdaEvent<Value> {
    let event = serde_json::json!({
        "version": "0", "id": format!("e-{id}"), "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.glue", "account": "123456789012", "region": world.region,
        "detail": {
            "eventSource": "glue.amazonaws.com", "eventName": "StartJobRun",
            "awsRegion": world.region,
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/{who}"),
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/AnalyticsTeam"}}
            },
            "requestParameters": {"jobName": job},
            "responseElements": {"jobRunId": id}
        }
    });
    LambdaEvent::new(
        event,
        events::context(&format!("req-{id}"), &world.region, Duration::from_secs(30)),
    )
}

fn job_report<E: std::fmt::Debug>(response: Result<Response, E>) -> JobReport {
    match response {
        Ok(Response::Job(report)) => report,
        other => panic!("expected a job report, got {other:?}"),
    }
}

/// The day's index item is one DynamoDB item, which DynamoDB may refuse to add to (it stops at
/// 400 KB, "Service, account, and table quotas in Amazon DynamoDB"). A refused index write does
/// not fail the run's check: the index only lets other checks find runs sooner, and the sweep
/// counts them. Here the refusal is forced: the day's item holds a string where the set of names
/// goes, so the `ADD` is a ValidationException on moto as on AWS.
#[tokio::test]
async fn a_refused_index_write_does_not_fail_the_runs_check() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use glue_session_guard_lambda::{budget, ledger};

    let world = world("il-central-1").await;
    let policy = policy_with_jobs("max_workers: 100");
    let now = SystemTime::now();
    let run = running_run("etl", "jr_1", now);
    let rules = vec![
        mock!(aws_sdk_glue::Client::list_sessions)
            .then_output(|| ListSessionsOutput::builder().build()),
        tagged_analytics(),
        mock!(aws_sdk_glue::Client::get_job).then_output(|| job_definition("etl")),
        lists_runs_of("etl", &run),
        each_run(&run),
    ];
    let guard = guard_with(&world, policy, &rules);
    let today = budget::epoch_ms(now).div_euclid(86_400_000);
    world
        .dynamodb
        .put_item()
        .table_name(&world.ledger_table)
        .item(ledger::KEY, AttributeValue::S(budget::job_index_key(today)))
        .item(budget::JOBS, AttributeValue::S("not a set of names".into()))
        .send()
        .await
        .unwrap();

    let report = job_report(handle(&guard, start_job_run(&world, "etl", "jr_1", "dave")).await);
    assert_eq!(report.outcome, Outcome::LeftAlone, "{report:?}");
}

/// DynamoDB refuses a `BatchGetItem` that names one key twice ("Provided list of item keys
/// contains duplicates", as moto does too): a session listed on two `ListSessions` pages must
/// not fail the registry's read.
#[tokio::test]
async fn a_key_asked_for_twice_is_read_once() {
    let world = world("ap-southeast-5").await;
    let guard = world.guard(policy_in("enforce"));
    let key = budget::holder_key(HolderKind::Session, "nb-twice", 1_796_000_000_000);
    let written = Registered {
        tags: Some(Default::default()),
        ..Registered::default()
    };
    budget::register(guard.ledger(), &key, &written)
        .await
        .unwrap();
    let found = budget::registered(guard.ledger(), &[key.clone(), key.clone()])
        .await
        .unwrap();
    assert_eq!(found.get(&key), Some(&written));
}
