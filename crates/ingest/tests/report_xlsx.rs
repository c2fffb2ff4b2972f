//! The XLSX rejection report opens back with calamine: the same columns as the CSV report,
//! text cells holding the neutralised values, no formulas anywhere.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use sangam_ingest::report::{RejectedRow, RowProblem, rejections_xlsx};

fn row(line: u64, fields: &[&str], errors: &[(&str, &str)]) -> RejectedRow {
    RejectedRow {
        line,
        fields: fields.iter().map(|s| s.to_string()).collect(),
        errors: errors
            .iter()
            .map(|(code, message)| RowProblem {
                column: None,
                code: code.to_string(),
                message: message.to_string(),
            })
            .collect(),
    }
}

#[test]
fn report_opens_back_with_neutralised_text() {
    let header: Vec<String> = ["id_number", "name", "mobile"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows = vec![
        row(
            2,
            &["234567890123", "=HYPERLINK(\"http://x\")", "+919876543210"],
            &[("mobile.format", "10 digits expected")],
        ),
        row(
            5,
            &["@SUM(1)", "सीता देवी", "-5"],
            &[
                ("id_number.checksum", "the checksum is wrong"),
                ("x.y", "-z"),
            ],
        ),
        row(
            7,
            &[],
            &[("row.invalid_utf8", "the text is not valid UTF-8")],
        ),
    ];
    let bytes = rejections_xlsx(&header, rows).expect("builds");

    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("opens");
    assert_eq!(workbook.sheet_names(), ["Rejected rows"]);
    let range = workbook.worksheet_range("Rejected rows").expect("reads");
    let text = |r: u32, c: u32| match range.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => panic!("cell ({r}, {c}) is not text: {other:?}"),
    };
    let header_row: Vec<String> = (0..6).map(|c| text(0, c)).collect();
    assert_eq!(
        header_row,
        [
            "id_number",
            "name",
            "mobile",
            "line",
            "error_codes",
            "error_messages"
        ]
    );
    assert_eq!(text(1, 0), "234567890123");
    assert_eq!(text(1, 1), "'=HYPERLINK(\"http://x\")");
    assert_eq!(text(1, 2), "'+919876543210");
    assert_eq!(range.get_value((1, 3)), Some(&Data::Float(2.0)));
    assert_eq!(text(1, 4), "mobile.format");
    assert_eq!(text(2, 0), "'@SUM(1)");
    assert_eq!(text(2, 1), "सीता देवी");
    assert_eq!(text(2, 2), "'-5");
    assert_eq!(text(2, 4), "id_number.checksum; x.y");
    assert_eq!(text(2, 5), "the checksum is wrong; -z");
    assert_eq!(range.get_value((3, 3)), Some(&Data::Float(7.0)));
    assert_eq!(text(3, 4), "row.invalid_utf8");

    // No cell holds a formula.
    let formulas = workbook.worksheet_formula("Rejected rows").expect("reads");
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));

    // Every text cell is safe.
    for (_, _, value) in range.used_cells() {
        if let Data::String(s) = value {
            assert!(!s.starts_with(['=', '+', '-', '@', '\t', '\r']), "{s:?}");
        }
    }
}

#[test]
fn header_is_bold() {
    let header = vec!["a".to_string(), "b".to_string()];
    let bytes = rejections_xlsx(&header, vec![row(2, &["x", "y"], &[("c", "m")])]).expect("builds");
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("opens");
    let styles = workbook.worksheet_style("Rejected rows").expect("reads");
    let bold = |r: u32, c: u32| {
        styles
            .get((r, c))
            .and_then(|s| s.font.as_ref())
            .is_some_and(|f| f.is_bold())
    };
    assert!((0..5).all(|c| bold(0, c)), "the header row is bold");
    assert!(!bold(1, 0), "data rows are not");
    // The frozen header is not checked here: calamine does not report panes.
}

#[test]
fn empty_report_has_only_the_header() {
    let header = vec!["a".to_string()];
    let bytes = rejections_xlsx(&header, Vec::new()).expect("builds");
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("opens");
    let range = workbook.worksheet_range("Rejected rows").expect("reads");
    assert_eq!(range.height(), 1);
    assert_eq!(range.width(), 4);
}
