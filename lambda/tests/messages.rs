//! The messages as each medium reads them: the chat notification of every kind the guard sends
//! (a stopped session, an audit notice, a job run, a job definition, a reminder) checked against
//! the documented custom-notification schema of Amazon Q Developer in chat applications
//! (`lambda/fixtures/chat-notification.schema.json`) by the `jsonschema` validator in `.venv`
//! (`cargo xtask setup`), and SNS's per-protocol structure (`MessageStructure` `json`): plain
//! text for e-mail and the `default`, the custom notification for `https` (the chat channels'
//! subscriptions). moto delivers `default` to SQS, and has no HTTPS subscriber, so the chat
//! side is checked here, on the message itself.

use std::process::Command;

use glue_session_guard_lambda::notify::{self, Message, Notice};
use glue_session_guard_lambda::report::{Creator, FoundBy, Outcome};
use policy::{Action, Decision, Verdict, Violation};
use serde_json::{Value, json};

fn verdict(job: Option<(&str, Option<&str>)>, action: Action) -> Verdict {
    Verdict {
        decision: Decision::Violation,
        session_id: job.is_none().then(|| "nb-alice-1".to_string()),
        job_name: job.map(|(name, _)| name.to_string()),
        job_run_id: job.and_then(|(_, run)| run.map(str::to_string)),
        session_type: None,
        principal: Some("arn:aws:sts::123456789012:assumed-role/Analyst/alice".into()),
        person: Some("alice@example.com (source identity)".into()),
        violations: vec![Violation {
            rule: "max_workers".into(),
            actual: json!(50),
            limit: json!(10),
            message: "50 workers requested; at most 10 allowed".into(),
            from_default: false,
        }],
        override_name: None,
        action,
        reason: None,
        defaults_applied: vec![],
        unchecked: vec![],
        notes: vec![],
        dpu: Some(50.0),
        routes: vec!["analytics".into()],
    }
}

fn message(verdict: &Verdict, outcome: &Outcome) -> Message {
    notify::message(&Notice {
        verdict,
        outcome,
        found_by: FoundBy::Event,
        creator: Creator::Event,
        stack_name: "glue-session-guard",
        account: "123456789012",
        region: "eu-west-1",
        exception_instructions: Some("Ask in #data-platform."),
    })
}

/// Every kind of message the guard sends.
fn every_kind() -> Vec<(&'static str, Message)> {
    let exception = policy::exceptions::exceptions(
        &policy::load_policy(
            "p.yaml",
            b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
              overrides:\n- {name: burst, principals: ['arn:aws:iam::*:role/B'], boundaries: {max_workers: 20}, expires: '2027-01-31T00:00:00Z', ticket: DATA-1}\n",
        )
        .unwrap(),
    )
    .remove(0);
    vec![
        (
            "stopped session",
            message(&verdict(None, Action::Stop), &Outcome::Stopped),
        ),
        (
            "audit session",
            message(&verdict(None, Action::Notify), &Outcome::NotStopped),
        ),
        (
            "stopped job run",
            message(
                &verdict(Some(("nightly", Some("jr_1"))), Action::Stop),
                &Outcome::Stopped,
            ),
        ),
        (
            "job definition",
            message(
                &verdict(Some(("nightly", None)), Action::Notify),
                &Outcome::Reported,
            ),
        ),
        (
            "reminder",
            notify::reminder(
                "guard",
                "123456789012",
                "eu-west-1",
                &exception,
                policy::time::parse_rfc3339("2027-01-28T00:00:00Z").unwrap(),
            ),
        ),
    ]
}

#[test]
fn every_chat_notification_follows_the_documented_schema() {
    let root = testkit::cli::root();
    let python = root.join(".venv/bin/python");
    let schema = root.join("lambda/fixtures/chat-notification.schema.json");
    let check = |document: &str| {
        Command::new(&python)
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator.check_schema(schema)\n\
                 errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(json.loads(sys.argv[2]))]\n\
                 print('\\n'.join(errors))\n\
                 sys.exit(1 if errors else 0)",
            ])
            .arg(&schema)
            .arg(document)
            .output()
            .expect(".venv/bin/python runs (cargo xtask setup)")
    };
    for (kind, message) in every_kind() {
        let output = check(&message.chat);
        assert!(
            output.status.success(),
            "{kind}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            message.chat
        );
        let chat: Value = serde_json::from_str(&message.chat).unwrap();
        assert!(
            chat["content"]["title"]
                .as_str()
                .unwrap()
                .contains("expires soon")
                || chat["content"]["title"]
                    .as_str()
                    .unwrap()
                    .contains("out of bounds"),
            "{kind}: {chat}"
        );
    }
    // The schema can fail: a notification without its description, or a wrong version.
    let broken = json!({"version": "2.0", "source": "custom", "content": {"title": "x"}});
    let output = check(&broken.to_string());
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("'description' is a required property"),
        "{said}"
    );
    assert!(said.contains("'1.0' was expected"), "{said}");
}

#[test]
fn email_gets_plain_text_and_chat_the_custom_notification() {
    for (kind, message) in every_kind() {
        let structure: Value = serde_json::from_str(&message.per_protocol()).unwrap();
        // SNS Publish with MessageStructure json: a "default" key is required.
        assert_eq!(structure["default"], message.body.as_str(), "{kind}");
        assert_eq!(structure["email"], message.body.as_str(), "{kind}");
        assert_eq!(structure["https"], message.chat.as_str(), "{kind}");
        assert!(
            !message.body.trim_start().starts_with('{'),
            "{kind}: plain text"
        );
        // SNS's limit on a message: 256 KB, the whole structure included.
        assert!(message.per_protocol().len() < 256 * 1024, "{kind}");
    }
    let (_, stopped) = &every_kind()[0];
    let chat: Value = serde_json::from_str(&stopped.chat).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("*Session* `nb-alice-1`"),
        "{description}"
    );
    assert!(
        description.contains("`max_workers`: 50 (limit: 10)"),
        "{description}"
    );
    assert_eq!(
        chat["content"]["nextSteps"][0],
        "To request an exception: Ask in #data-platform."
    );
    assert_eq!(chat["metadata"]["threadId"], "Glue session nb-alice-1");
    assert_eq!(stopped.routes, ["analytics"]);
}
