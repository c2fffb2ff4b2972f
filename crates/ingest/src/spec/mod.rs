//! Data specs: what a dataset's file must contain, and the validation of its rows.
//!
//! - [`DataSpec`] and friends: the spec model, read from TOML or JSON and checked as a whole
//!   by [`DataSpec::validate`];
//! - [`base_registry`]: the built-in spec of the base registry (dataset `base`), and
//!   [`example_scheme_spec_toml`], a commented scheme spec; [`DataSpec::with_implicit_columns`],
//!   the spec an upload reads a scheme's file with (its columns and an optional `ref_key`);
//! - [`BaseForm`]: which form a base-registry file is in (one row per member, a cards file or
//!   a members file), told from its header, and the spec of each;
//! - [`match_header`]: a file's header row mapped to the spec's columns, once per file;
//! - [`Validator`]: one [`crate::RawRecord`] in, a [`ValidRow`] of typed [`Value`]s or every
//!   [`FieldProblem`] of the row out, with stable codes.
//!
//! Error codes are part of the contract of rejection reports: the domain types' own codes
//! (`id_number.checksum`, `dob.in_future`, `village_code.unknown`, ...) pass through
//! unchanged, and this module adds `field.missing`, `value.too_long`, `value.below_min`,
//! `value.above_max`, `value.not_allowed`, `pincode.format`, `bank_account.format`,
//! `integer.format`, `integer.out_of_range`, `decimal.format`, `date.format`,
//! `date.invalid_date`, `boolean.format`, `operation.unknown` and `rule.<rule name>`. Whole-file
//! header errors have `header.missing_columns`, `header.ambiguous` and `header.empty`.
//!
//! A [`Validator`] is `Send + Sync` and validates rows independently, so an upload pipeline may
//! share one across threads.

mod base_forms;
mod builtin;
mod cell;
mod header;
mod model;
mod validate;
mod value;
mod verify;

pub use base_forms::{BaseForm, BaseFormError, CARD_COLUMNS, MEMBER_COLUMNS};
pub use builtin::{BASE_DATASET, base_registry, example_scheme_spec_toml, ref_key_column};
pub use header::{
    AcceptedHeaders, HeaderError, HeaderMap, UnknownHeader, match_header, normalise_header,
};
pub use model::{
    CodeListRef, ColumnKind, ColumnSpec, Condition, DataSpec, EligibilityRule, SpecError,
    SpecProblem,
};
pub use validate::{CodeLists, FieldProblem, Validator};
pub use value::{BankAccount, Operation, ValidRow, Value};
