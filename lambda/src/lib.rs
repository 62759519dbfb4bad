//! Glue Session Guard's enforcement Lambda: judges Glue interactive sessions against the policy
//! when they are created (CloudTrail `CreateSession` through EventBridge) and on a schedule (the
//! sweep), and Glue job runs and job definitions when they are started or written
//! (`StartJobRun`, `CreateJob`, `UpdateJob`); stops or deletes the sessions and stops the runs
//! that are out of bounds, and tells people why.
//!
//! `main.rs` does the one-time setup; everything else lives here so tests can call
//! [`handler::handle`] directly with a `LambdaEvent` and concrete SDK clients.

pub mod budget;
pub mod config;
pub mod creator;
pub mod enforce;
pub mod error;
pub mod handler;
pub mod job;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod profiles;
pub mod remind;
pub mod report;
pub mod session;
pub mod sweep;
pub mod wait;

pub use config::{Guard, Settings, Timing};
pub use error::{GuardError, Retry};
pub use handler::{Response, handle};
