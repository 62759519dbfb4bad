//! Load against a real moto server: many `CreateSession` events handled at once (a third out of
//! bounds, a tenth delivered twice), then a sweep for the events that never came. Every
//! out-of-bounds session must be stopped and notified exactly once (with one `sent` item in the
//! notification ledger, a real DynamoDB table in moto), every compliant one left running and
//! out of the ledger.
//!
//! `GSG_LOAD_SESSIONS` sets the number of sessions (default 60, so CI stays fast). Full size:
//! `GSG_LOAD_SESSIONS=1000 cargo test -p glue-session-guard-lambda --test load`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use glue_session_guard_lambda::report::{Notification, Outcome, SessionReport};
use glue_session_guard_lambda::{Guard, GuardError, Response, handle};
use lambda_runtime::{Context, LambdaEvent};
use policy::{Decision, Policy};
use serde_json::{Value, json};
use testkit::{CreateSession, MotoServer, NewSession, Resources, World, events};

/// This test's own region in moto (the other moto tests use others).
const REGION: &str = "ca-central-1";
/// Events handled at the same time, as concurrent Lambda invocations would.
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 2 G.1X workers, Glue 4.0: within the default boundaries.
    Compliant,
    /// 50 G.8X workers, Glue 3.0: breaks the default boundaries, also as the sweep sees it
    /// (moto's sessions report no workers, so there only the Glue version gives it away).
    OutOfBounds,
}

/// How a session's `CreateSession` event reaches the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Never: the sweep must find the session.
    Lost,
    Once,
    /// Twice, the second right after the first, so both are handled at the same time (an
    /// EventBridge duplicate).
    TwiceAtOnce,
    /// Twice, the second after every other event (a late redelivery or retry).
    TwiceLate,
}

#[derive(Debug)]
struct Planned {
    id: String,
    kind: Kind,
    delivery: Delivery,
}

/// Which sessions exist and in which order their events arrive.
struct LoadPlan {
    sessions: Vec<Planned>,
    /// Indices into `sessions`, in delivery order; a duplicate appears twice.
    deliveries: Vec<usize>,
}

impl LoadPlan {
    /// `count` sessions, every third out of bounds; a tenth of the out-of-bounds events lost;
    /// every tenth session's event delivered twice: alternately right after the first delivery
    /// (so both are handled at the same time) or at the end (a late redelivery).
    fn new(count: usize, run: &str) -> LoadPlan {
        let mut sessions = Vec::new();
        let (mut deliveries, mut late) = (Vec::new(), Vec::new());
        for i in 0..count {
            let kind = if i % 3 == 0 {
                Kind::OutOfBounds
            } else {
                Kind::Compliant
            };
            let delivery = match i {
                _ if kind == Kind::OutOfBounds && (i / 3) % 10 == 9 => Delivery::Lost,
                _ if i % 20 == 0 => Delivery::TwiceAtOnce,
                _ if i % 20 == 10 => Delivery::TwiceLate,
                _ => Delivery::Once,
            };
            match delivery {
                Delivery::Lost => {}
                Delivery::Once => deliveries.push(i),
                Delivery::TwiceAtOnce => deliveries.extend([i, i]),
                Delivery::TwiceLate => {
                    deliveries.push(i);
                    late.push(i);
                }
            }
            sessions.push(Planned {
                id: format!("ld-{run}-{i:04}"),
                kind,
                delivery,
            });
        }
        deliveries.extend(late);
        LoadPlan {
            sessions,
            deliveries,
        }
    }

    fn lost(&self) -> impl Iterator<Item = &Planned> {
        self.sessions
            .iter()
            .filter(|s| s.delivery == Delivery::Lost)
    }
}

/// The number of sessions: `GSG_LOAD_SESSIONS`, default 60.
fn session_count() -> usize {
    match std::env::var("GSG_LOAD_SESSIONS") {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 30)
            .unwrap_or_else(|| panic!("GSG_LOAD_SESSIONS={value}: expected a number, at least 30")),
        _ => 60,
    }
}

/// The fixture policy, with a default `max_dpu` above the 123.0 that moto reports as every
/// session's `MaxCapacity` (so the sweep judges compliant sessions by their real limits).
fn policy() -> Policy {
    let mut policy = testkit::policy();
    policy.boundaries.max_dpu = Some(150.0);
    policy
}

/// moto's Glue, SNS and SQS in this test's region, a topic and a queue subscribed to it, and
/// the ledger table, all named after the run.
async fn world_of_run(run: &str) -> World {
    let name = format!("gsg-load-{run}");
    let names = Resources {
        topic: &name,
        queue: &name,
        ledger_table: &name,
    };
    World::new(MotoServer::Shared, REGION, names).await
}

/// Creates the session in moto (its reply is empty: the id is ours).
async fn create(world: &World, session: &Planned) {
    let (worker_type, workers, glue_version) = shape(session.kind);
    let new = NewSession {
        id: &session.id,
        worker_type,
        workers,
        glue_version,
        owner: "load",
    };
    world.create_session(&new).await;
}

/// The states of each session's ledger items (`session_id` → states).
async fn ledger_states(world: &World) -> HashMap<String, Vec<String>> {
    world
        .ledger_items()
        .await
        .into_iter()
        .map(|(id, items)| (id, items.into_iter().map(|(_, state)| state).collect()))
        .collect()
}

/// The `session_id` of every notification in the queue (read and deleted), counted.
async fn notifications_by_session(world: &World) -> HashMap<String, usize> {
    let mut counted = HashMap::new();
    for envelope in world.take_notifications().await {
        let id = envelope["MessageAttributes"]["session_id"]["Value"]
            .as_str()
            .unwrap_or("(none)")
            .to_string();
        *counted.entry(id).or_default() += 1;
    }
    counted
}

/// Worker type, workers and Glue version of a session of `kind`.
fn shape(kind: Kind) -> (&'static str, i32, &'static str) {
    match kind {
        Kind::Compliant => ("G.1X", 2, "4.0"),
        Kind::OutOfBounds => ("G.8X", 50, "3.0"),
    }
}

fn context() -> Context {
    events::context("load-test", REGION, Duration::from_secs(120))
}

/// The CloudTrail record of the session's creation by an analyst, in its EventBridge envelope.
fn create_event(session: &Planned) -> LambdaEvent<Value> {
    let (worker_type, workers, version) = shape(session.kind);
    let mut event = CreateSession::fixture().in_region(REGION).payload();
    let detail = &mut event["detail"];
    let shaped = |part: &mut Value| {
        part["id"] = json!(session.id);
        part["workerType"] = json!(worker_type);
        part["numberOfWorkers"] = json!(workers);
        part["glueVersion"] = json!(version);
    };
    shaped(&mut detail["requestParameters"]);
    shaped(&mut detail["responseElements"]["session"]);
    let dpu_per_worker = if worker_type == "G.8X" { 8.0 } else { 1.0 };
    detail["responseElements"]["session"]["maxCapacity"] =
        json!(f64::from(workers) * dpu_per_worker);
    LambdaEvent::new(event, context())
}

fn sweep_event() -> LambdaEvent<Value> {
    LambdaEvent::new(events::scheduled(REGION), context())
}

/// Hands the events to `handle` from `CONCURRENCY` tasks at once; the results in completion
/// order, each with its session's index.
async fn deliver_concurrently(
    guard: Arc<Guard>,
    events: Vec<(usize, LambdaEvent<Value>)>,
) -> Vec<(usize, Result<Response, GuardError>)> {
    let queue = Arc::new(Mutex::new(VecDeque::from(events)));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (queue, guard) = (queue.clone(), guard.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop_front();
                    let Some((index, event)) = next else {
                        return results;
                    };
                    results.push((index, handle(&guard, event).await));
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for worker in workers {
        results.extend(worker.await.unwrap());
    }
    results
}

fn report_of(result: &Result<Response, GuardError>) -> Result<&SessionReport, String> {
    match result {
        Ok(Response::Session(report)) => Ok(report),
        Ok(other) => Err(format!("not a session report: {other:?}")),
        Err(failure) => Err(format!("failed: {failure}")),
    }
}

#[tokio::test]
async fn concurrent_and_duplicate_events_then_the_sweep_stop_each_session_exactly_once() {
    let count = session_count();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let run = format!("{:06x}", (nanos ^ std::process::id()) & 0xff_ffff);
    let plan = LoadPlan::new(count, &run);
    let world = world_of_run(&run).await;
    for session in &plan.sessions {
        create(&world, session).await;
    }
    let guard = Arc::new(world.guard(policy()));
    let mut problems: Vec<String> = Vec::new();

    // Phase 1: the events that arrive, duplicates included, many at a time.
    let events = plan
        .deliveries
        .iter()
        .map(|&i| (i, create_event(&plan.sessions[i])))
        .collect();
    let results = deliver_concurrently(guard.clone(), events).await;
    assert_eq!(results.len(), plan.deliveries.len());
    let mut reports: HashMap<usize, Vec<&SessionReport>> = HashMap::new();
    for (index, result) in &results {
        match report_of(result) {
            Ok(report) => reports.entry(*index).or_default().push(report),
            Err(problem) => problems.push(format!("{}: {problem}", plan.sessions[*index].id)),
        }
    }
    let notified = notifications_by_session(&world).await;
    let ledger = ledger_states(&world).await;
    let ours = |id: &&String| id.starts_with(&format!("ld-{run}-"));
    for (index, session) in plan.sessions.iter().enumerate() {
        let id = &session.id;
        let seen = reports.get(&index).map(Vec::as_slice).unwrap_or_default();
        let stops = seen
            .iter()
            .filter(|r| r.outcome == Outcome::Stopped)
            .count();
        let sent = seen
            .iter()
            .filter(|r| r.notification == Notification::Sent)
            .count();
        let messages = notified.get(id).copied().unwrap_or(0);
        let status = world.status(id).await;
        let recorded = ledger.get(id).cloned().unwrap_or_default();
        let wanted = match (session.kind, session.delivery) {
            (Kind::Compliant, _) | (_, Delivery::Lost) => (0, 0, 0, "READY", vec![]),
            (Kind::OutOfBounds, _) => (1, 1, 1, "STOPPING", vec!["sent".to_string()]),
        };
        let got = (
            stops,
            sent,
            messages,
            status.as_deref().unwrap_or("GONE"),
            recorded,
        );
        if got != wanted {
            problems.push(format!(
                "{id} ({:?}, {:?}): (stops, notifications reported, notifications received, \
                 status, ledger) = {got:?}, expected {wanted:?}",
                session.kind, session.delivery
            ));
        }
        if session.kind == Kind::Compliant
            && seen
                .iter()
                .any(|r| r.decision != Decision::Compliant || r.outcome != Outcome::LeftAlone)
        {
            problems.push(format!("{id}: a compliant session was judged {seen:?}"));
        }
    }
    let strangers: Vec<_> = notified
        .keys()
        .filter(|id| ours(id) && !plan.sessions.iter().any(|s| &s.id == *id))
        .collect();
    if !strangers.is_empty() {
        problems.push(format!("notifications for unknown sessions: {strangers:?}"));
    }
    assert!(
        problems.is_empty(),
        "phase 1 ({count} sessions, {} deliveries): {} problems:\n{}",
        plan.deliveries.len(),
        problems.len(),
        problems.join("\n")
    );

    // Phase 2: the sweep finds the sessions whose event never came.
    let lost: Vec<&Planned> = plan.lost().collect();
    assert!(!lost.is_empty(), "the plan loses no event");
    let Response::Sweep(sweep) = handle(&guard, sweep_event()).await.unwrap() else {
        panic!("expected a sweep report");
    };
    let by_id: HashMap<&str, &SessionReport> = sweep
        .sessions
        .iter()
        .map(|r| (r.session_id.as_str(), r))
        .collect();
    let notified = notifications_by_session(&world).await;
    let ledger = ledger_states(&world).await;
    for session in &plan.sessions {
        let id = &session.id;
        let report = by_id.get(id.as_str());
        let judged = report.map(|r| (r.decision, r.outcome.clone()));
        let messages = notified.get(id).copied().unwrap_or(0);
        let status = world.status(id).await;
        let recorded = ledger.get(id).cloned().unwrap_or_default();
        let sent = vec!["sent".to_string()];
        let wanted = match (session.kind, session.delivery) {
            (Kind::OutOfBounds, Delivery::Lost) => (
                Some((Decision::Violation, Outcome::Stopped)),
                1,
                "STOPPING",
                sent,
            ),
            // Stopped in phase 1: no longer running, so not judged again.
            (Kind::OutOfBounds, _) => (None, 0, "STOPPING", sent),
            (Kind::Compliant, _) => (
                Some((Decision::Compliant, Outcome::LeftAlone)),
                0,
                "READY",
                vec![],
            ),
        };
        let got = (
            judged,
            messages,
            status.as_deref().unwrap_or("GONE"),
            recorded,
        );
        if got != wanted {
            problems.push(format!(
                "{id} ({:?}, {:?}): (sweep verdict, notifications, status, ledger) = {got:?}, \
                 expected {wanted:?}",
                session.kind, session.delivery
            ));
        }
    }
    let extra: usize = notified
        .iter()
        .filter(|(id, _)| ours(id) && !lost.iter().any(|s| &&s.id == id))
        .map(|(_, n)| n)
        .sum();
    if extra > 0 {
        problems.push(format!(
            "{extra} sweep notifications for sessions it should not have notified"
        ));
    }
    assert!(
        problems.is_empty(),
        "phase 2 (sweep; {} events lost): {} problems:\n{}",
        lost.len(),
        problems.len(),
        problems.join("\n")
    );
}
