//! Streaming readers for the files departments upload: CSV, XLSX and JSON Lines.
//!
//! Every reader is a [`RecordSource`]: an iterator that yields one [`RawRecord`] at a time
//! with the line where it starts, so that a file of any size loads with bounded memory and
//! every rejection can say where to look. A record that cannot be read (invalid UTF-8, a
//! field over [`MAX_FIELD_BYTES`], too many fields) is yielded as a [`RecordError`] for that
//! record only and reading goes on; only problems with the file as a whole (empty, binary,
//! no header, an unreadable workbook) are [`ReadError`]s.
//!
//! [`detect_format`] decides the format from the content rather than trusting the file name,
//! and refuses a file whose extension says otherwise; [`open_file`] and [`open_reader`] sniff
//! and open the right reader in one step.
//!
//! Errors never carry cell values (they may be ID or phone numbers); they name the line, the
//! column and the rule. Column names from the header are not cell values and may be named.

mod csv_reader;
mod jsonl;
mod xlsx;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::{RawRecord, RecordError};

pub use csv_reader::csv_source;
pub use jsonl::jsonl_source;
pub use xlsx::xlsx_source;

/// The largest single field accepted, in bytes. A record with a larger field is rejected
/// with [`RecordError::FieldTooLarge`] and reading goes on.
pub const MAX_FIELD_BYTES: usize = 1 << 20;

/// The largest single record (a CSV record or a JSON line) the readers will buffer, in bytes.
/// Beyond [`MAX_FIELD_BYTES`] a record is rejected anyway; this second bound keeps memory flat
/// when a record never ends, typically a CSV quote that is never closed and would otherwise
/// swallow the rest of the file into one field.
pub const MAX_RECORD_BYTES: usize = 16 * MAX_FIELD_BYTES;

/// How many bytes of the head [`detect_format`] needs to decide; the openers read this much.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// The formats the hub reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Xlsx,
    JsonLines,
}

impl Format {
    /// The format's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Xlsx => "XLSX",
            Format::JsonLines => "JSON Lines",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A problem with the file as a whole: nothing (or nothing further) can be read from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is binary, not CSV, XLSX or JSON Lines text")]
    Binary,
    #[error("the file is named .{extension} but its content is {detected}")]
    ExtensionMismatch { extension: String, detected: Format },
    #[error("the file is {what}")]
    Unsupported { what: String },
    #[error("the first row has no column names")]
    NoHeader,
    #[error("the column {column:?} appears more than once in the header")]
    DuplicateHeader { column: String },
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("an XLSX workbook can only be read from a file; save the body to a file first")]
    NeedsFile,
    #[error("the file could not be read: {0}")]
    Io(String),
    #[error("the workbook could not be read: {0}")]
    Xlsx(String),
    #[error("the workbook has no sheet named {sheet:?}; its sheets are: {}", .available.join(", "))]
    SheetNotFound {
        sheet: String,
        available: Vec<String>,
    },
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e.to_string())
    }
}

/// A reader of records. It yields records lazily and keeps memory bounded whatever the
/// file's size.
pub trait RecordSource: Iterator<Item = Result<RawRecord, RecordError>> + Send {
    /// The file's column names, trimmed, in file order.
    fn header(&self) -> &[String];

    /// Why reading stopped before the end of the file, if it did: the input broke off (an
    /// I/O error), the workbook is damaged, or a record grew past [`MAX_RECORD_BYTES`]. The
    /// last item yielded before the end is then a [`RecordError::Malformed`] naming the
    /// line. The upload pipeline checks this once the iterator ends, so that a file read
    /// only in part fails its batch instead of committing what came before the break.
    fn stopped(&self) -> Option<&ReadError> {
        None
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Strips a UTF-8 byte order mark, which Excel puts at the start of "CSV UTF-8" files.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// What a file name's extension claims, if it is one we know. `Text` accepts either text
/// format: a `.txt` may hold CSV or JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Csv,
    Text,
    Xlsx,
    Json,
}

fn extension_of(file_name: &str) -> Option<String> {
    // Only the last path component counts: a directory named "x.csv" says nothing.
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

fn claim_of(extension: &str) -> Option<Claim> {
    match extension {
        "csv" | "tsv" => Some(Claim::Csv),
        "txt" => Some(Claim::Text),
        "xlsx" => Some(Claim::Xlsx),
        "jsonl" | "ndjson" | "json" => Some(Claim::Json),
        _ => None,
    }
}

/// Decides the format from the content and checks it against the file name's extension, if
/// a name is given. The content decides: XLSX is a ZIP archive (`PK\x03\x04`); JSON Lines
/// starts, after any BOM and whitespace, with `{`; other text is CSV. `head` should be the
/// first [`SNIFF_BYTES`] of the file (or all of it, if shorter).
///
/// An extension the hub does not know (or none) is not checked; `.txt` may be CSV or JSON
/// Lines.
pub fn detect_format(file_name: Option<&str>, head: &[u8]) -> Result<Format, ReadError> {
    let extension = file_name.and_then(extension_of);
    let claim = extension.as_deref().and_then(claim_of);
    let detected = sniff(head, claim)?;
    let agrees = match claim {
        None => true,
        Some(Claim::Csv) => detected == Format::Csv,
        Some(Claim::Text) => detected != Format::Xlsx,
        Some(Claim::Xlsx) => detected == Format::Xlsx,
        Some(Claim::Json) => detected == Format::JsonLines,
    };
    if agrees {
        Ok(detected)
    } else {
        Err(ReadError::ExtensionMismatch {
            extension: extension.unwrap_or_default(),
            detected,
        })
    }
}

fn sniff(head: &[u8], claim: Option<Claim>) -> Result<Format, ReadError> {
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    // Formats an officer plausibly sends by mistake get a message that says what to do,
    // rather than "binary".
    if head.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Err(ReadError::Unsupported {
            what: "an Excel 97-2003 (.xls) workbook; save it as .xlsx or as CSV UTF-8".into(),
        });
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(ReadError::Unsupported {
            what: "UTF-16 text (Excel's \"Unicode Text\"); save it as CSV UTF-8".into(),
        });
    }
    let text = strip_bom(head);
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(ReadError::Empty);
    };
    if looks_binary(text) {
        return Err(ReadError::Binary);
    }
    match text[first] {
        b'{' => Ok(Format::JsonLines),
        b'[' if matches!(claim, Some(Claim::Json) | Some(Claim::Text)) => {
            Err(ReadError::Unsupported {
                what: "a JSON array; send JSON Lines instead, one object per line".into(),
            })
        }
        _ => Ok(Format::Csv),
    }
}

/// Binary if the sample holds a NUL byte, or if more than 30% of it is control characters or
/// bytes that are not UTF-8. The threshold leaves room for text in a legacy 8-bit encoding,
/// whose rows are then rejected one by one as invalid UTF-8 rather than the whole file.
fn looks_binary(sample: &[u8]) -> bool {
    let sample = &sample[..sample.len().min(SNIFF_BYTES)];
    if sample.contains(&0) {
        return true;
    }
    let mut suspicious = 0usize;
    let mut rest = sample;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                suspicious += count_controls(s);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                suspicious += count_controls(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        suspicious += n;
                        rest = after.get(n..).unwrap_or_default();
                    }
                    // A character cut off by the end of the sample is not evidence.
                    None => break,
                }
            }
        }
    }
    suspicious * 10 > sample.len() * 3
}

fn count_controls(s: &str) -> usize {
    s.chars()
        .filter(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}'))
        .count()
}

/// Reads up to `limit` bytes from the start of `reader`, for sniffing.
pub(crate) fn read_head<R: Read>(reader: &mut R, limit: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(limit.min(64 * 1024));
    reader.take(limit as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Opens a file of any supported format: sniffs its head, checks it against the file name's
/// extension and opens the right reader.
pub fn open_file(
    path: &Path,
    sheet: Option<&str>,
) -> Result<(Format, Box<dyn RecordSource>), ReadError> {
    let mut file = File::open(path)?;
    let head = read_head(&mut file, SNIFF_BYTES)?;
    let name = path.file_name().and_then(|n| n.to_str());
    let format = detect_format(name, &head)?;
    let source = match format {
        Format::Xlsx => {
            drop(file);
            xlsx_source(path, sheet)?
        }
        Format::Csv => csv_source(io::Cursor::new(head).chain(file))?,
        Format::JsonLines => jsonl_source(io::Cursor::new(head).chain(file))?,
    };
    Ok((format, source))
}

/// Opens a CSV or JSON Lines body that arrives as a stream (an HTTP upload), sniffing its
/// head without losing it. An XLSX body gives [`ReadError::NeedsFile`]: the workbook format
/// needs random access, so the caller spools it to a temporary file and calls [`open_file`].
pub fn open_reader<R: Read + Send + 'static>(
    file_name: Option<&str>,
    mut reader: R,
) -> Result<(Format, Box<dyn RecordSource>), ReadError> {
    let head = read_head(&mut reader, SNIFF_BYTES)?;
    let format = detect_format(file_name, &head)?;
    let body = io::Cursor::new(head).chain(reader);
    let source = match format {
        Format::Xlsx => return Err(ReadError::NeedsFile),
        Format::Csv => csv_source(body)?,
        Format::JsonLines => jsonl_source(body)?,
    };
    Ok((format, source))
}

/// Checks and tidies a header as read: names trimmed, trailing empty names dropped (Excel
/// leaves trailing delimiters when a sheet once had more columns), at least one name, no
/// name twice (ignoring case). Empty names between others are kept, so that positions stay
/// right; they never match a spec's column.
pub(crate) fn check_header(names: Vec<String>) -> Result<Vec<String>, ReadError> {
    let mut names: Vec<String> = names
        .into_iter()
        .map(|n| {
            let t = n.trim();
            if t.len() == n.len() { n } else { t.to_owned() }
        })
        .collect();
    while names.last().is_some_and(|n| n.is_empty()) {
        names.pop();
    }
    if names.is_empty() {
        return Err(ReadError::NoHeader);
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for name in &names {
        if !name.is_empty() && !seen.insert(name.to_lowercase()) {
            return Err(ReadError::DuplicateHeader {
                column: name.clone(),
            });
        }
    }
    Ok(names)
}

/// How a column is named in errors: by its header name, or by position when it has none.
pub(crate) fn column_label(header: &[String], index: usize) -> String {
    match header.get(index) {
        Some(name) if !name.is_empty() => name.clone(),
        _ => format!("column {}", index + 1),
    }
}

/// The message for a record with more values than the header has columns.
pub(crate) fn too_many_fields(expected: usize, found: usize) -> String {
    format!("expected {expected} fields, found {found}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_parsing() {
        assert_eq!(extension_of("a.CSV").as_deref(), Some("csv"));
        assert_eq!(extension_of("dir.csv/data").as_deref(), None);
        assert_eq!(extension_of(".hidden").as_deref(), None);
        assert_eq!(extension_of("C:\\x\\y.xlsx").as_deref(), Some("xlsx"));
        assert_eq!(extension_of("noext"), None);
    }

    #[test]
    fn sniffing() {
        assert_eq!(detect_format(None, b"a,b\n1,2\n"), Ok(Format::Csv));
        assert_eq!(
            detect_format(None, b"\xEF\xBB\xBF {\"a\":1}\n"),
            Ok(Format::JsonLines)
        );
        assert_eq!(detect_format(None, b"PK\x03\x04rest"), Ok(Format::Xlsx));
        assert_eq!(detect_format(None, b""), Err(ReadError::Empty));
        assert_eq!(
            detect_format(None, b"\xEF\xBB\xBF  \r\n"),
            Err(ReadError::Empty)
        );
        assert_eq!(detect_format(None, b"a,b\0c"), Err(ReadError::Binary));
        assert!(matches!(
            detect_format(Some("x.json"), b"[{\"a\":1}]"),
            Err(ReadError::Unsupported { .. })
        ));
        assert!(matches!(
            detect_format(Some("x.xls"), b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1...."),
            Err(ReadError::Unsupported { .. })
        ));
        assert_eq!(
            detect_format(Some("x.txt"), b"{\"a\":1}"),
            Ok(Format::JsonLines)
        );
        assert_eq!(
            detect_format(Some("x.dat"), b"{\"a\":1}"),
            Ok(Format::JsonLines)
        );
    }

    #[test]
    fn indian_scripts_are_text() {
        let text = "नाम,पिता का नाम,ਪਿੰਡ,கிராமம்\nராமு,ಸೀತಾ,ஊர்,ক\n".repeat(200);
        // Cut in the middle of a character: the cut is not evidence of binary.
        let bytes = &text.as_bytes()[..SNIFF_BYTES - 1];
        assert_eq!(detect_format(Some("x.csv"), bytes), Ok(Format::Csv));
    }

    #[test]
    fn header_rules() {
        let h = |v: &[&str]| check_header(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(h(&[" a ", "b", "", ""]), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(h(&["", " "]), Err(ReadError::NoHeader));
        assert_eq!(
            h(&["Name", "NAME "]),
            Err(ReadError::DuplicateHeader {
                column: "NAME".into()
            })
        );
        assert_eq!(h(&["a", "", "", "b"]).map(|v| v.len()), Ok(4));
    }
}
