//! The exceptions of a policy that have expired or expire soon (`policy::exceptions`), as
//! `plan` and the backtest's pull-request comment list them: pure, the caller gives the clock.

use policy::exceptions::{Due, WARN_DAYS, expiring, sentence};
use serde::Serialize;

use crate::output::markdown;

/// One exception that has expired or expires within [`WARN_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expiring {
    /// Its place in the policy file (`overrides[1]`).
    pub path: String,
    /// `override "burst"`, `exempt principal arn:aws:iam::*:role/Oncall`.
    pub exception: String,
    /// As written (RFC 3339).
    pub expires: String,
    pub due: Due,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The whole sentence: `override "burst" (overrides[1]) expires at ..., in 3 days (...)`.
    pub said: String,
    /// How long it has left (`in 2 days and 19 hours`), when it has not expired.
    #[serde(skip)]
    pub left: Option<String>,
}

/// What of `policy` has expired at `now` (Unix seconds) or expires within [`WARN_DAYS`] days.
pub fn list(policy: &policy::Policy, now: i64) -> Vec<Expiring> {
    expiring(policy, now, WARN_DAYS)
        .into_iter()
        .map(|(exception, due)| Expiring {
            said: sentence(&exception, due, now),
            left: match (due, exception.expires_at) {
                (Due::ExpiresSoon, Some(at)) => Some(policy::exceptions::time_left(at - now)),
                _ => None,
            },
            path: exception.path.clone(),
            exception: exception.describe(),
            expires: exception.expires.clone(),
            due,
            reason: exception.reason.clone(),
            ticket: exception.ticket.clone(),
        })
        .collect()
}

/// `exceptions expiring:` and one line each; empty when there are none.
pub fn text(list: &[Expiring]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = format!("exceptions that expire within {WARN_DAYS} days or have expired:\n");
    for entry in list {
        out.push_str(&format!("  {}\n", entry.said));
    }
    out
}

/// A Markdown section with a table of them; empty when there are none.
pub fn to_markdown(list: &[Expiring]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|entry| {
            vec![
                entry.exception.clone(),
                entry.path.clone(),
                entry.expires.clone(),
                match (entry.due, &entry.left) {
                    (Due::Expired, _) => "expired".to_string(),
                    (Due::ExpiresSoon, Some(left)) => format!("expires {left}"),
                    (Due::ExpiresSoon, None) => "expires soon".to_string(),
                },
                entry.reason.clone().unwrap_or_default(),
                entry.ticket.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format!(
        "\n{}\n{}",
        markdown::heading(
            4,
            &format!("Exceptions that expire within {WARN_DAYS} days or have expired")
        ),
        markdown::table(
            &["exception", "where", "expires", "state", "reason", "ticket"],
            &rows
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_soon_are_listed_in_every_format() {
        let policy = policy::load_policy(
            "p.yaml",
            br#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
overrides:
  - {name: burst, principals: ['arn:aws:iam::*:role/B'], boundaries: {max_workers: 20}, expires: '2027-01-31T00:00:00Z', ticket: 'DATA-1|2'}
  - {name: far, principals: ['arn:aws:iam::*:role/F'], boundaries: {max_workers: 20}, expires: '2028-01-01T00:00:00Z'}
exempt_principals:
  - {principal: 'arn:aws:iam::*:role/Oncall', expires: '2027-01-01T00:00:00Z'}
"#,
        )
        .unwrap();
        let now = policy::time::parse_rfc3339("2027-01-28T00:00:00Z").unwrap();
        let list = list(&policy, now);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].due, Due::ExpiresSoon);
        assert_eq!(list[1].due, Due::Expired);
        let text = text(&list);
        assert!(text.contains("override \"burst\" (overrides[0]) expires at 2027-01-31T00:00:00Z, in 3 days (ticket: DATA-1|2)"), "{text}");
        let markdown = to_markdown(&list);
        assert!(markdown.contains("DATA-1\\|2"), "{markdown}");
        assert!(markdown.contains("| expired |"), "{markdown}");
        assert!(
            markdown.contains("Exceptions that expire within 14 days or have expired"),
            "{markdown}"
        );
        assert!(markdown.contains("| state |"), "{markdown}");
        assert!(markdown.contains("| expires in 3 days |"), "{markdown}");
        assert!(!markdown.contains("far"), "{markdown}");
        assert_eq!(super::to_markdown(&[]), "");
    }
}
