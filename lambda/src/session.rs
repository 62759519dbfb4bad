//! Reading sessions from Glue: `GetSession` and `GetTags`, a session's status, its ARN, and the
//! session as the PascalCase JSON that `policy::facts_from_glue_session` reads.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_glue::operation::get_session::GetSessionError;
use aws_sdk_glue::operation::get_tags::GetTagsError;
use aws_sdk_glue::types::{Session, SessionStatus};
use serde_json::{Map, Value, json};

use crate::error::GuardError;

/// Where a session's ARN lives: `arn:{partition}:glue:{region}:{account}:session/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnScope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl ArnScope {
    /// The scope of an ARN such as the invoked function's (`arn:aws:lambda:eu-west-1:1234…`).
    pub fn from_arn(arn: &str) -> Option<ArnScope> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        [partition, region, account]
            .iter()
            .all(|part| !part.is_empty())
            .then(|| ArnScope {
                partition: partition.to_string(),
                region: region.to_string(),
                account: account.to_string(),
            })
    }

    /// The ARN of the Glue job `job_name`.
    pub fn job_arn(&self, job_name: &str) -> String {
        format!(
            "arn:{}:glue:{}:{}:job/{job_name}",
            self.partition, self.region, self.account
        )
    }

    /// The ARN of the Glue interactive session `session_id`.
    pub fn session_arn(&self, session_id: &str) -> String {
        format!(
            "arn:{}:glue:{}:{}:session/{session_id}",
            self.partition, self.region, self.account
        )
    }
}

/// A session's status, as far as enforcement cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Provisioning,
    Ready,
    /// `STOPPING`, `STOPPED`, `FAILED` or `TIMEOUT`: nothing to stop.
    Ended(String),
    /// A status this build does not know; treated like `READY` (try to stop it).
    Other(String),
    /// The session no longer exists.
    Gone,
}

impl Status {
    pub fn of(session: &Session) -> Status {
        match session.status() {
            Some(SessionStatus::Provisioning) => Status::Provisioning,
            Some(SessionStatus::Ready) => Status::Ready,
            Some(
                ended @ (SessionStatus::Stopping
                | SessionStatus::Stopped
                | SessionStatus::Failed
                | SessionStatus::Timeout),
            ) => Status::Ended(ended.as_str().to_string()),
            Some(other) => Status::Other(other.as_str().to_string()),
            None => Status::Other("UNKNOWN".to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Provisioning => "PROVISIONING",
            Status::Ready => "READY",
            Status::Ended(status) | Status::Other(status) => status,
            Status::Gone => "GONE",
        }
    }
}

/// `GetSession`; `None` when the session no longer exists.
pub async fn get_session(
    glue: &aws_sdk_glue::Client,
    session_id: &str,
) -> Result<Option<Session>, GuardError> {
    match glue.get_session().id(session_id).send().await {
        Ok(output) => Ok(output.session),
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetSessionError::EntityNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(GuardError::aws("GetSession", session_id, error)),
    }
}

/// When Glue created the session.
pub fn created_on(session: &Session) -> Option<SystemTime> {
    session
        .created_on()
        .and_then(|time| SystemTime::try_from(*time).ok())
}

/// `GetTags` on the session; `None` when the session no longer exists.
pub async fn get_tags(
    glue: &aws_sdk_glue::Client,
    scope: &ArnScope,
    session_id: &str,
) -> Result<Option<BTreeMap<String, String>>, GuardError> {
    tags_of(glue, &scope.session_arn(session_id), session_id).await
}

/// `GetTags` of any Glue resource (`arn`); `None` when it no longer exists. A failure is
/// reported about `about` (the session id, the job's name).
pub async fn tags_of(
    glue: &aws_sdk_glue::Client,
    arn: &str,
    about: &str,
) -> Result<Option<BTreeMap<String, String>>, GuardError> {
    match glue.get_tags().resource_arn(arn).send().await {
        Ok(output) => Ok(Some(output.tags.unwrap_or_default().into_iter().collect())),
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetTagsError::EntityNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(GuardError::aws("GetTags", about, error)),
    }
}

/// The session as Glue's API spells it in JSON, for `policy::facts_from_glue_session`.
pub fn session_json(session: &Session) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(key.to_string(), value);
        }
    };
    put("Id", session.id().map(|id| json!(id)));
    put("Status", session.status().map(|s| json!(s.as_str())));
    put(
        "Command",
        session
            .command()
            .and_then(|command| command.name())
            .map(|name| json!({ "Name": name })),
    );
    put("ProfileName", session.profile_name().map(|p| json!(p)));
    put(
        "SessionType",
        session.session_type().map(|t| json!(t.as_str())),
    );
    put(
        "DefaultArguments",
        session
            .default_arguments()
            .map(|arguments| json!(arguments)),
    );
    put(
        "WorkerType",
        session.worker_type().map(|t| json!(t.as_str())),
    );
    put(
        "NumberOfWorkers",
        session.number_of_workers().map(|n| json!(n)),
    );
    put("MaxCapacity", session.max_capacity().map(|c| json!(c)));
    put("IdleTimeout", session.idle_timeout().map(|t| json!(t)));
    put("GlueVersion", session.glue_version().map(|v| json!(v)));
    put(
        "Connections",
        session
            .connections()
            .map(|list| json!({ "Connections": list.connections() })),
    );
    Value::Object(out)
}

/// Every session (paginated): how many there are, and those `PROVISIONING` or `READY`.
pub async fn running(glue: &aws_sdk_glue::Client) -> Result<(usize, Vec<Session>), GuardError> {
    let all = listed(glue).await?;
    let listed = all.len();
    Ok((listed, all.into_iter().filter(is_running).collect()))
}

/// Every session `ListSessions` lists, in any status (all pages).
pub async fn listed(glue: &aws_sdk_glue::Client) -> Result<Vec<Session>, GuardError> {
    let mut pages = glue.list_sessions().into_paginator().send();
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| GuardError::aws("ListSessions", "all sessions", error))?;
        listed.extend(page.sessions.unwrap_or_default());
    }
    Ok(listed)
}

/// Whether a listed session holds DPUs: `PROVISIONING` or `READY`.
pub fn is_running(session: &Session) -> bool {
    matches!(Status::of(session), Status::Provisioning | Status::Ready)
}

#[cfg(test)]
mod tests {
    use aws_sdk_glue::types::{ConnectionsList, SessionType, WorkerType};

    use super::*;

    #[test]
    fn session_arns_come_from_the_function_arn() {
        let scope =
            ArnScope::from_arn("arn:aws-cn:lambda:cn-north-1:123456789012:function:gsg").unwrap();
        assert_eq!(
            scope.session_arn("s-1"),
            "arn:aws-cn:glue:cn-north-1:123456789012:session/s-1"
        );
        assert_eq!(ArnScope::from_arn("not an arn"), None);
        assert_eq!(ArnScope::from_arn("arn:aws:lambda::123:function:f"), None);
    }

    #[test]
    fn a_session_reads_as_the_facts_glue_reports() {
        let session = Session::builder()
            .id("s-1")
            .status(SessionStatus::Ready)
            .worker_type(WorkerType::from("G.2X.GRAVITON"))
            .session_type(SessionType::SparkConnect)
            .default_arguments("--enable-auto-scaling", "true")
            .default_arguments("--job-language", "python")
            .number_of_workers(12)
            .idle_timeout(30)
            .glue_version("4.0")
            .connections(
                ConnectionsList::builder()
                    .connections("private-vpc")
                    .build(),
            )
            .build();
        let facts = policy::facts_from_glue_session(&session_json(&session)).unwrap();
        assert_eq!(facts.session_id, "s-1");
        assert_eq!(facts.status.as_deref(), Some("READY"));
        assert_eq!(
            facts.worker_type,
            policy::Fact::Given("G.2X.GRAVITON".to_string())
        );
        assert_eq!(
            facts.session_type,
            policy::Fact::Given("SPARK_CONNECT".to_string())
        );
        assert_eq!(
            facts.scaling_arguments,
            policy::Fact::Given(std::collections::BTreeMap::from([(
                "--enable-auto-scaling".to_string(),
                "true".to_string()
            )]))
        );
        assert_eq!(facts.number_of_workers, policy::Fact::Given(12));
        assert_eq!(facts.idle_timeout_minutes, policy::Fact::Given(30));
        assert_eq!(
            facts.connections,
            policy::Fact::Given(vec!["private-vpc".to_string()])
        );
        assert_eq!(facts.max_capacity, policy::Fact::Unknown);
        assert_eq!(Status::of(&session), Status::Ready);
    }
}
