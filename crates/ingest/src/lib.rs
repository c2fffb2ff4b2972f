//! Department data uploads, independent of the store.
//!
//! - [`read`]: streaming readers for CSV, XLSX and JSON Lines that yield one raw record at a
//!   time with its line number, whatever the file's size;
//! - [`spec`]: data specs (the built-in base registry and schemes' own, declared as data),
//!   header matching with aliases, and row validation with stable error codes;
//! - [`report`]: what goes back to the department: rejection reports in CSV and XLSX, with
//!   every cell neutralised so that no spreadsheet formula can ride along.
//!
//! The hub's upload pipeline puts these together with the vault and the store.

mod fields;
pub mod read;
pub mod report;
pub mod spec;

pub use fields::Fields;

/// One record of an uploaded file as read, before validation: its values in the order of the
/// file's header. `line` is where the record starts in the file (1-based; the header is line
/// 1 of a CSV or sheet), so that every rejection can say where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub line: u64,
    pub fields: Fields,
}

/// A record that could not be read at all (as opposed to one that reads but breaks a rule).
/// It is rejected with its line number and the rest of the file goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("line {line}: the text is not valid UTF-8")]
    InvalidUtf8 { line: u64 },
    #[error("line {line}: the value of column {column} is larger than {limit} bytes")]
    FieldTooLarge {
        line: u64,
        column: String,
        limit: usize,
    },
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
}

impl RecordError {
    pub fn line(&self) -> u64 {
        match self {
            RecordError::InvalidUtf8 { line }
            | RecordError::FieldTooLarge { line, .. }
            | RecordError::Malformed { line, .. } => *line,
        }
    }

    /// The stable code reported with the rejection.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::InvalidUtf8 { .. } => "row.invalid_utf8",
            RecordError::FieldTooLarge { .. } => "field.too_large",
            RecordError::Malformed { .. } => "row.malformed",
        }
    }
}
