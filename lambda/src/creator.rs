//! Who created a session or started a job run, for the sweep: the `CreateSession` and
//! `StartJobRun` records CloudTrail still holds, found with `LookupEvents`. Never a tag, id or description: the creator controls those, and
//! overrides and exemptions must not rest on anything the creator controls.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use policy::CreateSessionRecord;
use serde_json::Value;
use tracing::{info, warn};

use crate::error::GuardError;

/// At most this many `CreateSession` records are read per sweep (50 per page, 2 pages a second
/// at CloudTrail's `LookupEvents` limit).
pub const MAX_RECORDS: usize = 2_000;

/// The `CreateSession` records found, by session id (the newest one when an id was reused).
#[derive(Debug, Default, Clone)]
pub struct Creations {
    by_session: HashMap<String, CreateSessionRecord>,
}

impl Creations {
    /// The record of `session_id`'s creation: who the creator is, what they asked for and what
    /// Glue echoed.
    pub fn get(&self, session_id: &str) -> Option<&CreateSessionRecord> {
        self.by_session.get(session_id)
    }

    pub fn len(&self) -> usize {
        self.by_session.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }

    /// Adds one record as `LookupEvents` returns it (`CloudTrailEvent`: the record as a JSON
    /// string); anything that is not a successful Glue `CreateSession` is skipped.
    pub fn add_record(&mut self, cloudtrail_event: &str) {
        let Ok(record) = serde_json::from_str::<Value>(cloudtrail_event) else {
            warn!("a CloudTrail record is not JSON; skipped");
            return;
        };
        if let Ok(read) = policy::read_create_session(&record) {
            // LookupEvents returns the newest first: keep the first record seen for an id.
            self.by_session
                .entry(read.request.session_id.clone())
                .or_insert(read);
        }
    }
}

/// The `StartJobRun` records found, by job run id: who started each run, and its overrides.
#[derive(Debug, Default, Clone)]
pub struct JobStarts {
    by_run: HashMap<String, policy::JobFacts>,
}

impl JobStarts {
    /// The `StartJobRun` record of `run_id`, read (its principal and overrides).
    pub fn get(&self, run_id: &str) -> Option<&policy::JobFacts> {
        self.by_run.get(run_id)
    }

    pub fn len(&self) -> usize {
        self.by_run.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_run.is_empty()
    }

    /// Adds one record as `LookupEvents` returns it; anything that is not a successful Glue
    /// `StartJobRun` is skipped.
    pub fn add_record(&mut self, cloudtrail_event: &str) {
        let Ok(record) = serde_json::from_str::<Value>(cloudtrail_event) else {
            warn!("a CloudTrail record is not JSON; skipped");
            return;
        };
        if let Ok(policy::JobRecord::Run(run)) = policy::read_job_record(&record)
            && let Some(id) = run.job_run_id.clone()
        {
            self.by_run.entry(id).or_insert(run);
        }
    }
}

/// Reads the `StartJobRun` records between `since` and `until` (paginated, newest first, at
/// most [`MAX_RECORDS`]).
pub async fn lookup_job_starts(
    cloudtrail: &aws_sdk_cloudtrail::Client,
    since: SystemTime,
    until: SystemTime,
) -> Result<JobStarts, GuardError> {
    let mut starts = JobStarts::default();
    let read = lookup(cloudtrail, "StartJobRun", since, until, |text| {
        starts.add_record(text)
    })
    .await?;
    info!(
        read,
        runs = starts.len(),
        "read StartJobRun records from CloudTrail"
    );
    Ok(starts)
}

/// Reads the records of `event_name` between `since` and `until`, newest first, handing each
/// record's text to `each`; returns how many were read (at most [`MAX_RECORDS`]).
async fn lookup(
    cloudtrail: &aws_sdk_cloudtrail::Client,
    event_name: &str,
    since: SystemTime,
    until: SystemTime,
    mut each: impl FnMut(&str),
) -> Result<usize, GuardError> {
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventName)
        .attribute_value(event_name)
        .build()
        .map_err(|error| GuardError::Request(error.to_string()))?;
    let mut events = cloudtrail
        .lookup_events()
        .lookup_attributes(attribute)
        .start_time(DateTime::from(since))
        .end_time(DateTime::from(until))
        .into_paginator()
        .items()
        .send();
    let mut read = 0;
    while let Some(event) = events.next().await {
        let event = event.map_err(|error| {
            GuardError::aws("LookupEvents", &format!("{event_name} records"), error)
        })?;
        read += 1;
        if let Some(text) = event.cloud_trail_event() {
            each(text);
        }
        if read >= MAX_RECORDS {
            warn!(
                read,
                "stopped reading CloudTrail after {MAX_RECORDS} {event_name} records"
            );
            break;
        }
    }
    Ok(read)
}

/// Reads the `CreateSession` records between `since` and `until` (paginated, newest first).
pub async fn lookup_creations(
    cloudtrail: &aws_sdk_cloudtrail::Client,
    since: SystemTime,
    until: SystemTime,
) -> Result<Creations, GuardError> {
    let mut creations = Creations::default();
    let read = lookup(cloudtrail, "CreateSession", since, until, |text| {
        creations.add_record(text)
    })
    .await?;
    info!(
        read,
        sessions = creations.len(),
        "read CreateSession records from CloudTrail"
    );
    Ok(creations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_give_the_creator_and_the_request_the_newest_first() {
        let mut creations = Creations::default();
        let record = |id: &str, arn: &str, workers: u32| {
            serde_json::json!({
                "eventSource": "glue.amazonaws.com",
                "eventName": "CreateSession",
                "userIdentity": {"arn": arn},
                "requestParameters": {"id": id, "numberOfWorkers": workers},
                "responseElements": {"session": {"id": id, "status": "PROVISIONING"}}
            })
            .to_string()
        };
        creations.add_record(&record("s-1", "arn:aws:iam::123456789012:user/new", 3));
        creations.add_record(&record("s-1", "arn:aws:iam::123456789012:user/old", 9));
        creations.add_record("not json");
        creations.add_record(r#"{"eventSource":"s3.amazonaws.com","eventName":"CreateSession"}"#);
        assert_eq!(creations.len(), 1);
        let facts = creations.get("s-1").unwrap().clone().facts(None);
        assert_eq!(
            facts.principal.as_ref().unwrap().arn,
            "arn:aws:iam::123456789012:user/new"
        );
        assert_eq!(facts.number_of_workers, policy::Fact::Given(3));
    }
}
