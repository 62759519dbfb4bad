//! The notification ledger: one DynamoDB item per out-of-bounds session and topic, claimed with a
//! conditional write before the notification is published and marked `sent` after it. It is what
//! makes "one notification per session and topic" hold when two invocations (a repeated event,
//! the event and the sweep, two sweeps) judge the same session at the same moment: exactly one of
//! them wins the claim and publishes; the others wait for `sent` and send nothing. The own topic
//! and the central one ([`Destination`]) are claimed separately, so a failed publish to one
//! never repeats or loses the other.
//!
//! A claim is a lease that ends at the claiming invocation's deadline. If that invocation dies
//! before marking the item `sent`, or its `Publish` fails (it then releases the claim at once),
//! the next invocation for the session (Lambda's retry, a repeated event, the sweep) takes the
//! claim over and notifies: a notification may, in that rare case, go out twice, but is never
//! lost.
//!
//! Items expire (DynamoDB TTL) [`KEEP_FOR`] after they were written, long after any session they
//! describe has ended; the key carries the session's creation time, so a new session that
//! reuses an old session's id is a new item.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use tracing::{debug, warn};

use crate::error::GuardError;
use crate::report::Destination;

/// The partition key: `<session id>@<creation time in epoch milliseconds>/<kind>` for the own
/// topic, the kind being `enforce` or `audit` (a session reported in audit mode and stopped after
/// a switch to enforce mode gets both notifications); the same with `/central` after it for the
/// central topic. The own topic's key is the one written before there was a central topic, so
/// the items written then still count.
pub const KEY: &str = "session";
/// `sending` while claimed, `sent` once the notification went out.
pub const STATE: &str = "state";
/// Who holds the claim (unique per claim).
pub const OWNER: &str = "owner";
/// Epoch seconds after which a `sending` claim may be taken over.
pub const LEASE_UNTIL: &str = "lease_until";
/// Epoch seconds after which DynamoDB deletes the item (the table's TTL attribute).
pub const EXPIRES_AT: &str = "expires_at";

pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";

/// How long an item is kept: longer than any Glue session can live.
pub const KEEP_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The ledger table and the client that reaches it.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    pub client: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
}

/// The outcome of trying to claim a session's notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation holds the claim: it publishes, then calls [`Ledger::sent`].
    Won(Lease),
    /// Another invocation already sent the notification.
    AlreadySent,
    /// Another invocation holds an unexpired claim and has not sent yet.
    InFlight,
}

/// A claim held by this invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub owner: String,
}

/// The ledger key of a session's notification of one kind (`enforce` or `audit`) to one topic:
/// its id and, when known, its creation time; `/central` for the central topic.
pub fn key(
    session_id: &str,
    created_on: Option<SystemTime>,
    kind: &str,
    destination: Destination<'_>,
) -> String {
    let key = match created_on.and_then(|time| time.duration_since(UNIX_EPOCH).ok()) {
        Some(since_epoch) => format!("{session_id}@{}/{kind}", since_epoch.as_millis()),
        None => format!("{session_id}/{kind}"),
    };
    match destination {
        Destination::Own => key,
        Destination::Central | Destination::Chat(_) => format!("{key}/{}", destination.name()),
    }
}

/// A token no other claim shares: the invocation's request id, the time and a counter.
pub fn owner_token(request_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{request_id}/{nanos}/{count}")
}

fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

impl Ledger<'_> {
    /// Claims the notification for `key` until `lease_until`, unless someone else holds an
    /// unexpired claim or has sent it. `details` are kept on the item for the reader (session
    /// id, action, outcome).
    pub async fn claim(
        &self,
        key: &str,
        owner: &str,
        lease_until: SystemTime,
        details: &[(&str, &str)],
    ) -> Result<Claim, GuardError> {
        let now = SystemTime::now();
        let mut put = self
            .client
            .put_item()
            .table_name(self.table)
            .item(KEY, string(key))
            .item(STATE, string(SENDING))
            .item(OWNER, string(owner))
            .item(LEASE_UNTIL, number(epoch_seconds(lease_until)))
            .item(EXPIRES_AT, number(epoch_seconds(now + KEEP_FOR)));
        for (name, value) in details {
            put = put.item(*name, string(value));
        }
        let result = put
            .condition_expression(
                "attribute_not_exists(#key) OR (#state = :sending AND #lease < :now)",
            )
            .expression_attribute_names("#key", KEY)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":sending", string(SENDING))
            .expression_attribute_values(":now", number(epoch_seconds(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Won(Lease {
                key: key.to_string(),
                owner: owner.to_string(),
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let state = self.state(key).await?;
                debug!(
                    state = state.as_deref().unwrap_or("none"),
                    "claim held elsewhere"
                );
                Ok(match state.as_deref() {
                    Some(SENT) => Claim::AlreadySent,
                    // Held and unexpired, or released in between: look again after a pause.
                    _ => Claim::InFlight,
                })
            }
            Err(error) => Err(GuardError::aws("PutItem", key, error)),
        }
    }

    /// Marks the claimed notification as sent (only while this invocation holds the claim).
    pub async fn sent(&self, lease: &Lease) -> Result<(), GuardError> {
        let result = self
            .client
            .update_item()
            .table_name(self.table)
            .key(KEY, string(&lease.key))
            .update_expression("SET #state = :sent REMOVE #lease")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":sent", string(SENT))
            .expression_attribute_values(":owner", string(&lease.owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                warn!("the claim was taken over before it was marked sent");
                Ok(())
            }
            Err(error) => Err(GuardError::aws("UpdateItem", &lease.key, error)),
        }
    }

    /// Gives the claim up (after a failed `Publish`), so the next try need not wait for the
    /// lease to end. Only deletes the item while this invocation still holds it.
    pub async fn release(&self, lease: &Lease) -> Result<(), GuardError> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table)
            .key(KEY, string(&lease.key))
            .condition_expression("#owner = :owner AND #state = :sending")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":owner", string(&lease.owner))
            .expression_attribute_values(":sending", string(SENDING))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(GuardError::aws("DeleteItem", &lease.key, error)),
        }
    }

    /// The item's state (`sending` / `sent`), read consistently; `None` when there is no item.
    pub async fn state(&self, key: &str) -> Result<Option<String>, GuardError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table)
            .key(KEY, string(key))
            .consistent_read(true)
            .projection_expression("#state")
            .expression_attribute_names("#state", STATE)
            .send()
            .await
            .map_err(|error| GuardError::aws("GetItem", key, error))?;
        Ok(output.item.and_then(|item| match item.get(STATE) {
            Some(AttributeValue::S(state)) => Some(state.clone()),
            _ => None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_a_reused_session_id_apart() {
        let created = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
        assert_eq!(
            key("nb-1", Some(created), "enforce", Destination::Own),
            "nb-1@1764000000123/enforce"
        );
        assert_eq!(key("nb-1", None, "audit", Destination::Own), "nb-1/audit");
        assert_ne!(
            key("nb-1", Some(created), "enforce", Destination::Own),
            key(
                "nb-1",
                Some(created + Duration::from_secs(1)),
                "enforce",
                Destination::Own
            )
        );
    }

    #[test]
    fn the_central_topic_has_keys_of_its_own_and_the_own_topic_keeps_its_keys() {
        let created = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
        assert_eq!(
            key("nb-1", Some(created), "enforce", Destination::Central),
            "nb-1@1764000000123/enforce/central"
        );
        assert_eq!(
            key("nb-1", None, "audit", Destination::Central),
            "nb-1/audit/central"
        );
    }

    #[test]
    fn owner_tokens_differ_even_for_one_request() {
        let first = owner_token("req-1");
        let second = owner_token("req-1");
        assert_ne!(first, second);
        assert!(first.starts_with("req-1/"), "{first}");
    }
}
