//! Row validation: one raw record in, a typed row or every problem of the row out.
//!
//! This is the hot path of million-row uploads, so everything that depends only on the spec
//! and the header (file positions, parsed `allowed` lists and rule values, rule codes) is
//! worked out once in [`Validator::new`]; per row the work is one pass over the columns by
//! index, the domain parsers, and allocations only for the values kept and for problems.
//!
//! All problems of a row are reported, not just the first, so that a department fixes a row
//! once. Problem messages name the column and the rule, never the cell's value: the value may
//! be an ID or phone number, and messages go into reports, logs and dashboards.

use std::sync::Arc;

use chrono::NaiveDate;
use sangam_domain::{IfscDirectory, LgdDirectory, SchemeCodeList, ValidationError};

use super::cell::{parse_cell, whole_years_between};
use super::header::HeaderMap;
use super::model::{CodeListRef, ColumnKind, Condition, DataSpec, SpecError, SpecProblem};
use super::value::{Operation, RowSchema, ValidRow, Value};
use crate::RawRecord;

/// One thing wrong with one cell (or, for rules, one column) of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The spec's name for the column.
    pub column: String,
    /// Stable code, e.g. `id_number.checksum`, `field.missing`, `rule.old_age`.
    pub code: String,
    /// Plain explanation naming the column; never contains the cell's value.
    pub message: String,
}

/// The code lists the hub has loaded, which codes are checked against; a list not loaded
/// (`None`) leaves only the code's format checked.
#[derive(Clone, Default)]
pub struct CodeLists {
    pub villages: Option<Arc<LgdDirectory>>,
    pub schemes: Option<Arc<SchemeCodeList>>,
    pub ifsc: Option<Arc<IfscDirectory>>,
}

impl std::fmt::Debug for CodeLists {
    /// The sizes only: a list can hold hundreds of thousands of villages or branches.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeLists")
            .field("villages", &self.villages.as_ref().map(|v| v.len()))
            .field("schemes", &self.schemes.as_ref().map(|s| s.len()))
            .field("ifsc", &self.ifsc.as_ref().map(|b| b.len()))
            .finish()
    }
}

/// Validates the rows of one file against one spec.
pub struct Validator {
    spec: Arc<DataSpec>,
    header_map: HeaderMap,
    today: NaiveDate,
    code_lists: CodeLists,
    columns: Vec<Column>,
    rules: Vec<Rule>,
    schema: Arc<RowSchema>,
}

/// A spec column with everything the per-row loop needs, resolved once.
#[derive(Debug)]
struct Column {
    name: String,
    kind: ColumnKind,
    required: bool,
    /// Required even on a delete row: the record key (and the operation itself).
    needed_for_delete: bool,
    /// The record key, whose cell a row may leave empty when it names its record by a
    /// reference key instead (whether that is enough is the upload's business: an `add` or
    /// a full upload still needs the record key).
    is_record_key: bool,
    position: Option<usize>,
    min: Option<f64>,
    max: Option<f64>,
    max_length: Option<usize>,
    allowed: Option<Vec<Value>>,
    code_list: Option<CodeListRef>,
    /// `field.missing` message, built once.
    missing_message: String,
}

#[derive(Debug)]
struct Rule {
    column: usize,
    code: String,
    message: String,
    check: Check,
}

#[derive(Debug)]
enum Check {
    AgeAtLeast(u32),
    AgeAtMost(u32),
    OneOf(Vec<Value>),
    NotEmpty,
}

impl Validator {
    /// Prepares validation of a file whose header gave `header_map` (from
    /// [`super::match_header`] with the same spec). `today` is the day uploaded dates are
    /// judged against; code lists are checked when given, otherwise only codes' formats.
    ///
    /// Fails if the spec does not pass [`DataSpec::validate`] or the header map was made for
    /// a spec with a different number of columns.
    pub fn new(
        spec: impl Into<Arc<DataSpec>>,
        header_map: HeaderMap,
        today: NaiveDate,
        code_lists: CodeLists,
    ) -> Result<Self, SpecError> {
        let spec: Arc<DataSpec> = spec.into();
        spec.validate()?;
        if header_map.positions().len() != spec.columns.len() {
            return Err(SpecError::Invalid {
                problems: vec![SpecProblem {
                    path: "columns".into(),
                    message: "the header map was made for a different spec (column counts differ)"
                        .into(),
                }],
            });
        }
        let index_of = |name: &str| spec.column_index(name);
        let record_key = spec.record_key.as_deref().and_then(index_of);
        let kind_index = |kind| spec.columns.iter().position(|c| c.kind == kind);
        let operation = kind_index(ColumnKind::Operation);
        let ref_key = kind_index(ColumnKind::RefKey);

        let parse_list = |kind, values: &[String]| -> Result<Vec<Value>, SpecError> {
            values
                .iter()
                .map(|v| parse_cell(kind, v.trim(), today))
                .collect::<Result<_, ValidationError>>()
                // `validate` has already checked every listed value; this is a backstop.
                .map_err(|e| SpecError::Invalid {
                    problems: vec![SpecProblem {
                        path: "values".into(),
                        message: e.message,
                    }],
                })
        };

        let mut columns = Vec::with_capacity(spec.columns.len());
        for (i, c) in spec.columns.iter().enumerate() {
            columns.push(Column {
                name: c.name.clone(),
                kind: c.kind,
                required: c.required,
                needed_for_delete: Some(i) == record_key || Some(i) == operation,
                is_record_key: Some(i) == record_key,
                position: header_map.position(i),
                min: c.min,
                max: c.max,
                max_length: c.max_length,
                allowed: c
                    .allowed
                    .as_deref()
                    .map(|a| parse_list(c.kind, a))
                    .transpose()?,
                code_list: c.effective_code_list(),
                missing_message: format!("column `{}` is required but the cell is empty", c.name),
            });
        }

        let mut rules = Vec::with_capacity(spec.rules.len());
        for r in &spec.rules {
            let Some(column) = index_of(r.condition.column()) else {
                continue; // unreachable after validate(); never panic on it
            };
            let kind = spec
                .columns
                .get(column)
                .map_or(ColumnKind::Text, |c| c.kind);
            let check = match &r.condition {
                Condition::AgeAtLeast { years, .. } => Check::AgeAtLeast(*years),
                Condition::AgeAtMost { years, .. } => Check::AgeAtMost(*years),
                Condition::Equals { value, .. } => {
                    Check::OneOf(parse_list(kind, std::slice::from_ref(value))?)
                }
                Condition::OneOf { values, .. } => Check::OneOf(parse_list(kind, values)?),
                Condition::NotEmpty { .. } => Check::NotEmpty,
            };
            rules.push(Rule {
                column,
                code: format!("rule.{}", r.name),
                message: format!("column `{}`: {}", r.condition.column(), r.message.trim()),
                check,
            });
        }

        let schema = Arc::new(RowSchema {
            names: spec.columns.iter().map(|c| c.name.clone()).collect(),
            id_number: kind_index(ColumnKind::IdNumber),
            consent_ref: kind_index(ColumnKind::ConsentRef),
            record_key,
            operation,
            ref_key,
        });
        Ok(Self {
            spec,
            header_map,
            today,
            code_lists,
            columns,
            rules,
            schema,
        })
    }

    /// The spec rows are validated against.
    pub fn spec(&self) -> &DataSpec {
        &self.spec
    }

    /// The file's header map.
    pub fn header_map(&self) -> &HeaderMap {
        &self.header_map
    }

    /// The day dates are judged against.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// Validates one record: every cell, then the eligibility rules. Returns the typed row,
    /// or every problem found. Never panics, whatever the record holds.
    ///
    /// Cells are trimmed; an empty cell is `field.missing` for a required column and
    /// [`Value::Empty`] otherwise, as is a column the file lacks. A record shorter than the
    /// header has its missing cells treated as empty. On a row whose operation is `delete`
    /// only the record key is required (other cells are still checked if given) and rules
    /// are skipped, since the department is removing the record, not describing it. A row
    /// that carries a reference key may leave the record key empty: the key names the record.
    pub fn validate(&self, record: &RawRecord) -> Result<ValidRow, Vec<FieldProblem>> {
        let mut values = Vec::with_capacity(self.columns.len());
        let mut problems: Vec<FieldProblem> = Vec::new();
        let deleting = self.is_delete(record);
        let keyed_by_ref_key = self.cell_of(self.schema.ref_key, record).is_some();

        for col in &self.columns {
            let raw = col
                .position
                .and_then(|p| record.fields.get(p))
                .map_or("", |s| s.trim());
            if raw.is_empty() {
                let needed = (!deleting || col.needed_for_delete)
                    && !(col.is_record_key && keyed_by_ref_key);
                if col.required && needed {
                    problems.push(FieldProblem {
                        column: col.name.clone(),
                        code: "field.missing".into(),
                        message: col.missing_message.clone(),
                    });
                }
                values.push(Value::Empty);
                continue;
            }
            match self.check_cell(col, raw) {
                Ok(v) => values.push(v),
                Err(e) => {
                    problems.push(problem(&col.name, e));
                    values.push(Value::Empty);
                }
            }
        }

        if !deleting {
            for rule in &self.rules {
                let Some(col) = self.columns.get(rule.column) else {
                    continue;
                };
                // A column that already failed its own check says nothing about the rule.
                if !problems.is_empty() && problems.iter().any(|p| p.column == col.name) {
                    continue;
                }
                let value = values.get(rule.column).unwrap_or(&Value::Empty);
                if !self.rule_holds(&rule.check, value) {
                    problems.push(FieldProblem {
                        column: col.name.clone(),
                        code: rule.code.clone(),
                        message: rule.message.clone(),
                    });
                }
            }
        }

        if problems.is_empty() {
            Ok(ValidRow {
                line: record.line,
                values,
                schema: Arc::clone(&self.schema),
            })
        } else {
            Err(problems)
        }
    }

    /// Whether the record's operation cell says delete (read ahead of the other cells,
    /// because it changes which cells are required).
    fn is_delete(&self, record: &RawRecord) -> bool {
        self.cell_of(self.schema.operation, record)
            .is_some_and(|s| Operation::parse(s).ok() == Some(Operation::Delete))
    }

    /// The trimmed, non-empty cell of the spec column at `index`, read ahead of validation.
    /// The record key a record's cell gives (trimmed; `None` if empty or absent), whether or
    /// not the row is valid: a full upload keeps the held record that a refused row names,
    /// rather than remove it as left out of the file.
    pub fn record_key_cell<'r>(&self, record: &'r RawRecord) -> Option<&'r str> {
        self.cell_of(self.schema.record_key, record)
    }

    fn cell_of<'r>(&self, index: Option<usize>, record: &'r RawRecord) -> Option<&'r str> {
        index
            .and_then(|i| self.columns.get(i))
            .and_then(|c| c.position)
            .and_then(|p| record.fields.get(p))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// Parses a non-empty, trimmed cell and applies the column's constraints.
    fn check_cell(&self, col: &Column, raw: &str) -> Result<Value, ValidationError> {
        if let Some(limit) = col.max_length
            // Byte length bounds character count from above, so most cells skip the count.
            && raw.len() > limit
            && raw.chars().count() > limit
        {
            return Err(ValidationError::new(
                "value.too_long",
                format!("the value may be at most {limit} characters long"),
            ));
        }
        let value = parse_cell(col.kind, raw, self.today)?;
        let number = match value {
            Value::Integer(n) => Some(n as f64),
            Value::Decimal(x) => Some(x),
            _ => None,
        };
        if let Some(n) = number {
            if let Some(min) = col.min
                && n < min
            {
                return Err(ValidationError::new(
                    "value.below_min",
                    format!("the value must be at least {min}"),
                ));
            }
            if let Some(max) = col.max
                && n > max
            {
                return Err(ValidationError::new(
                    "value.above_max",
                    format!("the value must be at most {max}"),
                ));
            }
        }
        if let Some(allowed) = &col.allowed
            && !allowed.iter().any(|a| a.matches(&value))
        {
            let list = self
                .spec
                .column(&col.name)
                .and_then(|c| c.allowed.as_ref())
                .map(|a| a.join(", "))
                .unwrap_or_default();
            return Err(ValidationError::new(
                "value.not_allowed",
                format!("the value must be one of: {list}"),
            ));
        }
        match (&value, col.code_list) {
            (Value::VillageCode(code), Some(CodeListRef::Villages)) => {
                if let Some(dir) = &self.code_lists.villages {
                    dir.check_village(code)?;
                }
            }
            (Value::SchemeCode(code), Some(CodeListRef::Schemes)) => {
                if let Some(list) = &self.code_lists.schemes {
                    list.check_scheme(code)?;
                }
            }
            (Value::Ifsc(code), Some(CodeListRef::Ifsc)) => {
                if let Some(dir) = &self.code_lists.ifsc {
                    dir.check_ifsc(code)?;
                }
            }
            _ => {}
        }
        Ok(value)
    }

    fn rule_holds(&self, check: &Check, value: &Value) -> bool {
        if value.is_empty() {
            return !matches!(check, Check::NotEmpty);
        }
        let age = || match value {
            Value::Dob(dob) => dob.age_on(self.today),
            Value::Date(date) => whole_years_between(*date, self.today),
            _ => None,
        };
        match check {
            Check::AgeAtLeast(years) => age().is_some_and(|a| a >= *years),
            // Not yet born (a date after today) is under any maximum age.
            Check::AgeAtMost(years) => age().is_none_or(|a| a <= *years),
            Check::OneOf(values) => values.iter().any(|v| v.matches(value)),
            Check::NotEmpty => true,
        }
    }
}

impl std::fmt::Debug for Validator {
    /// A summary: the code lists can hold hundreds of thousands of entries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("dataset", &self.spec.dataset)
            .field("version", &self.spec.version)
            .field("today", &self.today)
            .field("code_lists", &self.code_lists)
            .field("header_map", &self.header_map)
            .finish_non_exhaustive()
    }
}

fn problem(column: &str, e: ValidationError) -> FieldProblem {
    FieldProblem {
        column: column.to_owned(),
        code: e.code.to_owned(),
        message: format!("column `{column}`: {}", e.message),
    }
}
