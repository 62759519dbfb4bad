//! The engine: every rule, Glue defaults, overrides, exemptions, principal globs, modes,
//! and event parsing that never panics.

use std::collections::BTreeMap;

use policy::{
    Action, Decision, Fact, Policy, Principal, SessionFacts, evaluate, evaluate_event,
    facts_from_cloudtrail, facts_from_glue_session, load_policy,
};
use serde_json::{Value, json};

const POLICY: &str = r#"
version: 1
stack: {name: guard}
boundaries:
  max_workers: 10
  max_dpu: 20
  allowed_worker_types: [G.1X, G.2X]
  max_idle_timeout_minutes: 120
  max_timeout_minutes: 480
  require_vpc_connection: true
  allowed_connections: [vpc-a, vpc-b]
  allowed_glue_versions: ["4.0", "5.0"]
  required_tags: [owner]
overrides:
  - name: admins
    principals: ["arn:aws:iam::*:role/Admin"]
    boundaries: {max_workers: 50, max_dpu: 100}
  - name: everyone-in-111
    principals: ["arn:aws:sts::111111111111:assumed-role/*"]
    boundaries: {max_workers: 12}
exempt_principals: ["arn:aws:iam::123456789012:user/breakglass"]
"#;

fn policy() -> Policy {
    load_policy("test.yaml", POLICY.as_bytes()).unwrap()
}

fn with_mode(mode: &str, action: &str) -> Policy {
    let text = format!("{POLICY}enforcement: {{mode: {mode}, action: {action}}}\n");
    load_policy("test.yaml", text.as_bytes()).unwrap()
}

/// A session inside every boundary of `POLICY`, created by an ordinary assumed role.
fn good() -> SessionFacts {
    SessionFacts {
        session_id: "s-1".into(),
        principal: Some(Principal {
            arn: "arn:aws:sts::123456789012:assumed-role/Engineer/alice".into(),
            issuer_arn: Some("arn:aws:iam::123456789012:role/Engineer".into()),
            ..Default::default()
        }),
        status: Some("PROVISIONING".into()),
        command: Fact::Given("glueetl".into()),
        session_type: Fact::Omitted,
        scaling_arguments: Fact::Given(BTreeMap::new()),
        profile_name: Fact::Omitted,
        usage_profile: Default::default(),
        worker_type: Fact::Given("G.2X".into()),
        number_of_workers: Fact::Given(10),
        max_capacity: Fact::Omitted,
        timeout_minutes: Fact::Given(480),
        idle_timeout_minutes: Fact::Given(120),
        glue_version: Fact::Given("4.0".into()),
        connections: Fact::Given(vec!["vpc-a".into()]),
        tags: Fact::Given(BTreeMap::from([("owner".to_string(), "alice".to_string())])),
        event_time: None,
    }
}

/// A session of 99 workers by the exempt principal `user/breakglass`, otherwise [`good`].
fn breakglass() -> SessionFacts {
    SessionFacts {
        principal: Some(Principal {
            arn: "arn:aws:iam::123456789012:user/breakglass".into(),
            issuer_arn: None,
            ..Default::default()
        }),
        number_of_workers: Fact::Given(99),
        ..good()
    }
}

fn rules(facts: &SessionFacts) -> Vec<String> {
    evaluate(&policy(), facts)
        .rules()
        .iter()
        .map(|r| r.to_string())
        .collect()
}

#[test]
fn a_session_at_every_limit_is_compliant() {
    let verdict = evaluate(&policy(), &good());
    assert_eq!(verdict.decision, Decision::Compliant);
    assert_eq!(verdict.action, Action::None);
    assert!(verdict.violations.is_empty());
    assert_eq!(verdict.session_id.as_deref(), Some("s-1"));
    assert_eq!(
        verdict.principal.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/Engineer/alice")
    );
    assert!(verdict.defaults_applied.is_empty() && verdict.unchecked.is_empty());
}

#[test]
fn max_workers() {
    let facts = SessionFacts {
        number_of_workers: Fact::Given(11),
        worker_type: Fact::Given("G.1X".into()),
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(verdict.decision, Decision::Violation);
    assert_eq!(verdict.action, Action::Stop);
    let violation = &verdict.violations[0];
    assert_eq!(violation.rule, "max_workers");
    assert_eq!(violation.actual, json!(11));
    assert_eq!(violation.limit, json!(10));
    assert_eq!(
        violation.message,
        "11 workers requested; at most 10 allowed"
    );
    assert!(!violation.from_default);
}

#[test]
fn max_dpu_from_workers_and_from_max_capacity() {
    let over = SessionFacts {
        number_of_workers: Fact::Given(11),
        ..good()
    };
    let verdict = evaluate(&policy(), &over);
    assert_eq!(verdict.rules(), ["max_workers", "max_dpu"]);
    assert_eq!(verdict.violations[1].actual, json!(22.0));
    assert_eq!(
        verdict.violations[1].message,
        r#"22 DPUs (11 x "G.2X"); at most 20 allowed"#
    );

    let capacity = SessionFacts {
        number_of_workers: Fact::Omitted,
        worker_type: Fact::Omitted,
        max_capacity: Fact::Given(20.5),
        ..good()
    };
    let verdict = evaluate(&policy(), &capacity);
    assert_eq!(verdict.rules(), ["max_dpu"]);
    assert_eq!(
        verdict.violations[0].message,
        "20.5 DPUs (MaxCapacity); at most 20 allowed"
    );
    assert!(
        verdict.defaults_applied.is_empty(),
        "MaxCapacity means no worker defaults"
    );
}

#[test]
fn every_worker_type_counts_its_dpus() {
    let text = "version: 1\nstack: {name: g}\nboundaries: {max_dpu: 11.9}\n";
    let policy = load_policy("t.yaml", text.as_bytes()).unwrap();
    for (worker_type, dpu) in [
        ("G.025X", 0.25),
        ("G.1X", 1.0),
        ("G.2X", 2.0),
        ("G.4X", 4.0),
        ("G.8X", 8.0),
        ("G.12X", 12.0),
        ("G.16X", 16.0),
        ("Z.2X", 2.0),
    ] {
        let facts = SessionFacts {
            worker_type: Fact::Given(worker_type.into()),
            number_of_workers: Fact::Given(1),
            ..good()
        };
        let verdict = evaluate(&policy, &facts);
        assert_eq!(
            verdict.decision == Decision::Violation,
            dpu > 11.9,
            "{worker_type}"
        );
        if dpu > 11.9 {
            assert_eq!(verdict.violations[0].actual, json!(dpu));
        }
    }
}

#[test]
fn worker_types_whose_dpus_nobody_gives_fail_closed() {
    // Neither the catalogue, the policy nor the name (not Glue's `<family>.<size>X` naming).
    let facts = SessionFacts {
        worker_type: Fact::Given("Standard".into()),
        number_of_workers: Fact::Given(1),
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(verdict.rules(), ["allowed_worker_types", "max_dpu"]);
    assert_eq!(verdict.violations[1].actual, Value::Null);
    assert!(verdict.violations[1].message.contains("fails closed"));
    assert!(verdict.notes.is_empty(), "{:?}", verdict.notes);
}

#[test]
fn dpus_of_a_type_the_catalogue_lacks_come_from_its_name_and_say_so() {
    let facts = SessionFacts {
        worker_type: Fact::Given("G.64X".into()),
        number_of_workers: Fact::Given(1),
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(verdict.rules(), ["allowed_worker_types", "max_dpu"]);
    assert_eq!(verdict.violations[1].actual, json!(64.0));
    assert!(
        verdict.violations[1]
            .message
            .contains("DPUs derived from the name"),
        "{}",
        verdict.violations[1].message
    );
    assert_eq!(
        verdict.notes,
        [
            r#"DPUs of worker type "G.64X" derived from its name: 64 per worker (this build's Glue catalogue lacks it; worker_type_dpu overrules)"#
        ]
    );
    // Within the limit, the figure is still marked as derived.
    let small = SessionFacts {
        worker_type: Fact::Given("G.3X".into()),
        number_of_workers: Fact::Given(2),
        ..good()
    };
    let verdict = evaluate(&policy(), &small);
    assert_eq!(verdict.rules(), ["allowed_worker_types"]);
    assert_eq!(verdict.notes.len(), 1);
    // The policy's worker_type_dpu overrules the name.
    let text = format!("{POLICY}worker_type_dpu: {{G.64X: 0.5}}\n");
    let overruled = load_policy("test.yaml", text.as_bytes()).unwrap();
    let verdict = evaluate(&overruled, &facts);
    assert_eq!(verdict.rules(), ["allowed_worker_types"]);
    assert!(verdict.notes.is_empty());
}

#[test]
fn allowed_worker_types() {
    let facts = SessionFacts {
        worker_type: Fact::Given("G.025X".into()),
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(verdict.rules(), ["allowed_worker_types"]);
    assert_eq!(
        verdict.violations[0].message,
        r#"worker type "G.025X" is not allowed (allowed: "G.1X", "G.2X")"#
    );
}

#[test]
fn timeouts() {
    let facts = SessionFacts {
        timeout_minutes: Fact::Given(481),
        idle_timeout_minutes: Fact::Given(121),
        ..good()
    };
    assert_eq!(
        rules(&facts),
        ["max_timeout_minutes", "max_idle_timeout_minutes"]
    );
}

#[test]
fn connections() {
    let none = SessionFacts {
        connections: Fact::Given(vec![]),
        ..good()
    };
    assert_eq!(rules(&none), ["require_vpc_connection"]);
    let foreign = SessionFacts {
        connections: Fact::Given(vec!["vpc-a".into(), "open".into()]),
        ..good()
    };
    let verdict = evaluate(&policy(), &foreign);
    assert_eq!(verdict.rules(), ["allowed_connections"]);
    assert_eq!(verdict.violations[0].actual, json!(["open"]));
}

#[test]
fn glue_versions() {
    let old = SessionFacts {
        glue_version: Fact::Given("3.0".into()),
        ..good()
    };
    assert_eq!(rules(&old), ["allowed_glue_versions"]);
    let left_out = SessionFacts {
        glue_version: Fact::Omitted,
        ..good()
    };
    let verdict = evaluate(&policy(), &left_out);
    assert_eq!(verdict.rules(), ["allowed_glue_versions"]);
    assert!(verdict.violations[0].from_default);
}

#[test]
fn required_tags_need_a_non_empty_value() {
    let blank = SessionFacts {
        tags: Fact::Given(BTreeMap::from([("owner".to_string(), " ".to_string())])),
        ..good()
    };
    let verdict = evaluate(&policy(), &blank);
    assert_eq!(verdict.rules(), ["required_tags"]);
    assert_eq!(
        verdict.violations[0].message,
        r#"missing required tag "owner""#
    );
}

#[test]
fn left_out_values_take_glue_defaults_and_say_so() {
    let facts = SessionFacts {
        worker_type: Fact::Omitted,
        number_of_workers: Fact::Omitted,
        timeout_minutes: Fact::Omitted,
        idle_timeout_minutes: Fact::Omitted,
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(
        verdict.rules(),
        ["max_timeout_minutes", "max_idle_timeout_minutes"]
    );
    assert!(verdict.violations.iter().all(|v| v.from_default));
    assert_eq!(verdict.violations[0].actual, json!(2880));
    assert!(
        verdict.violations[0]
            .message
            .ends_with("(Glue's default: the creator did not set it)")
    );
    assert_eq!(
        verdict.defaults_applied,
        [
            "NumberOfWorkers = 5 (Glue default)",
            "WorkerType = G.1X (Glue default)",
            "Timeout = 2880 minutes (Glue default)",
            "IdleTimeout = Timeout = 2880 minutes (Glue default)",
        ]
    );
    // Idle timeout follows an explicit timeout when only it is left out.
    let idle_follows = SessionFacts {
        idle_timeout_minutes: Fact::Omitted,
        timeout_minutes: Fact::Given(200),
        ..good()
    };
    let verdict = evaluate(&policy(), &idle_follows);
    assert_eq!(verdict.rules(), ["max_idle_timeout_minutes"]);
    assert_eq!(verdict.violations[0].actual, json!(200));
}

#[test]
fn unknown_values_are_reported_as_unchecked_never_as_violations() {
    let facts = SessionFacts {
        timeout_minutes: Fact::Unknown,
        tags: Fact::Unknown,
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(verdict.decision, Decision::Compliant);
    assert_eq!(
        verdict.unchecked,
        [
            "max_timeout_minutes: the session's Timeout is not reported or not readable",
            "required_tags: the session's tags are not reported or not readable",
        ]
    );
}

#[test]
fn the_first_matching_override_replaces_only_the_limits_it_names() {
    let admin = SessionFacts {
        principal: Some(Principal {
            arn: "arn:aws:sts::123456789012:assumed-role/Admin/carol".into(),
            issuer_arn: Some("arn:aws:iam::123456789012:role/Admin".into()),
            ..Default::default()
        }),
        number_of_workers: Fact::Given(40),
        connections: Fact::Given(vec![]),
        ..good()
    };
    let verdict = evaluate(&policy(), &admin);
    assert_eq!(verdict.override_name.as_deref(), Some("admins"));
    // max_workers and max_dpu come from the override; the VPC rule still binds.
    assert_eq!(verdict.rules(), ["require_vpc_connection"]);
}

#[test]
fn principal_globs_match_the_caller_or_the_issuing_role() {
    // Matches on the caller ARN (the sts assumed-role form).
    let in_111 = SessionFacts {
        principal: Some(Principal {
            arn: "arn:aws:sts::111111111111:assumed-role/Anything/bob".into(),
            issuer_arn: Some("arn:aws:iam::111111111111:role/Anything".into()),
            ..Default::default()
        }),
        number_of_workers: Fact::Given(12),
        worker_type: Fact::Given("G.1X".into()),
        ..good()
    };
    let verdict = evaluate(&policy(), &in_111);
    assert_eq!(verdict.override_name.as_deref(), Some("everyone-in-111"));
    assert_eq!(verdict.decision, Decision::Compliant);
    // A role pattern does not match the assumed-role ARN unless the issuer is known.
    let no_issuer = SessionFacts {
        principal: Some(Principal {
            arn: "arn:aws:sts::123456789012:assumed-role/Admin/carol".into(),
            issuer_arn: None,
            ..Default::default()
        }),
        ..good()
    };
    assert_eq!(evaluate(&policy(), &no_issuer).override_name, None);
    // A similar name is not a match.
    let admin2 = SessionFacts {
        principal: Some(Principal {
            arn: "arn:aws:sts::123456789012:assumed-role/Admin2/carol".into(),
            issuer_arn: Some("arn:aws:iam::123456789012:role/Admin2".into()),
            ..Default::default()
        }),
        ..good()
    };
    assert_eq!(evaluate(&policy(), &admin2).override_name, None);
}

#[test]
fn exempt_principals_are_reported_never_stopped() {
    let breakglass = breakglass();
    let verdict = evaluate(&policy(), &breakglass);
    assert_eq!(verdict.decision, Decision::Exempt);
    assert_eq!(verdict.action, Action::None);
    assert_eq!(verdict.rules(), ["max_workers", "max_dpu"]);
    assert!(verdict.reason.unwrap().contains("exempt_principals"));
    // Within bounds, the exempt principal is simply compliant.
    let fine = SessionFacts {
        principal: breakglass.principal.clone(),
        ..good()
    };
    assert_eq!(evaluate(&policy(), &fine).decision, Decision::Compliant);
}

/// A running session's exception that expires while it may still run: `lapse` gives the first
/// expiry at which the session is a violation (the sweep stops it then), not an expiry that
/// changes nothing, nor one past the span it may run, nor one before its creation.
#[test]
fn a_session_is_a_violation_from_the_expiry_of_the_exception_that_let_it_run() {
    let text = format!(
        "{}\n  - name: burst\n    principals: [\"arn:aws:iam::*:role/Engineer\"]\n    \
         boundaries: {{max_workers: 40, max_dpu: 40}}\n    expires: 2027-01-01T12:00:00Z\n\
         exempt_principals:\n  - principal: arn:aws:iam::123456789012:user/breakglass\n    \
         expires: 2027-01-01T06:00:00Z\n",
        POLICY
            .split("exempt_principals:")
            .next()
            .unwrap()
            .trim_end()
    );
    let policy = load_policy("test.yaml", text.as_bytes()).unwrap();
    let at = |time: &str| policy::time::parse_rfc3339(time).unwrap();
    let created = at("2027-01-01T00:00:00Z");
    let engineer = SessionFacts {
        number_of_workers: Fact::Given(30),
        worker_type: Fact::Given("G.1X".into()),
        event_time: Some(created),
        ..good()
    };
    let verdict = evaluate(&policy, &engineer);
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:?}");
    // The exempt principal's expiry (06:00) is not this session's: nothing changes then.
    let (when, later) = policy::lapse(&policy, &engineer, &verdict, created + 86_400).unwrap();
    assert_eq!(when, at("2027-01-01T12:00:00Z"));
    assert_eq!(later.decision, Decision::Violation);
    assert_eq!(later.rules(), ["max_workers", "max_dpu"]);
    // It may run only until 11:00: the expiry comes too late to matter.
    assert!(policy::lapse(&policy, &engineer, &verdict, at("2027-01-01T11:00:00Z")).is_none());
    // Within the default limits anyway: no expiry makes it a violation.
    let small = SessionFacts {
        event_time: Some(created),
        ..good()
    };
    let fine = evaluate(&policy, &small);
    assert!(policy::lapse(&policy, &small, &fine, created + 86_400).is_none());
    // The exempt principal: exempt until 06:00, a violation from then.
    let breakglass = SessionFacts {
        event_time: Some(created),
        ..breakglass()
    };
    let exempt = evaluate(&policy, &breakglass);
    assert_eq!(exempt.decision, Decision::Exempt);
    let (when, _) = policy::lapse(&policy, &breakglass, &exempt, created + 86_400).unwrap();
    assert_eq!(when, at("2027-01-01T06:00:00Z"));
    // Created after every expiry, or at an unknown time: nothing to replay.
    let late = SessionFacts {
        event_time: Some(at("2027-01-02T00:00:00Z")),
        ..engineer.clone()
    };
    let judged = evaluate(&policy, &late);
    assert!(policy::lapse(&policy, &late, &judged, i64::MAX).is_none());
    let unknown = SessionFacts {
        event_time: None,
        ..engineer
    };
    let judged = evaluate(&policy, &unknown);
    assert!(policy::lapse(&policy, &unknown, &judged, i64::MAX).is_none());
}

#[test]
fn nothing_the_creator_controls_can_exempt_a_session() {
    // Tags, ids and descriptions that look like exempt principals change nothing.
    let sneaky = SessionFacts {
        session_id: "arn:aws:iam::123456789012:user/breakglass".into(),
        tags: Fact::Given(BTreeMap::from([
            (
                "owner".to_string(),
                "arn:aws:iam::123456789012:user/breakglass".to_string(),
            ),
            ("exempt".to_string(), "true".to_string()),
        ])),
        number_of_workers: Fact::Given(99),
        ..good()
    };
    let verdict = evaluate(&policy(), &sneaky);
    assert_eq!(verdict.decision, Decision::Violation);
    assert_eq!(verdict.override_name, None);
}

#[test]
fn an_unknown_creator_is_judged_by_the_defaults_and_said_so() {
    let facts = SessionFacts {
        principal: None,
        number_of_workers: Fact::Given(11),
        ..good()
    };
    let verdict = evaluate(&policy(), &facts);
    assert_eq!(verdict.decision, Decision::Violation);
    assert!(verdict.reason.unwrap().contains("creator is unknown"));
}

#[test]
fn the_action_follows_mode_and_enforcement_action() {
    let over = SessionFacts {
        number_of_workers: Fact::Given(11),
        ..good()
    };
    assert_eq!(
        evaluate(&with_mode("enforce", "stop"), &over).action,
        Action::Stop
    );
    assert_eq!(
        evaluate(&with_mode("enforce", "delete"), &over).action,
        Action::Delete
    );
    assert_eq!(
        evaluate(&with_mode("audit", "stop"), &over).action,
        Action::Notify
    );
    assert_eq!(
        evaluate(&with_mode("audit", "delete"), &over).action,
        Action::Notify
    );
    assert_eq!(
        evaluate(&with_mode("audit", "delete"), &good()).action,
        Action::None
    );
}

fn envelope(detail: Value) -> Value {
    json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.glue", "detail": detail})
}

fn record() -> Value {
    json!({
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateSession",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/Admin/carol",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/Admin"}}
        },
        "requestParameters": {
            "id": "s-9", "numberOfWorkers": 40, "workerType": "G.2X", "timeout": "300",
            "idleTimeout": 60, "glueVersion": "4.0",
            "connections": {"connections": ["vpc-b"]}, "tags": {"owner": "carol"}
        },
        "responseElements": {"session": {"id": "s-9", "status": "PROVISIONING"}}
    })
}

#[test]
fn cloudtrail_records_parse_enveloped_or_bare() {
    for input in [envelope(record()), record()] {
        let facts = facts_from_cloudtrail(&input).unwrap();
        assert_eq!(facts.session_id, "s-9");
        assert_eq!(facts.number_of_workers, Fact::Given(40));
        assert_eq!(
            facts.timeout_minutes,
            Fact::Given(300),
            "numeric strings are read"
        );
        assert_eq!(facts.max_capacity, Fact::Omitted);
        assert_eq!(facts.connections, Fact::Given(vec!["vpc-b".to_string()]));
        assert_eq!(facts.status.as_deref(), Some("PROVISIONING"));
        let principal = facts.principal.unwrap();
        assert_eq!(
            principal.issuer_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/Admin")
        );
        let verdict = evaluate_event(&policy(), &input);
        assert_eq!(verdict.decision, Decision::Compliant);
        assert_eq!(verdict.override_name.as_deref(), Some("admins"));
    }
}

#[test]
fn events_that_created_no_session_are_ignored_with_a_reason() {
    let mut failed = record();
    failed["errorCode"] = json!("AccessDeniedException");
    let mut null_response = record();
    null_response["responseElements"] = Value::Null;
    let mut other_event = record();
    other_event["eventName"] = json!("DeleteSession");
    let mut other_source = record();
    other_source["eventSource"] = json!("s3.amazonaws.com");
    let scheduled = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let cases = [
        (
            failed,
            "the CreateSession call failed (AccessDeniedException)",
        ),
        (null_response, "no responseElements"),
        (other_event, "event `DeleteSession` is not CreateSession"),
        (other_source, "event source `s3.amazonaws.com` is not Glue"),
        (
            scheduled,
            "detail-type `Scheduled Event` is not a CloudTrail API call",
        ),
    ];
    for (input, reason) in cases {
        let verdict = evaluate_event(&policy(), &envelope_if_bare(input));
        assert_eq!(verdict.decision, Decision::Ignored);
        assert_eq!(verdict.action, Action::None);
        let said = verdict.reason.unwrap();
        assert!(said.contains(reason), "{said} should contain {reason}");
    }
}

fn envelope_if_bare(input: Value) -> Value {
    if input.get("detail").is_some() {
        input
    } else {
        envelope(input)
    }
}

#[test]
fn hostile_json_never_panics() {
    let inputs = [
        json!(null),
        json!(42),
        json!("CreateSession"),
        json!([]),
        json!({}),
        json!({"detail": null}),
        json!({"detail": []}),
        json!({"detail": {"eventSource": 7}}),
        json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession"}),
        json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession", "responseElements": {"session": {"id": 5}}}),
        json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession", "errorCode": null,
               "responseElements": {"session": {"id": "x"}},
               "requestParameters": {"numberOfWorkers": -5, "timeout": 1e300, "workerType": 3,
                                     "connections": {"connections": [1, 2]}, "tags": ["a"],
                                     "maxCapacity": "NaN", "idleTimeout": {"x": 1}},
               "userIdentity": {"arn": ["not", "a", "string"]}}),
        json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
               "responseElements": {"session": {"id": "y"}}, "requestParameters": {"numberOfWorkers": vec![1; 100_000]}}),
    ];
    for input in inputs {
        let verdict = evaluate_event(&policy(), &input);
        assert!(matches!(
            verdict.decision,
            Decision::Ignored | Decision::Violation | Decision::Compliant
        ));
    }
}

#[test]
fn unreadable_values_are_unknown_not_guessed() {
    let input = json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
        "responseElements": {"session": {"id": "x"}},
        "requestParameters": {"numberOfWorkers": -5, "workerType": 3, "connections": {"connections": [1]}}});
    let facts = facts_from_cloudtrail(&input).unwrap();
    assert_eq!(facts.number_of_workers, Fact::Unknown);
    assert_eq!(facts.worker_type, Fact::Unknown);
    assert_eq!(facts.connections, Fact::Unknown);
    assert_eq!(facts.timeout_minutes, Fact::Omitted);
    assert_eq!(facts.tags, Fact::Given(BTreeMap::new()));
    assert_eq!(facts.principal, None);
}

#[test]
fn glue_sessions_parse_and_win_over_the_request() {
    let session = json!({"Session": {
        "Id": "s-9", "Status": "READY", "WorkerType": "G.1X", "NumberOfWorkers": 60,
        "MaxCapacity": 60.0, "GlueVersion": "4.0", "IdleTimeout": 60,
        "Connections": {"Connections": ["vpc-b"]}
    }});
    let reported = facts_from_glue_session(&session).unwrap();
    assert_eq!(reported.timeout_minutes, Fact::Unknown);
    assert_eq!(reported.tags, Fact::Unknown);
    assert_eq!(reported.principal, None);
    let requested = facts_from_cloudtrail(&record()).unwrap();
    let merged = requested.updated_with(reported);
    assert_eq!(merged.number_of_workers, Fact::Given(60), "GetSession wins");
    assert_eq!(merged.worker_type, Fact::Given("G.1X".to_string()));
    assert_eq!(merged.status.as_deref(), Some("READY"));
    assert_eq!(
        merged.timeout_minutes,
        Fact::Given(300),
        "the request fills what Glue does not report"
    );
    assert!(
        merged.principal.is_some(),
        "the creator comes from the event"
    );
    let verdict = evaluate(&policy(), &merged);
    assert_eq!(verdict.override_name.as_deref(), Some("admins"));
    assert_eq!(verdict.rules(), ["max_workers"]);

    assert!(facts_from_glue_session(&json!({"Session": {"Status": "READY"}})).is_err());
    assert!(facts_from_glue_session(&json!([1, 2])).is_err());
}

#[test]
fn verdict_json_has_the_documented_fields() {
    let over = SessionFacts {
        number_of_workers: Fact::Given(11),
        ..good()
    };
    let json = serde_json::to_value(evaluate(&policy(), &over)).unwrap();
    for field in [
        "decision",
        "violations",
        "override",
        "action",
        "session_id",
        "principal",
    ] {
        assert!(json.get(field).is_some(), "missing {field} in {json}");
    }
    assert_eq!(json["decision"], "violation");
    assert_eq!(json["action"], "stop");
    assert_eq!(json["violations"][0]["rule"], "max_workers");
    assert_eq!(json["violations"][0]["actual"], 11);
    assert_eq!(json["violations"][0]["limit"], 10);
    assert!(json["violations"][0]["message"].is_string());
}
