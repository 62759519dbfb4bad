//! What a stopped session or job run puts at stake ([`Cost`]): its DPUs, for how long, and why
//! a figure is not known. The report prices sessions (`super::report`), the job runs are priced
//! where they are judged (`super::jobs`); both read this. It reads nothing else of the backtest
//! but [`Name`].

use serde::Serialize;

use super::judgement::Name;

/// How long a session or job run billed, as far as the history shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// A session's, from its `CreateSession` to its `StopSession`/`DeleteSession` (at most its
    /// timeout). Never a job run's: CloudTrail holds no record of a run's end.
    Measured,
    /// No end in the history: its timeout, the longest it can have run (every job run's).
    UpperBound,
    /// No end in the history, and its timeout is not known.
    Unknown,
}

/// What one session or job run puts at stake (from the expiry of the exception that let it
/// run, for one stopped then).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// Its DPUs (workers × the worker type's DPUs, or `MaxCapacity`), when known.
    pub dpus: Option<f64>,
    /// For how long, in hours, when known.
    pub hours: Option<f64>,
    pub duration: Duration,
    /// DPUs × hours, when both are known.
    pub dpu_hours: Option<f64>,
    /// Why a figure is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Unknown>,
}

/// Why a session's or job run's cost is not known, written as a sentence (`DPUs unknown: …`).
#[derive(Debug, Clone, PartialEq)]
pub enum Unknown {
    /// Its DPUs are not known, for this reason.
    Dpus(Name),
    /// The history holds no end, and its timeout is not known, for this reason.
    Duration(Name),
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unknown::Dpus(why) => write!(f, "DPUs unknown: {why}"),
            Unknown::Duration(why) => {
                write!(
                    f,
                    "no end in the history, and the timeout is unknown: {why}"
                )
            }
        }
    }
}

impl Serialize for Unknown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
