//! Fuzz target: arbitrary bytes as a policy file. `load_policy` must return `Ok` or `Err`, never
//! panic, overflow its stack or run away; an accepted policy must evaluate without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{SessionFacts, evaluate, load_policy};

fuzz_target!(|bytes: &[u8]| {
    match load_policy("fuzz.yaml", bytes) {
        Ok(policy) => {
            // Whatever the policy says, judging an empty session must work.
            let _ = evaluate(&policy, &SessionFacts::default());
        }
        Err(errors) => {
            // Every error renders (Display walks every field).
            assert!(!errors.0.is_empty(), "an Err with no error in it");
            let _ = errors.to_string();
        }
    }
});
