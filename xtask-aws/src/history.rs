//! History read from AWS for the backtest: a trail's log files straight from its S3 bucket
//! (`--trail s3://bucket/prefix`), and the CloudTrail API (`--lookup-events --days N`, 90 days at
//! most), paced to CloudTrail's limit of 2 `LookupEvents` calls a second per account and region,
//! one page at a time, with progress on standard error. Both are [`HistorySource`]s, read like
//! files by `xtask::history`'s engine.

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};

use xtask::history::HistoryArgs;
use xtask::history::source::{self, Described, HistorySource, NamedReader, Opened};

/// CloudTrail answers at most this many `LookupEvents` calls a second (per account and region).
const LOOKUP_EVENTS_PER_SECOND: u32 = 2;
/// How far back `LookupEvents` reaches.
const LOOKUP_EVENTS_MAX_DAYS: u32 = 90;

/// `s3://bucket/prefix`: the bucket and the prefix (possibly empty).
pub(crate) fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

/// A trail's bucket (or a prefix of it): every log file under the prefix, each downloaded when a
/// reader asks for it.
pub struct S3Trail {
    pub uri: String,
    pub bucket: String,
    pub prefix: String,
    pub client: aws_sdk_s3::Client,
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// `--since`: log files delivered before it are not downloaded
    /// (`source::may_hold_records_since`).
    pub since: Option<policy::time::UnixSeconds>,
}

impl HistorySource for S3Trail {
    fn describe(&self) -> Described {
        Described::name(self.uri.clone())
    }

    fn units(self: Box<Self>) -> anyhow::Result<Box<dyn Iterator<Item = Opened> + Send>> {
        let keys = self.runtime.block_on(async {
            let mut keys = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| {
                    crate::aws::failure(&format!("listing {}", self.uri), &error, None)
                })?;
                for object in page.contents() {
                    if let Some(key) = object.key()
                        && is_log_key(key)
                    {
                        keys.push(key.to_string());
                    }
                }
            }
            anyhow::Ok(keys)
        })?;
        if keys.is_empty() {
            bail!(
                "{} holds no CloudTrail log file (.json, .json.gz)",
                self.uri
            );
        }
        let this = *self;
        Ok(Box::new(keys.into_iter().map(move |key| {
            let name = format!("s3://{}/{key}", this.bucket);
            // A prefix that names the object itself is a file given, read whatever its name.
            if key != this.prefix && !source::may_hold_records_since(&key, this.since) {
                return Opened::LeftOut { name };
            }
            let body = this.runtime.block_on(async {
                let object = this
                    .client
                    .get_object()
                    .bucket(&this.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|error| crate::aws::described(&error))?;
                object
                    .body
                    .collect()
                    .await
                    .map(|data| data.into_bytes().to_vec())
                    .map_err(|error| error.to_string())
            });
            match body {
                Ok(bytes) => Opened::Ready(NamedReader {
                    name,
                    reader: Box::new(Cursor::new(bytes)),
                }),
                Err(reason) => Opened::Failed {
                    name,
                    reason: format!("cannot be downloaded: {reason}"),
                },
            }
        })))
    }
}

/// Log files a trail writes (not its digests).
fn is_log_key(key: &str) -> bool {
    !key.contains("/CloudTrail-Digest/")
        && [".json", ".json.gz", ".jsonl", ".jsonl.gz"]
            .iter()
            .any(|ending| key.ends_with(ending))
}

/// The wait before the next call so that calls stay at `per_second` at most.
fn pace(last_call: Option<Instant>, now: Instant, per_second: u32) -> Duration {
    let spacing = Duration::from_secs(1) / per_second.max(1);
    match last_call {
        Some(last) => spacing.saturating_sub(now.saturating_duration_since(last)),
        None => Duration::ZERO,
    }
}

/// Glue's records of the last `days` days, from `LookupEvents` (`EventSource` =
/// `glue.amazonaws.com`: the sessions' creations and their ends), one unit per page.
pub struct LookupEventsHistory {
    pub days: u32,
    pub client: aws_sdk_cloudtrail::Client,
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// Calls a second; [`LOOKUP_EVENTS_PER_SECOND`] on AWS.
    pub per_second: u32,
}

impl HistorySource for LookupEventsHistory {
    fn describe(&self) -> Described {
        Described::words(format!(
            "CloudTrail LookupEvents, the last {} days",
            self.days
        ))
    }

    fn units(self: Box<Self>) -> anyhow::Result<Box<dyn Iterator<Item = Opened> + Send>> {
        if !(1..=LOOKUP_EVENTS_MAX_DAYS).contains(&self.days) {
            bail!(
                "--days {}: LookupEvents reaches 1 to {LOOKUP_EVENTS_MAX_DAYS} days back",
                self.days
            );
        }
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventSource)
            .attribute_value("glue.amazonaws.com")
            .build()
            .context("building the LookupEvents filter")?;
        let now = SystemTime::now();
        let since = now - Duration::from_secs(u64::from(self.days) * 24 * 3600);
        Ok(Box::new(Pages {
            source: *self,
            attribute,
            since,
            now,
            token: None,
            done: false,
            last_call: None,
            pages: 0,
            events: 0,
        }))
    }
}

/// `LookupEvents`, one page at a time, fetched when the engine asks for the next unit: a page is
/// judged while the next is fetched, and memory holds one page, not the whole history. A call
/// that fails ends the history there, as a damaged unit the report names.
struct Pages {
    source: LookupEventsHistory,
    attribute: LookupAttribute,
    since: SystemTime,
    now: SystemTime,
    token: Option<String>,
    done: bool,
    last_call: Option<Instant>,
    pages: usize,
    events: usize,
}

impl Iterator for Pages {
    type Item = Opened;

    fn next(&mut self) -> Option<Opened> {
        if self.done {
            return None;
        }
        let wait = pace(self.last_call, Instant::now(), self.source.per_second);
        let request = self
            .source
            .client
            .lookup_events()
            .lookup_attributes(self.attribute.clone())
            .start_time(DateTime::from(self.since))
            .end_time(DateTime::from(self.now))
            .set_next_token(self.token.take());
        let page = self.source.runtime.block_on(async {
            tokio::time::sleep(wait).await;
            request.send().await
        });
        self.last_call = Some(Instant::now());
        self.pages += 1;
        let name = format!("LookupEvents page {}", self.pages);
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                self.done = true;
                return Some(Opened::Failed {
                    name,
                    reason: format!("{:#}", crate::aws::failure("LookupEvents", &error, None)),
                });
            }
        };
        let lines: String = page
            .events()
            .iter()
            .filter_map(|event| event.cloud_trail_event())
            .map(|record| format!("{record}\n"))
            .collect();
        self.events += page.events().len();
        self.token = page.next_token().map(str::to_string);
        if self.token.is_none() {
            self.done = true;
            eprintln!(
                "LookupEvents: {} pages, {} Glue records",
                self.pages, self.events
            );
        } else if self.pages.is_multiple_of(20) {
            eprintln!(
                "LookupEvents: {} pages, {} Glue records so far",
                self.pages, self.events
            );
        }
        Some(Opened::Ready(NamedReader {
            name,
            reader: Box::new(Cursor::new(lines.into_bytes())),
        }))
    }
}

/// The AWS configuration a backtest's calls use: its Region is `--region`, else the policy's
/// `stack.region`, else the AWS configuration's (as for every command that talks to AWS). The
/// policy is read only when `--region` is not given; an invalid one is reported as such.
pub fn load_aws(
    args: &HistoryArgs,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<crate::aws::Aws> {
    let policy_region = match &args.aws.region {
        Some(_) => None,
        None => xtask::paths::load_policy(&args.aws.policy)?.stack.region,
    };
    runtime.block_on(crate::aws::Aws::load(&args.aws, policy_region.as_deref()))
}

/// Where a backtest's history is read from: files and folders, S3 prefixes, `LookupEvents`.
pub fn sources(args: &HistoryArgs) -> anyhow::Result<Box<dyn HistorySource>> {
    let mut sources: Vec<Box<dyn HistorySource>> = Vec::new();
    if let Some(local) = args.local_source()? {
        sources.push(Box::new(local));
    }
    if !args.reads_aws() {
        return Ok(Box::new(Sources(sources)));
    }
    let runtime = Arc::new(crate::aws::tokio_runtime()?);
    let aws = load_aws(args, &runtime)?;
    for trail in args.s3_trails() {
        let uri = trail.display().to_string();
        let Some((bucket, prefix)) = parse_s3_uri(&uri) else {
            bail!("--trail {uri}: an S3 trail is s3://BUCKET/PREFIX");
        };
        sources.push(Box::new(S3Trail {
            uri,
            bucket,
            prefix,
            client: aws.s3(),
            runtime: runtime.clone(),
            since: args.since,
        }));
    }
    if args.lookup_events {
        sources.push(Box::new(LookupEventsHistory {
            days: args.lookup_days(),
            client: aws.cloudtrail(),
            runtime,
            per_second: LOOKUP_EVENTS_PER_SECOND,
        }));
    }
    Ok(Box::new(Sources(sources)))
}

/// The definitions of jobs a backtest's history does not define, from Glue's `GetJob` (tags not
/// read: a run judged over one lists `required_tags` as unchecked).
pub struct GlueJobs {
    client: aws_sdk_glue::Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl GlueJobs {
    /// For the account and Region of `args`.
    pub fn new(args: &HistoryArgs) -> anyhow::Result<GlueJobs> {
        let runtime = Arc::new(crate::aws::tokio_runtime()?);
        let aws = load_aws(args, &runtime)?;
        Ok(GlueJobs {
            client: aws.glue(),
            runtime,
        })
    }
}

impl xtask::history::JobLookup for GlueJobs {
    fn definitions(
        &self,
        names: &[String],
    ) -> anyhow::Result<std::collections::BTreeMap<String, policy::JobFacts>> {
        self.runtime.block_on(async {
            let mut found = std::collections::BTreeMap::new();
            for name in names {
                let job = glue_session_guard_lambda::job::get_job(&self.client, name)
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?;
                let facts = job.as_ref().and_then(|job| {
                    policy::facts_from_glue_job(&glue_session_guard_lambda::job::job_json(job)).ok()
                });
                if let Some(facts) = facts {
                    found.insert(name.clone(), facts);
                }
            }
            Ok(found)
        })
    }
}

/// Several sources read as one.
pub struct Sources(pub Vec<Box<dyn HistorySource>>);

impl HistorySource for Sources {
    fn describe(&self) -> Described {
        Described::joined(self.0.iter().map(|source| source.describe()), ", ")
    }

    fn units(self: Box<Self>) -> anyhow::Result<Box<dyn Iterator<Item = Opened> + Send>> {
        let mut all: Box<dyn Iterator<Item = Opened> + Send> = Box::new(std::iter::empty());
        for source in self.0 {
            all = Box::new(all.chain(source.units()?));
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use xtask::history::{Inputs, Judges};

    use super::*;

    const TRAIL: &str =
        include_str!("../../policy/tests/fixtures/realworld/24-cloudtrail-log-file.json");

    fn policy() -> policy::Policy {
        xtask::paths::load_policy(&xtask::paths::policies_dir().join("default.yaml")).unwrap()
    }

    /// `--help` says `--region` defaults to the policy's `stack.region`: so it does for a
    /// backtest (its S3 trail, `LookupEvents`, Athena and `GetJob` calls), and `--region` wins.
    #[test]
    fn a_backtest_calls_aws_in_the_policys_region_unless_told_another() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: HistoryArgs,
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(
            &file,
            "version: 1\nstack: {name: guard, region: eu-north-1}\nboundaries: {max_workers: 10}\n",
        )
        .unwrap();
        let policy = file.to_str().unwrap();
        let region = |extra: &[&str]| {
            let mut all = vec!["backtest", "--lookup-events", "--policy", policy];
            all.extend_from_slice(extra);
            let args = Cli::parse_from(all).args;
            let runtime = crate::aws::tokio_runtime().unwrap();
            load_aws(&args, &runtime).unwrap().region
        };
        assert_eq!(region(&[]), "eu-north-1");
        assert_eq!(region(&["--region", "ap-south-2"]), "ap-south-2");
        // An invalid policy is said to be one, not mistaken for a missing Region.
        std::fs::write(
            &file,
            "version: 1\nstack: {name: guard}\nboundaries: {max_wrkers: 1}\n",
        )
        .unwrap();
        let args = Cli::parse_from(["backtest", "--lookup-events", "--policy", policy]).args;
        let error = load_aws(&args, &crate::aws::tokio_runtime().unwrap()).unwrap_err();
        assert!(
            error
                .chain()
                .any(|cause| cause.is::<policy::PolicyErrors>()),
            "{error:#}"
        );
    }

    fn inputs(history: String) -> Inputs {
        Inputs {
            policy: "policies/default.yaml".into(),
            action: policy::Action::Stop,
            history: history.into(),
            baseline: None,
            price_per_dpu_hour: 0.44,
            jobs: Default::default(),
            athena: None,
        }
    }

    /// One `LookupEvents` page holding `records` (each as its `CloudTrailEvent` string).
    fn page(
        records: &[serde_json::Value],
        next: Option<&str>,
    ) -> aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput {
        let events = records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                aws_sdk_cloudtrail::types::Event::builder()
                    .event_id(format!("e-{i}"))
                    .cloud_trail_event(record.to_string())
                    .build()
            })
            .collect();
        aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput::builder()
            .set_events(Some(events))
            .set_next_token(next.map(str::to_string))
            .build()
    }

    /// moto has no `LookupEvents`: the paging, the throttling and the filter are checked with
    /// aws-smithy-mocks. Two pages (the first answered only after a throttled attempt, which the
    /// SDK retries) give the same verdicts as the trail file they come from.
    #[test]
    fn lookup_events_pages_are_all_read_through_throttling() {
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let records: Vec<serde_json::Value> = serde_json::from_str::<serde_json::Value>(TRAIL)
            .unwrap()["Records"]
            .as_array()
            .unwrap()
            .clone();
        let (first, second) = (records[..2].to_vec(), records[2..].to_vec());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(move |input| {
                record.lock().unwrap().push((
                    input.next_token().map(str::to_string),
                    input
                        .lookup_attributes()
                        .first()
                        .map(|a| a.attribute_value().to_string()),
                ));
                true
            })
            .sequence()
            .http_status(
                400,
                Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string()),
            )
            .output(move || page(&first, Some("page-2")))
            .output(move || page(&second, None))
            .build();
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::Sequential, [&rule], |c| c
            .retry_config(
                aws_sdk_cloudtrail::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
            ));
        let source = LookupEventsHistory {
            days: 7,
            client,
            runtime: Arc::new(crate::aws::tokio_runtime().unwrap()),
            per_second: 1000,
        };
        let policy = policy();
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: xtask::history::Window::ALL,
        };
        let report =
            xtask::history::backtest(Box::new(source), judges, &inputs("lookup".into())).unwrap();
        assert_eq!(
            (report.records, report.sessions, report.violations),
            (3, 2, 1)
        );
        assert_eq!(
            rule.num_calls(),
            3,
            "a throttled attempt (retried), then two pages"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "two calls: {seen:?}");
        assert_eq!(
            seen[1].0.as_deref(),
            Some("page-2"),
            "the second page by its token"
        );
        assert!(
            seen.iter()
                .all(|(_, source)| source.as_deref() == Some("glue.amazonaws.com"))
        );
    }

    #[test]
    fn more_than_ninety_days_is_refused() {
        use aws_smithy_mocks::{RuleMode, mock_client};
        let source = LookupEventsHistory {
            days: 91,
            client: mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[]),
            runtime: Arc::new(crate::aws::tokio_runtime().unwrap()),
            per_second: 2,
        };
        let error = Box::new(source).units().err().unwrap().to_string();
        assert_eq!(error, "--days 91: LookupEvents reaches 1 to 90 days back");
    }

    /// A trail's bucket in moto: the same files, read straight from S3, give the verdicts the
    /// files give on disk (gzipped and plain; digests and other objects left out).
    #[test]
    fn an_s3_trail_reads_like_the_files() {
        use std::io::Write as _;
        // SAFETY: any credentials do for the emulator; every test that sets them sets the same.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        }
        let moto = xtask::tools::Moto::start().unwrap();
        let runtime = Arc::new(crate::aws::tokio_runtime().unwrap());
        let args = crate::aws::AwsArgs {
            policy: xtask::paths::policies_dir().join("default.yaml"),
            region: Some("eu-west-1".into()),
            aws_profile: None,
            endpoint_url: Some(moto.endpoint.clone()),
        };
        let aws = runtime
            .block_on(crate::aws::Aws::load(&args, None))
            .unwrap();
        let s3 = aws.s3();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(TRAIL.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        runtime.block_on(async {
            s3.create_bucket()
                .bucket("trail")
                .create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let day = "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/29";
            for (key, body) in [
                (format!("{day}/a.json.gz"), gz.clone()),
                (format!("{day}/b.json"), TRAIL.as_bytes().to_vec()),
                (
                    format!("{day}/123456789012_CloudTrail_eu-west-1_20261129T0005Z_x.json.gz"),
                    gz.clone(),
                ),
                (
                    "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2026/11/29/d.json.gz"
                        .to_string(),
                    b"{}".to_vec(),
                ),
                ("AWSLogs/readme.txt".to_string(), b"hello".to_vec()),
            ] {
                s3.put_object()
                    .bucket("trail")
                    .key(key)
                    .body(body.into())
                    .send()
                    .await
                    .unwrap();
            }
        });
        let source = |since: Option<&str>| S3Trail {
            uri: "s3://trail/AWSLogs/".into(),
            bucket: "trail".into(),
            prefix: "AWSLogs/".into(),
            client: s3.clone(),
            runtime: runtime.clone(),
            since: since.map(|text| policy::time::parse_rfc3339(text).unwrap()),
        };
        let policy = policy();
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: xtask::history::Window::ALL,
        };
        let report =
            xtask::history::backtest(Box::new(source(None)), judges, &inputs("s3".into())).unwrap();
        assert_eq!(
            report.files, 3,
            "the three log files, not the digest or the text"
        );
        assert_eq!(report.records, 9);
        assert!(report.damaged.is_empty(), "{:?}", report.damaged.len());
        // The file CloudTrail delivered at 00:05 holds nothing from 00:06 on (00:11 with the
        // clocks' slack): not downloaded.
        let since = Some("2026-11-29T00:11:00Z");
        let report =
            xtask::history::backtest(Box::new(source(since)), judges, &inputs("s3".into()))
                .unwrap();
        assert_eq!(
            (report.files, report.records, report.files_left_out),
            (2, 6, 1)
        );
        // Named itself (the URI is the object's), it is read whatever its name says.
        let key = "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/29/\
                   123456789012_CloudTrail_eu-west-1_20261129T0005Z_x.json.gz";
        let one = S3Trail {
            uri: format!("s3://trail/{key}"),
            prefix: key.into(),
            ..source(since)
        };
        let report = xtask::history::backtest(Box::new(one), judges, &inputs("s3".into())).unwrap();
        assert_eq!(
            (report.files, report.records, report.files_left_out),
            (1, 3, 0)
        );
    }

    #[test]
    fn s3_uris_and_log_keys() {
        assert_eq!(
            parse_s3_uri("s3://trail-bucket/AWSLogs/123/"),
            Some(("trail-bucket".into(), "AWSLogs/123/".into()))
        );
        assert_eq!(parse_s3_uri("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parse_s3_uri("s3:///x"), None);
        assert_eq!(parse_s3_uri("/tmp/x"), None);
        assert!(is_log_key(
            "AWSLogs/1/CloudTrail/eu-west-1/2026/11/29/f.json.gz"
        ));
        assert!(!is_log_key(
            "AWSLogs/1/CloudTrail-Digest/eu-west-1/2026/11/29/f.json.gz"
        ));
        assert!(!is_log_key("AWSLogs/1/CloudTrail/eu-west-1/notes.txt"));
    }

    #[test]
    fn calls_are_paced_to_the_limit() {
        let start = Instant::now();
        assert_eq!(pace(None, start, 2), Duration::ZERO);
        assert_eq!(pace(Some(start), start, 2), Duration::from_millis(500));
        assert_eq!(
            pace(Some(start), start + Duration::from_millis(200), 2),
            Duration::from_millis(300)
        );
        assert_eq!(
            pace(Some(start), start + Duration::from_secs(1), 2),
            Duration::ZERO
        );
    }
}
