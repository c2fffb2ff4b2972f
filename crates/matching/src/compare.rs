//! Comparisons: for each field, the levels of agreement between two records.
//!
//! Level 0 always means "a value is missing on one side" and carries no weight; level 1 is
//! always exact agreement, the level term-frequency adjustments apply to. The other levels
//! are graded from strong to weak and the model learns their weights from the data.

use sangam_domain::mask_keep_last;
use serde::Serialize;

use crate::normalise::date::{self, compare_dates};
use crate::normalise::fields::{address_level, compare_addresses};
use crate::normalise::name::{self, compare_names};
use crate::record::{PLACE_ROLES, Record};
use crate::roles::Role;

/// Most levels any comparison has, missing included (patterns pack a level in 4 bits).
pub const MAX_LEVELS: usize = 8;

/// Most comparisons a model holds (patterns pack 16 levels into a u64).
pub const MAX_COMPARISONS: usize = 16;

/// A field compared between two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    IdNumber,
    Name,
    RelativeName,
    BirthDate,
    Gender,
    Phone,
    Email,
    Address,
    /// Where the person lives: village, locality, pincode, district, state, compared as one
    /// field (they are nested, and weighing each apart would count one fact several times).
    Place,
}

/// Place slots from the most specific to the least: the first both records hold decides.
const SPECIFICITY: [Role; 8] = [
    Role::VillageCode,
    Role::Village,
    Role::Locality,
    Role::Pincode,
    Role::City,
    Role::DistrictCode,
    Role::District,
    Role::State,
];

fn slots_by_specificity() -> impl Iterator<Item = usize> {
    SPECIFICITY
        .iter()
        .filter_map(|role| PLACE_ROLES.iter().position(|r| r == role))
}

const ID_LABELS: [&str; 4] = ["missing", "exact", "one digit mistyped", "different"];
const GENDER_LABELS: [&str; 3] = ["missing", "same", "different"];
const EMAIL_LABELS: [&str; 4] = ["missing", "exact", "same mailbox name", "different"];
const PLACE_LABELS: [&str; 5] = [
    "missing",
    "same place",
    "place spelt or coded a little differently",
    "same wider area",
    "different",
];

impl Comparison {
    /// Every comparison that could apply, in the order explanations list them.
    pub fn all() -> Vec<Comparison> {
        vec![
            Comparison::IdNumber,
            Comparison::Name,
            Comparison::RelativeName,
            Comparison::BirthDate,
            Comparison::Gender,
            Comparison::Phone,
            Comparison::Email,
            Comparison::Address,
            Comparison::Place,
        ]
    }

    /// The comparison's name in explanations and reports.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::IdNumber => "id_number",
            Comparison::Name => "name",
            Comparison::RelativeName => "relative_name",
            Comparison::BirthDate => "birth_date",
            Comparison::Gender => "gender",
            Comparison::Phone => "phone",
            Comparison::Email => "email",
            Comparison::Address => "address",
            Comparison::Place => "place",
        }
    }

    /// Labels of the levels, missing first.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Comparison::IdNumber | Comparison::Phone => &ID_LABELS,
            Comparison::Name | Comparison::RelativeName => &name::level::LABELS,
            Comparison::BirthDate => &date::level::LABELS,
            Comparison::Gender => &GENDER_LABELS,
            Comparison::Email => &EMAIL_LABELS,
            Comparison::Address => &address_level::LABELS,
            Comparison::Place => &PLACE_LABELS,
        }
    }

    /// Number of levels, missing included.
    pub fn levels(self) -> usize {
        self.labels().len()
    }

    /// Whether the record has a value for this comparison.
    pub fn present(self, r: &Record) -> bool {
        match self {
            Comparison::IdNumber => r.id_number.is_some(),
            Comparison::Name => r.name.is_some(),
            Comparison::RelativeName => r.relative.is_some(),
            Comparison::BirthDate => r.birth.is_some(),
            Comparison::Gender => r.gender.is_some(),
            Comparison::Phone => r.phone.is_some(),
            Comparison::Email => r.email.is_some(),
            Comparison::Address => r.address.is_some(),
            Comparison::Place => r.places.iter().any(Option::is_some),
        }
    }

    /// The level of agreement between two records.
    pub fn level(self, a: &Record, b: &Record) -> u8 {
        match self {
            Comparison::IdNumber => both(a.id_number.as_deref(), b.id_number.as_deref(), |x, y| {
                digits(x, y)
            }),
            Comparison::Phone => both(a.phone.as_deref(), b.phone.as_deref(), digits),
            Comparison::Name => both(a.name.as_ref(), b.name.as_ref(), compare_names),
            Comparison::RelativeName => {
                both(a.relative.as_ref(), b.relative.as_ref(), compare_names)
            }
            Comparison::BirthDate => both(a.birth.as_ref(), b.birth.as_ref(), compare_dates),
            Comparison::Gender => both(a.gender.as_ref(), b.gender.as_ref(), |x, y| {
                if x == y { 1 } else { 2 }
            }),
            Comparison::Email => both(a.email.as_deref(), b.email.as_deref(), |x, y| {
                if x == y {
                    1
                } else if x.split('@').next() == y.split('@').next() {
                    2
                } else {
                    3
                }
            }),
            Comparison::Address => both(a.address.as_ref(), b.address.as_ref(), compare_addresses),
            Comparison::Place => compare_places(a, b),
        }
    }

    /// The value whose frequency adjusts the weight of an exact agreement, as a hash, for
    /// comparisons where common values are weaker evidence (names, dates).
    pub fn frequency_key(self, r: &Record) -> Option<u64> {
        match self {
            Comparison::Name => r.name.as_ref().map(|n| n.text),
            Comparison::RelativeName => r.relative.as_ref().map(|n| n.text),
            Comparison::BirthDate => r
                .birth
                .map(|b| (b.year as u64) << 16 | u64::from(b.month) << 8 | u64::from(b.day)),
            _ => None,
        }
    }

    /// The record's value as explanations show it. ID and phone numbers are masked: an
    /// explanation is often pasted into a ticket.
    pub fn display(self, r: &Record) -> Option<String> {
        let mask = |s: &str| mask_keep_last(s, 4, None);
        match self {
            Comparison::IdNumber => r.id_number.as_deref().map(mask),
            Comparison::Phone => r.phone.as_deref().map(mask),
            Comparison::Name => r.name.as_ref().map(|n| n.display()),
            Comparison::RelativeName => r.relative.as_ref().map(|n| n.display()),
            Comparison::BirthDate => r.birth.map(|b| match b.precision {
                date::Precision::Day => format!("{:04}-{:02}-{:02}", b.year, b.month, b.day),
                date::Precision::Year => format!("{:04}", b.year),
                date::Precision::Age => format!("{:04} (from age)", b.year),
            }),
            Comparison::Gender => r.gender.map(|g| char::from(g).to_string()),
            Comparison::Email => r.email.as_deref().map(str::to_string),
            Comparison::Address => r.address.as_ref().map(|a| {
                let words: Vec<&str> = a.words.iter().map(|w| &**w).collect();
                match &a.house {
                    Some(h) => format!("{h} {}", words.join(" ")),
                    None => words.join(" "),
                }
            }),
            Comparison::Place => slots_by_specificity().find_map(|slot| {
                r.places[slot]
                    .as_deref()
                    .map(|p| format!("{p} ({})", PLACE_ROLES[slot].as_str()))
            }),
        }
    }
}

fn both<T: ?Sized>(a: Option<&T>, b: Option<&T>, f: impl Fn(&T, &T) -> u8) -> u8 {
    match (a, b) {
        (Some(x), Some(y)) => f(x, y),
        _ => 0,
    }
}

/// Numbers: exact, one digit off or two swapped, or different.
fn digits(x: &str, y: &str) -> u8 {
    if x == y {
        1
    } else if x.len() == y.len() && strsim::osa_distance(x, y) <= 1 {
        2
    } else {
        3
    }
}

/// The most specific place both records hold decides: the same, a close spelling or a
/// one-digit slip, or else whether any wider place agrees.
fn compare_places(a: &Record, b: &Record) -> u8 {
    let mut first: Option<(&str, &str)> = None;
    let mut wider_agrees = false;
    for slot in slots_by_specificity() {
        if let (Some(x), Some(y)) = (a.places[slot].as_deref(), b.places[slot].as_deref()) {
            match first {
                None if x == y => return 1,
                None => first = Some((x, y)),
                Some(_) => wider_agrees |= x == y,
            }
        }
    }
    match first {
        None => 0,
        Some((x, y)) if close_place(x, y) => 2,
        Some(_) if wider_agrees => 3,
        Some(_) => 4,
    }
}

fn close_place(x: &str, y: &str) -> bool {
    if x.bytes().all(|b| b.is_ascii_digit()) {
        x.len() == y.len() && strsim::osa_distance(x, y) <= 1
    } else {
        strsim::jaro_winkler(x, y) >= 0.9
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RawFields;
    use crate::roles::DateKind;
    use chrono::NaiveDate;

    fn record(fields: &[(Role, &str)]) -> Record {
        let mut raw = RawFields::new();
        for (role, value) in fields {
            raw.push(*role, DateKind::Date, value);
        }
        raw.prepare(NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"))
    }

    #[test]
    fn levels_grade_each_field_and_missing_is_level_zero() {
        let a = record(&[
            (Role::IdNumber, "234567890123"),
            (Role::Phone, "9876543210"),
            (Role::Pincode, "605001"),
            (Role::Village, "Ariyankuppam"),
            (Role::Gender, "M"),
        ]);
        let b = record(&[
            (Role::IdNumber, "234567890132"),
            (Role::Phone, "9876543210"),
            (Role::Pincode, "605010"),
            (Role::Village, "Ariyankupam"),
        ]);
        assert_eq!(Comparison::IdNumber.level(&a, &b), 2);
        assert_eq!(Comparison::Phone.level(&a, &b), 1);
        assert_eq!(Comparison::Place.level(&a, &b), 1, "doubled letters fold");
        let c = record(&[(Role::Village, "Ariyankuppam"), (Role::Pincode, "605010")]);
        let d = record(&[(Role::Village, "Ariyankupam"), (Role::Pincode, "605001")]);
        assert_eq!(Comparison::Place.level(&c, &d), 1, "the village decides");
        let e = record(&[(Role::Village, "Bahour"), (Role::Pincode, "605001")]);
        assert_eq!(
            Comparison::Place.level(&e, &d),
            3,
            "another village, same pincode"
        );
        let f = record(&[(Role::Pincode, "605010")]);
        assert_eq!(Comparison::Place.level(&f, &d), 2, "pincode digits swapped");
        let g = record(&[(Role::Pincode, "611111")]);
        assert_eq!(Comparison::Place.level(&g, &e), 4);
        assert_eq!(
            Comparison::Place.display(&e).as_deref(),
            Some("bahour (village)")
        );
        assert_eq!(Comparison::Gender.level(&a, &b), 0);
        assert_eq!(
            Comparison::IdNumber.display(&a).as_deref(),
            Some("XXXXXXXX0123")
        );
        for c in Comparison::all() {
            assert!(c.levels() <= MAX_LEVELS, "{}", c.name());
        }
    }
}
