//! Reading one unit of history into a [`Harvest`], on one core. The unit is decompressed when it
//! is gzip (by its first bytes, 1f 8b, whatever its name) into a buffer the thread keeps for
//! its next file. A trail's log file (`{"Records": [...]}`) is then walked element by element
//! without building them: only an element whose text holds `"glue.amazonaws.com"` (memchr) is
//! looked at further, first for its `eventSource` and `eventName` alone, and only a Glue
//! `CreateSession`, `StopSession` or `DeleteSession` is parsed whole. Any other shape (JSON
//! Lines, a `LookupEvents` response, an EventBridge envelope), a log file larger than
//! [`BUFFERED_MAX`] and a damaged one go through `policy::records::for_each_item`, which
//! streams and says where the damage is.

use std::io::{BufRead, BufReader, Cursor, Read};

use memchr::memmem;
use policy::json::Borrowed;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::observe::{GLUE_EVENT_SOURCE, Harvest, Judges, Observation, worth_parsing};
use super::source::NamedReader;
use policy::records::{self, Item};

/// Largest decompressed file read into memory; a larger one is streamed (slower, but memory
/// stays flat). CloudTrail delivers a file every five minutes or so, far smaller than this.
const BUFFERED_MAX: usize = 64 << 20;

/// Reads one unit. `buffer` is scratch space, kept by the caller between units.
pub fn harvest(input: NamedReader, judges: Judges<'_>, buffer: &mut Vec<u8>) -> Harvest {
    scan_within(input, judges, buffer, BUFFERED_MAX)
}

/// [`scan`], buffering at most `buffered_max` decompressed bytes.
fn scan_within(
    input: NamedReader,
    judges: Judges<'_>,
    buffer: &mut Vec<u8>,
    buffered_max: usize,
) -> Harvest {
    let mut harvest = Harvest::of(input.name);
    let mut reader = BufReader::with_capacity(128 << 10, input.reader);
    let gzip = match reader.fill_buf() {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(error) => {
            harvest.damage = Some(format!("cannot be read: {error}"));
            return harvest;
        }
    };
    let mut body: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    buffer.clear();
    match body.by_ref().take(buffered_max as u64).read_to_end(buffer) {
        Ok(_) if buffer.len() < buffered_max => read_buffered(buffer, judges, &mut harvest),
        Ok(_) => read_streamed(Cursor::new(&buffer[..]).chain(body), judges, &mut harvest),
        Err(error) => {
            // What came before the damage still counts; the reason is the damage itself.
            read_buffered(buffer, judges, &mut harvest);
            harvest.damage = Some(if gzip {
                format!(
                    "the gzip stream is damaged after {} decompressed bytes: {error}",
                    buffer.len()
                )
            } else {
                format!("reading failed after {} bytes: {error}", buffer.len())
            });
        }
    }
    harvest
}

/// Rows of an Athena result: each rebuilt into its CloudTrail record and read like one from a
/// file. A row whose values cannot be a record is counted unreadable, as a damaged record is;
/// a row that is not CSV of the header's fields is the chunk's damage.
pub fn harvest_rows(chunk: super::athena::RowChunk, judges: Judges<'_>) -> Harvest {
    use super::athena::Row;
    let mut harvest = Harvest::of(String::new());
    harvest.chunk = true;
    if let Some(reason) = &chunk.read_error {
        harvest.file = format!("{} after row {}", chunk.file, chunk.first_row - 1);
        harvest.damage = Some(reason.clone());
        return harvest;
    }
    let mut rows = 0;
    chunk.for_each_row(|row| match row {
        Row::Record(record) => {
            rows += 1;
            harvest.read(&record, judges);
        }
        Row::Unreadable(why) => {
            rows += 1;
            harvest.unreadable(|| format!("{}: {why}", chunk.file));
        }
        Row::Damaged(why) => harvest.damage = Some(why),
    });
    harvest.file = format!(
        "{} rows {}-{}",
        chunk.file,
        chunk.first_row,
        chunk.first_row + rows.max(1) - 1
    );
    harvest
}

/// A whole file in memory: a trail log file walked cheaply, anything else item by item.
fn read_buffered(bytes: &[u8], judges: Judges<'_>, harvest: &mut Harvest) {
    if walk_trail_file(bytes, judges, harvest).is_err() {
        harvest.restart();
        read_streamed(bytes, judges, harvest);
    }
}

/// Every item through `policy::records`, each parsed whole.
fn read_streamed(input: impl Read, judges: Judges<'_>, harvest: &mut Harvest) {
    let file = harvest.file.clone();
    let read = records::for_each_item(input, |item| match item {
        Item::Record(record) => harvest.read(&record, judges),
        Item::Unreadable(why) => harvest.unreadable(|| format!("{file}: {why}")),
    });
    if let Err(error) = read {
        harvest.damage = Some(format!("not readable as JSON at {error}"));
    }
}

/// The bytes are not a well-formed trail log file: read them the general way.
#[derive(Debug)]
struct NotATrailFile;

/// Walks `{"Records": [...]}` (the whole file, nothing else in it), handing each element to
/// [`record`]. Every element is checked to be JSON, but only those whose text holds Glue's
/// event source, quoted (so `xglue.amazonaws.com` does not match), are looked at further.
fn walk_trail_file(
    bytes: &[u8],
    judges: Judges<'_>,
    harvest: &mut Harvest,
) -> Result<(), NotATrailFile> {
    let needle = format!("\"{GLUE_EVENT_SOURCE}\"");
    let glue = memmem::Finder::new(needle.as_bytes());
    let mut at = 0;
    for token in [&b"{"[..], b"\"Records\"", b":", b"["] {
        at = skip_whitespace(bytes, at);
        at = expect(bytes, at, token)?;
    }
    at = skip_whitespace(bytes, at);
    if bytes.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            let mut elements =
                serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<IgnoredAny>();
            match elements.next() {
                Some(Ok(_)) => {}
                _ => return Err(NotATrailFile),
            }
            let end = at + elements.byte_offset();
            record(&bytes[at..end], &glue, judges, harvest);
            at = skip_whitespace(bytes, end);
            match bytes.get(at) {
                Some(b',') => at += 1,
                Some(b']') => {
                    at += 1;
                    break;
                }
                _ => return Err(NotATrailFile),
            }
        }
    }
    at = skip_whitespace(bytes, at);
    at = expect(bytes, at, b"}")?;
    if skip_whitespace(bytes, at) == bytes.len() {
        Ok(())
    } else {
        Err(NotATrailFile)
    }
}

/// The two fields that decide whether a record is parsed whole. Borrowed: a value with escapes
/// fails, and the record is then parsed whole.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<&'a str>,
    #[serde(rename = "eventName", borrow)]
    event_name: Option<&'a str>,
}

/// One element of `Records`, as raw JSON text.
fn record(raw: &[u8], glue: &memmem::Finder<'_>, judges: Judges<'_>, harvest: &mut Harvest) {
    if glue.find(raw).is_none() {
        harvest.add(Observation::Other);
        return;
    }
    let worth = match serde_json::from_slice::<Head<'_>>(raw) {
        Ok(head) => worth_parsing(head.event_source, head.event_name),
        Err(_) => true,
    };
    if !worth {
        harvest.add(Observation::Other);
        return;
    }
    // Checked as UTF-8 once, whole, rather than string by string.
    let parsed = std::str::from_utf8(raw)
        .ok()
        .and_then(|text| serde_json::from_str::<Borrowed<'_>>(text).ok());
    match parsed {
        Some(value) => harvest.read(&value, judges),
        // Its shape was JSON a moment ago, but a string it skipped may not be UTF-8, or hold
        // an escape that is not one: unreadable, as any record that does not parse.
        None => {
            let file = harvest.file.clone();
            harvest.unreadable(|| {
                format!("{file}: a record is not UTF-8 JSON (a string or an escape in it)")
            });
        }
    }
}

fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}

fn expect(bytes: &[u8], at: usize, token: &[u8]) -> Result<usize, NotATrailFile> {
    if bytes[at.min(bytes.len())..].starts_with(token) {
        Ok(at + token.len())
    } else {
        Err(NotATrailFile)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use serde_json::{Value, json};

    use super::*;

    fn policy() -> policy::Policy {
        policy::load_policy(
            "p.yaml",
            b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
        )
        .unwrap()
    }

    fn create(id: &str, workers: u64) -> Value {
        json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
            "eventTime": "2026-11-29T09:00:00Z", "eventID": format!("e-{id}"),
            "requestParameters": {"id": id, "command": {"name": "glueetl"},
                "numberOfWorkers": workers, "workerType": "G.1X"},
            "responseElements": {"session": {"id": id}}})
    }

    fn other(n: u64) -> Value {
        json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
            "userAgent": if n.is_multiple_of(2) { "glue.amazonaws.com" } else { "aws-cli" },
            "requestParameters": {"key": format!("k{n}")}})
    }

    fn read(bytes: &[u8]) -> Harvest {
        read_within(bytes, BUFFERED_MAX)
    }

    fn read_within(bytes: &[u8], buffered_max: usize) -> Harvest {
        let policy = policy();
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: crate::history::Window::ALL,
        };
        let mut buffer = Vec::new();
        scan_within(
            NamedReader {
                name: "f.json".into(),
                reader: Box::new(Cursor::new(bytes.to_vec())),
            },
            judges,
            &mut buffer,
            buffered_max,
        )
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn trail() -> String {
        let records = vec![
            create("a", 5),
            other(1),
            other(2),
            create("b", 15),
            other(3),
        ];
        serde_json::to_string_pretty(&json!({"Records": records})).unwrap()
    }

    #[test]
    fn a_trail_file_plain_or_gzipped_gives_its_sessions() {
        for bytes in [trail().into_bytes(), gzip(trail().as_bytes())] {
            let harvest = read(&bytes);
            assert_eq!(harvest.damage, None);
            assert_eq!(harvest.records, 5);
            let ids: Vec<&str> = harvest.sessions.iter().map(|s| &*s.session_id).collect();
            assert_eq!(ids, ["a", "b"]);
            assert!(harvest.sessions[1].under_policy.stops());
        }
        assert_eq!(read(b"{\"Records\": []}").records, 0);
        assert_eq!(read(b"").records, 0);
    }

    #[test]
    fn the_cheap_walk_and_the_general_reader_agree() {
        let text = trail();
        let policy = policy();
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: crate::history::Window::ALL,
        };
        let mut walked = Harvest::of("w");
        walk_trail_file(text.as_bytes(), judges, &mut walked).unwrap();
        let mut streamed = Harvest::of("s");
        read_streamed(text.as_bytes(), judges, &mut streamed);
        assert_eq!(walked.records, streamed.records);
        assert_eq!(walked.sessions, streamed.sessions);
    }

    #[test]
    fn a_file_larger_than_the_buffer_is_streamed_with_the_same_result() {
        for bytes in [trail().into_bytes(), gzip(trail().as_bytes())] {
            let buffered = read(&bytes);
            let streamed = read_within(&bytes, 100);
            assert_eq!(streamed.damage, None);
            assert_eq!(streamed.records, buffered.records);
            assert_eq!(streamed.sessions, buffered.sessions);
        }
    }

    #[test]
    fn other_shapes_go_through_the_general_reader() {
        let lines = format!("{}\n{}\n{}\n", create("a", 5), other(1), create("b", 15));
        let harvest = read(lines.as_bytes());
        assert_eq!((harvest.records, harvest.sessions.len()), (3, 2));
        let lookup = json!({"Events": [
            {"EventId": "1", "CloudTrailEvent": create("a", 5).to_string()},
            {"EventId": "2", "CloudTrailEvent": "{not json"}]});
        let harvest = read(lookup.to_string().as_bytes());
        assert_eq!(
            (
                harvest.records,
                harvest.unreadable_records,
                harvest.sessions.len()
            ),
            (2, 1, 1)
        );
        // Another key after Records: still read, the general way.
        let extra = format!("{{\"Records\": [{}], \"x\": 1}}", create("a", 5));
        assert_eq!(read(extra.as_bytes()).sessions.len(), 1);
    }

    #[test]
    fn damage_is_named_after_what_was_read() {
        let cut = format!(
            "{{\"Records\": [{}, {}, {}, {}, {{\"eventSource\": ",
            create("a", 5),
            other(1),
            other(2),
            create("b", 15)
        );
        let harvest = read(cut.as_bytes());
        let why = harvest.damage.unwrap();
        assert!(why.starts_with("not readable as JSON at line"), "{why}");
        assert_eq!(harvest.sessions.len(), 2);
        assert!(why.contains("after 4 records"), "{why}");

        let zipped = gzip(trail().as_bytes());
        let harvest = read(&zipped[..zipped.len() / 2]);
        let why = harvest.damage.unwrap();
        assert!(why.starts_with("the gzip stream is damaged after"), "{why}");

        let mut corrupt = zipped.clone();
        let middle = corrupt.len() / 2;
        for byte in &mut corrupt[middle..middle + 16] {
            *byte ^= 0x5a;
        }
        assert!(read(&corrupt).damage.is_some());
    }
}
