//! The built-in spec of the base registry, and an example scheme spec for documentation.
//!
//! The base registry (Civil Supplies' ration cards and their members) is the hub's mother
//! data, so its spec ships with the hub rather than being declared by a department. Its file
//! has one row per member, with the card's columns repeated on each row (or comes as two
//! files, cards and members: see `base_forms.rs`). The column names are the ones
//! `sangam-synth` writes; the aliases are the spellings departments' exports use. The last
//! two columns, the operation and the reference key, serve incremental uploads only.

use super::header::normalise_header;
use super::model::{CodeListRef, ColumnKind, ColumnSpec, DataSpec};

/// Dataset name of the base registry (part of the `sangam ingest` contract).
pub const BASE_DATASET: &str = "base";

/// The base registry spec: one row per household member, card columns repeated.
pub fn base_registry() -> DataSpec {
    use ColumnKind as K;
    let col = |name: &str, aliases: &[&str], kind: ColumnKind, required: bool| {
        ColumnSpec::new(name, kind, required).with_aliases(aliases)
    };
    let mut village = col(
        "village_code",
        &["lgd_village_code", "village_lgd_code"],
        K::VillageCode,
        true,
    );
    village.code_list = Some(CodeListRef::Villages);
    let text = |name: &str, aliases: &[&str]| {
        let mut c = col(name, aliases, K::Text, false);
        // Address lines longer than this are a merged-cells or wrong-column accident.
        c.max_length = Some(200);
        c
    };
    DataSpec {
        dataset: BASE_DATASET.to_owned(),
        // 2 added the operation and reference-key columns of incremental uploads.
        version: 2,
        title: "Base registry: ration cards and their members".to_owned(),
        record_key: None,
        columns: vec![
            col(
                "ration_card_no",
                &["ration_card", "card_no", "ration_card_number", "rc_no"],
                K::RationCard,
                true,
            ),
            col(
                "card_type",
                &["category", "card_category"],
                K::CardType,
                true,
            ),
            text("house_no", &["door_no", "house_number"]),
            text("street", &["street_name", "address_1", "address_line_1"]),
            text("locality", &["area", "address_2", "address_line_2", "ward"]),
            village,
            col(
                "pincode",
                &["pin", "pin_code", "postcode"],
                K::Pincode,
                false,
            ),
            col(
                "member_name",
                &["name", "full_name", "beneficiary_name", "member"],
                K::PersonName,
                true,
            ),
            col(
                "relative_name",
                &[
                    "father_name",
                    "father_husband_name",
                    "fathers_name",
                    "husband_name",
                    "guardian_name",
                    "spouse_name",
                ],
                K::PersonName,
                false,
            ),
            col("gender", &["sex"], K::Gender, true),
            col(
                "dob",
                &[
                    "date_of_birth",
                    "birth_date",
                    "age",
                    "year_of_birth",
                    "birth_year",
                ],
                K::Dob,
                true,
            ),
            col(
                "relationship",
                &["relation", "relationship_with_hof", "relation_to_head"],
                K::Relationship,
                true,
            ),
            col(
                "aadhaar",
                &["aadhaar_no", "aadhaar_number", "uid", "uid_no", "id_number"],
                K::IdNumber,
                false,
            ),
            col(
                "consent_ref",
                &["consent", "consent_form_no", "econsent_id"],
                K::ConsentRef,
                false,
            ),
            col(
                "mobile",
                &["mobile_no", "phone", "phone_no", "mobile_number"],
                K::Mobile,
                false,
            ),
            col("life_status", &["status"], K::LifeStatus, false),
            // Not `status`: that is life_status's alias.
            col(
                "operation",
                &["op", "action", "change_type", "change"],
                K::Operation,
                false,
            ),
            // The reference key the uploader got in an earlier upload's mapping: finds a member
            // whose row does not repeat the ID number.
            ref_key_column(),
        ],
        rules: Vec::new(),
        update_frequency_days: Some(30),
        exclusive_with: Vec::new(),
        one_per_household: false,
    }
}

/// The optional column of a reference key the hub handed back in an earlier upload's
/// mapping: it finds a base member, or a scheme's record, whose row does not repeat the ID
/// number or the record key.
pub fn ref_key_column() -> ColumnSpec {
    ColumnSpec::new("ref_key", ColumnKind::RefKey, false).with_aliases(&["reference_key", "ref_no"])
}

impl DataSpec {
    /// The spec an upload's file is read with: a scheme spec as declared, plus the columns
    /// every scheme takes without declaring them. Today that is [`ref_key_column`], so that
    /// an incremental row can name its record by the reference key of the mapping instead of
    /// the record key. Nothing is added when the spec has a reference-key column of its own,
    /// and an alias (or the name) that one of the spec's columns already answers to is left
    /// out, so the department's columns always win. The stored spec is not changed.
    pub fn with_implicit_columns(mut self) -> DataSpec {
        if self.columns.iter().any(|c| c.kind == ColumnKind::RefKey) {
            return self;
        }
        let taken: std::collections::HashSet<String> = self
            .columns
            .iter()
            .flat_map(|c| std::iter::once(&c.name).chain(&c.aliases))
            .map(|n| normalise_header(n))
            .collect();
        let mut column = ref_key_column();
        if taken.contains(&normalise_header(&column.name)) {
            return self;
        }
        column
            .aliases
            .retain(|a| !taken.contains(&normalise_header(a)));
        self.columns.push(column);
        self
    }
}

/// A commented example of a scheme spec (an old-age pension), for documentation, the API's
/// examples and `sangam` help. It parses and validates.
pub fn example_scheme_spec_toml() -> &'static str {
    EXAMPLE_SCHEME_SPEC
}

const EXAMPLE_SCHEME_SPEC: &str = r#"# Data spec of a welfare scheme: an old-age pension.
#
# Headers in the department's file are matched ignoring case, spaces, '_', '-', '.' and '/',
# so "Beneficiary ID" matches beneficiary_id; aliases list other accepted names.

dataset = "old_age_pension"          # a-z, 0-9 and _, 2 to 64 characters
version = 1                          # raise it when the columns or rules change
title = "Indira Gandhi National Old Age Pension: beneficiaries"
record_key = "beneficiary_id"        # the department's own id for each record
update_frequency_days = 30           # the dataset is overdue after 30 days without an upload
# Schemes whose beneficiaries may not also draw this one (either side may name the other;
# a name not declared yet is accepted and shown in the conflict report).
exclusive_with = ["widow_pension"]
one_per_household = false            # true: at most one member of a ration card

# Incremental uploads carry an operation per row (add, modify, delete; A/M/D also work).
# A delete row needs only the record key. Full uploads may leave the column out.
# Every scheme also takes an optional `ref_key` column without declaring it (aliases
# reference_key, ref_no): a modify or delete row may name its record by the reference key
# the hub handed back in an earlier upload's mapping instead of by the record key.
[[columns]]
name = "operation"
aliases = ["op", "action"]
kind = "operation"

[[columns]]
name = "beneficiary_id"
aliases = ["pension_id", "beneficiary_no"]
kind = "text"                        # text, not integer, so leading zeros are kept
required = true
max_length = 32

[[columns]]
name = "aadhaar"
aliases = ["aadhaar_no", "uid", "id_number"]
kind = "id_number"                   # goes to the vault; the hub keeps a reference key
required = true

[[columns]]
name = "consent_ref"
aliases = ["consent_form_no"]
kind = "consent_ref"

[[columns]]
name = "name"
aliases = ["beneficiary_name", "pensioner_name"]
kind = "person_name"
required = true

[[columns]]
name = "dob"
aliases = ["date_of_birth", "age"]
kind = "dob"                         # DD-MM-YYYY, DD/MM/YYYY, YYYY-MM-DD, a year, or an age
required = true

[[columns]]
name = "gender"
aliases = ["sex"]
kind = "gender"
required = true

[[columns]]
name = "village_code"
aliases = ["lgd_village_code"]
kind = "village_code"
required = true
code_list = "villages"               # checked against the LGD directory when one is loaded

[[columns]]
name = "bank_account"
aliases = ["account_no", "bank_account_no"]
kind = "bank_account"                # 9 to 18 digits; never shown in full
required = true

[[columns]]
name = "ifsc"
aliases = ["ifsc_code"]
kind = "ifsc"
required = true

[[columns]]
name = "pension_amount"
aliases = ["amount", "monthly_amount"]
kind = "decimal"
required = true
min = 0
max = 100000

# Eligibility: a row that fails is rejected with the code rule.<name> and this message.
[[rules]]
name = "old_age"
check = "age_at_least"               # also: age_at_most, equals, one_of, not_empty
column = "dob"
years = 60
message = "an old-age pension beneficiary must be 60 years old or more"
"#;
