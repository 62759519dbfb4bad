//! What is known about one Glue interactive session, and where it is read from: a CloudTrail
//! `CreateSession` record (bare or in its EventBridge envelope), whose `requestParameters` say
//! what the creator asked for and whose `responseElements.session` is Glue's echo of what it
//! created; and a Glue `Session` as `GetSession` / `ListSessions` return it. The sources are
//! merged in Glue's order of authority by [`merge_sources`]. Parsing never panics, whatever the
//! JSON holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::Json;

/// One observed setting of a session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "value")]
pub enum Fact<T> {
    /// The creator (or Glue, as reported by `GetSession` or its echo) gave this value.
    Given(T),
    /// The creator left it out of the request, so a default applies (Glue's, or the session's
    /// usage profile's).
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

    /// The value, when one was given.
    pub fn given(&self) -> Option<&T> {
        match self {
            Fact::Given(value) => Some(value),
            _ => None,
        }
    }
}

/// Who created the session, as CloudTrail recorded it (never something the creator chose).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Principal {
    /// The caller: `…:assumed-role/Role/alice`, `…:user/bob`, `…:root`.
    pub arn: String,
    /// For assumed roles, the role that issued the session (`…:role/Role`, with its path, e.g.
    /// `…:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Engineer_0123`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_arn: Option<String>,
    /// `userIdentity.sessionContext.sourceIdentity`: the person a shared role was assumed for,
    /// as the identity provider or the assuming service set it (SageMaker Unified Studio does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// `userIdentity.onBehalfOf`: the IAM Identity Center user of an identity-enhanced session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOf>,
}

/// An IAM Identity Center user, as CloudTrail's `userIdentity.onBehalfOf` names one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnBehalfOf {
    /// `userId`: the user's id in the identity store.
    pub user_id: String,
    /// `identityStoreArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_store_arn: Option<String>,
}

impl Principal {
    /// The person behind a shared role, for people to read: the source identity, else the
    /// IAM Identity Center user; `None` when the record names neither.
    pub fn person(&self) -> Option<String> {
        if let Some(identity) = &self.source_identity {
            return Some(format!("{identity} (source identity)"));
        }
        self.on_behalf_of
            .as_ref()
            .map(|user| match &user.identity_store_arn {
                Some(store) => format!("{} (IAM Identity Center user in {store})", user.user_id),
                None => format!("{} (IAM Identity Center user)", user.user_id),
            })
    }
}

/// The defaults a Glue usage profile gives a session for what its creator leaves out: each
/// `Configuration.SessionConfiguration.<key>.DefaultValue` of `GetUsageProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileDefaults {
    /// `numberOfWorkers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_workers: Option<u64>,
    /// `workerType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_type: Option<String>,
    /// `timeout`, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u64>,
    /// `idleTimeout`, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_minutes: Option<u64>,
}

/// A Glue usage profile, as far as judging sessions needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageProfile {
    /// `Name`.
    pub name: String,
    pub defaults: ProfileDefaults,
}

impl UsageProfile {
    /// Reads the JSON that Glue's `GetUsageProfile` returns (`Name`, `Configuration`
    /// `.SessionConfiguration.{numberOfWorkers, workerType, timeout, idleTimeout}.DefaultValue`,
    /// the values being strings). `Configuration` is required (Glue API, "Usage profiles":
    /// `CreateUsageProfile` takes it), and it, its `SessionConfiguration` and each of those keys
    /// must be objects when present. A profile with no `SessionConfiguration` gives sessions no
    /// default. Anything else, and a default that is not a whole number where one is needed, is
    /// an error naming the key: a profile is never half read, so a damaged one never lets
    /// Glue's own default (say a 2,880-minute timeout) stand in for the profile's.
    pub fn from_get_usage_profile(json: &Value) -> Result<UsageProfile, String> {
        let name = json
            .get("Name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or("`Name` is missing: this is not a GetUsageProfile response")?;
        fn object<'v>(value: Option<&'v Value>, at: &str) -> Result<Option<&'v Value>, String> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(object @ Value::Object(_)) => Ok(Some(object)),
                Some(other) => Err(format!("{at}: {other} is not an object")),
            }
        }
        let configuration = object(json.get("Configuration"), "Configuration")?
            .ok_or("`Configuration` is missing: this is not a GetUsageProfile response")?;
        let sessions = object(
            configuration.get("SessionConfiguration"),
            "Configuration.SessionConfiguration",
        )?;
        let mut keys = BTreeMap::new();
        for key in ["numberOfWorkers", "workerType", "timeout", "idleTimeout"] {
            let at = format!("Configuration.SessionConfiguration.{key}");
            if let Some(entry) = object(sessions.and_then(|s| s.get(key)), &at)? {
                keys.insert(key, entry);
            }
        }
        let default = |key: &str| -> Option<&Value> {
            keys.get(key)?.get("DefaultValue").filter(|v| !v.is_null())
        };
        let minutes = |key: &str| -> Result<Option<u64>, String> {
            match default(key) {
                None => Ok(None),
                Some(value) => match count_fact(Some(value)) {
                    Fact::Given(n) => Ok(Some(n)),
                    _ => Err(format!(
                        "Configuration.SessionConfiguration.{key}.DefaultValue: {value} is not a \
                         whole number"
                    )),
                },
            }
        };
        let worker_type = match default("workerType") {
            None => None,
            Some(Value::String(text)) if !text.trim().is_empty() => Some(bounded(text.trim())),
            Some(other) => {
                return Err(format!(
                    "Configuration.SessionConfiguration.workerType.DefaultValue: {other} is not \
                     a worker type"
                ));
            }
        };
        Ok(UsageProfile {
            name: bounded(name),
            defaults: ProfileDefaults {
                number_of_workers: minutes("numberOfWorkers")?,
                worker_type,
                timeout_minutes: minutes("timeout")?,
                idle_timeout_minutes: minutes("idleTimeout")?,
            },
        })
    }
}

/// What is known about the defaults of the usage profile a session was created under.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "value")]
pub enum ProfileLookup {
    /// Nobody looked the profile up (the evaluate command was given no file for it).
    #[default]
    NotLookedUp,
    /// The profile's defaults.
    Found(ProfileDefaults),
    /// It could not be read, and why (not found, access denied, …).
    Failed(String),
}

/// Everything evaluation needs to know about one session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionFacts {
    pub session_id: String,
    #[serde(default)]
    pub principal: Option<Principal>,
    #[serde(default)]
    pub status: Option<String>,
    /// `Command.Name`: `glueetl`, `gluestreaming` or `glueray`. It decides which of Glue's
    /// defaults apply.
    #[serde(default)]
    pub command: Fact<String>,
    /// `SessionType`: `LIVY` or `SPARK_CONNECT` (Glue 5.1 and later). `Omitted`: Glue's default,
    /// `LIVY` (`policy::catalogue::SessionType::DEFAULT`).
    #[serde(default)]
    pub session_type: Fact<String>,
    /// The scaling arguments of `DefaultArguments` (`--enable-auto-scaling`,
    /// `--scaling-profile`), the only ones judged; an empty map when it has neither.
    #[serde(default)]
    pub scaling_arguments: Fact<BTreeMap<String, String>>,
    /// The Glue usage profile the session was created under (`ProfileName`). `Omitted`: none.
    /// A request never says (the profile comes from the caller's IAM tag `glue:UsageProfile`):
    /// Glue's echo and `GetSession` do.
    #[serde(default)]
    pub profile_name: Fact<String>,
    /// That profile's defaults, once looked up (see [`SessionFacts::with_usage_profile`]).
    #[serde(default)]
    pub usage_profile: ProfileLookup,
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
    /// The event's own time, seconds since the epoch: the CloudTrail record's `eventTime`, or
    /// the sweep's clock for a session it finds. Exceptions with `expires` apply while it is
    /// before their expiry ([`crate::exceptions`]); `None`: not known, and they do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<crate::time::UnixSeconds>,
}

impl SessionFacts {
    /// These facts, with every field that `fresher` knows replacing ours. The building block of
    /// [`merge_sources`].
    pub fn updated_with(self, fresher: SessionFacts) -> SessionFacts {
        SessionFacts {
            session_id: if fresher.session_id.is_empty() {
                self.session_id
            } else {
                fresher.session_id
            },
            principal: fresher.principal.or(self.principal),
            status: fresher.status.or(self.status),
            command: fresher.command.or(self.command),
            session_type: fresher.session_type.or(self.session_type),
            scaling_arguments: fresher.scaling_arguments.or(self.scaling_arguments),
            profile_name: fresher.profile_name.or(self.profile_name),
            usage_profile: match fresher.usage_profile {
                ProfileLookup::NotLookedUp => self.usage_profile,
                looked_up => looked_up,
            },
            worker_type: fresher.worker_type.or(self.worker_type),
            number_of_workers: fresher.number_of_workers.or(self.number_of_workers),
            max_capacity: fresher.max_capacity.or(self.max_capacity),
            timeout_minutes: fresher.timeout_minutes.or(self.timeout_minutes),
            idle_timeout_minutes: fresher.idle_timeout_minutes.or(self.idle_timeout_minutes),
            glue_version: fresher.glue_version.or(self.glue_version),
            connections: fresher.connections.or(self.connections),
            tags: fresher.tags.or(self.tags),
            // The record's time is the event's; Glue's answers carry none (the sweep's do).
            event_time: self.event_time.or(fresher.event_time),
        }
    }

    /// These facts with the defaults of their usage profile, as looked up by the caller
    /// (`GetUsageProfile`, or a file). Only meaningful when `profile_name` is given.
    pub fn with_usage_profile(mut self, lookup: ProfileLookup) -> SessionFacts {
        self.usage_profile = lookup;
        self
    }

    /// The usage profile's name, when the session has one.
    pub fn profile(&self) -> Option<&str> {
        self.profile_name.given().map(String::as_str)
    }
}

/// One session's facts from every source, in Glue's order of authority (each one wins over the
/// ones before it, field by field, where it knows the value):
/// 1. `request`: the record's `requestParameters`, what the creator asked for;
/// 2. `echo`: the record's `responseElements.session`, Glue's echo of the session it created;
/// 3. `glue`: the session as `GetSession` (or `ListSessions`) reports it now.
///
/// The real-time path, the sweep, `evaluate` and every command that reads records merge with
/// this one function, so they judge a session alike.
pub fn merge_sources(
    request: SessionFacts,
    echo: Option<SessionFacts>,
    glue: Option<SessionFacts>,
) -> SessionFacts {
    [echo, glue]
        .into_iter()
        .flatten()
        .fold(request, SessionFacts::updated_with)
}

/// A successful `CreateSession` record, read: the request and Glue's echo, not yet merged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateSessionRecord {
    pub request: SessionFacts,
    /// `None` when the record has no `responseElements.session` object.
    pub echo: Option<SessionFacts>,
}

impl CreateSessionRecord {
    /// The record's facts, with what `GetSession` reports (when given) winning: see
    /// [`merge_sources`].
    pub fn facts(self, glue: Option<SessionFacts>) -> SessionFacts {
        merge_sources(self.request, self.echo, glue)
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
    pub(crate) fn because(reason: impl Into<String>) -> Ignored {
        Ignored {
            reason: reason.into(),
            session_id: None,
            principal: None,
        }
    }
}

/// Reads a CloudTrail `CreateSession` record, in its EventBridge envelope (`detail`) or bare,
/// and merges its request with Glue's echo ([`merge_sources`]).
/// Anything that is not a successful `CreateSession` is `Err(Ignored)` with the reason.
pub fn facts_from_cloudtrail<J: Json>(event: &J) -> Result<SessionFacts, Ignored> {
    read_create_session(event).map(|record| record.facts(None))
}

/// The record's `eventTime` (RFC 3339, UTC), seconds since the epoch; `None` when it is absent or
/// unreadable.
pub(crate) fn event_time<J: Json>(record: &J) -> Option<crate::time::UnixSeconds> {
    record
        .get("eventTime")
        .and_then(J::as_str)
        .and_then(crate::time::parse_rfc3339)
}

/// The record inside an EventBridge envelope (`detail`), or the event itself when bare.
pub(crate) fn unwrap_envelope<J: Json>(event: &J) -> Result<&J, Ignored> {
    if !event.is_object() {
        return Err(Ignored::because("the event is not a JSON object"));
    }
    let record = match event.get("detail") {
        Some(detail) => {
            if let Some(kind) = event.get("detail-type").and_then(J::as_str)
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
    Ok(record)
}

/// Reads a CloudTrail `CreateSession` record (enveloped or bare) into its request and Glue's
/// echo, unmerged. Anything that is not a successful `CreateSession` is `Err(Ignored)` with
/// the reason and, for other Glue calls, the session they name (`id` or `sessionId`).
pub fn read_create_session<J: Json>(event: &J) -> Result<CreateSessionRecord, Ignored> {
    let record = unwrap_envelope(event)?;
    let text = |path: &[&str]| get(record, path).and_then(J::as_str);
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
    // CreateSession, GetSession, StopSession, DeleteSession name it `id`; RunStatement,
    // GetStatement, ListStatements, CancelStatement `sessionId`.
    let requested_id = ["id", "sessionId"]
        .iter()
        .find_map(|key| text(&["requestParameters", key]))
        .filter(|id| !id.is_empty())
        .map(bounded);
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
        let code = code.as_str().map_or_else(|| code.to_json(), str::to_string);
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
    let echoed = response.get("session").filter(|s| s.is_object());
    let session_id = echoed
        .and_then(|session| session.get("id"))
        .and_then(J::as_str)
        .filter(|id| !id.is_empty())
        .map(bounded)
        .or(requested_id);
    let Some(session_id) = session_id else {
        return Err(ignored("the record names no session id".into(), None));
    };

    let request = record.get("requestParameters").filter(|r| r.is_object());
    let requested = |key: &str| request.and_then(|r| r.get(key)).filter(|v| !v.is_null());
    let request = SessionFacts {
        session_id: session_id.clone(),
        principal,
        status: None,
        // `Command` is required by CreateSession: a record without it is not as Glue wrote it.
        command: known(string_fact(
            request.and_then(|r| get(r, &["command", "name"])),
        )),
        session_type: string_fact(requested("sessionType")),
        scaling_arguments: match requested("defaultArguments") {
            None => Fact::Given(BTreeMap::new()),
            Some(arguments) => scaling_arguments(arguments),
        },
        // Requests never name a profile: the caller's IAM tag `glue:UsageProfile` does.
        profile_name: Fact::Unknown,
        usage_profile: ProfileLookup::NotLookedUp,
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
        event_time: event_time(record),
    };
    let echo = echoed.map(|session| {
        let mut echo = session_facts(session, Naming::LowerCamel);
        echo.session_id = session_id;
        echo
    });
    Ok(CreateSessionRecord { request, echo })
}

/// Reads a Glue `Session` (PascalCase, as the API returns it), bare or wrapped as
/// `{"Session": {...}}`. `GetSession` never reports `Timeout` or tags, so those stay `Unknown`
/// unless `Tags` are given (from `GetTags`).
pub fn facts_from_glue_session<J: Json>(session: &J) -> Result<SessionFacts, Ignored> {
    let session = session.get("Session").unwrap_or(session);
    if !session.is_object() {
        return Err(Ignored::because("the Glue session is not a JSON object"));
    }
    if session
        .get("Id")
        .and_then(J::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(Ignored::because("the Glue session has no Id"));
    }
    Ok(session_facts(session, Naming::Pascal))
}

/// How a source spells the `Session` structure's keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// The API's JSON (`GetSession`, `ListSessions`): `WorkerType`.
    Pascal,
    /// CloudTrail's `responseElements.session`: `workerType`.
    LowerCamel,
}

impl Naming {
    /// The key as this source spells it: `pascal` or `camel` (the same name, written both ways
    /// at each use, so that reading a key allocates nothing).
    fn key(self, pascal: &'static str, camel: &'static str) -> &'static str {
        debug_assert!(pascal[1..] == camel[1..] && pascal[..1].eq_ignore_ascii_case(&camel[..1]));
        match self {
            Naming::Pascal => pascal,
            Naming::LowerCamel => camel,
        }
    }
}

/// A Glue `Session` object as Glue reports it. A value it leaves out is unknown, not left out
/// by the creator, except:
/// - `ProfileName`: Glue names the profile whenever there is one, so none means no profile;
/// - `Connections` from `GetSession`: none means none attached. The echo in a CloudTrail record
///   often leaves out what the request said, so there an absent list is unknown.
fn session_facts<J: Json>(session: &J, naming: Naming) -> SessionFacts {
    let field = |pascal: &'static str, camel: &'static str| {
        session
            .get(naming.key(pascal, camel))
            .filter(|v| !v.is_null())
    };
    let id = field("Id", "id").and_then(J::as_str).map(bounded);
    SessionFacts {
        session_id: id.unwrap_or_default(),
        principal: None,
        status: field("Status", "status").and_then(J::as_str).map(bounded),
        command: known(string_fact(
            field("Command", "command").and_then(|command| command.get(naming.key("Name", "name"))),
        )),
        session_type: known(string_fact(field("SessionType", "sessionType"))),
        scaling_arguments: match field("DefaultArguments", "defaultArguments") {
            // `GetSession` returns the arguments the session was created with (none: none);
            // an echo that leaves them out says nothing.
            None if naming == Naming::Pascal => Fact::Given(BTreeMap::new()),
            None => Fact::Unknown,
            Some(arguments) => scaling_arguments(arguments),
        },
        profile_name: string_fact(field("ProfileName", "profileName")),
        usage_profile: ProfileLookup::NotLookedUp,
        worker_type: known(string_fact(field("WorkerType", "workerType"))),
        number_of_workers: known(count_fact(field("NumberOfWorkers", "numberOfWorkers"))),
        max_capacity: known(number_fact(field("MaxCapacity", "maxCapacity"))),
        timeout_minutes: Fact::Unknown,
        idle_timeout_minutes: known(count_fact(field("IdleTimeout", "idleTimeout"))),
        glue_version: known(string_fact(field("GlueVersion", "glueVersion"))),
        connections: match field("Connections", "connections") {
            None if naming == Naming::Pascal => Fact::Given(Vec::new()),
            None => Fact::Unknown,
            Some(list) => connection_names(
                list.get(naming.key("Connections", "connections"))
                    .unwrap_or(list),
            ),
        },
        tags: match field("Tags", "tags") {
            None => Fact::Unknown,
            Some(tags) => tag_map(tags),
        },
        event_time: None,
    }
}

pub(crate) use crate::json::get;

pub(crate) fn principal_of<J: Json>(record: &J) -> Option<Principal> {
    let identity = record.get("userIdentity")?;
    let arn = identity.get("arn").and_then(J::as_str)?.to_string();
    let issuer_arn = get(identity, &["sessionContext", "sessionIssuer", "arn"])
        .and_then(J::as_str)
        .filter(|issuer| *issuer != arn)
        .map(str::to_string);
    let source_identity = get(identity, &["sessionContext", "sourceIdentity"])
        .and_then(J::as_str)
        .filter(|name| !name.trim().is_empty())
        .map(bounded);
    let on_behalf_of = identity.get("onBehalfOf").and_then(|who| {
        let user_id = who
            .get("userId")
            .and_then(J::as_str)
            .filter(|id| !id.is_empty())?;
        Some(OnBehalfOf {
            user_id: bounded(user_id),
            identity_store_arn: who.get("identityStoreArn").and_then(J::as_str).map(bounded),
        })
    });
    Some(Principal {
        arn,
        issuer_arn,
        source_identity,
        on_behalf_of,
    })
}

/// For a reported session, a missing value is not something the creator left out: it is unknown.
pub(crate) fn known<T>(fact: Fact<T>) -> Fact<T> {
    match fact {
        Fact::Omitted => Fact::Unknown,
        other => other,
    }
}

/// Longest name (worker type, Glue version, connection) kept from an input; Glue's own limit
/// is 255. A longer one is cut (and marked `…`), so it still fails any allowed-list check but
/// cannot make a verdict or a notification huge.
const MAX_NAME_CHARS: usize = 255;

pub(crate) fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_NAME_CHARS {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX_NAME_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// Absent: `Omitted`. Present but unreadable: `Unknown` (never guessed).
pub(crate) fn string_fact<J: Json>(value: Option<&J>) -> Fact<String> {
    match value.map(J::as_str) {
        None => Fact::Omitted,
        Some(Some(text)) if !text.is_empty() => Fact::Given(bounded(text)),
        Some(_) => Fact::Unknown,
    }
}

/// A number, or text that reads as one; finite and not negative. Anything else is `Unknown`.
pub(crate) fn number_fact<J: Json>(value: Option<&J>) -> Fact<f64> {
    let Some(value) = value else {
        return Fact::Omitted;
    };
    value
        .as_f64()
        .or_else(|| value.as_str()?.trim().parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map_or(Fact::Unknown, Fact::Given)
}

pub(crate) fn count_fact<J: Json>(value: Option<&J>) -> Fact<u64> {
    match number_fact(value) {
        Fact::Given(n) if n.fract() == 0.0 && n <= u32::MAX as f64 => Fact::Given(n as u64),
        Fact::Given(_) => Fact::Unknown,
        Fact::Omitted => Fact::Omitted,
        Fact::Unknown => Fact::Unknown,
    }
}

pub(crate) fn connection_names<J: Json>(list: &J) -> Fact<Vec<String>> {
    if list.is_null() {
        return Fact::Given(Vec::new());
    }
    match list.items() {
        Some(items) => items
            .map(|item| item.as_str().map(bounded))
            .collect::<Option<Vec<_>>>()
            .map_or(Fact::Unknown, Fact::Given),
        None => Fact::Unknown,
    }
}

/// The scaling arguments of a `DefaultArguments` map (`policy::catalogue::AUTO_SCALING_ARGUMENT`,
/// `SCALING_PROFILE_ARGUMENT`); the others are not kept. Unreadable (not an object, or a scaling
/// argument that is not text): `Unknown`.
pub(crate) fn scaling_arguments<J: Json>(arguments: &J) -> Fact<BTreeMap<String, String>> {
    use crate::catalogue::{AUTO_SCALING_ARGUMENT, SCALING_PROFILE_ARGUMENT};
    if !arguments.is_object() {
        return Fact::Unknown;
    }
    let mut kept = BTreeMap::new();
    for key in [AUTO_SCALING_ARGUMENT, SCALING_PROFILE_ARGUMENT] {
        let Some(value) = arguments.get(key).filter(|value| !value.is_null()) else {
            continue;
        };
        if let Some(text) = value.as_str() {
            kept.insert(key.to_string(), bounded(text));
        } else if let Some(flag) = value.as_bool() {
            kept.insert(key.to_string(), flag.to_string());
        } else {
            return Fact::Unknown;
        }
    }
    Fact::Given(kept)
}

/// Tags as an object of names and values; a value that is not a string is kept as its JSON
/// text. A repeated name keeps its last value.
pub(crate) fn tag_map<J: Json>(tags: &J) -> Fact<BTreeMap<String, String>> {
    match tags.members() {
        Some(members) => Fact::Given(
            members
                .map(|(key, value)| {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_json(), str::to_string);
                    (key.to_string(), value)
                })
                .collect(),
        ),
        None => Fact::Unknown,
    }
}

/// The caller's ARN and, for an assumed role, its role's: what principal patterns match.
pub(crate) fn principal_arns(principal: Option<&Principal>) -> Vec<&str> {
    principal
        .into_iter()
        .flat_map(|p| std::iter::once(p.arn.as_str()).chain(p.issuer_arn.as_deref()))
        .collect()
}

/// True when the caller or, for an assumed role, its role matches one of `patterns` (ARN globs).
/// A pattern that is not an ARN pattern ([`crate::glob::ArnPattern::check`]) matches nothing.
pub(crate) fn principal_matches(principal: Option<&Principal>, patterns: &[String]) -> bool {
    let Some(principal) = principal else {
        return false;
    };
    let arns = std::iter::once(principal.arn.as_str()).chain(principal.issuer_arn.as_deref());
    patterns
        .iter()
        .any(|pattern| crate::glob::ArnPattern::any_matches(pattern, arns.clone()))
}
