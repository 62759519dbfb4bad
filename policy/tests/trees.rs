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

/// Every record that is one record (not a whole log file), with the input it came from.
fn single_records() -> Vec<(String, Value)> {
    inputs()
        .into_iter()
        .flat_map(|(name, input)| {
            records(&input)
                .into_iter()
                .filter(|record| record.get("Records").is_none())
                .map(move |record| (name.clone(), record))
        })
        .collect()
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

/// `text` read both ways must answer alike.
fn check(name: &str, text: &str) {
    let owned: Value = serde_json::from_str(text).unwrap();
    let borrowed: Borrowed<'_> = serde_json::from_str(text).unwrap();
    assert_eq!(answers(&owned), answers(&borrowed), "{name}: {text}");
}

#[test]
fn every_input_reads_alike_from_both_trees() {
    let mut read = 0;
    for (name, input) in inputs() {
        for record in records(&input) {
            check(&name, &record.to_string());
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

/// One step into a JSON value.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'v>(value: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(value, |at, step| match step {
        Step::Key(key) => at.get(key),
        Step::Index(index) => at.get(index),
    })
}

/// Every path to a value inside `value` (object members and array items, at every depth).
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        let steps: Vec<(Step, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Step::Index(i), v))
                .collect(),
            _ => Vec::new(),
        };
        for (step, inner) in steps {
            path.push(step);
            out.push(path.clone());
            walk(inner, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// `value` with the value at `path` replaced.
fn replaced(value: &Value, path: &[Step], with: &Value) -> Value {
    let mut changed = value.clone();
    let mut at = &mut changed;
    for step in path {
        at = match step {
            Step::Key(key) => at.get_mut(key).unwrap(),
            Step::Index(index) => at.get_mut(index).unwrap(),
        };
    }
    *at = with.clone();
    changed
}

/// `value` as JSON text, with the object at `path` given `key` once more (holding `extra`),
/// written after its members (so it wins) or before them (so the first one written wins).
fn with_repeated_key(
    value: &Value,
    path: &[Step],
    key: &str,
    extra: &Value,
    after: bool,
) -> String {
    let member = |k: &str, v: String| format!("{}:{v}", Value::from(k));
    match (value, path.split_first()) {
        (Value::Object(map), None) => {
            let mut members: Vec<String> =
                map.iter().map(|(k, v)| member(k, v.to_string())).collect();
            let repeated = member(key, extra.to_string());
            if after {
                members.push(repeated);
            } else {
                members.insert(0, repeated);
            }
            format!("{{{}}}", members.join(","))
        }
        (Value::Object(map), Some((Step::Key(step), rest))) => {
            let members: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    let text = if k == step {
                        with_repeated_key(v, rest, key, extra, after)
                    } else {
                        v.to_string()
                    };
                    member(k, text)
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        (Value::Array(items), Some((Step::Index(step), rest))) => {
            let items: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i == *step {
                        with_repeated_key(v, rest, key, extra, after)
                    } else {
                        v.to_string()
                    }
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        _ => value.to_string(),
    }
}

#[test]
fn every_field_of_every_kind_reads_alike_from_both_trees() {
    let mut read = 0;
    for (name, record) in &single_records() {
        for path in paths(record) {
            for replacement in replacements() {
                check(name, &replaced(record, &path, &replacement).to_string());
                read += 1;
            }
        }
    }
    assert!(read > 10_000, "{read} mutated records");
}

/// Every member of every object, written twice (the second time with another value, before
/// or after the first): both trees take the member written last, as `serde_json::Value` does.
#[test]
fn every_repeated_key_reads_alike_from_both_trees() {
    let mut read = 0;
    for (name, record) in &single_records() {
        let mut objects = vec![Vec::new()];
        objects.extend(paths(record));
        for path in objects {
            let Some(Value::Object(map)) = at(record, &path) else {
                continue;
            };
            for key in map.keys() {
                for extra in [json!(50), json!("G.8X"), Value::Null] {
                    for after in [false, true] {
                        let text = with_repeated_key(record, &path, key, &extra, after);
                        check(name, &text);
                        read += 1;
                    }
                }
            }
        }
    }
    assert!(read > 1_000, "{read} records with a repeated key");
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
