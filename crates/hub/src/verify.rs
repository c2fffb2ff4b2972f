//! Yes-or-no verification of what an applicant claims (`POST /v1/verify`).
//!
//! A department holding a resident's reference key checks the name, date of birth and gender
//! an applicant gave, and learns only whether each agrees with the base registry, never the
//! registry's values: it cannot use verification to read the registry field by field. Names
//! agree across transliterations, initials and order ("K. Lakshmi" and "Laxmi K"); a date
//! must be the same day unless the registry (or the claim) knows only a year or an age.

use chrono::{Datelike, NaiveDate};
use sangam_domain::{DateOfBirth, Gender, RefKey, ValidationError};
use sangam_matching::normalise::date::{
    self as match_date, BirthDate, Precision, compare_dates, parse_birth_date,
};
use sangam_matching::normalise::name::{compare_names, level as name_level, parse_name};
use sangam_matching::roles::DateKind;
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// What the applicant claims; at least one field.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    pub name: Option<String>,
    pub dob: Option<String>,
    pub gender: Option<String>,
}

/// The answer for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Yes,
    No,
    /// The field was not claimed.
    NotGiven,
}

/// Per field and overall: yes only when every claimed field agrees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub name: Verdict,
    pub dob: Verdict,
    pub gender: Verdict,
    pub overall: Verdict,
}

fn verdict(agrees: bool) -> Verdict {
    if agrees { Verdict::Yes } else { Verdict::No }
}

pub(crate) fn registry_birth_date(dob: &DateOfBirth) -> BirthDate {
    match *dob {
        DateOfBirth::Full(d) => BirthDate {
            year: d.year(),
            month: d.month() as u8,
            day: d.day() as u8,
            precision: Precision::Day,
        },
        DateOfBirth::Year(year) => BirthDate {
            year,
            month: 0,
            day: 0,
            precision: Precision::Year,
        },
        DateOfBirth::DeclaredAge { age, as_of } => BirthDate {
            year: as_of.year() - i32::from(age),
            month: 0,
            day: 0,
            precision: Precision::Age,
        },
    }
}

/// Whether a claimed date agrees with the registry's: the same day between two full dates;
/// the same year when either knows only the year; within a year when either is an age.
fn dates_agree(claimed: &BirthDate, registry: &BirthDate) -> bool {
    let level = compare_dates(claimed, registry);
    let vague = |b: &BirthDate| b.precision != Precision::Day;
    let age = |b: &BirthDate| b.precision == Precision::Age;
    level == match_date::level::EXACT
        || (level == match_date::level::SAME_YEAR && (vague(claimed) || vague(registry)))
        || (level == match_date::level::NEAR_YEAR && (age(claimed) || age(registry)))
}

fn invalid(field: &str, code: &'static str, message: &str) -> HubError {
    HubError::invalid(field, ValidationError::new(code, message))
}

impl Hub {
    /// Checks `claims` against the resident holding `ref_key`. Every verification is in the
    /// audit log (the outcome, not the claimed values).
    pub async fn verify_resident(
        &self,
        ref_key: &RefKey,
        claims: &Claims,
        actor: &str,
    ) -> HubResult<Verification> {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&claims.name) && blank(&claims.dob) && blank(&claims.gender) {
            return Err(invalid(
                "claims",
                "verify.nothing_claimed",
                "claim at least one of name, dob and gender",
            ));
        }
        let today: NaiveDate = self.now().date_naive();
        let claimed_name = match claims.name.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(raw) => Some(
                parse_name(raw)
                    .name
                    .ok_or_else(|| invalid("name", "name.empty", "the name has no letters"))?,
            ),
            None => None,
        };
        let claimed_dob = match claims.dob.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(raw) => Some(parse_birth_date(raw, DateKind::Date, today).ok_or_else(|| {
                invalid(
                    "dob",
                    "dob.format",
                    "a date of birth must be DD-MM-YYYY, DD/MM/YYYY, YYYY-MM-DD, a year or an age",
                )
            })?),
            None => None,
        };
        let claimed_gender = match claims.gender.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(raw) => Some(Gender::parse(raw).map_err(|e| HubError::invalid("gender", e))?),
            None => None,
        };

        let resident = self.resident_by_ref_key(ref_key).await?;
        let name = match &claimed_name {
            None => Verdict::NotGiven,
            Some(claimed) => verdict(
                parse_name(resident.name.as_str())
                    .name
                    .is_some_and(|registry| compare_names(claimed, &registry) <= name_level::TYPO),
            ),
        };
        let dob = match &claimed_dob {
            None => Verdict::NotGiven,
            Some(claimed) => verdict(dates_agree(claimed, &registry_birth_date(&resident.dob))),
        };
        let gender = match claimed_gender {
            None => Verdict::NotGiven,
            Some(g) => verdict(g == resident.gender),
        };
        let answers = [name, dob, gender];
        let overall = verdict(answers.iter().all(|v| *v != Verdict::No));
        self.audit(
            actor,
            AuditEvent::ResidentVerified {
                ref_key: ref_key.to_string(),
                agreed: overall == Verdict::Yes,
            },
        )
        .await?;
        Ok(Verification {
            name,
            dob,
            gender,
            overall,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> BirthDate {
        let today = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        parse_birth_date(s, DateKind::Date, today).expect("a date")
    }

    #[test]
    fn dates_agree_as_precisely_as_the_registry_knows_them() {
        let full = registry_birth_date(&DateOfBirth::Full(
            NaiveDate::from_ymd_opt(1980, 4, 12).expect("date"),
        ));
        assert!(dates_agree(&date("12/04/1980"), &full));
        assert!(
            !dates_agree(&date("13/04/1980"), &full),
            "one day off is another date"
        );
        assert!(dates_agree(&date("1980"), &full), "a year claimed");
        assert!(dates_agree(&date("46"), &full), "an age claimed");
        assert!(!dates_agree(&date("1979"), &full));
        let year = registry_birth_date(&DateOfBirth::Year(1980));
        assert!(dates_agree(&date("12-04-1980"), &year));
        assert!(!dates_agree(&date("12-04-1981"), &year));
        let age = registry_birth_date(&DateOfBirth::DeclaredAge {
            age: 40,
            as_of: NaiveDate::from_ymd_opt(2020, 6, 1).expect("date"),
        });
        assert!(
            dates_agree(&date("1981-01-01"), &age),
            "age 40 in 2020 is born 1979-1980"
        );
        assert!(!dates_agree(&date("1990-01-01"), &age));
    }
}
