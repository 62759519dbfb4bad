//! `backtest --athena`, end to end, with real components on both sides of the query:
//!
//! - The SQL on a real engine: the query the backtest sends to Athena is transpiled from
//!   Athena's dialect (Trino) to DuckDB's with sqlglot and run by DuckDB over the very trail
//!   files the file backtest reads (`tools/athena_local.py`, AWS's CloudTrail table as a view).
//! - The API contract against moto: the Glue Data Catalog table (`GetTable`), the workgroup
//!   (`GetWorkGroup`), `StartQueryExecution`, `GetQueryExecution`, and the result file read from
//!   moto's S3. moto runs no query: it returns the rows a test seeds through its own API
//!   (`/moto-api/static/athena/query-results`) and writes them to the result location; the test
//!   seeds DuckDB's rows. moto writes each value between quotes without doubling the quotes
//!   inside (Athena doubles them, RFC 4180), so the test seeds them doubled.
//!
//! Then the Athena path and the file path must give the same report (but for what was read:
//! the files and records counts, the history's name, the Athena figures).
//! What moto lacks (a failed or cancelled query, bytes scanned, a workgroup's own result
//! location) is tested with aws-smithy-mocks in `xtask-aws/src/athena.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use xtask::history::athena::{self, Scope, TableSpec};
use xtask::history::source::ResultRows;
use xtask::history::{Inputs, Judges, TrailFolders, Window};
use xtask::tools::Moto;
use xtask_aws::athena::AthenaBacktest;
use xtask_aws::aws::{Aws, AwsArgs};

const ORG: &str = "o-a1b2c3d4e5";
const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const RESULTS_BUCKET: &str = "athena-results";

fn identity(account: &str, role: &str, person: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE:{person}"),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{person}"),
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{role}"),
                              "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-11-02T08:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

fn base(n: usize, account: &str, region: &str, time: &str, source: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": identity(account, ["DataEngineer", "Analyst", "MLTrainingJobs"][n % 3], &format!("user{}", n % 5)),
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-sdk-python/1.35 Boto3",
        "requestID": format!("req-{n}"),
        "eventID": format!("ev-{n}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    })
}

/// Record `n` of the generated history, at `time` in `account` and `region`: sessions of every
/// size (some with quotes and commas in their tags), their ends, failed calls, job definitions
/// and runs, and other services' records.
fn record(n: usize, account: &str, region: &str, time: &str) -> Value {
    let session = format!("s-{account}-{n}");
    match n % 9 {
        0..=2 => {
            let mut r = base(
                n,
                account,
                region,
                time,
                "glue.amazonaws.com",
                "CreateSession",
            );
            let mut request = json!({
                "id": session,
                "role": format!("arn:aws:iam::{account}:role/GlueInteractiveSessionRole"),
                "command": {"name": "glueetl", "pythonVersion": "3"},
                "glueVersion": (["4.0", "5.0", "3.0"][n % 3]),
                "numberOfWorkers": ([2, 10, 40, 100][n % 4]),
                "workerType": (["G.1X", "G.2X", "G.4X"][n % 3]),
                "tags": {"team": (["data, \"core\"", "ml", "bi"][n % 3])},
            });
            if n.is_multiple_of(2) {
                request["timeout"] = json!([60, 480, 2880][n % 3]);
            }
            if n.is_multiple_of(9) {
                // Within every boundary of policies/default.yaml.
                request["numberOfWorkers"] = json!(2);
                request["workerType"] = json!("G.1X");
                request["glueVersion"] = json!("5.0");
                request["timeout"] = json!(60);
                request["idleTimeout"] = json!(30);
                request["connections"] = json!({"connections": ["private-vpc"]});
                request["tags"] = json!({"owner": format!("user{}", n % 5), "team": "bi"});
            }
            r["requestParameters"] = request;
            r["responseElements"] = json!({"session": {"id": session, "status": "PROVISIONING"}});
            if n.is_multiple_of(11) {
                r["errorCode"] = json!("AccessDeniedException");
                r["errorMessage"] = json!("User is not authorized");
                r["responseElements"] = Value::Null;
            }
            r
        }
        3 => {
            let mut r = base(
                n,
                account,
                region,
                time,
                "glue.amazonaws.com",
                "StopSession",
            );
            let earlier = format!("s-{account}-{}", n - 3);
            r["requestParameters"] = json!({"id": earlier});
            r["responseElements"] = json!({"id": earlier});
            r
        }
        4 => {
            let mut r = base(n, account, region, time, "glue.amazonaws.com", "CreateJob");
            r["requestParameters"] = json!({
                "name": format!("nightly-{}", n % 4),
                "role": format!("arn:aws:iam::{account}:role/GlueJobRole"),
                "command": {"name": "glueetl", "scriptLocation": "s3://scripts/job.py"},
                "glueVersion": "5.0", "workerType": "G.2X", "numberOfWorkers": ([5, 60][n % 2]),
                "timeout": 120
            });
            r["responseElements"] = json!({"name": format!("nightly-{}", n % 4)});
            r
        }
        5 => {
            let mut r = base(
                n,
                account,
                region,
                time,
                "glue.amazonaws.com",
                "StartJobRun",
            );
            r["requestParameters"] = json!({"jobName": format!("nightly-{}", (n + 3) % 4),
                                             "numberOfWorkers": ([10, 200][n % 2])});
            r["responseElements"] = json!({"jobRunId": format!("jr_{n:064x}")});
            r
        }
        6 => {
            let mut r = base(n, account, region, time, "glue.amazonaws.com", "GetTable");
            r["requestParameters"] = json!({"databaseName": "analytics", "name": "events"});
            r
        }
        7 => {
            let mut r = base(n, account, region, time, "s3.amazonaws.com", "GetObject");
            r["requestParameters"] =
                json!({"bucketName": "landing", "key": "glue.amazonaws.com/x"});
            r
        }
        _ => {
            let mut r = base(n, account, region, time, "kms.amazonaws.com", "Decrypt");
            r["requestParameters"] = json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
            r
        }
    }
}

/// An organization trail's files under `root`: three accounts, two Regions, the last days of
/// October to the first of December (the window is November), one file per account, Region and
/// day (gzipped, as a trail writes them), plus a file written just after midnight holding the
/// day before's last events, and a digest.
fn write_trail(root: &Path) {
    let mut n = 0;
    for (a, account) in ACCOUNTS.iter().enumerate() {
        for (r, region) in REGIONS.iter().enumerate() {
            for day in [
                "2026/10/31",
                "2026/11/01",
                "2026/11/15",
                "2026/11/30",
                "2026/12/01",
            ] {
                let folder =
                    root.join(format!("AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day}"));
                std::fs::create_dir_all(&folder).unwrap();
                let date = day.replace('/', "-");
                let records: Vec<Value> = (0..18)
                    .map(|i| {
                        n += 1;
                        let time =
                            format!("{date}T{:02}:{:02}:00Z", (i + a + r) % 24, (i * 7) % 60);
                        record(n, account, region, &time)
                    })
                    .collect();
                let file = folder.join(format!(
                    "{account}_CloudTrail_{region}_{}.json.gz",
                    date.replace('-', "")
                ));
                let mut gz = flate2::write::GzEncoder::new(
                    std::fs::File::create(file).unwrap(),
                    flate2::Compression::fast(),
                );
                serde_json::to_writer(&mut gz, &json!({"Records": records})).unwrap();
                gz.finish().unwrap();
            }
            // 2026-11-30T23:58 delivered into 2026/12/01's folder: inside the window.
            let late = root.join(format!(
                "AWSLogs/{ORG}/{account}/CloudTrail/{region}/2026/12/01"
            ));
            n += 9 - n % 9; // a CreateSession
            let record = record(n, account, region, "2026-11-30T23:58:00Z");
            std::fs::write(
                late.join(format!("{account}_late.json")),
                serde_json::to_vec(&json!({"Records": [record]})).unwrap(),
            )
            .unwrap();
        }
    }
    let digest = root.join(format!(
        "AWSLogs/{ORG}/{}/CloudTrail-Digest/eu-west-1/2026/11/15",
        ACCOUNTS[0]
    ));
    std::fs::create_dir_all(&digest).unwrap();
    std::fs::write(digest.join("d.json.gz"), b"{}").unwrap();
}

fn spec() -> TableSpec {
    TableSpec {
        database: "security".into(),
        table: "org_trail".into(),
        trail: "s3://org-trail".into(),
        organization_id: Some(ORG.into()),
        accounts: ACCOUNTS.iter().map(|a| a.to_string()).collect(),
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        first_day: "2026/01/01".into(),
    }
}

fn scope(accounts: &[&str]) -> Scope {
    Scope {
        since: 1_793_491_200, // 2026-11-01T00:00:00Z
        until: 1_796_083_200, // 2026-12-01T00:00:00Z
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        regions: vec![],
    }
}

fn window(scope: &Scope) -> Window {
    Window {
        since: Some(scope.since),
        until: Some(scope.until),
    }
}

fn inputs() -> Inputs {
    Inputs {
        policy: "policies/default.yaml".into(),
        action: policy::Action::Stop,
        history: Default::default(),
        baseline: None,
        price_per_dpu_hour: 0.44,
        jobs: Default::default(),
        athena: None,
    }
}

/// The report without what differs by construction between the two paths.
fn comparable(report: &xtask::history::Report) -> Value {
    let mut value = serde_json::to_value(report).unwrap();
    let object = value.as_object_mut().unwrap();
    // What was read differs (the query returns only the window's Glue records), not what was
    // judged.
    for key in [
        "history",
        "files",
        "chunks",
        "records",
        "outside_window",
        "athena",
    ] {
        object.remove(key);
    }
    value
}

/// DuckDB's rows for `sql` over the trail under `root`, as Athena's result file.
fn duckdb_result(root: &Path, sql: &str) -> Vec<u8> {
    let query = root.join("query.sql");
    let out = root.join("result.csv");
    std::fs::write(&query, sql).unwrap();
    let status = std::process::Command::new(xtask::tools::venv_bin("python"))
        .arg(xtask::paths::root().join("tools/athena_local.py"))
        .args(["--database", "security", "--table", "org_trail"])
        .arg("--trail")
        .arg(root.join("AWSLogs"))
        .arg("--query")
        .arg(&query)
        .arg("--out")
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("tools/athena_local.py runs (cargo xtask setup installs duckdb and sqlglot)");
    assert!(status.success(), "athena_local.py failed");
    std::fs::read(out).unwrap()
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("gsg-athena-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// The query DuckDB runs over the files gives, row for row, the report the files give.
#[test]
fn the_query_on_a_real_engine_gives_the_file_report() {
    let dir = scratch("engine");
    write_trail(&dir.0);
    let policy =
        xtask::paths::load_policy(&xtask::paths::policies_dir().join("default.yaml")).unwrap();
    let shape = spec().shape();
    for accounts in [&[][..], &[ACCOUNTS[0], ACCOUNTS[2]][..]] {
        let scope = scope(accounts);
        let judges = Judges {
            policy: &policy,
            baseline: None,
            window: window(&scope),
        };
        // The file path, over the accounts asked for.
        let folders: Vec<PathBuf> = if accounts.is_empty() {
            vec![dir.0.join("AWSLogs")]
        } else {
            accounts
                .iter()
                .map(|a| dir.0.join(format!("AWSLogs/{ORG}/{a}")))
                .collect()
        };
        let files = xtask::history::backtest(
            Box::new(TrailFolders::new(folders).unwrap()),
            judges,
            &inputs(),
        )
        .unwrap();
        assert!(files.sessions > 20, "{}", files.sessions);
        assert!(
            files.violations > 0 && files.compliant > 0,
            "{} stopped, {} compliant, {} exempt",
            files.violations,
            files.compliant,
            files.exempt
        );
        assert_eq!(
            files.by_account.len(),
            if accounts.is_empty() {
                ACCOUNTS.len()
            } else {
                accounts.len()
            }
        );
        assert_eq!(files.by_region.len(), 2);

        let query = athena::query(&shape, &scope).unwrap();
        let result = duckdb_result(&dir.0, &query.sql);
        let rows = Box::new(ResultRows {
            describe: "duckdb".into(),
            name: "result.csv".into(),
            reader: Box::new(std::io::Cursor::new(result)),
        });
        let athena = xtask::history::backtest(rows, judges, &inputs()).unwrap();
        assert_eq!(
            comparable(&athena),
            comparable(&files),
            "accounts {accounts:?}"
        );
        // Only Glue's records of the window were read: far fewer than the files hold.
        assert!(
            athena.records < files.records / 2,
            "{} of {}",
            athena.records,
            files.records
        );
    }
}

/// Seeds moto's Athena with the rows of a result file (header first, as `GetQueryResults`
/// gives them), quotes doubled for moto's CSV writer.
fn seed(endpoint: &str, result: &[u8]) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(result);
    let rows: Vec<Value> = reader
        .records()
        .map(|row| {
            let data: Vec<Value> = row
                .unwrap()
                .iter()
                .map(|field| match field {
                    "" => json!({}),
                    text => json!({"VarCharValue": text.replace('"', "\"\"")}),
                })
                .collect();
            json!({"Data": data})
        })
        .collect();
    let columns: Vec<Value> = athena::column_names()
        .iter()
        .map(|name| json!({"Name": name, "Type": "varchar", "CatalogName": "hive", "SchemaName": "", "TableName": "", "Label": name, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": true}))
        .collect();
    xtask::tools::moto_api(
        endpoint,
        "/moto-api/static/athena/query-results",
        &json!({"account_id": "123456789012", "region": "eu-west-1",
                "results": [{"rows": rows, "column_info": columns}]}),
    )
    .unwrap();
}

/// The whole Athena path against moto: the table and workgroup read, the bill guarded, the
/// query sent as built, its result read from S3 and judged as the files are.
#[test]
fn the_athena_path_against_moto_gives_the_file_report() {
    // SAFETY: any credentials do for the emulator; every test that sets them sets the same.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let dir = scratch("moto");
    write_trail(&dir.0);
    let moto = Moto::start().unwrap();
    let runtime = Arc::new(xtask_aws::aws::tokio_runtime().unwrap());
    let aws = runtime
        .block_on(Aws::load(
            &AwsArgs {
                policy: xtask::paths::policies_dir().join("default.yaml"),
                region: Some("eu-west-1".into()),
                aws_profile: None,
                endpoint_url: Some(moto.endpoint.clone()),
            },
            None,
        ))
        .unwrap();
    let spec = spec();
    runtime.block_on(async {
        let s3 = aws.s3();
        s3.create_bucket()
            .bucket(RESULTS_BUCKET)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let glue = aws.glue();
        glue.create_database()
            .database_input(
                aws_sdk_glue::types::DatabaseInput::builder()
                    .name("security")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        create_table(&glue, "org_trail", &spec.shape()).await;
        // The same trail as `render --athena-table` makes it without --accounts: its account
        // key injected.
        let injected = TableSpec {
            accounts: vec![],
            ..spec.clone()
        };
        create_table(&glue, "org_trail_injected", &injected.shape()).await;
        let athena = aws.athena();
        for (name, cutoff) in [("backtest", Some(10_000_000_000i64)), ("unbounded", None)] {
            athena
                .create_work_group()
                .name(name)
                .configuration(
                    aws_sdk_athena::types::WorkGroupConfiguration::builder()
                        .set_bytes_scanned_cutoff_per_query(cutoff)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    });
    let clients = AthenaBacktest {
        athena: aws.athena(),
        glue: aws.glue(),
        s3: aws.s3(),
        organizations: aws.organizations(),
        runtime: runtime.clone(),
        poll: std::time::Duration::from_millis(50),
        endpoint_url: Some(moto.endpoint.clone()),
    };
    let policy =
        xtask::paths::load_policy(&xtask::paths::policies_dir().join("default.yaml")).unwrap();
    let scope = scope(&[]);
    let judges = Judges {
        policy: &policy,
        baseline: None,
        window: window(&scope),
    };

    // The table as moto's catalog holds it reads as the table rendered.
    let shape = clients.table("security", "org_trail").unwrap();
    assert_eq!(shape.partitions(), spec.shape().partitions());
    // The query `--dry-run --offline` prints (for the table as `render --athena-table` makes
    // it, read from nowhere) is the one a run builds from the catalog's table, for the same
    // scope; without accounts it refuses (a rendered table may inject them), where this table
    // projects its own.
    let named = Scope {
        accounts: ACCOUNTS.iter().map(|a| a.to_string()).collect(),
        ..scope.clone()
    };
    let offline = athena::rendered_table_shape("security", "org_trail", &named).unwrap();
    assert_eq!(
        athena::query(&offline, &named).unwrap().sql,
        athena::query(&shape, &named).unwrap().sql
    );
    let offline = athena::rendered_table_shape("security", "org_trail", &scope).unwrap();
    assert!(athena::query(&offline, &scope).is_err());
    assert!(athena::query(&shape, &scope).is_ok());
    let missing = clients.table("security", "nope").unwrap_err();
    assert!(
        format!("{missing:#}").contains("render --athena-table"),
        "{missing:#}"
    );
    assert!(
        format!("{missing:#}").contains("is not in eu-west-1's Glue Data Catalog"),
        "the Region it looked in: {missing:#}"
    );

    // The settings come from the policy's `history.athena` where no flag gives them.
    let policy_file = dir.0.join("policy.yaml");
    let default_policy =
        std::fs::read_to_string(xtask::paths::policies_dir().join("default.yaml")).unwrap();
    std::fs::write(
        &policy_file,
        format!(
            "{default_policy}\nhistory:\n  athena:\n    database: security\n    table: org_trail\n    \
             workgroup: unbounded\n    output_location: s3://{RESULTS_BUCKET}/backtest/\n    \
             max_scan_gb: 5\n    days: 30\n"
        ),
    )
    .unwrap();
    let section = xtask::paths::load_policy(&policy_file)
        .unwrap()
        .history
        .and_then(|history| history.athena)
        .expect("the section reads back");
    let mut args = history_args(&moto.endpoint, &policy_file);
    let settings = |args: &xtask::history::HistoryArgs| args.athena.settings(Some(&section));
    assert_eq!(
        (settings(&args).database, settings(&args).table),
        ("security".to_string(), "org_trail".to_string())
    );
    // The bill: the section's workgroup has no per-query limit and is refused before anything
    // runs.
    let refused = clients
        .prepare(&settings(&args), &scope)
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("`unbounded` sets no per-query data limit"),
        "{refused}"
    );
    // A flag wins over the section: this workgroup bounds its queries at 10 GB, more than the
    // section's max_scan_gb.
    args.athena.workgroup = Some("backtest".into());
    let refused = clients
        .prepare(&settings(&args), &scope)
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("up to 10.0 GB, more than max_scan_gb 5"),
        "{refused}"
    );
    args.athena.max_scan_gb = Some(100.0);
    let prepared = clients.prepare(&settings(&args), &scope).unwrap();
    assert_eq!(
        prepared.output_location.as_deref(),
        Some("s3://athena-results/backtest/")
    );

    // A table that injects its accounts (rendered without --accounts), and no accounts named:
    // the query names the organization's, from Organizations ListAccounts. Where that does not
    // answer (here: no organization yet), the refusal says what to give.
    let mut injected = settings(&args);
    injected.table = "org_trail_injected".into();
    let refused = format!("{:#}", clients.prepare(&injected, &scope).err().unwrap());
    assert!(
        refused.contains("give --accounts") && refused.contains("Organizations ListAccounts"),
        "{refused}"
    );
    let members = runtime.block_on(async {
        let organizations = aws.organizations();
        let created = organizations
            .create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .unwrap();
        let mut ids = vec![
            created
                .organization()
                .and_then(|o| o.master_account_id())
                .unwrap()
                .to_string(),
        ];
        for n in 0..2 {
            let status = organizations
                .create_account()
                .account_name(format!("member-{n}"))
                .email(format!("member-{n}@example.com"))
                .send()
                .await
                .unwrap();
            let status = status.create_account_status().unwrap();
            ids.push(status.account_id().unwrap().to_string());
        }
        ids.sort();
        ids
    });
    let listed = clients.prepare(&injected, &scope).unwrap();
    let named: Vec<String> = members.iter().map(|id| format!("'{id}'")).collect();
    assert!(
        listed
            .query
            .sql
            .contains(&format!("IN ({})", named.join(", "))),
        "the organization's accounts {members:?}: {}",
        listed.query.sql
    );
    assert!(
        listed.query.notes[0].contains("names the organization's 3 accounts"),
        "{:?}",
        listed.query.notes
    );
    // Accounts named are the query's, whatever the organization holds.
    let one = Scope {
        accounts: vec![ACCOUNTS[0].to_string()],
        ..scope.clone()
    };
    let named_one = clients.prepare(&injected, &one).unwrap();
    assert!(
        named_one
            .query
            .sql
            .contains(&format!("IN ('{}')", ACCOUNTS[0])),
        "{}",
        named_one.query.sql
    );

    // The query runs (moto answers with DuckDB's rows of the same query), its result is read
    // from S3 and judged.
    let result = duckdb_result(&dir.0, &prepared.query.sql);
    seed(&moto.endpoint, &result);
    let (id, location, scanned) = clients.run(&prepared, "security").unwrap();
    assert_eq!(location, format!("s3://{RESULTS_BUCKET}/backtest/{id}.csv"));
    assert_eq!(scanned, 0, "moto scans nothing");
    let sent = runtime
        .block_on(
            clients
                .athena
                .get_query_execution()
                .query_execution_id(&id)
                .send(),
        )
        .unwrap();
    let sent = sent.query_execution().unwrap();
    assert_eq!(
        sent.query(),
        Some(prepared.query.sql.as_str()),
        "the query as built"
    );
    assert_eq!(sent.work_group(), Some("backtest"));
    assert_eq!(
        sent.query_execution_context().and_then(|c| c.database()),
        Some("security")
    );
    let reader = clients.result(&location).unwrap();
    let from_athena = xtask::history::backtest(
        Box::new(ResultRows {
            describe: xtask::history::source::Described::words("Athena query ")
                .and_name(id.clone()),
            name: location,
            reader,
        }),
        judges,
        &inputs(),
    )
    .unwrap();
    let from_files = xtask::history::backtest(
        Box::new(TrailFolders::new(vec![dir.0.join("AWSLogs")]).unwrap()),
        judges,
        &inputs(),
    )
    .unwrap();
    assert!(from_athena.damaged.is_empty(), "{:?}", from_athena.damaged);
    assert_eq!(comparable(&from_athena), comparable(&from_files));
    assert_eq!(from_athena.by_account.len(), 3);
    // The files hold Glue calls outside the window, read and counted; the query left them out.
    assert!(from_files.outside_window > 0);
    assert_eq!(from_athena.outside_window, 0);
}

/// A table in moto's Glue Data Catalog as `shape` describes it.
async fn create_table(glue: &aws_sdk_glue::Client, name: &str, shape: &athena::TableShape) {
    let column = |name: &str, kind: &str| {
        aws_sdk_glue::types::Column::builder()
            .name(name)
            .r#type(kind)
            .build()
            .unwrap()
    };
    glue.create_table()
        .database_name("security")
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name(name)
                .table_type("EXTERNAL_TABLE")
                .set_partition_keys(Some(
                    shape
                        .partition_keys
                        .iter()
                        .map(|k| column(k, "string"))
                        .collect(),
                ))
                .set_parameters(Some(shape.parameters.clone().into_iter().collect()))
                .storage_descriptor(
                    aws_sdk_glue::types::StorageDescriptor::builder()
                        .columns(column(
                            "useridentity",
                            shape.user_identity_type.as_deref().unwrap(),
                        ))
                        .columns(column("eventtime", "string"))
                        .location("s3://org-trail/AWSLogs/o-a1b2c3d4e5/")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn history_args(endpoint: &str, policy: &Path) -> xtask::history::HistoryArgs {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: xtask::history::HistoryArgs,
    }
    Cli::parse_from([
        "backtest",
        "--policy",
        policy.to_str().unwrap(),
        "--athena",
        "--since",
        "2026-11-01",
        "--until",
        "2026-12-01",
        "--region",
        "eu-west-1",
        "--endpoint-url",
        endpoint,
    ])
    .args
}
