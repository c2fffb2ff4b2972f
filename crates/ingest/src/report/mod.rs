//! What goes back to the department: the rejection report (CSV and XLSX) and a general CSV
//! writer for the hub's other outputs (such as the mapping of record keys to reference keys).
//!
//! Every cell of every file written here goes through [`neutralise`], so that no value from
//! an upload (or anything else) can ride back into a spreadsheet as a formula: an officer
//! opens these files in Excel, and a cell such as `=HYPERLINK(...)` would run there.

mod csv_report;
mod xlsx_report;

use std::borrow::Cow;

pub use csv_report::{RejectionCsvWriter, SafeCsvWriter};
pub use xlsx_report::rejections_xlsx;

/// Neutralises a cell for spreadsheets: a value starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading apostrophe, which spreadsheets show as text instead of
/// evaluating (OWASP's guidance on CSV injection). Other values are returned as they are,
/// without copying.
///
/// The apostrophe is visible in the cell's text (and stays on a round trip); that is the
/// price of a report that is safe whichever program opens it. Negative numbers (`-1`) are
/// neutralised too: a formula can start with `-`.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            let mut safe = String::with_capacity(cell.len() + 1);
            safe.push('\'');
            safe.push_str(cell);
            Cow::Owned(safe)
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A row that was rejected, as it came in, with everything wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RejectedRow {
    /// Where the row starts in the uploaded file.
    pub line: u64,
    /// The row's values in the order of the uploaded file's header. Empty for a row that
    /// could not be read at all (see [`crate::RecordError`]).
    pub fields: Vec<String>,
    pub errors: Vec<RowProblem>,
}

/// One reason a row was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowProblem {
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// The stable error code, such as `id_number.checksum`.
    pub code: String,
    /// A plain message. It must not repeat the value (the report already shows it).
    pub message: String,
}

/// A report could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the report could not be written: {0}")]
    Io(String),
    #[error("the XLSX report could not be built: {0}")]
    Xlsx(String),
    #[error("a row has {found} cells but the header has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("an XLSX sheet holds at most {limit} rows; take the CSV report instead")]
    TooManyRows { limit: usize },
    #[error("an XLSX sheet holds at most {limit} columns; take the CSV report instead")]
    TooManyColumns { limit: usize },
}

impl From<std::io::Error> for ReportError {
    fn from(e: std::io::Error) -> Self {
        ReportError::Io(e.to_string())
    }
}

impl From<csv::Error> for ReportError {
    fn from(e: csv::Error) -> Self {
        ReportError::Io(e.to_string())
    }
}

/// The columns the rejection report adds after the file's own.
const REPORT_COLUMNS: [&str; 3] = ["line", "error_codes", "error_messages"];

/// The rejection report's header: the file's own columns, then `line`, `error_codes` and
/// `error_messages`. Should the file already have a column of one of those names, the
/// added one gets a leading underscore (as many as needed), so that no name appears twice
/// and the officer's columns stay as they were.
fn report_header(header: &[String]) -> Vec<String> {
    let taken =
        |name: &str, so_far: &[String]| so_far.iter().any(|h| h.trim().eq_ignore_ascii_case(name));
    let mut columns = header.to_vec();
    for base in REPORT_COLUMNS {
        let mut name = base.to_owned();
        while taken(&name, &columns) {
            name.insert(0, '_');
        }
        columns.push(name);
    }
    columns
}

/// The cells the rejection report adds to a row: its line, its codes and its messages, each
/// list joined with "; ". A row with more values than the header has columns cannot show
/// them in the header's columns; they are left out and the messages say so.
fn report_cells(row: &RejectedRow, width: usize) -> [String; 3] {
    let codes = row
        .errors
        .iter()
        .map(|p| p.code.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let mut messages = row
        .errors
        .iter()
        .map(|p| match &p.column {
            Some(column) if !column.is_empty() => format!("{column}: {}", p.message),
            _ => p.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    if row.fields.len() > width {
        if !messages.is_empty() {
            messages.push_str("; ");
        }
        let extra = row.fields.len() - width;
        messages.push_str(&if extra == 1 {
            format!("1 value beyond the header's {width} columns is not shown")
        } else {
            format!("{extra} values beyond the header's {width} columns are not shown")
        });
    }
    [row.line.to_string(), codes, messages]
}

/// The row's own values as they go in the report: exactly `width` of them, padded with
/// empty cells.
fn report_fields(row: &RejectedRow, width: usize) -> impl Iterator<Item = &str> {
    row.fields
        .iter()
        .map(String::as_str)
        .chain(std::iter::repeat(""))
        .take(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralises_formula_starts_only() {
        assert_eq!(neutralise("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(neutralise("+919876543210"), "'+919876543210");
        assert_eq!(neutralise("-1"), "'-1");
        assert_eq!(neutralise("@x"), "'@x");
        assert_eq!(neutralise("\t=1"), "'\t=1");
        assert_eq!(neutralise("\r=1"), "'\r=1");
        assert!(matches!(neutralise("Ramesh = ok"), Cow::Borrowed(_)));
        assert!(matches!(neutralise(""), Cow::Borrowed(_)));
        assert!(matches!(neutralise("राम"), Cow::Borrowed(_)));
    }

    #[test]
    fn report_header_avoids_clashes() {
        let h = report_header(&["name".into(), "Line".into(), "_line".into()]);
        assert_eq!(
            h,
            [
                "name",
                "Line",
                "_line",
                "__line",
                "error_codes",
                "error_messages"
            ]
        );
    }

    #[test]
    fn report_cells_join_and_note_extras() {
        let row = RejectedRow {
            line: 7,
            fields: vec!["a".into(), "b".into(), "c".into()],
            errors: vec![
                RowProblem {
                    column: Some("dob".into()),
                    code: "dob.in_future".into(),
                    message: "the date is in the future".into(),
                },
                RowProblem {
                    column: None,
                    code: "row.duplicate_in_file".into(),
                    message: "same as line 3".into(),
                },
            ],
        };
        let [line, codes, messages] = report_cells(&row, 2);
        assert_eq!(line, "7");
        assert_eq!(codes, "dob.in_future; row.duplicate_in_file");
        assert_eq!(
            messages,
            "dob: the date is in the future; same as line 3; \
             1 value beyond the header's 2 columns is not shown"
        );
        assert_eq!(
            report_fields(&row, 4).collect::<Vec<_>>(),
            ["a", "b", "c", ""]
        );
    }
}
