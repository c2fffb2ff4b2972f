//! Birth dates as departments record them: full dates in several layouts, a year alone, or
//! an age.
//!
//! The matcher never refuses a date: a value it cannot read is treated as missing, and a
//! calendar-impossible one (31-02-1970, common in old registers) keeps its parts, because two
//! records carrying the same impossible date still agree.

use chrono::{Datelike, NaiveDate};

use crate::roles::DateKind;

/// How precisely a birth date is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Day, month and year.
    Day,
    /// The year only.
    Year,
    /// Derived from an age: the year is right to within one.
    Age,
}

/// A birth date reduced to its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthDate {
    pub year: i32,
    /// 1–12, or 0 when unknown.
    pub month: u8,
    /// 1–31, or 0 when unknown.
    pub day: u8,
    pub precision: Precision,
}

impl BirthDate {
    /// `YYYYMMDD` for full dates, `YYYY` otherwise (for display and frequency counts).
    pub fn key(&self) -> String {
        match self.precision {
            Precision::Day => format!("{:04}{:02}{:02}", self.year, self.month, self.day),
            _ => format!("{:04}", self.year),
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads a birth date written in any common Indian or ISO layout; `None` if it cannot.
/// Two-digit years and ages are read against `reference` (the day the data describes).
pub fn parse_birth_date(raw: &str, kind: DateKind, reference: NaiveDate) -> Option<BirthDate> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let digits_only = s.bytes().all(|b| b.is_ascii_digit());
    if digits_only {
        let n: i64 = s.parse().ok()?;
        return match (kind, s.len()) {
            (DateKind::Age, _) | (DateKind::Date, 1..=3) => {
                let age = i32::try_from(n).ok().filter(|a| (0..=130).contains(a))?;
                Some(BirthDate {
                    year: reference.year() - age,
                    month: 0,
                    day: 0,
                    precision: Precision::Age,
                })
            }
            (_, 4) => plausible_year(n as i32, reference).map(|year| BirthDate {
                year,
                month: 0,
                day: 0,
                precision: Precision::Year,
            }),
            (DateKind::Date, 8) => {
                let (a, b, c) = (&s[0..4], &s[4..6], &s[6..8]);
                let first: i32 = a.parse().ok()?;
                if plausible_year(first, reference).is_some() {
                    // Kept even when the calendar has no such day (19711319): the same
                    // slip in two records, or one digit from the right date, is evidence.
                    let (month, day): (u8, u8) = (b.parse().ok()?, c.parse().ok()?);
                    (month > 0 && day > 0).then_some(BirthDate {
                        year: first,
                        month,
                        day,
                        precision: Precision::Day,
                    })
                } else {
                    // DDMMYYYY
                    let year: i32 = s[4..8].parse().ok()?;
                    full(year, s[2..4].parse().ok()?, s[0..2].parse().ok()?)
                }
            }
            _ => None,
        };
    }
    // Dates and times from spreadsheets ("1980-04-12 00:00:00"): the time goes.
    let s = if s.len() > 10 && matches!(s.as_bytes()[10], b' ' | b'T') && s.is_char_boundary(10) {
        &s[..10]
    } else {
        s
    };
    let parts: Vec<&str> = s
        .split(['-', '/', '.', ' '])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 {
        return None;
    }
    let month_of = |p: &str| -> Option<u32> {
        if let Ok(m) = p.parse::<u32>() {
            return Some(m);
        }
        let lower = p.to_ascii_lowercase();
        MONTHS
            .iter()
            .position(|m| lower.starts_with(m))
            .map(|i| i as u32 + 1)
    };
    if parts[0].len() == 4 {
        let year = parts[0].parse().ok()?;
        return full(year, month_of(parts[1])?, parts[2].parse().ok()?);
    }
    let year = match parts[2].len() {
        4 => parts[2].parse().ok()?,
        2 => {
            let yy: i32 = parts[2].parse().ok()?;
            let century = reference.year() / 100 * 100;
            if century + yy > reference.year() {
                century - 100 + yy
            } else {
                century + yy
            }
        }
        _ => return None,
    };
    let (first, second) = (parts[0].parse::<u32>().ok()?, month_of(parts[1])?);
    // Indian offices write the day first; a "month" above 12 means the writer did not.
    if second > 12 && first <= 12 {
        full(year, first, second)
    } else {
        full(year, second, first)
    }
}

fn plausible_year(year: i32, reference: NaiveDate) -> Option<i32> {
    (reference.year() - 130..=reference.year())
        .contains(&year)
        .then_some(year)
}

fn full(year: i32, month: u32, day: u32) -> Option<BirthDate> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !(1000..=9999).contains(&year) {
        return None;
    }
    Some(BirthDate {
        year,
        month: month as u8,
        day: day as u8,
        precision: Precision::Day,
    })
}

/// Levels of birth-date agreement, strongest first.
pub mod level {
    /// The same day.
    pub const EXACT: u8 = 1;
    /// Day and month swapped, or one digit mistyped or two transposed.
    pub const TYPO: u8 = 2;
    /// The same year (at least one side knows only the year, or the days differ).
    pub const SAME_YEAR: u8 = 3;
    /// Years one apart (ages are only that precise).
    pub const NEAR_YEAR: u8 = 4;
    /// Anything else.
    pub const DIFFERENT: u8 = 5;
    /// Labels for explanations, indexed by level.
    pub const LABELS: [&str; 6] = [
        "missing",
        "exact",
        "day and month swapped or a digit mistyped",
        "same year",
        "years one apart",
        "different",
    ];
}

/// Grades the agreement of two birth dates; see [`level`].
pub fn compare_dates(a: &BirthDate, b: &BirthDate) -> u8 {
    if a.precision == Precision::Day && b.precision == Precision::Day {
        if a == b {
            return level::EXACT;
        }
        if a.year == b.year && a.month == b.day && a.day == b.month {
            return level::TYPO;
        }
        let (ka, kb) = (a.key(), b.key());
        if strsim::osa_distance(&ka, &kb) <= 1 {
            return level::TYPO;
        }
    }
    let gap = (a.year - b.year).abs();
    if gap == 0 {
        level::SAME_YEAR
    } else if gap == 1 {
        // An age is only right to within a year; between two full dates a year's gap is a
        // weaker sign, and the model learns how much weaker from the data.
        level::NEAR_YEAR
    } else {
        level::DIFFERENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).expect("date")
    }

    fn date(s: &str) -> BirthDate {
        parse_birth_date(s, DateKind::Date, reference()).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn the_layouts_indian_offices_use_are_read() {
        let expected = BirthDate {
            year: 1980,
            month: 4,
            day: 12,
            precision: Precision::Day,
        };
        for s in [
            "12-04-1980",
            "12/04/1980",
            "12.04.1980",
            "1980-04-12",
            "19800412",
            "12041980",
            "12-Apr-1980",
            "12 APRIL 1980",
            "1980-04-12 00:00:00",
        ] {
            assert_eq!(date(s), expected, "{s}");
        }
        // A month above 12 in second place: written month first.
        assert_eq!(date("04/25/1980").day, 25);
        assert_eq!(date("12-04-80").year, 1980);
        assert_eq!(date("1975").precision, Precision::Year);
        let age = date("46");
        assert_eq!((age.year, age.precision), (1980, Precision::Age));
        assert_eq!(
            parse_birth_date("1980", DateKind::Age, reference()),
            None,
            "an age of 1980 years is not an age"
        );
        assert_eq!(
            date("19711319").month,
            13,
            "an impossible date keeps its parts"
        );
        assert_eq!(
            compare_dates(&date("19711319"), &date("19711219")),
            level::TYPO
        );
        for bad in [
            "",
            "abc",
            "12-13-14-15",
            "99999",
            "00-00-1980",
            "2099",
            "19710019",
        ] {
            assert_eq!(
                parse_birth_date(bad, DateKind::Date, reference()),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_are_graded_by_how_they_differ() {
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("1980-04-12")),
            level::EXACT
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("04-12-1980")),
            level::TYPO
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("13-04-1980")),
            level::TYPO
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("12-04-1950")),
            level::TYPO
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("25-09-1950")),
            level::DIFFERENT
        );
        assert_eq!(
            compare_dates(&date("12-04-1978"), &date("12-04-1987")),
            level::TYPO
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("1980")),
            level::SAME_YEAR
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("47")),
            level::NEAR_YEAR
        );
        assert_eq!(
            compare_dates(&date("12-04-1980"), &date("30")),
            level::DIFFERENT
        );
    }
}
