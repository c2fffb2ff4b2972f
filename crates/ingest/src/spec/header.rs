//! Matching a file's header row to a spec's columns, once per file.
//!
//! Departments' files name columns every which way (`Ration Card No.`, `AADHAAR_NO`,
//! `Father/Husband Name`), so both sides are normalised: case folded and spaces, `_`, `-`,
//! `.` and `/` dropped. The result maps each spec column to its position in the file, so row
//! validation is a look-up by index. A missing required column or two headers for one column
//! stop the file before any row is read; unknown extra columns are reported and ignored.

use std::collections::HashMap;
use std::fmt;

use super::model::{ColumnKind, DataSpec};

/// The normalised form used to compare headers with column names and aliases: lower case,
/// without whitespace, `_`, `-`, `.` or `/`, and without the invisible characters that
/// spreadsheets and Windows editors leave in headers (byte-order mark, zero-width space).
pub fn normalise_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| {
            !(c.is_whitespace() || matches!(c, '_' | '-' | '.' | '/' | '\u{feff}' | '\u{200b}'))
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each spec column is in a file, and which of the file's columns the spec ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    /// For each spec column (in spec order), its position in the file's records.
    positions: Vec<Option<usize>>,
    /// File columns that match no spec column; reported to the department, not fatal.
    pub unknown: Vec<UnknownHeader>,
    /// Number of columns in the file's header.
    pub file_width: usize,
}

/// A file column the spec does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHeader {
    /// Position in the file (0-based).
    pub index: usize,
    /// The header as written in the file.
    pub header: String,
}

impl HeaderMap {
    /// The file position of the spec column at `spec_index`, if the file has it.
    pub fn position(&self, spec_index: usize) -> Option<usize> {
        self.positions.get(spec_index).copied().flatten()
    }

    /// One entry per spec column, in spec order: its file position, if present.
    pub fn positions(&self) -> &[Option<usize>] {
        &self.positions
    }

    /// Whether the file has the spec column at `spec_index`.
    pub fn has(&self, spec_index: usize) -> bool {
        self.position(spec_index).is_some()
    }
}

/// Why a file's header cannot be used with a spec. Messages quote the spec's names and the
/// file's headers, never a data cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Required columns are absent: the whole file is refused before any row is read.
    #[error("{}", missing_message(missing, known, *first_row_looks_like_data))]
    MissingColumns {
        /// Spec names of the required columns the file lacks.
        missing: Vec<String>,
        /// For each missing column, the headers that would have been accepted for it.
        known: Vec<AcceptedHeaders>,
        /// The header row looks like a data row (mostly numbers), so the file probably has
        /// no header at all. The headers themselves are not repeated, since they may be data.
        first_row_looks_like_data: bool,
    },
    /// Two or more file columns match the same spec column; the hub will not guess which.
    #[error(
        "the file has {} columns that all match column `{column}`: {}; keep one and remove or rename the others",
        headers.len(),
        quoted(headers)
    )]
    Ambiguous {
        /// The spec column.
        column: String,
        /// The file's headers that match it, as written.
        headers: Vec<String>,
    },
    /// The file has no header at all.
    #[error("the file has no header row")]
    Empty,
}

impl HeaderError {
    /// A stable code for the whole-file rejection.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingColumns { .. } => "header.missing_columns",
            Self::Ambiguous { .. } => "header.ambiguous",
            Self::Empty => "header.empty",
        }
    }
}

/// The headers a spec column accepts: its name and its aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedHeaders {
    pub column: String,
    pub names: Vec<String>,
}

impl fmt::Display for AcceptedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.column)?;
        if self.names.len() > 1 {
            write!(f, " (also accepted: {})", quoted(&self.names[1..]))?;
        }
        Ok(())
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn missing_message(missing: &[String], known: &[AcceptedHeaders], looks_like_data: bool) -> String {
    let list = known
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let mut msg = format!(
        "the file lacks {} required column(s): {list}. Header names are matched ignoring case, spaces, '_', '-', '.' and '/'",
        missing.len()
    );
    if looks_like_data {
        msg.push_str(
            ". The first row looks like data rather than column names: the header row may be missing",
        );
    }
    msg
}

/// Maps a file's header row to `spec`'s columns.
///
/// Each file column matches at most one spec column (by normalised name or alias). Errors:
/// two file columns for one spec column ([`HeaderError::Ambiguous`], checked first), then
/// required columns absent ([`HeaderError::MissingColumns`], all of them listed; the record
/// key is not missing from a file that has the reference-key column instead). File
/// columns the spec does not know end up in [`HeaderMap::unknown`].
pub fn match_header(spec: &DataSpec, header: &[String]) -> Result<HeaderMap, HeaderError> {
    if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
        return Err(HeaderError::Empty);
    }
    let mut lookup: HashMap<String, usize> = HashMap::new();
    for (i, col) in spec.columns.iter().enumerate() {
        for name in std::iter::once(&col.name).chain(&col.aliases) {
            // First wins, so an unvalidated spec with a clash still maps deterministically.
            lookup.entry(normalise_header(name)).or_insert(i);
        }
    }

    let mut matches: Vec<Vec<usize>> = vec![Vec::new(); spec.columns.len()];
    let mut unknown = Vec::new();
    for (index, text) in header.iter().enumerate() {
        match lookup.get(&normalise_header(text)) {
            Some(&col) => {
                if let Some(m) = matches.get_mut(col) {
                    m.push(index);
                }
            }
            None => unknown.push(UnknownHeader {
                index,
                header: text.trim().to_owned(),
            }),
        }
    }

    for (col, found) in spec.columns.iter().zip(&matches) {
        if found.len() > 1 {
            return Err(HeaderError::Ambiguous {
                column: col.name.clone(),
                headers: found
                    .iter()
                    .filter_map(|&i| header.get(i))
                    .map(|h| h.trim().to_owned())
                    .collect(),
            });
        }
    }

    // A file of rows named by reference key may leave out the record key column: the rows
    // are then checked one by one (an `add` still needs the record key).
    let has_ref_key = spec
        .columns
        .iter()
        .zip(&matches)
        .any(|(col, found)| col.kind == ColumnKind::RefKey && !found.is_empty());
    let absent: Vec<&super::model::ColumnSpec> = spec
        .columns
        .iter()
        .zip(&matches)
        .filter(|(col, found)| col.required && found.is_empty())
        .filter(|(col, _)| !(has_ref_key && spec.record_key.as_deref() == Some(&col.name)))
        .map(|(col, _)| col)
        .collect();
    if !absent.is_empty() {
        return Err(HeaderError::MissingColumns {
            missing: absent.iter().map(|c| c.name.clone()).collect(),
            known: absent
                .iter()
                .map(|c| AcceptedHeaders {
                    column: c.name.clone(),
                    names: std::iter::once(&c.name)
                        .chain(&c.aliases)
                        .cloned()
                        .collect(),
                })
                .collect(),
            first_row_looks_like_data: looks_like_data(header),
        });
    }

    Ok(HeaderMap {
        positions: matches.iter().map(|m| m.first().copied()).collect(),
        unknown,
        file_width: header.len(),
    })
}

/// Whether a header row is more likely a data row: at least a third of its non-empty cells
/// contain digits and no letters (ID numbers, dates, codes), which column names never are.
fn looks_like_data(header: &[String]) -> bool {
    let cells: Vec<&str> = header
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .collect();
    let numeric = cells
        .iter()
        .filter(|h| h.chars().any(|c| c.is_ascii_digit()) && !h.chars().any(char::is_alphabetic))
        .count();
    !cells.is_empty() && numeric * 3 >= cells.len()
}
