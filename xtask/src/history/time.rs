//! The instants a backtest reads: the core's RFC 3339 reader ([`policy::time`]), and a bare day
//! for `--since`/`--until`.

pub use policy::time::{UnixSeconds, format_rfc3339, parse_rfc3339};

/// Reads a day `YYYY-MM-DD` (its midnight UTC) or an RFC 3339 time ([`parse_rfc3339`]).
pub(crate) fn parse_instant(text: &str) -> Option<UnixSeconds> {
    let text = text.trim();
    if text.len() == 10 {
        return parse_rfc3339(&format!("{text}T00:00:00Z"));
    }
    parse_rfc3339(text)
}

/// The machine's clock, as Unix seconds (0 before 1970).
pub(crate) fn now() -> UnixSeconds {
    policy::time::unix_seconds(std::time::SystemTime::now())
}
