//! What a stopped session or job run puts at stake ([`Cost`]): its DPUs, for how long, and why
//! a figure is not known. The report prices sessions (`super::report`), the job runs are priced
//! where they are judged (`super::jobs`); both read this. It reads nothing else of the backtest
//! but [`Name`].

use serde::Serialize;

use super::judgement::Name;

/// How long a session billed, as far as the history shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// From its `CreateSession` to its `StopSession`/`DeleteSession` (at most its timeout).
    Measured,
    /// No end in the history: its timeout, the longest it can have run.
    UpperBound,
    /// No end in the history, and its timeout is not known.
    Unknown,
}

/// One session's cost at stake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub dpus: Option<f64>,
    pub hours: Option<f64>,
    pub duration: Duration,
    /// DPUs × hours, when both are known.
    pub dpu_hours: Option<f64>,
    /// Why a figure is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Unknown>,
}

/// Why a session's cost is not known, written as a sentence (`DPUs unknown: …`).
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
