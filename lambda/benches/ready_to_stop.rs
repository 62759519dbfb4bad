//! How soon after a session turns `READY` the function stops it: an out-of-bounds session bills
//! every second it runs (100 x G.8X is about 6 USD a minute). Many sessions, each `PROVISIONING`
//! until a random moment, are handled at once by the real handler with Glue mocked
//! (`aws-smithy-mocks`) and the deployed function's timing ([`Timing::LAMBDA`]); for each, the
//! delay from the moment it turned `READY` to its `StopSession`, and how many `GetSession` calls
//! the wait cost.
//!
//! Prints one JSON line: `{"sessions", "median_ms", "worst_ms", "get_session_per_second"}`
//! (`cargo xtask bench` reads it). Real time, not a simulated clock: it runs for about the
//! longest provisioning time drawn (5 s).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_glue::operation::get_session::GetSessionOutput;
use aws_sdk_glue::operation::stop_session::StopSessionOutput;
use aws_sdk_glue::types::{Session, SessionStatus, WorkerType};
use aws_smithy_mocks::mock;
use glue_session_guard_lambda::report::Outcome;
use glue_session_guard_lambda::{Guard, Response, Settings, handle};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use testkit::mocked::{deployed_guard, published};
use testkit::{CreateSession, context};

const SESSIONS: usize = 40;
const LONGEST_PROVISIONING: Duration = Duration::from_secs(5);

/// One session's trial: when it turned READY, when StopSession came, how many GetSession calls.
struct Trial {
    ready_at: Instant,
    stopped_at: Arc<Mutex<Option<Instant>>>,
    looks: Arc<AtomicUsize>,
}

/// A guard whose Glue answers PROVISIONING until `ready_at`, then READY (50 G.8X workers:
/// out of bounds), and records the StopSession.
fn guard(trial: &Trial) -> Guard {
    let (ready_at, looks) = (trial.ready_at, trial.looks.clone());
    let get = mock!(aws_sdk_glue::Client::get_session)
        .match_requests(move |_| {
            looks.fetch_add(1, Ordering::Relaxed);
            true
        })
        .then_output(move || {
            let status = if Instant::now() >= ready_at {
                SessionStatus::Ready
            } else {
                SessionStatus::Provisioning
            };
            GetSessionOutput::builder()
                .session(
                    Session::builder()
                        .id("nb-alice-big")
                        .status(status)
                        .worker_type(WorkerType::G8X)
                        .number_of_workers(50)
                        .build(),
                )
                .build()
        });
    let stopped_at = trial.stopped_at.clone();
    let stop = mock!(aws_sdk_glue::Client::stop_session)
        .match_requests(move |_| {
            stopped_at.lock().unwrap().get_or_insert(Instant::now());
            true
        })
        .then_output(|| StopSessionOutput::builder().id("nb-alice-big").build());
    let settings = Settings {
        policy: testkit::policy(),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:gsg".to_string(),
        stack_name: "gsg".to_string(),
        ledger_table: "gsg-ledger".to_string(),
        central_topic_arn: None,
    };
    deployed_guard(&[&get, &stop], &[&published("m")], settings)
}

fn event() -> LambdaEvent<Value> {
    let context = context("bench", "us-east-1", Duration::from_secs(160));
    CreateSession::fixture().with(context)
}

/// A reproducible spread of moments in `[0, LONGEST_PROVISIONING)` (an LCG: no randomness
/// crate for one bench).
fn moments(count: usize) -> Vec<Duration> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let fraction = (state >> 11) as f64 / (1u64 << 53) as f64;
            LONGEST_PROVISIONING.mul_f64(fraction)
        })
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let start = Instant::now();
    let trials: Vec<Trial> = moments(SESSIONS)
        .into_iter()
        .map(|after| Trial {
            ready_at: start + after,
            stopped_at: Arc::default(),
            looks: Arc::default(),
        })
        .collect();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let mut running = tokio::task::JoinSet::new();
        for trial in &trials {
            let guard = guard(trial);
            running.spawn_local(async move { handle(&guard, event()).await });
        }
        while let Some(done) = running.join_next().await {
            match done.expect("the handler task") {
                Ok(Response::Session(report)) if report.outcome == Outcome::Stopped => {}
                other => panic!("a session was not stopped: {other:?}"),
            }
        }
    });
    let mut delays: Vec<f64> = trials
        .iter()
        .map(|trial| {
            let stopped = trial.stopped_at.lock().unwrap().expect("stopped");
            stopped
                .saturating_duration_since(trial.ready_at)
                .as_secs_f64()
                * 1000.0
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let looks: usize = trials.iter().map(|t| t.looks.load(Ordering::Relaxed)).sum();
    let waited: f64 = trials
        .iter()
        .map(|t| t.ready_at.duration_since(start).as_secs_f64())
        .sum();
    println!(
        "{}",
        serde_json::json!({
            "sessions": SESSIONS,
            "median_ms": delays[delays.len() / 2],
            "worst_ms": delays[delays.len() - 1],
            // Looks while provisioning, per second of provisioning, per session.
            "get_session_per_second": looks as f64 / waited.max(0.001),
        })
    );
}
