//! The core of a backtest: every file's [`Harvest`] merged into one [`Report`]. Sessions read
//! twice count once, each session's end is found, the cost at stake is counted, and with a
//! baseline the sessions whose fate changed are listed. Harvests in, report out; its only I/O is
//! its own temporary files (`super::spill`), where a long history's sessions wait in sorted runs
//! so that memory stays flat.

use std::collections::BTreeMap;

use serde::Serialize;

pub use super::change::ChangeKind;
use super::change::Fate;
use std::sync::Arc;

use serde::Deserialize;

use super::jobs::{JobRecords, JobsReport};
use super::observe::{
    EventId, Harvest, JudgedSession, Judgement, Judges, Lapse, Name, Rules, SessionEnd,
};
use super::source::Described;
use super::spill::{Sortable, Sorter, SpillWriter, Spilled};
use super::time::UnixSeconds;

/// What the report says about its inputs (names as shown to people).
#[derive(Debug, Clone)]
pub struct Inputs {
    pub policy: String,
    /// What the policy does with a session out of bounds (`policy::enforcement_action` of a
    /// violation): `stop`, `delete`, or `notify` in audit mode.
    pub action: policy::Action,
    pub history: Described,
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
    /// Log files not read: delivered before `--since`.
    files_left_out: u64,
    records: u64,
    unreadable_records: u64,
    /// Of the harvests' first unreadable records, the first by name (the same whatever order
    /// the cores finished in).
    unreadable_example: Option<String>,
    create_not_judged: u64,
    outside_window: u64,
    /// Every session and every end, to be sorted by session: in memory while they are few,
    /// else in sorted runs on disk (`super::spill`), so a long history's memory stays flat.
    by_session: Sorter<BySession>,
    jobs: JobRecords,
    damaged: Vec<Damaged>,
    /// The first failure to write the sessions to disk (a full `TMPDIR`): no report then.
    spill_error: Option<std::io::Error>,
}

/// A file that could not be read to its end, and why (its records before the damage count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Damaged {
    pub file: String,
    pub reason: String,
}

impl Tally {
    /// A tally writing its sessions to disk each `run_items` of them (tests reach the disk with
    /// a few sessions).
    #[cfg(test)]
    pub(crate) fn with_run_items(run_items: usize) -> Tally {
        Tally {
            by_session: Sorter::with_run_items(run_items),
            ..Tally::default()
        }
    }

    pub fn add(&mut self, harvest: Harvest) {
        if harvest.left_out {
            self.files_left_out += 1;
            return;
        }
        self.files += 1;
        self.chunks += u64::from(harvest.chunk);
        self.records += harvest.records;
        self.unreadable_records += harvest.unreadable_records;
        self.unreadable_example = first(self.unreadable_example.take(), harvest.unreadable_example);
        self.create_not_judged += harvest.create_not_judged;
        self.outside_window += harvest.outside_window;
        let items = (harvest.sessions.into_iter().map(BySession::Session))
            .chain(harvest.ends.into_iter().map(BySession::End));
        for item in items {
            self.sort(item);
        }
        self.jobs.merge(harvest.jobs);
        if let Some(reason) = harvest.damage {
            self.damaged.push(Damaged {
                file: harvest.file,
                reason,
            });
        }
    }

    fn sort(&mut self, item: BySession) {
        if self.spill_error.is_none()
            && let Err(error) = self.by_session.push(item)
        {
            self.spill_error = Some(error);
        }
    }

    pub fn merge(mut self, other: Tally) -> Tally {
        self.files += other.files;
        self.chunks += other.chunks;
        self.files_left_out += other.files_left_out;
        self.records += other.records;
        self.unreadable_records += other.unreadable_records;
        self.unreadable_example = first(self.unreadable_example.take(), other.unreadable_example);
        self.create_not_judged += other.create_not_judged;
        self.outside_window += other.outside_window;
        if self.spill_error.is_none() {
            self.spill_error = other.spill_error;
        }
        if self.spill_error.is_none()
            && let Err(error) = self.by_session.append(other.by_session)
        {
            self.spill_error = Some(error);
        }
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
    ///
    /// The sessions are read twice, each time in a sorted stream (`super::spill`): by session,
    /// to drop copies of one record and find each session's end (a sort-merge join), then in
    /// creation order, to count and list them. Errors are the temporary files' (a full disk).
    pub fn report(self, inputs: &Inputs, judges: Judges<'_>) -> anyhow::Result<Report> {
        let Tally {
            files,
            chunks,
            files_left_out,
            records,
            unreadable_records,
            unreadable_example,
            create_not_judged,
            outside_window,
            by_session,
            jobs,
            mut damaged,
            spill_error,
        } = self;
        let disk = |error: std::io::Error| {
            anyhow::anyhow!(
                "the backtest keeps a long history's sessions in temporary files (TMPDIR), and \
                 one failed: {error}"
            )
        };
        if let Some(error) = spill_error {
            return Err(disk(error));
        }
        let jobs = judges
            .guard_jobs()
            .then(|| JobsReport::of(jobs, judges.policy, judges.baseline, &inputs.jobs));
        damaged.sort();
        let (by_creation, duplicate_sessions) = join_ends(by_session).map_err(disk)?;

        let mut under_policy = Outcomes::default();
        let mut comparing = inputs.baseline.as_ref().map(|_| Comparing::default());
        let mut by_principal = BTreeMap::new();
        let mut places = Places::default();
        let mut violating = RowsBuilder::new(|p| p.session.under_policy.stops(), SessionRow::of);
        let mut stopped = SpillWriter::default();
        let mut dpu_hours = DpuHours::default();
        // Only the sessions a budget may count (a holder) are kept for the replay.
        let mut members: Vec<(JudgedSession, super::budgets::Span)> = Vec::new();
        let mut sessions = 0u64;
        let each = |placed: Placed| -> std::io::Result<()> {
            sessions += 1;
            let session = &placed.session;
            let cost = Cost::of(session, placed.end);
            under_policy.add(&session.under_policy);
            if let Some(comparing) = &mut comparing {
                comparing.add(&placed, &cost)?;
            }
            let stops = session.under_policy.stops();
            places.add(session, stops.then(|| cost.dpu_hours.unwrap_or(0.0)));
            if stops {
                bump(
                    &mut by_principal,
                    session.principal.as_deref().unwrap_or(UNKNOWN_PRINCIPAL),
                );
                dpu_hours.add(&cost);
                violating.offer(&placed, stopped.written());
                stopped.push(&placed)?;
            }
            if session.holder.is_some() {
                // Its whole run: the replay cuts it where each side's guard stops it.
                let run = Cost::at_stake(session, placed.end, None, &session.capacity.dpus);
                let span = super::budgets::Span {
                    dpu: run.dpus,
                    hours: run.hours,
                    upper_bound: run.duration == Duration::UpperBound,
                };
                members.push((placed.session, span));
            }
            Ok(())
        };
        by_creation
            .sorted()
            .and_then(|merge| merge.for_each_in_turn(each))
            .map_err(disk)?;
        let runs = jobs.as_ref().map_or(&[][..], |jobs| &jobs.held[..]);
        let budgets = super::budgets::replay(
            judges.policy,
            members.iter().map(|(session, span)| (session, *span)),
            runs,
            super::budgets::Under::Policy,
        );
        // Against a baseline, its budgets replayed over the same history: what a change of a
        // cap or of a budget's members changes.
        let budget_changes = judges
            .baseline
            .filter(|baseline| !baseline.budgets.is_empty() || !judges.policy.budgets.is_empty())
            .map(|baseline| {
                let before = super::budgets::replay(
                    baseline,
                    members.iter().map(|(session, span)| (session, *span)),
                    runs,
                    super::budgets::Under::Baseline,
                );
                super::budgets::BudgetChanges::between(&budgets, &before)
            });
        drop(members);
        let comparison = comparing.map(Comparing::finish).transpose().map_err(disk)?;
        let violating = violating.build(stopped.finish().map_err(disk)?.map(Arc::new));
        let dpu_hours = dpu_hours.finished();
        Ok(Report {
            policy: inputs.policy.clone(),
            action: inputs.action,
            history: inputs.history.clone(),
            baseline: inputs.baseline.clone(),
            files,
            chunks,
            files_left_out,
            window: Shown::of(judges.window),
            records,
            unreadable_records,
            unreadable_example,
            create_session_not_judged: create_not_judged,
            outside_window,
            sessions,
            duplicate_sessions,
            violations: under_policy.violations,
            exempt: under_policy.exempt,
            compliant: under_policy.compliant,
            by_rule: under_policy.by_rule,
            by_override: under_policy.by_override,
            by_principal,
            price_per_dpu_hour: inputs.price_per_dpu_hour,
            cost_usd: super::athena::to_millionth(dpu_hours.total * inputs.price_per_dpu_hour),
            dpu_hours,
            violating,
            comparison,
            jobs,
            budgets,
            by_account: places.accounts,
            by_region: places.regions,
            budget_changes,
            athena: inputs.athena.clone(),
            damaged,
            expiring: Vec::new(),
        })
    }
}

/// The smaller of two, either may be missing.
fn first(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The sessions by session id, read once: copies of one record (the same event id, session
/// and time: sample files reuse one event id for every record, so the id alone is not enough)
/// counted and dropped, and each session given the first end of its id at or after its
/// creation (a reused id's earlier ends are not its own). Gives them to be sorted by creation,
/// and the number of copies dropped. Holds one session and one end at a time, however often an
/// id is reused.
fn join_ends(by_session: Sorter<BySession>) -> std::io::Result<(Sorter<Placed>, u64)> {
    let mut by_creation = Sorter::default();
    let mut duplicates = 0;
    // The session read last, held until the next item shows whether it is read twice.
    let mut held: Option<Placed> = None;
    // The end of the current id read last: the earliest of its ends at or after the sessions
    // still to come (they come latest first).
    let mut next_end: Option<SessionEnd> = None;
    by_session.sorted()?.for_each_in_turn(|item| {
        match item {
            BySession::End(end) => {
                if let Some(placed) = held.take() {
                    by_creation.push(placed)?;
                }
                next_end = Some(end);
            }
            BySession::Session(session) => {
                if let Some(before) = &held {
                    let before = &before.session;
                    if (&before.session_id, &before.event_id, &before.event_time)
                        == (&session.session_id, &session.event_id, &session.event_time)
                    {
                        duplicates += 1;
                        return Ok(());
                    }
                }
                if let Some(placed) = held.take() {
                    by_creation.push(placed)?;
                }
                let end = next_end
                    .as_ref()
                    .filter(|end| end.session_id == session.session_id)
                    .map(|end| end.at);
                // A session created at an unknown time sorts last of its id and is given the
                // earliest end: its cost reads no end without a creation time (`Cost::of`).
                held = Some(Placed::new(session, end));
            }
        }
        Ok(())
    })?;
    if let Some(placed) = held {
        by_creation.push(placed)?;
    }
    Ok((by_creation, duplicates))
}

/// `by_override` key of sessions judged by the default boundaries.
const NO_OVERRIDE: &str = "(default boundaries)";
/// `by_principal` key of sessions whose creator the record does not name.
const UNKNOWN_PRINCIPAL: &str = "(unknown)";

/// Equality and order by the type's `key()` alone: what its sort needs.
macro_rules! ordered_by_key {
    ($type:ty) => {
        impl PartialEq for $type {
            fn eq(&self, other: &Self) -> bool {
                self.key() == other.key()
            }
        }

        impl Eq for $type {}

        impl PartialOrd for $type {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $type {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.key().cmp(&other.key())
            }
        }
    };
}

/// A session or an end, as the report first sorts them: by session id (by its hash first, so
/// each id's items are together but the ids in no meaningful order), then latest first (an end
/// before a session at the same instant), then the record. So, read in this order, the last
/// end of an id seen before one of its sessions is that session's first end at or after its
/// creation, and copies of one record are neighbours.
#[derive(Debug, Serialize, Deserialize)]
enum BySession {
    Session(JudgedSession),
    End(SessionEnd),
}

type BySessionKey<'s> = (
    u64,
    &'s str,
    std::cmp::Reverse<Option<UnixSeconds>>,
    u8,
    Option<&'s EventId>,
    Option<&'s str>,
);

impl BySession {
    fn session_id(&self) -> &str {
        match self {
            BySession::End(end) => &end.session_id,
            BySession::Session(session) => &session.session_id,
        }
    }

    /// The session id's hash first: the join needs each id's items together, in no particular
    /// order of ids, and a sort by a number is cheaper than one by text.
    fn key(&self) -> BySessionKey<'_> {
        use std::cmp::Reverse;
        let id = self.prefix();
        match self {
            BySession::End(end) => (id, &end.session_id, Reverse(Some(end.at)), 0, None, None),
            BySession::Session(session) => (
                id,
                &session.session_id,
                Reverse(session.created_at),
                1,
                session.event_id.as_ref(),
                session.event_time.as_deref(),
            ),
        }
    }
}

impl Sortable for BySession {
    /// The session id's hash (foldhash with a fixed seed: the same in every thread).
    fn prefix(&self) -> u64 {
        use std::hash::BuildHasher as _;
        foldhash::fast::FixedState::with_seed(0x6773_6775_6172_6421).hash_one(self.session_id())
    }
}

ordered_by_key!(BySession);

/// A session with its end (`None`: the history holds none), as the report lists sessions: by
/// creation, then session id, then the record.
#[derive(Debug, Serialize, Deserialize)]
pub struct Placed {
    session: JudgedSession,
    end: Option<UnixSeconds>,
}

type PlacedKey<'s> = (
    Option<UnixSeconds>,
    &'s str,
    Option<&'s EventId>,
    Option<&'s str>,
);

impl Placed {
    /// `session`, which ended at `end`, judged as the deployed guard would have left it: an
    /// exception's lapse ([`JudgedSession::lapse`], under the policy and under the baseline)
    /// is kept, and the session judged by it, only when the session was still running at the
    /// expiry (its end after it; without an end, its timeout after it).
    fn new(mut session: JudgedSession, end: Option<UnixSeconds>) -> Placed {
        let last = match (end, session.created_at, &session.capacity.timeout_minutes) {
            (Some(end), _, _) => Some(end),
            (None, Some(created), Ok(minutes)) => {
                Some(created.saturating_add(*minutes as UnixSeconds * 60))
            }
            _ => None,
        };
        let running_at = |lapse: &Lapse| last.is_some_and(|last| last > lapse.at);
        session.lapse = session.lapse.take().filter(running_at);
        session.baseline_lapse = session.baseline_lapse.take().filter(running_at);
        if let Some(lapse) = &session.lapse {
            session.under_policy = lapse.judgement.clone();
        }
        if let Some(lapse) = &session.baseline_lapse {
            session.under_baseline = Some(lapse.judgement.clone());
        }
        Placed { session, end }
    }

    fn key(&self) -> PlacedKey<'_> {
        let session = &self.session;
        (
            session.created_at,
            &session.session_id,
            session.event_id.as_ref(),
            session.event_time.as_deref(),
        )
    }
}

impl Sortable for Placed {
    /// The creation time, unknown first: the key's first member.
    fn prefix(&self) -> u64 {
        match self.session.created_at {
            None => 0,
            Some(at) => (at as u64) ^ (1 << 63),
        }
    }
}

ordered_by_key!(Placed);

pub use super::cost::{Cost, Duration, Unknown};

impl Cost {
    /// The cost of `session`, which ended at `end` (`None`: the history holds no end), at stake
    /// under the policy: from its creation, or from the expiry of the exception that let it run
    /// ([`JudgedSession::lapse`]).
    fn of(session: &JudgedSession, end: Option<UnixSeconds>) -> Cost {
        Cost::at_stake(session, end, session.lapse.as_ref(), &session.capacity.dpus)
    }

    /// [`Cost::of`] under the baseline: from its own exception's expiry, with its own DPUs
    /// ([`super::observe::Capacity::baseline_dpus`]).
    fn under_baseline(session: &JudgedSession, end: Option<UnixSeconds>) -> Cost {
        let dpus = session
            .capacity
            .baseline_dpus
            .as_deref()
            .unwrap_or(&session.capacity.dpus);
        Cost::at_stake(session, end, session.baseline_lapse.as_ref(), dpus)
    }

    fn at_stake(
        session: &JudgedSession,
        end: Option<UnixSeconds>,
        lapse: Option<&Lapse>,
        dpus: &Result<f64, Name>,
    ) -> Cost {
        let timeout_hours = session
            .capacity
            .timeout_minutes
            .as_ref()
            .ok()
            .map(|&m| m as f64 / 60.0);
        let end = session.created_at.zip(end);
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
        // Stopped when an exception expired: what is at stake is its run from then on.
        let before = lapse
            .zip(session.created_at)
            .map_or(0.0, |(lapse, created)| (lapse.at - created) as f64 / 3600.0);
        let hours = hours.map(|hours| (hours - before).max(0.0));
        let unknown = match (dpus, duration) {
            (Err(why), _) => Some(Unknown::Dpus(why.clone())),
            (Ok(_), Duration::Unknown) => session
                .capacity
                .timeout_minutes
                .as_ref()
                .err()
                .map(|why| Unknown::Duration(why.clone())),
            _ => None,
        };
        let dpus = dpus.as_ref().ok().copied();
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
    /// Counts one more session (in creation order: the sums are added in it).
    fn add(&mut self, cost: &Cost) {
        match (cost.dpus, cost.dpu_hours, cost.duration) {
            (None, _, _) => self.sessions_unknown_dpu += 1,
            (Some(_), Some(dpu_hours), Duration::Measured) => {
                self.measured += dpu_hours;
                self.sessions_measured += 1;
            }
            (Some(_), Some(dpu_hours), Duration::UpperBound) => {
                self.upper_bound += dpu_hours;
                self.sessions_upper_bound += 1;
            }
            (Some(_), _, _) => self.sessions_unknown_duration += 1,
        }
    }

    /// The sums, their total added.
    fn finished(mut self) -> DpuHours {
        self.total = self.measured + self.upper_bound;
        self
    }

    /// The total counts a timeout for at least one session.
    pub(crate) fn is_upper_bound(&self) -> bool {
        self.sessions_upper_bound > 0
    }
}

/// Decisions of a set of verdicts.
#[derive(Default)]
struct Outcomes {
    violations: u64,
    exempt: u64,
    compliant: u64,
    by_rule: BTreeMap<String, u64>,
    by_override: BTreeMap<String, u64>,
}

impl Outcomes {
    fn add(&mut self, judgement: &Judgement) {
        match judgement.decision {
            policy::Decision::Violation => self.violations += 1,
            policy::Decision::Exempt => self.exempt += 1,
            policy::Decision::Compliant => self.compliant += 1,
            policy::Decision::Ignored => {}
        }
        if judgement.stops() {
            for rule in judgement.rules.iter() {
                bump(&mut self.by_rule, rule);
            }
            let limits = judgement.override_name.as_deref().unwrap_or(NO_OVERRIDE);
            bump(&mut self.by_override, limits);
        }
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
    /// When the exception that let it run expired, from which the guard would stop it (RFC
    /// 3339); absent for a session stopped at its creation. Its `cost` is from then on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_expired_at: Option<Box<str>>,
    pub cost: Cost,
}

impl SessionRow {
    fn of(placed: &Placed) -> SessionRow {
        let session = &placed.session;
        SessionRow {
            session_id: session.session_id.clone(),
            created: session.event_time.clone(),
            principal: session.principal.clone(),
            rules: session.under_policy.rules.clone(),
            override_name: session.under_policy.override_name.clone(),
            exception_expired_at: session.lapse.as_ref().map(expired_at),
            cost: Cost::of(session, placed.end),
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
    /// Under the policy: when the exception that let it run expired, from which the guard
    /// stops it (RFC 3339); absent when the policy stops it at its creation or not at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_expired_at: Option<Box<str>>,
    /// The same under the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_exception_expired_at: Option<Box<str>>,
    /// At stake on the side that stops it (the baseline's for one no longer stopped, the
    /// policy's for one stopped under both).
    pub cost: Cost,
    /// For one stopped under both (`other_rules`, `stopped_at_another_time`): what is at
    /// stake under the baseline, from its own instant at its own DPUs, beside `cost`, the
    /// policy's: what the change moves. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_cost: Option<Cost>,
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
    pub newly_violating: Rows<String>,
    pub no_longer_violating: Rows<String>,
    pub other_rules: Rows<String>,
    /// Stopped under both for the same rules, from another instant (an exception's expiry
    /// under one side, or a different one).
    pub stopped_at_another_time: Rows<String>,
    /// Of the newly stopped sessions.
    pub newly_violating_dpu_hours: DpuHours,
    /// Every changed session, in creation order.
    pub changes: Rows<Change>,
}

/// Whether and how `session`'s fate changed against the baseline.
fn change_kind(session: &JudgedSession) -> Option<ChangeKind> {
    let before = session.under_baseline.as_deref()?;
    let after = &session.under_policy;
    ChangeKind::between(
        Fate {
            stops: before.stops(),
            rules: &before.rules,
            stopped_from: session.baseline_lapse.as_ref().map(|lapse| lapse.at),
        },
        Fate {
            stops: after.stops(),
            rules: &after.rules,
            stopped_from: session.lapse.as_ref().map(|lapse| lapse.at),
        },
    )
}

impl Change {
    /// The change of a session whose fate changed against the baseline: only made for one that
    /// [`changed`] picks, which has a baseline judgement and a [`change_kind`] (the fallbacks
    /// below are never taken; they keep this total without a panic).
    fn of(placed: &Placed) -> Change {
        let session = &placed.session;
        let change = change_kind(session).unwrap_or(ChangeKind::OtherRules);
        // The cost at stake on the side that stops it: the baseline's, for one it no longer does.
        let cost = match change {
            ChangeKind::NoLongerViolating => Cost::under_baseline(session, placed.end),
            _ => Cost::of(session, placed.end),
        };
        Change {
            session_id: session.session_id.clone(),
            change,
            created: session.event_time.clone(),
            principal: session.principal.clone(),
            before: session
                .under_baseline
                .as_deref()
                .cloned()
                .unwrap_or_else(|| (*session.under_policy).clone()),
            after: (*session.under_policy).clone(),
            exception_expired_at: session.lapse.as_ref().map(expired_at),
            baseline_exception_expired_at: session.baseline_lapse.as_ref().map(expired_at),
            cost,
            baseline_cost: change
                .stopped_under_both()
                .then(|| Cost::under_baseline(session, placed.end)),
        }
    }
}

/// When `lapse` came, as the report writes an instant.
fn expired_at(lapse: &Lapse) -> Box<str> {
    super::time::format_rfc3339(lapse.at).into()
}

fn changed(placed: &Placed) -> bool {
    change_kind(&placed.session).is_some()
}

fn newly_violating(placed: &Placed) -> bool {
    change_kind(&placed.session) == Some(ChangeKind::NewlyViolating)
}

fn no_longer_violating(placed: &Placed) -> bool {
    change_kind(&placed.session) == Some(ChangeKind::NoLongerViolating)
}

fn other_rules(placed: &Placed) -> bool {
    change_kind(&placed.session) == Some(ChangeKind::OtherRules)
}

fn stopped_at_another_time(placed: &Placed) -> bool {
    change_kind(&placed.session) == Some(ChangeKind::StoppedAtAnotherTime)
}

fn session_id(placed: &Placed) -> String {
    placed.session.session_id.to_string()
}

/// The comparison with the baseline, made as the sessions come in creation order.
struct Comparing {
    baseline: Outcomes,
    /// Of the sessions the baseline stops.
    baseline_dpu_hours: DpuHours,
    newly_violating_dpu_hours: DpuHours,
    /// Every changed session, on disk.
    changed: SpillWriter<Placed>,
    changes: RowsBuilder<Change>,
    newly_violating: RowsBuilder<String>,
    no_longer_violating: RowsBuilder<String>,
    other_rules: RowsBuilder<String>,
    stopped_at_another_time: RowsBuilder<String>,
}

impl Default for Comparing {
    fn default() -> Comparing {
        Comparing {
            baseline: Outcomes::default(),
            baseline_dpu_hours: DpuHours::default(),
            newly_violating_dpu_hours: DpuHours::default(),
            changed: SpillWriter::default(),
            changes: RowsBuilder::new(changed, Change::of),
            newly_violating: RowsBuilder::new(newly_violating, session_id),
            no_longer_violating: RowsBuilder::new(no_longer_violating, session_id),
            other_rules: RowsBuilder::new(other_rules, session_id),
            stopped_at_another_time: RowsBuilder::new(stopped_at_another_time, session_id),
        }
    }
}

impl Comparing {
    /// The next session in creation order, and its cost.
    fn add(&mut self, placed: &Placed, cost: &Cost) -> std::io::Result<()> {
        let Some(before) = placed.session.under_baseline.as_deref() else {
            return Ok(());
        };
        self.baseline.add(before);
        if before.stops() {
            self.baseline_dpu_hours
                .add(&Cost::under_baseline(&placed.session, placed.end));
        }
        let Some(kind) = change_kind(&placed.session) else {
            return Ok(());
        };
        if kind == ChangeKind::NewlyViolating {
            self.newly_violating_dpu_hours.add(cost);
        }
        let number = self.changed.written();
        self.changes.offer(placed, number);
        self.newly_violating.offer(placed, number);
        self.no_longer_violating.offer(placed, number);
        self.other_rules.offer(placed, number);
        self.stopped_at_another_time.offer(placed, number);
        self.changed.push(placed)
    }

    fn finish(self) -> std::io::Result<Comparison> {
        let changed = self.changed.finish()?.map(Arc::new);
        Ok(Comparison {
            baseline_violations: self.baseline.violations,
            baseline_exempt: self.baseline.exempt,
            baseline_by_rule: self.baseline.by_rule,
            baseline_dpu_hours: self.baseline_dpu_hours.finished(),
            newly_violating: self.newly_violating.build(changed.clone()),
            no_longer_violating: self.no_longer_violating.build(changed.clone()),
            other_rules: self.other_rules.build(changed.clone()),
            stopped_at_another_time: self.stopped_at_another_time.build(changed.clone()),
            newly_violating_dpu_hours: self.newly_violating_dpu_hours.finished(),
            changes: self.changes.build(changed),
        })
    }
}

/// How many rows of each list the report holds in memory: the ones the text and Markdown
/// reports show (the JSON report reads the rest back from disk as it writes them).
pub const ROWS_KEPT: usize = 50;

/// A list of sessions the JSON report gives in full, and the text and Markdown reports show the
/// start of: its first [`ROWS_KEPT`] rows in memory, every one on disk (`super::spill`) among
/// the sessions its file holds. Serialized as a JSON array, read from the file as it is written.
pub struct Rows<R> {
    kept: Vec<R>,
    len: u64,
    /// Sessions the rows are made from (`make` says which), in creation order.
    spilled: Option<Arc<Spilled<Placed>>>,
    /// The number, in `spilled`, of the first session after the kept rows' ones.
    from: u64,
    /// Whether a session of `spilled` is one of the rows, and its row.
    pick: fn(&Placed) -> bool,
    make: fn(&Placed) -> R,
}

impl<R> Rows<R> {
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first rows, at most [`ROWS_KEPT`]: what a text report shows.
    pub fn kept(&self) -> &[R] {
        &self.kept
    }

    /// Hands every row to `each`, in order: the kept ones, then the rest read back from disk
    /// (its errors turned into `each`'s by `io_error`).
    pub fn for_each<E>(
        &self,
        io_error: impl Fn(std::io::Error) -> E,
        mut each: impl FnMut(&R) -> Result<(), E>,
    ) -> Result<(), E> {
        for row in &self.kept {
            each(row)?;
        }
        let mut given = self.kept.len() as u64;
        if let Some(spilled) = &self.spilled
            && given < self.len
        {
            spilled.read_from(self.from, &io_error, |placed| {
                if (self.pick)(&placed) {
                    given += 1;
                    each(&(self.make)(&placed))
                } else {
                    Ok(())
                }
            })?;
        }
        if given != self.len {
            return Err(io_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{given} of {} rows read back", self.len),
            )));
        }
        Ok(())
    }

    /// Every row (the tests' view).
    pub fn to_vec(&self) -> std::io::Result<Vec<R>>
    where
        R: Clone,
    {
        let mut rows = Vec::new();
        self.for_each(
            |error| error,
            |row| {
                rows.push(row.clone());
                Ok(())
            },
        )?;
        Ok(rows)
    }
}

impl<R: Serialize> Serialize for Rows<R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        self.for_each(
            |error| {
                S::Error::custom(format!(
                    "reading the report's sessions back from their temporary file: {error}"
                ))
            },
            |row| seq.serialize_element(row),
        )?;
        seq.end()
    }
}

impl<R: Clone> Clone for Rows<R> {
    fn clone(&self) -> Rows<R> {
        Rows {
            kept: self.kept.clone(),
            len: self.len,
            spilled: self.spilled.clone(),
            from: self.from,
            pick: self.pick,
            make: self.make,
        }
    }
}

/// Equal when every row is (rows that cannot be read back are not equal to any).
impl<R: Clone + PartialEq> PartialEq for Rows<R> {
    fn eq(&self, other: &Rows<R>) -> bool {
        self.len == other.len && matches!((self.to_vec(), other.to_vec()), (Ok(a), Ok(b)) if a == b)
    }
}

impl<R: std::fmt::Debug> std::fmt::Debug for Rows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("len", &self.len)
            .field("kept", &self.kept)
            .finish_non_exhaustive()
    }
}

/// A [`Rows`] as its sessions come, in creation order.
struct RowsBuilder<R> {
    kept: Vec<R>,
    len: u64,
    from: u64,
    pick: fn(&Placed) -> bool,
    make: fn(&Placed) -> R,
}

impl<R> RowsBuilder<R> {
    fn new(pick: fn(&Placed) -> bool, make: fn(&Placed) -> R) -> RowsBuilder<R> {
        RowsBuilder {
            kept: Vec::new(),
            len: 0,
            from: 0,
            pick,
            make,
        }
    }

    /// The next session, number `number` in the file the rows will be read from.
    fn offer(&mut self, placed: &Placed, number: u64) {
        if (self.pick)(placed) {
            self.len += 1;
            if self.kept.len() < ROWS_KEPT {
                self.kept.push((self.make)(placed));
                self.from = number + 1;
            }
        }
    }

    /// The rows, the rest read from `spilled` (every session offered, written in order).
    fn build(self, spilled: Option<Arc<Spilled<Placed>>>) -> Rows<R> {
        Rows {
            kept: self.kept,
            len: self.len,
            spilled,
            from: self.from,
            pick: self.pick,
            make: self.make,
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
    /// What was read (`--trail` paths, the Athena query); one string in JSON.
    pub history: Described,
    pub baseline: Option<String>,
    /// Files (units) read, damaged ones included.
    pub files: u64,
    /// Of `files`, the chunks of an Athena result it was read in (about 2 MB each).
    pub chunks: u64,
    /// Log files found in a folder or an S3 prefix and not read, not counted in `files`: their
    /// names say CloudTrail delivered them before `--since`, and a file holds only records
    /// from before its delivery.
    pub files_left_out: u64,
    /// `--since`/`--until` (the query's window with `--athena`): Glue records outside it are
    /// counted, not judged.
    #[serde(skip_serializing_if = "Shown::is_open")]
    pub window: Shown,
    /// Every record read, Glue's or not.
    pub records: u64,
    pub unreadable_records: u64,
    /// Where one of them is and why it could not be read (`file: reason`; an Athena row's
    /// number and column), the first by name; absent when every record was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable_example: Option<String>,
    /// `CreateSession` records that created no session (failed calls).
    pub create_session_not_judged: u64,
    /// Records of the calls a backtest reads (`CreateSession`, `StopSession`, `DeleteSession`,
    /// `StartJobRun`, `CreateJob`, `UpdateJob`) read from outside `window`: counted, not
    /// judged.
    pub outside_window: u64,
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
    /// `dpu_hours.total` × the price, to a millionth of a dollar: an upper bound when
    /// `dpu_hours.upper_bound` > 0.
    pub cost_usd: f64,
    /// The stopped sessions, in creation order.
    pub violating: Rows<SessionRow>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// The job runs and definitions, when the policy or the baseline guards jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsReport>,
    /// Each team budget over the history: how often it was exceeded, when, and which sessions
    /// the guard would have stopped for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<super::budgets::BudgetReplay>,
    /// Against a baseline (when either has budgets): what the budgets stop under one and not
    /// the other.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_changes: Option<super::budgets::BudgetChanges>,
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
#[derive(Default)]
struct Places {
    accounts: BTreeMap<String, PlaceTotals>,
    regions: BTreeMap<String, PlaceTotals>,
}

impl Places {
    /// The next session in creation order; `stopped`: its DPU-hours when the policy stops it
    /// (0 when not known).
    fn add(&mut self, session: &JudgedSession, stopped: Option<f64>) {
        let add = |totals: &mut BTreeMap<String, PlaceTotals>, place: Option<&str>| {
            let key = place.unwrap_or(UNKNOWN_PLACE);
            let entry = match totals.get_mut(key) {
                Some(entry) => entry,
                None => totals.entry(key.to_string()).or_default(),
            };
            entry.sessions += 1;
            if let Some(dpu_hours) = stopped {
                entry.violations += 1;
                entry.dpu_hours += dpu_hours;
            }
        };
        add(&mut self.accounts, session.account.as_deref());
        add(&mut self.regions, session.region.as_deref());
    }
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
                baseline_dpus: None,
            },
            holder: None,
            lapse: None,
            baseline_lapse: None,
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

    /// The sorts order by `prefix` first: it must agree with the items' order. Checked over
    /// every pair of sessions and ends of several ids and times (unknown times included).
    #[test]
    fn the_sort_prefixes_agree_with_the_order() {
        use super::super::spill::Sortable;
        let fine = || judgement(Decision::Compliant, &[]);
        let times = [
            "2026-11-29T09:00:00Z",
            "2026-11-29T09:00:01Z",
            "1969-12-31T23:59:59Z",
        ];
        let mut by_session = Vec::new();
        let mut placed = Vec::new();
        for id in ["a", "b", "bench-10", "bench-9", ""] {
            for at in times {
                by_session.push(BySession::End(end(id, at)));
                let mut unknown = session(id, at, 2.0, fine(), fine());
                unknown.created_at = None;
                for item in [session(id, at, 2.0, fine(), fine()), unknown] {
                    placed.push(Placed {
                        session: item.clone(),
                        end: None,
                    });
                    by_session.push(BySession::Session(item));
                }
            }
        }
        fn agree<T: Sortable + std::fmt::Debug>(items: &[T]) {
            for a in items {
                for b in items {
                    if a.prefix() < b.prefix() {
                        assert!(a < b, "{a:?} before {b:?} by prefix only");
                    }
                }
            }
        }
        agree(&by_session);
        agree(&placed);
        // Each id's items are together in the first sort, whatever the hash puts between ids.
        by_session.sort();
        let ids: Vec<&str> = by_session.iter().map(BySession::session_id).collect();
        let mut runs = ids.clone();
        runs.dedup();
        assert_eq!(runs.len(), 5, "{ids:?}");
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
        let report = tally.report(&inputs, sessions_only()).unwrap();
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
        let report = tally.report(&inputs(), sessions_only()).unwrap();
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
        assert!((report.cost_usd - hours.total * 0.5).abs() < 1e-6);
        let comparison = report.comparison.unwrap();
        assert_eq!(comparison.newly_violating.to_vec().unwrap(), ["a", "c"]);
        assert_eq!(comparison.no_longer_violating.to_vec().unwrap(), ["d"]);
        assert_eq!(comparison.baseline_violations, 2);
        assert_eq!(comparison.newly_violating_dpu_hours.total, 7.0);
    }

    /// A history of `n` sessions over a few ids (reused), every seventh record read twice, ends
    /// before, between and after them, and judgements that differ from the baseline's.
    fn long_history(n: usize) -> (Vec<JudgedSession>, Vec<SessionEnd>) {
        let stop = || judgement(Decision::Violation, &["max_workers"]);
        let fine = || judgement(Decision::Compliant, &[]);
        let at = |minute: usize| {
            super::super::time::format_rfc3339(
                parse_rfc3339("2026-11-01T00:00:00Z").unwrap() + (minute as i64) * 60,
            )
        };
        let mut sessions = Vec::new();
        let mut ends = Vec::new();
        for i in 0..n {
            // Scattered in time, not in id order.
            let minute = (i * 7919) % (n * 3);
            let id = format!("s{}", i % 37);
            let (policy, baseline) = match i % 4 {
                0 => (stop(), fine()),
                1 => (fine(), stop()),
                2 => (stop(), stop()),
                _ => (fine(), fine()),
            };
            let mut session = session(&id, &at(minute), (i % 5) as f64, policy, baseline);
            if i % 13 == 7 {
                session.event_id = None;
            }
            if i % 101 == 50 {
                // A time that cannot be read: no end is its own.
                session.event_time = Some(format!("not a time {i}").into());
                session.created_at = None;
            }
            if i % 7 == 0 {
                sessions.push(session.clone());
            }
            sessions.push(session);
            if i % 3 == 0 {
                ends.push(end(&id, &at(minute + 1 + i % 90)));
            }
            if i % 11 == 5 {
                // An end at the very instant of creation is the session's own.
                ends.push(end(&id, &at(minute)));
            }
        }
        (sessions, ends)
    }

    /// Sessions sorted and joined on disk, in runs of three, merged from several tallies, give
    /// the report the tally holding them in memory gives; and each stopped session's end is the
    /// first of its id at or after its creation, found here by brute force.
    #[test]
    fn a_history_sorted_on_disk_reports_as_one_in_memory() {
        let (sessions, ends) = long_history(600);
        let harvest = |sessions: &[JudgedSession], ends: &[SessionEnd]| {
            let mut harvest = Harvest::of("trail");
            harvest.sessions = sessions.to_vec();
            harvest.ends = ends.to_vec();
            harvest
        };
        let parts = || {
            sessions.chunks(100).enumerate().map(|(part, chunk)| {
                let part_ends = if part == 0 { &ends[..] } else { &[][..] };
                harvest(chunk, part_ends)
            })
        };
        let mut in_memory = Tally::default();
        parts().for_each(|part| in_memory.add(part));
        let in_memory = in_memory.report(&inputs(), sessions_only()).unwrap();

        let mut on_disk = Tally::with_run_items(3);
        for part in parts() {
            let mut tally = Tally::with_run_items(3);
            tally.add(part);
            on_disk = on_disk.merge(tally);
        }
        let on_disk = on_disk.report(&inputs(), sessions_only()).unwrap();
        assert!(
            in_memory.violating.len() > ROWS_KEPT,
            "rows are read from disk"
        );
        // The edges are there: a session of no known time, and one that ended as it began.
        let rows = in_memory.violating.to_vec().unwrap();
        assert!(
            rows.iter()
                .any(|row| row.created.as_deref().is_some_and(|c| c.starts_with("not")))
        );
        assert!(rows.iter().any(|row| row.cost.hours == Some(0.0)));
        let json = |report: &Report| serde_json::to_string(report).unwrap();
        assert!(json(&on_disk) == json(&in_memory), "the reports differ");
        assert!(on_disk == in_memory);
        assert_eq!(on_disk.files, 7);

        // The oracle: distinct records, in creation order, each with its first end.
        let mut distinct: Vec<&JudgedSession> = Vec::new();
        for session in &sessions {
            if !distinct.contains(&session) {
                distinct.push(session);
            }
        }
        assert_eq!(on_disk.sessions, distinct.len() as u64);
        assert_eq!(
            on_disk.duplicate_sessions,
            (sessions.len() - distinct.len()) as u64
        );
        distinct.sort_by(|a, b| {
            (a.created_at, &a.session_id, &a.event_id, &a.event_time).cmp(&(
                b.created_at,
                &b.session_id,
                &b.event_id,
                &b.event_time,
            ))
        });
        let expected: Vec<(String, Duration, Option<f64>)> = distinct
            .iter()
            .filter(|s| s.under_policy.stops())
            .map(|s| {
                let first_end = s.created_at.and_then(|created| {
                    ends.iter()
                        .filter(|e| e.session_id == s.session_id && e.at >= created)
                        .map(|e| e.at)
                        .min()
                });
                let hours = match (first_end, s.created_at) {
                    (Some(at), Some(created)) => ((at - created) as f64 / 3600.0).min(2.0),
                    _ => 2.0,
                };
                let duration = match first_end {
                    Some(_) => Duration::Measured,
                    None => Duration::UpperBound,
                };
                (s.session_id.to_string(), duration, Some(hours))
            })
            .collect();
        let rows: Vec<(String, Duration, Option<f64>)> = on_disk
            .violating
            .to_vec()
            .unwrap()
            .into_iter()
            .map(|row| {
                (
                    row.session_id.to_string(),
                    row.cost.duration,
                    row.cost.hours,
                )
            })
            .collect();
        assert_eq!(rows, expected);
        let comparison = on_disk.comparison.unwrap();
        assert!(comparison.changes.len() > ROWS_KEPT);
        assert_eq!(
            comparison.newly_violating.len() + comparison.no_longer_violating.len(),
            comparison.changes.len()
        );
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
        let report = tally
            .merge(other)
            .report(&inputs(), sessions_only())
            .unwrap();
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
        let report = tally.report(&inputs(), sessions_only()).unwrap();
        assert_eq!(report.dpu_hours.sessions_unknown_dpu, 1);
        assert_eq!(report.dpu_hours.total, 0.0);
        let unknown = report.violating.kept()[0].cost.unknown.as_ref().unwrap();
        assert_eq!(
            serde_json::to_value(unknown).unwrap(),
            "DPUs unknown: worker type \"Q.9X\" has no known DPU figure"
        );
        let comparison = report.comparison.unwrap();
        assert_eq!(comparison.other_rules.to_vec().unwrap(), ["a"]);
        assert_eq!(comparison.changes.kept()[0].change, ChangeKind::OtherRules);
    }

    /// Stopped under both for other rules, the baseline's from an exception's expiry: the
    /// change gives the baseline's instant too (and the policy's none: at its creation).
    #[test]
    fn a_change_for_other_rules_keeps_the_baselines_expiry() {
        let mut s = session(
            "a",
            "2026-11-29T09:00:00Z",
            1.0,
            judgement(Decision::Violation, &["max_dpu"]),
            judgement(Decision::Compliant, &[]),
        );
        s.baseline_lapse = Some(Lapse {
            at: parse_rfc3339("2026-11-29T10:00:00Z").unwrap(),
            judgement: Arc::new(judgement(Decision::Violation, &["max_workers"])),
        });
        let mut harvest = Harvest::of("a");
        harvest.sessions = vec![s];
        let mut tally = Tally::default();
        tally.add(harvest);
        let report = tally.report(&inputs(), sessions_only()).unwrap();
        let comparison = report.comparison.unwrap();
        let change = &comparison.changes.kept()[0];
        assert_eq!(change.change, ChangeKind::OtherRules);
        assert_eq!(
            change.baseline_exception_expired_at.as_deref(),
            Some("2026-11-29T10:00:00Z")
        );
        assert_eq!(change.exception_expired_at, None);
        assert_eq!(change.before.rules[..], [Name::from("max_workers")]);
    }

    /// A session the baseline stops is priced with the baseline's DPUs where its
    /// `worker_type_dpu` makes them other than the policy's: the baseline's total, and a
    /// change no longer stopped (priced on the baseline's side).
    #[test]
    fn a_session_the_baseline_stops_is_priced_with_the_baselines_dpus() {
        let stop = || judgement(Decision::Violation, &["max_workers"]);
        let pass = || judgement(Decision::Compliant, &[]);
        let mut changed = session("a", "2026-11-29T09:00:00Z", 8.0, pass(), stop());
        changed.capacity.baseline_dpus = Some(Box::new(Ok(6.0)));
        let mut both = session("b", "2026-11-29T09:00:00Z", 8.0, stop(), stop());
        both.capacity.baseline_dpus = Some(Box::new(Err(
            "worker type \"X.3X\" has no known DPU figure".into(),
        )));
        let mut harvest = Harvest::of("a");
        harvest.sessions = vec![changed, both];
        let mut tally = Tally::default();
        tally.add(harvest);
        let report = tally.report(&inputs(), sessions_only()).unwrap();
        // The policy's own figure: 8 DPUs for the 2-hour timeout of b.
        assert_eq!(report.dpu_hours.total, 16.0);
        let comparison = report.comparison.unwrap();
        assert_eq!(comparison.baseline_dpu_hours.total, 12.0);
        assert_eq!(comparison.baseline_dpu_hours.sessions_unknown_dpu, 1);
        let change = &comparison.changes.kept()[0];
        assert_eq!(change.change, ChangeKind::NoLongerViolating);
        assert_eq!(
            (change.cost.dpus, change.cost.dpu_hours),
            (Some(6.0), Some(12.0))
        );
    }
}
