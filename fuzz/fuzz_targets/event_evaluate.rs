//! Fuzz target: arbitrary bytes as an event. Whatever parses as JSON goes through
//! `evaluate_event` (CloudTrail) and `facts_from_glue_session` + `evaluate` (Glue `GetSession`)
//! against the shipped default policy: a verdict or `ignored`, never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use policy::{Decision, Policy, evaluate, evaluate_event, facts_from_glue_session, load_policy};
use serde_json::Value;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    load_policy(
        "policies/default.yaml",
        include_str!("../../policies/default.yaml").as_bytes(),
    )
    .expect("the shipped default policy is valid")
});

fuzz_target!(|bytes: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let verdict = evaluate_event(&POLICY, &event);
    if verdict.decision == Decision::Ignored {
        assert!(verdict.reason.is_some(), "ignored without a reason");
    }
    let _ = serde_json::to_string(&verdict).expect("a verdict serializes");
    if let Ok(facts) = facts_from_glue_session(&event) {
        let _ = serde_json::to_string(&evaluate(&POLICY, &facts)).expect("a verdict serializes");
    }
});
