//! Files in and out: input files (CSV, XLSX or JSON Lines, read with the hub's upload
//! readers) with column roles recognised, the configuration file, and the output CSV of
//! `sangam match`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use sangam_ingest::RawRecord;
use sangam_ingest::read::{ReadError, open_file};
use sangam_ingest::report::neutralise;
use serde::Deserialize;

use crate::engine::Outcome;
use crate::error::MatchError;
use crate::record::{RawFields, Record};
use crate::roles::{self, ColumnRole, Role, assign_roles};

/// Longest field value compared, in bytes; longer values are cut (and counted), so that one
/// enormous cell cannot make every comparison with it slow.
pub const MAX_COMPARED_BYTES: usize = 1_000;

/// A configuration file for `sangam match` (TOML):
///
/// ```toml
/// threshold = 0.9
/// id_column = "Beneficiary Code"
/// reference_date = "2026-04-01"
/// id_numbers = "strict"
/// [columns]
/// "Naam" = "full_name"
/// "Remarks" = "ignore"
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub threshold: Option<f64>,
    pub id_column: Option<String>,
    pub reference_date: Option<NaiveDate>,
    pub max_block: Option<usize>,
    /// `checked` (default): only ID numbers with a valid check digit keep records apart;
    /// `strict`: every ID number does.
    pub id_numbers: Option<crate::engine::IdPolicy>,
    /// Header → role name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, MatchError> {
        let text = std::fs::read_to_string(path).map_err(|source| MatchError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| MatchError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.overrides(path)?;
        Ok(config)
    }

    /// The column overrides as roles.
    pub fn overrides(&self, path: &Path) -> Result<Vec<(String, Role)>, MatchError> {
        self.columns
            .iter()
            .map(|(header, role)| {
                Role::parse(role)
                    .map(|r| (header.clone(), r))
                    .ok_or_else(|| MatchError::Config {
                        path: path.to_path_buf(),
                        message: format!(
                            "column {header:?}: unknown role {role:?}; roles are: {}",
                            roles::ALL
                                .iter()
                                .map(|r| r.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })
            })
            .collect()
    }
}

/// A file read for matching.
#[derive(Debug)]
pub struct Table {
    pub path: PathBuf,
    /// Each record's id: the id column's value, or the record's position among the file's
    /// data records (1 for the first).
    pub ids: Vec<String>,
    pub records: Vec<Record>,
    pub columns: Vec<ColumnRole>,
    /// Field values cut to [`MAX_COMPARED_BYTES`].
    pub truncated_fields: usize,
    /// Records the reader could not read (invalid UTF-8, a field over the reader's limit,
    /// too many fields): they are left out, and the first few reasons kept for the report.
    pub unreadable: usize,
    pub unreadable_reasons: Vec<String>,
}

impl Table {
    /// Position of the record with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// The roles given to the columns, one line each, for the user to check.
    pub fn describe_roles(&self) -> String {
        let mut out = String::new();
        for c in &self.columns {
            let how = match c.source {
                "duplicate" => " (another column already has this role)",
                "unknown" => " (not recognised)",
                "config" => " (from configuration)",
                _ => "",
            };
            let role = if c.role == Role::Ignore {
                "ignored".to_string()
            } else {
                c.role.to_string()
            };
            out.push_str(&format!("  {:<28} -> {role}{how}\n", c.header));
        }
        out
    }
}

/// Cuts a value to [`MAX_COMPARED_BYTES`] at a character boundary; says whether it did.
fn cut(value: &mut String) -> bool {
    if value.len() <= MAX_COMPARED_BYTES {
        return false;
    }
    let mut end = MAX_COMPARED_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.truncate(end);
    true
}

/// Reads a file with the hub's own readers (CSV with its delimiter sniffed, XLSX, JSON
/// Lines; a BOM, quoting and line numbers handled as for uploads), gives its columns roles
/// and prepares its records. A record the reader cannot read is counted and left out; the
/// rest is matched.
pub fn read_table(
    path: &Path,
    overrides: &[(String, Role)],
    id_column: Option<&str>,
    reference: NaiveDate,
) -> Result<Table, MatchError> {
    let read_error = |source: ReadError| MatchError::Read {
        path: path.to_path_buf(),
        source,
    };
    let (_, mut source) = open_file(path, None).map_err(read_error)?;
    let headers: Vec<String> = source.header().to_vec();
    let columns = assign_roles(&headers, overrides, id_column);
    if let Some(wanted) = id_column
        && !columns.iter().any(|c| c.role == Role::RecordId)
    {
        return Err(MatchError::MissingIdColumn {
            path: path.to_path_buf(),
            column: wanted.to_string(),
            columns: headers.join(", "),
        });
    }
    if !columns
        .iter()
        .any(|c| !matches!(c.role, Role::Ignore | Role::RecordId))
    {
        return Err(MatchError::NoRoles {
            path: path.to_path_buf(),
            found: headers.join(", "),
            known: roles::known_names(),
        });
    }
    let id_index = columns
        .iter()
        .find(|c| c.role == Role::RecordId)
        .map(|c| c.index);

    let mut rows: Vec<(u64, String, Vec<String>)> = Vec::new();
    let mut truncated_fields = 0;
    let mut unreadable = 0;
    let mut unreadable_reasons = Vec::new();
    let mut seen: FxHashMap<String, u64> = FxHashMap::default();
    for (n, item) in source.by_ref().enumerate() {
        let RawRecord { line, fields } = match item {
            Ok(record) => record,
            Err(e) => {
                unreadable += 1;
                if unreadable_reasons.len() < 5 {
                    unreadable_reasons.push(e.to_string());
                }
                continue;
            }
        };
        let id = match id_index {
            Some(i) => fields
                .get(i)
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            None => (n + 1).to_string(),
        };
        if id.is_empty() {
            return Err(MatchError::Record {
                path: path.to_path_buf(),
                line,
                message: "the record id is empty".into(),
            });
        }
        if let Some(first_line) = seen.insert(id.clone(), line) {
            return Err(MatchError::DuplicateId {
                path: path.to_path_buf(),
                id,
                line,
                first_line,
            });
        }
        let mut fields = fields.to_vec();
        for f in fields.iter_mut() {
            truncated_fields += usize::from(cut(f));
        }
        rows.push((line, id, fields));
    }
    if let Some(stopped) = source.stopped() {
        return Err(read_error(stopped.clone()));
    }
    if rows.is_empty() {
        return Err(MatchError::Empty {
            path: path.to_path_buf(),
            message: "the file has a header row but no records that could be read".into(),
        });
    }
    drop(seen);
    let records: Vec<Record> = rows
        .par_iter()
        .map(|(_, _, fields)| {
            let mut raw = RawFields::new();
            for c in &columns {
                if let Some(value) = fields.get(c.index) {
                    raw.push(c.role, c.date_kind, value);
                }
            }
            raw.prepare(reference)
        })
        .collect();
    Ok(Table {
        path: path.to_path_buf(),
        ids: rows.into_iter().map(|(_, id, _)| id).collect(),
        records,
        columns,
        truncated_fields,
        unreadable,
        unreadable_reasons,
    })
}

/// Writes `id,cluster_id,match_probability`, one row per record: the left (or only) file's
/// records, then the right file's. When the two files share ids, every id is written with a
/// `left:` or `right:` prefix so that the output stays unambiguous.
pub fn write_outcome(
    out: &mut dyn Write,
    left: &Table,
    right: Option<&Table>,
    outcome: &Outcome,
) -> Result<bool, csv::Error> {
    let prefixed = right.is_some_and(|r| {
        let left_ids: rustc_hash::FxHashSet<&str> = left.ids.iter().map(|s| s.as_str()).collect();
        r.ids.iter().any(|id| left_ids.contains(id.as_str()))
    });
    let names: Vec<String> = left
        .ids
        .iter()
        .map(|id| {
            if prefixed {
                format!("left:{id}")
            } else {
                id.clone()
            }
        })
        .chain(right.into_iter().flat_map(|r| {
            r.ids.iter().map(move |id| {
                if prefixed {
                    format!("right:{id}")
                } else {
                    id.clone()
                }
            })
        }))
        .collect();
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["id", "cluster_id", "match_probability"])?;
    for (p, name) in names.iter().enumerate() {
        let cluster = &names[outcome.cluster[p] as usize];
        writer.write_record([
            neutralise(name).as_ref(),
            neutralise(cluster).as_ref(),
            &format!("{:.4}", outcome.best_probability[p]),
        ])?;
    }
    writer.flush()?;
    Ok(prefixed)
}
