//! Judging one session and acting on the verdict: wait for it to leave `PROVISIONING`, stop it,
//! notify once per topic (through the ledger), delete it. Shared by the real-time path and the
//! sweep, so both reach the same decision and do the same thing.

use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use policy::{Action, Decision, Verdict};
use tracing::{Span, debug, error, info, warn};

use crate::config::{Guard, Timing};
use crate::error::GuardError;
use crate::ledger::{self, Claim};
use crate::metrics::Metrics;
use crate::notify::{self, Message, Notice};
use crate::report::{
    Candidate, Destination, FoundBy, Invocation, Notification, Outcome, SessionReport,
};
use crate::session::{self, Status};
use crate::wait::{Backoff, Budget};

/// Judges the case against the policy (recording the decision on the current span and in the
/// metrics). Does not act.
pub fn evaluate(guard: &Guard, case: &Candidate, metrics: &Metrics) -> Verdict {
    let mut verdict = policy::evaluate(guard.policy(), &case.facts);
    // `policy::evaluate` gives an ended session no action. The function acts on the live state
    // itself (it waits out PROVISIONING, and finds an ended session `already_ended`), and still
    // notifies once for an ended one: a retry after a failed Publish finds the session it
    // stopped STOPPING, and its notification must not be lost.
    verdict.action = policy::enforcement_action(guard.policy(), verdict.decision);
    Span::current().record("decision", verdict.decision.as_str());
    let violated: Vec<&str> = match verdict.decision {
        Decision::Violation => verdict.rules(),
        _ => Vec::new(),
    };
    metrics.inspected(violated);
    verdict
}

/// Judges the case and acts on the verdict.
pub async fn judge(
    guard: &Guard,
    invocation: &Invocation,
    case: &Candidate,
    metrics: &Metrics,
) -> Result<SessionReport, GuardError> {
    let verdict = evaluate(guard, case, metrics);
    act(guard, invocation, case, &verdict, metrics).await
}

/// Acts on a verdict: nothing, notify (audit), or stop / delete (enforce), then logs one line.
pub async fn act(
    guard: &Guard,
    invocation: &Invocation,
    case: &Candidate,
    verdict: &Verdict,
    metrics: &Metrics,
) -> Result<SessionReport, GuardError> {
    let mut report = SessionReport::new(case, verdict, Outcome::LeftAlone);
    if case.status == Status::Gone {
        report.outcome = Outcome::Gone;
    } else {
        match verdict.action {
            Action::None => {}
            Action::Notify => audit(guard, invocation, case, verdict, &mut report, metrics).await?,
            Action::Stop | Action::Delete => {
                enforce(guard, invocation, case, verdict, &mut report, metrics).await?
            }
        }
    }
    log_report(&report);
    Ok(report)
}

/// The one structured line per judged session.
pub fn log_report(report: &SessionReport) {
    let principal = report.principal.as_deref().unwrap_or("unknown");
    let override_name = report.override_name.as_deref().unwrap_or("none");
    let rules = report.rules.join(",");
    let reason = report.reason.as_deref().unwrap_or("");
    let message = match (report.decision, &report.outcome) {
        (_, Outcome::Gone) => "the session no longer exists; nothing to do",
        (_, Outcome::Deferred) => {
            "out of bounds, creator not in CloudTrail yet; left to the next sweep"
        }
        (Decision::Compliant, _) => "within bounds",
        (Decision::Exempt, _) => "out of bounds but exempt: not stopped, nobody notified",
        (Decision::Ignored, _) => "not a session to judge",
        (Decision::Violation, Outcome::Reported) => {
            "job definition out of bounds: reported, never changed"
        }
        (Decision::Violation, Outcome::NotStopped) => {
            "out of bounds: reported, NOT stopped (audit mode)"
        }
        (Decision::Violation, Outcome::Stopped) => "out of bounds: stopped",
        (Decision::Violation, Outcome::AlreadyEnded(_)) => "out of bounds: had already ended",
        (Decision::Violation, Outcome::LeftAlone) => "out of bounds",
    };
    let outcome = report.outcome.as_str();
    let status = match &report.outcome {
        Outcome::AlreadyEnded(status) => status.as_str(),
        _ => "",
    };
    let notification = report.notification.as_str();
    let action = report.action.as_str();
    if report.decision == Decision::Violation || report.decision == Decision::Exempt {
        warn!(
            principal,
            override_name,
            rules,
            reason,
            action,
            outcome,
            status,
            notification,
            deleted = report.deleted,
            "{message}"
        );
    } else {
        info!(
            principal,
            override_name, rules, reason, action, outcome, "{message}"
        );
    }
}

/// Audit mode: notify once, never stop.
async fn audit(
    guard: &Guard,
    invocation: &Invocation,
    case: &Candidate,
    verdict: &Verdict,
    report: &mut SessionReport,
    metrics: &Metrics,
) -> Result<(), GuardError> {
    report.outcome = Outcome::NotStopped;
    report.notification = notify_once(
        guard,
        invocation,
        &Subject::of(case),
        verdict,
        &report.outcome,
        metrics,
    )
    .await?;
    Ok(())
}

/// Enforce mode: stop (waiting out `PROVISIONING`), notify once, and delete if asked to.
async fn enforce(
    guard: &Guard,
    invocation: &Invocation,
    case: &Candidate,
    verdict: &Verdict,
    report: &mut SessionReport,
    metrics: &Metrics,
) -> Result<(), GuardError> {
    let glue = &guard.glue;
    let id = &case.facts.session_id;
    let budget = Budget::new(guard, invocation);
    let status = match &case.status {
        Status::Provisioning => wait_while_provisioning(glue, id, &budget, &guard.timing).await?,
        status => status.clone(),
    };
    report.outcome = match status {
        Status::Gone => Outcome::Gone,
        Status::Ended(status) => Outcome::AlreadyEnded(status),
        Status::Ready | Status::Other(_) | Status::Provisioning => stop(glue, id).await?,
    };
    match &report.outcome {
        Outcome::Gone => return Ok(()),
        Outcome::Stopped => {
            metrics.stopped();
            info!("StopSession accepted");
        }
        _ => {}
    }
    // Stop first, then notify: the decision to stop never depends on the ledger, so nothing in
    // it (or missing from it) can keep a session running.
    report.notification = notify_once(
        guard,
        invocation,
        &Subject::of(case),
        verdict,
        &report.outcome,
        metrics,
    )
    .await?;
    if verdict.action == Action::Delete {
        let budget = Budget::new(guard, invocation);
        delete_when_stopped(glue, id, &budget, &guard.timing).await?;
        report.deleted = true;
        info!("DeleteSession accepted");
    }
    Ok(())
}

/// Sends the session's notification to the own topic, then to the central one when there is
/// one, each exactly once ([`notify_topic`]: each topic has its own ledger item). A failure on
/// either (a failed `Publish`, a claim still held elsewhere at the end of the budget) fails the
/// invocation there, with what was sent recorded as sent, so its retry sends only what is
/// missing. The report keeps the own topic's [`Notification`].
pub async fn notify_once(
    guard: &Guard,
    invocation: &Invocation,
    case: &Subject<'_>,
    verdict: &Verdict,
    outcome: &Outcome,
    metrics: &Metrics,
) -> Result<Notification, GuardError> {
    let notifications = guard.policy().notifications.as_ref();
    let message = notify::message(&Notice {
        verdict,
        outcome,
        found_by: case.found_by,
        creator: case.creator,
        stack_name: &guard.settings.stack_name,
        account: &invocation.scope.account,
        region: &invocation.scope.region,
        exception_instructions: notifications.and_then(|n| n.exception_instructions.as_deref()),
    });
    let own = Topic {
        destination: Destination::Own,
        topic_arn: &guard.settings.topic_arn,
        message: &message,
    };
    let own = notify_topic(guard, invocation, case, verdict, outcome, &own, metrics).await?;
    if let Some(central) = guard.settings.central_topic_arn.as_deref() {
        let central = Topic {
            destination: Destination::Central,
            topic_arn: central,
            message: &message,
        };
        notify_topic(guard, invocation, case, verdict, outcome, &central, metrics).await?;
    }
    // The Slack and Microsoft Teams channels of the audiences that get it, each through its own
    // chat topic (a chat channel's subscription cannot filter).
    for audience in policy::routes::chat_audiences(guard.policy(), &verdict.routes) {
        let Some(topic_arn) = policy::routes::chat_topic_arn(
            &guard.settings.topic_arn,
            &guard.settings.stack_name,
            &audience,
        ) else {
            continue;
        };
        let chat = Topic {
            destination: Destination::Chat(&audience),
            topic_arn: &topic_arn,
            message: &message,
        };
        notify_topic(guard, invocation, case, verdict, outcome, &chat, metrics).await?;
    }
    Ok(own)
}

/// What one notification is about, as the ledger keys it and the message tells it.
pub struct Subject<'a> {
    /// The ledger's name for it: a session's id; `job-run/<job>/<run id>` for a job run;
    /// `job/<job>` for a job definition.
    pub id: &'a str,
    /// When it was created (a session's `CreatedOn`; a definition's `LastModifiedOn`), so that a
    /// later one of the same name is notified anew.
    pub created_on: Option<std::time::SystemTime>,
    pub found_by: FoundBy,
    pub creator: crate::report::Creator,
}

impl<'a> Subject<'a> {
    /// A session's subject.
    pub fn of(case: &'a Candidate) -> Subject<'a> {
        Subject {
            id: &case.facts.session_id,
            created_on: case.created_on,
            found_by: case.found_by,
            creator: case.creator,
        }
    }
}

/// One topic's notification: where it goes, and what it says.
struct Topic<'a> {
    destination: Destination<'a>,
    topic_arn: &'a str,
    message: &'a Message,
}

/// Sends the session's notification to one topic unless another invocation has: claims it in
/// the ledger (the topic's own item), publishes, marks it sent. While another invocation holds
/// the claim, waits (within the budget) for it to finish; still unfinished, fails as retryable
/// so a retry looks again. The sweep does not wait: it leaves that topic to the next sweep.
async fn notify_topic(
    guard: &Guard,
    invocation: &Invocation,
    case: &Subject<'_>,
    verdict: &Verdict,
    outcome: &Outcome,
    topic: &Topic<'_>,
    metrics: &Metrics,
) -> Result<Notification, GuardError> {
    let ledger = guard.ledger();
    let session_id = case.id;
    let kind = match verdict.action {
        Action::Notify => "audit",
        _ => "enforce",
    };
    let destination = topic.destination;
    let destination_name = destination.name();
    let key = ledger::key(session_id, case.created_on, kind, destination);
    let owner = ledger::owner_token(&invocation.request_id);
    let details = [
        ("session_id", session_id),
        ("action", verdict.action.as_str()),
        ("outcome", outcome.as_str()),
        ("destination", destination_name.as_str()),
    ];
    let budget = Budget::new(guard, invocation);
    let mut backoff = Backoff::new(&guard.timing);
    loop {
        match ledger
            .claim(&key, &owner, invocation.deadline, &details)
            .await?
        {
            Claim::Won(lease) => {
                if let Err(failure) = send(guard, session_id, topic, metrics).await {
                    if let Err(release) = ledger.release(&lease).await {
                        warn!(error = %release, destination = %destination_name, "could not release the ledger claim; it lapses at the deadline");
                    }
                    return Err(failure);
                }
                // The notification is out: a failure to record it must not fail the
                // invocation (its retry would notify again). The claim then lapses at the
                // deadline, and at worst one later invocation notifies a second time.
                if let Err(failure) = ledger.sent(&lease).await {
                    error!(error = %failure, destination = %destination_name, "notification sent but not recorded in the ledger");
                }
                return Ok(Notification::Sent);
            }
            Claim::AlreadySent => {
                debug!(
                    destination = %destination_name,
                    "notification already sent"
                );
                return Ok(Notification::AlreadySent);
            }
            // The sweep judges every running session in turn: it does not hold them all up for
            // one being notified by its real-time invocation. The next sweep is its retry.
            Claim::InFlight if case.found_by == FoundBy::Sweep => {
                debug!(
                    destination = %destination_name,
                    "another invocation is notifying; left to the next sweep"
                );
                return Ok(Notification::ClaimedElsewhere);
            }
            Claim::InFlight => {
                debug!(
                    destination = %destination_name,
                    "another invocation is notifying; waiting for it"
                );
                if !budget.pause(&mut backoff).await {
                    return Err(GuardError::NotificationInFlight {
                        session_id: session_id.to_string(),
                        waited_seconds: budget.waited().as_secs(),
                    });
                }
            }
        }
    }
}

/// Publishes the message to the topic and counts it.
async fn send(
    guard: &Guard,
    session_id: &str,
    topic: &Topic<'_>,
    metrics: &Metrics,
) -> Result<(), GuardError> {
    let about = match topic.destination {
        Destination::Own => session_id.to_string(),
        Destination::Central => format!("{session_id} to the central topic"),
        Destination::Chat(audience) => format!("{session_id} to the chat topic of {audience}"),
    };
    notify::publish(&guard.sns, topic.topic_arn, &about, topic.message).await?;
    match topic.destination {
        Destination::Own => metrics.notified(),
        Destination::Central => metrics.central_notified(),
        Destination::Chat(_) => {}
    }
    info!(
        subject = %topic.message.subject,
        destination = %topic.destination.name(),
        topic = topic.topic_arn,
        "notification sent"
    );
    Ok(())
}

/// `StopSession`; a session that ended or vanished meanwhile is not an error.
async fn stop(glue: &aws_sdk_glue::Client, session_id: &str) -> Result<Outcome, GuardError> {
    match glue.stop_session().id(session_id).send().await {
        Ok(_) => Ok(Outcome::Stopped),
        Err(error) if is_not_found(&error) => Ok(Outcome::Gone),
        Err(error) if error.code() == Some("IllegalSessionStateException") => {
            match session::get_session(glue, session_id)
                .await?
                .map(|s| Status::of(&s))
            {
                None => Ok(Outcome::Gone),
                Some(Status::Ended(status)) => Ok(Outcome::AlreadyEnded(status)),
                Some(_) => Err(GuardError::aws("StopSession", session_id, error)),
            }
        }
        Err(error) => Err(GuardError::aws("StopSession", session_id, error)),
    }
}

/// Looks at the session again, with growing pauses, until it leaves `PROVISIONING` or the
/// budget runs out (then fails as retryable). Glue has no SDK waiter for sessions.
async fn wait_while_provisioning(
    glue: &aws_sdk_glue::Client,
    session_id: &str,
    budget: &Budget,
    timing: &Timing,
) -> Result<Status, GuardError> {
    let mut backoff = Backoff::new(timing);
    loop {
        if !budget.pause(&mut backoff).await {
            return Err(GuardError::StillStarting {
                session_id: session_id.to_string(),
                status: Status::Provisioning.as_str().to_string(),
                waited_seconds: budget.waited().as_secs(),
            });
        }
        let status = match session::get_session(glue, session_id).await? {
            Some(session) => Status::of(&session),
            None => Status::Gone,
        };
        debug!(status = status.as_str(), "looked at the session again");
        if status != Status::Provisioning {
            return Ok(status);
        }
    }
}

/// `DeleteSession` once the session has stopped: Glue refuses (IllegalSessionState) while it
/// is still stopping, so try again with growing pauses within the budget.
async fn delete_when_stopped(
    glue: &aws_sdk_glue::Client,
    session_id: &str,
    budget: &Budget,
    timing: &Timing,
) -> Result<(), GuardError> {
    let mut backoff = Backoff::new(timing);
    loop {
        match glue.delete_session().id(session_id).send().await {
            Ok(_) => return Ok(()),
            Err(error) if is_not_found(&error) => return Ok(()),
            Err(error) if error.code() == Some("IllegalSessionStateException") => {
                if !budget.pause(&mut backoff).await {
                    return Err(GuardError::StillStopping {
                        session_id: session_id.to_string(),
                        status: "STOPPING".to_string(),
                        waited_seconds: budget.waited().as_secs(),
                    });
                }
            }
            Err(error) => return Err(GuardError::aws("DeleteSession", session_id, error)),
        }
    }
}

fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("EntityNotFoundException")
}
