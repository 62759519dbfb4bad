//! Jobs in a backtest: the `CreateJob`/`UpdateJob` and `StartJobRun` records a history holds,
//! and each run judged over its job's definition as it stood when the run started: the last
//! definition of that job written before the run in the history, else the definition the caller
//! gives (`--job`: `GetJob` answers; `xtask-aws` asks Glue), else none (what the run leaves out
//! is then `unchecked`, never guessed). Pure: the records are gathered per file
//! ([`JobRecords`]), merged, ordered by time and judged here, once every file is read, because
//! a run's definition may sit in another file.
//!
//! CloudTrail holds no record of a run's end, so the DPU-hours at stake for a run are its DPUs
//! times its whole timeout: an upper bound. A run started under an exception (a job override,
//! an exempt principal) that expires within its timeout is judged as the deployed sweep would
//! find it then (`policy::lapse_job`): a violation from the expiry, if it is one, at stake for
//! the rest of its timeout.

use std::collections::BTreeMap;

use policy::catalogue::{JobCommand, JobDefaults};
use policy::json::Json;
use policy::{Decision, Fact, JobFacts, JobRecord, Policy, Verdict};
use serde::Serialize;

use super::change::{ChangeKind, Fate};
use super::cost::{Cost, Duration, Unknown};
use super::judgement::{Judgement, Names};
use super::time::{UnixSeconds, parse_rfc3339};

/// A job definition written (`CreateJob`, `UpdateJob`), and when.
#[derive(Debug, Clone)]
pub struct JobWrite {
    pub at: Option<UnixSeconds>,
    pub event_id: Option<String>,
    pub definition: JobFacts,
    /// Written before `--since`: it defines the runs in the window, and is itself neither
    /// judged nor counted.
    pub before_window: bool,
    /// An `UpdateJob` (which keeps the job's tags), not a `CreateJob`.
    pub update: bool,
}

/// A job run started (`StartJobRun`), and when.
#[derive(Debug, Clone)]
pub struct JobStart {
    pub at: Option<UnixSeconds>,
    pub event_time: Option<String>,
    pub event_id: Option<String>,
    /// The run's overrides, its id and who started it.
    pub request: JobFacts,
}

/// What the records of one file say of jobs, not yet judged.
#[derive(Debug, Default)]
pub struct JobRecords {
    pub writes: Vec<JobWrite>,
    pub starts: Vec<JobStart>,
}

impl JobRecords {
    /// Takes a successful job record (`policy::read_job_record`); returns false for anything
    /// else.
    pub fn add<J: Json>(&mut self, record: &J) -> bool {
        let inner = match record.get("detail") {
            Some(detail) if detail.is_object() => detail,
            _ => record,
        };
        let text = |key: &str| inner.get(key).and_then(J::as_str);
        let event_time = text("eventTime").map(str::to_string);
        let at = event_time.as_deref().and_then(parse_rfc3339);
        let event_id = text("eventID").map(str::to_string);
        match policy::read_job_record(record) {
            Ok(JobRecord::Definition(definition)) => {
                self.writes.push(JobWrite {
                    at,
                    event_id,
                    definition,
                    before_window: false,
                    update: policy::is_update_job(record),
                });
                true
            }
            Ok(JobRecord::Run(request)) => {
                self.starts.push(JobStart {
                    at,
                    event_time,
                    event_id,
                    request,
                });
                true
            }
            Err(_) => false,
        }
    }

    /// [`add`](Self::add) for a `CreateJob` or `UpdateJob` written before the window: kept to
    /// define the runs in it. Anything else is not taken.
    pub fn add_before_window<J: Json>(&mut self, record: &J) -> bool {
        let before = self.writes.len();
        if !self.add(record) {
            return false;
        }
        match self.writes.get_mut(before) {
            Some(write) => {
                write.before_window = true;
                true
            }
            None => {
                // A run: outside the window, not ours to keep.
                self.starts.pop();
                false
            }
        }
    }

    pub fn merge(&mut self, other: JobRecords) {
        self.writes.extend(other.writes);
        self.starts.extend(other.starts);
    }

    /// The jobs with a run that no definition written before it covers, by name, sorted.
    pub fn without_definition(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .starts
            .iter()
            .filter(|start| {
                !self.writes.iter().any(|write| {
                    write.definition.job_name == start.request.job_name
                        && matches!((write.at, start.at), (Some(w), Some(s)) if w <= s)
                })
            })
            .map(|start| start.request.job_name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// One job run the policy stops, in the report: laid out as a stopped session's row
/// ([`SessionRow`](super::report::SessionRow)), `started` in place of `created`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRunRow {
    pub job_name: String,
    pub job_run_id: String,
    /// `eventTime` of its `StartJobRun` (Glue's `StartedOn`), as written.
    pub started: Option<String>,
    pub principal: Option<String>,
    pub rules: Vec<String>,
    /// The job override whose limits applied.
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    /// Where the run's definition came from: `history` (the last CreateJob/UpdateJob before
    /// it), `GetJob` (given), or `none`.
    pub definition: &'static str,
    /// When the exception that let it run expired, from which the guard would stop it (RFC
    /// 3339); absent for a run stopped at its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_expired_at: Option<String>,
    /// At stake: its DPUs x its whole timeout (from the expiry, for a run stopped then), an
    /// upper bound (CloudTrail holds no run's end), or why it is not known.
    pub cost: Cost,
}

/// A job run a budget may count, as the backtest read it: its holder (DPUs, creator, tags,
/// whether its own boundaries stop it), when it started and its whole timeout. CloudTrail holds
/// no run's end, so a run holds its DPUs for its whole timeout (an upper bound).
#[derive(Debug, Clone, PartialEq)]
pub struct RunHeld {
    pub holder: policy::budgets::Holder,
    /// `eventTime` of its `StartJobRun`, as written, and read.
    pub event_time: Option<String>,
    pub started_at: Option<UnixSeconds>,
    pub principal: Option<String>,
    /// Its timeout in hours, with Glue's documented default when left out; `None` when unknown.
    pub timeout_hours: Option<f64>,
    /// Its decision under the baseline, when there is one (a budget's replay under it).
    pub baseline_decision: Option<Decision>,
    /// Its DPUs under the baseline (its `worker_type_dpu`), as `holder.dpu` under the policy;
    /// `holder.dpu` without a baseline.
    pub baseline_dpu: Option<f64>,
    /// When the guard stops it because the exception that let it run expired, under the
    /// policy and under the baseline (`policy::lapse_job`).
    pub stopped_at: Option<UnixSeconds>,
    pub baseline_stopped_at: Option<UnixSeconds>,
}

/// One job run whose fate differs between the baseline and the policy: laid out as a changed
/// session ([`Change`](super::report::Change)), `started` in place of `created`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRunChange {
    pub job_name: String,
    pub job_run_id: String,
    pub change: ChangeKind,
    /// `eventTime` of its `StartJobRun` (Glue's `StartedOn`), as written.
    pub started: Option<String>,
    pub principal: Option<String>,
    /// Its judgement under the baseline, then under the policy (each side's at the instant
    /// it stops the run: its start, or its exception's expiry).
    pub before: Judgement,
    pub after: Judgement,
    /// Under the policy: when the exception that let it run expired, from which the guard
    /// stops it (RFC 3339); absent when the policy stops it at its start or not at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_expired_at: Option<String>,
    /// The same under the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_exception_expired_at: Option<String>,
    /// At stake on the side that stops it (the baseline's for one no longer stopped, the
    /// policy's for one stopped under both), as [`JobRunRow::cost`].
    pub cost: Cost,
    /// For one stopped under both: what is at stake under the baseline, beside `cost`, the
    /// policy's (as a changed session's). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_cost: Option<Cost>,
}

/// The runs and definitions of one job, in the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobTotals {
    pub runs: u64,
    /// Runs the policy stops.
    pub violations: u64,
    /// DPU-hours of the stopped runs (each an upper bound: DPUs x its whole timeout).
    pub dpu_hours: f64,
    /// Stopped runs whose DPUs or timeout are not known (not in `dpu_hours`).
    pub dpu_hours_unknown: u64,
    /// Definitions written that the policy reports.
    pub definition_violations: u64,
}

/// What a backtest found of jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobsReport {
    /// The policy guards jobs (it has a `jobs` section). Without it the runs are judged for the
    /// baseline, which does: under the policy each is neither stopped, exempt nor compliant.
    pub guarded: bool,
    /// With a baseline: whether it guards jobs (without it, it stops no run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_guarded: Option<bool>,
    /// Job runs judged (successful `StartJobRun` records, each counted once).
    pub runs: u64,
    /// Runs the policy stops (decision `violation`).
    pub violations: u64,
    pub exempt: u64,
    pub compliant: u64,
    /// Runs judged with no definition of their job (neither in the history nor given).
    pub runs_without_definition: u64,
    /// Definitions written (`CreateJob`, `UpdateJob`), and those out of bounds (reported).
    pub definitions: u64,
    pub definition_violations: u64,
    /// Definitions the baseline (`--baseline`) reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_definition_violations: Option<u64>,
    /// Stopped runs by rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Every job with a run or a definition, by name.
    pub by_job: BTreeMap<String, JobTotals>,
    /// DPU-hours of the stopped runs (upper bounds).
    pub dpu_hours: f64,
    /// Stopped runs whose DPUs or timeout are not known (not in `dpu_hours`).
    pub dpu_hours_unknown: u64,
    /// The stopped runs, in start order.
    pub violating: Vec<JobRunRow>,
    /// Runs the baseline (`--baseline`) stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_violations: Option<u64>,
    /// With a baseline: `dpu_hours` of the runs it stops, each from its own instant at its own
    /// DPUs (its `worker_type_dpu`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_dpu_hours: Option<f64>,
    /// With a baseline: `dpu_hours_unknown` of the runs it stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_dpu_hours_unknown: Option<u64>,
    /// With a baseline: each run whose fate differs between it and the policy, in start order
    /// (always in the JSON: empty without a baseline or a change).
    pub changes: Vec<JobRunChange>,
    /// Every run a team budget of the policy may count, for the budgets' replay (not printed:
    /// the budgets say what came of them). Empty when the policy has no budget.
    #[serde(skip)]
    pub held: Vec<RunHeld>,
}

impl JobsReport {
    /// Judges every run over its definition as it stood then, and every definition written.
    /// `given` are the definitions from Glue (`GetJob`) for jobs the history does not define.
    pub fn of(
        records: JobRecords,
        policy: &Policy,
        baseline: Option<&Policy>,
        given: &BTreeMap<String, JobFacts>,
    ) -> JobsReport {
        let JobRecords {
            mut writes,
            mut starts,
        } = records;
        // Time order (records without a time last), then the same record read twice once.
        writes.sort_by(|a, b| {
            (a.at.is_none(), a.at, &a.event_id).cmp(&(b.at.is_none(), b.at, &b.event_id))
        });
        starts.sort_by(|a, b| {
            (a.at.is_none(), a.at, &a.request.job_run_id).cmp(&(
                b.at.is_none(),
                b.at,
                &b.request.job_run_id,
            ))
        });
        writes.dedup_by(|a, b| a.event_id.is_some() && a.event_id == b.event_id && a.at == b.at);
        // Each write as it stood after the one before it (an UpdateJob keeps the tags).
        let mut last: BTreeMap<String, JobFacts> = BTreeMap::new();
        for write in &mut writes {
            let name = write.definition.job_name.clone();
            if write.update {
                let earlier = last.get(&name).or_else(|| given.get(&name));
                write.definition = std::mem::take(&mut write.definition).updated_after(earlier);
            }
            last.insert(name, write.definition.clone());
        }
        starts.dedup_by(|a, b| a.request.job_run_id == b.request.job_run_id && a.at == b.at);

        let mut report = JobsReport {
            guarded: policy.jobs.is_some(),
            baseline_guarded: baseline.map(|b| b.jobs.is_some()),
            ..JobsReport::default()
        };
        for write in writes.iter().filter(|write| !write.before_window) {
            report.definitions += 1;
            let verdict = policy::evaluate_job(policy, &write.definition);
            let totals = report
                .by_job
                .entry(write.definition.job_name.clone())
                .or_default();
            if verdict.decision == Decision::Violation {
                report.definition_violations += 1;
                totals.definition_violations += 1;
            }
            if let Some(baseline) = baseline {
                let reported = policy::evaluate_job(baseline, &write.definition).decision
                    == Decision::Violation;
                *report.baseline_definition_violations.get_or_insert(0) += u64::from(reported);
            }
        }
        if baseline.is_some() {
            report.baseline_definition_violations.get_or_insert(0);
        }
        let mut baseline_violations = 0;
        let mut names = Names::default();
        for start in &starts {
            let name = &start.request.job_name;
            let written = writes.iter().rfind(|write| {
                &write.definition.job_name == name
                    && matches!((write.at, start.at), (Some(written), Some(started)) if written <= started)
            });
            let (definition, source) = match (written, given.get(name)) {
                (Some(write), _) => (Some(&write.definition), "history"),
                (None, Some(job)) => (Some(job), "GetJob"),
                (None, None) => (None, "none"),
            };
            if definition.is_none() {
                report.runs_without_definition += 1;
            }
            let facts = JobFacts::run(definition, &start.request, None);
            let at_start = policy::evaluate_job(policy, &facts);
            let judged = Judged::of(policy, start, &facts, at_start.clone());
            let verdict = &judged.verdict;
            let mut baseline_decision = None;
            let mut baseline_stopped_at = None;
            let mut baseline_dpu = None;
            if let Some(baseline) = baseline {
                let before_start = policy::evaluate_job(baseline, &facts);
                baseline_decision = Some(before_start.decision);
                baseline_dpu = Some(dpu_and_hours(baseline, &facts, &before_start).0);
                let before = Judged::of(baseline, start, &facts, before_start);
                baseline_stopped_at = before.expired_at;
                let stops = |verdict: &Verdict| verdict.decision == Decision::Violation;
                if stops(&before.verdict) {
                    baseline_violations += 1;
                    let at_stake = before.cost(baseline, &facts).dpu_hours;
                    match at_stake {
                        Some(hours) => *report.baseline_dpu_hours.get_or_insert(0.0) += hours,
                        None => *report.baseline_dpu_hours_unknown.get_or_insert(0) += 1,
                    }
                }
                // The instants compared only where both sides know the run's timeout: with it
                // unknown, each side takes any later expiry, and a renewed exception would list
                // every such run.
                let instants = judged.timeout_known && before.timeout_known;
                let fate = |judged: &'_ Judged, rules| Fate {
                    stops: stops(&judged.verdict),
                    rules,
                    stopped_from: judged.expired_at.filter(|_| instants),
                };
                let (before_rules, after_rules) = (before.verdict.rules(), verdict.rules());
                if let Some(change) = ChangeKind::between(
                    fate(&before, &before_rules[..]),
                    fate(&judged, &after_rules[..]),
                ) {
                    // On the side that stops it: the baseline's, for one no longer stopped.
                    let (side, side_policy) = match change {
                        ChangeKind::NoLongerViolating => (&before, baseline),
                        _ => (&judged, policy),
                    };
                    report.changes.push(JobRunChange {
                        job_name: name.clone(),
                        job_run_id: start.request.job_run_id.clone().unwrap_or_default(),
                        change,
                        started: start.event_time.clone(),
                        principal: verdict.principal.clone(),
                        before: Judgement::of(&before.verdict, &mut names),
                        after: Judgement::of(verdict, &mut names),
                        exception_expired_at: judged.expired_at.map(super::time::format_rfc3339),
                        baseline_exception_expired_at: before
                            .expired_at
                            .map(super::time::format_rfc3339),
                        cost: side.cost(side_policy, &facts),
                        baseline_cost: change
                            .stopped_under_both()
                            .then(|| before.cost(baseline, &facts)),
                    });
                }
            }
            if !policy.budgets.is_empty() || baseline.is_some_and(|b| !b.budgets.is_empty()) {
                // As it started: whether its own boundaries stop it then.
                let mut held = run_held(policy, start, &facts, &at_start);
                held.baseline_decision = baseline_decision;
                if let Some(dpu) = baseline_dpu {
                    held.baseline_dpu = dpu;
                }
                held.stopped_at = judged.expired_at;
                held.baseline_stopped_at = baseline_stopped_at;
                report.held.push(held);
            }
            report.runs += 1;
            let totals = report.by_job.entry(name.clone()).or_default();
            totals.runs += 1;
            match verdict.decision {
                Decision::Violation => {
                    report.violations += 1;
                    totals.violations += 1;
                    let cost = judged.cost(policy, &facts);
                    match cost.dpu_hours {
                        Some(hours) => {
                            totals.dpu_hours += hours;
                            report.dpu_hours += hours;
                        }
                        None => {
                            totals.dpu_hours_unknown += 1;
                            report.dpu_hours_unknown += 1;
                        }
                    }
                    for rule in verdict.rules() {
                        *report.by_rule.entry(rule.to_string()).or_default() += 1;
                    }
                    let mut row = row(start, verdict, source, cost);
                    row.exception_expired_at = judged.expired_at.map(super::time::format_rfc3339);
                    report.violating.push(row);
                }
                Decision::Exempt => report.exempt += 1,
                Decision::Compliant => report.compliant += 1,
                Decision::Ignored => {}
            }
        }
        if baseline.is_some() {
            report.baseline_violations = Some(baseline_violations);
            report.baseline_dpu_hours.get_or_insert(0.0);
            report.baseline_dpu_hours_unknown.get_or_insert(0);
        }
        report
    }

    /// How many runs changed fate against the baseline in this way.
    pub fn changes_of(&self, kind: ChangeKind) -> u64 {
        self.changes.iter().filter(|c| c.change == kind).count() as u64
    }

    /// Whether the policy would act on anything: a run stopped or a definition reported.
    pub fn acts(&self) -> bool {
        self.violations > 0 || self.definition_violations > 0
    }
}

fn row(start: &JobStart, verdict: &Verdict, definition: &'static str, cost: Cost) -> JobRunRow {
    JobRunRow {
        job_name: start.request.job_name.clone(),
        job_run_id: start.request.job_run_id.clone().unwrap_or_default(),
        started: start.event_time.clone(),
        principal: verdict.principal.clone(),
        rules: verdict.rules().into_iter().map(str::to_string).collect(),
        override_name: verdict.override_name.clone(),
        definition,
        exception_expired_at: None,
        cost,
    }
}

/// A run as the guard would judge it: its verdict at its start, or, when an exception that
/// let it run expires within its timeout and it is a violation from then
/// (`policy::lapse_job`), that verdict and the expiry.
struct Judged {
    verdict: Verdict,
    expired_at: Option<UnixSeconds>,
    started_at: Option<UnixSeconds>,
    /// Its timeout is known: the last instant it may run is, and so whether it ran at an
    /// expiry (without it, any later expiry is taken).
    timeout_known: bool,
}

impl Judged {
    fn of(policy: &Policy, start: &JobStart, facts: &JobFacts, at_start: Verdict) -> Judged {
        // Glue ends every run by its timeout; when the timeout is not known, any later expiry
        // (its DPU-hours are then unknown too).
        let (_, hours) = dpu_and_hours(policy, facts, &at_start);
        let until = hours.map_or(UnixSeconds::MAX, |hours| {
            start
                .at
                .unwrap_or_default()
                .saturating_add((hours * 3600.0).ceil() as UnixSeconds)
        });
        let timeout_known = hours.is_some();
        match policy::lapse_job(policy, facts, &at_start, until) {
            Some((expired_at, later)) => Judged {
                verdict: later,
                expired_at: Some(expired_at),
                started_at: start.at,
                timeout_known,
            },
            None => Judged {
                verdict: at_start,
                expired_at: None,
                started_at: start.at,
                timeout_known,
            },
        }
    }

    /// What is at stake: the run's DPUs times its whole timeout, in hours (from the expiry,
    /// when it is stopped then), with Glue's documented job defaults for what the run and its
    /// definition leave out ([`run_size`]), an upper bound; or why either is not known.
    fn cost(&self, policy: &Policy, facts: &JobFacts) -> Cost {
        let (dpus, hours) = run_size(policy, facts, &self.verdict);
        let before = self
            .expired_at
            .zip(self.started_at)
            .map_or(0.0, |(expired, started)| {
                (expired - started) as f64 / 3600.0
            });
        let unknown = match (&dpus, &hours) {
            (Err(why), _) => Some(Unknown::Dpus(why.as_str().into())),
            (Ok(_), Err(why)) => Some(Unknown::Duration(why.as_str().into())),
            _ => None,
        };
        let dpus = dpus.ok();
        let hours = hours.ok().map(|hours| (hours - before).max(0.0));
        Cost {
            dpus,
            hours,
            duration: match hours {
                Some(_) => Duration::UpperBound,
                None => Duration::Unknown,
            },
            dpu_hours: dpus.zip(hours).map(|(d, h)| d * h),
            unknown,
        }
    }
}

/// A run as a budget's replay counts it: from its `StartJobRun` for its whole timeout (the
/// history holds no end), with the DPUs [`dpu_and_hours`] finds.
fn run_held(policy: &Policy, start: &JobStart, facts: &JobFacts, verdict: &Verdict) -> RunHeld {
    let (dpu, hours) = dpu_and_hours(policy, facts, verdict);
    let mut holder = policy::budgets::Holder::from_verdict(
        policy::budgets::HolderKind::JobRun,
        policy::budgets::job_run_id(
            &facts.job_name,
            facts.job_run_id.as_deref().unwrap_or_default(),
        ),
        start.at.map_or(0, |at| at * 1000),
        verdict,
        facts.principal.clone(),
        policy::budgets::known_tags(&facts.tags),
    );
    // With Glue's documented defaults for what the run and its definition leave out, as the
    // run's DPU-hours are counted.
    holder.dpu = holder.dpu.or(dpu);
    RunHeld {
        event_time: start.event_time.clone(),
        started_at: start.at,
        principal: verdict.principal.clone(),
        timeout_hours: hours,
        baseline_dpu: holder.dpu,
        holder,
        baseline_decision: None,
        stopped_at: None,
        baseline_stopped_at: None,
    }
}

/// [`run_size`], each figure `None` when not known.
pub fn dpu_and_hours(
    policy: &Policy,
    facts: &JobFacts,
    verdict: &Verdict,
) -> (Option<f64>, Option<f64>) {
    let (dpus, hours) = run_size(policy, facts, verdict);
    (dpus.ok(), hours.ok())
}

/// The run's DPUs and its whole timeout in hours, each with Glue's documented job defaults for
/// what the run and its definition leave out, or why it is not known (a sentence, as a
/// session's cost gives it). The DPUs are the ones `verdict` (the run's, from
/// `policy::evaluate_job`) judged, so that the cost and the limits read one size: workers x
/// worker type before `MaxCapacity` (`GetJob` reports both for a job with workers, and a run's
/// workers override its definition's capacity).
pub fn run_size(
    policy: &Policy,
    facts: &JobFacts,
    verdict: &Verdict,
) -> (Result<f64, String>, Result<f64, String>) {
    // Glue's defaults by the job's command and version; none when the command is not known
    // (no definition read) or not one Glue documents: then only what is given counts.
    let defaults = facts
        .command
        .given()
        .and_then(|name| JobCommand::from_name(name))
        .map(|command| {
            command.documented_job_defaults(facts.glue_version.given().map(String::as_str))
        })
        .unwrap_or_default();
    (
        verdict
            .dpu
            .map_or_else(|| dpus(policy, facts, &defaults), Ok),
        timeout_hours(facts, &defaults),
    )
}

/// A figure of the run as the run and its definition give it, else Glue's documented default
/// (`default`, only where no usage profile may supply it), or why it is not known.
fn given_or_default<T: Clone>(
    fact: &Fact<T>,
    default: Option<T>,
    no_profile: bool,
    what: &str,
) -> Result<T, String> {
    match fact {
        Fact::Given(value) => Ok(value.clone()),
        Fact::Omitted if no_profile => {
            default.ok_or_else(|| format!("{what} left out, and Glue documents no default for it"))
        }
        Fact::Omitted => Err(format!(
            "{what} left out, and a usage profile may supply it"
        )),
        Fact::Unknown => Err(format!(
            "{what} not known: neither the run nor a definition of its job read gives it"
        )),
    }
}

fn dpus(policy: &Policy, facts: &JobFacts, defaults: &JobDefaults) -> Result<f64, String> {
    let no_profile = facts.profile_name == Fact::Omitted;
    let size_left_out = facts.number_of_workers == Fact::Omitted
        && facts.worker_type == Fact::Omitted
        && facts.max_capacity == Fact::Omitted;
    let sized_by_workers = matches!(facts.number_of_workers, Fact::Given(_))
        || matches!(facts.worker_type, Fact::Given(_));
    match (&facts.max_capacity, size_left_out, defaults.max_capacity) {
        (Fact::Given(capacity), _, _) if !sized_by_workers => Ok(*capacity),
        (_, true, Some(capacity)) if no_profile => Ok(capacity),
        _ => {
            let workers = given_or_default(
                &facts.number_of_workers,
                defaults.number_of_workers,
                no_profile,
                "NumberOfWorkers",
            )?;
            let worker_type = given_or_default(
                &facts.worker_type,
                defaults.worker_type.map(str::to_string),
                no_profile,
                "WorkerType",
            )?;
            let per_worker = policy.dpu_per_worker(&worker_type).ok_or_else(|| {
                format!(
                    "worker type {} has no known DPU figure",
                    policy::quoted(&worker_type)
                )
            })?;
            Ok(workers as f64 * per_worker)
        }
    }
}

fn timeout_hours(facts: &JobFacts, defaults: &JobDefaults) -> Result<f64, String> {
    let timeout = given_or_default(
        &facts.timeout_minutes,
        defaults.timeout_minutes,
        facts.profile_name == Fact::Omitted,
        "Timeout",
    )?;
    Ok(timeout as f64 / 60.0)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn policy(text: &str) -> Policy {
        policy::load_policy("p.yaml", text.as_bytes()).unwrap()
    }

    const POLICY: &str = "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
                          jobs:\n  boundaries: {max_workers: 20}\n";

    fn record(name: &str, at: &str, request: Value, response: Value) -> Value {
        json!({"eventSource": "glue.amazonaws.com", "eventName": name, "eventTime": at,
               "eventID": format!("{name}-{at}"),
               "userIdentity": {"arn": "arn:aws:iam::123456789012:user/carol"},
               "requestParameters": request, "responseElements": response})
    }

    fn define(at: &str, workers: u32) -> Value {
        record(
            "CreateJob",
            at,
            json!({"name": "load", "command": {"name": "glueetl"}, "glueVersion": "4.0",
                   "workerType": "G.2X", "numberOfWorkers": workers, "timeout": 120}),
            json!({"name": "load"}),
        )
    }

    fn start(at: &str, id: &str) -> Value {
        record(
            "StartJobRun",
            at,
            json!({"jobName": "load"}),
            json!({"jobRunId": id}),
        )
    }

    /// Runs take the definition written last before them, whatever file it came from and in
    /// whatever order the files were read; the DPU-hours at stake are DPUs x the whole timeout.
    #[test]
    fn each_run_is_judged_over_the_definition_of_its_time() {
        let policy = policy(POLICY);
        let mut later = JobRecords::default();
        assert!(later.add(&start("2026-11-02T10:00:00Z", "jr_2")));
        assert!(later.add(&define("2026-11-01T12:00:00Z", 40)));
        let mut earlier = JobRecords::default();
        assert!(earlier.add(&define("2026-11-01T08:00:00Z", 10)));
        assert!(earlier.add(&start("2026-11-01T09:00:00Z", "jr_1")));
        assert!(!earlier.add(&json!({"eventSource": "glue.amazonaws.com", "eventName": "GetJob"})));
        later.merge(earlier);

        let report = JobsReport::of(later, &policy, None, &BTreeMap::new());
        assert_eq!(
            (report.runs, report.violations, report.compliant),
            (2, 1, 1)
        );
        assert_eq!((report.definitions, report.definition_violations), (2, 1));
        assert_eq!(report.violating.len(), 1);
        let stopped = &report.violating[0];
        assert_eq!(
            (stopped.job_run_id.as_str(), stopped.definition),
            ("jr_2", "history")
        );
        assert_eq!(stopped.rules, ["max_workers"]);
        // 40 x G.2X = 80 DPUs for 2 hours.
        assert_eq!(stopped.cost.dpu_hours, Some(160.0));
        assert_eq!(report.by_job["load"].dpu_hours, 160.0);
        assert_eq!(report.by_job["load"].definition_violations, 1);
    }

    #[test]
    fn a_run_before_any_definition_takes_the_given_one_else_none() {
        let policy = policy(POLICY);
        let mut records = JobRecords::default();
        records.add(&start("2026-11-01T09:00:00Z", "jr_1"));
        let report = JobsReport::of(records, &policy, None, &BTreeMap::new());
        assert_eq!(
            (
                report.runs,
                report.runs_without_definition,
                report.violations
            ),
            (1, 1, 0)
        );

        let mut records = JobRecords::default();
        records.add(&start("2026-11-01T09:00:00Z", "jr_1"));
        let given = policy::facts_from_glue_job(&json!({"Job": {
            "Name": "load", "Command": {"Name": "glueetl"}, "GlueVersion": "5.0",
            "WorkerType": "G.1X", "NumberOfWorkers": 30}}))
        .unwrap();
        let report = JobsReport::of(
            records,
            &policy,
            None,
            &BTreeMap::from([("load".to_string(), given)]),
        );
        assert_eq!(report.violations, 1);
        assert_eq!(report.violating[0].definition, "GetJob");
        // 30 x G.1X for Glue 5.0's default 480 minutes.
        assert_eq!(report.violating[0].cost.dpu_hours, Some(240.0));
    }

    /// Why a run's DPUs or timeout are not known is said, as a session's are: no definition
    /// read (what the run gives still counts), a worker type without a DPU figure, a usage
    /// profile that may supply what the definition leaves out.
    #[test]
    fn why_a_runs_size_is_not_known_is_said() {
        let policy = policy(POLICY);
        let size = |job: Option<Value>, run: Value| {
            let job = job.map(|job| policy::facts_from_glue_job(&json!({ "Job": job })).unwrap());
            let Ok(JobRecord::Run(request)) = policy::read_job_record(&record(
                "StartJobRun",
                "2026-11-01T09:00:00Z",
                run,
                json!({"jobRunId": "jr_1"}),
            )) else {
                panic!("a run");
            };
            let facts = JobFacts::run(job.as_ref(), &request, None);
            let verdict = policy::evaluate_job(&policy, &facts);
            run_size(&policy, &facts, &verdict)
        };
        let why = |job: Option<Value>| {
            let (dpus, hours) = size(job, json!({"jobName": "load"}));
            (dpus.err(), hours.err())
        };
        // No definition read: what the run leaves out is not known, and said so.
        let not_known = |what: &str| {
            format!("{what} not known: neither the run nor a definition of its job read gives it")
        };
        assert_eq!(
            why(None),
            (
                Some(not_known("NumberOfWorkers")),
                Some(not_known("Timeout"))
            )
        );
        // What the run gives counts without a definition: 5 x G.2X for its own 90 minutes.
        let (dpus, hours) = size(
            None,
            json!({"jobName": "load", "workerType": "G.2X", "numberOfWorkers": 5, "timeout": 90}),
        );
        assert_eq!((dpus, hours), (Ok(10.0), Ok(1.5)));
        assert_eq!(
            why(Some(json!({"Name": "load", "Command": {"Name": "glueetl"},
                            "GlueVersion": "4.0", "WorkerType": "Quantum", "NumberOfWorkers": 5}))),
            (
                Some("worker type \"Quantum\" has no known DPU figure".to_string()),
                None
            )
        );
        assert_eq!(
            why(Some(json!({"Name": "load", "Command": {"Name": "glueetl"},
                            "GlueVersion": "4.0", "ProfileName": "analysts"}))),
            (
                Some("NumberOfWorkers left out, and a usage profile may supply it".to_string()),
                Some("Timeout left out, and a usage profile may supply it".to_string())
            )
        );
    }

    /// `GetJob` reports `MaxCapacity` beside the workers of a job sized by workers; a run that
    /// overrides the workers costs its own workers x worker type (the size `evaluate_job`
    /// judges), never the definition's capacity.
    #[test]
    fn a_runs_workers_over_the_definitions_capacity_are_what_it_costs() {
        let policy = policy(POLICY);
        let mut records = JobRecords::default();
        records.add(&record(
            "StartJobRun",
            "2026-11-01T09:00:00Z",
            json!({"jobName": "load", "workerType": "G.8X", "numberOfWorkers": 100}),
            json!({"jobRunId": "jr_1"}),
        ));
        let given = policy::facts_from_glue_job(&json!({"Job": {
            "Name": "load", "Command": {"Name": "glueetl"}, "GlueVersion": "5.0",
            "MaxCapacity": 20.0, "WorkerType": "G.2X", "NumberOfWorkers": 10, "Timeout": 240}}))
        .unwrap();
        let report = JobsReport::of(
            records,
            &policy,
            None,
            &BTreeMap::from([("load".to_string(), given)]),
        );
        assert_eq!(report.violating.len(), 1);
        // 100 x G.8X = 800 DPUs for the definition's 4 hours, not 20 DPUs.
        assert_eq!(report.violating[0].cost.dpu_hours, Some(3200.0));
        assert_eq!(report.dpu_hours, 3200.0);
    }

    /// `UpdateJob` cannot change a job's tags: the definition it writes keeps those of the
    /// `CreateJob` before it, so a run after an update is still judged on them.
    #[test]
    fn an_update_keeps_the_tags_the_job_was_created_with() {
        let policy = policy(
            "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
             jobs:\n  boundaries: {required_tags: [owner]}\n",
        );
        let create = |tags: Value| {
            record(
                "CreateJob",
                "2026-11-01T08:00:00Z",
                json!({"name": "load", "command": {"name": "glueetl"}, "glueVersion": "5.0",
                       "workerType": "G.1X", "numberOfWorkers": 2, "tags": tags}),
                json!({"name": "load"}),
            )
        };
        let update = record(
            "UpdateJob",
            "2026-11-01T09:00:00Z",
            json!({"jobName": "load", "jobUpdate": {"command": {"name": "glueetl"},
                   "glueVersion": "5.0", "workerType": "G.1X", "numberOfWorkers": 3}}),
            json!({"jobName": "load"}),
        );
        // A CreateJob whose tags cannot be read keeps them unknown (the check is unchecked),
        // never an earlier job's, which would stop the run on a guess.
        let mut records = JobRecords::default();
        records.add(&create(json!({"team": "a"})));
        let mut recreated = create(json!(["owner"]));
        recreated["eventTime"] = json!("2026-11-01T09:30:00Z");
        recreated["eventID"] = json!("recreated");
        records.add(&recreated);
        records.add(&start("2026-11-01T10:00:00Z", "jr_1"));
        let report = JobsReport::of(records, &policy, None, &BTreeMap::new());
        assert_eq!((report.violations, report.compliant), (0, 1));
        assert!(report.violating.is_empty());
        for (tags, stopped) in [(json!({"team": "a"}), 1), (json!({"owner": "ann"}), 0)] {
            let mut records = JobRecords::default();
            records.add(&create(tags.clone()));
            records.add(&update);
            records.add(&start("2026-11-01T10:00:00Z", "jr_1"));
            let report = JobsReport::of(records, &policy, None, &BTreeMap::new());
            assert_eq!(report.violations, stopped, "created with {tags}");
            // The update is judged with the tags too: reported when they lack the owner.
            assert_eq!(
                report.definition_violations,
                2 * stopped,
                "created with {tags}"
            );
        }
    }

    /// Against a baseline, each run whose fate changes is listed with the rules before and
    /// after: newly stopped when the policy tightens, no longer stopped when it loosens, and a
    /// run stopped by both for the same rules is no change.
    #[test]
    fn runs_whose_fate_the_baseline_changes_are_listed() {
        let policy = policy(POLICY);
        let records = || {
            let mut records = JobRecords::default();
            records.add(&define("2026-11-01T08:00:00Z", 10));
            records.add(&start("2026-11-01T09:00:00Z", "jr_1"));
            records.add(&define("2026-11-01T10:00:00Z", 40));
            records.add(&start("2026-11-01T11:00:00Z", "jr_2"));
            records
        };
        let looser = policy_with_jobs(50);
        let report = JobsReport::of(records(), &policy, Some(&looser), &BTreeMap::new());
        assert_eq!(report.baseline_violations, Some(0));
        // The definitions too: the 40-worker one is out of the policy's bounds, not the
        // baseline's.
        assert_eq!(report.definition_violations, 1);
        assert_eq!(report.baseline_definition_violations, Some(0));
        let changes: Vec<_> = report
            .changes
            .iter()
            .map(|c| {
                let side = |j: &Judgement| {
                    (
                        j.decision,
                        j.rules.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    )
                };
                (
                    c.job_run_id.as_str(),
                    c.change,
                    side(&c.before),
                    side(&c.after),
                )
            })
            .collect();
        assert_eq!(
            changes,
            [(
                "jr_2",
                ChangeKind::NewlyViolating,
                (Decision::Compliant, Vec::<String>::new()),
                (Decision::Violation, vec!["max_workers".to_string()])
            )]
        );
        // 40 x G.2X for the definition's 120 minutes, the whole timeout: an upper bound.
        let cost = &report.changes[0].cost;
        assert_eq!(
            (cost.dpus, cost.hours, cost.dpu_hours, cost.duration),
            (Some(80.0), Some(2.0), Some(160.0), Duration::UpperBound)
        );

        let tighter = policy_with_jobs(5);
        let report = JobsReport::of(records(), &policy, Some(&tighter), &BTreeMap::new());
        assert_eq!(report.baseline_violations, Some(2));
        assert_eq!(report.baseline_definition_violations, Some(2));
        // What the baseline stops is priced as the policy's: 10 then 40 x G.2X for 2 hours.
        assert_eq!(
            (report.baseline_dpu_hours, report.baseline_dpu_hours_unknown),
            (Some(40.0 + 160.0), Some(0))
        );
        assert_eq!((report.dpu_hours, report.violations), (160.0, 1));
        let changes: Vec<(&str, ChangeKind)> = report
            .changes
            .iter()
            .map(|c| (c.job_run_id.as_str(), c.change))
            .collect();
        assert_eq!(changes, [("jr_1", ChangeKind::NoLongerViolating)]);

        // Without a baseline, nothing is compared.
        let report = JobsReport::of(records(), &policy, None, &BTreeMap::new());
        assert!(report.changes.is_empty() && report.baseline_violations.is_none());
        assert_eq!(report.baseline_definition_violations, None);
        assert_eq!(report.baseline_dpu_hours, None);
    }

    /// A run started under a job override that expires within its timeout is judged as the
    /// sweep finds it then: a violation from the expiry, at stake for the rest of its timeout;
    /// one started after the expiry is stopped at its start; against the same override without
    /// an expiry, the run is newly stopped, priced from the expiry.
    #[test]
    fn a_run_whose_job_override_expires_within_its_timeout_is_stopped_from_the_expiry() {
        let with_override = |expires: &str| {
            policy(&format!(
                "{POLICY}  overrides:\n    - name: big-load\n      job_names: [load]\n      \
                 boundaries: {{max_workers: 50}}\n{expires}"
            ))
        };
        let expiring = with_override("      expires: 2026-11-01T10:00:00Z\n");
        let lasting = with_override("");
        let records = || {
            let mut records = JobRecords::default();
            assert!(records.add(&define("2026-11-01T08:00:00Z", 40)));
            // 40 x G.2X = 80 DPUs, a 120-minute timeout: 09:30 to 11:30 at most.
            assert!(records.add(&start("2026-11-01T09:30:00Z", "jr_1")));
            assert!(records.add(&start("2026-11-01T10:30:00Z", "jr_2")));
            records
        };
        let report = JobsReport::of(records(), &expiring, None, &BTreeMap::new());
        assert_eq!((report.runs, report.violations), (2, 2));
        let first = &report.violating[0];
        assert_eq!(first.job_run_id, "jr_1");
        assert_eq!(first.rules, ["max_workers"]);
        assert_eq!(
            first.exception_expired_at.as_deref(),
            Some("2026-11-01T10:00:00Z")
        );
        // 80 DPUs for the 90 minutes of its timeout left at 10:00.
        assert_eq!(first.cost.dpu_hours, Some(120.0));
        let second = &report.violating[1];
        assert_eq!(second.exception_expired_at, None);
        assert_eq!(second.cost.dpu_hours, Some(160.0));

        let report = JobsReport::of(records(), &expiring, Some(&lasting), &BTreeMap::new());
        assert_eq!(report.baseline_violations, Some(0));
        let first = &report.changes[0];
        assert_eq!(
            (first.job_run_id.as_str(), first.change),
            ("jr_1", ChangeKind::NewlyViolating)
        );
        assert_eq!(first.cost.dpu_hours, Some(120.0));
        // The other way round: priced on the baseline's side, from its expiry.
        let report = JobsReport::of(records(), &lasting, Some(&expiring), &BTreeMap::new());
        let first = &report.changes[0];
        assert_eq!(first.change, ChangeKind::NoLongerViolating);
        assert_eq!(first.exception_expired_at, None);
        assert_eq!(
            first.baseline_exception_expired_at.as_deref(),
            Some("2026-11-01T10:00:00Z")
        );
        assert_eq!(first.cost.dpu_hours, Some(120.0));
        assert_eq!(first.baseline_cost, None, "stopped under one side only");
        // Against the override expiring at 09:45 instead: stopped under both for the same
        // rule, from another instant; priced on the policy's side, from its own expiry.
        let earlier = with_override("      expires: 2026-11-01T09:45:00Z\n");
        let report = JobsReport::of(records(), &expiring, Some(&earlier), &BTreeMap::new());
        assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
        let first = &report.changes[0];
        assert_eq!(
            (first.job_run_id.as_str(), first.change),
            ("jr_1", ChangeKind::StoppedAtAnotherTime)
        );
        assert_eq!(
            first.exception_expired_at.as_deref(),
            Some("2026-11-01T10:00:00Z")
        );
        assert_eq!(
            first.baseline_exception_expired_at.as_deref(),
            Some("2026-11-01T09:45:00Z")
        );
        assert_eq!(first.cost.dpu_hours, Some(120.0));
        // The baseline's beside it: 80 DPUs from 09:45 to the end of the timeout at 11:30.
        assert_eq!(
            first.baseline_cost.as_ref().and_then(|cost| cost.dpu_hours),
            Some(140.0)
        );
        // Without the override, the baseline stops it at its start.
        let report = JobsReport::of(
            records(),
            &expiring,
            Some(&policy(POLICY)),
            &BTreeMap::new(),
        );
        let first = &report.changes[0];
        assert_eq!(first.change, ChangeKind::StoppedAtAnotherTime);
        assert_eq!(first.baseline_exception_expired_at, None);
        assert_eq!(
            first.baseline_cost.as_ref().and_then(|cost| cost.dpu_hours),
            Some(160.0)
        );

        // An expiry as Glue ends the run (09:30 + 120 minutes) changes nothing; with the
        // timeout unknown (a definition without one, read from CloudTrail), any later expiry
        // stops it, its DPU-hours unknown.
        let at_the_end = with_override("      expires: 2026-11-01T11:30:00Z\n");
        let report = JobsReport::of(records(), &at_the_end, None, &BTreeMap::new());
        assert_eq!(
            report
                .violating
                .iter()
                .map(|row| row.job_run_id.as_str())
                .collect::<Vec<_>>(),
            ["jr_2"],
            "jr_1 ends as the override does"
        );
        let unknown = || {
            let mut unknown = JobRecords::default();
            let mut no_timeout = define("2026-11-01T08:00:00Z", 40);
            no_timeout["requestParameters"]
                .as_object_mut()
                .unwrap()
                .remove("timeout");
            assert!(unknown.add(&no_timeout));
            assert!(unknown.add(&start("2026-11-01T09:30:00Z", "jr_1")));
            unknown
        };
        let report = JobsReport::of(unknown(), &expiring, None, &BTreeMap::new());
        assert_eq!(report.violations, 1);
        let row = &report.violating[0];
        assert_eq!(
            row.exception_expired_at.as_deref(),
            Some("2026-11-01T10:00:00Z")
        );
        assert_eq!(row.cost.dpu_hours, None);
        assert_eq!(row.cost.duration, Duration::Unknown);
        assert_eq!(
            row.cost
                .unknown
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(
                "no end in the history, and the timeout is unknown: Timeout left out, and a \
                 usage profile may supply it"
            ),
            "{row:?}"
        );
        assert_eq!(report.dpu_hours_unknown, 1);
        // Whether it still ran at either expiry is not known: an expiry moved is no change for
        // it (each side takes any later expiry), where the same run with its timeout is one.
        let report = JobsReport::of(unknown(), &expiring, Some(&earlier), &BTreeMap::new());
        assert!(report.changes.is_empty(), "{:?}", report.changes);
        let report = JobsReport::of(records(), &expiring, Some(&earlier), &BTreeMap::new());
        assert_eq!(report.changes[0].change, ChangeKind::StoppedAtAnotherTime);
    }

    fn policy_with_jobs(max_workers: u32) -> Policy {
        policy(&format!(
            "version: 1\nstack: {{name: guard}}\nboundaries: {{max_workers: 10}}\n\
             jobs:\n  boundaries: {{max_workers: {max_workers}}}\n"
        ))
    }
}
