//! The evaluation engine: one session's facts against one policy, to a `Verdict`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalogue::{self, CommandName, JobCommand, Scaling, ServiceDefaults, SessionType};
use crate::exceptions::{exempting, not_applied_note, standing};
use crate::facts::{
    Fact, Ignored, ProfileLookup, SessionFacts, facts_from_cloudtrail, principal_arns,
    principal_matches,
};
use crate::glob::glob_match;
use crate::jobs::{ENDED_JOB_RUN_STATES, JobFacts};
use crate::model::{Boundaries, DpuSource, EnforcementAction, Mode, Policy};

/// Most names a violation lists (its message says how many more there are).
const MAX_LISTED: usize = 10;

/// Session states in which there is nothing left to stop.
pub const ENDED_STATUSES: &[&str] = &["STOPPING", "STOPPED", "FAILED", "TIMEOUT"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Compliant,
    Violation,
    /// Out of bounds, but the creator is an exempt principal: never stopped, nobody notified (logged at
    /// WARN, counted by scan and backtest).
    Exempt,
    /// Not a session to judge (another event, a failed call, unreadable input).
    Ignored,
}

impl Decision {
    /// The wire name (`violation`), as in JSON, logs and notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Compliant => "compliant",
            Decision::Violation => "violation",
            Decision::Exempt => "exempt",
            Decision::Ignored => "ignored",
        }
    }
}

/// What enforcement does under this policy's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Stop,
    Delete,
    Notify,
    None,
}

impl Action {
    /// The wire name (`stop`), as in JSON, logs and notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Delete => "delete",
            Action::Notify => "notify",
            Action::None => "none",
        }
    }
}

/// What the policy's enforcement does with a session of this decision, whatever state the
/// session is in (`evaluate` also looks at the state: an ended session gets `none`).
pub fn enforcement_action(policy: &Policy, decision: Decision) -> Action {
    match (decision, policy.enforcement.mode, policy.enforcement.action) {
        (Decision::Violation, Mode::Audit, _) => Action::Notify,
        (Decision::Violation, Mode::Enforce, EnforcementAction::Stop) => Action::Stop,
        (Decision::Violation, Mode::Enforce, EnforcementAction::Delete) => Action::Delete,
        _ => Action::None,
    }
}

/// One broken boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The boundary key, e.g. `max_workers`.
    pub rule: String,
    pub actual: Value,
    pub limit: Value,
    pub message: String,
    /// The actual value is a default (Glue's, or the usage profile's) for something the creator
    /// left out.
    #[serde(default)]
    pub from_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    pub session_id: Option<String>,
    /// The job a job run or job definition belongs to (`JobName`); absent for sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// The job run (`JobRunId`); absent for sessions and job definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    /// The session's `SessionType` (`LIVY`, `SPARK_CONNECT`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    pub principal: Option<String>,
    /// The person behind a shared role (source identity, or IAM Identity Center user), when the
    /// record names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub violations: Vec<Violation>,
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    pub action: Action,
    /// Why the session is ignored, exempt or left alone, or that the creator could not be known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Settings the creator left out, with the default that was assumed and whose it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults_applied: Vec<String>,
    /// Boundaries that could not be checked, each with why (the source does not report the
    /// value, or nobody documents the default that applies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// What a reader should know about how the session was judged: DPUs derived from a worker
    /// type's name, a worker count that is a maximum (auto scaling), a session type the Glue
    /// version cannot run. Never a reason to stop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// DPUs at the configured maximum: workers (the most, with auto scaling) x DPUs per worker
    /// of the worker type, defaults resolved, else `MaxCapacity`; `None` when neither is known.
    /// What a budget counts ([`crate::budgets`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpu: Option<f64>,
    /// The `notifications.routes` whose principals or tags match ([`crate::routes`]): who hears
    /// of it besides (or, with `default_receives: unrouted`, instead of) the default list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

impl Verdict {
    /// The verdict for an input that is not a session to judge.
    pub fn ignored(ignored: Ignored) -> Verdict {
        Verdict {
            decision: Decision::Ignored,
            session_id: ignored.session_id,
            job_name: None,
            job_run_id: None,
            session_type: None,
            principal: ignored.principal,
            person: None,
            violations: Vec::new(),
            override_name: None,
            action: Action::None,
            reason: Some(ignored.reason),
            defaults_applied: Vec::new(),
            unchecked: Vec::new(),
            notes: Vec::new(),
            dpu: None,
            routes: Vec::new(),
        }
    }

    /// The boundary keys that were broken, in order.
    pub fn rules(&self) -> Vec<&str> {
        self.violations.iter().map(|v| v.rule.as_str()).collect()
    }
}

/// When an exception stops covering a running session: the first expiry of the policy's session
/// overrides and exempt principals after the session's `event_time` and before `until` (Unix
/// seconds: the instant it has ended by, such as its creation plus its timeout) at which
/// [`evaluate`] finds it a violation, and that verdict. This is what the deployed sweep
/// does, judging a running session at its own clock: it stops it once the exception ends.
///
/// `None` when `verdict` (the session's verdict at its `event_time`) is a violation already,
/// applied no exception (no override, not exempt), the session's time is not known, or no
/// expiry in that span makes it one.
pub fn lapse(
    policy: &Policy,
    facts: &SessionFacts,
    verdict: &Verdict,
    until: crate::time::UnixSeconds,
) -> Option<(crate::time::UnixSeconds, Verdict)> {
    let overrides = policy.overrides.iter().map(|rule| &rule.expires);
    first_lapse(policy, overrides, facts.event_time, verdict, until, |at| {
        let mut later = facts.clone();
        later.event_time = Some(at);
        evaluate(policy, &later)
    })
}

/// [`lapse`] for a job run (`facts` from `JobFacts::run`): the expiries of the `jobs`
/// section's overrides and of the exempt principals, judged by [`evaluate_job`].
pub fn lapse_job(
    policy: &Policy,
    facts: &JobFacts,
    verdict: &Verdict,
    until: crate::time::UnixSeconds,
) -> Option<(crate::time::UnixSeconds, Verdict)> {
    let overrides = policy
        .jobs
        .iter()
        .flat_map(|jobs| jobs.overrides.iter().map(|rule| &rule.expires));
    first_lapse(policy, overrides, facts.event_time, verdict, until, |at| {
        let mut later = facts.clone();
        later.event_time = Some(at);
        evaluate_job(policy, &later)
    })
}

/// The first of the expiries of `overrides` and the policy's exempt principals in
/// (`created`, `until`) at which `judge` finds a violation.
fn first_lapse<'p>(
    policy: &'p Policy,
    overrides: impl Iterator<Item = &'p Option<String>>,
    created: Option<crate::time::UnixSeconds>,
    verdict: &Verdict,
    until: crate::time::UnixSeconds,
    judge: impl Fn(crate::time::UnixSeconds) -> Verdict,
) -> Option<(crate::time::UnixSeconds, Verdict)> {
    let created = created?;
    // Only an exception can end: what the default boundaries judge, not exempt, is judged the
    // same at any later instant.
    let excepted = verdict.override_name.is_some() || verdict.decision == Decision::Exempt;
    if verdict.decision == Decision::Violation || !excepted {
        return None;
    }
    let exemptions = policy.exempt_principals.iter().map(|entry| &entry.expires);
    let mut expiries: Vec<crate::time::UnixSeconds> = overrides
        .chain(exemptions)
        .filter_map(|expires| expires.as_deref().and_then(crate::time::parse_rfc3339))
        .filter(|&at| at > created && at < until)
        .collect();
    expiries.sort_unstable();
    expiries.dedup();
    expiries.into_iter().find_map(|at| {
        let judged = judge(at);
        (judged.decision == Decision::Violation).then_some((at, judged))
    })
}

/// Evaluates a CloudTrail event (enveloped or bare) directly.
pub fn evaluate_event(policy: &Policy, event: &Value) -> Verdict {
    match facts_from_cloudtrail(event) {
        Ok(facts) => evaluate(policy, &facts),
        Err(ignored) => Verdict::ignored(ignored),
    }
}

/// `name` quoted as JSON, so that a stray space or an empty name shows (`" b"`).
pub fn quoted(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_else(|_| format!("\"{name}\""))
}

fn quoted_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| quoted(name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judges one session against the policy.
pub fn evaluate(policy: &Policy, facts: &SessionFacts) -> Verdict {
    let matches_any = |patterns: &[String]| principal_matches(facts.principal.as_ref(), patterns);
    let id_matches_any = |patterns: &[String]| {
        patterns
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), facts.session_id.as_bytes()))
    };

    let mut lapsed = Vec::new();
    let matched = policy.overrides.iter().enumerate().find(|(i, rule)| {
        // Both kinds of pattern must match when both are given: a session id is chosen by
        // whoever creates the session, so principals keep an override by id to its people.
        (rule.principals.is_empty() || matches_any(&rule.principals))
            && (rule.session_ids.is_empty() || id_matches_any(&rule.session_ids))
            && in_force(
                &format!("overrides[{i}] (`{}`)", rule.name),
                rule.expires.as_deref(),
                facts.event_time,
                &mut lapsed,
            )
    });
    let matched = matched.map(|(_, rule)| rule);
    let limits = match matched {
        Some(rule) => std::borrow::Cow::Owned(policy.boundaries.overlaid_with(&rule.boundaries)),
        None => std::borrow::Cow::Borrowed(&policy.boundaries),
    };
    let mut check = Check {
        policy,
        subject: "session",
        defaults: LeftOut::of(facts),
        violations: Vec::new(),
        defaults_applied: Vec::new(),
        unchecked: Vec::new(),
        notes: Vec::new(),
        dpu: None,
    };
    check.all(&limits, facts);

    let exempt_by_id = id_matches_any(&policy.exempt_session_ids);
    let exempt = exempting(
        &policy.exempt_principals,
        &principal_arns(facts.principal.as_ref()),
        facts.event_time,
        &mut lapsed,
    )
    .is_some()
        || exempt_by_id;
    check.notes.extend(lapsed);
    let decision = match (check.violations.is_empty(), exempt) {
        (true, _) => Decision::Compliant,
        (false, true) => Decision::Exempt,
        (false, false) => Decision::Violation,
    };
    let ended = facts
        .status
        .as_deref()
        .filter(|status| ENDED_STATUSES.contains(status));
    let action = match ended {
        Some(_) => Action::None,
        None => enforcement_action(policy, decision),
    };
    let reason = if decision == Decision::Exempt && exempt_by_id {
        Some(
            "the session id matches exempt_session_ids: never stopped, nobody notified".to_string(),
        )
    } else if decision == Decision::Exempt {
        Some("the creator matches exempt_principals: never stopped, nobody notified".to_string())
    } else if let (Some(status), Decision::Violation) = (ended, decision) {
        Some(format!(
            "the session has already ended ({status}): there is nothing to stop"
        ))
    } else if facts.principal.is_none() {
        Some("the creator is unknown, so overrides by principal and exempt_principals could not apply".to_string())
    } else {
        None
    };
    let session_type = match &facts.session_type {
        Fact::Given(kind) => Some(kind.clone()),
        Fact::Omitted => Some(SessionType::DEFAULT.as_str().to_string()),
        Fact::Unknown => None,
    };
    Verdict {
        decision,
        session_id: Some(facts.session_id.clone()),
        job_name: None,
        job_run_id: None,
        session_type,
        principal: facts.principal.as_ref().map(|p| p.arn.clone()),
        person: facts.principal.as_ref().and_then(|p| p.person()),
        violations: check.violations,
        override_name: matched.map(|rule| rule.name.clone()),
        action,
        reason,
        defaults_applied: check.defaults_applied,
        unchecked: check.unchecked,
        notes: check.notes,
        dpu: check.dpu,
        routes: crate::routes::routes_of(policy, facts.principal.as_ref(), &facts.tags),
    }
}

/// Judges one job run (`facts.job_run_id` given) or one job definition against the policy's
/// `jobs` section: its boundaries, or the first of its overrides whose principals and job names
/// match. A definition out of bounds is only ever reported (`notify`): every run of it would be
/// stopped, and the guard never changes a job. A run that has ended gets `none`.
///
/// Without a `jobs` section, jobs are not guarded: `ignored`.
pub fn evaluate_job(policy: &Policy, facts: &JobFacts) -> Verdict {
    let run = facts.is_run();
    let subject = if run { "job run" } else { "job definition" };
    let principal = facts.principal.as_ref().map(|p| p.arn.clone());
    let Some(jobs) = &policy.jobs else {
        let mut verdict = Verdict::ignored(Ignored {
            reason: "the policy has no `jobs` section: jobs are not guarded".to_string(),
            session_id: None,
            principal,
        });
        verdict.job_name = Some(facts.job_name.clone());
        verdict.job_run_id = facts.job_run_id.clone();
        return verdict;
    };
    let matches_any = |patterns: &[String]| principal_matches(facts.principal.as_ref(), patterns);
    let name_matches_any = |patterns: &[String]| {
        patterns
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), facts.job_name.as_bytes()))
    };
    let mut lapsed = Vec::new();
    let matched = jobs.overrides.iter().enumerate().find(|(i, rule)| {
        (rule.principals.is_empty() || matches_any(&rule.principals))
            && (rule.job_names.is_empty() || name_matches_any(&rule.job_names))
            && in_force(
                &format!("jobs.overrides[{i}] (`{}`)", rule.name),
                rule.expires.as_deref(),
                facts.event_time,
                &mut lapsed,
            )
    });
    let matched = matched.map(|(_, rule)| rule);
    let limits = match matched {
        Some(rule) => std::borrow::Cow::Owned(jobs.boundaries.overlaid_with(&rule.boundaries)),
        None => std::borrow::Cow::Borrowed(&jobs.boundaries),
    };
    let command = facts
        .command
        .given()
        .and_then(|name| JobCommand::from_name(name));
    let mut check = Check {
        policy,
        subject,
        defaults: LeftOut::of_job(facts),
        violations: Vec::new(),
        defaults_applied: Vec::new(),
        unchecked: Vec::new(),
        notes: Vec::new(),
        dpu: None,
    };
    let mut settings = SessionFacts {
        session_id: facts.job_name.clone(),
        principal: facts.principal.clone(),
        status: facts.status.clone(),
        command: Fact::Unknown,
        session_type: Fact::Unknown,
        scaling_arguments: facts.scaling_arguments.clone(),
        profile_name: facts.profile_name.clone(),
        usage_profile: ProfileLookup::NotLookedUp,
        worker_type: facts.worker_type.clone(),
        number_of_workers: facts.number_of_workers.clone(),
        max_capacity: facts.max_capacity.clone(),
        timeout_minutes: facts.timeout_minutes.clone(),
        idle_timeout_minutes: Fact::Unknown,
        glue_version: facts.glue_version.clone(),
        connections: facts.connections.clone(),
        tags: facts.tags.clone(),
        event_time: facts.event_time,
    };
    // A job that gives no Glue version runs on Glue's default version for jobs.
    if settings.glue_version == Fact::Omitted && command.is_some() {
        let version = catalogue::DEFAULT_JOB_GLUE_VERSION;
        check.note(format!("GlueVersion = {version} (Glue default)"));
        settings.glue_version = Fact::Given(version.to_string());
    }
    // A job that gives no size at all runs at the size Glue documents: MaxCapacity alone for
    // Python shell jobs, and for Spark jobs before Glue 6.1 (whose worker type no page names).
    let size_left_out = settings.max_capacity == Fact::Omitted
        && settings.number_of_workers == Fact::Omitted
        && settings.worker_type == Fact::Omitted
        && facts.profile_name == Fact::Omitted;
    let documented_capacity = command.and_then(|kind| {
        kind.documented_job_defaults(settings.glue_version.given().map(String::as_str))
            .max_capacity
    });
    if let (true, Some(dpu)) = (size_left_out, documented_capacity) {
        check.note(format!("MaxCapacity = {dpu} DPU (Glue default)"));
        settings.max_capacity = Fact::Given(dpu);
    }
    check.all(&limits, &settings);
    if let Some(allowed) = &limits.allowed_execution_classes {
        check.allowed_execution_classes(allowed, &facts.execution_class);
    }
    check.flex_version(facts, command);

    let exempt = exempting(
        &policy.exempt_principals,
        &principal_arns(facts.principal.as_ref()),
        facts.event_time,
        &mut lapsed,
    )
    .is_some();
    check.notes.extend(lapsed);
    let decision = match (check.violations.is_empty(), exempt) {
        (true, _) => Decision::Compliant,
        (false, true) => Decision::Exempt,
        (false, false) => Decision::Violation,
    };
    let ended = facts
        .status
        .as_deref()
        .filter(|status| ENDED_JOB_RUN_STATES.contains(status));
    let action = match (decision, run, ended) {
        (_, true, Some(_)) => Action::None,
        (Decision::Violation, false, _) => Action::Notify,
        _ => enforcement_action(policy, decision),
    };
    let reason = if decision == Decision::Exempt {
        Some("the principal matches exempt_principals: never stopped, nobody notified".to_string())
    } else if let (Some(status), Decision::Violation) = (ended, decision) {
        Some(format!(
            "the job run has already ended ({status}): there is nothing to stop"
        ))
    } else if !run && decision == Decision::Violation {
        Some(
            "a job definition is reported, never changed: every run of it would be stopped"
                .to_string(),
        )
    } else if facts.principal.is_none() {
        Some(format!(
            "who {} is unknown (a schedule, trigger or workflow, or no record), so overrides by \
             principal and exempt_principals could not apply",
            if run {
                "started the run"
            } else {
                "wrote the definition"
            }
        ))
    } else {
        None
    };
    Verdict {
        decision,
        session_id: None,
        job_name: Some(facts.job_name.clone()),
        job_run_id: facts.job_run_id.clone(),
        session_type: None,
        principal: facts.principal.as_ref().map(|p| p.arn.clone()),
        person: facts.principal.as_ref().and_then(|p| p.person()),
        violations: check.violations,
        override_name: matched.map(|rule| rule.name.clone()),
        action,
        reason,
        defaults_applied: check.defaults_applied,
        unchecked: check.unchecked,
        notes: check.notes,
        dpu: check.dpu,
        routes: crate::routes::routes_of(policy, facts.principal.as_ref(), &facts.tags),
    }
}

/// True when an exception that matched applies at `at` ([`crate::exceptions::standing`]);
/// otherwise a note saying why it did not is added to `lapsed`.
fn in_force(what: &str, expires: Option<&str>, at: Option<i64>, lapsed: &mut Vec<String>) -> bool {
    let standing = standing(expires, at);
    if let Some(note) = not_applied_note(what, expires, standing) {
        lapsed.push(note);
    }
    standing.applies()
}

/// Where the value of a setting the creator left out comes from.
#[derive(Debug, Clone)]
enum Default<T> {
    /// Glue's documented default for the session type.
    Glue(T),
    /// The usage profile's `DefaultValue`.
    Profile(T, String),
    /// Nobody can say: why.
    Unknown(String),
}

/// The defaults that apply to this session's left-out settings: its usage profile's where it
/// has one and they can be read, else Glue's documented defaults for its session type, else
/// none (the checks that need them are `unchecked`, never guessed).
struct LeftOut {
    number_of_workers: Default<u64>,
    worker_type: Default<String>,
    timeout_minutes: Default<u64>,
    /// `None`: Glue's own default, the session's resolved `Timeout`.
    idle_timeout_minutes: Option<Default<u64>>,
}

impl LeftOut {
    fn of(facts: &SessionFacts) -> LeftOut {
        let session_type = match &facts.command {
            Fact::Given(name) => CommandName::from_name(name).ok_or_else(|| {
                format!(
                    "Glue documents no defaults for sessions of command {}",
                    quoted(name)
                )
            }),
            _ => Err(
                "the session's command (Command.Name) is not known, so neither are the \
                      defaults Glue applied"
                    .to_string(),
            ),
        };
        let service = session_type
            .as_ref()
            .map(|kind| kind.documented_session_defaults())
            .unwrap_or_default();
        let glue = |value: Option<u64>, what: &str| match (&session_type, value) {
            (_, Some(value)) => Default::Glue(value),
            (Ok(kind), None) => Default::Unknown(format!(
                "Glue documents no default {what} for {} sessions",
                kind.as_str()
            )),
            (Err(why), None) => Default::Unknown(why.clone()),
        };
        let glue_worker_type = match (&session_type, service.worker_type) {
            (_, Some(name)) => Default::Glue(name.to_string()),
            (Ok(kind), None) => Default::Unknown(format!(
                "Glue documents no default worker type for {} sessions",
                kind.as_str()
            )),
            (Err(why), None) => Default::Unknown(why.clone()),
        };
        let left_out = LeftOut {
            number_of_workers: glue(service.number_of_workers, "number of workers"),
            worker_type: glue_worker_type,
            timeout_minutes: glue(service.timeout_minutes, "timeout"),
            idle_timeout_minutes: match (&session_type, service) {
                (
                    Ok(_),
                    ServiceDefaults {
                        idle_timeout_is_timeout: true,
                        ..
                    },
                ) => None,
                (Ok(kind), _) => Some(Default::Unknown(format!(
                    "Glue documents no default idle timeout for {} sessions",
                    kind.as_str()
                ))),
                (Err(why), _) => Some(Default::Unknown(why.clone())),
            },
        };
        left_out.with_profile(&facts.profile_name, &facts.usage_profile)
    }

    /// The defaults of a job run or job definition: Glue's documented job defaults for its
    /// command and Glue version, then its usage profile's.
    fn of_job(facts: &JobFacts) -> LeftOut {
        let command = match &facts.command {
            Fact::Given(name) => JobCommand::from_name(name).ok_or_else(|| {
                format!(
                    "Glue documents no defaults for jobs of command {}",
                    quoted(name)
                )
            }),
            _ => Err(
                "the job's command (Command.Name) is not known, so neither are the \
                      defaults Glue applied"
                    .to_string(),
            ),
        };
        let service = command
            .as_ref()
            .map(|kind| {
                kind.documented_job_defaults(facts.glue_version.given().map(String::as_str))
            })
            .unwrap_or_default();
        let glue = |value: Option<u64>, what: &str| match (&command, value) {
            (_, Some(value)) => Default::Glue(value),
            (Ok(kind), None) => Default::Unknown(format!(
                "Glue documents no default {what} for {} jobs{}",
                kind.as_str(),
                match facts.glue_version.given() {
                    Some(version) => format!(" on Glue {version}"),
                    None => String::new(),
                }
            )),
            (Err(why), None) => Default::Unknown(why.clone()),
        };
        let worker_type = match (&command, service.worker_type) {
            (_, Some(name)) => Default::Glue(name.to_string()),
            (Ok(kind), None) => Default::Unknown(format!(
                "Glue documents no default worker type for {} jobs",
                kind.as_str()
            )),
            (Err(why), None) => Default::Unknown(why.clone()),
        };
        let left_out = LeftOut {
            number_of_workers: glue(service.number_of_workers, "number of workers"),
            worker_type,
            timeout_minutes: glue(service.timeout_minutes, "timeout"),
            idle_timeout_minutes: None,
        };
        left_out.with_profile(&facts.profile_name, &ProfileLookup::NotLookedUp)
    }

    /// These defaults with those of the usage profile the session or job was created under.
    fn with_profile(mut self, profile_name: &Fact<String>, lookup: &ProfileLookup) -> LeftOut {
        let left_out = &mut self;
        match (profile_name, lookup) {
            (Fact::Omitted, _) => {}
            (Fact::Given(name), ProfileLookup::Found(profile)) => {
                let profile_default = |value: &Option<u64>, glue: &mut Default<u64>| {
                    if let Some(value) = value {
                        *glue = Default::Profile(*value, name.clone());
                    }
                };
                profile_default(&profile.number_of_workers, &mut left_out.number_of_workers);
                profile_default(&profile.timeout_minutes, &mut left_out.timeout_minutes);
                if let Some(worker_type) = &profile.worker_type {
                    left_out.worker_type = Default::Profile(worker_type.clone(), name.clone());
                }
                if let Some(idle) = profile.idle_timeout_minutes {
                    left_out.idle_timeout_minutes = Some(Default::Profile(idle, name.clone()));
                }
            }
            (Fact::Given(name), lookup) => {
                let why = match lookup {
                    ProfileLookup::Failed(reason) => format!(
                        "usage profile {} supplies it, and the profile could not be read: {reason}",
                        quoted(name)
                    ),
                    _ => format!(
                        "usage profile {} supplies it, and the profile's definition was not given",
                        quoted(name)
                    ),
                };
                left_out.number_of_workers = Default::Unknown(why.clone());
                left_out.worker_type = Default::Unknown(why.clone());
                left_out.timeout_minutes = Default::Unknown(why.clone());
                left_out.idle_timeout_minutes = Some(Default::Unknown(why));
            }
            (Fact::Unknown, _) => {
                let why =
                    "the source does not show whether a Glue usage profile supplied it".to_string();
                left_out.number_of_workers = Default::Unknown(why.clone());
                left_out.worker_type = Default::Unknown(why.clone());
                left_out.timeout_minutes = Default::Unknown(why.clone());
                left_out.idle_timeout_minutes = Some(Default::Unknown(why));
            }
        }
        self
    }
}

/// A setting's value for evaluation, and whose default it is when the creator left it out.
struct Resolved<T> {
    value: T,
    /// `Some("Glue's default")`, `Some("the default of usage profile \"x\"")`.
    default: Option<String>,
}

/// A setting that could not be resolved, and why.
enum Unresolved {
    /// The source does not report it.
    NotReported,
    /// The creator left it out, and what applied instead is not known: why.
    DefaultUnknown(String),
}

/// A setting resolved for evaluation, or why it could not be.
type Resolution<T> = Result<Resolved<T>, Unresolved>;

struct Check<'p> {
    policy: &'p Policy,
    /// What is judged, for messages: `session`, `job run`, `job definition`.
    subject: &'static str,
    defaults: LeftOut,
    violations: Vec<Violation>,
    defaults_applied: Vec<String>,
    unchecked: Vec<String>,
    notes: Vec<String>,
    /// DPUs at the configured maximum, once resolved ([`Verdict::dpu`]).
    dpu: Option<f64>,
}

impl Check<'_> {
    fn resolve<T: Clone>(
        &mut self,
        fact: &Fact<T>,
        setting: &str,
        default: &Default<T>,
        shown: impl Fn(&T) -> String,
    ) -> Resolution<T> {
        match (fact, default) {
            (Fact::Given(value), _) => Ok(Resolved {
                value: value.clone(),
                default: None,
            }),
            (Fact::Omitted, Default::Glue(value)) => {
                self.note(format!("{setting} = {} (Glue default)", shown(value)));
                Ok(Resolved {
                    value: value.clone(),
                    default: Some("Glue's default".to_string()),
                })
            }
            (Fact::Omitted, Default::Profile(value, profile)) => {
                self.note(format!(
                    "{setting} = {} (default of usage profile {})",
                    shown(value),
                    quoted(profile)
                ));
                Ok(Resolved {
                    value: value.clone(),
                    default: Some(format!("the default of usage profile {}", quoted(profile))),
                })
            }
            (Fact::Omitted, Default::Unknown(why)) => Err(Unresolved::DefaultUnknown(why.clone())),
            (Fact::Unknown, _) => Err(Unresolved::NotReported),
        }
    }

    fn note(&mut self, note: String) {
        if !self.defaults_applied.contains(&note) {
            self.defaults_applied.push(note);
        }
    }

    fn violate(
        &mut self,
        rule: &str,
        actual: Value,
        limit: Value,
        message: String,
        default: Option<&str>,
    ) {
        let message = match default {
            Some(whose) => format!("{message} ({whose}: the creator did not set it)"),
            None => message,
        };
        self.violations.push(Violation {
            rule: rule.to_string(),
            actual,
            limit,
            message,
            from_default: default.is_some(),
        });
    }

    fn remark(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn not_checked(&mut self, rule: &str, why: &str) {
        self.unchecked.push(format!("{rule}: {why}"));
    }

    /// `rule` could not be checked: says why, with `not_reported` when the source lacks it.
    fn unresolved(&mut self, rule: &str, unresolved: &Unresolved, not_reported: &str) {
        match unresolved {
            Unresolved::NotReported => self.not_checked(rule, not_reported),
            Unresolved::DefaultUnknown(why) => {
                let why = format!("left out by the creator, and {why}");
                self.not_checked(rule, &why);
            }
        }
    }

    /// Checks every boundary `limits` sets, in a fixed order (the order of the verdict's
    /// violations, defaults and unchecked notes): workers, worker type, DPUs, timeout, idle
    /// timeout, VPC connection, allowed connections, Glue version, tags, session type, auto
    /// scaling.
    fn all(&mut self, limits: &Boundaries, facts: &SessionFacts) {
        let scaling = match &facts.scaling_arguments {
            Fact::Given(arguments) => {
                Some(Scaling::of(|key| arguments.get(key).map(String::as_str)))
            }
            _ => None,
        };
        if let Some(Scaling::UpTo(argument)) = &scaling {
            let workers = match &facts.number_of_workers {
                Fact::Given(n) => format!("NumberOfWorkers {n}"),
                _ => "NumberOfWorkers".to_string(),
            };
            self.remark(format!(
                "auto scaling is on ({argument}): {workers} is the most Glue runs, and the \
                 limits judge that maximum"
            ));
        }
        self.spark_connect_version(facts);
        let (workers, worker_type) = self.workers_and_type(facts);
        self.dpu = match (&workers, &worker_type) {
            (Some(Ok(w)), Some(Ok(t))) => self
                .policy
                .worker_dpu(&t.value)
                .map(|figure| w.value as f64 * figure.per_worker),
            (None, None) => facts.max_capacity.given().copied(),
            _ => None,
        };
        if let Some(limit) = limits.max_workers {
            self.max_workers(limit, workers.as_ref());
        }
        if let Some(allowed) = &limits.allowed_worker_types {
            self.allowed_worker_types(allowed, worker_type.as_ref());
        }
        if let Some(limit) = limits.max_dpu {
            let workers = workers.as_ref().and_then(|w| w.as_ref().ok());
            let worker_type = worker_type.as_ref().and_then(|t| t.as_ref().ok());
            self.max_dpu(limit, facts, workers, worker_type);
        }

        // Resolved (and its default noted) whatever the limits: the idle timeout's Glue
        // default is the session's Timeout.
        let timeout = self.timeout(facts);
        if let Some(limit) = limits.max_timeout_minutes {
            self.max_timeout_minutes(limit, &timeout);
        }
        if let Some(limit) = limits.max_idle_timeout_minutes {
            self.max_idle_timeout_minutes(limit, facts, &timeout);
        }

        let connections = match &facts.connections {
            Fact::Given(list) => Some(list.as_slice()),
            _ => None,
        };
        if limits.require_vpc_connection == Some(true) {
            self.require_vpc_connection(connections);
        }
        if let Some(allowed) = &limits.allowed_connections {
            self.allowed_connections(allowed, connections);
        }

        if let Some(allowed) = &limits.allowed_glue_versions {
            self.allowed_glue_versions(allowed, facts);
        }
        if let Some(required) = &limits.required_tags {
            self.required_tags(required, facts);
        }
        if let Some(allowed) = &limits.allowed_session_types {
            self.allowed_session_types(allowed, facts);
        }
        if limits.require_auto_scaling == Some(true) {
            self.require_auto_scaling(scaling.as_ref());
        }
    }

    /// A Spark Connect session on a Glue version older than 5.1 is noted (Glue runs Spark
    /// Connect from 5.1: `catalogue::SPARK_CONNECT_PAGE`), never stopped for it.
    fn spark_connect_version(&mut self, facts: &SessionFacts) {
        let (Fact::Given(kind), Fact::Given(version)) = (&facts.session_type, &facts.glue_version)
        else {
            return;
        };
        let Some(needed) = SessionType::from_name(kind).and_then(SessionType::needs_glue_version)
        else {
            return;
        };
        let too_old = match catalogue::glue_version(version) {
            Some(row) => !row.spark_connect,
            None => catalogue::version_numbers(version)
                .zip(catalogue::version_numbers(needed))
                .is_some_and(|(asked, needed)| asked < needed),
        };
        if too_old {
            self.remark(format!(
                "{kind} sessions need Glue {needed} or later, and Glue {} was asked for: Glue \
                 may refuse or fail the session",
                quoted(version)
            ));
        }
    }

    /// `allowed_session_types`. A left-out `SessionType` is Glue's default, `LIVY`.
    fn allowed_session_types(&mut self, allowed: &[String], facts: &SessionFacts) {
        let kind = match &facts.session_type {
            Fact::Given(kind) => Some((kind.clone(), None)),
            Fact::Omitted => {
                let kind = SessionType::DEFAULT.as_str();
                self.note(format!("SessionType = {kind} (Glue default)"));
                Some((kind.to_string(), Some("Glue's default")))
            }
            Fact::Unknown => None,
        };
        match kind {
            Some((kind, default)) if !allowed.contains(&kind) => self.violate(
                "allowed_session_types",
                json!(kind),
                json!(allowed),
                format!(
                    "session type {} is not allowed (allowed: {})",
                    quoted(&kind),
                    quoted_list(allowed)
                ),
                default,
            ),
            Some(_) => {}
            None => self.not_checked(
                "allowed_session_types",
                "the session type (SessionType) is not reported or not readable",
            ),
        }
    }

    /// `require_auto_scaling: true`: `--enable-auto-scaling true` or `--scaling-profile
    /// balanced` in `DefaultArguments`. `None`: the arguments are not reported.
    fn require_auto_scaling(&mut self, scaling: Option<&Scaling>) {
        match scaling {
            Some(Scaling::Fixed) => self.violate(
                "require_auto_scaling",
                json!(false),
                json!(true),
                format!(
                    "auto scaling is off; set {} true (or {} balanced) in DefaultArguments",
                    catalogue::AUTO_SCALING_ARGUMENT,
                    catalogue::SCALING_PROFILE_ARGUMENT
                ),
                None,
            ),
            Some(Scaling::UpTo(_)) => {}
            None => {
                let why = format!(
                    "the {}'s arguments are not reported or not readable",
                    self.subject
                );
                self.not_checked("require_auto_scaling", &why)
            }
        }
    }

    /// The session's workers and worker type, each resolved (a left-out one to its default and
    /// noted), or `None` for both when the session gives only `MaxCapacity`: they are defaulted
    /// only when neither they nor `MaxCapacity` are set.
    fn workers_and_type(
        &mut self,
        facts: &SessionFacts,
    ) -> (Option<Resolution<u64>>, Option<Resolution<String>>) {
        let capacity_only = matches!(facts.max_capacity, Fact::Given(_))
            && matches!(facts.number_of_workers, Fact::Omitted)
            && matches!(facts.worker_type, Fact::Omitted);
        if capacity_only {
            return (None, None);
        }
        let workers_default = self.defaults.number_of_workers.clone();
        let type_default = self.defaults.worker_type.clone();
        (
            Some(self.resolve(
                &facts.number_of_workers,
                "NumberOfWorkers",
                &workers_default,
                |n| n.to_string(),
            )),
            Some(
                self.resolve(&facts.worker_type, "WorkerType", &type_default, |t| {
                    t.clone()
                }),
            ),
        )
    }

    /// `max_workers`; `None` workers (a `MaxCapacity`-only session) pass, `max_dpu` judges it.
    fn max_workers(&mut self, limit: u32, workers: Option<&Resolution<u64>>) {
        match workers {
            Some(Ok(w)) if w.value > u64::from(limit) => self.violate(
                "max_workers",
                json!(w.value),
                json!(limit),
                format!("{} workers requested; at most {limit} allowed", w.value),
                w.default.as_deref(),
            ),
            Some(Ok(_)) | None => {}
            Some(Err(unresolved)) => self.unresolved(
                "max_workers",
                unresolved,
                "the number of workers is not reported or not readable",
            ),
        }
    }

    /// `allowed_worker_types`; `None` (a `MaxCapacity`-only session) passes.
    fn allowed_worker_types(
        &mut self,
        allowed: &[String],
        worker_type: Option<&Resolution<String>>,
    ) {
        match worker_type {
            Some(Ok(t)) if !allowed.contains(&t.value) => self.violate(
                "allowed_worker_types",
                json!(t.value),
                json!(allowed),
                format!(
                    "worker type {} is not allowed (allowed: {})",
                    quoted(&t.value),
                    quoted_list(allowed)
                ),
                t.default.as_deref(),
            ),
            Some(Ok(_)) | None => {}
            Some(Err(unresolved)) => self.unresolved(
                "allowed_worker_types",
                unresolved,
                "the worker type is not reported or not readable",
            ),
        }
    }

    /// The session's `Timeout` in minutes, resolved (a left-out one to its default and noted).
    fn timeout(&mut self, facts: &SessionFacts) -> Resolution<u64> {
        let timeout_default = self.defaults.timeout_minutes.clone();
        self.resolve(&facts.timeout_minutes, "Timeout", &timeout_default, |m| {
            format!("{m} minutes")
        })
    }

    /// `max_timeout_minutes`, against the resolved `Timeout`.
    fn max_timeout_minutes(&mut self, limit: u32, timeout: &Resolution<u64>) {
        match timeout {
            Ok(t) if t.value > u64::from(limit) => self.violate(
                "max_timeout_minutes",
                json!(t.value),
                json!(limit),
                format!("timeout of {} minutes; at most {limit} allowed", t.value),
                t.default.as_deref(),
            ),
            Ok(_) => {}
            Err(unresolved) => {
                let why = format!(
                    "the {}'s Timeout is not reported or not readable",
                    self.subject
                );
                self.unresolved("max_timeout_minutes", unresolved, &why)
            }
        }
    }

    /// `max_idle_timeout_minutes`. A left-out idle timeout takes the usage profile's default,
    /// else Glue's, which is the session's (resolved) `Timeout`.
    fn max_idle_timeout_minutes(
        &mut self,
        limit: u32,
        facts: &SessionFacts,
        timeout: &Resolution<u64>,
    ) {
        let idle = match (
            &facts.idle_timeout_minutes,
            &self.defaults.idle_timeout_minutes,
        ) {
            (Fact::Omitted, None) => match timeout {
                Ok(t) => {
                    let whose = match &t.default {
                        Some(whose) if whose != "Glue's default" => {
                            format!("Glue default; Timeout from {whose}")
                        }
                        _ => "Glue default".to_string(),
                    };
                    self.note(format!(
                        "IdleTimeout = Timeout = {} minutes ({whose})",
                        t.value
                    ));
                    Ok(Resolved {
                        value: t.value,
                        default: Some("Glue's default, the session's Timeout".to_string()),
                    })
                }
                Err(Unresolved::DefaultUnknown(why)) => Err(Unresolved::DefaultUnknown(format!(
                    "Glue's default is the session's Timeout, and for that {why}"
                ))),
                Err(Unresolved::NotReported) => Err(Unresolved::NotReported),
            },
            (fact, default) => {
                let default = default.clone().unwrap_or(Default::Unknown(String::new()));
                self.resolve(fact, "IdleTimeout", &default, |m| format!("{m} minutes"))
            }
        };
        match idle {
            Ok(i) if i.value > u64::from(limit) => self.violate(
                "max_idle_timeout_minutes",
                json!(i.value),
                json!(limit),
                format!(
                    "idle timeout of {} minutes; at most {limit} allowed",
                    i.value
                ),
                i.default.as_deref(),
            ),
            Ok(_) => {}
            Err(unresolved) => self.unresolved(
                "max_idle_timeout_minutes",
                &unresolved,
                "the idle timeout is not reported or not readable",
            ),
        }
    }

    /// `require_vpc_connection: true`: at least one connection attached. `None`: unreadable.
    fn require_vpc_connection(&mut self, connections: Option<&[String]>) {
        match connections {
            Some([]) => self.violate(
                "require_vpc_connection",
                json!([]),
                json!(true),
                "no connection attached; a VPC connection is required".to_string(),
                None,
            ),
            Some(_) => {}
            None => self.not_checked("require_vpc_connection", "the connections are unreadable"),
        }
    }

    /// `allowed_connections`: every attached connection is listed. `None`: unreadable.
    fn allowed_connections(&mut self, allowed: &[String], connections: Option<&[String]>) {
        let Some(list) = connections else {
            self.not_checked("allowed_connections", "the connections are unreadable");
            return;
        };
        let foreign: Vec<&String> = list.iter().filter(|c| !allowed.contains(c)).collect();
        if foreign.is_empty() {
            return;
        }
        // A verdict stays small enough for a notification whatever the input: the first few
        // names, and how many more.
        let shown: Vec<&str> = foreign
            .iter()
            .take(MAX_LISTED)
            .map(|c| c.as_str())
            .collect();
        let more = match foreign.len().saturating_sub(MAX_LISTED) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        self.violate(
            "allowed_connections",
            json!(shown),
            json!(allowed),
            format!(
                "connection {}{more} is not allowed (allowed: {})",
                quoted_list(&shown),
                quoted_list(allowed)
            ),
            None,
        );
    }

    /// `allowed_glue_versions`. A left-out version is a violation: Glue would pick its own.
    fn allowed_glue_versions(&mut self, allowed: &[String], facts: &SessionFacts) {
        match &facts.glue_version {
            Fact::Given(version) if allowed.contains(version) => {}
            Fact::Given(version) => self.violate(
                "allowed_glue_versions",
                json!(version),
                json!(allowed),
                format!(
                    "Glue version {} is not allowed (allowed: {})",
                    quoted(version),
                    quoted_list(allowed)
                ),
                None,
            ),
            Fact::Omitted => self.violate(
                "allowed_glue_versions",
                Value::Null,
                json!(allowed),
                format!(
                    "no Glue version requested, so Glue picks its own; request one of {}",
                    quoted_list(allowed)
                ),
                Some("Glue's default"),
            ),
            Fact::Unknown => self.not_checked(
                "allowed_glue_versions",
                "the Glue version is not reported or not readable",
            ),
        }
    }

    /// `required_tags`: each key present with a non-blank value.
    fn required_tags(&mut self, required: &[String], facts: &SessionFacts) {
        let Fact::Given(tags) = &facts.tags else {
            let why = format!(
                "the {}'s tags are not reported or not readable",
                self.subject
            );
            self.not_checked("required_tags", &why);
            return;
        };
        let missing: Vec<&String> = required
            .iter()
            .filter(|key| tags.get(*key).is_none_or(|value| value.trim().is_empty()))
            .collect();
        if !missing.is_empty() {
            self.violate(
                "required_tags",
                json!(missing),
                json!(required),
                format!("missing required tag {}", quoted_list(&missing)),
                None,
            );
        }
    }

    /// `allowed_execution_classes` (jobs). A left-out `ExecutionClass` is Glue's default,
    /// `STANDARD` (`catalogue::DEFAULT_EXECUTION_CLASS`).
    fn allowed_execution_classes(&mut self, allowed: &[String], class: &Fact<String>) {
        let class = match class {
            Fact::Given(class) => Some((class.clone(), None)),
            Fact::Omitted => {
                let class = catalogue::DEFAULT_EXECUTION_CLASS;
                self.note(format!("ExecutionClass = {class} (Glue default)"));
                Some((class.to_string(), Some("Glue's default")))
            }
            Fact::Unknown => None,
        };
        match class {
            Some((class, default)) if !allowed.contains(&class) => self.violate(
                "allowed_execution_classes",
                json!(class),
                json!(allowed),
                format!(
                    "execution class {} is not allowed (allowed: {})",
                    quoted(&class),
                    quoted_list(allowed)
                ),
                default,
            ),
            Some(_) => {}
            None => self.not_checked(
                "allowed_execution_classes",
                "the execution class (ExecutionClass) is not reported or not readable",
            ),
        }
    }

    /// A `FLEX` run of anything but a Spark ETL job on Glue 3.0 or later is noted (Glue takes
    /// `FLEX` only there: `catalogue::FLEX_NEEDS_GLUE_VERSION`), never stopped for it.
    fn flex_version(&mut self, facts: &JobFacts, command: Option<JobCommand>) {
        if facts.execution_class.given().map(String::as_str) != Some("FLEX") {
            return;
        }
        if let Some(kind) = command.filter(|kind| *kind != JobCommand::Spark) {
            self.remark(format!(
                "FLEX runs only Spark ETL jobs (glueetl), and this job is {}: Glue refuses it",
                kind.as_str()
            ));
        }
        let too_old = facts
            .glue_version
            .given()
            .and_then(|version| catalogue::version_numbers(version))
            .is_some_and(|version| version < catalogue::FLEX_NEEDS_GLUE_VERSION);
        if too_old {
            let (major, minor) = catalogue::FLEX_NEEDS_GLUE_VERSION;
            self.remark(format!(
                "FLEX needs Glue {major}.{minor} or later, and Glue {} was asked for: Glue \
                 refuses it",
                quoted(
                    facts
                        .glue_version
                        .given()
                        .map(String::as_str)
                        .unwrap_or_default()
                )
            ));
        }
    }

    /// `max_dpu`: workers x DPU per worker type when both are resolved (a type whose DPUs
    /// nobody knows fails closed), else the session's `MaxCapacity`.
    fn max_dpu(
        &mut self,
        limit: f64,
        facts: &SessionFacts,
        workers: Option<&Resolved<u64>>,
        worker_type: Option<&Resolved<String>>,
    ) {
        if let (Some(w), Some(t)) = (workers, worker_type) {
            let default = w.default.as_deref().or(t.default.as_deref());
            match self.policy.worker_dpu(&t.value) {
                Some(figure) => {
                    let derived = figure.source == DpuSource::Name;
                    if derived {
                        self.remark(format!(
                            "DPUs of worker type {} derived from its name: {} per worker (this \
                             build's Glue catalogue lacks it; worker_type_dpu overrules)",
                            quoted(&t.value),
                            figure.per_worker
                        ));
                    }
                    let dpu = w.value as f64 * figure.per_worker;
                    if dpu > limit {
                        self.violate(
                            "max_dpu",
                            json!(dpu),
                            json!(limit),
                            format!(
                                "{dpu} DPUs ({} x {}{}); at most {limit} allowed",
                                w.value,
                                quoted(&t.value),
                                if derived {
                                    ", DPUs derived from the name"
                                } else {
                                    ""
                                }
                            ),
                            default,
                        );
                    }
                }
                None => self.violate(
                    "max_dpu",
                    Value::Null,
                    json!(limit),
                    format!(
                        "unknown worker type {}: neither this build's catalogue, the policy nor \
                         the name gives its DPUs, so max_dpu fails closed (give its DPUs in the \
                         policy's worker_type_dpu)",
                        quoted(&t.value)
                    ),
                    default,
                ),
            }
            return;
        }
        match &facts.max_capacity {
            Fact::Given(capacity) if *capacity > limit => self.violate(
                "max_dpu",
                json!(capacity),
                json!(limit),
                format!("{capacity} DPUs (MaxCapacity); at most {limit} allowed"),
                None,
            ),
            Fact::Given(_) => {}
            _ => self.not_checked(
                "max_dpu",
                "neither workers and worker type nor MaxCapacity are known",
            ),
        }
    }
}
