//! Glue jobs in real time: a `StartJobRun` record is judged as the run Glue runs (`GetJobRun`
//! over the run's overrides over the definition from `GetJob`, and the job's tags from
//! `GetTags`) and, out of bounds, stopped with `BatchStopJobRun` and notified once; a
//! `CreateJob` or `UpdateJob` record is judged as the definition `GetJob` now returns (the record
//! when the job is gone) and, out of bounds, notified once, never changed.

use std::time::{Duration, SystemTime};

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

pub use crate::report::AssessedRun;
use policy::budgets::{Holder, HolderKind};

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
                let mut verdict = evaluate(guard, &facts, metrics);
                let candidate = run
                    .as_ref()
                    .and_then(|run| run_holder(&facts, run, &verdict));
                // Its registry item (where a budget check records what it found it over).
                let key = run.as_ref().and_then(started_on).map(|started| {
                    crate::budget::holder_key(
                        HolderKind::JobRun,
                        &policy::budgets::job_run_id(&name, &id),
                        crate::budget::epoch_ms(started),
                    )
                });
                if !guard.policy().budgets.is_empty()
                    && candidate.is_none()
                    && let Some(key) = &key
                {
                    // No longer running (a retry after its stop): what an earlier check found
                    // it over is read back, so that its notification is still sent.
                    crate::budget::apply_recorded(guard, key, &mut verdict).await?;
                }
                if !guard.policy().budgets.is_empty()
                    && let Some(candidate) = candidate
                {
                    let definition = definition.as_ref();
                    let (name, id) = (name.as_str(), id.as_str());
                    let more: &crate::budget::More<'_> = &|| {
                        Box::pin(async move {
                            let mut runs =
                                running_holders(guard, name, Some(id), definition).await?;
                            runs.extend(indexed_runs(guard, Some(name)).await?);
                            Ok(runs)
                        })
                    };
                    crate::budget::check(guard, invocation, candidate, &mut verdict, metrics, more)
                        .await?;
                }
                let subject_id = format!("job-run/{name}/{id}");
                let subject = Subject {
                    id: &subject_id,
                    created_on: None,
                    found_by: FoundBy::Event,
                    creator: Creator::Event,
                };
                let acted =
                    act_on_run(guard, invocation, &subject, &facts, &verdict, metrics).await;
                // A stop that did not happen leaves no budget violation recorded behind it.
                match &key {
                    Some(key) => crate::budget::unless_stopped(guard, key, &verdict, acted).await,
                    None => acted,
                }
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

/// The run as a team budget holder, while it holds DPUs (`STARTING`, `RUNNING`, `WAITING`, with
/// a `StartedOn`): `<job>/<run id>`, its DPUs and whether it is stopped from its verdict.
fn run_holder(facts: &JobFacts, run: &JobRun, verdict: &Verdict) -> Option<Holder> {
    let active = run
        .job_run_state()
        .is_some_and(|state| policy::jobs::ACTIVE_JOB_RUN_STATES.contains(&state.as_str()));
    let started = started_on(run).filter(|_| active)?;
    Some(Holder::from_verdict(
        HolderKind::JobRun,
        policy::budgets::job_run_id(
            &facts.job_name,
            facts.job_run_id.as_deref().unwrap_or_default(),
        ),
        crate::budget::epoch_ms(started),
        verdict,
        facts.principal.clone(),
        policy::budgets::known_tags(&facts.tags),
    ))
}

/// The running runs of the job `name` (its first `GetJobRuns` page) but `except`, as budget
/// holders: each judged over `definition` with `GetJobRuns`' figures (so that whether its own
/// boundaries stop it is known), its starter, and its tags when the definition lacks them, from
/// the holder registry.
async fn running_holders(
    guard: &Guard,
    name: &str,
    except: Option<&str>,
    definition: Option<&JobFacts>,
) -> Result<Vec<Holder>, GuardError> {
    let mut found = Vec::new();
    for run in running_runs(&guard.glue, name).await? {
        let Ok(glue) = policy::facts_from_glue_job_run(&job_run_json(&run)) else {
            continue;
        };
        let (Some(started), Some(run_id)) = (started_on(&run), glue.job_run_id.clone()) else {
            continue;
        };
        if except == Some(run_id.as_str()) {
            continue;
        }
        let request = JobFacts {
            job_name: name.to_string(),
            job_run_id: Some(run_id.clone()),
            ..JobFacts::default()
        };
        let facts = JobFacts::run(definition, &request, Some(&glue));
        let holder_id = policy::budgets::job_run_id(name, &run_id);
        let at = crate::budget::epoch_ms(started);
        found.push((facts, holder_id, at));
    }
    let keys: Vec<String> = found
        .iter()
        .map(|(_, holder_id, at)| crate::budget::holder_key(HolderKind::JobRun, holder_id, *at))
        .collect();
    let registry = crate::budget::registered(guard.ledger(), &keys).await?;
    Ok(found
        .into_iter()
        .zip(&keys)
        .map(|((mut facts, holder_id, at), key)| {
            let known = registry.get(key).cloned().unwrap_or_default();
            facts.principal = known.principal.clone();
            // `GetJob` reports no tags: the registry has those the run's own check read.
            if facts.tags == policy::Fact::Unknown
                && let Some(tags) = known.tags
            {
                facts.tags = policy::Fact::Given(tags);
            }
            let verdict = policy::evaluate_job(guard.policy(), &facts);
            let mut holder = Holder::from_verdict(
                HolderKind::JobRun,
                holder_id,
                at,
                &verdict,
                known.principal,
                policy::budgets::known_tags(&facts.tags),
            );
            // Its own check judged it with what only its event holds.
            holder.stopped_by_policy |= known.stopping;
            holder
        })
        .collect())
}

/// The running runs of every job the registry's index names ([`crate::budget::jobs_with_runs`])
/// but `except`, as budget holders, each judged over its job's definition (`GetJob`). A job that
/// is gone holds nothing; one that cannot be read or listed (throttled, denied) is left out with
/// a warning: the sweep counts it.
pub async fn indexed_runs(guard: &Guard, except: Option<&str>) -> Result<Vec<Holder>, GuardError> {
    let (holders, _left_out) = indexed_runs_of(guard, |name| except != Some(name), None).await?;
    Ok(holders)
}

/// [`indexed_runs`] of the index's jobs that `keep` names, and how many of them were left out
/// because they could not be read or listed, or `time` ran out before them.
pub async fn indexed_runs_of(
    guard: &Guard,
    keep: impl Fn(&str) -> bool,
    time: Option<&crate::wait::Budget>,
) -> Result<(Vec<Holder>, usize), GuardError> {
    let now = crate::budget::epoch_ms(SystemTime::now());
    let names = crate::budget::jobs_with_runs(guard.ledger(), now).await?;
    let mut holders = Vec::new();
    let mut left_out = 0;
    for name in names.iter().filter(|name| keep(name)) {
        if time.is_some_and(|time| time.remaining().is_zero()) {
            left_out += 1;
            continue;
        }
        // Each run is judged over its job's definition, as the run's own check judged it.
        let definition = match get_job(&guard.glue, name).await {
            Ok(Some(job)) => policy::facts_from_glue_job(&job_json(&job)).ok(),
            // Deleted since: no run of it holds anything.
            Ok(None) => continue,
            Err(error) => {
                warn!(job_name = %name, error = %error, "could not read the job for a budget");
                left_out += 1;
                continue;
            }
        };
        match running_holders(guard, name, None, definition.as_ref()).await {
            Ok(runs) => holders.extend(runs),
            Err(error) => {
                warn!(job_name = %name, error = %error, "could not list the job's runs for a budget");
                left_out += 1;
            }
        }
    }
    Ok((holders, left_out))
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
    metrics.job_inspected(facts.is_run(), violated);
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
        metrics.job_run_stopped();
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

/// Most jobs one sweep lists the runs of (one `GetJobRuns` each). The rest are counted
/// (`JobsNotSwept`) and reached by later sweeps, which start each at another place in the list
/// ([`sweep_runs`]).
pub const MAX_JOBS_PER_SWEEP: usize = 300;

/// CloudTrail's event time and Glue's `StartedOn` may differ a little.
const START_SLACK: Duration = Duration::from_secs(10 * 60);

/// Whether the sweep leaves a run to the next sweep instead of acting now, as it does a
/// session (`sweep::defer`): a violating run whose starter is not known yet, while its
/// `StartJobRun` record may still be on its way to `LookupEvents` (younger than
/// `cloudtrail_lag`, or of unknown age), when the policy has an exemption or a job override by
/// principal that the starter could change. A run a trigger started (`TriggerName`: a schedule,
/// a trigger or a workflow) has no starter to wait for.
fn defer_run(
    guard: &Guard,
    verdict: &Verdict,
    creator: Creator,
    by_trigger: bool,
    age: Option<Duration>,
) -> bool {
    let policy = guard.policy();
    let starter_matters = !policy.exempt_principals.is_empty()
        || policy.jobs.as_ref().is_some_and(|jobs| {
            jobs.overrides
                .iter()
                .any(|rule| !rule.principals.is_empty())
        });
    let young = age.is_none_or(|age| age < guard.timing.cloudtrail_lag);
    verdict.decision == Decision::Violation
        && creator == Creator::Unknown
        && !by_trigger
        && starter_matters
        && young
}

fn started_on(run: &JobRun) -> Option<SystemTime> {
    run.started_on()
        .and_then(|time| SystemTime::try_from(*time).ok())
}

/// `GetJobRuns` page size: Glue returns a job's newest runs first, so its running ones are on
/// the first page unless a job has more than this many runs at once.
const RUNS_PER_JOB: i32 = 50;

/// What one sweep of job runs saw and did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct JobSweepReport {
    /// Jobs listed (`ListJobs`).
    pub jobs_listed: usize,
    /// Jobs whose runs were listed (`GetJobRuns`).
    pub jobs_swept: usize,
    /// Jobs left to a later sweep (the bound per invocation, or the deadline).
    pub jobs_not_swept: usize,
    /// Runs `STARTING`, `RUNNING` or `WAITING`, judged.
    pub runs_judged: usize,
    pub runs: Vec<JobReport>,
}

/// The sweep of job runs: every job (`ListJobs`, paged), the running runs of each
/// (`GetJobRuns`), each judged over its job's definition (`GetJob`, `GetTags`) with who started
/// it from its `StartJobRun` record (`LookupEvents`), and acted on as the real-time path acts: a
/// run started by a schedule, trigger or workflow, or whose event was lost, is found here. A run
/// whose starter is not known yet may be deferred ([`defer_run`]). At most
/// [`MAX_JOBS_PER_SWEEP`] jobs per invocation, and none once the deadline is near; the start
/// rotates with the time, so that successive sweeps reach every job.
pub async fn sweep_runs(
    guard: &Guard,
    invocation: &Invocation,
    metrics: &Metrics,
) -> Result<JobSweepReport, GuardError> {
    let now = assess_runs(guard, invocation, metrics, true).await?;
    act_on_runs(guard, invocation, now, metrics).await
}

/// Acts on the runs [`assess_runs`] judged (the sweep's second half, after the team budgets
/// may have added their violations): each deferred one left for the next sweep, the others
/// stopped or notified as their verdict says.
pub async fn act_on_runs(
    guard: &Guard,
    invocation: &Invocation,
    now: RunsNow,
    metrics: &Metrics,
) -> Result<JobSweepReport, GuardError> {
    let RunsNow {
        jobs_listed,
        jobs_swept,
        jobs_not_swept,
        runs,
        mut failures,
        ..
    } = now;
    let mut report = JobSweepReport {
        jobs_listed,
        jobs_swept,
        jobs_not_swept,
        runs_judged: runs.len(),
        runs: Vec::new(),
    };
    for run in &runs {
        let name = &run.facts.job_name;
        let id = run.facts.job_run_id.clone().unwrap_or_default();
        let span = info_span!("job", job_name = %name, job_run_id = %id, decision = field::Empty);
        span.record("decision", run.verdict.decision.as_str());
        let subject_id = format!("job-run/{name}/{id}");
        let subject = Subject {
            id: &subject_id,
            created_on: None,
            found_by: FoundBy::Sweep,
            creator: run.creator,
        };
        let result = async {
            if run.deferred {
                let report = JobReport::new(&run.verdict, Outcome::Deferred);
                log(&report);
                return Ok(report);
            }
            act_on_run(
                guard,
                invocation,
                &subject,
                &run.facts,
                &run.verdict,
                metrics,
            )
            .await
        }
        .instrument(span)
        .await;
        match result {
            Ok(run_report) => report.runs.push(run_report),
            Err(failure) => failures.push(failure),
        }
    }
    metrics.jobs_not_swept(report.jobs_not_swept as u64);
    info!(
        jobs_listed = report.jobs_listed,
        jobs_swept = report.jobs_swept,
        jobs_not_swept = report.jobs_not_swept,
        runs_judged = report.runs_judged,
        failed = failures.len(),
        "sweep of job runs done"
    );
    match failures.len() {
        0 => Ok(report),
        failed => Err(GuardError::SweepIncomplete {
            failed,
            judged: report.runs_judged,
            first: Box::new(failures.swap_remove(0)),
        }),
    }
}

/// The running job runs, judged (reads only: `ListJobs`, `GetJobRuns`, `LookupEvents`,
/// `GetJob`, `GetTags`), and the jobs the listing reached.
#[derive(Debug)]
pub struct RunsNow {
    pub jobs_listed: usize,
    pub jobs_swept: usize,
    pub jobs_not_swept: usize,
    /// The jobs left to later sweeps (`jobs_not_swept` of them), by name.
    pub not_swept: Vec<String>,
    pub runs: Vec<AssessedRun>,
    /// Jobs whose runs could not be listed: the sweep fails with them after acting on the rest.
    pub failures: Vec<GuardError>,
    /// Why the `StartJobRun` records could not be read (only when not `cloudtrail_required`):
    /// every run is then judged with its starter unknown.
    pub starters_unavailable: Option<String>,
}

/// Lists and judges the running job runs as [`sweep_runs`] does, acting on none: what the sweep
/// and `cargo xtask scan` share. When CloudTrail cannot be read, the sweep fails
/// (`cloudtrail_required`) and the scan judges every run with its starter unknown, saying why.
pub async fn assess_runs(
    guard: &Guard,
    invocation: &Invocation,
    metrics: &Metrics,
    cloudtrail_required: bool,
) -> Result<RunsNow, GuardError> {
    let mut names = Vec::new();
    let mut pages = guard.glue.list_jobs().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| GuardError::aws("ListJobs", "all jobs", error))?;
        names.extend(page.job_names.unwrap_or_default());
    }
    let mut now_runs = RunsNow {
        jobs_listed: names.len(),
        jobs_swept: 0,
        jobs_not_swept: 0,
        not_swept: Vec::new(),
        runs: Vec::new(),
        failures: Vec::new(),
        starters_unavailable: None,
    };
    if names.is_empty() {
        return Ok(now_runs);
    }
    let minute = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs() / 60)
        .unwrap_or_default();
    let start = usize::try_from(minute).unwrap_or_default() % names.len();
    names.rotate_left(start);
    // Listing stops while there is time left to act on what was found.
    let budget = crate::wait::Budget::until(
        Duration::MAX,
        invocation.deadline,
        guard.timing.deadline_margin * 2,
    );
    let mut running: Vec<(String, Vec<JobRun>)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i >= MAX_JOBS_PER_SWEEP || budget.remaining().is_zero() {
            now_runs.jobs_not_swept = names.len() - i;
            now_runs.not_swept = names[i..].to_vec();
            break;
        }
        now_runs.jobs_swept += 1;
        match running_runs(&guard.glue, name).await {
            Ok(runs) if runs.is_empty() => {}
            Ok(runs) => running.push((name.clone(), runs)),
            Err(failure) => {
                warn!(job_name = %name, error = %failure, "could not list the job's runs");
                now_runs.failures.push(failure);
            }
        }
    }
    // Who started each run (and its overrides): the StartJobRun records since the oldest one.
    let now = SystemTime::now();
    let oldest = running
        .iter()
        .flat_map(|(_, runs)| runs)
        .filter_map(started_on)
        .min()
        .unwrap_or(now);
    let starts = if running.is_empty() {
        crate::creator::JobStarts::default()
    } else {
        match crate::creator::lookup_job_starts(&guard.cloudtrail, oldest - START_SLACK, now).await
        {
            Ok(starts) => starts,
            Err(failure) if !cloudtrail_required => {
                now_runs.starters_unavailable = Some(failure.to_string());
                crate::creator::JobStarts::default()
            }
            Err(failure) => return Err(failure),
        }
    };
    for (name, runs) in &running {
        let job = get_job(&guard.glue, name).await?;
        let mut definition = job
            .as_ref()
            .and_then(|job| policy::facts_from_glue_job(&job_json(job)).ok());
        if let Some(definition) = definition.as_mut() {
            let arn = invocation.scope.job_arn(name);
            if let Some(tags) = session::tags_of(&guard.glue, &arn, name).await? {
                definition.tags = policy::Fact::Given(tags);
            }
        }
        for run in runs {
            let Ok(glue) = policy::facts_from_glue_job_run(&job_run_json(run)) else {
                continue;
            };
            let id = glue.job_run_id.clone().unwrap_or_default();
            let (request, creator) = match starts.get(&id) {
                Some(record) => (record.clone(), Creator::CloudTrail),
                None => (
                    JobFacts {
                        job_name: name.clone(),
                        job_run_id: Some(id.clone()),
                        ..JobFacts::default()
                    },
                    Creator::Unknown,
                ),
            };
            let mut facts = JobFacts::run(definition.as_ref(), &request, Some(&glue));
            // Judged at the sweep's clock, as sessions it finds (policy::exceptions).
            facts.event_time = Some(policy::time::unix_seconds(now));
            let verdict = evaluate(guard, &facts, metrics);
            let age = started_on(run).and_then(|started| now.duration_since(started).ok());
            let deferred = defer_run(guard, &verdict, creator, run.trigger_name().is_some(), age);
            now_runs.runs.push(AssessedRun {
                facts,
                verdict,
                creator,
                deferred,
                started_on: started_on(run),
            });
        }
    }
    Ok(now_runs)
}

/// The job's runs that hold, or are about to hold, workers (`STARTING`, `RUNNING`, `WAITING`),
/// from the first page of `GetJobRuns` (newest first).
async fn running_runs(glue: &aws_sdk_glue::Client, name: &str) -> Result<Vec<JobRun>, GuardError> {
    let output = glue
        .get_job_runs()
        .job_name(name)
        .max_results(RUNS_PER_JOB)
        .send()
        .await;
    let output = match output {
        Ok(output) => output,
        Err(error) if error.code() == Some("EntityNotFoundException") => return Ok(Vec::new()),
        Err(error) => return Err(GuardError::aws("GetJobRuns", name, error)),
    };
    Ok(output
        .job_runs
        .unwrap_or_default()
        .into_iter()
        .filter(|run| {
            run.job_run_state()
                .is_some_and(|state| policy::jobs::ACTIVE_JOB_RUN_STATES.contains(&state.as_str()))
        })
        .collect())
}
