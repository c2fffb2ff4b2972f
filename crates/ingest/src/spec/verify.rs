//! Checking that a data spec makes sense as a whole before any file is validated against it.
//!
//! Specs are written by people, often by copying another one, so every problem is collected
//! (not just the first) and each names where it is (`columns[3].aliases`) and what to do.
//! The header matching and the row validator rely on what is checked here: names that
//! normalise apart, a record key that exists, rules whose values parse.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::cell::parse_cell;
use super::header::normalise_header;
use super::model::{ColumnKind, Condition, DataSpec, SpecError, SpecProblem};

/// Kinds of which a spec may have at most one column, because a row links to one person
/// (ID number and its consent, or a reference key) and carries one operation.
const SINGLE_KINDS: [ColumnKind; 4] = [
    ColumnKind::IdNumber,
    ColumnKind::ConsentRef,
    ColumnKind::Operation,
    ColumnKind::RefKey,
];

/// Kinds a record key may have: text-like values that are not sensitive. Numeric ids belong
/// in a `text` column so that leading zeros survive.
const KEY_KINDS: [ColumnKind; 3] = [
    ColumnKind::Text,
    ColumnKind::RationCard,
    ColumnKind::ConsentRef,
];

impl DataSpec {
    /// Checks the spec as a whole; every problem found is listed in the error.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| {
            problems.push(SpecProblem { path, message });
        };

        if !is_identifier(&self.dataset, 2, false) {
            problem(
                "dataset".into(),
                "the dataset name must be 2 to 64 characters of a-z, 0-9 and _".into(),
            );
        }
        if self.version == 0 {
            problem("version".into(), "the version must be 1 or more".into());
        }
        if self.title.trim().is_empty() {
            problem("title".into(), "a title is required".into());
        }
        if self.update_frequency_days == Some(0) {
            problem(
                "update_frequency_days".into(),
                "the update frequency must be at least 1 day (leave it out if there is none)"
                    .into(),
            );
        }
        if self.columns.is_empty() {
            problem("columns".into(), "a spec needs at least one column".into());
        }

        // Every name and alias, normalised as headers are, must point at one column only;
        // otherwise a file header could match two columns.
        let mut seen: HashMap<String, (usize, String)> = HashMap::new();
        let mut canonical: HashMap<&str, usize> = HashMap::new();
        for (i, col) in self.columns.iter().enumerate() {
            let at = |field: &str| format!("columns[{i}].{field}");
            if !is_identifier(&col.name, 1, true) {
                problem(
                    at("name"),
                    format!(
                        "column name `{}` must start with a letter and have at most 64 characters of a-z, 0-9 and _",
                        col.name
                    ),
                );
            }
            if let Some(&first) = canonical.get(col.name.as_str()) {
                problem(
                    at("name"),
                    format!(
                        "column name `{}` is used twice (also columns[{first}])",
                        col.name
                    ),
                );
                continue;
            }
            canonical.insert(&col.name, i);
            let names = std::iter::once((at("name"), &col.name)).chain(
                col.aliases
                    .iter()
                    .enumerate()
                    .map(|(j, a)| (format!("columns[{i}].aliases[{j}]"), a)),
            );
            for (path, text) in names {
                let key = normalise_header(text);
                if key.is_empty() {
                    problem(
                        path,
                        "a name or alias must contain a letter or digit (spaces, _, -, . and / are ignored when matching)".into(),
                    );
                    continue;
                }
                match seen.get(&key) {
                    Some((other, other_text)) if *other != i => problem(
                        path,
                        format!(
                            "`{text}` matches the same headers as `{other_text}` of column `{}`; a header must map to one column only",
                            self.columns.get(*other).map_or("", |c| c.name.as_str())
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        seen.insert(key, (i, text.clone()));
                    }
                }
            }

            let numeric = matches!(col.kind, ColumnKind::Integer | ColumnKind::Decimal);
            for (field, bound) in [("min", col.min), ("max", col.max)] {
                match bound {
                    Some(_) if !numeric => problem(
                        at(field),
                        format!(
                            "`{field}` applies only to integer and decimal columns, not {}",
                            col.kind.as_str()
                        ),
                    ),
                    Some(v) if !v.is_finite() => {
                        problem(at(field), format!("`{field}` must be a finite number"))
                    }
                    _ => {}
                }
            }
            if let (Some(min), Some(max)) = (col.min, col.max)
                && min > max
            {
                problem(at("min"), "`min` is larger than `max`".into());
            }
            if col.max_length == Some(0) {
                problem(
                    at("max_length"),
                    "`max_length` must be at least 1 (leave it out for no limit)".into(),
                );
            }
            if let Some(list) = col.code_list
                && col.kind.default_code_list() != Some(list)
            {
                problem(
                    at("code_list"),
                    format!(
                        "a {} column cannot be checked against that code list (villages go with village_code columns, schemes with scheme_code columns, ifsc with ifsc columns)",
                        col.kind.as_str()
                    ),
                );
            }
            if let Some(allowed) = &col.allowed {
                if allowed.is_empty() {
                    problem(
                        at("allowed"),
                        "`allowed` must list at least one value (leave it out for no restriction)"
                            .into(),
                    );
                }
                for (j, v) in allowed.iter().enumerate() {
                    if let Err(why) = check_literal(col.kind, v) {
                        problem(format!("columns[{i}].allowed[{j}]"), why);
                    }
                }
            }
        }

        for kind in SINGLE_KINDS {
            let cols: Vec<&str> = self
                .columns
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.name.as_str())
                .collect();
            if cols.len() > 1 {
                problem(
                    "columns".into(),
                    format!(
                        "at most one column may be of kind {}, found {}: a row links to one person and carries one operation",
                        kind.as_str(),
                        cols.join(", ")
                    ),
                );
            }
        }

        match &self.record_key {
            Some(key) => match self.column(key) {
                None => problem(
                    "record_key".into(),
                    format!("record_key `{key}` is not the name of a column of this spec"),
                ),
                Some(col) => {
                    if !KEY_KINDS.contains(&col.kind) {
                        problem(
                            "record_key".into(),
                            format!(
                                "record key column `{key}` is of kind {}; a record key must be text, ration_card or consent_ref (declare numeric ids as text so leading zeros are kept; ID, mobile and bank numbers are never keys)",
                                col.kind.as_str()
                            ),
                        );
                    }
                    if !col.required {
                        problem(
                            "record_key".into(),
                            format!(
                                "record key column `{key}` must be required: every row needs its key"
                            ),
                        );
                    }
                }
            },
            None if self.dataset != super::builtin::BASE_DATASET => problem(
                "record_key".into(),
                "a scheme spec must name its record_key: the department's own id for each record, used by incremental uploads and the reference-key mapping".into(),
            ),
            None => {}
        }

        let mut rule_names: HashMap<&str, usize> = HashMap::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("rules[{i}].{field}");
            if !is_identifier(&rule.name, 1, false) {
                problem(
                    at("name"),
                    format!(
                        "rule name `{}` must be 1 to 64 characters of a-z, 0-9 and _ (it becomes the code rule.<name>)",
                        rule.name
                    ),
                );
            } else if let Some(first) = rule_names.insert(&rule.name, i) {
                problem(
                    at("name"),
                    format!(
                        "rule name `{}` is used twice (also rules[{first}])",
                        rule.name
                    ),
                );
            }
            if rule.message.trim().is_empty() {
                problem(
                    at("message"),
                    "a rule needs a message telling the department why the row is not eligible"
                        .into(),
                );
            }
            let column = rule.condition.column();
            let Some(col) = self.column(column) else {
                problem(
                    at("column"),
                    format!(
                        "rule `{}` refers to column `{column}`, which this spec does not have",
                        rule.name
                    ),
                );
                continue;
            };
            match &rule.condition {
                Condition::AgeAtLeast { years, .. } | Condition::AgeAtMost { years, .. } => {
                    if !matches!(col.kind, ColumnKind::Dob | ColumnKind::Date) {
                        problem(
                            at("column"),
                            format!(
                                "{} needs a dob or date column; `{column}` is {}",
                                rule.condition.check_name(),
                                col.kind.as_str()
                            ),
                        );
                    }
                    if *years > sangam_domain::dob::MAX_AGE_YEARS {
                        problem(
                            at("years"),
                            format!(
                                "years must be at most {}",
                                sangam_domain::dob::MAX_AGE_YEARS
                            ),
                        );
                    }
                }
                Condition::Equals { value, .. } => {
                    if let Err(why) = check_literal(col.kind, value) {
                        problem(at("value"), why);
                    }
                }
                Condition::OneOf { values, .. } => {
                    if values.is_empty() {
                        problem(at("values"), "one_of needs at least one value".into());
                    }
                    for (j, v) in values.iter().enumerate() {
                        if let Err(why) = check_literal(col.kind, v) {
                            problem(format!("rules[{i}].values[{j}]"), why);
                        }
                    }
                }
                Condition::NotEmpty { .. } => {}
            }
        }

        let is_base = self.dataset == super::builtin::BASE_DATASET;
        let mut excluded: HashMap<&str, usize> = HashMap::new();
        for (i, name) in self.exclusive_with.iter().enumerate() {
            let at = format!("exclusive_with[{i}]");
            if is_base {
                problem(
                    at,
                    "the base registry holds every resident; only schemes exclude one another"
                        .into(),
                );
                break;
            }
            if !is_identifier(name, 2, false) {
                problem(
                    at,
                    format!(
                        "`{name}` is not a dataset name (2 to 64 characters of a-z, 0-9 and _)"
                    ),
                );
            } else if name == &self.dataset {
                problem(
                    at,
                    format!(
                        "a scheme cannot exclude itself; a person enrolled twice in `{name}` is \
                         reported as a duplicate anyway"
                    ),
                );
            } else if name == super::builtin::BASE_DATASET {
                problem(
                    at,
                    "`base` is the base registry, which holds every resident; name schemes only"
                        .into(),
                );
            } else if let Some(first) = excluded.insert(name, i) {
                problem(
                    at,
                    format!("`{name}` is listed twice (also exclusive_with[{first}])"),
                );
            }
        }
        if is_base && self.one_per_household {
            problem(
                "one_per_household".into(),
                "the base registry lists every member of a household; only a scheme can be \
                 limited to one"
                    .into(),
            );
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid { problems })
        }
    }
}

/// Checks that a value written in the spec (an `allowed` entry or a rule's value) is valid
/// for the column's kind, so that comparisons at validation time are between typed values.
fn check_literal(kind: ColumnKind, value: &str) -> Result<(), String> {
    if matches!(kind, ColumnKind::Dob) || kind.is_sensitive() {
        // A date of birth compares by age (use age rules); sensitive numbers must not be
        // written into a spec that administrators and departments read.
        return Err(format!(
            "values cannot be listed for a {} column",
            kind.as_str()
        ));
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("a listed value cannot be empty".into());
    }
    // The day only matters for dates of birth, which are refused above.
    let any_day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    parse_cell(kind, trimmed, any_day).map(|_| ()).map_err(|e| {
        format!(
            "`{value}` is not a valid {} value ({}): {}",
            kind.as_str(),
            e.code,
            e.message
        )
    })
}

/// `[a-z0-9_]{min,64}`; with `letter_first`, the first character must be a letter.
fn is_identifier(s: &str, min: usize, letter_first: bool) -> bool {
    (min..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && (!letter_first || s.bytes().next().is_some_and(|b| b.is_ascii_lowercase()))
}
