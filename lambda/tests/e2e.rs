//! End to end: the `bootstrap` this package builds, run as Lambda runs it (a process of its own
//! under a stand-in Runtime API, its settings in its environment, `AWS_ENDPOINT_URL` pointing at
//! a moto server of this test's own), gets the CreateSession fixture for an out-of-bounds session
//! made in moto, then the same event again (EventBridge delivers at least once). Checks both
//! answers (`stopped`/`sent`, then `already_ended`/`already_sent`), the session (`STOPPING`), the
//! ledger (one item, `sent`) and that exactly one notification reached the inbox.
//!
//! What this adds to `tests/moto.rs`: `main.rs` itself (settings read from the environment, the
//! SDK configured from it, the runtime loop) and the answer as Lambda gets it, in JSON. It needs
//! no `cargo lambda`: cargo builds `bootstrap` for this test (`CARGO_BIN_EXE_bootstrap`), and
//! the stand-in is xtask-aws's, which `cargo xtask demo` also uses (`testkit::runtime_api`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::runtime_api::Answer;
use testkit::{ACCOUNT, CreateSession, Function, MotoServer, NewSession, Resources, World};

const REGION: &str = "us-east-1";
const SESSION_ID: &str = "nb-e2e";
/// How long the function may take for one event; also the deadline it is told.
const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_built_function_stops_the_session_notifies_once_and_ignores_the_duplicate() {
    // Its own moto, as the function under test reaches every service through one endpoint.
    let names = Resources {
        topic: "gsg-e2e",
        queue: "gsg-e2e",
        ledger_table: "gsg-e2e-ledger",
    };
    let world = World::new(MotoServer::Own, REGION, names).await;
    world
        .create_session(&NewSession {
            id: SESSION_ID,
            worker_type: "G.8X",
            workers: 50,
            glue_version: "4.0",
            owner: "alice",
        })
        .await;
    let policy: Value = serde_json::from_str(testkit::fixtures::POLICY).unwrap();
    let env = [
        ("GSG_POLICY", policy.to_string()),
        ("NOTIFICATION_TOPIC_ARN", world.topic_arn.clone()),
        ("STACK_NAME", "glue-session-guard".to_string()),
        ("LEDGER_TABLE", world.ledger_table.clone()),
        ("AWS_ENDPOINT_URL", MotoServer::Own.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
    ];
    let function = Function::start(
        Path::new(env!("CARGO_BIN_EXE_bootstrap")),
        "bootstrap",
        &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:bootstrap"),
        &env,
    )
    .expect("starting bootstrap");
    let event = CreateSession::fixture().of_session(SESSION_ID).payload();

    let started = Instant::now();
    let response = invoke(&function, &event);
    println!("invoke took {} ms", started.elapsed().as_millis());
    println!("response: {response}");
    let duplicate = invoke(&function, &event);
    println!("duplicate: {duplicate}");

    let mut failures = Vec::new();
    let answered = |answer: &Value, field: &str| answer.get(field).cloned().unwrap_or(Value::Null);
    if (
        answered(&response, "kind"),
        answered(&response, "outcome"),
        answered(&response, "notification"),
    ) != (json!("session"), json!("stopped"), json!("sent"))
    {
        failures.push(format!("unexpected response: {response}"));
    }
    if (
        answered(&duplicate, "outcome"),
        answered(&duplicate, "notification"),
    ) != (json!({"already_ended": "STOPPING"}), json!("already_sent"))
    {
        failures.push(format!("unexpected response to the duplicate: {duplicate}"));
    }
    let states: Vec<(String, String)> = world
        .ledger_items()
        .await
        .into_iter()
        .flat_map(|(id, items)| items.into_iter().map(move |(_, state)| (id.clone(), state)))
        .collect();
    if states != [(SESSION_ID.to_string(), "sent".to_string())] {
        failures.push(format!(
            "ledger items {states:?}, expected one `sent` for {SESSION_ID}"
        ));
    }
    let status = world.status(SESSION_ID).await;
    if status.as_deref() != Some("STOPPING") {
        failures.push(format!("session status is {status:?}, expected STOPPING"));
    }
    let notifications = world.notifications().await;
    let subject = notifications
        .first()
        .and_then(|n| n["Subject"].as_str())
        .unwrap_or_default();
    if notifications.len() != 1 {
        failures.push(format!("{} notifications, expected 1", notifications.len()));
    } else if !subject.contains("out of bounds: stopped") {
        failures.push(format!("unexpected subject: {subject}"));
    }

    let output = function.output();
    assert!(
        failures.is_empty(),
        "{}\nthe function's last lines:\n{}",
        failures.join("\n"),
        last(&output, 40).join("\n")
    );
    println!("ok: {SESSION_ID} STOPPING; notification: {subject}");
    let logs: Vec<String> = output
        .into_iter()
        .filter(|line| line.starts_with('{'))
        .collect();
    println!("function log lines:\n{}", last(&logs, 8).join("\n"));
}

/// The function's answer to `event`; a failure, or an error answer, ends the test with the
/// function's last lines.
fn invoke(function: &Function, event: &Value) -> Value {
    match function.invoke(event, TIMEOUT) {
        Ok(Answer::Response(response)) => response,
        other => panic!(
            "the function failed the event: {other:?}\nthe function's last lines:\n{}",
            last(&function.output(), 40).join("\n")
        ),
    }
}

fn last(lines: &[String], count: usize) -> &[String] {
    &lines[lines.len().saturating_sub(count)..]
}
