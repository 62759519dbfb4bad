//! Replays the committed fuzz seeds (`fuzz/corpus/<target>/seed-*`) through both fuzzed entry
//! points on every `cargo test`, so what the fuzzer checks stays checked without nightly:
//! `load_policy` on raw bytes, and `evaluate_event` / `facts_from_glue_session` on JSON.

use std::path::{Path, PathBuf};

use policy::{Decision, Policy, evaluate, evaluate_event, facts_from_glue_session, load_policy};
use serde_json::Value;

fn default_policy() -> Policy {
    load_policy(
        "default.yaml",
        include_bytes!("../../policies/default.yaml"),
    )
    .unwrap()
}

/// The committed seeds of one fuzz target (the files `fuzz/.gitignore` lets through).
fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("seed-"))
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seed-* files in {}", dir.display());
    seeds
}

/// What the `policy_load` target does with one input.
fn replay_policy_load(name: &str, bytes: &[u8]) {
    let policy = match load_policy(name, bytes) {
        Ok(policy) => policy,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "{name}: an Err with no error in it");
            for error in &errors.0 {
                let line = error.to_string();
                assert!(line.starts_with(&format!("{name}:")), "{line}");
                assert!(!error.reason.is_empty(), "{line}");
            }
            return;
        }
    };
    let _ = evaluate(&policy, &Default::default());
}

/// What the `event_evaluate` target does with one input.
fn replay_event_evaluate(policy: &Policy, name: &str, bytes: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let verdict = evaluate_event(policy, &event);
    if verdict.decision == Decision::Ignored {
        assert!(verdict.reason.is_some(), "{name}: ignored without a reason");
    }
    serde_json::to_string(&verdict).unwrap();
    if let Ok(facts) = facts_from_glue_session(&event) {
        serde_json::to_string(&evaluate(policy, &facts)).unwrap();
    }
}

#[test]
fn every_seed_goes_through_both_entry_points() {
    let policy = default_policy();
    for target in ["policy_load", "event_evaluate"] {
        for path in seeds(target) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            replay_policy_load(&name, &bytes);
            replay_event_evaluate(&policy, &name, &bytes);
        }
    }
}

#[test]
fn the_seeds_are_what_their_target_expects() {
    // The shipped policy is in the policy seeds and loads; the event seeds are all JSON objects.
    let loaded: Vec<String> = seeds("policy_load")
        .iter()
        .filter(|path| load_policy("seed", &std::fs::read(path).unwrap()).is_ok())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        loaded.contains(&"seed-default.yaml".to_string()),
        "{loaded:?}"
    );
    for path in seeds("event_evaluate") {
        let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(event.is_object(), "{}", path.display());
    }
}
