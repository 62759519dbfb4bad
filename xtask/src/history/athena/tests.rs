use super::*;
use crate::history::source::{HistorySource, Opened, ResultRows};
use crate::history::time::parse_rfc3339;
use serde_json::json;
use std::io::Write as _;

fn spec(accounts: &[&str]) -> TableSpec {
    TableSpec {
        database: "security".into(),
        table: "org_trail".into(),
        trail: "s3://org-trail-bucket".into(),
        organization_id: Some("o-a1b2c3d4e5".into()),
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        regions: vec!["eu-west-1".into(), "us-east-1".into()],
        first_day: "2025/01/01".into(),
    }
}

fn scope(accounts: &[&str], regions: &[&str]) -> Scope {
    Scope {
        since: parse_rfc3339("2026-11-01T00:00:00Z").unwrap(),
        until: parse_rfc3339("2026-12-01T00:00:00Z").unwrap(),
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
    }
}

#[test]
fn the_query_prunes_days_accounts_and_regions_and_reads_only_glue() {
    let shape = spec(&["111122223333", "444455556666"]).shape();
    let query = query(&shape, &scope(&["111122223333"], &["eu-west-1"])).unwrap();
    let sql = &query.sql;
    // The day after --until's last day: a file written after midnight holds the day before.
    assert!(
        sql.contains("\"timestamp\" BETWEEN '2026/11/01' AND '2026/12/01'"),
        "{sql}"
    );
    assert!(sql.contains("\"account\" IN ('111122223333')"), "{sql}");
    assert!(sql.contains("\"region\" IN ('eu-west-1')"), "{sql}");
    assert!(sql.contains("eventsource = 'glue.amazonaws.com'"), "{sql}");
    assert!(
        sql.contains(
            "eventname IN ('CreateSession', 'StopSession', 'DeleteSession', 'StartJobRun', \
             'CreateJob', 'UpdateJob')"
        ),
        "{sql}"
    );
    assert!(sql.contains("eventtime >= '2026-11-01T00:00:00Z'"), "{sql}");
    assert!(sql.contains("eventtime < '2026-12-01T00:00:00Z'"), "{sql}");
    assert!(sql.contains("FROM \"security\".\"org_trail\""), "{sql}");
    // Only the columns the judging reads, never `*`.
    assert!(!sql.contains('*'), "{sql}");
    for name in column_names() {
        assert!(sql.contains(&format!("AS \"{name}\"")), "{name}: {sql}");
    }
    assert!(query.notes.is_empty(), "{:?}", query.notes);

    // A window reaching before the table's first projected day is said, not silently empty.
    let mut late = spec(&["111122223333"]);
    late.first_day = "2026/11/15".into();
    let notes = super::query(&late.shape(), &scope(&["111122223333"], &[]))
        .unwrap()
        .notes
        .join("\n");
    assert!(
        notes.contains("projects timestamp from 2026/11/15")
            && notes.contains("days from 2026/11/01 until then are not read"),
        "{notes}"
    );

    // All accounts and Regions of an enum projection: no condition on them.
    let all = super::query(&shape, &scope(&[], &[])).unwrap().sql;
    assert!(!all.contains("\"account\" IN"), "{all}");
    assert!(!all.contains("\"region\" IN"), "{all}");
}

#[test]
fn an_injected_account_partition_needs_the_accounts_named() {
    let shape = spec(&[]).shape();
    assert_eq!(
        shape.parameters["projection.account.type"], "injected",
        "no accounts given: injected"
    );
    let error = query(&shape, &scope(&[], &[])).unwrap_err().to_string();
    assert!(error.contains("`account` is injected"), "{error}");
    assert!(error.contains("--accounts"), "{error}");
    let named = query(&shape, &scope(&["111122223333", "444455556666"], &[])).unwrap();
    assert!(
        named
            .sql
            .contains("\"account\" IN ('111122223333', '444455556666')"),
        "{}",
        named.sql
    );
}

/// Athena takes a query of at most 262,144 bytes: an organization named account by account
/// past that is refused before anything is asked, with the limit and what to do; one just under
/// it is written.
#[test]
fn a_query_longer_than_athena_takes_is_refused() {
    let shape = spec(&[]).shape();
    let naming = |n: u64| Scope {
        accounts: (0..n)
            .map(|i| format!("{:012}", 100_000_000_000 + i))
            .collect(),
        ..scope(&[], &[])
    };
    // Each account adds `'111122223333', `: 16 bytes.
    let many = MAX_QUERY_BYTES as u64 / 16 + 1;
    let error = query(&shape, &naming(many)).unwrap_err().to_string();
    assert!(
        error.contains("Athena takes at most 262144")
            && error.contains(&format!("names {many} accounts"))
            && error.contains("--accounts"),
        "{error}"
    );
    assert!(query(&shape, &naming(MAX_QUERY_BYTES as u64 / 16 - 100)).is_ok());
    // The limit itself is a query Athena runs; a byte more is not.
    let at_limit = "x".repeat(MAX_QUERY_BYTES);
    assert!(within_athena_limit(&at_limit, &naming(1)).is_ok());
    assert!(within_athena_limit(&(at_limit + "x"), &naming(1)).is_err());
}

#[test]
fn a_table_as_aws_documents_it_for_one_account_is_read_with_notes() {
    // "Create the table for CloudTrail logs in Athena using partition projection": one account
    // and Region in LOCATION, a `timestamp` date partition, no sourceidentity in useridentity.
    let shape = TableShape {
        database: "default".into(),
        table: "cloudtrail_logs_pp".into(),
        partition_keys: vec!["timestamp".into()],
        parameters: [
            ("projection.enabled", "true"),
            ("projection.timestamp.format", "yyyy/MM/dd"),
            ("projection.timestamp.interval", "1"),
            ("projection.timestamp.interval.unit", "DAYS"),
            ("projection.timestamp.range", "2020/01/01,NOW"),
            ("projection.timestamp.type", "date"),
            (
                "storage.location.template",
                "s3://bucket/AWSLogs/111122223333/CloudTrail/eu-west-1/${timestamp}",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        user_identity_type: Some(
            "struct<type:string,principalid:string,arn:string,accountid:string,invokedby:string,\
             accesskeyid:string,username:string,onbehalfof:struct<userid:string,\
             identitystorearn:string>,sessioncontext:struct<attributes:struct<\
             mfaauthenticated:string,creationdate:string>,sessionissuer:struct<type:string,\
             principalid:string,arn:string,accountid:string,username:string>,\
             ec2roledelivery:string,webidfederationdata:struct<federatedprovider:string,\
             attributes:map<string,string>>>>"
                .into(),
        ),
    };
    let partitions = shape.partitions();
    assert_eq!(
        partitions.date,
        Some(("timestamp".to_string(), "yyyy/MM/dd".to_string()))
    );
    assert_eq!(partitions.account, None);
    assert_eq!(partitions.region, None);
    let query = query(&shape, &scope(&["111122223333"], &[])).unwrap();
    assert!(
        query.sql.contains("recipientaccountid IN ('111122223333')"),
        "{}",
        query.sql
    );
    assert!(
        query
            .sql
            .contains("CAST(NULL AS varchar) AS \"identity_source_identity\""),
        "{}",
        query.sql
    );
    assert!(
        query.sql.contains("useridentity.onbehalfof.userid AS"),
        "{}",
        query.sql
    );
    let notes = query.notes.join("\n");
    assert!(notes.contains("no account partition key"), "{notes}");
    assert!(notes.contains("has no `sourceidentity`"), "{notes}");
}

#[test]
fn names_that_would_need_escaping_are_refused_before_any_sql() {
    let mut shape = spec(&["111122223333"]).shape();
    shape.table = "trail; DROP TABLE x".into();
    let error = query(&shape, &scope(&[], &[])).unwrap_err().to_string();
    assert!(error.contains("--table"), "{error}");
    let shape = spec(&["111122223333"]).shape();
    for (accounts, regions, flag) in [
        (&["1111'"][..], &[][..], "--accounts"),
        (&[][..], &["eu-west-1' OR 1=1"][..], "--regions"),
    ] {
        let error = query(&shape, &scope(accounts, regions))
            .unwrap_err()
            .to_string();
        assert!(error.contains(flag), "{error}");
    }
    let mut empty = scope(&[], &[]);
    empty.until = empty.since;
    let error = query(&shape, &empty).unwrap_err().to_string();
    assert!(error.contains("the window is empty"), "{error}");
}

#[test]
fn days_are_written_in_the_tables_format() {
    let at = parse_rfc3339("2026-02-03T23:59:59Z").unwrap();
    assert_eq!(date_partition(at, "yyyy/MM/dd").unwrap(), "2026/02/03");
    assert_eq!(date_partition(at, "yyyy-MM-dd").unwrap(), "2026-02-03");
    let error = date_partition(at, "yyyy/MM/dd/HH").unwrap_err().to_string();
    assert!(error.contains("`H`"), "{error}");
}

#[test]
fn a_query_costs_what_athena_bills() {
    // 10 MB at least, then by the megabyte, at 5 USD per TB.
    assert_eq!(query_cost_usd(0, 5.0), 10e6 / 1e12 * 5.0);
    // 11 MB at 5 USD per TB, to a millionth of a dollar (the product alone is
    // 5.4999999999999995e-5).
    assert_eq!(query_cost_usd(10_000_001, 5.0), 0.000055);
    assert_eq!(
        serde_json::to_string(&query_cost_usd(10_000_001, 5.0)).unwrap(),
        "0.000055"
    );
    assert!((query_cost_usd(2_000_000_000_000, 5.0) - 10.0).abs() < 1e-9);
}

fn create_session_record() -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:alice",
            "arn": "arn:aws:sts::111122223333:assumed-role/DataEngineer/alice",
            "accountId": "111122223333",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/DataEngineer"},
                "sourceIdentity": "alice@example.com"
            }
        },
        "eventTime": "2026-11-29T09:00:00Z",
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateSession",
        "awsRegion": "eu-west-1",
        "requestParameters": {"id": "s-1", "numberOfWorkers": 50, "workerType": "G.2X",
                               "command": {"name": "glueetl"}, "tags": {"team": "a \"quoted\" team"}},
        "responseElements": {"session": {"id": "s-1", "status": "PROVISIONING"}},
        "eventID": "e-1",
        "recipientAccountId": "111122223333"
    })
}

#[test]
fn a_row_is_rebuilt_into_the_record_it_was_read_from() {
    let record = create_session_record();
    let mut file = Vec::new();
    write_result(&mut file, [row_of(&record)]).unwrap();
    let text = String::from_utf8(file.clone()).unwrap();
    // Athena's quoting: values quoted, quotes doubled; NULL (no errorcode) empty.
    assert!(text.contains(r#"\""quoted\"""#), "{text}");
    assert!(text.contains(",,"), "{text}");
    let units: Vec<Opened> = Box::new(ResultRows {
        describe: "q".into(),
        name: "s3://results/q.csv".into(),
        reader: Box::new(std::io::Cursor::new(file)),
    })
    .units()
    .unwrap()
    .collect();
    let [Opened::Rows(chunk)] = &units[..] else {
        panic!("one chunk");
    };
    assert_eq!(
        (chunk.file.as_str(), chunk.first_row),
        ("s3://results/q.csv", 1)
    );
    let policy = policy::load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    fn verdict<J: policy::json::Json>(policy: &policy::Policy, record: &J) -> Value {
        let facts = policy::read_create_session(record).unwrap().facts(None);
        serde_json::to_value(policy::evaluate(policy, &facts)).unwrap()
    }
    // The record borrows the row: kept as JSON, with its verdict, to look at after.
    let mut rows = Vec::new();
    chunk.for_each_row(|row| {
        rows.push(match row {
            Row::Record(rebuilt) => Ok((Value::from(&rebuilt), verdict(&policy, &rebuilt))),
            other => Err(format!("{other:?}")),
        })
    });
    let [Ok((rebuilt, rebuilt_verdict))] = &rows[..] else {
        panic!("one record: {rows:?}");
    };
    for path in [
        &["eventTime"][..],
        &["eventName"],
        &["awsRegion"],
        &["recipientAccountId"],
        &["eventID"],
        &["requestParameters"],
        &["responseElements"],
        &["userIdentity", "arn"],
        &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
        &["userIdentity", "sessionContext", "sourceIdentity"],
    ] {
        let get = |v: &Value| path.iter().try_fold(v, |at, key| at.get(key)).cloned();
        assert_eq!(get(rebuilt), get(&record), "{path:?}");
    }
    assert!(rebuilt.get("errorCode").is_none());
    // The rebuilt record is judged as the original is.
    assert_eq!(*rebuilt_verdict, verdict(&policy, &record));
}

/// `rows` (with `header` first) read as Athena's CSV and rebuilt, each as JSON.
fn rebuilt(header: &[&str], rows: &[Vec<Option<String>>]) -> Vec<Value> {
    let mut text = Vec::new();
    let quoted = |field: &str| format!("\"{}\"", field.replace('"', "\"\""));
    let names: Vec<String> = header.iter().map(|name| quoted(name)).collect();
    writeln!(text, "{}", names.join(",")).unwrap();
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|field| field.as_deref().map(quoted).unwrap_or_default())
            .collect();
        writeln!(text, "{}", fields.join(",")).unwrap();
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&text[..]);
    let mut records = csv.byte_records().map(Result::unwrap);
    let header = Header::read(&records.next().unwrap()).unwrap();
    records
        .map(|row| Value::from(&header.record(&row).unwrap()))
        .collect()
}

#[test]
fn a_row_is_rebuilt_alike_whatever_the_order_of_its_columns() {
    let record = create_session_record();
    let names = column_names();
    let row = row_of(&record);
    let [in_order] = &rebuilt(&names, std::slice::from_ref(&row))[..] else {
        panic!("one record");
    };
    // Reversed, and a column the query does not select at the end: the same record (a header
    // that names one of the query's columns twice is refused: see the chunks' test).
    let mut reversed_names: Vec<&str> = names.iter().rev().copied().collect();
    reversed_names.push("other");
    let mut reversed: Vec<Option<String>> = row.iter().rev().cloned().collect();
    reversed.push(Some("DeleteSession".into()));
    let [out_of_order] = &rebuilt(&reversed_names, &[reversed])[..] else {
        panic!("one record");
    };
    assert_eq!(*out_of_order, *in_order);
    // No column of an object with a value (every identity column NULL): no object at all.
    let no_identity: Vec<Option<String>> = names
        .iter()
        .zip(&row)
        .map(|(name, field)| field.clone().filter(|_| !name.starts_with("identity_")))
        .collect();
    let [anonymous] = &rebuilt(&names, &[no_identity])[..] else {
        panic!("one record");
    };
    assert!(anonymous.get("userIdentity").is_none(), "{anonymous}");
    assert_eq!(anonymous["eventID"], in_order["eventID"]);
}

#[test]
fn records_end_only_at_newlines_outside_quotes() {
    let bytes = b"\"a\",\"b\"\n\"x\ny\",\"say \"\"hi\"\"\"\n\"open";
    // The newline inside "x\ny" ends nothing; the doubled quotes keep the parity.
    assert_eq!(last_record_end(bytes), (bytes.len() - 5, 2));
    assert_eq!(last_record_end(b"\"no end"), (0, 0));
}

/// The 64-byte masks find what a byte-by-byte reading finds, wherever the records' ends and
/// quotes fall against the blocks' edges.
#[test]
fn record_ends_by_blocks_match_a_byte_by_byte_reading() {
    fn byte_by_byte(bytes: &[u8]) -> (usize, u64) {
        let (mut inside, mut end, mut records) = (false, 0, 0);
        for (at, &byte) in bytes.iter().enumerate() {
            if byte == b'"' {
                inside = !inside;
            } else if byte == b'\n' && !inside {
                end = at + 1;
                records += 1;
            }
        }
        (end, records)
    }
    let pieces: [&[u8]; 6] = [
        b"\"a\",",
        b"\"x\ny\"",
        b"\n",
        b"\"say \"\"hi\"\"\"",
        b"plain",
        b"\"\n\"",
    ];
    let mut seed = 7u64;
    for length in 0..400 {
        let mut bytes = Vec::new();
        while bytes.len() < length {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            bytes.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        for cut in [length, length.saturating_sub(1), length / 2] {
            let bytes = &bytes[..cut.min(bytes.len())];
            assert_eq!(
                last_record_end(bytes),
                byte_by_byte(bytes),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

fn chunks_of(file: Vec<u8>) -> Vec<Opened> {
    Box::new(ResultRows {
        describe: "q".into(),
        name: "r.csv".into(),
        reader: Box::new(std::io::Cursor::new(file)),
    })
    .units()
    .unwrap()
    .collect()
}

/// The backtest of a result file `r.csv` holding `file`, under `policy`, as `--athena-result`
/// runs it.
fn backtest_of(file: Vec<u8>, policy: &policy::Policy) -> crate::history::report::Report {
    crate::history::backtest(
        Box::new(ResultRows {
            describe: "q".into(),
            name: "r.csv".into(),
            reader: Box::new(std::io::Cursor::new(file)),
        }),
        crate::history::Judges {
            policy,
            baseline: None,
            window: crate::history::Window::ALL,
        },
        &crate::history::Inputs {
            policy: "p.yaml".into(),
            action: policy::Action::Stop,
            history: "q".into(),
            baseline: None,
            price_per_dpu_hour: 0.44,
            jobs: Default::default(),
            athena: None,
        },
    )
    .unwrap()
}

#[test]
fn results_are_read_in_chunks_of_whole_records_and_damage_is_named() {
    let record = create_session_record();
    let mut odd = row_of(&record);
    // A value with a newline and quotes inside: still one row.
    odd[column_names()
        .iter()
        .position(|n| *n == "identity_principal")
        .unwrap()] = Some("AROA:line\nbreak \"q\"".into());
    let total = 9_000u64;
    let rows = (0..total).map(|i| {
        if i % 1000 == 7 {
            odd.clone()
        } else {
            row_of(&record)
        }
    });
    let mut file = Vec::new();
    write_result(&mut file, rows).unwrap();
    assert!(
        file.len() > 2 * CHUNK_BYTES,
        "several chunks: {}",
        file.len()
    );
    let units = chunks_of(file.clone());
    assert!(units.len() >= 3, "{}", units.len());
    let mut next = 1;
    for unit in &units {
        let Opened::Rows(chunk) = unit else {
            panic!("rows");
        };
        assert_eq!(chunk.first_row, next, "rows numbered across chunks");
        let mut count = 0;
        chunk.for_each_row(|row| {
            assert!(matches!(row, Row::Record(_)), "{row:?}");
            count += 1;
        });
        next += count;
    }
    assert_eq!(next - 1, total, "every row once");
    // Read as the backtest reads them, each chunk dropped (its buffer given back to be
    // reused) before the next is read: the same bytes, in order, each once.
    let mut again = Vec::new();
    let lazily = Box::new(ResultRows {
        describe: "q".into(),
        name: "r.csv".into(),
        reader: Box::new(std::io::Cursor::new(file.clone())),
    })
    .units()
    .unwrap();
    let mut buffers = std::collections::BTreeSet::new();
    let mut chunks = 0;
    for unit in lazily {
        let Opened::Rows(chunk) = unit else {
            panic!("rows");
        };
        again.extend_from_slice(&chunk.bytes);
        buffers.insert(chunk.bytes.as_ptr() as usize);
        chunks += 1;
    }
    let header_end = file.iter().position(|b| *b == b'\n').unwrap() + 1;
    assert_eq!(again, file[header_end..], "chunks reusing buffers");
    // Each chunk dropped before the next is read: its buffer is the next one's.
    assert!(
        buffers.len() < chunks && buffers.len() <= 2,
        "{} buffers for {chunks} chunks",
        buffers.len()
    );

    // A row with two fields: the rows before it are judged, the row is named as damage.
    let judges_policy = policy::load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    file.extend_from_slice(b"\"only\",\"two\"\n");
    let report = backtest_of(file, &judges_policy);
    assert_eq!(report.records, total);
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert!(
        report.damaged[0].file.starts_with("r.csv rows "),
        "{:?}",
        report.damaged
    );
    assert_eq!(
        report.damaged[0].reason,
        format!(
            "row {} has 2 fields, the header {}",
            total + 1,
            column_names().len()
        )
    );

    // A header that is not the query's.
    let error = Box::new(ResultRows {
        describe: "q".into(),
        name: "other.csv".into(),
        reader: Box::new(std::io::Cursor::new(b"\"a\",\"b\"\n".to_vec())),
    })
    .units()
    .err()
    .unwrap();
    assert!(
        format!("{error:#}").contains("lacks the columns eventtime"),
        "{error:#}"
    );
    // A trail's log file given as a result: said to be one, with the flag that reads it.
    let error = Box::new(ResultRows {
        describe: "q".into(),
        name: "trail.json".into(),
        reader: Box::new(std::io::Cursor::new(b" {\"Records\": []}\n".to_vec())),
    })
    .units()
    .err()
    .unwrap();
    assert!(
        format!("{error:#}").contains("trail.json holds JSON, not an Athena result")
            && format!("{error:#}").contains("--trail"),
        "{error:#}"
    );
    // A header that names a column twice (the query's, and eventname again): refused, not
    // read with one of the two.
    let mut twice = Vec::new();
    write_result(&mut twice, std::iter::empty()).unwrap();
    let header_end = twice.iter().position(|b| *b == b'\n').unwrap();
    twice.splice(header_end..header_end, b",\"eventname\"".iter().copied());
    let error = Box::new(ResultRows {
        describe: "q".into(),
        name: "twice.csv".into(),
        reader: Box::new(std::io::Cursor::new(twice)),
    })
    .units()
    .err()
    .unwrap();
    assert!(
        format!("{error:#}").contains("names the column eventname more than once"),
        "{error:#}"
    );
    // A result without its header: its first data row is shown as written, cut short.
    let row = format!(
        "\"2026-12-01T09:00:00Z\",\"glue.amazonaws.com\",\"{}\"\n",
        "X".repeat(300)
    );
    let error = Box::new(ResultRows {
        describe: "q".into(),
        name: "headless.csv".into(),
        reader: Box::new(std::io::Cursor::new(row.into_bytes())),
    })
    .units()
    .err()
    .unwrap();
    let said = format!("{error:#}");
    assert!(
        said.contains("(the first row: 2026-12-01T09:00:00Z,glue.amazonaws.com,XXX")
            && said.ends_with("…)"),
        "{said}"
    );
}

/// A result gzipped on its way (a download tool, an UNLOAD) is read as the plain file is:
/// the same report.
#[test]
fn a_gzipped_result_gives_the_plain_results_report() {
    use std::io::Write as _;
    let policy = policy::load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    let record = create_session_record();
    let mut plain = Vec::new();
    write_result(&mut plain, (0..5_000).map(|_| row_of(&record))).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&plain).unwrap();
    let gzipped = gzip.finish().unwrap();
    assert!(gzipped.starts_with(&[0x1f, 0x8b]));
    let from_plain = backtest_of(plain, &policy);
    let from_gzip = backtest_of(gzipped, &policy);
    assert_eq!(from_gzip.records, 5_000);
    assert!(from_gzip.damaged.is_empty(), "{:?}", from_gzip.damaged);
    assert_eq!(
        serde_json::to_value(&from_gzip).unwrap(),
        serde_json::to_value(&from_plain).unwrap()
    );
}

/// A gzipped result cut short in its last bytes (the gzip trailer: every row is there) gives
/// every row, and then its damage, counted with the result's chunks; a plain result that fits
/// one read is one chunk, its last row without a newline.
#[test]
fn a_result_cut_short_gives_every_whole_row_before_the_cut() {
    use std::io::Write as _;
    let policy = policy::load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
    )
    .unwrap();
    let record = create_session_record();
    let total = 9_000u64;
    let mut plain = Vec::new();
    write_result(&mut plain, (0..total).map(|_| row_of(&record))).unwrap();
    assert!(
        plain.len() > 2 * CHUNK_BYTES,
        "several chunks: {}",
        plain.len()
    );
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&plain).unwrap();
    let mut cut = gzip.finish().unwrap();
    cut.truncate(cut.len() - 8);
    let report = backtest_of(cut, &policy);
    assert_eq!(report.records, total, "every whole row judged");
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert_eq!(report.damaged[0].file, format!("r.csv after row {total}"));
    assert!(
        report.damaged[0].reason.starts_with("cannot be read: "),
        "{:?}",
        report.damaged
    );
    assert!(
        report.read_in_chunks(),
        "the failure is one of the result's chunks"
    );

    let mut small = Vec::new();
    write_result(&mut small, (0..3).map(|_| row_of(&record))).unwrap();
    while small.last() == Some(&b'\n') {
        small.pop();
    }
    let units = chunks_of(small.clone());
    assert_eq!(units.len(), 1, "one read, one chunk");
    assert_eq!(backtest_of(small, &policy).records, 3);
}

/// A result of its header alone (no row matched the query) is one chunk read, of no rows: the
/// report says the result was read, with no damage.
#[test]
fn a_result_of_its_header_alone_is_read_as_one_empty_chunk() {
    for ending in ["", "\n", "\r\n"] {
        let mut file = Vec::new();
        write_result(&mut file, std::iter::empty()).unwrap();
        file.extend_from_slice(ending.as_bytes());
        let units = chunks_of(file.clone());
        assert_eq!(units.len(), 1, "{ending:?}");
        let policy = policy::load_policy(
            "p.yaml",
            b"version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n",
        )
        .unwrap();
        let report = backtest_of(file, &policy);
        assert_eq!((report.records, report.chunks), (0, 1), "{ending:?}");
        assert!(report.damaged.is_empty(), "{:?}", report.damaged);
        assert_eq!(
            crate::history::text::units(&report),
            "the result in 1 chunk"
        );
    }
}

#[test]
fn a_row_whose_json_does_not_parse_says_which_column() {
    let mut row = row_of(&create_session_record());
    let at = column_names()
        .iter()
        .position(|n| *n == "requestparameters")
        .unwrap();
    row[at] = Some("{not json".into());
    let mut file = Vec::new();
    write_result(&mut file, [row]).unwrap();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&file[..]);
    let mut records = csv.byte_records();
    let header = Header::read(&records.next().unwrap().unwrap()).unwrap();
    let error = header
        .record(&records.next().unwrap().unwrap())
        .unwrap_err();
    assert!(
        error.starts_with("requestparameters is not JSON"),
        "{error}"
    );
}

#[test]
fn the_table_is_the_documented_one_with_projection_over_the_organization_trail() {
    let ddl = spec(&["111122223333"]).create_table();
    for needle in [
        "CREATE EXTERNAL TABLE IF NOT EXISTS security.org_trail (",
        "PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)",
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'",
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'",
        "LOCATION 's3://org-trail-bucket/AWSLogs/o-a1b2c3d4e5/'",
        "'storage.location.template'='s3://org-trail-bucket/AWSLogs/o-a1b2c3d4e5/${account}/CloudTrail/${region}/${timestamp}'",
        "'projection.timestamp.range'='2025/01/01,NOW'",
        "'projection.account.values'='111122223333'",
        "'projection.region.values'='eu-west-1,us-east-1'",
        "sourceidentity: STRING",
        "requestparameters STRING",
    ] {
        assert!(ddl.contains(needle), "{needle}\n{ddl}");
    }
    spec(&[]).check().unwrap();
    let mut bad = spec(&[]);
    bad.organization_id = Some("org-1".into());
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("--organization-id")
    );
    let mut bad = spec(&[]);
    bad.trail = "org-trail-bucket".into();
    assert!(bad.check().unwrap_err().to_string().contains("s3://"));
    // S3's bucket names, folders between single slashes, and the folder above AWSLogs/ (the
    // table adds it: given, the location would hold AWSLogs/ twice and find nothing).
    for (trail, fine) in [
        ("s3://org-trail-bucket/", true),
        ("s3://org-trail-bucket/central/logs", true),
        ("s3://a.b-c1", true),
        ("s3://Org_Trail_2017", true),
        ("s3://org-trail-bucket/awslogs-copy/awslogs", true),
        ("s3://Org Trail", false),
        ("s3://ab", false),
        ("s3://-trail", false),
        ("s3://trail-", false),
        ("s3://my..trail", false),
        ("s3://org-trail-bucket//x", false),
        ("s3://org-trail-bucket/x y", false),
    ] {
        let mut spec = spec(&[]);
        spec.trail = trail.into();
        assert_eq!(spec.check().is_ok(), fine, "{trail}");
    }
    for (trail, above) in [
        ("s3://org-trail-bucket/AWSLogs/", "s3://org-trail-bucket)"),
        (
            "s3://org-trail-bucket/central/AWSLogs/o-a1b2c3d4e5",
            "s3://org-trail-bucket/central)",
        ),
    ] {
        let mut spec = spec(&[]);
        spec.trail = trail.into();
        let error = spec.check().unwrap_err().to_string();
        assert!(
            error.contains(&format!("above AWSLogs/ ({above}")),
            "{error}"
        );
    }
    // A day of the calendar, and each account and Region once (as `history.athena` wants).
    for (day, fine) in [
        ("2024/02/29", true),
        ("2024/13/01", false),
        ("2024/02/30", false),
        ("2023/02/29", false),
        ("2024-02-01", false),
    ] {
        let mut spec = spec(&[]);
        spec.first_day = day.into();
        assert_eq!(spec.check().is_ok(), fine, "{day}");
    }
    let twice = spec(&["111122223333", "111122223333"]).check().unwrap_err();
    assert!(
        twice
            .to_string()
            .contains("--accounts: \"111122223333\" is listed twice")
    );
    let mut twice = spec(&[]);
    twice.regions = vec!["eu-west-1".into(), "eu-west-1".into()];
    assert!(twice.check().unwrap_err().to_string().contains("--regions"));
    // Regions of two partitions: no organization spans them (the table and a backtest's scope).
    let mut mixed = spec(&[]);
    mixed.regions = vec!["eu-west-1".into(), "cn-north-1".into()];
    let said = mixed.check().unwrap_err().to_string();
    assert!(
        said.contains("--regions \"cn-north-1\" is in the partition aws-cn, \"eu-west-1\" in aws"),
        "{said}"
    );
    let said = scope(&["111122223333"], &["us-gov-west-1", "us-east-1"])
        .check()
        .unwrap_err()
        .to_string();
    assert!(said.contains("one partition"), "{said}");
    assert!(
        scope(&["111122223333"], &["cn-north-1", "cn-northwest-1"])
            .check()
            .is_ok()
    );
    // The DDL says when each backtest must name its accounts.
    assert!(
        spec(&[])
            .create_table()
            .contains("-- Its accounts are injected")
    );
    assert!(
        !spec(&["111122223333"])
            .create_table()
            .contains("injected: each")
    );
    // The query reads the table it renders: account, Region and day found in the template.
    let partitions = spec(&[]).shape().partitions();
    assert_eq!(partitions.account, Some(("account".into(), true)));
    assert_eq!(partitions.region, Some(("region".into(), false)));
}

#[test]
fn a_first_day_that_does_not_exist_says_why() {
    let mut table = spec(&["111122223333"]);
    table.first_day = "2025/02/30".into();
    let refused = table.check().unwrap_err().to_string();
    assert_eq!(
        refused,
        "--first-day \"2025/02/30\" does not exist: February 2025 has 28 days, not 30"
    );
    table.first_day = "2025-1-01".into();
    assert!(
        table
            .check()
            .unwrap_err()
            .to_string()
            .contains("a day of the calendar")
    );
}
