//! The CSV reader: UTF-8 with or without BOM, the delimiter sniffed from the header line
//! (comma, semicolon, tab or pipe), quoted fields with embedded delimiters, quotes and
//! newlines, CRLF or LF line ends.
//!
//! Records are parsed by the `csv` crate into one reused byte record and checked one at a
//! time, so that invalid UTF-8 or an oversized field rejects that record only. A guard on the
//! input caps how much of one record is ever buffered ([`MAX_RECORD_BYTES`]): a quote that is
//! never closed would otherwise pull the whole rest of the file into memory as one field.
//!
//! Line numbers are worked out here rather than taken from the parser: the `csv` crate
//! dates a record from the end of the one before, so with CRLF line ends, or blank lines in
//! between, its line is an earlier one than the record's (see `CsvSource::record_line`).
//! Files with bare CR line ends (old Mac) read correctly but their records all report line 1.

use std::io::{self, Cursor, Read};

use csv::ByteRecord;

use super::{
    MAX_FIELD_BYTES, MAX_RECORD_BYTES, ReadError, RecordSource, check_header, column_label,
    read_head, strip_bom, too_many_fields,
};
use crate::{Fields, RawRecord, RecordError};

/// How much of the input is looked at to choose the delimiter.
const SNIFF_WINDOW: usize = 64 * 1024;

/// The delimiters a department's file may use, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The parser's input buffer. The parser never holds more than this of the input beyond
/// what it has consumed, which is what lets [`Guarded`] remember enough of it.
const PARSER_BUFFER: usize = 64 * 1024;
/// How much of the input [`Guarded`] remembers: twice the parser's buffer, to be safe.
const RECENT_BYTES: usize = 2 * PARSER_BUFFER;

/// Opens a CSV stream. The header is read (and checked) now; records are read as the
/// returned source is iterated.
///
/// Rows with fewer fields than the header are padded with empty strings. Rows with more are
/// rejected, unless the extra fields are all empty (trailing delimiters, as spreadsheets
/// leave them), in which case they are dropped. Rows whose fields are all empty or blank are
/// skipped. `line` is the physical line where a record starts.
pub fn csv_source<R: Read + Send + 'static>(
    mut reader: R,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let head = read_head(&mut reader, SNIFF_WINDOW)?;
    let bom = head.len() - strip_bom(&head).len();
    let delimiter = sniff_delimiter(&head[bom..]);
    let mut body = Cursor::new(head);
    body.set_position(bom as u64);

    let guarded = Guarded {
        inner: body.chain(reader),
        delivered: 0,
        record_start: 0,
        recent: vec![0; RECENT_BYTES],
    };
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(PARSER_BUFFER)
        .from_reader(guarded);
    let mut source = CsvSource {
        reader,
        header: Vec::new(),
        record: ByteRecord::new(),
        next_line: 1,
        stopped: None,
        done: false,
    };

    let line = match source.reader.read_byte_record(&mut source.record) {
        Ok(true) => source.record_line(),
        Ok(false) => return Err(ReadError::Empty),
        Err(e) if is_guard_error(&e) => {
            return Err(ReadError::Malformed {
                line: 1,
                message: record_too_large_message(),
            });
        }
        Err(e) => return Err(ReadError::Io(e.to_string())),
    };
    let mut names = Vec::with_capacity(source.record.len());
    for field in source.record.iter() {
        if field.len() > MAX_FIELD_BYTES {
            return Err(ReadError::Malformed {
                line,
                message: format!("a column name is larger than {MAX_FIELD_BYTES} bytes"),
            });
        }
        let Ok(name) = std::str::from_utf8(field) else {
            return Err(ReadError::Malformed {
                line,
                message: "the header is not valid UTF-8".into(),
            });
        };
        names.push(name.to_owned());
    }
    source.header = check_header(names)?;
    Ok(Box::new(source))
}

struct CsvSource<R: Read> {
    reader: csv::Reader<Guarded<R>>,
    header: Vec<String>,
    /// Reused for every record, so that reading allocates only for the values handed out.
    record: ByteRecord,
    /// Where the next record starts unless blank lines come first: to place a break-off.
    next_line: u64,
    stopped: Option<ReadError>,
    done: bool,
}

impl<R: Read> CsvSource<R> {
    /// The physical line where the record just read starts; also notes where the next one
    /// would, and moves the guard's record start on.
    ///
    /// After a record the parser has counted every `\n` up to the record's end (its line is
    /// one more than that count). Of those, the record's own sit inside its quoted fields,
    /// which keep them, and the byte that ended it is either a `\n` (counted), a `\r` (CRLF:
    /// its `\n` is counted with the next record) or the end of the file. The rest are the
    /// newlines before the record: the line it starts on is one more than their number.
    fn record_line(&mut self) -> u64 {
        let end = self.reader.position().clone();
        let guard = self.reader.get_mut();
        guard.record_start = end.byte();
        let ended_by_newline = end
            .byte()
            .checked_sub(1)
            .and_then(|b| guard.byte_at(b))
            .is_some_and(|b| b == b'\n');
        let inner = self
            .record
            .as_slice()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        let line = end
            .line()
            .saturating_sub(inner + u64::from(ended_by_newline))
            .max(1);
        self.next_line = line + inner + 1;
        line
    }
}

impl<R: Read + Send> RecordSource for CsvSource<R> {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn stopped(&self) -> Option<&ReadError> {
        self.stopped.as_ref()
    }
}

impl<R: Read> Iterator for CsvSource<R> {
    type Item = Result<RawRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => self.done = true,
                Ok(true) => {
                    let line = self.record_line();
                    let item = convert(&self.record, &self.header, line);
                    if self.record.as_slice().len() > 4 * MAX_FIELD_BYTES {
                        // Give back the memory of an outsized record rather than keep it
                        // for the rest of the file.
                        self.record = ByteRecord::new();
                    }
                    if let Some(item) = item {
                        return Some(item);
                    }
                }
                Err(e) => {
                    self.done = true;
                    // The failing record starts after the last good one.
                    let line = self.next_line;
                    let message = if is_guard_error(&e) {
                        let message = record_too_large_message();
                        self.stopped = Some(ReadError::Malformed {
                            line,
                            message: message.clone(),
                        });
                        message
                    } else {
                        self.stopped = Some(ReadError::Io(e.to_string()));
                        "the file could not be read past this line; reading stopped".into()
                    };
                    return Some(Err(RecordError::Malformed { line, message }));
                }
            }
        }
        None
    }
}

/// Turns a parsed record into a raw record, or the reason it cannot be one; `None` for a
/// record with nothing in it.
fn convert(
    record: &ByteRecord,
    header: &[String],
    line: u64,
) -> Option<Result<RawRecord, RecordError>> {
    if record
        .iter()
        .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
    {
        return None;
    }
    if let Some(i) = record.iter().position(|f| f.len() > MAX_FIELD_BYTES) {
        return Some(Err(RecordError::FieldTooLarge {
            line,
            column: column_label(header, i),
            limit: MAX_FIELD_BYTES,
        }));
    }
    let expected = header.len();
    if record.len() > expected && record.iter().skip(expected).any(|f| !f.is_empty()) {
        return Some(Err(RecordError::Malformed {
            line,
            message: too_many_fields(expected, record.len()),
        }));
    }
    // Checked once for the whole record rather than field by field (a call per field was a
    // measurable part of reading), and copied out whole: the record's values lie one after
    // the other in it. A value that starts or ends inside a character (bytes of one
    // character split by a delimiter) makes `Fields::from_parts` refuse the record.
    let Ok(text) = std::str::from_utf8(record.as_slice()) else {
        return Some(Err(RecordError::InvalidUtf8 { line }));
    };
    let kept = record.len().min(expected);
    let mut ends = Vec::with_capacity(expected);
    ends.extend((0..kept).map(|i| record.range(i).map_or(0, |r| r.end)));
    let end = ends.last().copied().unwrap_or(0);
    let Some(mut fields) = text
        .get(..end)
        .and_then(|t| Fields::from_parts(t.to_owned(), ends))
    else {
        return Some(Err(RecordError::InvalidUtf8 { line }));
    };
    fields.resize(expected);
    Some(Ok(RawRecord { line, fields }))
}

/// Chooses the delimiter that splits the header line into the most fields, preferring one
/// that splits the next line into as many (a delimiter that also appears inside values
/// rarely does). Counting skips quoted text. Comma when nothing else fits.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let lines = count_per_line(head, 2);
    let Some(first) = lines.first() else {
        return b',';
    };
    let second = lines.get(1);
    let mut best = (false, 0usize, b',');
    for (i, &d) in DELIMITERS.iter().enumerate() {
        let count = first[i];
        if count == 0 {
            continue;
        }
        let consistent = second.is_none_or(|s| s[i] == count);
        if (consistent, count) > (best.0, best.1) {
            best = (consistent, count, d);
        }
    }
    best.2
}

/// Counts each candidate delimiter outside quotes, for the first `max_lines` non-blank lines
/// (a line ends at a newline outside quotes). An incomplete last line counts only if it is
/// the first: the header may be longer than the sniffing window, the second line should be
/// whole to be compared.
fn count_per_line(text: &[u8], max_lines: usize) -> Vec<[usize; 4]> {
    let mut lines = Vec::with_capacity(max_lines);
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    let mut has_content = false;
    for &b in text {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                has_content = true;
            }
            b'\n' if !in_quotes => {
                if has_content {
                    lines.push(counts);
                    if lines.len() == max_lines {
                        return lines;
                    }
                }
                counts = [0; 4];
                has_content = false;
            }
            b'\r' => {}
            _ => {
                has_content = true;
                if !in_quotes && let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
                    counts[i] += 1;
                }
            }
        }
    }
    if has_content && lines.is_empty() {
        lines.push(counts);
    }
    lines
}

/// The input as the CSV parser sees it. It refuses to hand over more once one record has
/// grown past [`MAX_RECORD_BYTES`], and remembers the last [`RECENT_BYTES`] it handed over,
/// so that the source can tell which byte ended a record.
struct Guarded<R> {
    inner: R,
    /// Bytes handed to the parser so far.
    delivered: u64,
    /// Where the record being parsed starts (the end of the one before); set by the source.
    record_start: u64,
    /// The last bytes handed over, each at its offset modulo the length.
    recent: Vec<u8>,
}

impl<R> Guarded<R> {
    /// The byte at `offset` of the input, if it is recent enough to be remembered.
    fn byte_at(&self, offset: u64) -> Option<u8> {
        let size = self.recent.len() as u64;
        if offset >= self.delivered || self.delivered - offset > size {
            return None;
        }
        self.recent.get((offset % size) as usize).copied()
    }

    fn remember(&mut self, bytes: &[u8]) {
        let size = self.recent.len();
        // Only the last `size` bytes can matter.
        let skip = bytes.len().saturating_sub(size);
        let mut offset = self.delivered + skip as u64;
        let mut rest = &bytes[skip..];
        while !rest.is_empty() {
            let at = (offset % size as u64) as usize;
            let n = rest.len().min(size - at);
            self.recent[at..at + n].copy_from_slice(&rest[..n]);
            offset += n as u64;
            rest = &rest[n..];
        }
    }
}

#[derive(Debug)]
struct RecordTooLarge;

impl std::fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a record is larger than {MAX_RECORD_BYTES} bytes")
    }
}

impl std::error::Error for RecordTooLarge {}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.delivered.saturating_sub(self.record_start) > MAX_RECORD_BYTES as u64 {
            return Err(io::Error::other(RecordTooLarge));
        }
        let n = self.inner.read(buf)?;
        self.remember(buf.get(..n).unwrap_or_default());
        self.delivered += n as u64;
        Ok(n)
    }
}

fn is_guard_error(e: &csv::Error) -> bool {
    match e.kind() {
        csv::ErrorKind::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.is::<RecordTooLarge>()),
        _ => false,
    }
}

fn record_too_large_message() -> String {
    format!(
        "the record starting here is larger than {MAX_RECORD_BYTES} bytes \
         (is a quote never closed?); reading stopped"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\r\n1;2,5;3\r\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n1\t2\t3"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|c\n"), b'|');
        assert_eq!(sniff_delimiter(b"name\n"), b',');
        assert_eq!(sniff_delimiter(b""), b',');
        // Commas inside quotes do not count.
        assert_eq!(sniff_delimiter(b"\"a,b,c\";d\n\"1,2\";3\n"), b';');
        // The header has more commas than semicolons, but only the semicolons agree with
        // the next line.
        assert_eq!(sniff_delimiter(b"a;b, c, d;e\n1;2;3\n"), b';');
        // Leading blank lines are not the header.
        assert_eq!(sniff_delimiter(b"\r\n\na;b\n"), b';');
    }
}
