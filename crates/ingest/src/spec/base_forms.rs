//! The forms a base-registry file comes in, told apart by its header before any row is read.
//!
//! Civil Supplies' exports come either as one file with a row per member and the card's
//! columns repeated on each, or as two files: the ration cards (a row per household), then
//! their members (a row per member, naming its card by number). The procedures accept both,
//! so the hub recognises the form from the columns present and validates each form against
//! the part of the base spec its columns belong to. The card's own columns that tell the
//! forms apart are `card_type` and `village_code` (a member file may carry a stray address
//! column, which is then ignored like any unknown column).

use std::collections::HashSet;

use super::builtin::base_registry;
use super::header::normalise_header;
use super::model::DataSpec;

/// The columns of a ration card, besides its number.
pub const CARD_COLUMNS: [&str; 6] = [
    "card_type",
    "house_no",
    "street",
    "locality",
    "village_code",
    "pincode",
];

/// The card columns whose presence makes a file carry cards (both required in a card row).
const CARD_SIGNALS: [&str; 2] = ["card_type", "village_code"];

/// The columns of a member.
pub const MEMBER_COLUMNS: [&str; 9] = [
    "member_name",
    "relative_name",
    "gender",
    "dob",
    "relationship",
    "aadhaar",
    "consent_ref",
    "mobile",
    "life_status",
];

/// The column every form has: the ration card number.
const CARD_NUMBER: &str = "ration_card_no";
/// The operation of an incremental row.
const OPERATION: &str = "operation";
/// The reference key an incremental member row may be found by.
const REF_KEY: &str = "ref_key";

/// How a base-registry file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseForm {
    /// One row per member, the card's columns repeated on each (the single-file form).
    PerMember,
    /// One row per ration card: households only, members to follow in a members file.
    Cards,
    /// One row per member of a card already in the registry, named by its number.
    Members,
}

/// Why a file is none of the base registry's forms. Messages name columns, never cells.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseFormError {
    /// Member columns, but nothing that says which card each member belongs to.
    #[error(
        "the file has member columns ({}) but no ration card number: a members file needs \
         column `{CARD_NUMBER}` (also accepted: {}) to name each member's card, and a file of \
         one row per member needs also the card's columns `card_type` and `village_code`",
        found.join(", "),
        accepted.join(", ")
    )]
    NoCardNumber {
        /// The member columns the file has (spec names).
        found: Vec<String>,
        /// The headers accepted for the card number.
        accepted: Vec<String>,
    },
    /// Neither card nor member columns.
    #[error(
        "the file is none of the base registry's forms: it lacks the card columns `card_type` \
         and `village_code` and the member columns `member_name`, `gender`, `dob` and \
         `relationship`. A cards file has `{CARD_NUMBER}`, `card_type` and `village_code`; a \
         members file has `{CARD_NUMBER}` and the member columns; a file of one row per member \
         has all of them. Header names are matched ignoring case, spaces, '_', '-', '.' and '/'"
    )]
    Neither,
}

impl BaseFormError {
    /// A stable code for the whole-file rejection.
    pub fn code(&self) -> &'static str {
        "header.missing_columns"
    }
}

impl BaseForm {
    /// `per_member`, `cards` or `members`.
    pub fn code(self) -> &'static str {
        match self {
            BaseForm::PerMember => "per_member",
            BaseForm::Cards => "cards",
            BaseForm::Members => "members",
        }
    }

    /// The form of a file with this header row: card columns and member columns together are
    /// one row per member; card columns alone a cards file; the card number with member
    /// columns a members file.
    pub fn of(header: &[String]) -> Result<Self, BaseFormError> {
        let spec = base_registry();
        let headers: HashSet<String> = header.iter().map(|h| normalise_header(h)).collect();
        let present: HashSet<&str> = spec
            .columns
            .iter()
            .filter(|c| {
                std::iter::once(&c.name)
                    .chain(&c.aliases)
                    .any(|name| headers.contains(&normalise_header(name)))
            })
            .map(|c| c.name.as_str())
            .collect();
        let cards = CARD_SIGNALS.iter().any(|c| present.contains(c));
        let members: Vec<String> = MEMBER_COLUMNS
            .iter()
            .filter(|c| present.contains(*c))
            .map(|c| (*c).to_owned())
            .collect();
        match (cards, members.is_empty()) {
            (true, false) => Ok(BaseForm::PerMember),
            (true, true) => Ok(BaseForm::Cards),
            (false, false) if present.contains(CARD_NUMBER) => Ok(BaseForm::Members),
            (false, false) => Err(BaseFormError::NoCardNumber {
                found: members,
                accepted: spec
                    .column(CARD_NUMBER)
                    .map(|c| c.aliases.iter().map(|a| format!("`{a}`")).collect())
                    .unwrap_or_default(),
            }),
            (false, true) => Err(BaseFormError::Neither),
        }
    }

    /// The spec rows of this form are validated against: the base spec's columns of the
    /// form, and in an incremental upload the operation (and, for members, the reference
    /// key), which a full upload does not know (they stay unknown columns there, as before).
    pub fn spec(self, incremental: bool) -> DataSpec {
        let mut spec = base_registry();
        let keep = |name: &str| match name {
            CARD_NUMBER => true,
            OPERATION => incremental,
            REF_KEY => incremental && self != BaseForm::Cards,
            _ => match self {
                BaseForm::PerMember => true,
                BaseForm::Cards => CARD_COLUMNS.contains(&name),
                BaseForm::Members => MEMBER_COLUMNS.contains(&name),
            },
        };
        spec.columns.retain(|c| keep(&c.name));
        match self {
            BaseForm::PerMember => {}
            BaseForm::Cards => spec.title = "Base registry: ration cards".into(),
            BaseForm::Members => spec.title = "Base registry: members of ration cards".into(),
        }
        spec
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn each_form_is_told_by_its_columns() {
        let per_member = header(&[
            "Ration Card No",
            "Category",
            "LGD Village Code",
            "Name",
            "Sex",
            "DOB",
            "Relation",
        ]);
        assert_eq!(BaseForm::of(&per_member), Ok(BaseForm::PerMember));
        let cards = header(&["rc_no", "card_type", "door_no", "village_code"]);
        assert_eq!(BaseForm::of(&cards), Ok(BaseForm::Cards));
        let members = header(&["rc_no", "member_name", "gender", "dob", "relationship"]);
        assert_eq!(BaseForm::of(&members), Ok(BaseForm::Members));
        // An address column alone does not make a members file carry cards.
        let members = header(&["rc_no", "locality", "member_name", "dob"]);
        assert_eq!(BaseForm::of(&members), Ok(BaseForm::Members));
    }

    #[test]
    fn a_file_of_neither_form_is_refused_naming_the_columns() {
        let err = BaseForm::of(&header(&["member_name", "gender", "dob"])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`ration_card_no`"), "{text}");
        assert!(text.contains("member_name, gender, dob"), "{text}");
        assert!(text.contains("`rc_no`"), "{text}");
        let err = BaseForm::of(&header(&["x", "ration_card_no"])).unwrap_err();
        assert_eq!(err, BaseFormError::Neither);
        assert!(err.to_string().contains("`card_type`"), "{err}");
    }

    #[test]
    fn each_form_has_its_own_valid_spec() {
        for form in [BaseForm::PerMember, BaseForm::Cards, BaseForm::Members] {
            for incremental in [false, true] {
                let spec = form.spec(incremental);
                spec.validate().unwrap();
                let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
                assert_eq!(names.contains(&"operation"), incremental, "{names:?}");
                assert_eq!(
                    names.contains(&"ref_key"),
                    incremental && form != BaseForm::Cards,
                    "{names:?}"
                );
                assert_eq!(
                    names.contains(&"card_type"),
                    form != BaseForm::Members,
                    "{names:?}"
                );
                assert_eq!(
                    names.contains(&"member_name"),
                    form != BaseForm::Cards,
                    "{names:?}"
                );
            }
        }
    }
}
