//! One reading of records, whatever tree holds them: every reader in `policy` must give the same
//! answer over `serde_json::Value` (the Lambda, Glue's answers) and over the borrowed tree
//! (`policy::json::Borrowed`, every record a backtest reads). Checked over every fixture and
//! sample, and over each of them with every field replaced by values of each JSON kind.

use std::path::Path;

use policy::json::{Borrowed, Json};
use policy::{
    facts_from_glue_job, facts_from_glue_job_run, facts_from_glue_session, is_job_event,
    read_create_session, read_job_record,
};
use serde_json::{Value, json};

/// Every JSON input the tests hold: realworld fixtures, hostile ones, policy samples.
fn inputs() -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("tests/fixtures/realworld"),
        root.join("tests/fixtures/hostile"),
        root.join("../policies/samples"),
    ] {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            // A hostile fixture may not be JSON at all: nothing to compare.
            if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
                out.push((path.display().to_string(), value));
            }
        }
    }
    assert!(out.len() >= 30, "{} inputs", out.len());
    out
}

/// The records in an input: the input itself, and each element of a `Records` array.
fn records(input: &Value) -> Vec<Value> {
    let mut out = vec![input.clone()];
    if let Some(items) = input.get("Records").and_then(Value::as_array) {
        out.extend(items.iter().cloned());
    }
    out
}

/// Every reader's answer over `tree`, as text to compare.
fn answers<J: Json>(tree: &J) -> Vec<String> {
    vec![
        format!("{:?}", read_create_session(tree)),
        format!("{:?}", read_job_record(tree)),
        format!("{:?}", is_job_event(tree)),
        format!("{:?}", facts_from_glue_session(tree)),
        format!("{:?}", facts_from_glue_job(tree)),
        format!("{:?}", facts_from_glue_job_run(tree)),
    ]
}

/// `record` read both ways must answer alike.
fn check(name: &str, record: &Value) {
    let text = serde_json::to_string(record).unwrap();
    let borrowed: Borrowed<'_> = serde_json::from_str(&text).unwrap();
    assert_eq!(answers(record), answers(&borrowed), "{name}: {text}");
}

#[test]
fn every_input_reads_alike_from_both_trees() {
    let mut read = 0;
    for (name, input) in inputs() {
        for record in records(&input) {
            check(&name, &record);
            read += 1;
        }
    }
    assert!(read >= 40, "{read} records");
}

/// Values of each kind JSON has, including the readers' edge cases (numbers as text, empty
/// text, negative and fractional numbers, huge integers).
fn replacements() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-3),
        json!(2.5),
        json!(18446744073709551615u64),
        json!(""),
        json!("7"),
        json!(" 7.0 "),
        json!("G.2X"),
        json!([]),
        json!(["a", 1]),
        json!({}),
        json!({"connections": ["vpc"], "Connections": null, "name": "glueetl"}),
    ]
}

/// Each field at every depth of `value`, replaced by each of [`replacements`], one at a time.
fn mutations(value: &Value, each: &mut dyn FnMut(Value)) {
    fn walk(root: &Value, path: &mut Vec<String>, each: &mut dyn FnMut(Value)) {
        let here = path.iter().try_fold(root, |at, key| at.get(key)).cloned();
        let Some(Value::Object(map)) = here else {
            return;
        };
        for key in map.keys() {
            path.push(key.clone());
            for replacement in replacements() {
                let mut changed = root.clone();
                let mut at = &mut changed;
                for step in path.iter() {
                    at = at.get_mut(step).unwrap();
                }
                *at = replacement;
                each(changed);
            }
            walk(root, path, each);
            path.pop();
        }
    }
    walk(value, &mut Vec::new(), each);
}

#[test]
fn every_field_of_every_kind_reads_alike_from_both_trees() {
    let mut read = 0;
    for (name, input) in inputs() {
        for record in records(&input)
            .iter()
            .filter(|r| r.get("Records").is_none())
        {
            mutations(record, &mut |changed| {
                check(&name, &changed);
                read += 1;
            });
        }
    }
    assert!(read > 10_000, "{read} mutated records");
}

/// A repeated key: both trees keep its last value, as `serde_json::Value` does.
#[test]
fn a_repeated_key_reads_as_its_last_value_from_both_trees() {
    let text = r#"{"eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
        "userIdentity": {"arn": "arn:aws:iam::111122223333:user/a"},
        "requestParameters": {"id": "s-1", "numberOfWorkers": 2, "numberOfWorkers": 50,
            "command": {"name": "glueetl"}, "workerType": "G.1X"},
        "responseElements": {"session": {"id": "s-1"}}}"#;
    let owned: Value = serde_json::from_str(text).unwrap();
    let borrowed: Borrowed<'_> = serde_json::from_str(text).unwrap();
    let facts = read_create_session(&borrowed).unwrap().request;
    assert_eq!(facts.number_of_workers, policy::Fact::Given(50));
    assert_eq!(answers(&owned), answers(&borrowed));
}
