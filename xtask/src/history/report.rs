//! The pure core of a backtest: every file's [`Harvest`] merged into one [`Report`]. Sessions
//! read twice count once, each session's end is found, the cost at stake is counted, and with
//! a baseline the sessions whose fate changed are listed. No I/O: harvests in, report out.

use std::collections::BTreeMap;

use serde::Serialize;

pub use super::change::ChangeKind;
use super::jobs::{JobRecords, JobsReport};
use super::observe::{Harvest, JudgedSession, Judgement, Judges, Name, Rules, SessionEnd};
use super::time::UnixSeconds;

/// What the report says about its inputs (names as shown to people).
#[derive(Debug, Clone)]
pub struct Inputs {
    pub policy: String,
    /// What the policy does with a session out of bounds (`policy::enforcement_action` of a
    /// violation): `stop`, `delete`, or `notify` in audit mode.
    pub action: policy::Action,
    pub history: String,
    /// Where the baseline policy came from (`HEAD~1:policies/default.yaml`, a file).
    pub baseline: Option<String>,
    pub price_per_dpu_hour: f64,
    /// Job definitions from Glue (`GetJob`, `--job`), by name, for runs whose job the history
    /// does not define.
    pub jobs: BTreeMap<String, policy::JobFacts>,
    /// The Athena query the history came from (`backtest --athena`): its scan and cost.
    pub athena: Option<super::athena::AthenaRun>,
}

/// The harvests so far.
#[derive(Debug, Default)]
pub struct Tally {
    files: u64,
    /// Of the files, those that were chunks of an Athena result.
    chunks: u64,
    records: u64,
    unreadable_records: u64,
    create_not_judged: u64,
    /// Each unit's sessions as it gave them, each list without spare capacity: never copied
    /// into one list (which would need room for all of them twice), but read in the report's
    /// order through an index.
    sessions: Vec<Vec<JudgedSession>>,
    ends: Vec<SessionEnd>,
    jobs: JobRecords,
    damaged: Vec<Damaged>,
}

/// A file that could not be read to its end, and why (its records before the damage count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Damaged {
    pub file: String,
    pub reason: String,
}

impl Tally {
    pub fn add(&mut self, harvest: Harvest) {
        self.files += 1;
        self.chunks += u64::from(harvest.chunk);
        self.records += harvest.records;
        self.unreadable_records += harvest.unreadable_records;
        self.create_not_judged += harvest.create_not_judged;
        if !harvest.sessions.is_empty() {
            let mut sessions = harvest.sessions;
            sessions.shrink_to_fit();
            self.sessions.push(sessions);
        }
        self.ends.extend(harvest.ends);
        self.jobs.merge(harvest.jobs);
        if let Some(reason) = harvest.damage {
            self.damaged.push(Damaged {
                file: harvest.file,
                reason,
            });
        }
    }

    pub fn merge(mut self, other: Tally) -> Tally {
        self.files += other.files;
        self.chunks += other.chunks;
        self.records += other.records;
        self.unreadable_records += other.unreadable_records;
        self.create_not_judged += other.create_not_judged;
        self.sessions.extend(other.sessions);
        self.ends.extend(other.ends);
        self.jobs.merge(other.jobs);
        self.damaged.extend(other.damaged);
        self
    }

    /// The jobs with a run that neither an earlier definition in the history nor `given` covers.
    pub fn jobs_without_definition(
        &self,
        given: &BTreeMap<String, policy::JobFacts>,
    ) -> Vec<String> {
        self.jobs
            .without_definition()
            .into_iter()
            .filter(|name| !given.contains_key(name))
            .collect()
    }

    /// The report: the sessions (judged as they were read) and, when the policy guards jobs,
    /// the job runs and definitions, judged now (`judges`) over the whole history.
    pub fn report(self, inputs: &Inputs, judges: Judges<'_>) -> Report {
        let Tally {
            files,
            chunks,
            records,
            unreadable_records,
            create_not_judged,
            sessions,
            ends,
            jobs,
            mut damaged,
        } = self;
        let jobs = judges
            .policy
            .jobs
            .as_ref()
            .map(|_| JobsReport::of(jobs, judges.policy, judges.baseline, &inputs.jobs));
        damaged.sort();
        // Each session as (its list, its place in it), in creation order. Four bytes each
        // (a history of 4 billion sessions would not fit in memory anyway).
        let index = |n: usize| u32::try_from(n).expect("fewer than 4 billion sessions");
        let mut order: Vec<(u32, u32)> = sessions
            .iter()
            .enumerate()
            .flat_map(|(list, those)| (0..those.len()).map(move |at| (index(list), index(at))))
            .collect();
        index(order.len());
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (at(&sessions, a), at(&sessions, b));
            (a.created_at, &a.session_id, &a.event_id, &a.event_time).cmp(&(
                b.created_at,
                &b.session_id,
                &b.event_id,
                &b.event_time,
            ))
        });
        let before = order.len();
        // The same record: the same event id, session and time (sample files reuse one
        // event id for every record, so the id alone is not enough). Sorted by them, the
        // copies are neighbours.
        order.dedup_by(|&mut b, &mut a| {
            let (a, b) = (at(&sessions, a), at(&sessions, b));
            (&a.event_id, &a.session_id, &a.event_time)
                == (&b.event_id, &b.session_id, &b.event_time)
        });
        let duplicate_sessions = (before - order.len()) as u64;
        let ends = Ends::new(ends);

        let ordered: Vec<&JudgedSession> =
            order.iter().map(|&place| at(&sessions, place)).collect();
        let cost = |session: &JudgedSession| Cost::of(session, &ends);
        let under_policy = Outcomes::of(ordered.iter().map(|s| &*s.under_policy));
        let comparison = inputs
            .baseline
            .as_ref()
            .map(|_| Comparison::of(&ordered, cost));
        let runs = jobs.as_ref().map_or(&[][..], |jobs| &jobs.held[..]);
        // Only the sessions a budget may count (a holder) need their span.
        let budgets = super::budgets::replay(
            judges.policy,
            ordered
                .iter()
                .filter(|session| session.holder.is_some())
                .map(|&session| {
                    let cost = cost(session);
                    (
                        session,
                        super::budgets::Span {
                            dpu: cost.dpus,
                            hours: cost.hours,
                            upper_bound: cost.duration == Duration::UpperBound,
                        },
                    )
                }),
            runs,
        );
        let by_principal = counts(
            ordered
                .iter()
                .filter(|s| s.under_policy.stops())
                .map(|s| s.principal.as_deref().unwrap_or(UNKNOWN_PRINCIPAL)),
        );
        let (by_account, by_region) = by_place(&ordered, cost);
        let session_count = ordered.len() as u64;
        drop(ordered);
        // Last, the stopped sessions' rows. They take their texts from the sessions (moved, not
        // copied) and are made list by list, each list given back once its rows are made, so
        // the report never holds a session and its row at once; then they are put in creation
        // order by each session's place in `order` (`u32::MAX`: a copy, left out).
        let mut rank: Vec<Vec<u32>> = sessions
            .iter()
            .map(|list| vec![u32::MAX; list.len()])
            .collect();
        for (position, &(list, place)) in order.iter().enumerate() {
            rank[list as usize][place as usize] = index(position);
        }
        drop(order);
        let mut ranked: Vec<(u32, SessionRow)> = Vec::new();
        for (list, ranks) in sessions.into_iter().zip(rank) {
            for (mut session, rank) in list.into_iter().zip(ranks) {
                if rank != u32::MAX && session.under_policy.stops() {
                    let cost = Cost::of(&session, &ends);
                    ranked.push((rank, SessionRow::from_session(&mut session, cost)));
                }
            }
        }
        ranked.sort_unstable_by_key(|&(rank, _)| rank);
        let violating: Vec<SessionRow> = ranked.into_iter().map(|(_, row)| row).collect();
        let dpu_hours = DpuHours::over(violating.iter().map(|row| &row.cost));
        Report {
            policy: inputs.policy.clone(),
            action: inputs.action,
            history: inputs.history.clone(),
            baseline: inputs.baseline.clone(),
            files,
            chunks,
            window: Shown::of(judges.window),
            records,
            unreadable_records,
            create_session_not_judged: create_not_judged,
            sessions: session_count,
            duplicate_sessions,
            violations: under_policy.violations,
            exempt: under_policy.exempt,
            compliant: under_policy.compliant,
            by_rule: under_policy.by_rule,
            by_override: under_policy.by_override,
            by_principal,
            price_per_dpu_hour: inputs.price_per_dpu_hour,
            cost_usd: dpu_hours.total * inputs.price_per_dpu_hour,
            dpu_hours,
            violating,
            comparison,
            jobs,
            budgets,
            by_account,
            by_region,
            athena: inputs.athena.clone(),
            damaged,
            expiring: Vec::new(),
        }
    }
}

/// The session at `(list, place)` of a tally's lists.
fn at(sessions: &[Vec<JudgedSession>], (list, place): (u32, u32)) -> &JudgedSession {
    &sessions[list as usize][place as usize]
}

/// `by_override` key of sessions judged by the default boundaries.
const NO_OVERRIDE: &str = "(default boundaries)";
/// `by_principal` key of sessions whose creator the record does not name.
const UNKNOWN_PRINCIPAL: &str = "(unknown)";

/// Every session end, sorted by session id, then time.
struct Ends(Vec<SessionEnd>);

impl Ends {
    fn new(mut ends: Vec<SessionEnd>) -> Ends {
        ends.sort_unstable_by(|a, b| (&a.session_id, a.at).cmp(&(&b.session_id, b.at)));
        ends.shrink_to_fit();
        Ends(ends)
    }

    /// The first end of `session` at or after `created` (a reused id's earlier ends are not
    /// this session's).
    fn of(&self, session: &str, created: UnixSeconds) -> Option<UnixSeconds> {
        let first = self
            .0
            .partition_point(|end| (&*end.session_id, end.at) < (session, created));
        self.0
            .get(first)
            .filter(|end| &*end.session_id == session)
            .map(|end| end.at)
    }
}

/// How long a session billed, as far as the history shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// From its `CreateSession` to its `StopSession`/`DeleteSession` (at most its timeout).
    Measured,
    /// No end in the history: its timeout, the longest it can have run.
    UpperBound,
    /// No end in the history, and its timeout is not known.
    Unknown,
}

/// One session's cost at stake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub dpus: Option<f64>,
    pub hours: Option<f64>,
    pub duration: Duration,
    /// DPUs × hours, when both are known.
    pub dpu_hours: Option<f64>,
    /// Why a figure is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Unknown>,
}

/// Why a session's cost is not known, written as a sentence (`DPUs unknown: …`).
#[derive(Debug, Clone, PartialEq)]
pub enum Unknown {
    /// Its DPUs are not known, for this reason.
    Dpus(Name),
    /// The history holds no end, and its timeout is not known, for this reason.
    Duration(Name),
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unknown::Dpus(why) => write!(f, "DPUs unknown: {why}"),
            Unknown::Duration(why) => {
                write!(
                    f,
                    "no end in the history, and the timeout is unknown: {why}"
                )
            }
        }
    }
}

impl Serialize for Unknown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Cost {
    fn of(session: &JudgedSession, ends: &Ends) -> Cost {
        let timeout_hours = session
            .capacity
            .timeout_minutes
            .as_ref()
            .ok()
            .map(|&m| m as f64 / 60.0);
        let end = session
            .created_at
            .and_then(|created| Some((created, ends.of(&session.session_id, created)?)));
        let (hours, duration) = match (end, timeout_hours) {
            (Some((created, end)), timeout) => {
                let ran = (end - created) as f64 / 3600.0;
                (
                    Some(timeout.map_or(ran, |t| ran.min(t))),
                    Duration::Measured,
                )
            }
            (None, Some(timeout)) => (Some(timeout), Duration::UpperBound),
            (None, None) => (None, Duration::Unknown),
        };
        let dpus = session.capacity.dpus.as_ref().ok().copied();
        let unknown = match (&session.capacity.dpus, duration) {
            (Err(why), _) => Some(Unknown::Dpus(why.clone())),
            (Ok(_), Duration::Unknown) => session
                .capacity
                .timeout_minutes
                .as_ref()
                .err()
                .map(|why| Unknown::Duration(why.clone())),
            _ => None,
        };
        Cost {
            dpus,
            hours,
            duration,
            dpu_hours: dpus.zip(hours).map(|(d, h)| d * h),
            unknown,
        }
    }
}

/// DPU-hours of a set of sessions, by how well they are known.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DpuHours {
    /// `measured` + `upper_bound`.
    pub total: f64,
    /// Of sessions whose end the history holds.
    pub measured: f64,
    /// Of sessions without an end in the history: DPUs × timeout.
    pub upper_bound: f64,
    pub sessions_measured: u64,
    pub sessions_upper_bound: u64,
    /// Not counted: their DPUs are not known.
    pub sessions_unknown_dpu: u64,
    /// Not counted: DPUs known, but neither their end nor their timeout.
    pub sessions_unknown_duration: u64,
}

impl DpuHours {
    fn over<'c>(costs: impl IntoIterator<Item = &'c Cost>) -> DpuHours {
        let mut sum = DpuHours::default();
        for cost in costs {
            match (cost.dpus, cost.dpu_hours, cost.duration) {
                (None, _, _) => sum.sessions_unknown_dpu += 1,
                (Some(_), Some(dpu_hours), Duration::Measured) => {
                    sum.measured += dpu_hours;
                    sum.sessions_measured += 1;
                }
                (Some(_), Some(dpu_hours), Duration::UpperBound) => {
                    sum.upper_bound += dpu_hours;
                    sum.sessions_upper_bound += 1;
                }
                (Some(_), _, _) => sum.sessions_unknown_duration += 1,
            }
        }
        sum.total = sum.measured + sum.upper_bound;
        sum
    }

    /// The total counts a timeout for at least one session.
    pub(crate) fn is_upper_bound(&self) -> bool {
        self.sessions_upper_bound > 0
    }
}

/// Decisions of a set of verdicts.
struct Outcomes {
    violations: u64,
    exempt: u64,
    compliant: u64,
    by_rule: BTreeMap<String, u64>,
    by_override: BTreeMap<String, u64>,
}

impl Outcomes {
    fn of<'j>(judgements: impl Iterator<Item = &'j Judgement>) -> Outcomes {
        let mut outcomes = Outcomes {
            violations: 0,
            exempt: 0,
            compliant: 0,
            by_rule: BTreeMap::new(),
            by_override: BTreeMap::new(),
        };
        for judgement in judgements {
            match judgement.decision {
                policy::Decision::Violation => outcomes.violations += 1,
                policy::Decision::Exempt => outcomes.exempt += 1,
                policy::Decision::Compliant => outcomes.compliant += 1,
                policy::Decision::Ignored => {}
            }
            if judgement.stops() {
                for rule in judgement.rules.iter() {
                    bump(&mut outcomes.by_rule, rule);
                }
                let limits = judgement.override_name.as_deref().unwrap_or(NO_OVERRIDE);
                bump(&mut outcomes.by_override, limits);
            }
        }
        outcomes
    }
}

/// Adds one to `key`'s count (its text copied only the first time).
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

fn counts<'a>(keys: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for key in keys {
        bump(&mut counts, key);
    }
    counts
}

/// One session, for the lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    pub session_id: Box<str>,
    /// `eventTime` of its `CreateSession`.
    pub created: Option<Box<str>>,
    pub principal: Option<Name>,
    pub rules: Rules,
    #[serde(rename = "override")]
    pub override_name: Option<Name>,
    pub cost: Cost,
}

impl SessionRow {
    /// The row of a session the policy stops, its texts taken from the session (which is not
    /// read again).
    fn from_session(session: &mut JudgedSession, cost: Cost) -> SessionRow {
        SessionRow {
            session_id: std::mem::take(&mut session.session_id),
            created: session.event_time.take(),
            principal: session.principal.take(),
            rules: session.under_policy.rules.clone(),
            override_name: session.under_policy.override_name.clone(),
            cost,
        }
    }
}

/// One session whose fate changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub session_id: Box<str>,
    pub change: ChangeKind,
    pub created: Option<Box<str>>,
    pub principal: Option<Name>,
    pub before: Judgement,
    pub after: Judgement,
    pub cost: Cost,
}

/// The policy against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub baseline_violations: u64,
    pub baseline_exempt: u64,
    pub baseline_by_rule: BTreeMap<String, u64>,
    /// Of the sessions the baseline stops.
    pub baseline_dpu_hours: DpuHours,
    /// Session ids, in creation order.
    pub newly_violating: Vec<String>,
    pub no_longer_violating: Vec<String>,
    pub other_rules: Vec<String>,
    /// Of the newly stopped sessions.
    pub newly_violating_dpu_hours: DpuHours,
    /// Every changed session, in creation order.
    pub changes: Vec<Change>,
}

impl Comparison {
    fn of(sessions: &[&JudgedSession], cost: impl Fn(&JudgedSession) -> Cost) -> Comparison {
        let baseline = Outcomes::of(sessions.iter().filter_map(|s| s.under_baseline.as_deref()));
        let mut changes = Vec::new();
        let mut baseline_costs = Vec::new();
        for session in sessions {
            let Some(before) = session.under_baseline.as_deref() else {
                continue;
            };
            let after = &session.under_policy;
            let cost = cost(session);
            if before.stops() {
                baseline_costs.push(cost.clone());
            }
            let Some(change) =
                ChangeKind::between(before.stops(), &before.rules, after.stops(), &after.rules)
            else {
                continue;
            };
            changes.push(Change {
                session_id: session.session_id.clone(),
                change,
                created: session.event_time.clone(),
                principal: session.principal.clone(),
                before: before.clone(),
                after: (**after).clone(),
                cost,
            });
        }
        let ids = |kind: ChangeKind| -> Vec<String> {
            changes
                .iter()
                .filter(|c| c.change == kind)
                .map(|c| c.session_id.to_string())
                .collect()
        };
        Comparison {
            baseline_violations: baseline.violations,
            baseline_exempt: baseline.exempt,
            baseline_by_rule: baseline.by_rule,
            baseline_dpu_hours: DpuHours::over(&baseline_costs),
            newly_violating: ids(ChangeKind::NewlyViolating),
            no_longer_violating: ids(ChangeKind::NoLongerViolating),
            other_rules: ids(ChangeKind::OtherRules),
            newly_violating_dpu_hours: DpuHours::over(
                changes
                    .iter()
                    .filter(|c| c.change == ChangeKind::NewlyViolating)
                    .map(|c| &c.cost),
            ),
            changes,
        }
    }
}

/// Everything a backtest found. `Serialize` is `--format json`; `render` has the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub policy: String,
    /// What the policy does with each session out of bounds: `stop`, `delete`, or `notify`
    /// (audit mode). The counts below say "stopped" for it in every mode.
    pub action: policy::Action,
    /// What was read (`--trail` paths).
    pub history: String,
    pub baseline: Option<String>,
    /// Files (units) read, damaged ones included.
    pub files: u64,
    /// Of `files`, the chunks of an Athena result it was read in (about 2 MB each).
    pub chunks: u64,
    /// `--since`/`--until` (the query's window with `--athena`): Glue records outside it are
    /// counted, not judged.
    #[serde(skip_serializing_if = "Shown::is_open")]
    pub window: Shown,
    /// Every record read, Glue's or not.
    pub records: u64,
    pub unreadable_records: u64,
    /// `CreateSession` records that created no session (failed calls).
    pub create_session_not_judged: u64,
    /// Sessions judged: successful `CreateSession` records, each counted once.
    pub sessions: u64,
    /// `CreateSession` records read more than once (overlapping files), counted once.
    pub duplicate_sessions: u64,
    /// Sessions the policy stops (decision `violation`).
    pub violations: u64,
    pub exempt: u64,
    pub compliant: u64,
    /// Stopped sessions breaking each rule (a session may break several).
    pub by_rule: BTreeMap<String, u64>,
    /// Stopped sessions by the override whose limits applied.
    pub by_override: BTreeMap<String, u64>,
    /// Stopped sessions by creator.
    pub by_principal: BTreeMap<String, u64>,
    pub price_per_dpu_hour: f64,
    /// Of the stopped sessions.
    pub dpu_hours: DpuHours,
    /// `dpu_hours.total` × the price: an upper bound when `dpu_hours.upper_bound` > 0.
    pub cost_usd: f64,
    /// The stopped sessions, in creation order.
    pub violating: Vec<SessionRow>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// The job runs and definitions, when the policy guards jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsReport>,
    /// Each team budget over the history: how often it was exceeded, when, and which sessions
    /// the guard would have stopped for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<super::budgets::BudgetReplay>,
    /// Sessions judged and stopped per account (`recipientAccountId`) and per Region
    /// (`awsRegion`); `(unknown)` when the record does not say.
    pub by_account: BTreeMap<String, PlaceTotals>,
    pub by_region: BTreeMap<String, PlaceTotals>,
    /// The Athena query the history came from: bytes scanned and their cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub athena: Option<super::athena::AthenaRun>,
    pub damaged: Vec<Damaged>,
    /// The policy's exceptions that have expired or expire within 14 days of the backtest
    /// (by the machine's clock): a reviewer sees what is about to change on its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<crate::expiring::Expiring>,
}

impl Report {
    /// Everything read was chunks of an Athena result (said as such, not as files).
    pub fn read_in_chunks(&self) -> bool {
        self.chunks > 0 && self.chunks == self.files
    }
}

/// A backtest's window as written in the report (RFC 3339); an open end is `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Shown {
    pub since: Option<String>,
    pub until: Option<String>,
}

impl Shown {
    fn of(window: super::Window) -> Shown {
        Shown {
            since: window.since.map(super::time::format_rfc3339),
            until: window.until.map(super::time::format_rfc3339),
        }
    }

    /// All of history: nothing to say.
    pub fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }
}

/// One account's or Region's sessions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlaceTotals {
    pub sessions: u64,
    /// Of which the policy stops.
    pub violations: u64,
    /// DPU-hours of the stopped ones (`dpu_hours.total`'s share).
    pub dpu_hours: f64,
}

/// Sessions per account and per Region, with the costs of the stopped ones.
fn by_place(
    sessions: &[&JudgedSession],
    cost: impl Fn(&JudgedSession) -> Cost,
) -> (BTreeMap<String, PlaceTotals>, BTreeMap<String, PlaceTotals>) {
    let (mut accounts, mut regions) = (BTreeMap::new(), BTreeMap::new());
    let add = |totals: &mut BTreeMap<String, PlaceTotals>, place: Option<&str>, dpu_hours| {
        let key = place.unwrap_or(UNKNOWN_PLACE);
        let entry = match totals.get_mut(key) {
            Some(entry) => entry,
            None => totals.entry(key.to_string()).or_default(),
        };
        entry.sessions += 1;
        if let Some(dpu_hours) = dpu_hours {
            entry.violations += 1;
            entry.dpu_hours += dpu_hours;
        }
    };
    for &session in sessions {
        // A stopped session's DPU-hours (0 when not known).
        let stopped = session
            .under_policy
            .stops()
            .then(|| cost(session).dpu_hours.unwrap_or(0.0));
        add(&mut accounts, session.account.as_deref(), stopped);
        add(&mut regions, session.region.as_deref(), stopped);
    }
    (accounts, regions)
}

/// `by_account`/`by_region` key of sessions whose record does not say.
const UNKNOWN_PLACE: &str = "(unknown)";

#[cfg(test)]
mod tests {
    use super::super::observe::Capacity;
    use super::super::time::parse_rfc3339;
    use super::*;
    use policy::Decision;

    fn judgement(decision: Decision, rules: &[&str]) -> Judgement {
        Judgement {
            decision,
            rules: rules.iter().map(|&r| Name::from(r)).collect(),
            override_name: None,
        }
    }

    fn session(
        id: &str,
        at: &str,
        workers: f64,
        policy: Judgement,
        baseline: Judgement,
    ) -> JudgedSession {
        JudgedSession {
            session_id: id.into(),
            event_id: Some(super::super::observe::EventId::of(&format!("e-{id}-{at}"))),
            event_time: Some(at.into()),
            created_at: parse_rfc3339(at),
            principal: Some("arn:aws:iam::1:user/bob".into()),
            account: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            under_policy: std::sync::Arc::new(policy),
            under_baseline: Some(std::sync::Arc::new(baseline)),
            capacity: Capacity {
                dpus: Ok(workers),
                timeout_minutes: Ok(120),
            },
            holder: None,
        }
    }

    /// Judges for reports of sessions only (their sessions are judged when read): a policy
    /// without jobs, so no job report.
    fn sessions_only() -> Judges<'static> {
        static POLICY: std::sync::OnceLock<policy::Policy> = std::sync::OnceLock::new();
        let policy = POLICY.get_or_init(|| {
            policy::load_policy(
                "p.yaml",
                b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
            )
            .unwrap()
        });
        Judges {
            policy,
            baseline: None,
            window: crate::history::Window::ALL,
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            policy: "p.yaml".into(),
            action: policy::Action::Stop,
            history: "trail".into(),
            baseline: Some("HEAD:p.yaml".into()),
            price_per_dpu_hour: 0.5,
            jobs: Default::default(),
            athena: None,
        }
    }

    fn end(id: &str, at: &str) -> SessionEnd {
        SessionEnd {
            session_id: id.into(),
            at: parse_rfc3339(at).unwrap(),
        }
    }

    #[test]
    fn sessions_are_totalled_per_account_and_region_and_shown_with_the_athena_scan() {
        let stop = || judgement(Decision::Violation, &["max_workers"]);
        let fine = || judgement(Decision::Compliant, &[]);
        let mut harvest = Harvest::of("rows");
        let mut other = session("b", "2026-11-29T09:00:00Z", 4.0, stop(), stop());
        other.account = Some("444455556666".into());
        other.region = None;
        harvest.sessions = vec![
            session("a", "2026-11-29T09:00:00Z", 10.0, stop(), fine()),
            other,
            session("c", "2026-11-29T09:00:00Z", 1.0, fine(), fine()),
        ];
        let mut tally = Tally::default();
        tally.add(harvest);
        let mut inputs = inputs();
        inputs.athena = Some(crate::history::athena::AthenaRun {
            query_execution_id: "q-1".into(),
            workgroup: "backtest".into(),
            table: "security.org_trail".into(),
            result: "s3://results/q-1.csv".into(),
            bytes_scanned: 4_500_000_000,
            cost_usd: 0.0225,
            price_per_tb_usd: 5.0,
        });
        let report = tally.report(&inputs, sessions_only());
        let totals = |place: &PlaceTotals| (place.sessions, place.violations, place.dpu_hours);
        assert_eq!(totals(&report.by_account["111122223333"]), (2, 1, 20.0));
        assert_eq!(totals(&report.by_account["444455556666"]), (1, 1, 8.0));
        assert_eq!(totals(&report.by_region["eu-west-1"]), (2, 1, 20.0));
        assert_eq!(totals(&report.by_region["(unknown)"]), (1, 1, 8.0));
        let text = crate::history::text::text(&report);
        assert!(
            text.contains("athena:     Athena query q-1 in workgroup backtest on security.org_trail: 4.500 GB scanned, 0.0225 USD at 5 USD per TB"),
            "{text}"
        );
        assert!(
            text.contains("by account (sessions, stopped, DPU-hours stopped):"),
            "{text}"
        );
        let markdown = crate::history::text::markdown(&report);
        assert!(
            markdown.contains("| `444455556666` | 1 | 1 | 8.0 |"),
            "{markdown}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["athena"]["bytes_scanned"], 4_500_000_000u64);
        assert_eq!(json["by_account"]["444455556666"]["violations"], 1);
    }

    #[test]
    fn costs_use_the_real_end_else_the_timeout() {
        let stop = || judgement(Decision::Violation, &["max_workers"]);
        let fine = || judgement(Decision::Compliant, &[]);
        let mut harvest = Harvest::of("a");
        harvest.records = 10;
        harvest.sessions = vec![
            // Ends 30 minutes later: measured.
            session("a", "2026-11-29T09:00:00Z", 10.0, stop(), fine()),
            // No end: 120 minutes, the upper bound.
            session("b", "2026-11-29T09:00:00Z", 4.0, stop(), stop()),
            // Ended 5 hours later: no longer than its timeout.
            session("c", "2026-11-29T09:00:00Z", 1.0, stop(), fine()),
            session("d", "2026-11-29T09:00:00Z", 1.0, fine(), stop()),
        ];
        harvest.ends = vec![
            end("a", "2026-11-29T08:00:00Z"),
            end("a", "2026-11-29T09:30:00Z"),
            end("a", "2026-11-29T11:00:00Z"),
            end("c", "2026-11-29T14:00:00Z"),
        ];
        let mut tally = Tally::default();
        tally.add(harvest);
        let report = tally.report(&inputs(), sessions_only());
        assert_eq!(
            (report.sessions, report.violations, report.compliant),
            (4, 3, 1)
        );
        let hours = &report.dpu_hours;
        assert_eq!(hours.measured, 10.0 * 0.5 + 1.0 * 2.0);
        assert_eq!(hours.upper_bound, 4.0 * 2.0);
        assert_eq!(
            (hours.sessions_measured, hours.sessions_upper_bound),
            (2, 1)
        );
        assert!(hours.is_upper_bound());
        assert_eq!(report.cost_usd, hours.total * 0.5);
        let comparison = report.comparison.unwrap();
        assert_eq!(comparison.newly_violating, ["a", "c"]);
        assert_eq!(comparison.no_longer_violating, ["d"]);
        assert_eq!(comparison.baseline_violations, 2);
        assert_eq!(comparison.newly_violating_dpu_hours.total, 7.0);
    }

    #[test]
    fn a_record_read_twice_counts_once_and_damage_is_kept() {
        let stop = || judgement(Decision::Violation, &["max_workers"]);
        let mut first = Harvest::of("b.json");
        first.sessions = vec![session("a", "2026-11-29T09:00:00Z", 1.0, stop(), stop())];
        let mut second = Harvest::of("a.json");
        second.sessions = first.sessions.clone();
        second.damage = Some("the gzip stream is damaged after 3 bytes: x".into());
        let mut tally = Tally::default();
        tally.add(first);
        let mut other = Tally::default();
        other.add(second);
        let report = tally.merge(other).report(&inputs(), sessions_only());
        assert_eq!(
            (report.files, report.sessions, report.duplicate_sessions),
            (2, 1, 1)
        );
        assert_eq!(report.damaged[0].file, "a.json");
        assert_eq!(report.by_principal["arn:aws:iam::1:user/bob"], 1);
        assert_eq!(report.by_override[NO_OVERRIDE], 1);
        let changes = report.comparison.unwrap();
        assert!(changes.changes.is_empty());
    }

    #[test]
    fn other_rules_are_a_change_and_unknown_dpus_are_counted_apart() {
        let mut s = session(
            "a",
            "2026-11-29T09:00:00Z",
            1.0,
            judgement(Decision::Violation, &["max_dpu"]),
            judgement(Decision::Violation, &["max_workers"]),
        );
        s.capacity.dpus = Err("worker type \"Q.9X\" has no known DPU figure".into());
        let mut harvest = Harvest::of("a");
        harvest.sessions = vec![s];
        let mut tally = Tally::default();
        tally.add(harvest);
        let report = tally.report(&inputs(), sessions_only());
        assert_eq!(report.dpu_hours.sessions_unknown_dpu, 1);
        assert_eq!(report.dpu_hours.total, 0.0);
        let unknown = report.violating[0].cost.unknown.as_ref().unwrap();
        assert_eq!(
            serde_json::to_value(unknown).unwrap(),
            "DPUs unknown: worker type \"Q.9X\" has no known DPU figure"
        );
        let comparison = report.comparison.unwrap();
        assert_eq!(comparison.other_rules, ["a"]);
        assert_eq!(comparison.changes[0].change, ChangeKind::OtherRules);
    }
}
