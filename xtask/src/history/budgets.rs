//! Team budgets over history: how often each budget's members held more DPUs at once than its
//! cap, when, and which sessions and job runs the guard would have stopped for it.
//!
//! Each member session holds its DPUs from its `CreateSession` record's `eventTime` to its end:
//! its `StopSession`/`DeleteSession` record (at most its timeout later), else its timeout (an
//! upper bound: the history holds no end, and an idle timeout may have ended it sooner). Each
//! member job run (with a `jobs` section) holds its DPUs from its `StartJobRun` record's
//! `eventTime` for its whole timeout: CloudTrail records no run's end, so that is always an upper
//! bound. A member whose DPUs, or whose end and timeout, are unknown is not counted, and said so.
//!
//! *As it happened* is the history itself: the DPUs the members held at each moment, with no
//! guard. *With the guard* replays the Lambda's rule (`policy::budgets`): the members in creation
//! order, each admitted while what the admitted ones still running hold plus its own fits the
//! cap; one that does not fit is stopped at its start (audit mode: notified, and it runs on and
//! counts), and so is one its own boundaries stop (enforce mode). Budgets are replayed together:
//! a member stopped for one of its budgets holds nothing in the others.

use policy::Policy;
use policy::budgets::{self, Holder, Membership};
use serde::Serialize;

use std::collections::BTreeMap;

use super::jobs::RunHeld;
use super::observe::JudgedSession;
use super::time::{UnixSeconds, format_rfc3339};

/// How long a session held its DPUs, as the report measured it (its cost).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// DPUs, when known.
    pub dpu: Option<f64>,
    /// Hours from its creation to its end, when known.
    pub hours: Option<f64>,
    /// `hours` is its timeout: the history holds no end.
    pub upper_bound: bool,
}

/// How many points a budget's chart has at most (its x-axis labels must stay readable).
pub const CHART_POINTS: usize = 24;

/// The chart's steps, seconds: 1, 5, 10, 15 and 30 minutes, 1, 2, 3, 6 and 12 hours, 1 and 7
/// days.
const NICE_STEPS: [i64; 12] = [
    60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800,
];

/// How many of a budget's episodes over its cap are listed with their times.
const EPISODES_LISTED: usize = 10;

/// DPU sums compare with a margin far below any DPU figure (as `policy::budgets` does).
const EPSILON: f64 = 1e-9;

/// One budget over the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetReplay {
    pub name: String,
    pub max_concurrent_dpu: f64,
    /// Sessions and job runs that counted against it (DPUs and duration known).
    pub members: u64,
    /// Of them, job runs (each counted for its whole timeout).
    pub member_job_runs: u64,
    /// Of them, counted until their timeout: the history holds no end (an upper bound).
    pub members_upper_bound: u64,
    /// Members not counted: their DPUs, or their end and timeout, are unknown.
    pub members_not_counted: u64,
    /// The most DPUs the members held at once, as it happened, and when it began.
    pub peak_dpu: f64,
    pub peak_at: Option<String>,
    /// How many times, as it happened, the members' DPUs went over the cap.
    pub times_over: u64,
    /// When each of the first of those times began (RFC 3339).
    pub over_at: Vec<String>,
    /// The sessions and job runs the guard would have stopped for this budget (audit mode:
    /// notified), in creation order.
    pub stopped: Vec<BudgetStop>,
    /// The members' DPUs over time, as it happened: at most [`CHART_POINTS`] points, each the
    /// most held during its interval.
    pub chart: Vec<ChartPoint>,
}

/// A session or job run the guard would have stopped for a budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStop {
    /// `session` or `job_run`.
    pub kind: &'static str,
    /// The session id; for a job run `<job name>/<job run id>`.
    pub id: String,
    /// `eventTime` of its `CreateSession` or `StartJobRun`.
    pub created: Option<String>,
    pub principal: Option<String>,
    pub dpu: f64,
    /// The DPUs the budget's admitted members held with it.
    pub with_it_dpu: f64,
}

/// Against a baseline: what the team budgets stop under the policy and not under the baseline,
/// and the reverse (a pull request that changes a cap or a budget's members).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BudgetChanges {
    /// Sessions and job runs the baseline's budgets stop (each once).
    pub baseline_stopped: u64,
    /// Stopped for a budget under the policy, not under the baseline, in creation order.
    pub newly_stopped: Vec<BudgetChange>,
    /// Stopped for a budget under the baseline, not under the policy, in creation order.
    pub no_longer_stopped: Vec<BudgetChange>,
}

/// A session or job run whose fate a budget change changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetChange {
    /// `session` or `job_run`.
    pub kind: &'static str,
    /// The session id; for a job run `<job name>/<job run id>`.
    pub id: String,
    pub created: Option<String>,
    pub principal: Option<String>,
    /// Its DPUs, as the side that stops it reads them (its `worker_type_dpu`).
    pub dpu: f64,
    /// The budgets it is stopped for, on the side that stops it.
    pub budgets: Vec<String>,
}

impl BudgetChanges {
    /// Both lists, each with the word the reports put before it: `newly`, `no longer`.
    pub fn by_change(&self) -> [(&'static str, &[BudgetChange]); 2] {
        [
            ("newly", &self.newly_stopped),
            ("no longer", &self.no_longer_stopped),
        ]
    }

    /// `policy` and `baseline` are the replays of the policy's and the baseline's budgets over
    /// the same history.
    pub fn between(policy: &[BudgetReplay], baseline: &[BudgetReplay]) -> BudgetChanges {
        type Stops<'r> = BTreeMap<(&'static str, &'r str), (&'r BudgetStop, Vec<String>)>;
        fn stops(replays: &[BudgetReplay]) -> Stops<'_> {
            let mut stops: Stops<'_> = BTreeMap::new();
            for replay in replays {
                for stop in &replay.stopped {
                    stops
                        .entry((stop.kind, stop.id.as_str()))
                        .or_insert_with(|| (stop, Vec::new()))
                        .1
                        .push(replay.name.clone());
                }
            }
            stops
        }
        fn only<'r>(one: &Stops<'r>, other: &Stops<'r>) -> Vec<BudgetChange> {
            let mut changes: Vec<BudgetChange> = one
                .iter()
                .filter(|(key, _)| !other.contains_key(*key))
                .map(|(_, (stop, budgets))| BudgetChange {
                    kind: stop.kind,
                    id: stop.id.clone(),
                    created: stop.created.clone(),
                    principal: stop.principal.clone(),
                    dpu: stop.dpu,
                    budgets: budgets.clone(),
                })
                .collect();
            changes.sort_by(|a, b| {
                (a.created.is_none(), &a.created, &a.id).cmp(&(
                    b.created.is_none(),
                    &b.created,
                    &b.id,
                ))
            });
            changes
        }
        let (under_policy, under_baseline) = (stops(policy), stops(baseline));
        BudgetChanges {
            baseline_stopped: under_baseline.len() as u64,
            newly_stopped: only(&under_policy, &under_baseline),
            no_longer_stopped: only(&under_baseline, &under_policy),
        }
    }
}

/// One point of a budget's chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartPoint {
    /// The interval's start (RFC 3339).
    pub from: String,
    /// The most DPUs held at once during the interval.
    pub dpu: f64,
}

/// A member session or job run with its time held.
struct Held<'s> {
    holder: &'s Holder,
    /// Its own verdict, under the policy replayed, stops it: it holds nothing in enforce mode.
    stopped_by_own: bool,
    /// `eventTime` of its `CreateSession` or `StartJobRun`.
    created: Option<&'s str>,
    principal: Option<&'s str>,
    start: UnixSeconds,
    /// Its end as it happened.
    end: UnixSeconds,
    /// When the guard stops it in enforce mode, the exception that let it run having expired
    /// ([`JudgedSession::lapse`]): it holds its DPUs until then with the guard.
    stopped_at: Option<UnixSeconds>,
    dpu: f64,
}

/// One session or run a budget may count, before its membership is known.
struct Candidate<'s> {
    holder: &'s Holder,
    stopped_by_own: bool,
    created: Option<&'s str>,
    principal: Option<&'s str>,
    start: Option<UnixSeconds>,
    span: Span,
    stopped_at: Option<UnixSeconds>,
}

/// Which policy a replay is of: the one under review, or the baseline it is compared with
/// (each session and run then stops by the baseline's own verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Under {
    Policy,
    Baseline,
}

/// Every budget of `policy` over `sessions` (each with its span, as the report measured it) and
/// the job `runs` a budget may count; `under` says whether `policy` is the baseline.
pub fn replay<'s>(
    policy: &Policy,
    sessions: impl Iterator<Item = (&'s JudgedSession, Span)>,
    runs: &'s [RunHeld],
    under: Under,
) -> Vec<BudgetReplay> {
    let enforcing = policy.enforcement.mode == policy::Mode::Enforce;
    let stops = |decision: policy::Decision| {
        matches!(
            policy::enforcement_action(policy, decision),
            policy::Action::Stop | policy::Action::Delete
        )
    };
    let candidates: Vec<Candidate<'_>> = sessions
        .filter_map(|(session, span)| {
            let holder = session.holder.as_deref()?;
            // Out of bounds once an exception that let it run expired: the guard stops it then
            // (enforce mode), so it holds its DPUs until then with the guard.
            let lapse = match under {
                Under::Policy => session.lapse.as_ref(),
                Under::Baseline => session.baseline_lapse.as_ref(),
            };
            // Its DPUs under the baseline's `worker_type_dpu`, where they differ.
            let span = match (under, session.capacity.baseline_dpus.as_deref()) {
                (Under::Baseline, Some(dpus)) => Span {
                    dpu: dpus.as_ref().ok().copied(),
                    ..span
                },
                _ => span,
            };
            Some(Candidate {
                holder,
                // Stopped at its creation by its own boundaries (never one that lapsed: its
                // creation's verdict let it run).
                stopped_by_own: match (under, &session.under_baseline) {
                    _ if lapse.is_some() => false,
                    (Under::Baseline, Some(judgement)) => stops(judgement.decision),
                    _ => holder.stopped_by_policy,
                },
                created: session.event_time.as_deref(),
                principal: session.principal.as_deref(),
                start: session.created_at,
                span,
                stopped_at: lapse.map(|lapse| lapse.at),
            })
        })
        .chain(runs.iter().map(|run| Candidate {
            holder: &run.holder,
            stopped_by_own: match (under, run.baseline_decision) {
                (Under::Baseline, Some(decision)) => stops(decision),
                _ => run.holder.stopped_by_policy,
            },
            created: run.event_time.as_deref(),
            principal: run.principal.as_deref(),
            start: run.started_at,
            // CloudTrail records no run's end: its whole timeout, an upper bound.
            span: Span {
                dpu: match under {
                    Under::Policy => run.holder.dpu,
                    Under::Baseline => run.baseline_dpu,
                },
                hours: run.timeout_hours,
                upper_bound: true,
            },
            stopped_at: match under {
                Under::Policy => run.stopped_at,
                Under::Baseline => run.baseline_stopped_at,
            },
        }))
        .collect();
    let helds: Vec<(Vec<Held<'_>>, u64, u64)> = policy
        .budgets
        .iter()
        .map(|budget| {
            let mut held = Vec::new();
            let mut not_counted = 0;
            let mut upper_bound = 0;
            for candidate in &candidates {
                if budgets::membership(budget, policy, candidate.holder) != Membership::Member {
                    continue;
                }
                let span = &candidate.span;
                let (Some(start), Some(dpu), Some(hours)) = (candidate.start, span.dpu, span.hours)
                else {
                    not_counted += 1;
                    continue;
                };
                if span.upper_bound {
                    upper_bound += 1;
                }
                held.push(Held {
                    holder: candidate.holder,
                    stopped_by_own: candidate.stopped_by_own,
                    created: candidate.created,
                    principal: candidate.principal,
                    start,
                    end: start + (hours * 3600.0).ceil() as UnixSeconds,
                    stopped_at: candidate.stopped_at,
                    dpu,
                });
            }
            held.sort_by(|a, b| order(a).cmp(&order(b)));
            (held, not_counted, upper_bound)
        })
        .collect();
    let caps: Vec<f64> = policy
        .budgets
        .iter()
        .map(|budget| budget.max_concurrent_dpu)
        .collect();
    let mut stops = with_the_guard(&helds, &caps, enforcing);
    policy
        .budgets
        .iter()
        .zip(helds)
        .enumerate()
        .map(|(i, (budget, (held, not_counted, upper_bound)))| {
            let cap = budget.max_concurrent_dpu;
            let (peak_dpu, peak_at, times_over, over_at) = as_it_happened(&held, cap);
            BudgetReplay {
                name: budget.name.clone(),
                max_concurrent_dpu: cap,
                members: held.len() as u64,
                member_job_runs: held
                    .iter()
                    .filter(|h| h.holder.kind == budgets::HolderKind::JobRun)
                    .count() as u64,
                members_upper_bound: upper_bound,
                members_not_counted: not_counted,
                peak_dpu,
                peak_at: peak_at.map(format_rfc3339),
                times_over,
                over_at: over_at.into_iter().map(format_rfc3339).collect(),
                stopped: std::mem::take(&mut stops[i]),
                chart: chart(&held),
            }
        })
        .collect()
}

/// The order every invocation of the Lambda walks members in: creation, then kind and id.
fn order<'a>(held: &'a Held<'_>) -> (i64, budgets::HolderKind, &'a str) {
    (
        held.holder.created_at_ms,
        held.holder.kind,
        held.holder.id.as_str(),
    )
}

/// Every start (+DPUs) and end (−DPUs), in time order; at one instant, ends first (a session
/// that ends as another starts does not overlap it).
fn changes(held: &[Held<'_>]) -> Vec<(UnixSeconds, f64)> {
    let mut changes: Vec<(UnixSeconds, f64)> = held
        .iter()
        .flat_map(|h| [(h.start, h.dpu), (h.end, -h.dpu)])
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    changes
}

/// The peak and the times the members went over the cap, with no guard.
fn as_it_happened(
    held: &[Held<'_>],
    cap: f64,
) -> (f64, Option<UnixSeconds>, u64, Vec<UnixSeconds>) {
    let mut in_use = 0.0;
    let mut peak = 0.0;
    let mut peak_at = None;
    let mut over = false;
    let mut times = 0;
    let mut over_at = Vec::new();
    let changes = changes(held);
    for (i, (at, change)) in changes.iter().enumerate() {
        in_use += change;
        // Judge the level once every change of this instant is in.
        if changes.get(i + 1).is_some_and(|(next, _)| next == at) {
            continue;
        }
        if in_use > peak + EPSILON {
            peak = in_use;
            peak_at = Some(*at);
        }
        let now_over = in_use > cap + EPSILON;
        if now_over && !over {
            times += 1;
            if over_at.len() < EPISODES_LISTED {
                over_at.push(*at);
            }
        }
        over = now_over;
    }
    (peak, peak_at, times, over_at)
}

/// The Lambda's rule replayed (`policy::budgets::tally_all`), every budget together: who would
/// have been stopped for each. `helds`: each budget's members, as `replay` counts them; `caps`
/// each one's `max_concurrent_dpu`.
fn with_the_guard(
    helds: &[(Vec<Held<'_>>, u64, u64)],
    caps: &[f64],
    enforcing: bool,
) -> Vec<Vec<BudgetStop>> {
    // Every budget's members, in the one order: a member of several budgets comes once per
    // budget, together.
    let mut walk: Vec<(usize, &Held<'_>)> = helds
        .iter()
        .enumerate()
        .flat_map(|(budget, (held, _, _))| held.iter().map(move |member| (budget, member)))
        .collect();
    walk.sort_by(|a, b| order(a.1).cmp(&order(b.1)).then(a.0.cmp(&b.0)));
    let mut running: Vec<Vec<(UnixSeconds, f64)>> = vec![Vec::new(); helds.len()];
    let mut stopped: Vec<Vec<BudgetStop>> = vec![Vec::new(); helds.len()];
    for group in walk.chunk_by(|a, b| order(a.1) == order(b.1)) {
        // One holder reaching a budget twice counts once there, as the Lambda keeps the first.
        let mut group = group.to_vec();
        group.dedup_by_key(|(budget, _)| *budget);
        let group = &group[..];
        let member = group[0].1;
        if enforcing && member.stopped_by_own {
            // Its own boundaries stop it at its start: it holds nothing.
            continue;
        }
        let with_it: Vec<f64> = group
            .iter()
            .map(|&(budget, member)| {
                running[budget].retain(|(end, _)| *end > member.start);
                running[budget].iter().map(|(_, dpu)| dpu).sum::<f64>() + member.dpu
            })
            .collect();
        let fits = |(&(budget, _), with_it): (&(usize, &Held<'_>), &f64)| {
            *with_it <= caps[budget] + EPSILON
        };
        let fits_all = group.iter().zip(&with_it).all(fits);
        for (entry, with_it) in group.iter().zip(&with_it) {
            let &(budget, member) = entry;
            if !fits((entry, with_it)) {
                stopped[budget].push(BudgetStop {
                    kind: match member.holder.kind {
                        budgets::HolderKind::Session => "session",
                        budgets::HolderKind::JobRun => "job_run",
                    },
                    id: member.holder.id.clone(),
                    created: member.created.map(str::to_string),
                    principal: member.principal.map(str::to_string),
                    dpu: member.dpu,
                    with_it_dpu: *with_it,
                });
            }
            // Stopped for any of its budgets (enforce mode), it holds nothing in all of them;
            // stopped when its exception expired, it holds until then.
            if fits_all || !enforcing {
                let end = match member.stopped_at {
                    Some(at) if enforcing => at.min(member.end),
                    _ => member.end,
                };
                running[budget].push((end, member.dpu));
            }
        }
    }
    stopped
}

/// The members' DPUs over the history's span, as it happened: [`CHART_POINTS`] intervals at
/// most, each the most held at once during it.
fn chart(held: &[Held<'_>]) -> Vec<ChartPoint> {
    let (Some(first), Some(last)) = (
        held.iter().map(|h| h.start).min(),
        held.iter().map(|h| h.end).max(),
    ) else {
        return Vec::new();
    };
    // The shortest step people read well that keeps to CHART_POINTS.
    let span = (last - first).max(60);
    let step = NICE_STEPS
        .iter()
        .copied()
        .find(|step| ceil_div(span, *step) <= CHART_POINTS as i64)
        .unwrap_or_else(|| ceil_div(ceil_div(span, CHART_POINTS as i64), 86_400) * 86_400);
    let points = ceil_div(span, step) as usize;
    let mut most = vec![0.0_f64; points.max(1)];
    let mut in_use = 0.0;
    let changes = changes(held);
    let mut next = 0;
    for (i, slot) in most.iter_mut().enumerate() {
        let from = first + i as i64 * step;
        let to = from + step;
        // The level held at the interval's start.
        while next < changes.len() && changes[next].0 <= from {
            in_use += changes[next].1;
            next += 1;
        }
        *slot = in_use;
        while next < changes.len() && changes[next].0 < to {
            in_use += changes[next].1;
            next += 1;
            let settled = changes
                .get(next)
                .is_none_or(|(at, _)| *at != changes[next - 1].0);
            if settled {
                *slot = slot.max(in_use);
            }
        }
    }
    most.into_iter()
        .enumerate()
        .map(|(i, dpu)| ChartPoint {
            from: format_rfc3339(first + i as i64 * step),
            dpu: (dpu * 10_000.0).round() / 10_000.0,
        })
        .collect()
}

/// `a / b` rounded up, for positive `a` and `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// The budget's chart as a Mermaid `xychart-beta` (GitHub renders it): the DPUs held, and the
/// cap as a second line.
pub fn mermaid(replay: &BudgetReplay) -> String {
    let labels: Vec<String> = replay
        .chart
        .iter()
        .map(|point| format!("\"{}\"", label(&point.from)))
        .collect();
    let values: Vec<String> = replay.chart.iter().map(|p| number(p.dpu)).collect();
    let cap: Vec<String> = replay
        .chart
        .iter()
        .map(|_| number(replay.max_concurrent_dpu))
        .collect();
    let top = replay.peak_dpu.max(replay.max_concurrent_dpu) * 1.1;
    format!(
        "```mermaid\nxychart-beta\n    title \"Budget {}: DPUs held at once\"\n    x-axis [{}]\n    \
         y-axis \"DPUs\" 0 --> {}\n    line [{}]\n    line [{}]\n```\n",
        replay.name,
        labels.join(", "),
        number(top.ceil()),
        values.join(", "),
        cap.join(", "),
    )
}

/// `2026-12-01T09:00:00Z` → `12-01 09:00`.
fn label(rfc3339: &str) -> String {
    rfc3339
        .get(5..16)
        .map_or_else(|| rfc3339.to_string(), |text| text.replace('T', " "))
}

fn number(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        rounded.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::observe::{Harvest, Judges};
    use super::super::report::{Inputs, Tally};
    use super::*;

    const POLICY: &str = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 50}
budgets:
  - name: analytics
    members: {principals: ["arn:aws:iam::*:role/Analytics"]}
    max_concurrent_dpu: 100
"#;

    fn policy(mode: &str) -> Policy {
        let text = format!("{POLICY}enforcement: {{mode: {mode}}}\n");
        policy::load_policy("p.yaml", text.as_bytes()).unwrap()
    }

    fn create(id: &str, at: &str, workers: u64, role: &str) -> Value {
        json!({
            "eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
            "eventTime": at, "eventID": format!("e-{id}"),
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/someone"),
                "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::123456789012:role/{role}")}}
            },
            "requestParameters": {
                "id": id, "role": "arn:aws:iam::123456789012:role/Glue",
                "command": {"name": "glueetl"}, "workerType": "G.2X",
                "numberOfWorkers": workers, "timeout": 600, "glueVersion": "5.0"
            },
            "responseElements": {"session": {"id": id, "status": "PROVISIONING"}}
        })
    }

    fn stop(id: &str, at: &str) -> Value {
        json!({
            "eventSource": "glue.amazonaws.com", "eventName": "StopSession",
            "eventTime": at, "requestParameters": {"id": id}, "responseElements": {"id": id}
        })
    }

    fn report(policy: &Policy, records: &[Value]) -> super::super::report::Report {
        report_against(policy, None, records)
    }

    fn report_against(
        policy: &Policy,
        baseline: Option<&Policy>,
        records: &[Value],
    ) -> super::super::report::Report {
        let judges = Judges {
            policy,
            baseline,
            window: crate::history::Window::ALL,
        };
        let harvest = || {
            let mut harvest = Harvest::of("generated");
            for record in records {
                harvest.read(record, judges);
            }
            harvest
        };
        let mut tally = Tally::default();
        tally.add(harvest());
        // The same history with every session written to disk and read back (a run each):
        // the members' holders make the round trip.
        let mut on_disk = Tally::with_run_items(1);
        on_disk.add(harvest());
        let inputs = Inputs {
            policy: "p.yaml".into(),
            action: policy::enforcement_action(policy, policy::Decision::Violation),
            history: "generated".into(),
            baseline: baseline.map(|_| "baseline.yaml".into()),
            price_per_dpu_hour: 0.44,
            jobs: Default::default(),
            athena: None,
        };
        let report = tally.report(&inputs, judges).unwrap();
        let json = |report: &super::super::report::Report| serde_json::to_string(report).unwrap();
        assert_eq!(
            json(&on_disk.report(&inputs, judges).unwrap()),
            json(&report)
        );
        report
    }

    /// A generated trail with known overlaps: a 40-DPU session every hour from 00:00 to 09:00,
    /// each stopped 150 minutes after it started, so three run at once from each hour's start
    /// until the half hour. As it happened the budget of 100 was over 8 times (02:00 to 09:00);
    /// with the guard, the third of each three (02:00, 05:00, 08:00) is stopped, and the rest
    /// never overlap more than two.
    fn hourly() -> Vec<Value> {
        let mut records = Vec::new();
        for hour in 0..10 {
            let id = format!("nb-{hour:02}");
            records.push(create(
                &id,
                &format!("2026-12-01T{hour:02}:00:00Z"),
                20,
                "Analytics",
            ));
            let end = hour * 60 + 150;
            records.push(stop(
                &id,
                &format!("2026-12-01T{:02}:{:02}:00Z", end / 60, end % 60),
            ));
        }
        // Someone else's session counts toward nothing.
        records.push(create("nb-other", "2026-12-01T02:00:00Z", 50, "Finance"));
        records
    }

    /// A member whose override expires while it runs is stopped then (enforce mode) and holds
    /// nothing after it with the guard; as it happened, and in audit mode (the guard only
    /// notifies), it runs on. nb-a (15 x G.2X: 30 DPUs, within only its override, which
    /// expires at 10:00) runs 09:00-12:00; nb-b (10 x G.2X: 20 DPUs) 11:00-12:00; the cap is 40.
    /// The history (and its chart) is spilled to disk and read back (`report_against`).
    #[test]
    fn a_member_stopped_when_its_exception_expires_holds_nothing_after_it() {
        let text = |mode: &str| {
            format!(
                "{}overrides:\n  - name: burst\n    principals: [\"arn:aws:iam::*:role/Analytics\"]\n    \
                 boundaries: {{max_workers: 20}}\n    expires: 2026-12-01T10:00:00Z\n\
                 enforcement: {{mode: {mode}}}\n",
                POLICY
                    .replace("max_workers: 50", "max_workers: 10")
                    .replace("max_concurrent_dpu: 100", "max_concurrent_dpu: 40")
            )
        };
        let records = [
            create("nb-a", "2026-12-01T09:00:00Z", 15, "Analytics"),
            create("nb-b", "2026-12-01T11:00:00Z", 10, "Analytics"),
            stop("nb-a", "2026-12-01T12:00:00Z"),
            stop("nb-b", "2026-12-01T12:00:00Z"),
        ];
        let stopped = |report: &super::super::report::Report| -> Vec<String> {
            report.budgets[0]
                .stopped
                .iter()
                .map(|stop| stop.id.clone())
                .collect()
        };
        let enforce = policy::load_policy("p.yaml", text("enforce").as_bytes()).unwrap();
        let enforced = report(&enforce, &records);
        assert_eq!(enforced.violations, 1, "nb-a, from 10:00");
        assert!(
            stopped(&enforced).is_empty(),
            "nb-a was stopped at 10:00: nb-b fits"
        );
        // As it happened, both ran at 11:00: 50 DPUs, once over.
        assert_eq!(enforced.budgets[0].peak_dpu, 50.0);
        assert_eq!(enforced.budgets[0].times_over, 1);
        let audit = policy::load_policy("p.yaml", text("audit").as_bytes()).unwrap();
        let audited = report(&audit, &records);
        assert_eq!(stopped(&audited), ["nb-b"], "nb-a runs on in audit mode");
        assert_eq!(audited.budgets[0].times_over, 1);
    }

    /// Against a baseline, its budgets are replayed over the same history: a pull request that
    /// halves a cap (or adds a budget) shows the sessions it would newly stop, and the reverse.
    #[test]
    fn a_budget_change_shows_against_the_baseline() {
        let tight = policy("enforce");
        let loose = policy::load_policy(
            "p.yaml",
            POLICY
                .replace("max_concurrent_dpu: 100", "max_concurrent_dpu: 200")
                .as_bytes(),
        )
        .unwrap();
        let report = report_against(&tight, Some(&loose), &hourly());
        let changes = report.budget_changes.as_ref().expect("compared");
        let ids = |list: &[BudgetChange]| list.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&changes.newly_stopped), ["nb-02", "nb-05", "nb-08"]);
        assert!(changes.no_longer_stopped.is_empty());
        assert_eq!(changes.baseline_stopped, 0);
        assert_eq!(changes.newly_stopped[0].budgets, ["analytics"]);
        // The other way round: what the looser cap no longer stops.
        let report = report_against(&loose, Some(&tight), &hourly());
        let changes = report.budget_changes.as_ref().unwrap();
        assert_eq!(ids(&changes.no_longer_stopped), ["nb-02", "nb-05", "nb-08"]);
        assert_eq!(changes.baseline_stopped, 3);
        let text = super::super::text::text(&report);
        assert!(
            text.contains("budgets against the baseline: 0 newly stopped, 3 no longer stopped"),
            "{text}"
        );
        let markdown = super::super::text::markdown(&report);
        assert!(
            markdown.contains("| `nb-02` | 2026-12-01T02:00:00Z |"),
            "{markdown}"
        );
        // A baseline without the budget at all: every stop is new.
        let none = policy::load_policy(
            "p.yaml",
            b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 50}\n",
        )
        .unwrap();
        let report = report_against(&tight, Some(&none), &hourly());
        assert_eq!(
            ids(&report.budget_changes.unwrap().newly_stopped),
            ["nb-02", "nb-05", "nb-08"]
        );
    }

    /// Each side's replay reads a member's DPUs with its own `worker_type_dpu`: sessions of a
    /// worker type the catalogue lacks (M.2X: 2 DPUs by its name, 40 a session) go over the
    /// cap of 100 three at a time under the policy; a baseline that counts M.2X as 1 DPU (20 a
    /// session) is never over, so the policy's stops are new.
    #[test]
    fn each_side_of_a_budget_replay_reads_dpus_with_its_own_worker_type_dpu() {
        let records: Vec<Value> = hourly()
            .into_iter()
            .map(|mut record| {
                if let Some(request) = record["requestParameters"].as_object_mut()
                    && request.contains_key("workerType")
                {
                    request.insert("workerType".into(), json!("M.2X"));
                }
                record
            })
            .collect();
        let by_name = policy("enforce");
        let counted_as_one = policy::load_policy(
            "p.yaml",
            format!("{POLICY}worker_type_dpu: {{M.2X: 1}}\n").as_bytes(),
        )
        .unwrap();
        let report = report_against(&by_name, Some(&counted_as_one), &records);
        assert_eq!(report.budgets[0].peak_dpu, 120.0);
        let changes = report.budget_changes.as_ref().expect("compared");
        let ids = |list: &[BudgetChange]| list.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&changes.newly_stopped), ["nb-02", "nb-05", "nb-08"]);
        assert_eq!(changes.baseline_stopped, 0);
        // Each at the DPUs of the side that stops it: 20 x M.2X at 2 DPUs by its name.
        assert_eq!(changes.newly_stopped[0].dpu, 40.0);
        // The other way round: the baseline's 40-DPU sessions are the ones stopped.
        let report = report_against(&counted_as_one, Some(&by_name), &records);
        assert_eq!(report.budgets[0].peak_dpu, 60.0);
        let changes = report.budget_changes.as_ref().unwrap();
        assert_eq!(ids(&changes.no_longer_stopped), ["nb-02", "nb-05", "nb-08"]);
        assert_eq!(
            changes.no_longer_stopped[0].dpu, 40.0,
            "the baseline's reading"
        );
        assert_eq!(changes.baseline_stopped, 3);
        let text = super::super::text::text(&report);
        assert!(
            text.contains(
                "  no longer stopped  session \"nb-02\"  2026-12-01T02:00:00Z  \
                 arn:aws:sts::123456789012:assumed-role/Analytics/someone  40 DPUs  [analytics]"
            ),
            "{text}"
        );
        let markdown = super::super::text::markdown(&report);
        assert!(
            markdown.contains(
                "| `nb-02` | 2026-12-01T02:00:00Z | \
                 `arn:aws:sts::123456789012:assumed-role/Analytics/someone` | 40 | no longer \
                 stopped |"
            ),
            "{markdown}"
        );
    }

    #[test]
    fn a_generated_trail_with_known_overlaps_is_exceeded_when_it_was_and_stopped_as_the_guard_would()
     {
        let report = report(&policy("enforce"), &hourly());
        assert_eq!(report.budgets.len(), 1);
        let budget = &report.budgets[0];
        assert_eq!(budget.members, 10);
        assert_eq!(budget.members_upper_bound, 0);
        assert_eq!(budget.peak_dpu, 120.0);
        assert_eq!(budget.peak_at.as_deref(), Some("2026-12-01T02:00:00Z"));
        assert_eq!(budget.times_over, 8);
        assert_eq!(budget.over_at[0], "2026-12-01T02:00:00Z");
        assert_eq!(budget.over_at[7], "2026-12-01T09:00:00Z");
        let stopped: Vec<&str> = budget.stopped.iter().map(|stop| stop.id.as_str()).collect();
        assert_eq!(stopped, ["nb-02", "nb-05", "nb-08"]);
        assert_eq!(budget.stopped[0].with_it_dpu, 120.0);
        // 00:00 to 11:30 in 24 points of 30 minutes; 120 DPUs held from 02:00.
        assert_eq!(budget.chart.len(), 23);
        assert_eq!(budget.chart[0].from, "2026-12-01T00:00:00Z");
        assert_eq!(budget.chart[0].dpu, 40.0);
        assert_eq!(budget.chart[4].dpu, 120.0);
        assert_eq!(budget.chart[22].dpu, 40.0);
    }

    /// Budgets that share a member are replayed together, as the Lambda decides them: Q
    /// (Analytics alone, 50), P (both, 60), R (ML alone, 50), all at once. P takes `analytics`
    /// over and is stopped, so it holds nothing in `ml` and R fits there.
    #[test]
    fn a_member_stopped_for_one_budget_holds_nothing_in_its_others() {
        let text = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 50}
budgets:
  - {name: analytics, members: {principals: ["arn:aws:iam::*:role/Analytics*"]}, max_concurrent_dpu: 100}
  - {name: ml, members: {principals: ["arn:aws:iam::*:role/*ML"]}, max_concurrent_dpu: 100}
"#;
        let policy = policy::load_policy("p.yaml", text.as_bytes()).unwrap();
        let records = [
            create("q", "2026-12-01T09:00:00Z", 25, "Analytics"),
            create("p", "2026-12-01T09:00:01Z", 30, "AnalyticsML"),
            create("r", "2026-12-01T09:00:02Z", 25, "ML"),
        ];
        let report = report(&policy, &records);
        let stopped = |budget: usize| -> Vec<&str> {
            report.budgets[budget]
                .stopped
                .iter()
                .map(|stop| stop.id.as_str())
                .collect()
        };
        assert_eq!(stopped(0), ["p"]);
        assert!(stopped(1).is_empty(), "{:?}", stopped(1));
    }

    #[test]
    fn in_audit_mode_the_one_over_runs_on_and_counts() {
        let report = report(&policy("audit"), &hourly());
        let stopped: Vec<&str> = report.budgets[0]
            .stopped
            .iter()
            .map(|stop| stop.id.as_str())
            .collect();
        // Nothing is stopped, so every hour from 02:00 the third session running is notified.
        assert_eq!(
            stopped,
            [
                "nb-02", "nb-03", "nb-04", "nb-05", "nb-06", "nb-07", "nb-08", "nb-09"
            ]
        );
    }

    #[test]
    fn a_session_without_an_end_counts_until_its_timeout_and_is_said_to() {
        let records = [
            // 60 DPUs, no StopSession: its 600-minute timeout is the upper bound.
            create("nb-a", "2026-12-01T00:00:00Z", 30, "Analytics"),
            create("nb-b", "2026-12-01T09:00:00Z", 30, "Analytics"),
            stop("nb-b", "2026-12-01T09:30:00Z"),
            // After nb-a's timeout (10:00): alone.
            create("nb-c", "2026-12-01T10:00:00Z", 30, "Analytics"),
        ];
        let report = report(&policy("enforce"), &records);
        let budget = &report.budgets[0];
        assert_eq!(budget.members_upper_bound, 2);
        assert_eq!(budget.peak_dpu, 120.0, "nb-a still counted at 09:00");
        let stopped: Vec<&str> = budget.stopped.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(stopped, ["nb-b"]);
        let text = super::super::text::text(&report);
        assert!(
            text.contains("2 members without an end in the history counted until their timeout"),
            "{text}"
        );
    }

    /// With `--since`, members created before the window are not in the history read: said
    /// once above the budgets, in text and Markdown; without a window, nothing is said.
    #[test]
    fn a_window_says_members_created_before_it_are_missing() {
        let mut report = report(&policy("enforce"), &hourly());
        let note = "Budgets count the members created from 2026-12-01T01:00:00Z on: those created \
                    before the window and still running in it are not in the history read";
        assert!(!super::super::text::text(&report).contains("Budgets count the members"));
        report.window.since = Some("2026-12-01T01:00:00Z".to_string());
        assert!(super::super::text::text(&report).contains(note));
        assert!(super::super::text::markdown(&report).contains(note));
    }

    #[test]
    fn the_report_draws_each_budget_as_a_chart_github_renders() {
        let report = report(&policy("enforce"), &hourly());
        let markdown = super::super::text::markdown(&report);
        assert!(markdown.contains("#### Budget `analytics`"), "{markdown}");
        assert!(
            markdown.contains("```mermaid\nxychart-beta\n"),
            "{markdown}"
        );
        assert!(
            markdown.contains("x-axis [\"12-01 00:00\", \"12-01 00:30\","),
            "{markdown}"
        );
        assert!(
            markdown.contains("    line [40, 40, 80, 80, 120, 80, 120,"),
            "{markdown}"
        );
        assert!(markdown.contains("y-axis \"DPUs\" 0 --> 132"), "{markdown}");
        assert!(
            markdown.contains("| `nb-02` | 2026-12-01T02:00:00Z |"),
            "{markdown}"
        );
        let text = super::super::text::text(&report);
        assert!(
            text.contains(
                "budget analytics (100 DPUs at once): 10 member sessions, peak 120 DPUs at \
                 2026-12-01T02:00:00Z, over its cap 8 times (first at 2026-12-01T02:00:00Z); 3 \
                 sessions would be stopped for it"
            ),
            "{text}"
        );
        // The summary says the budgets stop more than the boundaries do, in both formats.
        assert!(
            text.contains(
                "budgets:    3 sessions would be stopped for a team budget (each budget below; not \
                 in at stake)"
            ),
            "{text}"
        );
        assert!(
            markdown.contains(
                "| team budgets | 3 sessions would be stopped for a team budget (each budget below; \
                 not in at stake) |"
            ),
            "{markdown}"
        );
    }

    fn job_record(name: &str, at: &str, request: Value, response: Value) -> Value {
        json!({
            "eventSource": "glue.amazonaws.com", "eventName": name,
            "eventTime": at, "eventID": format!("{name}-{at}"),
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/Analytics/someone",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/Analytics"}}
            },
            "requestParameters": request, "responseElements": response
        })
    }

    /// With a `jobs` section, the team's job runs count against its budget beside its sessions:
    /// each from its StartJobRun for its whole timeout (CloudTrail records no run's end). A
    /// session that comes on top of a running job run is stopped, and so is a job run that comes
    /// on top of a session, each named as what it is.
    #[test]
    fn job_runs_count_against_a_budget_and_are_stopped_for_it_like_sessions() {
        let written = format!(
            "{POLICY}jobs:\n  boundaries: {{max_workers: 50}}\nenforcement: {{mode: enforce}}\n"
        );
        let policy = policy::load_policy("p.yaml", written.as_bytes()).unwrap();
        let define = job_record(
            "CreateJob",
            "2026-11-30T12:00:00Z",
            json!({"name": "load", "role": "arn:aws:iam::123456789012:role/Glue",
                   "command": {"name": "glueetl"}, "glueVersion": "5.0",
                   "workerType": "G.2X", "numberOfWorkers": 30, "timeout": 120}),
            json!({"name": "load"}),
        );
        let run = |at: &str, id: &str| {
            job_record(
                "StartJobRun",
                at,
                json!({"jobName": "load"}),
                json!({"jobRunId": id}),
            )
        };
        let records = [
            define,
            // 40 DPUs from 00:00 to 04:00.
            create("s1", "2026-12-01T00:00:00Z", 20, "Analytics"),
            stop("s1", "2026-12-01T04:00:00Z"),
            // 60 DPUs from 01:00 for its 120-minute timeout: 100 with s1, at the cap.
            run("2026-12-01T01:00:00Z", "jr_1"),
            // 20 DPUs more: 120, stopped.
            create("s2", "2026-12-01T02:00:00Z", 10, "Analytics"),
            // 60 DPUs more: 160, stopped.
            run("2026-12-01T02:30:00Z", "jr_2"),
            // Alone with s1 after jr_1's timeout: 100.
            run("2026-12-01T03:00:00Z", "jr_3"),
        ];
        let report = report(&policy, &records);
        let budget = &report.budgets[0];
        assert_eq!((budget.members, budget.member_job_runs), (5, 3));
        // Every run, and s2 (no StopSession in the history), count to their timeouts.
        assert_eq!(budget.members_upper_bound, 4);
        let stopped: Vec<(&str, &str)> = budget
            .stopped
            .iter()
            .map(|stop| (stop.kind, stop.id.as_str()))
            .collect();
        assert_eq!(stopped, [("session", "s2"), ("job_run", "load/jr_2")]);
        assert_eq!(budget.stopped[1].with_it_dpu, 160.0);
        assert_eq!(
            budget.stopped[1].created.as_deref(),
            Some("2026-12-01T02:30:00Z")
        );
        // As it happened (no guard): 40 + 60 + 20 + 60 at 02:30.
        assert_eq!(budget.peak_dpu, 180.0);
        let text = super::super::text::text(&report);
        assert!(
            text.contains("5 members (2 sessions, 3 job runs)"),
            "{text}"
        );
        // Compliant is within their own boundaries: the budget stops some, said for sessions
        // and for job runs.
        assert!(
            text.contains(
                "3 compliant (within their own boundaries; some may be stopped for a team \
                 budget, below)"
            ) && text.contains(
                "compliant:  2 (within their own boundaries; some may be stopped for a team \
                 budget, above)"
            ),
            "{text}"
        );
        assert!(
            text.contains("1 session and 1 job run would be stopped for it"),
            "{text}"
        );
        assert!(
            text.contains("  \"load/jr_2\"  2026-12-01T02:30:00Z"),
            "{text}"
        );

        // The job's worker type one the catalogue lacks (M.2X: 2 DPUs by its name, 60 a run),
        // against a baseline that counts it as 1 (30 a run): under the baseline s1, jr_1 and s2
        // hold 90 and only jr_2 goes over, so s2's stop is new.
        let records: Vec<Value> = records
            .into_iter()
            .map(|mut record| {
                if record["eventName"] == "CreateJob" {
                    record["requestParameters"]["workerType"] = json!("M.2X");
                }
                record
            })
            .collect();
        let baseline = policy::load_policy(
            "b.yaml",
            format!("{written}worker_type_dpu: {{M.2X: 1}}\n").as_bytes(),
        )
        .unwrap();
        let report = report_against(&policy, Some(&baseline), &records);
        let changes = report.budget_changes.as_ref().expect("compared");
        let ids: Vec<&str> = changes
            .newly_stopped
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["s2"]);
        assert_eq!(changes.baseline_stopped, 1);

        // A policy without the jobs section against the baseline with it: the baseline's
        // replay counts the runs (s2 and jr_2 stopped), the policy's counts the sessions alone
        // (60 DPUs at most): both stops are gone.
        let sessions_only = policy::load_policy(
            "p.yaml",
            format!("{POLICY}enforcement: {{mode: enforce}}\n").as_bytes(),
        )
        .unwrap();
        let report = report_against(&sessions_only, Some(&policy), &records);
        assert_eq!(report.budgets[0].member_job_runs, 0);
        let changes = report.budget_changes.as_ref().expect("compared");
        let ids: Vec<&str> = changes
            .no_longer_stopped
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["s2", "load/jr_2"]);
        assert_eq!(changes.baseline_stopped, 2);
    }
}
