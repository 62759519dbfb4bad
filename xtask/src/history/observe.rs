//! What one CloudTrail record tells a backtest, and what one log file gave: the vocabulary the
//! reading side hands to the pure report. A successful `CreateSession` becomes a
//! [`JudgedSession`] (judged under the policy and the baseline, with the DPUs and timeout its
//! cost needs); a successful `StopSession` or `DeleteSession` becomes a [`SessionEnd`]; a
//! successful `StartJobRun`, `CreateJob` or `UpdateJob` is kept for the jobs' judgement
//! (`super::jobs`); every other record is only counted. No I/O.

use std::sync::Arc;

use policy::budgets::{Holder, HolderKind};
use policy::catalogue::CommandName;
use policy::json::Json;
use policy::{Fact, Policy, ProfileLookup, SessionFacts};
use serde::{Deserialize, Serialize};

use super::time::{UnixSeconds, parse_rfc3339};

/// The `eventSource` of Glue's records. A record whose text lacks it (quoted) is never parsed.
pub const GLUE_EVENT_SOURCE: &str = "glue.amazonaws.com";

/// The Glue calls a backtest reads; every other record is only counted.
pub(crate) const READ_EVENTS: &[&str] = &[
    "CreateSession",
    "StopSession",
    "DeleteSession",
    "StartJobRun",
    "CreateJob",
    "UpdateJob",
];

/// Whether a record with this `eventSource` and `eventName` is worth parsing whole. `None`
/// (the record does not say at the top, e.g. an EventBridge envelope) is worth it.
pub(crate) fn worth_parsing(event_source: Option<&str>, event_name: Option<&str>) -> bool {
    match (event_source, event_name) {
        (Some(GLUE_EVENT_SOURCE), Some(name)) => READ_EVENTS.contains(&name),
        (Some(GLUE_EVENT_SOURCE), None) | (None, _) => true,
        (Some(_), _) => false,
    }
}

/// The policies every session is judged under.
#[derive(Clone, Copy)]
pub struct Judges<'p> {
    pub policy: &'p Policy,
    /// The policy to compare with (`--baseline`, `--baseline-rev`).
    pub baseline: Option<&'p Policy>,
    /// The stretch of history judged (`--since`, `--until`): Glue records outside it are only
    /// counted.
    pub window: Window,
}

impl Judges<'_> {
    /// Whether job runs and definitions are judged: the policy or the baseline guards jobs (a
    /// `jobs` section), so that a change that adds or removes the section shows what it does.
    pub fn guard_jobs(&self) -> bool {
        self.policy.jobs.is_some() || self.baseline.is_some_and(|b| b.jobs.is_some())
    }
}

/// `[since, until)`, instants of a record's `eventTime`; either end open when `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<UnixSeconds>,
    pub until: Option<UnixSeconds>,
}

impl Window {
    /// All of history.
    pub const ALL: Window = Window {
        since: None,
        until: None,
    };

    /// Whether a record of `eventTime` `event_time` came before the window's end (`--until`):
    /// a job definition written then still defines the runs inside the window.
    pub fn reaches(&self, event_time: Option<&str>) -> bool {
        let at = event_time.and_then(parse_rfc3339);
        match (self.until, at) {
            (None, _) => true,
            (Some(until), Some(at)) => at < until,
            (Some(_), None) => false,
        }
    }

    /// Whether a record of `eventTime` `event_time` is inside. A record whose time cannot be
    /// read is inside only when the window is open at both ends (it cannot be placed).
    pub fn holds(&self, event_time: Option<&str>) -> bool {
        if *self == Window::ALL {
            return true;
        }
        let Some(at) = event_time.and_then(parse_rfc3339) else {
            return false;
        };
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }
}

pub use super::judgement::{Judgement, Name, Names, Rules};

/// What a session's cost needs: its DPUs and its timeout, each resolved as `evaluate` resolves
/// them (Glue's documented defaults for what the creator left out), or why it is not known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Under the policy (its `worker_type_dpu`).
    pub dpus: Result<f64, Name>,
    pub timeout_minutes: Result<u64, Name>,
    /// Under the baseline, only where its `worker_type_dpu` makes them other than `dpus`
    /// (a worker type the catalogue lacks, given another figure or none): a session the
    /// baseline stops is priced with them. Boxed: almost every session has none.
    pub baseline_dpus: Option<Box<Result<f64, Name>>>,
}

/// One successful `CreateSession`, judged. Kept, for every session, until the report (on disk
/// once there are many: `super::spill`): its own texts are boxed (no spare capacity) and what it
/// shares with others is a [`Name`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedSession {
    pub session_id: Box<str>,
    /// CloudTrail's `eventID`: the same record read twice (overlapping sources) counts once.
    pub event_id: Option<EventId>,
    /// `eventTime` as written.
    pub event_time: Option<Box<str>>,
    /// `eventTime`, read.
    pub created_at: Option<UnixSeconds>,
    #[serde(with = "shared::option_name")]
    pub principal: Option<Name>,
    /// The account the session was created in (`recipientAccountId`), and its Region
    /// (`awsRegion`), for the per-account and per-Region summary.
    #[serde(with = "shared::option_name")]
    pub account: Option<Name>,
    #[serde(with = "shared::option_name")]
    pub region: Option<Name>,
    /// Shared with the unit's other sessions judged the same.
    #[serde(with = "shared::judgement")]
    pub under_policy: Arc<Judgement>,
    #[serde(with = "shared::option_judgement")]
    pub under_baseline: Option<Arc<Judgement>>,
    pub capacity: Capacity,
    /// The session as a team budget sees it (its creator, tags, DPUs, and whether the policy's
    /// own boundaries stop it), when a budget of the policy or of the baseline counts it or may
    /// (its creator or tags unknown); `None` for every other session. Its DPUs are read under
    /// the policy (its `worker_type_dpu`); the baseline's replay takes
    /// [`Capacity::baseline_dpus`] where they differ.
    /// Boxed: most sessions have none, and a long history keeps every session until the end.
    #[serde(with = "holder_as_json")]
    pub holder: Option<Box<Holder>>,
    /// Under the policy: an exception that let the session run expires while it may still run,
    /// and from then on it is a violation ([`policy::lapse`]): the deployed sweep stops it at
    /// that instant. The report keeps it only when the session was still running then (its
    /// end, once joined), and judges the session by it.
    pub lapse: Option<Lapse>,
    /// The same under the baseline.
    pub baseline_lapse: Option<Lapse>,
}

/// When an exception stops covering a running session, and its judgement from then on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lapse {
    /// The exception's expiry.
    pub at: UnixSeconds,
    #[serde(with = "shared::judgement")]
    pub judgement: Arc<Judgement>,
}

/// What sessions share, on disk (`super::spill`) as in memory: read back, each name and
/// judgement is made once per reading thread and shared by the sessions that name it (the
/// allocations of reading them back were most of the cost of keeping sessions on disk). A
/// judgement is written as its own encoding (bytes), which is the key it is found by.
mod shared {
    use foldhash::{HashMap, HashSet};
    use std::cell::RefCell;
    use std::fmt;
    use std::sync::Arc;

    use serde::de::{self, Deserializer, Visitor};
    use serde::{Deserialize, Serialize, Serializer};

    use super::{Judgement, Name};

    /// Entries a thread's cache holds before it starts again (a bound, not a size any history
    /// reaches: names and judgements repeat).
    const MOST: usize = 1 << 16;

    thread_local! {
        static NAMES: RefCell<HashSet<Name>> = RefCell::new(HashSet::default());
        static JUDGEMENTS: RefCell<HashMap<Box<[u8]>, Arc<Judgement>>> =
            RefCell::new(HashMap::default());
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    fn name_of(text: &str) -> Name {
        NAMES.with_borrow_mut(|names| {
            if let Some(name) = names.get(text) {
                return name.clone();
            }
            if names.len() >= MOST {
                names.clear();
            }
            let name = Name::from(text);
            names.insert(name.clone());
            name
        })
    }

    fn judgement_of<E: de::Error>(bytes: &[u8]) -> Result<Arc<Judgement>, E> {
        JUDGEMENTS.with_borrow_mut(|judgements| {
            if let Some(judgement) = judgements.get(bytes) {
                return Ok(judgement.clone());
            }
            let judgement: Arc<Judgement> =
                Arc::new(postcard::from_bytes(bytes).map_err(E::custom)?);
            if judgements.len() >= MOST {
                judgements.clear();
            }
            judgements.insert(bytes.into(), judgement.clone());
            Ok(judgement)
        })
    }

    struct NameVisitor;

    impl Visitor<'_> for NameVisitor {
        type Value = Name;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a text")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Name, E> {
            Ok(name_of(text))
        }
    }

    struct JudgementVisitor;

    impl Visitor<'_> for JudgementVisitor {
        type Value = Arc<Judgement>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a judgement's encoding")
        }

        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Arc<Judgement>, E> {
            judgement_of(bytes)
        }
    }

    #[derive(Serialize, Deserialize)]
    struct SharedName(#[serde(with = "name")] Name);

    #[derive(Serialize, Deserialize)]
    struct SharedJudgement(#[serde(with = "judgement")] Arc<Judgement>);

    pub mod name {
        use super::*;

        pub fn serialize<S: Serializer>(name: &Name, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(name)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
            deserializer.deserialize_str(NameVisitor)
        }
    }

    pub mod option_name {
        use super::*;

        pub fn serialize<S: Serializer>(
            name: &Option<Name>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            name.as_ref()
                .map(|name| SharedName(name.clone()))
                .serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Name>, D::Error> {
            Ok(Option::<SharedName>::deserialize(deserializer)?.map(|shared| shared.0))
        }
    }

    pub mod judgement {
        use super::*;

        pub fn serialize<S: Serializer>(
            judgement: &Arc<Judgement>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            SCRATCH.with_borrow_mut(|scratch| {
                crate::history::spill::encode(&**judgement, scratch)
                    .map_err(serde::ser::Error::custom)?;
                serializer.serialize_bytes(scratch)
            })
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Arc<Judgement>, D::Error> {
            deserializer.deserialize_bytes(JudgementVisitor)
        }
    }

    pub mod option_judgement {
        use super::*;

        pub fn serialize<S: Serializer>(
            judgement: &Option<Arc<Judgement>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            judgement
                .as_ref()
                .map(|judgement| SharedJudgement(judgement.clone()))
                .serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Arc<Judgement>>, D::Error> {
            Ok(Option::<SharedJudgement>::deserialize(deserializer)?.map(|shared| shared.0))
        }
    }
}

/// A [`Holder`] on disk, as its JSON text: its serde shape leaves out empty fields (JSON's
/// way), which a compact encoding without field names cannot read back.
mod holder_as_json {
    use policy::budgets::Holder;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        holder: &Option<Box<Holder>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let text = holder
            .as_deref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(serde::ser::Error::custom)?;
        text.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Box<Holder>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| serde_json::from_str(&text).map(Box::new))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// CloudTrail's `eventID`, for telling a record read twice: a UUID (as CloudTrail writes them,
/// lower-case) held as its 16 bytes, anything else as written. Two ids are the same exactly
/// when their texts are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventId {
    Uuid(u128),
    Text(Box<str>),
}

impl EventId {
    pub fn of(text: &str) -> EventId {
        match Self::uuid(text.as_bytes()) {
            Some(value) => EventId::Uuid(value),
            None => EventId::Text(text.into()),
        }
    }

    /// A UUID as CloudTrail writes one (lower-case hex, dashes at 8, 13, 18 and 23): its 128
    /// bits. Anything else: `None`.
    fn uuid(bytes: &[u8]) -> Option<u128> {
        if bytes.len() != 36 {
            return None;
        }
        let mut value = 0u128;
        for (at, &byte) in bytes.iter().enumerate() {
            let digit = match (at, byte) {
                (8 | 13 | 18 | 23, b'-') => continue,
                (8 | 13 | 18 | 23, _) => return None,
                (_, b'0'..=b'9') => byte - b'0',
                (_, b'a'..=b'f') => byte - b'a' + 10,
                _ => return None,
            };
            value = value << 4 | u128::from(digit);
        }
        Some(value)
    }
}

/// A successful `StopSession` or `DeleteSession`: when the session named by
/// `requestParameters.id` stopped billing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    pub session_id: Box<str>,
    pub at: UnixSeconds,
}

/// What one record tells a backtest.
#[derive(Debug)]
pub enum Observation {
    Created(Box<JudgedSession>),
    Ended(SessionEnd),
    /// A `CreateSession` record that created no session (a failed call), or one that cannot be
    /// judged (it names no session).
    CreateNotJudged,
    /// A successful `StartJobRun`, `CreateJob` or `UpdateJob`: judged once every file is read
    /// (a run's definition may be in another file).
    Job(super::jobs::JobRecords),
    /// One of the calls a backtest reads ([`READ_EVENTS`]), outside `--since`/`--until`: counted,
    /// not judged.
    OutsideWindow,
    /// Any other record.
    Other,
}

/// Reads one record (bare, or in its EventBridge envelope); the texts its session shares with
/// others come from `names`.
pub(crate) fn observe<J: Json>(record: &J, judges: Judges<'_>, names: &mut Names) -> Observation {
    let inner = match record.get("detail") {
        Some(detail) if detail.is_object() => detail,
        _ => record,
    };
    let text = |key: &str| inner.get(key).and_then(J::as_str);
    if text("eventSource") != Some(GLUE_EVENT_SOURCE) {
        return Observation::Other;
    }
    if !judges.window.holds(text("eventTime")) {
        return match text("eventName") {
            // A definition written before the window still defines the runs in it: kept for
            // them, neither judged nor counted as written.
            Some("CreateJob" | "UpdateJob") if judges.window.reaches(text("eventTime")) => {
                let mut one = super::jobs::JobRecords::default();
                if one.add_before_window(record) {
                    Observation::Job(one)
                } else {
                    Observation::Other
                }
            }
            Some(name) if READ_EVENTS.contains(&name) => Observation::OutsideWindow,
            _ => Observation::Other,
        };
    }
    match text("eventName") {
        Some("CreateSession") => match policy::read_create_session(record) {
            Ok(created) => {
                let facts = created.facts(None);
                let event_time = text("eventTime").map(str::to_string);
                let created_at = event_time.as_deref().and_then(parse_rfc3339);
                let verdict = policy::evaluate(judges.policy, &facts);
                let mut capacity = capacity(judges.policy, &facts, names);
                if let Some(baseline) = judges
                    .baseline
                    .filter(|b| b.worker_type_dpu != judges.policy.worker_type_dpu)
                {
                    let dpus = self::capacity(baseline, &facts, names).dpus;
                    capacity.baseline_dpus = Some(dpus)
                        .filter(|dpus| *dpus != capacity.dpus)
                        .map(Box::new);
                }
                // The last instant it may run: its timeout after its creation (not known: any
                // expiry, which the report keeps only for a session whose end it reads after).
                let until = created_at
                    .zip(capacity.timeout_minutes.as_ref().ok())
                    .map_or(UnixSeconds::MAX, |(at, &minutes)| {
                        at.saturating_add(minutes as UnixSeconds * 60)
                    });
                let mut lapse = |policy: &policy::Policy, verdict: &policy::Verdict| {
                    policy::lapse(policy, &facts, verdict, until).map(|(at, later)| Lapse {
                        at,
                        judgement: names.judgement(&later),
                    })
                };
                let policy_lapse = lapse(judges.policy, &verdict);
                let baseline_verdict = judges
                    .baseline
                    .map(|baseline| (baseline, policy::evaluate(baseline, &facts)));
                let baseline_lapse = baseline_verdict
                    .as_ref()
                    .and_then(|(baseline, verdict)| lapse(baseline, verdict));
                // Kept only for a session some budget (of the policy or of the baseline) may
                // count: the replay skips the others, and a long history holds many sessions.
                let budgeted = |policy: &policy::Policy, holder: &Holder| {
                    !policy::budgets::budgets_of(policy, holder).is_empty()
                };
                let any_budget = !judges.policy.budgets.is_empty()
                    || judges.baseline.is_some_and(|b| !b.budgets.is_empty());
                let holder = any_budget
                    .then(|| {
                        Holder::from_verdict(
                            HolderKind::Session,
                            facts.session_id.clone(),
                            created_at.unwrap_or_default().saturating_mul(1000),
                            &verdict,
                            facts.principal.clone(),
                            policy::budgets::known_tags(&facts.tags),
                        )
                    })
                    .filter(|holder| {
                        budgeted(judges.policy, holder)
                            || judges.baseline.is_some_and(|b| budgeted(b, holder))
                    })
                    .map(Box::new);
                Observation::Created(Box::new(JudgedSession {
                    session_id: facts.session_id.as_str().into(),
                    event_id: text("eventID").map(EventId::of),
                    created_at,
                    event_time: event_time.map(String::into_boxed_str),
                    principal: facts.principal.as_ref().map(|p| names.name(&p.arn)),
                    account: text("recipientAccountId").map(|account| names.name(account)),
                    region: text("awsRegion").map(|region| names.name(region)),
                    under_policy: names.judgement(&verdict),
                    under_baseline: baseline_verdict.map(|(_, verdict)| names.judgement(&verdict)),
                    capacity,
                    holder,
                    lapse: policy_lapse,
                    baseline_lapse,
                }))
            }
            Err(_) => Observation::CreateNotJudged,
        },
        Some("StartJobRun" | "CreateJob" | "UpdateJob") => {
            let mut one = super::jobs::JobRecords::default();
            if one.add(record) {
                Observation::Job(one)
            } else {
                Observation::Other
            }
        }
        Some("StopSession" | "DeleteSession") => {
            let failed = inner.get("errorCode").is_some_and(|code| !code.is_null());
            let id = inner
                .get("requestParameters")
                .and_then(|request| request.get("id"))
                .and_then(J::as_str)
                .filter(|id| !id.is_empty());
            match (failed, id, text("eventTime").and_then(parse_rfc3339)) {
                (false, Some(id), Some(at)) => Observation::Ended(SessionEnd {
                    session_id: id.into(),
                    at,
                }),
                _ => Observation::Other,
            }
        }
        _ => Observation::Other,
    }
}

/// The defaults that applied to what the creator left out, as `evaluate` finds them: the usage
/// profile's where the session has one and its definition is known, else Glue's documented
/// defaults for the session type; or why they are not known.
struct LeftOut {
    number_of_workers: Result<u64, String>,
    worker_type: Result<String, String>,
    timeout_minutes: Result<u64, String>,
}

impl LeftOut {
    fn of(facts: &SessionFacts) -> LeftOut {
        let glue = match &facts.command {
            Fact::Given(name) => CommandName::from_name(name)
                .map(CommandName::documented_session_defaults)
                .ok_or_else(|| {
                    format!(
                        "Glue documents no defaults for sessions of command {}",
                        policy::quoted(name)
                    )
                }),
            _ => Err("the session's command (Command.Name) is not known".to_string()),
        };
        let missing = |what: &str| format!("Glue documents no default {what} for this session");
        let from_glue = LeftOut {
            number_of_workers: glue.clone().and_then(|d| {
                d.number_of_workers
                    .ok_or_else(|| missing("number of workers"))
            }),
            worker_type: glue.clone().and_then(|d| {
                d.worker_type
                    .map(str::to_string)
                    .ok_or_else(|| missing("worker type"))
            }),
            timeout_minutes: glue.and_then(|d| d.timeout_minutes.ok_or_else(|| missing("timeout"))),
        };
        let unknown = |why: String| LeftOut {
            number_of_workers: Err(why.clone()),
            worker_type: Err(why.clone()),
            timeout_minutes: Err(why),
        };
        match (&facts.profile_name, &facts.usage_profile) {
            (Fact::Omitted, _) => from_glue,
            (Fact::Given(_), ProfileLookup::Found(profile)) => LeftOut {
                number_of_workers: profile
                    .number_of_workers
                    .map_or(from_glue.number_of_workers, Ok),
                worker_type: profile
                    .worker_type
                    .clone()
                    .map_or(from_glue.worker_type, Ok),
                timeout_minutes: profile
                    .timeout_minutes
                    .map_or(from_glue.timeout_minutes, Ok),
            },
            (Fact::Given(name), _) => unknown(format!(
                "usage profile {} supplies it, and its definition is not known",
                policy::quoted(name)
            )),
            (Fact::Unknown, _) => {
                unknown("the record does not show whether a usage profile supplied it".to_string())
            }
        }
    }
}

fn resolved<T: Clone>(
    fact: &Fact<T>,
    default: &Result<T, String>,
    what: &str,
) -> Result<T, String> {
    match fact {
        Fact::Given(value) => Ok(value.clone()),
        Fact::Omitted => default
            .clone()
            .map_err(|why| format!("{what} left out, and {why}")),
        Fact::Unknown => Err(format!("{what} not readable in the record")),
    }
}

/// The session's DPUs (workers × the DPUs of its worker type, by the policy's catalogue and
/// `worker_type_dpu`, or `MaxCapacity`) and timeout, as `evaluate` resolves them; why one is
/// not known is one of `names`.
pub fn capacity(policy: &Policy, facts: &SessionFacts, names: &mut Names) -> Capacity {
    let left_out = LeftOut::of(facts);
    let capacity_only = matches!(facts.max_capacity, Fact::Given(_))
        && matches!(facts.number_of_workers, Fact::Omitted)
        && matches!(facts.worker_type, Fact::Omitted);
    let by_workers = if capacity_only {
        Err("MaxCapacity given instead of workers".to_string())
    } else {
        resolved(
            &facts.number_of_workers,
            &left_out.number_of_workers,
            "NumberOfWorkers",
        )
        .and_then(|workers| {
            let worker_type = resolved(&facts.worker_type, &left_out.worker_type, "WorkerType")?;
            match policy.dpu_per_worker(&worker_type) {
                Some(per_worker) => Ok(workers as f64 * per_worker),
                None => Err(format!(
                    "worker type {} has no known DPU figure",
                    policy::quoted(&worker_type)
                )),
            }
        })
    };
    let dpus = match (by_workers, &facts.max_capacity) {
        (Ok(dpus), _) => Ok(dpus),
        (Err(_), Fact::Given(capacity)) => Ok(*capacity),
        (Err(why), _) => Err(why),
    };
    Capacity {
        dpus: dpus.map_err(|why| names.name(&why)),
        timeout_minutes: resolved(&facts.timeout_minutes, &left_out.timeout_minutes, "Timeout")
            .map_err(|why| names.name(&why)),
        baseline_dpus: None,
    }
}

/// What one log file (or other named input) gave.
#[derive(Debug, Default)]
pub struct Harvest {
    /// The file, as shown in messages.
    pub file: String,
    /// Every record read, Glue's or not.
    pub records: u64,
    /// Elements that could not be read as records (a `CloudTrailEvent` that is not JSON).
    pub unreadable_records: u64,
    /// Why the first of them could not be read (for an Athena row, its number and column).
    pub unreadable_example: Option<String>,
    pub create_not_judged: u64,
    /// Records of the calls a backtest reads outside `--since`/`--until`.
    pub outside_window: u64,
    pub sessions: Vec<JudgedSession>,
    pub ends: Vec<SessionEnd>,
    /// The job records, judged once every file is read.
    pub jobs: super::jobs::JobRecords,
    /// Why the file could not be read to its end (after the records counted above).
    pub damage: Option<String>,
    /// The texts its sessions share.
    pub names: Names,
    /// It was a chunk of an Athena result, not a file.
    pub chunk: bool,
    /// A log file left out, not read: CloudTrail delivered it before `--since`
    /// (`source::Opened::LeftOut`).
    pub left_out: bool,
}

impl Harvest {
    pub fn of(file: impl Into<String>) -> Harvest {
        Harvest {
            file: file.into(),
            ..Harvest::default()
        }
    }

    /// Reads one record ([`observe`]) and adds what it told.
    pub fn read<J: Json>(&mut self, record: &J, judges: Judges<'_>) {
        let observation = observe(record, judges, &mut self.names);
        self.add(observation);
    }

    /// One record read, and what it told.
    pub fn add(&mut self, observation: Observation) {
        self.records += 1;
        match observation {
            Observation::Created(session) => self.sessions.push(*session),
            Observation::Ended(end) => self.ends.push(end),
            Observation::CreateNotJudged => self.create_not_judged += 1,
            Observation::OutsideWindow => self.outside_window += 1,
            Observation::Job(records) => {
                // A definition kept from before the window is still a record outside it.
                self.outside_window +=
                    records.writes.iter().filter(|w| w.before_window).count() as u64;
                self.jobs.merge(records)
            }
            Observation::Other => {}
        }
    }

    /// A record that could not be read, and why.
    pub fn unreadable(&mut self, why: impl FnOnce() -> String) {
        self.records += 1;
        self.unreadable_records += 1;
        if self.unreadable_example.is_none() {
            self.unreadable_example = Some(why());
        }
    }

    /// Forgets everything read (the file is read again another way).
    pub(crate) fn restart(&mut self) {
        *self = Harvest::of(std::mem::take(&mut self.file));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn policy(boundaries: &str) -> Policy {
        let text = format!(
            "version: 1\nstack: {{name: guard}}\nboundaries: {boundaries}\n\
             worker_type_dpu: {{X.3X: 3}}\n"
        );
        policy::load_policy("p.yaml", text.as_bytes()).unwrap()
    }

    fn create(request: Value) -> Value {
        json!({
            "eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
            "eventTime": "2026-11-29T09:00:00Z", "eventID": "e-1",
            "userIdentity": {"arn": "arn:aws:iam::123456789012:user/bob"},
            "requestParameters": request,
            "responseElements": {"session": {"id": request["id"], "status": "PROVISIONING"}}
        })
    }

    fn created(record: &Value, judges: Judges<'_>) -> JudgedSession {
        match observe(record, judges, &mut Names::default()) {
            Observation::Created(session) => *session,
            other => panic!("{other:?}"),
        }
    }

    /// A UUID is held as its value, anything else as written; the same text is the same id.
    #[test]
    fn event_ids_are_uuids_or_text() {
        let id = "0f5c2f6e-3b1a-4c9d-8e7f-a1b2c3d4e5f6";
        assert_eq!(
            EventId::of(id),
            EventId::Uuid(0x0f5c2f6e_3b1a_4c9d_8e7f_a1b2c3d4e5f6)
        );
        assert_eq!(EventId::of(id), EventId::of(id));
        // Upper case, a missing dash, or another length: kept as text, never equal to the UUID.
        let upper = id.to_uppercase();
        assert_eq!(EventId::of(&upper), EventId::Text(upper.clone().into()));
        assert_ne!(EventId::of(&upper), EventId::of(id));
        assert!(matches!(
            EventId::of(&id.replace('-', "")),
            EventId::Text(_)
        ));
        assert!(matches!(EventId::of("e-1"), EventId::Text(_)));
        assert!(matches!(
            EventId::of(&id.replacen('-', "g", 1)),
            EventId::Text(_)
        ));
    }

    #[test]
    fn a_window_holds_its_start_not_its_end() {
        let window = Window {
            since: parse_rfc3339("2026-11-01T00:00:00Z"),
            until: parse_rfc3339("2026-12-01T00:00:00Z"),
        };
        assert!(window.holds(Some("2026-11-01T00:00:00Z")));
        assert!(window.holds(Some("2026-11-30T23:59:59Z")));
        assert!(!window.holds(Some("2026-12-01T00:00:00Z")));
        assert!(!window.holds(Some("2026-10-31T23:59:59Z")));
        assert!(
            !window.holds(None),
            "a record that cannot be placed is outside a window"
        );
        assert!(Window::ALL.holds(None));
        let open_end = Window {
            until: None,
            ..window
        };
        assert!(open_end.holds(Some("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn a_create_session_is_judged_under_both_policies_with_its_capacity() {
        let (strict, loose) = (policy("{max_workers: 10}"), policy("{max_workers: 20}"));
        let judges = Judges {
            policy: &strict,
            baseline: Some(&loose),
            window: crate::history::Window::ALL,
        };
        let record = create(json!({"id": "s-15", "command": {"name": "glueetl"},
            "numberOfWorkers": 15, "workerType": "G.2X", "timeout": 60}));
        let session = created(&record, judges);
        assert_eq!(&*session.session_id, "s-15");
        assert_eq!(session.event_id, Some(EventId::Text("e-1".into())));
        assert_eq!(session.created_at, parse_rfc3339("2026-11-29T09:00:00Z"));
        assert_eq!(
            session.principal.as_deref(),
            Some("arn:aws:iam::123456789012:user/bob")
        );
        assert!(session.under_policy.stops());
        assert_eq!(session.under_policy.rules[..], [Name::from("max_workers")]);
        assert!(!session.under_baseline.unwrap().stops());
        assert_eq!(session.capacity.dpus, Ok(30.0));
        assert_eq!(session.capacity.timeout_minutes, Ok(60));
        assert_eq!(session.capacity.baseline_dpus, None);
    }

    /// The baseline's DPUs are kept only where its `worker_type_dpu` makes them differ.
    #[test]
    fn the_baselines_dpus_are_kept_where_its_worker_type_dpu_differs() {
        let four = policy::load_policy(
            "b.yaml",
            b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
              worker_type_dpu: {X.3X: 4}\n",
        )
        .unwrap();
        let (strict, same) = (policy("{max_workers: 1}"), policy("{max_workers: 20}"));
        let session = |baseline: &Policy, worker_type: &str| {
            let judges = Judges {
                policy: &strict,
                baseline: Some(baseline),
                window: crate::history::Window::ALL,
            };
            created(
                &create(json!({"id": "s", "command": {"name": "glueetl"},
                    "numberOfWorkers": 2, "workerType": worker_type})),
                judges,
            )
            .capacity
        };
        let capacity = session(&four, "X.3X");
        assert_eq!(capacity.dpus, Ok(6.0));
        assert_eq!(capacity.baseline_dpus, Some(Box::new(Ok(8.0))));
        // A worker type both tables agree on, or the same table: nothing kept.
        assert_eq!(session(&four, "G.2X").baseline_dpus, None);
        assert_eq!(session(&same, "X.3X").baseline_dpus, None);
    }

    #[test]
    fn left_out_settings_take_glue_defaults_or_stay_unknown() {
        let policy = policy("{max_workers: 10}");
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: crate::history::Window::ALL,
        };
        let spark = created(
            &create(json!({"id": "s", "command": {"name": "glueetl"}})),
            judges,
        );
        assert_eq!(spark.capacity.dpus, Ok(5.0));
        assert_eq!(spark.capacity.timeout_minutes, Ok(2880));
        let ray = created(
            &create(json!({"id": "r", "command": {"name": "glueray"}, "workerType": "Z.2X"})),
            judges,
        );
        let why = ray.capacity.dpus.unwrap_err();
        assert!(why.starts_with("NumberOfWorkers left out"), "{why}");
        assert!(ray.capacity.timeout_minutes.is_err());
        let capacity = created(
            &create(json!({"id": "c", "command": {"name": "glueetl"}, "maxCapacity": 7.5})),
            judges,
        );
        assert_eq!(capacity.capacity.dpus, Ok(7.5));
        let custom = created(
            &create(json!({"id": "x", "command": {"name": "glueetl"},
                "numberOfWorkers": 2, "workerType": "X.3X"})),
            judges,
        );
        assert_eq!(custom.capacity.dpus, Ok(6.0));
        let unknown = created(
            &create(json!({"id": "u", "command": {"name": "glueetl"},
                "numberOfWorkers": 2, "workerType": "Quantum"})),
            judges,
        );
        assert_eq!(
            unknown.capacity.dpus,
            Err(Name::from(
                "worker type \"Quantum\" has no known DPU figure"
            ))
        );
        // Without Glue's echo the record cannot say whether a usage profile applied.
        let mut bare = create(json!({"id": "b", "command": {"name": "glueetl"}}));
        bare["responseElements"] = json!({});
        let bare = created(&bare, judges);
        assert!(bare.capacity.dpus.is_err() && bare.capacity.timeout_minutes.is_err());
    }

    #[test]
    fn ends_failed_calls_and_other_records() {
        let policy = policy("{max_workers: 10}");
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: crate::history::Window::ALL,
        };
        let stop = json!({"eventSource": "glue.amazonaws.com", "eventName": "StopSession",
            "eventTime": "2026-11-29T10:30:00Z", "requestParameters": {"id": "s-1"}});
        match observe(&stop, judges, &mut Names::default()) {
            Observation::Ended(end) => {
                assert_eq!(&*end.session_id, "s-1");
                assert_eq!(end.at, parse_rfc3339("2026-11-29T10:30:00Z").unwrap());
            }
            other => panic!("{other:?}"),
        }
        let mut failed_stop = stop.clone();
        failed_stop["errorCode"] = json!("IllegalSessionStateException");
        assert!(matches!(
            observe(&failed_stop, judges, &mut Names::default()),
            Observation::Other
        ));
        let envelope = json!({"detail-type": "AWS API Call via CloudTrail", "detail": stop});
        assert!(matches!(
            observe(&envelope, judges, &mut Names::default()),
            Observation::Ended(_)
        ));
        let mut failed = create(json!({"id": "f", "command": {"name": "glueetl"}}));
        failed["errorCode"] = json!("AccessDeniedException");
        assert!(matches!(
            observe(&failed, judges, &mut Names::default()),
            Observation::CreateNotJudged
        ));
        let s3 = json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"});
        assert!(matches!(
            observe(&s3, judges, &mut Names::default()),
            Observation::Other
        ));
        assert!(matches!(
            observe(&json!([1]), judges, &mut Names::default()),
            Observation::Other
        ));
    }

    #[test]
    fn only_the_glue_calls_read_are_parsed_whole() {
        assert!(worth_parsing(
            Some("glue.amazonaws.com"),
            Some("CreateSession")
        ));
        assert!(worth_parsing(
            Some("glue.amazonaws.com"),
            Some("DeleteSession")
        ));
        assert!(!worth_parsing(
            Some("glue.amazonaws.com"),
            Some("GetSession")
        ));
        assert!(!worth_parsing(
            Some("sts.amazonaws.com"),
            Some("AssumeRole")
        ));
        assert!(worth_parsing(None, None));
    }
}
