//! `backtest --athena`, the AWS half: the CloudTrail table's shape from the Glue Data Catalog
//! (`GetTable`), the workgroup's per-query data limit (`GetWorkGroup`) checked against
//! `--max-scan-gb` before anything runs, the query (`StartQueryExecution`, polled with
//! `GetQueryExecution`), and its result file read from S3 as a stream (`GetObject`), handed to
//! `xtask::history`'s engine as [`ResultRows`]. The query itself, the rows and the report are
//! `xtask::history::athena`'s.
//!
//! IAM a backtest role needs (docs/backtest-and-scan.md): `athena:GetWorkGroup`,
//! `athena:StartQueryExecution`, `athena:GetQueryExecution` on the workgroup; `glue:GetDatabase`,
//! `glue:GetTable` (and `glue:GetPartitions` for a table without projection) on the catalog,
//! database and table; `s3:GetBucketLocation`, `s3:ListBucket`, `s3:GetObject` on the trail;
//! `s3:GetBucketLocation`, `s3:ListBucket`, `s3:PutObject`, `s3:GetObject` on the result
//! location (and `kms:Decrypt` / `kms:GenerateDataKey` where those are encrypted with a key);
//! `organizations:ListAccounts` for a table that injects its accounts when none are named.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};

use xtask::history::athena::{self, AthenaRun, Query, Scope, TableShape};
use xtask::history::source::{Described, ResultRows};
use xtask::history::{AthenaSettings, HistoryArgs};

/// A workgroup, as far as the backtest needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Workgroup {
    pub name: String,
    /// `Configuration.BytesScannedCutoffPerQuery`: Athena cancels a query past it.
    pub cutoff_bytes: Option<i64>,
    /// `Configuration.ResultConfiguration.OutputLocation`.
    pub output_location: Option<String>,
    /// `Configuration.EnforceWorkGroupConfiguration`: the workgroup's settings override the
    /// query's (its result location wins).
    pub enforced: bool,
    /// `Configuration.ManagedQueryResultsConfiguration.Enabled`: results kept by Athena, not in
    /// an S3 bucket of the account.
    pub managed_results: bool,
    /// `State`: `ENABLED` or `DISABLED`.
    pub state: String,
}

/// GB as `--max-scan-gb` counts them (10^9 bytes).
const GB: f64 = 1e9;

/// Whether a query may run in `workgroup` under `--max-scan-gb max_scan_gb`: only when the
/// workgroup's per-query data limit guarantees the scan stays at or under it (Athena cancels a
/// query past the limit: "Set up per-query and per-workgroup data usage controls",
/// <https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html>).
/// The `Ok` says what bounds the scan; the error says what to change.
///
/// `price_per_tb` (USD per TB scanned) prices the most a query can cost in the `Ok`.
pub fn guard(workgroup: &Workgroup, max_scan_gb: f64, price_per_tb: f64) -> anyhow::Result<String> {
    if !workgroup.state.eq_ignore_ascii_case("ENABLED") {
        bail!(
            "the Athena workgroup `{}` is {}: a query cannot run in it",
            workgroup.name,
            workgroup.state
        );
    }
    let max_bytes = (max_scan_gb * GB) as i64;
    let fix = format!(
        "set a per-query data limit at or under {max_scan_gb} GB on the workgroup (aws athena \
         update-work-group --work-group {} --configuration-updates \
         BytesScannedCutoffPerQuery={max_bytes}), or name a workgroup that has one (--workgroup)",
        workgroup.name
    );
    match workgroup.cutoff_bytes {
        None => bail!(
            "refusing to query: the Athena workgroup `{}` sets no per-query data limit, so the \
             query could scan the whole trail, more than max_scan_gb {max_scan_gb} GB; {fix}",
            workgroup.name
        ),
        Some(cutoff) if cutoff > max_bytes => bail!(
            "refusing to query: the Athena workgroup `{}` lets a query scan up to {:.1} GB, more \
             than max_scan_gb {max_scan_gb} GB; pass --max-scan-gb {} (or set history.athena.max_scan_gb) to accept \
             that, or {fix}",
            workgroup.name,
            cutoff as f64 / GB,
            (cutoff as f64 / GB).ceil()
        ),
        Some(cutoff) => Ok(format!(
            "the workgroup `{}` cancels a query past {:.1} GB (at most {:.2} USD at {} USD per TB), \
             within max_scan_gb {max_scan_gb}",
            workgroup.name,
            cutoff as f64 / GB,
            athena::query_cost_usd(cutoff.max(0) as u64, price_per_tb),
            price_per_tb
        )),
    }
}

/// Where the result goes: the workgroup's location when it enforces its settings or when
/// `--output-location` is not given; else `--output-location`. Errors when there is none, or
/// when the workgroup keeps results itself (managed query results: not a file of the account).
pub fn result_location(
    workgroup: &Workgroup,
    output_location: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if workgroup.managed_results {
        bail!(
            "the Athena workgroup `{}` keeps query results itself (managed query results): the \
             backtest reads the result file from S3; name a workgroup with an S3 result location",
            workgroup.name
        );
    }
    if let Some(given) = output_location
        && !given.starts_with("s3://")
    {
        bail!("--output-location {given:?}: an S3 location, s3://bucket/prefix/");
    }
    match (
        workgroup.enforced,
        &workgroup.output_location,
        output_location,
    ) {
        (true, Some(_), _) | (_, Some(_), None) => Ok(None),
        (_, _, Some(given)) => Ok(Some(given.to_string())),
        (_, None, None) => bail!(
            "the Athena workgroup `{}` sets no result location: give --output-location \
             s3://bucket/prefix/ (the backtest reads the result file from there)",
            workgroup.name
        ),
    }
}

/// The clients a backtest on Athena uses, on one runtime.
pub struct AthenaBacktest {
    pub athena: aws_sdk_athena::Client,
    pub glue: aws_sdk_glue::Client,
    pub s3: aws_sdk_s3::Client,
    /// Lists the organization's accounts for a table that injects them, when none are named.
    pub organizations: aws_sdk_organizations::Client,
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// Between two `GetQueryExecution` calls.
    pub poll: Duration,
    pub endpoint_url: Option<String>,
}

/// A query ready to run: checked, with where its result goes.
pub struct Prepared {
    pub query: Query,
    pub workgroup: Workgroup,
    /// Why the scan is bounded ([`guard`]).
    pub bounded_by: String,
    /// `--output-location` when it is the one used; `None`: the workgroup's.
    pub output_location: Option<String>,
    pub table: String,
}

impl AthenaBacktest {
    /// For the account and Region of `args`.
    pub fn new(args: &HistoryArgs) -> anyhow::Result<AthenaBacktest> {
        let runtime = Arc::new(crate::aws::tokio_runtime()?);
        let aws = crate::history::load_aws(args, &runtime)?;
        Ok(AthenaBacktest {
            athena: aws.athena(),
            glue: aws.glue(),
            s3: aws.s3(),
            organizations: aws.organizations(),
            runtime,
            poll: aws.poll_interval(),
            endpoint_url: aws.endpoint_url.clone(),
        })
    }

    fn failure(&self, operation: &str, error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
        crate::aws::failure(operation, error, self.endpoint_url.as_deref())
    }

    /// `GetWorkGroup`.
    pub fn workgroup(&self, name: &str) -> anyhow::Result<Workgroup> {
        let answer = self
            .runtime
            .block_on(self.athena.get_work_group().work_group(name).send())
            .map_err(|error| self.failure(&format!("GetWorkGroup {name}"), &error))?;
        let group = answer
            .work_group()
            .with_context(|| format!("GetWorkGroup {name} answered without the workgroup"))?;
        let configuration = group.configuration();
        Ok(Workgroup {
            name: group.name().to_string(),
            cutoff_bytes: configuration.and_then(|c| c.bytes_scanned_cutoff_per_query()),
            output_location: configuration
                .and_then(|c| c.result_configuration())
                .and_then(|r| r.output_location())
                .map(str::to_string),
            enforced: configuration
                .and_then(|c| c.enforce_work_group_configuration())
                .unwrap_or(false),
            managed_results: configuration
                .and_then(|c| c.managed_query_results_configuration())
                .is_some_and(|m| m.enabled()),
            state: group
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "ENABLED".to_string()),
        })
    }

    /// Glue `GetTable`: the partition keys, the parameters (projection), the type of
    /// `useridentity`.
    pub fn table(&self, database: &str, table: &str) -> anyhow::Result<TableShape> {
        let answer = self
            .runtime
            .block_on(
                self.glue
                    .get_table()
                    .database_name(database)
                    .name(table)
                    .send(),
            )
            .map_err(|error| {
                let failure = self.failure(&format!("Glue GetTable {database}.{table}"), &error);
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_entity_not_found_exception())
                {
                    let region = self
                        .glue
                        .config()
                        .region()
                        .map_or_else(|| "this Region".to_string(), |r| r.to_string());
                    failure.context(format!(
                        "the CloudTrail table {database}.{table} is not in {region}'s Glue Data \
                         Catalog: create it with the statement `cargo xtask render \
                         --athena-table --trail-bucket s3://…` prints, or give --database and \
                         --table (or --region)"
                    ))
                } else {
                    failure
                }
            })?;
        let found = answer
            .table()
            .with_context(|| format!("GetTable {database}.{table} answered without the table"))?;
        Ok(TableShape {
            database: database.to_string(),
            table: table.to_string(),
            partition_keys: found
                .partition_keys()
                .iter()
                .map(|key| key.name().to_string())
                .collect(),
            parameters: found
                .parameters()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            user_identity_type: found
                .storage_descriptor()
                .map(|s| s.columns())
                .unwrap_or_default()
                .iter()
                .find(|column| column.name().eq_ignore_ascii_case("useridentity"))
                .and_then(|column| column.r#type())
                .map(str::to_string),
        })
    }

    /// Everything checked before a query runs: the table, the query, the workgroup's limit, the
    /// result location.
    ///
    /// A table whose account partition key is `injected` (as `render --athena-table` makes it
    /// without `--accounts`) is read only for the accounts a query names: when `scope` names
    /// none, the query names every account of the organization (Organizations `ListAccounts`,
    /// which answers in the management account or a delegated administrator's), said in a note.
    pub fn prepare(&self, settings: &AthenaSettings, scope: &Scope) -> anyhow::Result<Prepared> {
        let shape = self.table(&settings.database, &settings.table)?;
        let mut scope = scope.clone();
        let mut listed = None;
        if scope.accounts.is_empty()
            && let Some((key, true)) = shape.partitions().account
        {
            scope.accounts = self.organization_accounts().map_err(|error| {
                error.context(format!(
                    "{}.{}'s account partition key `{key}` is injected (partition projection): \
                     Athena reads it only for the accounts a query names, and none were given; \
                     give --accounts (or history.athena.accounts), or run where Organizations \
                     ListAccounts answers (the management account or a delegated administrator)",
                    settings.database, settings.table
                ))
            })?;
            listed = Some(key);
        }
        let mut query = athena::query(&shape, &scope)?;
        if let Some(key) = listed {
            query.notes.insert(
                0,
                format!(
                    "{}.{}'s account partition key `{key}` is injected and no accounts were \
                     given: the query names the organization's {} accounts (Organizations \
                     ListAccounts)",
                    settings.database,
                    settings.table,
                    scope.accounts.len()
                ),
            );
        }
        let workgroup = self.workgroup(&settings.workgroup)?;
        let bounded_by = guard(&workgroup, settings.max_scan_gb, settings.price_per_tb_usd)?;
        let output_location = result_location(&workgroup, settings.output_location.as_deref())?;
        Ok(Prepared {
            query,
            workgroup,
            bounded_by,
            output_location,
            table: format!("{}.{}", settings.database, settings.table),
        })
    }

    /// Every account of the organization (Organizations `ListAccounts`, all pages; closed
    /// accounts too, whose history the trail still holds; not those that left it), sorted.
    pub fn organization_accounts(&self) -> anyhow::Result<Vec<String>> {
        let mut accounts = self
            .runtime
            .block_on(
                self.organizations
                    .list_accounts()
                    .into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>(),
            )
            .map_err(|error| self.failure("Organizations ListAccounts", &error))?
            .into_iter()
            .flat_map(|page| page.accounts.unwrap_or_default())
            .filter_map(|account| account.id)
            .collect::<Vec<_>>();
        accounts.sort();
        accounts.dedup();
        if accounts.is_empty() {
            bail!("Organizations ListAccounts answered no account");
        }
        Ok(accounts)
    }

    /// Runs the query and waits for it (progress on stderr): its id, the result file and the
    /// bytes scanned. A query that fails or is cancelled is an error with Athena's reason.
    pub fn run(
        &self,
        prepared: &Prepared,
        database: &str,
    ) -> anyhow::Result<(String, String, u64)> {
        let mut start = self
            .athena
            .start_query_execution()
            .query_string(&prepared.query.sql)
            .work_group(&prepared.workgroup.name)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .catalog("AwsDataCatalog")
                    .database(database)
                    .build(),
            );
        if let Some(location) = &prepared.output_location {
            start = start.result_configuration(
                ResultConfiguration::builder()
                    .output_location(location)
                    .build(),
            );
        }
        let id = self
            .runtime
            .block_on(start.send())
            .map_err(|error| self.failure("Athena StartQueryExecution", &error))?
            .query_execution_id()
            .context("StartQueryExecution answered without a query execution id")?
            .to_string();
        eprintln!(
            "Athena query {id} started in workgroup {} ({})",
            prepared.workgroup.name, prepared.bounded_by
        );
        let started = Instant::now();
        let mut last_said = Instant::now();
        loop {
            let answer = self
                .runtime
                .block_on(
                    self.athena
                        .get_query_execution()
                        .query_execution_id(&id)
                        .send(),
                )
                .map_err(|error| self.failure(&format!("GetQueryExecution {id}"), &error))?;
            let execution = answer
                .query_execution()
                .context("GetQueryExecution answered without the execution")?;
            let status = execution.status();
            let scanned = execution
                .statistics()
                .and_then(|s| s.data_scanned_in_bytes())
                .unwrap_or(0)
                .max(0) as u64;
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    let location = execution
                        .result_configuration()
                        .and_then(|r| r.output_location())
                        .with_context(|| {
                            format!(
                                "Athena query {id} succeeded without saying where its result is"
                            )
                        })?
                        .to_string();
                    eprintln!(
                        "Athena query {id} succeeded in {:.0} s, {:.3} GB scanned",
                        started.elapsed().as_secs_f64(),
                        scanned as f64 / GB
                    );
                    return Ok((id, location, scanned));
                }
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    let reason = status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given");
                    bail!(
                        "Athena query {id} {}: {reason} ({:.3} GB scanned; the workgroup `{}` \
                         cancels a query past {})",
                        state.as_str().to_ascii_lowercase(),
                        scanned as f64 / GB,
                        prepared.workgroup.name,
                        prepared
                            .workgroup
                            .cutoff_bytes
                            .map(|c| format!("{:.1} GB", c as f64 / GB))
                            .unwrap_or_else(|| "no limit".to_string())
                    );
                }
                _ => {}
            }
            if last_said.elapsed() >= Duration::from_secs(30) {
                eprintln!(
                    "Athena query {id}: {} after {:.0} s, {:.3} GB scanned so far",
                    status
                        .and_then(|s| s.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    started.elapsed().as_secs_f64(),
                    scanned as f64 / GB
                );
                last_said = Instant::now();
            }
            let poll = self.poll;
            self.runtime
                .block_on(async move { tokio::time::sleep(poll).await });
        }
    }

    /// The result file, as a stream: chunks are fetched while earlier ones are judged, at most
    /// a few megabytes held at once.
    pub fn result(&self, location: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        let (bucket, key) = crate::history::parse_s3_uri(location)
            .filter(|(_, key)| !key.is_empty())
            .with_context(|| format!("the result location {location:?} is not s3://bucket/key"))?;
        let object = self
            .runtime
            .block_on(self.s3.get_object().bucket(&bucket).key(&key).send())
            .map_err(|error| self.failure(&format!("S3 GetObject {location}"), &error))?;
        let (sender, receiver) = tokio::sync::mpsc::channel(8);
        let mut body = object.body;
        self.runtime.spawn(async move {
            loop {
                let next = body.next().await;
                let done = !matches!(next, Some(Ok(_)));
                let item = next.map(|chunk| chunk.map_err(|error| error.to_string()));
                if let Some(item) = item
                    && sender.send(item).await.is_err()
                {
                    return;
                }
                if done {
                    return;
                }
            }
        });
        Ok(Box::new(ChannelReader {
            receiver,
            current: bytes::Bytes::new(),
        }))
    }
}

/// A [`Read`] over chunks sent from the runtime (an S3 body).
struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, String>>,
    current: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(error)) => return Err(std::io::Error::other(error)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// `backtest --athena`: checks, then prints the query (`--dry-run`) or runs it and judges its
/// rows. The settings come from the flags, the policy's `history.athena` and the defaults.
pub fn backtest(args: &HistoryArgs) -> anyhow::Result<xtask::Exit> {
    let settings = args.athena_settings()?;
    let scope = args.athena_scope(&settings)?;
    // A dry run that cannot reach AWS for want of credentials can still print the query.
    let offline_hint = |error: anyhow::Error| {
        let said = format!("{error:#}");
        if args.athena.dry_run && said.contains("credentials") {
            anyhow::anyhow!(
                "{said}\nhint: --dry-run --offline, with the accounts to read (--accounts), prints \
                 the query without reading AWS (for the table `render --athena-table` makes)"
            )
        } else {
            error
        }
    };
    let clients = AthenaBacktest::new(args).map_err(offline_hint)?;
    let prepared = clients.prepare(&settings, &scope).map_err(offline_hint)?;
    if args.athena.dry_run {
        return xtask::history::DryRun {
            offline: false,
            table: prepared.table.clone(),
            workgroup: prepared.workgroup.name.clone(),
            max_scan_gb: settings.max_scan_gb,
            checked: Some(prepared.bounded_by.clone()),
            output_location: prepared
                .output_location
                .clone()
                .or_else(|| prepared.workgroup.output_location.clone()),
            notes: prepared.query.notes.clone(),
            query: prepared.query.sql.clone(),
        }
        .emit(args.format);
    }
    for note in &prepared.query.notes {
        eprintln!("note: {note}");
    }
    let (id, location, scanned) = clients.run(&prepared, &settings.database)?;
    let reader = clients.result(&location)?;
    let run = AthenaRun {
        query_execution_id: id.clone(),
        workgroup: prepared.workgroup.name.clone(),
        table: prepared.table.clone(),
        result: location.clone(),
        bytes_scanned: scanned,
        cost_usd: athena::query_cost_usd(scanned, settings.price_per_tb_usd),
        price_per_tb_usd: settings.price_per_tb_usd,
    };
    let source = ResultRows {
        describe: Described::words("Athena query ")
            .and_name(id.clone())
            .and_words(" on ")
            .and_name(prepared.table.clone()),
        name: location,
        reader,
    };
    let jobs = crate::history::GlueJobs::new(args)?;
    // The report's window is the query's, `history.athena.days` included.
    let mut args = args.clone();
    args.since = Some(scope.since);
    args.until = Some(scope.until);
    args.run_with(
        Box::new(source),
        Some(&jobs as &dyn xtask::history::JobLookup),
        Some(run),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workgroup(cutoff: Option<i64>) -> Workgroup {
        Workgroup {
            name: "backtest".into(),
            cutoff_bytes: cutoff,
            output_location: Some("s3://results/".into()),
            enforced: false,
            managed_results: false,
            state: "ENABLED".into(),
        }
    }

    #[test]
    fn a_query_runs_only_where_the_workgroup_bounds_its_scan() {
        let error = guard(&workgroup(None), 100.0, athena::PRICE_PER_TB_USD)
            .unwrap_err()
            .to_string();
        assert!(error.contains("sets no per-query data limit"), "{error}");
        assert!(
            error.contains("BytesScannedCutoffPerQuery=100000000000"),
            "{error}"
        );
        let error = guard(
            &workgroup(Some(200_000_000_000)),
            100.0,
            athena::PRICE_PER_TB_USD,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("up to 200.0 GB"), "{error}");
        assert!(error.contains("--max-scan-gb 200"), "{error}");
        let fine = guard(
            &workgroup(Some(50_000_000_000)),
            100.0,
            athena::PRICE_PER_TB_USD,
        )
        .unwrap();
        assert!(fine.contains("past 50.0 GB"), "{fine}");
        assert!(fine.contains("at most 0.25 USD at 5 USD per TB"), "{fine}");
        // --athena-price-per-tb prices the most a query can cost.
        let priced = guard(&workgroup(Some(50_000_000_000)), 100.0, 6.25).unwrap();
        assert!(
            priced.contains("at most 0.31 USD at 6.25 USD per TB"),
            "{priced}"
        );
        let mut disabled = workgroup(Some(1));
        disabled.state = "DISABLED".into();
        assert!(
            guard(&disabled, 100.0, athena::PRICE_PER_TB_USD)
                .unwrap_err()
                .to_string()
                .contains("DISABLED")
        );
    }

    #[test]
    fn the_result_goes_where_the_workgroup_says_unless_it_lets_the_query_say() {
        let mut group = workgroup(Some(1));
        assert_eq!(result_location(&group, None).unwrap(), None);
        assert_eq!(
            result_location(&group, Some("s3://mine/")).unwrap(),
            Some("s3://mine/".to_string())
        );
        group.enforced = true;
        assert_eq!(result_location(&group, Some("s3://mine/")).unwrap(), None);
        group.output_location = None;
        group.enforced = false;
        let error = result_location(&group, None).unwrap_err().to_string();
        assert!(error.contains("--output-location"), "{error}");
        assert!(result_location(&group, Some("mine")).is_err());
        group.managed_results = true;
        let error = result_location(&group, Some("s3://mine/"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("managed query results"), "{error}");
    }

    /// `backtest --athena --until 2026-12-01` and `extra`, as the command line gives them.
    fn args(extra: &[&str]) -> HistoryArgs {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: HistoryArgs,
        }
        let mut all = vec!["backtest", "--athena", "--until", "2026-12-01"];
        all.extend_from_slice(extra);
        Cli::parse_from(all).args
    }

    /// The window: `--since` wins; without it, `history.athena.days` before `--until`; without
    /// either, an error naming both.
    #[test]
    fn the_window_reaches_back_the_policys_days_when_no_since_is_given() {
        let mut settings = args(&[]).athena.settings(None);
        let error = args(&[]).athena_scope(&settings).unwrap_err().to_string();
        assert!(error.contains("history.athena.days"), "{error}");
        settings.days = Some(30);
        let until = 1_796_083_200; // 2026-12-01T00:00:00Z
        let window = args(&[]).athena_scope(&settings).unwrap();
        assert_eq!((window.since, window.until), (until - 30 * 86_400, until));
        let window = args(&["--since", "2026-11-30"])
            .athena_scope(&settings)
            .unwrap();
        assert_eq!(window.since, until - 86_400);
    }

    /// An empty window, a Region this build does not know and an account that is not one are
    /// refused by `scope`, before any client is built or AWS asked (a flag as the policy's
    /// `history.athena` would be).
    #[test]
    fn the_window_and_the_places_are_checked_before_aws() {
        let refused = |extra: &[&str]| {
            let args = args(extra);
            let settings = args.athena.settings(None);
            args.athena_scope(&settings).unwrap_err().to_string()
        };
        let error = refused(&["--since", "2026-12-02"]);
        assert!(error.contains("is not after --since"), "{error}");
        let error = refused(&["--since", "2026-11-01", "--regions", "eu-west-9"]);
        assert!(
            error.starts_with("--regions \"eu-west-9\"") && error.contains("eu-west-1"),
            "{error}"
        );
        let error = refused(&["--since", "2026-11-01", "--accounts", "1111"]);
        assert!(error.contains("12 digits"), "{error}");
        let known = args(&["--since", "2026-11-01", "--regions", "eu-west-1"]);
        let window = known.athena_scope(&known.athena.settings(None)).unwrap();
        assert_eq!(window.regions, ["eu-west-1"]);
    }

    /// moto finishes a query at once, scans nothing and never fails or cancels one: the
    /// polling, the bytes scanned, Athena's reason for a cancelled query and the request that
    /// leaves the result location to the workgroup are checked with aws-smithy-mocks.
    mod mocked {
        use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
        use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
        use aws_sdk_athena::types::{
            QueryExecution, QueryExecutionStatistics, QueryExecutionStatus,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        use super::*;

        fn execution(
            state: QueryExecutionState,
            scanned: i64,
            reason: Option<&str>,
        ) -> GetQueryExecutionOutput {
            GetQueryExecutionOutput::builder()
                .query_execution(
                    QueryExecution::builder()
                        .query_execution_id("q-1")
                        .status(
                            QueryExecutionStatus::builder()
                                .state(state)
                                .set_state_change_reason(reason.map(str::to_string))
                                .build(),
                        )
                        .statistics(
                            QueryExecutionStatistics::builder()
                                .data_scanned_in_bytes(scanned)
                                .build(),
                        )
                        .result_configuration(
                            ResultConfiguration::builder()
                                .output_location("s3://wg-results/q-1.csv")
                                .build(),
                        )
                        .build(),
                )
                .build()
        }

        fn clients(athena: aws_sdk_athena::Client) -> AthenaBacktest {
            AthenaBacktest {
                athena,
                glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, &[]),
                s3: aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::Config::builder()
                        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
                        .build(),
                ),
                organizations: aws_sdk_organizations::Client::from_conf(
                    aws_sdk_organizations::Config::builder()
                        .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
                        .region(aws_sdk_organizations::config::Region::new("us-east-1"))
                        .build(),
                ),
                runtime: Arc::new(crate::aws::tokio_runtime().unwrap()),
                poll: Duration::from_millis(1),
                endpoint_url: None,
            }
        }

        fn prepared() -> Prepared {
            Prepared {
                query: Query {
                    sql: "SELECT 1".into(),
                    notes: vec![],
                },
                workgroup: workgroup(Some(10_000_000_000)),
                bounded_by: "bounded".into(),
                output_location: None,
                table: "security.org_trail".into(),
            }
        }

        #[test]
        fn a_query_is_polled_until_it_succeeds_and_its_scan_is_read() {
            let start = mock!(aws_sdk_athena::Client::start_query_execution)
                .match_requests(|input| {
                    input.work_group() == Some("backtest")
                        && input.result_configuration().is_none()
                        && input.query_execution_context().and_then(|c| c.database())
                            == Some("security")
                })
                .then_output(|| {
                    StartQueryExecutionOutput::builder()
                        .query_execution_id("q-1")
                        .build()
                });
            let poll = mock!(aws_sdk_athena::Client::get_query_execution)
                .sequence()
                .output(|| execution(QueryExecutionState::Queued, 0, None))
                .output(|| execution(QueryExecutionState::Running, 2_000_000_000, None))
                .output(|| execution(QueryExecutionState::Succeeded, 4_500_000_000, None))
                .build();
            let athena = mock_client!(aws_sdk_athena, RuleMode::MatchAny, [&start, &poll]);
            let (id, location, scanned) = clients(athena).run(&prepared(), "security").unwrap();
            assert_eq!(
                (id.as_str(), location.as_str(), scanned),
                ("q-1", "s3://wg-results/q-1.csv", 4_500_000_000)
            );
            assert_eq!(
                start.num_calls(),
                1,
                "the workgroup's own result location: none sent"
            );
            assert_eq!(poll.num_calls(), 3);
            // 4.5 GB at 5 USD per TB.
            assert!((athena::query_cost_usd(scanned, 5.0) - 0.0225).abs() < 1e-12);
        }

        #[test]
        fn a_query_cancelled_at_the_workgroups_limit_is_an_error_with_athenas_reason() {
            let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(|| {
                StartQueryExecutionOutput::builder()
                    .query_execution_id("q-1")
                    .build()
            });
            let poll = mock!(aws_sdk_athena::Client::get_query_execution).then_output(|| {
                execution(
                    QueryExecutionState::Cancelled,
                    10_000_000_000,
                    Some("Query cancelled: the bytes scanned limit was exceeded."),
                )
            });
            let athena = mock_client!(aws_sdk_athena, RuleMode::MatchAny, [&start, &poll]);
            let error = clients(athena)
                .run(&prepared(), "security")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("q-1 cancelled: Query cancelled: the bytes scanned limit"),
                "{error}"
            );
            assert!(error.contains("cancels a query past 10.0 GB"), "{error}");
        }
    }
}
