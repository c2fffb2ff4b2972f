//! What a validated row of the base registry says, in domain types: the card, the household
//! the card describes, the member. Shared by every loader of the base registry (full loads,
//! incremental uploads, cards files), whichever form the file is in; a form without a
//! column simply has nothing to say about it.

use sangam_domain::{
    ConsentRef, IdNumber, LifeStatus, MobileNumber, PersonName, RationCardNumber, RefKey,
};
use sangam_ingest::Fields;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{ValidRow, Value};
use sangam_store::{Address, Household};

use super::problem;
use crate::registry::{HouseholdDetails, MemberDetails};

/// The value of `$column` if it is of kind `$variant` (a column the spec lacks, or an empty
/// cell, gives `None`).
macro_rules! value_of {
    ($row:expr, $column:literal, $variant:ident) => {
        match $row.get($column) {
            Some(Value::$variant(v)) => Some(v.clone()),
            _ => None,
        }
    };
}

fn text(row: &ValidRow, column: &str) -> Option<String> {
    match row.get(column) {
        Some(Value::Text(t)) if !t.is_empty() => Some(t.clone()),
        Some(Value::Pincode(p)) => Some(p.clone()),
        _ => None,
    }
}

/// The ration card the row is about.
pub(super) fn card_number(row: &ValidRow) -> Option<RationCardNumber> {
    value_of!(row, "ration_card_no", RationCard)
}

/// What the row says of its household: `None` unless it gives the card's number, type and
/// village (a members file never does; a delete row may not).
pub(super) fn household_details(row: &ValidRow) -> Option<HouseholdDetails> {
    Some(HouseholdDetails {
        card_number: card_number(row)?,
        card_type: value_of!(row, "card_type", CardType)?,
        address: Address {
            house_no: text(row, "house_no"),
            street: text(row, "street"),
            locality: text(row, "locality"),
            pincode: text(row, "pincode"),
        },
        village_code: value_of!(row, "village_code", VillageCode)?,
    })
}

/// What the row says of its member: `None` unless it gives the name, gender, date of birth
/// and relationship (a cards file never does; a delete row may not). An empty life status
/// is `alive`.
pub(super) fn member_details(row: &ValidRow) -> Option<MemberDetails> {
    Some(MemberDetails {
        name: value_of!(row, "member_name", Name)?,
        relative_name: relative_name(row),
        gender: value_of!(row, "gender", Gender)?,
        dob: value_of!(row, "dob", Dob)?,
        relationship: value_of!(row, "relationship", Relationship)?,
        mobile: mobile(row),
        life_status: life_status(row).unwrap_or_default(),
    })
}

pub(super) fn member_name(row: &ValidRow) -> Option<PersonName> {
    value_of!(row, "member_name", Name)
}

pub(super) fn relative_name(row: &ValidRow) -> Option<PersonName> {
    value_of!(row, "relative_name", Name)
}

pub(super) fn mobile(row: &ValidRow) -> Option<MobileNumber> {
    value_of!(row, "mobile", Mobile)
}

pub(super) fn life_status(row: &ValidRow) -> Option<LifeStatus> {
    value_of!(row, "life_status", LifeStatus)
}

pub(super) fn dob(row: &ValidRow) -> Option<sangam_domain::DateOfBirth> {
    value_of!(row, "dob", Dob)
}

pub(super) fn id_number(row: &ValidRow) -> Option<IdNumber> {
    value_of!(row, "aadhaar", IdNumber)
}

pub(super) fn consent(row: &ValidRow) -> Option<ConsentRef> {
    value_of!(row, "consent_ref", ConsentRef)
}

pub(super) fn ref_key(row: &ValidRow) -> Option<RefKey> {
    value_of!(row, "ref_key", RefKey)
}

/// A row the hub could not read although it passed validation: the spec and the loader
/// disagree, which is a bug, reported on the row rather than failing the upload.
pub(super) fn unreadable(line: u64, fields: Fields) -> RejectedRow {
    RejectedRow {
        line,
        fields: fields.into(),
        errors: vec![problem(
            None,
            "row.internal",
            "the hub could not read this row's values; report it to the hub team",
        )],
    }
}

/// Why a row's card columns contradict the card the registry holds, if they do: its type or
/// its village (the address lines may be filled in or left out row by row, and are not
/// compared).
pub(super) fn card_mismatch(stored: &Household, given: &HouseholdDetails) -> Option<String> {
    if stored.card_type == given.card_type && stored.village_code == given.village_code {
        return None;
    }
    Some(format!(
        "this row gives the card type {} and village {}, but the registry holds type {} and \
         village {} for this ration card; change the card with a modify row first",
        given.card_type.code(),
        given.village_code,
        stored.card_type.code(),
        stored.village_code
    ))
}
