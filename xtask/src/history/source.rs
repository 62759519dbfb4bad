//! Where the history comes from: a [`HistorySource`] hands over named readers, one per unit that
//! can be read on its own (a log file), which the backtest reads in parallel. This file has the
//! local one, [`TrailFolders`]: files and folders of CloudTrail log files, searched recursively
//! in the layout a trail writes (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`).
//! Other sources (an S3 prefix, CloudTrail `LookupEvents` pages) implement the same trait.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::bail;

use super::time::{UnixSeconds, parse_rfc3339};
use crate::paths;

/// One unit of history, open: its name (for messages) and its bytes, plain or gzipped.
pub struct NamedReader {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

/// One unit of history, or why it could not be opened (it is then reported as damaged, and the
/// others are still read).
pub enum Opened {
    Ready(NamedReader),
    /// Rows of a query's result (`backtest --athena`), each rebuilt into its record.
    Rows(super::athena::RowChunk),
    Failed {
        name: String,
        reason: String,
    },
    /// A log file found in a folder or an S3 prefix and not read: its name says CloudTrail
    /// delivered it before `--since` ([`may_hold_records_since`]). Counted in the report.
    LeftOut {
        name: String,
    },
}

/// What a history is, as a report names it: words, and the names among them (files, S3 URIs,
/// query ids, tables), which Markdown shows as code; text and JSON show it all as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Described {
    parts: Vec<Part>,
}

/// A piece of a [`Described`].
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Words(String),
    Name(String),
}

impl Described {
    /// A name alone (`policies/trail`, `s3://bucket/AWSLogs/`).
    pub fn name(text: impl Into<String>) -> Described {
        Described::default().and_name(text)
    }

    /// Words alone (`CloudTrail LookupEvents, the last 90 days`).
    pub fn words(text: impl Into<String>) -> Described {
        Described::default().and_words(text)
    }

    pub fn and_name(mut self, text: impl Into<String>) -> Described {
        self.parts.push(Part::Name(text.into()));
        self
    }

    pub fn and_words(mut self, text: impl Into<String>) -> Described {
        self.parts.push(Part::Words(text.into()));
        self
    }

    /// Several, one after another, `separator` (words) between them.
    pub fn joined(all: impl IntoIterator<Item = Described>, separator: &str) -> Described {
        let mut joined = Described::default();
        for (at, one) in all.into_iter().enumerate() {
            if at > 0 {
                joined = joined.and_words(separator);
            }
            joined.parts.extend(one.parts);
        }
        joined
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                Part::Words(text) | Part::Name(text) => f.write_str(text)?,
            }
        }
        Ok(())
    }
}

/// As written: one string.
impl serde::Serialize for Described {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl From<&str> for Described {
    fn from(name: &str) -> Described {
        Described::name(name)
    }
}

impl From<String> for Described {
    fn from(name: String) -> Described {
        Described::name(name)
    }
}

/// A place history is read from.
pub trait HistorySource {
    /// What it is, for the report (`policies/trail`, `s3://bucket/AWSLogs/`).
    fn describe(&self) -> Described;

    /// Its units, each opened when a reader asks for it (so only as many are open as are being
    /// read). Listing is done before: a source that cannot be listed at all is an error here.
    fn units(self: Box<Self>) -> anyhow::Result<Box<dyn Iterator<Item = Opened> + Send>>;
}

/// Files and folders on this machine (`--trail`). A file is read whatever its name; a folder
/// is searched recursively for log files (`.json`, `.json.gz`, `.jsonl`, `.jsonl.gz`), leaving
/// out `CloudTrail-Digest` folders (a trail's digests, which hold no records) and hidden
/// entries. Symbolic links to files are followed; to folders, not (no cycles).
pub struct TrailFolders {
    paths: Vec<PathBuf>,
    /// `--since`: log files delivered before it are not read ([`may_hold_records_since`]).
    since: Option<UnixSeconds>,
}

/// A file to read, and whether it was given itself (`true`) rather than found in a folder.
type Found = (PathBuf, bool);

/// Names of log files inside folders.
const LOG_FILE_ENDINGS: &[&str] = &[".json", ".json.gz", ".jsonl", ".jsonl.gz"];

/// Folders a trail writes that hold no records.
const SKIPPED_FOLDERS: &[&str] = &["CloudTrail-Digest"];

impl TrailFolders {
    /// The given paths; each must exist.
    pub fn new(paths: Vec<PathBuf>) -> anyhow::Result<TrailFolders> {
        if paths.is_empty() {
            bail!("no history to read: give --trail FILE_OR_FOLDER (repeatable)");
        }
        for path in &paths {
            if !path.exists() {
                bail!("--trail {}: no such file or folder", paths::shown(path));
            }
        }
        Ok(TrailFolders { paths, since: None })
    }

    /// Leaves out the log files found in folders that were delivered before `since`
    /// ([`may_hold_records_since`]); a file given itself is always read.
    pub fn since(self, since: Option<UnixSeconds>) -> TrailFolders {
        TrailFolders { since, ..self }
    }

    /// Every file to read, in a stable order (each folder's files sorted by path), each once
    /// however many `--trail` paths lead to it, and whether it was given itself (rather than
    /// found in a folder); and the folders that could not be listed, with why.
    fn files(&self) -> (Vec<Found>, Vec<(PathBuf, String)>) {
        let mut files: Vec<Found> = Vec::new();
        let mut failed = Vec::new();
        for path in &self.paths {
            if path.is_dir() {
                let mut found = Vec::new();
                walk(path, &mut found, &mut failed);
                found.sort();
                files.extend(found.into_iter().map(|file| (file, false)));
            } else {
                files.push((path.clone(), true));
            }
        }
        let canonical = |file: &PathBuf| file.canonicalize().unwrap_or_else(|_| file.clone());
        let given: std::collections::HashSet<PathBuf> = files
            .iter()
            .filter(|(_, given)| *given)
            .map(|(file, _)| canonical(file))
            .collect();
        let mut seen = std::collections::HashSet::new();
        files.retain_mut(|(file, given_itself)| {
            let path = canonical(file);
            *given_itself = given.contains(&path);
            seen.insert(path)
        });
        (files, failed)
    }
}

/// When CloudTrail delivered the log file `name` (its last `/`-separated part), to the minute:
/// a trail names its files `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`,
/// "the year, month, day, hour, and minute when the log file was delivered" in UTC ("CloudTrail
/// log file name format",
/// <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html>).
/// Unix seconds of that minute's start; `None` for a name of any other form.
pub fn delivered_at(name: &str) -> Option<UnixSeconds> {
    let file = name.rsplit('/').next()?;
    let mut parts = file.split('_');
    let account = parts.next()?;
    let service = parts.next()?;
    let _region = parts.next()?;
    let stamp = parts.next()?;
    // The unique string (and the file's ending) follow.
    parts.next()?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if account.len() != 12 || !digits(account) || service != "CloudTrail" || stamp.len() != 14 {
        return None;
    }
    let (day, time) = (stamp.get(..8)?, stamp.get(8..)?);
    let (hour_minute, zone) = (time.get(1..5)?, time.get(5..)?);
    if !digits(day) || !time.starts_with('T') || !digits(hour_minute) || zone != "Z" {
        return None;
    }
    parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:00Z",
        &day[..4],
        &day[4..6],
        &day[6..],
        &hour_minute[..2],
        &hour_minute[2..]
    ))
}

/// Whether the log file `name` may hold a record at or after `since`. A file "can contain
/// records written at any point before" its delivery (the page of [`delivered_at`]), so one
/// delivered in a minute that ends at or before `since` holds none; [`DELIVERY_SLACK`] more is
/// allowed for the clocks of the service that writes `eventTime` and of CloudTrail's delivery.
/// A name that does not give its delivery, or no `since`, may hold anything.
pub fn may_hold_records_since(name: &str, since: Option<UnixSeconds>) -> bool {
    match (since, delivered_at(name)) {
        (Some(since), Some(minute)) => minute + 60 + DELIVERY_SLACK > since,
        _ => true,
    }
}

/// Seconds a log file's records may be later than its delivery minute says (clock skew): a few
/// more files read, none missed.
pub const DELIVERY_SLACK: UnixSeconds = 300;

fn is_log_file(name: &str) -> bool {
    LOG_FILE_ENDINGS.iter().any(|ending| name.ends_with(ending))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, failed: &mut Vec<(PathBuf, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            failed.push((
                dir.to_path_buf(),
                format!("the folder cannot be listed: {error}"),
            ));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                failed.push((
                    dir.to_path_buf(),
                    format!("the folder cannot be listed: {error}"),
                ));
                continue;
            }
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            failed.push((path, "its type cannot be read".to_string()));
            continue;
        };
        if kind.is_dir() {
            if !SKIPPED_FOLDERS.contains(&name.as_ref()) {
                walk(&path, files, failed);
            }
        } else if is_log_file(&name) && (kind.is_file() || path.is_file()) {
            files.push(path);
        }
    }
}

impl HistorySource for TrailFolders {
    fn describe(&self) -> Described {
        Described::joined(
            self.paths
                .iter()
                .map(|path| Described::name(paths::shown(path))),
            ", ",
        )
    }

    fn units(self: Box<Self>) -> anyhow::Result<Box<dyn Iterator<Item = Opened> + Send>> {
        let (files, failed) = self.files();
        if files.is_empty() && failed.is_empty() {
            bail!(
                "{} holds no CloudTrail log file ({})",
                self.describe(),
                LOG_FILE_ENDINGS.join(", ")
            );
        }
        let failed = failed.into_iter().map(|(path, reason)| Opened::Failed {
            name: paths::shown(&path),
            reason,
        });
        let since = self.since;
        let opened = files.into_iter().map(move |(path, given_itself)| {
            let name = paths::shown(&path);
            let file_name = path.file_name().map(|name| name.to_string_lossy());
            if !given_itself && file_name.is_some_and(|file| !may_hold_records_since(&file, since))
            {
                return Opened::LeftOut { name };
            }
            match std::fs::File::open(&path) {
                Ok(file) => Opened::Ready(NamedReader {
                    name,
                    reader: Box::new(file),
                }),
                Err(error) => Opened::Failed {
                    name,
                    reason: format!("cannot be opened: {error}"),
                },
            }
        });
        Ok(Box::new(failed.chain(opened)))
    }
}

/// A query's result file (Athena's CSV) as history: read as a stream, handed over in chunks of
/// whole records (about [`CHUNK_BYTES`](super::athena::CHUNK_BYTES)) that the reading cores parse and judge, so that only
/// the split (a scan for quotes and newlines) is done in turn.
pub struct ResultRows {
    /// What it is, for the report (`Athena query <id> on <database>.<table>`).
    pub describe: Described,
    /// The result file, for messages.
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

impl HistorySource for ResultRows {
    fn describe(&self) -> Described {
        self.describe.clone()
    }

    fn units(self: Box<Self>) -> anyhow::Result<Box<dyn Iterator<Item = Opened> + Send>> {
        let ResultRows { name, reader, .. } = *self;
        // Athena writes its result as plain CSV; a copy gzipped on the way (a download tool, an
        // UNLOAD) is read the same, known by its first bytes (1f 8b), as a trail's files are.
        let mut raw = std::io::BufReader::with_capacity(1 << 20, reader);
        let gzip = std::io::BufRead::fill_buf(&mut raw)
            .map(|head| head.starts_with(&[0x1f, 0x8b]))
            .map_err(|error| anyhow::anyhow!("{name}: reading the header row: {error}"))?;
        let mut reader: Box<dyn std::io::BufRead + Send> = if gzip {
            Box::new(std::io::BufReader::with_capacity(
                1 << 20,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        // A trail's log file (JSON, often one long line) is told from the first bytes, before
        // a line of it is read as a header.
        let head = std::io::BufRead::fill_buf(&mut reader)
            .map_err(|error| anyhow::anyhow!("{name}: reading the header row: {error}"))?;
        if let Some(b'{' | b'[') = head.iter().find(|b| !b.is_ascii_whitespace()) {
            bail!(
                "{name} holds JSON, not an Athena result (CSV with a header row): a trail's log \
                 file is read with --trail"
            );
        }
        // The header: the first record (its names are quoted, never holding a newline).
        let mut first = Vec::new();
        std::io::BufRead::read_until(&mut reader, b'\n', &mut first)
            .map_err(|error| anyhow::anyhow!("{name}: reading the header row: {error}"))?;
        if first.is_empty() {
            bail!("{name} is empty: Athena writes a header row even when no row matched");
        }
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&first[..]);
        let mut names = csv::ByteRecord::new();
        csv.read_byte_record(&mut names)
            .map_err(|error| anyhow::anyhow!("{name}: reading the header row: {error}"))?;
        let header = std::sync::Arc::new(
            super::athena::Header::read(&names)
                .map_err(|error| anyhow::anyhow!("{name}: the header row: {error:#}"))?,
        );
        let pool = super::athena::BufferPool::default();
        let mut carried: Vec<u8> = Vec::new();
        let mut next_row = 1u64;
        let mut done = false;
        // A result of its header alone (no row matched) is still one chunk read, of no rows:
        // the report says the result was read, not "0 files".
        let mut handed = false;
        // A read that failed, said after the whole records read before it are handed over.
        let mut failed: Option<std::io::Error> = None;
        Ok(Box::new(std::iter::from_fn(move || {
            loop {
                if let Some(error) = failed.take() {
                    // A chunk of no rows that carries the failure: the report counts it with
                    // the result's chunks, named after the last row read.
                    done = true;
                    return Some(Opened::Rows(super::athena::RowChunk {
                        file: name.clone(),
                        first_row: next_row,
                        header: header.clone(),
                        bytes: Vec::new(),
                        returned: None,
                        read_error: Some(format!("cannot be read: {error}")),
                    }));
                }
                if done {
                    return None;
                }
                let mut block = pool
                    .lock()
                    .ok()
                    .and_then(|mut pool| pool.pop())
                    .unwrap_or_default();
                block.clear();
                block.extend_from_slice(&carried);
                carried.clear();
                let before = block.len();
                block.resize(before + super::athena::CHUNK_BYTES, 0);
                let (read, error) = read_full(&mut reader, &mut block[before..]);
                block.truncate(before + read);
                if let Some(error) = error {
                    // The whole records read before it are judged below (a gzip cut short in
                    // its last bytes still gives every row); the rest is the damage.
                    failed = Some(error);
                } else if read < super::athena::CHUNK_BYTES {
                    // The end: the block holds the last records (the last maybe without its
                    // newline), handed over as one chunk.
                    done = true;
                    if block.iter().all(u8::is_ascii_whitespace) {
                        if handed {
                            return None;
                        }
                        block.clear();
                    }
                    return Some(Opened::Rows(super::athena::RowChunk {
                        file: name.clone(),
                        first_row: next_row,
                        header: header.clone(),
                        bytes: block,
                        returned: None,
                        read_error: None,
                    }));
                }
                let (end, records) = super::athena::last_record_end(&block);
                if end == 0 {
                    // No record ends in it yet: read on (after a failure, say it).
                    if failed.is_none() {
                        carried = block;
                    }
                    continue;
                }
                if failed.is_none() {
                    carried.extend_from_slice(&block[end..]);
                }
                block.truncate(end);
                let chunk = super::athena::RowChunk {
                    file: name.clone(),
                    first_row: next_row,
                    header: header.clone(),
                    bytes: block,
                    returned: Some(pool.clone()),
                    read_error: None,
                };
                next_row += records;
                handed = true;
                return Some(Opened::Rows(chunk));
            }
        })))
    }
}

/// Reads until `out` is full, the input ends (less than `out` read) or a read fails (the
/// error); how much was read either way.
fn read_full(reader: &mut impl Read, out: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut filled = 0;
    while filled < out.len() {
        match reader.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return (filled, Some(error)),
        }
    }
    (filled, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_files_delivery_is_read_from_its_name() {
        let name = "111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz";
        let minute = parse_rfc3339("2015-08-01T02:10:00Z");
        assert_eq!(delivered_at(name), minute);
        assert_eq!(
            delivered_at(&format!(
                "AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-2/2015/08/01/{name}"
            )),
            minute
        );
        for other in [
            "a.json.gz",
            "11112222333_CloudTrail_us-east-2_20150801T0210Z_u.json.gz",
            "111122223333_CloudTrail-Digest_us-east-2_20150801T0210Z_u.json.gz",
            "111122223333_CloudTrail_us-east-2_20150801T0210Z",
            "111122223333_CloudTrail_us-east-2_20150801T021Z_u.json.gz",
            "111122223333_CloudTrail_us-east-2_20150801X0210Z_u.json.gz",
            "111122223333_CloudTrail_us-east-2_20151301T0210Z_u.json.gz",
            "111122223333_CloudTrail_us-east-2_2015080１T0210Z_u.json.gz",
        ] {
            assert_eq!(delivered_at(other), None, "{other}");
        }
        // Delivered in the minute 02:10: records up to 02:10:59 at most, and 5 minutes more
        // for the clocks.
        let since = |text: &str| parse_rfc3339(text);
        assert!(may_hold_records_since(name, since("2015-08-01T02:15:59Z")));
        assert!(!may_hold_records_since(name, since("2015-08-01T02:16:00Z")));
        assert!(may_hold_records_since(name, None));
        assert!(may_hold_records_since(
            "a.json.gz",
            since("2030-01-01T00:00:00Z")
        ));
    }

    #[test]
    fn folders_are_searched_in_the_layout_a_trail_writes() {
        let root = std::env::temp_dir().join(format!("gsg-backtest-source-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let day = root.join("AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/29");
        let digest = root.join("AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2026/11/29");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::create_dir_all(&digest).unwrap();
        for name in [
            "b.json.gz",
            "a.json",
            "c.jsonl",
            "notes.txt",
            ".hidden.json",
        ] {
            std::fs::write(day.join(name), "{}").unwrap();
        }
        std::fs::write(digest.join("d.json.gz"), "{}").unwrap();
        let single = root.join("events.txt");
        std::fs::write(&single, "{}").unwrap();
        let source = TrailFolders::new(vec![
            root.join("AWSLogs"),
            single.clone(),
            day.join("a.json"),
            root.join("AWSLogs/../AWSLogs/123456789012"),
        ])
        .unwrap();
        let (files, failed) = source.files();
        let names: Vec<String> = files
            .iter()
            .map(|(f, _)| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.json", "b.json.gz", "c.jsonl", "events.txt"]);
        assert!(failed.is_empty());
        let units: Vec<Opened> = Box::new(source).units().unwrap().collect();
        assert_eq!(units.len(), 4);

        // With --since, the files delivered before it are left out; others are read.
        let early = "123456789012_CloudTrail_eu-west-1_20261129T0005Z_aaaa.json.gz";
        let late = "123456789012_CloudTrail_eu-west-1_20261129T0010Z_bbbb.json.gz";
        for name in [early, late] {
            std::fs::write(day.join(name), "{}").unwrap();
        }
        let read = |paths: Vec<PathBuf>, since: &str| -> Vec<String> {
            let source = TrailFolders::new(paths)
                .unwrap()
                .since(parse_rfc3339(since));
            Box::new(source)
                .units()
                .unwrap()
                .map(|unit| match unit {
                    Opened::Ready(reader) => reader.name.rsplit('/').next().unwrap().to_string(),
                    Opened::LeftOut { name } => {
                        format!("left out: {}", name.rsplit('/').next().unwrap())
                    }
                    _ => panic!("a file"),
                })
                .collect()
        };
        let folder = || vec![root.join("AWSLogs")];
        assert_eq!(
            read(folder(), "2026-11-29T00:11:00Z"),
            [
                &format!("left out: {early}"),
                late,
                "a.json",
                "b.json.gz",
                "c.jsonl"
            ]
        );
        assert_eq!(
            read(folder(), "2026-11-29T00:10:59Z"),
            [early, late, "a.json", "b.json.gz", "c.jsonl"]
        );
        // A file given itself is read whatever its name says, even when a folder leads to it
        // too.
        assert_eq!(read(vec![day.join(early)], "2026-11-29T00:11:00Z"), [early]);
        assert_eq!(
            read(
                vec![root.join("AWSLogs"), day.join(early)],
                "2026-11-29T00:11:00Z"
            ),
            [early, late, "a.json", "b.json.gz", "c.jsonl"]
        );

        let empty = root.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let error = Box::new(TrailFolders::new(vec![empty]).unwrap())
            .units()
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("holds no CloudTrail log file"),
            "{error}"
        );
        let missing = TrailFolders::new(vec![root.join("nope")]).err().unwrap();
        assert!(
            missing.to_string().contains("no such file or folder"),
            "{missing}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
