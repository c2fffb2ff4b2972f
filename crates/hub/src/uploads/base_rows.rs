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

/// Where the readers below get a column's value: a copy, from a row that loaders read
/// more than once ([`&ValidRow`]), or the value itself, taken out of a row read once
/// ([`Taking`]).
pub(super) trait Cells {
    /// The value of `column`; `None` if the spec has no such column.
    fn value(&mut self, column: &str) -> Option<Value>;
}

impl Cells for &ValidRow {
    fn value(&mut self, column: &str) -> Option<Value> {
        self.get(column).cloned()
    }
}

impl<C: Cells> Cells for &mut C {
    fn value(&mut self, column: &str) -> Option<Value> {
        (**self).value(column)
    }
}

/// A row read once, by a full load: each value is taken out of it rather than copied (a
/// copy of each was a tenth of a row's allocations). A column read a second time is empty,
/// so each is read once, and the card before the household (see [`household_of`]).
pub(super) struct Taking<'a>(pub(super) &'a mut ValidRow);

impl Cells for Taking<'_> {
    fn value(&mut self, column: &str) -> Option<Value> {
        self.0.take(column)
    }
}

/// The value of `$column` if it is of kind `$variant` (a column the spec lacks, or an empty
/// cell, gives `None`).
macro_rules! value_of {
    ($row:expr, $column:literal, $variant:ident) => {
        match $row.value($column) {
            Some(Value::$variant(v)) => Some(v),
            _ => None,
        }
    };
}

fn text(mut row: impl Cells, column: &str) -> Option<String> {
    match row.value(column) {
        Some(Value::Text(t)) if !t.is_empty() => Some(t),
        Some(Value::Pincode(p)) => Some(p),
        _ => None,
    }
}

/// The ration card the row is about.
pub(super) fn card_number(mut row: impl Cells) -> Option<RationCardNumber> {
    value_of!(row, "ration_card_no", RationCard)
}

/// What the row says of its household: `None` unless it gives the card's number, type and
/// village (a members file never does; a delete row may not).
pub(super) fn household_details(mut row: impl Cells) -> Option<HouseholdDetails> {
    let card = card_number(&mut row)?;
    household_of(row, card)
}

/// What the row says of the household of `card`, which the caller has read: `None` unless it
/// gives the card's type and village.
pub(super) fn household_of(
    mut row: impl Cells,
    card: RationCardNumber,
) -> Option<HouseholdDetails> {
    Some(HouseholdDetails {
        card_number: card,
        card_type: value_of!(row, "card_type", CardType)?,
        address: Address {
            house_no: text(&mut row, "house_no"),
            street: text(&mut row, "street"),
            locality: text(&mut row, "locality"),
            pincode: text(&mut row, "pincode"),
        },
        village_code: value_of!(row, "village_code", VillageCode)?,
    })
}

/// What the row says of its member: `None` unless it gives the name, gender, date of birth
/// and relationship (a cards file never does; a delete row may not). An empty life status
/// is `alive`.
pub(super) fn member_details(mut row: impl Cells) -> Option<MemberDetails> {
    Some(MemberDetails {
        name: value_of!(row, "member_name", Name)?,
        relative_name: relative_name(&mut row),
        gender: value_of!(row, "gender", Gender)?,
        dob: value_of!(row, "dob", Dob)?,
        relationship: value_of!(row, "relationship", Relationship)?,
        mobile: mobile(&mut row),
        life_status: life_status(&mut row).unwrap_or_default(),
    })
}

pub(super) fn member_name(mut row: impl Cells) -> Option<PersonName> {
    value_of!(row, "member_name", Name)
}

pub(super) fn relative_name(mut row: impl Cells) -> Option<PersonName> {
    value_of!(row, "relative_name", Name)
}

pub(super) fn mobile(mut row: impl Cells) -> Option<MobileNumber> {
    value_of!(row, "mobile", Mobile)
}

pub(super) fn life_status(mut row: impl Cells) -> Option<LifeStatus> {
    value_of!(row, "life_status", LifeStatus)
}

pub(super) fn dob(mut row: impl Cells) -> Option<sangam_domain::DateOfBirth> {
    value_of!(row, "dob", Dob)
}

pub(super) fn id_number(mut row: impl Cells) -> Option<IdNumber> {
    value_of!(row, "aadhaar", IdNumber)
}

pub(super) fn consent(mut row: impl Cells) -> Option<ConsentRef> {
    value_of!(row, "consent_ref", ConsentRef)
}

pub(super) fn ref_key(mut row: impl Cells) -> Option<RefKey> {
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
