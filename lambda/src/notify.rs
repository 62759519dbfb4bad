//! The notification: its subject, body and message attributes (a pure function of the verdict
//! and what was done, unit-tested), and publishing it to an SNS topic (the stack's own, and the
//! organization's central one when there is one: the same message to both).

use std::collections::BTreeMap;

use aws_sdk_sns::config::Region;
use aws_sdk_sns::types::MessageAttributeValue;
use policy::{Action, Verdict};
use serde_json::Value;

use crate::error::GuardError;
use crate::report::{Creator, FoundBy, Outcome};
use crate::session::ArnScope;

/// SNS rejects subjects of 100 characters or more.
pub const MAX_SUBJECT: usize = 99;

/// Everything one notification says.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub verdict: &'a Verdict,
    pub outcome: &'a Outcome,
    pub found_by: FoundBy,
    pub creator: Creator,
    pub stack_name: &'a str,
    /// The account the session runs in (12 digits), from the invocation's [`ArnScope`]: a
    /// central topic hears from every account of the organization.
    pub account: &'a str,
    /// The Region the session runs in (`eu-west-1`), from the invocation's [`ArnScope`].
    pub region: &'a str,
    pub exception_instructions: Option<&'a str>,
}

/// A notification ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    /// Plain text: what e-mail (and any subscriber but a chat channel) gets.
    pub body: String,
    /// The same, as a custom notification of Amazon Q Developer in chat applications (JSON,
    /// [`chat_notification`]): what the chat channels' HTTPS subscriptions get.
    pub chat: String,
    /// Message attributes, so that subscribers can filter (`decision`, `session_id`, `principal`,
    /// `account`, `region`…).
    pub attributes: BTreeMap<&'static str, String>,
    /// The routes the session or run matched (`policy::routes`): the `routes` attribute
    /// (`String.Array`) the routes' e-mail subscriptions filter on; absent when empty.
    pub routes: Vec<String>,
}

impl Message {
    /// The message as SNS's per-protocol structure (`MessageStructure` `json`): the custom
    /// notification for `https` (the chat channels' subscriptions), plain text for `email` and
    /// everything else (`default`). Amazon SNS API Reference, `Publish`: `MessageStructure`.
    pub fn per_protocol(&self) -> String {
        serde_json::json!({
            "default": self.body,
            "email": self.body,
            "https": self.chat,
        })
        .to_string()
    }
}

/// Builds the notification for a session that was out of bounds: its subject, body and
/// attributes, each from the same notice.
pub fn message(notice: &Notice) -> Message {
    let about = About::of(notice.verdict);
    let done = Done::of(notice, &about);
    let subject = subject(notice.stack_name, &about.in_subject, &done.in_subject);
    Message {
        chat: chat_notification(&ChatNotice {
            title: format!("{} out of bounds: {}", about.in_subject, done.in_subject),
            description: chat_description(notice, &about, &done),
            next_step: exception_line(notice),
            keywords: notice
                .verdict
                .violations
                .iter()
                .map(|violation| violation.rule.clone())
                .collect(),
            thread_id: about.in_subject.clone(),
            summary: subject.clone(),
            event_type: "violation",
        }),
        subject,
        body: body(notice, &about, &done),
        attributes: attributes(notice),
        routes: notice.verdict.routes.clone(),
    }
}

/// What a chat notification says ([`chat_notification`]).
pub struct ChatNotice<'a> {
    pub title: String,
    /// Markdown, rendered in the chat platform's own flavour (`textType` `client-markdown`).
    pub description: String,
    pub next_step: String,
    pub keywords: Vec<String>,
    /// Notifications of one session or job (`Glue session nb-1`) share a thread.
    pub thread_id: String,
    pub summary: String,
    pub event_type: &'a str,
}

/// The longest description sent to chat; longer ones end in `…`. Slack cuts a message's text
/// at 40,000 characters and Microsoft Teams' cards are smaller still: the guard's stay short.
pub const MAX_CHAT_DESCRIPTION: usize = 3_000;

/// A custom notification of Amazon Q Developer in chat applications ("Custom notifications",
/// Event schema: `version` `1.0` and `source` `custom` required; `content.description`
/// required; `textType` `client-markdown`; `metadata.threadId` threads the updates).
pub fn chat_notification(notice: &ChatNotice) -> String {
    let mut description = notice.description.clone();
    if description.chars().count() > MAX_CHAT_DESCRIPTION {
        description = description
            .chars()
            .take(MAX_CHAT_DESCRIPTION - 1)
            .collect::<String>()
            + "…";
    }
    serde_json::json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": notice.title,
            "description": description,
            "nextSteps": [notice.next_step],
            "keywords": notice.keywords,
        },
        "metadata": {
            "threadId": notice.thread_id,
            "summary": notice.summary,
            "eventType": notice.event_type,
        }
    })
    .to_string()
}

/// The chat notification's description: what was done, where, by whom, and each violation.
fn chat_description(notice: &Notice, about: &About, done: &Done) -> String {
    let verdict = notice.verdict;
    let mut lines = vec![done.sentence.clone()];
    for (label, value) in &about.lines {
        lines.push(format!("*{}* `{value}`", label.trim_end_matches(':')));
    }
    lines.push(format!(
        "*Account* `{}` *Region* `{}`",
        notice.account, notice.region
    ));
    lines.push(format!(
        "*Creator* `{}`",
        verdict.principal.as_deref().unwrap_or("unknown")
    ));
    if let Some(person) = &verdict.person {
        lines.push(format!("*Person* {person}"));
    }
    for violation in &verdict.violations {
        lines.push(format!(
            "• `{}`: {} (limit: {})",
            violation.rule,
            shown(&violation.actual),
            shown(&violation.limit)
        ));
    }
    lines.join("\n")
}

/// `To request an exception: ...`, from the policy's instructions or the stack's name.
fn exception_line(notice: &Notice) -> String {
    format!(
        "To request an exception: {}",
        notice
            .exception_instructions
            .filter(|text| !text.trim().is_empty())
            .map_or_else(
                || format!(
                    "contact the team that runs the Glue Session Guard stack {}.",
                    notice.stack_name
                ),
                str::to_string,
            )
    )
}

/// What was judged, in words: an interactive session, a job run or a job definition.
struct About {
    /// `an interactive session`, `a job run`, `a job definition`.
    noun: &'static str,
    /// `session`, `job run`, `job definition`: in sentences after "The".
    short: &'static str,
    /// The subject's name for it: `Glue session <id>`, `Glue job <name> run`.
    in_subject: String,
    /// The body's lines that name it.
    lines: Vec<(&'static str, String)>,
    /// The CloudTrail event it comes from.
    event: &'static str,
}

impl About {
    fn of(verdict: &Verdict) -> About {
        let unknown = || "unknown".to_string();
        match (&verdict.job_name, &verdict.job_run_id) {
            (Some(job), Some(run)) => About {
                noun: "a job run",
                short: "job run",
                in_subject: format!("Glue job {job} run"),
                lines: vec![("Job:", job.clone()), ("Run:", run.clone())],
                event: "StartJobRun",
            },
            (Some(job), None) => About {
                noun: "a job definition",
                short: "job definition",
                in_subject: format!("Glue job {job} definition"),
                lines: vec![("Job:", job.clone())],
                event: "CreateJob or UpdateJob",
            },
            _ => {
                let id = verdict.session_id.clone().unwrap_or_else(unknown);
                About {
                    noun: "an interactive session",
                    short: "session",
                    in_subject: format!("Glue session {id}"),
                    lines: vec![("Session:", id)],
                    event: "CreateSession",
                }
            }
        }
    }
}

/// What was done to the session, said three ways.
struct Done {
    /// `Glue Session Guard <headline> an interactive session …`
    headline: &'static str,
    /// The body's `Done:` line.
    sentence: String,
    /// The subject's ending: `stopped`, `already stopped`, `NOT stopped (audit)`.
    in_subject: String,
}

impl Done {
    fn of(notice: &Notice, about: &About) -> Done {
        let deleting = notice.verdict.action == Action::Delete;
        let short = about.short;
        let (headline, sentence, in_subject) = match notice.outcome {
            Outcome::Reported => (
                "reported",
                format!(
                    "Reported, not changed: the guard never changes a {short}; every run of it \
                     that is out of bounds is stopped (audit mode: reported)."
                ),
                "reported".to_string(),
            ),
            Outcome::Stopped if deleting => (
                "stopped and is deleting",
                format!(
                    "The {short} was stopped, and it is being deleted (policy action: delete)."
                ),
                "stopped and deleted".to_string(),
            ),
            Outcome::Stopped => (
                "stopped",
                format!("The {short} was stopped (policy action: stop)."),
                "stopped".to_string(),
            ),
            Outcome::AlreadyEnded(status) => (
                "found already ended",
                format!(
                    "Nothing to stop: the {short} had already ended ({status}) when the guard looked.{}",
                    if deleting {
                        " It is being deleted (policy action: delete)."
                    } else {
                        ""
                    }
                ),
                format!("already {}", status.to_ascii_lowercase()),
            ),
            _ => (
                "reported (audit mode)",
                format!(
                    "The {short} was NOT stopped: the guard runs in audit mode and only reports."
                ),
                "NOT stopped (audit)".to_string(),
            ),
        };
        Done {
            headline,
            sentence,
            in_subject,
        }
    }
}

/// The body: what was done, to which session (and where), by whose request, and why.
fn body(notice: &Notice, about: &About, done: &Done) -> String {
    let verdict = notice.verdict;
    let principal = verdict.principal.as_deref().unwrap_or("unknown");
    let headline = done.headline;
    let noun = about.noun;
    let event = about.event;
    let mut body = format!("Glue Session Guard {headline} {noun} that is out of bounds.\n\n");
    let mut line = |label: &str, value: &str| body.push_str(&format!("{label:<10} {value}\n"));
    for (label, value) in &about.lines {
        line(label, value);
    }
    if let Some(kind) = &verdict.session_type {
        // LIVY (statements) or SPARK_CONNECT (a PySpark client on its endpoint).
        line("Type:", kind);
    }
    line(
        "Account:",
        &format!("{}, Region: {}", notice.account, notice.region),
    );
    line(
        "Creator:",
        &match notice.creator {
            Creator::Event => format!("{principal} (from the {event} event)"),
            Creator::CloudTrail => format!("{principal} (recovered from CloudTrail)"),
            Creator::Unknown => "unknown (not found in CloudTrail)".to_string(),
        },
    );
    if let Some(person) = &verdict.person {
        // The person behind a shared role (SageMaker Unified Studio, IAM Identity Center).
        line("Person:", person);
    }
    line(
        "Found by:",
        &match notice.found_by {
            FoundBy::Event => format!("its {event} event"),
            FoundBy::Sweep => "the scheduled sweep".to_string(),
        },
    );
    line("Decision:", "violation");
    line(
        "Limits:",
        &match &verdict.override_name {
            Some(name) => format!("the default boundaries with override \"{name}\""),
            None => "the default boundaries (no override applies)".to_string(),
        },
    );
    line("Done:", &done.sentence);

    body.push_str("\nViolations (actual vs limit):\n");
    for violation in &verdict.violations {
        body.push_str(&format!(
            "  - {}: {} (limit: {}). {}\n",
            violation.rule,
            shown(&violation.actual),
            shown(&violation.limit),
            violation.message
        ));
    }
    if !verdict.defaults_applied.is_empty() {
        body.push_str(&format!(
            "\nGlue defaults assumed: {}\n",
            verdict.defaults_applied.join("; ")
        ));
    }
    if !verdict.unchecked.is_empty() {
        body.push_str(&format!("Not checked: {}\n", verdict.unchecked.join("; ")));
    }
    if !verdict.notes.is_empty() {
        body.push_str(&format!("Notes: {}\n", verdict.notes.join("; ")));
    }
    if notice.creator == Creator::Unknown {
        body.push_str(&format!(
            "\nNote: the creator could not be recovered from CloudTrail, so the {} was \
                 judged by the default boundaries: no override or exemption could apply.\n",
            about.short
        ));
    }
    body.push_str(&format!("\n{}\n", exception_line(notice)));
    body.push_str(&format!(
        "\n-- Glue Session Guard (stack {})\n",
        notice.stack_name
    ));
    body
}

/// Message attributes, so that subscribers can filter.
fn attributes(notice: &Notice) -> BTreeMap<&'static str, String> {
    let verdict = notice.verdict;
    let session_id = verdict.session_id.as_deref().unwrap_or_default();
    let principal = verdict.principal.as_deref().unwrap_or("unknown");
    BTreeMap::from([
        ("decision", "violation".to_string()),
        ("session_id", session_id.to_string()),
        ("job_name", verdict.job_name.clone().unwrap_or_default()),
        ("job_run_id", verdict.job_run_id.clone().unwrap_or_default()),
        (
            "session_type",
            verdict.session_type.clone().unwrap_or_default(),
        ),
        ("principal", principal.to_string()),
        ("person", verdict.person.clone().unwrap_or_default()),
        ("action", verdict.action.as_str().to_string()),
        ("outcome", notice.outcome.as_str().to_string()),
        ("stack", notice.stack_name.to_string()),
        ("account", notice.account.to_string()),
        ("region", notice.region.to_string()),
    ])
}

/// The reminder that an exception expires soon (`policy::exceptions`): sent once by the sweep,
/// [`crate::remind`]. Its attributes say `kind` `reminder` (a session's say `decision`), and the
/// exception's `exception_kind` and `exception` (its name or principal pattern).
pub fn reminder(
    stack_name: &str,
    account: &str,
    region: &str,
    exception: &policy::exceptions::Exception,
    now: i64,
) -> Message {
    let what = exception.describe();
    let subject = shorten(
        &ascii(&format!(
            "[{}] {what} expires soon",
            shorten(&ascii(stack_name), 24)
        )),
        MAX_SUBJECT,
    );
    let said = policy::exceptions::sentence(exception, policy::exceptions::Due::ExpiresSoon, now);
    let kind = match exception.kind {
        policy::exceptions::Kind::Override => "override",
        policy::exceptions::Kind::JobOverride => "job_override",
        policy::exceptions::Kind::ExemptPrincipal => "exempt_principal",
    };
    let body = format!(
        "Glue Session Guard: an exception in the policy expires soon.\n\n\
         {said}.\n\n\
         From then on, what it covers is judged by the limits without it: sessions and job runs \
         out of those limits are stopped (audit mode: reported). To keep it, give it a later \
         `expires` in the policy file and deploy; to let it end, do nothing, and remove it from \
         the file afterwards.\n\n\
         Account:   {account}, Region: {region}\n\
         \n-- Glue Session Guard (stack {stack_name})\n"
    );
    Message {
        chat: chat_notification(&ChatNotice {
            title: format!("{what} expires soon"),
            description: format!(
                "{said}.\nFrom then on, what it covers is judged by the limits without it. To \
                 keep it, give it a later `expires` and deploy.\n*Account* `{account}` *Region* \
                 `{region}`"
            ),
            next_step: "Renew it in the policy file, or let it end.".to_string(),
            keywords: vec!["reminder".to_string()],
            thread_id: exception.key(),
            summary: subject.clone(),
            event_type: "reminder",
        }),
        subject,
        body,
        routes: Vec::new(),
        attributes: BTreeMap::from([
            ("kind", "reminder".to_string()),
            ("exception_kind", kind.to_string()),
            ("exception", exception.name.clone()),
            ("expires", exception.expires.clone()),
            ("stack", stack_name.to_string()),
            ("account", account.to_string()),
            ("region", region.to_string()),
        ]),
    }
}

/// Publishes `message` to the topic, through the topic's Region ([`client_for_topic`]). A failure
/// is reported about `about` (the session id, and which topic when it is not the own one).
pub async fn publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    about: &str,
    message: &Message,
) -> Result<(), GuardError> {
    let attributes = message
        .attributes
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .filter_map(|(key, value)| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .ok()
                .map(|attribute| (key.to_string(), attribute))
        })
        .collect();
    let mut attributes: std::collections::HashMap<String, MessageAttributeValue> = attributes;
    if !message.routes.is_empty() {
        // A `String.Array` attribute is a JSON array of strings; a filter policy's value matches
        // when it matches one of them.
        let routes = serde_json::to_string(&message.routes).unwrap_or_default();
        if let Ok(value) = MessageAttributeValue::builder()
            .data_type("String.Array")
            .string_value(routes)
            .build()
        {
            attributes.insert(policy::routes::ROUTES_ATTRIBUTE.to_string(), value);
        }
    }
    client_for_topic(sns, topic_arn)
        .publish()
        .topic_arn(topic_arn)
        .subject(&message.subject)
        .message_structure("json")
        .message(message.per_protocol())
        .set_message_attributes(Some(attributes))
        .send()
        .await
        .map_err(|error| GuardError::aws("Publish", about, error))?;
    Ok(())
}

/// The client to publish to `topic_arn` with: SNS takes a topic's messages only through the
/// endpoint of the topic's Region, so a topic in another Region than `sns` (a central topic)
/// gets a copy of `sns` (same credentials, HTTP client, retries) set to that Region. A topic in
/// the client's Region, or an ARN without one, gets `sns` itself.
pub fn client_for_topic(sns: &aws_sdk_sns::Client, topic_arn: &str) -> aws_sdk_sns::Client {
    match ArnScope::from_arn(topic_arn) {
        Some(topic) if sns.config().region().map(Region::as_ref) != Some(topic.region.as_str()) => {
            let config = sns
                .config()
                .to_builder()
                .region(Region::new(topic.region))
                .build();
            aws_sdk_sns::Client::from_conf(config)
        }
        _ => sns.clone(),
    }
}

/// `[stack] Glue session <id> out of bounds: <outcome>` (`Glue job <name> run`, `Glue job <name>
/// definition`), shortened to fit SNS's limit, printable ASCII only.
fn subject(stack_name: &str, what: &str, outcome: &str) -> String {
    let stack = ascii(stack_name);
    let stack = shorten(&stack, 24);
    let fixed = format!("[{stack}]  out of bounds: {outcome}").len();
    let what = shorten(&ascii(what), MAX_SUBJECT.saturating_sub(fixed).max(20));
    let subject = format!("[{stack}] {what} out of bounds: {outcome}");
    shorten(&subject, MAX_SUBJECT)
}

fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(3);
    format!("{}...", &text[..keep])
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "not set".to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use policy::{Decision, Violation};
    use serde_json::json;

    use super::*;

    fn verdict(action: Action) -> Verdict {
        Verdict {
            decision: Decision::Violation,
            session_id: Some("nb-alice-1".into()),
            job_name: None,
            job_run_id: None,
            session_type: Some("SPARK_CONNECT".into()),
            principal: Some("arn:aws:sts::123456789012:assumed-role/Analyst/alice".into()),
            person: None,
            violations: vec![
                Violation {
                    rule: "max_workers".into(),
                    actual: json!(50),
                    limit: json!(10),
                    message: "50 workers requested; at most 10 allowed".into(),
                    from_default: false,
                },
                Violation {
                    rule: "allowed_worker_types".into(),
                    actual: json!("G.8X"),
                    limit: json!(["G.1X", "G.2X"]),
                    message: "worker type G.8X is not allowed (allowed: G.1X, G.2X)".into(),
                    from_default: false,
                },
            ],
            override_name: Some("ml-training".into()),
            action,
            reason: None,
            defaults_applied: vec![],
            unchecked: vec![],
            notes: vec!["auto scaling is on (--enable-auto-scaling true): NumberOfWorkers 50 is the most Glue runs, and the limits judge that maximum".into()],
            dpu: Some(400.0),
            routes: vec!["analytics".into()],
        }
    }

    fn notice<'a>(verdict: &'a Verdict, outcome: &'a Outcome) -> Notice<'a> {
        Notice {
            verdict,
            outcome,
            found_by: FoundBy::Event,
            creator: Creator::Event,
            stack_name: "glue-session-guard",
            account: "123456789012",
            region: "eu-west-1",
            exception_instructions: Some("Ask in #data-platform."),
        }
    }

    #[test]
    fn a_stopped_session_is_explained_in_full() {
        let verdict = verdict(Action::Stop);
        let message = message(&notice(&verdict, &Outcome::Stopped));
        assert_eq!(
            message.subject,
            "[glue-session-guard] Glue session nb-alice-1 out of bounds: stopped"
        );
        let expected = "\
Glue Session Guard stopped an interactive session that is out of bounds.

Session:   nb-alice-1
Type:      SPARK_CONNECT
Account:   123456789012, Region: eu-west-1
Creator:   arn:aws:sts::123456789012:assumed-role/Analyst/alice (from the CreateSession event)
Found by:  its CreateSession event
Decision:  violation
Limits:    the default boundaries with override \"ml-training\"
Done:      The session was stopped (policy action: stop).

Violations (actual vs limit):
  - max_workers: 50 (limit: 10). 50 workers requested; at most 10 allowed
  - allowed_worker_types: G.8X (limit: G.1X, G.2X). worker type G.8X is not allowed (allowed: G.1X, G.2X)
Notes: auto scaling is on (--enable-auto-scaling true): NumberOfWorkers 50 is the most Glue runs, and the limits judge that maximum

To request an exception: Ask in #data-platform.

-- Glue Session Guard (stack glue-session-guard)
";
        assert_eq!(message.body, expected);
        assert_eq!(message.attributes["decision"], "violation");
        assert_eq!(message.attributes["session_id"], "nb-alice-1");
        assert_eq!(message.attributes["session_type"], "SPARK_CONNECT");
        assert_eq!(
            message.attributes["principal"],
            "arn:aws:sts::123456789012:assumed-role/Analyst/alice"
        );
        assert_eq!(message.attributes["outcome"], "stopped");
        assert_eq!(message.attributes["account"], "123456789012");
        assert_eq!(message.attributes["region"], "eu-west-1");
    }

    #[test]
    fn every_message_says_which_account_and_region_it_comes_from() {
        let verdict = verdict(Action::Notify);
        let mut notice = notice(&verdict, &Outcome::NotStopped);
        notice.account = "111122223333";
        notice.region = "ap-southeast-2";
        let message = message(&notice);
        assert!(
            message
                .body
                .contains("\nAccount:   111122223333, Region: ap-southeast-2\n"),
            "{}",
            message.body
        );
        assert_eq!(message.attributes["account"], "111122223333");
        assert_eq!(message.attributes["region"], "ap-southeast-2");
        // The subject stays as it was: the stack and the session, within SNS's limit.
        assert_eq!(
            message.subject,
            "[glue-session-guard] Glue session nb-alice-1 out of bounds: NOT stopped (audit)"
        );
    }

    #[test]
    fn a_topic_in_another_region_is_published_to_through_its_own_region() {
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::Config::builder()
                .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .build(),
        );
        let region = |topic: &str| {
            client_for_topic(&sns, topic)
                .config()
                .region()
                .map(|region| region.to_string())
        };
        assert_eq!(
            region("arn:aws:sns:eu-west-1:111122223333:glue-guard-central").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region("arn:aws:sns:us-east-1:123456789012:glue-session-guard").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(region("not an arn").as_deref(), Some("us-east-1"));
    }

    #[test]
    fn the_person_behind_a_shared_role_is_named() {
        let mut verdict = verdict(Action::Stop);
        verdict.person = Some("alice@example.com (source identity)".into());
        let message = message(&notice(&verdict, &Outcome::Stopped));
        assert!(
            message
                .body
                .contains("\nPerson:    alice@example.com (source identity)\n"),
            "{}",
            message.body
        );
        assert_eq!(
            message.attributes["person"],
            "alice@example.com (source identity)"
        );
    }

    #[test]
    fn audit_mode_says_the_session_was_not_stopped() {
        let verdict = verdict(Action::Notify);
        let message = message(&notice(&verdict, &Outcome::NotStopped));
        assert!(
            message.subject.contains("NOT stopped"),
            "{}",
            message.subject
        );
        assert!(
            message.body.contains("The session was NOT stopped"),
            "{}",
            message.body
        );
        assert_eq!(message.attributes["action"], "notify");
    }

    #[test]
    fn an_unknown_creator_is_said_to_be_judged_by_the_defaults() {
        let mut verdict = verdict(Action::Delete);
        verdict.principal = None;
        verdict.override_name = None;
        let outcome = Outcome::AlreadyEnded("STOPPED".into());
        let mut notice = notice(&verdict, &outcome);
        notice.creator = Creator::Unknown;
        notice.found_by = FoundBy::Sweep;
        notice.exception_instructions = None;
        let message = message(&notice);
        assert!(
            message.body.contains("Creator:   unknown"),
            "{}",
            message.body
        );
        assert!(
            message.body.contains("judged by the default boundaries"),
            "{}",
            message.body
        );
        assert!(
            message.body.contains("the scheduled sweep"),
            "{}",
            message.body
        );
        assert!(
            message.body.contains("already ended (STOPPED)"),
            "{}",
            message.body
        );
        assert!(message.body.contains("being deleted"), "{}", message.body);
        assert!(
            message.body.contains("contact the team that runs"),
            "{}",
            message.body
        );
        assert_eq!(message.attributes["principal"], "unknown");
    }

    #[test]
    fn subjects_stay_under_100_printable_ascii_characters() {
        let mut verdict = verdict(Action::Delete);
        verdict.session_id = Some(format!("{}é", "x".repeat(250)));
        let message = message(&notice(&verdict, &Outcome::Stopped));
        assert!(
            message.subject.len() <= MAX_SUBJECT,
            "{}",
            message.subject.len()
        );
        assert!(
            message
                .subject
                .chars()
                .all(|c| c.is_ascii_graphic() || c == ' ')
        );
        assert!(
            message.subject.ends_with("stopped and deleted"),
            "{}",
            message.subject
        );
        assert!(message.subject.contains("xxx..."), "{}", message.subject);
    }
}
