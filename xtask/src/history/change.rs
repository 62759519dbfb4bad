//! How a session's or a job run's fate differs between the baseline and the policy.

use serde::Serialize;

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
}

impl ChangeKind {
    /// For people.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::NewlyViolating => "newly stopped",
            ChangeKind::NoLongerViolating => "no longer stopped",
            ChangeKind::OtherRules => "stopped for other rules",
        }
    }

    /// The change from the baseline's verdict (`before`: whether it stops, for which rules) to
    /// the policy's (`after`); `None` when the fate is the same.
    pub fn between<R: PartialEq>(
        before_stops: bool,
        before_rules: &[R],
        after_stops: bool,
        after_rules: &[R],
    ) -> Option<ChangeKind> {
        match (before_stops, after_stops) {
            (false, true) => Some(ChangeKind::NewlyViolating),
            (true, false) => Some(ChangeKind::NoLongerViolating),
            (true, true) if before_rules != after_rules => Some(ChangeKind::OtherRules),
            _ => None,
        }
    }
}
