//! Instants as the guard reads them: CloudTrail's `eventTime` and a policy's `expires`, RFC 3339
//! times (`2026-11-29T09:00:00Z`), as seconds since the Unix epoch. A small parser of our own (no
//! clock, no time zone database): the only arithmetic needed is comparing two instants and a
//! session's duration.

/// Seconds since 1970-01-01T00:00:00Z.
pub type UnixSeconds = i64;

/// Reads `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds (dropped), then `Z` or an offset
/// `±HH:MM` (`T`/`Z` in either case, as RFC 3339 allows). `None` for anything else, including
/// impossible dates (`2026-02-30`).
pub fn parse_rfc3339(text: &str) -> Option<UnixSeconds> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 {
        return None;
    }
    let number = |from: usize, len: usize| -> Option<i64> {
        let digits = bytes.get(from..from + len)?;
        digits.iter().try_fold(0i64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, want)| bytes[at] != want) || !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &bytes[19..];
    if let [b'.', tail @ ..] = rest {
        let digits = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &tail[digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (hours, minutes) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Why [`parse_rfc3339`] refuses `text` when it has the shape of a time but names an instant
/// that does not exist (`February 2025 has 28 days`, `hour 25 is past 23`); `None` when it does
/// not have that shape (or is a time), for the caller's own reason.
pub fn impossible_rfc3339(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let field = |from: usize| -> Option<i64> {
        let digits = bytes.get(from..from + 2)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| i64::from(digits[0] - b'0') * 10 + i64::from(digits[1] - b'0'))
    };
    let year: i64 = text.get(..4)?.parse().ok()?;
    let shape = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !shape {
        return None;
    }
    let (month, day) = (field(5)?, field(8)?);
    let (hour, minute, second) = (field(11)?, field(14)?, field(17)?);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    if !(1..=12).contains(&month) {
        return Some(format!("month {month:02} does not exist"));
    }
    let days = days_in_month(year, month);
    if day < 1 {
        return Some("day 00 does not exist".to_string());
    }
    if day > days {
        return Some(format!(
            "{} {year} has {days} days, not {day}",
            MONTHS[(month - 1) as usize]
        ));
    }
    if hour > 23 {
        return Some(format!("hour {hour} is past 23"));
    }
    if minute > 59 {
        return Some(format!("minute {minute} is past 59"));
    }
    if second > 60 {
        return Some(format!(
            "second {second} is past 59 (60 only for a leap second)"
        ));
    }
    None
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The UTC time of `seconds`, as `YYYY-MM-DDTHH:MM:SSZ` (the inverse of [`parse_rfc3339`]).
pub fn format_rfc3339(seconds: UnixSeconds) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Seconds since the Unix epoch of `time` (0 before 1970): an instant as the core takes it. A
/// conversion, not a clock: the caller reads the clock.
pub fn unix_seconds(time: std::time::SystemTime) -> UnixSeconds {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_times_read_as_unix_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-29T09:00:00Z"), Some(1_795_942_800));
        assert_eq!(parse_rfc3339("2000-02-29T23:59:59Z"), Some(951_868_799));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(
            parse_rfc3339("2026-11-29T09:00:00.123Z"),
            parse_rfc3339("2026-11-29T09:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-11-29T10:30:00+01:30"),
            parse_rfc3339("2026-11-29T09:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-11-29t08:00:00-01:00"),
            parse_rfc3339("2026-11-29T09:00:00z")
        );
    }

    #[test]
    fn anything_else_is_none() {
        for bad in [
            "",
            "2026-11-29",
            "2026-11-29 09:00:00Z",
            "2026-11-29T09:00:00",
            "2026-11-29T09:00:00+0100",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T09:60:00Z",
            "2026-11-29T09:00:00.Z",
            "2026-11-29T09:00:00Zjunk",
            "Nov 29, 2026, 9:00:00 AM",
            "２026-11-29T09:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formatting_is_the_inverse() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-11-29T09:00:00Z",
            "2000-02-29T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "2400-12-31T12:34:56Z",
        ] {
            assert_eq!(format_rfc3339(parse_rfc3339(text).unwrap()), text);
        }
    }
}
