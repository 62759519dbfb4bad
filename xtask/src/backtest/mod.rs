//! `cargo xtask backtest`: judge every `CreateSession` in a stretch of history under a policy,
//! and optionally under a baseline, to see what the policy would have stopped and what that is
//! worth. The history is read from a [`source::HistorySource`] (here: CloudTrail log files and
//! folders), one file per core at a time, each harvested on its own ([`scan`]) and merged by
//! the pure core ([`report`]), then printed ([`render`], or JSON).

mod baseline;
pub mod bench;
#[cfg(feature = "aws")]
pub mod cloud;
mod observe;
mod render;
mod report;
mod scan;
pub mod source;
mod time;

use std::cell::RefCell;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use rayon::iter::{ParallelBridge, ParallelIterator};

use bench::BenchPlan;
use observe::{Harvest, Judges};
use report::{Report, Settings, Tally};
use source::{HistorySource, Opened, TrailFolders};

use crate::{Exit, paths};

#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// For people at a terminal: totals, rules, principals, then at most 50 sessions.
    #[default]
    Text,
    /// For a pull-request comment: a summary table, the rules, then at most 50 changed (or,
    /// without a baseline, stopped) sessions and a count of the rest.
    Markdown,
    /// For machines: one JSON object with `records`, `sessions`, `violations`, `by_rule`,
    /// `by_override`, `by_principal`, `dpu_hours`, `cost_usd`, `violating`, `damaged`, and with
    /// a baseline `newly_violating`, `no_longer_violating`, `other_rules` and `changes`.
    Json,
}

/// Judge every successful `CreateSession` in CloudTrail's history under a policy.
///
/// Exit codes: 0 when no session would be stopped under the policy; 1 when some would (a
/// `violation`: stopped in enforce mode, reported in audit mode; exempt sessions do not count);
/// 2 when a file could not be read to its end (after the report, which names each such file
/// with the reason; the other files are still read), or the backtest could not run at all.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 no session would be stopped under the policy; 1 some \
                        would; 2 a file could not be read to its end (named in the report, \
                        after which the rest was still read), or the backtest could not run."
)]
pub struct Backtest {
    /// The policy to judge the history under.
    #[arg(long, default_value = "policies/default.yaml")]
    policy: PathBuf,
    /// CloudTrail log files, or folders searched recursively in the layout a trail writes
    /// (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`), or `s3://bucket/prefix`
    /// (the same files read straight from the trail's bucket); repeatable. Plain or gzipped (by
    /// the first bytes), and any file `evaluate` reads: JSON Lines of records, a LookupEvents
    /// response.
    #[arg(
        long = "trail",
        value_name = "PATH",
        required_unless_present_any = ["bench", "lookup_events"]
    )]
    trails: Vec<PathBuf>,
    /// Also read Glue's records of the last --days days from the CloudTrail API
    /// (`LookupEvents`), paced to its limit of 2 calls a second, with progress on stderr.
    #[arg(long)]
    lookup_events: bool,
    /// How many days back --lookup-events reads (1 to 90).
    #[arg(long, default_value_t = 7, requires = "lookup_events")]
    days: u32,
    /// AWS region, for s3:// trails and --lookup-events (default: the AWS configuration).
    #[arg(long)]
    region: Option<String>,
    /// Named profile from the AWS configuration files.
    #[arg(long)]
    profile: Option<String>,
    /// Send the AWS calls to this endpoint (an emulator such as moto), with its scheme.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// Also judge every session under this policy file, and list the sessions whose fate
    /// differs: newly stopped, no longer stopped, stopped for other rules.
    #[arg(long, value_name = "POLICY_FILE", conflicts_with = "baseline_rev")]
    baseline: Option<PathBuf>,
    /// As --baseline, with the --policy file as it was at this git revision (`git show
    /// REV:path` in the repository that holds it), e.g. `origin/main` in a pull request.
    #[arg(long, value_name = "GIT_REV")]
    baseline_rev: Option<String>,
    /// Glue's price per DPU-hour in USD, for the cost at stake: DPUs × hours of each stopped
    /// session, from its CreateSession to its StopSession or DeleteSession when the history
    /// holds one, else its whole timeout (an upper bound).
    #[arg(long, value_name = "USD", default_value_t = 0.44, value_parser = price)]
    price_per_dpu_hour: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
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
    bench: Option<u64>,
}

fn price(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(price) if price.is_finite() && price >= 0.0 => Ok(price),
        _ => Err(format!("{text:?} is not a price (a number, 0 or more)")),
    }
}

impl Backtest {
    pub fn run(self) -> anyhow::Result<Exit> {
        if let Some(records) = self.bench {
            return bench::run(&BenchPlan::new(records, self.policy.clone()), self.format);
        }
        // History in AWS needs the AWS SDK: `xtask-aws` reads it, with these same arguments.
        if cfg!(not(feature = "aws")) && self.reads_aws() {
            return crate::cli::forward_to_aws(std::env::args_os().skip(1).collect());
        }
        let policy = paths::load_policy(&self.policy)?;
        let baseline = match (&self.baseline, &self.baseline_rev) {
            (Some(file), _) => Some(baseline::Baseline::File(file.clone())),
            (None, Some(rev)) => Some(baseline::Baseline::Revision(rev.clone())),
            (None, None) => None,
        };
        let baseline = baseline
            .map(|baseline| baseline::load(&baseline, &self.policy))
            .transpose()?;
        let source = self.sources()?;
        let settings = Settings {
            policy: paths::shown(&self.policy),
            history: source.describe(),
            baseline: baseline.as_ref().map(|(_, name)| name.clone()),
            price_per_dpu_hour: self.price_per_dpu_hour,
        };
        let judges = Judges {
            policy: &policy,
            baseline: baseline.as_ref().map(|(policy, _)| policy),
        };
        let report = backtest(source, judges, &settings)?;
        let printed = match self.format {
            Format::Text => render::text(&report),
            Format::Markdown => render::markdown(&report),
            Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        };
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(printed.as_bytes())?;
        stdout.flush()?;
        outcome(&report)
    }
}

impl Backtest {
    /// Whether the history is (partly) in AWS: an `s3://` trail, or `--lookup-events`.
    fn reads_aws(&self) -> bool {
        self.lookup_events
            || self
                .trails
                .iter()
                .any(|trail| trail.to_str().is_some_and(|text| text.starts_with("s3://")))
    }

    /// Where the history is read from.
    #[cfg(not(feature = "aws"))]
    fn sources(&self) -> anyhow::Result<Box<dyn HistorySource>> {
        Ok(Box::new(TrailFolders::new(self.trails.clone())?))
    }

    /// Where the history is read from: files and folders, S3 prefixes, LookupEvents.
    #[cfg(feature = "aws")]
    fn sources(&self) -> anyhow::Result<Box<dyn HistorySource>> {
        use std::sync::Arc;
        let (remote, local): (Vec<&PathBuf>, Vec<&PathBuf>) = self
            .trails
            .iter()
            .partition(|trail| trail.to_str().is_some_and(|text| text.starts_with("s3://")));
        let mut sources: Vec<Box<dyn HistorySource>> = Vec::new();
        if !local.is_empty() {
            sources.push(Box::new(TrailFolders::new(
                local.into_iter().cloned().collect(),
            )?));
        }
        if !self.reads_aws() {
            return Ok(Box::new(cloud::Sources(sources)));
        }
        let runtime = Arc::new(crate::aws::runtime()?);
        let args = crate::aws::AwsArgs {
            policy: self.policy.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        };
        let aws = runtime.block_on(crate::aws::Aws::load(&args, None))?;
        for trail in remote {
            let uri = trail.display().to_string();
            let Some((bucket, prefix)) = cloud::parse_s3_uri(&uri) else {
                bail!("--trail {uri}: an S3 trail is s3://BUCKET/PREFIX");
            };
            sources.push(Box::new(cloud::S3Trail {
                uri,
                bucket,
                prefix,
                client: aws.s3(),
                runtime: runtime.clone(),
            }));
        }
        if self.lookup_events {
            sources.push(Box::new(cloud::LookupEventsHistory {
                days: self.days,
                client: aws.cloudtrail(),
                runtime,
                per_second: cloud::LOOKUP_EVENTS_PER_SECOND,
            }));
        }
        Ok(Box::new(cloud::Sources(sources)))
    }
}

/// The exit code of a report: damage is an error (exit 2) once the report is out.
fn outcome(report: &Report) -> anyhow::Result<Exit> {
    if !report.damaged.is_empty() {
        let names: Vec<&str> = report.damaged.iter().map(|d| d.file.as_str()).collect();
        bail!(
            "{} of {} files could not be read to the end: {}",
            names.len(),
            report.files,
            names.join(", ")
        );
    }
    Ok(if report.violations > 0 {
        Exit::Failed
    } else {
        Exit::Success
    })
}

thread_local! {
    /// Each reading thread's decompression buffer, kept between files.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads everything `source` holds, on every core (one file per core at a time), and reports.
pub fn backtest(
    source: Box<dyn HistorySource>,
    judges: Judges<'_>,
    settings: &Settings,
) -> anyhow::Result<Report> {
    let units = source.units()?;
    let tally = units
        .par_bridge()
        .map(|unit| match unit {
            Opened::Ready(reader) => {
                BUFFER.with(|buffer| scan::scan(reader, judges, &mut buffer.borrow_mut()))
            }
            Opened::Failed { name, reason } => {
                let mut harvest = Harvest::of(name);
                harvest.damage = Some(reason);
                harvest
            }
        })
        .fold(Tally::default, |mut tally, harvest| {
            tally.add(harvest);
            tally
        })
        .reduce(Tally::default, Tally::merge);
    Ok(tally.report(settings))
}
