use serde_json::{Value, json};

use super::*;
use crate::evaluate::{Decision, evaluate_event, evaluate_job};
use crate::jobs::{JobRecord, read_job_record};
use crate::load_policy;

fn policy(text: &str) -> Policy {
    load_policy("p.yaml", text.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"))
}

const POLICY: &str = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
overrides:
  - name: burst
    principals: ['arn:aws:iam::*:role/Burst']
    boundaries: {max_workers: 50}
    expires: 2027-01-31T00:00:00Z
    reason: quarter-end reprocessing
    ticket: DATA-1234
  - {name: burst-after, principals: ['arn:aws:iam::*:role/Burst'], boundaries: {max_workers: 20}}
exempt_principals:
  - arn:aws:iam::*:role/Admin
  - {principal: 'arn:aws:iam::*:role/Oncall', expires: '2027-01-15T12:00:00+01:00', reason: incident 42}
"#;

fn create_session(role: &str, at: &str, workers: u64) -> Value {
    json!({
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateSession",
        "eventTime": at,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/alice"),
            "sessionContext": {"sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::123456789012:role/{role}")
            }}
        },
        "requestParameters": {
            "id": "s-1", "command": {"name": "glueetl"}, "glueVersion": "4.0",
            "workerType": "G.1X", "numberOfWorkers": workers
        },
        "responseElements": {"session": {"id": "s-1", "status": "PROVISIONING"}}
    })
}

#[test]
fn an_override_applies_to_the_event_before_its_expiry_and_not_to_the_one_after() {
    let policy = policy(POLICY);
    let before = evaluate_event(
        &policy,
        &create_session("Burst", "2027-01-30T23:59:59Z", 40),
    );
    assert_eq!(before.decision, Decision::Compliant, "{before:?}");
    assert_eq!(before.override_name.as_deref(), Some("burst"));

    // One second later the override has expired: the next one that matches applies.
    let after = evaluate_event(
        &policy,
        &create_session("Burst", "2027-01-31T00:00:00Z", 40),
    );
    assert_eq!(after.decision, Decision::Violation, "{after:?}");
    assert_eq!(after.override_name.as_deref(), Some("burst-after"));
    assert_eq!(after.rules(), ["max_workers"]);
    assert!(
        after.notes.iter().any(|note| note
            == "overrides[0] (`burst`) expired at 2027-01-31T00:00:00Z: it did not apply"),
        "{:?}",
        after.notes
    );
    // The same record judged again gives the same verdict: the event's time decides, not a clock.
    assert_eq!(
        evaluate_event(
            &policy,
            &create_session("Burst", "2027-01-31T00:00:00Z", 40)
        ),
        after
    );
}

#[test]
fn an_event_without_a_time_gets_no_expiring_exception() {
    let policy = policy(POLICY);
    let mut record = create_session("Burst", "2027-01-01T00:00:00Z", 40);
    record.as_object_mut().unwrap().remove("eventTime");
    let verdict = evaluate_event(&policy, &record);
    assert_eq!(verdict.override_name.as_deref(), Some("burst-after"));
    assert!(
        verdict
            .notes
            .iter()
            .any(|note| note.contains("the event's time is not known")),
        "{:?}",
        verdict.notes
    );
}

#[test]
fn an_exempt_principal_with_an_expiry_is_exempt_until_it_in_its_own_time_zone() {
    let policy = policy(POLICY);
    // 2027-01-15T12:00:00+01:00 is 11:00 UTC.
    let at = |time: &str| evaluate_event(&policy, &create_session("Oncall", time, 40)).decision;
    assert_eq!(at("2027-01-15T10:59:59Z"), Decision::Exempt);
    assert_eq!(at("2027-01-15T11:00:00Z"), Decision::Violation);
    // The permanent one stays.
    let admin = evaluate_event(
        &policy,
        &create_session("Admin", "2099-01-01T00:00:00Z", 40),
    );
    assert_eq!(admin.decision, Decision::Exempt);
}

#[test]
fn job_overrides_expire_by_the_start_of_the_run() {
    let policy = policy(
        r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
jobs:
  boundaries: {max_workers: 10}
  overrides:
    - {name: nightly, job_names: ['nightly-*'], boundaries: {max_workers: 100}, expires: '2027-03-01T00:00:00Z'}
"#,
    );
    let run = |at: &str| {
        let record = json!({
            "eventSource": "glue.amazonaws.com", "eventName": "StartJobRun", "eventTime": at,
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ops"},
            "requestParameters": {"jobName": "nightly-load", "numberOfWorkers": 50, "workerType": "G.1X"},
            "responseElements": {"jobRunId": "jr_1"}
        });
        let Ok(JobRecord::Run(facts)) = read_job_record(&record) else {
            panic!("not a run")
        };
        evaluate_job(&policy, &facts)
    };
    assert_eq!(
        run("2027-02-28T23:00:00Z").override_name.as_deref(),
        Some("nightly")
    );
    let after = run("2027-03-01T00:00:01Z");
    assert_eq!(after.override_name, None);
    assert_eq!(after.rules(), ["max_workers"]);
}

/// The time left is said in whole days and hours, never rounded up to a day not left.
#[test]
fn the_time_left_is_said_in_days_and_hours() {
    assert_eq!(time_left(0), "in less than an hour");
    assert_eq!(time_left(3_599), "in less than an hour");
    assert_eq!(time_left(3_600), "in 1 hour");
    assert_eq!(time_left(5 * 3_600 + 59), "in 5 hours");
    assert_eq!(time_left(86_400), "in 1 day");
    assert_eq!(time_left(86_400 + 3_600), "in 1 day and 1 hour");
    assert_eq!(
        time_left(2 * 86_400 + 19 * 3_600 + 1_800),
        "in 2 days and 19 hours"
    );
    assert_eq!(time_left(14 * 86_400), "in 14 days");
}

#[test]
fn what_expires_soon_is_listed_with_its_reason_and_ticket() {
    let policy = policy(POLICY);
    let now = crate::time::parse_rfc3339("2027-01-20T00:00:00Z").unwrap();
    let due = expiring(&policy, now, WARN_DAYS);
    let said: Vec<String> = due
        .iter()
        .map(|(exception, due)| sentence(exception, *due, now))
        .collect();
    assert_eq!(
        said,
        [
            "override \"burst\" (overrides[0]) expires at 2027-01-31T00:00:00Z, in 11 days \
             (reason: quarter-end reprocessing; ticket: DATA-1234)",
            "exempt principal arn:aws:iam::*:role/Oncall (exempt_principals[1]) expired at \
             2027-01-15T12:00:00+01:00 (reason: incident 42)",
        ]
    );
    // Nothing within 7 days but the expired one.
    let soon: Vec<Due> = expiring(&policy, now, REMIND_DAYS)
        .into_iter()
        .map(|(_, due)| due)
        .collect();
    assert_eq!(soon, [Due::Expired]);
    // The reminder key changes with the expiry, so a moved expiry is reminded of again.
    assert_eq!(due[0].0.key(), "override#burst#2027-01-31T00:00:00Z");
}

#[test]
fn an_unreadable_or_absent_expiry_is_refused_or_permanent() {
    let refused = load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
          overrides:\n- {name: a, principals: ['arn:aws:iam::*:role/A'], boundaries: {max_workers: 20}, expires: '2027-02-30'}\n\
          exempt_principals:\n- {principal: 'arn:aws:iam::*:role/B', expires: tomorrow, ticket: ''}\n\
          - {principal: 'arn:aws:iam::*:role/C', expirse: '2027-01-01T00:00:00Z'}\n\
          - {principal: 'arn:aws:iam::*:role/D', expires: '2025-02-30T00:00:00Z'}\n\
          - {principal: 'arn:aws:iam::*:role/E', expires: '2027-03-31T25:00:00Z'}\n",
    )
    .expect_err("refused")
    .to_string();
    for expected in [
        "p.yaml:5:",
        "overrides[0].expires: `2027-02-30` is not an RFC 3339 time",
        "exempt_principals[0].expires: `tomorrow` is not an RFC 3339 time",
        "exempt_principals[0].ticket: must be one non-empty line",
        "exempt_principals[2].expires: `2025-02-30T00:00:00Z` is not an RFC 3339 time: February \
         2025 has 28 days, not 30: write an instant that exists",
        "exempt_principals[3].expires: `2027-03-31T25:00:00Z` is not an RFC 3339 time: hour 25 \
         is past 23",
        "expirse",
    ] {
        assert!(refused.contains(expected), "{expected} in:\n{refused}");
    }
    assert_eq!(standing(None, None), Standing::Applies);
    assert_eq!(standing(Some("junk"), Some(0)), Standing::Expired(None));
}

#[test]
fn exemptions_written_alone_stay_strings_when_written_back() {
    let policy = policy(POLICY);
    let text = serde_json::to_value(&policy.exempt_principals).unwrap();
    assert_eq!(
        text,
        json!([
            "arn:aws:iam::*:role/Admin",
            {"principal": "arn:aws:iam::*:role/Oncall", "expires": "2027-01-15T12:00:00+01:00", "reason": "incident 42"}
        ])
    );
    let back: Vec<Exemption> = serde_json::from_value(text).unwrap();
    assert_eq!(back, policy.exempt_principals);
}

#[test]
fn validate_warns_at_the_line_of_each_expiry() {
    let policy = policy(POLICY);
    let now = crate::time::parse_rfc3339("2027-01-20T00:00:00Z").unwrap();
    let warnings: Vec<String> =
        crate::validate::expiry_warnings("p.yaml", POLICY.as_bytes(), &policy, now)
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].starts_with("p.yaml:9:5: overrides[0].expires: override \"burst\""),
        "{warnings:#?}"
    );
    assert!(
        warnings[0].ends_with("if it is still needed"),
        "{warnings:#?}"
    );
    assert!(
        warnings[1].starts_with("p.yaml:15:")
            && warnings[1].contains("exempt_principals[1].expires: exempt principal")
            && warnings[1].contains("it applies to nothing now"),
        "{warnings:#?}"
    );
    // A month earlier, nothing is due.
    let earlier = crate::time::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    assert!(
        crate::validate::expiry_warnings("p.yaml", POLICY.as_bytes(), &policy, earlier).is_empty()
    );
}
