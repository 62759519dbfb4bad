//! How a session's or a job run's fate differs between the baseline and the policy.

use serde::Serialize;

use super::time::UnixSeconds;

/// How a session's or job run's fate differs between the baseline and the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Stopped under the policy, not under the baseline.
    NewlyViolating,
    /// Stopped under the baseline, not under the policy.
    NoLongerViolating,
    /// Stopped under both, for other rules.
    OtherRules,
    /// Stopped under both for the same rules, from another instant: at its creation (or start)
    /// under one and when an exception expired under the other, or when two different
    /// expiries came (an exception's `expires` moved).
    StoppedAtAnotherTime,
}

impl ChangeKind {
    /// For people, in the report's own verb (`acted`: "stopped", "notified", "stopped or
    /// deleted"): "newly stopped", "notified at another time".
    pub fn words(self, acted: &str) -> String {
        match self {
            ChangeKind::NewlyViolating => format!("newly {acted}"),
            ChangeKind::NoLongerViolating => format!("no longer {acted}"),
            ChangeKind::OtherRules => format!("{acted} for other rules"),
            ChangeKind::StoppedAtAnotherTime => format!("{acted} at another time"),
        }
    }

    /// Both sides stop it (for other rules, or at another time): each has a cost at stake.
    pub fn stopped_under_both(self) -> bool {
        matches!(
            self,
            ChangeKind::OtherRules | ChangeKind::StoppedAtAnotherTime
        )
    }

    /// The change from the baseline's fate (`before`) to the policy's (`after`); `None` when
    /// the fate is the same.
    pub fn between<R: PartialEq>(before: Fate<'_, R>, after: Fate<'_, R>) -> Option<ChangeKind> {
        match (before.stops, after.stops) {
            (false, true) => Some(ChangeKind::NewlyViolating),
            (true, false) => Some(ChangeKind::NoLongerViolating),
            (true, true) if before.rules != after.rules => Some(ChangeKind::OtherRules),
            (true, true) if before.stopped_from != after.stopped_from => {
                Some(ChangeKind::StoppedAtAnotherTime)
            }
            _ => None,
        }
    }
}

/// What one policy does to a session or job run, as a change compares it.
#[derive(Debug, Clone, Copy)]
pub struct Fate<'r, R> {
    /// Whether the guard stops it.
    pub stops: bool,
    /// The rules it breaks, in the verdict's order.
    pub rules: &'r [R],
    /// When the exception that let it run expired, from which the guard stops it (Unix
    /// seconds); `None` for one stopped at its creation or start (or not stopped).
    pub stopped_from: Option<UnixSeconds>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fate<'r>(
        stops: bool,
        rules: &'r [&'static str],
        stopped_from: Option<UnixSeconds>,
    ) -> Fate<'r, &'static str> {
        Fate {
            stops,
            rules,
            stopped_from,
        }
    }

    #[test]
    fn a_fate_changes_by_stop_then_rules_then_instant() {
        let between = |before, after| ChangeKind::between(before, after);
        let max_dpu = ["max_dpu"];
        assert_eq!(
            between(fate(false, &[], None), fate(true, &max_dpu, None)),
            Some(ChangeKind::NewlyViolating)
        );
        assert_eq!(
            between(fate(true, &max_dpu, Some(5)), fate(false, &[], None)),
            Some(ChangeKind::NoLongerViolating)
        );
        // Other rules win over another instant.
        assert_eq!(
            between(
                fate(true, &max_dpu, None),
                fate(true, &["max_workers"], Some(5))
            ),
            Some(ChangeKind::OtherRules)
        );
        // The same rules, from the creation under one and an expiry under the other, or from
        // two expiries.
        assert_eq!(
            between(fate(true, &max_dpu, None), fate(true, &max_dpu, Some(5))),
            Some(ChangeKind::StoppedAtAnotherTime)
        );
        assert_eq!(
            between(fate(true, &max_dpu, Some(9)), fate(true, &max_dpu, Some(5))),
            Some(ChangeKind::StoppedAtAnotherTime)
        );
        assert_eq!(
            between(fate(true, &max_dpu, Some(5)), fate(true, &max_dpu, Some(5))),
            None
        );
        // Not stopped under either: an expiry's instant means nothing.
        assert_eq!(
            between(fate(false, &[], Some(5)), fate(false, &[], None)),
            None
        );
    }
}
