//! The lambda crate's fixtures (`lambda/fixtures/`), read in at compile time.

use policy::Policy;

/// The EventBridge envelope of a CloudTrail `CreateSession` record: `nb-alice-big`, 50 G.8X
/// workers, Glue 4.0, by `assumed-role/Analyst/alice`, in us-east-1.
pub const CREATE_SESSION: &str = include_str!("../../lambda/fixtures/create_session_event.json");
/// The scheduled event of the sweep, in us-east-1.
pub const SCHEDULED: &str = include_str!("../../lambda/fixtures/scheduled_event.json");
/// A CloudTrail event of another service.
pub const UNRELATED: &str = include_str!("../../lambda/fixtures/unrelated_event.json");
/// The runtime policy (JSON, as the function gets it in `GSG_POLICY`).
pub const POLICY: &str = include_str!("../../lambda/fixtures/policy.json");

/// The account of every fixture.
pub const ACCOUNT: &str = "123456789012";

/// The fixture policy.
pub fn policy() -> Policy {
    serde_json::from_str(POLICY).expect("the fixture policy")
}
