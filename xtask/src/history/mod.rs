//! The backtest engine: judge every `CreateSession` in a stretch of history under a policy, and
//! optionally under a baseline, to see what the policy would have done and what that is worth.
//! The history is read from a [`source::HistorySource`] (CloudTrail log files and folders here;
//! `xtask-aws` adds S3 and `LookupEvents`), one unit per core at a time, each harvested on its
//! own ([`harvest`]) and merged by the pure core ([`report`]), then printed ([`text`], or JSON).
//! Used by the backtest commands of both crates.

pub mod athena;
mod baseline;
mod budgets;
mod change;
mod cost;
mod harvest;
mod jobs;
mod judgement;
mod measure;
mod observe;
mod report;
pub mod source;
mod spill;
mod text;
pub(crate) mod time;

use std::cell::RefCell;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use rayon::iter::{ParallelBridge, ParallelIterator};

use measure::BenchPlan;
pub use measure::TARGET_ATHENA_GROWTH;
use observe::Harvest;
pub use observe::{Judges, Window};
use report::Tally;
pub use report::{Inputs, Report};
pub use source::{HistorySource, Opened, TrailFolders};

use crate::output::Format;
use crate::{Exit, paths};

/// What a backtest takes: the policy, where the history is, the baseline, the price, the format.
/// The backtest commands (`cargo xtask backtest`, and `xtask-aws`'s when the history is in AWS)
/// both take it.
///
/// Exit codes: 0 when no session or job run would be stopped, deleted or notified under the
/// policy (for its own boundaries or a team budget) and no job definition reported; 1 when one
/// would (exempt sessions and runs do not count); 2 when a file could not be read to
/// its end or a record in it could not be read (after the report, which names each such file
/// with the reason and counts the records; the rest is still read), or the backtest could not
/// run at all.
#[derive(clap::Args, Clone, Debug)]
#[command(group(
    // Where the history is: without one, clap names them all (not `--trail` alone).
    clap::ArgGroup::new("history_source")
        .required(true)
        .multiple(true)
        .args(["trails", "lookup_events", "athena", "athena_result", "bench"])
))]
#[command(
    after_help = "Exit codes: 0 no session or job run would be stopped, deleted or notified \
                  under the policy (for its own boundaries or a team budget) and no job \
                  definition reported; 1 some would; 2 a file could not be read to its end or a \
                  record in it could not be read (named and counted in the report; the rest was \
                  still read), or the backtest could not run."
)]
pub struct HistoryArgs {
    /// The policy to judge the history under, and (for s3:// trails and --lookup-events) the
    /// account's flags.
    #[command(flatten)]
    pub aws: crate::aws_args::AwsArgs,
    /// CloudTrail log files, or folders searched recursively in the layout a trail writes
    /// (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`), or `s3://bucket/prefix`
    /// (the same files read straight from the trail's bucket); repeatable. Plain or gzipped (by
    /// the first bytes), and any file `evaluate` reads: JSON Lines of records, a LookupEvents
    /// response.
    #[arg(long = "trail", value_name = "PATH")]
    pub trails: Vec<PathBuf>,
    /// A result file of the backtest's Athena query (CSV, as Athena writes it, or gzipped) on
    /// this machine, judged as `--athena` judges one, without --athena: print the query with
    /// `--athena --dry-run` (`--offline` without credentials), run it in the Athena console,
    /// and download its result.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trails", "lookup_events", "athena"])]
    pub athena_result: Option<PathBuf>,
    /// Judge only the records from this instant on: a day (`2026-11-01`, its midnight UTC) or
    /// an RFC 3339 time (`2026-11-01T09:00:00Z`). A log file found in a folder or an S3 prefix
    /// whose name says CloudTrail delivered it before then is not read (counted in the
    /// report). With --athena, required unless the policy's history.athena.days says how far
    /// back to read. A fraction of a second rounds up (records carry whole seconds).
    #[arg(long, value_name = "DAY_OR_TIME", value_parser = window_instant)]
    pub since: Option<i64>,
    /// Judge only the records before this instant (a day: its midnight UTC, so `--until
    /// 2026-12-01` ends with November). With --athena, now when not given. A fraction of a
    /// second rounds up (records carry whole seconds).
    #[arg(long, value_name = "DAY_OR_TIME", value_parser = window_instant)]
    pub until: Option<i64>,
    #[command(flatten)]
    pub athena: AthenaArgs,
    /// Also read Glue's records of the last --days days from the CloudTrail API
    /// (`LookupEvents`), paced to its limit of 2 calls a second, with progress on stderr.
    #[arg(long)]
    pub lookup_events: bool,
    /// How many days back --lookup-events reads (1 to 90) [default: 7]. Not for --athena:
    /// --since, or the policy's history.athena.days.
    #[arg(long, value_name = "DAYS")]
    pub days: Option<u32>,
    /// Also judge every session and job run under this policy file, and replay its team
    /// budgets, and list those whose fate differs: newly stopped, no longer stopped, stopped
    /// for other rules, stopped at another time (the same rules, from another instant: an
    /// exception's expiry), newly or no longer stopped for a team budget.
    #[arg(long, value_name = "POLICY_FILE", conflicts_with = "baseline_rev")]
    pub baseline: Option<PathBuf>,
    /// As --baseline, with the --policy file as it was at this git revision (`git show
    /// REV:path` in the repository that holds it), e.g. `origin/main` in a pull request.
    #[arg(long, value_name = "GIT_REV")]
    pub baseline_rev: Option<String>,
    /// A Glue job as `GetJob` returns it (JSON: `{"Job": {"Name", "Command", ...}}`, else
    /// refused), for the runs of a job the history does not define (no CreateJob or UpdateJob of
    /// it before the run); repeatable, matched by `Name`; one the history holds no run of is
    /// said on stderr.
    /// With history in AWS, the other jobs' definitions are asked of Glue (`GetJob`).
    #[arg(long = "job", value_name = "FILE")]
    pub jobs: Vec<PathBuf>,
    /// Glue's price per DPU-hour in USD, for the cost at stake: DPUs × hours of each stopped
    /// session, from its CreateSession to its StopSession or DeleteSession when the history
    /// holds one, else its whole timeout (an upper bound); of each stopped job run, its whole
    /// timeout (CloudTrail holds no run's end: an upper bound).
    #[arg(long, value_name = "USD", default_value_t = 0.44, value_parser = price)]
    pub price_per_dpu_hour: f64,
    /// Output format: text for a terminal; markdown for a pull-request comment (a summary
    /// table, the rules, then at most 50 changed or stopped sessions, and as many job runs);
    /// json with every count.
    #[arg(long, value_enum, default_value_t)]
    pub format: crate::output::Format,
    /// Measure the backtest instead: generate a trail of RECORDS records (1% CreateSession,
    /// gzipped in the AWSLogs layout under the temporary folder, reused when present), back-test
    /// it in this process for records per second, then as a child process for its peak memory.
    #[arg(
        long,
        value_name = "RECORDS",
        num_args = 0..=1,
        default_missing_value = "1000000",
        conflicts_with_all = ["trails", "baseline", "baseline_rev"]
    )]
    pub bench: Option<u64>,
}

/// Where and how a backtest queries Athena (`--athena`). Each setting comes from its flag, else
/// from the policy's `history.athena` section, else from its default ([`AthenaArgs::settings`]).
#[derive(clap::Args, Clone, Debug)]
pub struct AthenaArgs {
    /// Read the history with Amazon Athena from the organization's CloudTrail table instead of
    /// files: the query filters Glue's records where the data is (partitions of --since..--until,
    /// --accounts, --regions); the rows are judged here, by the same code as files.
    #[arg(long, conflicts_with_all = ["trails", "lookup_events"])]
    pub athena: bool,
    /// The Glue Data Catalog database of the CloudTrail table [default: the policy's
    /// history.athena.database, else `default`].
    #[arg(long, value_name = "NAME", value_parser = catalog_name)]
    pub database: Option<String>,
    /// The CloudTrail table (`cargo xtask render --athena-table` prints one) [default: the
    /// policy's history.athena.table, else `cloudtrail_logs`].
    #[arg(long, value_name = "NAME", value_parser = catalog_name)]
    pub table: Option<String>,
    /// The Athena workgroup the query runs in; its per-query data limit is checked first
    /// [default: the policy's history.athena.workgroup, else `primary`].
    #[arg(long, value_name = "NAME", value_parser = workgroup_name)]
    pub workgroup: Option<String>,
    /// Where Athena writes the result (`s3://bucket/prefix/`), when the workgroup sets none
    /// [default: the policy's history.athena.output_location].
    #[arg(long, value_name = "S3_URI", value_parser = s3_location)]
    pub output_location: Option<String>,
    /// The accounts to read (comma-separated or repeated); all the table holds when left out
    /// here and in the policy's history.athena.accounts (when the table's account partition is
    /// injected: the organization's, from Organizations ListAccounts).
    #[arg(long, value_name = "ACCOUNT_ID", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// The Regions to read (comma-separated or repeated); all when left out here and in the
    /// policy's history.athena.regions.
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// The most a query may scan, in GB (10^9 bytes): the backtest refuses to run in a
    /// workgroup whose per-query data limit (BytesScannedCutoffPerQuery) is higher or unset
    /// [default: the policy's history.athena.max_scan_gb, else 100].
    #[arg(long, value_name = "GB", value_parser = positive, allow_negative_numbers = true)]
    pub max_scan_gb: Option<f64>,
    /// Athena's price per TB scanned, in USD, for the query's cost.
    #[arg(
        long,
        value_name = "USD",
        default_value_t = athena::PRICE_PER_TB_USD,
        value_parser = price,
        allow_negative_numbers = true
    )]
    pub athena_price_per_tb: f64,
    /// With --athena: print the query (and the checks it passed) instead of running it. It
    /// still reads the table and the workgroup in AWS (credentials needed) unless --offline.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the query for the table `render --athena-table` makes (partitioned
    /// by account, Region and day) without reading anything in AWS: no credentials, and
    /// neither the table nor the workgroup's per-query limit is checked. Needs the accounts
    /// (--accounts or history.athena.accounts): that table injects them.
    #[arg(long, requires = "dry_run")]
    pub offline: bool,
}

/// The settings of one backtest on Athena, each from its flag, the policy's `history.athena` or
/// its default, in that order ([`AthenaArgs::settings`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AthenaSettings {
    pub database: String,
    pub table: String,
    pub workgroup: String,
    /// `None`: the workgroup's result location.
    pub output_location: Option<String>,
    /// Empty: every account the table holds.
    pub accounts: Vec<String>,
    /// Empty: every Region.
    pub regions: Vec<String>,
    /// GB of 10^9 bytes.
    pub max_scan_gb: f64,
    /// How far back `--since` reaches when not given: `history.athena.days`, in days.
    pub days: Option<u32>,
    /// Athena's price, USD per TB scanned (`--athena-price-per-tb`).
    pub price_per_tb_usd: f64,
}

/// What `backtest --athena --dry-run` found: the query it would send and the checks it made, a
/// command's result like any other (`--format`; the text is the query alone, to pipe into the
/// Athena console or the CLI; the notes and what was checked go to stderr).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRun {
    /// Nothing was read in AWS (`--offline`): the query is for the table `render
    /// --athena-table` makes, and neither the table nor the workgroup was checked.
    pub offline: bool,
    /// `database.table`.
    pub table: String,
    pub workgroup: String,
    /// The most a query may scan, in GB of 10^9 bytes (`--max-scan-gb`, the policy's, else 100).
    pub max_scan_gb: f64,
    /// What bounds the scan, as checked in the workgroup ([`None`] offline).
    pub checked: Option<String>,
    /// Where the result would be written (`s3://…/`), when known.
    pub output_location: Option<String>,
    /// What the reader should know about the query (a partition it cannot prune, a field the
    /// table lacks, the accounts it names).
    pub notes: Vec<String>,
    /// The SQL (Athena's dialect, Trino).
    pub query: String,
}

impl DryRun {
    /// What was and was not checked, in one sentence.
    fn checks(&self) -> String {
        match &self.checked {
            Some(checked) => format!(
                "dry run: the query below would run in {} on {} ({checked}); nothing was \
                 started",
                self.workgroup, self.table
            ),
            None => format!(
                "dry run, offline: the query for {} as `cargo xtask render --athena-table` \
                 makes it (partitioned by account, Region and day); nothing was read in AWS, so \
                 neither the table nor the workgroup `{}` was checked: a run needs the workgroup \
                 to cancel a query past at most {} GB (its per-query data limit, \
                 BytesScannedCutoffPerQuery; max_scan_gb)",
                self.table, self.workgroup, self.max_scan_gb
            ),
        }
    }

    /// Prints the notes and the checks on stderr, the result in `format` on stdout.
    pub fn emit(&self, format: Format) -> anyhow::Result<Exit> {
        for note in &self.notes {
            eprintln!("note: {note}");
        }
        eprintln!("{}", self.checks());
        crate::output::emit(self, format)
    }
}

impl std::fmt::Display for DryRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.query)
    }
}

impl crate::output::Outcome for DryRun {
    fn markdown(&self) -> String {
        let mut out = crate::output::markdown::heading(3, "Athena query (dry run)");
        out.push_str(&format!("\n{}.\n\n", self.checks()));
        for note in &self.notes {
            out.push_str(&format!("- {note}\n"));
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("```sql\n{}```\n", self.query));
        out
    }

    fn answer(&self) -> crate::output::Answer {
        crate::output::Answer::Yes
    }
}

/// `--days` when not given: how many days back `--lookup-events` reads.
pub const DEFAULT_LOOKUP_DAYS: u32 = 7;

/// `--database` when neither the flag nor the policy names one.
pub const DEFAULT_DATABASE: &str = "default";
/// `--table` when neither the flag nor the policy names one.
pub const DEFAULT_TABLE: &str = "cloudtrail_logs";
/// `--workgroup` when neither the flag nor the policy names one: every account's own.
pub const DEFAULT_WORKGROUP: &str = "primary";
/// `--max-scan-gb` when neither the flag nor the policy gives one.
pub const DEFAULT_MAX_SCAN_GB: f64 = 100.0;

impl AthenaArgs {
    /// Refuses the flags that only shape an Athena query when the history is not one
    /// (`--trail`, `--athena-result`, `--lookup-events`): they would do nothing, and `--dry-run`
    /// would run the whole backtest. (clap's `requires = "athena"` cannot say it: a flag that is
    /// off still counts as given, so the check is here.)
    pub fn refuse_without_athena(&self) -> anyhow::Result<()> {
        if self.athena {
            return Ok(());
        }
        let given: Vec<&str> = [
            ("--database", self.database.is_some()),
            ("--table", self.table.is_some()),
            ("--workgroup", self.workgroup.is_some()),
            ("--output-location", self.output_location.is_some()),
            ("--accounts", !self.accounts.is_empty()),
            ("--regions", !self.regions.is_empty()),
            ("--max-scan-gb", self.max_scan_gb.is_some()),
            (
                "--athena-price-per-tb",
                self.athena_price_per_tb != athena::PRICE_PER_TB_USD,
            ),
            ("--dry-run", self.dry_run),
            ("--offline", self.offline),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !given.is_empty() {
            bail!(
                "{} only {} an Athena query: give --athena with {}, or leave {} out when reading \
                 --trail, --athena-result or --lookup-events",
                given.join(", "),
                if given.len() == 1 { "shapes" } else { "shape" },
                if given.len() == 1 { "it" } else { "them" },
                if given.len() == 1 { "it" } else { "them" },
            );
        }
        Ok(())
    }

    /// The flags over the policy's `history.athena` (`section`) over the defaults. A list given
    /// as a flag replaces the section's list.
    pub fn settings(&self, section: Option<&policy::HistoryAthena>) -> AthenaSettings {
        let empty = policy::HistoryAthena::default();
        let section = section.unwrap_or(&empty);
        let pick = |flag: &Option<String>, given: &Option<String>, default: &str| {
            flag.clone()
                .or_else(|| given.clone())
                .unwrap_or_else(|| default.to_string())
        };
        let list = |flag: &Vec<String>, given: &Vec<String>| {
            if flag.is_empty() {
                given.clone()
            } else {
                flag.clone()
            }
        };
        AthenaSettings {
            database: pick(&self.database, &section.database, DEFAULT_DATABASE),
            table: pick(&self.table, &section.table, DEFAULT_TABLE),
            workgroup: pick(&self.workgroup, &section.workgroup, DEFAULT_WORKGROUP),
            output_location: self
                .output_location
                .clone()
                .or_else(|| section.output_location.clone()),
            accounts: list(&self.accounts, &section.accounts),
            regions: list(&self.regions, &section.regions),
            max_scan_gb: self
                .max_scan_gb
                .or(section.max_scan_gb)
                .unwrap_or(DEFAULT_MAX_SCAN_GB),
            days: section.days,
            price_per_tb_usd: self.athena_price_per_tb,
        }
    }
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 time, as Unix seconds.
pub(crate) fn instant(text: &str) -> Result<i64, String> {
    time::parse_instant(text).ok_or_else(|| {
        let trimmed = text.trim();
        let as_time = if trimmed.len() == 10 {
            format!("{trimmed}T00:00:00Z")
        } else {
            trimmed.to_string()
        };
        match policy::time::impossible_rfc3339(&as_time) {
            Some(why) => format!("{text:?} does not exist: {why}"),
            None => format!(
                "{text:?} is neither a day (2026-11-01) nor an RFC 3339 time (2026-11-01T09:00:00Z)"
            ),
        }
    })
}

/// A window's end, as [`instant`], a fraction of a second rounded up: a record's `eventTime` is
/// whole seconds, so from (or before) `09:00:00.5` is from (or before) `09:00:01`, and the
/// window shown says so.
pub(crate) fn window_instant(text: &str) -> Result<i64, String> {
    let seconds = instant(text)?;
    let fraction = text
        .trim()
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|rest| {
            rest.bytes()
                .take_while(u8::is_ascii_digit)
                .any(|b| b != b'0')
        })
        .unwrap_or(false);
    Ok(seconds + i64::from(fraction))
}

/// `--database`, `--table`: checked as the policy's `history.athena` names are.
pub(crate) fn catalog_name(text: &str) -> Result<String, String> {
    if policy::validate::valid_catalog_name(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a name Athena reads as written: 1 to 255 lowercase letters, digits \
             or `_`"
        ))
    }
}

/// `--workgroup`: checked as the policy's `history.athena.workgroup` is.
fn workgroup_name(text: &str) -> Result<String, String> {
    if policy::validate::valid_workgroup_name(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not an Athena workgroup name: 1 to 128 letters, digits, `.`, `_` or `-`"
        ))
    }
}

/// `--output-location`: checked as the policy's `history.athena.output_location` is.
fn s3_location(text: &str) -> Result<String, String> {
    if policy::validate::valid_s3_location(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not an S3 location: `s3://bucket/prefix/`, where Athena writes the \
             query's result"
        ))
    }
}

fn price(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(price) if price.is_finite() && price >= 0.0 => Ok(price),
        _ => Err(format!("{text:?} is not a price (a number, 0 or more)")),
    }
}

impl HistoryArgs {
    /// Whether the history is (partly) in AWS: an `s3://` trail, `--lookup-events`, or
    /// `--athena` (but for `--dry-run --offline`, which reads nothing).
    pub fn reads_aws(&self) -> bool {
        self.lookup_events
            || (self.athena.athena && !self.athena.offline)
            || !self.s3_trails().is_empty()
    }

    /// The settings of a backtest on Athena: the flags over the `--policy`'s `history.athena`
    /// over the defaults ([`AthenaArgs::settings`]). Errors: the policy's (exit 1 when invalid).
    pub fn athena_settings(&self) -> anyhow::Result<AthenaSettings> {
        let policy = paths::load_policy(&self.aws.policy)?;
        Ok(self.athena.settings(
            policy
                .history
                .as_ref()
                .and_then(|history| history.athena.as_ref()),
        ))
    }

    /// The window and places an Athena query reads (`settings` from [`AthenaArgs::settings`]):
    /// `--until` is now when not given, and `--since` is `history.athena.days` before it when
    /// not given. Errors: neither `--since` nor `days`, a window that is empty, an account or
    /// Region that is not one.
    pub fn athena_scope(&self, settings: &AthenaSettings) -> anyhow::Result<athena::Scope> {
        let until = self.until.unwrap_or_else(time::now);
        if self.until.is_none()
            && let Some(since) = self.since.filter(|since| *since >= until)
        {
            bail!(
                "--since {} is not before now ({}): the window is empty; give a day in the past",
                time::format_rfc3339(since),
                time::format_rfc3339(until)
            );
        }
        let since = match (self.since, settings.days) {
            (Some(since), _) => since,
            (None, Some(days)) => until - i64::from(days) * 86_400,
            (None, None) => bail!(
                "--athena reads a stretch of history: give --since DAY (and --until DAY), or \
                 history.athena.days in the policy"
            ),
        };
        let scope = athena::Scope {
            since,
            until,
            accounts: settings.accounts.clone(),
            regions: settings.regions.clone(),
        };
        scope.check()?;
        Ok(scope)
    }

    /// `backtest --athena --dry-run --offline`: the query for the table `render --athena-table`
    /// makes ([`athena::rendered_table_shape`]), printed on stdout (notes on stderr), with
    /// nothing read in AWS. Errors as the query's ([`athena::query`]): an account partition
    /// with no `--accounts` to name, a window or a name that is not one.
    pub fn print_offline_query(&self) -> anyhow::Result<Exit> {
        let settings = self.athena_settings()?;
        let scope = self.athena_scope(&settings)?;
        if scope.accounts.is_empty() {
            bail!(
                "--offline: name the accounts to read (--accounts, or history.athena.accounts): \
                 the table `render --athena-table` makes injects them unless it was rendered \
                 with --accounts, and a query of such a table must name them"
            );
        }
        let shape = athena::rendered_table_shape(&settings.database, &settings.table, &scope)?;
        let query = athena::query(&shape, &scope)?;
        DryRun {
            offline: true,
            table: format!("{}.{}", settings.database, settings.table),
            workgroup: settings.workgroup.clone(),
            max_scan_gb: settings.max_scan_gb,
            checked: None,
            output_location: settings.output_location.clone(),
            notes: query.notes,
            query: query.sql,
        }
        .emit(self.format)
    }

    /// How many days back `--lookup-events` reads (`--days`, else 7).
    pub fn lookup_days(&self) -> u32 {
        self.days.unwrap_or(DEFAULT_LOOKUP_DAYS)
    }

    /// Refuses a flag that would do nothing with the history given: the Athena query's flags
    /// without `--athena` ([`AthenaArgs::refuse_without_athena`]), and `--days` other than with
    /// `--lookup-events`, saying what reaches back instead.
    pub fn refuse_misplaced_flags(&self) -> anyhow::Result<()> {
        if let Some(days) = self.days {
            if self.athena.athena {
                bail!(
                    "--days {days} is how far back --lookup-events reads: with --athena, give \
                     --since DAY (or history.athena.days in the policy)"
                );
            }
            if self.athena_result.is_some() {
                bail!(
                    "--days {days} is how far back --lookup-events reads: to keep an Athena \
                     result to a window, give --since DAY"
                );
            }
            if !self.lookup_events {
                bail!(
                    "--days {days} is how far back --lookup-events reads: give --lookup-events \
                     with it, or --since DAY to keep another history to a window"
                );
            }
        }
        self.athena.refuse_without_athena()
    }

    /// `--since`/`--until` as a window.
    pub fn window(&self) -> Window {
        Window {
            since: self.since,
            until: self.until,
        }
    }

    /// The `s3://` trails.
    pub fn s3_trails(&self) -> Vec<&PathBuf> {
        self.trails
            .iter()
            .filter(|trail| trail.to_str().is_some_and(|text| text.starts_with("s3://")))
            .collect()
    }

    /// `--athena-result FILE` as a source; `None` without it.
    pub fn result_file(&self) -> anyhow::Result<Option<source::ResultRows>> {
        let Some(file) = &self.athena_result else {
            return Ok(None);
        };
        let name = paths::shown(file);
        let reader = std::fs::File::open(file)
            .map_err(|error| anyhow::anyhow!("--athena-result {name}: {error}"))?;
        Ok(Some(source::ResultRows {
            describe: source::Described::words("the Athena result ").and_name(name.clone()),
            name,
            reader: Box::new(reader),
        }))
    }

    /// The trail files and folders on this machine, as a source; `None` when there are none.
    pub fn local_source(&self) -> anyhow::Result<Option<TrailFolders>> {
        let local: Vec<PathBuf> = self
            .trails
            .iter()
            .filter(|trail| !trail.to_str().is_some_and(|text| text.starts_with("s3://")))
            .cloned()
            .collect();
        if local.is_empty() {
            return Ok(None);
        }
        Ok(Some(TrailFolders::new(local)?.since(self.since)))
    }

    /// `--bench RECORDS`: measures the backtest over a generated trail instead.
    pub fn measure(&self, records: u64) -> anyhow::Result<Exit> {
        measure::run(
            &BenchPlan::new(records, self.aws.policy.clone()),
            self.format,
        )
    }

    /// Judges everything `source` holds under the policy (and the baseline), prints the report
    /// in the asked format, and gives the exit the one rule says.
    pub fn run(&self, source: Box<dyn HistorySource>) -> anyhow::Result<Exit> {
        self.run_with(source, None, None)
    }

    /// [`HistoryArgs::run`], asking `lookup` for the definitions of the jobs whose runs the
    /// history and `--job` leave without one; `athena` is the query the history came from.
    pub fn run_with(
        &self,
        source: Box<dyn HistorySource>,
        lookup: Option<&dyn JobLookup>,
        athena: Option<athena::AthenaRun>,
    ) -> anyhow::Result<Exit> {
        self.refuse_misplaced_flags()?;
        let policy = paths::load_policy(&self.aws.policy)?;
        let baseline = match (&self.baseline, &self.baseline_rev) {
            (Some(file), _) => Some(baseline::Baseline::File(file.clone())),
            (None, Some(rev)) => Some(baseline::Baseline::Revision(rev.clone())),
            (None, None) => None,
        };
        let baseline = baseline
            .map(|baseline| baseline::load(&baseline, &self.aws.policy))
            .transpose()?;
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until <= since
        {
            bail!("--until is not after --since: the window is empty");
        }
        let inputs = Inputs {
            policy: paths::shown(&self.aws.policy),
            action: policy::enforcement_action(&policy, policy::Decision::Violation),
            history: source.describe(),
            baseline: baseline.as_ref().map(|(_, name)| name.clone()),
            price_per_dpu_hour: self.price_per_dpu_hour,
            jobs: Default::default(),
            athena,
        };
        let job_files = crate::verdicts::JobFiles::read(&self.jobs)?;
        let given_jobs = job_files.files();
        let inputs = Inputs {
            jobs: job_files.into_map(),
            ..inputs
        };
        let judges = Judges {
            policy: &policy,
            baseline: baseline.as_ref().map(|(policy, _)| policy),
            window: self.window(),
        };
        let mut report = backtest_with(source, judges, &inputs, lookup)?;
        for (file, name) in &given_jobs {
            let Some(jobs) = &report.jobs else {
                eprintln!(
                    "warning: --job {file}: the policy has no jobs section, so no job run is \
                     judged and it was not used"
                );
                continue;
            };
            if jobs.by_job.get(name).is_none_or(|totals| totals.runs == 0) {
                eprintln!(
                    "warning: --job {file}: the history holds no run of job {}, so it was not used",
                    policy::quoted(name)
                );
            }
        }
        report.expiring = crate::expiring::list(&policy, time::now());
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        match self.format {
            Format::Text => stdout.write_all(text::text(&report).as_bytes())?,
            Format::Markdown => stdout.write_all(text::markdown(&report).as_bytes())?,
            // Written as it is encoded: a report listing every stopped session of a long
            // history is never held twice.
            Format::Json => {
                serde_json::to_writer_pretty(&mut stdout, &report)?;
                stdout.write_all(b"\n")?;
            }
        }
        stdout.flush()?;
        outcome(&report)
    }
}

/// The exit code of a report: damage is an error (exit 2) once the report is out.
fn outcome(report: &Report) -> anyhow::Result<Exit> {
    let mut problems = Vec::new();
    if !report.damaged.is_empty() {
        let names: Vec<&str> = report.damaged.iter().map(|d| d.file.as_str()).collect();
        let of = if report.read_in_chunks() {
            format!("{} chunks of the result", report.chunks)
        } else {
            format!("{} files", report.files)
        };
        problems.push(format!(
            "{} of {of} could not be read to the end: {}",
            names.len(),
            names.join(", ")
        ));
    }
    if report.unreadable_records > 0 {
        problems.push(format!(
            "{} of {} could not be read (not JSON, or not a record) and {} not judged{}",
            text::grouped(report.unreadable_records),
            text::plural(report.records, "record", "records"),
            if report.unreadable_records == 1 {
                "was"
            } else {
                "were"
            },
            report
                .unreadable_example
                .as_ref()
                .map(|example| format!(" ({example})"))
                .unwrap_or_default()
        ));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    let jobs_acted_on = report.jobs.as_ref().is_some_and(|jobs| jobs.acts());
    let budgets_acted_on = report
        .budgets
        .iter()
        .any(|budget| !budget.stopped.is_empty());
    Ok(
        if report.violations > 0 || jobs_acted_on || budgets_acted_on {
            Exit::Failed
        } else {
            Exit::Success
        },
    )
}

thread_local! {
    /// Each reading thread's decompression buffer, kept between files.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Where a backtest gets the definitions of jobs its history does not define: Glue's `GetJob`
/// (`xtask-aws`).
pub trait JobLookup {
    /// The definitions of the jobs named, by name; a job that no longer exists is left out.
    fn definitions(
        &self,
        names: &[String],
    ) -> anyhow::Result<std::collections::BTreeMap<String, policy::JobFacts>>;
}

/// Reads everything `source` holds, on every core (one file per core at a time), and reports.
pub fn backtest(
    source: Box<dyn HistorySource>,
    judges: Judges<'_>,
    inputs: &Inputs,
) -> anyhow::Result<Report> {
    backtest_with(source, judges, inputs, None)
}

/// [`backtest`], asking `lookup` for the definitions of the jobs whose runs the history and
/// `inputs.jobs` leave without one.
pub fn backtest_with(
    source: Box<dyn HistorySource>,
    judges: Judges<'_>,
    inputs: &Inputs,
    lookup: Option<&dyn JobLookup>,
) -> anyhow::Result<Report> {
    give_large_blocks_back();
    let units = source.units()?;
    let tally = units
        .par_bridge()
        .map(|unit| match unit {
            Opened::Ready(reader) => {
                BUFFER.with(|buffer| harvest::harvest(reader, judges, &mut buffer.borrow_mut()))
            }
            Opened::Rows(chunk) => harvest::harvest_rows(chunk, judges),
            Opened::Failed { name, reason } => {
                let mut harvest = Harvest::of(name);
                harvest.damage = Some(reason);
                harvest
            }
            Opened::LeftOut { name } => Harvest {
                left_out: true,
                ..Harvest::of(name)
            },
        })
        .fold(Tally::default, |mut tally, harvest| {
            tally.add(harvest);
            tally
        })
        .reduce(Tally::default, Tally::merge);
    let mut inputs = inputs.clone();
    if let (Some(lookup), true) = (lookup, judges.guard_jobs()) {
        let missing = tally.jobs_without_definition(&inputs.jobs);
        if !missing.is_empty() {
            eprintln!(
                "asking Glue (GetJob) for the definitions of {} jobs the history does not define",
                missing.len()
            );
            inputs.jobs.extend(lookup.definitions(&missing)?);
        }
    }
    tally.report(&inputs, judges)
}

/// Has the allocator give large blocks (a result's 2 MB chunks, each unit's list of sessions)
/// back to the system when they are freed. glibc otherwise raises its mmap threshold each time
/// such a block is freed (up to 32 MB, mallopt(3)), after which blocks of that size come from
/// its heap and their memory stays with the process. Measured over 200,000 Athena rows: 72 MB
/// peak without, 49 MB with (bench/README.md). Setting the threshold, to glibc's documented
/// default of 128 KiB, turns the adjustment off. Other platforms' allocators are left alone.
fn give_large_blocks_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::c_int;
        unsafe extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        const M_MMAP_THRESHOLD: c_int = -3;
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets one of the allocator's parameters, under its own lock; it
        // may be called from any thread at any time.
        ONCE.call_once(|| unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window's end with a fraction of a second rounds up to the next whole second (records
    /// carry whole seconds); a whole second, a zero fraction and a day stay as they are.
    #[test]
    fn a_window_instant_rounds_a_fraction_of_a_second_up() {
        let at = |text: &str| time::format_rfc3339(window_instant(text).unwrap());
        assert_eq!(at("2026-12-01T09:00:00.500Z"), "2026-12-01T09:00:01Z");
        assert_eq!(at("2026-12-01T09:00:00.001+00:00"), "2026-12-01T09:00:01Z");
        assert_eq!(at("2026-12-01T09:00:00.000Z"), "2026-12-01T09:00:00Z");
        assert_eq!(at("2026-12-01T09:00:00Z"), "2026-12-01T09:00:00Z");
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00Z");
        assert!(window_instant("soon").is_err());
    }

    /// An instant that has the shape of one but does not exist is named with its reason.
    #[test]
    fn an_impossible_instant_says_why() {
        assert_eq!(
            instant("2025-02-30").unwrap_err(),
            "\"2025-02-30\" does not exist: February 2025 has 28 days, not 30"
        );
        assert_eq!(
            instant("2026-12-01T24:00:00Z").unwrap_err(),
            "\"2026-12-01T24:00:00Z\" does not exist: hour 24 is past 23"
        );
        assert!(instant("2024-02-29").is_ok(), "a leap day");
        assert!(
            instant("tomorrow")
                .unwrap_err()
                .contains("is neither a day")
        );
    }

    /// Each Athena setting: its flag, else the policy's `history.athena`, else the default.
    #[test]
    fn athena_settings_come_from_the_flag_then_the_policy_then_the_default() {
        /// `backtest --athena` with `flags`, as clap reads them (defaults where not given).
        fn parsed(flags: &[&str]) -> AthenaArgs {
            use clap::Parser as _;
            #[derive(clap::Parser)]
            struct Cli {
                #[command(flatten)]
                args: HistoryArgs,
            }
            let line = ["backtest", "--athena"]
                .into_iter()
                .chain(flags.iter().copied());
            Cli::parse_from(line).args.athena
        }
        let none = parsed(&[]);
        assert_eq!(
            none.settings(None),
            AthenaSettings {
                database: "default".into(),
                table: "cloudtrail_logs".into(),
                workgroup: "primary".into(),
                output_location: None,
                accounts: vec![],
                regions: vec![],
                max_scan_gb: 100.0,
                days: None,
                price_per_tb_usd: athena::PRICE_PER_TB_USD,
            }
        );
        let section = policy::HistoryAthena {
            database: Some("security".into()),
            table: Some("org_trail".into()),
            workgroup: Some("backtest".into()),
            output_location: Some("s3://results/backtest/".into()),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
            max_scan_gb: Some(20.0),
            days: Some(90),
        };
        let from_policy = none.settings(Some(&section));
        assert_eq!(
            (
                from_policy.database.as_str(),
                from_policy.table.as_str(),
                from_policy.workgroup.as_str()
            ),
            ("security", "org_trail", "backtest")
        );
        assert_eq!(
            from_policy.output_location.as_deref(),
            Some("s3://results/backtest/")
        );
        assert_eq!(from_policy.accounts, ["111122223333"]);
        assert_eq!(from_policy.regions, ["eu-west-1"]);
        assert_eq!(from_policy.max_scan_gb, 20.0);
        assert_eq!(from_policy.days, Some(90));

        let flags = AthenaArgs {
            database: Some("audit".into()),
            workgroup: Some("primary".into()),
            accounts: vec!["444455556666".into()],
            max_scan_gb: Some(5.0),
            ..parsed(&["--athena-price-per-tb", "6.25"])
        };
        let mixed = flags.settings(Some(&section));
        assert_eq!(mixed.database, "audit");
        assert_eq!(mixed.table, "org_trail", "no flag: the policy's");
        assert_eq!(mixed.workgroup, "primary");
        assert_eq!(
            mixed.accounts,
            ["444455556666"],
            "a flag's list replaces the section's"
        );
        assert_eq!(mixed.regions, ["eu-west-1"]);
        assert_eq!(mixed.max_scan_gb, 5.0);
        assert_eq!(mixed.price_per_tb_usd, 6.25);
    }
}
