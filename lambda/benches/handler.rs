//! Micro-benchmarks of the function's own work per event, AWS calls excluded: `handler::handle`
//! with SDK clients whose answers come from `aws-smithy-mocks` (no network, no emulator), for a
//! compliant `CreateSession` and for one that is out of bounds, stopped and notified.
//!
//! What is measured: the event's parsing, `GetSession` → facts, `policy::evaluate`, the
//! notification's text, the SDK's client pipeline for each call (serialisation, signing,
//! deserialising the mocked reply), the JSON log lines (formatted as in `main.rs`, written to a
//! sink) and the EMF metric lines. The function prints the EMF lines on stdout, so run it as
//! `cargo bench -p glue-session-guard-lambda --bench handler | grep -v '"_aws"'`
//! (`cargo xtask bench` reads criterion's `estimates.json` instead).

use std::hint::black_box;
use std::time::Duration;

use aws_sdk_glue::operation::get_session::GetSessionOutput;
use aws_sdk_glue::operation::stop_session::StopSessionOutput;
use aws_sdk_glue::types::SessionStatus;
use aws_smithy_mocks::{Rule, mock};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use glue_session_guard_lambda::report::{Notification, Outcome};
use glue_session_guard_lambda::{Guard, Response, Settings, handle};
use lambda_runtime::LambdaEvent;
use policy::Decision;
use serde_json::Value;
use testkit::mocked::{deployed_guard, published, session};
use testkit::{CreateSession, context};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:glue-session-guard";
const ID: &str = "nb-alice-big";

/// Which event, and what the handler must answer, so the bench never measures the wrong path.
struct BenchCase {
    name: &'static str,
    role: &'static str,
    decision: Decision,
    outcome: Outcome,
    notification: Notification,
}

const CASES: [BenchCase; 2] = [
    BenchCase {
        name: "compliant",
        role: "DataPlatformAdmin",
        decision: Decision::Compliant,
        outcome: Outcome::LeftAlone,
        notification: Notification::NotNeeded,
    },
    BenchCase {
        name: "out_of_bounds_stopped_notified",
        role: "Analyst",
        decision: Decision::Violation,
        outcome: Outcome::Stopped,
        notification: Notification::Sent,
    },
];

/// The guard the deployed function would be, with every AWS answer served from memory:
/// `GetSession` READY (50 G.8X workers, as the fixture asks), `StopSession`, the ledger's
/// `PutItem` (claim) and `UpdateItem` (sent), and `Publish` accepted.
fn guard() -> Guard {
    let get: Rule = mock!(aws_sdk_glue::Client::get_session).then_output(|| {
        GetSessionOutput::builder()
            .session(session(ID, SessionStatus::Ready))
            .build()
    });
    let stop = mock!(aws_sdk_glue::Client::stop_session)
        .then_output(|| StopSessionOutput::builder().id(ID).build());
    let settings = Settings {
        policy: testkit::policy(),
        topic_arn: TOPIC.to_string(),
        stack_name: "glue-session-guard".to_string(),
        ledger_table: "glue-session-guard-ledger".to_string(),
        central_topic_arn: None,
    };
    deployed_guard(&[&get, &stop], &[&published("m-1")], settings)
}

/// The fixture's CreateSession, made by an assumed role of `role`.
fn event(role: &str) -> LambdaEvent<Value> {
    let context = context("bench", "us-east-1", Duration::from_secs(24 * 3600));
    CreateSession::fixture().by(role, "x").with(context)
}

/// JSON log lines as `main.rs` formats them (INFO), written nowhere: their cost is the function's.
fn init_logs() {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::sink)
        .init();
}

fn handle_one_event(c: &mut Criterion) {
    init_logs();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let guard = guard();
    let mut group = c.benchmark_group("handle");
    group.throughput(Throughput::Elements(1));
    for case in &CASES {
        let event = event(case.role);
        // Once outside the measurement: the path taken is the one named.
        match runtime.block_on(handle(&guard, event.clone())) {
            Ok(Response::Session(report))
                if report.decision == case.decision
                    && report.outcome == case.outcome
                    && report.notification == case.notification => {}
            other => panic!("{}: unexpected answer {other:?}", case.name),
        }
        group.bench_function(case.name, |b| {
            b.iter_batched(
                || event.clone(),
                |event| black_box(runtime.block_on(handle(&guard, event))),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// How many sessions run in the account when a member of a team budget creates one: the
/// budget check lists and judges them all.
const RUNNING: usize = 50;

/// The guard of [`guard`] with a team budget the platform admins belong to, `RUNNING` running
/// sessions of theirs listed (`ListSessions`, 2 DPUs each: well within the cap), their creators
/// in the registry (`BatchGetItem`), and the registration (`UpdateItem`).
fn guard_with_budget() -> (Guard, Rule) {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_sdk_glue::operation::list_sessions::ListSessionsOutput;
    use aws_sdk_glue::primitives::DateTime;
    use aws_sdk_glue::types::{Session, SessionCommand, WorkerType};
    use aws_smithy_mocks::{RuleMode, mock_client};
    use std::collections::HashMap;
    use std::time::{SystemTime, UNIX_EPOCH};

    let mut policy = testkit::policy();
    policy.budgets = serde_json::from_str(
        r#"[{"name": "platform", "members": {"principals": ["arn:aws:iam::*:role/DataPlatformAdmin"]},
             "max_concurrent_dpu": 100000}]"#,
    )
    .expect("a budget");
    let created = SystemTime::now() - Duration::from_secs(3600);
    let created_ms = created.duration_since(UNIX_EPOCH).unwrap().as_millis();
    let running: Vec<Session> = (0..RUNNING)
        .map(|i| {
            Session::builder()
                .id(format!("nb-running-{i:03}"))
                .status(SessionStatus::Ready)
                .created_on(DateTime::from(created))
                .command(SessionCommand::builder().name("glueetl").build())
                .worker_type(WorkerType::G1X)
                .number_of_workers(2)
                .glue_version("5.0")
                .build()
        })
        .collect();
    let listed = running.clone();
    let list = mock!(aws_sdk_glue::Client::list_sessions).then_output(move || {
        ListSessionsOutput::builder()
            .set_sessions(Some(listed.clone()))
            .build()
    });
    // With its CreatedOn: a session without one is left to the sweep, and nothing is summed.
    let get: Rule = mock!(aws_sdk_glue::Client::get_session).then_output(move || {
        let mut created_now = session(ID, SessionStatus::Ready);
        created_now.created_on = Some(DateTime::from(SystemTime::now()));
        GetSessionOutput::builder().session(created_now).build()
    });
    let principal = r#"{"arn":"arn:aws:sts::123456789012:assumed-role/DataPlatformAdmin/x","issuer_arn":"arn:aws:iam::123456789012:role/DataPlatformAdmin"}"#;
    let registry = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_output(move || {
        let items = (0..RUNNING)
            .map(|i| {
                HashMap::from([
                    (
                        "session".to_string(),
                        AttributeValue::S(format!("holder/session/nb-running-{i:03}@{created_ms}")),
                    ),
                    (
                        "principal".to_string(),
                        AttributeValue::S(principal.to_string()),
                    ),
                ])
            })
            .collect();
        BatchGetItemOutput::builder()
            .responses("glue-session-guard-ledger", items)
            .build()
    });
    let register = mock!(aws_sdk_dynamodb::Client::update_item)
        .then_output(|| UpdateItemOutput::builder().build());
    let settings = Settings {
        policy,
        topic_arn: TOPIC.to_string(),
        stack_name: "glue-session-guard".to_string(),
        ledger_table: "glue-session-guard-ledger".to_string(),
        central_topic_arn: None,
    };
    let mut guard = deployed_guard(&[&get, &list], &[&published("m-1")], settings);
    guard.dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&registry, &register]);
    (guard, registry)
}

/// A compliant session of a team budget's member, with [`RUNNING`] sessions to sum: the added
/// work of a budget per event (`UpdateItem`, one `ListSessions` page, one `BatchGetItem`, each
/// listed session judged, the tally).
fn handle_one_event_in_a_budget(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let (guard, registry) = guard_with_budget();
    let event = event("DataPlatformAdmin");
    match runtime.block_on(handle(&guard, event.clone())) {
        Ok(Response::Session(report))
            if report.decision == Decision::Compliant && report.outcome == Outcome::LeftAlone => {}
        other => panic!("in_budget: unexpected answer {other:?}"),
    }
    // The budget was summed: the registry was read (one reading; the session fits).
    assert_eq!(
        registry.num_calls(),
        1,
        "in_budget: the budget path was not taken"
    );
    let mut group = c.benchmark_group("handle");
    group.throughput(Throughput::Elements(1));
    group.bench_function("compliant_in_budget_50_running", |b| {
        b.iter_batched(
            || event.clone(),
            |event| black_box(runtime.block_on(handle(&guard, event))),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short by default (a 2-core machine); `--quick` or `--measurement-time` override it.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = handle_one_event, handle_one_event_in_a_budget
}
criterion_main!(benches);
