//! The vocabulary the function reports in: how a session was found and who created it, what
//! happened to it, which topics are told and whether a notification went out, and the one report
//! per judged session.
//! Types only, no I/O: the modules that act (`enforce`, `sweep`, `notify`) all speak it.

use std::time::SystemTime;

use policy::{Action, Decision, JobFacts, SessionFacts, Verdict};
use serde::Serialize;

use crate::session::{ArnScope, Status};

/// How the session came to be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// Its CloudTrail `CreateSession` event.
    Event,
    /// The scheduled sweep.
    Sweep,
}

/// Where the creator (who decides overrides and exemptions) was learnt from. Never from
/// anything the creator controls (tags, id, description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Creator {
    /// The CloudTrail record in the event.
    Event,
    /// The CloudTrail record found with `LookupEvents` (sweep).
    CloudTrail,
    /// Not found: judged by the default boundaries.
    Unknown,
}

/// What happened to the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing to do: compliant, exempt or ignored.
    LeftAlone,
    /// Audit mode: reported, not stopped.
    NotStopped,
    /// Stopped by this invocation.
    Stopped,
    /// Had already ended (`STOPPING`, `STOPPED`, `FAILED`, `TIMEOUT`): nothing to stop.
    AlreadyEnded(String),
    /// The session no longer exists.
    Gone,
    /// Sweep only: the creator is not in CloudTrail yet; the next sweep judges it again.
    Deferred,
    /// A job definition out of bounds: reported, never changed (every run of it is judged).
    Reported,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::LeftAlone => "left_alone",
            Outcome::NotStopped => "not_stopped",
            Outcome::Stopped => "stopped",
            Outcome::AlreadyEnded(_) => "already_ended",
            Outcome::Gone => "gone",
            Outcome::Deferred => "deferred",
            Outcome::Reported => "reported",
        }
    }
}

/// Whether a notification went out for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notification {
    NotNeeded,
    Sent,
    /// Another invocation sent it (the ledger says so): not sent again.
    AlreadySent,
    /// Sweep only: another invocation holds the claim and is notifying right now; the sweep
    /// does not wait for it (the next sweep looks again, and takes over a claim whose holder died).
    ClaimedElsewhere,
}

impl Notification {
    pub fn as_str(self) -> &'static str {
        match self {
            Notification::NotNeeded => "not_needed",
            Notification::Sent => "sent",
            Notification::AlreadySent => "already_sent",
            Notification::ClaimedElsewhere => "claimed_elsewhere",
        }
    }
}

/// Which SNS topic a notification goes to. Each has its own ledger claim, so each gets the
/// session's notification exactly once, whatever happened to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// The stack's own topic (`NOTIFICATION_TOPIC_ARN`): always, first.
    Own,
    /// The organization's central topic (`CENTRAL_TOPIC_ARN`), when set: after the own topic.
    Central,
    /// The chat topic of an audience (`default` or a route's name) with Slack or Microsoft
    /// Teams channels (`policy::routes::chat_audiences`): after the others.
    Chat(&'a str),
}

impl Destination<'_> {
    /// `own`, `central`, `chat-<audience>`: the ledger key's suffix and the logs' name.
    pub fn name(&self) -> String {
        match self {
            Destination::Own => "own".to_string(),
            Destination::Central => "central".to_string(),
            Destination::Chat(audience) => format!("chat-{audience}"),
        }
    }
}

/// The result for one session, as logged and returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionReport {
    pub session_id: String,
    pub decision: Decision,
    pub action: Action,
    pub outcome: Outcome,
    pub deleted: bool,
    pub notification: Notification,
    pub principal: Option<String>,
    pub creator: Creator,
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    pub rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SessionReport {
    /// The report of `case` judged as `verdict`, with `outcome` and nothing notified or deleted
    /// yet.
    pub fn new(case: &Candidate, verdict: &Verdict, outcome: Outcome) -> SessionReport {
        SessionReport {
            session_id: case.facts.session_id.clone(),
            decision: verdict.decision,
            action: verdict.action,
            outcome,
            deleted: false,
            notification: Notification::NotNeeded,
            principal: verdict.principal.clone(),
            creator: case.creator,
            override_name: verdict.override_name.clone(),
            rules: verdict.rules().into_iter().map(str::to_string).collect(),
            reason: verdict.reason.clone(),
        }
    }
}

/// A session to judge, with what is known about it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub facts: SessionFacts,
    pub status: Status,
    pub found_by: FoundBy,
    pub creator: Creator,
    /// When Glue created the session (part of its ledger key: session ids can be reused).
    pub created_on: Option<SystemTime>,
}

/// What this invocation knows about where and until when it runs.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub scope: ArnScope,
    pub deadline: SystemTime,
    /// Lambda's request id (part of the ledger's claim owner, for the reader).
    pub request_id: String,
}

/// The result for one job run or job definition, as logged and returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    pub job_name: String,
    /// `None` for a job definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    pub decision: Decision,
    pub action: Action,
    pub outcome: Outcome,
    pub notification: Notification,
    pub principal: Option<String>,
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    pub rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl JobReport {
    /// The report of `verdict`, with `outcome` and nothing notified yet.
    pub fn new(verdict: &Verdict, outcome: Outcome) -> JobReport {
        JobReport {
            job_name: verdict.job_name.clone().unwrap_or_default(),
            job_run_id: verdict.job_run_id.clone(),
            decision: verdict.decision,
            action: verdict.action,
            outcome,
            notification: Notification::NotNeeded,
            principal: verdict.principal.clone(),
            override_name: verdict.override_name.clone(),
            rules: verdict.rules().into_iter().map(str::to_string).collect(),
            reason: verdict.reason.clone(),
        }
    }
}

/// One running session judged as the sweep judges it, before anything is done about it.
#[derive(Debug, Clone)]
pub struct Assessed {
    pub case: Candidate,
    pub verdict: Verdict,
    /// The sweep would leave it to the next sweep (see `sweep::defer`).
    pub deferred: bool,
}

/// One running job run judged as the sweep judges it, before anything is done about it.
#[derive(Debug, Clone)]
pub struct AssessedRun {
    pub facts: JobFacts,
    pub verdict: Verdict,
    /// Where who started it comes from: its `StartJobRun` record (`CloudTrail`), or `Unknown`.
    pub creator: Creator,
    /// The sweep would leave it to the next sweep (`job::defer_run`).
    pub deferred: bool,
    /// When Glue started it (`StartedOn`): its place in a team budget's order.
    pub started_on: Option<SystemTime>,
}
