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
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_glue::operation::get_session::GetSessionOutput;
use aws_sdk_glue::operation::stop_session::StopSessionOutput;
use aws_sdk_glue::types::{Session, SessionStatus, WorkerType};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use glue_session_guard_lambda::report::{Notification, Outcome};
use glue_session_guard_lambda::{Guard, Response, Settings, Timing, handle};
use lambda_runtime::{Context, LambdaEvent};
use policy::{Decision, Policy};
use serde_json::{Value, json};

const CREATE_SESSION: &str = include_str!("../fixtures/create_session_event.json");
const POLICY: &str = include_str!("../fixtures/policy.json");
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:glue-session-guard";
const ID: &str = "nb-alice-big";

/// Which event, and what the handler must answer, so the bench never measures the wrong path.
struct Case {
    name: &'static str,
    role: &'static str,
    decision: Decision,
    outcome: Outcome,
    notification: Notification,
}

const CASES: [Case; 2] = [
    Case {
        name: "compliant",
        role: "DataPlatformAdmin",
        decision: Decision::Compliant,
        outcome: Outcome::LeftAlone,
        notification: Notification::NotNeeded,
    },
    Case {
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
            .session(
                Session::builder()
                    .id(ID)
                    .status(SessionStatus::Ready)
                    .worker_type(WorkerType::G8X)
                    .number_of_workers(50)
                    .glue_version("4.0")
                    .idle_timeout(30)
                    .build(),
            )
            .build()
    });
    let stop = mock!(aws_sdk_glue::Client::stop_session)
        .then_output(|| StopSessionOutput::builder().id(ID).build());
    let claim =
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build());
    let sent = mock!(aws_sdk_dynamodb::Client::update_item)
        .then_output(|| UpdateItemOutput::builder().build());
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let policy: Policy = serde_json::from_str(POLICY).expect("the fixture policy");
    Guard {
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get, &stop]),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]),
        cloudtrail: mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[]),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&claim, &sent]),
        settings: Settings {
            policy,
            topic_arn: TOPIC.to_string(),
            stack_name: "glue-session-guard".to_string(),
            ledger_table: "glue-session-guard-ledger".to_string(),
        },
        timing: Timing::LAMBDA,
        profiles: Default::default(),
    }
}

/// The fixture's CreateSession, made by an assumed role of `role`.
fn event(role: &str) -> LambdaEvent<Value> {
    let mut payload: Value = serde_json::from_str(CREATE_SESSION).expect("the fixture event");
    let identity = &mut payload["detail"]["userIdentity"];
    identity["arn"] = json!(format!("arn:aws:sts::123456789012:assumed-role/{role}/x"));
    identity["sessionContext"]["sessionIssuer"]["arn"] =
        json!(format!("arn:aws:iam::123456789012:role/{role}"));
    let mut context = Context::default();
    context.request_id = "bench".to_string();
    context.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:gsg".to_string();
    context.deadline = (SystemTime::now() + Duration::from_secs(24 * 3600))
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    LambdaEvent::new(payload, context)
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

criterion_group! {
    name = benches;
    // Short by default (a 2-core machine); `--quick` or `--measurement-time` override it.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = handle_one_event
}
criterion_main!(benches);
