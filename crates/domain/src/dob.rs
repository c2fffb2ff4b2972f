//! Dates of birth as the records actually hold them: a full date, only a year, or an age the
//! person declared on some day.
//!
//! Many residents, especially older ones, have no documented birth date; ration cards often
//! record an age. Keeping the three forms apart (rather than inventing 1 January) lets the
//! matching engine know how precise the value is.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

/// The oldest age the hub accepts, in years.
pub const MAX_AGE_YEARS: u32 = 130;

const FORMAT_MESSAGE: &str = "a date of birth must be DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, YYYY-MM-DD, YYYY/MM/DD, a four-digit year (YYYY), or an age in whole years from 0 to 130";

/// A date of birth at one of three levels of precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateOfBirth {
    /// The exact date is known.
    Full(NaiveDate),
    /// Only the year is known.
    Year(i32),
    /// The person declared an age (in whole years) on a given day.
    DeclaredAge {
        /// Age in whole years on `as_of`.
        age: u8,
        /// The day the age was declared (for uploads, the day of parsing).
        as_of: NaiveDate,
    },
}

impl DateOfBirth {
    /// Parses a date of birth as found in uploaded data, judged against `today`.
    ///
    /// A bare number of one to three digits is an age declared today; four digits are a year.
    /// There is no `FromStr` because the result depends on `today`.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, ValidationError> {
        let s = input.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.len() {
                1..=3 => {
                    let age: u32 = s.parse().map_err(|_| format_error())?;
                    let age = u8::try_from(age)
                        .ok()
                        .filter(|&a| u32::from(a) <= MAX_AGE_YEARS)
                        .ok_or_else(too_old)?;
                    Ok(Self::DeclaredAge { age, as_of: today })
                }
                4 => {
                    let year: i32 = s.parse().map_err(|_| format_error())?;
                    if year > today.year() {
                        Err(in_future())
                    } else if today.year() - year > MAX_AGE_YEARS as i32 {
                        Err(too_old())
                    } else {
                        Ok(Self::Year(year))
                    }
                }
                _ => Err(format_error()),
            };
        }
        let (y, m, d) = split_date(s).ok_or_else(format_error)?;
        let date = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
            ValidationError::new(
                "dob.invalid_date",
                "the date of birth does not exist in the calendar (check the day and month)",
            )
        })?;
        if date > today {
            return Err(in_future());
        }
        let limit = today
            .checked_sub_months(Months::new(MAX_AGE_YEARS * 12))
            .unwrap_or(NaiveDate::MIN);
        if date < limit {
            return Err(too_old());
        }
        Ok(Self::Full(date))
    }

    /// Age in whole years on `date`, or `None` if the person was not yet born then (as far
    /// as the value can tell).
    ///
    /// For `Year`, the birthday is taken to be 1 July of that year (the middle, so the error is
    /// at most six months either way). For `DeclaredAge`, whole years elapsed since (or before)
    /// `as_of` are added to (or taken from) the declared age.
    pub fn age_on(&self, date: NaiveDate) -> Option<u32> {
        match *self {
            Self::Full(birth) => whole_years_between(birth, date),
            Self::Year(year) => {
                let birth = NaiveDate::from_ymd_opt(year, 7, 1)?;
                whole_years_between(birth, date)
            }
            Self::DeclaredAge { age, as_of } => {
                if date >= as_of {
                    whole_years_between(as_of, date)?.checked_add(u32::from(age))
                } else {
                    u32::from(age).checked_sub(whole_years_between(date, as_of)?)
                }
            }
        }
    }

    /// The earliest and latest birth dates consistent with the value (equal for `Full`).
    pub fn earliest_and_latest_birth_date(&self) -> (NaiveDate, NaiveDate) {
        match *self {
            Self::Full(d) => (d, d),
            Self::Year(y) => (
                NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(NaiveDate::MIN),
                NaiveDate::from_ymd_opt(y, 12, 31).unwrap_or(NaiveDate::MAX),
            ),
            Self::DeclaredAge { age, as_of } => {
                // Aged `age` on `as_of`: born at most `age` years before it, and more than
                // `age + 1` years before it is too early by a day.
                let latest = as_of
                    .checked_sub_months(Months::new(u32::from(age) * 12))
                    .unwrap_or(NaiveDate::MIN);
                let earliest = as_of
                    .checked_sub_months(Months::new((u32::from(age) + 1) * 12))
                    .and_then(|d| d.succ_opt())
                    .unwrap_or(NaiveDate::MIN);
                (earliest, latest)
            }
        }
    }

    /// The storage form: `1980-05-01`, `1980` or `age:45@2024-01-01`.
    pub fn to_storage(&self) -> String {
        match *self {
            Self::Full(d) => iso(d),
            Self::Year(y) => format!("{y:04}"),
            Self::DeclaredAge { age, as_of } => format!("age:{age}@{}", iso(as_of)),
        }
    }

    /// Reads the storage form back. Only structure is checked here (real dates, age up to
    /// 130), not the relation to today, because stored values were judged when they arrived.
    pub fn from_storage(stored: &str) -> Result<Self, ValidationError> {
        let s = stored.trim();
        if let Some(rest) = s.strip_prefix("age:") {
            let (age, as_of) = rest.split_once('@').ok_or_else(storage_error)?;
            if age.is_empty() || age.len() > 3 || !age.bytes().all(|b| b.is_ascii_digit()) {
                return Err(storage_error());
            }
            let age: u8 = age
                .parse()
                .ok()
                .filter(|&a| u32::from(a) <= MAX_AGE_YEARS)
                .ok_or_else(too_old)?;
            let as_of = parse_iso(as_of)?;
            return Ok(Self::DeclaredAge { age, as_of });
        }
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            let year: i32 = s.parse().map_err(|_| storage_error())?;
            return Ok(Self::Year(year));
        }
        parse_iso(s).map(Self::Full)
    }
}

fn format_error() -> ValidationError {
    ValidationError::new("dob.format", FORMAT_MESSAGE)
}

fn storage_error() -> ValidationError {
    ValidationError::new(
        "dob.format",
        "a stored date of birth must be YYYY-MM-DD, YYYY or age:N@YYYY-MM-DD",
    )
}

fn in_future() -> ValidationError {
    ValidationError::new(
        "dob.in_future",
        "a date of birth cannot be later than today",
    )
}

fn too_old() -> ValidationError {
    ValidationError::new(
        "dob.too_old",
        format!("a date of birth may be at most {MAX_AGE_YEARS} years before today"),
    )
}

fn iso(d: NaiveDate) -> String {
    // Written digit by digit: an upload stores a date per resident, and `format!` cost a
    // fiftieth of a million-row load.
    let (Ok(year), month, day) = (u32::try_from(d.year()), d.month(), d.day()) else {
        return format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    };
    if year > 9999 {
        return format!("{year}-{month:02}-{day:02}");
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let mut out = String::with_capacity(10);
    out.extend([
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        '-',
        digit(month / 10),
        digit(month),
        '-',
        digit(day / 10),
        digit(day),
    ]);
    out
}

/// Parses exactly `YYYY-MM-DD` (the storage form of a date).
fn parse_iso(s: &str) -> Result<NaiveDate, ValidationError> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(storage_error());
    }
    let (y, m, d) = split_date(s).ok_or_else(storage_error)?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
        ValidationError::new(
            "dob.invalid_date",
            "the stored date of birth does not exist in the calendar",
        )
    })
}

/// Splits one of the accepted day-first or year-first forms into (year, month, day), without
/// checking that the date exists. Day and month may have one or two digits; the year has four.
fn split_date(s: &str) -> Option<(i32, u32, u32)> {
    let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let mut parts = s.split(sep);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let number = |p: &str, min: usize, max: usize| -> Option<u32> {
        (p.len() >= min && p.len() <= max && p.bytes().all(|x| x.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    if a.len() == 4 {
        // Year first: only with '-' or '/'; a dotted year-first date is not a form we accept.
        if sep == '.' {
            return None;
        }
        let year = i32::try_from(number(a, 4, 4)?).ok()?;
        Some((year, number(b, 1, 2)?, number(c, 1, 2)?))
    } else {
        let year = i32::try_from(number(c, 4, 4)?).ok()?;
        Some((year, number(b, 1, 2)?, number(a, 1, 2)?))
    }
}

/// Whole years from `from` to `to`, or `None` if `to` is before `from`.
fn whole_years_between(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    if to < from {
        return None;
    }
    let mut years = to.year() - from.year();
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

impl fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_storage())
    }
}

impl Serialize for DateOfBirth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_storage())
    }
}

impl<'de> Deserialize<'de> for DateOfBirth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_storage(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn today() -> NaiveDate {
        date(2024, 6, 15)
    }

    fn parse(s: &str) -> Result<DateOfBirth, ValidationError> {
        DateOfBirth::parse(s, today())
    }

    fn code(s: &str) -> &'static str {
        parse(s).expect_err("invalid").code
    }

    #[test]
    fn accepted_formats() {
        let full = DateOfBirth::Full(date(1980, 5, 1));
        for s in [
            "01-05-1980",
            "01/05/1980",
            "01.05.1980",
            "1980-05-01",
            "1980/05/01",
            "1-5-1980",
            " 1980-5-1 ",
        ] {
            assert_eq!(parse(s).expect(s), full, "{s}");
        }
        assert_eq!(parse("1980").expect("year"), DateOfBirth::Year(1980));
        assert_eq!(
            parse("45").expect("age"),
            DateOfBirth::DeclaredAge {
                age: 45,
                as_of: today()
            }
        );
        assert_eq!(
            parse("0").expect("age"),
            DateOfBirth::DeclaredAge {
                age: 0,
                as_of: today()
            }
        );
        assert!(parse("130").is_ok());
        assert!(parse("15-06-2024").is_ok());
        assert!(parse("15-06-1894").is_ok());
    }

    #[test]
    fn errors() {
        for s in [
            "",
            "abc",
            "1980.05.01",
            "01-05/1980",
            "01-05-80",
            "01-05-1980-1",
            "001-05-1980",
            "12345",
            "1 May 1980",
            "-5",
            "45.5",
        ] {
            assert_eq!(code(s), "dob.format", "{s:?}");
        }
        assert_eq!(code("31-02-2000"), "dob.invalid_date");
        assert_eq!(code("2000-13-01"), "dob.invalid_date");
        assert_eq!(code("00-01-2000"), "dob.invalid_date");
        assert_eq!(code("16-06-2024"), "dob.in_future");
        assert_eq!(code("2025"), "dob.in_future");
        assert_eq!(code("14-06-1894"), "dob.too_old");
        assert_eq!(code("1893"), "dob.too_old");
        assert_eq!(code("131"), "dob.too_old");
        assert_eq!(code("999"), "dob.too_old");
        assert!(
            parse("abc")
                .expect_err("format")
                .message
                .contains("DD-MM-YYYY")
        );
    }

    #[test]
    fn ages() {
        let full = DateOfBirth::Full(date(1980, 5, 1));
        assert_eq!(full.age_on(date(2024, 4, 30)), Some(43));
        assert_eq!(full.age_on(date(2024, 5, 1)), Some(44));
        assert_eq!(full.age_on(date(1979, 1, 1)), None);
        let year = DateOfBirth::Year(1980);
        assert_eq!(year.age_on(date(2024, 6, 30)), Some(43));
        assert_eq!(year.age_on(date(2024, 7, 1)), Some(44));
        assert_eq!(year.age_on(date(1980, 3, 1)), None);
        let declared = DateOfBirth::DeclaredAge {
            age: 45,
            as_of: date(2024, 1, 1),
        };
        assert_eq!(declared.age_on(date(2024, 1, 1)), Some(45));
        assert_eq!(declared.age_on(date(2026, 6, 1)), Some(47));
        assert_eq!(declared.age_on(date(2020, 1, 1)), Some(41));
        assert_eq!(declared.age_on(date(1900, 1, 1)), None);
        assert_eq!(DateOfBirth::Year(i32::MAX).age_on(today()), None);
    }

    #[test]
    fn birth_date_ranges() {
        let d = date(1980, 5, 1);
        assert_eq!(
            DateOfBirth::Full(d).earliest_and_latest_birth_date(),
            (d, d)
        );
        assert_eq!(
            DateOfBirth::Year(1980).earliest_and_latest_birth_date(),
            (date(1980, 1, 1), date(1980, 12, 31))
        );
        let declared = DateOfBirth::DeclaredAge {
            age: 45,
            as_of: date(2024, 1, 1),
        };
        assert_eq!(
            declared.earliest_and_latest_birth_date(),
            (date(1978, 1, 2), date(1979, 1, 1))
        );
        // Both ends really give age 45 on the declaration day.
        let (lo, hi) = declared.earliest_and_latest_birth_date();
        assert_eq!(DateOfBirth::Full(lo).age_on(date(2024, 1, 1)), Some(45));
        assert_eq!(DateOfBirth::Full(hi).age_on(date(2024, 1, 1)), Some(45));
        // Out-of-range years saturate instead of panicking.
        let (lo, hi) = DateOfBirth::Year(i32::MAX).earliest_and_latest_birth_date();
        assert!(lo <= hi);
    }

    #[test]
    fn storage_form() {
        let cases = [
            (DateOfBirth::Full(date(1980, 5, 1)), "1980-05-01"),
            (DateOfBirth::Year(1980), "1980"),
            (
                DateOfBirth::DeclaredAge {
                    age: 45,
                    as_of: date(2024, 1, 1),
                },
                "age:45@2024-01-01",
            ),
        ];
        for (value, text) in cases {
            assert_eq!(value.to_storage(), text);
            assert_eq!(value.to_string(), text);
            assert_eq!(DateOfBirth::from_storage(text).expect(text), value);
            let json = serde_json::to_string(&value).expect("ser");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<DateOfBirth>(&json).expect("de"),
                value
            );
        }
        for bad in [
            "",
            "01-05-1980",
            "age:45",
            "age:@2024-01-01",
            "age:x@2024-01-01",
            "age:45@2024-1-1",
            "1980-5-1",
            "19800",
        ] {
            assert_eq!(
                DateOfBirth::from_storage(bad).expect_err(bad).code,
                "dob.format",
                "{bad:?}"
            );
        }
        assert_eq!(
            DateOfBirth::from_storage("age:131@2024-01-01")
                .expect_err("old")
                .code,
            "dob.too_old"
        );
        assert_eq!(
            DateOfBirth::from_storage("2023-02-29")
                .expect_err("date")
                .code,
            "dob.invalid_date"
        );
    }
}
