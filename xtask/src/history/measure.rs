//! The backtest's own figures: records per second and peak memory over a generated trail as a
//! busy organization's looks (1% of the records `CreateSession`, half of those sessions ended
//! by a `StopSession` some files later, the rest ~1 KB records of other services, some of them
//! naming Glue without being Glue's), gzipped in the AWSLogs layout a trail writes. The trail
//! is generated once and reused.

use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use super::observe::Judges;
use super::report::Inputs;
use super::source::TrailFolders;
use super::time::{format_rfc3339, parse_rfc3339};
use super::{Format, backtest};
use crate::{Exit, paths};

/// The targets (2-core machine).
const TARGET_RECORDS_PER_SECOND: f64 = 250_000.0;
const TARGET_PEAK_MB: f64 = 100.0;
/// Memory flat in the result's size: four times the rows take less than this many times the
/// peak memory of a quarter of them.
pub const TARGET_ATHENA_GROWTH: f64 = 1.25;

/// Records per generated log file (CloudTrail's are of 5,000 to 20,000 on a busy account).
const RECORDS_PER_FILE: u64 = 10_000;
/// One record in this many is a `CreateSession`.
const CREATE_EVERY: u64 = 100;
/// A `StopSession` names the session created this many records before it (three files).
const STOP_AFTER: u64 = 30_000;
/// The first record's time; each file covers `FILE_SECONDS`.
const START: i64 = 1_795_910_400; // 2026-11-29T00:00:00Z
const FILE_SECONDS: i64 = 300;
const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";

/// Whether to measure peak memory, and with which binary.
#[derive(Debug, Clone)]
pub enum PeakMemory {
    /// Run this binary's `backtest` as a child process and poll its `VmHWM`.
    ChildProcess(PathBuf),
    Skip,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub records: u64,
    pub policy: PathBuf,
    /// Where the trail is generated (and found next time).
    pub trail: PathBuf,
    pub peak_memory: PeakMemory,
}

impl BenchPlan {
    /// `records` records in the temporary folder, peak memory measured with this binary.
    pub fn new(records: u64, policy: PathBuf) -> BenchPlan {
        let trail = std::env::temp_dir().join(format!(
            "gsg-backtest-bench-v1-{records}-{RECORDS_PER_FILE}"
        ));
        let peak_memory = match std::env::current_exe() {
            Ok(exe) => PeakMemory::ChildProcess(exe),
            Err(_) => PeakMemory::Skip,
        };
        BenchPlan {
            records,
            policy,
            trail,
            peak_memory,
        }
    }
}

/// What was measured.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestFigures {
    pub trail: String,
    pub trail_reused: bool,
    pub records: u64,
    pub files: u64,
    pub gzipped_bytes: u64,
    pub sessions: u64,
    pub violations: u64,
    /// In this process.
    pub seconds: f64,
    pub records_per_second: f64,
    /// The child process, start to exit (start-up and JSON output included).
    pub child_seconds: Option<f64>,
    pub child_records_per_second: Option<f64>,
    /// The child's `VmHWM` (peak resident memory), in MB (10^6 bytes).
    pub peak_memory_mb: Option<f64>,
    pub cores: usize,
    /// The Athena path: judging a query's result rows.
    pub athena: AthenaFigures,
}

/// Judging the rows of an Athena result (`backtest --athena`, `--athena-result`): every row a
/// Glue record of the query's (two `CreateSession` for each `StopSession`), as Athena writes
/// them, read as a stream in chunks judged on every core.
#[derive(Debug, Clone, Serialize)]
pub struct AthenaFigures {
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// The same records written as gzipped trail files and read by the file path, in process:
    /// the two paths over one history.
    pub as_files_seconds: f64,
    pub as_files_records_per_second: f64,
    /// The child process's peak memory over the whole result, and over a quarter of it: flat
    /// when they are about the same.
    pub peak_memory_mb: Option<f64>,
    pub quarter_rows: u64,
    pub quarter_peak_memory_mb: Option<f64>,
}

impl AthenaFigures {
    /// The peak memory over the whole result divided by the peak over a quarter of it: 1 when
    /// memory is flat in the result's size, 4 when it is all in proportion to it.
    pub fn growth(&self) -> Option<f64> {
        Some(self.peak_memory_mb? / self.quarter_peak_memory_mb?)
    }
}

impl BacktestFigures {
    /// The figures that miss their target.
    pub fn missed(&self) -> Vec<&'static str> {
        let mut missed = Vec::new();
        if self.records_per_second < TARGET_RECORDS_PER_SECOND {
            missed.push("records_per_second");
        }
        if self.peak_memory_mb.is_some_and(|mb| mb >= TARGET_PEAK_MB) {
            missed.push("peak_memory_mb");
        }
        // The Athena path judges its rows at least as fast as the file path reads records.
        if self.athena.rows_per_second < self.records_per_second {
            missed.push("athena.rows_per_second");
        }
        if self
            .athena
            .peak_memory_mb
            .is_some_and(|mb| mb >= TARGET_PEAK_MB)
        {
            missed.push("athena.peak_memory_mb");
        }
        if self
            .athena
            .growth()
            .is_some_and(|growth| growth >= TARGET_ATHENA_GROWTH)
        {
            missed.push("athena.growth");
        }
        missed
    }
}

/// What a bench backtest of `history` runs with: the plan's policy alone, no window, no
/// baseline.
fn bench_judging<'p>(
    plan: &BenchPlan,
    policy: &'p policy::Policy,
    history: &Path,
) -> (Inputs, Judges<'p>) {
    let inputs = Inputs {
        policy: paths::shown(&plan.policy),
        action: policy::enforcement_action(policy, policy::Decision::Violation),
        history: paths::shown(history).into(),
        baseline: None,
        price_per_dpu_hour: 0.44,
        jobs: Default::default(),
        athena: None,
    };
    let judges = Judges {
        policy,
        baseline: None,
        window: crate::history::Window::ALL,
    };
    (inputs, judges)
}

/// Generates the trail (once), backtests it in process, then (as the plan says) in a child
/// process for its peak memory.
fn bench_backtest(plan: &BenchPlan) -> anyhow::Result<BacktestFigures> {
    let trail_reused = generate_trail(&plan.trail, plan.records, record)?;
    let gzipped_bytes = size_of_folder(&plan.trail)?;
    let policy = paths::load_policy(&plan.policy)?;
    let (inputs, judges) = bench_judging(plan, &policy, &plan.trail);
    let started = Instant::now();
    let report = backtest(
        Box::new(TrailFolders::new(vec![plan.trail.clone()])?),
        judges,
        &inputs,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if report.records != plan.records || !report.damaged.is_empty() {
        bail!(
            "the generated trail at {} read as {} records ({} damaged files), not {}: delete it \
             and run again",
            plan.trail.display(),
            report.records,
            report.damaged.len(),
            plan.records
        );
    }
    let athena = bench_athena_rows(plan, &policy)?;
    let child = match &plan.peak_memory {
        PeakMemory::ChildProcess(exe) => Some(run_child(
            exe,
            &plan.policy,
            ("--trail", &plan.trail),
            plan.records,
        )?),
        PeakMemory::Skip => None,
    };
    Ok(BacktestFigures {
        trail: plan.trail.display().to_string(),
        trail_reused,
        records: report.records,
        files: report.files,
        gzipped_bytes,
        sessions: report.sessions,
        violations: report.violations,
        seconds,
        records_per_second: report.records as f64 / seconds,
        child_seconds: child.as_ref().map(|c| c.seconds),
        child_records_per_second: child.as_ref().map(|c| report.records as f64 / c.seconds),
        peak_memory_mb: child.map(|c| c.peak_kib as f64 * 1024.0 / 1e6),
        cores: rayon::current_num_threads(),
        athena,
    })
}

/// Rows of the generated Athena result: a fifth as many as the trail's records (each a Glue
/// record the query returns, ~1 KB of CSV).
fn result_rows(records: u64) -> u64 {
    (records / 5).max(4)
}

/// Writes the result file (unless a complete one is there); true when it was reused.
fn generate_result(path: &Path, rows: u64) -> anyhow::Result<bool> {
    let marker = path.with_extension("complete");
    if std::fs::read_to_string(&marker).is_ok_and(|text| text.trim() == rows.to_string()) {
        return Ok(true);
    }
    eprintln!(
        "generating an Athena result of {rows} rows at {}",
        path.display()
    );
    let mut out = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?,
    );
    super::athena::write_result(
        &mut out,
        (0..rows).map(|index| super::athena::row_of(&result_record(index))),
    )?;
    out.flush()?;
    std::fs::write(&marker, rows.to_string())?;
    Ok(false)
}

/// Row `index` of the generated result: two sessions created, then the first of them stopped.
fn result_record(index: u64) -> Value {
    let seed = mix(index);
    let time = event_time(index * CREATE_EVERY / 2);
    if index % 3 == 2 {
        glue_call("StopSession", &format!("bench-{}", index - 2), seed, &time)
    } else {
        create_session(index, seed, &time)
    }
}

/// Judges the generated result in this process for rows per second, then (as the plan says)
/// in a child process over all of it and over a quarter of it, for peak memory.
fn bench_athena_rows(plan: &BenchPlan, policy: &policy::Policy) -> anyhow::Result<AthenaFigures> {
    let rows = result_rows(plan.records);
    let quarter_rows = rows / 4;
    let file = plan.trail.with_extension("athena.csv");
    let quarter = plan.trail.with_extension("athena-quarter.csv");
    generate_result(&file, rows)?;
    generate_result(&quarter, quarter_rows)?;
    let bytes = std::fs::metadata(&file)?.len();
    let (inputs, judges) = bench_judging(plan, policy, &file);
    let started = Instant::now();
    let report = backtest(
        Box::new(super::source::ResultRows {
            describe: paths::shown(&file).into(),
            name: paths::shown(&file),
            reader: Box::new(std::fs::File::open(&file)?),
        }),
        judges,
        &inputs,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if report.records != rows || !report.damaged.is_empty() || report.unreadable_records > 0 {
        bail!(
            "the generated result at {} read as {} rows ({} unreadable, {} damaged), not {rows}: \
             delete it and run again",
            file.display(),
            report.records,
            report.unreadable_records,
            report.damaged.len()
        );
    }
    // The same records as trail files, read by the file path: the two paths over one history
    // (the target compares with a trail of which 99% is skipped unparsed).
    let as_files = plan.trail.with_extension("athena-as-files");
    generate_trail(&as_files, rows, result_record)?;
    let (inputs, judges) = bench_judging(plan, policy, &as_files);
    let started = Instant::now();
    let from_files = backtest(
        Box::new(TrailFolders::new(vec![as_files.clone()])?),
        judges,
        &inputs,
    )?;
    let files_seconds = started.elapsed().as_secs_f64();
    if (
        from_files.records,
        from_files.sessions,
        from_files.violations,
    ) != (rows, report.sessions, report.violations)
    {
        bail!(
            "the result's records as trail files at {} read as {} records, {} sessions, {} \
             violations; the result as {rows} rows, {} sessions, {} violations: delete both \
             and run again",
            as_files.display(),
            from_files.records,
            from_files.sessions,
            from_files.violations,
            report.sessions,
            report.violations
        );
    }
    let (peak, quarter_peak) = match &plan.peak_memory {
        PeakMemory::ChildProcess(exe) => (
            Some(run_child(exe, &plan.policy, ("--athena-result", &file), rows)?.peak_kib),
            Some(
                run_child(
                    exe,
                    &plan.policy,
                    ("--athena-result", &quarter),
                    quarter_rows,
                )?
                .peak_kib,
            ),
        ),
        PeakMemory::Skip => (None, None),
    };
    let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
    Ok(AthenaFigures {
        rows,
        bytes,
        seconds,
        rows_per_second: rows as f64 / seconds,
        as_files_seconds: files_seconds,
        as_files_records_per_second: rows as f64 / files_seconds,
        peak_memory_mb: peak.map(mb),
        quarter_rows,
        quarter_peak_memory_mb: quarter_peak.map(mb),
    })
}

/// `--bench`: the figures, printed; exit 1 when one misses its target.
pub fn run(plan: &BenchPlan, format: Format) -> anyhow::Result<Exit> {
    eprintln!(
        "backtest bench: {} records at {}",
        plan.records,
        plan.trail.display()
    );
    let figures = bench_backtest(plan)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&figures)?),
        Format::Text | Format::Markdown => {
            let per_second = |value: f64| format!("{value:.0} records/s");
            println!(
                "trail: {} files, {} records, {:.1} MB gzipped{} ({})",
                figures.files,
                figures.records,
                figures.gzipped_bytes as f64 / 1e6,
                if figures.trail_reused { ", reused" } else { "" },
                figures.trail
            );
            println!(
                "in process: {:.2} s, {} (target >= {TARGET_RECORDS_PER_SECOND:.0}) on {} cores",
                figures.seconds,
                per_second(figures.records_per_second),
                figures.cores
            );
            if let (Some(seconds), Some(rate), Some(peak)) = (
                figures.child_seconds,
                figures.child_records_per_second,
                figures.peak_memory_mb,
            ) {
                println!(
                    "child process: {seconds:.2} s, {}, peak memory (VmHWM) {peak:.1} MB \
                     (target < {TARGET_PEAK_MB:.0} MB)",
                    per_second(rate)
                );
            }
            println!(
                "sessions: {} judged, {} would be stopped",
                figures.sessions, figures.violations
            );
            let athena = &figures.athena;
            println!(
                "athena result: {} rows, {:.1} MB of CSV, {:.2} s, {:.0} rows/s (target >= the \
                 file path's {:.0} records/s)",
                athena.rows,
                athena.bytes as f64 / 1e6,
                athena.seconds,
                athena.rows_per_second,
                figures.records_per_second
            );
            println!(
                "the same records as trail files, read by the file path: {:.2} s, {:.0} records/s",
                athena.as_files_seconds, athena.as_files_records_per_second
            );
            if let (Some(peak), Some(quarter)) =
                (athena.peak_memory_mb, athena.quarter_peak_memory_mb)
            {
                println!(
                    "athena result peak memory (VmHWM): {peak:.1} MB for {} rows (target < \
                     {TARGET_PEAK_MB:.0} MB), {quarter:.1} MB for {}: {:.2} times (flat in the \
                     result's size: target < {TARGET_ATHENA_GROWTH})",
                    athena.rows,
                    athena.quarter_rows,
                    peak / quarter
                );
            }
        }
    }
    let missed = figures.missed();
    if missed.is_empty() {
        Ok(Exit::Success)
    } else {
        // The targets are the release build's; a dev build (`cargo xtask`) is said to be one.
        let build = if cfg!(debug_assertions) {
            " (this is a dev build; the targets are for the release build: cargo run --release \
             -p xtask --bin xtask -- backtest --bench)"
        } else {
            ""
        };
        eprintln!("missed their target{build}: {}", missed.join(", "));
        Ok(Exit::Failed)
    }
}

struct Child {
    seconds: f64,
    peak_kib: u64,
}

/// Runs `exe backtest` over `source` (`--trail DIR`, `--athena-result FILE`), polling
/// `/proc/<pid>/status` for `VmHWM` until it exits; the report must count `records`.
fn run_child(
    exe: &Path,
    policy: &Path,
    source: (&str, &Path),
    records: u64,
) -> anyhow::Result<Child> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .current_dir(paths::root())
        .arg("backtest")
        .arg("--policy")
        .arg(policy)
        .arg(source.0)
        .arg(source.1)
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", exe.display()))?;
    // Each pipe read on a thread of its own: a child that fills one while we wait on the other
    // would block forever.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let err_reader = std::thread::spawn(move || {
        let mut err = Vec::new();
        let _ = stderr.read_to_end(&mut err);
        String::from_utf8_lossy(&err).into_owned()
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            peak_kib = peak_kib.max(vm_hwm_kib(&status).unwrap_or(0));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = started.elapsed().as_secs_f64();
    let out = out_reader.join().expect("the reader thread does not panic");
    let err = err_reader.join().expect("the reader thread does not panic");
    // 0: no session acted on; 1: some would be (the one exit rule). Anything else is a failure.
    if !matches!(status.code(), Some(0 | 1)) {
        bail!("{} backtest failed ({status}): {err}", exe.display());
    }
    let report: Value = serde_json::from_slice(&out).context("the child's JSON report")?;
    if report["records"] != json!(records) {
        bail!(
            "the child read {} records, not {records}",
            report["records"]
        );
    }
    if peak_kib == 0 {
        bail!("no VmHWM in {status_file}: peak memory needs Linux's /proc");
    }
    Ok(Child { seconds, peak_kib })
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn size_of_folder(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += size_of_folder(&entry.path())?;
        } else {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Marks a generated trail as complete (written last).
const COMPLETE: &str = "complete";

/// Writes the trail under `dir` (record `i` is `record_of(i)`) unless a complete one is there;
/// true when it was reused.
fn generate_trail(dir: &Path, records: u64, record_of: fn(u64) -> Value) -> anyhow::Result<bool> {
    let marker = dir.join(COMPLETE);
    if std::fs::read_to_string(&marker).is_ok_and(|text| text.trim() == records.to_string()) {
        return Ok(true);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let files = records.div_ceil(RECORDS_PER_FILE);
    eprintln!(
        "generating {records} records in {files} gzipped log files under {}",
        dir.display()
    );
    (0..files).into_par_iter().try_for_each(|file| {
        let first = file * RECORDS_PER_FILE;
        let last = (first + RECORDS_PER_FILE).min(records);
        write_log_file(dir, file, first..last, record_of)
    })?;
    std::fs::write(&marker, records.to_string())?;
    Ok(false)
}

/// One log file, as a trail names and writes it: compact JSON, gzipped, delivered (named and
/// placed in its day's folder) in the minute after its latest record, as CloudTrail would.
fn write_log_file(
    dir: &Path,
    file: u64,
    records: std::ops::Range<u64>,
    record_of: fn(u64) -> Value,
) -> anyhow::Result<()> {
    let records: Vec<Value> = records.map(record_of).collect();
    let latest = records
        .iter()
        .filter_map(|record| record["eventTime"].as_str().and_then(parse_rfc3339))
        .max()
        .unwrap_or(START);
    let delivered = (latest + 60).div_euclid(60) * 60;
    let stamp = format_rfc3339(delivered);
    let (date, time) = stamp.split_once('T').expect("RFC 3339");
    let folder = dir.join(format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{}",
        date.replace('-', "/")
    ));
    std::fs::create_dir_all(&folder)?;
    let name = format!(
        "{ACCOUNT}_CloudTrail_{REGION}_{}T{}Z_{:016x}.json.gz",
        date.replace('-', ""),
        &time[..5].replace(':', ""),
        mix(file)
    );
    let path = folder.join(name);
    let out =
        std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    let mut gzip = BufWriter::with_capacity(
        1 << 20,
        flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::fast()),
    );
    gzip.write_all(b"{\"Records\":[")?;
    for (n, record) in records.iter().enumerate() {
        if n > 0 {
            gzip.write_all(b",")?;
        }
        serde_json::to_writer(&mut gzip, record)?;
    }
    gzip.write_all(b"]}")?;
    gzip.into_inner()
        .map_err(|error| error.into_error())?
        .finish()?
        .flush()?;
    Ok(())
}

/// splitmix64: a deterministic stream of well-mixed numbers.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pick<'a>(options: &[&'a str], seed: u64) -> &'a str {
    options[(seed % options.len() as u64) as usize]
}

fn uuid(seed: u64) -> String {
    let (a, b) = (mix(seed), mix(seed ^ 0xfeed));
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn event_time(index: u64) -> String {
    let file = (index / RECORDS_PER_FILE) as i64;
    let within = (index % RECORDS_PER_FILE) as i64 * FILE_SECONDS / RECORDS_PER_FILE as i64;
    format_rfc3339(START + file * FILE_SECONDS + within)
}

/// The identity of an assumed role, as CloudTrail records it.
fn assumed_role(role: &str, person: &str, seed: u64) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{:016X}:{person}", mix(seed) >> 1),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{person}"),
        "accountId": ACCOUNT,
        "accessKeyId": format!("ASIA{:016X}", mix(seed ^ 1)),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": format!("AROA{:016X}", mix(seed) >> 1),
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "accountId": ACCOUNT,
                "userName": role
            },
            "attributes": {"creationDate": event_time(seed % 1000), "mfaAuthenticated": "false"}
        }
    })
}

/// Record `index` of the generated history.
fn record(index: u64) -> Value {
    let seed = mix(index);
    let time = event_time(index);
    if index % CREATE_EVERY == CREATE_EVERY / 2 {
        return create_session(index, seed, &time);
    }
    if index % (2 * CREATE_EVERY) == CREATE_EVERY / 2 + 25 && index > STOP_AFTER {
        let created = index - 25 - STOP_AFTER;
        return glue_call("StopSession", &format!("bench-{created}"), seed, &time);
    }
    let person = format!("user{}", seed % 40);
    let roles = ["DataEngineer", "Analyst", "EtlPipeline", "Platform"];
    let role = pick(&roles, seed >> 8);
    let mut base = json!({
        "eventVersion": "1.09",
        "userIdentity": assumed_role(role, &person, seed),
        "eventTime": time,
        "awsRegion": REGION,
        "sourceIPAddress": format!("10.{}.{}.{}", seed % 255, (seed >> 8) % 255, (seed >> 16) % 255),
        "userAgent": pick(&[
            "aws-sdk-java/2.25.16 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE",
            "Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/linux#5.10.219 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.131",
            "aws-cli/2.17.5 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.94 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard",
        ], seed >> 12),
        "requestID": uuid(seed ^ 2),
        "eventID": uuid(seed ^ 3),
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("service.{REGION}.amazonaws.com")
        }
    });
    let (source, name, request, response) = match (seed >> 20) % 20 {
        0..=6 => (
            "s3.amazonaws.com",
            "GetObject",
            json!({"bucketName": format!("analytics-landing-{}", seed % 7),
                   "Host": format!("analytics-landing.s3.{REGION}.amazonaws.com"),
                   "key": format!("raw/2026/11/29/part-{:05}-{}.snappy.parquet", seed % 99_999, uuid(seed))}),
            Value::Null,
        ),
        7..=10 => (
            "kms.amazonaws.com",
            "Decrypt",
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                   "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::analytics-landing/raw/{}", uuid(seed ^ 4))}}),
            Value::Null,
        ),
        11..=13 => {
            // Glue assumes its roles all day: these records name Glue without being Glue's.
            base["userIdentity"] = json!({"type": "AWSService", "invokedBy": "glue.amazonaws.com"});
            base["sourceIPAddress"] = json!("glue.amazonaws.com");
            base["userAgent"] = json!("glue.amazonaws.com");
            (
                "sts.amazonaws.com",
                "AssumeRole",
                json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/GlueJobRole"),
                       "roleSessionName": format!("GlueJobRunnerSession-{}", uuid(seed ^ 5)),
                       "durationSeconds": 3600}),
                json!({"credentials": {"accessKeyId": format!("ASIA{:016X}", mix(seed ^ 6)),
                       "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN", "expiration": "Nov 29, 2026, 10:00:00 AM"},
                       "assumedRoleUser": {"assumedRoleId": format!("AROA{:016X}:GlueJobRunnerSession", mix(seed)),
                       "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/GlueJobRole/GlueJobRunnerSession")}}),
            )
        }
        14..=16 => (
            "ec2.amazonaws.com",
            "DescribeInstances",
            json!({"instancesSet": {}, "filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "data-platform"}]}}]}}),
            Value::Null,
        ),
        17 | 18 => (
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "pipeline-state", "key": {"pk": format!("run#{}", uuid(seed ^ 7))},
                   "consistentRead": true}),
            Value::Null,
        ),
        _ => (
            "glue.amazonaws.com",
            pick(&["GetTable", "GetPartitions", "GetSession"], seed >> 24),
            json!({"databaseName": "analytics", "name": format!("events_{}", seed % 30)}),
            Value::Null,
        ),
    };
    base["eventSource"] = json!(source);
    base["eventName"] = json!(name);
    base["requestParameters"] = request;
    base["responseElements"] = response;
    base
}

fn glue_call(name: &str, session: &str, seed: u64, time: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": assumed_role("DataEngineer", &format!("user{}", seed % 40), seed),
        "eventTime": time,
        "eventSource": "glue.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-sdk-python/1.35 Boto3",
        "requestParameters": {"id": session},
        "responseElements": {"id": session},
        "requestID": uuid(seed ^ 2),
        "eventID": uuid(seed ^ 3),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    })
}

fn create_session(index: u64, seed: u64, time: &str) -> Value {
    let id = format!("bench-{index}");
    let mut request = json!({
        "id": id,
        "role": format!("arn:aws:iam::{ACCOUNT}:role/GlueInteractiveSessionRole"),
        "command": {"name": "glueetl", "pythonVersion": "3"},
        "defaultArguments": {"--enable-glue-datacatalog": "true"},
        "glueVersion": pick(&["4.0", "5.0", "5.0", "3.0"], seed >> 4),
    });
    let workers = [2u64, 5, 10, 15, 25][(seed >> 8) as usize % 5];
    if !seed.is_multiple_of(10) {
        request["numberOfWorkers"] = json!(workers);
        request["workerType"] = json!(pick(&["G.1X", "G.1X", "G.2X", "G.4X"], seed >> 12));
    }
    if !seed.is_multiple_of(7) {
        request["timeout"] = json!([60u64, 120, 480, 1440][(seed >> 16) as usize % 4]);
        request["idleTimeout"] = json!([30u64, 60, 120][(seed >> 18) as usize % 3]);
    }
    if !seed.is_multiple_of(5) {
        request["connections"] = json!({"connections": ["private-vpc"]});
    }
    if !seed.is_multiple_of(6) {
        request["tags"] = json!({"owner": format!("user{}", seed % 40)});
    }
    let role = pick(
        &["DataEngineer", "Analyst", "DataPlatformAdmin"],
        seed >> 20,
    );
    json!({
        "eventVersion": "1.09",
        "userIdentity": assumed_role(role, &format!("user{}", seed % 40), seed),
        "eventTime": time,
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateSession",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-sdk-python/1.35 Boto3",
        "requestParameters": request,
        "responseElements": {"session": {
            "id": id, "status": "PROVISIONING",
            "command": {"name": "glueetl", "pythonVersion": "3"}, "progress": 0.0}},
        "requestID": uuid(seed ^ 2),
        "eventID": uuid(seed ^ 3),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first generated log file, by path.
    fn first_file(dir: &Path) -> PathBuf {
        log_files(dir).remove(0)
    }

    /// The gzipped log files under `dir`, sorted.
    fn log_files(dir: &Path) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.to_string_lossy().ends_with(".json.gz") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(dir, &mut files);
        files.sort();
        files
    }

    #[test]
    fn a_generated_trail_reads_back_as_generated() {
        let dir = std::env::temp_dir().join(format!("gsg-backtest-gen-{}", std::process::id()));
        let records = 2 * RECORDS_PER_FILE + 500;
        let plan = BenchPlan {
            records,
            policy: paths::policies_dir().join("default.yaml"),
            trail: dir.clone(),
            peak_memory: PeakMemory::Skip,
        };
        let figures = bench_backtest(&plan).unwrap();
        assert!(!figures.trail_reused);
        assert_eq!((figures.records, figures.files), (records, 3));
        assert_eq!(figures.sessions, records / CREATE_EVERY);
        assert!(figures.violations > 0 && figures.violations < figures.sessions);
        assert!(bench_backtest(&plan).unwrap().trail_reused);

        // The layout and size a trail writes.
        let file = first_file(&dir);
        let shown = file.to_string_lossy();
        assert!(
            shown.contains("/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/29/123456789012_CloudTrail_eu-west-1_20261129T0005Z_"),
            "{shown}"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let per_record = text.len() as f64 / RECORDS_PER_FILE as f64;
        assert!(
            (700.0..1400.0).contains(&per_record),
            "{per_record} bytes per record"
        );
        assert!(text.starts_with("{\"Records\":[{"));

        // Both trails are named as CloudTrail delivers: after every record a file holds (a
        // backtest with --since leaves out files by their names).
        let as_files = dir.with_extension("athena-as-files");
        for trail in [&dir, &as_files] {
            let files = log_files(trail);
            assert!(!files.is_empty(), "{}", trail.display());
            for file in files {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let delivered =
                    crate::history::source::delivered_at(&name).expect("a trail's name");
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
                let log: Value = serde_json::from_str(&text).unwrap();
                for record in log["Records"].as_array().unwrap() {
                    let at = parse_rfc3339(record["eventTime"].as_str().unwrap()).unwrap();
                    assert!(at < delivered + 60, "{name}: {record}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&as_files).unwrap();
        for extension in [
            "athena.csv",
            "athena.complete",
            "athena-quarter.csv",
            "athena-quarter.complete",
        ] {
            let _ = std::fs::remove_file(dir.with_extension(extension));
        }
    }
}
