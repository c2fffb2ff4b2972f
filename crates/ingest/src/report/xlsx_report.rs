//! The rejection report as an XLSX workbook, for officers who work in Excel: the same
//! columns as the CSV report, the header bold and frozen, columns sized to their content.
//!
//! Every value is written as a string cell, never as a formula, and neutralised as well, so
//! that it stays inert if the sheet is later saved as CSV and opened again. The workbook is
//! built in memory (`rust_xlsxwriter` works that way) and is bounded by Excel's limits:
//! 1,048,575 rows under the header, 32,767 characters a cell. Larger reports are for the
//! CSV writer.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{RejectedRow, ReportError, neutralise, report_cells, report_fields, report_header};

/// Excel's rows a sheet (the header included).
const MAX_ROWS: u32 = 1_048_576;
/// Excel's columns a sheet.
const MAX_COLUMNS: usize = 16_384;
/// Excel's characters a cell, counted in UTF-16 units.
const MAX_CELL_UNITS: usize = 32_767;
/// Column widths, in characters: at least enough for short codes, at most what fits a
/// screen; long messages wrap onto one line and are read in the formula bar.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 60;

fn xlsx_error(e: XlsxError) -> ReportError {
    ReportError::Xlsx(e.to_string())
}

/// Builds the XLSX rejection report for a file with this header and returns the workbook's
/// bytes. The `line` column holds numbers (so that it sorts); every other cell is text.
pub fn rejections_xlsx(
    header: &[String],
    rows: impl IntoIterator<Item = RejectedRow>,
) -> Result<Vec<u8>, ReportError> {
    let columns = report_header(header);
    if columns.len() > MAX_COLUMNS {
        return Err(ReportError::TooManyColumns { limit: MAX_COLUMNS });
    }
    let width = header.len();
    let line_column = width as u16;

    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Rejected rows").map_err(xlsx_error)?;

    let mut widths: Vec<usize> = columns.iter().map(|c| display_width(c)).collect();
    for (c, name) in columns.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, cell_text(name), &bold)
            .map_err(xlsx_error)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;

    // Rows after the header, numbered from 1; past the last row Excel has, the numbering
    // runs out and the report cannot be built.
    let mut numbers = 1..MAX_ROWS;
    for row in rows {
        let Some(r) = numbers.next() else {
            return Err(ReportError::TooManyRows {
                limit: MAX_ROWS as usize - 1,
            });
        };
        let [line, codes, messages] = report_cells(&row, width);
        for (c, value) in report_fields(&row, width).enumerate() {
            write_text(sheet, r, c, value, &mut widths)?;
        }
        sheet
            .write_number(r, line_column, row.line as f64)
            .map_err(xlsx_error)?;
        widths[width] = widths[width].max(line.len());
        write_text(sheet, r, width + 1, &codes, &mut widths)?;
        write_text(sheet, r, width + 2, &messages, &mut widths)?;
    }

    for (c, w) in widths.iter().enumerate() {
        let w = (*w + 2).clamp(MIN_WIDTH, MAX_WIDTH);
        sheet
            .set_column_width(c as u16, w as f64)
            .map_err(xlsx_error)?;
    }
    workbook.save_to_buffer().map_err(xlsx_error)
}

fn write_text(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: usize,
    value: &str,
    widths: &mut [usize],
) -> Result<(), ReportError> {
    if value.is_empty() {
        return Ok(());
    }
    if let Some(w) = widths.get_mut(col) {
        *w = (*w).max(display_width(value));
    }
    sheet
        .write_string(row, col as u16, cell_text(value))
        .map_err(xlsx_error)?;
    Ok(())
}

/// A value as a cell's text: neutralised, and cut to what a cell holds (a longer value could
/// not have come from Excel; the CSV report keeps it whole). A cut ends with "…".
fn cell_text(value: &str) -> String {
    let safe = neutralise(value);
    if safe.len() <= MAX_CELL_UNITS {
        // Never more UTF-16 units than UTF-8 bytes.
        return safe.into_owned();
    }
    let mut units = 0;
    let mut cut = String::with_capacity(MAX_CELL_UNITS);
    for ch in safe.chars() {
        units += ch.len_utf16();
        if units > MAX_CELL_UNITS - 1 {
            break;
        }
        cut.push(ch);
    }
    cut.push('…');
    cut
}

/// The width a value needs, roughly, in characters: its longest line, capped.
fn display_width(value: &str) -> usize {
    value
        .lines()
        .map(|l| l.chars().take(MAX_WIDTH).count())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_to_a_cell() {
        let long = "अ".repeat(40_000);
        let cut = cell_text(&long);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_UNITS);
        assert!(cut.ends_with('…'));
        let emoji = "😀".repeat(20_000);
        assert!(cell_text(&emoji).encode_utf16().count() <= MAX_CELL_UNITS);
        assert_eq!(cell_text("=1"), "'=1");
    }
}
