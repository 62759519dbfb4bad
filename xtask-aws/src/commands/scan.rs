//! `cargo xtask scan`: what the policy would do to the sessions and job runs running now, read
//! only. Every running session is judged by the enforcer's own sweep code
//! (`glue_session_guard_lambda::sweep::scan`: `ListSessions`, tags, the creators' `CreateSession`
//! records from CloudTrail, usage profiles), and with a `jobs` section every running job run
//! (`glue_session_guard_lambda::job::assess_runs`: `ListJobs`, `GetJobRuns`, `GetJob`, tags, the
//! `StartJobRun` records); nothing is stopped or notified.
//!
//! When CloudTrail cannot be read (no permission; an emulator without `LookupEvents`), the scan
//! still judges every session, by the default boundaries with the creator unknown, warns once
//! with the cause, and marks the rows whose verdict could change once the creator is known.

use std::fmt;
use std::time::{Duration, SystemTime};

use glue_session_guard_lambda::budget::{self, BudgetNow, Registry};
use glue_session_guard_lambda::job::{self, AssessedRun};
use glue_session_guard_lambda::report::Invocation;
use glue_session_guard_lambda::session::ArnScope;
use glue_session_guard_lambda::sweep::{self, Assessed};
use glue_session_guard_lambda::{Guard, Settings, Timing};
use policy::budgets::Standing;
use policy::{Action, Decision, Verdict};
use serde::Serialize;
use xtask::output::{self, Answer, Format, Outcome, markdown};
use xtask::verdicts::findings;

use crate::aws::{self, Aws, AwsArgs};
use xtask::{Exit, paths};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct ScanCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// One running session and what enforcement would do to it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub session_id: String,
    /// `PROVISIONING` or `READY`.
    pub status: String,
    /// The sweep would leave it until its creator's record is in CloudTrail, then do the
    /// verdict's action.
    pub deferred: bool,
    /// The verdict could change once the creator is known (an override or exemption could apply).
    pub uncertain: bool,
    /// The verdict, as `evaluate --format json` writes it: the decision, the action by the
    /// policy's mode (`stop`, `delete`, `notify`, `none`), every violation with its value and
    /// limit, what could not be checked.
    pub verdict: Verdict,
}

impl Row {
    pub fn decision(&self) -> Decision {
        self.verdict.decision
    }

    pub fn action(&self) -> Action {
        self.verdict.action
    }
}

/// One running job run and what enforcement would do to it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRunRow {
    pub job_name: String,
    pub job_run_id: String,
    /// `STARTING`, `RUNNING` or `WAITING`.
    pub status: String,
    /// The sweep would leave it until its `StartJobRun` record is in CloudTrail.
    pub deferred: bool,
    /// The verdict, as `evaluate --format json` writes it.
    pub verdict: Verdict,
}

/// What `scan` found of jobs (with a `jobs` section).
#[derive(Debug, Clone, Serialize)]
pub struct JobScan {
    pub jobs_listed: usize,
    /// Jobs the scan did not reach (the sweep's bound per invocation).
    pub jobs_not_reached: usize,
    pub runs: Vec<JobRunRow>,
}

/// What `scan` found.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub stack: String,
    pub account: String,
    pub region: String,
    /// Sessions listed, any status.
    pub listed: usize,
    /// Sessions `PROVISIONING` or `READY`, judged.
    pub judged: usize,
    pub sessions: Vec<Row>,
    /// The running job runs, when the policy guards jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobScan>,
    /// Each team budget's use and holders now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<BudgetNow>,
    /// Why the creators could not be read from CloudTrail, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl ScanCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let report = aws::tokio_runtime()?.block_on(self.scan())?;
        if let Some(warning) = &report.warning {
            eprintln!("warning: {warning}");
        }
        output::emit(&report, self.format)
    }

    pub async fn scan(&self) -> anyhow::Result<ScanReport> {
        let policy = paths::load_policy(&self.aws.policy)?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = aws::caller(&aws).await?;
        let partition = caller.arn.split(':').nth(1).unwrap_or("aws").to_string();
        let creator_matters = !policy.overrides.is_empty() || !policy.exempt_principals.is_empty();
        let stack = policy.stack.name.clone();
        let guard = Guard::new(
            &aws.config,
            Settings {
                policy,
                // Nothing is published or claimed: the scan only reads.
                topic_arn: String::new(),
                stack_name: stack.clone(),
                ledger_table: String::new(),
                central_topic_arn: None,
            },
            Timing::LAMBDA,
        );
        let invocation = Invocation {
            scope: ArnScope {
                partition,
                region: aws.region.clone(),
                account: caller.account.clone(),
            },
            deadline: SystemTime::now() + Duration::from_secs(900),
            request_id: "scan".to_string(),
        };
        let mut scan = sweep::scan(&guard, &invocation)
            .await
            .map_err(|error| anyhow::anyhow!("scanning the running sessions: {error}"))?;
        let warning = scan.creators_unavailable.as_ref().map(|why| {
            let why = short_cause(why);
            format!(
                "CloudTrail could not be read, so every session is judged by the default \
                 boundaries with its creator unknown ({why}); rows marked `?` could change once \
                 the creator is known"
            )
        });
        let creators = match (&warning, creator_matters) {
            (None, _) => Creators::Read,
            (Some(_), false) => Creators::Unread,
            (Some(_), true) => Creators::UnreadAndTheyMatter,
        };
        let metrics = glue_session_guard_lambda::metrics::Metrics::default();
        let mut runs_now = match guard.policy().jobs {
            None => None,
            Some(_) => Some(
                job::assess_runs(&guard, &invocation, &metrics, false)
                    .await
                    .map_err(|error| anyhow::anyhow!("scanning the running job runs: {error}"))?,
            ),
        };
        // Each team budget over everything running, as the sweep tallies it (its violations on
        // the rows); the scan has no ledger table, so creators come from CloudTrail only.
        let budgets = if guard.policy().budgets.is_empty() {
            Vec::new()
        } else {
            let mut no_runs = Vec::new();
            let runs = runs_now.as_mut().map_or(&mut no_runs, |now| &mut now.runs);
            let holders = budget::holders_now(&guard, &scan.sessions, runs, Registry::Unused)
                .await
                .map_err(|error| anyhow::anyhow!("tallying the team budgets: {error}"))?;
            budget::apply_to_judged(&guard, &holders, &mut scan.sessions, runs, &metrics)
        };
        let sessions: Vec<Row> = scan
            .sessions
            .iter()
            .map(|assessed| row(assessed, creators))
            .collect();
        let jobs = match runs_now {
            None => None,
            Some(now) => {
                if let Some(failure) = now.failures.first() {
                    anyhow::bail!("scanning the running job runs: {failure}");
                }
                if let Some(why) = &now.starters_unavailable {
                    eprintln!(
                        "warning: CloudTrail could not be read, so every job run is judged with \
                         who started it unknown ({}): an exemption or a job override by \
                         principal could change a verdict",
                        short_cause(why)
                    );
                }
                Some(JobScan {
                    jobs_listed: now.jobs_listed,
                    jobs_not_reached: now.jobs_not_swept,
                    runs: now.runs.iter().map(job_row).collect(),
                })
            }
        };
        Ok(ScanReport {
            stack,
            account: caller.account,
            region: aws.region,
            listed: scan.listed,
            judged: sessions.len(),
            sessions,
            jobs,
            budgets,
            warning,
        })
    }
}

/// The cause of a failed `LookupEvents` in one line: the operation and AWS's error code, without
/// the SDK's dump of the request and response (a PR comment shows it).
fn short_cause(failure: &str) -> String {
    // `LookupEvents for CreateSession records failed (CODE): MESSAGE`
    let code = failure
        .split_once(" failed (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(code, _)| code);
    match code {
        Some("none") | None => {
            "LookupEvents failed: the endpoint's answer is not an AWS error (an emulator without \
             LookupEvents?)"
                .to_string()
        }
        Some(code) => format!("LookupEvents failed ({code})"),
    }
}

/// Whether the creators' records could be read from CloudTrail.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Creators {
    Read,
    /// Not read, and the policy has no override or exemption a creator could bring in.
    Unread,
    /// Not read, and an override or exemption could apply once the creator is known.
    UnreadAndTheyMatter,
}

/// The row of one assessed session.
fn row(assessed: &Assessed, creators: Creators) -> Row {
    let verdict = &assessed.verdict;
    Row {
        session_id: assessed.case.facts.session_id.clone(),
        status: assessed.case.status.as_str().to_string(),
        // The sweep waits for a young session's record to reach CloudTrail; when CloudTrail
        // cannot be read at all, the row says what the defaults would do, marked uncertain.
        deferred: assessed.deferred && creators == Creators::Read,
        uncertain: creators == Creators::UnreadAndTheyMatter && verdict.principal.is_none(),
        verdict: verdict.clone(),
    }
}

/// The row of one assessed job run.
fn job_row(assessed: &AssessedRun) -> JobRunRow {
    JobRunRow {
        job_name: assessed.facts.job_name.clone(),
        job_run_id: assessed.facts.job_run_id.clone().unwrap_or_default(),
        status: assessed.facts.status.clone().unwrap_or_default(),
        deferred: assessed.deferred,
        verdict: assessed.verdict.clone(),
    }
}

const JOB_HEADERS: [&str; 7] = [
    "job",
    "run",
    "started by",
    "status",
    "decision",
    "action",
    "rules",
];

fn job_cells(row: &JobRunRow) -> [String; 7] {
    let verdict = &row.verdict;
    [
        row.job_name.clone(),
        row.job_run_id.clone(),
        verdict
            .principal
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        row.status.clone(),
        verdict.decision.as_str().to_string(),
        if row.deferred {
            format!("wait, then {}", verdict.action.as_str())
        } else {
            verdict.action.as_str().to_string()
        },
        verdict.rules().join(", "),
    ]
}

const HEADERS: [&str; 6] = [
    "session", "creator", "status", "decision", "action", "rules",
];

impl ScanReport {
    fn summary(&self) -> String {
        let count = |decision: Decision| {
            self.sessions
                .iter()
                .filter(|row| row.decision() == decision)
                .count()
        };
        let actions: Vec<String> = [Action::Stop, Action::Delete, Action::Notify]
            .into_iter()
            .filter_map(|action| {
                let n = self
                    .sessions
                    .iter()
                    .filter(|row| row.action() == action)
                    .count();
                (n > 0).then(|| format!("{n} {}", action.as_str()))
            })
            .collect();
        format!(
            "{} session{} listed, {} running judged: {} out of bounds{}, {} exempt, {} compliant",
            self.listed,
            if self.listed == 1 { "" } else { "s" },
            self.judged,
            count(Decision::Violation),
            if actions.is_empty() {
                String::new()
            } else {
                format!(" ({})", actions.join(", "))
            },
            count(Decision::Exempt),
            count(Decision::Compliant)
        )
    }

    /// `N job runs running in M jobs: ...`, when the policy guards jobs.
    fn job_summary(&self) -> Option<String> {
        let jobs = self.jobs.as_ref()?;
        let runs = &jobs.runs;
        let count = |decision: Decision| {
            runs.iter()
                .filter(|row| row.verdict.decision == decision)
                .count()
        };
        let actions: Vec<String> = [Action::Stop, Action::Notify]
            .into_iter()
            .filter_map(|action| {
                let n = runs
                    .iter()
                    .filter(|row| row.verdict.action == action)
                    .count();
                (n > 0).then(|| format!("{n} {}", action.as_str()))
            })
            .collect();
        let unreached = match jobs.jobs_not_reached {
            0 => String::new(),
            n => format!(" ({n} jobs not reached: the sweep's bound)"),
        };
        Some(format!(
            "{} job{} listed{unreached}, {} run{} running judged: {} out of bounds{}, {} exempt, {} compliant",
            jobs.jobs_listed,
            if jobs.jobs_listed == 1 { "" } else { "s" },
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            count(Decision::Violation),
            if actions.is_empty() {
                String::new()
            } else {
                format!(" ({})", actions.join(", "))
            },
            count(Decision::Exempt),
            count(Decision::Compliant)
        ))
    }

    fn heading(&self) -> String {
        format!(
            "the sessions running in account {}, {}, under the policy of stack {}",
            self.account, self.region, self.stack
        )
    }
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:", self.heading())?;
        let rows: Vec<[String; 6]> = self.sessions.iter().map(cells).collect();
        f.write_str(&output::columns(&HEADERS, &rows))?;
        for row in &self.sessions {
            let lines = findings(&row.verdict);
            if !lines.is_empty() {
                writeln!(f, "{}:", row.session_id)?;
                for line in lines {
                    writeln!(f, "  {line}")?;
                }
            }
        }
        if self.sessions.iter().any(|row| row.uncertain) {
            writeln!(
                f,
                "?: the creator is unknown, and an override or exemption could apply once it is"
            )?;
        }
        writeln!(f, "{}", self.summary())?;
        if let (Some(jobs), Some(summary)) = (&self.jobs, self.job_summary()) {
            writeln!(f, "\njob runs:")?;
            let rows: Vec<[String; 7]> = jobs.runs.iter().map(job_cells).collect();
            f.write_str(&output::columns(&JOB_HEADERS, &rows))?;
            for row in &jobs.runs {
                let lines = findings(&row.verdict);
                if !lines.is_empty() {
                    writeln!(f, "{} {}:", row.job_name, row.job_run_id)?;
                    for line in lines {
                        writeln!(f, "  {line}")?;
                    }
                }
            }
            writeln!(f, "{summary}")?;
        }
        for budget in &self.budgets {
            writeln!(f, "\n{}", budget_line(budget))?;
            let rows: Vec<[String; 5]> = budget.holders.iter().map(holder_cells).collect();
            f.write_str(&output::columns(&HOLDER_HEADERS, &rows))?;
        }
        Ok(())
    }
}

const HOLDER_HEADERS: [&str; 5] = ["holder", "kind", "DPUs", "owner", "standing"];

fn holder_cells(holder: &budget::HolderNow) -> [String; 5] {
    [
        holder.id.clone(),
        holder.kind.as_str().to_string(),
        holder
            .dpu
            .map_or_else(|| "unknown".to_string(), |dpu| dpu.to_string()),
        holder.owner.clone().unwrap_or_else(|| "unknown".into()),
        match holder.standing {
            Standing::Within => "within",
            Standing::Over => "over: would be stopped",
            Standing::Stopping => "out of bounds on its own: holds nothing",
            Standing::Uncounted => "DPUs unknown: not counted",
        }
        .to_string(),
    ]
}

/// `budget analytics: 90 of 100 DPUs in use (90%), 4 holders, 1 over`.
fn budget_line(budget: &BudgetNow) -> String {
    let over = budget
        .holders
        .iter()
        .filter(|holder| holder.standing == Standing::Over)
        .count();
    let unknown = match budget.unknown {
        0 => String::new(),
        n => format!(", {n} running whose creator is unknown (not counted)"),
    };
    format!(
        "budget {}: {} of {} DPUs in use ({:.0}%), {} holder{}, {over} over{unknown}",
        budget.name,
        budget.in_use_dpu,
        budget.max_concurrent_dpu,
        100.0 * budget.in_use_dpu / budget.max_concurrent_dpu,
        budget.holders.len(),
        if budget.holders.len() == 1 { "" } else { "s" },
    )
}

impl Outcome for ScanReport {
    fn markdown(&self) -> String {
        let mut out = markdown::heading(3, &self.heading());
        out.push_str(&format!("\n{}\n\n", self.summary()));
        let rows: Vec<Vec<String>> = self
            .sessions
            .iter()
            .map(|row| {
                let mut cells = cells(row).to_vec();
                cells[0] = format!("`{}`", cells[0]);
                cells.push(findings(&row.verdict).join("\n"));
                cells
            })
            .collect();
        let mut headers = HEADERS.to_vec();
        headers.push("findings");
        out.push_str(&markdown::table(&headers, &rows));
        if let (Some(jobs), Some(summary)) = (&self.jobs, self.job_summary()) {
            out.push_str(&format!("\n{summary}\n\n"));
            let rows: Vec<Vec<String>> = jobs
                .runs
                .iter()
                .map(|row| {
                    let mut cells = job_cells(row).to_vec();
                    cells[0] = format!("`{}`", cells[0]);
                    cells[1] = format!("`{}`", cells[1]);
                    cells.push(findings(&row.verdict).join("\n"));
                    cells
                })
                .collect();
            let mut headers = JOB_HEADERS.to_vec();
            headers.push("findings");
            out.push_str(&markdown::table(&headers, &rows));
        }
        for budget in &self.budgets {
            out.push_str(&format!("\n{}\n\n", budget_line(budget)));
            let rows: Vec<Vec<String>> = budget
                .holders
                .iter()
                .map(|holder| {
                    let mut cells = holder_cells(holder).to_vec();
                    cells[0] = format!("`{}`", cells[0]);
                    cells
                })
                .collect();
            out.push_str(&markdown::table(&HOLDER_HEADERS, &rows));
        }
        if let Some(warning) = &self.warning {
            out.push_str(&format!("\n> {warning}\n"));
        }
        out
    }

    /// No when any session or job run would be stopped, deleted or notified (the one exit rule).
    fn answer(&self) -> Answer {
        let runs = self.jobs.iter().flat_map(|jobs| &jobs.runs);
        output::sessions_answer(
            self.sessions
                .iter()
                .map(|row| &row.verdict.action)
                .chain(runs.map(|row| &row.verdict.action)),
        )
    }
}

fn cells(row: &Row) -> [String; 6] {
    let verdict = &row.verdict;
    [
        row.session_id.clone(),
        verdict
            .principal
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        row.status.clone(),
        format!(
            "{}{}",
            verdict.decision.as_str(),
            if row.uncertain { " ?" } else { "" }
        ),
        if row.deferred {
            format!("wait, then {}", verdict.action.as_str())
        } else {
            verdict.action.as_str().to_string()
        },
        verdict.rules().join(", "),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Two sessions judged by a real policy (audit mode: out of bounds is notified, not stopped).
    fn report(mode: &str) -> ScanReport {
        let policy = policy::load_policy(
            "scan.yaml",
            format!(
                "version: 1\nstack: {{name: gsg}}\nenforcement: {{mode: {mode}, action: stop}}\n\
                 boundaries: {{max_workers: 10}}\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let row = |id: &str, workers: u32, uncertain: bool| {
            let facts = policy::facts_from_glue_session(&json!({"Session": {
                "Id": id, "Status": "READY", "NumberOfWorkers": workers,
                "WorkerType": "G.1X", "Command": {"Name": "glueetl"}
            }}))
            .unwrap();
            Row {
                session_id: id.into(),
                status: "READY".into(),
                deferred: false,
                uncertain,
                verdict: policy::evaluate(&policy, &facts),
            }
        };
        ScanReport {
            stack: "gsg".into(),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            listed: 3,
            judged: 2,
            sessions: vec![row("big", 40, true), row("small", 2, false)],
            jobs: None,
            budgets: Vec::new(),
            warning: Some("CloudTrail could not be read".into()),
        }
    }

    #[test]
    fn each_budget_shows_its_use_and_its_holders_in_order() {
        use glue_session_guard_lambda::budget::HolderNow;
        use policy::budgets::HolderKind;
        let mut report = report("enforce");
        let holder = |kind, id: &str, dpu: f64, standing| HolderNow {
            kind,
            id: id.into(),
            dpu: Some(dpu),
            owner: Some(format!(
                "arn:aws:sts::123456789012:assumed-role/Analytics/{id}"
            )),
            standing,
        };
        report.budgets = vec![BudgetNow {
            name: "analytics".into(),
            max_concurrent_dpu: 100.0,
            in_use_dpu: 90.0,
            holders: vec![
                holder(HolderKind::JobRun, "etl/jr_1", 40.0, Standing::Within),
                holder(HolderKind::Session, "nb-a", 50.0, Standing::Within),
                holder(HolderKind::Session, "nb-c", 20.0, Standing::Over),
            ],
            unknown: 1,
        }];
        let text = report.to_string();
        assert!(
            text.contains(
                "budget analytics: 90 of 100 DPUs in use (90%), 3 holders, 1 over, 1 running \
                 whose creator is unknown (not counted)\n"
            ),
            "{text}"
        );
        assert!(text.contains("etl/jr_1  job run  40"), "{text}");
        assert!(text.contains("over: would be stopped"), "{text}");
        let markdown = report.markdown();
        assert!(markdown.contains("| `nb-c` | session | 20 |"), "{markdown}");
    }

    #[test]
    fn the_table_says_what_would_happen_with_the_values_and_marks_what_could_change() {
        let report = report("enforce");
        let text = report.to_string();
        assert!(
            text.contains("  big      unknown  READY   violation ?  stop    max_workers\n"),
            "{text}"
        );
        assert!(
            text.contains("  small    unknown  READY   compliant    none\n"),
            "{text}"
        );
        // The values and limits `evaluate` prints for the same session, and what it could not
        // check (moto-like sessions without a timeout).
        assert!(text.contains("big:\n  - max_workers: "), "{text}");
        assert!(text.contains("40") && text.contains("10"), "{text}");
        assert!(
            text.ends_with("3 sessions listed, 2 running judged: 1 out of bounds (1 stop), 0 exempt, 1 compliant\n"),
            "{text}"
        );
        assert_eq!(report.answer(), Answer::No);
        let markdown = report.markdown();
        assert!(
            markdown.contains(
                "| `big` | unknown | READY | violation ? | stop | max_workers | - max_workers: "
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("> CloudTrail could not be read"),
            "{markdown}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["sessions"][0]["verdict"]["action"], "stop");
        assert_eq!(
            json["sessions"][0]["verdict"]["violations"][0]["actual"],
            40
        );
        assert_eq!(json["sessions"][0]["verdict"]["violations"][0]["limit"], 10);
    }

    #[test]
    fn in_audit_mode_the_scan_says_notify_and_the_answer_is_still_no() {
        let report = report("audit");
        let text = report.to_string();
        assert!(text.contains("violation ?  notify"), "{text}");
        assert!(text.contains("1 out of bounds (1 notify)"), "{text}");
        assert_eq!(
            report.answer(),
            Answer::No,
            "the same exit rule as evaluate and backtest"
        );
    }
}
