//! Calendar dates as MRZs and printed fields write them.

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A real calendar date, or `None`.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// The date `days` after 1970-01-01 (the civil calendar; for clocks that give Unix time).
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Today in UTC, from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Date::from_unix_days(secs.div_euclid(86_400))
    }

    /// `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let mut p = s.trim().splitn(3, '-');
        let y = p.next()?.parse().ok()?;
        let m = p.next()?.parse().ok()?;
        let d = p.next()?.get(..2)?.parse().ok()?;
        Date::new(y, m, d)
    }

    fn yymmdd(s: &str) -> Option<(i32, u32, u32)> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((s[0..2].parse().ok()?, s[2..4].parse().ok()?, s[4..6].parse().ok()?))
    }

    /// A birth date from the MRZ's `YYMMDD`: the latest century that does not put it after
    /// `today`. `None` for unknown (`<`) parts or an impossible date.
    pub fn birth(yymmdd: &str, today: Date) -> Option<Date> {
        let (yy, m, d) = Date::yymmdd(yymmdd)?;
        let mut year = today.year - today.year.rem_euclid(100) + yy;
        if (year, m, d) > (today.year, today.month, today.day) {
            year -= 100;
        }
        Date::new(year, m, d)
    }

    /// An expiry date from the MRZ's `YYMMDD`: within fifty years either side of `today`.
    pub fn expiry(yymmdd: &str, today: Date) -> Option<Date> {
        let (yy, m, d) = Date::yymmdd(yymmdd)?;
        let mut year = today.year - today.year.rem_euclid(100) + yy;
        if year > today.year + 50 {
            year -= 100;
        } else if year < today.year - 50 {
            year += 100;
        }
        Date::new(year, m, d)
    }

    /// Whole years from `self` to `on` (an age).
    pub fn years_until(self, on: Date) -> i32 {
        let mut years = on.year - self.year;
        if (on.month, on.day) < (self.month, self.day) {
            years -= 1;
        }
        years
    }

    /// The `YYMMDD` an MRZ writes.
    pub fn yymmdd_string(self) -> String {
        format!("{:02}{:02}{:02}", self.year.rem_euclid(100), self.month, self.day)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Month names and abbreviations in the languages passports print (English, French, Spanish,
/// German), after OCR folding of 0→O.
const MONTHS: &[(&str, u32)] = &[
    ("JAN", 1),
    ("JANV", 1),
    ("ENE", 1),
    ("FEB", 2),
    ("FEV", 2),
    ("FEVR", 2),
    ("MAR", 3),
    ("MARS", 3),
    ("MRZ", 3),
    ("APR", 4),
    ("AVR", 4),
    ("ABR", 4),
    ("MAY", 5),
    ("MAI", 5),
    ("JUN", 6),
    ("JUIN", 6),
    ("JUL", 7),
    ("JUIL", 7),
    ("AUG", 8),
    ("AOUT", 8),
    ("AGO", 8),
    ("SEP", 9),
    ("SEPT", 9),
    ("OCT", 10),
    ("OKT", 10),
    ("NOV", 11),
    ("DEC", 12),
    ("DIC", 12),
    ("DEZ", 12),
];

/// A date as a document prints it: `12 AUG 1974`, `12 AUG/AOUT 74`, `12.08.1974`, `12/08/1974`,
/// `1974-08-12`. OCR's O/0, I/1, S/5 and B/8 slips are folded: letters where the month name is,
/// digits elsewhere. Two-digit years take the century of `pivot` or the one before.
pub fn parse_visual_date(s: &str, pivot: i32) -> Option<Date> {
    let up = s.to_uppercase();
    let tokens: Vec<String> =
        up.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_string).collect();
    let digits = |t: &str| -> Option<u32> {
        let d: String = t
            .chars()
            .map(|c| match c {
                'O' | 'D' | 'Q' => '0',
                'I' | 'L' => '1',
                'S' => '5',
                'B' => '8',
                'Z' => '2',
                'G' => '6',
                c => c,
            })
            .collect();
        if d.is_empty() || d.len() > 4 || !d.bytes().all(|b| b.is_ascii_digit()) { None } else { d.parse().ok() }
    };
    let month_name = |t: &str| -> Option<u32> {
        let l: String = t.chars().map(|c| if c == '0' { 'O' } else { c }).collect();
        MONTHS.iter().find(|(n, _)| *n == l).map(|&(_, m)| m)
    };
    let year = |t: &str| -> Option<i32> {
        let y = digits(t)? as i32;
        match t.len() {
            4 => Some(y),
            2 => {
                let c = pivot - pivot.rem_euclid(100);
                Some(if c + y > pivot + 10 { c - 100 + y } else { c + y })
            }
            _ => None,
        }
    };
    // Day, month name (possibly a bilingual pair), year.
    if tokens.len() >= 3
        && let (Some(d), Some(m)) = (digits(&tokens[0]), month_name(&tokens[1]))
    {
        let y_tok = tokens[2..].iter().find(|t| month_name(t).is_none())?;
        return Date::new(year(y_tok)?, m, d);
    }
    // OCR often drops the spaces: "02MAY1997", "07 JUL2035".
    let compact: String = tokens.concat();
    for start in 1..=2usize.min(compact.len()) {
        let rest = &compact[start..];
        for len in [4usize, 3] {
            let Some(name) = rest.get(..len) else { continue };
            let Some(m) = month_name(name) else { continue };
            let mut tail = &rest[len..];
            // A bilingual pair: "AUGAOUT1974".
            for l2 in [4usize, 3] {
                if tail.get(..l2).is_some_and(|n| month_name(n).is_some()) {
                    tail = &tail[l2..];
                    break;
                }
            }
            if let (Some(d), Some(y)) = (digits(&compact[..start]), year(tail))
                && let Some(date) = Date::new(y, m, d)
            {
                return Some(date);
            }
        }
    }
    if tokens.len() == 3 {
        let n: Vec<Option<u32>> = tokens.iter().map(|t| digits(t)).collect();
        if tokens[0].len() == 4 {
            return Date::new(n[0]? as i32, n[1]?, n[2]?);
        }
        return Date::new(year(&tokens[2])?, n[1]?, n[0]?);
    }
    None
}
