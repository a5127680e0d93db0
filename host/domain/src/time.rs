//! Time as the wire sees it: UNIX seconds (float allowed), stored as integer microseconds.

/// Microseconds since the UNIX epoch, the storage representation of every timestamp.
pub type Micros = i64;

pub fn micros_to_secs(m: Micros) -> f64 {
    m as f64 / 1_000_000.0
}

/// Above this a timestamp is read as milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
const MILLIS_FROM: f64 = 1.0e11;

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses a filter value such as `1700000000` or `1700000000.25` into microseconds. JavaScript
/// clients send `Date.now()` milliseconds (`1700000000000`); those are recognised by size.
pub fn parse_unix_secs(s: &str) -> Option<Micros> {
    let mut v: f64 = s.trim().parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    if v.abs() >= MILLIS_FROM {
        v /= 1000.0;
    }
    if v.abs() >= MILLIS_FROM {
        return None;
    }
    Some((v * 1_000_000.0).round() as Micros)
}

/// Parses a duration: plain seconds (`900`) or a number with a unit (`15m`, `2s`, `5y`, `12h`, `30d`).
pub fn parse_duration_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mul = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {

    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(super::civil_from_days(-1), (1969, 12, 31));
    }
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("900"), Some(900));
        assert_eq!(parse_duration_secs("15m"), Some(900));
        assert_eq!(parse_duration_secs("5y"), Some(5 * 365 * 86_400));
        assert_eq!(parse_duration_secs("2x"), None);
        assert_eq!(parse_duration_secs(""), None);
    }

    #[test]
    fn unix_secs() {
        assert_eq!(parse_unix_secs("1.5"), Some(1_500_000));
        assert_eq!(parse_unix_secs("abc"), None);
        assert_eq!(parse_unix_secs("NaN"), None);
        assert_eq!(parse_unix_secs("1700000000123"), Some(1_700_000_000_123_000));
        assert_eq!(parse_unix_secs("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(parse_unix_secs("1e20"), None);
    }
}
