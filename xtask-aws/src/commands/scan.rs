//! `cargo xtask scan`: what the policy would do to the sessions running now, read only. Every
//! running session is judged by the enforcer's own sweep code (`glue_session_guard_lambda::sweep::
//! scan`: `ListSessions`, tags, the creators' `CreateSession` records from CloudTrail, usage
//! profiles), and nothing is stopped or notified.
//!
//! When CloudTrail cannot be read (no permission; an emulator without `LookupEvents`), the scan
//! still judges every session, by the default boundaries with the creator unknown, warns once
//! with the cause, and marks the rows whose verdict could change once the creator is known.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use glue_session_guard_lambda::report::Invocation;
use glue_session_guard_lambda::session::ArnScope;
use glue_session_guard_lambda::sweep::{self, Assessed};
use glue_session_guard_lambda::{Guard, Settings, Timing};
use policy::Decision;
use serde::Serialize;

use crate::aws::{self, Aws, AwsArgs};
use xtask::{Exit, paths};

#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum ScanFormat {
    /// For people, in a terminal.
    #[default]
    Text,
    /// A table for a pull-request comment.
    Markdown,
    /// For machines.
    Json,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct ScanCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ScanFormat,
}

/// One running session and what enforcement would do to it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub session_id: String,
    /// The creator's ARN; `None` when CloudTrail does not say.
    pub creator: Option<String>,
    pub status: String,
    pub decision: Decision,
    pub rules: Vec<String>,
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    /// What enforcement would do now: `stop`, `delete`, `notify`, `none`, or `wait` (the sweep
    /// would leave it until its creator is in CloudTrail).
    pub would: String,
    /// The verdict could change once the creator is known (an override or exemption could apply).
    pub uncertain: bool,
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
    pub would_stop: usize,
    pub sessions: Vec<Row>,
    /// Why the creators could not be read from CloudTrail, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl ScanCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let report = aws::runtime()?.block_on(self.scan())?;
        if let Some(warning) = &report.warning {
            eprintln!("warning: {warning}");
        }
        match self.format {
            ScanFormat::Text => print!("{}", report.text()),
            ScanFormat::Markdown => print!("{}", report.markdown()),
            ScanFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        }
        Ok(if report.would_stop == 0 {
            Exit::Success
        } else {
            Exit::Failed
        })
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
        let scan = sweep::scan(&guard, &invocation)
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
        let sessions: Vec<Row> = scan
            .sessions
            .iter()
            .map(|assessed| row(assessed, creators))
            .collect();
        Ok(ScanReport {
            stack,
            account: caller.account,
            region: aws.region,
            listed: scan.listed,
            judged: sessions.len(),
            would_stop: sessions
                .iter()
                .filter(|row| matches!(row.would.as_str(), "stop" | "delete"))
                .count(),
            sessions,
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
    // The sweep waits for a young session's record to reach CloudTrail; when CloudTrail cannot
    // be read at all, the row says what the defaults would do, marked uncertain instead.
    let would = if assessed.deferred && creators == Creators::Read {
        "wait".to_string()
    } else {
        verdict.action.as_str().to_string()
    };
    Row {
        session_id: assessed.case.facts.session_id.clone(),
        creator: verdict.principal.clone(),
        status: assessed.case.status.as_str().to_string(),
        decision: verdict.decision,
        rules: verdict.rules().into_iter().map(str::to_string).collect(),
        override_name: verdict.override_name.clone(),
        would,
        uncertain: creators == Creators::UnreadAndTheyMatter && verdict.principal.is_none(),
    }
}

impl ScanReport {
    fn summary(&self) -> String {
        let count = |decision: Decision| {
            self.sessions
                .iter()
                .filter(|row| row.decision == decision)
                .count()
        };
        format!(
            "{} session{} listed, {} running judged: {} would be stopped, {} out of bounds \
             (any action), {} exempt, {} compliant",
            self.listed,
            if self.listed == 1 { "" } else { "s" },
            self.judged,
            self.would_stop,
            count(Decision::Violation),
            count(Decision::Exempt),
            count(Decision::Compliant)
        )
    }

    /// The table for people, columns aligned.
    pub fn text(&self) -> String {
        let mut out = format!(
            "scan of the sessions running in account {}, {} under the policy of stack {}:\n",
            self.account, self.region, self.stack
        );
        let cells: Vec<[String; 6]> = self.sessions.iter().map(cells).collect();
        let header = ["session", "creator", "status", "decision", "would", "rules"];
        let widths: Vec<usize> = (0..6)
            .map(|i| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |values: [&str; 6]| {
            let mut text = String::new();
            for (value, width) in values.iter().zip(&widths) {
                let _ = write!(text, "  {value:<width$}");
            }
            text.trim_end().to_string() + "\n"
        };
        out.push_str(&line(header));
        for row in &cells {
            out.push_str(&line([
                &row[0], &row[1], &row[2], &row[3], &row[4], &row[5],
            ]));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The table for a pull-request comment.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Sessions running in account {}, {}\n\n{}\n\n| session | creator | status | decision | would | rules |\n|---|---|---|---|---|---|\n",
            self.account,
            self.region,
            self.summary()
        );
        for row in self.sessions.iter().map(cells) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                row[0], row[1], row[2], row[3], row[4], row[5]
            );
        }
        if let Some(warning) = &self.warning {
            let _ = writeln!(out, "\n> {warning}");
        }
        out
    }
}

fn cells(row: &Row) -> [String; 6] {
    [
        row.session_id.clone(),
        row.creator.clone().unwrap_or_else(|| "unknown".into()),
        row.status.clone(),
        format!(
            "{}{}",
            row.decision.as_str(),
            if row.uncertain { " ?" } else { "" }
        ),
        row.would.clone(),
        row.rules.join(", "),
    ]
}

#[cfg(test)]
mod tests {
    use policy::Action;

    use super::*;

    fn report() -> ScanReport {
        let row = |id: &str, decision: Decision, would: &str, uncertain: bool| Row {
            session_id: id.into(),
            creator: None,
            status: "READY".into(),
            decision,
            rules: if decision == Decision::Compliant {
                vec![]
            } else {
                vec!["max_workers".into()]
            },
            override_name: None,
            would: would.into(),
            uncertain,
        };
        ScanReport {
            stack: "gsg".into(),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            listed: 3,
            judged: 2,
            would_stop: 1,
            sessions: vec![
                row("big", Decision::Violation, Action::Stop.as_str(), true),
                row("small", Decision::Compliant, Action::None.as_str(), false),
            ],
            warning: Some("CloudTrail could not be read".into()),
        }
    }

    #[test]
    fn the_table_says_what_would_happen_and_marks_what_could_change() {
        let text = report().text();
        assert!(
            text.contains("  big      unknown  READY   violation ?  stop   max_workers\n"),
            "{text}"
        );
        assert!(
            text.contains("  small    unknown  READY   compliant    none\n"),
            "{text}"
        );
        assert!(
            text.ends_with("3 sessions listed, 2 running judged: 1 would be stopped, 1 out of bounds (any action), 0 exempt, 1 compliant\n"),
            "{text}"
        );
        let markdown = report().markdown();
        assert!(
            markdown.contains("| `big` | unknown | READY | violation ? | stop | max_workers |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("> CloudTrail could not be read"),
            "{markdown}"
        );
    }
}
