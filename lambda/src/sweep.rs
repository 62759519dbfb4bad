//! The scheduled sweep, the final net: lists every session, judges each one that is
//! `PROVISIONING` or `READY` exactly as the real-time path would (creator recovered from
//! CloudTrail), and enforces the same way. Catches sessions whose event never came.

use std::time::{Duration, SystemTime};

use aws_sdk_glue::types::Session;
use policy::{Decision, Fact, SessionFacts};
use serde::Serialize;
use tracing::{Instrument, error, field, info, info_span};

use crate::config::Guard;
use crate::creator::{self, Creations};
use crate::enforce::{self, Case, Creator, FoundBy, Invocation, Outcome, SessionReport};
use crate::error::GuardError;
use crate::metrics::Metrics;
use crate::profiles;
use crate::session::{self, Status};

/// Glue ends every session within 48 hours: no running session's record is older than this.
const LONGEST_SESSION: Duration = Duration::from_secs(49 * 3600);
/// CloudTrail's event time and Glue's `CreatedOn` may differ a little.
const CLOCK_SLACK: Duration = Duration::from_secs(10 * 60);

/// What one sweep saw and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    /// Sessions listed (any status).
    pub listed: usize,
    /// Sessions `PROVISIONING` or `READY`, judged.
    pub judged: usize,
    /// `CreateSession` records found in CloudTrail.
    pub creators_found: usize,
    pub sessions: Vec<SessionReport>,
}

pub async fn sweep(
    guard: &Guard,
    invocation: &Invocation,
    metrics: &Metrics,
) -> Result<SweepReport, GuardError> {
    let (listed, running) = running_sessions(&guard.glue).await?;
    let mut report = SweepReport {
        listed,
        judged: running.len(),
        creators_found: 0,
        sessions: Vec::new(),
    };
    if running.is_empty() {
        info!(listed, "sweep: no running session");
        return Ok(report);
    }

    let now = SystemTime::now();
    let oldest = running
        .iter()
        .map(|session| session::created_on(session).unwrap_or(now - LONGEST_SESSION))
        .min()
        .unwrap_or(now);
    let creations = creator::lookup_creations(&guard.cloudtrail, oldest - CLOCK_SLACK, now).await?;
    report.creators_found = creations.len();

    let mut failures = Vec::new();
    for session in &running {
        let Some(id) = session.id() else { continue };
        let span = info_span!("session", session_id = %id, decision = field::Empty);
        let result = judge_listed(guard, invocation, session, &creations, metrics)
            .instrument(span.clone())
            .await;
        match result {
            Ok(session_report) => report.sessions.push(session_report),
            Err(failure) => {
                span.in_scope(
                    || error!(error = %failure, retry = ?failure.retry(), "could not enforce"),
                );
                failures.push(failure);
            }
        }
    }
    info!(
        listed,
        judged = report.judged,
        failed = failures.len(),
        "sweep done"
    );
    match failures.len() {
        0 => Ok(report),
        failed => Err(GuardError::SweepIncomplete {
            failed,
            judged: report.judged,
            first: Box::new(failures.swap_remove(0)),
        }),
    }
}

/// Every session (paginated): how many there are, and those `PROVISIONING` or `READY`.
async fn running_sessions(
    glue: &aws_sdk_glue::Client,
) -> Result<(usize, Vec<Session>), GuardError> {
    let mut pages = glue.list_sessions().into_paginator().send();
    let mut listed = 0;
    let mut running = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| GuardError::aws("ListSessions", "all sessions", error))?;
        for session in page.sessions.unwrap_or_default() {
            listed += 1;
            if matches!(Status::of(&session), Status::Provisioning | Status::Ready) {
                running.push(session);
            }
        }
    }
    Ok((listed, running))
}

/// Judges one listed session as the real-time path would, with its tags and its creator.
async fn judge_listed(
    guard: &Guard,
    invocation: &Invocation,
    session: &Session,
    creations: &Creations,
    metrics: &Metrics,
) -> Result<SessionReport, GuardError> {
    let reported = policy::facts_from_glue_session(&session::session_json(session))
        .map_err(|ignored| GuardError::Request(ignored.reason))?;
    let id = reported.session_id.clone();
    let tags = session::get_tags(&guard.glue, &invocation.scope, &id).await?;
    // The same merge as the real-time path: GetSession (here ListSessions) over Glue's echo in
    // the record over the request.
    let (facts, creator) = match creations.get(&id) {
        Some(record) => (record.clone().facts(Some(reported)), Creator::CloudTrail),
        None => (
            policy::merge_sources(
                SessionFacts {
                    session_id: id.clone(),
                    ..SessionFacts::default()
                },
                None,
                Some(reported),
            ),
            Creator::Unknown,
        ),
    };
    let mut facts = profiles::with_profile(guard, facts).await;
    if let Some(tags) = &tags {
        facts.tags = Fact::Given(tags.clone());
    }
    let case = Case {
        facts,
        status: if tags.is_some() {
            Status::of(session)
        } else {
            Status::Gone
        },
        found_by: FoundBy::Sweep,
        creator,
        created_on: session::created_on(session),
    };
    let verdict = enforce::evaluate(guard, &case, metrics);

    // A record may reach LookupEvents minutes after the session exists. Until then an override
    // or exemption could apply that we cannot see: leave the session to the next sweep.
    let policy = guard.policy();
    let creator_matters = !policy.overrides.is_empty() || !policy.exempt_principals.is_empty();
    let young = session::created_on(session)
        .and_then(|created| SystemTime::now().duration_since(created).ok())
        .is_none_or(|age| age < guard.timing.cloudtrail_lag);
    if verdict.decision == Decision::Violation
        && creator == Creator::Unknown
        && creator_matters
        && young
    {
        let report = SessionReport {
            session_id: id,
            decision: verdict.decision,
            action: verdict.action,
            outcome: Outcome::Deferred,
            deleted: false,
            notification: enforce::Notification::NotNeeded,
            principal: None,
            creator,
            override_name: None,
            rules: verdict.rules().into_iter().map(str::to_string).collect(),
            reason: verdict.reason.clone(),
        };
        enforce::log_report(&report);
        return Ok(report);
    }
    enforce::act(guard, invocation, &case, &verdict, metrics).await
}
