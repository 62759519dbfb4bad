//! Verdicts of what a file holds, one per record: a CloudTrail record (bare or in its
//! EventBridge envelope: `CreateSession`, `StartJobRun`, `CreateJob`, `UpdateJob`), a trail's log
//! file (plain or `.json.gz`), a `LookupEvents` response or one item of it, JSON Lines of
//! records, a Glue session (`{"Session": {...}}`), a job (`{"Job": {...}}`) or a job run
//! (`{"JobRun": {...}}`). Files are streamed, so a 100 MB log file needs no more memory than a
//! small one. Used by the evaluate and test-policies commands.
//!
//! A job run is judged with its job's definition: the last `CreateJob` or `UpdateJob` record of
//! that job earlier in the same input (the history), else the `GetJob` answer given with
//! `--job`, else none (what the run leaves out is then unknown, never guessed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use policy::records::{self, Item};
use policy::{
    JobFacts, JobRecord, Policy, ProfileDefaults, ProfileLookup, SessionFacts, UsageProfile,
    Verdict,
};

use crate::paths;

/// Usage profiles given on the command line, by `Name`.
#[derive(Debug, Default)]
pub struct ProfileFiles(BTreeMap<String, ProfileDefaults>);

impl ProfileFiles {
    /// Reads `GetUsageProfile` responses; a file that is not one, or two with one name, is an
    /// error naming the file.
    pub fn read(files: &[PathBuf]) -> anyhow::Result<ProfileFiles> {
        let mut profiles = BTreeMap::new();
        for file in files {
            let shown = paths::shown(file);
            let text = std::fs::read(file).map_err(|error| {
                anyhow::anyhow!(
                    "--usage-profile {shown}: cannot read: {}",
                    paths::io_reason(&error)
                )
            })?;
            let json: serde_json::Value = serde_json::from_slice(&text)
                .with_context(|| format!("{shown}: --usage-profile: not JSON"))?;
            let profile = UsageProfile::from_get_usage_profile(&json)
                .map_err(|reason| anyhow::anyhow!("{shown}: --usage-profile: {reason}"))?;
            if profiles
                .insert(profile.name.clone(), profile.defaults)
                .is_some()
            {
                bail!(
                    "{shown}: --usage-profile: a profile named {} was already given",
                    policy::quoted(&profile.name)
                );
            }
        }
        Ok(ProfileFiles(profiles))
    }

    /// `facts` with their usage profile's defaults, when it was given.
    pub fn apply(&self, facts: SessionFacts) -> SessionFacts {
        match facts.profile().and_then(|name| self.0.get(name)) {
            Some(defaults) => facts.with_usage_profile(ProfileLookup::Found(defaults.clone())),
            None => facts,
        }
    }
}

/// Job definitions given on the command line (`GetJob` answers), by `Name`, with the file each
/// came from and whether a run was judged over it.
#[derive(Debug, Default)]
pub struct JobFiles {
    jobs: BTreeMap<String, (String, JobFacts)>,
    used: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl JobFiles {
    /// Reads `GetJob` answers (`{"Job": {"Name": ..., "Command": {"Name": ...}, ...}}`: Glue
    /// API, "Jobs", `GetJob`; `Name` and `Command` are a job's required fields). A file that is
    /// not one, or two of one job, is an error naming the file.
    pub fn read(files: &[PathBuf]) -> anyhow::Result<JobFiles> {
        JobFiles::read_given_as(files, "--job")
    }

    /// As [`JobFiles::read`], errors naming the files as `given_as` (`--job` on the command
    /// line, `job` in a policy test).
    pub fn read_given_as(files: &[PathBuf], given_as: &str) -> anyhow::Result<JobFiles> {
        const SHAPE: &str = "a job as GetJob returns it: {\"Job\": {\"Name\": ..., \"Command\": \
                             {\"Name\": \"glueetl\"}, ...}}";
        let mut jobs = BTreeMap::new();
        for file in files {
            let shown = paths::shown(file);
            let text = std::fs::read(file).map_err(|error| {
                anyhow::anyhow!(
                    "{given_as} {shown}: cannot read: {}",
                    paths::io_reason(&error)
                )
            })?;
            let json: serde_json::Value = serde_json::from_slice(&text)
                .with_context(|| format!("{shown}: {given_as}: not JSON"))?;
            let Some(answer) = json.get("Job").filter(|job| job.is_object()) else {
                bail!("{shown}: {given_as}: no `Job` object at the top ({SHAPE})");
            };
            if answer
                .pointer("/Command/Name")
                .and_then(serde_json::Value::as_str)
                .is_none_or(str::is_empty)
            {
                bail!("{shown}: {given_as}: Job.Command.Name is missing ({SHAPE})");
            }
            let job = policy::facts_from_glue_job(&json).map_err(|ignored| {
                anyhow::anyhow!("{shown}: {given_as}: {} ({SHAPE})", ignored.reason)
            })?;
            let name = job.job_name.clone();
            if jobs.insert(name.clone(), (shown.clone(), job)).is_some() {
                bail!(
                    "{shown}: {given_as}: a job named {} was already given",
                    policy::quoted(&name)
                );
            }
        }
        Ok(JobFiles {
            jobs,
            used: Default::default(),
        })
    }

    /// The definition of job `name`, when one was given.
    fn peek(&self, name: &str) -> Option<&JobFacts> {
        self.jobs.get(name).map(|(_, job)| job)
    }

    /// A run of job `name` was judged (over whichever definition).
    fn mark_run(&self, name: &str) {
        self.used.borrow_mut().insert(name.to_string());
    }

    /// The files of a job no run of the input is of (`--job` naming the wrong job, or a run the
    /// input does not hold), each with its job's name.
    pub fn unused(&self) -> Vec<(&str, &str)> {
        let used = self.used.borrow();
        self.jobs
            .iter()
            .filter(|(name, _)| !used.contains(*name))
            .map(|(name, (file, _))| (file.as_str(), name.as_str()))
            .collect()
    }

    /// The definitions, by name.
    pub fn into_map(self) -> BTreeMap<String, JobFacts> {
        self.jobs
            .into_iter()
            .map(|(name, (_, job))| (name, job))
            .collect()
    }

    /// Each job given, with the file it came from: `(file, name)`.
    pub fn files(&self) -> Vec<(String, String)> {
        self.jobs
            .iter()
            .map(|(name, (file, _))| (file.clone(), name.clone()))
            .collect()
    }
}

/// What the command line gives besides the input: usage profiles and job definitions.
#[derive(Debug, Default)]
pub struct Given {
    pub profiles: ProfileFiles,
    pub jobs: JobFiles,
    /// The instant Glue's answers are judged at (Unix seconds), as the sweep judges what it
    /// finds; `None`: not known (exceptions with `expires` do not apply to them). Records are
    /// judged at their own `eventTime`.
    pub at: Option<policy::time::UnixSeconds>,
}

pub(crate) fn shown(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_string()
    } else {
        paths::shown(path)
    }
}

/// The file (or standard input for `-`), decompressed when it is gzip (by its first bytes, not
/// its name: a trail's `.json.gz` files are gzip streams of the same JSON).
fn open_input(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|error| {
            anyhow::anyhow!("cannot read {}: {}", shown(path), paths::io_reason(&error))
        })?)
    };
    let mut buffered = BufReader::new(raw);
    let head = buffered
        .fill_buf()
        .with_context(|| format!("reading {}", shown(path)))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Judges every record of the file in order, handing each verdict to `each`; returns how many.
/// An item that cannot be read is an `ignored` verdict with the reason; a file that stops being
/// JSON is an error naming the file and where (after the verdicts before it).
pub(crate) fn verdicts_in(
    policy: &Policy,
    given: &Given,
    file: &Path,
    mut each: impl FnMut(Verdict),
) -> anyhow::Result<ItemsRead> {
    let mut input = Watched {
        inner: open_input(file)?,
        content: false,
    };
    // The job definitions written earlier in this input, by job name.
    let mut written: BTreeMap<String, JobFacts> = BTreeMap::new();
    let mut unreadable = 0;
    let (mut glue_answers, mut records_read) = (0, 0);
    let items = records::for_each_item(&mut input, |item| {
        each(match item {
            Item::Record(value) => {
                if is_glue_answer(&value) {
                    glue_answers += 1;
                } else {
                    records_read += 1;
                }
                verdict_for(policy, given, &mut written, &value)
            }
            Item::Unreadable(reason) => {
                unreadable += 1;
                Verdict::ignored(policy::Ignored {
                    reason,
                    session_id: None,
                    principal: None,
                })
            }
        })
    })
    .map_err(|error| anyhow::anyhow!("{}: not readable as JSON at {error}", shown(file)))?;
    Ok(ItemsRead {
        items,
        unreadable,
        empty: !input.content,
        glue_answers,
        records: records_read,
    })
}

/// A reader that notes whether anything but JSON whitespace went through it: an input with no
/// record is an empty list (`{"Records": []}`, `[]`) or nothing at all.
struct Watched<R> {
    inner: R,
    content: bool,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if !self.content {
            self.content = buf[..read]
                .iter()
                .any(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
        }
        Ok(read)
    }
}

/// What [`verdicts_in`] read: its items, and of them those that could not be read as a record
/// (each given an `ignored` verdict with the reason); `empty`: the input held nothing but
/// whitespace (no list, no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ItemsRead {
    pub items: usize,
    pub unreadable: usize,
    pub empty: bool,
    /// Of the items, Glue's answers (a session, job or job run): judged at `Given::at`.
    pub glue_answers: usize,
    /// Of the items, the records read (each judged at its own `eventTime`).
    pub records: usize,
}

/// The one verdict of a file that must hold exactly one record (a policy test's sample).
/// `jobs`: `GetJob` answers its job runs are judged over; `at`: the instant a Glue answer is
/// judged at (`None`: unknown).
pub(crate) fn verdict_for_file(
    policy: &Policy,
    jobs: &[PathBuf],
    file: &Path,
    at: Option<policy::time::UnixSeconds>,
) -> anyhow::Result<Verdict> {
    let given = Given {
        profiles: ProfileFiles::default(),
        jobs: JobFiles::read_given_as(jobs, "job")?,
        at,
    };
    let mut verdicts = Vec::new();
    let read = verdicts_in(policy, &given, file, |verdict| verdicts.push(verdict))?;
    if at.is_some() && read.records == 1 && read.items == 1 {
        bail!(
            "`at` is the instant a Glue answer (a session, job or job run) is judged at, and {} \
             holds a CloudTrail record, which is judged at its own eventTime: leave `at` out, or \
             change the record's eventTime",
            shown(file)
        );
    }
    match verdicts.len() {
        1 => Ok(verdicts.remove(0)),
        n => bail!(
            "{} holds {n} records; a sample must hold exactly one",
            shown(file)
        ),
    }
}

/// A Glue answer, which carries no time of its own: a job (`Job` at the top), a job run
/// (`JobRun`) or a session (`Session`, or a session's own `Id`). Anything else is a record.
fn is_glue_answer(input: &serde_json::Value) -> bool {
    ["Job", "JobRun", "Session", "Id"]
        .iter()
        .any(|key| input.get(key).is_some())
}

/// Judges a JSON input: a Glue job (`Job` at the top) or job run (`JobRun`), a job record
/// (`StartJobRun`, `CreateJob`, `UpdateJob`), a Glue session (`Session` or `Id` at the top) or a
/// `CreateSession` record. `written` holds the job definitions written earlier in the input.
fn verdict_for(
    policy: &Policy,
    given: &Given,
    written: &mut BTreeMap<String, JobFacts>,
    input: &serde_json::Value,
) -> Verdict {
    if input.get("Job").is_some() {
        return match policy::facts_from_glue_job(input) {
            Ok(mut definition) => {
                definition.event_time = given.at;
                policy::evaluate_job(policy, &definition)
            }
            Err(ignored) => Verdict::ignored(ignored),
        };
    }
    if input.get("JobRun").is_some() {
        return match policy::facts_from_glue_job_run(input) {
            Ok(mut run) => {
                run.event_time = given.at;
                given.jobs.mark_run(&run.job_name);
                let definition = written
                    .get(&run.job_name)
                    .or_else(|| given.jobs.peek(&run.job_name));
                let request = JobFacts {
                    job_name: run.job_name.clone(),
                    ..JobFacts::default()
                };
                policy::evaluate_job(policy, &JobFacts::run(definition, &request, Some(&run)))
            }
            Err(ignored) => Verdict::ignored(ignored),
        };
    }
    if policy::is_job_event(input) {
        return match policy::read_job_record(input) {
            Ok(JobRecord::Run(request)) => {
                given.jobs.mark_run(&request.job_name);
                let definition = written
                    .get(&request.job_name)
                    .or_else(|| given.jobs.peek(&request.job_name));
                policy::evaluate_job(policy, &JobFacts::run(definition, &request, None))
            }
            Ok(JobRecord::Definition(definition)) => {
                let definition = if policy::is_update_job(input) {
                    let earlier = written
                        .get(&definition.job_name)
                        .or_else(|| given.jobs.peek(&definition.job_name));
                    definition.updated_after(earlier)
                } else {
                    definition
                };
                let verdict = policy::evaluate_job(policy, &definition);
                written.insert(definition.job_name.clone(), definition);
                verdict
            }
            Err(ignored) => Verdict::ignored(ignored),
        };
    }
    let profiles = &given.profiles;
    let is_glue_session = input.get("Session").is_some() || input.get("Id").is_some();
    let facts = if is_glue_session {
        policy::facts_from_glue_session(input).map(|mut facts| {
            facts.event_time = given.at;
            facts
        })
    } else {
        policy::facts_from_cloudtrail(input)
    };
    match facts {
        Ok(facts) => policy::evaluate(policy, &profiles.apply(facts)),
        Err(ignored) => Verdict::ignored(ignored),
    }
}

/// The verdict for people. Names are quoted, so a stray space shows.
pub fn describe(verdict: &Verdict) -> String {
    let mut out = String::new();
    let quoted_or_dash = |value: &Option<String>| {
        value
            .as_deref()
            .map_or_else(|| "-".to_string(), policy::quoted)
    };
    match (&verdict.job_name, &verdict.session_id) {
        (Some(job), _) => {
            let _ = writeln!(out, "job:       {}", policy::quoted(job));
            match &verdict.job_run_id {
                Some(run) => {
                    let _ = writeln!(out, "run:       {}", policy::quoted(run));
                }
                None => {
                    let _ = writeln!(out, "run:       - (the job's definition)");
                }
            }
        }
        (None, session) => {
            let _ = writeln!(out, "session:   {}", quoted_or_dash(session));
        }
    }
    if let Some(kind) = &verdict.session_type {
        let _ = writeln!(out, "type:      {kind}");
    }
    let _ = writeln!(out, "principal: {}", quoted_or_dash(&verdict.principal));
    if let Some(person) = &verdict.person {
        let _ = writeln!(out, "person:    {person}");
    }
    let _ = writeln!(out, "decision:  {}", verdict.decision.as_str());
    let _ = writeln!(out, "action:    {}", verdict.action.as_str());
    if let Some(name) = &verdict.override_name {
        let _ = writeln!(out, "override:  {}", policy::quoted(name));
    }
    if !verdict.routes.is_empty() {
        let _ = writeln!(out, "routes:    {}", verdict.routes.join(", "));
    }
    if let Some(reason) = &verdict.reason {
        let _ = writeln!(out, "reason:    {reason}");
    }
    for line in findings(verdict) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// What a verdict found besides its decision, a line each, as `describe` and `scan` print them:
/// every violation with its value and limit, the defaults applied, what could not be checked and
/// the notes.
pub fn findings(verdict: &Verdict) -> Vec<String> {
    let violations = verdict
        .violations
        .iter()
        .map(|violation| format!("- {}: {}", violation.rule, violation.message));
    violations
        .chain(
            verdict
                .defaults_applied
                .iter()
                .map(|note| format!("default: {note}")),
        )
        .chain(
            verdict
                .unchecked
                .iter()
                .map(|note| format!("not checked: {note}")),
        )
        .chain(verdict.notes.iter().map(|note| format!("note: {note}")))
        .collect()
}
