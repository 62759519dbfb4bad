//! Exceptions that expire: `overrides[]`, `jobs.overrides[]` and `exempt_principals[]` entries
//! with `expires` (RFC 3339), and optionally a `reason` and a `ticket`.
//!
//! An entry applies to an event while the event's own time is before its expiry: the CloudTrail
//! record's `eventTime`, or the sweep's clock for what the sweep finds. So a verdict stays
//! reproducible from the record alone, whenever it is judged again. An entry with an expiry
//! never applies to an event whose time is not known (fail closed: the stricter limits hold).
//!
//! No clock here: what has expired or expires soon is asked with an instant ([`expiring`]).

use serde::Serialize;

use crate::glob::ArnPattern;
use crate::model::{Exemption, Policy};
use crate::time::{UnixSeconds, parse_rfc3339};

/// Whether an exception applies to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It never expires, or the event is before its expiry.
    Applies,
    /// The event is at or after its expiry (seconds since the epoch), or the expiry cannot be
    /// read (validation refuses that; the enforcer fails closed).
    Expired(Option<UnixSeconds>),
    /// It expires, and the event's time is not known.
    TimeUnknown,
}

/// Where an exception with `expires` stands for an event at `at` (Unix seconds).
pub fn standing(expires: Option<&str>, at: Option<UnixSeconds>) -> Standing {
    let Some(expires) = expires else {
        return Standing::Applies;
    };
    let Some(expiry) = parse_rfc3339(expires) else {
        return Standing::Expired(None);
    };
    match at {
        None => Standing::TimeUnknown,
        Some(at) if at < expiry => Standing::Applies,
        Some(_) => Standing::Expired(Some(expiry)),
    }
}

impl Standing {
    /// True for [`Standing::Applies`].
    pub fn applies(self) -> bool {
        self == Standing::Applies
    }
}

/// The note a verdict carries for an exception that matched but did not apply.
pub fn not_applied_note(what: &str, expires: Option<&str>, standing: Standing) -> Option<String> {
    let expires = expires.unwrap_or("?");
    match standing {
        Standing::Applies => None,
        Standing::Expired(_) => Some(format!("{what} expired at {expires}: it did not apply")),
        Standing::TimeUnknown => Some(format!(
            "{what} expires at {expires} and the event's time is not known: it did not apply"
        )),
    }
}

/// The first exemption of `exemptions` whose principal pattern matches one of `arns` (the
/// caller and, for an assumed role, its role) and that applies at `at`, and a note for each one
/// that matched but had expired.
pub fn exempting<'a>(
    exemptions: &'a [Exemption],
    arns: &[&str],
    at: Option<UnixSeconds>,
    notes: &mut Vec<String>,
) -> Option<&'a Exemption> {
    let mut found = None;
    for (i, exemption) in exemptions.iter().enumerate() {
        let matches = ArnPattern::any_matches(&exemption.principal, arns.iter().copied());
        if !matches {
            continue;
        }
        let standing = standing(exemption.expires.as_deref(), at);
        if standing.applies() {
            found = Some(exemption);
            break;
        }
        if let Some(note) = not_applied_note(
            &format!("exempt_principals[{i}] (`{}`)", exemption.principal),
            exemption.expires.as_deref(),
            standing,
        ) {
            notes.push(note);
        }
    }
    found
}

/// What kind of entry an exception is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Override,
    JobOverride,
    ExemptPrincipal,
}

/// One exception with an expiry, as the policy file says it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exception {
    pub kind: Kind,
    /// Its place in the policy file: `overrides[1]`, `jobs.overrides[0]`,
    /// `exempt_principals[2]`.
    pub path: String,
    /// The override's name, or the exempt principal pattern.
    pub name: String,
    /// As written (RFC 3339).
    pub expires: String,
    /// Seconds since the epoch; `None` when it cannot be read.
    pub expires_at: Option<UnixSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl Exception {
    /// A stable key for this entry at this expiry: a reminder is sent once per key (the sweep's
    /// ledger), so moving the expiry sends a new one.
    pub fn key(&self) -> String {
        let kind = match self.kind {
            Kind::Override => "override",
            Kind::JobOverride => "job-override",
            Kind::ExemptPrincipal => "exempt-principal",
        };
        format!("{kind}#{}#{}", self.name, self.expires)
    }

    /// `override "etl-burst"`, `exempt principal arn:aws:iam::*:role/Admin`.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Override => format!("override \"{}\"", self.name),
            Kind::JobOverride => format!("job override \"{}\"", self.name),
            Kind::ExemptPrincipal => format!("exempt principal {}", self.name),
        }
    }
}

/// Every exception of `policy` that has an expiry, in file order.
pub fn exceptions(policy: &Policy) -> Vec<Exception> {
    let entry = |kind,
                 path: String,
                 name: &str,
                 expires: &Option<String>,
                 reason: &Option<String>,
                 ticket: &Option<String>| {
        expires.as_ref().map(|expires| Exception {
            kind,
            path,
            name: name.to_string(),
            expires: expires.clone(),
            expires_at: parse_rfc3339(expires),
            reason: reason.clone(),
            ticket: ticket.clone(),
        })
    };
    let sessions = policy.overrides.iter().enumerate().filter_map(|(i, rule)| {
        entry(
            Kind::Override,
            format!("overrides[{i}]"),
            &rule.name,
            &rule.expires,
            &rule.reason,
            &rule.ticket,
        )
    });
    let jobs = policy
        .jobs
        .iter()
        .flat_map(|jobs| jobs.overrides.iter().enumerate())
        .filter_map(|(i, rule)| {
            entry(
                Kind::JobOverride,
                format!("jobs.overrides[{i}]"),
                &rule.name,
                &rule.expires,
                &rule.reason,
                &rule.ticket,
            )
        });
    let exempt = policy
        .exempt_principals
        .iter()
        .enumerate()
        .filter_map(|(i, exemption)| {
            entry(
                Kind::ExemptPrincipal,
                format!("exempt_principals[{i}]"),
                &exemption.principal,
                &exemption.expires,
                &exemption.reason,
                &exemption.ticket,
            )
        });
    sessions.chain(jobs).chain(exempt).collect()
}

/// Where an exception stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// Its expiry has passed: it applies to nothing any more.
    Expired,
    /// It expires within the window asked about.
    ExpiresSoon,
}

/// Days before an expiry that `validate`, `plan` and the PR comment start saying so.
pub const WARN_DAYS: i64 = 14;
/// Days before an expiry that the sweep sends its one reminder.
pub const REMIND_DAYS: i64 = 7;

/// The exceptions of `policy` that have expired at `now`, or expire within `within_days` days
/// of it (Unix seconds), with how many whole days are left (negative: days since).
pub fn expiring(policy: &Policy, now: UnixSeconds, within_days: i64) -> Vec<(Exception, Due)> {
    exceptions(policy)
        .into_iter()
        .filter_map(|exception| {
            let at = exception.expires_at?;
            let due = if at <= now {
                Due::Expired
            } else if at - now <= within_days * 86_400 {
                Due::ExpiresSoon
            } else {
                return None;
            };
            Some((exception, due))
        })
        .collect()
}

/// A sentence about one expiring exception at `now`: `override "etl-burst" (overrides[1])
/// expires at 2027-01-31T00:00:00Z, in 3 days (reason: ...; ticket: DATA-12)`.
pub fn sentence(exception: &Exception, due: Due, now: UnixSeconds) -> String {
    let when = match (due, exception.expires_at) {
        (Due::Expired, _) => format!("expired at {}", exception.expires),
        (Due::ExpiresSoon, Some(at)) => {
            format!("expires at {}, {}", exception.expires, time_left(at - now))
        }
        (Due::ExpiresSoon, None) => format!("expires at {}", exception.expires),
    };
    let mut extra = Vec::new();
    if let Some(reason) = &exception.reason {
        extra.push(format!("reason: {reason}"));
    }
    if let Some(ticket) = &exception.ticket {
        extra.push(format!("ticket: {ticket}"));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join("; "))
    };
    format!(
        "{} ({}) {when}{extra}",
        exception.describe(),
        exception.path
    )
}

/// `seconds` from now, in whole days and hours (rounded down, never to a whole day more than
/// is left): `in 2 days and 19 hours`, `in 5 hours`, `in less than an hour`.
pub fn time_left(seconds: UnixSeconds) -> String {
    let (days, hours) = (seconds / 86_400, seconds % 86_400 / 3_600);
    let count = |n: UnixSeconds, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match (days, hours) {
        (0, 0) => "in less than an hour".to_string(),
        (0, h) => format!("in {}", count(h, "hour")),
        (d, 0) => format!("in {}", count(d, "day")),
        (d, h) => format!("in {} and {}", count(d, "day"), count(h, "hour")),
    }
}

#[cfg(test)]
mod tests;
