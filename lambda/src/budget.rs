//! Team budgets in the function: when a session starts (its event, or the sweep), the DPUs its
//! budgets' members hold are summed from Glue's own list of what runs, and the session that
//! takes a budget over its cap gets a `max_concurrent_dpu` violation (stopped, or in audit mode
//! notified, by the same code as every other violation). Which session goes is decided by
//! `policy::budgets` (creation order, so concurrent invocations agree); this module gathers the
//! holders.
//!
//! # Who created the other sessions: the holder registry
//!
//! Glue's `ListSessions` says what runs and how big, not who created it, and a budget's
//! members are chosen by creator (and tags). So every invocation that judges a session while
//! the policy has budgets first writes the session's creator and tags to the ledger table (an
//! item keyed `holder/session/<id>@<CreatedOn ms>`, kept as long as the ledger's items), and
//! reads those of the sessions it lists with one consistent `BatchGetItem` per 100. A session
//! nobody registered yet (its event is in flight, or was lost) has its tags read with `GetTags`
//! when a budget chooses members by tag; its creator stays unknown until its own event or the
//! sweep (which finds it in CloudTrail) registers it, and until then it is not counted. One
//! created in the minute before the candidate is waited for a little first: its event is
//! usually a moment behind.
//!
//! # A stop needs two readings
//!
//! A session (or job run) found over its budget is looked at again after
//! `Timing::budget_recheck` (a second `ListSessions` and registry read, joined to the first, but
//! for the sessions the second lists as ended): it gets the violation only when it is over in
//! both. A member missing from a listing is mostly
//! the newest, which cannot change the answer, or one nobody registered, which is not counted:
//! that mostly lets a session pass rather than stop it, and the sweep stops it later. The rare
//! case the other way (a missing older member shifts who is over: one it would have taken over
//! the cap fits instead, and a later one is found over) needs the same gap in both readings;
//! docs/enforcer.md says so. The sweep reads once, so it acts for budgets only when it counted
//! every member (`sweep::sweep`).
//!
//! Calls per judged session when the policy has budgets: one `UpdateItem` (the registration);
//! when it belongs to a budget, one `ListSessions` per 1,000 sessions and one `BatchGetItem` per
//! 100 running ones (each again for the second reading, and per wait for a registration), and
//! one `GetTags` per running session nobody registered when a budget chooses members by tag;
//! one more `UpdateItem` when it is over (the violations recorded, [`BUDGET_VIOLATIONS`]), and
//! another when its stop then fails (the record removed, [`unless_stopped`]). A
//! session its own rules stop: the registration only, and no failure of it keeps the stop
//! waiting. One no longer running (a retry after its stop): one `GetItem`.
//!
//! # Job runs in a budget
//!
//! When a budget counts job runs, each reading adds the running runs of every job that started
//! one in the last 7 days (Glue ends a run within 7 days): Glue lists runs per job only, so each
//! registered run also adds its job's name to the registry's index of that day
//! (`index/job_runs/<day>`, a string set; the sweep adds those of the runs it finds), and a
//! reading reads the index (one `BatchGetItem`), and each named job's definition (`GetJob`) and
//! first `GetJobRuns` page. A run's creator and tags come from the registry. A job the index lacks (its runs' events were
//! lost and no sweep has run since) is counted by the next sweep.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_glue::types::Session;
use policy::budgets::{self, BudgetUse, Holder, HolderKind, known_tags};
use policy::{Fact, Principal, Verdict};
use tracing::{info, warn};

use crate::config::Guard;
use crate::error::GuardError;
use crate::ledger::{self, Ledger};
use crate::metrics::Metrics;
use crate::report::{Candidate, Invocation};
use crate::session::{self, Status};

/// The registry item's attribute holding the creator (`policy::Principal` as JSON).
pub const PRINCIPAL: &str = "principal";
/// The registry item's attribute holding the tags (a JSON object).
pub const TAGS: &str = "tags";
/// The registry item's attribute saying its own verdict stops it (a boolean, only ever set):
/// written by its own invocation, which judged it whole. Another invocation judges it from
/// Glue's listing alone, which lacks what some rules need (`ListSessions` gives no `Timeout`),
/// and would otherwise count a session that is being stopped.
pub const STOPPING: &str = "stopping";
/// The registry item's attribute holding the budget violations a check confirmed for it (a
/// JSON array of `policy::Violation`), written before it is stopped: a retry after a failed
/// `Publish` finds the session `STOPPING`, no longer a member of anything, and reads them back
/// so that its one notification is still sent. The invocation whose stop did not happen
/// removes them ([`unless_stopped`]): a later event for the session must not notify a stop
/// for a budget that never came.
pub const BUDGET_VIOLATIONS: &str = "budget_violations";

/// Most keys one `BatchGetItem` takes (DynamoDB API reference, BatchGetItem).
const BATCH_GET_KEYS: usize = 100;
/// `BatchGetItem` may leave keys unprocessed under load: they are asked for again this often.
const BATCH_GET_ATTEMPTS: usize = 5;

/// What the registry holds of a session or job run: its creator and tags, when known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registered {
    pub principal: Option<Principal>,
    pub tags: Option<BTreeMap<String, String>>,
    /// Its own invocation found it out of bounds and stops it ([`STOPPING`]).
    pub stopping: bool,
}

/// The registry key of a holder: `holder/<session|job_run>/<id>@<created, epoch ms>`.
pub fn holder_key(kind: HolderKind, id: &str, created_at_ms: i64) -> String {
    let kind = match kind {
        HolderKind::Session => "session",
        HolderKind::JobRun => "job_run",
    };
    format!("holder/{kind}/{id}@{created_at_ms}")
}

/// The registry's index of the jobs that started a run on one UTC day: an item keyed
/// `index/job_runs/<days since 1970-01-01>` whose `jobs` attribute is a string set of job
/// names. Glue lists runs per job only (`GetJobRuns`), so this is how a budget check finds the
/// other jobs' runs without listing every job.
pub fn job_index_key(day: i64) -> String {
    format!("index/job_runs/{day}")
}

/// The index item's attribute holding the job names (a string set).
pub const JOBS: &str = "jobs";

/// How far back the index is read: Glue ends a job run within 7 days ("Jobs must have timeout
/// values less than 7 days or 10080 minutes", AWS Glue API reference, `JobRun.Timeout`).
const LONGEST_RUN_MS: i64 = 7 * DAY_MS;
const DAY_MS: i64 = 86_400_000;

/// Adds each job to the index of the day its run started (`starts`: job name, epoch ms), one
/// `UpdateItem` per day (`ADD` to the set, so concurrent writers never lose a name). Fails when
/// a day's item would pass DynamoDB's item size limit (400 KB, "Service, account, and table
/// quotas in Amazon DynamoDB"): some thousands of job names; callers warn and go on.
pub async fn index_job_runs(ledger: Ledger<'_>, starts: &[(&str, i64)]) -> Result<(), GuardError> {
    let mut by_day: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (name, started_ms) in starts {
        let names = by_day.entry(started_ms.div_euclid(DAY_MS)).or_default();
        if !names.iter().any(|known| known == name) {
            names.push(name.to_string());
        }
    }
    let expires = (SystemTime::now() + ledger::KEEP_FOR)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    for (day, names) in by_day {
        let key = job_index_key(day);
        ledger
            .client
            .update_item()
            .table_name(ledger.table)
            .key(ledger::KEY, AttributeValue::S(key.clone()))
            .update_expression("ADD #jobs :names SET #expires = :expires")
            .expression_attribute_names("#jobs", JOBS)
            .expression_attribute_names("#expires", ledger::EXPIRES_AT)
            .expression_attribute_values(":names", AttributeValue::Ss(names))
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .send()
            .await
            .map_err(|error| GuardError::aws("UpdateItem", &key, error))?;
    }
    Ok(())
}

/// The jobs the index says started a run in the last 7 days up to `now_ms` (one consistent
/// `BatchGetItem`).
pub async fn jobs_with_runs(
    ledger: Ledger<'_>,
    now_ms: i64,
) -> Result<std::collections::BTreeSet<String>, GuardError> {
    let today = now_ms.div_euclid(DAY_MS);
    let keys: Vec<String> = ((now_ms - LONGEST_RUN_MS).div_euclid(DAY_MS)..=today)
        .map(job_index_key)
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for item in batch_get(ledger, &keys).await? {
        if let Some(AttributeValue::Ss(jobs)) = item.get(JOBS) {
            names.extend(jobs.iter().cloned());
        }
    }
    Ok(names)
}

/// Epoch milliseconds of `time`, to the nearest (0 before 1970). Glue's JSON gives `CreatedOn`
/// as epoch seconds with a fraction (`1796457186.447`), which reads back as
/// `…186.446999979`: rounding keeps the registry keys equal to the millisecond Glue wrote.
pub fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| ((since.as_micros() + 500) / 1000) as i64)
}

/// Writes what is known of a holder; what is not known leaves what another invocation wrote.
pub async fn register(
    ledger: Ledger<'_>,
    key: &str,
    registered: &Registered,
) -> Result<(), GuardError> {
    let mut sets = vec!["#expires = :expires"];
    let expires = SystemTime::now() + ledger::KEEP_FOR;
    let mut update = ledger
        .client
        .update_item()
        .table_name(ledger.table)
        .key(ledger::KEY, AttributeValue::S(key.to_string()))
        .expression_attribute_names("#expires", ledger::EXPIRES_AT)
        .expression_attribute_values(
            ":expires",
            AttributeValue::N(
                expires
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs()
                    .to_string(),
            ),
        );
    if let Some(principal) = &registered.principal {
        sets.push("#principal = :principal");
        update = update
            .expression_attribute_names("#principal", PRINCIPAL)
            .expression_attribute_values(
                ":principal",
                AttributeValue::S(serde_json::to_string(principal).unwrap_or_default()),
            );
    }
    if let Some(tags) = &registered.tags {
        sets.push("#tags = :tags");
        update = update
            .expression_attribute_names("#tags", TAGS)
            .expression_attribute_values(
                ":tags",
                AttributeValue::S(serde_json::to_string(tags).unwrap_or_default()),
            );
    }
    if registered.stopping {
        sets.push("#stopping = :stopping");
        update = update
            .expression_attribute_names("#stopping", STOPPING)
            .expression_attribute_values(":stopping", AttributeValue::Bool(true));
    }
    update
        .update_expression(format!("SET {}", sets.join(", ")))
        .send()
        .await
        .map_err(|error| GuardError::aws("UpdateItem", key, error))?;
    Ok(())
}

/// The registry items of `keys`, read consistently (`BatchGetItem`, 100 keys a call, keys
/// DynamoDB left unprocessed asked for again).
pub async fn registered(
    ledger: Ledger<'_>,
    keys: &[String],
) -> Result<HashMap<String, Registered>, GuardError> {
    let mut found = HashMap::new();
    for item in batch_get(ledger, keys).await? {
        let Some(AttributeValue::S(key)) = item.get(ledger::KEY) else {
            continue;
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(text)) => Some(text.as_str()),
            _ => None,
        };
        found.insert(
            key.clone(),
            Registered {
                principal: text(PRINCIPAL).and_then(|t| serde_json::from_str(t).ok()),
                tags: text(TAGS).and_then(|t| serde_json::from_str(t).ok()),
                stopping: matches!(item.get(STOPPING), Some(AttributeValue::Bool(true))),
            },
        );
    }
    Ok(found)
}

/// The ledger items of `keys` that exist, read consistently (`BatchGetItem`, 100 keys a call,
/// keys DynamoDB left unprocessed asked for again).
async fn batch_get(
    ledger: Ledger<'_>,
    keys: &[String],
) -> Result<Vec<HashMap<String, AttributeValue>>, GuardError> {
    let mut found = Vec::new();
    // DynamoDB refuses a request that names one key twice (a session listed on two pages).
    let mut unique: Vec<&String> = keys.iter().collect();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(BATCH_GET_KEYS) {
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for key in chunk {
            wanted = wanted.keys(HashMap::from([(
                ledger::KEY.to_string(),
                AttributeValue::S(key.to_string()),
            )]));
        }
        let mut request = Some(
            wanted
                .build()
                .map_err(|error| GuardError::Request(error.to_string()))?,
        );
        for attempt in 0..BATCH_GET_ATTEMPTS {
            let Some(wanted) = request.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            let output = ledger
                .client
                .batch_get_item()
                .request_items(ledger.table, wanted)
                .send()
                .await
                .map_err(|error| GuardError::aws("BatchGetItem", "holder registry", error))?;
            found.extend(
                output
                    .responses
                    .and_then(|mut tables| tables.remove(ledger.table))
                    .unwrap_or_default(),
            );
            request = output
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(ledger.table))
                .filter(|left| !left.keys().is_empty());
        }
        if request.is_some() {
            warn!(
                "BatchGetItem left keys unprocessed after {BATCH_GET_ATTEMPTS} attempts: their \
                 holders are not counted this time"
            );
        }
    }
    Ok(found)
}

/// Every session `PROVISIONING` or `READY` as a holder: its DPUs from what Glue lists (judged
/// under the policy with its registered creator and tags, so an override or exemption applies),
/// its creator and tags from the registry, its tags from `GetTags` when nobody registered it and
/// `tags_matter`.
pub async fn session_holders(
    guard: &Guard,
    invocation: &Invocation,
    running: &[Session],
    tags_matter: bool,
) -> Result<Vec<Holder>, GuardError> {
    let listed: Vec<(&Session, String, i64)> = running
        .iter()
        .filter_map(|session| {
            let id = session.id()?.to_string();
            let created = epoch_ms(session::created_on(session)?);
            Some((session, id, created))
        })
        .collect();
    let keys: Vec<String> = listed
        .iter()
        .map(|(_, id, created)| holder_key(HolderKind::Session, id, *created))
        .collect();
    let registry = registered(guard.ledger(), &keys).await?;
    let mut holders = Vec::with_capacity(listed.len());
    for ((session, id, created), key) in listed.into_iter().zip(&keys) {
        let Ok(mut facts) = policy::facts_from_glue_session(&session::session_json(session)) else {
            continue;
        };
        let known = registry.get(key).cloned().unwrap_or_default();
        let tags = match (&known.tags, tags_matter) {
            (Some(tags), _) => Some(tags.clone()),
            (None, true) => session::get_tags(&guard.glue, &invocation.scope, &id).await?,
            (None, false) => None,
        };
        facts.principal = known.principal.clone();
        if let Some(tags) = &tags {
            facts.tags = Fact::Given(tags.clone());
        }
        // Judged now, as the sweep judges what it finds (policy::exceptions).
        facts.event_time = Some(policy::time::unix_seconds(SystemTime::now()));
        let verdict = policy::evaluate(guard.policy(), &facts);
        let mut holder = Holder::from_verdict(
            HolderKind::Session,
            id,
            created,
            &verdict,
            known.principal,
            tags,
        );
        holder.stopped_by_policy |= known.stopping;
        holders.push(holder);
    }
    Ok(holders)
}

/// How often a reading waits for sessions created just before the candidate that nobody has
/// registered yet (their events are usually a moment behind), `Timing::budget_recheck` apart.
const REGISTRATION_WAITS: usize = 3;

/// One reading of what the candidate's budgets hold: the candidate first, then every running
/// session (when one of its budgets covers sessions), then what `more` gives (a job run's: the
/// running runs of its job). Sessions created just before the candidate whose membership is
/// unknown (nobody registered them yet) are waited for a little ([`REGISTRATION_WAITS`]); what
/// is still unknown after that is not counted, and none is waited for once `time` is short.
/// Also gives the ids of the sessions the listing shows ended (in no status that holds DPUs).
async fn reading(
    guard: &Guard,
    invocation: &Invocation,
    candidate: &Holder,
    more: &More<'_>,
    time: &crate::wait::Budget,
) -> Result<(Vec<Holder>, std::collections::HashSet<String>), GuardError> {
    let policy = guard.policy();
    let tags_matter = tags_matter(guard);
    // Every budget is decided together (`tally_all`): a member shared with a budget the
    // candidate is not in may be over there, and then holds nothing in the candidate's. So the
    // readings list what any budget covers, not only the candidate's.
    let sessions_counted = policy
        .budgets
        .iter()
        .any(|budget| budget.covers(policy::Covered::Sessions, policy));
    let (running, ended): (Vec<Session>, Vec<Session>) = if sessions_counted {
        session::listed(&guard.glue)
            .await?
            .into_iter()
            .partition(session::is_running)
    } else {
        (Vec::new(), Vec::new())
    };
    let ended = ended
        .iter()
        .filter_map(|session| session.id().map(str::to_string))
        .collect();
    let mut holders = vec![candidate.clone()];
    holders.extend(session_holders(guard, invocation, &running, tags_matter).await?);
    holders.extend(more().await?);
    for _ in 0..REGISTRATION_WAITS {
        if !awaits_registration(policy, &holders) || time.remaining() <= guard.timing.budget_recheck
        {
            break;
        }
        tokio::time::sleep(guard.timing.budget_recheck).await;
        holders.truncate(1);
        holders.extend(session_holders(guard, invocation, &running, tags_matter).await?);
        holders.extend(more().await?);
    }
    Ok((holders, ended))
}

/// How long before the candidate a session nobody registered may have been created for its
/// event to be still on its way: one created earlier would have been registered by now (its
/// event and the candidate's take the same road), so it is not waited for.
const REGISTRATION_WINDOW_MS: i64 = 60_000;

/// Whether a holder created shortly before the candidate (`holders[0]`, within
/// [`REGISTRATION_WINDOW_MS`]) may belong to one of its budgets but nobody has said who created
/// it yet.
fn awaits_registration(policy: &policy::Policy, holders: &[Holder]) -> bool {
    let candidate = &holders[0];
    let candidate_budgets = budgets::budgets_of(policy, candidate);
    holders[1..].iter().any(|holder| {
        holder.id != candidate.id
            && holder.created_at_ms <= candidate.created_at_ms
            && holder.created_at_ms >= candidate.created_at_ms - REGISTRATION_WINDOW_MS
            && candidate_budgets.iter().any(|budget| {
                budgets::membership(budget, policy, holder) == budgets::Membership::Unknown
            })
    })
}

/// Whether any budget of the policy chooses its members by tag.
fn tags_matter(guard: &Guard) -> bool {
    guard
        .policy()
        .budgets
        .iter()
        .any(|budget| !budget.members.tags.is_empty())
}

/// The budget violations of `candidate` among `holders` (the candidate first), with every
/// budget's use recorded in the metrics.
fn breaches(guard: &Guard, holders: &[Holder], metrics: &Metrics) -> Vec<policy::Violation> {
    let candidate = &holders[0];
    let usages: Vec<BudgetUse<'_, '_>> = budgets::tally_all(guard.policy(), holders);
    for usage in &usages {
        metrics.budget_in_use(&usage.budget.name, usage.in_use_dpu);
    }
    usages
        .iter()
        .filter_map(|usage| budgets::violation(usage, candidate.kind, &candidate.id))
        .collect()
}

/// The real-time path's budget check of one session: registers it, and when it belongs to a
/// budget, sums what the budget's members hold (the running sessions, and what `job_runs`
/// gives when any budget counts job runs); a session over a cap in two readings gets the
/// violations on its verdict (module docs). Does nothing when the policy has no budgets or the
/// session is gone; one that no longer holds DPUs gets what an earlier check recorded
/// ([`apply_recorded`]).
pub async fn check_session(
    guard: &Guard,
    invocation: &Invocation,
    case: &Candidate,
    verdict: &mut Verdict,
    metrics: &Metrics,
    job_runs: &More<'_>,
) -> Result<(), GuardError> {
    let policy = guard.policy();
    if policy.budgets.is_empty() || case.status == Status::Gone {
        return Ok(());
    }
    let Some(created_on) = case.created_on else {
        warn!("Glue gave no CreatedOn: the session's budgets are left to the sweep");
        return Ok(());
    };
    if !matches!(case.status, Status::Provisioning | Status::Ready) {
        // It holds nothing now; what an earlier invocation found it over is read back.
        let key = session_key(case, created_on);
        return apply_recorded(guard, &key, verdict).await;
    }
    let candidate = Holder::from_verdict(
        HolderKind::Session,
        case.facts.session_id.clone(),
        epoch_ms(created_on),
        verdict,
        case.facts.principal.clone(),
        known_tags(&case.facts.tags),
    );
    // The running job runs (`job_runs`), when any budget counts them (all are decided together).
    let none: &More<'_> = &|| Box::pin(async { Ok(Vec::new()) });
    let more = if any_counts_job_runs(guard.policy()) {
        job_runs
    } else {
        none
    };
    check(guard, invocation, candidate, verdict, metrics, more).await
}

/// The registry key of the session `case`, created at `created_on` (Glue's `CreatedOn`).
pub fn session_key(case: &Candidate, created_on: SystemTime) -> String {
    holder_key(
        HolderKind::Session,
        &case.facts.session_id,
        epoch_ms(created_on),
    )
}

/// Whether a budget of the policy counts job runs (the policy guards jobs and the budget covers
/// them): every reading then counts the running runs, since all budgets are decided together.
pub fn any_counts_job_runs(policy: &policy::Policy) -> bool {
    policy.jobs.is_some()
        && policy
            .budgets
            .iter()
            .any(|budget| budget.covers(policy::Covered::Jobs, policy))
}

/// What a budget check counts besides the running sessions, read anew for each reading: the
/// running job runs (those of the candidate's own job, and of every job the registry's index
/// names) when its budget counts job runs.
pub type More<'a> = dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<Holder>, GuardError>> + Send + 'a>>
    + Send
    + Sync
    + 'a;

/// The budget check of one session or job run that holds DPUs (`candidate`, from its verdict):
/// registers it; when it belongs to a budget, reads what the budget's members hold (the running
/// sessions, and what `more` gives), and when it is over a cap in two readings a second apart,
/// adds the violations to its verdict.
pub async fn check(
    guard: &Guard,
    invocation: &Invocation,
    candidate: Holder,
    verdict: &mut Verdict,
    metrics: &Metrics,
    more: &More<'_>,
) -> Result<(), GuardError> {
    let key = holder_key(candidate.kind, &candidate.id, candidate.created_at_ms);
    let registered = Registered {
        principal: candidate.principal.clone(),
        tags: candidate.tags.clone(),
        stopping: candidate.stopped_by_policy,
    };
    if candidate.stopped_by_policy {
        // Its own verdict stops it: it holds nothing for any budget, and its stop must neither
        // wait for a reading nor fail with one. Registered as stopping, so that other checks
        // (which judge it from Glue's listing alone) do not count it; a failed write only
        // leaves that to them.
        if let Err(error) = register(guard.ledger(), &key, &registered).await {
            warn!(error = %error, "could not register the session or run as being stopped");
        }
        return Ok(());
    }
    register(guard.ledger(), &key, &registered).await?;
    if candidate.kind == HolderKind::JobRun
        && let Some((job, _)) = candidate.id.rsplit_once('/')
        && let Err(error) = index_job_runs(guard.ledger(), &[(job, candidate.created_at_ms)]).await
    {
        // The index only lets other checks find this job's runs sooner; the sweep counts them
        // anyway. A day's item past DynamoDB's 400 KB (thousands of jobs) must not fail the run.
        warn!(error = %error, "could not add the job to the day's index of jobs with runs");
    }
    if budgets::budgets_of(guard.policy(), &candidate).is_empty() {
        return Ok(());
    }
    // The readings and their waits keep the time the stop and its notification need.
    let time = crate::wait::Budget::until(
        std::time::Duration::MAX,
        invocation.deadline,
        guard.timing.deadline_margin * 2,
    );
    let (first, _) = reading(guard, invocation, &candidate, more, &time).await?;
    if breaches(guard, &first, metrics).is_empty() {
        return Ok(());
    }
    if time.remaining() <= guard.timing.budget_recheck {
        info!("over a budget, with too little time left for a second reading: left to the sweep");
        return Ok(());
    }
    // Over in the first reading: look again, and join what both readings saw (a listing may
    // miss a session), but for the sessions the second lists as ended: they hold nothing now.
    tokio::time::sleep(guard.timing.budget_recheck).await;
    let (mut joined, ended) = reading(guard, invocation, &candidate, more, &time).await?;
    for holder in &first[1..] {
        // The join is for ListSessions, which may miss a session; a job's runs come from its
        // own GetJobRuns, and one the second reading lacks has ended.
        let gone = holder.kind == HolderKind::JobRun || ended.contains(holder.id.as_str());
        if !gone
            && !joined
                .iter()
                .any(|seen| seen.kind == holder.kind && seen.id == holder.id)
        {
            joined.push(holder.clone());
        }
    }
    let confirmed = breaches(guard, &joined, metrics);
    if confirmed.is_empty() {
        info!("over a budget in the first reading only: left to the sweep");
        return Ok(());
    }
    // Only a retry's notification needs the record: a failed write must not keep the stop waiting.
    if let Err(error) = record_violations(guard.ledger(), &key, &confirmed).await {
        warn!(error = %error, "could not record the budget violations on the holder");
    }
    apply(guard, verdict, confirmed, metrics);
    Ok(())
}

/// Writes the budget violations a check confirmed onto the holder's registry item
/// ([`BUDGET_VIOLATIONS`]), before the holder is acted on.
async fn record_violations(
    ledger: Ledger<'_>,
    key: &str,
    violations: &[policy::Violation],
) -> Result<(), GuardError> {
    let text = serde_json::to_string(violations)
        .map_err(|error| GuardError::Request(format!("budget violations as JSON: {error}")))?;
    ledger
        .client
        .update_item()
        .table_name(ledger.table)
        .key(ledger::KEY, AttributeValue::S(key.to_string()))
        .update_expression("SET #violations = :violations")
        .expression_attribute_names("#violations", BUDGET_VIOLATIONS)
        .expression_attribute_values(":violations", AttributeValue::S(text))
        .send()
        .await
        .map_err(|error| GuardError::aws("UpdateItem", key, error))?;
    Ok(())
}

/// What acting on a verdict gave (`acted`), once more: when the verdict carries a budget
/// violation (recorded on the holder's registry item `key` by [`check`]) and acting failed
/// before the stop happened ([`GuardError::before_the_stop`]: Glue refused or failed the stop,
/// or the session was still starting), removes the record, so that a later event for the
/// session (a retry that finds it within its budget now, or one after it ended on its own)
/// does not notify a stop for a budget that never came. A failed removal is logged; `acted`
/// is returned as it was.
pub async fn unless_stopped<T>(
    guard: &Guard,
    key: &str,
    verdict: &Verdict,
    acted: Result<T, GuardError>,
) -> Result<T, GuardError> {
    let recorded = verdict.violations.iter().any(|v| v.rule == budgets::RULE);
    if let Err(error) = &acted
        && recorded
        && error.before_the_stop()
        && let Err(failure) = forget_violations(guard.ledger(), key).await
    {
        warn!(error = %failure, "could not remove the budget violations of a stop that failed");
    }
    acted
}

/// Removes the budget violations recorded on the registry item `key` ([`BUDGET_VIOLATIONS`]):
/// one `UpdateItem`.
async fn forget_violations(ledger: Ledger<'_>, key: &str) -> Result<(), GuardError> {
    ledger
        .client
        .update_item()
        .table_name(ledger.table)
        .key(ledger::KEY, AttributeValue::S(key.to_string()))
        .update_expression("REMOVE #violations")
        .expression_attribute_names("#violations", BUDGET_VIOLATIONS)
        .send()
        .await
        .map_err(|error| GuardError::aws("UpdateItem", key, error))?;
    Ok(())
}

/// For a session or run that no longer holds DPUs (a retry finds it `STOPPING` after its stop):
/// adds to its verdict the budget violations an earlier check recorded for it
/// ([`BUDGET_VIOLATIONS`], one consistent `GetItem` of its registry item `key`), so that its
/// notification is sent as for any other violation. Nothing recorded: the verdict is left as
/// it is.
pub async fn apply_recorded(
    guard: &Guard,
    key: &str,
    verdict: &mut Verdict,
) -> Result<(), GuardError> {
    let ledger = guard.ledger();
    let item = ledger
        .client
        .get_item()
        .table_name(ledger.table)
        .key(ledger::KEY, AttributeValue::S(key.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| GuardError::aws("GetItem", key, error))?;
    let Some(AttributeValue::S(text)) = item
        .item
        .as_ref()
        .and_then(|item| item.get(BUDGET_VIOLATIONS))
    else {
        return Ok(());
    };
    match serde_json::from_str::<Vec<policy::Violation>>(text) {
        Ok(recorded) => budgets::add_violations(guard.policy(), verdict, recorded),
        Err(error) => warn!(error = %error, "the recorded budget violations are not readable"),
    }
    Ok(())
}

/// Adds budget violations to a verdict (`policy::budgets::add_violations`), counting each in
/// the metrics.
pub fn apply(
    guard: &Guard,
    verdict: &mut Verdict,
    violations: Vec<policy::Violation>,
    metrics: &Metrics,
) {
    for _ in &violations {
        metrics.budget_breached();
    }
    budgets::add_violations(guard.policy(), verdict, violations);
}

/// Whether the holders of a sweep are read from, and written to, the registry: the sweep does
/// both (its creators from CloudTrail tell the real-time path whose a session is); `cargo xtask
/// scan` only reads AWS and has no ledger table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    ReadAndWrite,
    Unused,
}

/// The holders among what a sweep (or `scan`) judged: every running session and job run, at its
/// verdict's DPUs, with its creator (CloudTrail's, else the registry's) and tags. With
/// [`Registry::ReadAndWrite`], a creator CloudTrail gave is registered when the registry
/// lacks it.
pub async fn holders_now(
    guard: &Guard,
    sessions: &[crate::report::Assessed],
    runs: &[crate::report::AssessedRun],
    registry: Registry,
) -> Result<Vec<Holder>, GuardError> {
    let mut holders = Vec::new();
    for assessed in sessions {
        let case = &assessed.case;
        let (Some(created), true) = (
            case.created_on,
            matches!(case.status, Status::Provisioning | Status::Ready),
        ) else {
            continue;
        };
        holders.push(Holder::from_verdict(
            HolderKind::Session,
            case.facts.session_id.clone(),
            epoch_ms(created),
            &assessed.verdict,
            case.facts.principal.clone(),
            known_tags(&case.facts.tags),
        ));
    }
    for run in runs {
        let Some(started) = run.started_on else {
            continue;
        };
        let id = budgets::job_run_id(
            &run.facts.job_name,
            run.facts.job_run_id.as_deref().unwrap_or_default(),
        );
        holders.push(Holder::from_verdict(
            HolderKind::JobRun,
            id,
            epoch_ms(started),
            &run.verdict,
            run.facts.principal.clone(),
            known_tags(&run.facts.tags),
        ));
    }
    if registry == Registry::Unused || holders.is_empty() {
        return Ok(holders);
    }
    // The runs found are indexed, so that real-time checks count them even when their events
    // never came.
    let starts: Vec<(&str, i64)> = holders
        .iter()
        .filter(|holder| holder.kind == HolderKind::JobRun)
        .filter_map(|holder| Some((holder.id.rsplit_once('/')?.0, holder.created_at_ms)))
        .collect();
    if !starts.is_empty()
        && let Err(error) = index_job_runs(guard.ledger(), &starts).await
    {
        warn!(error = %error, "could not add the runs' jobs to the index of jobs with runs");
    }
    let keys: Vec<String> = holders
        .iter()
        .map(|holder| holder_key(holder.kind, &holder.id, holder.created_at_ms))
        .collect();
    let known = registered(guard.ledger(), &keys).await?;
    for (holder, key) in holders.iter_mut().zip(&keys) {
        let entry = known.get(key);
        match (&holder.principal, entry.and_then(|e| e.principal.as_ref())) {
            (None, Some(principal)) => holder.principal = Some(principal.clone()),
            (Some(principal), None) => {
                register(
                    guard.ledger(),
                    key,
                    &Registered {
                        principal: Some(principal.clone()),
                        tags: holder.tags.clone(),
                        stopping: holder.stopped_by_policy,
                    },
                )
                .await?
            }
            _ => {}
        }
        if holder.tags.is_none() {
            holder.tags = entry.and_then(|e| e.tags.clone());
        }
        // Its own invocation judged it whole (with what the listing lacks) and stops it.
        holder.stopped_by_policy |= entry.is_some_and(|e| e.stopping);
    }
    Ok(holders)
}

/// One budget as a sweep or `scan` found it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetNow {
    pub name: String,
    pub max_concurrent_dpu: f64,
    /// DPUs its counted members hold.
    pub in_use_dpu: f64,
    /// Its members in creation order.
    pub holders: Vec<HolderNow>,
    /// Running sessions and runs whose membership could not be known (creator unknown): not
    /// counted.
    pub unknown: usize,
}

/// One member of a budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HolderNow {
    pub kind: HolderKind,
    /// The session id, or `<job>/<run id>`.
    pub id: String,
    pub dpu: Option<f64>,
    /// Its creator's ARN, when known.
    pub owner: Option<String>,
    pub standing: budgets::Standing,
}

/// Tallies every budget over `holders` and gives each session and run over a budget its
/// violations (counted in the metrics): what the sweep acts on and `scan` shows. Returns each
/// budget as found.
pub fn apply_to_judged(
    guard: &Guard,
    holders: &[Holder],
    sessions: &mut [crate::report::Assessed],
    runs: &mut [crate::report::AssessedRun],
    metrics: &Metrics,
) -> Vec<BudgetNow> {
    let usages = budgets::tally_all(guard.policy(), holders);
    for usage in &usages {
        metrics.budget_in_use(&usage.budget.name, usage.in_use_dpu);
    }
    let over = |kind: HolderKind, id: &str| -> Vec<policy::Violation> {
        usages
            .iter()
            .filter_map(|usage| budgets::violation(usage, kind, id))
            .collect()
    };
    for assessed in sessions.iter_mut() {
        let found = over(HolderKind::Session, &assessed.case.facts.session_id);
        apply(guard, &mut assessed.verdict, found, metrics);
    }
    for run in runs.iter_mut() {
        let id = budgets::job_run_id(
            &run.facts.job_name,
            run.facts.job_run_id.as_deref().unwrap_or_default(),
        );
        let found = over(HolderKind::JobRun, &id);
        apply(guard, &mut run.verdict, found, metrics);
    }
    usages
        .iter()
        .map(|usage| BudgetNow {
            name: usage.budget.name.clone(),
            max_concurrent_dpu: usage.budget.max_concurrent_dpu,
            in_use_dpu: usage.in_use_dpu,
            holders: usage
                .members
                .iter()
                .map(|member| HolderNow {
                    kind: member.holder.kind,
                    id: member.holder.id.clone(),
                    dpu: member.holder.dpu,
                    owner: member.holder.principal.as_ref().map(|p| p.arn.clone()),
                    standing: member.standing,
                })
                .collect(),
            unknown: usage.unknown.len(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_keys_tell_kinds_and_reused_ids_apart() {
        assert_eq!(
            holder_key(HolderKind::Session, "nb-1", 1_764_000_000_123),
            "holder/session/nb-1@1764000000123"
        );
        assert_ne!(
            holder_key(HolderKind::Session, "nb-1", 1),
            holder_key(HolderKind::Session, "nb-1", 2)
        );
        assert_eq!(
            holder_key(HolderKind::JobRun, "nightly/jr_1", 5),
            "holder/job_run/nightly/jr_1@5"
        );
    }

    #[test]
    fn only_a_session_created_just_before_and_not_registered_yet_is_waited_for() {
        let policy = policy::load_policy(
            "p.yaml",
            b"version: 1\nstack: {name: g}\nboundaries: {max_workers: 50}\nbudgets:\n  - {name: a, \
              members: {principals: [\"arn:aws:iam::*:role/A\"]}, max_concurrent_dpu: 10}\n",
        )
        .unwrap();
        let principal = Principal {
            arn: "arn:aws:iam::123456789012:role/A".to_string(),
            issuer_arn: None,
            source_identity: None,
            on_behalf_of: None,
        };
        let holder = |id: &str, at: i64, known: bool| Holder {
            kind: HolderKind::Session,
            id: id.to_string(),
            created_at_ms: at,
            dpu: Some(2.0),
            principal: known.then(|| principal.clone()),
            tags: Some(BTreeMap::new()),
            stopped_by_policy: false,
        };
        let candidate = holder("me", 100_000, true);
        let waits = |other: Holder| awaits_registration(&policy, &[candidate.clone(), other]);
        assert!(waits(holder("just-before", 70_000, false)));
        assert!(waits(holder("same-moment", 100_000, false)));
        assert!(
            !waits(holder("long-before", 39_999, false)),
            "its event was lost"
        );
        assert!(
            !waits(holder("after", 100_001, false)),
            "it cannot change my answer"
        );
        assert!(!waits(holder("registered", 90_000, true)));
    }

    #[test]
    fn creation_times_read_from_glue_round_to_the_millisecond_it_wrote() {
        let read = aws_sdk_glue::primitives::DateTime::from_secs_f64(1_796_457_186.447);
        let time = SystemTime::try_from(read).unwrap();
        assert_eq!(epoch_ms(time), 1_796_457_186_447);
        assert_eq!(
            epoch_ms(UNIX_EPOCH + std::time::Duration::from_micros(1_499)),
            1
        );
        assert_eq!(
            epoch_ms(UNIX_EPOCH + std::time::Duration::from_micros(1_500)),
            2
        );
    }

    #[test]
    fn tags_a_session_was_created_without_are_known_to_be_none() {
        assert_eq!(known_tags(&Fact::Omitted), Some(BTreeMap::new()));
        assert_eq!(known_tags(&Fact::Unknown), None);
    }
}
