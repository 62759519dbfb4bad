//! Problems with the shape of a policy file (a misspelt key, text where a number belongs, an
//! unquoted Glue version), said in the user's words rather than Rust's (`a whole number from 1
//! to 1000`, not `expected u32`), each at its own place, and taken out of the document so the
//! rest can be read and every problem reported at once.

use serde_path_to_error::Segment;
use serde_yaml::Value;

use crate::errors::PolicyError;
use crate::locate::LocationIndex;

/// The keys of a policy file, for the message about a document that is not a mapping at all
/// (a test checks them against the keys serde reads).
const POLICY_KEYS: &str = "`version`, `stack`, `enforcement`, `sweep`, `boundaries`, \
                           `overrides`, `exempt_principals`, `exempt_session_ids`, `jobs`, \
                           `budgets`, `notifications`, `alarms`, `worker_type_dpu`, `network`, \
                           `usage_profiles`, `organization`, `history`";

/// The text a stand-in holds in place of a missing required key: distinctive, so that a
/// message naming it (an override another entry refers to, the stack's name in a derived
/// name) is known to be about the stand-in, and dropped (`validate`).
pub(crate) const STAND_IN: &str = "gsg-stand-in-for-a-missing-key";

/// One shape problem: where, why, and how to take it out of the document.
pub(crate) struct Problem {
    pub reason: String,
    /// For a missing required key, its path (`stack.name`).
    pub missing: Option<String>,
    segments: Vec<Step>,
    fix: Fix,
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

enum Fix {
    /// Remove the value at the path (its default then applies).
    Remove,
    /// Nothing can be taken out (a required key is missing, the document is not a mapping).
    None,
}

impl Problem {
    pub fn of(error: &serde_path_to_error::Error<serde_yaml::Error>) -> Problem {
        let mut segments: Vec<Step> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                Segment::Map { key } => Some(Step::Key(key.clone())),
                Segment::Seq { index } => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        let message = error.inner().to_string();
        let leaf = segments.iter().rev().find_map(|step| match step {
            Step::Key(key) => Some(key.as_str()),
            Step::Index(_) => None,
        });
        let in_list = matches!(segments.last(), Some(Step::Index(_)));
        let mut missing = None;

        let (reason, fix) = if let Some(rest) = message.strip_prefix("unknown field `") {
            let key = rest.split('`').next().unwrap_or_default().to_string();
            // The path may or may not already end at the unknown key; make it.
            if !matches!(segments.last(), Some(Step::Key(last)) if *last == key) {
                segments.push(Step::Key(key.clone()));
            }
            let expected = names_after(rest, "expected");
            let reason = match closest(&key, &expected) {
                Some(near) => format!("unknown key; did you mean `{near}`?"),
                None if expected.is_empty() => "unknown key: this mapping takes none".to_string(),
                None => format!(
                    "unknown key; the keys here are {}",
                    expected
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            (reason, Fix::Remove)
        } else if let Some(rest) = message.strip_prefix("missing field `") {
            let key = rest.split('`').next().unwrap_or_default();
            let mut at = segments.clone();
            at.push(Step::Key(key.to_string()));
            missing = Some(path_text(&at));
            // An element of a list (an override without its `name`) is taken out whole, so the
            // rest of the file is still read; elsewhere a stand-in may take the key's place.
            let fix = if in_list { Fix::Remove } else { Fix::None };
            (format!("the required key `{key}` is missing"), fix)
        } else if let Some(rest) = message.strip_prefix("unknown variant `") {
            let value = rest.split('`').next().unwrap_or_default();
            let expected = names_after(rest, "expected");
            let listed = expected
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(" or ");
            let hint = closest(value, &expected)
                .map(|near| format!("; did you mean `{near}`?"))
                .unwrap_or_default();
            (format!("`{value}` is not {listed}{hint}"), Fix::Remove)
        } else if let Some((got, expected)) = invalid(&message) {
            let wanted = match (leaf, in_list) {
                (Some(leaf), false) => expectation(leaf),
                _ => None,
            }
            .map(str::to_string)
            .unwrap_or_else(|| generic(expected));
            // YAML reads an unquoted account id or number as a number.
            let number = message.starts_with("invalid type: integer")
                || message.starts_with("invalid type: floating point");
            let hint = match leaf {
                // Quoting a number would not make it a time.
                Some("expires") if number => " (an RFC 3339 time with a zone, like \
                                               2027-03-31T00:00:00Z)"
                    .to_string(),
                _ if wanted == "text" && number => {
                    format!(" (YAML reads it as a number: quote it, \"{got}\")")
                }
                _ => String::new(),
            };
            (format!("expected {wanted}, got {got}{hint}"), Fix::Remove)
        } else {
            (message.clone(), Fix::Remove)
        };
        let fix = if segments.is_empty() { Fix::None } else { fix };
        Problem {
            reason,
            missing,
            segments,
            fix,
        }
    }

    /// For a missing required key: puts a stand-in of the right shape in its place, so the rest
    /// of the document can be read and checked; false when there is none for that key.
    pub fn put_stand_in(&self, document: &mut Value) -> bool {
        let Some(missing) = &self.missing else {
            return false;
        };
        let key = missing.rsplit('.').next().unwrap_or(missing);
        let stand_in = match key {
            "version" => Value::from(crate::model::FORMAT_VERSION),
            // Text keys: the checks on a stand-in, and every message that names it, are
            // dropped, so its value never shows.
            "name" | "workspace_id" | "channel_id" | "tenant_id" | "team_id" | "role"
            | "principal" => Value::from(STAND_IN),
            "max_concurrent_dpu" => Value::from(1),
            "members" => Value::Mapping(serde_yaml::Mapping::new()),
            "stack" => {
                let mut stack = serde_yaml::Mapping::new();
                stack.insert(Value::from("name"), Value::from(STAND_IN));
                Value::Mapping(stack)
            }
            "principals" | "subnet_ids" | "security_group_ids" => Value::Sequence(Vec::new()),
            "boundaries" => Value::Mapping(serde_yaml::Mapping::new()),
            _ => return false,
        };
        match at_path(document, &self.segments) {
            Some(Value::Mapping(map)) if !map.contains_key(key) => {
                map.insert(Value::from(key), stand_in);
                true
            }
            _ => false,
        }
    }

    /// Where the problem is in the file as written, given the list elements already taken out
    /// (`removed`: each list's path as written, and the element's index in it as written): the
    /// document's indices shift down as elements are taken out, the file's do not. Also, when
    /// the problem is a list element, its list and index as written, to add to `removed` once
    /// it is taken out.
    pub fn as_written(&self, removed: &[(String, usize)]) -> (String, Option<(String, usize)>) {
        let mut written: Vec<Step> = Vec::new();
        let mut element = None;
        for step in &self.segments {
            match step {
                Step::Key(_) => written.push(step.clone()),
                Step::Index(i) => {
                    let list = path_text(&written);
                    let mut gone: Vec<usize> = removed
                        .iter()
                        .filter(|(path, _)| *path == list)
                        .map(|(_, at)| *at)
                        .collect();
                    gone.sort_unstable();
                    let mut at = *i;
                    for taken in gone {
                        if taken <= at {
                            at += 1;
                        }
                    }
                    element = Some((list, at));
                    written.push(Step::Index(at));
                }
            }
        }
        let element = element.filter(|_| matches!(self.segments.last(), Some(Step::Index(_))));
        (path_text(&written), element)
    }

    /// Takes the problem out of the document (so that the rest can be read); false when it
    /// cannot be.
    pub fn take_out(&self, document: &mut Value) -> bool {
        if matches!(self.fix, Fix::None) {
            return false;
        }
        let Some((last, parents)) = self.segments.split_last() else {
            return false;
        };
        let Some(at) = at_path(document, parents) else {
            return false;
        };
        match (last, at) {
            // `shift_remove`: what follows keeps its order, so the next problem found is the next
            // one in the file.
            (Step::Key(key), Value::Mapping(map)) => map.shift_remove(key.as_str()).is_some(),
            (Step::Index(i), Value::Sequence(items)) if *i < items.len() => {
                items.remove(*i);
                true
            }
            _ => false,
        }
    }
}

/// Whether `inner` is `outer` or a path inside it (`overrides[1].name` is in `overrides[1]` and
/// in `overrides`, not in `overrides[10]`); every path is in the whole file, `""`.
pub(crate) fn within(inner: &str, outer: &str) -> bool {
    outer.is_empty()
        || inner == outer
        || (inner.starts_with(outer)
            && matches!(inner.as_bytes().get(outer.len()), Some(b'.' | b'[')))
}

/// `path` (`overrides[0].boundaries.max_workers`), found in the document once the list elements
/// `removed` were taken out of it (each list's path as written, and the element's index in it
/// as written), as written in the file: the document's indices shift down as elements are taken
/// out, the file's do not.
pub(crate) fn written_path(path: &str, removed: &[(String, usize)]) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(']').map(|at| open + at) else {
            break;
        };
        match rest[open + 1..close].parse::<usize>() {
            Ok(index) => {
                let mut gone: Vec<usize> = removed
                    .iter()
                    .filter(|(list, _)| *list == out)
                    .map(|(_, at)| *at)
                    .collect();
                gone.sort_unstable();
                let mut at = index;
                for taken in gone {
                    if taken <= at {
                        at += 1;
                    }
                }
                out.push_str(&format!("[{at}]"));
            }
            Err(_) => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The value at `steps` in `document`, when the document has it.
fn at_path<'d>(document: &'d mut Value, steps: &[Step]) -> Option<&'d mut Value> {
    steps
        .iter()
        .try_fold(document, |at, step| match (step, at) {
            (Step::Key(key), Value::Mapping(map)) => map.get_mut(key.as_str()),
            (Step::Index(i), Value::Sequence(items)) => items.get_mut(*i),
            _ => None,
        })
}

fn path_text(segments: &[Step]) -> String {
    let mut out = String::new();
    for step in segments {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The backquoted names after `word` in a serde message (`expected one of `a`, `b``).
fn names_after(text: &str, word: &str) -> Vec<String> {
    let Some(at) = text.find(word) else {
        return Vec::new();
    };
    text[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The name in `names` closest to `typed`, when it is close enough to be what was meant.
fn closest<'n>(typed: &str, names: &'n [String]) -> Option<&'n str> {
    names
        .iter()
        .map(|name| (distance(typed, name), name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 4) && *d < name.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name.as_str())
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// `invalid type: string "ten", expected u32` → (`"ten"`, `u32`).
fn invalid(message: &str) -> Option<(String, &str)> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    let (got, expected) = rest.rsplit_once(", expected ")?;
    let got = if let Some(text) = got.strip_prefix("string ") {
        text.to_string()
    } else if let Some(quoted) = got.split('`').nth(1) {
        quoted.to_string()
    } else {
        match got {
            "sequence" => "a list".to_string(),
            "map" => "a mapping".to_string(),
            "unit value" => "nothing (an empty value)".to_string(),
            other => other.to_string(),
        }
    };
    Some((got, expected))
}

/// What a field holds, in the user's words.
fn expectation(field: &str) -> Option<&'static str> {
    Some(match field {
        "version" => "the format version, 1",
        "max_workers" => "a whole number from 1 to 1000",
        "max_dpu" => "a number from 0.25 to 16000",
        "max_idle_timeout_minutes" | "max_timeout_minutes" => {
            "a whole number of minutes from 1 to 10080"
        }
        "wait_for_ready_seconds" => "a whole number of seconds from 1 to 780",
        "every_minutes" => "a whole number of minutes from 0 (off) to 1440",
        "require_vpc_connection" => "true or false",
        "mode" => "`enforce` or `audit`",
        "action" => "`stop` or `delete`",
        "allowed_worker_types"
        | "allowed_connections"
        | "allowed_glue_versions"
        | "required_tags"
        | "principals"
        | "exempt_principals"
        | "emails"
        | "overrides" => "a list",
        "stack" => "a mapping with the keys `name`, `region`, `tags`",
        "boundaries" => "a mapping of boundaries (`max_workers`, `max_dpu`, …)",
        "tags" | "worker_type_dpu" => "a mapping",
        "network" => "a mapping with the keys `subnet_ids`, `security_group_ids`",
        "name" | "region" | "exception_instructions" => "text",
        _ => return None,
    })
}

/// A serde expectation (`u32`, `a boolean`, `struct Policy`) in the user's words.
fn generic(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a string" => "text".into(),
        "struct Policy" => format!("a policy: a mapping with the keys {POLICY_KEYS}"),
        other if other.starts_with("struct ") => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Glue versions written as numbers (`[4.0, 5.0]`): YAML reads `4.0` as the number 4, so the
/// version would silently become `4`. Each is an error at its own place quoting what was
/// written, and is replaced by that text so the rest of the file can be read.
pub(crate) fn unquoted_versions(
    document: &mut Value,
    text: &str,
    index: &LocationIndex,
    file: &str,
) -> Vec<PolicyError> {
    let mut errors = Vec::new();
    let mut lists: Vec<(String, &mut Value)> = Vec::new();
    /// The version lists of a section's `boundaries` and `overrides[].boundaries` (the policy's
    /// own, and its `jobs` section's), each with its path (`prefix` before it).
    fn section<'v>(
        top: &'v mut serde_yaml::Mapping,
        prefix: &str,
        lists: &mut Vec<(String, &'v mut Value)>,
    ) {
        let mut overrides = None;
        let mut jobs = None;
        for (key, value) in top.iter_mut() {
            match key.as_str() {
                Some("boundaries") => {
                    if let Some(list) = versions_in(value) {
                        lists.push((format!("{prefix}boundaries.allowed_glue_versions"), list));
                    }
                }
                Some("overrides") => overrides = Some(value),
                Some("jobs") if prefix.is_empty() => jobs = Some(value),
                _ => {}
            }
        }
        if let Some(Value::Sequence(rules)) = overrides {
            for (i, rule) in rules.iter_mut().enumerate() {
                if let Some(Value::Mapping(rule)) = Some(rule)
                    && let Some(boundaries) = rule.get_mut("boundaries")
                    && let Some(list) = versions_in(boundaries)
                {
                    lists.push((
                        format!("{prefix}overrides[{i}].boundaries.allowed_glue_versions"),
                        list,
                    ));
                }
            }
        }
        if let Some(Value::Mapping(jobs)) = jobs {
            section(jobs, "jobs.", lists);
        }
    }
    if let Value::Mapping(top) = document {
        section(top, "", &mut lists);
    }
    for (path, list) in lists {
        let Value::Sequence(items) = list else {
            continue;
        };
        for (i, item) in items.iter_mut().enumerate() {
            if !matches!(item, Value::Number(_)) {
                continue;
            }
            let at = format!("{path}[{i}]");
            let location = index.locate(&at);
            let written = written_at(text, location.line, location.col).unwrap_or_else(|| {
                serde_yaml::to_string(item)
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            });
            errors.push(PolicyError::new(
                file,
                location,
                &at,
                &format!(
                    "write \"{written}\" in quotes: YAML reads an unquoted {written} as a number, \
                     not as the Glue version"
                ),
            ));
            *item = Value::String(written);
        }
    }
    errors
}

/// What [`empty_values`] advises for an optional key (a required one is told it is required).
pub(crate) const EMPTY_VALUE_ADVICE: &str = "write its value, or leave the key out";

/// Keys written with no value (`max_workers:`, `expires: ~`, `key: null`): YAML reads them as
/// null, which an optional setting would take as "not set", so a slip would silently drop a
/// limit or make an exception permanent. Each is an error at its own place, and the key is taken
/// out so the rest of the file can be read; the paths taken out are returned with the errors (a
/// required key missing there is already said).
pub(crate) fn empty_values(
    document: &mut Value,
    index: &LocationIndex,
    file: &str,
) -> (Vec<PolicyError>, Vec<String>) {
    fn walk(
        value: &mut Value,
        path: &str,
        index: &LocationIndex,
        file: &str,
        found: &mut (Vec<PolicyError>, Vec<String>),
    ) {
        match value {
            Value::Mapping(map) => {
                let mut empty = Vec::new();
                for (key, value) in map.iter_mut() {
                    let name = match key {
                        Value::String(name) => name.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    let at = crate::locate::join(path, &name);
                    if value.is_null() {
                        found.0.push(PolicyError::new(
                            file,
                            index.locate(&at),
                            &at,
                            &format!(
                                "`{name}` has no value (YAML reads a key with nothing after it, \
                                 `~` or `null` as null): {EMPTY_VALUE_ADVICE}"
                            ),
                        ));
                        found.1.push(at);
                        empty.push(key.clone());
                    } else {
                        walk(value, &at, index, file, found);
                    }
                }
                for key in empty {
                    map.remove(&key);
                }
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, &format!("{path}[{i}]"), index, file, found);
                }
            }
            Value::Tagged(tagged) => walk(&mut tagged.value, path, index, file, found),
            _ => {}
        }
    }
    let mut found = (Vec::new(), Vec::new());
    walk(document, "", index, file, &mut found);
    found
}

fn versions_in(boundaries: &mut Value) -> Option<&mut Value> {
    match boundaries {
        Value::Mapping(map) => map.get_mut("allowed_glue_versions"),
        _ => None,
    }
}

/// The plain scalar written at `line:col` (1-based), as the user wrote it.
fn written_at(text: &str, line: usize, col: usize) -> Option<String> {
    let line = text.lines().nth(line.checked_sub(1)?)?;
    let rest: String = line.chars().skip(col.checked_sub(1)?).collect();
    let scalar: String = rest
        .chars()
        .take_while(|c| !matches!(c, ',' | ']' | '}' | '#') && !c.is_whitespace())
        .collect();
    (!scalar.is_empty()).then_some(scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_far_ones_are_not() {
        let names: Vec<String> = ["max_workers", "max_dpu", "required_tags"]
            .map(String::from)
            .to_vec();
        assert_eq!(closest("max_wrokers", &names), Some("max_workers"));
        assert_eq!(closest("max_worker", &names), Some("max_workers"));
        assert_eq!(closest("required_tag", &names), Some("required_tags"));
        assert_eq!(closest("colour", &names), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn what_was_written_is_quoted_as_written() {
        assert_eq!(
            written_at("a: [4.0, 5.10]\n", 1, 10).as_deref(),
            Some("5.10")
        );
        assert_eq!(written_at("- 4.0 # old\n", 1, 3).as_deref(), Some("4.0"));
    }

    /// The keys the not-a-mapping message lists are the keys serde reads, all of them: serde
    /// names every field it expects when it meets one it does not know.
    #[test]
    fn the_policy_keys_listed_are_the_ones_read() {
        let error = serde_yaml::from_str::<crate::model::Policy>("not_a_key: 1\n")
            .err()
            .unwrap()
            .to_string();
        let mut read = names_after(&error, "expected");
        let mut listed = names_after(POLICY_KEYS, "");
        read.sort();
        listed.sort();
        assert!(!read.is_empty(), "{error}");
        assert_eq!(listed, read, "{error}");
    }

    #[test]
    fn a_path_is_within_its_parents_only() {
        assert!(within("overrides[1].name", "overrides[1]"));
        assert!(within("overrides[1].name", "overrides"));
        assert!(within("overrides[1]", ""));
        assert!(within("overrides[1]", "overrides[1]"));
        assert!(!within("overrides[10].name", "overrides[1]"));
        assert!(!within("overrides_old", "overrides"));
        assert!(!within("overrides", "overrides[1]"));
    }

    /// A path found in the document after elements were taken out, as written in the file.
    #[test]
    fn paths_are_given_their_indices_as_written() {
        let removed = [("overrides".to_string(), 0), ("overrides".to_string(), 2)];
        assert_eq!(
            written_path("overrides[0].boundaries.max_workers", &removed),
            "overrides[1].boundaries.max_workers"
        );
        assert_eq!(written_path("overrides[1]", &removed), "overrides[3]");
        assert_eq!(
            written_path("budgets[0].teams[0]", &removed),
            "budgets[0].teams[0]"
        );
        assert_eq!(written_path("stack.name", &removed), "stack.name");
    }
}
