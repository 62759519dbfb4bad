//! Glue jobs in real time: a `StartJobRun` record is judged as the run Glue runs (`GetJobRun`
//! over the run's overrides over the definition from `GetJob`, and the job's tags from
//! `GetTags`) and, out of bounds, stopped with `BatchStopJobRun` and notified once; a
//! `CreateJob` or `UpdateJob` record is judged as the definition `GetJob` now returns (the record
//! when the job is gone) and, out of bounds, notified once, never changed.

use std::time::SystemTime;

use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::{Job, JobRun, JobRunState};
use policy::{Action, Decision, JobFacts, JobRecord, Verdict};
use serde_json::{Map, Value, json};
use tracing::{Instrument, Span, field, info, info_span, warn};

use crate::config::Guard;
use crate::enforce::{self, Subject};
use crate::error::GuardError;
use crate::metrics::Metrics;
use crate::report::{Creator, FoundBy, Invocation, JobReport, Outcome};
use crate::session;

/// The real-time path for a job record (`policy::is_job_event`).
pub async fn on_job_event(
    guard: &Guard,
    invocation: &Invocation,
    payload: &Value,
    metrics: &Metrics,
) -> Result<JobReport, GuardError> {
    let record = match policy::read_job_record(payload) {
        Ok(record) => record,
        Err(ignored) => {
            let verdict = Verdict::ignored(ignored);
            let report = JobReport::new(&verdict, Outcome::LeftAlone);
            info!(decision = "ignored", reason = ?verdict.reason, "job event ignored");
            return Ok(report);
        }
    };
    let (name, run_id) = match &record {
        JobRecord::Run(run) => (run.job_name.clone(), run.job_run_id.clone()),
        JobRecord::Definition(definition) => (definition.job_name.clone(), None),
    };
    let span = info_span!(
        "job",
        job_name = %name,
        job_run_id = run_id.as_deref().unwrap_or("none"),
        decision = field::Empty
    );
    async move {
        let job = get_job(&guard.glue, &name).await?;
        let modified = job.as_ref().and_then(last_modified_on);
        let mut definition = job
            .as_ref()
            .and_then(|job| policy::facts_from_glue_job(&job_json(job)).ok());
        if let Some(definition) = definition.as_mut() {
            let arn = invocation.scope.job_arn(&name);
            if let Some(tags) = session::tags_of(&guard.glue, &arn, &name).await? {
                definition.tags = policy::Fact::Given(tags);
            }
        }
        match record {
            JobRecord::Run(request) => {
                let id = request.job_run_id.clone().unwrap_or_default();
                let run = get_job_run(&guard.glue, &name, &id).await?;
                let glue = run
                    .as_ref()
                    .and_then(|run| policy::facts_from_glue_job_run(&job_run_json(run)).ok());
                let facts = JobFacts::run(definition.as_ref(), &request, glue.as_ref());
                let verdict = evaluate(guard, &facts, metrics);
                let subject_id = format!("job-run/{name}/{id}");
                let subject = Subject {
                    id: &subject_id,
                    created_on: None,
                    found_by: FoundBy::Event,
                    creator: Creator::Event,
                };
                act_on_run(guard, invocation, &subject, &facts, &verdict, metrics).await
            }
            JobRecord::Definition(written) => {
                // What Glue holds now wins over the record; tags only the record may carry.
                let facts = match definition {
                    Some(mut now) => {
                        now.principal = written.principal.clone();
                        if !matches!(now.tags, policy::Fact::Given(_)) {
                            now.tags = written.tags.clone();
                        }
                        now
                    }
                    None => written,
                };
                let verdict = evaluate(guard, &facts, metrics);
                let subject_id = format!("job/{name}");
                let subject = Subject {
                    id: &subject_id,
                    created_on: modified,
                    found_by: FoundBy::Event,
                    creator: Creator::Event,
                };
                act_on_definition(guard, invocation, &subject, &verdict, metrics).await
            }
        }
    }
    .instrument(span)
    .await
}

/// Judges a job run or definition (recording the decision on the span and in the metrics).
/// Like a session's, a run's action follows the mode whatever its state: the state is acted on
/// (an ended run is `already_ended`, and still notified once).
pub fn evaluate(guard: &Guard, facts: &JobFacts, metrics: &Metrics) -> Verdict {
    let mut verdict = policy::evaluate_job(guard.policy(), facts);
    if facts.is_run() && verdict.decision == Decision::Violation {
        verdict.action = policy::enforcement_action(guard.policy(), verdict.decision);
    }
    Span::current().record("decision", verdict.decision.as_str());
    let violated: Vec<&str> = match verdict.decision {
        Decision::Violation => verdict.rules(),
        _ => Vec::new(),
    };
    metrics.inspected(violated);
    verdict
}

/// Acts on a run's verdict: stop (enforce) or not (audit), then notify once.
pub async fn act_on_run(
    guard: &Guard,
    invocation: &Invocation,
    subject: &Subject<'_>,
    facts: &JobFacts,
    verdict: &Verdict,
    metrics: &Metrics,
) -> Result<JobReport, GuardError> {
    let mut report = JobReport::new(verdict, Outcome::LeftAlone);
    let ended = facts
        .status
        .as_deref()
        .filter(|state| policy::jobs::ENDED_JOB_RUN_STATES.contains(state));
    report.outcome = match (verdict.action, ended) {
        (Action::None, _) => Outcome::LeftAlone,
        (Action::Notify, _) => Outcome::NotStopped,
        (_, Some(state)) => Outcome::AlreadyEnded(state.to_string()),
        (Action::Stop | Action::Delete, None) => {
            let name = &facts.job_name;
            let id = facts.job_run_id.as_deref().unwrap_or_default();
            stop_job_run(&guard.glue, name, id).await?
        }
    };
    if report.outcome == Outcome::Stopped {
        metrics.stopped();
        info!("BatchStopJobRun accepted");
    }
    if verdict.decision == Decision::Violation && report.outcome != Outcome::Gone {
        // Stop first, then notify: the ledger never decides whether a run is stopped.
        report.notification = enforce::notify_once(
            guard,
            invocation,
            subject,
            verdict,
            &report.outcome,
            metrics,
        )
        .await?;
    }
    log(&report);
    Ok(report)
}

/// Acts on a definition's verdict: out of bounds, notify once; never change the job.
pub async fn act_on_definition(
    guard: &Guard,
    invocation: &Invocation,
    subject: &Subject<'_>,
    verdict: &Verdict,
    metrics: &Metrics,
) -> Result<JobReport, GuardError> {
    let mut report = JobReport::new(verdict, Outcome::LeftAlone);
    if verdict.decision == Decision::Violation {
        report.outcome = Outcome::Reported;
        report.notification = enforce::notify_once(
            guard,
            invocation,
            subject,
            verdict,
            &report.outcome,
            metrics,
        )
        .await?;
    }
    log(&report);
    Ok(report)
}

/// The one structured line per judged job run or definition.
fn log(report: &JobReport) {
    let principal = report.principal.as_deref().unwrap_or("unknown");
    let rules = report.rules.join(",");
    let reason = report.reason.as_deref().unwrap_or("");
    let outcome = report.outcome.as_str();
    let action = report.action.as_str();
    let notification = report.notification.as_str();
    let override_name = report.override_name.as_deref().unwrap_or("none");
    if report.decision == Decision::Violation || report.decision == Decision::Exempt {
        warn!(
            principal,
            override_name, rules, reason, action, outcome, notification, "job out of bounds"
        );
    } else {
        info!(
            principal,
            override_name, rules, reason, action, outcome, "job within bounds"
        );
    }
}

/// `GetJob`; `None` when the job no longer exists.
pub async fn get_job(glue: &aws_sdk_glue::Client, name: &str) -> Result<Option<Job>, GuardError> {
    match glue.get_job().job_name(name).send().await {
        Ok(output) => Ok(output.job),
        Err(error) if error.code() == Some("EntityNotFoundException") => Ok(None),
        Err(error) => Err(GuardError::aws("GetJob", name, error)),
    }
}

/// `GetJobRun`; `None` when the run (or its job) no longer exists.
pub async fn get_job_run(
    glue: &aws_sdk_glue::Client,
    name: &str,
    run_id: &str,
) -> Result<Option<JobRun>, GuardError> {
    match glue
        .get_job_run()
        .job_name(name)
        .run_id(run_id)
        .send()
        .await
    {
        Ok(output) => Ok(output.job_run),
        Err(error) if error.code() == Some("EntityNotFoundException") => Ok(None),
        Err(error) => Err(GuardError::aws("GetJobRun", run_id, error)),
    }
}

/// `BatchStopJobRun` of one run. Glue answers per run: a run it could not stop is in `Errors`,
/// and is looked at again: ended meanwhile (`already_ended`) or gone is not an error.
pub async fn stop_job_run(
    glue: &aws_sdk_glue::Client,
    name: &str,
    run_id: &str,
) -> Result<Outcome, GuardError> {
    let output = glue
        .batch_stop_job_run()
        .job_name(name)
        .job_run_ids(run_id)
        .send()
        .await
        .map_err(|error| GuardError::aws("BatchStopJobRun", run_id, error))?;
    let stopped = output
        .successful_submissions()
        .iter()
        .any(|done| done.job_run_id() == Some(run_id));
    if stopped {
        return Ok(Outcome::Stopped);
    }
    let refused = output
        .errors()
        .iter()
        .find(|error| error.job_run_id() == Some(run_id))
        .and_then(|error| error.error_detail())
        .map(|detail| {
            format!(
                "{}: {}",
                detail.error_code().unwrap_or("unknown"),
                detail.error_message().unwrap_or("")
            )
        })
        .unwrap_or_else(|| "Glue neither stopped the run nor said why".to_string());
    match get_job_run(glue, name, run_id).await? {
        None => Ok(Outcome::Gone),
        Some(run) => match run.job_run_state() {
            Some(state) if is_ended(state) => Ok(Outcome::AlreadyEnded(state.as_str().to_string())),
            _ => Err(GuardError::NotStopped {
                subject: format!("job run {run_id} of job {name}"),
                why: refused,
            }),
        },
    }
}

fn is_ended(state: &JobRunState) -> bool {
    policy::jobs::ENDED_JOB_RUN_STATES.contains(&state.as_str())
}

fn last_modified_on(job: &Job) -> Option<SystemTime> {
    job.last_modified_on()
        .or(job.created_on())
        .and_then(|time| SystemTime::try_from(*time).ok())
}

/// A job definition as Glue's API spells it in JSON, for `policy::facts_from_glue_job`: the
/// settings the policy judges (the scaling arguments only of `DefaultArguments`).
pub fn job_json(job: &Job) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(key.to_string(), value);
        }
    };
    put("Name", job.name().map(|name| json!(name)));
    put(
        "Command",
        job.command()
            .and_then(|command| command.name())
            .map(|name| json!({"Name": name})),
    );
    put("GlueVersion", job.glue_version().map(|v| json!(v)));
    put("WorkerType", job.worker_type().map(|t| json!(t.as_str())));
    put("NumberOfWorkers", job.number_of_workers().map(|n| json!(n)));
    put("MaxCapacity", job.max_capacity().map(|c| json!(c)));
    put("Timeout", job.timeout().map(|t| json!(t)));
    put(
        "ExecutionClass",
        job.execution_class().map(|c| json!(c.as_str())),
    );
    put("ProfileName", job.profile_name().map(|p| json!(p)));
    put(
        "Connections",
        job.connections()
            .map(|list| json!({"Connections": list.connections()})),
    );
    put(
        "DefaultArguments",
        job.default_arguments().map(scaling_only),
    );
    Value::Object(out)
}

/// A job run as Glue's API spells it in JSON, for `policy::facts_from_glue_job_run`.
pub fn job_run_json(run: &JobRun) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(key.to_string(), value);
        }
    };
    put("Id", run.id().map(|id| json!(id)));
    put("JobName", run.job_name().map(|name| json!(name)));
    put(
        "JobRunState",
        run.job_run_state().map(|s| json!(s.as_str())),
    );
    put("GlueVersion", run.glue_version().map(|v| json!(v)));
    put("WorkerType", run.worker_type().map(|t| json!(t.as_str())));
    put("NumberOfWorkers", run.number_of_workers().map(|n| json!(n)));
    put("MaxCapacity", run.max_capacity().map(|c| json!(c)));
    put("Timeout", run.timeout().map(|t| json!(t)));
    put(
        "ExecutionClass",
        run.execution_class().map(|c| json!(c.as_str())),
    );
    put("Arguments", run.arguments().map(scaling_only));
    Value::Object(out)
}

/// The scaling arguments of an argument map: the only ones judged (never the others, which may
/// hold anything a job reads).
fn scaling_only(arguments: &std::collections::HashMap<String, String>) -> Value {
    let kept: Map<String, Value> = [
        policy::catalogue::AUTO_SCALING_ARGUMENT,
        policy::catalogue::SCALING_PROFILE_ARGUMENT,
    ]
    .into_iter()
    .filter_map(|key| {
        arguments
            .get(key)
            .map(|value| (key.to_string(), json!(value)))
    })
    .collect();
    Value::Object(kept)
}
