//! Files in and out: CSV input with column roles recognised, the configuration file, and
//! the output CSV of `sangam match`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::engine::Outcome;
use crate::error::MatchError;
use crate::record::{RawFields, Record};
use crate::roles::{self, ColumnRole, Role, assign_roles};

/// Longest field value read, in bytes; longer values are cut (and counted), so that one
/// enormous cell cannot make every comparison with it slow.
pub const MAX_FIELD_BYTES: usize = 1_000;

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
    /// Each record's id: the id column's value, or the data row number.
    pub ids: Vec<String>,
    pub records: Vec<Record>,
    pub columns: Vec<ColumnRole>,
    /// Field values cut to [`MAX_FIELD_BYTES`].
    pub truncated_fields: usize,
    /// Rows with fewer or more fields than the header (read as far as they go).
    pub ragged_rows: usize,
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

fn sniff_delimiter(first_line: &[u8]) -> u8 {
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',')
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> MatchError + '_ {
    move |source| MatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a CSV file (comma, semicolon, tab or pipe; UTF-8, invalid bytes replaced), gives its
/// columns roles and prepares its records.
pub fn read_table(
    path: &Path,
    overrides: &[(String, Role)],
    id_column: Option<&str>,
    reference: NaiveDate,
) -> Result<Table, MatchError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(first_line))
        .flexible(true)
        .from_reader(&bytes[..]);
    let csv_error = |e: csv::Error| MatchError::Csv {
        path: path.to_path_buf(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    };
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(MatchError::Empty {
            path: path.to_path_buf(),
            message: "the file is empty: a header row naming the columns is needed".into(),
        });
    }
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

    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let mut truncated_fields = 0;
    let mut ragged_rows = 0;
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != headers.len() {
            ragged_rows += 1;
        }
        let fields: Vec<String> = record
            .iter()
            .take(headers.len())
            .map(|f| {
                let f = if f.len() > MAX_FIELD_BYTES {
                    truncated_fields += 1;
                    &f[..MAX_FIELD_BYTES]
                } else {
                    f
                };
                match String::from_utf8_lossy(f) {
                    Cow::Borrowed(s) => s.to_string(),
                    Cow::Owned(s) => s,
                }
            })
            .collect();
        rows.push((line, fields));
    }
    if rows.is_empty() {
        return Err(MatchError::Empty {
            path: path.to_path_buf(),
            message: "the file has a header row but no records".into(),
        });
    }

    let mut ids = Vec::with_capacity(rows.len());
    let mut seen: FxHashMap<String, u64> = FxHashMap::default();
    for (n, (line, fields)) in rows.iter().enumerate() {
        let id = match id_index {
            Some(i) => fields
                .get(i)
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            None => (n + 1).to_string(),
        };
        if id.is_empty() {
            return Err(MatchError::Csv {
                path: path.to_path_buf(),
                line: *line,
                message: "the record id is empty".into(),
            });
        }
        if let Some(first_line) = seen.insert(id.clone(), *line) {
            return Err(MatchError::DuplicateId {
                path: path.to_path_buf(),
                id,
                line: *line,
                first_line,
            });
        }
        ids.push(id);
    }
    drop(seen);
    let records: Vec<Record> = rows
        .par_iter()
        .map(|(_, fields)| {
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
        ids,
        records,
        columns,
        truncated_fields,
        ragged_rows,
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

/// A value that a spreadsheet would read as a formula gets a leading apostrophe.
fn neutralise(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}
