//! Team budgets: a cap on the DPUs a team's sessions and job runs hold at once
//! (`budgets[]`, [`crate::model::Budget`]). AWS has no such limit (usage profiles judge one
//! session or run at a time; service quotas are per account), so budgets are enforced by the
//! Lambda only, from Glue's own list of what runs.
//!
//! # Which one goes: the order every invocation computes alike
//!
//! [`tally`] walks a budget's members in **creation order** (Glue's `CreatedOn` of a session,
//! `StartedOn` of a run, then kind and id, so ties break the same way everywhere) and admits each
//! while the DPUs admitted before it plus its own stay within `max_concurrent_dpu`. A member
//! that does not fit is **over**: its own invocation stops it (audit: notifies), and in enforce
//! mode it is not counted for the members after it, in any of its budgets, since it is being
//! stopped ([`tally_all`] walks every budget at once). So:
//!
//! - Whether a member fits depends only on the members created **before** it. Two sessions
//!   created in the same second are judged by two invocations, each listing both: both compute
//!   the same order, the earlier is admitted by both, the later is over in both. Never are both
//!   stopped when only one has to go, and never do both pass when together they exceed the cap.
//! - A member missing from a listing (Glue's `ListSessions` is eventually consistent, or nobody
//!   knows yet who created it) is mostly the newest, which cannot change the answer for those
//!   created before it. An older one not counted lets a later member pass that should not have
//!   (the sweep, which lists everything again in the same order, stops it then), and can also
//!   shift who is over: a member it would have taken over the cap now fits and counts, and a
//!   later one that fits is found over instead. So the Lambda asks for two readings that agree
//!   before it stops for a budget, and the sweep acts for budgets only when it counted every
//!   member.
//! - A member its own verdict stops (out of bounds, enforce mode) holds nothing: it is being
//!   stopped, and counting it could stop a member that fits. A member whose DPUs or membership
//!   cannot be known (no creator, no tags read) is not counted, and said so.
//!
//! In audit mode nothing is stopped, so every member counts: a member is over when the DPUs of
//! all members up to it exceed the cap.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::evaluate::{Action, Decision, Verdict, Violation, enforcement_action};
use crate::facts::{Fact, Principal, principal_matches};
use crate::glob::glob_match;
use crate::model::{Budget, Covered, Mode, Policy};

/// The boundary key of a budget's violation (`Violation::rule`).
pub const RULE: &str = "max_concurrent_dpu";

/// How many of a budget's largest holders a notification names.
pub const LARGEST_NAMED: usize = 3;

/// What holds DPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderKind {
    Session,
    JobRun,
}

impl HolderKind {
    /// What a budget's `covers` calls it.
    pub fn covered(self) -> Covered {
        match self {
            HolderKind::Session => Covered::Sessions,
            HolderKind::JobRun => Covered::Jobs,
        }
    }

    /// For messages: `session`, `job run`.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::Session => "session",
            HolderKind::JobRun => "job run",
        }
    }
}

/// A session or job run that holds DPUs (or asks for them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub kind: HolderKind,
    /// The session id; for a job run `<job name>/<job run id>`.
    pub id: String,
    /// When Glue created it (a session's `CreatedOn`, a run's `StartedOn`), epoch milliseconds.
    pub created_at_ms: i64,
    /// DPUs at its configured maximum ([`Verdict::dpu`]); `None` when unknown (not counted).
    pub dpu: Option<f64>,
    /// Who created it; `None` when unknown.
    pub principal: Option<Principal>,
    /// Its tags; `None` when they were not read.
    pub tags: Option<BTreeMap<String, String>>,
    /// Its own verdict stops it (out of bounds): it holds nothing in enforce mode.
    pub stopped_by_policy: bool,
}

impl Holder {
    /// The holder a verdict describes: its DPUs, principal and whether the policy stops it.
    /// `id` and `created_at_ms` come from Glue; `tags` when they were read.
    pub fn from_verdict(
        kind: HolderKind,
        id: String,
        created_at_ms: i64,
        verdict: &Verdict,
        principal: Option<Principal>,
        tags: Option<BTreeMap<String, String>>,
    ) -> Holder {
        Holder {
            kind,
            id,
            created_at_ms,
            dpu: verdict.dpu,
            principal,
            tags,
            stopped_by_policy: matches!(verdict.action, Action::Stop | Action::Delete),
        }
    }

    /// The order every invocation walks members in.
    fn order_key(&self) -> (i64, HolderKind, &str) {
        (self.created_at_ms, self.kind, self.id.as_str())
    }
}

/// A job run's holder id: `<job name>/<job run id>`.
pub fn job_run_id(job_name: &str, job_run_id: &str) -> String {
    format!("{job_name}/{job_run_id}")
}

/// What is known of a session's or run's tags: those given, none when it was created without
/// any, `None` when they could not be read.
pub fn known_tags(tags: &Fact<BTreeMap<String, String>>) -> Option<BTreeMap<String, String>> {
    match tags {
        Fact::Given(tags) => Some(tags.clone()),
        Fact::Omitted => Some(BTreeMap::new()),
        Fact::Unknown => None,
    }
}

/// Whether a holder counts against a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    Member,
    NotMember,
    /// Its creator or tags, which the budget's members are chosen by, are not known.
    Unknown,
}

/// Whether `holder` counts against `budget` under `policy`: the budget covers its kind, it is
/// not exempt (`exempt_principals`, and for sessions `exempt_session_ids`), and its creator
/// matches one of `members.principals` or it carries every tag of `members.tags`.
pub fn membership(budget: &Budget, policy: &Policy, holder: &Holder) -> Membership {
    if !budget.covers(holder.kind.covered(), policy) {
        return Membership::NotMember;
    }
    let exempt_by_id = holder.kind == HolderKind::Session
        && policy
            .exempt_session_ids
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), holder.id.as_bytes()));
    // An exemption applies while the holder's start is before its expiry.
    let exempt = crate::exceptions::exempting(
        &policy.exempt_principals,
        &crate::facts::principal_arns(holder.principal.as_ref()),
        Some(holder.created_at_ms.div_euclid(1000)),
        &mut Vec::new(),
    )
    .is_some();
    if exempt_by_id || exempt {
        return Membership::NotMember;
    }
    let members = &budget.members;
    if principal_matches(holder.principal.as_ref(), &members.principals) {
        return Membership::Member;
    }
    let tagged = match &holder.tags {
        Some(tags) if !members.tags.is_empty() => Some(
            members
                .tags
                .iter()
                .all(|(key, value)| tags.get(key) == Some(value)),
        ),
        Some(_) => Some(false),
        None if members.tags.is_empty() => Some(false),
        None => None,
    };
    let principal_unknown = holder.principal.is_none() && !members.principals.is_empty();
    // Tagged as a member, but by a creator not known yet, who may be exempt: an exempt
    // principal in force when it started makes its membership unknown, never a member to stop.
    let maybe_exempt = holder.principal.is_none()
        && policy.exempt_principals.iter().any(|exemption| {
            crate::exceptions::standing(
                exemption.expires.as_deref(),
                Some(holder.created_at_ms.div_euclid(1000)),
            ) == crate::exceptions::Standing::Applies
        });
    match tagged {
        Some(true) if maybe_exempt => Membership::Unknown,
        Some(true) => Membership::Member,
        // Not by tags; by principal it cannot match when the principal is unknown, nor (being
        // known) did it. An unknown principal could still be exempt, so it is unknown too.
        Some(false) if principal_unknown => Membership::Unknown,
        Some(false) => Membership::NotMember,
        None => Membership::Unknown,
    }
}

/// Where one member of a budget stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Admitted: it counts.
    Within,
    /// It takes the budget over its cap: stopped (audit: notified).
    Over,
    /// It is being stopped, by its own verdict or by another of its budgets: it holds nothing
    /// (enforce mode).
    Stopping,
    /// Its DPUs are not known: not counted.
    Uncounted,
}

/// One member of a budget, in creation order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member<'h> {
    pub holder: &'h Holder,
    pub standing: Standing,
    /// The DPUs counted before it plus its own: what the budget would hold with it.
    pub with_it_dpu: f64,
    /// It holds DPUs of the budget: within, or over in audit mode (nothing is stopped).
    pub counted: bool,
}

/// A budget's members and use, as [`tally`] computes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetUse<'b, 'h> {
    pub budget: &'b Budget,
    /// Members in creation order.
    pub members: Vec<Member<'h>>,
    /// Holders whose membership could not be known: not counted.
    pub unknown: Vec<&'h Holder>,
    /// DPUs the counted members hold (in audit mode, those over the cap too).
    pub in_use_dpu: f64,
}

impl<'h> BudgetUse<'_, 'h> {
    /// Where the holder `kind`/`id` stands, when it is a member.
    pub fn member(&self, kind: HolderKind, id: &str) -> Option<&Member<'h>> {
        self.members
            .iter()
            .find(|member| member.holder.kind == kind && member.holder.id == id)
    }

    /// The counted members holding the most DPUs, largest first (ties in creation order).
    pub fn largest(&self, count: usize) -> Vec<&Member<'h>> {
        let mut counted: Vec<&Member<'h>> = self
            .members
            .iter()
            .filter(|member| member.counted)
            .collect();
        counted.sort_by(|a, b| {
            b.dpu()
                .total_cmp(&a.dpu())
                .then_with(|| a.holder.order_key().cmp(&b.holder.order_key()))
        });
        counted.truncate(count);
        counted
    }

    /// The share of the cap in use, in percent.
    pub fn percent(&self) -> f64 {
        100.0 * self.in_use_dpu / self.budget.max_concurrent_dpu
    }
}

impl Member<'_> {
    /// Its DPUs (0 when unknown).
    pub fn dpu(&self) -> f64 {
        self.holder.dpu.unwrap_or(0.0)
    }
}

/// DPU sums are of figures such as 0.0625 and 0.25: compare with a margin far below any DPU
/// figure Glue has, so that 8 x 12.5 fits a cap of 100.
const EPSILON: f64 = 1e-9;

/// `budget`'s members among `holders` and where each stands, in creation order (module docs).
/// `holders` may list one holder twice (the event's own and the listing's): the first is kept.
/// Alone: with several budgets, [`tally_all`] decides them together.
pub fn tally<'b, 'h>(
    budget: &'b Budget,
    policy: &Policy,
    holders: &'h [Holder],
) -> BudgetUse<'b, 'h> {
    tally_budgets(&[budget], policy, holders)
        .pop()
        .expect("one use per budget")
}

/// Every budget of `policy` tallied over `holders`, together: the members are walked once in
/// creation order, and in enforce mode one that does not fit a budget of its own is stopped, so
/// it holds nothing in any of them (`Standing::Stopping` in those it fits). A member of budgets
/// X and Y over X's cap cannot then take Y over for a later member of Y alone.
pub fn tally_all<'b, 'h>(policy: &'b Policy, holders: &'h [Holder]) -> Vec<BudgetUse<'b, 'h>> {
    let budgets: Vec<&Budget> = policy.budgets.iter().collect();
    tally_budgets(&budgets, policy, holders)
}

/// [`tally_all`] over `budgets` (of `policy`).
fn tally_budgets<'b, 'h>(
    budgets: &[&'b Budget],
    policy: &Policy,
    holders: &'h [Holder],
) -> Vec<BudgetUse<'b, 'h>> {
    let mut seen = HashSet::new();
    let mut ordered: Vec<&'h Holder> = holders
        .iter()
        .filter(|holder| seen.insert((holder.kind, holder.id.as_str())))
        .collect();
    ordered.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    let enforcing = policy.enforcement.mode == Mode::Enforce;
    let mut uses: Vec<BudgetUse<'b, 'h>> = budgets
        .iter()
        .map(|budget| BudgetUse {
            budget,
            members: Vec::new(),
            unknown: Vec::new(),
            in_use_dpu: 0.0,
        })
        .collect();
    for holder in ordered {
        let mut of = Vec::new();
        for (i, budget) in budgets.iter().enumerate() {
            match membership(budget, policy, holder) {
                Membership::Member => of.push(i),
                Membership::Unknown => uses[i].unknown.push(holder),
                Membership::NotMember => {}
            }
        }
        let member = |standing, with_it_dpu, counted| Member {
            holder,
            standing,
            with_it_dpu,
            counted,
        };
        let Some(dpu) = holder.dpu else {
            for &i in &of {
                let in_use = uses[i].in_use_dpu;
                uses[i]
                    .members
                    .push(member(Standing::Uncounted, in_use, false));
            }
            continue;
        };
        if enforcing && holder.stopped_by_policy {
            for &i in &of {
                let with_it = uses[i].in_use_dpu + dpu;
                uses[i]
                    .members
                    .push(member(Standing::Stopping, with_it, false));
            }
            continue;
        }
        let fits = |usage: &BudgetUse<'_, '_>| {
            usage.in_use_dpu + dpu <= usage.budget.max_concurrent_dpu + EPSILON
        };
        let fits_all = of.iter().all(|&i| fits(&uses[i]));
        for &i in &of {
            let with_it = uses[i].in_use_dpu + dpu;
            let (standing, counted) = match (fits(&uses[i]), fits_all) {
                (true, true) => (Standing::Within, true),
                // In audit mode the members over a cap run on, and count.
                (false, _) => (Standing::Over, !enforcing),
                // It fits here, but another of its budgets stops it (audit: it runs on).
                (true, false) if enforcing => (Standing::Stopping, false),
                (true, false) => (Standing::Within, true),
            };
            if counted {
                uses[i].in_use_dpu = with_it;
            }
            uses[i].members.push(member(standing, with_it, counted));
        }
    }
    uses
}

/// The violation of the holder `kind`/`id` in a budget it is over, naming the budget, the DPUs
/// with it and the largest holders with their creators; `None` when it is not over.
pub fn violation(usage: &BudgetUse<'_, '_>, kind: HolderKind, id: &str) -> Option<Violation> {
    let member = usage.member(kind, id)?;
    if member.standing != Standing::Over {
        return None;
    }
    let budget = usage.budget;
    let holders = usage
        .largest(LARGEST_NAMED)
        .into_iter()
        .filter(|other| !(other.holder.kind == kind && other.holder.id == id))
        .map(|other| {
            let owner = other
                .holder
                .principal
                .as_ref()
                .map(|p| p.person().unwrap_or_else(|| p.arn.clone()))
                .unwrap_or_else(|| "creator unknown".to_string());
            format!(
                "{} {} ({} DPUs, {owner})",
                other.holder.kind.as_str(),
                other.holder.id,
                round(other.dpu())
            )
        })
        .collect::<Vec<_>>();
    let held = if holders.is_empty() {
        String::new()
    } else {
        format!("; largest holders: {}", holders.join(", "))
    };
    Some(Violation {
        rule: RULE.to_string(),
        actual: json!(round(member.with_it_dpu)),
        limit: json!(budget.max_concurrent_dpu),
        message: format!(
            "budget {}: {} DPUs at once with this {} ({} DPUs), more than its \
             max_concurrent_dpu {}{held}",
            crate::evaluate::quoted(&budget.name),
            round(member.with_it_dpu),
            kind.as_str(),
            round(member.dpu()),
            budget.max_concurrent_dpu,
        ),
        from_default: false,
    })
}

/// Adds the budget violations of the holder `kind`/`id` to its verdict ([`add_violations`]).
/// Call it only for a holder that still holds DPUs (an ended one is never a member).
pub fn apply(
    policy: &Policy,
    verdict: &mut Verdict,
    usages: &[BudgetUse<'_, '_>],
    kind: HolderKind,
    id: &str,
) {
    let breaches: Vec<Violation> = usages
        .iter()
        .filter_map(|usage| violation(usage, kind, id))
        .collect();
    add_violations(policy, verdict, breaches);
}

/// Adds budget violations to a verdict: a compliant verdict becomes a violation, with the
/// action the policy's enforcement gives one.
pub fn add_violations(policy: &Policy, verdict: &mut Verdict, breaches: Vec<Violation>) {
    if breaches.is_empty() {
        return;
    }
    verdict.violations.extend(breaches);
    if verdict.decision == Decision::Compliant {
        verdict.decision = Decision::Violation;
        verdict.action = enforcement_action(policy, Decision::Violation);
    }
}

/// The budgets `holder` is (or may be) a member of.
pub fn budgets_of<'p>(policy: &'p Policy, holder: &Holder) -> Vec<&'p Budget> {
    policy
        .budgets
        .iter()
        .filter(|budget| membership(budget, policy, holder) != Membership::NotMember)
        .collect()
}

/// DPU figures to 4 decimals, for messages.
fn round(dpu: f64) -> f64 {
    (dpu * 10_000.0).round() / 10_000.0
}
