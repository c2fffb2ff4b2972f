//! People as the matching engine sees them: a resident of the registry, or a scheme's
//! enrolment read through its dataset's spec. The ID number is compared by its reference key
//! (the same number always has the same key), so no number leaves the vault for matching.

use chrono::NaiveDate;
use sangam_domain::DateOfBirth;
use sangam_ingest::spec::{ColumnKind, DataSpec};
use sangam_matching::Record;
use sangam_matching::record::RawFields;
use sangam_matching::roles::{DateKind, Role, assign_roles};
use sangam_store::{Enrolment, MatchableResident};

use crate::verify::registry_birth_date;

/// A resident prepared for matching: name, relative, date of birth, gender, village and the
/// reference key of the ID number.
pub fn resident_record(m: &MatchableResident, today: NaiveDate) -> Record {
    let r = &m.resident;
    let mut raw = RawFields::new();
    raw.push(Role::FullName, DateKind::Date, r.name.as_str())
        .push(Role::Gender, DateKind::Date, r.gender.code())
        .push(Role::VillageCode, DateKind::Date, &m.village_code);
    if let Some(relative) = &r.relative_name {
        raw.push(Role::RelativeName, DateKind::Date, relative.as_str());
    }
    let mut record = raw.prepare(today);
    record.birth = Some(registry_birth_date(&r.dob));
    record.id_number = r.id_ref_key.as_ref().map(|k| k.as_str().into());
    record
}

/// What each column of a spec is for matching: the role its kind fixes (a date of birth, a
/// village code), or for names and free text the role its name suggests (`father_name` is a
/// relative, `address` an address). Columns of no use to matching are left out.
#[derive(Debug, Clone)]
pub struct SpecRoles {
    columns: Vec<(String, Role)>,
}

impl SpecRoles {
    pub fn of(spec: &DataSpec) -> Self {
        let names: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
        let by_name = assign_roles(&names, &[], None);
        let mut full_name_taken = false;
        let mut columns = Vec::new();
        for (column, named) in spec.columns.iter().zip(by_name) {
            let role = match column.kind {
                ColumnKind::PersonName => match named.role {
                    Role::RelativeName | Role::GivenName | Role::Surname => named.role,
                    _ if !full_name_taken => Role::FullName,
                    _ => Role::Ignore,
                },
                ColumnKind::Dob => Role::BirthDate,
                ColumnKind::Gender => Role::Gender,
                ColumnKind::VillageCode => Role::VillageCode,
                ColumnKind::DistrictCode => Role::DistrictCode,
                ColumnKind::Pincode => Role::Pincode,
                ColumnKind::Text => match named.role {
                    Role::Address
                    | Role::Street
                    | Role::HouseNumber
                    | Role::Locality
                    | Role::City
                    | Role::Village
                    | Role::District
                    | Role::Email => named.role,
                    _ => Role::Ignore,
                },
                _ => Role::Ignore,
            };
            full_name_taken |= role == Role::FullName;
            if role != Role::Ignore {
                columns.push((column.name.clone(), role));
            }
        }
        SpecRoles { columns }
    }

    /// An enrolment prepared for matching.
    pub fn record(&self, e: &Enrolment, today: NaiveDate) -> Record {
        let text = |name: &str| -> Option<String> {
            match e.fields.get(name)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let values: Vec<(Role, String)> = self
            .columns
            .iter()
            .filter_map(|(name, role)| text(name).map(|v| (*role, v)))
            .collect();
        let mut raw = RawFields::new();
        let mut birth = None;
        for (role, value) in &values {
            if *role == Role::BirthDate {
                birth = DateOfBirth::from_storage(value)
                    .ok()
                    .map(|d| registry_birth_date(&d));
            } else {
                raw.push(*role, DateKind::Date, value);
            }
        }
        let mut record = raw.prepare(today);
        record.birth = birth;
        record.id_number = e.ref_key.as_ref().map(|k| k.as_str().into());
        record
    }
}

/// Claimed details of a person (online validation), prepared for matching.
pub fn claimed_record(fields: &[(Role, &str)], ref_key: Option<&str>, today: NaiveDate) -> Record {
    let mut raw = RawFields::new();
    for (role, value) in fields {
        raw.push(*role, DateKind::Date, value);
    }
    let mut record = raw.prepare(today);
    record.id_number = ref_key.map(Into::into);
    record
}
