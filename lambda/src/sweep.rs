//! The scheduled sweep, the final net: lists every session, judges each one that is
//! `PROVISIONING` or `READY` exactly as the real-time path would (creator recovered from
//! CloudTrail), and enforces the same way. Catches sessions whose event never came. When the
//! policy guards jobs, the running job runs as well (`job::sweep_runs`). With team budgets,
//! every session and run is judged first, each budget tallied over all of them
//! (`budget::apply_to_judged`), and only then is anything acted on.

use std::time::{Duration, SystemTime};

use aws_sdk_glue::types::Session;
use policy::{Decision, Fact, Policy, SessionFacts, Verdict};
use serde::Serialize;
use tracing::{Instrument, error, field, info, info_span, warn};

use crate::budget::{self, Registry};
use crate::config::Guard;
use crate::creator::{self, Creations};
use crate::enforce;
use crate::error::GuardError;
use crate::metrics::Metrics;
pub use crate::report::Assessed;
use crate::report::{Candidate, Creator, FoundBy, Invocation, Outcome, SessionReport};
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
    /// The job runs' sweep, when the policy guards jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<crate::job::JobSweepReport>,
    /// Each team budget as the sweep tallied it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<crate::budget::BudgetNow>,
    /// The reminders of exceptions that expire within 7 days ([`crate::remind`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<crate::remind::Reminder>,
}

pub async fn sweep(
    guard: &Guard,
    invocation: &Invocation,
    metrics: &Metrics,
) -> Result<SweepReport, GuardError> {
    let (listed, running) = session::running(&guard.glue).await?;
    let mut report = SweepReport {
        listed,
        judged: running.len(),
        creators_found: 0,
        sessions: Vec::new(),
        jobs: None,
        budgets: Vec::new(),
        reminders: Vec::new(),
    };
    let mut failures = Vec::new();
    // Judge every running session first (reads only), then act: the team budgets need all of
    // them judged before any is acted on.
    let mut assessed = Vec::new();
    let mut spans = Vec::new();
    if running.is_empty() {
        info!(listed, "sweep: no running session");
    } else {
        let creations = creations_of(guard, &running).await?;
        report.creators_found = creations.len();
        for session in &running {
            let Some(id) = session.id() else { continue };
            let span = info_span!("session", session_id = %id, decision = field::Empty);
            let result = assess(guard, invocation, session, &creations, metrics)
                .instrument(span.clone())
                .await;
            match result {
                Ok(one) => {
                    assessed.push(one);
                    spans.push(span);
                }
                Err(failure) => {
                    span.in_scope(
                        || error!(error = %failure, retry = ?failure.retry(), "could not enforce"),
                    );
                    failures.push(failure);
                }
            }
        }
    }
    let guards_jobs = guard.policy().jobs.is_some();
    let with_budgets = !guard.policy().budgets.is_empty();
    // With budgets, the job runs are judged before anything is acted on too: sessions and runs
    // share each budget's order.
    let mut runs_now = None;
    if with_budgets && guards_jobs {
        match crate::job::assess_runs(guard, invocation, metrics, true).await {
            Ok(now) => runs_now = Some(now),
            Err(failure) => failures.push(failure),
        }
    }
    if with_budgets {
        // A member missing from the count can change who is over after it (the one found over
        // may be a later member than the one the whole list would stop), so the sweep acts for
        // budgets only on a whole view: every running session judged, every job's runs listed.
        // Jobs this sweep leaves to later ones are counted from the registry's index.
        let mut incomplete = (!failures.is_empty())
            .then_some("a running session or the job runs could not be judged");
        let mut unswept = Vec::new();
        if let Some(now) = &runs_now {
            if !now.failures.is_empty() {
                incomplete = Some("a job's runs could not be listed");
            } else if !now.not_swept.is_empty() {
                // Reading them keeps the time acting on what was found needs.
                let time = crate::wait::Budget::until(
                    std::time::Duration::MAX,
                    invocation.deadline,
                    guard.timing.deadline_margin * 2,
                );
                let left_over = |name: &str| now.not_swept.iter().any(|left| left == name);
                match crate::job::indexed_runs_of(guard, left_over, Some(&time)).await {
                    Ok((holders, 0)) => unswept = holders,
                    Ok(_) => {
                        incomplete = Some("a job left to a later sweep could not be read in time")
                    }
                    Err(failure) => {
                        failures.push(failure);
                        incomplete = Some("the registry's index of jobs could not be read");
                    }
                }
            }
        }
        let mut no_runs = Vec::new();
        let runs = runs_now.as_mut().map_or(&mut no_runs, |now| &mut now.runs);
        match budget::holders_now(guard, &assessed, runs, Registry::ReadAndWrite).await {
            Ok(_) if incomplete.is_some() => warn!(
                reason = incomplete.unwrap_or_default(),
                "sweep: the team budgets are left to the next sweep"
            ),
            Ok(mut holders) => {
                holders.extend(unswept);
                report.budgets =
                    budget::apply_to_judged(guard, &holders, &mut assessed, runs, metrics);
            }
            // The budgets wait for the next sweep; every session is still judged on its own.
            Err(failure) => failures.push(failure),
        }
    }
    for (one, span) in assessed.into_iter().zip(spans) {
        span.record("decision", one.verdict.decision.as_str());
        match act_on(guard, invocation, one, metrics)
            .instrument(span.clone())
            .await
        {
            Ok(session_report) => report.sessions.push(session_report),
            Err(failure) => {
                span.in_scope(
                    || error!(error = %failure, retry = ?failure.retry(), "could not enforce"),
                );
                failures.push(failure);
            }
        }
    }
    // Job runs after the sessions, within what is left of the invocation.
    if guards_jobs {
        let acted = match runs_now {
            Some(now) => Some(crate::job::act_on_runs(guard, invocation, now, metrics).await),
            None if !with_budgets => Some(crate::job::sweep_runs(guard, invocation, metrics).await),
            // Listing them failed above: that failure is reported.
            None => None,
        };
        match acted {
            Some(Ok(jobs)) => report.jobs = Some(jobs),
            Some(Err(failure)) => failures.push(failure),
            None => {}
        }
    }
    // Last, the reminders of exceptions that expire soon: each once, through the ledger.
    match crate::remind::remind(guard, invocation, SystemTime::now()).await {
        Ok(reminders) => report.reminders = reminders,
        Err(failure) => failures.push(failure),
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

/// Whether to leave a session to the next sweep instead of acting now. A record may reach
/// `LookupEvents` minutes after the session exists; until then an override or exemption could
/// apply that we cannot see. So a violating session whose creator is not known yet is deferred
/// while it is younger than `cloudtrail_lag` (or of unknown age), unless the policy has no
/// override or exemption that the creator could change.
pub fn defer(
    policy: &Policy,
    verdict: &Verdict,
    creator: Creator,
    age: Option<Duration>,
    cloudtrail_lag: Duration,
) -> bool {
    let creator_matters = !policy.overrides.is_empty() || !policy.exempt_principals.is_empty();
    let young = age.is_none_or(|age| age < cloudtrail_lag);
    verdict.decision == Decision::Violation
        && creator == Creator::Unknown
        && creator_matters
        && young
}

/// The `CreateSession` records CloudTrail holds for the running sessions (since the oldest was
/// created).
async fn creations_of(guard: &Guard, running: &[Session]) -> Result<Creations, GuardError> {
    let now = SystemTime::now();
    let oldest = running
        .iter()
        .map(|session| session::created_on(session).unwrap_or(now - LONGEST_SESSION))
        .min()
        .unwrap_or(now);
    creator::lookup_creations(&guard.cloudtrail, oldest - CLOCK_SLACK, now).await
}

/// Judges one listed session as the real-time path would, with its tags, its creator and its
/// usage profile: reads only (`GetTags`, `GetUsageProfile`).
pub async fn assess(
    guard: &Guard,
    invocation: &Invocation,
    session: &Session,
    creations: &Creations,
    metrics: &Metrics,
) -> Result<Assessed, GuardError> {
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
    let mut facts = guard.with_profile(facts).await;
    if let Some(tags) = &tags {
        facts.tags = Fact::Given(tags.clone());
    }
    // What the sweep finds is judged at the sweep's clock: an exception that has expired since
    // the session started no longer covers it (policy::exceptions).
    facts.event_time = Some(policy::time::unix_seconds(SystemTime::now()));
    let case = Candidate {
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
    let age = session::created_on(session)
        .and_then(|created| SystemTime::now().duration_since(created).ok());
    let deferred = defer(
        guard.policy(),
        &verdict,
        creator,
        age,
        guard.timing.cloudtrail_lag,
    );
    Ok(Assessed {
        case,
        verdict,
        deferred,
    })
}

/// Acts on one judged session (see [`assess`]), unless it is deferred.
async fn act_on(
    guard: &Guard,
    invocation: &Invocation,
    assessed: Assessed,
    metrics: &Metrics,
) -> Result<SessionReport, GuardError> {
    let Assessed {
        case,
        verdict,
        deferred,
    } = assessed;
    if deferred {
        let report = SessionReport::new(&case, &verdict, Outcome::Deferred);
        enforce::log_report(&report);
        return Ok(report);
    }
    enforce::act(guard, invocation, &case, &verdict, metrics).await
}

/// What a sweep would do, without doing it: every running session judged exactly as the sweep
/// judges it (the same listing, records, tags, usage profiles), nothing stopped or notified.
/// When CloudTrail cannot be read, every session is still judged, with its creator unknown, and
/// `creators_unavailable` says why (a read-only report is more useful degraded than absent; the
/// sweep itself fails instead).
#[derive(Debug, Clone)]
pub struct Scan {
    /// Sessions listed (any status).
    pub listed: usize,
    pub sessions: Vec<Assessed>,
    /// Why the creators could not be read from CloudTrail, when they could not.
    pub creators_unavailable: Option<String>,
}

/// Scans the running sessions: see [`Scan`].
pub async fn scan(guard: &Guard, invocation: &Invocation) -> Result<Scan, GuardError> {
    let metrics = Metrics::default();
    let (listed, running) = session::running(&guard.glue).await?;
    let (creations, creators_unavailable) = if running.is_empty() {
        (Creations::default(), None)
    } else {
        match creations_of(guard, &running).await {
            Ok(creations) => (creations, None),
            Err(failure) => (Creations::default(), Some(failure.to_string())),
        }
    };
    let mut sessions = Vec::new();
    for session in &running {
        sessions.push(assess(guard, invocation, session, &creations, &metrics).await?);
    }
    Ok(Scan {
        listed,
        sessions,
        creators_unavailable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> Policy {
        let text =
            format!("version: 1\nstack: {{name: g}}\nboundaries: {{max_workers: 1}}\n{extra}");
        policy::load_policy("p.yaml", text.as_bytes()).unwrap()
    }

    fn verdict(decision: Decision) -> Verdict {
        let mut verdict = Verdict::ignored(policy::Ignored {
            reason: String::new(),
            session_id: None,
            principal: None,
        });
        verdict.decision = decision;
        verdict
    }

    #[test]
    fn only_young_violating_sessions_of_unknown_creators_wait_and_only_when_it_matters() {
        let lag = Duration::from_secs(900);
        let young = Some(Duration::from_secs(60));
        let old = Some(Duration::from_secs(3600));
        let exemptions = policy("exempt_principals: [\"arn:aws:iam::*:role/B\"]\n");
        let violation = verdict(Decision::Violation);
        assert!(defer(&exemptions, &violation, Creator::Unknown, young, lag));
        assert!(defer(&exemptions, &violation, Creator::Unknown, None, lag));
        assert!(!defer(&exemptions, &violation, Creator::Unknown, old, lag));
        assert!(!defer(
            &exemptions,
            &violation,
            Creator::CloudTrail,
            young,
            lag
        ));
        assert!(!defer(
            &exemptions,
            &verdict(Decision::Compliant),
            Creator::Unknown,
            young,
            lag
        ));
        assert!(!defer(
            &policy(""),
            &violation,
            Creator::Unknown,
            young,
            lag
        ));
    }
}
