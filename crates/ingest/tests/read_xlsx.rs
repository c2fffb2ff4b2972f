//! The XLSX reader on workbooks written here with rust_xlsxwriter: number cells holding ID
//! and mobile numbers, dates, empty cells, several sheets, tables that do not start at A1.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use sangam_ingest::read::{ReadError, xlsx_source};
use sangam_ingest::{RawRecord, RecordError};

fn rec(line: u64, fields: &[&str]) -> Result<RawRecord, RecordError> {
    Ok(RawRecord {
        line,
        fields: fields.iter().map(|s| s.to_string()).collect(),
    })
}

/// Writes the test workbook: "Members" (first), "Cards", "Offset" and an empty "Notes".
fn write_workbook(dir: &Path) -> PathBuf {
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");

    let members = workbook.add_worksheet();
    members.set_name("Members").expect("names");
    for (c, name) in [
        "id_number",
        "mobile",
        "name",
        "dob",
        "remark",
        "widow",
        "share",
    ]
    .iter()
    .enumerate()
    {
        members.write_string(0, c as u16, *name).expect("writes");
    }
    members.write_number(1, 0, 234567890123.0).expect("writes");
    members.write_number(1, 1, 9876543210.0).expect("writes");
    members.write_string(1, 2, "सीता देवी").expect("writes");
    let dob = ExcelDateTime::from_ymd(1960, 5, 17).expect("a date");
    members
        .write_datetime_with_format(1, 3, &dob, &date)
        .expect("writes");
    // Column 4 (remark) left empty.
    members.write_boolean(1, 5, true).expect("writes");
    members.write_number(1, 6, 0.25).expect("writes");

    members.write_string(2, 0, "345678901234").expect("writes");
    members
        .write_string(2, 2, "=HYPERLINK(\"x\")")
        .expect("writes");
    // Row 4 (index 3) is blank; row 5 has a value beyond the header.
    members.write_string(4, 0, "456789012345").expect("writes");
    members.write_string(4, 8, "stray").expect("writes");
    members.write_string(5, 0, "567890123456").expect("writes");

    let cards = workbook.add_worksheet();
    cards.set_name("Cards").expect("names");
    cards.write_string(0, 0, "card_no").expect("writes");
    cards.write_string(0, 1, "head").expect("writes");
    cards.write_string(1, 0, "RC-0001").expect("writes");
    cards.write_string(1, 1, "Ravi").expect("writes");

    // A table starting at B3, with a value left of it in row 5.
    let offset = workbook.add_worksheet();
    offset.set_name("Offset").expect("names");
    offset.write_string(0, 0, "").expect("writes");
    offset.write_string(2, 1, "a").expect("writes");
    offset.write_string(2, 2, "b").expect("writes");
    offset.write_number(3, 1, 1.0).expect("writes");
    offset.write_number(3, 2, 2.0).expect("writes");
    offset.write_string(4, 0, "stray-value").expect("writes");
    offset.write_number(4, 1, 3.0).expect("writes");

    let notes = workbook.add_worksheet();
    notes.set_name("Notes").expect("names");

    let path = dir.join("members.xlsx");
    workbook.save(&path).expect("saves");
    path
}

#[test]
fn first_sheet_values_as_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_workbook(dir.path());
    let source = xlsx_source(&path, None).expect("opens");
    assert_eq!(
        source.header(),
        [
            "id_number",
            "mobile",
            "name",
            "dob",
            "remark",
            "widow",
            "share"
        ]
    );
    let rows: Vec<_> = source.collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(
        rows[0],
        rec(
            2,
            &[
                "234567890123",
                "9876543210",
                "सीता देवी",
                "1960-05-17",
                "",
                "true",
                "0.25"
            ]
        )
    );
    assert_eq!(
        rows[1],
        rec(
            3,
            &["345678901234", "", "=HYPERLINK(\"x\")", "", "", "", ""]
        )
    );
    // The blank row 4 is skipped; row 5 has a value beyond the header.
    assert_eq!(
        rows[2],
        Err(RecordError::Malformed {
            line: 5,
            message: "expected 7 fields, found 9".into()
        })
    );
    assert_eq!(rows[3], rec(6, &["567890123456", "", "", "", "", "", ""]));
}

#[test]
fn named_sheet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_workbook(dir.path());
    for name in ["Cards", " cards "] {
        let source = xlsx_source(&path, Some(name)).expect("opens");
        assert_eq!(source.header(), ["card_no", "head"]);
        let rows: Vec<_> = source.collect();
        assert_eq!(rows, [rec(2, &["RC-0001", "Ravi"])]);
    }
}

#[test]
fn table_not_at_a1_keeps_sheet_row_numbers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_workbook(dir.path());
    let source = xlsx_source(&path, Some("Offset")).expect("opens");
    assert_eq!(source.header(), ["a", "b"]);
    let rows: Vec<_> = source.collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], rec(4, &["1", "2"]));
    match &rows[1] {
        Err(RecordError::Malformed { line: 5, message }) => {
            assert!(message.contains("column A"), "{message}");
            assert!(!message.contains("stray-value"), "{message}");
        }
        other => panic!("expected a malformed row 5, got {other:?}"),
    }
}

#[test]
fn missing_sheet_lists_the_sheets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_workbook(dir.path());
    let err = xlsx_source(&path, Some("Schemes")).err().expect("fails");
    assert_eq!(
        err,
        ReadError::SheetNotFound {
            sheet: "Schemes".into(),
            available: vec![
                "Members".into(),
                "Cards".into(),
                "Offset".into(),
                "Notes".into()
            ],
        }
    );
    assert_eq!(
        err.to_string(),
        "the workbook has no sheet named \"Schemes\"; its sheets are: Members, Cards, Offset, Notes"
    );
}

#[test]
fn empty_sheet_and_broken_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_workbook(dir.path());
    assert_eq!(
        xlsx_source(&path, Some("Notes")).err(),
        Some(ReadError::Empty)
    );

    let broken = dir.path().join("broken.xlsx");
    std::fs::write(&broken, b"PK\x03\x04 not really a zip").expect("writes");
    assert!(matches!(
        xlsx_source(&broken, None).err(),
        Some(ReadError::Xlsx(_))
    ));
    assert!(matches!(
        xlsx_source(&dir.path().join("absent.xlsx"), None).err(),
        Some(ReadError::Io(_))
    ));
}

#[test]
fn many_rows_stream_in_chunks_and_dropping_early_is_fine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "n").expect("writes");
    for r in 1..=5000u32 {
        sheet.write_number(r, 0, f64::from(r)).expect("writes");
    }
    let path = dir.path().join("many.xlsx");
    workbook.save(&path).expect("saves");

    let source = xlsx_source(&path, None).expect("opens");
    let mut expected = 1u64;
    for item in source {
        let record = item.expect("reads");
        assert_eq!(record.line, expected + 1);
        assert_eq!(record.fields, [expected.to_string()]);
        expected += 1;
    }
    assert_eq!(expected, 5001);

    // A consumer that stops early must not leave the reader thread stuck.
    let mut source = xlsx_source(&path, None).expect("opens");
    assert!(source.next().is_some());
    drop(source);
}
