//! The handler against SDK clients mocked at the HTTP layer (`aws-smithy-mocks`): the edge
//! cases a real account rarely shows on demand (provisioning, throttling, a vanished session,
//! an SNS failure after a stop, duplicate events, a notification claimed by another invocation,
//! a ledger outage), the sweep's creator recovery, and the central topic's own exactly-once
//! (a failed central publish after the own one, and its retry). The ledger's conditional writes are
//! exercised for real against moto (`tests/moto.rs`, `tests/load.rs`); here DynamoDB answers
//! what each case needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_glue::config::retry::RetryConfig;
use aws_sdk_glue::operation::delete_session::DeleteSessionOutput;
use aws_sdk_glue::operation::get_session::{GetSessionError, GetSessionOutput};
use aws_sdk_glue::operation::get_tags::GetTagsOutput;
use aws_sdk_glue::operation::list_sessions::ListSessionsOutput;
use aws_sdk_glue::operation::stop_session::StopSessionOutput;
use aws_sdk_glue::primitives::DateTime;
use aws_sdk_glue::types::error::EntityNotFoundException;
use aws_sdk_glue::types::{Session, SessionStatus, WorkerType};
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use glue_session_guard_lambda::report::{Creator, Notification, Outcome, SessionReport};
use glue_session_guard_lambda::{Guard, GuardError, Response, Retry, Settings, Timing, handle};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use policy::{Action, Decision, Policy};
use serde_json::{Value, json};
use testkit::fixtures::{CREATE_SESSION, SCHEDULED, UNRELATED};
use testkit::mocked::{claim_won, marked_sent, session};
use testkit::{CreateSession, policy};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:glue-session-guard";
const ID: &str = "nb-alice-big";
const TABLE: &str = "glue-session-guard-ledger";
const CONDITION_FAILED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
const ILLEGAL_STATE: &str =
    r#"{"__type":"IllegalSessionStateException","message":"Session is in STOPPING status"}"#;

fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
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

/// A guard whose clients answer from the rules (any matching rule, in any order). Its ledger
/// grants every claim; [`with_ledger`] gives it other answers.
fn guard(policy: Policy, glue: &[&Rule], sns: &[&Rule], cloudtrail: &[&Rule]) -> Guard {
    let (claim, sent, released) = (claim_won(), marked_sent(), released());
    Guard {
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, glue, |c| c
            .retry_config(fast_retries())),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns, |c| c
            .retry_config(fast_retries())),
        cloudtrail: mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, cloudtrail, |c| c
            .retry_config(fast_retries())),
        dynamodb: ledger_client(&[&claim, &sent, &released]),
        settings: Settings {
            policy,
            topic_arn: TOPIC.to_string(),
            stack_name: "glue-session-guard".to_string(),
            ledger_table: TABLE.to_string(),
            central_topic_arn: None,
        },
        timing: timing(),
        profiles: Default::default(),
    }
}

fn ledger_client(ledger: &[&Rule]) -> aws_sdk_dynamodb::Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, ledger, |c| c
        .retry_config(fast_retries()))
}

fn with_ledger(mut guard: Guard, ledger: &[&Rule]) -> Guard {
    guard.dynamodb = ledger_client(ledger);
    guard
}

fn context(time_left: Duration) -> Context {
    testkit::context("test-request", "us-east-1", time_left)
}

fn event(fixture: &str) -> LambdaEvent<Value> {
    LambdaEvent::new(
        serde_json::from_str(fixture).unwrap(),
        context(Duration::from_secs(60)),
    )
}

/// The CreateSession event, made by `principal` (an assumed role of `role`).
fn event_by(role: &str, who: &str) -> LambdaEvent<Value> {
    CreateSession::fixture()
        .by(role, who)
        .with(context(Duration::from_secs(60)))
}

fn get_session(status: SessionStatus) -> Rule {
    mock!(aws_sdk_glue::Client::get_session).then_output(move || {
        GetSessionOutput::builder()
            .session(session(ID, status.clone()))
            .build()
    })
}

/// GetSession answering READY once (the judging), then STOPPING (every read after the stop):
/// what a retried invocation sees of a session it already stopped.
fn ready_then_stopping() -> Rule {
    mock!(aws_sdk_glue::Client::get_session)
        .sequence()
        .output(|| {
            GetSessionOutput::builder()
                .session(session(ID, SessionStatus::Ready))
                .build()
        })
        .output(|| {
            GetSessionOutput::builder()
                .session(session(ID, SessionStatus::Stopping))
                .build()
        })
        .repeatedly()
        .build()
}

fn stop_ok() -> Rule {
    mock!(aws_sdk_glue::Client::stop_session)
        .then_output(|| StopSessionOutput::builder().id(ID).build())
}

/// Another invocation holds the claim or has sent the notification.
fn claim_taken() -> Rule {
    mock!(aws_sdk_dynamodb::Client::put_item)
        .then_http_response(|| http_response(400, CONDITION_FAILED))
}

fn released() -> Rule {
    mock!(aws_sdk_dynamodb::Client::delete_item).then_output(|| DeleteItemOutput::builder().build())
}

/// The ledger item as `GetItem` returns it.
fn item(state: &'static str) -> GetItemOutput {
    GetItemOutput::builder()
        .item("state", AttributeValue::S(state.to_string()))
        .build()
}

fn ledger_says(state: &'static str) -> Rule {
    mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || item(state))
}

fn http_response(status: u16, body: &str) -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(body.to_string()),
    )
}

fn tags(tags: &[(&str, &str)]) -> Rule {
    let tags: HashMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    mock!(aws_sdk_glue::Client::get_tags).then_output(move || {
        GetTagsOutput::builder()
            .set_tags(Some(tags.clone()))
            .build()
    })
}

/// A `Publish` rule that records every request it answers.
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

fn session_report(response: Response) -> SessionReport {
    match response {
        Response::Session(report) => report,
        other => panic!("expected a session report, got {other:?}"),
    }
}

fn attribute(input: &PublishInput, name: &str) -> String {
    input.message_attributes().unwrap()[name]
        .string_value()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn provisioning_then_ready_is_stopped_then_notified() {
    let get = mock!(aws_sdk_glue::Client::get_session)
        .sequence()
        .output(|| {
            GetSessionOutput::builder()
                .session(session(ID, SessionStatus::Provisioning))
                .build()
        })
        .times(2)
        .output(|| {
            GetSessionOutput::builder()
                .session(session(ID, SessionStatus::Ready))
                .build()
        })
        .repeatedly()
        .build();
    let stop = stop_ok();
    let (publish, sent) = publish_recorded();
    let claims = Arc::new(Mutex::new(Vec::<PutItemInput>::new()));
    let record = claims.clone();
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(move |input| {
            record.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| PutItemOutput::builder().build());
    let mark = marked_sent();
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &mark],
    );
    let event = event(CREATE_SESSION);
    let deadline_seconds = event.context.deadline / 1000;

    let report = session_report(handle(&guard, event).await.unwrap());

    assert_eq!(report.decision, Decision::Violation);
    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(
        report.rules,
        ["max_workers", "allowed_worker_types", "max_dpu"]
    );
    assert_eq!(
        (get.num_calls(), stop.num_calls(), mark.num_calls()),
        (3, 1, 1)
    );
    // The claim: keyed by the session and its kind of notification, leased until the deadline,
    // and only granted when nobody holds it or a holder's lease has ended.
    let claims = claims.lock().unwrap();
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    let item = claim.item().unwrap();
    assert_eq!(claim.table_name(), Some(TABLE));
    assert_eq!(item["session"], AttributeValue::S(format!("{ID}/enforce")));
    assert_eq!(item["state"], AttributeValue::S("sending".into()));
    assert_eq!(
        item["lease_until"],
        AttributeValue::N(deadline_seconds.to_string())
    );
    assert_eq!(item["session_id"], AttributeValue::S(ID.into()));
    assert_eq!(
        claim.condition_expression(),
        Some("attribute_not_exists(#key) OR (#state = :sending AND #lease < :now)")
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let message = &sent[0];
    assert_eq!(message.topic_arn(), Some(TOPIC));
    assert_eq!(
        message.subject(),
        Some("[glue-session-guard] Glue session nb-alice-big out of bounds: stopped")
    );
    let body = testkit::mocked::published_text(message);
    assert!(
        body.contains("Creator:   arn:aws:sts::123456789012:assumed-role/Analyst/alice"),
        "{body}"
    );
    assert!(body.contains("max_workers: 50 (limit: 10)"), "{body}");
    assert!(body.contains("max_dpu: 400.0 (limit: 20.0)"), "{body}");
    assert!(body.contains("open a ticket in DPLAT"), "{body}");
    assert_eq!(attribute(message, "decision"), "violation");
    assert_eq!(attribute(message, "session_id"), ID);
    assert_eq!(
        attribute(message, "principal"),
        "arn:aws:sts::123456789012:assumed-role/Analyst/alice"
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_succeeds() {
    let get = get_session(SessionStatus::Ready);
    let stop = mock!(aws_sdk_glue::Client::stop_session)
        .sequence()
        .http_status(400, Some(THROTTLED.to_string()))
        .times(2)
        .output(|| StopSessionOutput::builder().id(ID).build())
        .build();
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get, &stop], &[&publish], &[]);

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(stop.num_calls(), 3);
    assert_eq!(sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn throttling_that_persists_fails_the_invocation_as_retryable() {
    let get = mock!(aws_sdk_glue::Client::get_session)
        .sequence()
        .http_status(400, Some(THROTTLED.to_string()))
        .repeatedly()
        .build();
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get], &[&publish], &[]);

    let failure = handle(&guard, event(CREATE_SESSION)).await.unwrap_err();

    assert_eq!(failure.retry(), Retry::Retryable);
    assert!(
        matches!(&failure, GuardError::Aws { operation: "GetSession", code, .. } if code == "ThrottlingException")
    );
    assert_eq!(get.num_calls(), 3);
    assert!(sent.lock().unwrap().is_empty());
    let diagnostic = Diagnostic::from(failure);
    assert_eq!(diagnostic.error_type, "GlueSessionGuard.Retryable");
    assert!(
        diagnostic
            .error_message
            .starts_with("GetSession for nb-alice-big failed (ThrottlingException)")
    );
}

#[tokio::test]
async fn access_denied_is_not_retryable() {
    let get = mock!(aws_sdk_glue::Client::get_session).then_http_response(|| {
        http_response(400, r#"{"__type":"AccessDeniedException","message":"no"}"#)
    });
    let guard = guard(policy(), &[&get], &[], &[]);

    let failure = handle(&guard, event(CREATE_SESSION)).await.unwrap_err();

    assert_eq!(failure.retry(), Retry::NotRetryable);
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn a_session_that_no_longer_exists_is_logged_not_an_error() {
    let get = mock!(aws_sdk_glue::Client::get_session).then_error(|| {
        GetSessionError::EntityNotFoundException(
            EntityNotFoundException::builder()
                .message("Session not found")
                .build(),
        )
    });
    let stop = stop_ok();
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get, &stop], &[&publish], &[]);

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.outcome, Outcome::Gone);
    assert_eq!(report.decision, Decision::Violation);
    assert_eq!(stop.num_calls(), 0);
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_already_stopped_session_needs_no_stop_but_is_reported_once() {
    let get = get_session(SessionStatus::Stopped);
    let stop = stop_ok();
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get, &stop], &[&publish], &[]);

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.outcome, Outcome::AlreadyEnded("STOPPED".to_string()));
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(stop.num_calls(), 0);
    let sent = sent.lock().unwrap();
    assert_eq!(
        sent[0].subject(),
        Some("[glue-session-guard] Glue session nb-alice-big out of bounds: already stopped")
    );
}

#[tokio::test]
async fn a_duplicate_event_stops_nothing_and_sends_nothing() {
    let get = get_session(SessionStatus::Stopping);
    let stop = stop_ok();
    let (claim, state) = (claim_taken(), ledger_says("sent"));
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &state],
    );

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(
        report.outcome,
        Outcome::AlreadyEnded("STOPPING".to_string())
    );
    assert_eq!(report.notification, Notification::AlreadySent);
    assert_eq!((stop.num_calls(), claim.num_calls()), (0, 1));
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_ledger_never_avoids_a_stop() {
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let (claim, state) = (claim_taken(), ledger_says("sent"));
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &state],
    );

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::AlreadySent);
    assert_eq!(stop.num_calls(), 1);
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_claim_held_by_another_invocation_is_awaited_and_nothing_is_sent_twice() {
    let get = get_session(SessionStatus::Stopping);
    let claim = claim_taken();
    let state = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .output(|| item("sending"))
        .times(3)
        .output(|| item("sent"))
        .build();
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy(), &[&get], &[&publish], &[]),
        &[&claim, &state],
    );

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.notification, Notification::AlreadySent);
    assert_eq!((claim.num_calls(), state.num_calls()), (4, 4));
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_claim_still_held_when_the_budget_runs_out_fails_as_retryable() {
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let (claim, state) = (claim_taken(), ledger_says("sending"));
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &state],
    );
    let mut event = event(CREATE_SESSION);
    event.context = context(Duration::from_millis(300));

    let failure = handle(&guard, event).await.unwrap_err();

    assert!(
        matches!(&failure, GuardError::NotificationInFlight { session_id, .. } if session_id == ID),
        "{failure}"
    );
    assert_eq!(failure.retry(), Retry::Retryable);
    assert_eq!(stop.num_calls(), 1, "stopped before the ledger was asked");
    assert!(claim.num_calls() > 1);
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_ledger_outage_fails_as_retryable_after_the_stop() {
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(guard(policy(), &[&get, &stop], &[&publish], &[]), &[&claim]);

    let failure = handle(&guard, event(CREATE_SESSION)).await.unwrap_err();

    assert!(
        matches!(
            failure,
            GuardError::Aws {
                operation: "PutItem",
                ..
            }
        ),
        "{failure}"
    );
    assert_eq!(failure.retry(), Retry::Retryable);
    assert_eq!((stop.num_calls(), claim.num_calls()), (1, 3));
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_notification_sent_but_not_recorded_does_not_fail_the_invocation() {
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let claim = claim_won();
    let mark = mock!(aws_sdk_dynamodb::Client::update_item)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &mark],
    );

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(mark.num_calls(), 3);
    assert_eq!(sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_sns_failure_after_a_stop_is_retried_and_notifies_exactly_once() {
    let get = ready_then_stopping();
    let stop = stop_ok();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, None)
        .times(3)
        .output(|| PublishOutput::builder().message_id("m-1").build())
        .repeatedly()
        .build();
    // The ledger: claims granted until one is marked sent, then refused.
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .times(2)
        .http_response(|| http_response(400, CONDITION_FAILED))
        .repeatedly()
        .build();
    let (mark, release, state) = (marked_sent(), released(), ledger_says("sent"));
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &mark, &release, &state],
    );

    // First delivery: stopped, but SNS keeps failing: the invocation fails, retryable, and
    // gives its claim back.
    let failure = handle(&guard, event(CREATE_SESSION)).await.unwrap_err();
    assert_eq!(failure.retry(), Retry::Retryable);
    assert!(matches!(
        failure,
        GuardError::Aws {
            operation: "Publish",
            ..
        }
    ));
    assert_eq!(
        (
            stop.num_calls(),
            publish.num_calls(),
            release.num_calls(),
            mark.num_calls()
        ),
        (1, 3, 1, 0)
    );

    // Lambda's retry: already stopping; it claims, notifies and records it.
    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());
    assert_eq!(
        report.outcome,
        Outcome::AlreadyEnded("STOPPING".to_string())
    );
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(
        (stop.num_calls(), publish.num_calls(), mark.num_calls()),
        (1, 4, 1)
    );

    // A late duplicate of the same event: nothing more.
    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());
    assert_eq!(report.notification, Notification::AlreadySent);
    assert_eq!((stop.num_calls(), publish.num_calls()), (1, 4));
}

#[tokio::test]
async fn still_provisioning_when_the_budget_runs_out_fails_as_retryable() {
    let get = get_session(SessionStatus::Provisioning);
    let stop = stop_ok();
    let guard = guard(policy(), &[&get, &stop], &[], &[]);
    let mut event = event(CREATE_SESSION);
    event.context = context(Duration::from_millis(300));

    let started = std::time::Instant::now();
    let failure = handle(&guard, event).await.unwrap_err();

    assert!(
        matches!(failure, GuardError::StillStarting { .. }),
        "{failure}"
    );
    assert_eq!(failure.retry(), Retry::Retryable);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(get.num_calls() > 2);
    assert_eq!(stop.num_calls(), 0);
}

#[tokio::test]
async fn delete_waits_for_the_stop_to_finish() {
    let mut policy = policy();
    policy.enforcement.action = policy::EnforcementAction::Delete;
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let delete = mock!(aws_sdk_glue::Client::delete_session)
        .sequence()
        .http_status(400, Some(ILLEGAL_STATE.to_string()))
        .times(2)
        .output(|| DeleteSessionOutput::builder().id(ID).build())
        .build();
    let (publish, sent) = publish_recorded();
    let guard = guard(policy, &[&get, &stop, &delete], &[&publish], &[]);

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.action, Action::Delete);
    assert_eq!(report.outcome, Outcome::Stopped);
    assert!(report.deleted);
    assert_eq!((stop.num_calls(), delete.num_calls()), (1, 3));
    let sent = sent.lock().unwrap();
    assert!(testkit::mocked::published_text(&sent[0]).contains("it is being deleted"));
}

#[tokio::test]
async fn audit_mode_notifies_once_and_never_stops() {
    let mut policy = policy();
    policy.enforcement.mode = policy::Mode::Audit;
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let claims = Arc::new(Mutex::new(Vec::<PutItemInput>::new()));
    let record = claims.clone();
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(move |input| {
            record.lock().unwrap().push(input.clone());
            true
        })
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .http_response(|| http_response(400, CONDITION_FAILED))
        .repeatedly()
        .build();
    let (mark, state) = (marked_sent(), ledger_says("sent"));
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy, &[&get, &stop], &[&publish], &[]),
        &[&claim, &mark, &state],
    );

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());
    assert_eq!(report.outcome, Outcome::NotStopped);
    assert_eq!(report.notification, Notification::Sent);
    let again = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());
    assert_eq!(again.notification, Notification::AlreadySent);

    assert_eq!(stop.num_calls(), 0);
    let claims = claims.lock().unwrap();
    assert_eq!(
        claims[0].item().unwrap()["session"],
        AttributeValue::S(format!("{ID}/audit"))
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert!(testkit::mocked::published_text(&sent[0]).contains("The session was NOT stopped"));
    assert!(sent[0].subject().unwrap().ends_with("NOT stopped (audit)"));
}

#[tokio::test]
async fn exempt_and_overridden_creators_are_left_alone() {
    let get = get_session(SessionStatus::Ready);
    let stop = stop_ok();
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get, &stop], &[&publish], &[]);

    let exempt = session_report(
        handle(&guard, event_by("BreakGlass", "carol"))
            .await
            .unwrap(),
    );
    assert_eq!(exempt.decision, Decision::Exempt);
    assert_eq!(
        exempt.rules.len(),
        3,
        "exempt violations are still reported in the log"
    );
    assert_eq!(exempt.outcome, Outcome::LeftAlone);

    let admin = session_report(
        handle(&guard, event_by("DataPlatformAdmin", "bob"))
            .await
            .unwrap(),
    );
    assert_eq!(admin.decision, Decision::Compliant);
    assert_eq!(admin.override_name.as_deref(), Some("platform-admins"));

    assert_eq!(stop.num_calls(), 0);
    assert!(sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_and_unrelated_events_are_ignored() {
    let get = get_session(SessionStatus::Ready);
    let guard = guard(policy(), &[&get], &[], &[]);
    let mut failed_call: Value = serde_json::from_str(CREATE_SESSION).unwrap();
    failed_call["detail"]["errorCode"] = json!("AccessDeniedException");
    let mut other_call: Value = serde_json::from_str(CREATE_SESSION).unwrap();
    other_call["detail"]["eventName"] = json!("StopSession");
    let payloads = [
        json!(42),
        json!({"hello": "world"}),
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.glue", "detail": "text"}),
        serde_json::from_str(UNRELATED).unwrap(),
        failed_call,
        other_call,
    ];
    for payload in payloads {
        let shown = payload.to_string();
        let response = handle(
            &guard,
            LambdaEvent::new(payload, context(Duration::from_secs(60))),
        )
        .await
        .unwrap();
        assert!(
            matches!(response, Response::Ignored { .. }),
            "{shown}: {response:?}"
        );
    }
    assert_eq!(get.num_calls(), 0);
}

fn listed(id: &str, status: SessionStatus, age: Duration) -> Session {
    let mut session = session(id, status);
    session.created_on = Some(DateTime::from(SystemTime::now() - age));
    session
}

fn creation_record(id: &str, role: &str) -> String {
    let payload = CreateSession::fixture()
        .by(role, "x")
        .of_session(id)
        .payload();
    payload["detail"].to_string()
}

#[tokio::test]
async fn the_sweep_judges_running_sessions_as_the_real_time_path_would() {
    let hour = Duration::from_secs(3600);
    let first_page = mock!(aws_sdk_glue::Client::list_sessions)
        .match_requests(|input| input.next_token().is_none())
        .then_output(move || {
            ListSessionsOutput::builder()
                .sessions(listed("nb-admin", SessionStatus::Ready, hour))
                .sessions(listed("nb-done", SessionStatus::Stopped, hour))
                .next_token("page-2")
                .build()
        });
    let second_page = mock!(aws_sdk_glue::Client::list_sessions)
        .match_requests(|input| input.next_token() == Some("page-2"))
        .then_output(move || {
            ListSessionsOutput::builder()
                .sessions(listed("nb-unknown", SessionStatus::Ready, hour))
                .sessions(listed(
                    "nb-young",
                    SessionStatus::Provisioning,
                    Duration::from_secs(60),
                ))
                .build()
        });
    let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        LookupEventsOutput::builder()
            .events(
                aws_sdk_cloudtrail::types::Event::builder()
                    .event_name("CreateSession")
                    .cloud_trail_event(creation_record("nb-admin", "DataPlatformAdmin"))
                    .build(),
            )
            .build()
    });
    let stop = mock!(aws_sdk_glue::Client::stop_session)
        .match_requests(|input| input.id() == Some("nb-unknown"))
        .then_output(|| StopSessionOutput::builder().build());
    let tags = tags(&[]);
    let (publish, sent) = publish_recorded();
    let guard = guard(
        policy(),
        &[&first_page, &second_page, &stop, &tags],
        &[&publish],
        &[&lookup],
    );

    let Response::Sweep(sweep) = handle(&guard, event(SCHEDULED)).await.unwrap() else {
        panic!("expected a sweep report");
    };

    assert_eq!(
        (sweep.listed, sweep.judged, sweep.creators_found),
        (4, 3, 1)
    );
    let by_id: HashMap<&str, &SessionReport> = sweep
        .sessions
        .iter()
        .map(|r| (r.session_id.as_str(), r))
        .collect();
    let admin = by_id["nb-admin"];
    assert_eq!(
        (admin.decision, admin.creator),
        (Decision::Compliant, Creator::CloudTrail)
    );
    assert_eq!(admin.override_name.as_deref(), Some("platform-admins"));
    let unknown = by_id["nb-unknown"];
    assert_eq!(
        (unknown.decision, unknown.creator),
        (Decision::Violation, Creator::Unknown)
    );
    assert_eq!(unknown.outcome, Outcome::Stopped);
    assert_eq!(by_id["nb-young"].outcome, Outcome::Deferred);
    assert_eq!((stop.num_calls(), lookup.num_calls()), (1, 1));

    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let body = testkit::mocked::published_text(&sent[0]);
    assert!(body.contains("Found by:  the scheduled sweep"), "{body}");
    assert!(body.contains("judged by the default boundaries"), "{body}");
    assert_eq!(attribute(&sent[0], "principal"), "unknown");
}

#[tokio::test]
async fn the_sweep_fails_as_retryable_when_cloudtrail_cannot_be_read() {
    let list = mock!(aws_sdk_glue::Client::list_sessions).then_output(|| {
        ListSessionsOutput::builder()
            .sessions(listed(
                "nb-unknown",
                SessionStatus::Ready,
                Duration::from_secs(3600),
            ))
            .build()
    });
    let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let stop = stop_ok();
    let guard = guard(policy(), &[&list, &stop], &[], &[&lookup]);

    let failure = handle(&guard, event(SCHEDULED)).await.unwrap_err();

    assert_eq!(failure.retry(), Retry::Retryable);
    assert_eq!(stop.num_calls(), 0);
}

#[tokio::test]
async fn the_sweep_does_not_wait_for_a_session_another_invocation_is_notifying() {
    let list = mock!(aws_sdk_glue::Client::list_sessions).then_output(|| {
        ListSessionsOutput::builder()
            .sessions(listed(
                "nb-unknown",
                SessionStatus::Ready,
                Duration::from_secs(3600),
            ))
            .build()
    });
    let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(|| LookupEventsOutput::builder().build());
    let (stop, tags) = (stop_ok(), tags(&[]));
    let (claim, state) = (claim_taken(), ledger_says("sending"));
    let (publish, sent) = publish_recorded();
    let guard = with_ledger(
        guard(policy(), &[&list, &stop, &tags], &[&publish], &[&lookup]),
        &[&claim, &state],
    );

    let Response::Sweep(sweep) = handle(&guard, event(SCHEDULED)).await.unwrap() else {
        panic!("expected a sweep report");
    };

    let report = &sweep.sessions[0];
    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::ClaimedElsewhere);
    assert_eq!((claim.num_calls(), state.num_calls()), (1, 1), "no waiting");
    assert!(sent.lock().unwrap().is_empty());
}

// ---- Usage profiles: moto has no usage-profile API, so GetUsageProfile is mocked here. ----

const PROFILE: &str = "notebooks-small";
const ACCESS_DENIED: &str = r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: glue:GetUsageProfile"}"#;
const NO_PROFILE: &str =
    r#"{"__type":"EntityNotFoundException","message":"Usage profile not found"}"#;

/// The fixture event with the timeout left out (the usage profile's default applies).
fn event_without_timeout() -> LambdaEvent<Value> {
    let mut payload: Value = serde_json::from_str(CREATE_SESSION).unwrap();
    payload["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("timeout");
    LambdaEvent::new(payload, context(Duration::from_secs(60)))
}

/// `GetSession`: a session within bounds (2 x G.1X), created under the usage profile, or with
/// `workers` workers.
fn profiled_session(workers: i32) -> Rule {
    mock!(aws_sdk_glue::Client::get_session).then_output(move || {
        GetSessionOutput::builder()
            .session(
                Session::builder()
                    .id(ID)
                    .status(SessionStatus::Ready)
                    .worker_type(WorkerType::G1X)
                    .number_of_workers(workers)
                    .glue_version("4.0")
                    .idle_timeout(30)
                    .profile_name(PROFILE)
                    .build(),
            )
            .build()
    })
}

/// `GetUsageProfile` for [`PROFILE`] with a `timeout` default of `minutes`.
fn usage_profile(minutes: &'static str) -> Rule {
    use aws_sdk_glue::operation::get_usage_profile::GetUsageProfileOutput;
    use aws_sdk_glue::types::{ConfigurationObject, ProfileConfiguration};
    mock!(aws_sdk_glue::Client::get_usage_profile)
        .match_requests(|input| input.name() == Some(PROFILE))
        .then_output(move || {
            GetUsageProfileOutput::builder()
                .name(PROFILE)
                .configuration(
                    ProfileConfiguration::builder()
                        .session_configuration(
                            "timeout",
                            ConfigurationObject::builder()
                                .default_value(minutes)
                                .max_value("2880")
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
}

fn usage_profile_fails(body: &'static str) -> Rule {
    mock!(aws_sdk_glue::Client::get_usage_profile)
        .then_http_response(move || http_response(400, body))
}

#[tokio::test]
async fn a_usage_profile_default_over_the_limit_is_stopped_and_the_profile_is_cached() {
    let (get, read, stop) = (profiled_session(2), usage_profile("600"), stop_ok());
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get, &read, &stop], &[&publish], &[]);

    let report = session_report(handle(&guard, event_without_timeout()).await.unwrap());
    assert_eq!(report.decision, Decision::Violation);
    assert_eq!(report.rules, ["max_timeout_minutes"]);
    assert_eq!(report.outcome, Outcome::Stopped);
    let body = testkit::mocked::published_text(&sent.lock().unwrap()[0]);
    assert!(
        body.contains("timeout of 600 minutes; at most 480 allowed (the default of usage profile \"notebooks-small\": the creator did not set it)"),
        "{body}"
    );

    // The warm container reads the profile once.
    let again = session_report(handle(&guard, event_without_timeout()).await.unwrap());
    assert_eq!(again.rules, ["max_timeout_minutes"]);
    assert_eq!(
        read.num_calls(),
        1,
        "the second judgement used the cached profile"
    );
}

#[tokio::test]
async fn a_usage_profile_default_within_the_limit_is_compliant() {
    let (get, read, stop) = (profiled_session(2), usage_profile("60"), stop_ok());
    let guard = guard(policy(), &[&get, &read, &stop], &[], &[]);
    let report = session_report(handle(&guard, event_without_timeout()).await.unwrap());
    assert_eq!(report.decision, Decision::Compliant, "{report:?}");
    assert_eq!(report.outcome, Outcome::LeftAlone);
    assert_eq!((read.num_calls(), stop.num_calls()), (1, 0));
}

#[tokio::test]
async fn an_unreadable_usage_profile_never_stops_on_a_guess() {
    for (body, why) in [(NO_PROFILE, "not found"), (ACCESS_DENIED, "access denied")] {
        let (get, read, stop) = (profiled_session(2), usage_profile_fails(body), stop_ok());
        let guard = guard(policy(), &[&get, &read, &stop], &[], &[]);
        let report = session_report(handle(&guard, event_without_timeout()).await.unwrap());
        assert_eq!(report.decision, Decision::Compliant, "{why}: {report:?}");
        assert_eq!(stop.num_calls(), 0, "{why}");
        assert_eq!(read.num_calls(), 1, "{why}");
    }
}

#[tokio::test]
async fn an_unreadable_usage_profile_still_stops_what_the_creator_asked_for() {
    // 50 workers were asked for explicitly: no profile default is needed to see that.
    let (get, read, stop) = (
        profiled_session(50),
        usage_profile_fails(ACCESS_DENIED),
        stop_ok(),
    );
    let (publish, sent) = publish_recorded();
    let guard = guard(policy(), &[&get, &read, &stop], &[&publish], &[]);
    let report = session_report(handle(&guard, event_without_timeout()).await.unwrap());
    assert_eq!(report.rules, ["max_workers", "max_dpu"]);
    assert_eq!(report.outcome, Outcome::Stopped);
    let body = testkit::mocked::published_text(&sent.lock().unwrap()[0]);
    assert!(
        body.contains("Not checked: max_timeout_minutes: left out by the creator, and usage profile \"notebooks-small\" supplies it, and the profile could not be read: GetUsageProfile was denied (AccessDeniedException)"),
        "{body}"
    );
}

// ---- The central topic: the same notification, exactly once there as well. ----

const CENTRAL: &str = "arn:aws:sns:eu-west-1:111122223333:glue-guard-central";

/// The guard with `CENTRAL_TOPIC_ARN` set.
fn with_central_topic(mut guard: Guard) -> Guard {
    guard.settings.central_topic_arn = Some(CENTRAL.to_string());
    guard
}

fn text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(text) => text.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The ledger key a claim (`PutItem`) is for.
fn claimed_key(input: &PutItemInput) -> String {
    text(&input.item().unwrap()["session"])
}

/// Whether a claim is the central topic's.
fn claims_central(input: &PutItemInput) -> bool {
    claimed_key(input).ends_with("/central")
}

/// Records what a rule is asked, through `key`.
fn recorder<T>(key: fn(&T) -> String) -> (Arc<Mutex<Vec<String>>>, impl Fn(&T) -> bool) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    (seen, move |input: &T| {
        record.lock().unwrap().push(key(input));
        true
    })
}

/// Claims granted, each recorded by its key.
fn claims_recorded() -> (Rule, Arc<Mutex<Vec<String>>>) {
    let (seen, record) = recorder::<PutItemInput>(claimed_key);
    let rule = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(record)
        .then_output(|| PutItemOutput::builder().build());
    (rule, seen)
}

/// `sent` recorded, each by its key.
fn marks_recorded() -> (Rule, Arc<Mutex<Vec<String>>>) {
    let (seen, record) =
        recorder::<UpdateItemInput>(|input| text(&input.key().unwrap()["session"]));
    let rule = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(record)
        .then_output(|| UpdateItemOutput::builder().build());
    (rule, seen)
}

/// Claims released, each recorded by its key.
fn releases_recorded() -> (Rule, Arc<Mutex<Vec<String>>>) {
    let (seen, record) =
        recorder::<DeleteItemInput>(|input| text(&input.key().unwrap()["session"]));
    let rule = mock!(aws_sdk_dynamodb::Client::delete_item)
        .match_requests(record)
        .then_output(|| DeleteItemOutput::builder().build());
    (rule, seen)
}

fn attributes(input: &PublishInput) -> Vec<(String, String)> {
    let mut attributes: Vec<(String, String)> = input
        .message_attributes()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.string_value().unwrap().to_string()))
        .collect();
    attributes.sort();
    attributes
}

#[tokio::test]
async fn a_central_topic_gets_the_same_notification_once_after_the_own_topic() {
    let (get, stop) = (get_session(SessionStatus::Ready), stop_ok());
    let (publish, sent) = publish_recorded();
    let (claim, claims) = claims_recorded();
    let (mark, marks) = marks_recorded();
    let guard = with_central_topic(with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &mark],
    ));

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::Sent);
    assert_eq!(stop.num_calls(), 1);
    // One claim per topic, the own topic's key as it always was, each marked sent.
    let own_key = format!("{ID}/enforce");
    let central_key = format!("{ID}/enforce/central");
    assert_eq!(
        *claims.lock().unwrap(),
        [own_key.as_str(), central_key.as_str()]
    );
    assert_eq!(
        *marks.lock().unwrap(),
        [own_key.as_str(), central_key.as_str()]
    );
    // One publish per topic, own first, the same message to both.
    let sent = sent.lock().unwrap();
    let topics: Vec<_> = sent
        .iter()
        .map(|input| input.topic_arn().unwrap())
        .collect();
    assert_eq!(topics, [TOPIC, CENTRAL]);
    let (own, central) = (&sent[0], &sent[1]);
    assert_eq!(
        central.subject(),
        Some("[glue-session-guard] Glue session nb-alice-big out of bounds: stopped")
    );
    assert_eq!(central.subject(), own.subject());
    assert_eq!(central.message(), own.message());
    assert_eq!(attributes(central), attributes(own));
    // Where it comes from: the invocation's account and Region.
    assert_eq!(attribute(central, "account"), "123456789012");
    assert_eq!(attribute(central, "region"), "us-east-1");
    let body = testkit::mocked::published_text(central);
    assert!(
        body.contains("\nAccount:   123456789012, Region: us-east-1\n"),
        "{body}"
    );
}

#[tokio::test]
async fn a_failed_central_publish_fails_retryably_and_its_retry_publishes_only_there() {
    let get = ready_then_stopping();
    let stop = stop_ok();
    let own_publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|input| input.topic_arn() == Some(TOPIC))
        .then_output(|| PublishOutput::builder().message_id("m-own").build());
    let central_publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|input| input.topic_arn() == Some(CENTRAL))
        .sequence()
        .http_status(500, None)
        .times(3)
        .output(|| PublishOutput::builder().message_id("m-central").build())
        .repeatedly()
        .build();
    // The ledger, per topic: a claim is granted until the topic's item is marked sent, then
    // refused (and the item reads `sent`). The central claim is granted twice: the one that is
    // released after the failed publish, and the retry's.
    let own_claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|input| !claims_central(input))
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .http_response(|| http_response(400, CONDITION_FAILED))
        .repeatedly()
        .build();
    let central_claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(claims_central)
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .times(2)
        .http_response(|| http_response(400, CONDITION_FAILED))
        .repeatedly()
        .build();
    let state = ledger_says("sent");
    let (mark, marks) = marks_recorded();
    let (release, releases) = releases_recorded();
    let guard = with_central_topic(with_ledger(
        guard(
            policy(),
            &[&get, &stop],
            &[&own_publish, &central_publish],
            &[],
        ),
        &[&own_claim, &central_claim, &state, &mark, &release],
    ));
    let own_key = format!("{ID}/enforce");
    let central_key = format!("{ID}/enforce/central");

    // First delivery: stopped, the own topic notified and recorded, but the central topic keeps
    // failing: the invocation fails, retryable, and gives the central claim back.
    let failure = handle(&guard, event(CREATE_SESSION)).await.unwrap_err();
    assert_eq!(failure.retry(), Retry::Retryable);
    assert!(
        matches!(
            &failure,
            GuardError::Aws {
                operation: "Publish",
                ..
            }
        ),
        "{failure}"
    );
    assert!(
        failure
            .to_string()
            .starts_with("Publish for nb-alice-big to the central topic failed"),
        "{failure}"
    );
    assert_eq!(
        (
            stop.num_calls(),
            own_publish.num_calls(),
            central_publish.num_calls()
        ),
        (1, 1, 3)
    );
    assert_eq!(*marks.lock().unwrap(), [own_key.as_str()]);
    assert_eq!(*releases.lock().unwrap(), [central_key.as_str()]);

    // Lambda's retry: already stopping; the own topic's notification is already sent, so only
    // the central topic is published to. The report keeps the own topic's state.
    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());
    assert_eq!(
        report.outcome,
        Outcome::AlreadyEnded("STOPPING".to_string())
    );
    assert_eq!(report.notification, Notification::AlreadySent);
    assert_eq!(
        (
            stop.num_calls(),
            own_publish.num_calls(),
            central_publish.num_calls()
        ),
        (1, 1, 4)
    );
    assert_eq!(
        *marks.lock().unwrap(),
        [own_key.as_str(), central_key.as_str()]
    );

    // A late duplicate of the same event: nothing more, to either topic.
    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());
    assert_eq!(report.notification, Notification::AlreadySent);
    assert_eq!(
        (own_publish.num_calls(), central_publish.num_calls()),
        (1, 4)
    );
    assert_eq!(releases.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_central_topic_only_the_own_topic_is_claimed_and_published_to() {
    let (get, stop) = (get_session(SessionStatus::Ready), stop_ok());
    let (publish, sent) = publish_recorded();
    let (claim, claims) = claims_recorded();
    let (mark, marks) = marks_recorded();
    let guard = with_ledger(
        guard(policy(), &[&get, &stop], &[&publish], &[]),
        &[&claim, &mark],
    );
    assert_eq!(guard.settings.central_topic_arn, None);

    let report = session_report(handle(&guard, event(CREATE_SESSION)).await.unwrap());

    assert_eq!(report.notification, Notification::Sent);
    let own_key = format!("{ID}/enforce");
    assert_eq!(*claims.lock().unwrap(), [own_key.as_str()]);
    assert_eq!(*marks.lock().unwrap(), [own_key.as_str()]);
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].topic_arn(), Some(TOPIC));
    assert_eq!(attribute(&sent[0], "account"), "123456789012");
    assert_eq!(attribute(&sent[0], "region"), "us-east-1");
}

#[tokio::test]
async fn the_sweep_leaves_only_the_topic_claimed_elsewhere_to_the_next_sweep() {
    let list = mock!(aws_sdk_glue::Client::list_sessions).then_output(|| {
        ListSessionsOutput::builder()
            .sessions(listed(
                "nb-unknown",
                SessionStatus::Ready,
                Duration::from_secs(3600),
            ))
            .build()
    });
    let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(|| LookupEventsOutput::builder().build());
    let (stop, tags) = (stop_ok(), tags(&[]));
    // The own topic's claim is held by the real-time invocation, which is publishing; the
    // central topic's is free.
    let own_claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|input| !claims_central(input))
        .then_http_response(|| http_response(400, CONDITION_FAILED));
    let central_claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(claims_central)
        .then_output(|| PutItemOutput::builder().build());
    let (state, mark) = (ledger_says("sending"), marked_sent());
    let (publish, sent) = publish_recorded();
    let guard = with_central_topic(with_ledger(
        guard(policy(), &[&list, &stop, &tags], &[&publish], &[&lookup]),
        &[&own_claim, &central_claim, &state, &mark],
    ));

    let Response::Sweep(sweep) = handle(&guard, event(SCHEDULED)).await.unwrap() else {
        panic!("expected a sweep report");
    };

    let report = &sweep.sessions[0];
    assert_eq!(report.outcome, Outcome::Stopped);
    assert_eq!(report.notification, Notification::ClaimedElsewhere);
    assert_eq!(
        (own_claim.num_calls(), state.num_calls()),
        (1, 1),
        "no waiting"
    );
    assert_eq!((central_claim.num_calls(), mark.num_calls()), (1, 1));
    let sent = sent.lock().unwrap();
    let topics: Vec<_> = sent
        .iter()
        .map(|input| input.topic_arn().unwrap())
        .collect();
    assert_eq!(topics, [CENTRAL]);
}
