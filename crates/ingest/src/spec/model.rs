//! The data spec model: what a dataset's file must contain, declared as data.
//!
//! Scheme specs are written by administrators and departments (TOML or JSON, through the API
//! or a file), so the model is plain serde data with defaults for everything optional, and
//! unknown keys are refused: a misspelt `requried = true` must fail loudly rather than leave a
//! column silently optional. Whether the declared spec makes sense as a whole is checked by
//! [`DataSpec::validate`] (see `verify.rs`), which parsing calls before returning.

use serde::{Deserialize, Serialize};

/// A dataset's data spec: its columns, their types and constraints, and eligibility rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Dataset name, `[a-z0-9_]{2,64}`; the built-in base registry is `base`.
    pub dataset: String,
    /// Version of this spec; uploads record the version they were validated against.
    pub version: u32,
    /// Human title, shown on the dashboard.
    pub title: String,
    /// The department's own record key column (required for scheme specs): incremental rows
    /// and the reference-key mapping are keyed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_key: Option<String>,
    /// The columns, in the order values appear in a [`super::ValidRow`].
    pub columns: Vec<ColumnSpec>,
    /// Cross-field eligibility rules, checked after every field has passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<EligibilityRule>,
    /// How often the department is expected to refresh this dataset, for the overdue list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_frequency_days: Option<u32>,
    /// Datasets whose beneficiaries may not also be beneficiaries of this one (schemes that
    /// exclude each other, e.g. two pensions). The relation is symmetric when conflicts are
    /// reported: naming it on either side is enough. A name that is not (yet) a dataset is
    /// accepted, so that two schemes can name each other whichever is declared first; the
    /// conflict report lists such names so that a misspelling is seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusive_with: Vec<String>,
    /// At most one member of a household (one ration card) may be a beneficiary.
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_per_household: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One column of a data spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The canonical column name, `[a-z][a-z0-9_]{0,63}`; reports and errors use it.
    pub name: String,
    /// Other headers accepted for this column. Matching ignores case, spaces, `_`, `-`, `.`
    /// and `/`, so aliases need not list those variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The column's type, which decides how a cell is parsed.
    pub kind: ColumnKind,
    /// Whether every row must have a value (and every file the column).
    #[serde(default)]
    pub required: bool,
    /// Code list the value must be in, when that list is loaded. A `village_code` column is
    /// checked against villages, a `scheme_code` column against schemes and an `ifsc` column
    /// against the bank branches even when this is left out; declaring it just makes the spec
    /// say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_list: Option<CodeListRef>,
    /// Smallest allowed value (integer and decimal columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value (integer and decimal columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Longest allowed cell, in characters after surrounding spaces are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The only values accepted. Compared after parsing with the column's kind (so `SELF`
    /// and `HEAD` are one relationship); text compares ignoring ASCII case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// A code list a column can be checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeListRef {
    /// The LGD village directory.
    Villages,
    /// The list of welfare scheme codes.
    Schemes,
    /// The directory of bank branches (IFSC).
    Ifsc,
}

/// How a column's cells are parsed and what value they become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// The 12-digit national ID number (Verhoeff-checked); goes to the vault.
    IdNumber,
    /// Consent form number or e-consent id for the ID number.
    ConsentRef,
    /// A person's name, any script.
    PersonName,
    /// Date of birth: full date, year only, or declared age.
    Dob,
    /// `F`, `M` or `T` and their spellings.
    Gender,
    /// Relationship to the head of household.
    Relationship,
    /// Ration card number.
    RationCard,
    /// Ration card type (AAY, PHH, NPHH or a state code).
    CardType,
    /// 10-digit Indian mobile number.
    Mobile,
    /// LGD village code.
    VillageCode,
    /// LGD district code.
    DistrictCode,
    /// LGD sub-district code.
    SubDistrictCode,
    /// LGD state code.
    StateCode,
    /// Six-digit postal PIN code, first digit 1-9.
    Pincode,
    /// Bank branch IFSC.
    Ifsc,
    /// Bank account number, 9 to 18 digits; sensitive like a mobile number.
    BankAccount,
    /// Welfare scheme code.
    SchemeCode,
    /// Alive, deceased or migrated.
    LifeStatus,
    /// Free text.
    Text,
    /// Whole number.
    Integer,
    /// Decimal number.
    Decimal,
    /// A full calendar date, in the same formats as a date of birth.
    Date,
    /// yes/no, y/n, true/false, 1/0.
    Boolean,
    /// add, modify or delete (A/M/D, insert/update/remove), for incremental uploads.
    Operation,
    /// A reference key the hub handed out in an upload's mapping: names a resident without
    /// the ID number it stands for.
    RefKey,
}

impl ColumnKind {
    /// The name used in specs, e.g. `id_number`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdNumber => "id_number",
            Self::ConsentRef => "consent_ref",
            Self::PersonName => "person_name",
            Self::Dob => "dob",
            Self::Gender => "gender",
            Self::Relationship => "relationship",
            Self::RationCard => "ration_card",
            Self::CardType => "card_type",
            Self::Mobile => "mobile",
            Self::VillageCode => "village_code",
            Self::DistrictCode => "district_code",
            Self::SubDistrictCode => "sub_district_code",
            Self::StateCode => "state_code",
            Self::Pincode => "pincode",
            Self::Ifsc => "ifsc",
            Self::BankAccount => "bank_account",
            Self::SchemeCode => "scheme_code",
            Self::LifeStatus => "life_status",
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Date => "date",
            Self::Boolean => "boolean",
            Self::Operation => "operation",
            Self::RefKey => "ref_key",
        }
    }

    /// Whether values of this kind identify a person on their own and must never be shown,
    /// logged or used as a department's record key.
    pub fn is_sensitive(self) -> bool {
        matches!(self, Self::IdNumber | Self::Mobile | Self::BankAccount)
    }

    /// The code list a column of this kind is checked against when one is loaded.
    pub fn default_code_list(self) -> Option<CodeListRef> {
        match self {
            Self::VillageCode => Some(CodeListRef::Villages),
            Self::SchemeCode => Some(CodeListRef::Schemes),
            Self::Ifsc => Some(CodeListRef::Ifsc),
            _ => None,
        }
    }
}

/// A cross-field eligibility rule, e.g. "age at least 60" for an old-age pension.
///
/// In TOML: `[[rules]] name = "old_age" check = "age_at_least" column = "dob" years = 60
/// message = "..."`. A failing row is rejected with the code `rule.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityRule {
    /// `[a-z0-9_]{1,64}`, unique within the spec; the rejection code is `rule.<name>`.
    pub name: String,
    /// What the department reads when a row fails the rule. Written by the spec's author,
    /// so it never carries a row's value.
    pub message: String,
    /// What is checked.
    #[serde(flatten)]
    pub condition: Condition,
}

/// What an eligibility rule checks. A rule on an empty optional cell passes (except
/// `not_empty`), because emptiness is the `required` flag's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Age in whole years today is at least `years` (column of kind `dob` or `date`).
    AgeAtLeast { column: String, years: u32 },
    /// Age in whole years today is at most `years` (column of kind `dob` or `date`).
    AgeAtMost { column: String, years: u32 },
    /// The value equals `value`, compared as the column's kind.
    Equals { column: String, value: String },
    /// The value is one of `values`, compared as the column's kind.
    OneOf { column: String, values: Vec<String> },
    /// The cell is not empty.
    NotEmpty { column: String },
}

impl Condition {
    /// The column the condition looks at.
    pub fn column(&self) -> &str {
        match self {
            Self::AgeAtLeast { column, .. }
            | Self::AgeAtMost { column, .. }
            | Self::Equals { column, .. }
            | Self::OneOf { column, .. }
            | Self::NotEmpty { column } => column,
        }
    }

    /// The `check` name, e.g. `age_at_least`.
    pub fn check_name(&self) -> &'static str {
        match self {
            Self::AgeAtLeast { .. } => "age_at_least",
            Self::AgeAtMost { .. } => "age_at_most",
            Self::Equals { .. } => "equals",
            Self::OneOf { .. } => "one_of",
            Self::NotEmpty { .. } => "not_empty",
        }
    }
}

/// Why a data spec could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The text is not valid TOML or does not have the spec's shape. The message comes from
    /// the parser and names the line, column and key.
    #[error("the data spec is not valid TOML for a data spec: {message}")]
    Toml { message: String },
    /// The text is not valid JSON or does not have the spec's shape.
    #[error("the data spec is not valid JSON for a data spec: {message}")]
    Json { message: String },
    /// The spec parses but does not make sense; every problem found is listed.
    #[error("the data spec has {} problem(s): {}", problems.len(), join_problems(problems))]
    Invalid { problems: Vec<SpecProblem> },
}

impl SpecError {
    /// The problems of an [`SpecError::Invalid`] spec (empty for parse errors).
    pub fn problems(&self) -> &[SpecProblem] {
        match self {
            Self::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

/// One thing wrong with a spec: where (`columns[2].aliases`, `rules[0].column`,
/// `record_key`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecProblem {
    pub path: String,
    pub message: String,
}

fn join_problems(problems: &[SpecProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl DataSpec {
    /// Parses a spec from TOML and checks it with [`DataSpec::validate`].
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec: Self = toml::from_str(text).map_err(|e| SpecError::Toml {
            message: e.to_string().trim_end().to_owned(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses a spec from JSON and checks it with [`DataSpec::validate`].
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let spec: Self = serde_json::from_str(text).map_err(|e| SpecError::Json {
            message: e.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as pretty TOML (for the API and `sangam` to show a stored spec).
    pub fn to_toml(&self) -> Result<String, SpecError> {
        toml::to_string_pretty(self).map_err(|e| SpecError::Toml {
            message: e.to_string(),
        })
    }

    /// The spec as JSON.
    pub fn to_json(&self) -> Result<String, SpecError> {
        serde_json::to_string_pretty(self).map_err(|e| SpecError::Json {
            message: e.to_string(),
        })
    }

    /// Position of the column named `name` (canonical name, exact).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl ColumnSpec {
    /// A column with no constraints beyond its kind; handy for building specs in code.
    pub fn new(name: &str, kind: ColumnKind, required: bool) -> Self {
        Self {
            name: name.to_owned(),
            aliases: Vec::new(),
            kind,
            required,
            code_list: None,
            min: None,
            max: None,
            max_length: None,
            allowed: None,
        }
    }

    /// Adds aliases.
    pub fn with_aliases(mut self, aliases: &[&str]) -> Self {
        self.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The code list this column is checked against when loaded: the declared one, or the
    /// kind's default.
    pub fn effective_code_list(&self) -> Option<CodeListRef> {
        self.code_list.or(self.kind.default_code_list())
    }
}
