//! A record prepared for matching: every field the engine compares, normalised once.

use chrono::NaiveDate;

use crate::normalise::date::{BirthDate, parse_birth_date};
use crate::normalise::fields::{self, AddressValue};
use crate::normalise::name::{NameValue, parse_given_and_surname, parse_name};
use crate::roles::{DateKind, Role};

/// The place roles, in the order of [`Record::places`].
pub const PLACE_ROLES: [Role; 8] = [
    Role::VillageCode,
    Role::Pincode,
    Role::Village,
    Role::Locality,
    Role::City,
    Role::DistrictCode,
    Role::District,
    Role::State,
];

/// Position of a place role in [`Record::places`].
pub fn place_slot(role: Role) -> Option<usize> {
    PLACE_ROLES.iter().position(|r| *r == role)
}

/// One person as a record describes them, normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub id_number: Option<Box<str>>,
    /// The ID number carries a valid check digit (a 12-digit Aadhaar number passing
    /// Verhoeff): a typo would have been caught, so a different valid number is a different
    /// person.
    pub id_checked: bool,
    pub name: Option<NameValue>,
    pub relative: Option<NameValue>,
    pub birth: Option<BirthDate>,
    /// `M`, `F` or `T`.
    pub gender: Option<u8>,
    pub phone: Option<Box<str>>,
    pub email: Option<Box<str>>,
    pub address: Option<AddressValue>,
    /// Place names and codes, by [`PLACE_ROLES`].
    pub places: [Option<Box<str>>; 8],
}

/// The raw values of one record, by role, before normalisation.
#[derive(Debug, Clone, Default)]
pub struct RawFields<'a> {
    values: Vec<(Role, DateKind, &'a str)>,
}

impl<'a> RawFields<'a> {
    /// An empty set of fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field; blanks are skipped.
    pub fn push(&mut self, role: Role, kind: DateKind, value: &'a str) -> &mut Self {
        if !value.trim().is_empty() && role != Role::Ignore && role != Role::RecordId {
            self.values.push((role, kind, value));
        }
        self
    }

    fn first(&self, role: Role) -> Option<&'a str> {
        self.values
            .iter()
            .find(|(r, _, _)| *r == role)
            .map(|(_, _, v)| *v)
    }

    /// Normalises the fields into a record. `reference` is the day ages are counted to.
    pub fn prepare(&self, reference: NaiveDate) -> Record {
        let mut record = Record::default();
        let mut marker_relative = None;
        if let Some(full) = self.first(Role::FullName) {
            let parsed = parse_name(full);
            record.name = parsed.name;
            marker_relative = parsed.relative;
        } else {
            let given = self.first(Role::GivenName).unwrap_or("");
            let surname = self.first(Role::Surname).unwrap_or("");
            record.name = parse_given_and_surname(given, surname);
        }
        record.relative = self
            .first(Role::RelativeName)
            .and_then(|r| parse_name(r).name)
            .or(marker_relative);
        record.birth = self
            .values
            .iter()
            .find(|(r, _, _)| *r == Role::BirthDate)
            .and_then(|(_, kind, v)| parse_birth_date(v, *kind, reference));
        record.id_number = self.first(Role::IdNumber).and_then(fields::id_number);
        record.id_checked = record.id_number.as_deref().is_some_and(|id| {
            id.len() == 12
                && id.bytes().all(|b| b.is_ascii_digit())
                && sangam_domain::verhoeff::is_valid(id)
        });
        record.gender = self.first(Role::Gender).and_then(fields::gender);
        record.phone = self.first(Role::Phone).and_then(fields::phone);
        record.email = self.first(Role::Email).and_then(fields::email);
        let lines: Vec<&str> = self
            .values
            .iter()
            .filter(|(r, _, _)| matches!(r, Role::Address | Role::Street))
            .map(|(_, _, v)| *v)
            .collect();
        let house = self.first(Role::HouseNumber);
        if !lines.is_empty() || house.is_some() {
            record.address = fields::address(&lines, house);
        }
        for (slot, role) in PLACE_ROLES.iter().enumerate() {
            record.places[slot] = self.first(*role).and_then(fields::place);
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_normalised_by_role() {
        let reference = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        let mut raw = RawFields::new();
        raw.push(Role::FullName, DateKind::Date, "Smt. Lakshmi W/O Ramesh")
            .push(Role::BirthDate, DateKind::Age, "46")
            .push(Role::IdNumber, DateKind::Date, "2345 6789 0123")
            .push(Role::Gender, DateKind::Date, "F")
            .push(Role::Pincode, DateKind::Date, "605001")
            .push(Role::Phone, DateKind::Date, " ");
        let record = raw.prepare(reference);
        assert_eq!(
            record.name.as_ref().map(|n| n.display()).as_deref(),
            Some("laksmi")
        );
        assert_eq!(
            record.relative.as_ref().map(|n| n.display()).as_deref(),
            Some("rames")
        );
        assert_eq!(record.birth.map(|b| b.year), Some(1980));
        assert_eq!(record.gender, Some(b'F'));
        let pincode = place_slot(Role::Pincode).expect("a place role");
        assert_eq!(record.places[pincode].as_deref(), Some("605001"));
        assert!(record.places[place_slot(Role::Village).expect("a place role")].is_none());
        assert!(record.phone.is_none(), "a blank is missing, not a value");

        let mut split = RawFields::new();
        split.push(Role::GivenName, DateKind::Date, "jessica").push(
            Role::Surname,
            DateKind::Date,
            "smith",
        );
        assert_eq!(
            split
                .prepare(reference)
                .name
                .map(|n| n.display())
                .as_deref(),
            Some("jesic smit")
        );
    }
}
