//! The vocabulary an agreement is written in: the resident fields a purpose may see, the
//! operation scopes, and the projection of a resident onto the fields approved for a request.

use sangam_domain::IdNumber;
use sangam_store::{Household, Resident};
use serde_json::{Map, Value};

/// Every resident field an agreement can approve.
pub const ALL: &[&str] = &[
    "name",
    "relative_name",
    "gender",
    "dob",
    "relationship",
    "mobile",
    "id_number",
    "ekyc_status",
    "life_status",
    "card_number",
    "village_code",
    "address",
    "enrolments",
];

/// Fields shown masked unless the request may reveal them.
pub const SENSITIVE: &[&str] = &["id_number", "mobile"];

/// Identifiers every resident in a response carries, whatever the approved fields: the
/// consumer needs a handle to the record it asked for.
pub const IDENTIFIERS: &[&str] = &["resident_id", "ref_key"];

/// Operation scopes.
pub mod scopes {
    pub const RESIDENTS_READ: &str = "residents.read";
    pub const HOUSEHOLDS_READ: &str = "households.read";
    pub const RESIDENTS_PROFILE: &str = "residents.profile";
    pub const RESIDENTS_SEARCH: &str = "residents.search";
    pub const EKYC_READ: &str = "ekyc.read";
    pub const RESIDENTS_ENROL: &str = "residents.enrol";
    /// Sensitive fields in full, for a purpose whose approval allows it.
    pub const REVEAL: &str = "id_number.reveal";

    pub const ALL: &[&str] = &[
        RESIDENTS_READ,
        HOUSEHOLDS_READ,
        RESIDENTS_PROFILE,
        RESIDENTS_SEARCH,
        EKYC_READ,
        RESIDENTS_ENROL,
        REVEAL,
    ];
}

/// What a projection needs besides the resident.
#[derive(Debug, Default)]
pub struct Extras<'a> {
    pub household: Option<&'a Household>,
    /// The ID number, opened from the vault only when the field is approved.
    pub id_number: Option<&'a IdNumber>,
    pub enrolments: Option<Value>,
}

/// The resident as the request may see it: the identifiers and the approved fields, nothing
/// else (absent, not null). Sensitive fields are masked unless `reveal`.
pub fn project(
    resident: &Resident,
    fields: &[String],
    reveal: bool,
    extras: &Extras<'_>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("resident_id".into(), resident.resident_id.clone().into());
    if let Some(key) = &resident.id_ref_key {
        out.insert("ref_key".into(), key.as_str().into());
    }
    for field in fields {
        let value: Option<Value> = match field.as_str() {
            "name" => Some(resident.name.as_str().into()),
            "relative_name" => resident.relative_name.as_ref().map(|n| n.as_str().into()),
            "gender" => Some(resident.gender.code().into()),
            "dob" => Some(resident.dob.to_storage().into()),
            "relationship" => Some(resident.relationship.code().into()),
            // The registry keeps only the masked mobile number: there is nothing to reveal.
            "mobile" => resident.mobile_masked.clone().map(Value::from),
            "id_number" => extras.id_number.map(|id| {
                if reveal {
                    id.expose_digits().into()
                } else {
                    id.masked().into()
                }
            }),
            "ekyc_status" => Some(resident.ekyc_status.code().into()),
            "life_status" => Some(resident.life_status.code().into()),
            "card_number" => Some(resident.card_number.as_str().into()),
            "village_code" => extras.household.map(|h| h.village_code.get().into()),
            "address" => extras.household.map(|h| {
                serde_json::json!({
                    "house_no": h.address.house_no,
                    "street": h.address.street,
                    "locality": h.address.locality,
                    "pincode": h.address.pincode,
                })
            }),
            "enrolments" => extras.enrolments.clone(),
            _ => None,
        };
        if let Some(value) = value {
            out.insert(field.clone(), value);
        }
    }
    out
}

/// Names the first unknown field or scope of a list, for an agreement being approved.
pub fn unknown<'a>(given: &'a [String], known: &[&str]) -> Option<&'a str> {
    given
        .iter()
        .map(String::as_str)
        .find(|g| !known.contains(g))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use chrono::Utc;
    use proptest::prelude::*;
    use sangam_domain::{
        CardType, DateOfBirth, EkycStatus, Gender, IdNumber, LifeStatus, PersonName,
        RationCardNumber, RefKey, Relationship, VillageCode,
    };
    use sangam_store::{Address, Household, Resident};

    use super::*;

    fn resident() -> Resident {
        Resident {
            resident_id: "r-1".into(),
            card_number: RationCardNumber::parse("PY0012345678").unwrap(),
            name: PersonName::parse("Lakshmi Devi").unwrap(),
            relative_name: Some(PersonName::parse("Raman").unwrap()),
            gender: Gender::parse("F").unwrap(),
            dob: DateOfBirth::Year(1970),
            relationship: Relationship::parse("self").unwrap(),
            mobile_masked: Some("XXXXXX3210".into()),
            mobile_blind_index: Some([1; 32]),
            id_ref_key: Some(RefKey::generate()),
            ekyc_status: EkycStatus::default(),
            life_status: LifeStatus::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    fn household() -> Household {
        Household {
            card_number: RationCardNumber::parse("PY0012345678").unwrap(),
            card_type: CardType::parse("PHH").unwrap(),
            address: Address::default(),
            village_code: VillageCode::new(634_512).unwrap(),
            head_resident_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    proptest! {
        /// Whatever the agreement approves (including names the hub does not know), a
        /// response holds only the identifiers and approved fields, and a sensitive field in
        /// full only when revealing is allowed.
        #[test]
        fn responses_hold_only_approved_fields(
            chosen in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(ALL.to_vec()).prop_map(str::to_owned),
                    "[a-z_]{1,12}",
                ],
                0..20,
            ),
            reveal in any::<bool>(),
        ) {
            let resident = resident();
            let household = household();
            let id = IdNumber::parse("234123412346").unwrap();
            let out = project(
                &resident,
                &chosen,
                reveal,
                &Extras {
                    household: Some(&household),
                    id_number: Some(&id),
                    enrolments: Some(serde_json::json!([])),
                },
            );
            for key in out.keys() {
                prop_assert!(
                    IDENTIFIERS.contains(&key.as_str()) || chosen.contains(key),
                    "{key} was not approved"
                );
            }
            let text = serde_json::Value::Object(out).to_string();
            prop_assert_eq!(
                text.contains(id.expose_digits()),
                reveal && chosen.iter().any(|f| f == "id_number")
            );
        }
    }
}
