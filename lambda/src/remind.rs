//! Reminders of exceptions about to expire: for each override, job override and exempt
//! principal whose `expires` is within [`policy::exceptions::REMIND_DAYS`] days, the sweep sends
//! one notification to the stack's own topic, exactly once: the ledger item
//! `reminder/<kind>#<name>#<expires>` is claimed with the same conditional write as a session's
//! notification ([`crate::ledger`]), so two sweeps at once send one, and a later sweep none. A
//! new `expires` is a new key: the renewed exception is reminded of again before it ends.
//!
//! Reminders go to the own topic and the default list's chat channels, not to the central
//! topic: in an organization every account's stack would remind it of the same policy entry.

use std::time::SystemTime;

use policy::exceptions::{Due, Exception, REMIND_DAYS, expiring};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::Guard;
use crate::error::GuardError;
use crate::ledger::{self, Claim};
use crate::notify;
use crate::report::Invocation;

/// What became of one reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// The ledger key (without `reminder/`): `override#burst#2027-01-31T00:00:00Z`.
    pub key: String,
    /// `sent`, `already_sent`, `in_flight` (another sweep is sending it).
    pub outcome: &'static str,
}

/// The ledger key of an exception's reminder.
pub fn ledger_key(exception: &Exception) -> String {
    format!("reminder/{}", exception.key())
}

/// Where reminders go: the own topic (`None`), then the default list's chat topic.
fn reminder_topics(guard: &Guard) -> Vec<Option<String>> {
    let mut topics = vec![None];
    if policy::routes::all_chat_audiences(guard.policy())
        .iter()
        .any(|audience| audience == policy::routes::DEFAULT_AUDIENCE)
    {
        topics.push(Some(policy::routes::DEFAULT_AUDIENCE.to_string()));
    }
    topics
}

/// Sends the reminders due at `now` that no invocation has sent: claim, publish, mark sent. A
/// failed publish releases the claim (the next sweep tries again) and fails the sweep.
pub async fn remind(
    guard: &Guard,
    invocation: &Invocation,
    now: SystemTime,
) -> Result<Vec<Reminder>, GuardError> {
    let now_seconds = policy::time::unix_seconds(now);
    let ledger = guard.ledger();
    let owner = ledger::owner_token(&invocation.request_id);
    let mut reminders = Vec::new();
    for (exception, due) in expiring(guard.policy(), now_seconds, REMIND_DAYS) {
        if due != Due::ExpiresSoon {
            continue;
        }
        let message = notify::reminder(
            &guard.settings.stack_name,
            &invocation.scope.account,
            &invocation.scope.region,
            &exception,
            now_seconds,
        );
        let mut outcome = "already_sent";
        // The own topic (e-mails), then the default list's chat topic when it has channels:
        // each its own claim.
        for topic in reminder_topics(guard) {
            let key = match &topic {
                Some(audience) => format!("{}/chat-{audience}", ledger_key(&exception)),
                None => ledger_key(&exception),
            };
            let topic_arn = match &topic {
                Some(audience) => policy::routes::chat_topic_arn(
                    &guard.settings.topic_arn,
                    &guard.settings.stack_name,
                    audience,
                )
                .unwrap_or_default(),
                None => guard.settings.topic_arn.clone(),
            };
            let details = [("reminder", exception.path.as_str())];
            let claimed = ledger
                .claim(&key, &owner, invocation.deadline, &details)
                .await?;
            let this = match claimed {
                Claim::Won(lease) => {
                    let about = format!("the reminder of {}", exception.describe());
                    if let Err(failure) =
                        notify::publish(&guard.sns, &topic_arn, &about, &message).await
                    {
                        if let Err(release) = ledger.release(&lease).await {
                            warn!(error = %release, "could not release the reminder's claim; it lapses at the deadline");
                        }
                        return Err(failure);
                    }
                    if let Err(failure) = ledger.sent(&lease).await {
                        error!(error = %failure, "reminder sent but not recorded in the ledger");
                    }
                    info!(reminder = %exception.key(), subject = %message.subject, topic = %topic_arn, "reminder sent");
                    "sent"
                }
                Claim::AlreadySent => "already_sent",
                Claim::InFlight => "in_flight",
            };
            // The own topic's outcome is the reminder's.
            if topic.is_none() {
                outcome = this;
            }
        }
        reminders.push(Reminder {
            key: exception.key(),
            outcome,
        });
    }
    Ok(reminders)
}
