//! Glue Session Guard's pure core: the policy model and its validation, session facts read from
//! CloudTrail events and Glue sessions, and `evaluate(policy, facts) -> Verdict`.
//! No AWS SDK, no clock, no I/O: strings and values in, results out.

pub mod evaluate;
pub mod facts;
pub mod glob;
pub mod locate;
pub mod model;
pub mod validate;

pub use evaluate::{Action, Decision, Verdict, Violation, evaluate, evaluate_event};
pub use facts::{
    Fact, Ignored, Principal, SessionFacts, facts_from_cloudtrail, facts_from_glue_session,
};
pub use model::{Boundaries, EnforcementAction, Mode, Override, Policy};
pub use validate::{PolicyError, PolicyErrors, load_policy};

/// The policy as the Lambda receives it (compact JSON, in its environment): only what evaluation
/// and enforcement use. Deploy-time settings (tags, emails) are left out to save space.
pub fn runtime_policy_json(policy: &Policy) -> String {
    let mut runtime = policy.clone();
    runtime.stack.tags.clear();
    runtime.alarms = None;
    if let Some(notifications) = &mut runtime.notifications {
        notifications.emails.clear();
    }
    serde_json::to_string(&runtime).expect("a policy always serializes to JSON")
}
