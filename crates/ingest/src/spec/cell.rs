//! Parsing one non-empty, trimmed cell into a [`Value`] according to its column's kind.
//!
//! The domain crate owns the rules for its types; this module adds the kinds that exist only
//! in uploads (PIN codes, numbers, dates, booleans, operations) and cheap fast paths for the
//! commonest spellings of the small enums. The fast paths exist because the domain parsers
//! build a normalised key string for every call, which adds up over a million rows; they only
//! accept spellings the domain parser maps to the same value, and fall through to it
//! otherwise, so behaviour is the domain's.

use chrono::NaiveDate;
use sangam_domain::{
    CardType, ConsentRef, DateOfBirth, DistrictCode, Gender, IdNumber, Ifsc, LifeStatus,
    MobileNumber, PersonName, RationCardNumber, RefKey, Relationship, SchemeCode, StateCode,
    SubDistrictCode, ValidationError, VillageCode,
};

use super::model::ColumnKind;
use super::value::{BankAccount, Operation, Value};

/// Parses `raw` (already trimmed, not empty) as `kind`. `today` is the upload's day, against
/// which dates of birth and declared ages are judged.
pub(crate) fn parse_cell(
    kind: ColumnKind,
    raw: &str,
    today: NaiveDate,
) -> Result<Value, ValidationError> {
    Ok(match kind {
        ColumnKind::IdNumber => Value::IdNumber(IdNumber::parse(raw)?),
        ColumnKind::ConsentRef => Value::ConsentRef(ConsentRef::parse(raw)?),
        ColumnKind::PersonName => Value::Name(PersonName::parse(raw)?),
        ColumnKind::Dob => Value::Dob(DateOfBirth::parse(raw, today)?),
        ColumnKind::Gender => Value::Gender(parse_gender(raw)?),
        ColumnKind::Relationship => Value::Relationship(parse_relationship(raw)?),
        ColumnKind::RationCard => Value::RationCard(RationCardNumber::parse(raw)?),
        ColumnKind::CardType => Value::CardType(parse_card_type(raw)?),
        ColumnKind::Mobile => Value::Mobile(MobileNumber::parse(raw)?),
        ColumnKind::VillageCode => Value::VillageCode(VillageCode::parse(raw)?),
        ColumnKind::DistrictCode => Value::DistrictCode(DistrictCode::parse(raw)?),
        ColumnKind::SubDistrictCode => Value::SubDistrictCode(SubDistrictCode::parse(raw)?),
        ColumnKind::StateCode => Value::StateCode(StateCode::parse(raw)?),
        ColumnKind::Pincode => Value::Pincode(parse_pincode(raw)?),
        ColumnKind::Ifsc => Value::Ifsc(Ifsc::parse(raw)?),
        ColumnKind::BankAccount => Value::BankAccount(BankAccount::parse(raw)?),
        ColumnKind::SchemeCode => Value::SchemeCode(SchemeCode::parse(raw)?),
        ColumnKind::LifeStatus => Value::LifeStatus(parse_life_status(raw)?),
        ColumnKind::Text => Value::Text(raw.to_owned()),
        ColumnKind::Integer => Value::Integer(parse_integer(raw)?),
        ColumnKind::Decimal => Value::Decimal(parse_decimal(raw)?),
        ColumnKind::Date => Value::Date(parse_date(raw)?),
        ColumnKind::Boolean => Value::Boolean(sangam_domain::parse_yes_no(raw)?),
        ColumnKind::Operation => Value::Operation(Operation::parse(raw)?),
        ColumnKind::RefKey => Value::RefKey(RefKey::parse(raw)?),
    })
}

fn parse_gender(raw: &str) -> Result<Gender, ValidationError> {
    for g in Gender::ALL {
        if raw.eq_ignore_ascii_case(g.code()) {
            return Ok(g);
        }
    }
    Gender::parse(raw)
}

fn parse_relationship(raw: &str) -> Result<Relationship, ValidationError> {
    for r in Relationship::ALL {
        if raw.eq_ignore_ascii_case(r.code()) {
            return Ok(r);
        }
    }
    Relationship::parse(raw)
}

fn parse_card_type(raw: &str) -> Result<CardType, ValidationError> {
    for t in [CardType::Aay, CardType::Phh, CardType::Nphh] {
        if raw.eq_ignore_ascii_case(t.code()) {
            return Ok(t);
        }
    }
    CardType::parse(raw)
}

fn parse_life_status(raw: &str) -> Result<LifeStatus, ValidationError> {
    for s in [
        LifeStatus::Alive,
        LifeStatus::Deceased,
        LifeStatus::Migrated,
    ] {
        if raw.eq_ignore_ascii_case(s.code()) {
            return Ok(s);
        }
    }
    LifeStatus::parse(raw)
}

/// Six digits, the first 1-9 (no PIN code starts with 0).
fn parse_pincode(raw: &str) -> Result<String, ValidationError> {
    let b = raw.as_bytes();
    if b.len() == 6 && b.iter().all(u8::is_ascii_digit) && b[0] != b'0' {
        Ok(raw.to_owned())
    } else {
        Err(ValidationError::new(
            "pincode.format",
            "a PIN code must be 6 digits, the first of them 1 to 9",
        ))
    }
}

/// A whole number; `12.0` is accepted as 12 because spreadsheets store every number as a
/// decimal and some exports write it so.
fn parse_integer(raw: &str) -> Result<i64, ValidationError> {
    let whole = match raw.split_once('.') {
        Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err(integer_error()),
        None => raw,
    };
    let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(integer_error());
    }
    whole.parse().map_err(|_| {
        ValidationError::new(
            "integer.out_of_range",
            "the number is too large for a whole-number column",
        )
    })
}

fn integer_error() -> ValidationError {
    ValidationError::new(
        "integer.format",
        "a whole number is expected: digits with an optional leading sign, no separators",
    )
}

/// A finite decimal in plain or exponent notation, `.` as the decimal point. Thousands
/// separators are refused rather than guessed: `1,000` could be a list or a European decimal.
fn parse_decimal(raw: &str) -> Result<f64, ValidationError> {
    let plausible = raw
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-' | b'e' | b'E'))
        && raw.bytes().any(|b| b.is_ascii_digit());
    // The byte check keeps out `inf`, `NaN` and `infinity`, which Rust's parser accepts.
    match raw.parse::<f64>() {
        Ok(v) if plausible && v.is_finite() => Ok(v),
        _ => Err(ValidationError::new(
            "decimal.format",
            "a number is expected, with '.' as the decimal point and no thousands separators",
        )),
    }
}

/// A full date as Indian offices write one: DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, YYYY-MM-DD or
/// YYYY/MM/DD (the same forms as a date of birth, without year-only or age).
pub(crate) fn parse_date(raw: &str) -> Result<NaiveDate, ValidationError> {
    let (y, m, d) = split_date(raw).ok_or_else(|| {
        ValidationError::new(
            "date.format",
            "a date must be DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, YYYY-MM-DD or YYYY/MM/DD",
        )
    })?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
        ValidationError::new(
            "date.invalid_date",
            "the date does not exist in the calendar (check the day and month)",
        )
    })
}

/// Splits a day-first or year-first date into (year, month, day) without checking that it
/// exists. Mirrors the date of birth rules so both kinds accept the same text.
fn split_date(s: &str) -> Option<(i32, u32, u32)> {
    let sep = s.bytes().find(|c| matches!(c, b'-' | b'/' | b'.'))?;
    let mut parts = s.split(char::from(sep));
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let number = |p: &str, min: usize, max: usize| -> Option<u32> {
        if (min..=max).contains(&p.len()) && p.bytes().all(|x| x.is_ascii_digit()) {
            p.parse().ok()
        } else {
            None
        }
    };
    if a.len() == 4 {
        if sep == b'.' {
            return None;
        }
        let year = i32::try_from(number(a, 4, 4)?).ok()?;
        Some((year, number(b, 1, 2)?, number(c, 1, 2)?))
    } else {
        let year = i32::try_from(number(c, 4, 4)?).ok()?;
        Some((year, number(b, 1, 2)?, number(a, 1, 2)?))
    }
}

/// Whole years from `from` to `to`, or `None` if `to` is earlier.
pub(crate) fn whole_years_between(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    use chrono::Datelike;
    if to < from {
        return None;
    }
    let mut years = to.year() - from.year();
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, 15).unwrap_or_default()
    }

    fn code(kind: ColumnKind, raw: &str) -> &'static str {
        match parse_cell(kind, raw, today()) {
            Err(e) => e.code,
            Ok(v) => panic!("{raw:?} accepted as {v:?}"),
        }
    }

    #[test]
    fn small_kinds() {
        assert_eq!(
            parse_cell(ColumnKind::Pincode, "605001", today()),
            Ok(Value::Pincode("605001".into()))
        );
        for bad in ["005001", "60500", "6050011", "60500a"] {
            assert_eq!(code(ColumnKind::Pincode, bad), "pincode.format");
        }
        assert_eq!(
            parse_cell(ColumnKind::Integer, "12.00", today()),
            Ok(Value::Integer(12))
        );
        assert_eq!(
            parse_cell(ColumnKind::Integer, "-7", today()),
            Ok(Value::Integer(-7))
        );
        for bad in ["1.5", "1e3", "+", "", "1,000", "12."] {
            assert_eq!(code(ColumnKind::Integer, bad), "integer.format", "{bad}");
        }
        assert_eq!(
            code(ColumnKind::Integer, "99999999999999999999"),
            "integer.out_of_range"
        );
        assert_eq!(
            parse_cell(ColumnKind::Decimal, "1500.50", today()),
            Ok(Value::Decimal(1500.5))
        );
        for bad in ["inf", "NaN", "1,000", "1e999", "abc", "."] {
            assert_eq!(code(ColumnKind::Decimal, bad), "decimal.format", "{bad}");
        }
        for (raw, v) in [("Y", true), ("no", false), ("TRUE", true), ("0", false)] {
            assert_eq!(
                parse_cell(ColumnKind::Boolean, raw, today()),
                Ok(Value::Boolean(v))
            );
        }
        assert_eq!(code(ColumnKind::Boolean, "maybe"), "boolean.format");
        for (raw, op) in [
            ("A", Operation::Add),
            ("insert", Operation::Add),
            ("Update", Operation::Modify),
            ("d", Operation::Delete),
            ("REMOVE", Operation::Delete),
        ] {
            assert_eq!(
                parse_cell(ColumnKind::Operation, raw, today()),
                Ok(Value::Operation(op))
            );
        }
        assert_eq!(code(ColumnKind::Operation, "upsert"), "operation.unknown");
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2030, 1, 31).unwrap_or_default();
        for raw in [
            "31-01-2030",
            "31/1/2030",
            "31.01.2030",
            "2030-01-31",
            "2030/1/31",
        ] {
            assert_eq!(parse_date(raw), Ok(d), "{raw}");
        }
        for bad in ["2030", "45", "2030.01.31", "31-01-30", "31-01/2030"] {
            assert_eq!(parse_date(bad).map_err(|e| e.code), Err("date.format"));
        }
        assert_eq!(
            parse_date("30-02-2030").map_err(|e| e.code),
            Err("date.invalid_date")
        );
    }

    #[test]
    fn fast_paths_agree_with_domain() {
        for raw in ["f", "M", "t", "female", "TG"] {
            assert_eq!(parse_gender(raw).ok(), Gender::parse(raw).ok(), "{raw}");
        }
        for r in Relationship::ALL {
            assert_eq!(parse_relationship(r.code()), Relationship::parse(r.code()));
            let lower = r.code().to_lowercase();
            assert_eq!(parse_relationship(&lower), Relationship::parse(&lower));
        }
        for raw in ["aay", "Phh", "NPHH", "apl", "XYZ"] {
            assert_eq!(parse_card_type(raw), CardType::parse(raw), "{raw}");
        }
        for raw in ["ALIVE", "deceased", "Migrated", "dead"] {
            assert_eq!(parse_life_status(raw), LifeStatus::parse(raw), "{raw}");
        }
    }

    #[test]
    fn bank_accounts_are_masked() {
        let acct = BankAccount::parse("1234 5678 9012").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(acct.expose_digits(), "123456789012");
        assert_eq!(acct.last_four(), "9012");
        let shown = format!("{acct} {acct:?} {:?}", Value::BankAccount(acct.clone()));
        assert!(!shown.contains("12345678"), "{shown}");
        assert!(shown.contains("9012"));
        for bad in ["12345678", "1234567890123456789", "12345678x9"] {
            assert_eq!(
                BankAccount::parse(bad).map_err(|e| e.code),
                Err("bank_account.format")
            );
        }
    }
}
