//! What is known about one Glue job run or job definition, and where it is read from:
//! - a CloudTrail `StartJobRun` record (bare or in its EventBridge envelope): the run's
//!   overrides (`requestParameters`) and its id (`responseElements.jobRunId`);
//! - a CloudTrail `CreateJob` or `UpdateJob` record: a job definition as it was written;
//! - Glue's `GetJob` (`{"Job": {...}}`): the definition now;
//! - Glue's `GetJobRun` (`{"JobRun": {...}}`): the run as Glue runs it.
//!
//! What Glue runs is, field by field, the run's `GetJobRun` over the run's overrides over the
//! definition over Glue's documented job defaults ([`JobFacts::run`];
//! `policy::catalogue::JobCommand::documented_job_defaults`). Source: AWS Glue API reference,
//! "Jobs" (`Job`, `CreateJob`, `UpdateJob`: "The previous job definition is completely
//! overwritten by this information") and "Job runs" (`StartJobRun`, `JobRun`).
//! Parsing never panics, whatever the JSON holds.

use std::collections::BTreeMap;

use crate::json::Json;
use serde::{Deserialize, Serialize};

use crate::facts::{
    Fact, Ignored, Principal, bounded, connection_names, count_fact, event_time, get, known,
    number_fact, principal_of, scaling_arguments, string_fact, tag_map, unwrap_envelope,
};

/// Job run states in which there is nothing left to stop (`JobRunState`, "Job runs" API page).
pub const ENDED_JOB_RUN_STATES: &[&str] = &[
    "STOPPING",
    "STOPPED",
    "SUCCEEDED",
    "FAILED",
    "TIMEOUT",
    "ERROR",
    "EXPIRED",
];

/// Job run states the sweep looks for (`GetJobRuns`): a run that holds, or is about to hold,
/// workers.
pub const ACTIVE_JOB_RUN_STATES: &[&str] = &["STARTING", "RUNNING", "WAITING"];

/// Everything evaluation needs to know about one job run (`job_run_id` given) or one job
/// definition (`job_run_id` `None`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobFacts {
    /// `JobName` (`Name` of the definition).
    pub job_name: String,
    /// The run's id (`JobRunId`); `None` for a definition.
    #[serde(default)]
    pub job_run_id: Option<String>,
    /// Who started the run, or who wrote the definition, as CloudTrail recorded it. `None` for
    /// runs started by schedules, triggers and workflows (found by the sweep) and for
    /// definitions read from `GetJob`.
    #[serde(default)]
    pub principal: Option<Principal>,
    /// `JobRunState`, when Glue reported it.
    #[serde(default)]
    pub status: Option<String>,
    /// `Command.Name`: `glueetl`, `gluestreaming`, `pythonshell` or `glueray`. It decides which
    /// of Glue's defaults apply.
    #[serde(default)]
    pub command: Fact<String>,
    /// `ExecutionClass`: `STANDARD` or `FLEX`. `Omitted`: Glue's default, `STANDARD`.
    #[serde(default)]
    pub execution_class: Fact<String>,
    /// The scaling arguments (`--enable-auto-scaling`, `--scaling-profile`) of the definition's
    /// `DefaultArguments` with the run's `Arguments` over them, key by key.
    #[serde(default)]
    pub scaling_arguments: Fact<BTreeMap<String, String>>,
    /// The Glue usage profile the job was created under (`ProfileName`). `Omitted`: none.
    #[serde(default)]
    pub profile_name: Fact<String>,
    #[serde(default)]
    pub worker_type: Fact<String>,
    #[serde(default)]
    pub number_of_workers: Fact<u64>,
    /// `MaxCapacity` (or the deprecated `AllocatedCapacity`), DPUs.
    #[serde(default)]
    pub max_capacity: Fact<f64>,
    /// `Timeout`, minutes.
    #[serde(default)]
    pub timeout_minutes: Fact<u64>,
    #[serde(default)]
    pub glue_version: Fact<String>,
    /// The definition's `Connections`: runs cannot change them.
    #[serde(default)]
    pub connections: Fact<Vec<String>>,
    /// The job's tags: from `CreateJob`'s request, or `GetTags`. `GetJob` does not report them.
    #[serde(default)]
    pub tags: Fact<BTreeMap<String, String>>,
    /// The event's own time, seconds since the epoch: the `StartJobRun`, `CreateJob` or
    /// `UpdateJob` record's `eventTime`, or the sweep's clock for a run it finds. As
    /// [`crate::facts::SessionFacts::event_time`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<crate::time::UnixSeconds>,
}

impl JobFacts {
    /// What Glue runs for a run: field by field, `glue` (`GetJobRun`) over `request` (the
    /// `StartJobRun` overrides) over `definition` (`GetJob`, or the last `CreateJob`/`UpdateJob`
    /// record). A value only a lower layer gives is taken from it; a value none gives is the
    /// definition's `Omitted` (Glue's default applies) or, without a definition, `Unknown`.
    /// Connections and tags are the definition's: a run cannot change them.
    pub fn run(
        definition: Option<&JobFacts>,
        request: &JobFacts,
        glue: Option<&JobFacts>,
    ) -> JobFacts {
        let base = definition.cloned().unwrap_or_else(|| JobFacts {
            job_name: request.job_name.clone(),
            ..JobFacts::default()
        });
        let mut run = [Some(request), glue]
            .into_iter()
            .flatten()
            .fold(base, |lower, upper| lower.overridden_by(upper));
        run.job_run_id = glue
            .and_then(|g| g.job_run_id.clone())
            .or_else(|| request.job_run_id.clone());
        run.principal = request.principal.clone().or(run.principal);
        // The run's event is its start (or the sweep finding it), never the definition's write.
        run.event_time = request
            .event_time
            .or_else(|| glue.and_then(|g| g.event_time));
        run
    }

    /// An `UpdateJob`'s definition as it stands after `earlier`, the same job's definition
    /// before it. `UpdateJob` replaces every setting but the tags, which it cannot change (only
    /// `CreateJob`, `TagResource` and `UntagResource` do: Glue API, "Jobs", `UpdateJob`): its
    /// tags, `Unknown`, are `earlier`'s. For an `UpdateJob` only: a `CreateJob` whose tags cannot
    /// be read keeps them unknown, never an earlier job's.
    pub fn updated_after(mut self, earlier: Option<&JobFacts>) -> JobFacts {
        if let (Fact::Unknown, Some(earlier)) = (&self.tags, earlier) {
            self.tags = earlier.tags.clone();
        }
        self
    }

    /// These facts with every value `upper` gives (`Given`) replacing ours.
    fn overridden_by(self, upper: &JobFacts) -> JobFacts {
        fn over<T: Clone>(upper: &Fact<T>, lower: Fact<T>) -> Fact<T> {
            match upper {
                Fact::Given(value) => Fact::Given(value.clone()),
                _ => lower,
            }
        }
        let scaling_arguments = match (&upper.scaling_arguments, self.scaling_arguments) {
            (Fact::Given(upper), Fact::Given(mut lower)) => {
                lower.extend(upper.iter().map(|(k, v)| (k.clone(), v.clone())));
                Fact::Given(lower)
            }
            (Fact::Given(upper), _) if !upper.is_empty() => Fact::Given(upper.clone()),
            (_, lower) => lower,
        };
        JobFacts {
            job_name: if upper.job_name.is_empty() {
                self.job_name
            } else {
                upper.job_name.clone()
            },
            job_run_id: upper.job_run_id.clone().or(self.job_run_id),
            principal: self.principal,
            status: upper.status.clone().or(self.status),
            command: over(&upper.command, self.command),
            execution_class: over(&upper.execution_class, self.execution_class),
            scaling_arguments,
            profile_name: over(&upper.profile_name, self.profile_name),
            worker_type: over(&upper.worker_type, self.worker_type),
            number_of_workers: over(&upper.number_of_workers, self.number_of_workers),
            max_capacity: over(&upper.max_capacity, self.max_capacity),
            timeout_minutes: over(&upper.timeout_minutes, self.timeout_minutes),
            glue_version: over(&upper.glue_version, self.glue_version),
            connections: self.connections,
            tags: self.tags,
            event_time: upper.event_time.or(self.event_time),
        }
    }

    /// True for a job run, false for a job definition.
    pub fn is_run(&self) -> bool {
        self.job_run_id.is_some()
    }
}

/// A successful job record read from CloudTrail.
#[derive(Debug, Clone, PartialEq)]
pub enum JobRecord {
    /// `StartJobRun`: the run's overrides, its id and who started it. Judge it with the job's
    /// definition: [`JobFacts::run`].
    Run(JobFacts),
    /// `CreateJob` or `UpdateJob`: the definition as written (`UpdateJob` overwrites the whole
    /// definition, so what it leaves out is Glue's default, or its usage profile's: the profile
    /// is `Unknown` in a record). `UpdateJob` does not change tags: they are `Unknown` there.
    Definition(JobFacts),
}

/// The Glue calls on jobs that the guard judges.
pub const JOB_EVENT_NAMES: &[&str] = &["StartJobRun", "CreateJob", "UpdateJob"];

/// True when `event` (enveloped or bare) is a CloudTrail record of a Glue call on jobs that the
/// guard judges ([`JOB_EVENT_NAMES`]), whatever its outcome.
pub fn is_job_event<J: Json>(event: &J) -> bool {
    let Ok(record) = unwrap_envelope(event) else {
        return false;
    };
    record.get("eventSource").and_then(J::as_str) == Some("glue.amazonaws.com")
        && record
            .get("eventName")
            .and_then(J::as_str)
            .is_some_and(|name| JOB_EVENT_NAMES.contains(&name))
}

/// True for a CloudTrail `UpdateJob` record (enveloped or bare): a definition written that
/// keeps the job's tags ([`JobFacts::updated_after`]).
pub fn is_update_job<J: Json>(event: &J) -> bool {
    unwrap_envelope(event)
        .is_ok_and(|record| record.get("eventName").and_then(J::as_str) == Some("UpdateJob"))
}

/// Reads a CloudTrail `StartJobRun`, `CreateJob` or `UpdateJob` record (enveloped or bare).
/// Anything else, and a failed call, is `Err(Ignored)` with the reason.
pub fn read_job_record<J: Json>(event: &J) -> Result<JobRecord, Ignored> {
    let record = unwrap_envelope(event)?;
    let text = |path: &[&str]| get(record, path).and_then(J::as_str);
    let principal = principal_of(record);
    let ignored = |reason: String| Ignored {
        reason,
        session_id: None,
        principal: principal.as_ref().map(|p| p.arn.clone()),
    };
    if text(&["eventSource"]) != Some("glue.amazonaws.com") {
        return Err(ignored("the event is not a Glue call".into()));
    }
    let name = text(&["eventName"]).unwrap_or_default();
    if !JOB_EVENT_NAMES.contains(&name) {
        return Err(ignored(format!(
            "event `{name}` is not StartJobRun, CreateJob or UpdateJob"
        )));
    }
    if let Some(code) = record.get("errorCode").filter(|code| !code.is_null()) {
        let code = code.as_str().map_or_else(|| code.to_json(), str::to_string);
        return Err(ignored(format!(
            "the {name} call failed ({code}); nothing was started or written"
        )));
    }
    let request = record.get("requestParameters").filter(|r| r.is_object());
    let Some(request) = request else {
        return Err(ignored(format!(
            "the {name} record has no requestParameters"
        )));
    };
    fn field<'v, J: Json>(value: &'v J, key: &str) -> Option<&'v J> {
        value.get(key).filter(|v| !v.is_null())
    }
    match name {
        "StartJobRun" => {
            let job_name = field(request, "jobName")
                .and_then(|n| n.as_str().map(bounded))
                .filter(|n| !n.is_empty());
            let Some(job_name) = job_name else {
                return Err(ignored("the StartJobRun record names no job".into()));
            };
            let run_id = get(record, &["responseElements", "jobRunId"])
                .and_then(J::as_str)
                .or_else(|| text(&["requestParameters", "jobRunId"]))
                .filter(|id| !id.is_empty())
                .map(bounded);
            let Some(run_id) = run_id else {
                return Err(ignored(
                    "the StartJobRun record has no jobRunId, so no run was started".into(),
                ));
            };
            let requested = |key: &str| request.get(key).filter(|v| !v.is_null());
            Ok(JobRecord::Run(JobFacts {
                job_name,
                job_run_id: Some(run_id),
                principal,
                status: None,
                command: Fact::Omitted,
                execution_class: string_fact(requested("executionClass")),
                scaling_arguments: match requested("arguments") {
                    None => Fact::Given(BTreeMap::new()),
                    Some(arguments) => scaling_arguments(arguments),
                },
                profile_name: Fact::Omitted,
                worker_type: string_fact(requested("workerType")),
                number_of_workers: count_fact(requested("numberOfWorkers")),
                max_capacity: capacity(requested("maxCapacity"), requested("allocatedCapacity")),
                timeout_minutes: count_fact(requested("timeout")),
                glue_version: Fact::Omitted,
                connections: Fact::Unknown,
                tags: Fact::Unknown,
                event_time: event_time(record),
            }))
        }
        _ => {
            // CreateJob: the definition is the request; UpdateJob: `jobUpdate`.
            let (job_name, definition) = if name == "CreateJob" {
                (field(request, "name"), Some(request))
            } else {
                (
                    field(request, "jobName"),
                    request.get("jobUpdate").filter(|u| u.is_object()),
                )
            };
            let job_name = job_name
                .and_then(|n| n.as_str().map(bounded))
                .filter(|n| !n.is_empty());
            let Some(job_name) = job_name else {
                return Err(ignored(format!("the {name} record names no job")));
            };
            let Some(definition) = definition else {
                return Err(ignored(format!("the {name} record has no jobUpdate")));
            };
            let mut facts = definition_facts(definition, Naming::LowerCamel);
            facts.job_name = job_name;
            facts.principal = principal;
            // A request never names a usage profile (the caller's IAM tag `glue:UsageProfile`
            // does): whether one supplies what the definition leaves out is unknown here.
            facts.profile_name = Fact::Unknown;
            if name == "UpdateJob" {
                facts.tags = Fact::Unknown;
            }
            facts.event_time = event_time(record);
            Ok(JobRecord::Definition(facts))
        }
    }
}

/// Reads Glue's `GetJob` answer (`{"Job": {...}}`, or the `Job` bare, as `GetJobs` lists it):
/// the definition now. A value it leaves out was left out of the definition (Glue's default
/// applies). Tags are not reported (`GetTags` gives them).
pub fn facts_from_glue_job<J: Json>(job: &J) -> Result<JobFacts, Ignored> {
    let job = job.get("Job").unwrap_or(job);
    if !job.is_object() {
        return Err(Ignored::because("the Glue job is not a JSON object"));
    }
    let Some(name) = job
        .get("Name")
        .and_then(J::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(Ignored::because("the Glue job has no Name"));
    };
    let mut facts = definition_facts(job, Naming::Pascal);
    facts.job_name = bounded(name);
    facts.tags = match job.get("Tags").filter(|t| !t.is_null()) {
        Some(tags) => tag_map(tags),
        None => Fact::Unknown,
    };
    Ok(facts)
}

/// Reads Glue's `GetJobRun` answer (`{"JobRun": {...}}`, or a `JobRun` bare, as `GetJobRuns`
/// lists it): the run as Glue runs it. A value it leaves out is unknown, not left out.
pub fn facts_from_glue_job_run<J: Json>(run: &J) -> Result<JobFacts, Ignored> {
    let run = run.get("JobRun").unwrap_or(run);
    if !run.is_object() {
        return Err(Ignored::because("the Glue job run is not a JSON object"));
    }
    let text = |key: &str| {
        run.get(key)
            .and_then(J::as_str)
            .filter(|t| !t.is_empty())
            .map(bounded)
    };
    let (Some(job_name), Some(id)) = (text("JobName"), text("Id")) else {
        return Err(Ignored::because("the Glue job run has no JobName or Id"));
    };
    let field = |key: &str| run.get(key).filter(|v| !v.is_null());
    Ok(JobFacts {
        job_name,
        job_run_id: Some(id),
        principal: None,
        status: text("JobRunState"),
        command: Fact::Unknown,
        execution_class: known(string_fact(field("ExecutionClass"))),
        scaling_arguments: match field("Arguments") {
            None => Fact::Unknown,
            Some(arguments) => scaling_arguments(arguments),
        },
        profile_name: Fact::Unknown,
        worker_type: known(string_fact(field("WorkerType"))),
        number_of_workers: known(count_fact(field("NumberOfWorkers"))),
        max_capacity: known(capacity(field("MaxCapacity"), field("AllocatedCapacity"))),
        timeout_minutes: known(count_fact(field("Timeout"))),
        glue_version: known(string_fact(field("GlueVersion"))),
        connections: Fact::Unknown,
        tags: Fact::Unknown,
        event_time: None,
    })
}

/// How a source spells a job definition's keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// The API's JSON (`GetJob`): `WorkerType`.
    Pascal,
    /// CloudTrail's `requestParameters` (`CreateJob`, `UpdateJob`'s `jobUpdate`): `workerType`.
    LowerCamel,
}

impl Naming {
    fn key(self, pascal: &'static str) -> String {
        match self {
            Naming::Pascal => pascal.to_string(),
            Naming::LowerCamel => {
                let mut chars = pascal.chars();
                let first = chars.next().map(|c| c.to_ascii_lowercase());
                first.into_iter().chain(chars).collect()
            }
        }
    }
}

/// A job definition as written (`CreateJob`, `UpdateJob`'s `JobUpdate`) or reported (`GetJob`).
/// What it leaves out is `Omitted`: Glue's default applies.
fn definition_facts<J: Json>(job: &J, naming: Naming) -> JobFacts {
    let field = |key: &'static str| job.get(naming.key(key).as_str()).filter(|v| !v.is_null());
    JobFacts {
        job_name: String::new(),
        job_run_id: None,
        principal: None,
        status: None,
        command: string_fact(field("Command").and_then(|c| c.get(naming.key("Name").as_str()))),
        execution_class: string_fact(field("ExecutionClass")),
        scaling_arguments: match field("DefaultArguments") {
            None => Fact::Given(BTreeMap::new()),
            Some(arguments) => scaling_arguments(arguments),
        },
        profile_name: string_fact(field("ProfileName")),
        worker_type: string_fact(field("WorkerType")),
        number_of_workers: count_fact(field("NumberOfWorkers")),
        max_capacity: capacity(field("MaxCapacity"), field("AllocatedCapacity")),
        timeout_minutes: count_fact(field("Timeout")),
        glue_version: string_fact(field("GlueVersion")),
        connections: match field("Connections") {
            None => Fact::Given(Vec::new()),
            Some(list) => {
                connection_names(list.get(naming.key("Connections").as_str()).unwrap_or(list))
            }
        },
        tags: match field("Tags") {
            None => Fact::Given(BTreeMap::new()),
            Some(tags) => tag_map(tags),
        },
        event_time: None,
    }
}

/// `MaxCapacity`, else the deprecated `AllocatedCapacity` (whole DPUs) it replaced.
fn capacity<J: Json>(max_capacity: Option<&J>, allocated: Option<&J>) -> Fact<f64> {
    match number_fact(max_capacity) {
        Fact::Omitted => number_fact(allocated),
        fact => fact,
    }
}
