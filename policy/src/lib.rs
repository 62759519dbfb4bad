//! Glue Session Guard's pure core: the policy model and its validation, session and job facts
//! read from CloudTrail events and Glue's answers, and `evaluate(policy, facts) -> Verdict`
//! (`evaluate_job` for job runs and job definitions).
//! No AWS SDK, no clock, no I/O: strings and values in, results out.

pub mod budgets;
pub mod catalogue;
pub mod credentials;
pub mod errors;
pub mod evaluate;
pub mod exceptions;
pub mod facts;
pub mod glob;
pub mod guardrails;
pub mod jobs;
pub mod json;
pub mod limits;
#[cfg(feature = "yaml")]
pub mod locate;
pub mod model;
pub mod records;
pub mod routes;
pub mod runtime;
#[cfg(feature = "yaml")]
mod shape;
pub mod time;
pub mod validate;

pub use evaluate::{
    Action, Decision, Verdict, Violation, enforcement_action, evaluate, evaluate_event,
    evaluate_job, lapse, lapse_job, quoted,
};
pub use facts::{
    CreateSessionRecord, Fact, Ignored, OnBehalfOf, Principal, ProfileDefaults, ProfileLookup,
    SessionFacts, UsageProfile, facts_from_cloudtrail, facts_from_glue_session, merge_sources,
    read_create_session,
};
pub use jobs::{
    JobFacts, JobRecord, facts_from_glue_job, facts_from_glue_job_run, is_job_event, is_update_job,
    read_job_record,
};
pub use model::{
    Boundaries, Budget, BudgetMembers, Covered, EnforcementAction, Exemption, History,
    HistoryAthena, JobOverride, Jobs, Mode, Network, Override, Policy, RULES, RoleAssignment,
    Route, SessionDefaults, SlackChannel, TeamsChannel, UsageProfiles,
};
pub use runtime::{
    COMPRESSED_PREFIX, RuntimePolicyError, parse_runtime_policy, runtime_policy,
    runtime_policy_env, runtime_policy_json,
};
#[cfg(feature = "yaml")]
pub use validate::{Loaded, load_policy, load_policy_with_warnings};
pub use validate::{PolicyError, PolicyErrors};
