//! What is known about one Glue interactive session, and how it is read from a CloudTrail
//! `CreateSession` record (bare or in its EventBridge envelope) or from a Glue `Session` as
//! `GetSession` / `ListSessions` return it. Parsing never panics, whatever the JSON holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One observed setting of a session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "value")]
pub enum Fact<T> {
    /// The creator (or Glue, as reported by `GetSession`) gave this value.
    Given(T),
    /// The creator left it out of the request, so Glue's default applies.
    Omitted,
    /// Not observable from this source (e.g. `GetSession` never reports `Timeout`).
    #[default]
    Unknown,
}

impl<T> Fact<T> {
    /// This fact, unless it is `Unknown`, in which case `fallback`.
    pub fn or(self, fallback: Fact<T>) -> Fact<T> {
        match self {
            Fact::Unknown => fallback,
            known => known,
        }
    }
}

/// Who created the session, as CloudTrail recorded it (never something the creator chose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The caller: `…:assumed-role/Role/alice`, `…:user/bob`, `…:root`.
    pub arn: String,
    /// For assumed roles, the role that issued the session (`…:role/Role`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_arn: Option<String>,
}

/// Everything evaluation needs to know about one session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionFacts {
    pub session_id: String,
    #[serde(default)]
    pub principal: Option<Principal>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub worker_type: Fact<String>,
    #[serde(default)]
    pub number_of_workers: Fact<u64>,
    #[serde(default)]
    pub max_capacity: Fact<f64>,
    #[serde(default)]
    pub timeout_minutes: Fact<u64>,
    #[serde(default)]
    pub idle_timeout_minutes: Fact<u64>,
    #[serde(default)]
    pub glue_version: Fact<String>,
    #[serde(default)]
    pub connections: Fact<Vec<String>>,
    #[serde(default)]
    pub tags: Fact<BTreeMap<String, String>>,
}

impl SessionFacts {
    /// These facts, with every field that `fresher` knows replacing ours. Use it to let what
    /// `GetSession` reports win over what the request asked for.
    pub fn updated_with(self, fresher: SessionFacts) -> SessionFacts {
        SessionFacts {
            session_id: if fresher.session_id.is_empty() {
                self.session_id
            } else {
                fresher.session_id
            },
            principal: fresher.principal.or(self.principal),
            status: fresher.status.or(self.status),
            worker_type: fresher.worker_type.or(self.worker_type),
            number_of_workers: fresher.number_of_workers.or(self.number_of_workers),
            max_capacity: fresher.max_capacity.or(self.max_capacity),
            timeout_minutes: fresher.timeout_minutes.or(self.timeout_minutes),
            idle_timeout_minutes: fresher.idle_timeout_minutes.or(self.idle_timeout_minutes),
            glue_version: fresher.glue_version.or(self.glue_version),
            connections: fresher.connections.or(self.connections),
            tags: fresher.tags.or(self.tags),
        }
    }
}

/// Why an input is not a session to judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignored {
    pub reason: String,
    /// The session named by the input, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The caller, when the input names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl Ignored {
    fn because(reason: impl Into<String>) -> Ignored {
        Ignored {
            reason: reason.into(),
            session_id: None,
            principal: None,
        }
    }
}

/// Reads a CloudTrail `CreateSession` record, in its EventBridge envelope (`detail`) or bare.
/// Anything that is not a successful `CreateSession` is `Err(Ignored)` with the reason.
pub fn facts_from_cloudtrail(event: &Value) -> Result<SessionFacts, Ignored> {
    let Some(object) = event.as_object() else {
        return Err(Ignored::because("the event is not a JSON object"));
    };
    let record = match object.get("detail") {
        Some(detail) => {
            if let Some(kind) = object.get("detail-type").and_then(Value::as_str)
                && kind != "AWS API Call via CloudTrail"
            {
                return Err(Ignored::because(format!(
                    "detail-type `{kind}` is not a CloudTrail API call"
                )));
            }
            detail
        }
        None => event,
    };
    if !record.is_object() {
        return Err(Ignored::because("the event's detail is not a JSON object"));
    }
    let text = |path: &[&str]| get(record, path).and_then(Value::as_str);
    let principal = principal_of(record);
    let principal_arn = principal.as_ref().map(|p| p.arn.clone());
    let ignored = |reason: String, session_id: Option<String>| Ignored {
        reason,
        session_id,
        principal: principal_arn.clone(),
    };

    match text(&["eventSource"]) {
        Some("glue.amazonaws.com") => {}
        Some(other) => {
            return Err(ignored(format!("event source `{other}` is not Glue"), None));
        }
        None => return Err(ignored("the event has no eventSource".into(), None)),
    }
    let requested_id = text(&["requestParameters", "id"]).map(str::to_string);
    match text(&["eventName"]) {
        Some("CreateSession") => {}
        Some(other) => {
            return Err(ignored(
                format!("event `{other}` is not CreateSession"),
                requested_id,
            ));
        }
        None => return Err(ignored("the event has no eventName".into(), requested_id)),
    }
    if let Some(code) = record.get("errorCode").filter(|code| !code.is_null()) {
        let code = code
            .as_str()
            .map_or_else(|| code.to_string(), str::to_string);
        return Err(ignored(
            format!("the CreateSession call failed ({code}); no session was created"),
            requested_id,
        ));
    }
    let response = record.get("responseElements").filter(|r| r.is_object());
    let Some(response) = response else {
        return Err(ignored(
            "the record has no responseElements, so no session was created".into(),
            requested_id,
        ));
    };
    let session_id = get(response, &["session", "id"])
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(requested_id);
    let Some(session_id) = session_id.filter(|id| !id.is_empty()) else {
        return Err(ignored("the record names no session id".into(), None));
    };

    let request = record
        .get("requestParameters")
        .filter(|r| r.is_object())
        .cloned()
        .unwrap_or(Value::Null);
    let requested = |key: &str| request.get(key).filter(|v| !v.is_null());
    Ok(SessionFacts {
        session_id,
        principal,
        status: get(response, &["session", "status"])
            .and_then(Value::as_str)
            .map(str::to_string),
        worker_type: string_fact(requested("workerType")),
        number_of_workers: count_fact(requested("numberOfWorkers")),
        max_capacity: number_fact(requested("maxCapacity")),
        timeout_minutes: count_fact(requested("timeout")),
        idle_timeout_minutes: count_fact(requested("idleTimeout")),
        glue_version: string_fact(requested("glueVersion")),
        connections: match requested("connections") {
            None => Fact::Given(Vec::new()),
            Some(list) => connection_names(list.get("connections").unwrap_or(list)),
        },
        tags: match requested("tags") {
            None => Fact::Given(BTreeMap::new()),
            Some(tags) => tag_map(tags),
        },
    })
}

/// Reads a Glue `Session` (PascalCase, as the API returns it), bare or wrapped as
/// `{"Session": {...}}`. `GetSession` never reports `Timeout` or tags, so those stay `Unknown`
/// unless `tags` are given (from `GetTags`).
pub fn facts_from_glue_session(session: &Value) -> Result<SessionFacts, Ignored> {
    let session = session.get("Session").unwrap_or(session);
    if !session.is_object() {
        return Err(Ignored::because("the Glue session is not a JSON object"));
    }
    let Some(id) = session
        .get("Id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
    else {
        return Err(Ignored::because("the Glue session has no Id"));
    };
    let field = |key: &str| session.get(key).filter(|v| !v.is_null());
    Ok(SessionFacts {
        session_id: id.to_string(),
        principal: None,
        status: field("Status").and_then(Value::as_str).map(str::to_string),
        worker_type: known(string_fact(field("WorkerType"))),
        number_of_workers: known(count_fact(field("NumberOfWorkers"))),
        max_capacity: known(number_fact(field("MaxCapacity"))),
        timeout_minutes: Fact::Unknown,
        idle_timeout_minutes: known(count_fact(field("IdleTimeout"))),
        glue_version: known(string_fact(field("GlueVersion"))),
        connections: match field("Connections") {
            None => Fact::Given(Vec::new()),
            Some(list) => connection_names(list.get("Connections").unwrap_or(list)),
        },
        tags: match field("Tags") {
            None => Fact::Unknown,
            Some(tags) => tag_map(tags),
        },
    })
}

fn get<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |at, key| at.get(key))
}

fn principal_of(record: &Value) -> Option<Principal> {
    let identity = record.get("userIdentity")?;
    let arn = identity.get("arn").and_then(Value::as_str)?.to_string();
    let issuer_arn = get(identity, &["sessionContext", "sessionIssuer", "arn"])
        .and_then(Value::as_str)
        .filter(|issuer| *issuer != arn)
        .map(str::to_string);
    Some(Principal { arn, issuer_arn })
}

/// For a reported session, a missing value is not something the creator left out: it is unknown.
fn known<T>(fact: Fact<T>) -> Fact<T> {
    match fact {
        Fact::Omitted => Fact::Unknown,
        other => other,
    }
}

/// Longest name (worker type, Glue version, connection) kept from an input; Glue's own limit
/// is 255. A longer one is cut (and marked `…`), so it still fails any allowed-list check but
/// cannot make a verdict or a notification huge.
const MAX_NAME_CHARS: usize = 255;

fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_NAME_CHARS {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX_NAME_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// Absent: `Omitted`. Present but unreadable: `Unknown` (never guessed).
fn string_fact(value: Option<&Value>) -> Fact<String> {
    match value {
        None => Fact::Omitted,
        Some(Value::String(text)) if !text.is_empty() => Fact::Given(bounded(text)),
        Some(_) => Fact::Unknown,
    }
}

fn number_fact(value: Option<&Value>) -> Fact<f64> {
    match value {
        None => Fact::Omitted,
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map_or(Fact::Unknown, Fact::Given),
        Some(Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map_or(Fact::Unknown, Fact::Given),
        Some(_) => Fact::Unknown,
    }
}

fn count_fact(value: Option<&Value>) -> Fact<u64> {
    match number_fact(value) {
        Fact::Given(n) if n.fract() == 0.0 && n <= u32::MAX as f64 => Fact::Given(n as u64),
        Fact::Given(_) => Fact::Unknown,
        Fact::Omitted => Fact::Omitted,
        Fact::Unknown => Fact::Unknown,
    }
}

fn connection_names(list: &Value) -> Fact<Vec<String>> {
    match list {
        Value::Null => Fact::Given(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(bounded))
            .collect::<Option<Vec<_>>>()
            .map_or(Fact::Unknown, Fact::Given),
        _ => Fact::Unknown,
    }
}

fn tag_map(tags: &Value) -> Fact<BTreeMap<String, String>> {
    match tags {
        Value::Object(map) => Fact::Given(
            map.iter()
                .map(|(key, value)| {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_string);
                    (key.clone(), value)
                })
                .collect(),
        ),
        _ => Fact::Unknown,
    }
}
