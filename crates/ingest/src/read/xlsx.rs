//! The XLSX reader: the first visible worksheet or a named one, first non-empty row as the
//! header, cells turned into the text an officer sees.
//!
//! It streams: calamine's cell reader walks the sheet's XML one cell at a time, so the
//! sheet itself is never loaded whole (the workbook's shared-string table is, as calamine
//! needs it to resolve cells; it holds each distinct text once). Calamine's cell reader
//! borrows the workbook, which a boxed `'static` source cannot hold alongside it without
//! `unsafe`, so the sheet is read on a thread of its own that owns the workbook and hands
//! rows over in chunks through a bounded channel: at most a few thousand rows are ever in
//! flight. Dropping the source ends the thread at its next hand-over.
//!
//! Cells become text: strings as they are; numbers without an exponent and without ".0"
//! (ID and mobile numbers are often number cells: 234567890123 stays "234567890123"); dates
//! as YYYY-MM-DD (with the time when there is one); booleans as `true`/`false`. A cell
//! holding a spreadsheet error (`#N/A`, `#DIV/0!`, …) rejects its row. `line` is the
//! sheet's row number as Excel shows it.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{
    CellErrorType, DataRef, ExcelDateTime, Reader, SheetType, SheetVisible, Xlsx, XlsxCellReader,
    XlsxError,
};

use super::{
    MAX_FIELD_BYTES, ReadError, RecordSource, check_header, column_label, too_many_fields,
};
use crate::{RawRecord, RecordError};

/// Excel's columns a sheet.
const MAX_COLUMNS: u32 = 16_384;
/// Rows per hand-over between the sheet's thread and the consumer.
const CHUNK_ROWS: usize = 512;
/// Chunks that may wait in the channel: with the one being filled and the one being
/// consumed, at most (CHANNEL_CHUNKS + 2) × CHUNK_ROWS rows are in memory.
const CHANNEL_CHUNKS: usize = 2;

type Item = Result<RawRecord, RecordError>;

enum Message {
    /// The workbook could not be opened, or its sheet has no usable header.
    Failed(ReadError),
    Header(Vec<String>),
    Rows(Vec<Item>),
    /// The sheet broke off at this line.
    Stopped {
        line: u64,
        error: ReadError,
    },
    End,
}

/// Opens the sheet `sheet` of the workbook at `path` (the first visible worksheet if
/// `None`). The header is read now; rows as the returned source is iterated.
///
/// A named sheet is found by its exact name, or failing that ignoring case and surrounding
/// spaces; if there is none, [`ReadError::SheetNotFound`] lists the worksheets there are.
pub fn xlsx_source(path: &Path, sheet: Option<&str>) -> Result<Box<dyn RecordSource>, ReadError> {
    let (tx, rx) = sync_channel(CHANNEL_CHUNKS);
    let path = path.to_owned();
    let sheet = sheet.map(str::to_owned);
    std::thread::Builder::new()
        .name("sangam-xlsx-reader".into())
        .spawn(move || {
            if let Err(e) = read_sheet(&path, sheet.as_deref(), &tx) {
                // Nobody may be listening any more; then there is no one to tell.
                let _ = tx.send(Message::Failed(e));
            }
        })
        .map_err(|e| ReadError::Io(e.to_string()))?;
    match rx.recv() {
        Ok(Message::Header(header)) => Ok(Box::new(XlsxSource {
            rx,
            header,
            current: Vec::new().into_iter(),
            last_line: 1,
            stopped: None,
            done: false,
        })),
        Ok(Message::Failed(e)) => Err(e),
        Ok(_) | Err(_) => Err(ReadError::Xlsx(
            "the workbook reader stopped before reading the header".into(),
        )),
    }
}

struct XlsxSource {
    rx: Receiver<Message>,
    header: Vec<String>,
    current: std::vec::IntoIter<Item>,
    /// The line of the last item handed out, to place a break-off.
    last_line: u64,
    stopped: Option<ReadError>,
    done: bool,
}

impl RecordSource for XlsxSource {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn stopped(&self) -> Option<&ReadError> {
        self.stopped.as_ref()
    }
}

impl Iterator for XlsxSource {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.current.next() {
                self.last_line = match &item {
                    Ok(r) => r.line,
                    Err(e) => e.line(),
                };
                return Some(item);
            }
            if self.done {
                return None;
            }
            let (line, error) = match self.rx.recv() {
                Ok(Message::Rows(rows)) => {
                    self.current = rows.into_iter();
                    continue;
                }
                Ok(Message::End) => {
                    self.done = true;
                    return None;
                }
                Ok(Message::Stopped { line, error }) => (line, error),
                // Cannot come after the header; treat like a broken-off reader.
                Ok(Message::Header(_) | Message::Failed(_)) | Err(_) => (
                    self.last_line + 1,
                    ReadError::Xlsx("the workbook reader stopped unexpectedly".into()),
                ),
            };
            self.done = true;
            self.stopped = Some(error);
            return Some(Err(RecordError::Malformed {
                line,
                message: "the sheet could not be read past this row (is the file damaged?); \
                          reading stopped"
                    .into(),
            }));
        }
    }
}

fn xlsx_error(e: XlsxError) -> ReadError {
    ReadError::Xlsx(e.to_string())
}

/// The sheet's thread: opens the workbook, sends the header, then the rows in chunks.
/// Returns an error only before the header is sent; later problems are sent as `Stopped`.
fn read_sheet(path: &Path, sheet: Option<&str>, tx: &SyncSender<Message>) -> Result<(), ReadError> {
    let file = File::open(path)?;
    let mut workbook: Xlsx<BufReader<File>> =
        Xlsx::new(BufReader::with_capacity(64 * 1024, file)).map_err(xlsx_error)?;
    let name = choose_sheet(workbook.sheets_metadata(), sheet)?;
    let mut cells = workbook.worksheet_cells_reader(&name).map_err(xlsx_error)?;
    let mut rows = Rows {
        pending: None,
        row: Vec::new(),
        finished: false,
    };

    // The header: the first row with anything in it.
    let (header, first_col) = loop {
        let Some(index) = rows.next(&mut cells).map_err(xlsx_error)? else {
            return Err(ReadError::Empty);
        };
        if let Some(found) = header_of(&rows.row, u64::from(index) + 1)? {
            break found;
        }
    };
    if tx.send(Message::Header(header.clone())).is_err() {
        return Ok(());
    }

    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut last_line = 1;
    loop {
        match rows.next(&mut cells) {
            Ok(Some(index)) => {
                last_line = u64::from(index) + 1;
                if let Some(item) = convert_row(&mut rows.row, &header, first_col, last_line) {
                    chunk.push(item);
                }
                if chunk.len() == CHUNK_ROWS {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                    if tx.send(Message::Rows(full)).is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(None) => {
                if !chunk.is_empty() && tx.send(Message::Rows(chunk)).is_err() {
                    return Ok(());
                }
                let _ = tx.send(Message::End);
                return Ok(());
            }
            Err(e) => {
                if !chunk.is_empty() && tx.send(Message::Rows(chunk)).is_err() {
                    return Ok(());
                }
                let _ = tx.send(Message::Stopped {
                    line: last_line + 1,
                    error: xlsx_error(e),
                });
                return Ok(());
            }
        }
    }
}

/// The named worksheet, or the first visible one (the one Excel opens on), or failing that
/// the first worksheet. Chart and macro sheets hold no rows and are never chosen.
fn choose_sheet(sheets: &[calamine::Sheet], wanted: Option<&str>) -> Result<String, ReadError> {
    let worksheets: Vec<&calamine::Sheet> = sheets
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .collect();
    match wanted {
        Some(wanted) => worksheets
            .iter()
            .find(|s| s.name == wanted)
            .or_else(|| {
                let wanted = wanted.trim().to_lowercase();
                worksheets
                    .iter()
                    .find(|s| s.name.trim().to_lowercase() == wanted)
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| ReadError::SheetNotFound {
                sheet: wanted.to_owned(),
                available: worksheets.iter().map(|s| s.name.clone()).collect(),
            }),
        None => worksheets
            .iter()
            .find(|s| s.visible == SheetVisible::Visible)
            .or_else(|| worksheets.first())
            .map(|s| s.name.clone())
            .ok_or(ReadError::Empty),
    }
}

/// A cell's value as text, or the spreadsheet error it holds.
enum CellText {
    Text(String),
    Blank,
    Error(CellErrorType),
}

impl CellText {
    fn is_blank(&self) -> bool {
        match self {
            CellText::Text(s) => s.trim().is_empty(),
            CellText::Blank => true,
            CellText::Error(_) => false,
        }
    }
}

fn cell_text(value: DataRef<'_>) -> CellText {
    match value {
        DataRef::Int(i) => CellText::Text(i.to_string()),
        DataRef::Float(f) => CellText::Text(number_text(f)),
        DataRef::String(s) => CellText::Text(s),
        DataRef::SharedString(s) => CellText::Text(s.to_owned()),
        DataRef::Bool(b) => CellText::Text(b.to_string()),
        DataRef::DateTime(dt) => CellText::Text(datetime_text(&dt)),
        DataRef::DateTimeIso(s) => CellText::Text(match s.strip_suffix("T00:00:00") {
            Some(date) => date.to_owned(),
            None => s,
        }),
        DataRef::DurationIso(s) => CellText::Text(s),
        DataRef::Error(e) => CellText::Error(e),
        DataRef::Empty => CellText::Blank,
    }
}

/// A number as Excel shows it in General format, without the exponent: whole numbers
/// without a fraction (234567890123, not 2.34567890123e11 or 234567890123.0). Rust's
/// `Display` for floats never uses an exponent and drops a zero fraction.
fn number_text(f: f64) -> String {
    if f == 0.0 {
        // Also turns -0 into 0.
        return "0".into();
    }
    f.to_string()
}

/// A date cell as YYYY-MM-DD; with its time when it has one; a bare time as HH:MM:SS.
fn datetime_text(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        return number_text(dt.as_f64());
    }
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let serial = dt.as_f64();
    if (0.0..1.0).contains(&serial) {
        format!("{h:02}:{mi:02}:{s:02}")
    } else if (h, mi, s, ms) == (0, 0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

/// Groups the sheet's cells, which come in XML order, into rows.
struct Rows {
    /// The first cell of the next row, read while looking for the end of this one.
    pending: Option<(u32, u32, CellText)>,
    /// The current row's cells: (column, value). Reused from row to row.
    row: Vec<(u32, CellText)>,
    /// The cell reader has reported the sheet's end; asking again would read past it.
    finished: bool,
}

impl Rows {
    /// Reads the next row into `self.row` and returns its (0-based) index.
    fn next(
        &mut self,
        cells: &mut XlsxCellReader<'_, BufReader<File>>,
    ) -> Result<Option<u32>, XlsxError> {
        self.row.clear();
        let mut index = None;
        if let Some((r, c, v)) = self.pending.take() {
            index = Some(r);
            self.row.push((c, v));
        }
        while !self.finished {
            let Some(cell) = cells.next_cell()? else {
                self.finished = true;
                break;
            };
            let (r, c) = cell.get_position();
            let value = cell_text(cell.get_value().clone());
            match index {
                None => index = Some(r),
                Some(current) if current != r => {
                    self.pending = Some((r, c, value));
                    return Ok(index);
                }
                Some(_) => {}
            }
            self.row.push((c, value));
        }
        Ok(index)
    }
}

/// The header from a row, with the column it starts at; `None` if the row is blank.
fn header_of(row: &[(u32, CellText)], line: u64) -> Result<Option<(Vec<String>, u32)>, ReadError> {
    let used = || row.iter().filter(|(_, v)| !v.is_blank()).map(|(c, _)| *c);
    let (Some(first), Some(last)) = (used().min(), used().max()) else {
        return Ok(None);
    };
    if last - first >= MAX_COLUMNS {
        // Only a crafted file gets here; refuse before sizing anything by it.
        return Err(ReadError::Malformed {
            line,
            message: format!("the header spans more than {MAX_COLUMNS} columns"),
        });
    }
    let mut names = vec![String::new(); (last - first) as usize + 1];
    for (col, value) in row {
        let Some(slot) = col
            .checked_sub(first)
            .and_then(|i| names.get_mut(i as usize))
        else {
            continue;
        };
        match value {
            CellText::Text(s) if s.len() > MAX_FIELD_BYTES => {
                return Err(ReadError::Malformed {
                    line,
                    message: format!("a column name is larger than {MAX_FIELD_BYTES} bytes"),
                });
            }
            CellText::Text(s) => slot.clone_from(s),
            CellText::Blank => {}
            CellText::Error(e) => {
                return Err(ReadError::Malformed {
                    line,
                    message: format!(
                        "the header holds the spreadsheet error {e} in column {}",
                        column_letters(*col)
                    ),
                });
            }
        }
    }
    Ok(Some((check_header(names)?, first)))
}

/// A data row as a record (`None` if blank); the row's cells are taken.
fn convert_row(
    row: &mut Vec<(u32, CellText)>,
    header: &[String],
    first_col: u32,
    line: u64,
) -> Option<Item> {
    if row.iter().all(|(_, v)| v.is_blank()) {
        return None;
    }
    let width = header.len();
    let mut fields = vec![String::new(); width];
    let mut beyond = 0usize;
    for (col, value) in row.drain(..) {
        if value.is_blank() {
            continue;
        }
        let Some(i) = col.checked_sub(first_col).map(|i| i as usize) else {
            return Some(Err(RecordError::Malformed {
                line,
                message: format!(
                    "column {} holds a value but lies left of the header",
                    column_letters(col)
                ),
            }));
        };
        if i >= width {
            beyond = beyond.max(i + 1);
            continue;
        }
        match value {
            CellText::Text(s) if s.len() > MAX_FIELD_BYTES => {
                return Some(Err(RecordError::FieldTooLarge {
                    line,
                    column: column_label(header, i),
                    limit: MAX_FIELD_BYTES,
                }));
            }
            CellText::Text(s) => fields[i] = s,
            CellText::Blank => {}
            CellText::Error(e) => {
                return Some(Err(RecordError::Malformed {
                    line,
                    message: format!(
                        "column {} holds the spreadsheet error {e}",
                        column_label(header, i)
                    ),
                }));
            }
        }
    }
    if beyond > 0 {
        return Some(Err(RecordError::Malformed {
            line,
            message: too_many_fields(width, beyond),
        }));
    }
    Some(Ok(RawRecord {
        line,
        fields: fields.into(),
    }))
}

/// A 0-based column index as Excel's letters: 0 → A, 26 → AA.
fn column_letters(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn numbers_print_as_shown() {
        assert_eq!(number_text(234567890123.0), "234567890123");
        assert_eq!(number_text(9876543210.0), "9876543210");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(1e20), "100000000000000000000");
        assert_eq!(number_text(0.000001), "0.000001");
    }

    #[test]
    fn dates_and_times() {
        let dt = |v| ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false);
        assert_eq!(datetime_text(&dt(45943.0)), "2025-10-13");
        assert_eq!(datetime_text(&dt(45943.5)), "2025-10-13 12:00:00");
        assert_eq!(datetime_text(&dt(0.75)), "18:00:00");
        assert!(!datetime_text(&dt(f64::NAN)).is_empty());
    }

    #[test]
    fn letters() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16383), "XFD");
    }
}
