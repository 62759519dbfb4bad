//! `cargo xtask evaluate`: judge what a file holds against a policy, one verdict per record
//! (`verdicts`). Text is one block per record; JSON is one object per record, per line (JSON
//! Lines), streamed; Markdown is one table. Exit 1 when a session or job run would be stopped,
//! deleted or notified, or a job definition reported (the one exit rule:
//! `output::sessions_answer`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use policy::Verdict;

use crate::output::{self, Format, markdown};
use crate::verdicts::{Given, JobFiles, ProfileFiles, describe, verdicts_in};
use crate::{Exit, paths};

#[derive(clap::Args)]
pub struct EvaluateCommand {
    /// The policy file [default: policies/default.yaml].
    #[arg(
        long,
        default_value = "policies/default.yaml",
        hide_default_value = true
    )]
    policy: PathBuf,
    /// What to judge (`-` for standard input): a CloudTrail record (EventBridge envelope or
    /// bare), a trail log file (`{"Records": [...]}`, plain or gzipped), a LookupEvents
    /// response (`{"Events": [...]}`) or one item of it, JSON Lines of records, a Glue session
    /// (`{"Session": {...}}` as GetSession returns it), a job (`{"Job": {...}}`, GetJob) or a
    /// job run (`{"JobRun": {...}}`, GetJobRun). Records may be CreateSession, StartJobRun,
    /// CreateJob and UpdateJob.
    #[arg(long)]
    event: PathBuf,
    /// A Glue job as `GetJob` returns it (JSON: `{"Job": {"Name", "Command", ...}}`, else
    /// refused); repeat for several, matched by `Name`; one that no run in the input is of is
    /// said on stderr. A
    /// `StartJobRun` record or a job run is judged over its job's definition: the last
    /// `CreateJob`/`UpdateJob` of that job earlier in the input, else this; without either,
    /// what the run leaves out is `unchecked`.
    #[arg(long = "job", value_name = "FILE")]
    jobs: Vec<PathBuf>,
    /// A Glue usage profile as `GetUsageProfile` returns it (JSON); repeat for several. A
    /// session created under a profile takes its defaults for what its creator left out; without
    /// the profile those checks are `unchecked`.
    #[arg(long = "usage-profile", value_name = "FILE")]
    usage_profiles: Vec<PathBuf>,
    /// The instant Glue's answers (a session, a job run, a job) are judged at, as the sweep
    /// judges what it finds: exceptions with `expires` apply before it. RFC 3339 or a day
    /// (`2027-01-31`: its midnight UTC) [default: now]. A CloudTrail record is always judged at
    /// its own `eventTime`.
    #[arg(long, value_name = "TIME", value_parser = crate::history::instant)]
    at: Option<i64>,
    /// Output format: text (one block per record), json (one object per record, per line),
    /// markdown (one table).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl EvaluateCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let policy = paths::load_policy(&self.policy)?;
        eprintln!("judged under {}", paths::shown(&self.policy));
        if !policy.budgets.is_empty() {
            eprintln!(
                "note: team budgets are not judged here (one record does not show what a team \
                 holds at once); backtest replays them"
            );
        }
        // Markdown shows the routes a verdict matches when the policy has any.
        let with_routes = policy
            .notifications
            .as_ref()
            .is_some_and(|notifications| !notifications.routes.is_empty());
        let at = self.at.unwrap_or_else(crate::history::time::now);
        let given = Given {
            profiles: ProfileFiles::read(&self.usage_profiles)?,
            jobs: JobFiles::read(&self.jobs)?,
            at: Some(at),
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        // Text: a single record prints as one block; several get a `record N` line each, so the
        // first waits until we know whether a second follows.
        let mut first: Option<Verdict> = None;
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut actions = Vec::new();
        let mut count = 0usize;
        let mut failure = None;
        let read = verdicts_in(&policy, &given, &self.event, |verdict| {
            count += 1;
            actions.push(verdict.action);
            let printed = match self.format {
                Format::Json => serde_json::to_string(&verdict)
                    .map(|line| line + "\n")
                    .map_err(anyhow::Error::from),
                Format::Markdown => {
                    rows.push(markdown_row(count, &verdict, with_routes));
                    return;
                }
                Format::Text if count == 1 => {
                    first = Some(verdict);
                    return;
                }
                Format::Text => {
                    let mut text = String::new();
                    if let Some(first) = first.take() {
                        text.push_str(&format!("record:    1\n{}\n", describe(&first)));
                    }
                    let _ = write!(text, "record:    {count}\n{}\n", describe(&verdict));
                    Ok(text)
                }
            };
            if let Err(error) = printed.and_then(|text| Ok(out.write_all(text.as_bytes())?)) {
                failure.get_or_insert(error);
            }
        });
        if let Some(first) = first {
            out.write_all(describe(&first).as_bytes())?;
        }
        if self.format == Format::Markdown {
            let mut columns = vec!["record", "session or job", "decision", "action", "rules"];
            if with_routes {
                columns.push("routes");
            }
            out.write_all(markdown::table(&columns, &rows).as_bytes())?;
        }
        out.flush()?;
        if let Some(error) = failure {
            return Err(error);
        }
        let read = read?;
        if self.at.is_some() && read.records > 0 && read.glue_answers == 0 {
            eprintln!(
                "note: --at applies to Glue's answers (a session, job or job run); {} holds only \
                 CloudTrail records, each judged at its own eventTime",
                crate::verdicts::shown(&self.event)
            );
        }
        for (file, name) in given.jobs.unused() {
            eprintln!(
                "warning: --job {file}: no job run in the input is of job {}, so it was not used",
                policy::quoted(name)
            );
        }
        // Nothing at all is an input lost on the way (an empty pipe, a failed download); an
        // empty list is a file that holds no record, as a trail may deliver one.
        if read.empty {
            bail!(
                "{} is empty: no record to judge",
                crate::verdicts::shown(&self.event)
            );
        }
        if read.items == 0 {
            eprintln!(
                "note: {} holds no record (an empty list): nothing to judge",
                crate::verdicts::shown(&self.event)
            );
        }
        // As backtest: what could not be read is an error (exit 2) once the verdicts are out.
        if read.unreadable > 0 {
            bail!(
                "{} of {} in {} could not be read and {} not judged (each is an `ignored` \
                 verdict above, with the reason)",
                read.unreadable,
                if read.items == 1 {
                    "1 item".to_string()
                } else {
                    format!("{} items", read.items)
                },
                crate::verdicts::shown(&self.event),
                if read.unreadable == 1 { "was" } else { "were" }
            );
        }
        Ok(output::sessions_answer(&actions).exit())
    }
}

/// One verdict as a Markdown row; with `routes`, the notification routes it matches last.
fn markdown_row(record: usize, verdict: &Verdict, routes: bool) -> Vec<String> {
    let mut row = vec![
        record.to_string(),
        match (&verdict.job_name, &verdict.job_run_id, &verdict.session_id) {
            (Some(job), Some(run), _) => format!("job `{job}` run `{run}`"),
            (Some(job), None, _) => format!("job `{job}` (definition)"),
            (None, _, Some(id)) => format!("`{id}`"),
            (None, _, None) => "-".to_string(),
        },
        verdict.decision.as_str().to_string(),
        verdict.action.as_str().to_string(),
        verdict.rules().join(", "),
    ];
    if routes {
        row.push(match verdict.routes.is_empty() {
            true => "-".to_string(),
            false => verdict.routes.join(", "),
        });
    }
    row
}
