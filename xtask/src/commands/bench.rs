//! `cargo xtask bench`: the performance figures of the current build, each next to its target
//! where one is set, printed as one table and written as JSON (`bench/latest.json`).
//!
//! Where each figure comes from: the Lambda package's size; start-up, peak memory and time per
//! event from `lambda/e2e/bench.py` (the release `bootstrap` under a stand-in Runtime API,
//! against moto); the function's own work per event and `policy::evaluate` from their criterion
//! benches; `render_stack` timed here, in process.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

mod cold;

use crate::package::{self, Architecture};
use crate::tools::{self, Moto};
use crate::{Exit, forward, paths, template};

#[derive(clap::Args)]
pub struct BenchCommand {
    /// Measure this Lambda package (bootstrap.zip) instead of building one; the release build
    /// takes about 10 minutes the first time.
    #[arg(long, value_name = "FILE")]
    zip: Option<PathBuf>,
    /// A fast check that everything runs (5 starts, 200 events, criterion's --quick, 50
    /// renders): not figures to quote.
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON [default: bench/latest.json at the repository root].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Instead: what a new user waits for, on a clone of HEAD with empty target directories
    /// (the first `validate`, the demo cold and warm); JSON in bench/cold.json
    /// (bench/cold-fresh.json with --fresh) [default].
    /// About 15 minutes on 2 cores.
    #[arg(long, conflicts_with_all = ["zip", "quick"])]
    cold: bool,
    /// With --cold: `.ci/run` cold and warm too (about 30 minutes more).
    #[arg(long, requires = "cold")]
    ci: bool,
    /// With --cold: as on a fresh machine, each figure with an empty cargo registry of its own
    /// (`CARGO_HOME`) and no `.venv` (the demo installs the Python tools from PyPI).
    #[arg(long, requires = "cold")]
    fresh: bool,
}

/// How much to measure.
#[derive(Debug, Clone, Copy, Serialize)]
struct Sizes {
    starts: u32,
    events: u32,
    renders: usize,
    criterion_quick: bool,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        starts: 20,
        events: 1000,
        renders: 200,
        criterion_quick: false,
    };
    const QUICK: Sizes = Sizes {
        starts: 5,
        events: 200,
        renders: 50,
        criterion_quick: true,
    };
}

/// Overrides added to the default policy for the second render figure.
const GENERATED_OVERRIDES: usize = 50;

impl BenchCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        if self.cold {
            let out = self.out.clone().unwrap_or_else(|| {
                paths::root().join(if self.fresh {
                    "bench/cold-fresh.json"
                } else {
                    "bench/cold.json"
                })
            });
            return cold::run(self.ci, self.fresh, &out);
        }
        let sizes = if self.quick {
            Sizes::QUICK
        } else {
            Sizes::FULL
        };
        let zip = match &self.zip {
            Some(zip) => {
                anyhow::ensure!(zip.is_file(), "{} is not a file", zip.display());
                zip.clone()
            }
            None => package::build_lambda(Architecture::host()?)?,
        };
        let zip_bytes = std::fs::metadata(&zip)?.len();

        eprintln!("start-up, memory and time per event: lambda/e2e/bench.py against moto");
        let harness = run_harness(&zip, sizes)?;
        let criterion_home = paths::target_dir().join("criterion");
        let since = SystemTime::now();
        eprintln!("own work per event: cargo bench --bench handler (a release LTO build)");
        run_criterion("glue-session-guard-lambda", "handler", None, sizes)?;
        eprintln!("policy::evaluate: cargo bench -p policy --bench evaluate");
        run_criterion("policy", "evaluate", Some("evaluate_event"), sizes)?;
        let estimates = read_criterion(&criterion_home, since)?;
        eprintln!("render_stack: {} renders of each policy", sizes.renders);
        let renders = time_renders(sizes.renders)?;
        eprintln!("READY to StopSession: cargo bench --bench ready_to_stop (Glue mocked)");
        let ready = ready_to_stop()?;
        let records = if self.quick { 100_000 } else { 1_000_000 };
        eprintln!("backtest: {records} generated trail records, a release build of xtask");
        let backtest = backtest_figures(records, Build::Release)?;
        eprintln!("backtest: the same records, the dev build `cargo xtask backtest` runs");
        let backtest_dev = backtest_figures(records, Build::Dev)?;
        let accounts = if self.quick { 5 } else { ORG_SCALE_ACCOUNTS };
        eprintln!("organization: cargo xtask demo --org --accounts {accounts} (moto)");
        let org = org_scale(accounts)?;

        let report = Report::new(
            &self,
            sizes,
            Package {
                path: paths::shown(&zip),
                bytes: zip_bytes,
            },
            harness,
            &estimates,
            renders,
            Timed {
                ready,
                backtest,
                backtest_dev,
                org,
            },
        )?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| paths::root().join("bench/latest.json"));
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
        print!("{report}");
        println!("written to {}", paths::shown(&out));
        let missed = report.missed();
        if missed.is_empty() {
            Ok(Exit::Success)
        } else {
            eprintln!("missed their target: {}", missed.join(", "));
            Ok(Exit::Failed)
        }
    }
}

/// What `lambda/e2e/bench.py --json` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Harness {
    binary_bytes: u64,
    starts: u32,
    startup_ms: Spread,
    events: u32,
    out_of_bounds_events: u32,
    peak_rss_kib: u64,
    cpu_ms_per_event: f64,
    wall_ms_per_event: f64,
    e2e_ms_median: EndToEnd,
    failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
    samples: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EndToEnd {
    compliant: f64,
    out_of_bounds: f64,
    /// A StartJobRun event out of bounds, notified in audit mode (moto has no BatchStopJobRun).
    job_run_notified: f64,
    /// A compliant CreateSession of a team budget's member, 20 of the budget's sessions running.
    compliant_in_budget: f64,
}

fn run_harness(zip: &Path, sizes: Sizes) -> anyhow::Result<Harness> {
    tools::ensure_venv()?;
    let moto = Moto::start()?;
    let output = Command::new(tools::venv_bin("python"))
        .current_dir(paths::root())
        .arg("lambda/e2e/bench.py")
        .arg(zip)
        .arg(sizes.events.to_string())
        .args(["--starts", &sizes.starts.to_string(), "--json"])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stderr(Stdio::inherit())
        .output()
        .context("starting lambda/e2e/bench.py")?;
    drop(moto);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "lambda/e2e/bench.py failed ({}): {}",
            output.status,
            stdout.trim()
        );
    }
    serde_json::from_str(stdout.trim())
        .with_context(|| format!("reading bench.py's JSON: {}", stdout.trim()))
}

/// The figures measured by running something whole: the stop after READY, the backtest, the
/// organization scale run.
struct Timed {
    ready: ReadyToStop,
    backtest: BacktestRun,
    /// The same, in the dev build `cargo xtask backtest` runs.
    backtest_dev: BacktestRun,
    org: OrgScale,
}

/// Member accounts of the organization scale run (in 3 Regions).
const ORG_SCALE_ACCOUNTS: usize = 50;

/// What `cargo xtask demo --org --timings FILE` writes.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct OrgScale {
    accounts: usize,
    regions: usize,
    instances: usize,
    deploy_seconds: f64,
    status_seconds: f64,
    clean_up_seconds: f64,
}

/// The organization scale run: `cargo xtask demo --org --accounts N` (moto: an organization,
/// a stack set deployed to N accounts x 3 Regions, status --org, clean-up --org), timed.
fn org_scale(accounts: usize) -> anyhow::Result<OrgScale> {
    let out = paths::target_dir().join("bench-org-scale.json");
    let _ = std::fs::remove_file(&out);
    let status = forward::xtask_aws()
        .args(["demo", "--org", "--accounts"])
        .arg(accounts.to_string())
        .arg("--timings")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .context("running cargo xtask demo --org")?;
    anyhow::ensure!(status.success(), "cargo xtask demo --org failed ({status})");
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", paths::shown(&out)))?;
    serde_json::from_str(&text).with_context(|| format!("reading the timings: {text}"))
}

/// What `cargo xtask backtest --bench --format json` prints (the fields the bench reads).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct BacktestRun {
    records: u64,
    records_per_second: f64,
    peak_memory_mb: Option<f64>,
    athena: AthenaRowsRun,
}

/// The Athena path's figures in the backtest bench: judging a query's result rows.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct AthenaRowsRun {
    rows: u64,
    rows_per_second: f64,
    as_files_records_per_second: f64,
    peak_memory_mb: Option<f64>,
    quarter_rows: u64,
    quarter_peak_memory_mb: Option<f64>,
}

/// The build of xtask a backtest bench runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    /// `cargo run --release`: the optimized build the bench's targets are for.
    Release,
    /// The dev profile `cargo xtask` builds: what a user's `cargo xtask backtest` runs.
    Dev,
}

/// Runs the backtest bench in `build` of xtask and reads its JSON.
fn backtest_figures(records: u64, build: Build) -> anyhow::Result<BacktestRun> {
    let output = crate::tools::cargo()
        .current_dir(paths::root())
        .args(["run", "--quiet"])
        .args((build == Build::Release).then_some("--release"))
        .args([
            "--package",
            "xtask",
            "--bin",
            "xtask",
            "--",
            "backtest",
            "--format",
            "json",
            "--bench",
        ])
        .arg(records.to_string())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running cargo xtask backtest --bench in the {build:?} build"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).with_context(|| {
        format!(
            "cargo xtask backtest --bench printed no figures ({}): {text}",
            output.status
        )
    })
}

/// What `lambda/benches/ready_to_stop.rs` prints: how soon after READY the stop comes.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct ReadyToStop {
    sessions: usize,
    median_ms: f64,
    worst_ms: f64,
    get_session_per_second: f64,
}

/// Runs the READY-to-StopSession bench and reads its JSON line (the function's EMF lines are
/// printed too; they have no `median_ms`).
fn ready_to_stop() -> anyhow::Result<ReadyToStop> {
    let output = crate::tools::cargo()
        .current_dir(paths::root())
        .args([
            "bench",
            "--package",
            "glue-session-guard-lambda",
            "--bench",
            "ready_to_stop",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo bench --bench ready_to_stop")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo bench --bench ready_to_stop failed ({})",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .filter(|line| line.contains("\"median_ms\""))
        .find_map(|line| serde_json::from_str(line).ok())
        .context("cargo bench --bench ready_to_stop printed no result line")
}

/// `cargo bench -p PACKAGE --bench BENCH [-- FILTER]`; its results land in criterion's home.
fn run_criterion(
    package: &str,
    bench: &str,
    filter: Option<&str>,
    sizes: Sizes,
) -> anyhow::Result<()> {
    let mut command = crate::tools::cargo();
    command
        .current_dir(paths::root())
        .env("CRITERION_HOME", paths::target_dir().join("criterion"))
        .args(["bench", "--package", package, "--bench", bench, "--"])
        .args(filter)
        .arg("--noplot");
    if sizes.criterion_quick {
        command.arg("--quick");
    }
    // The bench's stdout is criterion's report (and the function's metric lines): the figures
    // are read from criterion's files instead.
    command.stdout(Stdio::null());
    tools::run_checked(&mut command)
}

/// One criterion result: `<group>/<function>` and its estimate.
#[derive(Debug, Clone)]
struct Estimate {
    group: String,
    function: String,
    /// Criterion's estimate of the time per iteration (the slope, else the mean), nanoseconds.
    nanoseconds: f64,
    /// Elements one iteration handles, when the bench says.
    elements: Option<u64>,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct EstimatesJson {
    mean: PointJson,
    slope: Option<PointJson>,
}

#[derive(Deserialize)]
struct PointJson {
    point_estimate: f64,
}

/// Every `<home>/<group>/<function>/new/` written since `since`.
fn read_criterion(home: &Path, since: SystemTime) -> anyhow::Result<Vec<Estimate>> {
    let mut found = Vec::new();
    let groups = std::fs::read_dir(home).with_context(|| format!("reading {}", home.display()))?;
    for group in groups {
        let group = group?.path();
        if !group.is_dir() {
            continue;
        }
        for function in std::fs::read_dir(&group)? {
            let new = function?.path().join("new");
            let (benchmark, estimates) = (new.join("benchmark.json"), new.join("estimates.json"));
            let fresh = std::fs::metadata(&estimates)
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified >= since);
            if !fresh || !benchmark.is_file() {
                continue;
            }
            let id: BenchmarkJson = serde_json::from_slice(&std::fs::read(&benchmark)?)
                .with_context(|| format!("reading {}", benchmark.display()))?;
            let values: EstimatesJson = serde_json::from_slice(&std::fs::read(&estimates)?)
                .with_context(|| format!("reading {}", estimates.display()))?;
            found.push(Estimate {
                group: id.group_id,
                function: id.function_id.unwrap_or_default(),
                nanoseconds: values.slope.unwrap_or(values.mean).point_estimate,
                elements: id
                    .throughput
                    .as_ref()
                    .and_then(|t| t.get("Elements"))
                    .and_then(serde_json::Value::as_u64),
            });
        }
    }
    Ok(found)
}

fn estimate<'a>(
    estimates: &'a [Estimate],
    group: &str,
    function: impl Fn(&str) -> bool,
) -> anyhow::Result<&'a Estimate> {
    estimates
        .iter()
        .find(|e| e.group == group && function(&e.function))
        .with_context(|| {
            format!("criterion wrote no fresh result for `{group}`: did the bench run?")
        })
}

/// Median time of one `render_stack`, for the default policy and for it with 50 overrides.
#[derive(Debug, Clone, Copy)]
struct Renders {
    default_ms: f64,
    overrides_ms: f64,
    /// The 50-override policy's runtime JSON, bytes.
    overrides_json_bytes: usize,
    /// The whole environment as Lambda measures it, with the policy compressed, bytes;
    /// Lambda allows `policy::limits::LAMBDA_ENVIRONMENT_BYTES`.
    overrides_env_bytes: usize,
}

fn time_renders(count: usize) -> anyhow::Result<Renders> {
    let default = paths::load_policy(&paths::policies_dir().join("default.yaml"))?;
    let crowded = validated(&with_generated_overrides(&default, GENERATED_OVERRIDES))?;
    Ok(Renders {
        default_ms: median_render_ms(&default, count)?,
        overrides_ms: median_render_ms(&crowded, count)?,
        overrides_json_bytes: policy::runtime_policy_json(&crowded).len(),
        overrides_env_bytes: policy::runtime::environment_bytes(
            &crowded,
            &policy::runtime_policy_env(&crowded),
        ),
    })
}

/// `policy` written out as a policy file and loaded back: validated like any other.
fn validated(policy: &policy::Policy) -> anyhow::Result<policy::Policy> {
    let text = serde_yaml::to_string(policy)?;
    policy::load_policy("generated.yaml", text.as_bytes())
        .map_err(|errors| anyhow::anyhow!("the generated policy does not validate:\n{errors}"))
}

/// `policy` plus `count` overrides, one per team role.
fn with_generated_overrides(policy: &policy::Policy, count: usize) -> policy::Policy {
    let mut crowded = policy.clone();
    for team in 0..count {
        crowded.overrides.push(policy::Override {
            name: format!("team-{team:02}"),
            principals: vec![format!("arn:aws:iam::123456789012:role/Team{team:02}*")],
            session_ids: Vec::new(),
            boundaries: policy::Boundaries {
                max_workers: Some(20 + team as u32),
                max_dpu: Some(40.0 + 2.0 * team as f64),
                ..policy::Boundaries::default()
            },
            expires: None,
            reason: None,
            ticket: None,
        });
    }
    crowded
}

fn median_render_ms(policy: &policy::Policy, count: usize) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let started = Instant::now();
        let template = template::render_stack(policy)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(template);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
struct Machine {
    nproc: usize,
    cpu_model: String,
    memory_total: String,
    kernel: String,
    rustc: String,
}

impl Machine {
    fn this() -> Machine {
        let proc_line = |file: &str, key: &str| {
            std::fs::read_to_string(file)
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find(|line| line.starts_with(key))
                        .and_then(|line| line.split_once(':'))
                        .map(|(_, value)| value.trim().to_string())
                })
                .unwrap_or_else(|| "unknown".to_string())
        };
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: proc_line("/proc/cpuinfo", "model name"),
            memory_total: proc_line("/proc/meminfo", "MemTotal"),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_string(), |k| k.trim().to_string()),
            rustc: command_line(Command::new(rustc).arg("--version")),
        }
    }
}

/// Seconds since the Unix epoch, now.
fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The short hash of this checkout's `HEAD`.
fn git_commit() -> String {
    command_line(Command::new("git").current_dir(paths::root()).args([
        "rev-parse",
        "--short",
        "HEAD",
    ]))
}

/// The first line a command prints, or "unknown".
fn command_line(command: &mut Command) -> String {
    command
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// A figure's target: the figure must be at most, or below, the limit.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "rule", content = "limit", rename_all = "snake_case")]
enum Target {
    AtMost(f64),
    Below(f64),
    AtLeast(f64),
}

impl Target {
    fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtMost(limit) => value <= limit,
            Target::Below(limit) => value < limit,
            Target::AtLeast(floor) => value >= floor,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
struct Figure {
    key: &'static str,
    name: &'static str,
    value: f64,
    unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meets_target: Option<bool>,
    how: String,
}

impl Figure {
    fn new(key: &'static str, name: &'static str, value: f64, unit: &'static str) -> Figure {
        Figure {
            key,
            name,
            value,
            unit,
            target: None,
            meets_target: None,
            how: String::new(),
        }
    }

    fn target(mut self, target: Target) -> Figure {
        self.meets_target = Some(target.met_by(self.value));
        self.target = Some(target);
        self
    }

    fn how(mut self, how: impl Into<String>) -> Figure {
        self.how = how.into();
        self
    }
}

#[derive(Debug, Clone, Serialize)]
struct Package {
    path: String,
    bytes: u64,
}

/// The result: a table for people (`Display`), JSON for machines (`Serialize`).
#[derive(Debug, Clone, Serialize)]
struct Report {
    command: String,
    quick: bool,
    sizes: Sizes,
    unix_time: u64,
    commit: String,
    machine: Machine,
    package: Package,
    figures: Vec<Figure>,
    notes: Vec<String>,
    harness: Harness,
}

const MB: f64 = 1_000_000.0;

impl Report {
    fn new(
        bench: &BenchCommand,
        sizes: Sizes,
        package: Package,
        harness: Harness,
        estimates: &[Estimate],
        renders: Renders,
        timed: Timed,
    ) -> anyhow::Result<Report> {
        let Timed {
            ready,
            backtest,
            backtest_dev,
            org,
        } = timed;
        let own = |function: &str| -> anyhow::Result<f64> {
            Ok(estimate(estimates, "handle", |f| f == function)?.nanoseconds / 1e6)
        };
        let evaluate = estimate(estimates, "evaluate_event", |f| f.starts_with("all "))?;
        let per_evaluation_ns = evaluate.nanoseconds / evaluate.elements.unwrap_or(1) as f64;
        let criterion = if sizes.criterion_quick {
            "criterion --quick"
        } else {
            "criterion"
        };
        let figures = vec![
            Figure::new(
                "zip_size",
                "Lambda package (bootstrap.zip)",
                package.bytes as f64 / MB,
                "MB",
            )
            .target(Target::AtMost(4.0))
            .how(format!(
                "release, LTO, stripped; binary {:.2} MB",
                harness.binary_bytes as f64 / MB
            )),
            Figure::new(
                "startup",
                "Start-up to ready for the first event",
                harness.startup_ms.median,
                "ms",
            )
            .target(Target::Below(50.0))
            .how(format!(
                "exec to first /invocation/next, median of {} (min {:.1}, max {:.1})",
                harness.starts, harness.startup_ms.min, harness.startup_ms.max
            )),
            Figure::new(
                "peak_memory",
                "Peak memory (VmHWM)",
                harness.peak_rss_kib as f64 * 1024.0 / MB,
                "MB",
            )
            .target(Target::Below(30.0))
            .how(format!(
                "after {} events, {} out of bounds",
                harness.events, harness.out_of_bounds_events
            )),
            Figure::new(
                "own_work_compliant",
                "Own work per event: compliant",
                own("compliant")?,
                "ms",
            )
            .target(Target::Below(1.0))
            .how(format!("handler::handle, AWS answers mocked ({criterion})")),
            Figure::new(
                "own_work_out_of_bounds",
                "Own work per event: stopped + notified",
                own("out_of_bounds_stopped_notified")?,
                "ms",
            )
            .target(Target::Below(1.0))
            .how(format!("handler::handle, AWS answers mocked ({criterion})")),
            Figure::new(
                "own_work_in_budget",
                "Own work per event: compliant, in a team budget, 50 sessions running",
                own("compliant_in_budget_50_running")?,
                "ms",
            )
            .how(format!(
                "handler::handle, AWS answers mocked; + UpdateItem, 1 ListSessions page, 1 \
                 BatchGetItem, 50 sessions judged ({criterion})"
            )),
            Figure::new(
                "cpu_per_event",
                "CPU per event, SDK calls to moto included",
                harness.cpu_ms_per_event,
                "ms",
            )
            .how("bootstrap's user+system time / events (10 ms tick)"),
            Figure::new(
                "e2e_compliant",
                "End to end per event vs moto: compliant",
                harness.e2e_ms_median.compliant,
                "ms",
            )
            .how("event handed out to response posted, median; moto's time included"),
            Figure::new(
                "e2e_out_of_bounds",
                "End to end per event vs moto: stopped + notified",
                harness.e2e_ms_median.out_of_bounds,
                "ms",
            )
            .how("event handed out to response posted, median; moto's time included"),
            Figure::new(
                "e2e_job_run",
                "End to end per event vs moto: job run notified (audit)",
                harness.e2e_ms_median.job_run_notified,
                "ms",
            )
            .how(
                "StartJobRun out of bounds: GetJob, GetTags, GetJobRun, ledger, Publish; audit \
                 mode, moto has no BatchStopJobRun",
            ),
            Figure::new(
                "e2e_in_budget",
                "End to end per event vs moto: compliant, in a team budget",
                harness.e2e_ms_median.compliant_in_budget,
                "ms",
            )
            .how(
                "a member's CreateSession, 20 of the budget's sessions running: GetSession, \
                 UpdateItem, ListSessions, BatchGetItem; moto's time included",
            ),
            Figure::new(
                "evaluate_throughput",
                "policy::evaluate_event throughput",
                1e9 / per_evaluation_ns,
                "events/s",
            )
            .how(format!(
                "{:.2} us per event over the {} sample events ({criterion})",
                per_evaluation_ns / 1e3,
                evaluate.elements.unwrap_or(1)
            )),
            Figure::new(
                "render_default",
                "render_stack: policies/default.yaml",
                renders.default_ms,
                "ms",
            )
            .how(format!("median of {} in-process renders", sizes.renders)),
            Figure::new(
                "render_50_overrides",
                "render_stack: default + 50 overrides",
                renders.overrides_ms,
                "ms",
            )
            .how(format!(
                "median of {} in-process renders; 50 generated overrides (see note)",
                sizes.renders
            )),
            Figure::new(
                "ready_to_stop_median",
                "READY to StopSession: median",
                ready.median_ms,
                "ms",
            )
            .target(Target::Below(1000.0))
            .how(format!(
                "{} sessions turning READY at random moments (Glue mocked, real time)",
                ready.sessions
            )),
            Figure::new(
                "ready_to_stop_worst",
                "READY to StopSession: worst",
                ready.worst_ms,
                "ms",
            )
            .target(Target::Below(1000.0))
            .how(format!(
                "{:.2} GetSession calls per second of provisioning, per session",
                ready.get_session_per_second
            )),
            Figure::new(
                "backtest_throughput",
                "backtest: records per second",
                backtest.records_per_second,
                "records/s",
            )
            .target(Target::AtLeast(250_000.0))
            .how(format!(
                "{} generated trail records (1% CreateSession, gzipped, AWSLogs layout), release build, in process",
                backtest.records
            )),
            Figure::new(
                "backtest_peak_memory",
                "backtest: peak memory",
                backtest.peak_memory_mb.unwrap_or(f64::NAN),
                "MB",
            )
            .target(Target::Below(100.0))
            .how("VmHWM of `cargo xtask backtest` as a child process over the same trail"),
            Figure::new(
                "backtest_athena_rows",
                "backtest --athena: result rows per second",
                backtest.athena.rows_per_second,
                "rows/s",
            )
            .target(Target::AtLeast(backtest.records_per_second.round()))
            .how(format!(
                "{} rows of a generated Athena result (CSV, 2 CreateSession per StopSession), judged as `--athena` judges them, in process; target: the file path's records/s",
                backtest.athena.rows
            )),
            Figure::new(
                "backtest_athena_rows_as_files",
                "backtest: the same records as trail files",
                backtest.athena.as_files_records_per_second,
                "records/s",
            )
            .how(format!(
                "the {} records of the Athena result written as gzipped trail files and read by the file path, in process: the two paths over one history (the same sessions and violations, checked)",
                backtest.athena.rows
            )),
            Figure::new(
                "backtest_dev_throughput",
                "backtest as `cargo xtask` runs it: records per second",
                backtest_dev.records_per_second,
                "records/s",
            )
            .how(format!(
                "the same {} trail records, the dev build `cargo xtask backtest` runs (its JSON, gzip and CSV libraries optimized, the workspace's crates not), in process",
                backtest_dev.records
            )),
            Figure::new(
                "backtest_dev_athena_rows",
                "backtest --athena as `cargo xtask` runs it: result rows per second",
                backtest_dev.athena.rows_per_second,
                "rows/s",
            )
            .how(format!(
                "the same {} rows of the Athena result, in the dev build `cargo xtask backtest --athena` runs, in process",
                backtest_dev.athena.rows
            )),
            Figure::new(
                "backtest_athena_peak_memory",
                "backtest --athena: peak memory",
                backtest.athena.peak_memory_mb.unwrap_or(f64::NAN),
                "MB",
            )
            .target(Target::Below(100.0))
            .how(format!(
                "VmHWM of `backtest --athena-result` over the {} rows ({:.1} MB over {} rows)",
                backtest.athena.rows,
                backtest.athena.quarter_peak_memory_mb.unwrap_or(f64::NAN),
                backtest.athena.quarter_rows
            )),
            Figure::new(
                "backtest_athena_memory_growth",
                "backtest --athena: peak memory, 4x the rows",
                match (
                    backtest.athena.peak_memory_mb,
                    backtest.athena.quarter_peak_memory_mb,
                ) {
                    (Some(peak), Some(quarter)) => peak / quarter,
                    _ => f64::NAN,
                },
                "times",
            )
            .target(Target::Below(
                crate::history::TARGET_ATHENA_GROWTH,
            ))
            .how(format!(
                "the peak over {} rows divided by the peak over {}: memory flat in the result's size",
                backtest.athena.rows, backtest.athena.quarter_rows
            )),
            Figure::new(
                "org_deploy",
                "deploy --org (moto)",
                org.deploy_seconds,
                "s",
            )
            .how(format!(
                "{} instances: {} accounts x {} Regions in 2 OUs, stack set created and deployed (`cargo xtask demo --org`)",
                org.instances, org.accounts, org.regions
            )),
            Figure::new(
                "org_status",
                "status --org (moto)",
                org.status_seconds,
                "s",
            )
            .how("every instance listed, the OUs' accounts read from Organizations"),
            Figure::new(
                "org_clean_up",
                "clean-up --org (moto)",
                org.clean_up_seconds,
                "s",
            )
            .how("instances, stack set and the 3 artifact buckets deleted"),
        ];
        let notes = vec![
            format!(
                "The 50-override policy is the default policy plus {GENERATED_OVERRIDES} \
                 generated overrides, validated like a policy file: its {} bytes of runtime JSON \
                 reach the Lambda compressed, and its whole environment takes {} of the {} bytes \
                 Lambda allows (measured as Lambda measures it, the topic's ARN at its longest).",
                renders.overrides_json_bytes,
                renders.overrides_env_bytes,
                policy::limits::LAMBDA_ENVIRONMENT_BYTES
            ),
            "Own work excludes the AWS calls: the SDK clients answer from aws-smithy-mocks, so \
             it covers parsing, evaluation, the notification's text, the SDK's request and \
             response handling, log and metric lines."
                .to_string(),
            "MB are 10^6 bytes. bench.py's events: every tenth out of bounds (its own session, \
             stopped and notified), the rest compliant."
                .to_string(),
        ];
        let mut command = "cargo xtask bench".to_string();
        if let Some(zip) = &bench.zip {
            command.push_str(&format!(" --zip {}", zip.display()));
        }
        if bench.quick {
            command.push_str(" --quick");
        }
        Ok(Report {
            command,
            quick: bench.quick,
            sizes,
            unix_time: unix_time(),
            commit: git_commit(),
            machine: Machine::this(),
            package,
            figures,
            notes,
            harness,
        })
    }

    /// The figures that miss their target.
    fn missed(&self) -> Vec<&'static str> {
        self.figures
            .iter()
            .filter(|f| f.meets_target == Some(false))
            .map(|f| f.key)
            .collect()
    }
}

fn shown_value(value: f64, unit: &str) -> String {
    let digits = match value.abs() {
        v if v >= 1000.0 => 0,
        v if v >= 10.0 => 1,
        v if v >= 0.1 => 2,
        _ => 4,
    };
    format!("{value:.digits$} {unit}")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 5]> = self
            .figures
            .iter()
            .map(|figure| {
                let (target, met) = match (figure.target, figure.meets_target) {
                    (Some(Target::AtMost(limit)), Some(met)) => {
                        (format!("<= {limit} {}", figure.unit), met)
                    }
                    (Some(Target::Below(limit)), Some(met)) => {
                        (format!("< {limit} {}", figure.unit), met)
                    }
                    (Some(Target::AtLeast(floor)), Some(met)) => {
                        (format!(">= {floor} {}", figure.unit), met)
                    }
                    _ => (String::new(), true),
                };
                let verdict = match (figure.target.is_some(), met) {
                    (false, _) => "",
                    (true, true) => "ok",
                    (true, false) => "MISSED",
                };
                [
                    figure.name.to_string(),
                    shown_value(figure.value, figure.unit),
                    target,
                    verdict.to_string(),
                    figure.how.clone(),
                ]
            })
            .collect();
        let header = ["figure", "measured", "target", "", "how"];
        let widths: Vec<usize> = (0..5)
            .map(|column| {
                rows.iter()
                    .map(|row| row[column].chars().count())
                    .chain([header[column].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| {
            writeln!(
                f,
                "| {:<w0$} | {:>w1$} | {:<w2$} | {:<w3$} | {:<w4$} |",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
                w4 = widths[4],
            )
        };
        line(f, header)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(f, [&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]])?;
        for row in &rows {
            line(f, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
        }
        writeln!(f)?;
        for note in &self.notes {
            writeln!(f, "Note: {note}")?;
        }
        let m = &self.machine;
        writeln!(
            f,
            "Machine: {} x {}, {} RAM, Linux {}, {}; commit {}{}",
            m.nproc,
            m.cpu_model,
            m.memory_total,
            m.kernel,
            m.rustc,
            self.commit,
            if self.quick {
                " (--quick: a check, not figures to quote)"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_as_the_issue_says() {
        assert!(Target::AtMost(4.0).met_by(4.0));
        assert!(!Target::Below(50.0).met_by(50.0));
        assert!(Target::Below(1.0).met_by(0.2));
        let figure = Figure::new("x", "x", 31.0, "MB").target(Target::Below(30.0));
        assert_eq!(figure.meets_target, Some(false));
    }

    #[test]
    fn fifty_generated_overrides_validate_and_travel_compressed() {
        let default = paths::load_policy(&paths::policies_dir().join("default.yaml")).unwrap();
        let crowded = validated(&with_generated_overrides(&default, GENERATED_OVERRIDES)).unwrap();
        assert_eq!(
            crowded.overrides.len(),
            default.overrides.len() + GENERATED_OVERRIDES
        );
        assert!(
            policy::runtime::environment_bytes(&crowded, &policy::runtime_policy_json(&crowded))
                > policy::limits::LAMBDA_ENVIRONMENT_BYTES
        );
        let env = policy::runtime_policy_env(&crowded);
        assert!(env.starts_with(policy::COMPRESSED_PREFIX));
        let received = policy::parse_runtime_policy(&env).unwrap();
        assert!(
            policy::runtime_policy_json(&received) == policy::runtime_policy_json(&crowded),
            "the Lambda reads back what was compressed"
        );
        let template = template::render_stack(&crowded).unwrap();
        assert!(
            template.contains(&format!("GSG_POLICY: \"{env}\"")),
            "the compressed policy reaches the template"
        );
    }

    #[test]
    fn criterion_results_are_read_from_their_files() {
        let home = std::env::temp_dir().join(format!("gsg-bench-test-{}", std::process::id()));
        let new = home.join("handle/compliant/new");
        std::fs::create_dir_all(&new).unwrap();
        let since = SystemTime::now() - std::time::Duration::from_secs(5);
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"handle","function_id":"compliant","value_str":null,
                "throughput":{"Elements":1},"full_id":"handle/compliant",
                "directory_name":"handle/compliant","title":"handle/compliant"}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":52000.0},"slope":{"point_estimate":50000.0}}"#,
        )
        .unwrap();
        let found = read_criterion(&home, since).unwrap();
        std::fs::remove_dir_all(&home).unwrap();
        let compliant = estimate(&found, "handle", |f| f == "compliant").unwrap();
        assert_eq!(compliant.nanoseconds, 50000.0);
        assert_eq!(compliant.elements, Some(1));
        let stale = estimate(&found, "handle", |f| f == "out_of_bounds_stopped_notified");
        assert!(stale.unwrap_err().to_string().contains("no fresh result"));
    }
}
