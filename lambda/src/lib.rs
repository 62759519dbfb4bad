//! Glue Session Guard's enforcement Lambda: judges Glue interactive sessions against the policy
//! when they are created (CloudTrail `CreateSession` through EventBridge) and on a schedule (the
//! sweep), stops or deletes the ones out of bounds, and tells people why.
//!
//! `main.rs` does the one-time setup; everything else lives here so tests can call
//! [`handler::handle`] directly with a `LambdaEvent` and concrete SDK clients.

pub mod config;
pub mod creator;
pub mod enforce;
pub mod error;
pub mod handler;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod profiles;
pub mod report;
pub mod session;
pub mod sweep;
pub mod wait;

pub use config::{Guard, Settings, Timing};
pub use error::{GuardError, Retry};
pub use handler::{Response, handle};
