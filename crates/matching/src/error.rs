//! The matching engine's one error type.

use std::path::PathBuf;

/// What can go wrong when reading input or configuration for a match run.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be read as a whole (empty, binary, no header, a damaged workbook, a
    /// file whose extension says another format).
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: sangam_ingest::read::ReadError,
    },
    /// One record cannot be used (its id is empty).
    #[error("{path}: line {line}: {message}")]
    Record {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// The file has no header row or no data rows.
    #[error("{path}: {message}")]
    Empty { path: PathBuf, message: String },
    /// No column could be given a role that the engine compares.
    #[error("{path}: no column was recognised ({found}); known column names by role: {known}")]
    NoRoles {
        path: PathBuf,
        found: String,
        known: String,
    },
    /// The record-id column named on the command line or in the config is not in the file.
    #[error(
        "{path}: there is no column {column:?} to take record ids from; the columns are: {columns}"
    )]
    MissingIdColumn {
        path: PathBuf,
        column: String,
        columns: String,
    },
    /// Two records share an id, so the output could not say which is which.
    #[error(
        "{path}: line {line}: record id {id:?} is used again (first on line {first_line}); ids must be unique"
    )]
    DuplicateId {
        path: PathBuf,
        id: String,
        line: u64,
        first_line: u64,
    },
    /// The two files being linked have no role in common to compare.
    #[error(
        "the two files have no column role in common to compare (left: {left}; right: {right})"
    )]
    NothingToCompare { left: String, right: String },
    /// The configuration file is not valid.
    #[error("configuration {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// An id asked for (for example by `--explain`) is not among the records.
    #[error("no record has the id {0:?}")]
    UnknownRecord(String),
    /// A threshold or other option is out of range.
    #[error("{0}")]
    Option(String),
}
