//! A [`Report`] for people: plain text for a terminal, Markdown for a pull-request comment (a
//! summary table, the rules, then at most [`MAX_ROWS`] sessions with a count of the rest).
//! Pure: the report in, a string out. Names from the records are shown as code, so nothing a
//! session's creator chose can change the comment's markup.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::change::ChangeKind;
use super::judgement::Judgement;
use super::report::{Change, Cost, DpuHours, Duration, Report, SessionRow};

/// Most sessions listed; the rest are counted ("and N more").
const MAX_ROWS: usize = super::report::ROWS_KEPT;
/// Most principals listed.
const TOP_PRINCIPALS: usize = 10;
/// Most damaged files listed in Markdown.
const MAX_DAMAGED: usize = 20;

/// `1234567` as `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1234.56` as `1,234.6` (`places` decimals).
fn decimal(value: f64, places: usize) -> String {
    let text = format!("{:.places$}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let sign = if value < 0.0 { "-" } else { "" };
    let whole = grouped(whole.parse().unwrap_or(0));
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// DPUs as people write them: `40`, `0.0625`, `12.5`.
/// `value` DPUs, as people write it: "1 DPU", "2 DPUs", "0.5 DPUs".
fn dpus_unit(value: f64) -> String {
    let figure = dpus(value);
    if figure == "1" {
        "1 DPU".to_string()
    } else {
        format!("{figure} DPUs")
    }
}

fn dpus(value: f64) -> String {
    let rounded = (value * 10_000.0).round() / 10_000.0;
    if rounded.fract() == 0.0 {
        decimal(rounded, 0)
    } else {
        let text = rounded.to_string();
        let places = text.split_once('.').map_or(0, |(_, f)| f.len());
        decimal(rounded, places)
    }
}

pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// The DPU-hours and their cost, saying when it is an upper bound.
fn at_stake(hours: &DpuHours, price: f64) -> String {
    let bound = if hours.is_upper_bound() {
        "at most "
    } else {
        ""
    };
    format!(
        "{bound}{} DPU-hours, {bound}{} USD",
        decimal(hours.total, 1),
        decimal(hours.total * price, 2)
    )
}

/// A job's DPU-hours at stake, with how many of its stopped runs they leave out (`?`: DPUs or
/// timeout unknown).
fn job_hours(totals: &super::jobs::JobTotals) -> String {
    match totals.dpu_hours_unknown {
        0 => format!("{:.1}", totals.dpu_hours),
        n => format!("{:.1} + {n} ?", totals.dpu_hours),
    }
}

/// The DPU-hours at stake of `runs` stopped job runs in a table's cell: `at most 160.0
/// DPU-hours, at most 70.40 USD` (each run's whole timeout: an upper bound), with the runs
/// they leave out (`unknown`); `none` for no run stopped.
fn runs_at_stake(runs: u64, hours: f64, unknown: u64, price: f64) -> String {
    if runs == 0 {
        return "none".to_string();
    }
    format!(
        "at most {} DPU-hours, at most {} USD{}",
        decimal(hours, 1),
        decimal(hours * price, 2),
        runs_not_counted(unknown, "; ")
    )
}

/// [`runs_at_stake`] of the runs the baseline stops; `None` without a baseline.
fn baseline_runs_at_stake(jobs: &super::jobs::JobsReport, price: f64) -> Option<String> {
    Some(runs_at_stake(
        jobs.baseline_violations?,
        jobs.baseline_dpu_hours.unwrap_or_default(),
        jobs.baseline_dpu_hours_unknown.unwrap_or_default(),
        price,
    ))
}

/// The Markdown job section's sentence on what is at stake, with the baseline's beside it.
fn runs_at_stake_sentence(jobs: &super::jobs::JobsReport, price: f64, acted: &str) -> String {
    let baseline = baseline_runs_at_stake(jobs, price)
        .map(|figure| format!(" Under the baseline: {figure}."))
        .unwrap_or_default();
    if jobs.violations == 0 {
        return format!("Nothing at stake: no run would be {acted}.{baseline}");
    }
    format!(
        "At stake: at most {:.1} DPU-hours ({:.2} USD: each run's DPUs x its whole timeout{}).{baseline}",
        jobs.dpu_hours,
        jobs.dpu_hours * price,
        runs_not_counted(jobs.dpu_hours_unknown, "; ")
    )
}

/// `separator` and how many stopped job runs the DPU-hours leave out, or nothing.
fn runs_not_counted(runs: u64, separator: &str) -> String {
    if runs == 0 {
        return String::new();
    }
    format!(
        "{separator}{} not counted: DPUs or timeout unknown",
        plural(runs, "stopped run", "stopped runs")
    )
}

/// What the figure leaves out or bounds, or nothing.
fn stake_notes(hours: &DpuHours) -> Vec<String> {
    let mut notes = Vec::new();
    if hours.sessions_measured > 0 {
        notes.push(format!(
            "{} measured to their StopSession/DeleteSession: {} DPU-hours",
            plural(hours.sessions_measured, "session", "sessions"),
            decimal(hours.measured, 1)
        ));
    }
    if hours.sessions_upper_bound > 0 {
        notes.push(format!(
            "{} without an end in the history, each counted until its timeout (an upper bound): \
             {} DPU-hours",
            plural(hours.sessions_upper_bound, "session", "sessions"),
            decimal(hours.upper_bound, 1)
        ));
    }
    if hours.sessions_unknown_dpu > 0 {
        notes.push(format!(
            "{} not counted: DPUs unknown",
            plural(hours.sessions_unknown_dpu, "session", "sessions")
        ));
    }
    if hours.sessions_unknown_duration > 0 {
        notes.push(format!(
            "{} not counted: no end in the history and timeout unknown",
            plural(hours.sessions_unknown_duration, "session", "sessions")
        ));
    }
    notes
}

fn cost_cell(cost: &Cost) -> String {
    match (cost.dpu_hours, cost.duration) {
        (Some(dpu_hours), Duration::Measured) => decimal(dpu_hours, 1),
        (Some(dpu_hours), _) => format!("≤ {}", decimal(dpu_hours, 1)),
        (None, _) if cost.dpus.is_none() => "DPUs unknown".to_string(),
        (None, _) => "unknown".to_string(),
    }
}

/// A change's cost in a line of text ([`cost_words`]), with the baseline's beside it for one
/// stopped under both: `≤ 20.0 DPU-hours (baseline: ≤ 40.0)`.
fn change_cost_words(cost: &Cost, baseline_cost: Option<&Cost>) -> String {
    match baseline_cost {
        Some(baseline) => format!("{} (baseline: {})", cost_words(cost), cost_cell(baseline)),
        None => cost_words(cost),
    }
}

/// [`change_cost_words`] in a table's cell: `≤ 20.0 (baseline: ≤ 40.0)`.
fn change_cost_cell(cost: &Cost, baseline_cost: Option<&Cost>) -> String {
    match baseline_cost {
        Some(baseline) => format!("{} (baseline: {})", cost_cell(cost), cost_cell(baseline)),
        None => cost_cell(cost),
    }
}

/// A session's DPU-hours in a line of text: `12.5 DPU-hours`, `≤ 40.0 DPU-hours`, or why they
/// are unknown.
fn cost_words(cost: &Cost) -> String {
    match cost.dpu_hours {
        Some(_) => format!("{} DPU-hours", cost_cell(cost)),
        None if cost.dpus.is_none() => "DPU-hours unknown (DPUs unknown)".to_string(),
        None => "DPU-hours unknown".to_string(),
    }
}

fn rules<R: AsRef<str>>(rules: &[R]) -> String {
    if rules.is_empty() {
        "–".to_string()
    } else {
        let rules: Vec<&str> = rules.iter().map(AsRef::as_ref).collect();
        rules.join(", ")
    }
}

/// The rules of each side of a change (`kind`), `(before, after)`: a side that does not stop
/// it yet breaks rules exempts it (an exempt principal or session), and says so: `exempt
/// (max_workers)`.
fn change_rules<R: AsRef<str>>(kind: ChangeKind, before: &[R], after: &[R]) -> (String, String) {
    let side = |broken: &[R], stops: bool| match (stops, broken.is_empty()) {
        (false, false) => format!("exempt ({})", rules(broken)),
        _ => rules(broken),
    };
    (
        side(before, kind != ChangeKind::NewlyViolating),
        side(after, kind != ChangeKind::NoLongerViolating),
    )
}

fn top_principals(by_principal: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    let mut top: Vec<(&str, u64)> = by_principal.iter().map(|(p, n)| (p.as_str(), *n)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top.truncate(TOP_PRINCIPALS);
    top
}

/// The Athena query in a sentence: its id, workgroup, scan and cost.
fn athena_line(run: &super::athena::AthenaRun) -> String {
    format!(
        "Athena query {} in workgroup {} on {}: {} GB scanned, {} USD at {} USD per TB",
        run.query_execution_id,
        run.workgroup,
        run.table,
        decimal(run.bytes_scanned as f64 / 1e9, 3),
        decimal(run.cost_usd, 4),
        run.price_per_tb_usd
    )
}

/// Whether the report spans several accounts or Regions (or came from Athena): then the
/// per-account and per-Region totals are shown.
fn shows_places(report: &Report) -> bool {
    report.athena.is_some() || report.by_account.len() > 1 || report.by_region.len() > 1
}

/// What a budget would stop, by kind: `3 sessions`, or `3 sessions and 1 job run`.
fn stopped_kinds(budget: &super::budgets::BudgetReplay) -> String {
    let runs = budget
        .stopped
        .iter()
        .filter(|stop| stop.kind == "job_run")
        .count() as u64;
    let sessions = budget.stopped.len() as u64 - runs;
    match (sessions, runs) {
        (_, 0) => plural(sessions, "session", "sessions"),
        (0, _) => plural(runs, "job run", "job runs"),
        _ => format!(
            "{} and {}",
            plural(sessions, "session", "sessions"),
            plural(runs, "job run", "job runs")
        ),
    }
}

/// The sessions and job runs the team budgets stop, each once whichever budgets stop it.
fn budget_stops(report: &Report) -> (u64, u64) {
    let stops: std::collections::BTreeSet<(&str, &str)> = report
        .budgets
        .iter()
        .flat_map(|budget| budget.stopped.iter())
        .map(|stop| (stop.kind, stop.id.as_str()))
        .collect();
    let runs = stops.iter().filter(|(kind, _)| *kind == "job_run").count() as u64;
    (stops.len() as u64 - runs, runs)
}

/// After the compliant count: that a team budget may act on some of them, when one acts on any
/// session (compliant means within its own boundaries; a budget judges what a team holds).
fn compliant_note(report: &Report, acted: &str) -> String {
    match budget_stops(report) {
        (0, _) => String::new(),
        _ => {
            format!(" (within their own boundaries; some may be {acted} for a team budget, above)")
        }
    }
}

/// What the team budgets would have stopped (each session or run once, whichever budgets stop
/// it), or `None` when they stop nothing. In audit mode a session its own boundaries stop may
/// be among them (it runs on, and counts). Their DPU-hours are not in "at stake": each budget
/// below lists what it stops.
fn budget_stops_line(report: &Report, acted: &str) -> Option<String> {
    let (sessions, runs) = budget_stops(report);
    if sessions + runs == 0 {
        return None;
    }
    let what = match (sessions, runs) {
        (_, 0) => plural(sessions, "session", "sessions"),
        (0, _) => plural(runs, "job run", "job runs"),
        _ => format!(
            "{} and {}",
            plural(sessions, "session", "sessions"),
            plural(runs, "job run", "job runs")
        ),
    };
    Some(format!(
        "{what} would be {acted} for a team budget (each budget below; not in at stake)"
    ))
}

/// With `--since` and budgets: the members created before the window are not in the history
/// read, though some still held DPUs in it; said once, before the budgets.
fn budgets_window_note(report: &Report) -> Option<String> {
    let since = report.window.since.as_deref()?;
    (!report.budgets.is_empty()).then(|| {
        format!(
            "Budgets count the members created from {since} on: those created before the window \
             and still running in it are not in the history read, so for as long as they could \
             run (their timeouts) after {since}, a team may have held more DPUs at once than shown."
        )
    })
}

/// One budget in a sentence: its cap, its peak, how often it was exceeded, and what the guard
/// would have done.
fn budget_summary(budget: &super::budgets::BudgetReplay, acted: &str) -> String {
    let peak = match &budget.peak_at {
        Some(at) => format!("peak {} at {at}", dpus_unit(budget.peak_dpu)),
        None => "no member ran".to_string(),
    };
    let over = match budget.times_over {
        0 => "never over its cap".to_string(),
        n => format!(
            "over its cap {} (first at {})",
            plural(n, "time", "times"),
            budget.over_at.first().map_or("-", String::as_str)
        ),
    };
    let mut notes = Vec::new();
    if budget.members_upper_bound > 0 {
        notes.push(format!(
            "{} without an end in the history counted until their timeout (an upper bound)",
            plural(budget.members_upper_bound, "member", "members")
        ));
    }
    if budget.members_not_counted > 0 {
        notes.push(format!(
            "{} not counted (DPUs or duration unknown)",
            plural(budget.members_not_counted, "member", "members")
        ));
    }
    format!(
        "budget {} ({} at once): {}, {peak}, {over}; {} would be {acted} for it{}",
        budget.name,
        dpus_unit(budget.max_concurrent_dpu),
        match budget.member_job_runs {
            0 => plural(budget.members, "member session", "member sessions"),
            runs if runs == budget.members => plural(runs, "member job run", "member job runs"),
            runs => format!(
                "{} ({}, {})",
                plural(budget.members, "member", "members"),
                plural(budget.members - runs, "session", "sessions"),
                plural(runs, "job run", "job runs")
            ),
        },
        stopped_kinds(budget),
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        }
    )
}

/// What the policy does to a session out of bounds, as a participle: the text says
/// "notified" (audit mode), "stopped and deleted" or "stopped" accordingly.
fn acted(report: &Report) -> &'static str {
    match report.action {
        policy::Action::Notify => "notified",
        policy::Action::Delete => "stopped and deleted",
        _ => "stopped",
    }
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let acted = acted(report);
    let price = report.price_per_dpu_hour;
    let _ = writeln!(out, "backtest of {} over {}", report.policy, report.history);
    if let Some(baseline) = &report.baseline {
        let _ = writeln!(out, "baseline:   {baseline}");
    }
    let _ = writeln!(
        out,
        "read:       {}, {}",
        units(report),
        plural(report.records, "record", "records")
    );
    if let Some(window) = window_line(report) {
        let _ = writeln!(out, "window:     {window}");
    }
    if let Some(left_out) = left_out_line(report) {
        let _ = writeln!(out, "left out:   {left_out}");
    }
    if let Some(run) = &report.athena {
        let _ = writeln!(out, "athena:     {}", athena_line(run));
    }
    if report.unreadable_records > 0 {
        let _ = writeln!(out, "unreadable: {}", unreadable_line(report));
    }
    let _ = writeln!(
        out,
        "sessions:   {} judged (successful CreateSession records)",
        grouped(report.sessions)
    );
    let baseline = report.comparison.as_ref();
    let _ = writeln!(
        out,
        "{:<11} {}{}",
        format!("{acted}:"),
        grouped(report.violations),
        baseline.map_or(String::new(), |c| format!(
            " (baseline: {})",
            grouped(c.baseline_violations)
        ))
    );
    if let Some(line) = budget_stops_line(report, acted) {
        let _ = writeln!(out, "budgets:    {line}");
    }
    let _ = writeln!(out, "exempt:     {}", grouped(report.exempt));
    let _ = writeln!(
        out,
        "compliant:  {}{}",
        grouped(report.compliant),
        compliant_note(report, acted)
    );
    let _ = writeln!(
        out,
        "at stake:   {} at {price} USD per DPU-hour",
        at_stake(&report.dpu_hours, price)
    );
    for note in stake_notes(&report.dpu_hours) {
        let _ = writeln!(out, "  {note}");
    }
    if !report.by_rule.is_empty() {
        let _ = writeln!(out, "\n{acted} sessions by rule:");
        for (rule, n) in &report.by_rule {
            let _ = writeln!(out, "  {rule:<26} {:>10}", grouped(*n));
        }
        let _ = writeln!(out, "by limits applied:");
        for (limits, n) in &report.by_override {
            let _ = writeln!(out, "  {limits:<26} {:>10}", grouped(*n));
        }
        let _ = writeln!(
            out,
            "by principal (top {} of {}):",
            TOP_PRINCIPALS.min(report.by_principal.len()),
            report.by_principal.len()
        );
        for (principal, n) in top_principals(&report.by_principal) {
            let _ = writeln!(out, "  {:>10}  {principal}", grouped(n));
        }
    }
    if shows_places(report) {
        for (title, places) in [
            ("by account", &report.by_account),
            ("by Region", &report.by_region),
        ] {
            let _ = writeln!(out, "\n{title} (sessions, {acted}, DPU-hours {acted}):");
            for (place, totals) in places {
                let _ = writeln!(
                    out,
                    "  {place:<26} {:>10} {:>10} {:>12}",
                    grouped(totals.sessions),
                    grouped(totals.violations),
                    decimal(totals.dpu_hours, 1)
                );
            }
        }
    }
    match &report.comparison {
        Some(comparison) => {
            let _ = writeln!(
                out,
                "\nagainst the baseline: {} newly {acted}, {} no longer {acted}, {} {acted} for \
                 other rules, {} {acted} at another time",
                grouped(comparison.newly_violating.len() as u64),
                grouped(comparison.no_longer_violating.len() as u64),
                grouped(comparison.other_rules.len() as u64),
                grouped(comparison.stopped_at_another_time.len() as u64)
            );
            if !comparison.newly_violating.is_empty() {
                let _ = writeln!(
                    out,
                    "  newly at stake: {}",
                    at_stake(&comparison.newly_violating_dpu_hours, price)
                );
            }
            for change in comparison.changes.kept().iter().take(MAX_ROWS) {
                let [(before_rules, before), (after_rules, after)] = session_sides(change);
                let _ = writeln!(
                    out,
                    "  {:<24} {}  [{}]{before} -> [{}]{after}  {}",
                    change.change.words(acted),
                    policy::quoted(&change.session_id),
                    before_rules,
                    after_rules,
                    change_cost_words(&change.cost, change.baseline_cost.as_ref())
                );
            }
            more_line(&mut out, comparison.changes.len(), "  ");
        }
        None if !report.violating.is_empty() => {
            let _ = writeln!(out, "\n{acted} sessions:");
            for row in report.violating.kept().iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "  {}  {}  [{}]{}  {}",
                    policy::quoted(&row.session_id),
                    row.principal.as_deref().unwrap_or("-"),
                    rules(&row.rules[..]),
                    expired_words(row.exception_expired_at.as_deref()),
                    cost_words(&row.cost)
                );
            }
            more_line(&mut out, report.violating.len(), "  ");
        }
        None => {}
    }
    if let Some(jobs) = &report.jobs {
        let (_, budget_runs) = budget_stops(report);
        let note = if budget_runs > 0 {
            format!(" (within their own boundaries; some may be {acted} for a team budget, below)")
        } else {
            String::new()
        };
        jobs_text(&mut out, jobs, acted, price, &note);
    }
    if let Some(note) = budgets_window_note(report) {
        let _ = writeln!(out, "\n{note}");
    }
    for budget in &report.budgets {
        let _ = writeln!(out, "\n{}", budget_summary(budget, acted));
        for stop in budget.stopped.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "  {}  {}  {}  {}, {} with it",
                policy::quoted(&stop.id),
                stop.created.as_deref().unwrap_or("-"),
                stop.principal.as_deref().unwrap_or("-"),
                dpus_unit(stop.dpu),
                dpus(stop.with_it_dpu)
            );
        }
        more_line(&mut out, budget.stopped.len(), "  ");
    }
    if let Some(changes) = &report.budget_changes {
        let _ = writeln!(
            out,
            "\nbudgets against the baseline: {} newly {acted}, {} no longer {acted} (the \
             baseline's budgets stop {})",
            grouped(changes.newly_stopped.len() as u64),
            grouped(changes.no_longer_stopped.len() as u64),
            grouped(changes.baseline_stopped)
        );
        for (what, list) in changes.by_change() {
            for change in list.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "  {what} {acted}  {} {}  {}  {}  {}  [{}]",
                    change.kind.replace('_', " "),
                    policy::quoted(&change.id),
                    change.created.as_deref().unwrap_or("-"),
                    change.principal.as_deref().unwrap_or("-"),
                    dpus_unit(change.dpu),
                    change.budgets.join(", ")
                );
            }
            more_line(&mut out, list.len(), "  ");
        }
    }
    if !report.damaged.is_empty() {
        let _ = writeln!(
            out,
            "\n{} could not be read to the end (the records before the damage are counted):",
            plural(report.damaged.len() as u64, "file", "files")
        );
        for damaged in &report.damaged {
            let _ = writeln!(out, "  {}: {}", damaged.file, damaged.reason);
        }
    }
    if !report.expiring.is_empty() {
        out.push('\n');
        out.push_str(&crate::expiring::text(&report.expiring));
    }
    out
}

/// Said above the job runs when the policy has no `jobs` section (the baseline has one);
/// `acted` as the report words it ("stopped", "notified", …).
fn not_guarded(acted: &str) -> String {
    format!(
        "This policy has no jobs section: job runs are not guarded (none {acted}, exempt or \
         compliant under it); they are judged for the baseline, which guards them."
    )
}

/// What is said above the job runs of `jobs` when one side (the policy, or the baseline) has no
/// `jobs` section; `acted` as the report words it.
fn guarding_note(jobs: &super::jobs::JobsReport, acted: &str) -> Option<String> {
    if !jobs.guarded {
        Some(not_guarded(acted))
    } else if jobs.baseline_guarded == Some(false) {
        Some(format!(
            "The baseline has no jobs section: under it no job run is {acted}, so every run \
             {acted} under this policy is new."
        ))
    } else {
        None
    }
}

/// " (baseline: N)" after a count, when there is a baseline.
fn baseline_count(count: Option<u64>) -> String {
    count.map_or(String::new(), |n| format!(" (baseline: {})", grouped(n)))
}

/// The jobs part of the text report: the runs judged, the definitions reported, the DPU-hours
/// at stake per job, the stopped runs; `compliant_note` follows the compliant count (a team
/// budget acts on some).
fn jobs_text(
    out: &mut String,
    jobs: &super::jobs::JobsReport,
    acted: &str,
    price: f64,
    compliant_note: &str,
) {
    let note = guarding_note(jobs, acted);
    if let Some(note) = &note {
        let _ = writeln!(out, "\n{note}");
    }
    let _ = writeln!(
        out,
        "{}job runs:   {} judged (successful StartJobRun records), {} {acted}{}, {} exempt, {} \
         compliant{compliant_note}",
        if note.is_none() { "\n" } else { "" },
        grouped(jobs.runs),
        grouped(jobs.violations),
        baseline_count(jobs.baseline_violations),
        grouped(jobs.exempt),
        grouped(jobs.compliant)
    );
    if jobs.runs_without_definition > 0 {
        let _ = writeln!(
            out,
            "  {} judged without their job's definition (none in the history before them, none \
             given with --job or from Glue): what they leave out is not checked",
            grouped(jobs.runs_without_definition)
        );
    }
    let _ = writeln!(
        out,
        "job definitions: {} written (CreateJob, UpdateJob), {} out of bounds (reported){}",
        grouped(jobs.definitions),
        grouped(jobs.definition_violations),
        baseline_count(jobs.baseline_definition_violations)
    );
    let baseline = baseline_runs_at_stake(jobs, price)
        .map(|figure| format!("; baseline: {figure}"))
        .unwrap_or_default();
    if jobs.violations == 0 {
        let _ = writeln!(
            out,
            "job runs at stake: none (no run would be {acted}){baseline}"
        );
    } else {
        let _ = writeln!(
            out,
            "job runs at stake: {:.1} DPU-hours, {:.2} USD at most (each {acted} run's DPUs x \
             its whole timeout: CloudTrail holds no run's end){}{baseline}",
            jobs.dpu_hours,
            jobs.dpu_hours * price,
            runs_not_counted(jobs.dpu_hours_unknown, "; "),
        );
    }
    if !jobs.by_job.is_empty() {
        let _ = writeln!(
            out,
            "  {:<32} {:>6} {:>8} {:>12} {:>16}",
            "job", "runs", acted, "DPU-hours", "definitions out"
        );
        for (name, totals) in &jobs.by_job {
            let _ = writeln!(
                out,
                "  {:<32} {:>6} {:>8} {:>12} {:>16}",
                name,
                grouped(totals.runs),
                grouped(totals.violations),
                job_hours(totals),
                grouped(totals.definition_violations)
            );
        }
    }
    if !jobs.by_rule.is_empty() {
        let _ = writeln!(out, "{acted} job runs by rule:");
        for (rule, n) in &jobs.by_rule {
            let _ = writeln!(out, "  {rule:<26} {:>10}", grouped(*n));
        }
    }
    if jobs.baseline_violations.is_some() {
        let count = |kind: ChangeKind| grouped(jobs.changes_of(kind));
        let _ = writeln!(
            out,
            "job runs against the baseline: {} newly {acted}, {} no longer {acted}, {} {acted} \
             for other rules, {} {acted} at another time",
            count(ChangeKind::NewlyViolating),
            count(ChangeKind::NoLongerViolating),
            count(ChangeKind::OtherRules),
            count(ChangeKind::StoppedAtAnotherTime)
        );
        for change in jobs.changes.iter().take(MAX_ROWS) {
            let [(before_rules, before), (after_rules, after)] = run_sides(change);
            let _ = writeln!(
                out,
                "  {:<24} {} run {}  [{}]{before} -> [{}]{after}  {}",
                change.change.words(acted),
                policy::quoted(&change.job_name),
                change.job_run_id,
                before_rules,
                after_rules,
                change_cost_words(&change.cost, change.baseline_cost.as_ref())
            );
        }
        more_line(out, jobs.changes.len(), "  ");
    }
    if !jobs.violating.is_empty() {
        let _ = writeln!(out, "{acted} job runs:");
    }
    for row in jobs.violating.iter().take(MAX_ROWS) {
        let _ = writeln!(
            out,
            "  {} run {}  {}  [{}]{}  {} (definition: {})",
            policy::quoted(&row.job_name),
            row.job_run_id,
            row.principal.as_deref().unwrap_or("-"),
            rules(&row.rules[..]),
            expired_words(row.exception_expired_at.as_deref()),
            cost_words(&row.cost),
            row.definition
        );
    }
    more_line(out, jobs.violating.len(), "  ");
}

fn more_line(out: &mut String, total: usize, indent: &str) {
    if total > MAX_ROWS {
        let _ = writeln!(
            out,
            "{indent}and {} more (--format json lists them all)",
            grouped((total - MAX_ROWS) as u64)
        );
    }
}

/// What a history is, its names as code and its words as words.
fn described(history: &super::source::Described) -> String {
    history
        .parts()
        .iter()
        .map(|part| match part {
            super::source::Part::Words(words) => escaped(words),
            super::source::Part::Name(name) => code(name),
        })
        .collect()
}

/// Words as Markdown shows them as written: its markup characters escaped, control characters
/// as spaces.
fn escaped(words: &str) -> String {
    let mut out = String::with_capacity(words.len());
    for c in words.chars() {
        if c.is_control() {
            out.push(' ');
            continue;
        }
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` as an inline code span that no content can break out of (CommonMark: a fence longer
/// than any run of backticks inside), with `|` escaped for GFM tables and line breaks flattened.
fn code(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let longest_run = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", flat.replace('|', "\\|"))
}

/// What was read, in its units: files, or the chunks an Athena result was read in.
pub(crate) fn units(report: &Report) -> String {
    if report.read_in_chunks() {
        format!("the result in {}", plural(report.chunks, "chunk", "chunks"))
    } else {
        plural(report.files, "file", "files")
    }
}

/// `--since`/`--until`, when the backtest had a window.
fn window_line(report: &Report) -> Option<String> {
    if report.window.is_open() {
        return None;
    }
    let end = |at: &Option<String>, open: &str| at.clone().unwrap_or_else(|| open.to_string());
    let outside = match report.outside_window {
        0 => "every Glue call read falls in it".to_string(),
        n => format!(
            "{} of Glue calls {} outside it: counted, not judged",
            plural(n, "record", "records"),
            if n == 1 { "falls" } else { "fall" }
        ),
    };
    Some(format!(
        "from {} to {} ({outside})",
        end(&report.window.since, "the first record"),
        end(&report.window.until, "the last record")
    ))
}

/// The log files `--since` left out, and why, when there are some.
fn left_out_line(report: &Report) -> Option<String> {
    (report.files_left_out > 0).then(|| {
        format!(
            "{} not read: {} name{} CloudTrail delivered {} before --since, and a log file holds \
             only records from before its delivery",
            plural(report.files_left_out, "log file", "log files"),
            if report.files_left_out == 1 {
                "its"
            } else {
                "their"
            },
            if report.files_left_out == 1 {
                " says"
            } else {
                "s say"
            },
            if report.files_left_out == 1 {
                "it"
            } else {
                "them"
            },
        )
    })
}

/// What the records that could not be read mean for the report, and where one is.
fn unreadable_line(report: &Report) -> String {
    let records = report.unreadable_records;
    let mut line = format!(
        "{} could not be read (not JSON, or not a record) and {} not judged: a session among them would be \
         missing from this report",
        plural(records, "record", "records"),
        if records == 1 { "was" } else { "were" }
    );
    if let Some(example) = &report.unreadable_example {
        line.push_str(&format!(
            " ({}: {example})",
            if records == 1 { "it" } else { "one" }
        ));
    }
    line
}

/// For a pull-request comment.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let acted = acted(report);
    let price = report.price_per_dpu_hour;
    let comparison = report.comparison.as_ref();
    let _ = writeln!(out, "### Backtest of {}\n", code(&report.policy));
    let _ = writeln!(
        out,
        "{} read from {}: {} judged (successful `CreateSession` records).{}\n",
        plural(report.records, "record", "records"),
        described(&report.history),
        plural(report.sessions, "session", "sessions"),
        report
            .baseline
            .as_ref()
            .map_or(String::new(), |b| format!(" Baseline: {}.", code(b)))
    );
    if let Some(window) = window_line(report) {
        let _ = writeln!(out, "Window: {window}.\n");
    }
    if let Some(left_out) = left_out_line(report) {
        let _ = writeln!(out, "Left out: {left_out}.\n");
    }
    if report.unreadable_records > 0 {
        let _ = writeln!(out, "**Unreadable:** {}.\n", unreadable_line(report));
    }
    match comparison {
        Some(c) => {
            let _ = writeln!(out, "| | this policy | baseline |\n|---|---:|---:|");
            let _ = writeln!(
                out,
                "| would be {acted} | {} | {} |",
                grouped(report.violations),
                grouped(c.baseline_violations)
            );
            if let Some(changes) = &report.budget_changes {
                let (sessions, runs) = budget_stops(report);
                let _ = writeln!(
                    out,
                    "| {acted} for a team budget (sessions and job runs) | {} | {} |",
                    grouped(sessions + runs),
                    grouped(changes.baseline_stopped)
                );
            }
            let _ = writeln!(
                out,
                "| exempt (never stopped, not notified) | {} | {} |",
                grouped(report.exempt),
                grouped(c.baseline_exempt)
            );
            let _ = writeln!(
                out,
                "| at stake ({price} USD per DPU-hour) | {} | {} |",
                at_stake(&report.dpu_hours, price),
                at_stake(&c.baseline_dpu_hours, price)
            );
            let _ = writeln!(
                out,
                "| sessions: newly {acted} / no longer {acted} / other rules / at another time | \
                 {} / {} / {} / {} | |",
                grouped(c.newly_violating.len() as u64),
                grouped(c.no_longer_violating.len() as u64),
                grouped(c.other_rules.len() as u64),
                grouped(c.stopped_at_another_time.len() as u64)
            );
            if let Some(jobs) = &report.jobs {
                let count = |kind: ChangeKind| grouped(jobs.changes_of(kind));
                let _ = writeln!(
                    out,
                    "| job runs would be {acted} | {} | {} |",
                    grouped(jobs.violations),
                    grouped(jobs.baseline_violations.unwrap_or_default())
                );
                let _ = writeln!(
                    out,
                    "| job runs at stake ({price} USD per DPU-hour) | {} | {} |",
                    runs_at_stake(
                        jobs.violations,
                        jobs.dpu_hours,
                        jobs.dpu_hours_unknown,
                        price
                    ),
                    runs_at_stake(
                        jobs.baseline_violations.unwrap_or_default(),
                        jobs.baseline_dpu_hours.unwrap_or_default(),
                        jobs.baseline_dpu_hours_unknown.unwrap_or_default(),
                        price
                    )
                );
                let _ = writeln!(
                    out,
                    "| job runs: newly {acted} / no longer {acted} / other rules / at another \
                     time | {} / {} / {} / {} | |",
                    count(ChangeKind::NewlyViolating),
                    count(ChangeKind::NoLongerViolating),
                    count(ChangeKind::OtherRules),
                    count(ChangeKind::StoppedAtAnotherTime)
                );
            }
            if let Some(changes) = &report.budget_changes {
                let _ = writeln!(
                    out,
                    "| {acted} for a team budget (sessions and job runs): newly / no longer | \
                     {} / {} | |",
                    grouped(changes.newly_stopped.len() as u64),
                    grouped(changes.no_longer_stopped.len() as u64)
                );
            }
        }
        None => {
            let _ = writeln!(out, "| | this policy |\n|---|---:|");
            let _ = writeln!(out, "| would be {acted} | {} |", grouped(report.violations));
            if let Some(line) = budget_stops_line(report, acted) {
                let _ = writeln!(out, "| team budgets | {line} |");
            }
            let _ = writeln!(
                out,
                "| exempt (never stopped, not notified) | {} |",
                grouped(report.exempt)
            );
            let _ = writeln!(
                out,
                "| compliant{} | {} |",
                compliant_note(report, acted),
                grouped(report.compliant)
            );
            let _ = writeln!(
                out,
                "| at stake ({price} USD per DPU-hour) | {} |",
                at_stake(&report.dpu_hours, price)
            );
        }
    }
    let notes = stake_notes(&report.dpu_hours);
    if !notes.is_empty() || report.athena.is_some() {
        let _ = writeln!(out);
        if let Some(run) = &report.athena {
            let _ = writeln!(out, "- {}", athena_line(run));
        }
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    if shows_places(report) {
        for (title, places) in [
            ("account", &report.by_account),
            ("Region", &report.by_region),
        ] {
            let _ = writeln!(
                out,
                "\n| {title} | sessions | {acted} | DPU-hours {acted} |\n|---|---:|---:|---:|"
            );
            for (place, totals) in places {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    code(place),
                    grouped(totals.sessions),
                    grouped(totals.violations),
                    decimal(totals.dpu_hours, 1)
                );
            }
        }
    }
    if !report.by_rule.is_empty() || comparison.is_some_and(|c| !c.baseline_by_rule.is_empty()) {
        let _ = writeln!(out);
        match comparison {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "| rule | {acted} sessions | baseline |\n|---|---:|---:|"
                );
                let mut all: Vec<&String> = report
                    .by_rule
                    .keys()
                    .chain(c.baseline_by_rule.keys())
                    .collect();
                all.sort();
                all.dedup();
                for rule in all {
                    let count = |map: &BTreeMap<String, u64>| grouped(*map.get(rule).unwrap_or(&0));
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} |",
                        code(rule),
                        count(&report.by_rule),
                        count(&c.baseline_by_rule)
                    );
                }
            }
            None => {
                let _ = writeln!(out, "| rule | {acted} sessions |\n|---|---:|");
                for (rule, n) in &report.by_rule {
                    let _ = writeln!(out, "| {} | {} |", code(rule), grouped(*n));
                }
            }
        }
    }
    if !report.by_principal.is_empty() {
        let _ = writeln!(
            out,
            "\n| principal (top {} of {}) | {acted} sessions |\n|---|---:|",
            TOP_PRINCIPALS.min(report.by_principal.len()),
            report.by_principal.len()
        );
        for (principal, n) in top_principals(&report.by_principal) {
            let _ = writeln!(out, "| {} | {} |", code(principal), grouped(n));
        }
    }
    match comparison {
        Some(c) if !c.changes.is_empty() => {
            let _ = writeln!(
                out,
                "\n#### Changed sessions ({})\n",
                grouped(c.changes.len() as u64)
            );
            let _ = writeln!(
                out,
                "| session | created | principal | change | baseline rules | policy rules | DPU-hours |\n\
                 |---|---|---|---|---|---|---:|"
            );
            for change in c.changes.kept().iter().take(MAX_ROWS) {
                change_row(&mut out, change, acted);
            }
            more_line_markdown(&mut out, c.changes.len());
        }
        Some(_) => {
            let _ = writeln!(out, "\nNo session changes fate against the baseline.");
        }
        None if !report.violating.is_empty() => {
            let _ = writeln!(
                out,
                "\n#### Sessions that would be {acted} ({})\n",
                grouped(report.violating.len() as u64)
            );
            let _ = writeln!(
                out,
                "| session | created | principal | rules | DPU-hours |\n|---|---|---|---|---:|"
            );
            for row in report.violating.kept().iter().take(MAX_ROWS) {
                violating_row(&mut out, row);
            }
            more_line_markdown(&mut out, report.violating.len());
        }
        None => {}
    }
    if let Some(jobs) = &report.jobs {
        let _ = writeln!(out, "\n#### Job runs\n");
        if let Some(note) = guarding_note(jobs, acted) {
            let _ = writeln!(out, "{note}\n");
        }
        let _ = writeln!(
            out,
            "{} judged (successful `StartJobRun` records): {} would be {acted}{}, {} \
             exempt, {} compliant; {} written, {} out of bounds (reported){}. {}\n",
            grouped(jobs.runs),
            grouped(jobs.violations),
            baseline_count(jobs.baseline_violations),
            grouped(jobs.exempt),
            grouped(jobs.compliant),
            plural(jobs.definitions, "job definition", "job definitions"),
            grouped(jobs.definition_violations),
            baseline_count(jobs.baseline_definition_violations),
            runs_at_stake_sentence(jobs, price, acted)
        );
        if !jobs.by_job.is_empty() {
            let _ = writeln!(
                out,
                "| job | runs | {acted} | DPU-hours at stake | definitions out of bounds |\n\
                 |---|---:|---:|---:|---:|"
            );
            for (name, totals) in jobs.by_job.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    code(name),
                    grouped(totals.runs),
                    grouped(totals.violations),
                    job_hours(totals),
                    grouped(totals.definition_violations)
                );
            }
            more_line_markdown(&mut out, jobs.by_job.len());
        }
        if !jobs.by_rule.is_empty() {
            let by_rule: Vec<String> = jobs
                .by_rule
                .iter()
                .map(|(rule, n)| format!("{} {}", code(rule), grouped(*n)))
                .collect();
            let _ = writeln!(
                out,
                "
Job runs {acted} by rule: {}.",
                by_rule.join(", ")
            );
        }
        if jobs.changes.is_empty() && !jobs.violating.is_empty() {
            let _ = writeln!(
                out,
                "
Job runs that would be {acted} ({}):

\
                 | job | run | started | principal | rules | DPU-hours at stake | definition |\n\
                 |---|---|---|---|---|---:|---|",
                grouped(jobs.violating.len() as u64)
            );
            for row in jobs.violating.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {}{} | {} | {} |",
                    code(&row.job_name),
                    code(&row.job_run_id),
                    optional(&row.started),
                    optional(&row.principal),
                    rules(&row.rules[..]),
                    expired_words(row.exception_expired_at.as_deref()),
                    cost_cell(&row.cost),
                    row.definition
                );
            }
            more_line_markdown(&mut out, jobs.violating.len());
        }
        if !jobs.changes.is_empty() {
            let _ = writeln!(
                out,
                "\nJob runs whose fate the change changes ({}):\n\n\
                 | job | run | started | principal | change | baseline rules | policy rules | \
                 DPU-hours at stake |\n|---|---|---|---|---|---|---|---:|",
                grouped(jobs.changes.len() as u64)
            );
            for change in jobs.changes.iter().take(MAX_ROWS) {
                let [(before_rules, before), (after_rules, after)] = run_sides(change);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {}{before} | {}{after} | {} |",
                    code(&change.job_name),
                    code(&change.job_run_id),
                    optional(&change.started),
                    optional(&change.principal),
                    change.change.words(acted),
                    before_rules,
                    after_rules,
                    change_cost_cell(&change.cost, change.baseline_cost.as_ref())
                );
            }
            more_line_markdown(&mut out, jobs.changes.len());
        }
    }
    if let Some(note) = budgets_window_note(report) {
        let _ = writeln!(out, "\n{note}");
    }
    for budget in &report.budgets {
        let _ = writeln!(
            out,
            "\n#### Budget {}\n\n{}\n",
            code(&budget.name),
            budget_summary(budget, acted)
        );
        if !budget.chart.is_empty() {
            out.push_str(&super::budgets::mermaid(budget));
        }
        if !budget.stopped.is_empty() {
            let _ = writeln!(
                out,
                "\n| session or job run | created | principal | DPUs | DPUs with it |\n|---|---|---|---:|---:|"
            );
            for stop in budget.stopped.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    code(&stop.id),
                    stop.created.as_deref().unwrap_or("-"),
                    stop.principal.as_deref().map_or("-".to_string(), code),
                    dpus(stop.dpu),
                    dpus(stop.with_it_dpu)
                );
            }
            more_line_markdown(&mut out, budget.stopped.len());
        }
    }
    if let Some(changes) = &report.budget_changes {
        let total = changes.newly_stopped.len() + changes.no_longer_stopped.len();
        if total == 0 {
            let _ = writeln!(
                out,
                "\nNo session or job run changes fate for a team budget against the baseline."
            );
        } else {
            let _ = writeln!(
                out,
                "\n#### Budgets against the baseline ({})\n\n\
                 | session or job run | created | principal | DPUs | change | budgets |\n\
                 |---|---|---|---:|---|---|",
                grouped(total as u64)
            );
            for (what, list) in changes.by_change() {
                for change in list.iter().take(MAX_ROWS) {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {what} {acted} | {} |",
                        code(&change.id),
                        change.created.as_deref().unwrap_or("-"),
                        change.principal.as_deref().map_or("-".to_string(), code),
                        dpus(change.dpu),
                        change
                            .budgets
                            .iter()
                            .map(|name| code(name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            // Below the table: a line between two lists would end it.
            for (what, list) in changes.by_change() {
                if list.len() > MAX_ROWS {
                    let _ = writeln!(
                        out,
                        "\n_and {} more {what} {acted} (`--format json` lists them all)_",
                        grouped((list.len() - MAX_ROWS) as u64)
                    );
                }
            }
        }
    }
    if !report.damaged.is_empty() {
        let _ = writeln!(
            out,
            "\n**{} could not be read to the end** (the records before the damage are counted):\n",
            plural(report.damaged.len() as u64, "file", "files")
        );
        for damaged in report.damaged.iter().take(MAX_DAMAGED) {
            let _ = writeln!(out, "- {}: {}", code(&damaged.file), code(&damaged.reason));
        }
        if report.damaged.len() > MAX_DAMAGED {
            let _ = writeln!(
                out,
                "- and {} more",
                grouped((report.damaged.len() - MAX_DAMAGED) as u64)
            );
        }
    }
    out.push_str(&crate::expiring::to_markdown(&report.expiring));
    out
}

fn optional<T: AsRef<str>>(text: &Option<T>) -> String {
    text.as_ref()
        .map_or_else(|| "–".to_string(), |text| code(text.as_ref()))
}

fn change_row(out: &mut String, change: &Change, acted: &str) {
    let [(before_rules, before), (after_rules, after)] = session_sides(change);
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {}{before} | {}{after} | {} |",
        code(&change.session_id),
        optional(&change.created),
        optional(&change.principal),
        change.change.words(acted),
        before_rules,
        after_rules,
        change_cost_cell(&change.cost, change.baseline_cost.as_ref())
    );
}

/// Each side of a changed session, `[before, after]`: [`change_sides`], said from its creation.
fn session_sides(change: &Change) -> [(String, String); 2] {
    change_sides(
        change.change,
        [&change.before, &change.after],
        [
            change.exception_expired_at.as_deref(),
            change.baseline_exception_expired_at.as_deref(),
        ],
        "creation",
    )
}

/// [`change_sides`] of a changed job run, said from its start.
fn run_sides(change: &super::jobs::JobRunChange) -> [(String, String); 2] {
    change_sides(
        change.change,
        [&change.before, &change.after],
        [
            change.exception_expired_at.as_deref(),
            change.baseline_exception_expired_at.as_deref(),
        ],
        "start",
    )
}

/// Each side of a change of `kind` between `[before, after]`, `[before, after]`: its rules
/// ([`change_rules`]) and the words after them ([`sides`]) from `[exception_expired_at,
/// baseline_exception_expired_at]`; `begins` names the instant it begins (`creation`, `start`).
fn change_sides(
    kind: ChangeKind,
    [before, after]: [&Judgement; 2],
    [expired_at, baseline_expired_at]: [Option<&str>; 2],
    begins: &str,
) -> [(String, String); 2] {
    let (before_rules, after_rules) = change_rules(kind, &before.rules, &after.rules);
    let (before, after) = sides(kind, expired_at, baseline_expired_at, begins);
    [(before_rules, before), (after_rules, after)]
}

/// The words after each side of a session's or job run's change (`kind`), `(before, after)`:
/// [`expired_words`] of the side's own instant (`baseline_exception_expired_at`,
/// `exception_expired_at`). For one stopped at another time, the side that stops it when it
/// begins says so: ` at its {begins}` (`creation` for a session, `start` for a job run).
fn sides(
    kind: ChangeKind,
    exception_expired_at: Option<&str>,
    baseline_exception_expired_at: Option<&str>,
    begins: &str,
) -> (String, String) {
    let words = |at: Option<&str>| match (kind, at) {
        (ChangeKind::StoppedAtAnotherTime, None) => format!(" at its {begins}"),
        _ => expired_words(at),
    };
    (
        words(baseline_exception_expired_at),
        words(exception_expired_at),
    )
}

fn violating_row(out: &mut String, row: &SessionRow) {
    let _ = writeln!(
        out,
        "| {} | {} | {} | {}{} | {} |",
        code(&row.session_id),
        optional(&row.created),
        optional(&row.principal),
        rules(&row.rules[..]),
        expired_words(row.exception_expired_at.as_deref()),
        cost_cell(&row.cost)
    );
}

/// ` from <instant>, when its exception expired` for a session the guard would stop once the
/// exception that let it run expired; nothing for one stopped at its creation.
fn expired_words(exception_expired_at: Option<&str>) -> String {
    exception_expired_at
        .map(|at| format!(" from {at}, when its exception expired"))
        .unwrap_or_default()
}

fn more_line_markdown(out: &mut String, total: usize) {
    if total > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n_and {} more (`--format json` lists them all)_",
            grouped((total - MAX_ROWS) as u64)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::observe::Name;
    use std::sync::Arc;

    /// A side that breaks rules without stopping the session exempts it, and says so.
    #[test]
    fn an_exempting_side_of_a_change_says_exempt() {
        let broken = ["max_workers"];
        let none: [&str; 0] = [];
        assert_eq!(
            change_rules(ChangeKind::NoLongerViolating, &broken, &broken),
            (
                "max_workers".to_string(),
                "exempt (max_workers)".to_string()
            )
        );
        assert_eq!(
            change_rules(ChangeKind::NoLongerViolating, &broken, &none),
            ("max_workers".to_string(), "–".to_string())
        );
        assert_eq!(
            change_rules(ChangeKind::NewlyViolating, &broken, &broken),
            (
                "exempt (max_workers)".to_string(),
                "max_workers".to_string()
            )
        );
        assert_eq!(
            change_rules(ChangeKind::OtherRules, &broken, &["max_dpu"]),
            ("max_workers".to_string(), "max_dpu".to_string())
        );
    }

    /// Each kind of change puts each side's instant after the side it is of: the baseline's
    /// before, the policy's after; for one stopped at another time, the side that stops it
    /// when it begins says so.
    #[test]
    fn each_side_of_a_change_gets_its_own_instant() {
        let (a, b) = (Some("2026-12-01T10:00:00Z"), Some("2026-12-02T10:00:00Z"));
        let words = |at: &str| format!(" from {at}, when its exception expired");
        let (a_words, b_words) = (words(a.unwrap()), words(b.unwrap()));
        assert_eq!(
            sides(ChangeKind::NewlyViolating, a, None, "creation"),
            (String::new(), a_words.clone())
        );
        assert_eq!(
            sides(ChangeKind::NoLongerViolating, None, a, "creation"),
            (a_words.clone(), String::new())
        );
        assert_eq!(
            sides(ChangeKind::OtherRules, a, b, "creation"),
            (b_words.clone(), a_words.clone())
        );
        assert_eq!(
            sides(ChangeKind::OtherRules, None, b, "creation"),
            (b_words.clone(), String::new())
        );
        assert_eq!(
            sides(ChangeKind::StoppedAtAnotherTime, a, b, "creation"),
            (b_words, a_words.clone())
        );
        assert_eq!(
            sides(ChangeKind::StoppedAtAnotherTime, a, None, "start"),
            (" at its start".to_string(), a_words)
        );
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(decimal(1234.56, 1), "1,234.6");
        assert_eq!(decimal(0.004, 2), "0.00");
        assert_eq!(decimal(-1234.4, 0), "-1,234");
    }

    #[test]
    fn names_from_records_cannot_break_the_markup() {
        assert_eq!(code("s-1"), "`s-1`");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a\nb"), "`a b`");
    }

    /// Against a baseline, the text report counts the job runs whose fate changes and lists
    /// each with its rules before and after.
    #[test]
    fn job_runs_whose_fate_changes_are_counted_and_listed() {
        let jobs = super::super::jobs::JobsReport {
            guarded: true,
            runs: 2,
            violations: 1,
            baseline_violations: Some(0),
            definitions: 1,
            baseline_definition_violations: Some(1),
            changes: vec![super::super::jobs::JobRunChange {
                job_name: "load".into(),
                job_run_id: "jr_2".into(),
                change: ChangeKind::NewlyViolating,
                started: Some("2026-11-01T11:00:00Z".into()),
                principal: None,
                before: Judgement {
                    decision: policy::Decision::Compliant,
                    rules: Arc::from([]),
                    override_name: None,
                },
                after: Judgement {
                    decision: policy::Decision::Violation,
                    rules: Arc::from([Name::from("max_workers")]),
                    override_name: None,
                },
                exception_expired_at: None,
                baseline_exception_expired_at: None,
                cost: Cost {
                    dpus: Some(80.0),
                    hours: Some(2.0),
                    duration: Duration::UpperBound,
                    dpu_hours: Some(160.0),
                    unknown: None,
                },
                baseline_cost: None,
            }],
            ..Default::default()
        };
        // The same run, stopped at its start under the baseline and when an exception expired
        // under the policy.
        let mut later = jobs.changes[0].clone();
        later.change = ChangeKind::StoppedAtAnotherTime;
        later.before = later.after.clone();
        later.exception_expired_at = Some("2026-11-01T11:30:00Z".into());
        later.baseline_cost = Some(later.cost.clone());
        later.cost.hours = Some(1.0);
        later.cost.dpu_hours = Some(80.0);
        let mut jobs = jobs;
        jobs.changes.push(later);
        let mut out = String::new();
        jobs_text(&mut out, &jobs, "stopped", 0.44, "");
        assert!(
            out.contains(
                "job runs against the baseline: 1 newly stopped, 0 no longer stopped, 0 stopped \
                 for other rules, 1 stopped at another time"
            ),
            "{out}"
        );
        assert!(
            out.contains("  newly stopped            \"load\" run jr_2  [–] -> [max_workers]  ≤ 160.0 DPU-hours"),
            "{out}"
        );
        assert!(
            out.contains(
                "  stopped at another time  \"load\" run jr_2  [max_workers] at its start -> \
                 [max_workers] from 2026-11-01T11:30:00Z, when its exception expired  ≤ 80.0 \
                 DPU-hours (baseline: ≤ 160.0)"
            ),
            "{out}"
        );
        assert!(
            out.contains("job definitions: 1 written (CreateJob, UpdateJob), 0 out of bounds (reported) (baseline: 1)"),
            "{out}"
        );
        assert!(!out.contains("no jobs section"), "{out}");
        // Under a policy without a jobs section (the baseline has one), said first, in the
        // report's own words; the Markdown gives the baseline's counts too.
        let mut unguarded = jobs.clone();
        unguarded.guarded = false;
        let mut out = String::new();
        jobs_text(&mut out, &unguarded, "notified", 0.44, "");
        assert!(
            out.starts_with(
                "\nThis policy has no jobs section: job runs are not guarded (none notified, \
                 exempt or compliant under it); they are judged for the baseline, which guards \
                 them.\njob runs:   2 judged"
            ),
            "{out}"
        );
        // The changes in the report's verb too.
        assert!(
            out.contains("  newly notified           \"load\" run jr_2  [–] -> [max_workers]"),
            "{out}"
        );
    }

    /// Stopped runs of unknown size are said beside the total they are not in, in text and in
    /// Markdown, rather than a bare total that reads as all of it.
    #[test]
    fn job_runs_of_unknown_size_are_said_beside_the_total() {
        let mut jobs = super::super::jobs::JobsReport {
            guarded: true,
            runs: 2,
            violations: 2,
            dpu_hours: 160.0,
            dpu_hours_unknown: 1,
            ..Default::default()
        };
        let said = "1 stopped run not counted: DPUs or timeout unknown";
        let mut out = String::new();
        jobs_text(&mut out, &jobs, "stopped", 0.44, "");
        assert!(
            out.contains(&format!("CloudTrail holds no run's end); {said}")),
            "{out}"
        );
        jobs.dpu_hours_unknown = 0;
        let mut out = String::new();
        jobs_text(&mut out, &jobs, "stopped", 0.44, "");
        assert!(!out.contains("not counted"), "{out}");
    }

    /// With a baseline, what it stops is at stake beside the policy's, in text, in the
    /// Markdown's job section and in its summary's cells; a policy that stops no run has
    /// nothing at stake, said so rather than "at most 0.0".
    #[test]
    fn the_baselines_job_runs_at_stake_are_said_beside_the_policys() {
        let mut jobs = super::super::jobs::JobsReport {
            guarded: true,
            runs: 3,
            violations: 1,
            dpu_hours: 160.0,
            baseline_violations: Some(2),
            baseline_dpu_hours: Some(200.0),
            baseline_dpu_hours_unknown: Some(1),
            ..Default::default()
        };
        let mut out = String::new();
        jobs_text(&mut out, &jobs, "stopped", 0.5, "");
        assert!(
            out.contains(
                "CloudTrail holds no run's end); baseline: at most 200.0 DPU-hours, at most \
                 100.00 USD; 1 stopped run not counted: DPUs or timeout unknown"
            ),
            "{out}"
        );
        assert_eq!(
            runs_at_stake_sentence(&jobs, 0.5, "stopped"),
            "At stake: at most 160.0 DPU-hours (80.00 USD: each run's DPUs x its whole \
             timeout). Under the baseline: at most 200.0 DPU-hours, at most 100.00 USD; 1 \
             stopped run not counted: DPUs or timeout unknown."
        );
        jobs.violations = 0;
        jobs.dpu_hours = 0.0;
        assert_eq!(
            runs_at_stake_sentence(&jobs, 0.5, "notified"),
            "Nothing at stake: no run would be notified. Under the baseline: at most 200.0 \
             DPU-hours, at most 100.00 USD; 1 stopped run not counted: DPUs or timeout unknown."
        );
        assert_eq!(runs_at_stake(0, 0.0, 0, 0.5), "none");
        let mut out = String::new();
        jobs_text(&mut out, &jobs, "notified", 0.5, "");
        assert!(
            out.contains(
                "job runs at stake: none (no run would be notified); baseline: at most 200.0 \
                 DPU-hours, at most 100.00 USD; 1 stopped run not counted"
            ),
            "{out}"
        );
    }
}
