//! Judging sessions as Glue really creates them: the real-world inputs in
//! `fixtures/realworld/` (copied from `shared/realworld/`, with the verdicts its README gives),
//! and each kind of fault they stand for, on other fields and shapes: Glue's echo and
//! `GetSession` win over the request; usage profiles supply defaults (or leave checks unchecked,
//! never guessed); session types decide which defaults Glue documents; the catalogue is data;
//! every shape of file people have; the person behind a shared role; ended sessions; names
//! quoted.

use std::collections::BTreeMap;

use policy::records::{Item, for_each_item};
use policy::{
    Action, Decision, Fact, Policy, ProfileDefaults, ProfileLookup, SessionFacts, UsageProfile,
    Verdict, evaluate, facts_from_glue_session, load_policy, merge_sources, read_create_session,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/realworld/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn default_policy() -> Policy {
    let path = format!("{}/../policies/default.yaml", env!("CARGO_MANIFEST_DIR"));
    load_policy("default.yaml", &std::fs::read(path).unwrap()).unwrap()
}

fn record(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn facts(event: &Value) -> SessionFacts {
    read_create_session(event).unwrap().facts(None)
}

fn rules(verdict: &Verdict) -> Vec<&str> {
    verdict.rules()
}

fn profile(name: &str, timeout: Option<&str>) -> Value {
    let mut sessions = serde_json::Map::new();
    if let Some(timeout) = timeout {
        sessions.insert(
            "timeout".into(),
            json!({"DefaultValue": timeout, "MaxValue": "2880"}),
        );
    }
    json!({"Name": name, "Configuration": {"SessionConfiguration": sessions,
           "JobConfiguration": {}}, "CreatedOn": 1.764e9})
}

fn with_profile(facts: SessionFacts, json: &Value) -> SessionFacts {
    let profile = UsageProfile::from_get_usage_profile(json).unwrap();
    facts.with_usage_profile(ProfileLookup::Found(profile.defaults))
}

// ---- The real-world inputs, with their README's verdicts ----------------------------------

#[test]
fn realworld_02_a_connection_shown_only_in_the_echo_counts() {
    let verdict = evaluate(
        &default_policy(),
        &facts(&record("02-connection-in-response-echo.json")),
    );
    assert_eq!(verdict.decision, Decision::Violation);
    assert_eq!(
        rules(&verdict),
        [
            "max_timeout_minutes",
            "allowed_connections",
            "allowed_glue_versions",
            "required_tags"
        ]
    );
    assert!(
        verdict.violations[0].from_default,
        "the timeout is Glue's default"
    );
    assert!(
        verdict.violations[1].message.contains(r#""internal""#),
        "{}",
        verdict.violations[1].message
    );
}

#[test]
fn realworld_19_usage_profile_defaults() {
    let facts = facts(&record("19-usage-profile-defaults.json"));
    assert_eq!(facts.profile_name, Fact::Given("notebooks-small".into()));

    let unknown = evaluate(&default_policy(), &facts);
    assert_eq!(unknown.decision, Decision::Compliant, "{unknown:?}");
    assert_eq!(unknown.unchecked.len(), 1, "{:?}", unknown.unchecked);
    assert!(
        unknown.unchecked[0].starts_with("max_timeout_minutes: left out by the creator, and usage profile \"notebooks-small\" supplies it"),
        "{}",
        unknown.unchecked[0]
    );

    let long = evaluate(
        &default_policy(),
        &with_profile(facts.clone(), &profile("notebooks-small", Some("600"))),
    );
    assert_eq!(long.decision, Decision::Violation);
    assert_eq!(rules(&long), ["max_timeout_minutes"]);
    assert_eq!(long.violations[0].actual, json!(600));
    assert!(
        long.violations[0].message.ends_with(
            "(the default of usage profile \"notebooks-small\": the creator did not set it)"
        ),
        "{}",
        long.violations[0].message
    );
    assert!(long.violations[0].from_default);

    let short = evaluate(
        &default_policy(),
        &with_profile(facts, &profile("notebooks-small", Some("60"))),
    );
    assert_eq!(short.decision, Decision::Compliant);
    assert!(short.unchecked.is_empty(), "{:?}", short.unchecked);
    assert!(
        short.defaults_applied.contains(
            &"Timeout = 60 minutes (default of usage profile \"notebooks-small\")".to_string()
        ),
        "{:?}",
        short.defaults_applied
    );
}

#[test]
fn realworld_22_other_glue_calls_name_their_session() {
    let verdict = policy::evaluate_event(&default_policy(), &record("22-runstatement.json"));
    assert_eq!(verdict.decision, Decision::Ignored);
    assert_eq!(verdict.session_id.as_deref(), Some("alice-nb-7"));
    assert_eq!(
        verdict.reason.as_deref(),
        Some("event `RunStatement` is not CreateSession")
    );
}

#[test]
fn realworld_24_a_trail_log_file_gives_one_verdict_per_record_in_order() {
    let policy = default_policy();
    let mut verdicts = Vec::new();
    let count = for_each_item(&fixture("24-cloudtrail-log-file.json")[..], |item| {
        let Item::Record(record) = item else {
            panic!("unreadable item")
        };
        verdicts.push(policy::evaluate_event(&policy, &record));
    })
    .unwrap();
    assert_eq!(count, 3);
    let summary: Vec<(Decision, Vec<&str>)> = verdicts
        .iter()
        .map(|verdict| (verdict.decision, rules(verdict)))
        .collect();
    assert_eq!(
        summary,
        [
            (Decision::Violation, vec!["max_workers", "max_dpu"]),
            (Decision::Ignored, vec![]),
            (Decision::Compliant, vec![]),
        ]
    );
    assert_eq!(
        verdicts[1].reason.as_deref(),
        Some("event source `s3.amazonaws.com` is not Glue")
    );
}

#[test]
fn realworld_18_memory_optimized_workers_on_glue_6() {
    let verdict = evaluate(
        &default_policy(),
        &facts(&record("18-memory-optimized-worker-glue-6.json")),
    );
    assert_eq!(verdict.decision, Decision::Violation);
    assert_eq!(
        rules(&verdict),
        ["allowed_worker_types", "allowed_glue_versions"],
        "R.2X has a known DPU figure: 4 x 2 = 8 is within max_dpu"
    );
}

#[test]
fn realworld_policies_that_allow_glue_6_and_r_workers_are_valid() {
    for name in ["policy-allows-glue-6.yaml", "policy-allows-r-workers.yaml"] {
        let loaded = policy::load_policy_with_warnings(name, &fixture(name))
            .unwrap_or_else(|errors| panic!("{errors}"));
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
    }
    let r_workers = load_policy(
        "policy-allows-r-workers.yaml",
        &fixture("policy-allows-r-workers.yaml"),
    )
    .unwrap();
    let verdict = evaluate(
        &r_workers,
        &facts(&record("18-memory-optimized-worker-glue-6.json")),
    );
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:?}");
}

// ---- 1. What Glue created wins, from every source -----------------------------------------

fn create_session(request: Value, echo: Value) -> Value {
    json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
           "userIdentity": {"arn": "arn:aws:iam::123456789012:user/bob"},
           "requestParameters": request, "responseElements": {"session": echo}})
}

#[test]
fn the_echo_wins_over_the_request_for_every_field() {
    let event = create_session(
        json!({"id": "s-1", "command": {"name": "gluestreaming"}, "workerType": "G.1X",
               "numberOfWorkers": 2, "maxCapacity": 2.0, "idleTimeout": 10, "glueVersion": "4.0",
               "connections": {"connections": ["a"]}}),
        json!({"id": "s-1", "status": "PROVISIONING", "command": {"name": "glueetl"},
               "workerType": "G.2X", "numberOfWorkers": 8, "maxCapacity": 16.0, "idleTimeout": 45,
               "glueVersion": "5.0", "connections": {"connections": ["b", "c"]},
               "profileName": "p"}),
    );
    let facts = facts(&event);
    assert_eq!(facts.command, Fact::Given("glueetl".into()));
    assert_eq!(facts.worker_type, Fact::Given("G.2X".into()));
    assert_eq!(facts.number_of_workers, Fact::Given(8));
    assert_eq!(facts.max_capacity, Fact::Given(16.0));
    assert_eq!(facts.idle_timeout_minutes, Fact::Given(45));
    assert_eq!(facts.glue_version, Fact::Given("5.0".into()));
    assert_eq!(facts.connections, Fact::Given(vec!["b".into(), "c".into()]));
    assert_eq!(facts.profile_name, Fact::Given("p".into()));
    assert_eq!(facts.status.as_deref(), Some("PROVISIONING"));
}

#[test]
fn what_the_echo_leaves_out_keeps_the_request_and_getsession_wins_over_both() {
    let event = create_session(
        json!({"id": "s-2", "command": {"name": "glueetl"}, "numberOfWorkers": 3,
               "connections": {"connections": ["a"]}, "tags": {"owner": "bob"}}),
        json!({"id": "s-2", "status": "PROVISIONING"}),
    );
    let record = read_create_session(&event).unwrap();
    let merged = record.clone().facts(None);
    assert_eq!(merged.number_of_workers, Fact::Given(3));
    assert_eq!(merged.connections, Fact::Given(vec!["a".into()]));
    assert_eq!(
        merged.profile_name,
        Fact::Omitted,
        "an echo without profileName: no profile"
    );
    let glue = facts_from_glue_session(&json!({"Session": {
        "Id": "s-2", "Status": "READY", "NumberOfWorkers": 30, "WorkerType": "G.1X",
        "Command": {"Name": "glueetl"}, "ProfileName": "team"
    }}))
    .unwrap();
    let all = merge_sources(record.request, record.echo, Some(glue));
    assert_eq!(all.number_of_workers, Fact::Given(30));
    assert_eq!(all.status.as_deref(), Some("READY"));
    assert_eq!(all.profile_name, Fact::Given("team".into()));
    assert_eq!(
        all.tags.given().map(BTreeMap::len),
        Some(1),
        "the request's tags stay"
    );
    assert!(all.principal.is_some(), "the creator comes from the record");
}

// ---- 2. Usage profiles --------------------------------------------------------------------

#[test]
fn a_profile_supplies_every_left_out_setting() {
    let event = create_session(
        json!({"id": "s-3", "command": {"name": "glueetl"}, "glueVersion": "5.0",
               "connections": {"connections": ["private-vpc"]}, "tags": {"owner": "bob"}}),
        json!({"id": "s-3", "status": "PROVISIONING", "profileName": "big"}),
    );
    let profile = json!({"Name": "big", "Configuration": {"SessionConfiguration": {
        "numberOfWorkers": {"DefaultValue": "40", "MaxValue": "50"},
        "workerType": {"DefaultValue": "G.4X", "AllowedValues": ["G.4X"]},
        "timeout": {"DefaultValue": "100"},
        "idleTimeout": {"DefaultValue": "200"}
    }}});
    let verdict = evaluate(&default_policy(), &with_profile(facts(&event), &profile));
    assert_eq!(
        rules(&verdict),
        [
            "max_workers",
            "allowed_worker_types",
            "max_dpu",
            "max_idle_timeout_minutes"
        ]
    );
    assert!(verdict.violations.iter().all(|v| v.from_default));
    assert_eq!(verdict.violations[2].actual, json!(160.0));
}

#[test]
fn a_profile_without_a_default_for_a_key_leaves_glue_s_default() {
    let event = create_session(
        json!({"id": "s-4", "command": {"name": "glueetl"}, "glueVersion": "5.0",
               "numberOfWorkers": 2, "workerType": "G.1X",
               "connections": {"connections": ["private-vpc"]}, "tags": {"owner": "bob"}}),
        json!({"id": "s-4", "profileName": "timeouts-only"}),
    );
    let profile = json!({"Name": "timeouts-only", "Configuration": {"SessionConfiguration": {
        "timeout": {"DefaultValue": "300"}}}});
    let verdict = evaluate(&default_policy(), &with_profile(facts(&event), &profile));
    // Idle timeout: Glue's default is the session's Timeout, here the profile's 300 (> 120).
    assert_eq!(rules(&verdict), ["max_idle_timeout_minutes"]);
    assert!(
        verdict
            .defaults_applied
            .iter()
            .any(|note| note.starts_with("IdleTimeout = Timeout = 300 minutes")),
        "{:?}",
        verdict.defaults_applied
    );
}

#[test]
fn an_unreadable_profile_leaves_what_it_supplies_unchecked_never_guessed() {
    let event = create_session(
        json!({"id": "s-5", "command": {"name": "glueetl"}, "glueVersion": "5.0",
               "connections": {"connections": ["private-vpc"]}, "tags": {"owner": "bob"}}),
        json!({"id": "s-5", "profileName": "secret"}),
    );
    let facts = facts(&event).with_usage_profile(ProfileLookup::Failed(
        "GetUsageProfile was denied (AccessDeniedException)".into(),
    ));
    let verdict = evaluate(&default_policy(), &facts);
    assert_eq!(
        verdict.decision,
        Decision::Compliant,
        "never a stop on a guess"
    );
    let checks: Vec<&str> = verdict
        .unchecked
        .iter()
        .map(|note| note.split(':').next().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "max_workers",
            "allowed_worker_types",
            "max_dpu",
            "max_timeout_minutes",
            "max_idle_timeout_minutes"
        ]
    );
    let from_profile = verdict.unchecked.iter().filter(|note| note.contains(
        "usage profile \"secret\" supplies it, and the profile could not be read: GetUsageProfile was denied"
    ));
    assert_eq!(from_profile.count(), 4, "{:?}", verdict.unchecked);
}

#[test]
fn get_usage_profile_responses_are_read_strictly() {
    let read = |json: Value| UsageProfile::from_get_usage_profile(&json);
    let profile = read(
        json!({"Name": "p", "Configuration": {"SessionConfiguration": {
        "numberOfWorkers": {"DefaultValue": "4"}, "workerType": {"DefaultValue": "G.2X"},
        "idleTimeout": {"MinValue": "1"}}}}),
    )
    .unwrap();
    assert_eq!(
        profile.defaults,
        ProfileDefaults {
            number_of_workers: Some(4),
            worker_type: Some("G.2X".into()),
            timeout_minutes: None,
            idle_timeout_minutes: None,
        }
    );
    // Sessions get no default from a profile that configures only jobs.
    assert_eq!(
        read(json!({"Name": "p", "Configuration": {"JobConfiguration": {}}}))
            .unwrap()
            .defaults,
        ProfileDefaults::default()
    );
    // A damaged profile is refused, never read as one that supplies nothing (Glue's defaults
    // would then stand in for the profile's).
    for (damaged, reason) in [
        (json!({"Name": "p"}), "`Configuration` is missing"),
        (
            json!({"Name": "p", "Configuration": "oops"}),
            "Configuration: \"oops\" is not an object",
        ),
        (
            json!({"Name": "p", "Configuration": {"SessionConfiguration": []}}),
            "Configuration.SessionConfiguration: [] is not an object",
        ),
        (
            json!({"Name": "p", "Configuration": {"SessionConfiguration": {"timeout": "600"}}}),
            "Configuration.SessionConfiguration.timeout: \"600\" is not an object",
        ),
    ] {
        let error = read(damaged.clone()).unwrap_err();
        assert!(error.contains(reason), "{damaged}: {error}");
    }
    assert!(
        read(json!({"Configuration": {}}))
            .unwrap_err()
            .contains("`Name` is missing")
    );
    let error = read(
        json!({"Name": "p", "Configuration": {"SessionConfiguration": {
        "timeout": {"DefaultValue": "ten"}}}}),
    )
    .unwrap_err();
    assert_eq!(
        error,
        "Configuration.SessionConfiguration.timeout.DefaultValue: \"ten\" is not a whole number"
    );
}

#[test]
fn a_glue_session_names_its_profile_and_type() {
    let facts = facts_from_glue_session(&json!({"Session": {
        "Id": "s-6", "Status": "READY", "ProfileName": "p", "Command": {"Name": "glueray"}
    }}))
    .unwrap();
    assert_eq!(facts.profile_name, Fact::Given("p".into()));
    assert_eq!(facts.command, Fact::Given("glueray".into()));
    let none = facts_from_glue_session(&json!({"Id": "s-7"})).unwrap();
    assert_eq!(
        none.profile_name,
        Fact::Omitted,
        "GetSession names a profile when there is one"
    );
}

// ---- 3. Session types ----------------------------------------------------------------------

#[test]
fn only_documented_defaults_apply_per_command() {
    let left_out = |kind: Option<&str>| {
        let mut request = json!({"id": "s-8", "glueVersion": "5.0", "numberOfWorkers": 2,
            "workerType": "G.1X", "connections": {"connections": ["private-vpc"]},
            "tags": {"owner": "bob"}});
        if let Some(kind) = kind {
            request["command"] = json!({"name": kind});
        }
        evaluate(
            &default_policy(),
            &facts(&create_session(request, json!({"id": "s-8"}))),
        )
    };
    let spark = left_out(Some("glueetl"));
    assert_eq!(
        rules(&spark),
        ["max_timeout_minutes", "max_idle_timeout_minutes"],
        "Glue documents 2880 minutes for Spark sessions"
    );
    for kind in ["gluestreaming", "glueray", "pythonshell"] {
        let verdict = left_out(Some(kind));
        assert_eq!(verdict.decision, Decision::Compliant, "{kind}");
        assert_eq!(
            verdict.unchecked.len(),
            2,
            "{kind}: {:?}",
            verdict.unchecked
        );
        assert!(
            verdict.unchecked[0].contains(kind),
            "{:?}",
            verdict.unchecked
        );
    }
    let untyped = left_out(None);
    assert_eq!(untyped.decision, Decision::Compliant);
    assert!(
        untyped.unchecked[0].contains("Command.Name"),
        "{:?}",
        untyped.unchecked
    );
}

#[test]
fn streaming_sessions_left_out_workers_are_unchecked() {
    let event = create_session(
        json!({"id": "s-9", "command": {"name": "gluestreaming"}, "timeout": 60,
               "idleTimeout": 60, "glueVersion": "5.0",
               "connections": {"connections": ["private-vpc"]}, "tags": {"owner": "bob"}}),
        json!({"id": "s-9"}),
    );
    let verdict = evaluate(&default_policy(), &facts(&event));
    assert_eq!(verdict.decision, Decision::Compliant);
    let checks: Vec<&str> = verdict
        .unchecked
        .iter()
        .map(|note| note.split(':').next().unwrap())
        .collect();
    assert_eq!(checks, ["max_workers", "allowed_worker_types", "max_dpu"]);
}

// ---- 4. The catalogue is data ---------------------------------------------------------------

#[test]
fn a_policy_may_give_the_dpu_of_a_worker_type_the_catalogue_lacks() {
    let text = |extra: &str| {
        format!(
            "version: 1\nstack: {{name: g}}\nboundaries: {{max_dpu: 10, allowed_worker_types: [G.1X, X.3X]}}\n{extra}"
        )
    };
    let event = create_session(
        json!({"id": "s-10", "command": {"name": "glueetl"}, "numberOfWorkers": 4,
               "workerType": "X.3X", "timeout": 60}),
        json!({"id": "s-10"}),
    );
    let without = load_policy("p.yaml", text("").as_bytes()).unwrap();
    let verdict = evaluate(&without, &facts(&event));
    assert_eq!(rules(&verdict), ["max_dpu"], "no DPU figure: fails closed");
    let with = load_policy("p.yaml", text("worker_type_dpu: {X.3X: 3}\n").as_bytes()).unwrap();
    let verdict = evaluate(&with, &facts(&event));
    assert_eq!(rules(&verdict), ["max_dpu"], "4 x 3 = 12 > 10");
    assert_eq!(verdict.violations[0].actual, json!(12.0));
    let small = create_session(
        json!({"id": "s-11", "command": {"name": "glueetl"}, "numberOfWorkers": 3,
               "workerType": "X.3X", "timeout": 60}),
        json!({"id": "s-11"}),
    );
    assert_eq!(
        evaluate(&with, &facts(&small)).decision,
        Decision::Compliant
    );
}

// ---- 6. The person behind a shared role ------------------------------------------------------

#[test]
fn the_person_behind_a_shared_role_is_shown() {
    let sso_role = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DataEngineer_0123456789abcdef";
    let mut event = create_session(
        json!({"id": "s-12", "command": {"name": "glueetl"}, "numberOfWorkers": 50}),
        json!({"id": "s-12"}),
    );
    event["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataEngineer_0123456789abcdef/alice@example.com",
        "sessionContext": {"sessionIssuer": {"arn": sso_role}, "sourceIdentity": "alice@example.com"},
        "onBehalfOf": {"userId": "9067-abcd", "identityStoreArn": "arn:aws:identitystore::123456789012:identitystore/d-1234567890"}
    });
    let text = "version: 1\nstack: {name: g}\nboundaries: {max_workers: 10}\noverrides:\n  - name: sso-engineers\n    principals: [\"arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_DataEngineer_*\"]\n    boundaries: {max_workers: 60}\n";
    let policy = load_policy("p.yaml", text.as_bytes()).unwrap();
    let verdict = evaluate(&policy, &facts(&event));
    assert_eq!(
        verdict.person.as_deref(),
        Some("alice@example.com (source identity)")
    );
    assert_eq!(
        verdict.override_name.as_deref(),
        Some("sso-engineers"),
        "a pattern with the role's path matches the issuing role"
    );
    assert_eq!(verdict.decision, Decision::Compliant);

    event["userIdentity"]["sessionContext"]
        .as_object_mut()
        .unwrap()
        .remove("sourceIdentity");
    let verdict = evaluate(&policy, &facts(&event));
    assert_eq!(
        verdict.person.as_deref(),
        Some(
            "9067-abcd (IAM Identity Center user in arn:aws:identitystore::123456789012:identitystore/d-1234567890)"
        )
    );
}

// ---- 7. Same kind, smaller --------------------------------------------------------------------

#[test]
fn every_glue_call_names_the_session_it_is_about() {
    for (event_name, key) in [
        ("GetStatement", "sessionId"),
        ("CancelStatement", "sessionId"),
        ("ListStatements", "sessionId"),
        ("StopSession", "id"),
        ("GetSession", "id"),
    ] {
        let event = json!({"eventSource": "glue.amazonaws.com", "eventName": event_name,
                           "requestParameters": {key: "nb-1"}, "responseElements": null});
        let verdict = policy::evaluate_event(&default_policy(), &event);
        assert_eq!(verdict.decision, Decision::Ignored);
        assert_eq!(verdict.session_id.as_deref(), Some("nb-1"), "{event_name}");
    }
}

#[test]
fn an_ended_session_gets_no_action_and_a_reason() {
    for status in ["STOPPING", "STOPPED", "FAILED", "TIMEOUT"] {
        let facts = facts_from_glue_session(&json!({"Session": {
            "Id": "s-13", "Status": status, "NumberOfWorkers": 90, "WorkerType": "G.1X",
            "Command": {"Name": "glueetl"}
        }}))
        .unwrap();
        let verdict = evaluate(&default_policy(), &facts);
        assert_eq!(verdict.decision, Decision::Violation, "{status}");
        assert_eq!(verdict.action, Action::None, "{status}");
        assert_eq!(
            verdict.reason,
            Some(format!(
                "the session has already ended ({status}): there is nothing to stop"
            ))
        );
    }
}

#[test]
fn names_are_quoted_so_stray_spaces_show() {
    let event = create_session(
        json!({"id": "s-14", "command": {"name": "glueetl"}, "numberOfWorkers": 2,
               "workerType": "G.1X ", "connections": {"connections": ["private-vpc", " b"]}}),
        json!({"id": "s-14"}),
    );
    let verdict = evaluate(&default_policy(), &facts(&event));
    let messages: Vec<&str> = verdict
        .violations
        .iter()
        .map(|v| v.message.as_str())
        .collect();
    assert!(
        messages.contains(&r#"worker type "G.1X " is not allowed (allowed: "G.1X", "G.2X")"#),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(r#"connection " b" is not allowed"#)),
        "{messages:?}"
    );
}

#[test]
fn the_readme_pattern_for_identity_center_roles_matches_with_and_without_a_region() {
    let pattern = policy::glob::ArnPattern::parse(
        "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_DataEngineer_*",
    )
    .unwrap();
    for role in [
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DataEngineer_0123456789abcdef",
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataEngineer_fedcba9876543210",
    ] {
        assert!(pattern.matches(role), "{role}");
    }
    assert!(!pattern.matches(
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analyst_0123"
    ));
}

// ---- Glue as it is today: Graviton, 5.1/6.1, Spark Connect, auto scaling, previews --------

fn graviton_policy() -> Policy {
    load_policy(
        "policy-allows-graviton.yaml",
        &fixture("policy-allows-graviton.yaml"),
    )
    .unwrap()
}

#[test]
fn realworld_27_graviton_workers_on_glue_6_1() {
    let session = facts(&record("27-graviton-workers-glue-6-1.json"));
    let verdict = evaluate(&default_policy(), &session);
    assert_eq!(verdict.decision, Decision::Violation);
    assert_eq!(
        rules(&verdict),
        ["allowed_worker_types", "allowed_glue_versions"],
        "8 x G.1X.GRAVITON is 8 DPUs, counted: max_dpu does not fail closed"
    );
    let verdict = evaluate(&graviton_policy(), &session);
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:?}");
}

#[test]
fn realworld_28_spark_connect_session() {
    let session = facts(&record("28-spark-connect-session.json"));
    assert_eq!(session.session_type, Fact::Given("SPARK_CONNECT".into()));
    let verdict = evaluate(&default_policy(), &session);
    assert_eq!(rules(&verdict), ["allowed_glue_versions"]);
    assert_eq!(verdict.session_type.as_deref(), Some("SPARK_CONNECT"));
    assert!(
        verdict.notes.is_empty(),
        "5.1 runs Spark Connect: {:?}",
        verdict.notes
    );
    let verdict = evaluate(&graviton_policy(), &session);
    assert_eq!(rules(&verdict), ["allowed_worker_types"]);
    assert_eq!(verdict.session_type.as_deref(), Some("SPARK_CONNECT"));
}

#[test]
fn realworld_policy_that_allows_graviton_is_valid_without_warnings() {
    let loaded = policy::load_policy_with_warnings(
        "policy-allows-graviton.yaml",
        &fixture("policy-allows-graviton.yaml"),
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn the_session_type_is_read_from_every_source_and_glue_wins() {
    // The request alone.
    let only_request = create_session(
        json!({"id": "s-1", "command": {"name": "glueetl"}, "sessionType": "SPARK_CONNECT"}),
        json!({"id": "s-1"}),
    );
    assert_eq!(
        facts(&only_request).session_type,
        Fact::Given("SPARK_CONNECT".into())
    );
    // The echo over the request.
    let echoed = create_session(
        json!({"id": "s-1", "command": {"name": "glueetl"}}),
        json!({"id": "s-1", "sessionType": "LIVY"}),
    );
    assert_eq!(facts(&echoed).session_type, Fact::Given("LIVY".into()));
    // Left out everywhere: Glue's default, LIVY, shown in the verdict and noted when judged.
    let left_out = create_session(
        json!({"id": "s-1", "command": {"name": "glueetl"}}),
        json!({}),
    );
    let left_out = facts(&left_out);
    assert_eq!(left_out.session_type, Fact::Omitted);
    let policy = load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: g}\nboundaries: {allowed_session_types: [SPARK_CONNECT]}\n",
    )
    .unwrap();
    let verdict = evaluate(&policy, &left_out);
    assert_eq!(verdict.session_type.as_deref(), Some("LIVY"));
    assert_eq!(rules(&verdict), ["allowed_session_types"]);
    assert!(verdict.violations[0].from_default);
    assert!(
        verdict
            .defaults_applied
            .contains(&"SessionType = LIVY (Glue default)".to_string())
    );
    // GetSession wins over the record.
    let glue = facts_from_glue_session(&json!({"Session": {"Id": "s-1", "Status": "READY",
        "SessionType": "SPARK_CONNECT", "Command": {"Name": "glueetl"}}}))
    .unwrap();
    let merged = read_create_session(&echoed).unwrap().facts(Some(glue));
    assert_eq!(merged.session_type, Fact::Given("SPARK_CONNECT".into()));
    assert!(evaluate(&policy, &merged).violations.is_empty());
    // A source that does not report it (moto's GetSession): unchecked, never guessed.
    let unreported = facts_from_glue_session(&json!({"Id": "s-2", "Status": "READY",
        "Command": {"Name": "glueetl"}}))
    .unwrap();
    let verdict = evaluate(&policy, &unreported);
    assert_eq!(verdict.session_type, None);
    assert!(verdict.unchecked[0].starts_with("allowed_session_types:"));
}

#[test]
fn spark_connect_on_a_glue_version_before_5_1_is_noted_never_stopped() {
    let policy = load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: g}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    for (version, noted) in [
        ("4.0", true),
        ("5.0", true),
        ("5.1", false),
        ("6.1", false),
        ("7.0", false),
        ("4.9", true),
    ] {
        let event = create_session(
            json!({"id": "s-1", "command": {"name": "glueetl"}, "sessionType": "SPARK_CONNECT",
                   "glueVersion": version, "numberOfWorkers": 2, "workerType": "G.1X"}),
            json!({"id": "s-1"}),
        );
        let verdict = evaluate(&policy, &facts(&event));
        assert_eq!(verdict.decision, Decision::Compliant, "{version}");
        assert_eq!(
            verdict
                .notes
                .iter()
                .any(|n| n.contains("need Glue 5.1 or later")),
            noted,
            "{version}: {:?}",
            verdict.notes
        );
    }
}

#[test]
fn auto_scaling_is_read_from_default_arguments_and_may_be_required() {
    let policy = load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: g}\nboundaries: {max_workers: 10, require_auto_scaling: true}\n",
    )
    .unwrap();
    let judged =
        |request: Value, echo: Value| evaluate(&policy, &facts(&create_session(request, echo)));
    // Turned on in the request: the worker count is a maximum, said in the verdict.
    let verdict = judged(
        json!({"id": "s-1", "command": {"name": "glueetl"}, "numberOfWorkers": 8,
               "workerType": "G.1X", "defaultArguments": {"--enable-auto-scaling": "true",
               "--job-language": "python"}}),
        json!({"id": "s-1"}),
    );
    assert_eq!(verdict.decision, Decision::Compliant, "{verdict:?}");
    assert_eq!(
        verdict.notes,
        [
            "auto scaling is on (--enable-auto-scaling true): NumberOfWorkers 8 is the most Glue \
          runs, and the limits judge that maximum"
        ]
    );
    // The managed scaling profile counts, and wins over --enable-auto-scaling.
    let verdict = judged(
        json!({"id": "s-1", "command": {"name": "glueetl"},
               "defaultArguments": {"--scaling-profile": "balanced"}}),
        json!({"id": "s-1"}),
    );
    assert!(verdict.violations.is_empty(), "{verdict:?}");
    let verdict = judged(
        json!({"id": "s-1", "command": {"name": "glueetl"},
               "defaultArguments": {"--scaling-profile": "disabled", "--enable-auto-scaling": "true"}}),
        json!({"id": "s-1"}),
    );
    assert_eq!(rules(&verdict), ["require_auto_scaling"]);
    // No arguments at all: fixed workers, refused when the policy requires scaling.
    let verdict = judged(
        json!({"id": "s-1", "command": {"name": "glueetl"}}),
        json!({"id": "s-1"}),
    );
    assert_eq!(rules(&verdict), ["require_auto_scaling"]);
    assert!(verdict.notes.is_empty());
    // GetSession's DefaultArguments win; a source that cannot say leaves it unchecked.
    let glue = facts_from_glue_session(&json!({"Id": "s-1", "Status": "READY",
        "Command": {"Name": "glueetl"}, "DefaultArguments": {"--enable-auto-scaling": "TRUE"}}))
    .unwrap();
    let record = create_session(
        json!({"id": "s-1", "command": {"name": "glueetl"}}),
        json!({"id": "s-1"}),
    );
    let merged = read_create_session(&record).unwrap().facts(Some(glue));
    assert!(evaluate(&policy, &merged).violations.is_empty());
    let unreadable = create_session(
        json!({"id": "s-1", "command": {"name": "glueetl"}, "defaultArguments": "oops"}),
        json!({"id": "s-1"}),
    );
    let verdict = evaluate(&policy, &facts(&unreadable));
    assert!(verdict.violations.is_empty());
    assert!(verdict.unchecked[0].starts_with("require_auto_scaling:"));
}

#[test]
fn data_previews_are_bounded_or_exempted_by_session_id() {
    let policy = load_policy(
        "p.yaml",
        br#"version: 1
stack: {name: g}
boundaries: {max_workers: 10, require_vpc_connection: true}
overrides:
  - name: previews
    session_ids: ["glue-studio-datapreview-*"]
    boundaries: {require_vpc_connection: false, max_workers: 2}
exempt_session_ids: ["glue-studio-datapreview-keep-*"]
"#,
    )
    .unwrap();
    let session = |id: &str, workers: u64| {
        facts(&create_session(
            json!({"id": id, "command": {"name": "glueetl"}, "numberOfWorkers": workers,
                   "workerType": "G.1X"}),
            json!({"id": id}),
        ))
    };
    let preview = evaluate(&policy, &session("glue-studio-datapreview-35c93984", 2));
    assert_eq!(preview.decision, Decision::Compliant, "{preview:?}");
    assert_eq!(preview.override_name.as_deref(), Some("previews"));
    let big_preview = evaluate(&policy, &session("glue-studio-datapreview-35c93984", 5));
    assert_eq!(rules(&big_preview), ["max_workers"]);
    let notebook = evaluate(&policy, &session("alice-nb-1", 2));
    assert_eq!(rules(&notebook), ["require_vpc_connection"]);
    assert_eq!(notebook.override_name, None);
    let kept = evaluate(&policy, &session("glue-studio-datapreview-keep-1", 50));
    assert_eq!(kept.decision, Decision::Exempt);
    assert_eq!(kept.action, Action::None);
    assert_eq!(
        kept.reason.as_deref(),
        Some("the session id matches exempt_session_ids: never stopped, nobody notified")
    );
}
