//! Column roles: what each column of an input file means to the matcher.
//!
//! Departments name their columns in many ways ("Aadhaar No", "aadhaar_no", "UID"), so a
//! header is reduced to lowercase words joined by `_` before it is looked up among the aliases
//! below. A configuration can override any column's role, or tell the engine to ignore it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The part a column plays in deciding whether two records describe the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The record's own identifier in its file (written back in the output).
    RecordId,
    /// A national ID number (Aadhaar, or a social security number in foreign data).
    IdNumber,
    /// The whole name in one field.
    FullName,
    /// Given (first) name.
    GivenName,
    /// Surname (last name).
    Surname,
    /// Father's, husband's or spouse's name.
    RelativeName,
    /// Date of birth, birth year or age; see [`DateKind`].
    BirthDate,
    /// Gender.
    Gender,
    /// Mobile or phone number.
    Phone,
    /// Email address.
    Email,
    /// Free-text address line; several columns are joined.
    Address,
    /// Street name.
    Street,
    /// House or door number.
    HouseNumber,
    /// Locality or suburb.
    Locality,
    /// City or town.
    City,
    /// Village name.
    Village,
    /// Village code (LGD).
    VillageCode,
    /// District name.
    District,
    /// District code (LGD).
    DistrictCode,
    /// Postal code.
    Pincode,
    /// State name or code.
    State,
    /// A column the engine does not compare.
    Ignore,
}

/// How a birth-date column records the date: as a date, only the year, or an age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateKind {
    /// Dates in any common format; bare years and small numbers (ages) are recognised too.
    Date,
    /// Only a year.
    Year,
    /// An age in years on the reference date.
    Age,
}

/// Header aliases per role, as the normalised header (lowercase words joined by `_`).
const ALIASES: &[(Role, &[&str])] = &[
    (
        Role::RecordId,
        &[
            "id",
            "rec_id",
            "record_id",
            "record_key",
            "row_id",
            "beneficiary_id",
            "member_id",
        ],
    ),
    (
        Role::IdNumber,
        &[
            "aadhaar",
            "aadhar",
            "aadhaar_no",
            "aadhar_no",
            "aadhaar_number",
            "aadhar_number",
            "uid",
            "uid_no",
            "id_number",
            "national_id",
            "soc_sec_id",
            "ssn",
        ],
    ),
    (
        Role::FullName,
        &[
            "name",
            "full_name",
            "beneficiary_name",
            "member_name",
            "applicant_name",
            "person_name",
            "resident_name",
        ],
    ),
    (
        Role::GivenName,
        &["given_name", "first_name", "firstname", "forename"],
    ),
    (
        Role::Surname,
        &["surname", "last_name", "lastname", "family_name"],
    ),
    (
        Role::RelativeName,
        &[
            "relative_name",
            "father_name",
            "fathers_name",
            "father_husband_name",
            "father_or_husband_name",
            "husband_name",
            "spouse_name",
            "guardian_name",
        ],
    ),
    (
        Role::BirthDate,
        &[
            "dob",
            "date_of_birth",
            "birth_date",
            "birthdate",
            "birth_year",
            "year_of_birth",
            "age",
        ],
    ),
    (Role::Gender, &["gender", "sex"]),
    (
        Role::Phone,
        &[
            "mobile",
            "mobile_no",
            "mobile_number",
            "phone",
            "phone_no",
            "phone_number",
            "contact_no",
        ],
    ),
    (
        Role::Email,
        &["email", "email_id", "e_mail", "email_address"],
    ),
    (
        Role::Address,
        &[
            "address",
            "address_1",
            "address_2",
            "address1",
            "address2",
            "address_line",
        ],
    ),
    (Role::Street, &["street", "street_name", "road"]),
    (
        Role::HouseNumber,
        &[
            "house_no",
            "house_number",
            "door_no",
            "door_number",
            "street_number",
        ],
    ),
    (Role::Locality, &["locality", "suburb", "area", "ward"]),
    (Role::City, &["city", "town"]),
    (Role::Village, &["village", "village_name"]),
    (Role::VillageCode, &["village_code", "lgd_village_code"]),
    (Role::District, &["district", "district_name"]),
    (Role::DistrictCode, &["district_code", "lgd_district_code"]),
    (
        Role::Pincode,
        &["pincode", "pin_code", "pin", "postcode", "post_code", "zip"],
    ),
    (Role::State, &["state", "state_name", "state_code"]),
];

impl Role {
    /// The role's name as used in configuration files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::RecordId => "record_id",
            Role::IdNumber => "id_number",
            Role::FullName => "full_name",
            Role::GivenName => "given_name",
            Role::Surname => "surname",
            Role::RelativeName => "relative_name",
            Role::BirthDate => "birth_date",
            Role::Gender => "gender",
            Role::Phone => "phone",
            Role::Email => "email",
            Role::Address => "address",
            Role::Street => "street",
            Role::HouseNumber => "house_number",
            Role::Locality => "locality",
            Role::City => "city",
            Role::Village => "village",
            Role::VillageCode => "village_code",
            Role::District => "district",
            Role::DistrictCode => "district_code",
            Role::Pincode => "pincode",
            Role::State => "state",
            Role::Ignore => "ignore",
        }
    }

    /// Parses a role name from a configuration file.
    pub fn parse(name: &str) -> Option<Role> {
        let wanted = normalise_header(name);
        ALL.iter().copied().find(|r| r.as_str() == wanted)
    }

    /// Whether several columns may share this role (their values are joined).
    pub fn joins(self) -> bool {
        matches!(self, Role::Address | Role::Street)
    }
}

/// Every role, in the order reports list them.
pub const ALL: &[Role] = &[
    Role::RecordId,
    Role::IdNumber,
    Role::FullName,
    Role::GivenName,
    Role::Surname,
    Role::RelativeName,
    Role::BirthDate,
    Role::Gender,
    Role::Phone,
    Role::Email,
    Role::Address,
    Role::Street,
    Role::HouseNumber,
    Role::Locality,
    Role::City,
    Role::Village,
    Role::VillageCode,
    Role::District,
    Role::DistrictCode,
    Role::Pincode,
    Role::State,
    Role::Ignore,
];

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowercase words of a header joined by `_` ("Aadhaar No." → `aadhaar_no`,
/// "fatherName" stays `fathername`, which is why common run-together forms are aliases too).
pub fn normalise_header(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut pending = false;
    for c in header.trim_start_matches('\u{feff}').chars() {
        if c.is_alphanumeric() {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.extend(c.to_lowercase());
        } else {
            pending = true;
        }
    }
    out
}

/// The role a header suggests, if any, and for birth dates the kind of value.
pub fn role_for_header(header: &str) -> Option<(Role, DateKind)> {
    let key = normalise_header(header);
    let kind = match key.as_str() {
        "age" => DateKind::Age,
        "birth_year" | "year_of_birth" => DateKind::Year,
        _ => DateKind::Date,
    };
    ALIASES
        .iter()
        .find(|(_, names)| names.contains(&key.as_str()))
        .map(|(role, _)| (*role, kind))
}

/// A one-line list of the header names recognised per role, for error messages.
pub fn known_names() -> String {
    ALIASES
        .iter()
        .map(|(role, names)| format!("{role}: {}", names.join("/")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The role given to one column of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnRole {
    /// Position of the column in the file.
    pub index: usize,
    /// The header as written.
    pub header: String,
    /// The role; `Ignore` for columns not compared.
    pub role: Role,
    /// For birth dates, how the value is written.
    pub date_kind: DateKind,
    /// Why the column got its role: `header`, `config`, `duplicate` (a second column for a
    /// role that takes one) or `unknown`.
    pub source: &'static str,
}

/// Gives each header a role: the configuration's choice first, then the aliases. A role that
/// takes a single column keeps the first column that claims it; later ones are ignored and
/// say so. The record id column may be forced with `id_column`.
pub fn assign_roles(
    headers: &[String],
    overrides: &[(String, Role)],
    id_column: Option<&str>,
) -> Vec<ColumnRole> {
    let mut taken: Vec<Role> = Vec::new();
    let wanted_id = id_column.map(normalise_header);
    headers
        .iter()
        .enumerate()
        .map(|(index, header)| {
            let key = normalise_header(header);
            let (mut role, date_kind, mut source) = if wanted_id.as_deref() == Some(key.as_str()) {
                (Role::RecordId, DateKind::Date, "config")
            } else if let Some((_, role)) = overrides
                .iter()
                .find(|(name, _)| normalise_header(name) == key)
            {
                let kind = role_for_header(header).map_or(DateKind::Date, |(_, k)| k);
                (*role, kind, "config")
            } else if let Some((role, kind)) = role_for_header(header) {
                // With an explicit id column, a column merely called "id" is just data.
                if role == Role::RecordId && wanted_id.is_some() {
                    (Role::Ignore, kind, "duplicate")
                } else {
                    (role, kind, "header")
                }
            } else {
                (Role::Ignore, DateKind::Date, "unknown")
            };
            if role != Role::Ignore && !role.joins() {
                if taken.contains(&role) {
                    role = Role::Ignore;
                    source = "duplicate";
                } else {
                    taken.push(role);
                }
            }
            ColumnRole {
                index,
                header: header.clone(),
                role,
                date_kind,
                source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(headers: &[&str]) -> Vec<Role> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        assign_roles(&headers, &[], None)
            .into_iter()
            .map(|c| c.role)
            .collect()
    }

    #[test]
    fn headers_are_recognised_whatever_their_case_and_punctuation() {
        assert_eq!(
            roles(&[
                "Aadhaar No.",
                " DOB ",
                "Father/Husband Name",
                "Mobile",
                "PIN Code"
            ]),
            [
                Role::IdNumber,
                Role::BirthDate,
                Role::RelativeName,
                Role::Phone,
                Role::Pincode
            ]
        );
        assert_eq!(
            roles(&[
                "rec_id",
                "given_name",
                "surname",
                "street_number",
                "address_1",
                "address_2",
                "suburb",
                "postcode",
                "state",
                "date_of_birth",
                "soc_sec_id"
            ]),
            [
                Role::RecordId,
                Role::GivenName,
                Role::Surname,
                Role::HouseNumber,
                Role::Address,
                Role::Address,
                Role::Locality,
                Role::Pincode,
                Role::State,
                Role::BirthDate,
                Role::IdNumber
            ]
        );
    }

    #[test]
    fn a_second_column_for_a_single_role_is_ignored_and_unknown_columns_too() {
        let headers: Vec<String> = ["name", "full_name", "remarks"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        let assigned = assign_roles(&headers, &[], None);
        assert_eq!(assigned[0].role, Role::FullName);
        assert_eq!(
            (assigned[1].role, assigned[1].source),
            (Role::Ignore, "duplicate")
        );
        assert_eq!(
            (assigned[2].role, assigned[2].source),
            (Role::Ignore, "unknown")
        );
    }

    #[test]
    fn configuration_and_id_column_override_the_aliases() {
        let headers: Vec<String> = ["id", "Beneficiary Code", "naam"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        let assigned = assign_roles(
            &headers,
            &[("naam".into(), Role::FullName)],
            Some("beneficiary code"),
        );
        assert_eq!(
            assigned.iter().map(|c| c.role).collect::<Vec<_>>(),
            [Role::Ignore, Role::RecordId, Role::FullName]
        );
    }

    #[test]
    fn age_and_birth_year_columns_say_how_the_date_is_written() {
        assert_eq!(
            role_for_header("Age"),
            Some((Role::BirthDate, DateKind::Age))
        );
        assert_eq!(
            role_for_header("birth year"),
            Some((Role::BirthDate, DateKind::Year))
        );
        assert_eq!(Role::parse("Given Name"), Some(Role::GivenName));
    }
}
