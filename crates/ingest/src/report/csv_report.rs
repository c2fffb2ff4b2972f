//! CSV output for people: UTF-8 with a byte order mark (without it Excel reads UTF-8 as the
//! local code page and Indian scripts come out garbled), CRLF line ends (what Excel writes
//! and expects), every cell neutralised. Writers stream to any `Write`: a report of a
//! million rejected rows never sits in memory.

use std::fmt;
use std::io::Write;

use super::{RejectedRow, ReportError, neutralise, report_cells, report_fields, report_header};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A CSV writer for the hub's outputs: a header, then rows of as many cells, every cell
/// (header included) neutralised.
pub struct SafeCsvWriter<W: Write> {
    inner: csv::Writer<W>,
    width: usize,
    rows: u64,
}

impl<W: Write> fmt::Debug for SafeCsvWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeCsvWriter")
            .field("width", &self.width)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<W: Write> SafeCsvWriter<W> {
    /// Starts a CSV meant to be opened by people: with a byte order mark, so that Excel
    /// reads it as UTF-8. Writes the header.
    pub fn new<S: AsRef<str>>(out: W, header: &[S]) -> Result<Self, ReportError> {
        Self::start(out, header, true)
    }

    /// Starts a CSV meant for programs, which may take a byte order mark for part of the
    /// first column's name. Writes the header.
    pub fn without_bom<S: AsRef<str>>(out: W, header: &[S]) -> Result<Self, ReportError> {
        Self::start(out, header, false)
    }

    /// Goes on with a CSV that another writer began (a response sent a page at a time, each
    /// page written apart): rows of `width` cells, no byte order mark and no header.
    pub fn continuing(out: W, width: usize) -> Self {
        SafeCsvWriter {
            inner: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(out),
            width,
            rows: 0,
        }
    }

    fn start<S: AsRef<str>>(mut out: W, header: &[S], bom: bool) -> Result<Self, ReportError> {
        if bom {
            out.write_all(BOM)?;
        }
        let inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        let mut writer = SafeCsvWriter {
            inner,
            width: header.len(),
            rows: 0,
        };
        writer.write_cells(header.iter().map(AsRef::as_ref), header.len())?;
        writer.rows = 0;
        Ok(writer)
    }

    /// Writes one row; it must have as many cells as the header.
    pub fn write_row<S: AsRef<str>>(&mut self, row: &[S]) -> Result<(), ReportError> {
        self.write_cells(row.iter().map(AsRef::as_ref), row.len())
    }

    /// Writes `count` cells as one record, each neutralised.
    fn write_cells<'a>(
        &mut self,
        cells: impl Iterator<Item = &'a str>,
        count: usize,
    ) -> Result<(), ReportError> {
        if count != self.width {
            return Err(ReportError::FieldCount {
                expected: self.width,
                found: count,
            });
        }
        if count == 0 {
            // A record of no fields would come out as an empty line, which readers skip.
            return Ok(());
        }
        for cell in cells {
            self.inner.write_field(neutralise(cell).as_bytes())?;
        }
        self.inner.write_record(std::iter::empty::<&[u8]>())?;
        self.rows += 1;
        Ok(())
    }

    /// How many rows have been written, the header not counted.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hands what is buffered to the output, so that a report streamed in pieces (an HTTP
    /// response page by page) sends each piece as it is written.
    pub fn flush(&mut self) -> Result<(), ReportError> {
        self.inner.flush()?;
        Ok(())
    }

    /// Flushes what is buffered and gives back the output.
    pub fn finish(self) -> Result<W, ReportError> {
        self.inner
            .into_inner()
            .map_err(|e| ReportError::Io(e.error().to_string()))
    }
}

/// The rejection report as CSV: the uploaded file's header and each rejected row's values as
/// they came, then `line`, `error_codes` and `error_messages` (each list joined with "; "),
/// so that the officer can fix the rows in place and upload them again.
#[derive(Debug)]
pub struct RejectionCsvWriter<W: Write> {
    inner: SafeCsvWriter<W>,
    /// The number of the uploaded file's own columns.
    width: usize,
}

impl<W: Write> RejectionCsvWriter<W> {
    /// Starts a report for a file with this header and writes the report's header.
    pub fn new(out: W, header: &[String]) -> Result<Self, ReportError> {
        Ok(RejectionCsvWriter {
            inner: SafeCsvWriter::new(out, &report_header(header))?,
            width: header.len(),
        })
    }

    pub fn write(&mut self, row: &RejectedRow) -> Result<(), ReportError> {
        let extra = report_cells(row, self.width);
        let cells = report_fields(row, self.width).chain(extra.iter().map(String::as_str));
        self.inner.write_cells(cells, self.width + extra.len())
    }

    /// How many rows have been written.
    pub fn rows(&self) -> u64 {
        self.inner.rows()
    }

    pub fn finish(self) -> Result<W, ReportError> {
        self.inner.finish()
    }
}
