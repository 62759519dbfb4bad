//! The function's entry point for one event: a CloudTrail `CreateSession`, `StartJobRun`,
//! `CreateJob` or `UpdateJob` (real time), a scheduled event (the sweep), or anything else
//! (logged and ignored, never a panic).

use std::time::{Duration, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use policy::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{Instrument, error, field, info, info_span};

use crate::config::Guard;
use crate::enforce;
use crate::error::GuardError;
use crate::metrics::Metrics;
use crate::report::{Candidate, Creator, FoundBy, Invocation, JobReport, SessionReport};
use crate::session::{self, ArnScope, Status};
use crate::sweep::{self, SweepReport};

/// What the function returns for one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// A `CreateSession` event, judged.
    Session(SessionReport),
    /// A `StartJobRun`, `CreateJob` or `UpdateJob` event, judged.
    Job(JobReport),
    /// A sweep.
    Sweep(SweepReport),
    /// Not an event to act on.
    Ignored {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
}

/// The EventBridge envelope, as far as the function reads it: what kind of event it is, and the
/// account and region it came from (the record in `detail` is read by `policy`). A struct of our
/// own: `aws_lambda_events` would bring chrono, serde_with and darling into the function's build
/// for these four fields.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    region: Option<String>,
    /// Present in every EventBridge event; its content is not read here.
    #[allow(dead_code)]
    detail: serde::de::IgnoredAny,
}

/// Handles one event. Failures that trying again can fix are marked retryable.
pub async fn handle(guard: &Guard, event: LambdaEvent<Value>) -> Result<Response, GuardError> {
    let (payload, context) = event.into_parts();
    let metrics = match guard.settings.central_topic_arn {
        Some(_) => Metrics::with_central_topic(),
        None => Metrics::default(),
    };
    let metrics = match guard.policy().jobs {
        Some(_) => metrics.guarding_jobs(),
        None => metrics,
    };
    let result = dispatch(guard, &payload, &context, &metrics).await;
    metrics.emit(&guard.settings.stack_name);
    if let Err(failure) = &result {
        error!(error = %failure, retry = ?failure.retry(), "invocation failed");
    }
    result
}

async fn dispatch(
    guard: &Guard,
    payload: &Value,
    context: &Context,
    metrics: &Metrics,
) -> Result<Response, GuardError> {
    let envelope: Envelope = match Envelope::deserialize(payload) {
        Ok(envelope) => envelope,
        Err(problem) => return Ok(ignore(format!("not an EventBridge event: {problem}"), None)),
    };
    let Some(invocation) = invocation(context, &envelope) else {
        return Ok(ignore(
            "neither the function ARN nor the event names the account and region".into(),
            None,
        ));
    };
    match (envelope.detail_type.as_str(), envelope.source.as_str()) {
        ("AWS API Call via CloudTrail", _) if policy::is_job_event(payload) => {
            crate::job::on_job_event(guard, &invocation, payload, metrics)
                .await
                .map(Response::Job)
        }
        ("AWS API Call via CloudTrail", _) => {
            on_create_session(guard, &invocation, payload, metrics).await
        }
        ("Scheduled Event", "aws.events" | "aws.scheduler") => {
            sweep::sweep(guard, &invocation, metrics)
                .await
                .map(Response::Sweep)
        }
        (detail_type, source) => Ok(ignore(
            format!("detail-type `{detail_type}` from `{source}` is not handled"),
            None,
        )),
    }
}

/// The account and region sessions live in (from the function's ARN, else the event), and the
/// invocation's deadline.
fn invocation(context: &Context, envelope: &Envelope) -> Option<Invocation> {
    let scope = ArnScope::from_arn(&context.invoked_function_arn).or_else(|| {
        let account = envelope.account.as_deref().filter(|a| !a.is_empty())?;
        let region = envelope.region.as_deref().filter(|r| !r.is_empty())?;
        Some(ArnScope {
            partition: "aws".to_string(),
            region: region.to_string(),
            account: account.to_string(),
        })
    })?;
    Some(Invocation {
        scope,
        deadline: UNIX_EPOCH + Duration::from_millis(context.deadline),
        request_id: context.request_id.clone(),
    })
}

fn ignore(reason: String, session_id: Option<String>) -> Response {
    info!(decision = "ignored", reason = %reason, "event ignored");
    Response::Ignored { reason, session_id }
}

/// The real-time path: the request from the event, what Glue really created from `GetSession`.
async fn on_create_session(
    guard: &Guard,
    invocation: &Invocation,
    payload: &Value,
    metrics: &Metrics,
) -> Result<Response, GuardError> {
    let record = match policy::read_create_session(payload) {
        Ok(record) => record,
        Err(ignored) => {
            let verdict = Verdict::ignored(ignored);
            let reason = verdict.reason.unwrap_or_default();
            let span = info_span!(
                "session",
                session_id = verdict.session_id.as_deref().unwrap_or("none")
            );
            return Ok(span.in_scope(|| ignore(reason, verdict.session_id)));
        }
    };
    let id = record.request.session_id.clone();
    let span = info_span!("session", session_id = %id, decision = field::Empty);
    async move {
        let creator = match record.request.principal {
            Some(_) => Creator::Event,
            None => Creator::Unknown,
        };
        // What Glue created wins: GetSession over Glue's echo in the record over the request.
        let (facts, status, created_on) = match session::get_session(&guard.glue, &id).await? {
            Some(found) => {
                let reported = policy::facts_from_glue_session(&session::session_json(&found)).ok();
                (
                    record.facts(reported),
                    Status::of(&found),
                    session::created_on(&found),
                )
            }
            None => (record.facts(None), Status::Gone, None),
        };
        let facts = match status {
            Status::Gone => facts,
            _ => guard.with_profile(facts).await,
        };
        let case = Candidate {
            facts,
            status,
            found_by: FoundBy::Event,
            creator,
            created_on,
        };
        let mut verdict = enforce::evaluate(guard, &case, metrics);
        // A session's budget may count job runs: those of every job the registry's index names.
        let job_runs: &crate::budget::More<'_> =
            &|| Box::pin(crate::job::indexed_runs(guard, None));
        crate::budget::check_session(guard, invocation, &case, &mut verdict, metrics, job_runs)
            .await?;
        let acted = enforce::act(guard, invocation, &case, &verdict, metrics).await;
        // A stop that did not happen leaves no budget violation recorded behind it.
        let acted = match case.created_on {
            Some(created_on) => {
                let key = crate::budget::session_key(&case, created_on);
                crate::budget::unless_stopped(guard, &key, &verdict, acted).await
            }
            None => acted,
        };
        acted.map(Response::Session)
    }
    .instrument(span)
    .await
}
